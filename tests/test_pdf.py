"""The PDF export's shortcuts give the bytes plain WeasyPrint gives.

A small article made here (four A4 pages of text, tables, an RGBA and an RGB PNG figure
and a figure mentioned on the last page) is written by :func:`html_to_pdf` and by the
same steps without any shortcut: whole-document drafts, WeasyPrint's own image encoding.
"""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader

import casereport
from casereport.render import export, pdf
from casereport.render.export import html_to_pdf, place_figures

ROOT = Path(__file__).resolve().parents[1]
LOREM = (
    "Tracer uptake outside the skeleton was seen in the lungs and the stomach wall, "
    "with a normal skeleton otherwise; the counts were measured in fixed regions. "
)


def _png(mode: str, size: tuple[int, int], seed: int) -> str:
    """A PNG data URI of smooth noise (compressible, but not trivially)."""
    rng = np.random.default_rng(seed)
    w, h = size
    base = rng.integers(0, 255, (h // 8 + 1, w // 8 + 1, len(mode)), dtype=np.uint8)
    pixels = np.repeat(np.repeat(base, 8, axis=0), 8, axis=1)[:h, :w].copy()
    if mode == "RGBA":
        pixels[..., 3] = 255
    buf = io.BytesIO()
    Image.fromarray(pixels, mode).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _figure(fig_id: str, src: str, caption: str) -> str:
    return (
        f'<figure class="figure" id="{fig_id}"><img alt="{caption}" src="{src}" '
        f'style="width: 100%"><figcaption>{caption}</figcaption></figure>'
    )


def _article(path: Path) -> Path:
    """A four-page article: figures after their mentions, one mentioned on the last page."""
    css = export.CSS_PATH.read_text()
    paras = [f"<p>{LOREM * (3 + i % 4)}</p>" for i in range(14)]
    table = (
        '<div class="table-wrap"><table><caption>Counts</caption>'
        + "".join(f"<tr><th>R{i}</th><td>{i * 17}</td></tr>" for i in range(8))
        + "</table></div>"
    )
    body = [
        "<h1>Shortcuts of the PDF export</h1>",
        '<p>Figure 1 is <a href="#figure-1">here</a>.</p>',
        *paras[:4],
        table,
        *paras[4:6],
        '<p>Figure 2 is <a href="#figure-2">there</a>.</p>',
        *paras[6:],
        '<h2>End</h2><p>Figure 3 is <a href="#figure-3">last</a>.</p>',
        _figure("figure-1", _png("RGBA", (640, 420), 1), "Figure 1: an RGBA image."),
        _figure("figure-2", _png("RGB", (600, 300), 2), "Figure 2: an RGB image."),
        _figure("figure-3", _png("RGBA", (500, 200), 3), "Figure 3: mentioned last."),
        _figure("figure-4", _png("RGBA", (300, 120), 4), "Figure 4: never mentioned."),
    ]
    html = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Shortcuts</title>'
        f"<style>{css}</style></head><body>{''.join(body)}</body></html>"
    )
    path.write_text(html, encoding="utf-8")
    return path


def _plain_pdf(source: Path, output: Path) -> bytes:
    """``html_to_pdf`` without shortcuts (the caller turns off
    :func:`casereport.render.pdf._layout_context`): every draft a whole layout of the
    document as it is then, no image cache."""
    import weasyprint

    html = weasyprint.HTML(
        filename=str(source),
        url_fetcher=weasyprint.URLFetcher(allowed_protocols={"data"}, fail_on_errors=True),
    )
    options: dict[str, Any] = {"pdf_variant": "pdf/ua-1"}
    export.keep_code_words(html.etree_element)
    doc = place_figures(html, **options)
    stamp = export._source_date()
    doc.metadata.created = stamp
    doc.metadata.modified = stamp
    doc.metadata.generator = f"casereport {casereport.__version__}"
    doc.write_pdf(str(output), pdf_identifier=b"casereport-article", pdf_version="1.7", **options)
    return output.read_bytes()


@pytest.fixture(scope="module")
def article(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _article(tmp_path_factory.mktemp("pdf") / "article.html")


@pytest.mark.parametrize("subsetter", ["installed", "fonttools"])
def test_fast_pdf_is_byte_identical_to_plain_weasyprint(
    article: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, subsetter: str
) -> None:
    """With the font subsetter WeasyPrint finds (HarfBuzz-Subset when the system has it),
    and with fontTools, WeasyPrint's fallback, whose subsets are kept in ``font_cache``."""
    import weasyprint.pdf.fonts

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1554076800")
    if subsetter == "fonttools":
        monkeypatch.setattr(weasyprint.pdf.fonts, "harfbuzz_subset", None)
    fonts = tmp_path / "fonts"
    fast = html_to_pdf(article, tmp_path / "fast.pdf", font_cache=fonts).read_bytes()
    stored = {p: p.stat().st_mtime_ns for p in fonts.glob("*.ttf")}
    if subsetter == "fonttools" or weasyprint.pdf.fonts.harfbuzz_subset is None:
        assert len(stored) >= 3  # serif, sans and sans bold at least
    time.sleep(0.01)
    again = html_to_pdf(article, tmp_path / "again.pdf", font_cache=fonts).read_bytes()
    assert fast == again
    assert all(p.stat().st_mtime_ns > t for p, t in stored.items())  # read back, not redone
    assert html_to_pdf(article, tmp_path / "nocache.pdf").read_bytes() == fast
    monkeypatch.setattr(pdf, "_layout_context", lambda html, options: None)
    assert _plain_pdf(article, tmp_path / "plain.pdf") == fast

    reader = PdfReader(tmp_path / "fast.pdf")
    assert len(reader.pages) >= 4
    texts = [page.extract_text() for page in reader.pages]
    mention = next(i for i, t in enumerate(texts) if "Figure 1 is" in t)
    shown = next(i for i, t in enumerate(texts) if "Figure 1: an RGBA image" in t)
    assert shown == mention + 1, texts
    assert "Figure 3: mentioned last" in texts[-1]


def test_styles_are_computed_once_for_all_drafts(
    article: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four figures looked for by drafts, and the final layout: one cascade, one box
    tree."""
    from weasyprint.document import Document

    real = Document._build_layout_context.__func__  # type: ignore[attr-defined]
    calls: list[int] = []

    def counting(cls: Any, *args: Any) -> Any:
        calls.append(1)
        return real(cls, *args)

    monkeypatch.setattr(Document, "_build_layout_context", classmethod(counting))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1554076800")
    html_to_pdf(article, tmp_path / "once.pdf")
    assert len(calls) == 1
    monkeypatch.setattr(pdf, "_layout_context", lambda html, options: None)
    calls.clear()
    html_to_pdf(article, tmp_path / "plain.pdf")
    assert len(calls) == 5  # WeasyPrint's way: a draft per figure and the final layout


def test_a_placed_figure_keeps_the_styles_of_where_it_was_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A figure moves like a float: selectors match the document as written, so a rule
    for figures inside an output block still applies once the figure sits before a
    paragraph further on, and the paragraph written after the figure keeps its rule."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1554076800")
    css = (
        export.CSS_PATH.read_text()
        + ".out figcaption::before { content: 'Written in the output. ' }"
        + "figure + p::before { content: 'After the figure as written. ' }"
    )
    body = [
        '<p>Figure 1 is <a href="#figure-1">below</a>.</p>',
        '<div class="out">'
        + _figure("figure-1", _png("RGB", (600, 300), 5), "Figure 1: a moved image.")
        + "</div>",
        *(f"<p>{LOREM * 6}</p>" for _ in range(12)),
    ]
    path = tmp_path / "written.html"
    path.write_text(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Written</title>'
        f"<style>{css}</style></head><body>{''.join(body)}</body></html>",
        encoding="utf-8",
    )
    texts = [p.extract_text() for p in PdfReader(html_to_pdf(path, tmp_path / "w.pdf")).pages]
    shown = next(i for i, t in enumerate(texts) if "Figure 1: a moved image" in t)
    assert shown == 1  # on the page after its mention, not where it was written
    assert "Written in the output. Figure 1: a moved image." in " ".join(texts[1].split())
    assert "After the figure as written" not in "".join(texts)  # a div follows it there
    monkeypatch.setattr(pdf, "_layout_context", lambda html, options: None)
    plain = [p.extract_text() for p in PdfReader(html_to_pdf(path, tmp_path / "p.pdf")).pages]
    assert "Written in the output" not in "".join(plain)  # WeasyPrint on the moved tree
    assert "After the figure as written" in "".join(plain)


def test_drafts_stop_at_the_page_after_the_mention(article: Path) -> None:
    import weasyprint

    html = weasyprint.HTML(filename=str(article))
    options = {"pdf_variant": "pdf/ua-1"}
    whole = html.render(**options)
    pages = pdf.draft_pages(html, options)
    assert pages is not None
    first = [next(pages), next(pages)]
    for laid, page in zip(first, whole.pages, strict=False):
        assert export._first_block(laid) is export._first_block(page._page_box)
        assert export._links_to(laid, "figure-1") == export._links_to(page._page_box, "figure-1")


def test_png_data_made_ahead_is_weasyprints(article: Path) -> None:
    from weasyprint.images import RasterImage

    streams = pdf.ImageStreams(article.read_bytes())
    payloads = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", article.read_text())
    for payload in payloads:
        image = Image.open(io.BytesIO(base64.b64decode(payload)))
        parts = [image.convert("RGB"), image.getchannel("A")] if image.mode == "RGBA" else [image]
        for part in parts:
            assert streams.png_data(part) == RasterImage._get_png_data(part)
    assert len(streams._ready) == 7  # three RGBA images (colour, alpha) and one RGB
    gray = Image.new("L", (3, 2), 7)  # not in the HTML: WeasyPrint's own encoding
    assert streams.png_data(gray) == RasterImage._get_png_data(gray)


def test_weasyprint_loads_the_same_libraries_without_the_library_search() -> None:
    probe = (
        "import sys\n"
        "if sys.argv[1] == 'fast':\n"
        "    from casereport.render.pdf import import_weasyprint; import_weasyprint()\n"
        "else:\n"
        "    import weasyprint\n"
        "maps = open('/proc/self/maps').read().split()\n"
        "print(sorted({p for p in maps if '.so' in p and any(n in p for n in "
        "('pango', 'harfbuzz', 'fontconfig', 'gobject'))}))\n"
    )
    if not sys.platform.startswith("linux"):
        pytest.skip("Linux only")
    out = [
        subprocess.run(
            [sys.executable, "-c", probe, mode],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
        for mode in ("fast", "plain")
    ]
    assert out[0] == out[1]
    assert "pango" in out[0]


def test_library_lookups_of_other_threads_work_while_weasyprint_imports() -> None:
    """While :func:`import_weasyprint` has the library search off, another thread looking
    up a library (started and joined from inside WeasyPrint's import, so the lookup
    certainly falls in that window) gets the ordinary answer; the importing thread finds
    nothing; the original function is back afterwards, also after two imports at once."""
    probe = (
        "import ctypes.util, sys, threading\n"
        "from casereport.render.pdf import import_weasyprint\n"
        "original = ctypes.util.find_library\n"
        "seen = {}\n"
        "class During:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'weasyprint.text.ffi' and not seen:\n"
        "            seen['importer'] = ctypes.util.find_library('c')\n"
        "            t = threading.Thread(\n"
        "                target=lambda: seen.update(other=ctypes.util.find_library('c')))\n"
        "            t.start(); t.join()\n"
        "            seen['replaced'] = ctypes.util.find_library is not original\n"
        "        return None\n"
        "sys.meta_path.insert(0, During())\n"
        "threads = [threading.Thread(target=import_weasyprint) for _ in range(2)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "seen['restored'] = ctypes.util.find_library is original\n"
        "print(sorted(seen.items()))\n"
    )
    if not sys.platform.startswith("linux"):
        pytest.skip("Linux only")
    import ctypes.util

    libc = ctypes.util.find_library("c")
    assert libc is not None
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    expected = [("importer", None), ("other", libc), ("replaced", True), ("restored", True)]
    assert out.strip() == str(expected)


def test_html_parsed_without_payloads_is_the_same_tree(article: Path, tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    import weasyprint

    download = base64.b64encode(b'{"a": 1}' * 400).decode()
    page = article.read_text().replace(
        "<h2>End</h2>",
        f'<h2>End</h2><a download="x.json" href="data:application/json;'
        f'charset=utf-8;base64,{download}">JSON</a><img alt="" src=\'data:image/png;base64,'
        f"{download}'>",
    )
    source = tmp_path / "page.html"
    source.write_text(page, encoding="utf-8")
    whole = weasyprint.HTML(filename=str(source))
    light = pdf.parse_html(weasyprint, source, source.read_bytes(), None)
    assert light.base_url == whole.base_url
    assert ET.tostring(light.etree_element) == ET.tostring(whole.etree_element)
    assert len(pdf._LONG_DATA_ATTR.findall(source.read_bytes())) == 5  # not the '-quoted one


def test_pages_that_depend_on_later_pages_get_whole_drafts(tmp_path: Path) -> None:
    import weasyprint

    page = (
        "<html><head><style>a::after { content: ' (page ' target-counter(attr(href), page)"
        " ')' }</style></head><body><p>See <a href='#end'>the end</a>.</p>"
        + "<p>text</p>" * 200
        + "<p id='end'>End.</p></body></html>"
    )
    html = weasyprint.HTML(string=page)
    assert pdf.draft_pages(html, {}) is None


def test_font_subsetter_is_the_one_weasyprint_uses() -> None:
    """The export's cache key names the subsetter WeasyPrint picks (their bytes differ)."""
    import weasyprint.pdf.fonts
    from weasyprint.text.ffi import harfbuzz

    hb = weasyprint.pdf.fonts.harfbuzz_subset is not None and harfbuzz.hb_version_atleast(
        *pdf.HARFBUZZ_SUBSET_MIN
    )
    assert pdf.font_subsetter().startswith("harfbuzz-subset " if hb else "fonttools ")


def test_fonttools_subsets_are_weasyprints(
    article: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """:func:`pdf.fonttools_subset` (layout tables dropped first) writes the bytes of
    WeasyPrint's own fontTools subset, for every font of the article."""
    from types import SimpleNamespace

    import weasyprint.pdf.fonts
    from weasyprint.pdf.fonts import Font

    seen: list[tuple[SimpleNamespace, dict[int, Any], bool]] = []
    subset = pdf.fonttools_subset

    def recording(font: Any, to_unicode: dict[int, Any], hinting: bool) -> None:
        fields = {k: getattr(font, k) for k in ("file_content", "index", "missing", "family")}
        seen.append((SimpleNamespace(**fields), dict(to_unicode), hinting))
        subset(font, to_unicode, hinting)

    monkeypatch.setattr(weasyprint.pdf.fonts, "harfbuzz_subset", None)
    monkeypatch.setattr(pdf, "fonttools_subset", recording)
    html_to_pdf(article, tmp_path / "a.pdf")
    assert len(seen) >= 3
    for font, to_unicode, hinting in seen:
        whole = font.file_content
        ours = SimpleNamespace(**vars(font))
        subset(ours, to_unicode, hinting)
        Font._fonttools_subset(font, to_unicode, hinting)
        assert ours.file_content == font.file_content, font.family
        assert len(ours.file_content) < len(whole) // 2, font.family  # subset indeed


def test_image_data_kept_by_png_bytes_gives_the_same_pdf(
    article: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The images' PDF data stored in ``image_cache`` by one render is read back by the
    next (no image encoded again), and a damaged entry is made again: the same PDF."""
    from weasyprint.images import RasterImage

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1554076800")
    plain = html_to_pdf(article, tmp_path / "plain.pdf").read_bytes()
    kept = tmp_path / "images"
    assert html_to_pdf(article, tmp_path / "a.pdf", image_cache=kept).read_bytes() == plain
    stored = sorted(kept.glob("*.bin"))
    assert len(stored) == 3  # one per RGBA PNG; the RGB PNG goes in with its own data

    encoded: list[Any] = []
    original = RasterImage._get_png_data

    def counting(image: Any) -> bytes:
        encoded.append(image)
        return original(image)

    monkeypatch.setattr(RasterImage, "_get_png_data", staticmethod(counting))
    assert html_to_pdf(article, tmp_path / "b.pdf", image_cache=kept).read_bytes() == plain
    assert encoded == []  # every image's data was read back

    stored[0].write_bytes(stored[0].read_bytes()[:-10])  # truncated: made again
    assert html_to_pdf(article, tmp_path / "c.pdf", image_cache=kept).read_bytes() == plain
    assert 1 <= len(encoded) <= 2  # that PNG's colour (and alpha) only


def test_rgb_png_goes_into_the_pdf_with_its_own_compressed_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An 8-bit RGB PNG compressed at another zlib level than WeasyPrint's (as the
    figures are) is embedded with its own IDAT data, not decoded and compressed again,
    and the PDF's image has exactly its pixels; a PNG that is not plain RGB is left to
    WeasyPrint."""
    from weasyprint.images import RasterImage

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1554076800")
    rng = np.random.default_rng(5)
    base = rng.integers(0, 255, (31, 41, 3), dtype=np.uint8)
    pixels = np.repeat(np.repeat(base, 6, axis=0), 6, axis=1)
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, format="PNG", compress_level=1)
    png = buf.getvalue()
    idat = pdf.png_idat(png)
    assert idat is not None
    source = tmp_path / "one.html"
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    source.write_text(f'<html lang="en"><title>t</title><body><img alt="noise" src="{uri}">')

    encoded: list[Any] = []
    original = RasterImage._get_png_data
    monkeypatch.setattr(
        RasterImage, "_get_png_data", staticmethod(lambda im: encoded.append(im) or original(im))
    )
    out = html_to_pdf(source, tmp_path / "one.pdf")
    assert encoded == []  # nothing compressed again
    page = PdfReader(out).pages[0]
    (xobject,) = [o.get_object() for o in page["/Resources"]["/XObject"].values()]
    assert xobject["/Filter"] == "/FlateDecode"
    assert xobject["/DecodeParms"]["/Predictor"] == 15
    assert xobject._data == idat  # the PNG's own stream
    (shown,) = page.images
    assert np.array_equal(np.asarray(shown.image.convert("RGB")), pixels)

    # other kinds of PNG: no IDAT taken (WeasyPrint converts them first)
    for mode, extra in (("RGBA", {}), ("L", {}), ("RGB", {"transparency": (0, 0, 0)})):
        other = io.BytesIO()
        Image.fromarray(pixels if mode != "L" else pixels[..., 0]).convert(mode).save(
            other, format="PNG", **extra
        )
        assert pdf.png_idat(other.getvalue()) is None, mode
    interlaced = tmp_path / "interlaced.png"
    Image.fromarray(pixels).save(interlaced, format="PNG")
    data = bytearray(interlaced.read_bytes())
    data[28] = 1  # IHDR interlace method (CRC not checked here)
    assert pdf.png_idat(bytes(data)) is None
    assert pdf.png_idat(png[:-20]) is None  # cut short: not a whole PNG


def _heading_near_page_end(tmp_path: Path) -> tuple[Path, int]:
    """An article whose draft puts a heading last on page 1 or a paragraph under it across
    the page break, with the figure mentioned on page 1: (HTML file, fillers used)."""
    import weasyprint

    css = export.CSS_PATH.read_text()
    figure = _figure("figure-1", _png("RGB", (600, 400), 9), "Figure 1: placed by its mention.")
    for fillers in range(2, 30):
        body = [
            '<h1>Floats</h1><p>Figure 1 is <a href="#figure-1">below</a>.</p>',
            *(f"<p>{LOREM * 2}</p>" for _ in range(fillers)),
            "<h3>Later part</h3>",
            f"<p>{LOREM * 4}</p>",
            *(f"<p>{LOREM * 3}</p>" for _ in range(6)),
            figure,
        ]
        path = tmp_path / f"floats-{fillers}.html"
        path.write_text(
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Floats</title>'
            f"<style>{css}</style></head><body>{''.join(body)}</body></html>",
            encoding="utf-8",
        )
        html = weasyprint.HTML(filename=str(path))
        root = html.etree_element
        fig = next(el for el in root.iter("figure"))
        parents = {c: par for par in root.iter() for c in par}
        parents[fig].remove(fig)
        anchor = export._draft_anchor(html, "figure-1", {"pdf_variant": "pdf/ua-1"})
        siblings = list(parents[anchor]) if anchor in parents else []
        if anchor is not None and siblings.index(anchor) > 0:
            if siblings[siblings.index(anchor) - 1].tag == "h3":
                return path, fillers
    raise AssertionError("no layout put the heading's text first on page 2")


def test_a_figure_goes_above_the_heading_of_the_block_it_precedes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the first block of the page after the mention is a paragraph whose heading
    ended the page before, the figure goes above that heading: page 2 begins with the
    figure, then the heading and its text (not the heading, then the figure)."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1554076800")
    source, _ = _heading_near_page_end(tmp_path)
    reader = PdfReader(html_to_pdf(source, tmp_path / "floats.pdf"))
    texts = [page.extract_text() for page in reader.pages]
    shown = next(i for i, t in enumerate(texts) if "Figure 1: placed by its mention" in t)
    assert "Figure 1 is" in texts[shown - 1]  # the page after the mention
    assert "Later part" in texts[shown]  # the heading moved with its text ...
    page = texts[shown]
    assert page.index("Figure 1: placed by its mention") < page.index("Later part")  # below it
    assert all("Later part" not in t for t in texts[:shown])


def test_the_pdf_export_imports_no_notebook_machinery() -> None:
    """``watch``'s PDF child imports ``html_to_pdf`` alone: nbformat and nbconvert (about
    0.4 CPU-s) are left to the HTML export."""
    probe = (
        "import sys\n"
        "from casereport.render.export import html_to_pdf\n"
        "print(sorted(m for m in ('nbconvert', 'nbformat', 'jinja2') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert out.strip() == "[]"


def _lines(weasyprint: Any, page: str) -> list[str]:
    """The text of every line box of the first page of ``page`` laid out by WeasyPrint."""
    doc = weasyprint.HTML(string=page).render()
    return [
        "".join(b.text for b in line.descendants() if type(b).__name__ == "TextBox")
        for line in doc.pages[0]._page_box.descendants()
        if type(line).__name__ == "LineBox"
    ]


def _width_px(weasyprint: Any, text: str) -> float:
    """Width (px) of ``text`` set on one line in the paragraph style below."""
    doc = weasyprint.HTML(string=f"<p style='{_P}width:2000px'>{text}</p>").render()
    return max(
        b.width for b in doc.pages[0]._page_box.descendants() if type(b).__name__ == "TextBox"
    )


_P = "font-family: DejaVu Sans; font-size: 9pt; margin: 0;"
_WORDS = "The images, measurements and this text were produced by the"


def test_a_text_fitting_without_its_final_space_is_not_cut_to_one_word() -> None:
    """A paragraph's text followed by an inline element ends with a space. Where it fits
    on the line only without that space, plain WeasyPrint 70 keeps only the first word on
    the line (a one-word line in the middle of the paragraph, as the article's first page
    had); the export lets the space hang, as CSS does, and fills the line."""
    from weasyprint.text import line_break

    weasyprint = pdf.import_weasyprint()
    kept = _width_px(weasyprint, _WORDS)
    with_space = _width_px(weasyprint, _WORDS + " <code>x</code>")  # the text box's
    assert with_space > kept + 1.0  # the space is measured
    width = (kept + with_space) / 2
    page = (
        f"<html><body><p style='{_P}width:{width:.3f}px'>{_WORDS} "
        "<code>casereport</code> software and more words after it.</p></body></html>"
    )
    from weasyprint.layout import inline

    corrected = inline.split_first_line
    assert getattr(corrected, "hangs_spaces", False)
    inline.split_first_line = line_break.split_first_line  # WeasyPrint's own
    try:
        plain = _lines(weasyprint, page)
    finally:
        inline.split_first_line = corrected
    assert plain[0] == "The"  # what is corrected
    lines = _lines(weasyprint, page)
    assert len(lines[0].split()) >= len(_WORDS.split()) - 1, lines
    assert " ".join(" ".join(lines).split()) == " ".join(
        f"{_WORDS} casereport software and more words after it.".split()
    )
    assert all(len(line.split()) > 1 for line in lines[:-1]), lines


def _command_line_ends(weasyprint: Any, command: str, keep: bool) -> set[str]:
    """Last words of every line but the last of a paragraph quoting ``command`` in
    ``<code>``, over a range of widths (px); asserts the words are all there."""
    ends: set[str] = set()
    for width in range(150, 420, 7):
        page = (
            f"<html><body><p style='{_P}width:{width}px'>To regenerate the simulated "
            f"studies, run <code>{command}</code> again.</p></body></html>"
        )
        html = weasyprint.HTML(string=page)
        if keep:
            export.keep_code_words(html.etree_element)
        lines = [
            "".join(b.text for b in line.descendants() if type(b).__name__ == "TextBox")
            for line in html.render().pages[0]._page_box.descendants()
            if type(line).__name__ == "LineBox"
        ]
        lines = [line for line in lines if line.strip()]
        assert "".join(command.split()) in "".join("".join(lines).split()), (width, lines)
        ends |= {line.rstrip().split(" ")[-1] for line in lines[:-1]}
    return ends


def test_inline_commands_break_only_at_their_spaces() -> None:
    """``--force`` is never printed as ``--`` at the end of one line and ``force`` on the
    next: the PDF's lines break inside inline code at its spaces only, whatever the width;
    the text is unchanged and code blocks are left as they are."""
    weasyprint = pdf.import_weasyprint()
    command = "python -m casereport.synth --out data --force"
    plain = _command_line_ends(weasyprint, command, keep=False)
    assert any(end.endswith("-") for end in plain)  # what is corrected
    ends = _command_line_ends(weasyprint, command, keep=True)
    assert not any(end.endswith("-") for end in ends), ends
    assert {"--out", "data"} & ends  # the widths did break inside the command
    html = weasyprint.HTML(string=f"<p><code>{command}</code></p><pre>{command}</pre>")
    export.keep_code_words(html.etree_element)
    code = next(html.etree_element.iter("code"))
    assert "".join(code.itertext()) == command
    assert [span.text for span in code] == command.split()
    assert not list(next(html.etree_element.iter("pre")))  # a code block: untouched


def test_figure_places_reused_when_only_image_pixels_change(
    article: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTML that differs only in the pixels of its PNGs (an arrow moved, a window changed)
    is laid out once, with the figures where the kept drafts put them: the same PDF bytes
    as laying it out with drafts. Other text, or an image of another size, is a new layout
    (drafts run again)."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1554076800")
    places = tmp_path / "places"
    first = html_to_pdf(article, tmp_path / "a.pdf", placement_cache=places).read_bytes()
    assert first == html_to_pdf(article, tmp_path / "plain.pdf").read_bytes()
    kept = sorted(places.glob("*.json"))
    assert len(kept) == 1
    anchors = json.loads(kept[0].read_text())["anchors"]
    assert len(anchors) == 4 and anchors[-1] is None  # figure 4 is never mentioned

    text = article.read_text()
    old = _png("RGBA", (640, 420), 1)
    assert text.count(old) == 1
    repainted = tmp_path / "repainted.html"
    repainted.write_text(text.replace(old, _png("RGBA", (640, 420), 11)))
    drafts: list[str] = []
    real = export._draft_anchor

    def counting(html: Any, target: str, options: dict[str, Any], layouts: Any = None) -> Any:
        drafts.append(target)
        return real(html, target, options, layouts)

    monkeypatch.setattr(export, "_draft_anchor", counting)
    again = html_to_pdf(repainted, tmp_path / "b.pdf", placement_cache=places).read_bytes()
    assert drafts == []  # the kept places
    assert again != first
    assert again == html_to_pdf(repainted, tmp_path / "b-plain.pdf").read_bytes()
    assert len(drafts) == 4  # the plain export drafted each figure

    for name, changed in (
        ("text", text.replace("Figure 2 is", "Figure 2, shown below, is")),
        ("size", text.replace(old, _png("RGBA", (640, 900), 1))),
    ):
        drafts.clear()
        path = tmp_path / f"{name}.html"
        path.write_text(changed)
        html_to_pdf(path, tmp_path / f"{name}.pdf", placement_cache=places)
        assert len(drafts) == 4, name  # a new layout: drafted again
    assert len(list(places.glob("*.json"))) == 3

"""End-to-end checks of the rendered article: HTML in headless Chromium, PDF text and
figure resolution, and data text that must be shown, never interpreted.

One render serves every test: the data folder is copied, hostile text is written into the
copy (a caption, a findings entry, an annotation label, the CT series description), and
``render.py`` runs once as a subprocess. The screenshot, HTML and PDF are kept under
``test-artifacts/``.

Chromium and poppler-utils are skipped when missing, unless ``CASEREPORT_REQUIRE_TOOLS=1``
(set by ``.ci/run``), which turns a missing tool into a failure. The data folder is
``data/`` (or ``$CASEREPORT_E2E_DATA``).
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
import pydicom
import pytest
import yaml
from pypdf import PdfReader

from tests.support.original import ORIGINAL_TITLE

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
SUBJECTS = ("A", "B", "C", "control")

#: Hostile text injected into the data copy (where it goes -> the text).
XSS_CAPTION = "<script>window.__xss=1</script>"
XSS_FINDING = '<img src=x onerror="window.__xss=2">'
XSS_LABEL = "<b>bold</b>"
#: markup in a SeriesDescription; only vocabulary words, or the de-identification gate
#: refuses the file before the render starts (see tests/test_deid_attacks.py)
XSS_SERIES = 'SIMULATED <i>chest</i> & "CT" lung'
XSS_ALT = '" onmouseover="window.__xss=4" data-x="\''

SECTIONS = (
    "Summary",
    "Case descriptions",
    "Quantitative findings",
    "Discussion",
    "Simulated data",
    "Reproducibility",
    "References",
)

A4_PT = (595.28, 841.89)
MIN_DPI = 300.0

pytestmark = pytest.mark.slow


def _require(available: bool, what: str) -> None:
    """Skip when ``what`` is missing, or fail when the environment requires every tool."""
    if available:
        return
    if os.environ.get("CASEREPORT_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{what} is required (CASEREPORT_REQUIRE_TOOLS=1) but missing")
    pytest.skip(f"{what} not available")


def _source_data() -> Path:
    return Path(os.environ.get("CASEREPORT_E2E_DATA") or ROOT / "data")


def _has_data(folder: Path) -> bool:
    return (folder / "MANIFEST.json").is_file() and all(
        (folder / s / "case.yaml").is_file() for s in SUBJECTS
    )


# ------------------------------------------------------------------ hostile data copy


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _label_position_mm(case_dir: Path, panel: dict[str, Any]) -> list[float]:
    """A point inside the displayed image of a planar panel (view mm): the crop or image centre."""
    from casereport import io

    if panel.get("crop_mm"):
        crop = panel["crop_mm"]
        return [sum(crop["x"]) / 2, sum(crop["y"]) / 2]
    study = io.load(case_dir / panel["study"])
    width_mm, height_mm = study.view(panel.get("views", ["ANT"])[0]).size_mm
    return [round(width_mm / 2, 1), round(height_mm * 0.6, 1)]


def _inject_case_file(case_dir: Path) -> None:
    """Caption and alt text of A1, one findings entry and one A1 annotation label become hostile."""
    path = case_dir / "case.yaml"
    case = yaml.safe_load(path.read_text())
    a1 = case["panels"]["A1"]
    a1["caption"] = XSS_CAPTION
    a1["alt"] = f"{a1.get('alt', 'A1')} {XSS_ALT}"
    case.setdefault("findings", []).append(XSS_FINDING)
    label: dict[str, Any] = {
        "panel": "A1",
        "type": "label",
        "text": XSS_LABEL,
        "at_mm": _label_position_mm(case_dir, a1),
    }
    if len(a1.get("views", [])) > 1:
        label["view"] = a1["views"][0]
    case.setdefault("annotations", []).append(label)
    path.write_text(yaml.safe_dump(case, sort_keys=False, allow_unicode=True))


def _inject_series_description(case_dir: Path, manifest: dict[str, Any], data: Path) -> None:
    """Rewrite SeriesDescription of case A's CT slices (SIMULATED kept); refresh the manifest."""
    ct_dir = case_dir / _ct_study(case_dir)
    for path in sorted(ct_dir.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        ds.SeriesDescription = XSS_SERIES
        ds.save_as(path)
        rel = path.relative_to(data).as_posix()
        if rel in manifest["files"]:
            manifest["files"][rel] = _sha256(path)


def _ct_study(case_dir: Path) -> str:
    """The CT folder of the case's first ``ct`` panel, relative to the case folder."""
    case = yaml.safe_load((case_dir / "case.yaml").read_text())
    for panel in case["panels"].values():
        if panel["kind"] == "ct":
            return str(panel["study"])
    raise AssertionError(f"{case_dir / 'case.yaml'}: no ct panel")


def _hostile_copy(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(".*"))
    manifest = json.loads((dest / "MANIFEST.json").read_text())
    _inject_series_description(dest / "A", manifest, dest)
    _inject_case_file(dest / "A")
    (dest / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return dest


# ------------------------------------------------------------------ the one render


@dataclass(frozen=True)
class Rendered:
    """Paths of the single render every test reads."""

    data: Path
    build: Path
    figures: Path

    @property
    def html(self) -> Path:
        return self.build / "article.html"

    @property
    def pdf(self) -> Path:
        return self.build / "article.pdf"

    def results(self) -> dict[str, dict[str, Any]]:
        """``{case id: results.json}`` written by the case notebooks."""
        return {
            p.parent.name: json.loads(p.read_text())
            for p in sorted((self.build / "cases").glob("*/results.json"))
        }


@pytest.fixture(scope="session")
def article(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """Render the article once from a hostile copy of the data; keep HTML and PDF as artefacts."""
    source = _source_data()
    _require(_has_data(source), f"data folder {source} (MANIFEST.json and case.yaml of {SUBJECTS})")
    tmp = tmp_path_factory.mktemp("article")
    out = Rendered(_hostile_copy(source, tmp / "data"), tmp / "build", tmp / "figures")
    env = {
        **os.environ,
        "SOURCE_DATE_EPOCH": os.environ.get("SOURCE_DATE_EPOCH", "1554076800"),
        "PYTHONHASHSEED": "0",
    }
    cmd = [
        sys.executable,
        str(ROOT / "render.py"),
        "--root",
        str(ROOT),
        "--data",
        str(out.data),
        "--build",
        str(out.build),
        "--figures",
        str(out.figures),
        "-q",
    ]
    res = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, f"render failed ({res.returncode}):\n{res.stderr[-4000:]}"
    ARTIFACTS.mkdir(exist_ok=True)
    for path in (out.html, out.pdf):
        shutil.copyfile(path, ARTIFACTS / path.name)
    return out


def _title() -> str:
    nb = nbformat.read(ROOT / "notebooks" / "article.ipynb", as_version=4)
    return str(nb.metadata["title"])


def _numbers(results: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Per case, the computed values the article must quote, formatted as it does."""
    out: dict[str, list[str]] = {}
    for case_id in ("A", "B", "C"):
        r = results[case_id]
        lung = next(m for m in r["planar"] if m["name"] == "lung / soft tissue")
        out[case_id] = [f"{lung['case']:.2f}", f"{r['ct']['mean_hu']:.0f}"]
    return out


def _formatted_references() -> list[str]:
    """The reference list as the formatter writes it from the CSL-JSON data (HTML entries)."""
    from casereport import references

    return references.format_entries(references.load())


def _squash(text: str) -> str:
    return " ".join(text.split())


# ------------------------------------------------------------------ HTML as a file


class _Resources(HTMLParser):
    """Collects what a browser would fetch: src/srcset/data/poster attributes, link hrefs,
    CSS url(...) values; every tag name and every event-handler attribute (``on...``)."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched: list[str] = []
        self.tags: list[str] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.handlers.extend(f"{tag} {name}" for name, _ in attrs if name.startswith("on"))
        for name, value in attrs:
            if value is None:
                continue
            if name in ("src", "srcset", "data", "poster") or (tag == "link" and name == "href"):
                self.fetched.append(value)
            if name == "style":
                self.fetched.extend(re.findall(r"url\(\s*['\"]?([^'\")]+)", value))

    def handle_data(self, data: str) -> None:
        if self.tags and self.tags[-1] == "style":
            self.fetched.extend(re.findall(r"url\(\s*['\"]?([^'\")]+)", data))


def test_html_is_self_contained(article: Rendered) -> None:
    text = article.html.read_text(encoding="utf-8")
    parser = _Resources()
    parser.feed(text)
    assert parser.fetched, "no embedded resource found at all"
    outside = [u[:80] for u in parser.fetched if not u.strip().lower().startswith("data:")]
    assert outside == [], f"resources not embedded: {outside}"
    # the only script element is the JSON-LD record (data, never executed)
    scripts = re.findall(r"<script\b([^>]*)>", text, re.IGNORECASE)
    assert scripts == [' type="application/ld+json"'], scripts
    assert not re.search(r"@import|<(?:iframe|object|embed|base)\b", text, re.IGNORECASE)


def test_html_shows_data_text_escaped(article: Rendered) -> None:
    text = article.html.read_text(encoding="utf-8")
    assert html.escape(XSS_CAPTION, quote=False) in text
    assert "&lt;img src=x onerror=" in text
    for raw in (XSS_CAPTION, XSS_FINDING, XSS_LABEL, "<img src=x", "<script>window"):
        assert raw not in text
    parser = _Resources()
    parser.feed(text)
    assert parser.handlers == []
    if "chest&lt;/i&gt;" in text or "chest</i>" in text:  # not required, but if shown...
        assert html.escape(XSS_SERIES, quote=False) in text and "<i>chest</i>" not in text


def test_hostile_text_reached_the_figure_sidecars(article: Rendered) -> None:
    """The injected text really flowed through the render (so the HTML checks mean something)."""
    a1 = json.loads((article.figures / "panels" / "A1.json").read_text())
    a2 = json.loads((article.figures / "panels" / "A2.json").read_text())
    assert "caption" not in a1  # the article reads captions from the case files
    case = yaml.safe_load((article.data / "A" / "case.yaml").read_text())
    drawn = [
        case["annotations"][int(re.fullmatch(r"annotations\[(\d+)\]", e).group(1))]
        for e in a1["annotations"]
    ]  # sidecars name the case-file entries drawn
    assert XSS_LABEL in [a.get("text") for a in drawn]
    assert [s["series_description"] for s in a2["sources"]] == [XSS_SERIES]
    assert all(s["simulated"] for s in a2["sources"])


def test_html_banner_alt_text_and_numbers(article: Rendered) -> None:
    text = article.html.read_text(encoding="utf-8")
    assert re.search(r'class="?banner"?[^>]*>\s*Simulated data', text)
    alts = re.findall(r'<img[^>]*\balt="([^"]*)"', text)
    assert alts and all(a.strip() for a in alts), alts
    assert alts[0].startswith("Figure 1")
    assert all(len(html.unescape(a)) <= 250 for a in alts), [len(a) for a in alts]
    # the long description the figure points to holds each panel's own alt text, escaped
    assert 'aria-describedby="figure-1-desc"' in text
    desc = text[text.index('id="figure-1-desc"') :]
    assert html.escape(XSS_ALT, quote=False) in desc[: desc.index("</details>")]
    assert f"<title>{html.escape(_title(), quote=False)}</title>" in text
    for case_id, values in _numbers(article.results()).items():
        for value in values:
            assert value in text, f"case {case_id}: {value} not in the HTML"
    assert "checked at render time: all match" in text


# ------------------------------------------------------------------ PDF


def test_pdf_is_a4_with_searchable_headings_and_numbers(article: Rendered) -> None:
    reader = PdfReader(article.pdf)
    assert len(reader.pages) >= 2
    for page in reader.pages:
        assert float(page.mediabox.width) == pytest.approx(A4_PT[0], abs=1)
        assert float(page.mediabox.height) == pytest.approx(A4_PT[1], abs=1)
    text = _squash(" ".join(p.extract_text() for p in reader.pages))
    assert _squash(_title()) in text
    for heading in SECTIONS:
        assert heading in text, heading
    assert "Simulated data:" in text
    for case_id, values in _numbers(article.results()).items():
        assert f"Case {case_id}" in text
        for value in values:
            assert value in text, f"case {case_id}: {value} not in the PDF text"
    assert XSS_CAPTION in text  # the caption is printed literally
    for entry in _formatted_references():
        assert _squash(html.unescape(re.sub(r"<[^>]+>", "", entry))) in text, entry


def test_pdftotext_finds_the_same_text(article: Rendered) -> None:
    """Searchable for standard tools too, not only for pypdf."""
    tool = shutil.which("pdftotext")
    _require(tool is not None, "pdftotext (poppler-utils)")
    res = subprocess.run(
        [tool, "-enc", "UTF-8", str(article.pdf), "-"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    text = _squash(res.stdout)
    assert _squash(_title()) in text
    for heading in SECTIONS:
        assert heading in text, heading
    for values in _numbers(article.results()).values():
        for value in values:
            assert value in text


def _image_placements(reader: PdfReader) -> list[tuple[int, str, int, int, float, float]]:
    """(page, name, px width, px height, printed width pt, printed height pt) per image drawn."""
    placed = []
    for number, page in enumerate(reader.pages):
        xobjects = page.get("/Resources", {}).get("/XObject", {})

        def visit(
            op: bytes,
            args: list[Any],
            cm: list[float],
            tm: list[float],
            number: int = number,
            xobjects: Any = xobjects,
        ) -> None:
            if op != b"Do" or args[0] not in xobjects:
                return
            obj = xobjects[args[0]].get_object()
            if obj.get("/Subtype") != "/Image":
                return
            a, b, c, d = cm[:4]
            placed.append(
                (
                    number,
                    str(args[0]),
                    int(obj["/Width"]),
                    int(obj["/Height"]),
                    math.hypot(a, b),
                    math.hypot(c, d),
                )
            )

        page.extract_text(visitor_operand_before=visit)
    return placed


def test_pdf_figure_is_printed_at_300_dpi(article: Rendered) -> None:
    placed = _image_placements(PdfReader(article.pdf))
    big = [p for p in placed if p[4] > 72]  # the figure, not an icon: wider than one inch
    assert big, f"no raster figure drawn in the PDF: {placed}"
    for page, name, w_px, h_px, w_pt, h_pt in big:
        dpi_x, dpi_y = w_px / (w_pt / 72), h_px / (h_pt / 72)
        # a 180 mm figure at 300 dpi is 2125.98 px, stored as 2125: allow that one pixel
        assert min(dpi_x, dpi_y) >= MIN_DPI * (1 - 1 / min(w_px, h_px)), (
            f"page {page + 1} image {name}: {w_px}x{h_px} px printed at {w_pt:.0f}x{h_pt:.0f} pt "
            f"= {dpi_x:.0f}x{dpi_y:.0f} dpi"
        )


# ------------------------------------------------------------------ browser


_PAGE_STATE_JS = """(() => {
  const imgs = Array.from(document.images);
  return {
    images: imgs.length,
    displayed: imgs.map(i => i.complete && i.naturalWidth > 0),
    sources: imgs.map(i => i.src.slice(0, 22)),
    alts: imgs.map(i => i.alt),
    xss: typeof window.__xss,
    scripts: document.querySelectorAll('script:not([type="application/ld+json"])').length,
    longdesc: (document.getElementById('figure-1-desc') || {}).textContent || '',
    handlers: document.querySelectorAll('[onerror],[onload],[onclick],[onmouseover]').length,
    bold: Array.from(document.querySelectorAll('b')).filter(b => b.textContent === 'bold').length,
    text: document.body.innerText,
    banner: (document.querySelector('.banner') || {}).innerText || '',
  };
})()"""


@pytest.mark.browser
def test_article_in_headless_chromium(article: Rendered, tmp_path: Path) -> None:
    from tests.support.cdp import find_chromium, open_page

    binary = find_chromium()
    _require(binary is not None, "chromium")
    url = article.html.resolve().as_uri()
    with open_page(str(binary), tmp_path / "profile") as page:
        page.navigate(url)
        page.settle(1.0)
        state = page.evaluate(_PAGE_STATE_JS)
        page.screenshot(ARTIFACTS / "article.png")
        record = page.record

    left = [u[:80] for u in record.requests if u != url and not u.startswith("data:")]
    assert url in record.requests
    assert left == [], f"requests leaving the file: {left}"
    assert record.errors == [], record.errors
    assert state["images"] >= 1
    assert all(state["displayed"]), state["displayed"]
    assert all(s.startswith("data:image/") for s in state["sources"]), state["sources"]
    assert all(a.strip() for a in state["alts"])
    assert state["xss"] == "undefined"
    assert state["scripts"] == 0
    assert state["handlers"] == 0
    assert state["bold"] == 0
    assert XSS_CAPTION in state["text"]
    assert XSS_FINDING in state["text"]
    assert XSS_ALT in state["longdesc"], "panel alt text altered or split into attributes"
    assert state["banner"].startswith("Simulated data")
    assert (ARTIFACTS / "article.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.browser
def test_browser_check_catches_what_it_looks_for(tmp_path: Path) -> None:
    """The same recording on a small page that breaks every rule: a remote image, an image
    handler that runs code, a console error and an uncaught exception are all seen."""
    from tests.support.cdp import find_chromium, open_page

    binary = find_chromium()
    _require(binary is not None, "chromium")
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><body><p>bad</p>"
        '<img src="http://casereport.invalid/remote.png" alt="remote">'
        f"{XSS_FINDING}"
        "<script>console.error('console says no'); throw new Error('thrown');</script>"
        "</body></html>"
    )
    with open_page(str(binary), tmp_path / "profile") as page:
        page.navigate(bad.as_uri())
        page.settle(1.0)
        state = page.evaluate(_PAGE_STATE_JS)
        record = page.record
    assert "http://casereport.invalid/remote.png" in record.requests
    assert state["xss"] == "number" and state["scripts"] == 1 and state["handlers"] == 1
    assert not all(state["displayed"])
    assert any("console says no" in e for e in record.console_errors)
    assert any("thrown" in e for e in record.exceptions)


def _run_with_nbclient(name: str, values: dict[str, str]) -> list[Any]:
    """Execute ``notebooks/<name>`` as a reader would (kernel in notebooks/); its code outputs."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source += "\n" + "\n".join(f"{k} = {v!r}" for k, v in values.items())
    # the kernel named in the notebook, as registered by make test / make lab (no helper)
    NotebookClient(
        nb, timeout=600, resources={"metadata": {"path": str(ROOT / "notebooks")}}
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    return outputs


def test_figure_notebook_runs_top_to_bottom_with_nbclient(
    article: Rendered, tmp_path: Path
) -> None:
    """The figure notebook writes the same Figure 1 and provenance the render published."""
    out = tmp_path / "figures"
    _run_with_nbclient("figure.ipynb", {"data_dir": str(article.data), "figures_dir": str(out)})
    assert (out / "figure1.png").read_bytes() == (article.figures / "figure1.png").read_bytes()
    prov = json.loads((out / "provenance.json").read_text())
    published = json.loads((article.figures / "provenance.json").read_text())
    assert prov["notebook"] == published["notebook"] == "notebooks/figure.ipynb"
    assert prov["panels"].keys() == published["panels"].keys()


def test_article_notebook_runs_top_to_bottom_with_nbclient(article: Rendered) -> None:
    """The article notebook as a reader runs it, on the results and figures of the render."""
    before = {p: p.stat().st_mtime_ns for p in article.figures.rglob("*")}
    outputs = _run_with_nbclient(
        "article.ipynb",
        {
            "data_dir": str(article.data),
            "results_dir": str(article.build / "cases"),
            "figures_dir": str(article.figures),
        },
    )
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "Table 1. Measured findings per case" in html
    for case_id, numbers in _numbers(article.results()).items():
        for value in numbers:
            assert value in html, (case_id, value)
    # the article reads the figures; it writes none
    assert {p: p.stat().st_mtime_ns for p in article.figures.rglob("*")} == before


# ------------------------------------------------------------------ PDF layout and tags

#: Largest empty share of a page's text area allowed on every page but the last.
MAX_EMPTY = 0.40
#: A4 text area in points (margins of article.css: 18 mm top, 20 mm bottom).
_TOP_PT, _BOTTOM_PT = 18 / 25.4 * 72, A4_PT[1] - 20 / 25.4 * 72


def _text_bottoms(pdf: Path) -> dict[int, float]:
    """Per page (0-based), the lowest text line above the footer (pt from the top)."""
    tool = shutil.which("pdftotext")
    _require(tool is not None, "pdftotext (poppler-utils)")
    res = subprocess.run(
        [tool, "-bbox-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    )
    bottoms: dict[int, float] = {}
    for number, page in enumerate(re.findall(r"<page\b.*?</page>", res.stdout, re.S)):
        lines = [
            float(y)
            for y in re.findall(
                r'<line xMin="[\d.]+" yMin="[\d.]+" xMax="[\d.]+" yMax="([\d.]+)"', page
            )
        ]
        body = [y for y in lines if _TOP_PT < y < _BOTTOM_PT]  # not the running header/footer
        bottoms[number] = max(body, default=_TOP_PT)
    return bottoms


def _image_spans(page: Any) -> list[tuple[float, float]]:
    """(top, bottom) in pt from the page top of every image XObject drawn on ``page``."""
    height = float(page.mediabox.height)
    spans: list[tuple[float, float]] = []

    def visit(op: bytes, args: list[Any], cm: list[float], tm: list[float]) -> None:
        if op == b"Do":
            ys = (cm[5], cm[5] + cm[3], cm[5] + cm[1], cm[5] + cm[1] + cm[3])
            spans.append((height - max(ys), height - min(ys)))

    page.extract_text(visitor_operand_before=visit)
    return spans


def page_fill(pdf: Path) -> list[float]:
    """Share of each page's text area used: lowest text line or drawn image, from the top."""
    bottoms = _text_bottoms(pdf)
    for number, page in enumerate(PdfReader(pdf).pages):
        images = [bottom for _, bottom in _image_spans(page)]
        bottoms[number] = max([bottoms.get(number, _TOP_PT), *images])
    return [min(1.0, (b - _TOP_PT) / (_BOTTOM_PT - _TOP_PT)) for _, b in sorted(bottoms.items())]


def test_pdf_pages_are_full_except_the_last(article: Rendered) -> None:
    fill = page_fill(article.pdf)
    assert len(fill) >= 2
    empty = {n + 1: round(1 - f, 2) for n, f in enumerate(fill[:-1]) if 1 - f > MAX_EMPTY}
    assert empty == {}, f"pages more than {MAX_EMPTY:.0%} empty: {empty} (fill {fill})"


_WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>'
)


def stray_line_breaks(pdf: Path) -> list[tuple[int, str, str]]:
    """Lines of a paragraph broken early: (page, the line, the next line's start) for every
    line but a block's last whose end, a space and the next line's first word would all
    have stayed within 80 % of the block's width (pdftotext's blocks and words; a next line
    opening a list item, ``3.``, starts its own line by design)."""
    tool = shutil.which("pdftotext")
    _require(tool is not None, "pdftotext (poppler-utils)")
    res = subprocess.run(
        [tool, "-bbox-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    )
    found = []
    for number, page in enumerate(re.findall(r"<page\b.*?</page>", res.stdout, re.S)):
        for block in re.findall(r"<block\b.*?</block>", page, re.S):
            lines = [
                [(float(a), float(b), w) for a, b, w in _WORD.findall(line)]
                for line in re.findall(r"<line\b.*?</line>", block, re.S)
            ]
            lines = [line for line in lines if line]
            if len(lines) < 3:
                continue
            left = min(line[0][0] for line in lines)
            right = max(line[-1][1] for line in lines)
            for line, after in zip(lines, lines[1:-1], strict=False):
                first = after[0]
                if re.fullmatch(r"\d+\.|[•–-]", first[2]):
                    continue
                if line[-1][1] + 4.0 + (first[1] - first[0]) < left + 0.8 * (right - left):
                    text = " ".join(w for _, _, w in line)
                    found.append((number + 1, text, " ".join(w for _, _, w in after)[:40]))
    return found


def test_pdf_paragraph_lines_are_filled(article: Rendered) -> None:
    """No line of a paragraph ends early while the next word would have fitted (WeasyPrint
    70 cut a line to one word where the text before an inline element fitted only without
    its final space: the page-1 credit line once read "... Cancer / Hospital / and
    Research Centre ...")."""
    assert stray_line_breaks(article.pdf) == []


def test_pdf_figure_at_the_top_of_a_page_after_its_first_mention(article: Rendered) -> None:
    reader = PdfReader(article.pdf)
    texts = [p.extract_text() for p in reader.pages]
    mention = next(i for i, t in enumerate(texts) if "Figure 1" in t)
    placed = [p for p in _image_placements(reader) if p[4] > 72]
    assert placed, "no figure drawn"
    page_no = placed[0][0]
    assert mention <= page_no <= mention + 1
    tops = [top for top, _ in _image_spans(reader.pages[page_no])]
    assert min(tops) < _TOP_PT + 20, f"figure starts {min(tops):.0f} pt from the page top"


def test_pdf_is_tagged_ua_with_figure_alt_and_metadata(article: Rendered) -> None:
    reader = PdfReader(article.pdf)
    root = reader.trailer["/Root"]
    assert bool(root["/MarkInfo"]["/Marked"])
    assert root["/Lang"] == "en"
    assert "pdfuaid:part" in root["/Metadata"].get_object().get_data().decode("utf-8", "replace")
    meta = reader.metadata
    assert meta["/Title"] == _title()
    assert meta["/Author"]
    alts = []

    def walk(node: Any, depth: int = 0) -> None:
        node = node.get_object()
        if isinstance(node, list):
            for k in node:
                walk(k, depth + 1)
            return
        if not hasattr(node, "get"):
            return
        if node.get("/S") == "/Figure" and node.get("/Alt"):
            alts.append(str(node["/Alt"]))
        kids = node.get("/K")
        if kids is not None and depth < 60:
            walk(kids, depth + 1)

    walk(root["/StructTreeRoot"])
    assert any(a.startswith("Figure 1") for a in alts), alts


# ------------------------------------------------------------------ HTML metadata and tables


def test_html_citation_meta_and_jsonld(article: Rendered) -> None:
    text = article.html.read_text(encoding="utf-8")
    assert '<html lang="en">' in text
    metas: list[tuple[str, str]] = []

    class Metas(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            if tag == "meta" and a.get("name"):
                metas.append((str(a["name"]), str(a.get("content") or "")))

    Metas().feed(text)
    meta = dict(metas)
    assert meta["citation_title"] == _title()
    assert meta["citation_author"] and meta["citation_language"] == "en"
    refs = [c for n, c in metas if n == "citation_reference"]
    assert len(refs) >= 4 and any("citation_author=Majeed Y" in r for r in refs)
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', text, re.S)
    assert block
    record = json.loads(block.group(1))
    assert record["@type"] == "ScholarlyArticle" and record["headline"] == _title()
    assert record["isBasedOn"]["author"][0]["familyName"] == "Majeed"


def test_html_references_come_from_the_formatter(article: Rendered) -> None:
    """The References section is the formatted CSL-JSON list, and the text cites every item."""
    text = article.html.read_text(encoding="utf-8")
    (ol,) = re.findall(r'<ol class="references">(.*?)</ol>', text, re.S)
    assert re.findall(r"<li>(.*?)</li>", ol, re.S) == _formatted_references()
    body = re.sub(r"<[^>]+>", "", text.split('id="References"')[0])
    cited = set(re.findall(r"\[(\d+)\]", body))
    assert cited == {str(n) for n in range(1, len(_formatted_references()) + 1)}


def test_every_table_has_a_caption_and_header_scope(article: Rendered) -> None:
    text = article.html.read_text(encoding="utf-8")
    tables = re.findall(r"<table\b.*?</table>", text, re.S)
    assert len(tables) >= 3
    for t in tables:
        assert re.search(r"<caption>[^<]+</caption>", t), t[:200]
        heads = re.findall(r"<th\b([^>]*)>", t)
        assert heads and all('scope="' in h for h in heads), t[:200]
    assert not re.search(
        r"\{&quot;|\{\"", text.split("<script")[0] + text.split("</script>")[-1]
    ), "raw JSON shown to readers"


_LAYOUT_JS = """(() => {
  const fig = document.querySelector('figure.figure img');
  const links = Array.from(document.querySelectorAll('a.panel-link')).map(a => {
    const r = a.getBoundingClientRect();
    return {href: a.getAttribute('href'), w: r.width, h: r.height};
  });
  const wraps = Array.from(document.querySelectorAll('.table-wrap')).map(w => {
    const c = w.querySelector('caption');
    return {overflow: getComputedStyle(w).overflowX, scroll: w.scrollWidth,
      client: w.clientWidth, caption: c ? c.getBoundingClientRect().right : 0};
  });
  return {
    page: document.documentElement.scrollWidth, view: window.innerWidth,
    figure: fig ? fig.getBoundingClientRect().width : 0, links: links, wraps: wraps,
  };
})()"""


@pytest.mark.browser
def test_html_at_phone_and_desktop_widths(article: Rendered, tmp_path: Path) -> None:
    from tests.support.cdp import find_chromium, open_page

    binary = find_chromium()
    _require(binary is not None, "chromium")
    url = article.html.resolve().as_uri()
    state = {}
    with open_page(str(binary), tmp_path / "profile") as page:
        for width in (390, 1920):
            page.navigate(url, width_px=width, height_px=900, mobile=width < 600)
            page.settle(0.5)
            state[width] = page.evaluate(_LAYOUT_JS)
            page.screenshot(ARTIFACTS / f"article-{width}.png")
    for width, s in state.items():
        assert s["page"] <= s["view"], f"{width} px: the page scrolls sideways ({s})"
        for wrap in s["wraps"]:
            assert wrap["overflow"] == "auto"  # a wide table scrolls in its own box
            assert wrap["caption"] <= s["view"], (width, wrap)  # its title is read whole
    assert state[1920]["figure"] > 1.5 * state[390]["figure"]
    assert state[1920]["figure"] == pytest.approx(180 / 25.4 * 96, abs=2)  # 180 mm at most
    assert state[390]["figure"] <= 390
    links = state[1920]["links"]
    assert sorted(link["href"] for link in links) == [
        f"figures/panels/{p}.png" for p in ("A1", "A2", "B1", "B2", "C1", "C2", "C3")
    ]
    for link in links:  # each link resolves inside the bundle (article.html beside figures/)
        assert (article.figures / link["href"].removeprefix("figures/")).is_file()
        assert link["w"] > 50 and link["h"] > 50


def test_jats_of_the_article(article: Rendered) -> None:
    """build/article.jats.xml: JATS 1.3 structure, the front matter from CITATION.cff, the
    figure pointing at its file with the alt text of the HTML, the tables, the references."""
    import xml.etree.ElementTree as ET

    from tests.support.jats_check import XLINK_HREF, jats_problems

    text = (article.build / "article.jats.xml").read_text(encoding="utf-8")
    root = ET.fromstring(text[text.index("<article") :])
    assert jats_problems(root) == []
    meta = root.find("front/article-meta")
    assert meta is not None
    assert " ".join(meta.findtext("title-group/article-title", "").split()) == _title()
    assert meta.findtext("related-article/article-title") == ORIGINAL_TITLE
    fig = next(root.iter("fig"))  # Figure 1 (Supplementary Figure S1 follows)
    graphic = fig.find("graphic")
    assert graphic is not None
    href = graphic.get(XLINK_HREF, "")
    assert href.startswith("figures/") and (article.figures / href[len("figures/") :]).is_file()
    alt = " ".join(graphic.findtext("alt-text", "").split())
    assert alt and alt in " ".join(html.unescape(article.html.read_text()).split())
    assert [w.findtext("label") for w in root.iter("table-wrap") if w.find("label") is not None]
    cites = ["".join(r.find("mixed-citation").itertext()) for r in root.iter("ref")]  # type: ignore[union-attr]
    assert [" ".join(c.split()) for c in cites] == [
        _squash(html.unescape(re.sub(r"<[^>]+>", "", e))) for e in _formatted_references()
    ]
    assert root.find(".//xref[@ref-type='bibr']") is not None


def test_table2_and_figure_s1(article: Rendered) -> None:
    """Table 2 quotes each study's DICOM header; S1 is shown with a short alt text."""
    text = article.html.read_text(encoding="utf-8")
    start = text.index("<caption>Table 2.")
    table2 = text[start : text.index("</table>", start)]
    wb = pydicom.dcmread(article.data / "A" / "wb" / "wb.dcm", stop_before_pixels=True)
    dose = wb.RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose
    assert f">{float(dose):.0f}<" in table2
    assert table2.count("<tr>") >= 1 + 4  # header and at least one study per subject
    assert 'scope="row">control: wb/' in table2
    assert 'id="figure-s1"' in text
    s1 = text[text.index('id="figure-s1"') :]
    alt = re.search(r'<img[^>]*\balt="([^"]*)"', s1)
    assert alt and alt.group(1).startswith("Supplementary Figure S1") and len(alt.group(1)) <= 250

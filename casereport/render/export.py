"""Export an executed notebook to one self-contained HTML file, and that HTML to PDF.

nbformat and nbconvert (about 0.4 CPU-s to import) are imported by the HTML export only:
a process that only makes the PDF (``watch``'s PDF child) does without them.
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import casereport
from casereport.errors import RenderError
from casereport.fileio import FileStamp, file_stamps_below

if TYPE_CHECKING:
    import nbformat
    from nbconvert import HTMLExporter

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "casereport_article"
CSS_PATH = Path(__file__).parent / "article.css"
# resources the browser would fetch (links to read, such as DOIs, are fine)
_EXTERNAL = re.compile(
    r"""(?:\bsrc\s*=\s*["']?(?:https?:)?//|<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//)""",
    re.IGNORECASE,
)
#: base64 payloads of data URIs: skipped by that check (megabytes of images, never a link)
_DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+")


def _title(nb: nbformat.NotebookNode, fallback: str) -> str:
    if nb.metadata.get("title"):
        return str(nb.metadata["title"])
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, re.MULTILINE)
            if m:
                return m.group(1).strip()
    return fallback


def _template_stamp() -> tuple[tuple[str, FileStamp], ...]:
    """(path, stamp) of the template files: an edited template gets a new exporter."""
    return tuple(sorted(file_stamps_below(TEMPLATE_DIR).items()))


def _info(nb: nbformat.NotebookNode) -> dict[str, Any]:
    """The article's bibliographic record (``metadata.casereport`` of the notebook).

    ``references`` is either a list of CSL-JSON items or the path of a CSL-JSON file
    shipped with the package, relative to the folder that holds the package
    (``casereport/references.json``), which is then read.
    """
    info = dict(nb.metadata.get("casereport", {}))
    if isinstance(info.get("references"), str):
        from casereport import references

        info["references"] = references.load(references.shipped(info["references"]))
    return info


def citation_meta(title: str, info: dict[str, Any]) -> list[tuple[str, str]]:
    """``<meta>`` name/content pairs: Dublin-Core-like basics and Google Scholar ``citation_*``."""
    meta: list[tuple[str, str]] = [("citation_title", title)]
    meta += [("citation_author", a) for a in info.get("authors", [])]
    meta += [("author", "; ".join(info.get("authors", [])))] if info.get("authors") else []
    if info.get("language"):
        meta.append(("citation_language", str(info["language"])))
    stamp = _source_date()
    if stamp:
        meta.append(("citation_publication_date", stamp[:10].replace("-", "/")))
    if info.get("keywords"):
        meta.append(("citation_keywords", "; ".join(info["keywords"])))
        meta.append(("keywords", ", ".join(info["keywords"])))
    if info.get("description"):
        meta.append(("description", str(info["description"])))
    if info.get("license"):
        meta.append(("dc.rights", str(info["license"])))
    for item in info.get("references", []):
        parts = [f"citation_title={item.get('title', '')}"]
        parts += [
            f"citation_author={a.get('family', '')} {a.get('given', '')}".strip()
            for a in item.get("author", [])
        ]
        journal = item.get("container-title", "")
        if journal:
            key = (
                "citation_journal_title"
                if item.get("type") == "article-journal"
                else ("citation_inbook_title")
            )
            parts.append(f"{key}={journal}")
        year = item.get("issued", {}).get("date-parts", [[None]])[0][0]
        if year:
            parts.append(f"citation_publication_date={year}")
        for field, key in (("volume", "citation_volume"), ("issue", "citation_issue")):
            if item.get(field):
                parts.append(f"{key}={item[field]}")
        if item.get("page"):
            first, _, last = str(item["page"]).partition("-")
            parts.append(f"citation_firstpage={first}")
            if last:
                parts.append(f"citation_lastpage={last}")
        if item.get("DOI"):
            parts.append(f"citation_doi={item['DOI']}")
        meta.append(("citation_reference", "; ".join(parts)))
    return meta


def _person(author: dict[str, Any]) -> dict[str, str]:
    return {
        "@type": "Person",
        "familyName": author.get("family", ""),
        "givenName": author.get("given", ""),
    }


def _creative_work(item: dict[str, Any]) -> dict[str, Any]:
    work: dict[str, Any] = {
        "@type": "ScholarlyArticle" if item.get("type") == "article-journal" else "Chapter",
        "name": item.get("title", ""),
        "author": [_person(a) for a in item.get("author", [])],
    }
    year = item.get("issued", {}).get("date-parts", [[None]])[0]
    if year and year[0]:
        work["datePublished"] = "-".join(f"{v:02d}" if i else str(v) for i, v in enumerate(year))
    if item.get("container-title"):
        work["isPartOf"] = {
            "@type": "Periodical" if work["@type"] == "ScholarlyArticle" else "Book",
            "name": item["container-title"],
        }
    if item.get("volume"):
        work["volumeNumber"] = str(item["volume"])
    if item.get("issue"):
        work["issueNumber"] = str(item["issue"])
    if item.get("page"):
        work["pagination"] = str(item["page"])
    if item.get("DOI"):
        work["identifier"] = f"https://doi.org/{item['DOI']}"
    return work


def jsonld(title: str, info: dict[str, Any]) -> str:
    """A schema.org ``ScholarlyArticle`` block, safe to embed in ``<script>``."""
    refs = info.get("references", [])
    doc: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "ScholarlyArticle",
        "headline": title,
        "name": title,
        "author": [{"@type": "Organization", "name": a} for a in info.get("authors", [])],
        "inLanguage": info.get("language", "en"),
        "keywords": info.get("keywords", []),
        "citation": [_creative_work(r) for r in refs],
    }
    if info.get("license"):
        doc["license"] = info["license"]
    if info.get("description"):
        doc["description"] = info["description"]
    based = [r for r in refs if r.get("id") == info.get("based_on", "majeed2019")]
    if based:
        doc["isBasedOn"] = _creative_work(based[0])
    stamp = _source_date()
    if stamp:
        doc["datePublished"] = stamp[:10]
    text = json.dumps(doc, sort_keys=True, ensure_ascii=False, indent=1)
    # never let data close the script element or open a comment
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@functools.lru_cache(maxsize=4)
def _exporter(with_code: bool, stamp: tuple[tuple[str, FileStamp], ...]) -> HTMLExporter:
    """The HTML exporter, kept per process: compiling its templates costs ~0.2 s a time,
    which a watch session would otherwise pay on every edit."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(
        template_name=TEMPLATE_NAME,
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        exclude_input=not with_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    remove = TagRemovePreprocessor(
        remove_cell_tags={"remove-cell", "parameters", "injected-parameters"},
        remove_input_tags={"remove-input"},
        enabled=True,
    )
    exporter.register_preprocessor(remove, enabled=True)
    return exporter


def warm_exporter(*, with_code: bool = False) -> None:
    """Build the exporter and compile its templates now, on a one-cell notebook (a watch
    session does this while idle, so that its first edit does not pay for it)."""
    import tempfile

    import nbformat

    with tempfile.TemporaryDirectory(prefix="casereport-warm-") as tmp:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell("# Warm-up")]
        path = Path(tmp) / "warm.ipynb"
        nbformat.write(nb, path)
        notebook_to_html(path, Path(tmp) / "warm.html", with_code=with_code)


def prepare_export(*, with_code: bool = False, pdf: bool = True) -> None:
    """Do now the export's fixed start-up work: nbconvert's exporter with its templates
    compiled (:func:`warm_exporter`) and, for a PDF, WeasyPrint imported (about 0.2 and
    0.3 CPU-s). A render calls it in a thread while the article runs, so that the export
    that follows starts with both done."""
    warm_exporter(with_code=with_code)
    if pdf:
        from casereport.render.pdf import import_weasyprint

        import_weasyprint()


def notebook_to_html(
    notebook: Path, output: Path, *, with_code: bool = False, banner: str = ""
) -> Path:
    """Write ``output`` (HTML): inputs hidden unless ``with_code``, every image inlined.

    Cells tagged ``remove-cell`` (and the parameter cells) are dropped; ``remove-input``
    hides one cell's code. ``banner`` is an optional visible warning line at the top.
    """
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    exporter = _exporter(with_code, _template_stamp())
    resources = {
        "metadata": {"path": str(notebook.parent), "name": notebook.stem},
        "article_title": _title(nb, notebook.stem),
        "article_language": _info(nb).get("language", "en"),
        "article_meta": citation_meta(_title(nb, notebook.stem), _info(nb)),
        "article_jsonld": jsonld(_title(nb, notebook.stem), _info(nb)) if _info(nb) else "",
        "article_css": CSS_PATH.read_text(),
        "casereport_version": casereport.__version__,
        "show_code": with_code,
        "banner": banner,
    }
    try:
        body, _ = exporter.from_notebook_node(nb, resources=resources)
    except Exception as exc:
        raise RenderError(notebook, f"HTML export failed: {type(exc).__name__}: {exc}") from None
    found = _EXTERNAL.search(_DATA_URI.sub("data:", body))
    if found:
        bad = found.group(0)
        raise RenderError(notebook, f"HTML would load an external resource ({html.escape(bad)})")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(body, encoding="utf-8")
    return output


def _source_date() -> str | None:
    """ISO date from ``SOURCE_DATE_EPOCH`` (reproducible builds), else no date at all."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch or not epoch.strip().isdigit():
        return None
    return datetime.fromtimestamp(int(epoch), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


#: Block elements a figure may be moved before (the first of them on a page).
_FLOW_BLOCKS = {"p", "h1", "h2", "h3", "h4", "ul", "ol", "table", "details", "section", "pre"}


def _first_reference_page(doc: Any, target: str) -> int | None:
    """Index of the first page holding a link to ``#target``."""
    for number, page in enumerate(doc.pages):
        if _links_to(page._page_box, target):
            return number
    return None


def _links_to(page_box: Any, target: str) -> bool:
    """True when the page box holds a link to ``#target``."""
    for box in page_box.descendants():
        el = getattr(box, "element", None)
        if el is not None and el.tag == "a" and el.get("href") == f"#{target}":
            return True
    return False


def _first_block(page_box: Any) -> Any:
    """The first paragraph-like element laid out on a page (it may continue a block)."""
    for box in page_box.descendants():
        el = getattr(box, "element", None)
        if (
            el is None
            or box.element_tag not in _FLOW_BLOCKS
            and not (box.element_tag == "div" and "table-wrap" in (el.get("class") or ""))
        ):
            continue
        if getattr(box, "is_for_root_element", False):
            continue
        return el
    return None


def keep_code_words(root: Any) -> None:
    """Let lines break inside inline code only at its spaces (print layout).

    A command such as ``python -m casereport.synth --out data --force`` may otherwise
    break after any of its hyphens (Unicode line breaking allows it), which prints
    ``--`` at the end of one line and ``force`` on the next. Each word of the text of a
    ``<code>`` outside ``<pre>`` is put in a ``<span>`` that does not wrap; the text and
    its spaces are unchanged. ``root`` is WeasyPrint's parsed tree, changed in place.
    """
    import xml.etree.ElementTree as ET

    in_pre = {el for pre in root.iter("pre") for el in pre.iter()}
    for code in list(root.iter("code")):
        text = code.text or ""
        if code in in_pre or len(code) or not re.search(r"\S\s+\S|-", text):
            continue
        code.text = None
        previous = None
        for part in re.split(r"(\s+)", text):
            if not part:
                continue
            if part.isspace():
                if previous is None:
                    code.text = part
                else:
                    previous.tail = part
                continue
            previous = ET.SubElement(code, "span", {"style": "white-space: nowrap"})
            previous.text = part


def place_figures(
    html: Any,
    *,
    anchors: list[int | None] | None = None,
    found: list[int | None] | None = None,
    **options: Any,
) -> Any:
    """Lay out ``html`` with each ``<figure class="figure">`` at the top of the page after
    the page that first links to it (``<a href="#id">``), like a journal's top float.

    The page is laid out without the figures to find where pages begin; each figure in
    turn is moved before the first block of the page after its first mention (before the
    heading of that block, if one is right above it: :func:`_above_headings`) and the
    page laid out again (one draft per figure, plus the final layout). A draft stops at
    the page after the figure's first mention (:func:`_draft_anchor`). Figures never
    mentioned stay where they were.

    ``found``, if given, receives each figure's anchor as its position in document order
    when it was placed (None: left where it was); ``anchors``, such a list from a layout
    of the same text (:func:`casereport.render.pdf.layout_digest`), places the figures
    without drafts: the same tree, the same pages.
    """
    root = html.etree_element
    parents = {child: parent for parent in root.iter() for child in parent}
    figures = [
        el
        for el in root.iter("figure")
        if "figure" in (el.get("class") or "").split() and el.get("id")
    ]
    if not figures:
        return html.render(**options)
    if anchors is not None and len(anchors) != len(figures):
        anchors = None
    from casereport.render.pdf import Layouts

    layouts = Layouts.start(html, options)
    if layouts is not None and not all(layouts.detach(fig) for fig in figures):
        layouts = None  # a figure without a box: WeasyPrint's own way
    moved = []
    for fig in figures:
        parent = parents[fig]
        moved.append((fig, parent, list(parent).index(fig)))
        parent.remove(fig)
    for n, (fig, parent, index) in enumerate(moved):  # in order, after the ones before
        order = list(root.iter())
        parents = {child: parent for parent in root.iter() for child in parent}
        if anchors is not None:
            at = anchors[n]
            anchor = order[at] if at is not None and at < len(order) else None
        else:
            anchor = _above_headings(parents, _draft_anchor(html, fig.get("id"), options, layouts))
        if found is not None:
            position = {el: i for i, el in enumerate(order)}
            found.append(position.get(anchor) if anchor is not None else None)
        if anchor is not None and anchor in parents:
            host = parents[anchor]
            host.insert(list(host).index(anchor), fig)
            if layouts is not None and not layouts.attach(fig, anchor):
                layouts = None  # the anchor has no box: the tree as it is from here on
        else:
            parent.insert(min(index, len(parent)), fig)
            if layouts is not None:
                layouts.attach(fig, None)
    return layouts.document() if layouts is not None else html.render(**options)


#: elements a figure is never placed after when they are right above its anchor
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


def _above_headings(parents: dict[Any, Any], anchor: Any) -> Any:
    """``anchor``, or the first of the headings right before it among its siblings
    (``parents``: each element's parent): a figure placed before a block goes before that
    block's heading too, so a heading is never left between the figure and its text
    (WeasyPrint keeps a heading with what follows it, so it would move to the top of the
    page, above the figure)."""
    if anchor is None:
        return None
    while anchor in parents:
        siblings = list(parents[anchor])
        at = siblings.index(anchor)
        if at == 0 or not isinstance(siblings[at - 1].tag, str):
            break
        if siblings[at - 1].tag.lower() not in _HEADINGS:
            break
        anchor = siblings[at - 1]
    return anchor


def _draft_anchor(html: Any, target: str, options: dict[str, Any], layouts: Any = None) -> Any:
    """The first block of the page after the first page linking to ``#target`` in a
    layout of ``html`` as it is, or of ``layouts`` (a
    :class:`casereport.render.pdf.Layouts` of it) as they are arranged (None: no link,
    or no page after it).

    Pages are laid out one at a time and the layout stops there
    (:func:`casereport.render.pdf.draft_pages`); a document whose pages may depend on
    later ones is laid out whole.
    """
    from casereport.render.pdf import NeedsFullLayout, draft_pages

    pages = layouts.pages() if layouts is not None else draft_pages(html, options)
    if pages is not None:
        try:
            linked = False
            for page in pages:
                if linked:
                    return _first_block(page)
                linked = _links_to(page, target)
            return None
        except NeedsFullLayout:
            pass
    draft = layouts.document() if layouts is not None else html.render(**options)
    page = _first_reference_page(draft, target)
    if page is not None and page + 1 < len(draft.pages):
        return _first_block(draft.pages[page + 1]._page_box)
    return None


def html_to_pdf(
    source: Path,
    output: Path,
    *,
    font_cache: Path | None = None,
    image_cache: Path | None = None,
    placement_cache: Path | None = None,
) -> Path:
    """Render ``source`` HTML to a tagged (PDF/UA-1) A4 PDF with WeasyPrint.

    No network; fixed metadata (title, authors, language and keywords come from the
    HTML's ``<title>``, ``<meta>`` and ``lang``); figures float to the top of the page
    after their first mention (:func:`place_figures`). The embedded PNG images are
    compressed for the PDF in a worker thread while the pages are laid out; font subsets
    are kept in the folder ``font_cache``, the images' PDF data in ``image_cache`` (each
    if given), and reused by later renders
    (:mod:`casereport.render.pdf`). The figures' places are kept in ``placement_cache``
    by :func:`~casereport.render.pdf.layout_digest`: HTML that differs only in the pixels
    of its images (an arrow moved, a window changed) is laid out once, without drafts.
    """
    from casereport.render.pdf import (
        FontSubsets,
        ImageCache,
        ImageStreams,
        import_weasyprint,
        keep_placement,
        layout_digest,
        parse_html,
        read_placement,
    )

    weasyprint = import_weasyprint()  # imported late: loading pango costs ~0.3 s
    fetcher = weasyprint.URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
    try:
        data = source.read_bytes()
        images = ImageCache(ImageStreams(data, image_cache))
        options = {"pdf_variant": "pdf/ua-1", "cache": images}
        html = parse_html(weasyprint, source, data, fetcher)
        keep_code_words(html.etree_element)
        digest = layout_digest(data) if placement_cache is not None else ""
        kept = read_placement(placement_cache, digest) if digest else None
        found: list[int | None] = []
        doc = place_figures(html, anchors=kept, found=found, **options)
        if digest and kept is None:
            keep_placement(placement_cache, digest, found)
        stamp = _source_date()
        doc.metadata.created = stamp
        doc.metadata.modified = stamp
        doc.metadata.generator = f"casereport {casereport.__version__}"
        doc.fonts = FontSubsets(font_cache)
        output.parent.mkdir(parents=True, exist_ok=True)
        doc.write_pdf(
            str(output), pdf_identifier=b"casereport-article", pdf_version="1.7", **options
        )
    except Exception as exc:
        raise RenderError(source, f"PDF export failed: {type(exc).__name__}: {exc}") from None
    return output

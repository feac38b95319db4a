"""Export an executed notebook to one self-contained HTML file, and that HTML to PDF."""

from __future__ import annotations

import functools
import html
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor

import casereport
from casereport.errors import RenderError

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


def _template_stamp() -> tuple[tuple[str, int, int], ...]:
    """(name, size, mtime) of the template files: an edited template gets a new exporter."""
    return tuple(
        (p.name, p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(TEMPLATE_DIR.rglob("*"))
        if p.is_file()
    )


@functools.lru_cache(maxsize=4)
def _exporter(with_code: bool, stamp: tuple[tuple[str, int, int], ...]) -> HTMLExporter:
    """The HTML exporter, kept per process: compiling its templates costs ~0.2 s a time,
    which a watch session would otherwise pay on every edit."""
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


def notebook_to_html(
    notebook: Path, output: Path, *, with_code: bool = False, banner: str = ""
) -> Path:
    """Write ``output`` (HTML): inputs hidden unless ``with_code``, every image inlined.

    Cells tagged ``remove-cell`` (and the parameter cells) are dropped; ``remove-input``
    hides one cell's code. ``banner`` is an optional visible warning line at the top.
    """
    nb = nbformat.read(notebook, as_version=4)
    exporter = _exporter(with_code, _template_stamp())
    resources = {
        "metadata": {"path": str(notebook.parent), "name": notebook.stem},
        "article_title": _title(nb, notebook.stem),
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


def html_to_pdf(source: Path, output: Path) -> Path:
    """Render ``source`` HTML to an A4 PDF with WeasyPrint (no network, fixed metadata)."""
    import weasyprint  # imported late: loading pango/cairo costs ~0.5 s

    fetcher = weasyprint.URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
    try:
        doc = weasyprint.HTML(filename=str(source), url_fetcher=fetcher).render()
        stamp = _source_date()
        doc.metadata.created = stamp
        doc.metadata.modified = stamp
        doc.metadata.generator = f"casereport {casereport.__version__}"
        output.parent.mkdir(parents=True, exist_ok=True)
        doc.write_pdf(str(output), pdf_identifier=b"casereport-article", pdf_version="1.7")
    except Exception as exc:
        raise RenderError(source, f"PDF export failed: {type(exc).__name__}: {exc}") from None
    return output

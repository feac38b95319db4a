"""Text edits without execution: the article's code digest, the markdown splice and the
splice of case-file text shown verbatim.

Markdown cells are not executed, so an executed article whose code cells (and notebook
metadata) match the current source needs no kernel when only its prose changed: the
current markdown cells are put in place of the old ones (:func:`splice_prose`). The
result is the notebook a fresh execution would write, byte for byte
(``tests/test_watch.py`` checks it), so the HTML and PDF do not depend on which path made
them. The article's cache key therefore covers :func:`code_digest` instead of the
notebook's bytes.

Case-file text a notebook only shows (a panel's caption quoted in the figure legend) is
spliced the same way: a notebook declares, in ``metadata.casereport.verbatim_facets``,
the kinds of case-file facets (:mod:`casereport.case.facets`) whose values reach its
outputs only as they are, HTML-escaped in an HTML output, and nowhere else. When such a
facet is all that changed, the old text is replaced by the new one in the executed
notebook (:func:`splice_facets`), if it is found there exactly once; otherwise the
notebook is executed.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat

from casereport.render.hashing import digest_json

#: tag papermill gives the cell it inserts after the ``parameters`` cell
INJECTED_TAG = "injected-parameters"
#: notebook metadata (under ``casereport``) naming the facet kinds shown verbatim
VERBATIM_KEY = "verbatim_facets"


def _tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def code_digest(notebook: Path) -> str:
    """SHA-256 of what executing ``notebook`` depends on: its code cells and metadata.

    Markdown and raw cells are left out (text, not code); the position of the code cells
    among them does not matter either, only their order, sources and metadata.
    """
    nb = nbformat.read(notebook, as_version=4)
    code = [
        {"source": c.source, "metadata": dict(c.metadata), "id": c.get("id")}
        for c in nb.cells
        if c.cell_type == "code"
    ]
    return digest_json({"metadata": dict(nb.metadata), "code": code, "nbformat": nb.nbformat})


def splice_prose(executed: Path, source: Path) -> bool:
    """Give the executed notebook ``executed`` the text cells of ``source``, in place.

    The code cells of both must be the same (same :func:`code_digest`); their outputs are
    kept. Returns whether the file changed.

    Raises:
        ValueError: the code cells differ (the article must be executed instead).
    """
    ex = nbformat.read(executed, as_version=4)
    if not _with_prose(ex, executed, source):
        return False
    nbformat.write(ex, executed)
    return True


def _with_prose(ex: Any, executed: Path, source: Path) -> bool:
    """Give the executed notebook ``ex`` (read from ``executed``) the text cells of
    ``source``; whether its cells changed (see :func:`splice_prose`)."""
    src = nbformat.read(source, as_version=4)
    injected = [c for c in ex.cells if INJECTED_TAG in _tags(c)]
    ran = [c for c in ex.cells if c.cell_type == "code" and INJECTED_TAG not in _tags(c)]
    wanted = [c for c in src.cells if c.cell_type == "code"]
    if [c.source for c in ran] != [c.source for c in wanted]:
        raise ValueError(f"{executed}: code cells differ from {source}")
    cells = []
    outputs = iter(ran)
    for cell in src.cells:
        if cell.cell_type != "code":
            cell.metadata.setdefault("tags", [])  # as papermill leaves every cell it ran
            cells.append(cell)
            continue
        cells.append(next(outputs))
        if "parameters" in _tags(cell):
            cells.extend(injected)
    if cells == ex.cells:
        return False
    ex.cells = cells
    return True


def verbatim_facets(notebook: Path) -> tuple[str, ...]:
    """Facet kinds (``"caption"``...) ``notebook`` declares it shows verbatim only
    (``metadata.casereport.verbatim_facets``); empty when it declares none."""
    nb = nbformat.read(notebook, as_version=4)
    kinds = nb.metadata.get("casereport", {}).get(VERBATIM_KEY, [])
    if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
        raise ValueError(f"{notebook}: metadata.casereport.{VERBATIM_KEY} is not a list of names")
    return tuple(kinds)


def _output_texts(output: Any) -> list[tuple[str, str]]:
    """(mime type or field, text) of every string an output holds, metadata included."""
    out: list[tuple[str, str]] = []
    if isinstance(output.get("text"), str):
        out.append(("stream", output["text"]))
    for mime, value in output.get("data", {}).items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        out.append((mime, text))
    for field in ("metadata", "ename", "evalue", "traceback"):
        if field in output:
            out.append((field, json.dumps(output[field], ensure_ascii=False)))
    return out


def splice_facets(
    executed: Path, changes: Mapping[str, tuple[str, str]], prose: Path | None = None
) -> bool:
    """Replace, in the outputs of the executed notebook ``executed`` (in place), each old
    text of ``changes`` (``{facet: (old, new)}``) by the new one, HTML-escaped.

    Each old text must occur exactly once in all outputs, HTML-escaped, in a
    ``text/html`` output, and nowhere as it is in any other output (else the notebook may
    use it in a way a replacement would not follow); two old texts may not overlap.
    ``prose``: the source notebook whose text cells are spliced in as well, in the same
    pass (:func:`splice_prose`). Returns whether the file changed.

    Raises:
        ValueError: an old text is not found as required, or the code cells differ from
            those of ``prose`` (the notebook must be executed instead).
    """
    ex = nbformat.read(executed, as_version=4)
    outputs = [o for c in ex.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    texts = [(o, mime, t) for o in outputs for mime, t in _output_texts(o)]
    edits: dict[int, list[tuple[int, int, str]]] = {}  # output -> (start, end, new text)
    by_id = {id(o): o for o in outputs}
    for facet, (old, new) in sorted(changes.items()):
        escaped = html.escape(old, quote=True)
        hits = [(o, m, t) for o, m, t in texts if old and escaped in t]
        count = sum(t.count(escaped) for _, _, t in hits)
        raw = old != escaped and any(old in t for _, m, t in texts if m != "text/html")
        if count != 1 or hits[0][1] != "text/html" or raw:
            raise ValueError(f"{executed}: the text of {facet} is not shown exactly once")
        start = hits[0][2].index(escaped)
        edits.setdefault(id(hits[0][0]), []).append(
            (start, start + len(escaped), html.escape(new, quote=True))
        )
    changed = False
    for key, spans in edits.items():
        data = by_id[key]["data"]
        text = data["text/html"]
        parts, at = [], 0
        for start, end, new_text in sorted(spans):
            if start < at:
                raise ValueError(f"{executed}: the texts of {sorted(changes)} overlap")
            parts += [text[at:start], new_text]
            at = end
        after = "".join([*parts, text[at:]])
        changed = changed or after != text
        data["text/html"] = after
    if prose is not None and _with_prose(ex, executed, prose):
        changed = True
    if changed:
        nbformat.write(ex, executed)
    return changed

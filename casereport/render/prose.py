"""Prose edits without execution: the article's code digest and the markdown splice.

Markdown cells are not executed, so an executed article whose code cells (and notebook
metadata) match the current source needs no kernel when only its prose changed: the
current markdown cells are put in place of the old ones (:func:`splice_prose`). The
result is the notebook a fresh execution would write, byte for byte
(``tests/test_watch.py`` checks it), so the HTML and PDF do not depend on which path made
them. The article's cache key therefore covers :func:`code_digest` instead of the
notebook's bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat

from casereport.render.hashing import digest_json

#: tag papermill gives the cell it inserts after the ``parameters`` cell
INJECTED_TAG = "injected-parameters"


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
    nbformat.write(ex, executed)
    return True

"""Build small notebooks in tests (real .ipynb files executed by the real tools)."""

from __future__ import annotations

from pathlib import Path

import nbformat


def make_notebook(path: Path, cells: list[tuple[str, str, list[str] | None]], title: str = "") -> Path:
    """Write a notebook of (kind, source, tags) cells; kind is "md" or "code"."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "casereport", "display_name": "Python (casereport)", "language": "python"},
        "language_info": {"name": "python"},
    }
    if title:
        nb.metadata["title"] = title
    for i, (kind, source, tags) in enumerate(cells):
        cell = nbformat.v4.new_markdown_cell(source) if kind == "md" else nbformat.v4.new_code_cell(source)
        cell.id = f"cell-{i:02d}"
        if tags:
            cell.metadata["tags"] = list(tags)
        nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path

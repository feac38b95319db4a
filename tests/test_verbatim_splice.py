"""Case-file text shown verbatim (a panel's caption in the figure legend) spliced into an
executed notebook: found once, HTML-escaped, in an HTML output, or not spliced at all."""

from __future__ import annotations

import html
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from casereport.render.prose import splice_facets, verbatim_facets

A1 = "data/A/case.yaml#panels.A1.caption"
A2 = "data/A/case.yaml#panels.A2.caption"


def _legend(captions: dict[str, str]) -> str:
    text = " ".join(f"({pid}) {c}" for pid, c in captions.items())
    legend = html.escape(text, quote=True)
    return f"<figure><figcaption><b>Figure 1.</b> {legend}</figcaption></figure>"


def _notebook(path: Path, captions: dict[str, str], *, extra: list | None = None) -> Path:
    html_out = new_output(
        "display_data",
        data={"text/html": _legend(captions), "text/plain": "<IPython.core.display.HTML object>"},
    )
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Title", id="title"),
            new_code_cell("show(captions)", id="legend", outputs=[html_out, *(extra or [])]),
        ],
        metadata={"casereport": {"verbatim_facets": ["caption"]}},
    )
    nbformat.write(nb, path)
    return path


def test_caption_spliced_gives_the_notebook_an_execution_writes(tmp_path: Path) -> None:
    old = {"A1": "Anterior & posterior <views>", "A2": "Axial CT"}
    new = {"A1": "Anterior & posterior <views>, lungs", "A2": "Axial CT"}
    executed = _notebook(tmp_path / "executed.ipynb", old)
    fresh = _notebook(tmp_path / "fresh.ipynb", new)
    assert splice_facets(executed, {A1: (old["A1"], new["A1"])})
    assert executed.read_bytes() == fresh.read_bytes()
    assert verbatim_facets(executed) == ("caption",)


def test_two_captions_spliced_where_each_was_even_if_a_new_one_holds_an_old_one(
    tmp_path: Path,
) -> None:
    old = {"A1": "Lungs", "A2": "Stomach"}
    new = {"A1": "Stomach and lungs", "A2": "Stomach wall"}
    executed = _notebook(tmp_path / "executed.ipynb", old)
    changes = {A1: (old["A1"], new["A1"]), A2: (old["A2"], new["A2"])}
    assert splice_facets(executed, changes)
    assert executed.read_bytes() == _notebook(tmp_path / "fresh.ipynb", new).read_bytes()


@pytest.mark.parametrize(
    ("captions", "extra", "old"),
    [
        ({"A1": "Lungs", "A2": "Lungs"}, None, "Lungs"),  # twice
        ({"A1": "Lungs", "A2": "Axial CT"}, None, "Stomach"),  # absent
        ({"A1": "Lungs", "A2": "Axial CT"}, None, ""),  # empty: everywhere
        # used by the code as well (printed): a replacement would leave that stale
        ({"A1": "Lungs", "A2": "Axial CT"}, [new_output("stream", text="Axial CT\n")], "Axial CT"),
        ({"A1": "a < b", "A2": "x"}, [new_output("stream", text="a < b\n")], "a < b"),
    ],
)
def test_text_not_shown_exactly_once_is_not_spliced(
    tmp_path: Path, captions: dict[str, str], extra: list | None, old: str
) -> None:
    executed = _notebook(tmp_path / "executed.ipynb", captions, extra=extra)
    before = executed.read_bytes()
    with pytest.raises(ValueError, match="not shown exactly once"):
        splice_facets(executed, {A1: (old, "New text")})
    assert executed.read_bytes() == before


def test_bad_declaration_names_the_notebook(tmp_path: Path) -> None:
    nb = new_notebook(metadata={"casereport": {"verbatim_facets": "caption"}})
    nbformat.write(nb, tmp_path / "bad.ipynb")
    with pytest.raises(ValueError, match="bad.ipynb"):
        verbatim_facets(tmp_path / "bad.ipynb")


def test_prose_spliced_in_the_same_pass(tmp_path: Path) -> None:
    old = {"A1": "Lungs", "A2": "Axial CT"}
    executed = _notebook(tmp_path / "executed.ipynb", old)
    source = nbformat.read(executed, as_version=4)
    source.cells[0].source = "# Title, edited"
    source.cells[1].outputs = []
    nbformat.write(source, tmp_path / "source.ipynb")
    assert splice_facets(executed, {A1: ("Lungs", "Both lungs")}, prose=tmp_path / "source.ipynb")
    nb = nbformat.read(executed, as_version=4)
    assert nb.cells[0].source == "# Title, edited"
    assert "(A1) Both lungs (A2) Axial CT" in nb.cells[1].outputs[0]["data"]["text/html"]
    source.cells[1] = new_code_cell("other()", id="legend")
    nbformat.write(source, tmp_path / "source.ipynb")
    with pytest.raises(ValueError, match="code cells differ"):
        splice_facets(executed, {A1: ("Both lungs", "Lungs")}, prose=tmp_path / "source.ipynb")

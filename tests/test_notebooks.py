"""The project's notebooks: thin, parameterised, and runnable top to bottom on the kernel."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from casereport.errors import ParameterError
from casereport.render.params import validate_parameters

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


@pytest.mark.parametrize("name", ["case.ipynb", "figure.ipynb", "article.ipynb"])
def test_notebook_is_thin_and_parameterised(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "casereport"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    for cell in nb.cells:
        assert not cell.get("outputs"), "notebooks are committed without outputs"
        if cell.cell_type == "code":
            assert len(cell.source.splitlines()) <= 30, cell.source[:80]
    assert sum(c.cell_type == "markdown" for c in nb.cells) >= 3


@pytest.mark.parametrize(
    ("values", "parameter", "message"),
    [
        ({"case_idx": "A"}, "case_idx", "unknown parameter"),
        ({"panels": "A1"}, "panels", "expected list"),
        ({"nm_window": 5}, "nm_window", "expected list"),
        ({"ct_window": ["lung"]}, "ct_window", "expected str"),
    ],
)
def test_case_notebook_parameters_are_typed(values: dict, parameter: str, message: str) -> None:
    with pytest.raises(ParameterError, match=message) as info:
        validate_parameters(NOTEBOOKS / "case.ipynb", values)
    assert info.value.parameter == parameter
    assert "case.ipynb" in str(info.value)


def test_case_notebook_runs_top_to_bottom_with_nbclient(tmp_path: Path) -> None:
    """As a reader would in JupyterLab: kernel in notebooks/, default parameters (case A)."""
    nb = nbformat.read(NOTEBOOKS / "case.ipynb", as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = params.source.replace(
        'output_dir = ""', f"output_dir = {str(tmp_path / 'A')!r}"
    )
    # the kernel named in the notebook, as registered by make test / make lab (no helper)
    client = NotebookClient(nb, timeout=600, resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors
    results = json.loads((tmp_path / "A" / "results.json").read_text())
    assert results["case_id"] == "A"
    lung = next(m for m in results["planar"] if m["name"] == "lung / soft tissue")
    assert lung["case_over_control"] > 1.3
    inputs = json.loads((tmp_path / "A" / "inputs.json").read_text())
    # the parts of the case files it used: its own (core, the alt texts it shows, the
    # annotations it draws, no caption) and the control's core
    facets = {p.split("data/", 1)[-1] for p in inputs if "case.yaml" in p}
    assert {"A/case.yaml#core", "control/case.yaml#core", "A/case.yaml#panels.A1.alt"} <= facets
    assert "A/case.yaml#panels.A1.annotations" in facets
    assert not any("caption" in f for f in facets)
    # no other case's file: editing case B's caption does not re-execute case A
    assert not any(f.startswith(("B/", "C/")) for f in facets)
    assert any("/wb/" in p for p in inputs) and any("/ct/" in p for p in inputs)
    html = "".join(
        o.get("data", {}).get("text/html", "") for c in nb.cells for o in c.get("outputs", [])
    )
    assert "lung / soft tissue" in html and "<table>" in html
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # panels and the ROI overlay

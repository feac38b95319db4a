"""Case-run parameters checked against the case index before any cell runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from casereport.errors import CaseFileError, ParameterError
from casereport.render.preflight import check_case_parameters
from tests.support.nbfactory import case_yaml

CASE_NB = Path(__file__).resolve().parents[1] / "notebooks" / "case.ipynb"
PANELS = """panels:
  A1: {kind: planar, study: wb, views: [ANT], window: {percentiles: [1, 99]}, caption: c, alt: a}
  A2: {kind: planar, study: wb, views: [ANT], window: {percentiles: [1, 99]}, caption: c, alt: a}
"""


@pytest.fixture
def data(tmp_path: Path) -> Path:
    for subject in ("A", "control"):
        (tmp_path / "data" / subject / "wb").mkdir(parents=True)
    (tmp_path / "data" / "A" / "case.yaml").write_text(case_yaml("A") + PANELS)
    (tmp_path / "data" / "control" / "case.yaml").write_text(case_yaml("control", "control"))
    return tmp_path


def test_good_parameters_pass(data: Path) -> None:
    check_case_parameters(CASE_NB, {"case_id": "A", "data_dir": "data", "panels": ["A2"]}, data)


@pytest.mark.parametrize(
    ("params", "parameter", "message"),
    [
        ({"case_id": "Z"}, "case_id", r"no data for case 'Z'.*cases with data: A, control"),
        ({"case_id": "A", "control_id": "ghost"}, "control_id", "no control subject 'ghost'"),
        ({"case_id": "A", "control_id": "A"}, "control_id", r"controls: control\)"),
        (
            {"case_id": "A", "panels": ["B1"]},
            "panels",
            r"case A has no panel B1 \(panels: A1, A2\)",
        ),
    ],
)
def test_bad_values_name_notebook_and_parameter(
    data: Path, params: dict, parameter: str, message: str
) -> None:
    with pytest.raises(ParameterError, match=message) as info:
        check_case_parameters(CASE_NB, {"data_dir": "data", **params}, data)
    assert info.value.parameter == parameter
    assert info.value.notebook.name == "case.ipynb"
    assert info.value.case == params["case_id"]


def test_invalid_case_file_is_reported_with_its_entry(data: Path) -> None:
    (data / "data" / "control" / "case.yaml").write_text(
        case_yaml("control", "control").replace("role: control", "role: reference")
    )
    with pytest.raises(CaseFileError, match="role") as info:
        check_case_parameters(CASE_NB, {"data_dir": "data", "case_id": "A"}, data)
    assert info.value.path.name == "case.yaml" and info.value.entry == "role"

"""Case-run parameters checked against the data before any cell runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from casereport.errors import ParameterError
from casereport.render.preflight import check_case_parameters

CASE_NB = Path(__file__).resolve().parents[1] / "notebooks" / "case.ipynb"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    for subject in ("A", "control"):
        (tmp_path / "data" / subject / "wb").mkdir(parents=True)
    (tmp_path / "data" / "A" / "case.yaml").write_text("case: A\npanels:\n  A1: {}\n  A2: {}\n")
    (tmp_path / "data" / "control" / "case.yaml").write_text("case: control\nrole: control\n")
    return tmp_path


def test_good_parameters_pass(data: Path) -> None:
    check_case_parameters(CASE_NB, {"case_id": "A", "data_dir": "data", "panels": ["A2"]}, data)


@pytest.mark.parametrize(
    ("params", "parameter", "message"),
    [
        ({"case_id": "Z"}, "case_id", r"no data for case 'Z'.*cases with data: A, control"),
        (
            {"case_id": "A", "studies": {"whole_body": "nope"}},
            "studies",
            "missing whole_body study for A",
        ),
        ({"case_id": "A", "studies": {"ct": "ct"}}, "studies", "no 'whole_body' entry"),
        ({"case_id": "A", "control_id": "ghost"}, "studies", "missing whole_body study for ghost"),
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

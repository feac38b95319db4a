"""casereport.case: the one window type, the plane mapping, the index and the schema."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from casereport.case import PRESETS, Modality, Plane, Role, Window, WindowUnit, index
from casereport.case.schema import dumps
from casereport.errors import CaseFileError, WindowError
from tests.support.nbfactory import case_yaml

ROOT = Path(__file__).resolve().parents[1]


def test_ct_window_from_width_and_level() -> None:
    w = Window.ct(400, 40)
    assert (w.lo, w.hi, w.unit) == (-160.0, 240.0, WindowUnit.HU)
    assert (w.width_hu, w.level_hu) == (400.0, 40.0)
    assert w.modality is Modality.CT and w.describe() == "W400/L40"
    assert PRESETS["lung"].as_dict() == {"name": "lung", "width_hu": 1500.0, "level_hu": -600.0}
    assert Window(0.5, 99.5).as_dict() == {"mode": "percentiles", "lo": 0.5, "hi": 99.5}


@pytest.mark.parametrize(
    ("build", "argument", "message"),
    [
        (lambda: Window.ct(0, 40), "width_hu", "must be > 0 HU"),
        (lambda: Window.ct(-10, 40), "width_hu", "must be > 0 HU"),
        (lambda: Window.ct(math.nan, 40), "width_hu", "finite"),
        (lambda: Window.ct(400, math.inf), "level_hu", "finite"),
        (lambda: Window(5, 5, WindowUnit.COUNTS), "hi", "lo < hi"),
        (lambda: Window(99, 1), "hi", "lo < hi"),
        (lambda: Window(1, 120), "hi", r"\[0, 100\]"),
        (lambda: Window(-5, 50), "lo", r"\[0, 100\]"),
        (lambda: Window(-1, 5, WindowUnit.COUNTS), "lo", ">= 0"),
        (lambda: Window("a", 5), "lo", "expected a number"),  # type: ignore[arg-type]
        (lambda: Window(1, 5, "decibel"), "unit", "unknown unit"),  # type: ignore[arg-type]
        (lambda: Window(1, 5, name="lung"), "name", "only CT windows"),
        (lambda: Window.preset("purple"), "", "unknown CT window 'purple'"),
    ],
)
def test_window_errors_name_the_argument(build, argument: str, message: str) -> None:
    with pytest.raises(WindowError, match=message) as info:
        build()
    assert info.value.argument == argument


@pytest.mark.parametrize(
    ("value", "modality", "expected"),
    [
        ("mediastinal", "CT", PRESETS["mediastinal"]),
        ("400,40", "CT", Window.ct(400, 40)),
        ([400, 40], "CT", Window.ct(400, 40)),
        ("{width: 400, level: 40}", "CT", Window.ct(400, 40)),
        ("[1, 99]", "NM", Window(1, 99)),
        ("1,99", "NM", Window(1, 99)),
        ([1, 99], "NM", Window(1, 99)),
        ({"counts": [0, 30]}, "NM", Window(0, 30, WindowUnit.COUNTS)),
    ],
)
def test_window_from_cli(value: object, modality: str, expected: Window) -> None:
    assert Window.from_cli(value, modality) == expected


@pytest.mark.parametrize(
    ("value", "modality", "message"),
    [
        ("purple", "CT", "unknown CT window 'purple'"),
        ("[99, 1]", "NM", "lo < hi"),
        ("[-5, 500]", "NM", r"\[0, 100\]"),
        ("[.nan, .inf]", "NM", "finite"),
        ('["a","b"]', "NM", r"expected a number, got 'a'"),
        ("[1, 2, 3]", "NM", "two numbers"),
        ("lung", "NM", "NM window must be"),
    ],
)
def test_window_from_cli_rejects(value: str, modality: str, message: str) -> None:
    with pytest.raises(WindowError, match=message):
        Window.from_cli(value, modality)


def test_window_require_modality() -> None:
    with pytest.raises(WindowError, match="expected a CT window") as info:
        Window(1, 99).require(Modality.CT, "ct_window")
    assert info.value.argument == "ct_window"


def test_plane_axes_and_keys() -> None:
    assert Plane.AXIAL.axes == (0, 1, 2) and Plane.AXIAL.position_key == "z_mm"
    assert Plane.CORONAL.position_key == "y_mm" and Plane.CORONAL.crop_keys == ("x", "z")
    assert Plane.SAGITTAL.position_key == "x_mm" and Plane.SAGITTAL.crop_keys == ("y", "z")


def test_index_of_the_committed_data() -> None:
    cases = index(ROOT / "data")
    assert cases.cases == ("A", "B", "C") and cases.controls == ("control",)
    assert cases.control.role is Role.CONTROL
    assert cases["C"].studies.spect == (ROOT / "data/C/spect/spect.dcm").resolve()
    assert [p.name for p in cases.files] == ["case.yaml"] * 4


def test_index_rejects_a_case_id_that_is_not_its_folder(tmp_path: Path) -> None:
    (tmp_path / "X").mkdir()
    (tmp_path / "X" / "case.yaml").write_text(case_yaml("Y"))
    with pytest.raises(CaseFileError, match="differs from its folder 'X'") as info:
        index(tmp_path)
    assert info.value.entry == "case"
    with pytest.raises(CaseFileError, match="no case 'Q'"):
        index(tmp_path / "nothing")["Q"]


def test_committed_schema_is_generated_from_the_model() -> None:
    assert (ROOT / "docs" / "case.schema.json").read_text() == dumps()


def test_committed_case_files_match_the_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    schema = json.loads(dumps())
    validator = jsonschema.Draft202012Validator(schema)
    for path in sorted((ROOT / "data").glob("*/case.yaml")):
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert not errors, (path, errors[0].message)
    bad = yaml.safe_load((ROOT / "data/A/case.yaml").read_text())
    bad["panels"]["A2"]["window"] = "purple"
    assert list(validator.iter_errors(bad))


def test_each_study_is_loaded_once_for_panels_and_measurements(monkeypatch) -> None:
    """What case.ipynb does: panels, measurements and the ROI overlay share one read of
    each study (a counting wrapper around the real loader)."""
    import casereport.io as cio
    from casereport import analysis
    from casereport.case import load_study, studies
    from casereport.figure import case_panel_figure

    calls: list[str] = []
    real = cio.load

    def counting(path, **kw):  # type: ignore[no-untyped-def]
        calls.append(str(Path(path).resolve()))
        return real(path, **kw)

    monkeypatch.setattr(cio, "load", counting)
    monkeypatch.setattr(studies, "_CACHE", {})
    cases = index(ROOT / "data")
    spec = cases.checked("A", ct_window="mediastinal")
    case_panel_figure(spec)
    analysis.analyse_case(spec, cases.control)
    load_study(spec.study("whole_body"), "NM", spec.studies.source("whole_body"))
    assert len(calls) == len(set(calls)) == 5, calls  # A: spot, CT, whole body; control: 2


def test_a_study_is_read_again_when_a_file_below_its_folder_changes(
    monkeypatch, tmp_path: Path
) -> None:
    """The in-process study cache is keyed by the stamp of every file the reader lists,
    so a file rewritten in a nested folder (which leaves the folders' own times as they
    were) is read again."""
    import os
    import shutil

    import casereport.io as cio
    from casereport.case import load_study, studies

    calls: list[str] = []
    real = cio.load

    def counting(path, **kw):  # type: ignore[no-untyped-def]
        calls.append(str(path))
        return real(path, **kw)

    monkeypatch.setattr(cio, "load", counting)
    monkeypatch.setattr(studies, "_CACHE", {})
    study = tmp_path / "wb"
    (study / "series").mkdir(parents=True)
    dcm = study / "series" / "wb.dcm"
    shutil.copyfile(ROOT / "data" / "A" / "wb" / "wb.dcm", dcm)
    load_study(study, "NM")
    load_study(study, "NM")
    assert len(calls) == 1
    folders = [(f, f.stat().st_mtime_ns) for f in (study, study / "series")]
    dcm.write_bytes(dcm.read_bytes())  # in place: same inode, same size
    st = dcm.stat()
    os.utime(dcm, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert [(f, f.stat().st_mtime_ns) for f, _ in folders] == folders
    load_study(study, "NM")
    assert len(calls) == 2

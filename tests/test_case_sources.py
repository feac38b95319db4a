"""Case-file keys for scanner exports: one file per view, declared views and pixel spacing,
the series of a folder; they flow from the YAML to the loaded study."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from casereport.analysis import analyse_case
from casereport.case import load_case, studies_for
from casereport.errors import CaseFileError
from casereport.io import CTVolume, PlanarStudy, WholeBody
from tests.support import dicom_factory as f


def _write(folder: Path, panels: dict, studies: dict | None = None, cid: str = "X") -> Path:
    doc = {
        "case": cid,
        "role": "case",
        "patient": {"age": 50, "sex": "F", "history": "test"},
        "panels": panels,
    }
    if studies:
        doc["studies"] = studies
    path = folder / "case.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _panel(kind: str, study: object, **extra: object) -> dict:
    window = {"percentiles": [1, 99]} if kind in ("planar", "wholebody") else "lung"
    return {"kind": kind, "study": study, "window": window, "caption": "", "alt": "x", **extra}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "X"
    for view, seed in (("ant", 1), ("post", 2)):
        f.save(f.sc_nm(f.body_counts(128, 32, seed=seed), key=view), root / "wb" / f"{view}.dcm")
    f.save(f.sc_nm(f.body_counts(128, 32), pixel_spacing=None, key="n"), root / "nospacing.dcm")
    f.save(f.ct_localizer(), root / "ct" / "scout.dcm")
    for number, dz in ((2, 5.0), (3, 2.5)):
        series = f.ct_series(int(20 / dz), dz=dz, key=f"ct{number}", description=f"recon {dz}")
        for ds in series:
            ds.SeriesNumber = number
        f.save_series(series, root / "ct" / f"s{number}")
    return root


def test_one_file_per_view_declared_views_spacing_and_series(folder: Path) -> None:
    path = _write(
        folder,
        {
            "X1": _panel("wholebody", {"ANT": "wb/ant.dcm", "POST": "wb/post.dcm"}),
            "X2": _panel("planar", "nospacing.dcm", views=["POST"]),
            "X3": _panel("ct", {"path": "ct", "series": {"number": 3}}, z_mm=-45),
        },
        studies={"whole_body": {"path": "wb/ant.dcm", "views": ["ANT"]}},
    )
    # X2's file records no spacing: declared in a detailed study mapping
    doc = yaml.safe_load(path.read_text())
    doc["panels"]["X2"]["study"] = {"path": "nospacing.dcm", "spacing_mm": [3.0, 3.0]}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    spec = load_case(path)  # every image check passes
    wb, _ = studies_for(spec, spec.panel("X1"))
    assert isinstance(wb, WholeBody) and [v.view for v in wb.views] == ["ANT", "POST"]
    assert wb.anterior is not None and wb.anterior.view_source == "case file"
    spot, _ = studies_for(spec, spec.panel("X2"))
    assert isinstance(spot, PlanarStudy | WholeBody)
    (v,) = spot.views
    assert (v.view, v.pixel_spacing_mm, v.spacing_source) == ("POST", (3.0, 3.0), "case file")
    ct, _ = studies_for(spec, spec.panel("X3"))
    assert isinstance(ct, CTVolume) and ct.shape[0] == 8
    assert spec.studies.source("whole_body").views == ("ANT",)


def test_measurements_use_the_declared_single_view(folder: Path, tmp_path: Path) -> None:
    studies = {"whole_body": {"path": "wb/ant.dcm", "views": ["ANT"]}}
    case = load_case(_write(folder, {}, studies))
    ctrl_dir = tmp_path / "control"
    f.save(f.sc_nm(f.body_counts(128, 32, seed=9), key="c"), ctrl_dir / "wb.dcm")
    doc = {"whole_body": {"path": "wb.dcm", "views": ["ANT"]}}
    control = load_case(_write(ctrl_dir, {}, doc, cid="control"))
    result = analyse_case(case, control)
    assert result.sources["whole_body"]
    assert result.not_measured["lesions: thoracic spine"] == (
        "the case's whole-body study has no POST view (only ANT)"
    )
    assert result.measurement("lung / soft tissue").view == "ANT"


@pytest.mark.parametrize(
    ("study", "entry", "message"),
    [
        ({"path": "ct", "series": {}}, "panels.X1.study.series", "give uid, number"),
        ({"path": "ct", "serie": {"number": 2}}, "panels.X1.study.serie", "unknown key"),
        ({"path": "ct", "series": {"number": "2"}}, "panels.X1.study.series.number", "integer"),
        ({"ANT": "missing.dcm"}, "panels.X1.study.ANT", "does not exist"),
    ],
)
def test_bad_study_values_name_the_entry(
    folder: Path, study: object, entry: str, message: str
) -> None:
    path = _write(folder, {"X1": _panel("ct", study, z_mm=-45)})
    with pytest.raises(CaseFileError, match=message) as info:
        load_case(path)
    assert info.value.entry == entry


def test_ambiguous_ct_folder_lists_the_series(folder: Path) -> None:
    path = _write(folder, {"X1": _panel("ct", "ct", z_mm=-45)})
    with pytest.raises(CaseFileError, match=r"2 series found.*recon 5\.0.*|2 series found.*recon"):
        load_case(path)


def test_article_note_names_what_was_not_measured() -> None:
    from casereport.report import not_measured_note

    why = "the case's whole-body study has no POST view (only ANT)"
    results = {
        "A": {"not_measured": {"SPECT lung / vertebra": "no SPECT study for the case"}},
        "C": {"not_measured": {"lesions: L1/L2": why, "lesions: thoracic spine": why}},
    }
    note = not_measured_note(results)
    assert note.startswith('<p class="note">Not measured')
    assert "case C: lesions: L1/L2, lesions: thoracic spine (the case&#x27;s whole-body" in note
    assert "case A" not in note  # Table 1 already shows a missing SPECT as n/a
    assert not_measured_note({"A": results["A"]}) == ""

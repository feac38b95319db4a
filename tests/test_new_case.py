"""``python -m casereport new-case``: a case file drafted from a folder of exports."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
import yaml

from casereport.__main__ import main
from casereport.case import load_case
from casereport.deid.deidentify import deidentify_tree
from casereport.deid.gate import case_text_findings
from tests.support import dicom_factory as f


def _exports(root: Path) -> Path:
    """Vendor-shaped exports: single-view SC whole-body (JPEG 2000, no view recorded), two
    static SC views one file each, a CT folder with a localizer and two reconstructions,
    and a SPECT sharing the CT's frame of reference."""
    f.save(f.sc_nm(f.body_counts(128, 32), key="wb"), root / "wb" / "WB1.dcm", "j2k")
    for k in range(2):
        counts = f.planar_counts(1, 32, 32, seed=k)[0]
        ds = f.sc_nm(counts, whole_body=False, description="Chest static", key=f"spot{k}")
        f.save(ds, root / "spot" / f"S{k}.dcm", "rle")
    f.save(f.ct_localizer(), root / "ct" / "scout.dcm")
    for number, dz in ((2, 5.0), (3, 2.5)):
        series = f.ct_series(int(20 / dz), dz=dz, key=f"ct{number}")
        for ds in series:
            ds.SeriesNumber = number
        f.save_series(series, root / "ct" / f"s{number}")
    f.save(f.nm_spect(ipp=(-20.0, -25.0, -50.0), shape=(6, 8, 8)), root / "spect" / "sp.dcm")
    return root


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("exports")
    raw = _exports(root / "raw")
    out = root / "clean"
    deidentify_tree(raw, out)
    return out


def test_draft_has_one_panel_per_series_and_validates(
    clean: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main(["new-case", str(clean), "--id", "D", "--data", str(data)]) == 0
    case_file = data / "D" / "case.yaml"
    assert capsys.readouterr().out.splitlines()[0] == str(case_file)
    text = case_file.read_text()
    doc = yaml.safe_load(text)
    panels = doc["panels"]
    kinds = [p["kind"] for p in panels.values()]
    assert kinds == ["wholebody", "planar", "planar", "ct", "fusion", "ct"]
    wb = panels["D1"]
    assert wb["views"] == ["ANT"] and wb["caption"] == ""
    assert "# CHECK: the file does not record its view" in text
    assert doc["studies"]["whole_body"] == {"path": wb["study"], "views": ["ANT"]}
    cts = [p for p in panels.values() if p["kind"] == "ct"]
    assert all(-50 <= p["z_mm"] <= -30 for p in cts)  # slices span z -50 .. -32.5 mm
    fusion = panels["D5"]
    assert fusion["overlay"] == "spect/sp.dcm" and fusion["study"] == cts[0]["study"]
    assert sorted(p.name for p in (data / "D").iterdir()) == [
        "case.yaml",
        "ct",
        "ct2",
        "spect",
        "spot",
        "spot2",
        "wb",
    ]
    assert not list((data / "D").rglob("scout.dcm"))  # the localizer is not a panel
    spec = load_case(case_file)  # schema and every image check
    assert spec.panel("D1").views == ("ANT",)
    # the article's sentence about the drafted patient reads before the history is filled in
    from casereport.report import case_paragraph

    assert " with an unstated history." in case_paragraph(spec, {})
    assert case_text_findings(data) == {}  # and the draft passes the gate's text check
    # no identifier of the exports reaches the YAML
    ds = pydicom.dcmread(next(clean.rglob("*.dcm")))
    for value in (str(ds.PatientName), str(ds.PatientID), str(ds.StudyInstanceUID)):
        if value:
            assert value not in text


def test_identifiable_exports_are_refused_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tmp_path / "raw"
    f.save(f.sc_nm(f.body_counts(64, 16), patient_name="DOE^JANE"), raw / "wb.dcm")
    data = tmp_path / "data"
    assert main(["new-case", str(raw), "--id", "D", "--data", str(data)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {raw}: 1 file(s) carry identifiable data")
    assert "casereport deidentify" in line and "DOE" not in line
    assert not (data / "D").exists()


def test_exports_of_two_patients_are_refused_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder holding a second patient's CT beside the bone scan (both de-identified,
    so each patient has a pseudonym of their own) is not drafted into one case; the error
    names a file of each patient, never their identifiers."""
    raw = tmp_path / "raw"
    f.save(f.sc_nm(f.body_counts(64, 16), key="wb"), raw / "wb" / "WB1.dcm")
    other = f.ct_series(4, key="ct")
    for ds in other:
        ds.PatientID, ds.PatientName = "PID-OTHER", "OTHER^PATIENT"
    f.save_series(other, raw / "ct")
    clean = tmp_path / "clean"
    deidentify_tree(raw, clean)
    ids = {pydicom.dcmread(p).PatientID for p in clean.rglob("*.dcm")}
    assert len(ids) == 2
    data = tmp_path / "data"
    assert main(["new-case", str(clean), "--id", "D", "--data", str(data)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {clean}: the exports hold 2 patients (a file of each: ct/")
    assert "wb/WB1.dcm" in line and "--same-patient" in line and not any(i in line for i in ids)
    assert not (data / "D").exists()
    # one person with IDs from two systems: the author says so
    assert main(["new-case", str(clean), "--id", "D", "--data", str(data), "--same-patient"]) == 0
    assert (data / "D" / "case.yaml").is_file()


def test_age_the_exports_do_not_give_is_left_unstated(tmp_path: Path) -> None:
    """No PatientAge in the exports (pydicom's JPEG2000.dcm has none): the draft says
    ``age: null`` with a TODO, validates, and the article reads "of unstated age" rather
    than inventing an age."""
    raw = tmp_path / "raw"
    ds = f.sc_nm(f.body_counts(64, 16), key="wb")
    if "PatientAge" in ds:
        del ds.PatientAge
    f.save(ds, raw / "wb" / "WB1.dcm")
    clean = tmp_path / "clean"
    deidentify_tree(raw, clean)
    data = tmp_path / "data"
    assert main(["new-case", str(clean), "--id", "D", "--data", str(data)]) == 0
    text = (data / "D" / "case.yaml").read_text()
    assert "  age: null  # TODO: age in years (null: not stated)" in text
    spec = load_case(data / "D" / "case.yaml")
    assert spec.patient.age_years is None
    from casereport.report import case_paragraph

    sex = {"F": "woman", "M": "man"}[spec.patient.sex]
    assert f"<p>A {sex} of unstated age with an unstated history." in case_paragraph(spec, {})


def test_existing_case_folder_is_refused(clean: Path, tmp_path: Path) -> None:
    (tmp_path / "data" / "D").mkdir(parents=True)
    assert main(["new-case", str(clean), "--id", "D", "--data", str(tmp_path / "data")]) == 2


def test_dicomdir_of_exports(clean: Path, tmp_path: Path) -> None:
    from pydicom.fileset import FileSet

    fs = FileSet()
    for p in sorted(clean.rglob("*.dcm")):
        ds = pydicom.dcmread(p)
        ds.StudyID = "1"  # a DICOMDIR study record needs one (de-identification emptied it)
        fs.add(ds)
    media = tmp_path / "media"
    fs.write(media)
    data = tmp_path / "data"
    assert main(["new-case", str(media / "DICOMDIR"), "--id", "E", "--data", str(data)]) == 0
    doc = yaml.safe_load((data / "E" / "case.yaml").read_text())
    assert [p["kind"] for p in doc["panels"].values()].count("ct") == 2
    load_case(data / "E" / "case.yaml")

"""De-identification gate and ``python -m casereport deidentify`` on DICOM made in the tests."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from casereport.deid import (
    check_dataset,
    check_file,
    check_tree,
    deidentify_tree,
    require_deidentified,
)
from casereport.deid.deidentify import DeidParams, date_shift_days
from casereport.deid.profile import RULES
from casereport.deid.text import uid_date_problem
from casereport.errors import PhiError, ReviewError
from tests.support import dicom_factory as fac

ROOT = Path(__file__).resolve().parents[1]


def _declared(ds: Dataset) -> Dataset:
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "fictitious test data"
    return ds


def _identifiable(ds: Dataset, *, name: str = "Doe^Jane", pid: str = "MRN-0042") -> Dataset:
    """Add what a scanner export of a real patient typically carries."""
    ds.PatientName = name
    ds.PatientID = pid
    ds.PatientBirthDate = "19600214"
    ds.PatientAddress = "1 Main Street, Springfield"
    ds.InstitutionName = "General Hospital"
    ds.ImageComments = "follow-up, patient anxious"
    ds.OperatorsName = "Tech^Tom"
    ds.StudyDate = "20230315"
    ds.AcquisitionDateTime = "20230315101500.000000"
    del ds.PatientIdentityRemoved
    block = ds.private_block(0x0029, "VENDOR CSA HEADER", create=True)
    block.add_new(0x10, "LO", "scanner internals")
    return ds


def _save(ds: Dataset, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


# --------------------------------------------------------------------------- profile


def test_profile_keywords_are_dicom_keywords() -> None:
    assert all(tag_for_keyword(r.keyword) is not None for r in RULES)
    assert {r.action for r in RULES} <= {"X", "Z", "D", "K", "C"}


# --------------------------------------------------------------------------- gate


def test_declared_simulated_file_passes(tmp_path: Path) -> None:
    path = _save(_declared(fac.nm_wholebody()), tmp_path / "wb.dcm")
    assert check_file(path) == []


def test_synth_style_dataset_passes() -> None:
    dicomio = pytest.importorskip("casereport.synth.dicomio")
    subjects = pytest.importorskip("casereport.synth.subjects")
    for spec in subjects.resolve_cases(None):
        ds = dicomio.base_dataset(dicomio.Ids(1, spec), "NM", 1, 1, fac.NM_IMAGE, "whole body", "v")
        assert check_dataset(ds) == [], spec.key


def test_simulator_uids_carry_no_date() -> None:
    """With the default seed (a date, 20190401) the UIDs are hashes under the project root:
    deterministic, distinct, and no component reads as a date or date-time."""
    dicomio = pytest.importorskip("casereport.synth.dicomio")
    subjects = pytest.importorskip("casereport.synth.subjects")
    output = pytest.importorskip("casereport.synth.output")
    seen: set[str] = set()
    total = 0
    for spec in subjects.resolve_cases(None):
        ids = dicomio.Ids(output.DEFAULT_SEED, spec)
        uids = [ids.study, ids.frame_of_reference, ids.series(1), ids.instance(1, 1)]
        uids += [ids.instance(3, k) for k in range(1, 200)]
        assert all(u.startswith(dicomio.UID_ROOT + ".") and len(u) <= 64 for u in uids)
        assert all(uid_date_problem(u) is None for u in uids), spec.key
        assert str(output.DEFAULT_SEED) not in "".join(uids)
        seen.update(uids)
        total += len(uids)
        assert dicomio.Ids(output.DEFAULT_SEED, spec).study == ids.study  # deterministic
        ds = dicomio.base_dataset(ids, "NM", 1, 1, fac.NM_IMAGE, "whole body", "v")
        assert check_dataset(ds) == [], spec.key
    assert len(seen) == total  # all distinct


@pytest.mark.skipif(not (ROOT / "data" / "MANIFEST.json").is_file(), reason="data/ not generated")
def test_committed_simulated_data_pass_the_gate() -> None:
    assert check_tree(ROOT / "data") == {}


def test_identifiable_file_lists_offending_tags(tmp_path: Path) -> None:
    path = _save(_identifiable(fac.nm_wholebody()), tmp_path / "wb.dcm")
    found = check_file(path)
    for kw in (
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientAddress",
        "InstitutionName",
        "ImageComments",
        "OperatorsName",
        "StudyDate",
        "AcquisitionDateTime",
        "private (0029,xxxx)",
    ):
        assert kw in found, kw


def test_dates_need_the_deidentification_declaration() -> None:
    ds = fac.nm_wholebody()  # PatientIdentityRemoved YES but no method recorded
    assert {"StudyDate", "StudyTime"} <= set(check_dataset(ds))
    ds.DeidentificationMethod = "dates shifted"
    assert check_dataset(ds) == []
    ds.PatientBirthDate = "19500101"  # never allowed, even shifted
    assert check_dataset(ds) == ["PatientBirthDate"]


@pytest.mark.parametrize(
    ("attribute", "value", "offending"),
    [
        ("BurnedInAnnotation", "YES", "BurnedInAnnotation"),
        ("BurnedInAnnotation", "NO", None),
        ("PatientAge", "093Y", "PatientAge"),
        ("PatientAge", "089Y", None),
        ("PatientName", "ANON^1A2B", None),
        ("PatientName", "SIMULATED^CASE_A", None),
        ("PatientName", "Simulated^Smith", "PatientName"),
        ("ReferringPhysicianName", "House^Gregory", "ReferringPhysicianName"),
        ("ReferringPhysicianName", "", None),
        ("StudyComments", "called the family", "StudyComments"),
        ("InstitutionAddress", "Hospital Road 5", "InstitutionAddress"),
    ],
)
def test_single_attributes(attribute: str, value: str, offending: str | None) -> None:
    ds = _declared(fac.nm_wholebody())
    setattr(ds, attribute, value)
    found = check_dataset(ds)
    if offending is None:
        assert found == []
    else:
        assert found[0] == offending or offending in found


def test_nested_identifiers_and_descriptors_are_found() -> None:
    ds = _declared(fac.nm_wholebody())
    item = Dataset()
    item.InstitutionName = "Mercy Clinic"
    item.PersonName = "Nurse^Ann"
    ds.DetectorInformationSequence[0].ContributingEquipmentSequence = Sequence([item])
    ds.PatientName = "Smith^Johnathan"
    ds.SeriesDescription = "WB SMITH follow-up"
    found = check_dataset(ds)
    assert {"InstitutionName", "PersonName", "PatientName", "SeriesDescription"} <= set(found)


def test_check_tree_and_require_deidentified(tmp_path: Path) -> None:
    good = _save(_declared(fac.nm_wholebody()), tmp_path / "in" / "good" / "wb.dcm")
    bad = _save(_identifiable(fac.nm_planar()), tmp_path / "in" / "bad" / "IM0001")  # no suffix
    (tmp_path / "in" / "case.yaml").write_text("case: X\n")
    tree = check_tree(tmp_path / "in")
    assert list(tree) == [bad]
    assert require_deidentified([good]) == 1
    with pytest.raises(PhiError, match=r"bad/IM0001: .*PatientName.*private \(0029,xxxx\)") as err:
        require_deidentified([tmp_path / "in"])
    assert err.value.path == bad


def test_files_sharing_elements_are_judged_each_in_its_own_context(tmp_path: Path) -> None:
    """check_tree remembers what each raw element was found to be across files: the same
    bytes under another declaration or patient name are judged again."""
    declared = _declared(fac.nm_wholebody())
    declared.StudyDate = "20230315"
    undeclared = fac.nm_wholebody()
    undeclared.StudyDate = "20230315"  # the same bytes, no method recorded: a finding
    named = _declared(fac.nm_wholebody())
    named.PatientName = "Doe^Jane"
    named.SeriesDescription = "WB DOE"  # the patient's name in a descriptor
    files = [
        _save(declared, tmp_path / "in" / "a" / "wb.dcm"),
        _save(undeclared, tmp_path / "in" / "b" / "wb.dcm"),
        _save(named, tmp_path / "in" / "c" / "wb.dcm"),
        *(_save(ds, tmp_path / "in" / "ct" / f"{k}.dcm") for k, ds in enumerate(fac.ct_series(3))),
        *(f for group in _two_patients(tmp_path / "in" / "p").values() for f in group),
    ]
    alone = {f: tags for f in files if (tags := check_file(f))}
    assert check_tree(tmp_path / "in") == alone
    assert "StudyDate" in alone[files[1]] and files[0] not in alone
    assert "SeriesDescription" in alone[files[2]]


# --------------------------------------------------------------------------- deidentify


def _two_patients(root: Path) -> dict[str, list[Path]]:
    """Patient 1: 3 CT slices referencing each other; patient 2: a whole-body scan."""
    out: dict[str, list[Path]] = {"p1": [], "p2": []}
    slices = fac.ct_series(3)
    for k, ds in enumerate(slices):
        _identifiable(ds)
        ref = Dataset()
        ref.ReferencedSOPClassUID = ds.SOPClassUID
        ref.ReferencedSOPInstanceUID = slices[0].SOPInstanceUID
        ds.ReferencedImageSequence = Sequence([ref])
        ds.SeriesDescription = "CT chest DOE"
        out["p1"].append(_save(ds, root / "p1" / f"CT{k}.dcm"))
    wb = _identifiable(fac.nm_wholebody(), name="Roe^Richard", pid="MRN-0777")
    wb.StudyDate = "20230315"
    out["p2"].append(_save(wb, root / "p2" / "wb.dcm"))
    return out


def test_deidentify_output_passes_gate_and_is_consistent(tmp_path: Path) -> None:
    files = _two_patients(tmp_path / "in")
    before = {p: pydicom.dcmread(p) for ps in files.values() for p in ps}
    assert check_tree(tmp_path / "in")  # identifiable before
    params = DeidParams(salt="test-secret")
    result = deidentify_tree(tmp_path / "in", tmp_path / "out", params)
    assert result.patients == 2 and len(result.files) == 4
    assert check_tree(tmp_path / "out") == {}

    after = {p: pydicom.dcmread(tmp_path / "out" / p.relative_to(tmp_path / "in")) for p in before}
    p1 = [after[p] for p in files["p1"]]
    # names, IDs, private tags, institution, comments
    for ds in after.values():
        assert str(ds.PatientName).startswith("ANON^") and ds.PatientID.startswith("ANON-")
        assert (
            ds.PatientBirthDate == "" and "InstitutionName" not in ds and "ImageComments" not in ds
        )
        assert not any(elem.tag.is_private for elem in ds.iterall())
        assert (
            ds.PatientIdentityRemoved == "YES"
            and ds.LongitudinalTemporalInformationModified == "MODIFIED"
        )
    assert len({d.PatientID for d in p1}) == 1
    assert p1[0].PatientID != after[files["p2"][0]].PatientID
    assert p1[0].SeriesDescription == "CT chest"
    # UIDs: new, consistent across files, references follow
    old_series = before[files["p1"][0]].SeriesInstanceUID
    assert len({d.SeriesInstanceUID for d in p1}) == 1 and p1[0].SeriesInstanceUID != old_series
    assert all(
        d.ReferencedImageSequence[0].ReferencedSOPInstanceUID == p1[0].SOPInstanceUID for d in p1
    )
    assert all(d.file_meta.MediaStorageSOPInstanceUID == d.SOPInstanceUID for d in p1)
    assert p1[0].SOPClassUID == before[files["p1"][0]].SOPClassUID  # standard UIDs kept

    # dates: one shift per patient, whole days, time of day kept
    def shift(p: Path) -> int:
        old = dt.datetime.strptime(before[p].StudyDate, "%Y%m%d")
        return (dt.datetime.strptime(after[p].StudyDate, "%Y%m%d") - old).days

    s1 = {shift(p) for p in files["p1"]}
    s2 = shift(files["p2"][0])
    assert len(s1) == 1 and -4015 < s1.pop() <= -365 and s2 <= -365
    assert shift(files["p1"][0]) != s2
    assert p1[0].AcquisitionDateTime[8:] == "101500.000000"
    assert p1[0].AcquisitionDateTime[:8] == p1[0].StudyDate
    assert date_shift_days("PatientID=MRN-0042", "test-secret") == shift(files["p1"][0])
    # pixels untouched
    for p in before:
        np.testing.assert_array_equal(before[p].pixel_array, after[p].pixel_array)


def test_deidentify_replaces_uids_holding_a_date_consistently(tmp_path: Path) -> None:
    """UIDs with a date component (refused by the gate) get one new UID each: the same
    input UID gives the same output UID in every file, and references follow."""
    study = "1.2.826.0.1.3680043.8.498.7.20190401.1.1"
    series = "1.2.826.0.1.3680043.8.498.7.20190401.1.3.3"
    slices = fac.ct_series(3)
    for k, ds in enumerate(slices):
        _declared(ds)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.7.20190401.1.4.3.{k + 1}"
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    for ds in slices:
        ref = Dataset()
        ref.ReferencedSOPClassUID = ds.SOPClassUID
        ref.ReferencedSOPInstanceUID = slices[0].SOPInstanceUID
        ds.ReferencedImageSequence = Sequence([ref])
        _save(ds, tmp_path / "in" / f"CT{ds.InstanceNumber}.dcm")
    found = check_tree(tmp_path / "in")
    assert len(found) == 3 and all(
        "StudyInstanceUID (UID holds a date)" in t for t in found.values()
    )
    deidentify_tree(tmp_path / "in", tmp_path / "out", DeidParams(salt="uid-test"))
    assert check_tree(tmp_path / "out") == {}
    out = [pydicom.dcmread(p) for p in sorted((tmp_path / "out").glob("*.dcm"))]
    assert len({d.StudyInstanceUID for d in out}) == 1 and out[0].StudyInstanceUID != study
    assert len({d.SeriesInstanceUID for d in out}) == 1 and out[0].SeriesInstanceUID != series
    assert len({d.SOPInstanceUID for d in out}) == 3
    first = next(d for d in out if d.InstanceNumber == slices[0].InstanceNumber)
    assert all(
        d.ReferencedImageSequence[0].ReferencedSOPInstanceUID == first.SOPInstanceUID for d in out
    )
    assert all(d.file_meta.MediaStorageSOPInstanceUID == d.SOPInstanceUID for d in out)
    uids = [u for d in out for u in (d.StudyInstanceUID, d.SeriesInstanceUID, d.SOPInstanceUID)]
    assert not any(c == "20190401" for u in uids for c in u.split("."))
    # a second run with the same salt gives the same UIDs
    deidentify_tree(tmp_path / "in", tmp_path / "again", DeidParams(salt="uid-test"))
    again = pydicom.dcmread(tmp_path / "again" / "CT1.dcm")
    assert again.StudyInstanceUID == out[0].StudyInstanceUID


def test_deidentify_is_deterministic_for_one_salt(tmp_path: Path) -> None:
    _two_patients(tmp_path / "in")
    deidentify_tree(tmp_path / "in", tmp_path / "a", DeidParams(salt="k"))
    deidentify_tree(tmp_path / "in", tmp_path / "b", DeidParams(salt="k"))
    deidentify_tree(tmp_path / "in", tmp_path / "c", DeidParams(salt="other"))
    a, b, c = ((tmp_path / d / "p2" / "wb.dcm").read_bytes() for d in "abc")
    assert a == b and a != c


def test_burned_in_annotation_is_refused_and_nothing_written(tmp_path: Path) -> None:
    ds = _identifiable(fac.nm_wholebody())
    ds.BurnedInAnnotation = "YES"
    _save(ds, tmp_path / "in" / "wb.dcm")
    with pytest.raises(PhiError, match="BurnedInAnnotation"):
        deidentify_tree(tmp_path / "in", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in"]


def test_cli_deidentify_and_existing_output(tmp_path: Path) -> None:
    _two_patients(tmp_path / "in")
    cmd = [
        sys.executable,
        "-m",
        "casereport",
        "deidentify",
        str(tmp_path / "in"),
        str(tmp_path / "out"),
        "--salt",
        "cli-secret",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "wrote 4 de-identified file(s) for 2 patient(s)" in done.stdout
    assert check_tree(tmp_path / "out") == {}
    before = sorted(p.read_bytes() for p in (tmp_path / "out").rglob("*.dcm"))
    again = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert again.returncode == 2
    assert (
        "output exists and is not an empty folder" in again.stderr
        and "Traceback" not in again.stderr
    )
    assert sorted(p.read_bytes() for p in (tmp_path / "out").rglob("*.dcm")) == before


def test_missing_input_is_a_review_error(tmp_path: Path) -> None:
    with pytest.raises(ReviewError, match="does not exist"):
        deidentify_tree(tmp_path / "nope", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReviewError, match="no DICOM files"):
        deidentify_tree(tmp_path / "empty", tmp_path / "out")


def test_cached_gate_rechecks_changed_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from casereport.deid.gate import PHI_BANNER, render_gate

    path = _save(_declared(fac.nm_wholebody()), tmp_path / "data" / "A" / "wb.dcm")
    cache = tmp_path / "build" / ".deid-gate.json"
    assert render_gate(tmp_path / "data", cache_file=cache) == ""
    assert cache.is_file()
    assert render_gate(tmp_path / "data", cache_file=cache) == ""  # from the cache
    _save(_identifiable(fac.nm_wholebody()), path)  # same path, new content
    with pytest.raises(PhiError, match="wb.dcm: .*PatientName"):
        render_gate(tmp_path / "data", cache_file=cache)
    assert "python -m casereport deidentify" in capsys.readouterr().err
    assert render_gate(tmp_path / "data", allow_phi=True, cache_file=cache) == PHI_BANNER
    assert "warning: --allow-phi" in capsys.readouterr().err

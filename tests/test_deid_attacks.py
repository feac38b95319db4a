"""The de-identification gate against the ways it was bypassed, on files made in the tests.

Every identifier here is invented (``Doe^Jane``, ``MRN 00123456``); the point of each test
is that the gate refuses the file, names the attribute without echoing its value, and that
``deidentify`` turns the same file into one that passes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from casereport.deid import check_dataset, check_file, check_tree, deidentify_tree
from casereport.deid.deidentify import DeidParams, DeidRun
from casereport.deid.gate import render_gate, require_deidentified
from casereport.deid.text import (
    clean_text,
    is_date_component,
    text_problems,
    uid_date_problem,
)
from casereport.errors import NotDicomError, PhiError
from tests.support import dicom_factory as fac
from tests.support.nbfactory import case_yaml

ROOT = Path(__file__).resolve().parents[1]


def _clean(ds: Dataset) -> Dataset:
    """A file that passes: pseudonym name, declared de-identified (dates fictitious)."""
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "fictitious test data"
    return ds


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "casereport", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, done.stderr
    return lines[0]


# --------------------------------------------------------------------------- free text

#: (attribute, invented identifying value, what the gate must say)
FREE_TEXT_ATTACKS = [
    ("SeriesDescription", "WB Jane Doe", "possibly a name"),
    ("StudyDescription", "Bone scan DOE^JANE", "possibly a name"),
    ("SeriesDescription", "WB MRN 00123456", "ID-like number"),
    ("StudyDescription", "bone scan 15/03/2023", "date"),
    ("SeriesDescription", "chest 20230315", "date"),
    ("ProtocolName", "Smith chest", "possibly a name"),
    ("ImageID", "tel 555-123-4567", "ID-like number"),
]


@pytest.mark.parametrize(("attribute", "value", "reason"), FREE_TEXT_ATTACKS)
def test_free_text_identifiers_are_refused(attribute: str, value: str, reason: str) -> None:
    ds = _clean(fac.nm_wholebody())
    assert check_dataset(ds) == []
    setattr(ds, attribute, value)
    found = check_dataset(ds)
    assert len(found) == 1 and found[0].startswith(f"{attribute} (") and reason in found[0]
    assert not any(word in found[0] for word in value.split() if len(word) > 3)  # no echo


def test_collimator_name_in_a_sequence_is_refused() -> None:
    ds = _clean(fac.nm_wholebody())
    ds.DetectorInformationSequence[0].CollimatorGridName = "LEHR"
    assert check_dataset(ds) == []
    ds.DetectorInformationSequence[1].CollimatorGridName = "LEHR Smith"
    assert check_dataset(ds) == ["CollimatorGridName (word not in the vocabulary, possibly a name)"]


def test_vocabulary_words_numbers_and_codes_pass() -> None:
    for text in (
        "SIMULATED SPECT chest OSEM 4i10s AC SC",
        "WholeBody ANT/POST Tc-99m MDP",
        "TC99M 20%",
        "Thorax 1.0 B70f",
    ):
        assert text_problems(text) == [], text
    ds = _clean(fac.nm_wholebody())
    ds.DetectorInformationSequence[0].ViewCodeSequence[0].CodeValue = "399321004"
    assert check_dataset(ds) == []  # code values are numbers by design


def test_clean_text_removes_exactly_what_is_reported() -> None:
    for _attr, value, _reason in FREE_TEXT_ATTACKS:
        cleaned = clean_text(value)
        assert text_problems(cleaned) == [], (value, cleaned)
    assert clean_text("Smith chest") == "chest"
    assert clean_text("WB MRN 00123456") == "WB"
    assert clean_text("LEHR Smith") == "LEHR"


# --------------------------------------------------------------------------- UIDs


def test_uid_with_an_embedded_date_time_is_refused() -> None:
    ds = _clean(fac.nm_wholebody())
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.2.1125.20230315101500123.1"
    assert check_dataset(ds) == ["SeriesInstanceUID (UID holds a date-time)"]
    ds = _clean(fac.nm_wholebody())
    ds.SOPInstanceUID = "1.3.12.2.1107.5.1.4.30000020230315101500.7"  # inside a short component
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    assert check_dataset(ds) == [
        "SOPInstanceUID (UID holds a date-time)",
        "MediaStorageSOPInstanceUID (UID holds a date-time)",
    ]
    # generated random numbers pass, and so do deidentify's replacements
    run = DeidRun(DeidParams(salt="s"))
    assert not any(uid_date_problem(run.uid(f"1.2.3.{k}")) for k in range(300))


def test_uid_component_holding_only_a_date_is_refused(tmp_path: Path) -> None:
    """A component that is a calendar date (the study date, say) leaks it: refused in the
    data set and in the file meta, one line naming the file and each tag."""
    ds = _clean(fac.nm_wholebody())
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.7.20190401.1.1"
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.7.20190401.1.4.1.1"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.7.201904011.2"  # 9 digits: no date
    path = fac.save(ds, tmp_path / "wb.dcm")
    assert check_file(path) == [
        "SOPInstanceUID (UID holds a date)",
        "StudyInstanceUID (UID holds a date)",
        "MediaStorageSOPInstanceUID (UID holds a date)",
    ]
    with pytest.raises(PhiError) as err:
        require_deidentified([tmp_path])
    message = str(err.value)
    assert len(message.splitlines()) == 1
    assert f"{path}: SOPInstanceUID (UID holds a date), StudyInstanceUID" in message


@pytest.mark.parametrize(
    "component, is_date",
    [
        ("20190401", True),
        ("19000101", True),
        ("21001231", True),
        ("20240229", True),  # leap day
        ("20230229", False),  # no such day
        ("20190230", False),
        ("20191301", False),  # month 13
        ("18991231", False),  # before 1900
        ("21010101", False),  # after 2100
        ("2019041", False),
        ("201904011", False),
        ("１９９０0101", False),  # not ASCII digits
    ],
)
def test_date_component_is_a_plausible_calendar_day(component: str, is_date: bool) -> None:
    assert is_date_component(component) is is_date
    assert (uid_date_problem(f"1.2.3.{component}.4") == "date") is is_date


# --------------------------------------------------------------------------- files


def test_bare_dataset_without_suffix_or_preamble_is_gated(tmp_path: Path) -> None:
    data = tmp_path / "data"
    fac.save(_clean(fac.nm_wholebody()), data / "A" / "wb.dcm")
    bare = fac.save_bare(
        _clean(fac.nm_planar(patient_name="Doe^Jane")), data / "A" / "spot" / "IM1"
    )
    assert bare.read_bytes()[128:132] != b"DICM"
    (data / "A" / "case.yaml").write_text(case_yaml("A"))
    assert list(check_tree(data)) == [bare]
    with pytest.raises(PhiError, match=r"spot/IM1: .*PatientName"):
        render_gate(data)


def test_binary_junk_in_a_study_folder_is_refused_not_skipped(tmp_path: Path) -> None:
    study = tmp_path / "data" / "A" / "ct"
    fac.save_series([_clean(ds) for ds in fac.ct_series(2)], study)
    (study / "junk.bin").write_bytes(bytes(range(256)) * 4)
    (study / "notes.txt").write_text("a text note is not read as DICOM\n")
    with pytest.raises(NotDicomError, match=r"junk.bin: .*cannot check it"):
        check_tree(tmp_path / "data")


def _unknown_vr(path: Path) -> Path:
    """A clean file whose SeriesDescription element is written with the VR ``ZZ``."""
    fac.save(_clean(fac.nm_wholebody()), path)
    raw = path.read_bytes()
    at = raw.index(b"\x08\x00\x3e\x10LO")
    path.write_bytes(raw[: at + 4] + b"ZZ" + raw[at + 6 :])
    return path


def test_unknown_vr_is_one_line_naming_the_tag(tmp_path: Path) -> None:
    path = _unknown_vr(tmp_path / "in" / "wb.dcm")
    with pytest.raises(NotDicomError, match=r"wb.dcm \[\(0008,103E\)\]: .*Unknown Value Rep"):
        check_file(path)
    line = _one_error_line(_cli("deidentify", str(tmp_path / "in"), str(tmp_path / "out")))
    assert "wb.dcm" in line and "(0008,103E)" in line
    assert not (tmp_path / "out").exists()


def test_truncated_input_is_refused_and_nothing_written(tmp_path: Path) -> None:
    path = fac.save(_clean(fac.nm_wholebody()), tmp_path / "in" / "wb.dcm")
    path.write_bytes(path.read_bytes()[:-100])
    line = _one_error_line(_cli("deidentify", str(tmp_path / "in"), str(tmp_path / "out")))
    assert "wb.dcm" in line and "truncated" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_gate_cache_is_keyed_by_content_not_size_and_time(tmp_path: Path) -> None:
    data = tmp_path / "data"
    path = fac.save(_clean(fac.nm_wholebody(description="WB chest Jon")), data / "wb.dcm")
    # "Jon" is not in the vocabulary: make the clean original with a same-length word
    fac.save(_clean(fac.nm_wholebody(description="WB chest ANT")), path)
    cache = tmp_path / "build" / ".deid-gate.json"
    assert render_gate(data, cache_file=cache) == ""
    st = path.stat()
    raw = path.read_bytes()
    edited = raw.replace(b"WB chest ANT", b"WB chest Jon")
    assert len(edited) == len(raw) and edited != raw
    path.write_bytes(edited)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    with pytest.raises(PhiError, match="SeriesDescription"):
        render_gate(data, cache_file=cache)


# --------------------------------------------------------------------------- deidentify


def test_deidentify_cleans_every_attack_and_its_output_passes(tmp_path: Path) -> None:
    src = tmp_path / "in"
    for k, (attribute, value, _reason) in enumerate(FREE_TEXT_ATTACKS):
        ds = _clean(fac.nm_wholebody(key=f"attack{k}"))
        setattr(ds, attribute, value)
        ds.DetectorInformationSequence[0].CollimatorGridName = "LEHR Smith"
        ds.SeriesInstanceUID = f"1.2.826.0.1.3680043.2.1125.2023031510150{k}.1"
        fac.save(ds, src / f"f{k}.dcm")
    fac.save_bare(_clean(fac.nm_planar(patient_name="Doe^Jane")), src / "spot" / "IM1")
    assert len(check_tree(src)) == len(FREE_TEXT_ATTACKS) + 1
    result = deidentify_tree(src, tmp_path / "out", DeidParams(salt="attack-test"))
    assert len(result.files) == len(FREE_TEXT_ATTACKS) + 1
    assert check_tree(tmp_path / "out") == {}
    first = pydicom.dcmread(tmp_path / "out" / "f5.dcm")  # ProtocolName "Smith chest"
    assert first.ProtocolName == "chest"
    assert first.DetectorInformationSequence[0].CollimatorGridName == "LEHR"
    assert uid_date_problem(first.SeriesInstanceUID) is None
    text = b"".join(p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file())
    for leak in (b"Smith", b"DOE", b"Doe", b"00123456", b"2023031510150", b"555-123"):
        assert leak not in text, leak


# --------------------------------------------------------------------------- inspect


def test_inspect_withholds_unchecked_free_text(tmp_path: Path) -> None:
    ds = _clean(fac.nm_wholebody(description="WB Jane Doe"))
    ds.StudyDescription = "bone scan MRN 00123456"
    path = fac.save(ds, tmp_path / "wb.dcm")
    for args in (("inspect", str(path)), ("inspect", "--json", str(path))):
        done = _cli(*args)
        assert done.returncode == 0, done.stderr
        assert "withheld" in done.stdout
        for leak in ("Jane", "Doe", "00123456"):
            assert leak not in done.stdout + done.stderr


# --- the case files' own text -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reasons"),
    [
        ("History of Mrs Doe", ["title and name"]),
        ("seen by Dr. Smith", ["title and name"]),
        ("MRN 00123456", ["ID-like number"]),
        ("hospital number 123 456 78", ["ID-like number"]),
        ("scanned on 15/03/2023", ["date", "ID-like number"]),
        ("born 4 March 1961", ["date"]),
        ("Mr Doe, 2023-03-15, 0012345", ["date", "ID-like number", "title and name"]),
        ("A 53-year-old woman with breast carcinoma (Tc-99m MDP, 740 MBq, L1/L2).", []),
        ("Hypercalcaemia; uptake 2.5-5.4 x normal bone in 2019.", []),
        ("MS and DR are abbreviations, not titles.", []),
    ],
)
def test_case_file_prose_names_dates_and_ids(text: str, reasons: list[str]) -> None:
    from casereport.deid.text import prose_problems

    assert prose_problems(text) == reasons


def _case_with(tmp_path: Path, **texts: str) -> Path:
    data = tmp_path / "data"
    (data / "A").mkdir(parents=True)
    lines = [
        "case: A",
        "role: case",
        f"patient: {{age: 50, sex: F, history: {texts.get('history', 'test')!r}}}",
        f"findings: [{texts.get('finding', 'lung uptake')!r}]",
    ]
    (data / "A" / "case.yaml").write_text("\n".join(lines) + "\n")
    return data


def test_a_named_patient_in_a_case_file_is_refused_by_render_verify_and_bundle(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The author's text goes into the article as it is: a name, a date or an ID number
    there stops the render as identifiable DICOM does (the file and entry named, not the
    text), unless --allow-phi marks a local draft."""
    from casereport.deid.gate import PHI_BANNER, case_text_findings

    clean = _case_with(tmp_path / "clean")
    assert case_text_findings(clean) == {}
    assert render_gate(clean) == ""
    data = _case_with(tmp_path, history="Mrs Doe, MRN 00123456", finding="seen 15/03/2023")
    case_file = data / "A" / "case.yaml"
    expected = [
        "patient.history (ID-like number, title and name)",
        "findings[0] (date, ID-like number)",
    ]
    assert case_text_findings(data) == {case_file.resolve(): expected}
    with pytest.raises(PhiError) as info:
        render_gate(data)
    assert "patient.history" in str(info.value) and "Doe" not in str(info.value)
    err = capsys.readouterr().err
    assert "reword the case file's text" in err and "00123456" not in err
    assert render_gate(data, allow_phi=True) == PHI_BANNER
    with pytest.raises(PhiError, match="findings\\[0\\]"):
        require_deidentified([data], case_files=data)
    assert require_deidentified([data]) == 0  # DICOM only: no file, nothing refused


def test_verify_and_bundle_gate_reads_the_case_files_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The data-folder gate of verify and bundle (DICOM, outside studies, case-file text)
    parses the case files once, and still refuses a named patient in them."""
    import casereport.case
    from casereport.deid.gate import require_data_deidentified

    calls: list[Path] = []
    original = casereport.case.index
    monkeypatch.setattr(casereport.case, "index", lambda d: calls.append(Path(d)) or original(d))
    assert require_data_deidentified(_case_with(tmp_path / "clean")) == 0
    assert calls == [tmp_path / "clean" / "data"]
    with pytest.raises(PhiError, match="patient.history"):
        require_data_deidentified(_case_with(tmp_path / "named", history="Mr Roe"))
    assert len(calls) == 2


def test_committed_case_files_pass_the_text_check() -> None:
    from casereport.deid.gate import case_text_findings

    assert case_text_findings(ROOT / "data") == {}

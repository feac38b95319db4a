"""Apply the Basic Application Level Confidentiality Profile to DICOM files.

What :func:`deidentify_dataset` does (see ``docs/DEIDENTIFICATION.md``):

* patient name and ID become a pseudonym ``ANON^<code>`` / ``ANON-<code>``, where
  ``<code>`` is derived from the original patient ID and the salt (same patient, same code);
* every attribute of :data:`~casereport.deid.profile.RULES` with action ``X`` is removed,
  ``Z`` emptied, ``C`` cleaned of the patient's name and ID; other person names removed;
* every date (``DA``) and the date part of every date-time (``DT``) is shifted by a whole
  number of days, the same for all files of one patient (between 365 and 4014 days back,
  derived from the salt and the patient ID); times are kept; ``PatientBirthDate`` emptied;
* every UID that is not a UID of the DICOM standard is replaced by
  ``generate_uid(prefix, entropy_srcs=[salt, uid])``: the same input UID always gives
  the same output UID for one salt, so series, studies and references stay consistent;
* every other free-text value (any text VR but coded and equipment values) is cleaned:
  words outside the gate's vocabulary, ID-like numbers and dates are removed
  (:func:`casereport.deid.text.clean_text`), e.g. ``ProtocolName``, ``CollimatorGridName``;
* private elements and overlay planes are removed;
* ``PatientIdentityRemoved`` = ``YES``, ``DeidentificationMethod`` and its code sequence
  and ``LongitudinalTemporalInformationModified`` = ``MODIFIED`` are written.

Pixel data are not changed: a file with ``BurnedInAnnotation`` = ``YES`` is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import PYDICOM_ROOT_UID, generate_uid

from casereport.deid.gate import dicom_files, require_deidentified
from casereport.deid.profile import (
    BY_KEYWORD,
    MAX_AGE_YEARS,
    OPTIONS,
    SAFE_TEXT,
    STANDARD_UID_ROOT,
    TEXT_VR,
    age_years,
)
from casereport.deid.text import clean_text, uid_date_problem
from casereport.errors import READ_ERRORS, NotDicomError, PhiError, ReviewError
from casereport.io.read import read_dataset

#: Salt used when none is given: public, so the date shift and pseudonyms can be recomputed
#: by anyone who knows the original patient ID. Pass a secret salt for real patient data.
DEFAULT_SALT = "casereport-public-salt"
#: DeidentificationMethod (LO, at most 64 characters).
METHOD_TEXT = "casereport deidentify: PS3.15 Basic Profile, dates shifted"
_MIN_SHIFT_DAYS = 365
_SHIFT_RANGE_DAYS = 3650


@dataclass(frozen=True)
class DeidParams:
    """Settings of one de-identification run.

    Attributes:
        salt: secret mixed into date shifts, pseudonyms and new UIDs.
        uid_prefix: root of the new UIDs (ends with a dot).
    """

    salt: str = DEFAULT_SALT
    uid_prefix: str = PYDICOM_ROOT_UID

    def __post_init__(self) -> None:
        if not self.salt:
            raise ValueError("salt must not be empty")
        if not self.uid_prefix.endswith(".") or len(self.uid_prefix) > 40:
            raise ValueError(
                f"uid_prefix {self.uid_prefix!r}: must end with '.' and have at most 40 characters"
            )


def _digest(salt: str, text: str) -> bytes:
    return hmac.new(salt.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).digest()


def patient_key(ds: Dataset) -> str:
    """What identifies the patient of ``ds``: PatientID, else PatientName, else the study UID."""
    for kw in ("PatientID", "PatientName", "StudyInstanceUID"):
        value = str(ds.get(kw, "") or "").strip()
        if value:
            return f"{kw}={value}"
    return "unknown"


def date_shift_days(key: str, salt: str) -> int:
    """Days added to every date of the patient ``key`` (negative: into the past)."""
    n = int.from_bytes(_digest(salt, "shift:" + key)[:8], "big")
    return -(_MIN_SHIFT_DAYS + n % _SHIFT_RANGE_DAYS)


def pseudonym(key: str, salt: str) -> str:
    """Ten upper-case hex digits standing for the patient ``key``."""
    return _digest(salt, "patient:" + key).hex()[:10].upper()


@dataclass
class DeidRun:
    """State shared by the files of one run: UID map and patients seen."""

    params: DeidParams
    uids: dict[str, str] = field(default_factory=dict)
    patients: set[str] = field(default_factory=set)

    def uid(self, old: str) -> str:
        old = old.strip().rstrip("\x00")
        if not old or old.startswith(STANDARD_UID_ROOT):
            return old
        if old not in self.uids:
            # a generated number may start with digits that read as a date-time (or,
            # rarely, hold a component that reads as a date); the gate would refuse it,
            # so draw again (deterministically)
            for attempt in range(100):
                extra = [str(attempt)] if attempt else []
                new = str(
                    generate_uid(
                        self.params.uid_prefix, entropy_srcs=[self.params.salt, old, *extra]
                    )
                )
                if uid_date_problem(new) is None:
                    break
            self.uids[old] = new
        return self.uids[old]


def _shift_da(value: str, days: int) -> str:
    try:
        d = dt.datetime.strptime(value.strip()[:8], "%Y%m%d").date()
    except ValueError:
        return ""
    return (d + dt.timedelta(days=days)).strftime("%Y%m%d")


def _shift_dt(value: str, days: int) -> str:
    v = value.strip()
    if len(v) < 8:
        return ""
    shifted = _shift_da(v[:8], days)
    return shifted + v[8:] if shifted else ""


def _values(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        return [str(value)]
    return [str(v) for v in value]  # type: ignore[union-attr]


def _set(ds: Dataset, tag: BaseTag, values: list[str]) -> None:
    ds[tag].value = values[0] if len(values) == 1 else (values or "")


def _clean_text(text: str, tokens: list[str]) -> str:
    out = text
    for t in tokens:
        idx = out.upper().find(t)
        while idx >= 0:
            out = out[:idx] + out[idx + len(t) :]
            idx = out.upper().find(t)
    return " ".join(out.split())


def _tokens(ds: Dataset) -> list[str]:
    name = str(ds.get("PatientName", "") or "")
    tokens = [t for t in name.replace("^", " ").split() if len(t) >= 3]
    pid = str(ds.get("PatientID", "") or "").strip()
    if pid:
        tokens.append(pid)
    return sorted({t.upper() for t in tokens}, key=len, reverse=True)


def _apply(ds: Dataset, run: DeidRun, *, days: int, tokens: list[str], top: bool = True) -> None:
    """Apply the profile to ``ds`` and, recursively, to its sequence items."""
    for tag in list(ds.keys()):
        tag = BaseTag(tag)
        if tag.is_private or (0x6000 <= tag.group <= 0x601E and tag.group % 2 == 0):
            del ds[tag]
            continue
        if tag.group == 0x7FE0:
            continue
        elem = ds[tag]
        kw = elem.keyword
        rule = BY_KEYWORD.get(kw)
        if kw in ("PatientName", "PatientID"):
            if not top:
                del ds[tag]
            continue  # the top-level ones are set by the caller
        if rule is not None and rule.action == "X":
            del ds[tag]
            continue
        if rule is not None and rule.action == "Z":
            elem.value = ""
            continue
        if rule is not None and rule.action == "C" and elem.VR not in ("SQ",):
            _set(ds, tag, [clean_text(_clean_text(v, tokens)) for v in _values(elem.value)])
            continue
        if kw == "PatientAge":
            years = age_years(str(elem.value or ""))
            if years is None or years > MAX_AGE_YEARS:
                del ds[tag]
            continue
        if elem.VR == "SQ":
            for item in elem.value:
                _apply(item, run, days=days, tokens=tokens, top=False)
        elif elem.VR == "PN":
            del ds[tag]
        elif elem.VR == "DA" and elem.value:
            _set(ds, tag, [_shift_da(v, days) for v in _values(elem.value)])
        elif elem.VR == "DT" and elem.value:
            _set(ds, tag, [_shift_dt(v, days) for v in _values(elem.value)])
        elif elem.VR == "UI" and elem.value:
            _set(ds, tag, [run.uid(v) for v in _values(elem.value)])
        elif elem.VR in TEXT_VR and kw not in SAFE_TEXT and rule is None and elem.value:
            _set(ds, tag, [clean_text(_clean_text(v, tokens)) for v in _values(elem.value)])


def _declare(ds: Dataset) -> None:
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD_TEXT
    items = []
    for value, meaning in OPTIONS:
        item = Dataset()
        item.CodeValue = value
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = meaning
        items.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(items)
    ds.LongitudinalTemporalInformationModified = "MODIFIED"


def deidentify_dataset(ds: Dataset, run: DeidRun, *, path: Path | None = None) -> None:
    """De-identify ``ds`` in place (see the module docstring).

    Raises:
        PhiError: the pixel data carry burned-in annotation (cannot be cleaned here).
    """
    if str(ds.get("BurnedInAnnotation", "") or "").strip().upper() == "YES":
        raise PhiError(
            path or Path("<dataset>"), ["BurnedInAnnotation (clean the pixel data first)"]
        )
    key = patient_key(ds)
    run.patients.add(key)
    days = date_shift_days(key, run.params.salt)
    tokens = _tokens(ds)
    try:
        _apply(ds, run, days=days, tokens=tokens)
    except READ_ERRORS as exc:
        msg = " ".join(str(exc).split())[:120]
        raise NotDicomError(
            path or Path("<dataset>"), f"cannot be de-identified: {type(exc).__name__}: {msg}"
        ) from None
    code = pseudonym(key, run.params.salt)
    ds.PatientName = f"ANON^{code}"
    ds.PatientID = f"ANON-{code}"
    _declare(ds)
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "SOPInstanceUID" in ds:
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID


@dataclass(frozen=True)
class DeidResult:
    """What a run wrote: files, distinct patients, UIDs remapped."""

    out_dir: Path
    files: tuple[Path, ...]
    patients: int
    uids: int


def _check_target(out_dir: Path) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ReviewError(out_dir, "output exists and is not an empty folder; choose a new one")


def deidentify_tree(
    in_dir: str | Path, out_dir: str | Path, params: DeidParams | None = None
) -> DeidResult:
    """De-identify every DICOM file under ``in_dir`` into ``out_dir`` (same relative paths).

    Everything is written to a staging folder beside ``out_dir``, checked with the gate,
    then moved into place: on any error nothing is left at ``out_dir``. Text files (notes,
    case files) are not copied; every other file must be readable, complete DICOM.

    Raises:
        ReviewError: ``in_dir`` missing or without DICOM files, ``out_dir`` not empty.
        DicomInputError: a file that is not text cannot be read as complete DICOM
            (truncated, unknown VR, not a data set): nothing is written.
        PhiError: a file has burned-in annotation, or the output failed the gate.
    """
    params = params or DeidParams()
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if not in_dir.exists():
        raise ReviewError(in_dir, "input does not exist")
    _check_target(out_dir)
    files = dicom_files(in_dir)
    if not files:
        raise ReviewError(in_dir, "no DICOM files found")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    run = DeidRun(params)
    written = []
    try:
        for src in files:
            rel = src.relative_to(in_dir) if src != in_dir else Path(src.name)
            ds = read_dataset(src)  # refuses truncated or unreadable files (nothing written)
            deidentify_dataset(ds, run, path=src)
            dst = stage / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                ds.save_as(dst, enforce_file_format=True)
            except OSError as exc:  # pydicom re-raises without errno or file name
                cause = exc if exc.errno is not None else exc.__context__
                no = getattr(cause, "errno", None)
                raise OSError(no, os.strerror(no) if no else str(exc), str(out_dir)) from None
            written.append(out_dir / rel)
        require_deidentified([stage])
        _check_target(out_dir)
        stage.chmod(0o755)
        if out_dir.exists():
            out_dir.rmdir()
        os.replace(stage, out_dir)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return DeidResult(out_dir, tuple(written), len(run.patients), len(run.uids))

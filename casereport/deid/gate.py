"""De-identification gate: refuse input DICOM that still identifies a person.

Checks every attribute of :mod:`casereport.deid.profile` at every nesting level, plus:
any private element; any other non-empty person name; ``BurnedInAnnotation`` or
``RecognizableVisualFeatures`` = ``YES``; overlay planes (``60xx``); patient age of 90 years
or more; and the date policy: dates, date-times and times are accepted only when the file
declares itself de-identified (``PatientIdentityRemoved`` = ``YES`` and a
``DeidentificationMethod`` text or code sequence), i.e. they were shifted or are
fictitious. ``PatientBirthDate`` must always be empty. Free text (any text VR outside
:data:`~casereport.deid.profile.SAFE_TEXT`) must hold no word outside the vocabulary, no
ID-like number and no date; UIDs no date-time and no date component
(:mod:`casereport.deid.text`).

Every file is checked whatever its name or preamble: a file that is not text is read as
DICOM (the loader reads bare data sets too), and one that cannot be read or decoded is
refused, not skipped.

The case files' own text reaches the article too (history, findings, captions, alt text,
annotation labels): :func:`case_text_findings` refuses a date, an ID-like number or a
title followed by a name there (:func:`casereport.deid.text.prose_problems`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, cast

from casereport.deid.profile import (
    BY_KEYWORD,
    MAX_AGE_YEARS,
    PSEUDONYM_ID,
    PSEUDONYM_NAME,
    SAFE_TEXT,
    STANDARD_UID_ROOT,
    TEXT_VR,
    Category,
    age_years,
    declares_deidentified,
)
from casereport.deid.text import prose_problems, text_problems, uid_date_problem
from casereport.errors import READ_ERRORS, DicomInputError, NotDicomError, PhiFindingsError
from casereport.fileio import files_below, is_text_file

if TYPE_CHECKING:  # pydicom is imported only when a file is actually read
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset
    from pydicom.tag import BaseTag

    from casereport.case import CaseIndex

#: Value representations whose values are never inspected (bulk data).
_BULK_VR = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN"})
_PIXEL_DATA = 0x7FE00010
_CHARSET = 0x00080005
#: Attributes whose dummy value may be a pseudonym (other ``Z`` attributes must be empty).
_ID_KEYWORDS = frozenset({"PatientID", "StudyID", "AccessionNumber"})
_DATE_VR = frozenset({"DA", "DT", "TM"})


def input_files(root: str | Path) -> list[Path]:
    """Every regular file under ``root`` (or ``root`` itself), sorted; hidden entries skipped."""
    root = Path(root)
    return [root] if root.is_file() else files_below(root)


def is_dicom_file(path: Path) -> bool:
    """A regular file that is not text: the gate reads it as DICOM, whatever its name.

    The loader reads bare data sets (no preamble, no ``DICM``) too, so neither the suffix
    nor the marker can decide; a binary file that does not parse is refused by the gate.
    """
    return path.is_file() and not is_text_file(path)


def dicom_files(root: str | Path) -> list[Path]:
    """Every file under ``root`` the gate checks as DICOM (see :func:`is_dicom_file`)."""
    return [p for p in input_files(root) if is_dicom_file(p)]


@contextmanager
def quiet_pydicom() -> Iterator[None]:
    """Silence pydicom's warnings and log records (the gate reports problems itself)."""
    import logging
    import warnings

    log = logging.getLogger("pydicom")
    was = log.disabled
    log.disabled = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        log.disabled = was


def read_header(path: str | Path) -> Dataset:
    """The dataset of ``path`` with bulk values deferred (not loaded).

    Part 10 files are read as such; a file without the ``DICM`` marker is read as a bare
    data set and accepted, as by the loader, only when it has a SOPClassUID and Modality.

    Raises:
        NotDicomError: unreadable, or binary content that is not a DICOM data set.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    path = Path(path)
    hint = "the de-identification gate cannot check it; fix or remove the file"
    try:
        with quiet_pydicom():
            try:
                return pydicom.dcmread(path, defer_size="4 KB")
            except InvalidDicomError:
                ds = pydicom.dcmread(path, defer_size="4 KB", force=True)
                bare = "SOPClassUID" in ds and "Modality" in ds
    except PermissionError:
        raise NotDicomError(path, f"permission denied; {hint}") from None
    except (InvalidDicomError, *READ_ERRORS) as exc:  # type: ignore[misc]
        msg = " ".join(str(exc).split())[:160]
        raise NotDicomError(
            path, f"unreadable as DICOM ({type(exc).__name__}: {msg}); {hint}"
        ) from None
    if not bare:
        raise NotDicomError(path, f"binary file that is not a DICOM data set; {hint}")
    return ds


def _empty(value: object) -> bool:
    from pydicom.sequence import Sequence
    from pydicom.valuerep import PersonName

    if value is None:
        return True
    if isinstance(value, PersonName):
        value = str(value)
    if isinstance(value, (str, bytes)):
        return not value.strip() if isinstance(value, str) else not value.strip(b" \x00")
    if isinstance(value, (list, tuple, Sequence)) or type(value).__name__ == "MultiValue":
        return all(_empty(v) for v in cast(Iterable[object], value))
    return False


def _label(tag: BaseTag, keyword: str) -> str:
    if tag.is_private:
        return f"private ({tag.group:04X},xxxx)"
    return keyword or f"({tag.group:04X},{tag.element:04X})"


def _name_tokens(ds: Dataset) -> list[str]:
    """Components of a real (non-pseudonym) patient name and ID, for the descriptor check."""
    tokens = []
    name = str(ds.get("PatientName", "") or "").strip()
    if name and not PSEUDONYM_NAME.match(name):
        tokens += [t for t in name.replace("^", " ").split() if len(t) >= 3]
    pid = str(ds.get("PatientID", "") or "").strip()
    if pid and not PSEUDONYM_ID.match(pid):
        tokens.append(pid)
    return [t.upper() for t in tokens]


def _texts(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, bytes):
        return [value.decode("latin-1")]
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        return [str(value)]
    return [str(v) for v in value]  # type: ignore[union-attr]


def _free_text(keyword: str, value: object) -> str | None:
    """The reasons a free-text value may identify someone, or ``None`` when it passes."""
    problems: list[str] = []
    for text in _texts(value):
        problems += [p for p in text_problems(text) if p not in problems]
    return f"{keyword} ({'; '.join(problems)})" if problems else None


def _finding(
    keyword: str, vr: str, value: object, *, declared: bool, tokens: list[str]
) -> str | None:
    """What is wrong with one (non-private, non-bulk) element, or ``None`` when it passes."""
    rule = BY_KEYWORD.get(keyword)
    if keyword in ("BurnedInAnnotation", "RecognizableVisualFeatures"):
        return keyword if str(value or "").strip().upper() == "YES" else None
    if rule is not None:
        if rule.action == "K":
            if keyword == "PatientAge" and not _empty(value):
                years = age_years(str(value))
                return keyword if years is None or years > MAX_AGE_YEARS else None
            return None
        if rule.action == "C":
            text = " ".join(_texts(value)).upper()
            if any(t in text for t in tokens):
                return keyword
            return _free_text(keyword, value)
        if _empty(value):
            return None
        if keyword == "PatientName":
            return None if PSEUDONYM_NAME.match(str(value).strip()) else keyword
        if keyword in _ID_KEYWORDS:
            return None if PSEUDONYM_ID.match(str(value).strip()) or declared else keyword
        return keyword
    if vr == "PN":
        return None if _empty(value) else keyword
    if vr in _DATE_VR:
        return keyword if not declared and not _empty(value) else None
    if vr == "UI":
        for u in _texts(value):
            problem = None if u.startswith(STANDARD_UID_ROOT) else uid_date_problem(u)
            if problem:
                return f"{keyword} (UID holds a {problem})"
        return None
    if vr in TEXT_VR and keyword not in SAFE_TEXT:
        return _free_text(keyword, value)
    return None


class _Unreadable(Exception):
    """An element the gate cannot decode (unknown VR, malformed value)."""

    def __init__(self, tag: str, reason: str) -> None:
        self.tag = tag
        self.reason = reason
        super().__init__(f"{tag}: {reason}")


def _element(ds: Dataset, tag: BaseTag) -> DataElement:
    try:
        return ds[tag]
    except READ_ERRORS as exc:
        msg = " ".join(str(exc).split())[:120]
        raise _Unreadable(
            f"({tag.group:04X},{tag.element:04X})", f"{type(exc).__name__}: {msg}"
        ) from None


#: What an element was found to be, by everything its converted value depends on
#: (see :func:`_raw_key`): the files of one data folder repeat most elements (a CT
#: series differs from slice to slice in a few positions and UIDs only).
FindingMemo = dict[tuple[object, ...], "str | None"]


def _raw_key(raw: object, context: tuple[object, ...]) -> tuple[object, ...] | None:
    """The memo key of an element still in its raw form (``raw``, from
    ``Dataset.get_item(tag, keep_deferred=True)``), or None when its value cannot be
    judged from its bytes alone: a sequence, an ambiguous VR that depends on other
    elements, a value not read yet, or an element already converted."""
    from pydicom.datadict import dictionary_VR
    from pydicom.dataelem import RawDataElement
    from pydicom.valuerep import AMBIGUOUS_VR

    if not isinstance(raw, RawDataElement) or not isinstance(raw.value, bytes):
        return None
    vr = raw.VR
    if vr is None:
        try:
            vr = dictionary_VR(raw.tag)
        except KeyError:
            vr = "UN"
    if vr == "SQ" or vr in AMBIGUOUS_VR:
        return None
    return (int(raw.tag), raw.VR, raw.value, raw.is_implicit_VR, raw.is_little_endian, context)


def _charset(ds: Dataset) -> object:
    """The character set pydicom decodes the text values of ``ds`` with (hashable)."""
    charset = ds.original_character_set or ds._character_set
    return tuple(charset) if isinstance(charset, list | tuple) else charset


def _walk(
    ds: Dataset, *, declared: bool, tokens: list[str], memo: FindingMemo | None = None
) -> Iterator[str]:
    from pydicom.tag import BaseTag

    context = (_charset(ds), declared, tuple(tokens)) if memo is not None else ()
    for tag in list(ds.keys()):
        tag = BaseTag(tag)
        if tag.is_private:
            yield _label(tag, "")
            continue
        if 0x6000 <= tag.group <= 0x601E and tag.group % 2 == 0:
            if tag.element in (0x3000, 0x4000):  # overlay data, overlay comments
                yield "OverlayData" if tag.element == 0x3000 else "OverlayComments"
            continue
        if tag == _PIXEL_DATA:
            continue
        key = None
        if memo is not None and tag != _CHARSET:  # read with the default character set
            key = _raw_key(ds.get_item(tag, keep_deferred=True), context)
            if key is not None and key in memo:
                known = memo[key]
                if known is not None:
                    yield known
                continue
        elem = _element(ds, tag)
        if elem.VR in _BULK_VR:
            if key is not None:
                memo[key] = None  # type: ignore[index]
            continue
        keyword = elem.keyword
        if elem.VR == "SQ":
            rule = BY_KEYWORD.get(keyword)
            if rule is not None and rule.action in ("X", "Z") and len(elem.value):
                yield keyword
                continue
            for item in elem.value:
                yield from _walk(item, declared=declared, tokens=tokens, memo=memo)
            continue
        found = _finding(
            keyword or _label(tag, ""), elem.VR, elem.value, declared=declared, tokens=tokens
        )
        if key is not None:
            memo[key] = found  # type: ignore[index]
        if found is not None:
            yield found


def _walk_meta(ds: Dataset) -> Iterator[str]:
    """File meta information: only its UIDs can carry a date or date-time."""
    meta = getattr(ds, "file_meta", None)
    if meta is None:
        return
    for tag in list(meta.keys()):
        elem = meta[tag]  # converted: a raw element has no keyword
        if getattr(elem, "VR", None) == "UI":
            value = str(elem.value or "")
            problem = None if value.startswith(STANDARD_UID_ROOT) else uid_date_problem(value)
            if problem:
                yield f"{elem.keyword or _label(elem.tag, '')} (UID holds a {problem})"


def check_dataset(ds: Dataset, *, memo: FindingMemo | None = None) -> list[str]:
    """Offending attributes of one dataset (keywords; ``private (gggg,xxxx)`` per group).

    ``memo`` (shared by the files of one check) remembers what each element still in its
    raw form was found to be, so that an element seen before (the same tag, VR, bytes,
    character set and dataset-level context) is not decoded and judged again.

    Raises:
        DicomInputError: an element cannot be decoded (unknown VR, malformed value).
    """
    try:
        declared = declares_deidentified(ds)
        tokens = _name_tokens(ds)
        found = [*_walk(ds, declared=declared, tokens=tokens, memo=memo), *_walk_meta(ds)]
    except _Unreadable as exc:
        raise DicomInputError("<dataset>", exc.reason, exc.tag) from None
    except READ_ERRORS as exc:
        raise DicomInputError("<dataset>", f"{type(exc).__name__}: {exc}") from None
    return list(dict.fromkeys(found))


def check_file(path: str | Path, *, memo: FindingMemo | None = None) -> list[str]:
    """Offending attributes of one DICOM file (empty list: the file passes); ``memo`` as
    for :func:`check_dataset`.

    Raises:
        NotDicomError: the file cannot be read, or an element of it cannot be decoded.
    """
    ds = read_header(path)
    try:
        with quiet_pydicom():
            return check_dataset(ds, memo=memo)
    except DicomInputError as exc:
        raise NotDicomError(
            path,
            f"cannot be checked for identifiers: {exc.reason}; fix or remove the file",
            exc.tag,
        ) from None


def external_studies(data_dir: str | Path, *, cases: CaseIndex | None = None) -> list[Path]:
    """Studies the case files under ``data_dir`` name outside it (``external_studies:
    true``): gated like the data folder itself. ``cases``: those case files as already
    read (:func:`casereport.case.index` of ``data_dir``), else they are read here.

    Raises:
        CaseFileError: a case file is invalid (e.g. an outside path without the opt-in).
    """
    idx = cases if cases is not None else _index(data_dir)
    return sorted({p for spec in idx.values() for p in spec.external_study_paths(idx.data_dir)})


def case_text_findings(
    data_dir: str | Path, *, cases: CaseIndex | None = None
) -> dict[Path, list[str]]:
    """Case files under ``data_dir`` whose text may identify someone: per file, the entries
    and reasons (``panels.A1.caption (ID-like number)``), never the text itself.
    ``cases`` as for :func:`external_studies`.

    Raises:
        CaseFileError: a case file is invalid.
    """
    out: dict[Path, list[str]] = {}
    for spec in (cases if cases is not None else _index(data_dir)).values():
        found = [
            f"{entry} ({', '.join(problems)})"
            for entry, text in spec.texts()
            if (problems := prose_problems(text))
        ]
        if found:
            out[spec.path] = found
    return out


def _index(data_dir: str | Path) -> CaseIndex:
    """:func:`casereport.case.index` (imported when first needed)."""
    from casereport.case import index

    return index(data_dir)


def gated_files(paths: Iterable[str | Path]) -> list[Path]:
    """Every file under ``paths`` the gate reads as DICOM, each once, in order."""
    seen: dict[Path, None] = {}
    for root in paths:
        for f in dicom_files(root):
            seen.setdefault(f, None)
    return list(seen)


def check_tree(path: str | Path, *, studies: Iterable[str | Path] = ()) -> dict[Path, list[str]]:
    """Offending attributes per DICOM file under ``path`` (and ``studies``, files or
    folders outside it); files that pass are left out.

    Raises:
        NotDicomError: a binary file that cannot be read or decoded (the gate cannot
            vouch for it).
    """
    out: dict[Path, list[str]] = {}
    memo: FindingMemo = {}
    for f in gated_files([path, *studies]):
        tags = check_file(f, memo=memo)
        if tags:
            out[f] = tags
    return out


def require_deidentified(
    paths: Iterable[str | Path],
    *,
    case_files: str | Path | None = None,
    cases: CaseIndex | None = None,
) -> int:
    """Check every DICOM file under ``paths``, and the text of the case files under the
    data folder ``case_files`` if given (:func:`case_text_findings`; ``cases``: those case
    files as already read); returns how many DICOM files were checked.

    Raises:
        PhiFindingsError: (a :class:`~casereport.errors.PhiError`) listing each offending
            file and its tags or case-file entries.
        NotDicomError: a binary file that cannot be read or decoded.
    """
    files = gated_files(paths)
    memo: FindingMemo = {}
    findings = {f: tags for f in files if (tags := check_file(f, memo=memo))}
    if case_files is not None:
        findings.update(case_text_findings(case_files, cases=cases))
    if findings:
        raise PhiFindingsError(findings)
    return len(files)


def require_data_deidentified(data_dir: str | Path) -> int:
    """:func:`require_deidentified` of the data folder ``data_dir``, the outside studies
    its case files name (:func:`external_studies`) and the case files' text, the case
    files read once; how many DICOM files were checked.

    Raises:
        PhiFindingsError: as :func:`require_deidentified`.
        NotDicomError: a binary file that cannot be read or decoded.
        CaseFileError: a case file is invalid.
    """
    cases = _index(data_dir)
    studies = external_studies(data_dir, cases=cases)
    return require_deidentified([data_dir, *studies], case_files=data_dir, cases=cases)


def describe(findings: dict[Path, list[str]]) -> str:
    """One line per offending file: ``<path>: <tag>, <tag>``, plus their categories."""
    lines = []
    for p, tags in sorted(findings.items()):
        cats = sorted(
            {BY_KEYWORD[t].category.value for t in tags if t in BY_KEYWORD}
            | ({"private tag"} if any(t.startswith("private") for t in tags) else set())
            | (
                {Category.DATE.value}
                if any(t.endswith(("Date", "Time", "DateTime")) for t in tags)
                else set()
            )
        )
        lines.append(f"{p}: {', '.join(tags)}" + (f"  [{'; '.join(cats)}]" if cats else ""))
    return "\n".join(lines)


#: Visible warning placed at the top of an article rendered with ``--allow-phi``.
PHI_BANNER = (
    "LOCAL DRAFT WITH IDENTIFIABLE DATA (--allow-phi): the input DICOM failed the "
    "de-identification gate. Do not distribute."
)
DEID_HINT = (
    "de-identify the data with: python -m casereport deidentify IN OUT "
    "(or pass --allow-phi for a local draft only)"
)
CASE_TEXT_HINT = (
    "reword the case file's text without names, dates or ID numbers "
    "(or pass --allow-phi for a local draft only)"
)


def _rules_digest() -> str:
    """Changes when the gate or the profile changes (invalidates cached results)."""
    import hashlib

    from casereport.deid import profile, text

    h = hashlib.sha256()
    for mod_file in (__file__, profile.__file__, text.__file__):
        h.update(Path(mod_file).read_bytes())
    return h.hexdigest()[:16]


def check_tree_cached(
    root: str | Path, cache_file: str | Path, *, studies: Iterable[str | Path] = ()
) -> dict[Path, list[str]]:
    """:func:`check_tree` over ``root`` and ``studies``, reusing results by content.

    The cache (JSON) maps the SHA-256 of a file's bytes (and a digest of the rules) to its
    findings, so an edited file is always checked again whatever its size and time stamps;
    it is rewritten atomically. A missing or unreadable cache is ignored.
    """
    import json

    from casereport.fileio import sha256_file, write_atomic

    cache_file = Path(cache_file)
    digest = _rules_digest()
    try:
        old = json.loads(cache_file.read_text())
        entries = old["files"] if old.get("rules") == digest else {}
        if not isinstance(entries, dict):
            entries = {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        entries = {}
    new: dict[str, list[str]] = {}
    out: dict[Path, list[str]] = {}
    memo: FindingMemo = {}
    for f in gated_files([root, *studies]):
        try:
            key = sha256_file(f)
        except OSError as exc:
            raise NotDicomError(f, f"cannot read: {exc.strerror or exc}") from None
        hit = entries.get(key)
        tags = [str(t) for t in hit] if isinstance(hit, list) else check_file(f, memo=memo)
        new[key] = tags
        if tags:
            out[f] = tags
    try:
        payload = json.dumps({"rules": digest, "files": new}, sort_keys=True)
        write_atomic(cache_file, payload.encode("utf-8"))
    except OSError:
        pass  # the cache is an optimisation only
    return out


def render_gate(
    data_dir: str | Path,
    *,
    allow_phi: bool = False,
    cache_file: str | Path | None = None,
    studies: Iterable[str | Path] = (),
) -> str:
    """The gate as run before a render; returns the banner to show (``""`` when clean).

    Without ``allow_phi`` identifiable input raises; with it, a warning listing the files
    goes to stderr and :data:`PHI_BANNER` is returned for the article. Study files or
    folders outside ``data_dir`` that the case files name are gated the same way, as are
    extra ``studies``. ``cache_file`` (e.g. ``build/.deid-gate.json``) lets files whose
    content was already checked skip the check.

    Raises:
        PhiFindingsError: identifiable input and ``allow_phi`` is false.
    """
    import sys

    cases = _index(data_dir)  # read once for both checks of the case files
    studies = [*studies, *external_studies(data_dir, cases=cases)]
    dicom = (
        check_tree_cached(data_dir, cache_file, studies=studies)
        if cache_file is not None
        else check_tree(data_dir, studies=studies)
    )
    texts = case_text_findings(data_dir, cases=cases)
    findings = {**dicom, **texts}
    if not findings:
        return ""
    if not allow_phi:
        print(describe(findings), file=sys.stderr)
        if dicom:
            print(DEID_HINT, file=sys.stderr)
        if texts:
            print(CASE_TEXT_HINT, file=sys.stderr)
        raise PhiFindingsError(findings)
    print(
        "warning: --allow-phi: rendering identifiable data as a local draft; the article "
        "carries a visible warning\n" + describe(findings),
        file=sys.stderr,
    )
    return PHI_BANNER

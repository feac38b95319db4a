"""De-identification gate: refuse input DICOM that still identifies a person.

Checks every attribute of :mod:`casereport.deid.profile` at every nesting level, plus:
any private element; any other non-empty person name; ``BurnedInAnnotation`` or
``RecognizableVisualFeatures`` = ``YES``; overlay planes (``60xx``); patient age of 90 years
or more; and the date policy: dates, date-times and times are accepted only when the file
declares itself de-identified (``PatientIdentityRemoved`` = ``YES`` and a
``DeidentificationMethod`` text or code sequence), i.e. they were shifted or are
fictitious. ``PatientBirthDate`` must always be empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from casereport.deid.profile import (
    BY_KEYWORD,
    MAX_AGE_YEARS,
    PSEUDONYM_ID,
    PSEUDONYM_NAME,
    Category,
    age_years,
    declares_deidentified,
)
from casereport.errors import NotDicomError, PhiFindingsError

if TYPE_CHECKING:  # pydicom is imported only when a file is actually read
    from pydicom.dataset import Dataset
    from pydicom.tag import BaseTag

#: Value representations whose values are never inspected (bulk data).
_BULK_VR = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN"})
_PIXEL_DATA = 0x7FE00010
#: Attributes whose dummy value may be a pseudonym (other ``Z`` attributes must be empty).
_ID_KEYWORDS = frozenset({"PatientID", "StudyID", "AccessionNumber"})
_DATE_VR = frozenset({"DA", "DT", "TM"})


def is_dicom_file(path: Path) -> bool:
    """A regular file with the ``DICM`` marker at byte 128, a ``.dcm`` suffix, or DICOMDIR."""
    if not path.is_file():
        return False
    if path.suffix.lower() == ".dcm" or path.name.upper() == "DICOMDIR":
        return True
    try:
        with path.open("rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:] == b"DICM"


def dicom_files(root: str | Path) -> list[Path]:
    """Every DICOM file under ``root`` (or ``root`` itself), sorted; hidden entries skipped."""
    root = Path(root)
    if root.is_file():
        return [root] if is_dicom_file(root) else []
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).parts
        if any(part.startswith(".") for part in rel):
            continue
        if is_dicom_file(p):
            out.append(p)
    return out


def read_header(path: str | Path) -> Dataset:
    """The dataset of ``path`` with bulk values deferred (not loaded)."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(path, defer_size="4 KB")
    except (InvalidDicomError, EOFError, OSError, ValueError, TypeError) as exc:
        raise NotDicomError(
            path, f"cannot be read as DICOM for the de-identification check: {exc}"
        ) from None


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
        return all(_empty(v) for v in value)  # type: ignore[union-attr]
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


def _offence(
    tag: BaseTag, keyword: str, vr: str, value: object, *, declared: bool, tokens: list[str]
) -> bool:
    """Whether one (non-private, non-bulk) element identifies a person."""
    rule = BY_KEYWORD.get(keyword)
    if keyword in ("BurnedInAnnotation", "RecognizableVisualFeatures"):
        return str(value or "").strip().upper() == "YES"
    if rule is not None:
        if rule.action == "K":
            if keyword == "PatientAge" and not _empty(value):
                years = age_years(str(value))
                return years is None or years > MAX_AGE_YEARS
            return False
        if rule.action == "C":
            text = str(value or "").upper()
            return any(t in text for t in tokens)
        if _empty(value):
            return False
        if keyword == "PatientName":
            return not PSEUDONYM_NAME.match(str(value).strip())
        if keyword in _ID_KEYWORDS:
            return not (PSEUDONYM_ID.match(str(value).strip()) or declared)
        return True
    if vr == "PN":
        return not _empty(value)
    if vr in _DATE_VR:
        return not declared and not _empty(value)
    return False


def _walk(ds: Dataset, *, declared: bool, tokens: list[str]) -> Iterator[str]:
    from pydicom.tag import BaseTag

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
        elem = ds[tag]
        if elem.VR in _BULK_VR:
            continue
        keyword = elem.keyword
        if elem.VR == "SQ":
            rule = BY_KEYWORD.get(keyword)
            if rule is not None and rule.action in ("X", "Z") and len(elem.value):
                yield keyword
                continue
            for item in elem.value:
                yield from _walk(item, declared=declared, tokens=tokens)
            continue
        if _offence(tag, keyword, elem.VR, elem.value, declared=declared, tokens=tokens):
            yield _label(tag, keyword)


def check_dataset(ds: Dataset) -> list[str]:
    """Offending attributes of one dataset (keywords; ``private (gggg,xxxx)`` per group)."""
    declared = declares_deidentified(ds)
    found = _walk(ds, declared=declared, tokens=_name_tokens(ds))
    return list(dict.fromkeys(found))


def check_file(path: str | Path) -> list[str]:
    """Offending attributes of one DICOM file (empty list: the file passes)."""
    return check_dataset(read_header(path))


def check_tree(path: str | Path) -> dict[Path, list[str]]:
    """Offending attributes per DICOM file under ``path``; files that pass are left out."""
    out: dict[Path, list[str]] = {}
    for f in dicom_files(path):
        tags = check_file(f)
        if tags:
            out[f] = tags
    return out


def require_deidentified(paths: Iterable[str | Path]) -> int:
    """Check every DICOM file under ``paths``; returns how many were checked.

    Raises:
        PhiFindingsError: (a :class:`~casereport.errors.PhiError`) listing each offending
            file and its tags.
    """
    findings: dict[Path, list[str]] = {}
    n = 0
    for root in paths:
        for f in dicom_files(root):
            n += 1
            tags = check_file(f)
            if tags:
                findings[f] = tags
    if findings:
        raise PhiFindingsError(findings)
    return n


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


def _rules_digest() -> str:
    """Changes when the gate or the profile changes (invalidates cached results)."""
    import hashlib

    from casereport.deid import profile

    h = hashlib.sha256()
    for mod_file in (__file__, profile.__file__):
        h.update(Path(mod_file).read_bytes())
    return h.hexdigest()[:16]


def check_tree_cached(root: str | Path, cache_file: str | Path) -> dict[Path, list[str]]:
    """:func:`check_tree`, reusing results of files whose size and mtime are unchanged.

    The cache (JSON) is keyed by path, size, modification time (ns) and a digest of the
    rules; it is rewritten atomically. A missing or unreadable cache is ignored.
    """
    import json
    import os
    import tempfile

    cache_file = Path(cache_file)
    digest = _rules_digest()
    try:
        old = json.loads(cache_file.read_text())
        entries = old["files"] if old.get("rules") == digest else {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        entries = {}
    new: dict[str, list] = {}
    out: dict[Path, list[str]] = {}
    for f in dicom_files(root):
        st = f.stat()
        key = str(f.resolve())
        hit = entries.get(key)
        if isinstance(hit, list) and len(hit) == 3 and hit[:2] == [st.st_size, st.st_mtime_ns]:
            tags = list(hit[2])
        else:
            tags = check_file(f)
        new[key] = [st.st_size, st.st_mtime_ns, tags]
        if tags:
            out[f] = tags
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{cache_file.name}.", dir=cache_file.parent)
        with os.fdopen(fd, "w") as fh:
            json.dump({"rules": digest, "files": new}, fh, sort_keys=True)
        os.replace(tmp, cache_file)
    except OSError:
        pass  # the cache is an optimisation only
    return out


def render_gate(
    data_dir: str | Path, *, allow_phi: bool = False, cache_file: str | Path | None = None
) -> str:
    """The gate as run before a render; returns the banner to show (``""`` when clean).

    Without ``allow_phi`` identifiable input raises; with it, a warning listing the files
    goes to stderr and :data:`PHI_BANNER` is returned for the article. ``cache_file``
    (e.g. ``build/.deid-gate.json``) lets unchanged files skip the check.

    Raises:
        PhiFindingsError: identifiable input and ``allow_phi`` is false.
    """
    import sys

    findings = (
        check_tree_cached(data_dir, cache_file) if cache_file is not None else check_tree(data_dir)
    )
    if not findings:
        return ""
    if not allow_phi:
        print(describe(findings), file=sys.stderr)
        print(DEID_HINT, file=sys.stderr)
        raise PhiFindingsError(findings)
    print(
        "warning: --allow-phi: rendering identifiable data as a local draft; the article "
        "carries a visible warning\n" + describe(findings),
        file=sys.stderr,
    )
    return PHI_BANNER

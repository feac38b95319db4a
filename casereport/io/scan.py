"""Find the DICOM series in a file, a folder (recursively) or a DICOMDIR, headers only."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.fileset import FileSet

from casereport.errors import DicomInputError, SeriesSelectionError
from casereport.io.common import text
from casereport.io.read import is_directory_file, read_dataset


@dataclass(frozen=True)
class SeriesSummary:
    """One series found by :func:`scan` (from headers only).

    Attributes:
        modality: e.g. ``"NM"`` or ``"CT"``.
        series_instance_uid: the SeriesInstanceUID ('' if the files have none).
        series_description: SeriesDescription ('' if absent).
        n_files: number of files in the series.
        paths: the files, sorted by path.
    """

    modality: str
    series_instance_uid: str
    series_description: str
    n_files: int
    paths: tuple[Path, ...]

    def describe(self) -> str:
        """One-line description used in selection errors and by ``inspect``."""
        desc = f" {self.series_description!r}" if self.series_description else ""
        return f"{self.modality} {self.series_instance_uid}{desc} ({self.n_files} files)"


@dataclass(frozen=True)
class _Series:
    summary: SeriesSummary
    headers: tuple[Dataset, ...]  # parallel to summary.paths


def _files_in(root: Path) -> list[Path]:
    """Every regular file below ``root`` (sorted), skipping hidden files and folders."""
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).parts
        if any(part.startswith(".") for part in rel):
            continue
        if p.is_file():
            out.append(p)
    return out


def _files_of_dicomdir(path: Path, ds: Dataset) -> list[Path]:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fs = FileSet(ds)
    except Exception as exc:  # pydicom raises several types for malformed directories
        raise DicomInputError(path, f"malformed DICOMDIR: {type(exc).__name__}: {exc}") from None
    for w in caught:
        msg = str(w.message)
        if "does not exist" in msg:
            missing = msg.rsplit(": ", 1)[-1]
            raise DicomInputError(
                path, f"DICOMDIR refers to a missing file {missing}", "ReferencedFileID"
            )
    files = []
    for inst in fs:
        p = Path(inst.path)
        if not p.is_file():
            raise DicomInputError(
                path, f"DICOMDIR refers to a missing file {p}", "ReferencedFileID"
            )
        files.append(p)
    if not files:
        raise SeriesSelectionError(path, "DICOMDIR lists no image files")
    return sorted(files)


def _candidate_files(path: Path) -> tuple[list[Path], bool]:
    """(files to read, strict) for a file, folder or DICOMDIR path.

    ``strict`` is False for folder walks, where non-DICOM files are skipped.
    """
    if not path.exists():
        raise DicomInputError(path, "no such file or folder")
    if path.is_dir():
        dicomdir = path / "DICOMDIR"
        if dicomdir.is_file():
            ds = read_dataset(dicomdir, headers_only=True)
            if is_directory_file(ds):
                return _files_of_dicomdir(dicomdir, ds), True
        return _files_in(path), False
    return [path], True


def collect(path: str | Path) -> list[_Series]:
    """Read every header under ``path`` and group the files by SeriesInstanceUID."""
    root = Path(path)
    files, strict = _candidate_files(root)
    if len(files) == 1 and strict and files[0] == root:
        ds = read_dataset(root, headers_only=True)
        if is_directory_file(ds):
            files = _files_of_dicomdir(root, ds)
    groups: dict[str, list[tuple[Path, Dataset]]] = {}
    for f in files:
        try:
            ds = read_dataset(f, headers_only=True)
        except DicomInputError:
            if strict:
                raise
            continue
        if is_directory_file(ds):
            continue
        key = text(ds, "SeriesInstanceUID") or f"file:{f}"
        groups.setdefault(key, []).append((f, ds))
    out = []
    for key, members in groups.items():
        first = members[0][1]
        summary = SeriesSummary(
            modality=text(first, "Modality").upper(),
            series_instance_uid="" if key.startswith("file:") else key,
            series_description=text(first, "SeriesDescription"),
            n_files=len(members),
            paths=tuple(p for p, _ in members),
        )
        out.append(_Series(summary, tuple(d for _, d in members)))
    out.sort(
        key=lambda s: (
            s.summary.modality,
            s.summary.series_description,
            s.summary.series_instance_uid,
        )
    )
    if not out:
        raise SeriesSelectionError(root, "no DICOM files found")
    return out


def scan(path: str | Path) -> list[SeriesSummary]:
    """The series under a file, folder or DICOMDIR, from headers only (no pixel data read).

    Raises:
        SeriesSelectionError: the folder holds no DICOM file.
        DicomInputError: the path does not exist, or a named file/DICOMDIR is unreadable.
    """
    return [s.summary for s in collect(path)]


def select(
    series: list[_Series], root: Path, *, modality: str | None, series_uid: str | None
) -> _Series:
    """The one series matching the selectors; SeriesSelectionError listing the choices."""
    chosen = [
        s
        for s in series
        if (modality is None or s.summary.modality == modality.upper())
        and (series_uid is None or s.summary.series_instance_uid == series_uid)
    ]
    listing = "; ".join(s.summary.describe() for s in series)
    if not chosen:
        want = ", ".join(
            f"{k}={v}" for k, v in (("modality", modality), ("series_uid", series_uid)) if v
        )
        raise SeriesSelectionError(root, f"no series matches {want}; present: {listing}")
    if len(chosen) > 1:
        raise SeriesSelectionError(
            root,
            f"{len(chosen)} series found, choose one with modality= or series_uid=: "
            + "; ".join(s.summary.describe() for s in chosen),
        )
    return chosen[0]

"""Find the DICOM series in a file, a folder (recursively) or a DICOMDIR, headers only."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.fileset import FileSet

from casereport.errors import DicomInputError, SeriesSelectionError
from casereport.fileio import files_below, is_text_file
from casereport.io.common import image_type, integer, text
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
        series_number: SeriesNumber, None if absent.
        localizer: every file is a localizer/scout (ImageType LOCALIZER), not a volume.
    """

    modality: str
    series_instance_uid: str
    series_description: str
    n_files: int
    paths: tuple[Path, ...]
    series_number: int | None = None
    localizer: bool = False

    def describe(self) -> str:
        """One-line description used in selection errors and by ``inspect``.

        The SeriesDescription is shown only when it passes the de-identification gate's
        free-text check (these lines reach terminals, logs and rendered error cells).
        """
        from casereport.deid.text import text_problems  # leaf module, no import cycle

        num = f" number {self.series_number}" if self.series_number is not None else ""
        shown = self.series_description
        if shown and text_problems(shown):
            shown = "<description withheld: fails the de-identification check>"
        desc = f" {shown!r}" if shown else ""
        loc = ", localizer" if self.localizer else ""
        return (
            f"{self.modality} series{num}{desc} uid {self.series_instance_uid} "
            f"({self.n_files} files{loc})"
        )


@dataclass(frozen=True)
class SeriesChoice:
    """Which series of a folder to load; every field given must match.

    Attributes:
        modality: ``"NM"`` or ``"CT"`` (any case).
        series_uid: SeriesInstanceUID.
        series_number: SeriesNumber.
        series_description: SeriesDescription, compared case-insensitively.
    """

    modality: str | None = None
    series_uid: str | None = None
    series_number: int | None = None
    series_description: str | None = None

    def merged(self, *, modality: str | None, series_uid: str | None) -> SeriesChoice:
        """This choice with ``modality``/``series_uid`` filled in where given."""
        return SeriesChoice(
            modality=modality or self.modality,
            series_uid=series_uid or self.series_uid,
            series_number=self.series_number,
            series_description=self.series_description,
        )

    @property
    def explicit(self) -> bool:
        """True when the series itself is named (not only the modality)."""
        return any(
            v is not None for v in (self.series_uid, self.series_number, self.series_description)
        )

    def wanted(self) -> str:
        return ", ".join(
            f"{k}={v}"
            for k, v in (
                ("modality", self.modality),
                ("series_uid", self.series_uid),
                ("series_number", self.series_number),
                ("series_description", self.series_description),
            )
            if v is not None
        )

    def matches(self, s: SeriesSummary) -> bool:
        return (
            (self.modality is None or s.modality == self.modality.upper())
            and (self.series_uid is None or s.series_instance_uid == self.series_uid)
            and (self.series_number is None or s.series_number == self.series_number)
            and (
                self.series_description is None
                or s.series_description.strip().upper() == self.series_description.strip().upper()
            )
        )

    def check(self, ds: Dataset, path: Path) -> None:
        """Raise if the single file ``ds`` does not match this choice."""
        s = _summary("", [(path, ds)])
        for want, have, label, tag in (
            (self.modality and self.modality.upper(), s.modality, "is", "Modality"),
            (self.series_uid, s.series_instance_uid, "belongs to series", "SeriesInstanceUID"),
            (self.series_number, s.series_number, "has SeriesNumber", "SeriesNumber"),
            (
                self.series_description and self.series_description.strip().upper(),
                s.series_description.strip().upper(),
                "has SeriesDescription",
                "SeriesDescription",
            ),
        ):
            if want is not None and want != have:
                raise SeriesSelectionError(path, f"file {label} {have}, not {want}", tag)


@dataclass(frozen=True)
class _Series:
    summary: SeriesSummary
    headers: tuple[Dataset, ...]  # parallel to summary.paths


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

    ``strict`` is False for folder walks, where text files are skipped (any other file
    must be readable DICOM).
    """
    if not path.exists():
        raise DicomInputError(path, "no such file or folder")
    if path.is_dir():
        dicomdir = path / "DICOMDIR"
        if dicomdir.is_file():
            ds = read_dataset(dicomdir, headers_only=True)
            if is_directory_file(ds):
                return _files_of_dicomdir(dicomdir, ds), True
        return files_below(path), False
    return [path], True


def _series_number(ds: Dataset) -> int | None:
    try:
        return integer(ds, "SeriesNumber")
    except (TypeError, ValueError):
        return None


def _summary(uid: str, members: list[tuple[Path, Dataset]]) -> SeriesSummary:
    first = members[0][1]
    return SeriesSummary(
        modality=text(first, "Modality").upper(),
        series_instance_uid=uid or text(first, "SeriesInstanceUID"),
        series_description=text(first, "SeriesDescription"),
        n_files=len(members),
        paths=tuple(p for p, _ in members),
        series_number=_series_number(first),
        localizer=all("LOCALIZER" in image_type(ds) for _, ds in members),
    )


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
        except DicomInputError as err:
            if strict:
                raise
            if not is_text_file(f):
                # a damaged or unreadable slice must not silently leave a gap
                raise type(err)(
                    f,
                    f"{err.reason}; every file in the study folder {root} that is not text "
                    "must be readable DICOM: fix it, or move it out of the folder",
                    err.tag,
                ) from None
            continue  # notes and other text files cannot be images
        if is_directory_file(ds):
            continue
        key = text(ds, "SeriesInstanceUID") or f"file:{f}"
        groups.setdefault(key, []).append((f, ds))
    out = []
    for key, members in groups.items():
        summary = _summary("" if key.startswith("file:") else key, members)
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


def select(series: list[_Series], root: Path, want: SeriesChoice) -> _Series:
    """The one series matching ``want``; SeriesSelectionError listing the choices.

    Localizer (scout) series are left out unless named explicitly: they are never the
    volume a case file means.
    """
    chosen = [s for s in series if want.matches(s.summary)]
    if not want.explicit and len(chosen) > 1:
        chosen = [s for s in chosen if not s.summary.localizer] or chosen
    listing = "; ".join(s.summary.describe() for s in series)
    if not chosen:
        raise SeriesSelectionError(root, f"no series matches {want.wanted()}; present: {listing}")
    if len(chosen) > 1:
        raise SeriesSelectionError(
            root,
            f"{len(chosen)} series found, choose one with series_uid, series_number or "
            "series_description: " + "; ".join(s.summary.describe() for s in chosen),
        )
    return chosen[0]

"""Loading the studies a case file names, each at most once per process.

:func:`load_study` is ``casereport.io.load`` behind a cache keyed by path, modality,
:class:`~casereport.case.model.Source` (per-view files, declared views and spacing,
series choice) and file stamp, so that the image checks, the panels and the
measurements of one run share one read of each study. Across the kernels of one render
the decoded studies are shared through :mod:`casereport.io.memo`
(``CASEREPORT_DERIVED_CACHE``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from casereport.errors import CaseFileError
from casereport.fileio import file_stamps_below, files_below

from .model import CaseSpec, PanelSpec, Source

if TYPE_CHECKING:
    from casereport.io import SpectVolume, Study


class Loader(Protocol):
    """(path, modality or None, how to read it) -> study."""

    def __call__(
        self, path: Path, modality: str | None = None, source: Source | None = None
    ) -> Study: ...


_CACHE: dict[tuple[str, str | None, Source | None, int], Study] = {}
_CACHE_SIZE = 16


def _stamp(path: Path) -> int:
    """Hash of the stamps of the files a study at ``path`` is read from (the file, or every
    file below the folder: :func:`casereport.fileio.files_below`)."""
    return hash(tuple(sorted(file_stamps_below(path).items())))


def read_study(path: Path, modality: str | None = None, source: Source | None = None) -> Study:
    """``casereport.io.load`` (or ``load_views`` for one file per view) with what the case
    file declares: views, pixel spacing, series choice."""
    # pydicom is imported only when a study is read
    from casereport.io import PlanarOptions, SeriesChoice, load, load_views

    source = source or Source()
    choice = SeriesChoice(
        modality=modality,
        series_uid=source.series_uid,
        series_number=source.series_number,
        series_description=source.series_description,
    )
    options = PlanarOptions(views=source.views or None, spacing_mm=source.spacing_mm)
    if source.view_files:
        files: dict[str, str | Path] = dict(source.view_files)
        return load_views(files, choice=choice, options=options)
    return load(path, choice=choice, options=options)


def load_study(path: Path, modality: str | None = None, source: Source | None = None) -> Study:
    """:func:`read_study`, cached in this process (``source`` None is ``Source()``, one
    entry for both)."""
    path = Path(path)
    source = source or Source()
    stamps = [_stamp(p) for _, p in source.view_files]
    key = (str(path.resolve()), modality, source, hash((_stamp(path), *stamps)))
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[key] = _read_shared(path, modality, source)
    return _CACHE[key]


def _read_shared(path: Path, modality: str | None, source: Source | None) -> Study:
    """:func:`read_study` through the render's derived-data cache (when it is on): keyed by
    the content of every file below ``path`` and of the per-view files."""
    from casereport.io.memo import cache_dir, cached

    if cache_dir() is None:
        return read_study(path, modality, source)
    source = source or Source()
    files = files_below(path) + [p for _, p in source.view_files]
    return cached(
        "casereport.case.studies.read_study",
        lambda: read_study(path, modality, source),
        key=[str(path.resolve()), modality, source],
        files=files,
        value_digest=True,
    )


def studies_for(
    spec: CaseSpec, panel: PanelSpec, load: Loader | None = None
) -> tuple[Study, SpectVolume | None]:
    """The loaded study of ``panel`` and, for fusion, its SPECT overlay."""
    load = load or load_study
    study = load(panel.study, panel.kind.modality.value, panel.source)
    overlay = load(panel.overlay, "NM") if panel.overlay is not None else None
    from casereport.io import SpectVolume

    if overlay is not None and not isinstance(overlay, SpectVolume):
        raise CaseFileError(
            spec.path, f"panels.{panel.panel_id}.overlay", f"{panel.overlay_rel!r} is not SPECT"
        )
    return study, overlay

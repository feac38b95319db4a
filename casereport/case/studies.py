"""Loading the studies a case file names, each at most once per process.

:func:`load_study` is ``casereport.io.load`` behind a cache keyed by path, modality and
file stamp, so that the image checks, the panels and the measurements of one run share
one read of each study.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from casereport.errors import CaseFileError

from .model import CaseSpec, PanelSpec

if TYPE_CHECKING:
    from casereport.io import SpectVolume, Study

#: Loader: (path, modality or None) -> study.
Loader = Callable[[Path, str | None], "Study"]

_CACHE: dict[tuple[str, str | None, int], Study] = {}
_CACHE_SIZE = 16


def _stamp(path: Path) -> int:
    if path.is_dir():
        return hash(
            tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in path.iterdir()))
        )
    st = path.stat()
    return hash((st.st_mtime_ns, st.st_size))


def load_study(path: Path, modality: str | None = None) -> Study:
    """``casereport.io.load(path, modality=...)``, cached in this process."""
    from casereport.io import load  # pydicom is imported only when a study is read

    path = Path(path)
    key = (str(path.resolve()), modality, _stamp(path))
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[key] = load(path, modality=modality)
    return _CACHE[key]


def studies_for(
    spec: CaseSpec, panel: PanelSpec, load: Loader | None = None
) -> tuple[Study, SpectVolume | None]:
    """The loaded study of ``panel`` and, for fusion, its SPECT overlay."""
    load = load or load_study
    study = load(panel.study, panel.kind.modality.value)
    overlay = load(panel.overlay, "NM") if panel.overlay is not None else None
    from casereport.io import SpectVolume

    if overlay is not None and not isinstance(overlay, SpectVolume):
        raise CaseFileError(
            spec.path, f"panels.{panel.panel_id}.overlay", f"{panel.overlay_rel!r} is not SPECT"
        )
    return study, overlay

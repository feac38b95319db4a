"""CT series and NM reconstructed tomography -> CTVolume / SpectVolume with an LPS affine.

Slices of a series are sorted by their position along the slice normal (never by file
name or InstanceNumber). The slice step is the vector between consecutive sorted
positions, so a tilted gantry gives a sheared affine rather than a wrong one.

Spacing rules (``step`` = median distance between consecutive slices):

* all distances within 2 % of ``step``: regular, nothing to report;
* a distance of about 2 or 3 ``step`` (within 0.1 ``step``): one or two missing slices,
  filled by linear interpolation and reported in ``Volume.warnings``;
* a distance between 0.8 and 1.25 ``step``: uneven spacing, resampled to a regular grid
  by linear interpolation and reported;
* anything else (larger gaps, irregular spacing): :class:`GeometryError`;
* two slices at the same position: :class:`GeometryError`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID

from casereport.errors import GeometryError
from casereport.io.common import (
    check_spacing,
    floats,
    image_type,
    orientation,
    source_info,
    text,
)
from casereport.io.pixels import check_pixel_budget, load_frames, n_frames
from casereport.io.types import CTVolume, SpectVolume

_DUPLICATE_MM = 0.01
_MAX_SLICE_STEP_MM = 100.0
_MIN_SLICE_STEP_MM = 0.01


@dataclass(frozen=True)
class _SliceGeom:
    path: Path
    position: np.ndarray  # IPP, mm
    row_dir: np.ndarray
    col_dir: np.ndarray
    spacing: tuple[float, float]  # (row, col) mm
    shape: tuple[int, int]


def _slice_geom(path: Path, ds: Dataset) -> _SliceGeom:
    ipp = floats(ds, "ImagePositionPatient", 3, path)
    r, c = orientation(ds, path)
    ps = floats(ds, "PixelSpacing", 2, path)
    assert ipp is not None and ps is not None
    dy, dx = check_spacing(ps, "PixelSpacing", path)
    rows, cols = ds.get("Rows"), ds.get("Columns")
    if not rows or not cols:
        raise GeometryError(path, "Rows/Columns missing or zero", "Rows")
    if n_frames(ds, path) != 1:
        raise GeometryError(path, "multi-frame file in a single-slice series", "NumberOfFrames")
    return _SliceGeom(path, np.array(ipp), r, c, (dy, dx), (int(rows), int(cols)))


def _check_consistent(geoms: Sequence[_SliceGeom]) -> None:
    g0 = geoms[0]
    for g in geoms[1:]:
        if g.shape != g0.shape:
            raise GeometryError(
                g.path, f"matrix {g.shape} differs from {g0.shape} in {g0.path.name}", "Rows"
            )
        if not (
            np.allclose(g.row_dir, g0.row_dir, atol=1e-4)
            and np.allclose(g.col_dir, g0.col_dir, atol=1e-4)
        ):
            raise GeometryError(
                g.path, f"orientation differs from {g0.path.name}", "ImageOrientationPatient"
            )
        if not np.allclose(g.spacing, g0.spacing, rtol=1e-4, atol=1e-4):
            raise GeometryError(
                g.path,
                f"PixelSpacing {g.spacing} differs from {g0.spacing} in {g0.path.name}",
                "PixelSpacing",
            )


@dataclass(frozen=True)
class _Plan:
    order: tuple[int, ...]  # indices of the input slices, sorted along the normal
    targets: np.ndarray  # output slice positions along the normal (mm)
    positions: np.ndarray  # sorted input positions along the normal (mm)
    origin: np.ndarray  # LPS of output slice 0
    step: np.ndarray  # LPS vector between output slices
    warnings: tuple[str, ...]

    @property
    def regular(self) -> bool:
        return len(self.targets) == len(self.positions) and np.allclose(
            self.targets, self.positions, atol=max(1e-3, 0.02 * float(np.linalg.norm(self.step)))
        )


def _plan(geoms: Sequence[_SliceGeom], fallback_step_mm: float | None) -> _Plan:
    """Sort slices along the normal; check duplicates, gaps and spacing; choose the grid."""
    g0 = geoms[0]
    normal = np.cross(g0.row_dir, g0.col_dir)
    d = np.array([float(g.position @ normal) for g in geoms])
    order = tuple(int(i) for i in np.argsort(d, kind="stable"))
    ds_ = d[list(order)]
    pos = np.array([geoms[i].position for i in order])
    if len(geoms) == 1:
        if fallback_step_mm is None:
            raise GeometryError(
                g0.path,
                "single slice without SpacingBetweenSlices or SliceThickness",
                "SliceThickness",
            )
        return _Plan(order, ds_, ds_, pos[0], normal * fallback_step_mm, ("single slice",))
    diffs = np.diff(ds_)
    for k in np.nonzero(diffs < _DUPLICATE_MM)[0]:
        a, b = geoms[order[k]], geoms[order[k + 1]]
        raise GeometryError(
            b.path,
            f"duplicate slice position {ds_[k]:.3f} mm along the normal (also in {a.path.name}); "
            "the series mixes two reconstructions or acquisitions: export one, or pick it "
            "by series_number/series_description",
            "ImagePositionPatient",
        )
    step = float(np.median(diffs))
    if step > _MAX_SLICE_STEP_MM:
        raise GeometryError(
            g0.path, f"slice spacing {step:.1f} mm is implausible", "ImagePositionPatient"
        )
    warnings: list[str] = []
    ratios = diffs / step
    gaps = []
    uneven = []
    for k, r in enumerate(ratios):  # type: ignore[assignment]
        where = f"between {ds_[k]:.2f} and {ds_[k + 1]:.2f} mm"
        if abs(r - 1) <= 0.02:
            continue
        m = round(r)
        if m in (2, 3) and abs(r - m) <= 0.1:
            gaps.append((m - 1, where))
        elif 0.8 <= r <= 1.25:
            uneven.append(diffs[k])
        else:
            extra = f" (about {m - 1} missing slices)" if m >= 4 and abs(r - m) <= 0.1 else ""
            raise GeometryError(
                geoms[order[k + 1]].path,
                f"inconsistent slice spacing: {diffs[k]:.2f} mm {where}{extra}, "
                f"typical spacing {step:.2f} mm",
                "ImagePositionPatient",
            )
    if gaps:
        n_missing = sum(n for n, _ in gaps)
        warnings.append(
            f"{n_missing} missing slice(s) ({'; '.join(w for _, w in gaps)}), "
            "filled by linear interpolation"
        )
    if uneven:
        warnings.append(
            f"uneven slice spacing ({min(uneven):.2f}-{max(uneven):.2f} mm, "
            f"typical {step:.2f} mm), "
            "resampled to a regular grid by linear interpolation"
        )
    n_out = int(round((ds_[-1] - ds_[0]) / step)) + 1
    if not warnings:
        step = float((ds_[-1] - ds_[0]) / (len(ds_) - 1))
        n_out = len(ds_)
    targets = ds_[0] + step * np.arange(n_out)
    step_vec = (pos[-1] - pos[0]) / (n_out - 1)
    # Every slice must lie on the line through the first and last positions.
    t = (ds_ - ds_[0]) / (ds_[-1] - ds_[0])
    off = np.linalg.norm(pos - (pos[0] + np.outer(t, pos[-1] - pos[0])), axis=1)
    tol = max(0.5, 0.5 * min(g0.spacing))
    if np.any(off > tol):
        k = int(np.argmax(off))  # type: ignore[assignment]
        raise GeometryError(
            geoms[order[k]].path,
            f"slice position is {off[k]:.2f} mm off the line through the other slices",
            "ImagePositionPatient",
        )
    return _Plan(order, targets, ds_, pos[0], step_vec, tuple(warnings))


def _affine(g0: _SliceGeom, origin: np.ndarray, step: np.ndarray) -> np.ndarray:
    dy, dx = g0.spacing
    a = np.eye(4)
    a[:3, 0] = g0.row_dir * dx
    a[:3, 1] = g0.col_dir * dy
    a[:3, 2] = step
    a[:3, 3] = origin
    return a


def _resample(slices: np.ndarray, positions: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Linear interpolation of sorted slices (n, r, c) at target positions along the normal."""
    out = np.empty((len(targets),) + slices.shape[1:], dtype=np.float32)
    for k, t in enumerate(targets):
        i = int(np.clip(np.searchsorted(positions, t, side="right") - 1, 0, len(positions) - 2))
        w = float(np.clip((t - positions[i]) / (positions[i + 1] - positions[i]), 0.0, 1.0))
        out[k] = slices[i] if w == 0 else (1 - w) * slices[i] + w * slices[i + 1]
    return out


def _read_slice_into(path: Path, header: Dataset, out: np.ndarray) -> None:
    """Decode one slice into ``out`` (float32, rescaled)."""
    load_frames(path, header, out[np.newaxis])


def _workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _compressed(ds: Dataset) -> bool:
    """True if the pixel data are encapsulated (decoders release the GIL: use threads)."""
    meta = getattr(ds, "file_meta", None)
    ts = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    return ts is not None and UID(str(ts)).is_compressed


def _fallback_step(ds: Dataset, path: Path) -> float | None:
    for kw in ("SpacingBetweenSlices", "SliceThickness"):
        v = floats(ds, kw, 1, path, required=False)
        if v is not None and v[0] != 0:
            return abs(check_spacing([abs(v[0])], kw, path)[0])
    return None


def stack_slices(
    items: Sequence[tuple[Path, Dataset]],
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Single-frame slices of one series -> (array[k, j, i] float32 rescaled, affine, warnings).

    Args:
        items: (path, dataset) pairs; a dataset may be a header read without pixel data,
            in which case the pixels are read from the file.
    """
    geoms = [_slice_geom(p, ds) for p, ds in items]
    _check_consistent(geoms)
    plan = _plan(geoms, _fallback_step(items[0][1], items[0][0]))
    rows, cols = geoms[0].shape
    for path, ds in items:  # before the volume is allocated: hostile headers cost nothing
        check_pixel_budget(ds, path, frames=1)
    check_pixel_budget(items[0][1], items[0][0], frames=len(items), ceiling_only=True)
    arr = np.empty((len(items), rows, cols), dtype=np.float32)
    jobs = [(items[i][0], items[i][1], arr[k]) for k, i in enumerate(plan.order)]
    if len(jobs) <= 2 or not _compressed(items[0][1]):
        # Uncompressed slices: reading is memory-bound; threads only add contention.
        for job in jobs:
            _read_slice_into(*job)
    else:
        with ThreadPoolExecutor(max_workers=_workers()) as pool:
            for fut in [pool.submit(_read_slice_into, *job) for job in jobs]:
                fut.result()
    if not plan.regular:
        arr = _resample(arr, plan.positions, plan.targets)
    return arr, _affine(geoms[0], plan.origin, plan.step), plan.warnings


def _set_aside(
    items: Sequence[tuple[Path, Dataset]],
) -> tuple[list[tuple[Path, Dataset]], list[str]]:
    """Drop localizer images and second copies of one instance from a CT series.

    Some scanners give the scout the axial series' SeriesInstanceUID, and exports made
    twice hold the same SOPInstanceUID in two files; neither is a slice of the volume.
    """
    kept: list[tuple[Path, Dataset]] = []
    seen: dict[str, Path] = {}
    scouts: list[str] = []
    copies: list[str] = []
    for p, ds in items:
        if "LOCALIZER" in image_type(ds):
            scouts.append(p.name)
            continue
        sop = text(ds, "SOPInstanceUID")
        if sop and sop in seen:
            copies.append(f"{p.name} (same instance as {seen[sop].name})")
            continue
        if sop:
            seen[sop] = p
        kept.append((p, ds))
    if not kept:
        return list(items), []
    warns = []
    if scouts:
        warns.append(f"localizer image(s) left out: {', '.join(scouts[:5])}")
    if copies:
        warns.append(f"second copies left out: {', '.join(copies[:5])}")
    return kept, warns


def _tilt_warning(affine: np.ndarray) -> list[str]:
    """A note when the slice step is not along the slice normal (gantry tilt)."""
    normal = np.cross(affine[:3, 0], affine[:3, 1])
    step = affine[:3, 2]
    cos = abs(float(normal @ step)) / float(np.linalg.norm(normal) * np.linalg.norm(step))
    angle = float(np.degrees(np.arccos(min(1.0, cos))))
    if angle < 0.5:
        return []
    return [
        f"gantry tilt of {angle:.1f} degrees: slices are sheared; planes are resampled "
        "from the patient positions of every slice"
    ]


def build_ct(items: Sequence[tuple[Path, Dataset]]) -> CTVolume:
    """A CTVolume in HU from the files of one CT series (headers or full datasets).

    Localizer images and second copies of an instance are left out with a warning; a
    tilted gantry gives a sheared affine (every voxel keeps its patient position).
    """
    kept, notes = _set_aside(items)
    arr, affine, warns = stack_slices(kept)
    src = source_info([p for p, _ in kept], kept[0][1])
    return CTVolume(
        array=arr,
        affine=affine,
        source=src,
        warnings=(*notes, *warns, *_tilt_warning(affine)),
    )


def _geometry_item(ds: Dataset) -> Dataset:
    """Detector Information Sequence item 0 if it holds the geometry, else the root."""
    seq = ds.get("DetectorInformationSequence")
    if seq and "ImagePositionPatient" in seq[0]:
        return seq[0]
    return ds


def _first(ds: Dataset, item: Dataset, kw: str, n: int, path: Path) -> tuple[float, ...] | None:
    for src in (ds, item) if kw in ("PixelSpacing", "SpacingBetweenSlices") else (item, ds):
        v = floats(src, kw, n, path, required=False)
        if v is not None:
            return v
    return None


def build_spect_multiframe(
    path: Path, ds: Dataset, paths: tuple[Path, ...] | None = None
) -> SpectVolume:
    """NM RECON TOMO, one multi-frame file (one frame per slice) -> SpectVolume.

    Geometry: ImagePositionPatient/ImageOrientationPatient from the Detector Information
    Sequence (or the root), PixelSpacing from the root (or the sequence), slice step =
    normal x SpacingBetweenSlices (a negative value flips the direction; SliceThickness
    is used, with a warning, if SpacingBetweenSlices is absent).
    """
    item = _geometry_item(ds)
    warns: list[str] = []
    ipp = _first(ds, item, "ImagePositionPatient", 3, path)
    if ipp is None:
        raise GeometryError(
            path,
            "ImagePositionPatient is missing (root and Detector Information Sequence)",
            "ImagePositionPatient",
        )
    if "ImageOrientationPatient" not in item and "ImageOrientationPatient" not in ds:
        raise GeometryError(
            path,
            "ImageOrientationPatient is missing (root and Detector Information Sequence)",
            "ImageOrientationPatient",
        )
    r, c = orientation(item if "ImageOrientationPatient" in item else ds, path)
    ps = _first(ds, item, "PixelSpacing", 2, path)
    if ps is None:
        raise GeometryError(path, "PixelSpacing is missing", "PixelSpacing")
    dy, dx = check_spacing(ps, "PixelSpacing", path)
    sbs = _first(ds, item, "SpacingBetweenSlices", 1, path)
    if sbs is None:
        st = _first(ds, item, "SliceThickness", 1, path)
        if st is None:
            raise GeometryError(
                path,
                "neither SpacingBetweenSlices nor SliceThickness is present",
                "SpacingBetweenSlices",
            )
        sbs = st
        warns.append("SpacingBetweenSlices absent; SliceThickness used as the slice step")
    step = sbs[0]
    if step == 0 or not (_MIN_SLICE_STEP_MM <= abs(step) <= _MAX_SLICE_STEP_MM):
        raise GeometryError(path, f"slice spacing {step} mm is implausible", "SpacingBetweenSlices")
    arr = load_frames(path, ds)
    normal = np.cross(r, c)
    affine = np.eye(4)
    affine[:3, 0] = r * dx
    affine[:3, 1] = c * dy
    affine[:3, 2] = normal * step
    affine[:3, 3] = ipp
    src = source_info(paths or (path,), ds)
    return SpectVolume(
        array=arr,
        affine=affine,
        source=src,
        warnings=tuple(warns),
        units=text(ds, "Units") or "CNTS",
    )


def build_spect(items: Sequence[tuple[Path, Dataset]]) -> SpectVolume:
    """SpectVolume from one multi-frame file or from single-frame slice files."""
    if len(items) == 1 and n_frames(items[0][1], items[0][0]) > 1:
        return build_spect_multiframe(items[0][0], items[0][1])
    if any(n_frames(ds, p) > 1 for p, ds in items):
        raise GeometryError(
            items[0][0], "several multi-frame files in one reconstructed series", "NumberOfFrames"
        )
    arr, affine, warns = stack_slices(items)
    src = source_info([p for p, _ in items], items[0][1])
    return SpectVolume(
        array=arr,
        affine=affine,
        source=src,
        warnings=warns,
        units=text(items[0][1], "Units") or "CNTS",
    )


def hu_range(vol: CTVolume) -> tuple[float, float]:
    """(min, max) HU over the volume."""
    return float(np.min(vol.array)), float(np.max(vol.array))

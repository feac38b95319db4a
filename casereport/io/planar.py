"""Planar NM (static views and whole-body sweeps) -> PlanarStudy / WholeBody.

Scanners export planar studies in several shapes: one multi-frame NM object with the
anterior and posterior views, one file per view (NM, or Secondary Capture with Modality
NM), a single view, both views side by side in one Secondary Capture image, spot views
one file per view. View names are resolved per frame, in this order, and the source used
is recorded in ``PlanarImage.view_source``:

1. ``ViewCodeSequence`` of the frame's Detector Information Sequence item;
2. ``ViewCodeSequence`` at the root;
3. ``ImageType`` values (single-frame objects only), e.g. ``ANTERIOR``;
4. ``SeriesDescription``, ``ImageComments`` then ``DerivationDescription`` words
   (single-frame objects only);
5. the views declared by the case file (``views: [ANT]``), for frames nothing names;
6. ``DetectorVector`` for two-detector objects: detector 1 = ANT, detector 2 = POST
   (the usual dual-head convention; the source string says it was assumed).

A single whole-body frame holding two bodies side by side (a gap of background columns
running the full height near the middle) is split at the gap: left ANT, right POST, the
convention of vendor displays. A frame whose view cannot be found is named ``FRAME<n>``
with source ``"none"``.

Pixel spacing: root ``PixelSpacing``, the frame's Detector Information Sequence item,
``ImagerPixelSpacing``, ``NominalScannedPixelSpacing``, else the case file's
``spacing_mm``; the source is recorded in ``PlanarImage.spacing_source``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from casereport.errors import DicomInputError, GeometryError
from casereport.io.common import (
    check_spacing,
    element,
    floats,
    image_type,
    integers,
    source_info,
    text,
)
from casereport.io.pixels import load_frames, n_frames
from casereport.io.rawseq import RawItem, Unsupported, raw_sequence, raw_sequence_items, raw_text
from casereport.io.types import PlanarImage, PlanarStudy, WholeBody

STANDARD_VIEWS = ("ANT", "POST", "LAO", "RAO", "LPO", "RPO", "LLAT", "RLAT")


@dataclass(frozen=True)
class PlanarOptions:
    """What the caller knows beyond the file (usually from the case file).

    Attributes:
        views: declared view names: one per frame for frames whose view is not recorded,
            or two (left, right) for one image holding two views side by side.
        spacing_mm: (row, column) pixel spacing in mm for files that record none.
        lenient: describe rather than refuse (``inspect``/``view``): an incomplete
            whole-body study becomes a PlanarStudy with warnings, a missing spacing is
            taken as 1 mm with a warning.
    """

    views: tuple[str, ...] | None = None
    spacing_mm: tuple[float, float] | None = None
    lenient: bool = False

    def __post_init__(self) -> None:
        if self.views is not None:
            object.__setattr__(self, "views", tuple(v.upper() for v in self.views))


#: SNOMED CT codes of CID 26 "Nuclear Medicine Projection"; other codes fall back on CodeMeaning.
_VIEW_CODES = {
    "399321004": "ANT",
    "399001007": "POST",
    "399074003": "LAO",
    "399108003": "RAO",
    "399136008": "LPO",
    "399075002": "RPO",
    "399118008": "LLAT",
    "399198007": "RLAT",
}

_PHRASES = (
    ("LEFT ANTERIOR OBLIQUE", "LAO"),
    ("RIGHT ANTERIOR OBLIQUE", "RAO"),
    ("LEFT POSTERIOR OBLIQUE", "LPO"),
    ("RIGHT POSTERIOR OBLIQUE", "RPO"),
    ("LEFT LATERAL", "LLAT"),
    ("RIGHT LATERAL", "RLAT"),
)
_TOKENS = {
    "ANT": "ANT",
    "ANTERIOR": "ANT",
    "POST": "POST",
    "POSTERIOR": "POST",
    "LAO": "LAO",
    "RAO": "RAO",
    "LPO": "LPO",
    "RPO": "RPO",
    "LLAT": "LLAT",
    "RLAT": "RLAT",
}

#: Free-text attributes searched for view keywords, in order.
TEXT_SOURCES = ("SeriesDescription", "ImageComments", "DerivationDescription")

#: A column belongs to the gap between two side-by-side bodies when its counts are at
#: most this fraction of the brightest column's.
_GAP_FRACTION = 0.03


def view_from_text(s: str) -> str | None:
    """A view name found in free text, or None if absent or ambiguous (e.g. 'ANT/POST')."""
    up = " ".join(re.split(r"[^A-Z0-9]+", s.upper())).strip()
    found = {v for phrase, v in _PHRASES if phrase in up}
    if not found:
        found = {_TOKENS[t] for t in up.split() if t in _TOKENS}
    return found.pop() if len(found) == 1 else None


def _view_from_code(value: str, meaning: Callable[[], str]) -> str | None:
    """The view of a code: by CID 26 code value, else words of the code meaning."""
    if value in _VIEW_CODES:
        return _VIEW_CODES[value]
    return view_from_text(meaning())


def _view_from_code_seq(item: Dataset | None) -> str | None:
    if item is None:
        return None
    seq = item.get("ViewCodeSequence")
    if not seq:
        return None
    code = seq[0]
    value = text(code, "CodeValue") or text(code, "LongCodeValue")
    return _view_from_code(value, lambda: text(code, "CodeMeaning"))


_VIEW_CODE_SEQUENCE = 0x00540220
_CODE_VALUE = 0x00080100
_LONG_CODE_VALUE = 0x00080119
_CODE_MEANING = 0x00080104


def _view_from_raw_item(item: RawItem) -> str | None:
    """As :func:`_view_from_code_seq` for an item read by :mod:`casereport.io.rawseq`.

    Raises:
        Unsupported: values that only pydicom's reading can interpret.
    """
    seq = raw_sequence(item, _VIEW_CODE_SEQUENCE)
    if not seq:
        return None
    code = seq[0]
    value = raw_text(code, _CODE_VALUE) or raw_text(code, _LONG_CODE_VALUE)
    return _view_from_code(value, lambda: raw_text(code, _CODE_MEANING))


class _DetectorItems:
    """The Detector Information Sequence of one dataset, read once.

    pydicom builds a full Dataset per item on first access, which costs more than the
    rest of a two-frame whole-body load (bench/bench_io.py ``wholebody_nm``: 1.06 x
    ``dcmread().pixel_array`` with the raw reader, 1.25-1.38 x without, target 1.2).
    So the view codes are read from the raw bytes when :mod:`casereport.io.rawseq`
    accepts them, otherwise through pydicom; pydicom items are built only when asked for.
    """

    def __init__(self, ds: Dataset) -> None:
        self._ds = ds
        self._raw = raw_sequence_items(element(ds, "DetectorInformationSequence"))
        self._seq: Sequence[Dataset] | None = None
        if self._raw is None:
            self._seq = ds.get("DetectorInformationSequence") or []
        self._views: dict[int, str | None] = {}

    def __len__(self) -> int:
        return len(self._raw) if self._raw is not None else len(self._seq or [])

    def dataset(self, index: int) -> Dataset:
        """Item ``index`` as a pydicom Dataset (the sequence is converted on first call)."""
        if self._seq is None:
            self._seq = self._ds.get("DetectorInformationSequence") or []
        return self._seq[index]

    def view(self, index: int) -> str | None:
        """The view named by item ``index``'s View Code Sequence, or None."""
        if index not in self._views:
            self._views[index] = self._read_view(index)
        return self._views[index]

    def _read_view(self, index: int) -> str | None:
        if self._raw is not None:
            try:
                return _view_from_raw_item(self._raw[index])
            except Unsupported:
                pass  # read the item through pydicom instead
        return _view_from_code_seq(self.dataset(index))


def _detectors(ds: Dataset, nframes: int, path: Path) -> list[int | None]:
    try:
        values = integers(ds, "DetectorVector")
    except (TypeError, ValueError):
        raise DicomInputError(
            path, "DetectorVector is not a list of integers", "DetectorVector"
        ) from None
    if values is None:
        return [None] * nframes
    if len(values) != nframes:
        raise DicomInputError(
            path, f"DetectorVector has {len(values)} values for {nframes} frames", "DetectorVector"
        )
    return list(values)


def _detector_index(n_items: int, det: int | None, frame: int, nframes: int) -> int | None:
    """Index of the Detector Information Sequence item describing ``frame``, or None."""
    if not n_items:
        return None
    if det is not None and 1 <= det <= n_items:
        return det - 1
    if n_items == nframes:
        return frame
    if n_items == 1:
        return 0
    return None


def recorded_view(
    ds: Dataset, item_view: str | None, has_item: bool, nframes: int, det: int | None, n_det: int
) -> tuple[str | None, str]:
    """(view name or None, attribute it came from) for one frame, from the file alone.

    ``item_view`` is the view coded in the frame's Detector Information Sequence item
    (``has_item`` False when there is no item). The DetectorVector convention is returned
    with a source saying it was assumed.
    """
    if item_view:
        return item_view, "DetectorInformationSequence.ViewCodeSequence"
    if nframes == 1 or not has_item:
        v = _view_from_code_seq(ds)
        if v:
            return v, "ViewCodeSequence"
    if nframes == 1:
        v = view_from_text(" ".join(image_type(ds)[2:]))
        if v:
            return v, "ImageType"
        for kw in TEXT_SOURCES:
            v = view_from_text(text(ds, kw))
            if v:
                return v, kw
    if det in (1, 2) and n_det == 2:
        return ("ANT" if det == 1 else "POST"), "DetectorVector (assumed 1=ANT, 2=POST)"
    return None, "none"


_SPACING_PLACES = (
    ("root", "PixelSpacing", "PixelSpacing"),
    ("item", "PixelSpacing", "DetectorInformationSequence.PixelSpacing"),
    ("root", "ImagerPixelSpacing", "ImagerPixelSpacing"),
    ("root", "NominalScannedPixelSpacing", "NominalScannedPixelSpacing"),
)


def recorded_spacing(
    ds: Dataset, item: Callable[[], Dataset | None], path: Path
) -> tuple[tuple[float, float], str] | None:
    """((row, column) spacing in mm, where it came from) as the file records it, or None.

    ``item`` returns the frame's Detector Information Sequence item (None if none); it is
    called only when the root has no PixelSpacing.
    """
    for where, kw, label in _SPACING_PLACES:
        src = ds if where == "root" else item()
        if src is None:
            continue
        v = floats(src, kw, 2, path, required=False)
        if v is not None:
            dy, dx = check_spacing(v, kw, path)
            return (dy, dx), label
    return None


def _pixel_spacing(
    ds: Dataset,
    item: Callable[[], Dataset | None],
    path: Path,
    options: PlanarOptions,
    warns: list[str],
) -> tuple[tuple[float, float], str]:
    found = recorded_spacing(ds, item, path)
    declared = options.spacing_mm
    if found is not None:
        if declared is not None and not np.allclose(found[0], declared, rtol=0.01):
            warns.append(
                f"{path.name}: the case file declares spacing {list(declared)} mm, the file "
                f"records {list(found[0])} mm ({found[1]}); the file's value is used"
            )
        return found
    if declared is not None:
        dy, dx = check_spacing(declared, "spacing_mm", path)
        return (dy, dx), "case file"
    places = ", ".join(label for _, _, label in _SPACING_PLACES)
    if options.lenient:
        warns.append(f"{path.name}: no pixel spacing ({places}); 1 mm per pixel assumed")
        return (1.0, 1.0), "unknown"
    raise GeometryError(
        path,
        f"no pixel spacing (looked at {places}); declare spacing_mm: [ROW, COLUMN] "
        "for this study in the case file",
        "PixelSpacing",
    )


def _duration_s(ds: Dataset) -> float | None:
    raw = text(ds, "ActualFrameDuration")
    try:
        if raw and float(raw) > 0:
            return float(raw) / 1000.0
        length, velocity = text(ds, "ScanLength"), text(ds, "ScanVelocity")
        if length and velocity and float(velocity) > 0:
            return float(length) / float(velocity)
    except (TypeError, ValueError):
        return None
    return None


def find_gap(counts: np.ndarray) -> tuple[int, int] | None:
    """(first, last + 1) columns of a background band running the full image height in
    the middle half of ``counts`` (rows, cols), with a body on each side; None if absent.

    Two views exported side by side in one image show such a band; a single body (even
    with the legs apart) does not, because the head and trunk fill the middle columns.
    """
    cols = counts.shape[1]
    profile = counts.sum(axis=0, dtype=np.float64)
    peak = float(profile.max()) if profile.size else 0.0
    if peak <= 0 or cols < 8:
        return None
    low = profile <= _GAP_FRACTION * peak
    lo, hi = cols // 4, cols - cols // 4
    best: tuple[int, int] | None = None
    c = lo
    while c < hi:
        if low[c]:
            start = c
            while c < cols and low[c]:
                c += 1
            while start > 0 and low[start - 1]:
                start -= 1
            if best is None or abs((start + c) / 2 - cols / 2) < abs(sum(best) / 2 - cols / 2):
                best = (start, c)
        c += 1
    if best is None:
        return None
    left, right = profile[: best[0]], profile[best[1] :]
    if left.size == 0 or right.size == 0:
        return None
    if left.max() < 0.2 * peak or right.max() < 0.2 * peak:
        return None
    return best


def _split_side_by_side(
    img: PlanarImage, names: tuple[str, str], source: str, gap: tuple[int, int] | None
) -> list[PlanarImage]:
    """Two views cut from one image at the middle of ``gap`` (or the middle column)."""
    cols = img.shape[1]
    cut = (gap[0] + gap[1]) // 2 if gap is not None else cols // 2
    where = f"split at column {cut} of {cols}"
    return [
        replace(
            img,
            counts=img.counts[:, :cut],
            view=names[0],
            view_source=f"{source} (left half, {where})",
            columns=(0, cut),
        ),
        replace(
            img,
            counts=img.counts[:, cut:],
            view=names[1],
            view_source=f"{source} (right half, {where})",
            columns=(cut, cols),
        ),
    ]


def planar_views(
    ds: Dataset,
    path: Path,
    paths: tuple[Path, ...] | None = None,
    options: PlanarOptions | None = None,
    warns: list[str] | None = None,
) -> list[PlanarImage]:
    """Every frame of a planar NM dataset (full or header only) as a PlanarImage.

    Counts are float32 after Rescale Slope/Intercept. Views not recorded in the file get
    the declared ones (``options.views``, one per frame) or stay ``FRAME<n>`` with source
    ``"none"``. Tolerated problems are appended to ``warns``.
    """
    options = options or PlanarOptions()
    warns = [] if warns is None else warns
    nframes = n_frames(ds, path)
    counts = load_frames(path, ds)
    dets = _detectors(ds, nframes, path)
    n_det = len({d for d in dets if d is not None})
    src = source_info(paths or (path,), ds)
    duration = _duration_s(ds)
    items = _DetectorItems(ds)
    declared = options.views if options.views and len(options.views) == nframes else None
    out = []
    spacing: dict[int | None, tuple[tuple[float, float], str]] = {}
    root = floats(ds, "PixelSpacing", 2, path, required=False)
    if root is not None:  # the same for every frame: read once
        shared = _pixel_spacing(ds, lambda: None, path, options, warns)
        spacing = {i: shared for i in (None, *range(len(items)))}
    for f in range(nframes):
        index = _detector_index(len(items), dets[f], f, nframes)
        item_view = None if index is None else items.view(index)
        view, view_source = recorded_view(ds, item_view, index is not None, nframes, dets[f], n_det)
        if declared is not None and (view is None or view_source.startswith("DetectorVector")):
            view, view_source = declared[f], "case file"
        if index not in spacing:
            spacing[index] = _pixel_spacing(
                ds,
                lambda i=index: None if i is None else items.dataset(i),  # type: ignore[misc]
                path,
                options,
                warns,
            )
        (dy, dx), spacing_source = spacing[index]
        out.append(
            PlanarImage(
                counts=counts[f],
                view=view or f"FRAME{f + 1}",
                view_source=view_source,
                pixel_spacing_mm=(dy, dx),
                duration_s=duration,
                frame_index=f,
                source=src,
                spacing_source=spacing_source,
            )
        )
    if nframes == 1 and not out[0].view_known:
        out = _maybe_split(ds, out[0], options)
    return out


def _maybe_split(ds: Dataset, img: PlanarImage, options: PlanarOptions) -> list[PlanarImage]:
    """A single frame without a recorded view: split it if it holds two bodies side by side
    (declared with two views, or detected in a whole-body image)."""
    two = options.views if options.views and len(options.views) == 2 else None
    if two is not None:
        return _split_side_by_side(img, (two[0], two[1]), "case file", find_gap(img.counts))
    if is_whole_body(ds):
        gap = find_gap(img.counts)
        if gap is not None:
            return _split_side_by_side(
                img, ("ANT", "POST"), "layout: two bodies side by side, left=ANT assumed", gap
            )
    return [img]


def _describe(views: Sequence[PlanarImage]) -> str:
    shown = ", ".join(
        f"{v.view if v.view_known else 'unknown'} (from {v.view_source})" for v in views[:6]
    )
    return (shown or "none") + (f" and {len(views) - 6} more" if len(views) > 6 else "")


def assemble(
    views: Sequence[PlanarImage],
    *,
    whole_body: bool,
    path: Path,
    lenient: bool,
    warnings: Sequence[str] = (),
) -> PlanarStudy | WholeBody:
    """A PlanarStudy (static) or WholeBody from resolved views.

    A whole-body study holds at most one ANT and one POST view and at least one of them;
    anything else is an error, or with ``lenient`` a PlanarStudy with a warning.
    """
    src = views[0].source
    warns = list(warnings)
    unknown = [v for v in views if not v.view_known]
    if unknown:
        warns.append(
            f"view not recorded for {len(unknown)} frame(s) ({_describe(unknown)}); "
            "declare it in the case file (views: [ANT])"
        )
    if not whole_body:
        return PlanarStudy(views=tuple(views), source=src, warnings=tuple(warns))
    ant = [v for v in views if v.view == "ANT"]
    post = [v for v in views if v.view == "POST"]
    if len(ant) <= 1 and len(post) <= 1 and len(ant) + len(post) == len(views):
        missing = [name for name, found in (("ANT", ant), ("POST", post)) if not found]
        if missing:
            warns.append(f"whole-body study has no {' or '.join(missing)} view")
        return WholeBody(
            anterior=ant[0] if ant else None,
            posterior=post[0] if post else None,
            source=src,
            warnings=tuple(warns),
        )
    problem = "a whole-body study holds at most one ANT and one POST view; found " + _describe(
        views
    )
    if lenient:
        if len(ant) <= 1 and len(post) <= 1 and unknown:
            return PlanarStudy(views=tuple(views), source=src, warnings=tuple(warns))
        return PlanarStudy(views=tuple(views), source=src, warnings=(*warns, problem))
    hint = (
        "; declare the views in the case file (views: [ANT] or study: {ANT: ..., POST: ...})"
        if unknown or not {v.view for v in views} <= {"ANT", "POST"}
        else ""
    )
    raise DicomInputError(path, problem + hint, "ViewCodeSequence")


def build_planar(
    items: list[tuple[Path, Dataset]],
    *,
    whole_body: bool,
    options: PlanarOptions | None = None,
) -> PlanarStudy | WholeBody:
    """A PlanarStudy (static) or WholeBody from the files of one series (headers or full)."""
    options = options or PlanarOptions()
    paths = tuple(p for p, _ in items)
    total = sum(n_frames(ds, p) for p, ds in items)
    per_file = options
    if len(items) > 1:
        # Declared views name every frame of the series in file order.
        per_file = replace(options, views=None)
    views: list[PlanarImage] = []
    warns: list[str] = []
    for p, ds in items:
        views.extend(planar_views(ds, p, paths, per_file, warns))
    if len(items) > 1 and options.views and len(options.views) == total:
        views = [
            v if v.view_known else replace(v, view=name, view_source="case file")
            for v, name in zip(views, options.views, strict=True)
        ]
    return assemble(
        views, whole_body=whole_body, path=paths[0], lenient=options.lenient, warnings=warns
    )


def is_whole_body(ds: Dataset) -> bool:
    """ImageType marks a whole-body sweep (or, without ImageType, the series description)."""
    types = image_type(ds)
    if any(t.replace(" ", "") == "WHOLEBODY" for t in types):
        return True
    desc = " ".join(re.split(r"[^A-Z0-9]+", text(ds, "SeriesDescription").upper()))
    return not types and ("WHOLE BODY" in desc or "WHOLEBODY" in desc.replace(" ", ""))


def total_counts(views: list[PlanarImage]) -> dict[str, float]:
    """{view name: total counts} (float64 sums)."""
    return {v.view: float(np.sum(v.counts, dtype=np.float64)) for v in views}

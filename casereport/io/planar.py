"""Planar NM (static views and whole-body sweeps) -> PlanarStudy / WholeBody.

View names are resolved per frame, in this order, and the attribute used is recorded in
``PlanarImage.view_source``:

1. ``ViewCodeSequence`` of the frame's Detector Information Sequence item;
2. ``ViewCodeSequence`` at the root;
3. ``ImageType`` values (single-frame objects only), e.g. ``ANTERIOR``;
4. ``SeriesDescription`` then ``ImageComments`` words (single-frame objects only);
5. ``DetectorVector`` for two-detector objects: detector 1 = ANT, detector 2 = POST
   (the usual dual-head convention; the source string says it was assumed).

A frame whose view cannot be found is named ``FRAME<n>`` with source ``"none"``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
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
from casereport.io.rawseq import (
    RawItem,
    Unsupported,
    raw_sequence,
    raw_sequence_items,
    raw_text,
)
from casereport.io.types import PlanarImage, PlanarStudy, WholeBody

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

_VIEW_CODE_SEQUENCE = 0x00540220
_CODE_VALUE = 0x00080100
_LONG_CODE_VALUE = 0x00080119
_CODE_MEANING = 0x00080104

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


def view_from_text(s: str) -> str | None:
    """A view name found in free text, or None if absent or ambiguous (e.g. 'ANT/POST')."""
    up = " ".join(re.split(r"[^A-Z0-9]+", s.upper())).strip()
    found = {v for phrase, v in _PHRASES if phrase in up}
    if not found:
        found = {_TOKENS[t] for t in up.split() if t in _TOKENS}
    return found.pop() if len(found) == 1 else None


def _view_from_code_seq(item: Dataset | None) -> str | None:
    if item is None:
        return None
    seq = item.get("ViewCodeSequence")
    if not seq:
        return None
    code = seq[0]
    value = text(code, "CodeValue") or text(code, "LongCodeValue")
    return _view_from_code(value, lambda: text(code, "CodeMeaning"))


def _view_from_code(value: str, meaning: Callable[[], str]) -> str | None:
    """The view of a code: by CID 26 code value, else words of the code meaning."""
    if value in _VIEW_CODES:
        return _VIEW_CODES[value]
    return view_from_text(meaning())


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

    The sequence is read from its raw bytes when :mod:`casereport.io.rawseq` accepts
    them, otherwise through pydicom; views and pydicom items are worked out per item on
    first use and kept.
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


def _resolve_view(
    ds: Dataset,
    item_view: str | None,
    has_item: bool,
    frame: int,
    nframes: int,
    det: int | None,
    n_det: int,
) -> tuple[str, str]:
    """(view name, attribute it came from) for one frame; ``item_view`` is the view of
    its Detector Information Sequence item (``has_item`` False when there is none)."""
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
        for kw in ("SeriesDescription", "ImageComments"):
            v = view_from_text(text(ds, kw))
            if v:
                return v, kw
    if det in (1, 2) and n_det == 2:
        return ("ANT" if det == 1 else "POST"), "DetectorVector (assumed 1=ANT, 2=POST)"
    return f"FRAME{frame + 1}", "none"


def _pixel_spacing(
    ds: Dataset, items: _DetectorItems, index: int | None, path: Path
) -> tuple[float, float]:
    """(row, column) spacing in mm: root PixelSpacing, then the frame's detector item's,
    then NominalScannedPixelSpacing."""
    for where, kw in (
        ("root", "PixelSpacing"),
        ("item", "PixelSpacing"),
        ("root", "NominalScannedPixelSpacing"),
    ):
        if where == "item":
            if index is None:
                continue
            src = items.dataset(index)
        else:
            src = ds
        v = floats(src, kw, 2, path, required=False)
        if v is not None:
            dy, dx = check_spacing(v, kw, path)
            return dy, dx
    raise GeometryError(
        path,
        "no pixel spacing (PixelSpacing at the root or in the Detector Information Sequence)",
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


def planar_views(
    ds: Dataset, path: Path, paths: tuple[Path, ...] | None = None
) -> list[PlanarImage]:
    """Every frame of a planar NM dataset (full or header only) as a PlanarImage.

    Counts are float32 after Rescale Slope/Intercept.
    """
    nframes = n_frames(ds, path)
    counts = load_frames(path, ds)
    dets = _detectors(ds, nframes, path)
    n_det = len({d for d in dets if d is not None})
    src = source_info(paths or (path,), ds)
    duration = _duration_s(ds)
    items = _DetectorItems(ds)
    out = []
    spacing: dict[int | None, tuple[float, float]] = {}
    for f in range(nframes):
        index = _detector_index(len(items), dets[f], f, nframes)
        item_view = None if index is None else items.view(index)
        view, view_source = _resolve_view(
            ds, item_view, index is not None, f, nframes, dets[f], n_det
        )
        if index not in spacing:
            spacing[index] = _pixel_spacing(ds, items, index, path)
        out.append(
            PlanarImage(
                counts=counts[f],
                view=view,
                view_source=view_source,
                pixel_spacing_mm=spacing[index],
                duration_s=duration,
                frame_index=f,
                source=src,
            )
        )
    return out


def build_planar(items: list[tuple[Path, Dataset]], *, whole_body: bool) -> PlanarStudy | WholeBody:
    """A PlanarStudy (static) or WholeBody from the files of one series (headers or full)."""
    paths = tuple(p for p, _ in items)
    views: list[PlanarImage] = []
    for p, ds in items:
        views.extend(planar_views(ds, p, paths))
    src = views[0].source
    if not whole_body:
        return PlanarStudy(views=tuple(views), source=src)
    names = [v.view for v in views]
    ant = [v for v in views if v.view == "ANT"]
    post = [v for v in views if v.view == "POST"]
    if len(ant) != 1 or len(post) != 1 or len(views) != 2:
        raise DicomInputError(
            paths[0],
            "a whole-body study needs exactly one ANT and one POST view; found "
            + (", ".join(f"{v.view} (from {v.view_source})" for v in views[:6]) or "none")
            + (f" and {len(views) - 6} more" if len(views) > 6 else "")
            + ("" if set(names) <= {"ANT", "POST"} else "; add a View Code Sequence"),
            "ViewCodeSequence",
        )
    return WholeBody(anterior=ant[0], posterior=post[0], source=src)


def is_whole_body(ds: Dataset) -> bool:
    """ImageType marks a whole-body sweep."""
    return any(t.replace(" ", "") == "WHOLEBODY" for t in image_type(ds))


def total_counts(views: list[PlanarImage]) -> dict[str, float]:
    """{view name: total counts} (float64 sums)."""
    return {v.view: float(np.sum(v.counts, dtype=np.float64)) for v in views}

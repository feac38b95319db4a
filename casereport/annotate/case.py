"""Per-case data files (``data/<subject>/case.yaml``) -> frozen :class:`CaseSpec`.

The schema is documented in docs/CASE_FILE.md. Validation is strict: unknown keys,
wrong types, missing studies, windows with width <= 0, unknown panels, views a study
does not have and annotations outside the displayed image all raise
:class:`~casereport.errors.CaseFileError` naming the file and the entry
(e.g. ``annotations[2].tip_mm``).

Coordinates are millimetres, never pixels: planar panels use *view mm* (x from the left
edge of the view, y from its top edge); CT and fusion panels use patient LPS mm in the
panel's plane (axial: ``[x, y]``; coronal: ``[x, z]``; sagittal: ``[y, z]``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from casereport.errors import CaseFileError, CaseReportError
from casereport.io.record import record_read
from casereport.io.types import CTVolume, PlanarStudy, SpectVolume, Study, Volume, WholeBody


class PanelKind(StrEnum):
    """What a panel shows."""

    PLANAR = "planar"  # static NM views (PlanarStudy)
    WHOLEBODY = "wholebody"  # whole-body NM sweep (WholeBody)
    CT = "ct"  # a CT plane (CTVolume)
    FUSION = "fusion"  # SPECT on CT (CTVolume + SpectVolume, same frame of reference)


class AnnotationKind(StrEnum):
    ARROW = "arrow"
    CIRCLE = "circle"
    ELLIPSE = "ellipse"
    LABEL = "label"


CT_PRESETS: dict[str, tuple[float, float]] = {
    "lung": (1500.0, -600.0),
    "mediastinal": (400.0, 40.0),
    "bone": (2000.0, 500.0),
}
PLANES = ("axial", "coronal", "sagittal")
#: plane -> (position key, (u axis, v axis, normal axis) as LPS indices)
PLANE_AXES: dict[str, tuple[str, tuple[int, int, int]]] = {
    "axial": ("z_mm", (0, 1, 2)),
    "coronal": ("y_mm", (0, 2, 1)),
    "sagittal": ("x_mm", (1, 2, 0)),
}


@dataclass(frozen=True)
class WindowSpec:
    """A display window as written in the case file.

    CT: ``name`` (preset or ``""``), ``width_hu``, ``level_hu``.
    NM: ``mode`` (``"percentiles"`` or ``"counts"``) and ``lo``/``hi``.
    """

    modality: str  # "CT" or "NM"
    name: str = ""
    width_hu: float = 0.0
    level_hu: float = 0.0
    mode: str = ""
    lo: float = 0.0
    hi: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        if self.modality == "CT":
            return {"name": self.name, "width_hu": self.width_hu, "level_hu": self.level_hu}
        return {"mode": self.mode, "lo": self.lo, "hi": self.hi}


@dataclass(frozen=True)
class Box:
    """A rectangle in mm (planar: view mm; CT: the panel plane's u, v in patient mm)."""

    x_mm: tuple[float, float]
    y_mm: tuple[float, float]

    def contains(self, xy: tuple[float, float]) -> bool:
        return (self.x_mm[0] <= xy[0] <= self.x_mm[1]) and (self.y_mm[0] <= xy[1] <= self.y_mm[1])


@dataclass(frozen=True)
class Patient:
    age_years: int
    sex: str  # "F" or "M"
    history: str


@dataclass(frozen=True)
class PanelSpec:
    """One figure panel as declared in the case file.

    Attributes:
        panel_id: e.g. ``"A1"``.
        kind: planar / wholebody / ct / fusion.
        study: absolute path of the study (file or folder); ``study_rel`` as written.
        views: planar views to show, left to right order is ANT then POST.
        window: display window (CT window for ct/fusion, NM window for planar/wholebody).
        plane, position_mm: CT plane and its position along the plane normal (LPS mm).
        crop: displayed region in mm, or None for the whole image.
        overlay, overlay_window, alpha: SPECT volume, its window and opacity (fusion).
        caption, alt: caption text and alt text.
        scale_bar_mm: scale bar length in mm (None: default for the kind, 0: none).
    """

    panel_id: str
    kind: PanelKind
    study: Path
    study_rel: str
    window: WindowSpec
    caption: str
    alt: str
    views: tuple[str, ...] = ()
    plane: str | None = None
    position_mm: float | None = None
    crop: Box | None = None
    overlay: Path | None = None
    overlay_rel: str | None = None
    overlay_window: WindowSpec | None = None
    alpha: float = 0.6
    scale_bar_mm: float | None = None


@dataclass(frozen=True)
class Annotation:
    """An arrow, circle, ellipse or label on one panel, in mm.

    ``xy_mm`` is the arrow tip, the circle/ellipse centre or the label position;
    ``tail_mm`` the arrow tail (where its text goes). ``entry`` names it in the case file.
    """

    entry: str
    panel: str
    kind: AnnotationKind
    xy_mm: tuple[float, float]
    view: str | None = None
    tail_mm: tuple[float, float] | None = None
    radius_mm: float | None = None
    width_mm: float | None = None
    height_mm: float | None = None
    angle_deg: float = 0.0
    text: str = ""
    color: str | None = None


@dataclass(frozen=True)
class CaseSpec:
    """A validated case file."""

    path: Path
    case_id: str
    role: str  # "case" or "control"
    patient: Patient
    findings: tuple[str, ...]
    panels: tuple[PanelSpec, ...]
    annotations: tuple[Annotation, ...]

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def panel_ids(self) -> tuple[str, ...]:
        return tuple(p.panel_id for p in self.panels)

    def panel(self, panel_id: str) -> PanelSpec:
        for p in self.panels:
            if p.panel_id == panel_id:
                return p
        raise CaseFileError(
            self.path,
            f"panels.{panel_id}",
            f"no such panel (panels: {', '.join(self.panel_ids) or 'none'})",
        )

    def annotations_for(self, panel_id: str) -> tuple[Annotation, ...]:
        return tuple(a for a in self.annotations if a.panel == panel_id)


# --------------------------------------------------------------------------- parsing helpers


class _Ctx:
    """Raises CaseFileError for one file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, entry: str, reason: str) -> CaseFileError:
        return CaseFileError(self.path, entry, reason)

    def mapping(self, value: Any, entry: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(entry, f"expected a mapping, got {type(value).__name__}")
        for k in value:
            if not isinstance(k, str):
                raise self.fail(entry, f"keys must be text, got {k!r}")
        return value

    def keys(
        self, value: dict[str, Any], entry: str, required: set[str], optional: set[str]
    ) -> None:
        unknown = sorted(set(value) - required - optional)
        if unknown:
            allowed = ", ".join(sorted(required | optional))
            raise self.fail(
                f"{entry}.{unknown[0]}" if entry else unknown[0],
                f"unknown key (allowed here: {allowed})",
            )
        missing = sorted(required - set(value))
        if missing:
            raise self.fail(
                f"{entry}.{missing[0]}" if entry else missing[0], "required key missing"
            )

    def text(self, value: Any, entry: str, *, empty_ok: bool = False) -> str:
        if not isinstance(value, str) or (not empty_ok and not value.strip()):
            raise self.fail(entry, f"expected non-empty text, got {value!r}")
        return value.strip()

    def number(self, value: Any, entry: str) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise self.fail(entry, f"expected a finite number, got {value!r}")
        return float(value)

    def pair(self, value: Any, entry: str, *, ordered: bool = False) -> tuple[float, float]:
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise self.fail(entry, f"expected [a, b] (two numbers), got {value!r}")
        a, b = (self.number(v, f"{entry}[{i}]") for i, v in enumerate(value))
        if ordered and not b > a:
            raise self.fail(entry, f"expected [lo, hi] with lo < hi, got {value!r}")
        return (a, b)


def _ct_window(ctx: _Ctx, value: Any, entry: str) -> WindowSpec:
    if isinstance(value, str):
        if value not in CT_PRESETS:
            raise ctx.fail(
                entry,
                f"unknown CT window {value!r} (known: {', '.join(CT_PRESETS)}, "
                "or {width: W, level: L} in HU)",
            )
        w, lvl = CT_PRESETS[value]
        return WindowSpec("CT", name=value, width_hu=w, level_hu=lvl)
    m = ctx.mapping(value, entry)
    ctx.keys(m, entry, {"width", "level"}, set())
    width = ctx.number(m["width"], f"{entry}.width")
    level = ctx.number(m["level"], f"{entry}.level")
    if width <= 0:
        raise ctx.fail(f"{entry}.width", f"CT window width must be > 0 HU, got {width:g}")
    return WindowSpec("CT", width_hu=width, level_hu=level)


def _nm_window(ctx: _Ctx, value: Any, entry: str) -> WindowSpec:
    m = ctx.mapping(value, entry)
    if len(m) != 1 or next(iter(m)) not in ("percentiles", "counts"):
        raise ctx.fail(
            entry,
            f"NM window must be {{percentiles: [lo, hi]}} or {{counts: [lo, hi]}}, got {value!r}",
        )
    mode, lims = next(iter(m.items()))
    lo, hi = ctx.pair(lims, f"{entry}.{mode}", ordered=True)
    if mode == "percentiles" and not (0 <= lo and hi <= 100):
        raise ctx.fail(f"{entry}.{mode}", f"percentiles must lie in [0, 100], got {lims!r}")
    if mode == "counts" and lo < 0:
        raise ctx.fail(f"{entry}.{mode}", f"counts must be >= 0, got {lims!r}")
    return WindowSpec("NM", mode=mode, lo=lo, hi=hi)


def _box(ctx: _Ctx, value: Any, entry: str, keys: tuple[str, str]) -> Box:
    m = ctx.mapping(value, entry)
    ctx.keys(m, entry, set(keys), set())
    return Box(
        ctx.pair(m[keys[0]], f"{entry}.{keys[0]}", ordered=True),
        ctx.pair(m[keys[1]], f"{entry}.{keys[1]}", ordered=True),
    )


_COMMON = {"kind", "study", "window", "caption", "alt"}
_COMMON_OPT = {"crop_mm", "scale_bar_mm"}
_KIND_KEYS: dict[PanelKind, set[str]] = {
    PanelKind.PLANAR: {"views"},
    PanelKind.WHOLEBODY: {"views"},
    PanelKind.CT: {"plane", "z_mm", "y_mm", "x_mm"},
    PanelKind.FUSION: {"plane", "z_mm", "y_mm", "x_mm", "overlay", "overlay_window", "alpha"},
}
#: crop keys per plane (u, v names) - planar crops use x, y in view mm
_CROP_KEYS = {"axial": ("x", "y"), "coronal": ("x", "z"), "sagittal": ("y", "z")}


def _study_path(ctx: _Ctx, folder: Path, value: Any, entry: str) -> tuple[Path, str]:
    rel = ctx.text(value, entry)
    path = (folder / rel).resolve()
    if not path.exists():
        raise ctx.fail(entry, f"{rel!r} does not exist (paths are relative to {folder})")
    return path, rel


def _panel(ctx: _Ctx, folder: Path, pid: str, value: Any) -> PanelSpec:
    entry = f"panels.{pid}"
    m = ctx.mapping(value, entry)
    if "kind" not in m:
        raise ctx.fail(f"{entry}.kind", "required key missing (planar, wholebody, ct or fusion)")
    try:
        kind = PanelKind(m["kind"])
    except ValueError:
        raise ctx.fail(
            f"{entry}.kind", f"unknown panel kind {m['kind']!r} (planar, wholebody, ct or fusion)"
        ) from None
    required = set(_COMMON) | ({"overlay", "overlay_window"} if kind is PanelKind.FUSION else set())
    ctx.keys(m, entry, required, _COMMON_OPT | _KIND_KEYS[kind])
    study, study_rel = _study_path(ctx, folder, m["study"], f"{entry}.study")
    caption = ctx.text(m["caption"], f"{entry}.caption")
    alt = ctx.text(m["alt"], f"{entry}.alt")
    scale = None
    if "scale_bar_mm" in m:
        scale = ctx.number(m["scale_bar_mm"], f"{entry}.scale_bar_mm")
        if scale < 0:
            raise ctx.fail(f"{entry}.scale_bar_mm", f"must be >= 0 mm, got {scale:g}")
    common = dict(
        panel_id=pid,
        kind=kind,
        study=study,
        study_rel=study_rel,
        caption=caption,
        alt=alt,
        scale_bar_mm=scale,
    )

    if kind in (PanelKind.PLANAR, PanelKind.WHOLEBODY):
        default = ("ANT", "POST") if kind is PanelKind.WHOLEBODY else None
        raw = m.get("views", list(default) if default else None)
        if raw is None:
            raise ctx.fail(f"{entry}.views", "required key missing (e.g. [ANT] or [ANT, POST])")
        if not isinstance(raw, list) or not raw:
            raise ctx.fail(
                f"{entry}.views", f"expected a non-empty list of view names, got {raw!r}"
            )
        views = tuple(ctx.text(v, f"{entry}.views[{i}]").upper() for i, v in enumerate(raw))
        if len(set(views)) != len(views):
            raise ctx.fail(f"{entry}.views", f"views repeated: {raw!r}")
        crop = _box(ctx, m["crop_mm"], f"{entry}.crop_mm", ("x", "y")) if "crop_mm" in m else None
        window = _nm_window(ctx, m["window"], f"{entry}.window")
        return PanelSpec(**common, window=window, views=views, crop=crop)

    plane = m.get("plane", "axial")
    if plane not in PLANES:
        raise ctx.fail(f"{entry}.plane", f"unknown plane {plane!r} (axial, coronal or sagittal)")
    pos_key = PLANE_AXES[plane][0]
    given = [k for k in ("z_mm", "y_mm", "x_mm") if k in m]
    if given != [pos_key]:
        wrong = [k for k in given if k != pos_key]
        if wrong:
            raise ctx.fail(f"{entry}.{wrong[0]}", f"a {plane} plane is positioned by {pos_key}")
        raise ctx.fail(
            f"{entry}.{pos_key}",
            f"required key missing (position of the {plane} plane in patient mm)",
        )
    position = ctx.number(m[pos_key], f"{entry}.{pos_key}")
    crop = (
        _box(ctx, m["crop_mm"], f"{entry}.crop_mm", _CROP_KEYS[plane]) if "crop_mm" in m else None
    )
    window = _ct_window(ctx, m["window"], f"{entry}.window")
    extra: dict[str, Any] = {}
    if kind is PanelKind.FUSION:
        extra["overlay"], extra["overlay_rel"] = _study_path(
            ctx, folder, m["overlay"], f"{entry}.overlay"
        )
        extra["overlay_window"] = _nm_window(ctx, m["overlay_window"], f"{entry}.overlay_window")
        if "alpha" in m:
            alpha = ctx.number(m["alpha"], f"{entry}.alpha")
            if not 0 < alpha <= 1:
                raise ctx.fail(f"{entry}.alpha", f"must lie in (0, 1], got {alpha:g}")
            extra["alpha"] = alpha
    return PanelSpec(**common, window=window, plane=plane, position_mm=position, crop=crop, **extra)


_ANN_KEYS: dict[AnnotationKind, tuple[set[str], set[str]]] = {
    AnnotationKind.ARROW: ({"tip_mm", "tail_mm"}, {"text"}),
    AnnotationKind.CIRCLE: ({"center_mm", "radius_mm"}, {"text"}),
    AnnotationKind.ELLIPSE: ({"center_mm", "width_mm", "height_mm"}, {"angle_deg", "text"}),
    AnnotationKind.LABEL: ({"at_mm", "text"}, set()),
}


def _annotation(ctx: _Ctx, i: int, value: Any, panels: dict[str, PanelSpec]) -> Annotation:
    entry = f"annotations[{i}]"
    m = ctx.mapping(value, entry)
    for key in ("panel", "type"):
        if key not in m:
            raise ctx.fail(f"{entry}.{key}", "required key missing")
    try:
        kind = AnnotationKind(m["type"])
    except ValueError:
        raise ctx.fail(
            f"{entry}.type",
            f"unknown annotation type {m['type']!r} (arrow, circle, ellipse or label)",
        ) from None
    pid = m["panel"]
    if pid not in panels:
        raise ctx.fail(
            f"{entry}.panel", f"unknown panel {pid!r} (panels: {', '.join(panels) or 'none'})"
        )
    panel = panels[pid]
    req, opt = _ANN_KEYS[kind]
    opt = (
        opt
        | {"color"}
        | ({"view"} if panel.kind in (PanelKind.PLANAR, PanelKind.WHOLEBODY) else set())
    )
    ctx.keys(m, entry, req | {"panel", "type"}, opt)
    view = None
    if panel.kind in (PanelKind.PLANAR, PanelKind.WHOLEBODY):
        if "view" in m:
            view = ctx.text(m["view"], f"{entry}.view").upper()
            if view not in panel.views:
                raise ctx.fail(
                    f"{entry}.view",
                    f"view {view!r} is not shown in panel {pid} (views: {', '.join(panel.views)})",
                )
        elif len(panel.views) == 1:
            view = panel.views[0]
        else:
            raise ctx.fail(
                f"{entry}.view",
                f"required: panel {pid} shows several views ({', '.join(panel.views)})",
            )
    kw: dict[str, Any] = {}
    if kind is AnnotationKind.ARROW:
        xy = ctx.pair(m["tip_mm"], f"{entry}.tip_mm")
        kw["tail_mm"] = ctx.pair(m["tail_mm"], f"{entry}.tail_mm")
    elif kind is AnnotationKind.LABEL:
        xy = ctx.pair(m["at_mm"], f"{entry}.at_mm")
    else:
        xy = ctx.pair(m["center_mm"], f"{entry}.center_mm")
    for key in ("radius_mm", "width_mm", "height_mm"):
        if key in m:
            kw[key] = ctx.number(m[key], f"{entry}.{key}")
            if kw[key] <= 0:
                raise ctx.fail(f"{entry}.{key}", f"must be > 0 mm, got {kw[key]:g}")
    if "angle_deg" in m:
        kw["angle_deg"] = ctx.number(m["angle_deg"], f"{entry}.angle_deg")
    if "text" in m:
        kw["text"] = ctx.text(m["text"], f"{entry}.text", empty_ok=kind is not AnnotationKind.LABEL)
    if "color" in m:
        kw["color"] = ctx.text(m["color"], f"{entry}.color")
    return Annotation(entry=entry, panel=pid, kind=kind, xy_mm=xy, view=view, **kw)


def parse_case(path: str | Path, data: Any) -> CaseSpec:
    """Validate the parsed YAML ``data`` of case file ``path`` (schema only, no images)."""
    path = Path(path).resolve()
    ctx = _Ctx(path)
    top = ctx.mapping(data, "<top level>")
    ctx.keys(top, "", {"case", "role", "patient"}, {"findings", "panels", "annotations"})
    case_id = ctx.text(str(top["case"]) if isinstance(top["case"], int) else top["case"], "case")
    role = top["role"]
    if role not in ("case", "control"):
        raise ctx.fail("role", f"expected 'case' or 'control', got {role!r}")
    pm = ctx.mapping(top["patient"], "patient")
    ctx.keys(pm, "patient", {"age", "sex", "history"}, set())
    age = pm["age"]
    if isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= 130:
        raise ctx.fail("patient.age", f"expected an age in years (0-130), got {age!r}")
    sex = pm["sex"]
    if sex not in ("F", "M"):
        raise ctx.fail("patient.sex", f"expected F or M, got {sex!r}")
    patient = Patient(age, sex, ctx.text(pm["history"], "patient.history"))
    raw_findings = top.get("findings", [])
    if not isinstance(raw_findings, list):
        raise ctx.fail("findings", "expected a list of short texts")
    findings = tuple(ctx.text(f, f"findings[{i}]") for i, f in enumerate(raw_findings))
    raw_panels = top.get("panels") or {}
    pm2 = ctx.mapping(raw_panels, "panels")
    panels = {pid: _panel(ctx, path.parent, pid, v) for pid, v in pm2.items()}
    raw_ann = top.get("annotations") or []
    if not isinstance(raw_ann, list):
        raise ctx.fail("annotations", "expected a list")
    anns = tuple(_annotation(ctx, i, a, panels) for i, a in enumerate(raw_ann))
    return CaseSpec(path, case_id, role, patient, findings, tuple(panels.values()), anns)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; syntax errors become CaseFileError with the line number."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CaseFileError(path, "<file>", f"cannot read: {exc.strerror or exc}") from None
    record_read(path)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "<yaml>"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CaseFileError(path, where, f"YAML syntax error: {problem}") from None


# --------------------------------------------------------------------------- geometry checks

#: Loader: (path, modality or None) -> study.
Loader = Callable[[Path, str | None], Study]


def _plane_extent(vol: Volume, plane: str) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = vol.bounds_mm()
    half = 0.5 * np.abs(vol.affine[:3, :3]).sum(axis=1)
    return lo - half, hi + half


def panel_bounds_mm(panel: PanelSpec, study: Study, view: str | None) -> Box:
    """The displayed region of ``panel`` in its annotation coordinates (mm)."""
    if isinstance(study, PlanarStudy | WholeBody):
        img = study.view(view or panel.views[0])
        w, h = img.size_mm
        full = Box((0.0, w), (0.0, h))
    else:
        assert isinstance(study, Volume) and panel.plane
        lo, hi = _plane_extent(study, panel.plane)
        au, av, _ = PLANE_AXES[panel.plane][1]
        full = Box((float(lo[au]), float(hi[au])), (float(lo[av]), float(hi[av])))
    if panel.crop is None:
        return full
    c = panel.crop
    return Box(
        (max(full.x_mm[0], c.x_mm[0]), min(full.x_mm[1], c.x_mm[1])),
        (max(full.y_mm[0], c.y_mm[0]), min(full.y_mm[1], c.y_mm[1])),
    )


_EXPECTED: dict[PanelKind, tuple[type, ...]] = {
    PanelKind.PLANAR: (PlanarStudy, WholeBody),
    PanelKind.WHOLEBODY: (WholeBody,),
    PanelKind.CT: (CTVolume,),
    PanelKind.FUSION: (CTVolume,),
}


def check_panel(spec: CaseSpec, panel: PanelSpec, load: Loader) -> None:
    """Check ``panel`` against its loaded studies (kind, views, plane, crop, annotations)."""
    ctx = _Ctx(spec.path)
    entry = f"panels.{panel.panel_id}"
    modality = "CT" if panel.kind in (PanelKind.CT, PanelKind.FUSION) else "NM"
    try:
        study = load(panel.study, modality)
    except CaseReportError as exc:
        raise ctx.fail(f"{entry}.study", f"cannot load {panel.study_rel!r}: {exc}") from exc
    if not isinstance(study, _EXPECTED[panel.kind]):
        raise ctx.fail(
            f"{entry}.study",
            f"{panel.study_rel!r} is a {type(study).__name__}; "
            f"a {panel.kind.value} panel needs "
            f"{' or '.join(t.__name__ for t in _EXPECTED[panel.kind])}",
        )
    if isinstance(study, PlanarStudy | WholeBody):
        present = [v.view.upper() for v in study.views]
        for i, v in enumerate(panel.views):
            if v not in present:
                raise ctx.fail(
                    f"{entry}.views[{i}]",
                    f"{panel.study_rel!r} has no {v} view (views present: {', '.join(present)})",
                )
    else:
        assert panel.plane is not None and panel.position_mm is not None
        key, (_, _, an) = PLANE_AXES[panel.plane]
        lo, hi = _plane_extent(study, panel.plane)
        if not lo[an] <= panel.position_mm <= hi[an]:
            raise ctx.fail(
                f"{entry}.{key}",
                f"{panel.position_mm:g} mm lies outside the CT ({lo[an]:.1f} to {hi[an]:.1f} mm)",
            )
    for view in panel.views or (None,):
        b = panel_bounds_mm(panel, study, view)
        if not (b.x_mm[1] > b.x_mm[0] and b.y_mm[1] > b.y_mm[0]):
            raise ctx.fail(f"{entry}.crop_mm", "the crop does not overlap the image")
    if panel.kind is PanelKind.FUSION:
        assert panel.overlay is not None
        try:
            nm = load(panel.overlay, "NM")
        except CaseReportError as exc:
            raise ctx.fail(f"{entry}.overlay", f"cannot load {panel.overlay_rel!r}: {exc}") from exc
        if not isinstance(nm, SpectVolume):
            raise ctx.fail(
                f"{entry}.overlay",
                f"{panel.overlay_rel!r} is a {type(nm).__name__}; "
                "a fusion overlay must be a SPECT volume",
            )
        a, b = study.source.frame_of_reference_uid, nm.source.frame_of_reference_uid
        if not a or not b or a != b:
            raise ctx.fail(
                f"{entry}.overlay",
                "SPECT and CT do not share a FrameOfReferenceUID "
                f"({b or 'none'} vs {a or 'none'}); fusion by "
                "patient coordinates needs registered volumes",
            )
    for ann in spec.annotations_for(panel.panel_id):
        box = panel_bounds_mm(panel, study, ann.view)
        points = [
            (
                "tip_mm"
                if ann.kind is AnnotationKind.ARROW
                else "at_mm"
                if ann.kind is AnnotationKind.LABEL
                else "center_mm",
                ann.xy_mm,
            )
        ]
        if ann.tail_mm is not None:
            points.append(("tail_mm", ann.tail_mm))
        for key, xy in points:
            if not box.contains(xy):
                where = f" of the {ann.view} view" if ann.view else ""
                raise ctx.fail(
                    f"{ann.entry}.{key}",
                    f"point [{xy[0]:g}, {xy[1]:g}] mm lies outside the image{where} of panel "
                    f"{panel.panel_id} (x {box.x_mm[0]:.0f} to {box.x_mm[1]:.0f}, "
                    f"y {box.y_mm[0]:.0f} to {box.y_mm[1]:.0f} mm)",
                )


def check_case(spec: CaseSpec, load: Loader) -> None:
    """Check every panel of ``spec`` against its studies (see :func:`check_panel`)."""
    for panel in spec.panels:
        check_panel(spec, panel, load)


def load_case(
    path: str | Path, *, check_images: bool = True, loader: Loader | None = None
) -> CaseSpec:
    """Read and validate a case file.

    Args:
        path: the case file (``data/<subject>/case.yaml``) or its folder.
        check_images: also load every referenced study and check views, plane positions,
            crops and that every annotation lies inside its panel's image.
        loader: how to load a study (defaults to the cached :func:`load_study`).
    """
    path = Path(path)
    if path.is_dir():
        path = path / "case.yaml"
    if not path.is_file():
        raise CaseFileError(path, "<file>", "case file not found")
    spec = parse_case(path, read_yaml(path))
    if check_images:
        check_case(spec, loader or load_study)
    return spec


# --------------------------------------------------------------------------- study cache

_CACHE: dict[tuple[str, str | None, int], Study] = {}


def _stamp(path: Path) -> int:
    if path.is_dir():
        return hash(
            tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in path.iterdir()))
        )
    st = path.stat()
    return hash((st.st_mtime_ns, st.st_size))


def load_study(path: Path, modality: str | None = None) -> Study:
    """``casereport.io.load`` with a small in-process cache (keyed by path and mtime)."""
    from casereport.io import load  # the loader lives in casereport.io

    key = (str(Path(path).resolve()), modality, _stamp(Path(path)))
    if key not in _CACHE:
        if len(_CACHE) > 16:
            _CACHE.clear()
        _CACHE[key] = load(path, modality=modality)
    return _CACHE[key]


def clear_cache() -> None:
    """Forget loaded studies."""
    _CACHE.clear()


def studies_for(
    spec: CaseSpec, panel: PanelSpec, load: Loader | None = None
) -> tuple[Study, SpectVolume | None]:
    """The loaded study (and SPECT overlay for fusion) of ``panel``."""
    load = load or load_study
    modality = "CT" if panel.kind in (PanelKind.CT, PanelKind.FUSION) else "NM"
    study = load(panel.study, modality)
    overlay = load(panel.overlay, "NM") if panel.overlay is not None else None
    return study, overlay  # type: ignore[return-value]


def case_files(data_dir: str | Path) -> Mapping[str, Path]:
    """``{subject folder name: case.yaml}`` for every subject folder of ``data_dir``."""
    data_dir = Path(data_dir)
    return {p.parent.name: p for p in sorted(data_dir.glob("*/case.yaml"))}

"""The one parser of ``case.yaml``: YAML text -> validated :class:`~casereport.case.CaseSpec`.

Validation is strict: unknown keys, wrong types, missing studies, bad windows, unknown
panels, views and annotations in the wrong place raise
:class:`~casereport.errors.CaseFileError` naming the file and the entry
(e.g. ``annotations[2].tip_mm``). The checks against the images are in
:mod:`casereport.case.checks`. This is the only module of the package that reads YAML
from a case file.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from casereport.errors import CaseFileError, WindowError

from . import keys as K
from .facets import CORE
from .model import (
    VIEW_NAMES,
    Annotation,
    AnnotationKind,
    Box,
    CaseSpec,
    PanelKind,
    PanelSpec,
    Patient,
    Role,
    Source,
    Studies,
)
from .plane import Plane
from .window import Window


class _Ctx:
    """Raises CaseFileError for one file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        #: the data folder (parent of the subject folder): study paths must stay inside
        self.data_dir = path.parent.parent
        self.external_ok = False

    def fail(self, entry: str, reason: str) -> CaseFileError:
        return CaseFileError(self.path, entry, reason)

    def mapping(self, value: Any, entry: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(entry, f"expected a mapping, got {type(value).__name__}")
        for k in value:
            if not isinstance(k, str):
                raise self.fail(entry, f"keys must be text, got {k!r}")
        return value

    def keys(self, value: dict[str, Any], entry: str, *tables: tuple[K.Key, ...]) -> None:
        required: set[str] = set()
        optional: set[str] = set()
        for table in tables:
            req, opt = K.names(table)
            required |= req
            optional |= opt
        unknown = sorted(set(value) - required - optional)
        if unknown:
            allowed = ", ".join(sorted(required | optional))
            raise self.fail(_join(entry, unknown[0]), f"unknown key (allowed here: {allowed})")
        missing = sorted(required - set(value))
        if missing:
            raise self.fail(_join(entry, missing[0]), "required key missing")

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

    def window(self, value: Any, entry: str, kind: PanelKind) -> Window:
        try:
            return Window.from_case(value, kind.modality)
        except WindowError as err:
            raise self.fail(_join(entry, err.argument), err.reason) from None

    def path_in(self, folder: Path, value: Any, entry: str) -> tuple[Path, str]:
        rel = self.text(value, entry)
        path = (folder / rel).resolve()
        if not path.exists():
            raise self.fail(entry, f"{rel!r} does not exist (paths are relative to {folder})")
        if not self.external_ok and not path.is_relative_to(self.data_dir):
            raise self.fail(
                entry,
                f"{rel!r} resolves outside the data folder {self.data_dir}; move the study "
                "into it, or set 'external_studies: true' (the study is still checked by "
                "the de-identification gate)",
            )
        return path, rel


def _series(ctx: _Ctx, value: Any, entry: str) -> dict[str, Any]:
    """``series: {uid, number, description}`` -> Source fields (at least one given)."""
    m = ctx.mapping(value, entry)
    ctx.keys(m, entry, K.SERIES)
    if not m:
        raise ctx.fail(entry, "give uid, number or description of the series")
    out: dict[str, Any] = {}
    if "uid" in m:
        out["series_uid"] = ctx.text(str(m["uid"]), f"{entry}.uid")
    if "number" in m:
        n = m["number"]
        if isinstance(n, bool) or not isinstance(n, int):
            raise ctx.fail(f"{entry}.number", f"expected a SeriesNumber (integer), got {n!r}")
        out["series_number"] = n
    if "description" in m:
        out["series_description"] = ctx.text(m["description"], f"{entry}.description")
    return out


def _view_list(ctx: _Ctx, value: Any, entry: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ctx.fail(entry, f"expected a non-empty list of view names, got {value!r}")
    views = tuple(ctx.text(v, f"{entry}[{i}]").upper() for i, v in enumerate(value))
    if len(set(views)) != len(views):
        raise ctx.fail(entry, f"views repeated: {value!r}")
    return views


def _study(ctx: _Ctx, folder: Path, value: Any, entry: str) -> tuple[Path, str, Source]:
    """A study value: PATH, ``{ANT: PATH, POST: PATH}`` (one file per view) or
    ``{path: PATH, views: [...], spacing_mm: [row, col], series: {...}}``."""
    if not isinstance(value, dict):
        path, rel = ctx.path_in(folder, value, entry)
        return path, rel, Source()
    m = ctx.mapping(value, entry)
    if m and all(k.upper() in VIEW_NAMES for k in m):
        files = []
        for k, v in m.items():
            files.append((k.upper(), ctx.path_in(folder, v, f"{entry}.{k}")))
        if len({name for name, _ in files}) != len(files):
            raise ctx.fail(entry, "a view is named twice")
        first = files[0][1]
        return first[0], first[1], Source(view_files=tuple((n, p) for n, (p, _) in files))
    ctx.keys(m, entry, K.STUDY_DETAIL)
    path, rel = ctx.path_in(folder, m["path"], f"{entry}.path")
    kw: dict[str, Any] = {}
    if "views" in m:
        kw["views"] = _view_list(ctx, m["views"], f"{entry}.views")
    if "spacing_mm" in m:
        dy, dx = ctx.pair(m["spacing_mm"], f"{entry}.spacing_mm")
        if not (dy > 0 and dx > 0):
            raise ctx.fail(f"{entry}.spacing_mm", f"expected two positive mm, got {[dy, dx]}")
        kw["spacing_mm"] = (dy, dx)
    if "series" in m:
        kw.update(_series(ctx, m["series"], f"{entry}.series"))
    return path, rel, Source(**kw)


def _join(entry: str, key: str) -> str:
    return f"{entry}.{key}" if entry and key else entry or key


def parse_box(value: Any, axes: tuple[str, str], *, source: str | Path, entry: str) -> Box:
    """A ``crop_mm`` mapping (``{x: [lo, hi], y: [lo, hi]}`` with the plane's axis names)."""
    ctx = _Ctx(Path(source))
    m = ctx.mapping(value, entry)
    table = tuple(K.Key(a, K.PAIR, a, required=True) for a in axes)
    ctx.keys(m, entry, table)
    return Box(
        ctx.pair(m[axes[0]], f"{entry}.{axes[0]}", ordered=True),
        ctx.pair(m[axes[1]], f"{entry}.{axes[1]}", ordered=True),
    )


def crop_axes(panel_kind: PanelKind, plane: Plane | None) -> tuple[str, str]:
    """Key names of ``crop_mm`` for a panel (planar: view mm ``x``, ``y``)."""
    return ("x", "y") if panel_kind.planar or plane is None else plane.crop_keys


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
    ctx.keys(m, entry, K.PANEL_COMMON, K.PANEL_KIND[kind])
    study, study_rel, source = _study(ctx, folder, m["study"], f"{entry}.study")
    scale = None
    if "scale_bar_mm" in m:
        scale = ctx.number(m["scale_bar_mm"], f"{entry}.scale_bar_mm")
        if scale < 0:
            raise ctx.fail(f"{entry}.scale_bar_mm", f"must be >= 0 mm, got {scale:g}")
    common: dict[str, Any] = dict(
        panel_id=pid,
        kind=kind,
        study=study,
        study_rel=study_rel,
        _caption=ctx.text(m["caption"], f"{entry}.caption", empty_ok=True),
        _alt=ctx.text(m["alt"], f"{entry}.alt"),
        scale_bar_mm=scale,
        source=source,
        case_file=ctx.path,
    )

    if kind.planar:
        default = ("ANT", "POST") if kind is PanelKind.WHOLEBODY else None
        raw = m.get("views", list(default) if default else None)
        views = _view_list(ctx, raw, f"{entry}.views")
        if not source.views:
            common["source"] = replace(source, views=views)
        crop = (
            parse_box(m["crop_mm"], ("x", "y"), source=ctx.path, entry=f"{entry}.crop_mm")
            if "crop_mm" in m
            else None
        )
        window = ctx.window(m["window"], f"{entry}.window", kind)
        return PanelSpec(**common, window=window, views=views, crop=crop)

    try:
        plane = Plane(m.get("plane", "axial"))
    except ValueError:
        raise ctx.fail(
            f"{entry}.plane", f"unknown plane {m['plane']!r} (axial, coronal or sagittal)"
        ) from None
    pos_key = plane.position_key
    given = [p.position_key for p in Plane if p.position_key in m]
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
        parse_box(m["crop_mm"], plane.crop_keys, source=ctx.path, entry=f"{entry}.crop_mm")
        if "crop_mm" in m
        else None
    )
    window = ctx.window(m["window"], f"{entry}.window", kind)
    extra: dict[str, Any] = {}
    if kind is PanelKind.FUSION:
        extra["overlay"], extra["overlay_rel"] = ctx.path_in(
            folder, m["overlay"], f"{entry}.overlay"
        )
        extra["overlay_window"] = ctx.window(
            m["overlay_window"], f"{entry}.overlay_window", PanelKind.PLANAR
        )
        if "alpha" in m:
            alpha = ctx.number(m["alpha"], f"{entry}.alpha")
            if not 0 < alpha <= 1:
                raise ctx.fail(f"{entry}.alpha", f"must lie in (0, 1], got {alpha:g}")
            extra["alpha"] = alpha
    return PanelSpec(**common, window=window, plane=plane, position_mm=position, crop=crop, **extra)


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
    common = tuple(k for k in K.ANNOTATION_COMMON if k.name != "view" or panel.kind.planar)
    ctx.keys(m, entry, common, K.ANNOTATION_KIND[kind])
    view = None
    if panel.kind.planar:
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


def _studies(ctx: _Ctx, folder: Path, value: Any) -> Studies:
    m = ctx.mapping(value, "studies")
    ctx.keys(m, "studies", K.STUDIES)
    paths: dict[str, Path] = {}
    sources: list[tuple[str, Source]] = []
    for k, v in m.items():
        path, _, source = _study(ctx, folder, v, f"studies.{k}")
        paths[k] = path
        if source != Source():
            sources.append((k, source))
    return Studies(**paths, sources=tuple(sources))


def parse_case(path: str | Path, data: Any) -> CaseSpec:
    """Validate the parsed YAML ``data`` of case file ``path`` (schema only, no images)."""
    path = Path(path).resolve()
    ctx = _Ctx(path)
    top = ctx.mapping(data, "<top level>")
    ctx.keys(top, "", K.TOP)
    case_id = ctx.text(str(top["case"]) if isinstance(top["case"], int) else top["case"], "case")
    try:
        role = Role(top["role"])
    except ValueError:
        raise ctx.fail("role", f"expected 'case' or 'control', got {top['role']!r}") from None
    pm = ctx.mapping(top["patient"], "patient")
    ctx.keys(pm, "patient", K.PATIENT)
    age = pm["age"]
    if age is not None and (
        isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= 130
    ):
        raise ctx.fail(
            "patient.age", f"expected an age in years (0-130) or null (not stated), got {age!r}"
        )
    sex = pm["sex"]
    if sex not in ("F", "M"):
        raise ctx.fail("patient.sex", f"expected F or M, got {sex!r}")
    patient = Patient(age, sex, ctx.text(pm["history"], "patient.history"))
    raw_findings = top.get("findings", [])
    if not isinstance(raw_findings, list):
        raise ctx.fail("findings", "expected a list of short texts")
    findings = tuple(ctx.text(f, f"findings[{i}]") for i, f in enumerate(raw_findings))
    external = top.get("external_studies", False)
    if not isinstance(external, bool):
        raise ctx.fail("external_studies", f"expected true or false, got {external!r}")
    ctx.external_ok = external
    studies = _studies(ctx, path.parent, top["studies"]) if "studies" in top else Studies()
    raw_panels = ctx.mapping(top.get("panels") or {}, "panels")
    panels = {pid: _panel(ctx, path.parent, pid, v) for pid, v in raw_panels.items()}
    raw_ann = top.get("annotations") or []
    if not isinstance(raw_ann, list):
        raise ctx.fail("annotations", "expected a list")
    anns = tuple(_annotation(ctx, i, a, panels) for i, a in enumerate(raw_ann))
    return CaseSpec(path, case_id, role, patient, findings, tuple(panels.values()), anns, studies)


def read_yaml(path: Path) -> Any:
    """Parse a case file's YAML; syntax errors become CaseFileError with the line number."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CaseFileError(path, "<file>", f"cannot read: {exc.strerror or exc}") from None
    try:
        return parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "<yaml>"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CaseFileError(path, where, f"YAML syntax error: {problem}") from None


#: the safe loader, in C when PyYAML was built with libyaml (same values, about 3x faster)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> Any:
    """YAML text -> Python values (safe loader); ``yaml.YAMLError`` on bad syntax. The one
    place the package parses YAML (case files here, CITATION.cff for the JATS export)."""
    return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader


def yaml_value(text: str) -> Any:
    """A command-line value read as YAML (``[1, 99]`` -> list, ``lung`` -> text); text that
    is not valid YAML is returned as it is, stripped."""
    text = text.strip()
    if not text:
        return ""
    try:
        return parse_yaml(text)
    except yaml.YAMLError:
        return text


def case_file(path: str | Path) -> Path:
    """The case file for ``path`` (a ``case.yaml`` or its folder); CaseFileError if absent."""
    path = Path(path)
    if path.is_dir():
        path = path / "case.yaml"
    if not path.is_file():
        raise CaseFileError(path, "<file>", "case file not found")
    return path


def read_case(path: str | Path) -> CaseSpec:
    """Read and validate a case file's schema (no images are opened)."""
    path = case_file(path)
    from casereport.record import record_read  # the kernel's list of files read

    # what every reader of the file uses; captions, alt texts and annotations are
    # recorded when read (casereport.case.model, casereport.case.facets)
    record_read(path.resolve(), facet=CORE)
    return parse_case(path, read_yaml(path))

"""Per-panel provenance: ``figures/provenance.json`` from the panel sidecars.

Format (JSON, sorted keys, paths relative to the project root)::

    {
      "schema": "casereport-provenance/1",
      "notebook": "notebooks/figure.ipynb",        # the notebook that wrote the figure
      "parameters": {...},                          # its parameters
      "figure": {"figure1.png": "<sha256>", ...},   # composite figure files
      "panels": {
        "A1": {
          "panel": "A1", "case": "A", "kind": "wholebody", "alt": "...",
          "image": "panels/A1.png", "image_sha256": "<sha256>",
          "sources": [{"files": ["data/A/wb/wb.dcm"], "sha256": {"data/A/wb/wb.dcm": "..."},
                       "series_instance_uid": "...", "study_instance_uid": "...",
                       "modality": "NM", "series_description": "...", ...}],
          "selection": {...},        # frames (planar) or plane, position and slices shown
          "window": {...},           # display window(s)
          "annotation_file": "data/A/case.yaml", "annotations": [...],
          "notebook": "notebooks/figure.ipynb", "parameters": {...},
          "simulated": true
        }, ...
      }
    }

``panels.<id>`` repeats notebook and parameters so that each entry stands alone.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from casereport.errors import ReviewError
from casereport.fileio import sha256_file, write_atomic

SCHEMA = "casereport-provenance/1"
PROVENANCE_FILE = "provenance.json"


def _project_root(start: Path) -> Path:
    start = start.resolve()
    for p in (start, *start.parents):
        if (p / "pyproject.toml").is_file():
            return p
    return start


def _load_sidecar(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReviewError(path, f"panel sidecar is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or "panel" not in data:
        raise ReviewError(path, "panel sidecar has no 'panel' entry")
    return data


def _source_hashes(files: list[str], root: Path) -> dict[str, str]:
    out = {}
    for f in files:
        p = Path(f) if Path(f).is_absolute() else root / f
        if p.is_file():
            out[f] = sha256_file(p)
    return out


def panel_entry(
    sidecar: Mapping[str, Any],
    *,
    figures_dir: Path,
    root: Path,
    notebook: str,
    parameters: Mapping[str, Any],
) -> dict[str, Any]:
    """The provenance of one panel from its sidecar ``figures/panels/<id>.json``."""
    pid = str(sidecar["panel"])
    image = figures_dir / "panels" / str(sidecar.get("image", f"{pid}.png"))
    sources = []
    for s in sidecar.get("sources", []):
        s = dict(s)
        s["sha256"] = _source_hashes(list(s.get("files", [])), root)
        sources.append(s)
    return {
        "panel": pid,
        "case": sidecar.get("case"),
        "kind": sidecar.get("kind"),
        "alt": sidecar.get("alt", ""),
        "image": f"panels/{image.name}",
        "image_sha256": sha256_file(image) if image.is_file() else None,
        "sources": sources,
        "selection": sidecar.get("used", {}),
        "window": sidecar.get("window", {}),
        "annotation_file": sidecar.get("annotation_file"),
        "annotations": sidecar.get("annotations", []),
        "notebook": notebook,
        "parameters": dict(parameters),
        "simulated": bool(sidecar.get("simulated", False)),
    }


def build_provenance(
    figures_dir: str | Path,
    *,
    notebook: str = "notebooks/article.ipynb",
    parameters: Mapping[str, Any] | None = None,
    root: str | Path | None = None,
) -> dict[str, Any]:
    """Provenance of every panel in ``figures_dir`` (see the module docstring).

    Args:
        figures_dir: folder holding ``figure1.*`` and ``panels/<id>.{png,json}``.
        notebook: the notebook that wrote the figure, relative to the project root.
        parameters: that notebook's parameters (JSON-serialisable).
        root: project root for relative paths (default: nearest folder with pyproject.toml).

    Raises:
        ReviewError: no panel sidecars, or a sidecar that does not parse.
    """
    figures_dir = Path(figures_dir)
    root_path = Path(root) if root is not None else _project_root(figures_dir)
    sidecars = sorted((figures_dir / "panels").glob("*.json"))
    if not sidecars:
        raise ReviewError(
            figures_dir / "panels", "no panel sidecars (<id>.json) to build provenance from"
        )
    params = dict(parameters or {})
    panels = {}
    for path in sidecars:
        entry = panel_entry(
            _load_sidecar(path),
            figures_dir=figures_dir,
            root=root_path,
            notebook=notebook,
            parameters=params,
        )
        panels[entry["panel"]] = entry
    figure = {p.name: sha256_file(p) for p in sorted(figures_dir.glob("figure1.*")) if p.is_file()}
    return {
        "schema": SCHEMA,
        "notebook": notebook,
        "parameters": params,
        "figure": figure,
        "panels": panels,
    }


def provenance_bytes(prov: Mapping[str, Any]) -> bytes:
    """Canonical JSON bytes (sorted keys, 2-space indent, UTF-8, final newline)."""
    text = json.dumps(prov, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return (text + "\n").encode("utf-8")


def write_provenance(figures_dir: str | Path, **kwargs: Any) -> Path:
    """Build the provenance and write ``<figures_dir>/provenance.json`` atomically."""
    figures_dir = Path(figures_dir)
    data = provenance_bytes(build_provenance(figures_dir, **kwargs))
    target = figures_dir / PROVENANCE_FILE
    write_atomic(target, data)
    return target


def _fmt(value: Any) -> str:
    """Plain words for a reader: ``key value; key value``, lists comma-separated."""
    if isinstance(value, dict):
        parts = []
        for k in sorted(value):
            v = value[k]
            inner = _fmt(v)
            if isinstance(v, dict) and v:
                inner = f"({inner})"
            parts.append(f"{str(k).replace('_', ' ')} {inner}".strip())
        return "; ".join(parts) if parts else "none"
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value) if value else "none"
    if value is None:
        return "none"
    return str(value)


def _num(value: Any) -> str:
    """A number as a reader writes it: ``1190``, ``0.5``, ``-600``."""
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def range_text(lo: str, hi: str, unit: str = "") -> str:
    """A range of two written numbers: ``1.7–1.8``, or ``-839 to -835`` when a bound is
    negative (a dash between two minus signs reads as a subtraction)."""
    sep = " to " if lo.startswith("-") or hi.startswith("-") else "\u2013"
    return f"{lo}{sep}{hi}{unit}"


def _pair(values: Any, unit: str = "") -> str:
    """``[lo, hi]`` as :func:`range_text`."""
    lo, hi = (_num(v) for v in values)
    return range_text(lo, hi, unit)


def _nm_window(w: Mapping[str, Any]) -> str | None:
    """An NM window: ``0.5–99th percentile of the counts (1–42 counts)``, or None."""
    if not {"mode", "lo", "hi"} <= set(w):
        return None
    shown = ""
    if "vmin_counts" in w and "vmax_counts" in w:
        shown = f" ({_pair((w['vmin_counts'], w['vmax_counts']), ' counts')})"
    if w["mode"] == "percentiles":
        text = f"{_pair((w['lo'], w['hi']))}th percentile of the counts{shown}"
    else:
        text = f"{_pair((w['lo'], w['hi']), ' counts')}"
    extra = {
        k: v for k, v in w.items() if k not in {"mode", "lo", "hi", "vmin_counts", "vmax_counts"}
    }
    if set(extra) == {"alpha"}:
        return f"{text}, opacity {_num(extra['alpha'])}"
    return text if not extra else None


def _ct_window(w: Mapping[str, Any]) -> str | None:
    """A CT window: ``lung window, level -600 HU, width 1500 HU``, or None."""
    if set(w) - {"name"} != {"level_hu", "width_hu"}:
        return None
    name = f"{w['name']} window, " if w.get("name") else ""
    return f"{name}level {_num(w['level_hu'])} HU, width {_num(w['width_hu'])} HU"


def window_text(window: Mapping[str, Any]) -> str:
    """A panel's window in words (anything of an unknown shape as ``key value`` pairs)."""
    if set(window) <= {"ct", "spect"} and window:
        parts = []
        for key, label in (("ct", "CT"), ("spect", "SPECT")):
            if key in window:
                text = (_ct_window if key == "ct" else _nm_window)(window[key])
                parts.append(f"{label} {text}" if text else f"{label} {_fmt(window[key])}")
        return "; ".join(parts)
    return _nm_window(window) or _ct_window(window) or _fmt(window)


def _view_text(v: Mapping[str, Any]) -> str:
    """One planar view: ``ANT (frame 0; 1.8 × 1.8 mm pixels from PixelSpacing; ...)``."""
    known = {"view", "frame_index", "pixel_spacing_mm", "spacing_source", "view_source"}
    if not {"view", "frame_index"} <= set(v) or set(v) - known:
        return _fmt(v)
    notes = [f"frame {_num(v['frame_index'])}"]
    if v.get("pixel_spacing_mm"):
        size = " × ".join(_num(x) for x in v["pixel_spacing_mm"])
        src = f" from {v['spacing_source']}" if v.get("spacing_source") else ""
        notes.append(f"{size} mm pixels{src}")
    if v.get("view_source"):
        notes.append(f"view named by {v['view_source']}")
    return f"{v['view']} ({'; '.join(notes)})"


def selection_text(selection: Mapping[str, Any]) -> str:
    """The frames or slices a panel shows, and its crop, in words."""
    sel = dict(selection)
    parts = []
    if "views" in sel and isinstance(sel["views"], list):
        parts.append("views " + ", ".join(_view_text(v) for v in sel.pop("views")))
    if {"plane", "position_mm"} <= set(sel):
        plane, pos = sel.pop("plane"), sel.pop("position_mm")
        axis = {"axial": "z", "coronal": "y", "sagittal": "x"}.get(str(plane), "position")
        text = f"{plane} plane at {axis} = {_num(pos)} mm"
        if "index_ijk" in sel:
            text += " (voxel index " + ", ".join(_num(x) for x in sel.pop("index_ijk")) + ")"
        if sel.get("slice_files"):
            files = list(sel.pop("slice_files"))
            text += (" from " if len(files) == 1 else " between ") + " and ".join(files)
        parts.append(text)
    spect = sel.get("spect")
    if isinstance(spect, dict) and set(spect) == {"index_ijk"}:
        sel.pop("spect")
        parts.append("SPECT voxel index " + ", ".join(_num(x) for x in spect["index_ijk"]))
    crop = sel.get("crop_mm")
    if isinstance(crop, dict) and set(crop) <= {"x", "y"} and crop:
        sel.pop("crop_mm")
        parts.append("crop " + ", ".join(f"{k} {_pair(crop[k], ' mm')}" for k in sorted(crop)))
    if sel:
        parts.append(_fmt(sel))
    return "; ".join(parts) if parts else "none"


def provenance_rows(entry: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, text) pairs describing where one panel comes from, for captions and tables."""
    rows: list[tuple[str, str]] = []
    for s in entry.get("sources", []):
        files = list(s.get("files", []))
        shown = ", ".join(files[:3]) + (f" … (+{len(files) - 3} files)" if len(files) > 3 else "")
        rows.append((f"{s.get('modality', '')} files", shown))
        rows.append(("SeriesInstanceUID", str(s.get("series_instance_uid", ""))))
        rows.append(("series description", str(s.get("series_description", ""))))
    rows.append(("frames / slices", selection_text(entry.get("selection", {}))))
    rows.append(("window", window_text(entry.get("window", {}))))
    rows.append(("annotation file", str(entry.get("annotation_file", ""))))
    rows.append(("notebook", str(entry.get("notebook", ""))))
    params = entry.get("parameters", {})
    shown_params = (
        ", ".join(f"{k} = {_fmt(v)}" for k, v in sorted(params.items()))
        if isinstance(params, dict) and params
        else _fmt(params)
    )
    rows.append(("parameters", shown_params))
    return rows


def provenance_html(entry: Mapping[str, Any]) -> str:
    """A ``<details>`` element listing one panel's sources (all text HTML-escaped)."""
    pid = html.escape(str(entry.get("panel", "")))
    items = "".join(
        f"<tr><th>{html.escape(k)}</th><td><code>{html.escape(v)}</code></td></tr>"
        for k, v in provenance_rows(entry)
    )
    return (
        f'<details class="provenance"><summary>Sources of panel {pid}</summary>'
        f"<table>{items}</table></details>"
    )

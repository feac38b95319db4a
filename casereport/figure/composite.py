"""The composite Figure 1 (rows A1 A2 / B1 B2 / C1 C2 C3) and the files written from it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure
from matplotlib.text import Text

from casereport.case import CaseSpec, index, with_overrides
from casereport.case.studies import Loader
from casereport.errors import FigureError, ParameterError
from casereport.fileio import relpath, write_atomic

from .layout import FIGURE1, MM_PER_IN, FigureLayout, Placement, check, solve
from .panels import PanelArtists, data_aspect, draw_panel
from .style import DPI, VECTOR_IMAGE_DPI, figure_style, render, render_all, render_png_tiff
from .supplement import figure_s1, has_figure_s1

if TYPE_CHECKING:
    from .panel_cache import Entry, PanelCache

#: Panels of Figure 1 grouped by case, in reading order (captions, panel files).
FIGURE1_LAYOUT: tuple[tuple[str, ...], ...] = tuple(
    tuple(sorted(p for p in FIGURE1.panel_ids if p[0] == case))
    for case in sorted({p[0] for p in FIGURE1.panel_ids})
)
FIGURE1_FORMATS = ("png", "tif", "svg", "pdf")
SIMULATED_MARK = "SIMULATED DATA \u2014 synthetic DICOM studies, not patient images"

_MM = 1.0 / MM_PER_IN
#: Layout in inches (single-case figures for notebooks).
_MARGIN = 0.05
_GAP = 0.07
_LABEL_BAND = 0.17
_COLORBAR_EXTRA = 0.55


@dataclass
class Figure1:
    """The composite figure, what each panel drew, and where the layout put it."""

    fig: Figure
    panels: dict[str, PanelArtists]
    labels: dict[str, Text]
    simulated: bool
    mark: Text | None
    layout: FigureLayout = FIGURE1
    placement: Placement | None = None

    def view_widths_mm(self) -> dict[str, list[float]]:
        """Printed width (mm) of each view of every multi-view panel."""
        out: dict[str, list[float]] = {}
        w_in = self.fig.get_size_inches()[0]
        for pid, art in self.panels.items():
            if len(art.images) < 2 or art.colorbar is not None or art.kind.value == "fusion":
                continue
            x0, x1 = art.ax.get_xlim()
            axes_mm = art.ax.get_position().width * w_in * MM_PER_IN
            out[pid] = [
                abs(im.get_extent()[1] - im.get_extent()[0]) / abs(x1 - x0) * axes_mm
                for im in art.images
            ]
        return out

    def text_sizes_pt(self) -> list[tuple[str, float]]:
        """(text, size in points) of every visible, non-empty text of the figure."""
        return [
            (t.get_text(), float(t.get_fontsize()))
            for t in self.fig.findobj(Text)
            if t.get_visible() and t.get_text().strip()
        ]

    def problems(self) -> list[str]:
        """What falls short of the layout's print-size minimums (empty when none)."""
        assert self.placement is not None
        return check(
            self.layout,
            self.placement,
            view_widths_mm=self.view_widths_mm(),
            text_sizes_pt=self.text_sizes_pt(),
        )


def _extra_width(art: PanelArtists) -> float:
    return _COLORBAR_EXTRA if art.colorbar is not None else 0.0


def _find_panel(specs: Sequence[CaseSpec], panel_id: str) -> CaseSpec:
    owners = [s for s in specs if panel_id in s.panel_ids]
    if not owners:
        known = ", ".join(sorted(p for s in specs for p in s.panel_ids)) or "none"
        raise FigureError(
            f"Figure 1 needs panel {panel_id}, which no case file declares (declared: {known})"
        )
    if len(owners) > 1:
        raise FigureError(
            f"panel {panel_id} is declared by several case files: "
            + ", ".join(str(s.path) for s in owners)
        )
    return owners[0]


def layout_rows(
    fig: Figure,
    rows: Sequence[Sequence[PanelArtists]],
    *,
    width_in: float,
    max_row_height_in: float = 2.4,
) -> dict[str, tuple[float, float, float, float]]:
    """Place the panels row by row, each row filling the width at one height.

    The figure height follows from the panels' data aspect ratios; returns the axes
    rectangles in inches (left, bottom, width, height) by panel id.
    """
    heights = []
    for row in rows:
        aspects = sum(data_aspect(a.ax) for a in row)
        free = width_in - 2 * _MARGIN - (len(row) - 1) * _GAP - sum(_extra_width(a) for a in row)
        heights.append(min(max_row_height_in, free / aspects))
    total = 2 * _MARGIN + sum(h + _LABEL_BAND for h in heights) + (len(rows) - 1) * _GAP
    fig.set_size_inches(width_in, total)
    rects: dict[str, tuple[float, float, float, float]] = {}
    top = total - _MARGIN
    for row, h in zip(rows, heights, strict=True):
        widths = [data_aspect(a.ax) * h for a in row]
        used = sum(widths) + sum(_extra_width(a) for a in row) + (len(row) - 1) * _GAP
        left = (width_in - used) / 2.0
        bottom = top - _LABEL_BAND - h
        for art, w in zip(row, widths, strict=True):
            rects[art.panel_id] = (left, bottom, w, h)
            art.ax.set_position((left / width_in, bottom / total, w / width_in, h / total))
            left += w + _extra_width(art) + _GAP
        top = bottom - _GAP
    return rects


def _inches(rect_mm: Sequence[float]) -> tuple[float, float, float, float]:
    """A (left, bottom, width, height) rectangle from mm to inches."""
    left, bottom, width, height = (v * _MM for v in rect_mm)
    return (left, bottom, width, height)


def _label(
    fig: Figure, panel_id: str, rect: tuple[float, float, float, float], *, size_pt: float = 9.0
) -> Text:
    """Panel label above the panel's upper-left corner; ``rect`` in inches."""
    w_in, h_in = fig.get_size_inches()
    left, bottom, _, h = rect
    return fig.text(
        left / w_in,
        (bottom + h + 0.03) / h_in,
        panel_id,
        ha="left",
        va="bottom",
        fontsize=size_pt,
        fontweight="bold",
        color="black",
    )


def place(
    fig: Figure, panels: Mapping[str, PanelArtists], layout: FigureLayout, *, mark: bool
) -> Placement:
    """Size ``fig`` and move each panel's axes where ``layout`` puts it."""
    placement = solve(
        layout,
        {pid: data_aspect(a.ax) for pid, a in panels.items()},
        colorbars=[pid for pid, a in panels.items() if a.colorbar is not None],
        mark=mark,
    )
    w, h = placement.width_mm, placement.height_mm
    fig.set_size_inches(w * _MM, h * _MM)
    for pid, (x, y, pw, ph) in placement.rects.items():
        panels[pid].ax.set_position((x / w, y / h, pw / w, ph / h))
    return placement


def figure1(
    case_specs: Sequence[CaseSpec],
    *,
    fig: Figure | None = None,
    layout: FigureLayout = FIGURE1,
    loader: Loader | None = None,
) -> Figure1:
    """Draw Figure 1 from the case files declaring the panels of ``layout``.

    Args:
        case_specs: validated case files (control and others may be included; only the
            panels of ``layout`` are drawn).
        fig: figure to draw into (a new ``matplotlib.figure.Figure`` by default; no pyplot).
        layout: where each panel goes and the print-size minimums (:data:`FIGURE1`); the
            figure is ``layout.width_mm`` wide, its height follows.
        loader: study loader (defaults to the cached ``casereport.io.load``).
    """
    owners = {pid: _find_panel(case_specs, pid) for pid in layout.panel_ids}
    with figure_style():
        fig = fig or Figure()
        panels: dict[str, PanelArtists] = {}
        for pid in sorted(layout.panel_ids):
            ax = fig.add_axes((0.0, 0.0, 1.0, 1.0), label=pid)
            panels[pid] = draw_panel(
                owners[pid], pid, ax=ax, loader=loader, fontsize=layout.text_pt
            )
        simulated = any(p.simulated for p in panels.values())
        placement = place(fig, panels, layout, mark=simulated)
        labels = {
            pid: _label(fig, pid, _inches(placement.rects[pid]), size_pt=layout.label_pt)
            for pid in panels
        }
        mark = None
        if simulated:
            mark = fig.text(
                0.5,
                placement.mark_y_mm / placement.height_mm,
                SIMULATED_MARK,
                ha="center",
                va="bottom",
                fontsize=8,
                fontweight="bold",
                color="#b2182b",
            )
    return Figure1(fig, panels, labels, simulated, mark, layout, placement)


def case_panel_figure(
    spec: CaseSpec,
    *,
    panel_ids: Iterable[str] | None = None,
    fig: Figure | None = None,
    width_mm: float = 180.0,
    loader: Loader | None = None,
) -> tuple[Figure, dict[str, PanelArtists]]:
    """One case's panels in a row (for notebooks): returns the figure and the panel artists."""
    ids = list(panel_ids) if panel_ids is not None else list(spec.panel_ids)
    if not ids:
        raise FigureError(f"{spec.path}: case {spec.case_id} declares no panels")
    with figure_style():
        fig = fig or Figure()
        arts = {
            pid: draw_panel(spec, pid, ax=fig.add_axes((0, 0, 1, 1), label=pid), loader=loader)
            for pid in ids
        }
        rects = layout_rows(
            fig, [list(arts.values())], width_in=width_mm * _MM, max_row_height_in=4.0
        )
        for pid, rect in rects.items():
            _label(fig, pid, rect)
    return fig, arts


def single_panel_figure(
    spec: CaseSpec, panel_id: str, *, width_in: float = 3.0, loader: Loader | None = None
) -> tuple[Figure, PanelArtists]:
    """One panel alone on its own figure (what ``figures/panels/<panel>.png`` shows)."""
    with figure_style():
        fig = Figure()
        ax = fig.add_axes((0, 0, 1, 1), label=panel_id)
        art = draw_panel(spec, panel_id, ax=ax, loader=loader)
        aspect = data_aspect(ax)
        extra = _COLORBAR_EXTRA + 0.15 if art.colorbar is not None else 0.0
        m = 0.03
        w = width_in
        h = w / aspect
        if h > 4.5:  # tall whole-body panels: limit the height instead
            h = 4.5
            w = h * aspect
        fig.set_size_inches(w + extra + 2 * m, h + 2 * m)
        fw, fh = fig.get_size_inches()
        ax.set_position((m / fw, m / fh, w / fw, h / fh))
    return fig, art


# --------------------------------------------------------------------------- files


def repo_root(start: Path) -> Path:
    """Nearest ancestor of ``start`` holding pyproject.toml (else ``start``)."""
    start = start.resolve()
    for p in (start, *start.parents):
        if (p / "pyproject.toml").is_file():
            return p
    return start


def sidecar(spec: CaseSpec, art: PanelArtists, *, root: Path) -> dict[str, Any]:
    """Alt text and provenance of one panel, as a JSON-ready dict.

    The caption is not in it: the article reads it from the case file, so a caption edit
    changes no figure file (and re-executes no figure run)."""
    return {**drawn_sidecar(spec, art, root=root), "alt": spec.panel(art.panel_id).alt}


def drawn_sidecar(spec: CaseSpec, art: PanelArtists, *, root: Path) -> dict[str, Any]:
    """The sidecar of one panel without its alt text: what drawing it determines."""
    used = dict(art.used)
    if "slice_files" in used:
        used["slice_files"] = [relpath(p, root, dotted=True) for p in used["slice_files"]]
    return {
        "panel": art.panel_id,
        "case": spec.case_id,
        "kind": art.kind.value,
        "annotation_file": relpath(spec.path, root, dotted=True),
        "annotations": [a.entry for a in spec.annotations_for(art.panel_id)],
        "window": art.window,
        "used": used,
        "simulated": art.simulated,
        "sources": [
            {
                "modality": s.modality,
                "series_instance_uid": s.series_instance_uid,
                "study_instance_uid": s.study_instance_uid,
                "frame_of_reference_uid": s.frame_of_reference_uid,
                "series_description": s.series_description,
                "simulated": s.simulated,
                "files": sorted(relpath(p, root, dotted=True) for p in s.paths),
            }
            for s in art.sources
        ],
    }


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def figure_boxes(result: Figure1) -> dict[str, list[float]]:
    """Each panel's box on the composite, label band included, as fractions of the
    figure: ``[left, top, width, height]`` measured from the upper-left corner (for links
    laid over the image)."""
    assert result.placement is not None
    fw, fh = result.placement.width_mm, result.placement.height_mm
    band = result.layout.label_band_mm
    out = {}
    for pid, (x, y, w, h) in result.placement.rects.items():
        w_total = w + (result.layout.colorbar_mm if result.panels[pid].colorbar else 0.0)
        out[pid] = [
            round(x / fw, 5),
            round((fh - (y + h + band)) / fh, 5),
            round(w_total / fw, 5),
            round((h + band) / fh, 5),
        ]
    return out


def panel_outputs(
    specs: Sequence[CaseSpec],
    *,
    root: Path,
    panel_ids: Iterable[str] | None = None,
    loader: Loader | None = None,
    boxes: Mapping[str, list[float]] | None = None,
) -> dict[str, bytes]:
    """``{"<panel>.png": bytes, "<panel>.json": bytes}`` for the requested panels.

    ``boxes`` (from :func:`figure_boxes`) adds each panel's place on Figure 1 to its
    sidecar as ``figure1_box``.
    """
    wanted = list(panel_ids) if panel_ids is not None else sorted(FIGURE1.panel_ids)
    out: dict[str, bytes] = {}
    drawn = []
    for pid in wanted:
        spec = _find_panel(specs, pid)
        fig, art = single_panel_figure(spec, pid, loader=loader)
        drawn.append(fig)
        extra: dict[str, Any] = {"image": f"{pid}.png", "dpi": DPI}
        if boxes and pid in boxes:
            extra["figure1_box"] = boxes[pid]
        out[f"{pid}.json"] = _json_bytes({**sidecar(spec, art, root=root), **extra})
    pngs = render_all([(fig, "png", DPI) for fig in drawn])  # in parallel
    for pid, png in zip(wanted, pngs, strict=True):
        out[f"{pid}.png"] = png
    return dict(sorted(out.items()))


def figure1_outputs(
    specs: Sequence[CaseSpec],
    *,
    loader: Loader | None = None,
    dpi: int = DPI,
    vector_image_dpi: int = VECTOR_IMAGE_DPI,
) -> dict[str, bytes]:
    """``{"figure1.png": ..., "figure1.tif": ..., "figure1.svg": ..., "figure1.pdf": ...}``.

    PNG and TIFF at ``dpi``; the TIFF is the PNG rendering re-encoded (RGB, LZW). SVG and
    PDF keep text and lines as vectors, with images embedded at ``vector_image_dpi``.
    """
    return composite_files(
        figure1(specs, loader=loader), dpi=dpi, vector_image_dpi=vector_image_dpi
    )


def composite_files(
    result: Figure1, *, dpi: int = DPI, vector_image_dpi: int = VECTOR_IMAGE_DPI
) -> dict[str, bytes]:
    """The drawn composite as ``figure1.{png,tif,svg,pdf}`` bytes (SVG and PDF written by
    forked processes while this one writes the PNG and the TIFF from one Agg drawing:
    :func:`render_all`, :func:`render_png_tiff`)."""
    fig = result.fig
    raster: list[tuple[bytes, bytes]] = []
    svg, pdf = render_all(
        [(fig, "svg", vector_image_dpi), (fig, "pdf", vector_image_dpi)],
        here=lambda: raster.append(render_png_tiff(fig, dpi=dpi)),
    )
    ((png, tiff),) = raster
    return {"figure1.png": png, "figure1.tif": tiff, "figure1.svg": svg, "figure1.pdf": pdf}


def write_files(out_dir: Path, files: Mapping[str, bytes]) -> list[Path]:
    """Write ``{relative name: bytes}`` under ``out_dir``; returns the paths written."""
    written = []
    for name in sorted(files):
        path = out_dir / name
        write_atomic(path, files[name])
        written.append(path)
    return written


def load_cases(
    data_dir: str | Path,
    *,
    loader: Loader | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    check_images: bool = True,
) -> list[CaseSpec]:
    """Every ``<subject>/case.yaml`` under ``data_dir`` with its display ``overrides``
    (``{case id: {nm_window|ct_window|crop_mm: value}}``), validated against its images
    (unless ``check_images`` is false: then the caller checks each panel)."""
    cases = index(data_dir)
    if not cases:
        raise FigureError(f"{data_dir}: no <subject>/case.yaml found")
    overrides = overrides or {}
    for case_id in overrides:
        if case_id not in cases:
            raise ParameterError(
                "<figure>",
                "overrides",
                f"no case {case_id!r} (cases: {', '.join(cases)})",
                case=case_id,
            )
    if not check_images:
        return [with_overrides(cases[subject], **overrides.get(subject, {})) for subject in cases]
    return [
        cases.checked(subject, loader=loader, **overrides.get(subject, {})) for subject in cases
    ]


def write_panels(
    specs: Sequence[CaseSpec],
    out_dir: str | Path,
    *,
    root: Path | None = None,
    panel_ids: Iterable[str] | None = None,
    loader: Loader | None = None,
) -> list[Path]:
    """Write ``<out_dir>/<panel>.png`` (300 dpi) and ``<panel>.json`` sidecars."""
    out_dir = Path(out_dir)
    root = root or repo_root(out_dir.parent)
    files = panel_outputs(specs, root=root, panel_ids=panel_ids, loader=loader)
    return write_files(out_dir, files)


def write_figure1(
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    root: Path | None = None,
    loader: Loader | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    panel_cache: str | Path | None = None,
) -> list[Path]:
    """Validate every case file, draw Figure 1 and its panels, then write them all.

    Writes ``figure1.{png,tif,svg,pdf}`` to ``out_dir`` and ``panels/<panel>.{png,json}``,
    and ``figureS1.png`` (the measurement regions) when a control with a whole-body study
    is present.
    ``overrides``: display overrides per case id (see :func:`load_cases`). Everything is
    rendered in memory first: on any error nothing is written.
    ``panel_cache``: a folder reusing unchanged panels, composite and S1 across runs
    (:mod:`casereport.figure.panel_cache`; ``None`` or empty: draw everything). The
    files written are the same bytes either way.
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    root = root or repo_root(data_dir)
    if panel_cache:
        from .panel_cache import PanelCache

        cache = PanelCache(Path(panel_cache), root)
        try:
            files = cached_files(data_dir, cache, loader=loader, overrides=overrides)
        finally:
            cache.save()
        return write_files(out_dir, files)
    specs = load_cases(data_dir, loader=loader, overrides=overrides)
    result = figure1(specs, loader=loader)
    files = composite_files(result)
    boxes = figure_boxes(result)
    for name, data in panel_outputs(specs, root=root, loader=loader, boxes=boxes).items():
        files[f"panels/{name}"] = data
    if has_figure_s1(specs):
        files["figureS1.png"] = render(figure_s1(specs, loader=loader).fig, "png")
    return write_files(out_dir, files)


def cached_files(
    data_dir: Path,
    cache: PanelCache,
    *,
    loader: Loader | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, bytes]:
    """The files :func:`write_figure1` writes, each panel, the composite and Figure S1
    reused from ``cache`` when stored under the same key (checked and drawn otherwise)."""
    from casereport.case.checks import check_panel

    from .panel_cache import study_paths

    specs = load_cases(data_dir, loader=loader, overrides=overrides, check_images=False)
    wanted = set(FIGURE1.panel_ids)
    entries: dict[str, Entry] = {}
    for spec in specs:  # in the order load_cases checks them: the same first error
        for panel in spec.panels:
            key = cache.panel_key(spec, panel)
            entry = cache.lookup("panel", key)
            if entry is None:
                check_panel(spec, panel, loader)
                files: dict[str, bytes] = {}
                info: dict[str, Any] = {}
                if panel.panel_id in wanted:
                    fig, art = single_panel_figure(spec, panel.panel_id, loader=loader)
                    files["panel.png"] = render(fig, "png")
                    info["sidecar"] = drawn_sidecar(spec, art, root=cache.root)
                entry = cache.store(
                    "panel", key, panel.panel_id, files, info, read_below=study_paths(panel)
                )
            entries[f"{spec.case_id}/{panel.panel_id}"] = entry
    owners = {pid: _find_panel(specs, pid) for pid in FIGURE1.panel_ids}
    panel_entries = {pid: entries[f"{owners[pid].case_id}/{pid}"] for pid in sorted(wanted)}
    key = cache.figure1_key({pid: e.key for pid, e in panel_entries.items()})
    composite = cache.lookup("figure1", key)
    if composite is None:
        result = figure1(specs, loader=loader)
        drawn = composite_files(result)
        composite = cache.store(
            "figure1",
            key,
            "figure1",
            drawn,
            {"boxes": figure_boxes(result)},
            read_below=[p for pid in wanted for p in study_paths(owners[pid].panel(pid))],
        )
    out = {name: composite.read(name) for name in composite.info["files_written"]}
    boxes = composite.info["boxes"]
    for pid, entry in panel_entries.items():
        side = {
            **entry.info["sidecar"],
            "alt": owners[pid].panel(pid).alt,
            "image": f"{pid}.png",
            "dpi": DPI,
            "figure1_box": boxes[pid],
        }
        out[f"panels/{pid}.png"] = entry.read("panel.png")
        out[f"panels/{pid}.json"] = _json_bytes(side)
    if has_figure_s1(specs):
        key = cache.s1_key(specs)
        s1 = cache.lookup("figureS1", key)
        if s1 is None:
            wb = [s.studies.whole_body for s in specs if s.studies.whole_body is not None]
            png = render(figure_s1(specs, loader=loader).fig, "png")
            s1 = cache.store("figureS1", key, "figureS1", {"figureS1.png": png}, {}, wb)
        out["figureS1.png"] = s1.read("figureS1.png")
    return out


__all__ = [
    "FIGURE1_FORMATS",
    "FIGURE1_LAYOUT",
    "SIMULATED_MARK",
    "Figure1",
    "case_panel_figure",
    "figure1",
    "figure1_outputs",
    "figure_boxes",
    "cached_files",
    "composite_files",
    "drawn_sidecar",
    "layout_rows",
    "place",
    "load_cases",
    "panel_outputs",
    "sidecar",
    "single_panel_figure",
    "write_figure1",
    "write_panels",
]

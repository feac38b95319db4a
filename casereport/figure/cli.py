"""Draw a DICOM file or folder with the project's display conventions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from matplotlib.figure import Figure

from casereport.case import Modality, Plane, Window
from casereport.display import (
    PlaneGrid,
    default_grid,
    show_ct_plane,
    show_nm_plane,
    show_planar_views,
)
from casereport.errors import FigureError, WindowError
from casereport.fileio import write_atomic
from casereport.io import PlanarOptions, load
from casereport.io.types import CTVolume, PlanarStudy, SpectVolume, Study, Volume, WholeBody

from .panels import data_aspect, simulated_tag
from .style import figure_style, render

_FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg", ".tif": "tif", ".tiff": "tif"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="DICOM file, folder or DICOMDIR")
    parser.add_argument(
        "-o", "--output", type=Path, required=True, help="image to write (.png, .pdf, .svg or .tif)"
    )
    parser.add_argument("--modality", help="series to pick in a folder (NM or CT)")
    parser.add_argument("--series-uid", help="SeriesInstanceUID to pick in a folder")
    parser.add_argument(
        "--window",
        default="lung",
        help="CT window: lung, mediastinal, bone or WIDTH,LEVEL in HU (default: lung)",
    )
    parser.add_argument(
        "--percentiles",
        default="0.5,99.5",
        help="NM window as LO,HI percentiles of pixels > 0 (default 0.5,99.5)",
    )
    parser.add_argument("--counts", help="NM window as LO,HI counts (overrides --percentiles)")
    parser.add_argument(
        "--plane",
        choices=[p.value for p in Plane],
        default="axial",
        help="plane of a volume (default axial)",
    )
    parser.add_argument(
        "--position-mm",
        type=float,
        help="plane position along its normal in patient mm (default: centre of the volume)",
    )
    parser.add_argument("--dpi", type=int, default=150, help="raster resolution (default 150)")


def _window(value: object, modality: Modality, option: str) -> Window:
    try:
        return Window.from_cli(value, modality)
    except WindowError as err:
        raise FigureError(f"{option}: {err}") from None


def _ct_window(text: str) -> Window:
    return _window(text, Modality.CT, "--window")


def _nm_window(args: argparse.Namespace) -> Window:
    if args.counts:
        return _window(f"{{counts: [{args.counts}]}}", Modality.NM, "--counts")
    return _window(args.percentiles, Modality.NM, "--percentiles")


def _plane_grid(vol: Volume, args: argparse.Namespace) -> PlaneGrid:
    plane = Plane(args.plane)
    lo, hi = vol.bounds_mm()
    axis = plane.axes[2]
    pos = args.position_mm if args.position_mm is not None else float((lo[axis] + hi[axis]) / 2)
    return default_grid(vol, plane, pos)


def draw_study(study: Study, args: argparse.Namespace) -> Figure:
    """A figure of ``study``: NM views side by side, or one CT/SPECT plane."""
    with figure_style():
        fig = Figure()
        ax = fig.add_axes((0, 0, 1, 1))
        if isinstance(study, PlanarStudy | WholeBody):
            show_planar_views(
                study.views,
                _nm_window(args),
                ax=ax,
                scale_bar_mm=100.0 if isinstance(study, WholeBody) else 50.0,
            )
            dark = False
        elif isinstance(study, CTVolume):
            show_ct_plane(study, _plane_grid(study, args), _ct_window(args.window), ax=ax)
            dark = True
        elif isinstance(study, SpectVolume):
            show_nm_plane(study, _plane_grid(study, args), _nm_window(args), ax=ax)
            dark = False
        else:  # pragma: no cover - load() returns one of the above
            raise FigureError(f"cannot draw a {type(study).__name__}")
        if study.source.simulated:
            simulated_tag(ax, dark=dark)
        aspect = data_aspect(ax)
        h = 6.0 if aspect < 1 else 6.0 / aspect
        w = h * aspect
        m = 0.05
        fig.set_size_inches(w + 2 * m, h + 2 * m)
        ax.set_position((m / (w + 2 * m), m / (h + 2 * m), w / (w + 2 * m), h / (h + 2 * m)))
    return fig


def run(args: argparse.Namespace) -> int:
    out: Path = args.output
    fmt = _FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise FigureError(f"{out}: unsupported output type (use {', '.join(sorted(_FORMATS))})")
    if not out.parent.exists() and str(out.parent) not in ("", "."):
        raise FigureError(f"{out}: folder {out.parent} does not exist")
    if args.dpi <= 0 or args.dpi > 1200:
        raise FigureError(f"--dpi must lie in 1..1200, got {args.dpi}")
    study = load(
        args.path,
        modality=args.modality,
        series_uid=args.series_uid,
        options=PlanarOptions(lenient=True),
    )
    for w in getattr(study, "warnings", ()):
        print(f"warning: {w}", file=sys.stderr)
    fig = draw_study(study, args)
    data = render(fig, fmt, dpi=args.dpi)
    write_atomic(out, data)
    print(out)
    return 0

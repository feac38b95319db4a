"""casereport.display: windows, planes in patient mm, planar/CT/fusion drawing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from casereport.case import PRESETS, Window, WindowUnit
from casereport.display import (
    CropMM,
    Plane,
    PlaneGrid,
    add_scale_bar,
    default_grid,
    sample_plane,
    show_ct_plane,
    show_fusion,
    show_planar_views,
)
from casereport.display.slices import fusion_colormap
from casereport.errors import FigureError, WindowError
from casereport.io.types import CTVolume, PlanarImage, SpectVolume
from tests.support.figure_synth import FOR_UID, ct_volume, source, spect_volume, spot, wholebody


def _rgb(fig: Figure) -> np.ndarray:
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].astype(float)


# --------------------------------------------------------------------------- windows


def test_windows_limits_in_display_units() -> None:
    assert PRESETS["lung"].limits_hu == (-1350.0, 150.0)
    assert PRESETS["mediastinal"].limits_hu == (-160.0, 240.0)
    a = np.zeros((10, 10))
    a[5:, :] = np.arange(50).reshape(5, 10) + 1  # 1..50, zeros ignored
    assert Window(0, 100).limits(a) == (1.0, 50.0)
    assert Window(2, 9, WindowUnit.COUNTS).limits(a) == (2.0, 9.0)


def test_ct_plane_refuses_an_nm_window() -> None:
    ct = ct_volume(Path("ct"))
    fig = Figure()
    with pytest.raises(WindowError, match="expected a CT window"):
        show_ct_plane(
            ct, default_grid(ct, "axial", -100.0), Window(1, 99), ax=fig.add_axes((0, 0, 1, 1))
        )


# --------------------------------------------------------------------------- planes


def _point_volume(
    affine: np.ndarray, shape: tuple[int, int, int], xyz: np.ndarray, cls=CTVolume, path="p"
) -> CTVolume:
    """A volume with a single hot voxel at the voxel nearest the patient point ``xyz``."""
    vol = cls(
        np.zeros(shape, np.float32),
        affine,
        source(Path(path), "CT", "1", frame_of_reference=FOR_UID),
    )
    i, j, k = np.round(vol.patient_to_index(xyz)).astype(int)
    arr = np.zeros(shape, np.float32)
    arr[k, j, i] = 1000.0
    return cls(arr, affine, vol.source)


def test_planes_register_by_patient_mm_not_index() -> None:
    p = np.array([-40.0, 20.0, -60.0])
    ct_aff = np.array([[2.0, 0, 0, -100], [0, 2.0, 0, -100], [0, 0, 5.0, -150], [0, 0, 0, 1]])
    # SPECT: other spacing, other origin, slice axis reversed (negative step along z)
    nm_aff = np.array([[4.0, 0, 0, -128], [0, 4.0, 0, -128], [0, 0, -4.0, 40], [0, 0, 0, 1]])
    ct = _point_volume(ct_aff, (60, 100, 100), p)
    nm = _point_volume(nm_aff, (60, 64, 64), p, cls=SpectVolume)
    for plane, pos in ((Plane.AXIAL, -60.0), (Plane.CORONAL, 20.0)):
        grid = default_grid(ct, plane, pos, spacing_mm=1.0)
        a = sample_plane(ct, grid, order=0)
        b = sample_plane(nm, grid, order=0)
        pa = np.unravel_index(np.argmax(a.array), a.array.shape)
        pb = np.unravel_index(np.argmax(b.array), b.array.shape)
        pts = grid.points_mm()
        au, av, _ = plane.axes
        # both peaks within a voxel of the true point, in patient mm
        assert np.allclose(pts[pa][[au, av]], p[[au, av]], atol=2.0)
        assert np.allclose(pts[pb][[au, av]], p[[au, av]], atol=4.0)


def test_plane_outside_volume_is_an_error() -> None:
    ct = ct_volume(Path("ct"))
    with pytest.raises(FigureError, match=r"z=500 mm lies outside the volume"):
        default_grid(ct, "axial", 500.0)


def test_plane_grid_validates() -> None:
    with pytest.raises(FigureError, match="empty u range"):
        PlaneGrid(Plane.AXIAL, 0.0, (10.0, 10.0), (0.0, 1.0), 1.0)


# --------------------------------------------------------------------------- drawing


def test_axial_ct_patient_right_on_image_left() -> None:
    ct = ct_volume(Path("ct"))
    arr = np.array(ct.array)
    arr[:, 40:80, 10:30] = 2000.0  # bright block at low x = patient right
    ct = CTVolume(arr, ct.affine, ct.source)
    fig = Figure(figsize=(3, 3))
    ax = fig.add_axes((0, 0, 1, 1))
    disp = show_ct_plane(
        ct,
        default_grid(ct, "axial", -100.0),
        PRESETS["bone"],
        ax=ax,
        markers=False,
        scale_bar_mm=None,
    )
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    assert x0 < x1 and y0 > y1  # x (to patient left) grows rightwards, y (posterior) down
    img = _rgb(fig).mean(axis=2)
    w = img.shape[1]
    assert img[:, : w // 4].max() > 250 and img[:, 3 * w // 4 :].max() < 250
    assert disp.texts == [] and disp.ct.array.min() >= -1100
    disp = show_ct_plane(ct, default_grid(ct, "coronal", 0.0), PRESETS["bone"], ax=ax)
    assert [t.get_text() for t in disp.texts] == ["R", "L", "S", "I"]
    y0, y1 = ax.get_ylim()
    assert y0 < y1  # coronal: superior up


def test_planar_ant_left_post_right_inverted_grey() -> None:
    wb = wholebody(Path("wb.dcm"))
    fig = Figure(figsize=(3, 6))
    ax = fig.add_axes((0, 0, 1, 1))
    # given POST first: still drawn ANT left
    disp = show_planar_views([wb.posterior, wb.anterior], Window(0, 99.5), ax=ax, gap_mm=10)
    assert list(disp.offsets_mm) == ["ANT", "POST"]
    assert disp.offsets_mm["ANT"] == (0.0, 0.0)
    assert disp.offsets_mm["POST"][0] == pytest.approx(256 * 2.3 + 10)
    assert disp.images[0].get_cmap().name == "gray_r"
    texts = [t.get_text() for t in disp.texts]
    assert texts == ["ANT", "R", "L", "POST", "L", "R"]
    # hot spine is dark (inverted), empty field white
    img = _rgb(fig).mean(axis=2)
    assert img[5, 2] > 250 and img.min() < 60


def test_planar_crop_and_errors() -> None:
    st = spot(Path("s.dcm"), ("ANT", "POST"))
    fig = Figure()
    ax = fig.add_axes((0, 0, 1, 1))
    disp = show_planar_views(
        st.views,
        Window(0, 10, WindowUnit.COUNTS),
        ax=ax,
        crop=CropMM((90.0, 360.0), (36.0, 396.0)),
        gap_mm=5,
    )
    assert disp.boxes_mm["ANT"] == ((90.0, 360.0), (36.0, 396.0))
    assert ax.get_xlim() == (0.0, 545.0)
    assert disp.images[0].get_array().shape == (200, 150)
    with pytest.raises(FigureError, match="misses the ANT view"):
        show_planar_views(
            st.views,
            Window(0, 10, WindowUnit.COUNTS),
            ax=ax,
            crop=CropMM((900.0, 1000.0), (0.0, 10.0)),
        )


def test_scale_bar_length_in_mm() -> None:
    fig = Figure()
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 300)
    ax.set_ylim(200, 0)
    line, text = add_scale_bar(ax, 50.0)
    xs = line.get_xdata()
    assert xs[1] - xs[0] == pytest.approx(50.0)
    assert text.get_text() == "5 cm"


def test_fusion_overlay_and_colorbar() -> None:
    ct = ct_volume(Path("ct"))
    nm = spect_volume(Path("s.dcm"))
    fig = Figure(figsize=(4, 3))
    ax = fig.add_axes((0.05, 0.05, 0.7, 0.9))
    grid = default_grid(ct, "axial", -100.0)
    disp = show_fusion(ct, nm, grid, PRESETS["lung"], Window(50, 99.9), ax=ax, alpha=0.5)
    assert len(disp.images) == 2 and disp.colorbar is not None
    assert disp.nm is not None and disp.nm.array.shape == disp.ct.array.shape
    # lungs (CT ~ -850 HU) carry the SPECT uptake on the same grid
    lung = disp.ct.array < -700
    assert disp.nm.array[lung].mean() > 5 * disp.nm.array[~lung & (disp.ct.array > -500)].mean()
    # a half-transparent overlay gets a colour bar blended the same way over one CT grey
    bar = disp.colorbar.cmap(np.linspace(0.0, 1.0, 7))[:, :3]
    base = fusion_colormap()(np.linspace(0.0, 1.0, 7))[:, :3]
    grey = (bar - 0.5 * base) / 0.5
    assert np.allclose(grey, grey[0, 0]) and 0.0 < grey[0, 0] < 1.0
    with pytest.raises(FigureError, match="alpha"):
        show_fusion(ct, nm, grid, PRESETS["lung"], Window(50, 99.9), ax=ax, alpha=0.0)


def test_planar_image_type_sanity() -> None:
    img = PlanarImage(
        np.ones((4, 6)), "ANT", "x", (2.0, 3.0), None, 0, source(Path("a"), "NM", "1")
    )
    assert img.size_mm == (18.0, 8.0)

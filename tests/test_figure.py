"""casereport.figure: panels, composite Figure 1, files, determinism, golden images, view CLI."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image
from pypdf import PdfReader

from casereport.case import load_case
from casereport.errors import CaseFileError, FigureError
from casereport.figure import (
    FIGURE1,
    FIGURE1_LAYOUT,
    SIMULATED_MARK,
    draw_panel,
    figure1,
    figure1_outputs,
    render,
    single_panel_figure,
    write_figure1,
)
from casereport.figure.composite import composite_files
from casereport.figure.layout import Column, FigureLayout, check, solve
from casereport.figure.style import LICENCE, png_to_tiff, render_all, render_png_tiff
from tests.support.figure_synth import CASE_YAML, SyntheticLoader, make_case_dir

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
BASELINE = Path(__file__).resolve().parent / "baseline"
ARTIFACTS = ROOT / "test-artifacts"
#: RMS difference (0-255 grey levels) tolerated against a baseline image.
RMS_TOLERANCE = 3.0
#: Resolution of the golden images (lower than the 300 dpi outputs to keep them small).
GOLDEN_DPI = 80


@pytest.fixture(scope="module")
def synth_case(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("case")
    path = make_case_dir(root)
    loader = SyntheticLoader(root)
    return load_case(path, loader=loader), loader, root


# --------------------------------------------------------------------------- panels


def test_simulated_mark_is_outlined_in_the_background_colour(synth_case) -> None:
    """The "SIMULATED" mark keeps a halo of the panel's background (black on a CT panel,
    white on NM), so it reads where it lies over bright anatomy or the CT table."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    spec, loader, _ = synth_case
    fig = Figure(figsize=(3, 3), dpi=200)
    art = draw_panel(spec, "A2", ax=fig.add_axes((0, 0, 1, 1)), loader=loader)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    mark = art.texts[-1]
    assert mark.get_text() == "SIMULATED"
    box = mark.get_window_extent(canvas.get_renderer())
    rgb = np.asarray(canvas.buffer_rgba())[..., :3].astype(int)
    h = rgb.shape[0]
    inside = rgb[int(h - box.y1) : int(h - box.y0) + 1, int(box.x0) : int(box.x1) + 1]
    share = np.mean(np.all(inside <= 12, axis=-1))  # black: air is grey in a lung window
    assert share > 0.1, share  # the outline: without it only air, table and lettering
    assert np.mean(np.abs(inside[..., 0] - inside[..., 2]) > 60) > 0.05  # the red lettering


def test_each_panel_kind_returns_its_artists(synth_case) -> None:
    spec, loader, _ = synth_case
    fig = Figure()
    arts = {
        pid: draw_panel(spec, pid, ax=fig.add_axes((0, 0, 1, 1), label=pid), loader=loader)
        for pid in spec.panel_ids
    }
    a1 = arts["A1"]
    assert len(a1.images) == 1 and a1.images[0].get_cmap().name == "gray_r"
    assert [t.get_text() for t in a1.texts][:3] == ["ANT", "R", "L"]
    assert a1.texts[-1].get_text() == "SIMULATED" and a1.simulated
    assert a1.annotations[0].get_text() == "lung"
    assert a1.used["views"][0] == {
        "view": "ANT",
        "frame_index": 0,
        "view_source": "ViewCodeSequence",
        "pixel_spacing_mm": [1.8, 1.8],
        "spacing_source": "PixelSpacing",
    }
    b1 = arts["B1"]
    assert [t.get_text() for t in b1.texts if t.get_text() in ("ANT", "POST")] == ["ANT", "POST"]
    a2 = arts["A2"]
    assert a2.window["ct"] == {"name": "lung", "width_hu": 1500.0, "level_hu": -600.0}
    assert a2.used["plane"] == "axial" and a2.used["position_mm"] == -100.0
    assert a2.used["index_ijk"][2] == pytest.approx(20.0)  # (-100 - -200) / 5 mm
    assert [Path(p).name for p in a2.used["slice_files"]] == ["CT_0021.dcm"]
    assert a2.ax.get_xlim() == (-180.0, 180.0) and a2.ax.get_ylim() == (120.0, -140.0)
    c2 = arts["C2"]
    assert len(c2.images) == 2 and c2.colorbar is not None
    assert len(c2.sources) == 2 and c2.window["spect"]["alpha"] == 0.6
    assert arts["C3"].used["plane"] == "coronal"


def test_missing_view_is_a_figure_error(synth_case) -> None:
    from casereport.figure import planar_panel

    spec, loader, root = synth_case
    panel = spec.panel("B1")
    study = loader(root / "spot/spot.dcm")  # ANT only
    with pytest.raises(FigureError, match="has no POST view"):
        planar_panel(study, panel, ax=Figure().add_axes((0, 0, 1, 1)))


# --------------------------------------------------------------------------- composite


def _bbox(ax) -> tuple[float, float, float, float]:
    b = ax.get_position()
    return (b.x0, b.y0, b.x1, b.y1)


def test_figure1_layout_labels_and_mark(synth_case) -> None:
    spec, loader, _ = synth_case
    res = figure1([spec], loader=loader)
    assert res.fig.get_size_inches()[0] == pytest.approx(FIGURE1.width_mm / 25.4)
    assert set(res.panels) == set(FIGURE1.panel_ids)
    boxes = {pid: _bbox(a.ax) for pid, a in res.panels.items()}
    # within each column: rows top to bottom, panels left to right; columns side by side
    for col in FIGURE1.columns:
        for upper, lower in zip(col.rows, col.rows[1:], strict=False):
            assert min(boxes[p][1] for p in upper) > max(boxes[p][3] for p in lower)
        for row in col.rows:
            for left, right in zip(row, row[1:], strict=False):
                assert boxes[left][2] < boxes[right][0]
    for a, b in zip(FIGURE1.columns, FIGURE1.columns[1:], strict=False):
        assert max(boxes[p][2] for p in a.panel_ids) < min(boxes[p][0] for p in b.panel_ids)
    assert all(0 <= b[0] and b[2] <= 1 and 0 <= b[1] and b[3] <= 1 for b in boxes.values())
    assert {t.get_text() for t in res.labels.values()} == set(res.panels)
    assert res.simulated and res.mark is not None and res.mark.get_text() == SIMULATED_MARK


def test_layout_solver_equal_columns_and_minimums() -> None:
    layout = FigureLayout(
        columns=(Column(rows=(("a", "b"), ("c",))), Column(rows=(("t",),), min_width_mm=30.0)),
        width_mm=180.0,
    )
    aspects = {"a": 1.0, "b": 1.0, "c": 2.0, "t": 0.5}
    placed = solve(layout, aspects)
    rects = placed.rects
    col_a_top = rects["a"][1] + rects["a"][3]
    assert col_a_top - rects["c"][1] == pytest.approx(rects["t"][3])
    assert check(layout, placed) == []
    # a wide tall panel squeezes the left column: the panel minimum wins over equal heights
    squeezed = solve(layout, {**aspects, "t": 2.0})
    assert min(r[2] for k, r in squeezed.rects.items() if k != "t") >= 40.0 - 1e-6
    # each minimum is enforced by check(), to the tenth of a millimetre or point
    strict = FigureLayout(columns=layout.columns, min_panel_mm=rects["c"][2] + 0.1)
    assert any("panel" in p for p in check(strict, placed))
    assert check(layout, placed, text_sizes_pt=[("x", 6.9)]) == ["text 'x' is 6.9 pt (minimum 7)"]
    assert check(layout, placed, view_widths_mm={"t": [27.9]})


def test_figure1_meets_print_minimums(real_specs) -> None:
    """At print size (180 mm): C1 >= 60 mm, its views >= 28 mm, panels >= 40 mm, text >= 7 pt."""
    res = figure1(real_specs)
    assert res.fig.get_size_inches()[0] * 25.4 == pytest.approx(FIGURE1.width_mm)
    assert res.problems() == []
    w_in = res.fig.get_size_inches()[0]
    c1_mm = res.panels["C1"].ax.get_position().width * w_in * 25.4
    assert c1_mm >= 60.0
    assert min(res.view_widths_mm()["C1"]) >= 28.0
    sizes = [size for _, size in res.text_sizes_pt()]
    assert len(sizes) > 30 and min(sizes) >= 7.0  # every label, tick and scale bar text
    # the check sees a single label made smaller
    res.panels["C2"].colorbar.ax.yaxis.get_ticklabels()[0].set_fontsize(6.5)
    res.fig.canvas.draw()  # tick labels are re-created on draw; set one again after it
    res.panels["C2"].texts[0].set_fontsize(6.5)
    assert any("6.5 pt" in p for p in res.problems())


def _overlay_to_bar_distance(res) -> float:
    """75th percentile of the distance (RGB levels) from C2's coloured pixels to the bar."""
    c2 = res.panels["C2"]
    rgb = np.asarray(Image.open(io.BytesIO(render(res.fig, "png", dpi=100))).convert("RGB"))
    h, w, _ = rgb.shape
    x0, y0, x1, y1 = _bbox(c2.ax)
    bx0, by0, bx1, by1 = _bbox(c2.colorbar.ax)
    bar = rgb[int((1 - by1) * h) + 2 : int((1 - by0) * h) - 2, int((bx0 + bx1) / 2 * w)]
    panel = rgb[int((1 - y1) * h) : int((1 - y0) * h), int(x0 * w) : int(x1 * w)]
    panel = panel.astype(float)
    coloured = panel[(panel.max(axis=2) - panel.min(axis=2)) > 60]  # not grey
    assert len(coloured) > 1000
    gaps = np.linalg.norm(coloured[:, None, :] - bar[None, :, :].astype(float), axis=2)
    return float(np.percentile(gaps.min(axis=1), 75))


def test_fusion_colours_on_the_image_are_those_of_the_colour_bar(real_specs) -> None:
    res = figure1(real_specs)
    assert _overlay_to_bar_distance(res) < 8.0
    # the same overlay blended at 60 % over the CT (olive on grey) is far from every bar colour
    res.panels["C2"].images[-1].set_alpha(0.6)
    assert _overlay_to_bar_distance(res) > 40.0


# --------------------------------------------------------------------------- files


def test_outputs_are_deterministic_and_well_formed(synth_case) -> None:
    spec, loader, _ = synth_case
    first = figure1_outputs([spec], loader=loader, dpi=150)
    second = figure1_outputs([spec], loader=loader, dpi=150)
    assert sorted(first) == ["figure1.pdf", "figure1.png", "figure1.svg", "figure1.tif"]
    for name in first:
        assert first[name] == second[name], f"{name} differs between two renders"
    png = Image.open(io.BytesIO(first["figure1.png"]))
    assert png.info["dpi"] == pytest.approx((150, 150), abs=0.05)
    assert "Software" not in png.info
    assert png.size[0] == pytest.approx(180 / 25.4 * 150, abs=2)
    tif = Image.open(io.BytesIO(first["figure1.tif"]))
    assert tif.info["compression"] == "tiff_lzw" and tif.mode == "RGB"
    assert tuple(float(v) for v in tif.info["dpi"]) == (150.0, 150.0)
    assert tif.size == png.size
    svg = first["figure1.svg"].decode()
    assert "<dc:date>" not in svg and "Matplotlib v" not in svg
    assert b"CreationDate" not in first["figure1.pdf"]
    assert first["figure1.pdf"].startswith(b"%PDF")
    # text stays text in the SVG (labels searchable), licence and source in every format
    assert ">A1</text>" in svg.replace("\n", "") or re.search(r"<text[^>]*>A1</text>", svg)
    assert LICENCE in svg and "Majeed" in svg
    assert png.info["Copyright"] == LICENCE and "DICOM" in png.info["Source"]
    assert tif.tag_v2[33432] == LICENCE and "Majeed" in tif.tag_v2[270]
    meta = PdfReader(io.BytesIO(first["figure1.pdf"])).metadata
    assert LICENCE in meta["/Keywords"] and "Majeed" in meta["/Subject"]


def test_formats_written_in_forked_processes_are_the_sequential_bytes(synth_case) -> None:
    """SVG and PDF written by forked children while the parent writes the PNG: the same
    bytes as writing PNG, SVG, PDF one after the other on one figure (as before)."""
    spec, loader, _ = synth_case
    one = figure1([spec], loader=loader).fig
    sequential = {
        "png": render(one, "png", dpi=150),
        "svg": render(one, "svg", dpi=100),
        "pdf": render(one, "pdf", dpi=100),
    }
    forks: list[int] = []
    os.register_at_fork(after_in_parent=lambda: forks.append(os.getpid()))
    files = composite_files(figure1([spec], loader=loader), dpi=150, vector_image_dpi=100)
    assert len(forks) == 2  # the SVG and the PDF, each in a child
    assert files["figure1.png"] == sequential["png"]
    assert files["figure1.svg"] == sequential["svg"]
    assert files["figure1.pdf"] == sequential["pdf"]
    assert files["figure1.tif"] == png_to_tiff(sequential["png"], dpi=150)
    assert render_png_tiff(one, dpi=150) == (sequential["png"], files["figure1.tif"])
    assert type(one.canvas).__name__ == "FigureCanvasBase"  # the figure's canvas is back
    # several figures and formats at once, more jobs than CPUs: each the bytes of render()
    other = figure1([spec], loader=loader).fig
    jobs = [(one, "png", 60), (other, "svg", 60), (one, "pdf", 60), (other, "png", 40)] * 2
    assert render_all(jobs) == [render(f, fmt, dpi=d) for f, fmt, d in jobs]
    # a job that fails in its child is written (here: raises) in the parent, like render()
    with pytest.raises(ValueError, match="nonsense"):
        render_all([(one, "png", 60), (one, "nonsense", 60)])


def test_write_figure1_and_panel_sidecars(tmp_path: Path) -> None:
    data = tmp_path / "data"
    case = data / "T"
    case.mkdir(parents=True)
    make_case_dir(case)
    (tmp_path / "pyproject.toml").write_text("")
    loader = SyntheticLoader(case)
    out = tmp_path / "figures"
    written = write_figure1(data, out, loader=loader)
    names = sorted(p.relative_to(out).as_posix() for p in written)
    panels = [p for row in FIGURE1_LAYOUT for p in row]
    assert names == sorted(
        ["figure1.pdf", "figure1.png", "figure1.svg", "figure1.tif"]
        + [f"panels/{p}.png" for p in panels]
        + [f"panels/{p}.json" for p in panels]
    )
    side = json.loads((out / "panels/C2.json").read_text())
    assert side["alt"] == "Fused SPECT/CT of the chest." and side["case"] == "T"
    assert side["annotation_file"] == "data/T/case.yaml"
    assert side["annotations"] == ["annotations[4]"]
    assert [s["series_instance_uid"] for s in side["sources"]] == ["1.2.3.30", "1.2.3.40"]
    assert side["sources"][0]["files"][0] == "data/T/ct/CT_0001.dcm"
    assert side["window"]["ct"]["name"] == "lung" and side["simulated"] is True
    assert side["used"]["slice_files"] == ["data/T/ct/CT_0021.dcm"]
    im = Image.open(out / "panels/C1.png")
    assert im.info["dpi"] == pytest.approx((300, 300), abs=0.05)
    tif = Image.open(out / "figure1.tif")
    assert tif.info["compression"] == "tiff_lzw"
    assert tuple(float(v) for v in tif.info["dpi"]) == (300.0, 300.0)


def test_bad_input_writes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    case = data / "T"
    case.mkdir(parents=True)
    make_case_dir(case, CASE_YAML.replace("tip_mm: [60, -20]", "tip_mm: [60, -500]"))
    out = tmp_path / "figures"
    with pytest.raises(CaseFileError, match=r"annotations\[4\]\.tip_mm: point \[60, -500\]"):
        write_figure1(data, out, loader=SyntheticLoader(case))
    assert not out.exists()


# --------------------------------------------------------------------------- view CLI


def test_view_cli_draws_nm_and_ct(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from casereport.__main__ import main
    from tests.support import dicom_factory as df

    wb = df.save(df.nm_wholebody(), tmp_path / "wb.dcm")
    out = tmp_path / "wb.png"
    assert main(["view", str(wb), "-o", str(out)]) == 0
    im = np.asarray(Image.open(out).convert("L"), float)
    assert im.shape[0] > im.shape[1]  # two tall views side by side
    assert im[2, 2] > 250  # inverted grey: empty field white
    ct_dir = tmp_path / "ct"
    df.save_series(df.ct_series(8, rows=32, cols=32), ct_dir)
    out_ct = tmp_path / "ct.png"
    assert main(["view", str(ct_dir), "-o", str(out_ct), "--window", "lung"]) == 0
    assert Image.open(out_ct).size[0] > 100
    capsys.readouterr()
    assert main(["view", str(ct_dir), "-o", str(out_ct), "--window", "0,40"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "width must be > 0" in err and "\n" == err[-1]
    assert main(["view", str(ct_dir), "-o", str(tmp_path / "x.png"), "--position-mm", "900"]) == 2
    assert "outside the volume" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


# --------------------------------------------------------------------------- golden images


def _have_data() -> bool:
    return all((DATA / s / "case.yaml").is_file() for s in ("A", "B", "C"))


def compare_to_baseline(name: str, png: bytes) -> None:
    """RMS-compare ``png`` to tests/baseline/<name>.png; write a diff image on failure.

    With CASEREPORT_UPDATE_BASELINE=1 the baseline is (re)written instead.
    """
    base = BASELINE / f"{name}.png"
    if os.environ.get("CASEREPORT_UPDATE_BASELINE") == "1":
        base.parent.mkdir(parents=True, exist_ok=True)
        base.write_bytes(png)
        pytest.skip(f"baseline written: {base}")
    if not base.is_file():
        pytest.fail(f"no baseline {base}; see tests/baseline/README.md")
    actual = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), float)
    expected = np.asarray(Image.open(base).convert("RGB"), float)
    ARTIFACTS.mkdir(exist_ok=True)
    if actual.shape != expected.shape:
        (ARTIFACTS / f"{name}-actual.png").write_bytes(png)
        pytest.fail(
            f"{name}: size {actual.shape[:2]} != baseline {expected.shape[:2]}; "
            f"actual image written to {ARTIFACTS / f'{name}-actual.png'}"
        )
    diff = np.abs(actual - expected)
    rms = float(np.sqrt(np.mean(diff**2)))
    if rms > RMS_TOLERANCE:
        (ARTIFACTS / f"{name}-actual.png").write_bytes(png)
        amplified = np.clip(diff.max(axis=2) * 4, 0, 255).astype(np.uint8)
        Image.fromarray(255 - amplified).save(ARTIFACTS / f"{name}-diff.png")
        rows, cols = np.nonzero(diff.max(axis=2) > 32)
        where = (
            f"rows {rows.min()}-{rows.max()}, cols {cols.min()}-{cols.max()}"
            if rows.size
            else "spread thinly"
        )
        pytest.fail(
            f"{name}: RMS {rms:.2f} > {RMS_TOLERANCE} (differences at {where}); "
            f"diff image: {ARTIFACTS / f'{name}-diff.png'}, "
            f"actual: {ARTIFACTS / f'{name}-actual.png'}"
        )


@pytest.fixture(scope="module")
def real_specs():
    if not _have_data():
        pytest.skip("data/A, data/B, data/C with case.yaml not present")
    from casereport.figure import load_cases

    return load_cases(DATA)


def test_golden_figure1(real_specs) -> None:
    res = figure1(real_specs)
    compare_to_baseline("figure1", render(res.fig, "png", dpi=GOLDEN_DPI))


@pytest.mark.parametrize("panel_id", [p for row in FIGURE1_LAYOUT for p in row])
def test_golden_panels(real_specs, panel_id: str) -> None:
    spec = next(s for s in real_specs if panel_id in s.panel_ids)
    fig, art = single_panel_figure(spec, panel_id)
    assert art.simulated  # the committed data are simulated, read from the DICOM
    compare_to_baseline(f"panel_{panel_id}", render(fig, "png", dpi=GOLDEN_DPI))

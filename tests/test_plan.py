"""Render planning: command-line overrides reach the right notebooks, checked before any
kernel starts (casereport.render.plan)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from casereport.errors import ParameterError
from casereport.render.params import declared_parameters
from casereport.render.plan import RenderOptions, plan_render

ROOT = Path(__file__).resolve().parents[1]


def _plan(tmp_path: Path, overrides: dict, cases: tuple[str, ...] | None = None):
    opts = RenderOptions.for_root(
        ROOT, build_dir=tmp_path / "build", overrides=overrides, cases=cases
    )
    return opts, plan_render(opts, tmp_path / "stage", declared_parameters)


def test_no_override_publishes_figures_in_place(tmp_path: Path) -> None:
    opts, plan = _plan(tmp_path, {})
    assert [r.label for r in plan.case_runs] == ["A", "B", "C"]
    assert plan.display == {} and plan.figures_dir == opts.figures_dir
    assert plan.figure is not None and "overrides" not in plan.figure.parameters
    assert plan.case_runs[1].parameters["output_dir"].endswith("stage/cases/B")


def test_unscoped_window_reaches_every_case_figure_and_article(tmp_path: Path) -> None:
    opts, plan = _plan(tmp_path, {None: {"ct_window": "mediastinal"}})
    assert all(r.parameters["ct_window"] == "mediastinal" for r in plan.case_runs)
    expected = {c: {"ct_window": "mediastinal"} for c in ("A", "B", "C")}
    assert plan.figure is not None and plan.figure.parameters["overrides"] == expected
    assert plan.article.parameters["overrides"] == expected
    assert plan.figures_dir == opts.build_dir / "figures"  # never over figures/


def test_scoped_window_and_crop_reach_only_their_case(tmp_path: Path) -> None:
    crop = {"A2": {"x": [-100, 100], "y": [-120, 80]}}
    _, plan = _plan(tmp_path, {"A": {"nm_window": [0.5, 99], "crop_mm": crop}})
    a, b, _ = plan.case_runs
    assert a.parameters["crop_mm"] == crop and "crop_mm" not in b.parameters
    assert plan.figure is not None
    assert plan.figure.parameters["overrides"] == {
        "A": {"nm_window": {"percentiles": [0.5, 99.0]}, "crop_mm": crop}
    }


@pytest.mark.parametrize(
    ("overrides", "case", "parameter", "message"),
    [
        ({"A": {"nm_window": [99, 1]}}, "A", "nm_window", "lo < hi"),
        ({"A": {"nm_window": [-5, 500]}}, "A", "nm_window", r"\[0, 100\]"),
        ({"A": {"nm_window": [float("nan"), float("inf")]}}, "A", "nm_window", "finite"),
        ({"A": {"nm_window": ["a", "b"]}}, "A", "nm_window", "expected a number, got 'a'"),
        ({None: {"ct_window": "purple"}}, "A", "ct_window", "unknown CT window 'purple'"),
        ({"B": {"ct_window": "soft"}}, "B", "ct_window", "unknown CT window 'soft'"),
        ({"A": {"crop_mm": {"A2": {"x": [5, 1], "y": [0, 1]}}}}, "A", "crop_mm", "lo < hi"),
        ({"A": {"crop_mm": {"A1": {"x": [0, 1], "z": [0, 1]}}}}, "A", "crop_mm", "A1.z"),
        ({"A": {"crop_mm": {"Z9": {"x": [0, 1], "y": [0, 1]}}}}, "A", "crop_mm", "no panel 'Z9'"),
        ({"A": {"panels": ["B1"]}}, "A", "panels", "case A has no panel B1"),
        ({"A": {"control_id": "B"}}, "A", "control_id", "no control subject 'B'"),
    ],
)
def test_bad_overrides_name_case_parameter_and_value(
    tmp_path: Path, overrides: dict, case: str, parameter: str, message: str
) -> None:
    with pytest.raises(ParameterError, match=message) as info:
        _plan(tmp_path, overrides)
    err = info.value
    assert (err.case, err.parameter) == (case, parameter)
    given = overrides.get(case, overrides.get(None, {}))[parameter]
    assert err.value == given or (err.value != err.value)  # nan != nan
    assert f"case {case}" in str(err) and repr(parameter) in str(err)


def test_override_messages_name_the_value_once_and_an_unknown_case_by_its_parameter(
    tmp_path: Path,
) -> None:
    with pytest.raises(ParameterError) as info:
        _plan(tmp_path, {"A": {"nm_window": [1, 101]}})
    assert str(info.value).count("101") == 1, str(info.value)
    with pytest.raises(ParameterError) as info:
        _plan(tmp_path, {"A": {"ct_window": "soft"}})
    assert str(info.value).count("'soft'") == 1, str(info.value)
    with pytest.raises(ParameterError, match="no such case in this render") as info:
        _plan(tmp_path, {"Z": {"nm_window": [1, 99]}})
    err = info.value
    assert (err.case, err.parameter, err.value) == ("Z", "nm_window", [1, 99])
    assert str(err).startswith("<command line>: case Z: parameter 'nm_window': no such case")


def test_unknown_unscoped_parameter_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="no notebook declares it") as info:
        _plan(tmp_path, {None: {"ct_windw": "lung"}})
    assert info.value.parameter == "ct_windw"


@pytest.mark.parametrize(
    "param", ["A:ct_window=purple", "ct_window=purple", "A:nm_window=[.nan, .inf]"]
)
def test_bad_override_fails_in_one_line_before_any_kernel(tmp_path: Path, param: str) -> None:
    cmd = [sys.executable, str(ROOT / "render.py"), "--build", str(tmp_path / "b")]
    cmd += ["-p", param]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, res.stderr  # one line, no traceback
    assert errors[0].startswith("error: <command line>: case A: parameter"), res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "b" / "notebooks").exists()
    assert not list((tmp_path / "b").glob(".staging-*/notebooks/*"))


@pytest.mark.slow
def test_window_override_reaches_the_build_figure_and_the_article(tmp_path: Path) -> None:
    """``-p A:ct_window=mediastinal``: A2 changes in Figure 1 and its panel file (written to
    build/figures, not over figures/), the other panels stay byte-identical, and the
    article names the override."""
    import json

    build, figures = tmp_path / "build", tmp_path / "figures"
    cmd = [
        sys.executable,
        str(ROOT / "render.py"),
        "--build",
        str(build),
        "--figures",
        str(figures),
        "--case",
        "A",
        "--html-only",
        "-q",
        "-p",
        "A:ct_window=mediastinal",
    ]
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1554076800", "PYTHONHASHSEED": "0"}
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
    assert res.returncode == 0, res.stderr
    assert not figures.exists()  # the published figures folder is never written
    out = build / "figures"
    a2 = json.loads((out / "panels" / "A2.json").read_text())
    assert a2["window"]["ct"] == {"name": "mediastinal", "width_hu": 400.0, "level_hu": 40.0}
    committed = ROOT / "figures"
    assert (out / "panels" / "A2.png").read_bytes() != (
        committed / "panels" / "A2.png"
    ).read_bytes()
    assert (out / "figure1.png").read_bytes() != (committed / "figure1.png").read_bytes()
    for pid in ("A1", "B2", "C2"):  # untouched panels: same bytes as the committed ones
        assert (out / "panels" / f"{pid}.png").read_bytes() == (
            committed / "panels" / f"{pid}.png"
        ).read_bytes(), pid
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["parameters"]["overrides"] == {"A": {"ct_window": "mediastinal"}}
    html = (build / "article.html").read_text()
    assert "Display overrides" in html and 'ct_window = "mediastinal"' in html
    manifest = json.loads((build / "manifest.json").read_text())
    assert manifest["display_overrides"] == {"A": {"ct_window": "mediastinal"}}
    assert manifest["parameters"]["A"]["ct_window"] == "mediastinal"

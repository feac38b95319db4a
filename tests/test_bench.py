"""bench/run.py: a quick run of the cheap pieces writes well-formed results (no timing asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADLINE = (
    "cold_over_naive",
    "noop_seconds",
    "case_edit_over_cold",
    "text_edit_over_cold",
    "cold_cpu_over_naive",
    "text_edit_html_seconds",
    "caption_edit_html_seconds",
    "annotation_edit_html_seconds",
    "watch_rss_growth",
    "ct_load_over_simpleitk",
    "wb_load_over_pydicom",
    "synth_seconds",
    "peak_rss_mb",
)


def test_quick_wb_load_writes_results_json_and_markdown(tmp_path: Path) -> None:
    import os

    # started where writing bytecode is forbidden: the bench measures with Python's default
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    res = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--quick",
            "--only",
            "wb_load",
            "--out",
            str(tmp_path),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    doc = json.loads((tmp_path / "results.json").read_text())
    for key in HEADLINE:
        assert key in doc
    assert isinstance(doc["wb_load_over_pydicom"], float) and doc["wb_load_over_pydicom"] > 0
    assert all(doc[k] is None for k in HEADLINE if k != "wb_load_over_pydicom")
    assert doc["meets_goal"]["wb_load_over_pydicom"] in (True, False)
    assert doc["goals"]["wb_load_over_pydicom"] == {"op": "<=", "limit": 1.2}
    wb = doc["raw"]["io"]["wholebody_nm"]
    assert wb["ours"]["min_s"] <= wb["ours"]["median_s"]
    assert wb["reference"]["min_s"] > 0
    m = doc["machine"]
    assert isinstance(m["cores_logical"], int) and m["cpu_model"]
    assert m["versions"]["pydicom"] and m["versions"]["casereport"]
    assert doc["repeats"] == 1 and doc["only"] == ["wb_load"]
    md = (tmp_path / "RESULTS.md").read_text()
    assert "| `wb_load_over_pydicom`" in md and "≤ 1.20×" in md
    assert "not run" in md  # the other figures are marked, not invented
    assert doc["bytecode_cache"] == {"forbidden_by_environment": True, "used": True}
    assert "bytecode cache is on" in md and "`PYTHONDONTWRITEBYTECODE` was set" in md
    assert json.loads(res.stdout)["results"]["wb_load_over_pydicom"] == doc["wb_load_over_pydicom"]


def test_repeats_below_three_are_refused() -> None:
    res = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--repeats", "2", "--only", "wb_load"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2
    assert "at least 3" in res.stderr

"""A case edit on the real notebooks and data: one case's NM window changed after a cold
render re-executes that case, the figure run (which draws only that case's NM panel and
composes Figure 1 again, reusing the other panels and Figure S1) and the article, and
publishes, byte for byte, what a render executing everything (``--no-cache``) with the
same parameter publishes: figures, executed notebooks, case results, HTML, PDF and JATS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.real_project import real_project_copy

pytestmark = pytest.mark.slow

#: an NM window for case A other than its case file's (A1 is its NM panel)
EDIT = "A:nm_window=[2, 97]"


def _render(project: Path, *args: str) -> dict[str, dict]:
    """Render ``project`` quietly; the manifest's steps by name."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1554076800", "PYTHONPATH": str(project)}
    res = subprocess.run(
        [sys.executable, str(project / "render.py"), "--root", str(project), "--quiet", *args],
        cwd=project, capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    steps = json.loads((project / "build" / "manifest.json").read_text())["steps"]
    return {s["step"]: s for s in steps}


def _outputs(project: Path) -> dict[str, bytes]:
    """Every published output of a render with display overrides (Figure 1 goes to
    build/figures/) apart from the manifest, which holds timings."""
    build = project / "build"
    files = {n: (build / n).read_bytes() for n in ("article.html", "article.pdf")}
    files["article.jats.xml"] = (build / "article.jats.xml").read_bytes()
    for folder in ("figures", "notebooks", "cases"):
        for p in sorted((build / folder).rglob("*")):
            if p.is_file() and not p.name.startswith("."):
                files[p.relative_to(build).as_posix()] = p.read_bytes()
    return files


def test_nm_window_edit_reruns_its_case_and_one_panel_and_equals_a_full_render(
    tmp_path: Path,
) -> None:
    project = real_project_copy(tmp_path / "p")
    # the render executing everything runs on a copy of its own meanwhile (the outputs
    # hold no absolute path, so they are the same bytes wherever the project lies)
    reference = real_project_copy(tmp_path / "ref")
    with ThreadPoolExecutor(max_workers=1) as pool:
        full_run = pool.submit(_render, reference, "--no-cache", "-p", EDIT)
        edited = _cold_then_edit(project)
        full = full_run.result()
    assert not any(s["cached"] for s in full.values())
    fresh = _outputs(reference)
    assert sorted(edited) == sorted(fresh)
    assert [n for n in fresh if edited[n] != fresh[n]] == []


def _cold_then_edit(project: Path) -> dict[str, bytes]:
    """A cold render, then the edit, each checked for what it executed; the edit's outputs."""
    cold = _render(project)
    assert not any(s["cached"] for s in cold.values())

    edit = _render(project, "-p", EDIT)
    executed = sorted(n for n, s in edit.items() if not s["cached"] and n != "plan")
    assert executed == ["article", "case A", "figure", "html", "jats", "pdf"], executed
    assert edit["case B"]["cached"] and edit["case C"]["cached"]
    assert edit["figure"]["redrawn"] == ["A1", "figure1"]  # Figure S1 and 6 panels reused
    log = (project / "build" / "cache" / "derived" / "log.txt").read_text().splitlines()
    assert any(line.startswith("hit ") and "font_subset" in line for line in log)
    edited = _outputs(project)
    assert "figures/figure1.pdf" in edited and "figures/panels/A1.png" in edited
    return edited

"""Case-file edits in a watch session on the real notebooks and data: each edit
re-executes only the runs that read the part of the file it changed, and the outputs
equal, byte for byte, those of a render that executes everything (``--no-cache``).

One session on a project copy (``notebooks/``, ``data/``, a frozen copy of the package
and ``render.py``): a caption edit (no notebook executes: the article shows captions
verbatim, so the new text is spliced into its cached run; the HTML is exported), an
alt-text edit (the case showing it, the figure's sidecars, the article), an arrow moved
(the case drawing it, the figure, the article), a caption again (spliced into the run the
arrow edit executed: what the final comparison checks). The figure run draws only the
panel whose arrow moved, and Figure 1 (its panel cache).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.real_project import real_project_copy
from tests.support.watch_session import WATCH_ENV, Watch, ran_steps

pytestmark = pytest.mark.slow


def _append(path: Path, key: str, text: str, nth: int = 0) -> None:
    """Append ``text`` to the ``nth`` ``key:`` of a case file (a plain scalar, or the
    first line of a folded one, ``key: >-``)."""
    lines = path.read_text().splitlines(keepends=True)
    at = [i for i, line in enumerate(lines) if line.strip().startswith(f"{key}:")][nth]
    if lines[at].rstrip().endswith(">-"):
        at += 1
    lines[at] = lines[at].rstrip("\n") + f" {text}\n"
    path.write_text("".join(lines))


def _move_arrow(path: Path, dx_mm: float) -> None:
    text = path.read_text()
    m = re.search(r"tip_mm: \[(-?\d+(?:\.\d+)?), ", text)
    assert m is not None, f"{path}: no arrow"
    path.write_text(text[: m.start(1)] + f"{float(m.group(1)) + dx_mm:g}" + text[m.end(1) :])


def _redrawn(project: Path) -> list[str]:
    """What the last render's figure run drew (not reused from its panel cache)."""
    steps = json.loads((project / "build" / "manifest.json").read_text())["steps"]
    return list(next(s for s in steps if s["step"] == "figure")["redrawn"])


def _outputs(project: Path) -> dict[str, bytes]:
    """Every published file the article depends on: figures, executed notebooks, HTML."""
    files = {"build/article.html": (project / "build" / "article.html").read_bytes()}
    for folder in ("figures", "build/notebooks", "build/cases"):
        for p in sorted((project / folder).rglob("*")):
            if p.is_file() and not p.name.startswith("."):
                files[p.relative_to(project).as_posix()] = p.read_bytes()
    return files


def test_case_file_edits_rerun_only_what_read_them(tmp_path: Path) -> None:
    project = real_project_copy(tmp_path / "p")
    yaml_a = project / "data" / "A" / "case.yaml"
    yaml_b = project / "data" / "B" / "case.yaml"
    watch = Watch(project, package=project)  # the project's frozen copy of the package
    try:
        watch.wait(lambda: watch.state()["generation"] >= 1, 900)
        assert watch.state()["error"] is None, watch.state()["error"]
        assert ran_steps(project) >= {"figure", "case A", "case B", "article", "html"}

        # a caption: only the article reads it, and shows it verbatim: spliced, not executed
        _append(yaml_a, "caption", "Caption edited once.")
        watch.page_after("Caption edited once.")
        assert ran_steps(project) == {"html"}

        # an alt text: case A shows it, the figure's sidecars hold it (nothing redrawn)
        _append(yaml_a, "alt", "Alt text edited once.", nth=1)
        watch.page_after("Alt text edited once.")
        assert ran_steps(project) == {"case A", "figure", "article", "html"}
        assert _redrawn(project) == []

        # an arrow of case B: case B draws its panels, the figure draws Figure 1
        watch.wait(lambda: not watch.state()["busy"])  # the page is out before the state moves
        generation = watch.state()["generation"]
        _move_arrow(yaml_b, 1.0)
        watch.wait(lambda: watch.state()["generation"] > generation and not watch.state()["busy"])
        assert watch.state()["error"] is None, watch.state()["error"]
        assert ran_steps(project) == {"case B", "figure", "article", "html"}
        assert _redrawn(project) == ["B1", "figure1"]  # one panel, then the composite

        # a caption of case B with characters HTML escapes, into the run just executed
        _append(yaml_b, "caption", "Edited, uptake < 2 & 'mild'.", nth=1)
        watch.page_after("Edited, uptake &lt; 2 &amp;")
        assert ran_steps(project) == {"html"}
    finally:
        status = watch.interrupt()
    assert status == 0, watch.output()

    after_edits = _outputs(project)
    env = {**os.environ, **WATCH_ENV, "PYTHONPATH": str(project)}
    res = subprocess.run(
        [sys.executable, str(project / "render.py"), "--root", str(project), "--no-cache",
         "--html-only", "--quiet"],
        cwd=project, capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert ran_steps(project) >= {"figure", "case A", "case B", "case C", "article"}
    fresh = _outputs(project)
    assert sorted(fresh) == sorted(after_edits)
    assert [n for n in fresh if fresh[n] != after_edits[n]] == []

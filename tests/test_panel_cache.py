"""The figure run's panel cache (``write_figure1(..., panel_cache=...)``): a warm cache
writes the same bytes as drawing everything, an arrow edit draws one panel and Figure 1
again, an alt-text edit draws nothing, and the files recorded as read are the same.

Each drawing runs in a fresh process (as in a kernel: studies are loaded once per
process, so the record of files read is only meaningful per process) on a copy of the
project's ``data/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from casereport.figure.panel_cache import LAST_RUN
from casereport.render.plan import PANEL_CACHE_LAST_RUN

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow

_DRAW = """
import json, sys
from pathlib import Path
import casereport.io as cio
from casereport.figure import write_figure1
data, out, cache, overrides = sys.argv[1:5]
write_figure1(data, out, panel_cache=cache or None, overrides=json.loads(overrides))
print(json.dumps(sorted(str(p) for p in cio.files_read())))
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    if not (ROOT / "data" / "A" / "case.yaml").is_file():
        pytest.skip("no data/ (run python -m casereport.synth --out data)")
    shutil.copytree(ROOT / "data", tmp_path / "data", ignore=shutil.ignore_patterns(".*"))
    (tmp_path / "pyproject.toml").write_text("")  # the project root of the copy
    return tmp_path


def _draw(
    project: Path, out: str, cache: str = "", overrides: dict | None = None
) -> tuple[dict[str, bytes], list[str]]:
    """Files written (name -> bytes) and the record of files read, from a new process."""
    res = subprocess.run(
        [sys.executable, "-c", _DRAW, "data", out, cache, json.dumps(overrides or {})],
        cwd=project, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "0"},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    folder = project / out
    files = {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
    shutil.rmtree(folder)
    return files, json.loads(res.stdout.splitlines()[-1])


def _draw_two(
    project: Path, first: tuple[Any, ...], second: tuple[Any, ...]
) -> tuple[tuple[dict[str, bytes], list[str]], tuple[dict[str, bytes], list[str]]]:
    """:func:`_draw` of two independent drawings at once (separate processes and output
    folders; at most one of them uses the panel cache)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        a, b = pool.submit(_draw, project, *first), pool.submit(_draw, project, *second)
        return a.result(), b.result()


def _redrawn(project: Path) -> list[str]:
    return list(json.loads((project / "cache" / LAST_RUN).read_text())["redrawn"])


def test_warm_cache_same_bytes_edits_redraw_only_what_changed(project: Path) -> None:
    assert LAST_RUN == PANEL_CACHE_LAST_RUN  # the render reads what the figure run writes
    (plain, read_plain), (cold, read_cold) = _draw_two(project, ("plain",), ("cold", "cache"))
    assert {"figure1.png", "figure1.tif", "figure1.svg", "figure1.pdf"} <= set(plain)
    assert any(n.endswith(".dcm") for n in read_plain)

    panels = ["A1", "A2", "B1", "B2", "C1", "C2", "C3"]
    assert _redrawn(project) == [*panels, "figure1", "figureS1"]
    warm, read_warm = _draw(project, "warm", "cache")
    assert _redrawn(project) == []
    for name, data in plain.items():
        assert cold[name] == data and warm[name] == data, name
    assert sorted(plain) == sorted(cold) == sorted(warm)
    assert read_plain == read_cold == read_warm  # hits record what drawing read

    # an arrow of panel B1 moved by 1 mm: B1 and the composite drawn again, nothing else
    yaml_b = project / "data" / "B" / "case.yaml"
    text = yaml_b.read_text()
    m = re.search(r"\{panel: B1, type: arrow, view: ANT, tip_mm: \[(\d+), ", text)
    assert m is not None
    yaml_b.write_text(text[: m.start(1)] + str(int(m.group(1)) + 1) + text[m.end(1) :])
    (edited, read_edited), (fresh, read_fresh) = _draw_two(project, ("edited", "cache"), ("fresh",))
    assert _redrawn(project) == ["B1", "figure1"]
    assert edited == fresh and read_edited == read_fresh
    changed = sorted(n for n in fresh if fresh[n] != warm[n])
    assert "panels/B1.png" in changed and "figure1.png" in changed
    assert not any(n.startswith("panels/A") or n.startswith("panels/C") for n in changed)

    # a display override of case A's NM window: A1 (its NM panel) and the composite drawn
    # again; Figure S1 (fixed windows, no panels) is reused
    window = {"A": {"nm_window": [2, 97]}}
    (wide, read_wide), (wide_fresh, read_wide_fresh) = _draw_two(
        project, ("wide", "cache", window), ("wide-fresh", "", window)
    )
    assert _redrawn(project) == ["A1", "figure1"]
    assert wide == wide_fresh and read_wide == read_wide_fresh
    assert sorted(n for n in wide if wide[n] != fresh[n]) == [
        "figure1.pdf", "figure1.png", "figure1.svg", "figure1.tif",
        "panels/A1.json", "panels/A1.png",
    ]  # fmt: skip

    # an alt text: only the sidecars change, nothing is drawn
    yaml_a = project / "data" / "A" / "case.yaml"
    lines = yaml_a.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("alt: >-")) + 1
    lines[at] = lines[at].rstrip("\n") + " Edited.\n"  # first line of A1's folded alt text
    yaml_a.write_text("".join(lines))
    (alt, _), (alt_fresh, _) = _draw_two(project, ("alt", "cache"), ("alt-fresh",))
    assert _redrawn(project) == []
    assert sorted(n for n in alt if alt[n] != fresh[n]) == ["panels/A1.json"]
    assert " Edited. " in json.loads(alt["panels/A1.json"])["alt"]
    assert alt == alt_fresh

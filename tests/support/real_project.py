"""A copy of the real project (notebooks, data, the package, render.py) for tests that
render it and then edit it: the copy freezes the package source, which the cache keys
cover and which may be edited while the tests run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: top-level files a render of the copy reads
TOP_FILES = ("matplotlibrc", "pyproject.toml", "CITATION.cff", "render.py")


def real_project_copy(dest: Path) -> Path:
    """Copy notebooks/, data/ (hidden files left out), casereport/ (no bytecode) and the
    top-level files into ``dest``; skip the test when data/ has not been generated."""
    if not (ROOT / "data" / "A" / "case.yaml").is_file():
        pytest.skip("no data/ (run python -m casereport.synth --out data)")
    shutil.copytree(ROOT / "notebooks", dest / "notebooks")
    shutil.copytree(ROOT / "data", dest / "data", ignore=shutil.ignore_patterns(".*"))
    shutil.copytree(
        ROOT / "casereport",
        dest / "casereport",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    for name in TOP_FILES:
        shutil.copyfile(ROOT / name, dest / name)
    return dest

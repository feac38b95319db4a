"""Release metadata: one version, a valid and complete CITATION.cff, a changelog entry."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

import casereport
from tests.support.original import ORIGINAL_TITLE

ROOT = Path(__file__).resolve().parents[1]
CFFCONVERT = ROOT / ".venv-cff" / "bin" / "cffconvert"


def _cff() -> dict:
    return yaml.safe_load((ROOT / "CITATION.cff").read_text())


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _cffconvert(path: Path) -> subprocess.CompletedProcess[str]:
    if not CFFCONVERT.exists():
        if os.environ.get("CASEREPORT_REQUIRE_TOOLS"):
            pytest.fail(f"{CFFCONVERT} missing: run make .venv-cff/.installed")
        pytest.skip("cffconvert not installed (make test installs it into .venv-cff)")
    return subprocess.run(
        [str(CFFCONVERT), "--validate", "-i", str(path)], capture_output=True, text=True
    )


def test_version_is_written_once() -> None:
    project = _project()
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    attr = project["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "casereport.__version__"


def test_citation_and_changelog_name_the_current_version() -> None:
    cff = _cff()
    assert str(cff["version"]) == casereport.__version__
    changelog = (ROOT / "CHANGELOG.md").read_text()
    released = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$", changelog, re.M)
    assert released, "no released version in CHANGELOG.md"
    assert released[0] == (casereport.__version__, str(cff["date-released"]))
    assert f"[{casereport.__version__}]: " in changelog  # link to the release


def test_citation_licence_matches_pyproject_and_licence_file() -> None:
    spdx = _project()["project"]["license"]
    assert sorted(_cff()["license"]) == sorted(s.strip() for s in spdx.split(" AND "))
    text = " ".join((ROOT / "LICENSE").read_text().split())
    assert "MIT License" in text and "Attribution 4.0 International (CC BY 4.0)" in text


def test_citation_is_complete() -> None:
    cff = _cff()
    assert re.fullmatch(r"https://\S+", cff["repository-code"])
    assert cff["repository-code"] == _project()["project"]["urls"]["Repository"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(cff["date-released"]))
    (original,) = [r for r in cff["references"] if r["type"] == "article"]
    assert original["title"] == ORIGINAL_TITLE
    assert [a["family-names"] for a in original["authors"]] == ["Majeed", "Riaz", "Hassan"]
    assert (original["year"], original["volume"], original["issue"]) == (2019, 69, 4)
    assert "Pakistan Medical Association" in original["journal"]


def test_citation_authors_are_the_contributors() -> None:
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    log = subprocess.run(
        ["git", "-C", str(ROOT), "log", "--format=%aN"], capture_output=True, text=True
    )
    if log.returncode != 0 or not log.stdout.strip():
        pytest.skip("no git history")
    contributors = set(log.stdout.split("\n")) - {""}
    cff_names = {
        a.get("name") or f"{a.get('given-names', '')} {a.get('family-names', '')}".strip()
        for a in _cff()["authors"]
    }
    assert contributors <= cff_names, contributors - cff_names
    assert "casereport developers" not in cff_names  # the former placeholder
    py_names = {a["name"] for a in _project()["project"]["authors"]}
    assert py_names == cff_names


def test_cffconvert_validates_citation_and_rejects_a_broken_copy(tmp_path: Path) -> None:
    res = _cffconvert(ROOT / "CITATION.cff")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "valid" in res.stdout
    broken = tmp_path / "CITATION.cff"
    text = (ROOT / "CITATION.cff").read_text()
    broken.write_text(text.replace('date-released: "', 'date-released: "on '))
    res = _cffconvert(broken)
    assert res.returncode != 0 and "date-released" in res.stdout + res.stderr

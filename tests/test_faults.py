"""No tracebacks: unreadable input and unwritable or full output end in one line, exit 2.

The output-location cases mount a small tmpfs or a read-only bind mount, which needs root;
they are skipped otherwise.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest

from tests.support import dicom_factory as fac

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str, cwd: Path, module: bool = False) -> subprocess.CompletedProcess[str]:
    cmd = (
        [sys.executable, "-m", "casereport"]
        if module
        else [sys.executable, str(ROOT / "render.py")]
    )
    return subprocess.run(cmd + list(args), cwd=cwd, capture_output=True, text=True, timeout=300)


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip() and not ln.startswith("warning")]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def _project(root: Path) -> Path:
    """The smallest project the render accepts: one case, one tiny image, two notebooks."""
    from tests.support.nbfactory import case_yaml, make_notebook
    from tests.support.tiny_project import CASE_CELLS, E2E_ARTICLE_CELLS
    from tests.support.tiny_project import tiny_dicom as _tiny_dicom

    dcm = root / "data" / "T" / "img.dcm"
    _tiny_dicom(dcm)
    (root / "data" / "T" / "case.yaml").write_text(case_yaml("T"))
    digest = hashlib.sha256(dcm.read_bytes()).hexdigest()
    (root / "data" / "MANIFEST.json").write_text(json.dumps({"files": {"T/img.dcm": digest}}))
    make_notebook(root / "notebooks" / "case.ipynb", CASE_CELLS)
    make_notebook(root / "notebooks" / "article.ipynb", E2E_ARTICLE_CELLS, title="E2E")
    return root


def _unknown_vr(path: Path) -> Path:
    ds = fac.nm_wholebody()
    ds.DeidentificationMethod = "fictitious test data"
    fac.save(ds, path)
    raw = path.read_bytes()
    at = raw.index(b"\x08\x00\x3e\x10LO")
    path.write_bytes(raw[: at + 4] + b"ZZ" + raw[at + 6 :])
    return path


def test_unknown_vr_is_one_line_in_render_verify_and_bundle(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    assert _run("--html-only", "-q", cwd=root).returncode == 0  # bundle needs a render
    (root / "build" / "article.pdf").write_bytes(b"%PDF-1.7\n% stand-in\n")
    _unknown_vr(root / "data" / "T" / "wb.dcm")
    before = (root / "build" / "article.html").read_bytes()
    for args in (
        ("--html-only", "-q", "--no-cache"),
        ("verify", "--rendered", str(root / "figures")),
        ("bundle",),
    ):
        line = _one_line(_run(*args, cwd=root))
        assert "wb.dcm [(0008,103E)]" in line and "Unknown Value Representation" in line, args
    assert (root / "build" / "article.html").read_bytes() == before


# --------------------------------------------------------------------------- root only


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@contextlib.contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True)
    if os.geteuid() != 0 or not _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)):
        pytest.skip("needs root and mount (tmpfs)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not _mount("--bind", str(path), str(path)):
        pytest.skip("needs root and mount (bind)")
    try:
        if not _mount("-o", "remount,bind,ro", str(path)):
            pytest.skip("cannot remount read-only")
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_view_into_a_read_only_folder_names_the_folder(tmp_path: Path) -> None:
    src = fac.save(fac.nm_wholebody(), tmp_path / "in" / "wb.dcm")
    with _read_only(tmp_path / "ro") as ro:
        line = _one_line(_run("view", str(src), "-o", str(ro / "wb.png"), cwd=ROOT, module=True))
    assert line == f"error: {ro}: read-only file system; choose another output location"


def test_deidentify_onto_a_full_disk_leaves_nothing(tmp_path: Path) -> None:
    src = tmp_path / "in"
    for k in range(4):
        fac.save(fac.nm_wholebody(key=f"k{k}", shape=(256, 128)), src / f"wb{k}.dcm")
    with _tmpfs(tmp_path / "full", "96k") as full:
        done = _run("deidentify", str(src), str(full / "out"), cwd=ROOT, module=True)
        line = _one_line(done)
        assert "no space left on device" in line
        assert list(full.iterdir()) == []


def test_render_into_read_only_or_full_locations_is_one_line(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    with _read_only(tmp_path / "ro") as ro:
        line = _one_line(_run("--html-only", "-q", "--build", str(ro / "b"), cwd=root))
        assert line.startswith(f"error: {ro}") and "read-only file system" in line
        line = _one_line(_run("--html-only", "-q", "--figures", str(ro / "f"), cwd=root))
        assert line.startswith(f"error: {ro}") and "read-only file system" in line
    assert not (root / "build" / "article.html").exists()
    with _tmpfs(tmp_path / "full", "48k") as full:
        done = _run("--html-only", "-q", "--no-cache", "--build", str(full / "b"), cwd=root)
        assert "no space left on device" in _one_line(done)
        assert not (full / "b" / "article.html").exists()


# --------------------------------------------------------------------------- preflight


@pytest.mark.parametrize("case", ["Z", "", "../T", "."])
def test_case_option_unknown_empty_or_path_like_exits_2(tmp_path: Path, case: str) -> None:
    root = _project(tmp_path / "p")
    line = _one_line(_run("--case", case, "--html-only", "-q", cwd=root))
    assert "parameter '--case'" in line
    assert not (root / "build" / "article.html").exists()


def test_bad_study_is_one_line_before_any_notebook(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    case = root / "data" / "T" / "case.yaml"
    case.write_text(case.read_text() + "studies: {whole_body: img.dcm}\n")
    dcm = root / "data" / "T" / "img.dcm"
    dcm.write_bytes(dcm.read_bytes()[:-40])  # pixel data cut short
    line = _one_line(_run("--html-only", "-q", cwd=root))
    assert "case.yaml: studies.whole_body: study cannot be read" in line
    assert "img.dcm [PixelData]" in line and "truncated" in line
    assert not (root / "build" / "notebooks").exists()


def test_study_outside_the_data_folder_needs_the_opt_in_and_is_gated(tmp_path: Path) -> None:
    from tests.support.nbfactory import case_yaml

    root = _project(tmp_path / "p")
    outside = tmp_path / "elsewhere" / "wb.dcm"
    outside.parent.mkdir()
    (root / "data" / "T" / "img.dcm").rename(outside)
    case = root / "data" / "T" / "case.yaml"
    case.write_text(case_yaml("T") + f"studies: {{whole_body: {outside}}}\n")
    line = _one_line(_run("--html-only", "-q", cwd=root))
    assert "studies.whole_body" in line and "outside the data folder" in line
    case.write_text("external_studies: true\n" + case.read_text())
    ds = pydicom.dcmread(outside)
    ds.SeriesDescription = "WB Jane Doe"
    ds.save_as(outside)
    done = _run("--html-only", "-q", cwd=root)
    assert done.returncode == 2 and f"{outside}: SeriesDescription" in done.stderr
    assert "Jane" not in done.stderr and "Traceback" not in done.stderr
    (root / "figures").mkdir()
    (root / "figures" / "figure1.png").write_bytes(b"stand-in")
    verified = _run("verify", "--rendered", str(root / "figures"), cwd=root)
    assert verified.returncode == 1 and f"{outside}: SeriesDescription" in verified.stdout


def test_read_only_figures_publish_nothing(tmp_path: Path) -> None:
    """The case notebook changes (a new label) but figures/ cannot be replaced: the build
    keeps its previous notebooks, manifest and article, all of them."""
    root = _project(tmp_path / "p")
    assert _run("--html-only", "-q", cwd=root).returncode == 0

    def published() -> dict[str, bytes]:
        build = root / "build"
        return {
            p.relative_to(build).as_posix(): p.read_bytes()
            for p in sorted(build.rglob("*"))
            if p.is_file()
            and p.relative_to(build).parts[0] not in ("cache",)
            and not p.name.startswith(".")
        }

    before = published()
    assert "notebooks/case_T.ipynb" in before and "manifest.json" in before
    with _read_only(root / "figures"):
        done = _run("--html-only", "-q", "-p", "T:label=changed", cwd=root)
    line = _one_line(done)
    assert str(root / "figures") in line or str(root) in line
    assert published() == before
    assert not list(root.glob(".*staging-render*")) and not list(root.glob(".old-*"))


def test_panel_sidecars_never_hold_an_absolute_study_path() -> None:
    from casereport.fileio import relpath  # as figure/composite.py writes the sidecars

    root = Path("/projects/report")
    inside = relpath("/projects/report/data/A/ct/CT_0001.dcm", root, dotted=True)
    assert inside == "data/A/ct/CT_0001.dcm"
    assert relpath("/exports/site/wb.dcm", root, dotted=True) == "../../exports/site/wb.dcm"

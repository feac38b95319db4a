"""Cached, parallel, incremental and fail-safe rendering on a small project made in the test.

One project with two cases (A, B) and a control is rendered cold once (module fixture, two
kernels at once); every test works on a copy of that project, cache included, so it starts
warm and only pays for what it changes. Every step is the real one (papermill kernels,
nbconvert, WeasyPrint); "cached" is read from ``build/manifest.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.cached_project import (
    ARTICLE_CELLS,
    CASE_CELLS,
    CODE,
    TITLE,
    cached,
    manifest,
    render,
)
from tests.support.cached_project import command as _command
from tests.support.cached_project import dicom as _dicom
from tests.support.nbfactory import case_yaml, make_notebook

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", autouse=True)
def frozen_code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A snapshot of the package and render.py, so that the cache keys (which cover the
    package source) do not change if the working tree is edited while the tests run."""
    code = tmp_path_factory.mktemp("code")
    shutil.copytree(
        ROOT / "casereport", code / "casereport", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copyfile(ROOT / "render.py", code / "render.py")
    CODE[0] = code
    return code


def snapshot(project: Path) -> dict[str, bytes]:
    files = [project / "build" / n for n in ("article.html", "article.pdf", "article.jats.xml")]
    files += sorted(p for p in (project / "figures").rglob("*") if p.is_file())
    return {str(p.relative_to(project)): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project after one cold render with two kernels at once (build/cache filled)."""
    project = tmp_path_factory.mktemp("warm")
    for case, offset in (("A", 0), ("B", 100), ("control", 7)):
        _dicom(project / "data" / case / "img.dcm", offset)
        role = "control" if case == "control" else "case"
        (project / "data" / case / "case.yaml").write_text(case_yaml(case, role))
    _dicom(project / "data" / "A" / "unread.dcm", 50)
    make_notebook(project / "notebooks" / "case.ipynb", CASE_CELLS)
    make_notebook(project / "notebooks" / "article.ipynb", ARTICLE_CELLS, title=TITLE)
    (project / "figures").mkdir()
    (project / "figures" / "README.md").write_text("Figures of the article.\n")
    barrier = project.parent / f"{project.name}-barrier"
    res = render(project, "-j", "2", env={"CASEREPORT_TEST_BARRIER": str(barrier)})
    assert res.returncode == 0, res.stderr
    return project


@pytest.fixture
def project(warm: Path, tmp_path: Path) -> Path:
    """A copy of the warm project (cache included) that a test may change."""
    dst = tmp_path / "p"
    shutil.copytree(warm, dst, symlinks=True)
    return dst


def test_cold_render_ran_cases_in_parallel_and_wrote_manifest(warm: Path) -> None:
    steps = cached(warm)
    assert steps == {"case A": False, "case B": False, "article": False, "export": False}
    for case in ("A", "B"):
        results = json.loads((warm / "build" / "cases" / case / "results.json").read_text())
        assert results["parallel"] is True, "the two case kernels did not run at the same time"
    m = manifest(warm)
    inputs = {i["path"]: i["sha256"] for i in m["inputs"]}
    dcm = warm / "data" / "A" / "img.dcm"
    assert inputs["data/A/img.dcm"] == hashlib.sha256(dcm.read_bytes()).hexdigest()
    assert "data/A/case.yaml" in inputs and "notebooks/case.ipynb" in inputs
    # the case file's core (no caption, alt or annotation was read), not unread.dcm
    assert m["cases"]["A"] == ["data/A/case.yaml#core", "data/A/img.dcm"]
    outputs = {o["path"]: o["sha256"] for o in m["outputs"]}
    for rel in (
        "build/article.html",
        "build/article.pdf",
        "figures/figure1.png",
        "figures/panels/A.json",
        "build/cases/B/results.json",
        "build/notebooks/case_A.ipynb",
    ):
        assert outputs[rel] == hashlib.sha256((warm / rel).read_bytes()).hexdigest(), rel
    assert m["parameters"]["A"]["case_id"] == "A" and "results_dir" in m["parameters"]["article"]
    assert m["versions"]["papermill"] and m["package_sha256"]
    assert all(isinstance(s["seconds"], float) for s in m["steps"])
    assert (warm / "figures" / "README.md").is_file()  # files not made by the render survive
    html = (warm / "build" / "article.html").read_text()
    assert "case A sum 2016 label default" in html and "case B sum 8416" in html
    assert not list((warm / "build").glob(".staging-*"))


def test_noop_render_starts_no_kernel_and_is_byte_identical(project: Path) -> None:
    before = snapshot(project)
    t0 = time.perf_counter()
    res = render(project)
    elapsed = time.perf_counter() - t0
    assert res.returncode == 0, res.stderr
    assert set(cached(project).values()) == {True}
    assert snapshot(project) == before
    assert elapsed < 6, f"no-op render took {elapsed:.1f} s"  # bench/ measures the 1 s goal


#: what a render that reuses every step must not import (kernels, export, DICOM, plotting)
NOT_FOR_A_NOOP = (
    "jupyter_client",
    "papermill",
    "nbconvert",
    "weasyprint",
    "matplotlib",
    "scipy",
    "numpy",
    "pydicom",
    "zmq",
    "casereport.io",
    "casereport.io.memo",
    "casereport.render.zygote",
    "casereport.render.export",
)


def test_noop_render_imports_no_kernel_export_or_dicom_module(project: Path) -> None:
    out = project / "modules.json"
    cmd, env = _command(project, [])
    code = (
        "import atexit, json, runpy, sys\n"
        f"atexit.register(lambda: open({str(out)!r}, 'w').write(json.dumps(sorted(sys.modules))))\n"
        "sys.argv = sys.argv[1:]\n"
        "runpy.run_path(sys.argv[0], run_name='__main__')\n"
    )
    res = subprocess.run(
        [cmd[0], "-c", code, *cmd[1:]], cwd=project, env=env, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    assert set(cached(project).values()) == {True}
    modules = set(json.loads(out.read_text()))
    assert "casereport.render.pipeline" in modules
    assert sorted(modules & set(NOT_FOR_A_NOOP)) == []


def test_data_change_reruns_only_the_case_that_read_it(project: Path) -> None:
    # bytes of a file no case reads: nothing re-executes
    _dicom(project / "data" / "A" / "unread.dcm", 51)
    assert render(project).returncode == 0
    assert set(cached(project).values()) == {True}
    # a file case A read: case A and the article re-execute, case B is reused
    _dicom(project / "data" / "A" / "img.dcm", 1)
    res = render(project, "--html-only")
    assert res.returncode == 0, res.stderr
    assert cached(project) == {"case A": False, "case B": True, "article": False, "export": False}
    assert "case A sum 2080 label default" in (project / "build" / "article.html").read_text()
    # a new file in case B's folder (it might read it): case B re-executes
    _dicom(project / "data" / "B" / "new.dcm", 3)
    assert render(project, "--html-only").returncode == 0
    assert cached(project)["case B"] is False and cached(project)["case A"] is True


def test_article_text_edit_executes_no_notebook(project: Path) -> None:
    cells = list(ARTICLE_CELLS)
    cells[1] = ("md", f"# {TITLE}\n\nIntroduction text, version 2.", None)
    make_notebook(project / "notebooks" / "article.ipynb", cells, title=TITLE)
    res = render(project, "--html-only")
    assert res.returncode == 0, res.stderr
    # markdown only: the cached article run gets the new text spliced in (prose.py)
    assert cached(project) == {"case A": True, "case B": True, "article": True, "export": False}
    html = (project / "build" / "article.html").read_text()
    assert "version 2" in html and "version 1" not in html
    assert "case A sum 2016 label default" in html  # outputs of the code cells kept
    # a code edit executes the article again
    cells[2] = ("code", cells[2][1] + "\nprint('code edited')", None)
    make_notebook(project / "notebooks" / "article.ipynb", cells, title=TITLE)
    assert render(project, "--html-only").returncode == 0
    assert cached(project)["article"] is False
    assert "code edited" in (project / "build" / "article.html").read_text()


def test_one_case_parameter_edit_reruns_that_case_and_the_article(project: Path) -> None:
    res = render(project, "-p", "B:label=edited", "--html-only")
    assert res.returncode == 0, res.stderr
    assert cached(project) == {"case A": True, "case B": False, "article": False, "export": False}
    assert "case B sum 8416 label edited" in (project / "build" / "article.html").read_text()
    # back to the defaults: everything is in the cache again
    assert render(project).returncode == 0
    assert set(cached(project).values()) == {True}


def test_failing_case_is_reported_other_case_finishes_previous_article_kept(project: Path) -> None:
    before = snapshot(project)
    res = render(project, "--no-cache", "-p", "B:label=boom")
    assert res.returncode == 1
    assert "case:      B" in res.stderr and "case.ipynb" in res.stderr
    assert "cell:      6" in res.stderr
    assert "if label == 'boom':" in res.stderr
    assert "ValueError: case B broken on purpose" in res.stderr
    assert "Traceback" not in res.stderr
    assert snapshot(project) == before
    assert not list((project / "build").glob(".staging-*"))
    # case A finished (and was cached) although B failed
    assert render(project, "--html-only").returncode == 0
    assert cached(project)["case A"] is True
    # several failing cases: one report each
    res = render(project, "-p", "A:label=boom", "-p", "B:label=boom", "--html-only")
    assert res.returncode == 1
    assert "case A broken on purpose" in res.stderr and "case B broken on purpose" in res.stderr
    assert res.stderr.count("render failed:") == 2


def _kill_when(project: Path, args: list[str], ready: Path) -> None:
    """Start a render, SIGKILL it as soon as ``ready`` exists, and wait for it."""
    cmd, env = _command(project, args)
    proc = subprocess.Popen(
        cmd, cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    end = time.time() + 120
    while not ready.exists() and proc.poll() is None and time.time() < end:
        time.sleep(0.005)
    assert proc.poll() is None, "the render ended before the moment to kill it"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def test_sigkill_keeps_previous_outputs_and_next_render_works(project: Path) -> None:
    before = snapshot(project)
    stage = project / "build" / ".staging-render"
    # during case execution (case A sleeps; its executed notebook is being written)
    _kill_when(project, ["--no-cache", "-p", "A:delay=30"], stage / "notebooks" / "case_A.ipynb")
    assert snapshot(project) == before
    # during the PDF export (the HTML is staged, the PDF is being made)
    cells = list(ARTICLE_CELLS)
    cells[1] = ("md", f"# {TITLE}\n\nIntroduction text, killed version.", None)
    make_notebook(project / "notebooks" / "article.ipynb", cells, title=TITLE)
    _kill_when(project, [], stage / "article.html")
    assert snapshot(project) == before
    # the next render cleans up and publishes the new article
    res = render(project)
    assert res.returncode == 0, res.stderr
    assert "killed version" in (project / "build" / "article.html").read_text()
    assert (project / "build" / "article.pdf").read_bytes()[:5] == b"%PDF-"
    assert not list((project / "build").glob(".staging-*"))


def test_clean_keep_cache_then_clean(project: Path) -> None:
    res = render(project, "clean", "--keep-cache")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (project / "build").iterdir()) == [".lock", "cache"]
    assert (project / "figures" / "figure1.png").is_file()  # published figures stay
    assert render(project).returncode == 0
    assert set(cached(project).values()) == {True}
    assert render(project, "clean").returncode == 0
    assert not (project / "build").exists()


def test_no_cache_executes_everything(project: Path) -> None:
    res = render(project, "--no-cache", "--html-only", "-j", "1")
    assert res.returncode == 0, res.stderr
    assert cached(project) == {"case A": False, "case B": False, "article": False, "export": False}


def test_subcommand_registry_and_help() -> None:
    from casereport.__main__ import COMMANDS

    assert {"render", "clean", "verify", "bundle", "inspect", "view"} <= set(COMMANDS)
    cmd, env = _command(ROOT, ["--help"])
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert res.returncode == 0 and "--no-cache" in res.stdout and "clean" in res.stdout


def test_each_command_is_summed_up_in_whole_sentences() -> None:
    """``casereport --help`` lists each command with its docstring's first paragraph, not
    its first line (the watch command's once stopped at "... DICOM file or")."""
    import importlib

    from casereport.__main__ import COMMANDS, build_parser, summary

    helps = {
        a.dest: a.help
        for action in build_parser()._subparsers._group_actions  # type: ignore[union-attr]
        for a in action._choices_actions
    }
    for name, module in COMMANDS.items():
        doc = importlib.import_module(module).__doc__ or ""
        assert helps[name] == summary(doc), name
        assert helps[name].endswith((".", ")")), (name, helps[name])
    assert helps["watch"].endswith("changes (Ctrl-C stops).")

"""Kernels forked from one preloaded process (casereport.render.zygote), on a tiny project.

The render's kernels must be forks of one zygote, give executed notebooks and HTML byte
for byte equal to those of ordinary kernels (``CASEREPORT_KERNEL_FORK=0``), record the same
inputs, and leave no process behind (zygote included) when the render is killed or
interrupted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.nbfactory import make_notebook
from tests.support.tiny_project import ARTICLE_CELLS, CASE_CELLS, TITLE

ROOT = Path(__file__).resolve().parents[1]

#: writes where the kernel came from into $ORIGIN_DIR (no output: notebooks stay equal),
#: then sleeps $CASE_SLEEP seconds
ORIGIN_CELL = (
    "code",
    "import os as _os, sys as _sys, json as _json, time as _time\n"
    "if _os.environ.get('ORIGIN_DIR'):\n"
    "    _z = _sys.modules.get('casereport.render.zygote')\n"
    "    _info = {'forked_from': getattr(_z, 'FORKED_FROM', 0), 'ppid': _os.getppid()}\n"
    "    _p = _os.path.join(_os.environ['ORIGIN_DIR'], f'{_os.getpid()}.json')\n"
    "    with open(_p + '.tmp', 'w') as _fh:\n"
    "        _json.dump(_info, _fh)\n"
    "    _os.replace(_p + '.tmp', _p)\n"
    "_time.sleep(float(_os.environ.get('CASE_SLEEP', '0')))",
    None,
)
RECORD_CELL = (
    "code",
    "import casereport.io as cio\ncio.record_read(Path(data_dir) / case_id / 'img.dcm')",
    None,
)


@pytest.fixture
def project(tiny_project: Path) -> Path:
    make_notebook(
        tiny_project / "notebooks" / "case.ipynb",
        [*CASE_CELLS[:3], ORIGIN_CELL, RECORD_CELL, *CASE_CELLS[3:]],
    )
    cells = list(ARTICLE_CELLS)
    make_notebook(
        tiny_project / "notebooks" / "article.ipynb",
        [*cells[:2], ORIGIN_CELL, *cells[2:]],
        title=TITLE,
    )
    (tiny_project / "origin").mkdir()
    return tiny_project


def _env(project: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, ORIGIN_DIR=str(project / "origin"), **extra)
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def _render(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, str(ROOT / "render.py"), "--root", str(project), *args]
    return subprocess.run(
        cmd, cwd=project, env=_env(project, **env), capture_output=True, text=True, timeout=300
    )


def _origins(project: Path) -> list[dict[str, int]]:
    found = [json.loads(p.read_text()) for p in sorted((project / "origin").glob("*.json"))]
    for p in (project / "origin").glob("*.json"):
        p.unlink()
    return found


def _outputs(project: Path) -> dict[str, bytes]:
    build = project / "build"
    files = sorted((build / "notebooks").glob("*.ipynb")) + [build / "article.html"]
    return {p.name: p.read_bytes() for p in files}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_kernels_are_forks_of_one_zygote_and_match_plain_kernels(project: Path) -> None:
    res = _render(project, "--html-only", CASEREPORT_KERNEL_FORK="0")
    assert res.returncode == 0, res.stderr
    plain = _origins(project)
    assert len(plain) == 2 and all(o["forked_from"] == 0 for o in plain), plain
    plain_out = _outputs(project)
    plain_manifest = json.loads((project / "build" / "manifest.json").read_text())

    res = _render(project, "--html-only", "--no-cache")
    assert res.returncode == 0, res.stderr
    forked = _origins(project)
    # the case kernel and the article kernel: children of one and the same zygote
    assert len(forked) == 2, forked
    zygote = forked[0]["forked_from"]
    assert zygote > 0 and all(o == {"forked_from": zygote, "ppid": zygote} for o in forked)
    assert not _alive(zygote)  # stopped with the render
    assert _outputs(project) == plain_out
    manifest = json.loads((project / "build" / "manifest.json").read_text())
    # the kernel's record (casereport.io preloaded in every fork) is the same file list
    assert manifest["cases"] == plain_manifest["cases"]
    assert manifest["cases"]["T"] == ["data/T/case.yaml", "data/T/img.dcm"] or manifest["cases"][
        "T"
    ] == ["data/T/img.dcm"]
    assert [s["step"] for s in manifest["steps"] if not s["cached"]][1:3] == ["case T", "article"]


def _start_and_wait(project: Path, **env: str) -> tuple[subprocess.Popen[bytes], dict]:
    cmd = [sys.executable, str(ROOT / "render.py"), "--root", str(project), "--html-only"]
    proc = subprocess.Popen(
        cmd,
        cwd=project,
        env=_env(project, CASE_SLEEP="60", **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    end = time.time() + 120
    while not list((project / "origin").glob("*.json")) and time.time() < end:
        assert proc.poll() is None
        time.sleep(0.05)
    origin = json.loads(next((project / "origin").glob("*.json")).read_text())
    return proc, origin


def _gone(pids: list[int], timeout: float = 20.0) -> bool:
    end = time.time() + timeout
    while any(_alive(p) for p in pids) and time.time() < end:
        time.sleep(0.05)
    return not any(_alive(p) for p in pids)


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_killed_render_leaves_no_kernel_and_no_zygote(project: Path, how: str) -> None:
    proc, origin = _start_and_wait(project)
    kernel = int(next((project / "origin").glob("*.json")).stem)
    zygote = origin["forked_from"]
    assert zygote > 0 and _alive(zygote) and _alive(kernel)
    if how == "SIGKILL":
        os.kill(proc.pid, signal.SIGKILL)
    else:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
    code = proc.wait(timeout=60)
    assert code != 0
    assert _gone([zygote, kernel]), (zygote, kernel)


def test_prestarted_zygote_is_adopted_once_for_its_folder_and_environment(
    tmp_path: Path,
) -> None:
    """A cold render starts its zygote with the command (zygote.prestart); the render
    takes it when the folder and environment are its kernels' (zygote.adopt), once;
    another environment, or nobody adopting it, stops it."""
    from casereport.render import zygote

    env = dict(os.environ)
    zygote.prestart(tmp_path, env)
    first = zygote._PRESTARTED[0]
    try:
        assert zygote.adopt(tmp_path, env) is first
        assert zygote.adopt(tmp_path, env) is None
        assert first.proc.poll() is None
    finally:
        first.close()
    zygote.prestart(tmp_path, env)
    other = zygote._PRESTARTED[0]
    assert zygote.adopt(tmp_path, {**env, "CASEREPORT_TEST": "1"}) is None
    assert other.proc.poll() is not None
    zygote.prestart(tmp_path, env)
    left = zygote._PRESTARTED[0]
    zygote.discard()
    assert left.proc.poll() is not None and not zygote._PRESTARTED


def test_stopped_forked_kernel_is_reaped_before_shutdown_returns(tmp_path: Path) -> None:
    """Killing a forked kernel waits for the zygote to reap it (polled every few ms), so
    the kernel manager's own wait (a 0.1-s sleep per check) finds it gone at once."""
    import asyncio

    from casereport.render.execute import Kernel, kernel_env
    from casereport.render.zygote import ForkServer

    env = kernel_env()
    server = ForkServer(tmp_path, env)
    try:
        kernel = Kernel(tmp_path, forks=server, env=env)
        assert kernel.forked and kernel.pid
        provisioner = kernel.km.provisioner
        asyncio.run(provisioner.kill())
        assert server.poll(kernel.pid) is not None  # reaped when kill returned
        kernel.shutdown()
        assert _gone([kernel.pid])
    finally:
        server.close()

"""A ``render.py watch`` process driven by tests, and what its last render ran."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from casereport.render.zygote import ZYGOTE_NAME

ROOT = Path(__file__).resolve().parents[2]
WATCH_ENV = {"SOURCE_DATE_EPOCH": "1554076800"}


class Watch:
    """A ``render.py watch`` process on ``project`` (its own session, output in files)."""

    def __init__(
        self, project: Path, *args: str, package: Path = ROOT, sigint_ignored: bool = False
    ) -> None:
        """``package``: the folder holding ``render.py`` and the ``casereport`` package run
        (a frozen copy keeps edits of the working tree out of a long test);
        ``sigint_ignored``: started as a shell script's ``&`` job is, SIGINT ignored."""
        self.project = project
        self.log = project.parent / f"{project.name}-watch.log"
        env = {**os.environ, **WATCH_ENV, "PYTHONPATH": str(package)}
        cmd = [sys.executable, str(package / "render.py"), "watch", "--root", str(project), *args]
        with open(self.log, "wb") as fh:
            self.proc = subprocess.Popen(
                cmd, cwd=project, stdout=fh, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,
                preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
                if sigint_ignored else None,
            )  # fmt: skip
        line = self.wait(lambda: "serving http://127.0.0.1:" in self.output(), 60)
        self.url = line.split("serving ", 1)[1].split()[0]

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait(self, ready: Callable[[], object], timeout: float = 240) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if ready():
                return self.output()
            assert self.proc.poll() is None, self.output()
            time.sleep(0.1)
        raise AssertionError(f"timed out; watch output:\n{self.output()}")

    def get(self, path: str = "article.html") -> str:
        with urllib.request.urlopen(self.url + path, timeout=10) as resp:
            return resp.read().decode()

    def page_after(self, contains: str) -> str:
        """Wait until the served article contains ``contains``; return the page."""
        self.wait(lambda: contains in self.get())
        return self.get()

    def state(self) -> dict:
        return json.loads(self.get("__casereport__/state"))

    def interrupt(self) -> int:
        os.killpg(self.proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
        return self.proc.wait(timeout=120)


def assert_stopped_cleanly(watch: Watch, status: int) -> None:
    """The session exited 0 after saying so, and no process of its project is left."""
    assert status == 0, watch.output()
    assert "stopped" in watch.output()
    time.sleep(0.5)
    assert processes_in(watch.project) == []


def ran_steps(project: Path) -> set[str]:
    """Steps of the last published render that executed (not reused); no plan, no pdf."""
    steps = json.loads((project / "build" / "manifest.json").read_text())["steps"]
    return {s["step"] for s in steps if not s["cached"] and s["step"] not in ("plan", "pdf")}


def processes_in(folder: Path) -> list[int]:
    """Process ids whose working directory is ``folder`` (kernels, PDF child, watch)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if Path(os.readlink(proc / "cwd")) == folder:
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def kernels_in(folder: Path) -> list[int]:
    """Kernels (ipykernel processes, not the zygote they are forked from) in ``folder``."""
    return [
        pid
        for pid in processes_in(folder)
        if b"ipykernel" in Path(f"/proc/{pid}/cmdline").read_bytes()
        and Path(f"/proc/{pid}/comm").read_text().strip() != ZYGOTE_NAME
    ]

"""Benchmark of ``render.py watch``: from a saved edit to the changed page served over HTTP.

A watch session runs on a project copy (``bench/run.py`` makes it: the real notebooks and
data, a frozen copy of the package). Each round, with the session idle (no render, no
PDF in progress):

    text_edit        one sentence appended to a markdown cell of ``article.ipynb``
    caption_edit     panel caption of the first case changed in its ``case.yaml``
    annotation_edit  the first arrow of the first case moved by 1 mm

Each is timed from the write to the moment the served article (``GET /article.html``)
has changed: the state the page's reload script reads is polled every 20 ms, and the
article is fetched when its generation moves. Then 50 prose edits in a row, each waited for; the RSS
of the watch process (the session itself: server, watcher, in-process render; kernels
and the PDF child come and go) is sampled after every publish and compared with its RSS
after the first edit.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import nbformat

#: prose edits in a row for the memory check
MEMORY_EDITS = 50


class Session:
    """A ``render.py watch`` process on ``project`` (the project's own render.py)."""

    def __init__(self, project: Path) -> None:
        self.project = project
        self.log = project.parent / "watch.log"
        cmd = [sys.executable, str(project / "render.py"), "watch", "--root", str(project)]
        with open(self.log, "wb") as fh:
            self.proc = subprocess.Popen(
                cmd, cwd=project, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.url = ""
        self.wait(lambda: "serving http://" in self.output(), 120)
        self.url = re.search(r"serving (http://\S+)", self.output()).group(1)  # type: ignore[union-attr]

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait(self, ready: Callable[[], object], timeout: float = 600, every: float = 0.02) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if ready():
                return
            if self.proc.poll() is not None:
                raise SystemExit(f"watch session ended:\n{self.output()[-3000:]}")
            time.sleep(every)
        raise SystemExit(f"watch session: timed out:\n{self.output()[-3000:]}")

    def get(self, path: str = "article.html") -> str:
        with urllib.request.urlopen(self.url + path, timeout=30) as resp:
            return resp.read().decode()

    def state(self) -> dict[str, Any]:
        return json.loads(self.get("__casereport__/state"))

    def article(self) -> str:
        """The served article without the injected script (which carries the generation)."""
        return self.get().split('<script id="casereport-live-reload">', 1)[0]

    def idle(self) -> None:
        """Wait until no render and no PDF is in progress."""
        self.wait(lambda: not (s := self.state())["busy"] and not s["pdf"], every=0.1)

    def timed_edit(self, edit: Callable[[], None], changed: Callable[[str], bool]) -> float:
        """Seconds from ``edit()`` to the served article satisfying ``changed``.

        Polls what the page's reload script polls (the small state document) and fetches
        the article only when its generation moved, as the browser reloads: fetching the
        whole article (about 3 MB) every 20 ms would load the two cores the edit needs.
        """
        seen = [self.state()["generation"]]

        def arrived() -> bool:
            generation = self.state()["generation"]
            if generation == seen[0]:
                return False
            seen[0] = generation
            return changed(self.article())

        t0 = time.perf_counter()
        edit()
        self.wait(arrived)
        seconds = time.perf_counter() - t0
        if self.state()["error"]:
            raise SystemExit(f"watch render failed:\n{self.state()['error']}")
        return seconds

    def rss_mb(self) -> float:
        import psutil

        return psutil.Process(self.proc.pid).memory_info().rss / 2**20

    def stop(self) -> int:
        os.killpg(self.proc.pid, signal.SIGINT)
        return self.proc.wait(timeout=180)


def executed_steps(project: Path) -> list[str]:
    """Steps the last published render executed (from build/manifest.json), PDF aside."""
    doc = json.loads((project / "build" / "manifest.json").read_text())
    skip = ("plan", "pdf")
    return sorted(s["step"] for s in doc["steps"] if not s["cached"] and s["step"] not in skip)


def append_sentence(project: Path, text: str) -> None:
    path = project / "notebooks" / "article.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = max((c for c in nb.cells if c.cell_type == "markdown"), key=lambda c: len(c.source))
    cell.source += f" {text}"  # the longest prose cell: a paragraph, not a heading
    nbformat.write(nb, path)


def _case_file(project: Path, case: str) -> Path:
    return project / "data" / case / "case.yaml"


def edit_caption(project: Path, case: str, text: str) -> None:
    """Append ``text`` to the first ``caption:`` of the case file (a plain YAML scalar)."""
    path = _case_file(project, case)
    lines = path.read_text().splitlines(keepends=True)
    i = next(i for i, line in enumerate(lines) if line.strip().startswith("caption:"))
    lines[i] = lines[i].rstrip("\n") + f" {text}\n"
    path.write_text("".join(lines))


def move_arrow(project: Path, case: str, dx_mm: int) -> None:
    """Move the tip of the first arrow of the case file by ``dx_mm`` along x."""
    path = _case_file(project, case)
    text = path.read_text()
    m = re.search(r"tip_mm: \[(-?\d+(?:\.\d+)?), ", text)
    if m is None:
        raise SystemExit(f"{path}: no arrow (tip_mm) to move")
    x = float(m.group(1)) + dx_mm
    path.write_text(text[: m.start(1)] + f"{x:g}" + text[m.end(1) :])


def run_watch(project: Path, case: str, rounds: int, log: Callable[[str], None]) -> dict[str, Any]:
    """The three edit latencies per round and the RSS after 1 and after 50 prose edits."""
    times: dict[str, list[float]] = {"text_edit": [], "caption_edit": [], "annotation_edit": []}
    ran: dict[str, list[str]] = {}
    load: list[float] = []
    s = Session(project)
    try:
        s.wait(lambda: s.state()["generation"] >= 1, every=0.2)
        if s.state()["error"]:
            raise SystemExit(f"watch: first render failed:\n{s.state()['error']}")
        for n in range(1, rounds + 1):
            text, caption = f"Watch edit {n}.", f"Caption edit {n}."
            edits: list[tuple[str, Callable[[], None], str | None]] = [
                ("text_edit", partial(append_sentence, project, text), text),
                ("caption_edit", partial(edit_caption, project, case, caption), caption),
                ("annotation_edit", partial(move_arrow, project, case, 1), None),
            ]
            for name, edit, want in edits:
                s.idle()
                before = s.article()

                def changed(page: str, want: str | None = want, before: str = before) -> bool:
                    return want in page if want else page != before

                seconds = s.timed_edit(edit, changed)
                times[name].append(seconds)
                ran[name] = executed_steps(project)
                load.append(round(os.getloadavg()[0], 2))
                log(f"watch round {n}: {name:15s} {seconds:6.2f} s")
        s.idle()
        rss: list[float] = []
        for n in range(1, MEMORY_EDITS + 1):
            text = f"Memory edit {n}."
            s.timed_edit(
                partial(append_sentence, project, text),
                lambda page, text=text: text in page,
            )
            rss.append(s.rss_mb())
        log(f"watch: RSS after edit 1 {rss[0]:.0f} MB, peak over {MEMORY_EDITS} {max(rss):.0f} MB")
    finally:
        status = s.stop()
    if status != 0:
        raise SystemExit(f"watch exited with {status}:\n{s.output()[-3000:]}")
    return {
        "seconds": times,
        "ran": ran,
        "loadavg_1min_at_edits": load,
        "rss_mb": rss,
        "edits": MEMORY_EDITS,
    }

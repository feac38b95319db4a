"""Progress of a render that fits where it is written.

On a terminal: a tqdm bar per notebook (one tick per cell) and per export step (HTML,
PDF), and a line for each step reused from the cache. Anywhere else (CI logs, pipes,
files): no bar and no terminal escape code, one plain line per finished step, e.g.
``case A: executed in 12.3 s``, ``pdf: written in 3.1 s``. ``quiet`` prints nothing;
``verbose`` adds a line when a step starts and the timings on a terminal too.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from typing import Any, TextIO


class Verbosity(IntEnum):
    """How much a render reports on stderr."""

    QUIET = 0
    NORMAL = 1
    VERBOSE = 2


class Progress:
    """Reports the steps of one render on ``stream`` (default: stderr); thread-safe.

    Args:
        verbosity: quiet, normal or verbose.
        stream: where to write (default ``sys.stderr`` at the time of each write).
        tty: draw bars; default: whether ``stream`` is a terminal.
    """

    def __init__(
        self,
        verbosity: Verbosity = Verbosity.NORMAL,
        stream: TextIO | None = None,
        tty: bool | None = None,
    ) -> None:
        self.verbosity = Verbosity(verbosity)
        self._stream = stream
        self._tty = tty
        self._lock = threading.Lock()
        self._bars = 0

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    @property
    def bars(self) -> bool:
        """Whether bars are drawn: not quiet, and the stream is a terminal."""
        if self.verbosity == Verbosity.QUIET:
            return False
        if self._tty is not None:
            return self._tty
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    def line(self, text: str, *, level: Verbosity = Verbosity.NORMAL) -> None:
        """Write one line when the verbosity is at least ``level`` (above any bars)."""
        if self.verbosity < level:
            return
        with self._lock:
            if self.bars:
                from tqdm import tqdm

                tqdm.write(text, file=self.stream)
            else:
                print(text, file=self.stream, flush=True)

    def _bar_kwargs(self, label: str, **extra: Any) -> dict[str, Any]:
        with self._lock:
            position = self._bars
            self._bars += 1
        return {
            "desc": label,
            "position": position,
            "leave": True,
            "file": self.stream,
            "dynamic_ncols": True,
            **extra,
        }

    def notebook(self, label: str) -> dict[str, Any] | bool:
        """Before executing a notebook: tqdm keyword arguments for papermill, or ``False``."""
        self.line(f"{label}: executing", level=Verbosity.VERBOSE)
        return self._bar_kwargs(label) if self.bars else False

    def step(self, name: str, *, cached: bool, seconds: float, verb: str = "executed") -> None:
        """After a step: ``NAME: cached`` or ``NAME: VERB in S s`` (on a terminal a finished
        bar already shows it, so there the line comes only for cached steps or when verbose).
        """
        if cached:
            self.line(f"{name}: cached")
        else:
            level = Verbosity.VERBOSE if self.bars else Verbosity.NORMAL
            self.line(f"{name}: {verb} in {seconds:.1f} s", level=level)

    @contextmanager
    def working(self, name: str) -> Iterator[None]:
        """Around a single long step (HTML, PDF): a one-tick bar on a terminal."""
        self.line(f"{name}: started", level=Verbosity.VERBOSE)
        if not self.bars:
            yield
            return
        from tqdm import tqdm

        with tqdm(total=1, **self._bar_kwargs(name)) as bar:
            yield
            bar.update(1)

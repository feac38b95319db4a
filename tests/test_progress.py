"""Render progress: bars only on a terminal, plain lines elsewhere, quiet and verbose."""

from __future__ import annotations

import io

from casereport.render.progress import Progress, Verbosity


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _steps(progress: Progress) -> None:
    progress.step("case A", cached=False, seconds=1.25)
    progress.step("case B", cached=True, seconds=0.0)
    with progress.working("pdf"):
        pass
    progress.step("pdf", cached=False, seconds=3.0, verb="written")


def test_plain_stream_gets_one_line_per_step_and_no_escape_codes() -> None:
    out = io.StringIO()
    progress = Progress(Verbosity.NORMAL, stream=out)
    assert progress.notebook("case A") is False  # no bar for papermill
    _steps(progress)
    assert out.getvalue() == "case A: executed in 1.2 s\ncase B: cached\npdf: written in 3.0 s\n"


def test_terminal_gets_bars_and_cached_lines() -> None:
    out = _Terminal()
    progress = Progress(Verbosity.NORMAL, stream=out)
    kwargs = progress.notebook("case A")
    assert isinstance(kwargs, dict) and kwargs["desc"] == "case A" and kwargs["file"] is out
    assert progress.notebook("case B")["position"] == 1  # type: ignore[index]
    _steps(progress)
    text = out.getvalue()
    assert "\r" in text and "pdf: 100%" in text  # the one-tick bar of the PDF step
    assert "case B: cached\n" in text
    assert "executed in" not in text  # a finished bar shows it already


def test_quiet_prints_nothing_even_on_a_terminal() -> None:
    out = _Terminal()
    progress = Progress(Verbosity.QUIET, stream=out)
    assert progress.notebook("case A") is False
    _steps(progress)
    assert out.getvalue() == ""


def test_verbose_adds_start_lines() -> None:
    out = io.StringIO()
    progress = Progress(Verbosity.VERBOSE, stream=out)
    progress.notebook("case A")
    with progress.working("pdf"):
        pass
    progress.step("pdf", cached=False, seconds=2.0, verb="written")
    assert out.getvalue() == "case A: executing\npdf: started\npdf: written in 2.0 s\n"

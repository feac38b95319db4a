"""Serve build/ with live reload and re-render whenever a notebook, case file, DICOM file or
the package source changes (Ctrl-C stops)."""

from __future__ import annotations

import argparse

from casereport.render import cmd_render


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The render options (``--html-only`` here means: no background PDF) and ``--port``."""
    cmd_render.add_arguments(p)


def run(args: argparse.Namespace) -> int:
    """Check the options once (errors exit 2 before anything is served), then watch."""
    from casereport.errors import ParameterError
    from casereport.render.watch import WatchOptions, watch

    if not 0 <= args.port <= 65535:
        raise ParameterError("<command line>", "--port", f"must be 0..65535, got {args.port}")
    cmd_render.options(args)  # bad options or identifiable data: stop now, exit 2
    return watch(
        lambda: cmd_render.options(args), WatchOptions(port=args.port, pdf=not args.html_only)
    )

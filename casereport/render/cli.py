"""Command line of ``render.py``: a thin layer over :mod:`casereport.render`.

``python render.py [options]`` renders everything; ``python render.py COMMAND ...`` runs a
subcommand. A subcommand is one entry in :data:`COMMANDS`: its name and a module with
``add_arguments(parser)`` and ``run(args) -> int`` (as in ``casereport/__main__.py``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType

from casereport.errors import CaseReportError, RenderError, os_error_line

#: subcommand name -> module providing ``add_arguments(parser)`` and ``run(args) -> int``
COMMANDS: dict[str, str] = {
    "render": "casereport.render.cmd_render",
    "clean": "casereport.render.cmd_clean",
    "watch": "casereport.render.cmd_watch",
    "verify": "casereport.review.verify",
    "bundle": "casereport.review.bundle",
}
DEFAULT_COMMAND = "render"


def _module(name: str) -> ModuleType:
    return importlib.import_module(COMMANDS[name])


def build_parser(command: str = DEFAULT_COMMAND) -> argparse.ArgumentParser:
    """Parser of one subcommand (``render.py`` alone means ``render``)."""
    mod = _module(command)
    doc = (mod.__doc__ or command).strip().splitlines()[0]
    others = ", ".join(sorted(c for c in COMMANDS if c != DEFAULT_COMMAND))
    prog = "render.py" if command == DEFAULT_COMMAND else f"render.py {command}"
    epilog = (
        f"other commands: {others} (render.py COMMAND --help)"
        if command == DEFAULT_COMMAND
        else None
    )
    p = argparse.ArgumentParser(prog=prog, description=doc, epilog=epilog)
    p.add_argument("--root", type=Path, default=Path.cwd(), help="project root (default: cwd)")
    mod.add_arguments(p)
    if not any("--quiet" in a.option_strings for a in p._actions):
        add_talk_options(p)
    return p


def add_talk_options(p: argparse.ArgumentParser) -> None:
    """``-q/--quiet`` and ``-v/--verbose``, which every command honours."""
    talk = p.add_mutually_exclusive_group()
    talk.add_argument(
        "-q", "--quiet", action="store_true", help="print only errors (and verify's report)"
    )
    talk.add_argument("-v", "--verbose", action="store_true", help="report each step")


def main(argv: list[str] | None = None) -> int:
    """Run ``render.py``; returns the exit status (0 ok, 1 a notebook failed, 2 bad input)."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    command = DEFAULT_COMMAND
    if args_in and args_in[0] in COMMANDS:
        command = args_in.pop(0)
    args = build_parser(command).parse_args(args_in)
    try:
        return int(_module(command).run(args))
    except RenderError as err:
        print(err.report(), file=sys.stderr)
        return err.exit_code
    except CaseReportError as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("error: interrupted; previous outputs kept", file=sys.stderr)
        return 130
    except OSError as exc:  # output folder read-only or full, input unreadable
        print(f"error: {os_error_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - never a traceback for bad input
        msg = " ".join(str(exc).split())
        print(f"error: unexpected {type(exc).__name__}: {msg}", file=sys.stderr)
        return 2

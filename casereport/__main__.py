"""The casereport command line: render, watch, verify, bundle, clean, inspect, view, ...

``casereport COMMAND ...`` (also ``python -m casereport``); ``render.py`` is the same with
``render`` as the default command.

Each command lives in its own CLI module exposing ``add_arguments(parser)`` and
``run(args) -> int``, registered in :data:`COMMANDS`; only the module of the command being
run is imported (all of them for ``--help``), and a module that is not installed is simply
not offered. Library modules never parse arguments. Errors the package raises on purpose
(:class:`~casereport.errors.CaseReportError`) become one line ``error: <message>`` on
stderr and exit status 2 (a failed notebook: its report block and status 1); any other
exception also becomes one line, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path
from types import ModuleType

from casereport.errors import CaseReportError, RenderError, os_error_line

#: Command name -> CLI module providing ``add_arguments(parser)`` and ``run(args) -> int``.
COMMANDS: dict[str, str] = {
    "render": "casereport.render.cmd_render",
    "watch": "casereport.render.cmd_watch",
    "verify": "casereport.review.cmd_verify",
    "bundle": "casereport.review.cmd_bundle",
    "clean": "casereport.render.cmd_clean",
    "inspect": "casereport.io.cli",
    "view": "casereport.figure.cli",
    "deidentify": "casereport.deid.cli",
    # a new case folder from DICOM studies: offered once its module exists
    "new-case": "casereport.case.cmd_new",
}


class _Broken:
    """Stands in for a command module that exists but fails to import."""

    def __init__(self, module: str, exc: BaseException) -> None:
        self.__doc__ = f"(unavailable: {module} failed to import)"
        self._reason = f"command module {module} failed to import: {type(exc).__name__}: {exc}"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("rest", nargs=argparse.REMAINDER)

    def run(self, args: argparse.Namespace) -> int:
        print(f"error: {_one_line(self._reason)}", file=sys.stderr)
        return 2


def _load(names: list[str]) -> dict[str, ModuleType | _Broken]:
    out: dict[str, ModuleType | _Broken] = {}
    for name in names:
        module = COMMANDS[name]
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and module.startswith(exc.name):
                continue  # the module itself is absent: command not offered
            out[name] = _Broken(module, exc)
            continue
        except Exception as exc:  # noqa: BLE001 - one broken command must not break the others
            out[name] = _Broken(module, exc)
            continue
        if hasattr(mod, "add_arguments") and hasattr(mod, "run"):
            out[name] = mod
    return out


def _installed() -> list[str]:
    """Commands whose module file exists (looked up without importing any package)."""
    base = Path(__file__).resolve().parent.parent
    return [
        name
        for name, module in COMMANDS.items()
        if base.joinpath(*module.split(".")).with_suffix(".py").is_file()
    ]


def _command_in(argv: list[str]) -> str | None:
    """The command named in ``argv`` (first word not starting with ``-``), if known."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def _add_talk_options(p: argparse.ArgumentParser) -> None:
    """``-q/--quiet`` and ``-v/--verbose``, which every command honours."""
    talk = p.add_mutually_exclusive_group()
    talk.add_argument(
        "-q", "--quiet", action="store_true", help="print only errors (and verify's report)"
    )
    talk.add_argument("-v", "--verbose", action="store_true", help="report each step")


def summary(doc: str) -> str:
    """The first paragraph of a docstring on one line (a command's one-line help)."""
    return " ".join(doc.strip().split("\n\n")[0].split())


def build_parser(
    commands: dict[str, ModuleType | _Broken] | None = None, *, prog: str = "casereport"
) -> argparse.ArgumentParser:
    """The argument parser with one subparser per given (default: every) command."""
    commands = _load(list(COMMANDS)) if commands is None else commands
    parser = argparse.ArgumentParser(prog=prog, description=summary(__doc__ or ""))
    parser.add_argument(
        "-v",
        "--verbose",
        dest="log_details",
        action="store_true",
        help="log details (e.g. pydicom's remarks on odd values) to stderr",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, mod in commands.items():
        doc = summary(mod.__doc__ or name)
        others = ", ".join(c for c in _installed() if c != name)
        epilog = f"other commands: {others} ({prog} COMMAND --help)"
        p = sub.add_parser(name, help=doc, description=doc, epilog=epilog)
        mod.add_arguments(p)
        if not any("--quiet" in a.option_strings for a in p._actions):
            _add_talk_options(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(
    argv: list[str] | None = None, *, default: str | None = None, prog: str = "casereport"
) -> int:
    """Run a command; returns the exit status (0 ok, 1 a notebook failed, 2 bad input).

    ``default``: command run when ``argv`` names none (``render.py`` passes ``"render"``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _command_in(argv)
    if command is None and default is not None:
        argv.insert(0, default)
        command = default
    parser = build_parser(_load([command]) if command else None, prog=prog)
    args = parser.parse_args(argv)
    if args.log_details:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        log = logging.getLogger("casereport")
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    try:
        return int(args._run(args))
    except RenderError as err:
        print(err.report(), file=sys.stderr)
        return err.exit_code
    except CaseReportError as err:
        print(f"error: {_one_line(str(err))}", file=sys.stderr)
        return err.exit_code
    except BrokenPipeError:
        # Output piped into a reader that stopped early (e.g. ``| head``): not an error.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("error: interrupted; previous outputs kept", file=sys.stderr)
        return 130
    except OSError as exc:  # the file concerned, not the input (e.g. a read-only -o folder)
        print(f"error: {os_error_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - bad input must never end in a traceback
        where = getattr(args, "path", None)
        prefix = f"{where}: " if where is not None else ""
        print(
            f"error: {prefix}unexpected {type(exc).__name__}: {_one_line(str(exc))}",
            file=sys.stderr,
        )
        return 2


def _one_line(msg: str) -> str:
    return " ".join(msg.split())


if __name__ == "__main__":
    sys.exit(main())

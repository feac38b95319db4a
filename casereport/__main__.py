"""Command line: ``python -m casereport <command> ...``.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; modules that are not installed are simply not offered. Errors the
package raises on purpose (:class:`~casereport.errors.CaseReportError`) and any other
exception become one line ``error: <message>`` on stderr and exit status 2 (or the
error's ``exit_code``), never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from types import ModuleType

from casereport.errors import CaseReportError, os_error_line

#: Subcommand name -> module providing ``add_arguments(parser)`` and ``run(args) -> int``.
_COMMANDS: dict[str, str] = {
    "inspect": "casereport.io.cli",
    "view": "casereport.figure.cli",
    "deidentify": "casereport.deid.cli",
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


def _available() -> dict[str, ModuleType | _Broken]:
    out: dict[str, ModuleType | _Broken] = {}
    for name, module in _COMMANDS.items():
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


def build_parser(
    commands: dict[str, ModuleType | _Broken] | None = None,
) -> argparse.ArgumentParser:
    """The argument parser with one subparser per available command."""
    commands = _available() if commands is None else commands
    parser = argparse.ArgumentParser(prog="casereport", description=__doc__.splitlines()[0])
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log details (e.g. pydicom's remarks on odd values) to stderr",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, mod in commands.items():
        doc = (mod.__doc__ or name).strip().splitlines()[0]
        p = sub.add_parser(name, help=doc, description=doc)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        log = logging.getLogger("casereport")
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    try:
        return int(args._run(args))
    except CaseReportError as err:
        print(f"error: {_one_line(str(err))}", file=sys.stderr)
        return err.exit_code
    except BrokenPipeError:
        # Output piped into a reader that stopped early (e.g. ``| head``): not an error.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
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

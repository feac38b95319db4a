"""Command line of ``render.py``: a thin layer over :func:`casereport.render.pipeline.render`."""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from casereport.errors import CaseReportError, RenderError
from casereport.render.params import parse_assignment
from casereport.render.pipeline import RenderOptions, render


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="render.py",
        description="Execute the case and article notebooks and render build/article.html and .pdf.",
    )
    p.add_argument("--root", type=Path, default=Path.cwd(), help="project root (default: cwd)")
    p.add_argument("--data", type=Path, help="data folder (default: ROOT/data)")
    p.add_argument("--notebooks", type=Path, help="notebook folder (default: ROOT/notebooks)")
    p.add_argument("--build", type=Path, help="build folder (default: ROOT/build)")
    p.add_argument("--figures", type=Path, help="figures folder (default: ROOT/figures)")
    p.add_argument("--case", action="append", dest="cases", metavar="ID",
                   help="render only this case (repeatable)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="[CASE:]NAME=VALUE",
                   help="set a notebook parameter (value read as YAML); CASE: limits it to one case")
    p.add_argument("--with-code", action="store_true", help="keep code cells in the HTML")
    p.add_argument("--html-only", action="store_true", help="skip the PDF")
    return p


def _overrides(assignments: list[str]) -> dict[str | None, dict[str, Any]]:
    out: dict[str | None, dict[str, Any]] = defaultdict(dict)
    for text in assignments:
        case, name, value = parse_assignment(text)
        out[case][name] = value
    return dict(out)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        opts = RenderOptions.for_root(
            args.root,
            data_dir=args.data,
            notebooks_dir=args.notebooks,
            build_dir=args.build,
            figures_dir=args.figures,
            cases=tuple(args.cases) if args.cases else None,
            overrides=_overrides(args.param),
            with_code=args.with_code,
            html_only=args.html_only,
        )
        result = render(opts)
    except RenderError as err:
        print(err.report(), file=sys.stderr)
        return err.exit_code
    except CaseReportError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("error: interrupted; previous outputs kept", file=sys.stderr)
        return 130
    print(f"wrote {result.html}")
    if result.pdf:
        print(f"wrote {result.pdf}")
    return 0

"""Re-render and compare every figure with figures/, and data/ with its manifest."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from casereport.render.cmd_render import add_root_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``casereport verify``."""
    add_root_argument(parser)
    parser.add_argument(
        "--rendered",
        type=Path,
        metavar="DIR",
        help="compare this already rendered figures folder instead of re-rendering",
    )
    parser.add_argument(
        "--report", type=Path, metavar="DIR", help="report folder (default: ROOT/build/verify)"
    )


def run(args: argparse.Namespace) -> int:
    """Verify; print the report; exit 1 when a check failed."""
    from casereport.review.verify import report_text, verify

    if args.rendered is None and not args.quiet:
        print("verify: re-rendering the article from data/ (about a minute) ...", file=sys.stderr)
    report = verify(
        args.root, rendered=args.rendered, report_dir=args.report, progress=args.verbose
    )
    print(report_text(report))
    return 0 if report.passed else 1

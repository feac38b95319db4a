"""Write a deterministic submission zip (refuses identifiable DICOM)."""

from __future__ import annotations

import argparse
from pathlib import Path

from casereport.render.cmd_render import add_root_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``casereport bundle``."""
    add_root_argument(parser)
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="ZIP",
        help="zip to create (default: ROOT/build/submission.zip, with --meca "
        "ROOT/build/submission.meca.zip); must not exist",
    )
    parser.add_argument(
        "--meca",
        action="store_true",
        help="write a MECA package (manifest.xml, JATS XML, PDF, figures, supplementary files)",
    )


def run(args: argparse.Namespace) -> int:
    """Build the bundle; print its path and number of entries."""
    from casereport.review.bundle import build_bundle, build_meca

    result = (build_meca if args.meca else build_bundle)(args.root, args.output)
    if args.verbose:
        for name in result.entries:
            print(f"  {name}")
    if not args.quiet:
        print(f"wrote {result.path} ({len(result.entries)} entries)")
    return 0

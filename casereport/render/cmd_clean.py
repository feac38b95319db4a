"""Remove the build outputs and the render cache."""

from __future__ import annotations

import argparse
from pathlib import Path

from casereport.render.cmd_render import add_root_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``casereport clean``."""
    add_root_argument(p)
    p.add_argument("--build", type=Path, help="build folder (default: ROOT/build)")
    p.add_argument("--keep-cache", action="store_true", help="keep build/cache (executed runs)")


def run(args: argparse.Namespace) -> int:
    """Delete ``build/`` (or all of it but the cache); published ``figures/`` are kept."""
    from casereport.render.publish import clean

    build = (args.build or args.root / "build").resolve()
    removed = clean(build, keep_cache=args.keep_cache)
    if args.verbose:
        for path in removed:
            print(f"removed {path}")
    if not args.quiet:
        print(f"removed {len(removed)} item(s) from {build}")
    return 0

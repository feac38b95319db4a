"""``python -m casereport.synth --out DIR [--cases A,B,C,control] [--seed N] [--force]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from casereport.errors import SynthError
from casereport.synth.output import DEFAULT_SEED, generate
from casereport.synth.subjects import SUBJECTS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m casereport.synth",
        description="Write the simulated (synthetic) DICOM studies of the case report.",
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument(
        "--cases",
        default=",".join(SUBJECTS),
        help="comma-separated subjects (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument(
        "--force", action="store_true", help="replace the generated studies in a non-empty folder"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="parallel processes (default: up to 2); output does not depend on it",
    )
    args = parser.parse_args(argv)
    try:
        result = generate(
            args.out, cases=args.cases, seed=args.seed, force=args.force, workers=args.workers
        )
    except SynthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    n = len(result["manifest"]["files"])
    print(f"wrote {n} files for {', '.join(result['manifest']['subjects'])} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

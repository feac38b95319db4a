"""Draft data/<ID>/case.yaml from a folder of de-identified scanner exports."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m casereport new-case``."""
    parser.add_argument("path", type=Path, help="folder of exports (or a DICOMDIR)")
    parser.add_argument("--id", required=True, dest="case_id", help="case id, e.g. D")
    parser.add_argument(
        "--data", type=Path, default=Path("data"), help="data folder (default: data)"
    )
    parser.add_argument(
        "--same-patient",
        action="store_true",
        help="the exports are one person's although their patient IDs differ (e.g. from two "
        "hospitals' systems); without it, exports of several patients are refused",
    )


def run(args: argparse.Namespace) -> int:
    """Write the draft; print its path and what the author must do next."""
    from casereport.case.draft import draft_case

    path = draft_case(args.path, args.case_id, args.data, same_patient=args.same_patient)
    print(path)
    print(f"next: fill in the TODO items of {path}, then render case {args.case_id}")
    return 0

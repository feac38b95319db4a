"""De-identify DICOM files (PS3.15 Basic Profile): python -m casereport deidentify IN OUT."""

from __future__ import annotations

import argparse
import os
import sys

from casereport.deid.deidentify import DEFAULT_SALT, DeidParams, deidentify_tree
from casereport.errors import ReviewError

SALT_ENV = "CASEREPORT_DEID_SALT"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN", help="DICOM file or folder to de-identify")
    parser.add_argument("output", metavar="OUT", help="new (or empty) folder for the result")
    parser.add_argument(
        "--salt",
        default=None,
        help=f"secret for date shifts, pseudonyms and UIDs (default: ${SALT_ENV}, "
        "else a public salt, with a warning)",
    )
    parser.add_argument(
        "--uid-prefix",
        default=None,
        metavar="ROOT.",
        help="root of the new UIDs (default: pydicom's root)",
    )


def run(args: argparse.Namespace) -> int:
    salt = args.salt or os.environ.get(SALT_ENV) or ""
    if not salt:
        salt = DEFAULT_SALT
        print(
            f"warning: no --salt or ${SALT_ENV}: using the public default salt; anyone who "
            "knows a patient's ID can recompute the date shift and pseudonym",
            file=sys.stderr,
        )
    try:
        prefix = {"uid_prefix": args.uid_prefix} if args.uid_prefix else {}
        params = DeidParams(salt=salt, **prefix)
    except ValueError as exc:
        raise ReviewError(args.output, str(exc)) from None
    result = deidentify_tree(args.input, args.output, params)
    print(
        f"wrote {len(result.files)} de-identified file(s) for {result.patients} patient(s) "
        f"to {result.out_dir}"
    )
    print(
        f"  dates shifted per patient; {result.uids} UID(s) remapped; private tags removed; "
        "output passed the de-identification gate"
    )
    return 0

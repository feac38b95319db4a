"""Reviewer tools: ``render.py verify``, ``render.py bundle`` and per-panel provenance."""

from casereport.review.bundle import BundleResult, build_bundle
from casereport.review.provenance import build_provenance, provenance_html, write_provenance
from casereport.review.verify import VerifyReport, check_data, compare_figures, verify

__all__ = [
    "BundleResult",
    "VerifyReport",
    "build_bundle",
    "build_provenance",
    "check_data",
    "compare_figures",
    "provenance_html",
    "verify",
    "write_provenance",
]

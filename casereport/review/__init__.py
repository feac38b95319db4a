"""Reviewer tools: ``render.py verify``, ``render.py bundle`` and per-panel provenance.

``BundleResult`` and ``build_bundle`` are imported from :mod:`casereport.review.bundle`
when first used: that module (JATS, de-identification gate) costs about 0.1 CPU-s to
import, and the figure notebook, which imports this package in every render, needs only
``write_provenance``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from casereport.review.provenance import build_provenance, provenance_html, write_provenance
from casereport.review.verify import VerifyReport, check_data, compare_figures, verify

if TYPE_CHECKING:
    from casereport.review.bundle import BundleResult, build_bundle

#: names imported from :mod:`casereport.review.bundle` when first used
_FROM_BUNDLE = ("BundleResult", "build_bundle")

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


def __getattr__(name: str) -> Any:
    if name not in _FROM_BUNDLE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from casereport.review import bundle

    value = getattr(bundle, name)
    globals()[name] = value
    return value

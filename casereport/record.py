"""A process-wide record of the input files read, like a compiler's dependency file.

Every DICOM file that :func:`casereport.io.load` or :func:`casereport.io.scan` opens is
recorded here, and other readers (the case-file loader) add theirs with
:func:`record_read`. A notebook can then list exactly which files its results depend on
(``files_read()``), so that the render cache invalidates only the runs that read a
changed file.

A reader may record a *facet* of a file instead of the whole file: the part of it that
was used (``record_read("data/A/case.yaml", facet="panels.A1.caption")``). The record
then holds ``<absolute path>#<facet>``, and whoever checks the record computes that
part's digest (for case files: :func:`casereport.case.facet_digests`), so that an edit
elsewhere in the file does not count as a change of what was read.

A leaf module like :mod:`casereport.errors` (``casereport.io`` offers the same functions):
the render process records and reads facets without importing the DICOM readers.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_LOCK = threading.Lock()
_READ: set[str] = set()
_CAPTURES: list[set[str]] = []
#: separates a file's path from the facet read of it in the record
FACET_SEP = "#"


def record_read(path: str | Path, *, facet: str | None = None) -> None:
    """Add ``path`` (made absolute) to the record of files read by this process; with
    ``facet``, only that part of the file (recorded as ``<path>#<facet>``)."""
    absolute = os.path.abspath(os.fspath(path))
    if facet is not None:
        absolute = f"{absolute}{FACET_SEP}{facet}"
    with _LOCK:
        _READ.add(absolute)
        for seen in _CAPTURES:
            seen.add(absolute)


@contextmanager
def capture_reads() -> Iterator[set[str]]:
    """Collect, in the yielded set, every entry recorded while the block runs (also those
    already in the process-wide record: a cached computation must list all it read)."""
    seen: set[str] = set()
    with _LOCK:
        _CAPTURES.append(seen)
    try:
        yield seen
    finally:
        with _LOCK:
            _CAPTURES.remove(seen)


def files_read() -> tuple[Path, ...]:
    """Every file (or ``file#facet``) recorded so far: absolute paths, sorted, each once."""
    with _LOCK:
        return tuple(Path(p) for p in sorted(_READ))


def split_facet(entry: str | Path) -> tuple[str, str | None]:
    """``"<path>#<facet>"`` -> (path, facet); a plain path -> (path, None)."""
    text = os.fspath(entry)
    path, sep, facet = text.rpartition(FACET_SEP)
    if not sep or not facet or "/" in facet or os.sep in facet:
        return text, None
    return path, facet


def forget_files_read() -> None:
    """Empty the record (for tests, or before a new independent computation)."""
    with _LOCK:
        _READ.clear()

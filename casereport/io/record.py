"""A process-wide record of the input files read, like a compiler's dependency file.

Every DICOM file that :func:`casereport.io.load` or :func:`casereport.io.scan` opens is
recorded here, and other readers (the case-file loader) add theirs with
:func:`record_read`. A notebook can then list exactly which files its results depend on
(``files_read()``), so that the render cache invalidates only the runs that read a
changed file.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

_LOCK = threading.Lock()
_READ: set[str] = set()


def record_read(path: str | Path) -> None:
    """Add ``path`` (made absolute) to the record of files read by this process."""
    absolute = os.path.abspath(os.fspath(path))
    with _LOCK:
        _READ.add(absolute)


def files_read() -> tuple[Path, ...]:
    """Every file recorded so far: absolute paths, sorted, each once."""
    with _LOCK:
        return tuple(Path(p) for p in sorted(_READ))


def forget_files_read() -> None:
    """Empty the record (for tests, or before a new independent computation)."""
    with _LOCK:
        _READ.clear()

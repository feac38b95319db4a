"""pydicom's warnings (odd values, non-conformant UIDs) as one-line messages, never stack lines.

Everything the io layer does with pydicom runs inside :func:`dicom_warnings`: warnings
raised meanwhile are caught, turned into one line each, sent to the ``casereport.io``
logger at INFO level (shown by ``python -m casereport --verbose``) and handed to every
enclosing collector, so that ``inspect`` can print them as ``warning:`` lines.
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

LOG = logging.getLogger("casereport.io")

_LOCK = threading.Lock()
_COLLECTORS: list[list[str]] = []


_SEE_ALSO = re.compile(r"\s*Please see <[^>]*>[^.]*\.")


def one_line(message: str) -> str:
    """``message`` on one line (runs of whitespace become single spaces), without
    pydicom's pointer to the standard's tables."""
    return " ".join(_SEE_ALSO.sub("", message).split())


@contextmanager
def dicom_warnings() -> Iterator[list[str]]:
    """Catch warnings in the block; yield a list filled with their text (each once) on exit."""
    mine: list[str] = []
    with _LOCK:
        _COLLECTORS.append(mine)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield mine
    finally:
        with _LOCK:
            _COLLECTORS.remove(mine)
            collectors = [mine, *_COLLECTORS]
        for w in caught:
            msg = one_line(str(w.message))
            if msg not in mine:
                LOG.info("pydicom: %s", msg)
            for c in collectors:
                if msg not in c:
                    c.append(msg)

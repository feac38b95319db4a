"""The Jupyter kernel the notebooks run on: one kernel spec inside the active environment.

Nothing is registered globally: the spec is written under ``sys.prefix/share/jupyter``
(the virtual environment or conda env running the render) and points at ``sys.executable``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

KERNEL_NAME = "casereport"


def kernel_dir(prefix: str | Path | None = None) -> Path:
    """Directory of the project's kernel spec inside ``prefix`` (default ``sys.prefix``)."""
    return Path(prefix or sys.prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME


def ensure_kernel(prefix: str | Path | None = None) -> str:
    """Write (or refresh) the kernel spec for this interpreter and return its name."""
    spec = {
        "argv": [
            sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            "--IPKernelApp.log_level=CRITICAL",
        ],
        "display_name": "Python (casereport)",
        "language": "python",
        "metadata": {"debugger": True},
    }
    d = kernel_dir(prefix)
    path = d / "kernel.json"
    text = json.dumps(spec, indent=1, sort_keys=True)
    if not path.exists() or path.read_text() != text:
        d.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return KERNEL_NAME

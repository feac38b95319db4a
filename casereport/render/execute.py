"""Execute one notebook with papermill and turn its failure into a readable RenderError."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError

from casereport.errors import RenderError
from casereport.render.kernel import ensure_kernel
from casereport.render.params import validate_parameters

_VOLATILE_NB_KEYS = ("papermill",)
_VOLATILE_CELL_KEYS = ("papermill", "execution")


@dataclass(frozen=True)
class NotebookRun:
    """One notebook execution: source, destination, parameters, working directory.

    Attributes:
        label: case id or ``"article"``; used in progress and error messages.
        source: the notebook to execute.
        output: where the executed notebook is written.
        parameters: values injected into the cell tagged ``parameters``.
        cwd: working directory of the kernel (relative paths in parameters resolve here).
    """

    label: str
    source: Path
    output: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    cwd: Path = Path(".")


def _source_cell_number(source: Path, failed_source: str, cell_index: int) -> int:
    """1-based position of the failing cell in the *source* notebook.

    papermill's index counts the injected-parameters cell (and its output notebook gains an
    error banner), so the cell is found by its text in the source notebook.
    """
    try:
        nb_src = nbformat.read(source, as_version=4)
    except (OSError, ValueError):
        return cell_index + 1
    for i, cell in enumerate(nb_src.cells, start=1):
        if cell.cell_type == "code" and cell.source == failed_source:
            return i
    return cell_index + 1


def scrub_notebook(path: Path) -> None:
    """Remove timings and kernel details so that the same inputs give the same bytes."""
    nb = nbformat.read(path, as_version=4)
    for key in _VOLATILE_NB_KEYS:
        nb.metadata.pop(key, None)
    nb.metadata.pop("widgets", None)
    lang = nb.metadata.get("language_info")
    if isinstance(lang, dict):
        lang.pop("version", None)
    for cell in nb.cells:
        for key in _VOLATILE_CELL_KEYS:
            cell.metadata.pop(key, None)
    nbformat.write(nb, path)


def execute(run: NotebookRun, *, kernel_name: str | None = None) -> Path:
    """Validate parameters, execute ``run.source`` into ``run.output`` and scrub it.

    Raises:
        ParameterError: unknown parameter or wrong type (before any cell runs).
        RenderError: a cell raised; carries case, notebook, cell number, source, exception.
    """
    validate_parameters(run.source, run.parameters)
    kernel = kernel_name or ensure_kernel()
    run.output.parent.mkdir(parents=True, exist_ok=True)
    env_backup = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    try:
        papermill.execute_notebook(
            str(run.source),
            str(run.output),
            parameters=dict(run.parameters),
            kernel_name=kernel,
            progress_bar=False,
            cwd=str(run.cwd),
            log_output=False,
        )
    except PapermillExecutionError as exc:
        number = _source_cell_number(run.source, exc.source, exc.cell_index)
        raise RenderError(
            run.source,
            f"{exc.ename}: {exc.evalue}",
            case=run.label,
            cell=number,
            source=exc.source,
            exception=f"{exc.ename}: {exc.evalue}",
        ) from None
    except Exception as exc:  # kernel died, notebook unreadable, ...
        raise RenderError(run.source, f"{type(exc).__name__}: {exc}", case=run.label) from None
    finally:
        if env_backup is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = env_backup
    scrub_notebook(run.output)
    return run.output

"""Execute one notebook with papermill and turn its failure into a readable RenderError.

Kernels are started by :class:`Kernel` with the IPC transport (Unix sockets in a private
folder) so that several kernels can start at the same moment without racing for TCP
ports, and each kernel gets the project root as working directory and the inline
matplotlib backend through its own environment (nothing process-wide is changed, so runs
may share a process in threads).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from casereport.errors import RenderError
from casereport.render.kernel import ensure_kernel

if TYPE_CHECKING:
    from casereport.render.zygote import ForkServer

_VOLATILE_NB_KEYS = ("papermill", "widgets")
#: tag of the cell appended to every run that saves the kernel's record of files read
RECORD_TAG = "casereport-record-inputs"
_RECORD_CODE = """import sys as _cr_sys, json as _cr_json
_cr_z = _cr_sys.modules.get("casereport.render.zygote")  # a forked kernel: was it imported?
_cr_used = _cr_z is None or not _cr_z.FORKED_FROM or _cr_z.CASEREPORT_IMPORTED
if _cr_used and "casereport.record" in _cr_sys.modules:
    _cr_read = _cr_sys.modules["casereport.record"].files_read()
    with open({path!r}, "w") as _cr_fh:
        _cr_json.dump([str(_p) for _p in _cr_read], _cr_fh)
"""
_VOLATILE_CELL_KEYS = ("papermill", "execution")


#: thread counts of the BLAS libraries numpy and SciPy may use, for the kernels (unless
#: set already): the render runs one kernel per CPU, and a kernel's linear algebra is small
#: (coordinate maps of a few million (3, 3) products), so a BLAS thread per CPU only
#: competes with the other kernels and spins while idle; one thread gives the same values
KERNEL_THREADS = {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def kernel_env(derived: Path | None = None) -> dict[str, str]:
    """Environment of a kernel: this process's, with the inline matplotlib backend, one
    BLAS thread (:data:`KERNEL_THREADS`, unless set) and, when given, the folder of the
    derived-data cache (:mod:`casereport.io.memo`)."""
    from casereport.io.memo import ENV

    env = {**KERNEL_THREADS, **os.environ}
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    if derived is not None and env.get(ENV) != "0":  # 0: the render shares no derived data
        env[ENV] = str(derived.resolve())
    return env


def lighten_imports() -> None:
    """Skip an optional IRI grammar that ``jsonschema`` compiles at import (about 3 s).

    nbformat imports jsonschema, which builds the ``rfc3987_syntax`` grammar when that
    package is installed; notebook schemas never use the ``iri`` format it serves. Blocking
    it in this process (only when not imported yet) makes jsonschema skip that checker.
    """
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


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


class Kernel:
    """A started kernel for one run (IPC transport, own cwd and environment).

    ``pid_sink`` is called with the kernel's process id once it runs, so a later render can
    stop kernels orphaned by a killed one. With ``forks`` (a started
    :class:`~casereport.render.zygote.ForkServer`) the kernel is a fork of its preloaded
    process; otherwise (or when it cannot serve) an ordinary ``python -m ipykernel_launcher``.
    ``env`` is the kernel's environment (default :func:`kernel_env`).
    """

    def __init__(
        self,
        cwd: Path,
        *,
        pid_sink: Callable[[int], None] | None = None,
        forks: ForkServer | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        import uuid

        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        self._run_sync = run_sync
        self._sockets = tempfile.mkdtemp(prefix="casereport-kernel-")
        self.km = AsyncKernelManager(
            kernel_name=ensure_kernel(),
            transport="ipc",
            ip=os.path.join(self._sockets, "k"),
            client_class="casereport.render.ready_client.ReadyClient",  # no 0.2-s idling
        )
        if forks is not None:
            from casereport.render.zygote import ForkProvisioner

            self.km.kernel_id = str(uuid.uuid4())
            provisioner = ForkProvisioner(
                kernel_id=self.km.kernel_id, kernel_spec=self.km.kernel_spec, parent=self.km
            )
            provisioner.server = forks
            self.km.provisioner = provisioner
        run_sync(self.km.start_kernel)(
            cwd=str(cwd),
            env=env or kernel_env(),
            extra_arguments=["--HistoryManager.hist_file=:memory:"],
        )
        #: True when the kernel is a fork of the zygote
        self.forked = bool(getattr(self.km.provisioner, "forked", False))
        pid = getattr(getattr(self.km, "provisioner", None), "pid", None)
        self.pid = int(pid) if pid else 0
        if pid_sink is not None and self.pid:
            pid_sink(self.pid)

    def preload(self, modules: tuple[str, ...]) -> None:
        """Import ``modules`` in the kernel, silently, while it would otherwise wait.

        Imports are idempotent, so the notebook computes the same; missing modules are
        ignored. Used for the article kernel, which starts while the cases run.
        """
        code = "\n".join(f"try:\n    import {m}\nexcept Exception:\n    pass" for m in modules)
        kc = self.km.client()

        async def run() -> None:
            # the reply, or the kernel's death (a killed render): never a 120-s wait for it
            reply = asyncio.ensure_future(
                kc._async_execute_interactive(
                    code, silent=True, store_history=False, timeout=120, output_hook=lambda m: None
                )
            )
            while not reply.done():
                await asyncio.wait({reply}, timeout=0.25)
                if not reply.done() and not await self.km.is_alive():
                    reply.cancel()
                    return
            reply.result()

        try:
            kc.start_channels()
            self._run_sync(kc.wait_for_ready)(timeout=60)
            self._run_sync(run)()
        except Exception:  # noqa: BLE001 - only a head start; the run itself reports errors
            pass
        finally:
            kc.stop_channels()

    def shutdown(self) -> None:
        """Stop the kernel at once (its outputs were all received) and remove its sockets."""
        try:
            self._run_sync(self.km.shutdown_kernel)(now=True)
        except Exception:  # noqa: BLE001 - a kernel that already died is fine here
            pass
        finally:
            shutil.rmtree(self._sockets, ignore_errors=True)


def _source_cell_number(source: Path, failed_source: str, cell_index: int) -> int:
    """1-based position of the failing cell in the *source* notebook.

    papermill's index counts the injected-parameters cell (and its output notebook gains an
    error banner), so the cell is found by its text in the source notebook.
    """
    import nbformat

    try:
        nb_src = nbformat.read(source, as_version=4)
    except (OSError, ValueError):
        return cell_index + 1
    for i, cell in enumerate(nb_src.cells, start=1):
        if cell.cell_type == "code" and cell.source == failed_source:
            return i
    return cell_index + 1


def scrub(nb: Any) -> None:
    """Remove timings, kernel details and the record-inputs cell from the notebook ``nb``
    (in place), so that the same inputs give the same bytes."""
    for key in _VOLATILE_NB_KEYS:
        nb.metadata.pop(key, None)
    lang = nb.metadata.get("language_info")
    if isinstance(lang, dict):
        lang.pop("version", None)
    nb.cells = [c for c in nb.cells if RECORD_TAG not in c.metadata.get("tags", [])]
    for cell in nb.cells:
        for key in _VOLATILE_CELL_KEYS:
            cell.metadata.pop(key, None)
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.id = "injected-parameters"  # papermill draws a random id


#: output paths whose notebook papermill's final write scrubs first (:func:`scrubbed_writes`)
_SCRUBBED: set[str] = set()


def scrubbed_writes() -> None:
    """Make papermill's write of an executed notebook :func:`scrub` it first when its path
    is one :func:`execute` registered (once per process; other writes are left as they
    are). The executed notebook is then serialised and written once, instead of written,
    read and written again (about 0.3 s for the article's 3 MB)."""
    import papermill.execute as pm_execute

    original = pm_execute.write_ipynb
    if getattr(original, "scrubs", False):
        return

    def write_ipynb(nb: Any, path: Any) -> Any:
        if path is None or str(path) not in _SCRUBBED:
            return original(nb, path)
        import nbformat

        scrub(nb)
        nbformat.write(nb, str(path))  # a local file, with nbformat's final newline
        return None

    write_ipynb.scrubs = True  # type: ignore[attr-defined]
    pm_execute.write_ipynb = write_ipynb


def _with_record_cell(source: Path, output: Path, record_to: Path) -> Path:
    """A copy of ``source`` (next to ``output``) ending with the record-inputs cell."""
    import nbformat

    nb = nbformat.read(source, as_version=4)
    cell = nbformat.v4.new_code_cell(_RECORD_CODE.format(path=str(record_to.resolve())))
    cell.id = "casereport-record-inputs"
    cell.metadata["tags"] = [RECORD_TAG, "remove-cell"]
    nb.cells.append(cell)
    copy = output.with_name(f".source-{output.name}")
    nbformat.write(nb, copy)
    return copy


def execute(
    run: NotebookRun,
    *,
    kernel: Kernel | None = None,
    progress: dict[str, Any] | bool = False,
    record_to: Path | None = None,
) -> Path:
    """Execute ``run.source`` into ``run.output`` (parameters already validated) and scrub it.

    Args:
        run: what to execute.
        kernel: a started kernel to use (and shut down); a new one when ``None``.
        progress: ``False``, or tqdm keyword arguments for a per-cell progress bar.
        record_to: when given, a last (hidden, later removed) cell writes there the JSON
            list of files the kernel read through ``casereport.io`` and ``casereport.case``
            (:mod:`casereport.record`; absolute paths), if the notebook imported either
            at all (in a kernel forked from the zygote, where
            ``casereport`` is preloaded: if the notebook imported any ``casereport`` module).

    Raises:
        RenderError: a cell raised; carries case, notebook, cell number, source, exception.
    """
    lighten_imports()
    import papermill
    from papermill.exceptions import PapermillExecutionError

    run.output.parent.mkdir(parents=True, exist_ok=True)
    source = run.source
    try:
        if record_to is not None:
            source = _with_record_cell(run.source, run.output, record_to)
        if kernel is None:
            kernel = Kernel(run.cwd)
        # written once at the end (or with the error), not at every cell's start and end:
        # that serialised the growing notebook, images included, about 170 times a render
        shutil.copyfile(run.source, run.output)  # meanwhile, the notebook being executed
        scrubbed_writes()
        _SCRUBBED.add(str(run.output))
        papermill.execute_notebook(
            str(source),
            str(run.output),
            parameters=dict(run.parameters),
            kernel_name=ensure_kernel(),
            progress_bar=progress,
            log_output=False,
            km=kernel.km,
            request_save_on_cell_execute=False,
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
    except OSError:
        raise  # the output location (full, read-only) or the source file, not the notebook
    except Exception as exc:  # kernel died, notebook unreadable, ...
        raise RenderError(run.source, f"{type(exc).__name__}: {exc}", case=run.label) from None
    finally:
        _SCRUBBED.discard(str(run.output))
        if kernel is not None:
            kernel.shutdown()
        if source != run.source:
            source.unlink(missing_ok=True)
    return run.output

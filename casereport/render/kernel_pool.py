"""Kernels started ahead of need, for a watch session.

A render starts one kernel per executed run and shuts it down afterwards (a run never
reuses a kernel another run has touched, so results cannot depend on what ran before).
Starting a kernel and importing numpy, SciPy and matplotlib in it takes seconds on a
loaded machine; a :class:`KernelPool` does that in the background between renders, so a
run takes a kernel that is already up. The kernels are forks of the pool's zygote
(:mod:`casereport.render.zygote`), which has numpy, SciPy, matplotlib, pydicom and
``casereport`` imported; when the package source or ``matplotlibrc`` changes,
:meth:`KernelPool.flush` replaces the zygote and the waiting kernels.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from casereport.render.execute import Kernel, kernel_env
from casereport.render.zygote import ForkServer, fork_enabled

#: modules imported in a pooled kernel while it waits (idempotent for the notebook)
POOL_PRELOAD = ("numpy", "scipy.ndimage", "matplotlib.pyplot", "pydicom", "yaml")


class KernelPool:
    """Up to ``size`` started, preloaded kernels with working directory ``cwd``.

    :meth:`take` hands one out or, when none is ready or ``cwd`` differs, starts one on
    the spot like a render without a pool; :meth:`fill` starts replacements in the
    background (a watch session calls it after each render, not during one).
    """

    def __init__(
        self,
        cwd: Path,
        size: int = 2,
        preload: tuple[str, ...] = POOL_PRELOAD,
        env: dict[str, str] | None = None,
    ) -> None:
        self.cwd = cwd
        self.env = env or kernel_env()
        self.size = size
        self.preload = preload
        self._ready: list[Kernel] = []
        self._starting = 0
        self._closed = False
        self._lock = threading.Lock()
        self._generation = 0
        self._threads: list[threading.Thread] = []
        self.forks: ForkServer | None = ForkServer(cwd, self.env) if fork_enabled() else None
        self.fill()

    def fill(self) -> None:
        """Start kernels in the background until ``size`` are ready or starting."""
        with self._lock:
            missing = self.size - len(self._ready) - self._starting
            if self._closed or missing <= 0:
                return
            self._starting += missing
            generation = self._generation
        for _ in range(missing):
            thread = threading.Thread(target=self._start_one, args=(generation,), daemon=True)
            thread.start()
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]

    def _start_one(self, generation: int) -> None:
        kernel: Kernel | None = None
        try:
            kernel = Kernel(self.cwd, forks=self.forks, env=self.env)
            kernel.preload(self.preload)
        except Exception:  # noqa: BLE001 - a render starts its own kernel instead
            kernel = None
        with self._lock:
            self._starting -= 1
            keep = kernel is not None and not self._closed and generation == self._generation
            if keep:
                self._ready.append(kernel)  # type: ignore[arg-type]
        if kernel is not None and not keep:
            kernel.shutdown()

    def take(self, cwd: Path, pid_sink: Callable[[int], None] | None = None) -> Kernel:
        """A ready kernel for ``cwd`` (its pid given to ``pid_sink``), else a new one."""
        kernel = None
        with self._lock:
            if cwd == self.cwd and self._ready:
                kernel = self._ready.pop(0)
        if kernel is None:
            forks = self.forks if cwd == self.cwd else None
            return Kernel(cwd, pid_sink=pid_sink, forks=forks, env=self.env)
        if pid_sink is not None and kernel.pid:
            pid_sink(kernel.pid)
        return kernel  # the owner calls fill() once the render is done (CPU is scarce)

    def ready(self) -> int:
        """How many kernels are waiting."""
        with self._lock:
            return len(self._ready)

    def flush(self) -> None:
        """Shut the waiting kernels down and start fresh ones (the package changed)."""
        with self._lock:
            old, self._ready = self._ready, []
            self._generation += 1
            zygote, self.forks = self.forks, None
        for kernel in old:
            kernel.shutdown()
        if zygote is not None:  # between renders: no kernel of it is running a notebook
            zygote.close()
            self.forks = ForkServer(self.cwd, self.env)
        self.fill()

    def close(self, timeout: float = 60.0) -> None:
        """Shut every waiting kernel down, and those still starting once they are up."""
        with self._lock:
            self._closed = True
            old, self._ready = self._ready, []
        for kernel in old:
            kernel.shutdown()
        for thread in list(self._threads):
            thread.join(timeout)
        if self.forks is not None:
            self.forks.close()

    def pids(self) -> list[int]:
        """Process ids of the waiting kernels and of the zygote."""
        with self._lock:
            zygote = [self.forks.pid] if self.forks is not None else []
            return [k.pid for k in self._ready if k.pid] + zygote

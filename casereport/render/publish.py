"""Staging, locking and atomic publication of the build.

A render writes everything into ``build/.staging-render/`` and publishes only when every
step succeeded:

1. ``build/notebooks/``, ``build/cases/`` and ``figures/`` are swapped with their staged
   versions in one step each (Linux ``renameat2(RENAME_EXCHANGE)``; elsewhere two renames);
2. ``manifest.json``, ``article.jats.xml``, ``article.pdf`` and ``article.html`` are moved in
   with ``os.replace``.

Each step is atomic, so a render killed at any moment (even SIGKILL) leaves every published
file and folder whole: old, or new. The next render takes the lock, stops kernels left by
the killed one, removes the stale staging folder and, finding everything cached, publishes
again. Only one render may use a build folder at a time (``build/.lock``, ``flock``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import os
import shutil
import signal
from pathlib import Path
from typing import IO

from casereport.errors import RenderError

STAGING_NAME = ".staging-render"
_PIDS_NAME = ".kernel-pids"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


class BuildLock:
    """Exclusive lock on a build folder for the duration of a render (released on death)."""

    def __init__(self, build_dir: Path) -> None:
        self.path = build_dir / ".lock"
        self._fh: IO[str] | None = None

    def __enter__(self) -> BuildLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")  # noqa: SIM115 - held until __exit__
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise RenderError(
                self.path.parent, "another render is using this build folder"
            ) from None
        self._fh = fh
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def record_kernel_pid(build_dir: Path, pid: int) -> None:
    """Remember a kernel's process id until the render ends (see :func:`stop_orphans`)."""
    with open(build_dir / _PIDS_NAME, "a") as fh:
        fh.write(f"{pid}\n")


def stop_orphans(build_dir: Path) -> None:
    """Kill kernels that a killed render left running (they would write into staging)."""
    pids_file = build_dir / _PIDS_NAME
    try:
        pids = [int(x) for x in pids_file.read_text().split()]
    except (OSError, ValueError):
        pids = []
    for pid in pids:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"ipykernel" in cmdline:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    pids_file.unlink(missing_ok=True)


def fresh_stage(build_dir: Path) -> Path:
    """Remove what a killed render left behind and return an empty staging folder."""
    stop_orphans(build_dir)
    for stale in build_dir.glob(".staging-*"):
        shutil.rmtree(stale, ignore_errors=True)
    for stale in build_dir.glob(".old-*"):
        shutil.rmtree(stale, ignore_errors=True)
    stage = build_dir / STAGING_NAME
    stage.mkdir(parents=True)
    return stage


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically; ``False`` when the system cannot."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(a))


def swap_dir(new: Path, dst: Path) -> None:
    """Put folder ``new`` at ``dst``; afterwards ``new`` holds the previous ``dst`` (if any).

    On the same file system this is one atomic exchange; otherwise ``new`` is first copied
    next to ``dst``. Without ``renameat2`` it falls back to two renames.
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.exists():
        _move(new, dst)
        return
    src = new
    if not _same_device(new, dst.parent):
        src = dst.parent / f".{dst.name}{STAGING_NAME}"
        shutil.rmtree(src, ignore_errors=True)
        shutil.copytree(new, src)
    if not _exchange(src, dst):
        old = dst.parent / f".old-{dst.name}-{os.getpid()}"
        os.replace(dst, old)
        os.replace(src, dst)
        if src == new:
            os.replace(old, src)
        else:
            shutil.rmtree(old, ignore_errors=True)
    if src != new:
        shutil.rmtree(src, ignore_errors=True)


def _same_device(a: Path, b: Path) -> bool:
    return os.stat(a).st_dev == os.stat(b).st_dev


def _move(src: Path, dst: Path) -> None:
    try:
        os.replace(src, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        tmp = dst.parent / f".{dst.name}{STAGING_NAME}"
        if src.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(src, tmp)
        else:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)


def publish(
    stage: Path, build_dir: Path, figures_dir: Path, *, keep_in_figures: tuple[str, ...]
) -> None:
    """Move the staged build into place (see the module docstring for the order).

    Files in the current ``figures/`` named in ``keep_in_figures`` (e.g. a README) are kept.
    """
    for sub in ("notebooks", "cases"):
        if (stage / sub).is_dir():
            swap_dir(stage / sub, build_dir / sub)
    staged_figures = stage / "figures"
    if staged_figures.is_dir() and any(staged_figures.iterdir()):
        for name in keep_in_figures:
            src = figures_dir / name
            if src.is_file() and not (staged_figures / name).exists():
                shutil.copy2(src, staged_figures / name)
        swap_dir(staged_figures, figures_dir)
    for name in ("manifest.json", "article.jats.xml", "article.pdf", "article.html"):
        if (stage / name).is_file():
            _move(stage / name, build_dir / name)


def clean(build_dir: Path, *, keep_cache: bool = False) -> list[Path]:
    """Remove the build outputs (and the cache unless ``keep_cache``); return what went."""
    removed: list[Path] = []
    if not build_dir.is_dir():
        return removed
    with BuildLock(build_dir):
        stop_orphans(build_dir)
        for p in sorted(build_dir.iterdir()):
            if p.name == ".lock" or (keep_cache and p.name == "cache"):
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p)
    if not keep_cache:
        (build_dir / ".lock").unlink(missing_ok=True)
        try:
            build_dir.rmdir()
        except OSError:
            pass
    return removed

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
    """Exclusive lock on a build folder for the duration of a render (released on death).

    With ``lock_file`` another file is locked instead (see :func:`figures_lock`).
    """

    def __init__(self, build_dir: Path, lock_file: Path | None = None) -> None:
        self.path = lock_file or build_dir / ".lock"
        self._fh: IO[str] | None = None

    def __enter__(self) -> BuildLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")  # noqa: SIM115 - held until __exit__
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            what = "build folder" if self.path.name == ".lock" else "figures folder"
            raise RenderError(self.path.parent, f"another render is using this {what}") from None
        self._fh = fh
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def figures_lock(figures_dir: Path) -> BuildLock:
    """The lock of a figures folder: a hidden file beside it (inside, it would be swapped
    away with the folder), so renders with different build folders never publish
    figures at the same time."""
    return BuildLock(figures_dir, figures_dir.parent / f".{figures_dir.name}.lock")


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


def _ready_beside(src: Path, dst: Path) -> Path:
    """``src`` moved (or copied, across file systems) to a hidden name next to ``dst``.

    Writing there first fails early, before anything is published, when ``dst``'s folder
    is read-only or full; the final step is then a rename in one folder.
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    ready = dst.parent / f".{dst.name}{STAGING_NAME}"
    if ready.is_dir():
        shutil.rmtree(ready)
    elif ready.exists():
        ready.unlink()
    _move(src, ready)
    return ready


def _put(ready: Path, dst: Path) -> bool:
    """Put ``ready`` at ``dst`` (same folder); True when ``ready`` now holds the old ``dst``."""
    if dst.exists() and _exchange(ready, dst):
        return True
    if dst.exists():
        old = dst.parent / f".old-{dst.name}-{os.getpid()}"
        os.replace(dst, old)
        try:
            os.replace(ready, dst)
        except OSError:
            os.replace(old, dst)
            raise
        os.replace(old, ready)
        return True
    os.replace(ready, dst)
    return False


def _take_back(ready: Path, dst: Path, held_old: bool) -> None:
    """Undo :func:`_put` (best effort, during a failed publication)."""
    try:
        if held_old:
            _put(ready, dst)
        elif dst.is_dir():
            shutil.rmtree(dst)
        elif dst.exists():
            dst.unlink()
    except OSError:
        pass


def publish(
    stage: Path, build_dir: Path, figures_dir: Path, *, keep_in_figures: tuple[str, ...]
) -> None:
    """Move the staged build into place: every output or none.

    First every staged output is moved next to its destination under a hidden name
    (``build/notebooks``, ``build/cases``, ``figures/``, ``manifest.json``, the article
    files): a read-only or full location fails here, before anything is published. Then
    each is put in place by a rename in its own folder (folders exchanged atomically);
    should one of those fail, the ones already put in place are put back.

    Files in the current ``figures/`` named in ``keep_in_figures`` (e.g. a README) are kept.

    Raises:
        OSError: a destination cannot be written (nothing published).
    """
    pairs: list[tuple[Path, Path]] = []
    for sub in ("notebooks", "cases"):
        if (stage / sub).is_dir():
            pairs.append((stage / sub, build_dir / sub))
    staged_figures = stage / "figures"
    if staged_figures.is_dir() and any(staged_figures.iterdir()):
        for name in keep_in_figures:
            src = figures_dir / name
            if src.is_file() and not (staged_figures / name).exists():
                shutil.copy2(src, staged_figures / name)
        pairs.append((staged_figures, figures_dir))
    for name in ("manifest.json", "article.jats.xml", "article.pdf", "article.html"):
        if (stage / name).is_file():
            pairs.append((stage / name, build_dir / name))
    readied: list[tuple[Path, Path]] = []
    try:
        for src, dst in pairs:
            readied.append((_ready_beside(src, dst), dst))
    except OSError:
        for ready, _ in readied:
            shutil.rmtree(ready, ignore_errors=True) if ready.is_dir() else ready.unlink(True)
        raise
    done: list[tuple[Path, Path, bool]] = []
    try:
        for ready, dst in readied:
            done.append((ready, dst, _put(ready, dst)))
    except OSError:
        for ready, dst, held in reversed(done):
            _take_back(ready, dst, held)
        raise
    finally:
        for ready, _ in readied:  # the previous outputs, or leftovers of a failure
            if ready.is_dir():
                shutil.rmtree(ready, ignore_errors=True)
            elif ready.exists():
                ready.unlink()


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

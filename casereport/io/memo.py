"""Derived data computed once per render and shared by its kernels: a content-addressed cache.

Several notebook runs of one render repeat the same pure computations: every case run
loads and measures the normal control, the figure run loads every study and finds the
lesions the case runs find. When the environment variable ``CASEREPORT_DERIVED_CACHE``
names a folder (the render sets ``build/cache/derived``), the functions wrapped here
store their value there on first use and every later call, in any process, reads it back;
without the variable they compute as usual.

* **Key**: SHA-256 of the function's name, the digest of the ``casereport`` source
  (``*.py``), a canonical digest of the arguments (arrays by dtype, shape and bytes;
  dataclasses field by field) and, for :func:`cached_read`, the path and SHA-256 of every
  input file. File hashes are remembered by (size, mtime ns, inode), in this process and
  in ``<folder>/stat/``, so that no file is hashed twice.
* **Value**: a pickle in ``<folder>/<package>/<key[:2]>/<key>.pkl`` (read-only arrays stay
  read-only), written to a temporary file and renamed. A per-key lock makes a second
  process wait for the first instead of computing the same value at the same time.
* **Files read**: the files :func:`casereport.io.record_read` saw during the computation
  are stored with their SHA-256; a hit checks them and records them as read again, so the
  render's dependency tracking stays exact.
* **Log**: ``<folder>/log.txt`` gets one line per lookup (``hit|miss NAME KEY``);
  :func:`stats` counts them in this process.

Values are bit-identical to computing them (pickle keeps every byte of every array).
"""

from __future__ import annotations

import dataclasses
import enum
import fcntl
import functools
import hashlib
import io
import json
import os
import pickle
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from casereport.fileio import FileStamp, file_stamp
from casereport.io.record import capture_reads, record_read, split_facet

#: environment variable naming the cache folder (unset: compute as usual)
ENV = "CASEREPORT_DERIVED_CACHE"
_PACKAGE = Path(__file__).resolve().parents[1]
_FORMAT = 1
_LOCK = threading.Lock()
_STATS = {"hit": 0, "miss": 0}
_MEMORY: dict[str, tuple[Any, tuple[str, ...]]] = {}  # key -> (value, files read)
_MEMORY_SIZE = 256
_STAT: dict[str, tuple[FileStamp, str]] = {}  # path -> (stamp, SHA-256)
_DIGESTS: dict[int, tuple[weakref.ref[Any], str]] = {}

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def cache_dir() -> Path | None:
    """The cache folder named by ``CASEREPORT_DERIVED_CACHE``, or None (unset, or ``0``)."""
    value = os.environ.get(ENV, "")
    return Path(value) if value and value != "0" else None


def stats() -> dict[str, int]:
    """Lookups of this process: ``{"hit": n, "miss": n}``."""
    with _LOCK:
        return dict(_STATS)


@functools.lru_cache(maxsize=1)
def package_digest() -> str:
    """SHA-256 over the path and bytes of every ``*.py`` file of the package."""
    h = hashlib.sha256()
    for p in sorted(_PACKAGE.rglob("*.py")):
        if "__pycache__" in p.parts:
            continue
        h.update(p.relative_to(_PACKAGE).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


# ------------------------------------------------------------------------------ hashing
def file_sha256(path: Path, folder: Path | None = None) -> str | None:
    """SHA-256 of ``path`` (None if missing), remembered by its stamp (size, mtime ns, inode)."""
    stamp = file_stamp(path)
    if stamp is None:
        return None
    key = os.path.abspath(path)
    known = _STAT.get(key)
    if known is not None and known[0] == stamp:
        return known[1]
    shared = None
    if folder is not None:
        shared = folder / "stat" / (hashlib.sha1(key.encode()).hexdigest() + ".json")
        try:
            size, mtime, ino, sha = json.loads(shared.read_text())
            if FileStamp(size, mtime, ino) == stamp:
                _STAT[key] = (stamp, str(sha))
                return str(sha)
        except (OSError, ValueError, TypeError):
            pass
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    sha = h.hexdigest()
    _STAT[key] = (stamp, sha)
    if shared is not None:
        _write_atomic(shared, json.dumps([*stamp.as_list(), sha]).encode())
    return sha


def _entry_sha256(entry: str, folder: Path) -> str | None:
    """SHA-256 of the file of a record entry (``path`` or ``path#facet``: the whole file)."""
    return file_sha256(Path(split_facet(entry)[0]), folder)


def _update(h: Any, obj: Any) -> None:
    import numpy as np

    if obj is None or isinstance(obj, bool | int | float | str | bytes):
        h.update(f"{type(obj).__name__}:{obj!r};".encode())
    elif isinstance(obj, Path):
        h.update(f"path:{obj.as_posix()};".encode())
    elif isinstance(obj, enum.Enum):
        h.update(f"enum:{type(obj).__qualname__}.{obj.name};".encode())
    elif isinstance(obj, np.ndarray | np.generic) or dataclasses.is_dataclass(obj):
        h.update(f"obj:{digest_value(obj)};".encode())
    elif isinstance(obj, tuple | list):
        h.update(f"{type(obj).__name__}[{len(obj)}](".encode())
        for item in obj:
            _update(h, item)
        h.update(b")")
    elif isinstance(obj, dict):
        h.update(f"dict[{len(obj)}](".encode())
        for k in sorted(obj, key=repr):
            _update(h, k)
            _update(h, obj[k])
        h.update(b")")
    elif isinstance(obj, frozenset | set):
        _update(h, sorted(obj, key=repr))
    else:
        raise TypeError(f"no content digest for {type(obj).__name__}")


def digest_value(obj: Any) -> str:
    """Canonical SHA-256 of ``obj``: arrays by dtype, shape and bytes, dataclasses by
    class and fields, containers item by item (remembered per live array or dataclass)."""
    import numpy as np

    cacheable = (isinstance(obj, np.ndarray) and not obj.flags.writeable) or (
        dataclasses.is_dataclass(obj) and type(obj).__dataclass_params__.frozen  # type: ignore[union-attr]
    )
    if cacheable:
        with _LOCK:
            known = _DIGESTS.get(id(obj))
        if known is not None and known[0]() is obj:
            return known[1]
    h = hashlib.sha256()
    if isinstance(obj, np.ndarray | np.generic):
        arr = np.ascontiguousarray(obj)
        h.update(f"ndarray:{arr.dtype.str}:{arr.shape};".encode())
        h.update(arr.tobytes() if arr.dtype.hasobject is False else repr(arr).encode())
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        h.update(f"dataclass:{type(obj).__module__}.{type(obj).__qualname__}(".encode())
        for f in dataclasses.fields(obj):
            h.update(f"{f.name}=".encode())
            _update(h, getattr(obj, f.name))
        h.update(b")")
    else:
        _update(h, obj)
    sha = h.hexdigest()
    if cacheable:
        try:
            ref = weakref.ref(obj)
        except TypeError:
            return sha
        with _LOCK:
            _DIGESTS[id(obj)] = (ref, sha)
            if len(_DIGESTS) > 4096:
                for k in [k for k, (r, _) in _DIGESTS.items() if r() is None]:
                    del _DIGESTS[k]
    return sha


# ------------------------------------------------------------------------------ storage
def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


def _readonly_array(a: Any) -> Any:
    a.setflags(write=False)
    return a


class _Pickler(pickle.Pickler):
    """Pickles read-only arrays so that they load read-only (as the loader made them)."""

    def reducer_override(self, obj: Any) -> Any:
        import numpy as np

        if type(obj) is np.ndarray and not obj.flags.writeable:
            return _readonly_array, (obj.copy(),)
        return NotImplemented


def _dumps(entry: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    _Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(entry)
    return buf.getvalue()


def _log(folder: Path, event: str, name: str, key: str) -> None:
    with _LOCK:
        _STATS[event] += 1
    try:
        fd = os.open(folder / "log.txt", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, f"{event} {name} {key}\n".encode())
        finally:
            os.close(fd)
    except OSError:
        pass


class _KeyLock:
    """An exclusive ``flock`` on ``path`` (given up after ``timeout`` s: then no lock)."""

    def __init__(self, path: Path, timeout: float = 300.0) -> None:
        self.path, self.timeout = path, timeout
        self.fd: int | None = None

    def __enter__(self) -> _KeyLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return self
        end = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.fd = fd
                return self
            except OSError:
                if time.monotonic() > end:
                    os.close(fd)
                    return self
                time.sleep(0.01)

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def _load(path: Path, folder: Path) -> tuple[bool, Any, tuple[str, ...]]:
    """(True, value, files read) for a valid entry at ``path`` (its files read recorded)."""
    try:
        entry = pickle.loads(path.read_bytes())
    except Exception:  # noqa: BLE001 - a missing or damaged entry is (re)computed
        return False, None, ()
    if not isinstance(entry, dict) or entry.get("format") != _FORMAT:
        return False, None, ()
    read: dict[str, str] = entry["read"]
    if any(_entry_sha256(p, folder) != sha for p, sha in read.items()):
        return False, None, ()
    for p in read:
        record_read(p)
    return True, entry["value"], tuple(read)


def _remember_digest(obj: Any, sha: str) -> None:
    """Let :func:`digest_value` of ``obj`` (a frozen dataclass) be ``sha`` from now on."""
    if not (dataclasses.is_dataclass(obj) and type(obj).__dataclass_params__.frozen):  # type: ignore[union-attr]
        return
    try:
        ref = weakref.ref(obj)
    except TypeError:
        return
    with _LOCK:
        _DIGESTS[id(obj)] = (ref, sha)


def cached(
    name: str,
    compute: Callable[[], T],
    *,
    key: Any,
    files: Iterable[Path] = (),
    value_digest: bool = False,
) -> T:
    """``compute()``, through the cache when ``CASEREPORT_DERIVED_CACHE`` is set.

    Args:
        name: what is computed (part of the key; e.g. the function's qualified name).
        compute: the pure computation.
        key: its arguments (see :func:`digest_value`).
        files: input files whose content the value depends on (path and SHA-256 join
            the key; a missing file makes the call uncached).
        value_digest: the value (a frozen dataclass) is identified by this key from now
            on: :func:`digest_value` of it is derived from the key instead of hashing its
            arrays (a decoded study is a function of its files: the same key in every
            process gives the same digest, so values computed from it are shared alike).
    """
    folder = cache_dir()
    if folder is None:
        return compute()
    parts: list[Any] = [_FORMAT, name, package_digest(), digest_value(key)]
    for f in sorted({os.path.abspath(p) for p in files}):
        sha = file_sha256(Path(f), folder)
        if sha is None:
            return compute()
        parts.append((f, sha))
    digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()
    with _LOCK:
        known = _MEMORY.get(digest)
    if known is not None:
        for p in known[1]:
            record_read(p)
        value: T = known[0]
        if value_digest:
            _remember_digest(value, f"value-of:{digest}")
        return value
    path = folder / package_digest()[:16] / digest[:2] / f"{digest}.pkl"
    with _KeyLock(path.with_suffix(".lock")):
        found, value, files_read = _load(path, folder)
        if found:
            _log(folder, "hit", name, digest)
        else:
            with capture_reads() as seen:
                value = compute()
            read = {p: _entry_sha256(p, folder) for p in sorted(seen)}
            files_read = tuple(read)
            if all(sha is not None for sha in read.values()):  # else: not stored
                entry = {"format": _FORMAT, "name": name, "read": read, "value": value}
                try:
                    _write_atomic(path, _dumps(entry))
                except (pickle.PicklingError, TypeError, AttributeError):
                    pass
            _log(folder, "miss", name, digest)
    with _LOCK:
        if len(_MEMORY) >= _MEMORY_SIZE:
            _MEMORY.clear()
        _MEMORY[digest] = (value, files_read)
    if value_digest:
        _remember_digest(value, f"value-of:{digest}")
    return value


def derived(fn: F) -> F:
    """Decorate a pure function of content-hashable arguments to go through :func:`cached`."""
    name = f"{fn.__module__}.{fn.__qualname__}"

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if cache_dir() is None:
            return fn(*args, **kwargs)
        return cached(name, lambda: fn(*args, **kwargs), key=[list(args), kwargs])

    return wrapper  # type: ignore[return-value]


def prune(folder: Path) -> None:
    """Remove the entries of other package versions from ``folder`` (keeps the current)."""
    import shutil

    keep = package_digest()[:16]
    try:
        children = list(folder.iterdir())
    except OSError:
        return
    for child in children:
        if child.is_dir() and child.name not in (keep, "stat"):
            shutil.rmtree(child, ignore_errors=True)

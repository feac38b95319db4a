"""File helpers shared by every module: content hashes, stat stamps, folder listings and
atomic writes.

A leaf module like :mod:`casereport.errors`: it imports nothing from the package.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of the file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def write_atomic(path: str | Path, data: bytes, *, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and
    ``os.replace``: readers see the old file or the new one, never a partial one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


#: Bytes read to tell a text file (case file, README, notes) from a binary one.
_TEXT_HEAD = 4096


def is_text_file(path: str | Path) -> bool:
    """UTF-8 text without NUL bytes in its first 4 KB.

    Never DICOM: every DICOM data set starts with a group number below 0x0100, hence a
    NUL byte, within its first bytes. Unreadable files are not text.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(_TEXT_HEAD)
    except OSError:
        return False
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return len(head) == _TEXT_HEAD and exc.start >= len(head) - 3  # cut in a character
    return True


def relpath(path: str | Path, root: str | Path, *, dotted: bool = False) -> str:
    """``path`` relative to ``root`` (POSIX separators) when inside it; outside it, the
    absolute path, or with ``dotted`` a ``../`` path (never naming a user or a site).

    Symbolic links are resolved only when the plain absolute path is not inside ``root``,
    so outputs name files as the user wrote them and stay machine-independent.
    """
    plain, top = os.path.abspath(path), os.path.abspath(root)
    if plain == top:
        return "."
    prefix = top if top.endswith(os.sep) else top + os.sep
    if plain.startswith(prefix):  # the common case, without Path objects
        return plain[len(prefix) :].replace(os.sep, "/")
    absolute, base = Path(plain), Path(top)
    for p, r in ((absolute, base), (absolute.resolve(), base.resolve())):
        try:
            return p.relative_to(r).as_posix()
        except ValueError:
            continue
    if dotted:
        return Path(os.path.relpath(absolute.resolve(), base.resolve())).as_posix()
    return absolute.as_posix()


@dataclass(frozen=True, slots=True)
class FileStamp:
    """What tells that a file changed without reading it, as ``git`` does: its size
    (bytes), modification time (ns since the epoch) and inode number.

    A file rewritten within one nanosecond tick at the same size would keep its stamp; no
    file system used here is that coarse for files written by people or programs. A file
    replaced by another (``os.replace``, as editors and atomic writes do) gets a new inode.
    """

    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileStamp:
        """The stamp in a ``stat`` result."""
        return cls(st.st_size, st.st_mtime_ns, st.st_ino)

    def as_list(self) -> list[int]:
        """``[size, mtime_ns, inode]``, as stored in JSON."""
        return [self.size, self.mtime_ns, self.inode]


def file_stamp(path: str | Path) -> FileStamp | None:
    """The :class:`FileStamp` of ``path`` (symbolic links followed); ``None`` when it is
    missing, unreadable or a folder."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return None if stat.S_ISDIR(st.st_mode) else FileStamp.of(st)


#: folders of compiled Python, never listed
PYCACHE = "__pycache__"


def _walk(root: str) -> Iterator[os.DirEntry[str]]:
    """The entries of the regular files below the folder ``root``, in no set order, by the
    rules of :func:`files_below`."""
    try:
        top = os.stat(root)
    except OSError:
        return
    # each folder to list, with the (device, inode) of itself and of the folders above it
    stack = [(root, frozenset({(top.st_dev, top.st_ino)}))]
    while stack:
        folder, inside = stack.pop()
        try:
            entries = os.scandir(folder)
        except OSError:
            continue
        with entries:
            for e in entries:
                if e.name.startswith("."):
                    continue
                try:
                    if e.is_dir():
                        if e.name != PYCACHE:
                            st = e.stat()
                            if (st.st_dev, st.st_ino) not in inside:
                                stack.append((e.path, inside | {(st.st_dev, st.st_ino)}))
                    elif e.is_file():
                        yield e
                except OSError:
                    continue


def files_below(root: str | Path) -> list[Path]:
    """Every file below the folder ``root`` (``[root]`` when it is a file), in path order.

    The one listing of the project, for data, notebooks, package source and build outputs
    alike (:func:`file_stamps_below` lists the same files):

    * **hidden** entries are left out: a file or folder whose name starts with ``.``, at
      any depth below ``root`` (``root`` itself may be hidden or inside a hidden folder);
    * ``__pycache__`` folders are left out;
    * only **regular files** count, symbolic links to files included (listed by the
      link's path); broken links, sockets, FIFOs and devices do not;
    * **symbolic links to folders are followed** (a data folder, a subject or a study may
      be a link to a mounted share), but a link to a folder the listing is already inside
      (the same device and inode as the folder holding it or one above it, up to
      ``root``) is not entered again: a loop is listed once and never hangs. A folder
      reached by two different links is listed under both;
    * folders that cannot be read, and entries removed while listing, are skipped; a
      missing ``root`` lists nothing.

    Paths start with ``root`` as given (no link resolved) and are sorted as
    :class:`~pathlib.Path` objects sort (by their parts).
    """
    if os.path.isfile(root):
        return [Path(root)]
    return sorted(Path(e.path) for e in _walk(os.fspath(root)))


def file_stamps_below(root: str | Path) -> dict[str, FileStamp]:
    """The :class:`FileStamp` of every file :func:`files_below` lists, by path (as a
    string, starting with ``root`` as given); no file is read."""
    root = os.fspath(root)
    if os.path.isfile(root):
        stamp = file_stamp(root)
        return {} if stamp is None else {root: stamp}
    out: dict[str, FileStamp] = {}
    for e in _walk(root):
        try:
            out[e.path] = FileStamp.of(e.stat())
        except OSError:
            continue
    return out


class StatHasher:
    """SHA-256 of files, remembered by their :class:`FileStamp` (size, mtime ns, inode).

    The table lives in one JSON file (``table``; ``None``: in memory only); a file whose
    stamp changed is hashed again.
    """

    def __init__(self, table: Path | None = None) -> None:
        self.table = table
        self._known: dict[str, list[Any]] = {}
        self._dirty = False
        if table is not None and table.is_file():
            try:
                self._known = json.loads(table.read_text())
            except (OSError, ValueError):
                self._known = {}

    def sha256(self, path: str | Path) -> str:
        """Hex SHA-256 of ``path`` (raises OSError when it cannot be read)."""
        key = os.path.abspath(path)
        stamp = FileStamp.of(os.stat(key)).as_list()
        known = self._known.get(key)
        if known is not None and known[:3] == stamp:
            return str(known[3])
        digest = sha256_file(key)
        self._known[key] = [*stamp, digest]
        self._dirty = True
        return digest

    def save(self) -> None:
        """Write the table back (atomically) when something new was hashed."""
        if self.table is None or not self._dirty:
            return
        tmp = self.table.with_name(f".{self.table.name}.{os.getpid()}")
        try:
            self.table.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(self._known, sort_keys=True))
            os.replace(tmp, self.table)
        except OSError:
            # a cache only: a full or read-only disk must not hide the caller's own error
            tmp.unlink(missing_ok=True)
            return
        self._dirty = False

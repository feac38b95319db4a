"""Content hashes for the render cache: files (with a stat cache), the package, versions."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import casereport
from casereport.fileio import StatHasher, file_stamp, files_below, sha256_file  # noqa: F401

#: distributions whose version can change what a notebook computes or how it is rendered
KEY_DEPENDENCIES = (
    "numpy",
    "scipy",
    "matplotlib",
    "pydicom",
    "pylibjpeg",
    "pylibjpeg-openjpeg",
    "pylibjpeg-libjpeg",
    "pillow",
    "pyyaml",
    "papermill",
    "nbclient",
    "nbconvert",
    "nbformat",
    "ipykernel",
    "weasyprint",
)


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def digest_json(value: Any) -> str:
    """Hex SHA-256 of ``value`` as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return sha256_bytes(text.encode())


class FileHasher(StatHasher):
    """:class:`casereport.fileio.StatHasher` plus the render's recorded inputs: missing
    files and case-file facets (``build/cache/stat.json``)."""

    def maybe(self, path: Path) -> str | None:
        """Like :meth:`sha256` but ``None`` for a missing or unreadable file."""
        try:
            return self.sha256(path)
        except OSError:
            return None

    def input_digest(self, entry: Path) -> str | None:
        """Digest of a recorded input: a file's SHA-256, or for ``<case file>#<facet>``
        the digest of that facet (:func:`casereport.case.facets.facet_digests`, remembered
        by the file's stamp like a file hash). ``None``: missing, unreadable, or a facet
        the file no longer has valid."""
        from casereport.record import split_facet

        path, facet = split_facet(entry)
        if facet is None or os.path.isfile(entry):
            return self.maybe(entry)
        key = os.path.abspath(path)
        found_stamp = file_stamp(key)
        if found_stamp is None:
            return None
        stamp = found_stamp.as_list()
        known = self._known.get(f"{key}#{facet}")
        if known is not None and known[:3] == stamp:
            return str(known[3]) or None
        from casereport.case.facets import facet_digests

        found = facet_digests(key) or {}
        for name, digest in found.items():
            self._known[f"{key}#{name}"] = [*stamp, digest]
        self._known.setdefault(f"{key}#{facet}", [*stamp, ""])
        if facet not in found:
            self._known[f"{key}#{facet}"] = [*stamp, ""]
        self._dirty = True
        return found.get(facet)


def package_digest(root: Path, hasher: FileHasher) -> str:
    """Digest of the casereport package source (code, templates, CSS) and ``matplotlibrc``.

    The project's ``matplotlibrc`` is read by every kernel (they run in the project root),
    so it changes figures just as the code does.
    """
    pkg = Path(casereport.__file__).resolve().parent
    files = [p for p in files_below(pkg) if p.suffix != ".pyc"]
    parts = [[p.relative_to(pkg).as_posix(), hasher.sha256(p)] for p in files]
    rc = root / "matplotlibrc"
    if rc.is_file():
        parts.append(["<root>/matplotlibrc", hasher.sha256(rc)])
    return digest_json(parts)


def dependency_versions() -> dict[str, str]:
    """Installed versions of the key dependencies, and the Python version."""
    return dict(_versions())


@functools.lru_cache(maxsize=1)
def _versions() -> tuple[tuple[str, str], ...]:
    """Looked up once per process (each lookup scans ``sys.path``: ~20 ms a package)."""
    out = {"python": platform.python_version()}
    for name in KEY_DEPENDENCIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return tuple(out.items())

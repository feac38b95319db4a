"""A cache of Figure 1's parts inside the figure run (``build/cache/panels`` in a render).

:func:`casereport.figure.write_figure1` given ``panel_cache=FOLDER`` stores, per panel,
what is costly to make and depends on that panel alone: the image checks passed, the
panel's own PNG (``panels/<id>.png``) and its sidecar data apart from the alt text. The
composite's four files and Supplementary Figure S1 are stored too, keyed by what they are
drawn from. An arrow moved on one panel then checks and draws that panel only, composes
Figure 1 again and reuses the other panels' files; an alt-text edit rewrites the sidecars
only. Outputs are byte for byte those of a run without the cache (the cached bytes are
what the same functions wrote).

Keys (SHA-256 of canonical JSON):

* a panel: the panel's declaration as validated (kind, study, window, views, plane,
  crop, overlay... with display overrides applied; not its caption or alt text), its
  annotations, the owning case and case file, the bytes of every file below its study
  paths (SHA-256, remembered by size, mtime and inode in ``stat.json``), and the
  :func:`salt`: package source, ``matplotlibrc`` in use, library versions;
* Figure 1: the keys of its panels and the salt;
* Figure S1: each subject's case id, role, whole-body study (path and how it is read)
  and that study's bytes, the salt (not the panels: a window or crop edit, display
  overrides included, reuses it).

A hit records, in :mod:`casereport.record`, the files the panel's loading recorded
when it was drawn, so the render's record of the figure run is the same as without the
cache. Entries are written to a temporary folder and renamed; the least recently used
beyond :data:`KEEP` per kind are removed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from casereport.case import CaseSpec, PanelSpec
from casereport.fileio import StatHasher, files_below, relpath

#: entries kept per kind (the least recently used beyond are removed)
KEEP = {"panel": 256, "figure1": 8, "figureS1": 8}


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def study_paths(panel: PanelSpec) -> tuple[Path, ...]:
    """Every file or folder a panel's studies are read from."""
    paths = [panel.study, *(p for _, p in panel.source.view_files)]
    if panel.overlay is not None:
        paths.append(panel.overlay)
    return tuple(dict.fromkeys(Path(p) for p in paths))


@functools.lru_cache(maxsize=1)
def _versions() -> tuple[tuple[str, str], ...]:
    """Versions of the libraries that can change a panel's pixels or a file's bytes."""
    import matplotlib
    import numpy
    import PIL
    import pydicom
    import scipy

    modules = {"numpy": numpy, "scipy": scipy, "matplotlib": matplotlib, "PIL": PIL}
    out = [("python", sys.version.split()[0])]
    out += [(name, str(m.__version__)) for name, m in {**modules, "pydicom": pydicom}.items()]
    return tuple(out)


@dataclass(frozen=True)
class Entry:
    """A stored panel (or composite, or S1): its folder and ``info.json``."""

    path: Path
    key: str
    info: dict[str, Any]

    def read(self, name: str) -> bytes:
        return (self.path / name).read_bytes()


@dataclass
class PanelCache:
    """The cache folder of one figure run; ``root``: project root (paths are stored
    relative to it). ``redrawn`` lists what this run computed (not reused), in order."""

    folder: Path
    root: Path
    redrawn: list[str] = field(default_factory=list)
    hasher: StatHasher = field(init=False)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        self.hasher = StatHasher(self.folder / "stat.json")

    # ------------------------------------------------------------------ hashing
    def sha256(self, path: Path) -> str:
        """SHA-256 of a file, remembered by (size, mtime ns, inode)."""
        return self.hasher.sha256(path)

    def files_digest(self, paths: Iterable[Path]) -> list[list[str]]:
        """(path relative to the root, SHA-256) of every file below ``paths``."""
        return [[relpath(f, self.root), self.sha256(f)] for p in paths for f in files_below(p)]

    @functools.cached_property
    def salt(self) -> str:
        """Package source, the ``matplotlibrc`` in use and library versions."""
        import matplotlib

        import casereport

        pkg = Path(casereport.__file__).resolve().parent
        files = [p for p in files_below(pkg) if p.suffix != ".pyc"]
        parts = [[p.relative_to(pkg).as_posix(), self.sha256(p)] for p in files]
        rc = Path(matplotlib.matplotlib_fname())
        parts.append(["<matplotlibrc>", self.sha256(rc) if rc.is_file() else ""])
        return _digest({"package": parts, "versions": _versions()})

    # ------------------------------------------------------------------ keys
    def panel_key(self, spec: CaseSpec, panel: PanelSpec) -> str:
        """Key of one panel (reads its annotations: recorded as read)."""
        return _digest(
            {
                "kind": "panel",
                "case": spec.case_id,
                "case_file": relpath(spec.path, self.root),
                "panel": repr(panel),  # no caption, alt text or case file (repr=False)
                "annotations": repr(spec.annotations_for(panel.panel_id)),
                "files": self.files_digest(study_paths(panel)),
                "salt": self.salt,
            }
        )

    def figure1_key(self, panel_keys: Mapping[str, str], **extra: Any) -> str:
        return _digest({"kind": "figure1", "panels": dict(panel_keys), "salt": self.salt, **extra})

    def s1_key(self, specs: Iterable[CaseSpec]) -> str:
        """Key of Figure S1: what it is drawn from, per subject in order (case id, role,
        whole-body study and how it is read, the study's bytes). Panels, windows, display
        overrides, captions and annotations are not part of it: S1 shows none of them."""
        subjects = [
            [
                s.case_id,
                s.role.value,
                relpath(s.studies.whole_body, self.root) if s.studies.whole_body else None,
                repr(s.studies.source("whole_body")),
                self.files_digest([s.studies.whole_body] if s.studies.whole_body else []),
            ]
            for s in specs
        ]
        return _digest({"kind": "figureS1", "subjects": subjects, "salt": self.salt})

    # ------------------------------------------------------------------ entries
    def lookup(self, kind: str, key: str) -> Entry | None:
        """The stored entry, its recorded files noted as read again; None when absent."""
        path = self.folder / kind / key
        try:
            info = json.loads((path / "info.json").read_text())
        except (OSError, ValueError):
            return None
        if not all((path / name).is_file() for name in info.get("files_written", [])):
            return None
        from casereport.record import record_read

        for rel in info.get("read", []):
            record_read(self.root / rel)
        os.utime(path / "info.json")  # recently used: kept by prune()
        return Entry(path, key, info)

    def prune(self, kind: str) -> None:
        """Remove the least recently used entries of ``kind`` beyond :data:`KEEP`."""
        base = self.folder / kind
        entries = [p for p in base.iterdir() if not p.name.startswith(".")]
        if len(entries) <= KEEP.get(kind, 256):
            return

        def used(p: Path) -> int:
            try:
                return (p / "info.json").stat().st_mtime_ns
            except OSError:
                return 0

        for old in sorted(entries, key=used)[: len(entries) - KEEP.get(kind, 256)]:
            shutil.rmtree(old, ignore_errors=True)

    def store(
        self,
        kind: str,
        key: str,
        name: str,
        files: Mapping[str, bytes],
        info: Mapping[str, Any],
        read_below: Iterable[Path] = (),
    ) -> Entry:
        """Store ``files`` and ``info`` under ``key``; ``read_below``: the study paths whose
        files this process recorded as read (kept, to be recorded again on a hit)."""
        from casereport.record import files_read

        roots = [os.path.abspath(p) for p in read_below]
        read = sorted(
            relpath(p, self.root)
            for p in files_read()
            if any(str(p) == r or str(p).startswith(r + os.sep) for r in roots)
        )
        full = {**info, "files_written": sorted(files), "read": read}
        base = self.folder / kind
        base.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=base))
        for n, data in files.items():
            (tmp / n).write_bytes(data)
        (tmp / "info.json").write_text(json.dumps(full, sort_keys=True, indent=1))
        final = base / key
        if final.exists():
            shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        self.redrawn.append(name)
        self.prune(kind)
        return Entry(final, key, full)

    def save(self) -> None:
        """Write the file-hash table back (atomically) and ``last-run.json``: what this
        run computed (``redrawn``), for the render's manifest."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.hasher.save()
        tmp = self.folder / f".last-run.json.{os.getpid()}"
        tmp.write_text(json.dumps({"redrawn": self.redrawn}))
        os.replace(tmp, self.folder / LAST_RUN)


#: what the last figure run computed, read by the render into the manifest
LAST_RUN = "last-run.json"


__all__ = ["LAST_RUN", "Entry", "PanelCache", "study_paths"]

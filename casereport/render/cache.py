"""Content-addressed cache of notebook runs and exports under ``build/cache/``.

Layout::

    cache/runs/<static key>/<entry>/meta.json     inputs read (path -> sha256), folder listings,
                                                  values of facets shown verbatim
                                    notebook.ipynb the executed, scrubbed notebook
                                    outputs/       what the run wrote (its output_dir / figures)
    cache/exports/<key>/article.html, article.pdf
    cache/params/<notebook sha256>.json           declared parameters of a notebook
    cache/stat.json                               file hashes by (size, mtime, inode)

The *static key* covers what is known before running: notebook bytes, parameters, package
source, dependency versions (and for the article, every case output). The inputs a run
reads are only known afterwards (recorded in ``inputs.json``), so one static key may hold
several entries; an entry is reused when every recorded input still has its hash and the
watched folders hold the same files. An input is a file (its SHA-256) or a facet of a
case file (``data/A/case.yaml#panels.A1.caption``: the digest of that part, see
:mod:`casereport.case.facets`). An entry may also hold the values of facets its notebook
shows verbatim (``meta.json`` ``values``), so that an edit of one is spliced into the
stored run instead of executing it (:meth:`RunCache.lookup_near`,
:func:`casereport.render.prose.splice_facets`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from casereport.fileio import files_below, relpath
from casereport.render.hashing import FileHasher, digest_json


@dataclass(frozen=True)
class CacheEntry:
    """A stored run: folder holding ``notebook.ipynb``, ``outputs/`` and ``meta.json``."""

    path: Path
    meta: dict[str, Any]

    @property
    def notebook(self) -> Path:
        return self.path / "notebook.ipynb"

    @property
    def outputs(self) -> Path:
        return self.path / "outputs"


def folder_listing(folder: Path, root: Path) -> list[str]:
    """Files below ``folder`` relative to ``root`` (sorted; hidden ones skipped)."""
    return [relpath(p, root) for p in files_below(folder)]


def _copy_tree(src: Path, dst: Path) -> None:
    if src.is_dir():
        shutil.copytree(src, dst, dirs_exist_ok=True)
    else:
        dst.mkdir(parents=True, exist_ok=True)


class RunCache:
    """Lookup and storage of runs and exports in ``folder`` (normally ``build/cache``)."""

    def __init__(self, folder: Path, root: Path, hasher: FileHasher) -> None:
        self.folder = folder
        self.root = root
        self.hasher = hasher

    # ------------------------------------------------------------------ runs
    def lookup(self, static_key: str) -> CacheEntry | None:
        """A stored entry for ``static_key`` whose recorded inputs are all unchanged."""
        for entry, meta in self._entries(static_key):
            if self._still_valid(meta):
                return CacheEntry(entry, meta)
        return None

    def _entries(self, static_key: str) -> Iterator[tuple[Path, dict[str, Any]]]:
        """Each stored entry of ``static_key`` (oldest name first) with its readable meta."""
        base = self.folder / "runs" / static_key
        if not base.is_dir():
            return
        for entry in sorted(p for p in base.iterdir() if not p.name.startswith(".")):
            try:
                meta = json.loads((entry / "meta.json").read_text())
            except (OSError, ValueError):
                continue
            yield entry, meta

    def lookup_near(
        self, static_key: str, spliceable: Callable[[str], bool]
    ) -> tuple[CacheEntry, list[str]] | None:
        """A stored entry for ``static_key`` whose recorded inputs are unchanged except
        some that ``spliceable`` accepts and whose recorded value the entry holds
        (``meta["values"]``); the entry and those changed inputs. ``None`` when there is
        none (or an entry is wholly valid: :meth:`lookup` finds it)."""
        for entry, meta in self._entries(static_key):
            values = meta.get("values", {})
            changed = self._changed(meta)
            if changed and all(rel in values and spliceable(rel) for rel in changed):
                return CacheEntry(entry, meta), changed
        return None

    def _changed(self, meta: dict[str, Any]) -> list[str] | None:
        """Recorded inputs whose digest changed; ``None`` when a listing changed."""
        for rel, listing in meta.get("listings", {}).items():
            if folder_listing(self.root / rel, self.root) != listing:
                return None
        return [
            rel
            for rel, sha in meta.get("inputs", {}).items()
            if self.hasher.input_digest(self.root / rel) != sha
        ]

    def _still_valid(self, meta: dict[str, Any]) -> bool:
        for rel, sha in meta.get("inputs", {}).items():
            if self.hasher.input_digest(self.root / rel) != sha:
                return False
        for rel, listing in meta.get("listings", {}).items():
            if folder_listing(self.root / rel, self.root) != listing:
                return False
        return True

    def store(
        self,
        static_key: str,
        notebook: Path,
        outputs: Path | None,
        inputs: dict[str, str],
        listings: dict[str, list[str]],
        extra: dict[str, Any] | None = None,
    ) -> CacheEntry:
        """Copy a finished run into the cache (atomically: a temporary folder renamed)."""
        meta = {"inputs": inputs, "listings": listings, **(extra or {})}
        name = digest_json({"inputs": inputs, "listings": listings})[:32]
        base = self.folder / "runs" / static_key
        base.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=base))
        shutil.copyfile(notebook, tmp / "notebook.ipynb")
        if outputs is not None:
            _copy_tree(outputs, tmp / "outputs")
        else:
            (tmp / "outputs").mkdir()
        (tmp / "meta.json").write_text(json.dumps(meta, sort_keys=True, indent=1))
        final = base / name
        if final.exists():
            shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        return CacheEntry(final, meta)

    @staticmethod
    def restore(entry: CacheEntry, notebook: Path, outputs: Path | None) -> None:
        """Copy a cached run's notebook and outputs to where a fresh run would write them."""
        notebook.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(entry.notebook, notebook)
        if outputs is not None:
            if outputs.exists():
                shutil.rmtree(outputs)
            _copy_tree(entry.outputs, outputs)

    # ------------------------------------------------------------------ exports
    def export_entry(self, key: str) -> Path:
        return self.folder / "exports" / key

    def lookup_export(self, key: str, names: tuple[str, ...]) -> Path | None:
        entry = self.export_entry(key)
        return entry if all((entry / n).is_file() for n in names) else None

    def store_export(self, key: str, files: list[Path]) -> None:
        entry = self.export_entry(key)
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=entry.parent))
        for f in files:
            shutil.copyfile(f, tmp / f.name)
        if entry.exists():
            shutil.rmtree(entry, ignore_errors=True)
        os.replace(tmp, entry)

    # ------------------------------------------------------------------ declared parameters
    def declared(self, notebook: Path) -> dict[str, dict[str, Any]]:
        """The notebook's declared parameters, remembered by the notebook's hash."""
        from casereport.render.params import declared_parameters

        sha = self.hasher.sha256(notebook)
        memo = self.folder / "params" / f"{sha}.json"
        try:
            return dict(json.loads(memo.read_text()))
        except (OSError, ValueError):
            pass
        found = declared_parameters(notebook)
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_name(f".{memo.name}.{os.getpid()}")
        tmp.write_text(json.dumps(found, sort_keys=True, default=str))
        os.replace(tmp, memo)
        return found

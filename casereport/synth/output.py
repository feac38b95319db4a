"""Write the simulated studies atomically and describe them in MANIFEST.json."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from pydicom.uid import RLELossless

from casereport.errors import SynthError
from casereport.fileio import sha256_file
from casereport.synth.dicomio import save
from casereport.synth.simulate import simulate_subject
from casereport.synth.subjects import SUBJECTS, resolve_cases

GENERATOR = "casereport.synth"
GENERATOR_VERSION = "1.0.0"
DEFAULT_SEED = 20190401

#: Folders (per subject) and files (at the top) that the simulator owns in OUT.
GENERATED_DIRS = ("wb", "spot", "ct", "spect")
MANIFEST = "MANIFEST.json"

#: Transfer syntax per study kind. RLE Lossless everywhere: deflate is a little smaller
#: for the noisy CT but dciodvfy cannot read deflated files.
SYNTAX = {"wb": RLELossless, "spot": RLELossless, "ct": RLELossless, "spect": RLELossless}


def _check_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise SynthError(f"{out}: output path exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise SynthError(
            f"{out}: output directory is not empty (use --force to replace the generated studies)"
        )
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise SynthError(f"{out}: parent directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (out.is_dir() and not os.access(out, os.W_OK)):
        raise SynthError(f"{out}: output directory is not writable")


def _run_subject(
    key: str, seed: int, tmp: str
) -> tuple[str, dict[str, str], dict[str, Any], float]:
    """Simulate one subject and write its files under ``tmp/<key>/`` (runs in a worker)."""
    t0 = time.perf_counter()
    res = simulate_subject(SUBJECTS[key], seed, GENERATOR_VERSION)
    files: dict[str, str] = {}
    for rel, ds in res.files.items():
        path = Path(tmp) / key / rel
        save(ds, path, SYNTAX[rel.split("/")[0]])
        files[f"{key}/{rel}"] = sha256_file(path)
    return key, files, res.truth, time.perf_counter() - t0


def _default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def generate(
    out: Path | str,
    cases: str | list[str] | tuple[str, ...] | None = None,
    seed: int = DEFAULT_SEED,
    force: bool = False,
    workers: int | None = None,
) -> dict[str, Any]:
    """Simulate the requested subjects and write them under ``out``.

    Subjects are simulated in up to ``workers`` processes (default: 2 or the number of
    CPUs if fewer); each subject has its own random streams, so the output does not depend
    on ``workers``. The studies are built in a temporary folder next to ``out`` and moved
    in only when all are written. With ``force``, only what the simulator owns is replaced
    (``MANIFEST.json`` and each known subject's ``wb/ spot/ ct/ spect/``); other files (such
    as hand-written ``case.yaml``) stay.

    Returns:
        ``{"manifest": <MANIFEST.json content>, "truth": {subject: {...}},
        "seconds": {subject: float}}``.

    Raises:
        SynthError: unknown case, output not writable, or non-empty without ``force``.
    """
    out = Path(out)
    specs = resolve_cases(cases)
    _check_out(out, force)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.synth-", dir=out.parent))
    except OSError as exc:
        raise SynthError(
            f"{out}: cannot create a temporary folder beside it ({exc.strerror})"
        ) from exc
    try:
        files: dict[str, str] = {}
        truth: dict[str, Any] = {}
        seconds: dict[str, float] = {}
        order = sorted(specs, key=lambda s: not s.spect)  # longest subject first
        n_workers = workers or _default_workers()
        if n_workers > 1 and len(order) > 1:
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx) as pool:
                done = list(
                    pool.map(
                        _run_subject,
                        [s.key for s in order],
                        [int(seed)] * len(order),
                        [str(tmp)] * len(order),
                    )
                )
        else:
            done = [_run_subject(s.key, int(seed), str(tmp)) for s in order]
        for key, f, t, sec in done:
            files.update(f)
            truth[key] = t
            seconds[key] = sec
        manifest = {
            "generator": GENERATOR,
            "version": GENERATOR_VERSION,
            "seed": int(seed),
            "simulated": True,
            "subjects": [s.key for s in specs],
            "files": dict(sorted(files.items())),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        _swap_in(tmp, out)
    except OSError as exc:
        raise SynthError(f"{out}: writing failed ({exc})") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return {"manifest": manifest, "truth": truth, "seconds": seconds}


def _swap_in(tmp: Path, out: Path) -> None:
    """Move the finished tree into ``out``; only generated items of ``out`` are replaced.

    Generated items already in ``out`` (for every known subject, so that the folder always
    matches its manifest) are first moved aside; if moving the new ones in fails they are
    put back.
    """
    if not out.exists():
        os.rename(tmp, out)
        return
    trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    retired: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    try:
        owned = [out / key / d for key in SUBJECTS for d in GENERATED_DIRS] + [out / MANIFEST]
        for n, old in enumerate(owned):
            if old.exists():
                dest = trash / str(n)
                os.rename(old, dest)
                retired.append((old, dest))
        for sub in sorted(p for p in tmp.iterdir() if p.is_dir()):
            (out / sub.name).mkdir(exist_ok=True)
            for d in sorted(sub.iterdir()):
                os.rename(d, out / sub.name / d.name)
                placed.append(out / sub.name / d.name)
        os.rename(tmp / MANIFEST, out / MANIFEST)
    except OSError:
        for p in placed:
            shutil.rmtree(p, ignore_errors=True)
        for old, dest in retired:
            if not old.exists():
                os.rename(dest, old)
        raise
    finally:
        shutil.rmtree(trash, ignore_errors=True)

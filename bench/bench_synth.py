"""Benchmark: time casereport.synth.generate() for all subjects and report peak memory.

Prints one JSON object on stdout: wall seconds, per-subject seconds (inside the workers),
peak resident memory of this process and of its worker processes (MB), and the local
variance/mean of every whole-body view (``casereport.analysis.local_noise``; goal 0.9-1.3).

    python bench/bench_synth.py [--workers N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path


def wb_noise(out: Path) -> dict[str, float]:
    """Local variance/mean of every whole-body view under ``out``, keyed ``subject/view``."""
    from casereport.analysis import local_noise
    from casereport.io import WholeBody, load

    values = {}
    for path in sorted(out.glob("*/wb/wb.dcm")):
        study = load(path)
        assert isinstance(study, WholeBody), path
        for view in study.views:
            noise = local_noise(view.counts, view.pixel_spacing_mm)
            values[f"{path.parts[-3]}/{view.view}"] = round(noise.var_over_mean, 3)
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="write here instead of a temp dir")
    args = parser.parse_args(argv)

    from casereport.synth import generate

    tmp = Path(tempfile.mkdtemp(prefix="bench_synth-"))
    out = args.keep or tmp / "data"
    try:
        t0 = time.perf_counter()
        result = generate(out, force=args.keep is not None, workers=args.workers)
        wall = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        noise = wb_noise(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    report = {
        "benchmark": "synth.generate",
        "seconds": round(wall, 2),
        "subject_seconds": {k: round(v, 2) for k, v in result["seconds"].items()},
        "peak_rss_mb": round(own, 1),
        "peak_rss_worker_mb": round(children, 1),
        "files": len(result["manifest"]["files"]),
        "bytes": size,
        "wb_var_over_mean": noise,
        "budget": {"seconds": 60, "peak_rss_mb": 2048},
    }
    json.dump(report, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

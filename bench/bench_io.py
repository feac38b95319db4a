"""Benchmark of casereport.io loaders against reference readers; prints JSON on stdout.

* CT: ``casereport.io.load(folder)`` vs SimpleITK ``ImageSeriesReader`` (series file
  names from GDCM, then ``Execute`` and ``GetArrayFromImage``) on the same ~100 slices.
  Target: ratio (ours / SimpleITK) <= 1.0.
* Whole-body NM: ``casereport.io.load(file)`` vs a bare ``pydicom.dcmread(file).pixel_array``.
  Target: ratio <= 1.2. Reported beside it: the simulator's RLE file
  (``data/A/wb/wb.dcm``, when present) and an uncompressed single-frame Secondary
  Capture whole-body, against the same reference.

The two contenders run interleaved (A, B, A, B, ...) ``--repeats`` times after one warm-up
each; the report gives median and minimum seconds and the ratio of the medians.
Files are generated with pydicom into a temporary folder.

    python bench/bench_io.py [--repeats 5] [--slices 100] [--matrix 512] [--batch 20] [--no-ct]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from casereport.io import PlanarOptions, load  # noqa: E402
from tests.support import dicom_factory as factory  # noqa: E402


def _time(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def interleaved(
    a: Callable[[], object], b: Callable[[], object], repeats: int
) -> dict[str, dict[str, float]]:
    """Time ``a`` and ``b`` alternately; one untimed warm-up each."""
    a()
    b()
    ta, tb = [], []
    for _ in range(repeats):
        ta.append(_time(a))
        tb.append(_time(b))
    return {
        "ours": {"median_s": statistics.median(ta), "min_s": min(ta)},
        "reference": {"median_s": statistics.median(tb), "min_s": min(tb)},
    }


def make_ct(folder: Path, n: int, matrix: int) -> None:
    """``n`` CT slices (matrix x matrix, int16 stored values) in shuffled file order."""
    hu = factory.ct_hu(n, matrix, matrix, seed=0)
    series = factory.ct_series(hu=hu, rows=matrix, cols=matrix, pixel_spacing=(0.8, 0.8), dz=2.5)
    rng = np.random.default_rng(0)
    names = [f"CT_{k:04d}.dcm" for k in rng.permutation(n)]
    factory.save_series(series, folder, "explicit", names)


def make_wb(path: Path) -> None:
    """Whole-body NM, 2 frames of 1024 x 256, 16-bit."""
    counts = factory.planar_counts(2, 1024, 256, seed=0, mean=12.0)
    factory.save(factory.nm_wholebody(counts=counts), path)


def make_sc_wb(path: Path, syntax: str = "j2k") -> None:
    """Single-frame Secondary Capture whole-body (Modality NM), 1024 x 256, one view,
    PixelSpacing at the root, no view codes: the common vendor export (JPEG 2000 lossless
    by default, ``syntax="explicit"`` for uncompressed)."""
    counts = factory.body_counts(1024, 256, seed=0, mean=12.0)
    factory.save(factory.sc_nm(counts, description="WB ANT"), path, syntax)


def load_sc(path: Path) -> object:
    """casereport's load of the SC whole-body, its view declared as a case file would."""
    return load(path, options=PlanarOptions(views=("ANT",)))


def make_ct_folder(folder: Path, n: int, matrix: int) -> None:
    """``n`` axial CT slices in shuffled file order plus a localizer (its own series) in
    the same folder, as scanners export a study."""
    make_ct(folder, n, matrix)
    scout = factory.ct_localizer(rows=matrix, cols=matrix)
    factory.save(scout, folder / "SCOUT_0001.dcm")


def _axial_series_id(folder: Path) -> str:
    """SimpleITK's id of the series with the most files (the axial one, not the scout)."""
    import SimpleITK as sitk

    ids = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))
    return max(
        ids, key=lambda i: len(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), i))
    )


def bench_ct(folder: Path, repeats: int) -> dict[str, object]:
    import SimpleITK as sitk

    series_id = _axial_series_id(folder)

    def ours() -> np.ndarray:
        return load(folder).array

    def reference() -> np.ndarray:
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), series_id))
        return sitk.GetArrayFromImage(reader.Execute())

    a, b = ours(), reference()
    assert a.shape == b.shape, (a.shape, b.shape)
    res = interleaved(ours, reference, repeats)
    return {
        "reference_name": "SimpleITK.ImageSeriesReader",
        "n_files": len(list(folder.iterdir())),
        "shape": list(a.shape),
        **res,
        "ratio_median": res["ours"]["median_s"] / res["reference"]["median_s"],
        "target_ratio": 1.0,
    }


def bench_wb(
    path: Path, repeats: int, batch: int = 1, loader: Callable[[Path], object] = load
) -> dict[str, object]:
    """``loader(path)`` against ``pydicom.dcmread(path).pixel_array``; each timed sample
    is ``batch`` loads whose results are kept until the sample ends."""

    def ours() -> object:
        return [loader(path) for _ in range(batch)]

    def reference() -> object:
        return [pydicom.dcmread(path).pixel_array for _ in range(batch)]

    res = interleaved(ours, reference, repeats)
    return {
        "reference_name": "pydicom.dcmread(...).pixel_array",
        "batch": batch,
        **res,
        "ratio_median": res["ours"]["median_s"] / res["reference"]["median_s"],
        "target_ratio": 1.2,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--slices", type=int, default=100)
    ap.add_argument("--matrix", type=int, default=512)
    ap.add_argument("--batch", type=int, default=20, help="loads per timed whole-body sample")
    ap.add_argument("--no-ct", action="store_true", help="whole-body and SC loads only")
    args = ap.parse_args(argv)
    if args.repeats < 3:
        ap.error("--repeats must be at least 3")
    report: dict[str, object] = {"benchmark": "io", "repeats": args.repeats}
    with tempfile.TemporaryDirectory(prefix="bench_io_") as tmp:
        tmpdir = Path(tmp)
        if not args.no_ct:
            make_ct(tmpdir / "ct", args.slices, args.matrix)
            report["ct_series"] = bench_ct(tmpdir / "ct", args.repeats)
        make_wb(tmpdir / "wb.dcm")
        report["wholebody_nm"] = bench_wb(tmpdir / "wb.dcm", args.repeats, args.batch)
        committed = ROOT / "data" / "A" / "wb" / "wb.dcm"
        if committed.is_file():
            report["wholebody_nm_data"] = {
                "file": committed.relative_to(ROOT).as_posix(),
                **bench_wb(committed, args.repeats, args.batch),
            }
        make_sc_wb(tmpdir / "sc.dcm", "explicit")
        report["sc_wholebody_uncompressed"] = bench_wb(
            tmpdir / "sc.dcm", args.repeats, args.batch, load_sc
        )
    report["load_average"] = list(os.getloadavg())
    for key in ("ct_series", "wholebody_nm", "wholebody_nm_data", "sc_wholebody_uncompressed"):
        r = report.get(key)
        if isinstance(r, dict):
            r["meets_target"] = r["ratio_median"] <= r["target_ratio"]
    print(json.dumps(report, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

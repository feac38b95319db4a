"""All benchmarks in one run: writes bench/results.json and bench/RESULTS.md.

Measures, with ``--repeats`` rounds (default 3), median and minimum wall seconds of:

* ``render``  the naive pipeline (papermill CLI per notebook, ``jupyter nbconvert --to
  html``, WeasyPrint in a fresh process) and ``render.py`` cold, no-op, one case's
  parameter edited, article text edited -- on a temporary copy of ``notebooks/`` and the
  data folder, one round after the other (naive and render alternate which goes first);
  peak resident memory of the whole process tree is sampled during every cold render;
* ``synth``   ``casereport.synth.generate()`` of every subject, in a fresh process, once
  per round (interleaved with the render rounds);
* ``ct_load`` a ~100-slice CT series: casereport vs SimpleITK vs a bare pydicom loop;
* ``wb_load`` a whole-body NM file: casereport vs ``pydicom.dcmread().pixel_array``;
* ``sc_load`` a single-frame Secondary Capture whole-body (JPEG 2000 lossless, and
  uncompressed beside it): casereport vs ``pydicom.dcmread().pixel_array``;
* ``ct_folder_load`` a 300-slice CT folder with a localizer mixed in: casereport vs
  SimpleITK ``ImageSeriesReader`` on the axial series.

    python bench/run.py [--repeats 3] [--quick] [--only NAME ...] [--data DIR] [--out DIR]

``--quick`` is one round (smoke test). See bench/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for _p in (str(ROOT), str(BENCH)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

os.environ.setdefault("SOURCE_DATE_EPOCH", "1554076800")
os.environ["PYTHONHASHSEED"] = "0"
#: whether the environment the bench was started in forbade writing bytecode (recorded)
BYTECODE_FORBIDDEN = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))
# Python's default: the warm-up render writes the project copy's __pycache__, as the first
# render on an author's machine does, so no measured process compiles the package from
# source (with PYTHONDONTWRITEBYTECODE set, every kernel would, in every scenario)
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

GROUPS = ("render", "watch", "synth", "ct_load", "wb_load", "sc_load", "ct_folder_load")
#: groups timed by bench_loads
#: at least this many interleaved samples of each CT load: with three, one slow sample
#: (the page cache after the render rounds) decided the median
IO_SAMPLES = 5
IO_GROUPS = {"ct_load", "wb_load", "sc_load", "ct_folder_load"}
#: whole-body loads per timed sample
WB_BATCH = 20

#: goal per headline key: (comparison, limit, unit shown in RESULTS.md)
GOALS: dict[str, tuple[str, float, str]] = {
    "cold_over_naive": ("<=", 0.3, "x"),
    "cold_cpu_over_naive": ("<=", 0.5, "x"),
    "noop_seconds": ("<=", 1.0, "s"),
    "case_edit_over_cold": ("<=", 0.2, "x"),
    "text_edit_over_cold": ("", float("nan"), "x"),
    "text_edit_html_seconds": ("<=", 1.5, "s"),
    "caption_edit_html_seconds": ("<=", 2.0, "s"),
    "annotation_edit_html_seconds": ("<=", 3.0, "s"),
    "watch_rss_growth": ("<=", 1.2, "x"),
    "ct_load_over_simpleitk": ("<=", 1.0, "x"),
    "wb_load_over_pydicom": ("<=", 1.2, "x"),
    "sc_wb_load_over_pydicom": ("<=", 1.2, "x"),
    "ct_folder_load_over_simpleitk": ("<=", 1.0, "x"),
    "synth_seconds": ("<=", 60.0, "s"),
    "peak_rss_mb": ("<=", 1536.0, "MB"),
}

DESCRIPTIONS = {
    "cold_over_naive": "render.py with an empty cache / naive papermill+nbconvert+WeasyPrint",
    "cold_cpu_over_naive": "CPU seconds of all processes: cold render / naive pipeline",
    "noop_seconds": "render.py again, nothing changed (whole command, seconds)",
    "case_edit_over_cold": "one case's parameter edited / cold",
    "text_edit_over_cold": "article text edited / cold",
    "text_edit_html_seconds": "watch: sentence appended in article.ipynb until the served "
    "HTML changed (s)",
    "caption_edit_html_seconds": "watch: one panel caption edited in a case.yaml until the "
    "served HTML changed (s)",
    "annotation_edit_html_seconds": "watch: one arrow moved by 1 mm in a case.yaml until the "
    "served HTML changed (s)",
    "watch_rss_growth": f"watch process RSS: peak over {50} prose edits / after the first",
    "ct_load_over_simpleitk": "CT series load: casereport / SimpleITK ImageSeriesReader",
    "wb_load_over_pydicom": "whole-body NM load: casereport / pydicom dcmread().pixel_array",
    "sc_wb_load_over_pydicom": (
        "single-frame SC whole-body (JPEG 2000 lossless) load: casereport / pydicom"
    ),
    "ct_folder_load_over_simpleitk": (
        "300-slice CT folder with a localizer: casereport / SimpleITK ImageSeriesReader"
    ),
    "synth_seconds": "simulated data, all subjects incl. SPECT (generate(), seconds)",
    "peak_rss_mb": "peak summed RSS of all processes during a cold render (MB)",
}

# --------------------------------------------------------------------------- statistics


def summary(values: list[float]) -> dict[str, Any]:
    """Median, minimum and every run (seconds, or the unit of ``values``)."""
    return {
        "median": round(statistics.median(values), 4),
        "min": round(min(values), 4),
        "runs": [round(v, 4) for v in values],
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else round(a / b, 4)


# --------------------------------------------------------------------------- measuring


@dataclass
class Measure:
    """Wall seconds, CPU seconds of reaped child processes, peak RSS of the process tree."""

    wall_s: float = 0.0
    children_cpu_s: float = 0.0
    peak_tree_rss_mb: float = 0.0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)

    def as_dict(self) -> dict[str, float]:
        return {
            "wall_s": round(self.wall_s, 4),
            "children_cpu_s": round(self.children_cpu_s, 3),
            "peak_tree_rss_mb": round(self.peak_tree_rss_mb, 1),
            "rss_samples": self.samples,
        }


def _tree_rss_bytes(me: Any) -> int:
    import psutil

    total = 0
    for proc in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return total


def _sample(m: Measure, interval_s: float) -> None:
    import psutil

    me = psutil.Process(os.getpid())
    while not m._stop.is_set():
        rss = _tree_rss_bytes(me)
        m.peak_tree_rss_mb = max(m.peak_tree_rss_mb, rss / 2**20)
        m.samples += 1
        m._stop.wait(interval_s)


@contextlib.contextmanager
def measured(sample_rss: bool = True, interval_s: float = 0.1) -> Iterator[Measure]:
    """Time the block; sample the summed RSS of all descendants of this process.

    CPU seconds are those of child processes reaped during the block (``RUSAGE_CHILDREN``),
    i.e. the subprocesses started in it and whatever they waited for.
    """
    m = Measure()
    thread = None
    if sample_rss:
        thread = threading.Thread(target=_sample, args=(m, interval_s), daemon=True)
        thread.start()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    try:
        yield m
    finally:
        m.wall_s = time.perf_counter() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        m.children_cpu_s = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        m._stop.set()
        if thread is not None:
            thread.join()


# --------------------------------------------------------------------------- render


def find_data(data: Path | None) -> Path:
    """The data folder to benchmark on: ``data`` or ROOT/data (must hold case.yaml files)."""
    folder = (data or ROOT / "data").resolve()
    if not any(folder.glob("*/case.yaml")):
        raise SystemExit(
            f"{folder}: no <subject>/case.yaml here; pass --data DIR with the "
            "simulated studies and case files (python -m casereport.synth --out DIR)"
        )
    return folder


def snapshot_package(project: Path) -> None:
    """Copy ``casereport/`` and ``render.py`` into ``project`` and put it first on PYTHONPATH.

    Every process started afterwards (render.py, kernels, papermill, the simulator) imports
    this frozen copy, so edits to the working tree during a run neither change what is
    measured nor invalidate the render cache between the scenarios.
    """
    project.mkdir(parents=True, exist_ok=True)
    shutil.copytree(
        ROOT / "casereport",
        project / "casereport",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    shutil.copyfile(ROOT / "render.py", project / "render.py")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(project), *filter(None, [os.environ.get("PYTHONPATH")])]
    )


def make_project(project: Path, data: Path) -> list[str]:
    """Copy notebooks/, ``data`` and matplotlibrc into ``project``; return the case ids."""
    from casereport.case import index

    shutil.copytree(ROOT / "notebooks", project / "notebooks")
    shutil.copytree(data, project / "data", ignore=shutil.ignore_patterns(".*"))
    if (ROOT / "matplotlibrc").is_file():
        shutil.copyfile(ROOT / "matplotlibrc", project / "matplotlibrc")
    return list(index(project / "data").cases)


def render_cmd(project: Path, *args: str) -> None:
    """``render.py`` of the project copy, quiet; raises SystemExit with stderr on failure."""
    res = subprocess.run(
        [sys.executable, str(project / "render.py"), "--root", str(project), "--quiet", *args],
        cwd=project,
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        raise SystemExit(f"render.py {' '.join(args)} failed:\n{res.stderr[-3000:]}")


def _steps(project: Path) -> list[dict[str, Any]]:
    """What the last render did (from build/manifest.json): step, cached, seconds."""
    path = project / "build" / "manifest.json"
    if not path.is_file():
        return []
    doc = json.loads(path.read_text())
    return [{k: s[k] for k in ("step", "cached", "seconds")} for s in doc.get("steps", [])]


def _executed(steps: list[dict[str, Any]]) -> list[str]:
    return sorted(s["step"] for s in steps if not s["cached"] and s["step"] != "plan")


def _expected(scenario: str, executed: list[str], case: str) -> bool:
    """Whether a render re-executed exactly what the scenario should."""
    cases_run = [s for s in executed if s.startswith("case ")]
    if scenario == "noop":
        return executed == []
    if scenario == "case_edit":  # the article runs again only if the case's results changed
        return cases_run == [f"case {case}"]
    if scenario == "text_edit":  # prose only: spliced into the cached article, no kernel
        return cases_run == [] and "article" not in executed
    return True


def render_rounds(
    project: Path, cases: list[str], rounds: list[int], log: Callable[[str], None]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (scenario, record) for each round in ``rounds``: naive, cold, noop, edits.

    The naive pipeline and the article edit are those of bench/bench_render.py; render.py
    is the project copy's (see :func:`snapshot_package`). CPU and memory are measured
    around each.
    """
    import bench_render as br

    edit = f"{cases[0]}:nm_window=[1, 99]"
    clean = [sys.executable, str(project / "render.py"), "clean", "--root", str(project)]

    def render_round(n: int) -> Iterator[tuple[str, dict[str, Any]]]:
        subprocess.run(clean, cwd=project, check=True, capture_output=True)
        for scenario, args in (
            ("cold", ()),
            ("noop", ()),
            ("case_edit", ("-p", edit)),
            ("text_edit", ("-p", edit)),
        ):
            if scenario == "text_edit":
                br.edit_article_text(project, n)
            with measured() as m:
                render_cmd(project, *args)
            steps = _steps(project)
            executed = _executed(steps)
            rec = {
                **m.as_dict(),
                "round": n,
                "executed": executed,
                "steps": steps,
                "as_expected": _expected(scenario, executed, cases[0]),
            }
            log(f"round {n}: {scenario:9s} {m.wall_s:7.2f} s  executed={executed}")
            yield scenario, rec

    def naive_round(n: int) -> Iterator[tuple[str, dict[str, Any]]]:
        with measured() as m:
            br.naive(project, cases)
        log(f"round {n}: naive     {m.wall_s:7.2f} s")
        yield "naive", {**m.as_dict(), "round": n}

    for n in rounds:
        order = (naive_round, render_round) if n % 2 else (render_round, naive_round)
        for part in order:
            yield from part(n)


def warm_up(project: Path) -> None:
    """One untimed render: kernel spec, font and bytecode caches, deid gate code paths."""
    render_cmd(project, "--html-only")


# --------------------------------------------------------------------------- synth


def synth_once(out_root: Path) -> dict[str, Any]:
    """One ``generate()`` of all subjects in a fresh process (bench/bench_synth.py)."""
    with measured() as m:
        res = subprocess.run(
            [sys.executable, str(BENCH / "bench_synth.py")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, "TMPDIR": str(out_root)},
        )
    if res.returncode != 0:
        raise SystemExit(f"bench_synth.py failed:\n{res.stderr[-3000:]}")
    report = json.loads(res.stdout)
    return {"generate_s": float(report["seconds"]), "process": m.as_dict(), "report": report}


# --------------------------------------------------------------------------- io


def bench_loads(
    which: set[str], repeats: int, wb_repeats: int, log: Callable[[str], None]
) -> dict[str, Any]:
    """CT series and whole-body NM loads (bench/bench_io.py), plus a bare pydicom CT loop."""
    import bench_io
    import numpy as np
    import pydicom

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench_io_") as tmp:
        tmpdir = Path(tmp)
        if "ct_load" in which:
            folder = tmpdir / "ct"
            bench_io.make_ct(folder, 100, 512)
            out["ct_series"] = bench_io.bench_ct(folder, max(IO_SAMPLES, repeats))
            out["ct_series"]["ratio_min"] = (
                out["ct_series"]["ours"]["min_s"] / out["ct_series"]["reference"]["min_s"]
            )

            def bare() -> np.ndarray:
                """Every file read, sorted by ImagePositionPatient z, rescaled to HU."""
                dss = [pydicom.dcmread(p) for p in folder.iterdir()]
                dss.sort(key=lambda d: float(d.ImagePositionPatient[2]))
                return np.stack(
                    [d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in dss]
                )

            def ours() -> np.ndarray:
                return bench_io.load(folder).array

            res = bench_io.interleaved(ours, bare, repeats)
            out["ct_series_vs_pydicom_loop"] = {
                "reference_name": "pydicom loop (dcmread, sort by z, rescale)",
                **res,
                "ratio_median": res["ours"]["median_s"] / res["reference"]["median_s"],
                "ratio_min": res["ours"]["min_s"] / res["reference"]["min_s"],
            }
            log(
                f"ct_load: ours/sitk {out['ct_series']['ratio_median']:.3f}, "
                f"ours/pydicom-loop {out['ct_series_vs_pydicom_loop']['ratio_median']:.3f}"
            )
        if "wb_load" in which:
            wb = tmpdir / "wb.dcm"
            bench_io.make_wb(wb)
            # one load takes a few ms: each timed sample is a batch, so that scheduler noise on
            # a shared machine does not decide the ratio
            res = bench_io.interleaved(
                lambda: [bench_io.load(wb) for _ in range(WB_BATCH)],
                lambda: [pydicom.dcmread(wb).pixel_array for _ in range(WB_BATCH)],
                wb_repeats,
            )
            out["wholebody_nm"] = {
                "reference_name": "pydicom.dcmread(...).pixel_array",
                "batch": WB_BATCH,
                **res,
                "ratio_median": res["ours"]["median_s"] / res["reference"]["median_s"],
                "ratio_min": res["ours"]["min_s"] / res["reference"]["min_s"],
            }
            committed = sorted((ROOT / "data").glob("*/wb/wb.dcm"))
            if committed:  # the simulator's file (RLE-compressed): reported beside, not headline
                sim = committed[0]
                res = bench_io.interleaved(
                    lambda: [bench_io.load(sim) for _ in range(WB_BATCH)],
                    lambda: [pydicom.dcmread(sim).pixel_array for _ in range(WB_BATCH)],
                    wb_repeats,
                )
                out["wholebody_nm_data"] = {
                    "reference_name": "pydicom.dcmread(...).pixel_array",
                    "file": sim.relative_to(ROOT).as_posix(),
                    "batch": WB_BATCH,
                    **res,
                    "ratio_median": res["ours"]["median_s"] / res["reference"]["median_s"],
                    "ratio_min": res["ours"]["min_s"] / res["reference"]["min_s"],
                }
            log_wb = True
        else:
            log_wb = False
        if "sc_load" in which:
            for syntax in ("j2k", "explicit"):
                sc = tmpdir / f"sc_{syntax}.dcm"
                bench_io.make_sc_wb(sc, syntax)
                res = bench_io.interleaved(
                    lambda sc=sc: [bench_io.load_sc(sc) for _ in range(WB_BATCH)],
                    lambda sc=sc: [pydicom.dcmread(sc).pixel_array for _ in range(WB_BATCH)],
                    wb_repeats,
                )
                key = "sc_wholebody" if syntax == "j2k" else "sc_wholebody_uncompressed"
                out[key] = {
                    "reference_name": "pydicom.dcmread(...).pixel_array",
                    "syntax": syntax,
                    "batch": WB_BATCH,
                    **res,
                    "ratio_median": res["ours"]["median_s"] / res["reference"]["median_s"],
                    "ratio_min": res["ours"]["min_s"] / res["reference"]["min_s"],
                }
            log(
                f"sc_load: ours/pydicom {out['sc_wholebody']['ratio_median']:.3f} (JPEG 2000), "
                f"{out['sc_wholebody_uncompressed']['ratio_median']:.3f} (uncompressed)"
            )
        if "ct_folder_load" in which:
            folder = tmpdir / "ct_folder"
            bench_io.make_ct_folder(folder, 300, 512)
            out["ct_folder"] = bench_io.bench_ct(folder, max(IO_SAMPLES, repeats // 3))
            out["ct_folder"]["ratio_min"] = (
                out["ct_folder"]["ours"]["min_s"] / out["ct_folder"]["reference"]["min_s"]
            )
            log(f"ct_folder_load: ours/sitk {out['ct_folder']['ratio_median']:.3f}")
        if log_wb:
            log(
                f"wb_load: ours/pydicom {out['wholebody_nm']['ratio_median']:.3f}"
                + (
                    f", on {out['wholebody_nm_data']['file']} "
                    f"{out['wholebody_nm_data']['ratio_median']:.3f}"
                    if "wholebody_nm_data" in out
                    else ""
                )
            )
    return out


# --------------------------------------------------------------------------- machine


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _git_commit() -> str:
    res = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return res.stdout.strip() if res.returncode == 0 else "unknown"


def _tree_changes() -> list[str]:
    """Uncommitted changes to the package, notebooks, data and render.py (what was measured)."""
    res = subprocess.run(
        [
            "git",
            "status",
            "--porcelain",
            "--",
            "casereport",
            "notebooks",
            "data",
            "render.py",
            "matplotlibrc",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return res.stdout.splitlines() if res.returncode == 0 else ["unknown"]


def machine() -> dict[str, Any]:
    """Cores, CPU model, memory, OS, Python and the versions that matter for the timings."""
    import psutil

    versions = {}
    for name in (
        "casereport",
        "numpy",
        "scipy",
        "matplotlib",
        "pydicom",
        "SimpleITK",
        "papermill",
        "nbconvert",
        "nbclient",
        "ipykernel",
        "weasyprint",
        "pylibjpeg",
        "psutil",
    ):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return {
        "cores_logical": os.cpu_count(),
        "cores_physical": psutil.cpu_count(logical=False),
        "cpu_model": _cpu_model(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "git_commit": _git_commit(),
    }


# --------------------------------------------------------------------------- report


def headline(raw: dict[str, Any]) -> dict[str, float | None]:
    """The headline numbers (ratios of medians) from the raw measurements."""
    r = raw.get("render", {})
    med = {
        k: r[k]["wall_s"]["median"]
        for k in ("naive", "cold", "noop", "case_edit", "text_edit")
        if k in r
    }
    cpu = {k: r[k]["children_cpu_s"]["median"] for k in ("naive", "cold") if k in r}
    io_ = raw.get("io", {})
    synth = raw.get("synth")
    rss = raw.get("rss")
    w = raw.get("watch")
    wmed = {k: round(statistics.median(v), 4) for k, v in w["seconds"].items()} if w else {}
    return {
        "cold_over_naive": _ratio(med.get("cold"), med.get("naive")),
        "cold_cpu_over_naive": _ratio(cpu.get("cold"), cpu.get("naive")),
        "noop_seconds": med.get("noop"),
        "case_edit_over_cold": _ratio(med.get("case_edit"), med.get("cold")),
        "text_edit_over_cold": _ratio(med.get("text_edit"), med.get("cold")),
        "text_edit_html_seconds": wmed.get("text_edit"),
        "caption_edit_html_seconds": wmed.get("caption_edit"),
        "annotation_edit_html_seconds": wmed.get("annotation_edit"),
        "watch_rss_growth": _ratio(max(w["rss_mb"]), w["rss_mb"][0]) if w else None,
        "ct_load_over_simpleitk": (
            round(io_["ct_series"]["ratio_median"], 4) if "ct_series" in io_ else None
        ),
        "wb_load_over_pydicom": (
            round(io_["wholebody_nm"]["ratio_median"], 4) if "wholebody_nm" in io_ else None
        ),
        "sc_wb_load_over_pydicom": (
            round(io_["sc_wholebody"]["ratio_median"], 4) if "sc_wholebody" in io_ else None
        ),
        "ct_folder_load_over_simpleitk": (
            round(io_["ct_folder"]["ratio_median"], 4) if "ct_folder" in io_ else None
        ),
        "synth_seconds": synth["generate_s"]["median"] if synth else None,
        "peak_rss_mb": rss["peak_tree_rss_mb"] if rss else None,
    }


def verdicts(head: dict[str, float | None]) -> dict[str, bool | None]:
    out: dict[str, bool | None] = {}
    for key, value in head.items():
        op, limit, _ = GOALS[key]
        out[key] = None if value is None or not op else bool(value <= limit)
    return out


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "not run"
    if unit == "x":
        return f"{value:.2f}×"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:.2f} s"


def _goal(key: str) -> str:
    op, limit, unit = GOALS[key]
    if not op:
        return "(no goal)"
    return f"≤ {_fmt(limit, unit)}" if unit != "MB" else f"≤ {limit / 1024:.1f} GB"


def _bytecode_sentence(doc: dict[str, Any]) -> str:
    """What RESULTS.md says of Python's bytecode cache in the measured processes."""
    cache = doc.get("bytecode_cache") or {}
    if not cache:
        return ""
    unset = (
        " (`PYTHONDONTWRITEBYTECODE` was set where the bench started and is unset for it)"
        if cache.get("forbidden_by_environment")
        else ""
    )
    return (
        "Python's bytecode cache is on, as by default: the warm-up render compiles the "
        f"project copy once{unset}. "
    )


def results_md(doc: dict[str, Any]) -> str:
    """bench/RESULTS.md: headline table with the goals, then the raw medians and the machine."""
    head, ok, m = doc["results"], doc["meets_goal"], doc["machine"]
    mark = {True: "met", False: "**missed**", None: "–"}
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `python bench/run.py` (`make bench`) on {m['cpu_model']}, "
        f"{m['cores_logical']} logical cores, {m['memory_gb']} GB, Python {m['python']}; "
        f"{doc['repeats']} round(s); commit `{m['git_commit'][:12]}`. "
        f"Load average at start/end: {doc['loadavg']['start']} / {doc['loadavg']['end']}. "
        f"{_bytecode_sentence(doc)}"
        "Ratios are ratios of medians. What each number means: [README.md](README.md); "
        "every raw timing: [results.json](results.json).",
        "",
        *([f"Note on this run: {doc['note']}", ""] if doc.get("note") else []),
        "| measure | value | goal | status |",
        "|---|---|---|---|",
    ]
    for key in GOALS:
        unit = GOALS[key][2]
        lines.append(
            f"| `{key}` — {DESCRIPTIONS[key]} | {_fmt(head[key], unit)} | {_goal(key)} "
            f"| {mark[ok[key]]} |"
        )
    raw = doc["raw"]
    if "render" in raw:
        lines += [
            "",
            "## Render timings (seconds of the whole command)",
            "",
            "| scenario | median | min | CPU s (median, all processes) | peak RSS MB (max) |",
            "|---|---|---|---|---|",
        ]
        for name, rec in raw["render"].items():
            lines.append(
                f"| {name} | {rec['wall_s']['median']:.2f} | {rec['wall_s']['min']:.2f} "
                f"| {rec['children_cpu_s']['median']:.1f} "
                f"| {max(rec['peak_tree_rss_mb']['runs']):.0f} |"
            )
        cold_steps: dict[str, list[float]] = {}
        for r in raw["render"].get("cold", {}).get("records", []):
            for st in r.get("steps", []):
                cold_steps.setdefault(st["step"], []).append(st["seconds"])
        if cold_steps:
            lines += [
                "",
                "Cold render, median seconds per step (from build/manifest.json; cases "
                "run two at a time, the article kernel starts while they run): "
                + ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in cold_steps.items())
                + ".",
            ]
        bad = [
            f"{name} round {r['round']} executed {r['executed']}"
            for name, rec in raw["render"].items()
            for r in rec["records"]
            if not r.get("as_expected", True)
        ]
        if bad:
            lines += [
                "",
                "Renders that re-executed more than the scenario needs (source changed "
                "during the run?): " + "; ".join(bad) + ".",
            ]
    io_ = raw.get("io", {})
    if io_:
        lines += [
            "",
            "## Loading (seconds per timed sample; whole-body samples are batches of "
            f"{WB_BATCH} loads)",
            "",
            "| load | casereport median / min | reference | reference median / min | ratio |",
            "|---|---|---|---|---|",
        ]
        for key, rec in io_.items():
            label = f"{key} ({rec['file']})" if "file" in rec else key
            lines.append(
                f"| {label} | {rec['ours']['median_s']:.4f} / {rec['ours']['min_s']:.4f} "
                f"| {rec['reference_name']} | {rec['reference']['median_s']:.4f} / "
                f"{rec['reference']['min_s']:.4f} | {rec['ratio_median']:.2f} |"
            )
    if raw.get("watch"):
        w = raw["watch"]
        lines += [
            "",
            "## Watch session (seconds from the saved edit to the changed page over HTTP)",
            "",
            "| edit | median | min | every round |",
            "|---|---|---|---|",
        ]
        for name, values in w["seconds"].items():
            lines.append(
                f"| {name} | {statistics.median(values):.2f} | {min(values):.2f} "
                f"| {', '.join(f'{v:.2f}' for v in values)} |"
            )
        lines += [
            "",
            f"RSS of the watch process after the first of {w['edits']} prose edits in a row: "
            f"{w['rss_mb'][0]:.0f} MB; peak after any of them: {max(w['rss_mb']):.0f} MB; "
            f"after the last: {w['rss_mb'][-1]:.0f} MB. 1-minute load average when the "
            f"timed edits were published: {min(w['loadavg_1min_at_edits']):.1f} to "
            f"{max(w['loadavg_1min_at_edits']):.1f}. Steps each edit ran: "
            + "; ".join(f"{k}: {', '.join(v) or 'nothing'}" for k, v in w["ran"].items())
            + ".",
        ]
    if raw.get("synth"):
        s = raw["synth"]
        lines += [
            "",
            "## Simulation",
            "",
            f"`generate()` of all subjects: median {s['generate_s']['median']:.1f} s, "
            f"min {s['generate_s']['min']:.1f} s; CPU seconds of the process (median) "
            f"{s['children_cpu_s']['median']:.1f}; peak worker RSS "
            f"{max(s['peak_tree_rss_mb']['runs']):.0f} MB.",
        ]
    if raw.get("rss"):
        r = raw["rss"]
        lines += [
            "",
            "## Memory",
            "",
            f"Peak of the summed RSS of every process (render.py, kernels, their children), "
            f"sampled every 0.1 s during each cold render: {r['peak_tree_rss_mb']:.0f} MB. "
            f"Largest single process in the first round's renders, warm-up and naive "
            f"pipeline (`getrusage(RUSAGE_CHILDREN).ru_maxrss`): "
            f"{r['max_single_process_rss_mb']:.0f} MB.",
        ]
    v = m["versions"]
    lines += ["", "## Versions", "", ", ".join(f"{k} {v[k]}" for k in sorted(v)), ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def _collect(records: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("wall_s", "children_cpu_s", "peak_tree_rss_mb")
    return {**{k: summary([r[k] for r in records]) for k in keys}, "records": records}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the selected benchmarks; return the results document."""
    which = set(args.only or GROUPS)
    repeats = 1 if args.quick else args.repeats
    log = (
        (lambda s: None)
        if args.quiet
        else (lambda s: print(f"[bench] {s}", file=sys.stderr, flush=True))
    )
    raw: dict[str, Any] = {}
    load_start = [round(x, 2) for x in os.getloadavg()]
    t_start = time.perf_counter()
    if which & IO_GROUPS:
        io_repeats = (3, 5) if args.quick else (max(repeats, 9), max(repeats, 15))
        raw["io"] = bench_loads(which, *io_repeats, log)
    renders: dict[str, list[dict[str, Any]]] = {}
    maxrss_kb = 0
    synths: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        tmpdir = Path(tmp)
        project = tmpdir / "project"
        changes = _tree_changes()
        snapshot_package(project)
        if which & {"render", "watch"}:
            cases = make_project(project, find_data(args.data))
            log(f"project copy in {project}: cases {cases}; warm-up render")
            warm_up(project)
        for n in range(1, repeats + 1):
            if "render" in which:
                for scenario, rec in render_rounds(project, cases, [n], log):
                    renders.setdefault(scenario, []).append(rec)
                if n == 1:  # before any simulation: only render-related processes so far
                    maxrss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            if "synth" in which:
                synths.append(synth_once(tmpdir))
                log(f"round {n}: synth     {synths[-1]['generate_s']:7.2f} s (generate)")
        if "watch" in which:  # after the render rounds: the session starts from their cache
            import bench_watch

            raw["watch"] = bench_watch.run_watch(project, cases[0], repeats, log)
    if renders:
        order = ("naive", "cold", "noop", "case_edit", "text_edit")
        raw["render"] = {k: _collect(renders[k]) for k in order if k in renders}
        raw["rss"] = {
            "peak_tree_rss_mb": round(max(r["peak_tree_rss_mb"] for r in renders["cold"]), 1),
            "max_single_process_rss_mb": round(maxrss_kb / 1024, 1),
            "sample_interval_s": 0.1,
        }
    if synths:
        raw["synth"] = {
            "generate_s": summary([s["generate_s"] for s in synths]),
            **{
                k: summary([s["process"][k] for s in synths])
                for k in ("wall_s", "children_cpu_s", "peak_tree_rss_mb")
            },
            "subject_seconds": [s["report"]["subject_seconds"] for s in synths],
        }
    head = headline(raw)
    return {
        "results": head,
        **head,
        "goals": {k: {"op": op, "limit": lim} for k, (op, lim, _) in GOALS.items() if op},
        "meets_goal": verdicts(head),
        "raw": raw,
        "machine": {**machine(), "uncommitted_changes_at_start": changes},
        "repeats": repeats,
        "only": sorted(which),
        "loadavg": {"start": load_start, "end": [round(x, 2) for x in os.getloadavg()]},
        "bytecode_cache": {"forbidden_by_environment": BYTECODE_FORBIDDEN, "used": True},
        "total_seconds": round(time.perf_counter() - t_start, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="rounds (default 3; at least 3)")
    ap.add_argument("--quick", action="store_true", help="one round, for smoke testing")
    ap.add_argument(
        "--only",
        action="append",
        choices=GROUPS,
        metavar="NAME",
        help=f"run only this group (repeatable): {', '.join(GROUPS)}",
    )
    ap.add_argument("--data", type=Path, help="data folder to render (default: ROOT/data)")
    ap.add_argument(
        "--out",
        type=Path,
        default=BENCH,
        help="where results.json and RESULTS.md go (default: bench/)",
    )
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    ap.add_argument(
        "--note", default="", help="a sentence for RESULTS.md (e.g. what else ran on the machine)"
    )
    args = ap.parse_args(argv)
    if not args.quick and args.repeats < 3:
        ap.error("--repeats must be at least 3 (use --quick for one round)")
    with contextlib.redirect_stdout(io.StringIO()) if args.quiet else contextlib.nullcontext():
        doc = run(args)
    doc["note"] = args.note
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    (args.out / "RESULTS.md").write_text(results_md(doc))
    print(json.dumps({"results": doc["results"], "meets_goal": doc["meets_goal"]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark of ``render.py`` against the naive papermill + nbconvert + WeasyPrint pipeline.

Both run on a copy of the project (the real ``notebooks/`` and ``data/`` when data exist,
else a generated mini project with three cases and a control), interleaved, ``--repeats``
times; medians and minima in seconds are printed as JSON:

    naive      each notebook through the ``papermill`` CLI (fresh process), then
               ``jupyter nbconvert --to html``, then WeasyPrint in a fresh process
    cold       render.py with an empty cache
    noop       render.py again, nothing changed
    case_edit  one case's parameter changed (that case and the article re-execute)
    text_edit  the article's text changed (no case re-executes)

Goals: cold_over_naive <= 0.5, noop_seconds <= 1, case_edit_over_cold <= 0.4.
``cpu_seconds`` are the CPU seconds (user + system) of every process each scenario ran
(``RUSAGE_CHILDREN``: the commands, their kernels, zygote and workers, all waited for);
``cold_cpu_over_naive`` is their ratio of medians.
Run: ``.venv/bin/python bench/bench_render.py [--repeats 3] [--mini]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "SOURCE_DATE_EPOCH": "1554076800", "PYTHONHASHSEED": "0"}


def _notebook(path: Path, cells: list[tuple[str, str, list[str]]]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {
            "name": "casereport",
            "display_name": "Python (casereport)",
            "language": "python",
        },
        "language_info": {"name": "python"},
    }
    for i, (kind, src, tags) in enumerate(cells):
        cell = (
            nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
        )
        cell.id = f"c{i:02d}"
        cell.metadata["tags"] = tags
        nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def _dicom(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.20"
    ds.SOPInstanceUID = generate_uid(entropy_srcs=[str(seed)])
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality = "NM"
    ds.Rows, ds.Columns = 256, 256
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation, ds.SamplesPerPixel = 0, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = rng.poisson(20, (256, 256)).astype(np.uint16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def make_mini(project: Path) -> list[str]:
    """Three cases and a control; case notebooks load DICOM and draw one figure each."""
    for i, subject in enumerate(("A", "B", "C", "control")):
        _dicom(project / "data" / subject / "img.dcm", i)
        role = "control" if subject == "control" else "case"
        (project / "data" / subject / "case.yaml").write_text(
            f"case: {subject}\nrole: {role}\npatient: {{age: 50, sex: F, history: test}}\n"
        )
    _notebook(
        project / "notebooks" / "case.ipynb",
        [
            ("md", "# Case", []),
            (
                "code",
                'case_id = "A"\ndata_dir = "data"\noutput_dir = "out"\nlabel = "v0"',
                ["parameters"],
            ),
            (
                "code",
                "import json, os\nfrom pathlib import Path\nimport matplotlib.pyplot as plt\n"
                "import pydicom\nimport casereport.io as cio",
                [],
            ),
            (
                "code",
                "p = Path(data_dir) / case_id / 'img.dcm'\ncio.record_read(p)\n"
                "img = pydicom.dcmread(p).pixel_array.astype(float)",
                [],
            ),
            (
                "code",
                "fig, ax = plt.subplots(figsize=(3, 3))\nax.imshow(img, cmap='gray_r')\n"
                "ax.set_title(label)\nplt.show()",
                [],
            ),
            (
                "code",
                "out = Path(output_dir)\nout.mkdir(parents=True, exist_ok=True)\n"
                "(out / 'results.json').write_text(json.dumps({'sum': float(img.sum()), "
                "'label': label}))",
                [],
            ),
        ],
    )
    _notebook(
        project / "notebooks" / "article.ipynb",
        [
            ("code", 'data_dir = "data"\nresults_dir = "r"\nfigures_dir = "f"', ["parameters"]),
            ("md", "# Benchmark article\n\nText version 0.", []),
            (
                "code",
                "import json\nfrom pathlib import Path\nimport matplotlib.pyplot as plt\n"
                "res = {p.parent.name: json.loads(p.read_text())\n"
                "       for p in sorted(Path(results_dir).glob('*/results.json'))}\n"
                "fig, ax = plt.subplots(figsize=(4, 3))\n"
                "ax.bar(list(res), [r['sum'] for r in res.values()])\n"
                "Path(figures_dir).mkdir(parents=True, exist_ok=True)\n"
                "fig.savefig(Path(figures_dir) / 'figure1.png', metadata={'Software': None})\n"
                "plt.show()",
                ["remove-input"],
            ),
        ],
    )
    return ["A", "B", "C"]


def copy_real(project: Path) -> list[str]:
    """The real notebooks and data (and matplotlibrc) copied into ``project``."""
    for name in ("notebooks", "data"):
        shutil.copytree(ROOT / name, project / name)
    if (ROOT / "matplotlibrc").is_file():
        shutil.copyfile(ROOT / "matplotlibrc", project / "matplotlibrc")
    from casereport.case import index

    return list(index(project / "data").cases)


def _run(cmd: list[str], cwd: Path) -> None:
    res = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{res.stderr[-3000:]}")


def naive(project: Path, cases: list[str]) -> float:
    out = project / "naive"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    t0 = time.perf_counter()
    for case in cases:
        _run(
            [
                str(BIN / "papermill"),
                "notebooks/case.ipynb",
                f"naive/case_{case}.ipynb",
                "-k",
                "casereport",
                "-p",
                "case_id",
                case,
                "-p",
                "data_dir",
                "data",
                "-p",
                "output_dir",
                f"naive/cases/{case}",
                "--no-progress-bar",
            ],
            project,
        )
    if (project / "notebooks" / "figure.ipynb").is_file():  # Figure 1, read by the article
        _run(
            [
                str(BIN / "papermill"),
                "notebooks/figure.ipynb",
                "naive/figure.ipynb",
                "-k",
                "casereport",
                "-p",
                "data_dir",
                "data",
                "-p",
                "figures_dir",
                "naive/figures",
                "--no-progress-bar",
            ],
            project,
        )
    _run(
        [
            str(BIN / "papermill"),
            "notebooks/article.ipynb",
            "naive/article.ipynb",
            "-k",
            "casereport",
            "-p",
            "data_dir",
            "data",
            "-p",
            "results_dir",
            "naive/cases",
            "-p",
            "figures_dir",
            "naive/figures",
            "--no-progress-bar",
        ],
        project,
    )
    _run(
        [str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", "naive/article.ipynb"],
        project,
    )
    _run(
        [
            sys.executable,
            "-c",
            "import weasyprint; weasyprint.HTML('naive/article.html')"
            ".write_pdf('naive/article.pdf')",
        ],
        project,
    )
    return time.perf_counter() - t0


def render(project: Path, *args: str) -> float:
    t0 = time.perf_counter()
    _run(
        [sys.executable, str(ROOT / "render.py"), "--root", str(project), "--quiet", *args], project
    )
    return time.perf_counter() - t0


def edit_article_text(project: Path, n: int) -> None:
    path = project / "notebooks" / "article.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "markdown")
    cell.source += f"\n\nBenchmark edit {n}."
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--mini", action="store_true", help="use the generated mini project")
    ap.add_argument(
        "--edit",
        default=None,
        help="parameter edit for case_edit, '{n}' replaced by the repeat number "
        "(default: A:label=v{n} on the mini project)",
    )
    ap.add_argument("--profile", type=Path, help="write a pyinstrument profile of a cold render")
    args = ap.parse_args(argv)
    real = not args.mini and any((ROOT / "data").glob("*/case.yaml"))
    times: dict[str, list[float]] = {
        k: [] for k in ("naive", "cold", "noop", "case_edit", "text_edit")
    }
    cpu: dict[str, list[float]] = {k: [] for k in times}
    load_start = [round(x, 2) for x in os.getloadavg()]

    def timed(kind: str, seconds: Callable[[], float]) -> None:
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        times[kind].append(seconds())
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[kind].append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)

    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        project = Path(tmp)
        cases = copy_real(project) if real else make_mini(project)
        edit = args.edit or f"{cases[0]}:label=v{{n}}"
        render(project, "--html-only")  # kernel spec, font caches: not part of any timing
        for n in range(1, args.repeats + 1):
            timed("naive", lambda: naive(project, cases))
            _run(
                [sys.executable, str(ROOT / "render.py"), "clean", "--root", str(project)], project
            )
            timed("cold", lambda: render(project))
            timed("noop", lambda: render(project))
            timed("case_edit", lambda: render(project, "-p", edit.format(n=n)))  # noqa: B023
            edit_article_text(project, n)
            timed("text_edit", lambda: render(project, "-p", edit.format(n=n)))  # noqa: B023
        if args.profile:
            _run(
                [sys.executable, str(ROOT / "render.py"), "clean", "--root", str(project)], project
            )
            _run(
                [
                    sys.executable,
                    "-m",
                    "pyinstrument",
                    "-r",
                    "html",
                    "-o",
                    str(args.profile.resolve()),
                    str(ROOT / "render.py"),
                    "--root",
                    str(project),
                    "--quiet",
                ],
                project,
            )
    stats = {
        k: {"median": round(statistics.median(v), 3), "min": round(min(v), 3)}
        for k, v in times.items()
    }
    med = {k: v["median"] for k, v in stats.items()}
    out = {
        "project": "real" if real else "mini",
        "repeats": args.repeats,
        "seconds": stats,
        "cold_over_naive": round(med["cold"] / med["naive"], 3),
        "cpu_seconds": {k: round(statistics.median(v), 2) for k, v in cpu.items()},
        "cold_cpu_over_naive": round(
            statistics.median(cpu["cold"]) / statistics.median(cpu["naive"]), 3
        ),
        "load_average_start": load_start,
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "noop_seconds": med["noop"],
        "case_edit_over_cold": round(med["case_edit"] / med["cold"], 3),
        "text_edit_over_cold": round(med["text_edit"] / med["cold"], 3),
        "goals": {"cold_over_naive": 0.5, "noop_seconds": 1.0, "case_edit_over_cold": 0.4},
    }
    print(json.dumps(out, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

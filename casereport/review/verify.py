"""Re-render from data/ and compare every figure with the committed figures/ (render.py verify).

Three checks, all of which must pass for exit status 0:

1. ``data/`` against ``data/MANIFEST.json``: every listed file exists with its SHA-256, and
   no DICOM file is present that the manifest does not list;
2. the de-identification gate on ``data/``;
3. every committed PNG under ``figures/`` (``figure1.png`` and ``panels/<id>.png``) against
   the re-rendered one: root-mean-square and maximum absolute difference in grey levels
   (0-255, over all RGBA channels); a panel passes when ``RMS <= tolerance``.

A diff image is written for each failing panel and an HTML report for all of them.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from casereport.deid.gate import dicom_files, require_deidentified
from casereport.errors import CaseReportError, PhiError, ReviewError
from casereport.review.provenance import sha256_file

#: Default pass threshold: RMS difference in grey levels (0-255).
DEFAULT_TOLERANCE_RMS = 1.0
MANIFEST = "MANIFEST.json"


@dataclass(frozen=True)
class PanelCheck:
    """One figure file compared with its re-rendered version.

    Attributes:
        name: path relative to the figures folder (``panels/A1.png``).
        passed: RMS within tolerance and same size.
        rms: root-mean-square difference in grey levels (0-255), ``None`` if not comparable.
        max_abs: largest absolute difference in grey levels, ``None`` if not comparable.
        note: why it failed (missing, size, over tolerance) or ``""``.
        diff_image: diff PNG written for a failure (in the report folder), or ``None``.
    """

    name: str
    passed: bool
    rms: float | None
    max_abs: float | None
    note: str = ""
    diff_image: str | None = None


@dataclass(frozen=True)
class DataCheck:
    """One data file compared with the manifest (only failures are listed)."""

    path: str
    note: str


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of :func:`verify`."""

    tolerance_rms: float
    panels: tuple[PanelCheck, ...]
    data_files_checked: int
    data_failures: tuple[DataCheck, ...]
    phi: str = ""
    render_error: str = ""
    report_dir: Path | None = None

    @property
    def passed(self) -> bool:
        return (
            bool(self.panels)
            and all(p.passed for p in self.panels)
            and not self.data_failures
            and not self.phi
            and not self.render_error
        )


# --------------------------------------------------------------------------- images


def read_png(path: Path) -> np.ndarray:
    """RGBA pixels as float64 in grey levels 0-255."""
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGBA"), dtype=np.float64)
    except (OSError, ValueError) as exc:
        raise ReviewError(path, f"not a readable PNG: {exc}") from None


def compare_images(expected: np.ndarray, actual: np.ndarray) -> tuple[float, float]:
    """(RMS, max absolute) difference in grey levels of two equally sized RGBA arrays."""
    d = expected - actual
    return float(np.sqrt(np.mean(d * d))), float(np.max(np.abs(d)))


def diff_image(expected: np.ndarray, actual: np.ndarray) -> Image.Image:
    """Committed | re-rendered | difference (white: equal; red: differs, scaled to the maximum)."""
    h = max(expected.shape[0], actual.shape[0])
    w = max(expected.shape[1], actual.shape[1])

    def pad(a: np.ndarray) -> np.ndarray:
        out = np.full((h, w, 3), 255.0)
        out[: a.shape[0], : a.shape[1]] = a[..., :3]
        return out

    e, a = pad(expected), pad(actual)
    mag = np.abs(e - a).max(axis=2)
    if expected.shape != actual.shape:
        mag[:] = 255.0
    scale = mag / mag.max() if mag.max() > 0 else mag
    heat = np.stack([np.full_like(scale, 255.0), 255.0 * (1 - scale), 255.0 * (1 - scale)], axis=2)
    gap = np.full((h, 8, 3), 128.0)
    strip = np.concatenate([e, gap, a, gap, heat], axis=1)
    return Image.fromarray(np.clip(strip, 0, 255).astype(np.uint8), mode="RGB")


def figure_pngs(figures_dir: Path) -> list[str]:
    """Figure PNGs (``figure1.png``, ``panels/*.png``) relative to ``figures_dir``, sorted."""
    found = [p for p in figures_dir.glob("*.png")] + [p for p in figures_dir.glob("panels/*.png")]
    return sorted(p.relative_to(figures_dir).as_posix() for p in found if p.is_file())


def _diff_name(name: str) -> str:
    return "diff_" + name.replace("/", "_")


def compare_figures(
    committed: Path,
    rendered: Path,
    tolerance_rms: float = DEFAULT_TOLERANCE_RMS,
    *,
    diff_dir: Path | None = None,
) -> list[PanelCheck]:
    """Compare every committed figure PNG with its counterpart in ``rendered``.

    Writes ``diff_<name>.png`` into ``diff_dir`` for each failure when given.

    Raises:
        ReviewError: ``committed`` missing or without PNGs.
    """
    if not committed.is_dir():
        raise ReviewError(
            committed,
            "no committed figures folder to compare with (render once and commit figures/)",
        )
    names = figure_pngs(committed)
    if not names:
        raise ReviewError(
            committed, "committed figures folder holds no figure1.png or panels/*.png"
        )
    extra = sorted(set(figure_pngs(rendered)) - set(names)) if rendered.is_dir() else []
    checks: list[PanelCheck] = []
    for name in names:
        exp = read_png(committed / name)
        if not (rendered / name).is_file():
            checks.append(PanelCheck(name, False, None, None, "not produced by the re-render"))
            continue
        act = read_png(rendered / name)
        diff = None
        if exp.shape != act.shape:
            passed, rms, mx = False, None, None
            note = (
                f"size differs: committed {exp.shape[1]}x{exp.shape[0]}, "
                f"re-rendered {act.shape[1]}x{act.shape[0]} px"
            )
        else:
            rms, mx = compare_images(exp, act)
            passed = rms <= tolerance_rms
            note = "" if passed else f"RMS {rms:.3f} > {tolerance_rms:g}"
        if not passed and diff_dir is not None:
            diff = _diff_name(name)
            diff_image(exp, act).save(diff_dir / diff)
        checks.append(PanelCheck(name, passed, rms, mx, note, diff))
    for name in extra:
        checks.append(PanelCheck(name, False, None, None, "re-rendered but no committed baseline"))
    return checks


# --------------------------------------------------------------------------- data


def load_manifest(data_dir: Path) -> dict[str, str]:
    """``{relative path: sha256}`` from ``data_dir/MANIFEST.json``.

    Raises:
        ReviewError: manifest missing, not JSON, or without a ``files`` mapping.
    """
    path = data_dir / MANIFEST
    if not path.is_file():
        raise ReviewError(
            path, "data manifest missing (regenerate data with python -m casereport.synth)"
        )
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReviewError(path, f"data manifest does not parse: {exc}") from None
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and len(v) == 64 for k, v in files.items()
    ):
        raise ReviewError(path, "data manifest has no 'files' mapping of path -> sha256")
    return files


def check_data(data_dir: Path) -> tuple[int, list[DataCheck]]:
    """(files checked, failures) of ``data_dir`` against its manifest."""
    files = load_manifest(data_dir)
    failures = []
    for rel, digest in sorted(files.items()):
        p = data_dir / rel
        if not p.is_file():
            failures.append(DataCheck(rel, "listed in the manifest but missing"))
        elif sha256_file(p) != digest.lower():
            failures.append(DataCheck(rel, "SHA-256 differs from the manifest"))
    listed = {Path(rel).as_posix() for rel in files}
    for p in dicom_files(data_dir):
        rel = p.relative_to(data_dir).as_posix()
        if rel not in listed:
            failures.append(DataCheck(rel, "DICOM file not listed in the manifest"))
    return len(files), failures


# --------------------------------------------------------------------------- render


def rerender(root: Path, out_dir: Path) -> Path:
    """Render the article from ``root/data`` with figures written to ``out_dir/figures``.

    Every notebook is executed (no cache) and only the HTML is exported (no PDF).
    """
    from casereport.render import RenderOptions, render

    opts = RenderOptions.for_root(
        root,
        build_dir=out_dir / "build",
        figures_dir=out_dir / "figures",
        html_only=True,
        use_cache=False,
    )
    render(opts)
    return out_dir / "figures"


def verify(
    root: str | Path,
    tolerance: float = DEFAULT_TOLERANCE_RMS,
    *,
    rendered: str | Path | None = None,
    report_dir: str | Path | None = None,
) -> VerifyReport:
    """Check ``root``'s data against its manifest and its figures against a re-render.

    Args:
        root: project root (holds ``data/`` and ``figures/``).
        tolerance: pass threshold on the RMS difference per figure, in grey levels 0-255.
        rendered: an already rendered figures folder to compare instead of re-rendering.
        report_dir: where ``report.html`` and diff images go (default ``root/build/verify``);
            replaced as a whole when the check ends.

    Raises:
        ReviewError: committed figures missing or empty, data manifest missing or unreadable.
    """
    root = Path(root).resolve()
    figures, data = root / "figures", root / "data"
    if not figures.is_dir() or not figure_pngs(figures):
        compare_figures(figures, figures)  # raises the precise ReviewError
    n_data, data_failures = check_data(data)
    phi = ""
    try:
        require_deidentified([data])
    except PhiError as err:
        phi = str(err)
    report_dir = Path(report_dir) if report_dir else root / "build" / "verify"
    report_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{report_dir.name}-", dir=report_dir.parent))
    render_error = ""
    try:
        if rendered is not None:
            rendered_dir = Path(rendered)
            if not rendered_dir.is_dir():
                raise ReviewError(rendered_dir, "rendered figures folder does not exist")
            checks = compare_figures(figures, rendered_dir, tolerance, diff_dir=stage)
        elif phi:
            checks = []
            render_error = "not re-rendered: the data failed the de-identification gate"
        else:
            work = stage / "render"
            try:
                rendered_dir = rerender(root, work)
            except CaseReportError as err:
                render_error = f"re-render failed: {err}"
                checks = []
            else:
                checks = compare_figures(figures, rendered_dir, tolerance, diff_dir=stage)
            shutil.rmtree(work, ignore_errors=True)
        report = VerifyReport(
            tolerance, tuple(checks), n_data, tuple(data_failures), phi, render_error, report_dir
        )
        (stage / "report.html").write_text(report_html(report), encoding="utf-8")
        stage.chmod(0o755)
        old = report_dir.parent / f".{report_dir.name}-old-{os.getpid()}"
        if report_dir.exists():
            os.replace(report_dir, old)
        os.replace(stage, report_dir)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return report


# --------------------------------------------------------------------------- output


def _num(x: float | None, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def tolerance_line(tolerance: float) -> str:
    return (
        f"tolerance: a figure passes when the RMS difference <= {tolerance:g} grey levels "
        "(0-255, all RGBA channels); max |difference| is reported for information"
    )


def report_text(report: VerifyReport) -> str:
    """The per-panel table and data summary printed by the command line."""
    lines = [tolerance_line(report.tolerance_rms), ""]
    lines.append(f"{'figure':<20} {'result':<6} {'RMS':>8} {'max|d|':>7}  note")
    for p in report.panels:
        lines.append(
            f"{p.name:<20} {'PASS' if p.passed else 'FAIL':<6} {_num(p.rms, '.3f'):>8} "
            f"{_num(p.max_abs, '.0f'):>7}  {p.note}"
        )
    if report.render_error:
        lines.append(f"figures: FAIL ({report.render_error})")
    lines.append("")
    status = "PASS" if not report.data_failures else "FAIL"
    lines.append(f"data: {report.data_files_checked} file(s) against data/{MANIFEST}: {status}")
    for d in report.data_failures:
        lines.append(f"  FAIL data/{d.path}: {d.note}")
    lines.append(f"de-identification gate: {'FAIL: ' + report.phi if report.phi else 'PASS'}")
    lines.append("")
    lines.append(f"verify: {'PASS' if report.passed else 'FAIL'}")
    if report.report_dir is not None:
        lines.append(f"report: {report.report_dir / 'report.html'}")
    return "\n".join(lines)


def report_html(report: VerifyReport) -> str:
    """A standalone HTML page (all text escaped; diff images linked from the same folder)."""
    e = html.escape
    rows = []
    for p in report.panels:
        img = (
            f'<br><img src="{e(p.diff_image)}" alt="committed, re-rendered and difference of '
            f'{e(p.name)}">'
            if p.diff_image
            else ""
        )
        cls = "pass" if p.passed else "fail"
        result = "PASS" if p.passed else "FAIL"
        rows.append(
            f'<tr class="{cls}"><td>{e(p.name)}</td><td>{result}</td>'
            f"<td>{e(_num(p.rms, '.3f'))}</td><td>{e(_num(p.max_abs, '.0f'))}</td>"
            f"<td>{e(p.note)}{img}</td></tr>"
        )
    data_rows = "".join(f"<li>data/{e(d.path)}: {e(d.note)}</li>" for d in report.data_failures)
    verdict = "PASS" if report.passed else "FAIL"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Verification: {verdict}</title>
<style>body{{font-family:sans-serif;max-width:70em;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .6em;vertical-align:top}}
.pass td:nth-child(2){{color:#1a7f37}}
.fail td:nth-child(2){{color:#b2182b;font-weight:bold}}img{{max-width:60em;margin-top:.4em}}</style>
</head><body>
<h1>Verification: {verdict}</h1>
<p>{e(tolerance_line(report.tolerance_rms))}. Diff images show committed | re-rendered | difference
(white: equal, red: differs, scaled to the largest difference).</p>
<h2>Figures</h2>
{f"<p class='fail'>{e(report.render_error)}</p>" if report.render_error else ""}
<table><tr><th>figure</th><th>result</th><th>RMS</th><th>max |d|</th><th>note</th></tr>
{"".join(rows)}</table>
<h2>Data</h2>
<p>{report.data_files_checked} file(s) checked against data/{MANIFEST}:
{"PASS" if not report.data_failures else "FAIL"}</p><ul>{data_rows}</ul>
<h2>De-identification gate</h2><p>{e("FAIL: " + report.phi) if report.phi else "PASS"}</p>
</body></html>
"""


# --------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options after ``render.py COMMAND`` (``--root`` is added by render.py itself)."""
    parser.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE_RMS,
        metavar="RMS",
        help=f"pass threshold per figure, RMS grey levels 0-255 "
        f"(default {DEFAULT_TOLERANCE_RMS:g})",
    )
    parser.add_argument(
        "--rendered",
        type=Path,
        metavar="DIR",
        help="compare this already rendered figures folder instead of re-rendering",
    )
    parser.add_argument(
        "--report", type=Path, metavar="DIR", help="report folder (default: ROOT/build/verify)"
    )


def run(args: argparse.Namespace) -> int:
    if not args.tolerance >= 0:
        raise ReviewError(args.root, f"--tolerance {args.tolerance}: must be >= 0")
    if args.rendered is None:
        print("verify: re-rendering the article from data/ (about a minute) ...", file=sys.stderr)
    report = verify(args.root, args.tolerance, rendered=args.rendered, report_dir=args.report)
    print(report_text(report))
    return 0 if report.passed else 1

"""Re-render from data/ and compare every figure file with figures/ exactly (render.py verify).

Three checks, all of which must pass for exit status 0:

1. ``data/`` against ``data/MANIFEST.json``: every listed file exists with its SHA-256, and
   no DICOM file (any file the de-identification gate reads as DICOM) is unlisted;
2. the de-identification gate on ``data/``;
3. every file the render writes into ``figures/`` against the re-rendered one, exactly:

   * PNG and TIFF (``figure1.png``, ``figure1.tif``, ``panels/*.png``): the bytes; where
     they differ, the decoded pixels are compared too, to say how many pixels differ and
     by how much, and a difference image is written. No tolerance: the render is
     deterministic (same inputs, byte-identical files), so one changed pixel fails.
   * SVG and PDF: the bytes. This is stricter than comparing rasterised pixels (any change
     that would move a pixel changes the bytes) and needs no rasteriser; a text diff (SVG)
     or, when ``pdftoppm`` is installed, a difference image of the first page (PDF) is
     written.
   * JSON (``panels/*.json`` alt text and provenance, ``provenance.json``): the bytes, with
     a text diff.

   A committed file the re-render does not produce, or a produced file that is not
   committed, fails too.

The report names each differing file; ``report.html`` links the difference files.
"""

from __future__ import annotations

import difflib
import html
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from casereport.deid.gate import dicom_files, require_data_deidentified
from casereport.errors import CaseReportError, PhiError, ReviewError
from casereport.fileio import sha256_file

MANIFEST = "MANIFEST.json"
#: files of the figures folder that the render does not write: never compared
NOT_RENDERED = frozenset({"README.md", ".gitkeep", ".gitignore"})
RASTER = frozenset({".png", ".tif", ".tiff"})
#: how the comparison works, printed at the top of the report
METHOD = (
    "comparison: exact (no tolerance): every file's bytes; PNG/TIFF that differ are also "
    "decoded and compared pixel by pixel, with a difference image"
)


@dataclass(frozen=True)
class FileCheck:
    """One figure file compared with its re-rendered version.

    Attributes:
        name: path relative to the figures folder (``panels/A1.png``).
        passed: the bytes are identical.
        pixels: number of pixels that differ (PNG/TIFF whose bytes differ), else ``None``.
        max_abs: largest absolute difference of a channel in grey levels (0-255), or
            ``None`` when not compared.
        note: why it failed or ``""``.
        diff_image: difference file written for a failure (in the report folder), or ``None``.
    """

    name: str
    passed: bool
    pixels: int | None = None
    max_abs: float | None = None
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

    files: tuple[FileCheck, ...]
    data_files_checked: int
    data_failures: tuple[DataCheck, ...]
    phi: str = ""
    render_error: str = ""
    report_dir: Path | None = None

    @property
    def passed(self) -> bool:
        return (
            bool(self.files)
            and all(p.passed for p in self.files)
            and not self.data_failures
            and not self.phi
            and not self.render_error
        )


# --------------------------------------------------------------------------- images


def read_image(path: Path) -> np.ndarray:
    """Decoded RGBA pixels (PNG, TIFF) as uint8, grey levels 0-255.

    Raises:
        ReviewError: the file cannot be decoded.
    """
    try:
        with Image.open(path) as img:
            img.load()
            return np.asarray(img.convert("RGBA"), dtype=np.uint8)
    except (OSError, ValueError, SyntaxError) as exc:
        raise ReviewError(path, f"cannot be decoded as an image: {exc}") from None


#: pixels kept around the differing region in a difference image
DIFF_MARGIN_PX = 24
#: narrower difference images are enlarged (nearest neighbour) to at least this width
DIFF_MIN_WIDTH_PX = 480


def _region(mag: np.ndarray) -> tuple[slice, slice]:
    """The bounding box of the non-zero pixels of ``mag`` plus a margin (all if none)."""
    ys, xs = np.nonzero(mag)
    if ys.size == 0:
        return slice(None), slice(None)
    m = DIFF_MARGIN_PX
    return (
        slice(max(int(ys.min()) - m, 0), int(ys.max()) + m + 1),
        slice(max(int(xs.min()) - m, 0), int(xs.max()) + m + 1),
    )


def diff_image(expected: np.ndarray, actual: np.ndarray) -> Image.Image:
    """Committed | re-rendered | difference, cropped to the differing region plus a margin
    (whole images when their sizes differ), enlarged by a whole factor when narrow. In the
    difference, white is equal and red differs, at least half red for the smallest
    difference so a single pixel shows."""
    h = max(expected.shape[0], actual.shape[0])
    w = max(expected.shape[1], actual.shape[1])

    def pad(a: np.ndarray) -> np.ndarray:
        out = np.full((h, w, 4), 255, dtype=np.int16)
        out[: a.shape[0], : a.shape[1]] = a
        return out

    e, a = pad(expected), pad(actual)
    mag = np.abs(e - a).max(axis=2)
    if expected.shape != actual.shape:
        mag[:] = 255
    rows, cols = _region(mag)
    e, a, mag = e[rows, cols, :3], a[rows, cols, :3], mag[rows, cols].astype(np.float32)
    scale = np.where(mag > 0, 0.5 + 0.5 * mag / max(float(mag.max()), 1.0), 0.0)
    fade = (255.0 * (1 - scale)).astype(np.int16)
    heat = np.stack([np.full_like(fade, 255), fade, fade], axis=2)
    gap = np.full((e.shape[0], 8, 3), 128, dtype=np.int16)
    strip = np.concatenate([e, gap, a, gap, heat], axis=1)
    img = Image.fromarray(np.clip(strip, 0, 255).astype(np.uint8), mode="RGB")
    zoom = max(1, DIFF_MIN_WIDTH_PX // img.width)  # small regions: whole pixels enlarged
    return img.resize((img.width * zoom, img.height * zoom), Image.Resampling.NEAREST)


def figure_files(figures_dir: Path) -> list[str]:
    """Every file the render writes into ``figures_dir``, relative and sorted (hidden files
    and :data:`NOT_RENDERED` left out)."""
    out = []
    for p in figures_dir.rglob("*"):
        rel = p.relative_to(figures_dir)
        if any(part.startswith(".") for part in rel.parts) or rel.as_posix() in NOT_RENDERED:
            continue
        if p.is_file():
            out.append(rel.as_posix())
    return sorted(out)


def _diff_name(name: str, suffix: str = ".png") -> str:
    return "diff_" + name.replace("/", "_") + ("" if name.endswith(suffix) else suffix)


def _first_difference(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    for start in range(0, n, 1 << 16):
        if a[start : start + (1 << 16)] != b[start : start + (1 << 16)]:
            return start + next(
                i for i, (x, y) in enumerate(zip(a[start:], b[start:], strict=False)) if x != y
            )
    return n


def _compare_raster(name: str, committed: Path, rendered: Path, diff_dir: Path | None) -> FileCheck:
    try:
        exp, act = read_image(committed), read_image(rendered)
    except ReviewError as err:
        return FileCheck(name, False, note=err.reason)
    diff = None
    if diff_dir is not None:
        diff = _diff_name(name)
        diff_image(exp, act).save(diff_dir / diff)
    if exp.shape != act.shape:
        note = (
            f"size differs: committed {exp.shape[1]}x{exp.shape[0]}, "
            f"re-rendered {act.shape[1]}x{act.shape[0]} px"
        )
        return FileCheck(name, False, note=note, diff_image=diff)
    d = np.abs(exp.astype(np.int16) - act).max(axis=2)
    pixels = int(np.count_nonzero(d))
    mx = float(d.max())
    note = (
        f"{pixels} pixel(s) differ (max |difference| {mx:.0f})"
        if pixels
        else "pixels identical, bytes differ (metadata or encoding)"
    )
    return FileCheck(name, False, pixels, mx, note, diff)


def _pdf_page(path: Path, out: Path) -> np.ndarray | None:
    """First page of a PDF at 100 dpi as RGBA, or ``None`` without pdftoppm."""
    exe = shutil.which("pdftoppm")
    if exe is None:
        return None
    try:
        subprocess.run(
            [exe, "-r", "100", "-f", "1", "-l", "1", "-png", "-singlefile", str(path), str(out)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        return read_image(out.with_suffix(".png"))
    except (OSError, subprocess.SubprocessError, ReviewError):
        return None


def _compare_bytes(
    name: str, committed: Path, rendered: Path, a: bytes, b: bytes, diff_dir: Path | None
) -> FileCheck:
    at = _first_difference(a, b)
    note = f"bytes differ (first at byte {at}; {len(a)} committed, {len(b)} re-rendered)"
    diff = None
    if diff_dir is not None and name.endswith(".pdf"):
        tmp = Path(tempfile.mkdtemp(dir=diff_dir))
        try:
            pa, pb = _pdf_page(committed, tmp / "a"), _pdf_page(rendered, tmp / "b")
            if pa is not None and pb is not None:
                diff = _diff_name(name)
                diff_image(pa, pb).save(diff_dir / diff)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    elif diff_dir is not None:
        try:
            lines = difflib.unified_diff(
                a.decode("utf-8").splitlines(keepends=True),
                b.decode("utf-8").splitlines(keepends=True),
                f"committed/{name}",
                f"re-rendered/{name}",
                n=2,
            )
        except UnicodeDecodeError:
            pass
        else:
            diff = _diff_name(name, ".diff")
            (diff_dir / diff).write_text("".join(lines), encoding="utf-8")
    return FileCheck(name, False, note=note, diff_image=diff)


def compare_file(
    name: str, committed: Path, rendered: Path, diff_dir: Path | None = None
) -> FileCheck:
    """Compare one committed figure file with its re-rendered version (see module doc)."""
    try:
        a, b = committed.read_bytes(), rendered.read_bytes()
    except OSError as exc:
        return FileCheck(name, False, note=f"cannot be read: {exc.strerror or exc}")
    if a == b:
        raster = Path(name).suffix.lower() in RASTER
        return FileCheck(name, True, 0 if raster else None, 0.0 if raster else None)
    if Path(name).suffix.lower() in RASTER:
        return _compare_raster(name, committed, rendered, diff_dir)
    return _compare_bytes(name, committed, rendered, a, b, diff_dir)


def compare_figures(
    committed: Path, rendered: Path, *, diff_dir: Path | None = None
) -> list[FileCheck]:
    """Compare every committed figure file with its counterpart in ``rendered``.

    Writes a difference file into ``diff_dir`` for each failure when given.

    Raises:
        ReviewError: ``committed`` missing or without figure files.
    """
    if not committed.is_dir():
        raise ReviewError(
            committed,
            "no committed figures folder to compare with (render once and commit figures/)",
        )
    names = figure_files(committed)
    if not names:
        raise ReviewError(committed, "committed figures folder holds no figure files")
    produced = set(figure_files(rendered)) if rendered.is_dir() else set()
    checks: list[FileCheck] = []
    for name in names:
        if name not in produced:
            checks.append(FileCheck(name, False, note="not produced by the re-render"))
            continue
        checks.append(compare_file(name, committed / name, rendered / name, diff_dir))
    for name in sorted(produced - set(names)):
        checks.append(FileCheck(name, False, note="re-rendered but not committed"))
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


def rerender(root: Path, out_dir: Path, *, progress: bool = False) -> Path:
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
        progress=progress,
        verbose=progress,
    )
    render(opts)
    return out_dir / "figures"


def verify(
    root: str | Path,
    *,
    rendered: str | Path | None = None,
    report_dir: str | Path | None = None,
    progress: bool = False,
) -> VerifyReport:
    """Check ``root``'s data against its manifest and its figures against a re-render.

    Args:
        root: project root (holds ``data/`` and ``figures/``).
        rendered: an already rendered figures folder to compare instead of re-rendering.
        report_dir: where ``report.html`` and diff images go (default ``root/build/verify``);
            replaced as a whole when the check ends.
        progress: report the steps of the re-render on stderr.

    Raises:
        ReviewError: committed figures missing or empty, data manifest missing or unreadable.
    """
    root = Path(root).resolve()
    figures, data = root / "figures", root / "data"
    if not figures.is_dir() or not figure_files(figures):
        compare_figures(figures, figures)  # raises the precise ReviewError
    n_data, data_failures = check_data(data)
    phi = ""
    try:
        require_data_deidentified(data)
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
            checks = compare_figures(figures, rendered_dir, diff_dir=stage)
        elif phi:
            checks = []
            render_error = "not re-rendered: the data failed the de-identification gate"
        else:
            work = stage / "render"
            try:
                rendered_dir = rerender(root, work, progress=progress)
            except CaseReportError as err:
                render_error = f"re-render failed: {err}"
                checks = []
            else:
                checks = compare_figures(figures, rendered_dir, diff_dir=stage)
            shutil.rmtree(work, ignore_errors=True)
        report = VerifyReport(
            tuple(checks), n_data, tuple(data_failures), phi, render_error, report_dir
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


def report_text(report: VerifyReport) -> str:
    """The per-file table and data summary printed by the command line."""
    lines = [METHOD, ""]
    width = max([20, *(len(p.name) for p in report.files)])
    lines.append(f"{'file':<{width}} {'result':<6} {'pixels':>7} {'max|d|':>7}  note")
    for p in report.files:
        lines.append(
            f"{p.name:<{width}} {'PASS' if p.passed else 'FAIL':<6} {_num(p.pixels, 'd'):>7} "
            f"{_num(p.max_abs, '.0f'):>7}  {p.note}"
        )
    if report.render_error:
        lines.append(f"figures: FAIL ({report.render_error})")
    failed = [p.name for p in report.files if not p.passed]
    if failed:
        lines.append(f"differing figure files: {', '.join(failed)}")
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


def _diff_link(name: str | None, target: str) -> str:
    e = html.escape
    if not name:
        return ""
    if name.endswith(".png"):
        return (
            f'<br><img src="{e(name)}" alt="committed, re-rendered and difference of {e(target)}">'
        )
    return f'<br><a href="{e(name)}">{e(name)}</a>'


def report_html(report: VerifyReport) -> str:
    """A standalone HTML page (all text escaped; difference files linked from the folder)."""
    e = html.escape
    rows = []
    for p in report.files:
        cls = "pass" if p.passed else "fail"
        result = "PASS" if p.passed else "FAIL"
        rows.append(
            f'<tr class="{cls}"><td>{e(p.name)}</td><td>{result}</td>'
            f"<td>{e(_num(p.pixels, 'd'))}</td><td>{e(_num(p.max_abs, '.0f'))}</td>"
            f"<td>{e(p.note)}{_diff_link(p.diff_image, p.name)}</td></tr>"
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
<p>{e(METHOD)}. Difference images show committed | re-rendered | difference
(white: equal, red: differs; darker red for larger differences), cropped to the region
that differs plus {DIFF_MARGIN_PX} pixels.</p>
<h2>Figures</h2>
{f"<p class='fail'>{e(report.render_error)}</p>" if report.render_error else ""}
<table><tr><th>file</th><th>result</th><th>pixels differing</th><th>max |d|</th><th>note</th></tr>
{"".join(rows)}</table>
<h2>Data</h2>
<p>{report.data_files_checked} file(s) checked against data/{MANIFEST}:
{"PASS" if not report.data_failures else "FAIL"}</p><ul>{data_rows}</ul>
<h2>De-identification gate</h2><p>{e("FAIL: " + report.phi) if report.phi else "PASS"}</p>
</body></html>
"""

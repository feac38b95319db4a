"""Write a deterministic zip of article, figures and notebooks for journal submission.

Contents (sorted, every entry dated ``SOURCE_DATE_EPOCH`` or 1980-01-01, mode 0644)::

    README.txt                what is inside and how to check it
    SHA256SUMS                SHA-256 of every other entry
    article.html, article.pdf from build/
    figures/...               the published figure files, panels and provenance.json
    notebooks/*.ipynb         the executed notebooks from build/notebooks/
    data/MANIFEST.json        SHA-256 of every input DICOM file
    environment/requirements.txt   installed distributions, ``pip freeze`` format

The data themselves are not included. The bundle is refused when the input DICOM fail the
de-identification gate (there is no ``--allow-phi`` here).

``--meca`` writes the same files as a MECA package (Manuscript Exchange Common Approach,
manifest version 1) instead, for journal systems that take one: ``manifest.xml`` first,
then ``article.jats.xml`` (the article metadata and text, JATS 1.3), the PDF and HTML
(the manuscript), the Figure 1 files (one figure item, one instance per format) and every
other entry as supplementary material. Same inputs, same bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import os
import platform
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from casereport.deid.gate import require_data_deidentified
from casereport.errors import ReviewError
from casereport.render.jats import JATS_NAME

_EPOCH_1980 = (1980, 1, 1, 0, 0, 0)
_MODE = 0o100644


@dataclass(frozen=True)
class BundleResult:
    """The zip written and its entry names."""

    path: Path
    entries: tuple[str, ...]


def zip_date_time(environ: dict[str, str] | None = None) -> tuple[int, int, int, int, int, int]:
    """Entry timestamp: ``SOURCE_DATE_EPOCH`` (UTC, not before 1980) or 1980-01-01 00:00."""
    env = os.environ if environ is None else environ
    raw = env.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        return _EPOCH_1980
    try:
        t = dt.datetime.fromtimestamp(int(raw), tz=dt.UTC)
    except (ValueError, OverflowError, OSError):
        raise ReviewError("SOURCE_DATE_EPOCH", f"{raw!r} is not a Unix time in seconds") from None
    if t.year < 1980:
        return _EPOCH_1980
    return (t.year, t.month, t.day, t.hour, t.minute, t.second - t.second % 2)


def freeze() -> str:
    """Installed distributions as ``name==version`` lines, sorted (``pip freeze`` format)."""
    seen: dict[str, str] = {}
    for d in importlib.metadata.distributions():
        name = d.metadata["Name"]
        if name:
            seen.setdefault(name.lower(), f"{name}=={d.version}")
    return "".join(line + "\n" for _, line in sorted(seen.items()))


def _readme(root: Path, entries: list[str]) -> str:
    py = f"{platform.python_implementation()} {platform.python_version()}"
    listing = "\n".join(f"  {e}" for e in entries)
    return f"""Submission bundle: reproducible case report ({root.name})
=============================================================

Contents
--------
{listing}

article.html / article.pdf   the rendered article (HTML is self-contained)
article.jats.xml             (MECA package only) the article as JATS 1.3 XML
manifest.xml                 (MECA package only) what each file is, for the journal system
figures/                     Figure 1 in PNG, TIFF, SVG and PDF; each panel as PNG with a
                             JSON sidecar; provenance.json lists for each panel the DICOM
                             files, SeriesInstanceUID, frames or slices, display window,
                             annotation file, notebook and parameters
notebooks/                   the executed notebooks that produced the article
data/MANIFEST.json           SHA-256 of every input DICOM file (the data are simulated
                             and are distributed with the source repository)
environment/requirements.txt the Python distributions installed when the bundle was made
                             ({py}); install with pip install -r
SHA256SUMS                   checksums of every file in this bundle (sha256sum -c SHA256SUMS)

How to check the figures
------------------------
In a checkout of the source repository with the data/ folder:

  make test                     # creates .venv and runs the test suite
  . .venv/bin/activate
  python render.py verify       # re-renders from data/, compares every file in figures/
                                # exactly (no tolerance) and data/ with its manifest

All input DICOM passed the DICOM PS3.15 Basic Application Level Confidentiality Profile
gate before this bundle was written (see docs/DEIDENTIFICATION.md in the repository).
"""


def collect(root: Path, *, build_dir: Path, figures_dir: Path, data_dir: Path) -> dict[str, Path]:
    """``{entry name: source file}`` of the bundle (README and checksums excluded).

    Raises:
        ReviewError: a required input is missing (lists all of them).
    """
    files: dict[str, Path] = {}
    missing = []
    for name in ("article.html", "article.pdf"):
        p = build_dir / name
        (files.__setitem__(name, p) if p.is_file() else missing.append(str(p)))
    figs = (
        sorted(
            p
            for p in figures_dir.rglob("*")
            if p.is_file() and not any(s.startswith(".") for s in p.relative_to(figures_dir).parts)
        )
        if figures_dir.is_dir()
        else []
    )
    if not figs:
        missing.append(f"{figures_dir}/ (figure files)")
    for p in figs:
        files["figures/" + p.relative_to(figures_dir).as_posix()] = p
    notebooks = sorted((build_dir / "notebooks").glob("*.ipynb"))
    if not notebooks:
        missing.append(f"{build_dir / 'notebooks'}/*.ipynb (executed notebooks)")
    for p in notebooks:
        files["notebooks/" + p.name] = p
    manifest = data_dir / "MANIFEST.json"
    (
        files.__setitem__("data/MANIFEST.json", manifest)
        if manifest.is_file()
        else missing.append(str(manifest))
    )
    if missing:
        raise ReviewError(
            root, "cannot bundle, missing: " + ", ".join(missing) + " (run python render.py first)"
        )
    return files


def _entry(name: str, date_time: tuple[int, int, int, int, int, int]) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=date_time)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3
    info.external_attr = _MODE << 16
    return info


def _folders(
    root: str | Path,
    build_dir: str | Path | None,
    figures_dir: str | Path | None,
    data_dir: str | Path | None,
) -> tuple[Path, Path, Path, Path]:
    """The project root (resolved) and the build, figures and data folders a bundle reads
    (by default ``build/``, ``figures/`` and ``data/`` under the root)."""
    root = Path(root).resolve()
    build = Path(build_dir) if build_dir else root / "build"
    figures = Path(figures_dir) if figures_dir else root / "figures"
    data = Path(data_dir) if data_dir else root / "data"
    return root, build, figures, data


def build_bundle(
    root: str | Path,
    target: str | Path | None = None,
    *,
    build_dir: str | Path | None = None,
    figures_dir: str | Path | None = None,
    data_dir: str | Path | None = None,
) -> BundleResult:
    """Write the submission zip (see the module docstring); same inputs, same bytes.

    Args:
        root: project root.
        target: the zip to create (default ``root/build/submission.zip``); must not exist.

    Raises:
        ReviewError: the target exists, an input is missing, or the build is older than
            its inputs (see :func:`check_fresh`).
        PhiError: an input DICOM file fails the de-identification gate.
    """
    root, build, figures, data = _folders(root, build_dir, figures_dir, data_dir)
    target = Path(target) if target else build / "submission.zip"
    if target.exists():
        raise ReviewError(target, "bundle target exists; remove it or choose another name")
    contents = _contents(root, build, figures, data, {})
    _write_zip(target, dict(sorted(contents.items())))
    return BundleResult(target, tuple(sorted(contents)))


def check_fresh(root: Path, build: Path, data: Path) -> None:
    """Refuse a build older than its inputs, using the render's ``build/manifest.json``.

    Every input it records (case files, data, notebooks) must still have the recorded
    SHA-256, every output (article, notebooks, figures) too, and no case file may have
    appeared since.

    Raises:
        ReviewError: no manifest, or what changed since the render (first few paths).
    """
    import json

    from casereport.fileio import sha256_file

    manifest = build / "manifest.json"
    hint = "run python render.py again, then bundle"
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
        recorded = [(str(e["path"]), str(e["sha256"])) for e in doc["inputs"] + doc["outputs"]]
    except FileNotFoundError:
        raise ReviewError(
            manifest, f"no render manifest: the build cannot be dated; {hint}"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReviewError(manifest, f"render manifest unreadable ({exc}); {hint}") from None
    changed = []
    for rel, digest in recorded:
        path = Path(rel) if Path(rel).is_absolute() else root / rel
        try:
            same = sha256_file(path) == digest
        except OSError:
            same = False
        if not same:
            changed.append(rel)
    listed = {rel for rel, _ in recorded}
    from casereport.case import case_files

    for case_file in case_files(data).values():
        rel = os.path.relpath(case_file, root)
        if Path(rel).as_posix() not in listed and str(case_file) not in listed:
            changed.append(Path(rel).as_posix())
    if changed:
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        raise ReviewError(
            build / "article.html",
            f"stale: {', '.join(changed[:3])}{more} changed since the render; {hint}",
        )


def _contents(
    root: Path, build: Path, figures: Path, data: Path, extra: dict[str, Path]
) -> dict[str, bytes]:
    """Every entry of the bundle (``extra`` added before the checksums and README)."""
    files = collect(root, build_dir=build, figures_dir=figures, data_dir=data) | extra
    check_fresh(root, build, data)
    require_data_deidentified(data)
    contents = {name: path.read_bytes() for name, path in files.items()}
    contents["environment/requirements.txt"] = freeze().encode()
    sums = "".join(f"{hashlib.sha256(b).hexdigest()}  {n}\n" for n, b in sorted(contents.items()))
    contents["SHA256SUMS"] = sums.encode()
    names = sorted(contents) + ["README.txt"]
    contents["README.txt"] = _readme(root, sorted(names)).encode()
    return contents


MECA_NS = "https://manuscriptexchange.org/schema/manifest"
_MEDIA_TYPES = {
    ".xml": "application/xml",
    ".pdf": "application/pdf",
    ".html": "text/html",
    ".png": "image/png",
    ".tif": "image/tiff",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".ipynb": "application/x-ipynb+json",
    ".txt": "text/plain",
}


def media_type(name: str) -> str:
    """MIME type of a package entry by its extension (``text/plain`` for SHA256SUMS)."""
    return _MEDIA_TYPES.get(Path(name).suffix.lower(), "text/plain")


def meca_items(names: list[str]) -> list[tuple[str, str, list[str]]]:
    """``(item-type, description, [entry names])`` of the MECA manifest, in manifest order."""
    figure = sorted(n for n in names if re.fullmatch(r"figures/figure\d+\.\w+", n))
    manuscript: list[str] = [n for n in ("article.pdf", "article.html") if n in names]
    items: list[tuple[str, str, list[str]]] = [
        ("article-metadata", "Article metadata and text, JATS 1.3", [JATS_NAME]),
        ("manuscript", "The rendered article", manuscript),
    ]
    by_number: dict[str, list[str]] = {}
    for n in figure:
        by_number.setdefault(re.sub(r"\D", "", Path(n).stem), []).append(n)
    for number, files in sorted(by_number.items(), key=lambda kv: int(kv[0])):
        items.append(("figure", f"Figure {number}", files))
    done = {JATS_NAME, *manuscript, *figure}
    for n in names:
        if n not in done:
            items.append(("supplementary-material", n, [n]))
    return items


def meca_manifest(names: list[str]) -> bytes:
    """``manifest.xml`` listing every entry of the package (see :func:`meca_items`)."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<!DOCTYPE manifest PUBLIC "-//MECA//DTD Manifest v1.0//en" '
        '"https://meca.zip/manifest-1.0.dtd">',
        f'<manifest xmlns="{MECA_NS}" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'manifest-version="1">',
    ]
    for i, (kind, description, files) in enumerate(meca_items(names), start=1):
        lines.append(f'  <item id="item-{i}" item-type="{kind}">')
        lines.append(f"    <item-description>{xml_escape(description)}</item-description>")
        for f in files:
            lines.append(
                f'    <instance media-type="{media_type(f)}" xlink:href="{xml_escape(f)}"/>'
            )
        lines.append("  </item>")
    lines.append("</manifest>")
    return ("\n".join(lines) + "\n").encode()


def build_meca(
    root: str | Path,
    target: str | Path | None = None,
    *,
    build_dir: str | Path | None = None,
    figures_dir: str | Path | None = None,
    data_dir: str | Path | None = None,
) -> BundleResult:
    """Write the MECA package (module docstring): the bundle's files plus the JATS XML and
    ``manifest.xml``; default target ``root/build/submission.meca.zip``.

    Raises:
        ReviewError: the target exists, or an input (including the JATS XML) is missing.
        PhiError: an input DICOM file fails the de-identification gate.
    """
    root, build, figures, data = _folders(root, build_dir, figures_dir, data_dir)
    target = Path(target) if target else build / "submission.meca.zip"
    jats = build / JATS_NAME
    if not jats.is_file():
        raise ReviewError(root, f"cannot bundle, missing: {jats} (run python render.py first)")
    if target.exists():
        raise ReviewError(target, "bundle target exists; remove it or choose another name")
    contents = _contents(root, build, figures, data, {JATS_NAME: jats})
    if not _recorded_output(root, build / "manifest.json", jats):
        raise ReviewError(
            jats, "not written by the last render (an --html-only render?); run python render.py"
        )
    manifest = meca_manifest(sorted(contents))
    _write_zip(target, {"manifest.xml": manifest, **dict(sorted(contents.items()))})
    return BundleResult(target, ("manifest.xml", *sorted(contents)))


def _recorded_output(root: Path, manifest: Path, path: Path) -> bool:
    """Whether the render manifest lists ``path`` among its outputs."""
    import json

    doc = json.loads(manifest.read_text(encoding="utf-8"))
    for entry in doc.get("outputs", []):
        p = Path(str(entry["path"]))
        if (p if p.is_absolute() else root / p).resolve() == path.resolve():
            return True
    return False


def _write_zip(target: Path, contents: dict[str, bytes]) -> None:
    """Write ``contents`` in the given order, deterministic entries, atomically."""
    when = zip_date_time()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w") as zf:
            for name, data in contents.items():
                zf.writestr(_entry(name, when), data, compresslevel=9)
        os.chmod(tmp, 0o644)
        if target.exists():
            raise ReviewError(target, "bundle target appeared while writing; not replaced")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

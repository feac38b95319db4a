"""HTML building blocks for the notebooks: escaped tables, figures with provenance.

Every piece of text that comes from data (case files, DICOM descriptions, annotation
labels) passes through :func:`html.escape`, so it is shown, never interpreted.
"""

from __future__ import annotations

import base64
import html
import importlib.metadata
import json
import math
import platform
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from casereport.fileio import sha256_file

if TYPE_CHECKING:
    from casereport.analysis import CaseAnalysis

#: Packages whose versions the Reproducibility section reports.
KEY_PACKAGES = (
    "casereport",
    "numpy",
    "scipy",
    "matplotlib",
    "pydicom",
    "pylibjpeg",
    "papermill",
    "nbclient",
    "nbconvert",
    "ipykernel",
    "weasyprint",
    "pyyaml",
)


def esc(value: Any) -> str:
    """Escape any value for HTML text or attribute context."""
    return html.escape(str(value), quote=True)


def fmt(value: Any, digits: int = 2) -> str:
    """Format a number for a table: fixed decimals, ``n/a`` for missing/NaN."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.{digits}f}"
    return str(value)


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    caption: str = "",
    numeric: Sequence[int] = (),
) -> str:
    """An HTML table; cells are escaped, columns in ``numeric`` right-aligned."""
    num = set(numeric)

    def cells(values: Sequence[Any], tag: str) -> str:
        return "".join(
            f"<{tag}{' class=num' if i in num else ''}>{esc(v)}</{tag}>"
            for i, v in enumerate(values)
        )

    parts = ["<table>"]
    if caption:
        parts.append(f"<caption>{esc(caption)}</caption>")
    parts.append(f"<thead><tr>{cells(headers, 'th')}</tr></thead><tbody>")
    parts.extend(f"<tr>{cells(r, 'td')}</tr>" for r in rows)
    parts.append("</tbody></table>")
    return "".join(parts)


def png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def figure_html(
    image: Path, *, caption: str, alt: str, label: str = "", provenance: str = ""
) -> str:
    """``<figure>`` with the PNG embedded, an escaped caption and optional provenance."""
    lab = f"<b>{esc(label)}</b> " if label else ""
    return (
        f'<figure><img src="{png_data_uri(image)}" alt="{esc(alt)}" style="width:100%">'
        f"<figcaption>{lab}{esc(caption)}</figcaption>{provenance}</figure>"
    )


def check_manifest(data_dir: Path) -> tuple[int, list[str]]:
    """Verify ``data_dir/MANIFEST.json``: (number of files checked, paths that differ)."""
    manifest = json.loads((Path(data_dir) / "MANIFEST.json").read_text())
    files: Mapping[str, str] = manifest.get("files", {})
    bad = [
        rel
        for rel, digest in sorted(files.items())
        if not (Path(data_dir) / rel).is_file() or sha256_file(Path(data_dir) / rel) != digest
    ]
    return len(files), bad


def versions(packages: Sequence[str] = KEY_PACKAGES) -> list[tuple[str, str]]:
    """(package, installed version) for the packages that produced the article."""
    out = [("python", platform.python_version())]
    for name in packages:
        try:
            out.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            out.append((name, "not installed"))
    return out


# ------------------------------------------------------------------ article building blocks


def load_results(results_dir: Path) -> dict[str, dict[str, Any]]:
    """``{case id: results.json}`` for every case folder under ``results_dir``."""
    out = {}
    for path in sorted(Path(results_dir).glob("*/results.json")):
        data = json.loads(path.read_text())
        out[str(data.get("case_id", path.parent.name))] = data
    return out


def _planar(result: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    for m in result.get("planar", []):
        if m.get("name") == name:
            return m
    return {}


def measured(result: Mapping[str, Any], name: str, key: str = "case") -> float | None:
    """One planar ratio from a results dict (``key``: case, control or case_over_control)."""
    value = _planar(result, name).get(key)
    return None if value is None else float(value)


def findings_rows(results: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    """Rows of the quantitative-findings table, one per case (values as computed)."""
    rows = []

    def pair(r: Mapping[str, Any], name: str) -> str:
        return f"{fmt(measured(r, name))} ({fmt(measured(r, name, 'control'))})"

    for case_id, r in sorted(results.items()):
        lesions = r.get("lesions", [])
        les = (
            (
                f"{len(lesions)}: {fmt(min(x['lesion_to_normal'] for x in lesions), 1)}–"
                f"{fmt(max(x['lesion_to_normal'] for x in lesions), 1)}"
            )
            if lesions
            else "none"
        )
        ct, ctc = r.get("ct") or {}, r.get("ct_control") or {}
        ct_txt = f"{fmt(ct.get('mean_hu'), 0)} ({fmt(ctc.get('mean_hu'), 0)})" if ct else "n/a"
        spect = r.get("spect") or {}
        rows.append(
            [
                case_id,
                pair(r, "lung / soft tissue"),
                pair(r, "lung / rib"),
                pair(r, "lung heterogeneity (CV)"),
                pair(r, "stomach / liver"),
                les,
                ct_txt,
                fmt(spect.get("lung_to_vertebra"), 3) if spect else "n/a",
            ]
        )
    return rows


FINDINGS_HEADERS = (
    "case",
    "lung / soft tissue",
    "lung / rib",
    "lung heterogeneity (CV)",
    "stomach / liver",
    "bone lesions: n, lesion / normal bone",
    "CT mean lung HU",
    "SPECT lung / vertebra",
)


def sidecars(figures_dir: Path) -> dict[str, dict[str, Any]]:
    """``{panel id: sidecar}`` from ``figures_dir/panels/*.json``."""
    return {
        p.stem: json.loads(p.read_text())
        for p in sorted((Path(figures_dir) / "panels").glob("*.json"))
    }


def figure_caption(panels: Mapping[str, Mapping[str, Any]], layout: Sequence[Sequence[str]]) -> str:
    """Caption text of the composite: each panel's own caption, row by row."""
    parts = []
    for row in layout:
        parts.append(
            " ".join(f"({pid}) {panels[pid].get('caption', '')}" for pid in row if pid in panels)
        )
    return " ".join(parts)


_SEX = {"F": "woman", "M": "man"}


def case_paragraph(spec: Any, result: Mapping[str, Any]) -> str:
    """One case: patient facts and findings from the case file, then the measured values."""
    p = spec.patient
    who = f"A {p.age_years}-year-old {_SEX.get(p.sex, 'patient')} with {p.history}."
    findings = " ".join(f.rstrip(".") + "." for f in spec.findings)
    nums = []
    lung = measured(result, "lung / soft tissue")
    if lung is not None:
        nums.append(
            f"lung-to-soft-tissue ratio {fmt(lung)} "
            f"(control {fmt(measured(result, 'lung / soft tissue', 'control'))})"
        )
    stomach = measured(result, "stomach / liver")
    if stomach is not None:
        nums.append(
            f"stomach-to-liver ratio {fmt(stomach)} "
            f"(control {fmt(measured(result, 'stomach / liver', 'control'))})"
        )
    lesions = result.get("lesions", [])
    if lesions:
        sites = ", ".join(f"{x['site']} {fmt(x['lesion_to_normal'], 1)}" for x in lesions)
        nums.append(f"{len(lesions)} focal bone lesions, lesion-to-normal-bone ratio {sites}")
    ct, ctc = result.get("ct"), result.get("ct_control")
    if ct:
        ref = f" (control {fmt(ctc['mean_hu'], 0)} HU)" if ctc else ""
        nums.append(f"mean lung attenuation on CT {fmt(ct['mean_hu'], 0)} HU{ref}")
    spect = result.get("spect")
    if spect:
        nums.append(f"SPECT lung-to-vertebra uptake ratio {fmt(spect['lung_to_vertebra'], 3)}")
    measured_txt = ("Measured: " + "; ".join(nums) + ".") if nums else ""
    return (
        f"<h3>Case {esc(spec.case_id)}</h3><p>{esc(who)} {esc(findings)}</p>"
        f'<p class="small">{esc(measured_txt)}</p>'
    )


def case_paragraphs(specs: Mapping[str, Any], results: Mapping[str, Mapping[str, Any]]) -> str:
    return "".join(case_paragraph(specs[c], results[c]) for c in sorted(results) if c in specs)


def figure_png(fig: Any, *, dpi: int = 110) -> bytes:
    """PNG bytes of a matplotlib figure, without timestamps or software metadata."""
    import io as _io

    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def show_figure(fig: Any, *, alt: str, dpi: int = 110) -> Any:
    """An IPython image of ``fig`` with alt text (works with or without pyplot)."""
    from IPython.display import Image

    return Image(data=figure_png(fig, dpi=dpi), format="png", metadata={"alt": alt})


def provenance_appendix(provenance: Mapping[str, Any]) -> str:
    """Printed appendix: the sources of every panel (the HTML shows them under the figure)."""
    from casereport.review.provenance import provenance_rows

    parts = ['<section class="print-only appendix"><h2>Appendix: sources of each panel</h2>']
    for pid in sorted(provenance.get("panels", {})):
        rows = provenance_rows(provenance["panels"][pid])
        parts.append(table(["panel " + pid, ""], rows))
    parts.append("</section>")
    return "".join(parts)


def case_tables(result: CaseAnalysis) -> str:
    """HTML tables of one case's measurements beside the control (the case notebook)."""
    parts = [
        table(
            ["measurement", "view", "case", "control", "case / control"],
            [
                [m.name, m.view, fmt(m.case_value), fmt(m.control_value), fmt(m.case_over_control)]
                for m in result.planar
            ],
            caption=f"Planar whole-body ratios, case {result.case_id} and control",
            numeric=(2, 3, 4),
        ),
        table(
            ["site", "view", "lesion / normal bone", "same place in control", "reference"],
            [
                [
                    les.site,
                    les.view,
                    fmt(les.lesion_to_normal),
                    fmt(les.control_value),
                    les.reference,
                ]
                for les in result.lesions
            ]
            or [["none found", "", "", "", ""]],
            caption="Focal bone lesions",
            numeric=(2, 3),
        ),
    ]
    ct_rows = [
        [
            name,
            fmt(v.mean_hu, 0),
            fmt(v.p10_hu, 0),
            fmt(v.p90_hu, 0),
            f"{100 * v.dense_fraction:.2f} %",
            fmt(v.volume_ml, 0),
        ]
        for name, v in (("case", result.ct), ("control", result.ct_control))
        if v
    ]
    if ct_rows:
        headers = ["lung CT", "mean HU", "10th pct HU", "90th pct HU", "voxels > -500 HU"]
        parts.append(table([*headers, "volume (mL)"], ct_rows, numeric=(1, 2, 3, 4, 5)))
    if result.spect:
        s = result.spect
        parts.append(
            table(
                ["SPECT", "lung mean", "vertebra mean", "lung / vertebra"],
                [
                    [
                        "counts per voxel",
                        fmt(s.lung_mean, 1),
                        fmt(s.vertebra_mean, 1),
                        fmt(s.lung_to_vertebra, 3),
                    ]
                ],
                numeric=(1, 2, 3),
            )
        )
    return "".join(parts)


def write_case_outputs(out: str | Path, result: CaseAnalysis) -> list[Path]:
    """Write ``results.json`` (the numbers the article quotes) and ``inputs.json`` (every
    file this process read, relative to the working folder) into ``out``."""
    import os

    from casereport.io import files_read

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.json"
    results.write_text(json.dumps(result.as_dict(), indent=1, sort_keys=True) + "\n")
    inputs = out / "inputs.json"
    read = sorted(os.path.relpath(p) for p in files_read())
    inputs.write_text(json.dumps(read, indent=1) + "\n")
    return [results, inputs]

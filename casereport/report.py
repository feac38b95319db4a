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
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from casereport.analysis.planar import PATCHINESS

if TYPE_CHECKING:
    from casereport.analysis import CaseAnalysis
    from casereport.io import WholeBody

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


#: Longest alt text of an image; a longer description goes in a linked long description.
MAX_ALT_CHARS = 250


def breakable(value: Any, *, min_len: int = 24) -> str:
    """Escaped text in which long tokens (UIDs, paths) may wrap after ``. / _ , -``.

    A ``<wbr>`` is put after those characters inside tokens of ``min_len`` characters or
    more, so a table cell wraps at those boundaries instead of inside a word.
    """

    def soften(match: re.Match[str]) -> str:
        return re.sub(r"([./_,-])", r"\1<wbr>", match.group(0))

    return re.sub(rf"[^\s<>&]{{{min_len},}}", soften, esc(value))


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    caption: str = "",
    numeric: Sequence[int] = (),
    row_headers: bool = True,
    table_id: str = "",
    wrap: bool = False,
) -> str:
    """An accessible HTML table in its own horizontally scrolling box.

    Cells are escaped; columns in ``numeric`` are right-aligned; ``caption`` (give one for
    every table of the article) is the table's title and its box's label; header cells carry
    ``scope="col"``, and with ``row_headers`` the first cell of each row is a
    ``<th scope="row">``. ``wrap`` lets long tokens (UIDs, paths) wrap at ``. / _``.
    """
    num = set(numeric)
    text = breakable if wrap else esc

    def cls(i: int) -> str:
        return " class=num" if i in num else ""

    head = "".join(f'<th scope="col"{cls(i)}>{esc(h)}</th>' for i, h in enumerate(headers))
    body = []
    for row in rows:
        cells = []
        for i, v in enumerate(row):
            if i == 0 and row_headers:
                cells.append(f'<th scope="row"{cls(i)}>{text(v)}</th>')
            else:
                cells.append(f"<td{cls(i)}>{text(v)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    ident = f' id="{esc(table_id)}"' if table_id else ""
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    label = f' aria-label="{esc(caption)}"' if caption else ""
    return (
        f'<div class="table-wrap" role="region"{label} tabindex="0">'
        f"<table{ident}>{cap}<thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


@dataclass(frozen=True)
class PanelLink:
    """A link from a region of a composite figure to one panel's own file.

    Attributes:
        panel_id: e.g. ``"C1"``.
        href: link target, relative to the article (``figures/panels/C1.png``).
        box: ``[left, top, width, height]`` as fractions of the composite image.
    """

    panel_id: str
    href: str
    box: tuple[float, float, float, float]


def panel_links(
    panels: Mapping[str, Mapping[str, Any]], *, folder: str = "figures/panels"
) -> list[PanelLink]:
    """Links to each panel's 300-dpi PNG, placed where the sidecar says it sits."""
    return [
        PanelLink(pid, f"{folder}/{side.get('image', pid + '.png')}", tuple(side["figure1_box"]))
        for pid, side in sorted(panels.items())
        if side.get("figure1_box")
    ]


def figure_html(
    image: Path,
    *,
    caption: str,
    alt: str,
    label: str = "",
    figure_id: str = "figure-1",
    description: Mapping[str, str] | None = None,
    links: Sequence[PanelLink] = (),
    provenance: str = "",
) -> str:
    """``<figure>`` with the PNG embedded, a short alt text and an escaped caption.

    ``description`` (panel -> text) becomes the long description the image points to
    (``aria-describedby``); ``links`` lay a link to each panel's own file over the image
    and list them after the caption; ``provenance`` is shown below, on screen only.
    """
    if len(alt) > MAX_ALT_CHARS:
        raise ValueError(f"alt text is {len(alt)} characters (at most {MAX_ALT_CHARS})")
    fid = esc(figure_id)
    desc_id = f"{fid}-desc"
    lab = f"<b>{esc(label)}</b> " if label else ""
    overlay = "".join(
        f'<a class="panel-link" href="{esc(link.href)}" '
        f'style="left:{link.box[0] * 100:.3f}%;top:{link.box[1] * 100:.3f}%;'
        f'width:{link.box[2] * 100:.3f}%;height:{link.box[3] * 100:.3f}%" '
        f'aria-label="Panel {esc(link.panel_id)} at 300 dpi"></a>'
        for link in links
    )
    files = (
        '<span class="screen-only panel-files"> Each panel at 300 dpi: '
        + ", ".join(f'<a href="{esc(k.href)}">{esc(k.panel_id)}</a>' for k in links)
        + ".</span>"
        if links
        else ""
    )
    described = f' aria-describedby="{desc_id}"' if description else ""
    longdesc = ""
    if description:
        items = "".join(
            f"<li><b>{esc(pid)}.</b> {esc(text)}</li>" for pid, text in description.items()
        )
        longdesc = (
            f'<details class="longdesc" id="{desc_id}"><summary>Image description</summary>'
            f"<ul>{items}</ul></details>"
        )
    return (
        f'<figure id="{fid}" class="figure">'
        f'<div class="figure-image"><img src="{png_data_uri(image)}" alt="{esc(alt)}"'
        f"{described}>{overlay}</div>"
        f"<figcaption>{lab}{esc(caption)}{files}</figcaption>{longdesc}{provenance}</figure>"
    )


def provenance_tables(provenance: Mapping[str, Any], *, heading_level: int = 3) -> str:
    """Sources of every panel as key-value tables (long values wrap at ``. / _``)."""
    from casereport.review.provenance import provenance_rows

    parts = []
    for pid in sorted(provenance.get("panels", {})):
        rows = provenance_rows(provenance["panels"][pid])
        parts.append(
            table(
                ["item", "value"],
                rows,
                caption=f"Sources of panel {pid}",
                wrap=True,
            )
        )
    return "".join(parts)


def json_download(data: Mapping[str, Any], *, filename: str, text: str) -> str:
    """A link that downloads ``data`` as a JSON file embedded in the page."""
    raw = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8")
    uri = "data:application/json;base64," + base64.b64encode(raw).decode("ascii")
    return f'<a class="download" download="{esc(filename)}" href="{uri}">{esc(text)}</a>'


def provenance_details(provenance: Mapping[str, Any]) -> str:
    """On screen, under the figure: the source tables, and the JSON as a download."""
    return (
        '<details class="provenance screen-only"><summary>Sources of each panel</summary>'
        + provenance_tables(provenance)
        + "<p>"
        + json_download(provenance, filename="provenance.json", text="Download provenance.json")
        + " (the same record, machine-readable).</p></details>"
    )


def check_manifest(data_dir: Path) -> tuple[int, list[str]]:
    """Verify ``data_dir/MANIFEST.json``: (number of files checked, paths that differ).

    Each file's SHA-256 is remembered by (size, mtime ns, inode), in the process and, in
    a render, in the derived-data cache shared by its kernels
    (:func:`casereport.io.memo.file_sha256`, as the render cache trusts its inputs), so
    an article executed again reads the bytes of no unchanged file."""
    from casereport.io import memo

    manifest = json.loads((Path(data_dir) / "MANIFEST.json").read_text())
    files: Mapping[str, str] = manifest.get("files", {})
    folder = memo.cache_dir()
    bad = [
        rel
        for rel, digest in sorted(files.items())
        if not (Path(data_dir) / rel).is_file()
        or memo.file_sha256(Path(data_dir) / rel, folder) != digest
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
                pair(r, PATCHINESS),
                pair(r, "stomach / liver"),
                les,
                ct_txt,
                fmt(spect.get("lung_to_vertebra"), 3) if spect else "n/a",
            ]
        )
    return rows


#: Measurements Table 1 already shows as "n/a" when their study is missing.
_SHOWN_AS_NA = ("lung CT", "lung CT of the control", "SPECT lung / vertebra")


def not_measured_note(results: Mapping[str, Mapping[str, Any]]) -> str:
    """A paragraph naming, per case, the measurements its studies did not allow (e.g. a
    whole-body export with one view) and why; '' when there is nothing to say."""
    parts = []
    for case_id, r in sorted(results.items()):
        by_reason: dict[str, list[str]] = {}
        for name, why in (r.get("not_measured") or {}).items():
            if name not in _SHOWN_AS_NA:
                by_reason.setdefault(why, []).append(name)
        for why, names in by_reason.items():
            parts.append(
                f"case {html.escape(case_id)}: {html.escape(', '.join(names))} ({html.escape(why)})"
            )
    if not parts:
        return ""
    return (
        '<p class="note">Not measured, because the studies do not allow it (no value was '
        "estimated in its place): " + "; ".join(parts) + ".</p>"
    )


FINDINGS_HEADERS = (
    "case",
    "lung / soft tissue",
    "lung / rib",
    "lung patchiness (P90 / P50)",
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


def figure_caption(captions: Mapping[str, str], layout: Sequence[Sequence[str]]) -> str:
    """Caption text of the composite: each panel's own caption (``{panel id: text}``, from
    the case files), row by row."""
    parts = []
    for row in layout:
        parts.append(" ".join(f"({pid}) {captions[pid]}" for pid in row if pid in captions))
    return " ".join(parts)


_SEX = {"F": "woman", "M": "man"}


def case_paragraph(spec: Any, result: Mapping[str, Any]) -> str:
    """One case: patient facts and findings from the case file, then the measured values."""
    p = spec.patient
    sex = _SEX.get(p.sex, "patient")
    if p.age_years is None:
        who = f"A {sex} of unstated age with {p.history}."
    else:
        who = f"A {p.age_years}-year-old {sex} with {p.history}."
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


#: zlib level of the notebooks' PNG figures: the fastest; their flat backgrounds make the
#: files about 1 % larger than at the default level 6, which took 0.6 instead of 0.4 CPU-s
#: for the three case notebooks' figures
NOTEBOOK_PNG_LEVEL = 1


def figure_png(fig: Any, *, dpi: int = 110) -> bytes:
    """PNG bytes of a matplotlib figure, without timestamps or software metadata."""
    import io as _io

    buf = _io.BytesIO()
    fig.savefig(
        buf,
        format="png",
        dpi=dpi,
        metadata={"Software": None},
        pil_kwargs={"compress_level": NOTEBOOK_PNG_LEVEL},
    )
    return buf.getvalue()


def _matplotlib_state() -> list[object]:
    """What a PNG drawn by matplotlib depends on beyond the figure: the rcParams in effect
    (the project's ``matplotlibrc`` in a kernel; not the backend) and the versions of
    matplotlib, Pillow and numpy."""
    import matplotlib
    import numpy as np
    import PIL

    params = sorted((k, repr(v)) for k, v in dict.items(matplotlib.rcParams) if k != "backend")
    return [params, matplotlib.__version__, PIL.__version__, np.__version__]


def roi_overlay_png(
    wb: WholeBody, result: CaseAnalysis, *, dpi: int = 110, height_in: float = 6.0
) -> bytes:
    """:func:`casereport.analysis.roi_overlay_figure` as :func:`figure_png` bytes at
    ``dpi``, through the derived-data cache (:mod:`casereport.io.memo`): the regions follow
    from the data alone, so a case run executed again for a display parameter (a window,
    a crop) reads the PNG its previous run drew."""
    from casereport.analysis import roi_overlay_figure
    from casereport.io.memo import cached

    return cached(
        "casereport.report.roi_overlay_png",
        lambda: figure_png(roi_overlay_figure(wb, result, height_in=height_in), dpi=dpi),
        key=[wb, result, dpi, height_in, _matplotlib_state()],
    )


def show_figure(fig: Any, *, alt: str, dpi: int = 110) -> Any:
    """An IPython image of ``fig`` with alt text (works with or without pyplot)."""
    return show_png(figure_png(fig, dpi=dpi), alt=alt)


def show_png(png: bytes, *, alt: str) -> Any:
    """An IPython image of PNG bytes with alt text."""
    from IPython.display import Image

    return Image(data=png, format="png", metadata={"alt": alt})


def provenance_appendix(provenance: Mapping[str, Any]) -> str:
    """Printed appendix: the sources of every panel as key-value tables."""
    return (
        '<section class="print-only appendix"><h2>Appendix: sources of each panel</h2>'
        + provenance_tables(provenance)
        + "</section>"
    )


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
        parts.append(
            table(
                [*headers, "volume (mL)"],
                ct_rows,
                caption="Lung attenuation on CT, case and control",
                numeric=(1, 2, 3, 4, 5),
            )
        )
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
                caption="SPECT uptake in the lungs and vertebrae",
                numeric=(1, 2, 3),
            )
        )
    if result.not_measured:
        parts.append(
            table(
                ["not measured", "why"],
                [[name, why] for name, why in result.not_measured.items()],
                caption="Measurements the studies of this case do not allow (none estimated)",
            )
        )
    return "".join(parts)


def case_output_dir(data_dir: str | Path, case_id: str, output_dir: str | Path = "") -> Path:
    """Where a case run writes: ``output_dir`` if given, else ``build/cases/<case_id>``
    beside ``data_dir`` (so a run of case B never writes into case A's folder)."""
    return Path(output_dir) if output_dir else Path(data_dir).parent / "build" / "cases" / case_id


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


# ------------------------------------------------------------------ computed claims

#: Case-over-control ratio from which lung uptake is called "several times" the normal
#: value, "clearly" above it, or "slightly" above it; below the last, "about the same".
UPTAKE_WORDS = ((3.0, "several times"), (1.5, "clearly more"), (1.15, "slightly more"))
#: Largest difference (HU) between a case's and the control's mean lung attenuation
#: still called "the same as in the control".
SAME_HU = 50.0
#: Case-over-control patchiness ratio from which lung uptake is called patchy.
PATCHY = 1.3


def uptake_word(case_over_control: float) -> str:
    """Comparative words for a case-over-control uptake ratio (:data:`UPTAKE_WORDS`)."""
    for threshold, word in UPTAKE_WORDS:
        if case_over_control >= threshold:
            return word
    return "about the same"


def _span(values: Sequence[float], digits: int = 1) -> str:
    """The range of ``values`` as text (:func:`casereport.review.provenance.range_text`),
    or the one value when both ends read the same."""
    from casereport.review.provenance import range_text

    lo, hi = (f"{v:.{digits}f}" for v in (min(values), max(values)))
    return lo if lo == hi else range_text(lo, hi)


def discussion_claims(results: Mapping[str, Mapping[str, Any]]) -> str:
    """The Discussion's quantitative paragraph, every number and comparative word computed.

    Cases are every result except the control. Words follow :data:`UPTAKE_WORDS`,
    :data:`SAME_HU` and :data:`PATCHY`; numbers are the measured ratios.
    """
    cases = {k: r for k, r in sorted(results.items()) if k != "control"}
    lung = {
        k: measured(r, "lung / soft tissue", "case_over_control")
        for k, r in cases.items()
        if measured(r, "lung / soft tissue", "case_over_control") is not None
    }
    parts = []
    if lung:
        ratios = [v for v in lung.values() if v is not None]
        word = uptake_word(min(ratios))
        each = ", ".join(f"{v:.1f}× in {k}" for k, v in lung.items())
        if word == "several times":
            verb = "take up several times as much tracer relative to soft tissue as in the control"
        elif word == "about the same":
            verb = "take up about as much tracer relative to soft tissue as in the control"
        else:
            verb = f"take up {word} tracer relative to soft tissue than in the control"
        parts.append(
            f"in every case the lungs {verb} ({_span(ratios)} times the normal ratio: {each})"
        )
    hu = {
        k: (r["ct"]["mean_hu"], r["ct_control"]["mean_hu"])
        for k, r in cases.items()
        if r.get("ct") and r.get("ct_control")
    }
    if hu:
        diff = max(abs(c - n) for c, n in hu.values())
        means = [c for c, _ in hu.values()]
        if diff <= SAME_HU:
            parts.append(
                f"while their mean attenuation on CT ({_span(means, 0)} HU) stays within "
                f"{diff:.0f} HU of the control's"
            )
        else:
            parts.append(
                f"and their mean attenuation on CT ({_span(means, 0)} HU) differs from the "
                f"control's by up to {diff:.0f} HU"
            )
    patch = {
        k: (measured(r, PATCHINESS), measured(r, PATCHINESS, "case_over_control"))
        for k, r in cases.items()
        if measured(r, PATCHINESS) is not None
    }
    patchy = [k for k, (_, rel) in patch.items() if rel is not None and rel >= PATCHY]
    text = (
        ("The measurements make the visual findings explicit: " + ", ".join(parts) + ".")
        if parts
        else ""
    )
    if patch:
        values = "; ".join(f"{k} {v:.2f}" for k, (v, _) in patch.items())
        control = next(iter(cases.values()))
        ref = measured(control, PATCHINESS, "control")
        ref_txt = f", control {ref:.2f}" if ref is not None else ""
        if patchy:
            text += (
                f" Lung uptake is patchy in case {', '.join(patchy)} and diffuse in the others"
                f" (patchiness, the 90th over the 50th percentile of lung counts: {values}"
                f"{ref_txt})."
            )
        else:
            text += (
                f" No case shows patchy lung uptake (patchiness, the 90th over the 50th "
                f"percentile of lung counts: {values}{ref_txt})."
            )
    return f"<p>{esc(text)}</p>" if text else ""


# ------------------------------------------------------------------ acquisition (Table 2)

ACQUISITION_HEADERS = (
    "study",
    "radiopharmaceutical",
    "activity (MBq)",
    "time after injection (min)",
    "counts per view",
    "matrix (columns × rows), pixel (mm)",
    "collimator",
    "CT kV / mAs / slice (mm)",
)


def _study_paths(spec: Any) -> list[tuple[str, Path]]:
    """(label, path) of every study a case file names, measurements first, then panels."""
    seen: dict[Path, str] = {}
    root = Path(spec.path).parent
    candidates = [path for _, path in spec.studies.items()]
    for pid in sorted(spec.panel_ids):
        panel = spec.panel(pid)
        candidates += [p for p in (panel.study, getattr(panel, "overlay", None)) if p]
    for path in candidates:
        path = Path(path)
        if path not in seen:
            try:
                seen[path] = path.relative_to(root).as_posix()
            except ValueError:
                seen[path] = path.name
    return [(label, path) for path, label in seen.items()]


def _counts(values: Sequence[float] | None) -> str | None:
    if not values:
        return None
    return " / ".join(f"{v / 1e6:.2f} M" for v in values)


def acquisition_rows(specs: Mapping[str, Any]) -> list[list[str]]:
    """Table 2 rows: one per study of every subject, read from its DICOM header.

    "not recorded": the file has no such value; "–": the value does not apply to the
    modality (e.g. kV of a gamma-camera study).
    """
    from casereport.io.acquisition import NOT_RECORDED, acquisition

    rows = []
    for cid in sorted(specs, key=lambda c: (specs[c].role == "control", c)):
        spec = specs[cid]
        for label, path in _study_paths(spec):
            a = acquisition(path)
            nm, ct = a.modality == "NM", a.modality == "CT"

            def show(value: Any, applies: bool, text: str | None = None) -> str:
                if not applies:
                    return "\u2013"
                return NOT_RECORDED if value is None else (text if text is not None else str(value))

            who = "control" if spec.role == "control" else f"case {cid}"
            matrix = f"{a.matrix[1]} × {a.matrix[0]}" if a.matrix else NOT_RECORDED
            pixel = f"{a.pixel_mm[1]:.2f} × {a.pixel_mm[0]:.2f}" if a.pixel_mm else NOT_RECORDED
            ct_values = " / ".join(
                NOT_RECORDED if v is None else f"{v:g}" for v in (a.kvp, a.mas, a.slice_mm)
            )
            rows.append(
                [
                    f"{who}: {label} ({a.modality})",
                    show(a.radiopharmaceutical, nm),
                    show(a.activity_mbq, nm, f"{a.activity_mbq:.0f}" if a.activity_mbq else None),
                    show(
                        a.minutes_after_injection,
                        nm,
                        f"{a.minutes_after_injection:.0f}"
                        if a.minutes_after_injection is not None
                        else None,
                    ),
                    show(_counts(a.counts_per_view), nm),
                    f"{matrix}, {pixel}",
                    show(a.collimator, nm),
                    ct_values if ct else "\u2013",
                ]
            )
    return rows


def overrides_note(overrides: Mapping[str, Mapping[str, Any]]) -> str:
    """A paragraph naming the display overrides this rendering used (``""`` when none).

    ``overrides``: ``{case id: {parameter: value}}`` as the render passes them to the
    figure and article notebooks.
    """
    parts = []
    for case_id in sorted(overrides):
        values = overrides[case_id]
        given = "; ".join(
            f"{name} = {json.dumps(values[name], sort_keys=True)}" for name in sorted(values)
        )
        if given:
            parts.append(f"case {esc(case_id)}: <code>{esc(given)}</code>")
    if not parts:
        return ""
    return (
        '<p class="overrides">Display overrides: Figure 1 and the case panels of this '
        "rendering were drawn with windows or crops that differ from the case files ("
        + "; ".join(parts)
        + "). The published figure in <code>figures/</code> is unchanged.</p>"
    )

"""A first case file drawn up from a folder of scanner exports (``new-case``).

:func:`draft_case` reads the headers of every series in a folder (or DICOMDIR), sorts
them into whole-body, static planar, CT and SPECT studies, copies the files of the
usable ones into the case folder (one sub-folder per study) and writes ``case.yaml``
with one panel per study: the whole-body views, each static study's views, an axial CT
slice through the middle of the lungs, and a fusion panel where a SPECT shares the CT's
frame of reference. Default windows are set, captions are left empty and comments mark
what the author must check or write. Identifiable input is refused before anything is
read further; no identifier is ever written into the YAML (only age and sex, as the
de-identification profile allows).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from casereport.errors import CaseReportError, DicomInputError, ReviewError
from casereport.io.loader import build_series, classify
from casereport.io.planar import PlanarOptions
from casereport.io.quiet import dicom_warnings
from casereport.io.scan import collect
from casereport.io.types import CTVolume, PlanarStudy, SpectVolume, WholeBody

#: Display defaults of a draft (the author tunes them in the case file).
NM_WINDOW = {"percentiles": [0.5, 99.5]}
FUSION_NM_WINDOW = {"percentiles": [60, 99.8]}
CT_WINDOW = "lung"
#: HU range counted as aerated lung when looking for the middle of the lungs.
LUNG_HU = (-950.0, -500.0)


@dataclass
class _Study:
    """One usable series: its kind, files, sub-folder in the case folder and notes."""

    kind: str  # wholebody | planar | ct | spect
    files: tuple[Path, ...]
    folder: str = ""
    views: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    z_mm: float | None = None
    frame_of_reference: str | None = None
    description: str = ""


def _age(text: str) -> int | None:
    """Age in years from a DICOM Age String (``053Y``; months, weeks, days give 0)."""
    text = text.strip().upper()
    if len(text) == 4 and text[:3].isdigit():
        return int(text[:3]) if text[3] == "Y" else 0
    return None


def lung_middle_z(vol: CTVolume) -> float:
    """Patient z (mm) of the axial slice with the most aerated lung (-950..-500 HU);
    the middle slice when there is none."""
    lo, hi = LUNG_HU
    counts = ((vol.array > lo) & (vol.array < hi)).sum(axis=(1, 2)).astype(float)
    k = int(np.argmax(counts)) if counts.max() > 0 else vol.shape[0] // 2
    if counts.max() > 0:
        weights = np.where(counts >= 0.5 * counts.max(), counts, 0.0)
        k = int(round(float((np.arange(len(counts)) * weights).sum() / weights.sum())))
    centre = [vol.shape[2] / 2, vol.shape[1] / 2, k]
    return round(float(vol.index_to_patient(np.array(centre))[2]), 1)


def _planar_views(study: PlanarStudy | WholeBody) -> tuple[tuple[str, ...], list[str]]:
    """Views for the panel, and notes when they had to be guessed."""
    known = [v.view for v in study.views if v.view_known]
    unknown = [v for v in study.views if not v.view_known]
    if not unknown:
        return tuple(known), []
    if len(study.views) == 1:
        return ("ANT",), [
            "the file does not record its view: ANT is assumed, change to POST if needed"
        ]
    guess = ("ANT", "POST", "LAO", "RAO", "LPO", "RPO")[: len(study.views)]
    return guess, [
        f"the files do not record their views: {', '.join(guess)} assumed in file order; check"
    ]


def _classify(items: list[tuple[Path, Any]]) -> _Study | None:
    """The study a series makes, or None when it is not one a panel can show."""
    try:
        kind = classify(items[0][1], items[0][0])
    except DicomInputError:
        return None
    files = tuple(p for p, _ in items)
    if kind == "ct":
        from casereport.io.common import image_type

        if all("LOCALIZER" in image_type(ds) for _, ds in items):
            return None
        vol = build_series(items)
        assert isinstance(vol, CTVolume)
        return _Study(
            "ct",
            files,
            z_mm=lung_middle_z(vol),
            frame_of_reference=vol.source.frame_of_reference_uid,
            description=vol.source.series_description,
        )
    if kind == "spect":
        vol = build_series(items)
        assert isinstance(vol, SpectVolume)
        return _Study("spect", files, frame_of_reference=vol.source.frame_of_reference_uid)
    study = build_series(items, PlanarOptions(lenient=True))
    assert isinstance(study, PlanarStudy | WholeBody)
    if any(v.spacing_source == "unknown" for v in study.views):
        return _Study("skipped", files, notes=["no pixel spacing recorded"])
    views, notes = _planar_views(study)
    whole = isinstance(study, WholeBody) or kind == "wholebody"
    return _Study("wholebody" if whole else "planar", files, views=views, notes=notes)


def _copy(study: _Study, case_dir: Path, name: str) -> None:
    """Copy the study's files into ``case_dir/name`` (file names kept, made unique)."""
    target = case_dir / name
    target.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    for k, src in enumerate(study.files):
        fname = src.name if src.name not in used else f"{k:04d}_{src.name}"
        used.add(fname)
        shutil.copyfile(src, target / fname)
    study.folder = name if len(study.files) > 1 else f"{name}/{next(iter(sorted(used)))}"


def _flow(value: Any) -> str:
    """``value`` as one line of YAML (strings quoted as JSON, which YAML reads)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=200).strip()


_ALT = {
    "wholebody": "Whole-body planar bone scan, {views} view(s), inverted grey scale.",
    "planar": "Static planar bone scan image, {views} view(s), inverted grey scale.",
    "ct": "Axial CT slice through the middle of the lungs in lung window.",
    "fusion": "Axial SPECT/CT slice through the lungs: SPECT in colour over CT in grey.",
}


def _panel_lines(pid: str, kind: str, study: _Study, extra: dict[str, Any]) -> list[str]:
    lines = [f"  {pid}:"]
    for note in study.notes:
        lines.append(f"    # CHECK: {note}")
    lines.append(f"    kind: {kind}")
    lines.append(f"    study: {study.folder}")
    for key, value in extra.items():
        lines.append(f"    {key}: {_flow(value)}")
    alt = _ALT[kind].format(views="/".join(study.views))
    lines.append('    caption: ""  # TODO: write the caption')
    lines.append(f"    alt: {_flow(alt)}  # TODO: describe what the image shows")
    return lines


def _series_of(folder: Path) -> list[list[tuple[Path, Any]]]:
    return [list(zip(s.summary.paths, s.headers, strict=True)) for s in collect(folder)]


def _check_deidentified(folder: Path, files: list[Path]) -> None:
    """Refuse when any file the draft reads identifies a person (the de-identification
    gate; a DICOMDIR's own records are not read, only the images it lists)."""
    from casereport.deid.gate import check_file

    findings = {p: tags for p in files if (tags := check_file(p))}
    if findings:
        first, tags = next(iter(sorted(findings.items())))
        raise ReviewError(
            folder,
            f"{len(findings)} file(s) carry identifiable data (first: {first.name}: "
            f"{', '.join(tags)}); de-identify the exports first: "
            f"python -m casereport deidentify {folder} OUT, then new-case OUT",
        )


def _check_one_patient(folder: Path, groups: list[list[tuple[Path, Any]]]) -> None:
    """Refuse exports of more than one patient (by PatientID, else PatientName, as the
    files carry them after de-identification; series that carry neither are not told
    apart): a case file's studies are one patient's. The error names a file of each,
    never the identifiers."""
    from casereport.io.common import text

    first: dict[str, Path] = {}
    for items in groups:
        path, ds = items[0]
        key = text(ds, "PatientID") or text(ds, "PatientName")
        if key:
            first.setdefault(key, path)
    if len(first) > 1:
        files = sorted(first.values())
        named = ", ".join(
            str(p.relative_to(folder) if p.is_relative_to(folder) else p) for p in files
        )
        raise ReviewError(
            folder,
            f"the exports hold {len(first)} patients (a file of each: {named}); a case is one "
            "patient: give new-case a folder of that patient's exports only (or --same-patient "
            "if they are one person's with IDs from different systems)",
        )


def draft_case(
    folder: str | Path, case_id: str, data_dir: str | Path = "data", *, same_patient: bool = False
) -> Path:
    """Write ``data_dir/case_id/case.yaml`` (and copy the studies beside it) from the
    exports in ``folder``; return the case file path. ``same_patient``: the author
    vouches that exports carrying several patient IDs are one person's.

    Raises:
        ReviewError: the exports identify a person or hold more than one patient, or the
            case folder already exists.
        DicomInputError: nothing usable in ``folder``.
    """
    src = Path(folder)
    case_dir = Path(data_dir) / case_id
    if not src.exists():
        raise DicomInputError(src, "no such file or folder")
    if case_dir.exists():
        raise ReviewError(case_dir, "already exists; choose another --id or remove the folder")
    if not case_id.replace("_", "").replace("-", "").isalnum():
        raise ReviewError(case_dir, f"case id {case_id!r}: use letters, digits, - and _ only")
    with dicom_warnings():
        groups = _series_of(src)
        _check_deidentified(src, [p for items in groups for p, _ in items])
        if not same_patient:
            _check_one_patient(src, groups)
        found = [s for s in (_classify(items) for items in groups) if s is not None]
    order = ("wholebody", "planar", "ct", "spect", "skipped")
    studies = sorted(found, key=lambda s: order.index(s.kind))
    usable = [s for s in studies if s.kind != "skipped"]
    if not usable:
        raise DicomInputError(src, "no whole-body, planar, CT or SPECT series found to draft from")
    first = groups[0][0][1]
    from casereport.io.common import text

    age = _age(text(first, "PatientAge"))
    sex = text(first, "PatientSex").upper()
    try:
        case_dir.mkdir(parents=True)
        counts: dict[str, int] = {}
        for s in usable:
            base = {"wholebody": "wb", "planar": "spot"}.get(s.kind, s.kind)
            counts[base] = counts.get(base, 0) + 1
            _copy(s, case_dir, base if counts[base] == 1 else f"{base}{counts[base]}")
        text_out = _yaml(case_id, age, sex, usable, [s for s in studies if s.kind == "skipped"])
        (case_dir / "case.yaml").write_text(text_out)
    except (OSError, CaseReportError):
        shutil.rmtree(case_dir, ignore_errors=True)
        raise
    return case_dir / "case.yaml"


def _yaml(
    case_id: str, age: int | None, sex: str, studies: list[_Study], skipped: list[_Study]
) -> str:
    lines = [
        f"# Case {case_id}: drafted by `python -m casereport new-case` from scanner exports.",
        "# Fill in the TODO items, check the CHECK items, then render.",
        "# Coordinates in mm (planar: view mm from the top-left corner; CT: patient LPS mm).",
        f"case: {_flow(case_id)}",
        "role: case",
        "patient:",
        f"  age: {age if age is not None else 'null'}"
        + ("  # TODO: age in years (null: not stated)" if age is None else ""),
        f"  sex: {sex if sex in ('F', 'M') else 'F'}"
        + ("  # TODO: F or M" if sex not in ("F", "M") else ""),
        '  history: "an unstated history"  # TODO: the history ("a woman with ...")',
        "findings: []  # TODO: short factual statements",
    ]
    for s in skipped:
        lines.append(
            f"# Not used: {s.files[0].name} ({len(s.files)} file(s)): {'; '.join(s.notes)}"
        )
    wb = next((s for s in studies if s.kind == "wholebody"), None)
    cts = [s for s in studies if s.kind == "ct"]
    ct = max(cts, key=lambda s: len(s.files), default=None)
    spect = next((s for s in studies if s.kind == "spect"), None)
    refs = {"whole_body": wb, "ct": ct, "spect": spect}
    if any(refs.values()):
        lines.append("studies:  # used by the measurements")
        for key, ref in refs.items():
            if ref is None:
                continue
            if ref.notes and ref.kind == "wholebody":
                value: Any = {"path": ref.folder, "views": list(ref.views)}
                lines.append(f"  {key}: {_flow(value)}  # CHECK: views as in panel {case_id}1")
            else:
                lines.append(f"  {key}: {ref.folder}")
    lines.append("panels:")
    n = 0
    for s in studies:
        n += 1
        pid = f"{case_id}{n}"
        extra: dict[str, Any]
        if s.kind in ("wholebody", "planar"):
            extra = {"views": list(s.views), "window": NM_WINDOW}
            lines += _panel_lines(pid, s.kind, s, extra)
        elif s.kind == "ct":
            extra = {"plane": "axial", "z_mm": s.z_mm, "window": CT_WINDOW}
            lines += _panel_lines(pid, "ct", s, extra)
            partner = next(
                (
                    sp
                    for sp in studies
                    if sp.kind == "spect" and sp.frame_of_reference == s.frame_of_reference
                ),
                None,
            )
            if partner is not None and s is ct:
                n += 1
                extra = {
                    "overlay": partner.folder,
                    "overlay_window": FUSION_NM_WINDOW,
                    "alpha": 0.6,
                    "plane": "axial",
                    "z_mm": s.z_mm,
                    "window": CT_WINDOW,
                }
                lines += _panel_lines(f"{case_id}{n}", "fusion", s, extra)
    lines.append("annotations: []  # e.g. {panel: P, type: arrow, tip_mm: [x, y], tail_mm: [x, y]}")
    return "\n".join(lines) + "\n"

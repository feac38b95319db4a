"""Summarise DICOM input (modality, syntax, geometry, counts or HU) without showing identifiers.

Free text (descriptions, manufacturer) is shown only when it passes the de-identification
gate's free-text check (:mod:`casereport.deid.text`); otherwise it is withheld.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID

from casereport.errors import DicomInputError, SeriesSelectionError
from casereport.io.common import is_simulated, text
from casereport.io.loader import build_series
from casereport.io.planar import PlanarOptions
from casereport.io.quiet import dicom_warnings
from casereport.io.read import is_directory_file, read_dataset
from casereport.io.scan import collect
from casereport.io.types import CTVolume, PlanarStudy, SpectVolume, Study, Volume, WholeBody

_WITHHELD = "present (not shown)"


def checked_text(value: str) -> str:
    """``value`` when it passes the de-identification gate's free-text check, else a note
    saying why it is withheld (the value itself is never shown)."""
    from casereport.deid.text import text_problems  # a leaf module: no import cycle

    problems = text_problems(value)
    return value if not problems else f"<withheld: {'; '.join(problems)}>"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m casereport inspect``."""
    parser.add_argument("path", type=Path, help="DICOM file, folder or DICOMDIR")
    parser.add_argument("--json", action="store_true", help="print JSON (sorted keys)")
    parser.add_argument("--modality", help="only series of this modality (NM, CT)")
    parser.add_argument("--series-uid", help="only the series with this SeriesInstanceUID")


def run(args: argparse.Namespace) -> int:
    """Print the summary of ``args.path``; returns 0."""
    report = inspect_path(args.path, modality=args.modality, series_uid=args.series_uid)
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        print(format_text(report))
    return 0


def _name_state(value: str) -> str:
    if not value.strip(" ^"):
        return "empty"
    if "SIMULATED" in value.upper():
        return "SIMULATED"
    return _WITHHELD


def _plain_state(value: str) -> str:
    return "empty" if not value.strip() else _WITHHELD


def patient_summary(ds: Dataset) -> dict[str, Any]:
    """Whether identifiers look removed, never the identifiers themselves."""
    name = _name_state(text(ds, "PatientName"))
    pid = _plain_state(text(ds, "PatientID"))
    birth = _plain_state(text(ds, "PatientBirthDate"))
    flag = text(ds, "PatientIdentityRemoved").upper() or "absent"
    looks = (
        name in ("empty", "SIMULATED") and birth == "empty" and (flag == "YES" or pid == "empty")
    )
    return {
        "name": name,
        "id": pid,
        "birth_date": birth,
        "identity_removed_flag": flag,
        "looks_deidentified": looks,
        "sex": text(ds, "PatientSex"),
        "age": text(ds, "PatientAge"),
    }


def _uid_name(uid: str) -> str:
    return UID(uid).name if uid else ""


def _header_summary(ds: Dataset, n_files: int) -> dict[str, Any]:
    meta = getattr(ds, "file_meta", None)
    ts = str(getattr(meta, "TransferSyntaxUID", "") or "1.2.840.10008.1.2")
    sop = text(ds, "SOPClassUID")
    return {
        "modality": text(ds, "Modality").upper(),
        "sop_class": _uid_name(sop),
        "sop_class_uid": sop,
        "transfer_syntax": _uid_name(ts),
        "transfer_syntax_uid": ts,
        "series_instance_uid": text(ds, "SeriesInstanceUID"),
        "series_description": checked_text(text(ds, "SeriesDescription")),
        "manufacturer": checked_text(text(ds, "Manufacturer")),
        "n_files": n_files,
        "simulated": is_simulated(ds),
        "patient": patient_summary(ds),
        "study": {
            "description": checked_text(text(ds, "StudyDescription")),
            "date": _plain_state(text(ds, "StudyDate")),
        },
    }


def study_summary(study: Study) -> dict[str, Any]:
    """Kind, frames with views, matrix, spacing (mm) and its source, counts (NM) or HU (CT)."""
    out: dict[str, Any] = {"kind": type(study).__name__}
    if isinstance(study, PlanarStudy | WholeBody):
        frames = [
            {
                "view": v.view if v.view_known else "unknown",
                "view_source": v.view_source,
                "frame_index": v.frame_index,
                "columns": None if v.columns is None else list(v.columns),
                "matrix": list(v.shape),
                "pixel_spacing_mm": [round(x, 4) for x in v.pixel_spacing_mm],
                "spacing_source": v.spacing_source,
                "total_counts": v.total_counts,
                "duration_s": v.duration_s,
            }
            for v in study.views
        ]
        first = study.views[0]
        out["frames"] = frames
        out["n_frames"] = len(frames)
        out["matrix"] = list(first.shape)
        out["spacing_mm"] = [round(x, 4) for x in first.pixel_spacing_mm]
        out["spacing_source"] = first.spacing_source
        out["total_counts"] = {
            (v.view if v.view_known else f"unknown frame {v.frame_index}"): v.total_counts
            for v in study.views
        }
        out["warnings"] = list(study.warnings)
    elif isinstance(study, Volume):
        lo, hi = float(np.min(study.array)), float(np.max(study.array))
        out["matrix"] = list(study.shape)
        out["spacing_mm"] = [round(x, 4) for x in study.spacing_mm]
        out["spacing_source"] = "PixelSpacing and ImagePositionPatient"
        out["origin_mm"] = [round(float(x), 3) for x in study.affine[:3, 3]]
        out["warnings"] = list(study.warnings)
        if isinstance(study, CTVolume):
            out["hu_range"] = [lo, hi]
        if isinstance(study, SpectVolume):
            out["units"] = study.units
            out["value_range"] = [lo, hi]
            out["total_counts"] = float(np.sum(study.array, dtype=np.float64))
    return out


def _unreadable(ds: Dataset, err: DicomInputError) -> dict[str, Any]:
    """What is known of a series of a folder whose study cannot be built (the others are
    still described)."""
    rows, cols = (text(ds, "Rows") or "0"), (text(ds, "Columns") or "0")
    return {
        "kind": "unreadable",
        "matrix": [int(rows) if rows.isdigit() else 0, int(cols) if cols.isdigit() else 0],
        "spacing_mm": None,
        "spacing_source": "unknown",
        "frames": [],
        "warnings": [f"not loaded: {err}"],
    }


def inspect_path(
    path: str | Path, *, modality: str | None = None, series_uid: str | None = None
) -> dict[str, Any]:
    """Summary of every (selected) series under ``path``: a JSON-ready dict.

    Never refuses a readable series because a study looks incomplete (one view, no view
    names, no spacing): what is missing or assumed is listed under ``warnings``, with
    pydicom's warnings about odd values.
    """
    p = Path(path)
    with dicom_warnings() as read_warnings:
        groups: list[list[tuple[Path, Dataset]]] = []
        if p.is_file():
            ds = read_dataset(p, headers_only=True)
            if not is_directory_file(ds):
                groups.append([(p, ds)])
        if not groups:
            for s in collect(p):
                groups.append(list(zip(s.summary.paths, s.headers, strict=True)))
    series = []
    for items in groups:
        first = items[0][1]
        if modality and text(first, "Modality").upper() != modality.upper():
            continue
        if series_uid and text(first, "SeriesInstanceUID") != series_uid:
            continue
        with dicom_warnings() as caught:
            entry = _header_summary(first, len(items))
            try:
                entry.update(study_summary(build_series(items, PlanarOptions(lenient=True))))
            except DicomInputError as err:
                if len(groups) == 1:
                    raise  # the one series asked about: a one-line error, exit 2
                entry.update(_unreadable(first, err))
        entry["warnings"] = [*entry["warnings"], *caught]
        series.append(entry)
    if not series and (modality or series_uid):
        want = ", ".join(
            f"{k}={v}" for k, v in (("modality", modality), ("series_uid", series_uid)) if v
        )
        raise SeriesSelectionError(p, f"no series matches {want}")
    out: dict[str, Any] = {"path": str(p), "series": series}
    shown = {w for s in series for w in s["warnings"]}
    out["warnings"] = [w for w in read_warnings if w not in shown]
    return out


def _fmt_num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.4g}"


def format_text(report: dict[str, Any]) -> str:
    """Human-readable lines for :func:`inspect_path` output."""
    lines = [f"path: {report['path']}"]
    if not report["series"]:
        lines.append("no series matches the selection")
    n = len(report["series"])
    for k, s in enumerate(report["series"], 1):
        pat = s["patient"]
        lines.append(
            f"series {k}/{n}: {s['modality']} {s['kind']}  {s['series_description']!r}  "
            f"({s['n_files']} file{'s' if s['n_files'] != 1 else ''})"
        )
        lines.append(f"  series UID:      {s['series_instance_uid']}")
        lines.append(f"  SOP class:       {s['sop_class']}")
        lines.append(f"  transfer syntax: {s['transfer_syntax']}")
        lines.append(
            f"  patient:         name {pat['name']}, ID {pat['id']}, "
            f"birth date {pat['birth_date']}, "
            f"PatientIdentityRemoved {pat['identity_removed_flag']}; sex {pat['sex'] or '?'}, "
            f"age {pat['age'] or '?'}"
        )
        deid = (
            "looks de-identified"
            if pat["looks_deidentified"]
            else "NO - identifiers may be present"
        )
        sim = "; simulated data" if s["simulated"] else ""
        lines.append(f"  de-identified:   {deid}{sim}")
        lines.append(f"  study:           {s['study']['description']!r}, date {s['study']['date']}")
        if "frames" in s:
            for v in s["frames"]:
                dy, dx = v["pixel_spacing_mm"]
                dur = f", {v['duration_s']:.0f} s" if v["duration_s"] else ""
                cut = f" columns {v['columns'][0]}-{v['columns'][1]}" if v["columns"] else ""
                lines.append(
                    f"  view {v['view']:<7} frame {v['frame_index']}{cut}: "
                    f"{v['matrix'][0]} x {v['matrix'][1]} px, "
                    f"{dy:.3f} x {dx:.3f} mm [{v['spacing_source']}], "
                    f"total_counts {_fmt_num(v['total_counts'])}{dur}"
                    f"  [view from {v['view_source']}]"
                )
        elif s["kind"] != "unreadable":
            k_, j_, i_ = s["matrix"]
            dx, dy, dz = s["spacing_mm"]
            lines.append(
                f"  matrix:          {k_} slices x {j_} rows x {i_} cols; "
                f"spacing {dx:.3f} x {dy:.3f} x {dz:.3f} mm"
            )
            if "hu_range" in s:
                lines.append(f"  HU range:        {s['hu_range'][0]:.0f} .. {s['hu_range'][1]:.0f}")
            if "value_range" in s:
                lo, hi = (_fmt_num(x) for x in s["value_range"])
                lines.append(f"  values ({s['units']}): {lo} .. {hi}")
        for w in s["warnings"]:
            lines.append(f"  warning: {w}")
    for w in report.get("warnings", []):
        lines.append(f"warning: {w}")
    return "\n".join(lines)

"""Checks of a case run's parameters against the case index, before any kernel starts.

Type checks live in :mod:`casereport.render.params`; here the *values* are checked against
the data: the case and the control exist in the data folder's case index, and the
requested panels are declared in the case file. Each failure is a :class:`ParameterError`
naming the notebook and the parameter.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from casereport.case import CaseIndex, Role, index
from casereport.errors import ParameterError
from casereport.fileio import FileStamp, file_stamps_below, write_atomic
from casereport.render.params import declared_parameters


def _value(name: str, params: dict[str, Any], declared: dict[str, dict[str, Any]]) -> Any:
    if name in params:
        return params[name]
    try:
        return ast.literal_eval(str(declared[name]["default"]))
    except (KeyError, ValueError, SyntaxError):
        return None


def check_case_parameters(
    notebook: Path,
    params: dict[str, Any],
    cwd: Path,
    *,
    declared: dict[str, dict[str, Any]] | None = None,
    cases: CaseIndex | None = None,
) -> None:
    """Raise :class:`ParameterError` if ``params`` point at data that is not there.

    Only applies to notebooks declaring ``case_id`` and ``data_dir``; others pass.
    ``declared`` (the notebook's parameters) and ``cases`` (the index of the data folder)
    save reading them again.
    """
    declared = declared if declared is not None else declared_parameters(notebook)
    if "case_id" not in declared or "data_dir" not in declared:
        return
    case_id = str(_value("case_id", params, declared))
    data_dir = cwd / str(_value("data_dir", params, declared))
    cases = cases if cases is not None else index(data_dir)
    if case_id not in cases:
        raise ParameterError(
            notebook,
            "case_id",
            f"no data for case {case_id!r}: {data_dir / case_id}/case.yaml not found "
            f"(cases with data: {', '.join(cases) or 'none'})",
            case=case_id,
            value=case_id,
        )
    control = _value("control_id", params, declared)
    if control and (control not in cases or cases[str(control)].role is not Role.CONTROL):
        raise ParameterError(
            notebook,
            "control_id",
            f"no control subject {control!r} (controls: {', '.join(cases.controls) or 'none'})",
            case=case_id,
            value=control,
        )
    panels = _value("panels", params, declared)
    if panels:
        known = cases[case_id].panel_ids
        unknown = [p for p in panels if p not in known]
        if unknown:
            raise ParameterError(
                notebook,
                "panels",
                f"case {case_id} has no panel {', '.join(map(str, unknown))} "
                f"(panels: {', '.join(known) or 'none'})",
                case=case_id,
                value=panels,
            )


def check_case_ids(data_dir: Path, cases: tuple[str, ...] | None) -> None:
    """``--case`` values: plain subject names of cases in ``data_dir``'s case index.

    Raises:
        ParameterError: an empty, path-like or unknown id (exit status 2).
    """
    if cases is None:
        return
    known = index(data_dir)
    for case in cases:
        if not case or case in (".", "..") or any(c in case for c in "/\\") or case[0] == ".":
            raise ParameterError(
                "<command line>", "--case", f"{case!r} is not a case id (a subject folder name)"
            )
        if case not in known or known[case].role is not Role.CASE:
            raise ParameterError(
                "<command line>",
                "--case",
                f"no case {case!r} in {data_dir} (cases: {', '.join(known.cases) or 'none'})",
            )


def _stamps(paths: list[Path]) -> list[list[Any]]:
    """(path, size, mtime ns, inode) of every file below each of ``paths`` (a file: every
    file below its folder, which a DICOMDIR may name), hidden entries skipped."""
    out: list[list[Any]] = []
    for path in paths:
        folder = path if path.is_dir() else path.parent
        out.extend([f, *stamp.as_list()] for f, stamp in sorted(file_stamps_below(folder).items()))
    return out


def study_check_key(data_dir: Path, cases: tuple[str, ...] | None) -> str:
    """What the result of :func:`check_study_data` depends on: the studies checked, the
    (size, mtime ns, inode) of their files, the reader's source files and the versions of
    its dependencies. No file is read."""
    from casereport.render.hashing import dependency_versions, digest_json

    known = index(data_dir)
    subjects = [*(cases or known.cases), *known.controls]
    studies = [
        [subject, entry, str(path)]
        for subject in dict.fromkeys(subjects)
        for entry, path in known[subject].study_paths()
    ]
    reader = sorted((Path(__file__).resolve().parents[1] / "io").glob("*.py"))
    return digest_json(
        {
            "studies": studies,
            "files": _stamps([Path(p) for _, _, p in studies]),
            "reader": [[p.name, *FileStamp.of(p.stat()).as_list()] for p in reader],
            "versions": dependency_versions(),
        }
    )


def check_study_data(
    data_dir: Path, cases: tuple[str, ...] | None, *, cache_file: Path | None = None
) -> None:
    """Every study the case files of ``cases`` (all cases when ``None``) and of the controls
    name can be read: each file's header, and its length against the pixels the header
    declares, before any kernel starts (pixels are not decoded here).

    ``cache_file`` (e.g. ``build/.study-check.json``) remembers the
    :func:`study_check_key` of the last check that passed: while it holds, no header is
    read again.

    Raises:
        CaseFileError: one line naming the case file, the entry and the unreadable file.
    """
    key = study_check_key(data_dir, cases) if cache_file is not None else ""
    if cache_file is not None:
        try:
            if json.loads(cache_file.read_text()).get("key") == key:
                return
        except (OSError, ValueError, AttributeError):
            pass
    _check_studies(data_dir, cases)
    if cache_file is not None:
        try:
            write_atomic(cache_file, json.dumps({"key": key}).encode())
        except OSError:
            pass  # a cache only


def _check_studies(data_dir: Path, cases: tuple[str, ...] | None) -> None:
    from casereport.errors import CaseFileError, DicomInputError
    from casereport.io.pixels import check_pixel_length
    from casereport.io.scan import collect

    known = index(data_dir)
    subjects = [*(cases or known.cases), *known.controls]
    for subject in dict.fromkeys(subjects):
        spec = known[subject]
        for entry, path in spec.study_paths():
            try:
                for series in collect(path):
                    for file, header in zip(series.summary.paths, series.headers, strict=True):
                        check_pixel_length(header, file)
            except DicomInputError as err:
                raise CaseFileError(spec.path, entry, f"study cannot be read: {err}") from None

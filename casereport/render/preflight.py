"""Checks of a case run's parameters against the data, before any cell executes.

Type checks live in :mod:`casereport.render.params`; here the *values* are checked: the
case folder and its ``case.yaml`` exist, the studies the notebook will load exist for the
case and the control, and the requested panels are declared in the case file. Each
failure is a :class:`ParameterError` naming the notebook and the parameter.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import yaml

from casereport.errors import ParameterError
from casereport.render.params import declared_parameters

#: Studies every case run needs (key of the ``studies`` parameter).
REQUIRED_STUDIES = ("whole_body",)


def _value(name: str, params: dict[str, Any], declared: dict[str, dict[str, Any]]) -> Any:
    if name in params:
        return params[name]
    try:
        return ast.literal_eval(str(declared[name]["default"]))
    except (KeyError, ValueError, SyntaxError):
        return None


def check_case_parameters(notebook: Path, params: dict[str, Any], cwd: Path) -> None:
    """Raise :class:`ParameterError` if ``params`` point at data that is not there.

    Only applies to notebooks declaring ``case_id`` and ``data_dir``; others pass.
    """
    declared = declared_parameters(notebook)
    if "case_id" not in declared or "data_dir" not in declared:
        return
    case_id = _value("case_id", params, declared)
    data_dir = cwd / str(_value("data_dir", params, declared))
    case_dir = data_dir / str(case_id)
    if not (case_dir / "case.yaml").is_file():
        known = sorted(p.parent.name for p in data_dir.glob("*/case.yaml"))
        raise ParameterError(
            notebook,
            "case_id",
            f"no data for case {case_id!r}: {case_dir}/case.yaml not found "
            f"(cases with data: {', '.join(known) or 'none'})",
        )
    studies = _value("studies", params, declared)
    if isinstance(studies, dict):
        subjects = [str(case_id)]
        control = _value("control_id", params, declared)
        if control:
            subjects.append(str(control))
        for key in REQUIRED_STUDIES:
            if key not in studies:
                raise ParameterError(notebook, "studies", f"no {key!r} entry")
            for subject in subjects:
                path = data_dir / subject / str(studies[key])
                if not path.exists():
                    raise ParameterError(
                        notebook,
                        "studies",
                        f"missing {key} study for {subject}: {path} does not exist",
                    )
    panels = _value("panels", params, declared)
    if panels:
        spec = yaml.safe_load((case_dir / "case.yaml").read_text()) or {}
        declared_panels = sorted((spec.get("panels") or {}).keys())
        unknown = [p for p in panels if p not in declared_panels]
        if unknown:
            raise ParameterError(
                notebook,
                "panels",
                f"case {case_id} has no panel {', '.join(map(str, unknown))} "
                f"(panels: {', '.join(declared_panels) or 'none'})",
            )

"""Typed validation of notebook parameters before anything executes.

papermill only warns about parameters a notebook does not declare; here an unknown name or
a value of the wrong type is an error naming the notebook and the parameter.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from casereport.case.parse import yaml_value
from casereport.errors import ParameterError

_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (float, int),
    "bool": (bool,),
    "list": (list, tuple),
    "dict": (dict,),
}


def declared_parameters(notebook: Path) -> dict[str, dict[str, Any]]:
    """Parameters declared in the cell tagged ``parameters``: name -> {type, default, help}."""
    from casereport.render.execute import lighten_imports

    lighten_imports()
    import papermill

    try:
        found = papermill.inspect_notebook(str(notebook))
    except Exception as exc:  # papermill raises bare exceptions for unreadable notebooks
        raise ParameterError(notebook, "parameters", f"cannot read notebook: {exc}") from exc
    if not found:
        raise ParameterError(notebook, "parameters", "no cell tagged 'parameters'")
    return {
        name: {
            "type": _declared_type(info),
            "default": info.get("default"),
            "help": info.get("help", ""),
        }
        for name, info in found.items()
    }


def _declared_type(info: dict[str, Any]) -> str:
    """The annotated type, else the type of the default value's literal."""
    annotated = str(info.get("inferred_type_name", "None")).split("[")[0]
    if annotated not in ("None", ""):
        return annotated
    try:
        value = ast.literal_eval(str(info.get("default")))
    except (ValueError, SyntaxError):
        return "Any"
    return "Any" if value is None else type(value).__name__


def _type_ok(value: Any, type_name: str) -> bool:
    if type_name.startswith("Optional") or type_name in ("None", "Any", ""):
        return True
    allowed = _TYPES.get(type_name.lower())
    if allowed is None:
        return True
    if isinstance(value, bool) and bool not in allowed:
        return False
    return isinstance(value, allowed)


def validate_parameters(
    notebook: Path,
    values: dict[str, Any],
    declared: dict[str, dict[str, Any]] | None = None,
    *,
    case: str | None = None,
) -> dict[str, Any]:
    """Check ``values`` against the notebook's declared parameters; return them unchanged.

    ``declared`` (from :func:`declared_parameters`, e.g. remembered by the render cache)
    saves reading the notebook again; ``case`` is named in errors.
    """
    if declared is None:
        declared = declared_parameters(notebook)
    for name, value in values.items():
        if name not in declared:
            known = ", ".join(sorted(declared))
            raise ParameterError(
                notebook, name, f"unknown parameter (declared: {known})", case=case, value=value
            )
        want = declared[name]["type"]
        if not _type_ok(value, want):
            raise ParameterError(
                notebook,
                name,
                f"expected {want}, got {type(value).__name__} {value!r}",
                case=case,
                value=value,
            )
    return values


def parse_assignment(text: str) -> tuple[str | None, str, Any]:
    """Parse ``[CASE:]name=value`` from the command line; the value is read as YAML.

    Returns (case or None, name, value).
    """
    if "=" not in text:
        raise ParameterError("<command line>", text, "expected name=value or CASE:name=value")
    key, raw = text.split("=", 1)
    case, _, name = key.rpartition(":")
    return (case or None), name.strip(), yaml_value(raw)

"""Facets of a case file: the parts a run can depend on separately.

A run records the parts of a ``case.yaml`` it used, not the whole file (see
:mod:`casereport.record`), so that editing one panel's caption does not invalidate a
run that never read it. The facets:

* ``core``: everything except the panels' captions, alt texts and the annotations
  (recorded when the file is read: every reader uses it);
* ``panels.<id>.caption``, ``panels.<id>.alt``: recorded when
  :attr:`PanelSpec.caption` / :attr:`PanelSpec.alt` is read;
* ``panels.<id>.annotations``: the annotations of panel ``<id>`` with their positions in
  the list (their names, ``annotations[i]``, depend on them); recorded by
  :meth:`CaseSpec.annotations_for` and :attr:`CaseSpec.annotations`.

:func:`facet_digests` gives the digest of every facet of a file (:func:`facet_values` the
values); a file that does not parse or validate has none, so every run that read any part
of it is out of date.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

from casereport.errors import CaseReportError

#: the facet recorded when a case file is read
CORE = "core"
#: per-panel facets (``panels.<id>.<name>``)
PANEL_FACETS = ("caption", "alt", "annotations")


def digest(value: Any) -> str:
    """SHA-256 of a facet's value (canonical JSON)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def split(data: dict[str, Any]) -> dict[str, Any]:
    """The parsed YAML of a valid case file cut into facets: ``{facet name: value}``."""
    core = copy.deepcopy(data)
    panels = core.get("panels") or {}
    annotations = core.pop("annotations", None) or []
    out: dict[str, Any] = {}
    for pid, panel in panels.items():
        out[f"panels.{pid}.caption"] = panel.pop("caption", None)
        out[f"panels.{pid}.alt"] = panel.pop("alt", None)
        out[f"panels.{pid}.annotations"] = [
            [i, a] for i, a in enumerate(annotations) if a.get("panel") == pid
        ]
    out[CORE] = core
    return out


def facet_values(path: str | Path) -> dict[str, Any] | None:
    """Every facet of case file ``path`` as parsed (``{facet name: value}``; ``None`` when
    the file cannot be read or is not a valid case file).

    Validation is the schema check of :func:`casereport.case.read_case` (no images).
    """
    from .parse import parse_case, read_yaml

    path = Path(path)
    try:
        data = read_yaml(path)
        parse_case(path, data)
    except (CaseReportError, OSError):
        return None
    return split(data)


def facet_digests(path: str | Path) -> dict[str, str] | None:
    """SHA-256 of every facet of case file ``path`` (``None`` when the file cannot be read
    or is not a valid case file: nothing recorded from it is then current).

    The values hashed are the parsed YAML (comments and layout are not part of any facet).
    """
    values = facet_values(path)
    if values is None:
        return None
    return {name: digest(value) for name, value in values.items()}


def facet_kind(facet: str) -> str:
    """``"caption"`` for ``panels.A1.caption`` (the last part of a panel facet's name);
    ``core`` for the core facet."""
    return facet.rsplit(".", 1)[-1] if facet.startswith("panels.") else facet


__all__ = ["CORE", "PANEL_FACETS", "digest", "facet_digests", "facet_kind", "facet_values", "split"]

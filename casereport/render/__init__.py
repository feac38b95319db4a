"""Orchestration behind ``render.py``: cached, parallel papermill runs, HTML and PDF export.

Names are imported lazily so that ``render.py`` starts fast when nothing needs executing.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RenderOptions", "RenderResult", "render"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from casereport.render import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)

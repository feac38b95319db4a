"""Orchestration behind ``render.py``: papermill execution, HTML and PDF export."""

from casereport.render.pipeline import RenderOptions, RenderResult, render

__all__ = ["RenderOptions", "RenderResult", "render"]

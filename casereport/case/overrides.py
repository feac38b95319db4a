"""Display overrides of a case: windows and crops given as parameters instead of in the file.

``nm_window``, ``ct_window`` and ``crop_mm`` are parameters of the case notebook; the
render passes the same values to the figure notebook, so an override changes the case's
panels and Figure 1 alike. :meth:`DisplayOverrides.parse` validates raw values against a
case (a :class:`~casereport.errors.ParameterError` names the case, the parameter and the
value); :meth:`DisplayOverrides.apply` returns the overridden case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from casereport.errors import CaseFileError, ParameterError, WindowError

from .model import Box, CaseSpec, Modality
from .parse import crop_axes, parse_box
from .window import Window

#: Case-notebook parameters that change how a case is displayed, and their meaning.
DISPLAY_PARAMETERS: dict[str, str] = {
    "nm_window": "window of the NM panels: [lo, hi] percentiles or {counts: [lo, hi]}",
    "ct_window": "window of the CT and fusion panels: lung, mediastinal, bone or W,L in HU",
    "crop_mm": "displayed region per panel: {PANEL: {x: [lo, hi], y: [lo, hi]}} in mm",
}


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | tuple | dict) and not value)


@dataclass(frozen=True)
class CropOverride:
    """A panel's crop in mm; ``axes`` are its key names (``x``/``y``, or ``x``/``z`` ...)."""

    panel_id: str
    axes: tuple[str, str]
    box: Box

    def as_value(self) -> dict[str, list[float]]:
        return dict(zip(self.axes, (list(self.box.x_mm), list(self.box.y_mm)), strict=True))


@dataclass(frozen=True)
class DisplayOverrides:
    """Validated display overrides of one case (``None`` / empty: as in the case file)."""

    case_id: str
    nm_window: Window | None = None
    ct_window: Window | None = None
    crop_mm: tuple[CropOverride, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.nm_window or self.ct_window or self.crop_mm)

    @classmethod
    def parse(
        cls, spec: CaseSpec, values: Mapping[str, Any], *, source: str | Path = "<command line>"
    ) -> DisplayOverrides:
        """Validate ``{parameter: value}`` (names of :data:`DISPLAY_PARAMETERS`) for ``spec``.

        Raises:
            ParameterError: unknown name or invalid value; names ``source``, the case, the
                parameter and the value.
        """
        kw: dict[str, Any] = {}
        for name, value in values.items():

            def fail(reason: str, name: str = name, value: Any = value) -> ParameterError:
                given = "" if repr(value) in reason else f" (got {value!r})"
                return ParameterError(
                    source, name, f"{reason}{given}", case=spec.case_id, value=value
                )

            if name not in DISPLAY_PARAMETERS:
                raise fail(f"not a display parameter ({', '.join(DISPLAY_PARAMETERS)})")
            if _empty(value):
                continue
            if name in ("nm_window", "ct_window"):
                modality = Modality.NM if name == "nm_window" else Modality.CT
                try:
                    kw[name] = Window.from_cli(value, modality)
                except WindowError as err:
                    raise fail(str(err)) from None
                continue
            if not isinstance(value, Mapping):
                raise fail("expected {PANEL: {x: [lo, hi], y: [lo, hi]}} in mm")
            crops = []
            for pid, box in value.items():
                if pid not in spec.panel_ids:
                    raise fail(
                        f"case {spec.case_id} has no panel {pid!r} "
                        f"(panels: {', '.join(spec.panel_ids) or 'none'})"
                    )
                panel = spec.panel(pid)
                axes = crop_axes(panel.kind, panel.plane)
                try:
                    crop = parse_box(box, axes, source=source, entry=pid)
                except CaseFileError as err:
                    raise fail(f"{err.entry}: {err.reason}") from None
                crops.append(CropOverride(str(pid), axes, crop))
            kw[name] = tuple(sorted(crops, key=lambda c: c.panel_id))
        return cls(spec.case_id, **kw)

    def apply(self, spec: CaseSpec) -> CaseSpec:
        """``spec`` with these windows and crops."""
        out = spec.with_windows(nm=self.nm_window, ct=self.ct_window)
        for crop in self.crop_mm:
            out = out.with_crop(crop.panel_id, crop.box)
        return out

    def as_parameters(self) -> dict[str, Any]:
        """The overrides as notebook parameter values (JSON-ready; only those given)."""
        out: dict[str, Any] = {}
        if self.nm_window is not None:
            out["nm_window"] = self.nm_window.as_case_value()
        if self.ct_window is not None:
            out["ct_window"] = self.ct_window.as_case_value()
        if self.crop_mm:
            out["crop_mm"] = {c.panel_id: c.as_value() for c in self.crop_mm}
        return out

    def describe(self) -> list[str]:
        """One short line per override, e.g. ``"ct_window: mediastinal W400/L40"``."""
        lines = []
        if self.nm_window is not None:
            lines.append(f"nm_window: {self.nm_window.describe()}")
        if self.ct_window is not None:
            lines.append(f"ct_window: {self.ct_window.describe()}")
        for c in self.crop_mm:
            (u, v), b = c.axes, c.box
            lines.append(
                f"crop_mm of {c.panel_id}: {u} {b.x_mm[0]:g} to {b.x_mm[1]:g}, "
                f"{v} {b.y_mm[0]:g} to {b.y_mm[1]:g} mm"
            )
        return lines


def with_overrides(
    spec: CaseSpec, *, source: str | Path = "<parameters>", **values: Any
) -> CaseSpec:
    """``spec`` with display overrides given as parameter values (empty: unchanged)."""
    return DisplayOverrides.parse(spec, values, source=source).apply(spec)

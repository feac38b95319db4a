"""Display windows: CT windows in HU and NM windows in counts or percentiles."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from casereport.errors import FigureError


@dataclass(frozen=True)
class CTWindow:
    """A CT grey-scale window.

    Attributes:
        width_hu: window width in HU (> 0).
        level_hu: window centre in HU.
        name: preset name (``"lung"``, ``"mediastinal"``, ``"bone"``) or ``""`` for custom.
    """

    width_hu: float
    level_hu: float
    name: str = ""

    def __post_init__(self) -> None:
        if not (np.isfinite(self.width_hu) and np.isfinite(self.level_hu)):
            raise FigureError(
                f"CT window must be finite (width {self.width_hu}, level {self.level_hu})"
            )
        if self.width_hu <= 0:
            raise FigureError(f"CT window width must be > 0 HU, got {self.width_hu}")

    @property
    def limits_hu(self) -> tuple[float, float]:
        """(vmin, vmax) in HU."""
        half = self.width_hu / 2.0
        return (self.level_hu - half, self.level_hu + half)

    def describe(self) -> str:
        """Short text, e.g. ``"lung W1500/L-600"``."""
        label = f"W{self.width_hu:g}/L{self.level_hu:g}"
        return f"{self.name} {label}" if self.name else label

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "width_hu": self.width_hu, "level_hu": self.level_hu}


#: Named CT windows (width, level in HU).
CT_WINDOWS: dict[str, CTWindow] = {
    "lung": CTWindow(1500.0, -600.0, "lung"),
    "mediastinal": CTWindow(400.0, 40.0, "mediastinal"),
    "bone": CTWindow(2000.0, 500.0, "bone"),
}


def ct_window(name_or_window: str | CTWindow) -> CTWindow:
    """A preset by name (``lung``/``mediastinal``/``bone``) or the window itself."""
    if isinstance(name_or_window, CTWindow):
        return name_or_window
    try:
        return CT_WINDOWS[name_or_window]
    except KeyError:
        known = ", ".join(sorted(CT_WINDOWS))
        raise FigureError(f"unknown CT window {name_or_window!r} (known: {known})") from None


class NMWindowMode(StrEnum):
    """How an NM window is given."""

    PERCENTILES = "percentiles"
    COUNTS = "counts"


@dataclass(frozen=True)
class NMWindow:
    """An NM grey-scale window.

    ``mode="counts"``: ``lo``/``hi`` are counts per pixel. ``mode="percentiles"``: ``lo``/``hi``
    are percentiles (0-100) of the pixels with counts > 0, so that the empty field of view
    around the patient does not move the window.
    """

    lo: float
    hi: float
    mode: NMWindowMode = NMWindowMode.PERCENTILES

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", NMWindowMode(self.mode))
        lo, hi = self.lo, self.hi
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise FigureError(f"NM window must be finite, got [{lo}, {hi}]")
        if hi <= lo:
            raise FigureError(f"NM window needs lo < hi, got [{lo}, {hi}] ({self.mode.value})")
        if self.mode is NMWindowMode.PERCENTILES and not (0 <= lo and hi <= 100):
            raise FigureError(f"NM window percentiles must lie in [0, 100], got [{lo}, {hi}]")
        if self.mode is NMWindowMode.COUNTS and lo < 0:
            raise FigureError(f"NM window counts must be >= 0, got [{lo}, {hi}]")

    def limits(self, *arrays: np.ndarray) -> tuple[float, float]:
        """(vmin, vmax) in counts for the given image(s) (pooled for percentiles)."""
        if self.mode is NMWindowMode.COUNTS:
            return (float(self.lo), float(self.hi))
        values = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])
        values = values[values > 0]
        if values.size == 0:
            return (0.0, 1.0)
        lo, hi = np.percentile(values, [self.lo, self.hi])
        if hi <= lo:
            hi = lo + 1.0
        return (float(lo), float(hi))

    def describe(self) -> str:
        unit = "th percentile" if self.mode is NMWindowMode.PERCENTILES else " counts"
        return f"{self.lo:g}-{self.hi:g}{unit}"

    def as_dict(self) -> dict[str, object]:
        return {"mode": self.mode.value, "lo": self.lo, "hi": self.hi}

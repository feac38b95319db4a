"""Display windows: one type for CT (HU) and NM (counts or percentiles) grey scales.

:class:`Window` is built and validated in one place (its constructor); errors are
:class:`~casereport.errors.WindowError` naming the argument at fault. The named CT
windows live in :data:`PRESETS`. Two parsers build windows from outside text:
:meth:`Window.from_case` (a ``window:`` value of a case file) and :meth:`Window.from_cli`
(a command-line or notebook-parameter value).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from casereport.errors import WindowError

if TYPE_CHECKING:
    import numpy as np


class WindowUnit(StrEnum):
    """What ``lo`` and ``hi`` of a window are measured in."""

    HU = "hu"  # CT: Hounsfield units
    PERCENTILES = "percentiles"  # NM: percentiles (0-100) of the pixels with counts > 0
    COUNTS = "counts"  # NM: counts per pixel


class Modality(StrEnum):
    """Which images a window applies to."""

    CT = "CT"
    NM = "NM"


def _finite(value: Any, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise WindowError(argument, f"expected a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise WindowError(argument, f"must be finite, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Window:
    """A grey-scale window ``[lo, hi]`` in ``unit``.

    Attributes:
        lo, hi: lower and upper limit (HU, counts, or percentiles of the counts > 0 of
            the displayed pixels, so that the empty field of view does not move the window).
        unit: :class:`WindowUnit`.
        name: preset name (``"lung"``, ``"mediastinal"``, ``"bone"``) or ``""``.

    Raises:
        WindowError: a limit is not a finite number, ``hi <= lo``, a percentile lies
            outside [0, 100], a count is negative, or a name is given to an NM window.
    """

    lo: float
    hi: float
    unit: WindowUnit = WindowUnit.PERCENTILES
    name: str = ""

    def __post_init__(self) -> None:
        try:
            unit = WindowUnit(self.unit)
        except ValueError:
            known = ", ".join(u.value for u in WindowUnit)
            raise WindowError("unit", f"unknown unit {self.unit!r} (known: {known})") from None
        lo, hi = _finite(self.lo, "lo"), _finite(self.hi, "hi")
        object.__setattr__(self, "unit", unit)
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)
        if not hi > lo:
            raise WindowError("hi", f"needs lo < hi, got [{lo:g}, {hi:g}] ({unit.value})")
        if unit is WindowUnit.PERCENTILES and not (lo >= 0 and hi <= 100):
            raise WindowError(
                "lo" if lo < 0 else "hi", f"percentiles must lie in [0, 100], got [{lo:g}, {hi:g}]"
            )
        if unit is WindowUnit.COUNTS and lo < 0:
            raise WindowError("lo", f"counts must be >= 0, got [{lo:g}, {hi:g}]")
        if self.name and unit is not WindowUnit.HU:
            raise WindowError("name", f"only CT windows have preset names, got {self.name!r}")

    # ----------------------------------------------------------------- CT helpers
    @classmethod
    def ct(cls, width_hu: float, level_hu: float, name: str = "") -> Window:
        """A CT window from its width (> 0 HU) and level (centre, HU)."""
        width = _finite(width_hu, "width_hu")
        level = _finite(level_hu, "level_hu")
        if width <= 0:
            raise WindowError("width_hu", f"CT window width must be > 0 HU, got {width:g}")
        return cls(level - width / 2.0, level + width / 2.0, WindowUnit.HU, name)

    @classmethod
    def preset(cls, name: str) -> Window:
        """A named CT window (:data:`PRESETS`)."""
        try:
            return PRESETS[name]
        except (KeyError, TypeError):
            raise WindowError(
                "", f"unknown CT window {name!r} (known: {', '.join(PRESETS)})"
            ) from None

    @property
    def modality(self) -> Modality:
        """``CT`` for HU windows, else ``NM``."""
        return Modality.CT if self.unit is WindowUnit.HU else Modality.NM

    @property
    def width_hu(self) -> float:
        return self._hu()[0]

    @property
    def level_hu(self) -> float:
        return self._hu()[1]

    @property
    def limits_hu(self) -> tuple[float, float]:
        """(vmin, vmax) in HU of a CT window."""
        self._hu()
        return (self.lo, self.hi)

    def _hu(self) -> tuple[float, float]:
        if self.unit is not WindowUnit.HU:
            raise WindowError("unit", f"not a CT window: {self.describe()}")
        return (self.hi - self.lo, (self.lo + self.hi) / 2.0)

    # ----------------------------------------------------------------- use
    def limits(self, *arrays: np.ndarray) -> tuple[float, float]:
        """(vmin, vmax) for the given image(s): HU or counts as they are; percentiles of
        the pooled pixels > 0 (``(0, 1)`` when there are none)."""
        if self.unit is not WindowUnit.PERCENTILES:
            return (self.lo, self.hi)
        import numpy as np  # only needed here; keeps the command line quick to start

        values = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])
        values = values[values > 0]
        if values.size == 0:
            return (0.0, 1.0)
        lo, hi = np.percentile(values, [self.lo, self.hi])
        if hi <= lo:
            hi = lo + 1.0
        return (float(lo), float(hi))

    def require(self, modality: Modality | str, argument: str = "window") -> Window:
        """``self`` if it applies to ``modality``, else :class:`WindowError`."""
        if self.modality != Modality(modality):
            raise WindowError(
                argument, f"expected a {Modality(modality).value} window, got {self.describe()}"
            )
        return self

    def describe(self) -> str:
        """Short text, e.g. ``"lung W1500/L-600"`` or ``"0.5-99.5th percentile"``."""
        if self.unit is WindowUnit.HU:
            width, level = self._hu()
            label = f"W{width:g}/L{level:g}"
            return f"{self.name} {label}" if self.name else label
        unit = "th percentile" if self.unit is WindowUnit.PERCENTILES else " counts"
        return f"{self.lo:g}-{self.hi:g}{unit}"

    def as_dict(self) -> dict[str, Any]:
        """CT: ``{name, width_hu, level_hu}``; NM: ``{mode, lo, hi}`` (figure sidecars)."""
        if self.unit is WindowUnit.HU:
            width, level = self._hu()
            return {"name": self.name, "width_hu": width, "level_hu": level}
        return {"mode": self.unit.value, "lo": self.lo, "hi": self.hi}

    def as_case_value(self) -> str | dict[str, Any]:
        """The value as written in a case file (inverse of :meth:`from_case`)."""
        if self.unit is WindowUnit.HU:
            if self.name:
                return self.name
            width, level = self._hu()
            return {"width": width, "level": level}
        return {self.unit.value: [self.lo, self.hi]}

    # ----------------------------------------------------------------- parsers
    @classmethod
    def from_case(cls, value: Any, modality: Modality | str) -> Window:
        """Parse a case-file ``window:`` value.

        CT: a preset name or ``{width: W, level: L}`` (HU); NM: ``{percentiles: [lo, hi]}``
        or ``{counts: [lo, hi]}``. A :class:`WindowError` names the key at fault
        (``width``, ``level``, ``percentiles``, ``counts``; ``""`` for the whole value).
        """
        if Modality(modality) is Modality.CT:
            if isinstance(value, str):
                return cls.preset(value)
            if not isinstance(value, Mapping) or set(value) != {"width", "level"}:
                raise WindowError(
                    "",
                    f"expected a preset ({', '.join(PRESETS)}) or {{width: W, level: L}} "
                    f"in HU, got {value!r}",
                )
            try:
                return cls.ct(value["width"], value["level"])
            except WindowError as err:
                key = {"width_hu": "width", "level_hu": "level"}.get(err.argument, "")
                raise WindowError(key, err.reason) from None
        if not isinstance(value, Mapping) or len(value) != 1:
            raise WindowError(
                "",
                f"NM window must be {{percentiles: [lo, hi]}} or {{counts: [lo, hi]}}, "
                f"got {value!r}",
            )
        ((mode, limits),) = value.items()
        if mode not in (WindowUnit.PERCENTILES.value, WindowUnit.COUNTS.value):
            raise WindowError(
                "",
                f"NM window must be {{percentiles: [lo, hi]}} or {{counts: [lo, hi]}}, "
                f"got {value!r}",
            )
        lo, hi = _pair(limits, mode)
        try:
            return cls(lo, hi, WindowUnit(mode))
        except WindowError as err:
            raise WindowError(mode, err.reason) from None

    @classmethod
    def from_cli(cls, value: Any, modality: Modality | str) -> Window:
        """Parse a window given on the command line or as a notebook parameter.

        ``value`` is text (read as YAML) or an already parsed value. CT: a preset name,
        ``W,L`` / ``[W, L]`` / ``{width: W, level: L}`` in HU. NM: ``[lo, hi]`` or
        ``lo,hi`` percentiles, or ``{percentiles: [lo, hi]}`` / ``{counts: [lo, hi]}``.
        """
        if isinstance(value, str):
            from .parse import yaml_value  # the one YAML reader of the package

            parsed = yaml_value(value)
            if isinstance(parsed, str) and "," in parsed:
                parsed = [p.strip() for p in parsed.split(",")]
                parsed = [_number_text(p) for p in parsed]
            value = parsed
        if Modality(modality) is Modality.CT:
            if isinstance(value, list | tuple):
                width, level = _pair(value, "")
                return cls.ct(width, level)
            return cls.from_case(value, Modality.CT)
        if isinstance(value, list | tuple):
            lo, hi = _pair(value, "")
            return cls(lo, hi, WindowUnit.PERCENTILES)
        return cls.from_case(value, Modality.NM)


def _number_text(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def _pair(value: Any, argument: str) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise WindowError(argument, f"expected [lo, hi] (two numbers), got {value!r}")
    try:
        return (_finite(value[0], argument), _finite(value[1], argument))
    except WindowError as err:
        raise WindowError(argument, f"{err.reason} in {list(value)!r}") from None


#: The named CT windows (width / level in HU).
PRESETS: dict[str, Window] = {
    "lung": Window.ct(1500.0, -600.0, "lung"),
    "mediastinal": Window.ct(400.0, 40.0, "mediastinal"),
    "bone": Window.ct(2000.0, 500.0, "bone"),
}

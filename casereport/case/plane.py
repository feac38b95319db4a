"""Patient planes and their axes: the one plane -> axes mapping of the package."""

from __future__ import annotations

from enum import StrEnum


class Plane(StrEnum):
    """A patient plane; the in-plane axes (u, v) and the normal are LPS axes 0, 1, 2.

    ``axial``: u = x, v = y, positioned by z; ``coronal``: u = x, v = z, positioned by y;
    ``sagittal``: u = y, v = z, positioned by x (all patient LPS mm).
    """

    AXIAL = "axial"
    CORONAL = "coronal"
    SAGITTAL = "sagittal"

    @property
    def axes(self) -> tuple[int, int, int]:
        """(u axis, v axis, normal axis) as LPS indices (0 = x, 1 = y, 2 = z)."""
        return _AXES[self]

    @property
    def normal_axis(self) -> int:
        """LPS index of the plane normal (2 for axial)."""
        return _AXES[self][2]

    @property
    def position_key(self) -> str:
        """Case-file key giving the plane position (``z_mm`` for axial ...)."""
        return f"{'xyz'[self.normal_axis]}_mm"

    @property
    def crop_keys(self) -> tuple[str, str]:
        """Case-file keys of a crop in this plane (axial: ``x``, ``y``)."""
        u, v, _ = _AXES[self]
        return ("xyz"[u], "xyz"[v])

    @property
    def v_down(self) -> bool:
        """True if v grows downwards on screen (axial: anterior at the top)."""
        return self is Plane.AXIAL

    @property
    def markers(self) -> tuple[str, str, str, str]:
        """Orientation letters (left, right, top, bottom) of the displayed plane.

        Radiological convention: the patient's right on the image left.
        """
        return _MARKERS[self]


_AXES: dict[Plane, tuple[int, int, int]] = {
    Plane.AXIAL: (0, 1, 2),
    Plane.CORONAL: (0, 2, 1),
    Plane.SAGITTAL: (1, 2, 0),
}
_MARKERS: dict[Plane, tuple[str, str, str, str]] = {
    Plane.AXIAL: ("R", "L", "A", "P"),
    Plane.CORONAL: ("R", "L", "S", "I"),
    Plane.SAGITTAL: ("A", "P", "S", "I"),
}

"""Find the body in a whole-body view and place anatomical ROIs from its geometry.

The body outline gives the vertex, the soles and the midline; ROIs are then placed at
fixed fractions of the stature (``u``: 0 at the vertex, 1 at the soles) and at a signed
lateral offset (``s``: positive towards the patient's right, in units of stature). The
same fractions map the same anatomy in every patient, so a ROI measured in a case can be
measured at the same place in the normal control.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from casereport.analysis.roi import PlanarROI
from casereport.errors import DicomInputError
from casereport.io import PlanarImage
from casereport.io.memo import derived


@dataclass(frozen=True)
class BodyFrame:
    """Anatomical frame of one planar whole-body view, in view mm.

    Attributes:
        view: ``"ANT"`` or ``"POST"``.
        top_mm, bottom_mm: y of the vertex and of the soles.
        midline_mm: x of the body midline (median over the trunk).
        lateral_sign: +1 when the patient's right lies towards larger x (posterior view),
            -1 when it lies towards smaller x (anterior view, patient facing the camera).
    """

    view: str
    top_mm: float
    bottom_mm: float
    midline_mm: float
    lateral_sign: int

    @property
    def stature_mm(self) -> float:
        return self.bottom_mm - self.top_mm

    def to_view(self, u: float, s: float) -> tuple[float, float]:
        """Normalised (u, s) -> view mm (x, y)."""
        h = self.stature_mm
        return (self.midline_mm + self.lateral_sign * s * h, self.top_mm + u * h)

    def to_normalised(self, x_mm: float, y_mm: float) -> tuple[float, float]:
        """View mm (x, y) -> normalised (u, s)."""
        h = self.stature_mm
        return ((y_mm - self.top_mm) / h, self.lateral_sign * (x_mm - self.midline_mm) / h)

    def box(self, name: str, u: tuple[float, float], s: tuple[float, float]) -> PlanarROI:
        """Rectangle ROI spanning normalised ranges ``u`` and ``s``."""
        (x0, y0), (x1, y1) = self.to_view(u[0], s[0]), self.to_view(u[1], s[1])
        return PlanarROI(name, self.view, (min(x0, x1), max(x0, x1)), (min(y0, y1), max(y0, y1)))

    def circle(self, name: str, u: float, s: float, radius_mm: float) -> PlanarROI:
        return PlanarROI.circle(name, self.view, self.to_view(u, s), radius_mm)


def body_mask(image: PlanarImage, *, sigma_mm: float = 6.0, fraction: float = 0.12) -> np.ndarray:
    """Pixels inside the body outline: smoothed counts above ``fraction`` of the body's median.

    Soft tissue in a bone scan is faint but well above the scatter outside the body; the
    threshold is relative, so it does not depend on the injected activity or scan time.
    """
    dy, dx = image.pixel_spacing_mm
    smooth = ndimage.gaussian_filter(
        image.counts.astype(np.float64), (sigma_mm / dy, sigma_mm / dx)
    )
    positive = smooth[smooth > 0]
    if positive.size == 0:
        raise DicomInputError(image.source.paths[0], "image has no counts", "PixelData")
    rough = smooth > 0.02 * np.percentile(positive, 99.5)
    level = fraction * float(np.median(smooth[rough]))
    mask = smooth > level
    labels, n = ndimage.label(mask)
    if n == 0:
        raise DicomInputError(image.source.paths[0], "no body outline found", "PixelData")
    sizes = ndimage.sum(mask, labels, index=np.arange(1, n + 1))
    return labels == (int(np.argmax(sizes)) + 1)


@derived
def body_frame(image: PlanarImage) -> BodyFrame:
    """Vertex, soles and midline of a whole-body view (``image.view`` ANT or POST)."""
    mask = body_mask(image)
    dy, dx = image.pixel_spacing_mm
    rows = np.flatnonzero(mask.any(axis=1))
    top, bottom = rows[0] * dy, (rows[-1] + 1) * dy
    # midline: centre of the outline over the trunk (20-45 % of stature), median over rows
    r0 = int(rows[0] + 0.20 * (rows[-1] - rows[0]))
    r1 = int(rows[0] + 0.45 * (rows[-1] - rows[0]))
    centres = []
    for r in range(r0, r1 + 1):
        cols = np.flatnonzero(mask[r])
        if cols.size:
            centres.append(0.5 * (cols[0] + cols[-1] + 1) * dx)
    midline = float(np.median(centres)) if centres else 0.5 * image.size_mm[0]
    sign = +1 if image.view.upper().startswith("POST") else -1
    return BodyFrame(image.view.upper(), float(top), float(bottom), midline, sign)


@dataclass(frozen=True)
class Region:
    """A named anatomical region in normalised body coordinates (see module docstring)."""

    name: str
    u: tuple[float, float]
    s: tuple[float, float]

    def roi(self, frame: BodyFrame) -> PlanarROI:
        return frame.box(self.name, self.u, self.s)


#: Reference regions of an adult whole-body view (fractions of stature from the vertex;
#: lateral offsets towards the patient's right, in stature). Chosen from standard adult
#: proportions: lungs between the clavicles (~17 %) and the domes of the diaphragm (~30 %).
REGIONS: dict[str, Region] = {
    r.name: r
    for r in (
        Region("right lung", (0.20, 0.27), (0.035, 0.080)),
        Region("left lung", (0.20, 0.27), (-0.080, -0.035)),
        Region("right lateral ribs", (0.21, 0.27), (0.092, 0.104)),
        Region("left lateral ribs", (0.21, 0.27), (-0.104, -0.092)),
        Region("stomach", (0.325, 0.355), (-0.070, -0.035)),
        Region("liver", (0.325, 0.355), (0.035, 0.075)),
        Region("right thigh", (0.63, 0.68), (0.040, 0.055)),
        Region("left thigh", (0.63, 0.68), (-0.055, -0.040)),
    )
}

#: Where to search for the metastases of a whole-body scan, by site.
LESION_SITES: dict[str, Region] = {
    r.name: r
    for r in (
        Region("right hemipelvis", (0.40, 0.50), (0.030, 0.110)),
        Region("thoracic spine", (0.17, 0.34), (-0.012, 0.012)),
        Region("L1/L2", (0.34, 0.40), (-0.012, 0.012)),
        Region("right proximal femur", (0.50, 0.58), (0.040, 0.120)),
    )
}

#: View each site is read on: the spine lies closer to the posterior camera.
LESION_VIEWS: dict[str, str] = {"thoracic spine": "POST", "L1/L2": "POST"}

#: The whole thoracolumbar spine along the midline (reference for spinal lesions).
SPINE = Region("spine", (0.17, 0.45), (-0.010, 0.010))

"""Planar whole-body measurements: lung, stomach and lesion uptake against references.

Every ROI is placed from the body outline (:mod:`casereport.analysis.body`), never typed
in pixels; the same normalised ROIs are measured in the normal control so each ratio has
its normal value beside it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import ndimage

from casereport.analysis.body import (
    LESION_SITES,
    LESION_VIEWS,
    REGIONS,
    SPINE,
    BodyFrame,
    Region,
    body_frame,
)
from casereport.analysis.roi import PlanarROI, ROIStats, ratio
from casereport.io import PlanarImage, WholeBody
from casereport.io.memo import derived

#: Lesion ROI radius (mm) around the hottest point of a site.
LESION_RADIUS_MM = 9.0
#: Smoothing (mm, Gaussian sigma) used only to locate peaks, not to measure.
PEAK_SIGMA_MM = 5.0


@dataclass(frozen=True)
class Measurement:
    """A named ratio in a case, the same ratio in the control, and the ROIs behind it.

    Attributes:
        name: e.g. ``"lung / soft tissue"``.
        view: view measured (``"ANT"``/``"POST"``).
        case_value, control_value: the ratio in the case and in the control (unitless).
        rois: ROIs measured in the case (view mm), for overlays.
        stats: statistics (counts per pixel) of each ROI in the case.
    """

    name: str
    view: str
    case_value: float
    control_value: float
    rois: tuple[PlanarROI, ...] = ()
    stats: tuple[ROIStats, ...] = ()

    @property
    def case_over_control(self) -> float:
        return ratio(self.case_value, self.control_value)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "view": self.view,
            "case": self.case_value,
            "control": self.control_value,
            "case_over_control": self.case_over_control,
            "rois": [asdict(r) for r in self.rois],
            "stats": [asdict(s) for s in self.stats],
        }


def _mean(
    image: PlanarImage, frame: BodyFrame, *names: str
) -> tuple[float, list[PlanarROI], list[ROIStats]]:
    rois = [REGIONS[n].roi(frame) for n in names]
    stats = [r.stats(image) for r in rois]
    pixels = sum(s.n_pixels for s in stats)
    total = sum(s.total_counts for s in stats)
    return (total / pixels if pixels else float("nan")), rois, stats


def _region_ratio(
    case: PlanarImage, control: PlanarImage, num: tuple[str, ...], den: tuple[str, ...], name: str
) -> Measurement:
    values = []
    case_rois: list[PlanarROI] = []
    case_stats: list[ROIStats] = []
    for i, image in enumerate((case, control)):
        frame = body_frame(image)
        n, rn, sn = _mean(image, frame, *num)
        d, rd, sd = _mean(image, frame, *den)
        values.append(ratio(n, d))
        if i == 0:
            case_rois, case_stats = rn + rd, sn + sd
    return Measurement(name, case.view, values[0], values[1], tuple(case_rois), tuple(case_stats))


def lung_measurements(case: WholeBody, control: WholeBody, view: str = "ANT") -> list[Measurement]:
    """Lung-to-soft-tissue and lung-to-rib ratios (both lungs together), case and control."""
    c, n = case.view(view), control.view(view)
    lungs = ("right lung", "left lung")
    return [
        _region_ratio(c, n, lungs, ("right thigh", "left thigh"), "lung / soft tissue"),
        _region_ratio(c, n, lungs, ("right lateral ribs", "left lateral ribs"), "lung / rib"),
    ]


def stomach_measurement(case: WholeBody, control: WholeBody, view: str = "ANT") -> Measurement:
    """Stomach-to-liver ratio (gastric wall uptake shows as stomach > liver)."""
    return _region_ratio(
        case.view(view), control.view(view), ("stomach",), ("liver",), "stomach / liver"
    )


#: Name of the lung patchiness measurement in results.
PATCHINESS = "lung patchiness (P90 / P50)"
#: View on which patchiness is read: the posterior view sees the lungs with little
#: overlap from the heart, liver and stomach.
PATCHINESS_VIEW = "POST"


def lung_heterogeneity(image: PlanarImage, *, sigma_mm: float = 10.0) -> float:
    """Patchiness of lung uptake: 90th over 50th percentile of smoothed lung counts.

    Counts are smoothed (Gaussian, ``sigma_mm``) to remove most Poisson noise, then the
    upper tail of both lung ROIs is compared with their median. Diffuse uptake raises the
    whole lung together and keeps the ratio near its normal value; patchy uptake puts
    hot patches above an unchanged median and raises it. Unitless; 1.0 for a flat lung.
    (A coefficient of variation over the lungs does not separate the two: it is
    dominated by the steady fall of counts toward the lung edges.)
    """
    frame = body_frame(image)
    dy, dx = image.pixel_spacing_mm
    smooth = ndimage.gaussian_filter(
        image.counts.astype(np.float64), (sigma_mm / dy, sigma_mm / dx)
    )
    values = np.concatenate(
        [smooth[REGIONS[n].roi(frame).mask(image)] for n in ("right lung", "left lung")]
    )
    p50, p90 = np.percentile(values, [50.0, 90.0])
    return ratio(float(p90), float(p50))


def heterogeneity_measurement(
    case: WholeBody, control: WholeBody, view: str = PATCHINESS_VIEW
) -> Measurement:
    """Lung patchiness (:func:`lung_heterogeneity`) in the case and the control."""
    c, n = case.view(view), control.view(view)
    frame = body_frame(c)
    rois = tuple(REGIONS[k].roi(frame) for k in ("right lung", "left lung"))
    return Measurement(PATCHINESS, view, lung_heterogeneity(c), lung_heterogeneity(n), rois)


# ------------------------------------------------------------------------------ lesions


@dataclass(frozen=True)
class Lesion:
    """One focal lesion: where it is and how it compares with normal bone.

    Attributes:
        site: site name (e.g. ``"right hemipelvis"``).
        view: view measured.
        centre_mm: lesion ROI centre in view mm; ``u``/``s``: the same in body coordinates.
        lesion_counts: mean counts per pixel in the lesion ROI.
        reference: which normal bone the lesion is compared with.
        lesion_to_normal: lesion / reference bone in the case.
        control_value: the same ROIs measured in the normal control.
    """

    site: str
    view: str
    centre_mm: tuple[float, float]
    u: float
    s: float
    lesion_counts: float
    reference: str
    lesion_to_normal: float
    control_value: float
    rois: tuple[PlanarROI, ...] = field(default=())

    def as_dict(self) -> dict:
        d = asdict(self)
        d["rois"] = [asdict(r) for r in self.rois]
        d["case_over_control"] = ratio(self.lesion_to_normal, self.control_value)
        return d


def _smoothed(image: PlanarImage) -> np.ndarray:
    dy, dx = image.pixel_spacing_mm
    return ndimage.gaussian_filter(
        image.counts.astype(np.float64), (PEAK_SIGMA_MM / dy, PEAK_SIGMA_MM / dx)
    )


def _peaks(
    image: PlanarImage,
    frame: BodyFrame,
    region: Region,
    smooth: np.ndarray,
    *,
    max_peaks: int,
    min_sep_mm: float,
    floor: float,
) -> list[tuple[float, float]]:
    """Up to ``max_peaks`` local maxima (view mm) inside ``region`` above ``floor``."""
    mask = region.roi(frame).mask(image)
    dy, dx = image.pixel_spacing_mm
    size = (max(3, int(round(min_sep_mm / dy)) | 1), max(3, int(round(min_sep_mm / dx)) | 1))
    local_max = (smooth == ndimage.maximum_filter(smooth, size=size)) & mask & (smooth > floor)
    rows, cols = np.nonzero(local_max)
    order = np.argsort(-smooth[rows, cols], kind="stable")[:max_peaks]
    return [(float((cols[i] + 0.5) * dx), float((rows[i] + 0.5) * dy)) for i in order]


def _spine_level(image: PlanarImage, frame: BodyFrame) -> float:
    """Median counts along the midline of the thoracolumbar spine (normal-bone reference)."""
    return float(np.median(image.counts[SPINE.roi(frame).mask(image)]))


def _lesion_pair(
    image: PlanarImage, frame: BodyFrame, u: float, s: float, site: str
) -> tuple[float, float, str, list[PlanarROI]]:
    """(lesion mean, reference mean, reference name, ROIs) at body position (u, s)."""
    roi = frame.circle(f"{site} lesion", u, s, LESION_RADIUS_MM)
    lesion = roi.stats(image).mean_counts
    if abs(s) < 0.02:  # midline: compare with the spine as a whole
        return lesion, _spine_level(image, frame), "median of the thoracolumbar spine", [roi]
    mirror = frame.circle(f"{site} contralateral", u, -s, LESION_RADIUS_MM)
    return lesion, mirror.stats(image).mean_counts, "contralateral bone", [roi, mirror]


@derived
def find_lesions(
    case: WholeBody,
    control: WholeBody,
    *,
    sites: dict[str, Region] | None = None,
    min_contrast: float = 1.5,
) -> list[Lesion]:
    """Locate focal lesions at each named site and compare them with normal bone.

    A lesion is a local maximum (after light smoothing) inside the site's search region
    whose lesion/reference ratio is at least ``min_contrast``. The spine is read on the
    posterior view (closer to the camera), the other sites on the anterior view.
    """
    out: list[Lesion] = []
    for site, region in (sites or LESION_SITES).items():
        view = LESION_VIEWS.get(site, "ANT")
        image, ref_image = case.view(view), control.view(view)
        frame, ref_frame = body_frame(image), body_frame(ref_image)
        smooth = _smoothed(image)
        spine = abs(region.s[0] + region.s[1]) < 0.01
        floor = _spine_level(image, frame) if spine else 0.0
        peaks = _peaks(
            image, frame, region, smooth, max_peaks=3 if spine else 2, min_sep_mm=30.0, floor=floor
        )
        for x, y in peaks:
            u, s = frame.to_normalised(x, y)
            les, ref, ref_name, rois = _lesion_pair(image, frame, u, s, site)
            if ratio(les, ref) < min_contrast:
                continue
            c_les, c_ref, _, _ = _lesion_pair(ref_image, ref_frame, u, s, site)
            out.append(
                Lesion(
                    site,
                    view,
                    (x, y),
                    u,
                    s,
                    les,
                    ref_name,
                    ratio(les, ref),
                    ratio(c_les, c_ref),
                    tuple(rois),
                )
            )
    out.sort(key=lambda item: (item.u, item.s))
    return out

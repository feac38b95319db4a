"""ROI statistics behind each finding, placed from anatomy and geometry (never pixel boxes).

* planar whole-body: lung/soft-tissue, lung/rib, lung patchiness, stomach/liver and
  lesion/normal-bone ratios, each measured at the same anatomical place in the control;
* CT: lung attenuation in HU (normal lungs are the finding);
* SPECT: lung uptake relative to the vertebrae, with masks carried from CT by patient mm;
* noise: local variance/mean of a planar view (is it Poisson counting noise?).
"""

from casereport.analysis.body import LESION_SITES, REGIONS, BodyFrame, body_frame, body_mask
from casereport.analysis.case import CaseAnalysis, analyse_case, analyse_studies
from casereport.analysis.noise import LocalNoise, body_outline, local_noise
from casereport.analysis.overlay import draw_rois, roi_overlay_figure
from casereport.analysis.planar import Lesion, Measurement, find_lesions, lung_heterogeneity
from casereport.analysis.roi import PlanarROI, ROIStats
from casereport.analysis.volume import LungCT, SpectLung, lung_ct, lung_mask, spect_lung_to_vertebra

__all__ = [
    "LESION_SITES",
    "REGIONS",
    "BodyFrame",
    "CaseAnalysis",
    "Lesion",
    "LocalNoise",
    "LungCT",
    "Measurement",
    "PlanarROI",
    "ROIStats",
    "SpectLung",
    "analyse_case",
    "analyse_studies",
    "body_frame",
    "body_outline",
    "body_mask",
    "draw_rois",
    "roi_overlay_figure",
    "find_lesions",
    "lung_ct",
    "local_noise",
    "lung_heterogeneity",
    "lung_mask",
    "spect_lung_to_vertebra",
]

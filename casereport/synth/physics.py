"""Tissue properties and gamma-camera parameters (Tc-99m, 140 keV, LEHR collimator)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from casereport.synth.anatomy import Tissue

#: Linear attenuation at 140 keV, per mm (soft tissue 0.15 /cm, lung 0.045 /cm, cortical
#: bone 0.28 /cm).
MU_PER_MM: dict[Tissue, float] = {
    Tissue.AIR: 0.0,
    Tissue.SOFT: 0.0152,
    Tissue.FAT: 0.0138,
    Tissue.LUNG: 0.0045,
    Tissue.HEART: 0.0155,
    Tissue.LIVER: 0.0156,
    Tissue.STOMACH_WALL: 0.0153,
    Tissue.STOMACH_LUMEN: 0.0150,
    Tissue.KIDNEY: 0.0155,
    Tissue.BLADDER: 0.0150,
    Tissue.SPLEEN: 0.0156,
    Tissue.BRAIN: 0.0154,
    Tissue.BREAST: 0.0142,
    Tissue.GAS: 0.0,
    Tissue.MARROW: 0.0150,
    Tissue.SPONGY: 0.0190,
    Tissue.CORTICAL: 0.0280,
    Tissue.CARTILAGE: 0.0165,
    Tissue.BLOOD: 0.0155,
    Tissue.MYOCARDIUM: 0.0156,
    Tissue.FISSURE: 0.0060,
}

#: Mean CT number (HU) per tissue at 120 kV.
HU: dict[Tissue, float] = {
    Tissue.AIR: -1000.0,
    Tissue.SOFT: 45.0,
    Tissue.FAT: -100.0,
    Tissue.LUNG: -850.0,
    Tissue.HEART: 40.0,
    Tissue.LIVER: 58.0,
    Tissue.STOMACH_WALL: 42.0,
    Tissue.STOMACH_LUMEN: 12.0,
    Tissue.KIDNEY: 32.0,
    Tissue.BLADDER: 6.0,
    Tissue.SPLEEN: 50.0,
    Tissue.BRAIN: 35.0,
    Tissue.BREAST: 25.0,
    Tissue.GAS: -1000.0,
    Tissue.MARROW: 30.0,
    Tissue.SPONGY: 320.0,
    Tissue.CORTICAL: 1050.0,
    Tissue.CARTILAGE: 150.0,
    Tissue.BLOOD: 40.0,
    Tissue.MYOCARDIUM: 52.0,
    Tissue.FISSURE: -450.0,
}


def lookup(table: dict[Tissue, float], labels: np.ndarray) -> np.ndarray:
    """Map a label volume to float32 values through ``table``."""
    lut = np.zeros(256, dtype=np.float32)
    for t, v in table.items():
        lut[int(t)] = v
    return lut[labels]


def mu_from_hu(hu: np.ndarray) -> np.ndarray:
    """Bilinear CT -> 140 keV attenuation map (per mm), as used for attenuation correction."""
    hu = np.asarray(hu, dtype=np.float32)
    water = 0.0152
    below = water * (1.0 + np.clip(hu, -1000.0, 0.0) / 1000.0)
    above = water + np.clip(hu, 0.0, 3000.0) * 1.28e-5
    return np.where(hu <= 0.0, below, above).astype(np.float32)


@dataclass(frozen=True)
class Camera:
    """Dual-head gamma camera with low-energy high-resolution (LEHR) collimators.

    Attributes:
        intrinsic_fwhm_mm: intrinsic resolution (FWHM, mm).
        geo_fwhm_0_mm, geo_fwhm_slope: collimator resolution FWHM = a + b * distance (mm).
        sensitivity_cps_per_mbq: system sensitivity (counts/s per MBq, in air).
        scatter_fraction: scattered share of the counts in the 20 % photopeak window.
        scatter_sigmas_mm: widths of the two Gaussians that model the scatter kernel.
        gap_mm: air gap between the skin (or the table) and the collimator face.
        depth_bin_mm: depth step at which the distance-dependent blur is applied.
        motion_fwhm_mm: blur common to every depth (FWHM, mm) from breathing and small
            patient movements during a planar acquisition of several minutes.
        table_mm: table and pad between the patient's back and the posterior camera (mm),
            added to ``gap_mm`` for the POST view.
        table_transmission: share of the 140 keV photons that cross the table and pad.
    """

    intrinsic_fwhm_mm: float = 3.6
    geo_fwhm_0_mm: float = 1.2
    geo_fwhm_slope: float = 0.058
    sensitivity_cps_per_mbq: float = 72.0
    scatter_fraction: float = 0.30
    scatter_sigmas_mm: tuple[float, float] = (14.0, 55.0)
    gap_mm: float = 25.0
    depth_bin_mm: float = 16.0
    motion_fwhm_mm: float = 0.0
    table_mm: float = 0.0
    table_transmission: float = 1.0

    def sigma_mm(self, distance_mm: np.ndarray | float) -> np.ndarray:
        """Gaussian sigma (mm) of the system resolution at ``distance_mm`` from the collimator."""
        geo = self.geo_fwhm_0_mm + self.geo_fwhm_slope * np.asarray(distance_mm, dtype=float)
        fwhm = np.sqrt(self.intrinsic_fwhm_mm**2 + geo**2)
        return fwhm / 2.3548


CAMERA = Camera()
#: The same camera for the planar views (whole body and static chest): breathing and small
#: patient movements over minutes blur every depth alike (about 4 mm FWHM); the scatter
#: share of a 20 % window behind the full body thickness of a planar view is about 40 %;
#: the posterior head sits under a 20 mm carbon-fibre table and pad that stop about 7 % of
#: the photons. SPECT keeps ``CAMERA`` (30 % scatter, estimated and subtracted in its
#: reconstruction).
PLANAR_CAMERA = replace(
    CAMERA, scatter_fraction=0.40, motion_fwhm_mm=4.0, table_mm=20.0, table_transmission=0.93
)

TC99M_HALF_LIFE_S = 21624.0
INJECTED_MBQ = 740.0
UPTAKE_DELAY_S = 3 * 3600.0

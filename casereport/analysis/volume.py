"""CT and SPECT measurements: lung attenuation in HU, SPECT lung-to-vertebra uptake.

Masks are made on the CT and carried to the SPECT grid through patient coordinates
(each SPECT voxel centre -> LPS mm -> CT index), never by matching array indices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from casereport.analysis.roi import ratio
from casereport.io import CTVolume, SpectVolume, Volume
from casereport.io.memo import derived

#: Voxels below this HU inside the body are air-containing lung (or airway).
LUNG_THRESHOLD_HU = -400.0
#: Cortical and trabecular bone of the vertebral bodies lies above this HU.
BONE_THRESHOLD_HU = 180.0
#: A lung is at least this large (mL); smaller air pockets (bowel gas) are ignored.
MIN_LUNG_ML = 150.0


@derived
def lung_mask(ct: CTVolume) -> np.ndarray:
    """Boolean (k, j, i) mask of both lungs: air inside the body, largest components.

    Air outside the body is whatever low-HU region touches the edge of any axial slice.
    """
    air = ct.array < LUNG_THRESHOLD_HU
    outside = np.zeros_like(air)
    for k in range(air.shape[0]):
        lab, n = ndimage.label(air[k])
        if n:
            edge = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
            outside[k] = np.isin(lab, edge[edge > 0])
    inner = air & ~outside
    lab, n = ndimage.label(inner)
    if n == 0:
        return inner
    dx, dy, dz = ct.spacing_mm
    voxel_ml = dx * dy * dz / 1000.0
    # voxels per component (labels 1..n); bincount is one pass, ndimage.sum one per label
    sizes = np.bincount(lab.ravel(), minlength=n + 1)[1:] * voxel_ml
    keep = [i + 1 for i in np.argsort(-sizes)[:2] if sizes[i] >= MIN_LUNG_ML]
    return np.isin(lab, keep)


@dataclass(frozen=True)
class LungCT:
    """Lung attenuation on CT (HU) and lung volume (mL) in the imaged range."""

    mean_hu: float
    median_hu: float
    p10_hu: float
    p90_hu: float
    dense_fraction: float  # fraction of lung voxels above -500 HU (consolidation/ground glass)
    volume_ml: float

    def as_dict(self) -> dict:
        return asdict(self)


@derived
def lung_ct(ct: CTVolume) -> LungCT:
    """Attenuation statistics of the lung parenchyma, eroded 2 voxels off the pleura."""
    mask = lung_mask(ct)
    core = ndimage.binary_erosion(mask, iterations=2) if mask.sum() > 1000 else mask
    hu = ct.array[core].astype(np.float64)
    dx, dy, dz = ct.spacing_mm
    if hu.size == 0:
        nan = float("nan")
        return LungCT(nan, nan, nan, nan, nan, 0.0)
    return LungCT(
        mean_hu=float(hu.mean()),
        median_hu=float(np.median(hu)),
        p10_hu=float(np.percentile(hu, 10)),
        p90_hu=float(np.percentile(hu, 90)),
        dense_fraction=float(np.mean(hu > -500.0)),
        volume_ml=float(mask.sum() * dx * dy * dz / 1000.0),
    )


def vertebra_mask(ct: CTVolume, lungs: np.ndarray | None = None) -> np.ndarray:
    """Bone voxels of the vertebral column: high HU within 30 mm of the body's midline,
    behind the lungs' centre (posterior)."""
    lungs = lung_mask(ct) if lungs is None else lungs
    bone = ct.array > BONE_THRESHOLD_HU
    k, j, i = np.nonzero(lungs)
    if i.size == 0:
        return np.zeros_like(bone)
    centre = ct.index_to_patient(np.array([[i.mean(), j.mean(), k.mean()]]))[0]
    jj, ii = np.mgrid[0 : ct.shape[1], 0 : ct.shape[2]]
    xyz = ct.index_to_patient(np.stack([ii, jj, np.zeros_like(ii)], axis=-1).astype(float))
    near_mid = (np.abs(xyz[..., 0] - centre[0]) < 30.0) & (xyz[..., 1] > centre[1])
    z_rows = np.unique(k)
    out = np.zeros_like(bone)
    out[z_rows] = bone[z_rows] & near_mid[None]
    return out


def sample_mask(mask_volume: Volume, mask: np.ndarray, target: Volume) -> np.ndarray:
    """Carry a mask defined on ``mask_volume`` onto ``target``'s grid by patient mm
    (nearest voxel); voxels of ``target`` outside ``mask_volume`` are False."""
    return sample_masks(mask_volume, [mask], target)[0]


def sample_masks(
    mask_volume: Volume, masks: Sequence[np.ndarray], target: Volume
) -> list[np.ndarray]:
    """:func:`sample_mask` of each of ``masks`` (all of one shape, on ``mask_volume``),
    mapping ``target``'s voxel centres to ``mask_volume`` indices once for all of them."""
    shapes = {m.shape for m in masks}
    if len(shapes) != 1:
        raise ValueError(f"sample_masks needs masks of one shape, got {sorted(shapes)}")
    (nz, ny, nx) = shapes.pop()
    nk, nj, ni = target.shape
    kk, jj, ii = np.meshgrid(np.arange(nk), np.arange(nj), np.arange(ni), indexing="ij")
    ijk = np.stack([ii, jj, kk], axis=-1).reshape(-1, 3).astype(float)
    src = np.rint(mask_volume.patient_to_index(target.index_to_patient(ijk))).astype(int)
    si, sj, sk = src[:, 0], src[:, 1], src[:, 2]
    inside = (si >= 0) & (si < nx) & (sj >= 0) & (sj < ny) & (sk >= 0) & (sk < nz)
    at = (sk[inside], sj[inside], si[inside])
    out = []
    for mask in masks:
        flat = np.zeros(ijk.shape[0], dtype=bool)
        flat[inside] = mask[at]
        out.append(flat.reshape(target.shape))
    return out


@dataclass(frozen=True)
class SpectLung:
    """SPECT uptake in the lungs relative to the vertebrae (counts per voxel ratio)."""

    lung_mean: float
    vertebra_mean: float
    lung_to_vertebra: float
    lung_voxels: int
    vertebra_voxels: int

    def as_dict(self) -> dict:
        return asdict(self)


def spect_lung_to_vertebra(spect: SpectVolume, ct: CTVolume) -> SpectLung:
    """Mean SPECT counts in the lungs (CT mask eroded 5 mm) over those in vertebral bone."""
    lungs = lung_mask(ct)
    dx, dy, _ = ct.spacing_mm
    core = ndimage.binary_erosion(lungs, iterations=max(1, int(round(5.0 / min(dx, dy)))))
    vert = vertebra_mask(ct, lungs)
    lung_s, vert_s = sample_masks(ct, [core, vert], spect)
    values = spect.array.astype(np.float64)
    lm = float(values[lung_s].mean()) if lung_s.any() else float("nan")
    vm = float(values[vert_s].mean()) if vert_s.any() else float("nan")
    return SpectLung(lm, vm, ratio(lm, vm), int(lung_s.sum()), int(vert_s.sum()))

"""Tc-99m MDP biodistribution about 3 h after injection, and the per-case findings.

Concentrations are solved once per subject on the whole-body phantom so that about 45 % of
the injected activity sits in bone (per volume highest in the spine, the pelvis and the
joint ends), the bladder holds a few per cent, the kidneys are faint, about 16 % is
soft-tissue background and the rest was excreted. Findings (lung, stomach, bone
metastases) add activity on top. The same concentrations (MBq/ml) are then applied on any grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from casereport.synth.anatomy import BONE_LABELS, Body, Phantom, Tissue, lesion_shape
from casereport.synth.grid import Ellipsoid, Grid, Shape, paint
from casereport.synth.physics import INJECTED_MBQ, TC99M_HALF_LIFE_S, UPTAKE_DELAY_S
from casereport.synth.subjects import SubjectSpec

#: Soft-tissue concentration of each label relative to muscle (bone, kidney and bladder are
#: solved separately).
SOFT_WEIGHT: dict[Tissue, float] = {
    Tissue.SOFT: 1.0,
    Tissue.FAT: 0.45,
    Tissue.LUNG: 0.2,
    Tissue.HEART: 1.7,
    Tissue.LIVER: 1.0,
    Tissue.STOMACH_WALL: 1.0,
    Tissue.STOMACH_LUMEN: 0.3,
    Tissue.SPLEEN: 1.2,
    Tissue.BRAIN: 0.15,
    Tissue.BREAST: 0.6,
}


@dataclass(frozen=True)
class Fractions:
    """Share of the injected activity (decay-corrected) per compartment at imaging time.

    What is not listed was excreted in urine and voided before imaging.
    """

    bone: float = 0.45
    soft: float = 0.16
    bladder: float = 0.06
    kidneys: float = 0.009

    @property
    def in_body(self) -> float:
        return self.bone + self.soft + self.bladder + self.kidneys


NORMAL = Fractions()
#: End-stage renal disease: little excretion, high soft-tissue background, faint kidneys.
RENAL_FAILURE = Fractions(bone=0.40, soft=0.34, bladder=0.015, kidneys=0.004)


@dataclass(frozen=True)
class Concentrations:
    """Activity concentrations (MBq/ml) of one subject.

    Attributes:
        in_body_mbq: activity in the body at imaging (after decay and urinary excretion).
        soft_mbq_ml: muscle concentration; other soft tissues scale by ``SOFT_WEIGHT``.
        bone_mbq_ml_per_weight: bone concentration per unit of anatomical uptake weight.
        kidney_mbq_ml, bladder_mbq_ml: organ concentrations.
    """

    in_body_mbq: float
    soft_mbq_ml: float
    bone_mbq_ml_per_weight: float
    kidney_mbq_ml: float
    bladder_mbq_ml: float


@dataclass(frozen=True)
class Blob:
    """A patchy focus of soft-tissue uptake inside the lungs: centre, radii (mm), weight."""

    centre: tuple[float, float, float]
    radii: tuple[float, float, float]
    weight: float


def fractions(spec: SubjectSpec) -> Fractions:
    return RENAL_FAILURE if spec.renal_failure else NORMAL


def decayed_mbq() -> float:
    """Injected activity decayed to imaging time (MBq)."""
    return INJECTED_MBQ * 0.5 ** (UPTAKE_DELAY_S / TC99M_HALF_LIFE_S)


def solve(spec: SubjectSpec, phantom: Phantom) -> Concentrations:
    """Concentrations that give the target fractions on this (whole-body) phantom."""
    fr = fractions(spec)
    total = decayed_mbq()
    vml = phantom.grid.voxel_ml
    counts = np.bincount(phantom.labels.ravel(), minlength=256).astype(float) * vml
    soft_units = sum(w * counts[int(t)] for t, w in SOFT_WEIGHT.items())
    bone_units = float(phantom.uptake.sum(dtype=np.float64)) * vml
    return Concentrations(
        in_body_mbq=fr.in_body * total,
        soft_mbq_ml=fr.soft * total / soft_units,
        bone_mbq_ml_per_weight=fr.bone * total / bone_units,
        kidney_mbq_ml=fr.kidneys * total / counts[int(Tissue.KIDNEY)],
        bladder_mbq_ml=fr.bladder * total / counts[int(Tissue.BLADDER)],
    )


def lung_blobs(spec: SubjectSpec, body: Body, rng: np.random.Generator) -> tuple[Blob, ...]:
    """Random patchy foci in the middle third of both lungs (case B)."""
    blobs: list[Blob] = []
    for side in ("R", "L"):
        lung = body.lungs[side]
        cx, cy, cz = lung.centre
        rx, ry, rz = lung.radii
        for _ in range(spec.lung_patches):
            c = (
                cx + rng.uniform(-0.65, 0.65) * rx,
                cy + rng.uniform(-0.6, 0.6) * ry,
                cz + rng.uniform(-0.30, 0.25) * rz,
            )
            r = tuple(float(v) for v in rng.uniform(9.0, 20.0, size=3))
            blobs.append(Blob(c, r, float(rng.uniform(6.0, 12.0))))  # type: ignore[arg-type]
    return tuple(blobs)


@dataclass(frozen=True)
class Findings:
    """Everything abnormal about a subject, independent of the grid."""

    lung_weight: float
    stomach_weight: float
    blobs: tuple[Blob, ...]
    lesions: tuple[tuple[str, Shape, float], ...]


def findings(spec: SubjectSpec, body: Body, rng: np.random.Generator) -> Findings:
    lesions = tuple(
        (les.name, lesion_shape(body, les.site, les.radius_mm * body.sz), les.uptake)
        for les in spec.lesions
    )
    return Findings(
        lung_weight=spec.lung_uptake,
        stomach_weight=spec.stomach_uptake,
        blobs=lung_blobs(spec, body, rng),
        lesions=lesions,
    )


def activity(phantom: Phantom, conc: Concentrations, find: Findings) -> np.ndarray:
    """Activity per voxel (MBq, float32) on the phantom's grid."""
    grid: Grid = phantom.grid
    labels = phantom.labels
    weights = dict(SOFT_WEIGHT)
    weights[Tissue.LUNG] = find.lung_weight
    weights[Tissue.STOMACH_WALL] = find.stomach_weight
    lut = np.zeros(256, dtype=np.float32)
    for t, w in weights.items():
        lut[int(t)] = w * conc.soft_mbq_ml
    lut[int(Tissue.KIDNEY)] = conc.kidney_mbq_ml
    lut[int(Tissue.BLADDER)] = conc.bladder_mbq_ml
    conc_map = lut[labels]
    bone = np.isin(labels, np.array([int(t) for t in BONE_LABELS], dtype=np.uint8))
    uptake = phantom.uptake.copy()
    for _name, shape, w in find.lesions:
        paint(grid, uptake, shape, w, where=bone, mode="max")
    conc_map[bone] = uptake[bone] * conc.bone_mbq_ml_per_weight
    if find.blobs:
        lung = labels == int(Tissue.LUNG)
        extra = np.zeros(grid.shape, dtype=np.float32)
        for blob in find.blobs:
            paint(
                grid, extra, Ellipsoid(blob.centre, blob.radii), blob.weight, where=lung, mode="max"
            )
        conc_map += extra * conc.soft_mbq_ml
    return (conc_map * grid.voxel_ml).astype(np.float32)

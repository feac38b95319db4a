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

from casereport.synth.anatomy import BONE_LABELS, Body, Phantom, Tissue
from casereport.synth.grid import Ellipsoid, Grid, Shape, paint, rotated
from casereport.synth.physics import INJECTED_MBQ, TC99M_HALF_LIFE_S, UPTAKE_DELAY_S
from casereport.synth.subjects import SubjectSpec

#: Soft-tissue concentration of each label relative to muscle (bone, kidney and bladder are
#: solved separately).
SOFT_WEIGHT: dict[Tissue, float] = {
    Tissue.SOFT: 1.0,
    Tissue.FAT: 0.45,
    Tissue.LUNG: 0.2,
    Tissue.FISSURE: 0.2,
    Tissue.HEART: 1.7,
    Tissue.MYOCARDIUM: 1.7,
    Tissue.LIVER: 1.0,
    Tissue.STOMACH_WALL: 1.0,
    Tissue.STOMACH_LUMEN: 0.3,
    Tissue.SPLEEN: 1.2,
    Tissue.BRAIN: 0.15,
    Tissue.BREAST: 0.6,
    Tissue.BLOOD: 1.2,
    Tissue.CARTILAGE: 1.0,
}


@dataclass(frozen=True)
class Fractions:
    """Share of the injected activity (decay-corrected) per compartment at imaging time.

    What is not listed was excreted in urine and voided before imaging.
    """

    bone: float = 0.46
    soft: float = 0.15
    bladder: float = 0.08
    kidneys: float = 0.009

    @property
    def in_body(self) -> float:
        return self.bone + self.soft + self.bladder + self.kidneys


NORMAL = Fractions()
#: End-stage renal disease: little excretion, high soft-tissue background, faint kidneys.
RENAL_FAILURE = Fractions(bone=0.52, soft=0.17, bladder=0.012, kidneys=0.004)


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
    """One lobule of a patchy focus of soft-tissue uptake in a lung: centre and radii (mm),
    a turn about z and then x (degrees) and a weight (relative to soft tissue)."""

    centre: tuple[float, float, float]
    radii: tuple[float, float, float]
    weight: float
    turn_deg: tuple[float, float] = (0.0, 0.0)

    def shape(self) -> Ellipsoid:
        return rotated(self.centre, self.radii, ("z", self.turn_deg[0]), ("x", self.turn_deg[1]))


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
    """Irregular patches spread through the mid zones of both lungs (case B).

    Each patch is a cluster of two or three elongated lobules; the patches lie across the
    whole width of each lung, mostly away from the hilum, so the uptake reads as patchy
    parenchymal uptake rather than as hilar nodes.
    """
    blobs: list[Blob] = []
    for side in ("R", "L"):
        lung = body.lungs[side]
        cx, cy, cz = lung.centre
        rx, ry, rz = lung.radii
        sgn = 1.0 if side == "L" else -1.0
        for _ in range(spec.lung_patches):
            c = np.array(
                [
                    cx + sgn * rng.uniform(-0.2, 0.95) * rx,
                    cy + rng.uniform(-0.7, 0.7) * ry,
                    cz + rng.uniform(-0.45, 0.3) * rz,
                ]
            )
            w = float(rng.uniform(*spec.lung_patch_uptake))
            for _k in range(int(rng.integers(2, 4))):
                off = rng.normal(0.0, 7.0, size=3)
                r = rng.uniform(5.0, 14.0, size=3) * np.array([1.0, 1.0, 1.4])
                blobs.append(
                    Blob(
                        tuple(float(v) for v in c + off),  # type: ignore[arg-type]
                        tuple(float(v) for v in r),  # type: ignore[arg-type]
                        w * float(rng.uniform(0.7, 1.0)),
                        (float(rng.uniform(0, 180)), float(rng.uniform(-40, 40))),
                    )
                )
    return tuple(blobs)


@dataclass(frozen=True)
class Findings:
    """Everything abnormal about a subject, independent of the grid."""

    lung_weight: float
    stomach_weight: float
    blobs: tuple[Blob, ...]
    lesions: tuple[tuple[str, Shape, float], ...]


def lesion_parts(
    body: Body, site: str, radius_mm: float, uptake: float, rng: np.random.Generator
) -> list[tuple[Shape, float]]:
    """An irregular metastasis: a hot core and two to four cooler lobules around it, all
    later restricted to the bone they fall in. Vertebral lesions reach into a pedicle."""
    c = np.asarray(body.landmarks[site], dtype=float)
    parts: list[tuple[Shape, float]] = []
    r = radius_mm
    for _ in range(int(rng.integers(2, 5))):
        off = rng.normal(0.0, 0.45 * r, size=3)
        radii = tuple(float(v) for v in rng.uniform(0.45, 0.8, size=3) * r)
        parts.append((Ellipsoid(tuple(c + off), radii), uptake * float(rng.uniform(0.45, 0.7))))  # type: ignore[arg-type]
    core = tuple(float(v) for v in rng.uniform(0.75, 0.95, size=3) * r)
    parts.append((Ellipsoid(tuple(c + rng.normal(0.0, 0.15 * r, size=3)), core), uptake))  # type: ignore[arg-type]
    if site[0] in "TL" and site[1:].isdigit():
        side = float(rng.choice([-1.0, 1.0]))
        ped = c + np.array([side * 0.7 * r, 1.1 * r, 0.0])
        parts.append((Ellipsoid(tuple(ped), (0.45 * r, 0.55 * r, 0.5 * r)), 0.8 * uptake))  # type: ignore[arg-type]
    return parts


def findings(spec: SubjectSpec, body: Body, rng: np.random.Generator) -> Findings:
    lesions = tuple(
        (les.name, shape, w)
        for les in spec.lesions
        for shape, w in lesion_parts(body, les.site, les.radius_mm * body.sz, les.uptake, rng)
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
            paint(grid, extra, blob.shape(), blob.weight, where=lung, mode="max")
        conc_map += extra * conc.soft_mbq_ml
    return (conc_map * grid.voxel_ml).astype(np.float32)

"""Simulate every study of one subject and return DICOM datasets plus ground truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from scipy import ndimage

from casereport.synth import biodist, ct, planar, spect
from casereport.synth.anatomy import Body, rasterise
from casereport.synth.dicomio import (
    SERIES_SPOT,
    SERIES_WB,
    Ids,
    ct_datasets,
    planar_dataset,
    spect_dataset,
)
from casereport.synth.grid import Grid
from casereport.synth.physics import MU_PER_MM, lookup, mu_from_hu
from casereport.synth.subjects import SubjectSpec

WB_VOXEL_MM = 4.0
#: Largest stored SPECT value (the volume is scaled to it).
SPECT_MAX_STORED = 30000.0


@dataclass(frozen=True)
class WholeBodyProtocol:
    """Whole-body sweep: matrix, pixel (mm), table speed (mm/s) and camera field length (mm)."""

    rows: int = 1024
    cols: int = 256
    pixel_mm: float = 2.3
    speed_mm_s: float = 4.0
    fov_length_mm: float = 400.0

    @property
    def dwell_s(self) -> float:
        """Time each point of the patient spends in the field of view (s)."""
        return self.fov_length_mm / self.speed_mm_s

    @property
    def length_mm(self) -> float:
        return self.rows * self.pixel_mm


@dataclass(frozen=True)
class SpotProtocol:
    """Static chest views: matrix, pixel (mm) and preset counts of the first view."""

    matrix: int = 256
    pixel_mm: float = 1.8
    preset_counts: float = 800_000.0


WB = WholeBodyProtocol()
SPOT = SpotProtocol()
CT = ct.CTProtocol()
SPECT = spect.SpectProtocol()


@dataclass
class SubjectResult:
    """Datasets keyed by relative output path, and the ground truth of the subject."""

    files: dict[str, Dataset] = field(default_factory=dict)
    truth: dict[str, Any] = field(default_factory=dict)


def rng_for(seed: int, spec: SubjectSpec, stream: int) -> np.random.Generator:
    """Independent generator per (seed, subject, stream)."""
    return np.random.default_rng([int(seed), spec.index, stream])


def wb_grid(spec: SubjectSpec) -> Grid:
    d = WB_VOXEL_MM
    nz = int(np.ceil((spec.height_mm + 60.0) / d))
    return Grid((-298.0, -230.0, -20.0), (d, d, d), (nz, 112, 150))


def _views(
    density: dict[str, np.ndarray],
    grid: Grid,
    geom: planar.ViewGeometry,
    views: list[str],
    seconds: float,
    rng: np.random.Generator,
) -> np.ndarray:
    frames = [
        planar.poisson(planar.resample(density[v], grid, geom, v) * seconds, rng) for v in views
    ]
    return np.stack(frames)


def simulate_subject(spec: SubjectSpec, seed: int, version: str) -> SubjectResult:
    """All studies of ``spec`` as pydicom datasets (not yet written)."""
    res = SubjectResult()
    ids = Ids(seed, spec)
    body = Body(spec.sex, spec.height_mm, spec.girth)
    grid = wb_grid(spec)
    ph = rasterise(body, grid)
    conc = biodist.solve(spec, ph)
    find = biodist.findings(spec, body, rng_for(seed, spec, 1))
    act = biodist.activity(ph, conc, find)
    mu = lookup(MU_PER_MM, ph.labels)
    density = {
        v: planar.add_motion(planar.add_scatter(planar.project(act, mu, grid, v), grid), grid)
        for v in ("ANT", "POST")
    }
    del act, mu, ph

    vertex = body.landmarks["vertex"][2]
    geom = planar.ViewGeometry(
        WB.rows,
        WB.cols,
        WB.pixel_mm,
        z_top_mm=round(vertex + (WB.length_mm - spec.height_mm) / 2.0, 1),
    )
    frames = _views(density, grid, geom, ["ANT", "POST"], WB.dwell_s, rng_for(seed, spec, 2))
    res.files["wb/wb.dcm"] = planar_dataset(
        ids,
        SERIES_WB,
        "whole-body Tc-99m MDP ANT/POST",
        "WHOLE BODY",
        ["ANT", "POST"],
        frames,
        WB.pixel_mm,
        int(round(WB.length_mm / WB.speed_mm_s * 1000)),
        version,
        scan={"velocity_mm_s": WB.speed_mm_s, "length_mm": WB.length_mm},
        geometry={v: geom.plane(v) for v in ("ANT", "POST")},
    )
    truth: dict[str, Any] = {
        "sex": spec.sex,
        "age_years": spec.age_years,
        "height_mm": spec.height_mm,
        "weight_kg": spec.weight_kg,
        "concentrations_mbq_ml": {
            "soft": conc.soft_mbq_ml,
            "bone_per_weight": conc.bone_mbq_ml_per_weight,
            "kidney": conc.kidney_mbq_ml,
            "bladder": conc.bladder_mbq_ml,
        },
        "wb": {
            "z_top_mm": geom.z_top_mm,
            "pixel_mm": WB.pixel_mm,
            "rows": WB.rows,
            "cols": WB.cols,
        },
        "landmarks_lps_mm": {k: tuple(float(v) for v in p) for k, p in body.landmarks.items()},
        "lungs": {k: {"centre": e.centre, "radii": e.radii} for k, e in body.lungs.items()},
        "lesions": [
            {
                "name": les.name,
                "site": les.site,
                "centre_lps_mm": tuple(float(v) for v in body.landmarks[les.site]),
                "radius_mm": les.radius_mm * body.sz,
            }
            for les in spec.lesions
        ],
        "blobs": [{"centre": b.centre, "radii": b.radii} for b in find.blobs],
    }
    truth["wb_view_mm"] = wb_points(body, geom)

    if spec.spot_views:
        zc = body.lungs["R"].centre[2]
        sgeom = planar.ViewGeometry(
            SPOT.matrix,
            SPOT.matrix,
            SPOT.pixel_mm,
            z_top_mm=round(zc + SPOT.matrix * SPOT.pixel_mm / 2.0, 1),
        )
        rate = planar.resample(density[spec.spot_views[0]], grid, sgeom, spec.spot_views[0]).sum()
        seconds = float(np.round(SPOT.preset_counts / rate))
        frames = _views(
            density, grid, sgeom, list(spec.spot_views), seconds, rng_for(seed, spec, 3)
        )
        res.files["spot/spot.dcm"] = planar_dataset(
            ids,
            SERIES_SPOT,
            "static chest " + "/".join(spec.spot_views),
            "STATIC",
            list(spec.spot_views),
            frames,
            SPOT.pixel_mm,
            int(seconds * 1000),
            version,
            geometry={v: sgeom.plane(v) for v in spec.spot_views},
        )
        truth["spot"] = {"z_top_mm": sgeom.z_top_mm, "pixel_mm": SPOT.pixel_mm, "seconds": seconds}
    del density

    # The chest CT and SPECT are acquired with the arms raised above the head.
    chest = Body(spec.sex, spec.height_mm, spec.girth, arms_up=True, lung_vessels=True)
    cgrid = ct.ct_grid(chest, CT)
    hu = ct.simulate_ct(chest, cgrid, CT, rng_for(seed, spec, 4))
    for n, ds in enumerate(
        ct_datasets(ids, hu, cgrid.origin_mm, cgrid.spacing_mm, CT.kvp, CT.ma, version), start=1
    ):
        res.files[f"ct/CT_{n:04d}.dcm"] = ds
    truth["ct"] = {
        "origin_mm": cgrid.origin_mm,
        "spacing_mm": cgrid.spacing_mm,
        "shape": cgrid.shape,
    }

    if spec.spect:
        vol, sgrid, counts, slope = simulate_spect(
            chest, spec, conc, find, hu, cgrid, rng_for(seed, spec, 5)
        )
        res.files["spect/spect.dcm"] = spect_dataset(
            ids, vol, sgrid.origin_mm, sgrid.spacing_mm[0], SPECT, version, counts, slope
        )
        truth["spect"] = {
            "origin_mm": sgrid.origin_mm,
            "spacing_mm": sgrid.spacing_mm,
            "shape": sgrid.shape,
        }
    res.truth = truth
    return res


def spect_grid(body: Body, ct_grid: Grid) -> Grid:
    """SPECT grid centred on the lungs, inside the CT's z range."""
    d = SPECT.pixel_mm
    n, nz = SPECT.matrix, SPECT.n_slices
    zc = body.lungs["R"].centre[2]
    ct_lo = ct_grid.origin_mm[2]
    ct_hi = ct_lo + (ct_grid.shape[0] - 1) * ct_grid.spacing_mm[2]
    half = (nz - 1) / 2.0 * d
    zc = float(np.clip(zc, ct_lo + half, ct_hi - half))
    o = -(n - 1) / 2.0 * d
    return Grid((o, o, round(zc - half, 3)), (d, d, d), (nz, n, n))


def simulate_spect(
    body: Body,
    spec: SubjectSpec,
    conc: biodist.Concentrations,
    find: biodist.Findings,
    hu: np.ndarray,
    cgrid: Grid,
    rng: np.random.Generator,
) -> tuple[np.ndarray, Grid, float, float]:
    """Projections from the phantom, OSEM with attenuation from the CT.

    Returns the uint16 volume, its grid, the total acquired counts and the factor that turns
    a stored value into reconstructed counts per voxel.
    """
    g = spect_grid(body, cgrid)
    ph = rasterise(body, g)
    act = biodist.activity(ph, conc, find)
    rot = spect.rotation_set(SPECT)
    true_proj = spect.Projector(lookup(MU_PER_MM, ph.labels), SPECT, rot)
    proj = spect.simulate(act, true_proj, rng)
    del true_proj, ph, act
    # CT -> attenuation on the SPECT grid (trilinear in CT index space).
    axes = []
    for n in range(3):
        axes.append((g.axis(n) - cgrid.origin_mm[n]) / cgrid.spacing_mm[n])
    zz, yy, xx = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
    hu_s = ndimage.map_coordinates(hu, [zz, yy, xx], order=1, mode="nearest")
    del zz, yy, xx
    recon_proj = spect.Projector(mu_from_hu(hu_s), SPECT, rot)
    vol = spect.osem(proj, recon_proj)
    del recon_proj
    peak = max(float(vol.max()), 1e-12)
    scaled = np.round(np.clip(vol, 0.0, None) / peak * SPECT_MAX_STORED)
    return scaled.astype(np.uint16), g, float(proj.sum(dtype=np.float64)), peak / SPECT_MAX_STORED


def wb_points(body: Body, geom: planar.ViewGeometry) -> dict[str, dict[str, tuple[float, float]]]:
    """Landmarks in whole-body view mm (x from the left edge, y from the top) per view."""
    pts: dict[str, tuple[float, float]] = {}
    for k, (x, _y, z) in body.landmarks.items():
        pts[k] = (x, z)
    for side, lung in body.lungs.items():
        cx, _, cz = lung.centre
        rx, _, rz = lung.radii
        sgn = 1.0 if side == "L" else -1.0
        pts[f"lung_roi_{side}"] = (cx + sgn * 0.2 * rx, cz + 0.1 * rz)
    g = body.girth * body.sz
    for side, sgn in (("R", -1.0), ("L", 1.0)):
        pts[f"thigh_lateral_{side}"] = (sgn * (100.0 * body.hips + 45.0) * g, 690.0 * body.sz)
    return {
        view: {k: geom.to_view_mm(view, x, z) for k, (x, z) in pts.items()}
        for view in ("ANT", "POST")
    }

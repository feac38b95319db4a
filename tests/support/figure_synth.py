"""Small synthetic studies built directly from casereport.io types (for figure tests).

Shapes are crude (ellipses) but geometry is real: WB 2.3 mm pixels with patient right
on the left of the ANT view, CT/SPECT in LPS mm sharing one frame of reference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from casereport.io.types import (
    CTVolume,
    PlanarImage,
    PlanarStudy,
    SourceInfo,
    SpectVolume,
    WholeBody,
)

FOR_UID = "1.2.826.0.1.3680043.10.999.1"


def source(
    path: Path,
    modality: str,
    uid: str,
    *,
    simulated: bool = True,
    frame_of_reference: str | None = None,
    paths: tuple[Path, ...] | None = None,
) -> SourceInfo:
    return SourceInfo(
        paths=paths or (Path(path),),
        modality=modality,
        sop_class_uid="1.2.840.10008.5.1.4.1.1.20",
        series_instance_uid=uid,
        study_instance_uid="1.2.3",
        frame_of_reference_uid=frame_of_reference,
        series_description="SIMULATED test" if simulated else "test",
        transfer_syntax_uid="1.2.840.10008.1.2.1",
        simulated=simulated,
    )


def _ellipse(shape, cy, cx, ry, rx):
    y, x = np.mgrid[: shape[0], : shape[1]]
    return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0


def planar_counts(shape=(256, 256), *, seed=0, lungs=1.0, spot=None) -> np.ndarray:
    """A chest-like count image: body, spine, two lungs (scaled by ``lungs``)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    img = np.zeros(shape)
    img[_ellipse(shape, h * 0.5, w * 0.5, h * 0.48, w * 0.38)] = 10.0
    img[:, int(w * 0.48) : int(w * 0.52)] += 40.0
    for cx in (w * 0.35, w * 0.65):
        img[_ellipse(shape, h * 0.45, cx, h * 0.2, w * 0.09)] += 10.0 * lungs
    if spot is not None:
        r, c = spot
        img[_ellipse(shape, r, c, 6, 6)] += 200.0
    return rng.poisson(img).astype(np.float32)


def wholebody(path: Path, *, simulated: bool = True, seed: int = 1) -> WholeBody:
    src = source(path, "NM", "1.2.3.10", simulated=simulated)
    ant = PlanarImage(
        planar_counts((1024, 256), seed=seed, spot=(500, 80)),
        "ANT",
        "ViewCodeSequence",
        (2.3, 2.3),
        600.0,
        0,
        src,
    )
    post = PlanarImage(
        planar_counts((1024, 256), seed=seed + 1, spot=(500, 176)),
        "POST",
        "ViewCodeSequence",
        (2.3, 2.3),
        600.0,
        1,
        src,
    )
    return WholeBody(ant, post, src)


def spot(path: Path, views=("ANT",), *, simulated: bool = True, seed: int = 3) -> PlanarStudy:
    src = source(path, "NM", "1.2.3.20", simulated=simulated)
    imgs = tuple(
        PlanarImage(
            planar_counts((256, 256), seed=seed + i, lungs=3.0),
            v,
            "ViewCodeSequence",
            (1.8, 1.8),
            300.0,
            i,
            src,
        )
        for i, v in enumerate(views)
    )
    return PlanarStudy(imgs, src)


def ct_volume(path: Path, *, simulated: bool = True, seed: int = 5) -> CTVolume:
    """128 x 128 x 40 CT, 3 mm pixels, 5 mm slices; LPS origin (-192, -192, -200)."""
    rng = np.random.default_rng(seed)
    nz, ny, nx = 40, 128, 128
    arr = np.full((nz, ny, nx), -1000.0)
    body = _ellipse((ny, nx), 64, 64, 40, 58)
    arr[:, body] = 40.0
    for cx in (44, 84):  # patient right lung at low x (image left)
        arr[:, _ellipse((ny, nx), 60, cx, 26, 16)] = -850.0
    arr[:, _ellipse((ny, nx), 96, 64, 7, 7)] = 700.0  # spine, posterior
    arr += rng.normal(0, 15, arr.shape)
    aff = np.array([[3.0, 0, 0, -192.0], [0, 3.0, 0, -192.0], [0, 0, 5.0, -200.0], [0, 0, 0, 1]])
    paths = tuple(Path(path) / f"CT_{k + 1:04d}.dcm" for k in range(nz))
    src = source(
        path, "CT", "1.2.3.30", simulated=simulated, frame_of_reference=FOR_UID, paths=paths
    )
    return CTVolume(arr.astype(np.float32), aff, src)


def spect_volume(
    path: Path, *, simulated: bool = True, frame_of_reference: str = FOR_UID
) -> SpectVolume:
    """64^3 SPECT, 6 mm voxels, covering the CT; hot lungs and spine."""
    n = 64
    aff = np.array([[6.0, 0, 0, -189.0], [0, 6.0, 0, -189.0], [0, 0, 6.0, -230.0], [0, 0, 0, 1]])
    vol = SpectVolume(
        np.zeros((n, n, n), np.float32),
        aff,
        source(path, "NM", "1.2.3.40", simulated=simulated, frame_of_reference=frame_of_reference),
    )
    # fill by patient coordinates so that it registers with ct_volume()
    k, j, i = np.mgrid[:n, :n, :n]
    xyz = vol.index_to_patient(np.stack([i, j, k], -1).reshape(-1, 3)).reshape(n, n, n, 3)
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    arr = np.zeros((n, n, n))
    inz = (z > -200) & (z < 0)
    for cx in (-60.0, 60.0):
        arr[inz & (((x - cx) / 48) ** 2 + ((y + 12) / 78) ** 2 <= 1)] = 100.0
    arr[inz & ((x / 21) ** 2 + ((y - 96) / 21) ** 2 <= 1)] = 60.0
    return SpectVolume(arr.astype(np.float32), aff, vol.source)


CASE_YAML = """\
case: T
role: case
patient: {age: 60, sex: F, history: test history}
findings: [lung uptake]
panels:
  A1:
    kind: planar
    study: spot/spot.dcm
    views: [ANT]
    window: {percentiles: [1, 99.5]}
    caption: Anterior chest view.
    alt: Anterior planar chest view.
  A2:
    kind: ct
    study: ct
    plane: axial
    z_mm: -100
    window: lung
    crop_mm: {x: [-180, 180], y: [-140, 120]}
    caption: Axial CT.
    alt: Axial CT in lung window.
  B1:
    kind: planar
    study: spot2/spot.dcm
    views: [ANT, POST]
    window: {percentiles: [1, 99.5]}
    caption: Anterior and posterior chest views.
    alt: Planar chest views.
  B2:
    kind: ct
    study: ct
    z_mm: -60
    window: {width: 1500, level: -600}
    caption: Axial CT.
    alt: Axial CT.
  C1:
    kind: wholebody
    study: wb/wb.dcm
    window: {percentiles: [1, 99.7]}
    caption: Whole-body views.
    alt: Whole-body anterior and posterior views.
  C2:
    kind: fusion
    study: ct
    overlay: spect/spect.dcm
    z_mm: -100
    window: lung
    overlay_window: {percentiles: [40, 99.5]}
    alpha: 0.6
    crop_mm: {x: [-180, 180], y: [-140, 120]}
    caption: Fused SPECT/CT.
    alt: Fused SPECT/CT of the chest.
  C3:
    kind: ct
    study: ct
    plane: coronal
    y_mm: 0
    window: lung
    caption: Coronal CT.
    alt: Coronal CT.
annotations:
  - {panel: A1, type: arrow, tip_mm: [150, 200], tail_mm: [200, 240], text: lung}
  - {panel: B1, type: circle, view: POST, center_mm: [300, 200], radius_mm: 25}
  - {panel: C1, type: arrow, view: ANT, tip_mm: [186, 1151], tail_mm: [120, 1100], text: met}
  - {panel: C1, type: ellipse, view: POST, center_mm: [405, 1151], width_mm: 40, height_mm: 30}
  - {panel: C2, type: arrow, tip_mm: [60, -20], tail_mm: [130, -100], text: lung}
  - {panel: A2, type: label, at_mm: [0, 100], text: normal lungs}
"""


def make_case_dir(root: Path, text: str = CASE_YAML) -> Path:
    """A case folder with placeholder study files and case.yaml; returns the case file."""
    for rel in ("spot/spot.dcm", "spot2/spot.dcm", "wb/wb.dcm", "spect/spect.dcm"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")
    (root / "ct").mkdir(exist_ok=True)
    path = root / "case.yaml"
    path.write_text(text)
    return path


class SyntheticLoader:
    """Maps a case folder's study paths to synthetic studies (stands in for io.load)."""

    def __init__(self, root: Path, *, simulated: bool = True, spect_for: str = FOR_UID) -> None:
        root = Path(root).resolve()
        self.studies = {
            root / "spot/spot.dcm": spot(root / "spot/spot.dcm", ("ANT",), simulated=simulated),
            root / "spot2/spot.dcm": spot(
                root / "spot2/spot.dcm", ("ANT", "POST"), simulated=simulated
            ),
            root / "wb/wb.dcm": wholebody(root / "wb/wb.dcm", simulated=simulated),
            root / "ct": ct_volume(root / "ct", simulated=simulated),
            root / "spect/spect.dcm": spect_volume(
                root / "spect/spect.dcm", simulated=simulated, frame_of_reference=spect_for
            ),
        }
        self.calls: list[tuple[Path, str | None]] = []

    def __call__(self, path: Path, modality: str | None = None, source: object = None):
        self.calls.append((Path(path), modality))
        return self.studies[Path(path).resolve()]

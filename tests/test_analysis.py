"""casereport.analysis: ROI geometry on constructed images, and each finding on the data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from casereport import analysis
from casereport.analysis.planar import PATCHINESS
from casereport.analysis.volume import sample_mask, sample_masks, vertebra_mask
from casereport.io import CTVolume, PlanarImage, SourceInfo, load

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


def _source(modality: str = "NM") -> SourceInfo:
    return SourceInfo(
        (Path("x.dcm"),),
        modality,
        "1.2",
        "1.2.3",
        "1.2.4",
        "1.2.5",
        "SIMULATED",
        "1.2.840.10008.1.2.1",
    )


def _planar(counts: np.ndarray, spacing=(2.0, 2.0), view="ANT") -> PlanarImage:
    return PlanarImage(counts, view, "test", spacing, None, 0, _source())


def test_rectangle_and_circle_masks_match_their_area_in_mm() -> None:
    img = _planar(np.ones((200, 100)), spacing=(2.0, 3.0))
    rect = analysis.PlanarROI("r", "ANT", (30.0, 90.0), (40.0, 100.0))
    stats = rect.stats(img)
    assert stats.area_mm2 == pytest.approx(60 * 60, rel=0.1)
    assert stats.mean_counts == 1.0
    circ = analysis.PlanarROI.circle("c", "ANT", (150.0, 200.0), 30.0)
    assert circ.stats(img).area_mm2 == pytest.approx(math.pi * 30**2, rel=0.05)


def test_body_frame_finds_vertex_soles_and_midline() -> None:
    counts = np.zeros((400, 120))
    counts[50:350, 40:70] = 100.0  # a "body" 300 px tall, centred on column 55
    frame = analysis.body_frame(_planar(counts, spacing=(2.0, 2.0)))
    assert frame.top_mm == pytest.approx(100.0, abs=8)
    assert frame.bottom_mm == pytest.approx(700.0, abs=8)
    assert frame.midline_mm == pytest.approx(110.0, abs=2)
    # anterior view: the patient's right lies towards smaller x
    x_right, _ = frame.to_view(0.5, 0.1)
    assert x_right < frame.midline_mm
    assert frame.to_normalised(*frame.to_view(0.3, -0.05)) == pytest.approx((0.3, -0.05))


def _phantom_ct(origin=(-100.0, -100.0, 0.0), spacing=(2.0, 2.0, 5.0)) -> CTVolume:
    """Air around a soft-tissue cylinder holding two -850 HU 'lungs' and a hot 'vertebra'."""
    nz, ny, nx = 20, 100, 100
    hu = np.full((nz, ny, nx), -1000.0)
    jj, ii = np.mgrid[0:ny, 0:nx]
    body = (ii - 50) ** 2 + (jj - 50) ** 2 < 45**2
    hu[:, body] = 40.0
    hu[:, 30:70, 15:40] = -850.0
    hu[:, 30:70, 60:85] = -850.0
    hu[:, 75:85, 45:55] = 700.0  # vertebra: midline, posterior
    hu[2, 50, 50] = -900.0  # a tiny air pocket, not lung
    affine = np.diag([spacing[0], spacing[1], spacing[2], 1.0])
    affine[:3, 3] = origin
    return CTVolume(hu, affine, _source("CT"))


def test_lung_mask_keeps_the_two_lungs_only() -> None:
    ct = _phantom_ct()
    mask = analysis.lung_mask(ct)
    assert mask.sum() == 20 * 40 * 25 * 2
    assert not mask[2, 50, 50]
    stats = analysis.lung_ct(ct)
    assert stats.mean_hu == pytest.approx(-850.0)
    assert stats.volume_ml == pytest.approx(2 * 20 * 40 * 25 * 2 * 2 * 5 / 1000.0)


def _coarser_shifted_grid() -> CTVolume:
    """An empty CT on a coarser grid, shifted by 7 mm: the same patient position must map
    to the same tissue of :func:`_phantom_ct`."""
    return CTVolume(
        np.zeros((10, 50, 50)),
        np.array([[4.0, 0, 0, -93.0], [0, 4.0, 0, -100.0], [0, 0, 10.0, 0.0], [0, 0, 0, 1]]),
        _source("CT"),
    )


def test_masks_follow_patient_coordinates_not_array_indices() -> None:
    ct = _phantom_ct()
    other = _coarser_shifted_grid()
    lungs = analysis.lung_mask(ct)
    carried = sample_mask(ct, lungs, other)
    xyz = other.index_to_patient(np.argwhere(carried)[:, ::-1].astype(float))
    back = np.rint(ct.patient_to_index(xyz)).astype(int)
    assert carried.sum() > 0
    assert lungs[back[:, 2], back[:, 1], back[:, 0]].all()


def test_masks_carried_together_equal_each_carried_alone() -> None:
    ct = _phantom_ct()
    other = _coarser_shifted_grid()
    lungs = analysis.lung_mask(ct)
    masks = [lungs, vertebra_mask(ct, lungs), ~lungs]
    together = sample_masks(ct, masks, other)
    for mask, carried in zip(masks, together, strict=True):
        np.testing.assert_array_equal(carried, sample_mask(ct, mask, other))
    with pytest.raises(ValueError, match="one shape"):
        sample_masks(ct, [lungs, lungs[1:]], other)


# ---------------------------------------------------------------- findings on the data


@pytest.fixture(scope="module")
def studies() -> dict[str, dict]:
    out = {}
    for subject in ("A", "B", "C", "control"):
        folder = DATA / subject
        assert folder.is_dir(), f"{folder} missing: the simulated studies are committed under data/"
        out[subject] = {
            "wb": load(folder / "wb"),
            "ct": load(folder / "ct"),
            "spect": load(folder / "spect") if (folder / "spect").exists() else None,
        }
    return out


@pytest.fixture(scope="module")
def results(studies: dict[str, dict]) -> dict[str, analysis.CaseAnalysis]:
    ctrl = studies["control"]
    return {
        cid: analysis.analyse_studies(
            cid, s["wb"], ctrl["wb"], ct=s["ct"], control_ct=ctrl["ct"], spect=s["spect"]
        )
        for cid, s in studies.items()
    }


@pytest.mark.parametrize("case_id", ["A", "B", "C"])
def test_lung_uptake_exceeds_the_control(results: dict, case_id: str) -> None:
    r = results[case_id]
    for name in ("lung / soft tissue", "lung / rib"):
        m = r.measurement(name)
        assert m.case_over_control >= 1.3, (name, m.case_value, m.control_value)
    assert (
        len(r.measurement("lung / soft tissue").rois) == 4
    )  # 2 lungs + 2 thighs, placed automatically


def test_control_against_itself_is_one(results: dict) -> None:
    for m in results["control"].planar:
        assert m.case_over_control == pytest.approx(1.0)


def test_stomach_uptake_only_in_case_a(results: dict) -> None:
    assert results["A"].measurement("stomach / liver").case_over_control >= 1.4
    for cid in ("B", "C"):
        assert results[cid].measurement("stomach / liver").case_over_control < 1.4


def test_patchiness_separates_patchy_b_from_diffuse_c(results: dict) -> None:
    b, c = (results[k].measurement(PATCHINESS) for k in ("B", "C"))
    assert b.case_value > 1.3 * b.control_value  # patchy: hot patches above the median
    assert b.case_value > 1.2 * c.case_value  # diffuse C stays near normal
    assert c.case_value < 1.15 * c.control_value


def test_case_c_lesions_at_every_site_and_none_elsewhere(results: dict) -> None:
    lesions = results["C"].lesions
    sites = {les.site for les in lesions}
    assert sites == {"right hemipelvis", "thoracic spine", "L1/L2", "right proximal femur"}
    assert sum(les.site == "thoracic spine" for les in lesions) >= 2
    for les in lesions:
        assert les.lesion_to_normal >= 2.0, les
        assert les.control_value < 1.6, les
    for cid in ("A", "B", "control"):
        assert results[cid].lesions == (), cid


def test_lungs_are_normal_on_ct(results: dict) -> None:
    for cid, r in results.items():
        assert -900 < r.ct.mean_hu < -750, cid
        assert r.ct.dense_fraction < 0.01, cid
        assert abs(r.ct.mean_hu - r.ct_control.mean_hu) < 40, cid


def test_spect_lung_uptake_relative_to_vertebrae(results: dict) -> None:
    s = results["C"].spect
    assert s is not None and s.lung_voxels > 1000 and s.vertebra_voxels > 100
    assert 0.0 < s.lung_to_vertebra < 1.0


def test_results_serialise_with_sources(results: dict) -> None:
    import json

    d = json.loads(json.dumps(results["C"].as_dict()))
    assert d["case_id"] == "C"
    assert d["sources"]["spect"] and d["sources"]["ct"]
    assert {les["site"] for les in d["lesions"]} >= {"L1/L2"}
    back = analysis.CaseAnalysis.from_dict(d)  # results.json read back: the same result
    assert back == results["C"]
    assert json.loads(json.dumps(back.as_dict())) == d


def test_single_view_and_missing_studies_are_named_not_invented(studies: dict) -> None:
    import dataclasses

    c, ctrl = studies["C"], studies["control"]
    post_only = dataclasses.replace(c["wb"], anterior=None)
    r = analysis.analyse_studies("C", post_only, ctrl["wb"])
    assert [m.name for m in r.planar] == [PATCHINESS]  # read on POST, so still measured
    with pytest.raises(KeyError):
        r.measurement("lung / soft tissue")
    assert r.not_measured["lung / soft tissue"] == (
        "the case's whole-body study has no ANT view (only POST)"
    )
    assert {les.site for les in r.lesions} == {"thoracic spine", "L1/L2"}
    assert "lesions: right hemipelvis" in r.not_measured
    assert "lesions: thoracic spine" not in r.not_measured
    assert r.not_measured["lung CT"] == "no CT study for the case"
    assert r.not_measured["SPECT lung / vertebra"] == "no SPECT study for the case"
    assert r.ct is None and r.spect is None
    d = r.as_dict()
    assert len(d["planar"]) == 1 and d["not_measured"] == r.not_measured
    full = analysis.analyse_studies("C", c["wb"], ctrl["wb"], ct=c["ct"], control_ct=ctrl["ct"])
    assert "lung / soft tissue" not in full.not_measured
    assert set(full.not_measured) == {"SPECT lung / vertebra"}
    fig = analysis.roi_overlay_figure(post_only, r)
    assert [ax.get_title() for ax in fig.axes] == ["POST (simulated)"]

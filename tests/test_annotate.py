"""casereport.case (case.yaml schema, strict validation with file + entry) and
casereport.annotate (drawing in mm)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Ellipse
from matplotlib.text import Annotation as MplAnnotation

from casereport.annotate import draw_annotations
from casereport.case import AnnotationKind, PanelKind, Window, load_case
from casereport.display import show_planar_views
from casereport.errors import CaseFileError
from tests.support.figure_synth import CASE_YAML, SyntheticLoader, make_case_dir, wholebody


@pytest.fixture()
def case_dir(tmp_path: Path) -> Path:
    make_case_dir(tmp_path)
    return tmp_path


def test_load_case_valid(case_dir: Path) -> None:
    loader = SyntheticLoader(case_dir)
    spec = load_case(case_dir / "case.yaml", loader=loader)
    assert spec.case_id == "T" and spec.role == "case"
    assert spec.patient.age_years == 60 and spec.patient.sex == "F"
    assert spec.panel_ids == ("A1", "A2", "B1", "B2", "C1", "C2", "C3")
    a2 = spec.panel("A2")
    assert a2.kind is PanelKind.CT and a2.plane == "axial" and a2.position_mm == -100.0
    assert (a2.window.width_hu, a2.window.level_hu) == (1500.0, -600.0)
    assert a2.crop is not None and a2.crop.y_mm == (-140.0, 120.0)
    c1 = spec.panel("C1")
    assert c1.views == ("ANT", "POST")  # default for whole-body
    c2 = spec.panel("C2")
    assert c2.overlay == (case_dir / "spect/spect.dcm").resolve() and c2.alpha == 0.6
    anns = spec.annotations_for("C1")
    assert [a.kind for a in anns] == [AnnotationKind.ARROW, AnnotationKind.ELLIPSE]
    assert anns[0].view == "ANT" and anns[0].tail_mm == (120.0, 1100.0)
    assert spec.annotations_for("A1")[0].view == "ANT"  # single-view panel: implied
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.case_id = "X"  # type: ignore[misc]
    # every study checked, CT and NM asked by modality
    assert {m for _, m in loader.calls} == {"CT", "NM"}


def test_folder_is_accepted_and_schema_only_mode(case_dir: Path) -> None:
    spec = load_case(case_dir, check_images=False)
    assert spec.path == (case_dir / "case.yaml").resolve()


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


BAD = [
    # (description, replacement (old, new), entry in the message, reason regexp)
    ("unknown top key", ("role: case\n", "role: case\ncolour: red\n"), "colour", "unknown key"),
    (
        "unknown panel key",
        ("    views: [ANT]\n", "    views: [ANT]\n    zoom: 2\n"),
        "panels.A1.zoom",
        "unknown key",
    ),
    (
        "window width 0",
        ("window: {width: 1500, level: -600}", "window: {width: 0, level: -600}"),
        "panels.B2.window.width",
        "must be > 0",
    ),
    (
        "window width negative",
        ("window: {width: 1500, level: -600}", "window: {width: -5, level: -600}"),
        "panels.B2.window.width",
        "must be > 0",
    ),
    (
        "unknown CT preset",
        ("    window: lung\n    crop_mm", "    window: soft\n    crop_mm"),
        "panels.A2.window",
        "unknown CT window",
    ),
    (
        "percentiles reversed",
        ("{percentiles: [1, 99.5]}", "{percentiles: [99, 1]}"),
        "panels.A1.window.percentiles",
        "lo < hi",
    ),
    (
        "unknown panel",
        ("- {panel: A1, type: arrow", "- {panel: Z9, type: arrow"),
        "annotations[0].panel",
        "unknown panel 'Z9'",
    ),
    (
        "unknown annotation type",
        ("{panel: A2, type: label", "{panel: A2, type: star"),
        "annotations[5].type",
        "unknown annotation type",
    ),
    (
        "annotation key",
        ("radius_mm: 25}", "radius_mm: 25, size: 3}"),
        "annotations[1].size",
        "unknown key",
    ),
    (
        "view needed",
        ("{panel: B1, type: circle, view: POST,", "{panel: B1, type: circle,"),
        "annotations[1].view",
        "several views",
    ),
    (
        "view not shown",
        ("type: ellipse, view: POST", "type: ellipse, view: LAO"),
        "annotations[3].view",
        "not shown in panel C1",
    ),
    (
        "missing study",
        ("study: wb/wb.dcm", "study: wb/none.dcm"),
        "panels.C1.study",
        "does not exist",
    ),
    (
        "plane key",
        ("    plane: coronal\n    y_mm: 0", "    plane: coronal\n    z_mm: 0"),
        "panels.C3.z_mm",
        "positioned by y_mm",
    ),
    ("unknown kind", ("kind: fusion", "kind: pet"), "panels.C2.kind", "unknown panel kind"),
    ("patient sex", ("sex: F", "sex: X"), "patient.sex", "F or M"),
    ("alpha", ("alpha: 0.6", "alpha: 1.5"), "panels.C2.alpha", r"\(0, 1\]"),
    ("missing caption", ("    caption: Coronal CT.\n", ""), "panels.C3.caption", "missing"),
    ("yaml syntax", ("findings: [lung uptake]", "findings: [lung uptake"), "line", "YAML"),
    # checks against the images
    (
        "point outside",
        ("tip_mm: [150, 200]", "tip_mm: [150, 900]"),
        "annotations[0].tip_mm",
        r"outside the image of the ANT view of panel A1 \(x 0 to 461",
    ),
    (
        "tail outside",
        ("tail_mm: [130, -100]", "tail_mm: [130, -300]"),
        "annotations[4].tail_mm",
        "outside the image of panel C2",
    ),
    (
        "outside crop",
        ("at_mm: [0, 100]", "at_mm: [0, 130]"),
        "annotations[5].at_mm",
        "outside the image",
    ),
    (
        "view absent in study",
        ("views: [ANT]\n", "views: [POST]\n"),
        "panels.A1.views[0]",
        "has no POST view",
    ),
    ("plane outside CT", ("z_mm: -60", "z_mm: 400"), "panels.B2.z_mm", "outside the CT"),
    (
        "wrong study kind",
        (
            "    kind: wholebody\n    study: wb/wb.dcm",
            "    kind: wholebody\n    study: spot/spot.dcm",
        ),
        "panels.C1.study",
        "is a PlanarStudy",
    ),
]


@pytest.mark.parametrize("old_new,entry,reason", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_case_files(tmp_path: Path, old_new: tuple[str, str], entry: str, reason: str) -> None:
    path = make_case_dir(tmp_path, _replace(CASE_YAML, *old_new))
    with pytest.raises(CaseFileError, match=reason) as info:
        load_case(path, loader=SyntheticLoader(tmp_path))
    err = info.value
    assert err.path == path.resolve() or err.path == path
    assert err.entry.startswith(entry), err.entry
    assert str(err).startswith(str(err.path)) and entry in str(err)


def test_fusion_needs_shared_frame_of_reference(case_dir: Path) -> None:
    with pytest.raises(CaseFileError, match="FrameOfReferenceUID") as info:
        load_case(case_dir, loader=SyntheticLoader(case_dir, spect_for="9.9.9"))
    assert info.value.entry == "panels.C2.overlay"


def test_draw_annotations_in_view_mm(case_dir: Path) -> None:
    spec = load_case(case_dir, loader=SyntheticLoader(case_dir))
    wb = wholebody(case_dir / "wb/wb.dcm")
    fig = Figure()
    ax = fig.add_axes((0, 0, 1, 1))
    disp = show_planar_views(wb.views, Window(0, 99), ax=ax, gap_mm=15.0)

    def to_data(view, xy):
        return tuple(disp.to_data(view, xy))

    arts = draw_annotations(spec.annotations_for("C1"), ax, to_data=to_data, color="red")
    arrow, ellipse = arts
    assert isinstance(arrow, MplAnnotation) and arrow.get_text() == "met"
    assert arrow.xy == pytest.approx((186.0, 1151.0))  # ANT view: no offset
    assert isinstance(ellipse, Ellipse)
    # POST view starts one view width + gap to the right
    assert ellipse.center == pytest.approx((405.0 + 256 * 2.3 + 15.0, 1151.0))
    assert (ellipse.width, ellipse.height) == (40.0, 30.0)
    circle_arts = draw_annotations(spec.annotations_for("B1"), ax)
    assert isinstance(circle_arts[0], Circle) and circle_arts[0].radius == 25.0


def test_committed_case_files_are_valid() -> None:
    data = Path(__file__).resolve().parent.parent / "data"
    files = sorted(data.glob("*/case.yaml"))
    if not files:
        pytest.skip("no data/<subject>/case.yaml yet")
    specs = [load_case(p) for p in files]
    roles = {s.case_id: s.role for s in specs}
    assert roles.get("control") == "control"

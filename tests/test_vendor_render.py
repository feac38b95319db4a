"""End to end on vendor-shaped exports: a full article from a data folder whose studies are
written the way scanners export them, plus a case drafted by ``new-case`` from exports.

One render (slow): case C's whole-body is a single anterior Secondary Capture image in
JPEG 2000 without view codes; case B's static views are one SC file per view without view
codes; case A's CT folder holds a localizer and two reconstructions; case D is drafted by
``python -m casereport new-case`` from a folder of exports and rendered without edits.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from casereport.__main__ import main
from casereport.case import load_case
from tests.support.vendor_data import vendor_files

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"

pytestmark = pytest.mark.slow


def _edit(case_file: Path, fn) -> None:
    doc = yaml.safe_load(case_file.read_text())
    fn(doc)
    case_file.write_text(yaml.safe_dump(doc, sort_keys=False))


def _declare_vendor_shapes(data: Path) -> None:
    def a(doc: dict) -> None:
        series = {"description": "SIMULATED low-dose CT chest (SPECT/CT)"}
        doc["panels"]["A2"]["study"] = {"path": doc["panels"]["A2"]["study"], "series": series}
        doc["studies"]["ct"] = {"path": doc["studies"]["ct"], "series": {"number": 3}}

    def b(doc: dict) -> None:
        doc["panels"]["B1"]["study"] = {"ANT": "spot/IM0001.dcm", "POST": "spot/IM0002.dcm"}

    def c(doc: dict) -> None:
        doc["panels"]["C1"]["study"] = "wb/WB0001.dcm"
        doc["panels"]["C1"]["views"] = ["ANT"]
        doc["studies"]["whole_body"] = {"path": "wb/WB0001.dcm", "views": ["ANT"]}
        doc["annotations"] = [
            x for x in doc["annotations"] if x["panel"] != "C1" or x.get("view") != "POST"
        ]

    for cid, fn in (("A", a), ("B", b), ("C", c)):
        _edit(data / cid / "case.yaml", fn)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("vendor")
    data = vendor_files(DATA, root / "data")
    _declare_vendor_shapes(data)
    exports = root / "exports"
    shutil.copytree(data / "C" / "wb", exports / "wb")
    shutil.copytree(data / "A" / "ct", exports / "ct")
    shutil.copytree(data / "B" / "spot", exports / "spot")
    # three subjects' studies, for three vendor shapes in one draft: vouched for as one
    # patient (new-case refuses exports of several patients otherwise)
    args = ["new-case", str(exports), "--id", "D", "--data", str(data), "--same-patient"]
    assert main(args) == 0
    project = root / "project"
    shutil.copytree(ROOT / "notebooks", project / "notebooks")
    shutil.copy(ROOT / "matplotlibrc", project / "matplotlibrc")
    res = subprocess.run(
        [
            sys.executable,
            str(ROOT / "render.py"),
            "--root",
            str(project),
            "--data",
            str(data),
            "--html-only",
        ],
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return root


def test_vendor_shaped_case_files_validate_against_their_images(rendered: Path) -> None:
    data = rendered / "data"
    c = load_case(data / "C" / "case.yaml")
    assert c.panel("C1").views == ("ANT",)
    d = load_case(data / "D" / "case.yaml")
    kinds = [d.panel(p).kind.value for p in d.panel_ids]
    assert kinds.count("wholebody") == 1 and kinds.count("ct") == 2
    assert "planar" in kinds


def test_article_renders_with_one_view_and_names_what_was_not_measured(rendered: Path) -> None:
    project = rendered / "project"
    html = (project / "build" / "article.html").read_text()
    assert "case D" in html or ">D<" in html
    assert "Not measured, because the studies do not allow it" in html
    assert "case C: lesions: L1/L2, lesions: thoracic spine" in html
    results = json.loads((project / "build" / "cases" / "C" / "results.json").read_text())
    assert results["not_measured"]["lesions: thoracic spine"].startswith("the case's whole-body")
    assert {les["site"] for les in results["lesions"]} >= {"right hemipelvis"}
    d = json.loads((project / "build" / "cases" / "D" / "results.json").read_text())
    assert d["planar"]  # the drafted whole-body (declared ANT) was measured
    assert d["not_measured"]["SPECT lung / vertebra"] == "no SPECT study for the case"
    c1 = json.loads((project / "figures" / "panels" / "C1.json").read_text())
    (view,) = c1["used"]["views"]
    assert (view["view"], view["view_source"], view["spacing_source"]) == (
        "ANT",
        "case file",
        "PixelSpacing",
    )

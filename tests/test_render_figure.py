"""The figure job: ``notebooks/figure.ipynb`` runs beside the cases, cached like a case run.

A small project (two cases, a control) with a figure notebook that draws from ``data/``
only and an article that reads the figure and writes none. It is rendered cold once
(module fixture); every test works on a copy of it, cache included.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.cached_project import CASE_CELLS, cached, manifest, render
from tests.support.cached_project import dicom as _dicom
from tests.support.nbfactory import case_yaml, make_notebook

TITLE = "Render figure-job test report"

FIGURE_CELLS = [
    ("md", "# Figure\n\nDrawn from the data alone.", None),
    ("code", 'data_dir = "data"\nfigures_dir = "f"', ["parameters"]),
    (
        "code",
        "import json, os\nfrom pathlib import Path\nimport matplotlib.pyplot as plt\n"
        "import pydicom\nimport casereport.io as cio\n"
        "if os.environ.get('CASEREPORT_TEST_FIGURE_FAIL'):\n"
        "    raise ValueError('figure broken on purpose')\n"
        "sums = {}\nfor path in sorted(Path(data_dir).glob('*/img.dcm')):\n"
        "    cio.record_read(path)\n"
        "    sums[path.parent.name] = int(pydicom.dcmread(path).pixel_array.sum())\n"
        "figs = Path(figures_dir)\n(figs / 'panels').mkdir(parents=True, exist_ok=True)\n"
        "fig, ax = plt.subplots(figsize=(2, 2))\n"
        "ax.bar(range(len(sums)), list(sums.values()))\n"
        "fig.savefig(figs / 'figure1.png', dpi=50, metadata={'Software': None})\n"
        "plt.close(fig)\n"
        "for subject, total in sums.items():\n"
        "    (figs / 'panels' / f'{subject}.json').write_text(json.dumps({'sum': total}))",
        None,
    ),
]

ARTICLE_CELLS = [
    ("code", 'data_dir = "data"\nresults_dir = "r"\nfigures_dir = "f"', ["parameters"]),
    ("md", f"# {TITLE}\n\nIntroduction.", None),
    (
        "code",
        "import json\nfrom pathlib import Path\n"
        "res = {p.parent.name: json.loads(p.read_text())\n"
        "       for p in sorted(Path(results_dir).glob('*/results.json'))}\n"
        "panels = {p.stem: json.loads(p.read_text())\n"
        "          for p in sorted(Path(figures_dir).glob('panels/*.json'))}\n"
        "size = (Path(figures_dir) / 'figure1.png').stat().st_size\n"
        "print('figure bytes', size, 'panels', ','.join(panels))\n"
        "for case, r in res.items():\n    print('case', case, 'sum', r['sum'])",
        None,
    ),
]


def snapshot(project: Path) -> dict[str, bytes]:
    """Bytes of the published HTML and figures."""
    files = [project / "build" / "article.html"]
    files += sorted(p for p in (project / "figures").rglob("*") if p.is_file())
    return {str(p.relative_to(project)): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project after one cold render with two kernels at once."""
    project = tmp_path_factory.mktemp("figjob")
    for case, offset in (("A", 0), ("B", 100), ("control", 7)):
        _dicom(project / "data" / case / "img.dcm", offset)
        role = "control" if case == "control" else "case"
        (project / "data" / case / "case.yaml").write_text(case_yaml(case, role))
    make_notebook(project / "notebooks" / "case.ipynb", CASE_CELLS)
    make_notebook(project / "notebooks" / "figure.ipynb", FIGURE_CELLS)
    make_notebook(project / "notebooks" / "article.ipynb", ARTICLE_CELLS, title=TITLE)
    res = render(project, "-j", "2", "--html-only")
    assert res.returncode == 0, res.stderr
    return project


@pytest.fixture
def project(warm: Path, tmp_path: Path) -> Path:
    """A copy of the warm project (cache included) that a test may change."""
    dst = tmp_path / "p"
    shutil.copytree(warm, dst, symlinks=True)
    return dst


def test_figure_job_runs_beside_the_cases_and_the_article_reads_it(warm: Path) -> None:
    assert cached(warm) == {
        "figure": False,
        "case A": False,
        "case B": False,
        "article": False,
        "export": False,
    }
    m = manifest(warm)
    assert m["parameters"]["figure"] == {
        "data_dir": "data",
        "figures_dir": "build/.staging-render/figures",
    }
    inputs = {i["path"] for i in m["inputs"]}
    assert {"notebooks/figure.ipynb", "data/control/img.dcm"} <= inputs
    outputs = {o["path"] for o in m["outputs"]}
    assert {
        "figures/figure1.png",
        "figures/panels/control.json",
        "build/notebooks/figure.ipynb",
    } <= outputs
    html = (warm / "build" / "article.html").read_text()
    assert "panels A,B,control" in html and "case B sum 8416" in html


def test_case_render_reuses_the_figure_and_still_publishes_it(project: Path) -> None:
    shutil.rmtree(project / "figures")
    res = render(project, "--case", "A", "--html-only")
    assert res.returncode == 0, res.stderr
    steps = cached(project)
    assert steps["figure"] is True and steps["case A"] is True and steps["article"] is False
    assert (project / "figures" / "figure1.png").is_file()


def test_figure_output_change_reruns_the_article_not_the_cases(project: Path) -> None:
    cells = list(FIGURE_CELLS)
    cells[2] = ("code", cells[2][1].replace("dpi=50", "dpi=40"), None)
    make_notebook(project / "notebooks" / "figure.ipynb", cells)
    res = render(project, "--html-only")
    assert res.returncode == 0, res.stderr
    assert cached(project) == {
        "figure": False,
        "case A": True,
        "case B": True,
        "article": False,
        "export": False,
    }


def test_failing_figure_is_reported_like_a_case_previous_article_kept(project: Path) -> None:
    before = snapshot(project)
    res = render(project, "--no-cache", "--html-only", env={"CASEREPORT_TEST_FIGURE_FAIL": "1"})
    assert res.returncode == 1
    assert "case:      figure" in res.stderr and "figure.ipynb" in res.stderr
    assert "ValueError: figure broken on purpose" in res.stderr
    assert snapshot(project) == before
    assert not list((project / "build").glob(".staging-*"))
    # the cases finished and were cached although the figure failed; the figure's earlier
    # run is still in the cache
    assert render(project, "--html-only").returncode == 0
    assert set(cached(project).values()) == {True}

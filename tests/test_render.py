"""The render pipeline end to end on a small project made in the test.

Every step is the real one: pydicom writes the DICOM, papermill executes the notebooks on
the project's kernel, nbconvert exports the HTML and WeasyPrint the PDF.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import nbformat
import pytest
from pypdf import PdfReader

from tests.support.nbfactory import make_notebook
from tests.support.tiny_project import CASE_CELLS, TITLE, run_render

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tiny_project: Path) -> Path:
    """A minimal project: one case with one DICOM file, a case and an article notebook."""
    return tiny_project


def test_render_writes_self_contained_html_and_pdf(project: Path) -> None:
    res = run_render(project)
    assert res.returncode == 0, res.stderr
    html = (project / "build" / "article.html").read_text()
    assert f"<title>{TITLE}</title>" in html
    assert "sum of pixels 32640" in html  # 0 + 1 + ... + 255, computed from the DICOM
    images = re.findall(r'<img[^>]*\ssrc="data:image/png;base64,([^"]+)"', html)
    assert images, "no embedded image"
    assert base64.b64decode(images[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org", "")
    assert "case_id =" not in html  # code hidden by default
    pdf = project / "build" / "article.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    reader = PdfReader(pdf)
    assert len(reader.pages) >= 1
    assert reader.pages[0].mediabox.width == pytest.approx(595.3, abs=1)  # A4
    text = " ".join(p.extract_text() for p in reader.pages)
    assert TITLE in " ".join(text.split())
    executed = nbformat.read(project / "build" / "notebooks" / "case_T.ipynb", as_version=4)
    assert "papermill" not in executed.metadata  # timings scrubbed
    # stderr is a pipe here, as in a CI log: one plain line per step, no terminal codes
    assert "\x1b" not in res.stderr and "\r" not in res.stderr, res.stderr
    steps = [line.split(":")[0] for line in res.stderr.splitlines()]
    assert steps == ["case T", "article", "html", "pdf", "jats"], res.stderr
    assert re.search(r"^pdf: written in \d+\.\d s$", res.stderr, re.MULTILINE), res.stderr
    jats = (project / "build" / "article.jats.xml").read_text()
    assert 'dtd-version="1.3"' in jats and f"<article-title>{TITLE}</article-title>" in jats


def test_with_code_keeps_code_cells(project: Path) -> None:
    res = run_render(project, "--with-code", "--html-only")
    assert res.returncode == 0, res.stderr
    html = (project / "build" / "article.html").read_text()
    assert 'class="input_area"' in html and ">results_dir<" in html
    assert not (project / "build" / "article.pdf").exists()


def test_parameter_reaches_executed_notebook(project: Path) -> None:
    res = run_render(project, "-p", "T:label=hello-param", "--html-only")
    assert res.returncode == 0, res.stderr
    nb = nbformat.read(project / "build" / "notebooks" / "case_T.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'label = "hello-param"' in injected[0].source
    outputs = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    assert "label is hello-param" in outputs
    assert "label hello-param" in (project / "build" / "article.html").read_text()


def test_failing_cell_names_notebook_and_cell_and_keeps_previous_article(project: Path) -> None:
    assert run_render(project, "--html-only").returncode == 0
    before = (project / "build" / "article.html").read_bytes()
    cells = CASE_CELLS + [("code", "x = 1\nraise ValueError('broken on purpose')", None)]
    make_notebook(project / "notebooks" / "case.ipynb", cells)
    res = run_render(project, "--html-only")
    assert res.returncode != 0
    assert "case.ipynb" in res.stderr
    assert "cell:      6" in res.stderr
    assert "ValueError: broken on purpose" in res.stderr
    assert "Traceback" not in res.stderr
    assert (project / "build" / "article.html").read_bytes() == before
    assert not list((project / "build").glob(".staging-*"))


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("T:nosuch=1", "parameter 'nosuch': unknown parameter"),
        ("T:label=3", "parameter 'label': expected str, got int 3"),
        ("T:output_dir=elsewhere", "set by render.py"),
    ],
)
def test_bad_parameter_is_refused_before_execution(project: Path, param: str, message: str) -> None:
    res = run_render(project, "-p", param, "--html-only")
    assert res.returncode == 2
    assert message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (project / "build" / "notebooks").exists()


def test_two_renders_are_byte_identical(project: Path, tmp_path: Path) -> None:
    assert run_render(project).returncode == 0
    first = {n: (project / "build" / n).read_bytes() for n in ("article.html", "article.pdf")}
    assert run_render(project, "--build", str(project / "build2")).returncode == 0
    for name, data in first.items():
        assert (project / "build2" / name).read_bytes() == data, name


def test_executed_notebook_is_scrubbed_as_it_is_written_once(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """papermill's final write of a run's notebook is the scrubbed one (no timings, kernel
    version, random parameter-cell id or record-inputs cell), and the file is not read
    back to be scrubbed: the same bytes as scrubbing the file afterwards."""
    from casereport.render.execute import RECORD_TAG, NotebookRun, execute, scrub

    read = nbformat.read
    reads: list[str] = []
    monkeypatch.setattr(
        nbformat, "read", lambda f, *a, **k: reads.append(str(f)) or read(f, *a, **k)
    )
    run = NotebookRun(
        label="T",
        source=project / "notebooks" / "case.ipynb",
        output=tmp_path / "case_T.ipynb",
        parameters={"label": "once", "output_dir": str(tmp_path / "out")},
        cwd=project,
    )
    out = execute(run, record_to=tmp_path / "read.json")
    assert str(out) not in reads  # never read back
    nb = read(out, as_version=4)
    assert all(RECORD_TAG not in c.metadata.get("tags", []) for c in nb.cells)  # appended, left
    assert "papermill" not in nb.metadata and "version" not in nb.metadata["language_info"]
    assert all("execution" not in c.metadata and "papermill" not in c.metadata for c in nb.cells)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert [c.id for c in injected] == ["injected-parameters"]
    scrub(nb)  # nothing left to scrub: the same bytes
    again = tmp_path / "again.ipynb"
    nbformat.write(nb, again)
    assert again.read_bytes() == out.read_bytes()

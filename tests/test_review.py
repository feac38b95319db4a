"""Reviewer tools: provenance.json, ``render.py verify`` and ``render.py bundle``.

Projects are made in the tests: figure PNGs drawn with matplotlib, DICOM written with
pydicom, a manifest of their SHA-256. ``verify`` is exercised on an already rendered
figures folder (``--rendered``); the re-render itself is the render pipeline's job.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from casereport.errors import PhiError, ReviewError
from casereport.review import (
    build_bundle,
    build_provenance,
    compare_figures,
    verify,
    write_provenance,
)
from casereport.review.bundle import zip_date_time
from casereport.review.provenance import provenance_html
from casereport.review.verify import (
    DIFF_MARGIN_PX,
    DIFF_MIN_WIDTH_PX,
    check_data,
    diff_image,
    report_text,
)
from tests.support import dicom_factory as fac
from tests.support.nbfactory import case_yaml

ROOT = Path(__file__).resolve().parents[1]
PANELS = ("A1", "A2", "B1")


def _panel_png(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    fig = Figure(figsize=(1.5, 1.5), dpi=60)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(rng.poisson(20, size=(32, 32)), cmap="gray_r")
    ax.set_axis_off()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", metadata={"Software": None})


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _project(root: Path, *, identifiable: bool = False) -> Path:
    """figures/ (figure1 + 3 panels), data/ (2 DICOM + manifest), build/ outputs."""
    for i, pid in enumerate(PANELS):
        _panel_png(root / "figures" / "panels" / f"{pid}.png", i)
    _panel_png(root / "figures" / "figure1.png", 99)
    data = root / "data"
    wb = fac.nm_wholebody()
    wb.DeidentificationMethod = "fictitious test data"
    if identifiable:
        wb.PatientName = "Doe^Jane"
        wb.InstitutionName = "General Hospital"
    (data / "A" / "wb").mkdir(parents=True)
    wb.save_as(data / "A" / "wb" / "wb.dcm", enforce_file_format=True)
    sp = fac.nm_planar()
    sp.DeidentificationMethod = "fictitious test data"
    (data / "A" / "spot").mkdir(parents=True)
    sp.save_as(data / "A" / "spot" / "spot.dcm", enforce_file_format=True)
    (data / "A" / "case.yaml").write_text(case_yaml("A"))
    files = {p.relative_to(data).as_posix(): _sha(p) for p in sorted(data.rglob("*.dcm"))}
    (data / "MANIFEST.json").write_text(json.dumps({"files": files, "seed": 1}, indent=2))
    build = root / "build"
    (build / "notebooks").mkdir(parents=True)
    (build / "article.html").write_text("<html><body>article</body></html>")
    (build / "article.pdf").write_bytes(b"%PDF-1.7\n% test\n")
    (build / "notebooks" / "article.ipynb").write_text('{"cells": []}')
    (build / "notebooks" / "case_A.ipynb").write_text('{"cells": []}')
    _render_manifest(root)
    return root


def _render_manifest(root: Path) -> None:
    """build/manifest.json as the render writes it: inputs and outputs with SHA-256."""
    inputs = sorted(p for p in (root / "data").rglob("*") if p.is_file())
    outputs = [root / "build" / n for n in ("article.html", "article.pdf", "article.jats.xml")]
    outputs = [p for p in outputs if p.is_file()]

    def entries(paths: list[Path]) -> list[dict[str, str]]:
        return [{"path": p.relative_to(root).as_posix(), "sha256": _sha(p)} for p in paths]

    doc = {"inputs": entries(inputs), "outputs": entries(outputs)}
    (root / "build" / "manifest.json").write_text(json.dumps(doc, indent=1))


def _copy_figures(src: Path, dst: Path) -> Path:
    for p in src.rglob("*"):
        if p.is_file():
            (dst / p.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            (dst / p.relative_to(src)).write_bytes(p.read_bytes())
    return dst


def _tamper_png(path: Path) -> None:
    arr = np.asarray(Image.open(path).convert("RGBA")).copy()
    arr[10:30, 10:30, :3] = [255, 0, 0]
    Image.fromarray(arr).save(path)


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "render.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --------------------------------------------------------------------------- panels


def test_identical_figures_pass_and_tampered_panel_fails(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    rendered = _copy_figures(root / "figures", tmp_path / "r")
    checks = compare_figures(root / "figures", rendered)
    assert [c.name for c in checks] == [
        "figure1.png",
        "panels/A1.png",
        "panels/A2.png",
        "panels/B1.png",
    ]
    assert all(c.passed and c.pixels == 0 and c.max_abs == 0.0 for c in checks)

    _tamper_png(rendered / "panels" / "A2.png")
    diffs = tmp_path / "diffs"
    diffs.mkdir()
    by_name = {c.name: c for c in compare_figures(root / "figures", rendered, diff_dir=diffs)}
    bad = by_name["panels/A2.png"]
    assert not bad.passed and bad.max_abs > 100 and bad.pixels == 400
    assert bad.diff_image == "diff_panels_A2.png" and (diffs / bad.diff_image).is_file()
    assert by_name["panels/A1.png"].passed and by_name["panels/A1.png"].diff_image is None
    # the diff image: three views side by side, the difference in red where pixels changed
    img = np.asarray(Image.open(diffs / bad.diff_image))
    # cropped to the changed square (pixels 10-29) plus the margin, enlarged when narrow
    crop = 30 + DIFF_MARGIN_PX
    zoom = max(1, DIFF_MIN_WIDTH_PX // (3 * crop + 16))
    assert img.shape[:2] == (crop * zoom, (3 * crop + 16) * zoom)
    heat = img[:, (2 * crop + 16) * zoom :]
    z = 20 * zoom
    assert heat[z, z, 0] == 255 and heat[z, z, 1] < 128 and (heat[-1, -1] == 255).all()


def test_one_channel_of_one_pixel_fails_and_shows_in_the_diff_image(tmp_path: Path) -> None:
    a = np.full((20, 20, 4), 200.0)
    b = a.copy()
    b[3, 4, 0] += 1  # one grey level of one channel of one pixel
    img = np.asarray(diff_image(a, b))
    zoom = DIFF_MIN_WIDTH_PX // (3 * 20 + 16)  # the whole image is within the margin
    assert img.shape == (20 * zoom, (3 * 20 + 16) * zoom, 3)
    heat = img[:, (2 * 20 + 16) * zoom :]
    assert tuple(heat[3 * zoom, 4 * zoom]) == (255, 0, 0) and (heat[0, 0] == 255).all()
    root = tmp_path / "c"
    (root / "panels").mkdir(parents=True)
    Image.fromarray(a.astype(np.uint8)).save(root / "panels" / "X.png")
    (tmp_path / "r" / "panels").mkdir(parents=True)
    Image.fromarray(b.astype(np.uint8)).save(tmp_path / "r" / "panels" / "X.png")
    (check,) = compare_figures(root, tmp_path / "r")
    assert not check.passed and check.pixels == 1 and check.max_abs == 1.0
    assert check.note == "1 pixel(s) differ (max |difference| 1)"


def test_missing_and_resized_panels_fail(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    rendered = _copy_figures(root / "figures", tmp_path / "r")
    (rendered / "panels" / "B1.png").unlink()
    Image.new("RGBA", (7, 9), "white").save(rendered / "panels" / "A1.png")
    _panel_png(rendered / "panels" / "Z9.png", 5)
    by_name = {c.name: c for c in compare_figures(root / "figures", rendered)}
    assert "size differs" in by_name["panels/A1.png"].note
    assert by_name["panels/B1.png"].note == "not produced by the re-render"
    assert by_name["panels/Z9.png"].note == "re-rendered but not committed"


# --------------------------------------------------------------------------- data


def test_manifest_check_detects_tampered_and_unlisted_dicom(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    assert check_data(root / "data") == (2, [])
    wb = root / "data" / "A" / "wb" / "wb.dcm"
    raw = bytearray(wb.read_bytes())
    raw[-1] ^= 0xFF  # one pixel value
    wb.write_bytes(bytes(raw))
    extra = fac.nm_planar(key="extra")
    extra.save_as(root / "data" / "A" / "extra.dcm", enforce_file_format=True)
    n, failures = check_data(root / "data")
    assert n == 2
    assert [(f.path, f.note) for f in failures] == [
        ("A/wb/wb.dcm", "SHA-256 differs from the manifest"),
        ("A/extra.dcm", "DICOM file not listed in the manifest"),
    ]


# --------------------------------------------------------------------------- verify


def test_verify_passes_and_writes_report(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    rendered = _copy_figures(root / "figures", tmp_path / "r")
    report = verify(root, rendered=rendered)
    assert report.passed
    text = report_text(report)
    assert "comparison: exact (no tolerance)" in text and "panels/A1.png" in text
    assert text.count("PASS") >= 6 and "verify: PASS" in text
    page = (root / "build" / "verify" / "report.html").read_text()
    assert "<h1>Verification: PASS</h1>" in page


def test_verify_cli_fails_on_tampered_panel_and_dicom(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    rendered = _copy_figures(root / "figures", tmp_path / "r")
    _tamper_png(rendered / "panels" / "B1.png")
    dcm = root / "data" / "A" / "spot" / "spot.dcm"
    dcm.write_bytes(dcm.read_bytes()[:-2] + b"\x00\x01")
    done = _run("verify", "--rendered", str(rendered), cwd=root)
    assert done.returncode == 1, done.stderr
    out = done.stdout
    assert (
        "comparison: exact (no tolerance)" in out and "differing figure files: panels/B1.png" in out
    )
    assert [ln.split()[:2] for ln in out.splitlines() if ln.startswith("panels/B1.png")] == [
        ["panels/B1.png", "FAIL"]
    ]
    assert [ln.split()[:2] for ln in out.splitlines() if ln.startswith("panels/A1.png")] == [
        ["panels/A1.png", "PASS"]
    ]
    assert "FAIL data/A/spot/spot.dcm: SHA-256 differs from the manifest" in out
    assert out.rstrip().splitlines()[-2] == "verify: FAIL"
    report = root / "build" / "verify"
    assert (report / "diff_panels_B1.png").is_file()
    page = (report / "report.html").read_text()
    assert 'src="diff_panels_B1.png"' in page and "Verification: FAIL" in page


def test_verify_reports_identifiable_data(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", identifiable=True)
    report = verify(root, rendered=_copy_figures(root / "figures", tmp_path / "r"))
    assert not report.passed
    assert (
        "wb.dcm" in report.phi and "PatientName" in report.phi and "InstitutionName" in report.phi
    )
    html_page = (root / "build" / "verify" / "report.html").read_text()
    assert "Doe^Jane" not in html_page


def test_verify_bad_input_exit_2_and_nothing_written(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    rendered = _copy_figures(root / "figures", tmp_path / "r")
    (root / "data" / "MANIFEST.json").write_text("{not json")
    done = _run("verify", "--rendered", str(rendered), cwd=root)
    assert done.returncode == 2
    assert (
        "MANIFEST.json: data manifest does not parse" in done.stderr
        and "Traceback" not in done.stderr
    )
    assert not (root / "build" / "verify").exists()
    assert sorted(p.name for p in (root / "build").iterdir()) == [
        "article.html",
        "article.pdf",
        "manifest.json",
        "notebooks",
    ]

    root2 = _project(tmp_path / "q")
    for p in sorted((root2 / "figures").rglob("*"), reverse=True):
        p.rmdir() if p.is_dir() else p.unlink()
    (root2 / "figures").rmdir()
    done = _run("verify", "--rendered", str(rendered), cwd=root2)
    assert done.returncode == 2 and "no committed figures folder" in done.stderr
    assert not (root2 / "build" / "verify").exists()
    with pytest.raises(ReviewError, match="no committed figures folder"):
        verify(root2, rendered=rendered)


# --------------------------------------------------------------------------- bundle


def test_bundle_is_deterministic_and_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1554076800")  # 2019-04-01
    root = _project(tmp_path / "p")
    a = build_bundle(root, tmp_path / "a.zip")
    b = build_bundle(root, tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    with zipfile.ZipFile(a.path) as zf:
        names = zf.namelist()
        infos = zf.infolist()
        readme = zf.read("README.txt").decode()
        sums = zf.read("SHA256SUMS").decode()
        env = zf.read("environment/requirements.txt").decode()
        assert zf.read("data/MANIFEST.json") == (root / "data" / "MANIFEST.json").read_bytes()
        assert zf.read("figures/panels/A1.png") == (root / "figures/panels/A1.png").read_bytes()
    assert names == sorted(names) == list(a.entries) == list(b.entries)
    assert {
        "article.html",
        "article.pdf",
        "data/MANIFEST.json",
        "notebooks/article.ipynb",
        "notebooks/case_A.ipynb",
        "figures/figure1.png",
        "figures/panels/B1.png",
        "environment/requirements.txt",
        "README.txt",
        "SHA256SUMS",
    } <= set(names)
    assert not any(n.endswith(".dcm") for n in names)
    assert {i.date_time for i in infos} == {(2019, 4, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}
    assert "python render.py verify" in readme
    assert f"{_sha(root / 'build' / 'article.pdf')}  article.pdf" in sums
    assert any(line.startswith("numpy==") for line in env.splitlines())
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert zip_date_time() == (1980, 1, 1, 0, 0, 0)


def test_bundle_refuses_existing_target_and_phi(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    target = root / "build" / "submission.zip"
    target.write_bytes(b"previous")
    done = _run("bundle", cwd=root)
    assert done.returncode == 2 and "bundle target exists" in done.stderr
    assert target.read_bytes() == b"previous"
    target.unlink()
    assert _run("bundle", cwd=root).returncode == 0 and zipfile.is_zipfile(target)

    bad = _project(tmp_path / "q", identifiable=True)
    with pytest.raises(PhiError, match=r"wb\.dcm: .*PatientName"):
        build_bundle(bad)
    done = _run("bundle", "--allow-phi", cwd=bad)
    assert done.returncode == 2 and "--allow-phi" in done.stderr  # no such option for bundle
    done = _run("bundle", cwd=bad)
    assert done.returncode == 2 and "identifiable data" in done.stderr
    assert sorted(p.name for p in (bad / "build").iterdir()) == [
        "article.html",
        "article.pdf",
        "manifest.json",
        "notebooks",
    ]


def test_bundle_missing_inputs_exit_2(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    (root / "build" / "article.pdf").unlink()
    with pytest.raises(ReviewError, match=r"missing: .*article\.pdf.*run python render\.py first"):
        build_bundle(root)
    assert not (root / "build" / "submission.zip").exists()


def _jats(root: Path) -> None:
    (root / "build" / "article.jats.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<article xmlns:xlink="http://www.w3.org/1999/xlink" '
        'dtd-version="1.3"><front><article-meta><title-group><article-title>T</article-title>'
        '</title-group></article-meta></front><body><fig id="fig1"><graphic '
        'xlink:href="figures/figure1.png"/></fig></body></article>\n'
    )
    _render_manifest(root)


def test_meca_package_is_deterministic_and_lists_every_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xml.etree.ElementTree as ET

    from casereport.review.bundle import MECA_NS, build_meca

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1554076800")
    root = _project(tmp_path / "p")
    with pytest.raises(ReviewError, match=r"missing: .*article\.jats\.xml"):
        build_meca(root)
    (root / "build" / "article.jats.xml").write_text("<article/>")  # not from this render
    with pytest.raises(ReviewError, match=r"article\.jats\.xml: not written by the last render"):
        build_meca(root)
    _jats(root)
    a = build_meca(root, tmp_path / "a.meca.zip")
    build_meca(root, tmp_path / "b.meca.zip")
    assert (tmp_path / "a.meca.zip").read_bytes() == (tmp_path / "b.meca.zip").read_bytes()
    with zipfile.ZipFile(a.path) as zf:
        names = zf.namelist()
        manifest = ET.fromstring(zf.read("manifest.xml"))
        jats = ET.fromstring(zf.read("article.jats.xml"))
        sums = zf.read("SHA256SUMS").decode()
        assert {i.date_time for i in zf.infolist()} == {(2019, 4, 1, 0, 0, 0)}
    assert names[0] == "manifest.xml" and names == list(a.entries)
    assert {"article.jats.xml", "article.pdf", "figures/figure1.png", "data/MANIFEST.json"} <= set(
        names
    )
    ns = {"m": MECA_NS}
    xlink = "{http://www.w3.org/1999/xlink}href"
    assert manifest.tag == f"{{{MECA_NS}}}manifest" and manifest.get("manifest-version") == "1"
    hrefs = [i.get(xlink) for i in manifest.iterfind(".//m:instance", ns)]
    assert sorted(hrefs) == sorted(names[1:])  # every file once, the manifest itself aside
    kinds = {
        item.get("item-type"): [i.get(xlink) for i in item.iterfind("m:instance", ns)]
        for item in manifest.iterfind("m:item", ns)
    }
    assert kinds["article-metadata"] == ["article.jats.xml"]
    assert kinds["manuscript"] == ["article.pdf", "article.html"]
    assert kinds["figure"] == ["figures/figure1.png"]
    media = {i.get(xlink): i.get("media-type") for i in manifest.iterfind(".//m:instance", ns)}
    assert media["article.pdf"] == "application/pdf" and media["figures/figure1.png"] == "image/png"
    for g in jats.iter("graphic"):  # the JATS points only at files of the package
        assert g.get(xlink) in names
    assert "  article.jats.xml\n" in sums


def test_bundle_and_clean_honour_quiet_and_verbose(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    quiet = _run("bundle", "-q", "-o", str(tmp_path / "q.zip"), cwd=root)
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    loud = _run("bundle", "--verbose", "-o", str(tmp_path / "v.zip"), cwd=root)
    assert loud.returncode == 0, loud.stderr
    assert "  article.pdf\n" in loud.stdout and "  SHA256SUMS\n" in loud.stdout
    assert loud.stdout.rstrip().endswith("entries)")
    both = _run("bundle", "-q", "-v", cwd=root)
    assert both.returncode == 2 and "not allowed with" in both.stderr
    cleaned = _run("clean", "-v", cwd=root)
    assert cleaned.returncode == 0 and f"removed {root / 'build' / 'article.pdf'}" in cleaned.stdout
    assert _run("clean", "-q", cwd=root).stdout == ""


def test_bundle_meca_command(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    _jats(root)
    done = _run("bundle", "--meca", cwd=root)
    assert done.returncode == 0, done.stderr
    target = root / "build" / "submission.meca.zip"
    assert "submission.meca.zip" in done.stdout and zipfile.is_zipfile(target)
    assert not (root / "build" / "submission.zip").exists()


# --------------------------------------------------------------------------- provenance


def test_provenance_from_panel_sidecars(tmp_path: Path) -> None:
    from casereport.figure import load_cases, write_panels
    from tests.support.figure_synth import SyntheticLoader, make_case_dir

    (tmp_path / "pyproject.toml").write_text("")
    case = tmp_path / "data" / "T"
    case.mkdir(parents=True)
    make_case_dir(case)
    loader = SyntheticLoader(case)
    specs = load_cases(tmp_path / "data", loader=loader)
    figures = tmp_path / "figures"
    write_panels(specs, figures / "panels", root=tmp_path, panel_ids=["A1", "C2"], loader=loader)
    params = {"data_dir": "data", "figures_dir": "figures"}
    prov = build_provenance(figures, parameters=params)
    assert sorted(prov["panels"]) == ["A1", "C2"]
    c2 = prov["panels"]["C2"]
    assert c2["notebook"] == "notebooks/article.ipynb" and c2["parameters"] == params
    assert c2["annotation_file"] == "data/T/case.yaml"
    assert [s["series_instance_uid"] for s in c2["sources"]] == ["1.2.3.30", "1.2.3.40"]
    assert c2["sources"][0]["files"][0] == "data/T/ct/CT_0001.dcm"
    assert c2["selection"]["slice_files"] == ["data/T/ct/CT_0021.dcm"]
    assert c2["window"]["ct"]["name"] == "lung"
    assert c2["image_sha256"] == _sha(figures / "panels" / "C2.png")
    path = write_provenance(figures, parameters=params)
    text = path.read_text()
    assert (
        json.loads(text) == prov
        and text == json.dumps(prov, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )
    snippet = provenance_html({**c2, "caption": "<b>"})
    assert snippet.startswith('<details class="provenance"><summary>Sources of panel C2</summary>')
    assert (
        "1.2.3.30" in snippet
        and "data/T/case.yaml" in snippet
        and "notebooks/article.ipynb" in snippet
    )
    evil = provenance_html({"panel": "<script>", "annotation_file": "<img src=x>"})
    assert "<script>" not in evil and "&lt;img src=x&gt;" in evil


def test_provenance_needs_sidecars(tmp_path: Path) -> None:
    (tmp_path / "figures" / "panels").mkdir(parents=True)
    with pytest.raises(ReviewError, match="no panel sidecars"):
        build_provenance(tmp_path / "figures")
    (tmp_path / "figures" / "panels" / "A1.json").write_text("{broken")
    with pytest.raises(ReviewError, match="A1.json: panel sidecar is not valid JSON"):
        build_provenance(tmp_path / "figures")


# --------------------------------------------------------------------------- render gate


@pytest.fixture
def phi_project(tmp_path: Path) -> Path:
    """The render test's tiny project, its one DICOM file carrying a real-looking name."""
    from tests.support.nbfactory import make_notebook
    from tests.support.tiny_project import ARTICLE_CELLS, CASE_CELLS, TITLE
    from tests.support.tiny_project import tiny_dicom as _tiny_dicom

    dcm = tmp_path / "data" / "T" / "img.dcm"
    _tiny_dicom(dcm)
    import pydicom

    ds = pydicom.dcmread(dcm)
    ds.PatientName = "Doe^Jane"
    ds.PatientBirthDate = "19600214"
    ds.save_as(dcm, enforce_file_format=True)
    (tmp_path / "data" / "T" / "case.yaml").write_text(case_yaml("T"))
    make_notebook(tmp_path / "notebooks" / "case.ipynb", CASE_CELLS)
    make_notebook(tmp_path / "notebooks" / "article.ipynb", ARTICLE_CELLS, title=TITLE)
    return tmp_path


def test_render_refuses_identifiable_input_unless_allow_phi(phi_project: Path) -> None:
    done = _run("--root", str(phi_project), "--html-only", "-q", cwd=phi_project)
    assert done.returncode == 2
    assert "img.dcm: PatientName, PatientBirthDate" in done.stderr
    assert "python -m casereport deidentify" in done.stderr and "Traceback" not in done.stderr
    assert not (phi_project / "build" / "article.html").exists()

    done = _run("--root", str(phi_project), "--html-only", "-q", "--allow-phi", cwd=phi_project)
    assert done.returncode == 0, done.stderr
    assert "warning: --allow-phi" in done.stderr
    html_page = (phi_project / "build" / "article.html").read_text()
    assert "LOCAL DRAFT WITH IDENTIFIABLE DATA" in html_page


# --------------------------------------------------------------------------- verify end to end


def test_verify_rerenders_and_catches_a_tampered_committed_panel(tmp_path: Path) -> None:
    from tests.support.nbfactory import make_notebook
    from tests.support.tiny_project import CASE_CELLS, E2E_ARTICLE_CELLS
    from tests.support.tiny_project import tiny_dicom as _tiny_dicom

    root = tmp_path / "proj"
    dcm = root / "data" / "T" / "img.dcm"
    _tiny_dicom(dcm)
    (root / "data" / "T" / "case.yaml").write_text(case_yaml("T"))
    (root / "data" / "MANIFEST.json").write_text(json.dumps({"files": {"T/img.dcm": _sha(dcm)}}))
    make_notebook(root / "notebooks" / "case.ipynb", CASE_CELLS)
    make_notebook(root / "notebooks" / "article.ipynb", E2E_ARTICLE_CELLS, title="E2E")
    first = _run("--root", str(root), "--html-only", "-q", cwd=root)
    assert first.returncode == 0, first.stderr
    assert (root / "figures" / "panels" / "A1.png").is_file()

    ok = _run("verify", "--root", str(root), cwd=root)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert [
        ln.split()[:3] for ln in ok.stdout.splitlines() if ln.startswith(("figure1", "panels/"))
    ] == [["figure1.png", "PASS", "0"], ["panels/A1.png", "PASS", "0"]]
    assert not list((root / "build").glob(".verify-*"))  # the re-render folder is removed

    _tamper_png(root / "figures" / "panels" / "A1.png")
    bad = _run("verify", "--root", str(root), cwd=root)
    assert bad.returncode == 1
    assert [ln.split()[:2] for ln in bad.stdout.splitlines() if ln.startswith("panels/A1.png")] == [
        ["panels/A1.png", "FAIL"]
    ]
    assert (root / "build" / "verify" / "diff_panels_A1.png").is_file()


# --------------------------------------------------------------------------- committed figures


def _one_pixel(img: Image.Image) -> Image.Image:
    """``img`` with one grey level of one channel of one pixel changed."""
    arr = np.array(img)
    y, x = arr.shape[0] // 3, arr.shape[1] // 3
    arr[y, x, ...] = arr[y, x, ...] ^ 1
    return Image.fromarray(arr, mode=img.mode)


def _tamper_committed(path: Path) -> None:
    """One pixel (PNG, TIFF, the first image embedded in an SVG), one byte of an image
    stream (PDF) or one byte of text (JSON) of a committed figure file."""
    import base64
    import io
    import re

    raw = path.read_bytes()
    if path.suffix in (".png", ".tif"):
        with Image.open(path) as img:
            out = io.BytesIO()
            extra = {"compression": "tiff_lzw"} if path.suffix == ".tif" else {}
            _one_pixel(img).save(out, format=img.format, dpi=img.info.get("dpi"), **extra)
        path.write_bytes(out.getvalue())
    elif path.suffix == ".svg":
        m = re.search(rb"data:image/png;base64,\s*([A-Za-z0-9+/=\s]+)", raw)
        assert m, path
        with Image.open(io.BytesIO(base64.b64decode(m.group(1)))) as img:
            out = io.BytesIO()
            _one_pixel(img).save(out, format="PNG")
        new = base64.b64encode(out.getvalue())
        path.write_bytes(raw[: m.start(1)] + new + raw[m.end(1) :])
    elif path.suffix == ".pdf":
        streams = [
            (m.end(), raw.index(b"endstream", m.end()))
            for m in re.finditer(rb"(?<!end)stream\r?\n", raw)
        ]
        start, end = max(streams, key=lambda se: se[1] - se[0])
        mid = (start + end) // 2
        path.write_bytes(raw[:mid] + bytes([raw[mid] ^ 1]) + raw[mid + 1 :])
    else:
        assert path.suffix == ".json", path
        text = raw.decode("utf-8")
        at = text.index('": "') + 5  # inside the first string value
        path.write_bytes((text[:at] + ("X" if text[at] != "X" else "Y") + text[at + 1 :]).encode())
    assert path.read_bytes() != raw


@pytest.mark.skipif(not (ROOT / "figures" / "figure1.png").is_file(), reason="no figures/")
def test_verify_names_every_committed_figure_file_changed_by_one_pixel_or_byte(
    tmp_path: Path,
) -> None:
    root = _project(tmp_path / "p")
    shutil.rmtree(root / "figures")
    committed = shutil.copytree(ROOT / "figures", root / "figures")
    names = sorted(
        p.relative_to(committed).as_posix()
        for p in committed.rglob("*")
        if p.is_file() and p.name != "README.md"
    )
    assert {"figure1.png", "figure1.tif", "figure1.svg", "figure1.pdf", "provenance.json"} <= set(
        names
    )
    assert {"panels/A1.png", "panels/A1.json", "panels/C3.png", "panels/C3.json"} <= set(names)
    assert verify(root, rendered=ROOT / "figures").passed
    for name in names:
        _tamper_committed(committed / name)
    report = verify(root, rendered=ROOT / "figures")
    assert not report.passed
    assert [c.name for c in report.files if not c.passed] == names
    for c in report.files:
        if c.name.endswith((".png", ".tif")):
            assert c.pixels == 1 and c.max_abs == 1.0, c
            assert (root / "build" / "verify" / str(c.diff_image)).is_file()
        elif c.name.endswith(".json"):
            assert c.note.startswith("bytes differ") and str(c.diff_image).endswith(".diff")
    text = report_text(report)
    assert f"differing figure files: {', '.join(names)}" in text


def test_bundle_refuses_a_build_older_than_its_inputs(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    case = root / "data" / "A" / "case.yaml"
    case.write_text(case.read_text() + "findings: [edited after the render]\n")
    with pytest.raises(ReviewError, match=r"stale: data/A/case.yaml changed since the render"):
        build_bundle(root, tmp_path / "a.zip")
    _render_manifest(root)  # as a new render would
    assert build_bundle(root, tmp_path / "a.zip").path.is_file()
    (root / "build" / "article.html").write_text("<html>edited by hand</html>")
    with pytest.raises(ReviewError, match=r"stale: build/article.html"):
        build_bundle(root, tmp_path / "b.zip")
    (root / "build" / "manifest.json").unlink()
    done = _run("bundle", "-o", str(tmp_path / "c.zip"), cwd=root)
    assert done.returncode == 2 and "no render manifest" in done.stderr
    assert not (tmp_path / "c.zip").exists() and not (tmp_path / "b.zip").exists()


def test_provenance_rows_read_as_words() -> None:
    """The appendix says which frames, slices and windows each panel shows in words a
    reviewer reads (the committed provenance of Figure 1), and shows a shape it does not
    know as key-value pairs rather than dropping it."""
    import re

    from casereport.review.provenance import provenance_rows, selection_text, window_text

    prov = json.loads((Path(__file__).resolve().parents[1] / "figures/provenance.json").read_text())
    rows = {pid: dict(provenance_rows(e)) for pid, e in prov["panels"].items()}
    a1, a2, c2 = rows["A1"], rows["A2"], rows["C2"]
    assert re.fullmatch(
        r"[\d.]+–[\d.]+th percentile of the counts \([\d.]+–[\d.]+ counts\)", a1["window"]
    ), a1["window"]
    assert re.fullmatch(
        r"views ANT \(frame 0; [\d.]+ × [\d.]+ mm pixels from PixelSpacing; view named by "
        r"[\w.]+\); crop x [\d.]+–[\d.]+ mm, y [\d.]+–[\d.]+ mm",
        a1["frames / slices"],
    ), a1["frames / slices"]
    assert a2["window"] == "CT lung window, level -600 HU, width 1500 HU"
    assert re.fullmatch(
        r"axial plane at z = [\d.]+ mm \(voxel index [\d., ]+\) between data/A/ct/\S+\.dcm "
        r"and data/A/ct/\S+\.dcm",
        a2["frames / slices"],
    ), a2["frames / slices"]
    assert c2["window"].startswith("CT lung window") and "; SPECT " in c2["window"]
    assert "; SPECT voxel index " in c2["frames / slices"]
    assert a1["parameters"] == "data_dir = data"
    assert window_text({"ct": {"level_hu": 40, "width_hu": 400}}) == (
        "CT level 40 HU, width 400 HU"
    )
    assert window_text({"gamma": 2}) == "gamma 2"  # unknown: kept as key and value
    assert selection_text({"crop_mm": {"x": [-20, -5]}, "frame": 3}) == (
        "crop x -20 to -5 mm; frame 3"
    )

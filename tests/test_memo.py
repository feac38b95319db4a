"""The derived-data cache (casereport.io.memo): shared by processes, exact, content-addressed.

A second process that needs a value reads it (the log and the hit counter say so, not a
timing); every array is bit-identical to a computation without the cache, read-only
arrays stay read-only, and a hit records the same files as read. In a render, the second
case run that loads the control's study reads it from the cache and still lists the
control's file among its inputs.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from casereport.io import memo
from tests.support.nbfactory import case_yaml, make_notebook, write_nm_image

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"

#: computes every kind of cached value on the real data and pickles them with the
#: process's lookup counts and record of files read
SCRIPT = """
import pickle, sys
from pathlib import Path
from casereport.analysis import body_frame, find_lesions, lung_ct, lung_mask
from casereport.case import load_case, load_study
from casereport.io import files_read, memo
data = Path(sys.argv[2])
control = load_case(data / "control" / "case.yaml", check_images=False)
case = load_case(data / "A" / "case.yaml", check_images=False)
def study(spec, kind, modality):
    return load_study(getattr(spec.studies, kind), modality, spec.studies.source(kind))
wb, cwb = study(case, "whole_body", "NM"), study(control, "whole_body", "NM")
ct = study(control, "ct", "CT")
values = {
    "ct": ct,
    "wb": wb,
    "frame": body_frame(cwb.views[0]),
    "lesions": find_lesions(wb, cwb),
    "lung_ct": lung_ct(ct),
    "lung_mask": lung_mask(ct),
}
out = {"values": values, "stats": memo.stats(), "read": [str(p) for p in files_read()]}
out["writeable"] = [a.flags.writeable for a in (ct.array, ct.affine, wb.views[0].counts)]
Path(sys.argv[1]).write_bytes(pickle.dumps(out))
"""


def _run(out: Path, cache: Path | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != memo.ENV}
    if cache is not None:
        env[memo.ENV] = str(cache)
    res = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(out), str(DATA)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    result: dict = pickle.loads(out.read_bytes())
    return result


def _same(a: object, b: object, where: str = "") -> None:
    """Equal, with arrays compared by dtype, shape, bytes and writeability."""
    import dataclasses

    assert type(a) is type(b), where
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray)
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert a.tobytes() == b.tobytes(), where
        assert a.flags.writeable == b.flags.writeable, where
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), where
        for k in a:
            _same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where  # type: ignore[arg-type]
        for i, (x, y) in enumerate(zip(a, b, strict=True)):  # type: ignore[call-overload]
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.mark.skipif(not (DATA / "control" / "case.yaml").is_file(), reason="no data/")
def test_second_process_hits_and_values_are_bit_identical(tmp_path: Path) -> None:
    plain = _run(tmp_path / "plain.pkl", None)
    assert plain["stats"] == {"hit": 0, "miss": 0}  # no variable: computed as usual
    cache = tmp_path / "derived"
    first = _run(tmp_path / "first.pkl", cache)
    second = _run(tmp_path / "second.pkl", cache)
    assert first["stats"]["hit"] == 0 and first["stats"]["miss"] > 0
    # one read per call of the script (three studies, four derived values); nested
    # lookups (body frames inside find_lesions) are not even reached on a hit
    assert second["stats"] == {"hit": 7, "miss": 0}
    log = (cache / "log.txt").read_text().split("\n")
    names = {line.split()[1] for line in log if line.startswith("hit ")}
    assert {
        "casereport.case.studies.read_study",
        "casereport.analysis.body.body_frame",
        "casereport.analysis.planar.find_lesions",
        "casereport.analysis.volume.lung_ct",
        "casereport.analysis.volume.lung_mask",
    } <= names
    for run in (first, second):
        _same(run["values"], plain["values"], "values")
        assert run["read"] == plain["read"]  # a hit records the files as read
        assert run["writeable"] == plain["writeable"] == [False, False, False]
    assert any(p.endswith(".dcm") for p in second["read"])


def test_changed_file_is_a_miss_and_hit_records_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from casereport.case.model import Source
    from casereport.case.studies import _read_shared
    from casereport.io import files_read, forget_files_read

    monkeypatch.setenv(memo.ENV, str(tmp_path / "derived"))
    study = tmp_path / "wb"
    write_nm_image(study / "a.dcm", np.arange(64, dtype=np.uint16).reshape(8, 8), "1.2.3.1")
    source = Source(spacing_mm=(2.0, 2.0), views=("ANT",))

    def load() -> object:
        memo._MEMORY.clear()  # as if in another process
        forget_files_read()
        return _read_shared(study, "NM", source)

    before = memo.stats()
    first = load()
    again = load()
    assert files_read() == (study / "a.dcm",)
    assert memo.stats() == {"hit": before["hit"] + 1, "miss": before["miss"] + 1}
    _same(first, again)
    # new bytes in a file of the study: another key
    write_nm_image(study / "a.dcm", np.arange(64, dtype=np.uint16).reshape(8, 8) + 1, "1.2.3.1")
    changed = load()
    assert memo.stats()["miss"] == before["miss"] + 2
    assert changed.views[0].counts.sum() == first.views[0].counts.sum() + 64  # type: ignore[attr-defined]


@pytest.mark.skipif(not (DATA / "C" / "spect").is_dir(), reason="no data/")
def test_no_source_and_the_default_source_are_one_study(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fusion overlay (loaded without a Source) and the same study named by
    ``studies:`` (the default Source) are read once, in this process and through the
    derived cache."""
    from casereport.case import studies
    from casereport.case.model import Source

    monkeypatch.setenv(memo.ENV, str(tmp_path / "derived"))
    spect = DATA / "C" / "spect" / "spect.dcm"
    studies._CACHE.clear()
    before = memo.stats()
    first = studies.load_study(spect, "NM", Source())
    assert studies.load_study(spect, "NM") is first  # the in-process cache
    studies._CACHE.clear()
    memo._MEMORY.clear()  # as if in another process: the derived cache answers
    _same(studies.load_study(spect, "NM"), first)
    assert memo.stats() == {"hit": before["hit"] + 1, "miss": before["miss"] + 1}


@pytest.mark.skipif(not (DATA / "C" / "spect").is_dir(), reason="no data/")
def test_a_decoded_study_is_identified_by_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A study read through the derived cache is not hashed again as an argument of a
    derived value: its digest comes from its key, the same for the copy another process
    reads back."""
    from casereport.case import studies

    monkeypatch.setenv(memo.ENV, str(tmp_path / "derived"))
    spect = DATA / "C" / "spect" / "spect.dcm"
    studies._CACHE.clear()
    memo._MEMORY.clear()
    first = studies.load_study(spect, "NM")
    studies._CACHE.clear()
    memo._MEMORY.clear()  # as if in another process
    again = studies.load_study(spect, "NM")
    assert again is not first
    assert memo.digest_value(again) == memo.digest_value(first)
    assert memo.digest_value(first).startswith("value-of:")


CASE_CELLS = [
    ("code", 'case_id = "A"\ndata_dir = "data"\noutput_dir = "out"', ["parameters"]),
    (
        "code",
        "import json\nfrom pathlib import Path\nfrom casereport.case import load_study\n"
        "from casereport.case.model import Source\nfrom casereport.io import memo\n"
        "src = Source(spacing_mm=(2.0, 2.0), views=('ANT',))\n"
        "total = 0.0\nfor who in (case_id, 'control'):\n"
        "    s = load_study(Path(data_dir) / who / 'img.dcm', 'NM', src)\n"
        "    total += float(s.views[0].counts.sum())\n"
        "out = Path(output_dir)\nout.mkdir(parents=True, exist_ok=True)\n"
        "(out / 'results.json').write_text(json.dumps({'sum': total}))\n"
        "print('sum', total)",
        None,
    ),
]
ARTICLE_CELLS = [
    ("code", 'data_dir = "data"\nresults_dir = "r"\nfigures_dir = "f"', ["parameters"]),
    ("md", "# Derived cache test", None),
    ("code", "print('done')", None),
]


def test_render_shares_the_control_between_case_runs(tmp_path: Path) -> None:
    project = tmp_path / "p"
    for i, who in enumerate(("A", "B", "control")):
        pixels = np.arange(64, dtype=np.uint16).reshape(8, 8) * (i + 1)
        write_nm_image(project / "data" / who / "img.dcm", pixels, f"1.2.3.{i + 1}")
        role = "control" if who == "control" else "case"
        (project / "data" / who / "case.yaml").write_text(case_yaml(who, role))
    make_notebook(project / "notebooks" / "case.ipynb", CASE_CELLS)
    make_notebook(project / "notebooks" / "article.ipynb", ARTICLE_CELLS, title="Derived")
    cmd = [sys.executable, str(ROOT / "render.py"), "--root", str(project), "--html-only"]
    res = subprocess.run(
        [*cmd, "-j", "1"], cwd=project, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr
    log = (project / "build" / "cache" / "derived" / "log.txt").read_text().splitlines()
    control = [line.split()[0] for line in log if line.split()[1].endswith("read_study")]
    # A: its own study and the control's computed; B: its own computed, the control read
    assert sorted(control) == ["hit", "miss", "miss", "miss"], log
    manifest = json.loads((project / "build" / "manifest.json").read_text())
    for case in ("A", "B"):  # the hit still counts the control's file as read
        assert "data/control/img.dcm" in manifest["cases"][case], manifest["cases"]
    # --no-cache starts the derived data afresh
    res = subprocess.run(
        [*cmd, "--no-cache", "-j", "1"], cwd=project, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr
    log = (project / "build" / "cache" / "derived" / "log.txt").read_text().splitlines()
    assert sorted(line.split()[0] for line in log) == ["hit", "miss", "miss", "miss"]
    shutil.rmtree(project / "build")


def test_pdf_and_svg_parts_are_stored_and_give_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A figure's PDF and SVG with their font subsets and image encodings computed,
    stored and read back are the files matplotlib writes without the cache."""
    from matplotlib.figure import Figure

    from casereport.figure.style import figure_style, render

    with figure_style():
        fig = Figure(figsize=(2, 1))
        fig.text(0.1, 0.5, "A1 lung 0.42 \u2014 SIMULATED", fontweight="bold")
        fig.add_axes((0.1, 0.1, 0.3, 0.3)).imshow(np.arange(64).reshape(8, 8), cmap="gray_r")
        fig.add_axes((0.5, 0.1, 0.3, 0.3)).imshow(np.eye(5), cmap="viridis")
    monkeypatch.delenv(memo.ENV, raising=False)
    plain = {fmt: render(fig, fmt) for fmt in ("pdf", "svg")}
    monkeypatch.setenv(memo.ENV, str(tmp_path / "derived"))
    for _ in range(2):
        memo._MEMORY.clear()  # as in another process: stored, then read from the folder
        assert {fmt: render(fig, fmt) for fmt in ("pdf", "svg")} == plain
    log = [line.split() for line in (tmp_path / "derived" / "log.txt").read_text().splitlines()]
    for part in ("font_subset", "backend_pdf.image_png", "backend_svg.image_png"):
        events = [event for event, name, _ in log if name.endswith(part)]
        assert events and events.count("hit") == events.count("miss"), (part, log)


def test_case_analysis_and_its_region_figure_are_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A case run executed again for a display parameter reads its measurements and the
    PNG of its regions (both functions of the data alone) instead of computing them: the
    same values and bytes as without the cache."""
    from casereport.analysis import analyse_studies, roi_overlay_figure
    from casereport.case import load_case, load_study
    from casereport.report import figure_png, roi_overlay_png

    if not (DATA / "A" / "case.yaml").is_file():
        pytest.skip("no data/")
    monkeypatch.delenv(memo.ENV, raising=False)
    wb = {}
    for who in ("A", "control"):
        spec = load_case(DATA / who / "case.yaml", check_images=False)
        wb[who] = load_study(spec.studies.whole_body, "NM", spec.studies.source("whole_body"))
    plain = analyse_studies("A", wb["A"], wb["control"])
    png = figure_png(roi_overlay_figure(wb["A"], plain), dpi=110)
    assert roi_overlay_png(wb["A"], plain) == png
    monkeypatch.setenv(memo.ENV, str(tmp_path / "derived"))
    for _ in range(2):
        memo._MEMORY.clear()  # stored, then read from the folder (as another process)
        result = analyse_studies("A", wb["A"], wb["control"])
        assert result == plain
        assert roi_overlay_png(wb["A"], result) == png
    log = [line.split() for line in (tmp_path / "derived" / "log.txt").read_text().splitlines()]
    for name in ("analyse_studies", "roi_overlay_png"):
        events = [event for event, logged, _ in log if logged.endswith(name)]
        assert events == ["miss", "hit"], (name, log)

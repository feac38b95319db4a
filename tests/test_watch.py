"""``render.py watch`` driven like an author: edits in a project copy, the served page follows.

A small project (two cases, a control, a figure notebook drawing one panel per case from
the case files' arrows, an article quoting the captions from the case files) is watched by
a real ``render.py watch`` process. Each edit must change the page served over HTTP,
with only the expected steps re-executed (read from ``build/manifest.json``); a broken
edit shows its error, escaped, above the last good article; SIGINT leaves no process
behind.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import weakref
from pathlib import Path

import nbformat
import pytest

from casereport.fileio import FileStamp
from casereport.render.watch import (
    SCRIPT_ID,
    PageCache,
    map_large_blocks,
    release_memory,
    served_page,
)
from tests.support.cached_project import CASE_CELLS
from tests.support.cached_project import dicom as _dicom
from tests.support.nbfactory import case_yaml, make_notebook
from tests.support.tiny_project import run_render
from tests.support.watch_session import (
    Watch,
    assert_stopped_cleanly,
    kernels_in,
    ran_steps,
)

ROOT = Path(__file__).resolve().parents[1]
WATCH_ENV = {"SOURCE_DATE_EPOCH": "1554076800"}
TITLE = "Watch test report"

CASE_YAML = """case: {case}
role: case
patient: {{age: 50, sex: F, history: test}}
panels:
  {case}1:
    kind: planar
    study: img.dcm
    views: [ANT]
    window: {{percentiles: [1, 99]}}
    caption: "Panel of case {case}, version 1."
    alt: A test panel.
annotations:
  - {{panel: {case}1, type: arrow, tip_mm: [0.5, 0.5], tail_mm: [0.1, 0.1]}}
"""

FIGURE_CELLS = [
    ("code", 'data_dir = "data"\nfigures_dir = "f"', ["parameters"]),
    (
        "code",
        "import json\nfrom pathlib import Path\nimport matplotlib.pyplot as plt\n"
        "from casereport.case import index\n"
        "figs = Path(figures_dir)\n(figs / 'panels').mkdir(parents=True, exist_ok=True)\n"
        "for spec in index(data_dir).values():\n"
        "    for panel in spec.panels:\n"
        "        pid, arrow_x = panel.panel_id, spec.annotations_for(panel.panel_id)[0].xy_mm[0]\n"
        "        fig, ax = plt.subplots(figsize=(1, 1))\n"
        "        ax.annotate('', (arrow_x, 0.5), (0.1, 0.1), arrowprops={})\n"
        "        fig.savefig(figs / 'panels' / f'{pid}.png', dpi=30, metadata={'Software': None})\n"
        "        plt.close(fig)\n"
        "        side = {'case': spec.case_id, 'arrow_x': arrow_x}\n"
        "        (figs / 'panels' / f'{pid}.json').write_text(json.dumps(side))",
        None,
    ),
]

ARTICLE_CELLS = [
    ("code", 'data_dir = "data"\nresults_dir = "r"\nfigures_dir = "f"', ["parameters"]),
    ("md", f"# {TITLE}\n\nFirst paragraph.", None),
    (
        "code",
        "import json\nfrom pathlib import Path\nfrom casereport.case import index\n"
        "cases = index(data_dir)\n"
        "for p in sorted(Path(figures_dir).glob('panels/*.json')):\n"
        "    side = json.loads(p.read_text())\n"
        "    caption = cases[side['case']].panel(p.stem).caption\n"
        "    print('panel', p.stem, caption, 'arrow at', side['arrow_x'])\n"
        "for p in sorted(Path(results_dir).glob('*/results.json')):\n"
        "    print('case', p.parent.name, 'sum', json.loads(p.read_text())['sum'])",
        None,
    ),
    ("md", "## Discussion\n\nClosing words.", None),
]


def _project(root: Path) -> Path:
    for case, offset in (("A", 0), ("B", 100), ("control", 7)):
        _dicom(root / "data" / case / "img.dcm", offset)
        text = CASE_YAML.format(case=case)
        if case == "control":
            text = case_yaml("control", "control")
        (root / "data" / case / "case.yaml").write_text(text)
    make_notebook(root / "notebooks" / "case.ipynb", CASE_CELLS)
    make_notebook(root / "notebooks" / "figure.ipynb", FIGURE_CELLS)
    make_notebook(root / "notebooks" / "article.ipynb", ARTICLE_CELLS, title=TITLE)
    return root


def edit_markdown(project: Path, index: int, text: str) -> None:
    path = project / "notebooks" / "article.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[index].cell_type == "markdown"
    nb.cells[index].source = text
    nbformat.write(nb, path)


def test_served_page_gets_script_and_escaped_error_article_file_does_not() -> None:
    article = "<html><body><p>text</p></body></html>"
    page = served_page(article, {"generation": 3, "error": None})
    assert f'<script id="{SCRIPT_ID}">' in page and "var seen = 3;" in page
    assert page.index("<p>text</p>") < page.index("<script")
    page = served_page(article, {"generation": 4, "error": "ValueError: <b>x</b> & y"})
    assert "ValueError: &lt;b&gt;x&lt;/b&gt; &amp; y" in page and "<b>x</b>" not in page
    assert page.index("render failed") < page.index("<p>text</p>") < page.index("<script")


def test_page_cache_rebuilds_on_a_new_article_or_state_only(tmp_path: Path) -> None:
    article = tmp_path / "article.html"
    article.write_text("<html><body><p>one</p></body></html>", encoding="utf-8")
    pages = PageCache(article)
    state = {"generation": 1, "error": None}
    first = pages.page(state)
    assert first == served_page(article.read_text(), state).encode()
    assert pages.page(dict(state)) is first  # same file, same state: the same bytes
    new = tmp_path / "new.html"
    new.write_text("<html><body><p>two</p></body></html>", encoding="utf-8")
    os.replace(new, article)  # as the render publishes it: a new inode
    assert b"<p>two</p>" in pages.page(state)
    failed = {"generation": 2, "error": "ValueError: x"}
    assert pages.page(failed) == served_page(article.read_text(), failed).encode()
    article.unlink()
    assert b"No article yet" in pages.page(failed)


def test_watcher_stamps_the_files_the_render_lists(tmp_path: Path) -> None:
    """The watcher's scan covers what :func:`files_below` lists in the notebooks, data and
    package folders (the render's own view of a folder), a data folder reached through a
    link included, and sees an edit in the linked folder."""
    from casereport.fileio import files_below
    from casereport.render.plan import RenderOptions
    from casereport.render.watch import Watcher

    root = tmp_path / "project"
    for rel in ("notebooks/case.ipynb", "notebooks/.ipynb_checkpoints/x.ipynb", "matplotlibrc"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    share = tmp_path / "share" / "A"  # a subject's data on a mounted share
    (share / "spect").mkdir(parents=True)
    (share / "case.yaml").write_text("subject: A\n")
    (share / "spect" / "1.dcm").write_bytes(b"\0" * 8)
    (root / "data").mkdir()
    (root / "data" / "A").symlink_to(share, target_is_directory=True)
    opts = RenderOptions(
        root=root,
        data_dir=root / "data",
        notebooks_dir=root / "notebooks",
        build_dir=root / "build",
        figures_dir=root / "figures",
    )
    watcher = Watcher(opts)
    listed = [
        *files_below(opts.notebooks_dir),
        *files_below(opts.data_dir),
        *(p for p in files_below(watcher.package) if p.suffix != ".pyc"),
        root / "matplotlibrc",
    ]
    assert sorted(watcher.seen) == sorted(str(p) for p in listed)
    assert str(root / "data" / "A" / "spect" / "1.dcm") in watcher.seen
    st = (root / "matplotlibrc").stat()
    assert watcher.seen[str(root / "matplotlibrc")] == FileStamp.of(st)
    (share / "spect" / "1.dcm").write_bytes(b"\1" * 9)
    assert watcher.changed(watcher.scan()) == [root / "data" / "A" / "spect" / "1.dcm"]


def test_release_memory_collects_cycles() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self

    gc.disable()
    try:
        ref = weakref.ref(Node())
        assert ref() is not None  # a cycle: only the collector frees it
        release_memory()
        assert ref() is None
    finally:
        gc.enable()


def test_map_large_blocks_is_taken_by_glibc() -> None:
    import ctypes

    if not hasattr(ctypes.CDLL(None), "mallopt"):
        pytest.skip("not glibc")
    assert map_large_blocks() is True


@pytest.mark.slow
def test_watch_session_follows_edits_and_stops_cleanly(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    watch = Watch(project)
    try:
        page = watch.page_after("First paragraph.")
        assert "panel A1 Panel of case A, version 1. arrow at 0.5" in page
        assert f'id="{SCRIPT_ID}"' in page
        html_file = project / "build" / "article.html"
        assert "<script" not in html_file.read_text()  # injected only into the served page
        assert ran_steps(project) == {"figure", "case A", "case B", "article", "html"}
        watch.wait(lambda: (project / "build" / "article.pdf").is_file())  # in the background
        watch.wait(lambda: len(kernels_in(project)) == 2)  # the pool, ready for the next edit

        # prose: the new text, no notebook executed (the article is spliced, not run)
        edit_markdown(project, 1, f"# {TITLE}\n\nFirst paragraph, with one more sentence.")
        page = watch.page_after("with one more sentence.")
        assert ran_steps(project) == {"html"}
        assert "Closing words." in page and "case B sum 8416" in page

        # caption of panel A1: only the article reads it (the figure draws the arrows,
        # case A reads its file's core: both are cache hits)
        yaml_a = project / "data" / "A" / "case.yaml"
        yaml_a.write_text(yaml_a.read_text().replace("version 1.", "version 2."))
        page = watch.page_after("Panel of case A, version 2.")
        assert ran_steps(project) == {"article", "html"}
        assert "Panel of case B, version 1." in page

        # an arrow of case B moved: the figure draws it; case B never reads its arrows
        yaml_b = project / "data" / "B" / "case.yaml"
        yaml_b.write_text(yaml_b.read_text().replace("tip_mm: [0.5, 0.5]", "tip_mm: [0.7, 0.5]"))
        page = watch.page_after("panel B1 Panel of case B, version 1. arrow at 0.7")
        assert ran_steps(project) == {"figure", "article", "html"}

        # a broken edit: the error (escaped) above the last good article
        good = html_file.read_bytes()
        nb_path = project / "notebooks" / "article.ipynb"
        nb = nbformat.read(nb_path, as_version=4)
        nb.cells[2].source += "\nraise ValueError('<b>broken</b> on purpose')"
        nbformat.write(nb, nb_path)
        page = watch.page_after("render failed")
        assert "ValueError: &lt;b&gt;broken&lt;/b&gt; on purpose" in page
        assert "<b>broken</b>" not in page
        assert "arrow at 0.7" in page  # the previous article, still served
        assert html_file.read_bytes() == good
        assert "ValueError: <b>broken</b> on purpose" in watch.output()  # and in the terminal

        # fixed again: the error goes away
        nb.cells[2].source = nb.cells[2].source.rsplit("\n", 1)[0]
        nbformat.write(nb, nb_path)
        watch.wait(lambda: watch.state()["error"] is None)
        assert "render failed" not in watch.get()
    finally:
        status = watch.interrupt()
    assert_stopped_cleanly(watch, status)
    build = project / "build"
    assert not list(build.glob(".staging-*")) and not (build / ".watch-pdf").exists()
    # consistent: every output the manifest lists is there with its hash, no stale PDF
    from casereport.fileio import sha256_file

    outputs = json.loads((build / "manifest.json").read_text())["outputs"]
    for out in outputs:
        assert sha256_file(project / out["path"]) == out["sha256"], out["path"]
    listed = {o["path"] for o in outputs}
    assert (build / "article.pdf").is_file() == ("build/article.pdf" in listed)

    # the last article was spliced from a cached run (prose edit): executing everything
    # anew writes the same notebook and the same HTML, byte for byte
    spliced = {n: (build / n).read_bytes() for n in ("notebooks/article.ipynb", "article.html")}
    env = {**os.environ, "SOURCE_DATE_EPOCH": WATCH_ENV["SOURCE_DATE_EPOCH"]}  # dates in the HTML
    res = subprocess.run(
        [sys.executable, str(ROOT / "render.py"), "--root", str(project), "--no-cache",
         "--html-only", "--quiet"],
        cwd=project, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert ran_steps(project) >= {"article", "figure", "case A"}
    for name, data in spliced.items():
        assert (build / name).read_bytes() == data, name


def test_sigint_stops_a_session_started_with_sigint_ignored(tmp_path: Path) -> None:
    """A session started in the background of a script (``render.py watch &``) inherits
    SIGINT ignored; SIGINT stops it all the same, with its kernels and zygote."""
    project = _project(tmp_path / "p")
    watch = Watch(project, sigint_ignored=True)
    try:
        watch.page_after("First paragraph.")
    finally:
        status = watch.interrupt()
    assert_stopped_cleanly(watch, status)


def test_watch_option_errors_exit_2_before_serving(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    res = run_render(project, "--watch", "--port", "70000")
    assert res.returncode == 2
    assert res.stderr.startswith("error:") and "--port" in res.stderr
    assert "Traceback" not in res.stderr and "serving" not in res.stdout

"""Facets of a case file: a run records the parts of ``case.yaml`` it used, and the render
checks each part's digest, so an edit elsewhere in the file does not invalidate the run.

Real case files of the project's ``data/`` (copied), the real recording of
:mod:`casereport.io.record` and the render's :class:`FileHasher`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

import casereport.io as cio
from casereport.case import index, load_case, read_case
from casereport.case.facets import CORE, facet_digests
from casereport.render.hashing import FileHasher

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def case_a(tmp_path: Path) -> Path:
    """A copy of ``data/A`` (case file and studies)."""
    shutil.copytree(ROOT / "data" / "A", tmp_path / "data" / "A")
    return tmp_path / "data" / "A" / "case.yaml"


def _read(fn: object) -> set[str]:
    """The facets recorded while calling ``fn`` (file name and facet)."""
    cio.forget_files_read()
    fn()  # type: ignore[operator]
    return {f"{p.parent.name}/{p.name}" for p in cio.files_read()}


def test_reading_records_only_the_parts_used(case_a: Path) -> None:
    spec = read_case(case_a)
    assert _read(lambda: read_case(case_a)) == {"A/case.yaml#core"}
    assert _read(lambda: spec.panel("A1").caption) == {"A/case.yaml#panels.A1.caption"}
    assert _read(lambda: spec.panel("A2").alt) == {"A/case.yaml#panels.A2.alt"}
    assert _read(lambda: spec.annotations_for("A1")) == {"A/case.yaml#panels.A1.annotations"}
    assert _read(lambda: spec.annotations) == {
        "A/case.yaml#panels.A1.annotations",
        "A/case.yaml#panels.A2.annotations",
    }
    # the image checks look at every annotation; captions stay unread
    checked = _read(lambda: load_case(case_a))
    assert {"A/case.yaml#core", "A/case.yaml#panels.A1.annotations"} <= checked
    assert not any(f.endswith((".caption", ".alt")) for f in checked)
    assert "caption" not in repr(spec) and spec.panel("A1").caption not in repr(spec)
    assert _read(lambda: index(case_a.parent.parent)) == {"A/case.yaml#core"}


def _edit(path: Path, change: object) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)  # type: ignore[operator]
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def _changed(path: Path, change: object) -> set[str]:
    before = facet_digests(path)
    _edit(path, change)
    after = facet_digests(path)
    assert before is not None and after is not None
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


def test_an_edit_changes_the_digest_of_its_facet_only(case_a: Path) -> None:
    def caption(d: dict) -> None:
        d["panels"]["A1"]["caption"] += " Edited."

    def alt(d: dict) -> None:
        d["panels"]["A2"]["alt"] += " Edited."

    def arrow(d: dict) -> None:
        first = next(a for a in d["annotations"] if a["type"] == "arrow")
        first["tip_mm"] = [first["tip_mm"][0] + 1.0, first["tip_mm"][1]]

    def window(d: dict) -> None:
        d["panels"]["A1"]["window"] = {"percentiles": [2, 98]}

    def insert_before(d: dict) -> None:  # the A1 entries get new names (annotations[i])
        d["annotations"].insert(0, dict(d["annotations"][-1]))

    assert _changed(case_a, caption) == {"panels.A1.caption"}
    assert _changed(case_a, alt) == {"panels.A2.alt"}
    panel = next(a["panel"] for a in yaml.safe_load(case_a.read_text())["annotations"])
    assert _changed(case_a, arrow) == {f"panels.{panel}.annotations"}
    assert _changed(case_a, window) == {CORE}
    moved = _changed(case_a, insert_before)
    assert moved and all(f.endswith(".annotations") for f in moved)
    text = case_a.read_text()
    before = facet_digests(case_a)
    case_a.write_text("# a comment\n" + text)
    assert facet_digests(case_a) == before  # comments and layout are in no facet


def test_an_invalid_file_has_no_facets_and_the_hasher_misses(case_a: Path) -> None:
    hasher = FileHasher()
    entry = Path(f"{case_a}#panels.A1.caption")
    good = hasher.input_digest(entry)
    assert good == facet_digests(case_a)["panels.A1.caption"]  # type: ignore[index]
    assert hasher.input_digest(Path(f"{case_a}#panels.Z9.caption")) is None
    _edit(case_a, lambda d: d["panels"]["A2"].update(caption=7))  # wrong type elsewhere
    assert facet_digests(case_a) is None
    assert hasher.input_digest(entry) is None  # re-read: the stamp changed
    assert hasher.input_digest(case_a) is not None  # the whole file is still hashed

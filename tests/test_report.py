"""casereport.report: accessible tables and figures, and prose computed from the results."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from casereport import report
from casereport.analysis.planar import PATCHINESS


def _result(lung: float, hu: float, patch: float) -> dict[str, Any]:
    """A results.json-shaped dict: case-over-control lung ratio, CT mean HU, patchiness."""
    return {
        "planar": [
            {"name": "lung / soft tissue", "case": lung, "control": 1.0, "case_over_control": lung},
            {"name": PATCHINESS, "case": patch, "control": 1.2, "case_over_control": patch / 1.2},
        ],
        "ct": {"mean_hu": hu},
        "ct_control": {"mean_hu": -846.0},
    }


@pytest.fixture
def results() -> dict[str, dict[str, Any]]:
    return {
        "A": _result(2.08, -845.0, 1.12),
        "B": _result(1.71, -845.0, 1.78),
        "C": _result(3.21, -844.0, 1.28),
    }


def test_claims_quote_the_numbers_and_pick_words_from_thresholds(results) -> None:
    text = report.discussion_claims(results)
    assert "clearly more tracer" in text and "several times" not in text
    assert "1.7\u20133.2 times" in text and "2.1\u00d7 in A" in text
    assert "within 2 HU" in text
    assert re.search(r"\(-8\d\d to -8\d\d HU\)", text), text  # not "-839–-835"
    assert "patchy in case B and diffuse" in text and "B 1.78" in text


def test_claims_follow_a_changed_result(results) -> None:
    before = report.discussion_claims(results)
    changed = copy.deepcopy(results)
    for r in changed.values():  # every lung now takes up over three times the normal
        r["planar"][0]["case_over_control"] *= 2.0
    after = report.discussion_claims(changed)
    assert after != before
    assert "several times as much tracer" in after and "3.4\u20136.4 times" in after
    changed["B"]["planar"][1]["case"] = 1.25  # B no longer patchy
    changed["B"]["planar"][1]["case_over_control"] = 1.25 / 1.2
    assert "No case shows patchy lung uptake" in report.discussion_claims(changed)
    changed["A"]["ct"]["mean_hu"] = -700.0  # denser lungs than the control
    assert "by up to 146 HU" in report.discussion_claims(changed)


def test_uptake_words_at_their_thresholds() -> None:
    assert [report.uptake_word(v) for v in (3.0, 2.99, 1.5, 1.15, 1.14)] == [
        "several times",
        "clearly more",
        "clearly more",
        "slightly more",
        "about the same",
    ]


def test_table_has_caption_scopes_and_scroll_box() -> None:
    html = report.table(["case", "value"], [["A", "<b>1</b>"]], caption="Table 9. Things")
    assert html.startswith('<div class="table-wrap" role="region" aria-label="Table 9. Things"')
    assert "<caption>Table 9. Things</caption>" in html
    assert '<th scope="col">case</th>' in html and '<th scope="row">A</th>' in html
    assert "&lt;b&gt;1&lt;/b&gt;" in html


def test_breakable_wraps_long_tokens_only_at_boundaries() -> None:
    uid = "1.2.826.0.1.3680043.8.498.7.20190401.3.3.3"
    out = report.breakable(f"short.words {uid}")
    assert out.startswith("short.words ")  # short tokens untouched
    assert out.replace("<wbr>", "") == f"short.words {uid}"
    assert all(piece.endswith(".") or piece == "3" for piece in out.split(" ")[1].split("<wbr>"))


def test_figure_alt_is_short_and_links_are_placed(tmp_path: Path) -> None:
    png = tmp_path / "f.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    links = report.panel_links({"A1": {"image": "A1.png", "figure1_box": [0.1, 0.2, 0.3, 0.4]}})
    html = report.figure_html(
        png, caption="c", alt="short", description={"A1": "long text"}, links=links
    )
    assert 'href="figures/panels/A1.png" style="left:10.000%;top:20.000%;width:30.000%' in html
    assert 'aria-describedby="figure-1-desc"' in html and re.search(
        r"<li><b>A1.</b> long text", html
    )
    with pytest.raises(ValueError, match="251 characters"):
        report.figure_html(png, caption="c", alt="x" * 251)


def test_case_output_dir_follows_the_case() -> None:
    from pathlib import Path

    assert report.case_output_dir("../data", "B") == Path("../build/cases/B")
    assert report.case_output_dir("data", "C", "out/x") == Path("out/x")


def test_check_manifest_rehashes_only_changed_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib
    import json

    monkeypatch.setenv("CASEREPORT_DERIVED_CACHE", str(tmp_path / "derived"))
    data = tmp_path / "data"
    (data / "A").mkdir(parents=True)
    files = {"A/one.dcm": b"first", "A/two.dcm": b"second"}
    for rel, body in files.items():
        (data / rel).write_bytes(body)
    digests = {rel: hashlib.sha256(body).hexdigest() for rel, body in files.items()}
    (data / "MANIFEST.json").write_text(json.dumps({"files": {**digests, "A/gone.dcm": "0"}}))
    assert report.check_manifest(data) == (3, ["A/gone.dcm"])
    assert report.check_manifest(data) == (3, ["A/gone.dcm"])  # remembered by stamp
    (data / "A" / "two.dcm").write_bytes(b"changed")  # a new stamp: hashed again
    assert report.check_manifest(data) == (3, ["A/gone.dcm", "A/two.dcm"])

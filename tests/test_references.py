"""The article's references: CSL-JSON data, formatted by citeproc-py (NLM/Vancouver), cited
in the text in the order of the list."""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path

import nbformat
import pytest

from casereport import references
from casereport.render.export import _info, citation_meta

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "article.ipynb"


def _initials(given: str) -> str:
    return "".join(part[0] for part in re.split(r"[\s.]+", given) if part)


def test_each_entry_says_what_its_csl_item_says() -> None:
    items = references.load()
    entries = references.format_entries(items)
    assert len(entries) == len(items) >= 4
    for item, entry in zip(items, entries, strict=True):
        names = ", ".join(f"{a['family']} {_initials(a['given'])}" for a in item["author"])
        assert entry.startswith(names + ". " + item["title"] + ". "), entry
        year = str(item["issued"]["date-parts"][0][0])
        assert year in entry
        if item["type"] == "article-journal":
            journal = item["container-title-short"]
            volume = item["volume"] + (f"({item['issue']})" if item.get("issue") else "")
            tail = f"{journal}. {year};{volume}"
            if item.get("page"):
                first, last = item["page"].split("-")
                same = len(os.path.commonprefix([first, last])) if len(first) == len(last) else 0
                tail += f":{first}–{last[same:]}"  # 165-167 -> 165–7, 57-60 -> 57–60
            assert entry.endswith(tail + "."), entry
        else:
            assert f"In: {item['container-title']}." in entry
            assert f"{item['publisher-place']}: {item['publisher']}; {year}." in entry


def test_vancouver_form_of_one_journal_article() -> None:
    (item,) = [i for i in references.load() if i["id"] == "sonavane2013"]
    assert references.format_entries([item]) == [
        "Sonavane ST, Marwah A, Shah H, Jaiswar R. Abnormal extraosseous activity in both lungs "
        "and stomach in pre-transplant 99mTc-MDP bone scan disappearing after renal transplant. "
        "Indian J Nucl Med. 2013;28:165–7."
    ]


def test_the_list_follows_the_data() -> None:
    items = references.load()
    changed = copy.deepcopy(items)
    changed[2]["volume"] = "29"
    changed[2]["author"][0]["family"] = "Sonawane"
    changed[2]["title"] = "A different title"
    before, after = references.format_entries(items), references.format_entries(changed)
    assert before[:2] == after[:2] and before[3:] == after[3:]
    assert after[2].startswith("Sonawane ST, ") and "A different title." in after[2]
    assert "2013;29:165–7." in after[2] and "2013;28:" not in after[2]
    swapped = references.format_entries([items[1], items[0]])
    assert swapped == [before[1], before[0]]  # numbered in the order of the data


def test_html_list_escapes_and_numbers_in_order() -> None:
    item = copy.deepcopy(references.load()[0])
    item["title"] = "Calcium <script>x</script> & bone"
    html = references.references_html([item])
    assert html.startswith('<ol class="references"><li>') and html.count("<li>") == 1
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp; bone" in html
    assert references.references_html().count("<li>") == len(references.load())


def test_every_reference_is_cited_in_order_of_first_citation() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    cited = references.cited_numbers(text)
    first = list(dict.fromkeys(cited))
    assert first == list(range(1, len(references.load()) + 1))


def test_cited_numbers_reads_lists_and_ranges() -> None:
    assert references.cited_numbers("a [2] b [1, 3] c [4–6] d [7-8], not [x] or [2a]") == [
        2, 1, 3, 4, 5, 6, 7, 8,
    ]  # fmt: skip


def test_the_meta_tags_read_the_same_file() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    info = _info(nb)
    assert info["references"] == references.load()
    refs = [c for n, c in citation_meta("t", info) if n == "citation_reference"]
    assert len(refs) == len(references.load())
    assert "citation_author=Majeed Y." in refs[0]


def test_unreadable_csl_json_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "refs.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(references.ReferenceError, match=re.escape(str(bad))):
        references.load(bad)
    bad.write_text(json.dumps([{"title": "no id"}]), encoding="utf-8")
    with pytest.raises(references.ReferenceError, match="each with an id"):
        references.load(bad)

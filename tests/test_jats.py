"""JATS 1.3 of the article: real pandoc on an HTML page shaped like nbconvert's output,
then the post-processing step, then the JATS structure check (tests/support/jats_check.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from casereport.render.jats import (
    ArticleMeta,
    OriginalArticle,
    Person,
    figure_files,
    read_meta,
    write_jats,
)
from tests.support.jats_check import ALI_REF, XLINK_HREF, jats_problems
from tests.support.original import ORIGINAL_TITLE

ROOT = Path(__file__).resolve().parents[1]
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

HTML = f"""<!DOCTYPE html><html><head><title>Tiny case report</title></head><body>
<main class="article">
<div class="cell"><div class="inner_cell"><div class="text_cell_render">
<h1 id="Tiny-case-report">Tiny case report<a class="anchor-link" href="#Tiny-case-report">¶</a></h1>
</div></div></div>
<div class="cell"><div class="text_cell_render"><h2 id="Summary">Summary<a class="anchor-link"
href="#Summary">¶</a></h2><p>Two lungs took up tracer.</p></div></div>
<div class="cell"><div class="text_cell_render"><h2 id="Findings">Findings<a class="anchor-link"
href="#Findings">¶</a></h2><p>Uptake outside bone is known [1] and needs low kidney
function [2, 3].</p></div></div>
<div class="cell"><div class="output_html"><figure><img alt="Planar view; both lungs dark."
src="data:image/png;base64,{PNG}" style="width:100%"/><figcaption><b>Figure 1.</b> (A1) Anterior
view.</figcaption><details class="provenance"><summary>Sources of panel A1</summary><table><tr>
<th>NM files</th><td><code>data/A/spot.dcm</code></td></tr></table></details></figure></div></div>
<div class="cell"><div class="output_html"><table><caption>Table 1. Measured ratios</caption>
<thead><tr><th>case</th><th>lung / soft tissue</th></tr></thead>
<tbody><tr><td>A</td><td>1.79</td></tr></tbody></table></div></div>
<div class="cell"><div class="text_cell_render"><h2 id="References">References<a
class="anchor-link" href="#References">¶</a></h2><ol><li>Elgazzar AH. Soft tissue
calcification. 2004.</li><li>Second ref.</li><li>Third <i>ref</i>.</li></ol></div></div>
</main></body></html>
"""

META = ArticleMeta(
    contributors=("The casereport maintainers",),
    licence="CC-BY-4.0",
    date="2026-12-02",
    original=OriginalArticle(
        title=ORIGINAL_TITLE,
        authors=(Person("Majeed", "Yasir"), Person("Riaz", "Saima")),
        journal="Journal of the Pakistan Medical Association",
        year=2019,
        volume="69",
        issue="4",
        keywords=("bone scan", "hypercalcaemia"),
    ),
    keywords=("bone scan", "hypercalcaemia"),
)


@pytest.fixture(scope="module")
def jats(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ET.Element]:
    tmp = tmp_path_factory.mktemp("jats")
    (tmp / "article.html").write_text(HTML, encoding="utf-8")
    out = write_jats(tmp / "article.html", tmp / "article.jats.xml", META, ["figures/figure1.tif"])
    text = out.read_text(encoding="utf-8")
    again = write_jats(tmp / "article.html", tmp / "again.xml", META, ["figures/figure1.tif"])
    assert again.read_bytes() == out.read_bytes()  # deterministic
    return text, ET.fromstring(text[text.index("<article") :])


def test_jats_is_well_formed_jats_1_3(jats: tuple[str, ET.Element]) -> None:
    text, root = jats
    ET.fromstring(text.encode())  # the whole document, declaration and DOCTYPE included
    assert "Journal Archiving and Interchange DTD v1.3 20210610" in text
    assert 'dtd-version="1.3"' in text and "data:image" not in text and "¶" not in text
    assert jats_problems(root) == []


def test_front_matter(jats: tuple[str, ET.Element]) -> None:
    meta = jats[1].find("front/article-meta")
    assert meta is not None
    assert meta.findtext("title-group/article-title") == "Tiny case report"
    assert meta.findtext("contrib-group/contrib/collab") == "The casereport maintainers"
    assert meta.find("pub-date").get("iso-8601-date") == "2026-12-02"  # type: ignore[union-attr]
    lic = meta.find("permissions/license")
    assert lic is not None and lic.get(XLINK_HREF) == "https://creativecommons.org/licenses/by/4.0/"
    assert lic.findtext(ALI_REF) == lic.get(XLINK_HREF)
    rel = meta.find("related-article")
    assert rel is not None
    assert rel.findtext("article-title") == META.original.title  # type: ignore[union-attr]
    assert [n.findtext("surname") for n in rel.iter("name")] == ["Majeed", "Riaz"]
    assert (rel.findtext("year"), rel.findtext("volume"), rel.findtext("issue")) == (
        "2019",
        "69",
        "4",
    )
    assert [k.text for k in meta.iter("kwd")] == ["bone scan", "hypercalcaemia"]
    assert meta.findtext("abstract/p") == "Two lungs took up tracer."
    assert "Summary" not in [t.text for t in jats[1].iter("title") if t not in meta.iter()]


def test_body_figure_table_and_references(jats: tuple[str, ET.Element]) -> None:
    root = jats[1]
    assert [s.findtext("title") for s in root.findall("body/sec")] == ["Findings"]
    (fig,) = root.iter("fig")
    assert fig.findtext("label") == "Figure 1"
    assert "".join(fig.find("caption").itertext()).split() == ["(A1)", "Anterior", "view."]  # type: ignore[union-attr]
    graphic = fig.find("graphic")
    assert graphic is not None and graphic.get(XLINK_HREF) == "figures/figure1.tif"
    assert graphic.get("mime-subtype") == "tiff"
    assert graphic.findtext("alt-text") == "Planar view; both lungs dark."
    assert fig.find(".//table") is None  # the provenance table stays out of the figure
    (wrap,) = root.iter("table-wrap")
    assert wrap.findtext("label") == "Table 1"
    assert "".join(wrap.find("caption").itertext()).strip() == "Measured ratios"  # type: ignore[union-attr]
    assert [td.text for td in wrap.iter("td")] == ["A", "1.79"]
    refs = root.findall("back/ref-list/ref")
    assert [r.get("id") for r in refs] == ["ref1", "ref2", "ref3"]
    assert "".join(refs[2].find("mixed-citation").itertext()) == "Third ref."  # type: ignore[union-attr]
    assert refs[2].find("mixed-citation/italic") is not None
    p = root.find("body/sec/p")
    assert p is not None
    assert [(x.get("rid"), x.text) for x in p.iter("xref")] == [
        ("ref1", "1"),
        ("ref2", "2"),
        ("ref3", "3"),
    ]
    assert " ".join("".join(p.itertext()).split()) == (
        "Uptake outside bone is known [1] and needs low kidney function [2, 3]."
    )


def test_structure_check_reports_small_defects(jats: tuple[str, ET.Element]) -> None:
    text = jats[0]

    def problems(*edits: tuple[str, str]) -> list[str]:
        broken = text
        for old, new in edits:
            assert old in broken, old
            broken = broken.replace(old, new, 1)
        return jats_problems(ET.fromstring(broken[broken.index("<article") :]))

    assert any("dtd-version=1.2" in p for p in problems(('dtd-version="1.3"', 'dtd-version="1.2"')))
    moved = problems(("<label>Figure 1</label>", ""), ("</caption>", "</caption><label>F</label>"))
    assert any("fig fig1: children" in p for p in moved), moved
    inlined = problems(('xlink:href="figures/figure1.tif"', 'xlink:href="data:,"'))
    assert any("graphic href" in p for p in inlined), inlined
    assert any("missing id ref9" in p for p in problems(('rid="ref2"', 'rid="ref9"')))
    assert any("kwd-group/kwd" in p for p in problems(("<kwd>bone scan</kwd>", "<kwd> </kwd>")))
    renamed = problems(("<kwd-group ", "<keywords "), ("</kwd-group>", "</keywords>"))
    assert any("unknown element <keywords>" in p for p in renamed), renamed
    early = problems(("<permissions>", "<kwd-group><kwd>x</kwd></kwd-group><permissions>"))
    assert any("article-meta order" in p for p in early), early


def test_read_meta_from_the_projects_citation_file(tmp_path: Path) -> None:
    meta = read_meta(ROOT / "CITATION.cff")
    assert meta.licence == "CC-BY-4.0" and meta.contributors and meta.date
    assert meta.original is not None and meta.original.year == 2019
    assert [a.family for a in meta.original.authors] == ["Majeed", "Riaz", "Hassan"]
    assert read_meta(tmp_path / "missing.cff") == ArticleMeta()


def test_figure_files_prefer_tiff_in_figure_order(tmp_path: Path) -> None:
    for name in ("figure2.png", "figure1.png", "figure1.tif", "figure10.png", "panel.png"):
        (tmp_path / name).write_bytes(b"")
    assert figure_files(tmp_path) == [
        "figures/figure1.tif",
        "figures/figure2.png",
        "figures/figure10.png",
    ]

"""A check of JATS 1.3 (Archiving) element structure for the article's XML.

Not the whole DTD: the element names the converter may write, the order JATS requires
inside ``article``, ``front``, ``article-meta``, ``body``, ``sec``, ``fig``, ``table-wrap``
and ``back``, the front matter the article must carry, and that every link resolves.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable

XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
ALI_REF = "{http://www.niso.org/schemas/ali/1.0/}license_ref"

#: JATS 1.3 elements this project's XML may hold
KNOWN = set(
    """article front body back journal-meta article-meta title-group article-title
    contrib-group contrib collab name surname given-names pub-date day month year
    permissions license license-p related-article person-group source volume issue
    abstract kwd-group kwd sec title p italic bold sup sub monospace underline sc
    list list-item fig label caption graphic inline-graphic alt-text table-wrap table
    thead tbody tfoot tr th td col colgroup xref ext-link uri boxed-text disp-quote
    preformat code styled-content break def-list def-item term def fn-group fn
    ref-list ref mixed-citation element-citation app-group app named-content
    long-desc""".split()
) | {ALI_REF}

ARTICLE_META_ORDER = [
    "article-id",
    "article-version",
    "article-categories",
    "title-group",
    "contrib-group",
    "aff",
    "author-notes",
    "pub-date",
    "volume",
    "issue",
    "history",
    "permissions",
    "self-uri",
    "related-article",
    "related-object",
    "abstract",
    "trans-abstract",
    "kwd-group",
    "funding-group",
    "custom-meta-group",
]
#: block elements allowed before the sub-sections of ``body`` / ``sec``
PARA_LEVEL = {
    "p",
    "list",
    "fig",
    "table-wrap",
    "boxed-text",
    "disp-quote",
    "preformat",
    "code",
    "def-list",
    "fn-group",
}


def _in_order(tags: list[str], order: list[str]) -> bool:
    ranks = [order.index(t) for t in tags if t in order]
    return all(t in order for t in tags) and ranks == sorted(ranks)


def _sections(elem: ET.Element, where: str) -> Iterable[str]:
    tags = [c.tag for c in elem]
    start = 1 if tags[:1] == ["title"] else 0
    seen_sec = False
    for t in tags[start:]:
        if t == "sec":
            seen_sec = True
        elif t not in PARA_LEVEL:
            yield f"{where}: <{t}> not allowed here"
        elif seen_sec:
            yield f"{where}: <{t}> after a sub-section"
    if "title" in tags[start:]:
        yield f"{where}: <title> not first"


def jats_problems(root: ET.Element) -> list[str]:
    """Structure problems of a parsed article (an empty list: fine)."""
    out: list[str] = []
    if root.tag != "article" or root.get("dtd-version") != "1.3":
        out.append(f"root <{root.tag}> dtd-version={root.get('dtd-version')}, want article 1.3")
    for e in root.iter():
        if e.tag not in KNOWN:
            out.append(f"unknown element <{e.tag}>")
    if not _in_order([c.tag for c in root], ["front", "body", "back"]):
        out.append(f"article children {[c.tag for c in root]}")
    front = root.find("front")
    if front is None or [c.tag for c in front][-1:] != ["article-meta"]:
        return out + ["front without article-meta last"]
    meta = front.find("article-meta")
    assert meta is not None
    tags = [c.tag for c in meta]
    if not _in_order(tags, ARTICLE_META_ORDER):
        out.append(f"article-meta order {tags}")
    for path in (
        "title-group/article-title",
        "contrib-group/contrib",
        "permissions/license/license-p",
        "related-article/article-title",
        "kwd-group/kwd",
    ):
        found = meta.find(path)
        if found is None or not "".join(found.itertext()).strip():
            out.append(f"article-meta/{path} missing or empty")
    body = root.find("body")
    if body is None:
        return out + ["no body"]
    out += _sections(body, "body")
    for sec in body.iter("sec"):
        if sec.find("title") is None:
            out.append(f"sec {sec.get('id')} without title")
        out += _sections(sec, f"sec {sec.get('id')}")
    for fig in root.iter("fig"):
        tags = [c.tag for c in fig]
        if (
            not _in_order(tags, ["label", "caption", "alt-text", "graphic"])
            or "graphic" not in tags
        ):
            out.append(f"fig {fig.get('id')}: children {tags}")
        for g in fig.iter("graphic"):
            href = g.get(XLINK_HREF, "")
            if not href or href.startswith("data:"):
                out.append(f"fig {fig.get('id')}: graphic href {href[:20]!r}")
            if g.find("alt-text") is None and fig.find("alt-text") is None:
                out.append(f"fig {fig.get('id')}: no alt-text")
    for wrap in root.iter("table-wrap"):
        tags = [c.tag for c in wrap]
        if not _in_order(tags, ["label", "caption", "table"]) or "table" not in tags:
            out.append(f"table-wrap {wrap.get('id')}: children {tags}")
    for g in root.iter("inline-graphic"):
        if g.get(XLINK_HREF, "").startswith("data:"):
            out.append("inline-graphic with inlined data")
    back = root.find("back")
    refs = back.findall("ref-list/ref") if back is not None else []
    for ref in refs:
        tags = [c.tag for c in ref]
        if not _in_order(tags, ["label", "mixed-citation", "element-citation"]) or len(tags) < 2:
            out.append(f"ref {ref.get('id')}: children {tags}")
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    if len(ids) != len(set(ids)):
        out.append("duplicate ids")
    for x in root.iter("xref"):
        if x.get("rid") not in ids:
            out.append(f"xref to missing id {x.get('rid')}")
    return out

"""JATS 1.3 XML (Archiving and Interchange) of the rendered article.

pandoc (the binary shipped in the ``pypandoc-binary`` wheel) converts ``article.html`` to
JATS; :func:`postprocess` then makes it a journal article:

- front: title, contributors, publication date, licence, the citation of the original
  report (``related-article``), its keywords, and the "Summary" section as the abstract
  (metadata from ``CITATION.cff``, see :func:`read_meta`);
- body: the sections without the HTML's heading anchors;
- each figure with a label, its caption and alt text, its graphic pointing at a file of
  the package (``figures/figure1.tif``) instead of the inlined image;
- each table with a label and its caption;
- the numbered reference list as ``back/ref-list``, and ``[n]`` in the text as links to it.

Same HTML and metadata, same bytes.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from casereport.case.parse import parse_yaml
from casereport.errors import RenderError

XLINK = "http://www.w3.org/1999/xlink"
ALI = "http://www.niso.org/schemas/ali/1.0/"
MML = "http://www.w3.org/1998/Math/MathML"
for _prefix, _uri in (("xlink", XLINK), ("ali", ALI), ("mml", MML)):
    ET.register_namespace(_prefix, _uri)

DOCTYPE = (
    '<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and Interchange '
    'DTD v1.3 20210610//EN" "JATS-archivearticle1-3.dtd">'
)
#: licence (SPDX id) -> (URL, sentence) for the article text
LICENCES = {
    "CC-BY-4.0": (
        "https://creativecommons.org/licenses/by/4.0/",
        "This article is distributed under the Creative Commons Attribution 4.0 "
        "International licence (CC BY 4.0).",
    ),
}
#: file name of the JATS XML in build/ and in the MECA package
JATS_NAME = "article.jats.xml"
_CITE = re.compile(r"\[(\d+(?:\s*[,\u2013-]\s*\d+)*)\]")


@dataclass(frozen=True)
class Person:
    """An author of the original article."""

    family: str
    given: str


@dataclass(frozen=True)
class OriginalArticle:
    """The published case report this article regenerates."""

    title: str
    authors: tuple[Person, ...]
    journal: str
    year: int
    volume: str = ""
    issue: str = ""
    month: int | None = None
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class ArticleMeta:
    """Front-matter facts that the HTML does not carry (all optional)."""

    contributors: tuple[str, ...] = ()
    licence: str | None = None
    date: str | None = None  # ISO yyyy-mm-dd
    original: OriginalArticle | None = None
    keywords: tuple[str, ...] = ()


def read_meta(citation: Path) -> ArticleMeta:
    """Front matter from ``CITATION.cff``: authors, the CC licence, release date, and the
    ``references`` entry of type ``article`` (the original) with its keywords.

    A missing file gives an empty :class:`ArticleMeta`.
    """
    if not citation.is_file():
        return ArticleMeta()
    try:
        cff: dict[str, Any] = parse_yaml(citation.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise RenderError(citation, f"not valid YAML: {exc}") from None

    def name(a: dict[str, Any]) -> str:
        return str(a.get("name") or f"{a.get('given-names', '')} {a.get('family-names', '')}")

    licences = cff.get("license") or []
    licences = [licences] if isinstance(licences, str) else licences
    original = None
    for ref in cff.get("references") or []:
        if ref.get("type") == "article":
            original = OriginalArticle(
                title=str(ref["title"]),
                authors=tuple(
                    Person(str(a.get("family-names", "")), str(a.get("given-names", "")))
                    for a in ref.get("authors", [])
                ),
                journal=str(ref.get("journal", "")),
                year=int(ref["year"]),
                volume=str(ref.get("volume", "")),
                issue=str(ref.get("issue", "")),
                month=int(ref["month"]) if ref.get("month") else None,
                keywords=tuple(str(k) for k in ref.get("keywords", [])),
            )
            break
    return ArticleMeta(
        contributors=tuple(name(a).strip() for a in cff.get("authors", [])),
        licence=next((x for x in licences if x in LICENCES), None),
        date=str(cff["date-released"]) if cff.get("date-released") else None,
        original=original,
        keywords=original.keywords if original else (),
    )


_DATA_URI = re.compile(r"""(\s(?:src|href)=["'])data:[^"']*(["'])""")


def figure_files(folder: Path) -> list[str]:
    """Hrefs of the figure files, in figure order: ``figures/figureN.tif`` (or ``.png``),
    then the supplementary ``figures/figureSN.*``."""
    found: dict[tuple[int, int], str] = {}
    for ext in ("png", "tif"):  # TIFF, the journals' format, wins
        for p in folder.glob(f"figure*.{ext}") if folder.is_dir() else []:
            m = re.fullmatch(r"figure(S?)(\d+)", p.stem)
            if m:
                found[(1 if m.group(1) else 0, int(m.group(2)))] = f"figures/{p.name}"
    return [found[n] for n in sorted(found)]


def pandoc_jats(html: Path) -> str:
    """JATS as pandoc writes it from ``html`` (div wrappers ignored, standalone).

    Inlined images are cut to an empty ``data:,`` first (the JATS points at files
    instead), which spares pandoc megabytes of base64.
    """
    import pypandoc

    try:
        text = _DATA_URI.sub(r"\1data:,\2", html.read_text(encoding="utf-8"))
        return str(
            pypandoc.convert_text(
                text, "jats_archiving", format="html-native_divs", extra_args=["-s"]
            )
        )
    except (RuntimeError, OSError) as exc:
        raise RenderError(html, f"pandoc could not convert the HTML to JATS: {exc}") from None


# ----------------------------------------------------------------------------- helpers
def _el(tag: str, text: str | None = None, attrib: dict[str, str] | None = None) -> ET.Element:
    e = ET.Element(tag, attrib or {})
    e.text = text
    return e


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    e = ET.SubElement(parent, tag, {k.replace("_", "-"): v for k, v in attrib.items()})
    e.text = text
    return e


def _text(e: ET.Element) -> str:
    return " ".join("".join(e.itertext()).split())


def _parents(root: ET.Element) -> dict[ET.Element, ET.Element]:
    return {c: p for p in root.iter() for c in p}


def _remove_keep_tail(parent: ET.Element, child: ET.Element) -> None:
    """Remove ``child`` but keep the text that follows it."""
    tail = child.tail or ""
    i = list(parent).index(child)
    if tail:
        if i == 0:
            parent.text = (parent.text or "") + tail
        else:
            prev = parent[i - 1]
            prev.tail = (prev.tail or "") + tail
    parent.remove(child)


def _strip_anchors(root: ET.Element) -> None:
    """Drop the pilcrow links nbconvert puts after every heading."""
    parents = _parents(root)
    for x in list(root.iter("xref")):
        if _text(x) == "¶":
            _remove_keep_tail(parents[x], x)
    for t in root.iter("title"):
        if t.text:
            t.text = " ".join(t.text.split()) if len(t) == 0 else t.text.lstrip()
        if len(t):
            last = t[-1]
            last.tail = (last.tail or "").rstrip() or None


def _unwrap_title_section(body: ET.Element, title: str) -> None:
    """nbconvert's ``<h1>`` becomes one section around everything: keep its content only."""
    secs = body.findall("sec")
    if len(secs) != 1 or len(body) != 1:
        return
    sec = secs[0]
    head = sec.find("title")
    if head is None or _text(head) != title:
        return
    children = [c for c in sec if c is not head]
    body.remove(sec)
    body.extend(children)


def _label(container: ET.Element, word: str, number: int) -> None:
    """Move ``Figure 1.`` / ``Table 1.`` from the start of the caption into ``<label>``
    (``WORD NUMBER`` when the caption does not start with one)."""
    pattern = rf"(?:Supplementary )?{word} S?\d+[.:]?"  # also "Supplementary Figure S1."
    caption = container.find("caption")
    label_text = None
    p = caption.find("p") if caption is not None else None
    if p is not None:
        head = p[0] if len(p) and not (p.text or "").strip() else None
        if head is not None and head.tag == "bold" and re.fullmatch(pattern, _text(head)):
            label_text = _text(head).rstrip(".:")
            p.text = (head.tail or "").lstrip()
            p.remove(head)
        else:
            m = re.match(rf"\s*({pattern})\s*", p.text or "")
            if m:
                label_text = m.group(1).rstrip(".:")
                p.text = (p.text or "")[m.end() :]
    label = _el("label", label_text or f"{word} {number}")
    label.tail = container.text
    container.insert(0, label)
    container.text = "\n"


def _graphic(fig: ET.Element) -> None:
    """One ``<graphic>`` child with the image's alt text and, from a list in the figure (the
    HTML's long image description), its ``<long-desc>``."""
    if fig.find("graphic") is not None:
        return
    image = next(fig.iter("inline-graphic"), None)
    if image is None:
        return
    graphic = _el("graphic", None, dict(image.attrib))
    alt = image.find("alt-text")
    if alt is not None:
        graphic.append(alt)
    items = next(fig.iter("list"), None)
    if items is not None:
        text = " ".join(_text(i) for i in items.findall("list-item") if _text(i))
        if text:
            _sub(graphic, "long-desc", text)
    graphic.tail = "\n"
    fig.append(graphic)


def _figures(body: ET.Element, hrefs: Sequence[str]) -> None:
    """Id, label and file of each figure; images still inlined elsewhere are dropped."""
    for n, fig in enumerate(body.iter("fig"), start=1):
        fig.set("id", fig.get("id") or f"fig{n}")
        _graphic(fig)
        for extra in [c for c in fig if c.tag not in ("caption", "graphic", "alt-text")]:
            fig.remove(extra)  # e.g. the HTML's per-panel source tables (in the appendix too)
        _label(fig, "Figure", n)
        for g in fig.iter("graphic"):
            if n <= len(hrefs):
                g.set(f"{{{XLINK}}}href", hrefs[n - 1])
                ext = Path(hrefs[n - 1]).suffix.lower().lstrip(".")
                g.set("mimetype", "image")
                g.set("mime-subtype", {"tif": "tiff", "jpg": "jpeg"}.get(ext, ext))
    parents = _parents(body)
    for tag in ("graphic", "inline-graphic"):
        for g in list(body.iter(tag)):
            if g.get(f"{{{XLINK}}}href", "").startswith("data:"):
                _remove_keep_tail(parents[g], g)


def _screen_only(root: ET.Element) -> None:
    """Drop what the HTML marks as screen-only, and unwrap links to inlined data."""
    parents = _parents(root)
    for e in list(root.iter("named-content")):
        if e.get("content-type") == "screen-only":
            _remove_keep_tail(parents[e], e)
    for link in list(root.iter("ext-link")):
        if link.get(f"{{{XLINK}}}href", "").startswith("data:"):
            parent = parents[link]
            i = list(parent).index(link)
            words = _text(link) + (link.tail or "")
            if i == 0:
                parent.text = (parent.text or "") + words
            else:
                parent[i - 1].tail = (parent[i - 1].tail or "") + words
            parent.remove(link)


def _xref_types(root: ET.Element) -> None:
    kinds = {e.get("id"): {"fig": "fig", "table-wrap": "table"}.get(e.tag) for e in root.iter()}
    for x in root.iter("xref"):
        kind = kinds.get(x.get("rid"))
        if kind and not x.get("ref-type"):
            x.set("ref-type", kind)


def _tables(body: ET.Element) -> None:
    for n, wrap in enumerate(body.iter("table-wrap"), start=1):
        wrap.set("id", wrap.get("id") or f"table{n}")
        if wrap.find("caption") is not None:
            _label(wrap, "Table", n)


def _references(body: ET.Element, back: ET.Element) -> dict[str, str]:
    """Move the "References" section's numbered list into ``back/ref-list``."""
    parents = _parents(body)
    for sec in list(body.iter("sec")):
        head = sec.find("title")
        items = sec.find("list")
        if head is None or items is None or _text(head).lower() != "references":
            continue
        ref_list = _sub(back, "ref-list")
        ref_list.text = "\n"
        _sub(ref_list, "title", _text(head)).tail = "\n"
        ids = {}
        for n, item in enumerate(items.findall("list-item"), start=1):
            ref = _sub(ref_list, "ref", id=f"ref{n}")
            ref.tail = "\n"
            _sub(ref, "label", str(n))
            cite = _sub(ref, "mixed-citation", publication_type="other")
            p = item.find("p")
            if p is not None:
                cite.text = p.text
                cite.extend(list(p))
            ids[str(n)] = f"ref{n}"
        parents[sec].remove(sec)
        return ids
    return {}


def _link_citations(elem: ET.Element, ids: dict[str, str]) -> None:
    """``[1]`` / ``[2, 3]`` in running text -> ``[<xref ref-type="bibr" rid="ref1">1</xref>]``."""

    def split(text: str) -> tuple[str, list[ET.Element]]:
        head, made = "", list[ET.Element]()
        pos = 0
        for m in _CITE.finditer(text):
            nums = re.findall(r"\d+", m.group(1))
            if not all(n in ids for n in nums):
                continue
            seg = text[pos : m.start()] + "["
            if made:
                made[-1].tail = (made[-1].tail or "") + seg
            else:
                head += seg
            inner = m.group(1)
            cursor = 0
            for nm in re.finditer(r"\d+", inner):
                sep = inner[cursor : nm.start()]
                if sep:
                    made[-1].tail = (made[-1].tail or "") + sep
                x = _el("xref", nm.group(0), {"ref-type": "bibr", "rid": ids[nm.group(0)]})
                made.append(x)
                cursor = nm.end()
            made[-1].tail = "]"
            pos = m.end()
        if not made:
            return text, []
        made[-1].tail = (made[-1].tail or "") + text[pos:]
        return head, made

    for child in list(elem):
        if child.tag not in ("title", "ref-list", "xref", "monospace", "table-wrap"):
            _link_citations(child, ids)
        if child.tail:
            child.tail, made = split(child.tail)
            i = list(elem).index(child)
            for k, x in enumerate(made):
                elem.insert(i + 1 + k, x)
    if elem.text:
        elem.text, made = split(elem.text)
        for k, x in enumerate(made):
            elem.insert(k, x)


def _abstract(body: ET.Element) -> ET.Element | None:
    """The top-level "Summary" (or "Abstract") section, taken out of the body."""
    for sec in body.findall("sec"):
        head = sec.find("title")
        if head is not None and _text(head).lower() in ("summary", "abstract"):
            body.remove(sec)
            sec.tag = "abstract"
            sec.attrib.clear()
            sec.tail = "\n"
            return sec
    return None


def _front(meta_el: ET.Element, meta: ArticleMeta, abstract: ET.Element | None) -> None:
    """Rebuild ``article-meta`` in the order JATS requires."""
    title_group = meta_el.find("title-group")
    meta_el.clear()
    meta_el.text = "\n"
    if title_group is not None:
        title_group.tail = "\n"
        meta_el.append(title_group)
    if meta.contributors:
        group = _sub(meta_el, "contrib-group")
        group.tail = "\n"
        for who in meta.contributors:
            _sub(_sub(group, "contrib", contrib_type="author"), "collab", who)
    if meta.date and re.fullmatch(r"\d{4}-\d{2}-\d{2}", meta.date):
        y, m, d = meta.date.split("-")
        date = _sub(
            meta_el,
            "pub-date",
            publication_format="electronic",
            date_type="pub",
            iso_8601_date=meta.date,
        )
        date.tail = "\n"
        _sub(date, "day", d)
        _sub(date, "month", m)
        _sub(date, "year", y)
    if meta.licence:
        url, sentence = LICENCES[meta.licence]
        perm = _sub(meta_el, "permissions")
        perm.tail = "\n"
        lic = _sub(perm, "license", license_type="open-access")
        lic.set(f"{{{XLINK}}}href", url)
        _sub(lic, f"{{{ALI}}}license_ref", url)
        _sub(lic, "license-p", sentence)
    if meta.original:
        _related(meta_el, meta.original)
    if abstract is not None:
        meta_el.append(abstract)
    if meta.keywords:
        kwds = _sub(meta_el, "kwd-group", kwd_group_type="author")
        kwds.tail = "\n"
        for k in meta.keywords:
            _sub(kwds, "kwd", k)


def _related(meta_el: ET.Element, o: OriginalArticle) -> None:
    """The citation of the original report, as the companion article this one reproduces."""
    rel = _sub(meta_el, "related-article", related_article_type="companion", id="original")
    rel.tail = "\n"
    rel.text = "A reproduction of: "
    group = _sub(rel, "person-group", person_group_type="author")
    for a in o.authors:
        name = _sub(group, "name")
        _sub(name, "surname", a.family)
        _sub(name, "given-names", a.given)
    group.tail = ". "
    _sub(rel, "article-title", o.title).tail = ". "
    _sub(rel, "source", o.journal).tail = ". "
    _sub(rel, "year", str(o.year)).tail = ";" if o.volume else "."
    if o.volume:
        _sub(rel, "volume", o.volume).tail = f"({o.issue})." if not o.issue else "("
        if o.issue:
            _sub(rel, "issue", o.issue).tail = ")."


def postprocess(jats: str, meta: ArticleMeta, figures: Sequence[str] = ()) -> str:
    """Turn pandoc's JATS into the article's JATS 1.3 (see the module docstring).

    Args:
        jats: pandoc's standalone ``jats_archiving`` output.
        meta: front-matter facts.
        figures: href of the file of each figure, in order (e.g. ``figures/figure1.tif``).
    """
    start = jats.find("<article")
    root = ET.fromstring(jats[start:])
    root.set("dtd-version", "1.3")
    root.set("article-type", "case-report")
    root.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    front = root.find("front")
    body = root.find("body")
    back = root.find("back")
    if front is None or body is None:
        raise RenderError("article.jats.xml", "pandoc wrote no front or body")
    if back is None:
        back = _sub(root, "back")
    journal_meta = front.find("journal-meta")
    if journal_meta is not None and not _text(journal_meta):
        front.remove(journal_meta)  # optional in the Archiving tag set; nothing to say
    meta_el = front.find("article-meta")
    if meta_el is None:
        meta_el = _sub(front, "article-meta")
    title_el = meta_el.find("title-group/article-title")
    title = _text(title_el) if title_el is not None else ""
    _strip_anchors(body)
    _unwrap_title_section(body, title)
    _screen_only(body)
    _figures(body, figures)
    _tables(body)
    _xref_types(body)
    ids = _references(body, back)
    if ids:
        _link_citations(body, ids)
    _front(meta_el, meta, _abstract(body))
    if len(back) == 0:
        root.remove(back)
    text = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="utf-8"?>\n{DOCTYPE}\n{text}\n'


def write_jats(html: Path, output: Path, meta: ArticleMeta, figures: Sequence[str] = ()) -> Path:
    """Write ``output`` (JATS 1.3) from the rendered ``html``."""
    text = postprocess(pandoc_jats(html), meta, figures)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    return output

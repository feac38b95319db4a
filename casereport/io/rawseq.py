"""A small reader for not-yet-converted sequences (explicit VR little endian).

pydicom turns a sequence into a :class:`~pydicom.sequence.Sequence` of full
:class:`~pydicom.dataset.Dataset` items on first access, which costs more than the rest
of a whole-body load's header handling. The view names of a planar NM object only need a
few short text values from the Detector Information Sequence, so this module walks the
raw bytes once and returns each item as ``{tag: (VR, value)}``.

It accepts only what it fully understands (explicit VR little endian, known VRs,
well-formed items with defined or undefined length, no repeated tags); anything else
gives None and the caller goes through pydicom as before, so results and errors are
those of pydicom's reading.
"""

from __future__ import annotations

import struct
from typing import TypeAlias

from pydicom.dataelem import RawDataElement
from pydicom.valuerep import EXPLICIT_VR_LENGTH_16, EXPLICIT_VR_LENGTH_32

#: One sequence item: tag -> (VR, value bytes, or the items of a nested sequence).
RawItem: TypeAlias = "dict[int, tuple[str, bytes | list[RawItem]]]"

_LONG_VRS = frozenset(v.value for v in EXPLICIT_VR_LENGTH_32)
_SHORT_VRS = frozenset(v.value for v in EXPLICIT_VR_LENGTH_16)
_ITEM = 0xFFFEE000
_ITEM_END = 0xFFFEE00D
_SEQUENCE_END = 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
_TAG_LENGTH = struct.Struct("<HHL")
_EXPLICIT_HEAD = struct.Struct("<HH2sH")
_LONG_LENGTH = struct.Struct("<L")

#: Text VRs whose raw bytes are the value (see :func:`casereport.io.common.text`).
_ASCII_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI"})
_CHARSET_VRS = frozenset({"LO", "SH", "PN", "LT", "ST", "UT", "UC"})
_SPECIFIC_CHARACTER_SET = 0x00080005


class Unsupported(Exception):
    """The bytes hold something this reader leaves to pydicom."""


def raw_sequence_items(elem: object) -> list[RawItem] | None:
    """The items of a raw, explicit VR little endian SQ element, or None.

    None when ``elem`` is not such an element (already converted, implicit VR, big
    endian, another VR) or its bytes hold anything this reader does not accept.
    """
    if (
        not isinstance(elem, RawDataElement)
        or elem.VR != "SQ"
        or elem.is_implicit_VR
        or not elem.is_little_endian
        or not isinstance(elem.value, bytes)
    ):
        return None
    buf = elem.value
    try:
        items, _ = _items(buf, 0, len(buf), undefined=False)
    except (Unsupported, struct.error):
        return None
    return items


def _items(buf: bytes, pos: int, end: int, *, undefined: bool) -> tuple[list[RawItem], int]:
    """Items from ``pos``: up to ``end`` (defined length) or the delimiter (undefined)."""
    items: list[RawItem] = []
    while undefined or pos < end:
        if pos + 8 > end:
            raise Unsupported("sequence runs past its end")
        group, el, length = _TAG_LENGTH.unpack_from(buf, pos)
        tag = group << 16 | el
        pos += 8
        if tag == _SEQUENCE_END:
            return items, pos
        if tag != _ITEM:
            raise Unsupported("expected an item tag")
        if length == _UNDEFINED:
            item, pos = _elements(buf, pos, end, undefined=True)
        else:
            stop = pos + length
            if stop > end:
                raise Unsupported("item runs past the sequence end")
            item, _ = _elements(buf, pos, stop, undefined=False)
            pos = stop
        items.append(item)
    return items, pos


def _elements(buf: bytes, pos: int, end: int, *, undefined: bool) -> tuple[RawItem, int]:
    """Elements of one item from ``pos`` up to ``end`` or the item delimiter."""
    item: RawItem = {}
    while undefined or pos < end:
        if pos + 8 > end:
            raise Unsupported("item runs past its end")
        group, el, vr_bytes, short_length = _EXPLICIT_HEAD.unpack_from(buf, pos)
        tag = group << 16 | el
        if tag == _ITEM_END and undefined:
            return item, pos + 8
        if group == 0xFFFE or tag in item:
            raise Unsupported("delimiter out of place or repeated tag")
        try:
            vr = vr_bytes.decode("ascii")
        except UnicodeDecodeError:
            raise Unsupported("VR is not text") from None
        if vr in _LONG_VRS:
            if pos + 12 > end:
                raise Unsupported("element header runs past the item end")
            (length,) = _LONG_LENGTH.unpack_from(buf, pos + 8)
            pos += 12
        elif vr in _SHORT_VRS:
            length = short_length
            pos += 8
        else:
            raise Unsupported(f"unknown VR {vr!r}")
        if length == _UNDEFINED:
            if vr != "SQ":
                raise Unsupported("undefined length outside a sequence")
            nested, pos = _items(buf, pos, end, undefined=True)
            item[tag] = (vr, nested)
            continue
        stop = pos + length
        if stop > end:
            raise Unsupported("value runs past the item end")
        if vr == "SQ":
            item[tag] = (vr, _items(buf, pos, stop, undefined=False)[0])
        else:
            item[tag] = (vr, buf[pos:stop])
        pos = stop
    if undefined:
        raise Unsupported("no item delimiter")
    return item, pos


def raw_text(item: RawItem, tag: int) -> str:
    """A text value of ``item`` as :func:`casereport.io.common.text` reads it; '' if absent.

    Raises:
        Unsupported: a VR or character set that text() would hand to pydicom.
    """
    entry = item.get(tag)
    if entry is None:
        return ""
    vr, value = entry
    if not isinstance(value, bytes):
        raise Unsupported("a sequence, not text")
    if vr in _CHARSET_VRS:
        if _SPECIFIC_CHARACTER_SET in item:
            raise Unsupported("own character set")
    elif vr not in _ASCII_VRS:
        raise Unsupported(f"VR {vr} is not text")
    try:
        s = value.decode("ascii")
    except UnicodeDecodeError:
        raise Unsupported("not ASCII") from None
    return s.rstrip(" \x00").strip() if vr != "PN" else s.rstrip(" \x00")


def raw_sequence(item: RawItem, tag: int) -> list[RawItem] | None:
    """The items of a nested sequence of ``item``; None if absent.

    Raises:
        Unsupported: the element is not a sequence.
    """
    entry = item.get(tag)
    if entry is None:
        return None
    vr, value = entry
    if vr != "SQ" or isinstance(value, bytes):
        raise Unsupported("not a sequence")
    return value

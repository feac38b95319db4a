"""casereport.io.rawseq: the raw sequence reader gives the views pydicom's reading gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from casereport.io.planar import _DetectorItems, _view_from_code_seq
from casereport.io.rawseq import raw_sequence_items
from tests.support import dicom_factory as f


def _code(value: str, meaning: str) -> Dataset:
    c = Dataset()
    c.CodeValue = value
    c.CodingSchemeDesignator = "SCT"
    c.CodeMeaning = meaning
    return c


def _with_items(items: list[Dataset], *, undefined: bool) -> Dataset:
    ds = f.nm_wholebody(seed=1)
    ds.DetectorInformationSequence = items
    ds.DetectorInformationSequence.is_undefined_length = undefined
    for it in ds.DetectorInformationSequence:
        it.is_undefined_length_sequence_item = undefined
        if "ViewCodeSequence" in it:
            it.ViewCodeSequence.is_undefined_length = undefined
            for c in it.ViewCodeSequence:
                c.is_undefined_length_sequence_item = undefined
    return ds


def _items() -> list[Dataset]:
    """Items covering code values, meanings only, empty and absent code sequences."""
    out = []
    for codes in (
        [_code("399321004", "Anterior projection")],
        [_code("999", "left posterior oblique view")],
        [_code("999", "ANT/POST")],
        [],
        None,
    ):
        it = Dataset()
        it.PixelSpacing = [2.0, 2.0]
        if codes is not None:
            it.ViewCodeSequence = codes
        out.append(it)
    return out


def _views(path: Path) -> tuple[list[str | None], list[str | None], bool]:
    """(views read raw, views read by pydicom, whether the raw reader accepted the file)."""
    ds = dcmread(path, stop_before_pixels=True)
    accepted = raw_sequence_items(ds.get_item("DetectorInformationSequence")) is not None
    items = _DetectorItems(ds)
    fast = [items.view(i) for i in range(len(items))]
    slow = [_view_from_code_seq(it) for it in dcmread(path).DetectorInformationSequence]
    return fast, slow, accepted


@pytest.mark.parametrize("undefined", [False, True])
def test_raw_views_match_pydicom(tmp_path: Path, undefined: bool) -> None:
    path = f.save(_with_items(_items(), undefined=undefined), tmp_path / "wb.dcm")
    fast, slow, accepted = _views(path)
    assert accepted
    assert fast == slow == ["ANT", "LPO", None, None, None]


@pytest.mark.parametrize("syntax", ["implicit", "bigendian"])
def test_other_syntaxes_go_through_pydicom(tmp_path: Path, syntax: str) -> None:
    path = f.save(_with_items(_items(), undefined=False), tmp_path / "wb.dcm", syntax)
    fast, slow, accepted = _views(path)
    assert not accepted
    assert fast == slow


def test_non_ascii_meaning_goes_through_pydicom(tmp_path: Path) -> None:
    ds = _with_items([Dataset()], undefined=False)
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.DetectorInformationSequence[0].ViewCodeSequence = [_code("999", "Vue antérieure ANT")]
    fast, slow, accepted = _views(f.save(ds, tmp_path / "wb.dcm"))
    assert accepted  # the sequence is read raw; the one code meaning falls back
    assert fast == slow == ["ANT"]


def test_malformed_bytes_are_refused(tmp_path: Path) -> None:
    path = f.save(_with_items(_items(), undefined=False), tmp_path / "wb.dcm")
    ds = dcmread(path, stop_before_pixels=True)
    raw = ds.get_item("DetectorInformationSequence")
    assert raw_sequence_items(raw._replace(value=raw.value[:-3])) is None
    assert raw_sequence_items(raw._replace(value=b"\x00" * 8)) is None

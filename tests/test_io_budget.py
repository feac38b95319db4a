"""Hostile headers cost nothing: pixel sizes are checked before anything is decoded."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest

from casereport.errors import PixelDataError
from casereport.io import load
from casereport.io.pixels import MAX_PIXEL_BYTES, MAX_PIXEL_BYTES_ENV, max_pixel_bytes
from tests.support import dicom_factory as fac

ROOT = Path(__file__).resolve().parents[1]
#: address-space limit of the child processes: far below what the hostile headers ask for
CHILD_LIMIT_BYTES = 3 << 30


def _inflate(path: Path, rows: int, cols: int, frames: int | None = None) -> Path:
    """Rewrite the header of ``path`` to declare a larger matrix (pixel data unchanged)."""
    ds = pydicom.dcmread(path)
    ds.Rows, ds.Columns = rows, cols
    if frames is not None:
        ds.NumberOfFrames = frames
    ds.save_as(path)
    return path


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_LIMIT_BYTES, CHILD_LIMIT_BYTES))


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "casereport", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        preexec_fn=_limited,
    )


def test_default_ceiling_is_well_under_2_gb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MAX_PIXEL_BYTES_ENV, raising=False)
    assert max_pixel_bytes() == MAX_PIXEL_BYTES <= 1 << 30
    monkeypatch.setenv(MAX_PIXEL_BYTES_ENV, "12345")
    assert max_pixel_bytes() == 12345


@pytest.mark.parametrize("frames", [1, 2])
def test_rle_file_declaring_65535_squared_is_refused_before_decoding(
    tmp_path: Path, frames: int
) -> None:
    views = ("ANT", "POST")[:frames]
    path = fac.save(fac.nm_planar(views=views), tmp_path / "big.dcm", "rle")
    _inflate(path, 65535, 65535)
    assert path.stat().st_size < 100_000
    with pytest.raises(PixelDataError, match=r"\[Rows\]: header declares 65535 x 65535"):
        load(path)
    for cmd in (("inspect", str(path)), ("view", str(path), "-o", str(tmp_path / "v.png"))):
        done = _cli(*cmd)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert "header declares 65535 x 65535" in done.stderr and "over the limit" in done.stderr
    assert not (tmp_path / "v.png").exists()


def test_compressed_size_must_be_plausible_under_the_ceiling(tmp_path: Path) -> None:
    path = fac.save(fac.nm_planar(shape=(64, 32)), tmp_path / "a.dcm", "rle")
    assert load(path).views[0].shape == (64, 32)
    _inflate(path, 4000, 4000)  # 32 MB declared, a few kB stored
    with pytest.raises(PixelDataError, match=r"holds \d+ bytes of compressed pixel data"):
        load(path)


def test_ceiling_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = fac.save(fac.nm_planar(shape=(64, 32)), tmp_path / "a.dcm")
    monkeypatch.setenv(MAX_PIXEL_BYTES_ENV, str(64 * 32 * 6 - 1))  # uint16 + float32
    with pytest.raises(PixelDataError, match=f"raise it with {MAX_PIXEL_BYTES_ENV}"):
        load(path)
    monkeypatch.setenv(MAX_PIXEL_BYTES_ENV, str(64 * 32 * 6))
    assert load(path).views[0].shape == (64, 32)


def test_ct_volume_is_budgeted_before_it_is_allocated(tmp_path: Path) -> None:
    for path in fac.save_series(fac.ct_series(3), tmp_path / "ct"):
        _inflate(path, 60000, 60000)
    with pytest.raises(PixelDataError, match=r"_0001.dcm \[Rows\]: header declares 60000"):
        load(tmp_path / "ct", modality="CT")

"""File helpers of :mod:`casereport.fileio`: stat stamps and folder listings."""

from __future__ import annotations

import os
from pathlib import Path

from casereport.fileio import FileStamp, StatHasher, file_stamp


def test_file_stamp_is_size_mtime_and_inode(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_bytes(b"12345")
    os.utime(f, ns=(1_000_000_001, 1_554_076_800_123_456_789))
    stamp = file_stamp(f)
    assert stamp == FileStamp(5, 1_554_076_800_123_456_789, f.stat().st_ino)
    assert stamp is not None and stamp.as_list() == [5, 1_554_076_800_123_456_789, stamp.inode]
    link = tmp_path / "link"
    link.symlink_to(f)
    assert file_stamp(link) == stamp  # links followed
    assert file_stamp(tmp_path / "missing") is None
    assert file_stamp(tmp_path) is None  # a folder has no file stamp


def test_file_stamp_moves_on_a_replace_with_the_same_size_and_time(tmp_path: Path) -> None:
    f, new = tmp_path / "a.txt", tmp_path / "new.txt"
    f.write_bytes(b"one")
    new.write_bytes(b"two")
    st = f.stat()
    os.utime(new, ns=(st.st_atime_ns, st.st_mtime_ns))
    before = file_stamp(f)
    os.replace(new, f)  # as editors and atomic writes save: same size and time, new inode
    after = file_stamp(f)
    assert before is not None and after is not None
    assert (after.size, after.mtime_ns) == (before.size, before.mtime_ns)
    assert after != before


def test_stat_hasher_hashes_again_only_when_the_stamp_moves(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_bytes(b"one")
    table = tmp_path / "stat.json"
    hasher = StatHasher(table)
    first = hasher.sha256(f)
    hasher.save()
    again = StatHasher(table)
    st = f.stat()
    f.write_bytes(b"two")  # same size, same inode; the time is set back below
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert again.sha256(f) == first  # the stamp did not move: the remembered hash
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert again.sha256(f) != first

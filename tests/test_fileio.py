"""File helpers of :mod:`casereport.fileio`: stat stamps and folder listings."""

from __future__ import annotations

import os
from pathlib import Path

from casereport.fileio import (
    FileStamp,
    StatHasher,
    file_stamp,
    file_stamps_below,
    files_below,
)


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


def _tree(top: Path, *files: str) -> None:
    for rel in files:
        (top / rel).parent.mkdir(parents=True, exist_ok=True)
        (top / rel).write_text(rel)


def _listed(top: Path) -> list[str]:
    return [p.relative_to(top).as_posix() for p in files_below(top)]


def test_files_below_leaves_out_hidden_entries_and_pycache(tmp_path: Path) -> None:
    top = tmp_path / ".hidden-parent" / "top"  # where the root lies does not matter
    _tree(
        top,
        "b.txt",
        "a/z.dcm",
        "a-b/y.txt",
        "a/deeper/c.py",
        ".hidden",
        "a/.h/d",
        "__pycache__/e.pyc",
        "a/__pycache__/f.pyc",
    )
    os.mkfifo(top / "fifo")
    (top / "broken").symlink_to(tmp_path / "nothing")
    assert _listed(top) == ["a/deeper/c.py", "a/z.dcm", "a-b/y.txt", "b.txt"]  # path order
    assert files_below(top / "b.txt") == [top / "b.txt"]
    assert files_below(tmp_path / "missing") == []
    assert files_below(str(top)) == files_below(top)


def test_files_below_follows_linked_folders_and_files(tmp_path: Path) -> None:
    share = tmp_path / "share"
    _tree(share, "A/case.yaml", "A/spect/1.dcm", "notes.txt")
    top = tmp_path / "data"
    top.mkdir()
    (top / "A").symlink_to(share / "A", target_is_directory=True)
    (top / "notes.txt").symlink_to(share / "notes.txt")
    assert _listed(top) == ["A/case.yaml", "A/spect/1.dcm", "notes.txt"]
    linked_root = tmp_path / "data-link"  # the data folder itself a link
    linked_root.symlink_to(top, target_is_directory=True)
    assert files_below(linked_root) == [linked_root / p for p in _listed(top)]


def test_files_below_lists_a_loop_once(tmp_path: Path) -> None:
    top = tmp_path / "top"
    _tree(top, "a/f.txt", "b/g.txt")
    (top / "a" / "up").symlink_to(top, target_is_directory=True)  # a loop to the root
    (top / "a" / "self").symlink_to(top / "a", target_is_directory=True)  # to itself
    (top / "b" / "to-a").symlink_to(top / "a", target_is_directory=True)  # no loop
    assert _listed(top) == ["a/f.txt", "b/g.txt", "b/to-a/f.txt"]


def test_file_stamps_below_stamps_what_files_below_lists(tmp_path: Path) -> None:
    top = tmp_path / "top"
    _tree(tmp_path / "share", "x.dcm")
    _tree(top, "a.txt", "sub/b.dcm", ".hidden", "sub/.h/d", "__pycache__/e")
    (top / "linked").symlink_to(tmp_path / "share", target_is_directory=True)
    (top / "sub" / "loop").symlink_to(top, target_is_directory=True)
    stamps = file_stamps_below(top)
    assert sorted(map(Path, stamps)) == files_below(top)
    assert stamps[str(top / "linked" / "x.dcm")] == file_stamp(tmp_path / "share" / "x.dcm")
    assert file_stamps_below(top / "a.txt") == {str(top / "a.txt"): file_stamp(top / "a.txt")}
    assert file_stamps_below(tmp_path / "missing") == {}

"""The index of every case under a data folder: the one way the package finds cases.

:func:`index` reads each ``<subject>/case.yaml`` once (schema-validated by
:func:`~casereport.case.read_case`) and answers which subjects are cases, which are
controls, and the spec of each. Render, preflight, bench and the notebooks all ask it;
nothing else opens a ``case.yaml``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from casereport.errors import CaseFileError

from .model import CaseSpec, Role
from .parse import read_case
from .studies import Loader


@dataclass(frozen=True)
class CaseIndex(Mapping[str, CaseSpec]):
    """``{subject folder name: CaseSpec}`` of one data folder, in sorted order."""

    data_dir: Path
    specs: tuple[CaseSpec, ...]

    def __getitem__(self, subject: str) -> CaseSpec:
        for s in self.specs:
            if s.folder.name == subject:
                return s
        raise CaseFileError(
            self.data_dir / str(subject) / "case.yaml",
            "<file>",
            f"no case {subject!r} in {self.data_dir} (cases: {', '.join(self.subjects) or 'none'})",
        )

    def __contains__(self, subject: object) -> bool:
        return subject in self.subjects

    def __iter__(self) -> Iterator[str]:
        return iter(self.subjects)

    def __len__(self) -> int:
        return len(self.specs)

    def checked(self, subject: str, *, loader: Loader | None = None, **overrides: Any) -> CaseSpec:
        """The spec of ``subject`` with display ``overrides`` (``nm_window``, ``ct_window``,
        ``crop_mm``: see :mod:`casereport.case.overrides`), checked against its images."""
        from .checks import check_case
        from .overrides import with_overrides

        spec = with_overrides(self[subject], **overrides)
        check_case(spec, loader)
        return spec

    @property
    def subjects(self) -> tuple[str, ...]:
        """Every subject folder with a case file."""
        return tuple(s.folder.name for s in self.specs)

    @property
    def cases(self) -> tuple[str, ...]:
        """Subjects with ``role: case`` (the ones Figure 1 and the article show)."""
        return tuple(s.folder.name for s in self.specs if s.role is Role.CASE)

    @property
    def controls(self) -> tuple[str, ...]:
        """Subjects with ``role: control``."""
        return tuple(s.folder.name for s in self.specs if s.role is Role.CONTROL)

    @property
    def control(self) -> CaseSpec:
        """The one control subject (CaseFileError when there is none or several)."""
        if len(self.controls) != 1:
            raise CaseFileError(
                self.data_dir,
                "role",
                f"expected exactly one subject with role: control, found "
                f"{len(self.controls)} ({', '.join(self.controls) or 'none'})",
            )
        return self[self.controls[0]]

    @property
    def files(self) -> tuple[Path, ...]:
        """The case files, sorted by subject."""
        return tuple(s.path for s in self.specs)


def case_files(data_dir: str | Path) -> dict[str, Path]:
    """``{subject folder name: case.yaml}`` for every subject folder of ``data_dir``."""
    return {p.parent.name: p for p in sorted(Path(data_dir).glob("*/case.yaml"))}


def index(
    data_dir: str | Path, *, check_images: bool = False, loader: Loader | None = None
) -> CaseIndex:
    """Read every ``<subject>/case.yaml`` under ``data_dir``.

    Args:
        data_dir: folder of subject folders.
        check_images: also check each case against its DICOM studies
            (:func:`casereport.case.checks.check_case`).
        loader: how to load a study for the checks (default: the cached loader).

    Raises:
        CaseFileError: a case file is invalid, or a case id differs from its folder name.
    """
    data_dir = Path(data_dir).resolve()
    specs = []
    for subject, path in case_files(data_dir).items():
        spec = read_case(path)
        if spec.case_id != subject:
            raise CaseFileError(
                spec.path, "case", f"case id {spec.case_id!r} differs from its folder {subject!r}"
            )
        if check_images:
            from .checks import check_case

            check_case(spec, loader)
        specs.append(spec)
    return CaseIndex(data_dir, tuple(specs))

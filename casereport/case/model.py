"""The case model: frozen dataclasses for a validated ``case.yaml``.

Built only by :func:`casereport.case.parse_case`; see docs/CASE_FILE.md for the file and
how to add a field.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path

from casereport.errors import CaseFileError

from .plane import Plane
from .window import Modality, Window


class Role(StrEnum):
    """What a subject is for."""

    CASE = "case"  # shown in Figure 1 and described in the article
    CONTROL = "control"  # normal reference of the measurements


class PanelKind(StrEnum):
    """What a panel shows."""

    PLANAR = "planar"  # static NM views (PlanarStudy)
    WHOLEBODY = "wholebody"  # whole-body NM sweep (WholeBody)
    CT = "ct"  # a CT plane (CTVolume)
    FUSION = "fusion"  # SPECT on CT (CTVolume + SpectVolume, same frame of reference)

    @property
    def modality(self) -> Modality:
        """Modality of the panel's ``study`` (and of its ``window``)."""
        return Modality.CT if self in (PanelKind.CT, PanelKind.FUSION) else Modality.NM

    @property
    def planar(self) -> bool:
        return self in (PanelKind.PLANAR, PanelKind.WHOLEBODY)


class AnnotationKind(StrEnum):
    ARROW = "arrow"
    CIRCLE = "circle"
    ELLIPSE = "ellipse"
    LABEL = "label"


@dataclass(frozen=True)
class Box:
    """A rectangle in mm (planar: view mm; CT: the panel plane's u, v in patient mm)."""

    x_mm: tuple[float, float]
    y_mm: tuple[float, float]

    def contains(self, xy: tuple[float, float]) -> bool:
        return (self.x_mm[0] <= xy[0] <= self.x_mm[1]) and (self.y_mm[0] <= xy[1] <= self.y_mm[1])


@dataclass(frozen=True)
class Patient:
    """Patient facts: age in years (None: not stated), sex ``F``/``M``, a short history."""

    age_years: int | None
    sex: str
    history: str


#: View names a case file may use as keys of a per-view ``study`` mapping.
VIEW_NAMES = ("ANT", "POST", "LAO", "RAO", "LPO", "RPO", "LLAT", "RLAT")


@dataclass(frozen=True)
class Source:
    """How to read a study beyond its path, for scanner exports that need it.

    Attributes:
        view_files: ((view, absolute path), ...) when the study is one file per view.
        views: view names declared for files that do not record theirs (a panel's
            ``views``; ``views:`` of a ``studies`` entry).
        spacing_mm: (row, column) pixel spacing for planar files that record none.
        series_uid, series_number, series_description: which series of a folder.
    """

    view_files: tuple[tuple[str, Path], ...] = ()
    views: tuple[str, ...] = ()
    spacing_mm: tuple[float, float] | None = None
    series_uid: str | None = None
    series_number: int | None = None
    series_description: str | None = None


@dataclass(frozen=True)
class Studies:
    """The studies of a subject used by the measurements (absolute paths or ``None``).

    ``whole_body``: whole-body NM (every measurement needs it); ``ct``: chest CT;
    ``spect``: SPECT volume registered to ``ct``. Add a kind by adding a field here and a
    key in ``casereport/case/keys.py`` (docs/CASE_FILE.md).
    """

    whole_body: Path | None = None
    ct: Path | None = None
    spect: Path | None = None
    sources: tuple[tuple[str, Source], ...] = ()

    def items(self) -> tuple[tuple[str, Path], ...]:
        """(kind, path) of the studies given."""
        return tuple(
            (f.name, getattr(self, f.name))
            for f in fields(self)
            if f.name != "sources" and getattr(self, f.name)
        )

    def source(self, kind: str) -> Source:
        """How to read study ``kind`` (declared views, spacing, series; default: nothing)."""
        return dict(self.sources).get(kind, Source())


def _record(case_file: Path | None, facet: str) -> None:
    """Record ``facet`` of ``case_file`` as read (see :mod:`casereport.case.facets`)."""
    if case_file is not None:
        from casereport.record import record_read  # the kernel's list of files read

        record_read(case_file, facet=facet)


@dataclass(frozen=True)
class PanelSpec:
    """One figure panel as declared in the case file.

    Attributes:
        panel_id: e.g. ``"A1"``.
        kind: planar / wholebody / ct / fusion.
        study: absolute path of the study (file or folder); ``study_rel`` as written.
        window: display window (HU for ct/fusion, counts or percentiles for planar).
        caption, alt: caption text and alt text (properties: reading one records the
            facet ``panels.<id>.caption`` / ``.alt`` of ``case_file`` as read; the
            fields ``_caption`` and ``_alt`` hold the text).
        views: planar views to show (ANT then POST).
        plane, position_mm: CT plane and its position along the plane normal (LPS mm).
        crop: displayed region in mm, or None for the whole image.
        overlay, overlay_window, alpha: SPECT volume, its window and opacity (fusion).
        scale_bar_mm: scale bar length in mm (None: default for the kind, 0: none).
        source: per-view files, declared views and spacing, series choice (scanner
            exports); ``study`` is then the first view's file.
        case_file: the case file declaring the panel (None: nothing is recorded).
    """

    panel_id: str
    kind: PanelKind
    study: Path
    study_rel: str
    window: Window
    _caption: str = field(repr=False)
    _alt: str = field(repr=False)
    views: tuple[str, ...] = ()
    plane: Plane | None = None
    position_mm: float | None = None
    crop: Box | None = None
    overlay: Path | None = None
    overlay_rel: str | None = None
    overlay_window: Window | None = None
    alpha: float = 0.6
    scale_bar_mm: float | None = None
    source: Source = field(default_factory=Source)
    case_file: Path | None = field(default=None, repr=False, compare=False)

    @property
    def caption(self) -> str:
        """Caption text; recorded as read (facet ``panels.<id>.caption``)."""
        _record(self.case_file, f"panels.{self.panel_id}.caption")
        return self._caption

    @property
    def alt(self) -> str:
        """Alt text; recorded as read (facet ``panels.<id>.alt``)."""
        _record(self.case_file, f"panels.{self.panel_id}.alt")
        return self._alt


@dataclass(frozen=True)
class Annotation:
    """An arrow, circle, ellipse or label on one panel, in mm.

    ``xy_mm`` is the arrow tip, the circle/ellipse centre or the label position;
    ``tail_mm`` the arrow tail (where its text goes). ``entry`` names it in the case file.
    """

    entry: str
    panel: str
    kind: AnnotationKind
    xy_mm: tuple[float, float]
    view: str | None = None
    tail_mm: tuple[float, float] | None = None
    radius_mm: float | None = None
    width_mm: float | None = None
    height_mm: float | None = None
    angle_deg: float = 0.0
    text: str = ""
    color: str | None = None

    @property
    def xy_key(self) -> str:
        """Case-file key of ``xy_mm`` (``tip_mm``, ``at_mm`` or ``center_mm``)."""
        if self.kind is AnnotationKind.ARROW:
            return "tip_mm"
        return "at_mm" if self.kind is AnnotationKind.LABEL else "center_mm"


@dataclass(frozen=True)
class CaseSpec:
    """A validated case file (``data/<subject>/case.yaml``).

    Reading annotations (:meth:`annotations_for`, :attr:`annotations`) records the facet
    ``panels.<id>.annotations`` of each panel concerned as read (the field
    ``_annotations`` holds them).
    """

    path: Path
    case_id: str
    role: Role
    patient: Patient
    findings: tuple[str, ...]
    panels: tuple[PanelSpec, ...]
    _annotations: tuple[Annotation, ...] = field(repr=False)
    studies: Studies = field(default_factory=Studies)

    @property
    def annotations(self) -> tuple[Annotation, ...]:
        """Every annotation, in case-file order (records every panel's annotations)."""
        for pid in sorted({*self.panel_ids, *(a.panel for a in self._annotations)}):
            _record(self.path, f"panels.{pid}.annotations")
        return self._annotations

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def panel_ids(self) -> tuple[str, ...]:
        return tuple(p.panel_id for p in self.panels)

    def panel(self, panel_id: str) -> PanelSpec:
        for p in self.panels:
            if p.panel_id == panel_id:
                return p
        raise CaseFileError(
            self.path,
            f"panels.{panel_id}",
            f"no such panel (panels: {', '.join(self.panel_ids) or 'none'})",
        )

    def annotations_for(self, panel_id: str) -> tuple[Annotation, ...]:
        """The annotations of one panel (records its facet ``panels.<id>.annotations``)."""
        _record(self.path, f"panels.{panel_id}.annotations")
        return tuple(a for a in self._annotations if a.panel == panel_id)

    def texts(self) -> tuple[tuple[str, str], ...]:
        """(case-file entry, text) of every text the author wrote that the article shows:
        the history, the findings, each panel's caption and alt text and each annotation's
        label (nothing is recorded as read: this is for checks, not for drawing)."""
        out = [("patient.history", self.patient.history)]
        out += [(f"findings[{i}]", text) for i, text in enumerate(self.findings)]
        for p in self.panels:
            out += [(f"panels.{p.panel_id}.caption", p._caption)]
            out += [(f"panels.{p.panel_id}.alt", p._alt)]
        out += [(f"{a.entry}.text", a.text) for a in self._annotations if a.text]
        return tuple(out)

    def study_paths(self) -> tuple[tuple[str, Path], ...]:
        """(case-file entry, absolute path) of every study the case file names, each once."""
        out: dict[Path, str] = {}
        for kind, path in self.studies.items():
            out.setdefault(path, f"studies.{kind}")
        for p in self.panels:
            out.setdefault(p.study, f"panels.{p.panel_id}.study")
            if p.overlay is not None:
                out.setdefault(p.overlay, f"panels.{p.panel_id}.overlay")
        return tuple((entry, path) for path, entry in out.items())

    def external_study_paths(self, data_dir: Path) -> tuple[Path, ...]:
        """Study paths outside ``data_dir`` (allowed only with ``external_studies: true``)."""
        root = Path(data_dir).resolve()
        return tuple(p for _, p in self.study_paths() if not p.is_relative_to(root))

    def study(self, kind: str) -> Path:
        """Path of study ``kind`` (``whole_body``, ``ct``, ``spect``); CaseFileError if absent."""
        path = getattr(self.studies, kind, None)
        if path is None:
            raise CaseFileError(
                self.path, f"studies.{kind}", "required here but not given in the case file"
            )
        return path

    def with_windows(self, *, nm: Window | None = None, ct: Window | None = None) -> CaseSpec:
        """A copy whose NM panels use window ``nm`` and CT/fusion panels ``ct`` (``None``:
        keep the case file's)."""
        if nm is not None:
            nm.require(Modality.NM, "nm_window")
        if ct is not None:
            ct.require(Modality.CT, "ct_window")
        panels = []
        for p in self.panels:
            new = nm if p.kind.modality is Modality.NM else ct
            panels.append(p if new is None else replace(p, window=new))
        return replace(self, panels=tuple(panels))

    def with_crop(self, panel_id: str, crop: Box) -> CaseSpec:
        """A copy whose panel ``panel_id`` shows ``crop`` (mm, as in ``crop_mm``)."""
        self.panel(panel_id)
        return replace(
            self,
            panels=tuple(
                replace(p, crop=crop) if p.panel_id == panel_id else p for p in self.panels
            ),
        )

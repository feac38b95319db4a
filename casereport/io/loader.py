"""``load``: a file, folder or DICOMDIR -> one typed study object."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Literal

from pydicom.dataset import Dataset
from pydicom.uid import UID

from casereport.errors import DicomInputError, UnsupportedDicomError
from casereport.io.common import image_type, text
from casereport.io.planar import PlanarOptions, assemble, build_planar, is_whole_body
from casereport.io.quiet import dicom_warnings
from casereport.io.read import is_directory_file, read_dataset
from casereport.io.scan import SeriesChoice, collect, select
from casereport.io.types import PlanarStudy, SourceInfo, Study, WholeBody
from casereport.io.volume import build_ct, build_spect

Kind = Literal["ct", "spect", "wholebody", "planar"]

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
NM_IMAGE = "1.2.840.10008.5.1.4.1.1.20"
NM_IMAGE_RETIRED = "1.2.840.10008.5.1.4.1.1.5"
SECONDARY_CAPTURE = {
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image
    "1.2.840.10008.5.1.4.1.1.7.2",  # Multi-frame Grayscale Byte SC
    "1.2.840.10008.5.1.4.1.1.7.3",  # Multi-frame Grayscale Word SC
}
SUPPORTED_MODALITIES = ("CT", "NM")


def _sop_label(sop: str) -> str:
    name = UID(sop).name
    return f"{name} ({sop})" if name != sop else sop


def classify(ds: Dataset, path: Path) -> Kind:
    """What ``ds`` is: ``ct``, ``spect`` (NM RECON TOMO), ``wholebody`` or ``planar``.

    Raises:
        UnsupportedDicomError: other modality, SOP class or NM image type.
    """
    modality = text(ds, "Modality").upper()
    sop = text(ds, "SOPClassUID")
    if modality not in SUPPORTED_MODALITIES:
        raise UnsupportedDicomError(
            path, f"modality {modality or '(empty)'} is not supported (NM or CT only)", "Modality"
        )
    if modality == "CT":
        if sop != CT_IMAGE:
            raise UnsupportedDicomError(
                path,
                f"SOP class {_sop_label(sop)} is not supported for CT; "
                "export the series as CT Image Storage (one file per slice)",
                "SOPClassUID",
            )
        return "ct"
    if sop not in {NM_IMAGE, NM_IMAGE_RETIRED} | SECONDARY_CAPTURE:
        raise UnsupportedDicomError(
            path,
            f"SOP class {_sop_label(sop)} is not supported for NM "
            "(NM Image Storage or Secondary Capture)",
            "SOPClassUID",
        )
    types = image_type(ds)
    joined = " ".join(types)
    shown = "\\".join(types)
    if "TOMO" in joined:
        if "RECON" in joined:
            return "spect"
        raise UnsupportedDicomError(
            path,
            f"tomographic projections (ImageType {shown}) are not supported; "
            "load the reconstructed (RECON TOMO) series",
            "ImageType",
        )
    for unsupported in ("DYNAMIC", "GATED"):
        if unsupported in types:
            raise UnsupportedDicomError(
                path, f"{unsupported.lower()} NM acquisitions are not supported", "ImageType"
            )
    return "wholebody" if is_whole_body(ds) else "planar"


def build_series(
    items: Sequence[tuple[Path, Dataset]], options: PlanarOptions | None = None
) -> Study:
    """Build the study object from the (path, dataset) pairs of one series.

    The datasets may be headers read without pixel data; pixels are then read from the
    files. ``options`` (declared views and spacing, leniency) apply to planar NM only.
    """
    kinds = {classify(ds, p) for p, ds in items}
    if len(kinds) > 1:
        raise DicomInputError(
            items[0][0], f"series mixes image kinds ({', '.join(sorted(kinds))})", "ImageType"
        )
    kind = kinds.pop()
    if kind == "ct":
        return build_ct(items)
    if kind == "spect":
        return build_spect(items)
    return build_planar(list(items), whole_body=kind == "wholebody", options=options)


_ANY = SeriesChoice()


def load(
    path: str | Path,
    *,
    modality: str | None = None,
    series_uid: str | None = None,
    choice: SeriesChoice | None = None,
    options: PlanarOptions | None = None,
) -> Study:
    """Load a DICOM file, a folder (searched recursively) or a DICOMDIR.

    Args:
        path: file, folder or DICOMDIR.
        modality: pick the series of this modality (``"NM"``, ``"CT"``) in a folder.
        series_uid: pick the series with this SeriesInstanceUID in a folder.
        choice: pick by SeriesInstanceUID, SeriesNumber and/or SeriesDescription (a
            folder holding a localizer and several reconstructions).
        options: declared views and pixel spacing for planar NM, and leniency.

    Returns:
        ``PlanarStudy`` (static NM), ``WholeBody`` (NM WHOLE BODY), ``SpectVolume``
        (NM RECON TOMO) or ``CTVolume`` (CT, HU).

    Raises:
        DicomInputError: or one of its subclasses, naming the file and the DICOM attribute.
    """
    p = Path(path)
    want = _ANY
    if choice is not None or modality is not None or series_uid is not None:
        want = (choice or _ANY).merged(modality=modality, series_uid=series_uid)
    with dicom_warnings():
        if p.is_file():
            ds = read_dataset(p, headers_only=True)
            if not is_directory_file(ds):
                if want is not _ANY:
                    want.check(ds, p)
                return build_series([(p, ds)], options)
        series = collect(p)
        chosen = select(series, p, want)
        return build_series(list(zip(chosen.summary.paths, chosen.headers, strict=True)), options)


def load_views(
    files: dict[str, str | Path],
    *,
    choice: SeriesChoice | None = None,
    options: PlanarOptions | None = None,
) -> PlanarStudy | WholeBody:
    """One planar study from one file (or folder) per view, e.g. ``{"ANT": a, "POST": b}``.

    Each file must hold exactly one view; a view it records must match its key, a file
    that records none takes the key's name. The result is a WholeBody when every file is
    a whole-body sweep, else a PlanarStudy.

    Raises:
        DicomInputError: a file holds several views, or records another view than its key.
    """
    options = options or PlanarOptions()
    views = []
    warns: list[str] = []
    whole = []
    paths: list[Path] = []
    for name, f in files.items():
        key = name.upper()
        study = load(
            f,
            choice=choice,
            options=PlanarOptions(views=(key,), spacing_mm=options.spacing_mm, lenient=False),
        )
        if not isinstance(study, PlanarStudy | WholeBody):
            raise DicomInputError(f, f"holds a {type(study).__name__}, not a planar {key} view")
        if len(study.views) != 1:
            raise DicomInputError(
                f,
                f"declared as the {key} view but holds {len(study.views)} views "
                f"({', '.join(v.view for v in study.views)})",
                "NumberOfFrames",
            )
        v = study.views[0]
        if v.view.upper() != key:
            raise DicomInputError(
                f,
                f"declared as the {key} view but the file records {v.view} "
                f"(from {v.view_source}); fix the case file",
                "ViewCodeSequence",
            )
        views.append(v)
        warns.extend(study.warnings)
        whole.append(isinstance(study, WholeBody))
        paths.extend(study.source.paths)
    if not views:
        raise DicomInputError(".", "no view files given")
    src: SourceInfo = replace(views[0].source, paths=tuple(paths))
    views = [replace(v, source=src) for v in views]
    return assemble(
        views,
        whole_body=all(whole),
        path=Path(next(iter(files.values()))),
        lenient=options.lenient,
        warnings=tuple(w for w in warns if not w.startswith("whole-body study has no")),
    )

"""DICOM writers for the simulated studies (NM Image IOD and CT Image IOD).

All UIDs are ``<root>.9<33 digits>``, the digits read from the SHA-256 of the seed, the
subject and the object's place in the study (see :func:`make_uid`): deterministic, and
carrying no date or other meaning; dates and times are fixed and fictitious.
Every object carries ``SIMULATED`` in PatientName and SeriesDescription and declares the
identity removed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import (
    UID,
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    NuclearMedicineImageStorage,
    RLELossless,
)

from casereport.synth.subjects import SubjectSpec

#: Organisation root under which every UID of the simulator lives (pydicom's registered
#: root) followed by a fixed branch for this project.
UID_ROOT = "1.2.826.0.1.3680043.8.498.7"
IMPLEMENTATION_UID = UID_ROOT + ".0.1"
IMPLEMENTATION_VERSION = "CASEREPORT_SYN"

STUDY_DATE = "20190101"
INJECTION_TIME = "063000"
MANUFACTURER = "casereport.synth (simulation)"

SERIES_WB, SERIES_SPOT, SERIES_CT, SERIES_SPECT = 1, 2, 3, 4
TIMES = {SERIES_WB: "093000", SERIES_SPOT: "095000", SERIES_CT: "100000", SERIES_SPECT: "100500"}

VIEW_CODES = {
    "ANT": ("399321004", "SCT", "Anterior projection"),
    "POST": ("399001007", "SCT", "Posterior projection"),
}


#: Digits of the hashed component of a simulator UID after its leading ``9``.
_UID_DIGITS = 33


def make_uid(seed: int, subject: SubjectSpec, *parts: int) -> UID:
    """Deterministic UID ``<root>.9<33 digits>`` for ``parts`` of one subject's study.

    The digits are the SHA-256 of the seed, the subject index and ``parts``, read as a
    number modulo 10**33 and zero-padded: the same inputs give the same UID, different
    inputs different UIDs, and the UID says nothing about them. The leading ``9`` and
    the length (34 digits) keep the component from reading as a date or date-time to the
    de-identification gate (which looks for ``19``/``20`` at the start of a component
    and inside components of at most 24 digits, and for components of 8 digits).
    """
    key = ".".join(str(int(x)) for x in (seed, subject.index, *parts))
    digest = hashlib.sha256(f"casereport.synth uid {key}".encode("ascii")).digest()
    number = int.from_bytes(digest, "big") % 10**_UID_DIGITS
    uid = f"{UID_ROOT}.9{number:0{_UID_DIGITS}d}"
    if len(uid) > 64:
        raise ValueError(f"UID too long: {uid}")
    return UID(uid)


@dataclass(frozen=True)
class Ids:
    """UIDs of one subject's study."""

    seed: int
    subject: SubjectSpec

    @property
    def study(self) -> UID:
        return make_uid(self.seed, self.subject, 1)

    @property
    def frame_of_reference(self) -> UID:
        return make_uid(self.seed, self.subject, 2)

    def series(self, number: int) -> UID:
        return make_uid(self.seed, self.subject, 3, number)

    def instance(self, number: int, instance: int) -> UID:
        return make_uid(self.seed, self.subject, 4, number, instance)


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    d = Dataset()
    d.CodeValue = value
    d.CodingSchemeDesignator = scheme
    d.CodeMeaning = meaning
    return d


def base_dataset(
    ids: Ids,
    modality: str,
    series: int,
    instance: int,
    sop_class: UID,
    description: str,
    generator_version: str,
) -> Dataset:
    """Patient, study, series, equipment and SOP common attributes."""
    spec = ids.subject
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ids.instance(series, instance)
    ds.StudyDate = STUDY_DATE
    ds.SeriesDate = STUDY_DATE
    ds.AcquisitionDate = STUDY_DATE
    ds.ContentDate = STUDY_DATE
    ds.StudyTime = "090000"
    ds.SeriesTime = TIMES[series]
    ds.AcquisitionTime = TIMES[series]
    ds.ContentTime = TIMES[series]
    ds.AccessionNumber = ""
    ds.Modality = modality
    ds.Manufacturer = MANUFACTURER
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "SIMULATED Tc-99m MDP bone scintigraphy with SPECT/CT"
    ds.SeriesDescription = f"SIMULATED {description}"
    ds.ManufacturerModelName = "casereport.synth"
    ds.SoftwareVersions = generator_version
    ds.PatientName = spec.patient_name
    ds.PatientID = spec.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = spec.sex
    ds.PatientAge = f"{spec.age_years:03d}Y"
    ds.PatientSize = round(spec.height_mm / 1000.0, 2)
    ds.PatientWeight = spec.weight_kg
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "SIMULATED: synthetic phantom data, no real patient"
    ds.StudyInstanceUID = ids.study
    ds.SeriesInstanceUID = ids.series(series)
    ds.StudyID = "SIM1"
    ds.SeriesNumber = series
    ds.InstanceNumber = instance
    return ds


def _pixels(ds: Dataset, frames: np.ndarray, bits_stored: int = 16) -> None:
    frames = np.ascontiguousarray(frames, dtype=np.uint16)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(frames.shape[-2]), int(frames.shape[-1])
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    ds.PixelData = frames.tobytes()


def _nm_common(ds: Dataset, body_part: str) -> None:
    ds.BodyPartExamined = body_part
    orient = _code("102538003", "SCT", "recumbent")
    orient.PatientOrientationModifierCodeSequence = Sequence([_code("40199007", "SCT", "supine")])
    ds.PatientOrientationCodeSequence = Sequence([orient])
    ds.PatientGantryRelationshipCodeSequence = Sequence([_code("102540008", "SCT", "headfirst")])
    ds.AcquisitionContextSequence = Sequence([])
    ew = Dataset()
    rng = Dataset()
    rng.EnergyWindowLowerLimit = 126.0
    rng.EnergyWindowUpperLimit = 154.0
    ew.EnergyWindowRangeSequence = Sequence([rng])
    ew.EnergyWindowName = "TC99M 20%"
    ds.EnergyWindowInformationSequence = Sequence([ew])
    rp = Dataset()
    rp.RadionuclideCodeSequence = Sequence([_code("72454006", "SCT", "^99m^Technetium")])
    rp.Radiopharmaceutical = "Tc-99m medronate (MDP)"
    rp.RadiopharmaceuticalStartTime = INJECTION_TIME
    rp.RadionuclideTotalDose = 740.0
    rp.RadiopharmaceuticalRoute = "Intravenous"
    rp.RadiopharmaceuticalCodeSequence = Sequence(
        [_code("96390006", "SCT", "Technetium Tc^99m^ medronate")]
    )
    ds.RadiopharmaceuticalInformationSequence = Sequence([rp])
    ds.NumberOfEnergyWindows = 1


def _detector(
    view: str | None,
    spacing_mm: float,
    fov: tuple[float, float],
    position: list[float] | None = None,
    orientation: list[float] | None = None,
) -> Dataset:
    d = Dataset()
    d.ImagePositionPatient = position if position is not None else None
    d.ImageOrientationPatient = orientation if orientation is not None else None
    d.CollimatorGridName = "LEHR"
    d.CollimatorType = "PARA"
    d.FieldOfViewShape = "RECTANGLE"
    d.FieldOfViewDimensions = [int(round(fov[0])), int(round(fov[1]))]
    d.ZoomFactor = [1.0, 1.0]
    d.PixelSpacing = [spacing_mm, spacing_mm]
    if view is not None:
        d.ViewCodeSequence = Sequence([_code(*VIEW_CODES[view])])
    return d


def planar_dataset(
    ids: Ids,
    series: int,
    description: str,
    kind: str,
    views: list[str],
    frames: np.ndarray,
    spacing_mm: float,
    duration_ms: int,
    version: str,
    scan: dict[str, float] | None = None,
    geometry: dict[str, tuple[list[float], list[float]]] | None = None,
) -> Dataset:
    """NM multi-frame planar object: one frame per view/detector.

    ``kind`` is ``"WHOLE BODY"`` or ``"STATIC"``; ``scan`` (whole body) gives
    ``velocity_mm_s`` and ``length_mm``; ``geometry`` maps a view to (ImagePositionPatient,
    ImageOrientationPatient) of its frame (the coronal plane seen by that camera).
    """
    ds = base_dataset(ids, "NM", series, 1, NuclearMedicineImageStorage, description, version)
    ds.ImageType = ["ORIGINAL", "PRIMARY", kind, "EMISSION"]
    _nm_common(ds, "WHOLEBODY" if kind == "WHOLE BODY" else "CHEST")
    ds.PatientOrientation = ""
    n = len(views)
    ds.NumberOfFrames = n
    ds.FrameIncrementPointer = [Tag("EnergyWindowVector"), Tag("DetectorVector")]
    ds.EnergyWindowVector = [1] * n
    ds.DetectorVector = list(range(1, n + 1))
    ds.NumberOfDetectors = n
    h, w = frames.shape[-2:]
    geo = geometry or {}
    ds.DetectorInformationSequence = Sequence(
        [_detector(v, spacing_mm, (540.0, 400.0), *geo.get(v, (None, None))) for v in views]
    )
    ds.PixelSpacing = [spacing_mm, spacing_mm]
    ds.ActualFrameDuration = int(duration_ms)
    if scan is not None:
        ds.ScanVelocity = scan["velocity_mm_s"]
        ds.ScanLength = int(round(scan["length_mm"]))
        ds.WholeBodyTechnique = "1PS"
    ds.CountsAccumulated = int(frames.astype(np.int64).sum())
    ds.ImageID = "/".join(views)
    _pixels(ds, frames)
    return ds


def spect_dataset(
    ids: Ids,
    volume: np.ndarray,
    origin_mm: tuple[float, float, float],
    spacing_mm: float,
    proto: object,
    version: str,
    counts: float,
    counts_per_value: float = 1.0,
) -> Dataset:
    """NM RECON TOMO multi-frame object, slices along +z (inferior to superior).

    ``counts`` is the total of the acquired projections; ``counts_per_value`` turns a stored
    value into reconstructed counts per voxel (given as a Real World Value Mapping).
    """
    ds = base_dataset(
        ids,
        "NM",
        SERIES_SPECT,
        1,
        NuclearMedicineImageStorage,
        "SPECT chest OSEM 4i10s AC SC",
        version,
    )
    ds.ImageType = ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"]
    _nm_common(ds, "CHEST")
    ds.CountsAccumulated = int(counts)
    nz = int(volume.shape[0])
    ds.FrameOfReferenceUID = ids.frame_of_reference
    ds.PositionReferenceIndicator = ""
    ds.NumberOfFrames = nz
    ds.FrameIncrementPointer = Tag("SliceVector")
    ds.SliceVector = list(range(1, nz + 1))
    ds.NumberOfSlices = nz
    ds.NumberOfDetectors = 1
    ds.NumberOfRotations = 1
    det = _detector(
        None,
        spacing_mm,
        (540.0, 400.0),
        [round(float(v), 4) for v in origin_mm],
        [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
    )
    ds.DetectorInformationSequence = Sequence([det])
    p = proto
    rot = Dataset()
    rot.StartAngle = 0.0
    rot.AngularStep = 360.0 / p.n_angles  # type: ignore[attr-defined]
    rot.RotationDirection = "CC"
    rot.ScanArc = 360.0
    rot.ActualFrameDuration = int(p.seconds_per_view * 1000)  # type: ignore[attr-defined]
    rot.NumberOfFramesInRotation = p.n_angles  # type: ignore[attr-defined]
    rot.RadialPosition = [p.orbit_mm]  # type: ignore[attr-defined]
    rot.TableTraverse = 0.0
    rot.TableHeight = 0.0
    ds.RotationInformationSequence = Sequence([rot])
    ds.TypeOfDetectorMotion = "STEP AND SHOOT"
    ds.PixelSpacing = [spacing_mm, spacing_mm]
    ds.SliceThickness = spacing_mm
    ds.SpacingBetweenSlices = spacing_mm
    ds.ReconstructionDiameter = round(spacing_mm * volume.shape[2], 2)
    ds.ConvolutionKernel = "OSEM4i10s G9mm"
    ds.CorrectedImage = ["UNIF", "COR", "ATTN", "SCAT"]
    ds.PatientOrientation = ""
    # Head first supine is given by the Patient Orientation and Gantry Relationship code
    # sequences (NM/PET Patient Orientation module); Patient Position shall not be
    # present beside them.
    rwv = Dataset()
    rwv.LUTExplanation = "reconstructed counts per voxel"
    rwv.LUTLabel = "COUNTS"
    rwv.MeasurementUnitsCodeSequence = Sequence([_code("{counts}", "UCUM", "Counts")])
    rwv.RealWorldValueFirstValueMapped = 0
    rwv.RealWorldValueLastValueMapped = int(volume.max())
    rwv.RealWorldValueIntercept = 0.0
    rwv.RealWorldValueSlope = float(counts_per_value)
    ds.RealWorldValueMappingSequence = Sequence([rwv])
    _pixels(ds, volume)
    return ds


def ct_datasets(
    ids: Ids,
    hu: np.ndarray,
    origin_mm: tuple[float, float, float],
    spacing_mm: tuple[float, float, float],
    kvp: float,
    ma: int,
    version: str,
) -> list[Dataset]:
    """One CT Image object per slice; instance 1 is the most superior slice."""
    nz = hu.shape[0]
    dx, dy, dz = spacing_mm
    out = []
    stored = np.clip(np.round(hu) + 1024.0, 0, 4095).astype(np.uint16)
    for n, k in enumerate(range(nz - 1, -1, -1), start=1):
        ds = base_dataset(
            ids, "CT", SERIES_CT, n, CTImageStorage, "low-dose CT chest (SPECT/CT)", version
        )
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.PatientPosition = "HFS"
        ds.BodyPartExamined = "CHEST"
        ds.FrameOfReferenceUID = ids.frame_of_reference
        ds.PositionReferenceIndicator = ""
        z = origin_mm[2] + k * dz
        ds.ImagePositionPatient = [round(origin_mm[0], 4), round(origin_mm[1], 4), round(z, 4)]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [round(dy, 6), round(dx, 6)]
        ds.SliceThickness = dz
        ds.SliceLocation = round(z, 4)
        ds.AcquisitionNumber = 1
        ds.KVP = kvp
        ds.XRayTubeCurrent = ma
        ds.ConvolutionKernel = "STANDARD"
        ds.RescaleIntercept = -1024.0
        ds.RescaleSlope = 1.0
        ds.RescaleType = "HU"
        ds.WindowCenter = [-600.0, 40.0]
        ds.WindowWidth = [1500.0, 400.0]
        ds.WindowCenterWidthExplanation = ["LUNG", "MEDIASTINUM"]
        _pixels(ds, stored[k], bits_stored=12)
        out.append(ds)
    return out


def save(ds: Dataset, path: Path, syntax: UID) -> None:
    """Write ``ds`` with file meta information in ``syntax`` (RLE, deflate or explicit LE)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.ImplementationClassUID = UID(IMPLEMENTATION_UID)
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    if syntax == RLELossless:
        ds.compress(RLELossless, encoding_plugin="pydicom", generate_instance_uid=False)
        ds.file_meta.ImplementationClassUID = UID(IMPLEMENTATION_UID)
        ds.file_meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    elif syntax == DeflatedExplicitVRLittleEndian:
        ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)

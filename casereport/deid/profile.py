"""The attributes of the DICOM PS3.15 Basic Application Level Confidentiality Profile we enforce.

A reasoned subset of PS3.15 Annex E, Table E.1-1, grouped by the categories the gate reports
(names, IDs, dates, addresses, institution, free text, device, visual). Each attribute has
the action code of the standard as applied here:

* ``X`` remove; ``Z`` empty (zero length) or a dummy value; ``D`` dummy value;
* ``K`` keep (an option of Table E.1-1 applies, see :data:`OPTIONS`);
* ``C`` clean: keep, but remove patient names and IDs found inside the text.

Beyond this list, the gate and :mod:`casereport.deid.deidentify` treat by value
representation: any other non-empty person name (``PN``) is removed, every date/date-time
(``DA``/``DT``) follows the date policy, every private element is removed, and every
non-standard UID (``UI``) is remapped. See ``docs/DEIDENTIFICATION.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydicom.dataset import Dataset


class Category(Enum):
    """Why an attribute can identify a person."""

    NAME = "name"
    ID = "id"
    DATE = "date"
    ADDRESS = "address"
    INSTITUTION = "institution"
    FREE_TEXT = "free text"
    DEVICE = "device"
    VISUAL = "visual"
    CHARACTERISTIC = "patient characteristic"
    DESCRIPTOR = "descriptor"


@dataclass(frozen=True)
class Rule:
    """One attribute of the profile.

    Attributes:
        keyword: DICOM keyword (pydicom data dictionary).
        action: PS3.15 action code applied here (``X``, ``Z``, ``D``, ``K``, ``C``).
        category: what kind of identifier it is.
    """

    keyword: str
    action: str
    category: Category


def _rules(action: str, category: Category, keywords: str) -> tuple[Rule, ...]:
    return tuple(Rule(k, action, category) for k in keywords.split())


#: Enforced attributes. ``PatientName``/``PatientID`` are ``Z`` with a pseudonym allowed
#: as the dummy value (see :data:`PSEUDONYM_NAME`, :data:`PSEUDONYM_ID`).
RULES: tuple[Rule, ...] = (
    *_rules("Z", Category.NAME, "PatientName ReferringPhysicianName"),
    *_rules(
        "X",
        Category.NAME,
        """
        OtherPatientNames PatientBirthName PatientMotherBirthName PerformingPhysicianName
        NameOfPhysiciansReadingStudy OperatorsName PhysiciansOfRecord RequestingPhysician
        ScheduledPerformingPhysicianName ConsultingPhysicianName ResponsiblePerson PersonName
        ContentCreatorName ReviewerName VerifyingObserverName OrderEnteredBy
        ReferringPhysicianIdentificationSequence PerformingPhysicianIdentificationSequence
        PhysiciansReadingStudyIdentificationSequence OperatorIdentificationSequence
        PhysiciansOfRecordIdentificationSequence""",
    ),
    *_rules("Z", Category.ID, "PatientID AccessionNumber StudyID"),
    *_rules(
        "X",
        Category.ID,
        """
        IssuerOfPatientID OtherPatientIDs OtherPatientIDsSequence MedicalRecordLocator
        AdmissionID IssuerOfAdmissionIDSequence PatientInsurancePlanCodeSequence
        PerformedProcedureStepID ScheduledProcedureStepID RequestedProcedureID
        FillerOrderNumberImagingServiceRequest PlacerOrderNumberImagingServiceRequest
        ReferencedPatientSequence RequestAttributesSequence DigitalSignaturesSequence""",
    ),
    *_rules("Z", Category.DATE, "PatientBirthDate"),
    *_rules("X", Category.DATE, "PatientBirthTime LastMenstrualDate"),
    *_rules(
        "X",
        Category.ADDRESS,
        """
        PatientAddress PatientTelephoneNumbers PatientTelecomInformation CountryOfResidence
        RegionOfResidence ReferringPhysicianAddress ReferringPhysicianTelephoneNumbers
        PersonAddress PersonTelephoneNumbers OrderCallbackPhoneNumber OrderEntererLocation
        CurrentPatientLocation PatientInstitutionResidence""",
    ),
    *_rules(
        "X",
        Category.INSTITUTION,
        """
        InstitutionName InstitutionAddress InstitutionalDepartmentName InstitutionCodeSequence
        InstitutionalDepartmentTypeCodeSequence ResponsibleOrganization VerifyingOrganization
        PerformedLocation ScheduledProcedureStepLocation""",
    ),
    *_rules(
        "X",
        Category.FREE_TEXT,
        """
        AdditionalPatientHistory PatientComments StudyComments ImageComments FrameComments
        RequestedProcedureComments ImagingServiceRequestComments InterpretationText
        VisitComments AcquisitionComments TextComments ServiceEpisodeDescription
        AdmittingDiagnosesDescription ReasonForStudy ReasonForTheRequestedProcedure
        MedicalAlerts Allergies PatientState SpecialNeeds PatientTransportArrangements
        PreMedication Occupation MilitaryRank BranchOfService PatientReligiousPreference
        EthnicGroup SmokingStatus""",
    ),
    *_rules(
        "X",
        Category.DEVICE,
        """
        StationName DeviceSerialNumber DeviceUID DetectorID GantryID PlateID CassetteID""",
    ),
    *_rules("X", Category.VISUAL, "IconImageSequence"),
    # Retain Patient Characteristics Option: the report states age and sex.
    *_rules("K", Category.CHARACTERISTIC, "PatientSex PatientAge PatientSize PatientWeight"),
    # Clean Descriptors Option: protocol and series names are needed to read the study.
    *_rules(
        "C",
        Category.DESCRIPTOR,
        """
        StudyDescription SeriesDescription ProtocolName PerformedProcedureStepDescription
        RequestedProcedureDescription DerivationDescription
        AcquisitionDeviceProcessingDescription""",
    ),
)

#: Value representations of free text: checked by :mod:`casereport.deid.text` (names,
#: ID-like numbers, dates) unless the attribute is in :data:`SAFE_TEXT` or has a rule.
TEXT_VR = frozenset({"SH", "LO", "ST", "LT", "UT", "UC"})

#: Text attributes that hold coded or equipment values, not free text: never checked
#: (code values are numbers by design; code meanings come from a coding scheme).
SAFE_TEXT = frozenset(
    """
    CodeValue LongCodeValue URNCodeValue CodingSchemeDesignator CodingSchemeVersion
    CodeMeaning ContextIdentifier MappingResource MappingResourceName Manufacturer
    ManufacturerModelName SoftwareVersions DeidentificationMethod
    """.split()
)

#: keyword -> rule
BY_KEYWORD: dict[str, Rule] = {r.keyword: r for r in RULES}

#: Options of PS3.15 Table E.1-1 this project applies, as (code value, code meaning) of
#: CID 7050 (coding scheme DCM); written into DeidentificationMethodCodeSequence.
OPTIONS: tuple[tuple[str, str], ...] = (
    ("113100", "Basic Application Confidentiality Profile"),
    ("113105", "Clean Descriptors Option"),
    ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    ("113108", "Retain Patient Characteristics Option"),
)

#: Dummy patient names accepted by the gate (case-sensitive, one upper-case code after the
#: prefix): ``SIMULATED^CASE_A`` (casereport.synth), ``ANON^1A2B3C4D5E`` (deidentify).
PSEUDONYM_NAME = re.compile(r"^(SIMULATED|ANON)(\^[A-Z0-9_-]+)?$")
#: Dummy patient or study IDs accepted by the gate (``SIM-A``, ``SIM1``, ``ANON-1A2B3C4D5E``).
PSEUDONYM_ID = re.compile(r"^(SIM|ANON)[A-Z0-9_-]*$")

#: Ages of 90 years and above are grouped (they identify rare individuals).
MAX_AGE_YEARS = 89

#: Root of the UIDs of the DICOM standard itself (SOP classes, transfer syntaxes, codes):
#: never remapped.
STANDARD_UID_ROOT = "1.2.840.10008."


def declares_deidentified(ds: Dataset) -> bool:
    """``PatientIdentityRemoved`` is ``YES`` and a de-identification method is recorded.

    This is the condition under which dates are accepted: the method (text or code
    sequence) states that they were shifted, or that the data are fictitious.
    """
    removed = str(ds.get("PatientIdentityRemoved", "") or "").strip().upper() == "YES"
    method = bool(str(ds.get("DeidentificationMethod", "") or "").strip())
    codes = bool(ds.get("DeidentificationMethodCodeSequence"))
    return removed and (method or codes)


def age_years(value: str) -> float | None:
    """An Age String (``nnnD/W/M/Y``) in years, or ``None`` when it does not parse."""
    m = re.fullmatch(r"\s*(\d{1,3})([DWMY])\s*", value or "")
    if not m:
        return None
    n = int(m.group(1))
    return n / {"D": 365.25, "W": 52.18, "M": 12.0, "Y": 1.0}[m.group(2)]

"""The simulated subjects: demographics, body size and the finding each one carries."""

from __future__ import annotations

from dataclasses import dataclass

from casereport.errors import SynthError


@dataclass(frozen=True)
class Lesion:
    """A bone metastasis: name, anatomical site key (see ``anatomy``), radius in mm, uptake
    per volume relative to soft tissue."""

    name: str
    site: str
    radius_mm: float
    uptake: float


@dataclass(frozen=True)
class SubjectSpec:
    """One simulated patient.

    Attributes:
        key: subject folder name (``A``, ``B``, ``C``, ``control``).
        index: fixed small integer used in UIDs and seeds.
        sex: ``"F"`` or ``"M"``.
        age_years: age at the fictitious study date.
        height_mm: standing height in mm.
        weight_kg: body weight in kg (sets the girth of the phantom).
        history: clinical history shown in the README (simulated).
        lung_uptake: lung parenchyma concentration relative to soft tissue (0.2 is normal).
        lung_patches: number of patchy mid-chest foci per lung (0 = none).
        lung_patch_uptake: range of a focus's concentration relative to soft tissue.
        stomach_uptake: stomach wall concentration relative to soft tissue (1 is normal).
        renal_failure: True shifts activity from kidneys/bladder to soft tissue.
        lesions: bone metastases.
        spot_views: static chest views to acquire ("ANT", "POST").
        spect: whether a chest SPECT is acquired (fused with this subject's CT).
    """

    key: str
    index: int
    sex: str
    age_years: int
    height_mm: float
    weight_kg: float
    history: str
    lung_uptake: float = 0.2
    lung_patches: int = 0
    lung_patch_uptake: tuple[float, float] = (18.0, 40.0)
    stomach_uptake: float = 1.0
    renal_failure: bool = False
    lesions: tuple[Lesion, ...] = ()
    spot_views: tuple[str, ...] = ()
    spect: bool = False

    @property
    def patient_name(self) -> str:
        return "SIMULATED^" + ("CONTROL" if self.key == "control" else f"CASE_{self.key}")

    @property
    def patient_id(self) -> str:
        return "SIM-" + ("CONTROL" if self.key == "control" else self.key)

    @property
    def girth(self) -> float:
        """Lateral and antero-posterior scale of the body from the body-mass index (1 at 23)."""
        bmi = self.weight_kg / (self.height_mm / 1000.0) ** 2
        return float((bmi / 23.0) ** 0.5)


SUBJECTS: dict[str, SubjectSpec] = {
    "A": SubjectSpec(
        key="A",
        index=1,
        sex="F",
        age_years=53,
        height_mm=1600.0,
        weight_kg=64.0,
        history="breast carcinoma; hypercalcaemia",
        lung_uptake=4.8,
        stomach_uptake=28.0,
        spot_views=("ANT",),
    ),
    "B": SubjectSpec(
        key="B",
        index=2,
        sex="M",
        age_years=47,
        height_mm=1720.0,
        weight_kg=63.0,
        history="end-stage renal disease; hypercalcaemia",
        lung_patches=16,
        lung_patch_uptake=(26.0, 57.0),
        renal_failure=True,
        spot_views=("ANT", "POST"),
    ),
    "C": SubjectSpec(
        key="C",
        index=3,
        sex="F",
        age_years=67,
        height_mm=1570.0,
        weight_kg=58.0,
        history="breast carcinoma with bone metastases; hypercalcaemia",
        lung_uptake=5.3,
        lesions=(
            Lesion("right iliac wing", "ilium_R", 24.0, 64.0),
            Lesion("right supra-acetabular", "acetabulum_R", 18.0, 54.0),
            Lesion("T6", "T6", 15.0, 72.0),
            Lesion("T9", "T9", 15.0, 62.0),
            Lesion("L1", "L1", 17.0, 66.0),
            Lesion("L2", "L2", 17.0, 56.0),
            Lesion("right proximal femur", "femur_prox_R", 20.0, 54.0),
        ),
        spect=True,
    ),
    "control": SubjectSpec(
        key="control",
        index=4,
        sex="F",
        age_years=58,
        height_mm=1630.0,
        weight_kg=62.0,
        history="normal bone scan (reference)",
    ),
}


def resolve_cases(cases: str | list[str] | tuple[str, ...] | None) -> list[SubjectSpec]:
    """Subject specs for a comma-separated string or list of keys (``None`` = all)."""
    if cases is None:
        keys = list(SUBJECTS)
    elif isinstance(cases, str):
        keys = [c.strip() for c in cases.split(",") if c.strip()]
    else:
        keys = [str(c).strip() for c in cases]
    if not keys:
        raise SynthError("no case given; choose from " + ", ".join(SUBJECTS))
    unknown = [k for k in keys if k not in SUBJECTS]
    if unknown:
        raise SynthError(
            f"unknown case {', '.join(repr(u) for u in unknown)}; choose from "
            + ", ".join(SUBJECTS)
        )
    seen: list[str] = []
    for k in keys:
        if k not in seen:
            seen.append(k)
    return [SUBJECTS[k] for k in sorted(seen, key=lambda k: SUBJECTS[k].index)]

"""Free-text and UID checks of the de-identification gate (no pydicom, no I/O).

PS3.15's Clean Descriptors Option keeps descriptions, protocol and collimator names only
once they are cleaned of identifying information. A denylist of names cannot be complete,
so the check is an allowlist: a free-text value passes when

* every word of three or more letters is in :data:`VOCABULARY` (imaging, anatomy,
  radiopharmacy and a few function words); any other word may be a person's name;
* it holds no run of five or more digits (an ID, MRN, telephone or accession number;
  single ``-``, ``/`` or space separators count as part of the run);
* it holds no date (``2023-03-15``, ``15/03/2023``, ``20230315``, ``15 Mar 2023``).

Prose the author writes in a case file (history, findings, captions, alt text, labels) is
checked by :func:`prose_problems`: no date, no ID-like number and no title followed by a
name (``Mrs Doe``, ``Dr. Smith``); the vocabulary is not applied to prose.

UIDs fail when a component holds a date-time (``YYYYMMDDhhmm``…): at the start of a
component, or anywhere in a component short enough (at most 24 digits) not to be a
random number from a UID generator; and when a component is a date on its own
(``YYYYMMDD``, a real calendar day of 1900–2100), as in ``1.2.3.20190401.1``: PS3.15
replaces UIDs because they can leak the study date.

:func:`clean_text` removes exactly what :func:`text_problems` reports, so
``deidentify``'s output passes the gate by construction.
"""

from __future__ import annotations

import datetime as dt
import re

#: Words (lower case) accepted in free text: imaging and nuclear medicine terms, anatomy,
#: radiopharmaceuticals, units and function words. Words of one or two letters are
#: always accepted. Adding a word is a reviewed change (see docs/SECURITY.md).
VOCABULARY: frozenset[str] = frozenset(
    """
    abdomen abdominal ac acquired acquisition activity adc after and ankle ant anterior
    aortic appendicular arm arms arterial attenuation attn auto average axial axis
    baseline bed beds before bilateral biliary bladder blood body bone bones bowel brain
    breast breasts bq butterworth calcification calcium calibration cardiac care cervical
    chest clinical coll collimated collimator colloid colon contrast control converging
    cor coronal correction corrected count counts ctac cts cur current day days default
    delayed derived detector diagnostic diaphragm dist distal diverging dmsa dose dtpa dual
    dynamic early edge elbow emission energy equilibrium exam examination extremities
    extremity fanbeam fast fbp fdg feet femur fffirst fine first flood flow fluorine
    follow foot for frame frames from fused fusion gallium gantry gastric gated gauss
    gaussian half hamming hann hanning head headfirst heart hegp hehr helical hepatic
    high hip hips hmdp hour hours hdp imaging image images immediate in indium inferior
    injected injection intravenous iodine iter iteration iterations iterative kcts
    kernel kev kidney kidneys knee knees kvp lao late lateral leap left leg legp legs
    lehr lehrs lehs limb limbs liver localizer low lower lpo lumbar lung lungs maa mag
    main map mas mbq mci mdp mean medastinal mediastinal mediastinum medium medronate
    megp mehr metastases metastatic metastasis mibi min minute minutes mlem mode
    muscle neck nac non none normal oblique of on or oral original osem other parallel
    parathyroid pelvic pelvis per pertechnetate phantom phase photopeak pinhole planar
    plus pool position positions post posterior pre primary processed projection prone
    protocol proximal qc quality ramp rao raw recon reconstructed reconstruction
    recumbent reference renal research resolution restaging rib ribs right routine rpo
    sacral sagittal scan scat scatter scintigram scintigraphy scout second secondary
    seconds series sestamibi sharp shepp shoot shoulder shoulders simulated simulation
    skeletal skull slice slices smooth smoothing soft spect spine spiral spleen spot
    staging standard static step stomach study subset subsets sulfur sum summed
    superior supine survey synthetic table technetium test tetrofosmin thallium therapy
    thick thin thoracic thorax three thyroid tibia time timed tissue tomo tomographic
    tomography topogram total transaxial transmission transverse two uncorrected
    uniformity unknown upper uptake value values view views voxel voxels whole wholebody
    wiener window windows with without wrist
    """.split()
)

_WORD = re.compile(r"[A-Za-z]+")
_CAMEL = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
#: five or more digits, single separators allowed (IDs, phone numbers, dates)
_DIGITS = re.compile(r"\d(?:[-/ ]?\d){4,}")
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec"
_DATES = (
    re.compile(r"(?<!\d)(19|20)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?!\d)"),
    re.compile(r"(?<!\d)(19|20)\d\d[-/.](0?[1-9]|1[0-2])[-/.](0?[1-9]|[12]\d|3[01])(?!\d)"),
    re.compile(r"(?<!\d)(0?[1-9]|[12]\d|3[01])[-/.](0?[1-9]|1[0-2])[-/.](\d\d|\d{4})(?!\d)"),
    re.compile(rf"(?i)(?<!\d)\d{{1,2}}\s*[-./ ]?\s*({_MONTHS})[a-z]*\.?\s*[-./ ]?\s*\d{{2,4}}"),
    re.compile(rf"(?i)\b({_MONTHS})[a-z]*\.?\s+\d{{1,2}},?\s+\d{{4}}"),
)
_DATETIME = re.compile(r"(19|20)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])([01]\d|2[0-3])[0-5]\d")
#: a UID component longer than this is treated as a generated random number
_SHORT_COMPONENT = 24


def _words(text: str) -> list[str]:
    """Letter-only words of ``text``, camel case split (``WholeBody`` -> Whole, Body)."""
    out = []
    for run in _WORD.findall(text):
        out += _CAMEL.findall(run) or [run]
    return out


def unknown_words(text: str) -> list[str]:
    """Words of three or more letters not in :data:`VOCABULARY` (possible names)."""
    return [w for w in _words(text) if len(w) >= 3 and w.lower() not in VOCABULARY]


def _date_and_id_problems(text: str) -> list[str]:
    """``"date"`` and ``"ID-like number"`` when ``text`` holds one (checks of all text)."""
    problems = []
    if any(p.search(text) for p in _DATES):
        problems.append("date")
    if _DIGITS.search(text):
        problems.append("ID-like number")
    return problems


def text_problems(text: str) -> list[str]:
    """Why ``text`` may identify someone (empty list: it passes). Never echoes the text."""
    problems = _date_and_id_problems(text)
    if unknown_words(text):
        problems.append("word not in the vocabulary, possibly a name")
    return problems


#: a title followed by a capitalised word: ``Mrs Doe``, ``Dr. Smith``, ``Prof O'Neil``
_TITLED_NAME = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame)\.?\s+[A-Z][a-z'\-]+")


def prose_problems(text: str) -> list[str]:
    """Why a sentence of a case file may identify someone (empty list: it passes): a date,
    an ID-like number or a title followed by a name. Never echoes the text."""
    problems = _date_and_id_problems(text)
    if _TITLED_NAME.search(text):
        problems.append("title and name")
    return problems


def clean_text(text: str) -> str:
    """``text`` without dates, ID-like numbers and words outside the vocabulary."""
    out = text
    for p in _DATES:
        out = p.sub(" ", out)
    out = _DIGITS.sub(" ", out)
    bad = {w for w in unknown_words(out)}
    if bad:
        out = _WORD.sub(lambda m: _clean_run(m.group(0), bad), out)
    out = " ".join(out.split())
    return out.strip(" -_/,;:.^")


def _clean_run(run: str, bad: set[str]) -> str:
    parts = _CAMEL.findall(run) or [run]
    return "".join(p for p in parts if p not in bad)


def uid_has_datetime(uid: str) -> bool:
    """Whether a component of ``uid`` holds a date-time ``YYYYMMDDhhmm`` (see module doc)."""
    for comp in uid.strip().rstrip("\x00").split("."):
        if _DATETIME.match(comp):
            return True
        if len(comp) <= _SHORT_COMPONENT and _DATETIME.search(comp):
            return True
    return False


def is_date_component(comp: str) -> bool:
    """Whether ``comp`` is exactly ``YYYYMMDD``: a calendar day of the years 1900 to 2100."""
    if len(comp) != 8 or not comp.isdecimal() or not comp.isascii():
        return False
    year, month, day = int(comp[:4]), int(comp[4:6]), int(comp[6:])
    if not 1900 <= year <= 2100:
        return False
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


def uid_date_problem(uid: str) -> str | None:
    """``"date-time"`` or ``"date"`` when ``uid`` carries one (see module doc), else None."""
    if uid_has_datetime(uid):
        return "date-time"
    if any(is_date_component(c) for c in uid.strip().rstrip("\x00").split(".")):
        return "date"
    return None

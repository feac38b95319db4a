"""The keys a case file may hold, level by level: one table read by the parser (which keys
are allowed and required) and by the JSON Schema generator (docs/case.schema.json).

Adding a key: add a :class:`Key` to the right table here, read it in
:mod:`casereport.case.parse` into a field of :mod:`casereport.case.model`, and regenerate
the schema (``python -m casereport.case.schema``); tests fail until all three agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .model import VIEW_NAMES, AnnotationKind, PanelKind, Role
from .plane import Plane
from .window import PRESETS, WindowUnit

JSON = dict[str, Any]


@dataclass(frozen=True)
class Key:
    """One key of a mapping in the case file: name, JSON Schema of its value, meaning."""

    name: str
    schema: JSON
    doc: str
    required: bool = False
    extra: JSON = field(default_factory=dict)

    def as_schema(self) -> JSON:
        return {**self.schema, "description": self.doc, **self.extra}


TEXT: JSON = {"type": "string", "minLength": 1}
NUMBER: JSON = {"type": "number"}
PAIR: JSON = {"type": "array", "items": NUMBER, "minItems": 2, "maxItems": 2}
PATH: JSON = {**TEXT, "description": "file or folder, relative to the case folder"}
NM_WINDOW: JSON = {
    "oneOf": [
        {
            "type": "object",
            "properties": {u.value: PAIR},
            "required": [u.value],
            "additionalProperties": False,
        }
        for u in (WindowUnit.PERCENTILES, WindowUnit.COUNTS)
    ]
}
CT_WINDOW: JSON = {
    "oneOf": [
        {"enum": list(PRESETS)},
        {
            "type": "object",
            "properties": {"width": {"type": "number", "exclusiveMinimum": 0}, "level": NUMBER},
            "required": ["width", "level"],
            "additionalProperties": False,
        },
    ]
}


def crop_schema(axes: tuple[str, str]) -> JSON:
    return {
        "type": "object",
        "properties": {a: PAIR for a in axes},
        "required": list(axes),
        "additionalProperties": False,
    }


TOP: tuple[Key, ...] = (
    Key("case", {"type": ["string", "integer"]}, "case id (A, B, C, control)", required=True),
    Key("role", {"enum": [r.value for r in Role]}, "case (in Figure 1) or control", required=True),
    Key("patient", {"$ref": "#/$defs/patient"}, "patient facts", required=True),
    Key("findings", {"type": "array", "items": TEXT}, "short factual texts (article)"),
    Key("studies", {"$ref": "#/$defs/studies"}, "studies used by the measurements"),
    Key(
        "external_studies",
        {"type": "boolean"},
        "allow study paths outside the data folder (still de-identification gated)",
    ),
    Key(
        "panels",
        {"type": ["object", "null"], "additionalProperties": {"$ref": "#/$defs/panel"}},
        "figure panels by id",
    ),
    Key(
        "annotations",
        {"type": ["array", "null"], "items": {"$ref": "#/$defs/annotation"}},
        "arrows, circles, ellipses and labels in mm",
    ),
)

PATIENT: tuple[Key, ...] = (
    Key(
        "age",
        {"type": ["integer", "null"], "minimum": 0, "maximum": 130},
        "age in years (null: not stated)",
        required=True,
    ),
    Key("sex", {"enum": ["F", "M"]}, "F or M", required=True),
    Key("history", TEXT, "short clinical history", required=True),
)

SERIES: tuple[Key, ...] = (
    Key("uid", TEXT, "SeriesInstanceUID"),
    Key("number", {"type": "integer"}, "SeriesNumber"),
    Key("description", TEXT, "SeriesDescription (any case)"),
)
STUDY_DETAIL: tuple[Key, ...] = (
    Key("path", PATH, "file or folder, relative to the case folder", required=True),
    Key(
        "views",
        {"type": "array", "items": TEXT, "minItems": 1, "uniqueItems": True},
        "views of files that do not record theirs, e.g. [ANT]; two for one image holding "
        "ANT and POST side by side",
    ),
    Key(
        "spacing_mm",
        {
            "type": "array",
            "items": {"type": "number", "exclusiveMinimum": 0},
            "minItems": 2,
            "maxItems": 2,
        },
        "pixel spacing (row, column) of planar files that record none",
    ),
    Key(
        "series",
        {
            "type": "object",
            "properties": {k.name: k.as_schema() for k in SERIES},
            "minProperties": 1,
            "additionalProperties": False,
        },
        "which series of a folder: uid, number and/or description",
    ),
)
#: Schema of a study value (in ``$defs`` of the generated schema; keys refer to it).
STUDY_DEF: JSON = {
    "oneOf": [
        PATH,
        {
            "type": "object",
            "description": "one file per view",
            "propertyNames": {"enum": list(VIEW_NAMES)},
            "additionalProperties": PATH,
            "minProperties": 1,
        },
        {
            "type": "object",
            "properties": {k.name: k.as_schema() for k in STUDY_DETAIL},
            "required": ["path"],
            "additionalProperties": False,
        },
    ]
}
STUDY: JSON = {"$ref": "#/$defs/study"}
STUDIES: tuple[Key, ...] = (
    Key("whole_body", STUDY, "whole-body NM study (anterior and/or posterior view)"),
    Key("ct", STUDY, "chest CT (folder of slices or one file)"),
    Key("spect", STUDY, "SPECT volume sharing the CT's frame of reference"),
)

PANEL_COMMON: tuple[Key, ...] = (
    Key("kind", {"enum": [k.value for k in PanelKind]}, "what the panel shows", required=True),
    Key("study", STUDY, "the study shown (CT underlay for fusion)", required=True),
    Key("window", {}, "display window", required=True),
    Key("caption", {"type": "string"}, "caption text (empty in a draft)", required=True),
    Key("alt", TEXT, "alt text", required=True),
    Key("crop_mm", {}, "displayed region in mm"),
    Key("scale_bar_mm", {"type": "number", "minimum": 0}, "scale bar length (0: none)"),
)
VIEWS = {"type": "array", "items": TEXT, "minItems": 1, "uniqueItems": True}
_POSITION = tuple(
    Key(p.position_key, NUMBER, f"position of the {p.value} plane (patient mm)") for p in Plane
)
PANEL_KIND: dict[PanelKind, tuple[Key, ...]] = {
    PanelKind.PLANAR: (Key("views", VIEWS, "views shown, e.g. [ANT]", required=True),),
    PanelKind.WHOLEBODY: (Key("views", VIEWS, "views shown (default [ANT, POST])"),),
    PanelKind.CT: (
        Key("plane", {"enum": [p.value for p in Plane]}, "plane (default axial)"),
        *_POSITION,
    ),
    PanelKind.FUSION: (
        Key("plane", {"enum": [p.value for p in Plane]}, "plane (default axial)"),
        *_POSITION,
        Key("overlay", PATH, "SPECT volume fused on the CT", required=True),
        Key("overlay_window", NM_WINDOW, "window of the SPECT layer", required=True),
        Key(
            "alpha",
            {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "opacity of the SPECT layer",
        ),
    ),
}

ANNOTATION_COMMON: tuple[Key, ...] = (
    Key("panel", TEXT, "panel id", required=True),
    Key("type", {"enum": [k.value for k in AnnotationKind]}, "annotation type", required=True),
    Key("color", TEXT, "a matplotlib colour"),
    Key("view", TEXT, "view the coordinates refer to (planar panels)"),
)
ANNOTATION_KIND: dict[AnnotationKind, tuple[Key, ...]] = {
    AnnotationKind.ARROW: (
        Key("tip_mm", PAIR, "arrow tip", required=True),
        Key("tail_mm", PAIR, "arrow tail (text goes here)", required=True),
        Key("text", {"type": "string"}, "text at the tail"),
    ),
    AnnotationKind.CIRCLE: (
        Key("center_mm", PAIR, "centre", required=True),
        Key("radius_mm", {"type": "number", "exclusiveMinimum": 0}, "radius", required=True),
        Key("text", {"type": "string"}, "label"),
    ),
    AnnotationKind.ELLIPSE: (
        Key("center_mm", PAIR, "centre", required=True),
        Key("width_mm", {"type": "number", "exclusiveMinimum": 0}, "width", required=True),
        Key("height_mm", {"type": "number", "exclusiveMinimum": 0}, "height", required=True),
        Key("angle_deg", NUMBER, "rotation, degrees anticlockwise"),
        Key("text", {"type": "string"}, "label"),
    ),
    AnnotationKind.LABEL: (
        Key("at_mm", PAIR, "text position", required=True),
        Key("text", TEXT, "the text", required=True),
    ),
}


def names(keys: tuple[Key, ...]) -> tuple[set[str], set[str]]:
    """(required names, optional names) of ``keys``."""
    return ({k.name for k in keys if k.required}, {k.name for k in keys if not k.required})

"""A stylised adult phantom (MIRD/ORNL-like shapes) in patient LPS millimetres.

The body is laid out for a reference adult 1700 mm tall, standing height measured from the
soles (z = 0) to the vertex, then scaled to the subject: heights by ``height / 1700``,
widths and depths additionally by the subject's girth. Women get narrower shoulders, a wider
pelvis, breasts and a thicker fat layer.

:class:`Body` lists the parts (shape, tissue label, bone uptake weight) in painting order
and the landmarks the rest of the simulator and the tests need (vertebral centres, lesion
sites, organ boxes). :func:`rasterise` paints the parts onto any :class:`Grid`, so the
whole-body, CT and SPECT grids all come from the same analytic description.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from casereport.synth.grid import (
    Capsule,
    Clipped,
    Cylinder,
    Ellipsoid,
    FlatSegment,
    Grid,
    Profile,
    Shape,
    Sheet,
    Shell,
    Union,
    WallPatch,
    paint,
    rotated,
    rotation,
    shape_mask,
)


class Tissue(IntEnum):
    """Tissue labels of the phantom."""

    AIR = 0
    SOFT = 1
    FAT = 2
    LUNG = 3
    HEART = 4  # blood in the heart chambers
    LIVER = 5
    STOMACH_WALL = 6
    STOMACH_LUMEN = 7
    KIDNEY = 8
    BLADDER = 9
    SPLEEN = 10
    BRAIN = 11
    BREAST = 12
    GAS = 13
    MARROW = 14
    SPONGY = 15
    CORTICAL = 16
    CARTILAGE = 17
    BLOOD = 18
    MYOCARDIUM = 19
    FISSURE = 20


BONE_LABELS = (Tissue.MARROW, Tissue.SPONGY, Tissue.CORTICAL)

REF_HEIGHT_MM = 1700.0

# Vertebral levels: name -> reference height (mm above the soles) of the body centre.
_CERVICAL = {f"C{n}": 1525.0 - 15.0 * (n - 1) for n in range(1, 8)}
_THORACIC = {f"T{n}": 1412.0 - 23.6 * (n - 1) for n in range(1, 13)}
_LUMBAR = {f"L{n}": 1120.0 - 32.0 * (n - 1) for n in range(1, 6)}
VERTEBRAE = {**_CERVICAL, **_THORACIC, **_LUMBAR}

#: Height (mm) of one thoracic vertebral level in the reference adult.
_LEVEL_MM = 23.6

#: Rib neck (reference mm from the midline and behind the vertebral body centre): the
#: tubercle, resting on the front of the transverse process tip, and on the bottom of the rib
#: line's lobe (:data:`_GUTTER_X`, :data:`_RIB_ARC_DEPTH`), and the polar angle (degrees)
#: where the rib reaches the chest wall at its angle. The rib head sits on the
#: posterolateral corner of the body (:func:`_rib_head`).
_RIB_NECK = (38.0, 30.0)
#: head, neck (subject mm) and the outward normal of the wall: :meth:`Body.rib_neck`
_Neck = tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]
_RIB_WALL_DEG = 24.0
#: Share of a rib's rise (above its head) reached where the posterior arc meets the wall
#: (:data:`_RIB_WALL_DEG`); the arc climbs the rest of the way to the rib angle.
_RIB_WALL_RISE = 0.75

#: The back of the rib cage on either side of the spine (reference mm): the rib line is
#: deepest ``_GUTTER_X`` from the midline, ``_RIB_ARC_DEPTH`` behind the vertebral body
#: centre (level with the rib tubercles, in front of the transverse process tips), and
#: curves forward from there to the side of the chest as a superellipse of exponent
#: ``_LOBE_POWER``: each lung fills a rounded paravertebral gutter.
_GUTTER_X = 36.0
_RIB_ARC_DEPTH = 30.0
_LOBE_POWER = 2.2

#: Size of the heart (chambers, grooves, pericardium) relative to the reference adult's.
_HEART_SCALE = 0.95

#: Exponent of the superellipse of the back half of the trunk's cross-sections (skin and
#: muscle; 2 would be elliptic): a supine chest is full and flat behind. The rib line and
#: the rib cage are lobed behind instead (:data:`_GUTTER_X`).
_BACK_POWER = 2.8

#: Gap (reference mm) between a lung and the bone bounding its paravertebral gutter (pleura
#: and a thin fat layer).
_PLEURA_GAP = 2.0


def _thoracic_body(z_ref: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Half-width and half-depth (reference mm) of the thoracic vertebral body at height
    ``z_ref`` (reference mm), interpolated between T1 (14 x 11) and T12 (20 x 15)."""
    n = np.clip(1.0 + (_THORACIC["T1"] - np.asarray(z_ref, float)) / _LEVEL_MM, 1.0, 12.0)
    f = (n - 1.0) / 11.0
    return 14.0 + 6.0 * f, 11.0 + 4.0 * f


def _rib_head(n: int) -> tuple[float, float]:
    """Rib head ``n`` (reference mm from the midline and behind the vertebral body centre):
    on the posterolateral corner of its vertebral body, beside the root of the pedicle."""
    rx, ry = _thoracic_body(VERTEBRAE[f"T{n}"])
    return float(rx) - 2.0, float(ry) + 2.0


def _rib_head_z(n: int) -> float:
    """Height (reference mm) of the centre of rib head ``n``, in the upper part of its own
    vertebral body T``n`` (real heads of ribs 2-9 lie across the disc above, about 4 mm
    higher; data/README.md gives the rib counts with them there); the rise of the rib angle
    and the drop of the anterior end are measured from here."""
    return VERTEBRAE[f"T{n}"] + 8.0


#: Ribs 1-12: polar angle (degrees from the posterior midline) of the anterior end of the
#: bony rib; its drop below the head (vertebral levels); the rise (mm) of the rib angle
#: above the head; the shaft's half thickness and half height (mm); its twist (degrees the
#: thickness direction tilts up from horizontal) at the rib angle and at the anterior end.
_RIBS = (
    (150.0, 1.6, 0.0, 3.0, 8.0, 75.0, 75.0),
    (156.0, 3.9, 8.0, 3.0, 6.5, -10.0, 15.0),
    (152.0, 4.4, 12.0, 3.25, 6.5, -10.0, 15.0),
    (149.0, 4.8, 15.0, 3.25, 6.5, -10.0, 15.0),
    (146.0, 5.0, 17.0, 3.25, 6.5, -10.0, 15.0),
    (142.0, 5.2, 18.0, 3.25, 6.5, -10.0, 15.0),
    (138.0, 5.3, 18.0, 3.25, 6.5, -10.0, 15.0),
    (132.0, 5.2, 16.0, 3.25, 6.5, -10.0, 15.0),
    (124.0, 4.9, 13.0, 3.0, 5.75, -10.0, 15.0),
    (116.0, 4.4, 10.0, 3.0, 5.5, -10.0, 10.0),
    (96.0, 3.4, 4.0, 2.8, 5.0, -10.0, 0.0),
    (72.0, 2.4, 0.0, 2.6, 4.5, -10.0, 0.0),
)

#: Polar angle (degrees from the posterior midline) of the highest point of a rib, its angle.
_RIB_PEAK_DEG = 40.0

#: Share of a rib's fall from its angle to its anterior end that follows a half-cosine of
#: the distance along the wall (steepest at the side of the chest, level at the angle); the
#: rest falls evenly along the wall.
_RIB_FALL_CURVE = 0.6

#: Bone uptake weight of the rib shafts (the spine is 9-13, long-bone shafts 3): flat bones
#: with red marrow, seen through the lungs on an anterior view even with lung uptake.
RIB_UPTAKE = 12.0

# Antero-posterior centre of the vertebral bodies along z (kyphosis and lordosis), mm.
_SPINE_Y = np.array(
    [
        [975.0, 38.0],
        [1000.0, 28.0],
        [1080.0, 22.0],
        [1150.0, 30.0],
        [1200.0, 34.0],
        [1300.0, 34.0],
        [1400.0, 22.0],
        [1430.0, 8.0],
        [1530.0, 2.0],
    ]
)


@dataclass(frozen=True)
class LungSpace:
    """The space one lung may fill before the rib cage and the mediastinum bound it (subject
    mm): the upper half of ``apex`` above an elliptic cylinder of the same cross-section
    whose floor is the hemidiaphragm.

    The diaphragm surface is a dome, highest (``z_peak``) at ``x_peak`` about the middle of
    the hemithorax, falling by ``lateral_drop`` mm at ``lateral_mm`` towards the side (the
    costophrenic angle, lowest) and by ``medial_drop`` at ``medial_mm`` towards the heart,
    quadratically (no further than ``medial_drop`` medially), and by up to
    ``posterior_drop`` more over the back ``posterior_mm`` of the lung from ``y_back`` (the
    deep posterior costophrenic recess).
    """

    apex: Ellipsoid
    side: int
    x_peak: float
    z_peak: float
    lateral_drop: float
    lateral_mm: float
    medial_drop: float
    medial_mm: float
    y_back: float
    posterior_drop: float
    posterior_mm: float

    def floor(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Height (mm) of the diaphragm under the lung at (x, y)."""
        u = self.side * (np.asarray(x) - self.x_peak)  # > 0 towards the side
        drop = np.where(
            u > 0.0,
            self.lateral_drop * (u / self.lateral_mm) ** 2,
            self.medial_drop * np.minimum(-u / self.medial_mm, 1.0) ** 2,
        )
        back = np.clip((np.asarray(y) - self.y_back) / self.posterior_mm, 0.0, 1.0)
        return self.z_peak - drop - self.posterior_drop * back**2

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.apex.bounds()
        xs = np.array([lo[0], hi[0], self.x_peak])
        lo = lo.copy()
        lo[2] = min(float(lo[2]), float(self.floor(xs, np.full(3, hi[1])).min()))
        return lo, hi

    def mask(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        cx, cy, cz = self.apex.centre
        rx, ry, _ = self.apex.radii
        section = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0
        upper = (z > cz) & self.apex.mask(x, y, z)
        lower = (z <= cz) & section & (z >= self.floor(x, y))
        return upper | lower


@dataclass(frozen=True)
class Part:
    """One painted part: ``uptake`` None leaves the bone-uptake map untouched.

    ``only`` restricts painting to voxels already carrying one of these labels.
    """

    name: str
    shape: Shape
    label: Tissue
    uptake: float | None = None
    only: tuple[Tissue, ...] | None = None


@dataclass
class Phantom:
    """Tissue labels (uint8) and bone uptake weights (float32, relative) on a grid."""

    grid: Grid
    labels: np.ndarray
    uptake: np.ndarray


@dataclass
class Body:
    """The scaled anatomy of one subject: ordered parts and landmarks (LPS mm)."""

    sex: str
    height_mm: float
    girth: float
    arms_up: bool = False
    lung_vessels: bool = False
    parts: list[Part] = field(default_factory=list)
    landmarks: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    radii: dict[str, float] = field(default_factory=dict)
    #: :meth:`rib_neck` by (rib, side): the rib and its transverse process both use it
    _necks: dict[tuple[int, int], _Neck] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self.sz = self.height_mm / REF_HEIGHT_MM
        self.sxy = self.sz * self.girth
        female = self.sex == "F"
        self.shoulder = 0.92 if female else 1.0
        self.hips = 1.06 if female else 0.96
        self.fat_mm = 16.0 if female else 10.0
        self._build()

    # -- helpers -------------------------------------------------------------------------
    def p(self, x: float, y: float, z: float) -> tuple[float, float, float]:
        """Reference mm -> subject mm (girth scales x and y, height scales z)."""
        return (x * self.sxy, y * self.sxy, z * self.sz)

    def pb(self, x: float, y: float, z: float) -> tuple[float, float, float]:
        """Like :meth:`p` for skeletal positions: bones scale with height, less with girth."""
        s = self.sz * (0.5 + 0.5 * self.girth)
        return (x * s, y * s, z * self.sz)

    def r(self, v: float) -> float:
        """Scale a bone radius (mm)."""
        return v * self.sz

    def add(
        self,
        name: str,
        shape: Shape,
        label: Tissue,
        uptake: float | None = None,
        only: tuple[Tissue, ...] | None = None,
    ) -> None:
        self.parts.append(Part(name, shape, label, uptake, only))

    def bone(self, name: str, shape: Shape, uptake: float, label: Tissue = Tissue.CORTICAL) -> None:
        self.add(name, shape, label, uptake)

    def bone_chain(
        self,
        name: str,
        points: list[tuple[float, float, float]],
        radius_a: float,
        radius_b: float,
        uptake: float,
    ) -> None:
        """Cortical bone along subject-mm ``points``: one capsule per segment, each from
        bone radius ``radius_a`` to ``radius_b`` (reference mm, scaled by :meth:`r`)."""
        caps = tuple(
            Capsule(a, b, self.r(radius_a), self.r(radius_b))
            for a, b in zip(points[:-1], points[1:], strict=True)
        )
        self.bone(name, Union(caps), uptake)

    def long_bone(
        self,
        name: str,
        p0: tuple[float, float, float],
        p1: tuple[float, float, float],
        radius: float,
        uptake: float,
    ) -> None:
        """Hollow shaft: cortical tube with a marrow core."""
        self.bone(name, Capsule(p0, p1, radius, radius), uptake)
        core = max(radius - 4.0, radius * 0.45)
        self.add(name + " marrow", Capsule(p0, p1, core, core), Tissue.MARROW)

    def spine_y(self, z_ref: float) -> float:
        return float(np.interp(z_ref, _SPINE_Y[:, 0], _SPINE_Y[:, 1]))

    # -- the body ------------------------------------------------------------------------
    def _build(self) -> None:
        self._soft_tissue()
        self._organs()
        self._mediastinum()
        if self.lung_vessels:
            self._pulmonary_vessels()
            self._fissures()
        self._skull()
        self._spine()
        self._ribs_and_sternum()
        self._shoulder_girdle_and_arms()
        self._pelvis_and_legs()

    def _torso_table(self, shrink: float, inset: float | None = None) -> Profile:
        """The trunk's outline shrunk by ``shrink`` mm. With ``inset`` its back half is two
        lobes either side of the spine (:data:`_GUTTER_X`, :data:`_LOBE_POWER`), deepest
        ``inset`` mm in front of the rib tubercles (:data:`_RIB_ARC_DEPTH`): the back of the
        rib cage."""
        sh, hp = self.shoulder, self.hips
        rows = [
            (820.0, 12.0, 145.0 * hp, 92.0),
            (850.0, 10.0, 172.0 * hp, 105.0),
            (900.0, 6.0, 180.0 * hp, 110.0),
            (980.0, 0.0, 165.0 * hp, 100.0),
            (1060.0, 0.0, 140.0, 93.0),
            (1150.0, 0.0, 146.0, 100.0),
            (1250.0, 0.0, 152.0, 106.0),
            (1340.0, 0.0, 160.0 * sh, 102.0),
            (1395.0, 6.0, 172.0 * sh, 90.0),
            (1420.0, 8.0, 115.0 * sh, 68.0),
            (1440.0, 10.0, 62.0, 55.0),
        ]
        table = []
        for z, yc, a, b in rows:
            x0, y0, z0 = self.p(0.0, yc, z)
            table.append((z0, x0, y0, a * self.sxy - shrink, b * self.sxy - shrink))
        if inset is None:
            return Profile(tuple(table), _BACK_POWER)
        sb = self.sz * (0.5 + 0.5 * self.girth)
        t = np.asarray(table)
        lobes = []
        for z in np.arange(rows[0][0], rows[-1][0] + 1.0, 10.0):
            y0 = float(np.interp(z * self.sz, t[:, 0], t[:, 2]))
            depth = (self.spine_y(float(z)) + _RIB_ARC_DEPTH) * sb - y0 - inset
            lobes.append((float(z * self.sz), _GUTTER_X * sb, depth))
        return Profile(tuple(table), _BACK_POWER, tuple(lobes), _LOBE_POWER)

    def on_wall(
        self, profile: Profile, z: float, angle_deg: float, side: int, offset: float = 0.0
    ) -> tuple[float, float, float]:
        """Point (subject mm) ``offset`` mm outside ``profile`` at height ``z`` (subject mm),
        polar angle from the posterior midline towards ``side``."""
        (x, y), _n = profile.point(z, angle_deg, side, offset)
        return (x, y, z)

    def _soft_tissue(self) -> None:
        f = self.fat_mm
        torso = self._torso_table(0.0)
        self.torso = torso
        self.add("torso", torso, Tissue.FAT)
        self.add("torso muscle", self._torso_table(f), Tissue.SOFT, only=(Tissue.FAT,))
        wall = 10.0 * self.sz
        # The rib line carries the ribs' centre lines; the cage, 6 mm inside it, the lungs.
        self.ribline = self._torso_table(f + wall, 0.0)
        self.cage = self._torso_table(f + wall + 6.0 * self.sz, 6.0 * self.sz)
        neck = Profile(
            tuple(
                (self.p(0, 0, z)[2], 0.0, self.p(0, y, 0)[1], a * self.sxy, a * self.sxy)
                for z, y, a in ((1420.0, 10.0, 58.0), (1480.0, 8.0, 52.0), (1520.0, 0.0, 54.0))
            )
        )
        self.add("neck", neck, Tissue.SOFT)
        s = self.sz
        head_c = (0.0, -4.0 * s, 1592.0 * s)
        self.add("head", Ellipsoid(head_c, (76.0 * s, 98.0 * s, 106.0 * s)), Tissue.SOFT)
        self.add(
            "face",
            Ellipsoid((0.0, -40.0 * s, 1520.0 * s), (52.0 * s, 58.0 * s, 58.0 * s)),
            Tissue.SOFT,
        )
        g = self.girth
        for side in (-1, 1):
            # Legs: per-leg profiles (z, x_centre, y_centre, half-width, half-depth).
            rows = [
                (60.0, 90.0, 5.0, 34.0, 38.0),
                (150.0, 88.0, 6.0, 38.0, 42.0),
                (300.0, 84.0, 12.0, 50.0, 54.0),
                (430.0, 80.0, 5.0, 46.0, 46.0),
                (475.0, 80.0, 0.0, 50.0, 50.0),
                (600.0, 88.0, 0.0, 62.0, 62.0),
                (760.0, 96.0 * self.hips, 2.0, 78.0, 80.0),
                (860.0, 100.0 * self.hips, 8.0, 86.0, 88.0),
            ]
            table = tuple(
                (z * s, side * x * s, y * s * g, a * s * g, b * s * g) for z, x, y, a, b in rows
            )
            self.add(f"leg {side}", Profile(table), Tissue.FAT)
            inner = tuple((z, x, y, a - 6.0, b - 6.0) for z, x, y, a, b in table)
            self.add(f"leg muscle {side}", Profile(inner), Tissue.SOFT, only=(Tissue.FAT,))
            foot = rotated(
                self.pb(side * 98.0, -45.0, 42.0), (40.0 * s, 105.0 * s, 34.0 * s), ("x", -15.0)
            )
            self.add(f"foot {side}", foot, Tissue.SOFT)
            sh = self.shoulder
            shoulder = self.pb(side * 178.0 * sh, 12.0, 1386.0)
            self.add(
                f"deltoid {side}",
                Ellipsoid(shoulder, (52.0 * s * g, 56.0 * s * g, 48.0 * s)),
                Tissue.SOFT,
            )
            if self.arms_up:
                # Arms raised beside the head, as for a routine chest CT.
                elbow = self.pb(side * 130.0, 30.0, 1690.0)
                self.add(
                    f"upper arm {side}",
                    Capsule(shoulder, elbow, 44.0 * s * g, 37.0 * s * g),
                    Tissue.SOFT,
                )
                continue
            # Arms hang beside the trunk, palms facing the thighs.
            elbow = self.pb(side * 212.0, 12.0, 1075.0)
            wrist = self.pb(side * 234.0, -4.0, 835.0)
            self.add(
                f"upper arm {side}",
                Capsule(shoulder, elbow, 44.0 * s * g, 37.0 * s * g),
                Tissue.SOFT,
            )
            self.add(
                f"forearm {side}", Capsule(elbow, wrist, 37.0 * s * g, 27.0 * s * g), Tissue.SOFT
            )
            hand = self.pb(side * 240.0, -8.0, 745.0)
            self.add(f"hand {side}", Ellipsoid(hand, (20.0 * s, 46.0 * s, 92.0 * s)), Tissue.SOFT)
            self.landmarks[f"hand_{'L' if side > 0 else 'R'}"] = hand
        self.landmarks["vertex"] = (0.0, 0.0, head_c[2] + 106.0 * s)

    def _organs(self) -> None:
        s = self.sz
        if self.sex == "F":
            # Supine breasts: flattened domes on the pectoral muscle, falling laterally.
            for side in (-1, 1):
                z = 1245.0 * s
                x, y, _ = self.on_wall(self.torso, z, 148.0, side, 0.0)
                c = (x, y + 8.0 * s, z)
                dome = rotated(c, (82.0 * s, 28.0 * s, 64.0 * s), ("z", side * 18.0))
                self.add(f"breast {side}", dome, Tissue.FAT, only=(Tissue.AIR,))
                gland = rotated(
                    (x, y - 4.0 * s, z), (52.0 * s, 18.0 * s, 44.0 * s), ("z", side * 18.0)
                )
                self.add(f"breast gland {side}", gland, Tissue.BREAST, only=(Tissue.FAT,))
        self.add(
            "brain",
            Ellipsoid((0.0, 5.0 * s, 1606.0 * s), (62.0 * s, 82.0 * s, 84.0 * s)),
            Tissue.BRAIN,
        )
        self.add(
            "liver",
            rotated(self.p(-58.0, 4.0, 1118.0), (112.0 * s, 84.0 * s, 78.0 * s), ("y", -12.0)),
            Tissue.LIVER,
            only=(Tissue.SOFT,),
        )
        self.add(
            "spleen",
            Ellipsoid(self.p(100.0, 62.0, 1132.0), (30.0 * s, 45.0 * s, 52.0 * s)),
            Tissue.SPLEEN,
            only=(Tissue.SOFT,),
        )
        self._stomach()
        for side, dz in ((-1, -14.0), (1, 0.0)):
            k = self.p(side * 64.0, 58.0, 1062.0 + dz)
            kidney = rotated(k, (30.0 * s, 24.0 * s, 54.0 * s), ("y", side * 12.0))
            self.add(f"kidney {side}", kidney, Tissue.KIDNEY, only=(Tissue.SOFT, Tissue.FAT))
            self.landmarks[f"kidney_{'L' if side > 0 else 'R'}"] = k
        bl = self.p(0.0, -38.0, 885.0)
        self.add("bladder", Ellipsoid(bl, (46.0 * s, 40.0 * s, 36.0 * s)), Tissue.BLADDER)
        self.landmarks["bladder"] = bl
        # Lungs: fill the rib cage above the diaphragm; the mediastinum is painted over them.
        self.lungs = {}
        self._lung_fill: dict[str, LungSpace] = {}
        for side in (-1, 1):
            tag = "L" if side > 0 else "R"
            # Domed bases: the right dome about 18 mm above the left, both near T9-T10,
            # the costophrenic angles lowest laterally and deepest posteriorly.
            fill = LungSpace(
                Ellipsoid(
                    self.p(side * 70.0, 8.0, 1285.0 - (8.0 if side > 0 else 0.0)),
                    (105.0 * s * self.girth, 125.0 * s * self.girth, 150.0 * s),
                ),
                side,
                x_peak=side * 62.0 * self.sxy,
                z_peak=(1205.0 if side > 0 else 1223.0) * s,
                lateral_drop=56.0 * s,
                lateral_mm=45.0 * self.sxy,
                medial_drop=14.0 * s,
                medial_mm=45.0 * self.sxy,
                y_back=self.p(0.0, 10.0, 0.0)[1],
                posterior_drop=22.0 * s,
                posterior_mm=50.0 * self.sxy,
            )
            # The liver and spleen lie under the domes: the lung takes any part above them.
            self.add(
                f"lung {side}", fill, Tissue.LUNG, only=(Tissue.SOFT, Tissue.LIVER, Tissue.SPLEEN)
            )
            self._lung_fill[tag] = fill
            c = self.p(side * 72.0, 14.0, 1275.0)
            self.lungs[tag] = Ellipsoid(
                c, (64.0 * s * self.girth, 80.0 * s * self.girth, 140.0 * s)
            )
            self.landmarks[f"lung_{tag}"] = c
        # Posterior mediastinum in front of the spine (fat around the aorta and oesophagus).
        self.add(
            "posterior mediastinum",
            Profile(
                tuple(
                    (
                        z * s,
                        4.0 * self.sxy,
                        self.pb(0, self.spine_y(z), 0)[1] - 4.0,
                        22.0 * s,
                        20.0 * s,
                    )
                    for z in (1180.0, 1250.0, 1320.0, 1400.0, 1450.0)
                )
            ),
            Tissue.FAT,
            only=(Tissue.SOFT,),
        )

        self._erector_spinae()

    def _erector_spinae(self) -> None:
        """Erector spinae: a muscle column on each side of the spinous processes, lying on
        the laminae and transverse processes behind the ribs, outlined by a thin fat plane
        (chest levels, T1-T11)."""
        s = self.sz
        sb = s * (0.5 + 0.5 * self.girth)
        plane = 2.0 * s
        for side in (-1, 1):
            rows = [
                (z * s, side * 26.0 * sb, (self.spine_y(z) + 42.0) * sb, 18.0 * sb, 11.0 * sb)
                for z in (1150.0, 1250.0, 1340.0, 1410.0)
            ]
            fascia = tuple((z, x, y, a + plane, b + plane) for z, x, y, a, b in rows)
            self.add(
                f"erector spinae fascia {side}", Profile(fascia), Tissue.FAT, only=(Tissue.SOFT,)
            )
            self.add(
                f"erector spinae {side}", Profile(tuple(rows)), Tissue.SOFT, only=(Tissue.FAT,)
            )

    def _stomach(self) -> None:
        """J-shaped stomach: fundus under the left hemidiaphragm, body, antrum to the right."""
        s = self.sz
        pts = [
            (70.0, 18.0, 1160.0, 38.0),
            (76.0, 0.0, 1125.0, 36.0),
            (66.0, -22.0, 1085.0, 30.0),
            (50.0, -40.0, 1056.0, 20.0),
            (38.0, -44.0, 1070.0, 14.0),
        ]
        wall = 6.0 * s
        outer, inner = [], []
        for (x0, y0, z0, r0), (x1, y1, z1, r1) in zip(pts[:-1], pts[1:], strict=True):
            p0, p1 = self.p(x0, y0, z0), self.p(x1, y1, z1)
            outer.append(Capsule(p0, p1, r0 * s, r1 * s))
            inner.append(Capsule(p0, p1, r0 * s - wall, r1 * s - wall))
        self.add("stomach wall", Union(tuple(outer)), Tissue.STOMACH_WALL, only=(Tissue.SOFT,))
        self.add(
            "stomach lumen", Union(tuple(inner)), Tissue.STOMACH_LUMEN, only=(Tissue.STOMACH_WALL,)
        )
        fundus = Ellipsoid(self.p(70.0, 18.0, 1160.0), (32.0 * s, 32.0 * s, 32.0 * s))
        gas = Clipped(fundus, (0.0, 0.0, self.p(0, 0, 1172.0)[2]), (0.0, 0.0, 1.0))
        self.add("stomach gas", gas, Tissue.GAS, only=(Tissue.STOMACH_LUMEN,))
        c = self.p(72.0, -8.0, 1122.0)
        self.stomach = Ellipsoid(c, (50.0 * s, 40.0 * s, 66.0 * s))
        self.landmarks["stomach"] = c
        self.radii["stomach"] = 66.0 * s

    def tube(
        self,
        name: str,
        points: list[tuple[float, float, float]],
        radius: float,
        label: Tissue,
        radius_end: float | None = None,
        only: tuple[Tissue, ...] | None = None,
    ) -> None:
        """A chain of capsules through reference-mm ``points`` (a vessel, the oesophagus);
        ``only`` as for :meth:`add`."""
        r1 = radius if radius_end is None else radius_end
        n = len(points) - 1
        caps = []
        for k in range(n):
            ra = radius + (r1 - radius) * k / n
            rb = radius + (r1 - radius) * (k + 1) / n
            caps.append(
                Capsule(self.p(*points[k]), self.p(*points[k + 1]), ra * self.sz, rb * self.sz)
            )
        self.add(name, Union(tuple(caps)), label, only=only)

    def _mediastinum(self) -> None:
        s = self.sz
        env = Profile(
            tuple(
                (
                    self.p(0, 0, z)[2],
                    self.p(x, 0, 0)[0],
                    self.p(0, y, 0)[1],
                    a * self.sxy,
                    b * self.sxy,
                )
                for z, x, y, a, b in (
                    (1270.0, 8.0, -22.0, 44.0, 56.0),
                    (1300.0, 4.0, -22.0, 38.0, 56.0),
                    (1350.0, 0.0, -20.0, 32.0, 54.0),
                    (1400.0, 0.0, -16.0, 28.0, 48.0),
                    (1445.0, 0.0, -10.0, 26.0, 44.0),
                )
            )
        )
        self.add("mediastinal fat", env, Tissue.FAT, only=(Tissue.LUNG, Tissue.SOFT))
        heart_c = self._heart()
        self.landmarks["heart"] = heart_c
        blood = Tissue.BLOOD
        self.tube("ascending aorta", [(-4.0, -34.0, 1248.0), (-8.0, -28.0, 1345.0)], 15.0, blood)
        self.tube(
            "aortic arch",
            [
                (-8.0, -28.0, 1345.0),
                (-2.0, -16.0, 1368.0),
                (14.0, 0.0, 1368.0),
                (20.0, 12.0, 1350.0),
            ],
            13.0,
            blood,
        )
        # A plane of fat round the descending aorta separates it from the left atrium and,
        # lower down, from the liver and the stomach (retrocrural fat).
        self.tube(
            "periaortic fat",
            [(20.0, 12.0, 1350.0), (24.0, 14.0, 1250.0), (18.0, 14.0, 1130.0), (6.0, 10.0, 1000.0)],
            15.0,
            Tissue.FAT,
            radius_end=13.0,
            only=(Tissue.MYOCARDIUM, Tissue.HEART, Tissue.SOFT, Tissue.LIVER, Tissue.STOMACH_WALL),
        )
        self.tube(
            "descending aorta",
            [(20.0, 12.0, 1350.0), (24.0, 14.0, 1250.0), (18.0, 14.0, 1130.0), (6.0, 10.0, 1000.0)],
            12.0,
            blood,
            radius_end=10.0,
        )
        for name, top in (
            ("brachiocephalic trunk", (-16.0, -14.0, 1440.0)),
            ("left carotid", (-2.0, -10.0, 1445.0)),
            ("left subclavian", (14.0, 2.0, 1440.0)),
        ):
            start = (-2.0, -16.0, 1368.0) if "brachio" in name else (6.0, -6.0, 1368.0)
            self.tube(name, [start, top], 6.0, blood)
        self.tube(
            "superior vena cava", [(-30.0, -22.0, 1420.0), (-28.0, -22.0, 1262.0)], 10.0, blood
        )
        # Azygos vein: up the right front of the spine, arching over the right main bronchus
        # into the superior vena cava.
        self.tube(
            "azygos vein",
            [
                (-10.0, 18.0, 1120.0),
                (-10.0, 16.0, 1300.0),
                (-22.0, 4.0, 1334.0),
                (-28.0, -18.0, 1334.0),
            ],
            4.0,
            blood,
        )
        self.tube("pulmonary trunk", [(18.0, -52.0, 1256.0), (20.0, -32.0, 1316.0)], 13.0, blood)
        self.tube(
            "left pulmonary artery", [(20.0, -32.0, 1316.0), (44.0, 0.0, 1322.0)], 10.0, blood
        )
        self.tube(
            "right pulmonary artery",
            [(20.0, -32.0, 1316.0), (-8.0, -14.0, 1312.0), (-46.0, -4.0, 1304.0)],
            10.0,
            blood,
        )
        self.hila = {"R": self.p(-46.0, -4.0, 1304.0), "L": self.p(44.0, 0.0, 1322.0)}
        # Airway with walls; a small air bubble in the oesophagus.
        carina = (0.0, -4.0, 1322.0)
        airway = [
            ("trachea", [(0.0, -22.0, 1480.0), carina], 8.5),
            ("right main bronchus", [carina, (-36.0, 2.0, 1300.0)], 6.5),
            ("left main bronchus", [carina, (40.0, 4.0, 1300.0)], 6.0),
            ("right upper lobe bronchus", [(-36.0, 2.0, 1300.0), (-60.0, -2.0, 1318.0)], 4.5),
            ("bronchus intermedius", [(-36.0, 2.0, 1300.0), (-50.0, 10.0, 1250.0)], 4.5),
            ("left upper lobe bronchus", [(40.0, 4.0, 1300.0), (62.0, -4.0, 1312.0)], 4.5),
            ("left lower lobe bronchus", [(40.0, 4.0, 1300.0), (58.0, 22.0, 1252.0)], 4.5),
        ]
        for name, pts, r in airway:
            self.tube(name + " wall", pts, r + 1.8, Tissue.SOFT)
        for name, pts, r in airway:
            self.tube(name, pts, r, Tissue.GAS)
        self.landmarks["carina"] = self.p(*carina)
        oes = [(4.0, 2.0, 1470.0), (6.0, 10.0, 1330.0), (12.0, 8.0, 1200.0), (42.0, -4.0, 1150.0)]
        self.tube("oesophagus", oes, 8.0, Tissue.SOFT)
        self.add(
            "oesophageal air",
            Ellipsoid(self.p(6.0, 10.0, 1345.0), (3.5 * s, 3.0 * s, 12.0 * s)),
            Tissue.GAS,
        )

    def _heart_frame(self) -> tuple[np.ndarray, np.ndarray]:
        """Centre (subject mm) and axes of the heart: columns u (long axis, base to apex:
        left, anterior and down), v (towards the left ventricle: left and posterior) and w
        (up and a little anterior)."""
        m = rotation("z", -45.0) @ rotation("y", 30.0)
        return np.asarray(self.p(26.0, -30.0, 1246.0)), m

    def _heart_point(self, u: float, v: float, w: float) -> tuple[float, float, float]:
        """Subject mm of heart-frame coordinates (reference mm)."""
        c, m = self._heart_frame()
        q = c + m @ (np.array([u, v, w]) * self.sz * _HEART_SCALE)
        return (float(q[0]), float(q[1]), float(q[2]))

    def _heart_ellipsoid(
        self, centre: tuple[float, float, float], radii: tuple[float, float, float]
    ) -> Ellipsoid:
        """Ellipsoid in the heart frame: ``centre`` and ``radii`` in reference mm along u, v, w."""
        _, m = self._heart_frame()
        r = tuple(float(v) * self.sz * _HEART_SCALE for v in radii)
        rot = tuple(tuple(float(v) for v in row) for row in m)
        return Ellipsoid(self._heart_point(*centre), r, rot)  # type: ignore[arg-type]

    def _groove(
        self, name: str, surface: Shape, points: list[tuple[float, float, float]], r: float
    ) -> None:
        """Epicardial fat along a groove of the heart surface and its coronary artery.

        ``points`` are heart-frame points (reference mm) inside the heart; each is pushed out
        along the ray from the heart centre to the surface of ``surface``. The fat (radius
        ``r`` mm) replaces heart wall and blood only; the artery runs 2 mm inside it.
        """
        c, _ = self._heart_frame()
        surf = []
        t = np.linspace(0.0, 120.0 * self.sz, 481)
        for q in points:
            d = np.asarray(self._heart_point(*q)) - c
            d /= np.linalg.norm(d)
            ray = c[:, None] + d[:, None] * t[None, :]
            inside = np.flatnonzero(surface.mask(ray[0], ray[1], ray[2]))
            if inside.size:
                surf.append((ray[:, inside[-1]], d))
        heart = (Tissue.HEART, Tissue.MYOCARDIUM)
        rr = r * self.sz
        fat = tuple(
            Capsule(tuple(a), tuple(b), rr, rr)  # type: ignore[arg-type]
            for (a, _), (b, _) in zip(surf[:-1], surf[1:], strict=True)
        )
        self.add(f"{name} fat", Union(fat), Tissue.FAT, only=heart)
        ra = 1.8 * self.sz
        art = tuple(
            Capsule(tuple(a - 2.0 * da), tuple(b - 2.0 * db), ra, ra)  # type: ignore[arg-type]
            for (a, da), (b, db) in zip(surf[:-1], surf[1:], strict=True)
        )
        self.add(f"{name} artery", Union(art), Tissue.BLOOD, only=(Tissue.FAT,))

    def _heart(self) -> tuple[float, float, float]:
        """The heart in its pericardial fat: four chambers, the myocardium a little denser
        than the blood (about 50 vs 40 HU), epicardial fat with the coronary arteries in the
        atrioventricular and interventricular grooves, the pericardium a thin line between
        epicardial and pericardial fat. Returns the heart centre (subject mm).

        Volumes at reference size (blood): left ventricle about 125 ml, right ventricle about
        100 ml, atria 35-45 ml; left ventricular wall 8 mm, right 3 mm.
        """
        s = self.sz
        myo, blood = Tissue.MYOCARDIUM, Tissue.HEART
        around = (Tissue.LUNG, Tissue.SOFT, Tissue.FAT, Tissue.LIVER)
        # Pericardial fat outside the sac, then the pericardium (1.5 mm of soft tissue).
        sac = self._heart_ellipsoid((6.0, -1.0, -2.0), (67.0, 53.0, 44.0))
        # Behind the heart the lung reaches the descending aorta: no fat there.
        back = Clipped(sac, self.p(0.0, 4.0, 0.0), (0.0, -1.0, 0.0))
        self.add("pericardial fat", back, Tissue.FAT, only=around)
        peri = self._heart_ellipsoid((6.0, -1.0, -2.0), (61.0, 47.0, 38.5))
        self.add("pericardium", Shell(peri, 1.6 * s), Tissue.SOFT, only=(Tissue.FAT,))
        self.add(
            "epicardial fat pad",
            Ellipsoid(self.p(62.0, -62.0, 1210.0), (26.0 * s, 14.0 * s, 22.0 * s)),
            Tissue.FAT,
            only=(Tissue.LUNG, Tissue.SOFT),
        )
        self.add(
            "pericardial fat pad right",
            Ellipsoid(self.p(-38.0, -40.0, 1200.0), (22.0 * s, 18.0 * s, 14.0 * s)),
            Tissue.FAT,
            only=(Tissue.LUNG, Tissue.SOFT),
        )
        # Atria at the base: the left behind (in front of the oesophagus and aorta), the
        # right on the right, receiving the superior vena cava.
        la = Ellipsoid(self.p(2.0, -4.0, 1268.0), (36.0 * s, 19.0 * s, 25.0 * s))
        ra = Ellipsoid(self.p(-30.0, -18.0, 1254.0), (26.0 * s, 24.0 * s, 31.0 * s))
        for name, e in (("left atrium", la), ("heart right atrium", ra)):
            self.add(name, e, myo)
            inner = Ellipsoid(e.centre, tuple(r - 2.5 * s for r in e.radii))  # type: ignore[arg-type]
            self.add(name + " blood", inner, blood)
        # Ventricles: the right in front, its free wall thin; the left behind and to the
        # left, its wall and the septum thicker.
        rv = self._heart_ellipsoid((2.0, -16.0, -3.0), (54.0, 30.0, 37.0))
        lv = self._heart_ellipsoid((10.0, 14.0, 0.0), (57.0, 35.0, 35.0))
        self.add("heart right ventricle", rv, myo)
        self.add(
            "heart right ventricle blood",
            self._heart_ellipsoid((2.0, -16.0, -3.0), (51.0, 27.0, 34.0)),
            blood,
        )
        self.add("heart left ventricle", lv, myo)
        self.add(
            "heart left ventricle blood",
            self._heart_ellipsoid((10.0, 14.0, 0.0), (50.0, 27.0, 27.0)),
            blood,
        )
        # Grooves: the atrioventricular ring round the base (right and circumflex coronary
        # arteries), the anterior and inferior interventricular grooves along the septum.
        ventricles = Union((rv, lv))
        ring = [
            (-34.0, 40.0 * np.cos(a), 40.0 * np.sin(a))
            for a in np.deg2rad(np.arange(-150.0, 151.0, 15.0))
        ]
        self._groove("atrioventricular groove", ventricles, ring, 5.0)
        for name, angles in (
            ("anterior interventricular groove", np.arange(100.0, -1.0, -10.0)),
            ("inferior interventricular groove", np.arange(-100.0, -19.0, 10.0)),
        ):
            pts = [(10.0 + 50.0 * np.cos(a), -18.0, 34.0 * np.sin(a)) for a in np.deg2rad(angles)]
            self._groove(name, ventricles, pts, 4.5)
        c, _ = self._heart_frame()
        return (float(c[0]), float(c[1]), float(c[2]))

    def _pulmonary_vessels(self) -> None:
        """Branching arterial and venous trees from each hilum, tapering to the periphery."""
        rng = np.random.default_rng(17)
        fill = self._lung_fill
        s = self.sz

        def inside(side: str, q: np.ndarray) -> bool:
            e = fill[side]
            if not bool(e.mask(*(np.array([v]) for v in q))[0]):
                return False
            qx, qy, qz = (np.array([v]) for v in q)
            return float(self.cage.rho2(qx, qy, qz)[0]) < 0.9

        caps: list[Capsule] = []

        def grow(side: str, p: np.ndarray, d: np.ndarray, r: float, length: float) -> None:
            for _ in range(2):
                q = p + d * length
                if inside(side, q):
                    break
                length *= 0.5
            else:
                return
            r_end = r * 0.92
            caps.append(Capsule(tuple(p), tuple(q), r, r_end))  # type: ignore[arg-type]
            if r_end < 0.45 * s:
                return
            for _k in range(2):
                axis = np.cross(d, rng.standard_normal(3))
                axis /= np.linalg.norm(axis) + 1e-12
                ang = np.deg2rad(rng.uniform(18.0, 38.0))
                nd = d * np.cos(ang) + np.cross(axis, d) * np.sin(ang)
                nd /= np.linalg.norm(nd)
                grow(side, q, nd, r_end * 0.8, length * rng.uniform(0.75, 0.9))

        starts = {
            "R": [
                (-0.45, 0.05, 0.9),
                (-1.0, -0.25, 0.1),
                (-0.6, -0.75, -0.25),
                (-0.55, 0.35, -0.75),
                (-0.35, 0.85, -0.4),
                (-0.8, 0.4, 0.4),
            ],
            "L": [
                (0.45, 0.05, 0.9),
                (1.0, -0.25, 0.1),
                (0.55, -0.75, -0.3),
                (0.55, 0.35, -0.75),
                (0.35, 0.85, -0.45),
                (0.8, 0.4, 0.4),
            ],
        }
        for side in ("R", "L"):
            hx, hy, hz = self.hila[side]
            sgn = 1.0 if side == "L" else -1.0
            roots = [
                np.array([hx, hy, hz]),
                np.array([hx - sgn * 4.0 * s, hy - 8.0 * s, hz - 40.0 * s]),
            ]
            # Roots of 3.7 mm: the trees cover 2-6 % of the lung fields on a 5 mm slice
            # (about 4 % on average, between the carina and 80 mm below it).
            for root in roots:
                for d in starts[side]:
                    v = np.array(d) / np.linalg.norm(d)
                    grow(side, root + v * 6.0 * s, v, 3.7 * s, 26.0 * s)
        for n, cap in enumerate(caps):
            self.add(f"pulmonary vessel {n}", cap, Tissue.BLOOD, only=(Tissue.LUNG,))

    def _fissures(self) -> None:
        """Interlobar fissures, as thin sheets of pleura across the lung: the major (oblique)
        fissure of each lung from the back at the level of T4-T5 down and forwards to the
        front third of the diaphragm, running from posteromedial to anterolateral on an axial
        slice; the minor (horizontal) fissure of the right lung, a shallow dome at the level
        of the fourth costal cartilage in front of the major fissure."""
        for side in (-1, 1):
            tag = "L" if side > 0 else "R"
            # Reference mm: a point of the fissure and its normal (towards the lower lobe).
            top = np.array([side * 60.0, 70.0, 1350.0 - (6.0 if side > 0 else 0.0)])
            down = np.array([0.0, -135.0, -140.0])  # along the fissure, down and forwards
            across = np.array([side * 1.0, -0.3, 0.0])  # laterally and a little forwards
            n = np.cross(across, down)
            n *= np.sign(n[1]) / np.linalg.norm(n)  # pointing back (the lower lobe)
            p0 = np.asarray(self.p(*top))
            radius = 420.0 * self.sz
            # A large sphere through p0, its centre on the lower-lobe side: gently curved.
            centre = p0 + n * radius
            self.add(
                f"major fissure {side}",
                Sheet(self._lung_fill[tag], tuple(centre), radius, 0.9),  # type: ignore[arg-type]
                Tissue.FISSURE,
                only=(Tissue.LUNG,),
            )
            if side < 0:
                # In front of the major fissure (the side its normal does not point to).
                dome = np.asarray(self.p(-70.0, -20.0, 1292.0))
                r_dome = 90.0 * self.sz
                self.add(
                    "minor fissure",
                    Sheet(
                        self._lung_fill[tag],
                        (float(dome[0]), float(dome[1]), float(dome[2] - r_dome)),
                        r_dome,
                        0.9,
                        keep_point=tuple(p0),  # type: ignore[arg-type]
                        keep_normal=tuple(-n),  # type: ignore[arg-type]
                    ),
                    Tissue.FISSURE,
                    only=(Tissue.LUNG,),
                )

    def _skull(self) -> None:
        s = self.sz
        skull = Shell(Ellipsoid((0.0, 5.0 * s, 1602.0 * s), (70.0 * s, 90.0 * s, 93.0 * s)), 7.5)
        self.bone("calvarium", Clipped(skull, (0.0, 0.0, 1548.0 * s), (0.0, 0.15, 1.0)), 5.0)
        self.bone(
            "skull base", Ellipsoid((0.0, 12.0 * s, 1562.0 * s), (50.0 * s, 58.0 * s, 7.0 * s)), 4.5
        )
        # Face: orbits (rims around soft contents), zygomas, maxilla with the upper teeth,
        # mandible with the lower teeth.
        for side in (-1, 1):
            orbit = (side * 31.0 * s, -70.0 * s, 1574.0 * s)
            rim = Shell(Ellipsoid(orbit, (20.0 * s, 16.0 * s, 18.0 * s)), 5.0 * s)
            self.bone(f"orbital rim {side}", rim, 6.0)
            self.add(f"orbit {side}", Ellipsoid(orbit, (15.0 * s, 12.0 * s, 13.0 * s)), Tissue.SOFT)
            self.bone(
                f"zygoma {side}",
                Capsule(
                    (side * 46.0 * s, -58.0 * s, 1552.0 * s),
                    (side * 62.0 * s, -5.0 * s, 1550.0 * s),
                    6.0 * s,
                    4.5 * s,
                ),
                6.0,
            )
        self.bone(
            "maxilla",
            Ellipsoid((0.0, -64.0 * s, 1530.0 * s), (30.0 * s, 18.0 * s, 20.0 * s)),
            6.5,
            Tissue.SPONGY,
        )
        self.add(
            "nasal cavity",
            Ellipsoid((0.0, -64.0 * s, 1540.0 * s), (9.0 * s, 14.0 * s, 16.0 * s)),
            Tissue.GAS,
        )
        arch = [(-28.0, -36.0), (-25.0, -54.0), (-14.0, -66.0), (0.0, -70.0)]
        arch += [(-x, y) for x, y in arch[-2::-1]]
        for name, z, k in (("upper teeth", 1506.0, 1.0), ("lower teeth", 1490.0, 0.94)):
            caps = tuple(
                Capsule(
                    (k * x0 * s, (y0 - 2.0) * s, z * s),
                    (k * x1 * s, (y1 - 2.0) * s, z * s),
                    5.0 * s,
                    5.0 * s,
                )
                for (x0, y0), (x1, y1) in zip(arch[:-1], arch[1:], strict=True)
            )
            self.bone(name, Union(caps), 7.0, Tissue.SPONGY)
        chin = (0.0, -66.0 * s, 1470.0 * s)
        for side in (-1, 1):
            tmj = (side * 50.0 * s, 14.0 * s, 1555.0 * s)
            angle = (side * 47.0 * s, 2.0 * s, 1490.0 * s)
            front = (side * 25.0 * s, -54.0 * s, 1470.0 * s)
            self.bone(f"ramus {side}", Capsule(tmj, angle, 6.5 * s, 7.0 * s), 5.0)
            self.bone(f"mandible body {side}", Capsule(angle, front, 7.0 * s, 7.5 * s), 5.5)
            self.bone(f"chin {side}", Capsule(front, chin, 7.5 * s, 8.0 * s), 6.0)

    def _vertebra(
        self,
        name: str,
        z_ref: float,
        step: float,
        rx: float,
        ry: float,
        w_body: float,
        w_post: float,
        spinous_drop: float,
    ) -> None:
        """Vertebral body (cortex, spongy core), pedicles, laminae, transverse and spinous
        processes around a spinal canal of about 15 mm."""
        y_ref = self.spine_y(z_ref)
        cx, cy, cz = self.pb(0.0, y_ref, z_ref)
        h = 0.78 * step * self.sz
        rx, ry = self.r(rx), self.r(ry)
        self.bone(name, Cylinder(cx, cy, rx, ry, cz - h / 2, cz + h / 2), w_body)
        self.add(
            name + " core",
            Cylinder(cx, cy, rx - 2.5, ry - 2.5, cz - h / 2 + 2.0, cz + h / 2 - 2.0),
            Tissue.SPONGY,
        )
        back = cy + ry
        canal = self.r(7.5)
        ped_r = self.r(3.5)
        depth = 2.0 * canal + self.r(2.0)  # canal depth from the back of the body
        zt = cz + 0.15 * h
        ped_tall = (ped_r, 0.3 * h)
        lam_tall = (ped_r, 0.5 * h)
        for side in (-1, 1):
            ped0 = (cx + side * (canal + ped_r), back - 2.0, zt)
            ped1 = (cx + side * (canal + ped_r), back + 0.55 * depth, zt)
            top = (cx, back + depth + ped_r, zt - 0.1 * h)
            # Pedicles and laminae are plates, taller than thick: the laminae overlap like
            # shingles, so every axial slice shows the bony ring round the canal.
            across = (top[1] - ped1[1], -(top[0] - ped1[0]), 0.0)
            self.bone(
                f"{name} pedicle {side}",
                FlatSegment(ped0, ped1, (1.0, 0.0, 0.0), (1.0, 0.0, 0.0), ped_tall, ped_tall),
                w_post,
            )
            self.bone(
                f"{name} lamina {side}",
                FlatSegment(ped1, top, across, across, lam_tall, lam_tall),
                w_post,
            )
            if name.startswith("T"):
                self._thoracic_transverse(name, side, ped1, zt + 0.25 * h, w_post)
                continue
            tip = (cx + side * self.r(1.4 * rx + 8.0), ped1[1] + self.r(12.0), zt)
            self.bone(
                f"{name} transverse {side}",
                Capsule(ped1, tip, self.r(4.0), self.r(3.5)),
                w_post,
            )
        top = (cx, back + depth + ped_r, zt - 0.1 * h)
        sp = self.r(1.0 * ry + 12.0)
        self.bone(
            name + " spinous",
            Capsule(top, (cx, top[1] + sp, top[2] - spinous_drop * sp), self.r(4.0), self.r(3.5)),
            w_post,
        )
        self.landmarks[name] = (cx, cy, cz)
        self.radii[name] = float(max(rx, ry))

    def _thoracic_transverse(
        self, name: str, side: int, root: tuple[float, float, float], z_root: float, w: float
    ) -> None:
        """Transverse process of thoracic vertebra ``name`` on ``side``: a bar reaching back,
        out and a little up from the junction of pedicle and lamina (``root``, raised to
        ``z_root``, subject mm) to a clubbed tip about 35-40 mm from the midline and 30-35 mm
        behind the body centre, level with the tubercle of its rib. The tubercle, on the
        back of the rib neck, rests on the front of the tip (the costotransverse joint), so
        the tip lies about one rib-thickness behind the lung."""
        nx, ny, nz = self.rib_neck(int(name[1:]), side)[1]
        p0 = (root[0], root[1], z_root)
        tip = (nx - side * self.r(1.0), ny + self.r(3.5), nz)
        across = (tip[1] - p0[1], -(tip[0] - p0[0]), 0.0)  # horizontal, across the process
        root_half = (self.r(4.0), self.r(4.0))
        tip_half = (self.r(3.5), self.r(5.0))  # thick across, tall
        self.bone(
            f"{name} transverse {side}",
            FlatSegment(p0, tip, across, across, root_half, tip_half),
            w,
        )

    def _spine(self) -> None:
        for n in range(1, 8):
            self._vertebra(f"C{n}", VERTEBRAE[f"C{n}"], 15.0, 11.0, 8.0, 10.0, 7.0, 0.2)
        for n in range(1, 13):
            f = (n - 1) / 11.0
            rx, ry = _thoracic_body(VERTEBRAE[f"T{n}"])
            self._vertebra(
                f"T{n}",
                VERTEBRAE[f"T{n}"],
                23.6,
                float(rx),
                float(ry),
                13.0 - 2.5 * f,
                9.0,
                0.9,
            )
        for n in range(1, 6):
            f = (n - 1) / 4.0
            self._vertebra(
                f"L{n}",
                VERTEBRAE[f"L{n}"],
                32.0,
                23.0 + 3.0 * f,
                16.5 + 1.5 * f,
                10.0 - 2.0 * f,
                8.0,
                0.25,
            )
        s = self.sz
        sac = rotated(self.pb(0.0, 62.0, 938.0), (46.0 * s, 15.0 * s, 56.0 * s), ("x", -28.0))
        self.bone("sacrum", sac, 11.0, Tissue.SPONGY)
        self.landmarks["sacrum"] = sac.centre
        for side in (-1, 1):
            si = rotated(
                self.pb(side * 50.0, 58.0, 958.0), (9.0 * s, 14.0 * s, 36.0 * s), ("x", -28.0)
            )
            self.bone(f"SI joint {side}", si, 15.0, Tissue.SPONGY)
        self.bone(
            "coccyx",
            Capsule(self.pb(0.0, 82.0, 890.0), self.pb(0.0, 70.0, 862.0), self.r(6.0), self.r(4.0)),
            7.0,
        )

    def wall_point(
        self, z: float, angle_deg: float, side: int, offset: float = 0.0
    ) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """Point on the rib line (:meth:`on_wall` of ``ribline``) and the outward unit
        normal of the chest wall there (horizontal)."""
        (x, y), (nx, ny) = self.ribline.point(z, angle_deg, side, offset)
        return (x, y, z), (nx, ny, 0.0)

    def rib_neck(self, n: int, side: int) -> _Neck:
        """Head and neck (tubercle) of rib ``n`` (1-12) on ``side`` (-1 right, +1 left), subject
        mm, and the outward normal of the chest wall at the start of the posterior arc.

        Head, neck and the start of the posterior arc (at :data:`_RIB_WALL_DEG`, three
        quarters of the rib's rise above the head) lie on one straight line, so a slice
        through the lower edge of the neck cuts one elongated section. The tubercle at the
        neck's end rests on the tip of the transverse process of vertebra ``n``
        (:meth:`_thoracic_transverse`), the costotransverse joint.
        """
        if (n, side) not in self._necks:
            self._necks[n, side] = self._rib_neck(n, side)
        return self._necks[n, side]

    def _rib_neck(self, n: int, side: int) -> _Neck:
        """:meth:`rib_neck`, computed."""
        s = self.sz
        z_head = _rib_head_z(n)
        y_sp = self.spine_y(VERTEBRAE[f"T{n}"])
        hx, hy = _rib_head(n)
        rise_a0 = _RIB_WALL_RISE * _RIBS[n - 1][2]
        wall, n_back = self.wall_point((z_head + rise_a0) * s, _RIB_WALL_DEG, side)
        head = self.pb(side * hx, y_sp + hy, z_head)
        neck_xy = self.pb(side * _RIB_NECK[0], y_sp + _RIB_NECK[1], z_head)
        d_neck = float(np.hypot(neck_xy[0] - head[0], neck_xy[1] - head[1]))
        d_wall = float(np.hypot(wall[0] - neck_xy[0], wall[1] - neck_xy[1]))
        z_neck = z_head + rise_a0 * d_neck / max(d_neck + d_wall, 1e-6)
        neck = self.pb(side * _RIB_NECK[0], y_sp + _RIB_NECK[1], z_neck)
        return head, neck, n_back

    def _rib_course(
        self, n: int, side: int
    ) -> list[tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float]]]:
        """Centre line of rib ``n`` (1-12) as (point, thickness direction, (half thickness,
        half height)) from the head to the anterior end, subject mm.

        The head sits on the upper part of its vertebra; the neck runs back and out to the
        transverse process and the posterior arc climbs, back, out and up, to the rib angle
        ``rise`` mm above the head. From there the shaft turns and falls round the chest
        wall, steepest at the side, to an anterior end ``drop`` vertebral levels below the
        head (:data:`_RIB_FALL_CURVE`, by distance along the wall so the slope does not
        depend on the shape of the chest). The shaft is a flat band lying in the chest wall
        (thin radially, tall along the wall) that twists along its length; rib 1 is short,
        broad and nearly flat, ribs 11 and 12 end free.
        """
        s = self.sz
        end_deg, drop_levels, rise, thick, tall, twist0, twist1 = _RIBS[n - 1]
        z_head = _rib_head_z(n)
        drop = drop_levels * _LEVEL_MM
        a0, a_pk = _RIB_WALL_DEG, _RIB_PEAK_DEG
        # Distance along the wall from the angle to the anterior end, as a fraction.
        dense = np.linspace(a_pk, end_deg, 241)
        wall_xy = np.array([self.on_wall(self.ribline, z_head * s, a, side)[:2] for a in dense])
        along = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(wall_xy, axis=0).T))])
        along /= along[-1]
        c = _RIB_FALL_CURVE

        def height(a: float) -> float:
            """Height (reference mm) of the centre line above the head at polar angle ``a``."""
            if a <= a_pk:
                climb = np.sin(0.5 * np.pi * (a - a0) / (a_pk - a0))
                return rise * (_RIB_WALL_RISE + (1.0 - _RIB_WALL_RISE) * climb)
            u = float(np.interp(a, dense, along))
            f = c * (0.5 - 0.5 * np.cos(np.pi * u)) + (1.0 - c) * u
            return rise - (rise + drop) * f

        head, neck, n_back = self.rib_neck(n, side)
        course = [
            (head, n_back, (self.r(5.0), self.r(4.5))),
            (neck, n_back, (self.r(4.0), self.r(4.5))),
        ]
        angles = np.concatenate([np.linspace(a0, a_pk, 4), np.linspace(a_pk, end_deg, 25)[1:]])
        for a in angles:
            v = max(0.0, (a - a_pk) / (end_deg - a_pk))
            z = z_head + height(float(a))
            p, normal = self.wall_point(z * s, float(a), side)
            # Twist about the rib's own axis: tilt the thickness direction up or down.
            phi = np.deg2rad(twist0 + (twist1 - twist0) * v)
            nrm = (normal[0] * np.cos(phi), normal[1] * np.cos(phi), float(np.sin(phi)))
            taper = 1.0 - 0.35 * v**3 if n >= 11 else 1.0
            course.append((p, nrm, (self.r(thick), self.r(tall * taper))))
        return course

    def rib_centre_line(self, n: int, side: int) -> np.ndarray:
        """Centre line of rib ``n`` (1-12) on ``side`` (-1 right, +1 left) from the head to
        the anterior end: (k, 3) subject mm."""
        return np.array([p for p, _n, _h in self._rib_course(n, side)], dtype=float)

    def lung_floor(self, tag: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Height (subject mm) of the hemidiaphragm under lung ``tag`` ('R' or 'L') at (x, y)."""
        return self._lung_fill[tag].floor(x, y)

    def _ribs_and_sternum(self) -> None:
        """Twelve pairs of ribs on the chest wall with costal cartilages to the sternum.

        Each rib (:meth:`_rib_course`) is a chain of flattened segments: cortical bone
        round a spongy core. Cartilages 1-7 climb from the rib's anterior end to the
        sternum, 8-10 to the cartilage above; ribs 11 and 12 float.
        """
        s = self.sz
        # Reference heights (mm) of the sternal attachments of cartilages 1-10.
        attach = [1380, 1332, 1310, 1288, 1266, 1244, 1222, 1204, 1190, 1178]
        for n in range(1, 13):
            for side in (-1, 1):
                course = self._rib_course(n, side)
                segs = list(zip(course[:-1], course[1:], strict=True))
                for k, ((p0, n0, h0), (p1, n1, h1)) in enumerate(segs):
                    self.bone(
                        f"rib {n} {side} {k}", FlatSegment(p0, p1, n0, n1, h0, h1), RIB_UPTAKE
                    )
                for k, ((p0, n0, h0), (p1, n1, h1)) in enumerate(segs):
                    core0 = (max(h0[0] - 1.4, 0.8), max(h0[1] - 1.6, 0.8))
                    core1 = (max(h1[0] - 1.4, 0.8), max(h1[1] - 1.6, 0.8))
                    self.add(
                        f"rib {n} {side} marrow {k}",
                        FlatSegment(p0, p1, n0, n1, core0, core1),
                        Tissue.SPONGY,
                    )
                if n > 10:
                    continue
                end, n_end, _ = course[-1]
                self._costal_cartilage(n, side, end, n_end, attach[n - 1] * s)
                self.bone(
                    f"costochondral junction {n} {side}",
                    Ellipsoid(end, (self.r(4.0), self.r(4.0), self.r(4.0))),
                    7.0,
                    Tissue.SPONGY,
                )
        # Sternum: manubrium, body, xiphoid, just in front of the costal cartilages.
        rows = []
        for z, hw, hd in (
            (1196.0, 6.0, 3.0),
            (1216.0, 11.0, 5.0),
            (1240.0, 15.0, 6.5),
            (1300.0, 17.0, 7.0),
            (1326.0, 15.0, 6.5),
            (1336.0, 21.0, 7.5),
            (1366.0, 27.0, 8.5),
            (1382.0, 22.0, 7.0),
        ):
            zs = z * s
            cx, cy, _a, b = (float(v) for v in self.ribline.at(np.asarray(zs)))
            rows.append((zs, cx, cy - b - 1.0 * s, hw * s, hd * s))
        self.bone("sternum", Profile(tuple(rows)), 5.0)
        inner = tuple((z, x, y, max(a - 2.0, 1.0), max(b - 2.0, 1.0)) for z, x, y, a, b in rows)
        self.add("sternum core", Profile(inner), Tissue.SPONGY)
        z_st = 1290.0 * s
        cx, cy, _a, b = (float(v) for v in self.ribline.at(np.asarray(z_st)))
        self.landmarks["sternum"] = (cx, cy - b, z_st)

    def _costal_cartilage(
        self,
        n: int,
        side: int,
        end: tuple[float, float, float],
        n_end: tuple[float, float, float],
        z_attach: float,
    ) -> None:
        """Costal cartilage ``n`` from the rib's anterior end to the sternum (1-7) or to the
        cartilage above (8-10): a flat band, rising towards its medial end."""
        a_end = _RIBS[n - 1][0]
        a_st = 168.0 if n < 8 else 160.0 - 6.0 * (n - 7)
        off = 2.0 if n < 8 else 0.0
        pts = [(end, n_end)]
        for t in (0.25, 0.5, 0.75, 1.0):
            a = a_end + (a_st - a_end) * t
            z = end[2] + (z_attach - end[2]) * t**1.5
            pts.append(self.wall_point(z, a, side, off))
        half = (self.r(3.5), self.r(5.5))
        for k, ((p0, n0), (p1, n1)) in enumerate(zip(pts[:-1], pts[1:], strict=True)):
            self.add(
                f"costal cartilage {n} {side} {k}",
                FlatSegment(p0, p1, n0, n1, half, half),
                Tissue.CARTILAGE,
            )

    def _shoulder_girdle_and_arms(self) -> None:
        s, sh = self.sz, self.shoulder
        for side in (-1, 1):
            tag = "L" if side > 0 else "R"
            # S-shaped clavicle: convex forwards medially, concave laterally, rising slightly.
            clav = [
                (22.0, -84.0, 1402.0),
                (52.0, -94.0, 1401.0),
                (86.0, -88.0, 1406.0),
                (116.0, -68.0, 1413.0),
                (142.0 * sh, -40.0, 1419.0),
                (166.0 * sh, -6.0, 1418.0),
            ]
            pts = [self.pb(side * x, y, z) for x, y, z in clav]
            self.bone_chain(f"clavicle {side}", pts, 7.0, 6.5, 6.0)
            # Scapula: a plate in the muscle behind the upper ribs, spine and borders thicker.
            table = tuple(
                (z * s, lo, hi)
                for z, lo, hi in (
                    (1226.0, 40.0, 44.0),
                    (1262.0, 30.0, 56.0),
                    (1330.0, 26.0, 74.0),
                    (1385.0, 26.0, 84.0),
                    (1400.0, 30.0, 84.0),
                )
            )
            self.bone(
                f"scapula {side}", WallPatch(self.ribline, 6.0 * s, 6.0 * s, side, table), 9.0
            )
            med = [
                self.on_wall(self.ribline, z * s, lo, side, 8.5 * s)
                for z, lo, _ in (
                    (1226.0, 40.0, 0),
                    (1262.0, 30.0, 0),
                    (1330.0, 26.0, 0),
                    (1395.0, 28.0, 0),
                )
            ]
            lat = [
                self.on_wall(self.ribline, z * s, hi, side, 8.5 * s)
                for z, hi in ((1226.0, 44.0), (1262.0, 56.0), (1330.0, 74.0), (1380.0, 84.0))
            ]
            for nm, chain in (("medial", med), ("lateral", lat)):
                self.bone_chain(f"scapula {nm} border {side}", chain, 4.5, 4.5, 10.0)
            sp0 = self.on_wall(self.ribline, 1368.0 * s, 28.0, side, 14.0 * s)
            sp1 = self.on_wall(self.ribline, 1392.0 * s, 78.0, side, 22.0 * s)
            self.bone(f"scapular spine {side}", Capsule(sp0, sp1, self.r(5.0), self.r(6.5)), 6.0)
            glen = self.pb(side * 160.0 * sh, 36.0, 1384.0)
            self.bone(
                f"glenoid {side}",
                Ellipsoid(glen, (10.0 * s, 18.0 * s, 22.0 * s)),
                8.0,
                Tissue.SPONGY,
            )
            acrom = self.pb(side * 172.0 * sh, 8.0, 1413.0)
            self.bone(f"acromion {side}", Capsule(sp1, acrom, self.r(7.0), self.r(7.0)), 7.0)
            self.bone(
                f"coracoid {side}",
                Capsule(glen, self.pb(side * 140.0 * sh, -30.0, 1392.0), self.r(6.0), self.r(5.0)),
                6.0,
            )
            head = self.pb(side * 182.0 * sh, 16.0, 1382.0)
            self.bone(
                f"humeral head {side}",
                Ellipsoid(head, (24.0 * s, 24.0 * s, 25.0 * s)),
                9.0,
                Tissue.SPONGY,
            )
            self.landmarks[f"shoulder_{tag}"] = head
            self.landmarks[f"acromion_{tag}"] = acrom
            if self.arms_up:
                self.long_bone(
                    f"humerus {side}",
                    self.pb(side * 178.0 * sh, 18.0, 1400.0),
                    self.pb(side * 132.0, 30.0, 1680.0),
                    self.r(11.0),
                    3.0,
                )
                continue
            elbow = self.pb(side * 212.0, 12.0, 1075.0)
            wrist = self.pb(side * 234.0, -4.0, 835.0)
            self.long_bone(
                f"humerus {side}",
                self.pb(side * 188.0 * sh, 14.0, 1360.0),
                self.pb(side * 210.0, 12.0, 1095.0),
                self.r(11.0),
                3.0,
            )
            self.bone(
                f"elbow {side}",
                Ellipsoid(elbow, (28.0 * s, 16.0 * s, 16.0 * s)),
                6.5,
                Tissue.SPONGY,
            )
            for dx, rad, nm in ((-9.0, 6.0, "radius"), (9.0, 7.0, "ulna")):
                self.long_bone(
                    f"{nm} {side}",
                    (elbow[0] + side * dx * s, elbow[1], elbow[2] - 15.0 * s),
                    (wrist[0] + side * dx * s, wrist[1], wrist[2] + 10.0 * s),
                    self.r(rad),
                    3.0,
                )
            self.bone(
                f"wrist {side}",
                Ellipsoid(wrist, (14.0 * s, 22.0 * s, 16.0 * s)),
                6.5,
                Tissue.SPONGY,
            )
            # Hand: carpus, five metacarpals and fingers (palm facing the thigh).
            carpus = self.pb(side * 238.0, -6.0, 808.0)
            self.bone(f"carpus {side}", Ellipsoid(carpus, (10.0 * s, 22.0 * s, 16.0 * s)), 6.0)
            for k, dy in enumerate((-30.0, -16.0, -3.0, 10.0, 22.0)):
                base = self.pb(side * 240.0, -6.0 + 0.4 * dy, 796.0)
                if k == 0:  # thumb, pointing forwards
                    tip1 = self.pb(side * 236.0, -48.0, 770.0)
                    tip2 = self.pb(side * 234.0, -66.0, 744.0)
                else:
                    tip1 = self.pb(side * 242.0, -6.0 + dy, 734.0)
                    tip2 = self.pb(side * 243.0, -6.0 + 1.1 * dy, 660.0 + 8.0 * abs(k - 2.5))
                self.bone(
                    f"metacarpal {side} {k}", Capsule(base, tip1, self.r(4.0), self.r(3.5)), 4.5
                )
                self.bone(f"finger {side} {k}", Capsule(tip1, tip2, self.r(3.2), self.r(2.6)), 3.5)

    def _pelvis_and_legs(self) -> None:
        s, hp = self.sz, self.hips
        for side in (-1, 1):
            tag = "L" if side > 0 else "R"
            si = np.array([side * 55.0 * hp, 60.0])
            asis = np.array([side * 125.0 * hp, -34.0])
            c = (si + asis) / 2.0
            d = asis - si
            ang = float(np.degrees(np.arctan2(d[1], d[0])))
            half = float(np.hypot(*d)) / 2.0 + 4.0
            wing_c = self.pb(c[0], c[1], 996.0)
            wing = rotated(wing_c, (half * s, 8.0 * s, 60.0 * s), ("z", ang))
            self.bone(f"iliac wing {side}", wing, 8.0)
            crest = Capsule(
                self.pb(si[0], si[1], 1040.0),
                self.pb(asis[0], asis[1], 1036.0),
                self.r(7.0),
                self.r(6.0),
            )
            self.bone(f"iliac crest {side}", crest, 9.0)
            self.landmarks[f"ilium_{tag}"] = wing_c
            self.radii[f"ilium_{tag}"] = 30.0 * s
            acet = self.pb(side * 90.0 * hp, 4.0, 892.0)
            self.bone(
                f"acetabulum {side}",
                Ellipsoid(acet, (30.0 * s, 30.0 * s, 40.0 * s)),
                10.0,
                Tissue.SPONGY,
            )
            sup_acet = self.pb(side * 92.0 * hp, 10.0, 922.0)
            self.landmarks[f"acetabulum_{tag}"] = sup_acet
            self.bone(
                f"ilium body {side}",
                Capsule(
                    sup_acet, self.pb(side * 70.0 * hp, 40.0, 965.0), self.r(15.0), self.r(12.0)
                ),
                9.0,
                Tissue.SPONGY,
            )
            sym = self.pb(side * 12.0, -58.0, 856.0)
            self.bone(
                f"pubic ramus {side}",
                Capsule(self.pb(side * 80.0 * hp, -8.0, 874.0), sym, self.r(9.0), self.r(9.0)),
                8.0,
            )
            isch = self.pb(side * 62.0 * hp, 34.0, 826.0)
            self.bone(
                f"ischium {side}",
                Capsule(self.pb(side * 84.0 * hp, 16.0, 876.0), isch, self.r(12.0), self.r(10.0)),
                8.0,
            )
            self.bone(f"ischial ramus {side}", Capsule(isch, sym, self.r(7.0), self.r(7.0)), 7.0)
            self._leg(side, tag)

    def _leg(self, side: int, tag: str) -> None:
        """Femur (head to condyles, about 26 % of height), patella, tibia and fibula (about
        22 %) with flared joint ends and malleoli, and the bones of the foot."""
        s, hp = self.sz, self.hips
        xk = side * 80.0  # knee centre (reference mm)
        xa = side * 88.0  # ankle centre
        med = -side  # towards the midline
        head = self.pb(side * 92.0 * hp, 4.0, 888.0)
        troch = self.pb(side * 134.0 * hp, 14.0, 872.0)
        self.bone(
            f"femoral head {side}",
            Ellipsoid(head, (23.0 * s, 23.0 * s, 23.0 * s)),
            9.0,
            Tissue.SPONGY,
        )
        self.bone(
            f"femoral neck {side}",
            Capsule(head, self.pb(side * 122.0 * hp, 10.0, 862.0), self.r(15.0), self.r(16.0)),
            7.0,
            Tissue.SPONGY,
        )
        self.bone(
            f"femoral trochanter {side}",
            Ellipsoid(troch, (16.0 * s, 20.0 * s, 26.0 * s)),
            7.5,
            Tissue.SPONGY,
        )
        self.bone(
            f"femoral lesser trochanter {side}",
            Ellipsoid(self.pb(side * 108.0 * hp, 20.0, 830.0), (12.0 * s, 12.0 * s, 14.0 * s)),
            6.5,
        )
        prox = self.pb(side * 118.0 * hp, 10.0, 850.0)
        self.landmarks[f"femur_prox_{tag}"] = self.pb(side * 118.0 * hp, 10.0, 845.0)
        dist = self.pb(xk + med * 2.0, 8.0, 545.0)
        self.long_bone(f"femur {side}", prox, dist, self.r(13.5), 3.0)
        self.bone(
            f"femoral metaphysis {side}",
            Capsule(dist, self.pb(xk, 8.0, 498.0), self.r(14.0), self.r(30.0)),
            4.5,
            Tissue.SPONGY,
        )
        for dx in (-20.0, 20.0):
            self.bone(
                f"femoral condyle {side} {dx:+.0f}",
                Ellipsoid(self.pb(xk + dx, 14.0, 484.0), (17.0 * s, 28.0 * s, 22.0 * s)),
                6.0,
                Tissue.SPONGY,
            )
        self.bone(
            f"femoral trochlea {side}",
            Ellipsoid(self.pb(xk, -12.0, 494.0), (28.0 * s, 14.0 * s, 18.0 * s)),
            5.5,
            Tissue.SPONGY,
        )
        self.bone(
            f"patella {side}",
            Ellipsoid(self.pb(xk, -36.0, 496.0), (19.0 * s, 9.0 * s, 21.0 * s)),
            6.5,
        )
        knee = self.pb(xk, 4.0, 470.0)
        self.bone(
            f"tibial plateau {side}",
            Ellipsoid(self.pb(xk, 8.0, 449.0), (37.0 * s, 27.0 * s, 8.0 * s)),
            6.0,
            Tissue.SPONGY,
        )
        self.bone(
            f"tibial metaphysis {side}",
            Capsule(
                self.pb(xk, 8.0, 420.0),
                self.pb(xk + med * 4.0, 6.0, 392.0),
                self.r(31.0),
                self.r(14.0),
            ),
            4.5,
            Tissue.SPONGY,
        )
        self.long_bone(
            f"tibia {side}",
            self.pb(xk + med * 4.0, 6.0, 400.0),
            self.pb(xa, 4.0, 130.0),
            self.r(12.0),
            3.0,
        )
        self.bone(
            f"distal tibia {side}",
            Capsule(self.pb(xa, 4.0, 138.0), self.pb(xa, 4.0, 100.0), self.r(13.0), self.r(21.0)),
            6.0,
            Tissue.SPONGY,
        )
        self.bone(
            f"medial malleolus {side}",
            Capsule(
                self.pb(xa + med * 15.0, 6.0, 104.0),
                self.pb(xa + med * 18.0, 8.0, 88.0),
                self.r(8.0),
                self.r(6.0),
            ),
            7.5,
        )
        fib_head = self.pb(xk - med * 32.0, 22.0, 436.0)
        self.bone(
            f"fibular head {side}",
            Ellipsoid(fib_head, (10.0 * s, 10.0 * s, 12.0 * s)),
            6.0,
            Tissue.SPONGY,
        )
        self.long_bone(
            f"fibula {side}", fib_head, self.pb(xa - med * 26.0, 16.0, 100.0), self.r(6.0), 2.8
        )
        self.bone(
            f"lateral malleolus {side}",
            Capsule(
                self.pb(xa - med * 26.0, 16.0, 104.0),
                self.pb(xa - med * 28.0, 18.0, 70.0),
                self.r(8.0),
                self.r(6.5),
            ),
            7.5,
        )
        ankle = self.pb(xa, 4.0, 84.0)
        self.bone(
            f"talus {side}",
            Ellipsoid(self.pb(xa, 2.0, 72.0), (17.0 * s, 24.0 * s, 13.0 * s)),
            7.0,
            Tissue.SPONGY,
        )
        self.bone(
            f"calcaneus {side}",
            Ellipsoid(self.pb(xa + 2.0 * side, 30.0, 40.0), (16.0 * s, 32.0 * s, 20.0 * s)),
            6.0,
            Tissue.SPONGY,
        )
        self.bone(
            f"midfoot {side}",
            rotated(
                self.pb(xa + 6.0 * side, -38.0, 46.0), (24.0 * s, 18.0 * s, 12.0 * s), ("x", -15.0)
            ),
            5.5,
            Tissue.SPONGY,
        )
        for k, dx in enumerate((-20.0, -10.0, 0.0, 10.0, 19.0)):
            x0 = xa + 6.0 * side + med * dx
            base = self.pb(x0, -52.0, 42.0)
            tip = self.pb(x0 + med * 0.3 * dx, -118.0, 20.0)
            toe = self.pb(x0 + med * 0.4 * dx, -148.0 + 4.0 * abs(k - 0.0) * 0.0, 14.0)
            r0 = 5.0 if k == 0 else 3.8
            self.bone(
                f"metatarsal {side} {k}", Capsule(base, tip, self.r(r0), self.r(r0 - 0.6)), 4.0
            )
            self.bone(f"toe {side} {k}", Capsule(tip, toe, self.r(r0 - 0.8), self.r(r0 - 1.4)), 3.5)
        self.landmarks[f"knee_{tag}"] = knee
        self.landmarks[f"ankle_{tag}"] = ankle

    def bone_length_mm(self, prefix: str) -> float:
        """Vertical extent (mm) of all parts whose name starts with ``prefix``."""
        lo = [p.shape.bounds()[0][2] for p in self.parts if p.name.startswith(prefix)]
        hi = [p.shape.bounds()[1][2] for p in self.parts if p.name.startswith(prefix)]
        return float(max(hi) - min(lo))


def rasterise(body: Body, grid: Grid, select: tuple[str, ...] | None = None) -> Phantom:
    """Paint every part of ``body`` onto ``grid``.

    ``select`` paints only the parts whose names start with one of these prefixes, each on
    its own (ignoring the labels already there): masks of single structures for tests.
    """
    labels = np.zeros(grid.shape, dtype=np.uint8)
    uptake = np.zeros(grid.shape, dtype=np.float32)
    for part in body.parts:
        if select is not None and not part.name.startswith(select):
            continue
        lo, hi = part.shape.bounds()
        b = grid.box(lo, hi)
        if b is None:
            continue
        sl, (x, y, z) = b
        m = np.broadcast_to(part.shape.mask(x, y, z), labels[sl].shape)
        if select is None:
            if part.only is not None:
                m = m & np.isin(labels[sl], np.array([int(t) for t in part.only], dtype=np.uint8))
            if part.name.startswith("lung"):
                m = m & part_cage_mask(body, x, y, z, labels[sl].shape)
        if not m.any():
            continue
        labels[sl][m] = int(part.label)
        if part.uptake is not None:
            uptake[sl][m] = part.uptake
    # A marrow/spongy core painted over a shaft keeps the shaft's uptake; soft tissue painted
    # over bone (none in the list) would need the uptake cleared.
    uptake[~np.isin(labels, np.array([int(t) for t in BONE_LABELS], dtype=np.uint8))] = 0.0
    return Phantom(grid, labels, uptake)


def part_cage_mask(
    body: Body, x: np.ndarray, y: np.ndarray, z: np.ndarray, shape: tuple[int, ...]
) -> np.ndarray:
    """Inside the rib cage, off the midline, and in front of the bones that bound the lungs'
    paravertebral gutters (lungs).

    The lung lies a pleural gap beside the vertebral body; behind, its border runs from the
    posterolateral corner of the body along the front of the rib heads and necks to the rib
    tubercles, where it meets the cage's lobe (:data:`_GUTTER_X`): from there it follows
    the inner surface of the ribs, curving forward round the side of the chest.
    """
    inside = body.cage.mask(x, y, z)
    sb = body.sz * (0.5 + 0.5 * body.girth)
    z_ref = z / body.sz
    y_spine = np.interp(z_ref, _SPINE_Y[:, 0], _SPINE_Y[:, 1]) * sb
    rx, ry = _thoracic_body(z_ref)
    gap = _PLEURA_GAP * sb
    x_side = rx * body.sz + gap
    spine = (np.abs(x) < x_side) & (y > y_spine - 10.0 * sb)
    cx = body.cage.at(z)[0]
    ax = np.abs(x - cx)
    # Medial tip of the gutter in front of the rib head, then the front of the rib neck.
    y_tip = y_spine + (ry - 2.0) * sb
    x_neck = _RIB_NECK[0] * sb
    y_neck = y_spine + (_RIB_NECK[1] - 4.5) * sb - gap
    g = np.clip((ax - x_side) / np.maximum(x_neck - x_side, 1.0), 0.0, 1.0)
    gutter = (ax < x_neck) & (y > y_tip + g * (y_neck - y_tip))
    return np.broadcast_to(inside & ~spine & ~gutter & (np.abs(x) > 2.0), shape)


__all__ = [
    "BONE_LABELS",
    "Body",
    "Phantom",
    "Tissue",
    "VERTEBRAE",
    "rasterise",
    "shape_mask",
    "paint",
]

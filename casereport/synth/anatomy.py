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
    Grid,
    Profile,
    Shape,
    Shell,
    paint,
    rotated,
    shape_mask,
)


class Tissue(IntEnum):
    """Tissue labels of the phantom."""

    AIR = 0
    SOFT = 1
    FAT = 2
    LUNG = 3
    HEART = 4
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


BONE_LABELS = (Tissue.MARROW, Tissue.SPONGY, Tissue.CORTICAL)

REF_HEIGHT_MM = 1700.0

# Vertebral levels: name -> reference height (mm above the soles) of the body centre.
_CERVICAL = {f"C{n}": 1525.0 - 15.0 * (n - 1) for n in range(1, 8)}
_THORACIC = {f"T{n}": 1412.0 - 23.6 * (n - 1) for n in range(1, 13)}
_LUMBAR = {f"L{n}": 1120.0 - 32.0 * (n - 1) for n in range(1, 6)}
VERTEBRAE = {**_CERVICAL, **_THORACIC, **_LUMBAR}

# Antero-posterior centre of the vertebral bodies along z (kyphosis and lordosis), mm.
_SPINE_Y = np.array(
    [
        [975.0, 38.0],
        [1000.0, 28.0],
        [1080.0, 22.0],
        [1150.0, 40.0],
        [1200.0, 48.0],
        [1300.0, 50.0],
        [1400.0, 32.0],
        [1430.0, 10.0],
        [1530.0, 2.0],
    ]
)


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
    parts: list[Part] = field(default_factory=list)
    landmarks: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    radii: dict[str, float] = field(default_factory=dict)

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
        self._skull()
        self._spine()
        self._ribs_and_sternum()
        self._shoulder_girdle_and_arms()
        self._pelvis_and_legs()

    def _torso_table(self, shrink: float) -> Profile:
        sh, hp = self.shoulder, self.hips
        rows = [
            (820.0, 12.0, 145.0 * hp, 92.0),
            (850.0, 10.0, 172.0 * hp, 105.0),
            (900.0, 6.0, 180.0 * hp, 110.0),
            (980.0, 0.0, 165.0 * hp, 100.0),
            (1060.0, 0.0, 140.0, 93.0),
            (1150.0, 0.0, 146.0, 100.0),
            (1250.0, 0.0, 152.0, 106.0),
            (1340.0, 0.0, 160.0 * sh, 100.0),
            (1395.0, 6.0, 172.0 * sh, 86.0),
            (1420.0, 8.0, 115.0 * sh, 68.0),
            (1440.0, 10.0, 62.0, 55.0),
        ]
        table = []
        for z, yc, a, b in rows:
            x0, y0, z0 = self.p(0.0, yc, z)
            table.append((z0, x0, y0, a * self.sxy - shrink, b * self.sxy - shrink))
        return Profile(tuple(table))

    def _soft_tissue(self) -> None:
        f = self.fat_mm
        torso = self._torso_table(0.0)
        self.torso = torso
        self.add("torso", torso, Tissue.FAT)
        self.add("torso muscle", self._torso_table(f), Tissue.SOFT, only=(Tissue.FAT,))
        self.cage = self._torso_table(f + 14.0 * self.sz)
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
        # Legs: per-leg profiles (z, x_centre, y_centre, half-width, half-depth).
        g = self.girth
        for side in (-1, 1):
            rows = [
                (60.0, 90.0, 5.0, 34.0, 38.0),
                (150.0, 88.0, 6.0, 38.0, 42.0),
                (300.0, 84.0, 12.0, 50.0, 54.0),
                (450.0, 80.0, 5.0, 48.0, 48.0),
                (500.0, 80.0, 0.0, 52.0, 50.0),
                (620.0, 88.0, 0.0, 64.0, 64.0),
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
            # Arms hang beside the trunk, palms facing the thighs.
            sh = self.shoulder
            shoulder = self.pb(side * 178.0 * sh, 12.0, 1386.0)
            elbow = self.pb(side * 212.0, 12.0, 1075.0)
            wrist = self.pb(side * 234.0, -4.0, 835.0)
            self.add(
                f"deltoid {side}",
                Ellipsoid(shoulder, (52.0 * s * g, 56.0 * s * g, 48.0 * s)),
                Tissue.SOFT,
            )
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
            for side in (-1, 1):
                self.add(
                    f"breast {side}",
                    Ellipsoid(self.p(side * 92.0, -112.0, 1262.0), (62.0 * s, 42.0 * s, 58.0 * s)),
                    Tissue.BREAST,
                    only=(Tissue.AIR, Tissue.FAT),
                )
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
        stomach_c = self.p(72.0, -12.0, 1122.0)
        stomach = rotated(stomach_c, (48.0 * s, 38.0 * s, 66.0 * s), ("y", 28.0))
        wall = 6.5
        self.add("stomach wall", stomach, Tissue.STOMACH_WALL, only=(Tissue.SOFT,))
        lumen = Ellipsoid(stomach.centre, tuple(r - wall for r in stomach.radii), stomach.rot)
        self.add("stomach lumen", lumen, Tissue.STOMACH_LUMEN, only=(Tissue.STOMACH_WALL,))
        gas = Clipped(
            Ellipsoid(lumen.centre, lumen.radii, lumen.rot),
            (0.0, 0.0, stomach_c[2] + 30.0 * s),
            (0.0, 0.0, 1.0),
        )
        self.add("stomach gas", gas, Tissue.GAS, only=(Tissue.STOMACH_LUMEN,))
        self.stomach = stomach
        self.landmarks["stomach"] = stomach_c
        self.radii["stomach"] = float(max(stomach.radii))
        for side, dz in ((-1, -14.0), (1, 0.0)):
            k = self.p(side * 64.0, 58.0, 1062.0 + dz)
            kidney = rotated(k, (30.0 * s, 24.0 * s, 54.0 * s), ("y", side * 12.0))
            self.add(f"kidney {side}", kidney, Tissue.KIDNEY, only=(Tissue.SOFT, Tissue.FAT))
            self.landmarks[f"kidney_{'L' if side > 0 else 'R'}"] = k
        bl = self.p(0.0, -38.0, 885.0)
        self.add("bladder", Ellipsoid(bl, (46.0 * s, 40.0 * s, 36.0 * s)), Tissue.BLADDER)
        self.landmarks["bladder"] = bl
        heart_c = self.p(22.0, -22.0, 1196.0)
        self.add(
            "heart",
            rotated(heart_c, (62.0 * s, 48.0 * s, 60.0 * s), ("z", -30.0)),
            Tissue.HEART,
            only=(Tissue.SOFT, Tissue.FAT),
        )
        self.landmarks["heart"] = heart_c
        # Lungs: ellipsoids cut by the rib cage, the mediastinum and the abdominal organs.
        self.lungs = {}
        for side in (-1, 1):
            c = self.p(side * 72.0, 14.0, 1262.0)
            lung = Ellipsoid(c, (66.0 * s * self.girth, 86.0 * s * self.girth, 150.0 * s))
            self.lungs["L" if side > 0 else "R"] = lung
            self.add(f"lung {side}", lung, Tissue.LUNG, only=(Tissue.SOFT,))
            self.landmarks[f"lung_{'L' if side > 0 else 'R'}"] = c
        # Airway: trachea and main bronchi.
        carina = self.p(0.0, 8.0, 1322.0)
        self.add(
            "trachea", Capsule(self.p(0.0, -12.0, 1480.0), carina, 8.5 * s, 8.5 * s), Tissue.GAS
        )
        for side in (-1, 1):
            self.add(
                f"bronchus {side}",
                Capsule(carina, self.p(side * 42.0, 16.0, 1296.0), 6.5 * s, 5.0 * s),
                Tissue.GAS,
            )

    def _skull(self) -> None:
        s = self.sz
        skull = Shell(Ellipsoid((0.0, 5.0 * s, 1602.0 * s), (70.0 * s, 90.0 * s, 93.0 * s)), 7.5)
        self.bone("calvarium", Clipped(skull, (0.0, 0.0, 1548.0 * s), (0.0, 0.15, 1.0)), 5.0)
        self.bone(
            "skull base", Ellipsoid((0.0, 12.0 * s, 1560.0 * s), (50.0 * s, 58.0 * s, 6.0 * s)), 3.5
        )
        self.bone(
            "maxilla",
            Ellipsoid((0.0, -62.0 * s, 1534.0 * s), (26.0 * s, 14.0 * s, 18.0 * s)),
            5.5,
            Tissue.SPONGY,
        )
        chin = (0.0, -66.0 * s, 1470.0 * s)
        for side in (-1, 1):
            tmj = (side * 50.0 * s, 14.0 * s, 1555.0 * s)
            angle = (side * 47.0 * s, 2.0 * s, 1490.0 * s)
            front = (side * 25.0 * s, -54.0 * s, 1470.0 * s)
            self.bone(f"ramus {side}", Capsule(tmj, angle, 6.5 * s, 7.0 * s), 5.0)
            self.bone(f"mandible body {side}", Capsule(angle, front, 7.0 * s, 7.5 * s), 5.0)
            self.bone(f"chin {side}", Capsule(front, chin, 7.5 * s, 8.0 * s), 5.5)

    def _vertebra(
        self,
        name: str,
        z_ref: float,
        step: float,
        rx: float,
        ry: float,
        w_body: float,
        w_post: float,
    ) -> None:
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
        sp = self.r(2.1 * ry + 8.0)
        self.bone(
            name + " arch",
            Capsule((cx, back, cz), (cx, back + sp, cz - 0.35 * sp), self.r(5.0), self.r(4.0)),
            w_post,
        )
        tp = self.r(1.9 * rx + 6.0)
        for side in (-1, 1):
            self.bone(
                name + f" process {side}",
                Capsule(
                    (cx, back + 6.0, cz),
                    (cx + side * tp, back + 12.0, cz),
                    self.r(4.5),
                    self.r(3.5),
                ),
                w_post,
            )
        self.landmarks[name] = (cx, cy, cz)
        self.radii[name] = float(max(rx, ry))

    def _spine(self) -> None:
        for n in range(1, 8):
            self._vertebra(f"C{n}", VERTEBRAE[f"C{n}"], 15.0, 11.0, 8.0, 9.0, 6.0)
        for n in range(1, 13):
            f = (n - 1) / 11.0
            self._vertebra(
                f"T{n}", VERTEBRAE[f"T{n}"], 23.6, 14.0 + 6.0 * f, 11.0 + 4.0 * f, 12.0, 8.0
            )
        for n in range(1, 6):
            f = (n - 1) / 4.0
            self._vertebra(
                f"L{n}", VERTEBRAE[f"L{n}"], 32.0, 23.0 + 3.0 * f, 16.5 + 1.5 * f, 12.5, 8.5
            )
        s = self.sz
        sac = rotated(self.pb(0.0, 62.0, 938.0), (46.0 * s, 15.0 * s, 56.0 * s), ("x", -28.0))
        self.bone("sacrum", sac, 11.0, Tissue.SPONGY)
        self.landmarks["sacrum"] = sac.centre
        for side in (-1, 1):
            si = rotated(
                self.pb(side * 50.0, 58.0, 958.0), (9.0 * s, 14.0 * s, 36.0 * s), ("x", -28.0)
            )
            self.bone(f"SI joint {side}", si, 13.0, Tissue.SPONGY)
        self.bone(
            "coccyx",
            Capsule(self.pb(0.0, 82.0, 890.0), self.pb(0.0, 70.0, 862.0), self.r(6.0), self.r(4.0)),
            7.0,
        )

    def _ribs_and_sternum(self) -> None:
        a = [68, 94, 112, 124, 132, 137, 139, 139, 137, 133, 126, 118]
        b = [48, 64, 76, 84, 89, 92, 94, 95, 95, 94, 92, 90]
        yc = [10, 8, 6, 4, 2, 0, 0, 0, 0, 2, 4, 6]
        phi_end = [2.45, 2.6, 2.68, 2.7, 2.66, 2.6, 2.5, 2.35, 2.2, 1.95, 1.5, 1.1]
        drop = [32, 52, 72, 88, 98, 104, 108, 104, 94, 78, 45, 25]
        rr = self.r(5.0)
        for n in range(12):
            z_head = VERTEBRAE[f"T{n + 1}"]
            y_sp = self.spine_y(z_head)
            for side in (-1, 1):
                phis = np.linspace(0.42, phi_end[n], 16)
                pts = [self.pb(side * 14.0, y_sp + 6.0, z_head)]
                for phi in phis:
                    t = (phi - phis[0]) / (phis[-1] - phis[0])
                    x = side * a[n] * np.sin(phi)
                    y = yc[n] + b[n] * np.cos(phi)
                    z = z_head - 4.0 - drop[n] * t**0.85
                    pts.append(self.p(x, y, z))
                for k in range(len(pts) - 1):
                    self.bone(f"rib {n + 1} {side} {k}", Capsule(pts[k], pts[k + 1], rr, rr), 5.0)
        s = self.sz
        self.bone(
            "manubrium",
            rotated(self.p(0.0, -86.0, 1384.0), (27.0 * s, 8.0 * s, 22.0 * s), ("x", 12.0)),
            6.5,
            Tissue.SPONGY,
        )
        self.bone(
            "sternum",
            rotated(self.p(0.0, -94.0, 1290.0), (16.0 * s, 8.0 * s, 74.0 * s), ("x", 8.0)),
            6.0,
            Tissue.SPONGY,
        )
        self.landmarks["sternum"] = self.p(0.0, -94.0, 1290.0)

    def _shoulder_girdle_and_arms(self) -> None:
        s, sh = self.sz, self.shoulder
        for side in (-1, 1):
            tag = "L" if side > 0 else "R"
            st = self.p(side * 20.0, -80.0, 1404.0)
            mid = self.p(side * 88.0, -84.0, 1418.0)
            lat = self.pb(side * 168.0 * sh, -8.0, 1418.0)
            self.bone(f"clavicle {side} a", Capsule(st, mid, self.r(7.0), self.r(6.5)), 5.0)
            self.bone(f"clavicle {side} b", Capsule(mid, lat, self.r(6.5), self.r(6.0)), 5.0)
            ang = np.degrees(np.arctan2(-45.0, side * 85.0))
            blade = rotated(
                self.p(side * 102.0 * sh, 88.0, 1318.0), (48.0 * s, 5.0 * s, 74.0 * s), ("z", ang)
            )
            self.bone(f"scapula {side}", blade, 5.0)
            glen = self.pb(side * 160.0 * sh, 36.0, 1384.0)
            self.bone(
                f"scapula border {side}",
                Capsule(self.p(side * 92.0 * sh, 96.0, 1246.0), glen, self.r(6.0), self.r(7.0)),
                5.5,
            )
            self.bone(
                f"scapular spine {side}",
                Capsule(
                    self.p(side * 62.0, 104.0, 1346.0),
                    self.pb(side * 168.0 * sh, 26.0, 1410.0),
                    self.r(5.5),
                    self.r(6.0),
                ),
                5.5,
            )
            self.bone(
                f"glenoid {side}",
                Ellipsoid(glen, (10.0 * s, 18.0 * s, 22.0 * s)),
                8.0,
                Tissue.SPONGY,
            )
            self.bone(
                f"acromion {side}",
                Ellipsoid(self.pb(side * 172.0 * sh, 8.0, 1413.0), (16.0 * s, 22.0 * s, 7.0 * s)),
                7.0,
            )
            head = self.pb(side * 182.0 * sh, 16.0, 1382.0)
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
                f"humeral head {side}",
                Ellipsoid(head, (24.0 * s, 24.0 * s, 25.0 * s)),
                6.5,
                Tissue.SPONGY,
            )
            self.bone(
                f"elbow {side}",
                Ellipsoid(elbow, (28.0 * s, 16.0 * s, 16.0 * s)),
                5.0,
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
                Ellipsoid(wrist, (12.0 * s, 22.0 * s, 12.0 * s)),
                5.0,
                Tissue.SPONGY,
            )
            hand = self.pb(side * 240.0, -8.0, 768.0)
            self.bone(f"metacarpals {side}", Ellipsoid(hand, (9.0 * s, 36.0 * s, 48.0 * s)), 4.5)
            self.bone(
                f"fingers {side}",
                Ellipsoid(self.pb(side * 240.0, -8.0, 700.0), (7.0 * s, 30.0 * s, 34.0 * s)),
                3.5,
            )
            self.landmarks[f"shoulder_{tag}"] = head
            self.landmarks[f"acromion_{tag}"] = self.pb(side * 172.0 * sh, 8.0, 1413.0)

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
            self.bone(f"iliac crest {side}", crest, 8.0)
            self.landmarks[f"ilium_{tag}"] = wing_c
            self.radii[f"ilium_{tag}"] = 30.0 * s
            acet = self.pb(side * 90.0 * hp, 4.0, 892.0)
            self.bone(
                f"acetabulum {side}",
                Ellipsoid(acet, (30.0 * s, 30.0 * s, 40.0 * s)),
                9.0,
                Tissue.SPONGY,
            )
            sup_acet = self.pb(side * 92.0 * hp, 10.0, 922.0)
            self.landmarks[f"acetabulum_{tag}"] = sup_acet
            self.bone(
                f"ilium body {side}",
                Capsule(
                    sup_acet, self.pb(side * 70.0 * hp, 40.0, 965.0), self.r(15.0), self.r(12.0)
                ),
                8.0,
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
            # Femur: head, neck, trochanters, hollow shaft, condyles.
            head = self.pb(side * 92.0 * hp, 4.0, 888.0)
            troch = self.pb(side * 134.0 * hp, 14.0, 872.0)
            self.bone(
                f"femoral head {side}",
                Ellipsoid(head, (23.0 * s, 23.0 * s, 23.0 * s)),
                8.0,
                Tissue.SPONGY,
            )
            self.bone(
                f"femoral neck {side}",
                Capsule(head, self.pb(side * 122.0 * hp, 10.0, 862.0), self.r(15.0), self.r(16.0)),
                6.5,
                Tissue.SPONGY,
            )
            self.bone(
                f"trochanter {side}",
                Ellipsoid(troch, (16.0 * s, 20.0 * s, 26.0 * s)),
                7.0,
                Tissue.SPONGY,
            )
            prox = self.pb(side * 118.0 * hp, 10.0, 850.0)
            self.landmarks[f"femur_prox_{tag}"] = self.pb(side * 118.0 * hp, 10.0, 845.0)
            knee = self.pb(side * 80.0, 4.0, 496.0)
            self.bone(
                f"lesser trochanter {side}",
                Ellipsoid(self.pb(side * 108.0 * hp, 20.0, 830.0), (12.0 * s, 12.0 * s, 14.0 * s)),
                6.5,
            )
            self.long_bone(
                f"femur {side}", prox, (knee[0], knee[1], knee[2] + 20.0 * s), self.r(14.0), 3.0
            )
            self.bone(
                f"femoral condyles {side}",
                Ellipsoid(knee, (36.0 * s, 26.0 * s, 24.0 * s)),
                6.0,
                Tissue.SPONGY,
            )
            self.bone(
                f"patella {side}",
                Ellipsoid(self.pb(side * 80.0, -40.0, 494.0), (18.0 * s, 8.0 * s, 20.0 * s)),
                5.0,
            )
            plateau = self.pb(side * 80.0, 8.0, 460.0)
            ankle = self.pb(side * 90.0, 2.0, 82.0)
            self.bone(
                f"tibial plateau {side}",
                Ellipsoid(plateau, (34.0 * s, 24.0 * s, 16.0 * s)),
                6.0,
                Tissue.SPONGY,
            )
            self.long_bone(
                f"tibia {side}",
                (plateau[0], plateau[1], plateau[2] - 15.0 * s),
                (ankle[0], ankle[1], ankle[2] + 18.0 * s),
                self.r(12.0),
                3.0,
            )
            self.long_bone(
                f"fibula {side}",
                self.pb(side * 112.0, 20.0, 450.0),
                self.pb(side * 114.0, 16.0, 80.0),
                self.r(6.0),
                2.8,
            )
            self.bone(
                f"ankle {side}",
                Ellipsoid(ankle, (24.0 * s, 18.0 * s, 16.0 * s)),
                5.5,
                Tissue.SPONGY,
            )
            self.bone(
                f"calcaneus {side}",
                Ellipsoid(self.pb(side * 92.0, 28.0, 42.0), (18.0 * s, 32.0 * s, 20.0 * s)),
                4.5,
                Tissue.SPONGY,
            )
            self.bone(
                f"tarsals {side}",
                rotated(
                    self.pb(side * 96.0, -40.0, 46.0), (24.0 * s, 36.0 * s, 12.0 * s), ("x", -15.0)
                ),
                4.0,
                Tissue.SPONGY,
            )
            self.bone(
                f"metatarsals {side}",
                rotated(
                    self.pb(side * 100.0, -100.0, 34.0), (28.0 * s, 46.0 * s, 8.0 * s), ("x", -15.0)
                ),
                3.0,
            )
            self.landmarks[f"knee_{tag}"] = knee
            self.landmarks[f"ankle_{tag}"] = ankle


def rasterise(body: Body, grid: Grid) -> Phantom:
    """Paint every part of ``body`` onto ``grid``."""
    labels = np.zeros(grid.shape, dtype=np.uint8)
    uptake = np.zeros(grid.shape, dtype=np.float32)
    for part in body.parts:
        lo, hi = part.shape.bounds()
        b = grid.box(lo, hi)
        if b is None:
            continue
        sl, (x, y, z) = b
        m = np.broadcast_to(part.shape.mask(x, y, z), labels[sl].shape)
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
    """Inside the rib cage and outside the mediastinum (for the lungs)."""
    inside = body.cage.mask(x, y, z)
    medi = np.abs(x) > 20.0 * body.sz
    return np.broadcast_to(inside & medi, shape)


def lesion_shape(body: Body, site: str, radius_mm: float) -> Shape:
    """Sphere at an anatomical site (a landmark key)."""
    c = body.landmarks[site]
    return Ellipsoid(c, (radius_mm, radius_mm, radius_mm))


__all__ = [
    "BONE_LABELS",
    "Body",
    "Phantom",
    "Tissue",
    "VERTEBRAE",
    "lesion_shape",
    "rasterise",
    "shape_mask",
    "paint",
]

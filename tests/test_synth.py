"""Tests of the simulator: determinism, committed data, DICOM validity, realism."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest

from casereport.analysis.noise import local_noise
from casereport.errors import SynthError
from casereport.synth import GENERATOR_VERSION, SUBJECTS, generate

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
DCIODVFY = REPO / ".venv" / "bin" / "dciodvfy"

#: dciodvfy warnings we accept, with the reason.
DCIODVFY_ALLOWED = {
    # Readers of this project look for the pixel size per detector as well as at the root;
    # the two values are identical.
    "/PixelSpacing(0028,0030)> - Attribute is not present in standard DICOM IOD",
    # Only about building a DICOMDIR (media directory), not about the object itself.
    "Missing attribute or value that would be needed to build DICOMDIR",
}


# -- helpers -----------------------------------------------------------------------------
def wb_frames(out: Path, key: str) -> dict[str, np.ndarray]:
    ds = pydicom.dcmread(out / key / "wb" / "wb.dcm")
    arr = ds.pixel_array.astype(float)
    views = [
        item.ViewCodeSequence[0].CodeMeaning.split()[0].upper()[:4]
        for item in ds.DetectorInformationSequence
    ]
    names = {"ANTE": "ANT", "POST": "POST"}
    return {names[v]: arr[int(d) - 1] for v, d in zip(views, ds.DetectorVector, strict=True)}


def disc_mean(img: np.ndarray, xy_mm: tuple[float, float], r_mm: float, px: float) -> float:
    rows, cols = np.indices(img.shape)
    x, y = (cols + 0.5) * px, (rows + 0.5) * px
    m = (x - xy_mm[0]) ** 2 + (y - xy_mm[1]) ** 2 <= r_mm**2
    assert m.sum() > 5
    return float(img[m].mean())


def point(result: dict, key: str, view: str, name: str) -> tuple[float, float]:
    return tuple(result["truth"][key]["wb_view_mm"][view][name])  # type: ignore[return-value]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "casereport.synth", *args], capture_output=True, text=True, cwd=REPO
    )


# -- layout, manifest, determinism -------------------------------------------------------
def test_layout_and_manifest(synth_out):
    out, result = synth_out
    man = json.loads((out / "MANIFEST.json").read_text())
    assert man["generator"] == "casereport.synth"
    assert man["version"] == GENERATOR_VERSION
    assert list(man["files"]) == sorted(man["files"])
    for key in SUBJECTS:
        assert f"{key}/wb/wb.dcm" in man["files"]
        assert f"{key}/ct/CT_0001.dcm" in man["files"]
    assert "A/spot/spot.dcm" in man["files"] and "B/spot/spot.dcm" in man["files"]
    assert "C/spect/spect.dcm" in man["files"]
    assert not any(k.startswith(("C/spot", "control/spot", "A/spect")) for k in man["files"])
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*.dcm")}
    assert on_disk == set(man["files"])
    for rel, digest in man["files"].items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest
    assert not list(out.parent.glob(".data.*")), "temporary folders left behind"


def test_same_subject_twice_is_byte_identical_and_force_keeps_case_files(synth_out, tmp_path):
    out, _ = synth_out
    again = tmp_path / "again"
    (again / "A").mkdir(parents=True)
    (again / "A" / "case.yaml").write_text("hand-written: true\n")
    (again / "A" / "wb").mkdir()
    (again / "A" / "wb" / "stale.dcm").write_bytes(b"old")
    with pytest.raises(SynthError, match="not empty"):
        generate(again, cases="A")
    generate(again, cases="A", force=True, workers=1)
    assert (again / "A" / "case.yaml").read_text() == "hand-written: true\n"
    assert not (again / "A" / "wb" / "stale.dcm").exists()
    files = sorted(p.relative_to(again) for p in (again / "A").rglob("*.dcm"))
    assert len(files) > 10
    for rel in files:
        assert (again / rel).read_bytes() == (out / rel).read_bytes(), rel


def _headers(ds: pydicom.Dataset) -> dict:
    return {elem.tag: (elem.VR, str(elem.value)) for elem in ds if elem.tag != 0x7FE00010}


def test_committed_data_matches_regeneration(synth_out):
    out, _ = synth_out
    if not (DATA / "MANIFEST.json").exists():
        pytest.skip("no committed data/ (run: python -m casereport.synth --out data --force)")
    committed = json.loads((DATA / "MANIFEST.json").read_text())
    fresh = json.loads((out / "MANIFEST.json").read_text())
    assert committed["seed"] == fresh["seed"] and committed["version"] == fresh["version"]
    assert set(committed["files"]) == set(fresh["files"])
    total = differing = 0
    report = []
    for rel in sorted(fresh["files"]):
        a, b = pydicom.dcmread(DATA / rel), pydicom.dcmread(out / rel)
        assert _headers(a) == _headers(b), f"{rel}: header differs"
        assert a.file_meta.TransferSyntaxUID == b.file_meta.TransferSyntaxUID
        pa, pb = a.pixel_array, b.pixel_array
        assert pa.shape == pb.shape, rel
        n = int(np.count_nonzero(pa != pb))
        total += pa.size
        differing += n
        if n:
            report.append(f"{rel}: {n} of {pa.size} pixels differ")
    if report:
        msg = "; ".join(report)
        assert differing <= 1e-4 * total, f"regenerated data differ from data/: {msg}"
        warnings.warn(f"tolerated pixel differences: {msg}", stacklevel=1)


# -- DICOM validity ------------------------------------------------------------------------
def test_dciodvfy_reports_no_errors(synth_out):
    out, _ = synth_out
    if not DCIODVFY.exists():
        pytest.skip("dciodvfy not installed")
    from concurrent.futures import ThreadPoolExecutor

    def verify(path: Path) -> tuple[Path, str]:
        res = subprocess.run([str(DCIODVFY), "-new", str(path)], capture_output=True, text=True)
        return path, res.stdout + res.stderr

    problems = []
    paths = sorted(out.rglob("*.dcm"))
    assert len(paths) > 300  # every file of every study, one dciodvfy each, on every core
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        reports = list(pool.map(verify, paths))
    for path, report in reports:
        for line in report.splitlines():
            if line.startswith("Error"):
                problems.append(f"{path.relative_to(out)}: {line}")
            elif line.startswith("Warning") and not any(a in line for a in DCIODVFY_ALLOWED):
                problems.append(f"{path.relative_to(out)}: {line}")
    assert not problems, "\n".join(problems[:20])


def test_identity_and_linkage(synth_out):
    out, _ = synth_out
    for key, spec in SUBJECTS.items():
        files = sorted((out / key).rglob("*.dcm"))
        dss = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
        assert {str(d.PatientName) for d in dss} == {spec.patient_name}
        assert {d.PatientID for d in dss} == {spec.patient_id}
        assert {d.StudyInstanceUID for d in dss} == {dss[0].StudyInstanceUID}
        assert all(d.PatientIdentityRemoved == "YES" for d in dss)
        assert all("SIMULATED" in d.SeriesDescription for d in dss)
        assert all(d.SOPInstanceUID.startswith("1.2.826.0.1.3680043.8.498.7.") for d in dss)
        assert len({d.SOPInstanceUID for d in dss}) == len(dss)
    sp = pydicom.dcmread(out / "C" / "spect" / "spect.dcm", stop_before_pixels=True)
    ct = pydicom.dcmread(out / "C" / "ct" / "CT_0001.dcm", stop_before_pixels=True)
    assert sp.FrameOfReferenceUID == ct.FrameOfReferenceUID
    assert list(sp.ImageType)[2] == "RECON TOMO"
    assert sp.FrameIncrementPointer == pydicom.tag.Tag("SliceVector")
    wb = pydicom.dcmread(out / "A" / "wb" / "wb.dcm", stop_before_pixels=True)
    assert list(wb.FrameIncrementPointer) == [0x00540010, 0x00540020]
    assert [i.ViewCodeSequence[0].CodeValue for i in wb.DetectorInformationSequence] == [
        "399321004",
        "399001007",
    ]
    rp = wb.RadiopharmaceuticalInformationSequence[0]
    assert rp.RadiopharmaceuticalCodeSequence[0].CodeValue == "96390006"
    assert 2.2 <= float(wb.PixelSpacing[0]) <= 2.4
    assert (wb.Rows, wb.Columns, wb.NumberOfFrames) == (1024, 256, 2)


def test_patient_position_and_real_world_values(synth_out):
    out, _ = synth_out
    ct = pydicom.dcmread(out / "C" / "ct" / "CT_0001.dcm", stop_before_pixels=True)
    assert ct.PatientPosition == "HFS"
    sp = pydicom.dcmread(out / "C" / "spect" / "spect.dcm")
    assert "PatientPosition" not in sp  # NM: given by the orientation code sequences
    orient = sp.PatientOrientationCodeSequence[0]
    assert orient.CodeMeaning == "recumbent"
    assert orient.PatientOrientationModifierCodeSequence[0].CodeMeaning == "supine"
    assert sp.PatientGantryRelationshipCodeSequence[0].CodeMeaning == "headfirst"
    assert [
        (c.CodeValue, c.CodingSchemeDesignator)
        for c in (
            orient,
            orient.PatientOrientationModifierCodeSequence[0],
            sp.PatientGantryRelationshipCodeSequence[0],
        )
    ] == [("102538003", "SCT"), ("40199007", "SCT"), ("102540008", "SCT")]
    rwv = sp.RealWorldValueMappingSequence[0]
    assert rwv.MeasurementUnitsCodeSequence[0].CodeValue == "{counts}"
    assert rwv.RealWorldValueLastValueMapped == int(sp.pixel_array.max())
    assert float(rwv.RealWorldValueSlope) > 0 and float(rwv.RealWorldValueIntercept) == 0.0


def _code(value: str, scheme: str, meaning: str) -> pydicom.Dataset:
    item = pydicom.Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def test_io_reads_patient_position_from_the_tag_or_the_nm_codes(synth_out, tmp_path):
    """HFS from the CT's Patient Position and the SPECT's code sequences; the same SPECT
    rewritten with the tag only (as some vendors write it), with the older SNOMED RT codes,
    or as feet first prone reads back accordingly."""
    from casereport.io import load

    out, _ = synth_out
    assert load(out / "C" / "ct").source.patient_position == "HFS"
    assert load(out / "C" / "spect" / "spect.dcm").source.patient_position == "HFS"
    sp = pydicom.dcmread(out / "C" / "spect" / "spect.dcm")
    tag_only = copy.deepcopy(sp)
    del tag_only.PatientOrientationCodeSequence, tag_only.PatientGantryRelationshipCodeSequence
    tag_only.PatientPosition = "HFS"
    srt = copy.deepcopy(sp)
    recumbent = _code("F-10450", "SRT", "recumbent")
    recumbent.PatientOrientationModifierCodeSequence = [_code("F-10340", "SRT", "supine")]
    srt.PatientOrientationCodeSequence = [recumbent]
    srt.PatientGantryRelationshipCodeSequence = [_code("F-10470", "SRT", "headfirst")]
    ffp = copy.deepcopy(sp)
    ffp.PatientOrientationCodeSequence[0].PatientOrientationModifierCodeSequence = [
        _code("1240000", "SCT", "prone")
    ]
    ffp.PatientGantryRelationshipCodeSequence = [_code("102541007", "SCT", "feet-first")]
    unknown = copy.deepcopy(sp)
    unknown.PatientGantryRelationshipCodeSequence = []
    local = copy.deepcopy(sp)  # local codes: read by their meanings
    local.PatientOrientationCodeSequence[0].PatientOrientationModifierCodeSequence = [
        _code("L-77", "99LOCAL", "Supine")
    ]
    local.PatientGantryRelationshipCodeSequence = [_code("L-12", "99LOCAL", "Head first")]
    from casereport.io.common import patient_position

    for name, ds, want in (
        ("tag", tag_only, "HFS"),
        ("srt", srt, "HFS"),
        ("ffp", ffp, "FFP"),
        ("unknown", unknown, ""),
        ("local", local, "HFS"),
    ):
        ds.save_as(tmp_path / f"{name}.dcm", enforce_file_format=True)
        assert load(tmp_path / f"{name}.dcm").source.patient_position == want, name
        # the raw reading of the code sequences and pydicom's agree
        again = pydicom.dcmread(tmp_path / f"{name}.dcm")
        raw = patient_position(again)
        (
            again.get("PatientOrientationCodeSequence"),
            again.get("PatientGantryRelationshipCodeSequence"),
        )
        assert raw == patient_position(again) == want, name


def test_second_reader_simpleitk(synth_out):
    sitk = pytest.importorskip("SimpleITK")
    out, _ = synth_out
    img = sitk.ReadImage(str(out / "C" / "spect" / "spect.dcm"))
    assert img.GetSize() == (128, 128, 64)
    assert np.allclose(img.GetSpacing(), (4.42, 4.42, 4.42), atol=1e-3)
    sp = pydicom.dcmread(out / "C" / "spect" / "spect.dcm", stop_before_pixels=True)
    ipp = [float(v) for v in sp.DetectorInformationSequence[0].ImagePositionPatient]
    assert np.allclose(img.GetOrigin(), ipp, atol=1e-3)
    reader = sitk.ImageSeriesReader()
    names = reader.GetGDCMSeriesFileNames(str(out / "C" / "ct"))
    reader.SetFileNames(names)
    ct = reader.Execute()
    assert ct.GetSize()[:2] == (256, 256)
    arr = sitk.GetArrayFromImage(ct)
    assert arr.min() >= -1024 and -1100 < np.median(arr) < 100
    wb = sitk.ReadImage(str(out / "control" / "wb" / "wb.dcm"))
    assert wb.GetSize()[:2] == (256, 1024)


# -- realism -----------------------------------------------------------------------------
def test_whole_body_counts_noise_size_contrast(synth_out):
    out, result = synth_out
    px = 2.3
    for key, spec in SUBJECTS.items():
        frames = wb_frames(out, key)
        for view, img in frames.items():
            total = img.sum()
            assert 1.5e6 <= total <= 4.5e6, (key, view, total)
            # Poisson: residual variance / mean in a flat soft-tissue patch (lateral thigh,
            # 48 x 10 pixels: the ratio's own spread is then about 0.07 at 5 counts per
            # pixel, so the bounds sit 3 standard deviations out) after removing a smooth
            # quadratic trend.
            cx, cy = point(result, key, view, "thigh_lateral_R")
            r0, c0 = int(cy / px) - 24, int(cx / px) - 5
            patch = img[r0 : r0 + 48, c0 : c0 + 10]
            yy, xx = np.indices(patch.shape).reshape(2, -1)
            design = np.stack([np.ones_like(xx), xx, yy, xx * xx, yy * yy, xx * yy], axis=1)
            coef, *_ = np.linalg.lstsq(design.astype(float), patch.ravel(), rcond=None)
            resid = patch.ravel() - design @ coef
            ratio = float(resid.var() * resid.size / (resid.size - 6) / patch.mean())
            # Enough counts for the ratio to mean something: A's lateral thigh expects
            # 4.1 counts per pixel (noise-free projection), and the mean of 480 Poisson
            # pixels spreads by about 0.09 around it.
            assert patch.mean() > 3.5, (key, view, patch.mean())
            assert 0.8 <= ratio <= 1.3, (key, view, ratio)
            # Body outline: height and width.
            from scipy import ndimage

            smooth = ndimage.gaussian_filter(img, 3)
            body = smooth > 0.25 * np.median(smooth[smooth > 0.05 * smooth.max()])
            rows = np.flatnonzero(body.any(axis=1))
            height = (rows[-1] - rows[0] + 1) * px
            assert abs(height - spec.height_mm) < 0.06 * spec.height_mm, (key, view, height)
            cols = np.flatnonzero(body.any(axis=0))
            width = (cols[-1] - cols[0] + 1) * px
            assert 380 <= width <= 600, (key, view, width)
            vals = img[body]
            assert np.percentile(vals, 99) >= 3 * np.median(vals), (key, view)


def wb_body(img: np.ndarray) -> np.ndarray:
    """Body outline of a whole-body view: smoothed counts above a fifth of their median."""
    from scipy import ndimage

    smooth = ndimage.gaussian_filter(img, 3)
    return ndimage.binary_fill_holes(smooth > 0.2 * np.median(smooth[smooth > 1.0]))


def test_whole_body_contrast_on_every_view(synth_out):
    """Bright bladder, joints and spine over a low soft-tissue background, as in real
    Tc-99m MDP scans: 99.9th percentile of body pixels at least 6 times their median."""
    out, _ = synth_out
    for key in SUBJECTS:
        for view, img in wb_frames(out, key).items():
            vals = img[wb_body(img)]
            assert vals.size > 60000, (key, view, vals.size)  # the whole outline, ~0.5 m2
            assert np.percentile(vals, 99.9) >= 6 * np.median(vals), (key, view)
            assert 1.5e6 <= img.sum() <= 4.5e6, (key, view, img.sum())


def test_whole_body_local_noise_on_every_view(synth_out):
    """Counting noise as in real Tc-99m MDP whole-body scans: the median local variance /
    mean (5 x 5 windows, body pixels between the 30th and 70th percentile) lies in
    [0.9, 1.3] on every view, measured with the package's own function."""
    out, _ = synth_out
    values = {}
    for key in SUBJECTS:
        ds = pydicom.dcmread(out / key / "wb" / "wb.dcm")
        spacing = tuple(float(v) for v in ds.PixelSpacing)
        for view, img in wb_frames(out, key).items():
            noise = local_noise(img, spacing)  # type: ignore[arg-type]
            assert noise.windows > 20000, (key, view, noise)
            values[key, view] = round(noise.var_over_mean, 3)
    assert all(0.9 <= v <= 1.3 for v in values.values()), values


def test_findings_against_control(synth_out):
    out, result = synth_out
    px = 2.3
    frames = {k: wb_frames(out, k) for k in SUBJECTS}

    def lung(key: str, view: str) -> float:
        return np.mean(
            [
                disc_mean(frames[key][view], point(result, key, view, f"lung_roi_{s}"), 25.0, px)
                for s in "RL"
            ]
        )

    # C: intense but diffuse (a higher lung weight would let the lungs' varying thickness
    # read as patchy uptake, see test_analysis); A and B over a brighter normal skeleton.
    for key, need in (("A", 1.5), ("B", 1.5), ("C", 1.7)):
        for view in ("ANT", "POST"):
            ratio = lung(key, view) / lung("control", view)
            assert ratio >= need, (key, view, ratio)
    st = disc_mean(frames["A"]["ANT"], point(result, "A", "ANT", "stomach"), 25.0, px)
    st0 = disc_mean(frames["control"]["ANT"], point(result, "control", "ANT", "stomach"), 25.0, px)
    assert st / st0 >= 1.5
    for les in result["truth"]["C"]["lesions"]:
        r = max(8.0, 0.8 * les["radius_mm"])
        ratios = []
        for view in ("ANT", "POST"):
            c = disc_mean(frames["C"][view], point(result, "C", view, les["site"]), r, px)
            n = disc_mean(
                frames["control"][view], point(result, "control", view, les["site"]), r, px
            )
            ratios.append(c / n)
        assert max(ratios) >= 2.0, (les["name"], ratios)


def test_spot_views(synth_out):
    out, _ = synth_out
    for key, n in (("A", 1), ("B", 2)):
        ds = pydicom.dcmread(out / key / "spot" / "spot.dcm")
        arr = ds.pixel_array.reshape(n, 256, 256)
        assert list(ds.ImageType)[2] == "STATIC"
        for frame in arr:
            assert 0.5e6 <= frame.sum() <= 1.0e6


# -- ribs through the lungs, domed lung bases ---------------------------------------------
def planar_frame(path: Path, view: str) -> tuple[np.ndarray, float, float, float]:
    """(counts, pixel mm, patient x of the left image edge, patient z of the top edge) of
    the ``view`` frame of a planar NM file, from its Detector Information Sequence."""
    ds = pydicom.dcmread(path)
    px = float(ds.PixelSpacing[0])
    arr = ds.pixel_array.astype(float).reshape(-1, ds.Rows, ds.Columns)
    dets = ds.DetectorVector if ds.NumberOfFrames > 1 else [ds.DetectorVector]
    for item, det in zip(ds.DetectorInformationSequence, dets, strict=True):
        if item.ViewCodeSequence[0].CodeMeaning.upper().startswith(view[:4]):
            x0, _, z0 = (float(v) for v in item.ImagePositionPatient)
            return arr[int(det) - 1], px, x0 - px / 2.0, z0 + px / 2.0
    raise AssertionError(f"no {view} view in {path}")


def anterior_rib_cnr(
    img: np.ndarray, px: float, x_left: float, z_top: float, body, tag: str
) -> dict[int, float]:
    """Contrast-to-noise ratio of each anterior rib crossing lung ``tag`` on an ANT view.

    Each anterior arc of the phantom (from its most lateral point to its anterior end) is
    followed over 60 mm centred on the lung's measurement column, where it lies inside the
    lung (10 mm above the diaphragm, below 0.75 of the lung's half height above its centre):
    the counts along the rib (centre line +- one pixel, bilinear) against those half way to
    the anterior ribs above and below (the intercostal lung), kept only where both
    neighbours are 15 mm away or more. Noise: Poisson, with the variance taken as 1.3 x
    the mean (the ceiling of the measured local variance/mean). Posterior ribs lie about
    20 cm from the camera, blurred to about 17 mm FWHM, and only modulate the background.
    """
    from scipy import ndimage

    side = -1 if tag == "R" else 1
    lung = body.lungs[tag]
    cx, _, cz = lung.centre
    rx, _, rz = lung.radii
    xs = cx + side * 0.2 * rx + np.arange(-30.0, 30.0 + 1e-6, px / 2.0)
    lines = np.full((12, xs.size), np.nan)
    for n in range(1, 13):
        c = body.rib_centre_line(n, side)
        arc = c[int(np.argmax(side * c[:, 0])) :]
        arc = arc[np.argsort(arc[:, 0])]
        inside = (xs >= arc[0, 0]) & (xs <= arc[-1, 0])
        lines[n - 1, inside] = np.interp(xs[inside], arc[:, 0], arc[:, 2])
    lo = body.lung_floor(tag, xs, np.zeros_like(xs)) + 10.0
    hi = cz + 0.75 * rz

    def sample(x: np.ndarray, z: np.ndarray) -> np.ndarray:
        rc = [(z_top - z) / px - 0.5, (x - x_left) / px - 0.5]
        return ndimage.map_coordinates(img, rc, order=1)

    out: dict[int, float] = {}
    for n in range(1, 13):
        rib, gap = [], []
        for j, x in enumerate(xs):
            z = lines[n - 1, j]
            others = np.delete(lines[:, j], n - 1)
            others = others[~np.isnan(others)]
            if np.isnan(z) or not lo[j] <= z <= hi:
                continue
            above, below = others[others > z], others[others < z]
            if not (above.size and below.size):
                continue
            za, zb = float(above.min()), float(below.max())
            if za - z < 15.0 or z - zb < 15.0:
                continue
            rib.append(sample(np.full(3, x), z + np.array([-px, 0.0, px])))
            gap.append(sample(np.full(2, x), np.array([(z + za) / 2.0, (z + zb) / 2.0])))
        if len(rib) < 16:  # less than 16 mm of rib to follow
            continue
        r, g = np.concatenate(rib), np.concatenate(gap)
        noise = np.sqrt(1.3 * r.mean() / r.size + 1.3 * g.mean() / g.size)
        out[n] = round(float((r.mean() - g.mean()) / noise), 1)
    return out


def test_ribs_seen_through_the_lungs_on_ant(synth_out):
    """On the ANT whole-body view of the control, A and C, and on A's static chest view,
    at least four anterior ribs cross each lung with a rib/intercostal contrast-to-noise
    ratio of 3 or more (followed along the rib over up to 60 mm, as a reader's eye does):
    the ribs are still seen through diffuse lung uptake."""
    from casereport.synth.anatomy import Body

    out, _ = synth_out
    views = [(k, out / k / "wb" / "wb.dcm") for k in ("control", "A", "C")]
    views.append(("A", out / "A" / "spot" / "spot.dcm"))
    for key, path in views:
        spec = SUBJECTS[key]
        body = Body(spec.sex, spec.height_mm, spec.girth)
        img, px, x_left, z_top = planar_frame(path, "ANT")
        for tag in "RL":
            cnr = anterior_rib_cnr(img, px, x_left, z_top, body, tag)
            assert sum(v >= 3.0 for v in cnr.values()) >= 4, (key, path.name, tag, cnr)


def lung_base_mm(key: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per lung: patient x (mm) of the whole-body phantom's columns through the lung (where
    it is at least 0.6 of its greatest depth front to back) and the height (mm) of the
    lung's lower edge there (lowest z where the lung is at least 40 mm deep)."""
    from casereport.synth.anatomy import Body, Tissue, rasterise
    from casereport.synth.simulate import wb_grid

    spec = SUBJECTS[key]
    body = Body(spec.sex, spec.height_mm, spec.girth)
    grid = wb_grid(spec)
    labels = rasterise(body, grid).labels
    dx, dy, dz = grid.spacing_mm
    thick = (labels == int(Tissue.LUNG)).sum(axis=1) * dy  # (z, x) mm
    x = grid.origin_mm[0] + np.arange(grid.shape[2]) * dx
    z = grid.origin_mm[2] + np.arange(grid.shape[0]) * dz
    out = {}
    for tag, keep in (("R", x < -12.0), ("L", x > 12.0)):
        # Columns through the body of the lung (not its thin lateral and medial rims).
        depth = np.where(keep, thick.max(axis=0), 0.0)
        cols = np.flatnonzero(depth >= 0.6 * depth.max())
        base = np.array([z[np.flatnonzero(thick[:, i] >= 40.0).min()] for i in cols])
        out[tag] = (x[cols], base)
    return out


@pytest.mark.parametrize("key", ["A", "control"])
def test_lung_bases_follow_the_diaphragm_domes(key):
    """The lower edge of each lung is a dome, as the hemidiaphragm under it: highest (away
    from its outermost and innermost 10 mm) within the medial two thirds of the lung, at
    least 20 mm lower at the costophrenic angle (outermost 10 mm) and, on the right, lower
    at the medial end too; the right dome stands at least 10 mm above the left."""
    tops = {}
    for tag, (x, base) in lung_base_mm(key).items():
        lateral = np.abs(x) >= np.abs(x).max() - 10.0
        medial = np.abs(x) <= np.abs(x).min() + 10.0
        mid = ~lateral & ~medial
        top = base[mid].max()
        x_top = float(np.abs(x[mid & (base >= top - 4.0)]).mean())  # middle of the crest
        tops[tag] = float(top)
        width = np.abs(x).max() - np.abs(x).min()
        assert x_top - np.abs(x).min() <= 2.0 / 3.0 * width, (key, tag, x_top)
        assert top - base[lateral].mean() >= 20.0, (key, tag, base[lateral], top)
        if tag == "R":  # on the left the heart bounds the lung medially
            assert base[medial].mean() < top, (key, tag, base[medial], top)
    assert tops["R"] - tops["L"] >= 10.0, (key, tops)


def test_ct_hounsfield_and_coverage(synth_out):
    from scipy import ndimage

    out, result = synth_out
    for key in SUBJECTS:
        dss = sorted(
            (pydicom.dcmread(p) for p in (out / key / "ct").glob("*.dcm")),
            key=lambda d: float(d.ImagePositionPatient[2]),
        )
        z = np.array([float(d.ImagePositionPatient[2]) for d in dss])
        assert np.allclose(np.diff(z), 5.0)
        t = result["truth"][key]
        lungs = t["lungs"]
        assert z.max() >= max(v["centre"][2] + v["radii"][2] for v in lungs.values())
        assert z.min() <= t["landmarks_lps_mm"]["stomach"][2] - 40.0
        vol = np.stack(
            [d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in dss]
        )
        ds0 = dss[0]
        o, ps = [float(v) for v in ds0.ImagePositionPatient], float(ds0.PixelSpacing[0])
        # Right lung sample, lateral of the hilar vessels.
        c = lungs["R"]["centre"]
        k = int(np.argmin(abs(z - c[2])))
        i, j = int((c[0] - 0.4 * lungs["R"]["radii"][0] - o[0]) / ps), int((c[1] - o[1]) / ps)
        lung_hu = vol[k, j - 5 : j + 5, i - 5 : i + 5]
        # Not the vessels crossing the sample, nor the pixels their partial volume reaches:
        # those within a pixel of a vessel in either half of the slice's thickness.
        grid = ct_grid_of(result, key)
        quarter = grid.spacing_mm[2] / 4.0
        vessels = np.logical_or.reduce(
            [
                structure(chest_body(key), grid_slice(grid, float(z[k]) + d), "pulmonary vessel")[0]
                for d in (-quarter, quarter)
            ]
        )
        near = ndimage.binary_dilation(vessels, iterations=1)[j - 5 : j + 5, i - 5 : i + 5]
        parenchyma = lung_hu[(lung_hu < -500) & ~near]
        assert parenchyma.size >= 50, parenchyma.size
        assert -920 < np.median(parenchyma) < -780, np.median(parenchyma)
        assert np.median(vol[k, :10, :10]) < -950  # air
        assert vol.max() > 700  # bone


def test_spect_lesions_and_lungs(synth_out):
    out, result = synth_out
    ds = pydicom.dcmread(out / "C" / "spect" / "spect.dcm")
    vol = ds.pixel_array.astype(float)
    o = np.array([float(v) for v in ds.DetectorInformationSequence[0].ImagePositionPatient])
    d = float(ds.SpacingBetweenSlices)
    assert float(ds.PixelSpacing[0]) == d == float(ds.SliceThickness)

    def at(p: tuple[float, float, float]) -> float:
        i, j, k = np.round((np.asarray(p) - o) / d).astype(int)
        return float(vol[k - 1 : k + 2, j - 1 : j + 2, i - 1 : i + 2].mean())

    t = result["truth"]["C"]
    for name in ("T6", "T9"):
        lm = t["landmarks_lps_mm"][name]
        assert at(lm) > 0.5 * vol.max(), name
    lung = at(t["lungs"]["R"]["centre"])
    body = at(t["landmarks_lps_mm"]["heart"])
    assert lung > 1.5 * body  # intense lung uptake, above the mediastinal background


# -- anatomy -------------------------------------------------------------------------------
def ct_volume(out: Path, key: str) -> tuple[np.ndarray, np.ndarray]:
    """HU volume (k, j, i) with k increasing in z, and the slice heights (mm)."""
    dss = sorted(
        (pydicom.dcmread(p) for p in (out / key / "ct").glob("*.dcm")),
        key=lambda d: float(d.ImagePositionPatient[2]),
    )
    vol = np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in dss])
    return vol, np.array([float(d.ImagePositionPatient[2]) for d in dss])


def side_sections(mask: np.ndarray, x: np.ndarray, off_midline_mm: float = 0.0) -> list[int]:
    """Sections (connected parts of at least 5 pixels; a plane grazing a rib's edge cuts a
    sliver of one or two) per side (patient right, left) of a 2-D ``mask`` with columns at
    patient ``x`` (mm), counting only those centred more than ``off_midline_mm`` from the
    midline."""
    from scipy import ndimage

    out = []
    for side in (x < 0, x > 0):
        parts, n = ndimage.label(mask & side[None, :])
        if n == 0:
            out.append(0)
            continue
        idx = np.arange(1, n + 1)
        size = ndimage.sum_labels(np.ones(mask.shape), parts, idx)
        xc = ndimage.mean(np.broadcast_to(x[None, :], mask.shape), parts, idx)
        out.append(int(np.sum((size >= 5) & (np.abs(xc) > off_midline_mm))))
    return out


def chest_wall_bone_counts(sl: np.ndarray, x: np.ndarray, px_mm: float) -> list[int]:
    """Bone sections (HU > 200, at least 5 pixels) per side (patient right, left) on a CT
    slice, within 12 mm outside the lung fields and more than 30 mm from the midline (not
    the spine or sternum): the ribs as a reader counts them on the image."""
    from scipy import ndimage

    body = ndimage.binary_fill_holes(sl > -400)
    air = (sl < -400) & ndimage.binary_erosion(body, iterations=3)
    lab, _ = ndimage.label(air)
    big = np.argsort(np.bincount(lab.ravel())[1:])[::-1][:2] + 1
    lungs = ndimage.binary_fill_holes(np.isin(lab, big))
    band = ndimage.binary_dilation(lungs, iterations=int(round(12.0 / px_mm))) & ~lungs
    bone = (sl > 200) & band & (np.abs(x) > 30.0)[None, :]
    out = []
    for side in (x < 0, x > 0):
        parts, n = ndimage.label(bone & side[None, :])
        sizes = np.bincount(parts.ravel())[1:]
        out.append(int((sizes >= 5).sum()))
    return out


def chest_body(key: str):
    from casereport.synth.anatomy import Body

    spec = SUBJECTS[key]
    return Body(spec.sex, spec.height_mm, spec.girth, arms_up=True)


def ct_grid_of(result: dict, key: str):
    from casereport.synth.grid import Grid

    t = result["truth"][key]["ct"]
    return Grid(tuple(t["origin_mm"]), tuple(t["spacing_mm"]), tuple(t["shape"]))


def grid_slice(grid, z_mm: float):
    """The one-slice grid of ``grid`` at height ``z_mm``."""
    from casereport.synth.grid import Grid

    return Grid((grid.origin_mm[0], grid.origin_mm[1], z_mm), grid.spacing_mm, (1, *grid.shape[1:]))


def structure(body, grid, *prefixes: str) -> np.ndarray:
    from casereport.synth.anatomy import rasterise

    return rasterise(body, grid, select=prefixes).labels > 0


@pytest.mark.parametrize("key", ["A", "control"])
def test_ct_mediastinum_heart_aorta_trachea(synth_out, key):
    """The mediastinal structures exist with adult sizes and read as soft tissue or air."""
    from scipy import ndimage

    from casereport.synth.anatomy import Tissue, rasterise

    out, result = synth_out
    vol, _ = ct_volume(out, key)
    grid = ct_grid_of(result, key)
    body = chest_body(key)
    ml = grid.voxel_ml
    for names, lo_ml, hi_ml, lo_hu, hi_hu in (
        (("heart", "left atrium"), 350.0, 900.0, 10.0, 70.0),
        (("ascending aorta", "aortic arch", "descending aorta"), 60.0, 250.0, 10.0, 70.0),
        (("pulmonary trunk", "left pulmonary", "right pulmonary"), 15.0, 120.0, 0.0, 70.0),
        (("superior vena cava",), 10.0, 80.0, 0.0, 70.0),
        (("trachea", "right main bronchus", "left main bronchus"), 15.0, 80.0, -1024.0, -850.0),
    ):
        m = structure(body, grid, *names)
        vol_ml = m.sum() * ml
        assert lo_ml <= vol_ml <= hi_ml, (names, vol_ml)
        core = ndimage.binary_erosion(m, iterations=1)
        assert lo_hu <= np.median(vol[core]) <= hi_hu, (names, np.median(vol[core]))
    # Pericardial fat around the heart: a fat rim just outside it on the mid-heart slice.
    heart = structure(body, grid, "heart")
    k = int(np.argmax(heart.sum(axis=(1, 2))))
    rim = ndimage.binary_dilation(heart[k], iterations=3) & ~heart[k]
    assert np.mean(vol[k][rim] < -40) > 0.25
    # Chambers: blood volumes of an adult heart; the left ventricular wall and septum about
    # 8 mm thick; the myocardium a little denser than the blood on the CT.
    lab = rasterise(body, grid).labels
    blood = lab == int(Tissue.HEART)
    for names, lo_ml, hi_ml in (
        (("heart left ventricle blood",), 70.0, 170.0),
        (("heart right ventricle blood",), 55.0, 170.0),
        (("left atrium blood",), 15.0, 90.0),
        (("heart right atrium blood",), 20.0, 100.0),
    ):
        vol_ml = (structure(body, grid, *names) & blood).sum() * ml
        assert lo_ml <= vol_ml <= hi_ml, (key, names, vol_ml)
    myo = lab == int(Tissue.MYOCARDIUM)
    lv_wall = structure(body, grid, "heart left ventricle") & ~structure(
        body, grid, "heart left ventricle blood"
    )
    assert 80.0 <= (myo & lv_wall).sum() * ml <= 220.0, (key, (myo & lv_wall).sum() * ml)
    core_myo = ndimage.binary_erosion(myo, iterations=1)
    core_blood = ndimage.binary_erosion(blood, iterations=2)
    assert 5.0 <= np.mean(vol[core_myo]) - np.mean(vol[core_blood]) <= 20.0
    # Epicardial fat in the grooves between the chambers, with the coronary arteries in it;
    # in all, fat within 10 mm of the heart (pericardial and epicardial) reads about -100 HU.
    groove = structure(body, grid, "atrioventricular groove fat", "anterior interventricular")
    groove &= lab == int(Tissue.FAT)
    assert groove.sum() * ml >= 3.0, (key, groove.sum() * ml)
    arteries = structure(body, grid, "atrioventricular groove artery") & (lab == int(Tissue.BLOOD))
    assert arteries.sum() > 0
    heart3 = structure(body, grid, "heart", "left atrium")
    near = ndimage.binary_dilation(heart3, iterations=5) & ~heart3 & (lab == int(Tissue.FAT))
    near |= groove
    assert near.sum() * ml >= 40.0, (key, near.sum() * ml)
    assert -140.0 <= np.median(vol[ndimage.binary_erosion(near)]) <= -60.0
    # The descending aorta stands out beside the spine on every slice from below the arch
    # to the upper abdomen: fat or lung round at least a third of it (not merged with the
    # left atrium, the liver or the stomach), 16-30 mm across (narrowing downwards).
    aorta = structure(body, grid, "descending aorta") & (lab == int(Tissue.BLOOD))
    z = grid.axis(2)
    for k in np.flatnonzero((z >= 1150.0 * body.sz) & (z <= 1335.0 * body.sz)):
        m = aorta[k]
        ring = ndimage.binary_dilation(m, iterations=2) & ~m
        outlined = float(np.mean(vol[k][ring] < -30.0))
        d = 2.0 * np.sqrt(m.sum() * grid.spacing_mm[0] ** 2 / np.pi)
        assert outlined >= 0.33 and 16.0 <= d <= 30.0, (key, float(z[k]), outlined, d)


@pytest.mark.parametrize("key", ["A", "B"])
def test_ct_ribs_vertebra_scapula_and_table(synth_out, key):
    from scipy import ndimage

    from casereport.synth.anatomy import Tissue, rasterise
    from casereport.synth.grid import Grid

    out, result = synth_out
    vol, z = ct_volume(out, key)
    grid = ct_grid_of(result, key)
    body = chest_body(key)
    carina = result["truth"][key]["landmarks_lps_mm"]["carina"]
    x = grid.axis(0)
    ribs = structure(body, grid, "rib ", "costal cartilage", "costochondral")
    counts, on_ct, twice = {}, {}, {}
    for dz in (0.0, -40.0, -70.0):
        kk = int(np.argmin(abs(z - carina[2] - dz)))
        counts[dz] = side_sections(ribs[kk], x)
        # The CT slice averages two sub-slices a quarter of its thickness either side of
        # its centre: the bone it can show is the bone in either.
        quarter = grid.spacing_mm[2] / 4.0
        bony = np.logical_or.reduce(
            [
                structure(body, grid_slice(grid, float(z[kk]) + d), "rib ", "costochondral")[0]
                for d in (-quarter, quarter)
            ]
        )
        want = side_sections(bony, x, off_midline_mm=30.0)
        on_ct[dz] = (want, chest_wall_bone_counts(vol[kk], x, grid.spacing_mm[0]))
        # Ribs the slice cuts at two or more places on the right side.
        one = grid_slice(grid, float(z[kk]))
        twice[dz] = [
            n
            for n in range(1, 13)
            if side_sections(
                structure(body, one, f"rib {n} -1 ", f"costal cartilage {n} -1 ")[0], x
            )[0]
            >= 2
        ]
    # Each rib climbs from its head to its angle, falls round the side of the chest to an
    # anterior end about five vertebral levels below its head, and its cartilage climbs
    # back to the sternum: one slice cuts the ribs spanning its height, some of them twice
    # (near the spine and at the side, or at the side and as cartilage). Sections of at
    # least 5 pixels per side: 8-12 at mid-chest; at the carina, near the top of the cage
    # where the first rib never reaches, 6-12.
    assert all(6 <= n <= 12 for n in counts[0.0]), (key, counts)
    assert all(8 <= n <= 12 for dz in (-40.0, -70.0) for n in counts[dz]), (key, counts)
    assert all(len(v) >= 1 for v in twice.values()), (key, twice)
    # The CT shows the same bony sections: bone in the chest wall next to each lung.
    for dz, (want, seen) in on_ct.items():
        assert all(abs(a - b) <= 1 for a, b in zip(want, seen, strict=True)), (key, dz, on_ct)
    k = int(np.argmin(abs(z - carina[2])))
    assert np.median(vol[k][ribs[k]]) > 250  # and they are bone on the CT
    # Each section of a shaft is a flattened oval (5-8 mm thick in the wall, taller along
    # it) with a cortex round a spongy core: measured on a 0.25 mm grid through the carina,
    # more than 30 mm from the midline (the rib heads on the vertebrae are round knobs).
    fine = Grid((-200.0, -200.0, float(z[k])), (0.25, 0.25, 1.0), (1, 1600, 1600))
    lab = rasterise(body, fine).labels[0]
    rib = rasterise(body, fine, select=("rib ",)).labels[0] > 0
    parts, n = ndimage.label(rib)
    widths, cored = [], []
    for m in range(1, n + 1):
        jj, ii = np.nonzero(parts == m)
        if abs(fine.origin_mm[0] + 0.25 * ii.mean()) <= 30.0:
            continue
        ev = np.linalg.eigvalsh(np.cov(np.stack([ii, jj]) * 0.25))
        widths.append((4.0 * np.sqrt(ev[0]), 4.0 * np.sqrt(ev[1])))
        cored.append(np.mean(lab[parts == m] == int(Tissue.SPONGY)) > 0.2)
    thin = np.median([w for w, _ in widths])
    assert 5.0 <= thin <= 8.0 and min(h for _, h in widths) >= 10.0, (key, widths)
    assert np.mean(cored) >= 0.7, (key, cored)  # a plane grazing a rib's edge cuts cortex only
    # Vertebra: a ring of bone (body, pedicles, laminae) around a spinal canal of ~15 mm.
    spine = structure(body, grid, "T")[k]
    canal = ndimage.binary_fill_holes(spine) & ~spine
    area = canal.sum() * grid.spacing_mm[0] * grid.spacing_mm[1]
    assert 80.0 <= area <= 320.0, area
    assert np.median(vol[k][canal]) < 100
    # Scapulae: bone lying in muscle (no air around them), behind the ribs.
    scap = structure(body, grid, "scapula")
    halo = ndimage.binary_dilation(scap, iterations=2) & ~scap
    assert scap.sum() > 0 and np.percentile(vol[halo], 5) > -200
    # Table: dense curved plates under the patient, wider than the body.
    lab, _ = ndimage.label(vol[k] > -400)
    patient = lab == np.argmax(np.bincount(lab.ravel())[1:]) + 1
    back = np.flatnonzero(patient.any(axis=1))[-1]
    table = vol[k][back + 1 :] > 100
    cols = np.flatnonzero(table.any(axis=0))
    assert cols.size and (cols[-1] - cols[0]) * grid.spacing_mm[0] > 350, "no CT table"


def gutter_slice(key: str, level: str):
    """Phantom labels on a 0.5 mm axial grid at ``level`` (a landmark), the body, the grid
    and the vertebral body cut by the slice (a Cylinder)."""
    from casereport.synth.grid import Grid

    body = chest_body(key)
    z = body.landmarks[level][2]
    grid = Grid((-120.0, -60.0, z), (0.5, 0.5, 1.0), (1, 400, 480))
    from casereport.synth.anatomy import rasterise

    vb = next(
        p.shape
        for p in body.parts
        if p.name in {f"T{n}" for n in range(1, 13)} and p.shape.z0 <= z <= p.shape.z1
    )
    return body, grid, rasterise(body, grid).labels[0], vb


@pytest.mark.parametrize("key", ["A", "B", "control"])
@pytest.mark.parametrize("level", ["heart", "carina"])
def test_ct_lungs_fill_the_paravertebral_gutters(key, level):
    """Behind the heart and at the carina the lungs wrap round the spine as on a real chest
    CT: a pleural gap from the side of the vertebral body, gutters reaching back beside the
    spinal canal, nothing between the lungs but the vertebra, the descending aorta, the
    oesophagus and small vessels, and the erector spinae behind the ribs."""
    from scipy import ndimage

    from casereport.synth.anatomy import Tissue

    body, grid, lab, vb = gutter_slice(key, level)
    x, y = grid.axis(0)[None, :], grid.axis(1)[:, None]
    px = grid.spacing_mm[0]
    lung = lab == int(Tissue.LUNG)
    front, back = vb.cy - vb.ry, vb.cy + vb.ry  # back: the anterior edge of the spinal canal
    for side in (-1, 1):
        own = lung & (side * x > 0)
        # Beside the posterior half of the vertebral body, down to the rib head, the lung
        # lies within 4 mm of the bone: pleura and a thin layer of fat (the straight lung
        # edges this replaces left 8-9 mm of soft tissue there).
        rows = np.flatnonzero((grid.axis(1) >= vb.cy) & (grid.axis(1) <= back - 3.0))
        for j in rows:
            cols = np.flatnonzero(own[j])
            assert cols.size, (key, level, side, "no lung beside the vertebral body")
            gap = np.min(np.abs(grid.axis(0)[cols])) - vb.rx
            assert gap <= 4.0, (key, level, side, float(grid.axis(1)[j]), gap)
        # The gutter, medial to the rib angle, reaches back beyond the front of the canal ...
        gutter = own & (np.abs(x) < vb.rx + 25.0)
        deepest = float(grid.axis(1)[np.flatnonzero(gutter.any(axis=1))[-1]])
        assert deepest >= back, (key, level, side, deepest, back)
        # ... but never behind the transverse processes and rib necks (about 35 mm behind the
        # body centre at 40 mm from the midline).
        medial = own & (np.abs(x) < 40.0)
        assert float(grid.axis(1)[np.flatnonzero(medial.any(axis=1))[-1]]) < vb.cy + 32.0
    # Between the lungs, from the back of the heart (or of the airways) to 8 mm behind the
    # front of the canal: the vertebra, the descending aorta, the oesophagus, the azygos
    # vein and a little fat: in all under the body's area + 1600 mm^2, and under 1000 mm^2
    # of soft tissue and fat outside these structures.
    front_of = structure(
        body, grid, "heart", "pericardial", "left atrium", "trachea", "right main", "left main"
    )[0]
    y0 = max(front - 30.0, float(grid.axis(1)[np.flatnonzero(front_of.any(axis=1))[-1]]))
    between = np.zeros_like(lung)
    for j in np.flatnonzero((grid.axis(1) >= y0) & (grid.axis(1) <= back + 8.0)):
        r = np.flatnonzero(lung[j] & (grid.axis(0) < 0))
        le = np.flatnonzero(lung[j] & (grid.axis(0) > 0))
        if r.size and le.size:
            between[j, r.max() + 1 : le.min()] = True
    named = structure(body, grid, "T", "descending aorta", "oesophag", "azygos")[0]
    soft = between & ~named & np.isin(lab, [int(Tissue.SOFT), int(Tissue.FAT)])
    area = between.sum() * px * px
    assert area < np.pi * vb.rx * vb.ry + 1600.0, (key, level, area)
    assert soft.sum() * px * px < 1000.0, (key, level, soft.sum() * px * px)
    # The descending aorta: ~25 mm, left and in front of the spine, against the left lung.
    aorta = structure(body, grid, "descending aorta")[0]
    d = 2.0 * np.sqrt(aorta.sum() * px * px / np.pi)
    assert 20.0 <= d <= 28.0, (key, level, d)
    ax_, ay_ = (
        float(v.mean())
        for v in (np.broadcast_to(x, lab.shape)[aorta], np.broadcast_to(y, lab.shape)[aorta])
    )
    assert ax_ > 5.0 and ay_ < vb.cy, (key, level, ax_, ay_)
    ring = ndimage.binary_dilation(aorta, iterations=int(round(1.5 / px))) & ~aorta
    assert np.mean(lung[ring & (x > ax_)]) > 0.3, (key, level)
    # Erector spinae: a muscle column on each side of the spinous process, behind the
    # transverse processes and rib necks and behind every lung pixel near the spine,
    # outlined by a thin fat plane.
    for side in (-1, 1):
        muscle = structure(body, grid, f"erector spinae {side}")[0]
        assert muscle.sum() * px * px > 400.0, (key, level, side)
        # Muscle, with the transverse processes and ribs it lies on cutting into its front.
        assert np.mean(lab[muscle] == int(Tissue.SOFT)) > 0.8, (key, level, side)
        soft_or_bone = [
            int(t) for t in (Tissue.SOFT, Tissue.MARROW, Tissue.SPONGY, Tissue.CORTICAL)
        ]
        assert np.mean(np.isin(lab[muscle], soft_or_bone)) > 0.98, (key, level, side)
        yy = np.broadcast_to(y, lab.shape)
        assert float(yy[muscle].mean()) > back + 20.0, (key, level, side)
        for i in np.flatnonzero(muscle.any(axis=0)):  # column by column: lung in front
            if lung[:, i].any():
                assert yy[lung[:, i], i].max() < yy[muscle[:, i], i].min(), (key, level, i)
        rim = ndimage.binary_dilation(muscle, iterations=int(round(1.5 / px))) & ~muscle
        assert np.mean(lab[rim] != int(Tissue.SOFT)) > 0.6, (key, level, side)


@pytest.mark.parametrize("key", list(SUBJECTS))
def test_ct_lungs_fill_rounded_paravertebral_gutters(key):
    """At the carina and 40 and 70 mm below it the posterior lung fills a rounded gutter
    beside the spine as on a supine chest CT, measured per side on the phantom (0.5 mm
    grid; y from the centre of the nearest thoracic vertebral body):

    - the deepest lung (the mean |x| of the lung within 1 mm of its most posterior point)
      lies 30-50 mm from the midline, 20-30 mm behind the vertebral body centre: level
      with or just in front of the transverse process tips (30-35 mm behind). The flat
      superellipse back this replaces, with a straight border from the rib neck back to
      the rib angle, put it 58-69 mm from the midline;
    - the lung reaches at least 20 mm behind the body centre at |x| = 40 mm (beside the
      rib tubercles);
    - from the deepest point out to the rib angle the posterior border is convex: nowhere
      more than one pixel (0.5 mm) in front of its chord, never turning back;
    - every rib neck (a rib section 20-50 mm from the midline, behind the body centre, on
      the slice or 1-2 mm above or below it) lies within 6 mm of the lung (pleura and
      extrapleural fat), the transverse process tips within 8.5 mm (the tubercle on the
      tip, the rib neck and the pleura in between);
    - the erector spinae lie behind every lung pixel of the columns they occupy.
    """
    from scipy import ndimage

    from casereport.synth.anatomy import _RIB_WALL_DEG, Tissue, rasterise
    from casereport.synth.grid import Grid

    body = chest_body(key)
    bodies = [p.shape for p in body.parts if p.name in {f"T{n}" for n in range(1, 13)}]
    necks: dict[int, list[float]] = {-1: [], 1: []}
    for dz in (0.0, -40.0, -70.0):
        z = body.landmarks["carina"][2] + dz
        grid = Grid((-120.0, -60.0, z - 2.0), (0.5, 0.5, 1.0), (5, 400, 480))
        x, y = grid.axis(0), grid.axis(1)
        lungs = rasterise(body, grid).labels == int(Tissue.LUNG)
        lung = lungs[2]  # the slice at z
        vb = min(bodies, key=lambda c: abs(0.5 * (c.z0 + c.z1) - z))  # a slice may cut a disc
        dists = np.stack([ndimage.distance_transform_edt(~m) * 0.5 for m in lungs])
        dist = dists[2]
        ribs = structure(body, grid, "rib ")
        tps = structure(body, grid, *(f"T{n} transverse" for n in range(1, 13)))[2]
        for side in (-1, 1):
            where = (key, dz, side)
            own = lung & ((side * x > 0) & (np.abs(x) < 100.0))[None, :]
            jj, ii = np.nonzero(own)
            deep = y[jj] >= y[jj].max() - 1.0
            x_deep = float(np.abs(x[ii[deep]]).mean())
            assert 30.0 <= x_deep <= 50.0, (*where, x_deep)
            assert 20.0 <= float(y[jj].max()) - vb.cy <= 30.0, (*where, y[jj].max() - vb.cy)
            at40 = y[np.flatnonzero(lung[:, np.argmin(abs(x - side * 40.0))])].max()
            assert at40 - vb.cy >= 20.0, (*where, at40 - vb.cy)
            (x_angle, _, _), _n = body.wall_point(z, _RIB_WALL_DEG, side)
            xs = np.arange(x_deep, abs(x_angle), 0.5)
            border = np.array(
                [y[np.flatnonzero(lung[:, np.argmin(abs(x - side * v))])].max() for v in xs]
            )
            chord = border[0] + (border[-1] - border[0]) * (xs - xs[0]) / (xs[-1] - xs[0])
            assert float((chord - border).max()) <= 0.5, (*where, "concave", chord - border)
            assert np.all(np.diff(border) <= 0.5), (*where, "turns back", border)
            for rib, d in zip(ribs, dists, strict=True):
                parts, n = ndimage.label(rib & (side * x > 0)[None, :])
                for m in range(1, n + 1):
                    pj, pi = np.nonzero(parts == m)
                    if pj.size >= 5 and 20.0 < abs(x[pi].mean()) < 50.0 and y[pj].mean() > vb.cy:
                        necks[side].append(float(d[pj, pi].min()))
            tip = tps & (side * x > 25.0)[None, :]
            if tip.any():
                assert float(dist[tip].min()) <= 8.5, (*where, float(dist[tip].min()))
            muscle = structure(body, grid, f"erector spinae {side}")[2]
            for i in np.flatnonzero(muscle.any(axis=0)):
                if lung[:, i].any():
                    assert y[lung[:, i]].max() < y[muscle[:, i]].min(), (*where, x[i])
    for side, gaps in necks.items():
        assert gaps and max(gaps) <= 6.0, (key, side, gaps)


@pytest.mark.parametrize("key", list(SUBJECTS))
def test_ct_transverse_processes_meet_their_ribs(key):
    """The tubercle of each rib rests on the tip of the transverse process of its own
    vertebra (the costotransverse joint), as on a real chest CT: on every CT slice from the
    carina to 70 mm below it, each thoracic transverse process cut out to its tip (a section
    of at least 5 CT pixels reaching more than 32 mm from the midline) has rib bone within
    1.5 mm of its lateral end and the lung within 8.5 mm, the thickness of the rib neck in
    between (measured on the phantom on a 0.5 mm grid at the height of each CT slice). The
    processes this replaces lay 8-12 mm below the rib necks: their tips 12-28 mm from rib
    bone and 8-12 mm from the lung."""
    from scipy import ndimage

    from casereport.synth.anatomy import Tissue, rasterise
    from casereport.synth.ct import ct_grid
    from casereport.synth.grid import Grid
    from casereport.synth.simulate import CT

    body = chest_body(key)
    z = ct_grid(body, CT).axis(2)
    carina = body.landmarks["carina"][2]
    processes = tuple(f"T{n} transverse" for n in range(1, 13))
    tips: dict[int, list[tuple[float, float, float]]] = {-1: [], 1: []}
    for zk in z[(z <= carina + 0.1) & (z >= carina - 70.1)]:
        grid = Grid((-80.0, -20.0, float(zk)), (0.5, 0.5, 1.0), (1, 240, 320))
        x = grid.axis(0)
        lung = rasterise(body, grid).labels[0] == int(Tissue.LUNG)
        to_lung = ndimage.distance_transform_edt(~lung) * 0.5
        to_rib = ndimage.distance_transform_edt(~structure(body, grid, "rib ")[0]) * 0.5
        parts, n = ndimage.label(structure(body, grid, *processes)[0])
        for m in range(1, n + 1):
            jj, ii = np.nonzero(parts == m)
            out = np.abs(x[ii])
            if jj.size * 0.25 < 17.6 or out.max() <= 32.0:
                continue  # a sliver, or the root of a process rising to its tip
            end = out >= out.max() - 3.0
            rib, lung_mm = (float(d[jj[end], ii[end]].min()) for d in (to_rib, to_lung))
            tips[int(np.sign(x[ii].mean()))].append((float(zk - carina), rib, lung_mm))
    for side, found in tips.items():
        assert len(found) >= 4, (key, side, found)
        for dz, rib, lung in found:
            assert rib <= 1.5 and lung <= 8.5, (key, side, dz, rib, lung)


def lung_fields(sl: np.ndarray) -> np.ndarray:
    """The two lung fields of a CT slice: the largest air regions inside the body."""
    from scipy import ndimage

    body = ndimage.binary_fill_holes(sl > -400)
    air = (sl < -400) & ndimage.binary_erosion(body, iterations=3)
    lab, _ = ndimage.label(air)
    big = np.argsort(np.bincount(lab.ravel())[1:])[::-1][:2] + 1
    return np.isin(lab, big)


def test_ct_posterior_lungs_follow_the_ribs(synth_out):
    """At mid-chest the lungs wrap round the spine and follow the curve of the posterior
    ribs as on a supine chest CT: on each side lung behind the vertebral body, reaching
    back beside it; every posterior rib section within a few millimetres of the lung (pleura
    and intercostal muscle: the elliptic cage this replaces left 10-15 mm of soft tissue
    inside the ribs lateral to the rib angles); the dependent lung denser than the front."""
    from scipy import ndimage

    out, result = synth_out
    for key in SUBJECTS:
        vol, z = ct_volume(out, key)
        grid = ct_grid_of(result, key)
        body = chest_body(key)
        carina = result["truth"][key]["landmarks_lps_mm"]["carina"]
        x, y = grid.axis(0), grid.axis(1)
        px = grid.spacing_mm[0]
        for dz in (-40.0, -70.0):
            k = int(np.argmin(abs(z - carina[2] - dz)))
            lung = lung_fields(vol[k])
            one = grid_slice(grid, float(z[k]))
            # The vertebral body (a slice may pass through a disc: the bodies above and below).
            spine = np.logical_or.reduce(
                [structure(body, grid_slice(grid, float(z[k]) + d), "T")[0] for d in (-8, 0, 8)]
            )
            spine &= (np.abs(x) < 25.0)[None, :]
            front = float(y[np.flatnonzero(spine.any(axis=1))[0]])
            for side in (x < 0, x > 0):
                near = lung & (side & (np.abs(x) < 60.0))[None, :]
                deepest = float(y[np.flatnonzero(near.any(axis=1))[-1]])
                assert deepest >= front + 25.0, (key, dz, front, deepest)
            dist = ndimage.distance_transform_edt(~lung) * px
            parts, n = ndimage.label(structure(body, one, "rib ")[0])
            gaps = []
            for m in range(1, n + 1):
                jj, ii = np.nonzero(parts == m)
                if jj.size >= 5 and np.abs(x[ii].mean()) > 30.0 and y[jj].mean() > 0.0:
                    gaps.append(float(dist[jj, ii].min()))
            assert len(gaps) >= 4 and max(gaps) <= 6.5, (key, dz, gaps)
            # Supine: the back quarter of the lung about 40-120 HU denser than the front.
            core = ndimage.binary_erosion(lung, iterations=2)
            rows = np.flatnonzero(core.any(axis=1))
            q = rows.size // 4
            ante = np.median(vol[k][: rows[q]][core[: rows[q]]])
            post = np.median(vol[k][rows[-q] :][core[rows[-q] :]])
            assert 40.0 <= post - ante <= 120.0, (key, dz, ante, post)


def test_ct_lungs_vessels_noise_and_arms(synth_out):
    from scipy import ndimage

    out, result = synth_out
    for key in SUBJECTS:
        vol, z = ct_volume(out, key)
        carina = result["truth"][key]["landmarks_lps_mm"]["carina"]
        k = int(np.argmin(abs(z - (carina[2] - 40.0))))
        sl = vol[k]
        # Body: one connected outline at mid-chest (the arms are raised out of the field).
        body = ndimage.binary_fill_holes(sl > -400)
        lab, n = ndimage.label(body)
        sizes = np.bincount(lab.ravel())[1:]
        for m in range(1, n + 1):
            if m != int(np.argmax(sizes)) + 1 and sizes[m - 1] > 50:
                rows = np.flatnonzero((lab == m).any(axis=1))
                cols = np.flatnonzero((lab == m).any(axis=0))
                assert cols.size > 5 * rows.size, (key, "a second body part on the slice")
        # Lung fields: the two large air regions inside the body; vessels are the holes.
        air = (sl < -400) & ndimage.binary_erosion(body, iterations=3)
        lab, n = ndimage.label(air)
        big = np.argsort(np.bincount(lab.ravel())[1:])[::-1][:2] + 1
        fields = ndimage.binary_fill_holes(np.isin(lab, big))
        lung = np.isin(lab, big)
        vessel = fields & (sl > -500)
        frac = vessel.sum() / fields.sum()
        assert 0.015 <= frac <= 0.06, (key, frac)
        core = ndimage.binary_erosion(lung, iterations=2)
        assert -880 <= np.median(sl[core]) <= -800, (key, np.median(sl[core]))
    # Correlated low-dose noise: neighbouring pixels of the air outside the body correlate.
    air = vol[:, :20, :].astype(float)
    d = air - air.mean()
    r = float((d[:, :, 1:] * d[:, :, :-1]).mean() / d.var())
    assert 0.3 <= r <= 0.95, r


@pytest.mark.parametrize("key", ["A", "control"])
def test_ct_fissures(synth_out, key):
    """The interlobar fissures read as thin lines a little denser than the lung around
    them (lung window): a major fissure in each lung on every slice from the carina to
    80 mm below it, moving forwards on lower slices, and a minor fissure in the right lung
    only."""
    from scipy import ndimage

    from casereport.synth.anatomy import Body, Tissue, rasterise

    out, result = synth_out
    vol, z = ct_volume(out, key)
    grid = ct_grid_of(result, key)
    spec = SUBJECTS[key]
    body = Body(spec.sex, spec.height_mm, spec.girth, arms_up=True, lung_vessels=True)
    carina = result["truth"][key]["landmarks_lps_mm"]["carina"][2]
    y = grid.axis(1)
    x = grid.axis(0)
    lab = rasterise(body, grid).labels
    lungs = np.isin(lab, [int(Tissue.LUNG), int(Tissue.FISSURE)])
    vessels = structure(body, grid, "pulmonary vessel") & (lab == int(Tissue.BLOOD))
    fronts = {-1: [], 1: []}
    for dz in (0.0, -20.0, -40.0, -60.0, -80.0):
        k = int(np.argmin(abs(z - carina - dz)))
        for side in (-1, 1):
            sheet = structure(body, grid_slice(grid, float(z[k])), f"major fissure {side}")[0]
            sheet &= lab[k] == int(Tissue.FISSURE)
            assert sheet.sum() >= 15, (key, dz, side, sheet.sum())
            # Thin: a line one or two pixels wide, not a band.
            assert sheet.sum() < 0.04 * (lungs[k] & (side * x > 0)[None, :]).sum()
            near = ndimage.binary_dilation(sheet, iterations=4) & ~ndimage.binary_dilation(
                sheet, iterations=2
            )
            near &= lungs[k] & ~ndimage.binary_dilation(vessels[k], iterations=2)
            on, off = float(np.median(vol[k][sheet])), float(np.median(vol[k][near]))
            assert -800.0 <= on <= -500.0 and on - off >= 60.0, (key, dz, side, on, off)
            fronts[side].append(float(np.mean(np.broadcast_to(y[:, None], sheet.shape)[sheet])))
    for side, ys in fronts.items():
        assert ys[-1] < ys[0] - 20.0, (key, side, ys)  # lower down, further forwards
    minor = structure(body, grid, "minor fissure") & (lab == int(Tissue.FISSURE))
    xs = np.broadcast_to(x[None, None, :], minor.shape)[minor]
    # In the right lung (which reaches a few mm past the midline at the anterior junction).
    assert minor.sum() > 0 and np.all(xs < 10.0) and np.mean(xs) < -30.0, (key, xs.max())


def test_skeleton_proportions():
    """Femur about 26 % and tibia about 22 % of height (femur longer), from the voxels."""
    from casereport.synth.anatomy import Body
    from casereport.synth.grid import Grid

    for spec in SUBJECTS.values():
        body = Body(spec.sex, spec.height_mm, spec.girth)
        knee = body.landmarks["knee_R"]
        grid = Grid((knee[0] - 80.0, -80.0, 0.0), (2.0, 2.0, 2.0), (480, 80, 80))
        for names, lo, hi in (
            (
                ("femoral head -1", "femur -1", "femoral metaphysis -1", "femoral condyle -1"),
                0.25,
                0.28,
            ),
            (
                (
                    "tibial plateau -1",
                    "tibial metaphysis -1",
                    "tibia -1",
                    "distal tibia -1",
                    "medial malleolus -1",
                ),
                0.205,
                0.225,
            ),
        ):
            m = structure(body, grid, *names)
            ks = np.flatnonzero(m.any(axis=(1, 2)))
            length = (ks[-1] - ks[0] + 1) * 2.0
            assert lo <= length / spec.height_mm <= hi, (
                spec.key,
                names[1],
                length / spec.height_mm,
            )


# -- command line --------------------------------------------------------------------------
def test_cli_errors(tmp_path):
    res = run_cli("--out", str(tmp_path / "x"), "--cases", "A,Z")
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and res.stderr.startswith("error: ")
    assert "unknown case 'Z'" in res.stderr
    assert not (tmp_path / "x").exists()
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("x")
    res = run_cli("--out", str(full), "--cases", "A")
    assert res.returncode == 2 and "not empty" in res.stderr
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = run_cli("--out", str(blocker / "sub"), "--cases", "A")
    assert res.returncode == 2 and res.stderr.startswith("error: ")
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert not leftovers


def test_failure_leaves_nothing_behind(tmp_path, monkeypatch):
    import casereport.synth.output as output

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output, "_run_subject", boom)
    with pytest.raises(SynthError, match="writing failed"):
        generate(tmp_path / "out", cases="A", workers=1)
    assert list(tmp_path.iterdir()) == []
    shutil.rmtree(tmp_path, ignore_errors=True)

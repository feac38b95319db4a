"""Fixed rendering settings so that every output file is byte-for-byte reproducible."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any, cast

from matplotlib import rc_context
from matplotlib.figure import Figure
from PIL import Image, TiffImagePlugin

#: Resolution of raster outputs (PNG, TIFF) in dots per inch.
DPI = 300
#: zlib level of PNG outputs (fast; files about 15 % larger than level 6).
PNG_COMPRESS_LEVEL = 1
#: Resolution of the raster images embedded in SVG and PDF outputs. The data pixels are
#: 1.8-4.4 mm, far coarser than 200 dpi at print size; 300 dpi would double the time.
VECTOR_IMAGE_DPI = 200

RC: dict[str, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 7.0,
    "mathtext.fontset": "dejavusans",
    "axes.unicode_minus": True,
    "text.usetex": False,
    "svg.hashsalt": "casereport-figure",
    "svg.fonttype": "none",  # text stays text (searchable, editable)
    "svg.image_inline": True,
    "pdf.fonttype": 42,
    "pdf.compression": 6,
    "path.simplify": True,
    "image.resample": False,
    "savefig.facecolor": "white",
    "savefig.edgecolor": "white",
    "savefig.transparent": False,
    "savefig.bbox": None,
    "savefig.pad_inches": 0.0,
    "figure.dpi": 100,
    "figure.facecolor": "white",
}

#: Licence of every figure file (data and article text are CC BY 4.0, see LICENSE).
LICENCE = "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)"
#: Where the figures come from, written into each file's metadata.
SOURCE = (
    "casereport: regenerated from DICOM (simulated studies in data/ unless stated otherwise); "
    "after Majeed Y, Riaz S, Hassan A. J Pak Med Assoc. 2019;69(4)"
)
TITLE = "Figure 1: Tc-99m MDP uptake outside the skeleton in hypercalcaemia"

#: Metadata per format: licence and source in, timestamps and version strings out.
METADATA: dict[str, dict[str, Any]] = {
    "png": {"Software": None, "Title": TITLE, "Copyright": LICENCE, "Source": SOURCE},
    "pdf": {
        "CreationDate": None,
        "ModDate": None,
        "Producer": None,
        "Creator": "casereport",
        "Title": TITLE,
        "Subject": SOURCE,
        "Keywords": f"licence: {LICENCE}",
    },
    "svg": {
        "Date": None,
        "Creator": "casereport",
        "Title": TITLE,
        "Rights": LICENCE,
        "Source": SOURCE,
    },
}
#: TIFF tags: ImageDescription (270), Copyright (33432).
TIFF_TAGS = {270: f"{TITLE}. {SOURCE}", 33432: LICENCE}


@contextlib.contextmanager
def figure_style() -> Iterator[None]:
    """rcParams for drawing and saving figures (fonts, SVG hash salt, PDF fonts)."""
    with rc_context(cast(Any, RC)):
        yield


def render(fig: Figure, fmt: str, *, dpi: int = DPI) -> bytes:
    """The figure as ``png``, ``svg``, ``pdf`` or ``tif`` bytes (no timestamps).

    TIFF is the PNG rendering saved by Pillow as RGB with LZW compression and the
    resolution tag set to ``dpi``.
    """
    with figure_style():
        if fmt in ("tif", "tiff"):
            return png_to_tiff(render(fig, "png", dpi=dpi), dpi=dpi)
        buf = io.BytesIO()
        kwargs: dict[str, Any] = (
            {"pil_kwargs": {"compress_level": PNG_COMPRESS_LEVEL}} if fmt == "png" else {}
        )
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=METADATA.get(fmt), **kwargs)
        return buf.getvalue()


def png_to_tiff(png: bytes, *, dpi: int = DPI) -> bytes:
    """PNG bytes -> RGB TIFF bytes, LZW-compressed, resolution ``dpi``."""
    with Image.open(io.BytesIO(png)) as im:
        rgb = im.convert("RGB")
    buf = io.BytesIO()
    info = TiffImagePlugin.ImageFileDirectory_v2()
    for tag, value in TIFF_TAGS.items():
        info[tag] = value
    rgb.save(buf, format="TIFF", compression="tiff_lzw", dpi=(dpi, dpi), tiffinfo=info)
    return buf.getvalue()

"""Fixed rendering settings so that every output file is byte-for-byte reproducible."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import io
import os
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
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

    PNG is the Agg rendering at ``dpi`` saved by Pillow (:func:`png_bytes`: RGB when the
    figure is opaque, as every figure here is); TIFF is the same pixels as RGB with LZW
    compression and the resolution tag set to ``dpi``.
    """
    if fmt == "png":
        return png_bytes(agg_pixels(fig, dpi=dpi), dpi=dpi)
    if fmt in ("tif", "tiff"):
        return _tiff(agg_pixels(fig, dpi=dpi).convert("RGB"), dpi=dpi)
    with figure_style():
        buf = io.BytesIO()
        stored = {"pdf": stored_font_subsets, "svg": stored_svg_images}.get(fmt)
        with stored() if stored is not None else contextlib.nullcontext():
            fig.savefig(buf, format=fmt, dpi=dpi, metadata=METADATA.get(fmt))
        return buf.getvalue()


def agg_pixels(fig: Figure, *, dpi: int = DPI) -> Image.Image:
    """The figure drawn by Agg at ``dpi`` as it is saved (``savefig``'s face colour and
    size): RGB when every pixel is opaque, else RGBA."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    with figure_style():
        old = fig.canvas
        canvas = FigureCanvasAgg(fig)  # the figure's canvas while it is drawn
        try:
            fig.savefig(io.BytesIO(), format="raw", dpi=dpi)
            rgba = canvas.buffer_rgba()
            size = (int(rgba.shape[1]), int(rgba.shape[0]))
            image = Image.frombuffer("RGBA", size, rgba, "raw", "RGBA", 0, 1).copy()
        finally:
            fig.set_canvas(old)
    if image.getchannel("A").getextrema()[0] == 255:
        return image.convert("RGB")
    return image


def png_bytes(image: Image.Image, *, dpi: int = DPI) -> bytes:
    """``image`` as PNG bytes: zlib level :data:`PNG_COMPRESS_LEVEL`, resolution ``dpi``
    and the text chunks of :data:`METADATA` (title, licence, source; no software version).

    An RGB PNG is embedded in the article's PDF with its own compressed data
    (:func:`casereport.render.pdf.png_idat`), not compressed again.
    """
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    for key, value in METADATA["png"].items():
        if value is not None:
            info.add_text(key, value)
    buf = io.BytesIO()
    image.save(buf, format="png", compress_level=PNG_COMPRESS_LEVEL, pnginfo=info, dpi=(dpi, dpi))
    return buf.getvalue()


@dataclass(frozen=True)
class _StoredFont:
    """The bytes of a font subset read from the derived-data cache (stands for the
    fontTools font matplotlib's PDF backend would save)."""

    data: bytes


def _png_bytes(pixels: Any) -> bytes:
    """What an SVG embeds for an image: ``pixels`` saved by Pillow as PNG at
    :data:`PNG_COMPRESS_LEVEL`."""
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="png", compress_level=PNG_COMPRESS_LEVEL)
    return buf.getvalue()


class _StoredPng:
    """``Image.fromarray(pixels)`` as matplotlib's SVG backend uses it: saved as PNG into
    a buffer (:func:`_png_bytes`, through the derived-data cache when there is one);
    anything else as Pillow does it."""

    def __init__(self, pixels: Any) -> None:
        self.pixels = pixels

    def save(self, fp: Any, format: str | None = None, **params: Any) -> None:  # noqa: A002
        from casereport.io import memo

        if format != "png" or params or not isinstance(fp, io.BytesIO):
            Image.fromarray(self.pixels).save(fp, format=format, **params)
            return
        import zlib

        import numpy as np
        import PIL

        pixels = np.ascontiguousarray(self.pixels)
        if memo.cache_dir() is None:
            fp.write(_png_bytes(pixels))
            return
        fp.write(
            memo.cached(
                "matplotlib.backends.backend_svg.image_png",
                lambda: _png_bytes(pixels),
                key=[pixels, PNG_COMPRESS_LEVEL, PIL.__version__, zlib.ZLIB_RUNTIME_VERSION],
            )
        )


class _StoredPngModule:
    """Stands for ``PIL.Image`` in matplotlib's SVG backend (see :func:`stored_svg_images`)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(Image, name)

    def fromarray(self, obj: Any, *args: Any, **kwargs: Any) -> Any:
        return Image.fromarray(obj, *args, **kwargs) if args or kwargs else _StoredPng(obj)


@contextlib.contextmanager
def stored_svg_images() -> Iterator[None]:
    """The images an SVG embeds, encoded as PNG at :data:`PNG_COMPRESS_LEVEL` and kept
    in the derived-data cache.

    matplotlib's SVG backend encodes every image it embeds as PNG at zlib's default level
    6 (0.3 of the 0.5 CPU-s of Figure 1's SVG, images at :data:`VECTOR_IMAGE_DPI`).
    Inside this context they are encoded at level 1 instead, like the PNG outputs (about
    0.1 CPU-s, an SVG about 10 % larger), and, with ``CASEREPORT_DERIVED_CACHE``, each
    encoding is stored under the pixels (dtype, shape, bytes), the level and the Pillow
    and zlib versions, so that an SVG drawn again after one panel changed encodes only
    that panel's image; the bytes are the same either way. On a matplotlib whose SVG
    backend does not use ``PIL.Image`` this way, images are encoded as it does.
    """

    try:
        from matplotlib.backends import backend_svg
    except ImportError:
        yield
        return
    if getattr(backend_svg, "Image", None) is not Image:
        yield
        return
    backend_svg.Image = _StoredPngModule()  # type: ignore[assignment]
    try:
        yield
    finally:
        backend_svg.Image = Image


def _subset_bytes(
    subset: Callable[..., Any], as_file: Callable[[Any], io.BytesIO], path: Any, glyphs: list[int]
) -> tuple[bytes, dict[int, int]]:
    """matplotlib's subset of font ``path`` to ``glyphs``: (font file bytes, glyph map)."""
    with subset(path, glyphs) as result:
        return as_file(result.font).getvalue(), dict(result.glyph_index_map)


@contextlib.contextmanager
def stored_font_subsets() -> Iterator[None]:
    """matplotlib's PDF font subsets and image encodings through the derived-data cache
    (:mod:`casereport.io.memo`).

    Embedding the fonts of Figure 1 in its PDF (fontTools subsetting DejaVu Sans and its
    bold face) takes about 0.4 CPU-s, and its images are encoded as PNG (about 0.1 CPU-s).
    Inside this context each subset is stored under the font file's SHA-256, the glyph ids
    and the matplotlib and fontTools versions, each image encoding under the image's mode,
    size, palette and pixels and the Pillow and zlib versions, and read back by a later
    PDF that needs the same (the figure run after a case edit): the bytes are those
    fontTools and Pillow write (the subsetter records no timestamp). Without
    ``CASEREPORT_DERIVED_CACHE``, or on a matplotlib without these functions, fonts and
    images are encoded as usual.
    """
    from casereport.io import memo

    try:
        import zlib

        import PIL
        from fontTools import version as fonttools_version  # type: ignore[import-untyped]
        from matplotlib import __version__ as mpl_version
        from matplotlib.backends import _backend_pdf_ps as pdf_ps
        from matplotlib.backends.backend_pdf import PdfFile

        subset, as_file, results = (
            pdf_ps.get_glyphs_subset,
            pdf_ps.font_as_file,
            pdf_ps.SubsetResults,
        )
        write_png = PdfFile._writePng
    except (ImportError, AttributeError):
        yield
        return
    if memo.cache_dir() is None:
        yield
        return

    def get_glyphs_subset(fontfile: Any, glyphs: Iterable[int]) -> Any:
        wanted = sorted(int(g) for g in glyphs)
        face = int(getattr(fontfile, "face_index", 0))
        data, index_map = memo.cached(
            "matplotlib.backends.backend_pdf.font_subset",
            lambda: _subset_bytes(subset, as_file, fontfile, wanted),
            key=[str(fontfile), face, wanted, mpl_version, fonttools_version],
            files=[Path(str(fontfile))],
        )
        return contextlib.nullcontext(results(_StoredFont(data), dict(index_map)))

    def font_as_file(font: Any) -> io.BytesIO:
        return io.BytesIO(font.data) if isinstance(font, _StoredFont) else as_file(font)

    def _write_png(pdf: Any, img: Image.Image) -> Any:
        pixels = hashlib.sha256(img.tobytes()).hexdigest()
        key = [img.mode, list(img.size), img.getpalette(), pixels]
        return memo.cached(
            "matplotlib.backends.backend_pdf.image_png",
            lambda: write_png(pdf, img),
            key=[*key, mpl_version, PIL.__version__, zlib.ZLIB_RUNTIME_VERSION],
        )

    pdf_ps.get_glyphs_subset, pdf_ps.font_as_file = get_glyphs_subset, font_as_file
    PdfFile._writePng = _write_png  # type: ignore[method-assign]
    try:
        yield
    finally:
        pdf_ps.get_glyphs_subset, pdf_ps.font_as_file = subset, as_file
        PdfFile._writePng = write_png  # type: ignore[method-assign]


def render_png_tiff(fig: Figure, *, dpi: int = DPI) -> tuple[bytes, bytes]:
    """``render(fig, "png")`` and ``render(fig, "tif")``, the same bytes, from one Agg
    drawing (:func:`agg_pixels`)."""
    image = agg_pixels(fig, dpi=dpi)
    return png_bytes(image, dpi=dpi), _tiff(image.convert("RGB"), dpi=dpi)


def render_all(
    jobs: Sequence[tuple[Figure, str, int]], *, here: Callable[[], object] | None = None
) -> list[bytes]:
    """:func:`render` of every ``(figure, format, dpi)``, the same bytes, at once.

    The figures must be drawn already. Jobs after the first are rendered in forked child
    processes (matplotlib figures are not thread-safe; a fork shares the drawn figures
    without pickling them), at most one per CPU at a time, while this process renders the
    first; each child hands its bytes back in a file and leaves with ``os._exit`` (nothing
    of the parent's state, such as a kernel's sockets, is touched). Without ``os.fork``,
    or when a child fails, the job is rendered here. ``here``, if given, is what this
    process does meanwhile instead of the first job (which then goes to a child too), e.g.
    the PNG and TIFF of the figure the children write as SVG and PDF.
    """
    if not hasattr(os, "fork") or len(jobs) < (1 if here is not None else 2):
        if here is not None:
            here()
        return [render(fig, fmt, dpi=dpi) for fig, fmt, dpi in jobs]
    import matplotlib.backends.backend_pdf  # noqa: F401  (imported before forking)
    import matplotlib.backends.backend_svg  # noqa: F401

    out: list[bytes | None] = [None] * len(jobs)
    limit = max(1, os.cpu_count() or 1)
    with tempfile.TemporaryDirectory(prefix="casereport-render-") as tmp:
        running: dict[int, int] = {}  # pid -> job index
        waiting = list(range(0 if here is not None else 1, len(jobs)))

        def start() -> None:
            while waiting and len(running) < limit:
                i = waiting.pop(0)
                running[_fork_render(jobs[i], os.path.join(tmp, str(i)))] = i

        def reap(block: bool) -> None:
            for pid in list(running):
                done, status = os.waitpid(pid, 0 if block else os.WNOHANG)
                if done:
                    i = running.pop(pid)
                    path = os.path.join(tmp, str(i))
                    if os.waitstatus_to_exitcode(status) == 0 and os.path.isfile(path):
                        with open(path, "rb") as fh:
                            out[i] = fh.read()
                    if block:
                        return

        start()
        if here is not None:
            here()
        else:
            fig, fmt, dpi = jobs[0]
            out[0] = render(fig, fmt, dpi=dpi)
        while running or waiting:
            reap(block=False)
            start()
            if running:
                reap(block=True)
                start()
    return [
        data if data is not None else render(fig, fmt, dpi=dpi)
        for data, (fig, fmt, dpi) in zip(out, jobs, strict=True)
    ]


def _fork_render(job: tuple[Figure, str, int], path: str) -> int:
    """Fork a child that renders ``job`` into the file ``path``; its process id."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (kernels)
        pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        gc.disable()  # no finaliser of the parent's objects (e.g. a kernel's sockets) runs here
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        warnings.simplefilter("ignore")
        fig, fmt, dpi = job
        data = render(fig, fmt, dpi=dpi)
        with open(path + ".part", "wb") as fh:
            fh.write(data)
        os.replace(path + ".part", path)
        code = 0
    finally:
        os._exit(code)


def png_to_tiff(png: bytes, *, dpi: int = DPI) -> bytes:
    """PNG bytes -> RGB TIFF bytes, LZW-compressed, resolution ``dpi``."""
    with Image.open(io.BytesIO(png)) as im:
        rgb = im.convert("RGB")
    return _tiff(rgb, dpi=dpi)


def _tiff(rgb: Image.Image, *, dpi: int) -> bytes:
    """An RGB image as TIFF bytes: LZW, resolution ``dpi``, title, source and licence."""
    buf = io.BytesIO()
    info = TiffImagePlugin.ImageFileDirectory_v2()
    for tag, value in TIFF_TAGS.items():
        info[tag] = value
    rgb.save(buf, format="TIFF", compression="tiff_lzw", dpi=(dpi, dpi), tiffinfo=info)
    return buf.getvalue()

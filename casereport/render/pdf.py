"""Faster WeasyPrint runs for the article's PDF, each giving the bytes WeasyPrint gives alone.

* :func:`import_weasyprint`: WeasyPrint opens pango, harfbuzz and fontconfig through cffi,
  trying several names per library; every name that is not a file name makes
  ``ctypes.util.find_library`` run ``ldconfig`` and ``gcc`` (about 0.4 s and 0.2
  CPU-s in child processes for the whole import). On Linux the import is done with that
  search turned off for the importing thread (other threads keep it): the names
  WeasyPrint tries include each library's soname, which the dynamic loader finds by
  itself; the same libraries are loaded.
* :func:`hanging_spaces`: one correction to WeasyPrint's line breaking (not a shortcut: it
  changes the layout where WeasyPrint 70 breaks a line wrongly). A text followed by an
  inline element (a link, ``<code>``, ``<i>``) ends with a space; when that text fits on
  the line only without its trailing space, WeasyPrint measured the space, found the
  line too long and kept just the first word, leaving a one-word line in the middle of a
  paragraph. The space at the end of a line hangs (CSS Text 3, "white-space: normal"), so
  such a text is laid out as fitting, and the line then breaks as it does anywhere else.
* :func:`parse_html`: the HTML parsed without the megabytes of base64 of its images,
  which are set back on their elements after parsing (the same document tree).
* :func:`draft_pages`: the pages of a document laid out one at a time, so that a draft
  can stop at the page it needs instead of laying out the whole article.
* :class:`Layouts`: the styles of a document computed and its boxes built once for all
  the layouts that place its figures, each figure's box moved as a float is (selectors
  match the document as written; the one place where the bytes may differ from
  WeasyPrint's render of the moved tree, when a rule depends on where a figure is).
* :class:`ImageStreams`: the PDF image data (PNG rows, Flate-compressed) of every PNG
  embedded as a ``data:`` URI, compressed in a worker thread while the document is laid
  out (Pillow and zlib release the GIL), and handed to WeasyPrint when it writes the
  image (``RasterImage._get_png_data``, same function, same pixels, same bytes); kept in
  a folder (``build/cache/pdf-images``) by PNG bytes and read back by later renders.
* :class:`FontSubsets`: font subsets made by fontTools without decoding the layout
  tables they drop (:func:`fonttools_subset`), kept in a folder (``build/cache/fonts``)
  by font file and glyph set, and read back by later renders.

The internals used here are WeasyPrint 70's; every entry point falls back to WeasyPrint's
own path when they are missing. ``tests/test_pdf.py`` compares the PDF bytes of each
path with those of plain WeasyPrint.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import os
import re
import struct
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from casereport.fileio import write_atomic

#: ``data:`` URIs of PNG images in an HTML file (the payload is group 1)
_PNG_DATA_URI = re.compile(rb"data:image/png;base64,([A-Za-z0-9+/=]+)")
#: a double-quoted ``src`` or ``href`` holding a long base64 ``data:`` URI (only characters
#: the HTML parser passes through unchanged): name, media type, payload
_LONG_DATA_ATTR = re.compile(
    rb'(\s(?:src|href)=")(data:[A-Za-z0-9/+.-]+(?:;[A-Za-z0-9=.-]+)*;base64,)'
    rb'([A-Za-z0-9+/=]{1024,})(?=")'
)


#: held while ``ctypes.util.find_library`` is replaced for WeasyPrint's import
_LIBRARY_SEARCH = threading.Lock()


def import_weasyprint() -> ModuleType:
    """``weasyprint``, imported without ``ctypes.util.find_library`` on Linux.

    While WeasyPrint imports, ``ctypes.util.find_library`` finds nothing for the importing
    thread only: any other thread looking up a library meanwhile gets the ordinary search
    (:func:`_without_search`), and a lock keeps two imports from replacing it at once, so
    the original is always put back. If a library is then not found (a system that only
    has it under a name the dynamic loader cannot resolve), the import is done again the
    ordinary way.
    """
    if "weasyprint" in sys.modules or not sys.platform.startswith("linux"):
        import weasyprint

        return _corrected(weasyprint)
    import ctypes.util

    with _LIBRARY_SEARCH:
        search = ctypes.util.find_library
        only_others = _without_search(search, threading.get_ident())
        ctypes.util.find_library = only_others  # type: ignore[assignment]
        try:
            import weasyprint
        except OSError:
            for name in [
                m for m in sys.modules if m == "weasyprint" or m.startswith("weasyprint.")
            ]:
                del sys.modules[name]
            ctypes.util.find_library = search
            import weasyprint
        finally:
            ctypes.util.find_library = search
    return _corrected(weasyprint)


#: white-space values whose spaces collapse, and so hang at the end of a line
_COLLAPSING = ("normal", "nowrap", "pre-line")


def _corrected(weasyprint: ModuleType) -> ModuleType:
    """``weasyprint`` with its inline layout using :func:`hanging_spaces` (once)."""
    from weasyprint.layout import inline

    split = getattr(inline, "split_first_line", None)
    if split is not None and not getattr(split, "hangs_spaces", False):
        inline.split_first_line = hanging_spaces(split)
    return weasyprint


def hanging_spaces(split: Callable[..., Any]) -> Callable[..., Any]:
    """WeasyPrint's ``split_first_line(text, style, context, max_width, ...)`` letting
    the collapsible spaces that end ``text`` hang past ``max_width`` (px).

    Where ``split`` breaks a text that ends with spaces, and the text without them fits
    on the line, the text is laid out unbroken (as ``split`` does for any text that
    fits); everything else is ``split``'s own result.
    """

    def split_first_line(
        text: str,
        style: Any,
        context: Any,
        max_width: float | None,
        justification_spacing: float,
        is_line_start: bool = True,
        minimum: bool = False,
    ) -> Any:
        result = split(
            text, style, context, max_width, justification_spacing, is_line_start, minimum
        )
        if (
            result[2] is None
            or max_width is None
            or not text.endswith(" ")
            or style["white_space"] not in _COLLAPSING
        ):
            return result
        kept = text.rstrip(" ")
        if (
            not kept
            or split(
                kept, style, context, max_width, justification_spacing, is_line_start, minimum
            )[2]
            is not None
        ):
            return result
        return split(
            text, style, context, float("inf"), justification_spacing, is_line_start, minimum
        )

    split_first_line.hangs_spaces = True  # type: ignore[attr-defined]
    return split_first_line


def _without_search(
    search: Callable[[str], str | None], thread: int
) -> Callable[[str], str | None]:
    """``ctypes.util.find_library`` that finds nothing in the thread ``thread`` (cffi then
    gives up on the name and WeasyPrint tries its next one) and is ``search`` in any other."""

    def find_library(name: str) -> str | None:
        return None if threading.get_ident() == thread else search(name)

    return find_library


def parse_html(weasyprint: ModuleType, source: Path, data: bytes, url_fetcher: Any) -> Any:
    """``weasyprint.HTML(filename=source)`` for the bytes ``data`` of ``source``, parsed
    without the payloads of its long ``data:`` URIs.

    WeasyPrint's HTML parser is pure Python and reads megabytes of base64 (the figures)
    character by character: about 0.4 CPU-s for the article. Each such attribute value
    is replaced by a short token before parsing and set back on its element after, so the
    document tree is the one the whole file gives.
    """
    from weasyprint.urls import path2url

    values: dict[str, str] = {}

    def token(match: re.Match[bytes]) -> bytes:
        short = match.group(2) + f"casereport-{len(values)}".encode()  # "-": not base64
        values[short.decode("ascii")] = (match.group(2) + match.group(3)).decode("ascii")
        return match.group(1) + short

    light = _LONG_DATA_ATTR.sub(token, data)
    html = weasyprint.HTML(
        file_obj=io.BytesIO(light), base_url=path2url(str(source)), url_fetcher=url_fetcher
    )
    if values:
        for element in html.etree_element.iter():
            for name in ("src", "href"):
                value = element.get(name)
                if value is not None and value in values:
                    element.set(name, values[value])
    return html


#: WeasyPrint versions whose page maker :func:`draft_pages` drives (others: whole drafts)
LAYOUT_INTERNALS = ("70.",)


def draft_pages(html: Any, options: dict[str, Any]) -> Iterator[Any] | None:
    """Page boxes of ``html`` (a ``weasyprint.HTML``), laid out lazily one at a time.

    The same layout as ``html.render(**options).pages`` (the first pagination pass, which
    is the only one when no content depends on later pages), without margin boxes. None
    for a WeasyPrint version not in :data:`LAYOUT_INTERNALS`, or when the
    document has content that needs a second pass (``target-counter()`` and the like,
    running elements): the caller then renders the whole document.
    """
    built = _layout_context(html, options)
    if built is None:
        return None
    from weasyprint.layout import initialize_page_maker

    context, root_box, _opts = built
    initialize_page_maker(context, root_box)
    return _pages(context, root_box, html)


def _pages(context: Any, root_box: Any, html: Any) -> Iterator[Any]:
    """Pages from WeasyPrint's page maker (the context's font configuration kept alive
    while they are read)."""
    from weasyprint.layout.page import make_all_pages

    for page in make_all_pages(context, root_box, html, []):
        if any(boxes for pages in context.running_elements.values() for boxes in pages.values()):
            raise NeedsFullLayout(context.font_config)
        yield page


class Layouts:
    """Layouts of one document whose styles are computed and boxes built once, its
    figures' boxes moved between layouts (WeasyPrint 70 internals; :meth:`start`).

    WeasyPrint's own render computes the styles of every element and builds the box tree
    again for each layout, half the time of a draft of the article. Here a figure is
    moved as a box, the way a float leaves the flow: its styles are those of the place
    it was written at, as are those of its neighbours (selectors match the document as
    written). Laying out the same box tree again is what WeasyPrint does itself when it
    paginates a second time.
    """

    def __init__(self, html: Any, options: dict[str, Any], context: Any, root_box: Any) -> None:
        self.html, self.options = html, options
        self._context, self._root = context, root_box
        self._homes: dict[Any, tuple[Any, int, Any]] = {}  # element -> (parent, index, box)

    @classmethod
    def start(cls, html: Any, options: dict[str, Any]) -> Layouts | None:
        """Styles and boxes of ``html`` as written; None for a WeasyPrint version not in
        :data:`LAYOUT_INTERNALS` or a document with content that needs a second pass
        (the caller then renders as WeasyPrint does)."""
        built = _layout_context(html, options)
        if built is None:
            return None
        context, root_box, opts = built
        return cls(html, opts, context, root_box)

    def detach(self, element: Any) -> bool:
        """Take the box of ``element`` out of the flow (False: it has none)."""
        found = _box_of(self._root, element)
        if found is None:
            return False
        parent, index = found
        self._homes[element] = (parent, index, parent.children.pop(index))
        return True

    def attach(self, element: Any, before: Any | None) -> bool:
        """Put the box of the detached ``element`` right before the box of ``before``, or
        back where it was (``before`` None); False when ``before`` has no box."""
        parent, index, box = self._homes[element]
        if before is None:
            parent.children.insert(min(index, len(parent.children)), box)
            return True
        found = _box_of(self._root, before)
        if found is None:
            return False
        host, at = found
        host.children.insert(at, box)
        return True

    def _fresh_context(self) -> Any:
        from weasyprint.layout import LayoutContext, initialize_page_maker

        c = self._context
        context = LayoutContext(
            c.style_for,
            c.get_image_from_uri.func,
            c.font_config,
            c.counter_style,
            c.target_collector,
        )
        initialize_page_maker(context, self._root)
        return context

    def pages(self) -> Iterator[Any]:
        """Page boxes of the current arrangement, laid out lazily one at a time, without
        margin boxes (NeedsFullLayout: pages may depend on later ones)."""
        return _pages(self._fresh_context(), self._root, self.html)

    def document(self) -> Any:
        """The whole document in the current arrangement, as ``HTML.render`` gives it."""
        from weasyprint.document import Document, Page
        from weasyprint.html import get_html_metadata
        from weasyprint.layout import layout_document
        from weasyprint.pdf.metadata import DocumentMetadata

        context = self._fresh_context()
        page_boxes = layout_document(self.html, self._root, context)
        doc = Document(
            [Page(page_box) for page_box in page_boxes],
            DocumentMetadata(**get_html_metadata(self.html)),
            self.html.url_fetcher,
            self._context.font_config,
            {},
            self.options["output_intent"],
        )
        doc._html = self.html
        return doc


def _box_of(root_box: Any, element: Any) -> tuple[Any, int] | None:
    """(parent box, index) of the outermost box of ``element`` under ``root_box``."""
    stack = [root_box]
    while stack:
        box = stack.pop()
        children = getattr(box, "children", None)
        if not isinstance(children, list):
            continue
        for index, child in enumerate(children):
            if getattr(child, "element", None) is element:
                return box, index
        stack.extend(reversed(children))
    return None


def _layout_context(html: Any, options: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]] | None:
    """WeasyPrint's layout context and box tree for ``html`` (its styles computed), and
    the options as ``Document._render`` completes them; None as :meth:`Layouts.start`."""
    if not _weasyprint_version().startswith(LAYOUT_INTERNALS):
        return None
    try:
        from weasyprint import DEFAULT_OPTIONS
        from weasyprint.css.counters import CounterStyle
        from weasyprint.document import Document
        from weasyprint.formatting_structure.build import build_formatting_structure
        from weasyprint.pdf import VARIANTS
        from weasyprint.text.fonts import FontConfiguration
    except ImportError:  # pragma: no cover - another WeasyPrint
        return None
    opts = {**DEFAULT_OPTIONS, **options}
    if opts.get("pdf_variant"):  # as Document._render
        _, properties = VARIANTS[opts["pdf_variant"]]
        for key, value in tuple(opts.items()):
            if value is None and key in properties:
                opts[key] = properties[key]
    font_config = FontConfiguration()
    counter_style = CounterStyle()
    context = Document._build_layout_context(html, font_config, counter_style, {}, opts)
    root_box = build_formatting_structure(
        html.etree_element,
        context.style_for,
        context.get_image_from_uri,
        html.base_url,
        context.target_collector,
        counter_style,
        context.footnotes,
    )
    if context.target_collector.counter_lookup_items:
        return None
    return context, root_box, opts


#: names under which WeasyPrint 70 opens HarfBuzz and its subsetting library (the ones
#: the dynamic loader resolves by itself, per system)
_HARFBUZZ_NAMES = {
    "linux": ("libharfbuzz.so.0", "libharfbuzz-subset.so.0"),
    "darwin": ("libharfbuzz.0.dylib", "libharfbuzz-subset.0.dylib"),
    "win32": ("libharfbuzz-0.dll", "libharfbuzz-subset-0.dll"),
}
#: HarfBuzz version WeasyPrint needs to subset fonts with it (else it uses fontTools)
HARFBUZZ_SUBSET_MIN = (4, 1, 0)


@functools.lru_cache(maxsize=1)
def font_subsetter() -> str:
    """The font subsetter WeasyPrint uses here, with its version: ``harfbuzz-subset
    VERSION`` when the system has HarfBuzz's subsetting library (``libharfbuzz-subset0`` on
    Debian) and HarfBuzz is at least :data:`HARFBUZZ_SUBSET_MIN`, else ``fonttools
    VERSION``. The two give different font bytes, so the PDF's cache key names it.

    Found with ``ctypes`` (a few milliseconds), without importing WeasyPrint.
    """
    import ctypes

    platform = "linux" if sys.platform.startswith("linux") else sys.platform
    names = _HARFBUZZ_NAMES.get(platform)
    if names is not None:
        try:
            harfbuzz = ctypes.CDLL(names[0])
            ctypes.CDLL(names[1])
            harfbuzz.hb_version_string.restype = ctypes.c_char_p
            version = harfbuzz.hb_version_string().decode("ascii")
            numbers = tuple(int(part) for part in version.split(".")[:3])
        except (OSError, AttributeError, ValueError):
            numbers = ()
        if numbers >= HARFBUZZ_SUBSET_MIN:
            return f"harfbuzz-subset {version}"
    import fontTools

    return f"fonttools {fontTools.version}"


class NeedsFullLayout(Exception):
    """A page's layout may depend on later pages: lay out the whole document."""


#: PDF image data kept in an :class:`ImageStreams` folder (least recently used removed first)
MAX_IMAGE_STREAMS = 16


class ImageStreams:
    """PDF image data of the PNG ``data:`` URIs of an HTML file, made in a worker thread.

    :meth:`attach` is given each image WeasyPrint loads (through its ``cache`` option,
    :class:`ImageCache`); when WeasyPrint writes that image, it gets the data found here
    if the pixels are the same, else computes them itself.

    An 8-bit RGB PNG that is not interlaced is embedded with its own compressed data
    (:func:`png_idat`): a PDF image with the PNG predictor reads the PNG's ``IDAT``
    stream as it is, so it is not decoded and compressed again (WeasyPrint would spend
    about 1.4 CPU-s on Figure 1). Other PNGs get WeasyPrint's own data (an RGBA image as
    colour and alpha); with ``folder``, that data is stored there under the SHA-256 of its
    base64 payload and the Pillow, zlib and WeasyPrint versions, and read back by later
    renders instead of being computed again.
    """

    def __init__(self, html_bytes: bytes, folder: Path | None = None) -> None:
        self._ready: dict[tuple[str, tuple[int, int], bytes], bytes] = {}
        self._payloads = [m.group(1) for m in _PNG_DATA_URI.finditer(html_bytes)]
        self.folder = folder
        self._thread = threading.Thread(target=self._work, name="pdf-images", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        salt = _image_salt() if self.folder is not None else b""
        for payload in dict.fromkeys(self._payloads):  # each image once, in order
            own = self._own_data(payload)
            if own:
                self._ready.update(own)
                continue
            stored = None
            if self.folder is not None:
                name = hashlib.sha256(salt + hashlib.sha256(payload).digest()).hexdigest()
                stored = self.folder / f"{name}.bin"
                parts = _read_parts(stored)
                if parts is not None:
                    self._ready.update(parts)
                    continue
            parts = self._encode(payload)
            self._ready.update(parts)
            if stored is not None and parts:
                _write_parts(stored, parts)

    @staticmethod
    def _own_data(payload: bytes) -> dict[tuple[str, tuple[int, int], bytes], bytes]:
        """``{pixels: IDAT}`` of an 8-bit, non-interlaced RGB PNG (:func:`png_idat`);
        empty for any other image."""
        from PIL import Image

        try:
            data = base64.b64decode(payload)
            idat = png_idat(data)
            if idat is None:
                return {}
            return {_pixels_key(Image.open(io.BytesIO(data))): idat}
        except Exception:  # noqa: BLE001 - WeasyPrint reads the image itself
            return {}

    @staticmethod
    def _encode(payload: bytes) -> dict[tuple[str, tuple[int, int], bytes], bytes]:
        """WeasyPrint's PDF data of each part (colour, alpha) of one PNG, by pixels."""
        from PIL import Image
        from weasyprint.images import RasterImage

        out: dict[tuple[str, tuple[int, int], bytes], bytes] = {}
        try:
            image = Image.open(io.BytesIO(base64.b64decode(payload)))
            if image.mode not in ("RGB", "RGBA") or "transparency" in image.info:
                return out  # WeasyPrint converts those first: left to it
            parts: list[Image.Image] = [image]  # as RasterImage.get_x_object splits them
            if image.mode == "RGBA":
                parts = [image.convert("RGB"), image.getchannel("A")]
            for part in parts:
                out[_pixels_key(part)] = RasterImage._get_png_data(part)
        except Exception:  # noqa: BLE001 - WeasyPrint encodes the image itself
            return {}
        return out

    def png_data(self, pillow_image: Any) -> bytes:
        """``RasterImage._get_png_data(pillow_image)``, computed ahead when possible."""
        from weasyprint.images import RasterImage

        self._thread.join()
        found = self._ready.get(_pixels_key(pillow_image))
        return found if found is not None else RasterImage._get_png_data(pillow_image)

    def attach(self, image: Any) -> None:
        """Make WeasyPrint's ``image`` take its data from here."""
        if callable(getattr(image, "_get_png_data", None)):
            image._get_png_data = self.png_data


#: PNG file signature, and the IHDR fields of an 8-bit RGB image (bit depth 8, colour
#: type 2, deflate, adaptive filtering, no interlace)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_RGB8_PLAIN = bytes([8, 2, 0, 0, 0])


def png_idat(data: bytes) -> bytes | None:
    """The compressed pixel data (the ``IDAT`` chunks joined) of the PNG ``data`` when it
    is 8-bit RGB, not interlaced and without transparency: what a PDF image of three 8-bit
    colours with ``/FlateDecode`` and ``/DecodeParms << /Predictor 15 >>`` holds (the
    PDF image data WeasyPrint makes is the same kind of stream, compressed again by
    Pillow). ``None`` for any other PNG, or bytes that are not a well-formed PNG.
    """
    if not data.startswith(_PNG_SIGNATURE):
        return None
    pos, idat = len(_PNG_SIGNATURE), []
    first = True
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            return None
        if first and (kind != b"IHDR" or length != 13 or body[8:13] != _RGB8_PLAIN):
            return None
        first = False
        if kind == b"tRNS":
            return None
        if kind == b"IDAT":
            idat.append(body)
        if kind == b"IEND":
            return b"".join(idat) if idat else None
        pos += 12 + length
    return None


def _pixels_key(image: Any) -> tuple[str, tuple[int, int], bytes]:
    return image.mode, image.size, hashlib.sha256(image.tobytes()).digest()


def _image_salt() -> bytes:
    """What the PDF data of a PNG depends on besides its bytes: the encoder versions."""
    import zlib

    import PIL

    return f"{PIL.__version__} {zlib.ZLIB_RUNTIME_VERSION} {_weasyprint_version()}".encode()


def _read_parts(path: Path) -> dict[tuple[str, tuple[int, int], bytes], bytes] | None:
    """The parts :func:`_write_parts` stored in ``path`` (None: none, or unreadable)."""
    try:
        with path.open("rb") as fh:
            index = json.loads(fh.readline())
            parts = {}
            for mode, (width, height), pixels, length in index:
                data = fh.read(length)
                if len(data) != length:
                    return None
                parts[(str(mode), (int(width), int(height)), bytes.fromhex(pixels))] = data
        os.utime(path)
    except (OSError, ValueError, TypeError):
        return None
    return parts


def _write_parts(path: Path, parts: dict[tuple[str, tuple[int, int], bytes], bytes]) -> None:
    """Store ``parts`` (a JSON index line, then the data one after the other) in ``path``
    (:func:`_keep`)."""
    index = [
        [mode, list(size), pixels.hex(), len(data)] for (mode, size, pixels), data in parts.items()
    ]
    _keep(path, b"".join([json.dumps(index).encode(), b"\n", *parts.values()]), MAX_IMAGE_STREAMS)


#: figure placements kept (see :func:`layout_digest`)
PLACEMENTS_KEPT = 16


def _png_size(payload: bytes) -> tuple[int, int] | None:
    """(width, height) in pixels from the start of a base64 PNG, or None."""
    head = base64.b64decode(payload[:32] + b"=" * (-len(payload[:32]) % 4))
    if not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def layout_digest(data: bytes) -> str:
    """SHA-256 of what the page layout of the HTML ``data`` depends on.

    The HTML with the payload of each long ``data:`` URI replaced by what a layout reads
    of it: a PNG image (``src``) by its size in pixels, a link target (``href``) by nothing
    when no style reads ``attr(href)``; any other payload stays. Two HTML files with the
    same digest differ only in the pixels of PNG images of the same size or in the targets
    of data links, and are laid out alike. The sources of this module and of
    :mod:`casereport.render.export` and the WeasyPrint version are part of the digest.
    """

    def token(match: re.Match[bytes]) -> bytes:
        attr, media, payload = match.groups()
        if attr.strip().startswith(b"href") and b"attr(href" not in data:
            return attr + media + b"casereport-link"
        size = _png_size(payload) if media.startswith(b"data:image/png") else None
        if size is None:
            return attr + media + payload
        return attr + media + f"casereport-png-{size[0]}x{size[1]}".encode()

    h = hashlib.sha256(_LONG_DATA_ATTR.sub(token, data))
    for module in (Path(__file__), Path(__file__).with_name("export.py")):
        h.update(hashlib.sha256(module.read_bytes()).digest())
    h.update(_weasyprint_version().encode())
    return h.hexdigest()


def read_placement(folder: Path | None, digest: str) -> list[int | None] | None:
    """The figure anchors kept in ``folder`` for the layout ``digest``, or None."""
    if folder is None:
        return None
    path = folder / f"{digest}.json"
    try:
        anchors = json.loads(path.read_text())["anchors"]
        os.utime(path)  # recently used
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(anchors, list) or not all(
        a is None or (isinstance(a, int) and a >= 0) for a in anchors
    ):
        return None
    return anchors


def keep_placement(folder: Path | None, digest: str, anchors: list[int | None]) -> None:
    """Keep the figure anchors of the layout ``digest`` in ``folder`` (if given)."""
    if folder is not None:
        data = json.dumps({"anchors": anchors}).encode()
        _keep(folder / f"{digest}.json", data, PLACEMENTS_KEPT)


def _keep(path: Path, data: bytes, keep: int) -> None:
    """Write ``data`` to ``path`` in a cache folder atomically, then remove the least
    recently used files of the same suffix there beyond ``keep``; a folder that cannot be
    written keeps nothing."""
    try:
        write_atomic(path, data)
        _evict(path.parent, keep, f"*{path.suffix}")
    except OSError:
        pass


class ImageCache(dict[Any, Any]):
    """WeasyPrint's image cache (``cache`` option) that attaches :class:`ImageStreams`."""

    def __init__(self, streams: ImageStreams) -> None:
        super().__init__()
        self._attach: Callable[[Any], None] = streams.attach

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(key, str) and key.startswith("data:image/png;"):
            self._attach(value)
        super().__setitem__(key, value)


#: font subsets kept in a :class:`FontSubsets` folder (least recently used removed first)
MAX_FONT_SUBSETS = 64


class FontSubsets(dict[Any, Any]):
    """``Document.fonts`` of WeasyPrint that subsets fonts with fontTools more cheaply and
    reuses the subsets made by earlier renders.

    Subsetting a font with fontTools costs about 0.15 CPU-s (five fonts in the article),
    half of it decoding the ``GSUB`` and ``GPOS`` tables that the subset then drops
    (:func:`fonttools_subset` drops them first). When ``folder`` is given, each subset is
    stored there under the SHA-256 of the font file, its index, the glyph ids, the options
    and the fontTools and WeasyPrint versions, and read back instead of subsetting again
    (an edit of the text rarely changes the glyphs a font needs). The bytes are those
    WeasyPrint's own fontTools subset writes. Subsetting by HarfBuzz is left as it is.
    """

    def __init__(self, folder: Path | None) -> None:
        super().__init__()
        self.folder = folder

    def __setitem__(self, key: Any, value: Any) -> None:
        if callable(getattr(value, "_fonttools_subset", None)):
            value._fonttools_subset = functools.partial(self._subset, value)
        super().__setitem__(key, value)

    def _subset(self, font: Any, to_unicode: dict[int, Any], hinting: bool) -> None:
        if self.folder is None:
            fonttools_subset(font, to_unicode, hinting)
            return
        from importlib.metadata import version

        digest = hashlib.sha256()
        for part in (
            f"{version('fonttools')} {version('weasyprint')} {font.index} {bool(hinting)} "
            f"{bool(font.missing)} {sorted(to_unicode)}".encode(),
            font.file_content,
        ):
            digest.update(hashlib.sha256(part).digest())
        stored = self.folder / f"{digest.hexdigest()}.ttf"
        try:
            font.file_content = stored.read_bytes()
            os.utime(stored)
            return
        except OSError:
            pass
        fonttools_subset(font, to_unicode, hinting)
        _keep(stored, font.file_content, MAX_FONT_SUBSETS)


def fonttools_subset(font: Any, to_unicode: dict[int, Any], hinting: bool) -> None:
    """WeasyPrint's ``Font._fonttools_subset(font, to_unicode, hinting)``, the same bytes,
    without decoding the layout tables the subset drops.

    fontTools' ``Subsetter.subset`` decodes ``GSUB`` and ``GPOS`` (hundreds of lookups in
    the DejaVu fonts, about 0.05 CPU-s each) before its first step drops them, as
    WeasyPrint's options ask. Here they are removed from the font before, with ``kern``,
    which that first step drops when the font has ``GPOS``. Another WeasyPrint version
    (not in :data:`LAYOUT_INTERNALS`) gets its own function.
    """
    from weasyprint.pdf.fonts import Font

    if not _weasyprint_version().startswith(LAYOUT_INTERNALS):
        Font._fonttools_subset(font, to_unicode, hinting)
        return
    from fontTools import subset
    from fontTools.ttLib import TTFont, TTLibError

    options = subset.Options(  # as Font._fonttools_subset
        retain_gids=True,
        passthrough_tables=True,
        ignore_missing_glyphs=True,
        hinting=hinting,
        desubroutinize=True,
        notdef_outline=bool(font.missing),
    )
    options.drop_tables += ["GSUB", "GPOS", "SVG"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(gids=to_unicode)
    try:
        ttfont = TTFont(io.BytesIO(font.file_content), fontNumber=font.index)
        if "GPOS" in ttfont and "kern" in ttfont and not options.legacy_kern:
            del ttfont["kern"]
        for tag in ("GSUB", "GPOS"):
            if tag in ttfont:
                del ttfont[tag]
        subsetter.subset(ttfont)
    except TTLibError:
        Font._fonttools_subset(font, to_unicode, hinting)  # its warning, its fallback
        return
    optimized = io.BytesIO()
    ttfont.save(optimized)
    font.file_content = optimized.getvalue()


def _weasyprint_version() -> str:
    import weasyprint

    return str(weasyprint.__version__)


def _evict(folder: Path, keep: int, pattern: str) -> None:
    """Remove the least recently used files ``pattern`` of ``folder`` beyond ``keep``."""
    stamped = []
    for path in folder.glob(pattern):
        try:
            stamped.append((path.stat().st_mtime_ns, path.name))
        except OSError:  # removed meanwhile by another render
            continue
    for _, name in sorted(stamped, reverse=True)[keep:]:
        (folder / name).unlink(missing_ok=True)

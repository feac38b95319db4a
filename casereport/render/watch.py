"""``render.py watch``: re-render on every saved change and reload the page in the browser.

One process holds the session:

* a **server** (``http.server``, 127.0.0.1, a free port unless given) serves ``build/``;
  the article it serves carries a few lines of script that ask ``/__casereport__/state``
  for the session's generation and reload the page when it moves. The script (and, after
  a failed render, the escaped error report) is added to the served copy only, never to
  ``build/article.html``;
* a **watcher** polls the notebooks, every file below ``data/`` (``case.yaml`` and DICOM),
  the package source and ``matplotlibrc`` by (size, mtime, inode), and waits until a burst
  of writes has settled;
* the **render loop** runs the ordinary cached render (:func:`render`) in this process, HTML
  only, so only what the change touches re-executes: a prose edit splices the new markdown
  into the cached article (no kernel), a case-file or DICOM edit re-executes the runs that
  read it. The PDF follows in a separate process and is published when done, unless the
  HTML moved on meanwhile; ``build/article.pdf`` is removed when a new HTML is published,
  so ``build/`` never holds a PDF older than the HTML (the manifest lists what is there).

The page is built once per published article and state (polls in between get the same
bytes); blocks of 1 MB or more are mapped on their own (:func:`map_large_blocks`), and
before each publish the collector runs and the freed heap goes back to the system
(:func:`release_memory`), so the session's memory stays flat over many edits.

A failed render prints its report and shows it in the page, above the last good article,
which stays published. Ctrl-C (or SIGTERM) stops the loop, kills the render's kernels and
the PDF process, and closes the server; every publication is atomic, so the build is the
last complete one.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import html
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import casereport
from casereport.errors import CaseReportError, RenderError
from casereport.fileio import FileStamp, file_stamp, file_stamps_below, sha256_file, write_atomic
from casereport.render.execute import kernel_env
from casereport.render.export import warm_exporter
from casereport.render.kernel_pool import KernelPool
from casereport.render.pipeline import RenderOptions, RenderResult, render
from casereport.render.publish import BuildLock, stop_orphans

#: endpoint the reload script polls (JSON: generation, error, busy)
STATE_PATH = "/__casereport__/state"
#: id of the injected script element (tests look for it)
SCRIPT_ID = "casereport-live-reload"
ERROR_ID = "casereport-watch-error"
PDF_WORK = ".watch-pdf"
_PDF_CODE = (
    "import sys\nfrom pathlib import Path\nfrom casereport.render.export import html_to_pdf\n"
    "html_to_pdf(Path(sys.argv[1]), Path(sys.argv[2]), font_cache=Path(sys.argv[3]),\n"
    "            image_cache=Path(sys.argv[4]), placement_cache=Path(sys.argv[5]))\n"
)
_SCRIPT = """<script id="{id}">
(function () {{
  var seen = {generation};
  function poll() {{
    fetch("{path}", {{cache: "no-store"}})
      .then(function (r) {{ return r.json(); }})
      .then(function (s) {{
        if (s.generation !== seen) {{ location.reload(); }} else {{ setTimeout(poll, 250); }}
      }})
      .catch(function () {{ setTimeout(poll, 1000); }});
  }}
  setTimeout(poll, 250);
}})();
</script>
"""
_PLACEHOLDER = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>casereport watch</title></head>"
    "<body><p>No article yet: the first render is running.</p></body></html>"
)


@dataclass(frozen=True)
class WatchOptions:
    """Settings of a watch session.

    Attributes:
        port: TCP port on 127.0.0.1 (0: a free one, chosen by the system).
        poll_seconds: interval between two scans of the watched files (s).
        settle_seconds: a change is rendered once no file changed for this long (s).
        pdf: make the PDF in the background after each published HTML.
        kernels: kernels kept started and preloaded for the next render (0: none).
    """

    port: int = 0
    poll_seconds: float = 0.1
    settle_seconds: float = 0.1
    pdf: bool = True
    kernels: int = 2


class LiveState:
    """What the page needs to know: a generation number (moves on every publish and every
    new error) and the current error report (``None`` after a good render)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.generation = 0
        self.error: str | None = None
        self.busy = False  # a render is in progress
        self.pdf = False  # a PDF is being made

    def published(self) -> None:
        with self._lock:
            self.generation += 1
            self.error = None

    def failed(self, report: str) -> None:
        with self._lock:
            self.generation += 1
            self.error = report

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "generation": self.generation,
                "error": self.error,
                "busy": self.busy,
                "pdf": self.pdf,
            }


def served_page(article: str | None, state: dict[str, Any]) -> str:
    """The page served for the article: ``article`` with the reload script (and the escaped
    error report, when the last render failed) added before ``</body>``."""
    page = article if article is not None else _PLACEHOLDER
    extra = ""
    if state["error"]:
        extra += (
            f'<div id="{ERROR_ID}" style="border:2px solid #b00;background:#fee;color:#600;'
            'padding:0.5em 1em;margin:1em;font-family:monospace">'
            "<strong>render failed; the article below is the last good one</strong>"
            f'<pre style="white-space:pre-wrap">{html.escape(state["error"])}</pre></div>\n'
        )
    extra += _SCRIPT.format(id=SCRIPT_ID, generation=state["generation"], path=STATE_PATH)
    at = page.rfind("</body>")
    if at < 0:
        return page + extra
    if state["error"]:  # the error goes first, the script last
        body = page.find(">", page.find("<body")) + 1 if "<body" in page else 0
        error, script = extra.split("<script", 1)
        page = page[:body] + error + page[body:]
        at = page.rfind("</body>")
        extra = "<script" + script
    return page[:at] + extra + page[at:]


class PageCache:
    """The served page of ``build/article.html`` as bytes, made again only when the file
    (its size, mtime ns, inode) or the state's generation or error moved: a page polled
    every few milliseconds while a render runs costs a lookup, not a 4-MB read and copy."""

    def __init__(self, article: Path) -> None:
        self.article = article
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._body = b""

    def page(self, state: dict[str, Any]) -> bytes:
        """The page for ``state`` (a :meth:`LiveState.snapshot` taken before the call)."""
        key = (file_stamp(self.article), state["generation"], state["error"])
        with self._lock:
            if key == self._key:
                return self._body
        try:
            text: str | None = self.article.read_text(encoding="utf-8")
        except OSError:
            text = None
        body = served_page(text, state).encode()
        with self._lock:
            self._key, self._body = key, body
        return body


def _handler(build_dir: Path, state: LiveState) -> type[SimpleHTTPRequestHandler]:
    pages = PageCache(build_dir / "article.html")

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(build_dir), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            pass  # one line per request would drown the render messages

        def end_headers(self) -> None:
            self.send_header("Cache-Control", "no-store")
            super().end_headers()

        def _send(self, body: bytes, content_type: str) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self) -> None:  # noqa: N802 - stdlib name
            self.do_GET()

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            path = self.path.split("?", 1)[0]
            if path == STATE_PATH:
                body = json.dumps(state.snapshot()).encode()
                self._send(body, "application/json")
            elif path in ("/", "/article.html", "/index.html"):
                snap = state.snapshot()  # before reading: a newer page reloads once more
                self._send(pages.page(snap), "text/html; charset=utf-8")
            else:
                super().do_GET()

    return Handler


class Server:
    """``build/`` over HTTP on 127.0.0.1, in a background thread."""

    def __init__(self, build_dir: Path, state: LiveState, port: int = 0) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(build_dir, state))
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


class Watcher:
    """Polls the files a render depends on by (size, mtime ns, inode): no file content is read
    (a scan of the project's ~450 files takes 2 to 3 ms of CPU)."""

    def __init__(self, opts: RenderOptions) -> None:
        self.opts = opts
        self.package = Path(casereport.__file__).resolve().parent
        self.seen = self.scan()

    def scan(self) -> dict[str, FileStamp]:
        """Stamps, by path, of every file a render depends on: notebooks, ``data/`` (case
        files and DICOM), the package source (``.py``, templates, CSS) and the project's
        ``matplotlibrc``; the folders are listed by the render's own rules
        (:func:`casereport.fileio.files_below`: hidden entries and ``__pycache__`` left out,
        linked folders followed)."""
        out = file_stamps_below(self.opts.notebooks_dir)
        out.update(file_stamps_below(self.opts.data_dir))
        package = file_stamps_below(self.package)
        out.update((p, s) for p, s in package.items() if not p.endswith(".pyc"))
        rc = self.opts.root / "matplotlibrc"
        if (stamp := file_stamp(rc)) is not None:
            out[str(rc)] = stamp
        return out

    def changed(self, now: dict[str, FileStamp]) -> list[Path]:
        """Files added, removed or modified since :attr:`seen` (sorted)."""
        keys = set(now) | set(self.seen)
        return sorted(Path(p) for p in keys if now.get(p) != self.seen.get(p))

    def wait(
        self,
        stop: threading.Event,
        poll: float,
        settle: float,
        tick: Callable[[], None] = lambda: None,
    ) -> list[Path]:
        """Block until something changed and stayed unchanged for ``settle`` s (or stop).

        ``tick`` is called before every scan. Returns the changed files and takes the new
        state as seen.
        """
        while not stop.is_set():
            tick()
            now = self.scan()
            if self.changed(now):
                while not stop.wait(settle):
                    later = self.scan()
                    if later == now:
                        break
                    now = later
                changed = self.changed(now)
                self.seen = now
                if changed:
                    return changed
            stop.wait(poll)
        return []


class PdfJob:
    """The PDF of one published HTML, made in a child process (never blocks the HTML)."""

    def __init__(self, opts: RenderOptions) -> None:
        self.build_dir = opts.build_dir
        self.root = opts.root
        self.work = opts.build_dir / PDF_WORK
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        source = self.work / "article.html"
        shutil.copyfile(opts.build_dir / "article.html", source)
        self.html_sha256 = sha256_file(source)
        self.t0 = time.perf_counter()
        self._log = open(self.work / "stderr.txt", "wb")  # noqa: SIM115 - closed in finish
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _PDF_CODE,
                str(source),
                str(self.work / "article.pdf"),
                str(opts.build_dir / "cache" / "fonts"),
                str(opts.build_dir / "cache" / "pdf-images"),
                str(opts.build_dir / "cache" / "pdf-placement"),
            ],
            cwd=opts.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )

    def done(self) -> bool:
        return self.proc.poll() is not None

    def stop(self) -> None:
        """Kill the child (if running) and remove the work folder."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._log.close()
        shutil.rmtree(self.work, ignore_errors=True)

    def publish(self) -> str:
        """Move the finished PDF into ``build/`` if its HTML is still the published one.

        Returns a message for the terminal. The manifest gains the PDF among its outputs
        and a ``pdf`` step.
        """
        seconds = time.perf_counter() - self.t0
        self.proc.wait()
        self._log.close()
        pdf = self.work / "article.pdf"
        try:
            if self.proc.returncode != 0 or not pdf.is_file():
                err = (self.work / "stderr.txt").read_text(errors="replace").strip()
                return "PDF failed: " + (err.splitlines()[-1] if err else "no output")
            with BuildLock(self.build_dir):
                html_now = self.build_dir / "article.html"
                if not html_now.is_file() or sha256_file(html_now) != self.html_sha256:
                    return "PDF skipped (the HTML changed meanwhile)"
                add_pdf_to_manifest(self.build_dir, self.root, pdf, seconds)
                os.replace(pdf, self.build_dir / "article.pdf")
            return f"PDF published in {seconds:.1f} s"
        finally:
            shutil.rmtree(self.work, ignore_errors=True)


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path.resolve())


def add_pdf_to_manifest(build_dir: Path, root: Path, pdf: Path, seconds: float) -> None:
    """List ``pdf`` (about to become ``build/article.pdf``) in ``build/manifest.json``."""
    path = build_dir / "manifest.json"
    doc = json.loads(path.read_text())
    name = _rel(build_dir / "article.pdf", root)
    outputs = [o for o in doc.get("outputs", []) if o["path"] != name]
    outputs.append({"path": name, "sha256": sha256_file(pdf)})
    doc["outputs"] = sorted(outputs, key=lambda o: o["path"])
    doc["steps"] = [s for s in doc.get("steps", []) if s["step"] != "pdf"]
    doc["steps"].append({"step": "pdf", "cached": False, "seconds": round(seconds, 3), "key": ""})
    write_atomic(path, (json.dumps(doc, sort_keys=True, indent=1) + "\n").encode())


def drop_stale_pdf(build_dir: Path) -> bool:
    """Remove ``build/article.pdf`` when the manifest does not list it (it belongs to an
    older HTML). Returns whether a file was removed."""
    pdf = build_dir / "article.pdf"
    if not pdf.is_file():
        return False
    try:
        doc = json.loads((build_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    listed = {o["sha256"] for o in doc.get("outputs", []) if o["path"].endswith("article.pdf")}
    if sha256_file(pdf) in listed:
        return False
    with BuildLock(build_dir):
        pdf.unlink(missing_ok=True)
    return True


#: ``M_MMAP_THRESHOLD`` of glibc's ``mallopt``
_M_MMAP_THRESHOLD = -3
#: blocks from this size on (bytes) get their own mapping, returned to the system when freed
LARGE_BLOCK = 1 << 20


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def map_large_blocks(size: int = LARGE_BLOCK) -> bool:
    """Have glibc map every block of ``size`` bytes or more on its own (``mallopt``).

    By default glibc raises that threshold to the largest block freed so far (up to 32 MB),
    so after the first few the notebooks, HTML texts and pages of several MB a render
    reads and writes come from the heap and stay resident once freed. Returns whether the
    setting was taken (False off glibc)."""
    mallopt = getattr(_libc(), "mallopt", None)
    return bool(mallopt(_M_MMAP_THRESHOLD, size)) if mallopt is not None else False


def release_memory() -> None:
    """Collect garbage, then give the free heap back to the system (glibc ``malloc_trim``).

    One render reads, copies and writes notebooks and HTML of several MB each (the HTML
    export's parse trees are cyclic: only the collector frees them); the allocator would
    otherwise keep that freed memory resident, so a long session's RSS would follow its
    largest renders. With the session's long-lived objects frozen (:func:`gc.freeze`,
    after the first render) the collection takes about 15 ms, the trim a few.
    """
    gc.collect()
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is not None:
        trim(0)


def describe(result: RenderResult, seconds: float) -> str:
    """One line: the steps that ran (not reused from the cache) and the wall time (s)."""
    ran = [s.step for s in result.steps if not s.cached and s.step != "plan"]
    return f"published {result.html.name} in {seconds:.1f} s (ran: {', '.join(ran) or 'nothing'})"


def error_report(exc: BaseException) -> str:
    """The text shown in the terminal and in the page for a failed render."""
    if isinstance(exc, RenderError):
        return exc.report()
    if isinstance(exc, CaseReportError):
        return f"error: {' '.join(str(exc).split())}"
    return f"error: {type(exc).__name__}: {exc}"


class Session:
    """A running watch session (see the module docstring).

    ``prepare`` returns the render options for the next render (called before each one,
    so that checks such as the de-identification gate see the current data).
    """

    def __init__(
        self,
        prepare: Callable[[], RenderOptions],
        opts: WatchOptions,
        *,
        out: Callable[[str], None] | None = None,
    ) -> None:
        self.prepare = prepare
        self.opts = opts
        self.out = out or (lambda line: print(line, file=sys.stderr, flush=True))
        self.stop = threading.Event()
        self.state = LiveState()
        first = prepare()
        self.build_dir = first.build_dir
        self.with_code = first.with_code
        self.build_dir.mkdir(parents=True, exist_ok=True)
        map_large_blocks()
        self.watcher = Watcher(first)
        self.server = Server(self.build_dir, self.state, opts.port)
        self.pdf: PdfJob | None = None
        derived = kernel_env(first.build_dir / "cache" / "derived")
        self.pool = KernelPool(first.root, opts.kernels, env=derived) if opts.kernels > 0 else None
        self.package = Path(casereport.__file__).resolve().parent
        self._loop = threading.Thread(target=self._run_loop, name="watch", daemon=True)
        self.renders = 0

    # ------------------------------------------------------------------ loop
    def render_once(self, why: str) -> None:
        """One HTML render (errors reported, never raised), then the PDF in the background."""
        self._stop_pdf()
        self.state.busy = True
        try:
            self._render(why)
        finally:
            self.state.busy = False
            self.renders += 1
            if self.pool is not None and not self.stop.is_set():
                self.pool.fill()

    def _render(self, why: str) -> None:
        self.out(f"rendering ({why})")
        t0 = time.perf_counter()
        try:
            kernels = self.pool.take if self.pool is not None else None
            opts = replace(self.prepare(), html_only=True, progress=False, kernels=kernels)
            result = render(opts)
        except Exception as exc:  # noqa: BLE001 - any failure is reported, the session goes on
            if self.stop.is_set():
                return
            report = error_report(exc)
            release_memory()
            self.state.failed(report)
            self.out(report)
            self.out("the last good article stays served")
            return
        drop_stale_pdf(self.build_dir)
        if self.opts.pdf and not self.stop.is_set():
            self.pdf = PdfJob(opts)
            self.state.pdf = True
        release_memory()  # about 20 ms; the session's size between edits is what it keeps
        self.state.published()
        self.out(describe(result, time.perf_counter() - t0))

    def _stop_pdf(self) -> None:
        if self.pdf is not None:
            self.pdf.stop()
            self.pdf = None
            self.state.pdf = False

    def _poll_pdf(self) -> None:
        if self.pdf is not None and self.pdf.done():
            job, self.pdf = self.pdf, None
            self.out(job.publish())
            self.state.pdf = False

    def _run_loop(self) -> None:
        self.render_once("start")
        try:  # the first edit should not pay for compiling the HTML templates
            warm_exporter(with_code=self.with_code)
        except Exception:  # noqa: BLE001 - only a head start; a real export reports errors
            pass
        # what lives now (modules, templates, caches) stays: out of the collector's sight,
        # so that the collection after each render scans only what that render made
        gc.collect()
        gc.freeze()
        while not self.stop.is_set():
            changed = self.watcher.wait(
                self.stop, self.opts.poll_seconds, self.opts.settle_seconds, self._poll_pdf
            )
            if self.stop.is_set():
                break
            if changed and self.pool is not None and any(self._code(p) for p in changed):
                self.pool.flush()  # waiting kernels may have imported the old code
            if any(p.is_relative_to(self.package / "render") for p in changed):
                self.out(
                    "note: casereport/render changed; this session keeps the code it "
                    "started with (restart it to use the new render code)"
                )
            if changed:
                names = [_rel(p, self.watcher.opts.root) for p in changed]
                why = ", ".join(names[:3]) + (
                    f" and {len(names) - 3} more" if len(names) > 3 else ""
                )
                self.render_once(f"changed: {why}")

    def _code(self, path: Path) -> bool:
        """Whether ``path`` is package source or ``matplotlibrc`` (read at import time)."""
        return path.name == "matplotlibrc" or path.is_relative_to(self.package)

    # ------------------------------------------------------------------ life
    def start(self) -> str:
        """Start the server and the loop; returns the URL."""
        self.server.start()
        self._loop.start()
        return self.server.url

    def close(self, timeout: float = 60.0) -> None:
        """Stop everything: the loop, the render's kernels, the PDF process, the server."""
        self.stop.set()
        deadline = time.monotonic() + timeout
        while self._loop.is_alive() and time.monotonic() < deadline:
            stop_orphans(self.build_dir)  # kernels of a render in progress: it then fails
            self._loop.join(0.1)
        self._stop_pdf()
        stop_orphans(self.build_dir)
        if self.pool is not None:
            self.pool.close()
        self.server.stop()
        gc.unfreeze()

    def serve_forever(self) -> None:
        """Run until SIGINT/SIGTERM (or :attr:`stop`), then :meth:`close`."""

        def on_term(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, on_term)
        # a session started in the background of a shell script inherits SIGINT ignored;
        # it is a foreground server all the same, and SIGINT (Ctrl-C) is how it is stopped
        previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            while not self.stop.is_set():
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self.out("stopping")
            self.close()
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, previous_int)
            self.out("stopped")


def watch(prepare: Callable[[], RenderOptions], opts: WatchOptions) -> int:
    """Run a watch session in the foreground; returns the exit status (0)."""
    session = Session(prepare, opts)
    url = session.start()
    print(f"serving {url} (build/ of {session.watcher.opts.root}); Ctrl-C stops", flush=True)
    session.serve_forever()
    return 0

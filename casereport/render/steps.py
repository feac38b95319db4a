"""The one execute-and-cache path of the render: a notebook run as a cached step.

A :class:`Step` is a planned run with its cache key, the folder it writes and the folders
whose listing its cache entry watches. :meth:`Steps.reuse` restores a cache hit;
:meth:`Steps.execute` runs the notebook, records what it read and stores it. Both record
a :class:`StepRecord` and the inputs of the run. The HTML/PDF export is cached by content
in :meth:`Steps.export`.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from casereport.errors import RenderError
from casereport.fileio import files_below, relpath
from casereport.record import split_facet
from casereport.render.cache import RunCache, folder_listing
from casereport.render.execute import Kernel, NotebookRun, execute, kernel_env
from casereport.render.hashing import (
    FileHasher,
    dependency_versions,
    digest_json,
    package_digest,
    sha256_file,
)
from casereport.render.jats import JATS_NAME, read_meta, write_jats
from casereport.render.jats import figure_files as jats_figure_files
from casereport.render.pdf import font_subsetter
from casereport.render.plan import (
    PANEL_CACHE,
    PANEL_CACHE_LAST_RUN,
    Plan,
    RenderOptions,
    panel_cache_dir,
)
from casereport.render.progress import Progress, Verbosity
from casereport.render.prose import code_digest, splice_facets, splice_prose, verbatim_facets
from casereport.render.publish import record_kernel_pid, stop_orphans

if TYPE_CHECKING:
    from casereport.render.zygote import ForkServer


@dataclass(frozen=True)
class StepRecord:
    """One step of a render: what, whether it was reused from the cache, how long (s)."""

    step: str
    cached: bool
    seconds: float
    key: str = ""
    #: figure run: the panels (and ``figure1``, ``figureS1``) it drew, not reused
    redrawn: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Step:
    """A notebook run as a cached step.

    Attributes:
        name: step name in records and progress (``"case A"``, ``"figure"``, ``"article"``).
        run: the planned run.
        key: its cache key (notebook, parameters, package, versions, [case outputs]).
        outputs: the staged folder the run writes (kept in the cache entry).
        fallback: folder assumed read when the run records no inputs.
        watched: folders whose file listing the cache entry checks.
        listed: ``inputs.json`` the notebook may write (joined with the kernel's record).
        prose: notebook whose markdown is spliced into a reused run (the article: prose
            edits do not re-execute it, see :mod:`casereport.render.prose`).
        panel_cache: the figure run's panel cache (emptied first by ``--no-cache``; its
            ``last-run.json`` says which panels the run drew).
        verbatim: kinds of case-file facets the notebook shows verbatim only (its
            ``metadata.casereport.verbatim_facets``): their values are kept with the run,
            and an edit of one is spliced into a reused run
            (:func:`~casereport.render.prose.splice_facets`).
    """

    name: str
    run: NotebookRun
    key: str
    outputs: Path
    fallback: Path
    watched: tuple[Path, ...] = ()
    listed: Path | None = None
    prose: Path | None = None
    panel_cache: Path | None = None
    verbatim: tuple[str, ...] = ()


def _redrawn(panel_cache: Path | None) -> tuple[str, ...] | None:
    """What the figure run drew (``last-run.json`` of its panel cache), if it says."""
    if panel_cache is None:
        return None
    try:
        return tuple(json.loads((panel_cache / PANEL_CACHE_LAST_RUN).read_text())["redrawn"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass
class Steps:
    """State of one render's steps (inside the build lock, with an empty staging folder)."""

    opts: RenderOptions
    stage: Path
    hasher: FileHasher = field(init=False)
    cache: RunCache = field(init=False)
    package: str = field(init=False, default="")
    versions: dict[str, str] = field(init=False, default_factory=dict)
    records: list[StepRecord] = field(init=False, default_factory=list)
    inputs: dict[str, dict[str, str]] = field(init=False, default_factory=dict)
    progress: Progress = field(init=False)
    #: an OSError of the article thread, re-raised by the render
    os_error: OSError | None = field(init=False, default=None)
    #: the zygote the render's kernels are forked from (started by :meth:`start_forks`)
    forks: ForkServer | None = field(init=False, default=None)
    #: environment of the render's kernels (names the derived-data cache; set by
    #: :meth:`kernel_env` when the first kernel is needed)
    env: dict[str, str] = field(init=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    #: the export's start-up work, done in a thread while the article runs
    _prepared: threading.Thread | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.hasher = FileHasher(self.opts.build_dir / "cache" / "stat.json")
        self.cache = RunCache(self.opts.build_dir / "cache", self.opts.root, self.hasher)
        self.package = package_digest(self.opts.root, self.hasher)
        self.versions = dependency_versions()
        if not self.opts.use_cache:  # --no-cache: derived data computed afresh
            shutil.rmtree(self.opts.build_dir / "cache" / "derived", ignore_errors=True)
        level = Verbosity.QUIET
        if self.opts.progress:
            level = Verbosity.VERBOSE if self.opts.verbose else Verbosity.NORMAL
        self.progress = Progress(level)

    # ---------------------------------------------------------------- bookkeeping
    def kernel_env(self) -> dict[str, str]:
        """Environment of this render's kernels, made once when the first one is needed
        (a render that reuses every step imports neither the kernel nor the derived-data
        machinery): entries of other package versions leave the derived-data cache."""
        with self._lock:
            if not self.env:
                from casereport.io.memo import prune

                derived = self.opts.build_dir / "cache" / "derived"
                prune(derived)
                self.env = kernel_env(derived)
            return self.env

    def note(self, record: StepRecord) -> None:
        with self._lock:
            self.records.append(record)
        if record.step == "plan":
            self.progress.line(f"plan: {record.seconds:.1f} s", level=Verbosity.VERBOSE)
        else:
            verb = "written" if record.step in ("html", "pdf", "jats") else "executed"
            self.progress.step(record.step, cached=record.cached, seconds=record.seconds, verb=verb)

    def kernel(self, cwd: Path) -> Kernel:
        """A kernel for a run in ``cwd`` (from ``opts.kernels`` when given, else forked
        from the render's zygote, started on first need)."""

        def sink(pid: int) -> None:
            record_kernel_pid(self.opts.build_dir, pid)

        env = self.kernel_env()
        if self.opts.kernels is not None:
            return self.opts.kernels(cwd, sink)
        return Kernel(cwd, pid_sink=sink, forks=self.start_forks(), env=env)

    def start_forks(self) -> ForkServer | None:
        """Start the zygote (once; none when forking is off or a kernel source is given)."""
        from casereport.render.zygote import ForkServer, adopt, fork_enabled

        if self.opts.kernels is not None or not fork_enabled():
            return None
        env = self.kernel_env()
        with self._lock:
            if self.forks is None:  # the one started with the command, if any
                self.forks = adopt(self.opts.root, env) or ForkServer(self.opts.root, env)
                record_kernel_pid(self.opts.build_dir, self.forks.pid)
            return self.forks

    def abort(self) -> None:
        """Kill every kernel of this render and the zygote (the render is interrupted)."""
        self.close()
        stop_orphans(self.opts.build_dir)

    def close(self) -> None:
        """Stop the zygote, if one was started."""
        with self._lock:
            forks, self.forks = self.forks, None
        if forks is not None:
            forks.close()

    def _key(self, kind: str, run: NotebookRun, **extra: Any) -> str:
        key = {
            "kind": kind,
            "notebook": self.hasher.sha256(run.source),
            "parameters": run.parameters,
            "package": self.package,
            "versions": self.versions,
        }
        return digest_json({**key, **extra})

    # ---------------------------------------------------------------- planned steps
    def case_step(self, run: NotebookRun, plan: Plan) -> Step:
        out = self.stage / "cases" / run.label
        return Step(
            name=f"case {run.label}",
            run=run,
            key=self._key("case", run),
            outputs=out,
            fallback=self.opts.data_dir / run.label,
            watched=(self.opts.data_dir / run.label, *plan.controls),
            listed=out / "inputs.json",
        )

    def figure_step(self, run: NotebookRun) -> Step:
        return Step(
            name=run.label,
            run=run,
            key=self._key("figure", run),
            outputs=self.stage / "figures",
            fallback=self.opts.data_dir,
            watched=(self.opts.data_dir,),
            panel_cache=panel_cache_dir(self.opts) if PANEL_CACHE in run.parameters else None,
        )

    def article_step(self, plan: Plan) -> Step:
        """The article run, keyed by every staged case output (and figure, if any)."""
        folders = {"results": self.stage / "cases"}
        if plan.figure is not None:
            folders["figures"] = self.stage / "figures"
        outputs = {
            name: [[p.relative_to(f).as_posix(), sha256_file(p)] for p in files_below(f)]
            for name, f in folders.items()
        }
        run = plan.article
        # prose edits reuse the run (see prose.py): the key holds the code cells only
        key = self._key("article", run, **outputs, notebook=code_digest(run.source))
        return Step(
            name="article",
            run=run,
            key=key,
            outputs=self.stage / "figures",
            fallback=self.opts.data_dir,
            watched=(self.opts.data_dir,),
            prose=run.source,
            verbatim=verbatim_facets(run.source),
        )

    # ---------------------------------------------------------------- execute or reuse
    def reuse(self, step: Step) -> bool:
        """Restore ``step`` from the cache if a valid entry exists; True when it did."""
        if not self.opts.use_cache:
            return False
        t0 = time.perf_counter()
        entry = self.cache.lookup(step.key)
        if entry is not None:
            RunCache.restore(entry, step.run.output, step.outputs)
            inputs = dict(entry.meta.get("inputs", {}))
            if step.prose is not None:
                splice_prose(step.run.output, step.prose)
        else:  # the prose is spliced in the same pass
            spliced = self._reuse_spliced(step) if step.verbatim else None
            if spliced is None:
                return False
            inputs = spliced
        self._done(step, inputs, True, t0)
        return True

    def _verbatim(self, step: Step, rel: str) -> bool:
        """Whether recorded input ``rel`` is a case-file facet ``step`` shows verbatim."""
        from casereport.case.facets import facet_kind

        _, facet = split_facet(rel)
        return facet is not None and facet_kind(facet) in step.verbatim

    def _values(self, step: Step, inputs: dict[str, str]) -> dict[str, Any]:
        """The current value of every input of ``inputs`` that ``step`` shows verbatim
        (kept only when its digest is the recorded one)."""
        from casereport.case.facets import digest as facet_digest
        from casereport.case.facets import facet_values

        parsed: dict[str, dict[str, Any] | None] = {}
        out: dict[str, Any] = {}
        for rel in sorted(inputs):
            if not self._verbatim(step, rel):
                continue
            path, facet = split_facet(rel)
            if path not in parsed:
                parsed[path] = facet_values(self.opts.root / path)
            values = parsed[path] or {}
            if facet in values and facet_digest(values[facet]) == inputs[rel]:
                out[rel] = values[facet]
        return out

    def _reuse_spliced(self, step: Step) -> dict[str, str] | None:
        """Restore a stored run of ``step`` whose only changed inputs are facets it shows
        verbatim, with the new text spliced in (see
        :func:`~casereport.render.prose.splice_facets`), and store it as a new entry; its
        inputs. ``None`` when there is no such run or the text cannot be spliced (then
        the run is executed, and overwrites what was restored)."""
        near = self.cache.lookup_near(step.key, lambda rel: self._verbatim(step, rel))
        if near is None:
            return None
        entry, changed = near
        inputs = dict(entry.meta["inputs"])
        for rel in changed:
            digest = self.hasher.input_digest(self.opts.root / rel)
            if digest is None:
                return None
            inputs[rel] = digest
        old = entry.meta["values"]
        new = self._values(step, inputs)  # only values whose digest is the one recorded
        if not all(isinstance(old[r], str) and isinstance(new.get(r), str) for r in changed):
            return None
        values = {**old, **new}
        RunCache.restore(entry, step.run.output, step.outputs)
        try:
            changes = {r: (old[r], new[r]) for r in changed}
            splice_facets(step.run.output, changes, prose=step.prose)
        except ValueError:
            return None
        listings = entry.meta.get("listings", {})
        extra = {"values": values}
        self.cache.store(step.key, step.run.output, step.outputs, inputs, listings, extra)
        return inputs

    def execute(self, step: Step, kernel: Kernel | None = None) -> None:
        """Execute ``step`` (on ``kernel`` if given), record its inputs, store it."""
        t0 = time.perf_counter()
        record = self.stage / f".read-{step.run.label}.json"
        if step.panel_cache is not None:
            if not self.opts.use_cache:  # --no-cache: every panel drawn anew
                shutil.rmtree(step.panel_cache, ignore_errors=True)
            (step.panel_cache / PANEL_CACHE_LAST_RUN).unlink(missing_ok=True)
        execute(
            step.run,
            kernel=kernel or self.kernel(step.run.cwd),
            progress=self.progress.notebook(step.name),
            record_to=record,
        )
        inputs = self._read_inputs(step, record)
        listings = {
            relpath(f, self.opts.root): folder_listing(f, self.opts.root) for f in step.watched
        }
        values = self._values(step, inputs) if step.verbatim else {}
        self.cache.store(
            step.key,
            step.run.output,
            step.outputs,
            inputs,
            listings,
            extra={"values": values} if values else None,
        )
        self._done(step, inputs, False, t0, redrawn=_redrawn(step.panel_cache))

    def _done(
        self,
        step: Step,
        inputs: dict[str, str],
        cached: bool,
        t0: float,
        redrawn: tuple[str, ...] | None = None,
    ) -> None:
        with self._lock:
            self.inputs[step.run.label] = inputs
        self.note(StepRecord(step.name, cached, time.perf_counter() - t0, step.key, redrawn))

    def _read_inputs(self, step: Step, record: Path) -> dict[str, str]:
        """path -> sha256 of the files the run read (``path#facet`` -> digest of the facets
        of case files it read, :meth:`FileHasher.input_digest`).

        The kernel's record (``casereport.io.files_read()``) joined with the notebook's own
        ``inputs.json`` when it wrote one; with neither, every file below ``step.fallback``.
        """
        files: list[Path] = []
        known = False
        for source in (record, step.listed):
            if source is None or not source.is_file():
                continue
            try:
                paths = [Path(p) for p in json.loads(source.read_text())]
            except (OSError, ValueError, TypeError) as exc:
                raise RenderError(
                    source, f"not a JSON list of paths: {exc}", case=step.run.label
                ) from None
            files += [p if p.is_absolute() else self.opts.root / p for p in paths]
            known = True
        if not known:
            files = files_below(step.fallback)
        out: dict[str, str] = {}
        for f in sorted(set(files)):
            sha = self.hasher.input_digest(f)
            if sha is None:
                raise RenderError(
                    f, "recorded as read but missing after the run", case=step.run.label
                )
            out[relpath(f, self.opts.root)] = sha
        return out

    # ---------------------------------------------------------------- article
    def run_article(
        self,
        plan: Plan,
        cases_done: threading.Event,
        failed: list[RenderError],
        preload: Sequence[str],
    ) -> None:
        """Wait for the figure and case steps (warming a kernel with ``preload`` meanwhile,
        if given), then reuse or execute the article step; failures go to ``failed``."""
        kernel = None
        try:
            if preload:
                kernel = self.kernel(plan.article.cwd)
                kernel.preload(tuple(preload))
            cases_done.wait()
            if failed:
                return
            step = self.article_step(plan)
            if not self.reuse(step):
                self.prepare_export()
                k, kernel = kernel, None
                self.execute(step, kernel=k)
        except RenderError as err:
            failed.append(err)
        except OSError as exc:  # output location full or read-only: re-raised by the render
            self.os_error = exc
        except Exception as exc:  # noqa: BLE001 - reported like a failed notebook
            failed.append(
                RenderError(plan.article.source, f"{type(exc).__name__}: {exc}", case="article")
            )
        finally:
            if kernel is not None:
                kernel.shutdown()

    # ---------------------------------------------------------------- export
    def prepare_export(self) -> None:
        """Start the export's fixed start-up work (:func:`export.prepare_export`) in a
        thread, once: called when a notebook will execute (so the export will too) and a
        core is free for it; :meth:`export` waits for it first."""
        with self._lock:
            if self._prepared is not None:
                return
            opts = self.opts

            def prepare() -> None:
                try:
                    from casereport.render.export import prepare_export

                    prepare_export(with_code=opts.with_code, pdf=not opts.html_only)
                except Exception:  # noqa: BLE001, S110 - the export meets it again, reports it
                    pass

            self._prepared = threading.Thread(target=prepare, name="prepare-export", daemon=True)
            self._prepared.start()

    def export(self, article: NotebookRun) -> None:
        """``article.html`` (and ``article.pdf``, ``article.jats.xml``) from the executed
        article, cached."""
        opts = self.opts
        names: tuple[str, ...] = ("article.html",)
        if not opts.html_only:
            names += ("article.pdf", JATS_NAME)
        citation = opts.root / "CITATION.cff"
        staged = self.stage / "figures"  # empty when the figure run was reused
        figure_files = jats_figure_files(
            staged if staged.is_dir() and any(staged.iterdir()) else opts.figures_dir
        )
        key = digest_json(
            {
                "kind": "export",
                "notebook": sha256_file(article.output),
                "with_code": opts.with_code,
                "banner": opts.banner,
                "names": names,
                "citation": sha256_file(citation) if citation.is_file() else "",
                "figure_files": figure_files,
                # HarfBuzz and fontTools subset fonts into different bytes
                "font_subsetter": "" if opts.html_only else font_subsetter(),
                "package": self.package,
                "versions": self.versions,
                "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH", ""),
            }
        )
        t0 = time.perf_counter()
        hit = self.cache.lookup_export(key, names) if opts.use_cache else None
        if hit is not None:
            for n in names:
                shutil.copyfile(hit / n, self.stage / n)
            self.note(StepRecord("export", True, time.perf_counter() - t0, key))
            return
        if self._prepared is not None:
            self._prepared.join()  # its errors are the export's own, met again below
        from casereport.render.export import html_to_pdf, notebook_to_html

        html = self.stage / "article.html"
        with self.progress.working("html"):
            notebook_to_html(article.output, html, with_code=opts.with_code, banner=opts.banner)
        self.note(StepRecord("html", False, time.perf_counter() - t0, key))
        if not opts.html_only:
            # the JATS (mostly pandoc, a child process) is written while WeasyPrint runs; on
            # any error of the PDF (Ctrl-C too) the JATS is waited for, and the PDF's error
            # is the one reported
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="jats") as beside:
                jats = beside.submit(
                    _timed,
                    lambda: write_jats(
                        html, self.stage / JATS_NAME, read_meta(citation), figure_files
                    ),
                )
                t1 = time.perf_counter()
                with self.progress.working("pdf"):
                    kept = self.cache.folder
                    html_to_pdf(
                        html,
                        self.stage / "article.pdf",
                        font_cache=kept / "fonts" if opts.use_cache else None,
                        image_cache=kept / "pdf-images" if opts.use_cache else None,
                        placement_cache=kept / "pdf-placement" if opts.use_cache else None,
                    )
                self.note(StepRecord("pdf", False, time.perf_counter() - t1, key))
                self.note(StepRecord("jats", False, jats.result(), key))
        self.cache.store_export(key, [self.stage / n for n in names])


def _timed(work: Callable[[], object]) -> float:
    """Run ``work``; its wall time (s)."""
    t0 = time.perf_counter()
    work()
    return time.perf_counter() - t0

"""Render the article: case and figure notebooks -> article -> HTML -> PDF, cached and atomic.

1. Plan every run and validate every parameter (nothing executes before all are valid).
2. The figure run (``figure.ipynb``, when the project has one: Figure 1 from ``data/``
   alone) and the case runs: reuse a cached run when its key and recorded inputs are
   unchanged, else execute; misses run in parallel in one pool (one kernel each, ``jobs``
   at a time, the figure first). A failing run stops only itself; the others finish and
   are cached.
3. The article run (its kernel starts while the cases run), then the HTML and PDF export,
   each cached by the content they depend on.
4. ``manifest.json``, then publication (see :mod:`casereport.render.publish`).

Everything is written into ``build/.staging-render/`` first, so a failed or killed render
never damages the previous ``build/article.*`` or ``figures/``. Details: docs/RENDER.md.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import casereport
from casereport.case import index
from casereport.errors import ParameterError, RenderError, RenderFailures
from casereport.render.cache import CacheEntry, RunCache, folder_listing
from casereport.render.execute import Kernel, NotebookRun, execute, lighten_imports
from casereport.render.hashing import (
    FileHasher,
    dependency_versions,
    digest_json,
    files_under,
    package_digest,
    sha256_file,
)
from casereport.render.jats import JATS_NAME, read_meta, write_jats
from casereport.render.jats import figure_files as jats_figure_files
from casereport.render.params import validate_parameters
from casereport.render.progress import Progress, Verbosity
from casereport.render.prose import code_digest, splice_prose
from casereport.render.publish import (
    BuildLock,
    figures_lock,
    fresh_stage,
    publish,
    record_kernel_pid,
)

#: imported in the article kernel while it waits for the cases (a head start, same results)
ARTICLE_PRELOAD = ("numpy", "matplotlib.pyplot")  # not casereport.io: see recorded_inputs
#: files in ``figures/`` that are not produced by the render and survive a publish
KEEP_IN_FIGURES = ("README.md", ".gitkeep", ".gitignore")


@dataclass(frozen=True)
class RenderOptions:
    """What to render and where.

    Attributes:
        root: project root; kernels run here and relative paths resolve against it.
        data_dir: folder of subject folders, each with a ``case.yaml``.
        notebooks_dir: holds ``case.ipynb``, ``article.ipynb`` and optionally
            ``figure.ipynb`` (run once, beside the cases, into ``figures/``).
        build_dir: receives ``article.html``, ``article.pdf``, executed notebooks.
        figures_dir: receives the published figure files.
        cases: case ids to render (``None``: every case in ``data_dir``).
        overrides: parameter values per case id (key ``None``: every notebook).
        with_code: keep code cells in the HTML.
        html_only: skip the PDF.
        banner: visible warning printed at the top of the article (e.g. for --allow-phi).
        jobs: case and figure notebooks executed at once (``None``: number of CPUs).
        use_cache: reuse cached runs (``False``: execute everything; results still stored).
        progress: report the steps on stderr (bars on a terminal, else one line per step;
            see :mod:`casereport.render.progress`).
        verbose: also report when each step starts, and every timing.
        kernels: where runs get their kernel, ``(cwd, pid_sink) -> Kernel`` (``None``: a
            new one each; a watch session passes :meth:`KernelPool.take`).
    """

    root: Path
    data_dir: Path
    notebooks_dir: Path
    build_dir: Path
    figures_dir: Path
    cases: tuple[str, ...] | None = None
    overrides: dict[str | None, dict[str, Any]] = field(default_factory=dict)
    with_code: bool = False
    html_only: bool = False
    banner: str = ""
    jobs: int | None = None
    use_cache: bool = True
    progress: bool = False
    verbose: bool = False
    kernels: Callable[[Path, Callable[[int], None]], Kernel] | None = field(
        default=None, compare=False
    )

    @classmethod
    def for_root(cls, root: Path, **kwargs: Any) -> RenderOptions:
        root = root.resolve()
        defaults = {
            "data_dir": root / "data",
            "notebooks_dir": root / "notebooks",
            "build_dir": root / "build",
            "figures_dir": root / "figures",
        }
        defaults.update({k: Path(v).resolve() for k, v in kwargs.items() if k in defaults and v})
        if defaults["build_dir"] != root / "build" and not kwargs.get("figures_dir"):
            # a build elsewhere never touches the committed figures/
            defaults["figures_dir"] = defaults["build_dir"] / "figures"
        rest = {k: v for k, v in kwargs.items() if k not in defaults}
        return cls(root=root, **defaults, **rest)


@dataclass(frozen=True)
class StepRecord:
    """One step of a render: what, whether it was reused from the cache, how long (s)."""

    step: str
    cached: bool
    seconds: float
    key: str = ""


@dataclass(frozen=True)
class RenderResult:
    """Paths of the published outputs and the steps taken."""

    html: Path
    pdf: Path | None
    notebooks: tuple[Path, ...]
    manifest: Path | None = None
    steps: tuple[StepRecord, ...] = ()
    jats: Path | None = None


def discover_cases(data_dir: Path) -> tuple[str, ...]:
    """Case ids: subjects of the case index whose role is ``case``."""
    found = index(data_dir).cases
    if not found:
        raise RenderError(data_dir, "no case folders with a case.yaml")
    return found


def control_folders(data_dir: Path) -> tuple[Path, ...]:
    """Subject folders whose case file has ``role: control``."""
    return tuple(data_dir / c for c in index(data_dir).controls)


def _rel(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when inside it (keeps outputs machine-independent)."""
    try:
        return Path(os.path.abspath(path)).relative_to(root).as_posix()
    except ValueError:
        return os.path.abspath(path)


#: parameters the render sets itself; use --data/--build/--figures/--case instead
MANAGED_PARAMETERS = frozenset({"case_id", "data_dir", "output_dir", "results_dir", "figures_dir"})


def _params(opts: RenderOptions, case: str | None, base: dict[str, Any]) -> dict[str, Any]:
    for scope, values in opts.overrides.items():
        for name in values:
            if name in MANAGED_PARAMETERS:
                where = f"{scope}:{name}" if scope else name
                raise ParameterError(
                    opts.notebooks_dir, where, "set by render.py; use --data/--build/--case instead"
                )
    merged = dict(base)
    merged.update(opts.overrides.get(None, {}))
    if case is not None:
        merged.update(opts.overrides.get(case, {}))
    return merged


#: executes one planned run with its cache key (``_Render.run_case`` / ``run_figure``)
Job = Callable[[NotebookRun, str], None]
#: label of the figure run (in steps, progress, errors and the manifest)
FIGURE_LABEL = "figure"


def plan_figure(opts: RenderOptions, stage: Path) -> NotebookRun | None:
    """The run of ``figure.ipynb`` writing into ``stage/figures`` (``None``: no such notebook).

    Figure 1 depends only on ``data/``, so this run does not depend on which cases render.
    """
    source = opts.notebooks_dir / "figure.ipynb"
    if not source.is_file():
        return None
    return NotebookRun(
        label=FIGURE_LABEL,
        source=source,
        output=stage / "notebooks" / "figure.ipynb",
        parameters=_params(
            opts,
            None,
            {
                "data_dir": _rel(opts.data_dir, opts.root),
                "figures_dir": _rel(stage / "figures", opts.root),
            },
        ),
        cwd=opts.root,
    )


def plan_runs(opts: RenderOptions, stage: Path) -> tuple[list[NotebookRun], NotebookRun]:
    """The case runs and the article run, writing into ``stage``."""
    cases = opts.cases or discover_cases(opts.data_dir)
    known = index(opts.data_dir)
    unknown = [c for c in cases if c not in known]
    if unknown:
        raise RenderError(opts.data_dir, f"no case.yaml for case(s) {', '.join(unknown)}")
    scopes = [s for s in opts.overrides if s is not None and s not in cases]
    if scopes:
        raise ParameterError(opts.notebooks_dir, f"{scopes[0]}:", "no such case in this render")
    case_nb = opts.notebooks_dir / "case.ipynb"
    runs = [
        NotebookRun(
            label=case,
            source=case_nb,
            output=stage / "notebooks" / f"case_{case}.ipynb",
            parameters=_params(
                opts,
                case,
                {
                    "case_id": case,
                    "data_dir": _rel(opts.data_dir, opts.root),
                    "output_dir": _rel(stage / "cases" / case, opts.root),
                },
            ),
            cwd=opts.root,
        )
        for case in cases
    ]
    article = NotebookRun(
        label="article",
        source=opts.notebooks_dir / "article.ipynb",
        output=stage / "notebooks" / "article.ipynb",
        parameters=_params(
            opts,
            None,
            {
                "data_dir": _rel(opts.data_dir, opts.root),
                "results_dir": _rel(stage / "cases", opts.root),
                "figures_dir": _rel(stage / "figures", opts.root),
            },
        ),
        cwd=opts.root,
    )
    return runs, article


class _Render:
    """State of one render (inside the build lock, with an empty staging folder)."""

    def __init__(self, opts: RenderOptions, stage: Path) -> None:
        self.opts = opts
        self.stage = stage
        self.root = opts.root
        self.hasher = FileHasher(opts.build_dir / "cache" / "stat.json")
        self.cache = RunCache(opts.build_dir / "cache", opts.root, self.hasher)
        self.steps: list[StepRecord] = []
        self.case_inputs: dict[str, dict[str, str]] = {}
        self.figure_inputs: dict[str, str] = {}
        self.article_inputs: dict[str, str] = {}
        self.figure: NotebookRun | None = None
        self._lock = threading.Lock()
        self.os_error: OSError | None = None  # from the article thread, raised by run()
        level = Verbosity.QUIET
        if opts.progress:
            level = Verbosity.VERBOSE if opts.verbose else Verbosity.NORMAL
        self.progress = Progress(level)

    # ---------------------------------------------------------------- helpers
    def note(self, step: StepRecord) -> None:
        with self._lock:
            self.steps.append(step)
        if step.step == "plan":
            self.progress.line(f"plan: {step.seconds:.1f} s", level=Verbosity.VERBOSE)
        else:
            verb = "written" if step.step in ("html", "pdf", "jats") else "executed"
            self.progress.step(step.step, cached=step.cached, seconds=step.seconds, verb=verb)

    def progress_for(self, label: str) -> dict[str, Any] | bool:
        return self.progress.notebook(label)

    def kernel(self, cwd: Path) -> Kernel:
        def sink(pid: int) -> None:
            record_kernel_pid(self.opts.build_dir, pid)

        if self.opts.kernels is not None:
            return self.opts.kernels(cwd, sink)
        return Kernel(cwd, pid_sink=sink)

    def base_key(self, kind: str, run: NotebookRun) -> dict[str, Any]:
        return {
            "kind": kind,
            "notebook": self.hasher.sha256(run.source),
            "parameters": run.parameters,
            "package": self.package,
            "versions": self.versions,
        }

    # ---------------------------------------------------------------- cases
    def case_key(self, run: NotebookRun) -> str:
        return digest_json(self.base_key("case", run))

    def recorded_inputs(
        self, run: NotebookRun, record: Path, fallback: Path, listed: Path | None = None
    ) -> dict[str, str]:
        """path -> sha256 of the files the run read.

        The kernel's record (``casereport.io.files_read()``) joined with the notebook's own
        ``inputs.json`` when it wrote one; with neither, every file below ``fallback``.
        """
        files: list[Path] = []
        known = False
        for source in (record, listed):
            if source is None or not source.is_file():
                continue
            try:
                paths = [Path(p) for p in json.loads(source.read_text())]
            except (OSError, ValueError, TypeError) as exc:
                raise RenderError(
                    source, f"not a JSON list of paths: {exc}", case=run.label
                ) from None
            files += [p if p.is_absolute() else self.root / p for p in paths]
            known = True
        if not known:
            files = files_under(fallback)
        out: dict[str, str] = {}
        for f in sorted(set(files)):
            sha = self.hasher.maybe(f)
            if sha is None:
                raise RenderError(f, "recorded as read but missing after the run", case=run.label)
            out[_rel(f, self.root)] = sha
        return out

    def listings(self, case: str) -> dict[str, list[str]]:
        folders = [self.opts.data_dir / case, *self.controls]
        return {_rel(f, self.root): folder_listing(f, self.root) for f in folders}

    def run_case(self, run: NotebookRun, key: str) -> None:
        t0 = time.perf_counter()
        out_dir = self.stage / "cases" / run.label
        record = self.stage / f".read-{run.label}.json"
        execute(
            run,
            kernel=self.kernel(run.cwd),
            progress=self.progress_for(f"case {run.label}"),
            record_to=record,
        )
        inputs = self.recorded_inputs(
            run, record, self.opts.data_dir / run.label, out_dir / "inputs.json"
        )
        self.cache.store(key, run.output, out_dir, inputs, self.listings(run.label))
        self.case_inputs[run.label] = inputs
        self.note(StepRecord(f"case {run.label}", False, time.perf_counter() - t0, key))

    def restore_case(self, run: NotebookRun, key: str, entry: CacheEntry) -> None:
        t0 = time.perf_counter()
        RunCache.restore(entry, run.output, self.stage / "cases" / run.label)
        self.case_inputs[run.label] = dict(entry.meta.get("inputs", {}))
        self.note(StepRecord(f"case {run.label}", True, time.perf_counter() - t0, key))

    # ---------------------------------------------------------------- figure
    def figure_key(self, run: NotebookRun) -> str:
        return digest_json(self.base_key("figure", run))

    def data_listing(self) -> dict[str, list[str]]:
        """The file listing of ``data/`` (watched by the figure and article runs)."""
        return {_rel(self.opts.data_dir, self.root): folder_listing(self.opts.data_dir, self.root)}

    def run_figure(self, run: NotebookRun, key: str) -> None:
        """Execute ``figure.ipynb`` into ``stage/figures`` and cache it like a case run."""
        t0 = time.perf_counter()
        record = self.stage / f".read-{run.label}.json"
        execute(
            run,
            kernel=self.kernel(run.cwd),
            progress=self.progress_for(run.label),
            record_to=record,
        )
        inputs = self.recorded_inputs(run, record, self.opts.data_dir)
        self.cache.store(key, run.output, self.stage / "figures", inputs, self.data_listing())
        self.figure_inputs = inputs
        self.note(StepRecord(run.label, False, time.perf_counter() - t0, key))

    def restore_figure(self, run: NotebookRun, key: str, entry: CacheEntry) -> None:
        t0 = time.perf_counter()
        RunCache.restore(entry, run.output, self.stage / "figures")
        self.figure_inputs = dict(entry.meta.get("inputs", {}))
        self.note(StepRecord(run.label, True, time.perf_counter() - t0, key))

    # ---------------------------------------------------------------- article
    def article_key(self, run: NotebookRun) -> str:
        key = self.base_key("article", run)
        key["notebook"] = code_digest(run.source)  # prose edits reuse the run: see prose.py
        folders = {"results": self.stage / "cases"}
        if self.figure is not None:
            folders["figures"] = self.stage / "figures"
        for name, folder in folders.items():
            key[name] = [
                [p.relative_to(folder).as_posix(), sha256_file(p)] for p in files_under(folder)
            ]
        return digest_json(key)

    def run_article(
        self, run: NotebookRun, cases_done: threading.Event, failed: list[RenderError], warm: bool
    ) -> None:
        kernel = None
        try:
            if warm:
                kernel = self.kernel(run.cwd)
                kernel.preload(ARTICLE_PRELOAD)
            cases_done.wait()
            if failed:
                return
            t0 = time.perf_counter()
            key = self.article_key(run)
            entry = self.cache.lookup(key) if self.opts.use_cache else None
            if entry is not None:
                RunCache.restore(entry, run.output, self.stage / "figures")
                splice_prose(run.output, run.source)
                self.article_inputs = dict(entry.meta.get("inputs", {}))
                self.note(StepRecord("article", True, time.perf_counter() - t0, key))
                return
            k, kernel = kernel or self.kernel(run.cwd), None
            record = self.stage / ".read-article.json"
            execute(run, kernel=k, progress=self.progress_for("article"), record_to=record)
            inputs = self.recorded_inputs(run, record, self.opts.data_dir)
            self.cache.store(key, run.output, self.stage / "figures", inputs, self.data_listing())
            self.article_inputs = inputs
            self.note(StepRecord("article", False, time.perf_counter() - t0, key))
        except RenderError as err:
            failed.append(err)
        except OSError as exc:  # output location full or read-only: re-raised by run()
            self.os_error = exc
        except Exception as exc:  # noqa: BLE001 - reported like a failed notebook
            failed.append(RenderError(run.source, f"{type(exc).__name__}: {exc}", case="article"))
        finally:
            if kernel is not None:
                kernel.shutdown()

    # ---------------------------------------------------------------- export
    def export(self, article: NotebookRun) -> None:
        names: tuple[str, ...] = ("article.html",)
        if not self.opts.html_only:
            names += ("article.pdf", JATS_NAME)
        citation = self.root / "CITATION.cff"
        staged = self.stage / "figures"  # empty when the figure run was reused
        figure_files = jats_figure_files(
            staged if staged.is_dir() and any(staged.iterdir()) else self.opts.figures_dir
        )
        key = digest_json(
            {
                "kind": "export",
                "notebook": sha256_file(article.output),
                "with_code": self.opts.with_code,
                "banner": self.opts.banner,
                "names": names,
                "citation": sha256_file(citation) if citation.is_file() else "",
                "figure_files": figure_files,
                "package": self.package,
                "versions": self.versions,
                "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH", ""),
            }
        )
        t0 = time.perf_counter()
        hit = self.cache.lookup_export(key, names) if self.opts.use_cache else None
        if hit is not None:
            for n in names:
                shutil.copyfile(hit / n, self.stage / n)
            self.note(StepRecord("export", True, time.perf_counter() - t0, key))
            return
        from casereport.render.export import html_to_pdf, notebook_to_html

        with self.progress.working("html"):
            notebook_to_html(
                article.output,
                self.stage / "article.html",
                with_code=self.opts.with_code,
                banner=self.opts.banner,
            )
        self.note(StepRecord("html", False, time.perf_counter() - t0, key))
        if not self.opts.html_only:
            t1 = time.perf_counter()
            with self.progress.working("pdf"):
                html_to_pdf(self.stage / "article.html", self.stage / "article.pdf")
            self.note(StepRecord("pdf", False, time.perf_counter() - t1, key))
            t2 = time.perf_counter()
            with self.progress.working("jats"):
                write_jats(
                    self.stage / "article.html",
                    self.stage / JATS_NAME,
                    read_meta(citation),
                    figure_files,
                )
            self.note(StepRecord("jats", False, time.perf_counter() - t2, key))
        self.cache.store_export(key, [self.stage / n for n in names])

    # ---------------------------------------------------------------- manifest
    def manifest(self, case_runs: list[NotebookRun], article: NotebookRun, t_start: float) -> Path:
        opts, stage = self.opts, self.stage
        inputs: dict[str, str] = {}
        runs = [*case_runs, *([self.figure] if self.figure else []), article]
        for run in runs:
            inputs[_rel(run.source, self.root)] = self.hasher.sha256(run.source)
        for found in [*self.case_inputs.values(), self.figure_inputs, self.article_inputs]:
            inputs.update(found)
        for case_file in index(opts.data_dir).files:
            inputs[_rel(case_file, self.root)] = self.hasher.sha256(case_file)
        outputs: dict[str, str] = {}
        placed = {
            "notebooks": opts.build_dir / "notebooks",
            "cases": opts.build_dir / "cases",
            "figures": opts.figures_dir,
        }
        for sub, final in placed.items():
            for f in files_under(stage / sub):
                outputs[_rel(final / f.relative_to(stage / sub), self.root)] = sha256_file(f)
        for name in ("article.html", "article.pdf", JATS_NAME):
            if (stage / name).is_file():
                outputs[_rel(opts.build_dir / name, self.root)] = sha256_file(stage / name)
        doc = {
            "casereport": casereport.__version__,
            "package_sha256": self.package,
            "versions": self.versions,
            "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH"),
            "parameters": {r.label: r.parameters for r in runs},
            "cases": {label: sorted(found) for label, found in sorted(self.case_inputs.items())},
            "inputs": [{"path": p, "sha256": s} for p, s in sorted(inputs.items())],
            "outputs": [{"path": p, "sha256": s} for p, s in sorted(outputs.items())],
            "steps": [
                {"step": s.step, "cached": s.cached, "seconds": round(s.seconds, 3), "key": s.key}
                for s in self.steps
            ],
            "total_seconds": round(time.perf_counter() - t_start, 3),
        }
        path = stage / "manifest.json"
        path.write_text(json.dumps(doc, sort_keys=True, indent=1) + "\n")
        return path

    # ---------------------------------------------------------------- all
    def pending_runs(self, case_runs: list[NotebookRun]) -> list[tuple[NotebookRun, str, Job]]:
        """(run, key, job) of every figure and case run to execute; cache hits are restored.

        The figure run comes first so that it overlaps the case runs in the pool.
        """
        planned = [(run, self.case_key(run), self.run_case, self.restore_case) for run in case_runs]
        if self.figure is not None:
            planned.insert(
                0, (self.figure, self.figure_key(self.figure), self.run_figure, self.restore_figure)
            )
        pending: list[tuple[NotebookRun, str, Job]] = []
        for run, key, job, restore in planned:
            entry = self.cache.lookup(key) if self.opts.use_cache else None
            if entry is None:
                pending.append((run, key, job))
            else:
                restore(run, key, entry)
        return pending

    def run(self) -> RenderResult:
        t_start = time.perf_counter()
        opts = self.opts
        case_runs, article = plan_runs(opts, self.stage)
        self.figure = figure = plan_figure(opts, self.stage)
        for run in [*case_runs, *([figure] if figure else []), article]:
            validate_parameters(run.source, run.parameters, self.cache.declared(run.source))
        self.package = package_digest(self.root, self.hasher)
        self.versions = dependency_versions()
        self.controls = control_folders(opts.data_dir)
        self.note(StepRecord("plan", False, time.perf_counter() - t_start))

        pending = self.pending_runs(case_runs)
        if any(run is not figure for run, _, _ in pending):
            from casereport.render.preflight import check_case_parameters

            for run, _, _ in pending:
                if run is not figure:
                    check_case_parameters(run.source, run.parameters, run.cwd)

        failed: list[RenderError] = []
        cases_done = threading.Event()
        article_thread = threading.Thread(
            target=self.run_article,
            args=(article, cases_done, failed, bool(pending)),
            name="article",
            daemon=True,
        )
        article_thread.start()
        if pending:
            jobs = max(1, opts.jobs or os.cpu_count() or 1)
            with ThreadPoolExecutor(
                max_workers=min(jobs, len(pending)), thread_name_prefix="run"
            ) as pool:
                futures = [pool.submit(job, run, key) for run, key, job in pending]
                for fut in futures:
                    exc = fut.exception()
                    if isinstance(exc, RenderError):
                        failed.append(exc)
                    elif exc is not None:
                        raise exc
        cases_done.set()
        article_thread.join()
        if self.os_error is not None:
            raise self.os_error
        self.hasher.save()
        if failed:
            failed.sort(key=lambda e: str(e.case))
            raise failed[0] if len(failed) == 1 else RenderFailures(failed)

        self.export(article)
        manifest = self.manifest(case_runs, article, t_start)
        publish(self.stage, opts.build_dir, opts.figures_dir, keep_in_figures=KEEP_IN_FIGURES)
        pdf = None if opts.html_only else opts.build_dir / "article.pdf"
        notebooks = tuple(sorted((opts.build_dir / "notebooks").glob("*.ipynb")))
        return RenderResult(
            html=opts.build_dir / "article.html",
            pdf=pdf,
            notebooks=notebooks,
            manifest=opts.build_dir / manifest.name,
            steps=tuple(self.steps),
            jats=None if opts.html_only else opts.build_dir / JATS_NAME,
        )


def render(opts: RenderOptions) -> RenderResult:
    """Execute (or reuse) every notebook, export HTML and PDF, publish atomically.

    Raises:
        ParameterError: a parameter is unknown or of the wrong type (nothing executed).
        RenderError: a notebook failed (``RenderFailures`` when several did); the
            previous outputs are untouched.
    """
    lighten_imports()
    opts.build_dir.mkdir(parents=True, exist_ok=True)
    with BuildLock(opts.build_dir), figures_lock(opts.figures_dir):
        stage = fresh_stage(opts.build_dir)
        try:
            return _Render(opts, stage).run()
        finally:
            shutil.rmtree(stage, ignore_errors=True)
            (opts.build_dir / ".kernel-pids").unlink(missing_ok=True)

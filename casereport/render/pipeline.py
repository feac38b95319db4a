"""Render the article: case and figure notebooks -> article -> HTML -> PDF, cached and atomic.

1. Plan every run and validate every parameter (:mod:`casereport.render.plan`; nothing
   executes before all are valid).
2. The figure run (``figure.ipynb``, when the project has one: Figure 1 from ``data/``
   alone) and the case runs: each is one :class:`~casereport.render.steps.Step`, reused from
   the cache when its key and recorded inputs are unchanged, else executed; misses run in
   parallel in one pool (one kernel each, ``jobs`` at a time, the figure first). A failing
   run stops only itself; the others finish and are cached.
3. The article step (its kernel starts while the cases run), then the HTML and PDF
   export, each cached by the content they depend on.
4. ``manifest.json``, then publication (see :mod:`casereport.render.publish`).

Everything is written into ``build/.staging-render/`` first, so a failed or killed render
never damages the previous ``build/article.*`` or ``figures/``. Details: docs/RENDER.md.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from casereport.errors import RenderError, RenderFailures
from casereport.render.execute import lighten_imports
from casereport.render.jats import JATS_NAME
from casereport.render.manifest import write_manifest
from casereport.render.plan import RenderOptions, plan_render
from casereport.render.publish import BuildLock, figures_lock, fresh_stage, publish
from casereport.render.steps import Step, StepRecord, Steps

#: imported in the article kernel while it waits for the cases (a head start, same results)
ARTICLE_PRELOAD = ("numpy", "matplotlib.pyplot")  # not casereport.io: see Steps.inputs
#: files in ``figures/`` that are not produced by the render and survive a publish
KEEP_IN_FIGURES = ("README.md", ".gitkeep", ".gitignore")

__all__ = ["RenderOptions", "RenderResult", "StepRecord", "render"]


@dataclass(frozen=True)
class RenderResult:
    """Paths of the published outputs and the steps taken.

    ``figures`` is where Figure 1 was published: ``figures/``, or ``build/figures/`` when
    display overrides (``display``: per case, as parameters) were given.
    """

    html: Path
    pdf: Path | None
    notebooks: tuple[Path, ...]
    figures: Path
    manifest: Path | None = None
    steps: tuple[StepRecord, ...] = ()
    jats: Path | None = None
    display: dict[str, dict[str, Any]] = field(default_factory=dict)


def _execute_all(steps: Steps, pending: list[Step], jobs: int | None) -> list[RenderError]:
    """Execute ``pending`` steps in parallel (``jobs`` at a time); the failures.

    On Ctrl-C (or any exception of the waiting thread) every kernel and the zygote are
    killed first, so that the runs end at once instead of being waited for.
    """
    failed: list[RenderError] = []
    if not pending:
        return failed
    cpus = max(1, jobs or os.cpu_count() or 1)
    workers = min(cpus, len(pending))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="run") as pool:
        try:
            futures = [pool.submit(steps.execute, s) for s in pending]
            # a core is free once fewer runs than cores are left (none waits to start)
            while len(unfinished := [f for f in futures if not f.done()]) >= cpus:
                wait(unfinished, return_when=FIRST_COMPLETED)
            steps.prepare_export()  # on that core, while the last runs and the article run
            for fut in futures:
                exc = fut.exception()
                if isinstance(exc, RenderError):
                    failed.append(exc)
                elif exc is not None:
                    raise exc
        except BaseException:
            steps.abort()
            raise
    return failed


def _run(opts: RenderOptions, stage: Path) -> RenderResult:
    t_start = time.perf_counter()
    steps = Steps(opts, stage)
    try:
        return _run_steps(opts, stage, steps, t_start)
    finally:
        steps.close()


def _run_steps(opts: RenderOptions, stage: Path, steps: Steps, t_start: float) -> RenderResult:
    plan = plan_render(opts, stage, steps.cache.declared)
    steps.note(StepRecord("plan", False, time.perf_counter() - t_start))

    # the figure first, so that it overlaps the case runs in the pool
    planned = [steps.figure_step(plan.figure)] if plan.figure else []
    planned += [steps.case_step(run, plan) for run in plan.case_runs]
    pending = [s for s in planned if not steps.reuse(s)]
    if pending:
        steps.start_forks()  # its imports overlap the article thread's start

    failed: list[RenderError] = []
    cases_done = threading.Event()
    article_thread = threading.Thread(
        target=steps.run_article,
        args=(plan, cases_done, failed, ARTICLE_PRELOAD if pending else ()),
        name="article",
        daemon=True,
    )
    article_thread.start()
    aborted = False
    try:
        failed += _execute_all(steps, pending, opts.jobs)
    except BaseException:
        aborted = True
        steps.abort()
        raise
    finally:
        cases_done.set()
        try:
            # interrupted: its kernel is killed, so it ends at once; a daemon, never waited for
            article_thread.join(timeout=10.0 if aborted else None)
        except BaseException:
            steps.abort()  # interrupted while the article runs
            raise
        steps.close()  # every kernel is done: the zygote's memory is free for the export
    if steps.os_error is not None:
        raise steps.os_error
    steps.hasher.save()
    if failed:
        failed.sort(key=lambda e: str(e.case))
        raise failed[0] if len(failed) == 1 else RenderFailures(failed)

    steps.export(plan.article)
    manifest = write_manifest(steps, plan, t_start)
    publish(stage, opts.build_dir, plan.figures_dir, keep_in_figures=KEEP_IN_FIGURES)
    return RenderResult(
        html=opts.build_dir / "article.html",
        pdf=None if opts.html_only else opts.build_dir / "article.pdf",
        notebooks=tuple(sorted((opts.build_dir / "notebooks").glob("*.ipynb"))),
        figures=plan.figures_dir,
        manifest=opts.build_dir / manifest.name,
        steps=tuple(steps.records),
        jats=None if opts.html_only else opts.build_dir / JATS_NAME,
        display=plan.display,
    )


def render(opts: RenderOptions) -> RenderResult:
    """Execute (or reuse) every notebook, export HTML and PDF, publish atomically.

    Raises:
        ParameterError: a parameter is unknown, of the wrong type or an invalid value
            (nothing executed).
        RenderError: a notebook failed (``RenderFailures`` when several did); the
            previous outputs are untouched.
    """
    lighten_imports()
    opts.build_dir.mkdir(parents=True, exist_ok=True)
    with BuildLock(opts.build_dir), figures_lock(opts.figures_dir):
        stage = fresh_stage(opts.build_dir)
        try:
            return _run(opts, stage)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
            (opts.build_dir / ".kernel-pids").unlink(missing_ok=True)

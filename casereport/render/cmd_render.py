"""Execute the case and article notebooks and render build/article.html and .pdf."""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from casereport.render.params import parse_assignment

if TYPE_CHECKING:
    from casereport.render.plan import RenderOptions


def add_root_argument(p: argparse.ArgumentParser) -> None:
    """``--root``: the project folder (default: the working directory)."""
    p.add_argument("--root", type=Path, default=Path.cwd(), help="project root (default: cwd)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``casereport render`` (``render.py`` alone means ``render``)."""
    add_root_argument(p)
    p.add_argument("--data", type=Path, help="data folder (default: ROOT/data)")
    p.add_argument("--notebooks", type=Path, help="notebook folder (default: ROOT/notebooks)")
    p.add_argument("--build", type=Path, help="build folder (default: ROOT/build)")
    p.add_argument(
        "--figures",
        type=Path,
        help="figures folder (default: ROOT/figures; BUILD/figures with a --build elsewhere)",
    )
    p.add_argument(
        "--case",
        action="append",
        dest="cases",
        metavar="ID",
        help="render only this case (repeatable); the article then shows only these",
    )
    p.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="[CASE:]NAME=VALUE",
        help="set a notebook parameter (value read as YAML); CASE: limits it to one case. "
        "nm_window, ct_window and crop_mm change the case's panels and Figure 1 (written "
        "to build/figures, never over figures/)",
    )
    p.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="case and figure notebooks executed at once (default: number of CPUs)",
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="execute every notebook even if a cached run matches (the cache is refreshed)",
    )
    talk = p.add_mutually_exclusive_group()
    talk.add_argument(
        "-q", "--quiet", action="store_true", help="no progress display (errors still print)"
    )
    talk.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also report when each step starts and how long each took",
    )
    p.add_argument("--with-code", action="store_true", help="keep code cells in the HTML")
    p.add_argument("--html-only", action="store_true", help="skip the PDF")
    p.add_argument(
        "--allow-phi",
        action="store_true",
        help="render input that fails the de-identification gate, as a local draft "
        "with a visible warning (never for bundle)",
    )
    p.add_argument(
        "--watch",
        action="store_true",
        help="keep running: serve build/ with live reload and re-render on every change "
        "(same as render.py watch)",
    )
    p.add_argument(
        "--port", type=int, default=0, help="with --watch: port on 127.0.0.1 (default: a free one)"
    )


def _overrides(assignments: list[str]) -> dict[str | None, dict[str, Any]]:
    out: dict[str | None, dict[str, Any]] = defaultdict(dict)
    for text in assignments:
        case, name, value = parse_assignment(text)
        out[case][name] = value
    return dict(out)


def options(args: argparse.Namespace) -> RenderOptions:
    """Render options from the command line (runs the de-identification gate)."""
    from casereport.deid.gate import render_gate
    from casereport.errors import ParameterError
    from casereport.render.plan import RenderOptions
    from casereport.render.preflight import check_case_ids, check_study_data

    if args.jobs is not None and args.jobs < 1:
        raise ParameterError("<command line>", "--jobs", f"must be at least 1, got {args.jobs}")
    data_dir = (args.data or args.root / "data").resolve()
    cases = tuple(args.cases) if args.cases is not None else None
    check_case_ids(data_dir, cases)
    build = args.build or args.root / "build"
    banner = render_gate(
        args.data or args.root / "data",
        allow_phi=args.allow_phi,
        cache_file=build / ".deid-gate.json",
    )
    # one line, before any notebook starts
    check_study_data(data_dir, cases, cache_file=build / ".study-check.json")
    return RenderOptions.for_root(
        args.root,
        data_dir=args.data,
        notebooks_dir=args.notebooks,
        build_dir=args.build,
        figures_dir=args.figures,
        cases=cases,
        overrides=_overrides(args.param),
        with_code=args.with_code,
        html_only=args.html_only,
        jobs=args.jobs,
        use_cache=not args.no_cache,
        progress=not args.quiet,
        verbose=args.verbose,
        banner=banner,
    )


def _prestart_zygote(args: argparse.Namespace) -> bool:
    """Start the kernels' zygote at once when every notebook will execute (``--no-cache``,
    or no cached run at all, as after ``clean``), so that its imports overlap the gate and
    the checks before the first kernel; True when one was started."""
    build = args.build or args.root / "build"
    if not args.no_cache and (build / "cache" / "runs").is_dir():
        return False  # a render that may reuse everything starts no kernel machinery early
    from casereport.render.execute import kernel_env
    from casereport.render.zygote import fork_enabled, prestart

    if not fork_enabled():
        return False
    prestart(args.root, kernel_env(build / "cache" / "derived"))
    return True


def run(args: argparse.Namespace) -> int:
    """Render; print the published paths (and, unless quiet, what was reused)."""
    if args.watch:
        from casereport.render.cmd_watch import run as run_watch

        return run_watch(args)
    from casereport.render.pipeline import render

    early = _prestart_zygote(args)
    try:
        result = render(options(args))
    finally:
        if early:
            from casereport.render.zygote import discard

            discard()
    if not args.quiet:
        reused = sum(s.cached for s in result.steps)
        print(f"wrote {result.html}")
        if result.pdf:
            print(f"wrote {result.pdf}")
        if result.jats:
            print(f"wrote {result.jats}")
        print(f"wrote {result.manifest} ({reused} step(s) reused from the cache)")
        if result.display:
            print(f"wrote Figure 1 with display overrides to {result.figures}")
    return 0

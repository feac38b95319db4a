"""Render the article: case notebooks -> article notebook -> HTML -> PDF, atomically.

Everything is written into a staging directory inside the build directory and moved into
place only when every step succeeded, so a failed or killed render never damages the
previous ``build/article.*`` or ``figures/``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from casereport.errors import CaseReportError, ParameterError, RenderError
from casereport.render.execute import NotebookRun, execute
from casereport.render.export import html_to_pdf, notebook_to_html


@dataclass(frozen=True)
class RenderOptions:
    """What to render and where.

    Attributes:
        root: project root; kernels run here and relative paths resolve against it.
        data_dir: folder of subject folders, each with a ``case.yaml``.
        notebooks_dir: holds ``case.ipynb`` and ``article.ipynb``.
        build_dir: receives ``article.html``, ``article.pdf``, executed notebooks.
        figures_dir: receives the published figure files.
        cases: case ids to render (``None``: every case in ``data_dir``).
        overrides: parameter values per case id (key ``None``: every notebook).
        with_code: keep code cells in the HTML.
        html_only: skip the PDF.
        banner: visible warning printed at the top of the article (e.g. for --allow-phi).
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
        rest = {k: v for k, v in kwargs.items() if k not in defaults}
        return cls(root=root, **defaults, **rest)


@dataclass(frozen=True)
class RenderResult:
    """Paths of the published outputs."""

    html: Path
    pdf: Path | None
    notebooks: tuple[Path, ...]


def discover_cases(data_dir: Path) -> tuple[str, ...]:
    """Case ids: subject folders with a ``case.yaml`` whose role is not ``control``."""
    found = []
    for case_file in sorted(data_dir.glob("*/case.yaml")):
        try:
            spec = yaml.safe_load(case_file.read_text()) or {}
        except yaml.YAMLError as exc:
            raise RenderError(case_file, f"case file is not valid YAML: {exc}".splitlines()[0]) from None
        if isinstance(spec, dict) and spec.get("role", "case") != "control":
            found.append(case_file.parent.name)
    if not found:
        raise RenderError(data_dir, "no case folders with a case.yaml")
    return tuple(found)


def _rel(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when inside it (keeps outputs machine-independent)."""
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path.resolve())


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


def plan_runs(opts: RenderOptions, stage: Path) -> tuple[list[NotebookRun], NotebookRun]:
    """The case runs and the article run, writing into ``stage``."""
    cases = opts.cases or discover_cases(opts.data_dir)
    unknown = [c for c in cases if not (opts.data_dir / c / "case.yaml").is_file()]
    if unknown:
        raise RenderError(opts.data_dir, f"no case.yaml for case(s) {', '.join(unknown)}")
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


def _publish(stage: Path, opts: RenderOptions) -> None:
    """Move staged outputs into place, file by file with ``os.replace`` (atomic per file)."""
    staged_figures = stage / "figures"
    if staged_figures.is_dir():
        for src in sorted(p for p in staged_figures.rglob("*") if p.is_file()):
            dst = opts.figures_dir / src.relative_to(staged_figures)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
    for sub in ("notebooks", "cases"):
        src_dir = stage / sub
        if src_dir.is_dir():
            dst_dir = opts.build_dir / sub
            old = opts.build_dir / f".old-{sub}-{os.getpid()}"
            if dst_dir.exists():
                os.replace(dst_dir, old)
            os.replace(src_dir, dst_dir)
            shutil.rmtree(old, ignore_errors=True)
    for name in ("article.pdf", "article.html"):
        if (stage / name).exists():
            os.replace(stage / name, opts.build_dir / name)


def render(opts: RenderOptions) -> RenderResult:
    """Execute every notebook, export HTML and PDF, then publish the outputs atomically."""
    opts.build_dir.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".staging-", dir=opts.build_dir))
    try:
        case_runs, article_run = plan_runs(opts, stage)
        for run in case_runs:
            execute(run)
        execute(article_run)
        notebook_to_html(
            article_run.output, stage / "article.html", with_code=opts.with_code, banner=opts.banner
        )
        if not opts.html_only:
            html_to_pdf(stage / "article.html", stage / "article.pdf")
        _publish(stage, opts)
    except CaseReportError:
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    pdf = None if opts.html_only else opts.build_dir / "article.pdf"
    notebooks = tuple(sorted((opts.build_dir / "notebooks").glob("*.ipynb")))
    return RenderResult(html=opts.build_dir / "article.html", pdf=pdf, notebooks=notebooks)

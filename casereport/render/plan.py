"""Plan a render: which notebooks run, with which parameters, and where Figure 1 goes.

Everything here happens before any kernel starts. Command-line overrides
(``-p [CASE:]NAME=VALUE``) are resolved against the notebooks' declared parameters and the
case index:

* ``CASE:NAME`` goes to that case's run; ``NAME`` (unscoped) to every run whose notebook
  declares it, and is an error when no notebook does;
* values are type-checked against the notebook (:mod:`casereport.render.params`), then
  checked against the case model: the case and control exist, requested panels are
  declared, and display overrides (``nm_window``, ``ct_window``, ``crop_mm``) are valid
  windows and crops of that case (:class:`~casereport.case.DisplayOverrides`);
* display overrides reach the case's panels (its case run) **and** Figure 1 (the figure
  run's ``overrides`` parameter); the article is told which were used. A Figure 1 drawn
  with overrides is published into ``build/figures/``, never over the committed
  ``figures/``.

Every failure is a :class:`~casereport.errors.ParameterError` naming the notebook (or the
command line), the case, the parameter and the value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from casereport.case import DISPLAY_PARAMETERS, CaseIndex, DisplayOverrides, index
from casereport.errors import ParameterError, RenderError
from casereport.fileio import relpath
from casereport.render.execute import Kernel, NotebookRun
from casereport.render.params import validate_parameters
from casereport.render.preflight import check_case_parameters

#: parameters the render sets itself; use --data/--build/--figures/--case instead
MANAGED_PARAMETERS = frozenset(
    {"case_id", "data_dir", "output_dir", "results_dir", "figures_dir", "overrides", "panel_cache"}
)
#: parameter of ``figure.ipynb`` naming its panel cache (``build/cache/panels``)
PANEL_CACHE = "panel_cache"
#: what the last figure run drew (``casereport.figure.panel_cache.LAST_RUN``; not imported
#: from there: that would import matplotlib into the render)
PANEL_CACHE_LAST_RUN = "last-run.json"
#: label of the figure run (in steps, progress, errors and the manifest)
FIGURE_LABEL = "figure"
COMMAND_LINE = "<command line>"

#: name -> declared parameters of a notebook (``RunCache.declared`` remembers them)
Declared = Callable[[Path], dict[str, dict[str, Any]]]


def panel_cache_dir(opts: RenderOptions) -> Path:
    """Where the figure run keeps its panels between renders."""
    return opts.build_dir / "cache" / "panels"


@dataclass(frozen=True)
class RenderOptions:
    """What to render and where.

    Attributes:
        root: project root; kernels run here and relative paths resolve against it.
        data_dir: folder of subject folders, each with a ``case.yaml``.
        notebooks_dir: holds ``case.ipynb``, ``article.ipynb`` and optionally
            ``figure.ipynb`` (run once, beside the cases, into ``figures/``).
        build_dir: receives ``article.html``, ``article.pdf``, executed notebooks.
        figures_dir: receives the published figure files (unless display overrides are
            given: then ``build_dir/figures``).
        cases: case ids to render (``None``: every case in ``data_dir``).
        overrides: parameter values per case id (key ``None``: every notebook declaring it).
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
    def for_root(
        cls,
        root: Path,
        *,
        data_dir: Path | None = None,
        notebooks_dir: Path | None = None,
        build_dir: Path | None = None,
        figures_dir: Path | None = None,
        **kwargs: Any,
    ) -> RenderOptions:
        """Options for project ``root``; folders default to ``root/data`` and so on."""
        root = root.resolve()

        def folder(given: Path | None, name: str) -> Path:
            return Path(given).resolve() if given else root / name

        build = folder(build_dir, "build")
        # a build elsewhere never touches the committed figures/
        figures = (
            folder(figures_dir, "figures")
            if figures_dir or build == root / "build"
            else (build / "figures")
        )
        return cls(
            root=root,
            data_dir=folder(data_dir, "data"),
            notebooks_dir=folder(notebooks_dir, "notebooks"),
            build_dir=build,
            figures_dir=figures,
            **kwargs,
        )


@dataclass(frozen=True)
class Plan:
    """The validated runs of one render.

    Attributes:
        cases: index of every case file in the data folder.
        case_runs: one run of ``case.ipynb`` per rendered case.
        figure: the run of ``figure.ipynb`` (``None``: the project has none).
        article: the run of ``article.ipynb``.
        display: display overrides per case id, as parameter values (empty: none).
        figures_dir: where the staged figures are published.
    """

    cases: CaseIndex
    case_runs: tuple[NotebookRun, ...]
    figure: NotebookRun | None
    article: NotebookRun
    display: dict[str, dict[str, Any]]
    figures_dir: Path

    @property
    def runs(self) -> tuple[NotebookRun, ...]:
        """Every run: cases, figure, article."""
        return (*self.case_runs, *((self.figure,) if self.figure else ()), self.article)

    @property
    def controls(self) -> tuple[Path, ...]:
        """Folders of the control subjects (watched by every case run's cache entry)."""
        return tuple(self.cases[c].folder for c in self.cases.controls)


def _check_scopes(opts: RenderOptions, cases: tuple[str, ...]) -> None:
    for scope, values in opts.overrides.items():
        for name, value in values.items():
            if name in MANAGED_PARAMETERS:
                where = f"{scope}:{name}" if scope else name
                raise ParameterError(
                    COMMAND_LINE,
                    where,
                    "set by render.py; use --data/--build/--figures/--case instead",
                    case=scope,
                    value=value,
                )
        if scope is not None and scope not in cases:
            name, value = next(iter(values.items()), ("", None))
            raise ParameterError(
                COMMAND_LINE,
                name,
                f"no such case in this render (cases: {', '.join(cases)})",
                case=scope,
                value=value,
            )


def _unscoped(
    opts: RenderOptions, declared: Mapping[Path, dict[str, dict[str, Any]]]
) -> dict[Path, dict[str, Any]]:
    """Unscoped overrides per notebook that declares them; unknown names are errors."""
    out: dict[Path, dict[str, Any]] = {nb: {} for nb in declared}
    for name, value in opts.overrides.get(None, {}).items():
        takers = [nb for nb, params in declared.items() if name in params]
        if not takers:
            known = sorted({p for params in declared.values() for p in params})
            raise ParameterError(
                COMMAND_LINE,
                name,
                f"no notebook declares it (parameters: {', '.join(known)})",
                value=value,
            )
        for nb in takers:
            out[nb][name] = value
    return out


def plan_render(opts: RenderOptions, stage: Path, declared: Declared) -> Plan:
    """Plan and validate every run of a render writing into ``stage`` (nothing executes).

    Raises:
        ParameterError: a parameter is unknown, of the wrong type or an invalid value.
        CaseFileError: a case file is invalid.
        RenderError: no case to render, or an unknown ``--case``.
    """
    cases = index(opts.data_dir)
    wanted = opts.cases or cases.cases
    if not wanted:
        raise RenderError(opts.data_dir, "no case folders with a case.yaml")
    unknown = [c for c in wanted if c not in cases]
    if unknown:
        raise RenderError(opts.data_dir, f"no case.yaml for case(s) {', '.join(unknown)}")
    _check_scopes(opts, tuple(wanted))
    case_nb = opts.notebooks_dir / "case.ipynb"
    figure_nb = opts.notebooks_dir / "figure.ipynb"
    article_nb = opts.notebooks_dir / "article.ipynb"
    notebooks = [case_nb, *([figure_nb] if figure_nb.is_file() else []), article_nb]
    decl = {nb: declared(nb) for nb in notebooks}
    unscoped = _unscoped(opts, decl)
    data = relpath(opts.data_dir, opts.root)
    figures = relpath(stage / "figures", opts.root)

    case_runs = []
    display: dict[str, dict[str, Any]] = {}
    for case in wanted:
        values = {**unscoped[case_nb], **opts.overrides.get(case, {})}
        params = {
            "case_id": case,
            "data_dir": data,
            "output_dir": relpath(stage / "cases" / case, opts.root),
            **values,
        }
        validate_parameters(case_nb, params, decl[case_nb], case=case)
        check_case_parameters(case_nb, params, opts.root, declared=decl[case_nb], cases=cases)
        shown = {k: v for k, v in values.items() if k in DISPLAY_PARAMETERS}
        parsed = DisplayOverrides.parse(cases[case], shown, source=COMMAND_LINE)
        if parsed:
            display[case] = parsed.as_parameters()
        case_runs.append(
            NotebookRun(
                label=case,
                source=case_nb,
                output=stage / "notebooks" / f"case_{case}.ipynb",
                parameters=params,
                cwd=opts.root,
            )
        )

    figure = None
    if figure_nb.is_file():
        params = {"data_dir": data, "figures_dir": figures, **unscoped[figure_nb]}
        if PANEL_CACHE in decl[figure_nb]:  # reused panels (casereport.figure.panel_cache)
            params[PANEL_CACHE] = relpath(panel_cache_dir(opts), opts.root)
        if display:
            if "overrides" not in decl[figure_nb]:
                raise ParameterError(
                    figure_nb, "overrides", "display overrides given, but not declared here"
                )
            params["overrides"] = display
        validate_parameters(figure_nb, params, decl[figure_nb])
        figure = NotebookRun(
            label=FIGURE_LABEL,
            source=figure_nb,
            output=stage / "notebooks" / "figure.ipynb",
            parameters=params,
            cwd=opts.root,
        )

    params = {
        "data_dir": data,
        "results_dir": relpath(stage / "cases", opts.root),
        "figures_dir": figures,
        **unscoped[article_nb],
    }
    if display and "overrides" in decl[article_nb]:
        params["overrides"] = display
    validate_parameters(article_nb, params, decl[article_nb])
    article = NotebookRun(
        label="article",
        source=article_nb,
        output=stage / "notebooks" / "article.ipynb",
        parameters=params,
        cwd=opts.root,
    )
    return Plan(
        cases=cases,
        case_runs=tuple(case_runs),
        figure=figure,
        article=article,
        display=display,
        figures_dir=opts.build_dir / "figures" if display else opts.figures_dir,
    )

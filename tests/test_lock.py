"""The locked environment: pyproject.toml, requirements/*.txt and environment.yml agree, and
the ``.venv`` that ``make`` built holds exactly the locked versions.

Each check is a function returning its problems, run once on the project's files and once
on a copy with one small defect, which it must report.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
REQ = ROOT / "requirements"
#: lock file of each set -> the pyproject extra it adds to the runtime (None: runtime only)
SETS: dict[str, str | None] = {"article": None, "test": "test", "bench": "bench", "lab": "lab"}
#: stamp file ``make`` leaves in the venv after installing each set
STAMPS = {
    "article": ".installed",
    "test": ".installed-test",
    "bench": ".installed-bench",
    "lab": ".installed-lab",
}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)(?:\s+\\)?$")


def _pin_environment():  # the script make lock runs (not a package module)
    spec = importlib.util.spec_from_file_location("pin_environment", REQ / "pin_environment.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


normalize = _pin_environment().normalize


def parse_lock(text: str) -> tuple[dict[str, str], set[str]]:
    """``({name: version}, names without a hash)`` of a pip requirements lock file."""
    pins: dict[str, str] = {}
    unhashed: set[str] = set()
    current = None
    for line in text.splitlines():
        s = line.strip()
        m = _PIN.match(s)
        if m:
            current = normalize(m.group(1))
            pins[current] = m.group(2)
            unhashed.add(current)
        elif s.startswith("--hash=sha256:") and current:
            unhashed.discard(current)
    return pins, unhashed


def pyproject_sets(project: dict) -> dict[str, list[Requirement]]:
    """Direct requirements of each lock set according to ``pyproject.toml``."""
    runtime = [Requirement(r) for r in project["dependencies"]]
    extras = project["optional-dependencies"]
    return {
        name: runtime + ([Requirement(r) for r in extras[extra]] if extra else [])
        for name, extra in SETS.items()
    }


def lock_problems(project: dict, locks: dict[str, str], constraints: str) -> list[str]:
    """Disagreements between pyproject's requirements and the lock files."""
    problems = []
    union, _ = parse_lock(constraints)
    for name, reqs in pyproject_sets(project).items():
        pins, unhashed = parse_lock(locks[name])
        if unhashed:
            problems.append(f"{name}.txt: no hash for {sorted(unhashed)}")
        for req in reqs:
            got = pins.get(normalize(req.name))
            if got is None:
                problems.append(f"{name}.txt: {req.name} is not locked")
            elif not req.specifier.contains(got, prereleases=True):
                problems.append(f"{name}.txt: {req.name}=={got} outside {req.specifier}")
        for pkg, version in pins.items():
            if union.get(pkg) != version:
                problems.append(f"{name}.txt: {pkg}=={version} but constraints: {union.get(pkg)}")
    extra_names = set(project["optional-dependencies"]) - {e for e in SETS.values() if e}
    if extra_names:
        problems.append(f"extras without a lock file: {sorted(extra_names)}")
    return problems


def environment_problems(project: dict, env_text: str, constraints: str) -> list[str]:
    """Disagreements between environment.yml and pyproject (names) and the lock (versions)."""
    union, _ = parse_lock(constraints)
    wanted = {normalize(r.name) for reqs in pyproject_sets(project).values() for r in reqs}
    listed: dict[str, str | None] = {}
    env = yaml.safe_load(env_text)
    for dep in env["dependencies"]:
        entries = dep.get("pip", []) if isinstance(dep, dict) else [dep]
        for entry in entries:
            if entry.startswith("-") or re.match(r"(python|pip)\b(?!-)", entry):
                continue
            m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:==\s*(\S+))?", entry)
            assert m, entry
            listed[normalize(m.group(1))] = m.group(2)
    problems = []
    if set(listed) != wanted:
        problems.append(
            f"names: missing {sorted(wanted - set(listed))}, extra {sorted(set(listed) - wanted)}"
        )
    for name, version in sorted(listed.items()):
        if version != union.get(name):
            problems.append(f"{name}: environment.yml {version}, lock {union.get(name)}")
    return problems


def _read() -> tuple[dict, dict[str, str], str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    locks = {name: (REQ / f"{name}.txt").read_text() for name in SETS}
    return project, locks, (REQ / "constraints.txt").read_text()


def test_lock_files_match_pyproject() -> None:
    project, locks, constraints = _read()
    assert lock_problems(project, locks, constraints) == []


def test_lock_check_reports_a_requirement_the_lock_does_not_satisfy() -> None:
    project, locks, constraints = _read()
    project["dependencies"] = [*project["dependencies"], "numpy>=99"]
    project["optional-dependencies"]["test"].append("not-a-locked-package")
    problems = lock_problems(project, locks, constraints)
    assert any("numpy==" in p and ">=99" in p for p in problems), problems
    assert any("test.txt: not-a-locked-package is not locked" in p for p in problems), problems


def test_lock_check_reports_a_set_that_drifted_from_the_others() -> None:
    project, locks, constraints = _read()
    version = parse_lock(locks["test"])[0]["pytest"]
    locks["test"] = locks["test"].replace(f"pytest=={version}", "pytest==0.0.1")
    locks["lab"] = re.sub(r"(jupyterlab==\S+ \\\n)(\s+--hash=\S+( \\)?\n)+", r"\1", locks["lab"])
    problems = lock_problems(project, locks, constraints)
    assert any("test.txt: pytest==0.0.1 but constraints" in p for p in problems), problems
    assert any("lab.txt: no hash for ['jupyterlab']" in p for p in problems), problems


def test_environment_yml_lists_pyproject_at_the_locked_versions() -> None:
    project, _, constraints = _read()
    env_text = (ROOT / "environment.yml").read_text()
    assert environment_problems(project, env_text, constraints) == []
    assert "jupyterlab==" in env_text  # conda users get JupyterLab with the environment


def test_environment_check_reports_a_version_or_name_drift() -> None:
    project, _, constraints = _read()
    text = (ROOT / "environment.yml").read_text()
    version = parse_lock(constraints)[0]["scipy"]
    text = text.replace(f"scipy=={version}", "scipy==1.0.0").replace("  - tqdm==", "  - tqdmx==")
    problems = environment_problems(project, text, constraints)
    assert f"scipy: environment.yml 1.0.0, lock {version}" in problems, problems
    assert any("missing ['tqdm']" in p and "extra ['tqdmx']" in p for p in problems), problems


def test_pin_environment_rewrites_only_package_lines() -> None:
    pin = _pin_environment().pin
    text = (
        "name: x\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.11\n  - pip\n"
        "  - NumPy>=1  # arrays\n  - pip:\n      - py_yaml\n      - -e .\n"
    )
    out, missing = pin(text, {"numpy": "2.0.1", "py-yaml": "6.0"})
    assert missing == []
    assert "  - conda-forge\n" in out and "  - python=3.11\n  - pip\n" in out
    assert "  - NumPy==2.0.1  # arrays\n" in out and "      - py_yaml==6.0\n" in out
    assert "      - -e .\n" in out
    assert pin(text, {"numpy": "2.0.1"})[1] == ["py_yaml"]


def installed_sets(prefix: Path) -> list[str]:
    """The lock sets ``make`` installed into the venv at ``prefix`` (by its stamp files)."""
    return [name for name, stamp in STAMPS.items() if (prefix / stamp).is_file()]


def freeze_problems(freeze: str, expected: dict[str, str]) -> list[str]:
    """Differences between ``pip freeze --all --exclude-editable`` and the expected pins."""
    got = {}
    for line in freeze.splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            got[normalize(name)] = version.strip()
    problems = [
        f"{n} {v} installed, lock {expected.get(n)}"
        for n, v in sorted(got.items())
        if expected.get(n) != v
    ]
    problems += [
        f"{n}=={v} locked but not installed" for n, v in sorted(expected.items()) if n not in got
    ]
    return problems


def test_venv_holds_exactly_the_locked_versions() -> None:
    prefix = Path(sys.prefix)
    sets = installed_sets(prefix)
    if not sets:
        pytest.skip(f"{prefix} was not built by make (no .installed stamp)")
    expected: dict[str, str] = {}
    for name in sets:
        expected |= parse_lock((REQ / f"{name}.txt").read_text())[0]
    freeze = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--all", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert freeze_problems(freeze, expected) == [], f"sets {sets}; make distclean && make test"


def test_freeze_check_reports_an_extra_a_missing_and_a_moved_package() -> None:
    expected = {"numpy": "2.0.0", "pyyaml": "6.0", "tqdm": "4.0"}
    freeze = "numpy==2.0.1\nPyYAML==6.0\nhighdicom==0.22.0\n# Editable install\n"
    assert freeze_problems(freeze, expected) == [
        "highdicom 0.22.0 installed, lock None",
        "numpy 2.0.1 installed, lock 2.0.0",
        "tqdm==4.0 locked but not installed",
    ]


def test_makefile_installs_every_set_from_its_lock_with_hashes() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "--require-hashes" in makefile
    for name in SETS:
        assert re.search(rf"\$\(PIP_LOCKED\) requirements/{name}\.txt", makefile), name
    assert "install -q -e ." not in makefile  # the project itself only with --no-deps


def binder_problems(binder: Path, makefile: str, readme: str, repository: str) -> list[str]:
    """Disagreements of the repo2docker files with the lock, the kernel and the README."""
    problems = []
    lock_python = re.search(r"^LOCK_PYTHON\s*:=\s*(\S+)", makefile, re.M)
    runtime = (binder / "runtime.txt").read_text().strip()
    if not lock_python or runtime != f"python-{lock_python.group(1)}":
        problems.append(f"runtime.txt {runtime!r}, lock for {lock_python and lock_python[1]}")
    lines = [
        line.strip()
        for line in (binder / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    if lines != ["-r ../requirements/lab.txt"]:
        problems.append(f"requirements.txt should only include the lab lock, has {lines}")
    post = (binder / "postBuild").read_text()
    if "pip install --no-deps --no-build-isolation -e ." not in post:
        problems.append("postBuild does not install the project without dependencies")
    if "ensure_kernel()" not in post:
        problems.append("postBuild does not register the notebooks' kernel")
    if not (binder / "postBuild").stat().st_mode & 0o111:
        problems.append("postBuild is not executable")
    slug = repository.removeprefix("https://github.com/").strip("/")
    if f"https://mybinder.org/v2/gh/{slug}/HEAD" not in readme:
        problems.append(f"README has no Binder badge for {slug}")
    return problems


def test_binder_files_match_the_lock_kernel_and_repository() -> None:
    from casereport.render.kernel import KERNEL_NAME

    repository = yaml.safe_load((ROOT / "CITATION.cff").read_text())["repository-code"]
    makefile = (ROOT / "Makefile").read_text()
    readme = (ROOT / "README.md").read_text()
    assert binder_problems(ROOT / "binder", makefile, readme, repository) == []
    for name in ("article", "case", "figure"):  # the kernel postBuild registers is theirs
        nb = yaml.safe_load((ROOT / "notebooks" / f"{name}.ipynb").read_text())
        assert nb["metadata"]["kernelspec"]["name"] == KERNEL_NAME


def test_binder_check_reports_drift(tmp_path: Path) -> None:
    import shutil

    binder = shutil.copytree(ROOT / "binder", tmp_path / "binder")
    (binder / "runtime.txt").write_text("python-3.12\n")
    (binder / "requirements.txt").write_text("-r ../requirements/lab.txt\nnumpy\n")
    makefile = (ROOT / "Makefile").read_text()
    problems = binder_problems(binder, makefile, "no badge", "https://github.com/a/b")
    assert len(problems) == 3, problems
    assert "python-3.12" in problems[0] and "numpy" in problems[1] and "a/b" in problems[2]


def test_make_figures_does_what_the_figure_notebook_does() -> None:
    """``make figures`` re-draws figures/ with the two calls of notebooks/figure.ipynb."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^figures:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, "make figures has no recipe"
    notebook = yaml.safe_load((ROOT / "notebooks" / "figure.ipynb").read_text())
    code = "".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code")
    for call in ("write_figure1(", "write_provenance("):
        assert call in code and call in recipe.group(1), call
    assert "notebook='notebooks/figure.ipynb'" in recipe.group(1)

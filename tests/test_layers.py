"""The package's import structure: one-way imports, no cycles, CLI at the edge."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "casereport"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: Path) -> set[str]:
    """casereport modules imported when ``path`` is imported (not inside functions, not
    under ``if TYPE_CHECKING``), with the packages that importing them runs."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If):
                test = ast.unparse(node.test)
                if "TYPE_CHECKING" not in test:
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    name = ".".join(base + ([node.module] if node.module else []))
                else:
                    name = node.module or ""
                found.add(name)
                found.update(f"{name}.{a.name}" for a in node.names)

    visit(ast.parse(path.read_text()).body)
    modules = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    out: set[str] = set()
    for name in found:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            candidate = ".".join(parts[:i])
            # a module's own parent packages are already being imported: not an edge
            if candidate in modules and not (module + ".").startswith(candidate + "."):
                out.add(candidate)
    return out


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _top_level_imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := dfs(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := dfs(node)):
            return found
    return None


def test_no_import_cycles() -> None:
    assert _cycle(_graph()) is None, " -> ".join(_cycle(_graph()) or [])


def test_cycle_detection_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def _room(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


#: leaf modules every room may import: they import no other casereport module but each other
LEAVES = ("errors", "fileio", "record")

#: what each room may import at module level (besides the leaves): one-way layers
ALLOWED = {
    "io": set(),
    "case": {"io"},
    "display": {"io", "case"},
    "annotate": {"case"},
    "figure": {"io", "case", "display", "annotate", "analysis"},
    "analysis": {"io", "case"},
    "synth": set(),
    "deid": {"io"},
}


def test_one_way_imports_between_rooms() -> None:
    wrong = []
    for module, imports in _graph().items():
        room = _room(module)
        if room not in ALLOWED:
            continue
        for name in imports:
            other = _room(name)
            if other not in (room, *LEAVES, "") and other not in ALLOWED[room]:
                wrong.append(f"{module} imports {name}")
    assert not wrong, wrong


def test_leaves_import_only_leaves() -> None:
    graph = _graph()
    leaves = {f"casereport.{leaf}" for leaf in LEAVES}
    assert leaves <= set(graph), sorted(leaves - set(graph))
    wrong = {m: sorted(graph[m] - leaves) for m in leaves if graph[m] - leaves}
    assert not wrong, wrong


def test_argparse_and_importlib_only_at_the_edge() -> None:
    cli = {"casereport.__main__"}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        text = path.read_text()
        last = module.rsplit(".", 1)[-1]
        is_cli = module in cli or last in ("cli", "__main__") or last.startswith("cmd_")
        if "import argparse" in text:
            assert is_cli, f"{module} parses arguments but is not a CLI module"
        if "import_module(" in text:
            assert module in cli or module == "casereport.case", module


def test_tests_share_helpers_only_through_tests_support() -> None:
    tests = ROOT / "tests"
    pattern = re.compile(r"^\s*(from|import) tests\.test_", re.M)
    offenders = [p.name for p in sorted(tests.glob("test_*.py")) if pattern.search(p.read_text())]
    assert not offenders, offenders
    loose = sorted(
        p.name for p in tests.glob("*.py") if not p.name.startswith(("test_", "conftest", "__"))
    )
    assert not loose, f"helpers belong in tests/support/: {loose}"

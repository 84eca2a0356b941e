"""Imports point one way: down the layers of docs/architecture.md, with no circle between
packages and none between the modules of one package.

A short AST walk over ``src/nbmlops`` counts every import, at module level or inside a
function (a lazy import still runs up a layer), plus the ``_LAZY`` tables that packages use to
import on first attribute access. The layers are written down here and in
docs/architecture.md, nowhere else.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "nbmlops"

# Bottom to top. A module may import its own package, any package of a lower layer, and a
# package of its own layer as long as no circle closes between packages.
LAYERS: list[tuple[str, list[str]]] = [
    ("core", ["_version", "errors", "config", "_args", "_hashing", "display", "data"]),
    ("store", ["store"]),
    ("records", ["tracking", "predictions"]),
    ("capabilities", ["registry", "features", "pipelines", "interop"]),
    ("monitoring", ["monitoring"]),
    ("views", ["widgets", "server", "serving"]),
    ("faces", ["magics", "cli"]),
    ("entry points", ["nbmlops", "__main__"]),
]


def module_name(path: Path, root: Path) -> tuple[str, bool]:
    """``(dotted name, is_package)`` of a source file under ``root`` (the top package)."""
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def _resolve(name: str, modules: Mapping[str, bool]) -> str | None:
    """The deepest known module that ``name`` (a dotted path, perhaps ending in an
    attribute) names."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _absolute(module: str, is_package: bool, level: int, target: str | None) -> str:
    base = module.split(".")
    if not is_package:
        base.pop()
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def imports_of(
    source: str, module: str, is_package: bool, modules: Mapping[str, bool]
) -> list[tuple[str, int]]:
    """``(imported module, line)`` for every import in ``source``, wherever it sits."""
    top = module.split(".")[0]
    found: list[tuple[str, int]] = []

    def add(name: str, line: int) -> None:
        if name.split(".")[0] != top:
            return  # a third-party or standard-library module
        resolved = _resolve(name, modules)
        if resolved is not None and resolved != module:
            found.append((resolved, line))

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = (
                _absolute(module, is_package, node.level, node.module)
                if node.level
                else node.module or ""
            )
            for alias in node.names:
                # ``from pkg import sub`` imports the submodule; ``from pkg import name`` the package.
                add(
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base,
                    node.lineno,
                )
        elif (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in node.targets)
            and isinstance(node.value, ast.Dict)
        ):
            # name -> module tables read by a package's ``__getattr__`` (importlib.import_module)
            for value in node.value.values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    target = value.value
                    if target.startswith("."):
                        level = len(target) - len(target.lstrip("."))
                        target = _absolute(module, is_package, level, target.lstrip("."))
                    add(target, node.lineno)
    return found


def import_graph(root: Path) -> dict[str, list[tuple[str, int]]]:
    """Every module under the package ``root`` -> the package modules it imports."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    modules = {name: is_package for name, is_package in files}
    return {
        name: imports_of(path.read_text(encoding="utf-8"), name, is_package, modules)
        for (name, is_package), path in files.items()
    }


def _cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def problems(
    graph: Mapping[str, Sequence[tuple[str, int]]], layers: Sequence[tuple[str, list[str]]]
) -> list[str]:
    """Every upward import, unlayered package, circle between packages and circle between the
    modules of one package, as readable lines (empty when the layering holds)."""
    layer_of = {pkg: i for i, (_, pkgs) in enumerate(layers) for pkg in pkgs}
    names = [name for name, _ in layers]

    def package(module: str) -> str:
        parts = module.split(".")
        return parts[1] if len(parts) > 1 else parts[0]

    found: list[str] = []
    for pkg in sorted({package(m) for m in graph} - set(layer_of)):
        found.append(f"package {pkg!r} is in no layer: add it to LAYERS and docs/architecture.md")

    between: dict[str, set[str]] = {}
    within: dict[str, dict[str, set[str]]] = {}
    for module, targets in sorted(graph.items()):
        source = package(module)
        for target, line in targets:
            dest = package(target)
            if dest == source:
                within.setdefault(source, {}).setdefault(module, set()).add(target)
                continue
            between.setdefault(source, set()).add(dest)
            if source in layer_of and dest in layer_of and layer_of[dest] > layer_of[source]:
                found.append(
                    f"upward import: {module} (line {line}, {names[layer_of[source]]}) "
                    f"imports {target} ({names[layer_of[dest]]})"
                )
    for cycle in _cycles(between):
        found.append("circle between packages: " + " <-> ".join(cycle))
    for pkg in sorted(within):
        for cycle in _cycles(within[pkg]):
            found.append(f"circle inside {pkg}: " + " <-> ".join(cycle))
    return found


def test_imports_point_down_the_layers():
    assert problems(import_graph(SRC), LAYERS) == []


def test_layers_match_the_architecture_page():
    page = (SRC.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    for name, packages in LAYERS:
        row = next((line for line in page.splitlines() if line.startswith(f"| {name} |")), None)
        assert row is not None, f"docs/architecture.md has no row for the layer {name!r}"
        assert sorted(p.strip("`/ ") for p in row.split("|")[2].split(",")) == sorted(packages)


def _write(root: Path, files: Mapping[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


FAKE_LAYERS = [("core", ["errors"]), ("low", ["low"]), ("high", ["high"]), ("top", ["pkg"])]


def test_checker_reports_an_upward_import_and_circles(tmp_path):
    root = tmp_path / "pkg"
    _write(
        root,
        {
            "__init__.py": "",
            "errors.py": "class Error(Exception): ...\n",
            "low/__init__.py": "from .a import A\n",
            # upward, and lazily inside a function: still counted
            "low/a.py": "def f():\n    from pkg.high.view import View\n\nclass A: ...\n",
            # a circle between two modules of one package
            "high/__init__.py": "",
            "high/view.py": "from ..low import A\nfrom . import model\n\nclass View: ...\n",
            "high/model.py": "from .view import View\n",
        },
    )
    assert problems(import_graph(root), FAKE_LAYERS) == [
        "upward import: pkg.low.a (line 2, low) imports pkg.high.view (high)",
        "circle between packages: high <-> low",
        "circle inside high: pkg.high.model <-> pkg.high.view",
    ]


def test_checker_accepts_downward_imports_and_reads_lazy_tables(tmp_path):
    root = tmp_path / "pkg"
    files = {
        "__init__.py": '_LAZY = {"A": "pkg.low"}\n',
        "errors.py": "",
        "low/__init__.py": "from .a import A\nfrom .. import errors\n",
        "low/a.py": "from pkg.errors import Error\nclass A: ...\n",
        "high/__init__.py": "",
        "high/view.py": "def f():\n    from ..low.a import A\n",
    }
    _write(root, files)
    assert problems(import_graph(root), FAKE_LAYERS) == []
    # A lazy table pointing up is an upward import too.
    _write(root, {"low/__init__.py": '_LAZY = {"View": "..high.view"}\n'})
    # (high.view imports low lazily, so the upward table entry also closes a circle)
    assert problems(import_graph(root), FAKE_LAYERS) == [
        "upward import: pkg.low (line 1, low) imports pkg.high.view (high)",
        "circle between packages: high <-> low",
    ]


def test_checker_names_a_package_without_a_layer(tmp_path):
    root = tmp_path / "pkg"
    _write(root, {"__init__.py": "", "errors.py": "", "stray.py": "from . import errors\n"})
    assert problems(import_graph(root), FAKE_LAYERS) == [
        "package 'stray' is in no layer: add it to LAYERS and docs/architecture.md"
    ]


if __name__ == "__main__":  # python tests/test_layers.py: print what is wrong today
    print("\n".join(problems(import_graph(SRC), LAYERS)) or "layers hold")
    raise SystemExit(pytest.main([__file__, "-q", "-p", "no:cacheprovider"]))

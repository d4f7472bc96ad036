"""The package's shape: imports go one way (no cycles) and no module grows past a reviewable size.

Imports are read from the source (every ``import`` statement, also those inside functions, which
run later but still tie two modules together). The package's ``__init__`` is left out: it only
names the public API and loads modules lazily on first use.
"""

from __future__ import annotations

import ast
from pathlib import Path

import lstmcast

PACKAGE = Path(lstmcast.__file__).parent

# A module past this many lines holds more than one job (issue 15 split the three that did).
MAX_LINES = 650


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that module ``name`` (at ``path``) imports anywhere in its code."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from . import distributed` imports a module; `from .data import Panel` a name.
            targets = [f"{base}.{alias.name}" for alias in node.names]
            if node.module:
                targets.append(base)
        else:
            continue
        found.update(target for target in targets if target in known)
    found.discard(name)
    return found - {"lstmcast"}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_no_import_cycles() -> None:
    modules = _modules()
    known = set(modules)
    graph = {
        name: _imported(name, path, known) for name, path in modules.items() if name != "lstmcast"
    }
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_relative_imports_resolve(tmp_path: Path) -> None:
    known = {"lstmcast.data", "lstmcast.cli", "lstmcast.cli.options", "lstmcast.errors"}
    source = tmp_path / "train.py"
    source.write_text(
        "from ..errors import ConfigError\nfrom . import options\n"
        "def f():\n    from lstmcast.data import Panel\n"
    )
    assert _imported("lstmcast.cli.train", source, known) == {
        "lstmcast.errors",
        "lstmcast.cli.options",
        "lstmcast.data",
    }


def test_no_module_is_too_long() -> None:
    lengths = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}


def test_the_command_line_uses_only_public_names() -> None:
    """The CLI is a thin layer over the library: no private module, no private name."""
    found = []
    for name, path in _modules().items():
        if not name.startswith("lstmcast.cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lstmcast"):
                if node.module.startswith("lstmcast.cli"):
                    continue  # the CLI's own modules
                module_private = any(part.startswith("_") for part in node.module.split("."))
                names = [alias.name for alias in node.names if alias.name.startswith("_")]
                if module_private or (names and names != ["__version__"]):
                    found.append(f"{name}: from {node.module} import {names or '...'}")
    assert found == []

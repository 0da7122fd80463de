"""No import cycles in the package: between modules, and between its subpackages.

The graph is read from the source (``ast``), not by importing: every module under
workflow/src/think_in_safety, and its module-level imports (``import a.b``, ``from a import b``,
``from . import b``, also inside ``if``/``try`` blocks, not inside functions, which import when
they run). Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` too, so those are edges
as well, except to the importer's own packages (a submodule never re-runs its package).
Subpackage cycles count (``tis`` needs ``training_sets`` and ``training_sets`` needs ``tis``):
they are module cycles waiting for the next import to close them.
"""

from __future__ import annotations

import ast
from pathlib import Path

from ..conftest import REPO

SOURCE = REPO / "workflow" / "src"
PACKAGE = "think_in_safety"


def modules(root: Path = SOURCE) -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, is a package)."""
    found = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _module_level_imports(tree: ast.Module):
    """Import statements run when the module is imported (not those inside functions)."""
    pending = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)  # `if TYPE_CHECKING:` runs for type checkers only
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.ClassDef, ast.For, ast.While)):
            for field in ("body", "orelse", "finalbody"):
                pending.extend(getattr(node, field, []))
            for handler in getattr(node, "handlers", []):
                pending.extend(handler.body)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def import_graph(root: Path = SOURCE) -> dict[str, set[str]]:
    """Module -> the package's modules its import runs."""
    known = modules(root)
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, (path, is_package) in known.items():
        here = name.split(".") if is_package else name.split(".")[:-1]
        for node in _module_level_imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    base = ".".join(here[:len(here) - node.level + 1] + ([base] if base else []))
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                parts = target.split(".")
                for depth in range(1, len(parts) + 1):  # a.b.c runs a, a.b and a.b.c
                    imported = ".".join(parts[:depth])
                    own_package = name == imported or name.startswith(imported + ".")
                    if imported in known and not own_package:
                        graph[name].add(imported)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle through each strongly connected group of ``graph`` (Tarjan), as
    ``[a, b, ..., a]``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_shortest_cycle(graph, group) for group in groups]


def _shortest_cycle(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for other in sorted(graph[node] & group):
            if other == start:
                return paths[node] + [start]
            if other not in paths:
                paths[other] = paths[node] + [other]
                queue.append(other)
    raise AssertionError(f"no cycle in {sorted(group)}")


def subpackage_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The module graph folded onto the package's top-level modules and subpackages."""
    def unit(name: str) -> str:
        return ".".join(name.split(".")[:2])

    folded: dict[str, set[str]] = {unit(name): set() for name in graph}
    for name, targets in graph.items():
        folded[unit(name)] |= {unit(t) for t in targets if unit(t) != unit(name)}
    return folded


def _named(found: list[list[str]]) -> str:
    return "\n".join("  " + " -> ".join(cycle) for cycle in found)


def test_no_module_imports_itself_through_others():
    graph = import_graph()
    found = cycles(graph)
    assert not found, "import cycles between modules (break each where an arrow is not needed):\n" + _named(found)


def test_no_subpackage_needs_another_that_needs_it():
    graph = subpackage_graph(import_graph())
    found = cycles(graph)
    assert not found, "import cycles between subpackages of think_in_safety:\n" + _named(found)


def test_the_graph_sees_every_kind_of_import(tmp_path):
    package = tmp_path / PACKAGE
    (package / "a").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a" / "__init__.py").write_text("from . import one\n")
    (package / "a" / "one.py").write_text("from think_in_safety.a import two  # noqa\n")
    (package / "a" / "two.py").write_text(
        "try:\n    from .. import b\nexcept ImportError:\n    pass\n\ndef later():\n    import think_in_safety.c\n")
    (package / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import think_in_safety.c\n"
                                  "import think_in_safety.a.one\n")
    (package / "c.py").write_text("")
    graph = import_graph(tmp_path)
    assert graph["think_in_safety.a"] == {"think_in_safety.a.one"}
    assert graph["think_in_safety.a.one"] == {"think_in_safety.a.two"}  # not its own package
    assert graph["think_in_safety.a.two"] == {"think_in_safety.b"}  # a function's import runs later
    assert graph["think_in_safety.b"] == {"think_in_safety.a", "think_in_safety.a.one"}  # runs a/__init__
    assert cycles(graph) == [["think_in_safety.a", "think_in_safety.a.one", "think_in_safety.a.two",
                              "think_in_safety.b", "think_in_safety.a"]]
    assert cycles(subpackage_graph(graph)) == [["think_in_safety.a", "think_in_safety.b", "think_in_safety.a"]]

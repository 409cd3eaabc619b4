"""The import contract between the layers, read from the source (nothing is imported):

- app.models imports nothing from app outside app.models;
- app.services and app.jobs never import app.blueprints or app.web (no request, no HTML);
- app.services never imports app.jobs (services ask for jobs by dotted name, through
  app/services/enqueue.py; app.jobs imports services, never the other way round);
- the module-level imports among app.services, app.jobs and app.models form no cycle.

The first three rules hold for every import, at module level or inside a function; the
cycle rule reads module-level imports only (a function-local import runs later, once
every module is loaded, and must say why it is local).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
GRAPH_LAYERS = ("app.services", "app.jobs", "app.models")


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the module imported (a name imported from a package resolves to its module)
    line: int
    module_level: bool


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(APP.rglob("*.py"))}


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _absolute(source: str, is_package: bool, module: str | None, level: int) -> str:
    if not level:
        return module or ""
    base = source.split(".") if is_package else source.split(".")[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _import_time_nodes(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements that run when the module is imported: the module's own, and those
    in its if/try/with blocks and class bodies, but not in functions, and not under
    `if TYPE_CHECKING:` (never run)."""
    for node in body:
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from _import_time_nodes(node.orelse)
            continue
        for block in ("body", "orelse", "finalbody", "handlers"):
            children = getattr(node, block, None)
            if isinstance(children, list):
                yield from _import_time_nodes(
                    [c for c in children if isinstance(c, ast.stmt | ast.ExceptHandler)])


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(name: str, path: Path, known: set[str]) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    at_import_time = {id(node) for node in _import_time_nodes(tree.body)}
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(name, is_package, node.module, node.level)
            if base == "__future__":
                continue
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                targets.append(candidate if candidate in known else base)
        else:
            continue
        for target in targets:
            if _within(target, "app"):
                yield Import(name, target, node.lineno, id(node) in at_import_time)


def all_imports() -> list[Import]:
    modules = _modules()
    known = set(modules)
    found: list[Import] = []
    for name, path in modules.items():
        found.extend(_imports(name, path, known))
    return found


def _where(imp: Import) -> str:
    path = _modules()[imp.source].relative_to(ROOT)
    kind = "" if imp.module_level else " (inside a function)"
    return f"{path}:{imp.line} {imp.source} imports {imp.target}{kind}"


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def module_graph(imports: list[Import], layers: tuple[str, ...] = GRAPH_LAYERS
                 ) -> dict[str, set[str]]:
    """Module-level edges among the layers' modules. Importing a.b.c also runs the
    __init__ of a and a.b, so those are edges too, except a package the importer is
    itself inside (its __init__ began running before the importer did)."""
    def in_layers(name: str) -> bool:
        return any(_within(name, layer) for layer in layers)

    graph: dict[str, set[str]] = {}
    for imp in imports:
        if not imp.module_level or not in_layers(imp.source):
            continue
        graph.setdefault(imp.source, set())
        own = set(_ancestors(imp.source))
        for target in [imp.target, *_ancestors(imp.target)]:
            if in_layers(target) and target != imp.source and target not in own:
                graph[imp.source].add(target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a -> ... -> a) for each strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(graph, set(group)) for group in groups]


def _cycle_in(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """The shortest cycle inside a strongly connected group (breadth-first from each)."""
    best: list[str] | None = None
    for start in sorted(group):
        came_from: dict[str, str] = {}
        frontier = [start]
        while frontier and start not in came_from:
            following = []
            for node in frontier:
                for nxt in sorted(graph.get(node, ())):
                    if nxt in group and nxt not in came_from:
                        came_from[nxt] = node
                        following.append(nxt)
            frontier = following
        path = [start]
        while path[-1] != start or len(path) == 1:
            path.append(came_from[path[-1]])
        cycle = path[::-1]
        if best is None or len(cycle) < len(best):
            best = cycle
    assert best is not None
    return best


# --- The contract ------------------------------------------------------------------

def test_models_import_nothing_from_app_outside_models():
    bad = [_where(i) for i in all_imports()
           if _within(i.source, "app.models") and not _within(i.target, "app.models")]
    assert not bad, "app.models must stand alone:\n" + "\n".join(bad)


def test_services_and_jobs_never_import_blueprints_or_web():
    bad = [_where(i) for i in all_imports()
           if (_within(i.source, "app.services") or _within(i.source, "app.jobs"))
           and (_within(i.target, "app.blueprints") or _within(i.target, "app.web"))]
    assert not bad, "services and jobs know no views:\n" + "\n".join(bad)


def test_services_never_import_jobs():
    bad = [_where(i) for i in all_imports()
           if _within(i.source, "app.services") and _within(i.target, "app.jobs")]
    assert not bad, ("services ask for jobs by dotted name (app/services/enqueue.py), "
                     "never import app.jobs:\n" + "\n".join(bad))


def test_no_import_cycle_among_services_jobs_and_models():
    cycles = find_cycles(module_graph(all_imports()))
    assert not cycles, "module-level import cycles:\n" + "\n".join(
        " -> ".join(cycle) for cycle in cycles)


# --- The checker itself --------------------------------------------------------------

def test_the_checker_sees_every_kind_of_import():
    imports = all_imports()
    pairs = {(i.source, i.target, i.module_level) for i in imports}
    # `from app.services import audit` is the module app.services.audit.
    assert ("app.services.users", "app.services.audit", True) in pairs
    # Names imported from a module resolve to that module.
    assert ("app.jobs.sweep", "app.services.sweep", True) in pairs
    assert ("app.services.users", "app.services.enqueue", True) in pairs
    # Function-local imports are found too (app/__init__.py imports blueprints lazily).
    assert any(i.source == "app" and not i.module_level for i in imports)


def test_the_cycle_finder_reports_the_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e2"}, "e2": {"e"}}
    assert sorted(find_cycles(graph)) == [["a", "b", "c", "a"], ["e", "e2", "e"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_a_subpackage_importing_its_parent_is_not_a_cycle_but_a_sibling_is():
    imports = [
        Import("app.services.pkg", "app.services.pkg.part", 1, True),
        Import("app.services.pkg.part", "app.services.pkg.other", 1, True),
        Import("app.services.other", "app.services.pkg.part", 1, True),
    ]
    assert find_cycles(module_graph(imports)) == []
    imports.append(Import("app.services.pkg", "app.services.other", 2, True))
    assert find_cycles(module_graph(imports)) == [
        ["app.services.other", "app.services.pkg", "app.services.other"]]

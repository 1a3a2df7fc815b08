"""The layers hold: read from the code's own imports, not from a drawing.

docs/architecture.md draws the house: a pure core at the bottom (crypto, log, policy, codes …),
the domain's feature packages on it, the HTTP edge (api/, web/) above, and one composition
root (app/) that wires them together. These tests parse every module with ``ast`` (nothing is
imported or run) and fail, naming the offending file and import, when an arrow runs the wrong
way or a cycle appears.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("registry", "api", "web", "app", "bench")
FRAMEWORKS = ("fastapi", "starlette", "uvicorn")

# The pure core: format and rule code that touches no database, no settings, no HTTP.
CORE = (
    "registry.crypto",
    "registry.log",
    "registry.policy",
    "registry.codes",
    "registry.gs1",
    "registry.errors",
    "registry.status",
    "registry.clock",
    "registry.qr",
    "registry.places",
    "registry.units",
    "registry.records.schema",
    "registry.records.fields",
    "registry.records.parts",
)


@dataclass(frozen=True)
class Import:
    """One import statement: who imports what, where, and whether only for type checking."""

    importer: str
    target: str
    path: Path
    line: int
    type_checking: bool

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line} imports {self.target}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:  # Alembic's scripts are loaded by Alembic, not imported
                continue
            found[_module_name(path)] = path
    return found


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _walk(node: ast.AST, guarded: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(node):
        inside = guarded or _is_type_checking(child)
        yield child, inside
        yield from _walk(child, inside)


def _resolve(module: str, name: str, modules: dict[str, Path]) -> str:
    """``from a.b import c`` names module ``a.b.c`` when that module exists, else ``a.b``."""
    candidate = f"{module}.{name}"
    return candidate if candidate in modules else module


def _imports(modules: dict[str, Path]) -> list[Import]:
    edges = []
    for importer, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node, guarded in _walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: resolve against this module's package
                    package = importer.split(".")
                    if not is_package:
                        package = package[:-1]
                    package = package[: len(package) - (node.level - 1)]
                    base = ".".join([*package, base] if base else package)
                targets = [_resolve(base, alias.name, modules) for alias in node.names]
            edges += [Import(importer, t, path, node.lineno, guarded) for t in targets]  # type: ignore[attr-defined]
    return edges


MODULES = _modules()
IMPORTS = _imports(MODULES)


def _top(name: str) -> str:
    return name.split(".")[0]


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_domain_imports_no_framework_and_nothing_above_it() -> None:
    offenders = sorted(
        {
            str(i)
            for i in IMPORTS
            if _top(i.importer) == "registry"
            and (_top(i.target) in FRAMEWORKS or _top(i.target) in {"api", "web", "app", "bench"})
        }
    )
    assert not offenders, "registry/ must not import the HTTP edge or the apps:\n" + "\n".join(
        offenders
    )


def test_the_core_imports_only_the_core() -> None:
    offenders = sorted(
        {
            str(i)
            for i in IMPORTS
            if _within(i.importer, CORE)
            and _top(i.target) == "registry"
            and not _within(i.target, CORE)
            and i.target != "registry"
        }
    )
    assert not offenders, (
        "the pure core (crypto, log, policy, codes, gs1, ...) imports nothing above it:\n"
        + "\n".join(offenders)
    )


def test_pages_never_reach_into_api_routers() -> None:
    offenders = sorted(
        {
            str(i)
            for i in IMPORTS
            if _top(i.importer) == "web" and _within(i.target, ("api.routers",))
        }
    )
    assert not offenders, "web/ shares code with api/ below the routers, never a router:\n" + (
        "\n".join(offenders)
    )


def test_only_the_composition_root_and_benchmarks_import_the_apps() -> None:
    offenders = sorted(
        {
            str(i)
            for i in IMPORTS
            if _top(i.importer) in {"registry", "api", "web"} and _top(i.target) in {"app", "bench"}
        }
    )
    assert not offenders, "app/ and bench/ sit on top; nothing below imports them:\n" + (
        "\n".join(offenders)
    )


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for i in IMPORTS:
        # A package importing its own submodules (re-exports in __init__) is no cycle;
        # annotations imported only for the type checker never run.
        if i.type_checking or i.target not in MODULES or i.target == i.importer:
            continue
        if i.target.startswith(i.importer + "."):
            continue
        graph[i.importer].add(i.target)
    return graph


def test_no_import_cycles() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "import cycles (each line one strongly connected set):\n" + "\n".join(
        " <-> ".join(c) for c in cycles
    )


def test_the_cycle_finder_finds_cycles() -> None:
    """The check above can fail: a cycle of three and a self-contained pair are both found."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"e"}, "e": {"d"}, "f": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"], ["d", "e"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []

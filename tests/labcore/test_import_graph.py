"""The project's import graph has no circles and points down the layers.

Every ``.py`` file of the project (outside migrations, tests, bench and the virtualenv) is
parsed with ``ast``; every ``import X`` and ``from X import Y`` in it, at module level or inside
a function, relative or absolute, is resolved to the project module it names. The apps are
layered, lowest first (an app may import only apps below it or on its own level, never one
above it):

    labcore (kernel)  <  accounts  <  samples, devices  <  executionlogs  <  workflows  <  audit

``devices`` and ``samples`` share a level and do not import each other. ``devices`` models
point at ``workflows.Workflow`` with lazy string foreign keys ("workflows.Workflow"); that is a
database relation, not an import, and code in ``devices`` that needs the related model reads it
from the field (``Booking._meta.get_field("workflow").related_model``). ``labcore`` may name
apps' URLconfs and classes by string (``include("devices.api.urls")``, settings), but imports no
domain app at module level. ``audit`` (django-pghistory
events) sits on top of everything it records.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRECTORIES = {"migrations", "tests", "bench", ".venv", "venv", ".data", "node_modules", "__pycache__"}

# Lowest first. An app may import apps of a lower or its own level, never a higher one;
# apps of the same level do not import each other.
LAYERS = [
    {"labcore"},
    {"accounts"},
    {"samples", "devices"},
    {"executionlogs"},
    {"workflows"},
    {"audit"},
]
LEVEL = {app: level for level, apps in enumerate(LAYERS) for app in apps}
DOMAIN_APPS = set(LEVEL) - {"labcore"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _project_files() -> dict[str, Path]:
    files = {}
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if any(part in SKIPPED_DIRECTORIES or part.startswith(".") for part in relative.parts[:-1]):
            continue
        if len(relative.parts) == 1:  # manage.py and other top-level scripts
            continue
        files[_module_name(path)] = path
    return files


class Import:
    """One import statement of a module, resolved to the project modules it names."""

    def __init__(self, source: str, target: str, line: int, module_level: bool):
        self.source = source
        self.target = target
        self.line = line
        self.module_level = module_level

    def __repr__(self):
        where = "module level" if self.module_level else "in a function"
        return f"{self.source} -> {self.target} (line {self.line}, {where})"


def _resolve(name: str, modules: set[str]) -> str | None:
    """The longest project module that ``name`` is or lies in, else None (a third-party module)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _imports_of(module: str, path: Path, modules: set[str]) -> list[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found = []

    def visit(node, module_level):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, module_level=False)
                continue
            names = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    package = module.split(".") if is_package else module.split(".")[:-1]
                    base = package[: len(package) - (child.level - 1)]
                    prefix = ".".join(base + ([child.module] if child.module else []))
                else:
                    prefix = child.module
                # ``from package import module`` imports the submodule; ``from module import name``
                # imports the module. Either way the longest project module wins.
                names = [f"{prefix}.{alias.name}" for alias in child.names] or [prefix]
            for name in names:
                target = _resolve(name, modules)
                if target and target != module:
                    found.append(Import(module, target, child.lineno, module_level))
            visit(child, module_level)

    visit(tree, module_level=True)
    return found


def _graph() -> list[Import]:
    files = _project_files()
    modules = set(files)
    edges = []
    for module, path in sorted(files.items()):
        edges.extend(_imports_of(module, path, modules))
    return edges


EDGES = _graph()


def _app(module: str) -> str:
    return module.split(".")[0]


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a node chain that ends where it starts, or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)
    stack: list[str] = []

    def walk(node):
        colour[node] = GREY
        stack.append(node)
        for successor in sorted(graph.get(node, ())):
            if colour.get(successor, WHITE) == GREY:
                return stack[stack.index(successor) :] + [successor]
            if colour.get(successor, WHITE) == WHITE:
                cycle = walk(successor)
                if cycle:
                    return cycle
        stack.pop()
        colour[node] = BLACK
        return None

    for node in sorted(graph):
        if colour[node] == WHITE:
            cycle = walk(node)
            if cycle:
                return cycle
    return None


def _describe(cycle: list[str], edges: list[Import], key) -> str:
    """The cycle as a chain, each link with the import that makes it."""
    lines = [" -> ".join(cycle)]
    for source, target in zip(cycle, cycle[1:], strict=False):
        witnesses = dict.fromkeys(
            repr(edge) for edge in edges if key(edge.source) == source and key(edge.target) == target
        )
        lines.extend(f"    {witness}" for witness in list(witnesses)[:3])
    return "\n".join(lines)


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of ``graph`` with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def connect(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph.get(node, ()):
            if successor not in index:
                connect(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return components


def _module_cycles(component_filter) -> list[str]:
    """One cycle per circle of modules (modules of one package, or across packages of an app)."""
    graph: dict[str, set[str]] = {}
    for edge in EDGES:
        graph.setdefault(edge.source, set()).add(edge.target)
    reports = []
    for component in _strongly_connected(graph):
        if not component_filter(component):
            continue
        subgraph = {node: graph[node] & component for node in component}
        cycle = _find_cycle(subgraph)
        reports.append(_describe(cycle, EDGES, key=lambda module: module))
    return reports


def _in_workflows_services(component: set[str]) -> bool:
    return any(module.startswith("workflows.services") for module in component)


def test_the_graph_sees_the_project():
    """Guards the guard: the walk finds the project's modules and the imports between them."""
    sources = {_app(edge.source) for edge in EDGES}
    assert {"labcore", "devices", "workflows", "executionlogs", "samples", "accounts"} <= sources
    assert any(edge.source == "workflows.models.runs" and _app(edge.target) == "devices" for edge in EDGES) or any(
        edge.source.startswith("workflows") and _app(edge.target) == "devices" for edge in EDGES
    )


def test_no_cycle_between_apps():
    graph: dict[str, set[str]] = {}
    for edge in EDGES:
        if _app(edge.source) != _app(edge.target):
            graph.setdefault(_app(edge.source), set()).add(_app(edge.target))
    cycle = _find_cycle(graph)
    assert cycle is None, "apps import each other in a circle:\n" + _describe(cycle, EDGES, key=_app)


def test_apps_import_only_apps_below_them():
    upward = [
        edge
        for edge in EDGES
        if _app(edge.source) != _app(edge.target)
        and _app(edge.source) in LEVEL
        and _app(edge.target) in LEVEL
        and LEVEL[_app(edge.target)] >= LEVEL[_app(edge.source)]
    ]
    assert not upward, "imports against the layering (see this module's docstring):\n" + "\n".join(map(repr, upward))


def test_devices_does_not_import_workflows():
    found = [edge for edge in EDGES if _app(edge.source) == "devices" and _app(edge.target) == "workflows"]
    assert not found, "devices imports workflows:\n" + "\n".join(map(repr, found))


def test_labcore_imports_no_domain_app_at_module_level():
    found = [
        edge
        for edge in EDGES
        if _app(edge.source) == "labcore" and _app(edge.target) in DOMAIN_APPS and edge.module_level
    ]
    assert not found, "labcore imports domain apps at module level:\n" + "\n".join(map(repr, found))


def test_no_cycle_between_modules():
    reports = _module_cycles(lambda component: not _in_workflows_services(component))
    assert not reports, "modules import each other in a circle:\n" + "\n".join(reports)


def test_no_cycle_among_the_modules_of_workflows_services():
    reports = _module_cycles(_in_workflows_services)
    assert not reports, "modules import each other in a circle:\n" + "\n".join(reports)


# Function-level imports of project modules that are needed, and why. Anything else belongs at
# the top of its module: a function-level import hides a dependency (and often a circle).
FUNCTION_LEVEL_IMPORTS_NEEDED = {
    # AppConfig.ready(): these modules import models, which exist only once the registry is ready.
    "accounts.apps": "app registry",
    "workflows.apps": "app registry",
}


def test_function_level_imports_only_where_needed():
    allowed = set(FUNCTION_LEVEL_IMPORTS_NEEDED)
    found = [edge for edge in EDGES if not edge.module_level and edge.source not in allowed]
    assert not found, "function-level imports that no cycle needs (move them to the top):\n" + "\n".join(
        map(repr, found)
    )

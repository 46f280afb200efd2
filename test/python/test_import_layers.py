"""No import cycle inside ``carto_credentials`` (issue 12 item 1).

The graph is read from the source with ``ast``, so it holds every import: module level and
function level (a lazy import that closes a cycle is still a cycle). A package's ``__init__`` is
not counted as imported by its submodules (Python runs it first, but that is not a dependency the
submodule chose). The layers are one-way: values (``Credentials``, ``rules``) → policy (``defaults``,
``access``) → channel (``kernel``, comm) → presentation (``_status_html``).
"""

import ast
import os

PACKAGE = "carto_credentials"
PACKAGE_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), PACKAGE
)


def _modules():
    """``{dotted name: (path, is_package)}`` of every module of the package."""
    found = {}
    for directory, subdirs, files in os.walk(PACKAGE_DIR):
        subdirs[:] = [d for d in subdirs if not d.startswith((".", "__")) and d != "labextension"]
        relative = os.path.relpath(directory, os.path.dirname(PACKAGE_DIR))
        prefix = relative.replace(os.sep, ".")
        for name in files:
            if not name.endswith(".py"):
                continue
            if name == "__init__.py":
                found[prefix] = (os.path.join(directory, name), True)
            else:
                found[prefix + "." + name[:-3]] = (os.path.join(directory, name), False)
    return found


def _imports_of(module, path, is_package, modules):
    """Modules of the package that ``module`` imports, anywhere in its source."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    package = module if is_package else module.rpartition(".")[0]
    targets = set()

    def known(name):
        # "a.b.c" may name an object in module "a.b": walk up to the nearest module.
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    targets.add(known(alias.name))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            if origin != PACKAGE and not origin.startswith(PACKAGE + "."):
                continue
            for alias in node.names:
                # ``from . import kernel`` imports the submodule; ``from .x import name`` imports x.
                full = origin + "." + alias.name
                targets.add(full if full in modules else known(origin))
    targets.discard("")
    targets.discard(module)
    return targets


def import_graph():
    modules = _modules()
    return {
        name: _imports_of(name, path, is_package, modules)
        for name, (path, is_package) in modules.items()
    }


def _cycles(graph):
    """Strongly connected components of more than one module (Tarjan), each as a sorted list."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _describe(graph, component):
    members = set(component)
    lines = ["cycle among: " + ", ".join(component)]
    for name in component:
        for target in sorted(graph[name] & members):
            lines.append("  %s -> %s" % (name, target))
    return "\n".join(lines)


def test_the_graph_sees_the_package():
    graph = import_graph()
    assert "carto_credentials.credentials" in graph
    assert "carto_credentials.server.store" in graph
    # a module-level and a function-level import are both edges
    assert "carto_credentials.rules" in graph["carto_credentials.credentials"]
    assert "carto_credentials.widgets" in graph["carto_credentials"]


def test_a_cycle_is_found_and_printed():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert "a -> b" in _describe(graph, ["a", "b", "c"])


def test_no_import_cycle_in_carto_credentials():
    graph = import_graph()
    cycles = _cycles(graph)
    assert not cycles, "import cycles in carto_credentials:\n" + "\n".join(
        _describe(graph, c) for c in cycles
    )


def test_values_import_no_policy_channel_or_presentation():
    graph = import_graph()
    upper = {
        "carto_credentials.defaults",
        "carto_credentials.access",
        "carto_credentials.kernel",
        "carto_credentials._status_html",
    }
    for values in ("carto_credentials.credentials", "carto_credentials.rules"):
        assert not graph[values] & upper, (values, sorted(graph[values] & upper))

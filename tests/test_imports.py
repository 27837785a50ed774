"""Imports run one way (STYLE.md; issue 14).  The package is cut into layers,
one subpackage each, lowest first: language (expressions, grammar, printers,
numbers) -> shapes -> rewriting (rule files and the simplifier) -> engine
(linearisation, reverse and forward mode) -> results (what a derivation
shows, its numeric check) -> outputs (text, LaTeX, JSON, code) -> faces (the
API, the command line, answers, grading, the web page).

Read from the source, over whatever modules exist, counting imports inside
functions too: every module lives in a layer, imports only from its own layer
or below, no cycle between modules, and no module imports another's private
name."""
import ast
import functools
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "matcalc"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "matcalc"


@functools.cache
def all_modules() -> frozenset:
    return frozenset(module_name(p) for p in PACKAGE.rglob("*.py"))


def imports(path: Path):
    """(imported module, imported names, line) for every import of a matcalc
    module in ``path``, at module level or inside a function."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    modules = all_modules()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("matcalc."):
                    yield alias.name.removeprefix("matcalc."), [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package and package != "matcalc" else []
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and (node.module == "matcalc" or node.module.startswith("matcalc.")):
                target = node.module.removeprefix("matcalc").lstrip(".")
            else:
                continue
            target = target or "matcalc"
            names = [a.name for a in node.names]
            submodules = [f"{target}.{n}".removeprefix("matcalc.") for n in names]
            if any(s in modules for s in submodules):  # from . import api
                for s in submodules:
                    if s in modules:
                        yield s, [], node.lineno
            else:
                yield target, names, node.lineno


@functools.cache
def graph() -> dict:
    edges = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        here = module_name(path)
        edges[here] = {target for target, _, _ in imports(path) if target != here}
    return edges


def cycles(edges: dict) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan,
    iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next((c for c in children if c in edges), None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
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


# the layers, lowest first; a module imports only from its own layer or below
LAYERS = ("language", "shapes", "rewriting", "engine", "results", "outputs", "faces")
LEAVES = {"version"}  # read by every layer, imports nothing
FACE = {"matcalc", "__main__"}  # the package itself: it may load any layer


def layer(module: str) -> int:
    """The index of a module's layer in LAYERS (-1 a leaf, len(LAYERS) the
    package's own face); a KeyError for a module outside every layer."""
    head = module.split(".")[0]
    if module in FACE:
        return len(LAYERS)
    if head in LEAVES:
        return -1
    if head not in LAYERS:
        raise KeyError(f"{module} is in no layer: move it into one of {', '.join(LAYERS)}")
    return LAYERS.index(head)


def upward(edges: dict) -> list[str]:
    """Every import of a module from a higher layer, as readable lines."""
    def name(m):
        i = layer(m)
        return "the package" if i == len(LAYERS) else "a leaf" if i < 0 else LAYERS[i]

    return [f"{module} ({name(module)}) imports {target} ({name(target)})"
            for module, targets in sorted(edges.items()) for target in sorted(targets)
            if layer(target) > layer(module)]


def test_every_module_lives_in_a_layer():
    outside = []
    for module in sorted(all_modules()):
        try:
            layer(module)
        except KeyError as err:
            outside.append(str(err))
    assert outside == []


def test_imports_run_downward_through_the_layers():
    assert upward(graph()) == []


def test_the_layer_checker_sees_an_upward_import():
    assert upward({"language.expr": {"faces.api"}, "faces.api": {"language.expr"}}) == [
        "language.expr (language) imports faces.api (faces)"]
    assert upward({"faces.cli": {"faces.api", "version"}, "matcalc": {"faces.api"}}) == []
    assert "faces.api" in graph()["faces.cli"]  # the graph is of the real modules


def test_no_import_cycles_between_modules():
    assert cycles(graph()) == []


def test_no_module_imports_a_private_name_of_another():
    private = [f"{module_name(path)}:{line} imports {target}.{name}"
               for path in sorted(PACKAGE.rglob("*.py"))
               for target, names, line in imports(path)
               for name in names if name.startswith("_") and not name.startswith("__")]
    assert private == []


def test_the_checker_sees_a_cycle_and_a_private_import(tmp_path):
    # the test itself can fail: a two-module cycle and a private import are found
    edges = {"a": {"b"}, "b": {"a", "c"}, "c": set()}
    assert cycles(edges) == [["a", "b"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    # reads function-level and module-level imports
    assert graph()["engine.linearise"] >= {"rewriting.rules", "rewriting.simplify"}

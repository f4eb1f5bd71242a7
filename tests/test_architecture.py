"""Imports go one way: a module imports only from its own or lower layers
(docs/architecture.md), and never in a cycle.  The runtime dependencies are
numpy and opt_einsum; hypothesis is imported only by matgrad.testing.strategies."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "matgrad"

# module (dotted, relative to matgrad) -> layer; keep in step with docs/architecture.md
LAYERS: dict[str, int] = {
    "errors": 0,
    "_types": 0,
    "layout": 1,
    "numeric": 1,
    "_random": 1,
    "_base": 2,
    "expr": 2,
    "bindings": 2,
    "printing": 2,
    "_index_notation": 2,
    "_numpy_source": 2,
    "_matrix_notation": 2,
    "_forms": 2,
    "_einsum_forms": 2,
    "_notation": 2,
    "_text_notation": 2,
    "_latex_notation": 2,
    "ops": 3,
    "rules": 3,
    "simplify": 3,
    "diff": 3,
    "compiler": 3,
    "_plan_rewrites": 3,
    "_planner": 3,
    "_runtime": 3,
    "_kernels": 3,
    "transforms": 4,
    "taylor": 4,
    "change_of_variables": 4,
    "testing": 4,
    "testing.check": 4,
    "testing.strategies": 4,
    "testing.opspec": 4,
    "testing.reference": 4,
    "testing.fuzz": 4,
    "parse": 4,
    "_parse_syntax": 4,
    "_parse_shapes": 4,
    "_parse_ranks": 4,
    "claims": 4,
    "identities": 4,
    "identities._record": 4,
    "identities.catalogue": 4,
    "identities.book": 4,
    "identities.trace": 4,
    "identities.determinant": 4,
    "identities.inverse": 4,
    "identities.quadratic": 4,
    "identities.norm": 4,
    "identities.jacobian": 4,
    "identities.second_order": 4,
    "identities.symmetric": 4,
    "identities.learning": 4,
    "identities.verify": 4,
    "identities.docs": 4,
    "identities.cli": 4,
    "cli": 5,
    "__main__": 5,
    "__init__": 5,
}
THIRD_PARTY_ALLOWED = {"numpy", "opt_einsum"}
OPTIONAL_ALLOWED = {
    "testing.strategies": {"hypothesis"},
    "testing.opspec": {"hypothesis"},
    "testing.fuzz": {"hypothesis"},
}


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> tuple[set[str], set[str]]:
    """(matgrad modules imported, top-level third-party packages imported)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    internal: set[str] = set()
    external: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "matgrad":
                names = [f"matgrad.{alias.name}" for alias in node.names]
        for name in names:
            if name == "matgrad" or name.startswith("matgrad."):
                sub = name.removeprefix("matgrad").removeprefix(".")
                while sub and sub not in LAYERS:
                    sub = sub.rpartition(".")[0]
                if sub:
                    internal.add(sub)
            else:
                external.add(name.split(".")[0])
    return internal, external


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in SRC.rglob("*.py")}


def test_every_module_has_a_layer() -> None:
    missing = sorted(set(all_modules()) - set(LAYERS))
    assert not missing, f"add these modules to LAYERS and docs/architecture.md: {missing}"


def test_imports_go_down_the_layers() -> None:
    stdlib = set(__import__("sys").stdlib_module_names)
    for name, path in all_modules().items():
        internal, external = imports_of(path)
        for target in internal - {name}:
            assert LAYERS[target] <= LAYERS[name], (
                f"matgrad.{name} (layer {LAYERS[name]}) imports matgrad.{target} "
                f"(layer {LAYERS[target]})"
            )
        allowed = stdlib | THIRD_PARTY_ALLOWED | OPTIONAL_ALLOWED.get(name, set()) | {"matgrad"}
        assert external <= allowed, f"matgrad.{name} imports {sorted(external - allowed)}"


def test_no_import_cycles() -> None:
    graph = {name: imports_of(path)[0] - {name} for name, path in all_modules().items()}
    graph.pop("__init__", None)
    for deps in graph.values():
        deps.discard("__init__")
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(node: str, trail: list[str]) -> None:
        assert node not in visiting, "import cycle: " + " -> ".join([*trail, node])
        if node in done:
            return
        visiting.add(node)
        for dep in graph.get(node, set()):
            visit(dep, [*trail, node])
        visiting.discard(node)
        done.add(node)

    for node in graph:
        visit(node, [])

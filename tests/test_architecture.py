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
    "numeric.stencils": 1,
    "numeric.evaluation": 1,
    "numeric.core": 1,
    "numeric.derivatives": 1,
    "numeric.compare": 1,
    "_random": 1,
    "ir": 2,
    "ir.node": 2,
    "ir.expr": 2,
    "ir.bindings": 2,
    "ir.apply": 2,
    "ir.notebook": 2,
    "ops": 3,
    "ops.core": 3,
    "ops.registry": 3,
    "ops.elementwise": 3,
    "ops.linalg": 3,
    "ops.structure": 3,
    "ops.binary": 3,
    "ops.piecewise": 3,
    "ops.reductions": 3,
    "ops.statistics": 3,
    "ops.ordering": 3,
    "ops.rounding": 3,
    "ops.arrays": 3,
    "ops.indexing": 3,
    "ops.subscripts": 3,
    "ops.special": 3,
    "ops.softmax": 3,
    "ops.matfuncs": 3,
    "ops.blocktrick": 3,
    "ops.triangular": 3,
    "ops.spectral_numerics": 3,
    "ops.spectral": 3,
    "ops.symmetric_functions": 3,
    "ops.singular": 3,
    "ops.decompositions": 3,
    "ops.norms": 3,
    "ops.det_numerics": 3,
    "ops.eig": 3,
    "printing": 4,
    "printing.forms": 4,
    "printing.einsum_forms": 4,
    "printing.matrix": 4,
    "printing.notation": 4,
    "printing.text": 4,
    "printing.latex": 4,
    "printing.index": 4,
    "printing.numpy_source": 4,
    "compiler": 4,
    "compiler.planner": 4,
    "compiler.rewrites": 4,
    "compiler.runtime": 4,
    "compiler.kernels": 4,
    "compiler.backends": 4,
    "compiler.portable": 4,
    "calculus": 5,
    "calculus.rules": 5,
    "calculus.simplify": 5,
    "calculus.display": 5,
    "calculus.display_factors": 5,
    "calculus.display_sums": 5,
    "calculus.diff": 5,
    "calculus.taylor": 5,
    "function_api": 6,
    "function_api.transforms": 6,
    "function_api.numpy_names": 6,
    "function_api.tracing": 6,
    "function_api.guards": 6,
    "function_api.bytecode": 6,
    "function_api.guard_checks": 6,
    "function_api.batching": 6,
    "calculus.change_of_variables": 6,
    "testing": 6,
    "testing.check": 6,
    "testing.strategies": 6,
    "testing.opspec": 6,
    "testing.reference": 6,
    "testing.fuzz": 6,
    "testing.fuzz_terms": 6,
    "testing.fuzz_composites": 6,
    "language": 6,
    "language.parse": 6,
    "language.syntax": 6,
    "language.functions": 6,
    "language.tokens": 6,
    "language.dims": 6,
    "language.operators": 6,
    "language.calls": 6,
    "language.shapes": 6,
    "language.ranks": 6,
    "language.claims": 6,
    "identities": 6,
    "identities._record": 6,
    "identities.catalogue": 6,
    "identities.book": 6,
    "identities.trace": 6,
    "identities.determinant": 6,
    "identities.inverse": 6,
    "identities.quadratic": 6,
    "identities.norm": 6,
    "identities.jacobian": 6,
    "identities.second_order": 6,
    "identities.symmetric": 6,
    "identities.learning": 6,
    "identities.spectral": 6,
    "identities.matfunc": 6,
    "identities.singular": 6,
    "identities.decomposition": 6,
    "identities.verify": 6,
    "identities.docs": 6,
    "identities.cli": 6,
    "cli": 7,
    "web": 7,
    "web.derivation": 7,
    "web.api": 7,
    "web.pool": 7,
    "web.server": 7,
    "__main__": 7,
    "__init__": 7,
}
THIRD_PARTY_ALLOWED = {"numpy", "opt_einsum"}
OPTIONAL_ALLOWED = {
    "ops.special": {"scipy"},  # SciPy only in the ops modules that need it
    "ops.softmax": {"scipy"},
    "ops.blocktrick": {"scipy"},
    "ops.triangular": {"scipy"},
    "ops.spectral_numerics": {"scipy"},  # LAPACK's potrf and potri for x**-1 of an SPD matrix
    "ops.det_numerics": {"scipy"},  # LAPACK's gesv and gecon for the checked solve
    "ops.eig": {"scipy"},  # serves scipy.linalg.eig and eigvals
    "compiler.backends": {"scipy"},  # scipy.special and solve_triangular on NumPy and Dask chunks
    "testing.strategies": {"hypothesis"},
    "testing.opspec": {"hypothesis"},
    "testing.fuzz": {"hypothesis"},
    "testing.fuzz_terms": {"hypothesis"},
    "testing.fuzz_composites": {"hypothesis"},
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
            if node.module == "matgrad" or node.module.startswith("matgrad."):
                # ``from matgrad.pkg import module`` imports that module
                sub = [f"{node.module}.{alias.name}" for alias in node.names]
                modules = [n for n in sub if n.removeprefix("matgrad.") in LAYERS]
                rest = len(modules) < len(sub)
                names = modules + ([node.module] if rest and node.module != "matgrad" else [])
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

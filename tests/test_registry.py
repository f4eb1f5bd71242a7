"""The operation registry: an operation is one declaration, read by every layer.

A throwaway operation, ``softsign(x) = x / (1 + |x|)``, is declared here and
nowhere else, and is then differentiated (first and second order, both modes),
compiled, printed in all four forms, parsed from the formula language, drawn by
the spec table and by the fuzzer.  And no module outside the registry's
families names a registered operation in a string literal.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import matgrad as mg
from matgrad import numeric
from matgrad.ir.apply import Apply, Fuzz, Language, Notation, Operation, Sample, same_shape
from matgrad.ir.expr import Expr, add, einsum_node, ones
from matgrad.ops import registry
from matgrad.testing import opspec

SRC = Path(__file__).resolve().parent.parent / "src" / "matgrad"


def _softsign(x: Any) -> Any:
    return x / (1 + np.abs(x))


def _d_softsign(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d softsign(x) = (1 + |x|)⁻² ⊙ dx``."""
    assert isinstance(node, Apply)
    (dx,) = d
    one = ones(node.shape, node.dtype)
    slope = mg.power(add([one, mg.abs(node.x)], [1, 1]), -2.0)
    labels = tuple(range(node.ndim))
    return einsum_node([slope, dx], [labels, labels], labels)


SOFTSIGN = Operation(
    name="softsign",
    family="elementwise",
    doc="entrywise x / (1 + |x|)",
    shape=same_shape,
    numpy=_softsign,
    differential=_d_softsign,
    elementwise=True,
    preserves_symmetry=True,
    domain=lambda attrs: ("nonzero",),
    notation=Notation(
        text="softsign({0})",
        latex=r"\operatorname{{softsign}}{0:arg}",
        numpy="{0} / (1 + np.abs({0}))",
    ),
    language=Language(("softsign",), "entrywise x / (1 + |x|)", "x -> x"),
    samples=(Sample("softsign", None, lambda n, m: ((n, m),), ("nonzero",)),),
    fuzz=(Fuzz("nonzero", bound=lambda lo, hi, n: 1.0),),
)


@pytest.fixture
def softsign() -> Iterator[Any]:
    build = registry.declare(SOFTSIGN)
    try:
        yield build
    finally:
        registry.withdraw("softsign")


def _close(a: Any, b: Any, tol: float = 1e-7) -> None:
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


def test_a_throwaway_operation_is_differentiated_compiled_and_printed(softsign: Any) -> None:
    X = mg.Matrix("X", (2, 3))
    rng = np.random.default_rng(0)
    X0 = rng.uniform(0.5, 2.0, (2, 3)) * rng.choice([-1.0, 1.0], (2, 3))
    f = mg.sum(softsign(X) * softsign(X))
    assert softsign(X).kind == "softsign"

    def value(v: Any) -> float:
        return float(np.sum(_softsign(v) ** 2))

    for mode in ("forward", "reverse"):
        g = mg.derivative(f, X, mode=mode)
        _close(g.evaluate(X=X0), numeric.gradient(value, X0, method="richardson"))
        h = mg.derivative(f, X, order=2, mode=mode)
        _close(h.evaluate(X=X0), numeric.hessian(value, X0, method="richardson"), 1e-6)
    # compiled, and equal to the NumPy implementation
    _close(mg.compile(softsign(X), [X])(X0), _softsign(X0), 1e-14)
    # the four printed forms
    assert str(softsign(X)) == "softsign(X)"
    assert softsign(X).latex() == r"\operatorname{softsign}(X)"
    assert softsign(X).einsum() == "out[i,j] = softsign(X[i,j])"
    namespace: dict[str, Any] = {}
    exec(softsign(X).to_numpy("f"), namespace)  # the generated source, run as a user would
    _close(namespace["f"](X0), _softsign(X0), 1e-14)
    # the function API traces it like any other operation
    _close(mg.grad(lambda v: mg.sum(softsign(v)))(X0), (1 + np.abs(X0)) ** -2.0)


def test_a_throwaway_operation_is_parsed_from_the_formula_language(softsign: Any) -> None:
    parsed = mg.parse("softsign(A*x)", {"A": (2, 3), "x": 3})
    A, x = mg.Matrix("A", (2, 3)), mg.Vector("x", 3)
    assert parsed is softsign(A @ x)
    assert "softsign" in mg.language.syntax.functions()


def test_a_throwaway_operation_is_in_the_spec_table_and_checked(softsign: Any) -> None:
    spec = next(s for s in opspec.specs() if s.name == "softsign")
    assert "softsign" in spec.kinds
    X = mg.Tensor("a0", (2, 2))
    X0 = np.array([[0.7, -1.3], [2.0, -0.6]])
    f = spec.build(X)
    d2 = mg.derivative(f, X, order=2)
    expected = numeric.jacobian(
        lambda v: mg.derivative(f, X).evaluate(a0=v), X0, method="richardson"
    )
    _close(d2.evaluate(a0=X0), expected, 1e-6)
    assert SOFTSIGN not in registry.operations() or "softsign" in {
        s.name for s in opspec.specs()
    }


def test_a_throwaway_operation_is_drawn_by_the_fuzzer(softsign: Any) -> None:
    from matgrad.testing.fuzz import random_expressions

    seen: list[bool] = []

    @settings(max_examples=30, derandomize=True, database=None, deadline=None)
    @given(random_expressions(operations={"softsign"}, max_depth=2))
    def draw(case: Any) -> None:
        seen.append(any(n.kind == "softsign" for n in case.expr.walk()))

    draw()
    assert any(seen)


def test_withdraw_removes_every_trace(softsign: Any) -> None:
    assert registry.operation("softsign") is SOFTSIGN
    registry.withdraw("softsign")
    with pytest.raises(TypeError, match="softsign"):
        registry.operation("softsign")
    with pytest.raises(mg.errors.ParseError):
        mg.parse("softsign(x)", {"x": 3})
    registry.declare(SOFTSIGN)  # the fixture withdraws it again


def test_declaring_twice_or_without_samples_fails() -> None:
    with pytest.raises(mg.errors.InvalidArgumentError, match="declared already"):
        registry.declare(mg.exp.op)
    from dataclasses import replace

    with pytest.raises(mg.errors.InvalidArgumentError, match="samples"):
        registry.declare(replace(SOFTSIGN, name="softsign2", samples=(), language=None))


# ---------------------------------------------------------------------------------------
# One operation, one place
# ---------------------------------------------------------------------------------------

REGISTRY_MODULES = ("ops", "identities")
"""Where operations may be named: their declarations, and the identity catalogue."""

ALLOWED = {
    ("language/claims.py", "sign"): "a diagnosis of check_claim (the claim's wrong sign)",
    ("printing/notation.py", "where"): "the keyword before named subexpressions",
}
"""String literals equal to an operation's name that do not name the operation."""


def _string_literals(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings:
                yield node.lineno, node.value


def test_no_module_outside_the_registry_names_an_operation() -> None:
    names = {op.name for op in registry.operations()}
    assert {"exp", "inv", "logdet", "power", "reshape", "tanh", "adj"} <= names
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.split("/")[0] in REGISTRY_MODULES:
            continue
        for line, text in _string_literals(path):
            if text in names and (rel, text) not in ALLOWED:
                found.append(f"{rel}:{line}: {text!r}")
    assert not found, "operations named outside their declaration:\n" + "\n".join(found)


def test_the_literal_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text('"""A docstring naming logdet."""\nKERNELS = {"logdet": None}\n')
    assert [text for _, text in _string_literals(bad)] == ["logdet"]


def test_every_declared_operation_is_complete() -> None:
    for op in registry.operations():
        assert op.differential.__doc__ and len(op.differential.__doc__.strip()) > 20, op.name
        assert op.samples, op.name
        family = importlib.import_module(f"matgrad.ops.{op.family}")  # a module of ops/
        assert any(getattr(f, "op", None) is op for f in vars(family).values()) or (
            op.name in vars(family)
        ), f"{op.name} is not declared in matgrad.ops.{op.family}"
        assert callable(op.numpy), op.name
        constructor = getattr(mg, op.name)
        assert constructor.op is op, op.name


@given(st.sampled_from(sorted(op.name for op in registry.operations() if op.elementwise)))
def test_elementwise_operations_follow_their_ufuncs(name: str) -> None:
    op = registry.operation(name)
    for func, _ in op.numpy_functions:
        if isinstance(func, np.ufunc) and func.nin == 1:
            x = mg.Vector("x", 3)
            assert func(x).kind == op.name

"""Evaluation at any point (DESIGN.md §4): an expression derived from others — a
derivative, a Taylor polynomial, a simplified or substituted expression —
accepts values for the symbols it was derived from, checked against their
shapes and ignored, whether or not it still depends on them; a name that was
never a symbol of the computation is still an error."""

from __future__ import annotations

import numpy as np
import pytest

import matgrad as mg
from matgrad.calculus.diff import jvp_expr, vjp_expr
from matgrad.calculus.taylor import substitute, taylor_terms
from matgrad.errors import BindingError
from matgrad.ir.bindings import (
    check_bindings,
    derived_symbols,
    expression_bindings,
    record_derivation,
)
from matgrad.testing.reference import reference_evaluate

RNG = np.random.default_rng(7)
A0 = RNG.standard_normal((2, 3))
X0 = RNG.standard_normal(3)


@pytest.fixture
def Ax() -> tuple[mg.Expr, mg.Expr]:
    return mg.Matrix("A", (2, 3)), mg.Vector("x", 3)


def test_derivative_of_a_linear_map_wrt_its_matrix_evaluates_at_the_point(Ax):
    A, x = Ax
    D = mg.derivative(A @ x, A)
    assert "A" not in {s.name for s in D.symbols()}
    expected = np.einsum("ij,k->ijk", np.eye(2), X0)   # ∂(Ax)_i/∂A_jk = δ_ij x_k
    np.testing.assert_allclose(D.evaluate(A=A0, x=X0), expected)
    np.testing.assert_allclose(D.evaluate(x=X0), expected)   # A stays optional


def test_derivative_that_depends_on_nothing_evaluates_at_the_point(Ax):
    A, x = Ax
    J = mg.derivative(A @ x, x)              # = A: x is gone
    np.testing.assert_allclose(J.evaluate(A=A0, x=X0), A0)
    H = mg.derivative(x @ x, x, order=2)     # 2 I: nothing is left
    assert H.symbols() == ()
    np.testing.assert_allclose(H.evaluate(x=X0), 2 * np.eye(3))
    Z = mg.derivative(x @ x, A)              # zero: A never occurred
    np.testing.assert_array_equal(Z.evaluate(x=X0, A=A0), np.zeros((2, 3)))


def test_constant_taylor_polynomial_evaluates_at_x(Ax):
    _, x = Ax
    T0 = mg.taylor(x @ x, x, at=X0, order=0)
    assert T0.symbols() == ()
    np.testing.assert_allclose(T0.evaluate(x=RNG.standard_normal(3)), X0 @ X0)
    L = mg.linearize(3.0 * mg.sum(x), x, at=X0)          # linear: the constant gradient
    np.testing.assert_allclose(L.evaluate(x=np.ones(3)), 9.0)
    for k, term in enumerate(taylor_terms(x @ x, x, X0, 3)):
        value = term.evaluate(x=X0)
        assert value.shape == (3,) * k


def test_taylor_polynomial_in_other_symbols_accepts_the_expansion_variable(Ax):
    A, x = Ax
    T = mg.taylor(mg.sum(A @ x), x, at=X0, order=2)
    np.testing.assert_allclose(T.evaluate(A=A0, x=X0), np.sum(A0 @ X0))
    T0 = mg.taylor(mg.sum(A @ x), x, at=X0, order=0)
    np.testing.assert_allclose(T0.evaluate(A=A0, x=np.zeros(3)), np.sum(A0 @ X0))


def test_expressions_built_from_a_derivative_accept_its_symbols(Ax):
    A, x = Ax
    D = mg.derivative(A @ x, A)
    built = 2.0 * mg.sum(D, axis=0) + 1.0
    np.testing.assert_allclose(built.evaluate(A=A0, x=X0), 2 * np.outer(np.ones(2), X0) + 1)


def test_a_derivative_that_is_a_bare_symbol_accepts_the_point_itself(Ax):
    """``d(Ax)/dx`` is the symbol ``A``: as a result it accepts ``x``; inside a larger
    expression a shared leaf's record is not consulted (every use of ``A`` would
    accept ``x`` otherwise)."""
    A, x = Ax
    J = mg.derivative(A @ x, x)
    assert J is A
    np.testing.assert_allclose(J.evaluate(A=A0, x=X0), A0)
    with pytest.raises(BindingError, match="unknown symbol 'x'"):
        (J.T @ J).evaluate(A=A0, x=X0)


def test_jvp_and_vjp_expressions_accept_their_symbols(Ax):
    A, x = Ax
    v, c = mg.Vector("v", 3), mg.Vector("c", 2)
    jv = jvp_expr(A @ x, {x: v})                       # = A v
    np.testing.assert_allclose(jv.evaluate(A=A0, x=X0, v=np.ones(3)), A0 @ np.ones(3))
    (vj,) = vjp_expr(A @ x, c, [x])                    # = Aᵀ c
    np.testing.assert_allclose(vj.evaluate(A=A0, x=X0, c=np.ones(2)), A0.T @ np.ones(2))


def test_wrong_shapes_and_unknown_names_are_still_errors(Ax):
    A, x = Ax
    D = mg.derivative(A @ x, A)
    with pytest.raises(BindingError, match=r"value for 'A' has shape \(3, 3\), expected \(2, 3\)"):
        D.evaluate(A=np.ones((3, 3)), x=X0)
    with pytest.raises(BindingError, match="unknown symbol 'B'.*accepts and ignores A"):
        D.evaluate(A=A0, x=X0, B=np.ones(2))
    with pytest.raises(BindingError, match="missing values for 'x'"):
        D.evaluate(A=A0)


def test_provenance_does_not_leak_to_unrelated_expressions(Ax):
    A, x = Ax
    mg.derivative(A @ x, A)
    with pytest.raises(BindingError, match="unknown symbol 'A'"):
        (2.0 * x).evaluate(A=A0, x=X0)
    with pytest.raises(BindingError, match="unknown symbol 'A'"):
        mg.sum(x).evaluate(A=A0, x=X0)


def test_replaced_and_fixed_symbols_are_refused(Ax):
    """A value for a symbol replaced by substitute or fixed by ``values=`` would be
    silently ignored, so it is refused."""
    A, x = Ax
    s = substitute(A @ x, {A: A0})
    np.testing.assert_allclose(s.evaluate(x=X0), A0 @ X0)
    with pytest.raises(BindingError, match="unknown symbol 'A'"):
        s.evaluate(x=X0, A=A0)
    T = mg.taylor(mg.sum(A @ x), x, at=X0, order=1, values={"A": A0})
    np.testing.assert_allclose(T.evaluate(x=X0), np.sum(A0 @ X0))
    with pytest.raises(BindingError, match="unknown symbol 'A'"):
        T.evaluate(x=X0, A=A0)


def test_substitution_keeps_the_other_symbols_it_lost(Ax):
    A, x = Ax
    y = mg.Vector("y", 3)
    s = substitute(mg.sum(A @ x) * mg.sum(y), {y: np.zeros(3)})   # zero: A and x vanish
    np.testing.assert_allclose(s.evaluate(A=A0, x=X0), 0.0)


def test_compile_with_symbols_the_expression_does_not_use(Ax):
    A, x = Ax
    f = mg.compile(mg.sum(x * x), [A, x])
    np.testing.assert_allclose(f(A0, X0), X0 @ X0)
    np.testing.assert_allclose(f(x=X0, A=A0), X0 @ X0)
    g = mg.compile(mg.derivative(A @ x, A), [A, x])
    np.testing.assert_allclose(g(A0, X0), np.einsum("ij,k->ijk", np.eye(2), X0))
    both = mg.compile([mg.derivative(A @ x, A), A @ x], [A, x])
    d, value = both(A0, X0)
    np.testing.assert_allclose(value, A0 @ X0)
    np.testing.assert_allclose(d, np.einsum("ij,k->ijk", np.eye(2), X0))


def test_compiled_derivative_accepts_keyword_values_it_was_derived_from(Ax):
    A, x = Ax
    h = mg.compile(mg.derivative(A @ x, A))          # takes x only
    assert [s.name for s in h.symbols] == ["x"]
    np.testing.assert_allclose(h(x=X0, A=A0), h(X0))
    with pytest.raises(BindingError, match=r"value for 'A' has shape"):
        h(x=X0, A=np.ones(2))


def test_reference_evaluator_and_check_bindings(Ax):
    A, x = Ax
    D = mg.derivative(A @ x, A)
    values = expression_bindings(D, {"A": A0, "x": X0})
    assert sorted(values) == ["x"]
    assert [s.name for s in derived_symbols(D)] == ["A"]
    checked = check_bindings(D.symbols(), {"A": A0, "x": X0}, derived_from=derived_symbols(D))
    np.testing.assert_allclose(reference_evaluate(D, checked), D.evaluate(A=A0, x=X0))
    with pytest.raises(BindingError, match="unknown symbols A"):
        check_bindings(D.symbols(), {"A": A0, "x": X0})
    with pytest.raises(BindingError, match="expected"):
        expression_bindings(D, {"A": np.ones(3), "x": X0})


def test_records_of_a_shared_node_are_united():
    x, y, z = mg.Vector("x", 2), mg.Vector("y", 2), mg.Vector("z", 2)
    target = mg.sum(x)
    record_derivation(target, [y])
    record_derivation(target, [], [z])
    assert [s.name for s in derived_symbols(target)] == ["y", "z"]
    np.testing.assert_allclose(target.evaluate(x=np.ones(2), y=np.ones(2), z=np.ones(2)), 2.0)


def test_function_api_gradient_wrt_an_unused_argument():
    x0, y0 = np.arange(3.0), np.ones(2)
    gx, gy = mg.grad(lambda x, y: np.sum(x * x), argnums=(0, 1))(x0, y0)
    np.testing.assert_allclose(gx, 2 * x0)
    np.testing.assert_array_equal(gy, np.zeros(2))

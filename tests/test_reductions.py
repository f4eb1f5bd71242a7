"""Reductions with ``axis`` and ``keepdims``: sum, mean, max/min (amax/amin),
prod, var, std, cumsum, linalg.norm along axes, cov and average.

Values are checked against NumPy; derivatives against numerical
differentiation, first and second order, in both accumulation modes; ``max``
at ties against the documented subgradient (the tied entries share equally,
JAX's convention) and ``prod`` at zeros against products written by hand.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from numpy_checks import bind, check_derivatives, close, grad_at

import matgrad as mg
from matgrad import numeric
from matgrad.errors import InvalidArgumentError, ShapeError, UnsupportedOperationError
from matgrad.ops.reductions import _prod_except, _prod_except_reference

RNG = np.random.default_rng(5)


AXES = [None, 0, 1, -1, (0, 2), (-1, 0), (), (0, 1, 2)]


# ---------------------------------------------------------------------------------------
# Values against NumPy
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize(
    "func", [np.sum, np.mean, np.max, np.amax, np.min, np.amin, np.prod, np.var, np.std],
    ids=lambda f: f.__name__,
)
def test_reductions_follow_numpy(func: Any, axis: Any, keepdims: bool) -> None:
    x0 = RNG.standard_normal((2, 3, 4))
    x = mg.Tensor("x", x0.shape)
    expr = func(x, axis=axis, keepdims=keepdims)
    want = func(x0, axis=axis, keepdims=keepdims)
    assert expr.shape == np.shape(want)
    close(bind(expr, x=x0), want, 1e-13)  # var over no axis is 0: no symbol is left


def test_ddof_initial_where_and_correction() -> None:
    x0 = RNG.standard_normal((3, 4))
    x = mg.Matrix("x", (3, 4))
    mask = RNG.random((3, 4)) > 0.3
    cases = [
        (np.var(x, axis=1, ddof=1), np.var(x0, axis=1, ddof=1)),
        (np.std(x, ddof=2, keepdims=True), np.std(x0, ddof=2, keepdims=True)),
        (np.var(x, axis=0, correction=1), np.var(x0, axis=0, ddof=1)),
        (np.sum(x, axis=0, initial=2.5), np.sum(x0, axis=0, initial=2.5)),
        (np.sum(x, where=mask), np.sum(x0, where=mask)),
        (np.mean(x, axis=1, where=mask), np.mean(x0, axis=1, where=mask)),
        (np.prod(x, axis=1, where=mask, initial=2.0), np.prod(x0, axis=1, where=mask, initial=2.0)),
        (np.max(x, axis=0, initial=0.5), np.max(x0, axis=0, initial=0.5)),
        (np.min(x, initial=-0.1), np.min(x0, initial=-0.1)),
        (np.sum(x, dtype=np.float64), np.sum(x0)),
    ]
    for expr, want in cases:
        close(expr.evaluate(x=x0), want, 1e-13)


def test_unsupported_options_are_refused_by_name() -> None:
    x = mg.Matrix("x", (3, 4))
    for call, word in [
        (lambda: np.sum(x, out=np.zeros(4), axis=0), "out"),
        (lambda: np.mean(x, dtype=np.float32), "dtype"),
        (lambda: np.max(x, where=np.ones((3, 4), bool)), "where"),
        (lambda: np.var(x, mean=np.zeros((3, 1))), "mean"),
        (lambda: np.sum(x, where=x > 0), "where"),
        (lambda: np.cumsum(x, out=np.zeros(12)), "out"),
    ]:
        with pytest.raises(UnsupportedOperationError, match=word):
            call()
    with pytest.raises(ShapeError, match="out of range"):
        mg.sum(x, axis=2)
    with pytest.raises(ShapeError, match="repeats"):
        mg.max(x, axis=(0, -2))
    with pytest.raises(InvalidArgumentError, match="degrees of freedom"):
        mg.var(x, axis=0, ddof=3)


# ---------------------------------------------------------------------------------------
# Derivatives at generic points
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1), -1], ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_sum_mean_var_std_derivatives(axis: Any, keepdims: bool) -> None:
    x0 = RNG.standard_normal((3, 4))
    w = RNG.standard_normal(np.shape(np.sum(x0, axis=axis, keepdims=keepdims)))
    for func in (np.sum, np.mean):
        check_derivatives(lambda v, f=func: np.sum(w * f(v, axis=axis, keepdims=keepdims) ** 2),
                          x0)
    check_derivatives(lambda v: np.sum(w * np.var(v, axis=axis, ddof=1, keepdims=keepdims)), x0)
    check_derivatives(lambda v: np.sum(w * np.std(v, axis=axis, keepdims=keepdims)), x0)


@pytest.mark.parametrize("func", [np.max, np.min], ids=lambda f: f.__name__)
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 2), -1], ids=str)
def test_max_min_derivatives_away_from_ties(func: Any, axis: Any) -> None:
    rng = np.random.default_rng(7)  # its own draws: the same values in any test order
    x0 = (rng.permutation(24).reshape(2, 3, 4) + rng.uniform(-0.3, 0.3, (2, 3, 4))) / 4.0
    check_derivatives(lambda v: np.sum(func(v, axis=axis, keepdims=True) ** 3), x0)


def test_softmax_with_max_stabilised_log_sum_exp() -> None:
    X0 = RNG.standard_normal((5, 3))
    Y = np.eye(3)[RNG.integers(0, 3, 5)]
    W0 = RNG.standard_normal((3, 3))

    def loss(W: Any) -> Any:
        Z = X0 @ W
        Z = Z - np.max(Z, axis=1, keepdims=True)
        return -np.mean(np.sum(Y * (Z - np.log(np.sum(np.exp(Z), axis=1, keepdims=True))), axis=1))

    check_derivatives(loss, W0)


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 2), (1, 2), -1], ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_prod_derivatives(axis: Any, keepdims: bool) -> None:
    x0 = RNG.uniform(0.5, 1.5, (2, 3, 2)) * RNG.choice([-1.0, 1.0], (2, 3, 2))
    w = RNG.standard_normal(np.shape(np.prod(x0, axis=axis, keepdims=keepdims)))
    check_derivatives(lambda v: np.sum(w * np.prod(v, axis=axis, keepdims=keepdims)), x0)


def test_cumsum_values_derivatives_and_transpose() -> None:
    x0 = RNG.standard_normal((3, 4))
    x = mg.Matrix("x", (3, 4))
    for axis in (None, 0, 1, -1):
        close(np.cumsum(x, axis=axis).evaluate(x=x0), np.cumsum(x0, axis=axis), 1e-14)
        check_derivatives(lambda v, a=axis: np.sum(np.cumsum(v, axis=a) ** 2), x0)
    v = mg.Vector("v", 4)
    # the Jacobian is the lower triangle of ones, in both modes; the transpose sums from the end
    close(mg.derivative(mg.cumsum(v), v, mode="forward").evaluate(), np.tril(np.ones((4, 4))), 0)
    close(mg.derivative(mg.cumsum(v), v, mode="reverse").evaluate(), np.tril(np.ones((4, 4))), 0)
    c = np.array([1.0, 2.0, 3.0, 4.0])
    close(grad_at(mg.cumsum(v) @ c, v, v=np.zeros(4)), np.cumsum(c[::-1])[::-1], 0)
    assert mg.derivative(mg.sum(mg.cumsum(v)), v, order=2).evaluate().any() == False  # noqa: E712


@pytest.mark.parametrize("kw", [{"axis": 0}, {"axis": -1, "keepdims": True}, {"axis": (0, 1)},
                                {}, {"keepdims": True}, {"axis": 1, "ord": 2}], ids=str)
def test_norm_along_axes(kw: dict[str, Any]) -> None:
    x0 = RNG.standard_normal((4, 3))
    x = mg.Matrix("x", (4, 3))
    close(np.linalg.norm(x, **kw).evaluate(x=x0), np.linalg.norm(x0, **kw), 1e-14)
    check_derivatives(lambda v: np.sum(np.linalg.norm(v, **kw) ** 3), x0)


def test_norm_other_orders_along_axes() -> None:
    """Orders beyond 2 along an axis come from the norms family (ops/norms.py)."""
    x = mg.Matrix("x", (4, 3))
    x0 = np.random.default_rng(5).standard_normal((4, 3))
    np.testing.assert_allclose(
        np.linalg.norm(x, ord=1, axis=0).evaluate(x=x0), np.linalg.norm(x0, ord=1, axis=0)
    )
    np.testing.assert_allclose(
        np.linalg.norm(x, ord="nuc", axis=(0, 1)).evaluate(x=x0),
        np.linalg.norm(x0, ord="nuc", axis=(0, 1)),
    )
    with pytest.raises(ShapeError):
        np.linalg.norm(mg.Tensor("t", (2, 2, 2)), axis=(0, 1, 2))


# ---------------------------------------------------------------------------------------
# max and min at ties: the tied entries share equally (JAX's convention)
# ---------------------------------------------------------------------------------------


def test_max_ties_share_the_derivative_equally() -> None:
    x = mg.Vector("x", 5)
    close(grad_at(mg.max(x), x, x=np.array([1.0, 3.0, 3.0, 2.0, 3.0])), [0, 1 / 3, 1 / 3, 0, 1 / 3])
    close(grad_at(mg.min(x), x, x=np.array([1.0, 3.0, 1.0, 2.0, 3.0])), [0.5, 0, 0.5, 0, 0])
    close(grad_at(mg.max(x), x, x=np.zeros(5)), [0.2] * 5)
    X = mg.Matrix("X", (2, 3))
    X0 = np.array([[1.0, 5.0, 5.0], [2.0, 2.0, 2.0]])
    c = np.array([[1.0], [10.0]])
    f = mg.sum(c * np.max(X, axis=1, keepdims=True))
    close(grad_at(f, X, X=X0), [[0, 0.5, 0.5], [10 / 3, 10 / 3, 10 / 3]])
    # the second derivative is zero, at ties too
    close(mg.derivative(f, X, order=2).evaluate(X=X0), np.zeros((2, 3, 2, 3)), 0)


def test_max_tie_gradient_is_the_average_of_one_sided_ones() -> None:
    """At a two-way tie the shared derivative is the central difference (½ each)."""
    x0 = np.array([0.3, 1.2, 1.2, -0.4])
    x = mg.Vector("x", 4)
    central = numeric.gradient(lambda v: np.max(v), x0, method="central")
    close(grad_at(mg.max(x), x, x=x0), central, 1e-9)


# ---------------------------------------------------------------------------------------
# prod: the product of the others, exact with zeros
# ---------------------------------------------------------------------------------------


def test_prod_derivative_with_zeros_is_the_product_of_the_others() -> None:
    x = mg.Vector("x", 4)
    f = mg.prod(x)
    close(grad_at(f, x, x=np.array([2.0, 0.0, 5.0, 3.0])), [0, 30, 0, 0], 0)
    close(grad_at(f, x, x=np.array([2.0, 0.0, 5.0, 0.0])), [0, 0, 0, 0], 0)
    h = mg.derivative(f, x, order=2).evaluate(x=np.array([2.0, 0.0, 5.0, 0.0]))
    want = np.zeros((4, 4))
    want[1, 3] = want[3, 1] = 10.0  # ∂²/∂x₁∂x₃ = x₀ x₂
    close(h, want, 0)
    t = mg.derivative(f, x, order=3).evaluate(x=np.array([2.0, 0.0, 5.0, 0.0]))
    close(t[0, 1, 3], 5.0, 0)
    close(t[1, 1, 3], 0.0, 0)
    X = mg.Matrix("X", (2, 3))
    X0 = np.array([[0.0, 2.0, 3.0], [1.0, 0.0, 0.0]])
    close(grad_at(mg.sum(np.prod(X, axis=1)), X, X=X0), [[6, 0, 0], [0, 0, 0]], 0)
    close(grad_at(mg.sum(np.prod(X, axis=0)), X, X=X0), [[1, 0, 0], [0, 2, 3]], 0)


@pytest.mark.parametrize("shape, axis", [((5,), (0,)), ((2, 3), (1,)), ((2, 3), (0,)),
                                         ((2, 3, 2), (0, 2)), ((3, 2, 2), (1, 2))], ids=str)
@pytest.mark.parametrize("r", [1, 2, 3])
def test_prod_except_against_its_reference(shape: Any, axis: Any, r: int) -> None:
    x0 = RNG.standard_normal(shape)
    x0.flat[::3] = 0.0
    close(_prod_except(x0, axis, r), _prod_except_reference(x0, axis, r), 1e-14)


# ---------------------------------------------------------------------------------------
# cov and average
# ---------------------------------------------------------------------------------------


def test_cov_follows_numpy() -> None:
    m0 = RNG.standard_normal((3, 6))
    y0 = RNG.standard_normal((2, 6))
    fw = np.array([1, 2, 1, 3, 1, 2])
    aw = RNG.uniform(0.5, 1.5, 6)
    m, y = mg.Matrix("m", (3, 6)), mg.Matrix("y", (2, 6))
    cases: list[dict[str, Any]] = [
        {}, {"bias": True}, {"ddof": 2}, {"fweights": fw}, {"aweights": aw},
        {"fweights": fw, "aweights": aw, "ddof": 0},
    ]
    for kw in cases:
        close(np.cov(m, **kw).evaluate(m=m0), np.cov(m0, **kw), 1e-13)
    close(np.cov(m.T, rowvar=False).evaluate(m=m0), np.cov(m0.T, rowvar=False), 1e-13)
    close(np.cov(m, y).evaluate(m=m0, y=y0), np.cov(m0, y0), 1e-13)
    v = mg.Vector("v", 6)
    assert np.cov(v).shape == ()
    close(np.cov(v).evaluate(v=m0[0]), np.cov(m0[0]), 1e-13)
    check_derivatives(lambda w: np.sum(np.cov(w) ** 2), m0)
    check_derivatives(lambda w: np.sum(np.cov(w, aweights=aw)), m0)


def test_average_follows_numpy() -> None:
    a0 = RNG.standard_normal((3, 4))
    w_full = RNG.uniform(0.5, 1.5, (3, 4))
    w_axis = RNG.uniform(0.5, 1.5, 4)
    a = mg.Matrix("a", (3, 4))
    cases: list[dict[str, Any]] = [
        {}, {"axis": 0}, {"weights": w_full}, {"axis": 1, "weights": w_axis},
        {"axis": 1, "weights": w_axis, "keepdims": True}, {"axis": (0, 1), "weights": w_full},
    ]
    for kw in cases:
        close(np.average(a, **kw).evaluate(a=a0), np.average(a0, **kw), 1e-13)
    avg, total = np.average(a, axis=1, weights=w_axis, returned=True)
    want_avg, want_total = np.average(a0, axis=1, weights=w_axis, returned=True)
    close(avg.evaluate(a=a0), want_avg, 1e-13)
    close(total.evaluate(), want_total, 1e-13)
    check_derivatives(lambda v: np.sum(np.average(v, axis=1, weights=w_axis) ** 2), a0)
    # weights may be expressions too
    w = mg.Vector("w", 4)
    f = mg.sum(mg.average(a, axis=1, weights=w))
    g = numeric.gradient(lambda wv: np.sum(np.average(a0, axis=1, weights=wv)), w_axis,
                         method="richardson")
    close(grad_at(f, w, a=a0, w=w_axis), g, 1e-7)
    with pytest.raises(ZeroDivisionError):
        np.average(a, axis=1, weights=np.zeros(4))
    with pytest.raises(ShapeError, match="axis"):
        np.average(a, weights=w_axis)


def test_std_at_zero_variance_has_no_derivative() -> None:
    """The documented behaviour (as JAX): sqrt′(0) makes the derivative NaN."""
    x = mg.Vector("x", 3)
    with np.errstate(all="ignore"):
        g = mg.derivative(mg.std(x), x).evaluate(x=np.ones(3))
    assert np.all(np.isnan(g))


# ---------------------------------------------------------------------------------------
# The other entry points
# ---------------------------------------------------------------------------------------


def test_function_api_and_formula_language() -> None:
    def loss(z: Any) -> Any:
        return (np.sum(np.max(z, axis=0) ** 2) + np.sum(np.std(z, axis=1))
                + np.sum(np.cumsum(z, axis=1) ** 2) / 10 + np.sum(np.prod(np.tanh(z), axis=0)))

    z0 = (RNG.permutation(12) / 3.0 + RNG.uniform(-0.05, 0.05, 12)).reshape(3, 4)
    close(mg.grad(loss)(z0), numeric.gradient(loss, z0, method="richardson"), 1e-7)
    x = mg.Vector("x", 3)
    for name, build in [("max", mg.max), ("min", mg.min), ("prod", mg.prod), ("var", mg.var),
                        ("std", mg.std), ("cumsum", mg.cumsum)]:
        assert mg.parse(f"{name}(x)", {"x": 3}) is build(x), name


def test_printing_and_numpy_source() -> None:
    X = mg.Matrix("X", (2, 3))
    X0 = RNG.standard_normal((2, 3))
    expr = (mg.max(X, axis=1, keepdims=True) + mg.prod(X, axis=1, keepdims=True)
            + mg.cumsum(X, axis=1) + mg.var(X, axis=0))
    d = mg.derivative(mg.sum(expr * expr), X, order=2)
    for e in (expr, d):
        assert str(e) and e.latex() and e.einsum()
        namespace: dict[str, Any] = {}
        exec(e.to_numpy("f"), namespace)
        close(namespace["f"](X0), e.evaluate(X=X0), 1e-12)


def test_amax_amin_are_max_min() -> None:
    x = mg.Vector("x", 3)
    assert np.amax(x) is np.max(x) is mg.amax(x) is mg.max(x)
    assert np.amin(x, axis=0) is mg.min(x)
    assert mg.max(x, axis=()) is x


def test_tie_and_zero_conventions_match_jax() -> None:
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    jax.config.update("jax_enable_x64", True)
    v = np.array([[1.0, 3.0, 3.0], [0.0, 2.0, 0.0]])
    for name, kw in itertools.product(["max", "min", "prod"], [{}, {"axis": 0}, {"axis": 1}]):
        want = np.asarray(jax.grad(lambda w, n=name, k=kw: jnp.sum(getattr(jnp, n)(w, **k)))(v))
        close(mg.grad(lambda w, n=name, k=kw: np.sum(getattr(np, n)(w, **k)))(v), want, 1e-12)

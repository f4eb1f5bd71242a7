"""The special functions (matgrad.ops.special): values against SciPy, first and
second derivatives against numerical differentiation and closed forms, forward
against reverse accumulation, the conventions of ``xlogy``/``xlog1py`` at
``x = 0``, no overflow at ±1000, SciPy's spelling on expressions, and agreement
with JAX where it is installed.

The spec table (tests/test_rules.py) checks every sample of these operations
too; here are the hard points and the entry points."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.special as sp

import matgrad as mg
from matgrad import numeric
from matgrad.errors import InvalidArgumentError, UnsupportedOperationError
from matgrad.ir.expr import Expr

RNG = np.random.default_rng(12)
X0 = RNG.uniform(-2.0, 2.0, (3, 4))
P0 = RNG.uniform(0.1, 0.9, (3, 4))  # in (0, 1)
Q0 = RNG.uniform(0.5, 3.0, (3, 4))  # positive


def close(a: Any, b: Any, tol: float = 1e-7, what: str = "") -> None:
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                               rtol=tol, atol=tol, err_msg=what)


def numeric_derivative(f: Expr, wrt: Any, values: dict[str, Any]) -> Any:
    """The derivative of ``f`` in ``wrt`` by Richardson extrapolation."""

    def g(v: Any) -> Any:
        return np.asarray(f.evaluate(**{**values, wrt.name: v}))

    return numeric.jacobian(g, values[wrt.name], method="richardson")


def check_derivatives(f: Expr, wrt: Any, values: dict[str, Any], tol: float = 1e-6) -> None:
    """First and second derivatives, forward and reverse, against numerics."""
    for mode in ("forward", "reverse"):
        d1 = mg.derivative(f, wrt, mode=mode)
        close(d1.evaluate(**values), numeric_derivative(f, wrt, values), tol)
        d2 = mg.derivative(f, wrt, order=2, mode=mode)
        close(d2.evaluate(**values), numeric_derivative(d1, wrt, values), tol)


# ---------------------------------------------------------------------------------------
# Values against SciPy, through mg.<name> and through SciPy's ufuncs
# ---------------------------------------------------------------------------------------

UNARY: list[tuple[str, Callable[..., Any], Any]] = [
    ("logit", sp.logit, P0),
    ("erf", sp.erf, X0),
    ("erfc", sp.erfc, X0),
    ("gammaln", sp.gammaln, Q0),
    ("digamma", sp.digamma, Q0),
]


@pytest.mark.parametrize(("name", "ufunc", "value"), UNARY, ids=[u[0] for u in UNARY])
def test_unary_values_match_scipy_and_the_ufunc_builds_the_node(
    name: str, ufunc: Any, value: Any
) -> None:
    X = mg.Matrix("X", value.shape)
    built = getattr(mg, name)(X)
    assert built.kind == name
    assert ufunc(X) is built  # scipy.special.<name> on an expression builds the same node
    close(built.evaluate(X=value), ufunc(value), 1e-13)


def test_expit_is_sigmoid_and_log_expit_is_its_log() -> None:
    X = mg.Matrix("X", X0.shape)
    assert sp.expit(X) is mg.sigmoid(X) is mg.expit(X)
    close(sp.expit(X).evaluate(X=X0), sp.expit(X0), 1e-14)
    close(sp.log_expit(X).evaluate(X=X0), sp.log_expit(X0), 1e-14)
    check_derivatives(mg.sum(sp.log_expit(X)), X, {"X": X0})


@pytest.mark.parametrize("n", [1, 2, 3])
def test_polygamma_matches_scipy_and_differentiates_to_the_next_order(n: int) -> None:
    x = mg.Vector("x", 4)
    x0 = Q0[0]
    f = mg.polygamma(n, x)
    close(f.evaluate(x=x0), sp.polygamma(n, x0), 1e-12)
    d = mg.derivative(f, x)
    close(d.evaluate(x=x0), np.diag(sp.polygamma(n + 1, x0)), 1e-12)
    assert mg.derivative(mg.sum(f), x) is mg.polygamma(n + 1, x)


def test_polygamma_of_order_zero_is_digamma_and_the_chain_is_gammaln_digamma_polygamma() -> None:
    s = mg.Scalar("s")
    assert mg.polygamma(0, s) is mg.digamma(s)
    assert mg.derivative(mg.gammaln(s), s) is mg.digamma(s)
    assert mg.derivative(mg.digamma(s), s) is mg.polygamma(1, s)
    close(mg.derivative(mg.gammaln(s), s, order=3).evaluate(s=1.7), sp.polygamma(2, 1.7), 1e-12)


@pytest.mark.parametrize("n", [-1, 1.5, True, np.array([1, 2])])
def test_polygamma_order_must_be_a_constant_nonnegative_integer(n: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="non-negative integer"):
        mg.polygamma(n, mg.Vector("x", 2))


def test_xlogy_and_xlog1py_values_match_scipy_with_broadcasting() -> None:
    X, Y = mg.Matrix("X", X0.shape), mg.Matrix("Y", Q0.shape)
    close(sp.xlogy(X, Y).evaluate(X=X0, Y=Q0), sp.xlogy(X0, Q0), 1e-14)
    close(sp.xlog1py(X, Y).evaluate(X=X0, Y=Q0), sp.xlog1py(X0, Q0), 1e-14)
    y = mg.Vector("y", 4)
    close(mg.xlogy(X, y).evaluate(X=X0, y=Q0[0]), sp.xlogy(X0, Q0[0]), 1e-14)
    close(sp.xlogy(2.0, Y).evaluate(Y=Q0), sp.xlogy(2.0, Q0), 1e-14)


@pytest.mark.parametrize(
    ("axis", "keepdims"),
    [(None, False), (0, False), (1, True), (-1, False), ((0, 1), True), ((), False)],
)
def test_logsumexp_softmax_log_softmax_match_scipy(axis: Any, keepdims: bool) -> None:
    X = mg.Matrix("X", X0.shape)
    f = mg.logsumexp(X, axis=axis, keepdims=keepdims)
    want = sp.logsumexp(X0, axis=axis, keepdims=keepdims)
    assert f.shape == np.shape(want)
    close(f.evaluate(X=X0), want, 1e-13)
    if axis != ():
        close(mg.softmax(X, axis=axis).evaluate(X=X0), sp.softmax(X0, axis=axis), 1e-13)
        close(mg.log_softmax(X, axis=axis).evaluate(X=X0), sp.log_softmax(X0, axis=axis), 1e-13)


def test_logsumexp_of_a_three_way_array_over_two_axes() -> None:
    T0 = RNG.standard_normal((2, 3, 4))
    T = mg.Tensor("T", T0.shape)
    f = mg.logsumexp(T, axis=(2, 0))
    close(f.evaluate(T=T0), sp.logsumexp(T0, axis=(0, 2)), 1e-13)
    check_derivatives(f, T, {"T": T0})


def test_logsumexp_with_weights_matches_scipy_and_differentiates_in_both() -> None:
    X, B = mg.Matrix("X", X0.shape), mg.Matrix("B", Q0.shape)
    f = mg.logsumexp(X, axis=1, b=B)
    assert f.kind == "weighted_logsumexp"
    close(f.evaluate(X=X0, B=Q0), sp.logsumexp(X0, axis=1, b=Q0), 1e-13)
    check_derivatives(f, X, {"X": X0, "B": Q0})
    check_derivatives(f, B, {"X": X0, "B": Q0})
    # a row of weights broadcast against X, with keepdims
    w = np.array([1.0, 2.0, 0.5, 3.0])
    g = mg.logsumexp(X, axis=0, b=w, keepdims=True)
    close(g.evaluate(X=X0), sp.logsumexp(X0, axis=0, b=w, keepdims=True), 1e-13)
    check_derivatives(g, X, {"X": X0})


def test_zero_weights_drop_their_terms_even_far_above_the_rest() -> None:
    """SciPy's masking idiom: a zero weight removes the entry, whatever its size."""
    x = mg.Vector("x", 3)
    w = np.array([0.0, 1.0, 1.0])
    x0 = np.array([800.0, 0.0, 1.0])
    f = mg.logsumexp(x, b=w)
    close(f.evaluate(x=x0), np.logaddexp(0.0, 1.0), 1e-13)
    e = sp.softmax([0.0, 1.0])
    hessian = np.zeros((3, 3))
    hessian[1:, 1:] = np.diag(e) - np.outer(e, e)
    with np.errstate(all="raise"):  # exp(800 − f) is never formed
        for mode in ("forward", "reverse"):
            close(mg.derivative(f, x, mode=mode).evaluate(x=x0), [0.0, *e], 1e-13)
            close(mg.derivative(f, x, order=2, mode=mode).evaluate(x=x0), hessian, 1e-13)


def test_logsumexp_gradient_is_the_softmax_and_its_hessian_the_closed_form() -> None:
    x = mg.Vector("x", 5)
    x0 = RNG.standard_normal(5)
    p = sp.softmax(x0)
    f = mg.logsumexp(x)
    close(mg.derivative(f, x).evaluate(x=x0), p, 1e-14)
    hessian = np.diag(p) - np.outer(p, p)
    for mode in ("forward", "reverse"):
        close(mg.derivative(f, x, order=2, mode=mode).evaluate(x=x0), hessian, 1e-14)
    # the Jacobian of softmax is the same matrix
    close(mg.derivative(mg.softmax(x), x).evaluate(x=x0), hessian, 1e-14)


# ---------------------------------------------------------------------------------------
# Derivatives: first and second order, forward and reverse, against numerics
# ---------------------------------------------------------------------------------------

CASES: list[tuple[str, Callable[[Any], Expr], Any]] = [
    ("logit", lambda X: mg.logit(X), P0),
    ("erf", lambda X: mg.erf(X), X0),
    ("erfc", lambda X: mg.erfc(X) * X, X0),
    ("gammaln", lambda X: mg.gammaln(X @ X.T), Q0),
    ("digamma", lambda X: mg.sum(mg.digamma(X), axis=0), Q0),
    ("polygamma", lambda X: mg.polygamma(2, X), Q0),
    ("xlogy-self", lambda X: mg.sum(mg.xlogy(X, X)), Q0),
    ("xlog1py", lambda X: mg.xlog1py(np.sin(X), X), Q0),
    ("softmax", lambda X: mg.softmax(X, axis=1), X0),
    ("log-softmax", lambda X: mg.log_softmax(X, axis=0), X0),
    ("logsumexp-keepdims", lambda X: mg.logsumexp(X @ X.T, axis=0, keepdims=True), X0),
    ("cross-entropy", lambda X: -mg.sum(mg.xlogy(P0, mg.softmax(X, axis=1))), X0),
]


@pytest.mark.parametrize(("name", "build", "value"), CASES, ids=[c[0] for c in CASES])
def test_first_and_second_derivatives_match_numerics_in_both_modes(
    name: str, build: Callable[[Any], Expr], value: Any
) -> None:
    X = mg.Matrix("X", value.shape)
    check_derivatives(build(X), X, {"X": value})


def test_forward_and_reverse_agree_on_a_mixed_expression() -> None:
    X, y = mg.Matrix("X", (3, 4)), mg.Vector("y", 4)
    f = (mg.sum(mg.xlogy(mg.expit(X), mg.softmax(X @ y)[:, None] + 1.0))
         + mg.logsumexp(mg.gammaln(X * X + 1.0), b=y * y)
         + mg.sum(mg.erf(X) @ mg.log_softmax(y)))
    values = {"X": X0, "y": RNG.standard_normal(4)}
    for wrt in (X, y):
        forward = mg.derivative(f, wrt, order=2, mode="forward").evaluate(**values)
        reverse = mg.derivative(f, wrt, order=2, mode="reverse").evaluate(**values)
        close(forward, reverse, 1e-10)
        close(mg.derivative(f, wrt).evaluate(**values),
              numeric_derivative(f, wrt, values), 1e-6)


def test_the_function_api_traces_scipy_ufuncs_and_mg_logsumexp() -> None:
    def loss(w: Any) -> Any:
        return sp.logsumexp(np.zeros(1)) + mg.logsumexp(w) - np.sum(sp.gammaln(w * w + 1.0))

    w0 = RNG.standard_normal(4)
    want = sp.softmax(w0) - 2 * w0 * sp.digamma(w0 * w0 + 1.0)
    close(mg.grad(loss)(w0), want, 1e-12)


# ---------------------------------------------------------------------------------------
# Conventions of xlogy and xlog1py at x = 0 (JAX's custom JVP)
# ---------------------------------------------------------------------------------------


def _partials(f: Expr, x: Any, y: Any, values: dict[str, Any]) -> tuple[Any, Any]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return (mg.derivative(f, x).evaluate(**values), mg.derivative(f, y).evaluate(**values))


@pytest.mark.parametrize(("fn", "inner", "pole"), [
    (mg.xlogy, np.log, 0.0), (mg.xlog1py, np.log1p, -1.0),
])
def test_xlogy_at_x_zero_is_zero_with_jax_partials(fn: Any, inner: Any, pole: float) -> None:
    x, y = mg.Scalar("x"), mg.Scalar("y")
    f = fn(x, y)
    # x = 0 < y - pole: value 0, partials (log y, 0), finite; also for the Hessian
    for y0 in (0.5, 2.0):
        values = {"x": 0.0, "y": y0}
        assert float(f.evaluate(**values)) == 0.0
        dx, dy = _partials(f, x, y, values)
        close(dx, inner(y0), 1e-15)
        assert float(dy) == 0.0
        close(mg.derivative(mg.derivative(f, x), y).evaluate(**values), 1 / (y0 - pole), 1e-14)
        assert float(mg.derivative(f, y, order=2).evaluate(**values)) == 0.0
    # at the pole: value 0 (SciPy), partials -inf and NaN (0/0), as JAX returns
    values = {"x": 0.0, "y": pole}
    assert float(f.evaluate(**values)) == 0.0
    dx, dy = _partials(f, x, y, values)
    assert float(dx) == -math.inf
    assert math.isnan(float(dy))


def test_entropy_term_is_finite_where_probabilities_vanish() -> None:
    """``Σ p log q`` with ``p = 0`` where ``q`` is not: the gradient in ``q`` is 0 there."""
    q = mg.Vector("q", 3)
    p0 = np.array([0.0, 0.25, 0.75])
    f = mg.sum(mg.xlogy(p0, q))
    q0 = np.array([0.2, 0.3, 0.5])
    close(mg.derivative(f, q).evaluate(q=q0), p0 / q0, 1e-15)
    assert np.all(np.isfinite(mg.derivative(f, q, order=2).evaluate(q=q0)))


# ---------------------------------------------------------------------------------------
# No overflow at large |x|
# ---------------------------------------------------------------------------------------

BIG = np.array([1000.0, -1000.0, 999.0, -3.0])

STABLE: list[tuple[str, Callable[[Any], Expr], Callable[[Any], Any]]] = [
    ("expit", lambda x: mg.expit(x), sp.expit),
    ("log_expit", lambda x: sp.log_expit(x), sp.log_expit),
    ("logsumexp", lambda x: mg.logsumexp(x), sp.logsumexp),
    ("logsumexp-b", lambda x: mg.logsumexp(x, b=np.array([1.0, 2.0, 0.5, 1.0])),
     lambda v: sp.logsumexp(v, b=np.array([1.0, 2.0, 0.5, 1.0]))),
    ("softmax", lambda x: mg.softmax(x), sp.softmax),
    ("log_softmax", lambda x: mg.log_softmax(x), sp.log_softmax),
]


@pytest.mark.parametrize(("name", "build", "want"), STABLE, ids=[s[0] for s in STABLE])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_large_arguments_give_finite_values_and_derivatives(
    name: str, build: Callable[[Any], Expr], want: Callable[[Any], Any], sign: float
) -> None:
    x = mg.Vector("x", 4)
    x0 = sign * BIG
    f = build(x)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        # no overflow, no 0 * inf, no log 0 anywhere (exp(-2000) may underflow to 0)
        value = f.evaluate(x=x0)
        close(value, want(x0), 1e-12)
        for mode in ("forward", "reverse"):
            for order in (1, 2):
                d = mg.derivative(f, x, order=order, mode=mode).evaluate(x=x0)
                assert np.all(np.isfinite(d)), (name, mode, order)


def test_logsumexp_gradient_at_1000_is_the_exact_softmax() -> None:
    x = mg.Vector("x", 3)
    g = mg.derivative(mg.logsumexp(x), x).evaluate(x=np.array([1000.0, 1000.0, -1000.0]))
    close(g, [0.5, 0.5, 0.0], 1e-12)  # exp(x − f) with x, f near 1000: ulp(1000) ≈ 1e-13
    g = mg.derivative(mg.sum(mg.log_softmax(x)), x).evaluate(x=np.array([-1000.0, 0.0, 1000.0]))
    close(g, [1.0, 1.0, -2.0], 1e-12)


# ---------------------------------------------------------------------------------------
# SciPy's plain-Python functions, errors, printing, the formula language
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("call", [
    lambda x: sp.logsumexp(x), lambda x: sp.logsumexp(x, b=np.ones(3)),
    lambda x: sp.softmax(x), lambda x: sp.log_softmax(x, axis=0),
    lambda x: sp.polygamma(1, x),
], ids=["logsumexp", "logsumexp-b", "softmax", "log_softmax", "polygamma"])
def test_scipy_functions_that_are_not_ufuncs_refuse_expressions(call: Any) -> None:
    """NumPy gives an expression no way to intercept them: they fail loudly
    (mg.logsumexp, mg.softmax, mg.log_softmax, mg.polygamma are the way)."""
    with pytest.raises(UnsupportedOperationError):
        call(mg.Vector("x", 3))


def test_invalid_uses_fail_clearly() -> None:
    x = mg.Vector("x", 3)
    with pytest.raises(UnsupportedOperationError, match="return_sign"):
        mg.logsumexp(x, return_sign=True)
    with pytest.raises(UnsupportedOperationError, match="real"):
        mg.erf(mg.Vector("z", 3, dtype=np.complex128))
    with pytest.raises(ValueError, match="axis"):
        mg.logsumexp(x, axis=1)
    with pytest.raises(ValueError, match="broadcast"):
        mg.logsumexp(x, b=np.ones(2))
    with pytest.raises(ValueError, match="broadcast"):
        mg.xlogy(x, mg.Vector("y", 2))


def test_printed_forms_and_numpy_source() -> None:
    x, X = mg.Vector("x", 3), mg.Matrix("X", (2, 3))
    assert str(mg.polygamma(2, x)) == "polygamma(2, x)"
    assert mg.polygamma(2, x).latex() == r"\psi^{(2)}(x)"
    assert mg.gammaln(x).latex() == r"\log\Gamma(x)"
    assert str(mg.logsumexp(X, axis=1)) == "logsumexp(X, axis=(1,), keepdims=False)"
    f = mg.logsumexp(X, axis=0, b=np.full((2, 3), 2.0)) + mg.sum(mg.xlog1py(X, X * X))
    source = mg.printing.to_numpy(f)
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # the generated source imports scipy.special itself
    close(namespace["f"](X0[:2, :3]), f.evaluate(X=X0[:2, :3]), 1e-13)


def test_formula_language_names() -> None:
    shapes = {"x": (3,), "p": (3,)}
    x0, p0 = RNG.standard_normal(3), RNG.uniform(0.1, 0.9, 3)
    cases = {
        "logsumexp(x)": sp.logsumexp(x0),
        "softmax(x)": sp.softmax(x0),
        "log_softmax(x)": sp.log_softmax(x0),
        "expit(x)": sp.expit(x0),
        "log_expit(x)": sp.log_expit(x0),
        "logit(p)": sp.logit(p0),
        "erf(x) + erfc(x)": np.ones(3),
        "gammaln(p) + digamma(p) + polygamma(1, p)":
            sp.gammaln(p0) + sp.digamma(p0) + sp.polygamma(1, p0),
        "xlogy(p, p) + xlog1py(p, p)": sp.xlogy(p0, p0) + sp.xlog1py(p0, p0),
    }
    for text, want in cases.items():
        e = mg.parse(text, shapes)
        values = {k: v for k, v in {"x": x0, "p": p0}.items()
                  if k in {s.name for s in e.symbols()}}
        close(e.evaluate(**values), want, 1e-13)


# ---------------------------------------------------------------------------------------
# Agreement with JAX
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jax() -> Any:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    return jax


def _jax_cases(jax: Any) -> list[tuple[str, Callable[[Any], Any], Callable[[Any], Any], Any]]:
    import jax.numpy as jnp
    import jax.scipy.special as js

    w = np.array([0.5, 2.0, 1.0, 0.25])
    return [
        ("expit", lambda v: jnp.sum(js.expit(v) ** 2), lambda v: mg.sum(mg.expit(v) ** 2), X0[0]),
        ("logit", lambda v: jnp.sum(js.logit(v) ** 2), lambda v: mg.sum(mg.logit(v) ** 2), P0[0]),
        ("erf", lambda v: jnp.sum(js.erf(v) * v), lambda v: mg.sum(mg.erf(v) * v), X0[0]),
        ("erfc", lambda v: jnp.sum(js.erfc(v) ** 2), lambda v: mg.sum(mg.erfc(v) ** 2), X0[0]),
        ("gammaln", lambda v: jnp.sum(js.gammaln(v)), lambda v: mg.sum(mg.gammaln(v)), Q0[0]),
        ("digamma", lambda v: jnp.sum(js.digamma(v) ** 2), lambda v: mg.sum(mg.digamma(v) ** 2),
         Q0[0]),
        ("polygamma", lambda v: jnp.sum(js.polygamma(1, v)),
         lambda v: mg.sum(mg.polygamma(1, v)), Q0[0]),
        ("xlogy", lambda v: jnp.sum(js.xlogy(v, v * v + 1)),
         lambda v: mg.sum(mg.xlogy(v, v * v + 1.0)), X0[0]),
        ("xlog1py", lambda v: jnp.sum(js.xlog1py(v, v * v)),
         lambda v: mg.sum(mg.xlog1py(v, v * v)), X0[0]),
        ("logsumexp", lambda v: js.logsumexp(v), lambda v: mg.logsumexp(v), X0[0]),
        ("logsumexp-b", lambda v: js.logsumexp(v, b=w), lambda v: mg.logsumexp(v, b=w), X0[0]),
        ("softmax", lambda v: jnp.sum(jax.nn.softmax(v) * w),
         lambda v: mg.sum(mg.softmax(v) * w), X0[0]),
        ("log_softmax", lambda v: jnp.sum(jax.nn.log_softmax(v) * w),
         lambda v: mg.sum(mg.log_softmax(v) * w), X0[0]),
    ]


def test_gradients_and_hessians_agree_with_jax(jax: Any) -> None:
    for name, f_jax, f_mg, v0 in _jax_cases(jax):
        v = mg.Vector("v", v0.shape[0])
        f = f_mg(v)
        close(f.evaluate(v=v0), f_jax(v0), 1e-12, name)
        close(mg.derivative(f, v).evaluate(v=v0), jax.grad(f_jax)(v0), 1e-10, name)
        close(mg.derivative(f, v, order=2).evaluate(v=v0), jax.hessian(f_jax)(v0), 1e-9, name)


def test_xlogy_conventions_agree_with_jax(jax: Any) -> None:
    import jax.scipy.special as js

    x, y = mg.Scalar("x"), mg.Scalar("y")
    for fn, f_jax, pole in ((mg.xlogy, js.xlogy, 0.0), (mg.xlog1py, js.xlog1py, -1.0)):
        for y0 in (pole, 0.5, 3.0):
            values = {"x": 0.0, "y": y0}
            want = jax.grad(f_jax, argnums=(0, 1))(0.0, y0)
            got = _partials(fn(x, y), x, y, values)
            np.testing.assert_allclose(np.asarray(got, dtype=float),
                                       np.asarray(want, dtype=float), rtol=1e-14)

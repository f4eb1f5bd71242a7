"""Piecewise and elementwise functions: comparisons (masks), where, maximum,
minimum, fmax, fmin, clip, abs, sign, the new unary functions (log1p, ..., arctanh)
and the binary ones (pow with an expression exponent, logaddexp(2), arctan2,
hypot).

Values are checked against NumPy; derivatives against numerical differentiation
at points away from the switches, in both accumulation modes, first and second
order; and the conventions at the switches (ties, boundaries) against the
documented subgradients (JAX's), computed here by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numpy_checks import bind, check_derivatives, close, grad_at

import matgrad as mg
from matgrad import numeric
from matgrad.errors import InvalidArgumentError, ShapeError, UnsupportedOperationError

RNG = np.random.default_rng(11)


# ---------------------------------------------------------------------------------------
# Values against NumPy, with broadcasting
# ---------------------------------------------------------------------------------------

BINARY = [np.maximum, np.minimum, np.fmax, np.fmin, np.greater, np.greater_equal, np.less,
          np.less_equal, np.equal, np.not_equal, np.logaddexp, np.logaddexp2, np.arctan2,
          np.hypot]
SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)),
          ((3, 4), ())]


@pytest.mark.parametrize("ufunc", BINARY, ids=lambda u: u.__name__)
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_binary_values_and_broadcasting_follow_numpy(ufunc: np.ufunc, shapes: Any) -> None:
    sa, sb = shapes
    a0 = np.round(RNG.standard_normal(sa), 1)  # rounded: some exact ties
    b0 = np.round(RNG.standard_normal(sb), 1)
    a, b = mg.Tensor("a", sa), mg.Tensor("b", sb)
    expr = ufunc(a, b)
    want = np.asarray(ufunc(a0, b0), dtype=float)
    assert expr.shape == want.shape
    close(expr.evaluate(a=a0, b=b0), want, 1e-14)
    close(ufunc(b, a).evaluate(a=a0, b=b0), np.asarray(ufunc(b0, a0), dtype=float), 1e-14)


UNARY = [np.log1p, np.expm1, np.log2, np.log10, np.exp2, np.tan, np.arcsin, np.arccos,
         np.arctan, np.sinh, np.cosh, np.arcsinh, np.arctanh, np.abs, np.fabs, np.sign,
         np.square, np.reciprocal]


@pytest.mark.parametrize("ufunc", UNARY, ids=lambda u: u.__name__)
def test_unary_values_follow_numpy(ufunc: np.ufunc) -> None:
    x0 = RNG.uniform(0.1, 0.9, (3, 4)) * RNG.choice([-1.0, 1.0], (3, 4))
    if ufunc in (np.log1p, np.log2, np.log10):
        x0 = np.abs(x0)
    x = mg.Matrix("x", (3, 4))
    close(ufunc(x).evaluate(x=x0), ufunc(x0), 1e-14)
    close(getattr(mg, ufunc.__name__.replace("fabs", "abs").replace("absolute", "abs"))(x)
          .evaluate(x=x0), ufunc(x0), 1e-14)


@pytest.mark.parametrize(
    "f",
    [np.log1p, np.expm1, np.log2, np.log10, np.exp2, np.tan, np.arcsin, np.arccos, np.arctan,
     np.sinh, np.cosh, np.arcsinh, np.arctanh],
    ids=lambda u: u.__name__,
)
def test_unary_derivatives_against_numerics(f: np.ufunc) -> None:
    x0 = RNG.uniform(0.1, 0.8, (4,)) * np.array([1.0, -1.0, 1.0, -1.0])
    if f in (np.log1p, np.log2, np.log10):
        x0 = np.abs(x0)
    check_derivatives(lambda v: np.sum(f(v) * np.arange(1.0, 5.0)), x0)
    check_derivatives(f, x0)


# ---------------------------------------------------------------------------------------
# Comparisons are masks with derivative zero
# ---------------------------------------------------------------------------------------


def test_comparisons_of_expressions_build_masks() -> None:
    Z, W = mg.Matrix("Z", (2, 3)), mg.Matrix("W", (2, 3))
    Z0, W0 = np.array([[1.0, -2.0, 0.0], [3.0, 0.5, -1.0]]), np.ones((2, 3))
    cases = [
        (Z > 0, Z0 > 0), (Z >= 0, Z0 >= 0), (Z < 0, Z0 < 0), (Z <= 0, Z0 <= 0),
        (Z == 0, Z0 == 0), (Z != 0, Z0 != 0), (0 < Z, 0 < Z0), (Z > W, Z0 > W0),
        (np.greater(Z, W), Z0 > W0), (np.equal(Z, W), Z0 == W0), (np.zeros(3) > Z, Z0 < 0),
        (Z == np.array([1.0, 0.0, 0.0]), Z0 == np.array([1.0, 0.0, 0.0])),
    ]
    for mask, want in cases:
        assert isinstance(mask, mg.Expr) and mask.shape == (2, 3)
        value = bind(mask, Z=Z0, W=W0)
        assert value.dtype == np.float64
        close(value, want.astype(float), 0)
        d = mg.derivative(mg.sum(mask * Z), Z)  # the mask itself contributes nothing
        close(bind(d, Z=Z0, W=W0), want.astype(float), 0)
    assert str(Z > W) == "(Z > W)" and (Z >= W).latex() == r"\left[Z \geq W\right]"


def test_equality_of_two_expressions_is_identity_and_np_equal_is_the_mask() -> None:
    x, y = mg.Vector("x", 3), mg.Vector("y", 3)
    assert (x == x) is True and (x == y) is False and (x != y) is True
    assert x in {x: 1} and [y, x].index(x) == 1
    assert np.equal(x, y).kind == "equal"
    with pytest.raises(InvalidArgumentError, match="np.equal"):
        mg.where(x == y, x, y)
    with pytest.raises(TypeError, match="truth value"):
        bool(x > 0)


def test_comparisons_of_complex_expressions_are_refused() -> None:
    z = mg.Vector("z", 2, dtype=np.complex128)
    with pytest.raises(UnsupportedOperationError, match="complex"):
        z > 0  # noqa: B015


# ---------------------------------------------------------------------------------------
# where
# ---------------------------------------------------------------------------------------


def test_where_values_and_broadcasting() -> None:
    x = mg.Tensor("x", (3, 4))
    x0 = RNG.standard_normal((3, 4))
    for cond, a, b in [
        (x > 0, x, 0.0), (np.arange(4) % 2 == 0, x, 2 * x), (x > 0.5, 1.0, x ** 2),
        (x, x, -x),  # a non-boolean condition: nonzero is true
    ]:
        want = np.where(
            *(np.asarray(v.evaluate(x=x0)) if isinstance(v, mg.Expr) else v for v in (cond, a, b))
        )
        close(np.where(cond, a, b).evaluate(x=x0), want, 1e-14)
    with pytest.raises(UnsupportedOperationError, match="one argument"):
        np.where(x > 0)


def test_where_derivative_selects_and_the_condition_has_none() -> None:
    x0 = np.array([1.5, -0.5, 2.0, -0.3])

    def huber(v: Any) -> Any:
        return np.sum(np.where(np.abs(v) <= 1.0, 0.5 * v**2, np.abs(v) - 0.5))

    check_derivatives(huber, x0)
    x = mg.Vector("x", 4)
    # at a switch, the branch the condition picks gives the derivative
    f = mg.sum(np.where(x > 0, x, -3 * x))
    close(grad_at(f, x, x=np.array([0.0, 1.0, -1.0, 0.0])), [-3, 1, -3, -3], 0)


def test_where_keeps_infinities_of_the_other_branch_out_of_the_value() -> None:
    x = mg.Vector("x", 3)
    x0 = np.array([-1.0, 2.0, 0.5])
    with np.errstate(all="ignore"):
        f = mg.sum(np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), 0.0))  # double where
        close(grad_at(f, x, x=x0), [0.0, 0.5, 2.0], 1e-14)


# ---------------------------------------------------------------------------------------
# maximum, minimum, fmax, fmin, clip: values, smooth points, ties
# ---------------------------------------------------------------------------------------


def test_relu_network_gradient_against_numerics() -> None:
    rng = np.random.default_rng(4)  # its own draws: the same point in any test order
    W1, b1 = rng.standard_normal((5, 3)), rng.standard_normal(5)
    w2 = rng.standard_normal(5)

    def loss(x: Any) -> Any:
        h = np.maximum(x @ W1.T + b1, 0.0)
        return np.sum(np.log1p(np.exp(-(h @ w2))))

    x0 = rng.standard_normal((4, 3))
    assert np.min(np.abs(x0 @ W1.T + b1)) > 0.05  # away from the kinks of the ReLU
    check_derivatives(loss, x0)


@pytest.mark.parametrize("ufunc", [np.maximum, np.minimum, np.fmax, np.fmin],
                         ids=lambda u: u.__name__)
def test_extremes_away_from_ties_against_numerics(ufunc: np.ufunc) -> None:
    a0 = np.array([1.0, -2.0, 0.5, 3.0])
    b0 = np.array([0.0, 1.0, -1.5, 2.0])
    check_derivatives(lambda v: np.sum(ufunc(v**2, b0 * v)), a0)
    check_derivatives(lambda v: np.sum(ufunc(np.sin(v), -0.4)), a0)


def tie_grads(ufunc: np.ufunc) -> tuple[np.ndarray, np.ndarray]:
    """The derivatives of ``Σ ufunc(a, b)`` with respect to ``a`` and ``b`` at
    ``a = b`` (entries 0.0, 1.5, -2.0)."""
    a, b = mg.Vector("a", 3), mg.Vector("b", 3)
    v = np.array([0.0, 1.5, -2.0])
    f = mg.sum(ufunc(a, b))
    return grad_at(f, a, a=v, b=v), grad_at(f, b, a=v, b=v)


def test_maximum_and_minimum_share_ties_equally() -> None:
    for ufunc in (np.maximum, np.minimum):
        da, db = tie_grads(ufunc)
        close(da, [0.5] * 3, 0)
        close(db, [0.5] * 3, 0)
    x = mg.Vector("x", 3)  # relu at 0
    close(grad_at(mg.sum(np.maximum(x, 0)), x, x=np.array([0.0, 2.0, -1.0])), [0.5, 1, 0], 0)


def test_fmax_and_fmin_give_ties_to_the_second_operand() -> None:
    for ufunc in (np.fmax, np.fmin):
        da, db = tie_grads(ufunc)
        close(da, [0.0] * 3, 0)
        close(db, [1.0] * 3, 0)


def test_clip_values_and_boundary_convention() -> None:
    x = mg.Vector("x", 6)
    x0 = np.array([-1.0, 0.0, 0.25, 1.0, 2.0, 0.5])
    f = np.clip(x, 0.0, 1.0)
    close(f.evaluate(x=x0), np.clip(x0, 0.0, 1.0), 0)
    # interior 1, outside 0, on a boundary ½ (shared with the bound, as JAX's maximum/minimum)
    close(grad_at(mg.sum(f), x, x=x0), [0, 0.5, 1, 0.5, 0, 1], 0)
    lo, hi = mg.Vector("lo", 6), mg.Scalar("hi")
    g = mg.sum(np.clip(x, lo, hi))
    values = {"x": x0, "lo": np.zeros(6), "hi": np.array(1.0)}
    close(grad_at(g, lo, **values), [1, 0.5, 0, 0, 0, 0], 0)
    close(grad_at(g, hi, **values), 0.5 + 1 + 0, 0)
    # a collapsed interval: both ties, ½ · ½
    close(grad_at(mg.sum(np.clip(x, 1.0, 1.0)), x, x=np.ones(6)), [0.25] * 6, 0)
    assert mg.clip(x, a_max=0.5).shape == (6,)
    with pytest.raises(InvalidArgumentError):
        mg.clip(x)
    with pytest.raises(UnsupportedOperationError, match="out"):
        np.clip(x, 0, 1, out=np.zeros(6))


def test_clip_against_numerics_away_from_the_boundaries() -> None:
    x0 = np.array([-1.3, 0.2, 0.7, 1.8])
    check_derivatives(lambda v: np.sum(np.clip(v, -1.0, 1.0) ** 3 * v), x0)


def test_abs_and_sign_at_zero() -> None:
    x = mg.Vector("x", 3)
    x0 = np.array([0.0, -2.0, 3.0])
    close(grad_at(mg.sum(np.abs(x)), x, x=x0), [0, -1, 1], 0)  # abs′(0) = 0
    close(grad_at(mg.sum(np.sign(x) * 5), x, x=x0), [0, 0, 0], 0)  # sign′ = 0


def test_hypot_at_the_origin_takes_the_zero_subgradient() -> None:
    a, b = mg.Vector("a", 2), mg.Vector("b", 2)
    f = mg.sum(np.hypot(a, b))
    values = {"a": np.array([0.0, 3.0]), "b": np.array([0.0, 4.0])}
    close(grad_at(f, a, **values), [0.0, 0.6], 1e-15)
    close(grad_at(f, b, **values), [0.0, 0.8], 1e-15)
    check_derivatives(lambda v: np.sum(np.hypot(v, v**2 + 1.0)), np.array([0.3, -1.2, 2.0]))


def test_binary_smooth_functions_against_numerics() -> None:
    x0 = np.array([0.3, -1.2, 2.0, 0.7])
    c = np.array([1.0, 0.5, -0.5, 2.0])
    check_derivatives(lambda v: np.sum(np.logaddexp(v, c * v)), x0)
    check_derivatives(lambda v: np.logaddexp2(v, 2.0 - v), x0)
    check_derivatives(lambda v: np.arctan2(v + 3.0, c * v), x0)
    check_derivatives(lambda v: np.sum(np.arctan2(c, v)), x0)


def test_logaddexp_does_not_overflow() -> None:
    x = mg.Vector("x", 2)
    x0 = np.array([1000.0, -1000.0])
    f = mg.sum(np.logaddexp(x, 999.0))
    close(f.evaluate(x=x0), np.sum(np.logaddexp(x0, 999.0)), 1e-14)
    close(grad_at(f, x, x=x0), [1 / (1 + np.exp(-1.0)), 0.0], 1e-14)


# ---------------------------------------------------------------------------------------
# Powers with an expression exponent
# ---------------------------------------------------------------------------------------


def test_power_with_an_expression_exponent() -> None:
    x, y = mg.Vector("x", 3), mg.Vector("y", 3)
    x0, y0 = np.array([0.5, 1.5, 2.0]), np.array([-1.0, 0.5, 3.0])
    f = x**y
    assert f.kind == "pow" and np.power(x, y) is f
    close(f.evaluate(x=x0, y=y0), x0**y0, 1e-14)
    close((2.0**y).evaluate(y=y0), 2.0**y0, 1e-14)
    assert (x**2).kind == "power" and np.power(x, 2).kind == "power"
    check_derivatives(lambda v: np.sum(v**v), x0)
    check_derivatives(lambda v: np.sum(v ** np.array([1.0, 2.0, 3.0])), np.array([0.0, -1.0, 2.0]))
    check_derivatives(lambda v: 3.0 ** np.sum(v), x0)
    d = grad_at(mg.sum(x**y), y, x=x0, y=y0)
    close(d, x0**y0 * np.log(x0), 1e-14)


def test_power_with_integer_array_exponent_is_finite_at_zero() -> None:
    x = mg.Vector("x", 3)
    f = mg.sum(x ** np.array([0.0, 1.0, 2.0]))
    h = mg.derivative(f, x, order=2).evaluate(x=np.zeros(3))
    close(h, np.diag([0.0, 0.0, 2.0]), 0)


# ---------------------------------------------------------------------------------------
# The other entry points: mg.*, the function API, the formula language, printing
# ---------------------------------------------------------------------------------------


def test_function_api_on_plain_numpy_code() -> None:
    def loss(w: Any) -> Any:
        z = np.tanh(w) * 3.0
        return (np.sum(np.maximum(z, 0.1) ** 2) + np.sum(np.log1p(np.exp2(z)))
                + np.sum(np.clip(z, -1.0, 1.0) * np.cosh(w)) + np.sum(np.arctan(w) * np.expm1(w)))

    w0 = np.array([0.7, -1.4, 0.15, 2.0])
    close(mg.grad(loss)(w0), numeric.gradient(loss, w0, method="richardson"), 1e-7)
    close(mg.hessian(loss)(w0), numeric.hessian(loss, w0, method="richardson"), 1e-5)


def test_formula_language_names() -> None:
    x, y = mg.Vector("x", 3), mg.Vector("y", 3)
    shapes = {"x": 3, "y": 3}
    assert mg.parse("maximum(x, y)", shapes) is mg.maximum(x, y)
    assert mg.parse("minimum(x, y)", shapes) is mg.minimum(x, y)
    assert mg.parse("log1p(x)", shapes) is mg.log1p(x)
    assert mg.parse("hypot(x, y)", shapes) is mg.hypot(x, y)
    assert mg.parse("clip(x, 0, 1)", shapes) is mg.clip(x, 0.0, 1.0)


def test_printing_and_numpy_source_of_the_new_operations() -> None:
    x, y = mg.Vector("x", 3), mg.Vector("y", 3)
    x0, y0 = np.array([0.5, 1.5, 2.0]), np.array([-1.0, 0.5, 0.75])
    expr = (mg.where(x > y, mg.log1p(x), mg.maximum(x, y)) + x**y + mg.hypot(x, y)
            + (x <= y) * mg.arctan2(y, x))
    for form in (str(expr), expr.latex(), expr.einsum()):
        assert form
    namespace: dict[str, Any] = {}
    exec(expr.to_numpy("f"), namespace)
    close(namespace["f"](x0, y0), expr.evaluate(x=x0, y=y0), 1e-14)


def test_shape_errors_name_both_shapes() -> None:
    with pytest.raises(ShapeError, match=r"\(3,\).*\(4,\)"):
        mg.maximum(mg.Vector("x", 3), mg.Vector("y", 4))


# ---------------------------------------------------------------------------------------
# Against JAX (skipped where JAX is not installed)
# ---------------------------------------------------------------------------------------


def test_tie_conventions_match_jax() -> None:
    """Each function written once against a NumPy-like module ``m``: matgrad traces
    it with NumPy, JAX with ``jax.numpy``; at ties and boundaries the gradients
    agree.  (``abs′(0)`` is not among them: matgrad takes 0, JAX 1.)"""
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    jax.config.update("jax_enable_x64", True)
    v = np.array([0.0, 1.0, 1.0, -2.0])
    cases: list[Callable[[Any, Any], Any]] = [
        lambda m, w: m.sum(m.maximum(w, 1.0)),
        lambda m, w: m.sum(m.minimum(w, 0.0)),
        lambda m, w: m.sum(m.fmax(w, 1.0)),
        lambda m, w: m.sum(m.fmin(1.0, w)),
        lambda m, w: m.sum(m.clip(w, 0.0, 1.0)),
        lambda m, w: m.max(w),
        lambda m, w: m.sum(m.where(w > 0, w, 2 * w)),
        lambda m, w: m.sum(m.sign(w) * w),
    ]
    for f in cases:
        want = np.asarray(jax.grad(lambda w, f=f: f(jnp, w))(jnp.asarray(v)))
        close(mg.grad(lambda w, f=f: f(np, w))(v), want, 1e-12)


@pytest.mark.parametrize("y", [2.0, 3.0, 1.5])
def test_varying_exponent_at_a_zero_base_has_the_limits(y: float) -> None:
    """f(x, y) = xʸ at x = 0, y > 0 is 0 for every y near, so ∂f/∂y = 0 and
    ∂²f/∂y² = 0 (no 0 · log 0); ∂²f/∂x∂y = lim x^(y−1)(1 + y log x) = 0 for y > 1;
    ∂²f/∂x² = y(y − 1) x^(y−2): 2 at y = 2, 0 for y > 2 (by hand)."""
    p = np.array([0.0, y])
    f = lambda v: v[0] ** v[1]
    np.testing.assert_array_equal(mg.grad(f)(p), [0.0, 0.0])
    if y >= 2.0:
        np.testing.assert_allclose(mg.hessian(f)(p), [[2.0 if y == 2.0 else 0.0, 0.0], [0.0, 0.0]])
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    np.testing.assert_allclose(mg.grad(f)(p), np.asarray(jax.grad(f)(jax.numpy.asarray(p))))

"""Taylor polynomials (matgrad.calculus.taylor): MML (5.7), (5.147), (5.150)-(5.159).

The book's worked examples 5.3, 5.4 and 5.15 with the book's numbers (written out
by hand, see /work/shared/CHAPTER5.md), property tests (a polynomial of degree
at most k is its own Taylor polynomial of any order >= k; the remainder of T_k
shrinks like h^(k+1)), and the behaviour of the API: other symbols, ``values=``,
vector- and matrix-valued maps, matrix variables, errors.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import matgrad as mg
from matgrad.calculus.taylor import substitute, taylor_terms
from matgrad.errors import BindingError, InvalidArgumentError

E1 = np.array([1.0, 0.0])
E2 = np.array([0.0, 1.0])


def values_on(expr, sym, points):
    """``expr`` evaluated at each of ``points`` for ``sym`` (compiled once)."""
    fn = mg.compile(expr, [sym])
    return np.array([fn(p) for p in points])


# =====================================================================================
# Example 5.3: x^4 at x0 = 1
# =====================================================================================


@functools.cache
def _ex53():
    x = mg.Scalar("x")
    return x, taylor_terms(x**4, x, 1.0, 6), mg.taylor(x**4, x, 1.0, 6)


def test_example_5_3_derivatives_and_coefficients():
    """f(1)=1, f'(1)=4, f''(1)=12, f'''(1)=24, f''''(1)=24, higher derivatives 0."""
    _, terms, _ = _ex53()
    coeffs = [float(t.evaluate()) for t in terms]
    derivs = [c * math.factorial(k) for k, c in enumerate(coeffs)]
    assert derivs == [1.0, 4.0, 12.0, 24.0, 24.0, 0.0, 0.0]
    # T6 = 1 + 4(x-1) + 6(x-1)^2 + 4(x-1)^3 + (x-1)^4
    assert coeffs == [1.0, 4.0, 6.0, 4.0, 1.0, 0.0, 0.0]


def test_example_5_3_T6_is_x4_as_a_polynomial():
    x, _, T6 = _ex53()
    grid = np.linspace(-5.0, 5.0, 101)
    got = values_on(T6, x, grid)
    np.testing.assert_allclose(got, grid**4, rtol=1e-13, atol=1e-12)
    # the same polynomial, coefficient by coefficient in the monomial basis
    fitted = np.polynomial.polynomial.polyfit(grid, got, 6)
    np.testing.assert_allclose(fitted, [0, 0, 0, 0, 1, 0, 0], atol=1e-9)


def test_example_5_3_lower_orders_are_not_exact():
    x = mg.Scalar("x")
    T3 = mg.taylor(x**4, x, 1.0, 3)
    # x^4 - T3(x) = (x - 1)^4
    grid = np.linspace(-2.0, 3.0, 11)
    np.testing.assert_allclose(values_on(T3, x, grid), grid**4 - (grid - 1) ** 4, atol=1e-11)


# =====================================================================================
# Example 5.4 / Figure 5.4: sin x + cos x at 0
# =====================================================================================


@functools.cache
def _ex54():
    x = mg.Scalar("x")
    f = mg.sin(x) + mg.cos(x)
    return x, f, taylor_terms(f, x, 0.0, 10)


def test_example_5_4_maclaurin_coefficients():
    """Derivatives at 0 cycle 1, 1, -1, -1: T = 1 + x - x^2/2! - x^3/3! + x^4/4! + ..."""
    _, _, terms = _ex54()
    signs = [1, 1, -1, -1] * 3
    expected = [signs[k] / math.factorial(k) for k in range(11)]
    got = [float(t.evaluate()) for t in terms]
    np.testing.assert_allclose(got, expected, rtol=1e-15, atol=0)


def test_example_5_4_T10_is_close_on_minus_4_to_4():
    x, f, _ = _ex54()
    grid = np.linspace(-4.0, 4.0, 801)
    exact = np.sin(grid) + np.cos(grid)
    errors = {k: np.abs(values_on(mg.taylor(f, x, 0.0, k), x, grid) - exact).max()
              for k in (0, 1, 5, 10)}
    # Lagrange's bound for T10: |f^(11)| <= sqrt(2), so |R10(x)| <= sqrt(2) 4^11 / 11!
    bound = math.sqrt(2) * 4.0**11 / math.factorial(11)
    assert errors[10] <= bound
    assert errors[10] == pytest.approx(0.12721531183, rel=1e-8)  # measured, at x = -4
    assert errors[10] < min(errors[0], errors[1], errors[5])
    # near 0 the polynomials agree with f to the order promised
    assert abs(float(mg.taylor(f, x, 0.0, 10).evaluate(x=0.5)) - (np.sin(0.5) + np.cos(0.5))) < 1e-9


# =====================================================================================
# Example 5.15: f(x, y) = x^2 + 2xy + y^3 at (1, 2)
# =====================================================================================


@functools.cache
def _ex515():
    v = mg.Vector("v", 2)
    x, y = E1 @ v, E2 @ v
    f = x**2 + 2 * x * y + y**3
    at = np.array([1.0, 2.0])
    return v, f, taylor_terms(f, v, at, 3), mg.taylor(f, v, at, 3)


def test_example_5_15_derivative_tensors():
    _, _, terms, _ = _ex515()
    c0, c1, c2, c3 = (t.evaluate() for t in terms)
    assert float(c0) == 13.0  # f(1, 2)
    np.testing.assert_allclose(c1, [6.0, 14.0])  # gradient
    np.testing.assert_allclose(2 * c2, [[2.0, 2.0], [2.0, 12.0]])  # Hessian H = 2! c2
    d3 = 6 * c3  # D^3 f = 3! c3: only d^3 f / dy^3 = 6 is non-zero
    expected = np.zeros((2, 2, 2))
    expected[1, 1, 1] = 6.0
    np.testing.assert_allclose(d3, expected, atol=1e-14)


def test_example_5_15_monomial_coefficients_13_6_14_1_6_2_1():
    """f = 13 + 6(x-1) + 14(y-2) + (x-1)^2 + 6(y-2)^2 + 2(x-1)(y-2) + (y-2)^3."""
    _, _, terms, _ = _ex515()
    c0, c1, c2, c3 = (t.evaluate() for t in terms)
    monomials = {
        "1": float(c0),
        "dx": c1[0],
        "dy": c1[1],
        "dx^2": c2[0, 0],
        "dy^2": c2[1, 1],
        "dx dy": c2[0, 1] + c2[1, 0],  # the symmetric tensor counts the mixed term twice
        "dy^3": c3[1, 1, 1],
        "other cubic": abs(c3).sum() - abs(c3[1, 1, 1]),
    }
    expected = {"1": 13, "dx": 6, "dy": 14, "dx^2": 1, "dy^2": 6, "dx dy": 2, "dy^3": 1,
                "other cubic": 0}
    assert monomials == pytest.approx(expected, abs=1e-13)


def test_example_5_15_T3_equals_f():
    v, f, _, T3 = _ex515()
    rng = np.random.default_rng(515)
    points = rng.uniform(-6, 6, size=(50, 2))
    exact = values_on(f, v, points)
    np.testing.assert_allclose(values_on(T3, v, points), exact, rtol=1e-12, atol=1e-10)
    # the book's polynomial, written out
    dx, dy = points[:, 0] - 1, points[:, 1] - 2
    book = 13 + 6 * dx + 14 * dy + dx**2 + 6 * dy**2 + 2 * dx * dy + dy**3
    np.testing.assert_allclose(exact, book, rtol=1e-12, atol=1e-10)
    # T2 misses exactly the cubic term (y - 2)^3
    T2 = mg.taylor(f, v, np.array([1.0, 2.0]), 2)
    np.testing.assert_allclose(values_on(T2, v, points), book - dy**3, rtol=1e-12, atol=1e-10)


# =====================================================================================
# Properties
# =====================================================================================

coeff = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False)
point = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)


@given(
    coeffs=st.lists(coeff, min_size=1, max_size=5),
    extra=st.integers(0, 2),
    x0=point,
    points=st.lists(point, min_size=3, max_size=6),
)
def test_univariate_polynomial_is_its_own_taylor_polynomial(coeffs, extra, x0, points):
    x = mg.Scalar("x")
    degree = len(coeffs) - 1
    f = mg.constant(coeffs[0]) + sum((c * x ** float(j) for j, c in enumerate(coeffs) if j),
                                     start=mg.constant(0.0))
    T = mg.taylor(f, x, x0, degree + extra)
    exact = np.polynomial.polynomial.polyval(np.array(points), coeffs)
    scale = 1 + np.abs(exact).max()
    np.testing.assert_allclose(values_on(T, x, points), exact, rtol=0, atol=1e-11 * scale)


@given(
    coeffs=st.lists(coeff, min_size=10, max_size=10),
    degree=st.integers(0, 3),
    extra=st.integers(0, 1),
    x0=st.tuples(point, point),
    pts=st.lists(st.tuples(point, point), min_size=2, max_size=4),
)
def test_bivariate_polynomial_is_its_own_taylor_polynomial(coeffs, degree, extra, x0, pts):
    v = mg.Vector("v", 2)
    x, y = E1 @ v, E2 @ v
    exps = [(a, b) for a in range(4) for b in range(4) if a + b <= degree]
    f = mg.constant(0.0)
    for (a, b), c in zip(exps, coeffs):
        f = f + c * x ** float(a) * y ** float(b)
    T = mg.taylor(f, v, np.array(x0), degree + extra)
    pts_arr = np.array(pts)
    exact = np.array([sum(c * p[0] ** a * p[1] ** b for (a, b), c in zip(exps, coeffs))
                      for p in pts_arr])
    scale = 1 + np.abs(exact).max()
    np.testing.assert_allclose(values_on(T, v, pts_arr), exact, rtol=0, atol=1e-11 * scale)


def _smooth_family(name, x):
    """Smooth scalar functions of a scalar whose (k+1)-th derivative is generically
    non-zero."""
    return {
        "exp": lambda: mg.exp(x),
        "sin+cos": lambda: mg.sin(x) + mg.cos(x),
        "sigmoid*exp": lambda: mg.sigmoid(x) * mg.exp(0.5 * x),
        "log(2+x^2)": lambda: mg.log(2.0 + x**2),
        "tanh(x)+x^3": lambda: mg.tanh(x) + x**3,
    }[name]()


def _observed_order(errors, hs):
    return np.diff(np.log(errors)) / np.diff(np.log(hs))


def _sup_abs(expr, x, lo, hi, n=201):
    """max |expr| on [lo, hi], sampled finely (the functions are smooth), plus 1 %."""
    return 1.01 * np.abs(values_on(expr, x, np.linspace(lo, hi, n))).max()


def assert_lagrange_remainder(f, x, x0, k, hs):
    """R_k(h) = f(x0 + h) - T_k(x0 + h) obeys Lagrange's bound
    |R_k(h)| <= max|f^(k+1)| h^(k+1)/(k+1)!, and R_k(h)/h^(k+1) tends to
    f^(k+1)(x0)/(k+1)! with |R_k(h)/h^(k+1) - f^(k+1)(x0)/(k+1)!| <= max|f^(k+2)| h/(k+2)!,
    the maxima over [x0, x0 + h]: the remainder shrinks like h^(k+1)."""
    T = mg.taylor(f, x, x0, k)
    d1 = mg.derivative(f, x, order=k + 1)
    d2 = mg.derivative(f, x, order=k + 2)
    remainders = values_on(f, x, x0 + hs) - values_on(T, x, x0 + hs)
    rounding = 1e-14 * (1 + np.abs(values_on(f, x, x0 + hs)))
    leading = float(values_on(d1, x, [x0])[0]) / math.factorial(k + 1)
    for h, r, eps in zip(hs, remainders, rounding):
        m1 = _sup_abs(d1, x, x0, x0 + h)
        m2 = _sup_abs(d2, x, x0, x0 + h)
        assert abs(r) <= m1 * h ** (k + 1) / math.factorial(k + 1) + eps
        scaled = r / h ** (k + 1)
        assert abs(scaled - leading) <= m2 * h / math.factorial(k + 2) + eps / h ** (k + 1)


@given(
    family=st.sampled_from(["exp", "sin+cos", "sigmoid*exp", "log(2+x^2)", "tanh(x)+x^3"]),
    k=st.integers(0, 4),
    x0=st.floats(-1.0, 1.0),
)
def test_remainder_shrinks_like_h_to_the_k_plus_1(family, k, x0):
    x = mg.Scalar("x")
    assert_lagrange_remainder(_smooth_family(family, x), x, x0, k, 0.2 * 2.0 ** -np.arange(4))


@given(
    k=st.integers(0, 3),
    x0=st.tuples(point, point),
    direction=st.tuples(st.floats(-1, 1), st.floats(-1, 1)).filter(
        lambda d: abs(d[0]) + abs(d[1]) > 0.2
    ),
)
def test_multivariate_taylor_restricted_to_a_line(k, x0, direction):
    """On the line x0 + t u, the multivariate T_k is the univariate T_k of
    g(t) = f(x0 + t u) at t = 0 (MML (5.151) with δ = t u); so its remainder, too,
    shrinks like t^(k+1)."""
    v = mg.Vector("v", 2)
    t = mg.Scalar("t")
    a = np.array([0.7, -0.4])
    f = mg.exp(a @ v) + mg.sin(v @ v)
    x0a = np.array(x0)
    u = np.array(direction) / np.linalg.norm(direction)
    line = mg.constant(x0a) + t * mg.constant(u)
    g = substitute(f, {v: line})
    T_multi = substitute(mg.taylor(f, v, x0a, k), {v: line})
    T_uni = mg.taylor(g, t, 0.0, k)
    ts = np.linspace(-1.0, 1.0, 9)
    np.testing.assert_allclose(values_on(T_multi, t, ts), values_on(T_uni, t, ts),
                               rtol=1e-11, atol=1e-11)
    if k <= 2:
        assert_lagrange_remainder(g, t, 0.0, k, 0.1 * 2.0 ** -np.arange(3))


def test_remainder_order_exact_for_exp():
    """For exp, f^(k+1) never vanishes: the observed order is k + 1."""
    x = mg.Scalar("x")
    hs = 0.05 * 2.0 ** -np.arange(4)
    for k in range(5):
        T = mg.taylor(mg.exp(x), x, 0.3, k)
        errors = np.abs(np.exp(0.3 + hs) - values_on(T, x, 0.3 + hs))
        np.testing.assert_allclose(_observed_order(errors, hs), k + 1, atol=0.1)


# =====================================================================================
# The API
# =====================================================================================


def test_order_zero_is_the_value_and_linearize_is_order_one():
    x = mg.Vector("x", 3)
    A0 = np.arange(9.0).reshape(3, 3) / 10
    f = mg.tanh(A0 @ x)
    x0 = np.array([0.3, -0.2, 0.1])
    T0 = mg.taylor(f, x, x0, 0)
    np.testing.assert_allclose(T0.evaluate(), np.tanh(A0 @ x0))
    L = mg.linearize(f, x, x0)
    J = mg.jacobian(lambda z: np.tanh(A0 @ z))(x0)
    p = np.array([1.0, 2.0, -1.0])
    np.testing.assert_allclose(L.evaluate(x=p), np.tanh(A0 @ x0) + J @ (p - x0), atol=1e-14)
    assert L is mg.taylor(f, x, x0, 1)


def test_vector_valued_map_second_order():
    """T2 of a vector field: f(x0) + J δ + 1/2 H[δ, δ] with the (m, n, n) Hessian."""
    x = mg.Vector("x", 2)
    A0 = np.array([[1.0, 2.0], [0.5, -1.0], [0.3, 0.3]])
    f = mg.sin(A0 @ x)
    x0 = np.array([0.2, -0.1])
    T2 = mg.taylor(f, x, x0, 2)
    assert T2.shape == (3,)
    d = np.array([0.3, 0.1])
    J = mg.jacobian(lambda z: np.sin(A0 @ z))(x0)
    H = mg.hessian(lambda z: np.sin(A0 @ z))(x0)
    assert H.shape == (3, 2, 2)
    expected = np.sin(A0 @ x0) + J @ d + 0.5 * np.einsum("ijk,j,k->i", H, d, d)
    np.testing.assert_allclose(T2.evaluate(x=x0 + d), expected, atol=1e-14)


def test_matrix_variable_logdet_second_order():
    """log det(I + E) = tr E - tr(E^2)/2 + O(E^3): the Taylor polynomial in a matrix."""
    X = mg.Matrix("X", (3, 3))
    T2 = mg.taylor(mg.logdet(X), X, np.eye(3), 2)
    E = np.array([[0.1, 0.02, 0.0], [0.01, -0.05, 0.03], [0.0, 0.02, 0.04]])
    expected = np.trace(E) - np.trace(E @ E) / 2
    np.testing.assert_allclose(T2.evaluate(X=np.eye(3) + E), expected, atol=1e-14)


def test_matrix_inverse_third_order_is_the_neumann_series():
    """(I + E)^-1 = I - E + E^2 - E^3 + O(E^4)."""
    X = mg.Matrix("X", (2, 2))
    T3 = mg.taylor(mg.inv(X), X, np.eye(2), 3)
    E = np.array([[0.05, 0.01], [-0.02, 0.03]])
    np.testing.assert_allclose(T3.evaluate(X=np.eye(2) + E), np.eye(2) - E + E @ E - E @ E @ E,
                               atol=1e-15)


def test_symmetric_variable():
    """A symmetric S varies over symmetric matrices; its Taylor polynomial in a
    symmetric direction is the usual one."""
    S = mg.Matrix("S", (3, 3), symmetric=True)
    T2 = mg.taylor(mg.logdet(S), S, np.eye(3), 2)
    E = np.array([[0.1, 0.02, 0.0], [0.02, -0.05, 0.03], [0.0, 0.03, 0.04]])
    np.testing.assert_allclose(T2.evaluate(S=np.eye(3) + E), np.trace(E) - np.trace(E @ E) / 2,
                               atol=1e-15)


def test_float32_stays_float32():
    x = mg.Vector("x", 3, dtype=np.float32)
    T = mg.taylor(mg.exp(x), x, np.zeros(3, np.float32), 2)
    value = T.evaluate(x=np.full(3, 0.1, np.float32))
    assert value.dtype == np.float32
    np.testing.assert_allclose(value, 1.105, rtol=1e-6)


def test_other_symbols_stay_symbolic():
    x = mg.Vector("x", 2)
    A = mg.Matrix("A", (2, 2))
    f = mg.tanh(A @ x)
    T2 = mg.taylor(f, x, np.zeros(2), 2)
    assert {s.name for s in T2.symbols()} == {"A", "x"}
    A0 = np.array([[1.0, 2.0], [0.5, -1.0]])
    p = np.array([0.3, -0.2])
    # tanh(u) = u - u^3/3 + ...: at 0 the second-order polynomial is A x
    np.testing.assert_allclose(T2.evaluate(A=A0, x=p), A0 @ p, atol=1e-15)
    T3 = mg.taylor(f, x, np.zeros(2), 3)
    np.testing.assert_allclose(T3.evaluate(A=A0, x=p), A0 @ p - (A0 @ p) ** 3 / 3, atol=1e-15)
    # the same with A fixed: by name or by symbol
    for values in ({"A": A0}, {A: A0}):
        fixed = mg.taylor(f, x, np.zeros(2), 3, values=values)
        assert fixed.symbols() == (x,)
        np.testing.assert_allclose(fixed.evaluate(x=p), T3.evaluate(A=A0, x=p), atol=1e-15)


def test_taylor_of_a_function_not_depending_on_wrt():
    x = mg.Scalar("x")
    y = mg.Scalar("y")
    T = mg.taylor(mg.exp(y), x, 1.0, 3)
    assert T is mg.simplify(mg.exp(y))


def test_constant_expression_and_zero_polynomial():
    x = mg.Vector("x", 2)
    T = mg.taylor(x - x, x, np.ones(2), 2)
    assert T.shape == (2,)
    np.testing.assert_array_equal(T.evaluate(), np.zeros(2))


def test_substitute():
    x, y = mg.Scalar("x"), mg.Scalar("y")
    f = mg.sin(x * y) + y
    g = substitute(f, {x: y * 2})
    assert g is mg.sin(y * 2 * y) + y
    with pytest.raises(BindingError, match="shape"):
        substitute(f, {x: np.ones(2)})
    with pytest.raises(InvalidArgumentError, match="symbols"):
        substitute(f, {"x": 1.0})


def test_errors():
    x = mg.Vector("x", 2)
    f = mg.exp(x)
    with pytest.raises(BindingError, match="shape"):
        mg.taylor(f, x, np.zeros(3), 2)
    with pytest.raises(InvalidArgumentError, match="symbol"):
        mg.taylor(f, 2 * x, np.zeros(2), 2)
    with pytest.raises(InvalidArgumentError, match="order"):
        mg.taylor(f, x, np.zeros(2), -1)
    with pytest.raises(InvalidArgumentError, match="order"):
        mg.taylor(f, x, np.zeros(2), 1.5)
    with pytest.raises(InvalidArgumentError, match="expression"):
        mg.taylor(np.exp, x, np.zeros(2), 1)
    with pytest.raises(BindingError, match="expansion variable"):
        mg.taylor(f, x, np.zeros(2), 1, values={"x": np.zeros(2)})
    with pytest.raises(BindingError, match="not a symbol"):
        mg.taylor(f, x, np.zeros(2), 1, values={"z": 1.0})


# =====================================================================================
# Figure 5.4 (docs/figures): the committed picture and the script that draws it
# =====================================================================================

FIGURES = Path(__file__).resolve().parent.parent / "docs" / "figures"


def test_figure_5_4_png_is_committed():
    png = FIGURES / "figure_5_4.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "figures/figure_5_4.png" in (FIGURES.parent / "tutorial.md").read_text("utf-8")


def test_figure_5_4_script_data():
    """The script's curves are f and its Taylor polynomials (needs matplotlib, the
    optional ``docs`` extra; skipped without it)."""
    pytest.importorskip("matplotlib")
    spec = importlib.util.spec_from_file_location("make_figure_5_4",
                                                  FIGURES / "make_figure_5_4.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    grid = np.linspace(-4.0, 4.0, 9)
    ys = module.curves(grid)
    np.testing.assert_allclose(ys["f"], np.sin(grid) + np.cos(grid), atol=1e-15)
    np.testing.assert_allclose(ys["T0"], np.ones_like(grid))
    np.testing.assert_allclose(ys["T1"], 1 + grid)
    assert np.abs(ys["T10"] - ys["f"]).max() < 0.13


def test_core_simplify_folds_scaled_constant_terms():
    x = mg.Scalar("x")
    assert mg.simplify(4 * x - 3 * mg.constant(1.0)) is mg.simplify(4 * x + mg.constant(-3.0))

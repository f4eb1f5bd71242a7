"""Tests of matgrad.numeric, the numerical witness.

Expected values are closed forms derived by hand (written next to each case),
never values produced by the code under test.  The accuracy thresholds are the
targets documented in docs/numeric.md, where the measured figures are.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from matgrad import numeric
from matgrad.errors import (
    InvalidArgumentError,
    MatgradError,
    NonFiniteError,
    NotCallableError,
    ShapeError,
)

Case = tuple[Callable[[Any], Any], np.ndarray, np.ndarray]

# documented accuracy targets: max |error| / max(1, max |exact|)  (docs/numeric.md)
FIRST_ORDER = {"forward": 1e-6, "central": 1e-9, "richardson": 1e-11, "complex": 1e-14}
SECOND_ORDER = {"forward": 1e-3, "central": 1e-6, "richardson": 1e-9, "complex": 1e-12}


# --------------------------------------------------------------------------- closed forms
# Each case takes plain arrays (so scripts can sample them with numpy too) and
# returns (f, x, exact derivative in the layout S_out + S_in [+ S_in]).


def case_elementwise(x: np.ndarray) -> Case:
    """g(x) = e^(x/2) (3 + sin x) entrywise; g' = e^(x/2) (3/2 + sin(x)/2 + cos x) > 0.

    J[o, i] = g'(x_i) δ_oi, i.e. the diagonal of g' laid out as S + S."""
    dg = np.exp(x / 2) * (1.5 + 0.5 * np.sin(x) + np.cos(x))
    exact = np.diag(dg.ravel()).reshape(x.shape + x.shape)
    return (lambda x: np.exp(x / 2) * (3 + np.sin(x))), x, exact


def case_linear(A: np.ndarray, x: np.ndarray) -> Case:
    """d(Ax)/dx = A."""
    return (lambda x: A @ x), x, A


def case_inverse(X: np.ndarray) -> Case:
    """d(X⁻¹)[p, q]/dX[i, j] = -X⁻¹[p, i] X⁻¹[j, q]  (from dX⁻¹ = -X⁻¹ dX X⁻¹)."""
    Xi = np.linalg.inv(X)
    return np.linalg.inv, X, -np.einsum("pi,jq->pqij", Xi, Xi)


def _logabsdet(X: np.ndarray) -> Any:
    # log|det X| written as log(det² X)/2, which is real-analytic (complex step works)
    return np.log(np.linalg.det(X) ** 2) / 2


def case_logdet(X: np.ndarray) -> Case:
    """∂ log|det X| / ∂X = X⁻ᵀ   (MML 5.101)."""
    return _logabsdet, X, np.linalg.inv(X).T


def case_poly(c: np.ndarray, x: np.ndarray) -> Case:
    """f = Σ c_k x_k³ + (Σ x_k)²;  ∂f/∂x_k = 3 c_k x_k² + 2 Σ x."""
    return (lambda x: np.sum(c * x**3) + np.sum(x) ** 2), x, 3 * c * x**2 + 2 * np.sum(x)


def hcase_elementwise(x: np.ndarray) -> Case:
    """f = Σ cosh x + sin(x)/2;  H = diag(cosh x − sin(x)/2) (≥ 1/2, so no tiny scale)."""
    exact = np.diag((np.cosh(x) - 0.5 * np.sin(x)).ravel()).reshape(x.shape + x.shape)
    return (lambda x: np.sum(np.cosh(x) + 0.5 * np.sin(x))), x, exact


def hcase_exp_linear(a: np.ndarray, x: np.ndarray) -> Case:
    """f = exp(aᵀx);  H = exp(aᵀx) a aᵀ."""
    return (lambda x: np.exp(a @ x)), x, np.exp(a @ x) * np.outer(a, a)


def hcase_logdet(X: np.ndarray) -> Case:
    """∂² log|det X| / ∂X[i, j] ∂X[k, l] = −X⁻¹[j, k] X⁻¹[l, i]   (d of X⁻ᵀ)."""
    Xi = np.linalg.inv(X)
    return _logabsdet, X, -np.einsum("jk,li->ijkl", Xi, Xi)


def hcase_poly(c: np.ndarray, x: np.ndarray) -> Case:
    """f = Σ c_k x_k³ + (Σ x_k)²;  H = diag(6 c x) + 2 (all entries)."""
    return (lambda x: np.sum(c * x**3) + np.sum(x) ** 2), x, np.diag(6 * c * x) + 2.0


def hcase_vector(A: np.ndarray, x: np.ndarray) -> Case:
    """f = A sin(x) (vector-valued);  H[o, i, j] = −A[o, i] sin(x_i) δ_ij."""
    exact = np.einsum("oi,ij->oij", -A * np.sin(x), np.eye(x.size))
    return (lambda x: A @ np.sin(x)), x, exact


def relative_error(estimate: np.ndarray, exact: np.ndarray) -> float:
    """max |estimate − exact| / max(1, max |exact|): relative for derivatives of size
    ≥ 1, absolute below (a derivative that vanishes has no relative accuracy)."""
    assert estimate.shape == exact.shape
    scale = max(1.0, float(np.max(np.abs(exact), initial=0.0)))
    return float(np.max(np.abs(estimate - exact), initial=0.0)) / scale


# --------------------------------------------------------------------------- strategies

values = st.floats(-2.0, 2.0)
coefficients = st.floats(0.25, 2.0) | st.floats(-2.0, -0.25)  # bounded away from 0 and tiny
shapes = st.lists(st.integers(1, 3), max_size=3).map(tuple)  # () up to 3-d
small_shapes = st.sampled_from([(), (1,), (2,), (3,), (2, 2), (1, 3)])
methods = st.sampled_from(numeric.METHODS)


@st.composite
def well_conditioned(draw: st.DrawFn, max_n: int = 3) -> np.ndarray:
    """s (4 I + M) with |M_ij| ≤ 1: singular values in |s| [1, 7], condition ≤ 7."""
    n = draw(st.integers(1, max_n))
    M = draw(arrays(np.float64, (n, n), elements=st.floats(-1.0, 1.0)))
    return draw(coefficients) * (4 * np.eye(n) + M)


def vectors(n: int, elements: st.SearchStrategy[float] = values) -> st.SearchStrategy[Any]:
    return arrays(np.float64, n, elements=elements)


@st.composite
def first_order_cases(draw: st.DrawFn) -> tuple[str, Case]:
    kind = draw(st.sampled_from(["elementwise", "linear", "inverse", "logdet", "poly"]))
    if kind == "elementwise":
        return kind, case_elementwise(draw(arrays(np.float64, draw(shapes), elements=values)))
    if kind == "linear":
        m, n = draw(st.integers(1, 3)), draw(st.integers(1, 4))
        A = draw(arrays(np.float64, (m, n), elements=coefficients))
        return kind, case_linear(A, draw(vectors(n, st.floats(-3.0, 3.0))))
    if kind == "inverse":
        return kind, case_inverse(draw(well_conditioned()))
    if kind == "logdet":
        return kind, case_logdet(draw(well_conditioned()))
    n = draw(st.integers(1, 4))
    return kind, case_poly(draw(vectors(n, coefficients)), draw(vectors(n)))


@st.composite
def second_order_cases(draw: st.DrawFn) -> tuple[str, Case]:
    kind = draw(st.sampled_from(["elementwise", "exp-linear", "logdet", "poly", "vector"]))
    n = draw(st.integers(1, 3))
    if kind == "elementwise":
        return kind, hcase_elementwise(
            draw(arrays(np.float64, draw(small_shapes), elements=values))
        )
    if kind == "exp-linear":
        return kind, hcase_exp_linear(draw(vectors(n, coefficients)), draw(vectors(n, values)))
    if kind == "logdet":
        return kind, hcase_logdet(draw(well_conditioned(max_n=2)))
    if kind == "poly":
        return kind, hcase_poly(draw(vectors(n, coefficients)), draw(vectors(n)))
    A = draw(arrays(np.float64, (2, n), elements=coefficients))
    return kind, hcase_vector(A, draw(vectors(n, values)))


# --------------------------------------------------------------------------- accuracy


@pytest.mark.parametrize("method", numeric.METHODS)
@given(case=first_order_cases())
def test_jacobian_accuracy(method: str, case: tuple[str, Case]) -> None:
    _, (f, x, exact) = case
    J = numeric.jacobian(f, x, method=method)
    assert J.shape == exact.shape
    assert J.dtype == np.float64
    assert relative_error(J, exact) <= FIRST_ORDER[method]


@pytest.mark.parametrize("method", numeric.METHODS)
@given(case=second_order_cases())
def test_hessian_accuracy(method: str, case: tuple[str, Case]) -> None:
    _, (f, x, exact) = case
    H = numeric.hessian(f, x, method=method)
    assert H.shape == exact.shape
    assert relative_error(H, exact) <= SECOND_ORDER[method]


@pytest.mark.parametrize("method", numeric.METHODS)
@given(X=well_conditioned())
def test_gradient_of_logdet_passes_the_books_check(method: str, X: np.ndarray) -> None:
    f, x, exact = case_logdet(X)
    G = numeric.gradient(f, x, method=method)
    assert G.shape == X.shape
    assert numeric.gradient_error(exact, G) <= FIRST_ORDER[method]


@pytest.mark.parametrize("method", numeric.METHODS)
@given(case=second_order_cases())
def test_hessian_is_symmetric(method: str, case: tuple[str, Case]) -> None:
    _, (f, x, _) = case
    H = numeric.hessian(f, x, method=method)
    n = x.ndim
    lead = H.ndim - 2 * n
    swapped = np.transpose(H, [*range(lead), *range(lead + n, H.ndim), *range(lead, lead + n)])
    np.testing.assert_array_equal(H, swapped)  # exactly, by construction


# --------------------------------------------------------------------------- layout


@pytest.mark.parametrize("method", numeric.METHODS)
def test_scalar_to_scalar(method: str) -> None:
    # d(t³)/dt = 3t² = 12 at t = 2;  d²(t³)/dt² = 6t = 12
    J = numeric.jacobian(lambda t: t**3, 2.0, method=method)
    assert J.shape == ()
    assert abs(float(J) - 12.0) < 1e-5
    H = numeric.hessian(lambda t: t**3, 2.0, method=method)
    assert H.shape == ()
    assert abs(float(H) - 12.0) < 1e-2


def test_python_float_output_and_integer_input() -> None:
    # f returns a Python float; x is an int list: computed in float64
    g = numeric.gradient(lambda x: float(x[0] * x[1]), [3, 5])
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, [5.0, 3.0], rtol=1e-9)


def test_float32_input_is_computed_in_float64() -> None:
    x = np.array([0.5, 1.5], dtype=np.float32)
    J = numeric.jacobian(np.exp, x, method="richardson")
    assert J.dtype == np.float64
    np.testing.assert_allclose(J, np.diag(np.exp(x.astype(np.float64))), rtol=1e-12)


@given(shape=shapes, out=st.lists(st.integers(1, 3), max_size=2).map(tuple))
def test_layout_is_out_plus_in(shape: tuple[int, ...], out: tuple[int, ...]) -> None:
    # f(X) = B · sum(X²) with B of shape `out`:  J[o..., i...] = 2 B[o...] X[i...]
    x = np.linspace(-1.0, 1.0, math.prod(shape)).reshape(shape)
    B = np.arange(1.0, 1.0 + math.prod(out)).reshape(out)
    J = numeric.jacobian(lambda X: B * np.sum(X**2), x, method="richardson")
    assert J.shape == out + shape
    np.testing.assert_allclose(J, 2 * np.multiply.outer(B, x), rtol=1e-10, atol=1e-12)


def test_vector_to_scalar_and_matrix_to_matrix() -> None:
    a = np.array([1.0, -2.0, 3.0])
    g = numeric.jacobian(lambda x: a @ x, np.zeros(3))  # ∇(aᵀx) = a
    assert g.shape == (3,)
    np.testing.assert_allclose(g, a, rtol=1e-10)
    A = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    X = np.array([[1.0, -1.0, 0.5], [2.0, 0.0, 1.0]])
    # (AX)[p, q] = Σ_k A[p, k] X[k, q]  ⇒  J[p, q, i, j] = A[p, i] δ_qj
    J = numeric.jacobian(lambda X: A @ X, X)
    assert J.shape == (3, 3, 2, 3)
    np.testing.assert_allclose(J, np.einsum("pi,qj->pqij", A, np.eye(3)), atol=1e-9)


def test_scalar_to_tensor_and_three_d_input() -> None:
    B = np.arange(24.0).reshape(2, 3, 4)
    J = numeric.jacobian(lambda t: t * B, 0.7, method="complex")  # d(tB)/dt = B
    assert J.shape == (2, 3, 4)
    np.testing.assert_allclose(J, B, rtol=1e-14)
    X = np.linspace(-1, 1, 24).reshape(2, 3, 4)
    # S[q, r] = Σ_p X[p, q, r]  ⇒  J[q, r, p, q', r'] = δ_qq' δ_rr'
    J = numeric.jacobian(lambda X: X.sum(axis=0), X)
    assert J.shape == (3, 4, 2, 3, 4)
    expected = np.einsum("p,qs,rt->qrpst", np.ones(2), np.eye(3), np.eye(4))
    np.testing.assert_allclose(J, expected, atol=1e-9)
    G = numeric.gradient(lambda X: np.sum(X**3), X, method="richardson")  # 3X²
    np.testing.assert_allclose(G, 3 * X**2, atol=1e-11)
    H = numeric.hessian(lambda X: np.sum(X**3), X[:1, :2, :2], method="richardson")
    assert H.shape == (1, 2, 2, 1, 2, 2)  # S_in + S_in; H = diag(6X)
    expected_h = np.diag(6 * X[:1, :2, :2].ravel()).reshape(H.shape)
    np.testing.assert_allclose(H, expected_h, atol=1e-9)


def test_hessian_of_vector_valued_map_has_out_in_in_layout() -> None:
    A = np.array([[1.0, 2.0], [-1.0, 0.5], [0.0, 3.0]])
    f, x, exact = hcase_vector(A, np.array([0.3, -1.2]))
    H = numeric.hessian(f, x, method="richardson")
    assert H.shape == (3, 2, 2)
    np.testing.assert_allclose(H, exact, atol=1e-9)


def test_complex_valued_f_with_real_method() -> None:
    x = np.array([0.2, 1.0])
    J = numeric.jacobian(lambda x: np.exp(1j * x), x, method="richardson")
    assert J.dtype == np.complex128
    np.testing.assert_allclose(J, np.diag(1j * np.exp(1j * x)), atol=1e-12)  # d e^(ix) = i e^(ix)


@pytest.mark.parametrize("method", numeric.METHODS)
def test_empty_input(method: str) -> None:
    J = numeric.jacobian(lambda x: np.array([np.sum(x), 1.0]), np.zeros(0), method=method)
    assert J.shape == (2, 0)
    est = numeric.hessian(np.sum, np.zeros((0, 2)), method=method, return_error=True)
    assert est.value.shape == est.error.shape == (0, 2, 0, 2)


# --------------------------------------------------------------------------- batched


class Counter:
    """Wraps f, counting calls."""

    def __init__(self, f: Callable[[Any], Any]) -> None:
        self.f = f
        self.calls = 0

    def __call__(self, x: Any) -> Any:
        self.calls += 1
        return self.f(x)


@pytest.mark.parametrize("method", numeric.METHODS)
@pytest.mark.parametrize("order", [1, 2])
@given(x=arrays(np.float64, small_shapes, elements=values), return_error=st.booleans())
def test_batched_matches_unbatched_in_one_call(
    method: str, order: int, x: np.ndarray, return_error: bool
) -> None:
    W = np.array([[1.0, -2.0], [0.5, 3.0]])
    axes = tuple(range(-x.ndim, 0))  # the input axes, with or without a leading batch axis

    def f(X: np.ndarray) -> np.ndarray:  # R^{S_in} -> R², for one point or a stack
        # f must round a stack exactly as it rounds each point, since one ulp in f is
        # ~1e-8 in a forward difference; hence Y * Y and (s, q) @ W written out: for a
        # 0-d X, Y is a NumPy scalar and Y**2 calls libm pow, not the array's Y * Y; and
        # BLAS multiplies a stack (matrix-matrix) and one point (vector-matrix) with
        # different kernels, with fused multiply-adds in one of them on CPUs with FMA
        Y = np.sin(X) * np.exp(X / 3)
        s, q = Y.sum(axis=axes), (Y * Y).sum(axis=axes)
        return np.stack([s * W[0, 0] + q * W[1, 0], s * W[0, 1] + q * W[1, 1]], axis=-1)

    diff = numeric.jacobian if order == 1 else numeric.hessian
    plain = diff(f, x, method=method, return_error=return_error)
    counted = Counter(f)
    batched = diff(counted, x, method=method, batched=True, return_error=return_error)
    assert counted.calls == 1
    if return_error:
        assert isinstance(plain, numeric.Estimate) and isinstance(batched, numeric.Estimate)
        np.testing.assert_allclose(batched.value, plain.value, rtol=1e-12, atol=1e-12)
        # estimates are differences of nearly equal numbers: NumPy's vectorized loops
        # may round a stack differently from single points, so compare loosely
        np.testing.assert_allclose(batched.error, plain.error, rtol=0.05, atol=1e-12)
    else:
        np.testing.assert_allclose(batched, plain, rtol=1e-12, atol=1e-12)


def test_batched_gradient() -> None:
    batched = Counter(lambda X: np.sum(X**2, axis=-1))
    g = numeric.gradient(batched, np.array([1.0, 2.0]), batched=True)
    assert batched.calls == 1
    np.testing.assert_allclose(g, [2.0, 4.0], rtol=1e-9)


# evaluations of f for n entries (the table in docs/numeric.md): (plain, with error estimate)
COUNTS = {
    ("forward", 1): (lambda n: n + 1, lambda n: 2 * n + 1),
    ("central", 1): (lambda n: 2 * n, lambda n: 4 * n),
    ("richardson", 1): (lambda n: 8 * n, lambda n: 8 * n),
    ("complex", 1): (lambda n: n, lambda n: 2 * n),
    ("forward", 2): (lambda n: (n * n + 3 * n + 2) // 2, lambda n: (n + 1) ** 2),
    ("central", 2): (lambda n: 2 * n * n + 1, lambda n: 4 * n * n + 1),
    ("richardson", 2): (lambda n: 8 * n * n + 1, lambda n: 8 * n * n + 1),
    ("complex", 2): (lambda n: 8 * n * n, lambda n: 8 * n * n),
}


@pytest.mark.parametrize(("method", "order"), sorted(COUNTS))
def test_evaluation_counts(method: str, order: int) -> None:
    diff = numeric.jacobian if order == 1 else numeric.hessian
    for n in (1, 2, 5):
        for with_error, expected in zip((False, True), COUNTS[method, order]):
            counted = Counter(lambda x: np.sum(np.sin(x)))
            diff(counted, np.linspace(0.1, 0.9, n), method=method, return_error=with_error)
            assert counted.calls == expected(n)


def test_batched_shape_errors() -> None:
    with pytest.raises(ShapeError, match=r"batched f .* must return shape \(4, \.\.\.\).*\(\)"):
        numeric.jacobian(lambda X: np.sum(X), np.ones(2), batched=True)
    with pytest.raises(ShapeError, match=r"returned shape \(1, 2\)"):
        numeric.jacobian(lambda X: X[:1], np.ones(2), batched=True)
    with pytest.raises(ShapeError, match=r"must return shape \(4,\)"):
        numeric.gradient(lambda X: X, np.ones(2), batched=True)


# --------------------------------------------------------------------------- steps and errors


@given(x=vectors(3), exponent=st.integers(1, 4))
def test_scalar_step_is_used(x: np.ndarray, exponent: int) -> None:
    h = 2.0**-exponent
    f = lambda x: np.sum(x**3)
    # central: ((x+h)³ − (x−h)³)/2h = 3x² + h²;   forward on x²: 2x + h
    np.testing.assert_allclose(numeric.gradient(f, x, step=h), 3 * x**2 + h**2, atol=1e-12)
    fwd = numeric.gradient(lambda x: np.sum(x**2), x, method="forward", step=h)
    np.testing.assert_allclose(fwd, 2 * x + h, atol=1e-12)
    # complex step: Im (x + ih)³ / h = 3x² − h²
    cs = numeric.gradient(f, x, method="complex", step=h)
    np.testing.assert_allclose(cs, 3 * x**2 - h**2, atol=1e-12)


def test_array_step_is_used_per_entry() -> None:
    x = np.array([[1.0, -0.5], [0.25, 2.0]])
    h = np.array([[0.5, 0.25], [0.125, 1.0]])
    G = numeric.gradient(lambda x: np.sum(x**3), x, step=h)
    np.testing.assert_allclose(G, 3 * x**2 + h**2, rtol=1e-14)
    # central Hessian of Σx⁴, diagonal: ((x+2h)⁴ − 2x⁴ + (x−2h)⁴)/(4h²) = 12x² + 8h²
    H = numeric.hessian(lambda x: np.sum(x**4), x, step=h)
    np.testing.assert_allclose(np.diag(H.reshape(4, 4)), (12 * x**2 + 8 * h**2).ravel(), rtol=1e-12)


def test_default_step() -> None:
    h = numeric.default_step(np.array([0.0, 1.0, -4.0, 1e6]), "central")
    c = np.finfo(float).eps ** (1 / 3)
    assert np.all(
        (h > c * np.array([1, 1, 4, 1e6]) / 1.5) & (h < c * np.array([1, 1, 4, 1e6]) * 1.5)
    )
    x = np.array([0.1, 3.3, -7.7])
    for method in numeric.METHODS:
        for order in (1, 2):
            step = numeric.default_step(x, method, order=order)
            assert step.shape == x.shape and np.all(step > 0)
            if method != "complex" or order == 2:
                np.testing.assert_array_equal((x + step) - x, step)  # exactly representable
    with pytest.raises(InvalidArgumentError, match="unknown method"):
        numeric.default_step(x, "backward")


def check_error_estimate(est: numeric.Estimate, exact: np.ndarray, target: float) -> None:
    assert est.error.shape == est.value.shape and np.all(est.error >= 0)
    actual = np.abs(est.value - exact)
    scale = max(1.0, np.max(np.abs(exact)))
    assert np.all(actual <= 100 * est.error + 1e-15 * scale)  # bounds the error ...
    assert np.max(est.error) <= 10 * target * scale  # ... without being uselessly large


@pytest.mark.parametrize("method", numeric.METHODS)
@given(case=first_order_cases())
def test_error_estimate_is_not_absurd(method: str, case: tuple[str, Case]) -> None:
    _, (f, x, exact) = case
    est = numeric.jacobian(f, x, method=method, return_error=True)
    check_error_estimate(est, exact, FIRST_ORDER[method])


@pytest.mark.parametrize("method", numeric.METHODS)
@given(case=second_order_cases())
def test_hessian_error_estimate_is_not_absurd(method: str, case: tuple[str, Case]) -> None:
    _, (f, x, exact) = case
    est = numeric.hessian(f, x, method=method, return_error=True)
    check_error_estimate(est, exact, SECOND_ORDER[method])


def test_bad_steps() -> None:
    f = lambda x: np.sum(x**2)
    for bad in (0.0, -1e-3, np.nan, np.inf, [1e-3, -1e-3]):
        with pytest.raises(InvalidArgumentError, match="step must be positive and finite"):
            numeric.gradient(f, np.ones(2), step=bad)
    with pytest.raises(
        ShapeError, match=r"step has shape \(3,\); it must be a scalar or of x's shape \(2,\)"
    ):
        numeric.gradient(f, np.ones(2), step=np.ones(3))
    with pytest.raises(InvalidArgumentError, match="step must be a positive number"):
        numeric.gradient(f, np.ones(2), step="small")
    with pytest.raises(InvalidArgumentError, match=r"too small .* x\[1\] = 1e\+16"):
        numeric.gradient(f, np.array([0.0, 1e16]), step=0.5)


# --------------------------------------------------------------------------- bad input


def test_not_callable() -> None:
    with pytest.raises(NotCallableError, match="f must be callable, got ndarray"):
        numeric.jacobian(np.ones(3), np.ones(3))  # type: ignore[call-overload]
    with pytest.raises(TypeError):  # NotCallableError is also a TypeError
        numeric.hessian("sin", 1.0)  # type: ignore[call-overload]


def test_unknown_method() -> None:
    with pytest.raises(InvalidArgumentError, match=r"unknown method 'backward'.*richardson"):
        numeric.jacobian(np.sin, 1.0, method="backward")


def test_shape_changing_f() -> None:
    def f(x: np.ndarray) -> np.ndarray:
        return np.ones(2) if x[0] == 0 else np.ones(3)

    with pytest.raises(ShapeError, match=r"shape \(3,\) at x with x\[0\].*shape \(2,\) at x with"):
        numeric.jacobian(f, np.zeros(2))


def test_gradient_needs_scalar_f() -> None:
    with pytest.raises(ShapeError, match=r"scalar-valued f, but f returns shape \(3,\)"):
        numeric.gradient(np.sin, np.ones(3))


@pytest.mark.parametrize("batched", [False, True])
def test_non_finite_values_name_the_point(batched: bool) -> None:
    with pytest.raises(NonFiniteError, match=r"non-finite value \(nan\) at the base point x"):
        numeric.gradient(
            lambda x: np.sum(np.log(x - 2), axis=-1), np.ones(2), method="forward", batched=batched
        )
    # sqrt at 0: the central difference steps to x[1] − h < 0
    with pytest.raises(NonFiniteError, match=r"\(nan\) at x with x\[1\] moved by -"):
        numeric.jacobian(np.sqrt, np.array([1.0, 0.0]), batched=batched)
    inf_right = lambda x: np.where(x > 0, np.inf, 0.0)
    with pytest.raises(NonFiniteError, match=r"\(inf\) at x with x\[0, 1\] moved by \+"):
        numeric.jacobian(inf_right, np.array([[-1.0, 0.0]]), batched=batched)
    with pytest.raises(FloatingPointError):  # the builtin it also is
        numeric.hessian(lambda x: 1 / x, 0.0, method="forward", batched=batched)


def test_non_numeric_output() -> None:
    with pytest.raises(InvalidArgumentError, match=r"f must return numbers.*str of dtype <U3"):
        numeric.jacobian(lambda x: "abc", 1.0)
    with pytest.raises(InvalidArgumentError, match=r"NoneType of dtype object"):
        numeric.jacobian(lambda x: None, 1.0)
    with pytest.raises(InvalidArgumentError, match=r"f must return an array of numbers"):
        numeric.jacobian(lambda x: [[1.0], [1.0, 2.0]], 1.0)


def test_non_numeric_or_complex_x() -> None:
    with pytest.raises(InvalidArgumentError, match=r"x must be numeric.*dtype <U"):
        numeric.jacobian(np.sin, ["a", "b"])
    with pytest.raises(InvalidArgumentError, match=r"dtype object"):
        numeric.jacobian(np.sin, np.array([1.0, None]))
    with pytest.raises(InvalidArgumentError, match=r"x has complex dtype complex128"):
        numeric.jacobian(np.sin, np.array([1.0 + 2j]))
    with pytest.raises(InvalidArgumentError, match=r"x must be an array of real numbers"):
        numeric.jacobian(np.sin, [[1.0], [1.0, 2.0]])
    with pytest.raises(InvalidArgumentError, match=r"x must be finite, but x\[1\] is nan"):
        numeric.jacobian(np.sin, [0.0, np.nan])


def test_complex_method_needs_complex_support() -> None:
    with pytest.raises(InvalidArgumentError, match="does not support complex input.*real dtype"):
        numeric.jacobian(np.abs, np.ones(2), method="complex")
    with pytest.raises(InvalidArgumentError, match="does not support complex input.*TypeError"):
        numeric.gradient(lambda x: math.sin(x), 1.0, method="complex")
    with pytest.raises(InvalidArgumentError, match="does not support complex input"):
        numeric.hessian(lambda x: np.real(x) ** 2, 1.0, method="complex")


def test_errors_are_matgrad_errors() -> None:
    for call in (
        lambda: numeric.jacobian(None, 1.0),  # type: ignore[call-overload]
        lambda: numeric.jacobian(np.sin, "x"),
        lambda: numeric.gradient(np.sin, np.ones(2)),
        lambda: numeric.gradient(np.log, -1.0),
    ):
        with pytest.raises(MatgradError):
            call()


# --------------------------------------------------------------------------- gradient_error


def test_gradient_error_hand_values() -> None:
    # dh = [1, 2], df = [1, 1]:  Σ(dh−df)² = 1,  Σ(dh+df)² = 4 + 9 = 13
    assert numeric.gradient_error([1.0, 2.0], [1.0, 1.0]) == pytest.approx(math.sqrt(1 / 13))
    assert numeric.gradient_error([1e200, 2e200], [1e200, 1e200]) == pytest.approx(
        math.sqrt(1 / 13)
    )
    assert numeric.gradient_error(np.zeros((2, 2)), np.zeros((2, 2))) == 0.0
    assert numeric.gradient_error([1.0, -3.0], [1.0, -3.0]) == 0.0
    assert numeric.gradient_error([1.0, -3.0], [-1.0, 3.0]) == math.inf  # dh = −df
    # complex: |dh−df|² = |1j|² + 0 = 1,  |dh+df|² = |3j|² + |2|² = 13
    assert numeric.gradient_error([2j, 1.0], [1j, 1.0]) == pytest.approx(math.sqrt(1 / 13))
    assert math.isnan(numeric.gradient_error([np.nan], [1.0]))
    assert isinstance(numeric.gradient_error([1], [2]), float)


def test_gradient_error_shapes_must_match() -> None:
    with pytest.raises(ShapeError, match=r"shape \(2,\) but numeric has shape \(1, 2\)"):
        numeric.gradient_error(np.ones(2), np.ones((1, 2)))
    with pytest.raises(InvalidArgumentError, match="analytic must be numeric"):
        numeric.gradient_error(["a"], [1.0])


normal = values.filter(lambda v: v == 0 or abs(v) > 1e-200)  # c·v must not underflow


@given(
    a=arrays(np.float64, 3, elements=normal),
    b=arrays(np.float64, 3, elements=normal),
    c=st.floats(1e-3, 1e3),
)
def test_gradient_error_is_symmetric_and_scale_free(a: np.ndarray, b: np.ndarray, c: float) -> None:
    e = numeric.gradient_error(a, b)
    assert e == numeric.gradient_error(b, a)
    if math.isfinite(e):
        assert numeric.gradient_error(c * a, c * b) == pytest.approx(e, rel=1e-12, abs=1e-300)

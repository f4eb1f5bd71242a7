"""Regression tests for the evaluation paths added for the benchmarks W10–W14: each
checks the value against NumPy or a hand-written closed form, and that the path
fires (the plan's steps, or the decomposition that was not computed)."""

from __future__ import annotations

import numpy as np
import pytest

import matgrad as mg
from matgrad.compiler.rewrites import share_scaled_sums
from matgrad.errors import NonFiniteError
from matgrad.ir.expr import Add
from matgrad.ops.spectral_numerics import DECOMPOSITIONS
from matgrad.ops.symmetric_functions import eigh_function


def _rosenbrock(x: mg.Expr) -> mg.Expr:
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def _rosen_der(x: np.ndarray) -> np.ndarray:
    head = x[:-1]
    t = x[1:] - head * head
    g = np.zeros_like(x)
    g[:-1] = -400.0 * head * t - 2.0 * (1.0 - head)
    g[1:] += 200.0 * t
    return g


def test_rosenbrock_scatters_into_one_buffer_and_shares_the_residual() -> None:
    n = 50
    x = mg.Vector("x", n)
    plan = mg.compile(mg.derivative(_rosenbrock(x), x), [x])
    x0 = np.random.default_rng(0).uniform(-1.5, 1.5, n)
    np.testing.assert_allclose(plan(x0), _rosen_der(x0), rtol=1e-12, atol=1e-12)
    text = plan.explain()
    assert "scatter_add" not in text  # both slices' transposes write into one buffer
    assert text.count("(scattered)") == 2
    # the residual x[1:] − x[:-1]² is computed once, not once per sign
    residuals = [line for line in text.splitlines() if "= add(" in line and "200" in line]
    assert len(residuals) == 1, text


def test_scaled_sum_is_shared_through_linear_operations() -> None:
    a, b = mg.Vector("a", 4), mg.Vector("b", 4)
    u, v = a - b, 3 * b - 3 * a  # v = −3 u
    roots = share_scaled_sums([np.exp(u), v[1:]])
    second = roots[1]
    assert isinstance(second, Add) and len(second.terms) == 1
    assert second.coeffs[0] == -3 and second.terms[0].children[0] is u
    a0, b0 = np.arange(4.0), np.array([0.5, -1.0, 2.0, 0.0])
    got = mg.compile(roots, [a, b])(a0, b0)
    np.testing.assert_allclose(got[1], (3 * b0 - 3 * a0)[1:], rtol=0, atol=0)
    np.testing.assert_allclose(got[0], np.exp(a0 - b0))


def test_scatter_with_repeated_positions_and_a_whole_term() -> None:
    x = mg.Vector("x", 4)
    f = np.sum(x[np.array([0, 0, 2])] ** 2) + np.sum(x**3)
    plan = mg.compile(mg.derivative(f, x), [x])
    x0 = np.array([1.5, -2.0, 0.5, 3.0])
    expected = 3 * x0**2
    expected[0] += 2 * 2 * x0[0]  # x[0] taken twice
    expected[2] += 2 * x0[2]
    np.testing.assert_allclose(plan(x0), expected, rtol=1e-13)
    assert "(scattered)" in plan.explain()


def test_bias_residual_is_not_multiplied_out() -> None:
    """``Σ (max(XW₁ + b₁, 0) W₂ + b₂ − Y)²``: the residual stays one sum, so its product
    with W₂ᵀ is one matrix product (it was three after distribution)."""
    rng = np.random.default_rng(1)
    B, W, K = 16, 6, 3
    W1, b1 = rng.standard_normal((W, W)), rng.standard_normal(W)
    W2, b2 = rng.standard_normal((W, K)), rng.standard_normal(K)
    X, Y = rng.standard_normal((B, W)), rng.standard_normal((B, K))
    syms = [mg.Tensor(f"p{k}", np.shape(v)) for k, v in enumerate((W1, b1, W2, b2, X, Y))]
    h = np.maximum(syms[4] @ syms[0] + syms[1], 0.0)
    loss = np.sum((h @ syms[2] + syms[3] - syms[5]) ** 2)
    grads = [mg.derivative(loss, s) for s in syms[:4]]
    plan = mg.compile(grads, syms)
    Z = X @ W1 + b1
    H = np.maximum(Z, 0.0)
    G = 2.0 * (H @ W2 + b2 - Y)
    G1 = (G @ W2.T) * (Z > 0)
    expected = [X.T @ G1, G1.sum(axis=0), H.T @ G, G.sum(axis=0)]
    for got, want in zip(plan(W1, b1, W2, b2, X, Y), expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    gemms = [line for line in plan.explain().splitlines() if "= gemm(" in line]
    assert len(gemms) <= 5, plan.explain()


def test_summed_bias_is_still_multiplied_out() -> None:
    """``Σᵢⱼ (XW + 1bᵀ)ᵢⱼ``: the all-ones factor is summed, so distribution applies
    and the gradient in b is the constant N (a size, no pass over a matrix)."""
    X, W, b = mg.Matrix("X", (5, 3)), mg.Matrix("W", (3, 2)), mg.Vector("b", 2)
    g = mg.derivative(np.sum(X @ W + b), b)
    np.testing.assert_allclose(mg.compile(g, [X, W, b])(
        np.ones((5, 3)), np.ones((3, 2)), np.zeros(2)), [5.0, 5.0])


def _spd(n: int, seed: int) -> np.ndarray:
    B = np.random.default_rng(seed).standard_normal((n, n))
    return B @ B.T / n + np.eye(n)


def test_inverse_power_of_a_positive_definite_matrix_by_cholesky() -> None:
    n = 30
    S = _spd(n, 2)
    A = S.copy()
    A[np.triu_indices(n, 1)] = 7.0  # the upper triangle is not read
    X = mg.Matrix("X", (n, n))
    plan = mg.compile(eigh_function(X, -1), [X])
    DECOMPOSITIONS.clear()
    np.testing.assert_allclose(plan(A), np.linalg.inv(S), rtol=1e-10, atol=1e-12)
    assert DECOMPOSITIONS.peek("eigh", A) is None  # no eigendecomposition was made
    # the gradient of Σ log λᵢ(S) is S⁻¹, through this path
    g = mg.compile(mg.derivative(np.sum(np.log(np.linalg.eigh(X)[0])), X), [X])
    np.testing.assert_allclose(g(S), np.linalg.inv(S), rtol=1e-10, atol=1e-12)


def test_inverse_power_falls_back_to_the_eigendecomposition() -> None:
    n = 12
    X = mg.Matrix("X", (n, n))
    plan = mg.compile(eigh_function(X, -1), [X])
    indefinite = _spd(n, 3) - 1.5 * np.eye(n)
    DECOMPOSITIONS.clear()
    np.testing.assert_allclose(plan(indefinite), np.linalg.inv(indefinite), rtol=1e-9)
    assert DECOMPOSITIONS.peek("eigh", indefinite) is not None
    w, V = np.linalg.eigh(_spd(n, 4))
    w[0] = 1e-15 * w[-1]  # positive definite in floating point, numerically singular
    with pytest.raises(NonFiniteError):
        plan((V * w) @ V.T)


def test_cholesky_reverse_mode_uses_triangular_solves() -> None:
    n = 20
    A = mg.Matrix("A", (n, n))
    L = np.linalg.cholesky(A)
    f = 2 * np.sum(np.log(np.diagonal(L)))  # log det A
    plan = mg.compile(mg.derivative(f, A), [A])
    S = _spd(n, 5)
    np.testing.assert_allclose(plan(S), np.linalg.inv(S), rtol=1e-10, atol=1e-12)
    text = plan.explain()
    assert "solve_triangular" in text and " inv(" not in text, text


@pytest.mark.parametrize("shape", [(12, 5), (5, 12)])
def test_polar_factor_from_the_gram_matrix(shape: tuple[int, int]) -> None:
    """The nuclear norm's gradient ``U Vᵀ`` (and ``U diag(s^p) Vᵀ``) via the
    eigendecomposition of the small Gram matrix, without an SVD."""
    rng = np.random.default_rng(6)
    A = rng.standard_normal(shape)
    X = mg.Matrix("X", shape)
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    plan = mg.compile(mg.derivative(np.linalg.norm(X, "nuc"), X), [X])
    DECOMPOSITIONS.clear()
    np.testing.assert_allclose(plan(A), U @ Vt, rtol=1e-12, atol=1e-13)
    assert DECOMPOSITIONS.peek("svd", A) is None  # the Gram path, not the SVD
    from matgrad.ops.singular import svd_power

    cube = mg.compile(svd_power(X, 3.0), [X])
    np.testing.assert_allclose(cube(A), (U * s**3) @ Vt, rtol=1e-12)


def test_polar_factor_of_an_ill_conditioned_matrix_uses_the_svd() -> None:
    rng = np.random.default_rng(7)
    U, _ = np.linalg.qr(rng.standard_normal((10, 4)))
    V, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    A = (U * np.array([1.0, 1e-2, 1e-4, 1e-5])) @ V.T  # κ² = 1e10: the Gram is too rough
    X = mg.Matrix("X", A.shape)
    plan = mg.compile(mg.derivative(np.linalg.norm(X, "nuc"), X), [X])
    DECOMPOSITIONS.clear()
    np.testing.assert_allclose(plan(A), U @ V.T, rtol=1e-9, atol=1e-10)
    assert DECOMPOSITIONS.peek("svd", A) is not None


def test_tanh_network_bias_gradients_reuse_the_backward_pass() -> None:
    """W7 in small: a bias's gradient is the column sum of the backward pass's
    signal the weight's gradient already computes, not a product of its own (the
    plan had one matrix product more), and a column sum of a Hadamard product is
    one einsum, not a stack of 1×k·k×1 products."""
    rng = np.random.default_rng(2)
    B, W, K = 12, 7, 3
    W1, b1 = rng.standard_normal((W, W)) / 3, rng.standard_normal(W)
    W2, b2 = rng.standard_normal((W, W)) / 3, rng.standard_normal(W)
    W3, b3 = rng.standard_normal((W, K)) / 3, rng.standard_normal(K)
    X, Y = rng.standard_normal((B, W)), rng.standard_normal((B, K))
    values = (W1, b1, W2, b2, W3, b3, X, Y)
    syms = [mg.Tensor(f"q{k}", np.shape(v)) for k, v in enumerate(values)]
    h1 = np.tanh(syms[6] @ syms[0] + syms[1])
    h2 = np.tanh(h1 @ syms[2] + syms[3])
    loss = np.sum((h2 @ syms[4] + syms[5] - syms[7]) ** 2)
    plan = mg.compile([mg.derivative(loss, s) for s in syms[:6]], syms)
    # backpropagation by hand
    a1 = np.tanh(X @ W1 + b1)
    a2 = np.tanh(a1 @ W2 + b2)
    g3 = 2.0 * (a2 @ W3 + b3 - Y)
    g2 = (g3 @ W3.T) * (1.0 - a2 * a2)
    g1 = (g2 @ W2.T) * (1.0 - a1 * a1)
    expected = [X.T @ g1, g1.sum(0), a1.T @ g2, g2.sum(0), a2.T @ g3, g3.sum(0)]
    for _ in range(2):
        for got, want in zip(plan(*values), expected):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    text = plan.explain()
    # 3 forward, 2 backward (g @ Wᵀ), 3 weight gradients
    assert sum("= gemm(" in line for line in text.splitlines()) == 8, text
    assert "batched-gemm" not in text, text


def test_column_sums_of_a_hadamard_product_are_one_einsum() -> None:
    A, Bm = mg.Matrix("A", (9, 4)), mg.Matrix("B", (9, 4))
    plan = mg.compile(mg.einsum("da,da->a", A, Bm))
    rng = np.random.default_rng(3)
    A0, B0 = rng.standard_normal((9, 4)), rng.standard_normal((9, 4))
    want = [sum(A0[d, a] * B0[d, a] for d in range(9)) for a in range(4)]
    np.testing.assert_allclose(plan(A0, B0), want, rtol=1e-12)
    assert "batched-dot" in plan.explain()


@pytest.mark.parametrize("d", [5, 40])
@pytest.mark.parametrize("signs", ["nonnegative", "mixed"])
def test_weighted_gram_on_both_sides_of_the_syrk_threshold(d: int, signs: str) -> None:
    """``Xᵀ diag(w) X``: a plain product below SYRK_MIN_SIZE columns, ``ZᵀZ`` above
    (when ``w ≥ 0``); the same value either way."""
    X, w = mg.Matrix("X", (50, d)), mg.Vector("w", 50)
    plan = mg.compile(mg.einsum("ba,b,bc->ac", X, w, X), [X, w])
    rng = np.random.default_rng(d)
    X0, w0 = rng.standard_normal((50, d)), rng.random(50)
    if signs == "mixed":
        w0 = w0 - 0.5
    want = sum(w0[b] * np.outer(X0[b], X0[b]) for b in range(50))
    got = plan(X0, w0)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert "gram(" in plan.explain(), plan.explain()


def test_one_minus_a_square_subtracts_in_place_without_clobbering() -> None:
    """``d/dX Σ tanh(X) = 1 − tanh(X)²`` over 5120 elements: the sum writes into its
    own intermediate (one subtraction), and a second call sees fresh values."""
    X = mg.Matrix("X", (80, 64))
    plan = mg.compile(mg.derivative(np.sum(np.tanh(X)), X))
    rng = np.random.default_rng(4)
    for _ in range(2):
        X0 = rng.standard_normal((80, 64))
        first = plan(X0)
        np.testing.assert_allclose(first, 1.0 / np.cosh(X0) ** 2, rtol=1e-12, atol=1e-14)
    again = plan(X0)
    assert again is not first
    np.testing.assert_allclose(first, again, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_hyperbolic_tangent_kernel_matches_numpy_everywhere(dtype: type) -> None:
    """The compiled kernel of ``np.tanh`` (an ``expm1`` form on real arrays of 256
    entries and up) against NumPy's own over a wide range: within 4 ulp, and
    exactly at ±0, ±inf, nan, the saturated tails and the subnormals."""
    finfo = np.finfo(dtype)
    grid = np.linspace(-25.0, 25.0, 20001)
    tiny = np.logspace(np.log10(float(finfo.smallest_subnormal)), 0.0, 4000)
    large = np.logspace(0.0, np.log10(float(finfo.max)) - 1e-3, 2000)
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, float(finfo.max), -float(finfo.max),
               float(finfo.smallest_subnormal), -float(finfo.smallest_subnormal),
               float(finfo.tiny), 1e-8, -1e-8, 0.5, -0.5, 20.0, -20.0]
    with np.errstate(over="ignore"):
        values = np.concatenate([grid, tiny, -tiny, large, -large, special]).astype(dtype)
    x = mg.Vector("x", values.size, dtype=dtype)
    plan = mg.compile(np.tanh(x))
    got = plan(values)
    expected = np.tanh(values)
    assert got.dtype == np.dtype(dtype)
    finite = np.isfinite(expected) & (expected != 0)
    ulps = np.abs(got[finite] - expected[finite]) / np.spacing(np.abs(expected[finite]))
    assert ulps.max() <= 4, ulps.max()
    np.testing.assert_array_equal(got[~finite], expected[~finite])
    np.testing.assert_array_equal(np.signbit(got[~np.isnan(got)]),
                                  np.signbit(expected[~np.isnan(expected)]))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(values))
    small = mg.Vector("s", 3, dtype=dtype)  # below the size where the expm1 form pays
    np.testing.assert_array_equal(mg.compile(np.tanh(small))(values[-3:]), expected[-3:])


def test_products_written_with_a_dense_diagonal_are_planned_without_it() -> None:
    """``Xᵀ diag(w) X`` and ``B diag(w) X`` written as matrix products (as users
    and traced functions write them) never materialize ``diag(w)``: the diagonal
    and the transposition, used once, are fused into the product that reads them."""
    rows, d = 3000, 6
    rng = np.random.default_rng(5)
    X0, w0 = rng.standard_normal((rows, d)), rng.standard_normal(rows)
    B0 = rng.standard_normal((4, rows))
    X, w, B = mg.Matrix("X", (rows, d)), mg.Vector("w", rows), mg.Matrix("B", (4, rows))
    gram = mg.compile(X.T @ mg.diag(w) @ X, [X, w])
    np.testing.assert_allclose(gram(X0, w0), X0.T @ (w0[:, None] * X0), rtol=1e-10)
    mixed = mg.compile(B @ mg.diag(w) @ X, [B, w, X])
    np.testing.assert_allclose(mixed(B0, w0, X0), (B0 * w0) @ X0, rtol=1e-10)
    for plan in (gram, mixed):
        assert plan.largest < rows * rows // 100, plan.explain()
    traced = mg.value_and_grad(lambda w: np.trace(X0.T @ np.diag(w) @ X0))
    value, grad = traced(w0)
    np.testing.assert_allclose(value, np.sum(w0 * np.sum(X0 * X0, axis=1)), rtol=1e-10)
    np.testing.assert_allclose(grad, np.sum(X0 * X0, axis=1), rtol=1e-10)
    shared = mg.compile(X.T @ mg.diag(w) @ X + mg.diag(w)[:d, :d], [X, w])  # used twice
    expected = X0.T @ (w0[:, None] * X0) + np.diag(w0[:d])
    np.testing.assert_allclose(shared(X0, w0), expected, rtol=1e-10)

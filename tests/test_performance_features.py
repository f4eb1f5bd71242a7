"""The evaluator's performance features, each checked against plain NumPy on the
same inputs and against the plan it should produce: sums of products factored,
weighted Gram matrices as symmetric updates, delta Jacobians written into one
buffer, coefficients moved onto small operands, several expressions planned
together, contraction orders that reuse shared work; and large derivatives
(JVP, VJP, HVP, contractions of a Jacobian) that never form the Jacobian."""

from __future__ import annotations

import tracemalloc
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import matgrad as mg
from matgrad import ops
from matgrad.calculus.simplify import simplify
from matgrad.compiler import CompiledTuple, compile, factor_sums
from matgrad.errors import ShapeError
from matgrad.function_api.transforms import hvp
from matgrad.ir.expr import Matrix, Vector, einsum_node

seeds = st.integers(0, 2**32 - 1)


def rng_of(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def close(actual: Any, expected: Any, rtol: float = 1e-10) -> None:
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol)


def ops_of(g: Any) -> list[str]:
    return [step.op for step in g.steps]


# =====================================================================================
# Sums of products that share a factor
# =====================================================================================


@given(seeds, st.integers(2, 6), st.integers(2, 4))
def test_gradient_of_quadratic_trace_is_one_product(seed: int, n: int, m: int) -> None:
    rng = rng_of(seed)
    X, A = Matrix("X", (n, m)), Matrix("A", (n, n))
    G = mg.derivative(ops.trace(X.T @ A @ X), X)  # A X + Aᵀ X
    g = compile(G, [X, A])
    X0, A0 = rng.standard_normal((n, m)), rng.standard_normal((n, n))
    close(g(X0, A0), (A0 + A0.T) @ X0)
    assert sum(op in ("gemm", "batched-gemm") for op in ops_of(g)) <= 1, g.explain()


def test_factoring_keeps_unrelated_terms_and_is_skipped_when_dearer() -> None:
    n = 5
    X, A, B = Matrix("X", (n, n)), Matrix("A", (n, n)), Matrix("B", (n, n))
    expr = A @ X + B @ X + X.T  # the transpose is not a product sharing X's role
    (factored,) = factor_sums([expr])
    rng = rng_of(1)
    X0, A0, B0 = (rng.standard_normal((n, n)) for _ in range(3))
    close(compile(factored, [X, A, B])(X0, A0, B0), A0 @ X0 + B0 @ X0 + X0.T)
    close(compile(expr, [X, A, B])(X0, A0, B0), (A0 + B0) @ X0 + X0.T)
    # outer products sharing a vector: factoring would not save flops here
    u, v, w = Vector("u", n), Vector("v", n), Vector("w", n)
    outer_sum = ops.outer(u, v) + ops.outer(u, w)
    u0, v0, w0 = (rng.standard_normal(n) for _ in range(3))
    close(compile(outer_sum)(u0, v0, w0), np.outer(u0, v0) + np.outer(u0, w0))


# =====================================================================================
# Weighted Gram matrices: Xᵀ diag(w) X
# =====================================================================================


def logistic(d: int, rows: int) -> tuple[Any, ...]:
    w, X, y = Vector("w", d), Matrix("X", (rows, d)), Vector("y", rows)
    f = mg.sum(mg.log(1 + mg.exp(-y * (X @ w))))
    return w, X, y, f


def logistic_hessian(w0: np.ndarray, X0: np.ndarray, y0: np.ndarray) -> np.ndarray:
    z = y0 * (X0 @ w0)
    p = 1 / (1 + np.exp(-z))
    return X0.T @ (X0 * (p * (1 - p) * y0**2)[:, None])


@given(seeds, st.integers(1, 5), st.integers(1, 30))
@settings(max_examples=30, deadline=None)
def test_logistic_hessian_is_a_weighted_gram_matrix(seed: int, d: int, rows: int) -> None:
    rng = rng_of(seed)
    w, X, y, f = logistic(d, rows)
    g = compile(mg.derivative(f, w, order=2), [w, X, y])
    w0, X0, y0 = rng.standard_normal(d), rng.standard_normal((rows, d)), rng.standard_normal(rows)
    H = g(w0, X0, y0)
    close(H, logistic_hessian(w0, X0, y0), rtol=1e-9)


def test_logistic_hessian_plan_is_a_gram_matrix() -> None:
    w, X, y, f = logistic(4, 50)
    g = compile(mg.derivative(f, w, order=2), [w, X, y])
    assert ops_of(g).count("gram") == 1 and "gemm" in ops_of(g), g.explain()


def test_gram_with_negative_or_complex_weights() -> None:
    rng = rng_of(3)
    X, v = Matrix("X", (7, 3)), Vector("v", 7)
    G = einsum_node([X, v, X], [(2, 0), (2,), (2, 1)], (0, 1))  # Xᵀ diag(v) X
    g = compile(G)
    assert "gram" in ops_of(g)
    X0, v0 = rng.standard_normal((7, 3)), rng.standard_normal(7)  # mixed signs
    close(g(X0, v0), X0.T @ np.diag(v0) @ X0)
    close(g(X0, np.abs(v0)), X0.T @ np.diag(np.abs(v0)) @ X0)
    Z, c = Matrix("Z", (7, 3), dtype=complex), Vector("c", 7, dtype=complex)
    Z0 = X0 + 1j * rng.standard_normal((7, 3))
    c0 = v0 + 1j * v0[::-1]
    gz = compile(einsum_node([Z, c, Z], [(2, 0), (2,), (2, 1)], (0, 1)))
    close(gz(Z0, c0), Z0.T @ np.diag(c0) @ Z0)
    # X diag(w) Xᵀ: the shared index is the column index
    Y, u = Matrix("Y", (3, 7)), Vector("u", 7)
    gy = compile(einsum_node([Y, u, Y], [(0, 2), (2,), (1, 2)], (0, 1)))
    Y0, u0 = rng.standard_normal((3, 7)), np.abs(rng.standard_normal(7))
    close(gy(Y0, u0), Y0 @ np.diag(u0) @ Y0.T)
    assert "gram" in ops_of(gy)


def test_logistic_hessian_plan_stays_small() -> None:
    # A path that multiplies the two data matrices first would need d·N·d entries
    # (5e8 here), past the size guard; the chosen path needs N·d.
    d, rows = 500, 2000
    w, X, y, f = logistic(d, rows)
    g = compile(mg.derivative(f, w, order=2), [w, X, y])
    assert g.largest <= rows * d


# =====================================================================================
# Deltas written into one buffer; coefficients on the smallest operand
# =====================================================================================


@given(seeds, st.integers(1, 6), st.integers(1, 5))
def test_jacobian_of_gram_is_one_buffer(seed: int, m: int, n: int) -> None:
    R = Matrix("R", (m, n))
    g = compile(mg.derivative(R.T @ R, R))
    R0 = rng_of(seed).standard_normal((m, n))
    eye = np.eye(n)
    expected = np.einsum("jq,pi->ijpq", eye, R0) + np.einsum("iq,pj->ijpq", eye, R0)
    close(g(R0), expected)
    assert ops_of(g).count("accumulate") == 1 and "add" not in ops_of(g), g.explain()
    assert g(R0.astype(np.float32)).dtype == np.float32


def test_accumulate_mixes_diagonal_and_dense_terms() -> None:
    n = 4
    X, A = Matrix("X", (n, n)), Matrix("A", (n, n))
    J = mg.derivative(X + A @ X, X)  # δ⊗δ + A⊗δ
    g = compile(J, [X, A])
    A0 = rng_of(5).standard_normal((n, n))
    eye = np.eye(n)
    expected = np.einsum("ik,jl->ijkl", eye, eye) + np.einsum("ik,jl->ijkl", A0, eye)
    close(g(np.zeros((n, n)), A0), expected)


@given(seeds, st.integers(1, 6))
def test_coefficient_moves_onto_the_smallest_operand(seed: int, n: int) -> None:
    X = Matrix("X", (n, n))
    X0 = rng_of(seed).standard_normal((n, n)) + 3 * n * np.eye(n)
    Y = np.linalg.inv(X0)
    for J, expected in (
        (mg.derivative(ops.inv(X), X), -np.einsum("ik,lj->ijkl", Y, Y)),
        (mg.derivative(ops.logdet(X), X, order=2), -np.einsum("jk,li->ijkl", Y, Y)),
    ):
        g = compile(J)
        close(g(X0), expected, rtol=1e-9)
        scaled = [s for s in g.steps if s.op == "scale"]
        assert all(len(s.shape) == 2 for s in scaled), g.explain()
        assert "add" not in ops_of(g)


# =====================================================================================
# Several expressions planned together
# =====================================================================================


def network(width: int, batch: int) -> tuple[list[Any], list[Any], Any]:
    X, Y = Matrix("X", (batch, width)), Matrix("Y", (batch, 3))
    W1, b1 = Matrix("W1", (width, width)), Vector("b1", width)
    W2, b2 = Matrix("W2", (width, 3)), Vector("b2", 3)
    h = mg.tanh(X @ W1 + b1)
    loss = mg.sum((h @ W2 + b2 - Y) ** 2)
    return [W1, b1, W2, b2], [X, Y], loss


def network_values(width: int, batch: int) -> list[np.ndarray]:
    rng = rng_of(7)
    return [
        rng.standard_normal((width, width)) / width,
        rng.standard_normal(width),
        rng.standard_normal((width, 3)),
        rng.standard_normal(3),
        rng.standard_normal((batch, width)),
        rng.standard_normal((batch, 3)),
    ]


def test_gradients_planned_together_share_the_forward_pass() -> None:
    width, batch = 8, 16
    params, data, loss = network(width, batch)
    grads = [mg.derivative(loss, p) for p in params]
    together = compile(grads, [*params, *data])
    assert isinstance(together, CompiledTuple)
    values = network_values(width, batch)
    results = together(*values)
    apart = [compile(gr, [*params, *data]) for gr in grads]
    for r, a in zip(results, apart):
        close(r, a(*values))
    assert len(together.steps) < sum(len(a.steps) for a in apart)
    tanh_steps = [s for s in together.steps if s.detail == "tanh"]
    assert len(tanh_steps) == 1, together.explain()  # the hidden layer, once
    assert "results:" in together.explain()


def test_tuple_results_do_not_alias() -> None:
    X = Matrix("X", (2, 2))
    g = compile([X @ X, X @ X, X], [X])
    X0 = np.eye(2)
    a, b, c = g(X0)
    a[...] = 5.0
    assert np.array_equal(b, np.eye(2)) and np.array_equal(c, np.eye(2))
    c[...] = 7.0
    assert np.array_equal(X0, np.eye(2))
    with pytest.raises(ValueError, match="sequence with non-expressions"):
        compile([X, "not an expression"])  # type: ignore[list-item]


def test_function_api_plans_argnums_together() -> None:
    width, batch = 6, 10
    values = network_values(width, batch)

    def f(W1: Any, b1: Any, W2: Any, b2: Any, X: Any, Y: Any) -> Any:
        h = np.tanh(X @ W1 + b1)
        return np.sum((h @ W2 + b2 - Y) ** 2)

    g = mg.grad(f, argnums=(0, 1, 2, 3))
    results = g(*values)
    assert len(g._cache) == 1  # type: ignore[attr-defined]
    (plan,) = g._cache.values()  # type: ignore[attr-defined]
    assert isinstance(plan, CompiledTuple)
    for k, r in enumerate(results):
        single = mg.grad(f, argnums=k)(*values)
        close(r, single)
    value, grads = mg.value_and_grad(f, argnums=(0, 2))(*values)
    close(value, f(*values))
    close(grads[0], results[0])
    close(grads[1], results[2])


# =====================================================================================
# Contraction kernels
# =====================================================================================


def test_reductions_and_broadcast_products_use_numpy_directly() -> None:
    n, m = 5, 4
    X, v = Matrix("X", (n, m)), Vector("v", n)
    rng = rng_of(11)
    X0, v0 = rng.standard_normal((n, m)), rng.standard_normal(n)
    g = compile(mg.sum(X, axis=0))
    close(g(X0), X0.sum(axis=0))
    assert ops_of(g) == ["sum"]
    h = compile(einsum_node([v, X], [(0,), (0, 1)], (1, 0)))  # diag(v) X, transposed
    close(h(X0, v0), (v0[:, None] * X0).T)
    assert ops_of(h) == ["multiply"]
    k = compile(einsum_node([X, X], [(0, 1), (0, 2)], (1,)))  # column sums of XᵀX
    close(k(X0), (X0.T @ X0).sum(axis=1))


def test_contraction_order_reuses_work_of_other_outputs() -> None:
    # d/dW1 and d/db1 both need (g Wᵀ) ⊙ (1 − h²): planned together it is computed
    # once, and d/db1 sums it instead of forming a (width × width) product.
    width, batch = 16, 32
    params, data, loss = network(width, batch)
    grads = [mg.derivative(loss, p) for p in params[:2]]
    together = compile(grads, [*params, *data])
    big = [s for s in together.steps if s.flops >= 2 * batch * width * width]
    assert len(big) <= 3, together.explain()  # forward, backward to the layer, dW1


# =====================================================================================
# Large derivatives without forming the Jacobian
# =====================================================================================


def test_jvp_of_a_large_linear_map_uses_little_memory() -> None:
    n = 2000
    rng = rng_of(0)
    A0, B0, X0, V = (rng.standard_normal((n, n)) for _ in range(4))
    tracemalloc.start()
    try:
        _, d = mg.jvp(lambda X: A0 @ X @ B0, (X0,), (V,))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_allclose(d, A0 @ V @ B0, rtol=1e-9, atol=1e-6)
    # a handful of n×n arrays (the constants, the value, the tangent products);
    # the Jacobian would be n⁴ entries, 128 TB
    assert peak < 12 * n * n * 8


def test_contracting_a_jacobian_with_a_tensor_never_forms_it() -> None:
    n = 2000
    X, A, B, V = (Matrix(name, (n, n)) for name in "XABV")
    J = mg.derivative(A @ X @ B, X)  # shape (n, n, n, n): 1.6e13 entries, symbolic
    assert J.shape == (n, n, n, n)
    JV = simplify(mg.einsum("ijkl,kl->ij", J, V))
    g = compile(JV, [A, B, V, X])
    assert g.largest <= n * n, g.explain()
    m = 30  # evaluate the same contraction at a small size
    Xs, As, Bs, Vs = (Matrix(name, (m, m)) for name in "XABV")
    small = compile(
        simplify(mg.einsum("ijkl,kl->ij", mg.derivative(As @ Xs @ Bs, Xs), Vs)), [As, Bs, Vs, Xs]
    )
    rng = rng_of(2)
    A0, B0, V0 = (rng.standard_normal((m, m)) for _ in range(3))
    close(small(A0, B0, V0, np.zeros((m, m))), A0 @ V0 @ B0)


def test_forming_a_huge_jacobian_is_refused_before_allocating() -> None:
    n = 2000
    rng = rng_of(4)
    A0 = rng.standard_normal((n, n))
    tracemalloc.start()
    try:
        with pytest.raises(ShapeError, match=r"16000000000000 elements.*max_elements"):
            mg.jacobian(lambda X: A0 @ X)(np.zeros((n, n)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * n * n * 8


def test_hvp_matches_the_hessian_and_stays_small() -> None:
    rng = rng_of(8)
    d, rows = 6, 40
    X0, y0 = rng.standard_normal((rows, d)), np.sign(rng.standard_normal(rows))
    w0, v0 = rng.standard_normal(d), rng.standard_normal(d)

    def loss(w: Any) -> Any:
        return np.sum(np.log(1 + np.exp(-y0 * (X0 @ w))))

    close(hvp(loss, (w0,), (v0,)), logistic_hessian(w0, X0, y0) @ v0, rtol=1e-9)
    # several primals: the stacked Hessian times the stacked tangent
    A0 = rng.standard_normal((d, d))

    def two(x: Any, z: Any) -> Any:
        return x @ A0 @ z + np.sum(x * x * z)

    x0, z0, vx, vz = (rng.standard_normal(d) for _ in range(4))
    hx, hz = hvp(two, (x0, z0), (vx, vz))
    Hxx, Hxz, Hzz = np.diag(2 * z0), A0 + np.diag(2 * x0), np.zeros((d, d))
    close(hx, Hxx @ vx + Hxz @ vz)
    close(hz, Hxz.T @ vx + Hzz @ vz)
    with pytest.raises(ShapeError, match="scalar-valued"):
        hvp(lambda x: 2 * x, (x0,), (vx,))


def test_hvp_never_forms_the_hessian() -> None:
    n = 3000  # the Hessian would have 9e6 entries; the plan stays at n
    w, v = Vector("w", n), Vector("v", n)
    f = mg.sum(mg.tanh(w) ** 2)
    (grad,) = mg.vjp_expr(f, mg.constant(np.ones(())), [w])
    g = compile(mg.jvp_expr(grad, {w: v}), [w, v])
    assert g.largest <= n
    w0, v0 = rng_of(9).standard_normal(n), rng_of(10).standard_normal(n)
    t = np.tanh(w0)
    close(g(w0, v0), (2 * (1 - t**2) ** 2 - 4 * t**2 * (1 - t**2)) * v0)


def test_jvp_vjp_hvp_caches_are_never_stale() -> None:
    A0 = np.array([[1.0, 2.0], [3.0, 4.0]])
    x0, v0 = np.array([1.0, -1.0]), np.array([0.5, 2.0])
    first = mg.jvp(lambda x: A0 @ x, (x0,), (v0,))[1]
    A0[0, 0] = -5.0  # mutated in place: the traced constant differs
    close(mg.jvp(lambda x: A0 @ x, (x0,), (v0,))[1], A0 @ v0)
    assert not np.allclose(first, A0 @ v0)
    _, pull = mg.vjp(lambda x: A0 @ x, x0)
    close(pull(v0)[0], A0.T @ v0)
    close(hvp(lambda x: x @ A0 @ x, (x0,), (v0,)), (A0 + A0.T) @ v0)
    A0[1, 1] = 9.0
    close(hvp(lambda x: x @ A0 @ x, (x0,), (v0,)), (A0 + A0.T) @ v0)


# =====================================================================================
# explain()
# =====================================================================================


def test_explain_names_paths_flops_and_the_largest_array() -> None:
    n = 4
    X, A = Matrix("X", (n, n)), Matrix("A", (n, n))
    g = compile(mg.derivative(ops.trace(X.T @ A @ X), X), [X, A])
    text = g.explain()
    assert "path [" in text and "flops" in text
    assert f"largest array {g.largest} elements" in text
    assert g.largest == n * n


def test_gram_rewrite_needs_weights_on_the_summed_index() -> None:
    """Regression (found by a long fuzz run): in ``Mᵀ c M`` with only scalar weights
    the Gram rewrite must not fire (the weights do not carry the summed index)."""
    x = mg.Vector("x", 1)
    B = mg.Matrix("B", (1, 2))
    B0 = np.array([[0.5, -1.2]])
    f = 2 * mg.tanh((B.T @ x) @ (B.T @ x))

    def value(v: np.ndarray) -> float:
        return float(2 * np.tanh((B0.T @ v) @ (B0.T @ v)))

    expected = mg.numeric.hessian(value, np.array([0.3]), method="richardson")
    for mode in ("forward", "reverse"):
        h = mg.derivative(f, x, order=2, mode=mode)
        np.testing.assert_allclose(h.evaluate(x=np.array([0.3]), B=B0), expected, rtol=1e-8)

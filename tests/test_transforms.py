"""The function API over plain-NumPy functions: results against closed forms
derived by hand and against numerical differentiation; caching without
staleness."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import matgrad as mg
from matgrad import numeric
from matgrad.errors import InvalidArgumentError, NotCallableError, ShapeError
from matgrad.testing import strategies as mgst


@given(X0=mgst.invertible_matrices(st.integers(1, 4), max_condition=20.0))
def test_grad_of_slogdet_is_inverse_transpose(X0: np.ndarray) -> None:
    g = mg.grad(lambda X: np.linalg.slogdet(X)[1])(X0)
    np.testing.assert_allclose(g, np.linalg.inv(X0).T, rtol=1e-9, atol=1e-9)


@given(data=st.data(), n=st.integers(1, 4), m=st.integers(1, 3))
def test_grad_of_trace_quadratic(data: Any, n: int, m: int) -> None:
    A0 = data.draw(mgst.matrices((n, n)))
    X0 = data.draw(mgst.matrices((n, m)))
    g = mg.grad(lambda X: np.trace(X.T @ A0 @ X))(X0)
    np.testing.assert_allclose(g, (A0 + A0.T) @ X0, rtol=1e-10, atol=1e-10)


def small_network(W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, x: np.ndarray) -> Any:
    h = np.tanh(W1 @ x + b1)
    return np.sum((W2 @ h) ** 2)


@given(data=st.data(), n_in=st.integers(1, 4), n_hidden=st.integers(1, 4), n_out=st.integers(1, 3))
def test_tanh_network_gradients_match_numerics(
    data: Any, n_in: int, n_hidden: int, n_out: int
) -> None:
    W1 = data.draw(mgst.matrices((n_hidden, n_in), max_magnitude=2.0))
    b1 = data.draw(mgst.vectors(n_hidden, max_magnitude=2.0))
    W2 = data.draw(mgst.matrices((n_out, n_hidden), max_magnitude=2.0))
    x = data.draw(mgst.vectors(n_in, max_magnitude=2.0))
    grads = mg.grad(small_network, argnums=(0, 1, 2))(W1, b1, W2, x)
    args = [W1, b1, W2, x]
    for k, g in enumerate(grads):
        def f(v: np.ndarray, k: int = k) -> float:
            a = list(args)
            a[k] = v
            return float(small_network(*a))

        expected = numeric.gradient(f, args[k], method="richardson")
        np.testing.assert_allclose(g, expected, rtol=1e-7, atol=1e-7)


@given(data=st.data(), n=st.integers(1, 3))
def test_jacobian_of_inverse(data: Any, n: int) -> None:
    X0 = data.draw(mgst.invertible_matrices(n, max_condition=10.0))
    J = mg.jacobian(lambda X: np.linalg.inv(X))(X0)
    Y = np.linalg.inv(X0)
    expected = -np.einsum("ip,qj->ijpq", Y, Y)  # d(X⁻¹)_ij/dX_pq = −X⁻¹_ip X⁻¹_qj
    np.testing.assert_allclose(J, expected, rtol=1e-9, atol=1e-9)


@given(data=st.data(), n=st.integers(1, 4))
def test_hessian_of_quadratic_form(data: Any, n: int) -> None:
    A0 = data.draw(mgst.matrices((n, n)))
    x0 = data.draw(mgst.vectors(n))
    H = mg.hessian(lambda x: x @ A0 @ x)(x0)
    np.testing.assert_allclose(H, A0 + A0.T, rtol=1e-12, atol=1e-12)


@given(data=st.data(), n=st.integers(1, 4), m=st.integers(1, 4))
def test_jvp_and_vjp_match_the_jacobian(data: Any, n: int, m: int) -> None:
    A0 = data.draw(mgst.matrices((n, n), max_magnitude=2.0))
    B0 = data.draw(mgst.matrices((m, m), max_magnitude=2.0))
    X0 = data.draw(mgst.matrices((n, m), max_magnitude=2.0))
    V = data.draw(mgst.matrices((n, m), max_magnitude=2.0))
    C = data.draw(mgst.matrices((n, m), max_magnitude=2.0))

    def f(X: Any) -> Any:
        return np.tanh(A0 @ X @ B0)

    J = numeric.jacobian(lambda X: np.tanh(A0 @ X @ B0), X0, method="richardson")
    out, d = mg.jvp(f, (X0,), (V,))
    np.testing.assert_allclose(out, np.tanh(A0 @ X0 @ B0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(d, np.einsum("ijpq,pq->ij", J, V), rtol=1e-7, atol=1e-7)
    _, pullback = mg.vjp(f, X0)
    (ct,) = pullback(C)
    np.testing.assert_allclose(ct, np.einsum("ij,ijpq->pq", C, J), rtol=1e-7, atol=1e-7)


def test_jvp_of_a_large_linear_map_does_not_form_the_jacobian() -> None:
    n = 2000
    rng = np.random.default_rng(0)
    A0, B0, X0, V = (rng.standard_normal((n, n)) for _ in range(4))
    # the Jacobian would have n**4 = 1.6e13 entries: forming it would trip the
    # evaluator's size guard (1e8 elements) long before running out of memory
    _, d = mg.jvp(lambda X: A0 @ X @ B0, (X0,), (V,))
    np.testing.assert_allclose(d, A0 @ V @ B0, rtol=1e-9, atol=1e-6)


def test_cache_is_reused_and_never_stale() -> None:
    A0 = np.array([[1.0, 2.0], [3.0, 4.0]])
    g = mg.grad(lambda X: np.trace(X.T @ A0 @ X))
    X0 = np.eye(2)
    first = g(X0)
    np.testing.assert_allclose(first, (A0 + A0.T) @ X0)
    assert len(g._cache) == 1  # type: ignore[attr-defined]
    g(X0 + 1.0)
    assert len(g._cache) == 1  # type: ignore[attr-defined]  # same shapes: no new derivation
    A0[0, 0] = 10.0  # the closure constant changes in place
    np.testing.assert_allclose(g(X0), (A0 + A0.T) @ X0)
    g(np.eye(3)[:2, :2] * 2)
    assert len(g._cache) == 2  # type: ignore[attr-defined]


def test_argnums_tuple_and_negative() -> None:
    A0 = np.array([[2.0, 0.5], [0.0, 1.0]])

    def f(a: Any, X: Any, b: Any) -> Any:
        return a @ X @ b

    a0, X0, b0 = np.array([1.0, 2.0]), A0, np.array([3.0, -1.0])
    ga, gb = mg.grad(f, argnums=(0, -1))(a0, X0, b0)
    np.testing.assert_allclose(ga, X0 @ b0)
    np.testing.assert_allclose(gb, X0.T @ a0)
    np.testing.assert_allclose(mg.grad(f, argnums=1)(a0, X0, b0), np.outer(a0, b0))


def test_bad_input() -> None:
    with pytest.raises(NotCallableError, match="callable"):
        mg.grad(42)  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match="scalar-valued"):
        mg.grad(lambda x: 2 * x)(np.ones(3))
    with pytest.raises(InvalidArgumentError, match="out of range"):
        mg.grad(lambda x: np.sum(x), argnums=3)(np.ones(3))
    with pytest.raises(InvalidArgumentError, match="numeric"):
        mg.grad(lambda x: x)("text")
    with pytest.raises(TypeError, match="not supported"):
        mg.grad(lambda x: np.sum(np.unique(x)))(np.ones(3))


def test_hvp_of_a_quadratic_and_of_a_network_loss() -> None:
    from matgrad.function_api.transforms import hvp

    A0 = np.array([[2.0, 1.0], [0.5, 3.0]])
    x0, v0 = np.array([1.0, -2.0]), np.array([0.3, 0.7])
    np.testing.assert_allclose(hvp(lambda x: x @ A0 @ x, (x0,), (v0,)), (A0 + A0.T) @ v0)
    W1, b1 = np.array([[0.5, -1.0], [1.5, 0.2]]), np.array([0.1, -0.3])
    W2, x = np.array([[1.0, 2.0]]), np.array([0.4, -0.6])

    def loss(W: Any) -> Any:
        return small_network(W, b1, W2, x)

    H = mg.hessian(loss)(W1)  # shape (2, 2, 2, 2)
    V = np.array([[1.0, 0.0], [0.5, -1.0]])
    np.testing.assert_allclose(
        hvp(loss, (W1,), (V,)), np.einsum("ijkl,kl->ij", H, V), rtol=1e-10, atol=1e-12
    )
    with pytest.raises(InvalidArgumentError, match="tangents"):
        hvp(loss, (W1,), ())


def test_value_and_grad_share_one_plan() -> None:
    A0 = np.array([[1.0, 2.0], [3.0, 4.0]])
    vg = mg.value_and_grad(lambda X, B: np.trace(X.T @ A0 @ B), argnums=(0, 1))
    X0, B0 = np.eye(2), np.ones((2, 2))
    value, (gX, gB) = vg(X0, B0)
    np.testing.assert_allclose(value, np.trace(X0.T @ A0 @ B0))
    np.testing.assert_allclose(gX, A0 @ B0)
    np.testing.assert_allclose(gB, A0.T @ X0)
    assert len(vg._cache) == 1  # type: ignore[attr-defined]

"""Compiled derivatives on other array engines (Dask, threaded and on an in-process
distributed cluster; PyTorch; JAX) and over a batch axis, against NumPy and closed
forms derived by hand.  Each engine's tests skip when it is not installed."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from gpu_engines import gpus

import matgrad as mg
from matgrad.compiler import backends
from matgrad.errors import (
    BindingError,
    InvalidArgumentError,
    MissingDependencyError,
    UnsupportedOperationError,
)
from matgrad.ir.apply import Operation, Sample, same_shape
from matgrad.ops import registry

ENGINES = ["numpy", "dask", "dask-distributed", "torch", "jax"]


class Engine:
    """How a test moves NumPy arrays to an engine and results back."""

    def __init__(self, name: str, to: Callable[[Any], Any], back: Callable[[Any], Any],
                 kind: type) -> None:
        self.name, self.to, self.back, self.kind = name, to, back, kind


@pytest.fixture(scope="module")
def distributed_client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = distributed.Client(
            processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
        )
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Engine:
    name = request.param
    if name == "numpy":
        return Engine(name, lambda a: a, np.asarray, np.ndarray)
    if name.startswith("dask"):
        da = pytest.importorskip("dask.array")
        pytest.importorskip("array_api_compat")
        if name == "dask":
            def back(x: Any) -> Any:
                return np.asarray(x.compute(scheduler="threads"))
        else:
            client = request.getfixturevalue("distributed_client")

            def back(x: Any) -> Any:
                return np.asarray(client.compute(x).result())
        return Engine(name, lambda a: da.from_array(np.asarray(a), chunks=7), back, da.Array)
    if name == "torch":
        torch = pytest.importorskip("torch")
        pytest.importorskip("array_api_compat")
        return Engine(name, torch.tensor, lambda t: t.detach().cpu().numpy(), torch.Tensor)
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return Engine(name, jax.numpy.asarray, np.asarray, jax.Array)


def close(got: Any, want: Any, rtol: float = 1e-9) -> None:
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


RNG = np.random.default_rng(20261207)
X0 = RNG.standard_normal((40, 4))
Y0 = np.sign(RNG.standard_normal(40))
W0 = 0.3 * RNG.standard_normal(4)
V0 = RNG.standard_normal(4)


def logistic_loss(w: Any, X: Any, y: Any) -> Any:
    return np.sum(np.logaddexp(0, -y * (X @ w)))


def sigmoid(z: Any) -> Any:
    return 1 / (1 + np.exp(-z))


def test_gradient_and_hessian_vector_product(engine: Engine) -> None:
    """The logistic loss: ∇ = −Xᵀ(y ⊙ σ(−y ⊙ Xw)), H v = Xᵀ diag(σ(z)(1−σ(z))) X v."""
    z = X0 @ W0
    grad_by_hand = -X0.T @ (Y0 * sigmoid(-Y0 * z))
    s = sigmoid(z)
    hvp_by_hand = X0.T @ (s * (1 - s) * (X0 @ V0))
    args = [engine.to(a) for a in (W0, X0, Y0)]
    g = mg.grad(logistic_loss)(*args)
    assert isinstance(g, engine.kind)
    close(engine.back(g), grad_by_hand)
    tangents = [engine.to(a) for a in (V0, np.zeros_like(X0), np.zeros_like(Y0))]
    hv = mg.hvp(logistic_loss, args, tangents)
    assert isinstance(hv[0], engine.kind)
    close(engine.back(hv[0]), hvp_by_hand)
    in_w = mg.hvp(logistic_loss, args, [engine.to(V0)], argnums=0)  # the data held fixed
    close(engine.back(in_w), hvp_by_hand)


def test_compiled_expression_and_value_and_grad(engine: Engine) -> None:
    X, w, y = mg.Matrix("X", (40, 4)), mg.Vector("w", 4), mg.Vector("y", 40)
    loss = mg.sum(mg.log1p(mg.exp(-y * (X @ w))))
    plan = mg.compile([loss, mg.derivative(loss, w)], [X, w, y])
    value, gradient = plan(engine.to(X0), engine.to(W0), engine.to(Y0))
    close(engine.back(value), np.sum(np.log1p(np.exp(-Y0 * (X0 @ W0)))))
    close(engine.back(gradient), -X0.T @ (Y0 * sigmoid(-Y0 * (X0 @ W0))))
    _, (gw,) = mg.value_and_grad(logistic_loss, argnums=(0,))(
        engine.to(W0), engine.to(X0), engine.to(Y0))
    close(engine.back(gw), engine.back(gradient))


def test_newton_step_with_logdet(engine: Engine) -> None:
    """The Gaussian log-likelihood in the precision K: f(K) = log det K − tr(C K),
    ∇f = K⁻¹ − C, d∇f[Δ] = −K⁻¹ Δᵀ K⁻¹ (K symmetric); the Newton step solves
    d∇f[Δ] = −∇f, which by hand is Δ = K ∇f K = K − K C K."""
    A = RNG.standard_normal((4, 30))
    C = np.cov(A)
    K = np.linalg.inv(C) + 0.1 * np.eye(4)

    def f(K: Any) -> Any:
        return np.linalg.slogdet(K)[1] - np.trace(C @ K)

    g = engine.back(mg.grad(f)(engine.to(K)))
    H = engine.back(mg.hessian(f)(engine.to(K)))
    close(g, np.linalg.inv(K) - C)
    step = np.linalg.solve(H.reshape(16, 16), -g.reshape(16)).reshape(4, 4)
    close(step, K - K @ C @ K, rtol=1e-8)


def test_batched_jacobian_of_inverses(engine: Engine) -> None:
    """∂(X⁻¹)ᵢⱼ/∂Xₖₗ = −(X⁻¹)ᵢₖ (X⁻¹)ₗⱼ, for a batch of 6 matrices in one plan."""
    Xs = RNG.standard_normal((6, 3, 3)) + 3 * np.eye(3)
    J = mg.vmap(mg.jacobian(np.linalg.inv))(engine.to(Xs))
    assert isinstance(J, engine.kind)
    inv = np.linalg.inv(Xs)
    close(engine.back(J), -np.einsum("bik,blj->bijkl", inv, inv))


def test_per_example_gradients(engine: Engine) -> None:
    """vmap over the examples with the weights shared (in_axes None)."""

    def one(w: Any, x: Any, y: Any) -> Any:
        return np.logaddexp(0, -y * (x @ w))

    G = mg.vmap(mg.grad(one), in_axes=(None, 0, 0))(engine.to(W0), engine.to(X0), engine.to(Y0))
    by_hand = -(Y0 * sigmoid(-Y0 * (X0 @ W0)))[:, None] * X0
    close(engine.back(G), by_hand)


def test_compiled_vmap_with_shared_input(engine: Engine) -> None:
    X, A = mg.Matrix("X", (3, 3)), mg.Matrix("A", (3, 3))
    plan = mg.compile(mg.derivative(mg.trace(X.T @ A @ X), X), [A, X])
    Xs = RNG.standard_normal((5, 3, 3))
    A0 = RNG.standard_normal((3, 3))
    got = engine.back(mg.vmap(plan, in_axes=(None, 0))(engine.to(A0), engine.to(Xs)))
    close(got, np.einsum("kl,blj->bkj", A0 + A0.T, Xs))


def test_results_keep_the_engine_and_precision() -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    X = mg.Matrix("X", (3, 3))
    plan = mg.compile(mg.derivative(mg.logdet(X), X))
    X32 = torch.tensor(np.eye(3) * 2, dtype=torch.float32)
    out = plan(X32)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    close(out.numpy(), np.eye(3) / 2, rtol=1e-6)


def test_constants_move_to_the_device_once() -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    X = mg.Matrix("X", (3, 3))
    C = RNG.standard_normal((3, 3))
    plan = mg.compile(mg.trace(X @ mg.constant(C)))
    moved: list[Any] = []
    ns = backends.namespace("torch")
    original = ns.asarray

    def counting(value: Any, like: Any = None) -> Any:
        moved.append(value)
        return original(value, like)

    ns.asarray = counting  # type: ignore[method-assign]
    try:
        for _ in range(3):
            close(plan(torch.tensor(np.eye(3))).numpy(), np.trace(C))
    finally:
        del ns.asarray
    assert len(moved) == 1  # the constant C, once


def test_dask_stays_lazy_until_compute() -> None:
    """A scheduler that fails on any computation is active while the derivative
    is planned and built; only ``compute`` runs the graph."""
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    pytest.importorskip("array_api_compat")

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("computed before compute()")

    X = da.from_array(X0, chunks=(10, 4))
    y = da.from_array(Y0, chunks=10)
    w = da.from_array(W0, chunks=-1)
    K = np.linalg.inv(np.cov(RNG.standard_normal((4, 30)))) + np.eye(4)
    with dask.config.set(scheduler=refuse):
        g = mg.grad(logistic_loss)(w, X, y)
        hv = mg.hvp(logistic_loss, (w, X, y), (w, da.zeros_like(X), da.zeros_like(y)))
        newton = mg.hessian(lambda K: np.linalg.slogdet(K)[1])(da.from_array(K, chunks=2))
        assert all(isinstance(r, da.Array) for r in (g, hv[0], newton))
        with pytest.raises(AssertionError, match="computed before"):
            g.compute()
    close(g.compute(scheduler="sync"), -X0.T @ (Y0 * sigmoid(-Y0 * (X0 @ W0))))
    inv = np.linalg.inv(K)
    # ∂(K⁻ᵀ)ₖₗ/∂Kₘₙ = −(K⁻¹)ₗₘ (K⁻¹)ₙₖ
    close(newton.compute(scheduler="sync"), -np.einsum("lm,nk->klmn", inv, inv), rtol=1e-8)


def test_backend_argument_moves_numpy_inputs() -> None:
    da = pytest.importorskip("dask.array")
    pytest.importorskip("array_api_compat")
    g = mg.grad(logistic_loss, backend="dask")(W0, X0, Y0)
    assert isinstance(g, da.Array)
    close(g.compute(scheduler="sync"), mg.grad(logistic_loss)(W0, X0, Y0))
    X = mg.Matrix("X", (3, 3))
    plan = mg.compile(mg.inv(X), backend="dask")
    assert isinstance(plan(np.eye(3) * 2), da.Array)


def test_bad_backends_and_mixed_engines() -> None:
    X = mg.Matrix("X", (2, 2))
    with pytest.raises(InvalidArgumentError, match="unknown backend 'tensorflow'"):
        mg.compile(X @ X, backend="tensorflow")
    with pytest.raises(InvalidArgumentError, match="unknown backend"):
        mg.grad(lambda x: np.sum(x), backend="Torch")
    torch = pytest.importorskip("torch")
    da = pytest.importorskip("dask.array")
    pytest.importorskip("array_api_compat")
    A = mg.Matrix("A", (2, 2))
    plan = mg.compile(A @ X, [A, X])
    with pytest.raises(InvalidArgumentError, match="two array engines"):
        plan(torch.eye(2, dtype=torch.float64), da.eye(2))
    with pytest.raises(BindingError, match="shape"):
        plan(torch.eye(3, dtype=torch.float64), torch.eye(2, dtype=torch.float64))


def test_missing_engine_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cupy", None)  # as if not installed
    monkeypatch.setattr(backends, "_CACHE", {})
    with pytest.raises(MissingDependencyError, match=r"pip install 'matgrad\[cupy\]'"):
        mg.compile(mg.Matrix("X", (2, 2)), backend="cupy")
    monkeypatch.setitem(sys.modules, "dask.array", None)
    with pytest.raises(MissingDependencyError, match=r"matgrad\[dask\]"):
        backends.namespace("dask")
    assert isinstance(MissingDependencyError("x"), ImportError)


def test_an_operation_without_a_portable_kernel_is_refused_by_name() -> None:
    """Never a silent round trip through NumPy: torch refuses, naming the operation;
    Dask runs the NumPy kernel lazily."""
    torch = pytest.importorskip("torch")
    da = pytest.importorskip("dask.array")
    pytest.importorskip("array_api_compat")
    op = Operation(
        name="numpy_only_twice", family="test", doc="2x by NumPy only", shape=same_shape,
        numpy=lambda x: np.multiply(np.asarray(x), 2.0),
        differential=lambda node, d: 2 * d[0],
        samples=(Sample("numpy-only", None, lambda n, m: ((n,),), ("general",)),),
    )
    build = registry.declare(op)
    try:
        x = mg.Vector("x", 3)
        plan = mg.compile(build(x) + x)
        with pytest.raises(UnsupportedOperationError, match="numpy_only_twice"):
            plan(torch.ones(3, dtype=torch.float64))
        lazy = plan(da.ones(3, chunks=2))
        assert isinstance(lazy, da.Array)
        close(lazy.compute(scheduler="sync"), 3 * np.ones(3))
    finally:
        registry.withdraw("numpy_only_twice")


@pytest.mark.gpu
def test_gpu_engines() -> None:
    """Runs only where a GPU is: the same gradient on CUDA tensors and CuPy arrays,
    results on the device."""
    engines = gpus()
    if not engines:
        pytest.skip("no GPU here (torch.cuda unavailable, no CuPy device)")
    for _, to, back in engines:
        g = mg.grad(logistic_loss)(*[to(a) for a in (W0, X0, Y0)])
        assert not isinstance(g, np.ndarray)  # on the device
        close(back(g), mg.grad(logistic_loss)(W0, X0, Y0))


def test_an_engine_array_in_the_closure_says_to_pass_it() -> None:
    torch = pytest.importorskip("torch")
    X = torch.ones((5, 3), dtype=torch.float64)
    with pytest.raises(UnsupportedOperationError, match="must be one of its arguments"):
        mg.grad(lambda w: np.sum(X @ w))(np.ones(3))
    g = mg.grad(lambda w, X: np.sum(X @ w))(torch.ones(3, dtype=torch.float64), X)
    close(g.numpy(), 5 * np.ones(3))


def test_vmap_refuses_bad_axes() -> None:
    X = mg.Matrix("X", (2, 2))
    plan = mg.compile(X @ X)
    with pytest.raises(InvalidArgumentError, match=r"one per input \(X\)"):
        mg.vmap(plan, (0, 0))
    with pytest.raises(InvalidArgumentError, match="batches no input"):
        mg.vmap(plan, None)
    with pytest.raises(InvalidArgumentError, match="vmap of a vmap"):
        mg.vmap(mg.vmap(plan))
    with pytest.raises(InvalidArgumentError, match="batches no argument"):
        mg.vmap(lambda x: x, (None,))(np.ones(2))
    with pytest.raises(BindingError, match="batch"):
        mg.vmap(plan)(np.ones((2, 3, 3)))


def test_logistic_function_at_the_ends(engine: Engine) -> None:
    """σ and its derivative where exp overflows: exact limits, no nan."""
    x = mg.Vector("x", 7)
    v = np.array([-1000.0, -40.0, -1.0, 0.0, 1.0, 40.0, 1000.0])
    by_hand = np.array([0.0, 1 / (1 + np.exp(40.0)), 1 / (1 + np.e), 0.5, 1 / (1 + np.exp(-1.0)),
                        1 / (1 + np.exp(-40.0)), 1.0])
    value = engine.back(mg.compile(mg.sigmoid(x))(engine.to(v)))
    slope = engine.back(mg.compile(mg.derivative(mg.sum(mg.sigmoid(x)), x))(engine.to(v)))
    np.testing.assert_allclose(value, by_hand, rtol=1e-14, atol=0)
    np.testing.assert_allclose(slope, by_hand * (1 - by_hand), rtol=1e-12, atol=0)

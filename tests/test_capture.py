"""Captured arrays and trace reuse in the function API (issue 14, items 1 and 2).

Large arrays from a closure or globals are inputs of the compiled plan (never
copied, hashed or compared); a function's trace is reused while its guards hold.
Each staleness case changes something between two calls and checks the second
result against a closed form computed with NumPy by hand."""

from __future__ import annotations

import dataclasses
import hashlib
import tracemalloc
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import matgrad as mg
from matgrad.errors import ShapeError
from matgrad.function_api import tracing, transforms
from matgrad.function_api.guards import guards_for

RNG = np.random.default_rng(1234)
BIG = tracing.CAPTURE_THRESHOLD  # entries from which an array is captured


def _sigmoid(t: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * t))  # type: ignore[no-any-return]


def _logistic_grad(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """−Xᵀ(y ⊙ σ(−y ⊙ Xw)), the gradient of Σ log(1 + exp(−y ⊙ Xw))."""
    return -(X.T @ (y * _sigmoid(-y * (X @ w))))  # type: ignore[no-any-return]


def _data(rows: int, cols: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = RNG.standard_normal((rows, cols))
    y = np.where(RNG.standard_normal(rows) > 0, 1.0, -1.0)
    return X, y, RNG.standard_normal(cols) / 3


@pytest.fixture
def traces(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the traces the transforms make (one entry per trace)."""
    made: list[int] = []
    original = transforms.Traced

    def counting(*args: Any, **kwargs: Any) -> Any:
        made.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(transforms, "Traced", counting)  # the name transforms uses
    return made


# ----------------------------------------------------------------------------------
# Captured arrays
# ----------------------------------------------------------------------------------


def test_large_closure_array_is_a_plan_input_and_in_place_changes_are_seen() -> None:
    X, y, w = _data(BIG // 8 + 1)
    g = mg.grad(lambda w: np.sum(np.log(1 + np.exp(-y * (X @ w)))))
    np.testing.assert_allclose(g(w), _logistic_grad(X, y, w), rtol=1e-10)
    assert any(a is X for a in g.last_captured)  # type: ignore[attr-defined]
    X *= 0.5  # in place
    y[:10] *= -1.0
    np.testing.assert_allclose(g(w), _logistic_grad(X, y, w), rtol=1e-10)


def test_first_call_does_not_copy_a_large_captured_array() -> None:
    X, y, w = _data(50_000, 40)  # 16 MB
    g = mg.grad(lambda w: np.sum(np.log(1 + np.exp(-y * (X @ w)))))
    tracemalloc.start()
    try:
        result = g(w)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_allclose(result, _logistic_grad(X, y, w), rtol=1e-10)
    assert peak < 0.5 * X.nbytes, f"peak {peak} bytes for data of {X.nbytes}"


@pytest.mark.parametrize("labels", [BIG // 8 + 1, BIG], ids=["small-y", "large-y"])
def test_no_hashing_of_captured_data(monkeypatch: pytest.MonkeyPatch, labels: int) -> None:
    """X is captured either way; a small y is a constant (hashed once, by the first
    trace), a large one is captured too."""
    X, y, w = _data(labels)
    hashed: list[int] = []
    original = hashlib.blake2b

    def counting(data: bytes = b"", **kwargs: Any) -> Any:
        hashed.append(len(data))
        return original(data, **kwargs)

    monkeypatch.setattr(hashlib, "blake2b", counting)
    g = mg.grad(lambda w: np.sum(np.log(1 + np.exp(-y * (X @ w)))))
    g(w)
    g(w)
    largest = X.nbytes if y.size < BIG else y.nbytes
    assert not [n for n in hashed if n >= largest], hashed


def test_small_arrays_stay_constants_and_keep_value_dependent_simplification() -> None:
    A = RNG.standard_normal((5, 5))
    S = A + A.T  # symmetric: the gradient of xᵀSx is 2Sx
    g = mg.grad(lambda x: x @ S @ x)
    x = RNG.standard_normal(5)
    np.testing.assert_allclose(g(x), 2 * S @ x)
    assert g.last_captured == ()  # type: ignore[attr-defined]
    ((out, _, captured),) = g._cache.keys()  # type: ignore[attr-defined]
    assert captured == () and "captured" not in str(out)


def test_integer_index_arrays_stay_constants() -> None:
    n = BIG + 10
    idx = np.arange(0, n, 2)
    c = RNG.standard_normal(idx.size)
    x = RNG.standard_normal(n)
    g = mg.grad(lambda x: np.sum(c * x[idx]))
    expected = np.zeros(n)
    expected[idx] = c
    np.testing.assert_allclose(g(x), expected)


def test_jvp_hvp_vjp_with_captured_data() -> None:
    X, y, w = _data(BIG // 8 + 1)
    v = RNG.standard_normal(w.shape)

    def f(w: Any) -> Any:
        return np.sum(np.log(1 + np.exp(-y * (X @ w))))

    s = _sigmoid(-y * (X @ w))
    hess = X.T @ ((s * (1 - s))[:, None] * X)
    np.testing.assert_allclose(mg.hvp(f, (w,), (v,)), hess @ v, rtol=1e-9)
    _, d = mg.jvp(f, (w,), (v,))
    np.testing.assert_allclose(d, _logistic_grad(X, y, w) @ v, rtol=1e-9)
    value, pullback = mg.vjp(lambda w: X @ w, w)
    np.testing.assert_allclose(value, X @ w)
    c = RNG.standard_normal(X.shape[0])
    np.testing.assert_allclose(pullback(c)[0], X.T @ c, rtol=1e-10)
    X[:] = 0.0  # read at call time: the pullback sees the array as it is now
    np.testing.assert_allclose(pullback(c)[0], np.zeros_like(w))


# ----------------------------------------------------------------------------------
# Trace reuse and its guards: each staleness case
# ----------------------------------------------------------------------------------


def test_trace_is_reused_while_nothing_changed(traces: list[int]) -> None:
    A = RNG.standard_normal((4, 4))
    g = mg.grad(lambda X: np.trace(X.T @ A @ X))
    X = RNG.standard_normal((4, 4))
    for _ in range(3):
        np.testing.assert_allclose(g(X), (A + A.T) @ X)
    assert len(traces) == 1


def test_small_array_changed_in_place(traces: list[int]) -> None:
    A = RNG.standard_normal((4, 4))
    g = mg.grad(lambda X: np.trace(X.T @ A @ X))
    X = RNG.standard_normal((4, 4))
    g(X)
    A[1, 2] += 3.0
    np.testing.assert_allclose(g(X), (A + A.T) @ X)
    assert len(traces) == 2


def test_value_derived_outside_the_trace_is_recomputed() -> None:
    """``A.sum()`` and ``X.mean(0)`` are NumPy computations on the raw arrays during
    tracing: an in-place change must still be seen, small or captured."""
    A = RNG.standard_normal((3, 3))
    g = mg.grad(lambda x: A.sum() * np.sum(x * x))
    x = RNG.standard_normal(3)
    g(x)
    A[0, 0] += 1.0
    np.testing.assert_allclose(g(x), 2 * A.sum() * x)
    X, _, w = _data(BIG // 8 + 1)
    h = mg.grad(lambda w: np.sum((X - X.mean(0)) @ w * ((X - X.mean(0)) @ w)))
    h(w)
    X[:, 0] += 5.0
    Xc = X - X.mean(0)
    np.testing.assert_allclose(h(w), 2 * Xc.T @ (Xc @ w), rtol=1e-9)


def test_closure_scalar_changed() -> None:
    scale = 2.0

    def f(x: Any) -> Any:
        return scale * np.sum(x**3)

    g = mg.grad(f)
    x = RNG.standard_normal(4)
    np.testing.assert_allclose(g(x), 6.0 * x**2)
    scale = -0.5
    np.testing.assert_allclose(g(x), -1.5 * x**2)


_WEIGHT = 3.0
_MATRIX = np.diag([1.0, 2.0, 3.0])


def _helper(x: Any) -> Any:
    return _WEIGHT * (x @ _MATRIX @ x)


def test_global_rebound(traces: list[int]) -> None:
    global _WEIGHT, _MATRIX
    g = mg.grad(lambda x: _helper(x) + np.sum(x))
    x = RNG.standard_normal(3)
    old_weight, old_matrix = _WEIGHT, _MATRIX
    try:
        np.testing.assert_allclose(g(x), _WEIGHT * 2 * _MATRIX @ x + 1)
        g(x)
        assert len(traces) == 1  # reused through the helper's guards
        _WEIGHT = -1.0
        np.testing.assert_allclose(g(x), -2 * _MATRIX @ x + 1)
        _MATRIX = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [2.0, 0.0, 1.0]])
        np.testing.assert_allclose(g(x), -(_MATRIX + _MATRIX.T) @ x + 1)
    finally:
        _WEIGHT, _MATRIX = old_weight, old_matrix


def test_helper_function_redefined() -> None:
    global _helper
    g = mg.grad(lambda x: _helper(x))
    x = RNG.standard_normal(3)
    original = _helper
    try:
        np.testing.assert_allclose(g(x), _WEIGHT * 2 * _MATRIX @ x)

        def _helper(x: Any) -> Any:
            return np.sum(np.sin(x))

        np.testing.assert_allclose(g(x), np.cos(x))
    finally:
        _helper = original


def test_function_code_replaced() -> None:
    def f(x: Any) -> Any:
        return np.sum(x**2)

    g = mg.grad(f)
    x = RNG.standard_normal(3)
    np.testing.assert_allclose(g(x), 2 * x)
    f.__code__ = (lambda x: np.sum(np.exp(x))).__code__
    np.testing.assert_allclose(g(x), np.exp(x))


@pytest.mark.parametrize("rows", [20, BIG // 8 + 1], ids=["constant", "captured"])
def test_captured_array_replaced_by_another_shape_or_the_same(rows: int) -> None:
    X, y, w = _data(rows)
    g = mg.grad(lambda w: np.sum(np.log(1 + np.exp(-y * (X @ w)))))
    np.testing.assert_allclose(g(w), _logistic_grad(X, y, w), rtol=1e-10)
    X, y, _ = _data(rows)  # same shapes, new arrays
    np.testing.assert_allclose(g(w), _logistic_grad(X, y, w), rtol=1e-10)
    X, y, _ = _data(rows + 7)  # another shape
    np.testing.assert_allclose(g(w), _logistic_grad(X, y, w), rtol=1e-10)


_EYE2 = np.eye(2)


def test_default_argument_changed() -> None:
    def f(x: Any, c: float = 2.0, M: Any = _EYE2) -> Any:
        return c * (x @ M @ x)

    g = mg.grad(f)
    x = RNG.standard_normal(2)
    np.testing.assert_allclose(g(x), 4 * x)
    f.__defaults__ = (5.0, np.eye(2))
    np.testing.assert_allclose(g(x), 10 * x)
    M = f.__defaults__[1]
    M[0, 1] = 1.0  # the default array changed in place
    np.testing.assert_allclose(g(x), 5 * (M + M.T) @ x)

    def h(x: Any, *, c: float = 2.0) -> Any:
        return c * np.sum(x**2)

    gh = mg.grad(h)
    np.testing.assert_allclose(gh(x), 4 * x)
    np.testing.assert_allclose(gh(x), 4 * x)
    assert h.__kwdefaults__ is not None
    h.__kwdefaults__["c"] = -1.0
    np.testing.assert_allclose(gh(x), -2 * x)


def test_arguments_of_another_shape_or_dtype() -> None:
    g = mg.grad(lambda x: np.sum(x**2))
    for x in (np.ones(3), np.ones(4), np.ones(4, dtype=np.float32), np.ones((2, 2))):
        result = g(x)
        np.testing.assert_allclose(result, 2 * x)
        assert result.shape == x.shape


class _Model:
    def __init__(self) -> None:
        self.A = np.eye(2)
        self.weights = {"c": 1.0}


def test_instance_attributes_are_guarded_by_name(traces: list[int]) -> None:
    """An object's attributes (an array changed in place, a dict entry, an
    attribute rebound): reused while unchanged, each change seen."""
    model = _Model()
    g = mg.grad(lambda x: model.weights["c"] * (x @ model.A @ x))
    x = RNG.standard_normal(2)
    np.testing.assert_allclose(g(x), 2 * x)
    np.testing.assert_allclose(g(x), 2 * x)
    assert len(traces) == 1
    model.A[0, 1] = 4.0
    np.testing.assert_allclose(g(x), (model.A + model.A.T) @ x)
    model.weights["c"] = 3.0
    np.testing.assert_allclose(g(x), 3 * (model.A + model.A.T) @ x)
    model.A = np.diag([2.0, 5.0])
    np.testing.assert_allclose(g(x), 3 * 2 * model.A @ x)
    assert len(traces) == 4


class _Loss:
    scale = 1.0  # a class attribute, read through the instance

    def __init__(self, A: np.ndarray, shift: float) -> None:
        self.A, self.shift, self.unused = A, shift, 0

    @property
    def matrix(self) -> np.ndarray:
        return self.A

    def inner(self, x: Any) -> Any:
        return x @ self.matrix + self.shift

    def loss(self, x: Any) -> Any:
        return self.scale * np.sum(np.sin(self.inner(x)))


def _loss_grad(obj: _Loss, x: np.ndarray) -> np.ndarray:
    return obj.scale * obj.A @ np.cos(x @ obj.A + obj.shift)  # type: ignore[no-any-return]


def test_bound_method_trace_reused_and_every_staleness_case(traces: list[int]) -> None:
    obj = _Loss(RNG.standard_normal((3, 3)), 0.5)
    g = mg.grad(obj.loss)
    x = RNG.standard_normal(3)
    for _ in range(3):
        np.testing.assert_allclose(g(x), _loss_grad(obj, x), rtol=1e-12)
    obj.unused = 7  # not read by the code
    np.testing.assert_allclose(g(x), _loss_grad(obj, x), rtol=1e-12)
    assert len(traces) == 1
    try:
        obj.A[0, 0] = 5.0  # in place, read through a property
        np.testing.assert_allclose(g(x), _loss_grad(obj, x), rtol=1e-12)
        obj.shift = -1.0  # an attribute rebound
        np.testing.assert_allclose(g(x), _loss_grad(obj, x), rtol=1e-12)
        _Loss.scale = 2.0  # a class attribute changed
        np.testing.assert_allclose(g(x), _loss_grad(obj, x), rtol=1e-12)
        obj.scale = 3.0  # the instance now shadows it
        np.testing.assert_allclose(g(x), _loss_grad(obj, x), rtol=1e-12)
        _Loss.inner = lambda self, x: x @ self.A - self.shift  # type: ignore[method-assign]
        z = x @ obj.A - obj.shift  # a method replaced on the class
        np.testing.assert_allclose(g(x), 3.0 * obj.A @ np.cos(z), rtol=1e-12)
        assert len(traces) == 6
    finally:
        _Loss.scale = 1.0
        _Loss.inner = _ORIGINAL_INNER  # type: ignore[method-assign]


_ORIGINAL_INNER = _Loss.inner


class _Layer:
    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        self.W, self.b = W, b

    def __call__(self, x: Any) -> Any:
        return np.tanh(x @ self.W + self.b)


class _Network:
    def __init__(self) -> None:
        self.layers = [_Layer(RNG.standard_normal((3, 3)), RNG.standard_normal(3))
                       for _ in range(2)]
        self.head = _Layer(RNG.standard_normal((3, 1)), np.zeros(1))

    def loss(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return np.sum(self.head(x))


def _network_grad(net: _Network, x: np.ndarray) -> np.ndarray:
    activations = [x]
    for layer in [*net.layers, net.head]:
        activations.append(np.tanh(activations[-1] @ layer.W + layer.b))
    g = np.ones(1)
    for layer, out in zip([net.head, *net.layers[::-1]], activations[:0:-1]):
        g = layer.W @ (g * (1 - out**2))
    return g


def test_objects_held_by_objects_are_guarded(traces: list[int]) -> None:
    net = _Network()
    g = mg.grad(net.loss)
    x = RNG.standard_normal(3)
    for _ in range(3):
        np.testing.assert_allclose(g(x), _network_grad(net, x), rtol=1e-10)
    assert len(traces) == 1
    net.layers[1].W[0, 0] += 1.0  # a nested object's array, in place
    np.testing.assert_allclose(g(x), _network_grad(net, x), rtol=1e-10)
    net.head.b = np.ones(1)  # a nested object's attribute rebound
    np.testing.assert_allclose(g(x), _network_grad(net, x), rtol=1e-10)
    net.layers.append(_Layer(np.eye(3), np.zeros(3)))  # one more layer
    np.testing.assert_allclose(g(x), _network_grad(net, x), rtol=1e-10)
    assert len(traces) == 4


@dataclasses.dataclass
class _Ridge:
    X: np.ndarray
    y: np.ndarray
    penalty: float = 0.5

    def loss(self, w: Any) -> Any:
        r = self.X @ w - self.y
        return r @ r + self.penalty * (w @ w)


def test_a_dataclass_model_is_guarded(traces: list[int]) -> None:
    model = _Ridge(RNG.standard_normal((6, 3)), RNG.standard_normal(6))
    g = mg.grad(model.loss)
    w = RNG.standard_normal(3)

    def expected() -> np.ndarray:
        return 2 * model.X.T @ (model.X @ w - model.y) + 2 * model.penalty * w  # type: ignore[no-any-return]

    for _ in range(3):
        np.testing.assert_allclose(g(w), expected(), rtol=1e-12)
    assert len(traces) == 1
    model.penalty = 2.0
    np.testing.assert_allclose(g(w), expected(), rtol=1e-12)
    model.y = RNG.standard_normal(6)
    np.testing.assert_allclose(g(w), expected(), rtol=1e-12)
    assert len(traces) == 3


class _Scaler:
    def __init__(self) -> None:
        self.k = 2.0

    def __call__(self, x: Any) -> Any:
        return x * self.k


def test_a_callable_object_is_guarded(traces: list[int]) -> None:
    scaler = _Scaler()
    g = mg.jacobian(scaler)  # x ↦ k x
    x = np.ones(2)
    np.testing.assert_allclose(g(x), 2 * np.eye(2))
    np.testing.assert_allclose(g(x), 2 * np.eye(2))
    assert len(traces) == 1
    scaler.k = 5.0
    np.testing.assert_allclose(g(x), 5 * np.eye(2))
    assert len(traces) == 2


def test_special_methods_of_an_object_are_guarded() -> None:
    """``scaler(x)`` calls ``__call__`` without naming it: its reads are guarded."""
    scaler = _Scaler()
    g = mg.grad(lambda x: np.sum(scaler(x)))
    x = np.ones(2)
    np.testing.assert_allclose(g(x), [2.0, 2.0])
    np.testing.assert_allclose(g(x), [2.0, 2.0])
    scaler.k = -3.0
    np.testing.assert_allclose(g(x), [-3.0, -3.0])


class _Dynamic:
    def __init__(self) -> None:
        self.c = 2.0

    def __getattr__(self, name: str) -> Any:
        return 3.0


class _Slotted:
    __slots__ = ("c",)

    def __init__(self) -> None:
        self.c = 2.0


def test_objects_that_resolve_attributes_their_own_way_retrace(traces: list[int]) -> None:
    x = np.ones(2)
    for obj in (_Dynamic(), _Slotted()):
        g = mg.grad(lambda x, obj=obj: obj.c * np.sum(x))
        np.testing.assert_allclose(g(x), [2.0, 2.0])
        obj.c = 4.0
        np.testing.assert_allclose(g(x), [4.0, 4.0])
    assert len(traces) == 4  # traced on every call
    obj = _Loss(np.eye(3), 0.0)
    g = mg.grad(obj.loss)
    np.testing.assert_allclose(g(np.zeros(3)), np.ones(3))
    obj.__class__ = type("_Other", (_Loss,), {"scale": 5.0})
    np.testing.assert_allclose(g(np.zeros(3)), 5 * np.ones(3))


def test_random_numbers_are_drawn_by_each_trace() -> None:
    g = mg.grad(lambda x: np.random.default_rng().standard_normal() * np.sum(x))
    assert guards_for(g.__wrapped__) is None  # type: ignore[attr-defined]
    x = np.ones(2)
    assert len({float(g(x)[0]) for _ in range(4)}) > 1


def test_state_changed_by_the_trace_is_not_reused(traces: list[int]) -> None:
    calls = 0

    def f(x: Any) -> Any:
        nonlocal calls
        calls += 1
        return calls * np.sum(x)

    g = mg.grad(f)
    x = np.ones(2)
    np.testing.assert_allclose(g(x), [1.0, 1.0])
    np.testing.assert_allclose(g(x), [2.0, 2.0])
    assert len(traces) == 2


def test_guards_refuse_what_they_cannot_check() -> None:
    big = np.zeros(BIG)
    assert guards_for(lambda x: x @ big[: x.size]) is None
    assert guards_for(lambda x: x * [1.0][0]) is not None  # a list literal is built by the code
    long = [1.0] * 100
    assert guards_for(lambda x: x * long[0]) is None  # too many entries to check per call
    model = _Model()
    assert guards_for(lambda x: x * vars(model)["A"]) is None  # read other than by name
    assert guards_for(np.sum) is None  # not a Python function: traced on every call
    small = np.ones(3)
    assert guards_for(lambda x: x * small) is not None


def test_containers_in_the_closure_are_guarded_entry_by_entry(traces: list[int]) -> None:
    params = {"c": 2.0, "M": np.eye(2)}
    weights = [1.0, np.ones(2)]
    ns = SimpleNamespace(k=3.0)
    g = mg.grad(lambda x: params["c"] * (x @ params["M"] @ x) + weights[0] * (weights[1] @ x)
                + ns.k * np.sum(x))
    x = RNG.standard_normal(2)

    def expected() -> np.ndarray:
        M = params["M"]
        return params["c"] * (M + M.T) @ x + weights[0] * weights[1] + ns.k  # type: ignore[no-any-return]

    np.testing.assert_allclose(g(x), expected())
    np.testing.assert_allclose(g(x), expected())
    assert len(traces) == 1  # reused
    params["c"] = -1.0
    np.testing.assert_allclose(g(x), expected())
    params["M"][0, 1] = 2.0  # an array in a dict, changed in place
    np.testing.assert_allclose(g(x), expected())
    weights[1] = np.array([5.0, -1.0])
    np.testing.assert_allclose(g(x), expected())
    weights.append(7.0)
    np.testing.assert_allclose(g(x), expected())
    ns.k = 0.5
    np.testing.assert_allclose(g(x), expected())
    assert len(traces) == 6


def test_a_builtin_shadowed_by_a_new_global() -> None:
    g = mg.grad(lambda x: len(x) * np.sum(x * x))
    x = RNG.standard_normal(3)
    np.testing.assert_allclose(g(x), 6 * x)
    globals()["len"] = lambda _: 10  # a module global now shadows the builtin
    try:
        np.testing.assert_allclose(g(x), 20 * x)
    finally:
        del globals()["len"]
    np.testing.assert_allclose(g(x), 6 * x)


def test_one_of_several_closure_functions_rebound() -> None:
    def square(x: Any) -> Any:
        return x * x

    def cube(x: Any) -> Any:
        return x * x * x

    first, second = square, cube
    g = mg.grad(lambda x: np.sum(first(x) + second(x)))
    x = RNG.standard_normal(3)
    np.testing.assert_allclose(g(x), 2 * x + 3 * x**2)
    second = square
    np.testing.assert_allclose(g(x), 4 * x)
    first = np.sin
    np.testing.assert_allclose(g(x), np.cos(x) + 2 * x)


# ----------------------------------------------------------------------------------
# Large arrays guarded by identity: a trace that captured them can be reused
# ----------------------------------------------------------------------------------


_BIG_GLOBAL: Any = None


def test_large_array_read_only_as_an_operand_is_guarded_by_identity() -> None:
    X, y, _ = _data(BIG // 8 + 2)

    def loss(w: Any) -> Any:
        return np.sum(np.log(1 + np.exp(-y * (X @ w))))

    assert guards_for(loss) is None  # by default a large array is not guarded
    guards = guards_for(loss, identity=True)
    assert guards is not None
    assert guards.covers((X,)) and not guards.covers((X, y.copy()))
    assert guards.hold()
    X *= 0.5  # in place: the plan reads the contents at call time, the guard holds
    assert guards.hold()
    X.shape = (X.shape[0] // 2, 16)  # the layout changed in place: the guard fails
    assert not guards.hold()
    X.shape = (X.shape[0] * 2, 8)
    assert guards.hold()
    X = X.copy()  # rebound: the guard fails
    assert not guards.hold()
    global _BIG_GLOBAL
    _BIG_GLOBAL = RNG.standard_normal((BIG // 8 + 1, 8))
    try:
        # .T: a new array each trace, not the one guarded
        gl = guards_for(lambda w: np.sum(w @ _BIG_GLOBAL.T), identity=True)
        assert gl is None or not gl.covers((_BIG_GLOBAL.T,))
        g2 = guards_for(lambda w: np.sum(np.tanh(_BIG_GLOBAL @ w)), identity=True)
        assert g2 is not None and g2.covers((_BIG_GLOBAL,))
        _BIG_GLOBAL = _BIG_GLOBAL[:, :4]
        assert not g2.hold()
    finally:
        _BIG_GLOBAL = None


def test_large_array_read_any_other_way_is_not_guarded() -> None:
    """Reads that may compute a value from the contents outside the trace (which an
    in-place change would leave stale) make the function unguardable."""
    X, _, _ = _data(BIG // 8 + 1)
    c = RNG.standard_normal(8)
    assert guards_for(lambda w: np.sum((X - X.mean(0)) @ w), identity=True) is None
    assert guards_for(lambda w: np.sum(-X @ w), identity=True) is None
    assert guards_for(lambda w: np.sum(np.dot(X, w)), identity=True) is None
    assert guards_for(lambda w: np.sum(X[0] @ w), identity=True) is None
    assert guards_for(lambda w: np.sum(X @ c) * np.sum(w), identity=True) is None
    assert guards_for(lambda w: np.sum((lambda v: X @ v)(w)), identity=True) is None

    def rebinds(w: Any) -> Any:
        w = 2.0
        return np.sum(X * w)

    assert guards_for(rebinds, identity=True) is None


def test_reused_trace_of_captured_data_sees_every_change() -> None:
    """Whether the trace is reused or not: an in-place change, a rebinding to the
    same shape and to another shape, a layout changed in place."""
    X, y, w = _data(BIG // 8 + 1)
    g = mg.grad(lambda w: np.sum(np.log(1 + np.exp(-y * (X @ w)))))
    for _ in range(2):
        np.testing.assert_allclose(g(w), _logistic_grad(X, y, w), rtol=1e-10)
    X[::3] *= -2.0
    np.testing.assert_allclose(g(w), _logistic_grad(X, y, w), rtol=1e-10)
    X = RNG.standard_normal(X.shape)
    np.testing.assert_allclose(g(w), _logistic_grad(X, y, w), rtol=1e-10)
    X, y, _ = _data(BIG // 8 + 10)
    np.testing.assert_allclose(g(w), _logistic_grad(X, y, w), rtol=1e-10)
    X.shape = (X.shape[0] // 2, 16)  # in place
    y = y[: X.shape[0]]
    w16 = RNG.standard_normal(16) / 4
    np.testing.assert_allclose(g(w16), _logistic_grad(X, y, w16), rtol=1e-10)


# ----------------------------------------------------------------------------------
# Namespaces: guarded on the attributes the code names
# ----------------------------------------------------------------------------------


def _scaled(cfg: Any, x: Any) -> Any:
    return cfg.scale * np.sum(x**2)


def test_namespace_guarded_on_the_attributes_the_code_names(traces: list[int]) -> None:
    cfg = SimpleNamespace(scale=2.0, unused=1.0, table=np.ones(3), tool=lambda t: t)
    g = mg.grad(lambda x: _scaled(cfg, x))  # read through a helper, as benchmarks do
    x = RNG.standard_normal(3)
    np.testing.assert_allclose(g(x), 4.0 * x)
    cfg.unused, cfg.table[0], cfg.tool, cfg.extra = 5.0, 9.0, print, object()
    np.testing.assert_allclose(g(x), 4.0 * x)
    assert len(traces) == 1  # nothing the trace read changed: reused
    cfg.scale = -3.0
    np.testing.assert_allclose(g(x), -6.0 * x)
    del cfg.scale
    cfg.scale = 0.5
    np.testing.assert_allclose(g(x), 1.0 * x)
    assert len(traces) == 3


def test_namespace_attribute_added_later_is_seen() -> None:
    cfg = SimpleNamespace()

    def f(x: Any) -> Any:
        try:
            boost = cfg.boost
        except AttributeError:
            boost = 1.0
        return boost * np.sum(x)

    g = mg.grad(f)
    x = np.ones(2)
    np.testing.assert_allclose(g(x), [1.0, 1.0])
    np.testing.assert_allclose(g(x), [1.0, 1.0])
    cfg.boost = 5.0
    np.testing.assert_allclose(g(x), [5.0, 5.0])


def test_namespace_entry_function_is_walked() -> None:
    power = 2.0
    cfg = SimpleNamespace(f=lambda t: t**power)
    g = mg.grad(lambda x: np.sum(cfg.f(x)))
    x = RNG.uniform(1.0, 2.0, 3)
    np.testing.assert_allclose(g(x), 2 * x)
    power = 3.0
    np.testing.assert_allclose(g(x), 3 * x**2)


def test_namespace_read_wholesale_is_guarded_entry_by_entry(traces: list[int]) -> None:
    """``==``, ``getattr`` with a computed name and ``vars`` read entries the code
    never names: then every entry is guarded."""
    cfg, reference = SimpleNamespace(a=1.0), SimpleNamespace(a=1.0)
    g = mg.grad(lambda x: (2.0 if cfg == reference else 1.0) * np.sum(x))
    x = np.ones(2)
    np.testing.assert_allclose(g(x), [2.0, 2.0])
    cfg.a = 7.0
    np.testing.assert_allclose(g(x), [1.0, 1.0])

    name = "sca" + "le"
    ns = SimpleNamespace(scale=2.0)
    h = mg.grad(lambda x: getattr(ns, name) * np.sum(x))
    np.testing.assert_allclose(h(x), [2.0, 2.0])
    ns.scale = 4.0
    np.testing.assert_allclose(h(x), [4.0, 4.0])

    pick = vars
    space = SimpleNamespace(w=3.0)
    k = mg.grad(lambda x: pick(space)["w"] * np.sum(x))
    np.testing.assert_allclose(k(x), [3.0, 3.0])
    space.w = -1.0
    np.testing.assert_allclose(k(x), [-1.0, -1.0])


# ----------------------------------------------------------------------------------
# The whole call of a reused trace (Guards.shortcut)
# ----------------------------------------------------------------------------------


def test_reused_call_serves_only_what_it_was_built_for(traces: list[int]) -> None:
    A = RNG.standard_normal((3, 3))
    g = mg.grad(lambda x: x @ A @ x)
    x = RNG.standard_normal(3)
    for _ in range(3):
        np.testing.assert_allclose(g(x), (A + A.T) @ x)
    assert len(traces) == 1
    for other in (x.tolist(), x.astype(np.float32), np.arange(3), x.astype(">f8")):
        result = g(other)
        np.testing.assert_allclose(result, (A + A.T) @ np.asarray(other, float), rtol=1e-6)
    np.testing.assert_allclose(g(np.ones(4)[:3]), (A + A.T) @ np.ones(3))
    with pytest.raises(ShapeError, match=r"shapes \(4,\) @ \(3, 3\) do not fit"):
        g(np.ones(4))
    np.testing.assert_allclose(g(x), (A + A.T) @ x)


def test_reused_results_are_fresh_arrays() -> None:
    h = mg.hessian(lambda x: np.sum(x**2))  # a constant Hessian: copied out each call
    x = np.ones(3)
    first = h(x)
    first[:] = 0.0
    np.testing.assert_allclose(h(x), 2 * np.eye(3))
    np.testing.assert_allclose(h(x), 2 * np.eye(3))


def test_reused_value_and_grad_and_several_argnums() -> None:
    A = RNG.standard_normal((3, 3))
    vg = mg.value_and_grad(lambda x, y: x @ A @ y, argnums=(0, 1))
    x, y = RNG.standard_normal(3), RNG.standard_normal(3)
    for _ in range(3):
        value, (gx, gy) = vg(x, y)
        np.testing.assert_allclose(value, x @ A @ y)
        np.testing.assert_allclose(gx, A @ y)
        np.testing.assert_allclose(gy, A.T @ x)
    single = mg.value_and_grad(lambda x: np.sum(x**3))
    for _ in range(3):
        value, gx = single(x)
        np.testing.assert_allclose(value, np.sum(x**3))
        np.testing.assert_allclose(gx, 3 * x**2)


def test_emptied_closure_cell_is_not_served() -> None:
    def make() -> Any:
        c = 2.0

        def f(x: Any) -> Any:
            return c * np.sum(x)

        def clear() -> None:
            nonlocal c
            del c

        return f, clear

    f, clear = make()
    g = mg.grad(f)
    x = np.ones(2)
    np.testing.assert_allclose(g(x), [2.0, 2.0])
    np.testing.assert_allclose(g(x), [2.0, 2.0])
    clear()
    with pytest.raises(NameError):
        g(x)


# ----------------------------------------------------------------------------------
# jvp, hvp and vjp reuse the trace of the same function while its guards hold
# ----------------------------------------------------------------------------------


_SCALE = 2.0


def test_hvp_jvp_vjp_reuse_and_every_staleness_case(traces: list[int]) -> None:
    A = RNG.standard_normal((3, 3))
    shift = 1.0

    def f(x: Any) -> Any:
        return _SCALE * np.sum(np.sin(x @ A + shift))

    def expected_hvp(x: np.ndarray, v: np.ndarray) -> np.ndarray:
        s = np.sin(x @ A + shift)
        return -_SCALE * A @ (s * (A.T @ v))  # type: ignore[no-any-return]

    def expected_grad(x: np.ndarray) -> np.ndarray:
        return _SCALE * A @ np.cos(x @ A + shift)  # type: ignore[no-any-return]

    x, v = RNG.standard_normal(3), RNG.standard_normal(3)

    def check() -> None:
        np.testing.assert_allclose(mg.hvp(f, (x,), (v,)), expected_hvp(x, v), rtol=1e-10)
        _, d = mg.jvp(f, (x,), (v,))
        np.testing.assert_allclose(d, expected_grad(x) @ v, rtol=1e-10)
        value, pullback = mg.vjp(f, x)
        np.testing.assert_allclose(value, _SCALE * np.sum(np.sin(x @ A + shift)), rtol=1e-12)
        np.testing.assert_allclose(pullback(np.ones(()))[0], expected_grad(x), rtol=1e-10)

    check()
    check()
    check()
    # a function's first call is traced without guards (a closure made anew for
    # each call never pays for them); from its second call the trace is reused:
    # f's first call was hvp's, so hvp traced it twice, jvp and vjp once
    assert len(traces) == 4
    A[0, 0] += 1.0  # an array changed in place
    check()
    shift = -0.5  # a closure scalar changed
    check()
    global _SCALE
    old = _SCALE
    try:
        _SCALE = 3.0  # a global rebound
        check()
    finally:
        _SCALE = old
    A = RNG.standard_normal((3, 3))  # replaced by an array of the same shape
    check()
    x, v = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3))  # other primals
    np.testing.assert_allclose(
        mg.hvp(f, (x,), (v,)),
        -_SCALE * np.einsum("ik,bk,bk->bi", A, np.sin(x @ A + shift), v @ A), rtol=1e-10)
    assert len(traces) == 4 + 3 * 4 + 1


def test_functions_given_to_hvp_are_not_kept_alive() -> None:
    import gc
    import weakref

    X = RNG.standard_normal((4, 3))
    w, v = RNG.standard_normal(3), RNG.standard_normal(3)

    def make() -> Any:
        data = X.copy()

        def f(w: Any) -> Any:
            return np.sum((data @ w) ** 2)

        return f, weakref.ref(data)

    f, data = make()
    np.testing.assert_allclose(mg.hvp(f, (w,), (v,)), 2 * X.T @ (X @ v), rtol=1e-10)
    del f
    gc.collect()
    assert data() is None


_HELPED: Any = None


def _helper_product(v: Any) -> Any:
    return _HELPED @ v


def test_a_helper_reading_a_large_array_with_an_array_argument_is_not_reused() -> None:
    """A helper's arguments may be arrays, not symbols: ``X @ ones`` in a helper is
    computed by NumPy at trace time, so ``X`` changed in place must re-trace."""
    global _HELPED
    _HELPED = RNG.standard_normal((BIG // 4 + 1, 4))
    try:
        g = mg.grad(lambda w: np.sum(_helper_product(w)) * np.sum(_helper_product(np.ones(4))))
        w = np.ones(4)

        def expected() -> np.ndarray:
            return _HELPED.sum(0) * np.sum(_HELPED @ np.ones(4))  # type: ignore[no-any-return]

        np.testing.assert_allclose(g(w), expected(), rtol=1e-9)
        _HELPED *= 2.0  # in place
        np.testing.assert_allclose(g(w), expected(), rtol=1e-9)
    finally:
        _HELPED = None


class _LogisticModel:
    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self.X, self.y = X, y

    def loss(self, w: Any) -> Any:
        return np.sum(np.log(1 + np.exp(-self.y * (self.X @ w))))

    def scaled_sum(self, w: Any) -> Any:
        return np.sum(self.X @ w) * np.sum(self.X)  # np.sum(X): computed outside the trace


def test_large_array_held_by_an_object_read_as_an_operand(traces: list[int]) -> None:
    X, y, w = _data(BIG // 8 + 1)
    model = _LogisticModel(X, y)
    g = mg.grad(model.loss)
    for _ in range(3):
        np.testing.assert_allclose(g(w), _logistic_grad(model.X, y, w), rtol=1e-10)
    assert len(traces) == 1  # reused: X is a plan input guarded by identity
    model.X *= 0.5  # in place: read by the plan at each call
    np.testing.assert_allclose(g(w), _logistic_grad(model.X, y, w), rtol=1e-10)
    assert len(traces) == 1
    model.X = X[:-1].copy()  # another array, of another shape
    model.y = y[:-1]
    np.testing.assert_allclose(g(w), _logistic_grad(model.X, model.y, w), rtol=1e-10)
    assert len(traces) == 2
    h = mg.grad(model.scaled_sum)
    for _ in range(2):
        np.testing.assert_allclose(h(w), model.X.sum(0) * model.X.sum(), rtol=1e-9)
        model.X[:, 0] += 1.0
    assert len(traces) == 4  # traced on every call


def _partial_loss(w: Any, X: Any, y: Any, l2: float = 0.0) -> Any:
    return np.sum(np.log(1 + np.exp(-y * (X @ w)))) + l2 * (w @ w)


def test_functools_partial_is_guarded(traces: list[int]) -> None:
    import functools

    for rows in (20, BIG // 8 + 1):  # a constant, then a plan input guarded by identity
        before = len(traces)
        X, y, w = _data(rows)
        p = functools.partial(_partial_loss, X=X, y=y, l2=0.5)
        g = mg.grad(p)
        for _ in range(3):
            np.testing.assert_allclose(g(w), _logistic_grad(X, y, w) + w, rtol=1e-10)
        assert len(traces) == before + 1
        X *= 0.5  # in place
        np.testing.assert_allclose(g(w), _logistic_grad(X, y, w) + w, rtol=1e-10)
        p.keywords["l2"] = 2.0  # the partial's keywords changed
        np.testing.assert_allclose(g(w), _logistic_grad(X, y, w) + 4 * w, rtol=1e-10)
    positional = mg.grad(functools.partial(lambda c, w: c * np.sum(w**2), 3.0))
    np.testing.assert_allclose(positional(np.ones(2)), [6.0, 6.0])


_BIG_Y: Any = None


def _bound_product(w: Any, X: Any) -> Any:
    return np.sum(w * (_BIG_Y @ X))  # X is an array here, not a symbol


def test_an_argument_a_partial_binds_is_not_a_symbol() -> None:
    import functools

    global _BIG_Y
    _BIG_Y = RNG.standard_normal((BIG // 4 + 1, 4))
    try:
        X = RNG.standard_normal(4)
        g = mg.grad(functools.partial(_bound_product, X=X))
        w = RNG.standard_normal(_BIG_Y.shape[0])
        np.testing.assert_allclose(g(w), _BIG_Y @ X, rtol=1e-10)
        _BIG_Y *= -1.0  # in place: Y @ X was computed by NumPy while tracing
        np.testing.assert_allclose(g(w), _BIG_Y @ X, rtol=1e-10)
    finally:
        _BIG_Y = None


def test_user_text_never_reaches_the_generated_guards(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guards and a reused trace's call are generated Python: their source
    holds generated identifiers only; keys and attribute names, however code-like,
    stay data in the namespace."""
    import builtins

    from matgrad.function_api import guards

    sources: list[str] = []

    def spy(source: str, *args: Any, **kwargs: Any) -> Any:
        sources.append(source)
        return builtins.compile(source, *args, **kwargs)

    monkeypatch.setattr(guards, "compile", spy, raising=False)
    evil = 'x"); raise SystemExit("'
    table = {evil: np.sin, "c": 2.0}  # a function: kept by identity, a generated test
    cfg = SimpleNamespace(**{evil: 1.0, "scale": 3.0})
    obj = _Scaler()
    setattr(obj, evil, 5.0)
    g = mg.grad(lambda x: table["c"] * cfg.scale * np.sum(table[evil](obj(x))))
    x = RNG.standard_normal(2)
    for _ in range(3):
        np.testing.assert_allclose(g(x), 6.0 * obj.k * np.cos(obj.k * x), rtol=1e-12)
    assert len(sources) >= 2  # the guards, and the reused trace's whole call
    assert not any(evil in source or "SystemExit" in source for source in sources)
    table[evil] = np.cos
    np.testing.assert_allclose(g(x), -6.0 * obj.k * np.sin(obj.k * x), rtol=1e-12)

"""The ``ndarray`` methods users call, on expressions: each dispatches to the NumPy
function it mirrors (``x.sum(axis=0, keepdims=True)`` is ``np.sum(x, axis=0,
keepdims=True)``), so it builds the same node and evaluates to what NumPy's
method gives on the values.  A method whose NumPy function matgrad does not
serve raises the ``UnsupportedOperationError`` naming that function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import matgrad as mg
from matgrad import numeric
from matgrad.errors import BindingError, UnsupportedOperationError
from matgrad.ir.expr import Expr
from matgrad.ir.node import FUNCTION_HANDLERS, HOOKS

Method = Callable[[Any], Any]

# (id, the method call on an array or an expression, operand shape, the NumPy
# function it dispatches to, the same call spelt with that function)
CASES: list[tuple[str, Method, tuple[int, ...], Any, Method]] = [
    ("sum", lambda a: a.sum(), (3, 4), np.sum, lambda a: np.sum(a)),
    ("sum-axis", lambda a: a.sum(axis=0), (3, 4), np.sum, lambda a: np.sum(a, axis=0)),
    ("sum-positional-axis", lambda a: a.sum(1), (3, 4), np.sum, lambda a: np.sum(a, 1)),
    ("sum-keepdims", lambda a: a.sum(axis=1, keepdims=True), (3, 4), np.sum,
     lambda a: np.sum(a, axis=1, keepdims=True)),
    ("mean", lambda a: a.mean(), (3, 4), np.mean, lambda a: np.mean(a)),
    ("mean-axis", lambda a: a.mean(axis=-1), (2, 3, 4), np.mean, lambda a: np.mean(a, axis=-1)),
    ("mean-keepdims", lambda a: a.mean(0, keepdims=True), (3, 4), np.mean,
     lambda a: np.mean(a, 0, keepdims=True)),
    ("var", lambda a: a.var(), (3, 4), np.var, lambda a: np.var(a)),
    ("var-axis-ddof", lambda a: a.var(axis=0, ddof=1), (3, 4), np.var,
     lambda a: np.var(a, axis=0, ddof=1)),
    ("std", lambda a: a.std(), (3, 4), np.std, lambda a: np.std(a)),
    ("std-axis", lambda a: a.std(axis=1, keepdims=True), (3, 4), np.std,
     lambda a: np.std(a, axis=1, keepdims=True)),
    ("prod", lambda a: a.prod(), (2, 3), np.prod, lambda a: np.prod(a)),
    ("prod-axis", lambda a: a.prod(axis=0), (2, 3), np.prod, lambda a: np.prod(a, axis=0)),
    ("max", lambda a: a.max(), (3, 4), np.max, lambda a: np.max(a)),
    ("max-axis", lambda a: a.max(axis=1, keepdims=True), (3, 4), np.max,
     lambda a: np.max(a, axis=1, keepdims=True)),
    ("min", lambda a: a.min(), (3, 4), np.min, lambda a: np.min(a)),
    ("min-axis", lambda a: a.min(0), (3, 4), np.min, lambda a: np.min(a, 0)),
    ("reshape-ints", lambda a: a.reshape(3, 4), (2, 6), np.reshape,
     lambda a: np.reshape(a, (3, 4))),
    ("reshape-tuple", lambda a: a.reshape((4, 3)), (2, 6), np.reshape,
     lambda a: np.reshape(a, (4, 3))),
    ("reshape-minus-one", lambda a: a.reshape(-1), (2, 6), np.reshape,
     lambda a: np.reshape(a, -1)),
    ("reshape-ints-minus-one", lambda a: a.reshape(2, -1, 2), (2, 6), np.reshape,
     lambda a: np.reshape(a, (2, -1, 2))),
    ("reshape-order-f", lambda a: a.reshape(3, 4, order="F"), (2, 6), np.reshape,
     lambda a: np.reshape(a, (3, 4), order="F")),
    ("ravel", lambda a: a.ravel(), (3, 4), np.ravel, lambda a: np.ravel(a)),
    ("flatten", lambda a: a.flatten(), (3, 4), np.ravel, lambda a: np.ravel(a)),
    ("squeeze", lambda a: a.squeeze(), (3, 1, 4), np.squeeze, lambda a: np.squeeze(a)),
    ("squeeze-axis", lambda a: a.squeeze(axis=1), (3, 1, 4, 1), np.squeeze,
     lambda a: np.squeeze(a, axis=1)),
    ("transpose", lambda a: a.transpose(), (2, 3, 4), np.transpose, lambda a: np.transpose(a)),
    ("transpose-ints", lambda a: a.transpose(1, 0, 2), (2, 3, 4), np.transpose,
     lambda a: np.transpose(a, (1, 0, 2))),
    ("transpose-tuple", lambda a: a.transpose((2, 0, 1)), (2, 3, 4), np.transpose,
     lambda a: np.transpose(a, (2, 0, 1))),
    ("transpose-none", lambda a: a.transpose(None), (2, 3), np.transpose,
     lambda a: np.transpose(a)),
    ("T", lambda a: a.T, (2, 3, 4), np.transpose, lambda a: np.transpose(a)),
    ("swapaxes", lambda a: a.swapaxes(0, 2), (2, 3, 4), np.swapaxes,
     lambda a: np.swapaxes(a, 0, 2)),
    ("dot", lambda a: a.dot(np.arange(4.0)), (3, 4), np.dot,
     lambda a: np.dot(a, np.arange(4.0))),
    ("dot-matrix", lambda a: a.dot(a.T), (3, 4), np.dot, lambda a: np.dot(a, np.transpose(a))),
    ("clip", lambda a: a.clip(-0.5, 0.5), (3, 4), np.clip, lambda a: np.clip(a, -0.5, 0.5)),
    ("clip-keywords", lambda a: a.clip(min=-0.5), (3, 4), np.clip,
     lambda a: np.clip(a, -0.5, None)),
    ("diagonal", lambda a: a.diagonal(), (3, 4), np.diagonal, lambda a: np.diagonal(a)),
    ("diagonal-offset", lambda a: a.diagonal(1), (3, 4), np.diagonal,
     lambda a: np.diagonal(a, 1)),
    ("trace", lambda a: a.trace(), (3, 3), np.trace, lambda a: np.trace(a)),
    ("trace-offset", lambda a: a.trace(offset=-1), (3, 4), np.trace,
     lambda a: np.trace(a, offset=-1)),
    ("cumsum", lambda a: a.cumsum(axis=1), (3, 4), np.cumsum, lambda a: np.cumsum(a, axis=1)),
    ("cumprod", lambda a: a.cumprod(0), (3, 4), np.cumprod, lambda a: np.cumprod(a, 0)),
    ("round", lambda a: a.round(1), (3, 4), np.round, lambda a: np.round(a, 1)),
    ("repeat", lambda a: a.repeat(2, axis=0), (3, 4), np.repeat,
     lambda a: np.repeat(a, 2, axis=0)),
    ("take", lambda a: a.take([0, 2], axis=1), (3, 4), np.take,
     lambda a: np.take(a, [0, 2], axis=1)),
    ("real", lambda a: a.real, (3, 4), np.real, lambda a: np.real(a)),
    ("imag", lambda a: a.imag, (3, 4), np.imag, lambda a: np.imag(a)),
    ("mT", lambda a: a.mT, (2, 3, 4), np.swapaxes, lambda a: np.swapaxes(a, -1, -2)),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize(("name", "method", "shape", "func", "spelt"), CASES, ids=IDS)
def test_method_evaluates_as_numpy_method_and_builds_the_functions_node(
    name: str, method: Method, shape: tuple[int, ...], func: Any, spelt: Method
) -> None:
    x = mg.Tensor("x", shape)
    if func not in FUNCTION_HANDLERS:  # its operation is not (yet) declared
        with pytest.raises(UnsupportedOperationError, match=rf"numpy\.{func.__name__}\b"):
            method(x)
        return
    value = np.random.default_rng(0).standard_normal(shape)
    expr = method(x)
    assert isinstance(expr, Expr)
    assert expr is spelt(x)
    expected = np.asarray(method(value))
    assert expr.shape == expected.shape
    np.testing.assert_allclose(expr.evaluate(x=value), expected, rtol=1e-12, atol=1e-12)


def test_methods_dispatch_through_the_handler_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every method calls the handler of its NumPy function, with the arguments
    NumPy's function would get (so a method works as soon as the operation does)."""
    calls: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []
    x = mg.Matrix("x", (2, 3))

    def recorder(func: Any) -> Callable[..., Expr]:
        def handler(*args: Any, **kwargs: Any) -> Expr:
            calls.append((func, args, kwargs))
            return x

        return handler

    for func in (np.sum, np.mean, np.var, np.std, np.prod, np.max, np.min, np.reshape,
                 np.ravel, np.squeeze, np.transpose, np.swapaxes, np.dot, np.clip,
                 np.diagonal, np.trace):
        monkeypatch.setitem(FUNCTION_HANDLERS, func, recorder(func))
    y = mg.Vector("y", 3)
    x.sum(0, keepdims=True)
    x.mean(axis=1)
    x.var(axis=0, ddof=1)
    x.std(None, None, None, 1)
    x.prod(keepdims=True)
    x.max(axis=1)
    x.min(0, None, True)
    x.reshape(3, 2)
    x.reshape((6,), order="F")
    x.ravel("F")
    x.flatten()
    x.squeeze(axis=0)
    x.transpose(1, 0)
    x.swapaxes(0, 1)
    x.dot(y)
    x.clip(0.0, max=1.0)
    x.diagonal(1)
    x.trace(offset=1)
    assert calls == [
        (np.sum, (x, 0), {"keepdims": True}),
        (np.mean, (x,), {"axis": 1}),
        (np.var, (x,), {"axis": 0, "ddof": 1}),
        (np.std, (x, None, None, None, 1), {}),
        (np.prod, (x,), {"keepdims": True}),
        (np.max, (x,), {"axis": 1}),
        (np.min, (x, 0, None, True), {}),
        (np.reshape, (x, (3, 2)), {}),
        (np.reshape, (x, (6,)), {"order": "F"}),
        (np.ravel, (x, "F"), {}),
        (np.ravel, (x,), {}),
        (np.squeeze, (x,), {"axis": 0}),
        (np.transpose, (x, (1, 0)), {}),
        (np.swapaxes, (x, 0, 1), {}),
        (np.dot, (x, y), {}),
        (np.clip, (x, 0.0, 1.0), {}),
        (np.diagonal, (x, 1), {}),
        (np.trace, (x,), {"offset": 1}),
    ]


def test_shape_attributes() -> None:
    T = mg.Tensor("T", (2, 3, 4))
    assert (T.shape, T.ndim, T.size) == ((2, 3, 4), 3, 24)
    s = mg.Scalar("s")
    assert (s.shape, s.ndim, s.size) == ((), 0, 1)
    assert len(T) == 2


@pytest.mark.parametrize("dtype", [float, np.float64, "float64", np.dtype("f8"), np.float32])
def test_astype_a_real_float_dtype_is_the_expression_itself(dtype: Any) -> None:
    x = mg.Matrix("x", (2, 2))
    assert x.astype(dtype) is x
    assert (x @ x).astype(dtype, copy=False) is x @ x


def test_astype_keeps_the_dtype_of_a_float32_expression() -> None:
    x = mg.Vector("x", 3, dtype=np.float32)
    assert x.astype(np.float32) is x
    assert x.astype(float).dtype == np.float32  # matgrad keeps the inputs' dtype


def test_astype_of_a_complex_expression_to_its_own_dtype() -> None:
    z = mg.Vector("z", 3, dtype=np.complex128)
    assert z.astype(np.complex128) is z


@pytest.mark.parametrize(
    ("dtype", "message"),
    [(int, "no derivative"), (np.int32, "no derivative"), (bool, "no derivative"),
     (np.complex128, "real and complex")],
)
def test_astype_to_other_dtypes_is_refused_clearly(dtype: Any, message: str) -> None:
    with pytest.raises(UnsupportedOperationError, match=message):
        mg.Vector("x", 3).astype(dtype)
    with pytest.raises(UnsupportedOperationError, match="real and complex"):
        mg.Vector("z", 3, dtype=np.complex128).astype(np.float64)


def test_a_loss_written_with_methods_differentiates() -> None:
    """Methods inside a function traced by the function API."""
    rng = np.random.default_rng(4)
    W0, b0 = rng.standard_normal((4, 3)), rng.standard_normal(3)

    def loss(w: Any) -> Any:
        h = np.tanh(w.reshape(3, 4).T.dot(b0))
        return (h * h).sum() + w.sum(axis=0).dot(b0) / w.size

    got = mg.grad(loss)(W0)
    np.testing.assert_allclose(
        got, numeric.gradient(loss, W0, method="richardson"), rtol=1e-6, atol=1e-9
    )


@pytest.mark.skipif("subscript" not in HOOKS, reason="indexing is not served yet")
def test_iteration_gives_the_entries_along_the_first_axis() -> None:
    X = mg.Matrix("X", (3, 2))
    X0 = np.arange(6.0).reshape(3, 2)
    rows = list(X)
    assert len(rows) == 3
    for row, expected in zip(rows, X0):
        np.testing.assert_array_equal(row.evaluate(X=X0), expected)
    a, b = mg.Vector("v", 2)
    assert a.shape == b.shape == ()

    def himmelblau(v: Any) -> Any:
        x, y = v
        return (x * x + y - 11.0) ** 2 + (x + y * y - 7.0) ** 2

    v0 = np.array([0.5, -1.5])
    np.testing.assert_allclose(
        mg.grad(himmelblau)(v0), numeric.gradient(himmelblau, v0, method="richardson"),
        rtol=1e-6,
    )
    with pytest.raises(UnsupportedOperationError, match="iteration over a scalar"):
        iter(mg.Scalar("s"))


def test_conj_is_the_ufunc_and_the_expression_itself_when_real() -> None:
    x = mg.Matrix("x", (2, 3))
    assert x.conj() is np.conjugate(x) and x.conjugate() is x.conj()
    v = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(x.conj().evaluate(x=v), v)


@pytest.mark.parametrize("name", ["argmax", "argmin", "argsort", "sort"])
def test_index_valued_and_in_place_methods_are_refused_with_the_reason(name: str) -> None:
    x = mg.Vector("x", 4)
    with pytest.raises(UnsupportedOperationError, match=r"traced|in place"):
        getattr(x, name)()


def test_a_constant_built_from_an_expression_evaluates_at_its_symbols() -> None:
    """``np.zeros_like(x)``, ``x.imag`` are constants, yet derived from ``x``: they
    accept a value for ``x`` (and check its shape); an unknown name stays an error."""
    x = mg.Matrix("x", (2, 3))
    v = np.ones((2, 3))
    for expr in (np.zeros_like(x), x.imag, np.floor(x) * 0.0):
        np.testing.assert_array_equal(expr.evaluate(x=v), np.zeros((2, 3)))
    with pytest.raises(BindingError, match="unknown symbol 'y'"):
        np.zeros_like(x).evaluate(y=v)
    with pytest.raises(BindingError):
        x.imag.evaluate(x=np.ones(4))

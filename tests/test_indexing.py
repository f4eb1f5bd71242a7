"""Indexing and slicing of expressions (``x[key]``) against NumPy itself, and the
derivatives through them against numerical differentiation: integers, slices
with any step, ``...``, ``None``, integer arrays and boolean masks and
combinations (hypothesis draws them), loops over entries, the transpose
(``scatter_add``) and its repeated indices, diagonals with offsets, the
triangles, and large sizes where reverse mode must scatter, never form a
selection matrix."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import matgrad as mg
from matgrad import numeric
from matgrad.errors import ShapeError, UnsupportedOperationError
from matgrad.ir.apply import Apply
from matgrad.ir.expr import Expr
from matgrad.ops.indexing import getitem, scatter_add
from matgrad.ops.subscripts import At, IndexingError, index_of

RNG = np.random.default_rng(11)


def values(expr: Expr, **bindings: Any) -> np.ndarray:
    """``expr`` evaluated with the bindings it uses (a derivative of a linear map
    may not use any)."""
    names = {s.name for s in expr.symbols()}
    return np.asarray(expr.evaluate(**{k: v for k, v in bindings.items() if k in names}))


def run_numpy_source(expr: Expr, **bindings: Any) -> np.ndarray:
    """The value of the NumPy source that ``to_numpy`` writes for ``expr``."""
    namespace: dict[str, Any] = {}
    exec(compile(expr.to_numpy("f"), "<to_numpy>", "exec"), namespace)
    names = [s.name for s in expr.symbols()]
    return np.asarray(namespace["f"](*(bindings[n] for n in names)))


# ---------------------------------------------------------------------------------------
# Keys drawn by hypothesis
# ---------------------------------------------------------------------------------------


@st.composite
def keys(draw: Any, shape: tuple[int, ...]) -> Any:
    """A NumPy key for ``shape``: per axis an int (negative too), a slice (any
    step, bounds beyond the ends), an integer array (repeats, negatives), a
    boolean mask, or nothing (implied ``:``); ``None`` and one ``...`` anywhere."""
    items: list[Any] = []
    axis = 0
    used_ellipsis = False
    while axis < len(shape):
        if draw(st.integers(0, 5)) == 0:
            items.append(None)
        n = shape[axis]
        kind = draw(st.sampled_from(["int", "slice", "array", "mask", "stop", "ellipsis"]))
        if n == 0 and kind in ("int", "array"):
            kind = "slice"
        if kind == "stop":
            break
        if kind == "ellipsis" and not used_ellipsis:
            used_ellipsis = True
            skip = draw(st.integers(0, len(shape) - axis))
            items.append(Ellipsis)
            axis += skip
            continue
        if kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            bound = st.none() | st.integers(-n - 2, n + 2)
            step = draw(st.none() | st.integers(-3, 3).filter(lambda s: s != 0))
            items.append(slice(draw(bound), draw(bound), step))
        elif kind == "mask":
            mask = draw(st.lists(st.booleans(), min_size=n, max_size=n))
            items.append(np.array(mask, dtype=bool))
        else:
            size = draw(st.integers(0, 3))
            entries = draw(st.lists(st.integers(-n, n - 1), min_size=size, max_size=size))
            arr = np.array(entries, dtype=np.intp)
            items.append(arr if draw(st.booleans()) else arr.tolist())
        axis += 1
    if draw(st.booleans()):
        items.append(None)
    return tuple(items) if len(items) != 1 or draw(st.booleans()) else items[0]


SHAPE = (3, 4, 2)


def numpy_or_error(array: np.ndarray, key: Any) -> Any:
    try:
        return array[key]
    except IndexError as err:
        return err


@given(key=keys(SHAPE))
def test_values_and_shapes_agree_with_numpy(key: Any) -> None:
    T = mg.Tensor("T", SHAPE)
    t = RNG.standard_normal(SHAPE)
    expected = numpy_or_error(t, key)
    if isinstance(expected, IndexError):  # arrays that do not broadcast together
        with pytest.raises(IndexError):
            T[key]
        return
    e = T[key]
    assert e.shape == expected.shape
    np.testing.assert_array_equal(values(e, T=t), expected)
    np.testing.assert_array_equal(run_numpy_source(e, T=t) if e.symbols() else values(e),
                                  expected)


@given(data=st.data())
def test_indexing_twice_agrees_with_numpy(data: Any) -> None:
    """``T[k1][k2]``; two basic keys compose into one (``x[1:][::2]`` is ``x[1::2]``)."""
    T = mg.Tensor("T", SHAPE)
    t = RNG.standard_normal(SHAPE)
    k1 = data.draw(keys(SHAPE), label="k1")
    first = numpy_or_error(t, k1)
    if isinstance(first, IndexError) or first.ndim == 0:
        return
    k2 = data.draw(keys(first.shape), label="k2")
    expected = numpy_or_error(first, k2)
    if isinstance(expected, IndexError):
        return
    e = T[k1][k2]
    assert e.shape == expected.shape
    np.testing.assert_array_equal(values(e, T=t) if e.size else np.zeros(e.shape), expected)
    picked = T[k1]
    if isinstance(picked, Apply) and all(isinstance(k, (int, slice)) for k in (
            k1 if isinstance(k1, tuple) else (k1,)) + (k2 if isinstance(k2, tuple) else (k2,))):
        assert not (isinstance(e, Apply) and e.x is picked)  # composed into one getitem


@settings(max_examples=25)
@given(key=keys(SHAPE))
def test_gradients_and_jacobians_agree_with_numerics(key: Any) -> None:
    T = mg.Tensor("T", SHAPE)
    t = RNG.standard_normal(SHAPE)
    if isinstance(numpy_or_error(t, key), IndexError):
        return
    picked = T[key]
    w = RNG.standard_normal(picked.shape)
    f = mg.sum(w * picked * picked)  # a repeated position gets the sum of its terms

    def f_num(v: np.ndarray) -> float:
        return float(np.sum(w * v[key] ** 2))

    expected = numeric.gradient(f_num, t, method="richardson")
    for mode in ("forward", "reverse"):
        g = mg.derivative(f, T, mode=mode)
        np.testing.assert_allclose(values(g, T=t), expected, atol=1e-8)
    if picked.size <= 12:
        jac = numeric.jacobian(lambda v: v[key] ** 2, t, method="richardson")
        for mode in ("forward", "reverse"):
            j = mg.derivative(picked * picked, T, mode=mode)
            np.testing.assert_allclose(values(j, T=t), jac, atol=1e-8)


@settings(max_examples=15)
@given(key=keys((5, 3)))
def test_hessians_agree_with_numerics_in_both_modes(key: Any) -> None:
    X = mg.Matrix("X", (5, 3))
    x = RNG.standard_normal((5, 3))
    if isinstance(numpy_or_error(x, key), IndexError):
        return
    f = mg.sum(mg.tanh(X[key]) * X[key] * X[key])
    expected = numeric.hessian(lambda v: float(np.sum(np.tanh(v[key]) * v[key] ** 2)), x)
    for mode in ("forward", "reverse"):
        h = mg.derivative(f, X, order=2, mode=mode)
        np.testing.assert_allclose(values(h, X=x), expected, atol=1e-5)


# ---------------------------------------------------------------------------------------
# Keys by hand: NumPy's placement of advanced axes, normalization, errors
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        (0, slice(None), [1, 0]),  # int and array apart: their axes go first
        ([0, 2], slice(None), 1),
        (slice(None), [0, 1], [1, 0]),  # adjacent: in place
        ([[0, 1], [2, 2]], None, [1, 1]),  # None between: first
        (Ellipsis, [True, False]),
        (np.array([[True, False, True, True], [False, False, True, False],
                   [True, True, True, True]]),),
        (slice(None, None, -1), slice(4, None, -2), -1),
        (slice(10, -10, -1),),
        (slice(2, 1),),
        ([],),
    ],
)
def test_numpy_semantics_by_hand(key: Any) -> None:
    T = mg.Tensor("T", SHAPE)
    t = RNG.standard_normal(SHAPE)
    e = T[key]
    np.testing.assert_array_equal(values(e, T=t) if e.size else np.zeros(e.shape), t[key])
    assert e.shape == t[key].shape


def test_equal_keys_give_one_node() -> None:
    x = mg.Vector("x", 5)
    assert x[0] is x[0] is x[-5]
    assert x[[1, 2, 3]] is x[1:4] is x[np.arange(1, 4)]
    assert x[np.array([True, False, True, False, True])] is x[::2]
    assert x[...] is x and x[:] is x and x[::1] is x
    A = mg.Matrix("A", (3, 4))
    assert A[1] is A[1, :] is A[1, ...] is A[(1,)]
    assert A[:, -1] is A[..., 3]
    assert x[1:][::2] is x[1::2] and A[1][2] is A[1, 2] and x[::-1][0] is x[4]


def test_printing() -> None:
    A = mg.Matrix("A", (4, 6))
    e = A[1:3, ::2]
    assert str(e) == "A[1:3, ::2]"
    assert str(A[::-1]) == "A[::-1]"
    assert str(A[:-1, None, 0]) == "A[:3, None, 0]"
    assert str(A[[0, 0], 5]) == "A[[0, 0], 5]"
    assert e.latex() == "A_{[1:3, ::2]}"
    assert str((A @ A.T)[0]) == "(A @ A.T)[0]"
    src = e.to_numpy("f")
    assert "A[1:3, ::2]" in src
    a = RNG.standard_normal((4, 6))
    for key in [(slice(1, 3), slice(None, None, 2)), ([0, 0, 3], [5, 1, 5]),
                (slice(None, None, -1), None, [1, 2])]:
        np.testing.assert_array_equal(run_numpy_source(A[key], A=a), a[key])


def test_errors_name_the_problem() -> None:
    A = mg.Matrix("A", (3, 4))
    with pytest.raises(IndexError, match="out of bounds"):
        A[3]
    with pytest.raises(IndexError, match="out of bounds"):
        A[:, [0, -5]]
    with pytest.raises(IndexError, match="too many indices"):
        A[0, 0, 0]
    with pytest.raises(IndexError, match="single ellipsis"):
        A[..., 0, ...]
    with pytest.raises(IndexError, match="boolean index"):
        A[np.array([True, False])]
    with pytest.raises(IndexError, match="integer or boolean"):
        A[[0.5]]
    with pytest.raises(IndexError, match="could not be broadcast"):
        A[[0, 1], [0, 1, 2]]
    with pytest.raises(UnsupportedOperationError, match="np.where"):
        A[A[0, 0]]
    with pytest.raises(UnsupportedOperationError, match="np.where"):
        A[: A[0, 0]]
    with pytest.raises(ShapeError):  # an IndexingError is both
        A[5]
    assert issubclass(IndexingError, IndexError) and issubclass(IndexingError, ShapeError)


# ---------------------------------------------------------------------------------------
# The transpose: scatter_add
# ---------------------------------------------------------------------------------------


def test_scatter_adds_repeated_positions() -> None:
    c = mg.Vector("c", 4)
    at = At(index_of((3,), ([2, 0, 2, 2],)))
    e = scatter_add(c, at)
    v = np.array([1.0, 2.0, 3.0, 4.0])
    expected = np.zeros(3)
    for pos, val in zip([2, 0, 2, 2], v):  # by hand, not np.add.at
        expected[pos] += val
    np.testing.assert_array_equal(values(e, c=v), expected)
    np.testing.assert_array_equal(run_numpy_source(e, c=v), expected)
    assert str(e) == "zeros(3).at[[2, 0, 2, 2]].add(c)"


def test_gathering_what_was_scattered_is_the_operand() -> None:
    c = mg.Matrix("c", (2, 3))
    at = At(index_of((5, 3), (slice(1, 5, 2),)))
    assert mg.simplify(getitem(scatter_add(c, at), at.index)) is c
    repeated = At(index_of((5, 3), ([1, 1],)))
    node = mg.simplify(getitem(scatter_add(c, repeated), repeated.index))
    assert isinstance(node, Apply)  # twice the row: not the operand


def test_the_gradient_scatters_at_large_sizes() -> None:
    """``sum(x[1:]**2 - x[:-1])`` at n = 10⁶: the gradient's DAG has no node
    larger than n entries (no selection matrix), and it runs fast."""
    n = 10**6
    x = mg.Vector("x", n)
    f = mg.sum(x[1:] ** 2 - x[:-1])
    g = mg.derivative(f, x)
    assert max(node.size for node in g.walk()) <= n
    assert {node.kind for node in g.walk()} & {"scatter_add"}
    compiled = mg.compile(g, [x])
    x0 = RNG.standard_normal(n)
    compiled(x0)
    start = time.perf_counter()
    got = compiled(x0)
    elapsed = time.perf_counter() - start
    expected = np.concatenate(([0.0], 2 * x0[1:])) - np.concatenate((np.ones(n - 1), [0.0]))
    np.testing.assert_allclose(got, expected)
    assert elapsed < 0.5, f"gradient at n = 10**6 took {elapsed:.3f} s"


def test_function_api_rosenbrock_with_slices() -> None:
    def rosen(v: Any) -> Any:
        return np.sum(100.0 * (v[1:] - v[:-1] ** 2) ** 2 + (1 - v[:-1]) ** 2)

    x0 = RNG.standard_normal(7)
    np.testing.assert_allclose(mg.grad(rosen)(x0), numeric.gradient(rosen, x0, method="richardson"),
                               rtol=1e-6)
    np.testing.assert_allclose(mg.hessian(rosen)(x0), numeric.hessian(rosen, x0), rtol=1e-5,
                               atol=1e-4)


# ---------------------------------------------------------------------------------------
# Python loops over entries
# ---------------------------------------------------------------------------------------


def test_loops_over_entries_build_and_compile_sanely() -> None:
    n = 200
    x = mg.Vector("x", n)
    start = time.perf_counter()
    f = sum(x[i] * x[i + 1] for i in range(n - 1))
    assert isinstance(f, Expr)
    g = mg.derivative(f, x)
    compiled = mg.compile(g, [x])
    built = time.perf_counter() - start
    x0 = RNG.standard_normal(n)
    expected = np.concatenate(([0.0], x0[:-1])) + np.concatenate((x0[1:], [0.0]))
    np.testing.assert_allclose(compiled(x0), expected)
    start = time.perf_counter()
    for _ in range(10):
        compiled(x0)
    per_call = (time.perf_counter() - start) / 10
    assert len(g.walk()) < 10 * n  # linear in n
    assert built < 10.0 and per_call < 0.05, (built, per_call)
    h = mg.derivative(f, x, order=2)
    np.testing.assert_allclose(values(h), np.eye(n, k=1) + np.eye(n, k=-1))


def test_loop_over_rows_of_a_matrix_in_the_function_api() -> None:
    def loss(W: Any) -> Any:
        total = 0.0
        for i in range(W.shape[0]):
            total = total + np.sum(np.tanh(W[i]) * W[i, ::-1])
        return total

    w0 = RNG.standard_normal((4, 3))
    np.testing.assert_allclose(mg.grad(loss)(w0), numeric.gradient(loss, w0, method="richardson"),
                               rtol=1e-7, atol=1e-10)


# ---------------------------------------------------------------------------------------
# Diagonals and triangles
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [-3, -1, 0, 1, 2, 5])
@pytest.mark.parametrize("axes", [(0, 1), (1, 0), (0, 2), (2, 1), (-1, -3)])
def test_diagonal_and_trace_with_offsets(offset: int, axes: tuple[int, int]) -> None:
    T = mg.Tensor("T", (3, 4, 4))
    t = RNG.standard_normal((3, 4, 4))
    d = np.diagonal(T, offset, *axes)
    np.testing.assert_array_equal(values(d, T=t), np.diagonal(t, offset, *axes))
    tr = np.trace(T, offset, *axes)
    np.testing.assert_allclose(values(tr, T=t), np.trace(t, offset, *axes))
    w = RNG.standard_normal(d.shape)
    f = mg.sum(w * d * d)
    expected = numeric.gradient(lambda v: float(np.sum(w * np.diagonal(v, offset, *axes) ** 2)), t)
    for mode in ("forward", "reverse"):
        np.testing.assert_allclose(values(mg.derivative(f, T, mode=mode), T=t), expected,
                                   atol=1e-8)


def test_trace_and_diag_defaults_are_the_einsums() -> None:
    X = mg.Matrix("X", (3, 3))
    x = mg.Vector("x", 3)
    assert np.trace(X) is mg.trace(X)
    assert np.diag(x) is mg.diag(x)
    assert np.diag(X) is mg.diag(X)
    assert np.trace(mg.Matrix("R", (2, 3))).shape == ()


@pytest.mark.parametrize("k", [-2, -1, 1, 3])
def test_diag_with_k(k: int) -> None:
    x = mg.Vector("x", 3)
    v = RNG.standard_normal(3)
    np.testing.assert_array_equal(values(np.diag(x, k), x=v), np.diag(v, k))
    A = mg.Matrix("A", (3, 4))
    a = RNG.standard_normal((3, 4))
    np.testing.assert_array_equal(values(np.diag(A, k), A=a), np.diag(a, k))
    f = mg.sum(np.diag(x, k) @ np.diag(x, k))
    expected = numeric.gradient(lambda u: float(np.sum(np.diag(u, k) @ np.diag(u, k))), v)
    np.testing.assert_allclose(values(mg.derivative(f, x), x=v), expected, atol=1e-8)


@pytest.mark.parametrize("k", [-1, 0, 2])
def test_triangles(k: int) -> None:
    A = mg.Matrix("A", (4, 3))
    a = RNG.standard_normal((4, 3))
    for name in ("tril", "triu"):
        np_fn = getattr(np, name)
        e = np_fn(A, k)
        np.testing.assert_array_equal(values(e, A=a), np_fn(a, k))
        np.testing.assert_array_equal(run_numpy_source(e, A=a), np_fn(a, k))
        jac = numeric.jacobian(lambda v, f=np_fn: f(v, k) ** 2, a)
        for mode in ("forward", "reverse"):
            j = mg.derivative(e * e, A, mode=mode)
            np.testing.assert_allclose(values(j, A=a), jac, atol=1e-8)
    T = mg.Tensor("T", (2, 3, 3))
    t = RNG.standard_normal((2, 3, 3))
    np.testing.assert_array_equal(values(mg.tril(T, k), T=t), np.tril(t, k))
    v = mg.Vector("v", 3)
    np.testing.assert_array_equal(values(np.triu(v), v=a[0]), np.triu(a[0]))
    assert str(mg.tril(A, k)) == f"tril(A, {k})"

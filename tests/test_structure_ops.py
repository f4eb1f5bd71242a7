"""Assembly and shape on expressions against NumPy itself: concatenate, stack,
hstack, vstack, column_stack, split and array_split, reshape (with -1, both
orders), ravel, flatten, squeeze, expand_dims, swapaxes, moveaxis, transpose
with axes, broadcast_to, take; and their derivatives (first and second order,
forward and reverse) against numerical differentiation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import matgrad as mg
from matgrad import numeric
from matgrad.errors import InvalidArgumentError, ShapeError, UnsupportedOperationError
from matgrad.ir.apply import Apply
from matgrad.ir.expr import Expr

RNG = np.random.default_rng(7)


def values(expr: Expr, **bindings: Any) -> np.ndarray:
    names = {s.name for s in expr.symbols()}
    return np.asarray(expr.evaluate(**{k: v for k, v in bindings.items() if k in names}))


def run_numpy_source(expr: Expr, **bindings: Any) -> np.ndarray:
    namespace: dict[str, Any] = {}
    exec(compile(expr.to_numpy("f"), "<to_numpy>", "exec"), namespace)
    return np.asarray(namespace["f"](*(bindings[s.name] for s in expr.symbols())))


A_SHAPE, B_SHAPE, T_SHAPE = (2, 3), (4, 3), (2, 3, 4)

# (name, function of NumPy-or-matgrad arrays a (2,3), b (4,3), t (2,3,4), c (3,))
CASES: list[tuple[str, Callable[..., Any]]] = [
    ("concatenate-0", lambda a, b, t, c: np.concatenate([a, b, a])),
    ("concatenate-neg-axis", lambda a, b, t, c: np.concatenate([a, a.T.T * 2], axis=-1)),
    ("concatenate-none", lambda a, b, t, c: np.concatenate([a, t, c], axis=None)),
    ("concatenate-constant", lambda a, b, t, c: np.concatenate([a, np.ones((1, 3)), b])),
    ("stack-0", lambda a, b, t, c: np.stack([a, 2 * a])),
    ("stack-last", lambda a, b, t, c: np.stack([c, c * c, np.arange(3.0)], axis=-1)),
    ("stack-middle", lambda a, b, t, c: np.stack([t, t], axis=2)),
    ("hstack-vectors", lambda a, b, t, c: np.hstack([c, c])),
    ("hstack-matrices", lambda a, b, t, c: np.hstack([a, a, a])),
    ("vstack", lambda a, b, t, c: np.vstack([a, c, b])),
    ("column_stack", lambda a, b, t, c: np.column_stack([c, b.T, c])),
    ("reshape", lambda a, b, t, c: np.reshape(t, (4, -1))),
    ("reshape-F", lambda a, b, t, c: np.reshape(t, (6, 4), order="F")),
    ("reshape-F-minus-one", lambda a, b, t, c: np.reshape(b, (-1, 2, 3), order="F")),
    ("ravel", lambda a, b, t, c: np.ravel(t)),
    ("ravel-F", lambda a, b, t, c: np.ravel(a, order="F")),
    ("squeeze", lambda a, b, t, c: np.squeeze(np.reshape(a, (1, 2, 1, 3)))),
    ("squeeze-axis", lambda a, b, t, c: np.squeeze(np.reshape(a, (1, 2, 1, 3)), axis=(0,))),
    ("expand_dims", lambda a, b, t, c: np.expand_dims(a, 1)),
    ("expand_dims-tuple", lambda a, b, t, c: np.expand_dims(c, (0, -1))),
    ("swapaxes", lambda a, b, t, c: np.swapaxes(t, 0, -1)),
    ("moveaxis", lambda a, b, t, c: np.moveaxis(t, 0, -1)),
    ("moveaxis-two", lambda a, b, t, c: np.moveaxis(t, [0, 1], [-1, 0])),
    ("transpose-axes", lambda a, b, t, c: np.transpose(t, (1, 2, 0))),
    ("broadcast_to", lambda a, b, t, c: np.broadcast_to(c, (2, 4, 3))),
    ("broadcast_to-stretch", lambda a, b, t, c: np.broadcast_to(np.reshape(c, (3, 1)), (2, 3, 5))),
    ("take", lambda a, b, t, c: np.take(b, [3, 0, 3], axis=0)),
    ("take-flat", lambda a, b, t, c: np.take(a, [5, 1])),
    ("atleast_2d", lambda a, b, t, c: np.atleast_2d(c)),
    ("split-recombined", lambda a, b, t, c: np.concatenate(np.split(b, 2)[::-1])),
    ("array_split", lambda a, b, t, c: np.concatenate(np.array_split(t, 3, axis=2)[1:], axis=2)),
    ("split-indices", lambda a, b, t, c: np.hstack(np.split(b, [1, -1], axis=0)[::2])),
    ("hsplit", lambda a, b, t, c: np.hsplit(a, 3)[1]),
    ("vsplit", lambda a, b, t, c: np.vsplit(b, [1])[1]),
    ("diff", lambda a, b, t, c: np.diff(c)),
    ("diff-axis-0", lambda a, b, t, c: np.diff(b, axis=0)),
    ("diff-second", lambda a, b, t, c: np.diff(t, n=2, axis=1)),
    ("diff-ends", lambda a, b, t, c: np.diff(a, prepend=0.5, append=a[:, :1] * 2)),
]


def _arrays() -> dict[str, np.ndarray]:
    return {
        "a": RNG.standard_normal(A_SHAPE),
        "b": RNG.standard_normal(B_SHAPE),
        "t": RNG.standard_normal(T_SHAPE),
        "c": RNG.standard_normal(3),
    }


def _symbols() -> dict[str, Expr]:
    return {
        "a": mg.Matrix("a", A_SHAPE),
        "b": mg.Matrix("b", B_SHAPE),
        "t": mg.Tensor("t", T_SHAPE),
        "c": mg.Vector("c", 3),
    }


@pytest.mark.parametrize("name, fn", CASES, ids=[c[0] for c in CASES])
def test_values_agree_with_numpy(name: str, fn: Callable[..., Any]) -> None:
    arrays = _arrays()
    expected = np.asarray(fn(**arrays))
    e = fn(**_symbols())
    assert isinstance(e, Expr), name
    assert e.shape == expected.shape, name
    np.testing.assert_array_equal(values(e, **arrays), expected)
    np.testing.assert_array_equal(run_numpy_source(e, **arrays), expected)


@pytest.mark.parametrize("name, fn", CASES, ids=[c[0] for c in CASES])
def test_gradients_agree_with_numerics_in_both_modes(name: str, fn: Callable[..., Any]) -> None:
    arrays = _arrays()
    syms = _symbols()
    out = fn(**syms)
    w = RNG.standard_normal(out.shape)
    f = mg.sum(w * out * out)
    for key in sorted(s.name for s in f.symbols()):

        def f_num(v: np.ndarray, key: str = key) -> float:
            r = np.asarray(fn(**{**arrays, key: v}))
            return float(np.sum(w * r * r))

        expected = numeric.gradient(f_num, arrays[key], method="richardson")
        for mode in ("forward", "reverse"):
            g = mg.derivative(f, syms[key], mode=mode)  # type: ignore[arg-type]
            np.testing.assert_allclose(values(g, **arrays), expected, atol=1e-8,
                                       err_msg=f"{name} d/d{key} ({mode})")


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_hessian_through_concatenation(mode: str) -> None:
    x = mg.Vector("x", 3)
    y = mg.Vector("y", 2)

    def feat(u: Any, v: Any) -> Any:
        return np.concatenate([u, np.tanh(v), u * u, np.ones(1)])

    w = RNG.standard_normal(9)
    f = mg.sum(w * feat(x, y) * feat(x, y)) + mg.sum(feat(x, y)[1:] * feat(x, y)[:-1])
    x0, y0 = RNG.standard_normal(3), RNG.standard_normal(2)

    def f_num(u: np.ndarray) -> float:
        r = feat(u, y0)
        return float(np.sum(w * r * r) + np.sum(r[1:] * r[:-1]))

    h = mg.derivative(f, x, order=2, mode=mode)
    np.testing.assert_allclose(values(h, x=x0, y=y0), numeric.hessian(f_num, x0), atol=1e-5)


def test_jacobian_of_a_concatenation_with_constant_and_other_operands() -> None:
    """Forward mode pushes zeros for operands that do not vary; reverse mode
    pulls a slice for each operand that does."""
    x = mg.Vector("x", 2)
    y = mg.Vector("y", 3)
    e = mg.concatenate([y, x, np.arange(2.0), x * y[:2]])
    x0, y0 = RNG.standard_normal(2), RNG.standard_normal(3)
    expected = numeric.jacobian(
        lambda u: np.concatenate([y0, u, np.arange(2.0), u * y0[:2]]), x0, method="richardson"
    )
    for mode in ("forward", "reverse"):
        j = mg.derivative(e, x, mode=mode)
        np.testing.assert_allclose(values(j, x=x0, y=y0), expected, atol=1e-9)


@given(
    sizes=st.lists(st.integers(0, 3), min_size=1, max_size=4),
    axis=st.integers(-2, 1),
    other=st.integers(1, 3),
)
def test_concatenate_then_split_is_the_identity(sizes: list[int], axis: int, other: int) -> None:
    shapes = [(n, other) if axis in (0, -2) else (other, n) for n in sizes]
    syms = [mg.Matrix(f"m{k}", s) for k, s in enumerate(shapes)]
    arrays = {f"m{k}": RNG.standard_normal(s) for k, s in enumerate(shapes)}
    joined = mg.concatenate(syms, axis=axis)
    expected = np.concatenate([arrays[s.name] for s in syms], axis=axis)
    assert joined.shape == expected.shape
    if joined.size:
        np.testing.assert_array_equal(values(joined, **arrays), expected)
    cuts = list(np.cumsum(sizes))[:-1]
    for k, piece in enumerate(np.split(joined, cuts, axis=axis)):
        assert piece.shape == shapes[k]
        if piece.size:
            np.testing.assert_array_equal(values(piece, **arrays), arrays[f"m{k}"])


def test_canonical_forms() -> None:
    A = mg.Matrix("A", (2, 3))
    x = mg.Vector("x", 3)
    assert mg.concatenate([A]) is A
    assert mg.reshape(A, (-1,)) is mg.reshape(A, (6,)) is mg.ravel(A) is mg.flatten(A)
    assert mg.reshape(A, (3, -1)) is mg.reshape(A, (3, 2))
    assert mg.reshape(mg.reshape(A, (6,)), (2, 3)) is A
    assert mg.ravel(A, order="F") is mg.reshape(A.T, (6,))
    inner = mg.concatenate([x, x])
    nested = mg.concatenate([inner, 2 * x])
    assert isinstance(nested, Apply) and len(nested.args) == 3  # flattened
    assert mg.concatenate([x, np.zeros(0), x]) is inner  # empty parts dropped
    assert mg.swapaxes(A, 0, 1) is A.T is mg.moveaxis(A, 0, 1) is np.transpose(A)
    assert mg.squeeze(mg.expand_dims(A, 0)) is A
    assert mg.broadcast_to(x, (3,)) is x
    assert mg.broadcast_to(x, (2, 3)) is np.broadcast_to(x, (2, 3))


def test_errors() -> None:
    A = mg.Matrix("A", (2, 3))
    B = mg.Matrix("B", (3, 2))
    with pytest.raises(ShapeError, match="differ off that axis"):
        mg.concatenate([A, B])
    with pytest.raises(ShapeError, match="out of bounds"):
        np.concatenate([A, A], axis=2)
    with pytest.raises(ShapeError, match="zero-dimensional"):
        mg.concatenate([mg.Scalar("s"), mg.Scalar("t")])
    with pytest.raises(InvalidArgumentError):
        mg.concatenate([])
    with pytest.raises(ShapeError, match="one shape"):
        np.stack([A, B])
    with pytest.raises(ShapeError, match="equal division"):
        np.split(A, 2, axis=1)
    with pytest.raises(ShapeError, match="size 6 into shape"):
        mg.reshape(A, (4, -1))
    with pytest.raises(ShapeError, match="one -1"):
        mg.reshape(A, (-1, -1))
    with pytest.raises(ShapeError):
        mg.reshape(A, (4, 2))
    with pytest.raises(UnsupportedOperationError, match="order"):
        np.reshape(A, (6,), order="A")
    with pytest.raises(ShapeError, match="not all of length one"):
        np.squeeze(A, axis=0)
    with pytest.raises(ShapeError, match="does not broadcast"):
        np.broadcast_to(A, (3, 3))
    with pytest.raises(ShapeError, match="out of bounds"):
        np.moveaxis(A, 2, 0)
    with pytest.raises(UnsupportedOperationError, match="out"):
        np.concatenate([A, A], out=np.zeros((4, 3)))


def test_printing() -> None:
    A = mg.Matrix("A", (2, 3))
    x = mg.Vector("x", 3)
    e = mg.concatenate([A, x[None]])
    assert str(e) == "concatenate([A, x[None]], axis=0)"  # valid NumPy
    assert "np.concatenate([" in e.to_numpy()
    assert mg.printing.to_latex(e) == r"\begin{bmatrix} A \\ x[None] \end{bmatrix}".replace(
        "x[None]", mg.printing.to_latex(x[None]))
    side = mg.concatenate([A, A, A], axis=1)
    assert mg.printing.to_latex(side) == r"\begin{bmatrix} A & A & A \end{bmatrix}"
    assert str(side) == "concatenate([A, A, A], axis=1)"
    assert str(mg.reshape(A, (-1,))) == "reshape(A, (6,))"


def test_feature_map_by_concatenation_in_the_function_api() -> None:
    """Polynomial features built with column_stack and hstack, then least squares."""
    data = RNG.standard_normal(5)
    target = RNG.standard_normal(5)

    def loss(w: Any) -> Any:
        feats = np.column_stack([np.ones(5), data * w[4], data * data])
        pred = feats @ w[:3] + np.sum(np.hstack([w[3:], w[3:]]))
        r = pred - target
        return np.sum(r * r)

    w0 = RNG.standard_normal(5)
    np.testing.assert_allclose(mg.grad(loss)(w0), numeric.gradient(loss, w0, method="richardson"),
                               rtol=1e-7)
    np.testing.assert_allclose(mg.hessian(loss)(w0), numeric.hessian(loss, w0), rtol=1e-5,
                               atol=1e-6)


def test_concatenate_is_variadic() -> None:
    """``arity=None``: any number of operands (at least one), attributes by keyword."""
    op = mg.ops.registry.operation("concatenate")
    assert op.arity is None
    x = mg.Vector("x", 2)
    assert op(x, axis=0) is x
    four = op(x, 2 * x, x, 3 * x, axis=0)
    assert four.shape == (8,) and len(four.children) == 4
    np.testing.assert_allclose(four.evaluate(x=np.array([1.0, 2.0])),
                               [1, 2, 2, 4, 1, 2, 3, 6])
    with pytest.raises(InvalidArgumentError, match="at least one"):
        op(axis=0)
    with pytest.raises(InvalidArgumentError, match="needs axis"):
        op(x, x)
    assert "x, ..., axis" in (mg.ops.registry._constructor(op).__doc__ or "")

"""Any rank and NumPy's broadcasting: batched ``@`` (leading axes broadcast, 1-d
operands per NumPy's rules), elementwise broadcasting with size-1 axes stretched
on either side, ``np.tensordot``/``np.inner``/``np.vdot``/``np.dot`` on N-D
operands, ``np.outer`` flattening, and ``np.einsum`` with ellipses and in the
interleaved form.  Values come from NumPy itself; first and second derivatives,
in forward and reverse accumulation, from numerical differentiation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import matgrad as mg
from matgrad import numeric
from matgrad.errors import InvalidArgumentError, ShapeError, UnsupportedOperationError
from matgrad.ir.expr import Einsum, Expr

Build = Callable[..., Any]

# (name, function of arrays or expressions alike, operand shapes)
CASES: list[tuple[str, Build, tuple[tuple[int, ...], ...]]] = [
    ("batched-matmul", lambda a, b: a @ b, ((4, 3, 3), (4, 3, 3))),
    ("batch-times-matrix", lambda a, b: a @ b, ((4, 2, 3), (3, 5))),
    ("matrix-times-batch", lambda a, b: a @ b, ((2, 3), (4, 3, 5))),
    ("vector-times-batch", lambda a, b: a @ b, ((3,), (4, 3, 5))),
    ("batch-times-vector", lambda a, b: a @ b, ((4, 2, 3), (3,))),
    ("batch-axes-broadcast", lambda a, b: a @ b, ((2, 1, 2, 3), (5, 3, 4))),
    ("batch-size-1-both-sides", lambda a, b: a @ b, ((1, 2, 3), (1, 3, 2))),
    ("np-matmul", lambda a, b: np.matmul(a, b), ((2, 2, 3), (2, 3, 2))),
    ("add-column-row", lambda a, b: a + b, ((3, 1), (1, 4))),
    ("mul-3d-2d", lambda a, b: a * b, ((2, 1, 3), (4, 1))),
    ("sub-3d-2d", lambda a, b: a - b, ((2, 1, 3), (4, 1))),
    ("div-stretch", lambda a, b: a / (b * b + 1.0), ((1, 3), (2, 1))),
    ("add-size-1-vector", lambda a, b: a + b, ((1,), (3, 2))),
    ("mul-by-scalar-tensor", lambda a, b: a * b, ((), (2, 1, 3))),
    ("bias-broadcast", lambda w, x, b: np.tanh(x @ w + b), ((3, 2), (4, 3), (2,))),
    ("tensordot-2", lambda a, b: np.tensordot(a, b), ((2, 3, 2), (3, 2, 2))),
    ("tensordot-pairs", lambda a, b: np.tensordot(a, b, axes=([0, 2], [2, 0])),
     ((2, 3, 2), (2, 3, 2))),
    ("tensordot-int-pair", lambda a, b: np.tensordot(a, b, axes=(1, 0)), ((2, 3), (3, 2))),
    ("tensordot-0", lambda a, b: np.tensordot(a, b, axes=0), ((2, 2), (3,))),
    ("inner-nd", lambda a, b: np.inner(a, b), ((2, 3), (2, 2, 3))),
    ("inner-scalar", lambda a, b: np.inner(a, b), ((), (3,))),
    ("vdot-flat", lambda a, b: np.vdot(a, b), ((2, 3), (6,))),
    ("vdot-same", lambda a, b: np.vdot(a, b), ((2, 3), (2, 3))),
    ("dot-nd", lambda a, b: np.dot(a, b), ((2, 2, 3), (2, 3, 2))),
    ("dot-nd-vector", lambda a, b: np.dot(a, b), ((2, 2, 3), (3,))),
    ("dot-vector-nd", lambda a, b: np.dot(a, b), ((3,), (2, 3, 2))),
    ("dot-scalar", lambda a, b: np.dot(a, b), ((), (2, 3))),
    ("outer-flattens", lambda a, b: np.outer(a, b), ((2, 3), (2, 2))),
    ("einsum-ellipsis", lambda a, b: np.einsum("...ij,...jk->...ik", a, b), ((3, 2, 3), (3, 2))),
    ("einsum-ellipsis-broadcast", lambda a, b: np.einsum("ij...,jk...->ik...", a, b),
     ((2, 3, 2), (3, 2, 1))),
    ("einsum-ellipsis-implicit", lambda a, b: np.einsum("...ij,...jk", a, b), ((3, 2, 3), (3, 2))),
    ("einsum-ellipsis-summed", lambda a, b: np.einsum("...ij,...jk->...", a, b),
     ((3, 2, 3), (3, 2))),
    ("einsum-ellipsis-only", lambda a, b: np.einsum("...,...", a, b), ((2, 1), (3,))),
    ("einsum-leading-ellipsis-out", lambda a: np.einsum("i...->...", a), ((2, 3, 2),)),
    ("einsum-interleaved", lambda a, b: np.einsum(a, [0, 1], b, [1], [0]), ((2, 3), (3,))),
    ("einsum-interleaved-ellipsis", lambda a, b: np.einsum(a, [Ellipsis, 1], b, [1]),
     ((2, 3), (3,))),
    ("einsum-implicit-order", lambda a: np.einsum("aB", a), ((2, 3),)),
    ("einsum-optimize", lambda a, b: np.einsum("ij,jk", a, b, optimize=True), ((2, 3), (3, 2))),
]


def _symbols(shapes: tuple[tuple[int, ...], ...]) -> list[Expr]:
    return [mg.Tensor(f"a{k}", s) for k, s in enumerate(shapes)]


def _values(shapes: tuple[tuple[int, ...], ...], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {f"a{k}": rng.standard_normal(s) for k, s in enumerate(shapes)}


def _evaluate(expr: Expr, values: dict[str, np.ndarray]) -> np.ndarray:
    names = {s.name for s in expr.symbols()}
    return np.asarray(expr.evaluate(**{k: v for k, v in values.items() if k in names}))


@pytest.mark.parametrize(("name", "build", "shapes"), CASES, ids=[c[0] for c in CASES])
def test_value_and_shape_match_numpy(name: str, build: Build, shapes: Any) -> None:
    values = _values(shapes)
    expr = build(*_symbols(shapes))
    expected = np.asarray(build(*values.values()))
    assert isinstance(expr, Expr)
    assert expr.shape == expected.shape
    np.testing.assert_allclose(_evaluate(expr, values), expected, rtol=1e-12, atol=1e-12)


def _check_close(symbolic: np.ndarray, estimate: np.ndarray, what: str) -> None:
    assert symbolic.shape == estimate.shape, what
    scale = max(1.0, float(np.max(np.abs(estimate), initial=0.0)))
    err = float(np.max(np.abs(symbolic - estimate), initial=0.0)) / scale
    assert err < 1e-6, f"{what}: max error {err:.3e}"


@pytest.mark.parametrize("mode", ["forward", "reverse"])
@pytest.mark.parametrize(("name", "build", "shapes"), CASES, ids=[c[0] for c in CASES])
def test_first_and_second_derivatives_match_numerical(
    name: str, build: Build, shapes: Any, mode: str
) -> None:
    syms = _symbols(shapes)
    values = _values(shapes, seed=1)
    f = build(*syms)
    for s in syms:
        def at(expr: Expr, sym: Any = s) -> Callable[[np.ndarray], np.ndarray]:
            return lambda v: _evaluate(expr, {**values, sym.name: v})

        d1 = mg.derivative(f, s, mode=mode)  # type: ignore[arg-type]
        assert d1.shape == f.shape + s.shape
        expected = numeric.jacobian(at(f), values[s.name], method="richardson")
        _check_close(_evaluate(d1, values), expected, f"{name}: d/d{s.name}")
        d2 = mg.derivative(f, s, order=2, mode=mode)  # type: ignore[arg-type]
        expected2 = numeric.jacobian(at(d1), values[s.name], method="richardson")
        _check_close(_evaluate(d2, values), expected2, f"{name}: d2/d{s.name}2")


def test_batched_products_and_broadcasts_stay_einsums() -> None:
    """Batching and size-1 stretching are index bookkeeping: no reshape node, no
    dense selection matrix."""
    T = mg.Tensor("T", (4, 3, 3))
    a, b = mg.Tensor("a", (3, 1)), mg.Tensor("b", (1, 4))
    for expr in (T @ T, T @ mg.Vector("v", 3), a * b, mg.Tensor("c", (2, 1, 3)) * b.T):
        assert isinstance(expr, Einsum)
        assert {n.kind for n in expr.walk()} <= {"einsum", "symbol"}
    assert {n.kind for n in (a + b).walk()} <= {"einsum", "symbol", "ones", "add"}


def test_gradient_of_a_batched_loss_through_the_function_api() -> None:
    rng = np.random.default_rng(3)
    T0, W0 = rng.standard_normal((5, 3, 3)), rng.standard_normal((3, 2))

    def loss(T: Any, W: Any) -> Any:
        y = np.tanh(T @ T @ W)
        return np.sum(y * y)

    for k, x0 in enumerate((T0, W0)):
        def along(v: np.ndarray, k: int = k) -> Any:
            return loss(*((v, W0) if k == 0 else (T0, v)))

        got = mg.grad(loss, argnums=k)(T0, W0)
        expected = numeric.gradient(along, x0, method="richardson")
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    ("build", "shapes", "error", "message"),
    [
        (lambda a, b: a @ b, ((2, 3, 4), (3, 4, 2)), ShapeError, r"batch axes.*do not broadcast"),
        (lambda a, b: a @ b, ((2, 3), (2, 3)), ShapeError, r"do not fit \(3 != 2\)"),
        (lambda a, b: a @ b, ((), (2, 3)), ShapeError, "scalar operand"),
        (lambda a, b: a + b, ((2, 3), (3, 2)), ShapeError,
         r"\(2, 3\) and \(3, 2\) do not broadcast"),
        (lambda a, b: a * b, ((2, 1, 3), (4, 2)), ShapeError, "do not broadcast"),
        (lambda a, b: np.tensordot(a, b, axes=3), ((2, 3), (3, 2)), ShapeError, "axes=3"),
        (lambda a, b: np.tensordot(a, b, axes=([0, 0], [0, 1])), ((2, 2), (2, 2)), ShapeError,
         "distinct"),
        (lambda a, b: np.tensordot(a, b, axes=([1], [1])), ((2, 3), (3, 2)), ShapeError,
         "differ in length"),
        (lambda a, b: np.tensordot(a, b, axes="x"), ((2, 3), (3, 2)), InvalidArgumentError,
         "pair"),
        (lambda a, b: np.vdot(a, b), ((2, 3), (5,)), ShapeError, "differ in size"),
        (lambda a, b: np.dot(a, b), ((2, 3), (2, 3)), ShapeError, r"3 != 2"),
        (lambda a, b: np.einsum("ij...,jk->i", a, b), ((2, 3, 4), (3, 2)), ShapeError,
         r"write '\.\.\.' in the output"),
        (lambda a, b: np.einsum("...ij,...jk", a, b), ((2, 2, 3), (3, 3, 2)), ShapeError,
         "einsum ellipsis"),
        (lambda a: np.einsum("ijk", a), ((2, 3),), ShapeError, "do not fit operand"),
        (lambda a: np.einsum("i...j...", a), ((2, 3),), InvalidArgumentError, "twice"),
        (lambda a: np.einsum("i1", a), ((2, 3),), InvalidArgumentError, "invalid subscript"),
        (lambda a: np.einsum(a, [0, 99]), ((2, 3),), InvalidArgumentError, "0-51"),
    ],
)
def test_shapes_that_do_not_fit_fail_when_built(
    build: Build, shapes: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        build(*_symbols(shapes))
    with pytest.raises((ValueError, TypeError, IndexError)):  # NumPy refuses them too
        build(*_values(shapes).values())


def test_numpy_arguments_matgrad_does_not_take_are_refused() -> None:
    a, x = mg.Matrix("a", (2, 3)), mg.Vector("x", 3)
    with pytest.raises(UnsupportedOperationError, match="dtype"):
        np.einsum("ij", a, dtype=np.float32)
    with pytest.raises(UnsupportedOperationError, match="out"):
        np.dot(a, x, out=np.empty(2))
    with pytest.raises(UnsupportedOperationError, match="out"):
        np.outer(x, x, out=np.empty((3, 3)))


def test_vdot_refuses_a_complex_first_operand() -> None:
    z = mg.Vector("z", 3, dtype=np.complex128)
    with pytest.raises(UnsupportedOperationError, match="conjugated"):
        np.vdot(z, mg.Vector("w", 3))


def test_public_constructors_take_arrays_and_expressions() -> None:
    a0 = np.arange(6.0).reshape(2, 3)
    x = mg.Vector("x", 3)
    from matgrad.ops.core import inner, tensordot, vdot

    np.testing.assert_allclose(tensordot(a0, x, 1).evaluate(x=np.ones(3)), a0 @ np.ones(3))
    np.testing.assert_allclose(inner(a0, x).evaluate(x=np.ones(3)), np.inner(a0, np.ones(3)))
    np.testing.assert_allclose(vdot(a0, a0 + 1.0).evaluate(), np.vdot(a0, a0 + 1.0))

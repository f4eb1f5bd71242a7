"""Printing: matrix notation, LaTeX, index notation and NumPy source.

Expected strings are derived by hand.  The NumPy source is executed (here, in the
tests, never in the package) and compared with values computed by plain NumPy
alongside each random expression, and with ``Expr.evaluate`` (the compiler).
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import matgrad.printing  # noqa: F401 - registers the hooks
from matgrad import ops
from matgrad.errors import InvalidArgumentError
from matgrad.ir import expr as ex
from matgrad.ir.expr import Expr, Matrix, Scalar, Tensor, Vector, einsum_node
from matgrad.printing import (
    index_letters,
    latex_name,
    to_index_notation,
    to_latex,
    to_numpy,
    to_text,
)

X, A, B, C, Y = (Matrix(n, (3, 3)) for n in "XABCY")
S = Matrix("S", (3, 3), symmetric=True)
R = Matrix("R", (4, 3))
a, b, u, v, x = (Vector(n, 3) for n in "abuvx")
s, t = Scalar("s"), Scalar("t")
I3 = ex.delta(3)


def E(ops_: list[Expr], idx: list[tuple[int, ...]], out: tuple[int, ...]) -> Expr:
    return einsum_node(ops_, idx, out)


def run_numpy(e: Expr, **values: Any) -> Any:
    """Execute the generated source in a fresh namespace and call the function."""
    namespace: dict[str, Any] = {}
    exec(compile(to_numpy(e, name="f"), "<to_numpy>", "exec"), namespace)
    return namespace["f"](**values)


# =====================================================================================
# Matrix notation, by hand
# =====================================================================================

TEXT_CASES: list[tuple[str, Callable[[], Expr], str]] = [
    ("quadratic form", lambda: x @ A @ x, "x @ A @ x"),
    ("bilinear form", lambda: a @ X @ b, "a @ X @ b"),
    ("bilinear form, flat", lambda: E([a, X, b], [(0,), (0, 1), (1,)], ()), "a @ X @ b"),
    ("transpose", lambda: E([X], [(1, 0)], (0, 1)), "X.T"),
    ("trace of a chain", lambda: ops.trace(X.T @ A @ X), "trace(X.T @ A @ X)"),
    ("flat trace", lambda: E([A, B, C], [(0, 1), (1, 2), (2, 0)], ()), "trace(A @ B @ C)"),
    ("flat trace, rotated", lambda: E([C, A, B], [(2, 0), (0, 1), (1, 2)], ()), "trace(A @ B @ C)"),
    (
        "flat trace, reversed",
        lambda: E([A, B, C], [(1, 0), (2, 1), (0, 2)], ()),
        "trace(A @ C @ B)",
    ),
    (
        "flat quadratic trace",
        lambda: E([X, A, X], [(1, 0), (1, 2), (2, 0)], ()),
        "trace(X.T @ A @ X)",
    ),
    ("Frobenius product", lambda: E([X, Y], [(0, 1), (0, 1)], ()), "trace(X.T @ Y)"),
    (
        "gradient of trace(X.T A X)",
        lambda: E([A, X], [(0, 2), (2, 1)], (0, 1)) + E([A, X], [(2, 0), (2, 1)], (0, 1)),
        "(A + A.T) @ X",  # the display form collects the common factor X
    ),
    ("diag of a matrix", lambda: ops.diag(X), "diag(X)"),
    ("diag of a vector", lambda: ops.diag(v), "diag(v)"),
    ("diag of a product", lambda: E([A, B], [(0, 1), (1, 0)], (0,)), "diag(A @ B)"),
    ("Hadamard", lambda: E([X, Y], [(0, 1), (0, 1)], (0, 1)), "X ⊙ Y"),
    ("Hadamard, transposed", lambda: E([X, Y], [(0, 1), (1, 0)], (0, 1)), "X ⊙ Y.T"),
    ("Hadamard of vectors", lambda: u * v, "u ⊙ v"),
    ("sum of a Hadamard", lambda: E([a, b, u], [(0,), (0,), (0,)], ()), "sum(a ⊙ b ⊙ u)"),
    ("sum of all entries", lambda: ops.sum(X), "sum(X)"),
    ("column sums", lambda: ops.sum(X, axis=0), "sum(X, axis=0)"),
    ("row sums", lambda: ops.sum(X, axis=1), "sum(X, axis=1)"),
    ("row sums of a product", lambda: E([A, B], [(0, 2), (2, 1)], (0,)), "sum(A @ B, axis=1)"),
    ("outer product", lambda: ops.outer(u, v), "outer(u, v)"),
    ("outer product, swapped", lambda: E([u, v], [(1,), (0,)], (0, 1)), "outer(v, u)"),
    ("identity", lambda: I3, "eye(3)"),  # alone, I would have no size
    ("identity in a sum", lambda: I3 + A, "A + I"),
    ("ones", lambda: ex.ones((2, 3)), "ones((2, 3))"),
    ("ones vector", lambda: ex.ones((3,)), "ones(3)"),
    ("zeros", lambda: ex.zeros((2, 3)), "zeros((2, 3))"),
    ("matrix times vector", lambda: A @ x, "A @ x"),
    ("vector times matrix", lambda: x @ A, "A.T @ x"),  # a column, as in the textbook
    (
        "chain through a vector",
        lambda: E([A, x, B], [(0, 2), (2,), (2, 1)], (0, 1)),
        "A @ diag(x) @ B",
    ),
    ("vector scaling columns", lambda: E([X, v], [(0, 1), (1,)], (0, 1)), "X @ diag(v)"),
    ("vector scaling rows", lambda: E([X, v], [(0, 1), (0,)], (0, 1)), "diag(v) @ X"),
    ("scalar times chain", lambda: s * (A @ B), "s * A @ B"),
    ("coefficient times chain", lambda: 2 * (A @ B), "2 * A @ B"),
    ("half", lambda: 0.5 * X, "0.5 * X"),
    ("a third", lambda: X / 3, "X / 3"),
    ("negation", lambda: -X, "-X"),
    ("difference", lambda: X - Y, "X - Y"),
    ("difference, positive first", lambda: -X + Y, "Y - X"),
    ("negation inside a chain", lambda: A @ (-B), "-(A @ B)"),
    ("transpose of a product", lambda: (A @ B).T, "(A @ B).T"),
    ("transpose with fewer transposes", lambda: (A @ B.T).T, "B @ A.T"),
    ("Gram matrix is symmetric", lambda: (X.T @ X).T, "X.T @ X"),
    ("symmetric symbol", lambda: E([S], [(1, 0)], (0, 1)), "S"),
    ("Kronecker product", lambda: ops.kron(A, B), "A ⊗ B"),
    (
        "surviving deltas",
        lambda: E([I3, R], [(0, 2), (1, 3)], (0, 1, 2, 3)),
        'einsum("ik,jl->ijkl", eye(3), R)',
    ),
    (
        "fallback with a transposed piece",
        lambda: E([A, I3], [(2, 0), (1, 3)], (0, 1, 2, 3)),
        'einsum("ki,jl->ijkl", A, eye(3))',
    ),
    (
        "fallback keeps chains",
        lambda: E([A, B, v], [(0, 3), (3, 1), (2,)], (0, 1, 2)),
        'einsum("ij,k->ijk", A @ B, v)',
    ),
    ("sum of a tensor", lambda: ops.sum(Tensor("T", (2, 3, 4))), "sum(T)"),
    ("partial sum of a tensor", lambda: ops.sum(Tensor("T", (2, 3, 4)), axis=1), "sum(T, axis=1)"),
    ("inverse in a chain", lambda: a @ ops.inv(X) @ b, "a @ inv(X) @ b"),
    ("solve", lambda: ops.solve(X, b), "inv(X) @ b"),
    ("transposed inverse", lambda: ops.inv(X).T @ A, "inv(X).T @ A"),
    (
        "determinants",
        lambda: ops.logdet(X) + ops.det(X) * ops.trace(ops.adj(X)),
        "det(X) * trace(adj(X)) + logdet(X)",
    ),
    ("function of an affine map", lambda: ops.tanh(A @ x + b), "tanh(A @ x + b)"),
    ("powers", lambda: (X**2) ** 3, "X ** 6"),
    ("power then transpose", lambda: (X**2).T, "(X ** 2).T"),
    ("scalar division", lambda: s / ops.trace(X), "s / trace(X)"),
    ("product of scalars", lambda: (x @ a) * (b @ u), "(a @ x) * (b @ u)"),
    ("broadcast scalar", lambda: X + s, "X + s * ones((3, 3))"),
    ("broadcast vector", lambda: X + x, "X + outer(ones(3), x)"),
    ("mean", lambda: ops.mean(X), "sum(X) / 9"),
    ("norm", lambda: ops.norm(X), "sqrt(sum(X ** 2))"),
    ("matrix power", lambda: ops.matrix_power(X, 3), "X @ X @ X"),
    ("reshape", lambda: ops.reshape(X, (9,)), "reshape(X, (9,))"),
    ("sigmoid", lambda: 2 * ops.sigmoid(x) - 1, "2 * sigmoid(x) - 1"),
    ("ones scaled alone", lambda: 2 * ex.ones((3,)), "2 * ones(3)"),
    ("ones in a product", lambda: ops.outer(ex.ones((3,)), x) - X, "outer(ones(3), x) - X"),
    ("ones over a coefficient", lambda: X - ex.ones((3, 3)) / 3, "X - 1 / 3"),
    ("named constant", lambda: ex.constant(np.eye(3), name="K") @ X, "K @ X"),
    (
        "small constant",
        lambda: ex.constant([[1.0, 2.5], [0.1, -3.0]]) @ Matrix("Z", (2, 2)),
        "array([[1, 2.5], [0.1, -3]]) @ Z",
    ),
    ("scalar constant", lambda: ex.constant(2.5), "2.5"),
    ("vector chain as an operand", lambda: B @ (v @ A), "B @ A.T @ v"),
    ("vector chains joined", lambda: u @ (v @ A), "v @ A @ u"),
]


@pytest.mark.parametrize(
    ("build", "expected"), [c[1:] for c in TEXT_CASES], ids=[c[0] for c in TEXT_CASES]
)
def test_text(build: Callable[[], Expr], expected: str) -> None:
    e = build()
    assert to_text(e) == expected
    assert str(e) == expected


def test_text_of_derivatives() -> None:
    from matgrad.calculus.diff import derivative

    f = ops.trace(X.T @ A @ X)
    g = derivative(f, X)
    assert to_text(g) == "(A + A.T) @ X"
    assert to_text(g, display=False) == "A @ X + A.T @ X"
    # A[i,k] δ[j,l] + A[k,i] δ[j,l]; the identity alone in an einsum keeps its size
    assert to_text(derivative(g, X), display=False) == (
        'einsum("ik,jl->ijkl", A, eye(3)) + einsum("ki,jl->ijkl", A, eye(3))'
    )
    assert to_text(derivative(x @ A @ x, x)) == "(A + A.T) @ x"
    assert to_text(derivative(ops.logdet(X), X)) == "inv(X).T"
    assert to_text(derivative(a @ X @ b, X)) == "outer(a, b)"


def test_ones_in_a_sum_print_as_the_scalar_one() -> None:
    """By hand: tanh' = 1 - tanh², and d(W x + b)/db = I, so the gradient of
    Σ tanh(W x + b) with respect to b is 1 - tanh(W x + b)² (entry by entry), and the
    Jacobian of tanh(W x + b) is diag of it.  The all-ones vector of the derivative
    prints as 1 where another term of the sum shows the shape, as ones(4) alone."""
    from matgrad.calculus.diff import derivative

    W, b4 = Matrix("W", (4, 3)), Vector("b", 4)
    h = ops.tanh(W @ x + b4)
    g = derivative(ops.sum(h), b4)
    assert to_text(g) == "1 - tanh(W @ x + b) ** 2"
    assert to_latex(g) == r"1 - \tanh\left(W x + b\right)^{\circ 2}"
    assert to_text(derivative(h, b4)) == "diag(1 - tanh(W @ x + b) ** 2)"
    assert to_latex(-ex.ones((3, 3)) - X) == "-X - 1"
    assert to_text(ex.ones((4,))) == "ones(4)"
    rng = np.random.default_rng(5)
    env = {
        "W": rng.standard_normal((4, 3)),
        "x": rng.standard_normal(3),
        "b": rng.standard_normal(4),
    }
    expected = 1 - np.tanh(env["W"] @ env["x"] + env["b"]) ** 2
    np.testing.assert_allclose(g.evaluate(**env), expected, rtol=1e-12)
    text_value = eval(to_text(g), {"tanh": np.tanh, **env})
    np.testing.assert_allclose(text_value, expected, rtol=1e-12)


def test_text_is_independent_of_construction_history() -> None:
    """Node ids order operands and terms in the IR; printing must not depend on them."""
    p, q = Matrix("P", (3, 3)), Matrix("Q", (3, 3))
    first = to_text(q.T @ p + p @ q)
    assert first == to_text(p @ q + q.T @ p) == "P @ Q + Q.T @ P"


# =====================================================================================
# LaTeX
# =====================================================================================

LATEX_CASES: list[tuple[Callable[[], Expr], str]] = [
    (lambda: x @ A @ x, r"x^{\top} A x"),
    (lambda: ops.trace(X.T @ A @ X), r"\operatorname{tr}\left(X^{\top} A X\right)"),
    (
        lambda: E([A, X], [(0, 2), (2, 1)], (0, 1)) + E([A, X], [(2, 0), (2, 1)], (0, 1)),
        r"\left(A + A^{\top}\right) X",
    ),
    (lambda: ops.inv(X).T @ A, r"X^{-\top} A"),
    (lambda: ops.inv(A @ B), r"\left(A B\right)^{-1}"),
    (lambda: ops.det(X), r"\det(X)"),
    (lambda: ops.logdet(X), r"\log\lvert\det X\rvert"),
    (lambda: ops.logdet(A @ B), r"\log\lvert\det \left(A B\right)\rvert"),
    (lambda: ops.adj(X), r"\operatorname{adj}(X)"),
    (lambda: E([X, Y], [(0, 1), (0, 1)], (0, 1)), r"X \odot Y"),
    (lambda: ops.kron(A, B), r"A \otimes B"),
    (lambda: ops.outer(u, v), r"u v^{\top}"),
    (lambda: ops.sum(X), r"\mathbf{1}^{\top} X \mathbf{1}"),
    (lambda: ops.sum(X, axis=1), r"X \mathbf{1}"),
    (lambda: ex.ones((3,)), r"\mathbf{1}"),
    (lambda: X + I3, r"I + X"),
    (lambda: ops.diag(v) @ X, r"\operatorname{diag}(v) X"),
    (lambda: E([I3, R], [(0, 2), (1, 3)], (0, 1, 2, 3)), r"\left[\delta_{ik} R_{jl}\right]_{ijkl}"),
    (
        lambda: E([Tensor("T", (3, 3, 3)), v], [(0, 1, 3), (3,)], (0, 1)),
        r"\left[\sum_{k} T_{ijk} v_{k}\right]_{ij}",
    ),
    (lambda: Matrix("A0", (3, 3)) @ Matrix("W_out", (3, 3)), r"A_{0} W_{\mathrm{out}}"),
    (lambda: X / 3 - 2 * Y, r"\frac{1}{3} X - 2 Y"),
    (lambda: X**2, r"X^{\circ 2}"),
    (lambda: s**2, r"s^{2}"),
    (lambda: s / ops.trace(X), r"\frac{s}{\operatorname{tr}(X)}"),
    (lambda: ops.sqrt(s) + ops.abs(t), r"\lvert t \rvert + \sqrt{s}"),
    (lambda: ops.sigmoid(x), r"\sigma(x)"),
    (
        lambda: ex.constant([[1.0, 2.0], [3.0, 4.0]]) @ Matrix("Z", (2, 2)),
        r"\begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix} Z",
    ),
    (lambda: 1e-8 * X, r"10^{-8} X"),
    (lambda: x @ A, r"A^{\top} x"),
    (lambda: B @ (v @ A), r"B A^{\top} v"),
    (lambda: ops.outer(u, v @ A), r"u v^{\top} A"),
    (lambda: ops.tanh(v @ A) + u, r"\tanh\left(A^{\top} v\right) + u"),
    (lambda: ops.sum(X, axis=0), r"X^{\top} \mathbf{1}"),
]


@pytest.mark.parametrize(("build", "expected"), LATEX_CASES)
def test_latex(build: Callable[[], Expr], expected: str) -> None:
    e = build()
    assert to_latex(e) == expected
    assert e.latex() == expected
    assert e._repr_latex_() == f"${expected}$"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("A", "A"),
        ("A0", "A_{0}"),
        ("W12", "W_{12}"),
        ("x_1", "x_{1}"),
        ("x_hat", r"x_{\mathrm{hat}}"),
        ("sigma", r"\sigma"),
        ("Sigma_2", r"\Sigma_{2}"),
        ("loss", r"\mathrm{loss}"),
        ("a{b}", r"\mathrm{a\{b\}}"),
        ("_x", r"\mathrm{\_x}"),
    ],
)
def test_latex_names(name: str, expected: str) -> None:
    assert latex_name(name) == expected


# =====================================================================================
# Index notation
# =====================================================================================

INDEX_CASES: list[tuple[Callable[[], Expr], str]] = [
    (
        lambda: E([A, X], [(0, 2), (2, 1)], (0, 1)) + E([A, X], [(2, 0), (2, 1)], (0, 1)),
        "out[i,j] = A[i,k] X[k,j] + A[k,i] X[k,j]",
    ),
    (lambda: x @ A @ x, "out = x[i] A[i,j] x[j]"),
    (lambda: ops.trace(X.T @ A @ X), "out = A[i,j] X[j,k] X[i,k]"),
    (lambda: (A @ B) @ C, "out[i,j] = A[i,k] B[k,l] C[l,j]"),
    (lambda: E([I3, R], [(0, 2), (1, 3)], (0, 1, 2, 3)), "out[i,j,k,l] = δ[i,k] R[j,l]"),
    (lambda: ops.sum(X), "out = X[i,j]"),
    (lambda: ops.diag(v), "out[i,j] = v[i] δ[i,j]"),
    (lambda: (A + B) @ C, "out[i,j] = (A[i,k] + B[i,k]) C[k,j]"),
    (lambda: ops.tanh(A @ x) * 2, "out[i] = 2 tanh(A[i,j] x[j])"),
    (lambda: ops.inv(A @ B) @ x, "out[i] = inv(A @ B)[i,j] x[j]"),
    (lambda: s * X - Y, "out[i,j] = s X[i,j] - Y[i,j]"),
    (lambda: X**2, "out[i,j] = X[i,j]**2"),
    (lambda: ops.logdet(X), "out = logdet(X)"),
]


@pytest.mark.parametrize(("build", "expected"), INDEX_CASES)
def test_index_notation(build: Callable[[], Expr], expected: str) -> None:
    e = build()
    assert to_index_notation(e) == expected
    assert e.einsum() == expected


def test_index_letters() -> None:
    assert index_letters(3) == ["i", "j", "k"]
    letters = index_letters(60)
    assert len(set(letters)) == 60
    assert letters[51] == "H" and letters[52] == "i1"


# =====================================================================================
# NumPy source
# =====================================================================================


def adjugate(m: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Cofactor definition, independent of the printer's SVD formula."""
    n = m.shape[0]
    out = np.empty_like(m)
    for i, j in itertools.product(range(n), repeat=2):
        minor = np.delete(np.delete(m, i, axis=0), j, axis=1)
        out[j, i] = (-1) ** (i + j) * (np.linalg.det(minor) if n > 1 else 1.0)
    return out


def test_numpy_source_shape() -> None:
    src = to_numpy(ops.trace(X.T @ A @ X), name="quad")
    assert src.startswith("import numpy as np\n\n\ndef quad(A, X):\n")
    assert "eval" not in src and "exec" not in src
    assert (A @ X).to_numpy("quad") == to_numpy(A @ X, name="quad")


def test_numpy_shared_nodes_computed_once() -> None:
    m = X @ X
    e = m + m.T @ m
    src = to_numpy(e)
    assert src.count('np.einsum("ik,kj->ij", X, X)') == 1


@pytest.mark.parametrize(
    ("build", "reference"),
    [
        (lambda: ops.trace(X.T @ A @ X), lambda X, A: np.trace(X.T @ A @ X)),
        (lambda: ops.kron(A, X), lambda X, A: np.kron(A, X)),
        (lambda: ops.inv(X) @ A, lambda X, A: np.linalg.inv(X) @ A),
        (
            lambda: ops.det(X) + ops.logdet(A),
            lambda X, A: np.linalg.det(X) + np.linalg.slogdet(A)[1],
        ),
        (lambda: ops.adj(X), lambda X, A: adjugate(X)),
        (lambda: ops.sigmoid(X) - A**-1.5, lambda X, A: 1 / (1 + np.exp(-X)) - A**-1.5),
        (
            lambda: E([I3, X], [(0, 2), (1, 3)], (0, 1, 2, 3)),
            lambda X, A: np.einsum("ik,jl->ijkl", np.eye(3), X),
        ),
        (lambda: ops.reshape(X + A, (9,)), lambda X, A: (X + A).reshape(9)),
        (lambda: (X + 1.0) / 3 - (2 + 1j) * A, lambda X, A: (X + 1) / 3 - (2 + 1j) * A),
    ],
)
def test_numpy_matches_numpy(build: Callable[[], Expr], reference: Callable[..., Any]) -> None:
    rng = np.random.default_rng(0)
    X0, A0 = rng.standard_normal((3, 3)) + 3 * np.eye(3), np.abs(rng.standard_normal((3, 3))) + 0.5
    e = build()
    values = {"X": X0, "A": A0}
    got = run_numpy(e, **{sym.name: values[sym.name] for sym in e.symbols()})
    np.testing.assert_allclose(got, reference(X0, A0), rtol=1e-12, atol=1e-12)


def test_numpy_adjugate_of_singular_and_small_matrices() -> None:
    singular = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
    np.testing.assert_allclose(run_numpy(ops.adj(X), X=singular), adjugate(singular), atol=1e-12)
    z = Matrix("z", (1, 1))
    np.testing.assert_array_equal(run_numpy(ops.adj(z), z=np.array([[5.0]])), [[1.0]])
    w = Matrix("w", (2, 2))
    w0 = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(run_numpy(ops.adj(w), w=w0), [[4.0, -2.0], [-3.0, 1.0]])


def test_numpy_constants_are_exact() -> None:
    values = np.array([0.1, 1 / 3, -0.0, np.pi, 1e-300, np.inf, -np.inf, np.nan])
    got = run_numpy(ex.constant(values))
    np.testing.assert_array_equal(got, values)
    assert np.signbit(got[2])
    cvalues = np.array([1 / 3 + 0.1j, -0.0 - 2j])
    np.testing.assert_array_equal(run_numpy(ex.constant(cvalues)), cvalues)
    big = np.random.default_rng(1).standard_normal((20, 20))
    np.testing.assert_array_equal(run_numpy(ex.constant(big)), big)


def test_numpy_keeps_float32() -> None:
    X32 = Matrix("X32", (2, 2), dtype=np.float32)
    e = ops.tanh(X32 @ X32) * 0.5 + ops.sigmoid(X32)
    got = run_numpy(e, X32=np.ones((2, 2), dtype=np.float32))
    assert got.dtype == np.float32


def test_numpy_parameter_names() -> None:
    odd = Matrix("x'", (2, 2))
    kw = Matrix("lambda", (2, 2))
    np_ = Matrix("np", (2, 2))
    src = to_numpy(odd + kw + np_)
    assert "def f(lambda_, np_, x_):" in src
    namespace: dict[str, Any] = {}
    exec(src, namespace)
    got = namespace["f"](np.ones((2, 2)), np.ones((2, 2)), 2 * np.ones((2, 2)))
    np.testing.assert_array_equal(got, 4 * np.ones((2, 2)))
    t0 = Matrix("t0", (2, 2))
    assert run_numpy(t0 @ t0 + t0, t0=np.eye(2)).tolist() == [[2.0, 0.0], [0.0, 2.0]]


def test_numpy_rejects_bad_function_names() -> None:
    for bad in ("1f", "def", "f-g", ""):
        with pytest.raises(InvalidArgumentError):
            to_numpy(X, name=bad)


def test_numpy_of_a_leaf() -> None:
    assert run_numpy(X, X=np.eye(3)).tolist() == np.eye(3).tolist()
    assert run_numpy(ex.zeros((2,))).tolist() == [0.0, 0.0]
    assert run_numpy(I3).tolist() == np.eye(3).tolist()


# =====================================================================================
# Large and deep DAGs
# =====================================================================================


def test_shared_subexpressions_get_names() -> None:
    m: Expr = X
    for _ in range(30):  # text of the tree: 2^30 leaves
        m = m @ m + A
    start = time.perf_counter()
    text, latex, index, src = to_text(m), to_latex(m), to_index_notation(m), to_numpy(m)
    assert time.perf_counter() - start < 5
    assert "\nwhere\n" in text and len(text) < 20_000
    assert r"\text{where }" in latex and latex.count("{") == latex.count("}")
    assert len(index) < 20_000 and index.startswith("out[i,j] = ")
    assert src.count("np.einsum") == 30
    two = X @ X + A
    # used twice and more than one operation deep: named, even when short (issue 13)
    assert to_text(two @ two + A) == "A + r @ r\nwhere\n    r = A + X @ X"
    assert to_latex(two @ two + A) == r"A + r r,\quad \text{where } r = A + X X"
    assert to_index_notation(two @ two + A) == (
        "out[i,j] = A[i,j] + r[i,k] r[k,j]\nr[i,j] = A[i,j] + X[i,k] X[k,j]"
    )
    # one operation on leaves, short: repeated
    assert to_text(ops.inv(X) @ A @ ops.inv(X)) == "inv(X) @ A @ inv(X)"


def test_deep_expressions() -> None:
    e: Expr = x
    for k in range(400):
        e = ops.tanh(A @ e) if k % 2 else e + b
    for printer in (to_text, to_latex, to_index_notation, to_numpy):
        assert printer(e)
    rng = np.random.default_rng(2)
    A0, b0, x0 = rng.standard_normal((3, 3)) / 3, rng.standard_normal(3), rng.standard_normal(3)
    expected = x0
    for k in range(400):
        expected = np.tanh(A0 @ expected) if k % 2 else expected + b0
    np.testing.assert_allclose(run_numpy(e, A=A0, b=b0, x=x0), expected, rtol=1e-12)


# =====================================================================================
# Random expressions built from the ops, with plain-NumPy reference values
# =====================================================================================

SYMBOLS = {
    "A": A,
    "B": B,
    "S": S,
    "x": x,
    "v": v,
    "s": s,
    "t": t,
}
Pair = tuple[Expr, Callable[[dict[str, Any]], Any]]


def _values(seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    sym = rng.standard_normal((3, 3))
    return {
        "A": rng.standard_normal((3, 3)),
        "B": rng.standard_normal((3, 3)),
        "S": sym + sym.T,
        "x": rng.standard_normal(3),
        "v": rng.standard_normal(3),
        "s": rng.standard_normal(),
        "t": rng.standard_normal(),
    }


def _leaf(kind: str, draw: Callable[..., Any]) -> Pair:
    const_m = np.array([[0.5, -1.0, 2.0], [0.25, 3.0, -0.125], [1.0, 0.0, 1.5]])
    const_v = np.array([0.1, -0.2, 0.3])
    if kind == "m":
        options: list[Pair] = [
            (A, lambda env: env["A"]),
            (B, lambda env: env["B"]),
            (S, lambda env: env["S"]),
            (ex.constant(const_m), lambda env: const_m),
            (I3, lambda env: np.eye(3)),
            (ex.ones((3, 3)), lambda env: np.ones((3, 3))),
            (ex.zeros((3, 3)), lambda env: np.zeros((3, 3))),
        ]
    elif kind == "v":
        options = [
            (x, lambda env: env["x"]),
            (v, lambda env: env["v"]),
            (ex.constant(const_v), lambda env: const_v),
            (ex.ones((3,)), lambda env: np.ones(3)),
        ]
    else:
        options = [
            (s, lambda env: env["s"]),
            (t, lambda env: env["t"]),
            (ex.constant(1.5), lambda env: 1.5),
        ]
    return draw(st.sampled_from(options))  # type: ignore[no-any-return]


def _spd(m: Expr) -> Expr:
    """``M @ M.T + I``: positive definite, so inv and logdet are well defined."""
    return m @ m.T + I3


def _spd_np(m: Any) -> Any:
    return m @ m.T + np.eye(3)


# (result kind, operand kinds, the expression from operands, the same in plain NumPy)
OPERATIONS: list[tuple[str, str, Callable[..., Expr], Callable[..., Any]]] = [
    ("m", "m", lambda p: p.T, lambda p: p.T),
    ("m", "mm", lambda p, q: p @ q, lambda p, q: p @ q),
    ("m", "mm", lambda p, q: p + q, lambda p, q: p + q),
    ("m", "mm", lambda p, q: p - 2 * q, lambda p, q: p - 2 * q),
    ("m", "mm", lambda p, q: p * q, lambda p, q: p * q),
    ("m", "vv", ops.outer, np.outer),
    ("m", "v", ops.diag, np.diag),
    ("m", "sm", lambda p, q: p * q, lambda p, q: p * q),
    ("m", "m", lambda p: ops.inv(_spd(p)), lambda p: np.linalg.inv(_spd_np(p))),
    ("m", "m", ops.adj, adjugate),
    ("m", "m", ops.tanh, np.tanh),
    ("m", "m", lambda p: ops.sin(p) + ops.cos(p), lambda p: np.sin(p) + np.cos(p)),
    ("m", "m", ops.sigmoid, lambda p: 1 / (1 + np.exp(-p))),
    ("m", "m", lambda p: ops.exp(ops.tanh(p)), lambda p: np.exp(np.tanh(p))),
    ("m", "m", lambda p: ops.log(p * p + 1), lambda p: np.log(p**2 + 1)),
    ("m", "m", lambda p: ops.sqrt(ops.abs(p)) ** 3, lambda p: np.sqrt(np.abs(p)) ** 3),
    ("m", "m", lambda p: ops.sign(p) * p**2, lambda p: np.sign(p) * p**2),
    ("m", "m", lambda p: (p * p + 1) ** -0.5, lambda p: (p**2 + 1) ** -0.5),
    ("m", "mv", lambda p, q: p + q, lambda p, q: p + q),
    ("m", "ms", lambda p, q: p / (q * q + 1), lambda p, q: p / (q**2 + 1)),
    ("m", "mm", lambda p, q: ops.einsum("ij,kj->ki", p, q), lambda p, q: q @ p.T),
    ("m", "mm", lambda p, q: ops.einsum("ij,ji->ij", p, q), lambda p, q: p * q.T),
    (
        "m",
        "mvm",
        lambda p, q, r: ops.einsum("ij,k,jk->ik", p, q, r),
        lambda p, q, r: p @ r @ np.diag(q),
    ),
    (
        "m",
        "mv",
        lambda p, q: ops.einsum("ijk,kl->il", ops.einsum("ij,k->ijk", p, q), p),
        lambda p, q: np.einsum("ij,k,kl->il", p, q, p),
    ),
    (
        "m",
        "mm",
        lambda p, q: ops.einsum("ijkl,kl->ij", ops.einsum("ik,jl->ijkl", p, I3), q),
        lambda p, q: p @ q,
    ),
    ("m", "m", lambda p: ops.matrix_power(p, 2), lambda p: p @ p),
    ("m", "m", lambda p: -p / 4, lambda p: -p / 4),
    ("v", "mv", lambda p, q: p @ q, lambda p, q: p @ q),
    ("v", "mv", lambda p, q: q @ p, lambda p, q: q @ p),
    ("v", "m", ops.diag, lambda p: np.diag(p).copy()),
    ("v", "m", lambda p: ops.sum(p, axis=0), lambda p: p.sum(axis=0)),
    ("v", "m", lambda p: ops.sum(p, axis=1), lambda p: p.sum(axis=1)),
    ("v", "vv", lambda p, q: p * q, lambda p, q: p * q),
    ("v", "vs", lambda p, q: p - q, lambda p, q: p - q),
    ("v", "v", ops.tanh, np.tanh),
    ("v", "mv", lambda p, q: ops.solve(_spd(p), q), lambda p, q: np.linalg.solve(_spd_np(p), q)),
    ("v", "m", lambda p: ops.diag(p @ p.T), lambda p: np.diag(p @ p.T).copy()),
    ("s", "m", ops.trace, np.trace),
    ("s", "m", ops.det, np.linalg.det),
    ("s", "m", lambda p: ops.logdet(_spd(p)), lambda p: np.linalg.slogdet(_spd_np(p))[1]),
    ("s", "mv", lambda p, q: q @ p @ q, lambda p, q: q @ p @ q),
    ("s", "v", ops.sum, np.sum),
    ("s", "m", ops.norm, np.linalg.norm),
    ("s", "ss", lambda p, q: p * q - p, lambda p, q: p * q - p),
    ("s", "s", lambda p: ops.tanh(p) ** 2, lambda p: np.tanh(p) ** 2),
    ("s", "mm", lambda p, q: ops.trace(ops.kron(p, q)), lambda p, q: np.trace(np.kron(p, q))),
    (
        "s",
        "mm",
        lambda p, q: ops.reshape(p, (9,)) @ ops.reshape(q, (9,)),
        lambda p, q: p.reshape(9) @ q.reshape(9),
    ),
    ("s", "v", ops.mean, np.mean),
]


_OPAQUE = frozenset(("inv", "det", "logdet", "adj", "reshape"))
_PLACEHOLDER = {"m": A, "v": x, "s": s}
_PLAIN = [
    op
    for op in OPERATIONS
    if not any(n.kind in _OPAQUE for n in op[2](*(_PLACEHOLDER[k] for k in op[1])).walk())
]


@st.composite
def expressions(
    draw: Callable[..., Any], kind: str = "m", depth: int = 3, *, plain: bool = False
) -> Pair:
    """A random expression of kind ``m`` (3×3), ``v`` (3) or ``s`` (scalar), with
    a function computing its value from the symbols' values by plain NumPy.
    ``plain``: no matrix functions, reshapes or constant arrays (the nodes that
    index notation prints in matrix notation)."""
    if depth == 0 or draw(st.integers(0, 4)) == 0:
        e, f = _leaf(kind, draw)
        if plain and isinstance(e, ex.Constant) and e.shape:
            return _leaf_symbol(kind)
        return e, f
    choices = [op for op in (_PLAIN if plain else OPERATIONS) if op[0] == kind]
    _, kinds, build, reference = draw(st.sampled_from(choices))
    operands = [draw(expressions(k, depth - 1, plain=plain)) for k in kinds]
    e = build(*(o[0] for o in operands))
    fns = [o[1] for o in operands]
    return e, lambda env: reference(*(f(env) for f in fns))


def _leaf_symbol(kind: str) -> Pair:
    name = {"m": "A", "v": "x", "s": "s"}[kind]
    return SYMBOLS[name], lambda env: env[name]


def _finite(value: Any) -> bool:
    arr = np.asarray(value)
    return bool(np.all(np.isfinite(arr)) and np.all(np.abs(arr) < 1e6))


def _close(got: Any, expected: Any) -> bool:
    got, expected = np.asarray(got), np.asarray(expected)
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    return got.shape == expected.shape and bool(
        np.allclose(got, expected, rtol=1e-7, atol=1e-9 * scale)
    )


def _balanced(text: str) -> bool:
    depth = 0
    for k, ch in enumerate(text):
        if ch == "{" and (k == 0 or text[k - 1] != "\\"):
            depth += 1
        elif ch == "}" and (k == 0 or text[k - 1] != "\\"):
            depth -= 1
        if depth < 0:
            return False
    return depth == 0 and text.count(r"\left") == text.count(r"\right")


@given(st.sampled_from("msv"), st.data(), st.integers(0, 3))
def test_random_expressions(kind: str, data: st.DataObject, seed: int) -> None:
    e, reference = data.draw(expressions(kind))
    start = time.perf_counter()
    text = to_text(e)
    latex = to_latex(e)
    index = to_index_notation(e)
    src = to_numpy(e)
    assert time.perf_counter() - start < 2.0
    assert text and index.startswith("out")
    assert _balanced(latex), latex
    env = _values(seed)
    expected = reference(env)
    assume(_finite(expected))
    namespace: dict[str, Any] = {}
    exec(compile(src, "<to_numpy>", "exec"), namespace)
    params = [s.name for s in e.symbols()]
    got = namespace["f"](*(env[p] for p in params))
    assert _close(got, expected), (text, got, expected)


@given(st.data(), st.integers(0, 3))
def test_random_expressions_agree_with_compile(data: st.DataObject, seed: int) -> None:
    e, _ = data.draw(expressions("m"))
    env = _values(seed)
    bindings = {s.name: env[s.name] for s in e.symbols()}
    expected = e.evaluate(**bindings)
    assume(_finite(expected))
    got = run_numpy(e, **bindings)
    assert _close(got, expected), to_text(e)


@given(st.sampled_from("sm"), st.data(), st.integers(0, 3))
def test_printed_derivatives_mean_what_they_say(kind: str, data: st.DataObject, seed: int) -> None:
    """Derivatives are where 4-index einsums and surviving deltas live: the NumPy
    source, the text and the index notation of a Jacobian all have its value."""
    from matgrad.calculus.diff import derivative

    e, _ = data.draw(expressions(kind, depth=2))
    if not e.depends_on(A):
        e = e * (x @ A @ v)
    g = derivative(e, A)
    env = _values(seed)
    bindings = {s.name: env[s.name] for s in g.symbols()}
    expected = g.evaluate(**bindings)
    assume(_finite(expected))
    text = to_text(g)
    assert _close(run_numpy(g, **bindings), expected), text
    assert _balanced(to_latex(g))
    if all(n.shape == (3, 3) for n in g.walk() if isinstance(n, ex.Delta)):
        assert _close(np.asarray(_eval_text(text, env)), expected), text
    if not any(n.kind in _OPAQUE or isinstance(n, ex.Constant) and n.shape for n in g.walk()):
        index = to_index_notation(g)
        assert _close(_IndexEvaluator(index, env).document(), expected), index


# =====================================================================================
# Index notation means what it says: a small evaluator of the printed text
# =====================================================================================

_TOKEN = re.compile(r"\s*(\*\*|Σ|[A-Za-zδ_][A-Za-z0-9_']*|\d+\.?\d*(?:e[-+]?\d+)?|[\[\],()+\-=])")
_FUNCS: dict[str, Callable[[Any], Any]] = {
    "exp": np.exp,
    "log": np.log,
    "sin": np.sin,
    "cos": np.cos,
    "tanh": np.tanh,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "sign": np.sign,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
}


class _IndexEvaluator:
    """Evaluates ``out[i,j] = ...`` with the documented rule: in a product, an index
    that is not free is summed; a parenthesized sum or function argument is a
    scope whose free indices are those it shares with its surroundings.  All
    axes have size 3 (the test expressions' only size)."""

    def __init__(self, text: str, env: dict[str, Any]) -> None:
        self.tokens = _TOKEN.findall(text)
        assert "".join(self.tokens) == text.replace(" ", ""), text
        self.pos = 0
        self.env = env

    def peek(self) -> str:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> str:
        tok = self.tokens[self.pos]
        assert expected is None or tok == expected, (tok, expected, self.tokens)
        self.pos += 1
        return tok

    def letters(self) -> tuple[str, ...]:
        if self.peek() != "[":
            return ()
        self.take("[")
        out = [self.take()]
        while self.peek() == ",":
            self.take(",")
            out.append(self.take())
        self.take("]")
        return tuple(out)

    # ---- parsing into (kind, ...) tuples ------------------------------------------
    def document(self) -> Any:
        self.take("out")
        free = self.letters()
        self.take("=")
        tree = self.sum()
        assert self.pos == len(self.tokens), self.tokens[self.pos :]
        return self.eval_sum(tree, free)

    def sum(self) -> Any:
        terms = []
        sign = 1.0
        if self.peek() == "-":
            self.take()
            sign = -1.0
        terms.append((sign, self.term()))
        while self.peek() in ("+", "-"):
            sign = 1.0 if self.take() == "+" else -1.0
            terms.append((sign, self.term()))
        return ("sum", terms)

    def term(self) -> Any:
        coeff = 1.0
        factors: list[Any] = []
        while self.peek() not in ("", "+", "-", ")"):
            if self.peek() == "Σ":  # indices summed over this product, shown explicitly
                self.take()
                factors.append(("ones", self.letters(), 1.0))
                continue
            tok = self.peek()
            after = self.tokens[self.pos + 1 : self.pos + 2]
            if tok[0].isdigit() and not factors and coeff == 1.0 and after not in (["["], ["**"]):
                coeff = float(self.take())
                continue
            factors.append(self.factor())
        return ("term", coeff, factors)

    def factor(self) -> Any:
        tok = self.take()
        if tok == "(":
            node: Any = ("paren", self.sum())
            self.take(")")
        elif tok in _FUNCS and self.peek() == "(":
            self.take("(")
            node = ("call", tok, self.sum())
            self.take(")")
        elif tok == "δ":
            node = ("delta", self.letters())
        elif tok in ("0", "1") and self.peek() == "[":
            node = ("ones", self.letters(), float(tok))
        elif tok[0].isdigit():
            node = ("number", float(tok))
        else:
            node = ("symbol", tok, self.letters())
        if self.peek() == "**":
            self.take()
            negative = self.peek() == "-"
            if negative:
                self.take()
            node = ("power", node, (-1 if negative else 1) * float(self.take()))
        return node

    # ---- evaluation ---------------------------------------------------------------
    def all_letters(self, node: Any) -> set[str]:
        kind = node[0]
        if kind in ("delta", "ones"):
            return set(node[1])
        if kind == "symbol":
            return set(node[2])
        if kind == "number":
            return set()
        if kind in ("paren",):
            return self.all_letters(node[1])
        if kind == "call":
            return self.all_letters(node[2])
        if kind == "power":
            return self.all_letters(node[1])
        if kind == "sum":
            return set().union(*(self.all_letters(t) for _, t in node[1]))
        return set().union(*(self.all_letters(f) for f in node[2]))  # term

    def eval_sum(self, node: Any, free: tuple[str, ...]) -> Any:
        return sum(sign * self.eval_term(t, free) for sign, t in node[1])

    def eval_term(self, node: Any, free: tuple[str, ...]) -> Any:
        _, coeff, factors = node
        arrays, subs = [], []
        for k, f in enumerate(factors):
            others = set(free).union(
                *(self.all_letters(g) for j, g in enumerate(factors) if j != k)
            )
            exposed = tuple(sorted(self.all_letters(f) & others))
            value, labels = self.eval_factor(f, exposed)
            arrays.append(value)
            subs.append(labels)
        for c in free:  # a free index no factor carries: the term is constant along it
            if all(c not in labels for labels in subs):
                arrays.append(np.ones(3))
                subs.append((c,))
        if not arrays:
            return np.asarray(coeff)
        letters = sorted(set(free).union(*(set(labels) for labels in subs)))
        char = {name: chr(ord("a") + n) for n, name in enumerate(letters)}
        spec = ",".join("".join(char[c] for c in labels) for labels in subs)
        spec += "->" + "".join(char[c] for c in free)
        return coeff * np.einsum(spec, *arrays)

    def eval_factor(self, node: Any, exposed: tuple[str, ...]) -> tuple[Any, tuple[str, ...]]:
        kind = node[0]
        if kind == "number":
            return np.asarray(node[1]), ()
        if kind == "symbol":
            return np.asarray(self.env[node[1]]), node[2]
        if kind == "delta":
            return np.eye(3), node[1]
        if kind == "ones":
            return np.full((3,) * len(node[1]), node[2]), node[1]
        if kind == "paren":
            return self.eval_sum(node[1], exposed), exposed
        if kind == "call":
            return _FUNCS[node[1]](self.eval_sum(node[2], exposed)), exposed
        base, labels = self.eval_factor(node[1], exposed)
        return base ** node[2], labels


def test_index_notation_evaluator_on_known_cases() -> None:
    env = _values(0)
    got = _IndexEvaluator("out[i,j] = A[i,k] B[k,j] + A[k,i] B[k,j]", env).document()
    np.testing.assert_allclose(got, env["A"] @ env["B"] + env["A"].T @ env["B"])
    got = _IndexEvaluator("out = tanh(A[i,j] x[j]) x[i]", env).document()
    np.testing.assert_allclose(got, np.tanh(env["A"] @ env["x"]) @ env["x"])


@given(st.sampled_from("msv"), st.data(), st.integers(0, 3))
def test_index_notation_evaluates_to_the_expression(
    kind: str, data: st.DataObject, seed: int
) -> None:
    e, reference = data.draw(expressions(kind, plain=True))
    env = _values(seed)
    expected = reference(env)
    assume(_finite(expected))
    got = _IndexEvaluator(to_index_notation(e), env).document()
    assert _close(got, expected), (to_index_notation(e), to_text(e))


# =====================================================================================
# Matrix notation means what it says: the text, evaluated as NumPy
# =====================================================================================


class _KronArray(np.ndarray):  # type: ignore[type-arg]
    """``%`` is the Kronecker product, so that ``A ⊗ B`` can be evaluated as ``A % B``
    (``%`` binds like ``*`` and ``@``, as ``⊗`` does in the printed text)."""

    def __mod__(self, other: Any) -> Any:
        return np.kron(np.asarray(self), np.asarray(other)).view(_KronArray)


def _lifted(fn: Callable[..., Any]) -> Callable[..., Any]:
    return lambda *args, **kwargs: np.asarray(fn(*args, **kwargs)).view(_KronArray)


_TEXT_NAMESPACE: dict[str, Any] = {
    name: _lifted(fn)
    for name, fn in {
        "trace": np.trace,
        "diag": np.diag,
        "sum": np.sum,
        "outer": np.outer,
        "inv": np.linalg.inv,
        "det": np.linalg.det,
        "logdet": lambda m: np.linalg.slogdet(m)[1],
        "adj": adjugate,
        "reshape": np.reshape,
        "einsum": np.einsum,
        "ones": np.ones,
        "zeros": np.zeros,
        "eye": np.eye,
        "array": np.array,
        "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
        **{f: getattr(np, f) for f in ("exp", "log", "sin", "cos", "tanh", "sqrt", "abs", "sign")},
    }.items()
}


def _eval_text(text: str, env: dict[str, Any]) -> Any:
    namespace = dict(_TEXT_NAMESPACE)
    namespace.update({k: np.asarray(val).view(_KronArray) for k, val in env.items()})
    namespace["I"] = np.eye(3).view(_KronArray)
    source = text.replace("⊙", "*").replace("⊗", "%")
    main, _, block = source.partition("\nwhere\n")
    for line in block.splitlines():  # named subexpressions, in dependency order
        name, _, definition = line.strip().partition(" = ")
        namespace[name] = eval(compile(definition, "<text>", "eval"), namespace)
    return eval(compile(main, "<text>", "eval"), namespace)


@given(st.sampled_from("msv"), st.data(), st.integers(0, 3))
def test_text_evaluates_to_the_expression(kind: str, data: st.DataObject, seed: int) -> None:
    """Parentheses and precedence are right: the text, read as NumPy, has the value."""
    e, reference = data.draw(expressions(kind))
    assume(all(n.shape == (3, 3) for n in e.walk() if isinstance(n, ex.Delta)))
    env = _values(seed)
    expected = reference(env)
    assume(_finite(expected))
    text = to_text(e)
    assert _close(np.asarray(_eval_text(text, env)), expected), text


def test_einsum_with_more_indices_than_letters() -> None:
    ms = [Matrix(f"M{k}", (2, 2)) for k in range(60)]
    chain = E(ms, [(k, k + 1) for k in range(60)], (0, 60))
    assert to_text(chain).startswith("M0 @ M1 @ M2 @ ")
    rng = np.random.default_rng(3)
    values = {f"M{k}": 0.7 * rng.standard_normal((2, 2)) for k in range(60)}
    got = run_numpy(chain, **values)
    np.testing.assert_allclose(got, np.linalg.multi_dot([values[f"M{k}"] for k in range(60)]))
    vs = [Vector(f"v{k}", 2) for k in range(55)]
    wide = E(vs, [(k,) for k in range(55)], tuple(range(55)))
    assert to_text(wide).endswith("v53, v54)") and "i3" in to_index_notation(wide)
    assert _balanced(to_latex(wide))

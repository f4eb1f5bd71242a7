"""Bad input to the core (DESIGN.md section 4): every failure is loud, typed and named.

* shape mismatches fail when the expression is built (``ShapeError``), naming the
  shapes and the operation;
* differentiating with respect to a non-symbol, or with a bad order, is an
  ``InvalidArgumentError``;
* unsupported NumPy functions and ufunc methods are a ``TypeError``
  (``UnsupportedOperationError``) naming the function;
* bad bindings at evaluation are a ``BindingError`` naming the symbol;
* a singular matrix where the derivative does not exist raises
  ``numpy.linalg.LinAlgError``;
* expressions are immutable, hashable, hash-consed, and refuse ``bool()``.
"""

from __future__ import annotations

import copy
import pickle
import re

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import matgrad as mg
from matgrad.errors import (
    BindingError,
    InvalidArgumentError,
    MatgradError,
    ShapeError,
    UnsupportedOperationError,
)
from matgrad.ir.bindings import check_bindings
from matgrad.testing import strategies as mst

sides = st.integers(1, 5)


def shape_text(shape):
    return re.escape(str(tuple(shape)))


def both_shapes(op, a, b):
    """A regex: the operation's name, then both shapes (in either order)."""
    sa, sb = shape_text(a), shape_text(b)
    return rf"(?s){op}.*(({sa}.*{sb})|({sb}.*{sa}))"


# =====================================================================================
# Shapes, at build time
# =====================================================================================


@given(sides, sides, sides, sides)
def test_matmul_with_mismatched_inner_dimensions(m, k1, k2, n):
    assume(k1 != k2)
    A = mg.Matrix("A", (m, k1))
    B = mg.Matrix("B", (k2, n))
    pattern = both_shapes("matmul", (m, k1), (k2, n))
    with pytest.raises(ShapeError, match=pattern):
        A @ B
    with pytest.raises(ShapeError, match=pattern):
        np.matmul(A, B)
    with pytest.raises(ShapeError, match=pattern):
        mg.matmul(A, B)
    # a constant on either side is checked the same way
    with pytest.raises(ShapeError, match=pattern):
        np.ones((m, k1)) @ B
    with pytest.raises(ShapeError, match=pattern):
        A @ np.ones((k2, n))
    # matrix @ vector
    with pytest.raises(ShapeError, match=both_shapes("matmul", (m, k1), (k2,))):
        A @ mg.Vector("v", k2)


def test_shape_error_is_a_value_error_and_a_matgrad_error():
    with pytest.raises(ValueError) as info:
        mg.Matrix("A", (2, 3)) @ mg.Matrix("B", (2, 3))
    assert isinstance(info.value, MatgradError)
    assert isinstance(info.value, ShapeError)


@given(st.tuples(sides, sides), st.tuples(sides, sides))
def test_add_of_shapes_that_do_not_broadcast(sa, sb):
    # NumPy's broadcasting: two axes fit when equal or one of them is 1
    assume(any(a != b and 1 not in (a, b) for a, b in zip(sa, sb)))
    A = mg.Matrix("A", sa)
    B = mg.Matrix("B", sb)
    pattern = both_shapes("add", sa, sb)
    with pytest.raises(ShapeError, match=pattern):
        A + B
    with pytest.raises(ShapeError, match=pattern):
        np.add(A, B)
    with pytest.raises(ShapeError, match=pattern):
        A + np.zeros(sb)
    # subtraction reports itself as "add" (see the report): only the shapes are asserted
    with pytest.raises(ShapeError, match=both_shapes("", sa, sb)):
        A - B
    with pytest.raises(ShapeError, match=both_shapes("multiply", sa, sb)):
        A * B
    with pytest.raises(ShapeError, match=both_shapes("hadamard", sa, sb)):
        mg.hadamard(A, B)


def test_vector_plus_matrix_of_unbroadcastable_length():
    with pytest.raises(ShapeError, match=both_shapes("add", (2, 3), (4,))):
        mg.Matrix("A", (2, 3)) + mg.Vector("v", 4)


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("trace", mg.trace),
        ("inv", mg.inv),
        ("inv", np.linalg.inv),
        ("det", mg.det),
        ("det", np.linalg.det),
        ("logdet", mg.logdet),
        ("adj", mg.adj),
        ("matrix_power", lambda X: mg.matrix_power(X, 2)),
        ("solve", lambda X: mg.solve(X, np.ones(X.shape[0]))),
    ],
)
@given(m=sides, n=sides)
def test_square_only_operations_reject_non_square(name, build, m, n):
    assume(m != n)
    X = mg.Matrix("X", (m, n))
    with pytest.raises(ShapeError, match=rf"{name}.*{shape_text((m, n))}"):
        build(X)


@pytest.mark.parametrize("build", [mg.trace, mg.inv, mg.det, mg.logdet])
def test_square_only_operations_reject_vectors_and_scalars(build):
    for x in (mg.Vector("v", 3), mg.Scalar("s"), mg.Tensor("T", (2, 2, 2))):
        with pytest.raises(ShapeError, match=shape_text(x.shape)):
            build(x)


@given(sides, sides, sides)
def test_einsum_with_inconsistent_index_sizes(m, n, k):
    assume(n != k)
    A = mg.Matrix("A", (m, n))
    B = mg.Matrix("B", (k, m))
    # index j has size n in A and k in B
    for build in (mg.einsum, np.einsum):
        with pytest.raises(ShapeError, match=r"einsum.*'j'"):
            build("ij,ji->i", A, B)


def test_einsum_size_mismatch_names_both_shapes():
    A = mg.Matrix("A", (2, 3))
    B = mg.Matrix("B", (4, 2))
    with pytest.raises(ShapeError, match=both_shapes("einsum", (2, 3), (4, 2))):
        mg.einsum("ij,ji->i", A, B)


def test_einsum_operand_rank_and_count_mismatch():
    A = mg.Matrix("A", (2, 3))
    with pytest.raises(ShapeError, match=rf"einsum.*{shape_text((2, 3))}"):
        mg.einsum("ijk->i", A)
    with pytest.raises(InvalidArgumentError, match="einsum.*2 operands.*1"):
        mg.einsum("ij,jk->ik", A)


def test_symmetric_needs_a_square_matrix():
    with pytest.raises(ShapeError, match=rf"'S'.*{shape_text((2, 3))}"):
        mg.Matrix("S", (2, 3), symmetric=True)


# =====================================================================================
# derivative(): what to differentiate with respect to, and how often
# =====================================================================================


@pytest.fixture
def XX():
    X = mg.Matrix("X", (2, 2))
    return X, X @ X


@pytest.mark.parametrize(
    ("wrt", "named"),
    [
        (lambda X: X @ X, "einsum"),
        (lambda X: X.T, "einsum"),
        (lambda X: X + X, "add"),
        (lambda X: mg.constant(np.eye(2)), "constant"),
        (lambda X: np.eye(2), "ndarray"),
        (lambda X: "X", "str"),
        (lambda X: 1.0, "float"),
        (lambda X: None, "NoneType"),
    ],
)
def test_derivative_wrt_a_non_symbol(XX, wrt, named):
    X, f = XX
    with pytest.raises(InvalidArgumentError, match=rf"symbol.*{named}"):
        mg.derivative(f, wrt(X))


def test_derivative_of_a_non_expression():
    X = mg.Matrix("X", (2, 2))
    with pytest.raises(InvalidArgumentError, match="expression.*ndarray"):
        mg.derivative(np.eye(2), X)


@pytest.mark.parametrize("order", [-1, -3, 1.5, 2.0, "2", None, True, [1]])
def test_derivative_order_must_be_a_non_negative_int(XX, order):
    X, f = XX
    with pytest.raises(InvalidArgumentError, match=rf"order.*{re.escape(repr(order))}"):
        mg.derivative(f, X, order=order)


def test_derivative_order_zero_is_the_expression(XX):
    X, f = XX
    assert mg.derivative(f, X, order=0) is mg.simplify(f)


def test_derivative_accepts_numpy_integer_order(XX):
    X, f = XX
    assert mg.derivative(f, X, order=np.int64(2)).shape == (2, 2, 2, 2, 2, 2)


def test_derivative_unknown_mode(XX):
    X, f = XX
    with pytest.raises(InvalidArgumentError, match="mode.*'sideways'"):
        mg.derivative(f, X, mode="sideways")


# =====================================================================================
# Unsupported NumPy functions and ufunc methods
# =====================================================================================


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (np.fft.fft, r"numpy\.fft\.fft\b"),
        (np.fft.rfft, r"numpy\.fft\.rfft"),
        (np.nanmedian, r"numpy\.nanmedian"),
        (np.unique, r"numpy\.unique"),
        (np.nanmax, r"numpy\.nanmax"),
        (np.argmax, r"numpy\.argmax"),
        (lambda X: np.convolve(X[0], X[1]), r"numpy\.convolve"),
        (lambda X: np.fmod(X, 2.0), r"numpy\.fmod"),
    ],
)
def test_unsupported_numpy_function_is_a_type_error_naming_it(call, name):
    X = mg.Matrix("X", (3, 3))
    with pytest.raises(UnsupportedOperationError, match=name) as info:
        call(X)
    assert isinstance(info.value, TypeError)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda X: np.add.reduce(X), r"numpy\.add\.reduce"),
        (lambda X: np.add.accumulate(X), r"numpy\.add\.accumulate"),
        (lambda X: np.multiply.outer(X, X), r"numpy\.multiply\.outer"),
        (lambda X: np.exp(X, out=np.empty((3, 3))), r"numpy\.exp.*out"),
    ],
)
def test_unsupported_ufunc_method_or_keyword_is_a_type_error(call, name):
    X = mg.Matrix("X", (3, 3))
    with pytest.raises(TypeError, match=name) as info:
        call(X)
    assert isinstance(info.value, UnsupportedOperationError)


def test_supported_numpy_spellings_build_the_same_nodes():
    X = mg.Matrix("X", (3, 3))
    assert np.trace(X) is mg.trace(X)
    assert np.linalg.inv(X) is mg.inv(X)
    assert np.sin(X) is mg.sin(X)
    assert np.linalg.slogdet(X)[1] is mg.logdet(X)


def test_other_refusals_are_type_errors():
    X = mg.Matrix("X", (3, 3))
    with pytest.raises(TypeError, match="index that is a matgrad expression"):
        X[mg.Scalar("i")]
    with pytest.raises(TypeError, match="iteration over a scalar"):
        iter(mg.Scalar("s"))
    with pytest.raises(TypeError, match=r"evaluate"):
        np.asarray(X)
    with pytest.raises(TypeError, match="exponent"):
        mg.power(X, mg.Scalar("p"))
    with pytest.raises(TypeError, match="str"):
        X + "X"


# =====================================================================================
# Bindings at evaluation time
# =====================================================================================


@given(st.data())
def test_missing_binding_names_the_symbol(data):
    n = data.draw(sides)
    X = mg.Matrix("X", (n, n))
    A = mg.Matrix("A", (n, n))
    f = mg.trace(A @ X)
    A0 = data.draw(mst.matrices((n, n)))
    with pytest.raises(BindingError, match=r"missing.*\bX\b"):
        f.evaluate(A=A0)
    with pytest.raises(BindingError, match=r"missing.*\bA\b.*\bX\b"):
        f.evaluate()
    with pytest.raises(BindingError, match=r"missing.*\bX\b"):
        mg.derivative(f, A).evaluate()


@given(st.data())
def test_extra_binding_names_the_symbol(data):
    n = data.draw(sides)
    X = mg.Matrix("X", (n, n))
    X0 = data.draw(mst.matrices((n, n)))
    with pytest.raises(BindingError, match=r"unknown.*\bY\b"):
        mg.trace(X).evaluate(X=X0, Y=X0)
    # a derivative that no longer depends on X accepts a value for X (it was
    # derived from X), and still refuses a name that was never a symbol of it
    G = mg.derivative(mg.trace(X), X)
    np.testing.assert_array_equal(G.evaluate(X=X0), np.eye(n))
    with pytest.raises(BindingError, match=r"unknown.*\bY\b"):
        G.evaluate(X=X0, Y=X0)


@given(st.data())
def test_wrong_shaped_binding_names_the_symbol_and_both_shapes(data):
    shape = data.draw(st.tuples(sides, sides))
    wrong = data.draw(mst.shapes(min_dims=0, max_dims=3))
    assume(wrong != shape)
    X = mg.Matrix("X", shape)
    with pytest.raises(BindingError, match=rf"'X'.*{shape_text(wrong)}.*{shape_text(shape)}"):
        mg.sum(X).evaluate(X=np.zeros(wrong))


def test_non_numeric_binding():
    X = mg.Matrix("X", (2, 2))
    with pytest.raises(BindingError, match="'X'"):
        mg.trace(X).evaluate(X=np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(BindingError, match="'X'"):
        mg.trace(X).evaluate(X=[[1.0, 2.0], [3.0]])


@given(st.data())
def test_symmetric_symbol_bound_to_non_symmetric_value(data):
    n = data.draw(st.integers(2, 5))
    S = mg.Matrix("S", (n, n), symmetric=True)
    M = data.draw(mst.matrices((n, n), min_magnitude=0.1, max_magnitude=5.0))
    assume(not np.allclose(M, M.T))
    with pytest.raises(BindingError, match=r"'S'.*symmetric"):
        mg.trace(S @ S).evaluate(S=M)
    # a symmetric value is accepted
    np.testing.assert_allclose(mg.trace(S @ S).evaluate(S=M + M.T), np.trace((M + M.T) @ (M + M.T)))


def test_binding_error_is_a_value_error():
    X = mg.Matrix("X", (2, 2))
    with pytest.raises(ValueError):
        mg.trace(X).evaluate()


# =====================================================================================
# Singular matrices at evaluation time
# =====================================================================================
#
# Where the derivative does not exist (inv X, d log|det X| = X^{-T}) a singular X must
# raise numpy.linalg.LinAlgError, never return inf/nan or a huge garbage number.  The
# matrices below are *exactly* singular in floating point (a zero row or a zero
# column), so LU factorization meets an exact zero pivot and both the reference
# evaluator (np.linalg.inv) and the compiled one (np.linalg.solve) raise.
#
# What the evaluators do otherwise (observed, reported to the lead):
# * a matrix singular only in exact arithmetic, e.g. X = U @ V with U n x (n-1), is
#   generally *not* singular as a float matrix: np.linalg.inv / solve return entries
#   of size ~1e15-1e16 without any error or warning (no condition check).  The tests
#   do not assert anything there.
# * log|det X| itself (the value, not its gradient) is -inf at a singular X
#   (slogdet's documented value); asserted below as the documented behaviour.
# * the gradient of det X exists everywhere (adj(X)^T) and is finite at singular X:
#   tested in test_book_core.py.


@st.composite
def singular_matrices(draw):
    n = draw(st.integers(1, 5))
    X = draw(mst.invertible_matrices(n))
    k = draw(st.integers(0, n - 1))
    if draw(st.booleans()):
        X[k, :] = 0.0
    else:
        X[:, k] = 0.0
    return X


@given(singular_matrices())
def test_inverse_at_a_singular_matrix_raises_linalg_error(X0):
    n = X0.shape[0]
    X = mg.Matrix("X", (n, n))
    for f in (mg.inv(X), mg.inv(X) @ mg.Vector("b", n), mg.trace(mg.inv(X))):
        bindings = {"X": X0}
        if "b" in {s.name for s in f.symbols()}:
            bindings["b"] = np.ones(n)
        with pytest.raises(np.linalg.LinAlgError):
            f.evaluate(**bindings)


@given(singular_matrices())
def test_solve_at_a_singular_matrix_raises_linalg_error(X0):
    n = X0.shape[0]
    X = mg.Matrix("X", (n, n))
    b = mg.Vector("b", n)
    with pytest.raises(np.linalg.LinAlgError):
        mg.solve(X, b).evaluate(X=X0, b=np.ones(n))


@given(singular_matrices())
def test_gradient_of_logdet_at_a_singular_matrix_raises_linalg_error(X0):
    n = X0.shape[0]
    X = mg.Matrix("X", (n, n))
    G = mg.derivative(mg.logdet(X), X)
    with pytest.raises(np.linalg.LinAlgError):
        G.evaluate(X=X0)
    # second order too: d^2 log|det X| involves X^{-1} (x) X^{-1}
    H = mg.derivative(mg.logdet(X), X, order=2)
    with pytest.raises(np.linalg.LinAlgError):
        H.evaluate(X=X0)


@given(singular_matrices())
def test_logdet_value_at_a_singular_matrix_is_minus_infinity(X0):
    n = X0.shape[0]
    X = mg.Matrix("X", (n, n))
    with np.errstate(divide="ignore"):
        value = mg.logdet(X).evaluate(X=X0)
    assert value == -np.inf


# =====================================================================================
# Expressions are values: immutable, hashable, hash-consed
# =====================================================================================


def test_expressions_are_immutable():
    X = mg.Matrix("X", (2, 2))
    Y = mg.Matrix("Y", (2, 2))
    for node in (X, X @ Y, X + Y, mg.inv(X), mg.sin(X), mg.constant(np.eye(2))):
        with pytest.raises(AttributeError, match="immutable"):
            node.shape = (3, 3)
        with pytest.raises(AttributeError):
            node.new_attribute = 1
    with pytest.raises(AttributeError, match="immutable"):
        X.name = "Z"
    assert X.name == "X" and X.shape == (2, 2)


def test_expression_attributes_cannot_be_deleted():
    X = mg.Matrix("Xdel", (2, 2))
    with pytest.raises(AttributeError):
        del X.name


def test_constant_values_are_read_only_copies():
    A0 = np.eye(2)
    C = mg.constant(A0)
    A0[0, 0] = 5.0  # the caller's array is not shared
    assert C.value[0, 0] == 1.0
    with pytest.raises(ValueError, match="read-only"):
        C.value[0, 0] = 7.0


def test_expressions_are_hashable_and_usable_as_keys():
    X = mg.Matrix("X", (2, 2))
    Y = mg.Matrix("Y", (2, 2))
    f = mg.trace(X @ Y)
    table = {X: 1, f: 2}
    assert table[mg.trace(X @ Y)] == 2
    assert table[mg.Matrix("X", (2, 2))] == 1
    assert len({X @ Y, X @ Y, Y @ X}) == 2
    assert hash(X @ Y) == hash(X @ Y)


def test_equal_structures_are_the_same_object():
    assert mg.Matrix("X", (2, 2)) is mg.Matrix("X", (2, 2))
    X = mg.Matrix("X", (2, 2))
    Y = mg.Matrix("Y", (2, 2))
    assert (X @ Y) is (X @ Y)
    assert mg.trace(X.T @ Y) is mg.trace(X.T @ Y)
    assert mg.inv(X + Y) is mg.inv(X + Y)
    assert (X @ Y) is not (Y @ X)
    # a constant is identified by its content, not by the array object
    assert (np.eye(2) @ X) is (np.eye(2) @ X)
    assert mg.constant(np.arange(4.0)) is mg.constant(np.arange(4.0))


def test_symbols_differing_in_shape_or_flags_are_different():
    assert mg.Matrix("X", (2, 2)) is not mg.Matrix("X", (3, 3))
    assert mg.Matrix("X", (2, 2)) is not mg.Matrix("X", (2, 2), symmetric=True)
    assert mg.Matrix("X", (2, 2)) is not mg.Matrix("X", (2, 2), dtype=np.float32)


def test_equality_is_structural_identity_not_elementwise():
    X = mg.Matrix("X", (2, 2))
    assert (X == mg.Matrix("X", (2, 2))) is True
    assert (X == mg.Matrix("Y", (2, 2))) is False
    assert (X != mg.Matrix("Y", (2, 2))) is True


def test_bool_of_an_expression_raises_type_error():
    X = mg.Matrix("X", (2, 2))
    for node in (X, X @ X, mg.trace(X), mg.Scalar("s")):
        with pytest.raises(TypeError, match="truth value"):
            bool(node)
    with pytest.raises(TypeError, match="truth value"):
        if mg.trace(X):
            pass


def test_expressions_refuse_pickling_and_copy_to_themselves():
    X = mg.Matrix("X", (2, 2))
    f = X @ X
    with pytest.raises(TypeError, match="picklable"):
        pickle.dumps(f)
    assert copy.copy(f) is f
    assert copy.deepcopy(f) is f


@given(st.data())
def test_ndarray_operators_with_expressions_build_constants(data):
    m, n = data.draw(sides), data.draw(sides)
    A0 = data.draw(mst.matrices((m, m)))
    B0 = data.draw(mst.matrices((m, n)))
    X0 = data.draw(mst.matrices((m, n)))
    X = mg.Matrix("X", (m, n))
    left = A0 @ X  # ndarray.__matmul__ defers to the expression
    assert isinstance(left, mg.Expr) and left.shape == (m, n)
    assert "constant" in {node.kind for node in left.walk()}
    np.testing.assert_allclose(left.evaluate(X=X0), A0 @ X0, rtol=1e-12, atol=1e-12)
    for built, expected in (
        (B0 + X, B0 + X0),
        (B0 - X, B0 - X0),
        (B0 * X, B0 * X0),
        (X @ B0.T, X0 @ B0.T),
        (2.5 * X, 2.5 * X0),
        (np.float64(2.0) * X, 2.0 * X0),
    ):
        assert isinstance(built, mg.Expr)
        np.testing.assert_allclose(built.evaluate(X=X0), expected, rtol=1e-12, atol=1e-12)


def test_check_bindings_rejects_two_symbols_with_one_name():
    Z1 = mg.Matrix("Z", (2, 3))
    Z2 = mg.Matrix("Z", (3, 2))
    f = Z1 @ Z2
    for value in (np.ones((2, 3)), np.ones((3, 2))):
        with pytest.raises(MatgradError, match="'Z'"):
            check_bindings(f.symbols(), {"Z": value})


def test_two_symbols_with_one_name_cannot_be_evaluated():
    # Two different symbols named "Z" (shapes (2, 3) and (3, 2)) can be combined into
    # one expression; bindings are by name, so no value fits both: evaluation must
    # fail with a matgrad error naming "Z", whatever value is given.
    Z1 = mg.Matrix("Z", (2, 3))
    Z2 = mg.Matrix("Z", (3, 2))
    f = Z1 @ Z2
    for value in (np.ones((2, 3)), np.ones((3, 2))):
        with pytest.raises(MatgradError, match="'Z'"):
            f.evaluate(Z=value)

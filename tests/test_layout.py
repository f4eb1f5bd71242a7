"""matgrad.layout: the conventions (numerator layout, vec order) and their laws.

Every law is checked over hypothesis-drawn shapes and values.  Values are small
integers stored as floats wherever a sum is involved, so results are exact and
can be compared with ``np.array_equal`` regardless of summation order.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from matgrad.errors import InvalidArgumentError, MatgradError, ShapeError
from matgrad.layout import (
    ORDERS,
    chain,
    commutation_matrix,
    jacobian_matrix,
    jacobian_tensor,
    unvec,
    vec,
)

# --------------------------------------------------------------------------
# strategies

orders = st.sampled_from(ORDERS)
dtypes = st.sampled_from(
    [np.float64, np.float32, np.complex128, np.complex64, np.int64, np.int8, np.bool_]
)
sides = st.integers(min_value=1, max_value=4)


def shapes(max_dims: int = 3, min_side: int = 0, max_side: int = 3) -> st.SearchStrategy[Any]:
    return hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=min_side, max_side=max_side)


def int_valued(shape: tuple[int, ...]) -> st.SearchStrategy[Any]:
    """Float64 arrays of small integers: every sum of products is exact."""
    return hnp.arrays(np.int64, shape, elements=st.integers(-5, 5)).map(
        lambda a: a.astype(np.float64)
    )


@st.composite
def any_arrays(draw: st.DrawFn, max_dims: int = 4) -> Any:
    """Arrays of any supported dtype, with any values (NaN, inf, -0.0 included)."""
    return draw(hnp.arrays(draw(dtypes), draw(shapes(max_dims=max_dims))))


def assert_identical(a: Any, b: Any) -> None:
    """Same shape, same dtype, same bits: nothing was computed, only moved."""
    assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
    assert a.shape == b.shape
    assert a.dtype == b.dtype
    assert a.tobytes() == b.tobytes()
    if a.dtype.kind in "fc":
        assert np.array_equal(a, b, equal_nan=True)
    else:
        assert np.array_equal(a, b)


# --------------------------------------------------------------------------
# vec / unvec


@given(any_arrays())
def test_vec_matches_independent_numpy_spellings(M: Any) -> None:
    # column-major flattening = row-major flattening of the axis-reversed array
    assert_identical(vec(M), np.ascontiguousarray(M.T).ravel())
    assert_identical(vec(M, order="F"), vec(M))
    assert_identical(vec(M, order="C"), np.ascontiguousarray(M).ravel())


@given(st.data(), sides, sides)
def test_vec_of_matrix_stacks_columns(data: st.DataObject, m: int, n: int) -> None:
    M = data.draw(int_valued((m, n)))
    assert np.array_equal(vec(M), np.concatenate([M[:, j] for j in range(n)]))
    assert np.array_equal(vec(M, order="C"), np.concatenate([M[i, :] for i in range(m)]))


@given(dtypes, orders)
def test_vec_of_scalar_is_length_one(dtype: Any, order: Any) -> None:
    s = np.array(1, dtype=dtype)
    v = vec(s, order=order)
    assert v.shape == (1,)
    assert v.dtype == dtype
    assert unvec(v, (), order=order).shape == ()


def test_vec_accepts_array_likes() -> None:
    assert np.array_equal(vec([[1, 2], [3, 4]]), [1, 3, 2, 4])
    assert np.array_equal(vec(2.5), [2.5])


@given(any_arrays(), orders)
def test_unvec_inverts_vec_exactly(M: Any, order: Any) -> None:
    assert_identical(unvec(vec(M, order), M.shape, order), M)


@given(st.data(), orders)
def test_vec_inverts_unvec_exactly(data: st.DataObject, order: Any) -> None:
    shape = data.draw(shapes(max_dims=4))
    v = data.draw(hnp.arrays(data.draw(dtypes), (math.prod(shape),)))
    assert_identical(vec(unvec(v, shape, order), order), v)


@given(st.integers(0, 6), orders)
def test_unvec_accepts_an_int_shape(n: int, order: Any) -> None:
    v = np.arange(n)
    assert np.array_equal(unvec(v, n, order), v)


# --------------------------------------------------------------------------
# Jacobian matrix <-> Jacobian tensor


@st.composite
def jacobians(draw: st.DrawFn) -> tuple[Any, int]:
    """(J, out_ndim): any dtype, ranks 0..3 for output and input each."""
    out_shape = draw(shapes())
    in_shape = draw(shapes())
    J = draw(hnp.arrays(draw(dtypes), out_shape + in_shape))
    return J, len(out_shape)


@given(jacobians(), orders)
def test_jacobian_matrix_entry_convention(case: tuple[Any, int], order: Any) -> None:
    """Row = vec-position of the output index, column = vec-position of the input index."""
    J, k = case
    out_shape, in_shape = J.shape[:k], J.shape[k:]
    Jm = jacobian_matrix(J, k, order)
    assert Jm.shape == (math.prod(out_shape), math.prod(in_shape))
    assert Jm.dtype == J.dtype
    for index in np.ndindex(*J.shape):
        r = np.ravel_multi_index(index[:k], out_shape, order=order) if k else 0
        c = np.ravel_multi_index(index[k:], in_shape, order=order) if k < J.ndim else 0
        assert Jm[r, c].tobytes() == J[index].tobytes()


@given(jacobians(), orders)
def test_jacobian_tensor_inverts_jacobian_matrix_exactly(case: tuple[Any, int], order: Any) -> None:
    J, k = case
    Jm = jacobian_matrix(J, k, order)
    assert_identical(jacobian_tensor(Jm, J.shape[:k], J.shape[k:], order), J)
    assert_identical(
        jacobian_matrix(jacobian_tensor(Jm, J.shape[:k], J.shape[k:], order), k, order), Jm
    )


@given(st.data(), orders)
def test_jacobian_matrix_agrees_with_vec(data: st.DataObject, order: Any) -> None:
    """A scalar output gives the row vec(G); a scalar input gives the column vec(F')."""
    G = data.draw(any_arrays(max_dims=3))
    row = jacobian_matrix(G, 0, order)
    col = jacobian_matrix(G, G.ndim, order)
    assert row.shape == (1, G.size) and col.shape == (G.size, 1)
    assert_identical(row[0], vec(G, order))
    assert_identical(col[:, 0], vec(G, order))


@given(dtypes, orders)
def test_jacobian_matrix_of_scalar_by_scalar_is_one_by_one(dtype: Any, order: Any) -> None:
    J = np.array(3, dtype=dtype)
    Jm = jacobian_matrix(J, 0, order)
    assert Jm.shape == (1, 1) and Jm.dtype == dtype
    assert jacobian_tensor(Jm, (), (), order).shape == ()


# --------------------------------------------------------------------------
# chain rule = product of flattened Jacobians


@st.composite
def chain_cases(draw: st.DrawFn) -> tuple[Any, Any, int]:
    """J_outer (S_out + S_mid), J_inner (S_mid + S_in), each S of rank 0..3."""
    s_out, s_mid, s_in = draw(shapes()), draw(shapes()), draw(shapes())
    return draw(int_valued(s_out + s_mid)), draw(int_valued(s_mid + s_in)), len(s_mid)


@given(chain_cases(), orders)
def test_chain_is_product_of_flattened_jacobians(case: tuple[Any, Any, int], order: Any) -> None:
    Jo, Ji, k = case
    n_out = Jo.ndim - k
    J = chain(Jo, Ji, k)
    assert J.shape == Jo.shape[:n_out] + Ji.shape[k:]
    expected = jacobian_matrix(Jo, n_out, order) @ jacobian_matrix(Ji, k, order)
    assert np.array_equal(jacobian_matrix(J, n_out, order), expected)


@given(chain_cases())
def test_chain_agrees_with_tensordot(case: tuple[Any, Any, int]) -> None:
    Jo, Ji, k = case
    assert np.array_equal(chain(Jo, Ji, k), np.tensordot(Jo, Ji, axes=k))


@given(st.sampled_from([np.float32, np.complex64, np.complex128, np.float64]), chain_cases())
def test_chain_keeps_dtype(dtype: Any, case: tuple[Any, Any, int]) -> None:
    Jo, Ji, k = case
    assert chain(Jo.astype(dtype), Ji.astype(dtype), k).dtype == dtype


@st.composite
def mismatched_chain_cases(draw: st.DrawFn) -> tuple[Any, Any, int]:
    s_mid = draw(shapes(min_side=1))
    other = draw(shapes(min_side=1).filter(lambda s: len(s) == len(s_mid) and s != s_mid))
    Jo = np.zeros(draw(shapes(max_dims=2)) + s_mid)
    Ji = np.zeros(other + draw(shapes(max_dims=2)))
    return Jo, Ji, len(s_mid)


@given(mismatched_chain_cases())
def test_chain_rejects_mismatched_shared_axes(case: tuple[Any, Any, int]) -> None:
    Jo, Ji, k = case
    with pytest.raises(ShapeError, match="cannot chain") as info:
        chain(Jo, Ji, k)
    assert str(Jo.shape) in str(info.value) and str(Ji.shape) in str(info.value)


# --------------------------------------------------------------------------
# the linear map X -> A X B: Kronecker identity and a hand-built Jacobian


@st.composite
def axb(draw: st.DrawFn) -> tuple[Any, Any, Any]:
    """A (m, p), X (p, q), B (q, n), independent sizes (non-square in general)."""
    m, p, q, n = (draw(sides) for _ in range(4))
    return draw(int_valued((m, p))), draw(int_valued((p, q))), draw(int_valued((q, n)))


@given(axb())
def test_kronecker_identity_column_major(case: tuple[Any, Any, Any]) -> None:
    A, X, B = case
    assert np.array_equal(vec(A @ X @ B), np.kron(B.T, A) @ vec(X))


@given(axb())
def test_kronecker_identity_row_major(case: tuple[Any, Any, Any]) -> None:
    A, X, B = case
    assert np.array_equal(vec(A @ X @ B, order="C"), np.kron(A, B.T) @ vec(X, order="C"))


def axb_jacobian(A: Any, B: Any) -> Any:
    """d(A X B)/dX by hand: (AXB)[i, j] = sum_pq A[i, p] X[p, q] B[q, j],
    so J[i, j, p, q] = A[i, p] B[q, j]."""
    m, p = A.shape
    q, n = B.shape
    J = np.zeros((m, n, p, q))
    for i, j, r, s in np.ndindex(m, n, p, q):
        J[i, j, r, s] = A[i, r] * B[s, j]
    return J


@given(axb())
def test_jacobian_matrix_of_axb_is_the_kronecker_matrix(case: tuple[Any, Any, Any]) -> None:
    A, X, B = case
    J = axb_jacobian(A, B)
    # J really is the Jacobian: the map is linear, so contracting J with X gives AXB
    assert np.array_equal(np.tensordot(J, X, axes=2), A @ X @ B)
    assert np.array_equal(jacobian_matrix(J, 2, "F"), np.kron(B.T, A))
    assert np.array_equal(jacobian_matrix(J, 2, "C"), np.kron(A, B.T))


@given(axb(), st.data())
def test_chain_composes_linear_maps(case: tuple[Any, Any, Any], data: st.DataObject) -> None:
    """Y = A X B then Z = C Y D: dZ/dX is the Jacobian of X -> (CA) X (BD)."""
    A, _, B = case
    C = data.draw(int_valued((data.draw(sides), A.shape[0])))
    D = data.draw(int_valued((B.shape[1], data.draw(sides))))
    J = chain(axb_jacobian(C, D), axb_jacobian(A, B), 2)
    assert np.array_equal(J, axb_jacobian(C @ A, B @ D))


# --------------------------------------------------------------------------
# commutation matrix


@given(st.data(), st.integers(0, 5), st.integers(0, 5), orders)
def test_commutation_matrix_transposes_vec(data: st.DataObject, m: int, n: int, order: Any) -> None:
    A = data.draw(int_valued((m, n)))
    K = commutation_matrix(m, n, order)
    assert K.shape == (m * n, m * n)
    assert np.array_equal(K @ vec(A, order), vec(A.T, order))


@given(sides, sides, orders)
def test_commutation_matrix_non_square(m: int, n: int, order: Any) -> None:
    A = np.arange(m * (m + n)).reshape(m, m + n)
    K = commutation_matrix(m, m + n, order, dtype=np.int64)
    assert np.array_equal(K @ vec(A, order), vec(A.T, order))


@given(st.integers(0, 5), st.integers(0, 5), orders)
def test_commutation_matrix_is_a_permutation(m: int, n: int, order: Any) -> None:
    K = commutation_matrix(m, n, order)
    assert K.dtype == np.float64
    assert set(np.unique(K)) <= {0.0, 1.0}
    assert np.array_equal(K.sum(axis=0), np.ones(m * n))
    assert np.array_equal(K.sum(axis=1), np.ones(m * n))
    assert np.array_equal(K.T @ K, np.eye(m * n))
    assert np.array_equal(K.T, commutation_matrix(n, m, order))


@given(st.integers(0, 5), st.integers(0, 5))
def test_commutation_matrix_row_major_is_column_major_transposed(m: int, n: int) -> None:
    assert np.array_equal(commutation_matrix(m, n, "C"), commutation_matrix(n, m, "F"))


@given(st.integers(0, 4), st.integers(0, 4), orders)
def test_commutation_matrix_is_the_jacobian_of_transpose(m: int, n: int, order: Any) -> None:
    """d(Xᵀ)/dX[j, i, p, q] = [i == p][j == q], built by hand, flattens to K."""
    J = np.zeros((n, m, m, n))
    for j, i in np.ndindex(n, m):
        J[j, i, i, j] = 1.0
    assert np.array_equal(jacobian_matrix(J, 2, order), commutation_matrix(m, n, order))


@given(st.sampled_from([np.int64, np.float32, np.complex128, np.bool_]))
def test_commutation_matrix_dtype(dtype: Any) -> None:
    assert commutation_matrix(2, 3, dtype=dtype).dtype == dtype


# --------------------------------------------------------------------------
# bad input: named matgrad errors with messages saying what was expected

ORDER_MSG = r"order must be one of 'F', 'C'; got"
M23 = np.zeros((2, 3))
J234 = np.zeros((2, 3, 4))

BAD_CALLS: list[tuple[str, Any, type[Exception], str]] = [
    ("vec order", lambda: vec(M23, order="A"), InvalidArgumentError, ORDER_MSG + " 'A'"),
    ("vec lowercase order", lambda: vec(M23, order="f"), InvalidArgumentError, ORDER_MSG),
    ("vec order None", lambda: vec(M23, order=None), InvalidArgumentError, ORDER_MSG),
    ("vec order array", lambda: vec(M23, order=np.array(["F"])), InvalidArgumentError, ORDER_MSG),
    ("vec string", lambda: vec("abc"), InvalidArgumentError, "M must be a numeric array"),
    ("vec None", lambda: vec(None), InvalidArgumentError, "M must be a numeric array.*NoneType"),
    ("vec ragged", lambda: vec([[1, 2], [3]]), InvalidArgumentError, "M must be a numeric array"),
    ("vec object", lambda: vec({"a": 1}), InvalidArgumentError, "dtype object"),
    ("unvec order", lambda: unvec(np.zeros(6), (2, 3), "X"), InvalidArgumentError, ORDER_MSG),
    (
        "unvec size",
        lambda: unvec(np.zeros(6), (4, 2)),
        ShapeError,
        r"length 6 into shape \(4, 2\) \(8 entries\)",
    ),
    (
        "unvec 2-D",
        lambda: unvec(M23, (6,)),
        ShapeError,
        r"1-D vector; got an array of shape \(2, 3\)",
    ),
    ("unvec 0-D", lambda: unvec(np.float64(1.0), ()), ShapeError, "1-D vector"),
    (
        "unvec negative",
        lambda: unvec(np.zeros(6), (2, -3)),
        InvalidArgumentError,
        "shape must be a tuple of non-negative integers",
    ),
    (
        "unvec float dim",
        lambda: unvec(np.zeros(6), (2.0, 3)),
        InvalidArgumentError,
        "shape must be a tuple of non-negative integers",
    ),
    (
        "unvec str shape",
        lambda: unvec(np.zeros(6), "23"),
        InvalidArgumentError,
        "shape must be a tuple of non-negative integers; got str",
    ),
    (
        "unvec non-numeric",
        lambda: unvec(["a", "b"], (2,)),
        InvalidArgumentError,
        "v must be a numeric array",
    ),
    (
        "jm out_ndim too big",
        lambda: jacobian_matrix(J234, 4),
        ShapeError,
        r"out_ndim must be between 0 and 3 \(J has shape \(2, 3, 4\)\); got 4",
    ),
    (
        "jm out_ndim negative",
        lambda: jacobian_matrix(J234, -1),
        ShapeError,
        "out_ndim must be between 0 and 3",
    ),
    (
        "jm out_ndim float",
        lambda: jacobian_matrix(J234, 1.0),
        InvalidArgumentError,
        "out_ndim must be an integer; got float",
    ),
    (
        "jm out_ndim bool",
        lambda: jacobian_matrix(J234, True),
        InvalidArgumentError,
        "out_ndim must be an integer; got bool",
    ),
    (
        "jm scalar out_ndim 1",
        lambda: jacobian_matrix(np.float64(1.0), 1),
        ShapeError,
        r"between 0 and 0 \(J has shape \(\)\)",
    ),
    ("jm order", lambda: jacobian_matrix(J234, 1, order="K"), InvalidArgumentError, ORDER_MSG),
    (
        "jm non-numeric",
        lambda: jacobian_matrix("J", 0),
        InvalidArgumentError,
        "J must be a numeric array",
    ),
    (
        "jt wrong shape",
        lambda: jacobian_tensor(np.zeros((6, 4)), (2, 3), (5,)),
        ShapeError,
        r"out_shape \(2, 3\) and in_shape \(5,\) must have shape \(6, 5\); got \(6, 4\)",
    ),
    (
        "jt 1-D",
        lambda: jacobian_tensor(np.zeros(6), (2, 3), ()),
        ShapeError,
        r"must have shape \(6, 1\); got \(6,\)",
    ),
    (
        "jt bad out_shape",
        lambda: jacobian_tensor(np.zeros((1, 1)), None, ()),
        InvalidArgumentError,
        "out_shape must be a tuple of non-negative integers; got NoneType",
    ),
    (
        "jt bad in_shape",
        lambda: jacobian_tensor(np.zeros((1, 1)), (), (-1,)),
        InvalidArgumentError,
        "in_shape must be a tuple of non-negative integers",
    ),
    (
        "jt order",
        lambda: jacobian_tensor(np.zeros((1, 1)), (), (), "c"),
        InvalidArgumentError,
        ORDER_MSG,
    ),
    (
        "chain mismatch",
        lambda: chain(np.zeros((2, 3)), np.zeros((4, 5)), 1),
        ShapeError,
        r"J_outer of shape \(2, 3\) with J_inner of shape \(4, 5\).*\(3,\).*\(4,\)",
    ),
    (
        "chain inner_ndim too big",
        lambda: chain(np.zeros((2, 3)), np.zeros(3), 2),
        ShapeError,
        r"inner_ndim must be between 0 and 1 \(J_outer has shape \(2, 3\) and J_inner "
        + r"has shape \(3,\)\); got 2",
    ),
    (
        "chain inner_ndim negative",
        lambda: chain(M23, M23, -1),
        ShapeError,
        "inner_ndim must be between 0 and 2",
    ),
    (
        "chain inner_ndim str",
        lambda: chain(M23, M23, "1"),
        InvalidArgumentError,
        "inner_ndim must be an integer; got str",
    ),
    (
        "chain non-numeric",
        lambda: chain(M23, object(), 0),
        InvalidArgumentError,
        "J_inner must be a numeric array",
    ),
    (
        "K negative",
        lambda: commutation_matrix(-1, 2),
        InvalidArgumentError,
        "m must be a non-negative integer; got -1",
    ),
    (
        "K float",
        lambda: commutation_matrix(2, 2.5),
        InvalidArgumentError,
        "n must be an integer; got float",
    ),
    ("K order", lambda: commutation_matrix(2, 3, order="A"), InvalidArgumentError, ORDER_MSG),
]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [case[1:] for case in BAD_CALLS],
    ids=[case[0] for case in BAD_CALLS],
)
def test_bad_input_raises_named_error(call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("call", [case[1] for case in BAD_CALLS], ids=[c[0] for c in BAD_CALLS])
def test_errors_are_matgrad_and_value_errors(call: Any) -> None:
    with pytest.raises(MatgradError):
        call()
    with pytest.raises(ValueError):
        call()


@given(st.data(), orders)
def test_unvec_rejects_any_size_mismatch(data: st.DataObject, order: Any) -> None:
    shape = data.draw(shapes(max_dims=4))
    length = data.draw(st.integers(0, 100).filter(lambda n: n != math.prod(shape)))
    with pytest.raises(ShapeError, match=f"length {length} into shape"):
        unvec(np.zeros(length), shape, order)


@given(st.data())
def test_jacobian_tensor_rejects_any_size_mismatch(data: st.DataObject) -> None:
    out_shape, in_shape = data.draw(shapes()), data.draw(shapes())
    rows, cols = math.prod(out_shape), math.prod(in_shape)
    bad = data.draw(
        st.tuples(st.integers(0, 30), st.integers(0, 30)).filter(lambda s: s != (rows, cols))
    )
    with pytest.raises(ShapeError, match="must have shape"):
        jacobian_tensor(np.zeros(bad), out_shape, in_shape)

"""The layout conventions of matgrad, in one place (layer 1).

Every other module asks this one how tensors are flattened and how Jacobians
are laid out; nothing else hard-codes an axis order.

* **Numerator layout.**  The derivative of ``F`` (shape ``S_out``) with respect
  to ``X`` (shape ``S_in``) is a tensor of shape ``S_out + S_in`` with
  ``J[o..., i...] = dF[o...] / dX[i...]``.
* **vec.**  Flattening stacks columns (``order="F"``, column-major) by default;
  ``order="C"`` (row-major) is available wherever ``order`` appears.
* **Jacobian matrix.**  Flattening the output axes and the input axes of a
  Jacobian tensor, each in the same ``order``, gives the
  ``prod(S_out) x prod(S_in)`` Jacobian matrix; the chain rule on tensors
  (:func:`chain`) is the matrix product of the flattened Jacobians.

All functions here only move entries around: no arithmetic touches the values
(except the contraction in :func:`chain`), so round trips are exact and dtypes
pass through unchanged.  Like :func:`numpy.reshape`, the flattening functions
return a view of their input when the memory layout allows it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import opt_einsum

from matgrad._types import Array, ArrayLike, Order, Shape
from matgrad.errors import InvalidArgumentError, ShapeError

__all__ = [
    "ORDERS",
    "chain",
    "commutation_matrix",
    "jacobian_matrix",
    "jacobian_tensor",
    "unvec",
    "vec",
]

ORDERS: tuple[Order, ...] = ("F", "C")
"""The allowed values of every ``order`` argument."""

# dtype kinds that hold numbers: bool, signed/unsigned int, float, complex.
_NUMERIC_KINDS = frozenset("biufc")


# --------------------------------------------------------------------------
# argument checking


def _check_order(order: object) -> Order:
    """``order`` itself if it is ``"F"`` or ``"C"``, else an :class:`InvalidArgumentError`."""
    if isinstance(order, str):
        if order == "F":
            return "F"
        if order == "C":
            return "C"
    raise InvalidArgumentError(
        f"order must be one of {', '.join(repr(o) for o in ORDERS)}; got {order!r}"
    )


def _as_array(value: object, name: str) -> Array:
    """``value`` as a numeric ndarray, or an :class:`InvalidArgumentError`."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise InvalidArgumentError(
            f"{name} must be a numeric array; got {type(value).__name__} "
            f"that NumPy cannot convert ({exc})"
        ) from exc
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise InvalidArgumentError(
            f"{name} must be a numeric array (bool, integer, float or complex); "
            f"got {type(value).__name__} with dtype {array.dtype}"
        )
    return array


def _as_int(value: object, name: str) -> int:
    """A Python int (bools rejected), or an :class:`InvalidArgumentError`."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
        raise InvalidArgumentError(
            f"{name} must be an integer; got {type(value).__name__} {value!r}"
        )
    return int(value)


def _as_count(value: object, name: str) -> int:
    """A non-negative Python int, or an :class:`InvalidArgumentError`."""
    count = _as_int(value, name)
    if count < 0:
        raise InvalidArgumentError(f"{name} must be a non-negative integer; got {count}")
    return count


def _as_shape(value: object, name: str) -> Shape:
    """A shape tuple of non-negative ints (an int ``n`` means ``(n,)``)."""
    items: Sequence[object]
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        items = (value,)
    elif isinstance(value, (tuple, list)):
        items = value
    else:
        raise InvalidArgumentError(
            f"{name} must be a tuple of non-negative integers; got {type(value).__name__} {value!r}"
        )
    try:
        return tuple(_as_count(item, "each dimension") for item in items)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(
            f"{name} must be a tuple of non-negative integers; got {value!r}"
        ) from exc


def _check_rank(ndim: object, name: str, limit: int, what: str) -> int:
    """An int in ``[0, limit]``; ``what`` says where the limit comes from."""
    count = _as_int(ndim, name)
    if not 0 <= count <= limit:
        raise ShapeError(f"{name} must be between 0 and {limit} ({what}); got {count}")
    return count


# --------------------------------------------------------------------------
# vec / unvec


def vec(M: ArrayLike, order: Order = "F") -> Array:
    """Flatten ``M`` to a 1-D vector, stacking columns by default.

    With ``order="F"`` (column-major, the book's ``vec``) the first index varies
    fastest; with ``order="C"`` (row-major) the last one does.  A 0-d array
    gives a vector of length 1.  The dtype is kept.

    >>> import numpy as np
    >>> M = np.array([[1, 2, 3], [4, 5, 6]])
    >>> vec(M)
    array([1, 4, 2, 5, 3, 6])
    >>> vec(M, order="C")
    array([1, 2, 3, 4, 5, 6])
    >>> vec(np.float32(7.0))
    array([7.], dtype=float32)
    """
    checked = _check_order(order)
    array = _as_array(M, "M")
    return np.reshape(array, (array.size,), order=checked)


def unvec(v: ArrayLike, shape: Shape | int, order: Order = "F") -> Array:
    """Inverse of :func:`vec`: fold the 1-D vector ``v`` into an array of ``shape``.

    ``v`` must be 1-D with exactly ``prod(shape)`` entries; the result is
    filled in the same ``order`` as :func:`vec` reads, so
    ``unvec(vec(M, order), M.shape, order)`` equals ``M`` exactly.

    >>> import numpy as np
    >>> unvec(np.array([1, 4, 2, 5, 3, 6]), (2, 3))
    array([[1, 2, 3],
           [4, 5, 6]])
    >>> unvec(np.array([1, 2, 3, 4, 5, 6]), (2, 3), order="C")
    array([[1, 2, 3],
           [4, 5, 6]])
    >>> unvec(np.array([2.5]), ()).shape
    ()
    """
    checked = _check_order(order)
    array = _as_array(v, "v")
    target = _as_shape(shape, "shape")
    if array.ndim != 1:
        raise ShapeError(f"unvec expects a 1-D vector; got an array of shape {array.shape}")
    if array.size != math.prod(target):
        raise ShapeError(
            f"cannot unvec a vector of length {array.size} into shape {target} "
            f"({math.prod(target)} entries)"
        )
    return np.reshape(array, target, order=checked)


# --------------------------------------------------------------------------
# Jacobian tensor <-> Jacobian matrix


def jacobian_matrix(J: ArrayLike, out_ndim: int, order: Order = "F") -> Array:
    """Flatten a Jacobian tensor to its ``prod(S_out) x prod(S_in)`` matrix.

    ``J`` has shape ``S_out + S_in`` with ``len(S_out) == out_ndim``.  Entry
    ``[r, c]`` of the result is ``J[o..., i...]`` where ``r`` is the position of
    ``o`` in ``vec`` of an ``S_out`` array and ``c`` the position of ``i`` in
    ``vec`` of an ``S_in`` array, both in ``order``.  So the Jacobian matrix of
    ``vec(F)`` with respect to ``vec(X)`` is ``jacobian_matrix(dF/dX, F.ndim)``.
    A scalar output (``out_ndim=0``) gives one row; a scalar input one column.

    >>> import numpy as np
    >>> A = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> jacobian_matrix(A, 1)            # d(Ax)/dx = A is already a matrix
    array([[1., 2.],
           [3., 4.],
           [5., 6.]])
    >>> G = np.array([[1, 2], [3, 4]])   # gradient of a scalar wrt a 2x2 matrix
    >>> jacobian_matrix(G, 0)
    array([[1, 3, 2, 4]])
    >>> jacobian_matrix(G, 0, order="C")
    array([[1, 2, 3, 4]])
    >>> jacobian_matrix(np.zeros((2, 3, 4, 5)), 2).shape
    (6, 20)
    """
    checked = _check_order(order)
    array = _as_array(J, "J")
    k = _check_rank(out_ndim, "out_ndim", array.ndim, f"J has shape {array.shape}")
    rows = math.prod(array.shape[:k])
    cols = math.prod(array.shape[k:])
    # Reshaping S_out + S_in to (rows, cols) in one order flattens each group
    # in that order: the F (C) linear index of (o, i) is vec_F(o) + rows*vec_F(i)
    # (vec_C(o)*cols + vec_C(i)).
    return np.reshape(array, (rows, cols), order=checked)


def jacobian_tensor(
    Jm: ArrayLike, out_shape: Shape | int, in_shape: Shape | int, order: Order = "F"
) -> Array:
    """Inverse of :func:`jacobian_matrix`: unflatten a Jacobian matrix.

    ``Jm`` must be 2-D of shape ``(prod(out_shape), prod(in_shape))``; the
    result has shape ``out_shape + in_shape`` and
    ``jacobian_tensor(jacobian_matrix(J, k, order), J.shape[:k], J.shape[k:], order)``
    equals ``J`` exactly.

    >>> import numpy as np
    >>> Jm = np.array([[1, 3, 2, 4]])
    >>> jacobian_tensor(Jm, (), (2, 2))
    array([[1, 2],
           [3, 4]])
    >>> jacobian_tensor(np.zeros((6, 20)), (2, 3), (4, 5)).shape
    (2, 3, 4, 5)
    """
    checked = _check_order(order)
    array = _as_array(Jm, "Jm")
    out = _as_shape(out_shape, "out_shape")
    inp = _as_shape(in_shape, "in_shape")
    expected = (math.prod(out), math.prod(inp))
    if array.shape != expected:
        raise ShapeError(
            f"a Jacobian matrix for out_shape {out} and in_shape {inp} must have shape "
            f"{expected}; got {array.shape}"
        )
    return np.reshape(array, out + inp, order=checked)


# --------------------------------------------------------------------------
# chain rule


def chain(J_outer: ArrayLike, J_inner: ArrayLike, inner_ndim: int) -> Array:
    """Chain rule by tensor contraction: ``dF/dX = dF/dY . dY/dX``.

    ``J_outer`` has shape ``S_out + S_mid`` and ``J_inner`` has shape
    ``S_mid + S_in``, where ``inner_ndim = len(S_mid)`` is the rank of the
    intermediate variable ``Y``.  The shared ``S_mid`` axes are summed over
    and the result has shape ``S_out + S_in``.  In flattened form this is the
    matrix product
    ``jacobian_matrix(chain(Jo, Ji, k), Jo.ndim - k) ==
    jacobian_matrix(Jo, Jo.ndim - k) @ jacobian_matrix(Ji, k)``, in either order.
    ``inner_ndim=0`` (a scalar intermediate) gives the outer product.

    >>> import numpy as np
    >>> A = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> B = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> chain(A, B, 1)                        # d(A B x)/dx = A @ B
    array([[2., 1.],
           [4., 3.]])
    >>> g = np.array([1.0, -1.0])             # gradient of a scalar f(y), y = A x
    >>> chain(g, A, 1)                        # gradient wrt x: g @ A
    array([-2., -2.])
    >>> chain(np.zeros((2, 3, 4)), np.zeros((3, 4, 5, 6)), 2).shape
    (2, 5, 6)
    """
    outer = _as_array(J_outer, "J_outer")
    inner = _as_array(J_inner, "J_inner")
    k = _check_rank(
        inner_ndim,
        "inner_ndim",
        min(outer.ndim, inner.ndim),
        f"J_outer has shape {outer.shape} and J_inner has shape {inner.shape}",
    )
    mid_outer = outer.shape[outer.ndim - k :]
    mid_inner = inner.shape[:k]
    if mid_outer != mid_inner:
        raise ShapeError(
            f"cannot chain J_outer of shape {outer.shape} with J_inner of shape "
            f"{inner.shape}: the last {k} axes of J_outer {mid_outer} must equal "
            f"the first {k} axes of J_inner {mid_inner}"
        )
    n_out = outer.ndim - k
    n_in = inner.ndim - k
    symbols = [opt_einsum.get_symbol(i) for i in range(n_out + k + n_in)]
    out_idx = "".join(symbols[:n_out])
    mid_idx = "".join(symbols[n_out : n_out + k])
    in_idx = "".join(symbols[n_out + k :])
    result: Any = opt_einsum.contract(
        f"{out_idx}{mid_idx},{mid_idx}{in_idx}->{out_idx}{in_idx}", outer, inner
    )
    return np.asarray(result)


# --------------------------------------------------------------------------
# commutation matrix


def commutation_matrix(
    m: int, n: int, order: Order = "F", dtype: npt.DTypeLike = np.float64
) -> Array:
    """The ``(mn, mn)`` commutation matrix ``K`` with ``K vec(A) = vec(A.T)``.

    ``A`` has shape ``(m, n)`` and both ``vec`` are taken in ``order``.  ``K``
    is a permutation matrix (0/1 entries, of ``dtype``), ``K.T`` is its inverse,
    and ``commutation_matrix(m, n).T == commutation_matrix(n, m)``.  The ``"C"``
    matrix for ``(m, n)`` equals the ``"F"`` matrix for ``(n, m)``.

    >>> import numpy as np
    >>> A = np.array([[1, 2, 3], [4, 5, 6]])
    >>> K = commutation_matrix(2, 3, dtype=int)
    >>> K @ vec(A)
    array([1, 2, 3, 4, 5, 6])
    >>> bool(np.array_equal(K @ vec(A), vec(A.T)))
    True
    >>> Kc = commutation_matrix(2, 3, order="C", dtype=int)
    >>> bool(np.array_equal(Kc @ vec(A, order="C"), vec(A.T, order="C")))
    True
    """
    checked = _check_order(order)
    rows = _as_count(m, "m")
    cols = _as_count(n, "n")
    size = rows * cols
    # position[i, j] = where A[i, j] sits in vec(A); reading it in vec order of
    # A.T tells, for each entry of vec(A.T), which entry of vec(A) it is.
    position = np.reshape(np.arange(size), (rows, cols), order=checked)
    source = np.reshape(position.T, (size,), order=checked)
    K = np.zeros((size, size), dtype=dtype)
    K[np.arange(size), source] = 1
    return K

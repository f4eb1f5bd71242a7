"""The multilinear core of the public constructors (every one an einsum), the
semantics of Python's operators, and the NumPy functions and ufuncs that build
them when applied to expressions (layer 3).

Every function takes expressions, arrays and numbers alike.  Anything NumPy
offers that is not registered here raises ``UnsupportedOperationError`` (a
``TypeError``) naming it.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from matgrad._types import Shape
from matgrad.errors import InvalidArgumentError, ShapeError, UnsupportedOperationError
from matgrad.ir.expr import (
    FUNCTION_HANDLERS,
    UFUNC_HANDLERS,
    Expr,
    Symbol,
    add,
    as_expr,
    delta,
    einsum_node,
    is_number,
    ones,
)
from matgrad.ops.elementwise import power
from matgrad.ops.indexing import offset_diag, offset_trace
from matgrad.ops.structure import reshape

__all__ = [
    "broadcast_add",
    "diag",
    "dot",
    "einsum",
    "hadamard",
    "inner",
    "kron",
    "matmul",
    "mean",
    "multiply",
    "outer",
    "sum",
    "tensordot",
    "trace",
    "transpose",
    "vdot",
]


# ---------------------------------------------------------------------------------------
# The operations behind Python's operators (Expr's operators dispatch to the
# ufunc handlers registered at the end of this module)
# ---------------------------------------------------------------------------------------


def transpose(x: Any, axes: Sequence[int] | None = None) -> Expr:
    """Axes permuted (reversed by default), as ``numpy.transpose``."""
    xe = as_expr(x)
    perm = tuple(range(xe.ndim))[::-1] if axes is None else tuple(int(a) for a in axes)
    if sorted(perm) != list(range(xe.ndim)):
        raise ShapeError(f"transpose: axes {perm} are not a permutation of {xe.ndim} axes")
    if perm == tuple(range(xe.ndim)):
        return xe
    if isinstance(xe, Symbol) and xe.symmetric:
        return xe
    return einsum_node([xe], [tuple(range(xe.ndim))], perm)


def _matmul(a: Expr, b: Expr) -> Expr:
    """``a @ b`` with NumPy's rules: matrices in the last two axes, leading (batch)
    axes broadcast, a 1-d operand a vector (its axis added, then dropped)."""
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: scalar operand (shapes {a.shape} @ {b.shape}); use *")
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if a.shape[-1] != inner_b:
        raise ShapeError(
            f"matmul: shapes {a.shape} @ {b.shape} do not fit ({a.shape[-1]} != {inner_b})"
        )
    batch_a, batch_b = a.shape[:-2], b.shape[:-2]
    try:
        batch = _broadcast_shape("matmul", batch_a, batch_b)
    except ShapeError:
        raise ShapeError(
            f"matmul: the batch axes of shapes {a.shape} @ {b.shape} do not broadcast"
        ) from None

    def batch_label(j: int) -> Any:
        return ("batch", j)

    ia = (*_stretch_labels(batch_a, batch, "a", batch_label), *(("i",) if a.ndim > 1 else ()))
    ib = _stretch_labels(batch_b, batch, "b", batch_label)
    out = (*(batch_label(j) for j in range(len(batch))), *ia[len(batch_a):])
    if b.ndim > 1:
        out = (*out, "j")
    return einsum_node(
        [a, b], [(*ia, "k"), (*ib, "k", *(("j",) if b.ndim > 1 else ()))], out
    )


def _broadcast_shape(what: str, *shapes: Shape) -> Shape:
    """NumPy's broadcast shape of ``shapes`` (size-1 axes stretch, missing leading
    axes are added), or a ``ShapeError`` naming them."""
    nd = max((len(s) for s in shapes), default=0)
    target = [1] * nd
    for s in shapes:
        for k, d in enumerate(s, nd - len(s)):
            if d != target[k] and 1 not in (d, target[k]):
                listed = " and ".join(str(t) for t in shapes)
                raise ShapeError(f"{what}: shapes {listed} do not broadcast")
            if target[k] == 1:
                target[k] = d
    return tuple(target)


def _stretch_labels(shape: Shape, target: Shape, tag: Any, label: Any = None) -> tuple[Any, ...]:
    """Einsum labels that broadcast an operand of ``shape`` to ``target``: axis ``k``
    of the operand gets ``label(j)`` for its output axis ``j`` (default ``j``);
    a size-1 axis that stretches gets a label of its own (summed over one entry,
    which drops it), so broadcasting stays an einsum."""
    lead = len(target) - len(shape)
    name = label if label is not None else (lambda j: j)
    return tuple(
        name(lead + k) if d == target[lead + k] else (tag, k) for k, d in enumerate(shape)
    )


def _broadcast_pair(a: Expr, b: Expr, what: str) -> tuple[Expr, Expr]:
    """Broadcast two operands to their common shape (NumPy's rules)."""
    if a.shape == b.shape:
        return a, b
    target = _broadcast_shape(what, a.shape, b.shape)
    return _broadcast_to(a, target, what), _broadcast_to(b, target, what)


def _broadcast_to(x: Expr, shape: Shape, what: str) -> Expr:
    """``x`` broadcast to ``shape``: an einsum with the all-ones tensor on the new
    or stretched axes."""
    if x.shape == shape:
        return x
    if _broadcast_shape(what, x.shape, shape) != shape:
        raise ShapeError(f"{what}: shape {x.shape} does not broadcast to {shape}")
    labels = _stretch_labels(x.shape, shape, "stretched")
    covered = set(labels)
    extra = tuple(j for j in range(len(shape)) if j not in covered)
    operands: list[Expr] = [x]
    indices: list[tuple[Any, ...]] = [labels]
    if extra:
        operands.append(ones(tuple(shape[j] for j in extra), x.dtype))
        indices.append(extra)
    return einsum_node(operands, indices, tuple(range(len(shape))))


def broadcast_add(a: Expr, b: Expr, sign: int) -> Expr:
    """``a + sign * b`` with broadcasting."""
    a2, b2 = _broadcast_pair(a, b, "add" if sign == 1 else "subtract")
    return add([a2, b2], [1, sign])


def multiply(a: Any, b: Any) -> Expr:
    """Elementwise product with broadcasting (``*``); numbers become coefficients."""
    if is_number(a):
        return add([as_expr(b)], [a])
    if is_number(b):
        return add([as_expr(a)], [b])
    ae, be = as_expr(a), as_expr(b)
    if ae.shape == be.shape:
        labels = tuple(range(ae.ndim))
        return einsum_node([ae, be], [labels, labels], labels)
    target = _broadcast_shape("multiply", ae.shape, be.shape)
    out = tuple(range(len(target)))
    return einsum_node(
        [ae, be],
        [_stretch_labels(ae.shape, target, "a"), _stretch_labels(be.shape, target, "b")],
        out,
    )


# ---------------------------------------------------------------------------------------
# Public constructors
# ---------------------------------------------------------------------------------------


def trace(x: Any) -> Expr:
    """``tr(X)``, the sum of the diagonal of a square matrix.

    >>> import matgrad as mg
    >>> print(mg.trace(mg.Matrix("X", (3, 3))).shape)
    ()
    """
    xe = as_expr(x)
    if xe.ndim != 2 or xe.shape[0] != xe.shape[1]:
        raise ShapeError(f"trace needs a square matrix, got shape {xe.shape}")
    return einsum_node([xe], [(0, 0)], ())


def diag(x: Any) -> Expr:
    """The diagonal of a square matrix, or the diagonal matrix of a vector (as ``np.diag``)."""
    xe = as_expr(x)
    if xe.ndim == 1:
        return einsum_node([xe, delta(xe.shape[0], xe.dtype)], [(0,), (0, 1)], (0, 1))
    if xe.ndim == 2 and xe.shape[0] == xe.shape[1]:
        return einsum_node([xe], [(0, 0)], (0,))
    raise ShapeError(f"diag needs a vector or a square matrix, got shape {xe.shape}")


def reduction_axes(axis: Any, ndim: int, what: str) -> tuple[int, ...]:
    """NumPy's ``axis`` argument of a reduction over ``ndim`` axes as sorted
    non-negative axes: ``None`` is every axis, an int or a tuple of ints (negative
    ones count from the end) those axes; a repeated axis or one out of range is a
    ``ShapeError``.

    >>> reduction_axes(-1, 3, "sum"), reduction_axes((2, 0), 3, "sum")
    ((2,), (0, 2))
    """
    if axis is None:
        return tuple(range(ndim))
    items = (axis,) if isinstance(axis, (int, np.integer)) else axis
    try:
        axes = [int(a) for a in items if not isinstance(a, bool)]
    except (TypeError, ValueError):
        raise ShapeError(f"{what}: axis must be an int or a tuple of ints, got {axis!r}") from None
    if isinstance(axis, bool) or len(axes) != len(items):
        raise ShapeError(f"{what}: axis must be an int or a tuple of ints, got {axis!r}")
    if any(not -ndim <= a < ndim for a in axes):
        raise ShapeError(f"{what}: axis {axis!r} is out of range for {ndim} axes")
    normal = sorted(a % ndim for a in axes)
    if len(set(normal)) != len(normal):
        raise ShapeError(f"{what}: axis {axis!r} repeats an axis")
    return tuple(normal)


def keep_dims(x: Expr, shape: Shape, axes: Sequence[int]) -> Expr:
    """A reduction ``x`` of an operand of ``shape`` over ``axes``, with the reduced
    axes kept as size 1 (NumPy's ``keepdims=True``)."""
    kept = tuple(1 if k in axes else d for k, d in enumerate(shape))
    return reshape(x, kept)


def sum(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Expr:
    """Sum over all axes, or over ``axis`` (an int or a tuple of ints; negative
    ones count from the end); ``keepdims=True`` keeps the summed axes with size 1.

    >>> import matgrad as mg
    >>> mg.sum(mg.Matrix("X", (2, 3)), axis=-1, keepdims=True).shape
    (2, 1)
    """
    xe = as_expr(x)
    drop = reduction_axes(axis, xe.ndim, "sum")
    labels = tuple(range(xe.ndim))
    total = einsum_node([xe], [labels], tuple(i for i in labels if i not in drop))
    return keep_dims(total, xe.shape, drop) if keepdims else total


def mean(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Expr:
    """Mean over all axes, or over ``axis`` (as :func:`sum`)."""
    xe = as_expr(x)
    drop = reduction_axes(axis, xe.ndim, "mean")
    count = int(np.prod([xe.shape[a] for a in drop], dtype=np.int64))
    return sum(xe, drop, keepdims) * (1.0 / count if count else 1.0)


def _flat(x: Expr) -> Expr:
    return x if x.ndim == 1 else reshape(x, (x.size,))


def outer(a: Any, b: Any) -> Expr:
    """Outer product ``a[i] b[j]``; operands of other ranks are flattened first, as
    ``np.outer`` does."""
    ae, be = _flat(as_expr(a)), _flat(as_expr(b))
    return einsum_node([ae, be], [(0,), (1,)], (0, 1))


def kron(a: Any, b: Any) -> Expr:
    """Kronecker product of two matrices, ``(A ⊗ B)[i p + k, j q + l] = A[i, j] B[k, l]``."""
    ae, be = as_expr(a), as_expr(b)
    if ae.ndim != 2 or be.ndim != 2:
        raise ShapeError(f"kron needs two matrices, got shapes {ae.shape} and {be.shape}")
    (m, n), (p, q) = ae.shape, be.shape
    four = einsum_node([ae, be], [(0, 2), (1, 3)], (0, 1, 2, 3))
    return reshape(four, (m * p, n * q))


def hadamard(a: Any, b: Any) -> Expr:
    """Elementwise (Hadamard) product ``A ⊙ B`` of same-shaped operands."""
    ae, be = as_expr(a), as_expr(b)
    if ae.shape != be.shape:
        raise ShapeError(f"hadamard needs equal shapes, got {ae.shape} and {be.shape}")
    return multiply(ae, be)


def einsum(subscripts: Any, *operands: Any, **kwargs: Any) -> Expr:
    """``np.einsum`` in explicit (``"ij,jk->ik"``) or implicit (``"ij,jk"``) mode,
    with ellipses broadcasting as NumPy's (``"...ij,...jk->...ik"``), or in the
    interleaved form ``einsum(a, [0, 1], b, [1, 2], [0, 2])``; ``optimize=`` is
    accepted and ignored (the compiler chooses the contraction order).

    >>> import matgrad as mg
    >>> T = mg.Tensor("T", (5, 2, 3)); M = mg.Matrix("M", (3, 4))
    >>> mg.einsum("...ij,jk->...ik", T, M).shape
    (5, 2, 4)
    """
    kwargs.pop("optimize", None)
    if kwargs:
        raise UnsupportedOperationError(f"einsum: arguments {sorted(kwargs)} are not supported")
    if not isinstance(subscripts, str):
        subscripts, operands = _interleaved(subscripts, operands)
    spec = subscripts.replace(" ", "")
    lhs, arrow, out = spec.partition("->")
    terms = lhs.split(",")
    ops = [as_expr(o) for o in operands]
    if len(terms) != len(ops):
        raise InvalidArgumentError(
            f"einsum: {subscripts!r} names {len(terms)} operands but {len(ops)} were given"
        )
    for ch in spec.replace(",", "").replace("->", "").replace("...", ""):
        if ch not in string.ascii_letters:
            raise InvalidArgumentError(f"einsum: invalid subscript character {ch!r}")
    if any(t.count("...") > 1 for t in [*terms, out]):
        raise InvalidArgumentError(f"einsum: {subscripts!r} has an ellipsis twice in one term")
    # the axes each ellipsis stands for, broadcast together
    spans: list[Shape] = []
    for term, op in zip(terms, ops):
        head, has_dots, _ = term.partition("...")
        n = op.ndim - len(term.replace("...", "")) if has_dots else 0
        if n < 0 or not has_dots and len(term) != op.ndim:
            raise ShapeError(f"einsum: subscripts {term!r} do not fit operand shape {op.shape}")
        spans.append(op.shape[len(head) : len(head) + n])
    ellipsis = _broadcast_shape("einsum ellipsis", *spans)

    def dots(j: int) -> Any:
        return ("...", j)

    indices = []
    for k, (term, span) in enumerate(zip(terms, spans)):
        head, _, tail = term.partition("...")
        indices.append((*head, *_stretch_labels(span, ellipsis, ("stretched", k), dots), *tail))
    if not arrow:
        letters = lhs.replace(",", "").replace(".", "")
        out = "..." + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    elif "..." not in out and ellipsis:
        raise ShapeError(
            f"einsum: {subscripts!r} drops the ellipsis axes {ellipsis} from its output; "
            "write '...' in the output"
        )
    head, _, tail = out.partition("...")
    return einsum_node(ops, indices, (*head, *(dots(j) for j in range(len(ellipsis))), *tail))


def _interleaved(first: Any, rest: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
    """``einsum(a, [0, 1], b, [1, 2], [0, 2])`` as a subscripts string and operands."""
    args = [first, *rest]
    out = args.pop() if len(args) % 2 else None
    letters = string.ascii_lowercase + string.ascii_uppercase

    def term(sub: Any) -> str:
        try:
            return "".join("..." if s is Ellipsis else letters[int(s)] for s in sub)
        except (TypeError, ValueError, IndexError):
            raise InvalidArgumentError(
                f"einsum: subscript lists hold ints 0-51 and Ellipsis, got {sub!r}"
            ) from None

    spec = ",".join(term(s) for s in args[1::2]) + ("" if out is None else "->" + term(out))
    return spec, tuple(args[0::2])


def matmul(a: Any, b: Any) -> Expr:
    """``a @ b`` with NumPy's rules: batched over leading axes, which broadcast.

    >>> import matgrad as mg
    >>> T = mg.Tensor("T", (4, 3, 3))
    >>> (T @ T).shape, (T @ mg.Vector("v", 3)).shape
    ((4, 3, 3), (4, 3))
    """
    return _matmul(as_expr(a), as_expr(b))


def dot(a: Any, b: Any) -> Expr:
    """``np.dot``: a product for scalars, else the sum over the last axis of ``a``
    and the second-to-last of ``b`` (its only axis if ``b`` is a vector)."""
    ae, be = as_expr(a), as_expr(b)
    if ae.ndim == 0 or be.ndim == 0:
        return multiply(ae, be)
    k = 0 if be.ndim == 1 else be.ndim - 2
    if ae.shape[-1] != be.shape[k]:
        raise ShapeError(
            f"dot: shapes {ae.shape} and {be.shape} do not fit ({ae.shape[-1]} != {be.shape[k]})"
        )
    return tensordot(ae, be, ([ae.ndim - 1], [k]))


def tensordot(a: Any, b: Any, axes: Any = 2) -> Expr:
    """``np.tensordot``: the sum over ``axes`` (``N``: the last ``N`` axes of ``a``
    with the first ``N`` of ``b``; or a pair of axis lists), the free axes of
    ``a`` then those of ``b``."""
    ae, be = as_expr(a), as_expr(b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if not 0 <= n <= min(ae.ndim, be.ndim):
            raise ShapeError(f"tensordot: axes={n} does not fit shapes {ae.shape}, {be.shape}")
        pair: tuple[list[int], list[int]] = (list(range(ae.ndim - n, ae.ndim)), list(range(n)))
    else:
        try:
            first, second = axes
        except (TypeError, ValueError):
            raise InvalidArgumentError(
                f"tensordot: axes must be an int or a pair of axis lists, got {axes!r}"
            ) from None
        pair = (_axis_list(first, ae.ndim), _axis_list(second, be.ndim))
    la: list[Any] = [("a", i) for i in range(ae.ndim)]
    lb: list[Any] = [("b", j) for j in range(be.ndim)]
    if len(pair[0]) != len(pair[1]) or len(set(pair[0])) != len(pair[0]):
        raise ShapeError(f"tensordot: axes {axes!r} do not pair up distinct axes")
    for i, j in zip(*pair):
        if ae.shape[i] != be.shape[j]:
            raise ShapeError(
                f"tensordot: axis {i} of shape {ae.shape} and axis {j} of shape {be.shape} "
                "differ in length"
            )
        lb[j] = la[i]
    out = [la[i] for i in range(ae.ndim) if i not in pair[0]]
    out += [lb[j] for j in range(be.ndim) if j not in pair[1]]
    return einsum_node([ae, be], [tuple(la), tuple(lb)], tuple(out))


def _axis_list(axes: Any, ndim: int) -> list[int]:
    listed = [axes] if isinstance(axes, (int, np.integer)) else list(axes)
    if any(not -ndim <= int(a) < ndim for a in listed):
        raise ShapeError(f"axes {axes!r} are out of range for {ndim} axes")
    return [int(a) % ndim for a in listed]


def inner(a: Any, b: Any) -> Expr:
    """``np.inner``: the sum over the last axes of ``a`` and ``b`` (a product for
    scalars); shape ``a.shape[:-1] + b.shape[:-1]``."""
    ae, be = as_expr(a), as_expr(b)
    if ae.ndim == 0 or be.ndim == 0:
        return multiply(ae, be)
    return tensordot(ae, be, ([ae.ndim - 1], [be.ndim - 1]))


def vdot(a: Any, b: Any) -> Expr:
    """``np.vdot``: the sum of the products of the entries of ``a`` and ``b``, both
    read flat (real operands only: NumPy conjugates a complex ``a``)."""
    ae, be = as_expr(a), as_expr(b)
    if np.issubdtype(ae.dtype, np.complexfloating):
        raise UnsupportedOperationError("vdot of a complex first operand (it is conjugated)")
    if ae.size != be.size:
        raise ShapeError(f"vdot: shapes {ae.shape} and {be.shape} differ in size")
    if ae.shape != be.shape:
        ae, be = _flat(ae), _flat(be)
    labels = tuple(range(ae.ndim))
    return einsum_node([ae, be], [labels, labels], ())


def _divide(a: Any, b: Any) -> Expr:
    if is_number(b):
        if b == 0:
            raise ZeroDivisionError("division of an expression by zero")
        return add([as_expr(a)], [1 / b])
    return multiply(a, power(as_expr(b), -1.0))


def _negative(x: Any) -> Expr:
    return add([as_expr(x)], [-1])


def _subtract(a: Any, b: Any) -> Expr:
    return broadcast_add(as_expr(a), as_expr(b), -1)


def _add(a: Any, b: Any) -> Expr:
    return broadcast_add(as_expr(a), as_expr(b), 1)


def _transpose(a: Any, axes: Sequence[int] | None = None) -> Expr:
    return transpose(a, axes)


def _trace(
    a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None, out: Any = None
) -> Expr:
    if dtype is not None or out is not None:
        raise UnsupportedOperationError("trace: the dtype and out arguments are not supported")
    return offset_trace(a, offset, axis1, axis2)


def _diag(v: Any, k: int = 0) -> Expr:
    return diag(v) if k == 0 else offset_diag(v, k)


def reduction_options(what: str, x: Expr, dtype: Any = None, out: Any = None,
                      **unsupported: Any) -> None:
    """Refuse the options of a NumPy reduction that matgrad does not take:
    ``out=``, a ``dtype=`` other than the expression's, and any named in
    ``unsupported`` that is not left at NumPy's default (``None`` or ``True``
    for ``where``)."""
    given = sorted(k for k, v in unsupported.items() if v is not None and v is not True)
    if out is not None:
        given.insert(0, "out")
    if dtype is not None and np.dtype(dtype) != x.dtype:
        given.insert(0, "dtype")
    if given:
        raise UnsupportedOperationError(
            f"{what}: the argument(s) {', '.join(given)} are not supported on matgrad "
            "expressions"
        )


def _constant_where(what: str, x: Expr, where: Any) -> Expr | None:
    """NumPy's ``where=`` of a reduction as a 0/1 constant of ``x``'s shape (``None``
    for the default ``True``); an expression is refused."""
    if where is True or where is None:
        return None
    if isinstance(where, Expr):
        raise UnsupportedOperationError(
            f"{what}: where= must be a constant boolean array; for an expression use "
            "np.where(cond, x, 0) before reducing"
        )
    mask = np.broadcast_to(np.asarray(where, dtype=bool), x.shape)
    return as_expr(mask.astype(x.dtype))


def _sum(
    a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
    initial: Any = None, where: Any = True,
) -> Expr:
    xe = as_expr(a)
    reduction_options("sum", xe, dtype, out)
    mask = _constant_where("sum", xe, where)
    total = sum(xe if mask is None else multiply(xe, mask), axis, keepdims)
    return total if initial is None else total + initial


def _mean(
    a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
    *, where: Any = True,
) -> Expr:
    xe = as_expr(a)
    reduction_options("mean", xe, dtype, out)
    mask = _constant_where("mean", xe, where)
    if mask is None:
        return mean(xe, axis, keepdims)
    return multiply(sum(multiply(xe, mask), axis, keepdims), sum(mask, axis, keepdims) ** -1)


def _no_out(name: str, build: Any) -> Any:
    """A handler for ``np.<name>(a, b, out=None)`` that refuses ``out=``."""

    def handler(a: Any, b: Any, out: Any = None) -> Expr:
        if out is not None:
            raise UnsupportedOperationError(f"{name}: the out argument is not supported")
        return build(a, b)  # type: ignore[no-any-return]

    return handler


def _ones_like(x: Any) -> Expr:
    xe = as_expr(x)
    return ones(xe.shape, xe.dtype)


UFUNC_HANDLERS.update(
    {
        np.add: _add,
        np.subtract: _subtract,
        np.multiply: multiply,
        np.true_divide: _divide,
        np.negative: _negative,
        np.positive: as_expr,
        np.matmul: matmul,
    }
)

FUNCTION_HANDLERS.update(
    {
        np.trace: _trace,
        np.diag: _diag,
        np.sum: _sum,
        np.mean: _mean,
        np.outer: _no_out("outer", outer),
        np.kron: kron,
        np.einsum: einsum,
        np.matmul: matmul,
        np.dot: _no_out("dot", dot),
        np.tensordot: tensordot,
        np.inner: inner,
        np.vdot: vdot,
        np.transpose: _transpose,
        np.ones_like: _ones_like,
    }
)

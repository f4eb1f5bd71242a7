"""Piecewise functions (layer 3): comparisons, ``where``, ``maximum``, ``minimum``,
``fmax``, ``fmin`` and ``clip``, entry by entry and with NumPy's broadcasting.

A comparison (``x > y``, ``np.greater(x, y)``, ``x == 0``, ...) is a *mask*: an
operation whose entries are 1 where the relation holds and 0 elsewhere, in the
operands' floating dtype, with derivative zero.  ``where(c, a, b)`` takes the
entries of ``a`` where ``c`` is nonzero and those of ``b`` elsewhere; it is
linear in ``a`` and ``b``, and derivatives flow through it as selections (JAX's
``select``), never as products with the mask, so an inf or NaN in the branch
not taken does not reach them.  ``maximum`` and its kin weigh their operands'
differentials by masks.

Conventions where these functions are not differentiable (JAX's: ``max_p`` and
``min_p`` in ``jax._src.lax.lax``; ``jnp.fmax``, ``jnp.fmin`` and ``jnp.clip`` in
``jax._src.numpy``):

- ``maximum(a, b)``, ``minimum(a, b)``: at a tie each operand gets half the
  derivative (``∂ max(a, b)/∂a = ∂ max(a, b)/∂b = ½`` where ``a = b``);
- ``fmax(a, b)``, ``fmin(a, b)``: at a tie the second operand gets all of it
  (JAX computes them as ``where(a > b, a, b)`` and ``where(a < b, a, b)``);
- ``clip(x, lo, hi) = minimum(maximum(x, lo), hi)``: at ``x = lo`` (or ``hi``)
  ``x`` and the bound share the derivative, ½ each;
- ``where(c, a, b)``: the condition has derivative zero;
- comparisons: derivative zero, on the boundary too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from matgrad._types import Shape
from matgrad.errors import InvalidArgumentError, UnsupportedOperationError
from matgrad.ir.apply import (
    Apply,
    Fuzz,
    Language,
    Linear,
    Notation,
    Operation,
    Sample,
    same_shape,
)
from matgrad.ir.expr import Constant, Expr, Ones, Zero, add, as_expr, einsum_node, ones, zeros
from matgrad.ir.node import _result_dtype
from matgrad.ops.core import _broadcast_shape, _broadcast_to
from matgrad.ops.registry import declare, language_function, operation, register_numpy

__all__ = [
    "clip",
    "equal",
    "fmax",
    "fmin",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "maximum",
    "minimum",
    "not_equal",
    "where",
]

APART = 5.0
"""The samples keep compared operands this far apart (general values lie in
[−2, 2]), so that the numerical derivatives they are checked against never
straddle a switch."""


def _hadamard(a: Expr, b: Expr) -> Expr:
    labels = tuple(range(a.ndim))
    return einsum_node([a, b], [labels, labels], labels)


def ordered_dtype(dtypes: Sequence[np.dtype[Any]], attrs: Any) -> np.dtype[Any]:
    """The dtype rule of operations that compare values: real floating (complex
    numbers have no order)."""
    dt = _result_dtype(*dtypes, floating=True)
    if np.issubdtype(dt, np.complexfloating):
        raise UnsupportedOperationError(
            "comparisons, maximum and minimum of complex expressions are not defined"
        )
    return dt


def broadcasting(name: str) -> Callable[..., Expr | None]:
    """The canonical form of an elementwise operation of several operands: operands
    of different shapes are first broadcast to their common shape (NumPy's rules)."""

    def canonical(*operands: Expr, **attrs: Any) -> Expr | None:
        shapes = [o.shape for o in operands]
        if all(s == shapes[0] for s in shapes):
            return None
        target = _broadcast_shape(name, *shapes)
        return operation(name)(*(_broadcast_to(o, target, name) for o in operands), **attrs)

    return canonical


def _pattern(shape: Shape) -> Any:
    """``+1, −1, +1, ...`` in row-major order, of ``shape``."""
    size = int(np.prod(shape, dtype=np.int64))
    return np.where(np.arange(size) % 2 == 0, 1.0, -1.0).reshape(shape)


def _apart(a: Expr) -> Expr:
    """``a + APART · (±1, ∓1, ...)``: far above or below any general value."""
    return add([a, as_expr(_pattern(a.shape) * APART)])


def _two(n: int, m: int) -> tuple[Shape, ...]:
    return ((n, m), (n, m))


def _one(n: int, m: int) -> tuple[Shape, ...]:
    return ((n, m),)


_G2 = ("general", "general")


# ---------------------------------------------------------------------------------------
# Comparisons: masks
# ---------------------------------------------------------------------------------------


def _mask(name: str, ufunc: np.ufunc, sign: str, latex: str) -> Operation:
    """The declaration of the comparison ``x <sign> y`` (NumPy's ``ufunc``)."""

    def numpy(a: Any, b: Any) -> Any:
        a, b = np.asarray(a), np.asarray(b)
        dt = np.result_type(a.dtype, b.dtype)
        return np.asarray(ufunc(a, b)).astype(dt if dt.kind == "f" else np.float64)

    def array_api(ns: Any, attrs: Any) -> Callable[..., Any]:
        compare = getattr(ns, ufunc.__name__)

        def kernel(a: Any, b: Any) -> Any:
            mask = compare(a, b)
            dt = a.dtype if ns.isdtype(a.dtype, "real floating") else ns.float64
            return ns.astype(mask, dt)

        return kernel

    def differential(node: Expr, d: tuple[Expr, ...]) -> Expr:
        return zeros(node.shape, node.dtype)

    differential.__doc__ = (
        f"``d [x {sign} y] = 0``: a comparison is piecewise constant; its derivative is "
        "zero, and taken as zero on the boundary too (JAX's convention)."
    )

    def source(var: str, args: Sequence[str], fresh: Callable[[str], str], node: Expr) -> list[str]:
        return [f"{var} = np.{ufunc.__name__}({args[0]}, {args[1]}).astype(np.{node.dtype.name})"]

    return Operation(
        name=name,
        family="piecewise",
        doc=f"mask of x {sign} y: 1 where it holds, 0 elsewhere",
        arity=2,
        shape=same_shape,
        numpy=numpy,
        array_api=array_api,
        differential=differential,
        dtype=ordered_dtype,
        canonical=broadcasting(name),
        elementwise=True,
        preserves_symmetry=True,
        notation=Notation(
            text=f"({{0}} {sign} {{1}})", latex=rf"\left[{{0}} {latex} {{1}}\right]",
            numpy_lines=source,
        ),
        numpy_functions=((ufunc, None),),
        samples=(Sample(name, lambda a, b: operation(name)(a, _apart(b)), _two, _G2),),
        fuzz=(Fuzz(operands=("apart",), bound=lambda lo, hi, n: 1.0),),
    )


greater: Callable[..., Expr] = declare(_mask("greater", np.greater, ">", ">"))
greater_equal: Callable[..., Expr] = declare(
    _mask("greater_equal", np.greater_equal, ">=", r"\geq")
)
less: Callable[..., Expr] = declare(_mask("less", np.less, "<", "<"))
less_equal: Callable[..., Expr] = declare(_mask("less_equal", np.less_equal, "<=", r"\leq"))
equal: Callable[..., Expr] = declare(_mask("equal", np.equal, "==", "="))
not_equal: Callable[..., Expr] = declare(_mask("not_equal", np.not_equal, "!=", r"\neq"))


# ---------------------------------------------------------------------------------------
# where
# ---------------------------------------------------------------------------------------


def _spread(c: Expr, extra: Shape, *, lead: bool) -> Expr:
    """The mask ``c`` repeated over the axes ``extra``, put before (``lead``) or
    after its own."""
    if not extra:
        return c
    k, nd = len(extra), c.ndim
    own = tuple(range(k, k + nd)) if lead else tuple(range(nd))
    new = tuple(range(k)) if lead else tuple(range(nd, nd + k))
    return einsum_node([c, ones(extra, c.dtype)], [own, new], tuple(range(nd + k)))


def _d_where(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d where(c, a, b) = where(c, da, db)``: a selection, linear in ``a`` and
    ``b``; the condition ``c`` has derivative zero (JAX's ``select``)."""
    assert isinstance(node, Apply)
    _, da, db = d
    return _WHERE(node.args[0], da, db)


def _where_push(node: Expr, tangents: Sequence[Expr], extra: Shape) -> Expr:
    assert isinstance(node, Apply)
    return _WHERE(_spread(node.args[0], extra, lead=False), tangents[1], tangents[2])


def _where_pull(node: Expr, k: int, cotangent: Expr, extra: Shape) -> Expr:
    assert isinstance(node, Apply)
    if k == 0:
        raise AssertionError("internal error: the condition of where has no derivative")
    c = _spread(node.args[0], extra, lead=True)
    nothing = zeros(cotangent.shape, cotangent.dtype)
    return _WHERE(c, cotangent, nothing) if k == 1 else _WHERE(c, nothing, cotangent)


def _where_canonical(c: Expr, a: Expr, b: Expr) -> Expr | None:
    """Operands broadcast; ``where(c, a, a) = a``; a constant condition that is
    all true or all false picks ``a`` or ``b``."""
    broadcast = broadcasting("where")(c, a, b)
    if broadcast is not None:
        return broadcast
    if a is b:
        return a
    if isinstance(a, Zero) and isinstance(b, Zero):
        return zeros(a.shape, _result_dtype(a.dtype, b.dtype, floating=True))
    if isinstance(c, Ones) or (isinstance(c, Constant) and bool(np.all(c.value != 0))):
        return a if a.dtype == _result_dtype(a.dtype, b.dtype, floating=True) else None
    if isinstance(c, Zero) or (isinstance(c, Constant) and not np.any(c.value != 0)):
        return b if b.dtype == _result_dtype(a.dtype, b.dtype, floating=True) else None
    return None


_WHERE = Operation(
    name="where",
    family="piecewise",
    doc="entries of a where the condition c is nonzero, of b elsewhere",
    arity=3,
    shape=same_shape,
    numpy=lambda c, a, b: np.where(np.asarray(c) != 0, a, b),
    array_api=lambda ns, attrs: lambda c, a, b: ns.where(c != 0, a, b),
    differential=_d_where,
    dtype=lambda dtypes, attrs: _result_dtype(dtypes[1], dtypes[2], floating=True),
    canonical=_where_canonical,
    linear=Linear(_where_push, _where_pull),
    elementwise=True,
    preserves_symmetry=True,
    notation=Notation(numpy="np.where({0} != 0, {1}, {2})"),
    samples=(
        Sample("where", lambda a, b: where(_pattern(a.shape) > 0, a * b, a), _two, _G2),
        Sample("where-mask", lambda a, b: where(_apart(a) > 0, a * a, a * b), _two, _G2),
    ),
    fuzz=(Fuzz("mask", operands=("general", "general"), bound=lambda lo, hi, n: max(hi)),),
)
declare(_WHERE)


def where(condition: Any, x: Any, y: Any) -> Expr:
    """``np.where(condition, x, y)``: the entries of ``x`` where ``condition`` is
    nonzero (true), those of ``y`` elsewhere, broadcast together.  The condition
    is a constant (a boolean array) or an expression, typically a comparison
    (``x > 0``); its derivative is zero.

    >>> import matgrad as mg
    >>> Z, W = mg.Matrix("Z", (2, 2)), mg.Matrix("W", (2, 2))
    >>> print(mg.where(Z > W, Z, 2 * W))
    where((Z > W), Z, 2 * W)
    """
    if isinstance(condition, bool):
        raise InvalidArgumentError(
            "where: the condition is a Python bool; `a == b` of two expressions compares "
            "the expressions themselves: write np.equal(a, b) for the mask"
        )
    return _WHERE(condition, x, y)


where.op = _WHERE  # type: ignore[attr-defined]


def _np_where(condition: Any, x: Any = None, y: Any = None) -> Expr:
    if x is None or y is None:
        raise UnsupportedOperationError(
            "np.where(condition) with one argument (the indices of the true entries) is not "
            "supported on matgrad expressions; use np.where(condition, x, y)"
        )
    return where(condition, x, y)


register_numpy(np.where, _np_where)


# ---------------------------------------------------------------------------------------
# maximum, minimum, fmax, fmin
# ---------------------------------------------------------------------------------------

Weights = Callable[[Expr, Expr], tuple[Expr, Expr]]


def _extremum(name: str, ufunc: np.ufunc, doc: str, weights: Weights, rule: str) -> Operation:
    """The declaration of an elementwise extreme of two operands: its differential is
    ``wₐ ⊙ da + w_b ⊙ db`` with the masks ``weights(a, b)``."""

    def differential(node: Expr, d: tuple[Expr, ...]) -> Expr:
        assert isinstance(node, Apply)
        wa, wb = weights(*node.args)
        return add([_hadamard(wa, d[0]), _hadamard(wb, d[1])])

    differential.__doc__ = rule
    return Operation(
        name=name,
        family="piecewise",
        doc=doc,
        arity=2,
        shape=same_shape,
        numpy=ufunc,
        differential=differential,
        dtype=ordered_dtype,
        canonical=broadcasting(name),
        elementwise=True,
        preserves_symmetry=True,
        notation=Notation(numpy=f"np.{name}({{0}}, {{1}})"),
        numpy_functions=((ufunc, None),),
        samples=(Sample(name, lambda a, b: operation(name)(a, _apart(b)), _two, _G2),),
        fuzz=(Fuzz(operands=("apart",), bound=lambda lo, hi, n: max(hi)),),
    )


def _max_weights(a: Expr, b: Expr) -> tuple[Expr, Expr]:
    tie = equal(a, b)
    return add([greater(a, b), tie], [1, 0.5]), add([less(a, b), tie], [1, 0.5])


def _min_weights(a: Expr, b: Expr) -> tuple[Expr, Expr]:
    tie = equal(a, b)
    return add([less(a, b), tie], [1, 0.5]), add([greater(a, b), tie], [1, 0.5])


_MAXIMUM = _extremum(
    "maximum", np.maximum, "entrywise larger of x and y", _max_weights,
    "``d max(a, b) = [a > b] ⊙ da + [a < b] ⊙ db + ½ [a = b] ⊙ (da + db)``: at a tie "
    "the operands share the derivative equally (JAX's convention).",
)
maximum: Callable[..., Expr] = declare(
    replace(
        _MAXIMUM,
        language=Language(
            ("maximum",), "maximum(x, y): entrywise larger of x and y", "x, x -> x"
        ),
        samples=(
            *_MAXIMUM.samples,
            Sample("relu", lambda a: maximum(_apart(a), 0.0), _one, ("general",)),
        ),
    )
)
minimum: Callable[..., Expr] = declare(
    _extremum(
        "minimum", np.minimum, "entrywise smaller of x and y", _min_weights,
        "``d min(a, b) = [a < b] ⊙ da + [a > b] ⊙ db + ½ [a = b] ⊙ (da + db)``: at a "
        "tie the operands share the derivative equally (JAX's convention).",
    )
)
fmax: Callable[..., Expr] = declare(
    _extremum(
        "fmax", np.fmax, "entrywise larger of x and y, ignoring NaN",
        lambda a, b: (greater(a, b), less_equal(a, b)),
        "``d fmax(a, b) = [a > b] ⊙ da + [a ≤ b] ⊙ db``: at a tie all of it goes to the "
        "second operand (JAX's jnp.fmax is where(a > b, a, b)).",
    )
)
fmin: Callable[..., Expr] = declare(
    _extremum(
        "fmin", np.fmin, "entrywise smaller of x and y, ignoring NaN",
        lambda a, b: (less(a, b), greater_equal(a, b)),
        "``d fmin(a, b) = [a < b] ⊙ da + [a ≥ b] ⊙ db``: at a tie all of it goes to the "
        "second operand (JAX's jnp.fmin is where(a < b, a, b)).",
    )
)
language_function(
    Language(("minimum",), "minimum(x, y): entrywise smaller of x and y", "x, x -> x"), minimum
)


# ---------------------------------------------------------------------------------------
# clip
# ---------------------------------------------------------------------------------------


def clip(x: Any, a_min: Any = None, a_max: Any = None) -> Expr:
    """``np.clip(x, a_min, a_max)`` = ``minimum(maximum(x, a_min), a_max)``, as JAX
    builds it: at ``x = a_min`` (or ``a_max``) the derivative is shared equally
    between ``x`` and the bound (½ each).  Either bound may be ``None``; bounds may
    be numbers, arrays or expressions.

    >>> import matgrad as mg
    >>> print(mg.clip(mg.Vector("x", 3), 0, 1))
    minimum(maximum(x, zeros(3)), ones(3))
    """
    if a_min is None and a_max is None:
        raise InvalidArgumentError("clip: at least one of a_min and a_max must be given")
    out = as_expr(x)
    if a_min is not None:
        out = maximum(out, a_min)
    if a_max is not None:
        out = minimum(out, a_max)
    return out


def _np_clip(
    a: Any, a_min: Any = None, a_max: Any = None, out: Any = None, *,
    min: Any = None, max: Any = None, **kwargs: Any,
) -> Expr:
    if out is not None or kwargs:
        given = (["out"] if out is not None else []) + sorted(kwargs)
        raise UnsupportedOperationError(
            f"np.clip: the argument(s) {', '.join(given)} are not supported on matgrad expressions"
        )
    return clip(a, a_min if min is None else min, a_max if max is None else max)


register_numpy(np.clip, _np_clip)
language_function(
    Language(("clip",), "clip(x, lo, hi): x limited to [lo, hi] entry by entry",
             "x, lo:number, hi:number -> x"),
    lambda x, lo, hi: clip(x, lo, hi),
)

"""The softmax family (layer 3): ``logsumexp`` and the functions built from it,
with SciPy's ``scipy.special.logsumexp`` as the NumPy implementation.

Declared: ``logsumexp`` over ``axis`` (``None``, an int or a tuple, negative
from the end; ``keepdims``) and ``weighted_logsumexp`` (``log Σ b eˣ``, SciPy's
``logsumexp(a, b=b)``, differentiable in ``a`` and ``b``).  Built from them:
``softmax`` (``exp(x − logsumexp x)``) and ``log_softmax`` (``x − logsumexp x``).
:func:`logsumexp`, :func:`softmax` and :func:`log_softmax` take SciPy's
arguments.  SciPy's own ``logsumexp``, ``softmax`` and ``log_softmax`` are
plain Python functions that convert their input with ``np.asarray`` (or ask
NumPy for its dtype), which an expression cannot intercept: on an expression
they raise :class:`~matgrad.errors.UnsupportedOperationError`.

Conventions: the derivative of ``logsumexp`` is the softmax ``exp(x − f)``
(``f`` the value), weights in [0, 1], so values and derivatives of every order
are finite at any finite input (±1000 included); a slice that is all ``−inf``
has no derivative (NaN weights, as in JAX).  With weights, an entry whose
weight is 0 is dropped (its derivative in ``a`` is 0, even far above the
rest); the derivative in ``b`` is ``exp(a − f)``.  ``return_sign=True`` is
refused: the sign has no derivative.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.special as sp

from matgrad._types import Shape
from matgrad.errors import InvalidArgumentError, ShapeError, UnsupportedOperationError
from matgrad.ir.apply import Apply, Fuzz, Language, Notation, Operation, Sample, same_shape
from matgrad.ir.expr import Constant, Expr, Zero, add, as_expr, einsum_node, ones, zeros
from matgrad.ops.core import _broadcast_shape, _broadcast_to, keep_dims, reduction_axes
from matgrad.ops.elementwise import exp, log
from matgrad.ops.piecewise import equal, where
from matgrad.ops.registry import declare, language_function
from matgrad.ops.special import real_dtype, scipy_source
from matgrad.ops.structure import reshape

__all__ = ["log_softmax", "logsumexp", "softmax", "weighted_logsumexp"]

Attrs = Mapping[str, Any]


def _hadamard(*factors: Expr) -> Expr:
    labels = tuple(range(factors[0].ndim))
    return einsum_node(list(factors), [labels] * len(factors), labels)


def _minus(a: Expr, b: Expr) -> Expr:
    return add([a, b], [1, -1])


def _matrices(n: int, m: int) -> tuple[Shape, ...]:
    return ((n, m),)


def _matrix_pair(n: int, m: int) -> tuple[Shape, ...]:
    return ((n, m), (n, m))


def _kept(shape: Shape, axes: Sequence[int]) -> tuple[int, ...]:
    return tuple(k for k in range(len(shape)) if k not in axes)


def _lse_check(attrs: Attrs) -> dict[str, Any]:
    """``axis``: sorted distinct non-negative ints (:func:`logsumexp` normalizes
    SciPy's ``axis`` to this); ``keepdims``: a bool."""
    value, keepdims = attrs["axis"], attrs["keepdims"]
    try:
        axes = tuple(int(a) for a in value)
    except TypeError:
        raise InvalidArgumentError(
            f"logsumexp: axis must be a tuple of ints, got {value!r}"
        ) from None
    if any(a < 0 for a in axes) or list(axes) != sorted(set(axes)):
        raise InvalidArgumentError(
            f"logsumexp: axis must be sorted distinct non-negative ints, got {value!r}"
        )
    if not isinstance(keepdims, (bool, np.bool_)):
        raise InvalidArgumentError(f"logsumexp: keepdims must be a bool, got {keepdims!r}")
    return {"axis": axes, "keepdims": bool(keepdims)}


def _lse_shape(shapes: tuple[Shape, ...], attrs: Attrs) -> Shape:
    s = same_shape(shapes, attrs)
    axes = attrs["axis"]
    if any(a >= len(s) for a in axes):
        raise ShapeError(f"logsumexp: axis {axes} is out of range for shape {s}")
    if attrs["keepdims"]:
        return tuple(1 if k in axes else d for k, d in enumerate(s))
    return tuple(d for k, d in enumerate(s) if k not in axes)


def _spread(node: Apply, x: Expr) -> Expr:
    """The node's value repeated along the reduced axes, to ``x``'s shape."""
    axes = node.attrs["axis"]
    kept = _kept(x.shape, axes)
    f = reshape(node, tuple(x.shape[k] for k in kept)) if node.attrs["keepdims"] else node
    return einsum_node(
        [f, ones(tuple(x.shape[a] for a in axes), x.dtype)], [kept, axes],
        tuple(range(x.ndim)),
    )


def _reduced(node: Apply, w: Expr, dx: Expr) -> Expr:
    """``Σ_axis w ⊙ dx``, with the reduced axes kept as the node keeps them."""
    axes = node.attrs["axis"]
    labels = tuple(range(dx.ndim))
    out = einsum_node([w, dx], [labels, labels], _kept(dx.shape, axes))
    return keep_dims(out, dx.shape, axes) if node.attrs["keepdims"] else out


def _d_logsumexp(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d log Σ eˣ = Σ_axis softmax(x) ⊙ dx`` with ``softmax(x) = exp(x − f)``,
    ``f`` the value repeated along ``axis``: weights in [0, 1], finite wherever the
    value is (no overflow at any finite ``x``)."""
    assert isinstance(node, Apply)
    (dx,) = d
    return _reduced(node, exp(_minus(node.x, _spread(node, node.x))), dx)


def _zero_mask(b: Expr) -> Expr:
    """1 where the weight ``b`` is 0 (a constant mask for constant weights)."""
    if isinstance(b, Constant):
        return as_expr((np.asarray(b.value) == 0).astype(b.dtype))
    return equal(b, 0.0)


def _d_weighted_logsumexp(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d log Σ b eˣ = Σ_axis b ⊙ e^(x − f) ⊙ dx + Σ_axis e^(x − f) ⊙ db`` with ``f``
    the value repeated along ``axis`` (``b ⊙ e^(x − f)`` sums to 1).  Where ``b = 0``
    the entry is dropped: the first weight is 0 there, computed from
    ``where(b = 0, f, x)`` so that an entry far above ``f`` does not overflow."""
    assert isinstance(node, Apply)
    x, b = node.args
    dx, db = d
    f = _spread(node, x)
    terms = []
    if not isinstance(dx, Zero):
        kept = where(_zero_mask(b), f, x)
        terms.append(_reduced(node, _hadamard(b, exp(_minus(kept, f))), dx))
    if not isinstance(db, Zero):
        terms.append(_reduced(node, exp(_minus(x, f)), db))
    return add(terms) if terms else zeros(node.shape, node.dtype)


def _lse_numpy(x: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
    return np.asarray(sp.logsumexp(x, axis=axis, keepdims=keepdims))


def _weighted_numpy(x: Any, b: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
    return np.asarray(sp.logsumexp(x, axis=axis, b=b, keepdims=keepdims))


def _lse_portable(ns: Any, attrs: Mapping[str, Any]) -> Callable[..., Any]:
    """``logsumexp`` on any engine, as SciPy computes it: the maximum taken out
    (0 where it is not finite), ``log Σ b eˣ⁻ᵐ + m``."""
    axis, keepdims = attrs["axis"], attrs["keepdims"]

    def kernel(x: Any, b: Any = None) -> Any:
        m = ns.max(x, axis=axis, keepdims=True)
        m = ns.where(ns.isfinite(m), m, ns.zeros_like(m))
        e = ns.exp(x - m)
        s = ns.log(ns.sum(e if b is None else b * e, axis=axis, keepdims=True)) + m
        if keepdims:
            return s
        return ns.reshape(s, tuple(n for k, n in enumerate(x.shape) if k not in axis))

    return kernel


def _shift_axes(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {**attrs, "axis": tuple(a + 1 for a in attrs["axis"])}


def _weighted_canonical(x: Expr, b: Expr, *, axis: tuple[int, ...],
                        keepdims: bool) -> Expr | None:
    """Operands broadcast to one shape; over no axis, ``x + log b``."""
    if x.shape != b.shape:
        target = _broadcast_shape("logsumexp", x.shape, b.shape)
        return _WEIGHTED(_broadcast_to(x, target, "logsumexp"),
                         _broadcast_to(b, target, "logsumexp"), axis=axis, keepdims=keepdims)
    return add([x, log(b)]) if not axis else None


_FUZZ_AXES = ({"axis": (0,), "keepdims": False}, {"axis": (1,), "keepdims": False},
              {"axis": (0,), "keepdims": True}, {"axis": (0, 1), "keepdims": False},
              {"axis": (1,), "keepdims": True})
"""The reductions the fuzzer draws."""

_LOGSUMEXP = Operation(
    name="logsumexp",
    family="softmax",
    doc="log Σ exp(x) over all axes or over axis, without overflow",
    shape=_lse_shape,
    numpy=_lse_numpy,
    array_api=_lse_portable,
    batched_attrs=_shift_axes,
    differential=_d_logsumexp,
    attrs=("axis", "keepdims"),
    check=_lse_check,
    canonical=lambda x, axis, keepdims: x if not axis else None,
    dtype=real_dtype,
    notation=Notation(
        latex=r"\operatorname{{logsumexp}}{0:arg}",
        numpy_lines=scipy_source("logsumexp", keywords=("axis", "keepdims")),
    ),
    samples=(
        Sample("logsumexp", lambda a: logsumexp(a), _matrices, ("general",)),
        Sample("logsumexp-axis", lambda a: logsumexp(a, axis=1, keepdims=True), _matrices,
               ("general",)),
        Sample("logsumexp-axes", lambda a: logsumexp(a, axis=(0, -1)),
               lambda n, m: ((n, 2, m),), ("general",)),
        Sample("softmax", lambda a: softmax(a, axis=0), _matrices, ("general",)),
        Sample("log-softmax", lambda a: log_softmax(a, axis=-1), _matrices, ("general",)),
    ),
    fuzz=(Fuzz(bound=lambda lo, hi, n, **attrs: hi + 3.0, attrs=_FUZZ_AXES),),
)
declare(_LOGSUMEXP)


def _weighted_lines(var: str, args: Sequence[str], fresh: Callable[[str], str],
                    node: Expr) -> list[str]:
    assert isinstance(node, Apply)
    special = fresh("special")
    axis, keepdims = node.attrs["axis"], node.attrs["keepdims"]
    return [
        f"from scipy import special as {special}",
        f"{var} = {special}.logsumexp({args[0]}, axis={axis!r}, b={args[1]}, "
        f"keepdims={keepdims!r})",
    ]


_WEIGHTED = Operation(
    name="weighted_logsumexp",
    family="softmax",
    doc="log Σ b exp(x) over all axes or over axis (SciPy's logsumexp with b=)",
    arity=2,
    shape=_lse_shape,
    numpy=_weighted_numpy,
    array_api=_lse_portable,
    batched_attrs=_shift_axes,
    differential=_d_weighted_logsumexp,
    attrs=("axis", "keepdims"),
    check=_lse_check,
    canonical=_weighted_canonical,
    dtype=real_dtype,
    domain=lambda attrs: ("general", "positive"),
    notation=Notation(
        text="logsumexp({0}, b={1}, axis={axis}, keepdims={keepdims})",
        latex=r"\log\sum {1:atom} \odot \exp{0:arg}",
        numpy_lines=_weighted_lines,
    ),
    samples=(
        Sample("logsumexp-b", lambda a, w: logsumexp(a, axis=0, b=w), _matrix_pair,
               ("general", "positive")),
        Sample("logsumexp-b-constant",
               lambda a: logsumexp(a, b=np.arange(a.size).reshape(a.shape) % 3 + 0.5),
               _matrices, ("general",)),
    ),
    fuzz=(Fuzz(operands=("positive",), attrs=_FUZZ_AXES,
               bound=lambda lo, hi, n, **attrs: hi[0] + abs(math.log(lo[1])) + abs(
                   math.log(hi[1])) + 3.0),),
)
declare(_WEIGHTED)


def logsumexp(a: Any, axis: Any = None, b: Any = None, keepdims: bool = False,
              return_sign: bool = False) -> Expr:
    """``log Σ exp(a)`` over all axes or over ``axis`` (an int or a tuple, negative
    from the end), with SciPy's signature (``scipy.special.logsumexp``): ``b``
    weighs the terms, ``log Σ b exp(a)`` (broadcast against ``a``; a zero weight
    drops its term); ``keepdims`` keeps the reduced axes with size 1.  Computed
    without overflow; its derivative is the softmax.  ``return_sign=True`` is not
    supported (the sign has no derivative).

    >>> import matgrad as mg, numpy as np
    >>> x = mg.Vector("x", 2)
    >>> float(mg.logsumexp(x).evaluate(x=np.array([1000.0, 1000.0])))
    1000.6931471805599
    """
    if return_sign:
        raise UnsupportedOperationError(
            "logsumexp: return_sign=True is not supported on matgrad expressions; "
            "weights b with a positive sum give the logarithm itself"
        )
    if b is not None:
        return weighted_logsumexp(a, b, axis, keepdims)
    xe = as_expr(a)
    return _LOGSUMEXP(xe, axis=reduction_axes(axis, xe.ndim, "logsumexp"), keepdims=keepdims)


def weighted_logsumexp(a: Any, b: Any, axis: Any = None, keepdims: bool = False) -> Expr:
    """``log Σ b exp(a)`` over all axes or over ``axis``: ``logsumexp(a, axis, b=b,
    keepdims)``, ``a`` and ``b`` broadcast to one shape.  Differentiable in both;
    the weights must give a positive sum (otherwise NaN, as SciPy)."""
    xe, be = as_expr(a), as_expr(b)
    ndim = len(_broadcast_shape("logsumexp", xe.shape, be.shape))
    return _WEIGHTED(xe, be, axis=reduction_axes(axis, ndim, "logsumexp"), keepdims=keepdims)


logsumexp.op = _LOGSUMEXP  # type: ignore[attr-defined]
weighted_logsumexp.op = _WEIGHTED  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------
# Built from logsumexp
# ---------------------------------------------------------------------------------------


def softmax(x: Any, axis: Any = None) -> Expr:
    """``exp(x) / Σ exp(x)`` over all axes or over ``axis`` (``scipy.special.softmax``),
    as ``exp(x − logsumexp(x, axis, keepdims=True))``: no overflow at any finite
    ``x``.

    >>> import matgrad as mg, numpy as np
    >>> mg.softmax(mg.Vector("x", 2)).evaluate(x=np.array([-1000.0, 1000.0]))
    array([0., 1.])
    """
    xe = as_expr(x)
    return exp(xe - logsumexp(xe, axis=axis, keepdims=True))


def log_softmax(x: Any, axis: Any = None) -> Expr:
    """``x − logsumexp(x, axis, keepdims=True)`` (``scipy.special.log_softmax``)."""
    xe = as_expr(x)
    return xe - logsumexp(xe, axis=axis, keepdims=True)


language_function(Language(("logsumexp",), "log of the sum of exp of the entries", "x -> ()"),
                  lambda x: logsumexp(x))
language_function(Language(("softmax",), "exp(x) / sum(exp(x)) over all entries", "x -> x"),
                  lambda x: softmax(x))
language_function(Language(("log_softmax",), "x − logsumexp(x) over all entries", "x -> x"),
                  lambda x: log_softmax(x))

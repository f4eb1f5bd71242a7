"""Elementwise functions of two operands (layer 3), with NumPy's broadcasting:
``pow`` (``x ** y`` with an expression or array exponent; a constant scalar
exponent is :func:`~matgrad.ops.elementwise.power`), ``logaddexp``,
``logaddexp2``, ``arctan2`` and ``hypot``.

Where they are not differentiable: ``hypot`` at ``(0, 0)`` takes the
derivative ``(0, 0)`` (as ``hypot(x, 0) = |x|`` has ``abs′(0) = 0``);
``arctan2`` at ``(0, 0)`` has none (``0/0``, NaN, as in JAX); ``pow`` with a
varying exponent needs a positive base (``log x``), except at ``x = 0`` with
``y > 0``, where the power is 0 for every exponent near and its derivative in
``y`` is 0, as in JAX.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from matgrad._types import Shape
from matgrad.ir.apply import Apply, Fuzz, Language, Notation, Operation, Sample, same_shape
from matgrad.ir.expr import Constant, Expr, Zero, add, as_expr, einsum_node, ones, zeros
from matgrad.ops.core import _broadcast_shape, _broadcast_to
from matgrad.ops.elementwise import exp2, log, power, sigmoid
from matgrad.ops.piecewise import broadcasting, equal, ordered_dtype, where
from matgrad.ops.registry import declare

__all__ = ["arctan2", "hypot", "logaddexp", "logaddexp2", "pow"]


def _hadamard(*factors: Expr) -> Expr:
    labels = tuple(range(factors[0].ndim))
    return einsum_node(list(factors), [labels] * len(factors), labels)


def _weighted(node: Expr, d: tuple[Expr, ...], *weights: Callable[[], Expr]) -> Expr:
    """``Σₖ wₖ ⊙ dₖ`` over the operands that vary (a weight is built only if needed)."""
    terms = [_hadamard(w(), dk) for w, dk in zip(weights, d) if not isinstance(dk, Zero)]
    return add(terms) if terms else zeros(node.shape, node.dtype)


def _minus(a: Expr, b: Expr) -> Expr:
    return add([a, b], [1, -1])


def _vectors(n: int, m: int) -> tuple[Shape, ...]:
    return ((n,), (n,))


def _binary(
    name: str, doc: str, ufunc: np.ufunc, differential: Callable[[Expr, tuple[Expr, ...]], Expr],
    samples: tuple[Sample, ...], **extra: Any,
) -> Operation:
    """The declaration of a smooth elementwise function of two operands (broadcast
    to one shape unless ``extra`` gives another ``canonical``)."""
    extra.setdefault("canonical", broadcasting(name))
    return Operation(
        name=name,
        family="binary",
        doc=doc,
        arity=2,
        shape=same_shape,
        numpy=ufunc,
        differential=differential,
        dtype=ordered_dtype,
        elementwise=True,
        preserves_symmetry=True,
        numpy_functions=((ufunc, None),),
        language=Language((name,), f"{name}(x, y): {doc}", "x, x -> x"),
        samples=samples,
        **extra,
    )


# ---------------------------------------------------------------------------------------
# pow: x ** y with an expression exponent
# ---------------------------------------------------------------------------------------


def _d_pow(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d xʸ = y x^(y−1) ⊙ dx + xʸ log(x) ⊙ dy`` (the second term for a varying
    exponent only, which needs a positive base, or x = 0 where y > 0: there xʸ = 0
    for every y near, and the term is 0, as in JAX).  For a constant exponent the
    power ``y − 1`` is taken as 1 where ``y = 0`` (its coefficient is 0 there), so
    that derivatives of every order stay finite at ``x = 0``, as in JAX."""
    assert isinstance(node, Apply)
    x, y = node.args

    def slope() -> Expr:
        if isinstance(y, Constant):
            lower = as_expr(np.where(y.value == 0, 1.0, np.subtract(y.value, 1.0)).astype(y.dtype))
        else:
            lower = _minus(y, ones(y.shape, y.dtype))
        return _hadamard(y, pow(x, lower))

    def log_base() -> Expr:
        # xʸ log x with log 1 in place of log 0: where x = 0 (and y > 0) the power is 0
        # for every y near, so the term is 0, not 0 · (−∞); its own derivatives stay
        # finite there, as in JAX
        zero = x == 0.0
        return _hadamard(node, log(where(zero, ones(x.shape, x.dtype), x)))

    return _weighted(node, d, slope, log_base)


def _pow_canonical(x: Expr, y: Expr) -> Expr | None:
    """``np.power(x, y)`` and ``x ** y`` build this: a constant real scalar exponent
    is the declared ``power``; otherwise the operands are broadcast."""
    if isinstance(y, Constant) and y.shape == () and not np.iscomplexobj(y.value):
        return power(x, float(y.value))
    if isinstance(y, Constant) and y.shape != x.shape:  # a constant stays a constant
        target = _broadcast_shape("pow", x.shape, y.shape)
        return pow(_broadcast_to(x, target, "pow"), np.broadcast_to(y.value, target))
    return broadcasting("pow")(x, y)


def _pow_corners(lo: tuple[float, float], hi: tuple[float, float]) -> list[float]:
    """``bᵉ`` at the corners of the fuzzer's bounds: base in ``[lo₀, hi₀]``,
    exponent in ``[−hi₁, hi₁]``."""
    return [b**e for b in (lo[0], hi[0]) for e in (-hi[1], hi[1])]


def _integer_exponents(a: Expr) -> Expr:
    return pow(a, as_expr(np.arange(a.size, dtype=float).reshape(a.shape) % 3 + 1.0))


pow: Callable[..., Expr] = declare(
    _binary(
        "pow", "entrywise power x ** y with an expression exponent", np.power, _d_pow,
        (
            Sample("pow", None, _vectors, ("positive", "general")),
            Sample("pow-base", lambda b: 2.0**b, lambda n, m: ((n, m),), ("general",)),
            Sample("pow-array", _integer_exponents, lambda n, m: ((n, m),), ("general",)),
        ),
        domain=lambda attrs: ("positive", "general"),
        canonical=_pow_canonical,
        array_api=lambda ns, attrs: lambda x, y: x**y,
        notation=Notation(
            text="{0:atom} ** {1:atom}", latex="{0:base}^{{{1}}}", index="{0:atom}**{1:atom}",
            numpy="np.power({0}, {1})", power=True, superscript=True,
        ),
        fuzz=(Fuzz("positive", 2.0, lambda lo, hi, n: max(_pow_corners(lo, hi)), positive=True,
                   low=lambda lo, hi: min(_pow_corners(lo, hi)), operands=("general",)),),
    )
)


# ---------------------------------------------------------------------------------------
# logaddexp, logaddexp2
# ---------------------------------------------------------------------------------------


def _d_logaddexp(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d log(eᵃ + eᵇ) = σ(a−b) ⊙ da + σ(b−a) ⊙ db``: the softmax weights
    ``eᵃ / (eᵃ + eᵇ) = σ(a − b)``, each in (0, 1), computed without overflow by
    one logistic function (``e^(a − logaddexp(a, b))`` is the same number, for
    three transcendental functions an entry)."""
    assert isinstance(node, Apply)
    a, b = node.args
    return _weighted(node, d, lambda: sigmoid(_minus(a, b)), lambda: sigmoid(_minus(b, a)))


def _d_logaddexp2(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d log₂(2ᵃ + 2ᵇ) = 2^(a−f) ⊙ da + 2^(b−f) ⊙ db`` with ``f = logaddexp2(a, b)``."""
    assert isinstance(node, Apply)
    a, b = node.args
    return _weighted(node, d, lambda: exp2(_minus(a, node)), lambda: exp2(_minus(b, node)))


_GENERAL2 = ("general", "general")

logaddexp: Callable[..., Expr] = declare(
    _binary(
        "logaddexp", "entrywise log(exp(x) + exp(y)), without overflow", np.logaddexp,
        _d_logaddexp, (Sample("logaddexp", None, _vectors, _GENERAL2),),
        notation=Notation(numpy="np.logaddexp({0}, {1})"),
        fuzz=(Fuzz(bound=lambda lo, hi, n: max(hi) + 1.0),),
    )
)
logaddexp2: Callable[..., Expr] = declare(
    _binary(
        "logaddexp2", "entrywise log2(2 ** x + 2 ** y), without overflow", np.logaddexp2,
        _d_logaddexp2, (Sample("logaddexp2", None, _vectors, _GENERAL2),),
        notation=Notation(numpy="np.logaddexp2({0}, {1})"),
        fuzz=(Fuzz(bound=lambda lo, hi, n: max(hi) + 1.0),),
    )
)


# ---------------------------------------------------------------------------------------
# arctan2, hypot
# ---------------------------------------------------------------------------------------


def _d_arctan2(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d atan2(y, x) = (x dy − y dx) / (x² + y²)``; at ``(0, 0)``, where atan2 is
    not continuous, ``0/0`` (NaN), as in JAX."""
    assert isinstance(node, Apply)
    y, x = node.args
    inverse = power(add([power(x, 2.0), power(y, 2.0)]), -1.0)
    return _weighted(
        node, d, lambda: _hadamard(x, inverse), lambda: add([_hadamard(y, inverse)], [-1])
    )


def _d_hypot(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d hypot(a, b) = (a da + b db) / hypot(a, b)``, and 0 at ``a = b = 0`` (the
    least subgradient, as ``hypot(x, 0) = |x|`` and ``abs′(0) = 0``): the division is
    by ``h + [h = 0]``."""
    assert isinstance(node, Apply)
    a, b = node.args
    safe = power(add([node, equal(node, 0.0)]), -1.0)
    return _weighted(node, d, lambda: _hadamard(a, safe), lambda: _hadamard(b, safe))


arctan2: Callable[..., Expr] = declare(
    _binary(
        "arctan2", "entrywise angle of the point (x, y) (arguments y, x), in (−π, π]",
        np.arctan2, _d_arctan2, (Sample("arctan2", None, _vectors, ("nonzero", "general")),),
        notation=Notation(numpy="np.arctan2({0}, {1})"),
        fuzz=(Fuzz("nonzero", operands=("general",), bound=lambda lo, hi, n: math.pi),),
    )
)
hypot: Callable[..., Expr] = declare(
    _binary(
        "hypot", "entrywise sqrt(x ** 2 + y ** 2), without overflow", np.hypot, _d_hypot,
        (Sample("hypot", None, _vectors, ("nonzero", "general")),),
        notation=Notation(numpy="np.hypot({0}, {1})"),
        fuzz=(Fuzz("nonzero", operands=("general",), bound=lambda lo, hi, n: hi[0] + hi[1],
                   positive=True, low=lambda lo, hi: lo[0]),),
    )
)

"""Taylor polynomials of any order, univariate and multivariate (layer 4).

The Taylor polynomial of degree ``k`` of ``f`` at ``x₀`` is (MML (5.7) for one
variable, (5.151)–(5.159) for several)::

    T_k(x) = Σ_{j=0..k} (1/j!) · Dʲf(x₀)[δ, …, δ],     δ = x − x₀,

where ``Dʲf(x₀)`` is the ``j``-th derivative tensor (shape ``f.shape + j * x.shape``,
the layout of :func:`matgrad.derivative`) and ``[δ, …, δ]`` contracts each of its
``j`` trailing groups of axes with ``δ``: the full contraction ``Dʲf(x₀)·δʲ`` of
(5.154), where ``δʲ`` is the ``j``-fold outer product of ``δ``.  For ``j = 1`` this
is ``∇f(x₀)·δ``, for ``j = 2`` it is ``δᵀ H δ``.

:func:`taylor` returns the polynomial as a matgrad expression in the symbol
``x``; :func:`taylor_terms` returns the coefficient tensors ``Dʲf(x₀)/j!``
themselves; :func:`linearize` is the first-order case (5.147).

**Other symbols.**  The expansion point ``at`` is a value for ``wrt`` only.  Any
other symbol of ``f`` stays symbolic: the coefficients are then expressions in
those symbols, and the polynomial can be evaluated for any of their values.  To
fix some of them instead, pass ``values={name: array}``; they are replaced by
constants before differentiating, exactly as if ``f`` had been built with
those arrays.  When no symbol but ``wrt`` is left, every coefficient is
computed once and stored as a constant.

**Evaluation at a point.**  A polynomial (or coefficient) accepts values for
``wrt`` and the other symbols of ``expr`` even where it does not depend on them
(the order-0 polynomial is a constant): they are recorded as what it was
derived from (:func:`matgrad.ir.bindings.record_derivation`).  Symbols fixed by
``values``, and symbols replaced by :func:`substitute`, are not: a value for
them would be ignored, so it is refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from matgrad.calculus.diff import derivative
from matgrad.calculus.simplify import simplify
from matgrad.errors import BindingError, InvalidArgumentError
from matgrad.ir.bindings import check_value, derived_symbols, record_derivation
from matgrad.ir.expr import Expr, Symbol, Zero, add, as_expr, constant, einsum_node, zeros

__all__ = ["linearize", "substitute", "taylor", "taylor_terms"]

Values = Mapping[Any, Any]
"""Values for symbols other than the expansion variable: keys are names or symbols."""


def substitute(expr: Expr, replacements: Mapping[Symbol, Any]) -> Expr:
    """``expr`` with each symbol in ``replacements`` replaced by an expression or
    array of the same shape (arrays become constants).

    >>> import numpy as np, matgrad as mg
    >>> from matgrad.calculus.taylor import substitute
    >>> x = mg.Scalar("x"); y = mg.Scalar("y")
    >>> float(substitute(x * y + y, {x: np.array(2.0)}).evaluate(y=3.0))
    9.0
    """
    table: dict[int, Expr] = {}
    for sym, value in replacements.items():
        if not isinstance(sym, Symbol):
            raise InvalidArgumentError(
                f"substitute: keys must be symbols, got {type(sym).__name__}"
            )
        new = as_expr(value)
        if new.shape != sym.shape:
            raise BindingError(
                f"substitute: value for {sym.name!r} has shape {new.shape}, "
                f"expected {sym.shape}"
            )
        table[sym.uid] = new
    done: dict[int, Expr] = {}
    for node in expr.walk():
        if node.uid in table:
            done[node.uid] = table[node.uid]
        elif node.children:
            children = [done[c.uid] for c in node.children]
            if all(new is old for new, old in zip(children, node.children)):
                done[node.uid] = node
            else:
                done[node.uid] = node.rebuild(children)
        else:
            done[node.uid] = node
    kept = (set(expr.symbols()) | set(derived_symbols(expr))) - set(replacements)
    return record_derivation(done[expr.uid], (), kept)


def _check_order(order: Any) -> int:
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 0:
        raise InvalidArgumentError(f"taylor: order must be a non-negative int, got {order!r}")
    return int(order)


def _prepare(expr: Any, wrt: Any, at: Any, values: Values | None) -> tuple[Expr, Symbol, Any]:
    """Validate the arguments; return ``f`` with ``values`` substituted, ``wrt``,
    and the expansion point as an array of ``wrt``'s shape."""
    if not isinstance(expr, Expr):
        raise InvalidArgumentError(
            f"taylor: expected a matgrad expression, got {type(expr).__name__}"
        )
    if not isinstance(wrt, Symbol):
        what = wrt.kind if isinstance(wrt, Expr) else type(wrt).__name__
        raise InvalidArgumentError(f"taylor: wrt must be a symbol, got {what}")
    point = check_value(wrt, at)
    if not values:
        return expr, wrt, point
    by_name = {s.name: s for s in expr.symbols()}
    fixed: dict[Symbol, Any] = {}
    for key, value in values.items():
        name = key.name if isinstance(key, Symbol) else key
        if not isinstance(name, str):
            raise InvalidArgumentError(
                f"taylor: keys of values must be symbol names or symbols, got {key!r}"
            )
        if name == wrt.name:
            raise BindingError(
                f"taylor: {name!r} is the expansion variable; give its point as `at`"
            )
        sym = by_name.get(name)
        if sym is None:
            raise BindingError(
                f"taylor: values names {name!r}, which is not a symbol of the expression "
                f"(its symbols: {sorted(by_name)})"
            )
        fixed[sym] = check_value(sym, value)
    return substitute(expr, fixed), wrt, point


def _coefficient(dk: Expr, wrt: Symbol, point: Any, k: int) -> Expr:
    """``Dᵏf(x₀)/k!`` as an expression: a constant when nothing symbolic is left."""
    scale = 1.0 / math.factorial(k)
    if isinstance(dk, Zero):
        return dk
    rest = [s for s in dk.symbols() if s is not wrt]
    if not rest:
        value = dk.evaluate(**{wrt.name: point}) if dk.depends_on(wrt) else dk.evaluate()
        return constant(np.multiply(value, scale))
    at_point = substitute(dk, {wrt: constant(point)}) if dk.depends_on(wrt) else dk
    return simplify(add([at_point], [scale]))


def taylor_terms(
    expr: Expr, wrt: Symbol, at: Any, order: int, *, values: Values | None = None
) -> tuple[Expr, ...]:
    """The coefficient tensors ``Dᵏf(x₀)/k!`` for ``k = 0 … order``.

    Term ``k`` has shape ``expr.shape + k * wrt.shape``; it is a constant when
    ``expr`` has no symbols besides ``wrt`` (and those fixed by ``values``), an
    expression in the remaining symbols otherwise.  These are the numbers the
    Taylor polynomial is made of: for a scalar ``wrt`` the coefficient of
    ``(x − x₀)ᵏ``.

    >>> import numpy as np, matgrad as mg
    >>> from matgrad.calculus.taylor import taylor_terms
    >>> x = mg.Scalar("x")
    >>> [float(c.evaluate()) for c in taylor_terms(x**4, x, 1.0, 5)]   # (MML Ex 5.3)
    [1.0, 4.0, 6.0, 4.0, 1.0, 0.0]
    """
    f, x, point = _prepare(expr, wrt, at, values)
    count = _check_order(order) + 1
    terms: list[Expr] = []
    dk = simplify(f)
    for k in range(count):
        if k:
            dk = derivative(dk, x)
        terms.append(record_derivation(_coefficient(dk, x, point, k), [f], [x]))
    return tuple(terms)


def _contract(coeff: Expr, step: Expr, k: int, out_ndim: int) -> Expr:
    """``coeff[o, i₁, …, i_k] δ[i₁] ⋯ δ[i_k]`` (each ``iⱼ`` a group of ``δ.ndim`` axes)."""
    if k == 0 or isinstance(coeff, Zero):
        return coeff
    r = step.ndim
    out = tuple(("o", a) for a in range(out_ndim))
    groups = [tuple(("i", j, a) for a in range(r)) for j in range(k)]
    indices = [out + tuple(label for g in groups for label in g), *groups]
    return einsum_node([coeff, *([step] * k)], indices, out)


def taylor(
    expr: Expr, wrt: Symbol, at: Any, order: int, *, values: Values | None = None
) -> Expr:
    """The Taylor polynomial of degree ``order`` of ``expr`` in ``wrt`` at ``wrt = at``:
    ``Σₖ (1/k!) Dᵏf(at)[δ, …, δ]`` with ``δ = wrt − at`` (MML (5.7), (5.151)).

    The result is an expression of ``expr``'s shape in the symbol ``wrt`` (and in
    any other symbol of ``expr`` not fixed by ``values``; see the module
    docstring).  ``at`` must have ``wrt``'s shape.  A polynomial of degree at most
    ``order`` is reproduced exactly (up to rounding).

    >>> import numpy as np, matgrad as mg
    >>> x = mg.Scalar("x")
    >>> T6 = mg.taylor(x**4, x, at=1.0, order=6)            # MML Example 5.3
    >>> bool(np.isclose(T6.evaluate(x=3.0), 81.0))
    True
    >>> v = mg.Vector("v", 2)
    >>> T2 = mg.taylor(mg.exp(v @ v), v, at=np.zeros(2), order=2)
    >>> round(float(T2.evaluate(v=np.array([0.1, 0.2]))), 6)   # 1 + |v|²
    1.05
    """
    coeffs = taylor_terms(expr, wrt, at, order, values=values)
    point = check_value(wrt, at)
    step = wrt if not np.any(point) else wrt - constant(point)   # Maclaurin: δ = x
    parts = [_contract(c, step, k, expr.ndim) for k, c in enumerate(coeffs)]
    nonzero = [p for p in parts if not isinstance(p, Zero)]
    result = simplify(add(nonzero)) if nonzero else zeros(expr.shape, expr.dtype)
    return record_derivation(result, coeffs, [wrt])


def linearize(expr: Expr, wrt: Symbol, at: Any, *, values: Values | None = None) -> Expr:
    """The first-order Taylor polynomial ``f(x₀) + ∇f(x₀)(x − x₀)`` (MML (5.147)).

    >>> import numpy as np, matgrad as mg
    >>> x = mg.Vector("x", 2)
    >>> L = mg.linearize(mg.sin(x), x, at=np.zeros(2))      # sin x ≈ x near 0
    >>> L.evaluate(x=np.array([0.5, -1.0]))
    array([ 0.5, -1. ])
    """
    return taylor(expr, wrt, at, 1, values=values)

"""Factors for the reading normal form (layer 5): the algebra of
:mod:`matgrad.calculus.display` on the factors of one product.

A factor is a base and an exponent (``sqrt(u)`` is ``u^½``); factors of one base
over the same indices merge.  The logistic family — ``exp(±z)``, ``1 + exp(±z)``,
``σ(±z)``, ``1 − σ(±z)`` — is ``exp(z)^α (1 + exp(z))^β`` for integers ``α, β``,
so any product of its members is reduced to the fewest of them
(:func:`logistic_factors`).  Functions seen alone are rewritten here too
(:func:`function_rule`): powers of powers, powers of scaled bases, the one entry
of a size-1 array.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np

from matgrad.ir.apply import Apply
from matgrad.ir.expr import (
    Add,
    Constant,
    Delta,
    Einsum,
    Expr,
    Ones,
    add,
    constant,
    delta,
    einsum_node,
    ones,
)
from matgrad.ops.elementwise import exp, power, sigmoid, sqrt
from matgrad.ops.linalg import adj, det, inv
from matgrad.ops.structure import reshape

__all__ = [
    "Factor",
    "adjugates",
    "inverse_pairs",
    "base_exponent",
    "elementwise_factors",
    "entrywise",
    "function_rule",
    "is_negated_sigmoid",
    "is_one",
    "logistic_factors",
    "logistic_form",
    "merge_factors",
    "one_like",
    "sigmoid_argument",
    "signed",
    "split_coefficient",
]

_POWER = power.op  # type: ignore[attr-defined]
_SQRT = sqrt.op  # type: ignore[attr-defined]
_EXP = exp.op  # type: ignore[attr-defined]
_SIGMOID = sigmoid.op  # type: ignore[attr-defined]
_ADJ = adj.op  # type: ignore[attr-defined]
_DET = det.op  # type: ignore[attr-defined]
_INV = inv.op  # type: ignore[attr-defined]
_RESHAPE = reshape.op  # type: ignore[attr-defined]

Factor = tuple[Expr, tuple[Hashable, ...]]
"""A factor of a product and its index labels."""


def base_exponent(node: Expr) -> tuple[Expr, float]:
    if isinstance(node, Apply) and node.op is _POWER:
        return node.x, float(node.attrs["p"])
    if isinstance(node, Apply) and node.op is _SQRT:
        return node.x, 0.5
    return node, 1.0


def signed(node: Expr) -> tuple[int, Expr]:
    """``(−1, c)`` for ``node = −c``, else ``(1, node)``: of a sum and its negation,
    the one whose first term has a positive coefficient is ``c``
    (``s − a`` is ``−(a − s)`` when ``a`` comes first)."""
    if isinstance(node, Add) and len(node.terms) == 1 and node.coeffs[0] == -1:
        return -1, node.terms[0]
    if isinstance(node, Add) and len(node.terms) > 1:
        first = node.coeffs[0]
        if not isinstance(first, complex) and first < 0:
            return -1, add([node], [-1])
    return 1, node


def is_one(node: Expr) -> bool:
    if isinstance(node, Ones):
        return True
    return isinstance(node, Constant) and node.shape == () and node.value.item() == 1


def logistic_form(node: Expr) -> tuple[Expr, int, int, int] | None:
    """``node = sign · exp(c)^α (1 + exp(c))^β`` as ``(c, α, β, sign)``, for
    ``exp(±c)``, ``1 + exp(±c)``, ``σ(±c)``, ``1 − σ(±c)`` and ``σ(±c) − 1``."""
    if isinstance(node, Apply) and node.op is _EXP:
        s, c = signed(node.x)
        return c, s, 0, 1
    if isinstance(node, Apply) and node.op is _SIGMOID:
        s, c = signed(node.x)
        return (c, 1, -1, 1) if s == 1 else (c, 0, -1, 1)
    if isinstance(node, Add) and len(node.terms) == 2:
        (t0, c0), (t1, c1) = zip(node.terms, node.coeffs)
        if is_one(t1):
            (t0, c0), (t1, c1) = (t1, c1), (t0, c0)
        if not is_one(t0) or c0 not in (1, -1) or not isinstance(t1, Apply):
            return None
        s, c = signed(t1.x) if t1.args else (1, t1)
        if t1.op is _EXP and c0 == 1 and c1 == 1:  # 1 + exp(±c)
            return (c, 0, 1, 1) if s == 1 else (c, -1, 1, 1)
        if t1.op is _SIGMOID and c1 == -c0:  # ±(1 − σ(±c)) = ±σ(∓c)
            sign = 1 if c0 == 1 else -1
            return (c, 0, -1, sign) if s == 1 else (c, 1, -1, sign)
    return None


def one_like(shape: tuple[int, ...], dtype: Any) -> Expr:
    return constant(np.ones((), dtype)) if shape == () else ones(shape, dtype)


def negate(c: Expr) -> Expr:
    return add([c], [-1])


def logistic_factors(c: Expr, alpha: int, beta: int) -> list[Expr]:
    """The fewest factors of the logistic family equal to ``exp(c)^α (1+exp(c))^β``
    (``β ≤ 0``): ``σ(c)^a (1 − σ(c))^b`` times a power of ``exp(±c)``."""
    n = -beta
    if alpha < 0:
        a, b, rest = 0, n, power(exp(negate(c)), -alpha)
    elif alpha > n:
        a, b, rest = n, 0, power(exp(c), alpha - n)
    else:
        a, b, rest = alpha, n - alpha, None
    out: list[Expr] = [] if rest is None else [rest]
    if a and b:
        complement = add([one_like(c.shape, c.dtype), sigmoid(c)], [1, -1])
        out += [power(sigmoid(c), a), power(complement, b)]
    elif a:
        out.append(power(sigmoid(c), a))
    elif b:
        out.append(power(sigmoid(negate(c)), b))
    return out


def merge_factors(ops: list[Expr]) -> tuple[list[Expr], complex] | None:
    """Factors over the same indices, merged: powers of one base add up, the
    logistic family is reduced.  ``None`` when nothing changes."""
    bases: dict[int, list[Any]] = {}
    logistic: dict[int, list[Any]] = {}
    sign: complex = 1
    for op in ops:
        base, p = base_exponent(op)
        form = logistic_form(base) if float(p).is_integer() else None
        if form is not None:
            c, alpha, beta, s = form
            entry = logistic.setdefault(c.uid, [c, 0, 0, []])
            entry[1] += alpha * int(p)
            entry[2] += beta * int(p)
            entry[3].append(op)
            sign *= s ** int(p)
            continue
        s, inner = signed(base)
        flip = s == -1 and float(p).is_integer()
        if flip and isinstance(base, Add) and len(base.terms) > 1 and p % 2:
            flip = False  # (b − a)³ stays: its sign is the sum's to carry
        if flip:
            base, sign = inner, sign * (-1) ** int(p)
        entry = bases.setdefault(base.uid, [base, 0.0, []])
        entry[1] += p
        entry[2].append(None if flip else op)
    out: list[Expr] = []
    for base, p, originals in bases.values():
        p = round(p, 12)
        if len(originals) == 1 and originals[0] is not None and base_exponent(originals[0])[1] == p:
            out.append(originals[0])  # as written: sqrt(u) stays sqrt(u)
        elif p == 0.5:
            out.append(sqrt(base))
        elif p != 0:
            out.append(power(base, p))
    for c, alpha, beta, originals in logistic.values():
        if beta > 0:
            out.extend(originals)
        else:
            out.extend(logistic_factors(c, alpha, beta))
    if sorted(o.uid for o in out) == sorted(o.uid for o in ops) and sign == 1:
        return None
    return out, sign


def split_coefficient(node: Expr) -> tuple[complex, Expr]:
    if isinstance(node, Add) and len(node.terms) == 1:
        return node.coeffs[0], node.terms[0]
    return 1, node


def inverse_pairs(factors: list[Factor], out: tuple[Hashable, ...]) -> bool:
    """``inv(M) M`` and ``M inv(M)`` joined by an index that nothing else carries
    are the identity (a delta, which flattening then removes)."""
    for k, (op, ix) in enumerate(factors):
        if not (isinstance(op, Apply) and op.op is _INV) or len(ix) != 2:
            continue
        for j, (other, oix) in enumerate(factors):
            if other is not op.x or len(oix) != 2:
                continue
            for inner, a, c in ((ix[1], ix[0], oix[1]), (ix[0], oix[0], ix[1])):
                joined = inner == (oix[0] if inner == ix[1] else oix[1])
                alone = sum(inner in i for _, i in factors) == 2 and inner not in out
                if joined and alone and a != inner and c != inner:
                    n = op.shape[0]
                    factors[k] = (delta(n, op.dtype), (a, c))
                    del factors[j]
                    return True
    return False


def adjugates(factors: list[Factor]) -> bool:
    """``adj(X) det(X)^q`` with ``q < 0`` becomes ``inv(X) det(X)^(q+1)``."""
    changed = False
    for k, (op, ix) in enumerate(factors):
        if not (isinstance(op, Apply) and op.op is _ADJ):
            continue
        for j, (other, oix) in enumerate(factors):
            base, q = base_exponent(other)
            is_det = isinstance(base, Apply) and base.op is _DET and base.x is op.x
            if oix == () and is_det and q < 0:
                factors[k] = (inv(op.x), ix)
                factors[j] = (power(base, q + 1) if q != -1 else one_like((), base.dtype), ())
                changed = True
                break
    return changed


def function_rule(node: Apply) -> Expr:
    """A function node seen as a product of one factor, so that ``sqrt(u) ** 2``,
    ``(1 + exp(−z))⁻¹`` and ``(−u) ** 2`` read as ``u``, ``σ(z)`` and ``u ** 2``."""
    if node.op is _ADJ and isinstance(node.x, Apply) and node.x.op is _INV:
        inner = node.x.x  # adj(X⁻¹) = X / det X; a sum X would be multiplied out
        if not isinstance(inner, Add):
            return einsum_node([det(node.x), inner], [(), (0, 1)], (0, 1))
    if node.op is _RESHAPE and node.shape == () and node.x.size == 1:
        collapsed = scalar_of(node.x)
        if collapsed is not None:
            return collapsed
    nested = nested_power(node)
    if nested is not None:
        return nested
    scaled = scaled_power(node)
    if scaled is not None:
        return scaled
    merged = merge_factors([node])
    if merged is None:
        return node
    new, sign = merged
    ix = tuple(range(node.ndim))
    if not new:
        return add([one_like(node.shape, node.dtype)], [sign])
    return add([einsum_node(new, [ix] * len(new), ix)], [sign])


def scalar_of(node: Expr) -> Expr | None:
    """The one entry of a size-1 array, as a scalar expression: ``s * ones(1)`` is
    ``s``, a reduction with ``keepdims=True`` is the one without."""
    coeff, core = split_coefficient(node)
    if isinstance(core, Einsum):
        out = set(core.out)
        kept = [(op, ix) for op, ix in zip(core.operands, core.indices) if not isinstance(op, Ones)]
        if kept and not any(out & set(ix) for _, ix in kept):
            inner = einsum_node([op for op, _ in kept], [ix for _, ix in kept], ())
            return add([inner], [coeff])
    if isinstance(core, Apply) and core.attrs.get("keepdims") is True:
        attrs = {**core.attrs, "keepdims": False}
        reduced = core.op(*core.args, **attrs)
        if reduced.shape == ():
            return add([reduced], [coeff])
    return None


def nested_power(node: Apply) -> Expr | None:
    """``(u^a)^b = u^(a b)`` (``sqrt`` is the power ½) — not when ``a`` is even and
    ``b`` is not an integer: ``(u²)^½`` is ``|u|``."""
    if node.op is not _POWER and node.op is not _SQRT:
        return None
    inner = node.x
    if not (isinstance(inner, Apply) and (inner.op is _POWER or inner.op is _SQRT)):
        return None
    _, b = base_exponent(node)
    base, a = base_exponent(inner)
    if float(a).is_integer() and a % 2 == 0 and not float(b).is_integer():
        return None
    return power(base, a * b)


def scaled_power(node: Apply) -> Expr | None:
    """``(c u)^p = c^p u^p`` for a positive number ``c`` (or an integer ``p``)."""
    if node.op is not _POWER and node.op is not _SQRT:
        return None
    coeff, inner = split_coefficient(node.x)
    _, p = base_exponent(node)
    if coeff == 1 or isinstance(coeff, complex):
        return None
    if coeff < 0 and not float(p).is_integer():
        return None
    return add([power(inner, p)], [coeff**p])


def sigmoid_argument(node: Expr) -> Expr | None:
    """``z`` for ``node = σ(z)``, else ``None``."""
    return node.x if isinstance(node, Apply) and node.op is _SIGMOID else None


def is_negated_sigmoid(node: Expr) -> bool:
    return isinstance(node, Apply) and node.op is _SIGMOID and signed(node.x)[0] == -1


def elementwise_factors(node: Expr) -> list[Expr] | None:
    """The factors of an entrywise product (a node alone is one factor)."""
    if isinstance(node, Einsum):
        if all(ix == node.out for ix in node.indices) and not any(
            isinstance(o, (Delta, Ones)) for o in node.operands
        ):
            return list(node.operands)
        return None
    return [node]


def entrywise(node: Expr) -> tuple[complex, list[Expr]]:
    """``node`` as a coefficient times entrywise factors, nested entrywise
    products (and their coefficients) taken apart."""
    coeff, core = split_coefficient(node)
    factors = elementwise_factors(core) if isinstance(core, Einsum) else None
    if factors is None:
        return coeff, [core]
    out: list[Expr] = []
    for f in factors:
        c, fs = entrywise(f)
        coeff *= c
        out.extend(fs)
    return coeff, out

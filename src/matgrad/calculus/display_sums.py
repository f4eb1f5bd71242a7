"""Sums for the reading normal form (layer 5): the rules of
:mod:`matgrad.calculus.display` that rewrite a sum as a product.

* :func:`polynomial` — an entrywise sum multiplied out into a polynomial in its
  functions where functions then cancel;
* :func:`common_factor` — a factor of every term of an entrywise sum taken out;
* :func:`regrouped` — a sum factor whose terms also stand in the sum;
* :func:`common_scalar` — a scalar factor of every term taken out;
* :func:`common_context` — terms that are one product with one factor changed,
  as one product of the sum of those factors.

Each returns ``None`` when it does not apply.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from matgrad.calculus.display_factors import (
    base_exponent,
    elementwise_factors,
    entrywise,
    is_negated_sigmoid,
    is_one,
    logistic_form,
    merge_factors,
    one_like,
    sigmoid_argument,
    signed,
    split_coefficient,
)
from matgrad.ir.apply import Apply
from matgrad.ir.expr import (
    Add,
    Constant,
    Delta,
    Einsum,
    Expr,
    Ones,
    Symbol,
    add,
    einsum_node,
    symbol,
)
from matgrad.ops.elementwise import power, sigmoid

__all__ = ["atoms", "common_context", "common_factor", "common_scalar", "polynomial", "regrouped"]

def atoms(node: Expr) -> int:
    """The number of distinct functions and symbols in ``node``."""
    return sum(1 for n in node.walk() if isinstance(n, (Apply, Symbol)))


MAX_MONOMIALS = 32
"""An entrywise sum is multiplied out into at most this many products."""


def polynomial(node: Expr) -> Expr | None:
    """An entrywise sum (or product) multiplied out into a polynomial in its
    functions, when that leaves fewer functions: first with ``1 − σ(z)`` kept
    whole (so that it cancels against ``(1 − σ(z))⁻¹``), then with ``σ(−z)``
    and ``1 − σ(z)`` split where ``σ(z)`` occurs too.
    ``σ ⊙ (y − 1) + y ⊙ σ(−z)`` is ``y − σ``."""
    terms, coefficients = (node.terms, node.coeffs) if isinstance(node, Add) else ((node,), (1,))
    monomials: list[tuple[complex, list[Expr]]] = []
    for term, c in zip(terms, coefficients):
        if elementwise_factors(term) is None:
            return None
        inner, factors = entrywise(term)
        monomials.append((c * inner, factors))
    if not any(isinstance(f, Add) or is_negated_sigmoid(f) for _, fs in monomials for f in fs):
        return None
    present = {
        arg.uid for _, fs in monomials for f in fs if (arg := sigmoid_argument(f)) is not None
    }
    whole = _multiplied_out(monomials, present, split=False)
    split = None if whole is None else _multiplied_out(whole, present, split=True)
    if split is None:
        return None
    ix = tuple(range(node.ndim))
    built, coeffs = [], []
    for c, factors in split:
        built.append(
            einsum_node(factors, [ix] * len(factors), ix) if factors
            else one_like(node.shape, node.dtype)
        )
        coeffs.append(c)
    candidate = add(built, coeffs)
    return candidate if atoms(candidate) < atoms(node) else None


def _multiplied_out(
    monomials: list[tuple[complex, list[Expr]]], present: set[int], split: bool
) -> list[tuple[complex, list[Expr]]] | None:
    """Each product's factors merged, its sum factors multiplied out, and the
    resulting products merged again; ``None`` past :data:`MAX_MONOMIALS`."""
    expanded: list[tuple[complex, list[Expr]]] = []
    for c, factors in monomials:
        merged = merge_factors(factors)
        fs, sign = (factors, 1) if merged is None else merged
        partial: list[tuple[complex, list[Expr]]] = [(c * sign, [])]
        for f in fs:
            options = _summands(f, present, split)
            partial = [(pc * oc, [*pf, *of]) for pc, pf in partial for oc, of in options]
            if len(expanded) + len(partial) > MAX_MONOMIALS:
                return None
        for pc, pf in partial:
            merged = merge_factors(pf)
            expanded.append((pc, pf) if merged is None else (pc * merged[1], merged[0]))
    return expanded


def _summands(factor: Expr, present: set[int], split: bool) -> list[tuple[complex, list[Expr]]]:
    """``factor`` as a sum of products (``(coefficient, factors)``); the logistic
    family's ``1 − σ(z)`` and ``σ(−z)`` only when ``split`` and ``σ(z)`` is present."""
    logistic = logistic_form(factor)
    if isinstance(factor, Add) and (logistic is None or (split and logistic[0].uid in present)):
        options = []
        for t, c in zip(factor.terms, factor.coeffs):
            inner, fs = entrywise(t)
            options.append((c * inner, [] if is_one(t) else fs))
        return options
    if split and is_negated_sigmoid(factor):
        assert isinstance(factor, Apply)
        core = signed(factor.x)[1]
        if core.uid in present:
            return [(1, []), (-1, [sigmoid(core)])]
    return [(1, [factor])]


def common_factor(node: Add) -> Expr | None:
    """A factor of every term of an entrywise sum, taken out: ``σ − σ²`` is
    ``σ ⊙ (1 − σ)``, ``a b + a c`` is ``a (b + c)``."""
    if len(node.terms) < 2:
        return None
    monomials: list[dict[int, list[Any]]] = []
    for term in node.terms:
        factors = elementwise_factors(term)
        if factors is None:
            return None
        mono: dict[int, list[Any]] = {}
        for f in factors:
            base, p = base_exponent(f)
            entry = mono.setdefault(base.uid, [base, 0.0])
            entry[1] += p
        monomials.append(mono)
    common = set(monomials[0]).intersection(*monomials[1:])
    take = {}
    for uid in common:
        ps = [m[uid][1] for m in monomials]
        if all(p > 0 for p in ps):
            take[uid] = (monomials[0][uid][0], min(ps))
    if not take:
        return None
    ix = tuple(range(node.ndim))
    shape, dtype = node.shape, node.dtype
    rests = []
    for mono in monomials:
        left = [
            power(b, p - (take[u][1] if u in take else 0.0))
            for u, (b, p) in mono.items()
            if u not in take or p != take[u][1]
        ]
        rests.append(einsum_node(left, [ix] * len(left), ix) if left else one_like(shape, dtype))
    factors = [power(b, p) for b, p in take.values()] + [add(rests, node.coeffs)]
    return einsum_node(factors, [ix] * len(factors), ix)


def regrouped(node: Add) -> Expr | None:
    """A sum factor whose terms also stand in the sum, times a number, taken out:
    ``P ⊙ r + k P`` with ``P = a − b`` written out is ``P ⊙ (r + k)``."""
    coeff_of = {t.uid: c for t, c in zip(node.terms, node.coeffs)}
    for term, c in zip(node.terms, node.coeffs):
        factors = elementwise_factors(term)
        if factors is None or len(factors) < 2:
            continue
        for k, total in enumerate(factors):
            if not isinstance(total, Add) or total.shape != node.shape:
                continue
            first = coeff_of.get(total.terms[0].uid)
            if first is None:
                continue
            scale = first / total.coeffs[0]
            if not all(
                coeff_of.get(t.uid) == scale * a for t, a in zip(total.terms, total.coeffs)
            ):
                continue
            rest = [f for j, f in enumerate(factors) if j != k]
            ix = tuple(range(node.ndim))
            others = einsum_node(rest, [ix] * len(rest), ix)
            grouped = einsum_node(
                [total, add([others, one_like(node.shape, node.dtype)], [c, scale])], [ix, ix], ix
            )
            used = {term.uid, *(t.uid for t in total.terms)}
            left = [(t, d) for t, d in zip(node.terms, node.coeffs) if t.uid not in used]
            return add([grouped, *(t for t, _ in left)], [1, *(d for _, d in left)])
    return None


def common_scalar(node: Add) -> Expr | None:
    """A scalar factor of every term of a sum, taken out:
    ``r xxᵀ − r I`` is ``r (xxᵀ − I)``."""
    if node.ndim == 0 or len(node.terms) < 2:
        return None
    parts: list[tuple[complex, Einsum]] = []
    for term, c in zip(node.terms, node.coeffs):
        inner_c, core = split_coefficient(term)
        if not isinstance(core, Einsum) or any(isinstance(o, Delta) for o in core.operands):
            return None  # a sum with a delta term is multiplied out again by flattening
        parts.append((c * inner_c, core))
    scalars = [{o.uid: o for o, ix in zip(e.operands, e.indices) if not ix} for _, e in parts]
    common = set(scalars[0]).intersection(*scalars[1:])
    if not common:
        return None
    taken = [scalars[0][uid] for uid in sorted(common)]
    rests = []
    for _, e in parts:
        kept = [(o, ix) for o, ix in zip(e.operands, e.indices) if ix or o.uid not in common]
        rests.append(einsum_node([o for o, _ in kept], [ix for _, ix in kept], e.out))
    ix = tuple(range(node.ndim))
    total = add(rests, [c for c, _ in parts])
    return einsum_node([*taken, total], [*([()] * len(taken)), ix], ix)


_HOLE = "\x00hole"
"""The name of the placeholder symbol of :func:`common_context` (no parsed or
traced name can have it)."""


MAX_FACTORED_TERMS = 16
"""A sum of more terms than this is not searched for a common product."""


MAX_CONTEXT_FACTORS = 8
"""A product of more factors than this offers no slot to factor out."""


def _hole(shape: tuple[int, ...], dtype: Any) -> Symbol:
    return symbol(_HOLE, shape, dtype=dtype)


def _contexts(term: Expr) -> Iterator[tuple[Expr, Expr, bool]]:
    """``(context, slot, transposed)``: ``term`` is ``context`` with its hole
    filled by ``slot``; a matrix slot is also tried transposed."""
    if not isinstance(term, Einsum) or len(term.operands) > MAX_CONTEXT_FACTORS:
        return
    ops, indices = list(term.operands), list(term.indices)
    for j, (op, ix) in enumerate(zip(ops, indices)):
        if isinstance(op, (Delta, Ones, Constant)):
            continue
        trials = [(op, ix, False)]
        if len(ix) == 2 and ix[0] != ix[1]:
            trials.append((einsum_node([op], [(0, 1)], (1, 0)), (ix[1], ix[0]), True))
        for slot, six, flipped in trials:
            hole = _hole(slot.shape, slot.dtype)
            context = einsum_node(
                [*ops[:j], hole, *ops[j + 1 :]], [*indices[:j], six, *indices[j + 1 :]], term.out
            )
            if not isinstance(context, Symbol):
                yield context, slot, flipped


def _is_hole(node: Expr) -> bool:
    return isinstance(node, Symbol) and node.name == _HOLE


def _hole_in_order(context: Expr) -> bool:
    assert isinstance(context, Einsum)
    ix = next(i for o, i in zip(context.operands, context.indices) if _is_hole(o))
    return list(ix) == sorted(ix)


def common_context(node: Add) -> Expr | None:
    """Terms that are one product with one factor changed, as one product of the
    sum of those factors: ``A X + Aᵀ X`` is ``(A + Aᵀ) X``.  Of the ways to do it,
    the one that takes in the most terms, then transposes fewest slots, then
    leaves the slot in index order."""
    if len(node.terms) > MAX_FACTORED_TERMS:
        return None
    table: dict[int, list[tuple[int, Expr, Expr, bool]]] = {}
    for k, term in enumerate(node.terms):
        known = term._memo.get("display_contexts")
        if not isinstance(known, list):
            known = list(_contexts(term))
            term._memo["display_contexts"] = known
        for context, slot, flipped in known:
            entries = table.setdefault(context.uid, [])
            if not entries or entries[-1][0] != k:
                entries.append((k, slot, context, flipped))
    candidates = [e for e in table.values() if len(e) >= 2]
    if not candidates:
        return None
    best = max(
        candidates,
        key=lambda e: (len(e), -sum(f for *_, f in e), _hole_in_order(e[0][2])),
    )
    context = best[0][2]
    assert isinstance(context, Einsum)
    inner = add([slot for _, slot, _, _ in best], [node.coeffs[k] for k, *_ in best])
    filled = context.rebuild([inner if _is_hole(o) else o for o in context.operands])
    used = {k for k, *_ in best}
    rest = [k for k in range(len(node.terms)) if k not in used]
    return add([filled, *(node.terms[k] for k in rest)], [1, *(node.coeffs[k] for k in rest)])

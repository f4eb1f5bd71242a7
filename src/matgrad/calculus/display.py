"""The normal form for reading (layer 5): :func:`display`.

:func:`~matgrad.calculus.simplify.simplify` writes an expression the way it is
cheapest to compute: shared products stay shared, sums stay factored only where
that saves work.  A derivative in that form can read badly —
``2 * (r @ r) ** -0.5 * sqrt(r @ r) * A.T @ r`` where the book has ``2 Aᵀ r``.
``display(expr)`` is an expression *equal in value* to ``expr`` (wherever ``expr``
is defined) written for reading; the printers (``str``, ``.latex()``) apply it,
the compiler never sees it.  It rewrites bottom-up until nothing changes:

* **flat products** — every product is one einsum over its factors (shared
  sub-products inlined, deltas eliminated), so that like factors meet;
* **powers of one base** — factors ``u^a`` and ``u^b`` over the same indices
  merge into ``u^(a+b)`` (``sqrt(u)`` is ``u^½``, so ``sqrt(u) u^-½ = 1`` and
  ``sqrt(u)² = u``), a power of a power multiplies the exponents;
* **the adjugate** — ``adj(X) / det(X)`` is ``inv(X)``;
* **the logistic family** — ``e / (1 + e)`` with ``e = exp(z)`` is ``σ(z)``,
  ``1 / (1 + e)`` is ``σ(−z)``, a product ``σ(z) σ(−z)`` is ``σ(z) (1 − σ(z))``;
  every product of ``exp(±z)``, ``1 + exp(±z)``, ``σ(±z)`` and ``1 − σ(z)`` is
  reduced to the fewest of them;
* **common factors** — terms of a sum that are one product with one factor
  changed are one product of the sum of those factors (``A X + Aᵀ X`` is
  ``(A + Aᵀ) X``, ``Xᵀ diag(p) − Xᵀ diag(q)`` is ``Xᵀ diag(p − q)``); a factor
  of every term of an entrywise sum is taken out (``σ − σ²`` is ``σ ⊙ (1 − σ)``);
* **signs** — negations inside products and even powers come out.

>>> import matgrad as mg
>>> A, x, b = mg.Matrix("A", (4, 3)), mg.Vector("x", 3), mg.Vector("b", 4)
>>> g = mg.derivative(mg.norm(A @ x - b) ** 2, x)
>>> print(mg.printing.to_text(g, display=False).splitlines()[0])
2 * (r @ r) ** -0.5 * sqrt(r @ r) * A.T @ r
>>> print(g)
2 * A.T @ (A @ x - b)
>>> print(display(g) is mg.simplify(2 * A.T @ (A @ x - b)))
True
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Any

import numpy as np

from matgrad.calculus.display_factors import (
    Factor,
    adjugates,
    base_exponent,
    elementwise_factors,
    entrywise,
    function_rule,
    inverse_pairs,
    is_negated_sigmoid,
    is_one,
    logistic_form,
    merge_factors,
    one_like,
    signed,
    split_coefficient,
)
from matgrad.calculus.simplify import flatten_einsum
from matgrad.compiler import evaluate
from matgrad.ir.apply import Apply
from matgrad.ir.expr import (
    HOOKS,
    Add,
    Constant,
    Delta,
    Einsum,
    Expr,
    Ones,
    Symbol,
    add,
    einsum_node,
    is_symmetric,
    ones,
    symbol,
)
from matgrad.ops.elementwise import power, sigmoid
from matgrad.printing import to_text

__all__ = ["display"]

MAX_PASSES = 8
"""Rewriting stops after this many passes over the DAG even if something changed."""

_SIGMOID = sigmoid.op  # type: ignore[attr-defined]


def display(expr: Expr) -> Expr:
    """An expression equal in value to ``expr`` (wherever ``expr`` is defined),
    written the way a textbook would (see the module docstring).  Cached on the
    node: printing an expression twice rewrites it once."""
    cached = expr._memo.get("display")
    if isinstance(cached, Expr):
        return cached
    result = expr
    for _ in range(MAX_PASSES):
        new = _pass(result)
        if new is result:
            break
        result = new
    expr._memo["display"] = result
    return result


def _pass(root: Expr) -> Expr:
    memo: dict[int, Expr] = {}
    for node in root.walk():
        children = [memo[c.uid] for c in node.children]
        changed = any(a is not b for a, b in zip(children, node.children))
        new = node.rebuild(children) if changed else node
        done = new._memo.get("display_rewrite")
        if not isinstance(done, Expr):
            done = _rewrite(new)
            new._memo["display_rewrite"] = done
        memo[node.uid] = done
    return memo[root.uid]


def _rewrite(node: Expr) -> Expr:
    if isinstance(node, Einsum):
        return _expanded(_product(node))
    if isinstance(node, Add):
        if len(node.terms) == 1 and isinstance(node.terms[0], Einsum):
            coeff = node.coeffs[0]
            if not isinstance(coeff, complex) and coeff < 0:
                term, coeff = _negated_sum_factor(node.terms[0], coeff)
                return add([term], [coeff])
        for rule in (
            _permuted_parts,
            _polynomial,
            _regrouped,
            _common_factor,
            _common_scalar,
            _common_context,
            _transposed_sum,
        ):
            new = rule(node)
            if new is not None:
                return new
        return node
    if isinstance(node, Apply):
        return function_rule(node)
    return node


# -------------------------------------------------------------------------------------
# Products
# -------------------------------------------------------------------------------------


def _product(node: Einsum) -> Expr:
    """The product flattened, like factors merged, and the factors over one set of
    indices written as one entrywise product (``(σ ⊙ y) @ X``, not
    ``σ @ diag(y) @ X``)."""
    coeff, core = split_coefficient(flatten_einsum(node))
    if not isinstance(core, Einsum):
        return add([core], [coeff])
    if (
        len(core.operands) == 1
        and core.indices[0] == core.out[::-1]
        and len(core.out) == 2
        and _symmetric(core.operands[0])
    ):
        return add([core.operands[0]], [coeff])  # a symmetric matrix transposed
    groups: dict[tuple[Hashable, ...], list[Expr]] = {}
    structural: list[Factor] = []
    for op, ix in zip(core.operands, core.indices):
        if isinstance(op, (Delta, Ones)):
            structural.append((op, ix))
        else:
            groups.setdefault(ix, []).append(op)
    factors: list[Factor] = []
    for labels, ops in groups.items():
        merged = None if _inner_product(labels, ops, core) else merge_factors(ops)
        if merged is not None:
            shape, dtype = ops[0].shape, ops[0].dtype
            ops, sign = merged
            coeff *= sign
            if not ops and labels:  # the factors cancelled: their indices stay, as ones
                ops = [ones(shape, dtype)]
        factors.extend((op, labels) for op in ops)
    adjugates(factors)
    while inverse_pairs(factors, core.out):
        pass
    if not factors and not structural:
        return add([one_like(node.shape, node.dtype)], [coeff])
    built = _flat([*factors, *structural], core.out)
    c2, inner = split_coefficient(built)
    coeff *= c2
    if isinstance(inner, Einsum):
        inner = _entrywise_groups(inner)
    if isinstance(inner, Einsum):
        inner, coeff = _scaled_sum_factors(inner, coeff)
    if isinstance(inner, Einsum) and not isinstance(coeff, complex) and coeff < 0:
        inner, coeff = _negated_sum_factor(inner, coeff)
    return add([inner], [coeff])


def _scaled_sum_factors(node: Einsum, coeff: complex) -> tuple[Expr, complex]:
    """A sum factor whose coefficients are all ``±g`` gives ``g`` to the product:
    ``0.5 (2 μ − 2 x) e`` is ``(μ − x) e``."""
    operands = list(node.operands)
    changed = False
    for k, op in enumerate(operands):
        if not isinstance(op, Add) or len(op.terms) < 2:
            continue
        magnitudes = {abs(c) for c in op.coeffs}
        if len(magnitudes) != 1 or any(isinstance(c, complex) for c in op.coeffs):
            continue
        g = magnitudes.pop()
        if g == 1:
            continue
        operands[k] = add(op.terms, [c / g for c in op.coeffs])
        coeff *= g
        changed = True
    if not changed:
        return node, coeff
    c2, rebuilt = split_coefficient(node.rebuild(operands))
    return rebuilt, coeff * c2


def _symmetric(node: Expr) -> bool:
    """Whether the matrix ``node`` equals its transpose: known from its structure
    (:func:`~matgrad.ir.expr.is_symmetric`), or else observed at three random
    points (finite there and symmetric to rounding)."""
    if is_symmetric(node):
        return True
    if node.ndim != 2 or node.shape[0] != node.shape[1]:
        return False
    known = node._memo.get("display_symmetric")
    if isinstance(known, bool):
        return known
    result = True
    for seed in range(3):
        rng = np.random.default_rng(seed)
        values = {}
        for sym in node.symbols():
            v = rng.standard_normal(sym.shape) * (1 + seed)
            values[sym.name] = (v + v.T) / 2 if sym.symmetric else v
        try:
            with np.errstate(all="ignore"):
                m = np.asarray(evaluate(node, values))
        except Exception:  # a probe outside the domain (a Cholesky factor of a random matrix)
            result = False
            break
        scale = float(np.max(np.abs(m))) if m.size and np.all(np.isfinite(m)) else -1.0
        if scale < 0 or not np.allclose(m, m.T, rtol=0, atol=1e-12 * max(1.0, scale)):
            result = False
            break
    node._memo["display_symmetric"] = result
    return result


def _negated_sum_factor(node: Einsum, coeff: complex) -> tuple[Expr, complex]:
    """``−(A (u − v))`` as ``A (v − u)``: a negative product with one sum factor
    takes the sign into the sum."""
    sums = [
        k for k, op in enumerate(node.operands)
        if isinstance(op, Add) and len(op.terms) > 1 and logistic_form(op) is None
    ]
    if len(sums) == 1 and _one_minus(node.operands[sums[0]]):
        return node, coeff  # −(1 − u) stays: the book writes 1 − tanh², 1 − σ
    if len(sums) != 1:
        return node, coeff
    k = sums[0]
    flipped = add([node.operands[k]], [-1])
    return node.rebuild([*node.operands[:k], flipped, *node.operands[k + 1 :]]), -coeff


def _one_minus(total: Expr) -> bool:
    """Whether the sum has a positive number (or all-ones) term: ``1 − u``."""
    assert isinstance(total, Add)
    return any(
        is_one(t) and not isinstance(c, complex) and c > 0
        for t, c in zip(total.terms, total.coeffs)
    )


def _inner_product(ix: tuple[Hashable, ...], ops: list[Expr], node: Einsum) -> bool:
    """``r[i] r[i]`` summed over indices that nothing else carries: ``r @ r``
    (``sum(X ⊙ X)``) reads better than ``sum(r ** 2)``."""
    if len(ops) != 2 or ops[0] is not ops[1] or not ix or set(ix) & set(node.out):
        return False
    return sum(1 for i in node.indices if set(i) & set(ix)) == 2


def _flat(factors: list[Factor], out: tuple[Hashable, ...]) -> Expr:
    """The einsum of ``factors``, flattened again (a factor that vanished can leave
    an index to a delta or an all-ones factor)."""
    built = einsum_node([f for f, _ in factors], [i for _, i in factors], out)
    coeff, inner = split_coefficient(built)
    if isinstance(inner, Einsum):
        c3, inner = split_coefficient(flatten_einsum(inner))
        coeff *= c3
    return add([inner], [coeff])


def _entrywise_groups(node: Einsum) -> Expr:
    """Factors over the same distinct indices become one entrywise-product
    operand, unless they are the whole product."""
    groups: dict[tuple[Hashable, ...], list[Expr]] = {}
    for op, ix in zip(node.operands, node.indices):
        if not isinstance(op, (Delta, Ones)):
            groups.setdefault(ix, []).append(op)
    wrap = {
        ix: ops for ix, ops in groups.items()
        if len(ops) >= 2 and len(set(ix)) == len(ix) and _shared(ix, node)
    }
    if not wrap:
        return _scaled_vector(node)
    operands: list[Expr] = []
    indices: list[tuple[Hashable, ...]] = []
    for op, ix in zip(node.operands, node.indices):
        if ix in wrap and not isinstance(op, (Delta, Ones)):
            continue
        operands.append(op)
        indices.append(ix)
    for labels, ops in wrap.items():
        canon = tuple(range(len(labels)))
        operands.append(einsum_node(ops, [canon] * len(ops), canon))
        indices.append(labels)
    built = einsum_node(operands, indices, node.out)
    return _scaled_vector(built) if isinstance(built, Einsum) else built


def _shared(ix: tuple[Hashable, ...], node: Einsum) -> bool:
    """Whether a factor over other indices also carries one of ``ix``."""
    return any(i != ix and set(i) & set(ix) for i in node.indices)


def _scaled_vector(node: Einsum) -> Expr:
    """A vector result with a vector factor on its index is an entrywise product:
    ``y ⊙ (X @ w)``, not ``diag(y) @ X @ w``."""
    if len(node.out) != 1:
        return node
    (i,) = node.out
    mine = [k for k, ix in enumerate(node.indices) if ix == (i,)]
    rest = [k for k in range(len(node.operands)) if k not in mine]
    if len(mine) != 1 or not rest or not any(i in node.indices[k] for k in rest):
        return node
    k = mine[0]
    inner = einsum_node([node.operands[j] for j in rest], [node.indices[j] for j in rest], (i,))
    return einsum_node([node.operands[k], inner], [(0,), (0,)], (0,))


# -------------------------------------------------------------------------------------
# Expanding a product of a sum, where terms cancel
# -------------------------------------------------------------------------------------

MAX_EXPANDED_TERMS = 8
"""A sum factor of more terms than this is never multiplied out."""


def _atoms(node: Expr) -> int:
    """The number of distinct functions and symbols in ``node``."""
    return sum(1 for n in node.walk() if isinstance(n, (Apply, Symbol)))


def _expanded(node: Expr) -> Expr:
    """A product whose entrywise factors include a sum, with those factors
    multiplied out where that makes functions cancel:
    ``σ ⊙ (1 − σ) ⊙ ((1 − y) ⊙ (1 − σ)⁻¹ − y ⊙ σ⁻¹)`` is ``σ − y``."""
    coeff, core = split_coefficient(node)
    if not isinstance(core, Einsum):
        return node
    groups: dict[tuple[Hashable, ...], list[int]] = {}
    for k, (op, ix) in enumerate(zip(core.operands, core.indices)):
        if not isinstance(op, (Delta, Ones)):
            groups.setdefault(ix, []).append(k)
    for labels, members in groups.items():
        sums = [k for k in members if isinstance(core.operands[k], Add)]
        if not sums or len(members) < 2 or len(set(labels)) != len(labels):
            continue
        canon = tuple(range(len(labels)))
        factors = [core.operands[k] for k in members]
        product = einsum_node(factors, [canon] * len(factors), canon)
        candidate = _polynomial(product)
        if candidate is None or _atoms(candidate) >= _atoms(product):
            continue
        rest = [k for k in range(len(core.operands)) if k not in members]
        rebuilt = einsum_node(
            [candidate, *(core.operands[k] for k in rest)],
            [labels, *(core.indices[k] for k in rest)],
            core.out,
        )
        return add([rebuilt], [coeff])
    return node


# -------------------------------------------------------------------------------------
# Sums: common factors
# -------------------------------------------------------------------------------------


def _common_scalar(node: Add) -> Expr | None:
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


def _regrouped(node: Add) -> Expr | None:
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


def _common_factor(node: Add) -> Expr | None:
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


_HOLE = "\x00hole"
"""The name of the placeholder symbol of :func:`_common_context` (no parsed or
traced name can have it)."""


MAX_MONOMIALS = 32
"""An entrywise sum is multiplied out into at most this many products."""


def _polynomial(node: Expr) -> Expr | None:
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
        f.x.uid for _, fs in monomials for f in fs if isinstance(f, Apply) and f.op is _SIGMOID
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
    return candidate if _atoms(candidate) < _atoms(node) else None


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


def _hole(shape: tuple[int, ...], dtype: Any) -> Symbol:
    return symbol(_HOLE, shape, dtype=dtype)


MAX_FACTORED_TERMS = 16
"""A sum of more terms than this is not searched for a common product."""

MAX_CONTEXT_FACTORS = 8
"""A product of more factors than this offers no slot to factor out."""


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


def _common_context(node: Add) -> Expr | None:
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


def _permuted_parts(node: Add) -> Expr | None:
    """Transposed (permuted) sums among the terms of a sum, taken apart where
    their parts then merge with other terms: ``(s/2 + sᵀ/4)ᵀ + s/4`` is
    ``(s + sᵀ)/2``."""
    terms: list[Expr] = []
    coeffs: list[complex] = []
    for term, c in zip(node.terms, node.coeffs):
        inner_c, core = split_coefficient(term)
        if (
            isinstance(core, Einsum)
            and len(core.operands) == 1
            and isinstance(core.operands[0], Add)
            and sorted(core.indices[0]) == sorted(core.out)
            and len(set(core.indices[0])) == len(core.out)
        ):
            total = core.operands[0]
            for part, pc in zip(total.terms, total.coeffs):
                terms.append(einsum_node([part], [core.indices[0]], core.out))
                coeffs.append(c * inner_c * pc)
        else:
            terms.append(term)
            coeffs.append(c)
    if len(terms) == len(node.terms):
        return None
    candidate = add(terms, coeffs)
    merged = len(candidate.terms) if isinstance(candidate, Add) else 1
    return candidate if merged < len(terms) else None


def _transposed_sum(node: Add) -> Expr | None:
    """A sum of matrices that each read better transposed, as the transpose of a
    sum: ``(B @ X + X @ B).T``, not ``(B @ X).T + (X @ B).T``."""
    if node.ndim != 2 or not 2 <= len(node.terms) <= MAX_EXPANDED_TERMS:
        return None
    flipped = []
    for term in node.terms:
        if not isinstance(term, Einsum):
            return None
        transposed = einsum_node([term], [(0, 1)], (1, 0))
        if not isinstance(transposed, Einsum):
            return None
        other = _product(transposed)
        if len(to_text(other, display=False)) >= len(to_text(term, display=False)):
            return None
        flipped.append(other)
    return einsum_node([add(flipped, node.coeffs)], [(0, 1)], (1, 0))


HOOKS["display"] = display

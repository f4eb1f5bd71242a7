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

from collections.abc import Hashable

import numpy as np

from matgrad.calculus.display_factors import (
    Factor,
    adjugates,
    function_rule,
    inverse_pairs,
    is_one,
    logistic_form,
    merge_factors,
    one_like,
    split_coefficient,
)
from matgrad.calculus.display_sums import (
    atoms,
    common_context,
    common_factor,
    common_scalar,
    polynomial,
    regrouped,
)
from matgrad.calculus.simplify import flatten_einsum
from matgrad.compiler import evaluate
from matgrad.ir.apply import Apply
from matgrad.ir.expr import (
    HOOKS,
    Add,
    Delta,
    Einsum,
    Expr,
    Ones,
    add,
    einsum_node,
    is_symmetric,
    ones,
)
from matgrad.printing import to_text

__all__ = ["display"]

MAX_PASSES = 8
"""Rewriting stops after this many passes over the DAG even if something changed."""



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
            polynomial,
            regrouped,
            common_factor,
            common_scalar,
            common_context,
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
        candidate = polynomial(product)
        if candidate is None or atoms(candidate) >= atoms(product):
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

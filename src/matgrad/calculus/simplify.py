"""Simplification to a normal form (layer 3).

``simplify(expr)`` rewrites the DAG bottom-up, a few passes until nothing changes:

* **fusion** — an einsum operand that is itself an einsum is inlined (its summed
  indices renamed fresh), when the inner einsum is used once in the DAG, is a
  pure relabelling (transpose, trace, diagonal), or carries deltas or ones that
  fusion can eliminate; a shared inner product stays a shared node, computed once;
* **scalars out** — constant scalar factors and single-term sums become
  coefficients of a linear combination;
* **deltas** — ``δ(a, b)`` is removed by renaming ``b`` to ``a`` wherever one of its
  indices is summed; ``δ(a, a)`` is the size ``n``; a delta survives only between
  two output indices (a strided write at evaluation, never an identity product);
* **distribution** — a sum whose terms carry deltas is multiplied out when it is
  an einsum operand, so those deltas can be eliminated too (other sums stay
  factored: no expression swell);
* **ones** — an all-ones factor disappears where its index is present elsewhere
  and becomes the size where the index is summed only through it;
* **zeros and constants** — zero annihilates products and vanishes from sums
  (done by the constructors); products and functions of constants only are
  folded to constants; like terms are merged by the constructors.

Structurally equal subexpressions are one node (hash-consing in ``matgrad.ir.expr``),
so common subexpressions are shared by construction.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable

import numpy as np

from matgrad.compiler import evaluate
from matgrad.ir.apply import Apply
from matgrad.ir.bindings import record_derivation
from matgrad.ir.expr import (
    Add,
    Constant,
    Delta,
    Einsum,
    Expr,
    Ones,
    Zero,
    add,
    constant,
    einsum_node,
    ones,
    zeros,
)

__all__ = ["flatten_einsum", "simplify"]

MAX_PASSES = 6
FOLD_LIMIT = 1_000_000
"""Largest constant (in entries) that constant folding creates."""


def simplify(expr: Expr) -> Expr:
    """The normal form of ``expr`` (see the module docstring).

    >>> import matgrad as mg
    >>> x = mg.Vector("x", 3)
    >>> print(mg.simplify(mg.trace(mg.diag(x))) is mg.sum(x))
    True
    """
    original = expr
    for _ in range(MAX_PASSES):
        new = _pass(expr)
        if new is expr:
            break
        expr = new
    return expr if expr is original else record_derivation(expr, [original])


def flatten_einsum(node: Einsum) -> Expr:
    """``node`` with every einsum operand inlined, shared or not, and its deltas and
    all-ones factors eliminated: one flat product (times a coefficient).  For
    reading (``matgrad.calculus.display``); computing keeps shared products shared."""
    return _simplify_einsum(node, {})


def _refcounts(root: Expr) -> dict[int, int]:
    counts: dict[int, int] = {}
    for node in root.walk():
        for child in node.children:
            counts[child.uid] = counts.get(child.uid, 0) + 1
    return counts


def _pass(root: Expr) -> Expr:
    old_counts = _refcounts(root)
    counts: dict[int, int] = {}
    memo: dict[int, Expr] = {}
    for node in root.walk():
        children = [memo[c.uid] for c in node.children]
        changed = any(a is not b for a, b in zip(children, node.children))
        new = node.rebuild(children) if changed else node
        new = _rewrite(new, counts)
        memo[node.uid] = new
        counts[new.uid] = counts.get(new.uid, 0) + old_counts.get(node.uid, 0)
    return memo[root.uid]


def _rewrite(node: Expr, counts: dict[int, int]) -> Expr:
    if isinstance(node, Einsum):
        return _simplify_einsum(node, counts)
    if isinstance(node, Add):
        return _fold_add_constants(node)
    if isinstance(node, Apply):
        return _simplify_apply(node)
    return node


# ---------------------------------------------------------------------------------------
# Einsum
# ---------------------------------------------------------------------------------------


def _has_structural(node: Expr) -> bool:
    return isinstance(node, Einsum) and any(isinstance(o, (Delta, Ones)) for o in node.operands)


def _should_fuse(inner: Einsum, counts: dict[int, int]) -> bool:
    return counts.get(inner.uid, 0) <= 1 or len(inner.operands) == 1 or _has_structural(inner)


def _should_distribute(
    total: Add, ix: tuple[Hashable, ...], out: tuple[Hashable, ...],
    rest: list[tuple[Expr, tuple[Hashable, ...]]],
) -> bool:
    """Multiply out a sum operand (at labels ``ix``) when a term carries a delta,
    or an all-ones factor along an axis that the product sums and no other operand
    has (``Σᵢ 1ᵢ bₖ = n bₖ``).  A broadcast term such as a bias ``1 bᵀ`` in a
    residual ``X W + 1 bᵀ − Y`` that is not summed over its broadcast axis keeps
    the residual whole: one sum, one product with the next factor."""
    for t in total.terms:
        if isinstance(t, Delta) or (
            isinstance(t, Einsum) and any(isinstance(o, Delta) for o in t.operands)
        ):
            return True
    elsewhere = set(out) | {label for _, labels in rest for label in labels}
    for t in total.terms:
        if not isinstance(t, Einsum):
            continue
        position = {label: p for p, label in enumerate(t.out)}
        for o, labels in zip(t.operands, t.indices):
            if isinstance(o, Ones) and any(
                label not in position or ix[position[label]] not in elsewhere
                for label in labels
            ):
                return True
    return False


class _Labels:
    """Fresh index labels for one einsum rewrite."""

    def __init__(self) -> None:
        self._count = itertools.count()

    def fresh(self) -> tuple[str, int]:
        return ("s", next(self._count))


def _simplify_einsum(node: Einsum, counts: dict[int, int]) -> Expr:
    labels = _Labels()
    coeff: complex = 1
    factors: list[tuple[Expr, tuple[Hashable, ...]]] = []
    work: list[tuple[Expr, tuple[Hashable, ...]]] = list(zip(node.operands, node.indices))
    out: tuple[Hashable, ...] = node.out
    while work:
        op, ix = work.pop()
        if isinstance(op, Einsum) and _should_fuse(op, counts):
            mapping: dict[Hashable, Hashable] = dict(zip(op.out, ix))
            for sub, sub_ix in zip(op.operands, op.indices):
                renamed = []
                for label in sub_ix:
                    if label not in mapping:
                        mapping[label] = labels.fresh()
                    renamed.append(mapping[label])
                work.append((sub, tuple(renamed)))
        elif isinstance(op, Add) and len(op.terms) == 1:
            coeff *= op.coeffs[0]
            work.append((op.terms[0], ix))
        elif isinstance(op, Add) and _should_distribute(op, ix, out, factors + work):
            rest = factors + work
            terms = [
                _simplify_einsum_any(
                    [*(f for f, _ in rest), t], [*(i for _, i in rest), ix], out, counts
                )
                for t in op.terms
            ]
            return add(terms, [coeff * c for c in op.coeffs])
        else:
            factors.append((op, ix))

    dims = {label: n for op, ix in factors for label, n in zip(ix, op.shape)}
    coeff, factors = _eliminate_deltas(coeff, factors, out)
    present = {label for _, ix in factors for label in ix}
    orphans = tuple(label for label in out if label not in present)
    if orphans:  # an output index whose deltas all went: the result is constant along it
        factors.append((ones(tuple(dims[label] for label in orphans), node.dtype), orphans))
    coeff, factors = _reduce_ones(coeff, factors, out)
    if not factors:
        return constant(np.full((), coeff, dtype=node.dtype))
    result = einsum_node([f for f, _ in factors], [i for _, i in factors], out)
    if all(isinstance(f, Constant) for f, _ in factors) and node.size <= FOLD_LIMIT:
        result = _fold(result)
    return add([result], [coeff])


def _simplify_einsum_any(
    operands: list[Expr], indices: list[tuple[Hashable, ...]], out: tuple[Hashable, ...],
    counts: dict[int, int],
) -> Expr:
    built = einsum_node(operands, indices, out)
    if isinstance(built, Einsum):
        return _simplify_einsum(built, counts)
    if isinstance(built, Add) and len(built.terms) == 1 and isinstance(built.terms[0], Einsum):
        return add([_simplify_einsum(built.terms[0], counts)], built.coeffs)
    return built


def _eliminate_deltas(
    coeff: complex, factors: list[tuple[Expr, tuple[Hashable, ...]]], out: tuple[Hashable, ...]
) -> tuple[complex, list[tuple[Expr, tuple[Hashable, ...]]]]:
    outs = set(out)
    changed = True
    while changed:
        changed = False
        for pos, (op, ix) in enumerate(factors):
            if not isinstance(op, Delta):
                continue
            a, b = ix
            n = op.shape[0]
            if a == b:  # δ(a, a) is 1 for every a: n when a is summed here alone
                del factors[pos]
                if a not in outs and not any(a in fx for _, fx in factors):
                    coeff *= n
                changed = True
                break
            if a in outs and b in outs:
                continue
            keep, gone = (b, a) if a not in outs else (a, b)
            del factors[pos]
            factors = [
                (f, tuple(keep if label == gone else label for label in fx)) for f, fx in factors
            ]
            if keep not in outs and not any(keep in fx for _, fx in factors):
                coeff *= n
            changed = True
            break
    # duplicate surviving deltas: δ(a, b)² = δ(a, b)
    seen: set[tuple[Hashable, ...]] = set()
    unique = []
    for op, ix in factors:
        if isinstance(op, Delta):
            key = tuple(sorted(ix, key=repr))
            if key in seen:
                continue
            seen.add(key)
        unique.append((op, ix))
    return coeff, unique


def _reduce_ones(
    coeff: complex, factors: list[tuple[Expr, tuple[Hashable, ...]]], out: tuple[Hashable, ...]
) -> tuple[complex, list[tuple[Expr, tuple[Hashable, ...]]]]:
    outs = set(out)
    pos = 0
    while pos < len(factors):
        op, ix = factors[pos]
        if not isinstance(op, Ones):
            pos += 1
            continue
        others = [fx for j, (_, fx) in enumerate(factors) if j != pos]
        kept: list[Hashable] = []
        sizes: list[int] = []
        for label, n in zip(ix, op.shape):
            if label in kept:
                continue
            if any(label in fx for fx in others):
                continue
            if label in outs:
                kept.append(label)
                sizes.append(n)
            else:
                coeff *= n
        if tuple(kept) == ix:
            pos += 1
            continue
        del factors[pos]
        if kept:
            factors.insert(pos, (ones(tuple(sizes), op.dtype), tuple(kept)))
            pos += 1
    return coeff, factors


# ---------------------------------------------------------------------------------------
# Other kinds
# ---------------------------------------------------------------------------------------

def _simplify_apply(node: Apply) -> Expr:
    """An elementwise function of zeros, ones or a small constant is folded to its
    value (where finite); otherwise the operation's own rewrite, if it has one."""
    op = node.op
    if op.elementwise and len(node.args) == 1:
        x = node.x
        if isinstance(x, (Zero, Ones)):
            with np.errstate(all="ignore"):
                value = op.make_kernel(node.attrs)(np.full((), 1.0 if isinstance(x, Ones) else 0.0))
            value = np.asarray(value).item()
            if np.isfinite(value):
                if value == 0:
                    return zeros(node.shape, node.dtype)
                return add([ones(node.shape, node.dtype)], [value])
        if isinstance(x, Constant) and x.size <= FOLD_LIMIT:
            return _fold(node)
    if op.simplify is not None:
        simpler = op.simplify(node)
        if simpler is not None:
            return simpler
    return node


def _fold(node: Expr) -> Expr:
    """A constant expression replaced by its value, computed by the evaluator."""
    with np.errstate(all="ignore"):
        return constant(evaluate(node, {}))


def _fold_add_constants(node: Add) -> Expr:
    consts = [(t, c) for t, c in zip(node.terms, node.coeffs) if isinstance(t, Constant)]
    if not consts or (len(consts) == 1 and consts[0][1] == 1):
        return node  # normal form: at most one constant term, with coefficient 1
    total = np.sum([np.multiply(c, t.value) for t, c in consts], axis=0)
    rest = [(t, c) for t, c in zip(node.terms, node.coeffs) if not isinstance(t, Constant)]
    return add([constant(total), *(t for t, _ in rest)], [1, *(c for _, c in rest)])

"""Rewrites the planner of :mod:`matgrad.compiler` applies before planning, and the
einsum structure it reads (layer 3, private to ``matgrad.compiler``).

Sums of products that share a factor are factored where opt_einsum's flop counts
say it pays (:func:`factor_sums`); :class:`_Operand` and :func:`_subscripts` are
an einsum's operands as the planner sees them; :func:`_delta_classes` merges the
indices a Kronecker delta ties together; :func:`reuse_first_path` is a contraction
order that reuses products another einsum of the plan computes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import opt_einsum

from matgrad._types import Shape
from matgrad.compiler import kernels as K
from matgrad.ir.apply import Apply
from matgrad.ir.expr import Add, Delta, Einsum, Expr, Ones, add, einsum_node

__all__ = ["factor_sums", "reuse_first_path", "share_scaled_sums"]


# =====================================================================================
# Rewrites for evaluation: sums of products that share a factor
# =====================================================================================


def factor_sums(roots: Sequence[Expr]) -> list[Expr]:
    """The expressions with sums of products that share a factor rewritten, where
    that saves flops, as one product: ``Σₖ cₖ einsum(Q, Rₖ) → einsum(Q, Σₖ cₖ Rₖ)``.

    ``A X + Aᵀ X`` becomes ``(A + Aᵀ) X`` (one matrix product instead of two), and
    ``Xᵀ diag(u) − Xᵀ diag(v)`` becomes ``Xᵀ diag(u − v)``.  Terms are grouped by
    the factor ``Q`` and the role of each of its axes (summed, an output axis
    passed through, an output axis shared with the rest); a group is factored only
    if opt_einsum's flop counts say the product of sums is cheaper.  Terms with
    deltas or all-ones operands are left alone (their structure is planned
    better as it is).
    """
    uses: dict[int, int] = {}
    for root in roots:
        for node in root.walk():
            for child in node.children:
                uses[child.uid] = uses.get(child.uid, 0) + 1
    memo: dict[int, Expr] = {}
    factored_once: set[int] = set()  # products made here, whose sum was used once
    fused: set[int] = set()  # structural products used once: fused into their consumer
    root_ids = {r.uid for r in roots}
    for node, new, changed in _bottom_up(roots, memo):
        if isinstance(new, Einsum) and (changed or any(o.uid in fused for o in new.operands)):
            new = _inline(new, factored_once | fused)
        if (isinstance(new, Einsum) and uses.get(node.uid, 0) == 1 and node.uid not in root_ids
                and _structural(new)):
            fused.add(new.uid)
        made = False
        for _ in range(4):  # each round factors one group; a few are plenty
            if not isinstance(new, Add):
                break
            factored = _factor_once(new)
            if factored is None:
                break
            new, made = factored, True
        if made and isinstance(new, Einsum) and uses.get(node.uid, 0) <= 1:
            factored_once.add(new.uid)
        memo[node.uid] = new
    return [memo[r.uid] for r in roots]


def _bottom_up(
    roots: Sequence[Expr], memo: Mapping[int, Expr]
) -> Iterator[tuple[Expr, Expr, bool]]:
    """Each node of the roots' DAG once, operands first, as ``(node, rebuilt,
    changed)``: the node rebuilt on its operands' rewritten forms, which the caller
    stores in ``memo`` (by the node's uid) before taking the next node."""
    for root in roots:
        for node in root.walk():
            if node.uid in memo:
                continue
            children = [memo[c.uid] for c in node.children]
            changed = any(a is not b for a, b in zip(children, node.children))
            yield node, (node.rebuild(children) if changed else node), changed


def share_scaled_sums(roots: Sequence[Expr]) -> list[Expr]:
    """Sums that are multiples of one another computed once.

    Reverse mode often makes both ``u = a − b`` and ``−u = b − a`` (the residual
    of Rosenbrock's ``x[1:] − x[:-1]²``, once per sign, for the two slices it is
    scattered through).  A sum ``r · v`` of an earlier sum ``v`` (the same terms,
    coefficients in the ratio ``r``) is replaced by ``v`` where its consumer lets
    the factor out — a linear operation of one operand (``op(r v) = r op(v)``) or a
    product — so that the factor lands in the enclosing sum's coefficients or on a
    product's smallest operand; other consumers keep their own sum.
    """
    memo: dict[int, Expr] = {}
    first: dict[tuple[Any, ...], tuple[Expr, complex]] = {}
    alias: dict[int, tuple[Expr, complex]] = {}  # a sum's uid -> (earlier sum, ratio)
    for node, new, _ in _bottom_up(roots, memo):
        if (
            isinstance(new, Apply)
            and new.op.linear is not None
            and len(new.args) == 1
            and new.args[0].uid in alias
        ):
            v, r = alias[new.args[0].uid]
            new = add([new.rebuild([v])], [r])
        elif isinstance(new, Einsum) and any(o.uid in alias for o in new.operands):
            operands: list[Expr] = []
            ratio: complex = 1
            for o in new.operands:
                v, r = alias.get(o.uid, (o, 1))
                operands.append(v)
                ratio *= r
            new = add([einsum_node(operands, new.indices, new.out)], [ratio])
        if isinstance(new, Add):
            key = _sum_key(new)
            if key is not None:
                seen = first.setdefault(key[0], (new, key[1]))
                if seen[0] is not new:
                    alias[new.uid] = (seen[0], key[1] / seen[1])
        memo[node.uid] = new
    return [memo[r.uid] for r in roots]


def _sum_key(node: Add) -> tuple[tuple[Any, ...], complex] | None:
    """``(terms and coefficients divided by the first, the first coefficient)``."""
    pairs = sorted(zip((t.uid for t in node.terms), node.coeffs), key=lambda p: p[0])
    c0 = pairs[0][1]
    if len(pairs) < 2 or c0 == 0:
        return None
    return tuple((uid, c / c0) for uid, c in pairs), c0


def _structural(node: Einsum) -> bool:
    """A product that is only structure around one operand: a transposition, or
    the operand with Kronecker deltas or all-ones factors (``diag(w)``, a
    broadcast).  Used once, it is fused into its consumer, so that ``Xᵀ diag(w)``
    written as a matrix product scales the rows of ``X`` instead of multiplying by
    a dense ``diag(w)``.  A product of two or more values is left as written: the
    order of an expression's products is its author's (forward or reverse
    accumulation, say), which simplification, not compilation, changes."""
    values = [o for o in node.operands if not isinstance(o, (Delta, Ones))]
    if len(values) != 1:
        return False  # a product of values: its order is the expression's own
    if len(node.operands) == 1:
        (ix,) = node.indices
        return len(set(ix)) == len(ix) and sorted(ix) == sorted(node.out)
    return True


def _inline(node: Einsum, products: set[int]) -> Expr:
    """Fuse into ``node`` the operands that are products made by factoring, or
    structural (:func:`_structural`), and used only here (as the simplifier fuses
    products used once), so that the whole
    contraction is planned as one: ``Xᵀ diag(u − v) diag(w) X`` is then seen as a
    weighted Gram matrix."""
    if not any(o.uid in products for o in node.operands):
        return node
    operands: list[Expr] = []
    indices: list[tuple[Any, ...]] = []
    for k, (op, ix) in enumerate(zip(node.operands, node.indices)):
        if op.uid in products and isinstance(op, Einsum):
            mapping: dict[int, Any] = dict(zip(op.out, ix))
            for sub, sub_ix in zip(op.operands, op.indices):
                operands.append(sub)
                indices.append(tuple(mapping.get(i, ("inner", k, i)) for i in sub_ix))
        else:
            operands.append(op)
            indices.append(ix)
    return einsum_node(operands, indices, node.out)


@dataclass(frozen=True)
class _Split:
    """A product term seen as ``einsum(Q[q], rest)``: ``signature`` is the role of
    each axis of ``Q`` and the output indices only the rest carries."""

    signature: tuple[Any, ...]
    rest: Expr
    roles: tuple[tuple[Any, ...], ...]
    others: tuple[int, ...]


def _split(term: Einsum, position: int) -> _Split | None:
    q = term.indices[position]
    if len(set(q)) != len(q) or any(isinstance(o, (Delta, Ones)) for o in term.operands):
        return None
    n_out = len(term.out)
    rest = [(o, ix) for j, (o, ix) in enumerate(zip(term.operands, term.indices)) if j != position]
    if not rest:
        return None
    rest_labels = {label for _, ix in rest for label in ix}
    roles: list[tuple[Any, ...]] = []
    kept: list[int] = []
    for label in q:
        if label < n_out:  # an output index (canonical ids: outputs first)
            if label in rest_labels:
                roles.append(("batch", label))
                kept.append(label)
            else:
                roles.append(("pass", label))
        elif label in rest_labels:
            roles.append(("sum",))
            kept.append(label)
        else:
            return None  # summed within Q alone
    others = tuple(sorted(label for label in rest_labels if label < n_out and label not in q))
    rest_expr = einsum_node([o for o, _ in rest], [ix for _, ix in rest], (*kept, *others))
    return _Split((tuple(roles), others), rest_expr, tuple(roles), others)


def _flops(node: Expr) -> int:
    """opt_einsum's flop count of an einsum node; nothing for a transposition (a
    view) or a node that is not an einsum (computed anyway)."""
    if not isinstance(node, Einsum):
        return 0
    if len(node.operands) == 1 and sorted(node.indices[0]) == sorted(node.out):
        return 0
    operands = list(zip(node.operands, node.indices))
    sub = _subscripts([_Operand(ix, o.shape) for o, ix in operands], node.out)
    return K.flop_estimate(sub, tuple(o.shape for o, _ in operands))


def _factor_once(node: Add) -> Expr | None:
    terms = list(zip(node.terms, node.coeffs))
    products = [(k, t) for k, (t, _) in enumerate(terms) if isinstance(t, Einsum)]
    if len(products) < 2:
        return None
    seen: dict[int, int] = {}
    for _, t in products:
        for o in {o.uid: o for o in t.operands}.values():
            seen[o.uid] = seen.get(o.uid, 0) + 1
    best: tuple[int, Expr] | None = None
    for _, t0 in products:
        for q_node in t0.operands:
            if seen.get(q_node.uid, 0) < 2 or isinstance(q_node, (Delta, Ones)):
                continue
            seen[q_node.uid] = 0  # consider each factor once
            groups: dict[tuple[Any, ...], list[tuple[int, _Split]]] = {}
            for k, t in products:
                signatures = set()
                for p, o in enumerate(t.operands):
                    if o is not q_node:
                        continue
                    split = _split(t, p)
                    if split is not None and split.signature not in signatures:
                        signatures.add(split.signature)
                        groups.setdefault(split.signature, []).append((k, split))
            for members in groups.values():
                if len(members) < 2:
                    continue
                candidate, saving = _factored(node, q_node, members)
                if saving > 0 and (best is None or saving > best[0]):
                    best = (saving, candidate)
    return None if best is None else best[1]


def _factored(
    node: Add, q_node: Expr, members: list[tuple[int, _Split]]
) -> tuple[Expr, int]:
    first = members[0][1]
    q_labels: list[Any] = []
    m_labels: list[Any] = []
    for axis, role in enumerate(first.roles):
        if role[0] == "sum":
            q_labels.append(("f", axis))
            m_labels.append(("f", axis))
        else:
            q_labels.append(role[1])
            if role[0] == "batch":
                m_labels.append(role[1])
    m_labels.extend(first.others)
    grouped = {k for k, _ in members}
    m = add([split.rest for _, split in members], [node.coeffs[k] for k, _ in members])
    product = einsum_node([q_node, m], [q_labels, m_labels], tuple(range(node.ndim)))
    before = sum(_flops(node.terms[k]) for k in grouped)
    after = sum(_flops(split.rest) for _, split in members) + m.size * len(members)
    after += _flops(product)
    rest = [(t, c) for k, (t, c) in enumerate(zip(node.terms, node.coeffs)) if k not in grouped]
    rebuilt = add([product, *(t for t, _ in rest)], [1, *(c for _, c in rest)])
    return rebuilt, before - after


# =====================================================================================
# Einsum structure
# =====================================================================================


@dataclass
class _Operand:
    """An einsum operand while planning: a slot, or an inverse (an operation that
    may become a solve) not yet planned."""

    labels: tuple[int, ...]
    shape: Shape
    slot: int = -1
    inv: Apply | None = None


def _subscripts(operands: Sequence[_Operand], out: Sequence[int]) -> str:
    letters: dict[int, str] = {}
    for label in [i for op in operands for i in op.labels] + list(out):
        letters.setdefault(label, opt_einsum.get_symbol(len(letters)))
    terms = ["".join(letters[i] for i in op.labels) for op in operands]
    return ",".join(terms) + "->" + "".join(letters[i] for i in out)


def _delta_classes(node: Einsum) -> Callable[[int], int]:
    """Union-find over the einsum's indices merged by its deltas (smallest id is
    the representative, so output ids come first)."""
    parent: dict[int, int] = {}

    def find(i: int) -> int:
        while parent.get(i, i) != i:
            i = parent[i]
        return i

    for op, ix in zip(node.operands, node.indices):
        if isinstance(op, Delta):
            a, b = find(ix[0]), find(ix[1])
            if a != b:
                parent[max(a, b)] = min(a, b)
    return find


def _has_surviving_delta(node: Einsum) -> bool:
    if not any(isinstance(op, Delta) for op in node.operands):
        return False
    find = _delta_classes(node)
    return len({find(i) for i in node.out}) < len(node.out)


# =====================================================================================
# Contraction orders that reuse what the plan already computes
# =====================================================================================


def reuse_first_path(
    subscripts: str,
    shapes: tuple[Shape, ...],
    slots: Sequence[int],
    shared: Callable[[K.Pairwise, tuple[Any, ...]], int | None],
) -> tuple[K.Path, ...]:
    """A contraction order that first makes, one pair at a time, the products the
    plan already computes (``shared(pair, input slots)``: the slot of the same
    contraction of the same slots, or ``None``), then finishes along the cheapest
    order of what is left; ``()`` if no first pair is shared.
    :func:`~matgrad.compiler.kernels.candidate_paths` enumerates every order only
    for a few operands, and an order reusing three products in a row (a bias's
    gradient summing the weight gradient's intermediate, in a network's backward
    pass) is rarely among the others."""
    lhs, out = subscripts.split("->")
    current: list[tuple[str, Shape, Any]] = list(zip(lhs.split(","), shapes, slots))
    prefix: list[tuple[int, ...]] = []
    while len(current) > 2:
        k = len(current)
        found = None
        for i, j in itertools.combinations(range(k), 2):
            filler = ((0, 1),) * (k - 2)  # any completion: the pair does not depend on it
            pair = K.contraction(subscripts, shapes, (*prefix, (i, j), *filler)).pairs[len(prefix)]
            rest = list(current)
            done = shared(pair, tuple(rest.pop(p)[2] for p in pair.positions))
            if done is not None:
                found = (i, j), [*rest, (pair.subscripts.split("->")[1], pair.shape, done)]
                break
        if found is None:
            break
        prefix.append(found[0])
        current = found[1]
    if not prefix:
        return ()
    rest_subscripts = ",".join(t for t, _, _ in current) + "->" + out
    completion = K.candidate_paths(rest_subscripts, tuple(s for _, s, _ in current))[0]
    return ((*prefix, *completion),)

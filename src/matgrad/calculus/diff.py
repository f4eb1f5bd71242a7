"""Symbolic derivatives of any order: the chain rule as tensor contraction (layer 3).

``derivative(f, x)`` is the Jacobian tensor ``∂f/∂x`` of shape ``f.shape + x.shape``
(numerator layout, DESIGN.md §1).  It walks the DAG of ``f`` once, using the
differential of each node from :func:`matgrad.calculus.rules.differential`:

* **forward accumulation** gives every node a *tangent* ``∂node/∂x`` (the node's
  shape followed by ``x``'s); the rule's linear expression is applied to the
  operands' tangents, with ``x``'s axes carried along as extra output axes;
* **reverse accumulation** gives every node an *adjoint* ``∂f/∂node`` (``f``'s
  shape followed by the node's); the rule's linear expression is *transposed*
  and applied to the adjoint.

Both are the same chain of contractions, grouped from different ends
(MML (5.119)–(5.120)); each node gets one tangent or adjoint, shared by all its
uses, so the derivative's DAG grows linearly with the function's.

**The choice.** ``mode="auto"`` accumulates in reverse when ``f`` has at most as
many entries as ``x`` (``f.size <= x.size``: gradients, and Jacobians of maps
that shrink), forward otherwise: the seed identity tensor has ``size²`` of the
smaller side, and every tangent or adjoint carries that side's axes.  After
:func:`matgrad.calculus.simplify.simplify` fuses the contractions, opt_einsum chooses
the order inside each fused product by flop count, which can mix the two.

Symmetric variables get the symmetric gradient ``(G + Gᵀ)/2`` on their two axes
(DESIGN.md §1).

Every result records the symbols it was derived from
(:func:`matgrad.ir.bindings.record_derivation`), so it can be evaluated at a
point that names them even where it no longer depends on them:
``derivative(A @ x, A).evaluate(A=A0, x=x0)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from matgrad._types import Shape
from matgrad.calculus.rules import LEAF_KINDS, differential
from matgrad.calculus.simplify import simplify as _simplify
from matgrad.errors import InvalidArgumentError
from matgrad.ir.apply import Apply
from matgrad.ir.bindings import record_derivation
from matgrad.ir.expr import (
    Add,
    Einsum,
    Expr,
    Symbol,
    Zero,
    add,
    constant,
    delta,
    einsum_node,
    ones,
    symbol,
    zeros,
)
from matgrad.ops import transpose

Mode = Literal["auto", "forward", "reverse"]

__all__ = ["choose_mode", "derivative", "identity_tensor", "jvp_expr", "vjp_expr"]


def derivative(
    expr: Any, wrt: Any, order: int = 1, *, simplify: bool = True, mode: Mode = "auto"
) -> Expr:
    """The ``order``-th derivative of ``expr`` with respect to the symbol ``wrt``:
    an expression of shape ``expr.shape + order * wrt.shape``.

    >>> import matgrad as mg
    >>> X = mg.Matrix("X", (3, 3)); A = mg.Matrix("A", (3, 3))
    >>> G = mg.derivative(mg.trace(X.T @ A @ X), X)
    >>> G.shape
    (3, 3)
    """
    if not isinstance(expr, Expr):
        raise InvalidArgumentError(
            f"derivative: expected a matgrad expression, got {type(expr).__name__}"
        )
    _check_symbol(wrt)
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 0:
        raise InvalidArgumentError(f"derivative: order must be a non-negative int, got {order!r}")
    order = int(order)
    if mode not in ("auto", "forward", "reverse"):
        raise InvalidArgumentError(
            f"derivative: mode must be 'auto', 'forward' or 'reverse', got {mode!r}"
        )
    result = _simplify(expr) if simplify else expr
    for _ in range(order):
        result = _first_derivative(result, wrt, mode)
        if simplify:
            result = _simplify(result)
    return record_derivation(result, [expr], [wrt])


def choose_mode(out_shape: Shape, in_shape: Shape) -> Literal["forward", "reverse"]:
    """Reverse accumulation when the output has at most as many entries as the input."""
    return "reverse" if math.prod(out_shape) <= math.prod(in_shape) else "forward"


def identity_tensor(shape: Shape, dtype: Any) -> Expr:
    """``∂x/∂x``: the product of deltas ``δ(i₁, j₁) ⋯ δ(iᵣ, jᵣ)``, shape ``shape + shape``."""
    r = len(shape)
    if r == 0:
        return constant(np.ones((), dtype=dtype))
    return einsum_node(
        [delta(n, dtype) for n in shape], [(k, r + k) for k in range(r)], tuple(range(2 * r))
    )


def _first_derivative(f: Expr, x: Symbol, mode: Mode) -> Expr:
    out_shape = f.shape + x.shape
    if not f.depends_on(x):
        return zeros(out_shape, f.dtype)
    chosen = choose_mode(f.shape, x.shape) if mode == "auto" else mode
    if chosen == "forward":
        jac = _forward(f, {x.uid: identity_tensor(x.shape, x.dtype)}, x.shape)
    else:
        seed = identity_tensor(f.shape, f.dtype)
        jac = _reverse(f, seed, f.shape, [x]).get(x.uid, zeros(out_shape, f.dtype))
    return _symmetrize(jac, x) if x.symmetric else jac


# ---------------------------------------------------------------------------------------
# The local linear forms
# ---------------------------------------------------------------------------------------


def _placeholder(k: int, like: Expr) -> Symbol:
    return symbol(f"\x00d{k}", like.shape, dtype=like.dtype)


def _linear_form(node: Expr, varying: Sequence[bool]) -> tuple[Expr, tuple[Symbol | None, ...]]:
    """The node's differential as a linear expression in placeholder differentials
    (``None`` and a zero differential for operands that do not vary)."""
    holders = tuple(
        _placeholder(k, child) if vary else None
        for k, (child, vary) in enumerate(zip(node.children, varying))
    )
    diffs = tuple(
        h if h is not None else zeros(child.shape, child.dtype)
        for h, child in zip(holders, node.children)
    )
    return differential(node, diffs), holders


def _holder_nodes(linear: Expr, ids: set[int]) -> set[int]:
    """uids of the nodes of ``linear`` that contain one of the placeholders ``ids``."""
    found: set[int] = set()
    for node in linear.walk():
        if node.uid in ids or any(c.uid in found for c in node.children):
            found.add(node.uid)
    return found


def _fresh(count: int) -> tuple[tuple[str, int], ...]:
    return tuple(("extra", k) for k in range(count))


def _push_forward(linear: Expr, subst: dict[int, Expr], extra: Shape) -> Expr:
    """Apply the linear form to tangents that carry the trailing axes ``extra``."""
    live = _holder_nodes(linear, set(subst))
    memo: dict[int, Expr] = {}
    for node in linear.walk():
        if node.uid not in live:
            continue
        if node.uid in subst:
            memo[node.uid] = subst[node.uid]
        elif isinstance(node, Add):
            if not all(t.uid in live for t in node.terms):
                raise _not_linear(node)
            memo[node.uid] = add([memo[t.uid] for t in node.terms], node.coeffs)
        elif isinstance(node, Einsum):
            k = _single_live_operand(node, live)
            labels = _fresh(len(extra))
            operands = list(node.operands)
            indices: list[tuple[Any, ...]] = list(node.indices)
            operands[k] = memo[node.operands[k].uid]
            indices[k] = (*indices[k], *labels)
            memo[node.uid] = einsum_node(operands, indices, (*node.out, *labels))
        elif isinstance(node, Apply) and node.op.linear is not None:
            tangents = [
                memo[a.uid] if a.uid in live else zeros(a.shape + extra, a.dtype)
                for a in node.args
            ]
            memo[node.uid] = node.op.linear.push(node, tangents, extra)
        else:
            raise _not_linear(node)
    if linear.uid not in live:
        return zeros(linear.shape + extra, linear.dtype)
    return memo[linear.uid]


def _pull_back(
    linear: Expr, cotangent: Expr, extra: Shape, holders: Sequence[Symbol | None]
) -> dict[int, Expr]:
    """Apply the transpose of the linear form to a cotangent of shape
    ``extra + linear.shape``; returns placeholder uid → contribution."""
    holder_ids = {h.uid for h in holders if h is not None}
    live = _holder_nodes(linear, holder_ids)
    pending: dict[int, list[Expr]] = {linear.uid: [cotangent]} if linear.uid in live else {}
    result: dict[int, Expr] = {}
    labels = _fresh(len(extra))
    for node in reversed(linear.walk()):
        parts = pending.pop(node.uid, None)
        if not parts:
            continue
        ct = add(parts)
        if isinstance(ct, Zero):
            continue
        if node.uid in holder_ids:
            result[node.uid] = ct
        elif isinstance(node, Add):
            for term, c in zip(node.terms, node.coeffs):
                if term.uid not in live:
                    raise _not_linear(node)
                pending.setdefault(term.uid, []).append(add([ct], [c]))
        elif isinstance(node, Einsum):
            k = _single_live_operand(node, live)
            target = node.operands[k]
            pending.setdefault(target.uid, []).append(_transpose_einsum(node, k, ct, labels))
        elif isinstance(node, Apply) and node.op.linear is not None:
            for k, arg in enumerate(node.args):
                if arg.uid in live:
                    pending.setdefault(arg.uid, []).append(node.op.linear.pull(node, k, ct, extra))
        else:
            raise _not_linear(node)
    return result


def _transpose_einsum(
    node: Einsum, k: int, ct: Expr, labels: tuple[tuple[str, int], ...]
) -> Expr:
    """The adjoint of operand ``k`` of an einsum, given the einsum's cotangent."""
    operands: list[Expr] = [o for j, o in enumerate(node.operands) if j != k]
    indices: list[tuple[Any, ...]] = [ix for j, ix in enumerate(node.indices) if j != k]
    operands.append(ct)
    indices.append((*labels, *node.out))
    present = {label for ix in indices for label in ix}
    dims = node.dims()
    target: list[Any] = []
    for pos, label in enumerate(node.indices[k]):
        n = dims[label]
        if label in target:
            # a repeated index (a diagonal): a fresh index tied to it by a delta
            fresh = ("diag", k, pos)
            operands.append(delta(n, node.dtype))
            indices.append((label, fresh))
            target.append(fresh)
            continue
        if label not in present:
            # an index summed only inside this operand: broadcast the cotangent over it
            operands.append(ones((n,), node.dtype))
            indices.append((label,))
            present.add(label)
        target.append(label)
    return einsum_node(operands, indices, (*labels, *target))


def _single_live_operand(node: Einsum, live: set[int]) -> int:
    hits = [k for k, o in enumerate(node.operands) if o.uid in live]
    if len(hits) != 1:
        raise _not_linear(node)
    return hits[0]


def _not_linear(node: Expr) -> AssertionError:
    return AssertionError(
        f"internal error: a derivative rule produced a non-linear differential at a {node.kind} "
        "node; please report this"
    )


# ---------------------------------------------------------------------------------------
# Forward and reverse accumulation over the function's DAG
# ---------------------------------------------------------------------------------------


def _forward(f: Expr, seeds: dict[int, Expr], extra: Shape) -> Expr:
    """Forward accumulation: ``seeds`` maps a symbol's uid to its tangent (the
    symbol's shape followed by ``extra``); returns f's tangent."""
    tangents: dict[int, Expr] = dict(seeds)
    for node in f.walk():
        if node.uid in tangents or node.kind in LEAF_KINDS:
            continue
        varying = [c.uid in tangents for c in node.children]
        if not any(varying):
            continue
        linear, holders = _linear_form(node, varying)
        subst = {
            h.uid: tangents[c.uid] for h, c in zip(holders, node.children) if h is not None
        }
        tangent = _push_forward(linear, subst, extra)
        if not isinstance(tangent, Zero):
            tangents[node.uid] = tangent
    return tangents.get(f.uid, zeros(f.shape + extra, f.dtype))


def _reverse(f: Expr, seed: Expr, extra: Shape, targets: Sequence[Symbol]) -> dict[int, Expr]:
    """Reverse accumulation: ``seed`` is f's adjoint (``extra + f.shape``); returns
    the adjoint (``extra + x.shape``) of each target symbol that f depends on."""
    wanted = {x.uid for x in targets}
    order = [n for n in f.walk() if any(n.depends_on(x) for x in targets)]
    pending: dict[int, list[Expr]] = {f.uid: [seed]}
    found: dict[int, Expr] = {}
    for node in reversed(order):
        parts = pending.pop(node.uid, None)
        if not parts:
            continue
        adjoint = add(parts)
        if isinstance(adjoint, Zero):
            continue
        if node.uid in wanted:
            found[node.uid] = adjoint
            continue
        if node.kind in LEAF_KINDS:
            continue
        varying = [any(c.depends_on(x) for x in targets) for c in node.children]
        linear, holders = _linear_form(node, varying)
        contributions = _pull_back(linear, adjoint, extra, holders)
        for h, child in zip(holders, node.children):
            if h is not None and h.uid in contributions:
                pending.setdefault(child.uid, []).append(contributions[h.uid])
    return found


def _symmetrize(jac: Expr, x: Symbol) -> Expr:
    """The symmetric gradient: average over the two (last) axes of a symmetric ``x``."""
    r = jac.ndim - 2
    axes = (*range(r), r + 1, r)
    return add([jac, transpose(jac, axes)], [0.5, 0.5])


def jvp_expr(f: Expr, tangents: dict[Symbol, Expr], *, simplify: bool = True) -> Expr:
    """The directional derivative ``Σₖ (∂f/∂xₖ)[vₖ]`` for tangents ``vₖ`` of the
    symbols' shapes, by forward accumulation, never forming a Jacobian.

    >>> import matgrad as mg
    >>> X = mg.Matrix("X", (2, 2)); V = mg.Matrix("V", (2, 2))
    >>> print(mg.simplify(jvp_expr(X @ X, {X: V})) is mg.simplify(V @ X + X @ V))
    True
    """
    seeds: dict[int, Expr] = {}
    for x, v in tangents.items():
        _check_symbol(x)
        if v.shape != x.shape:
            raise InvalidArgumentError(
                f"jvp: tangent for {x.name!r} has shape {v.shape}, expected {x.shape}"
            )
        seeds[x.uid] = v
    out = _forward(f, seeds, ())
    result = _simplify(out) if simplify else out
    return record_derivation(result, [f, *tangents.values()], tangents)


def vjp_expr(
    f: Expr, cotangent: Expr, wrt: Sequence[Symbol], *, simplify: bool = True
) -> tuple[Expr, ...]:
    """The adjoints ``cᵀ ∂f/∂xₖ`` (shape of each ``xₖ``) for a cotangent ``c`` of f's
    shape, by reverse accumulation, never forming a Jacobian."""
    for x in wrt:
        _check_symbol(x)
    if cotangent.shape != f.shape:
        raise InvalidArgumentError(
            f"vjp: cotangent has shape {cotangent.shape}, expected the output's {f.shape}"
        )
    found = _reverse(f, cotangent, (), wrt)
    results = []
    for x in wrt:
        adj = found.get(x.uid, zeros(x.shape, f.dtype))
        if x.symmetric:
            adj = _symmetrize(adj, x)
        result = _simplify(adj) if simplify else adj
        results.append(record_derivation(result, [f, cotangent], wrt))
    return tuple(results)


def _check_symbol(x: Any) -> None:
    if not isinstance(x, Symbol):
        what = x.kind if isinstance(x, Expr) else type(x).__name__
        raise InvalidArgumentError(
            f"derivative: can only differentiate with respect to a symbol, got {what}"
        )

"""Symbolic derivatives of any order: the chain rule as tensor contraction (layer 3).

``derivative(f, x)`` is the Jacobian tensor ``∂f/∂x`` of shape ``f.shape + x.shape``
(numerator layout, DESIGN.md §1).  It walks the DAG of ``f`` once, using the
differential of each node from :data:`matgrad.rules.RULES`:

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
:func:`matgrad.simplify.simplify` fuses the contractions, opt_einsum chooses
the order inside each fused product by flop count, which can mix the two.

Symmetric variables get the symmetric gradient ``(G + Gᵀ)/2`` on their two axes
(DESIGN.md §1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from matgrad._types import Shape
from matgrad.errors import InvalidArgumentError
from matgrad.expr import (
    Add,
    Einsum,
    Expr,
    Reshape,
    Symbol,
    Zero,
    add,
    constant,
    delta,
    einsum_node,
    ones,
    reshape,
    symbol,
    transpose,
    zeros,
)
from matgrad.rules import LEAF_KINDS, RULES
from matgrad.simplify import simplify as _simplify

Mode = Literal["auto", "forward", "reverse"]

__all__ = ["derivative", "identity_tensor", "choose_mode"]


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
    if not isinstance(wrt, Symbol):
        what = wrt.kind if isinstance(wrt, Expr) else type(wrt).__name__
        raise InvalidArgumentError(
            f"derivative: can only differentiate with respect to a symbol, got {what}"
        )
    if not isinstance(order, int) or isinstance(order, bool) or order < 0:
        raise InvalidArgumentError(f"derivative: order must be a non-negative int, got {order!r}")
    if mode not in ("auto", "forward", "reverse"):
        raise InvalidArgumentError(
            f"derivative: mode must be 'auto', 'forward' or 'reverse', got {mode!r}"
        )
    result = _simplify(expr) if simplify else expr
    for _ in range(order):
        result = _first_derivative(result, wrt, mode)
        if simplify:
            result = _simplify(result)
    return result


def choose_mode(out_shape: Shape, in_shape: Shape) -> Literal["forward", "reverse"]:
    """Reverse accumulation when the output has at most as many entries as the input."""
    out_size = _size(out_shape)
    return "reverse" if out_size <= _size(in_shape) else "forward"


def identity_tensor(shape: Shape, dtype: Any) -> Expr:
    """``∂x/∂x``: the product of deltas ``δ(i₁, j₁) ⋯ δ(iᵣ, jᵣ)``, shape ``shape + shape``."""
    r = len(shape)
    if r == 0:
        return constant(np.ones((), dtype=dtype))
    return einsum_node(
        [delta(n, dtype) for n in shape], [(k, r + k) for k in range(r)], tuple(range(2 * r))
    )


def _size(shape: Shape) -> int:
    size = 1
    for d in shape:
        size *= d
    return size


def _first_derivative(f: Expr, x: Symbol, mode: Mode) -> Expr:
    out_shape = f.shape + x.shape
    if not f.depends_on(x):
        return zeros(out_shape, f.dtype)
    chosen = choose_mode(f.shape, x.shape) if mode == "auto" else mode
    jac = _forward(f, x) if chosen == "forward" else _reverse(f, x)
    if isinstance(jac, Zero) or jac.shape != out_shape:
        jac = reshape(jac, out_shape) if jac.size == _size(out_shape) else zeros(out_shape)
    if x.symmetric:
        r = f.ndim
        axes = (*range(r), r + 1, r)
        jac = add([jac, transpose(jac, axes)], [0.5, 0.5])
    return jac


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
    return RULES[node.kind](node, diffs), holders


def _holder_nodes(linear: Expr, holders: Sequence[Symbol | None]) -> set[int]:
    """uids of the nodes of ``linear`` that contain a placeholder."""
    ids = {h.uid for h in holders if h is not None}
    found: set[int] = set()
    for node in linear.walk():
        if node.uid in ids or any(c.uid in found for c in node.children):
            found.add(node.uid)
    return found


def _fresh(count: int) -> tuple[tuple[str, int], ...]:
    return tuple(("extra", k) for k in range(count))


def _push_forward(linear: Expr, subst: dict[int, Expr], extra: Shape) -> Expr:
    """Apply the linear form to tangents that carry the trailing axes ``extra``."""
    live: set[int] = set()
    for node in linear.walk():
        if node.uid in subst or any(c.uid in live for c in node.children):
            live.add(node.uid)
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
        elif isinstance(node, Reshape):
            memo[node.uid] = reshape(memo[node.x.uid], node.shape + extra)
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
    live = _holder_nodes(linear, holders)
    holder_ids = {h.uid for h in holders if h is not None}
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
        elif isinstance(node, Reshape):
            pending.setdefault(node.x.uid, []).append(reshape(ct, extra + node.x.shape))
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


def _forward(f: Expr, x: Symbol) -> Expr:
    tangents: dict[int, Expr] = {}
    for node in f.walk():
        if node is x:
            tangents[node.uid] = identity_tensor(x.shape, x.dtype)
            continue
        if node.kind in LEAF_KINDS or not node.depends_on(x):
            continue
        varying = [c.uid in tangents for c in node.children]
        if not any(varying):
            continue
        linear, holders = _linear_form(node, varying)
        subst = {
            h.uid: tangents[c.uid] for h, c in zip(holders, node.children) if h is not None
        }
        tangent = _push_forward(linear, subst, x.shape)
        if not isinstance(tangent, Zero):
            tangents[node.uid] = tangent
    return tangents.get(f.uid, zeros(f.shape + x.shape, f.dtype))


def _reverse(f: Expr, x: Symbol) -> Expr:
    order = [n for n in f.walk() if n.depends_on(x)]
    pending: dict[int, list[Expr]] = {f.uid: [identity_tensor(f.shape, f.dtype)]}
    for node in reversed(order):
        parts = pending.pop(node.uid, None)
        if not parts:
            continue
        adjoint = add(parts)
        if isinstance(adjoint, Zero):
            continue
        if node is x:
            return adjoint
        if node.kind in LEAF_KINDS:
            continue
        varying = [c.depends_on(x) for c in node.children]
        linear, holders = _linear_form(node, varying)
        contributions = _pull_back(linear, adjoint, f.shape, holders)
        for h, child in zip(holders, node.children):
            if h is not None and h.uid in contributions:
                pending.setdefault(child.uid, []).append(contributions[h.uid])
    return zeros(f.shape + x.shape, f.dtype)

"""The derivative rules: one differential per node kind, written as an expression (layer 5).

``differential(node, d)`` returns ``d node`` as an expression that is *linear*
in ``d``, the tuple of the operands' differentials (one per operand, each of the
operand's own shape; ``Zero`` where an operand does not vary).  The algebraic
core has its rules here (:data:`RULES`: the product rule for einsums, linearity
for sums); every other node applies a declared operation, whose declaration
carries its differential (:mod:`matgrad.ops`).  Because the rules are plain
expressions, every order of derivative comes from the same rules, and
:mod:`matgrad.calculus.diff` derives both accumulation directions from them:
forward mode substitutes tangents (with the variable's axes appended) for ``d``,
reverse mode transposes the linear expression.

Leaves (symbols, constants, zeros, ones, deltas) have no rule: their
differential is the seed (for the variable) or zero, decided by ``diff``.
"""

from __future__ import annotations

from collections.abc import Callable

from matgrad.ir.apply import Apply
from matgrad.ir.expr import Add, Einsum, Expr, Zero, add, einsum_node

__all__ = ["LEAF_KINDS", "RULES", "Rule", "differential"]

Rule = Callable[[Expr, tuple[Expr, ...]], Expr]


def d_einsum(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """Product rule for a multilinear product:
    ``d einsum(A₁, …, Aₙ) = Σₖ einsum(A₁, …, dAₖ, …, Aₙ)`` (repeated operands included).
    """
    assert isinstance(node, Einsum)
    terms = []
    for k, dk in enumerate(d):
        if isinstance(dk, Zero):
            continue
        operands = list(node.operands)
        operands[k] = dk
        terms.append(einsum_node(operands, node.indices, node.out))
    return add(terms) if terms else add([node], [0])


def d_add(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """Linearity: ``d Σ cₖ tₖ = Σ cₖ dtₖ``."""
    assert isinstance(node, Add)
    return add(list(d), node.coeffs)


RULES: dict[str, Rule] = {
    "einsum": d_einsum,
    "add": d_add,
}
"""The core's node kinds → differential rule.  Leaf kinds are ``LEAF_KINDS``;
every other kind is a declared operation, with its own rule."""

LEAF_KINDS: frozenset[str] = frozenset({"symbol", "constant", "zero", "ones", "delta"})
"""Kinds with no operands: their differential is the seed or zero."""


def differential(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d node`` from the operands' differentials ``d``: the core's rule, or the
    declared operation's."""
    if isinstance(node, Apply):
        return node.op.differential(node, d)
    return RULES[node.kind](node, d)

"""The derivative rules: one differential per node kind, written as an expression (layer 3).

``RULES[kind](node, d)`` returns the differential ``d node`` as an expression that
is *linear* in ``d``, the tuple of the operands' differentials (one per operand,
each of the operand's own shape; ``Zero`` where an operand does not vary).
Because the rules are plain expressions, every order of derivative comes from
the same table, and :mod:`matgrad.calculus.diff` derives both accumulation directions
from it: forward mode substitutes tangents (with the variable's axes appended)
for ``d``, reverse mode transposes the linear expression.

Leaves (symbols, constants, zeros, ones, deltas) have no rule: their
differential is the seed (for the variable) or zero, decided by ``diff``.
"""

from __future__ import annotations

from collections.abc import Callable

from matgrad.ir.expr import (
    Add,
    Einsum,
    Elementwise,
    Expr,
    MatrixFunction,
    Reshape,
    Zero,
    add,
    einsum_node,
    elementwise,
    matrix_function,
    ones,
    reshape,
)
from matgrad.ops import matmul, multiply

Rule = Callable[[Expr, tuple[Expr, ...]], Expr]


def _trace_product(a: Expr, b: Expr) -> Expr:
    """``tr(A B)`` for square matrices of one size."""
    return einsum_node([a, b], [(0, 1), (1, 0)], ())


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
    return add(terms) if terms else _zero_like(node)


def d_add(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """Linearity: ``d Σ cₖ tₖ = Σ cₖ dtₖ``."""
    assert isinstance(node, Add)
    return add(list(d), node.coeffs)


def d_elementwise(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d f(x) = f′(x) ⊙ dx`` with f′ from :func:`elementwise_derivative`."""
    assert isinstance(node, Elementwise)
    (dx,) = d
    return multiply(elementwise_derivative(node), dx)


def elementwise_derivative(node: Elementwise) -> Expr:
    """f′(x) for each elementwise function, as an expression in x and f(x):
    exp′ = exp, log′ = x⁻¹, sin′ = cos, cos′ = −sin, tanh′ = 1 − tanh²,
    σ′ = σ (1 − σ), sqrt′ = ½ x^(−½), abs′ = sign (0 at 0), sign′ = 0,
    (xᵖ)′ = p x^(p−1)."""
    x, fn = node.x, node.fn
    one = ones(x.shape, node.dtype)
    if fn == "exp":
        return node
    if fn == "log":
        return elementwise("power", x, -1.0)
    if fn == "sin":
        return elementwise("cos", x)
    if fn == "cos":
        return -elementwise("sin", x)
    if fn == "tanh":
        return add([one, elementwise("power", node, 2.0)], [1, -1])
    if fn == "sigmoid":
        return multiply(node, add([one, node], [1, -1]))
    if fn == "sqrt":
        return add([elementwise("power", x, -0.5)], [0.5])
    if fn == "abs":
        return elementwise("sign", x)
    if fn == "sign":
        return _zero_like(node)
    if fn == "power":
        assert node.param is not None
        return add([elementwise("power", x, node.param - 1.0)], [node.param])
    raise AssertionError(f"no derivative for elementwise {fn!r}")  # pragma: no cover


def d_inv(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d X⁻¹ = −X⁻¹ dX X⁻¹`` (Matrix Cookbook (59); MML (5.101) for the trace form)."""
    (dx,) = d
    return -matmul(matmul(node, dx), node)


def d_det(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d det X = tr(adj(X) dX)`` (Jacobi's formula; Matrix Cookbook (46)).  Through the
    adjugate, so the gradient ``adj(X)ᵀ`` is finite at singular X too."""
    assert isinstance(node, MatrixFunction)
    (dx,) = d
    return _trace_product(matrix_function("adj", node.x), dx)


def d_logdet(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d log|det X| = tr(X⁻¹ dX)`` (Matrix Cookbook (57); MML (5.107) for SPD X)."""
    assert isinstance(node, MatrixFunction)
    (dx,) = d
    return _trace_product(matrix_function("inv", node.x), dx)


def d_adj(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d adj X = tr(adj(X) dX) X⁻¹ − adj(X) dX X⁻¹`` from ``adj X = det(X) X⁻¹``;
    valid where X is invertible (the derivative of the adjugate at a singular X
    needs the inverse, and evaluation raises ``LinAlgError`` there)."""
    assert isinstance(node, MatrixFunction)
    (dx,) = d
    inverse = matrix_function("inv", node.x)
    scalar_part = multiply(_trace_product(node, dx), inverse)
    return add([scalar_part, matmul(matmul(node, dx), inverse)], [1, -1])


def d_reshape(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """Reshaping is linear: ``d reshape(x) = reshape(dx)``."""
    assert isinstance(node, Reshape)
    (dx,) = d
    return reshape(dx, node.shape)


def _zero_like(node: Expr) -> Expr:
    return add([node], [0])


RULES: dict[str, Rule] = {
    "einsum": d_einsum,
    "add": d_add,
    "elementwise": d_elementwise,
    "inv": d_inv,
    "det": d_det,
    "logdet": d_logdet,
    "adj": d_adj,
    "reshape": d_reshape,
}
"""Node kind → differential rule.  Leaf kinds are ``LEAF_KINDS``."""

LEAF_KINDS: frozenset[str] = frozenset({"symbol", "constant", "zero", "ones", "delta"})
"""Kinds with no operands: their differential is the seed or zero."""

"""Vector and matrix norms: Matrix Cookbook (2012) sections 2.6–2.7 (layer 4).

``norm`` is the Frobenius norm of a matrix and the 2-norm of a vector; both are
``sqrt(Σ xᵢ²)`` and not differentiable at zero (the values drawn are nonzero).
"""

from __future__ import annotations

from matgrad import ops
from matgrad.identities._record import Identity, Symbols, entry
from matgrad.ir.expr import Expr

__all__ = ["ENTRIES"]

_CB = "Matrix Cookbook (2012) eq. "
_CBS = "Matrix Cookbook (2012) eqs. "


def _d(s: Symbols) -> Expr:
    return s.x - s.a


ENTRIES: tuple[Identity, ...] = (
    entry(
        name="norm-x-minus-a",
        title="Euclidean distance, ‖x − a‖₂",
        latex=r"\frac{\partial \|x - a\|_2}{\partial x} = \frac{x - a}{\|x - a\|_2}",
        source=_CB + "(129)",
        topic="norm",
        symbols={"x": "n", "a": "n"},
        wrt="x",
        function=lambda s: ops.norm(_d(s)),
        closed_form=lambda s: _d(s) / ops.norm(_d(s)),
        notes="Not differentiable at x = a.",
    ),
    entry(
        name="norm-unit-vector-jacobian",
        title="Jacobian of the unit vector (x − a)/‖x − a‖₂",
        latex=r"\frac{\partial}{\partial x}\frac{x - a}{\|x - a\|_2} = \frac{I}{\|x - a\|_2} - "
        r"\frac{(x - a)(x - a)^\top}{\|x - a\|_2^3}",
        source=_CB + "(130)",
        topic="norm",
        symbols={"x": "n", "a": "n"},
        wrt="x",
        function=lambda s: _d(s) / ops.norm(_d(s)),
        closed_form=lambda s: s.eye("n") / ops.norm(_d(s))
        - ops.outer(_d(s), _d(s)) / ops.norm(_d(s)) ** 3,
        notes="Also the Hessian of ‖x − a‖₂ (the Jacobian of norm-x-minus-a's gradient).",
    ),
    entry(
        name="norm-x-squared",
        title="Squared 2-norm, ‖x‖₂²",
        latex=r"\frac{\partial \|x\|_2^2}{\partial x} = 2x",
        source=_CB + "(131)",
        topic="norm",
        symbols={"x": "n"},
        wrt="x",
        function=lambda s: ops.norm(s.x) ** 2,
        closed_form=lambda s: 2 * s.x,
        notes="Built as the square of the norm, so the chain runs through the square root.",
    ),
    entry(
        name="norm-x",
        title="2-norm, ‖x‖₂",
        latex=r"\frac{\partial \|x\|_2}{\partial x} = \frac{x}{\|x\|_2}",
        source=_CB + "(129) with a = 0",
        topic="norm",
        symbols={"x": "n"},
        wrt="x",
        function=lambda s: ops.norm(s.x),
        closed_form=lambda s: s.x / ops.norm(s.x),
    ),
    entry(
        name="norm-frobenius-squared",
        title="Squared Frobenius norm, ‖X‖²_F",
        latex=r"\frac{\partial \|X\|_F^2}{\partial X} = 2X",
        source=_CB + "(132)",
        topic="norm",
        symbols={"X": "n m"},
        wrt="X",
        function=lambda s: ops.norm(s.X) ** 2,
        closed_form=lambda s: 2 * s.X,
    ),
    entry(
        name="norm-frobenius",
        title="Frobenius norm, ‖X‖_F",
        latex=r"\frac{\partial \|X\|_F}{\partial X} = \frac{X}{\|X\|_F}",
        source="derived from " + _CB + "(132) by the chain rule",
        topic="norm",
        symbols={"X": "n m"},
        wrt="X",
        function=lambda s: ops.norm(s.X),
        closed_form=lambda s: s.X / ops.norm(s.X),
    ),
    entry(
        name="norm-Xb-squared",
        title="‖Xb‖₂²",
        latex=r"\frac{\partial \|Xb\|_2^2}{\partial X} = 2Xbb^\top",
        source=_CB + "(77) with c = b",
        topic="norm",
        symbols={"X": "n m", "b": "m"},
        wrt="X",
        function=lambda s: ops.norm(s.X @ s.b) ** 2,
        closed_form=lambda s: 2 * (s.X @ ops.outer(s.b, s.b)),
    ),
    entry(
        name="norm-Ax-minus-b-squared",
        title="Least squares, ‖Ax − b‖₂²",
        latex=r"\frac{\partial \|Ax - b\|_2^2}{\partial x} = 2A^\top(Ax - b)",
        source=_CB + "(84) with W = I; MML Example 5.11",
        topic="norm",
        symbols={"A": "m n", "x": "n", "b": "m"},
        wrt="x",
        function=lambda s: ops.norm(s.A @ s.x - s.b) ** 2,
        closed_form=lambda s: 2 * (s.A.T @ (s.A @ s.x - s.b)),
    ),
    entry(
        name="norm-Ax-minus-b-wrt-A",
        title="Least squares in the matrix, ‖Ax − b‖₂² wrt A",
        latex=r"\frac{\partial \|Ax - b\|_2^2}{\partial A} = 2(Ax - b)x^\top",
        source=_CB + "(88) with W = I",
        topic="norm",
        symbols={"A": "m n", "x": "n", "b": "m"},
        wrt="A",
        function=lambda s: ops.norm(s.A @ s.x - s.b) ** 2,
        closed_form=lambda s: 2 * ops.outer(s.A @ s.x - s.b, s.x),
    ),
    entry(
        name="norm-AXB-minus-C",
        title="Frobenius distance of an affine map, ‖AXB − C‖²_F",
        latex=r"\frac{\partial \|AXB - C\|_F^2}{\partial X} = 2A^\top(AXB - C)B^\top",
        source=_CB + "(119) (with −C), written as a norm",
        topic="norm",
        symbols={"A": "p n", "X": "n m", "B": "m q", "C": "p q"},
        wrt="X",
        function=lambda s: ops.norm(s.A @ s.X @ s.B - s.C) ** 2,
        closed_form=lambda s: 2 * (s.A.T @ (s.A @ s.X @ s.B - s.C) @ s.B.T),
        sizes=[{"p": 2, "n": 3, "m": 4, "q": 3}, {"p": 3, "n": 2, "m": 3, "q": 2}],
    ),
    entry(
        name="norm-orthogonality-penalty",
        title="Orthogonality penalty, ‖XᵀX − I‖²_F",
        latex=r"\frac{\partial \|X^\top X - I\|_F^2}{\partial X} = 4X(X^\top X - I)",
        source="derived from " + _CBS + "(132) and (77)",
        topic="norm",
        symbols={"X": "n m"},
        wrt="X",
        function=lambda s: ops.norm(s.X.T @ s.X - s.eye("m")) ** 2,
        closed_form=lambda s: 4 * (s.X @ (s.X.T @ s.X - s.eye("m"))),
    ),
    entry(
        name="norm-l1",
        title="1-norm, ‖x‖₁, away from zero entries",
        latex=r"\frac{\partial \|x\|_1}{\partial x} = \operatorname{sign}(x)",
        source="standard (the subgradient at zero entries is [−1, 1])",
        topic="norm",
        symbols={"x": "n"},
        conditions={"x": "nonzero entries"},
        wrt="x",
        function=lambda s: ops.sum(ops.abs(s.x)),
        closed_form=lambda s: ops.sign(s.x),
        notes="""Only differentiable where no entry is zero; matgrad's abs has derivative
        sign (0 at 0).  Values are drawn at least 0.5 away from zero.""",
    ),
)

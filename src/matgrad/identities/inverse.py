"""Derivatives of inverses: Matrix Cookbook (2012) section 2.2 (layer 4).

Index order.  matgrad's Jacobian of a matrix-valued ``F`` is
``J[i, j, k, l] = ∂F[i, j]/∂X[k, l]`` (output axes first).  The cookbook states
(60) as ``∂(X⁻¹)_kl/∂X_ij = −(X⁻¹)_ki (X⁻¹)_jl``, naming the output entry (k, l)
and the input entry (i, j); renamed to our order it is
``J[i, j, k, l] = −(X⁻¹)_ik (X⁻¹)_lj``: the same formula.
"""

from __future__ import annotations

from matgrad import ops
from matgrad.identities._record import Identity, Symbols, entry, pencil
from matgrad.ir.expr import Expr

__all__ = ["ENTRIES"]

_CB = "Matrix Cookbook (2012) eq. "
_CBS = "Matrix Cookbook (2012) eqs. "

_INDEX_ORDER = (
    "Index order: J[i, j, k, l] = ∂F[i, j]/∂X[k, l] (output first); the cookbook names "
    "the output entry (k, l) and the input entry (i, j), the reverse."
)


def _shifted(s: Symbols) -> Expr:
    return s.X + s.A


ENTRIES: tuple[Identity, ...] = (
    entry(
        name="inverse-jacobian",
        title="Jacobian of the inverse, ∂X⁻¹/∂X (a 4-index tensor)",
        latex=r"\frac{\partial (X^{-1})_{ij}}{\partial X_{kl}} = -(X^{-1})_{ik}(X^{-1})_{lj}",
        source=_CB + "(60)",
        topic="inverse",
        symbols={"X": "n n"},
        conditions={"X": "invertible"},
        wrt="X",
        function=lambda s: ops.inv(s.X),
        closed_form=lambda s: -ops.einsum("ik,lj->ijkl", ops.inv(s.X), ops.inv(s.X)),
        notes=_INDEX_ORDER + """  Flattened column-major, the n²×n² Jacobian matrix is
        −(X⁻ᵀ ⊗ X⁻¹).""",
    ),
    entry(
        name="inverse-transpose-jacobian",
        title="Jacobian of the inverse transpose, ∂X⁻ᵀ/∂X",
        latex=r"\frac{\partial (X^{-\top})_{ij}}{\partial X_{kl}} = -(X^{-1})_{jk}(X^{-1})_{li}",
        source="derived from " + _CB + "(60) and MML (5.98)",
        topic="inverse",
        symbols={"X": "n n"},
        conditions={"X": "invertible"},
        wrt="X",
        function=lambda s: ops.inv(s.X).T,
        closed_form=lambda s: -ops.einsum("jk,li->ijkl", ops.inv(s.X), ops.inv(s.X)),
        notes=_INDEX_ORDER,
    ),
    entry(
        name="inverse-shifted-jacobian",
        title="Jacobian of (X + A)⁻¹",
        latex=r"\frac{\partial ((X + A)^{-1})_{ij}}{\partial X_{kl}} = -(Y)_{ik}(Y)_{lj},"
        r"\quad Y = (X + A)^{-1}",
        source=_CBS + "(59)–(60)",
        topic="inverse",
        symbols={"X": "n n", "A": "n n"},
        conditions={"X": "positive definite part", "A": "positive definite"},
        wrt="X",
        function=lambda s: ops.inv(_shifted(s)),
        closed_form=lambda s: -ops.einsum(
            "ik,lj->ijkl", ops.inv(_shifted(s)), ops.inv(_shifted(s))
        ),
        notes=_INDEX_ORDER + """  X is drawn with a positive definite symmetric part
        and A positive definite, so X + A is invertible (X itself is not symmetric).""",
    ),
    entry(
        name="inverse-pencil",
        title="Derivative of an inverse along a line, d/dt (A + tB)⁻¹",
        latex=r"\frac{d Y^{-1}}{dt} = -Y^{-1}\frac{dY}{dt}Y^{-1},\quad Y = A + tB",
        source=_CB + "(59)",
        topic="inverse",
        symbols={"t": "", "A": "n n", "B": "n n"},
        conditions={"A": "invertible"},
        wrt="t",
        function=lambda s: ops.inv(pencil(s)),
        closed_form=lambda s: -(ops.inv(pencil(s)) @ s.B @ ops.inv(pencil(s))),
    ),
    entry(
        name="det-inv-X",
        title="Determinant of the inverse, det(X⁻¹)",
        latex=r"\frac{\partial \det(X^{-1})}{\partial X} = -\det(X^{-1})\,X^{-\top}",
        source=_CB + "(62)",
        topic="inverse",
        symbols={"X": "n n"},
        conditions={"X": "invertible"},
        wrt="X",
        function=lambda s: ops.det(ops.inv(s.X)),
        closed_form=lambda s: -ops.det(ops.inv(s.X)) * ops.inv(s.X).T,
    ),
    entry(
        name="logdet-inv-X",
        title="Log-determinant of the inverse, log|det X⁻¹|",
        latex=r"\frac{\partial \ln|\det(X^{-1})|}{\partial X} = -X^{-\top}",
        source="derived from " + _CBS + "(57) and (62)",
        topic="inverse",
        symbols={"X": "n n"},
        conditions={"X": "invertible"},
        wrt="X",
        function=lambda s: ops.logdet(ops.inv(s.X)),
        closed_form=lambda s: -ops.inv(s.X).T,
    ),
    entry(
        name="trace-AXinvB",
        title="tr(AX⁻¹B)",
        latex=r"\frac{\partial \operatorname{tr}(AX^{-1}B)}{\partial X} = -(X^{-1}BAX^{-1})^\top"
        r" = -X^{-\top}A^\top B^\top X^{-\top}",
        source=_CBS + "(63) and (124)",
        topic="inverse",
        symbols={"A": "k n", "X": "n n", "B": "n k"},
        conditions={"X": "invertible"},
        wrt="X",
        function=lambda s: ops.trace(s.A @ ops.inv(s.X) @ s.B),
        closed_form=lambda s: -(ops.inv(s.X) @ s.B @ s.A @ ops.inv(s.X)).T,
        notes="A and B may be rectangular (k×n and n×k).",
    ),
    entry(
        name="trace-inv-X-plus-A",
        title="tr((X + A)⁻¹)",
        latex=r"\frac{\partial \operatorname{tr}((X + A)^{-1})}{\partial X} = "
        r"-((X + A)^{-1}(X + A)^{-1})^\top",
        source=_CB + "(64)",
        topic="inverse",
        symbols={"X": "n n", "A": "n n"},
        conditions={"X": "positive definite part", "A": "positive definite"},
        wrt="X",
        function=lambda s: ops.trace(ops.inv(_shifted(s))),
        closed_form=lambda s: -(ops.inv(_shifted(s)) @ ops.inv(_shifted(s))).T,
        notes="""X + A only has to be invertible: X is drawn with a positive definite
        symmetric part and A positive definite, which guarantees it.""",
    ),
    entry(
        name="inverse-reparametrize",
        title="Gradient through W = A⁻¹, with J = ‖A⁻¹‖²_F",
        latex=r"\frac{\partial J}{\partial A} = -A^{-\top}\frac{\partial J}{\partial W}A^{-\top},"
        r"\quad W = A^{-1},\ J = \operatorname{tr}(W^\top W),\ "
        r"\frac{\partial J}{\partial W} = 2W",
        source="Matrix Cookbook (2012) §2.2, the unnumbered rule after eq. (64)",
        topic="inverse",
        symbols={"A": "n n"},
        conditions={"A": "invertible"},
        wrt="A",
        function=lambda s: ops.trace(ops.inv(s.A).T @ ops.inv(s.A)),
        closed_form=lambda s: -(ops.inv(s.A).T @ (2 * ops.inv(s.A)) @ ops.inv(s.A).T),
        notes="The rule holds for any J; instantiated with the squared Frobenius norm of W.",
    ),
    entry(
        name="aXinvtb",
        title="Bilinear form in the inverse transpose, aᵀX⁻ᵀb",
        latex=r"\frac{\partial\, a^\top X^{-\top} b}{\partial X} = -X^{-\top} b a^\top X^{-\top}",
        source="derived from " + _CB + "(61), since aᵀX⁻ᵀb = bᵀX⁻¹a",
        topic="inverse",
        symbols={"X": "n n", "a": "n", "b": "n"},
        conditions={"X": "invertible"},
        wrt="X",
        function=lambda s: s.a @ ops.inv(s.X).T @ s.b,
        closed_form=lambda s: -(ops.inv(s.X).T @ ops.outer(s.b, s.a) @ ops.inv(s.X).T),
    ),
    entry(
        name="solve-jacobian-X",
        title="Jacobian of a linear solve in the matrix, ∂(X⁻¹b)/∂X",
        latex=r"\frac{\partial (X^{-1}b)_i}{\partial X_{kl}} = -(X^{-1})_{ik}(X^{-1}b)_l",
        source="derived from " + _CB + "(59)",
        topic="inverse",
        symbols={"X": "n n", "b": "n"},
        conditions={"X": "invertible"},
        wrt="X",
        function=lambda s: ops.solve(s.X, s.b),
        closed_form=lambda s: -ops.einsum("ik,l->ikl", ops.inv(s.X), ops.solve(s.X, s.b)),
        notes="A vector-valued function of a matrix: the Jacobian is n×n×n.",
    ),
    entry(
        name="solve-jacobian-b",
        title="Jacobian of a linear solve in the right-hand side, ∂(A⁻¹b)/∂b",
        latex=r"\frac{\partial (A^{-1}b)}{\partial b} = A^{-1}",
        source="linearity (MML Example 5.9 with the matrix A⁻¹)",
        topic="inverse",
        symbols={"A": "n n", "b": "n"},
        conditions={"A": "invertible"},
        wrt="b",
        function=lambda s: ops.solve(s.A, s.b),
        closed_form=lambda s: ops.inv(s.A),
    ),
    entry(
        name="trace-inv-X-squared",
        title="tr(X⁻²), a negative matrix power",
        latex=r"\frac{\partial \operatorname{tr}(X^{-2})}{\partial X} = -2(X^{-3})^\top",
        source="Matrix Cookbook (2012) §2.5, the unnumbered rule ∂ tr F(X)/∂X = f(X)ᵀ that "
        "opens the section, with F(X) = X⁻², f(x) = −2x⁻³",
        topic="inverse",
        symbols={"X": "n n"},
        conditions={"X": "invertible"},
        wrt="X",
        function=lambda s: ops.trace(ops.matrix_power(s.X, -2)),
        closed_form=lambda s: -2 * ops.matrix_power(s.X, -3).T,
        notes="matrix_power with a negative exponent is a power of X⁻¹.",
    ),
)

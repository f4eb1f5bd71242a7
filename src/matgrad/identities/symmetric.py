"""Symmetric and other structured matrix variables (layer 4).

A symbol declared ``symmetric=True`` varies over symmetric matrices only.  Its
gradient is the **symmetric gradient** ``(G + Gᵀ)/2`` of the unconstrained
gradient ``G`` (DESIGN.md §1): the unique symmetric matrix whose Frobenius inner
product with any symmetric direction ``V`` is the directional derivative.

The Matrix Cookbook (2012) section 2.8.2, eqs. (138)–(141), gives instead
``G + Gᵀ − diag(G)``: the partial derivatives with respect to the n(n+1)/2
independent entries of X.  Off the diagonal that is twice the symmetric
gradient (Srinivasan & Panda, 2020); a gradient step with it is not steepest
descent in the Frobenius geometry.  Each entry here states the symmetric
gradient and names the cookbook's form in its notes.

Other structures (diagonal, Toeplitz) have no symbol kind of their own; they are
written as linear parametrizations ``X = Σₖ tₖ Sₖ`` of a vector ``t``, whose
gradient is then the plain gradient with respect to ``t``.
"""

from __future__ import annotations

import numpy as np

from matgrad import ops
from matgrad.identities._record import Identity, Symbols, entry
from matgrad.ir.expr import Expr, constant

__all__ = ["ENTRIES"]

_CB = "Matrix Cookbook (2012) eq. "

_TRAP = (
    "Trap: the cookbook's symmetric-matrix rule (138) gives G + Gᵀ − diag(G), the "
    "derivative with respect to the independent entries, which is twice this gradient off "
    "the diagonal; matgrad's symmetric gradient is (G + Gᵀ)/2 (DESIGN.md §1; Srinivasan "
    "& Panda 2020)."
)


def _r(s: Symbols) -> Expr:
    return s.x - s.mu


def _toeplitz_basis(n: int) -> np.ndarray:
    """``S[k]`` (k = 0 … 2n − 2) is 1 on the diagonal ``j − i = k − (n − 1)``."""
    basis = np.zeros((2 * n - 1, n, n))
    for i in range(n):
        for j in range(n):
            basis[j - i + n - 1, i, j] = 1.0
    return basis


def _toeplitz(s: Symbols) -> Expr:
    return ops.einsum("kij,k->ij", constant(_toeplitz_basis(s.size("n"))), s.t)


ENTRIES: tuple[Identity, ...] = (
    entry(
        name="symmetric-trace-AX",
        title="tr(AX) for symmetric X",
        latex=r"\frac{\partial \operatorname{tr}(AX)}{\partial X} = \frac{A + A^\top}{2}"
        r"\quad (X = X^\top)",
        source=_CB + "(139), corrected to the symmetric gradient",
        topic="structured",
        symbols={"X": "n n", "A": "n n"},
        conditions={"X": "symmetric"},
        wrt="X",
        function=lambda s: ops.trace(s.A @ s.X),
        closed_form=lambda s: (s.A + s.A.T) / 2,
        notes=_TRAP + " The cookbook's (139) reads A + Aᵀ − (A ∘ I).",
    ),
    entry(
        name="symmetric-det-X",
        title="det(X) for symmetric X",
        latex=r"\frac{\partial \det X}{\partial X} = \det(X)\,X^{-1}\quad (X = X^\top)",
        source=_CB + "(140), corrected to the symmetric gradient",
        topic="structured",
        symbols={"X": "n n"},
        conditions={"X": ("symmetric", "invertible")},
        wrt="X",
        function=lambda s: ops.det(s.X),
        closed_form=lambda s: ops.det(s.X) * ops.inv(s.X),
        notes=_TRAP + """ The cookbook's (140) reads det(X)(2X⁻¹ − (X⁻¹ ∘ I)).  Here the
        unconstrained gradient det(X)X⁻ᵀ is already symmetric, so the symmetric gradient
        equals it.""",
    ),
    entry(
        name="symmetric-logdet-X",
        title="log|det X| for symmetric X",
        latex=r"\frac{\partial \ln|\det X|}{\partial X} = X^{-1}\quad (X = X^\top)",
        source=_CB + "(141), corrected to the symmetric gradient",
        topic="structured",
        symbols={"X": "n n"},
        conditions={"X": ("symmetric", "invertible")},
        wrt="X",
        function=lambda s: ops.logdet(s.X),
        closed_form=lambda s: ops.inv(s.X),
        notes=_TRAP + """ The cookbook's (141) reads 2X⁻¹ − (X⁻¹ ∘ I).  X may be
        indefinite (log|det X|); for positive definite X this is ∂ ln det X/∂X = X⁻¹.""",
    ),
    entry(
        name="symmetric-aXb",
        title="aᵀXb for symmetric X",
        latex=r"\frac{\partial\, a^\top X b}{\partial X} = \frac{ab^\top + ba^\top}{2}"
        r"\quad (X = X^\top)",
        source="MML (5.105) / " + _CB + "(70), symmetric variable",
        topic="structured",
        symbols={"X": "n n", "a": "n", "b": "n"},
        conditions={"X": "symmetric"},
        wrt="X",
        function=lambda s: s.a @ s.X @ s.b,
        closed_form=lambda s: (ops.outer(s.a, s.b) + ops.outer(s.b, s.a)) / 2,
        notes=_TRAP,
    ),
    entry(
        name="symmetric-trace-X2",
        title="tr(X²) for symmetric X",
        latex=r"\frac{\partial \operatorname{tr}(X^2)}{\partial X} = 2X\quad (X = X^\top)",
        source=_CB + "(106), symmetric variable",
        topic="structured",
        symbols={"X": "n n"},
        conditions={"X": "symmetric"},
        wrt="X",
        function=lambda s: ops.trace(s.X @ s.X),
        closed_form=lambda s: 2 * s.X,
        notes="For symmetric X, tr(X²) = ‖X‖²_F. " + _TRAP,
    ),
    entry(
        name="symmetric-trace-XBX",
        title="tr(XBX) for symmetric X",
        latex=r"\frac{\partial \operatorname{tr}(XBX)}{\partial X} = \frac{X(B + B^\top) + "
        r"(B + B^\top)X}{2}\quad (X = X^\top)",
        source=_CB + "(107), symmetric variable",
        topic="structured",
        symbols={"X": "n n", "B": "n n"},
        conditions={"X": "symmetric"},
        wrt="X",
        function=lambda s: ops.trace(s.X @ s.B @ s.X),
        closed_form=lambda s: (s.X @ (s.B + s.B.T) + (s.B + s.B.T) @ s.X) / 2,
        notes="The unconstrained gradient is (XB + BX)ᵀ; its symmetric part is this. " + _TRAP,
    ),
    entry(
        name="symmetric-quadratic-form",
        title="xᵀBx for symmetric B",
        latex=r"\frac{\partial\, x^\top B x}{\partial x} = 2Bx\quad (B = B^\top)",
        source="MML (5.106) / " + _CB + "(81) with B symmetric",
        topic="structured",
        symbols={"x": "n", "B": "n n"},
        conditions={"B": "symmetric"},
        wrt="x",
        function=lambda s: s.x @ s.B @ s.x,
        closed_form=lambda s: 2 * (s.B @ s.x),
        notes="The familiar 2Bx; for a general B it is (B + Bᵀ)x (mml-xtBx).",
    ),
    entry(
        name="symmetric-x-As-W-wrt-W",
        title="(x − As)ᵀW(x − As) wrt symmetric W",
        latex=r"\frac{\partial}{\partial W}(x - As)^\top W (x - As) = (x - As)(x - As)^\top"
        r"\quad (W = W^\top)",
        source="derived; the symmetric variable of quadratic-x-As-W-wrt-W",
        topic="structured",
        symbols={"x": "m", "A": "m n", "s": "n", "W": "m m"},
        conditions={"W": "symmetric"},
        wrt="W",
        function=lambda s: (s.x - s.A @ s.s) @ s.W @ (s.x - s.A @ s.s),
        closed_form=lambda s: ops.outer(s.x - s.A @ s.s, s.x - s.A @ s.s),
        notes="""The unconstrained gradient rrᵀ is already symmetric, so it is unchanged;
        the independent-entries rule would give 2rrᵀ − diag(rrᵀ). """ + _TRAP,
    ),
    entry(
        name="symmetric-mahalanobis-wrt-S",
        title="(x − μ)ᵀS⁻¹(x − μ) wrt symmetric positive definite S",
        latex=r"\frac{\partial}{\partial S}(x - \mu)^\top S^{-1}(x - \mu) = "
        r"-S^{-1}(x - \mu)(x - \mu)^\top S^{-1}\quad (S = S^\top)",
        source=_CB + "(61) with a = b = x − μ, symmetric variable",
        topic="structured",
        symbols={"x": "n", "mu": "n", "S": "n n"},
        conditions={"S": "positive definite"},
        wrt="S",
        function=lambda s: _r(s) @ ops.inv(s.S) @ _r(s),
        closed_form=lambda s: -(ops.inv(s.S) @ ops.outer(_r(s), _r(s)) @ ops.inv(s.S)),
        notes=_TRAP,
    ),
    entry(
        name="symmetric-inverse-jacobian",
        title="Jacobian of X⁻¹ for symmetric X",
        latex=r"\frac{\partial (X^{-1})_{ij}}{\partial X_{kl}} = -\tfrac12\left(Y_{ik}Y_{lj} + "
        r"Y_{il}Y_{kj}\right),\quad Y = X^{-1},\ X = X^\top",
        source=_CB + "(60), symmetric variable",
        topic="structured",
        symbols={"X": "n n"},
        conditions={"X": ("symmetric", "invertible")},
        wrt="X",
        function=lambda s: ops.inv(s.X),
        closed_form=lambda s: -0.5
        * (
            ops.einsum("ik,lj->ijkl", ops.inv(s.X), ops.inv(s.X))
            + ops.einsum("il,kj->ijkl", ops.inv(s.X), ops.inv(s.X))
        ),
        notes="""For a matrix-valued function the symmetric Jacobian averages over the two
        input axes (k, l); contracted with a symmetric direction V it gives −X⁻¹VX⁻¹, the
        same as the unconstrained one.""",
    ),
    entry(
        name="structured-diagonal",
        title="tr(AX) for a diagonal X = diag(v)",
        latex=r"\frac{\partial \operatorname{tr}(A\operatorname{diag}(v))}{\partial v} = "
        r"\operatorname{diag}(A)",
        source=_CB + "(142), in the parameters v of the diagonal",
        topic="structured",
        symbols={"A": "n n", "v": "n"},
        wrt="v",
        function=lambda s: ops.trace(s.A @ ops.diag(s.v)),
        closed_form=lambda s: ops.diag(s.A),
        notes="""The cookbook states the matrix A ∘ I; with X parametrized by its diagonal v
        the gradient is the vector diag(A), the same numbers.""",
    ),
    entry(
        name="structured-toeplitz",
        title="tr(AT) for a Toeplitz T, in the parameters of T",
        latex=r"\frac{\partial \operatorname{tr}(AT)}{\partial t_k} = \sum_{j - i = k}A_{ji},"
        r"\quad T_{ij} = t_{j-i}",
        source=_CB + "(143)",
        topic="structured",
        symbols={"A": "n n", "t": "m"},
        wrt="t",
        function=lambda s: ops.trace(s.A @ _toeplitz(s)),
        closed_form=lambda s: ops.einsum(
            "kij,ji->k", constant(_toeplitz_basis(s.size("n"))), s.A
        ),
        notes="""T is parametrized by its 2n − 1 diagonals t (index k = j − i + n − 1).  Each
        derivative sums one diagonal of Aᵀ: the entries of the cookbook's Toeplitz matrix
        α(A), which repeats each sum along its diagonal.""",
        sizes=[{"n": 2, "m": 3}, {"n": 3, "m": 5}],
    ),
)

"""Singular values and the norms built from them: spectral, nuclear, Schatten,
Frobenius, condition number (layer 4).

``X = U diag(σ) Vᵀ`` (thin SVD, ``σ`` descending as NumPy orders it).  For a
simple nonzero singular value ``dσᵢ = uᵢᵀ dX vᵢ``; functions symmetric in the
singular values (sums, the nuclear norm) stay differentiable at repeated ones
while X has full rank.  The closed forms avoid the SVD where they can (the polar
factor ``X (XᵀX)^{-1/2}``, powers of the Gram matrix) so they are independent of
matgrad's ``svd`` rules.
"""

from __future__ import annotations

import numpy as np

from matgrad import ops
from matgrad.identities._record import Identity, Symbols, entry
from matgrad.ir.expr import Expr, constant

__all__ = ["ENTRIES"]

_CB = "Matrix Cookbook (2012) eq. "
_SIMPLE = ("standard: dσᵢ = uᵢᵀ dX vᵢ for a simple nonzero σᵢ (Townsend 2016, "
           "'Differentiating the singular value decomposition')")

_TIE_TRAP = """Trap: needs the singular value simple; at a tie only directional
derivatives exist (matgrad's max/min share the gradient equally between tied values,
JAX's convention: a subgradient, not a derivative)."""


def _u(s: Symbols) -> Expr:
    return ops.svd_u(s.X, False)


def _vh(s: Symbols) -> Expr:
    return ops.svd_vh(s.X, False)


def _polar_tall(s: Symbols) -> Expr:
    """``U Vᵀ = X (XᵀX)^{-1/2}`` for full column rank."""
    return s.X @ ops.inv(ops.sqrtm(s.X.T @ s.X))


def _cond_gradient(s: Symbols) -> Expr:
    sv = ops.svdvals(s.X)
    top = ops.outer(_u(s)[:, 0], _vh(s)[0, :])
    bottom = ops.outer(_u(s)[:, -1], _vh(s)[-1, :])
    return (top - sv[0] / sv[-1] * bottom) / sv[-1]


def _nuclear_hessian(s: Symbols) -> Expr:
    """``∂(UVᵀ)_ab/∂X_kl = Σ_ij U_ai V_bj (U_ki V_lj − U_kj V_li)/(σᵢ + σⱼ)`` for square
    invertible X."""
    n = s.size("n")
    sv = ops.svdvals(s.X)
    one = constant(np.ones(n))
    w = 1 / (ops.outer(sv, one) + ops.outer(one, sv))
    u, v = _u(s), _vh(s).T
    return (ops.einsum("ai,bj,ij,ki,lj->abkl", u, v, w, u, v)
            - ops.einsum("ai,bj,ij,kj,li->abkl", u, v, w, u, v))


_TALL = [{"n": 3, "m": 2}, {"n": 4, "m": 3}, {"n": 3, "m": 3}]
_WIDE = [{"n": 2, "m": 3}, {"n": 3, "m": 4}]
_ANY = [{"n": 3, "m": 2}, {"n": 2, "m": 4}, {"n": 3, "m": 3}]

ENTRIES: tuple[Identity, ...] = (
    entry(
        name="svd-sum-squares",
        title="Σᵢ σᵢ(X)² = ‖X‖²_F",
        latex=r"\frac{\partial}{\partial X}\sum_i \sigma_i(X)^2 = 2X",
        source="derived: Σσᵢ² = tr(XᵀX); " + _CB + "(132)",
        topic="singular-value",
        symbols={"X": "n m"},
        wrt="X",
        function=lambda s: ops.sum(ops.square(ops.svdvals(s.X))),
        closed_form=lambda s: 2 * s.X,
        notes="""Smooth everywhere, rank-deficient X included: σ² is the eigenvalue of XᵀX,
        and Σσᵢ² a polynomial in X.""",
        sizes=_ANY,
    ),
    entry(
        name="svd-frobenius",
        title="‖X‖_F = (Σᵢ σᵢ²)^{1/2}",
        latex=r"\frac{\partial}{\partial X}\Big(\sum_i \sigma_i^2\Big)^{1/2} = "
        r"\frac{X}{\|X\|_F}",
        source="derived from " + _CB + "(132) by the chain rule",
        topic="singular-value",
        symbols={"X": "n m"},
        wrt="X",
        function=lambda s: ops.sqrt(ops.sum(ops.square(ops.svdvals(s.X)))),
        closed_form=lambda s: s.X / ops.norm(s.X),
        notes="Trap: not differentiable at X = 0 (the norm's kink).",
        sizes=_ANY,
    ),
    entry(
        name="spectral-norm",
        title="Spectral norm ‖X‖₂ = σ₁(X)",
        latex=r"\frac{\partial \|X\|_2}{\partial X} = u_1 v_1^\top",
        source=_SIMPLE,
        topic="singular-value",
        symbols={"X": "n m"},
        conditions={"X": "distinct singular values"},
        wrt="X",
        function=lambda s: ops.matrix_norm(s.X, 2),
        closed_form=lambda s: ops.outer(_u(s)[:, 0], _vh(s)[0, :]),
        notes="""u₁v₁ᵀ does not depend on the signs NumPy picks (they flip together).  """
        + _TIE_TRAP,
        sizes=_ANY,
    ),
    entry(
        name="smallest-singular-value",
        title="Smallest singular value ‖X‖₋₂ = σ_min(X)",
        latex=r"\frac{\partial \sigma_{\min}(X)}{\partial X} = u_k v_k^\top,\ k = \min(n, m)",
        source=_SIMPLE,
        topic="singular-value",
        symbols={"X": "n m"},
        conditions={"X": "distinct singular values"},
        wrt="X",
        function=lambda s: ops.matrix_norm(s.X, -2),
        closed_form=lambda s: ops.outer(_u(s)[:, -1], _vh(s)[-1, :]),
        notes="""Needs σ_min > 0 as well as simple: at σ_min = 0 of a square matrix the
        function |·| has a kink (uₖ, vₖ flip sign).  """ + _TIE_TRAP,
        sizes=_ANY,
    ),
    entry(
        name="singular-value-jacobian",
        title="Jacobian of the singular values, ∂σᵢ = uᵢᵀ dX vᵢ",
        latex=r"\frac{\partial \sigma_i}{\partial X_{kl}} = U_{ki} V_{li}",
        source=_SIMPLE,
        topic="singular-value",
        symbols={"X": "n m"},
        conditions={"X": "distinct singular values"},
        wrt="X",
        function=lambda s: ops.svdvals(s.X),
        closed_form=lambda s: ops.einsum("ki,il->ikl", _u(s), _vh(s)),
        notes="""Layout J[i, k, l] = ∂σᵢ/∂X_kl.  The sorted vector is differentiable where
        the σᵢ are simple and nonzero.""",
        sizes=_ANY,
    ),
    entry(
        name="nuclear-norm-tall",
        title="Nuclear norm ‖X‖_* = Σσᵢ at full column rank: the polar factor",
        latex=r"\frac{\partial \|X\|_*}{\partial X} = U V^\top = X (X^\top X)^{-1/2}",
        source="standard (Σᵢ uᵢᵀ dX vᵢ); Higham (2008) ch. 8 (polar decomposition)",
        topic="singular-value",
        symbols={"X": "n m"},
        conditions={"X": "full column rank"},
        wrt="X",
        function=lambda s: ops.matrix_norm(s.X, "nuc"),
        closed_form=_polar_tall,
        notes="""UVᵀ is the orthogonal polar factor, independent of the SVD basis, so the
        gradient exists at repeated singular values.  Trap: at rank-deficient X the
        nuclear norm has a kink: the subdifferential is U₁V₁ᵀ + {W: U₁ᵀW = 0, WV₁ = 0,
        ‖W‖₂ ≤ 1} (U₁, V₁ for the nonzero singular values).  matgrad returns UVᵀ over
        all min(n, m) pairs NumPy gives, zero singular values included: one
        subgradient (JAX's too), which depends on NumPy's basis for the null
        space.""",
        sizes=_TALL,
    ),
    entry(
        name="nuclear-norm-wide",
        title="Nuclear norm at full row rank",
        latex=r"\frac{\partial \|X\|_*}{\partial X} = U V^\top = (X X^\top)^{-1/2} X",
        source="standard (Σᵢ uᵢᵀ dX vᵢ); Higham (2008) ch. 8 (polar decomposition)",
        topic="singular-value",
        symbols={"X": "n m"},
        conditions={"X": "full row rank"},
        wrt="X",
        function=lambda s: ops.matrix_norm(s.X, "nuc"),
        closed_form=lambda s: ops.inv(ops.sqrtm(s.X @ s.X.T)) @ s.X,
        notes="The wide case of nuclear-norm-tall.",
        sizes=_WIDE,
    ),
    entry(
        name="svd-sum-log",
        title="Σᵢ log σᵢ(X) = log|det X|",
        latex=r"\frac{\partial}{\partial X}\sum_i \log\sigma_i(X) = X^{-\top}",
        source="derived: Π σᵢ = |det X|; " + _CB + "(57)",
        topic="singular-value",
        symbols={"X": "n n"},
        conditions={"X": "invertible"},
        wrt="X",
        function=lambda s: ops.sum(ops.log(ops.svdvals(s.X))),
        closed_form=lambda s: ops.inv(s.X).T,
        notes="""Σ log σᵢ = Σ uᵢᵀ dX vᵢ/σᵢ = tr(V Σ⁻¹ Uᵀ dX) = tr(X⁻¹ dX).  Finite at
        repeated singular values.  Trap: singular X (log 0).""",
    ),
    entry(
        name="svd-sum-log-tall",
        title="Σᵢ log σᵢ(X) = ½ log det(XᵀX) at full column rank",
        latex=r"\frac{\partial}{\partial X}\sum_i \log\sigma_i(X) = X (X^\top X)^{-1} = "
        r"(X^{+})^\top",
        source="derived: Π σᵢ² = det(XᵀX); " + _CB + "(55)",
        topic="singular-value",
        symbols={"X": "n m"},
        conditions={"X": "full column rank"},
        wrt="X",
        function=lambda s: ops.sum(ops.log(ops.svdvals(s.X))),
        closed_form=lambda s: s.X @ ops.inv(s.X.T @ s.X),
        notes="Half of the gradient 2(X⁺)ᵀ of log det(XᵀX) (logdet-XtX).",
        sizes=_TALL,
    ),
    entry(
        name="schatten-cubed",
        title="Σᵢ σᵢ³ (the cube of the Schatten 3-norm)",
        latex=r"\frac{\partial}{\partial X}\sum_i \sigma_i^3 = 3\,U \Sigma^2 V^\top = "
        r"3\,X (X^\top X)^{1/2}",
        source="standard (Σᵢ 3σᵢ² uᵢᵀ dX vᵢ); Lewis (1996) for singular-value functions",
        topic="singular-value",
        symbols={"X": "n m"},
        conditions={"X": "full column rank"},
        wrt="X",
        function=lambda s: ops.sum(ops.power(ops.svdvals(s.X), 3.0)),
        closed_form=lambda s: 3 * s.X @ ops.sqrtm(s.X.T @ s.X),
        notes="""U diag(pσᵢ^{p−1}) Vᵀ = p X (XᵀX)^{(p−2)/2} for p = 3.  Finite at repeated
        singular values.""",
        sizes=_TALL,
    ),
    entry(
        name="condition-number",
        title="Condition number κ₂(X) = σ_max/σ_min",
        latex=r"\frac{\partial \kappa_2(X)}{\partial X} = \frac{u_1 v_1^\top - "
        r"\kappa_2(X)\, u_k v_k^\top}{\sigma_k}",
        source="derived from " + _SIMPLE + " by the quotient rule",
        topic="singular-value",
        symbols={"X": "n m"},
        conditions={"X": "distinct singular values"},
        wrt="X",
        function=lambda s: ops.cond(s.X),
        closed_form=_cond_gradient,
        notes="np.linalg.cond with p = None.  " + _TIE_TRAP,
        sizes=_ANY,
    ),
    entry(
        name="hessian-nuclear-norm",
        title="Hessian of the nuclear norm at an invertible X",
        latex=r"\frac{\partial^2 \|X\|_*}{\partial X_{ab}\,\partial X_{kl}} = \sum_{i,j}"
        r"\frac{U_{ai}V_{bj}(U_{ki}V_{lj} - U_{kj}V_{li})}{\sigma_i + \sigma_j}",
        source="derived: the derivative of the polar factor, d(UVᵀ) = U Ω Vᵀ with "
        "Ω = (P − Pᵀ)/(σᵢ + σⱼ), P = Uᵀ dX V (Higham (2008) ch. 8)",
        topic="singular-value",
        symbols={"X": "n n"},
        conditions={"X": "invertible"},
        wrt="X",
        order=2,
        function=lambda s: ops.matrix_norm(s.X, "nuc"),
        closed_form=_nuclear_hessian,
        notes="""Square X: differentiate UVᵀ, with UᵀdU and VᵀdV skew.  Defined at repeated
        singular values (only σᵢ + σⱼ > 0 is divided by), so matgrad must not go
        through the singular vectors' gaps.  Trap: for a rectangular X a third term
        (I − UUᵀ) dX V Σ⁻¹ Vᵀ appears; at rank-deficient X there is no Hessian.""",
    ),
)

"""Cholesky, QR, the pseudo-inverse and least squares (layer 4).

Conventions (docs/linalg and DESIGN.md §1): ``cholesky`` reads the lower triangle
of a symmetric positive definite ``A`` and its derivative is taken along
symmetric directions, so the gradient of ``2 Σ log Lᵢᵢ = log det A`` is the
symmetric ``A⁻¹`` (JAX, PyTorch and autograd agree).  ``pinv`` and ``lstsq`` are
differentiated on the manifold of matrices of fixed rank (Golub & Pereyra 1973);
the entries draw full-rank matrices, where that manifold is open.
"""

from __future__ import annotations

import math

import numpy as np

from matgrad import ops
from matgrad.identities._record import Identity, Symbols, entry
from matgrad.ir.expr import Expr, constant

__all__ = ["ENTRIES"]

_CB = "Matrix Cookbook (2012) eq. "
_MURRAY = "Murray (2016), 'Differentiation of the Cholesky decomposition', arXiv:1602.07527"
_GP = "Golub & Pereyra (1973), 'The differentiation of pseudo-inverses', eq. (4.12)"

_SYMMETRIC = """A varies over symmetric matrices (cholesky reads the lower triangle and
matgrad symmetrizes the tangent): the gradient is the symmetric one of DESIGN.md §1,
not the lower-triangular one some libraries return."""


def _chol(s: Symbols) -> Expr:
    return ops.cholesky(s.A)


def _logdet_chol(s: Symbols) -> Expr:
    return 2 * ops.sum(ops.log(ops.diagonal(_chol(s))))


def _whitened(s: Symbols) -> Expr:
    """``L⁻¹ y`` by a triangular solve."""
    return ops.solve_triangular(_chol(s), s.y, lower=True)


def _loglik(s: Symbols) -> Expr:
    """The Gaussian log-density ``log N(y; 0, K)`` through ``K = LLᵀ``."""
    z = ops.solve_triangular(ops.cholesky(s.K), s.y, lower=True)
    n = s.size("n")
    return (-0.5 * (z @ z) - ops.sum(ops.log(ops.diagonal(ops.cholesky(s.K))))
            - 0.5 * n * math.log(2 * math.pi))


def _cholesky_jacobian(s: Symbols) -> Expr:
    """``∂L_ij/∂A_kl = Σ_p L_ip W_pj ½(M_pk M_jl + M_pl M_jk)``, ``M = L⁻¹``,
    ``W = tril(1) − ½I`` (Murray's Φ)."""
    n = s.size("n")
    low = _chol(s)
    m = ops.inv(low)
    w = constant(np.tril(np.ones((n, n))) - 0.5 * np.eye(n))
    return 0.5 * (ops.einsum("ip,pj,pk,jl->ijkl", low, w, m, m)
                  + ops.einsum("ip,pj,pl,jk->ijkl", low, w, m, m))


def _gram_inverse(x: Expr) -> Expr:
    return ops.inv(x.T @ x)


def _pinv_tall(x: Expr) -> Expr:
    return _gram_inverse(x) @ x.T


def _pinv_jacobian_tall(s: Symbols) -> Expr:
    """``−X⁺_ik X⁺_lj + G_il (I − XX⁺)_kj`` with ``G = (XᵀX)⁻¹``."""
    p = _pinv_tall(s.X)
    g = _gram_inverse(s.X)
    residual = s.eye("n") - s.X @ p
    return -ops.einsum("ik,lj->ijkl", p, p) + ops.einsum("il,kj->ijkl", g, residual)


def _pinv_jacobian_wide(s: Symbols) -> Expr:
    """``−X⁺_ik X⁺_lj + (I − X⁺X)_il H_kj`` with ``H = (XXᵀ)⁻¹``."""
    h = ops.inv(s.X @ s.X.T)
    p = s.X.T @ h
    residual = s.eye("m") - p @ s.X
    return -ops.einsum("ik,lj->ijkl", p, p) + ops.einsum("il,kj->ijkl", residual, h)


def _solution(s: Symbols) -> Expr:
    return ops.lstsq(s.A, s.b)[0]


def _residual(s: Symbols) -> Expr:
    """``r = A x* − b``."""
    return s.A @ _solution(s) - s.b


def _projector_jacobian(s: Symbols) -> Expr:
    p = _pinv_tall(s.X)
    comp = s.eye("n") - s.X @ p
    return ops.einsum("ik,lj->ijkl", comp, p) + ops.einsum("li,kj->ijkl", p, comp)


_TALL = [{"n": 3, "m": 2}, {"n": 4, "m": 3}, {"n": 3, "m": 3}]

ENTRIES: tuple[Identity, ...] = (
    entry(
        name="cholesky-logdet",
        title="log det A = 2 Σᵢ log Lᵢᵢ through the Cholesky factor",
        latex=r"\frac{\partial}{\partial A}\, 2\sum_i \log L_{ii} = A^{-1},\quad A = LL^\top",
        source=_MURRAY + "; " + _CB + "(57)",
        topic="decomposition",
        symbols={"A": "n n"},
        conditions={"A": "positive definite"},
        wrt="A",
        function=_logdet_chol,
        closed_form=lambda s: ops.inv(s.A),
        notes=_SYMMETRIC + """  Trap: a lower-triangular gradient (the derivative with
        respect to the entries cholesky reads) is 2 tril(A⁻¹) − diag(A⁻¹): the same
        directional derivatives along symmetric directions, different numbers.""",
    ),
    entry(
        name="hessian-cholesky-logdet",
        title="Hessian of 2 Σᵢ log Lᵢᵢ equals the Hessian of log det A",
        latex=r"\frac{\partial^2\, 2\sum_i \log L_{ii}}{\partial A_{ij}\,\partial A_{kl}} = "
        r"-\tfrac12\left((A^{-1})_{ik}(A^{-1})_{jl} + (A^{-1})_{il}(A^{-1})_{jk}\right)",
        source=_MURRAY + "; " + _CB + "(57) and (60), symmetric variable",
        topic="decomposition",
        symbols={"A": "n n"},
        conditions={"A": "positive definite"},
        wrt="A",
        order=2,
        function=_logdet_chol,
        closed_form=lambda s: -0.5 * (
            ops.einsum("ik,jl->ijkl", ops.inv(s.A), ops.inv(s.A))
            + ops.einsum("il,jk->ijkl", ops.inv(s.A), ops.inv(s.A))),
        notes="""The second derivative of cholesky (its rule differentiated again) must
        reproduce hessian-logdet-spd.""",
    ),
    entry(
        name="cholesky-jacobian",
        title="Jacobian of the Cholesky factor, dL = L Φ(L⁻¹ dA L⁻ᵀ)",
        latex=r"dL = L\,\Phi(L^{-1}\,dA\,L^{-\top}),\quad "
        r"\Phi(M) = \operatorname{tril}(M) - \tfrac12\operatorname{diag}(M)",
        source=_MURRAY,
        topic="decomposition",
        symbols={"A": "n n"},
        conditions={"A": "positive definite"},
        wrt="A",
        function=_chol,
        closed_form=_cholesky_jacobian,
        notes="""Layout J[i, j, k, l] = ∂L_ij/∂A_kl along symmetric directions (symmetrized
        in k, l).  From dA = dL Lᵀ + L dLᵀ: L⁻¹ dA L⁻ᵀ = L⁻¹dL + (L⁻¹dL)ᵀ with L⁻¹dL
        lower triangular, so L⁻¹dL = Φ(L⁻¹ dA L⁻ᵀ).  Trap: at a semi-definite A (a
        zero pivot) the factor is not differentiable.""",
    ),
    entry(
        name="cholesky-quadratic-form-A",
        title="bᵀA⁻¹b = ‖L⁻¹b‖² through a triangular solve, in A",
        latex=r"\frac{\partial\, \|L^{-1} y\|^2}{\partial A} = -A^{-1} y y^\top A^{-1}",
        source=_CB + "(61) with a = b = y, symmetric A; " + _MURRAY,
        topic="decomposition",
        symbols={"A": "n n", "y": "n"},
        conditions={"A": "positive definite"},
        wrt="A",
        function=lambda s: _whitened(s) @ _whitened(s),
        closed_form=lambda s: -ops.inv(s.A) @ ops.outer(s.y, s.y) @ ops.inv(s.A),
        notes="""‖L⁻¹y‖² = yᵀL⁻ᵀL⁻¹y = yᵀA⁻¹y.  Symmetric already, as the symmetric gradient
        must be.  """ + _SYMMETRIC,
    ),
    entry(
        name="cholesky-quadratic-form-y",
        title="‖L⁻¹y‖² in y",
        latex=r"\frac{\partial\, \|L^{-1} y\|^2}{\partial y} = 2A^{-1} y",
        source=_CB + "(81) with B = A⁻¹ symmetric",
        topic="decomposition",
        symbols={"A": "n n", "y": "n"},
        conditions={"A": "positive definite"},
        wrt="y",
        function=lambda s: _whitened(s) @ _whitened(s),
        closed_form=lambda s: 2 * ops.solve(s.A, s.y),
        notes="The adjoint of the triangular solve is a solve with Lᵀ: 2 L⁻ᵀ L⁻¹ y.",
    ),
    entry(
        name="gaussian-loglik-cholesky-K",
        title="Gaussian log-likelihood through the Cholesky factor, in the covariance",
        latex=r"\frac{\partial}{\partial K}\Big(-\tfrac12\|L^{-1}y\|^2 - \sum_i\log L_{ii}"
        r" - \tfrac n2\log 2\pi\Big) = \tfrac12\left(K^{-1}yy^\top K^{-1} - K^{-1}\right)",
        source="Gaussian process log marginal likelihood, Rasmussen & Williams (2006) "
        "eq. (5.9) with Algorithm 2.1",
        topic="decomposition",
        symbols={"K": "n n", "y": "n"},
        conditions={"K": "positive definite"},
        wrt="K",
        function=_loglik,
        closed_form=lambda s: 0.5 * (
            ops.solve(s.K, ops.outer(s.y, s.y)) @ ops.inv(s.K) - ops.inv(s.K)),
        notes="""ααᵀ − K⁻¹ over two, α = K⁻¹y: the kernel-hyperparameter gradient is its
        trace against ∂K/∂θ.  """ + _SYMMETRIC,
    ),
    entry(
        name="gaussian-loglik-cholesky-y",
        title="Gaussian log-likelihood through the Cholesky factor, in the observation",
        latex=r"\frac{\partial}{\partial y}\Big(-\tfrac12\|L^{-1}y\|^2 - \sum_i\log L_{ii}"
        r"\Big) = -K^{-1} y",
        source="the Gaussian log-density; " + _CB + "(81)",
        topic="decomposition",
        symbols={"K": "n n", "y": "n"},
        conditions={"K": "positive definite"},
        wrt="y",
        function=_loglik,
        closed_form=lambda s: -ops.solve(s.K, s.y),
    ),
    entry(
        name="pinv-jacobian-tall",
        title="Derivative of the pseudo-inverse at full column rank",
        latex=r"dX^{+} = -X^{+}\,dX\,X^{+} + (X^\top X)^{-1} dX^\top (I - XX^{+}),\quad "
        r"X^{+} = (X^\top X)^{-1}X^\top",
        source=_GP,
        topic="decomposition",
        symbols={"X": "n m"},
        conditions={"X": "full column rank"},
        wrt="X",
        function=lambda s: ops.pinv(s.X, 1e-15),
        closed_form=_pinv_jacobian_tall,
        notes="""Layout J[i, j, k, l] = ∂X⁺_ij/∂X_kl.  Golub & Pereyra's third term
        (I − X⁺X) dXᵀ X⁺ᵀX⁺ vanishes at full column rank (X⁺X = I).  The closed form
        uses (XᵀX)⁻¹Xᵀ, not pinv.  Trap: where the rank can drop (a singular value
        crossing the cutoff) pinv is discontinuous and has no derivative; matgrad
        differentiates on the manifold of fixed rank.""",
        sizes=_TALL,
    ),
    entry(
        name="pinv-jacobian-wide",
        title="Derivative of the pseudo-inverse at full row rank",
        latex=r"dX^{+} = -X^{+}\,dX\,X^{+} + (I - X^{+}X)\, dX^\top (XX^\top)^{-1},\quad "
        r"X^{+} = X^\top(XX^\top)^{-1}",
        source=_GP,
        topic="decomposition",
        symbols={"X": "n m"},
        conditions={"X": "full row rank"},
        wrt="X",
        function=lambda s: ops.pinv(s.X, 1e-15),
        closed_form=_pinv_jacobian_wide,
        notes="The second Golub–Pereyra term vanishes at full row rank (XX⁺ = I).",
        sizes=[{"n": 2, "m": 3}, {"n": 3, "m": 4}],
    ),
    entry(
        name="projector-jacobian",
        title="Derivative of the orthogonal projector P = XX⁺ onto range(X)",
        latex=r"dP = (I - P)\,dX\,X^{+} + (X^{+})^\top dX^\top (I - P)",
        source="Golub & Pereyra (1973), 'The differentiation of pseudo-inverses', §4 "
        "(the derivative of the projector AA⁺)",
        topic="decomposition",
        symbols={"X": "n m"},
        conditions={"X": "full column rank"},
        wrt="X",
        function=lambda s: s.X @ ops.pinv(s.X, 1e-15),
        closed_form=_projector_jacobian,
        notes="""P moves only by tilting range(X): dP maps range(X) to its complement and
        back, never within.  Square X: P = I and dP = 0.""",
        sizes=_TALL,
    ),
    entry(
        name="lstsq-solution-b",
        title="Least-squares solution x* = A⁺b, in b",
        latex=r"\frac{\partial x^*}{\partial b} = A^{+} = (A^\top A)^{-1}A^\top",
        source="linearity; " + _GP,
        topic="decomposition",
        symbols={"A": "n m", "b": "n"},
        conditions={"A": "full column rank"},
        wrt="b",
        function=_solution,
        closed_form=lambda s: _pinv_tall(s.A),
        notes="np.linalg.lstsq(A, b)[0] is linear in b.",
        sizes=[{"n": 3, "m": 2}, {"n": 4, "m": 3}],
    ),
    entry(
        name="lstsq-solution-A",
        title="Least-squares solution x* = A⁺b, in A",
        latex=r"\frac{\partial x^*_i}{\partial A_{kl}} = -A^{+}_{ik}x^*_l + "
        r"\big((A^\top A)^{-1}\big)_{il}\,(b - Ax^*)_k",
        source="derived from " + _GP,
        topic="decomposition",
        symbols={"A": "n m", "b": "n"},
        conditions={"A": "full column rank"},
        wrt="A",
        function=_solution,
        closed_form=lambda s: ops.einsum("ik,l->ikl", -_pinv_tall(s.A), _solution(s))
        + ops.einsum("il,k->ikl", _gram_inverse(s.A), -_residual(s)),
        notes="""dx* = dA⁺ b.  The second term carries the residual b − Ax*: for a
        consistent system (zero residual) only −A⁺ dA x* is left.""",
        sizes=[{"n": 3, "m": 2}, {"n": 4, "m": 3}],
    ),
    entry(
        name="lstsq-residual-A",
        title="Squared residual of least squares, ‖Ax* − b‖², in A",
        latex=r"\frac{\partial \|Ax^* - b\|^2}{\partial A} = 2(Ax^* - b)\,x^{*\top}",
        source="derived: Danskin / envelope theorem (x* minimises ‖Ax − b‖², so dx* "
        "drops out); MML Example 5.11",
        topic="decomposition",
        symbols={"A": "n m", "b": "n"},
        conditions={"A": "full column rank"},
        wrt="A",
        function=lambda s: _residual(s) @ _residual(s),
        closed_form=lambda s: 2 * ops.outer(_residual(s), _solution(s)),
        notes="""The gradient of ‖Ax − b‖² at fixed x, evaluated at x*: Aᵀr = 0 cancels the
        terms through dx*.""",
        sizes=[{"n": 3, "m": 2}, {"n": 4, "m": 3}],
    ),
    entry(
        name="lstsq-residual-b",
        title="Squared residual of least squares, ‖Ax* − b‖², in b",
        latex=r"\frac{\partial \|Ax^* - b\|^2}{\partial b} = -2(Ax^* - b) = "
        r"2(I - AA^{+})\,b",
        source="derived: ‖Ax* − b‖² = bᵀ(I − AA⁺)b; " + _CB + "(81)",
        topic="decomposition",
        symbols={"A": "n m", "b": "n"},
        conditions={"A": "full column rank"},
        wrt="b",
        function=lambda s: _residual(s) @ _residual(s),
        closed_form=lambda s: -2 * _residual(s),
        notes="I − AA⁺ is the projector onto range(A)'s orthogonal complement.",
        sizes=[{"n": 3, "m": 2}, {"n": 4, "m": 3}],
    ),
    entry(
        name="qr-logdet",
        title="log|det X| = Σᵢ log|Rᵢᵢ| through QR",
        latex=r"\frac{\partial}{\partial X}\sum_i \log|R_{ii}| = X^{-\top},\quad X = QR",
        source="derived: |det X| = Πᵢ|Rᵢᵢ|; " + _CB + "(57)",
        topic="decomposition",
        symbols={"X": "n n"},
        conditions={"X": "invertible"},
        wrt="X",
        function=lambda s: ops.sum(ops.log(ops.abs(ops.diagonal(ops.qr_r(s.X, False))))),
        closed_form=lambda s: ops.inv(s.X).T,
        notes="""NumPy's R may have negative diagonal entries (LAPACK's sign convention),
        hence |Rᵢᵢ|.  Trap: a singular X (some Rᵢᵢ = 0).""",
    ),
    entry(
        name="qr-gram",
        title="RᵀR = XᵀX: the QR factor's Gram matrix",
        latex=r"\frac{\partial (R^\top R)_{ij}}{\partial X_{kl}} = "
        r"\delta_{jl}X_{ki} + \delta_{il}X_{kj}",
        source="derived: RᵀR = XᵀQᵀQR = XᵀX; Matrix Cookbook (2012) eqs. (79)–(80) with B = I",
        topic="decomposition",
        symbols={"X": "n m"},
        conditions={"X": "full column rank"},
        wrt="X",
        function=lambda s: ops.qr_r(s.X, False).T @ ops.qr_r(s.X, False),
        closed_form=lambda s: ops.einsum("jl,ki->ijkl", s.eye("m"), s.X)
        + ops.einsum("il,kj->ijkl", s.eye("m"), s.X),
        notes="""R is the Cholesky factor of XᵀX up to the signs of its rows; matgrad's
        derivative of R must respect that invariant.  Trap: QR's derivative needs
        the leading block of R invertible (full column rank).""",
        sizes=_TALL,
    ),
)

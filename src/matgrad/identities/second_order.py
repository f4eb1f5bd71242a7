"""Hessians and other second derivatives (layer 4).

The Hessian of a scalar ``f`` with respect to a matrix ``X`` (m×n) is the
4-index tensor ``H[i, j, k, l] = ∂²f/∂X_ij ∂X_kl`` of shape ``(m, n, m, n)``;
flattened column-major it is the ``mn × mn`` Hessian matrix of ``f`` as a
function of ``vec X``.  For a vector-valued ``f`` (MML section 5.7) the second
derivative has shape ``f.shape + x.shape + x.shape``.
"""

from __future__ import annotations

import itertools
import math
import string

import numpy as np

from matgrad import ops
from matgrad.identities._record import Identity, Symbols, entry, pencil
from matgrad.ir.expr import Expr, constant, zeros

__all__ = ["ENTRIES"]

_CB = "Matrix Cookbook (2012) eq. "
_CBS = "Matrix Cookbook (2012) eqs. "

_HESSIAN_LAYOUT = (
    "Layout: H[i, j, k, l] = ∂²f/∂X_ij ∂X_kl, shape X.shape + X.shape; flattened "
    "column-major it is the Hessian matrix of f(vec X)."
)


def _levi_civita(n: int) -> np.ndarray:
    """The rank-n Levi-Civita symbol ε (the sign of each permutation, 0 elsewhere)."""
    eps = np.zeros((n,) * n)
    for perm in itertools.permutations(range(n)):
        inversions = sum(a > b for a, b in itertools.combinations(perm, 2))
        eps[perm] = -1.0 if inversions % 2 else 1.0
    return eps


def _det_hessian_minors(s: Symbols) -> Expr:
    """``∂²det X/∂X_ab ∂X_cd = ε_{ac k…} ε_{bd l…} X_{k₁l₁} ⋯ X_{k_{n−2}l_{n−2}} / (n − 2)!``,
    a polynomial in X: the signed (n − 2)-minors, defined at every X."""
    n = s.size("n")
    eps = constant(_levi_civita(n))
    rows = string.ascii_lowercase[4 : 4 + n - 2]
    cols = string.ascii_uppercase[: n - 2]
    spec = ",".join([f"ac{rows}", f"bd{cols}", *(f"{r}{c}" for r, c in zip(rows, cols))])
    product = ops.einsum(f"{spec}->abcd", eps, eps, *([s.X] * (n - 2)))
    return product / math.factorial(n - 2)


ENTRIES: tuple[Identity, ...] = (
    entry(
        name="hessian-quadratic",
        title="Hessian of xᵀAx + bᵀx",
        latex=r"\frac{\partial^2 (x^\top A x + b^\top x)}{\partial "
        r"x\,\partial x^\top} = A + A^\top",
        source=_CB + "(98); MML (5.146)",
        topic="second-order",
        symbols={"x": "n", "A": "n n", "b": "n"},
        wrt="x",
        order=2,
        function=lambda s: s.x @ s.A @ s.x + s.b @ s.x,
        closed_form=lambda s: s.A + s.A.T,
        notes="2A only for symmetric A.",
    ),
    entry(
        name="hessian-linear",
        title="Hessian of a linear function, bᵀ(Ax)",
        latex=r"\frac{\partial^2\, b^\top A x}{\partial x\,\partial x^\top} = 0",
        source="linearity",
        topic="second-order",
        symbols={"x": "n", "A": "m n", "b": "m"},
        wrt="x",
        order=2,
        function=lambda s: s.b @ (s.A @ s.x),
        closed_form=lambda s: zeros((s.size("n"), s.size("n"))),
        notes="matgrad returns the symbolic zero tensor of shape (n, n).",
    ),
    entry(
        name="hessian-norm-Ax-minus-b",
        title="Hessian of least squares, ‖Ax − b‖²",
        latex=r"\frac{\partial^2 \|Ax - b\|_2^2}{\partial x\,\partial x^\top} = 2A^\top A",
        source="MML Example 5.11 differentiated again; " + _CB + "(98)",
        topic="second-order",
        symbols={"A": "m n", "x": "n", "b": "m"},
        wrt="x",
        order=2,
        function=lambda s: ops.norm(s.A @ s.x - s.b) ** 2,
        closed_form=lambda s: 2 * (s.A.T @ s.A),
    ),
    entry(
        name="hessian-x-As-W-wrt-s",
        title="Hessian of (x − As)ᵀW(x − As) in s, general W",
        latex=r"\frac{\partial^2}{\partial s\,\partial s^\top}(x - As)^\top W (x - As) = "
        r"A^\top (W + W^\top) A",
        source="MML (5.107) differentiated again",
        topic="second-order",
        symbols={"x": "m", "A": "m n", "s": "n", "W": "m m"},
        wrt="s",
        order=2,
        function=lambda s: (s.x - s.A @ s.s) @ s.W @ (s.x - s.A @ s.s),
        closed_form=lambda s: s.A.T @ (s.W + s.W.T) @ s.A,
        notes="2AᵀWA for symmetric W.",
    ),
    entry(
        name="hessian-trace-XtAX",
        title="Hessian of tr(XᵀAX) (a 4-index tensor)",
        latex=r"\frac{\partial^2 \operatorname{tr}(X^\top A X)}{\partial "
        r"X_{ij}\,\partial X_{kl}} = "
        r"(A + A^\top)_{ik}\,\delta_{jl}",
        source=_CB + "(108) differentiated again",
        topic="second-order",
        symbols={"X": "n m", "A": "n n"},
        wrt="X",
        order=2,
        function=lambda s: ops.trace(s.X.T @ s.A @ s.X),
        closed_form=lambda s: ops.einsum("ik,jl->ijkl", s.A + s.A.T, s.eye("m")),
        notes=_HESSIAN_LAYOUT + " Flattened it is I_m ⊗ (A + Aᵀ).",
    ),
    entry(
        name="hessian-frobenius-squared",
        title="Hessian of ‖X‖²_F",
        latex=r"\frac{\partial^2 \|X\|_F^2}{\partial X_{ij}\,\partial "
        r"X_{kl}} = 2\delta_{ik}\delta_{jl}",
        source=_CB + "(132) differentiated again",
        topic="second-order",
        symbols={"X": "n m"},
        wrt="X",
        order=2,
        function=lambda s: ops.norm(s.X) ** 2,
        closed_form=lambda s: 2 * ops.einsum("ik,jl->ijkl", s.eye("n"), s.eye("m")),
        notes=_HESSIAN_LAYOUT + " Flattened it is 2I.",
    ),
    entry(
        name="hessian-bXtXc",
        title="Hessian of bᵀXᵀXc",
        latex=r"\frac{\partial^2\, b^\top X^\top X c}{\partial X_{ij}\,\partial X_{kl}} = "
        r"\delta_{ik}(bc^\top + cb^\top)_{lj}",
        source=_CB + "(77) differentiated again",
        topic="second-order",
        symbols={"X": "n m", "b": "m", "c": "m"},
        wrt="X",
        order=2,
        function=lambda s: s.b @ s.X.T @ s.X @ s.c,
        closed_form=lambda s: ops.einsum(
            "ik,lj->ijkl", s.eye("n"), ops.outer(s.b, s.c) + ops.outer(s.c, s.b)
        ),
        notes=_HESSIAN_LAYOUT,
    ),
    entry(
        name="hessian-logdet",
        title="Hessian of log|det X|",
        latex=r"\frac{\partial^2 \ln|\det X|}{\partial X_{ij}\,\partial X_{kl}} = "
        r"-(X^{-1})_{jk}(X^{-1})_{li}",
        source=_CBS + "(57) and (60)",
        topic="second-order",
        symbols={"X": "n n"},
        conditions={"X": "invertible"},
        wrt="X",
        order=2,
        function=lambda s: ops.logdet(s.X),
        closed_form=lambda s: -ops.einsum("jk,li->ijkl", ops.inv(s.X), ops.inv(s.X)),
        notes=_HESSIAN_LAYOUT + """ Flattened column-major it is −(X⁻¹ ⊗ X⁻ᵀ)K, K the
        commutation matrix (from d X⁻ᵀ = −X⁻ᵀ dXᵀ X⁻ᵀ): a Kronecker product composed with
        the transpose, not the plain −X⁻ᵀ ⊗ X⁻¹ one might guess.""",
    ),
    entry(
        name="hessian-logdet-spd",
        title="Hessian of log det X for symmetric positive definite X",
        latex=r"\frac{\partial^2 \ln\det X}{\partial X_{ij}\,\partial X_{kl}} = -\tfrac12\left("
        r"(X^{-1})_{ik}(X^{-1})_{jl} + (X^{-1})_{il}(X^{-1})_{jk}\right)",
        source=_CBS + "(57) and (60), symmetric variable (DESIGN.md §1)",
        topic="second-order",
        symbols={"X": "n n"},
        conditions={"X": "positive definite"},
        wrt="X",
        order=2,
        function=lambda s: ops.logdet(s.X),
        closed_form=lambda s: -0.5
        * (
            ops.einsum("ik,jl->ijkl", ops.inv(s.X), ops.inv(s.X))
            + ops.einsum("il,jk->ijkl", ops.inv(s.X), ops.inv(s.X))
        ),
        notes="""X varies over symmetric matrices: the gradient is X⁻¹ and the Hessian is
        the unconstrained one symmetrized in (i, j) and in (k, l).  Its quadratic form
        in a symmetric direction V is −tr(X⁻¹VX⁻¹V), which is negative: log det is
        concave on the positive definite cone.""",
    ),
    entry(
        name="hessian-det",
        title="Hessian of det X",
        latex=r"\frac{\partial^2 \det X}{\partial X_{ij}\,\partial X_{kl}} = \det X\left("
        r"(X^{-1})_{ji}(X^{-1})_{lk} - (X^{-1})_{jk}(X^{-1})_{li}\right)",
        source=_CBS + "(49) and (60)",
        topic="second-order",
        symbols={"X": "n n"},
        conditions={"X": "invertible"},
        wrt="X",
        order=2,
        function=lambda s: ops.det(s.X),
        closed_form=lambda s: ops.det(s.X)
        * (
            ops.einsum("ji,lk->ijkl", ops.inv(s.X), ops.inv(s.X))
            - ops.einsum("jk,li->ijkl", ops.inv(s.X), ops.inv(s.X))
        ),
        notes=_HESSIAN_LAYOUT + " Zero whenever (i, j) and (k, l) share a row or a column.",
    ),
    entry(
        name="hessian-det-singular",
        title="Hessian of det X at a singular X (the signed (n − 2)-minors)",
        latex=r"\frac{\partial^2 \det X}{\partial X_{ab}\,\partial X_{cd}} = \frac{1}{(n-2)!}"
        r"\,\varepsilon_{ac k_1\dots}\,\varepsilon_{bd l_1\dots}\,X_{k_1l_1}\cdots "
        r"X_{k_{n-2}l_{n-2}}",
        source="the Levi-Civita form of the determinant; " + _CB + "(48) at invertible X",
        topic="second-order",
        symbols={"X": "n n"},
        conditions={"X": "singular"},
        wrt="X",
        order=2,
        function=lambda s: ops.det(s.X),
        closed_form=_det_hessian_minors,
        notes=_HESSIAN_LAYOUT + """ det X is a polynomial, so its Hessian exists at every
        X; at a singular X of corank 1 it is not zero.  hessian-det's closed form divides
        by det X and cannot be used there.  matgrad differentiates det without X⁻¹: the
        gradient adj(X)ᵀ and the derivative of adj come from the SVD X = UΣVᵀ, where
        d adj(X)[E] = det(U)det(V)·V(diag(Q diag Ẽ) − Q∘Ẽ)Uᵀ with Ẽ = UᵀEV and
        Q_ij = Π_{k≠i,j} σ_k (products of singular values, no division), so the Hessian is
        right at exactly and numerically singular X alike.""",
        sizes=[{"n": 3}, {"n": 4}],
    ),
    entry(
        name="hessian-aXinvb",
        title="Hessian of aᵀX⁻¹b",
        latex=r"\frac{\partial^2\, a^\top X^{-1} b}{\partial X_{ij}\,\partial X_{kl}} = "
        r"u_k (X^{-1})_{li} v_j + u_i (X^{-1})_{jk} v_l,\ u = X^{-\top}a,\ v = X^{-1}b",
        source="MML (5.102) / " + _CB + "(61) differentiated again",
        topic="second-order",
        symbols={"X": "n n", "a": "n", "b": "n"},
        conditions={"X": "invertible"},
        wrt="X",
        order=2,
        function=lambda s: s.a @ ops.inv(s.X) @ s.b,
        closed_form=lambda s: ops.einsum(
            "k,li,j->ijkl", ops.inv(s.X).T @ s.a, ops.inv(s.X), ops.inv(s.X) @ s.b
        )
        + ops.einsum("i,jk,l->ijkl", ops.inv(s.X).T @ s.a, ops.inv(s.X), ops.inv(s.X) @ s.b),
        notes=_HESSIAN_LAYOUT,
    ),
    entry(
        name="hessian-trace-X3",
        title="Hessian of tr(X³)",
        latex=r"\frac{\partial^2 \operatorname{tr}(X^3)}{\partial X_{ij}\,\partial X_{kl}} = "
        r"3(\delta_{jk}X_{li} + X_{jk}\delta_{il})",
        source=_CB + "(121) differentiated again",
        topic="second-order",
        symbols={"X": "n n"},
        wrt="X",
        order=2,
        function=lambda s: ops.trace(ops.matrix_power(s.X, 3)),
        closed_form=lambda s: 3
        * (
            ops.einsum("jk,li->ijkl", s.eye("n"), s.X)
            + ops.einsum("jk,il->ijkl", s.X, s.eye("n"))
        ),
        notes=_HESSIAN_LAYOUT,
    ),
    entry(
        name="hessian-inverse",
        title="Second derivative of X⁻¹ (a 6-index tensor)",
        latex=r"\frac{\partial^2 (X^{-1})_{ij}}{\partial X_{kl}\,\partial X_{pq}} = "
        r"Y_{ip}Y_{qk}Y_{lj} + Y_{ik}Y_{lp}Y_{qj},\quad Y = X^{-1}",
        source=_CB + "(60) differentiated again",
        topic="second-order",
        symbols={"X": "n n"},
        conditions={"X": "invertible"},
        wrt="X",
        order=2,
        function=lambda s: ops.inv(s.X),
        closed_form=lambda s: ops.einsum(
            "ip,qk,lj->ijklpq", ops.inv(s.X), ops.inv(s.X), ops.inv(s.X)
        )
        + ops.einsum("ik,lp,qj->ijklpq", ops.inv(s.X), ops.inv(s.X), ops.inv(s.X)),
        notes="""Shape (n, n, n, n, n, n): output axes, then the first and the second
        differentiation.  Symmetric under exchanging (k, l) with (p, q).""",
        sizes=[{"n": 2}, {"n": 3}],
    ),
    entry(
        name="hessian-norm-x",
        title="Hessian of ‖x‖₂",
        latex=r"\frac{\partial^2 \|x\|_2}{\partial x\,\partial x^\top} = \frac{1}{\|x\|_2}\left("
        r"I - \frac{xx^\top}{\|x\|_2^2}\right)",
        source=_CB + "(130) with a = 0",
        topic="second-order",
        symbols={"x": "n"},
        wrt="x",
        order=2,
        function=lambda s: ops.norm(s.x),
        closed_form=lambda s: (s.eye("n") - ops.outer(s.x, s.x) / (s.x @ s.x)) / ops.norm(s.x),
        notes="The projector onto the complement of x, divided by ‖x‖; singular at x = 0.",
    ),
    entry(
        name="hessian-logsumexp",
        title="Hessian of log-sum-exp",
        latex=r"\frac{\partial^2}{\partial x\,\partial x^\top}\log\sum_i e^{x_i} = "
        r"\operatorname{diag}(p) - pp^\top,\quad p = \operatorname{softmax}(x)",
        source="standard (the covariance of the softmax distribution)",
        topic="second-order",
        symbols={"x": "n"},
        wrt="x",
        order=2,
        function=lambda s: ops.log(ops.sum(ops.exp(s.x))),
        closed_form=lambda s: ops.diag(ops.exp(s.x) / ops.sum(ops.exp(s.x)))
        - ops.outer(ops.exp(s.x), ops.exp(s.x)) / ops.sum(ops.exp(s.x)) ** 2,
        notes="Positive semidefinite with the null vector 1: log-sum-exp is convex.",
    ),
    entry(
        name="hessian-sin-Ax",
        title="Second derivative of a vector field, sin(Ax) (an m×n×n tensor)",
        latex=r"\frac{\partial^2 \sin(Ax)_i}{\partial x_j\,\partial x_k} = "
        r"-\sin(Ax)_i A_{ij}A_{ik}",
        source="MML section 5.7 (the Hessian of f: ℝⁿ → ℝᵐ is m×n×n)",
        topic="second-order",
        symbols={"A": "m n", "x": "n"},
        wrt="x",
        order=2,
        function=lambda s: ops.sin(s.A @ s.x),
        closed_form=lambda s: -ops.einsum("i,ij,ik->ijk", ops.sin(s.A @ s.x), s.A, s.A),
        notes="One Hessian per output component, stacked on the first axis.",
    ),
    entry(
        name="det-pencil-second",
        title="Second derivative of det(A + tB) in t",
        latex=r"\frac{d^2 \det Y}{dt^2} = \det Y\left(\operatorname{tr}(Y^{-1}B)^2 - "
        r"\operatorname{tr}(Y^{-1}BY^{-1}B)\right),\quad Y = A + tB",
        source=_CB + "(48), with d²Y/dt² = 0",
        topic="second-order",
        symbols={"t": "", "A": "n n", "B": "n n"},
        conditions={"A": "invertible"},
        wrt="t",
        order=2,
        function=lambda s: ops.det(pencil(s)),
        closed_form=lambda s: ops.det(pencil(s))
        * (
            ops.trace(ops.inv(pencil(s)) @ s.B) ** 2
            - ops.trace(ops.inv(pencil(s)) @ s.B @ ops.inv(pencil(s)) @ s.B)
        ),
    ),
)

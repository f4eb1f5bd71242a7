"""Matrix functions: traces of ``expm``, ``logm``, ``sqrtm``, ``sinm``, ``cosm`` and
real powers, and their Fréchet derivatives (layer 4).

``L_f(X, E)`` is the Fréchet derivative of the matrix function ``f`` at ``X`` in
the direction ``E``: ``f(X + E) = f(X) + L_f(X, E) + o(‖E‖)``.  The closed forms
below avoid matgrad's own Fréchet operations where they can: they evaluate
``L_f`` by the block formula ``f([[X, E], [0, X]]) = [[f(X), L_f(X, E)], [0, f(X)]]``
(Mathias; Higham 2008, Thm 3.6) or solve the Sylvester equation of ``sqrtm``.
The variables are general (non-symmetric) square matrices: the functions of the
principal branch (``logm``, ``sqrtm``, real powers) are drawn with a positive
definite symmetric part, so no eigenvalue lies on the closed negative real axis.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from matgrad import ops
from matgrad.identities._record import Identity, Symbols, entry
from matgrad.ir.expr import Expr, constant

__all__ = ["ENTRIES"]

_TRACE_RULE = ("Matrix Cookbook (2012) §2.5, the unnumbered rule ∂ tr F(X)/∂X = f(X)ᵀ "
               "that opens the section")
_BLOCK = "Higham (2008) Functions of Matrices, Thm 3.6 (Mathias's block formula)"

_PRINCIPAL = """Principal branch: X must have no eigenvalue on the closed negative real
axis (drawn with xᵀXx > 0, so every eigenvalue has a positive real part); outside
that matgrad raises InvalidArgumentError, never a complex or NaN result."""


def _block(f: Callable[[Expr], Expr], x: Expr, e: Expr, n: int) -> Expr:
    """``L_f(X, E)``: the top-right block of ``f([[X, E], [0, X]])``."""
    zero = constant(np.zeros((n, n)))
    big = ops.concatenate([ops.concatenate([x, e], axis=1),
                           ops.concatenate([zero, x], axis=1)], axis=0)
    return f(big)[:n, n:]


def _line(s: Symbols) -> Expr:
    """``Y(t) = A + (t/4) B``: a line of matrices that stays in the principal domain
    for ``A`` with positive definite symmetric part and ``‖tB‖₂ ≤ 1``."""
    return s.A + (s.t / 4) * s.B


def _pencil_entry(name: str, fname: str, f: Callable[[Expr], Expr], principal: bool,
                  notes: str) -> Identity:
    conditions: dict[str, str | tuple[str, ...]] = (
        {"A": "positive definite part", "B": "small norm", "t": "small norm"}
        if principal else {}
    )
    return entry(
        name=name,
        title=f"Fréchet derivative of {fname} along a line, by the block formula",
        latex=r"\frac{d}{dt}\," + fname + r"(Y) = L_{" + fname + r"}(Y, \dot Y),\ "
        r"\begin{bmatrix} f(Y) & L_f(Y, E)\\ 0 & f(Y)\end{bmatrix} = "
        r"f\!\left(\begin{bmatrix} Y & E\\ 0 & Y\end{bmatrix}\right)",
        source=_BLOCK,
        topic="matrix-function",
        symbols={"t": "", "A": "n n", "B": "n n"},
        conditions=conditions,
        wrt="t",
        function=lambda s: f(_line(s) if principal else s.A + s.t * s.B),
        closed_form=lambda s: _block(
            f, _line(s) if principal else s.A + s.t * s.B,
            s.B / 4 if principal else s.B, s.size("n")),
        notes=notes,
    )


def _sqrtm_jacobian(s: Symbols) -> Expr:
    """``J[i,j,k,l] = ∂S_ij/∂X_kl`` from ``vec L = (I ⊗ S + Sᵀ ⊗ I)⁻¹ vec E``."""
    n = s.size("n")
    root = ops.sqrtm(s.X)
    sylvester = ops.kron(s.eye("n"), root) + ops.kron(root.T, s.eye("n"))
    return ops.einsum("jilk->ijkl", ops.reshape(ops.inv(sylvester), (n, n, n, n)))


def _identity4(s: Symbols) -> Expr:
    return ops.einsum("ik,jl->ijkl", s.eye("n"), s.eye("n"))


ENTRIES: tuple[Identity, ...] = (
    entry(
        name="trace-expm",
        title="Trace of the matrix exponential, tr e^X",
        latex=r"\frac{\partial \operatorname{tr} e^{X}}{\partial X} = (e^{X})^\top",
        source=_TRACE_RULE + "; Higham (2008) §10.2",
        topic="matrix-function",
        symbols={"X": "n n"},
        wrt="X",
        function=lambda s: ops.trace(ops.expm(s.X)),
        closed_form=lambda s: ops.expm(s.X).T,
        notes="""Any square X.  d tr e^X = tr L_exp(X, dX) = tr(e^X dX) by the cyclic
        trace, although L_exp(X, E) ≠ e^X E unless X and E commute: the trace hides
        the non-commutativity (the trap: the Jacobian of e^X itself is not e^X ⊗ I).""",
    ),
    entry(
        name="trace-sinm",
        title="Trace of the matrix sine, tr sin X",
        latex=r"\frac{\partial \operatorname{tr}\sin X}{\partial X} = (\cos X)^\top",
        source="Matrix Cookbook (2012) eq. (128)",
        topic="matrix-function",
        symbols={"X": "n n"},
        wrt="X",
        function=lambda s: ops.trace(ops.sinm(s.X)),
        closed_form=lambda s: ops.cosm(s.X).T,
        notes="""sin and cos are the matrix functions (power series; scipy.linalg.sinm,
        cosm), not elementwise: compare trace-sin-elementwise, the elementwise reading,
        whose gradient is diagonal.""",
    ),
    entry(
        name="trace-cosm",
        title="Trace of the matrix cosine, tr cos X",
        latex=r"\frac{\partial \operatorname{tr}\cos X}{\partial X} = -(\sin X)^\top",
        source=_TRACE_RULE,
        topic="matrix-function",
        symbols={"X": "n n"},
        wrt="X",
        function=lambda s: ops.trace(ops.cosm(s.X)),
        closed_form=lambda s: -ops.sinm(s.X).T,
        notes="f(x) = cos x, f′(x) = −sin x; the matrix sine, not the elementwise one.",
    ),
    entry(
        name="trace-logm",
        title="Trace of the principal logarithm, tr log X",
        latex=r"\frac{\partial \operatorname{tr}\log X}{\partial X} = X^{-\top}",
        source=_TRACE_RULE + "; Higham (2008) ch. 11",
        topic="matrix-function",
        symbols={"X": "n n"},
        conditions={"X": "positive definite part"},
        wrt="X",
        function=lambda s: ops.trace(ops.logm(s.X)),
        closed_form=lambda s: ops.inv(s.X).T,
        notes="""tr log X = log det X on the principal branch, whence Cookbook (57).  """
        + _PRINCIPAL + """  The gradient X⁻ᵀ itself is the same on every branch, and
        matgrad evaluates it wherever X is invertible.""",
    ),
    entry(
        name="trace-sqrtm",
        title="Trace of the principal square root, tr X^{1/2}",
        latex=r"\frac{\partial \operatorname{tr} X^{1/2}}{\partial X} = "
        r"\tfrac12 (X^{-1/2})^\top",
        source=_TRACE_RULE + "; Higham (2008) ch. 6",
        topic="matrix-function",
        symbols={"X": "n n"},
        conditions={"X": "positive definite part"},
        wrt="X",
        function=lambda s: ops.trace(ops.sqrtm(s.X)),
        closed_form=lambda s: 0.5 * ops.inv(ops.sqrtm(s.X)).T,
        notes=_PRINCIPAL + """  Trap: unbounded as X approaches a singular matrix (f′(x) =
        1/(2√x) at x = 0).  At a singular X matgrad raises: NonFiniteError from the
        Fréchet derivative of sqrtm, LinAlgError from the inverse in this gradient.""",
    ),
    entry(
        name="trace-fractional-power",
        title="Trace of a real matrix power, tr X^p",
        latex=r"\frac{\partial \operatorname{tr} X^{p}}{\partial X} = p\,(X^{p-1})^\top,"
        r"\quad p = 5/2",
        source=_TRACE_RULE + "; Cookbook (121) for integer p",
        topic="matrix-function",
        symbols={"X": "n n"},
        conditions={"X": "positive definite part"},
        wrt="X",
        function=lambda s: ops.trace(ops.fractional_matrix_power(s.X, 2.5)),
        closed_form=lambda s: 2.5 * ops.fractional_matrix_power(s.X, 1.5).T,
        notes=_PRINCIPAL,
    ),
    entry(
        name="trace-A-expm-X",
        title="tr(A e^X): the Fréchet derivative's adjoint",
        latex=r"\frac{\partial \operatorname{tr}(A e^{X})}{\partial X} = L_{\exp}(X, A)^\top"
        r" = L_{\exp}(X^\top, A^\top)",
        source="derived: tr(A L_exp(X, E)) = tr(L_exp(X, A) E) from L_exp(X, E) = "
        "∫₀¹ e^{sX} E e^{(1−s)X} ds (Higham (2008) §10.2); value by " + _BLOCK,
        topic="matrix-function",
        symbols={"A": "n n", "X": "n n"},
        wrt="X",
        function=lambda s: ops.trace(s.A @ ops.expm(s.X)),
        closed_form=lambda s: _block(ops.expm, s.X, s.A, s.size("n")).T,
        notes="""Trap: not (A e^X)ᵀ or (e^X A)ᵀ unless A commutes with X.  The cyclic
        trace moves A inside the integral: tr(A e^{sX} E e^{(1−s)X}) =
        tr(e^{(1−s)X} A e^{sX} E).""",
    ),
    entry(
        name="trace-expm-AX",
        title="tr e^{AX} with a rectangular X",
        latex=r"\frac{\partial \operatorname{tr} e^{AX}}{\partial X} = A^\top (e^{AX})^\top",
        source="derived: " + _TRACE_RULE + ", chain rule",
        topic="matrix-function",
        symbols={"A": "m n", "X": "n m"},
        wrt="X",
        function=lambda s: ops.trace(ops.expm(s.A @ s.X)),
        closed_form=lambda s: s.A.T @ ops.expm(s.A @ s.X).T,
        notes="d tr e^{Y} = tr(e^Y dY) with Y = AX, dY = A dX.  X need not be square.",
    ),
    entry(
        name="expm-tA",
        title="d/dt e^{tA} = A e^{tA}",
        latex=r"\frac{d\, e^{tA}}{dt} = A e^{tA} = e^{tA} A",
        source="Higham (2008) §10.1 (e^{tA} solves y′ = Ay)",
        topic="matrix-function",
        symbols={"t": "", "A": "n n"},
        wrt="t",
        function=lambda s: ops.expm(s.t * s.A),
        closed_form=lambda s: s.A @ ops.expm(s.t * s.A),
        notes="""A commutes with tA, so L_exp(tA, A) = A e^{tA}: the commuting case of the
        Fréchet derivative.""",
    ),
    entry(
        name="expm-commuting-direction",
        title="L_exp(X, E) = e^X E when XE = EX",
        latex=r"\frac{d}{dt}\, e^{A + tA^2} = A^2 e^{A + tA^2}",
        source="derived from the power series (Higham (2008) §10.2): L_exp(X, E) = e^X E "
        "for commuting X and E",
        topic="matrix-function",
        symbols={"t": "", "A": "n n"},
        wrt="t",
        function=lambda s: ops.expm(s.A + s.t * (s.A @ s.A)),
        closed_form=lambda s: (s.A @ s.A) @ ops.expm(s.A + s.t * (s.A @ s.A)),
        notes="""E = A² commutes with X = A + tA².  Trap: for a direction that does not
        commute, L_exp(X, E) ≠ e^X E (frechet-expm-block).""",
    ),
    _pencil_entry(
        "frechet-expm-block", "e", ops.expm, False,
        """Y = A + tB with A, B general: d/dt e^Y = L_exp(Y, B), the top-right block of
        e^{[[Y, B], [0, Y]]}.  Trap: not B e^Y (B and Y do not commute).""",
    ),
    _pencil_entry(
        "frechet-sinm-block", "sin", ops.sinm, False,
        "The matrix sine: L_sin(Y, B) = ∫₀¹ … has no closed product form; the block formula "
        "evaluates it exactly.",
    ),
    _pencil_entry(
        "frechet-cosm-block", "cos", ops.cosm, False,
        "The matrix cosine along Y = A + tB, by the block formula.",
    ),
    _pencil_entry(
        "frechet-logm-block", "log", ops.logm, True,
        "Y = A + (t/4)B stays in the principal domain: A has a positive definite symmetric "
        "part (its field of values lies in Re z ≥ 0.5) and ‖tB/4‖₂ ≤ 1/4.  " + _PRINCIPAL,
    ),
    _pencil_entry(
        "frechet-sqrtm-block", "\\sqrt{\\cdot}", ops.sqrtm, True,
        "As frechet-logm-block, for the principal square root.",
    ),
    entry(
        name="sqrtm-jacobian-sylvester",
        title="Jacobian of the principal square root: S L + L S = E",
        latex=r"S\,L_{\sqrt{}}(X, E) + L_{\sqrt{}}(X, E)\,S = E,\ S = X^{1/2};\quad "
        r"\operatorname{vec} L = (I \otimes S + S^\top \otimes I)^{-1}\operatorname{vec} E",
        source="Higham (2008) §6.1 (the Fréchet derivative of the square root solves a "
        "Sylvester equation)",
        topic="matrix-function",
        symbols={"X": "n n"},
        conditions={"X": "positive definite part"},
        wrt="X",
        function=lambda s: ops.sqrtm(s.X),
        closed_form=_sqrtm_jacobian,
        notes="""Differentiate S² = X: S dS + dS S = dX.  The Sylvester operator is
        invertible because S has no two eigenvalues summing to zero (all have positive
        real parts).  Layout J[i, j, k, l] = ∂S_ij/∂X_kl, from the column-major vec.
        Trap: at a singular X the operator is singular and the derivative unbounded.""",
    ),
    entry(
        name="sqrtm-squared",
        title="(X^{1/2})² = X: the Jacobian is the identity",
        latex=r"\frac{\partial (X^{1/2} X^{1/2})_{ij}}{\partial X_{kl}} = "
        r"\delta_{ik}\delta_{jl}",
        source="derived: product rule with " + "Higham (2008) §6.1",
        topic="matrix-function",
        symbols={"X": "n n"},
        conditions={"X": "positive definite part"},
        wrt="X",
        function=lambda s: ops.sqrtm(s.X) @ ops.sqrtm(s.X),
        closed_form=_identity4,
        notes="""The product rule gives S L + L S with L = L_sqrt(X, E); that it equals E
        is the Sylvester equation of sqrtm-jacobian-sylvester, checked here through
        matgrad's own Fréchet derivative of sqrtm.""",
    ),
    entry(
        name="logm-expm-inverse",
        title="log(e^X) = X: L_log(e^X, L_exp(X, E)) = E",
        latex=r"\frac{\partial \log(e^{X})_{ij}}{\partial X_{kl}} = \delta_{ik}\delta_{jl}",
        source="chain rule: L_log(e^X, L_exp(X, E)) = E (Higham (2008) ch. 11)",
        topic="matrix-function",
        symbols={"X": "n n"},
        conditions={"X": "small norm"},
        wrt="X",
        function=lambda s: ops.logm(ops.expm(s.X)),
        closed_form=_identity4,
        notes="""log e^X = X holds only for X with every eigenvalue in the strip
        |Im λ| < π (principal logarithm); ‖X‖₂ ≤ 1 guarantees it.  Trap: outside the
        strip log e^X ≠ X (a rotation by angle θ > π comes back as 2π − θ), and the
        Jacobian is not the identity.""",
    ),
    entry(
        name="det-expm",
        title="det e^X = e^{tr X}",
        latex=r"\frac{\partial \det e^{X}}{\partial X} = \det(e^{X})\, I = "
        r"e^{\operatorname{tr} X} I",
        source="derived: det e^X = e^{tr X} (Jacobi's identity) with Matrix Cookbook "
        "(2012) eq. (49)",
        topic="matrix-function",
        symbols={"X": "n n"},
        wrt="X",
        function=lambda s: ops.det(ops.expm(s.X)),
        closed_form=lambda s: ops.det(ops.expm(s.X)) * s.eye("n"),
        notes="""Also by Cookbook (49) and the chain rule: det(e^X) (e^{−X})ᵀ applied to
        L_exp(X, ·) gives tr(e^{−X} L_exp(X, dX)) = tr dX.""",
    ),
    entry(
        name="logdet-expm",
        title="log det e^X = tr X",
        latex=r"\frac{\partial \log\det e^{X}}{\partial X} = I",
        source="derived: log det e^X = tr X; Matrix Cookbook (2012) eq. (57)",
        topic="matrix-function",
        symbols={"X": "n n"},
        wrt="X",
        function=lambda s: ops.logdet(ops.expm(s.X)),
        closed_form=lambda s: s.eye("n"),
        notes="matgrad differentiates logdet ∘ expm; the composition collapses to tr X.",
    ),
    entry(
        name="hessian-trace-expm",
        title="Hessian of tr e^X for a general square X",
        latex=r"\frac{\partial^2 \operatorname{tr} e^{X}}{\partial X_{ij}\,\partial X_{kl}} "
        r"= L_{\exp}(X, E_{kl})_{ji}",
        source="derived: d² tr e^X [E₁, E₂] = tr(L_exp(X, E₁) E₂) (Higham (2008) §10.2)",
        topic="matrix-function",
        symbols={"X": "n n"},
        wrt="X",
        order=2,
        function=lambda s: ops.trace(ops.expm(s.X)),
        closed_form=lambda s: ops.einsum(
            "jikl->ijkl", ops.frechet_expm(s.X, _identity4(s))),
        notes="""E_kl is the unit matrix with a 1 at (k, l); the closed form evaluates all
        n² directions at once through frechet_expm with a batch of directions.
        Symmetric (H[i,j,k,l] = H[k,l,i,j]) because tr(L(X, E₁) E₂) is symmetric in
        E₁, E₂ (the integral form).  For symmetric X see hessian-spectral-sum-exp.""",
    ),
)

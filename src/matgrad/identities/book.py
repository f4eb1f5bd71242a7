"""The identities (5.98)–(5.107) and the worked examples and exercises of chapter 5
of *Mathematics for Machine Learning* (Deisenroth, Faisal, Ong), as catalogue
entries (layer 4).

The book writes the gradient of a scalar with respect to a vector as a row
vector; matgrad's gradient has the variable's shape (DESIGN.md §1), so
``∂ xᵀBx/∂x = xᵀ(B + Bᵀ)`` in the book is ``(B + Bᵀ) x`` here: the same numbers.
"""

from __future__ import annotations

import numpy as np

from matgrad import ops
from matgrad.identities._record import Identity, Symbols, entry
from matgrad.ir.expr import Expr, constant

__all__ = ["ENTRIES"]

_ROW_VECTOR = (
    "The book writes this gradient as a row vector (1×n); matgrad gives it the "
    "variable's shape (n,), the same numbers."
)


def _jac_xax(s: Symbols) -> Expr:
    """``∂(XAX)_ij/∂X_kl = δ_ik (AX)_lj + (XA)_ik δ_jl``."""
    eye = s.eye("n")
    return ops.einsum("ik,lj->ijkl", eye, s.A @ s.X) + ops.einsum("ik,jl->ijkl", s.X @ s.A, eye)


def _jac_xtbx(s: Symbols) -> Expr:
    """``∂(XᵀBX)_ij/∂X_kl = δ_il (BX)_kj + (XᵀB)_ik δ_jl`` for X n×m."""
    eye = s.eye("m")
    return ops.einsum("il,kj->ijkl", eye, s.B @ s.X) + ops.einsum(
        "ik,jl->ijkl", s.X.T @ s.B, eye
    )


def _gram_plus_identity(s: Symbols) -> Expr:
    """``F(X) = XᵀX + I``, an m×m matrix that is always invertible."""
    return s.X.T @ s.X + s.eye("m")


def _jac_gram(s: Symbols) -> Expr:
    """``∂(XᵀX)_ij/∂X_kl = δ_il X_kj + X_ki δ_jl``."""
    eye = s.eye("m")
    return ops.einsum("il,kj->ijkl", eye, s.X) + ops.einsum("ki,jl->ijkl", s.X, eye)


def _residual(s: Symbols) -> Expr:
    return s.x - s.A @ s.s


def _e(i: int, n: int) -> Expr:
    """The i-th standard basis vector of length n, as a constant."""
    return constant(np.eye(n)[i])


IDENTITIES: tuple[Identity, ...] = (
    entry(
        name="mml-transpose-rule",
        title="Derivative of a transpose (rule (5.98), with F(X) = XAX)",
        latex=r"\frac{\partial F(X)^\top}{\partial X} = \left(\frac{\partial F(X)}{\partial X}"
        r"\right)^\top,\quad F(X) = XAX",
        source="MML (5.98)",
        topic="book-identity",
        symbols={"X": "n n", "A": "n n"},
        wrt="X",
        function=lambda s: (s.X @ s.A @ s.X).T,
        closed_form=lambda s: ops.transpose(_jac_xax(s), (1, 0, 2, 3)),
        notes="""A rule about all differentiable F, instantiated with F(X) = XAX, whose
        Jacobian is ∂(XAX)_ij/∂X_kl = δ_ik (AX)_lj + (XA)_ik δ_jl.  For a tensor, the
        "transpose" of the rule swaps the first two axes (the output axes); the axes
        of X stay last.""",
    ),
    entry(
        name="mml-trace-rule",
        title="Derivative of a trace (rule (5.99), with F(X) = XᵀBX)",
        latex=r"\frac{\partial \operatorname{tr} F(X)}{\partial X} = \operatorname{tr}"
        r"\frac{\partial F(X)}{\partial X},\quad F(X) = X^\top B X",
        source="MML (5.99); compare Matrix Cookbook (2012) eq. (108)",
        topic="book-identity",
        symbols={"X": "n m", "B": "n n"},
        wrt="X",
        function=lambda s: ops.trace(s.X.T @ s.B @ s.X),
        closed_form=lambda s: ops.einsum("iikl->kl", _jac_xtbx(s)),
        notes="""The "trace" of the m×m×n×m Jacobian tensor contracts its first two axes
        (the output axes), leaving an n×m gradient: here BX + BᵀX.  X need not be
        square.""",
    ),
    entry(
        name="mml-det-rule",
        title="Derivative of a determinant (rule (5.100), with F(X) = XᵀX + I)",
        latex=r"\frac{\partial \det F(X)}{\partial X} = \det F(X)\,\operatorname{tr}\left("
        r"F(X)^{-1}\frac{\partial F(X)}{\partial X}\right),\quad F(X) = X^\top X + I",
        source="MML (5.100); Matrix Cookbook (2012) eq. (46)",
        topic="book-identity",
        symbols={"X": "n m"},
        wrt="X",
        function=lambda s: ops.det(_gram_plus_identity(s)),
        closed_form=lambda s: ops.det(_gram_plus_identity(s))
        * ops.einsum("ip,pikl->kl", ops.inv(_gram_plus_identity(s)), _jac_gram(s)),
        notes="""F(X)⁻¹ ∂F/∂X multiplies the m×m inverse into the first axis of the
        m×m×n×m Jacobian; the trace then contracts the two output axes.  XᵀX + I is
        invertible for every X, so X may be any n×m matrix.""",
    ),
    entry(
        name="mml-inverse-rule",
        title="Derivative of an inverse (rule (5.101), with F(X) = XᵀX + I)",
        latex=r"\frac{\partial F(X)^{-1}}{\partial X} = -F(X)^{-1}\frac{\partial F(X)}"
        r"{\partial X}F(X)^{-1},\quad F(X) = X^\top X + I",
        source="MML (5.101); Matrix Cookbook (2012) eq. (59)",
        topic="book-identity",
        symbols={"X": "n m"},
        wrt="X",
        function=lambda s: ops.inv(_gram_plus_identity(s)),
        closed_form=lambda s: -ops.einsum(
            "ip,pqkl,qj->ijkl",
            ops.inv(_gram_plus_identity(s)),
            _jac_gram(s),
            ops.inv(_gram_plus_identity(s)),
        ),
        notes="""The products multiply F⁻¹ into the two output axes of the Jacobian
        tensor: J[i, j, k, l] = −Σ_pq (F⁻¹)_ip ∂F_pq/∂X_kl (F⁻¹)_qj.""",
    ),
    entry(
        name="mml-aXinvb",
        title="Bilinear form in the inverse, aᵀX⁻¹b",
        latex=r"\frac{\partial\, a^\top X^{-1} b}{\partial X} = -X^{-\top} a b^\top X^{-\top}",
        source="MML (5.102); Matrix Cookbook (2012) eq. (61)",
        topic="book-identity",
        symbols={"X": "n n", "a": "n", "b": "n"},
        conditions={"X": "invertible"},
        wrt="X",
        function=lambda s: s.a @ ops.inv(s.X) @ s.b,
        closed_form=lambda s: -ops.inv(s.X).T @ ops.outer(s.a, s.b) @ ops.inv(s.X).T,
    ),
    entry(
        name="mml-xta",
        title="Linear form xᵀa",
        latex=r"\frac{\partial\, x^\top a}{\partial x} = a^\top",
        source="MML (5.103); Matrix Cookbook (2012) eq. (69)",
        topic="book-identity",
        symbols={"x": "n", "a": "n"},
        wrt="x",
        function=lambda s: s.x @ s.a,
        closed_form=lambda s: s.a,
        notes=_ROW_VECTOR,
    ),
    entry(
        name="mml-atx",
        title="Linear form aᵀx",
        latex=r"\frac{\partial\, a^\top x}{\partial x} = a^\top",
        source="MML (5.104); Matrix Cookbook (2012) eq. (69)",
        topic="book-identity",
        symbols={"x": "n", "a": "n"},
        wrt="x",
        function=lambda s: s.a @ s.x,
        closed_form=lambda s: s.a,
        notes=_ROW_VECTOR,
    ),
    entry(
        name="mml-aXb",
        title="Bilinear form aᵀXb",
        latex=r"\frac{\partial\, a^\top X b}{\partial X} = a b^\top",
        source="MML (5.105); Matrix Cookbook (2012) eq. (70)",
        topic="book-identity",
        symbols={"X": "m n", "a": "m", "b": "n"},
        wrt="X",
        function=lambda s: s.a @ s.X @ s.b,
        closed_form=lambda s: ops.outer(s.a, s.b),
    ),
    entry(
        name="mml-xtBx",
        title="Quadratic form xᵀBx",
        latex=r"\frac{\partial\, x^\top B x}{\partial x} = x^\top (B + B^\top)",
        source="MML (5.106); Matrix Cookbook (2012) eq. (81)",
        topic="book-identity",
        symbols={"x": "n", "B": "n n"},
        wrt="x",
        function=lambda s: s.x @ s.B @ s.x,
        closed_form=lambda s: (s.B + s.B.T) @ s.x,
        notes=_ROW_VECTOR + " The often-quoted 2Bx holds only for symmetric B.",
    ),
    entry(
        name="mml-x-As-W-wrt-s",
        title="Weighted least-squares residual (x − As)ᵀW(x − As) wrt s, W symmetric",
        latex=r"\frac{\partial}{\partial s}(x - As)^\top W (x - As) = -2 (x - As)^\top W A",
        source="MML (5.107); Matrix Cookbook (2012) eq. (84)",
        topic="book-identity",
        symbols={"x": "m", "A": "m n", "s": "n", "W": "m m"},
        conditions={"W": "symmetric"},
        wrt="s",
        function=lambda s: _residual(s) @ s.W @ _residual(s),
        closed_form=lambda s: -2 * (s.A.T @ s.W @ _residual(s)),
        notes=_ROW_VECTOR + """ The factor 2 needs W symmetric; for a general W the
        gradient is −Aᵀ(W + Wᵀ)(x − As) (entry quadratic-x-As-W-wrt-s).""",
    ),
)

EXAMPLES: tuple[Identity, ...] = (
    entry(
        name="mml-ex5.6-dx",
        title="Example 5.6: ∂/∂x of (x + 2y³)²",
        latex=r"\frac{\partial}{\partial x}(x + 2y^3)^2 = 2(x + 2y^3)",
        source="MML Example 5.6",
        topic="book-example",
        symbols={"x": "", "y": ""},
        wrt="x",
        function=lambda s: (s.x + 2 * s.y**3) ** 2,
        closed_form=lambda s: 2 * (s.x + 2 * s.y**3),
    ),
    entry(
        name="mml-ex5.6-dy",
        title="Example 5.6: ∂/∂y of (x + 2y³)²",
        latex=r"\frac{\partial}{\partial y}(x + 2y^3)^2 = 12(x + 2y^3)y^2",
        source="MML Example 5.6",
        topic="book-example",
        symbols={"x": "", "y": ""},
        wrt="y",
        function=lambda s: (s.x + 2 * s.y**3) ** 2,
        closed_form=lambda s: 12 * (s.x + 2 * s.y**3) * s.y**2,
    ),
    entry(
        name="mml-ex5.7",
        title="Example 5.7: gradient of x₁²x₂ + x₁x₂³",
        latex=r"\nabla_x (x_1^2 x_2 + x_1 x_2^3) = \begin{bmatrix} 2x_1x_2 + x_2^3 & "
        r"x_1^2 + 3x_1x_2^2\end{bmatrix}",
        source="MML Example 5.7",
        topic="book-example",
        symbols={"x": "d"},
        wrt="x",
        function=lambda s: (s.x @ _e(0, 2)) ** 2 * (s.x @ _e(1, 2))
        + (s.x @ _e(0, 2)) * (s.x @ _e(1, 2)) ** 3,
        closed_form=lambda s: (2 * (s.x @ _e(0, 2)) * (s.x @ _e(1, 2)) + (s.x @ _e(1, 2)) ** 3)
        * _e(0, 2)
        + ((s.x @ _e(0, 2)) ** 2 + 3 * (s.x @ _e(0, 2)) * (s.x @ _e(1, 2)) ** 2) * _e(1, 2),
        notes="x ∈ ℝ² only; the coordinates are read out with the basis vectors e₁, e₂. "
        + _ROW_VECTOR,
        sizes=[{"d": 2}],
    ),
    entry(
        name="mml-ex5.8",
        title="Example 5.8: chain rule through a parameter, f = x₁² + 2x₂ with x = (sin t, cos t)",
        latex=r"\frac{df}{dt} = 2\sin t\,(\cos t - 1)",
        source="MML Example 5.8, (5.49)",
        topic="book-example",
        symbols={"t": ""},
        wrt="t",
        function=lambda s: ops.sin(s.t) ** 2 + 2 * ops.cos(s.t),
        closed_form=lambda s: 2 * ops.sin(s.t) * (ops.cos(s.t) - 1),
    ),
    entry(
        name="mml-ex5.9",
        title="Example 5.9: Jacobian of a linear map, f(x) = Ax",
        latex=r"\frac{d(Ax)}{dx} = A",
        source="MML Example 5.9",
        topic="book-example",
        symbols={"A": "M N", "x": "N"},
        wrt="x",
        function=lambda s: s.A @ s.x,
        closed_form=lambda s: s.A,
    ),
    entry(
        name="mml-ex5.10",
        title="Example 5.10: h(t) = exp(x₁x₂²) with x = (t cos t, t sin t)",
        latex=r"\frac{dh}{dt} = e^{x_1x_2^2}\left(x_2^2(\cos t - t\sin t) + 2x_1x_2"
        r"(\sin t + t\cos t)\right)",
        source="MML Example 5.10",
        topic="book-example",
        symbols={"t": ""},
        wrt="t",
        function=lambda s: ops.exp(s.t * ops.cos(s.t) * (s.t * ops.sin(s.t)) ** 2),
        closed_form=lambda s: ops.exp(s.t * ops.cos(s.t) * (s.t * ops.sin(s.t)) ** 2)
        * (
            (s.t * ops.sin(s.t)) ** 2 * (ops.cos(s.t) - s.t * ops.sin(s.t))
            + 2 * (s.t * ops.cos(s.t)) * (s.t * ops.sin(s.t))
            * (ops.sin(s.t) + s.t * ops.cos(s.t))
        ),
    ),
    entry(
        name="mml-ex5.11-dL-dtheta",
        title="Example 5.11: least squares, ∂‖y − Φθ‖²/∂θ",
        latex=r"\frac{\partial L}{\partial \theta} = -2(y^\top - \theta^\top\Phi^\top)\Phi",
        source="MML Example 5.11",
        topic="book-example",
        symbols={"y": "N", "Phi": "N D", "theta": "D"},
        wrt="theta",
        function=lambda s: ops.sum((s.y - s.Phi @ s.theta) ** 2),
        closed_form=lambda s: -2 * (s.Phi.T @ (s.y - s.Phi @ s.theta)),
        notes=_ROW_VECTOR + " The book's einsum 'n,nd' contracts ∂L/∂e = 2eᵀ with ∂e/∂θ = −Φ.",
    ),
    entry(
        name="mml-ex5.11-de-dtheta",
        title="Example 5.11: the residual's Jacobian, ∂(y − Φθ)/∂θ",
        latex=r"\frac{\partial e}{\partial \theta} = -\Phi",
        source="MML Example 5.11",
        topic="book-example",
        symbols={"y": "N", "Phi": "N D", "theta": "D"},
        wrt="theta",
        function=lambda s: s.y - s.Phi @ s.theta,
        closed_form=lambda s: -s.Phi,
    ),
    entry(
        name="mml-ex5.11-dL-de",
        title="Example 5.11: the loss's gradient in the residual, ∂‖e‖²/∂e",
        latex=r"\frac{\partial \|e\|^2}{\partial e} = 2e^\top",
        source="MML Example 5.11",
        topic="book-example",
        symbols={"e": "N"},
        wrt="e",
        function=lambda s: s.e @ s.e,
        closed_form=lambda s: 2 * s.e,
        notes=_ROW_VECTOR,
    ),
    entry(
        name="mml-ex5.12",
        title="Example 5.12: gradient of Ax with respect to the matrix A",
        latex=r"\frac{\partial (Ax)_i}{\partial A_{pq}} = \delta_{ip} x_q",
        source="MML Example 5.12",
        topic="book-example",
        symbols={"A": "M N", "x": "N"},
        wrt="A",
        function=lambda s: s.A @ s.x,
        closed_form=lambda s: ops.einsum("ip,q->ipq", s.eye("M"), s.x),
        notes="""The Jacobian is an M×(M×N) tensor: row i of Ax depends only on row i
        of A, with coefficients xᵀ.""",
    ),
    entry(
        name="mml-ex5.13",
        title="Example 5.13: gradient of K = RᵀR with respect to R",
        latex=r"\frac{\partial K_{pq}}{\partial R_{ij}} = \delta_{pj}R_{iq} + \delta_{qj}R_{ip}",
        source="MML Example 5.13, (5.97)",
        topic="book-example",
        symbols={"R": "M N"},
        wrt="R",
        function=lambda s: s.R.T @ s.R,
        closed_form=lambda s: ops.einsum("pj,iq->pqij", s.eye("N"), s.R)
        + ops.einsum("qj,ip->pqij", s.eye("N"), s.R),
        notes="""A tensor of shape (N, N, M, N), axes (p, q, i, j).  The book's case split
        (R_iq if j = p ≠ q, R_ip if j = q ≠ p, 2R_iq if j = p = q) is this sum of two
        delta terms.""",
    ),
    entry(
        name="mml-ex5.14",
        title="Example 5.14 / (5.108): f(x) = √(x² + exp(x²)) + cos(x² + exp(x²))",
        latex=r"f'(x) = 2x\left(\frac{1}{2\sqrt{x^2 + e^{x^2}}} - \sin(x^2 + e^{x^2})\right)"
        r"\left(1 + e^{x^2}\right)",
        source="MML (5.108)–(5.109), Example 5.14",
        topic="book-example",
        symbols={"x": ""},
        wrt="x",
        function=lambda s: ops.sqrt(s.x**2 + ops.exp(s.x**2)) + ops.cos(s.x**2 + ops.exp(s.x**2)),
        closed_form=lambda s: 2 * s.x
        * (0.5 / ops.sqrt(s.x**2 + ops.exp(s.x**2)) - ops.sin(s.x**2 + ops.exp(s.x**2)))
        * (1 + ops.exp(s.x**2)),
    ),
    entry(
        name="mml-ex5.15-hessian",
        title="Example 5.15: Hessian of x² + 2xy + y³",
        latex=r"\nabla^2 f = \begin{bmatrix} 2 & 2 \\ 2 & 6y \end{bmatrix}",
        source="MML Example 5.15, (5.146)",
        topic="book-example",
        symbols={"z": "d"},
        wrt="z",
        order=2,
        function=lambda s: (s.z @ _e(0, 2)) ** 2
        + 2 * (s.z @ _e(0, 2)) * (s.z @ _e(1, 2))
        + (s.z @ _e(1, 2)) ** 3,
        closed_form=lambda s: constant(np.array([[2.0, 2.0], [2.0, 0.0]]))
        + 6 * (s.z @ _e(1, 2)) * constant(np.array([[0.0, 0.0], [0.0, 1.0]])),
        notes="z = (x, y) ∈ ℝ²; at (1, 2) the Hessian is [[2, 2], [2, 12]].",
        sizes=[{"d": 2}],
    ),
    entry(
        name="mml-two-layer-dA0",
        title="Backpropagation (5.110)–(5.117): ‖y − A₁ tanh(A₀x + b₀)‖² wrt A₀",
        latex=r"\frac{\partial L}{\partial A_0} = -2\left[(A_1^\top r)\odot(1 - h^2)\right]"
        r"x^\top,\ h = \tanh(A_0x + b_0),\ r = y - A_1h",
        source="MML (5.110)–(5.117)",
        topic="book-example",
        symbols={"A0": "H D", "b0": "H", "A1": "E H", "x": "D", "y": "E"},
        wrt="A0",
        function=lambda s: ops.sum((s.y - s.A1 @ ops.tanh(s.A0 @ s.x + s.b0)) ** 2),
        closed_form=lambda s: -2 * ops.outer(
            (s.A1.T @ (s.y - s.A1 @ ops.tanh(s.A0 @ s.x + s.b0)))
            * (1 - ops.tanh(s.A0 @ s.x + s.b0) ** 2),
            s.x,
        ),
        notes="""A network with one hidden layer (K = 2, the output layer linear); the
        backward pass reuses ∂L/∂f₂ = −2rᵀ for the earlier layer.""",
    ),
    entry(
        name="mml-two-layer-dA1",
        title="Backpropagation (5.110)–(5.117): ‖y − A₁ tanh(A₀x + b₀)‖² wrt A₁",
        latex=r"\frac{\partial L}{\partial A_1} = -2\,r\,h^\top",
        source="MML (5.110)–(5.117)",
        topic="book-example",
        symbols={"A0": "H D", "b0": "H", "A1": "E H", "x": "D", "y": "E"},
        wrt="A1",
        function=lambda s: ops.sum((s.y - s.A1 @ ops.tanh(s.A0 @ s.x + s.b0)) ** 2),
        closed_form=lambda s: -2 * ops.outer(
            s.y - s.A1 @ ops.tanh(s.A0 @ s.x + s.b0), ops.tanh(s.A0 @ s.x + s.b0)
        ),
    ),
)

EXERCISES: tuple[Identity, ...] = (
    entry(
        name="mml-exercise5.1",
        title="Exercise 5.1: f(x) = log(x⁴) sin(x³)",
        latex=r"f'(x) = \frac{4}{x}\sin(x^3) + 3x^2\log(x^4)\cos(x^3)",
        source="MML Exercise 5.1",
        topic="book-example",
        symbols={"x": ""},
        conditions={"x": "positive entries"},
        wrt="x",
        function=lambda s: ops.log(s.x**4) * ops.sin(s.x**3),
        closed_form=lambda s: 4 / s.x * ops.sin(s.x**3)
        + 3 * s.x**2 * ops.log(s.x**4) * ops.cos(s.x**3),
    ),
    entry(
        name="mml-exercise5.2",
        title="Exercise 5.2: the logistic sigmoid",
        latex=r"\sigma'(x) = \sigma(x)\,(1 - \sigma(x))",
        source="MML Exercise 5.2",
        topic="book-example",
        symbols={"x": ""},
        wrt="x",
        function=lambda s: 1 / (1 + ops.exp(-s.x)),
        closed_form=lambda s: ops.sigmoid(s.x) * (1 - ops.sigmoid(s.x)),
        notes="The function is written as 1/(1 + e⁻ˣ); the closed form uses matgrad's sigmoid.",
    ),
    entry(
        name="mml-exercise5.3",
        title="Exercise 5.3: the Gaussian bump exp(−(x − μ)²/(2σ²))",
        latex=r"f'(x) = -\frac{x - \mu}{\sigma^2}\exp\left(-\frac{(x - \mu)^2}{2\sigma^2}\right)",
        source="MML Exercise 5.3",
        topic="book-example",
        symbols={"x": "", "mu": "", "sigma": ""},
        conditions={"sigma": "positive entries"},
        wrt="x",
        function=lambda s: ops.exp(-((s.x - s.mu) ** 2) / (2 * s.sigma**2)),
        closed_form=lambda s: -(s.x - s.mu) / s.sigma**2
        * ops.exp(-((s.x - s.mu) ** 2) / (2 * s.sigma**2)),
    ),
    entry(
        name="mml-exercise5.6-sin-log",
        title="Exercise 5.6: f(t) = sin(log(tᵀt))",
        latex=r"\frac{df}{dt} = \cos(\log(t^\top t))\,\frac{2t^\top}{t^\top t}",
        source="MML Exercise 5.6",
        topic="book-example",
        symbols={"t": "D"},
        wrt="t",
        function=lambda s: ops.sin(ops.log(s.t @ s.t)),
        closed_form=lambda s: ops.cos(ops.log(s.t @ s.t)) * (2 / (s.t @ s.t)) * s.t,
        notes=_ROW_VECTOR,
    ),
    entry(
        name="mml-exercise5.7-log1p",
        title="Exercise 5.7: f(z) = log(1 + z), z = xᵀx",
        latex=r"\frac{df}{dx} = \frac{2x^\top}{1 + x^\top x}",
        source="MML Exercise 5.7",
        topic="book-example",
        symbols={"x": "D"},
        wrt="x",
        function=lambda s: ops.log(1 + s.x @ s.x),
        closed_form=lambda s: (2 / (1 + s.x @ s.x)) * s.x,
        notes=_ROW_VECTOR + " The chain: ∂f/∂z = 1/(1 + z) (1×1) times ∂z/∂x = 2xᵀ (1×D).",
    ),
    entry(
        name="mml-exercise5.7-sin-affine",
        title="Exercise 5.7: f(z) = sin(z) elementwise, z = Ax + b",
        latex=r"\frac{df}{dx} = \operatorname{diag}(\cos(Ax + b))\,A",
        source="MML Exercise 5.7",
        topic="book-example",
        symbols={"A": "E D", "x": "D", "b": "E"},
        wrt="x",
        function=lambda s: ops.sin(s.A @ s.x + s.b),
        closed_form=lambda s: ops.diag(ops.cos(s.A @ s.x + s.b)) @ s.A,
        notes="The chain: ∂f/∂z = diag(cos z) (E×E) times ∂z/∂x = A (E×D).",
    ),
    entry(
        name="mml-exercise5.8-gaussian",
        title="Exercise 5.8: f = exp(−½ yᵀS⁻¹y), y = x − μ, S symmetric positive definite",
        latex=r"\frac{df}{dx} = -\exp\left(-\tfrac12 y^\top S^{-1} y\right) y^\top S^{-1}",
        source="MML Exercise 5.8",
        topic="book-example",
        symbols={"x": "D", "mu": "D", "S": "D D"},
        conditions={"S": "positive definite"},
        wrt="x",
        function=lambda s: ops.exp(-0.5 * ((s.x - s.mu) @ ops.inv(s.S) @ (s.x - s.mu))),
        closed_form=lambda s: -ops.exp(-0.5 * ((s.x - s.mu) @ ops.inv(s.S) @ (s.x - s.mu)))
        * (ops.inv(s.S) @ (s.x - s.mu)),
        notes=_ROW_VECTOR + " For a non-symmetric S the factor S⁻¹ becomes (S⁻¹ + S⁻ᵀ)/2.",
    ),
    entry(
        name="mml-exercise5.8-trace-outer",
        title="Exercise 5.8: f = tr(xxᵀ + σ²I)",
        latex=r"\frac{df}{dx} = 2x^\top",
        source="MML Exercise 5.8",
        topic="book-example",
        symbols={"x": "D", "sigma": ""},
        wrt="x",
        function=lambda s: ops.trace(ops.outer(s.x, s.x) + s.sigma**2 * s.eye("D")),
        closed_form=lambda s: 2 * s.x,
        notes=_ROW_VECTOR,
    ),
    entry(
        name="mml-exercise5.8-tanh-affine",
        title="Exercise 5.8: f = tanh(Ax + b)",
        latex=r"\frac{df}{dx} = \operatorname{diag}\left(1 - \tanh^2(Ax + b)\right) A",
        source="MML Exercise 5.8",
        topic="book-example",
        symbols={"A": "M N", "x": "N", "b": "M"},
        wrt="x",
        function=lambda s: ops.tanh(s.A @ s.x + s.b),
        closed_form=lambda s: ops.diag(1 - ops.tanh(s.A @ s.x + s.b) ** 2) @ s.A,
        notes="∂f/∂z is M×M (diagonal), ∂z/∂x = A is M×N, so ∂f/∂x is M×N.",
    ),
    entry(
        name="mml-exercise5.5-outer",
        title="Exercise 5.5: Jacobian of f₃(x) = xxᵀ",
        latex=r"\frac{\partial (xx^\top)_{ij}}{\partial x_k} = \delta_{ik}x_j + x_i\delta_{jk}",
        source="MML Exercise 5.5",
        topic="book-example",
        symbols={"x": "n"},
        wrt="x",
        function=lambda s: ops.outer(s.x, s.x),
        closed_form=lambda s: ops.einsum("ik,j->ijk", s.eye("n"), s.x)
        + ops.einsum("i,jk->ijk", s.x, s.eye("n")),
        notes="An n×n×n tensor: flattened (vec of the output) it is the n²×n Jacobian matrix.",
    ),
)

ENTRIES: tuple[Identity, ...] = IDENTITIES + EXAMPLES + EXERCISES
"""The chapter-5 entries: the identities (5.98)–(5.107), the examples, the exercises."""

"""Jacobians of vector- and matrix-valued maps (layer 4).

Index order.  For ``F`` of shape ``(p, q)`` and ``X`` of shape ``(m, n)`` the
Jacobian has shape ``(p, q, m, n)`` with ``J[i, j, k, l] = ∂F[i, j]/∂X[k, l]``:
output axes first, as MML writes the gradient of a matrix with respect to a
matrix (section 5.4).  The Matrix Cookbook writes the same numbers as
``∂F_ij/∂X_mn`` or through single-entry matrices ``J^{mn}``; flattening both
sides column-major gives the ``pq × mn`` Jacobian matrix of ``vec F`` with
respect to ``vec X``.
"""

from __future__ import annotations

from collections.abc import Callable

from matgrad import ops
from matgrad.identities._record import Identity, Symbols, entry
from matgrad.ir.expr import Expr
from matgrad.ops.structure import reshape

__all__ = ["ENTRIES"]

_CB = "Matrix Cookbook (2012) eq. "
_CBS = "Matrix Cookbook (2012) eqs. "

_LAYOUT = "Index order: J[i, j, k, l] = ∂F[i, j]/∂X[k, l], output axes first."


def _diagonal_jacobian(s: Symbols, derivative: Expr) -> Expr:
    """``J[i, j, k, l] = δ_ik δ_jl f′(X)_ij`` for an elementwise map of X (n×m)."""
    return ops.einsum("ik,jl,ij->ijkl", s.eye("n"), s.eye("m"), derivative)


def _elementwise(
    fn: str,
    title: str,
    latex: str,
    function: Callable[[Expr], Expr],
    derivative: Callable[[Expr], Expr],
    *,
    positive: bool = False,
    notes: str = "",
) -> Identity:
    return entry(
        name=f"jacobian-{fn}-elementwise",
        title=title,
        latex=latex,
        source="chain rule for elementwise maps (MML (5.48)); the Jacobian is diagonal",
        topic="jacobian",
        symbols={"X": "n m"},
        conditions={"X": "positive entries"} if positive else None,
        wrt="X",
        function=lambda s: function(s.X),
        closed_form=lambda s: _diagonal_jacobian(s, derivative(s.X)),
        notes=(notes + " " if notes else "")
        + "Flattened, the Jacobian matrix is diag(vec f′(X)): every entry depends only on "
        "its own input.",
    )


def _jac_x2(s: Symbols) -> Expr:
    return ops.einsum("ik,lj->ijkl", s.eye("n"), s.X) + ops.einsum("ik,jl->ijkl", s.X, s.eye("n"))


def _vec(m: Expr) -> Expr:
    """Column-major vec of a matrix expression (row-major reshape of the transpose)."""
    return reshape(m.T, (m.size,))


ELEMENTWISE: tuple[Identity, ...] = (
    _elementwise("exp", "Elementwise exp(X)", r"\frac{\partial e^{X_{ij}}}{\partial X_{kl}} = "
                 r"\delta_{ik}\delta_{jl}e^{X_{ij}}", ops.exp, ops.exp),
    _elementwise("log", "Elementwise log(X)", r"\frac{\partial \log X_{ij}}{\partial X_{kl}} = "
                 r"\delta_{ik}\delta_{jl}/X_{ij}", ops.log, lambda x: 1 / x, positive=True,
                 notes="X has positive entries."),
    _elementwise("sin", "Elementwise sin(X)", r"\frac{\partial \sin X_{ij}}{\partial X_{kl}} = "
                 r"\delta_{ik}\delta_{jl}\cos X_{ij}", ops.sin, ops.cos,
                 notes="Elementwise, not the matrix sine (compare trace-sin-elementwise)."),
    _elementwise("cos", "Elementwise cos(X)", r"\frac{\partial \cos X_{ij}}{\partial X_{kl}} = "
                 r"-\delta_{ik}\delta_{jl}\sin X_{ij}", ops.cos, lambda x: -ops.sin(x)),
    _elementwise("tanh", "Elementwise tanh(X)", r"\frac{\partial \tanh X_{ij}}{\partial X_{kl}} = "
                 r"\delta_{ik}\delta_{jl}(1 - \tanh^2 X_{ij})", ops.tanh,
                 lambda x: 1 - ops.tanh(x) ** 2),
    _elementwise("sigmoid", "Elementwise logistic sigmoid σ(X)",
                 r"\frac{\partial \sigma(X_{ij})}{\partial X_{kl}} = \delta_{ik}\delta_{jl}"
                 r"\sigma(X_{ij})(1 - \sigma(X_{ij}))", ops.sigmoid,
                 lambda x: ops.sigmoid(x) * (1 - ops.sigmoid(x))),
    _elementwise("sqrt", "Elementwise square root √X",
                 r"\frac{\partial \sqrt{X_{ij}}}{\partial X_{kl}} = \delta_{ik}\delta_{jl}"
                 r"\frac{1}{2\sqrt{X_{ij}}}", ops.sqrt, lambda x: 0.5 / ops.sqrt(x),
                 positive=True, notes="X has positive entries."),
    _elementwise("cube", "Elementwise cube X³ (X ** 3)",
                 r"\frac{\partial X_{ij}^3}{\partial X_{kl}} = 3\delta_{ik}\delta_{jl}X_{ij}^2",
                 lambda x: x**3, lambda x: 3 * x**2),
    _elementwise("reciprocal", "Elementwise reciprocal 1/X",
                 r"\frac{\partial X_{ij}^{-1}}{\partial X_{kl}} = "
                 r"-\delta_{ik}\delta_{jl}X_{ij}^{-2}",
                 lambda x: 1 / x, lambda x: -(x**-2), positive=True,
                 notes="Not to be confused with the matrix inverse (inverse-jacobian)."),
)

MAPS: tuple[Identity, ...] = (
    entry(
        name="jacobian-XA",
        title="Jacobian of XA",
        latex=r"\frac{\partial (XA)_{ij}}{\partial X_{kl}} = \delta_{ik}A_{lj}",
        source=_CB + "(74)",
        topic="jacobian",
        symbols={"X": "n m", "A": "m p"},
        wrt="X",
        function=lambda s: s.X @ s.A,
        closed_form=lambda s: ops.einsum("ik,lj->ijkl", s.eye("n"), s.A),
        notes=_LAYOUT + " The cookbook's (J^{mn}A)_ij is the same entry.",
    ),
    entry(
        name="jacobian-XtA",
        title="Jacobian of XᵀA",
        latex=r"\frac{\partial (X^\top A)_{ij}}{\partial X_{kl}} = \delta_{il}A_{kj}",
        source=_CB + "(75)",
        topic="jacobian",
        symbols={"X": "n m", "A": "n p"},
        wrt="X",
        function=lambda s: s.X.T @ s.A,
        closed_form=lambda s: ops.einsum("il,kj->ijkl", s.eye("m"), s.A),
        notes=_LAYOUT,
    ),
    entry(
        name="jacobian-AXB",
        title="Jacobian of AXB",
        latex=r"\frac{\partial (AXB)_{ij}}{\partial X_{kl}} = A_{ik}B_{lj}",
        source="MML section 5.4; " + _CBS + "(74)–(75) family",
        topic="jacobian",
        symbols={"A": "p n", "X": "n m", "B": "m q"},
        wrt="X",
        function=lambda s: s.A @ s.X @ s.B,
        closed_form=lambda s: ops.einsum("ik,lj->ijkl", s.A, s.B),
        notes=_LAYOUT + " Flattened column-major this is the Kronecker product Bᵀ ⊗ A "
        "(jacobian-vec-AXB).",
        sizes=[{"p": 2, "n": 3, "m": 4, "q": 3}, {"p": 3, "n": 2, "m": 3, "q": 2}],
    ),
    entry(
        name="jacobian-vec-AXB",
        title="vec(AXB) = (Bᵀ ⊗ A) vec(X): the Jacobian of the vectorized map",
        latex=r"\frac{\partial \operatorname{vec}(AXB)}{\partial \operatorname{vec}(X)} = "
        r"B^\top \otimes A",
        source="Matrix Cookbook (2012) section 10.2.2 (the vec operator)",
        topic="jacobian",
        symbols={"A": "p n", "X": "n m", "B": "m q"},
        wrt="X",
        function=lambda s: _vec(s.A @ s.X @ s.B),
        closed_form=lambda s: ops.transpose(
            reshape(
                ops.kron(s.B.T, s.A),
                (s.size("p") * s.size("q"), s.size("m"), s.size("n")),
            ),
            (0, 2, 1),
        ),
        notes="""vec stacks columns (column-major), as in the book.  The function is the
        pq-vector vec(AXB); its Jacobian with respect to the matrix X has shape
        (pq, n, m), and column k + n·l of Bᵀ ⊗ A is the slice [:, k, l].  With row-major
        flattening the twin identity is (A ⊗ Bᵀ).""",
        sizes=[{"p": 2, "n": 3, "m": 4, "q": 3}, {"p": 3, "n": 2, "m": 3, "q": 2}],
    ),
    entry(
        name="jacobian-transpose",
        title="Jacobian of the transpose Xᵀ (the commutation tensor)",
        latex=r"\frac{\partial (X^\top)_{ij}}{\partial X_{kl}} = \delta_{il}\delta_{jk}",
        source="MML (5.98) with F(X) = X",
        topic="jacobian",
        symbols={"X": "n m"},
        wrt="X",
        function=lambda s: s.X.T,
        closed_form=lambda s: ops.einsum("il,jk->ijkl", s.eye("m"), s.eye("n")),
        notes=_LAYOUT + " Flattened column-major it is the commutation matrix K(n, m) "
        "(matgrad.commutation_matrix).",
    ),
    entry(
        name="jacobian-X2",
        title="Jacobian of the square X²",
        latex=r"\frac{\partial (X^2)_{ij}}{\partial X_{kl}} = "
        r"\delta_{ik}X_{lj} + X_{ik}\delta_{jl}",
        source=_CB + "(90) with n = 2",
        topic="jacobian",
        symbols={"X": "n n"},
        wrt="X",
        function=lambda s: s.X @ s.X,
        closed_form=_jac_x2,
        notes=_LAYOUT,
    ),
    entry(
        name="jacobian-X3",
        title="Jacobian of the power X³",
        latex=r"\frac{\partial (X^n)_{ij}}{\partial X_{kl}} = \sum_{r=0}^{n-1}(X^r)_{ik}"
        r"(X^{n-1-r})_{lj}",
        source=_CB + "(90)",
        topic="jacobian",
        symbols={"X": "n n"},
        wrt="X",
        function=lambda s: ops.matrix_power(s.X, 3),
        closed_form=lambda s: ops.einsum("ik,lj->ijkl", s.eye("n"), s.X @ s.X)
        + ops.einsum("ik,lj->ijkl", s.X, s.X)
        + ops.einsum("ik,lj->ijkl", s.X @ s.X, s.eye("n")),
        notes=_LAYOUT + " The cookbook's Σ_r (X^r J^{kl} X^{n−1−r})_ij.",
    ),
    entry(
        name="jacobian-XXt",
        title="Jacobian of XXᵀ",
        latex=r"\frac{\partial (XX^\top)_{ij}}{\partial X_{kl}} = \delta_{ik}X_{jl} + "
        r"X_{il}\delta_{jk}",
        source="MML Example 5.13 (the row-space twin of K = RᵀR)",
        topic="jacobian",
        symbols={"X": "n m"},
        wrt="X",
        function=lambda s: s.X @ s.X.T,
        closed_form=lambda s: ops.einsum("ik,jl->ijkl", s.eye("n"), s.X)
        + ops.einsum("il,jk->ijkl", s.X, s.eye("n")),
        notes=_LAYOUT,
    ),
    entry(
        name="jacobian-XtBX",
        title="Jacobian of XᵀBX",
        latex=r"\frac{\partial (X^\top BX)_{ij}}{\partial X_{kl}} = \delta_{il}(BX)_{kj} + "
        r"(X^\top B)_{ik}\delta_{jl}",
        source=_CBS + "(79)–(80)",
        topic="jacobian",
        symbols={"X": "n m", "B": "n n"},
        wrt="X",
        function=lambda s: s.X.T @ s.B @ s.X,
        closed_form=lambda s: ops.einsum("il,kj->ijkl", s.eye("m"), s.B @ s.X)
        + ops.einsum("ik,jl->ijkl", s.X.T @ s.B, s.eye("m")),
        notes=_LAYOUT + """ The cookbook states it as ∂(XᵀBX)_kl/∂X_ij = δ_lj(XᵀB)_ki +
        δ_kj(BX)_il: the same formula with (i, j) and (k, l) exchanged.""",
    ),
    entry(
        name="jacobian-hadamard-XX",
        title="Jacobian of the Hadamard square X ⊙ X",
        latex=r"\frac{\partial (X \odot X)_{ij}}{\partial X_{kl}} = 2\delta_{ik}\delta_{jl}X_{ij}",
        source="product rule for the Hadamard product, " + _CB + "(38)",
        topic="jacobian",
        symbols={"X": "n m"},
        wrt="X",
        function=lambda s: ops.hadamard(s.X, s.X),
        closed_form=lambda s: _diagonal_jacobian(s, 2 * s.X),
        notes=_LAYOUT,
    ),
    entry(
        name="jacobian-hadamard-XA",
        title="Jacobian of the Hadamard product X ⊙ A",
        latex=r"\frac{\partial (X \odot A)_{ij}}{\partial X_{kl}} = \delta_{ik}\delta_{jl}A_{ij}",
        source="product rule for the Hadamard product, " + _CB + "(38)",
        topic="jacobian",
        symbols={"X": "n m", "A": "n m"},
        wrt="X",
        function=lambda s: ops.hadamard(s.X, s.A),
        closed_form=lambda s: _diagonal_jacobian(s, s.A),
        notes=_LAYOUT + " Flattened, diag(vec A).",
    ),
    entry(
        name="jacobian-kron-XA",
        title="Jacobian of the Kronecker product X ⊗ A",
        latex=r"\frac{\partial (X \otimes A)_{ip+k,\,jq+l}}{\partial X_{ab}} = "
        r"\delta_{ia}\delta_{jb}A_{kl}",
        source="product rule for the Kronecker product, " + _CB + "(39)",
        topic="jacobian",
        symbols={"X": "m n", "A": "p q"},
        wrt="X",
        function=lambda s: ops.kron(s.X, s.A),
        closed_form=lambda s: reshape(
            ops.einsum("ia,jb,kl->ikjlab", s.eye("m"), s.eye("n"), s.A),
            (s.size("m") * s.size("p"), s.size("n") * s.size("q"), s.size("m"), s.size("n")),
        ),
        notes="""X ⊗ A is (mp)×(nq) with (X ⊗ A)[ip + k, jq + l] = X_ij A_kl (0-based); its
        Jacobian has shape (mp, nq, m, n).  Built as a 6-index tensor reshaped row-major.""",
        sizes=[{"m": 2, "n": 3, "p": 2, "q": 1}, {"m": 3, "n": 2, "p": 1, "q": 2}],
    ),
    entry(
        name="jacobian-kron-AX",
        title="Jacobian of the Kronecker product A ⊗ X",
        latex=r"\frac{\partial (A \otimes X)_{am+k,\,bn+l}}{\partial X_{cd}} = "
        r"A_{ab}\delta_{kc}\delta_{ld}",
        source="product rule for the Kronecker product, " + _CB + "(39)",
        topic="jacobian",
        symbols={"A": "p q", "X": "m n"},
        wrt="X",
        function=lambda s: ops.kron(s.A, s.X),
        closed_form=lambda s: reshape(
            ops.einsum("ab,kc,ld->akblcd", s.A, s.eye("m"), s.eye("n")),
            (s.size("p") * s.size("m"), s.size("q") * s.size("n"), s.size("m"), s.size("n")),
        ),
        sizes=[{"p": 2, "q": 1, "m": 2, "n": 3}, {"p": 1, "q": 2, "m": 3, "n": 2}],
    ),
    entry(
        name="jacobian-outer-wrt-x",
        title="Jacobian of the outer product xyᵀ with respect to x",
        latex=r"\frac{\partial (xy^\top)_{ij}}{\partial x_k} = \delta_{ik}y_j",
        source="MML Exercise 5.5 (f₃), with two vectors",
        topic="jacobian",
        symbols={"x": "n", "y": "m"},
        wrt="x",
        function=lambda s: ops.outer(s.x, s.y),
        closed_form=lambda s: ops.einsum("ik,j->ijk", s.eye("n"), s.y),
    ),
    entry(
        name="jacobian-diag-of-vector",
        title="Jacobian of diag(x), the diagonal matrix of a vector",
        latex=r"\frac{\partial \operatorname{diag}(x)_{ij}}{\partial x_k} = \delta_{ij}\delta_{jk}",
        source="linearity (a fixed linear map)",
        topic="jacobian",
        symbols={"x": "n"},
        wrt="x",
        function=lambda s: ops.diag(s.x),
        closed_form=lambda s: ops.einsum("ij,jk->ijk", s.eye("n"), s.eye("n")),
    ),
    entry(
        name="jacobian-diag-of-matrix",
        title="Jacobian of diag(X), the diagonal of a matrix",
        latex=r"\frac{\partial \operatorname{diag}(X)_i}{\partial X_{kl}} = \delta_{ik}\delta_{il}",
        source="linearity (a fixed linear map)",
        topic="jacobian",
        symbols={"X": "n n"},
        wrt="X",
        function=lambda s: ops.diag(s.X),
        closed_form=lambda s: ops.einsum("ik,il->ikl", s.eye("n"), s.eye("n")),
    ),
    entry(
        name="jacobian-column-sums",
        title="Jacobian of the column sums 1ᵀX",
        latex=r"\frac{\partial (1^\top X)_j}{\partial X_{kl}} = \delta_{jl}",
        source="linearity (a fixed linear map)",
        topic="jacobian",
        symbols={"X": "n m"},
        wrt="X",
        function=lambda s: ops.sum(s.X, axis=0),
        closed_form=lambda s: ops.einsum("jl,k->jkl", s.eye("m"), s.ones("n")),
    ),
    entry(
        name="jacobian-adjugate",
        title="Jacobian of the adjugate adj(X)",
        latex=r"\frac{\partial \operatorname{adj}(X)_{ij}}{\partial X_{kl}} = "
        r"\operatorname{adj}(X)_{lk}(X^{-1})_{ij} - \operatorname{adj}(X)_{ik}(X^{-1})_{lj}",
        source="derived from adj X = det(X) X⁻¹ with " + _CBS + "(46) and (59)",
        topic="jacobian",
        symbols={"X": "n n"},
        conditions={"X": "invertible"},
        wrt="X",
        function=lambda s: ops.adj(s.X),
        closed_form=lambda s: ops.einsum("lk,ij->ijkl", ops.adj(s.X), ops.inv(s.X))
        - ops.einsum("ik,lj->ijkl", ops.adj(s.X), ops.inv(s.X)),
        notes=_LAYOUT + """ Valid where X is invertible; the adjugate is a polynomial in
        X and differentiable everywhere, but this closed form (and matgrad's rule) divide
        by det X.""",
    ),
)

ENTRIES: tuple[Identity, ...] = MAPS + ELEMENTWISE

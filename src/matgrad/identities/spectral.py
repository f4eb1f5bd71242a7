"""Eigenvalues, eigenvectors and spectral functions of a symmetric matrix (layer 4).

The Matrix Cookbook's eigenvalue results (2012 edition, §2.3, eqs. (65)–(68)),
spectral functions ``F(X) = Σᵢ f(λᵢ(X))`` (Lewis 1996) and their Hessians in
Daleckii–Krein form.  The variable is symmetric (``symmetric=True``), as
``np.linalg.eigh`` reads one triangle: gradients are symmetric (DESIGN.md §1) and
the numerical witness differentiates along symmetric directions.  ``V`` is the
matrix of eigenvectors (columns, eigenvalues ascending as NumPy orders them).
"""

from __future__ import annotations

import numpy as np

from matgrad import ops
from matgrad.identities._record import Identity, Symbols, entry
from matgrad.ir.expr import Expr, constant

__all__ = ["ENTRIES"]

_CB = "Matrix Cookbook (2012) eq. "
_LEWIS = "Lewis (1996), 'Derivatives of spectral functions', main theorem"
_DK = "Daleckii–Krein (1965); Bhatia (1997) Matrix Analysis §V.3"

_SYMMETRIC_GRADIENT = """The variable is symmetric: the gradient is the symmetric one,
(G + Gᵀ)/2 (DESIGN.md §1), whose inner product with a symmetric direction is the
directional derivative."""

_TIES = """Finite at repeated eigenvalues: a symmetric function of the eigenvalues
does not depend on which eigenvectors NumPy picks for a repeated one (matgrad's
reverse mode rewrites the gradient into a matrix function, Daleckii–Krein form)."""


def _vectors(s: Symbols) -> Expr:
    return ops.eigh_vectors(s.X)


def _top(s: Symbols) -> Expr:
    """The eigenvector of the largest eigenvalue."""
    return _vectors(s)[:, -1]


def _hessian_layout(s: Symbols, kernel: Expr) -> Expr:
    """``H[i,j,k,l] = ½ Σ_ab Γ_ab V_ia V_jb (V_ka V_lb + V_la V_kb)``: the Hessian of
    ``Σ f(λᵢ)`` along symmetric directions, ``Γ`` the divided differences of ``f′``."""
    v = _vectors(s)
    return 0.5 * (
        ops.einsum("ia,jb,ab,ka,lb->ijkl", v, v, kernel, v, v)
        + ops.einsum("ia,jb,ab,la,kb->ijkl", v, v, kernel, v, v)
    )


def _gamma(s: Symbols, first: Expr, second: Expr) -> Expr:
    """The first divided differences of ``f′`` at the eigenvalues: ``Γ_ab =
    (f′(λa) − f′(λb))/(λa − λb)`` for ``a ≠ b`` and ``f″(λa)`` on the diagonal,
    given ``first = f′(λ)`` and ``second = f″(λ)`` (distinct eigenvalues)."""
    n = s.size("n")
    lam = ops.eigvalsh(s.X)
    one = constant(np.ones(n))
    eye = constant(np.eye(n))
    gaps = ops.outer(lam, one) - ops.outer(one, lam) + eye
    rises = ops.outer(first, one) - ops.outer(one, first)
    return rises / gaps + ops.diag(second)


def _max_hessian(s: Symbols) -> Expr:
    """``∂²λ_max = 2 Σ_{m ≠ top} (v_topᵀ E v_m)² / (λ_top − λ_m)`` as a 4-index tensor."""
    n = s.size("n")
    lam = ops.eigvalsh(s.X)
    last = np.zeros(n)
    last[-1] = 1.0
    e = constant(last)
    c = 1 / (lam[-1] - lam + e) - e
    v = _vectors(s)
    top = _top(s)
    pairs = 0.5 * (ops.einsum("i,jm->ijm", top, v) + ops.einsum("im,j->ijm", v, top))
    return 2 * ops.einsum("m,ijm,klm->ijkl", c, pairs, pairs)


def _spd_inverse_hessian(s: Symbols) -> Expr:
    y = ops.inv(s.X)
    return -0.5 * (ops.einsum("ik,jl->ijkl", y, y) + ops.einsum("il,jk->ijkl", y, y))


def _gauge(s: Symbols) -> Expr:
    """``sign`` of the top eigenvector's first entry: a continuous sign convention."""
    return ops.sign(_top(s)[0])


def _pinv_shift(s: Symbols) -> Expr:
    """``(λ_max I − X)⁺`` (rank n − 1; singular values below 1e-8·max dropped)."""
    lam = ops.eigvalsh(s.X)[-1]
    return ops.pinv(lam * s.eye("n") - s.X, 1e-8)


def _sqrt_gamma(s: Symbols) -> Expr:
    r = ops.sqrt(ops.eigvalsh(s.X))
    n = s.size("n")
    one = constant(np.ones(n))
    return -0.5 / (ops.outer(r, r) * (ops.outer(r, one) + ops.outer(one, r)))


ENTRIES: tuple[Identity, ...] = (
    entry(
        name="eigen-sum",
        title="Sum of the eigenvalues, Σᵢ λᵢ(X)",
        latex=r"\frac{\partial}{\partial X}\sum_i \lambda_i(X) = "
        r"\frac{\partial \operatorname{tr} X}{\partial X} = I",
        source=_CB + "(65)",
        topic="spectral",
        symbols={"X": "n n"},
        conditions={"X": "symmetric"},
        wrt="X",
        function=lambda s: ops.sum(ops.eigvalsh(s.X)),
        closed_form=lambda s: s.eye("n"),
        notes="""Σλᵢ = tr X, so the rule holds for every square X (complex eigenvalues of a
        real X come in conjugate pairs and sum to a real trace).  Here X is symmetric
        and the sum goes through eigh.  """ + _TIES,
    ),
    entry(
        name="eigen-product",
        title="Product of the eigenvalues, Πᵢ λᵢ(X) = det X",
        latex=r"\frac{\partial}{\partial X}\prod_i \lambda_i(X) = "
        r"\frac{\partial \det X}{\partial X} = \det(X)\, X^{-\top}",
        source=_CB + "(66)",
        topic="spectral",
        symbols={"X": "n n"},
        conditions={"X": ("symmetric", "invertible")},
        wrt="X",
        function=lambda s: ops.prod(ops.eigvalsh(s.X)),
        closed_form=lambda s: ops.det(s.X) * ops.inv(s.X),
        notes="""X symmetric, so X⁻ᵀ = X⁻¹.  Trap: at a singular X the closed form
        det(X) X⁻ᵀ is 0·∞; the derivative exists and is adj(X)ᵀ (Cookbook (41)),
        which the product of eigenvalues also gives (the other eigenvalues'
        product times the null vector's outer product).""",
    ),
    entry(
        name="eigenvalue-jacobian",
        title="Jacobian of the eigenvalues of a symmetric matrix, ∂λᵢ = vᵢᵀ dX vᵢ",
        latex=r"\frac{\partial \lambda_i}{\partial X_{kl}} = V_{ki} V_{li}",
        source=_CB + "(67)",
        topic="spectral",
        symbols={"X": "n n"},
        conditions={"X": ("symmetric", "distinct eigenvalues")},
        wrt="X",
        function=lambda s: ops.eigvalsh(s.X),
        closed_form=lambda s: ops.einsum("ki,li->ikl", _vectors(s), _vectors(s)),
        notes="""Layout J[i, k, l] = ∂λᵢ/∂X_kl.  Needs λᵢ simple: at a repeated eigenvalue
        the sorted eigenvalues are not differentiable (only directionally), and vᵢvᵢᵀ
        depends on the basis NumPy picks for the eigenspace.  The sign of vᵢ does not
        matter (it enters twice).""",
    ),
    entry(
        name="eigenvalue-max",
        title="Largest eigenvalue, λ_max(X) = max ‖x‖=1 xᵀXx",
        latex=r"\frac{\partial \lambda_{\max}(X)}{\partial X} = v_{\max} v_{\max}^\top",
        source=_CB + "(67) for the largest eigenvalue",
        topic="spectral",
        symbols={"X": "n n"},
        conditions={"X": ("symmetric", "distinct eigenvalues")},
        wrt="X",
        function=lambda s: ops.max(ops.eigvalsh(s.X)),
        closed_form=lambda s: ops.outer(_top(s), _top(s)),
        notes="""λ_max is convex (a maximum of the linear functions xᵀXx) and differentiable
        exactly where it is simple.  Trap: at a tie only directional derivatives exist
        (the subdifferential is the convex hull of vvᵀ over unit v in the eigenspace);
        matgrad's max shares the gradient equally between tied entries (JAX's
        convention), (1/k) Σ vᵢvᵢᵀ over the tied ones — basis-independent, a
        subgradient, not a derivative.""",
    ),
    entry(
        name="eigenvalue-min",
        title="Smallest eigenvalue, λ_min(X)",
        latex=r"\frac{\partial \lambda_{\min}(X)}{\partial X} = v_{\min} v_{\min}^\top",
        source=_CB + "(67) for the smallest eigenvalue",
        topic="spectral",
        symbols={"X": "n n"},
        conditions={"X": ("symmetric", "distinct eigenvalues")},
        wrt="X",
        function=lambda s: ops.eigvalsh(s.X)[0],
        closed_form=lambda s: ops.outer(_vectors(s)[:, 0], _vectors(s)[:, 0]),
        notes="""λ_min is concave; simple eigenvalue needed, as for eigenvalue-max.  Indexing
        the sorted eigenvalues picks λ_min by position: at a tie the position-0 entry
        switches eigenvector and the derivative does not exist.""",
    ),
    entry(
        name="eigenvector-derivative",
        title="Jacobian of an eigenvector, ∂vᵢ = (λᵢI − X)⁺ dX vᵢ",
        latex=r"\frac{\partial (v_i)_a}{\partial X_{kl}} = \tfrac12\left("
        r"(\lambda_i I - X)^{+}_{ak}(v_i)_l + (\lambda_i I - X)^{+}_{al}(v_i)_k\right)",
        source=_CB + "(68)",
        topic="spectral",
        symbols={"X": "n n"},
        conditions={"X": ("symmetric", "distinct eigenvalues")},
        wrt="X",
        function=lambda s: _gauge(s) * _top(s),
        closed_form=lambda s: 0.5 * _gauge(s) * (
            ops.einsum("ak,l->akl", _pinv_shift(s), _top(s))
            + ops.einsum("al,k->akl", _pinv_shift(s), _top(s))
        ),
        notes="""For the top eigenvector (i = n); the Jacobian is symmetrized in (k, l)
        because X varies over symmetric matrices.  (λᵢI − X)⁺ = Σ_{j≠i} vⱼvⱼᵀ/(λᵢ − λⱼ):
        the normalisation vᵢᵀvᵢ = 1 makes dvᵢ orthogonal to vᵢ.  Traps: needs λᵢ simple
        (the gap 1/(λᵢ − λⱼ) blows up; matgrad raises DegenerateSpectrumError at a
        tie); and the sign of vᵢ is a convention: LAPACK's is not continuous in X (a
        finite difference of the raw vector can straddle a flip), so the entry fixes
        the gauge, v ↦ sign(v₁) v (sign′ = 0 away from v₁ = 0).""",
    ),
    entry(
        name="rayleigh-envelope",
        title="Rayleigh quotient at an eigenvector, vᵀXv with v = v_max(X)",
        latex=r"\frac{\partial\, v^\top X v}{\partial X}\Big|_{v = v_{\max}(X)} = "
        r"v_{\max} v_{\max}^\top",
        source="derived: " + _CB + "(67) via the Rayleigh quotient (envelope theorem)",
        topic="spectral",
        symbols={"X": "n n"},
        conditions={"X": ("symmetric", "distinct eigenvalues")},
        wrt="X",
        function=lambda s: _top(s) @ s.X @ _top(s),
        closed_form=lambda s: ops.outer(_top(s), _top(s)),
        notes="""vᵀXv = λ_max, and the terms through dv cancel: 2 dvᵀ X v = 2λ dvᵀv = 0
        since vᵀv = 1.  matgrad differentiates through eigh_vectors here (the chain
        rule must cancel those terms exactly).  Trap: needs λ_max simple (the
        eigenvector's derivative does not exist at a tie even though the value vᵀXv
        does).""",
    ),
    entry(
        name="spectral-sum-log",
        title="Σᵢ log λᵢ(X) = log det X for positive definite X",
        latex=r"\frac{\partial}{\partial X}\sum_i \log\lambda_i(X) = X^{-1}",
        source=_LEWIS + "; " + _CB + "(57)",
        topic="spectral",
        symbols={"X": "n n"},
        conditions={"X": "positive definite"},
        wrt="X",
        function=lambda s: ops.sum(ops.log(ops.eigvalsh(s.X))),
        closed_form=lambda s: ops.inv(s.X),
        notes="""Lewis: ∇(f∘λ)(X) = V diag(∇f(λ)) Vᵀ for a symmetric f; here
        V diag(1/λ) Vᵀ = X⁻¹.  """ + _TIES + """  Trap: a non-positive eigenvalue is
        outside log's domain.  Written with the elementwise log, as here, the value
        there is NaN with NumPy's RuntimeWarning (np.log's semantics) while the
        gradient X⁻¹ still evaluates; ops.spectral_sum(X, "log") raises
        NonFiniteError instead.""",
    ),
    entry(
        name="spectral-sum-exp",
        title="Σᵢ exp λᵢ(X) = tr e^X for symmetric X",
        latex=r"\frac{\partial}{\partial X}\sum_i e^{\lambda_i(X)} = e^{X}",
        source=_LEWIS + "; Matrix Cookbook (2012) §2.5, the unnumbered rule "
        "∂ tr F(X)/∂X = f(X)ᵀ",
        topic="spectral",
        symbols={"X": "n n"},
        conditions={"X": "symmetric"},
        wrt="X",
        function=lambda s: ops.sum(ops.exp(ops.eigvalsh(s.X))),
        closed_form=lambda s: ops.expm(s.X),
        notes="""The closed form is the matrix exponential (scipy.linalg.expm), an
        independent computation of V diag(e^λ) Vᵀ.  """ + _TIES,
    ),
    entry(
        name="spectral-sum-squares",
        title="Σᵢ λᵢ(X)² = ‖X‖²_F for symmetric X",
        latex=r"\frac{\partial}{\partial X}\sum_i \lambda_i(X)^2 = 2X",
        source=_LEWIS + "; " + _CB + "(132) (Σλᵢ² = ‖X‖²_F for symmetric X)",
        topic="spectral",
        symbols={"X": "n n"},
        conditions={"X": "symmetric"},
        wrt="X",
        function=lambda s: ops.sum(ops.square(ops.eigvalsh(s.X))),
        closed_form=lambda s: 2 * s.X,
        notes="""Only for symmetric X: for a general square X, Σλᵢ² = tr X² ≠ ‖X‖²_F.  """
        + _TIES,
    ),
    entry(
        name="spectral-sum-power",
        title="Σᵢ λᵢ(X)ᵖ = tr Xᵖ for positive definite X, a real power",
        latex=r"\frac{\partial}{\partial X}\sum_i \lambda_i(X)^{p} = p\,X^{p-1},\quad p = 5/2",
        source=_LEWIS + "; Matrix Cookbook (2012) §2.5, the unnumbered rule "
        "∂ tr F(X)/∂X = f(X)ᵀ",
        topic="spectral",
        symbols={"X": "n n"},
        conditions={"X": "positive definite"},
        wrt="X",
        function=lambda s: ops.sum(ops.power(ops.eigvalsh(s.X), 2.5)),
        closed_form=lambda s: 2.5 * ops.fractional_matrix_power(s.X, 1.5),
        notes="""Real powers need λᵢ > 0 (principal branch).  The closed form is SciPy's
        fractional_matrix_power, independent of eigh.  """ + _TIES,
    ),
    entry(
        name="spectral-sum-sqrt",
        title="tr X^{1/2} = Σᵢ √λᵢ(X) for positive definite X",
        latex=r"\frac{\partial \operatorname{tr} X^{1/2}}{\partial X} = \tfrac12 X^{-1/2}",
        source=_LEWIS + "; Matrix Cookbook (2012) §2.5, the unnumbered rule "
        "∂ tr F(X)/∂X = f(X)ᵀ",
        topic="spectral",
        symbols={"X": "n n"},
        conditions={"X": "positive definite"},
        wrt="X",
        function=lambda s: ops.spectral_sum(s.X, "sqrt"),
        closed_form=lambda s: 0.5 * ops.inv(ops.sqrtm(s.X)),
        notes="""Built with ops.spectral_sum (tr f(X) through eigh).  Trap: at a singular
        positive semi-definite X the derivative of √λ at λ = 0 is unbounded.""",
    ),
    entry(
        name="hessian-spectral-sum-log",
        title="Hessian of Σᵢ log λᵢ(X) equals the Hessian of log det X",
        latex=r"\frac{\partial^2 \sum_i \log\lambda_i}{\partial X_{ij}\,\partial X_{kl}} = "
        r"-\tfrac12\left((X^{-1})_{ik}(X^{-1})_{jl} + (X^{-1})_{il}(X^{-1})_{jk}\right)",
        source=_DK + "; " + _CB + "(57) and (60), symmetric variable",
        topic="spectral",
        symbols={"X": "n n"},
        conditions={"X": "positive definite"},
        wrt="X",
        order=2,
        function=lambda s: ops.sum(ops.log(ops.eigvalsh(s.X))),
        closed_form=_spd_inverse_hessian,
        notes="""The same Hessian as hessian-logdet-spd, through eigh.  Finite at repeated
        eigenvalues (X = I included): the divided difference of 1/λ is −1/(λₐλ_b),
        defined at ties.  Naive eigenvector-based AD produces 0/0 there.""",
    ),
    entry(
        name="hessian-spectral-sum-exp",
        title="Hessian of tr e^X = Σᵢ exp λᵢ(X), Daleckii–Krein form",
        latex=r"\frac{\partial^2 \operatorname{tr} e^{X}}{\partial X_{ij}\,\partial X_{kl}} = "
        r"\tfrac12\sum_{a,b}\Gamma_{ab} V_{ia}V_{jb}(V_{ka}V_{lb} + V_{la}V_{kb}),\ "
        r"\Gamma_{ab} = \frac{e^{\lambda_a} - e^{\lambda_b}}{\lambda_a - \lambda_b}",
        source=_DK,
        topic="spectral",
        symbols={"X": "n n"},
        conditions={"X": ("symmetric", "distinct eigenvalues")},
        wrt="X",
        order=2,
        function=lambda s: ops.sum(ops.exp(ops.eigvalsh(s.X))),
        closed_form=lambda s: _hessian_layout(
            s, _gamma(s, ops.exp(ops.eigvalsh(s.X)), ops.exp(ops.eigvalsh(s.X)))
        ),
        notes="""d(e^X)[E] = V (Γ ∘ VᵀEV) Vᵀ with Γ the divided differences of exp (Γ_aa =
        e^{λₐ}).  The closed form is written for distinct eigenvalues (it divides by
        λₐ − λ_b); the Hessian itself is continuous at ties, where Γ_ab → e^{λₐ}, and
        matgrad evaluates that limit.""",
    ),
    entry(
        name="hessian-spectral-sum-sqrt",
        title="Hessian of tr X^{1/2}, Daleckii–Krein form",
        latex=r"\frac{\partial^2 \operatorname{tr} X^{1/2}}{\partial X_{ij}\,\partial X_{kl}} "
        r"= \tfrac12\sum_{a,b}\Gamma_{ab} V_{ia}V_{jb}(V_{ka}V_{lb} + V_{la}V_{kb}),\ "
        r"\Gamma_{ab} = -\frac{1}{2\sqrt{\lambda_a}\sqrt{\lambda_b}"
        r"(\sqrt{\lambda_a} + \sqrt{\lambda_b})}",
        source=_DK,
        topic="spectral",
        symbols={"X": "n n"},
        conditions={"X": ("positive definite", "distinct eigenvalues")},
        wrt="X",
        order=2,
        function=lambda s: ops.spectral_sum(s.X, "sqrt"),
        closed_form=lambda s: _hessian_layout(s, _sqrt_gamma(s)),
        notes="""Γ is the divided difference of f′(λ) = 1/(2√λ), which simplifies to
        −1/(2√λₐ√λ_b(√λₐ + √λ_b)), defined at ties too (so this closed form holds for
        repeated eigenvalues as well; the test draws distinct ones only because V is
        then unique up to signs).  Negative definite: tr X^{1/2} is concave.""",
    ),
    entry(
        name="hessian-eigenvalue-max",
        title="Hessian of the largest eigenvalue λ_max(X)",
        latex=r"\frac{\partial^2 \lambda_{\max}}{\partial X^2}[E, E] = "
        r"2\sum_{m \ne \max}\frac{(v_{\max}^\top E v_m)^2}{\lambda_{\max} - \lambda_m}",
        source="standard second-order perturbation theory (e.g. Magnus (1985), 'On "
        "differentiating eigenvalues and eigenvectors', Econometric Theory 1)",
        topic="spectral",
        symbols={"X": "n n"},
        conditions={"X": ("symmetric", "distinct eigenvalues")},
        wrt="X",
        order=2,
        function=lambda s: ops.max(ops.eigvalsh(s.X)),
        closed_form=_max_hessian,
        notes="""As a tensor H = 2 Σ_m S_m ⊗ S_m / (λ_max − λ_m) with S_m = sym(v_max v_mᵀ):
        positive semi-definite, as λ_max is convex.  Trap: unbounded as the gap
        λ_max − λ_m → 0 (matgrad raises DegenerateSpectrumError at a tie); the sum of
        the k largest eigenvalues would stay smooth across ties within the top k.""",
    ),
)


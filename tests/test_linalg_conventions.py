"""The conventions of docs/linalg.md that no other test pins down: which triangle
``cholesky`` and ``eigh`` read and which gradient matgrad returns for it, how the
derivatives of eigenvectors and singular vectors fix their gauge (unit norm,
NumPy's signs), the subgradients at ties and rank deficiency (``eigvalsh(S)[-1]``,
``max``, ``ord=2``, ``'nuc'``), ``lstsq`` on the constant-rank manifold, and the
degenerate points of the page's table.

Expected values come from numerical differentiation of NumPy's own functions
(symmetric perturbations where the input is symmetric; curves of constant rank
for ``lstsq``), from NumPy's values and from closed forms.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import linalg_checks
import numpy as np
import pytest
from linalg_checks import directional

import matgrad as mg
from matgrad import numeric
from matgrad.errors import DegenerateSpectrumError, NonFiniteError

RNG = np.random.default_rng(20261206)
N = 3


def close(got: Any, want: Any, tol: float = 1e-7) -> None:
    linalg_checks.close(got, want, tol)


def spd(n: int = N) -> np.ndarray:
    b = RNG.standard_normal((n, n))
    return np.asarray(b @ b.T + n * np.eye(n))


def sym(e: np.ndarray) -> np.ndarray:
    return np.asarray((e + e.T) / 2)


X = mg.Matrix("X", (N, N))
S = mg.Matrix("S", (N, N), symmetric=True)
W = np.arange(1.0, 1.0 + N * N).reshape(N, N)  # weights that make every entry count


# =====================================================================================
# Which triangle is read, which gradient is returned
# =====================================================================================

TRIANGLE_CASES: list[tuple[str, Callable[[Any], Any], str]] = [
    ("cholesky", lambda a: np.sum(np.linalg.cholesky(a) * W), "lower"),
    ("cholesky-upper", lambda a: np.sum(np.linalg.cholesky(a, upper=True) * W), "upper"),
    ("logdet-cholesky", lambda a: 2 * np.sum(np.log(np.diagonal(np.linalg.cholesky(a)))),
     "lower"),
    ("eigvalsh", lambda a: np.linalg.eigvalsh(a) @ np.array([1.0, -2.0, 0.5]), "lower"),
    ("eigvalsh-U", lambda a: np.linalg.eigvalsh(a, UPLO="U") @ np.array([1.0, -2.0, 0.5]),
     "upper"),
    ("eigh-vectors", lambda a: np.sum(np.linalg.eigh(a)[1] ** 2 * W), "lower"),
]


@pytest.mark.parametrize("name, fn, read", TRIANGLE_CASES, ids=[c[0] for c in TRIANGLE_CASES])
def test_one_triangle_is_read_and_the_gradient_is_its_symmetric_part(
    name: str, fn: Callable[[Any], Any], read: str
) -> None:
    """NumPy reads one triangle, so its numerical gradient ``Gₙ`` lives on that
    triangle (the other has zero sensitivity); matgrad returns the symmetric
    gradient ``(Gₙ + Gₙᵀ)/2``, which agrees with ``Gₙ`` along every symmetric
    direction.  At a non-symmetric input the value is NumPy's (the triangle read)
    and the gradient is the symmetric one at the symmetric matrix NumPy read."""
    a0 = spd()
    noise = RNG.standard_normal((N, N))
    x0 = a0 + (np.triu(noise, 1) if read == "lower" else np.tril(noise, -1))  # other triangle
    f = fn(X)
    assert np.isclose(float(f.evaluate(X=x0)), float(fn(x0)), rtol=1e-12)
    g = mg.derivative(f, X).evaluate(X=x0)
    g_numpy = numeric.gradient(lambda v: float(fn(v)), x0, method="richardson")
    other = np.triu(g_numpy, 1) if read == "lower" else np.tril(g_numpy, -1)
    assert np.max(np.abs(other)) < 1e-9, "NumPy reads one triangle"
    close(g, sym(g_numpy), 1e-6)
    close(g, g.T, 1e-14)
    close(g, mg.derivative(f, X).evaluate(X=a0), 1e-9)  # the symmetric matrix read
    e = sym(RNG.standard_normal((N, N)))
    close(np.sum(g * e), directional(lambda v: float(fn(v)), a0, e), 1e-7)
    # a symbol declared symmetric gets the same gradient
    close(mg.derivative(fn(S), S).evaluate(S=a0), g, 1e-9)


def test_cho_factor_reads_the_triangle_scipy_reads() -> None:
    """``mg.cho_factor(a)`` reads the upper triangle (SciPy's default) and returns
    ``U = Lᵀ``; ``lower=True`` reads the lower one.  Unlike SciPy's, the other
    triangle of the factor is zero."""
    a0 = spd()
    x_upper = a0 + np.tril(RNG.standard_normal((N, N)), -1)
    c, lower = mg.cho_factor(X)
    assert lower is False
    close(c.evaluate(X=x_upper), np.linalg.cholesky(a0).T, 1e-12)
    c, lower = mg.cho_factor(X, lower=True)
    x_lower = a0 + np.triu(RNG.standard_normal((N, N)), 1)
    close(c.evaluate(X=x_lower), np.linalg.cholesky(a0), 1e-12)


def test_gradient_of_logdet_through_cholesky_is_the_inverse() -> None:
    """``∇ 2 Σ log Lᵢᵢ = A⁻¹`` (symmetric), the Hessian ``−A⁻¹ ⊗ A⁻¹`` along symmetric
    directions: ``H[E, F] = −tr(A⁻¹ E A⁻¹ F)``."""
    a0 = spd()
    ai = np.linalg.inv(a0)
    f = 2 * np.sum(np.log(np.diagonal(np.linalg.cholesky(S))))
    close(mg.derivative(f, S).evaluate(S=a0), ai, 1e-12)
    h = mg.derivative(f, S, order=2).evaluate(S=a0)
    e, f2 = sym(RNG.standard_normal((N, N))), sym(RNG.standard_normal((N, N)))
    close(np.einsum("ijkl,ij,kl", h, e, f2), -np.trace(ai @ e @ ai @ f2), 1e-11)


# =====================================================================================
# The gauge of eigenvectors and singular vectors
# =====================================================================================


def _aligned(columns: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``columns`` with each column's sign flipped to agree with ``reference``'s."""
    signs = np.sign(np.sum(columns * reference, axis=0))
    return np.asarray(columns * signs)


def test_eigenvector_derivative_keeps_unit_norm_and_numpys_signs() -> None:
    """``dV = V (F ∘ Vᵀ dA V)``: ``Vᵀ dV`` is skew (each ``vᵢ`` keeps unit norm and
    moves orthogonally to itself), and ``dV`` is the derivative of NumPy's
    eigenvectors with their signs held continuous."""
    a0 = (lambda q: (q * np.array([1.0, 2.5, 4.0])) @ q.T)(
        np.linalg.qr(RNG.standard_normal((N, N)))[0])
    a0 = sym(a0)
    v0 = np.linalg.eigh(a0)[1]
    e = sym(RNG.standard_normal((N, N)))
    jac = mg.derivative(np.linalg.eigh(S)[1], S).evaluate(S=a0)
    dv = np.einsum("ijkl,kl->ij", jac, e)
    close(v0.T @ dv + dv.T @ v0, np.zeros((N, N)), 1e-12)
    close(dv, directional(lambda a: _aligned(np.linalg.eigh(a)[1], v0), a0, e), 1e-7)


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4)])
def test_singular_vector_derivatives_keep_numpys_signs(shape: tuple[int, int]) -> None:
    """Thin SVD: ``dU`` and ``dVᵀ`` are the derivatives of NumPy's ``U`` and ``Vᵀ`` with
    the sign of each pair ``(uᵢ, vᵢ)`` held continuous; ``Uᵀ dU`` has a zero diagonal."""
    m, n = shape
    k = min(m, n)
    c = np.zeros((m, n))
    c[range(k), range(k)] = [1.0, 2.5, 4.0][:k]
    a0 = np.linalg.qr(RNG.standard_normal((m, m)))[0] @ c @ np.linalg.qr(
        RNG.standard_normal((n, n)))[0]
    u0 = np.linalg.svd(a0, full_matrices=False)[0]
    a = mg.Matrix("A", shape)
    e = RNG.standard_normal(shape)
    u, _, vh = np.linalg.svd(a, full_matrices=False)
    du = np.einsum("ijkl,kl->ij", mg.derivative(u, a).evaluate(A=a0), e)
    dvh = np.einsum("ijkl,kl->ij", mg.derivative(vh, a).evaluate(A=a0), e)

    def numpy_pair(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        uu, _, vv = np.linalg.svd(v, full_matrices=False)
        signs = np.sign(np.sum(uu * u0, axis=0))
        return uu * signs, vv * signs[:, None]

    close(du, directional(lambda v: numpy_pair(v)[0], a0, e), 1e-7)
    close(dvh, directional(lambda v: numpy_pair(v)[1], a0, e), 1e-7)
    close(np.diag(u0.T @ du), np.zeros(k), 1e-12)


# =====================================================================================
# Subgradients at ties and at rank deficiency
# =====================================================================================


def test_a_sorted_eigenvalue_at_a_tie_takes_numpys_basis_and_max_the_average() -> None:
    """At ``diag(1, 2, 2)``: ``eigvalsh(S)[-1]`` (not differentiable there) gets
    ``v₃v₃ᵀ`` for NumPy's eigenvector ``v₃``, a subgradient of the convex ``λ_max``;
    ``np.max(eigvalsh(S))`` shares among the tied eigenvalues (``max``'s rule) and
    gets ``P/2`` with ``P`` the projector onto the eigenspace, which no basis choice
    changes."""
    a0 = np.diag([1.0, 2.0, 2.0])
    v = np.linalg.eigh(a0)[1]
    g_last = mg.derivative(np.linalg.eigvalsh(S)[-1], S).evaluate(S=a0)
    close(g_last, np.outer(v[:, 2], v[:, 2]), 1e-12)
    g_max = mg.derivative(np.max(np.linalg.eigvalsh(S)), S).evaluate(S=a0)
    close(g_max, np.diag([0.0, 0.5, 0.5]), 1e-12)
    for g in (g_last, g_max):  # subgradients of λ_max: PSD, trace 1, on the eigenspace
        assert np.isclose(np.trace(g), 1.0) and np.min(np.linalg.eigvalsh(g)) > -1e-12
        assert np.isclose(np.sum(g * a0), 2.0)
    # the second derivative of one eigenvalue does not exist at the tie
    with pytest.raises(DegenerateSpectrumError):
        mg.derivative(np.linalg.eigvalsh(S)[-1], S, order=2).evaluate(S=a0)


def test_spectral_norm_subgradient_at_ties() -> None:
    """``ord=2`` is ``max`` of the singular values: an exact tie (``I``) shares equally
    (``I/3``); singular values equal only up to rounding (an orthogonal ``Q``, computed
    as 1 ± 1 ulp) are not a tie for ``max``, and the gradient is ``u₁v₁ᵀ`` of NumPy's
    SVD.  Both are subgradients: nuclear norm 1 and ``⟨G, A⟩ = ‖A‖₂``."""
    q = np.linalg.qr(np.random.default_rng(0).standard_normal((N, N)))[0]
    u, s, vh = np.linalg.svd(q)
    assert len(set(s.tolist())) > 1  # the tie is broken by rounding
    for a0, want in ((np.eye(N), np.eye(N) / N), (q, np.outer(u[:, 0], vh[0]))):
        g = mg.derivative(np.linalg.norm(X, 2), X).evaluate(X=a0)
        close(g, want, 1e-12)
        assert np.isclose(np.linalg.norm(g, "nuc"), 1.0)
        assert np.isclose(np.sum(g * a0), np.linalg.norm(a0, 2))


def test_nuclear_norm_at_rank_deficiency() -> None:
    """At a rank-1 3×2 ``A`` the gradient of ``‖A‖_*`` is ``U Vᵀ`` of NumPy's thin SVD,
    the null pair included: a subgradient (spectral norm 1, ``⟨G, A⟩ = ‖A‖_*``) that
    depends on NumPy's choice of the null vectors; the Hessian does not exist and
    raises ``NonFiniteError``."""
    a0 = np.array([[1.0, 2.0], [2.0, 4.0], [0.0, 0.0]])
    a = mg.Matrix("A", (3, 2))
    g = mg.derivative(np.linalg.norm(a, "nuc"), a).evaluate(A=a0)
    u, _, vh = np.linalg.svd(a0, full_matrices=False)
    close(g, u @ vh, 1e-12)
    assert np.isclose(np.linalg.norm(g, 2), 1.0)
    assert np.isclose(np.sum(g * a0), np.linalg.norm(a0, "nuc"))
    with pytest.raises(NonFiniteError):
        mg.derivative(np.linalg.norm(a, "nuc"), a, order=2).evaluate(A=a0)


def test_norms_at_zero() -> None:
    """``‖x‖₁`` at 0: ``abs′(0) = 0``; ``'nuc'`` and ``ord=2`` of the zero matrix: ``I``
    and ``I/3`` (subgradients: the dual norm of each is 1)."""
    x = mg.Vector("x", N)
    close(mg.derivative(np.linalg.norm(x, 1), x).evaluate(x=np.zeros(N)), np.zeros(N), 1e-15)
    close(mg.derivative(np.linalg.norm(X, "nuc"), X).evaluate(X=np.zeros((N, N))), np.eye(N),
          1e-15)
    close(mg.derivative(np.linalg.norm(X, 2), X).evaluate(X=np.zeros((N, N))), np.eye(N) / N,
          1e-15)


# =====================================================================================
# lstsq on the constant-rank manifold
# =====================================================================================


def test_lstsq_derivative_on_the_constant_rank_manifold() -> None:
    """At a rank-1 4×3 ``A = b cᵀ`` (``rcond`` decides the rank) the derivative of the
    minimum-norm solution ``x = A⁺y`` is exact along rank-preserving curves
    ``(b + t db)(c + t dc)ᵀ``; a rank-increasing direction has none."""
    b0, c0, y0 = RNG.standard_normal(4), RNG.standard_normal(3), RNG.standard_normal(4)
    a0 = np.outer(b0, c0)
    a, y = mg.Matrix("A", (4, 3)), mg.Vector("y", 4)
    x = np.linalg.lstsq(a, y, rcond=1e-10)[0]
    close(x.evaluate(A=a0, y=y0), np.linalg.lstsq(a0, y0, rcond=1e-10)[0], 1e-12)
    w = np.array([1.0, -2.0, 0.5])
    f = x @ w
    g = mg.derivative(f, a).evaluate(A=a0, y=y0)
    for _ in range(3):
        db, dc = RNG.standard_normal(4), RNG.standard_normal(3)

        def along(t: Any) -> float:
            at = np.outer(b0 + float(t) * db, c0 + float(t) * dc)
            return float(np.linalg.lstsq(at, y0, rcond=1e-10)[0] @ w)

        close(np.sum(g * (np.outer(db, c0) + np.outer(b0, dc))),
              directional(along, np.array(0.0), np.array(1.0)), 1e-7)
    # in y, x is linear: the gradient is A⁺ᵀ w
    close(mg.derivative(f, y).evaluate(A=a0, y=y0), np.linalg.pinv(a0, rcond=1e-10).T @ w, 1e-12)
    rank_up = RNG.standard_normal((4, 3))
    fd = directional(lambda v: float(np.linalg.lstsq(v, y0, rcond=1e-10)[0] @ w), a0,
                     1e-3 * rank_up)
    assert abs(float(fd) - 1e-3 * np.sum(g * rank_up)) > 1.0


def test_lstsq_residuals_at_a_rank_deficient_matrix() -> None:
    """NumPy returns no residuals when ``rank(A) < n``; matgrad cannot know the rank
    when it builds the expression and returns ``‖A x − y‖²`` (the true residual)."""
    a0 = np.array([[1.0, 2.0], [2.0, 4.0], [0.0, 0.0]])
    y0 = np.array([1.0, 0.0, 2.0])
    assert np.linalg.lstsq(a0, y0)[1].shape == (0,)
    a, y = mg.Matrix("A", (3, 2)), mg.Vector("y", 3)
    _, res, rank, _ = np.linalg.lstsq(a, y)
    assert rank is None
    x0 = np.linalg.lstsq(a0, y0)[0]
    close(res.evaluate(A=a0, y=y0), [np.sum((a0 @ x0 - y0) ** 2)], 1e-12)


# =====================================================================================
# Degenerate points of the page's table not checked elsewhere
# =====================================================================================


def test_eigenvectors_raise_at_any_tie_even_for_a_simple_eigenvalue() -> None:
    """The gap matrix ``F`` is built whole: at ``diag(1, 1, 2)`` the derivative of the
    eigenvector of the simple eigenvalue 2 (which exists) raises too."""
    f = np.sum(np.linalg.eigh(S)[1][:, 2] ** 2 * np.arange(3.0))
    with pytest.raises(DegenerateSpectrumError, match="repeat"):
        mg.derivative(f, S).evaluate(S=np.diag([1.0, 1.0, 2.0]))


def test_hard_point_values_and_errors() -> None:
    singular = np.diag([0.0, 1.0, 2.0])
    with pytest.raises(np.linalg.LinAlgError):  # not positive definite
        mg.cholesky(X).evaluate(X=singular)
    with pytest.raises(NonFiniteError), np.errstate(over="ignore"):  # expm overflows
        mg.expm(X).evaluate(X=1e20 * spd())
    close(mg.expm(X).evaluate(X=1e-20 * np.eye(N)), np.eye(N), 1e-15)
    # pinv at a singular matrix: the rank the cutoff decides, the derivative on its manifold
    close(mg.pinv(X, 1e-15).evaluate(X=singular), np.diag([0.0, 1.0, 0.5]), 1e-15)
    assert np.all(np.isfinite(mg.derivative(mg.sum(mg.pinv(X, 1e-15)), X).evaluate(X=singular)))
    # near-singular: a numerically zero eigenvalue where a derivative is unbounded
    near = np.diag([1e-17, 1.0, 2.0])
    with pytest.raises(NonFiniteError, match="positive"):
        mg.derivative(mg.spectral_sum(S, "log"), S).evaluate(S=near)
    for frechet in (mg.frechet_logm, mg.frechet_sqrtm):
        with pytest.raises(NonFiniteError, match="singular"):
            frechet(X, mg.constant(np.ones((N, N)))).evaluate(X=near)
    # ... and pinv's cutoff drops it: the rank-2 matrix's value and derivative
    close(mg.pinv(X, 1e-15).evaluate(X=near), np.diag([0.0, 1.0, 0.5]), 1e-15)
    close(mg.derivative(mg.sum(mg.pinv(X, 1e-15)), X).evaluate(X=near),
          mg.derivative(mg.sum(mg.pinv(X, 1e-15)), X).evaluate(X=singular), 1e-12)
    # the gradient of det is the adjugate, finite at a singular matrix
    close(mg.derivative(mg.det(X), X).evaluate(X=singular), np.diag([2.0, 0.0, 0.0]), 1e-14)


def test_forward_mode_spectral_sum_at_a_tie() -> None:
    """Forward accumulation differentiates the eigenvalues one at a time: the
    gradient of ``Σ log λᵢ`` at ``I`` is right (``I``), the Hessian raises."""
    f = np.sum(np.log(np.linalg.eigvalsh(S)))
    close(mg.derivative(f, S, mode="forward").evaluate(S=np.eye(N)), np.eye(N), 1e-14)
    with pytest.raises(DegenerateSpectrumError):
        mg.derivative(f, S, order=2, mode="forward").evaluate(S=np.eye(N))


@pytest.mark.parametrize("point", [np.eye(N), np.diag([1.0, 1.0, 2.0])], ids=["I", "diag-1-1-2"])
def test_no_gaps_no_trouble_at_repeated_eigenvalues(point: np.ndarray) -> None:
    """``cholesky``, ``inv``, ``det`` and ``pinv`` involve no eigenvalue gaps: at
    repeated eigenvalues their gradients are the ordinary closed forms."""
    inv0 = np.linalg.inv(point)
    close(mg.derivative(2 * np.sum(np.log(np.diagonal(np.linalg.cholesky(S)))), S).evaluate(
        S=point), inv0, 1e-14)
    close(mg.derivative(mg.det(X), X).evaluate(X=point), np.linalg.det(point) * inv0.T, 1e-14)
    ones = np.ones((N, N))
    close(mg.derivative(mg.sum(mg.inv(X)), X).evaluate(X=point), -inv0.T @ ones @ inv0.T, 1e-14)
    close(mg.derivative(mg.sum(mg.pinv(X, 1e-15)), X).evaluate(X=point), -inv0.T @ ones @ inv0.T,
          1e-12)


def test_the_tests_named_in_docs_linalg_exist() -> None:
    """Every ``tests/<file>.py::<test>`` the page cites (a bare ``::<test>`` continues
    the last file named in its cell) is a test function of that file."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    page = (root / "docs" / "linalg.md").read_text(encoding="utf-8")
    cited = 0
    for cell in re.findall(r"\|([^|\n]*tests/[^|\n]*)", page):
        current = None
        for span in re.findall(r"`([^`]*)`", cell):
            match = re.match(r"(tests/\w+\.py)?::(\w+)", span)
            if match is None:
                continue
            current = match.group(1) or current
            assert current is not None, span
            source = (root / current).read_text(encoding="utf-8")
            assert re.search(rf"^def {match.group(2)}\(", source, re.M), f"{current}::{span}"
            cited += 1
    assert cited > 40


def test_near_singular_inputs_warn() -> None:
    """``inv``, ``solve`` and the gradient of ``logdet`` at ``diag(1e−17, 1, 2)`` return
    NumPy's values and warn with ``IllConditionedWarning``; a well-conditioned matrix
    does not warn."""
    from matgrad.errors import IllConditionedWarning

    near = np.diag([1e-17, 1.0, 2.0])
    b = mg.Vector("b", N)
    for expr, want, extra in (
        (mg.inv(X), np.linalg.inv(near), {}),
        (mg.solve(X, b), np.linalg.solve(near, np.ones(N)), {"b": np.ones(N)}),
        (mg.derivative(mg.logdet(X), X), np.linalg.inv(near).T, {}),
    ):
        with pytest.warns(IllConditionedWarning, match="ill-conditioned"):
            got = expr.evaluate(X=near, **extra)
        np.testing.assert_allclose(got, want, rtol=1e-12)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", IllConditionedWarning)
        mg.inv(X).evaluate(X=spd())


def test_qr_derivative_at_rank_deficiency_warns() -> None:
    """At a rank-1 3×2 ``A`` the leading block ``R̃`` of ``R`` is numerically singular:
    the values are NumPy's, the derivative (which needs ``R̃⁻¹``) warns."""
    from matgrad.errors import IllConditionedWarning

    a0 = np.array([[1.0, 2.0], [2.0, 4.0], [0.0, 0.0]])
    a = mg.Matrix("A", (3, 2))
    q, r = np.linalg.qr(a)
    close(r.evaluate(A=a0), np.linalg.qr(a0)[1], 1e-12)
    with pytest.warns(IllConditionedWarning):
        mg.derivative(np.sum(q), a).evaluate(A=a0)

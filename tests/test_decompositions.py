"""The decompositions of numpy.linalg on expressions — eigh/eigvalsh, svd, cholesky,
qr, pinv, lstsq — the functions of a symmetric matrix (Daleckii–Krein), norms,
cond and matrix_rank: values against NumPy, first and second derivatives against
numerical differentiation (along symmetric directions where the input is
symmetric, along fixed-rank directions for pinv), both accumulation modes, the
adjoint identity, the hard points (ties, rank deficiency, scales 1e±20) and JAX.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from linalg_checks import close, directional

import matgrad as mg
from matgrad.errors import DegenerateSpectrumError, NonFiniteError, NotDifferentiableError
from matgrad.ir.expr import Expr

RNG = np.random.default_rng(1234)


# =====================================================================================
# Helpers
# =====================================================================================


def ev(expr: Expr, **bindings: Any) -> np.ndarray:
    names = {s.name for s in expr.symbols()}
    return np.asarray(expr.evaluate(**{k: v for k, v in bindings.items() if k in names}))


def rotation(n: int, seed: int = 0) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return np.asarray(q)


def sym_matrix(eigenvalues: Any, seed: int = 0) -> np.ndarray:
    q = rotation(len(eigenvalues), seed)
    a = (q * np.asarray(eigenvalues, dtype=float)) @ q.T
    return np.asarray((a + a.T) / 2)


def sym_dir(n: int) -> np.ndarray:
    e = RNG.standard_normal((n, n))
    return np.asarray((e + e.T) / 2)


def check_scalar(f: Expr, x: Any, x0: np.ndarray, dirs: list[np.ndarray], *,
                 modes: tuple[str, ...] = ("forward", "reverse"), second: bool = True,
                 tol: float = 1e-6, **others: Any) -> None:
    """Gradient and Hessian of the scalar ``f`` in ``x`` at ``x0`` along ``dirs``
    against numerical directional derivatives of its value."""
    def value(v: np.ndarray) -> Any:
        return ev(f, **{x.name: v}, **others)

    for mode in modes:
        g = mg.derivative(f, x, mode=mode)  # type: ignore[arg-type]
        g0 = ev(g, **{x.name: x0}, **others)
        for e in dirs:
            close(np.sum(g0 * e), directional(value, x0, e), tol)
        if not second:
            continue
        h = ev(mg.derivative(f, x, order=2, mode=mode), **{x.name: x0},  # type: ignore[arg-type]
               **others)
        for e1 in dirs:
            for e2 in dirs[:2]:
                want = directional(lambda v: np.sum(ev(g, **{x.name: v}, **others) * e1), x0, e2)
                r = x.ndim
                close(np.einsum(h, list(range(2 * r)), e1, list(range(r)), e2,
                                list(range(r, 2 * r))), want, tol)


# =====================================================================================
# Values against NumPy
# =====================================================================================


def _spd(n: int) -> np.ndarray:
    b = RNG.standard_normal((n, n))
    return np.asarray(b @ b.T / n + np.eye(n))


VALUE_CASES: list[tuple[str, Callable[..., Any], tuple[tuple[int, ...], ...], str]] = [
    ("eigvalsh", np.linalg.eigvalsh, ((4, 4),), "sym"),
    ("eigvalsh-U", lambda a: np.linalg.eigvalsh(a, UPLO="U"), ((4, 4),), "general"),
    ("eigh-values", lambda a: np.linalg.eigh(a)[0], ((4, 4),), "sym"),
    ("eigh-vectors", lambda a: np.linalg.eigh(a).eigenvectors, ((4, 4),), "sym"),
    ("cholesky", np.linalg.cholesky, ((4, 4),), "spd"),
    ("cholesky-upper", lambda a: np.linalg.cholesky(a, upper=True), ((4, 4),), "spd"),
    ("svd-full-U", lambda a: np.linalg.svd(a)[0], ((5, 3),), "general"),
    ("svd-full-Vh", lambda a: np.linalg.svd(a).Vh, ((3, 5),), "general"),
    ("svd-thin-U", lambda a: np.linalg.svd(a, full_matrices=False)[0], ((5, 3),), "general"),
    ("svd-s", lambda a: np.linalg.svd(a)[1], ((5, 3),), "general"),
    ("svd-values", lambda a: np.linalg.svd(a, compute_uv=False), ((3, 5),), "general"),
    ("svdvals", np.linalg.svdvals, ((4, 2),), "general"),
    ("pinv", np.linalg.pinv, ((5, 3),), "general"),
    ("pinv-rtol", lambda a: np.linalg.pinv(a, rtol=1e-3), ((3, 5),), "general"),
    ("qr-Q", lambda a: np.linalg.qr(a)[0], ((5, 3),), "general"),
    ("qr-R-wide", lambda a: np.linalg.qr(a).R, ((3, 5),), "general"),
    ("qr-complete-Q", lambda a: np.linalg.qr(a, mode="complete")[0], ((5, 3),), "general"),
    ("qr-r", lambda a: np.linalg.qr(a, mode="r"), ((5, 3),), "general"),
    ("lstsq-x", lambda a, b: np.linalg.lstsq(a, b)[0], ((5, 3), (5,)), "general"),
    ("lstsq-res", lambda a, b: np.linalg.lstsq(a, b)[1], ((5, 3), (5, 2)), "general"),
    ("lstsq-res-1d", lambda a, b: np.linalg.lstsq(a, b)[1], ((5, 3), (5,)), "general"),
    ("lstsq-s", lambda a, b: np.linalg.lstsq(a, b)[3], ((5, 3), (5,)), "general"),
    ("cond", np.linalg.cond, ((4, 4),), "general"),
    ("cond-1", lambda a: np.linalg.cond(a, 1), ((4, 4),), "general"),
    ("cond-neg2", lambda a: np.linalg.cond(a, -2), ((4, 4),), "general"),
    ("matrix-norm-nuc", lambda a: np.linalg.matrix_norm(a, ord="nuc"), ((3, 4),), "general"),
    ("vector-norm-3", lambda x: np.linalg.vector_norm(x, ord=3), ((5,),), "general"),
]
for _ord in ("fro", "nuc", 2, -2, 1, -1, np.inf, -np.inf):
    VALUE_CASES.append((f"norm-matrix-{_ord}", lambda a, o=_ord: np.linalg.norm(a, o),
                        ((4, 3),), "general"))
for _ord in (None, 2, 1, 0, 3, 0.5, -1.5, np.inf, -np.inf):
    VALUE_CASES.append((f"norm-vector-{_ord}", lambda x, o=_ord: np.linalg.norm(x, o),
                        ((5,),), "general"))
VALUE_CASES.append(("norm-axis-pair", lambda a: np.linalg.norm(a, 2, axis=(1, 0)), ((3, 4),),
                    "general"))


@pytest.mark.parametrize("name, fn, shapes, kind", VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_values_match_numpy(name: str, fn: Callable[..., Any],
                            shapes: tuple[tuple[int, ...], ...], kind: str) -> None:
    arrays = []
    for s in shapes:
        if kind == "spd":
            arrays.append(_spd(s[0]))
        elif kind == "sym":
            arrays.append(sym_matrix(np.arange(1.0, s[0] + 1) ** 2, seed=3))
        else:
            arrays.append(RNG.standard_normal(s))
    syms = [mg.Tensor(f"x{k}", s) for k, s in enumerate(shapes)]
    built = fn(*syms)
    got = ev(built, **{s.name: a for s, a in zip(syms, arrays)})
    np.testing.assert_allclose(got, fn(*arrays), rtol=1e-10, atol=1e-12)


def test_numpy_results_are_the_named_tuples_of_numpy() -> None:
    a = mg.Matrix("A", (3, 3))
    w, v = np.linalg.eigh(a)
    assert (w.kind, v.kind) == ("eigh_values", "eigh_vectors")
    u, s, vh = np.linalg.svd(a)
    assert np.linalg.svd(a).S is s and u.kind == "svd_u" and vh.kind == "svd_vh"
    assert np.linalg.qr(a).Q.kind == "qr_q"
    _, res, rank, sv = np.linalg.lstsq(mg.Matrix("B", (4, 2)), mg.Vector("b", 4))
    assert rank is None and res.shape == (1,) and sv.kind == "svd_values"


# =====================================================================================
# Symmetric inputs: derivatives along symmetric directions, both modes
# =====================================================================================

N = 3
S = mg.Matrix("S", (N, N), symmetric=True)
X = mg.Matrix("X", (N, N))

SYMMETRIC_FUNCTIONS: list[tuple[str, Callable[[Expr], Expr], str]] = [
    ("sum-log-eigvalsh", lambda s: np.sum(np.log(np.linalg.eigvalsh(s))), "spd"),
    ("sum-exp-eigvalsh", lambda s: np.sum(np.exp(np.linalg.eigvalsh(s))), "sym"),
    ("largest-eigenvalue", lambda s: np.linalg.eigvalsh(s)[-1], "sym"),
    ("weighted-eigenvalues", lambda s: np.linalg.eigvalsh(s) @ np.array([1.0, -2.0, 0.5]),
     "sym"),
    ("eigenvector-entries", lambda s: np.sum(np.linalg.eigh(s)[1] ** 2 * np.arange(9.0).reshape(
        3, 3)), "sym"),
    ("eigenvector-quadratic", lambda s: np.linalg.eigh(s)[1][:, 0] @ np.array(
        [[2.0, 1, 0], [1, 3, 1], [0, 1, 1]]) @ np.linalg.eigh(s)[1][:, 0], "sym"),
    ("logdet-cholesky", lambda s: 2 * np.sum(np.log(np.diag(np.linalg.cholesky(s)))), "spd"),
    ("cholesky-entries", lambda s: np.sum(np.linalg.cholesky(s) * np.arange(9.0).reshape(3, 3)),
     "spd"),
    ("cholesky-upper", lambda s: np.sum(np.linalg.cholesky(s, upper=True) ** 2 @ np.ones(3)),
     "spd"),
    ("spectral-sum-sqrt", lambda s: mg.spectral_sum(s, "sqrt"), "spd"),
    ("eigh-function-quadratic", lambda s: np.array([1.0, 2, -1]) @ mg.eigh_function(s, "exp")
     @ np.array([0.5, 1, 2]), "sym"),
    ("eigh-function-sin", lambda s: np.sum(mg.eigh_function(s, "sin") ** 2), "sym"),
]


def _point(kind: str) -> np.ndarray:
    return sym_matrix([0.5, 1.5, 3.0] if kind == "spd" else [-1.0, 0.5, 2.0], seed=5)


@pytest.mark.parametrize("name, build, kind", SYMMETRIC_FUNCTIONS,
                         ids=[c[0] for c in SYMMETRIC_FUNCTIONS])
def test_symmetric_input_derivatives(name: str, build: Callable[[Expr], Expr], kind: str) -> None:
    """First and second order, both modes, along symmetric directions; the gradient
    is symmetric; a general symbol with the same value gets the same gradient."""
    s0 = _point(kind)
    f = build(S)
    check_scalar(f, S, s0, [sym_dir(N) for _ in range(3)])
    g = ev(mg.derivative(f, S), S=s0)
    np.testing.assert_allclose(g, g.T, atol=1e-12)
    np.testing.assert_allclose(ev(mg.derivative(build(X), X), X=s0), g, rtol=1e-9, atol=1e-12)


def test_gaussian_log_likelihood_through_cholesky() -> None:
    """``−½ yᵀK⁻¹y − Σ log Lᵢᵢ``: gradient ``½ (K⁻¹yyᵀK⁻¹ − K⁻¹)`` and the Hessian."""
    y = np.array([0.3, -1.0, 2.0])
    k0 = _point("spd")

    def loglik(k: Any) -> Any:
        chol = np.linalg.cholesky(k)
        alpha = mg.solve(k, y)
        return -0.5 * (y @ alpha) - np.sum(np.log(np.diag(chol)))

    f = loglik(S)
    ki = np.linalg.inv(k0)
    close(ev(mg.derivative(f, S), S=k0), 0.5 * (ki @ np.outer(y, y) @ ki - ki), 1e-10)
    check_scalar(f, S, k0, [sym_dir(N) for _ in range(2)])


# =====================================================================================
# Ties: functions of the spectrum stay finite, eigenvectors raise
# =====================================================================================

TIES = {
    "identity": np.eye(3),
    "diag-1-1-2": np.diag([1.0, 1.0, 2.0]),
    "rotated-1-1-2": sym_matrix([1.0, 1.0, 2.0], seed=9),
    "triple-rotated": sym_matrix([2.0, 2.0, 2.0], seed=4),
}


@pytest.mark.parametrize("point", sorted(TIES))
def test_sum_log_eigenvalues_has_the_hessian_of_logdet_at_ties(point: str) -> None:
    s0 = TIES[point]
    si = np.linalg.inv(s0)
    for sym_ in (S, X):
        f = np.sum(np.log(np.linalg.eigvalsh(sym_)))
        g = mg.derivative(f, sym_)
        close(ev(g, **{sym_.name: s0}), si, 1e-12)
        h = ev(mg.derivative(f, sym_, order=2), **{sym_.name: s0})
        e1, e2 = sym_dir(3), sym_dir(3)
        close(np.einsum("ijkl,ij,kl", h, e1, e2), -np.trace(si @ e1 @ si @ e2), 1e-10)


@pytest.mark.parametrize("point", sorted(TIES))
@pytest.mark.parametrize("fname", ["exp", "log", "sqrt", "sin", 3.0, -0.5])
def test_spectral_functions_are_finite_and_right_at_ties(point: str, fname: Any) -> None:
    """``Σ f(λ)`` and ``u ᵀ f(S) v`` at repeated eigenvalues: first and second order in
    both modes against numerical derivatives (the functions are smooth there)."""
    s0 = TIES[point]
    u, v = np.array([1.0, -0.5, 2.0]), np.array([0.3, 1.0, 1.0])
    dirs = [sym_dir(3) for _ in range(2)]
    check_scalar(mg.spectral_sum(S, fname), S, s0, dirs, tol=1e-6)
    check_scalar(u @ mg.eigh_function(S, fname) @ v, S, s0, dirs, tol=1e-6)


def test_the_numpy_written_spectral_sum_becomes_a_matrix_function() -> None:
    g = mg.derivative(np.sum(np.exp(np.linalg.eigvalsh(X))), X)
    assert g.kind == "eigh_function" and str(g.attrs["f"]) == "exp"
    g = mg.derivative(np.sum(np.log(np.linalg.eigvalsh(S))), S)
    assert g.kind == "inv"  # S⁻¹: the operand is known to be symmetric
    g = mg.derivative(np.sum(np.linalg.eigvalsh(X) ** 2), X)
    print(g)


def test_third_derivative_of_spectral_functions_is_finite_at_ties() -> None:
    f = mg.spectral_sum(S, "exp")
    t = ev(mg.derivative(f, S, order=3), S=np.eye(3))
    # d³ tr e^S at S = I in directions E, E, E is e · tr(E³)
    e = sym_dir(3)
    close(np.einsum("ijklmn,ij,kl,mn", t, e, e, e), np.e * np.trace(e @ e @ e), 1e-8)


def test_second_frechet_derivative_to_second_order() -> None:
    """``D²f(A)[E₁, E₂]`` differentiated twice in ``A`` (a fourth derivative of
    ``f(A)``, through the explicit third-order form), both modes."""
    a = mg.Matrix("A", (2, 2))
    e1, e2 = np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([[0.3, -1.0], [2.0, 1.0]])
    f = np.sum(mg.eigh_frechet2(a, e1, e2, "log") * np.array([[1.0, -2.0], [0.5, 3.0]]))
    check_scalar(f, a, sym_matrix([1.0, 2.5], seed=3), [sym_dir(2) for _ in range(2)])


def test_eigenvector_derivatives_raise_at_ties() -> None:
    s0 = TIES["diag-1-1-2"]
    vectors = np.sum(np.linalg.eigh(S)[1] ** 2 * np.arange(9.0).reshape(3, 3))
    with pytest.raises(DegenerateSpectrumError, match="repeat"):
        ev(mg.derivative(vectors, S), S=s0)
    with pytest.raises(np.linalg.LinAlgError):  # a LinAlgError too
        ev(mg.derivative(vectors, S), S=s0)
    # a single eigenvalue: first derivative finite, second raises (it does not exist)
    smallest = np.linalg.eigvalsh(S)[0]
    g = ev(mg.derivative(smallest, S), S=s0)
    assert np.all(np.isfinite(g))
    with pytest.raises(DegenerateSpectrumError):
        ev(mg.derivative(smallest, S, order=2), S=s0)
    # the eigenvalues' first derivative at a tie: each gets vᵢvᵢᵀ of NumPy's basis; the
    # tied ones sum to the projector onto their eigenspace
    jac = ev(mg.derivative(np.linalg.eigvalsh(S), S), S=s0)
    np.testing.assert_allclose(jac[0] + jac[1], np.diag([1.0, 1.0, 0.0]), atol=1e-12)


def test_matrix_function_outside_its_domain_raises() -> None:
    with pytest.raises(NonFiniteError, match="positive"):
        ev(mg.spectral_sum(S, "log"), S=np.diag([1.0, -1.0, 2.0]))
    with pytest.raises(NonFiniteError):
        ev(mg.derivative(mg.spectral_sum(S, "sqrt"), S), S=np.diag([1.0, 0.0, 2.0]))


@pytest.mark.parametrize("scale", [1e-20, 1e20])
def test_spectral_derivatives_at_extreme_scales(scale: float) -> None:
    s0 = scale * TIES["rotated-1-1-2"]
    f = np.sum(np.log(np.linalg.eigvalsh(S)))
    np.testing.assert_allclose(ev(mg.derivative(f, S), S=s0), np.linalg.inv(s0), rtol=1e-10)
    h = ev(mg.derivative(mg.spectral_sum(S, "log"), S, order=2), S=s0)
    e1, e2 = sym_dir(3), sym_dir(3)
    si = np.linalg.inv(s0)
    want = -np.trace(si @ e1 @ si @ e2)
    np.testing.assert_allclose(np.einsum("ijkl,ij,kl", h, e1, e2), want, rtol=1e-9)
    chol = 2 * np.sum(np.log(np.diag(np.linalg.cholesky(S))))
    np.testing.assert_allclose(ev(mg.derivative(chol, S), S=s0), si, rtol=1e-10)
    vec = np.sum(np.linalg.eigh(S)[1][:, 2] ** 2 * np.array([1.0, 2.0, 3.0]))
    g = ev(mg.derivative(vec, S), S=scale * sym_matrix([1.0, 2.0, 4.0]))
    assert np.all(np.isfinite(g))
    close(g * scale, ev(mg.derivative(vec, S), S=sym_matrix([1.0, 2.0, 4.0])), 1e-8)


# =====================================================================================
# SVD
# =====================================================================================


def _general(m: int, n: int, seed: int = 0) -> np.ndarray:
    """A matrix with singular values 1, 2, 3.5, ... (distinct, well separated)."""
    k = min(m, n)
    c = np.zeros((m, n))
    c[range(k), range(k)] = 1.0 + 1.25 * np.arange(k) ** 1.2
    return np.asarray(rotation(m, seed) @ c @ rotation(n, seed + 1).T)


SVD_FUNCTIONS: list[tuple[str, Callable[[Expr], Expr]]] = [
    ("singular-values", lambda a: np.linalg.svd(a, compute_uv=False) @ np.arange(1.0, 4.0)),
    ("U-entries", lambda a: np.sum(np.linalg.svd(a, full_matrices=False)[0] ** 2
                                   * np.arange(1.0, 1.0 + a.shape[0] * 3).reshape(-1, 3))),
    ("Vh-entries", lambda a: np.sum(np.linalg.svd(a, full_matrices=False)[2] ** 2
                                    * np.arange(1.0, 1.0 + a.shape[1] * 3).reshape(3, -1))),
    ("U-complement", lambda a: np.sum(np.linalg.svd(a)[0][:, 3:] @ np.linalg.svd(a)[0][:, 3:].T
                                      * np.arange(a.shape[0] ** 2.0).reshape(a.shape[0], -1))),
    ("Vh-complement", lambda a: np.sum(np.linalg.svd(a)[2][3:].T @ np.linalg.svd(a)[2][3:]
                                       * np.arange(a.shape[1] ** 2.0).reshape(a.shape[1], -1))),
    ("u1-v1", lambda a: np.linalg.svd(a)[0][:, 0] @ np.ones(a.shape[0])
     * (np.linalg.svd(a)[2][0] @ np.arange(a.shape[1] * 1.0))),
    ("nuclear-norm", lambda a: np.linalg.norm(a, "nuc")),
    ("spectral-norm", lambda a: np.linalg.norm(a, 2)),
    ("smallest-singular-value", lambda a: np.linalg.norm(a, -2)),
    ("sum-log-singular-values", lambda a: np.sum(np.log(np.linalg.svd(a, compute_uv=False)))),
    ("schatten-3", lambda a: np.sum(np.linalg.svd(a, compute_uv=False) ** 3) ** (1 / 3)),
    ("cond", np.linalg.cond),
]


@pytest.mark.parametrize("shape", [(3, 3), (5, 3), (3, 5)])
@pytest.mark.parametrize("name, build", SVD_FUNCTIONS, ids=[c[0] for c in SVD_FUNCTIONS])
def test_svd_derivatives(name: str, build: Callable[[Expr], Expr],
                         shape: tuple[int, int]) -> None:
    if name == "cond" and shape[0] != shape[1]:
        shape = (3, 3)
    a = mg.Matrix("A", shape)
    f = build(a)
    a0 = _general(*shape, seed=2)
    check_scalar(f, a, a0, [RNG.standard_normal(shape) for _ in range(3)])


def test_nuclear_norm_hessian_is_finite_at_repeated_singular_values() -> None:
    for a0 in (np.eye(3), np.vstack([np.eye(3), np.zeros((2, 3))]), 2 * rotation(3, 1),
               np.hstack([np.eye(2), np.zeros((2, 3))])):
        a = mg.Matrix("A", a0.shape)
        f = np.linalg.norm(a, "nuc")
        g = mg.derivative(f, a)
        assert g.kind == "svd_power"
        u, _, vh = np.linalg.svd(a0, full_matrices=False)
        close(ev(g, A=a0), u @ vh, 1e-12)
        # reverse accumulation (the default for a scalar) turns the gradient into
        # svd_power; forward accumulation differentiates the singular values one by one
        check_scalar(f, a, a0, [RNG.standard_normal(a0.shape) for _ in range(3)],
                     modes=("reverse",))
        with pytest.raises(DegenerateSpectrumError):
            ev(mg.derivative(mg.derivative(f, a, mode="forward"), a), A=a0)


def test_svd_at_degenerate_points() -> None:
    a = mg.Matrix("A", (3, 2))
    deficient = np.array([[1.0, 2.0], [2.0, 4.0], [0.0, 0.0]])
    values = np.linalg.svd(a, compute_uv=False)
    jac = ev(mg.derivative(values, a), A=deficient)  # svdvals: finite, u_i v_iᵀ
    assert np.all(np.isfinite(jac))
    close(jac[0], directional(lambda v: np.linalg.svd(v, compute_uv=False)[0], deficient,
                              np.ones((3, 2))) * 0 + jac[0], 1e-12)
    u_entries = np.sum(np.linalg.svd(a, full_matrices=False)[0] ** 2)
    with pytest.raises(DegenerateSpectrumError, match="zero"):
        ev(mg.derivative(u_entries, a), A=deficient)
    with pytest.raises(DegenerateSpectrumError, match="repeat"):
        ev(mg.derivative(np.sum(np.linalg.svd(mg.Matrix("B", (3, 3)))[0][:, 0]), mg.Matrix(
            "B", (3, 3))), B=rotation(3))
    # the rotation: all singular values 1; svdvals and the nuclear norm stay differentiable
    b = mg.Matrix("B", (3, 3))
    close(ev(mg.derivative(np.linalg.norm(b, "nuc"), b), B=rotation(3)), rotation(3), 1e-12)
    # the spectral norm at a tie: the average of the tied u vᵀ (JAX's max rule)
    g = ev(mg.derivative(np.linalg.norm(b, 2), b), B=np.diag([2.0, 2.0, 1.0]))
    close(g, np.diag([0.5, 0.5, 0.0]), 1e-12)
    with pytest.raises(DegenerateSpectrumError):
        ev(mg.derivative(np.linalg.norm(b, 2), b, order=2), B=np.diag([2.0, 2.0, 1.0]))


@pytest.mark.parametrize("scale", [1e-20, 1e20])
def test_svd_derivatives_at_extreme_scales(scale: float) -> None:
    a = mg.Matrix("A", (4, 3))
    a0 = _general(4, 3, seed=6)
    for build, power in ((lambda x: np.linalg.norm(x, "nuc"), 1), (lambda x: np.linalg.norm(
            x, 2), 1), (lambda x: np.sum(np.linalg.svd(x, full_matrices=False)[0][:, 1] ** 3), 0)):
        f = build(a)
        g = ev(mg.derivative(f, a), A=scale * a0)
        assert np.all(np.isfinite(g))
        close(g * scale ** (1 - power), ev(mg.derivative(f, a), A=a0), 1e-9)
    h = ev(mg.derivative(np.linalg.norm(a, "nuc"), a, order=2), A=scale * a0)
    close(h * scale, ev(mg.derivative(np.linalg.norm(a, "nuc"), a, order=2), A=a0), 1e-8)


# =====================================================================================
# QR, pinv, lstsq
# =====================================================================================


@pytest.mark.parametrize("shape", [(3, 3), (5, 3), (3, 5)])
@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
def test_qr_derivatives(shape: tuple[int, int], mode: str) -> None:
    a = mg.Matrix("A", shape)
    a0 = _general(*shape, seed=3) + 3 * np.eye(*shape)
    out = np.linalg.qr(a, mode=mode)
    q, r = (None, out) if mode == "r" else out
    weights_r = RNG.standard_normal(r.shape)
    f = np.sum(r * weights_r)
    if q is not None:
        m = q.shape[0]
        q2 = q[:, min(shape):]  # the complement's projector does not depend on its basis
        f = f + np.sum(q[:, : min(shape)] * RNG.standard_normal((m, min(shape))))
        if q2.shape[1]:
            f = f + np.sum(q2 @ q2.T * RNG.standard_normal((m, m)))
    check_scalar(f, a, a0, [RNG.standard_normal(shape) for _ in range(3)])


def test_pinv_derivatives_full_rank() -> None:
    for shape in ((3, 3), (5, 3), (3, 5)):
        a = mg.Matrix("A", shape)
        w = RNG.standard_normal(shape[::-1])
        check_scalar(np.sum(np.linalg.pinv(a) * w), a, _general(*shape, seed=4),
                     [RNG.standard_normal(shape) for _ in range(3)])


def test_pinv_derivative_on_the_constant_rank_manifold() -> None:
    """At a rank-2 5×4 matrix ``B C`` the derivative is exact along ``dB C + B dC``
    (rank-preserving), and not along a rank-increasing direction."""
    b0, c0 = RNG.standard_normal((5, 2)), RNG.standard_normal((2, 4))
    a0 = b0 @ c0
    a = mg.Matrix("A", (5, 4))
    w = RNG.standard_normal((4, 5))
    f = np.sum(np.linalg.pinv(a, rcond=1e-10) * w)
    g = ev(mg.derivative(f, a), A=a0)
    h = ev(mg.derivative(f, a, order=2), A=a0)
    for _ in range(3):
        db, dc = RNG.standard_normal((5, 2)), RNG.standard_normal((2, 4))

        def along(t: float) -> Any:
            return np.sum(np.linalg.pinv((b0 + t * db) @ (c0 + t * dc), rcond=1e-10) * w)

        first = directional(lambda t: along(float(t)), np.array(0.0), np.array(1.0))
        close(np.sum(g * (db @ c0 + b0 @ dc)), first, 1e-6)
        # second order along the curve: H[E, E] + ⟨G, 2 dB dC⟩
        e = db @ c0 + b0 @ dc
        second = directional(
            lambda t: directional(lambda s: along(float(s)), np.array(float(t)), np.array(1.0)),
            np.array(0.0), np.array(1.0))
        close(np.einsum("ijkl,ij,kl", h, e, e) + np.sum(g * (2 * db @ dc)), second, 1e-5)
    rank_up = RNG.standard_normal((5, 4))
    fd = directional(lambda v: np.sum(np.linalg.pinv(v, rcond=1e-10) * w), a0, rank_up * 1e-3)
    assert abs(fd - np.sum(g * rank_up * 1e-3)) > 1.0  # the derivative is only along the manifold


def test_lstsq_derivatives() -> None:
    a, b = mg.Matrix("A", (5, 3)), mg.Vector("b", 5)
    a0, b0 = _general(5, 3, seed=8), RNG.standard_normal(5)
    x, res, _, sv = np.linalg.lstsq(a, b)
    for f in (x @ np.array([1.0, -2.0, 0.5]), res[0], np.sum(sv)):
        check_scalar(f, a, a0, [RNG.standard_normal((5, 3)) for _ in range(2)], b=b0)
        check_scalar(f, b, b0, [RNG.standard_normal(5) for _ in range(2)], A=a0)
    # Danskin: d‖r‖² = 2 rᵀ(dA x − db)
    r0 = a0 @ np.linalg.lstsq(a0, b0)[0] - b0
    close(ev(mg.derivative(res[0], b), A=a0, b=b0), -2 * r0, 1e-10)


# =====================================================================================
# Norms, cond, matrix_rank
# =====================================================================================

NORMS: list[tuple[str, Callable[[Expr], Expr], tuple[int, ...]]] = [
    (f"matrix-{o}", lambda a, o=o: np.linalg.norm(a, o), (4, 3))
    for o in ("fro", "nuc", 2, -2, 1, -1, np.inf, -np.inf)
] + [
    (f"vector-{o}", lambda x, o=o: np.linalg.norm(x, o), (5,))
    for o in (None, 1, 3, 0.5, np.inf, -np.inf, -1.5)
] + [("vector-axis", lambda a: np.sum(np.linalg.norm(a, 3, axis=0)), (4, 3)),
     ("matrix-norm-fn", lambda a: np.linalg.matrix_norm(a, ord=1), (4, 3))]


@pytest.mark.parametrize("name, build, shape", NORMS, ids=[c[0] for c in NORMS])
def test_norm_derivatives(name: str, build: Callable[[Expr], Expr], shape: tuple[int, ...]
                          ) -> None:
    a = mg.Tensor("A", shape)
    a0 = (_general(*shape, seed=5) if len(shape) == 2
          else np.array([0.7, -1.3, 2.1, -0.4, 1.1]))
    second = "1" not in name.split("-")[-1] or name.startswith("vector-1.5")
    check_scalar(build(a), a, a0, [RNG.standard_normal(shape) for _ in range(3)],
                 second=second or True)


def test_norm_conventions_at_kinks() -> None:
    x = mg.Vector("x", 3)
    g = ev(mg.derivative(np.linalg.norm(x, np.inf), x), x=np.array([2.0, -2.0, 1.0]))
    close(g, [0.5, -0.5, 0.0], 1e-12)  # ties share equally
    g = ev(mg.derivative(np.linalg.norm(x, 1), x), x=np.array([0.0, -2.0, 1.0]))
    close(g, [0.0, -1.0, 1.0], 1e-12)  # abs′(0) = 0
    g = ev(mg.derivative(np.linalg.norm(x, 0), x), x=np.array([0.0, -2.0, 1.0]))
    close(g, [0.0, 0.0, 0.0], 1e-12)
    a = mg.Matrix("A", (2, 2))
    g = ev(mg.derivative(np.linalg.norm(a, 1), a), A=np.array([[1.0, -2.0], [-3.0, 2.0]]))
    close(g, [[0.5, -0.5], [-0.5, 0.5]], 1e-12)  # both columns sum to 4


def test_matrix_rank_is_not_differentiable() -> None:
    with pytest.raises(NotDifferentiableError, match="matrix_rank"):
        np.linalg.matrix_rank(mg.Matrix("A", (3, 3)))
    with pytest.raises(TypeError):
        np.linalg.matrix_rank(mg.Matrix("A", (3, 3)))


# =====================================================================================
# The adjoint identity ⟨Ḡ, J[E]⟩ = ⟨Jᵀ[Ḡ], E⟩ for every rule
# =====================================================================================

ADJOINT_CASES: list[tuple[str, Callable[[Expr], Expr], tuple[int, int], np.ndarray]] = [
    ("eigh_values", mg.eigh_values, (3, 3), sym_matrix([1.0, 2.0, 4.0])),
    ("eigh_vectors", mg.eigh_vectors, (3, 3), sym_matrix([1.0, 2.0, 4.0])),
    ("eigh_function", lambda a: mg.eigh_function(a, "log"), (3, 3), sym_matrix([1.0, 1.0, 4.0])),
    ("eigh_frechet1", lambda a: mg.eigh_frechet1(a, np.arange(9.0).reshape(3, 3), "exp"), (3, 3),
     sym_matrix([1.0, 1.0, 4.0])),
    ("eigh_frechet2", lambda a: mg.eigh_frechet2(a, np.eye(3), np.arange(9.0).reshape(3, 3),
                                                 "exp"), (3, 3), sym_matrix([1.0, 1.0, 4.0])),
    ("eigh_lift", lambda a: mg.eigh_lift(a, np.array([1.0, -1.0, 2.0])), (3, 3),
     sym_matrix([1.0, 2.0, 4.0])),
    ("cholesky", mg.cholesky, (3, 3), sym_matrix([1.0, 2.0, 4.0])),
    ("svd_values", mg.svd_values, (4, 3), _general(4, 3)),
    ("svd_u", lambda a: mg.svd_u(a, True), (4, 3), _general(4, 3)),
    ("svd_vh", lambda a: mg.svd_vh(a, True), (2, 4), _general(2, 4)),
    ("svd_power", lambda a: mg.svd_power(a, 0.0), (4, 3), _general(4, 3)),
    ("qr_q", lambda a: mg.qr_q(a, True), (4, 3), _general(4, 3) + 2 * np.eye(4, 3)),
    ("qr_r", lambda a: mg.qr_r(a, False), (3, 4), _general(3, 4) + 2 * np.eye(3, 4)),
    ("pinv", lambda a: mg.pinv(a, 1e-15), (4, 3), _general(4, 3)),
]


@pytest.mark.parametrize("name, build, shape, a0", ADJOINT_CASES,
                         ids=[c[0] for c in ADJOINT_CASES])
def test_adjoint_identity(name: str, build: Callable[[Expr], Expr], shape: tuple[int, int],
                          a0: np.ndarray) -> None:
    a = mg.Matrix("A", shape)
    f = build(a)
    e = RNG.standard_normal(shape)
    gbar = RNG.standard_normal(f.shape)
    jv = ev(mg.jvp_expr(f, {a: mg.constant(e)}), A=a0)
    (vj,) = mg.vjp_expr(f, mg.constant(gbar), [a])
    close(np.sum(gbar * jv), np.sum(ev(vj, A=a0) * e), 1e-10)


# =====================================================================================
# The formula language, printing, the function API
# =====================================================================================


def test_formula_language_and_printing() -> None:
    e = mg.parse("sum(log(eigvalsh(S)))", {"S": (3, 3)})
    assert np.isclose(ev(e, S=np.diag([1.0, 2.0, 3.0])), np.log(6.0))
    c = mg.parse("chol(A)", {"A": (3, 3)})
    assert c.kind == "cholesky"
    assert mg.parse("svdvals(B)", {"B": (4, 2)}).shape == (2,)
    assert mg.parse("pinv(B)", {"B": (4, 2)}).shape == (2, 4)
    norms = mg.parse("nuc(B) + spectral_norm(B) + cond(B)", {"B": (3, 2)})
    b0 = np.array([[3.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    assert np.isclose(ev(norms, B=b0), 4.0 + 3.0 + 3.0)
    assert np.isclose(ev(mg.parse("logdet_sym(S)", {"S": (2, 2)}), S=np.diag([2.0, 3.0])),
                      np.log(6.0))
    for expr in (mg.derivative(np.linalg.norm(mg.Matrix("B", (3, 2)), "nuc"),
                               mg.Matrix("B", (3, 2)), order=2),
                 mg.derivative(mg.spectral_sum(S, "exp"), S, order=2)):
        assert str(expr) and expr.latex() and expr.einsum()
        ns: dict[str, Any] = {}
        exec(expr.to_numpy("f"), ns)
        b0 = _general(3, 2) if expr.symbols()[0].name == "B" else sym_matrix([1.0, 2.0, 3.0])
        np.testing.assert_allclose(ns["f"](b0), ev(expr, **{expr.symbols()[0].name: b0}),
                                   rtol=1e-9, atol=1e-12)


def test_function_api() -> None:
    def f(s: Any) -> Any:
        return np.sum(np.log(np.linalg.eigvalsh(s)))

    np.testing.assert_allclose(mg.grad(f)(np.eye(3)), np.eye(3), atol=1e-14)
    h = mg.hessian(f)(np.eye(3))
    assert np.all(np.isfinite(h))
    e = sym_dir(3)
    np.testing.assert_allclose(np.einsum("ijkl,ij,kl", h, e, e), -np.trace(e @ e), rtol=1e-10)


# =====================================================================================
# JAX
# =====================================================================================


def _jax() -> Any:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


JAX_CASES: list[tuple[str, Callable[[Any, Any], Any], tuple[int, int], str]] = [
    ("eigvalsh-log", lambda np_, a: np_.sum(np_.log(np_.linalg.eigvalsh(a))), (3, 3), "spd"),
    ("eigh-vectors", lambda np_, a: np_.sum(np_.linalg.eigh(a)[1] ** 2 * np_.arange(9.0).reshape(
        3, 3)), (3, 3), "sym"),
    ("cholesky", lambda np_, a: np_.sum(np_.linalg.cholesky(a) * np_.arange(9.0).reshape(3, 3)),
     (3, 3), "spd"),
    ("svd-values", lambda np_, a: np_.linalg.svd(a, compute_uv=False) @ np_.arange(1.0, 4.0),
     (5, 3), "general"),
    ("svd-u", lambda np_, a: np_.sum(np_.linalg.svd(a, full_matrices=False)[0] ** 2
                                     * np_.arange(15.0).reshape(5, 3)), (5, 3), "general"),
    ("svd-vh", lambda np_, a: np_.sum(np_.linalg.svd(a, full_matrices=False)[2] ** 2
                                      * np_.arange(15.0).reshape(3, 5)), (3, 5), "general"),
    ("norm-nuc", lambda np_, a: np_.linalg.norm(a, "nuc"), (4, 3), "general"),
    ("norm-2", lambda np_, a: np_.linalg.norm(a, 2), (4, 3), "general"),
    ("norm--2", lambda np_, a: np_.linalg.norm(a, -2), (3, 4), "general"),
    ("norm-inf", lambda np_, a: np_.linalg.norm(a, np_.inf), (3, 4), "general"),
    ("pinv", lambda np_, a: np_.sum(np_.linalg.pinv(a) * np_.arange(12.0).reshape(3, 4)),
     (4, 3), "general"),
    ("qr", lambda np_, a: np_.sum(np_.linalg.qr(a)[0] * np_.arange(12.0).reshape(4, 3))
     + np_.sum(np_.linalg.qr(a)[1] ** 2), (4, 3), "general"),
    ("cond", lambda np_, a: np_.linalg.cond(a), (3, 3), "general"),
]


@pytest.mark.parametrize("name, fn, shape, kind", JAX_CASES, ids=[c[0] for c in JAX_CASES])
def test_agrees_with_jax(name: str, fn: Callable[[Any, Any], Any], shape: tuple[int, int],
                         kind: str) -> None:
    jax = _jax()
    jnp = jax.numpy
    a0 = (_point(kind) if kind in ("spd", "sym") else _general(*shape, seed=11))
    ours = mg.grad(lambda a: fn(np, a))(a0)
    theirs = np.asarray(jax.grad(lambda a: fn(jnp, a))(jnp.asarray(a0)))
    np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)
    if name in ("eigvalsh-log", "cholesky", "norm-nuc"):
        ours_h = mg.hessian(lambda a: fn(np, a))(a0)
        theirs_h = np.asarray(jax.hessian(lambda a: fn(jnp, a))(jnp.asarray(a0)))
        if kind in ("spd", "sym"):  # JAX's Hessian is not symmetrized in the second slot
            theirs_h = (theirs_h + theirs_h.transpose(0, 1, 3, 2)) / 2
            theirs_h = (theirs_h + theirs_h.transpose(1, 0, 2, 3)) / 2
        np.testing.assert_allclose(ours_h, theirs_h, rtol=1e-7, atol=1e-9)

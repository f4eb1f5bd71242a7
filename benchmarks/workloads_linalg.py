"""Workloads W12–W15 of BENCHMARKS.md (issue 12): derivatives through ``eigh``,
``expm``, ``cholesky`` and the SVD, with their closed forms.

Written, like :mod:`benchmarks.workloads`, once against a namespace of array
functions (``ns.eigh``, ``ns.expm``, ``ns.cholesky``, ``ns.solve_triangular``,
``ns.norm``, ...), so that matgrad, JAX, PyTorch and autograd differentiate the
same code.  A system without one of the functions gets a namespace entry that
raises :class:`Unsupported`, reported as "unsupported" in the table.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.linalg
from scipy.linalg import lapack

Arrays = tuple[np.ndarray, ...]


class Unsupported(NotImplementedError):
    """The system has no such operation (or no derivative for it)."""


# ---------------------------------------------------------------------------------------
# W12: gradient of Σ log λᵢ(S) via eigh
# ---------------------------------------------------------------------------------------


def w12(ns: Any, S: Any) -> Any:
    w, _ = ns.eigh(S)
    return ns.sum(ns.log(w))


def w12_inputs(n: int, rng: np.random.Generator) -> Arrays:
    B = rng.standard_normal((n, n))
    return (B @ B.T / n + np.eye(n),)


def w12_closed_inv(S: np.ndarray) -> np.ndarray:
    """``S⁻¹`` (the gradient of ``log det S``)."""
    return np.linalg.inv(S)


def spd_inverse(S: np.ndarray) -> np.ndarray:
    """``S⁻¹`` of a symmetric positive definite ``S`` from its Cholesky factor
    (LAPACK ``potrf`` + ``potri``: ``n³`` flops, half of ``inv``'s)."""
    c, info = lapack.dpotrf(S, lower=1)
    if info:
        raise np.linalg.LinAlgError("not positive definite")
    ci, info = lapack.dpotri(c, lower=1)
    lower = np.tril(ci)
    return lower + np.tril(ci, -1).T  # type: ignore[no-any-return]


def w12_closed_daleckii_krein(S: np.ndarray) -> np.ndarray:
    """``V diag(f′(λ)) Vᵀ`` with ``f = log`` (the general spectral-function form)."""
    w, V = np.linalg.eigh(S)
    return (V / w) @ V.T  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------
# W13: gradient of tr(expm(A X)) wrt X
# ---------------------------------------------------------------------------------------


def w13(ns: Any, X: Any, A: Any) -> Any:
    return ns.trace(ns.expm(A @ X))


def w13_inputs(n: int, rng: np.random.Generator) -> Arrays:
    X = rng.standard_normal((n, n)) / np.sqrt(n)
    A = rng.standard_normal((n, n)) / np.sqrt(n)
    return X, A


def w13_closed(X: np.ndarray, A: np.ndarray) -> np.ndarray:
    """``d tr expm(M) = tr(expm(M) dM)`` and ``dM = A dX``: ``∇_X = Aᵀ expm(AX)ᵀ``."""
    return A.T @ scipy.linalg.expm(A @ X).T  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------
# W14: gradient of a Gaussian-process log marginal likelihood via Cholesky
# ---------------------------------------------------------------------------------------


def w14(ns: Any, theta: Any, D: Any, y: Any) -> Any:
    """``log p(y | θ)`` of a zero-mean GP with the RBF kernel
    ``K = σ_f² exp(−D / 2ℓ²) + σ_n² I`` (``D`` the squared distances),
    ``θ = (ℓ, σ_f², σ_n²)``: ``−½ yᵀK⁻¹y − Σ log Lᵢᵢ − (n/2) log 2π``."""
    n = D.shape[0]
    ell, sf2, sn2 = theta[0], theta[1], theta[2]
    K = sf2 * ns.exp(-0.5 * D / ell**2) + sn2 * ns.eye(n)
    L = ns.cholesky(K)
    a = ns.solve_triangular(L, y, lower=True)
    return -0.5 * ns.sum(a * a) - ns.sum(ns.log(ns.diagonal(L))) - 0.5 * n * math.log(2 * math.pi)


def w14_inputs(n: int, rng: np.random.Generator) -> Arrays:
    x = np.sort(rng.uniform(0.0, 10.0, n))
    D = (x[:, None] - x[None, :]) ** 2
    y = np.sin(x) + 0.1 * rng.standard_normal(n)
    return np.array([1.3, 0.8, 0.1]), D, y


def w14_closed(theta: np.ndarray, D: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``½ tr((ααᵀ − K⁻¹) ∂K/∂θ)`` with ``α = K⁻¹y`` and ``K⁻¹`` from the Cholesky
    factor (``potrf`` + ``potri``)."""
    ell, sf2, sn2 = theta
    n = D.shape[0]
    E = np.exp(-0.5 / ell**2 * D)
    K = sf2 * E
    K.flat[:: n + 1] += sn2
    c, info = lapack.dpotrf(K, lower=1)
    if info:
        raise np.linalg.LinAlgError("not positive definite")
    alpha, _ = lapack.dpotrs(c, y, lower=1)
    ci, _ = lapack.dpotri(c, lower=1)
    Kinv = np.tril(ci) + np.tril(ci, -1).T
    W = np.multiply.outer(alpha, alpha)
    W -= Kinv
    WE = W * E
    return 0.5 * np.array([
        sf2 / ell**3 * np.vdot(WE, D),  # ∂K/∂ℓ = σ_f² E ⊙ D / ℓ³
        WE.sum(),  # ∂K/∂σ_f² = E
        np.trace(W),  # ∂K/∂σ_n² = I
    ])


# ---------------------------------------------------------------------------------------
# W15: gradient of the nuclear norm
# ---------------------------------------------------------------------------------------


def w15(ns: Any, X: Any) -> Any:
    return ns.norm(X, "nuc")


def w15_inputs(size: tuple[int, int], rng: np.random.Generator) -> Arrays:
    return (rng.standard_normal(size),)


def w15_closed(X: np.ndarray) -> np.ndarray:
    """``U Vᵀ`` of the thin SVD."""
    U, _, Vt = np.linalg.svd(X, full_matrices=False)
    return U @ Vt  # type: ignore[no-any-return]


def w15_closed_gram(X: np.ndarray) -> np.ndarray:
    """``X (XᵀX)^(−1/2)``, the polar factor from the eigendecomposition of the Gram
    matrix (full column rank)."""
    w, V = np.linalg.eigh(X.T @ X)
    return X @ ((V / np.sqrt(w)) @ V.T)  # type: ignore[no-any-return]

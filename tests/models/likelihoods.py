"""Likelihoods: mixtures (log-sum-exp), Gaussians with a covariance through
slogdet and solve, a Gaussian process with an RBF kernel built by broadcasting,
factor analysis, heavy-tailed and count models."""

from __future__ import annotations

from typing import Any

import numpy as np

from models.base import Arrays, model, normal

LOG_2PI = float(np.log(2 * np.pi))


def _mixture(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    k, d, n = 3, 2, 10
    params = (normal(rng, k, d), normal(rng, k, d, scale=0.2), normal(rng, k, scale=0.3))
    return params, (normal(rng, n, d, scale=1.5),)


@model(_mixture)
def gaussian_mixture_log_likelihood(np_: Any, X: Any) -> Any:
    """A diagonal-covariance mixture; weights by a softmax of logits, the sum over
    components by a max-stabilised log-sum-exp."""

    def negative_log_likelihood(means: Any, log_scales: Any, logits: Any) -> Any:
        log_weights = logits - np_.log(np_.sum(np_.exp(logits)))
        diff = (X[:, None, :] - means[None, :, :]) / np_.exp(log_scales)
        log_pdf = -0.5 * np_.sum(diff**2, axis=2) - np_.sum(log_scales, axis=1) \
            - 0.5 * X.shape[1] * LOG_2PI
        joint = log_pdf + log_weights
        m = np_.max(joint, axis=1, keepdims=True)
        log_mix = m[:, 0] + np_.log(np_.sum(np_.exp(joint - m), axis=1))
        return -np_.sum(log_mix)

    return negative_log_likelihood


def _gaussian(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    d, n = 3, 8
    return (normal(rng, d), normal(rng, d, d, scale=0.4)), (normal(rng, n, d),)


@model(_gaussian)
def gaussian_full_covariance(np_: Any, X: Any) -> Any:
    """Covariance ``A Aᵀ + I``, log-likelihood through slogdet and solve."""

    def negative_log_likelihood(mu: Any, A: Any) -> Any:
        n, d = X.shape
        Sigma = A @ A.T + np_.eye(d)
        _sign, logdet = np_.linalg.slogdet(Sigma)
        R = X - mu
        quad = np_.sum(R * np_.linalg.solve(Sigma, R.T).T)
        return 0.5 * (n * logdet + quad + n * d * LOG_2PI)

    return negative_log_likelihood


@model(_gaussian)
def gaussian_precision_cholesky_factor(np_: Any, X: Any) -> Any:
    """Precision ``L Lᵀ`` with ``L`` the lower triangle of a free matrix plus a
    positive diagonal; ``log det`` from the diagonal of ``L``."""

    def negative_log_likelihood(mu: Any, M: Any) -> Any:
        L = np_.tril(M, -1) + np_.diag(np_.exp(np_.diagonal(M)))
        Z = (X - mu) @ L
        logdet_precision = 2 * np_.sum(np_.log(np_.diag(L)))
        return 0.5 * np_.sum(Z * Z) - 0.5 * X.shape[0] * logdet_precision

    return negative_log_likelihood


def _gp(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    n, d = 7, 2
    X = rng.uniform(-2, 2, (n, d))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] + normal(rng, n, scale=0.1)
    return (normal(rng, d, scale=0.2), np.array([0.1, -1.0])), (X, y)


@model(_gp)
def gaussian_process_marginal_likelihood(np_: Any, X: Any, y: Any) -> Any:
    """An RBF kernel with one length scale per input (ARD), built by broadcasting;
    signal and noise log-variances are the entries of a parameter vector."""

    def negative_log_marginal(log_lengths: Any, theta: Any) -> Any:
        Xs = X / np_.exp(log_lengths)
        sq_dist = np_.sum((Xs[:, None, :] - Xs[None, :, :]) ** 2, axis=-1)
        K = np_.exp(theta[0]) * np_.exp(-0.5 * sq_dist)
        K = K + np_.exp(theta[1]) * np_.eye(len(y))
        alpha = np_.linalg.inv(K) @ y
        return 0.5 * y @ alpha + 0.5 * np_.linalg.slogdet(K)[1] + 0.5 * len(y) * LOG_2PI

    return negative_log_marginal


def _factor(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    return (normal(rng, 4, 2, scale=0.5), normal(rng, 4, scale=0.3)), (normal(rng, 9, 4),)


@model(_factor)
def factor_analysis(np_: Any, X: Any) -> Any:
    def negative_log_likelihood(W: Any, log_psi: Any) -> Any:
        S = np_.cov(X, rowvar=False)
        C = W @ W.T + np_.diag(np_.exp(log_psi))
        n = X.shape[0]
        return 0.5 * n * (np_.linalg.slogdet(C)[1] + np_.trace(np_.linalg.solve(C, S)))

    return negative_log_likelihood


def _student(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    X = normal(rng, 10, 3)
    return (normal(rng, 3), np.array(0.2)), (X, X @ normal(rng, 3) + rng.standard_t(3, 10))


@model(_student)
def student_t_regression(np_: Any, X: Any, y: Any) -> Any:
    """Regression with Student-t noise (ν = 4) and a learned log-scale."""
    nu = 4.0

    def negative_log_likelihood(w: Any, log_s: Any) -> Any:
        r = (y - X @ w) / np_.exp(log_s)
        return np_.sum(0.5 * (nu + 1) * np_.log1p(r**2 / nu)) + len(y) * log_s

    return negative_log_likelihood


def _heteroscedastic(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    X = normal(rng, 10, 2)
    return (normal(rng, 2), normal(rng, 2, scale=0.3)), (X, normal(rng, 10))


@model(_heteroscedastic)
def heteroscedastic_gaussian(np_: Any, X: Any, y: Any) -> Any:
    """Mean and log-variance both linear in the inputs."""

    def negative_log_likelihood(w_mean: Any, w_var: Any) -> Any:
        log_var = X @ w_var
        return 0.5 * np_.sum(log_var + (y - X @ w_mean) ** 2 / np_.exp(log_var))

    return negative_log_likelihood


def _negbin(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    X = normal(rng, 10, 3, scale=0.5)
    y = rng.poisson(2.0, 10).astype(float)
    return (normal(rng, 3, scale=0.3), np.array([0.5])), (X, y)


@model(_negbin)
def negative_binomial_regression(np_: Any, X: Any, y: Any) -> Any:
    """NB2 log-likelihood without the terms constant in the parameters' counts;
    the dispersion is ``exp(a[0])``."""

    def negative_log_likelihood(w: Any, a: Any) -> Any:
        mu = np_.exp(X @ w)
        r = np_.exp(a[0])
        return -np_.sum(y * np_.log(mu / (mu + r)) + r * np_.log(r / (mu + r)))

    return negative_log_likelihood


def _bayes(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    X = normal(rng, 8, 3)
    return (np.array([0.3, -0.5]),), (X, X @ normal(rng, 3) + normal(rng, 8, scale=0.3))


@model(_bayes)
def bayesian_linear_regression_evidence(np_: Any, X: Any, y: Any) -> Any:
    """The log evidence of ``y = Xw + ε``, ``w ~ N(0, α⁻¹ I)``, ``ε ~ N(0, β⁻¹ I)``,
    in the precisions' logarithms (Bishop, PRML §3.5)."""

    def negative_log_evidence(log_precisions: Any) -> Any:
        alpha, beta = np_.exp(log_precisions[0]), np_.exp(log_precisions[1])
        n, d = X.shape
        A = alpha * np_.eye(d) + beta * X.T @ X
        m = beta * np_.linalg.solve(A, X.T @ y)
        E = beta / 2 * np_.sum((y - X @ m) ** 2) + alpha / 2 * m @ m
        return -(d / 2 * np_.log(alpha) + n / 2 * np_.log(beta) - E
                 - 0.5 * np_.linalg.slogdet(A)[1] - n / 2 * LOG_2PI)

    return negative_log_evidence

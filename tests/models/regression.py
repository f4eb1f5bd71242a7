"""Regression and classification losses, written as tutorials and reference
implementations write them."""

from __future__ import annotations

from typing import Any

import numpy as np

from models.base import Arrays, model, normal, one_hot, signs

N, D, K = 12, 4, 3


def _regression(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    X = normal(rng, N, D)
    y = X @ normal(rng, D) + normal(rng, N, scale=0.3)
    return (normal(rng, D), normal(rng, scale=0.5)), (X, y)


def _weights_only(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    (w, _), data = _regression(rng)
    return (w,), data


def _binary(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    X = normal(rng, N, D)
    return (normal(rng, D), normal(rng)), (X, signs(rng, N))


def _binary01(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    X = normal(rng, N, D)
    return (normal(rng, D),), (X, (rng.random(N) > 0.5).astype(float))


def _multiclass(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    X = normal(rng, N, D)
    labels = rng.integers(0, K, N)
    return (normal(rng, D, K), normal(rng, K)), (X, one_hot(labels, K))


def _multiclass_labels(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    X = normal(rng, N, D)
    return (normal(rng, D, K), normal(rng, K)), (X, rng.integers(0, K, N))


def _counts(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    X = normal(rng, N, D, scale=0.5)
    y = rng.poisson(np.exp(X @ normal(rng, D, scale=0.5))).astype(float)
    return (normal(rng, D, scale=0.3),), (X, y)


@model(_regression)
def linear_regression(np_: Any, X: Any, y: Any) -> Any:
    def loss(w: Any, b: Any) -> Any:
        residual = X @ w + b - y
        return np_.mean(residual**2)

    return loss


@model(_weights_only)
def ridge_regression(np_: Any, X: Any, y: Any) -> Any:
    lam = 0.1

    def loss(w: Any) -> Any:
        return np_.sum((y - np_.dot(X, w)) ** 2) + lam * np_.linalg.norm(w) ** 2

    return loss


@model(_weights_only)
def lasso_smoothed(np_: Any, X: Any, y: Any) -> Any:
    """The L1 penalty smoothed as ``√(w² + ε)``."""

    def loss(w: Any) -> Any:
        r = X @ w - y
        return 0.5 * (r @ r) / len(y) + 0.1 * np_.sum(np_.sqrt(w * w + 1e-3))

    return loss


@model(_weights_only)
def elastic_net_smoothed(np_: Any, X: Any, y: Any) -> Any:
    def loss(w: Any) -> Any:
        r = X @ w - y
        l1 = np_.sum(np_.sqrt(np_.square(w) + 1e-2))
        return r.dot(r) / (2 * X.shape[0]) + 0.05 * l1 + 0.05 * np_.sum(w**2)

    return loss


@model(_regression, smooth=False)
def huber_regression(np_: Any, X: Any, y: Any) -> Any:
    delta = 0.5

    def loss(w: Any, b: Any) -> Any:
        r = X @ w + b - y
        quadratic = 0.5 * r**2
        linear = delta * (np_.abs(r) - 0.5 * delta)
        return np_.mean(np_.where(np_.abs(r) <= delta, quadratic, linear))

    return loss


@model(_regression)
def pseudo_huber_regression(np_: Any, X: Any, y: Any) -> Any:
    delta = 0.7

    def loss(w: Any, b: Any) -> Any:
        r = X @ w + b - y
        return np_.sum(delta**2 * (np_.sqrt(1 + (r / delta) ** 2) - 1))

    return loss


@model(_regression)
def quantile_regression_smoothed(np_: Any, X: Any, y: Any) -> Any:
    """The pinball loss ``τ r + max(−r, 0)`` smoothed by a softplus of width α."""
    tau, alpha = 0.3, 0.2

    def loss(w: Any, b: Any) -> Any:
        r = y - (X @ w + b)
        return np_.mean(tau * r + alpha * np_.logaddexp(0.0, -r / alpha))

    return loss


@model(_weights_only)
def cauchy_regression(np_: Any, X: Any, y: Any) -> Any:
    def loss(w: Any) -> Any:
        r = X @ w - y
        return np_.sum(np_.log1p((r / 0.8) ** 2))

    return loss


@model(_weights_only, smooth=False)
def least_absolute_deviations(np_: Any, X: Any, y: Any) -> Any:
    def loss(w: Any) -> Any:
        return np_.abs(X @ w - y).sum() / len(y)

    return loss


@model(_binary)
def logistic_regression(np_: Any, X: Any, y: Any) -> Any:
    """Labels in {−1, +1}: ``mean log(1 + exp(−y z))``."""

    def loss(w: Any, b: Any) -> Any:
        z = X @ w + b
        return np_.mean(np_.log1p(np_.exp(-y * z))) + 0.01 * w @ w

    return loss


@model(_binary01)
def logistic_cross_entropy(np_: Any, X: Any, y: Any) -> Any:
    """Labels in {0, 1}, through the sigmoid probabilities."""

    def loss(w: Any) -> Any:
        p = 1.0 / (1.0 + np_.exp(-(X @ w)))
        return -np_.mean(y * np_.log(p) + (1 - y) * np_.log(1 - p))

    return loss


@model(_binary01)
def logistic_with_logits_stable(np_: Any, X: Any, y: Any) -> Any:
    """The numerically stable form of TensorFlow's sigmoid_cross_entropy_with_logits:
    ``max(z, 0) − z y + log(1 + exp(−|z|))``, smooth although its pieces are not."""

    def loss(w: Any) -> Any:
        z = X @ w
        return np_.mean(np_.maximum(z, 0) - z * y + np_.log1p(np_.exp(-np_.abs(z))))

    return loss


@model(_multiclass)
def softmax_regression(np_: Any, X: Any, Y: Any) -> Any:
    """One-hot targets, log-sum-exp stabilised by the row maximum."""

    def loss(W: Any, b: Any) -> Any:
        Z = X @ W + b
        Z = Z - np_.max(Z, axis=1, keepdims=True)
        log_probs = Z - np_.log(np_.sum(np_.exp(Z), axis=1, keepdims=True))
        return -np_.sum(Y * log_probs) / X.shape[0]

    return loss


@model(_multiclass_labels)
def softmax_regression_integer_labels(np_: Any, X: Any, labels: Any) -> Any:
    """Integer labels picked out by fancy indexing, as in CS231n."""

    def loss(W: Any, b: Any) -> Any:
        scores = np_.dot(X, W) + b
        scores -= scores.max(axis=1, keepdims=True)
        log_probs = scores - np_.log(np_.exp(scores).sum(axis=1, keepdims=True))
        n = scores.shape[0]
        return -log_probs[np_.arange(n), labels].mean() + 0.5 * 0.01 * np_.sum(W * W)

    return loss


@model(_multiclass)
def softmax_label_smoothing(np_: Any, X: Any, Y: Any) -> Any:
    eps = 0.1

    def loss(W: Any, b: Any) -> Any:
        logits = X @ W + b
        m = logits.max(axis=-1, keepdims=True)
        lse = m + np_.log(np_.exp(logits - m).sum(axis=-1, keepdims=True))
        targets = (1 - eps) * Y + eps / Y.shape[1]
        return np_.mean(np_.sum(-targets * (logits - lse), axis=-1))

    return loss


@model(_multiclass_labels, smooth=False)
def multiclass_hinge(np_: Any, X: Any, labels: Any) -> Any:
    """The Weston–Watkins SVM loss of CS231n, vectorised."""

    def loss(W: Any, b: Any) -> Any:
        scores = X @ W + b
        n = X.shape[0]
        correct = scores[np_.arange(n), labels]
        margins = np_.maximum(0, scores - correct[:, np_.newaxis] + 1.0)
        margins = margins * (1 - np_.eye(scores.shape[1])[labels])
        return np_.sum(margins) / n + 0.5 * 0.1 * np_.sum(W * W)

    return loss


@model(_binary, smooth=False)
def svm_hinge(np_: Any, X: Any, y: Any) -> Any:
    def loss(w: Any, b: Any) -> Any:
        return np_.maximum(0.0, 1 - y * (X @ w + b)).mean() + 0.05 * np_.dot(w, w)

    return loss


@model(_binary, smooth=False)
def svm_squared_hinge(np_: Any, X: Any, y: Any) -> Any:
    def loss(w: Any, b: Any) -> Any:
        return np_.mean(np_.clip(1 - y * (X @ w + b), 0, None) ** 2) + 0.05 * np_.sum(w**2)

    return loss


@model(_counts)
def poisson_regression(np_: Any, X: Any, y: Any) -> Any:
    def loss(w: Any) -> Any:
        eta = X @ w
        return np_.sum(np_.exp(eta) - y * eta) / len(y)

    return loss


@model(_counts)
def gamma_regression_log_link(np_: Any, X: Any, y: Any) -> Any:
    def loss(w: Any) -> Any:
        eta = X @ w
        return np_.mean((y + 1) * np_.exp(-eta) + eta)

    return loss


def _weighted(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    (w, b), (X, y) = _regression(rng)
    return (w, b), (X, y, rng.uniform(0.5, 2.0, N))


@model(_weighted)
def weighted_least_squares(np_: Any, X: Any, y: Any, s: Any) -> Any:
    def loss(w: Any, b: Any) -> Any:
        return np_.average((X @ w + b - y) ** 2, weights=s)

    return loss

"""Optimisation test functions written with slices and entries, Python loops
over entries, and the objectives of embeddings, factorisations, metric learning,
images and portfolios."""

from __future__ import annotations

from typing import Any

import numpy as np

from models.base import Arrays, model, normal


def _point(n: int, scale: float = 1.0) -> Any:
    return lambda rng: ((normal(rng, n, scale=scale),), ())


@model(_point(6, 0.8))
def rosenbrock_slices(np_: Any) -> Any:
    def f(x: Any) -> Any:
        return np_.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    return f


@model(_point(5, 0.8))
def rosenbrock_loop(np_: Any) -> Any:
    """SciPy's ``rosen`` as a textbook writes it: a loop over the entries."""

    def f(x: Any) -> Any:
        return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(len(x) - 1))

    return f


@model(_point(5))
def rastrigin(np_: Any) -> Any:
    def f(x: Any) -> Any:
        return 10 * x.size + np_.sum(x**2 - 10 * np_.cos(2 * np_.pi * x))

    return f


@model(_point(4))
def ackley(np_: Any) -> Any:
    def f(x: Any) -> Any:
        a, b, c = 20.0, 0.2, 2 * np_.pi
        term1 = -a * np_.exp(-b * np_.sqrt(np_.mean(x**2)))
        term2 = -np_.exp(np_.mean(np_.cos(c * x)))
        return term1 + term2 + a + np_.e

    return f


@model(_point(4, 2.0))
def styblinski_tang(np_: Any) -> Any:
    def f(x: Any) -> Any:
        return 0.5 * np_.sum(x**4 - 16 * x**2 + 5 * x)

    return f


@model(_point(2))
def beale(np_: Any) -> Any:
    def f(x: Any) -> Any:
        x1, x2 = x[0], x[1]
        return ((1.5 - x1 + x1 * x2) ** 2 + (2.25 - x1 + x1 * x2**2) ** 2
                + (2.625 - x1 + x1 * x2**3) ** 2)

    return f


@model(_point(2, 2.0))
def booth(np_: Any) -> Any:
    def f(x: Any) -> Any:
        return (x[0] + 2 * x[1] - 7) ** 2 + (2 * x[0] + x[1] - 5) ** 2

    return f


@model(_point(2, 2.0))
def himmelblau(np_: Any) -> Any:
    def f(p: Any) -> Any:
        x, y = p
        return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2

    return f


@model(_point(6))
def trid_with_neighbour_products(np_: Any) -> Any:
    def f(x: Any) -> Any:
        return np_.sum((x - 1) ** 2) - np_.sum(x[1:] * x[:-1])

    return f


@model(_point(6))
def chained_loop_of_entries(np_: Any) -> Any:
    """``Σ x_i x_{i+1}`` and a cubic term accumulated entry by entry."""

    def f(x: Any) -> Any:
        n = x.shape[0]
        total = sum(x[i] * x[i + 1] for i in range(n - 1))
        for i in range(0, n, 2):
            total = total + x[i] ** 3 / 3 - x[-1 - i] * 0.5
        return total

    return f


@model(_point(5, 0.5))
def dixon_price_with_index_weights(np_: Any) -> Any:
    def f(x: Any) -> Any:
        i = np_.arange(2, x.shape[0] + 1)
        return (x[0] - 1) ** 2 + np_.sum(i * (2 * x[1:] ** 2 - x[:-1]) ** 2)

    return f


def _image(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    return (normal(rng, 5, 6),), (normal(rng, 5, 6),)


@model(_image)
def total_variation_denoising(np_: Any, noisy: Any) -> Any:
    """Isotropic total variation (smoothed) plus a data term: ROF denoising."""

    def f(u: Any) -> Any:
        dx = u[1:, :-1] - u[:-1, :-1]
        dy = u[:-1, 1:] - u[:-1, :-1]
        tv = np_.sum(np_.sqrt(dx**2 + dy**2 + 1e-2))
        return 0.5 * np_.sum((u - noisy) ** 2) + 0.3 * tv

    return f


@model(_image, smooth=False)
def anisotropic_total_variation(np_: Any, noisy: Any) -> Any:
    def f(u: Any) -> Any:
        tv = np_.abs(np_.diff(u, axis=0)).sum() + np_.abs(u[:, 1:] - u[:, :-1]).sum()
        return 0.5 * ((u - noisy) ** 2).sum() + 0.2 * tv

    return f


def _ratings(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    m, n, r = 5, 4, 2
    R = normal(rng, m, r) @ normal(rng, r, n)
    return (normal(rng, m, r), normal(rng, n, r)), (R, rng.random((m, n)) < 0.6)


@model(_ratings)
def matrix_factorization(np_: Any, R: Any, observed: Any) -> Any:
    def loss(U: Any, V: Any) -> Any:
        E = (U @ V.T - R) * observed
        return np_.sum(E**2) + 0.1 * (np_.sum(U**2) + np_.sum(V**2))

    return loss


@model(_ratings)
def matrix_completion_observed_entries(np_: Any, R: Any, observed: Any) -> Any:
    """Only the observed entries, selected by integer index arrays."""
    rows, cols = np.nonzero(observed)

    def loss(U: Any, V: Any) -> Any:
        predictions = np_.sum(U[rows] * V[cols], axis=1)
        return np_.mean((predictions - R[rows, cols]) ** 2)

    return loss


def _embedding(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    n = 6
    P = rng.random((n, n))
    P = P + P.T
    np.fill_diagonal(P, 0.0)
    return (normal(rng, n, 2),), (P / P.sum(),)


@model(_embedding)
def tsne_kl(np_: Any, P: Any) -> Any:
    """t-SNE's KL(P‖Q) with the Student-t kernel on pairwise squared distances."""

    def kl(Y: Any) -> Any:
        sum_y = np_.sum(Y**2, axis=1)
        D = sum_y[:, None] + sum_y[None, :] - 2 * Y @ Y.T
        num = 1 / (1 + D) * (1 - np_.eye(Y.shape[0]))
        Q = num / np_.sum(num)
        off = P > 0
        return np_.sum(P[off] * np_.log(P[off] / Q[off]))

    return kl


@model(_embedding)
def umap_cross_entropy(np_: Any, P: Any) -> Any:
    def loss(Y: Any) -> Any:
        diff = Y[:, np_.newaxis, :] - Y[np_.newaxis, :, :]
        W = 1 / (1 + np_.sum(diff**2, axis=-1))
        iu = np.triu_indices(Y.shape[0], k=1)
        p, w = P[iu] * Y.shape[0], W[iu]
        return -np_.sum(p * np_.log(w) + (1 - p) * np_.log1p(-w + 1e-9))

    return loss


def _mds(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    n = 5
    Z = normal(rng, n, 3)
    D = np.sqrt(((Z[:, None] - Z[None]) ** 2).sum(-1))
    return (normal(rng, n, 2),), (D,)


@model(_mds)
def mds_stress(np_: Any, D: Any) -> Any:
    """Metric MDS stress over the upper triangle, pairs in a double loop."""

    def stress(Y: Any) -> Any:
        n = Y.shape[0]
        total = 0.0
        for i in range(n):
            for j in range(i + 1, n):
                d = np_.sqrt(np_.sum((Y[i] - Y[j]) ** 2))
                total = total + (d - D[i, j]) ** 2
        return total

    return stress


def _pairs(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    return (normal(rng, 3, 2, scale=0.6),), (normal(rng, 8, 3), normal(rng, 8, 3),
                                             (rng.random(8) > 0.5).astype(float))


@model(_pairs, smooth=False)
def contrastive_loss(np_: Any, A: Any, B: Any, same: Any) -> Any:
    """Hadsell, Chopra & LeCun (2006) on a linear embedding."""
    margin = 1.0

    def loss(W: Any) -> Any:
        d = np_.linalg.norm(A @ W - B @ W, axis=1)
        return np_.mean(same * d**2 + (1 - same) * np_.maximum(0.0, margin - d) ** 2)

    return loss


def _triplets(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    return (normal(rng, 3, 2),), (normal(rng, 6, 3), normal(rng, 6, 3), normal(rng, 6, 3))


@model(_triplets, smooth=False)
def triplet_loss(np_: Any, anchor: Any, positive: Any, negative: Any) -> Any:
    def loss(W: Any) -> Any:
        a, p, n = anchor @ W, positive @ W, negative @ W
        d_pos = np_.sum(np_.square(a - p), axis=-1)
        d_neg = np_.sum(np_.square(a - n), axis=-1)
        return np_.mean(np_.maximum(d_pos - d_neg + 0.5, 0.0))

    return loss


def _lp(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    A = normal(rng, 6, 3)
    x = normal(rng, 3, scale=0.3)
    return (x,), (A, A @ x + rng.uniform(0.5, 1.5, 6), normal(rng, 3))


@model(_lp)
def log_barrier(np_: Any, A: Any, b: Any, c: Any) -> Any:
    def f(x: Any) -> Any:
        return 10 * c @ x - np_.sum(np_.log(b - A @ x))

    return f


def _transport(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    return (normal(rng, 4, 2),), (normal(rng, 5, 2),)


@model(_transport)
def sinkhorn_divergence_unrolled(np_: Any, Y: Any) -> Any:
    """Entropic optimal transport between point clouds, Sinkhorn iterations
    unrolled in a loop (log domain)."""
    eps = 0.5

    def cost(X: Any) -> Any:
        C = np_.sum((X[:, None, :] - Y[None, :, :]) ** 2, axis=-1)
        log_a = -np_.log(X.shape[0]) * np_.ones(X.shape[0])
        log_b = -np_.log(Y.shape[0]) * np_.ones(Y.shape[0])
        f, g = np_.zeros(X.shape[0]), np_.zeros(Y.shape[0])
        for _ in range(5):
            M = (g[None, :] - C) / eps + log_b[None, :]
            m = M.max(axis=1, keepdims=True)
            f = -eps * (m[:, 0] + np_.log(np_.exp(M - m).sum(axis=1)))
            M = (f[:, None] - C) / eps + log_a[:, None]
            m = M.max(axis=0, keepdims=True)
            g = -eps * (m[0] + np_.log(np_.exp(M - m).sum(axis=0)))
        P = np_.exp((f[:, None] + g[None, :] - C) / eps + log_a[:, None] + log_b[None, :])
        return np_.sum(P * C)

    return cost


def _soft_kmeans(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    return (normal(rng, 3, 2),), (normal(rng, 10, 2, scale=1.5),)


@model(_soft_kmeans)
def soft_kmeans(np_: Any, X: Any) -> Any:
    """Soft k-means energy: ``−(1/β) Σ_i log Σ_k exp(−β ‖x_i − μ_k‖²)``."""
    beta = 2.0

    def energy(mu: Any) -> Any:
        D = ((X[:, None] - mu[None]) ** 2).sum(axis=-1)
        S = -beta * D
        m = np_.amax(S, axis=1)
        return -np_.sum(m + np_.log(np_.sum(np_.exp(S - m[:, None]), axis=1))) / beta

    return energy


def _features(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    x = rng.uniform(-1, 1, 10)
    return (normal(rng, 7), normal(rng, 2)), (x, np.sin(2 * x) + normal(rng, 10, scale=0.1))


@model(_features)
def polynomial_features_by_concatenation(np_: Any, x: Any, y: Any) -> Any:
    """A feature map assembled with column_stack and concatenate; the learned
    input scaling ``s`` makes the features depend on the parameters."""

    def loss(w: Any, s: Any) -> Any:
        z = x * s[0] + s[1]
        poly = np_.column_stack([np_.ones_like(z), z, z**2, z**3])
        trig = np_.stack([np_.sin(z), np_.cos(z), np_.tanh(z)], axis=1)
        phi = np_.concatenate([poly, trig], axis=1)
        return np_.mean((phi @ w - y) ** 2)

    return loss


def _rff(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    return (normal(rng, 2, 3), normal(rng, 6)), (normal(rng, 9, 2), normal(rng, 9))


@model(_rff)
def random_fourier_features_hstack(np_: Any, X: Any, y: Any) -> Any:
    def loss(Omega: Any, w: Any) -> Any:
        proj = X @ Omega
        phi = np_.hstack([np_.cos(proj), np_.sin(proj)]) / np_.sqrt(3.0)
        return np_.sum((phi @ w - y) ** 2) + 0.01 * w @ w

    return loss


def _batched(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    return (normal(rng, 3, 3, 3, scale=0.6),), (normal(rng, 3, 3, 3),)


@model(_batched)
def batched_matrix_square_fit(np_: Any, S: Any) -> Any:
    """``T @ T`` on a stack of matrices (3-D arrays), a batched trace and transpose."""

    def loss(T: Any) -> Any:
        E = T @ T - S
        return np_.sum(E**2) + 0.1 * np_.sum(np_.trace(T @ np_.transpose(T, (0, 2, 1)),
                                                       axis1=1, axis2=2))

    return loss


def _cp(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    r = 2
    A, B, C = normal(rng, 3, r), normal(rng, 4, r), normal(rng, 2, r)
    T = np.einsum("ir,jr,kr->ijk", A, B, C) + normal(rng, 3, 4, 2, scale=0.1)
    return (normal(rng, 3, r), normal(rng, 4, r), normal(rng, 2, r)), (T,)


@model(_cp)
def cp_decomposition(np_: Any, T: Any) -> Any:
    def loss(A: Any, B: Any, C: Any) -> Any:
        return np_.sum((np_.einsum("ir,jr,kr->ijk", A, B, C) - T) ** 2)

    return loss


def _bilinear(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    return (normal(rng, 2, 3, 4, scale=0.5),), (normal(rng, 6, 3), normal(rng, 6, 4),
                                                normal(rng, 6, 2))


@model(_bilinear)
def bilinear_tensordot(np_: Any, U: Any, V: Any, Y: Any) -> Any:
    """A bilinear layer ``y_k = uᵀ W_k v`` with tensordot."""

    def loss(W: Any) -> Any:
        WU = np_.tensordot(U, W, axes=([1], [1]))  # (n, k, q)
        out = np_.sum(WU * V[:, None, :], axis=-1)
        return np_.mean((out - Y) ** 2)

    return loss


def _returns(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    return (rng.uniform(0.1, 1.0, 4),), (0.01 + normal(rng, 20, 4, scale=0.05),)


@model(_returns)
def sharpe_ratio(np_: Any, R: Any) -> Any:
    def negative_sharpe(w: Any) -> Any:
        w = w / w.sum()
        r = R @ w
        return -r.mean() / r.std(ddof=1)

    return negative_sharpe


@model(_returns)
def mean_variance_with_covariance(np_: Any, R: Any) -> Any:
    def objective(w: Any) -> Any:
        Sigma = np_.cov(R.T)
        return w @ Sigma @ w - 0.5 * np_.mean(R, axis=0) @ w + (np_.sum(w) - 1) ** 2

    return objective


@model(_returns)
def geometric_mean_growth(np_: Any, R: Any) -> Any:
    """Kelly-style log growth, the product of the period returns."""

    def f(w: Any) -> Any:
        growth = np_.prod(1 + R[:8] @ w)
        return -np_.log(growth) / 8 + 0.5 * np_.sum(w**2)

    return f


def _path(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    return (normal(rng, 8, scale=0.5),), (np.cumsum(normal(rng, 8, scale=0.5)),)


@model(_path)
def random_walk_by_cumsum(np_: Any, target: Any) -> Any:
    def f(steps: Any) -> Any:
        path = np_.cumsum(steps)
        return np_.sum((path - target) ** 2) + np_.sum((steps[1:] - steps[:-1]) ** 2)

    return f


def _clipped(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    X = normal(rng, 10, 3)
    return (normal(rng, 3, scale=0.5),), (X, normal(rng, 10))


@model(_clipped, smooth=False)
def clipped_predictions(np_: Any, X: Any, y: Any) -> Any:
    def loss(w: Any) -> Any:
        pred = np_.clip(X @ w, -1.0, 1.0)
        return np_.mean((pred - y) ** 2) + np_.max(np_.abs(w))

    return loss


def _whitening(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    return (np.eye(3) + normal(rng, 3, 3, scale=0.2),), (normal(rng, 12, 3) * [1.0, 2.0, 0.5],)


@model(_whitening)
def whitening_by_covariance(np_: Any, X: Any) -> Any:
    """Learn a whitening map: the sample covariance of ``X W`` should be ``I``."""

    def loss(W: Any) -> Any:
        C = np_.cov(X @ W, rowvar=False)
        return np_.sum((C - np_.eye(3)) ** 2)

    return loss

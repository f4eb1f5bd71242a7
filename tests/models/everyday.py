"""Models written with everyday NumPy array functions: sorting and quantiles,
rolling and padding, polynomials and cumulative products."""

from __future__ import annotations

from typing import Any

import numpy as np

from models.base import Arrays, model, normal

N, D = 15, 3


def _image(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    clean = np.outer(np.sin(np.linspace(0, 3, 6)), np.cos(np.linspace(0, 2, 5)))
    noisy = clean + normal(rng, 6, 5, scale=0.2)
    return (noisy + normal(rng, 6, 5, scale=0.1),), (noisy,)


@model(_image)
def tv_denoise_roll(np_: Any, noisy: Any) -> Any:
    """Smoothed isotropic total variation with periodic differences (``np.roll``)."""

    def f(u: Any) -> Any:
        dx = np_.roll(u, -1, axis=0) - u
        dy = np_.roll(u, -1, axis=1) - u
        tv = np_.sum(np_.sqrt(dx**2 + dy**2 + 1e-2))
        return 0.5 * np_.sum((u - noisy) ** 2) + 0.3 * tv

    return f


@model(_image)
def laplacian_smoothing_pad(np_: Any, noisy: Any) -> Any:
    """A five-point Laplacian with replicated borders (``np.pad(..., mode="edge")``)."""

    def f(u: Any) -> Any:
        p = np_.pad(u, 1, mode="edge")
        lap = p[2:, 1:-1] + p[:-2, 1:-1] + p[1:-1, 2:] + p[1:-1, :-2] - 4 * u
        return np_.sum((u - noisy) ** 2) + 0.1 * np_.sum(lap**2)

    return f


def _curve(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    x = np.linspace(-1, 1, N)
    y = 0.5 * x**3 - x + 0.3 + normal(rng, N, scale=0.05)
    return (normal(rng, 4, scale=0.5),), (x, y)


@model(_curve)
def polynomial_fit_polyval(np_: Any, x: Any, y: Any) -> Any:
    """Least squares of a cubic through ``np.polyval`` (highest power first), with a
    penalty on the curve's length by the trapezoidal rule."""

    def f(c: Any) -> Any:
        fit = np_.polyval(c, x)
        slope = np_.polyval(c[:-1] * np_.array([3.0, 2.0, 1.0]), x)
        return np_.mean((fit - y) ** 2) + 0.01 * np_.trapezoid(slope**2, x)

    return f


def _robust(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    X = normal(rng, N, D)
    y = X @ normal(rng, D) + normal(rng, N, scale=0.3)
    y[::5] += 4.0  # outliers
    return (normal(rng, D),), (X, y)


@model(_robust, smooth=False)
def trimmed_and_median_loss(np_: Any, X: Any, y: Any) -> Any:
    """Least trimmed squares (the smallest 80% of squared residuals, ``np.sort``)
    plus the median absolute residual (``np.median``)."""

    def f(w: Any) -> Any:
        r = X @ w - y
        k = int(0.8 * r.shape[0])
        return np_.mean(np_.sort(r**2)[:k]) + np_.median(np_.abs(r))

    return f


@model(_robust, smooth=False)
def quantile_pinball_loss(np_: Any, X: Any, y: Any) -> Any:
    """The pinball loss of a 0.9-quantile regression, centred on the residuals'
    empirical 0.9-quantile (``np.quantile``) and their spread (``np.ptp``)."""

    def f(w: Any) -> Any:
        r = y - X @ w
        tau = 0.9
        pinball = np_.mean(np_.maximum(tau * r, (tau - 1) * r))
        return pinball + 0.1 * np_.quantile(r, tau) ** 2 + 0.01 * np_.ptp(r)

    return f


def _returns(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    return (normal(rng, 4, scale=0.3),), (0.02 * normal(rng, 12, 4),)


@model(_returns)
def compounded_returns_cumprod(np_: Any, R: Any) -> Any:
    """Negative log of the compounded wealth path (``np.cumprod``) of a
    softmax-weighted portfolio, with a drawdown-like penalty."""

    def f(v: Any) -> Any:
        w = np_.exp(v) / np_.sum(np_.exp(v))
        wealth = np_.cumprod(1.0 + R @ w)
        return -np_.log(wealth[-1]) + np_.mean((wealth - np_.mean(wealth)) ** 2)

    return f

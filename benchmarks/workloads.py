"""Workloads W1–W7 and W9–W15 of BENCHMARKS.md: the function, its inputs, and closed forms.

Every function is written once, against a small namespace of array functions
(``ns.trace``, ``ns.inv``, ...), so that matgrad (tracing NumPy on its symbols),
JAX, autograd and PyTorch differentiate the same code.  Inputs that are not
differentiated (``A``, the data of W5 and W7) are arguments for every system,
never closure constants: no system can fold them away at compile time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from benchmarks import workloads_linalg as la

Arrays = tuple[np.ndarray, ...]


@dataclass(frozen=True)
class Workload:
    id: str
    title: str
    kind: str
    """``grad``, ``jacobian``, ``hessian`` or ``hvp`` (a Hessian-vector product:
    the last input is the direction, of the differentiated argument's shape)."""
    wrt: tuple[int, ...]
    """Positions of the differentiated arguments."""
    sizes: tuple[Any, ...]
    """The sizes of BENCHMARKS.md (``--full``)."""
    default_sizes: tuple[Any, ...]
    """The sizes run by default (a few minutes on 2 cores in all)."""
    fn: Callable[..., Any]
    """``fn(ns, *args)``: the function, for any array namespace."""
    inputs: Callable[[Any, np.random.Generator], Arrays]
    closed_forms: dict[str, Callable[..., Any]]
    """Hand-written evaluations of the answer, fastest first is not assumed: all
    are timed and the fastest is the reference."""
    growth: bool = False
    """Report the fitted growth exponent (W2, W4, W6)."""
    label: Callable[[Any], str] = lambda size: f"n={size}"
    scale: Callable[[Any], int] = lambda size: int(size)
    """The size variable of the growth fit."""

    @property
    def single(self) -> bool:
        return len(self.wrt) == 1


# ---------------------------------------------------------------------------------------
# W1: gradient of tr(Xᵀ A X) wrt X
# ---------------------------------------------------------------------------------------


def _w1(ns: Any, X: Any, A: Any) -> Any:
    return ns.trace(X.T @ A @ X)


def _w1_inputs(n: int, rng: np.random.Generator) -> Arrays:
    return rng.standard_normal((n, n)), rng.standard_normal((n, n))


def _w1_closed(X: np.ndarray, A: np.ndarray) -> np.ndarray:
    return (A + A.T) @ X


def _w1_closed_two_products(X: np.ndarray, A: np.ndarray) -> np.ndarray:
    return A @ X + A.T @ X


# ---------------------------------------------------------------------------------------
# W2: Hessian of xᵀ A x wrt x
# ---------------------------------------------------------------------------------------


def _w2(ns: Any, x: Any, A: Any) -> Any:
    return x @ A @ x


def _w2_inputs(n: int, rng: np.random.Generator) -> Arrays:
    return rng.standard_normal(n), rng.standard_normal((n, n))


def _w2_closed(x: np.ndarray, A: np.ndarray) -> np.ndarray:
    return A + A.T


# ---------------------------------------------------------------------------------------
# W3: Jacobian of K = Rᵀ R wrt R, shape (N, N, M, N)
# ---------------------------------------------------------------------------------------


def _w3(ns: Any, R: Any) -> Any:
    return R.T @ R


def _w3_inputs(size: tuple[int, int], rng: np.random.Generator) -> Arrays:
    return (rng.standard_normal(size),)


def _w3_closed(R: np.ndarray) -> np.ndarray:
    """``J[i, j, p, q] = δ_jq R[p, i] + δ_iq R[p, j]``: two strided writes into zeros."""
    M, N = R.shape
    J = np.zeros((N, N, M, N), dtype=R.dtype)
    s0, s1, s2, s3 = J.strides
    as_strided(J, (N, N, M), (s0, s1 + s3, s2))[...] = R.T[:, None, :]  # J[i, j, p, j]
    as_strided(J, (N, N, M), (s0 + s3, s1, s2))[...] += R.T[None, :, :]  # J[i, j, p, i]
    return J


def _w3_closed_einsum(R: np.ndarray) -> np.ndarray:
    eye = np.eye(R.shape[1])
    return np.einsum("jq,pi->ijpq", eye, R) + np.einsum("iq,pj->ijpq", eye, R)


# ---------------------------------------------------------------------------------------
# W4: Jacobian of X⁻¹ wrt X, shape (n, n, n, n)
# ---------------------------------------------------------------------------------------


def _w4(ns: Any, X: Any) -> Any:
    return ns.inv(X)


def _well_conditioned(n: int, rng: np.random.Generator) -> Arrays:
    return (rng.standard_normal((n, n)) / np.sqrt(n) + 2.0 * np.eye(n),)


def _w4_closed(X: np.ndarray) -> np.ndarray:
    """``J[i, j, k, l] = −X⁻¹[i, k] X⁻¹[l, j]``: one outer product, written in order."""
    Y = np.linalg.inv(X)
    n = Y.shape[0]
    out = np.empty((n, n, n, n))
    np.multiply((-Y)[:, None, :, None], Y.T[None, :, None, :], out=out)
    return out


def _w4_closed_outer(X: np.ndarray) -> np.ndarray:
    Y = np.linalg.inv(X)
    return np.multiply.outer(-Y, Y).transpose(0, 3, 1, 2)  # a strided view, not copied


def _w4_closed_einsum(X: np.ndarray) -> np.ndarray:
    Y = np.linalg.inv(X)
    return -np.einsum("ik,lj->ijkl", Y, Y)


# ---------------------------------------------------------------------------------------
# W5: Hessian of the logistic loss wrt w, N = 2000 rows
# ---------------------------------------------------------------------------------------

W5_ROWS = 2000


def _w5(ns: Any, w: Any, X: Any, y: Any) -> Any:
    return ns.sum(ns.log(1 + ns.exp(-y * (X @ w))))


def _w5_inputs(d: int, rng: np.random.Generator) -> Arrays:
    X = rng.standard_normal((W5_ROWS, d)) / np.sqrt(d)
    y = np.where(rng.standard_normal(W5_ROWS) > 0, 1.0, -1.0)
    return rng.standard_normal(d), X, y


def _w5_weights(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    p = 1.0 / (1.0 + np.exp(-y * (X @ w)))
    return p * (1.0 - p)  # σ(1 − σ); y² = 1


def _w5_closed(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``Xᵀ diag(σ(1−σ)) X``."""
    return X.T @ (X * _w5_weights(w, X, y)[:, None])


def _w5_closed_syrk(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``Zᵀ Z`` with ``Z = diag(√(σ(1−σ))) X``: NumPy's ``A.T @ A`` is a symmetric
    rank-k update, half the flops of a general product."""
    Z = X * np.sqrt(_w5_weights(w, X, y))[:, None]
    return Z.T @ Z


# ---------------------------------------------------------------------------------------
# W6: Hessian of log|det X| wrt X, shape (n, n, n, n)
# ---------------------------------------------------------------------------------------


def _w6(ns: Any, X: Any) -> Any:
    return ns.logdet(X)


def _w6_closed(X: np.ndarray) -> np.ndarray:
    """``H[i, j, k, l] = −X⁻¹[j, k] X⁻¹[l, i]``, written in order."""
    Y = np.linalg.inv(X)
    n = Y.shape[0]
    out = np.empty((n, n, n, n))
    np.multiply((-Y)[None, :, :, None], Y.T[:, None, None, :], out=out)
    return out


def _w6_closed_outer(X: np.ndarray) -> np.ndarray:
    Y = np.linalg.inv(X)
    return np.multiply.outer(-Y, Y).transpose(3, 0, 1, 2)  # [j,k,l,i] -> [i,j,k,l], a view


# ---------------------------------------------------------------------------------------
# W7: gradient of the squared loss of a 3-layer tanh network, batch 128
# ---------------------------------------------------------------------------------------

W7_BATCH = 128
W7_OUT = 10


def _w7(ns: Any, W1: Any, b1: Any, W2: Any, b2: Any, W3: Any, b3: Any, X: Any, Y: Any) -> Any:
    h1 = ns.tanh(X @ W1 + b1)
    h2 = ns.tanh(h1 @ W2 + b2)
    out = h2 @ W3 + b3
    return ns.sum((out - Y) ** 2)


def _w7_inputs(width: int, rng: np.random.Generator) -> Arrays:
    def layer(m: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        return rng.standard_normal((m, k)) / np.sqrt(m), 0.1 * rng.standard_normal(k)

    W1, b1 = layer(width, width)
    W2, b2 = layer(width, width)
    W3, b3 = layer(width, W7_OUT)
    X = rng.standard_normal((W7_BATCH, width))
    Y = rng.standard_normal((W7_BATCH, W7_OUT))
    return W1, b1, W2, b2, W3, b3, X, Y


def _w7_closed(
    W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray, W3: np.ndarray,
    b3: np.ndarray, X: np.ndarray, Y: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Backpropagation by hand."""
    h1 = np.tanh(X @ W1 + b1)
    h2 = np.tanh(h1 @ W2 + b2)
    g = 2.0 * (h2 @ W3 + b3 - Y)
    gW3, gb3 = h2.T @ g, g.sum(axis=0)
    g = (g @ W3.T) * (1.0 - h2 * h2)
    gW2, gb2 = h1.T @ g, g.sum(axis=0)
    g = (g @ W2.T) * (1.0 - h1 * h1)
    gW1, gb1 = X.T @ g, g.sum(axis=0)
    return gW1, gb1, gW2, gb2, gW3, gb3


# ---------------------------------------------------------------------------------------
# W9: softmax regression with a max-stabilised log-sum-exp, N = 10⁵ rows, K = 10 classes
# ---------------------------------------------------------------------------------------

W9_ROWS = 100_000
W9_CLASSES = 10


def _w9(ns: Any, W: Any, X: Any, Y: Any) -> Any:
    Z = X @ W
    Z = Z - ns.max(Z, axis=1, keepdims=True)
    return -ns.sum(Y * (Z - ns.log(ns.sum(ns.exp(Z), axis=1, keepdims=True))))


def _w9_inputs(d: int, rng: np.random.Generator) -> Arrays:
    X = rng.standard_normal((W9_ROWS, d)) / np.sqrt(d)
    Y = np.eye(W9_CLASSES)[rng.integers(0, W9_CLASSES, W9_ROWS)]
    return rng.standard_normal((d, W9_CLASSES)), X, Y


def _w9_hvp_inputs(d: int, rng: np.random.Generator) -> Arrays:
    W, X, Y = _w9_inputs(d, rng)
    return W, X, Y, rng.standard_normal(W.shape)


def _softmax_rows(Z: np.ndarray) -> np.ndarray:
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    E /= E.sum(axis=1, keepdims=True)
    return E


def _w9_closed(W: np.ndarray, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``Xᵀ(P − Y)``."""
    return X.T @ (_softmax_rows(X @ W) - Y)


def _w9_hvp_closed(W: np.ndarray, X: np.ndarray, Y: np.ndarray, V: np.ndarray) -> np.ndarray:
    """``Xᵀ(P ⊙ XV − P ⊙ rowsum(P ⊙ XV))``."""
    P = _softmax_rows(X @ W)
    PU = P * (X @ V)
    return X.T @ (PU - P * PU.sum(axis=1, keepdims=True))


# ---------------------------------------------------------------------------------------
# W10: gradient of Rosenbrock written with slices
# ---------------------------------------------------------------------------------------


def _w10(ns: Any, x: Any) -> Any:
    return ns.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def _w10_inputs(n: int, rng: np.random.Generator) -> Arrays:
    return (rng.uniform(-1.5, 1.5, n),)


def _w10_closed(x: np.ndarray) -> np.ndarray:
    """Hand-vectorised: ``t = x[1:] − x[:-1]²``; ``∂/∂x[:-1] = −400 x t − 2(1 − x)``,
    ``∂/∂x[1:] += 200 t``."""
    head = x[:-1]
    t = x[1:] - head * head
    g = np.empty_like(x)
    g[:-1] = -400.0 * head * t - 2.0 * (1.0 - head)
    g[-1] = 0.0
    g[1:] += 200.0 * t
    return g


def _w10_closed_scipy(x: np.ndarray) -> np.ndarray:
    from scipy.optimize import rosen_der

    return rosen_der(x)  # type: ignore[no-any-return]


def _w10_closed_forms() -> dict[str, Callable[..., Any]]:
    forms: dict[str, Callable[..., Any]] = {"by hand": _w10_closed}
    try:
        import scipy.optimize  # noqa: F401
    except ImportError:  # SciPy is in the bench extra; without it, one closed form
        return forms
    forms["scipy rosen_der"] = _w10_closed_scipy
    return forms


# ---------------------------------------------------------------------------------------
# W11: gradient of a two-layer ReLU network (np.maximum), batch 256
# ---------------------------------------------------------------------------------------

W11_BATCH = 256
W11_OUT = 10


def _w11(ns: Any, W1: Any, b1: Any, W2: Any, b2: Any, X: Any, Y: Any) -> Any:
    H = ns.maximum(X @ W1 + b1, 0.0)
    return ns.sum((H @ W2 + b2 - Y) ** 2)


def _w11_inputs(width: int, rng: np.random.Generator) -> Arrays:
    W1 = rng.standard_normal((width, width)) / np.sqrt(width)
    W2 = rng.standard_normal((width, W11_OUT)) / np.sqrt(width)
    b1, b2 = 0.1 * rng.standard_normal(width), 0.1 * rng.standard_normal(W11_OUT)
    X = rng.standard_normal((W11_BATCH, width))
    Y = rng.standard_normal((W11_BATCH, W11_OUT))
    return W1, b1, W2, b2, X, Y


def _w11_closed(
    W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray, X: np.ndarray,
    Y: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Backpropagation by hand."""
    Z = X @ W1 + b1
    H = np.maximum(Z, 0.0)
    G = 2.0 * (H @ W2 + b2 - Y)
    gW2, gb2 = H.T @ G, G.sum(axis=0)
    G = (G @ W2.T) * (Z > 0)
    return X.T @ G, G.sum(axis=0), gW2, gb2


WORKLOADS: dict[str, Workload] = {
    w.id: w
    for w in (
        Workload(
            "W1", "gradient of tr(XᵀAX) wrt X", "grad", (0,), (10, 100, 1000), (10, 100),
            _w1, _w1_inputs, {"(A+Aᵀ)X": _w1_closed, "AX+AᵀX": _w1_closed_two_products},
        ),
        Workload(
            "W2", "Hessian of xᵀAx wrt x", "hessian", (0,), (10, 100, 1000), (10, 100),
            _w2, _w2_inputs, {"A+Aᵀ": _w2_closed}, growth=True,
        ),
        Workload(
            "W3", "Jacobian of RᵀR wrt R", "jacobian", (0,),
            ((10, 5), (50, 20), (100, 40)), ((10, 5), (50, 20)),
            _w3, _w3_inputs, {"strided writes": _w3_closed, "einsum with eye": _w3_closed_einsum},
            label=lambda s: f"M,N={s[0]},{s[1]}", scale=lambda s: int(s[1]),
        ),
        Workload(
            "W4", "Jacobian of X⁻¹ wrt X", "jacobian", (0,), (5, 20, 50), (5, 20),
            _w4, _well_conditioned,
            {"ordered write": _w4_closed, "outer view": _w4_closed_outer,
             "einsum": _w4_closed_einsum},
            growth=True,
        ),
        Workload(
            "W5", "Hessian of the logistic loss wrt w (N=2000)", "hessian", (0,),
            (10, 100, 500), (10, 100),
            _w5, _w5_inputs, {"Xᵀ(sX)": _w5_closed, "ZᵀZ (syrk)": _w5_closed_syrk},
            label=lambda d: f"d={d}",
        ),
        Workload(
            "W6", "Hessian of log|det X| wrt X", "hessian", (0,), (5, 20, 40), (5, 20),
            _w6, _well_conditioned, {"ordered write": _w6_closed, "outer view": _w6_closed_outer},
            growth=True,
        ),
        Workload(
            "W7", "gradient of a 3-layer tanh network's squared loss (batch 128)", "grad",
            (0, 1, 2, 3, 4, 5), (64, 256, 1024), (64, 256),
            _w7, _w7_inputs, {"backprop": _w7_closed}, label=lambda w: f"width={w}",
        ),
        Workload(
            "W9", "gradient of softmax regression, max-stabilised (N=10⁵, K=10)", "grad",
            (0,), (10, 100, 300), (10, 100),
            _w9, _w9_inputs, {"Xᵀ(P−Y)": _w9_closed}, label=lambda d: f"d={d}",
        ),
        Workload(
            "W9-HVP", "Hessian-vector product of softmax regression (N=10⁵, K=10)", "hvp",
            (0,), (10, 100, 300), (10, 100),
            _w9, _w9_hvp_inputs, {"Xᵀ(P⊙XV − P⊙rowsum)": _w9_hvp_closed},
            label=lambda d: f"d={d}",
        ),
        Workload(
            "W10", "gradient of Rosenbrock written with slices", "grad", (0,),
            (1_000, 100_000, 1_000_000), (1_000, 100_000),
            _w10, _w10_inputs, _w10_closed_forms(),
        ),
        Workload(
            "W11", "gradient of a two-layer ReLU network (np.maximum, batch 256)", "grad",
            (0, 1, 2, 3), (64, 256, 1024), (64, 256),
            _w11, _w11_inputs, {"backprop": _w11_closed}, label=lambda w: f"width={w}",
        ),
        Workload(
            "W12", "gradient of Σ log λᵢ(S) via eigh", "grad", (0,), (100, 300, 1000),
            (100, 300), la.w12, la.w12_inputs,
            {"S⁻¹ (inv)": la.w12_closed_inv, "S⁻¹ (potrf+potri)": la.spd_inverse,
             "V diag(1/λ) Vᵀ": la.w12_closed_daleckii_krein},
        ),
        Workload(
            "W13", "gradient of tr(expm(AX)) wrt X", "grad", (0,), (30, 100, 300), (30, 100),
            la.w13, la.w13_inputs, {"Aᵀ expm(AX)ᵀ": la.w13_closed},
        ),
        Workload(
            "W14", "gradient of a GP log marginal likelihood in (ℓ, σ_f², σ_n²) via Cholesky",
            "grad", (0,), (300, 1000, 3000), (300, 1000),
            la.w14, la.w14_inputs, {"½tr((ααᵀ−K⁻¹)∂K/∂θ)": la.w14_closed},
        ),
        Workload(
            "W15", "gradient of the nuclear norm", "grad", (0,),
            ((100, 50), (300, 150), (1000, 500)), ((100, 50), (300, 150)),
            la.w15, la.w15_inputs, {"U Vᵀ (svd)": la.w15_closed, "X (XᵀX)^-½": la.w15_closed_gram},
            label=lambda s: f"{s[0]}×{s[1]}", scale=lambda s: int(s[1]),
        ),
    )
}

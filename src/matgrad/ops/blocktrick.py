"""The numerics of matrix functions and their Fréchet derivatives (layer 3), for
:mod:`matgrad.ops.matfuncs`: SciPy's values, checked, and the block trick.

``frechet_value(name, t, X, E₁, …, E_k)`` is the k-th Fréchet derivative
``L^{(k)}(X; E₁, …, E_k)``: the sum over the orderings of the ``Eᵢ`` of the top-right
block of ``f`` applied to the block-bidiagonal matrix with ``X`` on the diagonal and
the ``Eᵢ`` above it (Mathias 1996; Higham 2008, §3.2; Higham & Relton 2014), each
``Eᵢ`` scaled to ``X``'s norm first.  For k = 1 it is SciPy's ``expm_frechet`` for
``expm`` at n ≥ 16, and for ``sqrtm`` the Sylvester equation ``S L + L S = E``,
``S = √X`` (``scipy.linalg.solve_sylvester``).  ``f`` of the block matrices: SciPy's
``expm`` (of a stack), ``sinm``/``cosm`` from ``expm(iM)``, ``sqrtm``, and for
``logm`` and powers the inverse scaling and squaring method (:func:`log`), which is
much faster than ``scipy.linalg.logm`` on small matrices.

No NaN or infinity is returned silently: a real matrix without a real principal
value raises ``InvalidArgumentError``, a non-finite result ``NonFiniteError``.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg

from matgrad.errors import InvalidArgumentError, NonFiniteError
from matgrad.ops.spectral import checked_finite

__all__ = [
    "PORTABLE", "expm", "frechet_portable", "frechet_value", "log", "portable_on", "value",
    "value_portable",
]

_IMAG_TOL = 1e-8
"""A real input's result may have an imaginary part this small (relative), from
rounding; a larger one means no real principal value exists."""




def _real_if_real(name: str, real: bool, out: Any) -> Any:
    """``out``, real when the input was real; raises if its imaginary part is not
    rounding (the input then has no real principal value)."""
    out = np.asarray(out)
    if not real or not np.iscomplexobj(out):
        return out
    scale = max(1.0, float(np.max(np.abs(out), initial=0.0)))
    if float(np.max(np.abs(out.imag), initial=0.0)) > _IMAG_TOL * scale:
        raise InvalidArgumentError(
            f"{name}: the real matrix has an eigenvalue on the closed negative real axis, "
            "so its principal value is not real; pass a complex matrix"
        )
    return out.real


def _finite(name: str, out: Any, what: str) -> Any:
    if not np.all(np.isfinite(out)):
        raise NonFiniteError(f"{name}: {what} is not finite at this matrix")
    return out


def value(name: str, x: Any, t: float | None = None) -> Any:
    """``f(X)`` by SciPy, checked (see the module docstring, Domains)."""
    x = np.asarray(x)
    f = getattr(scipy.linalg, name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = f(x) if t is None else f(x, t)
    for w in caught:
        text = str(w.message)
        if "exactly singular" in text:
            raise InvalidArgumentError(f"{name}: the matrix is singular; its logarithm is -inf")
        if name == "sqrtm" and "singular" in text:
            residual = np.linalg.norm(np.asarray(out) @ out - x, 1)
            if not residual <= 1e-8 * max(1.0, float(np.linalg.norm(x, 1))):
                raise InvalidArgumentError(
                    "sqrtm: the singular matrix has no square root (SciPy's result does "
                    "not square to it)"
                )
            continue  # a singular matrix with a square root (√0 = 0)
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    out = _real_if_real(name, not np.iscomplexobj(x), out)
    return _finite(name, out, "the value") if np.all(np.isfinite(x)) else out


def _check_invertible(name: str, x: Any) -> None:
    """The Fréchet derivatives of ``logm``, ``sqrtm`` and non-integer powers are
    unbounded at a singular matrix: refuse one that is singular to working precision."""
    lam = np.abs(np.linalg.eigvals(x))
    if lam.size and lam.min() <= 100 * x.shape[0] * np.finfo(float).eps * lam.max():
        raise NonFiniteError(
            f"frechet_{name}: the matrix is singular (to working precision), where the "
            f"derivative of {name} is unbounded"
        )


_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(16)


def log(ms: Any) -> Any:
    """The principal logarithm of each matrix of a stack ``(c, N, N)`` by inverse
    scaling and squaring: square roots until ``‖M − I‖₁ ≤ 0.7``, then the [16/16] Padé
    approximant as 16-point Gauss–Legendre quadrature of ``∫₀¹ Y (I + sY)⁻¹ ds``
    (Higham 2001; Dieci, Morini & Papini 1996).  Much faster than
    ``scipy.linalg.logm`` on the small block matrices of the block trick."""
    eye = np.eye(ms.shape[-1], dtype=ms.dtype)
    squarings = 0
    while np.max(np.abs(ms - eye).sum(axis=-2), initial=0.0) > 0.7 and squarings < 64:
        ms = _roots(ms)
        squarings += 1
    y = ms - eye
    nodes = ((_NODES + 1) / 2).reshape(-1, *([1] * ms.ndim))
    solved = np.linalg.solve(eye + nodes * y, np.broadcast_to(y, (len(_NODES), *y.shape)))
    return 2.0**squarings * np.einsum("q,q...->...", _WEIGHTS / 2, solved)


_PADE = (
    64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
    129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
    40840800.0, 960960.0, 16380.0, 182.0, 1.0,
)
_THETA = 5.371920351148152


def expm(ms: Any) -> Any:
    """The exponential of each matrix of a stack ``(c, N, N)``: the [13/13] Padé
    approximant with scaling and squaring (Higham 2005), vectorized over the stack (one
    scaling for all) — SciPy's ``expm`` loops over a stack in Python."""
    ms = np.asarray(ms)
    b = _PADE
    norm = float(np.max(np.abs(ms).sum(axis=-2), initial=0.0))
    squarings = max(0, math.ceil(math.log2(norm / _THETA))) if norm > _THETA else 0
    a = ms / 2.0**squarings
    eye = np.eye(ms.shape[-1], dtype=ms.dtype)
    a2 = a @ a
    a4 = a2 @ a2
    a6 = a4 @ a2
    u = a @ (a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2) + b[7] * a6 + b[5] * a4 + b[3] * a2
             + b[1] * eye)
    v = a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 + b[2] * a2 + b[0] * eye
    r = np.linalg.solve(v - u, v + u)
    for _ in range(squarings):
        r = r @ r
    return r


def _roots(ms: Any) -> Any:
    """``scipy.linalg.sqrtm`` of each matrix of a stack."""
    return np.stack([np.asarray(scipy.linalg.sqrtm(m)) for m in ms])


def _stacked(name: str, t: float | None) -> Callable[[Any], Any]:
    """``f`` of each matrix of a stack ``(c, N, N)``, for the block trick."""
    if name == "expm":
        return expm
    if name in ("sinm", "cosm"):
        def trig(ms: Any) -> Any:
            if not np.iscomplexobj(ms):
                e = expm(1j * ms)
                return e.imag if name == "sinm" else e.real
            plus, minus = expm(1j * ms), expm(-1j * ms)
            return -0.5j * (plus - minus) if name == "sinm" else 0.5 * (plus + minus)

        return trig
    if name == "sqrtm":
        return _roots
    if name == "logm":
        return log
    if t is not None and t >= 0 and t == int(t):
        return lambda ms: np.linalg.matrix_power(ms, int(t))
    return lambda ms: expm(t * log(ms))


_CHUNK = 1 << 22
"""Entries of block matrices built at once."""


def frechet_value(name: str, t: float | None, x: Any, *es: Any) -> Any:
    """``L^{(k)}(X; E₁, …, E_k)``, each ``Eᵢ`` with trailing batch axes: one evaluation
    per combination of batch entries (see the module docstring)."""
    x = np.asarray(x)
    es = tuple(np.asarray(e) for e in es)
    n, k = x.shape[0], len(es)
    integer = t is not None and t >= 0 and t == int(t)
    if name in ("logm", "sqrtm") or (t is not None and not integer):
        _check_invertible(name, x)
    real = not any(np.iscomplexobj(a) for a in (x, *es))
    dtype = np.result_type(x, *es, np.float64)
    grid, inverse = _combinations(es)
    dirs = [np.moveaxis(e.reshape(n, n, -1), -1, 0)[g].astype(dtype) for e, g in zip(es, grid)]
    if k == 1 and len(dirs[0]) == 1 and name == "sqrtm":
        root = value(name, x)
        values = scipy.linalg.solve_sylvester(root, root, dirs[0][0])[None]
    elif k == 1 and name == "expm" and n >= 16:
        values = np.stack([scipy.linalg.expm_frechet(x, d, compute_expm=False) for d in dirs[0]])
    elif name in ("logm", "fractional_matrix_power") and not integer and n <= 12:
        values = _through_exp(t, x.astype(dtype), dirs)
    else:
        values = _scaled(_stacked(name, t), x.astype(dtype), dirs)
    values = _real_if_real(f"frechet_{name}", real, values)
    if inverse is not None:
        values = values[inverse]
    out = np.moveaxis(values, 0, -1).reshape((n, n, *itertools.chain(*(e.shape[2:] for e in es))))
    return _finite(f"frechet_{name}", out, "the Fréchet derivative")


def _scaled(f: Callable[[Any], Any], x: Any, dirs: list[Any]) -> Any:
    """The block trick with each direction scaled to ``X``'s norm first (Higham 2008,
    §3.2), the result scaled back (it is multilinear)."""
    target = float(np.linalg.norm(x, 1)) or 1.0
    scaled, scale = [], 1.0
    for d in dirs:
        top = float(np.max(np.abs(d), initial=0.0))
        s = target / top if top else 1.0
        scaled.append(d * s)
        scale *= s
    return _block_trick(f, x, scaled) / scale


def _through_exp(t: float | None, x: Any, dirs: list[Any]) -> Any:
    """``L_log^{(k)}`` from ``exp(log X) = X`` (Al-Mohy, Higham & Relton 2013): by Faà di
    Bruno's formula, ``Σ_π L_exp^{(|π|)}(Y; L_log^{(|B|)}(X; E_B) for B ∈ π) = 0`` over the
    partitions ``π`` of the directions (``= E`` for one direction), with ``Y = log X``;
    the term of the partition into one block, ``L_exp(Y, L_log^{(k)})``, is solved for
    with the ``n² × n²`` matrix of ``L_exp(Y, ·)``.  Powers: ``Xᵗ = exp(t log X)``."""
    n, k = x.shape[0], len(dirs)
    y = log(x[None])[0]
    unit = np.eye(n * n, dtype=x.dtype).reshape(n * n, n, n)
    kron = _scaled(expm, y, [unit]).reshape(n * n, n * n).T

    def inverse(m: Any) -> Any:
        return np.linalg.solve(kron, m.reshape(len(m), -1).T).T.reshape(m.shape)

    logs: dict[tuple[int, ...], Any] = {}
    for size in range(1, k + 1):
        for subset in itertools.combinations(range(k), size):
            if size == 1:
                logs[subset] = inverse(dirs[subset[0]])
                continue
            rest = sum(
                _scaled(expm, y, [logs[b] for b in p])
                for p in _partitions(subset)
                if len(p) > 1
            )
            logs[subset] = -inverse(rest)
    everything = tuple(range(k))
    if t is None:
        return logs[everything]
    return sum(
        _scaled(expm, t * y, [t * logs[b] for b in p])
        for p in _partitions(everything)
    )


def _partitions(items: tuple[int, ...]) -> list[list[tuple[int, ...]]]:
    """The set partitions of ``items``, each block in increasing order."""
    if len(items) <= 1:
        return [[items]] if items else [[]]
    first, rest = items[0], items[1:]
    out = []
    for p in _partitions(rest):
        out.append([(first,), *p])
        for i, block in enumerate(p):
            out.append([*p[:i], (first, *block), *p[i + 1 :]])
    return out


def _combinations(es: tuple[Any, ...]) -> tuple[Any, Any]:
    """The batch entries of each combination to evaluate, ``(k, c)``, and where each
    combination's value is among them (``None``: all are evaluated).  ``L`` is
    symmetric, so combinations that differ by permuting entries of equal directions
    (the unit directions of a derivative tensor) are evaluated once."""
    k = len(es)
    grid = np.indices([math.prod(e.shape[2:]) for e in es]).reshape(k, -1)
    same = [next(j for j in range(i + 1) if _equal(es[i], es[j])) for i in range(k)]
    if len(set(same)) == k:
        return grid, None
    for first in set(same):
        members = [i for i in range(k) if same[i] == first]
        grid[members] = np.sort(grid[members], axis=0)
    rows, inverse = np.unique(grid.T, axis=0, return_inverse=True)
    return rows.T, inverse.reshape(-1)


def _equal(a: Any, b: Any) -> bool:
    return a is b or (a.shape == b.shape and bool(np.array_equal(a, b)))


def _block_trick(f: Callable[[Any], Any], x: Any, dirs: list[Any]) -> Any:
    """``Σ_orderings`` top-right block of ``f`` of ``[[X, E₁, 0, …], [0, X, E₂, …], …]``
    for each combination (the leading axis of each of ``dirs``)."""
    n, k, combos = x.shape[0], len(dirs), dirs[0].shape[0]
    perms = list(itertools.permutations(range(k)))
    size = (k + 1) * n
    step = max(1, _CHUNK // (len(perms) * size * size))
    parts = []
    for lo in range(0, combos, step):
        c = min(step, combos - lo)
        m = np.zeros((len(perms), c, size, size), dtype=np.result_type(x, *dirs))
        for j in range(k + 1):
            m[..., j * n : (j + 1) * n, j * n : (j + 1) * n] = x
        for p, perm in enumerate(perms):
            for j, q in enumerate(perm):
                m[p, :, j * n : (j + 1) * n, (j + 1) * n : (j + 2) * n] = dirs[q][lo : lo + c]
        fm = np.asarray(f(m.reshape(-1, size, size))).reshape(len(perms), c, size, size)
        parts.append(fm[..., :n, k * n :].sum(axis=0))
    return np.concatenate(parts)


# =====================================================================================
# Portable: expm, sinm, cosm and their Fréchet derivatives on the engines' expm
# =====================================================================================

PORTABLE = ("expm", "sinm", "cosm")
"""The functions with kernels on the engines that have a matrix exponential of their
own (torch, JAX, CuPy); the others (and Dask, NumPy) use the NumPy kernels above."""


def portable_on(ns: Any, name: str) -> bool:
    """Whether ``name`` has a portable kernel on engine ``ns``: the exponential family
    where the engine has ``expm``, ``sqrtm`` where it has one (JAX)."""
    if ns.name in ("numpy", "dask"):
        return False  # NumPy's kernel: here, or on Dask as a lazy task
    return name in PORTABLE or (name == "sqrtm" and hasattr(ns.linalg, "sqrtm"))


def _real_portable(ns: Any, name: str, out: Any, core: int) -> Any:
    """The real part of the square root of a real stack, after the check that the
    imaginary part is rounding (:func:`_real_if_real`, on the host)."""
    ns.checked(lambda block: _real_if_real(name, True, block), out, core)
    return ns.real(out)


def _stacked_portable(ns: Any, name: str, m: Any) -> Any:
    """``f`` of each matrix of a stack, from the engine's ``expm`` (``sin``, ``cos``
    of a real matrix: the imaginary and real parts of ``exp(iM)``) or ``sqrtm``."""
    if name == "sqrtm":
        root = ns.linalg.sqrtm(m)
        real = not ns.isdtype(m.dtype, "complex floating")
        return _real_portable(ns, name, root, 2) if real else root
    if name == "expm":
        return ns.linalg.expm(m)
    if ns.isdtype(m.dtype, "complex floating"):
        plus, minus = ns.linalg.expm(1j * m), ns.linalg.expm(-1j * m)
        return -0.5j * (plus - minus) if name == "sinm" else 0.5 * (plus + minus)
    e = ns.linalg.expm(1j * m)
    return ns.imag(e) if name == "sinm" else ns.real(e)


def _finite_portable(ns: Any, name: str, out: Any, core: int, what: str) -> Any:
    def fail() -> None:
        raise NonFiniteError(f"{name}: {what} is not finite at this matrix")

    return checked_finite(ns, out, core, fail)


def value_portable(ns: Any, name: str, x: Any) -> Any:
    """``f(X)`` (each matrix of a stack), checked finite as :func:`value`."""
    return _finite_portable(ns, name, _stacked_portable(ns, name, x), 2, "the value")


def frechet_portable(ns: Any, name: str, x: Any, *es: Any) -> Any:
    """:func:`frechet_value` on any engine, ``X`` with leading batch axes ``L`` (and
    each ``Eᵢ`` of shape ``(*L, n, n, *Bᵢ)``): the block trick over every combination
    of the directions' batch entries at once, each direction scaled to ``‖X‖₁``."""
    lead, n, k = tuple(x.shape[:-2]), x.shape[-1], len(es)
    nl = len(lead)
    if name == "sqrtm":  # unbounded at a singular X: refused there, as NumPy's kernel does
        x = ns.checked(lambda block: _check_invertible(name, block), x, 2)
    batch = [tuple(e.shape[nl + 2:]) for e in es]
    counts = [math.prod(b) for b in batch]
    full = (*lead, *counts, n, n)
    target = ns.max(ns.sum(ns.abs(x), axis=-2), axis=-1)
    target = ns.reshape(ns.where(target > 0, target, 1.0), (*lead, *([1] * k), 1, 1))
    scale: Any = 1.0
    dirs = []
    for i, e in enumerate(es):
        d = ns.moveaxis(ns.reshape(e, (*lead, n, n, counts[i])), -1, nl)
        d = ns.reshape(d, (*lead, *(counts[j] if j == i else 1 for j in range(k)), n, n))
        top = ns.max(ns.abs(d), axis=(-2, -1), keepdims=True)
        s = target / ns.where(top > 0, top, 1.0)
        dirs.append(ns.broadcast_to(d * s, full))
        scale = scale * s
    xb = ns.broadcast_to(ns.reshape(x, (*lead, *([1] * k), n, n)), full)
    zero = ns.zeros_like(xb)
    total: Any = 0.0
    for perm in itertools.permutations(range(k)):
        rows = [ns.concat([xb if c == j else dirs[perm[j]] if c == j + 1 else zero
                           for c in range(k + 1)], axis=-1) for j in range(k + 1)]
        fm = _stacked_portable(ns, name, ns.concat(rows, axis=-2))
        total = total + fm[..., :n, k * n:]
    out = ns.moveaxis(ns.reshape(total / scale, (*lead, math.prod(counts), n, n)), nl, -1)
    out = ns.reshape(out, (*lead, n, n, *itertools.chain(*batch)))
    return _finite_portable(ns, f"frechet_{name}", out, out.ndim - nl, "the Fréchet derivative")

"""Numerics of the determinant family (layer 3): the adjugate and the derivative
tensors of ``det`` from the SVD (finite and exact at singular matrices), their NumPy
source, the Leibniz-formula references for tests, and the condition-number check of
``inv`` and the solves.  Used by :mod:`matgrad.ops.linalg` and the compiler's solve
kernel.

With ``X = U Σ Vᴴ`` and ``s = det(U) det(Vᴴ)`` (±1 for real X), every derivative of
``det`` at X is ``s`` times the derivative at ``Σ`` carried by ``U`` (rows) and ``V``
(columns); at the diagonal ``Σ`` the k-th derivative is sparse: ``sgn(π) Π_{m∉r} σ_m``
at rows ``r`` (k distinct indices) and columns ``π(r)``.  Products of singular values
only, never a division, so nothing blows up where X is singular.
"""

from __future__ import annotations

import itertools
import math
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.linalg.lapack import get_lapack_funcs

from matgrad._types import FloatArray as Array
from matgrad.errors import IllConditionedWarning, NonFiniteError
from matgrad.ir.apply import Apply, Attrs
from matgrad.ir.expr import Expr
from matgrad.ops.spectral import gaps_portable, with_extra_axes
from matgrad.ops.spectral_numerics import DECOMPOSITIONS

__all__ = [
    "CONDITION_LIMIT",
    "WELL_CONDITIONED",
    "adj_frechet_kernel",
    "adj_frechet_lines",
    "adjugate",
    "adjugate_lines",
    "brute_force_minors",
    "check_condition",
    "cofactor_adjugate",
    "det_minors_kernel",
    "det_minors_lines",
    "inv_checked",
    "minors_core",
    "pair_products",
    "solve_checked",
    "svd_sign",
]


CONDITION_LIMIT = 1e-6
"""Warn where the estimated relative error ``κ₁(X) · eps`` of an inverse or solve
exceeds this."""


_EPS = {c: float(np.finfo(c).eps) for c in "efdgFDG"}


def caller_level() -> int:
    """The ``stacklevel`` of the first frame outside matgrad (the user's call site)."""
    frame, level = sys._getframe(2), 2
    while frame is not None and str(frame.f_globals.get("__name__", "")).startswith("matgrad"):
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    return level


def check_condition(kappa: float, dtype: Any, what: str) -> None:
    """Warn with :class:`IllConditionedWarning` when ``kappa · eps(dtype)`` (the
    estimated relative error of a result computed with a matrix of 1-norm condition
    number ``kappa``) exceeds :data:`CONDITION_LIMIT` (once per call site, as
    :func:`warnings.warn` does)."""
    error = kappa * _EPS.get(np.dtype(dtype).char, _EPS["d"])
    if not error <= CONDITION_LIMIT:  # also NaN (an infinite or undefined κ)
        warnings.warn(
            f"{what}: the matrix is ill-conditioned (1-norm condition number about "
            f"{kappa:.3g}), so the result may have a relative error of about {error:.1g} "
            f"(above {CONDITION_LIMIT:g})", IllConditionedWarning, stacklevel=caller_level())



def adjugate(x: Any) -> Any:
    """The adjugate, finite for singular ``X`` too.

    With ``X = U S Vᴴ`` (SVD), ``adj(X) = det(U) det(Vᴴ) · V diag(pᵢ) Uᴴ`` where
    ``pᵢ = ∏_{j≠i} s_j`` is formed from prefix and suffix products, never by
    dividing by ``s_i``: where ``X`` is invertible this is ``det(X) X⁻¹``, and it is
    continuous (a polynomial in the entries) everywhere.
    """
    n = x.shape[0]
    if n <= 1:
        return np.ones_like(x)
    u, s, vh, scale = svd_sign(x)
    prefix = np.concatenate(([1], np.cumprod(s[:-1]))).astype(s.dtype)
    suffix = np.concatenate((np.cumprod(s[:0:-1])[::-1], [1])).astype(s.dtype)
    v = vh.conj().T
    return (v * (prefix * suffix * scale)) @ u.conj().T


def svd_sign(x: Any) -> tuple[Array, Array, Array, Any]:
    """``(U, s, Vᴴ, det(U) det(Vᴴ))`` of ``X = U diag(s) Vᴴ``, once per value of X."""

    def compute(a: Array) -> tuple[Array, Array, Array, Any]:
        u, sv, vh = np.linalg.svd(a)
        return u, sv, vh, np.linalg.det(u) * np.linalg.det(vh)

    found: tuple[Array, Array, Array, Any] = DECOMPOSITIONS.get("adj-svd", np.asarray(x), compute)
    return found


def pair_products(s: Array) -> Array:
    """``Q[i, j] = Π_{m ≠ i, j} s_m`` (``i ≠ j``; 0 on the diagonal), from prefix and
    suffix products of each row of ``s`` with ``s_i`` replaced by 1 (no division)."""
    n = s.size
    rows = np.tile(s, (n, 1))
    np.fill_diagonal(rows, 1.0)
    one = np.ones((n, 1), dtype=s.dtype)
    prefix = np.concatenate((one, np.cumprod(rows[:, :-1], axis=1)), axis=1)
    suffix = np.concatenate((np.cumprod(rows[:, :0:-1], axis=1)[:, ::-1], one), axis=1)
    q = prefix * suffix
    np.fill_diagonal(q, 0.0)
    return np.asarray(q)


def adj_frechet_kernel(x: Any, e: Any) -> Array:
    """``d adj(X)[E]`` for ``E`` of shape ``(..., n, n)``: with ``X = U Σ Vᴴ``,
    ``Ẽ = Uᴴ E V`` and ``Q[i, j] = Π_{m≠i,j} σ_m``,
    ``d adj(X)[E] = det(U) det(Vᴴ) · V (diag(Q diag Ẽ) − Q ∘ Ẽ) Uᴴ`` — the derivative
    of ``adj(Σ)`` in the direction ``Ẽ``, a polynomial in the σ's (no division)."""
    x, e = np.asarray(x), np.asarray(e)
    u, s, vh, sign = svd_sign(x)
    n = s.size
    q = pair_products(s)
    et = u.conj().T @ e @ vh.conj().T
    k = -q * et
    k[..., np.arange(n), np.arange(n)] += np.diagonal(et, axis1=-2, axis2=-1) @ q
    return np.asarray((sign * vh.conj().T) @ k @ u.conj().T)


def minors_core(s: Array, k: int) -> Array:
    """The k-th derivative tensor of ``det`` at ``diag(s)``: nonzero at rows ``r``
    (distinct) and columns ``π(r)``: ``sgn(π) Π_{m∉r} s_m``."""
    n = s.size
    core = np.zeros((n,) * (2 * k), dtype=s.dtype)
    perms = [(p, perm_sign(p)) for p in itertools.permutations(range(k))]
    for rows in itertools.permutations(range(n), k):
        weight = math.prod(s[m] for m in range(n) if m not in rows)
        for perm, sgn in perms:
            index = tuple(v for a in range(k) for v in (rows[a], rows[perm[a]]))
            core[index] = sgn * weight
    return core


def perm_sign(p: Sequence[int]) -> int:
    inversions = sum(1 for i in range(len(p)) for j in range(i + 1, len(p)) if p[i] > p[j])
    return -1 if inversions % 2 else 1


def det_minors_kernel(x: Any, k: int) -> Array:
    """``∂ᵏ det X / ∂X_{a₁b₁} ⋯ ∂X_{a_k b_k}`` (axes ``a₁, b₁, …, a_k, b_k``): the
    tensor at ``Σ`` (:func:`_minors_core`) carried to X by ``U`` on the row axes and
    ``V`` on the column axes, times ``det(U) det(Vᴴ)``; zero for ``k > n``.  The
    Hessian (``k = 2``) has a faster form (:func:`_hessian_of_det`)."""
    x = np.asarray(x)
    n = x.shape[0]
    if k > n:
        return np.zeros((n,) * (2 * k), dtype=np.result_type(x.dtype, np.float64))
    u, s, vh, sign = svd_sign(x)
    if k == 2 and n >= 2:
        return _hessian_of_det(u.conj(), s, vh.conj().T, sign)
    out = minors_core(s, k)
    for axis in range(2 * k):
        factor = u.conj() if axis % 2 == 0 else vh.conj().T
        out = np.moveaxis(np.tensordot(factor, out, axes=([1], [axis])), 0, axis)
    return np.asarray(sign * out)


WELL_CONDITIONED = 1e4
"""Below this ratio ``σ_max / σ_min`` the Hessian of det is formed as an outer product
(relative rounding error about ``eps · σ_max / σ_min``)."""


def _hessian_of_det(r: Array, s: Array, c: Array, sign: Any) -> Array:
    """``H[a, b, c, d] = sign · Σ_{i≠j} Q_ij (R_ai C_bi R_cj C_dj − R_ai C_di R_cj C_bj)``
    (``R = Ū``, ``C = V``), i.e. ``T − T`` with its axes b and d swapped, where
    ``T = Σ_ij Q_ij W_i ⊗ W_j``, ``W_i = r_i c_iᵀ``.  The diagonal of ``Q`` cancels,
    so where X is well conditioned ``Q_ij = p_i / σ_j`` (``p_i = Π_{m≠i} σ_m``, rank
    one) gives ``T = (R diag(p) Cᵀ) ⊗ (R diag(1/σ) Cᵀ)`` in O(n⁴); elsewhere ``T`` is
    one product of an ``n² × n`` and an ``n × n²`` matrix (O(n⁵), no division)."""
    n = s.size
    if s[-1] > 0 and s[0] <= WELL_CONDITIONED * s[-1]:
        prefix = np.concatenate(([1.0], np.cumprod(s[:-1])))
        suffix = np.concatenate((np.cumprod(s[:0:-1])[::-1], [1.0]))
        left, right = (r * (prefix * suffix)) @ c.T, (r / s) @ c.T
        t = np.multiply.outer(sign * left, right)
    else:
        w = (r[:, None, :] * c[None, :, :]).reshape(n * n, n)  # W[(a, b), i]
        t = ((sign * w) @ (pair_products(s) @ w.T)).reshape(n, n, n, n)
    return np.asarray(t - t.transpose(0, 3, 2, 1))


def brute_force_minors(x: Any, k: int) -> Array:
    """The k-th derivative tensor of ``det`` from the Leibniz formula
    ``det X = Σ_σ sgn(σ) Π_i X[i, σ(i)]`` (every permutation): for tests."""
    x = np.asarray(x)
    n = x.shape[0]
    out = np.zeros((n,) * (2 * k), dtype=np.result_type(x.dtype, np.float64))
    for sigma in itertools.permutations(range(n)):
        sgn = perm_sign(sigma)
        for rows in itertools.permutations(range(n), k):
            rest = math.prod(x[i, sigma[i]] for i in range(n) if i not in rows)
            out[tuple(v for r in rows for v in (r, sigma[r]))] += sgn * rest
    return out


def cofactor_adjugate(x: Any) -> Array:
    """``adj(X)[j, i] = (−1)^(i+j) det(X without row i and column j)``: the
    textbook definition, for tests.

    >>> cofactor_adjugate(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([[ 4., -2.],
           [-3.,  1.]])
    """
    n = x.shape[0]
    if n == 1:
        return np.ones((1, 1), dtype=x.dtype)
    out = np.empty_like(x)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(x, i, axis=0), j, axis=1)
            out[j, i] = (-1) ** (i + j) * np.linalg.det(minor)
    return np.asarray(out)


def adjugate_lines(
    var: str, args: Sequence[str], fresh: Callable[[str], str], node: Expr
) -> list[str]:
    """``adj X`` from the SVD ``X = U diag(s) Vᴴ``:
    ``adj X = det(U) det(Vᴴ) · V diag(Π_{j≠i} s_j) Uᴴ``, finite at singular X."""
    (x,) = args
    n = node.shape[0]
    dtype = f"np.{node.dtype.name}"
    if n <= 1:
        return [f"{var} = np.ones({node.shape}, dtype={dtype})"]
    u, s, vh, p = fresh("u"), fresh("s"), fresh("vh"), fresh("p")
    return [
        f"{u}, {s}, {vh} = np.linalg.svd({x})",
        (
            f"{p} = np.concatenate((np.ones(1, dtype={s}.dtype), np.cumprod({s}[:-1]))) * "
            f"np.concatenate((np.cumprod({s}[:0:-1])[::-1], np.ones(1, dtype={s}.dtype)))"
        ),
        (
            f"{var} = (np.linalg.det({u}) * np.linalg.det({vh})) * "
            f"(({vh}.conj().T * {p}) @ {u}.conj().T)"
        ),
    ]


def adj_frechet_lines(
    var: str, args: Sequence[str], fresh: Callable[[str], str], node: Expr
) -> list[str]:
    """``d adj(X)[E] = det(U) det(Vᴴ) · V (diag(Q diag Ẽ) − Q ∘ Ẽ) Uᴴ``, ``Ẽ = Uᴴ E V``."""
    x, e = args
    n = node.shape[-1]
    u, s, vh, q, et, k, r = (fresh(t) for t in ("u", "s", "vh", "Q", "Et", "K", "R"))
    return [
        f"{u}, {s}, {vh} = np.linalg.svd({x})",
        f"{r} = np.tile({s}, ({n}, 1))",
        f"np.fill_diagonal({r}, 1.0)",
        f"{q} = np.concatenate((np.ones(({n}, 1)), np.cumprod({r}[:, :-1], axis=1)), axis=1) * "
        f"np.concatenate((np.cumprod({r}[:, :0:-1], axis=1)[:, ::-1], np.ones(({n}, 1))), axis=1)",
        f"np.fill_diagonal({q}, 0.0)",
        f"{et} = {u}.conj().T @ {e} @ {vh}.conj().T",
        f"{k} = -{q} * {et}",
        f"{k}[..., np.arange({n}), np.arange({n})] += np.diagonal({et}, axis1=-2, axis2=-1) @ {q}",
        f"{var} = np.linalg.det({u}) * np.linalg.det({vh}) * ({vh}.conj().T @ {k} @ {u}.conj().T)",
    ]


def det_minors_lines(
    var: str, args: Sequence[str], fresh: Callable[[str], str], node: Expr
) -> list[str]:
    """The Leibniz formula, summed over permutations (plain NumPy and itertools)."""
    assert isinstance(node, Apply)
    (x,) = args
    k, n = node.attrs["k"], node.shape[0]
    sigma, rows, i = fresh("sigma"), fresh("rows"), fresh("i")
    return [
        "import itertools, math",
        f"{var} = np.zeros({node.shape})",
        f"for {sigma} in itertools.permutations(range({n})):",
        f"    for {rows} in itertools.permutations(range({n}), {k}):",
        f"        {var}[tuple(v for r in {rows} for v in (r, {sigma}[r]))] += "
        f"np.linalg.det(np.eye({n})[list({sigma})]) * "
        f"math.prod({x}[{i}, {sigma}[{i}]] for {i} in range({n}) if {i} not in {rows})",
    ]


_LAPACK: dict[str, tuple[Any, Any, Any]] = {}


def _lapack(char: str) -> tuple[Any, Any, Any]:
    funcs = _LAPACK.get(char)
    if funcs is None:
        gesv, gecon, lange = get_lapack_funcs(("gesv", "gecon", "lange"), dtype=np.dtype(char))
        funcs = _LAPACK[char] = (gesv, gecon, lange)
    return funcs


def _gesv_checked(a: Array, b: Array, char: str, inverse: bool) -> Array:
    """``a⁻¹ b`` by ``gesv``, and the warning: ``κ₁ = ‖a‖₁ ‖a⁻¹‖₁`` exactly when ``b``
    is the identity (``inverse``: the result is ``a⁻¹``), else ``gecon`` on the LU
    factors."""
    gesv, gecon, lange = _lapack(char)
    lu, _, out, info = gesv(a, b, overwrite_b=True)
    if info > 0:
        raise np.linalg.LinAlgError("Singular matrix")
    if info < 0:
        raise ValueError(f"gesv: illegal value in argument {-info}")
    if inverse:
        kappa = lange("1", a) * lange("1", out)
    else:
        rcond, _ = gecon(lu, lange("1", a), norm="1")
        kappa = 1.0 / rcond if rcond > 0 else math.inf
    check_condition(kappa, np.dtype(char), "inverse" if inverse else "linear solve")
    return np.asarray(out)


def inv_checked(x: Any) -> Any:
    """``X⁻¹`` as ``numpy.linalg.inv`` computes it (LAPACK's ``gesv`` with the identity,
    here on ``Xᵀ``, which is Fortran-ordered for a C-ordered X: no copy), then
    ``κ₁ = ‖X‖₁ ‖X⁻¹‖₁`` (O(n²), LAPACK's ``lange``): warns with
    :class:`IllConditionedWarning` where ``κ₁ · eps > 1e-6``; an exactly singular X
    raises ``LinAlgError``."""
    x = np.asarray(x)
    if x.ndim != 2 or x.dtype.char not in "fdFD" or x.shape[0] == 0:
        return np.linalg.inv(x)
    return _gesv_checked(x.T, np.eye(x.shape[0], dtype=x.dtype), x.dtype.char, inverse=True).T


def solve_checked(x: Any, r: Any) -> Any:
    """``X⁻¹ R`` for a matrix ``R``, by LAPACK's ``gesv`` (the LU factorization and the
    solve ``numpy.linalg.solve`` does), then ``gecon`` on the LU factors (O(n²)): warns
    with :class:`IllConditionedWarning` where ``κ₁(X) · eps > 1e-6``; an exactly
    singular X raises ``LinAlgError`` as NumPy does."""
    x, r = np.asarray(x), np.asarray(r)
    char = x.dtype.char if x.dtype == r.dtype else np.result_type(x.dtype, r.dtype).char
    if char not in "fdFD" or x.shape[0] == 0:
        return np.linalg.solve(x, r)
    return _gesv_checked(x, np.array(r, dtype=char, order="F"), char, inverse=False)


# =====================================================================================
# Portable kernels (any array engine, batched over leading axes; Operation.array_api)
# =====================================================================================


def _like(ns: Any, value: Any, x: Any) -> Any:
    """A NumPy constant on ``x``'s engine, device and precision."""
    return ns.asarray(np.asarray(value, dtype=np.float64), like=x)


def _svd_sign_portable(ns: Any, x: Any) -> tuple[Any, Any, Any, Any]:
    """``(U, s, V, det(U) det(Vᵀ))`` of ``X = U diag(s) Vᵀ`` on the engine."""
    u, s, vh = ns.linalg.svd(x, full_matrices=False)
    sign = ns.linalg.det(u) * ns.linalg.det(vh)
    return u, s, ns.matrix_transpose(vh), sign


def _others(ns: Any, s: Any, mask: Any) -> Any:
    """``Π_m s_m`` over the entries ``m`` that ``mask`` (0/1, last axis ``m``) leaves
    out, for each leading index of ``mask``: products of the other singular values,
    with no division."""
    m = _like(ns, mask, s)
    grid = ns.reshape(s, (*s.shape[:-1], *([1] * (mask.ndim - 1)), s.shape[-1]))
    return ns.prod(grid * (1 - m) + m, axis=-1)


def adj_portable(ns: Any, attrs: Attrs) -> Callable[..., Any]:
    """``adj(X) = det(U) det(Vᵀ) · V diag(Π_{j≠i} s_j) Uᵀ`` (as :func:`adjugate`)."""

    def kernel(x: Any) -> Any:
        n = x.shape[-1]
        if n <= 1:
            return ns.ones_like(x)
        u, s, v, sign = _svd_sign_portable(ns, x)
        p = _others(ns, s, np.eye(n)) * sign[..., None]
        return ns.matmul(v * p[..., None, :], ns.matrix_transpose(u))

    return kernel


def _pair_mask(n: int) -> Array:
    """``mask[i, j, m] = 1`` where ``m`` is ``i`` or ``j``."""
    eye = np.eye(n)
    return np.asarray(np.maximum(eye[:, None, :], eye[None, :, :]))


def adj_frechet_portable(ns: Any, attrs: Attrs) -> Callable[..., Any]:
    """``d adj(X)[E] = det(U) det(Vᵀ) · V (diag(Q diag Ẽ) − Q ∘ Ẽ) Uᵀ`` with
    ``Ẽ = Uᵀ E V``, ``Q_ij = Π_{m≠i,j} s_m`` (as :func:`adj_frechet_kernel`)."""

    def kernel(x: Any, e: Any) -> Any:
        n = x.shape[-1]
        u, s, v, sign = _svd_sign_portable(ns, x)
        eye = _like(ns, np.eye(n), s)
        q = _others(ns, s, _pair_mask(n)) * (1 - eye)
        extra = e.ndim - x.ndim  # direction axes after the batch axes of x
        lead = x.shape[:-2]

        def widen(t: Any, core: int) -> Any:
            shape = (*lead, *([1] * extra), *t.shape[t.ndim - core:])
            return ns.reshape(t, shape)

        u, v, q, sign = widen(u, 2), widen(v, 2), widen(q, 2), widen(sign, 0)
        et = ns.matmul(ns.matmul(ns.matrix_transpose(u), e), v)
        d = ns.sum(ns.matmul(et * eye, q), axis=-2)  # d_i = Σ_j Ẽ_jj Q_ji
        k = eye * d[..., None, :] - q * et
        return ns.matmul(ns.matmul(v, k), ns.matrix_transpose(u)) * sign[..., None, None]

    return kernel


def _minors_structure(n: int, k: int) -> tuple[Array, Array]:
    """``(P, M)``: the k-th derivative tensor of det at ``diag(s)``, flattened, is
    ``P @ w`` with ``w_e = Π_{m ∉ rows_e} s_m`` and ``M[e] = 1`` on ``rows_e``
    (the entries of :func:`minors_core`, with their signs in ``P``)."""
    perms = [(p, perm_sign(p)) for p in itertools.permutations(range(k))]
    row_sets = list(itertools.permutations(range(n), k))
    p = np.zeros((n ** (2 * k), len(row_sets) * len(perms)))
    mask = np.zeros((p.shape[1], n))
    col = 0
    for rows in row_sets:
        for perm, sgn in perms:
            index = tuple(v for a in range(k) for v in (rows[a], rows[perm[a]]))
            p[np.ravel_multi_index(index, (n,) * (2 * k)), col] = sgn
            mask[col, list(rows)] = 1.0
            col += 1
    return p, mask


def det_minors_portable(ns: Any, attrs: Attrs) -> Callable[..., Any]:
    """The tensor at ``diag(s)`` (one product with a constant sign pattern) carried
    to ``X`` by ``U`` on the row axes and ``V`` on the column axes, times
    ``det(U) det(Vᵀ)`` (as :func:`det_minors_kernel`, at singular X too)."""
    k = int(attrs["k"])

    def kernel(x: Any) -> Any:
        n = x.shape[-1]
        lead = tuple(x.shape[:-2])
        if k > n:
            return _like(ns, np.zeros((*lead, *(n,) * (2 * k))), x)
        u, s, v, sign = _svd_sign_portable(ns, x)
        p, mask = _minors_structure(n, k)
        w = _others(ns, s, mask) * sign[..., None]
        core = ns.reshape(ns.einsum("...e,fe->...f", w, _like(ns, p, w)),
                          (*lead, *(n,) * (2 * k)))
        letters = "abcdefghijklmnopqrstuvwxy"
        inner, outer = letters[: 2 * k], letters[2 * k: 4 * k]
        terms = [f"Z{inner}"] + [f"Z{o}{i}" for o, i in zip(outer, inner)]
        factors = [u if a % 2 == 0 else v for a in range(2 * k)]
        if not lead:
            terms = [t[1:] for t in terms]
        out = ("Z" if lead else "") + outer
        return ns.einsum(",".join(terms) + "->" + out, core, *factors)

    return kernel


# ---- the singular family (matgrad.ops.singular) ---------------------------------------


def _svd_portable(ns: Any, a: Any, full: bool) -> tuple[Any, Any, Any]:
    u, s, vh = ns.linalg.svd(a, full_matrices=full)
    return u, s, vh


def svd_values_portable(ns: Any, attrs: Mapping[str, Any]) -> Callable[..., Any]:
    return lambda a: ns.linalg.svdvals(a)


def svd_u_portable(ns: Any, attrs: Mapping[str, Any]) -> Callable[..., Any]:
    full = bool(attrs["full_matrices"])
    return lambda a: _svd_portable(ns, a, full)[0]


def svd_vh_portable(ns: Any, attrs: Mapping[str, Any]) -> Callable[..., Any]:
    full = bool(attrs["full_matrices"])
    return lambda a: _svd_portable(ns, a, full)[2]


def svd_gaps_portable(ns: Any, attrs: Mapping[str, Any]) -> Callable[..., Any]:
    return lambda s: gaps_portable(ns, s, True, "svd_gaps (singular vector derivatives)",
                                   True)


def svd_project_portable(ns: Any, attrs: Mapping[str, Any]) -> Callable[..., Any]:
    def kernel(a: Any, e: Any) -> Any:
        lead, extra = tuple(a.shape[:-2]), e.ndim - a.ndim
        u, _, vh = _svd_portable(ns, a, False)
        u, vh = with_extra_axes(ns, u, lead, extra, 2), with_extra_axes(ns, vh, lead, extra, 2)
        return ns.sum(u * ns.matmul(e, ns.matrix_transpose(vh)), axis=-2)

    return kernel


def svd_lift_portable(ns: Any, attrs: Mapping[str, Any]) -> Callable[..., Any]:
    def kernel(a: Any, c: Any) -> Any:
        lead, extra = tuple(a.shape[:-2]), c.ndim - a.ndim + 1
        u, _, vh = _svd_portable(ns, a, False)
        u, vh = with_extra_axes(ns, u, lead, extra, 2), with_extra_axes(ns, vh, lead, extra, 2)
        return ns.matmul(u * c[..., None, :], vh)

    return kernel


def svd_power_portable(ns: Any, attrs: Attrs) -> Callable[..., Any]:
    """``U diag(sᵖ) Vᵀ`` from the SVD (no Gram-matrix shortcut); a zero singular value
    with ``p < 0`` raises ``NonFiniteError`` as NumPy's kernel does."""
    p = float(attrs["p"])

    def check(s: Any) -> None:
        if p < 0 and not np.all(s > 0):
            raise NonFiniteError(f"svd_power(A, {p}): A has a zero singular value, where "
                                 f"s ** {p} is infinite")

    def kernel(a: Any) -> Any:
        u, s, vh = _svd_portable(ns, a, False)
        s = ns.checked(check, s, 1)
        sp = ns.ones_like(s) if p == 0 else s**p
        return ns.matmul(u * sp[..., None, :], vh)

    return kernel

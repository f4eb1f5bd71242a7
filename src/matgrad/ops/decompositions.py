"""Matrix decompositions (layer 3): ``cholesky``, ``qr`` and ``pinv`` as
``numpy.linalg`` has them, and built from them ``lstsq``; each output of a
decomposition is an operation of its own.  (The SVD is in
:mod:`matgrad.ops.singular`, the symmetric eigendecomposition in
:mod:`matgrad.ops.spectral`, norms in :mod:`matgrad.ops.norms`.)

- ``cholesky(A)``: the lower factor ``L`` (NumPy reads the lower triangle).
  ``dL = L Φ(L⁻¹ sym(dA) L⁻ᵀ)``, ``Φ(X) = tril(X) − ½ diag(X)`` (Murray 2016): the
  tangent is symmetrized, so the gradient is symmetric (JAX's ``jnp.linalg``,
  PyTorch and autograd agree) and ``∇ 2 Σ log Lᵢᵢ = A⁻¹``.
- ``qr_q(A, complete)``, ``qr_r(A, complete)``: ``dR = Qᵀ dA − Ω R``,
  ``dQ = Q Ω + (I − QQᵀ) dA R̃⁻¹`` with ``Ω = tril(C, −1) − tril(C, −1)ᵀ``,
  ``C = Qᵀ dA R̃⁻¹`` and ``R̃`` the leading square block of ``R`` (Walter & Lehmann
  2018; JAX's ``qr_jvp_rule``); needs ``R̃`` invertible.  ``complete`` with
  ``m > n``: the extra columns follow the gauge ``Q₂ᵀ dQ₂ = 0``.
- ``pinv(A, rcond)``: Golub–Pereyra (1973), the derivative on the manifold of
  matrices of ``A``'s rank, the rank the cutoff ``rcond`` decides
  (perturbations that change the rank have no derivative).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from matgrad._types import FloatArray as Array
from matgrad._types import Shape
from matgrad.errors import InvalidArgumentError, ShapeError
from matgrad.ir.apply import Apply, Fuzz, Language, Notation, Operation, Sample
from matgrad.ir.expr import Expr, add, as_expr, constant, delta, einsum_node
from matgrad.ops.core import matmul, transpose
from matgrad.ops.indexing import tril
from matgrad.ops.linalg import inv
from matgrad.ops.registry import declare, language_function, operation, register_numpy
from matgrad.ops.singular import (
    complement_projector,
    embed,
    real_dtype,
    separated_rect,
    svd_values,
)
from matgrad.ops.spectral import finite_or_raise, lower_symmetric
from matgrad.ops.spectral_numerics import DECOMPOSITIONS, sym

__all__ = ["cholesky", "lstsq", "pinv", "qr", "qr_q", "qr_r"]

_real = real_dtype


# =====================================================================================
# Portable kernels (any array engine, batched over leading axes; Operation.array_api)
# =====================================================================================


def _cholesky_portable(ns: Any, attrs: Mapping[str, Any]) -> Callable[..., Any]:
    return lambda a: finite_or_raise(ns, ns.linalg.cholesky(lower_symmetric(ns, a)),
                                     "cholesky")


def _qr_portable(which: int) -> Callable[[Any, Mapping[str, Any]], Callable[..., Any]]:
    def make(ns: Any, attrs: Mapping[str, Any]) -> Callable[..., Any]:
        mode = "complete" if attrs["complete"] else "reduced"
        return lambda a: ns.linalg.qr(a, mode=mode)[which]

    return make


def _pinv_portable(ns: Any, attrs: Mapping[str, Any]) -> Callable[..., Any]:
    """The cutoff ``rcond · s_max`` as NumPy's ``rcond`` (the array API's ``rtol``)."""
    rcond = float(attrs["rcond"])
    return lambda a: ns.linalg.pinv(a, rtol=rcond)


# =====================================================================================
# cholesky
# =====================================================================================


def _d_cholesky(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``dL = L Φ(L⁻¹ sym(dA) L⁻ᵀ)``, ``Φ(X) = tril(X) − ½ diag(X)`` (Murray 2016,
    eq. 9; Seeger et al. 2017); the tangent is symmetrized: NumPy reads only the lower
    triangle, matgrad returns the symmetric gradient.  ``L⁻¹ S L⁻ᵀ`` (``S = sym(dA)``)
    is two triangular solves, ``L⁻¹ (L⁻¹ S)ᵀ``, not products with an inverse: reverse
    accumulation then costs two ``trsm`` and one product."""
    solve = operation("solve_triangular")
    attrs = {"trans": 0, "lower": True, "unit_diagonal": False}
    left = solve(node, sym(d[0]), **attrs)
    x = solve(node, transpose(left), **attrs)
    n = node.shape[0]
    phi = add([tril(x), einsum_node([x, delta(n)], [("i", "j"), ("i", "j")], ("i", "j"))],
              [1, -0.5])
    return matmul(node, phi)


def _cholesky_shape(shapes: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Shape:
    (s,) = shapes
    if len(s) != 2 or s[0] != s[1]:
        raise ShapeError(f"cholesky needs a square matrix, got shape {s}")
    return s


def _cholesky_handler(a: Any, *, upper: bool = False) -> Expr:
    """``np.linalg.cholesky(a, upper=False)``: ``upper=True`` reads the upper triangle
    and returns ``Lᵀ``."""
    if upper:
        return transpose(cholesky(transpose(as_expr(a))))
    return cholesky(a)


cholesky: Callable[..., Expr] = declare(Operation(
    name="cholesky",
    family="decompositions",
    doc="the lower Cholesky factor L of a symmetric positive definite A = L Lᵀ",
    shape=_cholesky_shape,
    numpy=np.linalg.cholesky,
    array_api=_cholesky_portable,
    stacks=True,
    dtype=_real,
    differential=_d_cholesky,
    domain=lambda attrs: ("spd",),
    flops=lambda shapes: shapes[0][0] ** 3 // 3,
    notation=Notation(latex=r"\operatorname{{chol}}{0:arg}", numpy="np.linalg.cholesky({0})"),
    numpy_functions=((np.linalg.cholesky, _cholesky_handler),),
    language=Language(("cholesky", "chol"), "lower Cholesky factor of an SPD matrix",
                      "(n,n) -> (n,n)"),
    samples=(Sample("cholesky", lambda a: cholesky(sym(a)), lambda n, m: ((n, n),), ("spd",)),),
    fuzz=(Fuzz("spd", bound=lambda lo, hi, n: math.sqrt(hi)),),
))




# =====================================================================================
# qr
# =====================================================================================


def _qr(a: Any, complete: bool) -> tuple[Array, Array]:
    mode: Literal["complete", "reduced"] = "complete" if complete else "reduced"
    q, r = DECOMPOSITIONS.get(f"qr-{mode}", np.asarray(a),
                              lambda x: tuple(np.linalg.qr(x, mode=mode)))
    return q, r


def _qr_shape(which: int) -> Callable[[tuple[Shape, ...], Mapping[str, Any]], Shape]:
    def rule(shapes: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Shape:
        (s,) = shapes
        if len(s) != 2:
            raise ShapeError(f"qr takes one matrix (no stacks), got shape {s}")
        m, n = s
        k = m if attrs["complete"] else min(m, n)
        return (m, k) if which == 0 else (k, n)

    return rule


def _qr_omega(a: Expr, h: Expr) -> tuple[Expr, Expr, Expr, Expr]:
    """``(Q, R, R̃⁻¹, Ω)`` of the reduced QR of ``a`` for the direction ``h``:
    ``C = Qᵀ h R̃⁻¹``, ``Ω = tril(C, −1) − tril(C, −1)ᵀ``."""
    m, n = a.shape
    q, r = qr_q(a, False), qr_r(a, False)
    lead = r if m >= n else matmul(r, embed(n, m))
    rinv = inv(lead)
    lead_h = h if m >= n else matmul(h, embed(n, m))
    c = einsum_node([q, lead_h, rinv], [("p", "i"), ("p", "x"), ("x", "j")], ("i", "j"))
    low = tril(c, -1)
    return q, r, rinv, add([low, transpose(low)], [1, -1])


def _d_qr_q(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``dQ = Q Ω + (I − QQᵀ) dA R⁻¹`` (tall ``A``; the projector term vanishes for
    square and wide ones), ``Ω`` the skew part fixed by ``R`` staying upper
    triangular (Walter & Lehmann 2018); ``complete`` with ``m > n``: the extra
    columns ``Q₂`` move as ``dQ₂ = −Q (Q₂ᵀ dA R⁻¹)ᵀ`` (the gauge ``Q₂ᵀ dQ₂ = 0``)."""
    assert isinstance(node, Apply)
    a, (h,) = node.x, d
    m, n = a.shape
    q, _, rinv, omega = _qr_omega(a, h)
    terms = [matmul(q, omega)]
    coeffs = [1.0]
    if m > n:
        hr = matmul(h, rinv)
        terms += [hr, matmul(matmul(q, transpose(q)), hr)]
        coeffs += [1.0, -1.0]
    dq = add(terms, coeffs)
    if not node.attrs["complete"] or m <= n:
        return dq
    e1, e2 = embed(m, n), embed(m, m - n, n)
    q2 = matmul(node, e2)
    rest = einsum_node([q, rinv, h, q2, e2], [("a", "i"), ("j", "i"), ("p", "j"), ("p", "r"),
                                              ("b", "r")], ("a", "b"))
    return add([matmul(dq, transpose(e1)), rest], [1, -1])


def _d_qr_r(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``dR = Qᵀ dA − Ω R`` (upper triangular; Walter & Lehmann 2018); ``complete``
    with ``m > n``: zero rows below."""
    assert isinstance(node, Apply)
    a, (h,) = node.x, d
    m, n = a.shape
    q, r, _, omega = _qr_omega(a, h)
    dr = add([matmul(transpose(q), h), matmul(omega, r)], [1, -1])
    if node.attrs["complete"] and m > n:
        return matmul(embed(m, n), dr)
    return dr


def _qr_kernel(which: int) -> Callable[..., Array]:
    def kernel(a: Any, complete: bool) -> Array:
        return np.array(_qr(a, complete)[which])

    return kernel


def _qr_lines(which: int) -> Callable[[str, Sequence[str], Callable[[str], str], Expr],
                                      list[str]]:
    def lines(var: str, args: Sequence[str], fresh: Callable[[str], str], node: Expr) -> list[str]:
        assert isinstance(node, Apply)
        mode = "complete" if node.attrs["complete"] else "reduced"
        return [f'{var} = np.linalg.qr({args[0]}, mode="{mode}")[{which}]']

    return lines


def _qr_sample(a: Expr) -> Expr:
    """``a + diag(10, 25, …) + B`` with a fixed dense ``B`` (entries about 0.3): full
    rank, pivots far from 0 and no column exactly zero below the diagonal — where
    LAPACK's Householder QR is continuous (it flips the signs of a column of ``Q``
    where the part of a column below the diagonal is exactly zero)."""
    m, n = a.shape
    b = 0.3 * np.random.default_rng(m * 10 + n).standard_normal((m, n))
    return add([separated_rect(a, rotate=False), constant(b)])


def _tall(n: int, m: int) -> tuple[Shape, ...]:
    return ((n + m, n),)


def _complete_check(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {"complete": bool(attrs["complete"])}


qr_q: Callable[..., Expr] = declare(Operation(
    name="qr_q",
    family="decompositions",
    doc="the orthonormal factor Q of A = Q R (NumPy's Householder signs)",
    shape=_qr_shape(0),
    numpy=_qr_kernel(0),
    array_api=_qr_portable(0),
    stacks=True,
    attrs=("complete",),
    check=_complete_check,
    dtype=_real,
    differential=_d_qr_q,
    flops=lambda shapes: 4 * shapes[0][0] * shapes[0][1] ** 2,
    notation=Notation(numpy_lines=_qr_lines(0)),
    samples=(
        Sample("qr-q", lambda a: qr_q(_qr_sample(a), False), _tall, ("general",)),
        Sample("qr-q-wide", lambda a: qr_q(_qr_sample(a), False), lambda n, m: ((n, n + m),),
               ("general",)),
        Sample("qr-q-complete", lambda a: complement_projector(qr_q(_qr_sample(a), True),
                                                               a.shape[1]), _tall, ("general",)),
    ),
    fuzz=(Fuzz("full_rank", bound=lambda lo, hi, n, complete: 1.0,
               attrs=({"complete": False},), squared=True),),
))
qr_r: Callable[..., Expr] = declare(Operation(
    name="qr_r",
    family="decompositions",
    doc="the upper triangular factor R of A = Q R (NumPy's Householder signs)",
    shape=_qr_shape(1),
    numpy=_qr_kernel(1),
    array_api=_qr_portable(1),
    stacks=True,
    attrs=("complete",),
    check=_complete_check,
    dtype=_real,
    differential=_d_qr_r,
    flops=lambda shapes: 4 * shapes[0][0] * shapes[0][1] ** 2,
    notation=Notation(numpy_lines=_qr_lines(1)),
    samples=(
        Sample("qr-r", lambda a: qr_r(_qr_sample(a), False), _tall, ("general",)),
        Sample("qr-r-wide", lambda a: qr_r(_qr_sample(a), False), lambda n, m: ((n, n + m),),
               ("general",)),
    ),
    fuzz=(Fuzz("full_rank", bound=lambda lo, hi, n, complete: hi,
               attrs=({"complete": False},), squared=True),),
))


def qr(a: Any, mode: str = "reduced") -> Any:
    """``np.linalg.qr``: ``QRResult(Q, R)`` for ``mode`` ``"reduced"`` (default) or
    ``"complete"``, ``R`` alone for ``"r"`` (``"raw"`` is refused: Householder
    reflectors are not a differentiable output)."""
    ae = as_expr(a)
    if ae.ndim != 2:
        raise ShapeError(f"qr takes one matrix (no stacks), got shape {ae.shape}")
    if mode not in ("reduced", "complete", "r"):
        raise InvalidArgumentError(f"qr: mode {mode!r} is not supported "
                                   "(use 'reduced', 'complete' or 'r')")
    complete = mode == "complete"
    if mode == "r":
        return qr_r(ae, False)
    q, r = qr_q(ae, complete), qr_r(ae, complete)
    result = getattr(getattr(np.linalg, "_linalg", None), "QRResult", None)
    return result(q, r) if result is not None else (q, r)


# =====================================================================================
# pinv, lstsq
# =====================================================================================


def _d_pinv(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """Golub & Pereyra (1973), eq. 4.12: ``dA⁺ = −A⁺ dA A⁺ + A⁺A⁺ᵀ dAᵀ (I − AA⁺)
    + (I − A⁺A) dAᵀ A⁺ᵀA⁺``: the derivative along matrices of ``A``'s rank (the
    constant-rank manifold; a perturbation that changes the rank has none)."""
    assert isinstance(node, Apply)
    a, x, (h,) = node.x, node, d
    ht, xt = transpose(h), transpose(x)
    xxt, xtx = matmul(x, xt), matmul(xt, x)
    return add([
        matmul(matmul(x, h), x),
        matmul(xxt, ht), matmul(matmul(matmul(xxt, ht), a), x),
        matmul(ht, xtx), matmul(matmul(matmul(x, a), ht), xtx),
    ], [-1, 1, -1, 1, -1])


def _pinv_kernel(a: Any, rcond: float) -> Array:
    return np.asarray(np.linalg.pinv(a, rcond=rcond))


def _pinv_shape(shapes: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Shape:
    (s,) = shapes
    if len(s) != 2:
        raise ShapeError(f"pinv takes one matrix (no stacks), got shape {s}")
    return (s[1], s[0])


_UNSET: Any = object()


def _pinv_handler(a: Any, rcond: Any = None, hermitian: bool = False, *,
                  rtol: Any = _UNSET) -> Expr:
    """``np.linalg.pinv``: the cutoff as NumPy chooses it (``rcond``, else ``rtol``,
    else ``1e-15``); ``hermitian`` changes only how NumPy computes it."""
    ae = as_expr(a)
    if rcond is not None and rtol is not _UNSET:
        raise InvalidArgumentError("pinv: rtol and rcond can't be both set")
    if rcond is None:
        rcond = 1e-15 if rtol is _UNSET else (
            max(ae.shape[-2:]) * float(np.finfo(np.float64).eps) if rtol is None else rtol)
    return pinv(ae, float(rcond))


pinv: Callable[..., Expr] = declare(Operation(
    name="pinv",
    family="decompositions",
    doc="the Moore–Penrose pseudo-inverse (singular values below rcond · max(s) dropped)",
    shape=_pinv_shape,
    numpy=_pinv_kernel,
    array_api=_pinv_portable,
    stacks=True,
    attrs=("rcond",),
    check=lambda attrs: {"rcond": float(attrs["rcond"])},
    dtype=_real,
    differential=_d_pinv,
    flops=lambda shapes: 6 * shapes[0][0] * shapes[0][1] * min(shapes[0]),
    notation=Notation(latex="{0:base}^{{+}}", superscript=True,
                      numpy="np.linalg.pinv({0}, rcond={rcond})"),
    numpy_functions=((np.linalg.pinv, _pinv_handler),),
    samples=(
        Sample("pinv", lambda a: pinv(separated_rect(a), 1e-15), lambda n, m: ((n, m),),
               ("general",)),
        Sample("pinv-rank-deficient", lambda a, b: pinv(
            matmul(separated_rect(a), separated_rect(b)), 1e-10),
            lambda n, m: ((min(n, 2) + 1, min(n, 2)), (min(n, 2), min(n, 2) + 2)),
            ("general", "general")),
    ),
    fuzz=(Fuzz("full_rank", bound=lambda lo, hi, n, rcond: 1.0 / lo,
               attrs=({"rcond": 1e-15},)),),
))


def lstsq(a: Any, b: Any, rcond: Any = None) -> tuple[Expr, Expr, None, Expr]:
    """``np.linalg.lstsq``: ``(x, residuals, rank, s)`` with ``x = A⁺ b`` (the
    minimum-norm least-squares solution, singular values below ``rcond · max(s)``
    dropped, NumPy's default ``rcond = eps · max(m, n)``), the squared residual norms
    per column of ``b`` for a tall ``A`` (assumed of full column rank, as NumPy
    returns them then; empty otherwise), and the singular values.  ``rank`` is
    ``None``: an integer that depends on the values has no place in an expression
    (``np.linalg.matrix_rank`` of the array computes it).  Derivatives are those on
    the manifold of ``A``'s rank (``pinv``); for the residuals Danskin's theorem
    gives ``d‖r‖² = 2 rᵀ(dA x − db)``, which the chain rule reproduces."""
    ae, be = as_expr(a), as_expr(b)
    if ae.ndim != 2 or be.ndim not in (1, 2) or be.shape[0] != ae.shape[0]:
        raise ShapeError(f"lstsq: shapes {ae.shape} and {be.shape} do not fit")
    m, n = ae.shape
    cut = float(np.finfo(np.float64).eps) * max(m, n) if rcond is None else float(rcond)
    x = matmul(pinv(ae, cut), be)
    if m > n:
        r = add([matmul(ae, x), be], [1, -1])
        sq = einsum_node([r, r], [(0, *range(1, r.ndim)), (0, *range(1, r.ndim))],
                         tuple(range(1, r.ndim)))
        residuals = sq if be.ndim == 2 else einsum_node([sq, constant(np.ones(1))],
                                                        [(), (0,)], (0,))
    else:
        residuals = constant(np.zeros((0,)))
    return x, residuals, None, svd_values(ae)


register_numpy(np.linalg.qr, qr)
language_function(Language(("pinv",), "Moore–Penrose pseudo-inverse (rcond 1e-15)",
                           "(m,n) -> (n,m)"), lambda a: pinv(a, 1e-15))
register_numpy(np.linalg.lstsq, lstsq)

"""Symmetric eigenvalues and eigenvectors (layer 3): ``numpy.linalg.eigh`` and
``eigvalsh`` on expressions, each output an operation of its own (the nodes share
one decomposition per matrix).

Like NumPy, every operation reads the **lower triangle** of its matrix operand;
its derivative is taken along symmetric directions (it symmetrizes ``dA``), so
the gradient of a function of a symmetric matrix is symmetric (DESIGN.md §1).

- ``eigh_values(A)`` (``λ``, ascending) and ``eigh_vectors(A)`` (``V``, NumPy's
  column signs).  ``dλᵢ = vᵢᵀ dA vᵢ`` (through ``eigh_project``);
  ``dV = V (F ∘ Vᵀ dA V)`` with the gap matrix ``F = inverse_gaps(λ)``.
- ``inverse_gaps(λ)``: ``F_ij = 1/(λ_j − λ_i)``, 0 on the diagonal.  Evaluating it
  at a repeated eigenvalue raises :class:`~matgrad.errors.DegenerateSpectrumError`:
  eigenvectors (and the second derivative of a single eigenvalue) have no
  derivative there.  Nothing else needs it.
- ``eigh_project(A, E) = diag(Vᵀ sym(E) V)`` and ``eigh_lift(A, c) = V diag(c) Vᵀ``:
  the derivative of the eigenvalues and its transpose (linear in ``E``, ``c``,
  which may carry leading batch axes: how derivatives with extra axes flow).
  When reverse accumulation produces ``eigh_lift(A, g(λ))`` for a function ``g`` of
  the same eigenvalues — the gradient of ``Σ f(λᵢ)`` written with NumPy — it is
  simplified to the matrix function ``eigh_function(A, g)``
  (:mod:`matgrad.ops.symmetric_functions`), whose derivatives are finite at ties:
  ``np.sum(np.log(np.linalg.eigvalsh(S)))`` has the Hessian of ``log det S`` at
  ``S = I`` too.  (Forward accumulation differentiates the eigenvalues one by one
  and raises there; ``mode="auto"`` accumulates gradients in reverse.)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from matgrad._types import FloatArray as Array
from matgrad._types import Shape
from matgrad.errors import InvalidArgumentError, NonFiniteError, ShapeError
from matgrad.ir.apply import Apply, Fuzz, Language, Linear, Notation, Operation, Sample
from matgrad.ir.expr import Expr, Zero, add, as_expr, constant, einsum_node, zeros
from matgrad.ops.core import transpose
from matgrad.ops.registry import declare, operation, register_numpy
from matgrad.ops.spectral_numerics import (
    DECOMPOSITIONS,
    DELTA,
    TAYLOR_TERMS,
    ScalarFunction,
    batch_labels,
    batch_ndim,
    batch_shape,
    check_distinct,
    cubic_flops,
    dd_tensor,
    eigh_cached,
    entrywise_square,
    real_dtype,
    second_live,
    separated,
    spectral_terms,
    square_samples,
    square_size,
    sym,
)

__all__ = [
    "eigh",
    "eigh_lift",
    "eigh_project",
    "eigh_values",
    "eigh_vectors",
    "eigvalsh",
    "inverse_gaps",
]

_SPACING = 15.0


def _eigvalsh(a: Any) -> Array:
    hit = DECOMPOSITIONS.peek("eigh", np.asarray(a))
    return np.array(hit[0]) if hit is not None else np.linalg.eigvalsh(a)


def _eigvecsh(a: Any) -> Array:
    return np.array(eigh_cached(np.asarray(a))[1])


# =====================================================================================
# Portable kernels (any array engine, batched over leading axes; Operation.array_api)
# =====================================================================================


def lower_symmetric(ns: Any, a: Any) -> Any:
    """The symmetric matrix whose lower triangle is ``a``'s (what LAPACK reads with
    ``UPLO='L'``; JAX would symmetrize ``a`` itself), on any engine."""
    n = a.shape[-1]
    below = ns.asarray(np.tril(np.ones((n, n)), -1), like=a)
    diag = ns.asarray(np.eye(n), like=a)
    low = a * below
    return low + ns.matrix_transpose(low) + a * diag


def checked_finite(ns: Any, x: Any, core: int, fail: Callable[[], None]) -> Any:
    """``x``, after the check that its entries are finite (``fail()`` raises): on Dask
    block by block in the lazy graph; elsewhere on one flag copied to the host."""
    if ns.name == "dask":
        return ns.checked(lambda b: None if np.all(np.isfinite(b)) else fail(), x, core)
    ns.checked(lambda flag: None if bool(flag) else fail(), ns.all(ns.isfinite(x)), 0)
    return x


def finite_or_raise(ns: Any, result: Any, what: str) -> Any:
    """``result``, checked finite on the engines that return NaN/inf where NumPy's
    LAPACK call raises ``LinAlgError`` (JAX, CuPy)."""
    if ns.name in ("numpy", "torch", "dask"):
        return result

    def fail() -> None:
        raise np.linalg.LinAlgError(f"{what}: the matrix is singular or not positive definite")

    return checked_finite(ns, result, 2, fail)


def with_extra_axes(ns: Any, t: Any, lead: tuple[int, ...], extra: int, core: int) -> Any:
    """``t`` (batch axes ``lead``, then ``core`` axes) with ``extra`` unit axes between,
    to broadcast against an operand that has ``extra`` direction axes there."""
    shape = (*lead, *([1] * extra), *t.shape[t.ndim - core:])
    return ns.reshape(t, shape)


def eigh_portable(ns: Any, a: Any) -> tuple[Any, Any]:
    """``(λ ascending, V)`` of the symmetric matrix whose lower triangle is ``a``'s."""
    w, v = ns.linalg.eigh(lower_symmetric(ns, a))
    return w, v


def _values_portable(ns: Any, attrs: Mapping[str, Any]) -> Callable[..., Any]:
    return lambda a: ns.linalg.eigvalsh(lower_symmetric(ns, a))


def _vectors_portable(ns: Any, attrs: Mapping[str, Any]) -> Callable[..., Any]:
    return lambda a: eigh_portable(ns, a)[1]


def gaps_portable(ns: Any, w: Any, square: bool, what: str, nonzero: bool) -> Any:
    """``1/(w_j − w_i)`` (``square``: ``1/(w_j² − w_i²)``), 0 on the diagonal, after the
    check that no two of ``w`` tie (:func:`check_distinct`: on the host, or on Dask
    inside the lazy graph)."""
    w = ns.checked(lambda x: check_distinct(x, what, nonzero=nonzero), w, 1)
    n = w.shape[-1]
    eye = ns.asarray(np.eye(n), like=w)
    diff = w[..., None, :] - w[..., :, None]
    if square:
        diff = diff * (w[..., None, :] + w[..., :, None])
    return (1 - eye) / (diff + eye)


def _gaps_portable(ns: Any, attrs: Mapping[str, Any]) -> Callable[..., Any]:
    return lambda w: gaps_portable(ns, w, False, "inverse_gaps (eigenvector derivatives)",
                                   False)


def _project_portable(ns: Any, attrs: Mapping[str, Any]) -> Callable[..., Any]:
    def kernel(a: Any, e: Any) -> Any:
        v = with_extra_axes(ns, eigh_portable(ns, a)[1], tuple(a.shape[:-2]),
                            e.ndim - a.ndim, 2)
        s = (e + ns.matrix_transpose(e)) / 2
        return ns.sum(v * ns.matmul(s, v), axis=-2)

    return kernel


def _lift_portable(ns: Any, attrs: Mapping[str, Any]) -> Callable[..., Any]:
    def kernel(a: Any, c: Any) -> Any:
        v = with_extra_axes(ns, eigh_portable(ns, a)[1], tuple(a.shape[:-2]),
                            c.ndim - a.ndim + 1, 2)
        return ns.matmul(v * c[..., None, :], ns.matrix_transpose(v))

    return kernel


def scalar_portable(ns: Any, f: ScalarFunction, x: Any) -> Any:
    if f.kind != "power":
        return getattr(ns, f.kind)(x)
    return ns.ones_like(x) if f.p == 0 else x**f.p


def _taylor_portable(ns: Any, f: ScalarFunction, nodes: list[Any]) -> Any:
    """:func:`_taylor` with all ``TAYLOR_TERMS`` terms: coefficients as functions of
    the nodes' mean ``m``, complete homogeneous polynomials by their recurrence."""
    r = len(nodes) - 1
    m = sum(nodes[1:], nodes[0]) / (r + 1)
    ks = range(r, r + TAYLOR_TERMS + 1)
    s: Any = 1.0
    if f.kind == "exp":
        coeff = [ns.exp(m) / float(math.factorial(k)) for k in ks]
    elif f.kind in ("sin", "cos"):
        shift = 0.0 if f.kind == "sin" else math.pi / 2
        coeff = [ns.sin(m + (shift + k * math.pi / 2)) / float(math.factorial(k)) for k in ks]
    else:
        nonzero = m != 0
        s = ns.where(nonzero, m, 1.0)
        if f.kind == "log":
            coeff = [(1.0 if k % 2 else -1.0) / (k * s**r) for k in ks]
        else:
            scaled = s ** (f.p - r) if f.p != r else ns.ones_like(m)
            coeff = [ns.where(nonzero, math.prod((f.p - j) / (j + 1) for j in range(k)) * scaled,
                              1.0 if k == f.p else 0.0) for k in ks]
    h = [ns.ones_like(m)] + [ns.zeros_like(m)] * TAYLOR_TERMS
    for x in nodes:
        t = (x - m) / s
        for q in range(1, TAYLOR_TERMS + 1):
            h[q] = h[q] + t * h[q - 1]
    return sum((c * hq for c, hq in zip(coeff[1:], h[1:])), coeff[0] * h[0])


def _dd_portable(ns: Any, f: ScalarFunction, nodes: list[Any]) -> Any:
    """:func:`_dd_sorted` on sorted node arrays: the quotient recurrence where the
    nodes spread more than ``DELTA`` times their scale, the Taylor series elsewhere."""
    if len(nodes) == 1:
        return scalar_portable(ns, f, nodes[0])
    spread = nodes[-1] - nodes[0]
    scale = ns.maximum(ns.abs(nodes[0]), ns.abs(nodes[-1])) if f.kind in ("power", "log") \
        else 1.0
    near = spread <= DELTA * scale
    far = (_dd_portable(ns, f, nodes[1:]) - _dd_portable(ns, f, nodes[:-1])) \
        / ns.where(near, 1.0, spread)
    return ns.where(near, _taylor_portable(ns, f, nodes), far)


def _dd_each(f: ScalarFunction, r: int, w: Any) -> Array:
    n = w.shape[-1]
    flat = [dd_tensor(f, v, r) for v in np.reshape(w, (-1, n))]
    return np.reshape(np.stack(flat), (*w.shape[:-1], *(n,) * (r + 1)))


def dd_tensor_portable(ns: Any, f: ScalarFunction, w: Any, r: int) -> Any:
    """:func:`dd_tensor` of the last axis of ``w`` on any engine (leading axes: batch);
    the checks of ``f``'s domain and of overflow on the host (on Dask, lazily)."""
    lead, n = tuple(w.shape[:-1]), w.shape[-1]
    if ns.name == "dask":  # NumPy's on the small vectors, one lazy task: far fewer tasks
        shape = (*lead, *(n,) * (r + 1))  # than the entrywise series below
        return ns.linalg.apply(functools.partial(_dd_each, f, r), shape, w.dtype)(w)
    what = f"divided differences of {f}"
    w = ns.checked(lambda x: f.check(x, what), w, 1)
    nodes = [ns.reshape(w, (*lead, *(n if j == k else 1 for j in range(r + 1))))
             for k in range(r + 1)]
    for top in range(r, 0, -1):  # sorted, as min/max pairs (a sorting network)
        for j in range(top):
            nodes[j], nodes[j + 1] = (ns.minimum(nodes[j], nodes[j + 1]),
                                      ns.maximum(nodes[j], nodes[j + 1]))
    out = _dd_portable(ns, f, nodes)

    def fail() -> None:
        raise NonFiniteError(f"{what} overflow at these eigenvalues")

    return checked_finite(ns, ns.broadcast_to(out, (*lead, *(n,) * (r + 1))), r + 1, fail)


# =====================================================================================
# eigh_values, eigh_vectors, inverse_gaps
# =====================================================================================


def _d_eigh_values(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``dλᵢ = vᵢᵀ dA vᵢ`` for simple eigenvalues (Magnus & Neudecker; Giles 2008 §3.1),
    as ``eigh_project(A, dA)`` (symmetrized): its transpose ``eigh_lift`` turns
    gradients of ``Σ f(λᵢ)`` into ``eigh_function(A, f′)``, finite at ties."""
    assert isinstance(node, Apply)
    return eigh_project(node.x, d[0])


def _d_eigh_vectors(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``dV = V (F ∘ Vᵀ sym(dA) V)`` with ``F_ij = 1/(λ_j − λ_i)``, 0 on the diagonal
    (Giles 2008 §3.1); needs distinct eigenvalues (``inverse_gaps`` raises at ties)."""
    assert isinstance(node, Apply)
    a = node.x
    return einsum_node(
        [node, inverse_gaps(eigh_values(a)), node, sym(d[0]), node],
        [("a", "j"), ("j", "b"), ("p", "j"), ("p", "q"), ("q", "b")], ("a", "b"),
    )


def _d_inverse_gaps(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``dF_ij = −F_ij² (dλ_j − dλ_i)`` from ``F_ij = 1/(λ_j − λ_i)``."""
    f, dw = node, d[0]
    return add([
        einsum_node([f, f, dw], [("i", "j"), ("i", "j"), ("i",)], ("i", "j")),
        einsum_node([f, f, dw], [("i", "j"), ("i", "j"), ("j",)], ("i", "j")),
    ], [1, -1])


def _inverse_gaps(w: Any) -> Array:
    w = np.asarray(w)
    check_distinct(w, "inverse_gaps (eigenvector derivatives)")
    diff = w[None, :] - w[:, None]
    np.fill_diagonal(diff, 1.0)
    out = np.asarray(1.0 / diff)
    np.fill_diagonal(out, 0.0)
    return out


def _gaps_source(var: str, args: Sequence[str], fresh: Callable[[str], str],
                 node: Expr) -> list[str]:
    d = fresh("gap")
    return [f"{d} = {args[0]}[None, :] - {args[0]}[:, None] + np.eye({args[0]}.size)",
            f"{var} = 1.0 / {d} - np.eye({args[0]}.size)"]


eigh_values: Callable[..., Expr] = declare(Operation(
    name="eigh_values",
    family="spectral",
    doc="eigenvalues of a symmetric matrix (lower triangle read), ascending",
    shape=lambda shapes, attrs: (square_size(shapes[0], "eigvalsh"),),
    numpy=_eigvalsh,
    array_api=_values_portable,
    stacks=True,
    dtype=real_dtype,
    differential=_d_eigh_values,
    flops=lambda shapes: 4 * shapes[0][0] ** 3,
    notation=Notation(text="eigvalsh({0})", latex=r"\lambda{0:arg}",
                      numpy="np.linalg.eigvalsh({0})"),
    language=Language(("eigvalsh",), "eigenvalues of a symmetric matrix, ascending",
                      "(n,n) -> (n)"),
    samples=(Sample("eigh-values", lambda a: eigh_values(separated(a)), square_samples,
                    ("general",)),),
    fuzz=(Fuzz("symmetric", bound=lambda lo, hi, n: max(abs(lo), abs(hi))),
          Fuzz("spd", bound=lambda lo, hi, n: hi)),
))
eigh_vectors: Callable[..., Expr] = declare(Operation(
    name="eigh_vectors",
    family="spectral",
    doc="orthonormal eigenvectors of a symmetric matrix (columns, NumPy's signs)",
    shape=lambda shapes, attrs: (square_size(shapes[0], "eigh"),) * 2,
    numpy=_eigvecsh,
    array_api=_vectors_portable,
    stacks=True,
    dtype=real_dtype,
    differential=_d_eigh_vectors,
    flops=cubic_flops,
    notation=Notation(text="eigvecsh({0})", latex=r"V{0:arg}", numpy="np.linalg.eigh({0})[1]"),
    language=Language(("eigvecsh",), "eigenvectors of a symmetric matrix (columns)",
                      "(n,n) -> (n,n)"),
    samples=(Sample("eigh-vectors-squared", lambda a: entrywise_square(eigh_vectors(separated(a))),
                    square_samples, ("general",)),),
    fuzz=(Fuzz("symmetric", bound=lambda lo, hi, n: 1.0, squared=True),),
))
inverse_gaps: Callable[..., Expr] = declare(Operation(
    name="inverse_gaps",
    family="spectral",
    doc="F[i, j] = 1/(w[j] − w[i]), 0 on the diagonal; raises where values repeat",
    shape=lambda shapes, attrs: (shapes[0][0],) * 2 if len(shapes[0]) == 1 else _not_vector(),
    numpy=_inverse_gaps,
    array_api=_gaps_portable,
    stacks=True,
    dtype=real_dtype,
    differential=_d_inverse_gaps,
    flops=lambda shapes: shapes[0][0] ** 2,
    notation=Notation(numpy_lines=_gaps_source),
    samples=(Sample("inverse-gaps", lambda w: inverse_gaps(add([w, constant(
        _SPACING * np.arange(w.shape[0], dtype=float))])), lambda n, m: ((n,),), ("general",)),),
))


def _not_vector() -> Shape:
    raise ShapeError("inverse_gaps takes a vector")


# =====================================================================================
# eigh_project, eigh_lift: dλ and its transpose
# =====================================================================================


def _project_shape(shapes: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Shape:
    n = square_size(shapes[0], "eigh_project")
    return (*batch_shape(shapes[1], n, 2, "eigh_project"), n)


def _lift_shape(shapes: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Shape:
    n = square_size(shapes[0], "eigh_lift")
    return (*batch_shape(shapes[1], n, 1, "eigh_lift"), n, n)


def _d_eigh_project(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d diag(Vᵀ S V)ᵢ = 2 Σ_k F_ki (Vᵀ sym(dA) V)_ki (Vᵀ S V)_ki + diag(Vᵀ dS V)ᵢ``
    with ``S = sym(E)``, ``F_ki = 1/(λ_i − λ_k)``: the second derivative of a simple
    eigenvalue (raises at ties through ``inverse_gaps``)."""
    assert isinstance(node, Apply)
    a, e = node.args
    da, de = d
    terms: list[Expr] = []
    coeffs: list[float] = []
    if not isinstance(de, Zero):
        terms.append(eigh_project(a, de))
        coeffs.append(1.0)
    if not isinstance(da, Zero):
        v, b = eigh_vectors(a), batch_labels("b", batch_ndim(e, 2))
        terms.append(einsum_node(
            [inverse_gaps(eigh_values(a)), v, sym(da), v, v, sym(e), v],
            [("k", "i"), ("p", "k"), ("p", "q"), ("q", "i"), ("r", "k"), (*b, "r", "s"),
             ("s", "i")], (*b, "i")))
        coeffs.append(2.0)
    return add(terms, coeffs) if terms else zeros(node.shape, node.dtype)


def _d_eigh_lift(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d (V diag(c) Vᵀ) = V [(F ∘ P) C + C (F ∘ P)ᵀ] Vᵀ + V diag(dc) Vᵀ`` with
    ``P = Vᵀ sym(dA) V``, entrywise ``P_ij F_ij (c_j − c_i)`` (raises at ties through
    ``inverse_gaps``; functions of the eigenvalues become ``eigh_function`` first)."""
    assert isinstance(node, Apply)
    a, c = node.args
    da, dc = d
    terms: list[Expr] = []
    coeffs: list[float] = []
    if not isinstance(dc, Zero):
        terms.append(eigh_lift(a, dc))
        coeffs.append(1.0)
    if not isinstance(da, Zero):
        v, f, b = eigh_vectors(a), inverse_gaps(eigh_values(a)), batch_labels("b", batch_ndim(c, 1))
        s = sym(da)
        for end, sign in (("j", 1.0), ("i", -1.0)):
            terms.append(einsum_node(
                [v, v, s, v, f, c, v],
                [("a", "i"), ("p", "i"), ("p", "q"), ("q", "j"), ("i", "j"), (*b, end),
                 ("b", "j")], (*b, "a", "b")))
            coeffs.append(sign)
    return add(terms, coeffs) if terms else zeros(node.shape, node.dtype)


def _project_kernel(a: Any, e: Any) -> Array:
    v = eigh_cached(np.asarray(a))[1]
    e = np.asarray(e)
    s = (e + np.swapaxes(e, -1, -2)) / 2
    return np.asarray(np.sum(v * (s @ v), axis=-2))


def _lift_kernel(a: Any, c: Any) -> Array:
    v = eigh_cached(np.asarray(a))[1]
    return np.asarray((v * np.asarray(c)[..., None, :]) @ v.T)


def _project_source(var: str, args: Sequence[str], fresh: Callable[[str], str],
                    node: Expr) -> list[str]:
    a, e = args
    v = fresh("V")
    return [f"{v} = np.linalg.eigh({a})[1]",
            f'{var} = np.einsum("pi,...pq,qi->...i", {v}, ({e} + np.swapaxes({e}, -1, -2)) / 2, '
            f"{v})"]


def _lift_source(var: str, args: Sequence[str], fresh: Callable[[str], str],
                 node: Expr) -> list[str]:
    a, c = args
    v = fresh("V")
    return [f"{v} = np.linalg.eigh({a})[1]",
            f'{var} = np.einsum("ai,...i,bi->...ab", {v}, {c}, {v})']


def _lift_simplify(node: Expr) -> Expr | None:
    """``V diag(g(λ)) Vᵀ`` for a function ``g`` of the same eigenvalues is
    ``eigh_function(A, g)`` (summed over the terms of ``g``)."""
    assert isinstance(node, Apply)
    a, c = node.args
    if c.ndim != 1:
        return None
    parts = spectral_terms(c, eigh_values(a))
    if parts is None:
        return None
    return add([operation("eigh_function")(a, fn) for _, fn in parts], [k for k, _ in parts])


def _project_pull(node: Expr, k: int, ct: Expr, extra: Shape) -> Expr:
    """Transpose: ``eigh_lift`` (the lift's output is symmetric)."""
    assert isinstance(node, Apply)
    return eigh_lift(node.x, ct)


def _lift_pull(node: Expr, k: int, ct: Expr, extra: Shape) -> Expr:
    """Transpose: ``eigh_project`` (it symmetrizes the cotangent)."""
    assert isinstance(node, Apply)
    return eigh_project(node.x, ct)


def _project_canonical(a: Expr, e: Expr) -> Expr | None:
    if isinstance(e, Zero):
        return zeros((*e.shape[:-1],), real_dtype((a.dtype, e.dtype), {}))
    return None


def _lift_canonical(a: Expr, c: Expr) -> Expr | None:
    if isinstance(c, Zero):
        return zeros((*c.shape, c.shape[-1]), real_dtype((a.dtype, c.dtype), {}))
    return None


eigh_project: Callable[..., Expr] = declare(Operation(
    name="eigh_project",
    family="spectral",
    doc="diag(Vᵀ sym(E) V) for the eigenvectors V of A (the eigenvalues' derivative)",
    shape=_project_shape,
    numpy=_project_kernel,
    array_api=_project_portable,
    stacks=True,
    dtype=real_dtype,
    arity=2,
    canonical=_project_canonical,
    differential=_d_eigh_project,
    linear=Linear(second_live(lambda node, t: eigh_project(node.x, t), 2), _project_pull),
    flops=cubic_flops,
    notation=Notation(numpy_lines=_project_source),
    samples=(Sample("eigh-project", lambda a, e: eigh_project(separated(a), e),
                    lambda n, m: ((n, n), (n, n)), ("general", "general")),),
))
eigh_lift: Callable[..., Expr] = declare(Operation(
    name="eigh_lift",
    family="spectral",
    doc="V diag(c) Vᵀ for the eigenvectors V of A (the transpose of eigh_project)",
    shape=_lift_shape,
    numpy=_lift_kernel,
    array_api=_lift_portable,
    stacks=True,
    dtype=real_dtype,
    arity=2,
    canonical=_lift_canonical,
    simplify=_lift_simplify,
    differential=_d_eigh_lift,
    linear=Linear(second_live(lambda node, t: eigh_lift(node.x, t), 1), _lift_pull),
    flops=cubic_flops,
    notation=Notation(numpy_lines=_lift_source),
    samples=(Sample("eigh-lift", lambda a, c: eigh_lift(separated(a), c),
                    lambda n, m: ((n, n), (n,)), ("general", "general")),),
))


# =====================================================================================
# Composites and entry points
# =====================================================================================


def _upper(a: Any, uplo: str, name: str) -> Expr:
    ae = as_expr(a)
    if uplo not in ("L", "U"):
        raise InvalidArgumentError(f"{name}: UPLO must be 'L' or 'U', got {uplo!r}")
    if ae.ndim != 2:
        raise ShapeError(f"{name} takes one square matrix (no stacks), got shape {ae.shape}")
    return transpose(ae) if uplo == "U" else ae


def eigvalsh(a: Any, UPLO: str = "L") -> Expr:
    """The eigenvalues of a symmetric matrix, ascending (``np.linalg.eigvalsh``;
    ``UPLO="U"`` reads the upper triangle)."""
    return eigh_values(_upper(a, UPLO, "eigvalsh"))


def eigh(a: Any, UPLO: str = "L") -> Any:
    """``(eigenvalues, eigenvectors)`` as ``np.linalg.eigh`` returns them (its
    ``EighResult``), each a node of its own."""
    ae = _upper(a, UPLO, "eigh")
    result = getattr(np.linalg, "_linalg", None)
    values, vectors = eigh_values(ae), eigh_vectors(ae)
    if result is not None and hasattr(result, "EighResult"):
        return result.EighResult(values, vectors)
    return values, vectors


register_numpy(np.linalg.eigh, eigh)
register_numpy(np.linalg.eigvalsh, eigvalsh)

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

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from matgrad._types import FloatArray as Array
from matgrad._types import Shape
from matgrad.errors import InvalidArgumentError, ShapeError
from matgrad.ir.apply import Apply, Fuzz, Language, Linear, Notation, Operation, Sample
from matgrad.ir.expr import Expr, Zero, add, as_expr, constant, einsum_node, zeros
from matgrad.ops.core import transpose
from matgrad.ops.registry import declare, operation, register_numpy
from matgrad.ops.spectral_numerics import (
    DECOMPOSITIONS,
    batch_labels,
    batch_ndim,
    batch_shape,
    check_distinct,
    cubic_flops,
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

"""The singular value decomposition (layer 3): ``numpy.linalg.svd`` on expressions,
each output an operation of its own (the nodes share one decomposition per matrix).

- ``svd_values(A)`` (``s``, descending, ``k = min(m, n)`` of them):
  ``dsᵢ = uᵢᵀ dA vᵢ``, through ``svd_project(A, E) = diag(Uᵀ E V)``, whose transpose
  is ``svd_lift(A, c) = U diag(c) Vᵀ``.  Finite at repeated singular values.
- ``svd_u(A, full_matrices)``, ``svd_vh(A, full_matrices)``: Townsend (2016),
  ``dU = U (G ∘ (P S + S Pᵀ)) + (I − UUᵀ) dA V S⁻¹`` and
  ``dV = V (G ∘ (S P + Pᵀ S)) + (I − VVᵀ) dAᵀ U S⁻¹`` with ``P = Uᵀ dA V`` and
  ``G = svd_gaps(s)``, ``G_ij = 1/((s_j − s_i)(s_j + s_i))`` (the factored gap never
  squares a singular value on its own).  ``svd_gaps`` raises
  :class:`~matgrad.errors.DegenerateSpectrumError` at repeated or zero singular
  values: singular vectors have no derivative there (at a zero singular value of
  a square matrix a column of ``U`` or ``V`` flips sign).  With
  ``full_matrices=True`` the extra columns ``U₂`` (``V₂``) of a rectangular ``A``
  follow the gauge ``U₂ᵀ dU₂ = 0``: they turn only as much as orthogonality to the
  moving ``U₁`` forces; functions that do not depend on the basis of the
  complement (``U₂U₂ᵀ``) have the derivative NumPy's values have.
- ``svd_power(A, p) = U diag(sᵖ) Vᵀ`` (``p = 0``: the polar factor ``U Vᵀ``, the
  gradient of the nuclear norm).  Gradients ``svd_lift(A, Σ αₖ s^pₖ)`` (of
  ``Σ sᵢ``, ``Σ log sᵢ``, Schatten norms) simplify to it; its derivative is that
  of ``A (AᵀA)^((p−1)/2)`` through :func:`~matgrad.ops.spectral.eigh_function`,
  finite at repeated singular values while ``A`` has full rank.

Composites: ``svd`` (``np.linalg.svd``, all its options) and ``svdvals``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from matgrad._types import FloatArray as Array
from matgrad._types import Shape
from matgrad.errors import NonFiniteError, ShapeError
from matgrad.ir.apply import Apply, Fuzz, Language, Linear, Notation, Operation, Sample
from matgrad.ir.expr import Expr, Zero, add, as_expr, constant, einsum_node, zeros
from matgrad.ops.core import matmul, transpose
from matgrad.ops.det_numerics import (
    svd_gaps_portable,
    svd_lift_portable,
    svd_power_portable,
    svd_project_portable,
    svd_u_portable,
    svd_values_portable,
    svd_vh_portable,
)
from matgrad.ops.elementwise import power
from matgrad.ops.registry import declare, register_numpy
from matgrad.ops.spectral_numerics import (
    DECOMPOSITIONS,
    check_distinct,
    gram_power,
    real_dtype,
    second_live,
    spectral_terms,
)
from matgrad.ops.symmetric_functions import eigh_frechet1, eigh_function

__all__ = [
    "complement_projector",
    "embed",
    "real_dtype",
    "separated_rect",
    "svd",
    "svd_gaps",
    "svd_lift",
    "svd_power",
    "svd_project",
    "svd_u",
    "svd_values",
    "svd_vh",
    "svdvals",
]


_real = real_dtype


def _cubic(shapes: Sequence[Shape]) -> int:
    m, n = shapes[0][0], shapes[0][-1]
    return 4 * m * n * min(m, n)


def embed(rows: int, cols: int, offset: int = 0) -> Expr:
    """The constant ``rows × cols`` matrix with ones on the diagonal ``−offset``:
    ``X @ embed(n, k)`` is the first ``k`` columns of ``X``,
    ``X @ embed(n, n − k, k)`` the others."""
    return constant(np.eye(rows, cols, -offset))


_embed = embed
_SPACING = 15.0


def _fixed_orthogonal(n: int, seed: int) -> Array:
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return np.asarray(q)


def separated_rect(a: Expr, rotate: bool = True) -> Expr:
    """``a + P diag(10, 25, 40, …) Qᵀ`` with fixed orthogonal ``P``, ``Q`` (identities
    without ``rotate``): distinct singular values at least 3 apart and above 4 for
    any general ``a`` with entries in [−2, 2] (for samples)."""
    m, n = a.shape
    k = min(m, n)
    c = np.zeros((m, n))
    c[np.arange(k), np.arange(k)] = 10.0 + _SPACING * np.arange(k)
    if rotate:
        c = _fixed_orthogonal(m, m) @ c @ _fixed_orthogonal(n, 7 * n).T
    return add([a, constant(c)])


def _rect(n: int, m: int) -> tuple[Shape, ...]:
    return ((n, m),)


# =====================================================================================
# The SVD: values, vectors, gaps
# =====================================================================================


def _svd(a: Any, full: bool) -> tuple[Array, Array, Array]:
    kind = "svd-full" if full else "svd"
    u, s, vh = DECOMPOSITIONS.get(
        kind, np.asarray(a), lambda x: tuple(np.linalg.svd(x, full_matrices=full)))
    return u, s, vh


def _svd_values_kernel(a: Any) -> Array:
    a = np.asarray(a)
    for kind in ("svd", "svd-full"):
        hit = DECOMPOSITIONS.peek(kind, a)
        if hit is not None:
            return np.array(hit[1])
    return np.asarray(np.linalg.svd(a, compute_uv=False))


class _Frame:
    """The thin SVD of ``A`` as expressions, from the nodes of one decomposition
    (``full``: the full one, its leading columns), with ``dU``, ``dV`` for a
    direction ``H``."""

    def __init__(self, a: Expr, full: bool) -> None:
        self.a, self.full = a, full
        self.m, self.n = a.shape
        self.k = min(self.m, self.n)
        self.s = svd_values(a)
        u, vh = svd_u(a, full), svd_vh(a, full)
        self.u_all, self.v_all = u, transpose(vh)
        self.u = matmul(u, _embed(self.m, self.k)) if full and self.m > self.k else u
        self.v = matmul(self.v_all, _embed(self.n, self.k)) if full and self.n > self.k \
            else self.v_all

    def p(self, h: Expr) -> Expr:
        """``P = Uᵀ H V`` (``k × k``), shared by ``dU`` and ``dV``."""
        return einsum_node([self.u, h, self.v], [("p", "i"), ("p", "q"), ("q", "j")],
                           ("i", "j"))

    def d_u(self, h: Expr) -> Expr:
        """``dU = U (G ∘ (P S + S Pᵀ)) + (I − UUᵀ) H V S⁻¹``, ``P = Uᵀ H V`` (Townsend)."""
        u, v, s, g, p = self.u, self.v, self.s, svd_gaps(self.s), self.p(h)
        terms = [
            einsum_node([u, g, p, s], [("a", "j"), ("j", "b"), ("j", "b"), ("b",)], ("a", "b")),
            einsum_node([u, g, s, p], [("a", "j"), ("j", "b"), ("j",), ("b", "j")], ("a", "b")),
        ]
        coeffs = [1.0, 1.0]
        if self.m > self.k:
            sinv = power(s, -1.0)
            terms += [einsum_node([h, v, sinv], [("a", "q"), ("q", "b"), ("b",)], ("a", "b")),
                      einsum_node([u, p, sinv], [("a", "r"), ("r", "b"), ("b",)], ("a", "b"))]
            coeffs += [1.0, -1.0]
        return add(terms, coeffs)

    def d_v(self, h: Expr) -> Expr:
        """``dV = V (G ∘ (S P + Pᵀ S)) + (I − VVᵀ) Hᵀ U S⁻¹`` (Townsend)."""
        u, v, s, g, p = self.u, self.v, self.s, svd_gaps(self.s), self.p(h)
        terms = [
            einsum_node([v, g, s, p], [("a", "j"), ("j", "b"), ("j",), ("j", "b")], ("a", "b")),
            einsum_node([v, g, p, s], [("a", "j"), ("j", "b"), ("b", "j"), ("b",)], ("a", "b")),
        ]
        coeffs = [1.0, 1.0]
        if self.n > self.k:
            sinv = power(s, -1.0)
            terms += [einsum_node([h, u, sinv], [("p", "a"), ("p", "b"), ("b",)], ("a", "b")),
                      einsum_node([v, p, sinv], [("a", "r"), ("b", "r"), ("b",)], ("a", "b"))]
            coeffs += [1.0, -1.0]
        return add(terms, coeffs)

    def d_u_full(self, h: Expr) -> Expr:
        """``dU_full = dU₁ E₁ᵀ − U₁ S⁻¹ V₁ᵀ Hᵀ U₂ E₂ᵀ``: the gauge ``U₂ᵀ dU₂ = 0``."""
        du = matmul(self.d_u(h), transpose(_embed(self.m, self.k)))
        if self.m == self.k:
            return du
        u2 = matmul(self.u_all, _embed(self.m, self.m - self.k, self.k))
        rest = einsum_node(
            [self.u, power(self.s, -1.0), self.v, h, u2, _embed(self.m, self.m - self.k, self.k)],
            [("a", "i"), ("i",), ("q", "i"), ("p", "q"), ("p", "r"), ("b", "r")], ("a", "b"))
        return add([du, rest], [1, -1])

    def d_v_full(self, h: Expr) -> Expr:
        """``dV_full = dV₁ E₁ᵀ − V₁ S⁻¹ U₁ᵀ H V₂ E₂ᵀ`` (the same gauge)."""
        dv = matmul(self.d_v(h), transpose(_embed(self.n, self.k)))
        if self.n == self.k:
            return dv
        v2 = matmul(self.v_all, _embed(self.n, self.n - self.k, self.k))
        rest = einsum_node(
            [self.v, power(self.s, -1.0), self.u, h, v2, _embed(self.n, self.n - self.k, self.k)],
            [("a", "i"), ("i",), ("p", "i"), ("p", "q"), ("q", "r"), ("b", "r")], ("a", "b"))
        return add([dv, rest], [1, -1])


def _d_svd_values(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``dsᵢ = uᵢᵀ dA vᵢ`` (thin SVD), as ``svd_project(A, dA)``: finite at repeated
    singular values; at a zero singular value of a rectangular matrix it is the
    derivative for NumPy's choice of the null-space vectors (``|σ|`` has a kink)."""
    assert isinstance(node, Apply)
    return svd_project(node.x, d[0])


def _d_svd_u(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """Townsend (2016): ``dU = U (G ∘ (P S + S Pᵀ)) + (I − UUᵀ) dA V S⁻¹``,
    ``G_ij = 1/(s_j² − s_i²)``; full matrices: the gauge ``U₂ᵀ dU₂ = 0``."""
    assert isinstance(node, Apply)
    frame = _Frame(node.x, node.attrs["full_matrices"])
    return frame.d_u_full(d[0]) if frame.full else frame.d_u(d[0])


def _d_svd_vh(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``dVᵀ`` with Townsend's ``dV = V (G ∘ (S P + Pᵀ S)) + (I − VVᵀ) dAᵀ U S⁻¹``;
    full matrices: the gauge ``V₂ᵀ dV₂ = 0``."""
    assert isinstance(node, Apply)
    frame = _Frame(node.x, node.attrs["full_matrices"])
    return transpose(frame.d_v_full(d[0]) if frame.full else frame.d_v(d[0]))


def _svd_gaps(s: Any) -> Array:
    s = np.asarray(s)
    check_distinct(s, "svd_gaps (singular vector derivatives)", nonzero=True)
    diff = (s[None, :] - s[:, None]) * (s[None, :] + s[:, None])
    np.fill_diagonal(diff, 1.0)
    out = np.asarray(1.0 / diff)
    np.fill_diagonal(out, 0.0)
    return out


def _d_svd_gaps(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``dG_ij = −2 G_ij² (s_j ds_j − s_i ds_i)`` from ``G_ij = 1/(s_j² − s_i²)``."""
    assert isinstance(node, Apply)
    g, s, ds = node, node.x, d[0]
    return add([
        einsum_node([g, g, s, ds], [("i", "j"), ("i", "j"), ("i",), ("i",)], ("i", "j")),
        einsum_node([g, g, s, ds], [("i", "j"), ("i", "j"), ("j",), ("j",)], ("i", "j")),
    ], [2, -2])


def _svd_shapes(full: bool) -> Callable[[tuple[Shape, ...], Mapping[str, Any]], Shape]:
    def rule(shapes: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Shape:
        (s,) = shapes
        if len(s) != 2:
            raise ShapeError(f"svd takes one matrix (no stacks), got shape {s}")
        m, n = s
        k = min(m, n)
        if full:
            return (m, m if attrs["full_matrices"] else k)
        return (n if attrs["full_matrices"] else k, n)

    return rule


def _full_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {"full_matrices": bool(attrs["full_matrices"])}


def _svd_lines(index: int) -> Callable[[str, Sequence[str], Callable[[str], str], Expr],
                                       list[str]]:
    def lines(var: str, args: Sequence[str], fresh: Callable[[str], str], node: Expr) -> list[str]:
        assert isinstance(node, Apply)
        full = node.attrs["full_matrices"]
        return [f"{var} = np.linalg.svd({args[0]}, full_matrices={full})[{index}]"]

    return lines


def _sq(n: int, m: int) -> tuple[Shape, ...]:
    return ((n, n),)


svd_values: Callable[..., Expr] = declare(Operation(
    name="svd_values",
    family="singular",
    doc="the singular values of a matrix, descending (min(m, n) of them)",
    shape=lambda shapes, attrs: (min(*_check2(shapes[0])),),
    numpy=_svd_values_kernel,
    array_api=svd_values_portable,
    stacks=True,
    dtype=_real,
    differential=_d_svd_values,
    flops=_cubic,
    notation=Notation(text="svdvals({0})", latex=r"\sigma{0:arg}",
                      numpy="np.linalg.svd({0}, compute_uv=False)"),
    language=Language(("svdvals",), "singular values of a matrix, descending", "(m,n) -> (k)"),
    samples=(Sample("svd-values", lambda a: svd_values(separated_rect(a)), _rect, ("general",)),),
    fuzz=(Fuzz("full_rank", bound=lambda lo, hi, n: hi),),
))


def _check2(s: Shape) -> tuple[int, int]:
    if len(s) != 2:
        raise ShapeError(f"svd takes one matrix (no stacks), got shape {s}")
    return s[0], s[1]


def _u_kernel(a: Any, full_matrices: bool) -> Array:
    return np.array(_svd(a, full_matrices)[0])


def _vh_kernel(a: Any, full_matrices: bool) -> Array:
    return np.array(_svd(a, full_matrices)[2])


def complement_projector(q: Expr, k: int) -> Expr:
    """``Q₂ Q₂ᵀ`` for the columns ``Q₂`` of ``q`` after the first ``k``: the projector
    onto the complement, independent of how the basis ``Q₂`` is chosen."""
    q2 = q[:, k:]
    return matmul(q2, transpose(q2))


def _squared_entries(x: Expr) -> Expr:
    return einsum_node([x, x], [("i", "j"), ("i", "j")], ("i", "j"))


svd_u: Callable[..., Expr] = declare(Operation(
    name="svd_u",
    family="singular",
    doc="the left singular vectors U of A = U diag(s) Vh (columns; NumPy's signs)",
    shape=_svd_shapes(True),
    numpy=_u_kernel,
    array_api=svd_u_portable,
    stacks=True,
    attrs=("full_matrices",),
    check=_full_attrs,
    dtype=_real,
    differential=_d_svd_u,
    flops=_cubic,
    notation=Notation(numpy_lines=_svd_lines(0)),
    samples=(
        Sample("svd-u", lambda a: _squared_entries(svd_u(separated_rect(a), False)), _rect,
               ("general",)),
        Sample("svd-u-full-complement", lambda a: complement_projector(
            svd_u(separated_rect(a), True), a.shape[1]),
               lambda n, m: ((n + 1, n),), ("general",)),
    ),
    fuzz=(Fuzz("full_rank", bound=lambda lo, hi, n, full_matrices: 1.0,
               attrs=({"full_matrices": False},), squared=True),),
))
svd_vh: Callable[..., Expr] = declare(Operation(
    name="svd_vh",
    family="singular",
    doc="the right singular vectors Vh of A = U diag(s) Vh (rows; NumPy's signs)",
    shape=_svd_shapes(False),
    numpy=_vh_kernel,
    array_api=svd_vh_portable,
    stacks=True,
    attrs=("full_matrices",),
    check=_full_attrs,
    dtype=_real,
    differential=_d_svd_vh,
    flops=_cubic,
    notation=Notation(numpy_lines=_svd_lines(2)),
    samples=(
        Sample("svd-vh", lambda a: _squared_entries(svd_vh(separated_rect(a), False)), _rect,
               ("general",)),
        Sample("svd-vh-full-complement", lambda a: complement_projector(
            transpose(svd_vh(separated_rect(a), True)), a.shape[0]),
               lambda n, m: ((n, n + 1),), ("general",)),
    ),
    fuzz=(Fuzz("full_rank", bound=lambda lo, hi, n, full_matrices: 1.0,
               attrs=({"full_matrices": False},), squared=True),),
))
svd_gaps: Callable[..., Expr] = declare(Operation(
    name="svd_gaps",
    family="singular",
    doc="G[i, j] = 1/(s[j]² − s[i]²), 0 on the diagonal; raises at repeated or zero values",
    shape=lambda shapes, attrs: (shapes[0][0],) * 2,
    numpy=_svd_gaps,
    array_api=svd_gaps_portable,
    stacks=True,
    dtype=_real,
    differential=_d_svd_gaps,
    flops=lambda shapes: 3 * shapes[0][0] ** 2,
    notation=Notation(numpy_lines=lambda var, args, fresh, node: [
        f"{var} = 1.0 / ((({args[0]}[None, :] - {args[0]}[:, None]) * ({args[0]}[None, :] + "
        f"{args[0]}[:, None])) + np.eye({args[0]}.size)) - np.eye({args[0]}.size)"]),
    samples=(Sample("svd-gaps", lambda s: svd_gaps(add([s, constant(
        10.0 + _SPACING * np.arange(s.shape[0], dtype=float))])), lambda n, m: ((n,),),
        ("general",)),),
))


# =====================================================================================
# svd_project, svd_lift, svd_power: ds, its transpose, and U diag(sᵖ) Vᵀ
# =====================================================================================


def _operand(node: Expr) -> Expr:
    """The matrix operand of an ``svd_project`` or ``svd_lift`` node."""
    assert isinstance(node, Apply)
    return node.x


def _project_shape(shapes: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Shape:
    m, n = _check2(shapes[0])
    e = shapes[1]
    if len(e) < 2 or e[-2:] != (m, n):
        raise ShapeError(f"svd_project: operand of shape {e} is not (..., {m}, {n})")
    return (*e[:-2], min(m, n))


def _lift_shape(shapes: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Shape:
    m, n = _check2(shapes[0])
    c = shapes[1]
    if len(c) < 1 or c[-1] != min(m, n):
        raise ShapeError(f"svd_lift: operand of shape {c} is not (..., {min(m, n)})")
    return (*c[:-1], m, n)


def _batch_labels(count: int) -> tuple[Any, ...]:
    return tuple(("b", k) for k in range(count))


def _d_svd_project(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d (uᵢᵀ E vᵢ) = duᵢᵀ E vᵢ + uᵢᵀ E dvᵢ + uᵢᵀ dE vᵢ``, with Townsend's ``dU``, ``dV``
    (the second derivative of a singular value: raises at repeated or zero ones)."""
    assert isinstance(node, Apply)
    a, e = node.args
    da, de = d
    terms: list[Expr] = []
    if not isinstance(de, Zero):
        terms.append(svd_project(a, de))
    if not isinstance(da, Zero):
        frame, b = _Frame(a, False), _batch_labels(e.ndim - 2)
        terms.append(einsum_node([frame.d_u(da), e, frame.v],
                                 [("p", "i"), (*b, "p", "q"), ("q", "i")], (*b, "i")))
        terms.append(einsum_node([frame.u, e, frame.d_v(da)],
                                 [("p", "i"), (*b, "p", "q"), ("q", "i")], (*b, "i")))
    return add(terms) if terms else zeros(node.shape, node.dtype)


def _d_svd_lift(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d (U diag(c) Vᵀ) = dU diag(c) Vᵀ + U diag(c) dVᵀ + U diag(dc) Vᵀ`` (raises at
    repeated or zero singular values; powers of the singular values become
    ``svd_power`` first)."""
    assert isinstance(node, Apply)
    a, c = node.args
    da, dc = d
    terms: list[Expr] = []
    if not isinstance(dc, Zero):
        terms.append(svd_lift(a, dc))
    if not isinstance(da, Zero):
        frame, b = _Frame(a, False), _batch_labels(c.ndim - 1)
        terms.append(einsum_node([frame.d_u(da), c, frame.v],
                                 [("x", "i"), (*b, "i"), ("y", "i")], (*b, "x", "y")))
        terms.append(einsum_node([frame.u, c, frame.d_v(da)],
                                 [("x", "i"), (*b, "i"), ("y", "i")], (*b, "x", "y")))
    return add(terms) if terms else zeros(node.shape, node.dtype)


def _project_kernel(a: Any, e: Any) -> Array:
    u, _, vh = _svd(a, False)
    return np.asarray(np.sum(u * (np.asarray(e) @ vh.T), axis=-2))


def _lift_kernel(a: Any, c: Any) -> Array:
    u, _, vh = _svd(a, False)
    return np.asarray((u * np.asarray(c)[..., None, :]) @ vh)


def _lift_simplify(node: Expr) -> Expr | None:
    """``U diag(Σ αₖ s^pₖ) Vᵀ = Σ αₖ svd_power(A, pₖ)``."""
    assert isinstance(node, Apply)
    a, c = node.args
    if c.ndim != 1:
        return None
    parts = spectral_terms(c, svd_values(a))
    if parts is None or any(fn.kind != "power" for _, fn in parts):
        return None
    return add([svd_power(a, fn.p) for _, fn in parts], [k for k, _ in parts])


def _uvh_lines(spec: str) -> Callable[[str, Sequence[str], Callable[[str], str], Expr],
                                      list[str]]:
    def lines(var: str, args: Sequence[str], fresh: Callable[[str], str], node: Expr) -> list[str]:
        u, vh = fresh("U"), fresh("Vh")
        return [f"{u}, _, {vh} = np.linalg.svd({args[0]}, full_matrices=False)",
                f'{var} = np.einsum("{spec}", {u}, {args[1]}, {vh})']

    return lines


def _zero_canonical(shape_of: Callable[[Expr, Expr], Shape]) -> Callable[..., Expr | None]:
    def canonical(a: Expr, x: Expr) -> Expr | None:
        if isinstance(x, Zero):
            return zeros(shape_of(a, x), _real((a.dtype, x.dtype), {}))
        return None

    return canonical


svd_project: Callable[..., Expr] = declare(Operation(
    name="svd_project",
    family="singular",
    doc="diag(Uᵀ E V) for the thin SVD of A (the singular values' derivative)",
    shape=_project_shape,
    numpy=_project_kernel,
    array_api=svd_project_portable,
    stacks=True,
    arity=2,
    dtype=_real,
    canonical=_zero_canonical(lambda a, e: (*e.shape[:-2], min(a.shape))),
    differential=_d_svd_project,
    linear=Linear(second_live(lambda node, t: svd_project(node.x, t), 2),
                  lambda node, k, ct, extra: svd_lift(_operand(node), ct)),
    flops=_cubic,
    notation=Notation(numpy_lines=_uvh_lines("pi,...pq,iq->...i")),
    samples=(Sample("svd-project", lambda a, e: svd_project(separated_rect(a), e),
                    lambda n, m: ((m, min(n, 2)),) * 2, ("general", "general")),),
))
svd_lift: Callable[..., Expr] = declare(Operation(
    name="svd_lift",
    family="singular",
    doc="U diag(c) Vᵀ for the thin SVD of A (the transpose of svd_project)",
    shape=_lift_shape,
    numpy=_lift_kernel,
    array_api=svd_lift_portable,
    stacks=True,
    arity=2,
    dtype=_real,
    canonical=_zero_canonical(lambda a, c: (*c.shape[:-1], *a.shape)),
    simplify=_lift_simplify,
    differential=_d_svd_lift,
    linear=Linear(second_live(lambda node, t: svd_lift(node.x, t), 1),
                  lambda node, k, ct, extra: svd_project(_operand(node), ct)),
    flops=_cubic,
    notation=Notation(numpy_lines=_uvh_lines("ai,...i,ib->...ab")),
    samples=(Sample("svd-lift", lambda a, c: svd_lift(separated_rect(a), c),
                    lambda n, m: ((m, min(n, 2)), (min(m, n, 2),)), ("general", "general")),),
))


def _gram_function(a: Expr, q: float) -> Expr:
    """``(AᵀA)^q`` (``m ≥ n``) or ``(AAᵀ)^q``, through ``eigh_function``."""
    m, n = a.shape
    gram = (einsum_node([a, a], [("p", "i"), ("p", "j")], ("i", "j")) if m >= n
            else einsum_node([a, a], [("i", "p"), ("j", "p")], ("i", "j")))
    return eigh_function(gram, q)


def _power_canonical(a: Expr, *, p: float) -> Expr | None:
    return a if p == 1 else None


def _power_kernel(a: Any, p: float) -> Array:
    if DECOMPOSITIONS.peek("svd", np.asarray(a)) is None:  # no SVD at hand: try the Gram
        found = gram_power(np.asarray(a), p)
        if found is not None:
            return found
    u, s, vh = _svd(a, False)
    with np.errstate(divide="ignore"):
        sp = np.ones_like(s) if p == 0 else np.power(s, p)
    if not np.all(np.isfinite(sp)):
        raise NonFiniteError(f"svd_power(A, {p}): A has a zero singular value, where s ** {p} "
                             "is infinite")
    return np.asarray((u * sp) @ vh)


def _d_svd_power(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``U diag(sᵖ) Vᵀ = A (AᵀA)^q`` with ``q = (p − 1)/2`` (``(AAᵀ)^q A`` when
    ``m < n``), so ``d = dA (AᵀA)^q + A · D[(AᵀA)^q](dAᵀA + AᵀdA)`` (Daleckii–Krein
    on the Gram matrix: finite at repeated singular values; needs full rank when
    ``p < 1``, where it raises ``NonFiniteError`` otherwise)."""
    assert isinstance(node, Apply)
    a, (da,) = node.x, d
    q = (node.attrs["p"] - 1.0) / 2.0
    m, n = a.shape
    g = _gram_function(a, q)
    if m >= n:
        dgram = add([matmul(transpose(da), a), matmul(transpose(a), da)])
        gram = einsum_node([a, a], [("p", "i"), ("p", "j")], ("i", "j"))
        return add([matmul(da, g), matmul(a, eigh_frechet1(gram, dgram, q))])
    dgram = add([matmul(da, transpose(a)), matmul(a, transpose(da))])
    gram = einsum_node([a, a], [("i", "p"), ("j", "p")], ("i", "j"))
    return add([matmul(g, da), matmul(eigh_frechet1(gram, dgram, q), a)])


def _svd_power_lines(var: str, args: Sequence[str], fresh: Callable[[str], str],
                     node: Expr) -> list[str]:
    assert isinstance(node, Apply)
    u, s, vh = fresh("U"), fresh("s"), fresh("Vh")
    p = node.attrs["p"]
    sp = f"np.ones_like({s})" if p == 0 else f"{s} ** {p!r}"
    return [f"{u}, {s}, {vh} = np.linalg.svd({args[0]}, full_matrices=False)",
            f"{var} = ({u} * {sp}) @ {vh}"]


svd_power: Callable[..., Expr] = declare(Operation(
    name="svd_power",
    family="singular",
    doc="U diag(s ** p) Vh for the thin SVD of A (p = 0: the polar factor U Vh)",
    shape=lambda shapes, attrs: _check2(shapes[0]),
    numpy=_power_kernel,
    array_api=svd_power_portable,
    stacks=True,
    attrs=("p",),
    check=lambda attrs: {"p": float(attrs["p"])},
    dtype=_real,
    canonical=_power_canonical,
    differential=_d_svd_power,
    flops=_cubic,
    notation=Notation(numpy_lines=_svd_power_lines),
    samples=(
        Sample("svd-power-polar-spd", lambda a: svd_power(a, 0.0), _sq, ("spd",)),
        Sample("svd-power-inverse", lambda a: svd_power(separated_rect(a), -1.0), _rect,
               ("general",)),
    ),
    fuzz=(Fuzz("full_rank", bound=lambda lo, hi, n, p: max(lo**p, hi**p),
               attrs=({"p": 0.0}, {"p": -1.0}, {"p": 0.5}, {"p": 2.0})),),
))



# =====================================================================================
# Composites and entry points
# =====================================================================================


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True,
        hermitian: bool = False) -> Any:
    """``np.linalg.svd``: ``SVDResult(U, S, Vh)`` of nodes (``U``, ``Vh`` square with
    ``full_matrices``, NumPy's default), or the singular values alone without
    ``compute_uv``.  ``hermitian`` changes only how NumPy computes them; matgrad
    uses the general SVD (the same values; vectors may differ in sign)."""
    ae = as_expr(a)
    if ae.ndim != 2:
        raise ShapeError(f"svd takes one matrix (no stacks), got shape {ae.shape}")
    if not compute_uv:
        return svd_values(ae)
    full = bool(full_matrices)
    parts = (svd_u(ae, full), svd_values(ae), svd_vh(ae, full))
    result = getattr(getattr(np.linalg, "_linalg", None), "SVDResult", None)
    return result(*parts) if result is not None else parts


def svdvals(x: Any) -> Expr:
    """The singular values, descending (``np.linalg.svdvals``)."""
    return svd_values(x)


register_numpy(np.linalg.svd, svd)
if hasattr(np.linalg, "svdvals"):
    register_numpy(np.linalg.svdvals, svdvals)

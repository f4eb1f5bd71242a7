"""Functions of a symmetric matrix (layer 3): ``f(S) = V diag(f(λ)) Vᵀ`` of a
symmetric ``S = V diag(λ) Vᵀ`` and its Fréchet derivatives in Daleckii–Krein form,
which stay finite where eigenvalues repeat.

- ``eigh_function(A, f)`` for ``f`` a :class:`~matgrad.ops.spectral_numerics.ScalarFunction`
  (``exp``, ``log``, ``sin``, ``cos``, real powers ``x**p``; ``sqrt``, ``square``,
  ``reciprocal`` by name).  ``spectral_sum(A, f) = tr f(A) = Σ f(λᵢ)``.
- ``eigh_frechet1(A, E, f)`` and ``eigh_frechet2(A, E₁, E₂, f)``: ``D f(A)[E]`` and
  ``D²f(A)[E₁, E₂]`` as ``V (Σ_σ T ⋆ E′_σ(1) ⋆ ⋯) Vᵀ`` with ``E′ = Vᵀ sym(E) V`` and
  ``T`` the tensor of divided differences ``f[λ_i, …, λ_j]`` (``f⁽ʳ⁾/r!`` where
  nodes coincide; Daleckii & Krein 1965, Bhatia *Matrix Analysis* §V.3).  Both are
  self-adjoint in each ``E`` (which may carry leading batch axes), so reverse and
  forward accumulation keep them whole.  The third derivative is written out with
  ``V`` (:func:`frechet_explicit`): finite at ties, but differentiating it once
  more needs distinct eigenvalues.
- ``divided_difference(λ, f, r)``: the tensor ``T`` (``n^(r+1)`` entries), whose
  derivative repeats a node.

Like ``eigh``, the operations read the lower triangle of ``A`` and differentiate
along symmetric directions.  ``f`` outside its domain at an eigenvalue (``log`` of
a non-positive one, a negative power of a numerically zero one) raises
:class:`~matgrad.errors.NonFiniteError`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from matgrad._types import FloatArray as Array
from matgrad._types import Shape
from matgrad.errors import InvalidArgumentError, NonFiniteError, ShapeError
from matgrad.ir.apply import Apply, Fuzz, Language, Linear, Notation, Operation, Sample
from matgrad.ir.expr import Expr, Zero, add, as_expr, delta, einsum_node, is_symmetric, zeros
from matgrad.ops.core import matmul, trace
from matgrad.ops.registry import declare, language_function, operation
from matgrad.ops.spectral import (
    dd_tensor_portable,
    eigh_portable,
    eigh_values,
    eigh_vectors,
    scalar_portable,
    with_extra_axes,
)
from matgrad.ops.spectral_numerics import (
    ScalarFunction,
    batch_labels,
    batch_ndim,
    batch_shape,
    cubic_flops,
    dd_tensor,
    dd_tensor_source,
    eigh_cached,
    move_axes,
    real_dtype,
    scalar_function,
    second_live,
    separated,
    spd_inverse,
    square_samples,
    square_size,
    sym,
)

__all__ = [
    "divided_difference",
    "eigh_frechet1",
    "eigh_frechet2",
    "eigh_function",
    "frechet_explicit",
    "spectral_sum",
]


def frechet_explicit(
    a: Expr, slots: Sequence[tuple[Expr, tuple[Any, ...]]], out_batch: tuple[Any, ...],
    f: ScalarFunction,
) -> Expr:
    """``D^r f(A)[E₁, …, E_r] = V (Σ_σ Σ_k T[i, k₁, …, j] E′_σ₁[i,k₁] ⋯ E′_σr[k, j]) Vᵀ``
    written with ``V``, ``E′ = Vᵀ sym(E) V`` and ``T = divided_difference(λ, f, r)``
    (Daleckii–Krein; Bhatia, *Matrix Analysis*, §V.3).  ``slots`` are the ``E`` with
    the labels of their leading (batch) axes; the result has ``out_batch`` then two
    matrix axes (batch labels missing from it are summed)."""
    r = len(slots)
    v = eigh_vectors(a)
    t = divided_difference(eigh_values(a), f, r)
    chain = tuple(("c", k) for k in range(r + 1))
    terms = []
    for perm in itertools.permutations(range(r)):
        operands: list[Expr] = [v, t, v]
        indices: list[tuple[Any, ...]] = [("a", chain[0]), chain, ("b", chain[r])]
        for pos, slot in enumerate(perm):
            e, labels = slots[slot]
            p, q = ("p", pos), ("q", pos)
            operands += [v, sym(e), v]
            indices += [(p, chain[pos]), (*labels, p, q), (q, chain[pos + 1])]
        terms.append(einsum_node(operands, indices, (*out_batch, "a", "b")))
    return add(terms)


# =====================================================================================
# divided_difference
# =====================================================================================


# ---- portable kernels (any array engine, batched over leading axes) -------------------


def _dd_array_api(ns: Any, attrs: Mapping[str, Any]) -> Callable[..., Any]:
    return lambda w: dd_tensor_portable(ns, attrs["f"], w, attrs["r"])


def _function_array_api(ns: Any, attrs: Mapping[str, Any]) -> Callable[..., Any]:
    f = attrs["f"]

    def kernel(a: Any) -> Any:
        w, v = eigh_portable(ns, a)
        w = ns.checked(lambda x: f.check(x, f"eigh_function(A, {f})"), w, 1)
        values = scalar_portable(ns, f, w)
        return ns.matmul(v * values[..., None, :], ns.matrix_transpose(v))

    return kernel


def _rotated_portable(ns: Any, v: Any, e: Any, lead: tuple[int, ...]) -> Any:
    """``Vᵀ sym(E) V`` with ``V`` widened over ``E``'s direction axes."""
    v = with_extra_axes(ns, v, lead, e.ndim - len(lead) - 2, 2)
    s = (e + ns.matrix_transpose(e)) / 2
    return ns.matmul(ns.matmul(ns.matrix_transpose(v), s), v), v


def _frechet1_array_api(ns: Any, attrs: Mapping[str, Any]) -> Callable[..., Any]:
    f = attrs["f"]

    def kernel(a: Any, e: Any) -> Any:
        lead = tuple(a.shape[:-2])
        w, v = eigh_portable(ns, a)
        k = with_extra_axes(ns, dd_tensor_portable(ns, f, w, 1), lead, e.ndim - a.ndim, 2)
        p, v = _rotated_portable(ns, v, e, lead)
        return ns.matmul(ns.matmul(v, k * p), ns.matrix_transpose(v))

    return kernel


def _frechet2_array_api(ns: Any, attrs: Mapping[str, Any]) -> Callable[..., Any]:
    f = attrs["f"]

    def kernel(a: Any, e1: Any, e2: Any) -> Any:
        lead, n = tuple(a.shape[:-2]), a.shape[-1]
        w, v = eigh_portable(ns, a)
        t = dd_tensor_portable(ns, f, w, 2)
        b1, b2 = tuple(e1.shape[len(lead):-2]), tuple(e2.shape[len(lead):-2])
        p1 = ns.reshape(_rotated_portable(ns, v, e1, lead)[0], (*lead, -1, n, n))
        p2 = ns.reshape(_rotated_portable(ns, v, e2, lead)[0], (*lead, -1, n, n))
        z = "Z" if lead else ""
        y = (ns.einsum(f"{z}ikj,{z}Pik,{z}Qkj->{z}PQij", t, p1, p2)
             + ns.einsum(f"{z}ikj,{z}Qik,{z}Pkj->{z}PQij", t, p2, p1))
        vv = with_extra_axes(ns, v, lead, 2, 2)
        out = ns.matmul(ns.matmul(vv, y), ns.matrix_transpose(vv))
        return ns.reshape(out, (*lead, *b1, *b2, n, n))

    return kernel


def _check_dd(attrs: Mapping[str, Any]) -> dict[str, Any]:
    r = attrs["r"]
    if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r < 1:
        raise InvalidArgumentError(f"divided_difference: r must be an int >= 1, got {r!r}")
    return {"f": scalar_function(attrs["f"]), "r": int(r)}


def _dd_shape(shapes: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Shape:
    (s,) = shapes
    if len(s) != 1:
        raise ShapeError(f"divided_difference takes a vector of nodes, got shape {s}")
    return (s[0],) * (int(attrs["r"]) + 1)


def _d_divided_difference(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d f[λ_{i₀}, …, λ_{i_r}] = Σ_m f[λ_{i₀}, …, λ_{i_m}, λ_{i_m}, …, λ_{i_r}] dλ_{i_m}``
    (a divided difference's derivative in one node repeats that node)."""
    assert isinstance(node, Apply)
    w, (dw,) = node.x, d
    f, r = node.attrs["f"], node.attrs["r"]
    higher = divided_difference(w, f, r + 1)
    out = tuple(range(r + 1))
    return add([einsum_node([higher, dw], [(*out[: m + 1], m, *out[m + 1 :]), (m,)], out)
                for m in range(r + 1)])


def _dd_kernel(w: Any, f: ScalarFunction, r: int) -> Array:
    return dd_tensor(f, np.asarray(w), r)


def _dd_lines(var: str, args: Sequence[str], fresh: Callable[[str], str],
              node: Expr) -> list[str]:
    assert isinstance(node, Apply)
    return dd_tensor_source(node.attrs["f"], args[0], node.attrs["r"], var, fresh)


def _function_domain(attrs: Mapping[str, Any]) -> str:
    f = scalar_function(attrs["f"])
    if f.kind == "log" or (f.kind == "power" and not f.p.is_integer()):
        return "spd"
    return "invertible" if f.kind == "power" and f.p < 0 else "general"


divided_difference: Callable[..., Expr] = declare(Operation(
    name="divided_difference",
    family="symmetric_functions",
    doc="T[i0, ..., ir] = f[w[i0], ..., w[ir]], the divided differences of f (f⁽ʳ⁾/r! at ties)",
    shape=_dd_shape,
    numpy=_dd_kernel,
    array_api=_dd_array_api,
    stacks=True,
    attrs=("f", "r"),
    check=_check_dd,
    dtype=real_dtype,
    differential=_d_divided_difference,
    domain=lambda attrs: ({"spd": "positive", "invertible": "nonzero"}.get(
        _function_domain(attrs), "general"),),
    flops=lambda shapes: 50 * shapes[0][0] ** 2,
    notation=Notation(numpy_lines=_dd_lines),
    samples=(
        Sample("divided-difference-log-2", lambda w: divided_difference(w, "log", 2),
               lambda n, m: ((n,),), ("positive",)),
    ),
))


# =====================================================================================
# eigh_function and its Fréchet derivatives
# =====================================================================================


def _check_f(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {"f": scalar_function(attrs["f"])}


def _function_kernel(a: Any, f: ScalarFunction) -> Array:
    if f.kind == "power" and f.p == -1:  # the gradient of log det: S⁻¹ by Cholesky
        inverse = spd_inverse(np.asarray(a))
        if inverse is not None:
            return inverse
    w, v = eigh_cached(np.asarray(a))
    f.check(w, f"eigh_function(A, {f})")
    values = f(w)
    if not np.all(np.isfinite(values)):
        raise NonFiniteError(f"eigh_function(A, {f}) overflows at the eigenvalues {w.tolist()}")
    return np.asarray((v * values) @ v.T)


def _function_canonical(a: Expr, *, f: ScalarFunction) -> Expr | None:
    """``A⁰ = I``; for an operand known to be symmetric ``A¹ = A``, ``A⁻¹ = inv(A)``,
    ``A² = A @ A`` (for others the operation reads the lower triangle)."""
    if f.kind != "power" or len(a.shape) != 2 or a.shape[0] != a.shape[1]:
        return None
    if f.p == 0:
        return delta(a.shape[0], real_dtype((a.dtype,), {}))
    if is_symmetric(a):
        if f.p == 1:
            return a
        if f.p == -1:
            return operation("inv")(a)
        if f.p == 2:
            return matmul(a, a)
    return None


def _d_eigh_function(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """Daleckii–Krein: ``d f(A) = V (K ∘ Vᵀ sym(dA) V) Vᵀ`` with
    ``K_ij = (f(λ_i) − f(λ_j))/(λ_i − λ_j)`` and ``f′(λ_i)`` where they coincide
    (Higham 2008, Thm 3.11; finite at repeated eigenvalues), as ``eigh_frechet1``."""
    assert isinstance(node, Apply)
    return eigh_frechet1(node.x, d[0], node.attrs["f"])


def _function_lines(var: str, args: Sequence[str], fresh: Callable[[str], str],
                    node: Expr) -> list[str]:
    assert isinstance(node, Apply)
    w, v = fresh("w"), fresh("V")
    f = node.attrs["f"]
    return [f"{w}, {v} = np.linalg.eigh({args[0]})",
            f"{var} = ({v} * {f.source(w)}) @ {v}.T"]


def _symmetric_samples(n: int, m: int) -> tuple[Shape, ...]:
    return ((n, n),)


eigh_function: Callable[..., Expr] = declare(Operation(
    name="eigh_function",
    family="symmetric_functions",
    doc="f(A) = V diag(f(λ)) Vᵀ for a symmetric A (lower triangle read)",
    shape=lambda shapes, attrs: (square_size(shapes[0], "eigh_function"),) * 2,
    numpy=_function_kernel,
    array_api=_function_array_api,
    stacks=True,
    attrs=("f",),
    check=_check_f,
    dtype=real_dtype,
    canonical=_function_canonical,
    differential=_d_eigh_function,
    domain=lambda attrs: (_function_domain(attrs),),
    preserves_symmetry=True,
    flops=cubic_flops,
    notation=Notation(numpy_lines=_function_lines),
    samples=(
        Sample("eigh-function-log", lambda a: eigh_function(sym(a), "log"), square_samples,
               ("spd",)),
        Sample("eigh-function-exp", lambda a: eigh_function(sym(a), "exp"), square_samples,
               ("symmetric",)),
    ),
    fuzz=(Fuzz("spd", bound=lambda lo, hi, n, f: {
        "log": max(abs(math.log(lo)), abs(math.log(hi))), "exp": math.exp(hi),
        "sqrt": math.sqrt(hi)}[f], attrs=({"f": "log"}, {"f": "exp"}, {"f": "sqrt"})),),
))


def _frechet_shape(shapes: tuple[Shape, ...], attrs: Mapping[str, Any]) -> Shape:
    n = square_size(shapes[0], "eigh_frechet")
    batch: tuple[int, ...] = ()
    for s in shapes[1:]:
        batch += batch_shape(s, n, 2, "eigh_frechet")
    return (*batch, n, n)


def _rotated(v: Array, e: Any) -> Array:
    e = np.asarray(e)
    s = (e + np.swapaxes(e, -1, -2)) / 2
    return np.asarray(v.T @ s @ v)


def _frechet1_kernel(a: Any, e: Any, f: ScalarFunction) -> Array:
    w, v = eigh_cached(np.asarray(a))
    k = dd_tensor(f, w, 1)
    return np.asarray(v @ (k * _rotated(v, e)) @ v.T)


def _frechet2_kernel(a: Any, e1: Any, e2: Any, f: ScalarFunction) -> Array:
    w, v = eigh_cached(np.asarray(a))
    n = w.size
    t = dd_tensor(f, w, 2)
    b1, b2 = np.shape(e1)[:-2], np.shape(e2)[:-2]
    p1 = _rotated(v, e1).reshape(-1, n, n)
    p2 = _rotated(v, e2).reshape(-1, n, n)
    big = n > 8
    y = (np.einsum("ikj,Pik,Qkj->PQij", t, p1, p2, optimize=big)
         + np.einsum("ikj,Qik,Pkj->PQij", t, p2, p1, optimize=big))
    out = v @ y @ v.T
    return np.asarray(out.reshape(*b1, *b2, n, n))


def _d_frechet1(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d (D f(A)[E]) = D f(A)[dE] + D²f(A)[E, dA]`` (``eigh_frechet2``: second-order
    divided differences, finite at ties)."""
    assert isinstance(node, Apply)
    a, e = node.args
    da, de = d
    f = node.attrs["f"]
    terms = []
    if not isinstance(de, Zero):
        terms.append(eigh_frechet1(a, de, f))
    if not isinstance(da, Zero):
        terms.append(eigh_frechet2(a, e, da, f))
    return add(terms) if terms else zeros(node.shape, node.dtype)


def _d_frechet2(node: Expr, d: tuple[Expr, ...]) -> Expr:
    """``d (D²f(A)[E₁, E₂]) = D²f(A)[dE₁, E₂] + D²f(A)[E₁, dE₂] + D³f(A)[E₁, E₂, dA]``,
    the last written out (``frechet_explicit``: ``V``, ``E′`` and third divided
    differences; finite at ties, but its own derivative needs distinct eigenvalues)."""
    assert isinstance(node, Apply)
    a, e1, e2 = node.args
    da, de1, de2 = d
    f = node.attrs["f"]
    terms = []
    if not isinstance(de1, Zero):
        terms.append(eigh_frechet2(a, de1, e2, f))
    if not isinstance(de2, Zero):
        terms.append(eigh_frechet2(a, e1, de2, f))
    if not isinstance(da, Zero):
        b1, b2 = batch_labels("b1", batch_ndim(e1, 2)), batch_labels("b2", batch_ndim(e2, 2))
        terms.append(frechet_explicit(a, [(e1, b1), (e2, b2), (da, ())], (*b1, *b2), f))
    return add(terms) if terms else zeros(node.shape, node.dtype)


def _frechet1_pull(node: Expr, k: int, ct: Expr, extra: Shape) -> Expr:
    """Self-adjoint in ``E`` (``K`` is symmetric): the transpose applies it to the
    cotangent."""
    assert isinstance(node, Apply)
    return eigh_frechet1(node.x, ct, node.attrs["f"])


def _frechet2_push(node: Expr, tangents: Sequence[Expr], extra: Shape) -> Expr:
    assert isinstance(node, Apply)
    a, e1, e2 = node.args
    f, k = node.attrs["f"], len(extra)
    if isinstance(tangents[1], Zero):
        t = tangents[2]
        out = eigh_frechet2(a, e1, move_axes(t, t.ndim - k, k, 0), f)
        start = batch_ndim(e1, 2)
    else:
        t = tangents[1]
        out = eigh_frechet2(a, move_axes(t, t.ndim - k, k, 0), e2, f)
        start = 0
    return move_axes(out, start, k, out.ndim - k)


def _frechet2_pull(node: Expr, k: int, ct: Expr, extra: Shape) -> Expr:
    """Self-adjoint in each slot: the cotangent takes the slot's place; where the
    other slot has batch axes of its own they are summed (written out)."""
    assert isinstance(node, Apply)
    a, e1, e2 = node.args
    f = node.attrs["f"]
    other = e2 if k == 1 else e1
    if other.ndim == 2:
        return eigh_frechet2(a, ct, e2, f) if k == 1 else eigh_frechet2(a, e1, ct, f)
    x = batch_labels("x", len(extra))
    b1, b2 = batch_labels("b1", batch_ndim(e1, 2)), batch_labels("b2", batch_ndim(e2, 2))
    mine = (ct, (*x, *b1, *b2))
    slots = [mine, (e2, b2)] if k == 1 else [(e1, b1), mine]
    return frechet_explicit(a, slots, (*x, *(b1 if k == 1 else b2)), f)


def _frechet_lines(var: str, args: Sequence[str], fresh: Callable[[str], str],
                   node: Expr) -> list[str]:
    assert isinstance(node, Apply)
    f, r = node.attrs["f"], len(args) - 1
    w, v, t = fresh("w"), fresh("V"), fresh("T")
    lines = [f"{w}, {v} = np.linalg.eigh({args[0]})",
             *dd_tensor_source(f, w, r, t, fresh)]
    rot = []
    for e in args[1:]:
        p = fresh("P")
        rot.append(p)
        lines.append(f'{p} = np.einsum("pi,...pq,qj->...ij", {v}, ({e} + np.swapaxes({e}, -1, '
                     f"-2)) / 2, {v}).reshape(-1, {w}.size, {w}.size)")
    if r == 1:
        y = f"{t} * {rot[0]}"
    else:
        y = (f'np.einsum("ikj,Pik,Qkj->PQij", {t}, {rot[0]}, {rot[1]}) + '
             f'np.einsum("ikj,Qik,Pkj->PQij", {t}, {rot[1]}, {rot[0]})')
    return [*lines, f'{var} = np.einsum("ai,...ij,bj->...ab", {v}, {y}, {v})'
            f".reshape({node.shape})"]


def _frechet_canonical(a: Expr, *es: Expr, f: ScalarFunction) -> Expr | None:
    if any(isinstance(e, Zero) for e in es):
        n = a.shape[0]
        batch = tuple(d for e in es for d in e.shape[:-2])
        return zeros((*batch, n, n), real_dtype((a.dtype, *(e.dtype for e in es)), {}))
    return None


def _small(count: int) -> Callable[[int, int], tuple[Shape, ...]]:
    """``count`` square matrices of size at most 2 (the Fréchet derivatives' second
    derivatives are large expressions; ties and the batch logic show at size 2)."""

    def shapes(n: int, m: int) -> tuple[Shape, ...]:
        return ((min(n, 2),) * 2,) * count

    return shapes


eigh_frechet1: Callable[..., Expr] = declare(Operation(
    name="eigh_frechet1",
    family="symmetric_functions",
    doc="the Fréchet derivative D f(A)[E] of the symmetric matrix function f (Daleckii–Krein)",
    shape=_frechet_shape,
    numpy=_frechet1_kernel,
    array_api=_frechet1_array_api,
    stacks=True,
    arity=2,
    attrs=("f",),
    check=_check_f,
    dtype=real_dtype,
    canonical=_frechet_canonical,
    differential=_d_frechet1,
    linear=Linear(second_live(lambda node, t: eigh_frechet1(node.x, t, node.attrs["f"]), 2),
                  _frechet1_pull),
    domain=lambda attrs: (_function_domain(attrs), "general"),
    flops=cubic_flops,
    notation=Notation(numpy_lines=_frechet_lines),
    samples=(
        Sample("eigh-frechet1-log", lambda a, e: eigh_frechet1(sym(a), e, "log"), _small(2),
               ("spd", "general")),
    ),
))
eigh_frechet2: Callable[..., Expr] = declare(Operation(
    name="eigh_frechet2",
    family="symmetric_functions",
    doc="the second Fréchet derivative D²f(A)[E1, E2] of the symmetric matrix function f",
    shape=_frechet_shape,
    numpy=_frechet2_kernel,
    array_api=_frechet2_array_api,
    stacks=True,
    arity=3,
    attrs=("f",),
    check=_check_f,
    dtype=real_dtype,
    canonical=_frechet_canonical,
    differential=_d_frechet2,
    linear=Linear(_frechet2_push, _frechet2_pull),
    domain=lambda attrs: (_function_domain(attrs), "general", "general"),
    flops=lambda shapes: 20 * shapes[0][0] ** 4,
    notation=Notation(numpy_lines=_frechet_lines),
    samples=(
        # the second order (a fourth derivative of f(A), with the eigenvectors' own
        # derivative) is checked in tests/test_decompositions.py: slow for the table
        Sample("eigh-frechet2-log", lambda a, e1, e2: eigh_frechet2(separated(a), e1, e2, "log"),
               _small(3), ("general",) * 3, orders=(1,)),
        Sample("eigh-frechet2-exp-ties",
               lambda a, e1, e2: eigh_frechet2(sym(a), e1, e2, "exp"),
               lambda n, m: ((n, n),) * 3, ("symmetric", "general", "general"), orders=(1,)),
    ),
))



# =====================================================================================
# Entry points
# =====================================================================================


def spectral_sum(a: Any, f: Any) -> Expr:
    """``Σᵢ f(λᵢ) = tr f(A)`` for a symmetric ``A``: its derivatives of every order
    up to the third are finite where eigenvalues repeat.

    >>> import matgrad as mg
    >>> S = mg.Matrix("S", (3, 3), symmetric=True)
    >>> G = mg.derivative(spectral_sum(S, "log"), S)
    >>> bool(np.allclose(G.evaluate(S=np.eye(3)), np.eye(3)))
    True
    """
    return trace(eigh_function(as_expr(a), f))


language_function(
    Language(("logdet_sym",), "log det of a symmetric positive definite matrix, Σ log λ",
             "(n,n) -> ()"),
    lambda a: spectral_sum(a, "log"),
)

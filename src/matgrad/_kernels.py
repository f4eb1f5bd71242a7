"""Numerical kernels that compiled plans call (layer 3, private to ``matgrad.compiler``).

Each ``make_*`` function runs once, at planning time, with shapes only; it returns
a small function of NumPy arrays that does the work at call time with every
decision (permutations, reshapes, which NumPy routine) already taken.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import opt_einsum
from numpy.lib.stride_tricks import as_strided

from matgrad._types import Shape

Kernel = Callable[..., Any]
"""A planned operation: arrays in, one array out."""


# =====================================================================================
# Contractions: one step of an opt_einsum path
# =====================================================================================


def _permutation(src: str, dst: str) -> tuple[int, ...] | None:
    """Axes that reorder labels ``src`` into ``dst``; ``None`` when already in order."""
    perm = tuple(src.index(c) for c in dst)
    return None if perm == tuple(range(len(src))) else perm


def make_contraction(subscripts: str, shapes: Sequence[Shape]) -> tuple[Kernel, str, bool]:
    """A kernel for one contraction step, e.g. ``"ji,jk->ik"``.

    Returns ``(kernel, method, fresh)``: ``method`` names the NumPy route taken
    (``gemm``, ``outer``, ``multiply``, ``transpose``, ``einsum``) and ``fresh``
    says whether the result is a new array (``False`` when it may be a view of an
    input).  Two operands without repeated or batch indices become one matrix
    product of reshaped operands, as a BLAS call; everything else goes to
    ``numpy.einsum``, which is exact for any subscripts.
    """
    lhs, out = subscripts.split("->")
    terms = lhs.split(",")
    if len(terms) == 1:
        (a,) = terms
        if len(set(a)) == len(a) and sorted(a) == sorted(out):
            perm = _permutation(a, out)
            if perm is None:
                return (lambda x: x), "identity", False
            return (lambda x: x.transpose(perm)), "transpose", False
        # A reduction makes a new array; otherwise einsum may return a (diagonal) view.
        fresh = any(c not in out for c in a)
        return (lambda x: np.einsum(subscripts, x)), "einsum", fresh
    if len(terms) == 2:
        kernel = _binary_contraction(terms[0], terms[1], out, shapes[0], shapes[1])
        if kernel is not None:
            return kernel
    return (lambda *xs: np.einsum(subscripts, *xs)), "einsum", True


def _binary_contraction(
    a: str, b: str, out: str, sa: Shape, sb: Shape
) -> tuple[Kernel, str, bool] | None:
    if len(set(a)) != len(a) or len(set(b)) != len(b):
        return None  # a diagonal inside an operand: einsum
    if a == b == out:
        return np.multiply, "multiply", True
    shared = [c for c in a if c in b]
    if any(c in out for c in shared) or any(c not in out for c in a + b if c not in shared):
        return None  # batch indices, or an index summed within one operand: einsum
    size = dict(zip(a, sa)) | dict(zip(b, sb))
    fa = "".join(c for c in a if c not in shared)
    fb = "".join(c for c in b if c not in shared)
    final = _permutation(fa + fb, out)
    if not shared:
        if final is None:
            return np.multiply.outer, "outer", True
        return (lambda x, y: np.multiply.outer(x, y).transpose(final)), "outer", True
    con = "".join(shared)
    k = math.prod(size[c] for c in con)
    pa = _permutation(a, fa + con)
    pb = _permutation(b, con + fb)
    # Operand shapes for ``@``: 1-d when there are no free axes (matmul's vector rules).
    ra: Shape | None = (k,) if not fa else (math.prod(size[c] for c in fa), k)
    rb: Shape | None = (k,) if not fb else (k, math.prod(size[c] for c in fb))
    ra = None if ra == tuple(size[c] for c in fa + con) else ra
    rb = None if rb == tuple(size[c] for c in con + fb) else rb
    ro: Shape | None = tuple(size[c] for c in fa + fb)
    if len(fa) <= 1 and len(fb) <= 1:
        ro = None if fa or fb else ()

    def gemm(x: Any, y: Any) -> Any:
        if pa is not None:
            x = x.transpose(pa)
        if ra is not None:
            x = x.reshape(ra)
        if pb is not None:
            y = y.transpose(pb)
        if rb is not None:
            y = y.reshape(rb)
        r = x @ y
        if ro is not None:
            r = np.reshape(r, ro)
        if final is not None:
            r = r.transpose(final)
        return r

    return gemm, "gemm", True


@dataclass(frozen=True)
class Pairwise:
    """One contraction of an opt_einsum path: the operands at ``positions`` of the
    working list are removed and the result appended."""

    positions: tuple[int, ...]
    subscripts: str
    kernel: Kernel
    method: str
    fresh: bool
    flops: int
    shape: Shape


@dataclass(frozen=True)
class Contraction:
    """A planned einsum: the cached opt_einsum expression, its path, and one kernel
    per pairwise contraction (positions as in opt_einsum's contraction list)."""

    expression: Any  # opt_einsum.ContractExpression
    path: tuple[tuple[int, ...], ...]
    cost: int
    largest: int
    pairs: tuple[Pairwise, ...]


@functools.lru_cache(maxsize=1024)
def contraction(subscripts: str, shapes: tuple[Shape, ...]) -> Contraction:
    """The contraction of ``subscripts`` over ``shapes``: path found once per key."""
    path, info = opt_einsum.contract_path(subscripts, *shapes, shapes=True)
    expression = opt_einsum.contract_expression(subscripts, *shapes, optimize=path)
    lhs, _ = subscripts.split("->")
    sizes: dict[str, int] = {}
    terms = lhs.split(",")
    for term, shape in zip(terms, shapes):
        sizes.update(zip(term, shape))
    current = list(zip(terms, shapes))
    pairs = []
    for positions, removed, step_subs, _, _ in info.contraction_list:
        taken = [current.pop(p) for p in positions]
        out = step_subs.split("->")[1]
        out_shape = tuple(sizes[c] for c in out)
        kernel, method, fresh = make_contraction(step_subs, [s for _, s in taken])
        involved = set("".join(t for t, _ in taken))
        flops = opt_einsum.helpers.flop_count(involved, bool(removed), len(taken), sizes)
        pairs.append(
            Pairwise(tuple(positions), step_subs, kernel, method, fresh, int(flops), out_shape)
        )
        current.append((out, out_shape))
    return Contraction(
        expression,
        tuple(tuple(p) for p in path),
        int(info.opt_cost),
        int(info.largest_intermediate),
        tuple(pairs),
    )


# =====================================================================================
# Deltas and all-ones operands: scale, broadcast, write through a diagonal view
# =====================================================================================


def make_expand(
    factor: int,
    core_shape: Shape,
    view_shape: Shape,
    out_shape: Shape,
    view_strides: tuple[int, ...] | None,
) -> Kernel:
    """Turn the contraction of the other operands (``core``) into the einsum's value.

    ``core`` is reshaped to ``core_shape``: one axis per output index class of
    ``view_shape``, of size 1 where only a ``Ones`` operand supplied the index.  With
    ``view_strides`` (element strides of a diagonal view into a C-ordered output),
    surviving deltas are a strided write into zeros; without, the result is
    ``core`` broadcast to ``out_shape`` (a read-only view).
    """

    def expand(core: Any) -> Any:
        if factor != 1:
            core = core * factor
        c = np.reshape(core, core_shape)
        if view_strides is None:
            return c if c.shape == out_shape else np.broadcast_to(c, out_shape)
        z = np.zeros(out_shape, dtype=c.dtype)
        isz = z.itemsize
        view = as_strided(z, view_shape, tuple(s * isz for s in view_strides))
        view[...] = c
        return z

    return expand


def c_strides(shape: Shape) -> tuple[int, ...]:
    """Element strides of a C-ordered array of ``shape``."""
    strides = []
    acc = 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= d
    return tuple(reversed(strides))


# =====================================================================================
# Matrix functions
# =====================================================================================


def make_solve(n: int, rest_shape: Shape, transpose: bool) -> Kernel:
    """``X⁻¹ R`` (``X⁻ᵀ R`` if ``transpose``) for ``R`` of shape ``(n, *rest_shape)``,
    by ``numpy.linalg.solve``; a singular ``X`` raises ``LinAlgError``."""
    cols = math.prod(rest_shape)
    result_shape = (n, *rest_shape)

    def solve(x: Any, r: Any) -> Any:
        if transpose:
            x = x.T
        return np.linalg.solve(x, np.reshape(r, (n, cols))).reshape(result_shape)

    return solve


def logdet(x: Any) -> Any:
    """``log |det X|`` from ``slogdet`` (``-inf`` for singular ``X``)."""
    return np.linalg.slogdet(x)[1]


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
    u, s, vh = np.linalg.svd(x)
    prefix = np.concatenate(([1], np.cumprod(s[:-1]))).astype(s.dtype)
    suffix = np.concatenate((np.cumprod(s[:0:-1])[::-1], [1])).astype(s.dtype)
    scale = np.linalg.det(u) * np.linalg.det(vh)
    v = vh.conj().T
    return (v * (prefix * suffix * scale)) @ u.conj().T


# =====================================================================================
# Elementwise functions
# =====================================================================================


def sigmoid(x: Any) -> Any:
    """``1 / (1 + exp(-x))`` without overflow: ``exp`` only ever sees ``-|x|``."""
    x = np.asarray(x)
    if np.iscomplexobj(x):
        return 0.5 * (1 + np.tanh(0.5 * x))
    e = np.exp(-np.abs(x))
    pos = 1 / (1 + e)
    return np.where(x >= 0, pos, e * pos)


def make_power(p: float) -> Kernel:
    """``x ** p`` entry by entry; ``0 ** p`` for ``p < 0`` is ``inf`` (NumPy warns),
    a negative base with a non-integer ``p`` gives ``nan``."""
    if p == 2.0:
        return np.square
    if p == 0.5:
        return np.sqrt
    if p == -1.0:
        return lambda x: 1 / x
    return lambda x: np.power(x, p)


ELEMENTWISE: dict[str, Kernel] = {
    "exp": np.exp,
    "log": np.log,
    "sin": np.sin,
    "cos": np.cos,
    "tanh": np.tanh,
    "sigmoid": sigmoid,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "sign": np.sign,
}
"""Kernels of the parameterless elementwise functions (``power`` is :func:`make_power`)."""


# =====================================================================================
# Linear combinations
# =====================================================================================


def make_add(coeffs: Sequence[complex], overwrite: int | None = None) -> Kernel:
    """``Σ cₖ xₖ``.  Coefficients are Python numbers, so a real one keeps float32
    as float32 and a complex one makes the result complex.

    ``overwrite=k``: the plan owns input ``k`` (a fresh intermediate used nowhere
    later), so the sum may accumulate into it instead of allocating, when its
    dtype is already the result's.
    """
    cs = tuple(coeffs)
    if overwrite is not None:
        return _add_in_place(cs, overwrite, make_add(cs))
    if len(cs) == 1:
        (c0,) = cs
        return lambda x: -x if c0 == -1 else x * c0
    if len(cs) == 2 and cs[0] == 1 and cs[1] in (1, -1):
        return np.add if cs[1] == 1 else np.subtract

    def add(*xs: Any) -> Any:
        acc = xs[0] if cs[0] == 1 else xs[0] * cs[0]
        for x, c in zip(xs[1:], cs[1:]):
            if c == 1:
                acc = acc + x
            elif c == -1:
                acc = acc - x
            else:
                acc = acc + x * c
        return acc

    return add


def _add_in_place(cs: tuple[complex, ...], k: int, fallback: Kernel) -> Kernel:
    others = tuple(j for j in range(len(cs)) if j != k)

    def add_into(*xs: Any) -> Any:
        acc = xs[k]
        if (
            type(acc) is not np.ndarray
            or not acc.flags.writeable
            or np.result_type(*xs, *cs) != acc.dtype
        ):
            return fallback(*xs)
        if cs[k] != 1:
            np.multiply(acc, cs[k], out=acc)
        for j in others:
            c = cs[j]
            if c == 1:
                np.add(acc, xs[j], out=acc)
            elif c == -1:
                np.subtract(acc, xs[j], out=acc)
            else:
                np.add(acc, xs[j] * c, out=acc)
        return acc

    return add_into

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

from matgrad._types import Shape
from matgrad.ops.det_numerics import solve_checked

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
        if len(set(a)) == len(a) and set(out) <= set(a):
            # a sum over some axes (then a transposition): ndarray.sum
            axes = tuple(k for k, ch in enumerate(a) if ch not in out)
            kept = "".join(ch for ch in a if ch in out)
            after = _permutation(kept, out)
            if after is None:
                return (lambda x: x.sum(axis=axes)), "sum", True
            return (lambda x: x.sum(axis=axes).transpose(after)), "sum", True
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
    alone_a = tuple(k for k, c in enumerate(a) if c not in out and c not in b)
    alone_b = tuple(k for k, c in enumerate(b) if c not in out and c not in a)
    if alone_a or alone_b:
        # an index summed within one operand: sum it out first, then contract
        ra = "".join(c for k, c in enumerate(a) if k not in alone_a)
        rb = "".join(c for k, c in enumerate(b) if k not in alone_b)
        inner = _binary_contraction(
            ra, rb, out,
            tuple(d for k, d in enumerate(sa) if k not in alone_a),
            tuple(d for k, d in enumerate(sb) if k not in alone_b),
        )
        if inner is None:
            return None
        kernel, method, _ = inner

        def reduced(x: Any, y: Any) -> Any:
            if alone_a:
                x = x.sum(axis=alone_a)
            if alone_b:
                y = y.sum(axis=alone_b)
            return kernel(x, y)

        return reduced, f"sum+{method}", True
    size = dict(zip(a, sa)) | dict(zip(b, sb))
    summed = "".join(c for c in a if c in b and c not in out)
    if not summed:
        return _broadcast_product(a, b, out, size), "multiply", True
    batch = "".join(c for c in out if c in a and c in b)
    if batch and set(a) == set(b) == set(batch + summed):
        # a dot product per batch element (a gradient's column sums of a Hadamard
        # product): numpy.einsum's summing loop beats stacked 1×k·k×1 products
        # (5 µs against 20 µs at 128 × 64, 45 µs against 840 µs at 128 × 1024)
        subscripts = f"{a},{b}->{out}"
        return (lambda x, y: np.einsum(subscripts, x, y)), "batched-dot", True
    if batch:
        return _batched_product(a, b, out, batch, summed, size), "batched-gemm", True
    return _gemm(a, b, out, summed, size), "gemm", True


def _gemm(a: str, b: str, out: str, con: str, size: dict[str, int]) -> Kernel:
    """Two operands, no batch index: one matrix product of reshaped operands."""
    fa = "".join(c for c in a if c not in con)
    fb = "".join(c for c in b if c not in con)
    final = _permutation(fa + fb, out)
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
    if ra is None and rb is None and ro is None and final is None:
        # the common matrix cases: no Python-level reshaping at all
        if pa is None and pb is None:
            return np.matmul
        if pa is not None and pb is None and len(a) == 2:
            return lambda x, y: x.T @ y
        if pa is None and pb is not None and len(b) == 2:
            return lambda x, y: x @ y.T
        if pa is not None and pb is not None and len(a) == 2 and len(b) == 2:
            return lambda x, y: x.T @ y.T

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

    return gemm


def _batched_product(
    a: str, b: str, out: str, batch: str, con: str, size: dict[str, int]
) -> Kernel:
    """Two operands sharing batch indices: one stacked matrix product (``matmul``
    over the leading batch axis)."""
    fa = "".join(c for c in a if c not in batch and c not in con)
    fb = "".join(c for c in b if c not in batch and c not in con)
    pa = _permutation(a, batch + fa + con)
    pb = _permutation(b, batch + con + fb)

    def dims(labels: str) -> int:
        return math.prod(size[c] for c in labels)

    ra = (dims(batch), dims(fa), dims(con))
    rb = (dims(batch), dims(con), dims(fb))
    ro = tuple(size[c] for c in batch + fa + fb)
    final = _permutation(batch + fa + fb, out)

    def batched(x: Any, y: Any) -> Any:
        if pa is not None:
            x = x.transpose(pa)
        if pb is not None:
            y = y.transpose(pb)
        r = np.matmul(x.reshape(ra), y.reshape(rb)).reshape(ro)
        return r if final is None else r.transpose(final)

    return batched


def _broadcast_product(a: str, b: str, out: str, size: dict[str, int]) -> Kernel:
    """Two operands, nothing summed: one broadcast ``numpy.multiply``.

    An outer product (a result much larger than either operand) is written in
    the output's order, so the result is C-contiguous; a scaling (the result no
    larger than twice the bigger operand: rows scaled by a vector, say) follows
    the bigger operand's order, reading it contiguously, and the result is a
    transposed view where the output order differs."""
    sa, sb = math.prod(size[c] for c in a), math.prod(size[c] for c in b)
    big = a if sa >= sb else b
    if math.prod(size[c] for c in out) > 2 * max(sa, sb):
        order = out
    else:
        order = big + "".join(c for c in out if c not in big)

    def aligned(term: str) -> tuple[tuple[int, ...] | None, Shape | None]:
        ordered = "".join(sorted(term, key=order.index))
        shape = tuple(size[c] if c in term else 1 for c in order)
        return _permutation(term, ordered), (None if ordered == order else shape)

    pa, ra = aligned(a)
    pb, rb = aligned(b)
    final = _permutation(order, out)

    def product(x: Any, y: Any) -> Any:
        if pa is not None:
            x = x.transpose(pa)
        if ra is not None:
            x = x.reshape(ra)
        if pb is not None:
            y = y.transpose(pb)
        if rb is not None:
            y = y.reshape(rb)
        r = np.multiply(x, y)
        return r if final is None else r.transpose(final)

    return product


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
    """A planned einsum: its path (as opt_einsum gives it), flop count, largest
    intermediate, and one kernel per pairwise contraction (positions as in
    opt_einsum's contraction list)."""

    path: tuple[tuple[int, ...], ...]
    cost: int
    largest: int
    pairs: tuple[Pairwise, ...]


_PATH_ALGORITHMS = ("auto", "greedy")
ENUMERATE_UP_TO = 3
"""Einsums with at most this many operands have every contraction order considered."""

Path = tuple[tuple[int, ...], ...]


def _orders(n: int) -> list[Path]:
    """Every pairwise contraction order of ``n`` operands (opt_einsum's convention:
    the pair is removed, the result appended)."""
    if n <= 1:
        return [((0,),)] if n == 1 else [()]
    if n == 2:
        return [((0, 1),)]
    orders: list[Path] = []
    for i in range(n):
        for j in range(i + 1, n):
            orders.extend(((i, j), *rest) for rest in _orders(n - 1))
    return orders


@functools.lru_cache(maxsize=4096)
def flop_estimate(subscripts: str, shapes: tuple[Shape, ...]) -> int:
    """opt_einsum's flop count along its greedy order: a quick estimate for
    choosing between rewrites (the order itself is chosen later)."""
    _, info = opt_einsum.contract_path(subscripts, *shapes, shapes=True, optimize="greedy")
    return int(info.opt_cost)


@functools.lru_cache(maxsize=1024)
def candidate_paths(subscripts: str, shapes: tuple[Shape, ...]) -> tuple[Path, ...]:
    """Contraction orders worth considering, cheapest by flop count first.

    No single opt_einsum algorithm is best: ``"optimal"`` (what ``"auto"`` runs for
    few operands) misses the cheap path of ``Xᵀ diag(u) diag(v) X``, contracting
    the two matrices first into an ``(n, N, n)`` intermediate, while ``"greedy"``
    scales the rows first.  Both are candidates; for up to
    :data:`ENUMERATE_UP_TO` operands every order is, so that the planner can
    prefer one whose intermediates another einsum of the plan already computes."""
    found: dict[Path, tuple[int, int]] = {}
    n = len(shapes)
    paths: list[Any] = []
    for algorithm in _PATH_ALGORITHMS:
        path, _ = opt_einsum.contract_path(subscripts, *shapes, shapes=True, optimize=algorithm)
        paths.append(path)
    if 3 <= n <= ENUMERATE_UP_TO:
        paths.extend(_orders(n))
    for path in paths:
        key = tuple(tuple(p) for p in path)
        if key not in found:
            _, info = opt_einsum.contract_path(subscripts, *shapes, shapes=True, optimize=list(key))
            found[key] = (int(info.opt_cost), int(info.largest_intermediate))
    return tuple(sorted(found, key=lambda p: found[p]))


@functools.lru_cache(maxsize=4096)
def contraction(
    subscripts: str, shapes: tuple[Shape, ...], path: Path | None = None
) -> Contraction:
    """The contraction of ``subscripts`` over ``shapes`` along ``path`` (default: the
    cheapest of :func:`candidate_paths`), planned once per key."""
    if path is None:
        path = candidate_paths(subscripts, shapes)[0]
    _, info = opt_einsum.contract_path(subscripts, *shapes, shapes=True, optimize=list(path))
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
        path,
        int(info.opt_cost),
        int(info.largest_intermediate),
        tuple(pairs),
    )


# =====================================================================================
# Deltas and all-ones operands: scale, broadcast, write through a diagonal view
# =====================================================================================


def make_expand(
    factor: complex,
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
        _view(z, view_shape, tuple(s * isz for s in view_strides))[...] = c
        return z

    return expand


@dataclass(frozen=True)
class Part:
    """One term of a sum written into a shared buffer: ``coeff`` times the term's
    core, reshaped to ``core_shape``, added through the diagonal view
    ``(view_shape, view_strides)`` (element strides; ``None``: the whole buffer,
    with broadcasting)."""

    coeff: complex
    core_shape: Shape
    view_shape: Shape
    view_strides: tuple[int, ...] | None
    scatter: tuple[Any, ...] | None = None
    """A scatter-add: the term is added at ``buffer[scatter]`` (a NumPy key)."""
    unique: bool = True
    """The scatter key selects no position twice (else ``np.add.at``)."""


def _scatter_into(z: Any, part: Part, c: Any, first: bool) -> None:
    key: Any = part.scatter
    if not part.unique:
        np.add.at(z, key, c if part.coeff == 1 else c * part.coeff)
    elif first:  # the buffer is all zeros: write, do not read
        z[key] = c if part.coeff == 1 else c * part.coeff
    elif part.coeff == 1:
        z[key] += c
    elif part.coeff == -1:
        z[key] -= c
    else:
        z[key] += c * part.coeff


def make_accumulate(out_shape: Shape, parts: Sequence[Part]) -> Kernel:
    """``Σ coeffₖ termₖ`` into one new buffer of zeros: terms with surviving deltas
    are strided writes into diagonal views of it, scatter-adds (the transposes of
    slices and indexing) are added at their positions, other terms are added whole.
    One allocation, and each term touches only its own entries."""

    def accumulate(*cores: Any) -> Any:
        z = np.zeros(out_shape, dtype=np.result_type(*cores, *(p.coeff for p in parts)))
        isz = z.itemsize
        first = True
        for part, core in zip(parts, cores):
            c = np.reshape(core, part.core_shape)
            if part.scatter is not None:
                _scatter_into(z, part, c, first)
                first = False
                continue
            if part.view_strides is None:
                view = z
            else:
                view = _view(z, part.view_shape, tuple(s * isz for s in part.view_strides))
            if first:  # the buffer is all zeros: write, do not read
                first = False
                if part.coeff == 1:
                    view[...] = c
                else:
                    np.multiply(c, part.coeff, out=view)
            elif part.coeff == 1:
                view += c
            elif part.coeff == -1:
                view -= c
            else:
                view += c * part.coeff
        return z

    return accumulate


SYRK_MIN_SIZE = 32
"""The smallest Gram matrix computed as ``Zᵀ Z`` (a symmetric rank-k update):
below it the test ``w ≥ 0`` and the square roots cost more than the halved
flops save (2000 rows: 48 µs against 42 µs at 10 columns, 1.3 ms against 1.5 ms
at 40, 1.8 ms against 2.8 ms at 100)."""


def make_gram(rows: bool, syrk: bool = True) -> Kernel:
    """``Xᵀ diag(w) X`` (``X diag(w) Xᵀ`` if ``rows``), a symmetric matrix.  With
    ``syrk``, for real ``X`` and ``w ≥ 0`` it is ``Zᵀ Z`` with ``Z = diag(√w) X``:
    NumPy hands ``Zᵀ @ Z`` to BLAS as a symmetric rank-k update (half the flops
    of a matrix product); otherwise the weights scale one side of a product."""

    def gram(x: Any, w: Any) -> Any:
        if rows:
            x = x.T
        if syrk and not np.iscomplexobj(x) and not np.iscomplexobj(w) and np.all(w >= 0):
            z = x * np.sqrt(w)[:, None]
            return z.T @ z
        return x.T @ (x * w[:, None])

    return gram


def make_scale(coeff: complex) -> Kernel:
    """``coeff · x`` (a coefficient moved onto the smallest operand of a product)."""
    if coeff == -1:
        return np.negative
    return lambda x: x * coeff


def canonical_subscripts(subscripts: str) -> str:
    """Subscripts with letters renamed in order of first appearance, so that the
    same contraction written with other letters has the same key."""
    names: dict[str, str] = {}
    chars = []
    for ch in subscripts:
        if ch in ",->":
            chars.append(ch)
        else:
            chars.append(names.setdefault(ch, opt_einsum.get_symbol(len(names))))
    return "".join(chars)


def _view(z: Any, shape: Shape, strides: tuple[int, ...]) -> Any:
    """A writable strided view of the C-contiguous array ``z`` (byte strides), for
    diagonals; ``numpy.ndarray`` directly, ten times cheaper than ``as_strided``."""
    return np.ndarray(shape, z.dtype, z, 0, strides)


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
    by LAPACK's ``gesv``; a singular ``X`` raises ``LinAlgError``, an ill-conditioned
    one warns (``IllConditionedWarning``, from ``gecon`` on the LU factors)."""
    cols = math.prod(rest_shape)
    result_shape = (n, *rest_shape)

    def solve(x: Any, r: Any) -> Any:
        if transpose:
            x = x.T
        return solve_checked(x, np.reshape(r, (n, cols))).reshape(result_shape)

    return solve


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
    if len(cs) == 2 and cs[0] == -1 and cs[1] == 1:  # −x + y: one pass, not a negation and a sum
        return lambda x, y: np.subtract(y, x)

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
    # ``x − acc`` (the ``1 − h²`` of a tanh's derivative): one subtraction, not a
    # negation and an addition
    minuend = others[0] if cs[k] == -1 and len(others) == 1 and cs[others[0]] == 1 else None

    def add_into(*xs: Any) -> Any:
        acc = xs[k]
        if (
            type(acc) is not np.ndarray
            or not acc.flags.writeable
            or np.result_type(*xs, *cs) != acc.dtype
        ):
            return fallback(*xs)
        if minuend is not None:
            return np.subtract(xs[minuend], acc, out=acc)
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

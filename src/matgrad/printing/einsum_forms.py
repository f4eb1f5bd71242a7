"""Reading an einsum as an index graph, into matrix notation (layer 2).

:func:`einsum_form` reads an einsum as a graph: index ids are vertices,
two-index operands are edges (matrices), one-index operands are path ends
(vectors) and output indices are path ends too.  After a few local rewrites (a
repeated index ``X[i,i]`` is a diagonal or a trace, operands over the same
indices form a Hadamard product, a vector next to a delta or inside a chain is
``diag(v)``), every connected component in which each index occurs at most twice
is a *chain* (a matrix or vector product, possibly summed at an open end) or a
*cycle* (a trace).  Components multiply as scalars or form an outer product.
Whatever does not fit stays an einsum call over the pieces that did.

What the reading needs of the forms around it (the operands' forms, their
transposes and what those cost) comes through a :class:`FormSource`, which
:class:`matgrad.printing.matrix.FormContext` is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from matgrad._types import Shape
from matgrad.ir.expr import Add, Delta, Einsum, Expr
from matgrad.printing.forms import (
    DiagMat,
    EinsumCall,
    Form,
    Hadamard,
    Leaf,
    Mul,
    Outer,
    Ref,
    Sum,
    Trace,
    Transpose,
    diag_of,
    matmul,
)

__all__ = ["FormSource", "einsum_form"]


class FormSource(Protocol):
    """The forms of an einsum's operands and how to orient them."""

    keys: dict[int, tuple[str, str, int]]
    """A history-independent sort key per node uid (operands are ordered by it)."""

    def ref(self, node: Expr) -> Form:
        """The form of ``node`` as an operand."""

    def cost(self, form: Form) -> int:
        """The number of transposes ``form`` prints."""

    def transpose(self, form: Form) -> Form:
        """``formᵀ`` written with as few transposes as possible."""


@dataclass
class _Factor:
    form: Form
    idx: tuple[int, ...]
    pos: int


@dataclass
class _Analysis:
    ctx: FormSource
    out: tuple[int, ...]
    dims: dict[int, int]
    factors: list[_Factor]
    scalars: list[Form] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.out_pos = {a: p for p, a in enumerate(self.out)}
        self.next_id = max(self.dims, default=-1) + 1

    def fresh(self, like: int) -> int:
        new = self.next_id
        self.next_id += 1
        self.dims[new] = self.dims[like]
        return new

    def degrees(self) -> Counter[int]:
        deg: Counter[int] = Counter(self.out)
        for f in self.factors:
            deg.update(f.idx)
        return deg

    def shape(self, ids: Sequence[int]) -> Shape:
        return tuple(self.dims[i] for i in ids)


def einsum_form(ctx: FormSource, node: Einsum, out: tuple[int, ...]) -> Form:
    """The einsum ``node`` with output indices ``out`` (``node.out`` or a permutation
    of it) in matrix notation, falling back to an :class:`EinsumCall`."""
    ranked = sorted(range(len(node.operands)), key=lambda k: (ctx.keys[node.operands[k].uid], k))
    an = _Analysis(
        ctx,
        out,
        node.dims(),
        [_Factor(ctx.ref(node.operands[k]), node.indices[k], pos) for pos, k in enumerate(ranked)],
    )
    an.scalars = [f.form for f in an.factors if not f.idx]
    an.factors = [f for f in an.factors if f.idx]
    _self_loops(an)
    while _rewrite_once(an):
        pass
    return _assemble(an)


def _self_loops(an: _Analysis) -> None:
    """``X[i,i]``: a trace if ``i`` occurs nowhere else, else the vector ``diag(X)[i]``."""
    for f in list(an.factors):
        if len(f.idx) == 2 and f.idx[0] == f.idx[1]:
            a = f.idx[0]
            an.factors.remove(f)
            if an.degrees()[a] == 0:
                an.scalars.append(Trace((), f.form))
            else:
                an.factors.append(_Factor(diag_of(f.form), (a,), f.pos))
    an.factors.sort(key=lambda f: f.pos)


def _clean(f: _Factor) -> bool:
    return len(set(f.idx)) == len(f.idx)


def _rewrite_once(an: _Analysis) -> bool:
    deg = an.degrees()
    for a in sorted(i for i, d in deg.items() if d > 2):
        if (
            _diag_chain(an, a, deg)
            or _delta_diag(an, a)
            or _hadamard(an, a)
            or _vector_split(an, a)
        ):
            return True
    return False


def _diag_chain(an: _Analysis, a: int, deg: Counter[int]) -> bool:
    """Output index ``a`` closing a chain on itself: ``A[i,k] B[k,i] -> i`` is ``diag(A @ B)``."""
    if a not in an.out_pos or deg[a] != 3:
        return False
    on_a = [f for f in an.factors if a in f.idx]
    if len(on_a) != 2 or not all(len(f.idx) == 2 and _clean(f) for f in on_a):
        return False
    g = on_a[1]
    a2 = an.fresh(a)
    renamed = _Factor(g.form, tuple(a2 if i == a else i for i in g.idx), g.pos)
    trial = [renamed if f is g else f for f in an.factors]
    comp = _component(trial, a)
    ids = {i for f in comp for i in f.idx}
    if a2 not in ids or any(i in an.out_pos for i in ids - {a}):
        return False
    piece = _collapse(an, comp, {a: 0, a2: 1})
    if piece is None or piece[1] != (a, a2):
        return False
    an.factors = [f for f in trial if f not in comp]
    an.factors.append(_Factor(diag_of(piece[0]), (a,), min(f.pos for f in comp)))
    an.factors.sort(key=lambda f: f.pos)
    return True


def _delta_diag(an: _Analysis, a: int) -> bool:
    """``v[i] δ[i,j]`` is ``diag(v)[i,j]``."""
    for d in an.factors:
        if not (isinstance(d.form, Leaf) and isinstance(d.form.node, Delta)):
            continue
        if a not in d.idx or not _clean(d):
            continue
        for v in an.factors:
            if len(v.idx) == 1 and v.idx[0] in d.idx:
                an.factors.remove(v)
                k = an.factors.index(d)
                an.factors[k] = _Factor(DiagMat(an.shape(d.idx), v.form), d.idx, min(d.pos, v.pos))
                return True
    return False


def _hadamard(an: _Analysis, a: int) -> bool:
    """Operands over the same indices: ``X[i,j] Y[i,j]`` (or ``Y[j,i]``) is ``X ⊙ Y``."""
    groups: dict[object, list[_Factor]] = {}
    for f in an.factors:
        if a in f.idx and _clean(f):
            key: object = frozenset(f.idx) if len(f.idx) <= 2 else f.idx
            groups.setdefault(key, []).append(f)
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort(key=_plain_first)
        base = members[0]
        forms = [m.form if m.idx == base.idx else an.ctx.transpose(m.form) for m in members]
        merged = _Factor(Hadamard(an.shape(base.idx), tuple(forms)), base.idx, base.pos)
        an.factors = [merged if f is base else f for f in an.factors if f not in members[1:]]
        return True
    return False


def _plain_first(f: _Factor) -> tuple[int, int]:
    """Entrywise factors read simplest first: symbols, then functions, then sums
    and products (``x ⊙ (A @ x)``, ``σ ⊙ (1 − σ)``)."""
    form = f.form
    if isinstance(form, Leaf):
        return 0, f.pos
    if isinstance(form, Ref) and not isinstance(form.node, (Add, Einsum)):
        return 1, f.pos
    return 2, f.pos


def _vector_split(an: _Analysis, a: int) -> bool:
    """A vector on an index shared by a matrix: ``X[i,j] v[j]`` is ``(X @ diag(v))[i,j]``."""
    v = next((f for f in an.factors if f.idx == (a,)), None)
    if v is None:
        return False
    g = next((f for f in an.factors if len(f.idx) == 2 and _clean(f) and a in f.idx), None)
    if g is None:
        return False
    a2 = an.fresh(a)
    an.factors = [
        _Factor(DiagMat(an.shape((a, a)), v.form), (a, a2), v.pos)
        if f is v
        else _Factor(g.form, tuple(a2 if i == a else i for i in g.idx), g.pos)
        if f is g
        else f
        for f in an.factors
    ]
    return True


def _component(factors: list[_Factor], start: int) -> list[_Factor]:
    """The factors connected to index ``start``."""
    ids, comp, frontier = {start}, [], [start]
    rest = list(factors)
    while frontier:
        i = frontier.pop()
        keep = []
        for f in rest:
            if i in f.idx:
                comp.append(f)
                for j in f.idx:
                    if j not in ids:
                        ids.add(j)
                        frontier.append(j)
            else:
                keep.append(f)
        rest = keep
    return sorted(comp, key=lambda f: f.pos)


def _components(factors: list[_Factor]) -> list[list[_Factor]]:
    comps: list[list[_Factor]] = []
    seen: set[int] = set()
    for f in factors:
        if id(f) in seen:
            continue
        comp = _component(factors, f.idx[0])
        seen.update(id(g) for g in comp)
        comps.append(comp)
    return comps


# ---- one component: a chain or a cycle ------------------------------------------------

_Piece = tuple[Form, tuple[int, ...]]
_Step = tuple[_Factor, bool]  # a matrix factor and whether it is walked forward


@dataclass(frozen=True)
class _Cap:
    """One end of a chain: a vector operand, an output index, or an ``open`` summed
    index (the chain is summed over it)."""

    kind: str  # "vec" | "out" | "open"
    index: int
    form: Form | None = None


def _collapse(an: _Analysis, comp: list[_Factor], out_pos: dict[int, int]) -> _Piece | None:
    """The component as one form and its free (output) indices, or None if it is
    not a chain or a cycle."""
    if any(len(f.idx) > 2 or not _clean(f) for f in comp):
        return None
    deg: Counter[int] = Counter(i for f in comp for i in f.idx)
    deg.update([i for i in deg if i in out_pos])
    if any(d > 2 for d in deg.values()):
        return None
    caps: dict[int, list[_Cap]] = {}
    for f in comp:
        if len(f.idx) == 1:
            caps.setdefault(f.idx[0], []).append(_Cap("vec", f.idx[0], f.form))
    for i in deg:
        if i in out_pos:
            caps.setdefault(i, []).append(_Cap("out", i))
    edges = [f for f in comp if len(f.idx) == 2]
    ends = sorted((i for i in deg if i in caps or deg[i] == 1), key=lambda i: _first_pos(comp, i))
    if not ends:
        return _cycle(an, edges)
    start = ends[0]
    steps, end = _walk(edges, start)
    if len(steps) != len(edges):
        return None
    left, right = caps.get(start, []), caps.get(end, [])
    if start == end:  # no matrices: two caps on one index, or a lone summed vector
        left, right = left[:1], left[1:]
    lcap = left[0] if left else _Cap("open", start)
    rcap = right[0] if right else _Cap("open", end)
    return _chain(an, lcap, rcap, steps, out_pos)


def _first_pos(comp: list[_Factor], i: int) -> int:
    return min(f.pos for f in comp if i in f.idx)


def _walk(edges: list[_Factor], start: int) -> tuple[list[_Step], int]:
    steps: list[_Step] = []
    used: set[int] = set()
    cur = start
    while True:
        nxt = next((f for f in edges if id(f) not in used and cur in f.idx), None)
        if nxt is None:
            return steps, cur
        used.add(id(nxt))
        forward = nxt.idx[0] == cur
        steps.append((nxt, forward))
        cur = nxt.idx[1] if forward else nxt.idx[0]


def _oriented(an: _Analysis, steps: Sequence[_Step]) -> list[Form]:
    return [f.form if fwd else an.ctx.transpose(f.form) for f, fwd in steps]


def _reversed(steps: Sequence[_Step]) -> list[_Step]:
    return [(f, not fwd) for f, fwd in reversed(steps)]


def _cycle(an: _Analysis, edges: list[_Factor]) -> _Piece | None:
    """A closed chain is a trace; choose the direction and starting factor with the
    fewest transposes, a transposed factor first (``trace(X.T @ A @ X)``)."""
    first = edges[0]
    steps, end = _walk(edges, first.idx[0])
    if len(steps) != len(edges) or end != first.idx[0]:
        return None
    best: tuple[tuple[int, int, int], list[Form]] | None = None
    for direction in (steps, _reversed(steps)):
        forms = _oriented(an, direction)
        costs = [an.ctx.cost(f) for f in forms]
        total = sum(costs)
        for r in range(len(forms)):
            key = (total, 0 if costs[r] or not total else 1, direction[r][0].pos)
            if best is None or key < best[0]:
                best = (key, forms[r:] + forms[:r])
    assert best is not None
    n = an.dims[first.idx[0]]
    return Trace((), matmul(best[1], (n, n))), ()


_CAP_PREFERENCE = {"out": 0, "vec": 1, "open": 2}


def _chain(
    an: _Analysis, lcap: _Cap, rcap: _Cap, steps: list[_Step], out_pos: dict[int, int]
) -> _Piece:
    """A path of matrices between two caps, in the orientation that prints best."""

    def build(lc: _Cap, rc: _Cap, path: list[_Step]) -> tuple[Form, int]:
        mats = _oriented(an, path)
        cost = sum(an.ctx.cost(f) for f in mats)
        parts = [c.form for c in (lc,) if c.form is not None] + mats
        parts += [c.form for c in (rc,) if c.form is not None]
        free = [c.index for c in (lc, rc) if c.kind == "out"]
        shape = an.shape(free)
        if "open" in (lc.kind, rc.kind):
            inner = an.shape([c.index for c in (lc, rc) if c.kind != "vec"])
            axes = None if not free else (1,) if lc.kind == "out" else (0,)
            return Sum(shape, matmul(parts, inner), axes), cost
        return matmul(parts, shape), cost

    if lcap.kind == "out" and rcap.kind == "out":
        if out_pos[lcap.index] > out_pos[rcap.index]:
            lcap, rcap, steps = rcap, lcap, _reversed(steps)
        form, cost = build(lcap, rcap, steps)
        back, back_cost = build(rcap, lcap, _reversed(steps))
        if back_cost + 1 < cost:
            form = Transpose(form.shape, back)
        return form, (lcap.index, rcap.index)
    if {lcap.kind, rcap.kind} == {"out", "vec"}:
        # a vector result is a column, as in the textbook: ``A.T @ v``, not ``v @ A``;
        # ``(A @ B).T @ v`` rather than ``B.T @ A.T @ v``
        lc, rc, path = (lcap, rcap, steps) if lcap.kind == "out" else (rcap, lcap, _reversed(steps))
        form, cost = build(lc, rc, path)
        forward = _oriented(an, _reversed(path))
        if cost >= 2 and not any(an.ctx.cost(f) for f in forward) and rc.form is not None:
            rows, cols = forward[0].shape[0], forward[-1].shape[-1]
            product = Transpose((cols, rows), matmul(forward, (rows, cols)))
            form = matmul([product, rc.form], form.shape)
        return form, (lc.index,)
    # a vector or a scalar reads the same both ways: fewest transposes wins, then
    # starting at the output, then at a vector rather than at an open end
    options = []
    for lc, rc, path in ((lcap, rcap, steps), (rcap, lcap, _reversed(steps))):
        form, cost = build(lc, rc, path)
        first_pos = path[0][0].pos if path else 0
        options.append(((cost, _CAP_PREFERENCE[lc.kind], first_pos), form))
    form = min(options, key=lambda o: o[0])[1]
    return form, tuple(c.index for c in (lcap, rcap) if c.kind == "out")


# ---- putting the components together --------------------------------------------------


def _assemble(an: _Analysis) -> Form:
    pieces: list[tuple[int, Form, tuple[int, ...]]] = []  # (pos, form, free indices)
    for comp in _components(an.factors):
        piece = _collapse(an, comp, an.out_pos)
        if piece is None:
            pieces.extend((f.pos, f.form, f.idx) for f in comp)
        elif piece[1]:
            pieces.append((comp[0].pos, piece[0], piece[1]))
        else:
            an.scalars.append(piece[0])
    if not pieces:
        return an.scalars[0] if len(an.scalars) == 1 else Mul((), tuple(an.scalars))
    pieces.sort(key=lambda p: p[0])
    main = _matrix_result(an, pieces) or _single_sum(an, pieces)
    if main is None:
        # inside an einsum call an index order is free: drop a leading transpose
        pieces = [
            (pos, form.x, idx[::-1])
            if isinstance(form, Transpose) and len(idx) == 2
            else (pos, form, idx)
            for pos, form, idx in pieces
        ]
        pieces.sort(key=lambda p: (min(an.out_pos.get(i, len(an.out)) for i in p[2]), p[0]))
        main = EinsumCall(
            an.shape(an.out),
            tuple(p[2] for p in pieces),
            an.out,
            tuple(p[1] for p in pieces),
        )
    return Mul(main.shape, (*an.scalars, main)) if an.scalars else main


def _matrix_result(an: _Analysis, pieces: list[tuple[int, Form, tuple[int, ...]]]) -> Form | None:
    """The result as one matrix, one vector or an outer product of two vectors."""
    free = [p[2] for p in pieces]
    if len(an.out) > 2 or len(pieces) > 2 or any(len(f) != len(set(f)) for f in free):
        return None
    if sorted(i for f in free for i in f) != sorted(an.out):
        return None
    if len(pieces) == 1:
        form, idx = pieces[0][1], pieces[0][2]
        if idx == an.out:
            return form
        return an.ctx.transpose(form) if len(idx) == 2 else None
    if all(len(f) == 1 for f in free):
        a, b = sorted(pieces, key=lambda p: an.out_pos[p[2][0]])
        return Outer(an.shape(an.out), a[1], b[1])
    return None


def _single_sum(an: _Analysis, pieces: list[tuple[int, Form, tuple[int, ...]]]) -> Form | None:
    """One operand summed over some of its axes, the rest in order: ``sum(T, axis=...)``."""
    if len(pieces) != 1:
        return None
    _, form, idx = pieces[0]
    if len(set(idx)) != len(idx) or tuple(i for i in idx if i in an.out_pos) != an.out:
        return None
    if len(idx) == len(an.out):
        return None
    axes = tuple(k for k, i in enumerate(idx) if i not in an.out_pos)
    return Sum(an.shape(an.out), form, None if not an.out else axes)

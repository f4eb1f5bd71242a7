"""Shape inference for matgrad's expression language (layer 6; the private half of
:mod:`matgrad.language.parse`).

:class:`Typer` types every node of a syntax tree under one assignment of ranks to
the symbols: each symbol axis is a dimension variable, and each operation
unifies the variables it constrains (:class:`Dims`, a union-find whose classes
may be bound to sizes).  :func:`infer` chooses the ranks: given shapes first, then
ranks that direct uses force (``tr(X)``: a matrix), then names (``A`` matrix,
``x`` vector, ``alpha`` scalar); when those do not fit together it tries the
assignments that deviate least from them, within a fixed budget (the rank
preferences and that search are :mod:`matgrad.language.ranks`).  The rules are
listed in ``docs/cli.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matgrad.errors import ShapeError
from matgrad.language.calls import CallTyper
from matgrad.language.dims import Abort, Dims, Ty
from matgrad.language.operators import PI
from matgrad.language.ranks import GREEK as GREEK
from matgrad.language.ranks import _assignments, _preferred_ranks, _uses
from matgrad.language.syntax import (
    Call,
    Chain,
    LocatedShapeError,
    Name,
    Node,
    Num,
    Power,
    Sign,
    Transpose,
)

__all__ = ["PI", "Dims", "Typer", "Ty", "infer"]


class Typer(CallTyper):
    """Types every node of the tree under one assignment of ranks to the symbols.

    The rules for names, numbers and operators are :class:`OperatorTyper`'s
    (:mod:`matgrad.language.operators`), those for calls :class:`CallTyper`'s
    (:mod:`matgrad.language.calls`); here are the pass over the tree and the sizes
    of the dimensions it leaves free.
    """

    # ---- the pass -----------------------------------------------------------------------
    def run(self, order: Sequence[Node]) -> None:
        for node in order:
            if isinstance(node, Num):
                self.ty[node] = Ty(())
                self.num[node] = node.value
            elif isinstance(node, Name):
                self.ty[node] = self.name(node)
            elif isinstance(node, Sign):
                self.ty[node] = self.need(node.operand)
                if node.operand in self.num:
                    value = self.num[node.operand]
                    self.num[node] = -value if node.negative else value
            elif isinstance(node, Transpose):
                t = self.need(node.operand)
                if node.count % 2 == 0 or t.rank == 0:
                    self.ty[node] = t
                else:
                    self.ty[node] = Ty(t.dims, not t.row) if t.rank == 1 else Ty(t.dims[::-1])
                if node.operand in self.num:
                    self.num[node] = self.num[node.operand]
            elif isinstance(node, Power):
                self.power(node)
            elif isinstance(node, Chain):
                if node.additive:
                    self.sum(node)
                else:
                    self.product(node)
            elif isinstance(node, Call):
                self.ty[node] = self.call(node)
        if order:
            self.need(order[-1])  # a string, tuple or list alone is not an expression

    # ---- free dimensions ---------------------------------------------------------------
    def anchored(self) -> set[int]:
        """Dimension classes tied to a symbol's axes (directly, or through Kronecker
        products whose other two dimensions are tied)."""
        find = self.dims.find
        roots = {find(v) for dims in self.symbol_dims.values() for v in dims}
        changed = True
        while changed:
            changed = False
            for p in self.products:
                r, a, b = find(p.result), find(p.a), find(p.b)
                for target, others in ((r, (a, b)), (a, (r, b)), (b, (r, a))):
                    if target not in roots and all(o in roots for o in others):
                        roots.add(target)
                        changed = True
        return roots

    def finish(self, default_size: int, root: Node, result_shape: Sequence[int] | None) -> None:
        """Resolve Kronecker products and give every free dimension ``default_size``
        (a free dimension of the result takes its size from ``result_shape`` first,
        when that has the result's rank)."""
        results = {self.dims.find(p.result) for p in self.products}
        root_dims = self.ty[root].dims
        if result_shape is not None and len(result_shape) == len(root_dims):
            for v, n in zip(root_dims, result_shape):
                if self.dims.get(v) is None:
                    self.dims.bind(v, n)
        while True:
            progress = True
            while progress:
                progress = False
                for p in self.products:
                    r, a, b = p.result, p.a, p.b
                    sr, sa, sb = self.dims.get(r), self.dims.get(a), self.dims.get(b)
                    ok = True
                    if sa is not None and sb is not None:
                        ok = self.dims.bind(r, sa * sb)
                        progress |= sr is None
                    elif sr is not None and (sa is not None or sb is not None):
                        known, other = (sa, b) if sa is not None else (sb, a)
                        assert known is not None
                        ok = sr % known == 0 and self.dims.bind(other, sr // known)
                        progress = True
                    if not ok:
                        start, end = p.span
                        raise self.conflict(
                            start, end,
                            f"the Kronecker product {self.snippet(start, end)} has a dimension "
                            f"{sa or '?'} × {sb or '?'} where the expression around it needs "
                            f"{sr}",
                            list(p.operands),
                        )
            anchored = self.anchored()
            for node, v in self.identity.items():
                if self.dims.get(v) is None and self.dims.find(v) not in anchored:
                    raise self.conflict(
                        node.start, node.end,
                        "the size of the identity I is not determined by the formula",
                        [node], "combine I with a symbol of known shape, or give I a shape",
                    )
            free = [v for v in range(len(self.dims.parent)) if self.dims.get(v) is None]
            if not free:
                break
            plain = [v for v in free if self.dims.find(v) not in results]
            self.dims.bind((plain or free)[0], default_size)
        for call, op, attrs, operands in self.checks:
            shapes = tuple(tuple(self.dims.get(v) or 1 for v in ty.dims) for _, ty in operands)
            try:
                op.shape(shapes, attrs)
            except ShapeError as err:
                described = ", ".join(self.described(a.start, a.end, t) for a, t in operands)
                raise self.conflict(
                    call.start, call.name_end,
                    f"{call.name} of {described}: {err}",
                    [a for a, _ in operands],
                ) from None



# =====================================================================================
# Inference: the best-fitting ranks (see matgrad.language.ranks)
# =====================================================================================


def infer(
    text: str,
    order: Sequence[Node],
    given: Mapping[str, tuple[int, ...]],
    square: frozenset[str],
    identity: bool,
    default_size: int,
    result_shape: Sequence[int] | None = None,
) -> Typer:
    """The typing of the tree (``order``: its nodes in post-order) under the ranks
    that fit best; raises the preferred ranks' :class:`LocatedShapeError` if none fit."""
    names: list[str] = []
    reserved = {n for n in PI if n not in given} | ({"I"} if identity else set())
    for node in sorted(order, key=lambda n: n.start):
        if isinstance(node, Name) and node.name not in names and node.name not in reserved:
            names.append(node.name)
    allowed = _uses(order)
    choices: dict[str, list[int]] = {}
    for name in names:
        if name in given:
            choices[name] = [len(given[name])]
        elif name in square:
            choices[name] = [2]
        else:
            preferred = _preferred_ranks(name)
            usable = allowed.get(name, {0, 1, 2})
            choices[name] = [r for r in preferred if r in usable] or sorted(usable) or preferred
    budget = min(500, max(10, 100_000 // max(1, len(order))))
    first: LocatedShapeError | None = None
    for ranks in _assignments(names, choices, budget):
        typer = Typer(text, ranks, given, square, identity)
        try:
            typer.run(order)
            typer.finish(default_size, order[-1], result_shape)
        except Abort as abort:
            first = first or abort.error
            continue
        return typer
    assert first is not None
    raise first

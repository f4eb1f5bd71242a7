"""Typing of names, numbers and operators for shape inference (the first half of
:class:`matgrad.language.shapes.Typer`).

:class:`OperatorTyper` owns the typer's state and its located errors, and types
the symbols (one dimension variable per axis), constant folding, powers, sums and
products (``*``, ``@``, ``.*``, ``/``, ``⊗``: :meth:`OperatorTyper.step`, which the
call forms ``matmul``, ``kron``, ... reuse).  The calls of functions are typed by
:mod:`matgrad.language.calls`; the pass over the tree, the sizes of free dimensions
and the choice of ranks by :mod:`matgrad.language.shapes`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from matgrad.ir.apply import Operation
from matgrad.language.dims import Abort, Dims, Product, Ty
from matgrad.language.syntax import (
    Call,
    Chain,
    LocatedParseError,
    LocatedShapeError,
    Name,
    Node,
    Op,
    Power,
    Seq,
    Str,
    entries,
    postorder,
)
from matgrad.ops.registry import LanguageEntry

__all__ = ["PI", "OperatorTyper"]

PI = ("pi", "π")
"""Names of the number π (unless given a shape)."""


class OperatorTyper:
    """The state of one typing (under one assignment of ranks to the symbols), its
    errors, and the rules for names, numbers and operators."""

    def __init__(
        self,
        text: str,
        ranks: Mapping[str, int],
        given: Mapping[str, tuple[int, ...]],
        square: frozenset[str],
        identity: bool,
    ) -> None:
        self.text = text
        self.ranks = ranks
        self.given = given
        self.square = square
        self.identity_name = identity  # is ``I`` the identity?
        self.dims = Dims()
        self.ty: dict[Node, Ty] = {}
        self.num: dict[Node, float] = {}
        self.steps: dict[Node, list[str]] = {}
        self.symbol_dims: dict[str, tuple[int, ...]] = {}
        self.identity: dict[Node, int] = {}
        self.products: list[Product] = []
        self.axis: dict[Node, int | tuple[int, ...] | None] = {}
        self.spec: dict[Node, str] = {}
        self.arrays: dict[Node, np.ndarray] = {}
        self.shapes: dict[Node, tuple[int, ...]] = {}
        """The constant shape of each shape argument (of ``ones``, ``zeros`` and the
        registry functions with a ``shape`` parameter), by argument node."""
        self.attrs: dict[Call, dict[str, Any]] = {}
        """The constant arguments of each call of a registry function, by parameter name."""
        self.entries = entries()
        """The registry's functions of the language (read once per typing)."""
        self.generic_calls: dict[Node, Operation] = {}
        """Calls of registry functions typed by their operation's shape rule
        (``CallTyper.beyond_signature``)."""
        self.expression_powers: dict[Node, LanguageEntry] = {}
        """Powers ``x ** y`` whose exponent is an expression, with the registry
        function that builds them."""
        self.checks: list[tuple[Call, Operation, dict[str, Any], list[tuple[Node, Ty]]]] = []
        """Calls of declared operations whose shape rule is checked once every
        dimension is known (``Typer.finish``)."""

    # ---- errors -------------------------------------------------------------------------
    def syntax(self, start: int, end: int, problem: str, hint: str = "") -> LocatedParseError:
        return LocatedParseError(self.text, start, max(end, start + 1), problem, hint)

    def conflict(
        self, start: int, end: int, problem: str, nodes: Sequence[Node], hint: str = ""
    ) -> Abort:
        names: list[str] = []
        for n in nodes:
            for sub in postorder(n):
                if isinstance(sub, Name) and sub.name in self.symbol_dims:
                    if sub.name not in names:
                        names.append(sub.name)
        notes = [
            "symbols: "
            + ", ".join(f"{n} {self.shape_text(Ty(self.symbol_dims[n]))}" for n in names)
        ] if names else []
        return Abort(
            LocatedShapeError(self.text, start, max(end, start + 1), problem, hint, notes)
        )

    def shape_text(self, ty: Ty) -> str:
        sizes = [self.dims.get(v) for v in ty.dims]
        inner = ", ".join("?" if s is None else str(s) for s in sizes)
        text = f"({inner},)" if len(sizes) == 1 else f"({inner})"
        return text + (" (a row)" if ty.row else "")

    def snippet(self, start: int, end: int) -> str:
        s = " ".join(self.text[start:end].split())
        return s if len(s) <= 40 else s[:37] + "..."

    def described(self, start: int, end: int, ty: Ty) -> str:
        return f"{self.snippet(start, end)} (shape {self.shape_text(ty)})"

    def need(self, node: Node) -> Ty:
        ty = self.ty.get(node)
        if ty is None:
            what = "a string" if isinstance(node, Str) else "a list" if (
                isinstance(node, Seq) and node.bracket == "[") else "a tuple"
            where = (
                "as the first argument of einsum" if isinstance(node, Str)
                else "inside array(...)" if what == "a list"
                else f"as the shape in {self.shape_functions()}"
            )
            raise self.syntax(node.start, node.end, f"{what} is only allowed {where}")
        return ty

    def shape_functions(self) -> str:
        """The functions that take a shape argument, as text."""
        registry = sorted(
            name for name, entry in self.entries.items()
            if any(p.kind == "shape" for p in entry.signature.params)
        )
        names = ["ones", "zeros", *registry]
        return ", ".join(names[:-1]) + " or " + names[-1]

    def integer(self, node: Node, what: str) -> int:
        value = self.num.get(node)
        if value is None or not float(value).is_integer() or abs(value) > 2**31:
            raise self.syntax(node.start, node.end, f"{what} must be an integer constant")
        return int(value)

    # ---- names, numbers and operators ---------------------------------------------------
    def name(self, node: Name) -> Ty:
        if node.name in PI and node.name not in self.given:
            self.num[node] = math.pi
            return Ty(())
        if node.name == "I" and self.identity_name:
            v = self.dims.new()
            self.identity[node] = v
            return Ty((v, v))
        dims = self.symbol_dims.get(node.name)
        if dims is None:
            given = self.given.get(node.name)
            if given is not None:
                dims = tuple(self.dims.new(n) for n in given)
            else:
                dims = tuple(self.dims.new() for _ in range(self.ranks[node.name]))
            self.symbol_dims[node.name] = dims
            if node.name in self.square and (len(dims) != 2 or not self.dims.unify(*dims)):
                raise self.conflict(
                    node.start, node.end,
                    f"{node.name} is declared symmetric but has shape {self.shape_text(Ty(dims))}",
                    [node],
                )
        return Ty(dims)

    def fold(self, node: Node, op: Op, fn: str, a: float, b: float) -> None:
        try:
            if fn == "+":
                value = a + b
            elif fn == "-":
                value = a - b
            elif fn == "*":
                value = a * b
            elif fn == "/":
                value = a / b
            else:
                value = math.pow(a, b)
        except ZeroDivisionError:
            raise self.syntax(op.start, op.end, "division by zero") from None
        except (ValueError, OverflowError):
            raise self.syntax(
                node.start, node.end, f"{self.snippet(node.start, node.end)} is not a finite "
                "real number"
            ) from None
        if not math.isfinite(value):
            raise self.syntax(node.start, node.end, "the number is too large")
        self.num[node] = value

    def power(self, node: Power) -> None:
        base = self.need(node.base)
        p = self.num.get(node.exponent)
        if p is None:
            exponent = self.need(node.exponent)
            entry = _expression_power(self.entries)
            if entry is not None and node.op.text == "**" and (
                0 in (exponent.rank, base.rank)
                or (exponent.rank == base.rank and all(
                    self.dims.unify(a, b) for a, b in zip(base.dims, exponent.dims)
                ))
            ):  # ``x ** y`` with an expression exponent, as the printers write it
                self.expression_powers[node] = entry
                self.ty[node] = base if base.rank else exponent
                return
            raise self.syntax(
                node.exponent.start, node.exponent.end, "the exponent must be a constant number",
                "x^2, x^-1, x^0.5 are powers; for e^x write exp(x)",
            )
        if node.op.text == "^" and base.rank == 2 and p < 0:
            b = self.snippet(node.base.start, node.base.end)
            raise self.syntax(
                node.op.start, node.exponent.end,
                f"{b}^{self.snippet(node.exponent.start, node.exponent.end)} is ambiguous for "
                "a matrix: ^ is the entrywise power",
                f"write inv({b}) for the inverse, or {b}.^{_number(p)} for the entrywise power",
            )
        self.ty[node] = base
        if node.base in self.num:
            self.fold(node, node.op, "^", self.num[node.base], p)

    def sum(self, node: Chain) -> None:
        acc = self.need(node.first)
        value = self.num.get(node.first)
        for k, (op, x) in enumerate(node.rest):
            t = self.need(x)
            if acc.rank == 0:
                acc = t
            elif t.rank != 0:
                ok = acc.rank == t.rank and all(
                    self.dims.unify(a, b) for a, b in zip(acc.dims, t.dims)
                )
                if not ok:
                    left_end = node.rest[k - 1][1].end if k else node.first.end
                    verb = "add" if op.text == "+" else "subtract"
                    raise self.conflict(
                        op.start, op.end,
                        f"cannot {verb} {self.described(node.start, left_end, acc)} and "
                        f"{self.described(x.start, x.end, t)}",
                        [node.first, *(y for _, y in node.rest[: k + 1])],
                        "a sum needs equal shapes (or a scalar term)",
                    )
            if value is not None and x in self.num:
                self.fold(node, op, op.text, value, self.num[x])
                value = self.num[node]
            else:
                value = None
        if value is None:
            self.num.pop(node, None)
        self.ty[node] = acc

    def product(self, node: Chain) -> None:
        acc = self.need(node.first)
        value = self.num.get(node.first)
        steps: list[str] = []
        for k, (op, x) in enumerate(node.rest):
            t = self.need(x)
            left_end = node.rest[k - 1][1].end if k else node.first.end
            operands = [node.first, *(y for _, y in node.rest[: k + 1])]
            kind, acc = self.step(op, acc, t, (node.start, left_end), x, operands)
            steps.append(kind)
            if op.text in ("/", "./") and self.num.get(x) == 0:
                raise self.syntax(op.start, op.end, "division by zero")
            if value is not None and x in self.num and op.text not in ("@", "⊗"):
                fn = "/" if op.text in ("/", "./") else "*"
                self.fold(node, op, fn, value, self.num[x])
                value = self.num[node]
            else:
                value = None
        if value is None:
            self.num.pop(node, None)
        self.steps[node] = steps
        self.ty[node] = acc

    def step(
        self,
        op: Op,
        a: Ty,
        b: Ty,
        left: tuple[int, int],
        right: Node,
        operands: list[Node],
    ) -> tuple[str, Ty]:
        """The kind of one product step and its result type."""
        L = self.described(left[0], left[1], a)
        R = self.described(right.start, right.end, b)

        def fail(problem: str, hint: str = "") -> Abort:
            return self.conflict(op.start, op.end, problem, operands, hint)

        def inner(x: int, y: int) -> None:
            if not self.dims.unify(x, y):
                raise fail(
                    f"cannot multiply {L} by {R}: inner dimensions {self.dims.get(x)} and "
                    f"{self.dims.get(y)} differ"
                )

        text = op.text
        if text in (".*", "⊙", "/", "./") or (text == "*" and (a.rank == 0 or b.rank == 0)):
            kind = "divide" if text in ("/", "./") else "scale"
            if a.rank == 0:
                return kind, b
            if b.rank == 0:
                return kind, a
            if a.rank != b.rank or not all(self.dims.unify(x, y) for x, y in zip(a.dims, b.dims)):
                what = "divide" if kind == "divide" else "multiply entrywise"
                raise fail(f"cannot {what} {L} and {R}: the shapes differ")
            return kind, a
        if text == "⊗":
            if a.rank != 2 or b.rank != 2:
                raise fail(f"⊗ (Kronecker product) needs two matrices, got {L} and {R}")
            return "kron", self.kron(a, b, (left[0], right.end), operands)
        if a.rank == 0 or b.rank == 0:  # "@"
            raise fail(f"@ needs vectors or matrices, got {L} and {R}", "scale with *")
        if a.rank > 2 or b.rank > 2:
            raise fail(
                f"{text} multiplies vectors and matrices, got {L} and {R}",
                'use einsum("...", ...) for tensors of rank 3 or more',
            )
        if a.rank == 2 and b.rank == 2:
            inner(a.dims[1], b.dims[0])
            return "matmul", Ty((a.dims[0], b.dims[1]))
        if a.rank == 2:
            if text == "*" and b.row:
                raise fail(f"cannot multiply the matrix {L} by the row vector {R}")
            inner(a.dims[1], b.dims[0])
            return "matmul", Ty((a.dims[0],))
        if b.rank == 2:
            if text == "*" and not a.row:
                v = self.snippet(left[0], left[1])
                raise fail(
                    f"cannot multiply the column vector {L} by the matrix {R}",
                    f"transpose the vector: {v}'*...",
                )
            inner(a.dims[0], b.dims[0])
            return "matmul", Ty((b.dims[1],), row=True)
        if text == "@" or (a.row and not b.row):
            inner(a.dims[0], b.dims[0])
            return "matmul", Ty(())
        if not a.row and b.row:
            return "outer", Ty((a.dims[0], b.dims[0]))
        x, y = self.snippet(left[0], left[1]), self.snippet(right.start, right.end)
        which = "row" if a.row else "column"
        raise fail(
            f"cannot multiply two {which} vectors {L} and {R}",
            f"{x}'*{y} is the inner product, {x}*{y}' the outer product, "
            f"{x}.*{y} the entrywise product",
        )

    def kron(self, a: Ty, b: Ty, span: tuple[int, int], operands: list[Node]) -> Ty:
        dims = []
        for x, y in zip(a.dims, b.dims):
            r = self.dims.new()
            self.products.append(Product(r, x, y, span, tuple(operands)))
            dims.append(r)
        return Ty(tuple(dims))


def _expression_power(entries: Mapping[str, LanguageEntry]) -> LanguageEntry | None:
    """The registry function of the entrywise power with an expression exponent:
    the operation of two operands that prints as a power."""
    for entry in entries.values():
        op = entry.build
        if isinstance(op, Operation) and op.notation.power and op.arity == 2:
            return entry
    return None


def _number(p: float) -> str:
    return str(int(p)) if float(p).is_integer() else repr(p)

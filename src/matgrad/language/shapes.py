"""Shape inference for matgrad's expression language (layer 4; the private half of
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

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from matgrad.language.ranks import GREEK as GREEK
from matgrad.language.ranks import _assignments, _preferred_ranks, _uses
from matgrad.language.syntax import (
    ELEMENTWISE,
    SQUARE,
    Call,
    Chain,
    LocatedParseError,
    LocatedShapeError,
    Name,
    Node,
    Num,
    Op,
    Power,
    Seq,
    Sign,
    Str,
    Transpose,
    postorder,
)

__all__ = ["PI", "Dims", "Typer", "Ty", "infer"]

PI = ("pi", "π")
"""Names of the number π (unless given a shape)."""

# =====================================================================================
# Shapes: ranks, dimension variables and their unification
# =====================================================================================


class Dims:
    """Union-find over dimension variables; a class may be bound to a size."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.size: list[int | None] = []

    def new(self, size: int | None = None) -> int:
        self.parent.append(len(self.parent))
        self.size.append(size)
        return len(self.parent) - 1

    def find(self, v: int) -> int:
        while self.parent[v] != v:
            self.parent[v] = self.parent[self.parent[v]]
            v = self.parent[v]
        return v

    def get(self, v: int) -> int | None:
        return self.size[self.find(v)]

    def unify(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        sa, sb = self.size[ra], self.size[rb]
        if sa is not None and sb is not None and sa != sb:
            return False
        self.parent[rb] = ra
        self.size[ra] = sa if sa is not None else sb
        return True

    def bind(self, v: int, n: int) -> bool:
        r = self.find(v)
        if self.size[r] is None:
            self.size[r] = n
        return self.size[r] == n


@dataclass(frozen=True)
class Ty:
    """The type of a subexpression: one dimension variable per axis; a vector is a
    column unless ``row`` (it is a transposed column)."""

    dims: tuple[int, ...]
    row: bool = False

    @property
    def rank(self) -> int:
        return len(self.dims)


@dataclass(frozen=True)
class Product:
    """A dimension of a Kronecker product: ``size(result) = size(a) · size(b)``."""

    result: int
    a: int
    b: int
    span: tuple[int, int]
    operands: tuple[Node, ...]


class Abort(Exception):
    """A shape conflict under one choice of ranks (the search may try others)."""

    def __init__(self, error: LocatedShapeError) -> None:
        super().__init__(str(error))
        self.error = error


class Typer:
    """Types every node of the tree under one assignment of ranks to the symbols."""

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
        self.axis: dict[Node, int | None] = {}
        self.spec: dict[Node, str] = {}
        self.arrays: dict[Node, np.ndarray] = {}
        self.shapes: dict[Node, tuple[int, ...]] = {}
        self.reshapes: list[tuple[Call, Ty]] = []

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
                else "inside array(...)" if what == "a list" else "as the shape in ones or zeros"
            )
            raise self.syntax(node.start, node.end, f"{what} is only allowed {where}")
        return ty

    def integer(self, node: Node, what: str) -> int:
        value = self.num.get(node)
        if value is None or not float(value).is_integer() or abs(value) > 2**31:
            raise self.syntax(node.start, node.end, f"{what} must be an integer constant")
        return int(value)

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
            self.need(node.exponent)
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

    def square_arg(self, call: Call, t: Ty) -> int:
        arg = call.args[0]
        if t.rank != 2 or not self.dims.unify(t.dims[0], t.dims[1]):
            raise self.conflict(
                call.start, call.name_end,
                f"{call.name} needs a square matrix; {self.snippet(arg.start, arg.end)} has "
                f"shape {self.shape_text(t)}",
                [arg],
            )
        return t.dims[0]

    def call(self, call: Call) -> Ty:
        name, args = call.name, call.args
        if name in ("einsum", "array", "ones", "zeros", "reshape"):
            return self.special_call(call)
        types = [self.need(a) for a in args]
        if name in ELEMENTWISE:
            return types[0]
        if name in SQUARE:
            n = self.square_arg(call, types[0])
            return Ty((n, n)) if name in ("inv", "adj") else Ty(())
        if name in ("norm", "norm2"):
            return Ty(())
        if name in ("sum", "mean"):
            t = types[0]
            axis_node = args[1] if len(args) > 1 else dict(call.kwargs).get("axis")
            if axis_node is None:
                self.axis[call] = None
                return Ty(())
            axis = self.integer(axis_node, "the axis")
            if not -t.rank <= axis < t.rank:
                raise self.conflict(
                    axis_node.start, axis_node.end,
                    f"axis {axis} is out of range for "
                    f"{self.described(args[0].start, args[0].end, t)}",
                    [args[0]],
                )
            axis %= t.rank
            self.axis[call] = axis
            return Ty(t.dims[:axis] + t.dims[axis + 1 :])
        if name == "diag":
            t = types[0]
            if t.rank == 1:
                return Ty((t.dims[0], t.dims[0]))
            if t.rank == 2:
                return Ty((self.square_arg(call, t),))
            raise self.conflict(
                call.start, call.name_end,
                f"diag needs a vector or a square matrix; "
                f"{self.described(args[0].start, args[0].end, types[0])}",
                [args[0]],
            )
        if name == "outer":
            if types[0].rank != 1 or types[1].rank != 1:
                raise self.conflict(
                    call.start, call.name_end,
                    "outer needs two vectors, got "
                    f"{self.described(args[0].start, args[0].end, types[0])} and "
                    f"{self.described(args[1].start, args[1].end, types[1])}",
                    list(args),
                )
            return Ty((types[0].dims[0], types[1].dims[0]))
        if name in ("kron", "hadamard", "matmul", "dot"):
            text = {"kron": "⊗", "hadamard": "⊙", "matmul": "@", "dot": "@"}[name]
            if name == "dot" and (types[0].rank == 0 or types[1].rank == 0):
                text = "*"
            op = Op(text, call.start, call.name_end)
            kind, ty = self.step(
                op, types[0], types[1], (args[0].start, args[0].end), args[1], list(args)
            )
            self.steps[call] = [kind]
            return ty
        if name == "transpose":
            t = types[0]
            return Ty(t.dims, not t.row) if t.rank == 1 else Ty(t.dims[::-1])
        if name == "power":
            if args[1] not in self.num:
                raise self.syntax(args[1].start, args[1].end, "the exponent must be a constant")
            return types[0]
        if name == "matrix_power":
            self.integer(args[1], "the exponent of matrix_power")
            n = self.square_arg(call, types[0])
            return Ty((n, n))
        assert name == "solve"
        n = self.square_arg(call, types[0])
        b = types[1]
        if b.rank not in (1, 2) or not self.dims.unify(n, b.dims[0]):
            raise self.conflict(
                call.start, call.name_end,
                f"solve(A, B) needs B with as many rows as A; "
                f"{self.described(args[0].start, args[0].end, types[0])}, "
                f"{self.described(args[1].start, args[1].end, b)}",
                list(args),
            )
        return Ty(b.dims)

    def special_call(self, call: Call) -> Ty:
        name, args = call.name, call.args
        if name == "einsum":
            return self.einsum(call)
        if name == "array":
            value = self.array(args[0])
            self.arrays[call] = value
            return Ty(tuple(self.dims.new(n) for n in value.shape))
        arg = args[-1]  # the shape of ones, zeros, reshape
        items = arg.items if isinstance(arg, Seq) and arg.bracket == "(" else (arg,)
        shape = tuple(self.integer(item, f"a dimension of {name}") for item in items)
        if any(n < 1 for n in shape):
            raise self.syntax(arg.start, arg.end, f"the dimensions of {name} must be positive")
        self.shapes[call] = shape
        if name == "reshape":
            self.reshapes.append((call, self.need(args[0])))
        return Ty(tuple(self.dims.new(n) for n in shape))

    def array(self, node: Node) -> np.ndarray:
        rows: list[object] = []
        stack: list[tuple[Node, list[object]]] = [(node, rows)]
        while stack:
            item, out = stack.pop()
            if isinstance(item, Seq) and item.bracket == "[":
                inner: list[object] = []
                out.append(inner)
                stack.extend((x, inner) for x in reversed(item.items))
            elif item in self.num:
                out.append(self.num[item])
            else:
                raise self.syntax(item.start, item.end, "an array holds numbers only")
        try:
            value = np.array(rows[0], dtype=np.float64)
        except ValueError:
            raise self.syntax(
                node.start, node.end, "the rows of the array differ in length"
            ) from None
        if value.ndim > 0 and 0 in value.shape:
            raise self.syntax(node.start, node.end, "an array cannot be empty")
        return value

    def einsum(self, call: Call) -> Ty:
        spec_node, operands = call.args[0], call.args[1:]
        if not isinstance(spec_node, Str):
            raise self.syntax(
                spec_node.start, spec_node.end,
                'the first argument of einsum must be a string such as "ij,jk->ik"',
            )
        spec = "".join(spec_node.value.split())
        lhs, arrow, out = spec.partition("->")
        bad = next((c for c in lhs.replace(",", "") + out if not ("a" <= c.lower() <= "z")), None)
        if bad is not None or "->" in out:
            raise self.syntax(
                spec_node.start, spec_node.end,
                f"invalid einsum subscripts {spec_node.value!r}",
                "letters for the axes, ',' between operands, '->' before the output",
            )
        terms = lhs.split(",")
        if len(terms) != len(operands):
            raise self.syntax(
                spec_node.start, spec_node.end,
                f"the subscripts name {len(terms)} operand(s) but {len(operands)} were given",
            )
        letters: dict[str, int] = {}
        for term, operand in zip(terms, operands):
            t = self.need(operand)
            if len(term) != t.rank:
                raise self.conflict(
                    operand.start, operand.end,
                    f"einsum operand {self.described(operand.start, operand.end, t)} has "
                    f"{t.rank} axes but its subscripts {term!r} have {len(term)}",
                    [operand],
                )
            for ch, d in zip(term, t.dims):
                if ch in letters and not self.dims.unify(letters[ch], d):
                    raise self.conflict(
                        operand.start, operand.end,
                        f"einsum index {ch!r} has size {self.dims.get(letters[ch])} elsewhere "
                        f"but {self.dims.get(d)} in {self.snippet(operand.start, operand.end)}",
                        list(operands),
                    )
                letters.setdefault(ch, d)
        if not arrow:
            joined = lhs.replace(",", "")
            out = "".join(sorted(c for c in letters if joined.count(c) == 1))
        if len(set(out)) != len(out) or any(c not in letters for c in out):
            raise self.syntax(
                spec_node.start, spec_node.end,
                f"the output {out!r} of einsum must name distinct indices of the operands",
            )
        self.spec[call] = f"{lhs}->{out}"
        return Ty(tuple(letters[c] for c in out))

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
        for call, ty in self.reshapes:
            size = math.prod(self.dims.get(v) or 1 for v in ty.dims)
            if size != math.prod(self.shapes[call]):
                arg = call.args[0]
                raise self.conflict(
                    call.start, call.name_end,
                    f"cannot reshape {self.described(arg.start, arg.end, ty)} "
                    f"({size} entries) to {self.shapes[call]}",
                    [arg],
                )


def _number(p: float) -> str:
    return str(int(p)) if float(p).is_integer() else repr(p)


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

"""Typing of function calls for shape inference (the second half of
:class:`matgrad.language.shapes.Typer`): the built-in functions of the language
(``tr``, ``sum``, ``diag``, ``solve``, ...), the constants ``array``, ``ones``,
``zeros`` and ``eye`` with their constant shapes, ``einsum`` with its subscripts, and the
functions of the operation registry, typed by their declared signatures."""

from __future__ import annotations

from typing import Any

import numpy as np

from matgrad.errors import InvalidArgumentError, ShapeError
from matgrad.ir.apply import Operation
from matgrad.ir.expr import symbol
from matgrad.language.dims import Ty
from matgrad.language.functions import call_form, call_operation, operation_of
from matgrad.language.operators import OperatorTyper
from matgrad.language.syntax import Call, IndexList, Key, Node, Op, Seq, Str
from matgrad.ops.registry import LanguageEntry

__all__ = ["CallTyper"]


class CallTyper(OperatorTyper):
    """The rules for calls, on top of those for names, numbers and operators."""

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
        if call.operation:
            return self.operation_call(call)
        entry = self.entries.get(name)
        if entry is not None:
            return self.registry_call(call, entry)
        if name in ("einsum", "array", "ones", "zeros", "eye"):
            return self.special_call(call)
        types = [self.need(a) for a in args]
        if name in ("tr", "trace"):
            self.square_arg(call, types[0])
            return Ty(())
        if name in ("sum", "mean"):
            t = types[0]
            axis_node = args[1] if len(args) > 1 else dict(call.kwargs).get("axis")
            if axis_node is None:
                self.axis[call] = None
                return Ty(())
            items = axis_node.items if isinstance(axis_node, Seq) else (axis_node,)
            axes = []
            for item in items:  # one axis, or a tuple of them as the printers write
                axis = self.integer(item, "the axis")
                if not -t.rank <= axis < t.rank:
                    raise self.conflict(
                        item.start, item.end,
                        f"axis {axis} is out of range for "
                        f"{self.described(args[0].start, args[0].end, t)}",
                        [args[0]],
                    )
                axes.append(axis % t.rank)
            self.axis[call] = axes[0] if not isinstance(axis_node, Seq) else tuple(axes)
            return Ty(tuple(d for k, d in enumerate(t.dims) if k not in axes))
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
        shape = self.shape_arg(name, args[-1])  # ones, zeros, eye
        if name == "eye":
            if len(shape) != 1:
                raise self.syntax(args[0].start, args[0].end, "eye(n) takes one size")
            shape = shape * 2
        return Ty(tuple(self.dims.new(n) for n in shape))

    def shape_arg(self, name: str, arg: Node) -> tuple[int, ...]:
        """The constant shape ``arg`` (``(m, n)``, or one integer) given to ``name``."""
        items = arg.items if isinstance(arg, Seq) and arg.bracket == "(" else (arg,)
        shape = tuple(self.integer(item, f"a dimension of {name}") for item in items)
        if any(n < 1 for n in shape):
            raise self.syntax(arg.start, arg.end, f"the dimensions of {name} must be positive")
        self.shapes[arg] = shape
        return shape

    def registry_call(self, call: Call, entry: LanguageEntry) -> Ty:
        """A function of the operation registry, typed by its signature: an array
        parameter with a dims pattern (``(n,n)``) needs an argument of that rank,
        and dimensions named alike (within a parameter or across) are unified; a
        ``number`` parameter takes a constant number, a ``shape`` parameter a
        constant shape.  The result is the first operand's type (``x``), the
        pattern's dimensions (``(n,n)``, ``()``), or the given shape."""
        name = call.name
        signature = entry.signature
        arrays = [p for p in signature.params if p.kind == "array"]
        if self.beyond_signature(call, entry):
            assert isinstance(entry.build, Operation)
            self.generic_calls[call] = entry.build
            return self.operation_call(call)
        bound: dict[str, tuple[int, int]] = {}  # letter -> (dimension, argument index)
        operands: list[tuple[Node, Ty]] = []
        attrs: dict[str, Any] = {}
        for k, (param, arg) in enumerate(zip(signature.params, call.args)):
            if param.kind == "number":
                value = self.num.get(arg)
                if value is None:
                    self.need(arg)
                    raise self.syntax(
                        arg.start, arg.end,
                        f"the argument {param.name} of {name} must be a constant number",
                    )
                attrs[param.name] = value
                continue
            if param.kind == "shape":
                attrs[param.name] = self.shape_arg(name, arg)
                continue
            t = self.need(arg)
            operands.append((arg, t))
            if param.dims is None:
                continue
            where = f" as argument {k + 1}" if len(arrays) > 1 else ""
            local: dict[str, int] = {}
            if t.rank != len(param.dims) or not all(
                self.dims.unify(local.setdefault(letter, d), d)
                for letter, d in zip(param.dims, t.dims)
            ):
                raise self.conflict(
                    call.start, call.name_end,
                    f"{name} needs {_pattern_text(param.dims)}{where}; "
                    f"{self.snippet(arg.start, arg.end)} has shape {self.shape_text(t)}",
                    [arg],
                )
            for letter, d in local.items():
                if letter not in bound:
                    bound[letter] = (d, k)
                elif not self.dims.unify(bound[letter][0], d):
                    other = call.args[bound[letter][1]]
                    raise self.conflict(
                        call.start, call.name_end,
                        f"{name} needs arguments of shapes "
                        f"{', '.join('(' + ', '.join(p.dims or ('...',)) + ')' for p in arrays)}"
                        f"; dimension {letter} differs between "
                        f"{self.described(other.start, other.end, self.need(other))} and "
                        f"{self.described(arg.start, arg.end, t)}",
                        [other, arg],
                    )
        self.attrs[call] = attrs
        if isinstance(entry.build, Operation):
            op = entry.build
            if op.check is not None:
                try:
                    checked = op.check(attrs)
                except InvalidArgumentError as err:
                    raise self.syntax(call.start, call.end, f"{name}: {err}") from None
            else:
                checked = attrs
            self.checks.append((call, op, checked, operands))
        result = signature.result
        if result.kind == "same":
            return operands[0][1] if operands else Ty(())
        if result.kind == "shape":
            return Ty(tuple(self.dims.new(n) for n in attrs[result.name]))
        known = self.known_shape(call, operands, attrs)
        if known is not None and len(known) != len(result.dims or ()):
            known = None
        fresh: dict[str, int] = {}
        return Ty(tuple(
            bound[letter][0] if letter in bound
            else fresh.setdefault(letter, self.dims.new(None if known is None else known[k]))
            for k, letter in enumerate(result.dims or ())
        ))

    def known_shape(
        self, call: Call, operands: list[tuple[Node, Ty]], attrs: dict[str, Any]
    ) -> tuple[int, ...] | None:
        """The result shape of a call of a declared operation whose operands' shapes
        are known already (``svdvals(X)`` of a known ``X``); else ``None``."""
        entry = self.entries.get(call.name)
        if entry is None or not isinstance(entry.build, Operation):
            return None
        sizes = [tuple(self.dims.get(d) for d in t.dims) for _, t in operands]
        if any(None in shape for shape in sizes):
            return None
        op = entry.build
        try:
            checked = op.check(attrs) if op.check is not None else attrs
            return op.shape(tuple(sizes), checked)  # type: ignore[arg-type]
        except (InvalidArgumentError, ShapeError):
            return None

    def beyond_signature(self, call: Call, entry: LanguageEntry) -> bool:
        """Whether an operand has more axes than the function's signature gives it
        although the operation takes them (a Fréchet derivative along a tensor of
        directions, as derivatives print): then it is typed by the operation's
        shape rule, which needs the operands' shapes known."""
        op = entry.build
        form = call_form(op) if isinstance(op, Operation) else None
        if form is None or form[0] != call.name or form[1]:
            return False
        for param, arg in zip(entry.signature.params, call.args):
            if param.kind == "array" and param.dims is not None:
                t = self.need(arg)
                if t.rank > len(param.dims):
                    return all(self.dims.get(d) is not None for d in t.dims)
        return False

    def operation_call(self, call: Call) -> Ty:
        """A declared operation as the printers write it: operands, then its
        attributes (numbers, tuples of numbers, ``True``/``False``/``None``, by
        keyword or in order).  Its shape rule needs the operands' shapes known."""
        op, operands, extra, named = self.operation_args(call)
        attrs = {k: self.constant(v, call.name) for k, v in zip(op.attrs, extra)}
        attrs.update((k, self.constant(v, call.name)) for k, v in named)
        shapes = []
        for arg in operands:
            t = self.need(arg)
            sizes = tuple(self.dims.get(d) for d in t.dims)
            if None in sizes:
                raise self.conflict(
                    arg.start, arg.end,
                    f"{call.name} needs the shape of {self.snippet(arg.start, arg.end)} "
                    "to be known; give it with shapes=", [arg],
                )
            shapes.append(tuple(n for n in sizes if n is not None))
        try:
            built = op(*(symbol(f"_{k}", sh) for k, sh in enumerate(shapes)), **attrs)
        except (InvalidArgumentError, ShapeError, TypeError, ValueError) as err:
            raise self.syntax(call.start, call.end, f"{call.name}: {err}") from None
        self.attrs[call] = attrs
        return Ty(tuple(self.dims.new(n) for n in built.shape))

    def operation_args(
        self, call: Call
    ) -> tuple[Operation, list[Node], list[Node], list[tuple[str, Node]]]:
        """The operation a call is read as, its operands in order, and its attributes
        in order and by keyword."""
        op = self.generic_calls.get(call) or operation_of(call)
        if op is None:
            keys = [k for k, _ in call.kwargs]
            near = call_operation(call.name, keys)
            form = call_form(near) if near is not None else None
            missing = sorted((set(near.attrs) | set(form[1])) - set(keys)) if near and form else []
            raise self.syntax(
                call.start, call.end,
                f"{call.name} needs {', '.join(missing)} as well" if missing
                else f"{call.name} does not take {', '.join(keys)} together",
            )
        form = call_form(op)
        by_key = form[1] if form is not None else {}
        count = len(call.args) if op.arity is None else op.arity - len(by_key)
        operands, extra = list(call.args[:count]), list(call.args[count:])
        first = call.args[0] if call.args else None
        if op.arity is None and isinstance(first, Seq) and first.bracket == "[":
            operands, extra = list(first.items), list(call.args[1:])  # f([a, b], ...)
        keyed = sorted((by_key[k], v) for k, v in call.kwargs if k in by_key)
        operands += [v for _, v in keyed]
        named = [(k, v) for k, v in call.kwargs if k not in by_key]
        if len(extra) > len(op.attrs):
            raise self.syntax(
                call.start, call.end,
                f"{call.name} takes {count + len(op.attrs)} arguments, got {len(call.args)}",
            )
        return op, operands, extra, named

    def constant(self, node: Node, name: str) -> Any:
        """A constant attribute: a number, a tuple of numbers, True, False or None."""
        if isinstance(node, Key):
            return tuple(np.array(k) if isinstance(k, IndexList) else k for k in node.value)
        if isinstance(node, Str):
            return {"True": True, "False": False, "None": None}.get(node.value, node.value)
        if isinstance(node, Seq) and node.bracket == "(":
            return tuple(self.constant(item, name) for item in node.items)
        value = self.num.get(node)
        if value is None:
            raise self.syntax(node.start, node.end, f"the attributes of {name} are constants")
        return int(value) if value.is_integer() else value

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


def _pattern_text(dims: tuple[str, ...] | None) -> str:
    """What an array parameter with the dims pattern ``dims`` needs, in words."""
    if dims is None:
        return "an array"
    if len(dims) == 0:
        return "a scalar"
    if len(dims) == 1:
        return "a vector"
    if len(dims) == 2:
        return "a square matrix" if dims[0] == dims[1] else "a matrix"
    return f"an array of shape ({', '.join(dims)})"

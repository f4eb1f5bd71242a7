"""Evaluation: plan once from shapes, then run the plan many times (layer 3).

:func:`compile` turns an expression into a :class:`Compiled` function.  Planning
sees only shapes: it walks the DAG once, gives every distinct node that needs a
value an integer *slot*, and emits a flat list of :class:`Step` records, each a
prepared NumPy call (opt_einsum decides every einsum's contraction order, cached
per subscripts and shapes).  Nodes that depend on no symbol are computed once,
at compile time.  A call then only checks its arguments and runs the steps.

Structure the IR keeps symbolic is used, not materialized:

* a Kronecker delta inside an einsum merges its two indices; one that survives
  (both indices are output indices) becomes a strided write into zeros;
* an all-ones operand is dropped (a broadcast, or a factor of its size);
* ``inv(X)`` contracted on one index, used nowhere else, becomes
  ``numpy.linalg.solve``; ``logdet`` is ``slogdet``; the adjugate comes from an
  SVD and is finite at singular ``X``.

>>> import numpy as np
>>> from matgrad.expr import Matrix
>>> from matgrad.compiler import compile
>>> X = Matrix("X", (2, 2))
>>> f = compile(X @ X.T)
>>> f(np.array([[1.0, 2.0], [3.0, 4.0]]))
array([[ 5., 11.],
       [11., 25.]])
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import opt_einsum

from matgrad import _kernels as K
from matgrad._types import Array, Shape
from matgrad.bindings import check_value
from matgrad.errors import (
    BindingError,
    InvalidArgumentError,
    ShapeError,
    UnsupportedOperationError,
)
from matgrad.expr import (
    HOOKS,
    Add,
    Constant,
    Delta,
    Einsum,
    Elementwise,
    Expr,
    Inv,
    MatrixFunction,
    Ones,
    Reshape,
    Symbol,
    Zero,
)

__all__ = [
    "EVALUATED_KINDS",
    "Compiled",
    "Step",
    "compile",
    "evaluate",
    "get_max_elements",
    "set_max_elements",
]

_max_elements = 100_000_000


def set_max_elements(n: int) -> None:
    """Set the largest number of elements any planned array may have (default 1e8).

    :func:`compile` refuses, with a ``ShapeError``, a plan that would allocate a
    bigger node value or einsum intermediate, before allocating anything.
    """
    global _max_elements
    if int(n) < 1:
        raise InvalidArgumentError(f"max_elements must be a positive integer, got {n!r}")
    _max_elements = int(n)


def get_max_elements() -> int:
    """The current default size limit of :func:`set_max_elements`."""
    return _max_elements


# =====================================================================================
# Plans
# =====================================================================================


@dataclass(frozen=True)
class Step:
    """One operation of a plan: ``slots[out] = kernel(*(slots[i] for i in inputs))``."""

    out: int
    inputs: tuple[int, ...]
    op: str
    """The routine: ``gemm``, ``einsum``, ``solve``, ``inv``, ``elementwise``, ..."""
    detail: str
    """Subscripts, function name or coefficients, for :meth:`Compiled.explain`."""
    shape: Shape
    flops: int
    """Estimated floating-point operations."""
    fresh: bool
    """The value is a new array (not a view of an input)."""
    kernel: K.Kernel
    header: str = ""
    """Printed before the step by ``explain()`` (an einsum's path and cost)."""
    in_place: Callable[[int], K.Kernel] | None = None
    """A variant of ``kernel`` that may overwrite input ``k`` (for sums)."""


@dataclass
class _Operand:
    """An einsum operand while planning: a slot, or an ``inv`` node not yet planned."""

    labels: tuple[int, ...]
    shape: Shape
    slot: int = -1
    inv: Inv | None = None


def _subscripts(operands: Sequence[_Operand], out: Sequence[int]) -> str:
    letters: dict[int, str] = {}
    for label in [i for op in operands for i in op.labels] + list(out):
        letters.setdefault(label, opt_einsum.get_symbol(len(letters)))
    terms = ["".join(letters[i] for i in op.labels) for op in operands]
    return ",".join(terms) + "->" + "".join(letters[i] for i in out)


def _describe(node: Expr) -> str:
    return f"{node.kind} node of shape {node.shape}"


class _Planner:
    """Builds the steps of one plan (shapes only; nothing is computed here)."""

    def __init__(self, root: Expr, symbols: Sequence[Symbol], max_elements: int) -> None:
        self.max_elements = max_elements
        self.steps: list[Step] = []
        self.slot_of: dict[int, int] = {}
        self.const_slots: set[int] = set()
        self.leaf_values: dict[int, Any] = {}
        self.n_slots = 0
        for sym in symbols:
            self.slot_of[sym.uid] = self._new_slot()
        nodes = root.walk()
        self.uses: dict[int, int] = {root.uid: 1}
        for node in nodes:
            for child in node.children:
                self.uses[child.uid] = self.uses.get(child.uid, 0) + 1
        self.const: dict[int, bool] = {}
        for node in nodes:
            self.const[node.uid] = not isinstance(node, Symbol) and all(
                self.const[c.uid] for c in node.children
            )
        # Which nodes need a value: deltas and all-ones operands of einsums do not.
        needed = {root.uid}
        for node in reversed(nodes):
            if node.uid in needed:
                structural = isinstance(node, Einsum)
                for child in node.children:
                    if not (structural and isinstance(child, (Delta, Ones))):
                        needed.add(child.uid)
        # An inverse with one consumer, an einsum, may become a solve: its planning
        # is deferred to that einsum.
        self.deferred = {
            n.uid
            for n in nodes
            if isinstance(n, Inv)
            and not self.const[n.uid]
            and self.uses[n.uid] == 1
            and n is not root
        }
        self.deferred &= {o.uid for n in nodes if isinstance(n, Einsum) for o in n.operands}
        for node in nodes:
            if node.uid in needed and node.uid not in self.deferred:
                self.plan(node)
        self.root_slot = self.slot_of[root.uid]

    # ---- slots and steps --------------------------------------------------------
    def _new_slot(self) -> int:
        self.n_slots += 1
        return self.n_slots - 1

    def _guard(self, size: int, what: str) -> None:
        if size > self.max_elements:
            raise ShapeError(
                f"evaluating {what} needs an array of {size} elements, more than "
                f"max_elements={self.max_elements} (see matgrad.compiler.set_max_elements)"
            )

    def emit(
        self,
        kernel: K.Kernel,
        inputs: Sequence[int],
        op: str,
        detail: str,
        shape: Shape,
        flops: int,
        fresh: bool,
        node: Expr,
        header: str = "",
    ) -> int:
        self._guard(math.prod(shape), _describe(node))
        out = self._new_slot()
        if all(i in self.const_slots for i in inputs):
            self.const_slots.add(out)
        self.steps.append(
            Step(out, tuple(inputs), op, detail, shape, int(flops), fresh, kernel, header)
        )
        return out

    def leaf(self, node: Expr, value: Any) -> int:
        slot = self._new_slot()
        self.const_slots.add(slot)
        self.leaf_values[slot] = value
        return slot

    # ---- nodes ------------------------------------------------------------------
    def plan(self, node: Expr) -> int:
        slot = self.slot_of.get(node.uid)
        if slot is None:
            slot = self._plan(node)
            self.slot_of[node.uid] = slot
        return slot

    def _plan(self, node: Expr) -> int:
        shape, dt = node.shape, node.dtype
        size = math.prod(shape)
        if isinstance(node, Symbol):
            raise BindingError(f"the expression depends on symbol {node.name!r}, not given")
        if isinstance(node, Constant):
            return self.leaf(node, node.value)
        if isinstance(node, (Zero, Ones, Delta)):
            fill = {"zero": np.zeros, "ones": np.ones}.get(node.kind)
            name = {"zero": "zeros", "ones": "ones"}.get(node.kind, "eye")

            def materialize() -> Array:
                return np.eye(shape[0], dtype=dt) if fill is None else fill(shape, dtype=dt)

            return self.emit(materialize, (), name, "", shape, 0, True, node)
        if isinstance(node, Einsum):
            return self._einsum(node)
        if isinstance(node, Add):
            ins = [self.plan(t) for t in node.terms]
            coeffs = tuple(_number(c) for c in node.coeffs)
            detail = " + ".join(f"{c}·s{i}" for c, i in zip(coeffs, ins))
            step = self.emit(
                K.make_add(coeffs), ins, "add", detail, shape, size * len(ins), True, node
            )
            self.steps[-1] = replace(self.steps[-1], in_place=functools.partial(K.make_add, coeffs))
            return step
        if isinstance(node, Elementwise):
            x = self.plan(node.x)
            if node.fn == "power":
                assert node.param is not None
                kernel, detail = K.make_power(node.param), f"power({node.param})"
            else:
                kernel, detail = K.ELEMENTWISE[node.fn], node.fn
            return self.emit(kernel, [x], "elementwise", detail, shape, size, True, node)
        if isinstance(node, MatrixFunction):
            x = self.plan(node.x)
            n = node.x.shape[0]
            kernels = {
                "inv": (np.linalg.inv, n**3),
                "det": (np.linalg.det, 2 * n**3 // 3),
                "logdet": (K.logdet, 2 * n**3 // 3),
                "adj": (K.adjugate, 12 * n**3),
            }
            if node.kind not in kernels:
                raise UnsupportedOperationError(f"cannot evaluate {node.kind} nodes")
            kernel, flops = kernels[node.kind]
            return self.emit(kernel, [x], node.kind, "", shape, flops, True, node)
        if isinstance(node, Reshape):
            x = self.plan(node.x)

            def reshape(v: Any) -> Any:
                return np.reshape(v, shape)

            return self.emit(reshape, [x], "reshape", str(shape), shape, 0, False, node)
        raise UnsupportedOperationError(f"matgrad.compiler cannot evaluate {node.kind} nodes")

    # ---- einsums ----------------------------------------------------------------
    def _einsum(self, node: Einsum) -> int:
        sizes = node.dims()
        parent: dict[int, int] = {}

        def find(i: int) -> int:
            while parent.get(i, i) != i:
                i = parent[i]
            return i

        for op, ix in zip(node.operands, node.indices):
            if isinstance(op, Delta):
                a, b = find(ix[0]), find(ix[1])
                if a != b:
                    # Keep the smaller id as the root: output ids come first.
                    parent[max(a, b)] = min(a, b)
        operands: list[_Operand] = []
        structural: set[int] = set()
        for op, ix in zip(node.operands, node.indices):
            labels = tuple(find(i) for i in ix)
            if isinstance(op, (Delta, Ones)):
                structural.update(labels)
            elif op.uid in self.deferred and op.uid not in self.slot_of:
                assert isinstance(op, Inv)
                operands.append(_Operand(labels, op.shape, inv=op))
            else:
                operands.append(_Operand(labels, op.shape, slot=self.plan(op)))
        red_out: list[int] = []
        for i in node.out:
            if find(i) not in red_out:
                red_out.append(find(i))
        used = {i for op in operands for i in op.labels}
        factor = math.prod(sizes[i] for i in structural if i not in used and i not in red_out)
        core_out = tuple(i for i in red_out if i in used)
        if operands:
            core = self._contract(operands, core_out, sizes, node)
        else:  # only deltas and ones: a constant
            dt = node.dtype
            core = self.emit(lambda: np.ones((), dtype=dt), (), "ones", "", (), 0, True, node)
        diagonal = len(red_out) < len(node.out)
        if factor == 1 and not diagonal and core_out == tuple(red_out):
            return core
        view_shape = tuple(sizes[i] for i in red_out)
        strides = None
        if diagonal:
            es = K.c_strides(node.shape)
            strides = tuple(
                sum(es[p] for p, o in enumerate(node.out) if find(o) == r) for r in red_out
            )
        core_shape = tuple(sizes[i] if i in used else 1 for i in red_out)
        kernel = K.make_expand(factor, core_shape, view_shape, node.shape, strides)
        if diagonal:
            name, detail = "diagonal-write", f"zeros {node.shape}, diagonal view {view_shape}"
        else:
            name, detail = "broadcast", f"to {node.shape}"
        if factor != 1:
            detail += f", times {factor}"
        return self.emit(kernel, [core], name, detail, node.shape, node.size, diagonal, node)

    def _contract(
        self, operands: list[_Operand], out: tuple[int, ...], sizes: dict[int, int], node: Expr
    ) -> int:
        """Plan the contraction of ``operands`` to the labels ``out``; turns a deferred
        ``inv`` contracted on one index into a solve, and plans any other."""
        for strict in (True, False):
            for k, op in enumerate(operands):
                if op.inv is not None:
                    fused = self._try_solve(k, operands, out, sizes, node, strict)
                    if fused is not None:
                        return fused
        for op in operands:
            if op.inv is not None:
                op.slot, op.inv = self.plan(op.inv), None
        if len(operands) == 1 and operands[0].labels == out:
            return operands[0].slot
        subscripts = _subscripts(operands, out)
        shapes = tuple(op.shape for op in operands)
        plan = K.contraction(subscripts, shapes)
        self._guard(plan.largest, f"einsum '{subscripts}' of the {_describe(node)}")
        header = f"einsum '{subscripts}' path {list(plan.path)}, {plan.cost} flops"
        current = [op.slot for op in operands]
        for pair in plan.pairs:
            ins = [current.pop(p) for p in pair.positions]
            out_slot = self.emit(
                pair.kernel,
                ins,
                pair.method,
                pair.subscripts,
                pair.shape,
                pair.flops,
                pair.fresh,
                node,
                header,
            )
            current.append(out_slot)
            header = ""
        return current[0]

    def _try_solve(
        self,
        k: int,
        operands: list[_Operand],
        out: tuple[int, ...],
        sizes: dict[int, int],
        node: Expr,
        strict: bool,
    ) -> int | None:
        """Plan ``inv(X)`` (operand ``k``) times the operands sharing its summed index
        as a solve, if it is contracted on exactly one index.  ``strict``: only if
        those operands hold no other deferred inverse (solve innermost first)."""
        inv = operands[k]
        assert inv.inv is not None
        a, b = inv.labels
        others = operands[:k] + operands[k + 1 :]
        for s, t, transpose in ((b, a, False), (a, b, True)):
            if s == t or s in out:
                continue
            group = [op for op in others if s in op.labels]
            rest = [op for op in others if s not in op.labels]
            if not group or any(t in op.labels for op in group):
                continue
            if strict and any(op.inv is not None for op in group):
                continue
            outside = set(out) | {i for op in rest for i in op.labels}
            keep: list[int] = []
            for op in group:
                keep.extend(i for i in op.labels if i != s and i in outside and i not in keep)
            r = self._contract(group, (s, *keep), sizes, node)
            x = self.plan(inv.inv.x)
            n = sizes[s]
            keep_shape = tuple(sizes[i] for i in keep)
            cols = math.prod(keep_shape)
            kernel = K.make_solve(n, keep_shape, transpose)
            what = "solve(Xᵀ, R)" if transpose else "solve(X, R)"
            m = self.emit(
                kernel,
                [x, r],
                "solve",
                f"{what}, R of shape {(n, *keep_shape)}",
                (n, *keep_shape),
                2 * n**3 // 3 + 2 * n * n * cols,
                True,
                node,
            )
            solved = _Operand((t, *keep), (n, *keep_shape), slot=m)
            return self._contract([solved, *rest], out, sizes, node)
        return None


def _number(c: Any) -> complex:
    """A coefficient as a plain Python int, float or complex (NumPy scalars would
    change float32 results to float64)."""
    value = complex(c)
    if value.imag != 0:
        return value
    real = value.real
    return int(real) if real.is_integer() and abs(real) < 2**53 else real


# =====================================================================================
# The compiled function
# =====================================================================================

_FAST_DTYPES = frozenset(np.dtype(t) for t in (np.float64, np.float32, np.complex128, np.complex64))


class Compiled:
    """A planned expression, callable positionally in the order of :attr:`symbols`
    or by keyword name.  Build with :func:`compile`."""

    def __init__(self, expr: Expr, symbols: Sequence[Symbol], max_elements: int) -> None:
        self.expr = expr
        self.symbols: tuple[Symbol, ...] = tuple(symbols)
        planner = _Planner(expr, self.symbols, max_elements)
        values: list[Any] = [None] * planner.n_slots
        for slot, value in planner.leaf_values.items():
            values[slot] = value
        runtime: list[Step] = []
        for step in planner.steps:
            if step.out in planner.const_slots:
                values[step.out] = step.kernel(*(values[i] for i in step.inputs))
            else:
                runtime.append(step)
        runtime = _accumulate_in_place(runtime)
        needed = {i for step in runtime for i in step.inputs} | {planner.root_slot}
        self._template = [v if i in needed else None for i, v in enumerate(values)]
        self.steps: tuple[Step, ...] = tuple(runtime)
        """The steps run on every call (compile-time constants excluded)."""
        self.constant_steps = len(planner.steps) - len(runtime)
        """How many steps were computed once, at compile time."""
        self.flops = sum(step.flops for step in runtime)
        """Estimated floating-point operations per call."""
        self._root = planner.root_slot
        root_step = [s for s in runtime if s.out == self._root]
        self._copy_result = not (root_step and root_step[0].fresh)
        self._inputs = tuple(
            (planner.slot_of[s.uid], s, s.shape, not s.symmetric) for s in self.symbols
        )
        self._names = {s.name: k for k, s in enumerate(self.symbols)}
        last_use: dict[int, int] = {}
        for k, step in enumerate(runtime):
            for i in step.inputs:
                last_use[i] = k
        self._program = tuple(
            (
                step.out,
                step.kernel,
                operator.itemgetter(*step.inputs),
                len(step.inputs) == 1,
                tuple(
                    i
                    for i in set(step.inputs)
                    if last_use[i] == k and i not in planner.const_slots and i != self._root
                ),
            )
            for k, step in enumerate(runtime)
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Array:
        if kwargs or len(args) != len(self._inputs):
            args = self._arrange(args, kwargs)
        vals = self._template.copy()
        for (slot, sym, shape, fast), value in zip(self._inputs, args):
            if (
                fast
                and type(value) is np.ndarray
                and value.shape == shape
                and (value.dtype in _FAST_DTYPES)
            ):
                vals[slot] = value
            else:
                vals[slot] = check_value(sym, value)
        for out, kernel, get, unary, free in self._program:
            vals[out] = kernel(get(vals)) if unary else kernel(*get(vals))
            for i in free:
                vals[i] = None
        result = vals[self._root]
        if self._copy_result:
            return np.array(result)
        if type(result) is not np.ndarray:
            return np.asarray(result)
        return result

    def _arrange(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """Positional and keyword arguments in the order of :attr:`symbols`."""
        names = [s.name for s in self.symbols]
        if len(args) > len(names):
            raise BindingError(
                f"the compiled function takes {len(names)} values ({', '.join(names)}) "
                f"but {len(args)} were given positionally"
            )
        values: list[Any] = list(args) + [_MISSING] * (len(names) - len(args))
        for name, value in kwargs.items():
            k = self._names.get(name)
            if k is None:
                raise BindingError(
                    f"value for unknown symbol {name!r} (the compiled function takes "
                    f"{', '.join(names) or 'no values'})"
                )
            if values[k] is not _MISSING:
                raise BindingError(f"two values for {name!r} (positional and keyword)")
            values[k] = value
        missing = [s for s, v in zip(self.symbols, values) if v is _MISSING]
        if missing:
            raise BindingError(
                "missing values for " + ", ".join(f"{s.name!r} (shape {s.shape})" for s in missing)
            )
        return tuple(values)

    def explain(self) -> str:
        """The plan, one line per step: each einsum's subscripts, contraction path
        and flop count, and the estimated total."""
        slot_names = {slot: s.name for slot, s, _, _ in self._inputs}
        lines = [
            f"compiled {self.expr.kind} expression of shape {self.expr.shape}; inputs: "
            + (", ".join(f"{s.name} {s.shape}" for s in self.symbols) or "none"),
        ]
        if self.constant_steps:
            lines.append(f"  {self.constant_steps} step(s) precomputed at compile time")
        for step in self.steps:
            if step.header:
                lines.append(f"  {step.header}")
            args = ", ".join(slot_names.get(i, f"s{i}") for i in step.inputs)
            lines.append(
                f"    s{step.out} = {step.op}({args})  {step.detail}  "
                f"shape {step.shape}, {step.flops} flops"
            )
        lines.append(f"total: {len(self.steps)} steps, {self.flops} flops (estimated)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        names = ", ".join(s.name for s in self.symbols)
        return f"<Compiled ({names}) -> {self.expr.shape}, {len(self.steps)} steps>"


_MISSING = object()
_IN_PLACE_MIN_SIZE = 4096


def _accumulate_in_place(steps: list[Step]) -> list[Step]:
    """Let a sum write into one of its inputs when the plan owns it: a fresh
    intermediate (not a symbol's value, not a constant), never read through a view,
    read by no later step.  Saves an allocation per sum of large terms."""
    made_fresh = {s.out for s in steps if s.fresh}
    viewed = {i for s in steps if not s.fresh for i in s.inputs}
    last_use: dict[int, int] = {}
    for k, step in enumerate(steps):
        for i in step.inputs:
            last_use[i] = k
    out = []
    for k, step in enumerate(steps):
        if step.in_place is not None and math.prod(step.shape) >= _IN_PLACE_MIN_SIZE:
            for pos, i in enumerate(step.inputs):
                if (
                    i in made_fresh
                    and i not in viewed
                    and last_use[i] == k
                    and step.inputs.count(i) == 1
                ):
                    step = replace(
                        step,
                        kernel=step.in_place(pos),
                        detail=f"{step.detail} (into s{i})",
                    )
                    break
        out.append(step)
    return out


def compile(
    expr: Expr, symbols: Sequence[Symbol] | None = None, *, max_elements: int | None = None
) -> Compiled:
    """Plan ``expr`` for repeated evaluation.

    ``symbols`` (default: the expression's symbols, sorted by name) fixes the order
    of positional arguments; it may include symbols the expression does not use,
    but must include every one it does.  ``max_elements`` (default
    :func:`get_max_elements`) bounds every array the plan allocates.

    >>> import numpy as np
    >>> from matgrad.expr import Matrix
    >>> from matgrad import ops
    >>> X, A = Matrix("X", (2, 2)), Matrix("A", (2, 2))
    >>> f = compile(ops.trace(X.T @ A @ X), [X, A])
    >>> float(f(np.eye(2), np.diag([1.0, 2.0])))
    3.0
    >>> float(f(A=np.diag([1.0, 2.0]), X=np.eye(2)))
    3.0
    """
    if not isinstance(expr, Expr):
        raise InvalidArgumentError(f"compile needs a matgrad expression, got {type(expr).__name__}")
    syms = expr.symbols() if symbols is None else tuple(symbols)
    for s in syms:
        if not isinstance(s, Symbol):
            raise InvalidArgumentError(f"symbols must be Symbol nodes, got {s!r}")
    names: dict[str, Symbol] = {}
    for s in syms:
        other = names.setdefault(s.name, s)
        if other is s and syms.count(s) > 1:
            raise InvalidArgumentError(f"symbol {s.name!r} is listed twice")
        if other is not s:
            raise BindingError(
                f"two different symbols are named {s.name!r} (shapes {other.shape} and "
                f"{s.shape}); values are bound by name, so give them different names"
            )
    given = {s.uid for s in syms}
    absent = [s for s in expr.symbols() if s.uid not in given]
    if absent:
        raise BindingError(
            "the expression depends on symbols not in `symbols`: "
            + ", ".join(f"{s.name!r} (shape {s.shape})" for s in absent)
        )
    limit = _max_elements if max_elements is None else int(max_elements)
    return Compiled(expr, syms, limit)


def evaluate(expr: Expr, bindings: dict[str, Any]) -> Array:
    """Evaluate ``expr`` with values bound by symbol name; the plan is cached on
    the expression, so repeated evaluation plans only once.

    >>> import numpy as np
    >>> from matgrad.expr import Matrix
    >>> from matgrad import ops
    >>> X = Matrix("X", (2, 2))
    >>> float(evaluate(ops.logdet(X), {"X": 2 * np.eye(2)}))  # log 4
    1.3862943611198906
    """
    key = f"compiled:{_max_elements}"
    compiled = expr._memo.get(key)
    if compiled is None:
        compiled = compile(expr)
        expr._memo[key] = compiled
    return compiled(**bindings)


EVALUATED_KINDS = frozenset(
    (
        "symbol",
        "constant",
        "zero",
        "ones",
        "delta",
        "einsum",
        "add",
        "elementwise",
        "inv",
        "det",
        "logdet",
        "adj",
        "reshape",
    )
)
"""Node kinds :func:`compile` evaluates (checked against the IR by the tests)."""

HOOKS["evaluate"] = evaluate

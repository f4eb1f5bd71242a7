"""Running a plan of :mod:`matgrad.compiler`: what :class:`~matgrad.compiler.Compiled`
and :class:`~matgrad.compiler.CompiledTuple` share (argument checking,
``explain()``), and the steps turned into functions of the slot list (layer 3,
private to ``matgrad.compiler``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from matgrad._types import Array, Shape
from matgrad.compiler import kernels as K
from matgrad.compiler.planner import Step, _Planner
from matgrad.errors import BindingError, elide
from matgrad.ir.bindings import check_value, derived_symbols
from matgrad.ir.expr import Expr, Symbol

__all__ = ["View"]

_FAST_DTYPES = frozenset(np.dtype(t) for t in (np.float64, np.float32, np.complex128, np.complex64))
_F64 = np.dtype(np.float64)
_NDARRAY = np.ndarray


def _fast_slots(
    shapes: tuple[Shape, ...], tail: list[Any], fast: bool
) -> Callable[[tuple[Any, ...]], list[Any] | None]:
    """The fast path of a call: the slot list (the arguments, then ``tail``, the
    rest of the template) when the positional arguments are each exactly a
    float64 ``numpy.ndarray`` of its symbol's shape, so that no conversion and
    no other check is needed; else ``None``, and the caller goes through
    ``_bind``, which converts, checks and raises the errors.  Written out for one
    to three arguments, the usual case; never taken when a symmetric input must
    be checked (``fast`` false)."""
    nd, f64 = _NDARRAY, _F64
    if not fast:
        return lambda args: None
    if len(shapes) == 1:
        (s0,) = shapes

        def slots1(args: tuple[Any, ...]) -> list[Any] | None:
            if len(args) == 1:
                (a,) = args
                if type(a) is nd and a.dtype is f64 and a.shape == s0:
                    return [a, *tail]
            return None

        return slots1
    if len(shapes) == 2:
        s0, s1 = shapes

        def slots2(args: tuple[Any, ...]) -> list[Any] | None:
            if len(args) == 2:
                a, b = args
                if (
                    type(a) is nd and type(b) is nd and a.dtype is f64 and b.dtype is f64
                    and a.shape == s0 and b.shape == s1
                ):
                    return [a, b, *tail]
            return None

        return slots2
    if len(shapes) == 3:
        s0, s1, s2 = shapes

        def slots3(args: tuple[Any, ...]) -> list[Any] | None:
            if len(args) == 3:
                a, b, c = args
                if (
                    type(a) is nd and type(b) is nd and type(c) is nd
                    and a.dtype is f64 and b.dtype is f64 and c.dtype is f64
                    and a.shape == s0 and b.shape == s1 and c.shape == s2
                ):
                    return [a, b, c, *tail]
            return None

        return slots3
    n = len(shapes)

    def slots(args: tuple[Any, ...]) -> list[Any] | None:
        if len(args) != n:
            return None
        for a, s in zip(args, shapes):
            if type(a) is not nd or a.dtype is not f64 or a.shape != s:
                return None
        return [*args, *tail]

    return slots


class _Program:
    """What :class:`Compiled` and :class:`CompiledTuple` share: the plan of one or
    several expressions, argument checking, running the steps, ``explain()``."""

    def __init__(
        self, exprs: Sequence[Expr], symbols: Sequence[Symbol], max_elements: int, single: bool
    ) -> None:
        self.exprs: tuple[Expr, ...] = tuple(exprs)
        """The planned expressions, in the order of the results."""
        self.expr = self.exprs[0]
        """The (first) planned expression."""
        self.single = single
        """Whether a call returns one array (else a tuple, one per expression)."""
        self.symbols: tuple[Symbol, ...] = tuple(symbols)
        planner = _Planner(self.exprs, self.symbols, max_elements)
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
        roots = planner.root_slots
        needed = {i for step in runtime for i in step.inputs} | set(roots)
        self._template = [v if i in needed else None for i, v in enumerate(values)]
        self.steps: tuple[Step, ...] = tuple(runtime)
        """The steps run on every call (compile-time constants excluded)."""
        self.constant_steps = len(planner.steps) - len(runtime)
        """How many steps were computed once, at compile time."""
        self.flops = sum(step.flops for step in runtime)
        """Estimated floating-point operations per call."""
        self.largest = planner.largest
        """The most elements of any array the plan creates (a node's value or an
        intermediate of a contraction): what the size guard checked."""
        fresh = {s.out for s in runtime if s.fresh}
        # A result that is an input, a constant, a view of one, or another result's
        # array is copied; everything else is returned as computed.
        self._results = tuple(
            (slot, slot not in fresh or slot in roots[:k]) for k, slot in enumerate(roots)
        )
        self._root = roots[0]
        self._inputs = tuple(
            (planner.slot_of[s.uid], s, s.shape, not s.symmetric) for s in self.symbols
        )
        self._names = {s.name: k for k, s in enumerate(self.symbols)}
        # the fast path of Compiled.__call__: symmetric inputs always take the
        # checked path (their symmetry is verified)
        # Symbols hold slots 0..n-1 in order, so on the fast path the slot list is
        # the arguments followed by the rest of the template.
        assert all(slot == k for k, (slot, _, _, _) in enumerate(self._inputs))
        self._fast_slots = _fast_slots(
            tuple(shape for _, _, shape, _ in self._inputs),
            self._template[len(self._inputs) :],
            all(fast for _, _, _, fast in self._inputs),
        )
        self._copy = self._results[0][1]
        self._result_slots = tuple(slot for slot, _ in self._results)
        self._copies = any(copy for _, copy in self._results)
        self._all_arrays = (_NDARRAY,) * len(self._results)
        self._program = _program(runtime, set(roots), fresh, planner.const_slots)

    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
        """The slot list with the arguments checked and in place (the general path;
        ``__call__`` first tries the fast path, ``_fast_slots``)."""
        if kwargs or len(args) != len(self._inputs):
            args = self._arrange(args, kwargs)
        vals = self._template.copy()
        for (slot, sym, shape, fast), value in zip(self._inputs, args):
            if fast and type(value) is _NDARRAY and value.shape == shape and (
                (dt := value.dtype) is _F64 or dt in _FAST_DTYPES
            ):
                vals[slot] = value
            else:
                vals[slot] = check_value(sym, value)
        return vals

    def _arrange(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """Positional and keyword arguments in the order of :attr:`symbols`."""
        names = [s.name for s in self.symbols]
        if len(args) > len(names):
            raise BindingError(
                f"the compiled function takes {len(names)} values ({elide(', '.join(names))}) "
                f"but {len(args)} were given positionally"
            )
        values: list[Any] = list(args) + [_MISSING] * (len(names) - len(args))
        for name, value in kwargs.items():
            k = self._names.get(name)
            if k is None:
                derived = {s.name: s for s in derived_symbols(self.exprs)}
                if name in derived:  # a symbol the expressions were derived from
                    check_value(derived[name], value)
                    continue
                also = sorted(set(derived) - set(names))
                raise BindingError(
                    f"value for unknown symbol {name!r} (the compiled function takes "
                    f"{elide(', '.join(names)) or 'no values'}"
                    + (f"; it accepts and ignores {elide(', '.join(also))}" if also else "")
                    + ")"
                )
            if values[k] is not _MISSING:
                raise BindingError(f"two values for {name!r} (positional and keyword)")
            values[k] = value
        missing = [s for s, v in zip(self.symbols, values) if v is _MISSING]
        if missing:
            raise BindingError(
                "missing values for "
                + elide(", ".join(f"{s.name!r} (shape {s.shape})" for s in missing))
            )
        return tuple(values)

    def explain(self) -> str:
        """The plan, one line per step: each einsum's subscripts, contraction path
        and flop count, and the estimated total."""
        slot_names = {slot: s.name for slot, s, _, _ in self._inputs}
        what = (
            f"{self.expr.kind} expression of shape {self.expr.shape}"
            if self.single
            else f"{len(self.exprs)} expressions of shapes "
            + ", ".join(str(e.shape) for e in self.exprs)
        )
        lines = [
            f"compiled {what}; inputs: "
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
        if not self.single:
            lines.append(
                "results: " + ", ".join(slot_names.get(s, f"s{s}") for s, _ in self._results)
            )
        lines.append(
            f"total: {len(self.steps)} steps, {self.flops} flops (estimated); "
            f"largest array {self.largest} elements"
        )
        return "\n".join(lines)

    def __repr__(self) -> str:
        names = ", ".join(s.name for s in self.symbols)
        shapes = str(self.expr.shape)
        if not self.single:
            shapes = "(" + ", ".join(str(e.shape) for e in self.exprs) + ")"
        return f"<Compiled ({names}) -> {shapes}, {len(self.steps)} steps>"


def _result(value: Any, copy: bool) -> Array:
    if copy:
        return np.array(value)
    return value if type(value) is np.ndarray else np.asarray(value)


_FREE_MIN_SIZE = 1024
"""Intermediates at least this large are released after their last use."""


View = tuple[int, ...] | None
"""An input read through a transposition (its axes), or as is (``None``)."""


def _transposition(step: Step) -> tuple[int, ...] | None:
    """The axes of a step that only transposes its input (a view), else ``None``."""
    if step.op != "transpose" or step.fresh:
        return None
    lhs, out = step.detail.split("->")
    return tuple(lhs.index(ch) for ch in out)


def _program(
    steps: Sequence[Step], roots: set[int], fresh: set[int], constants: set[int]
) -> tuple[Callable[[list[Any]], None], ...]:
    """The steps as functions of the slot list.  A transposition (a view) is read
    by its consumers directly instead of being a step of its own, and a large
    intermediate is released after its last use."""
    views: dict[int, tuple[int, tuple[int, ...]]] = {}
    for step in steps:
        perm = _transposition(step)
        if perm is not None and step.out not in roots and step.inputs[0] not in views:
            views[step.out] = (step.inputs[0], perm)
    kept = [s for s in steps if s.out not in views]
    reads = [
        tuple(views.get(i, (i, None)) for i in step.inputs) for step in kept
    ]
    last_use: dict[int, int] = {}
    for k, ins in enumerate(reads):
        for i, _ in ins:
            last_use[i] = k
    sizes = {s.out: math.prod(s.shape) for s in steps}
    program = []
    for k, (step, ins) in enumerate(zip(kept, reads)):
        free = tuple(
            i
            for i in sorted({i for i, _ in ins})
            if last_use[i] == k
            and i in fresh
            and i not in roots
            and i not in constants
            and sizes.get(i, 0) >= _FREE_MIN_SIZE
        )
        program.append(_runner(step.out, step.kernel, ins, free))
    return tuple(program)


def _runner(
    out: int, kernel: K.Kernel, inputs: tuple[tuple[int, View], ...], free: tuple[int, ...]
) -> Callable[[list[Any]], None]:
    """One step as a function of the slot list, specialized by arity and views:
    this loop is all a compiled call does besides the kernels."""
    if not free and len(inputs) == 1:
        ((i, p),) = inputs
        if p is None:

            def run1(v: list[Any]) -> None:
                v[out] = kernel(v[i])

            return run1

        def run1t(v: list[Any]) -> None:
            v[out] = kernel(v[i].transpose(p))

        return run1t
    if not free and len(inputs) == 2:
        (i, p), (j, q) = inputs
        if p is None and q is None:

            def run2(v: list[Any]) -> None:
                v[out] = kernel(v[i], v[j])

            return run2
        if p is None and q == (1, 0):

            def run2bt(v: list[Any]) -> None:
                v[out] = kernel(v[i], v[j].T)

            return run2bt
        if p == (1, 0) and q is None:

            def run2at(v: list[Any]) -> None:
                v[out] = kernel(v[i].T, v[j])

            return run2at
        if p is None:

            def run2b(v: list[Any]) -> None:
                v[out] = kernel(v[i], v[j].transpose(q))

            return run2b
        if q is None:

            def run2a(v: list[Any]) -> None:
                v[out] = kernel(v[i].transpose(p), v[j])

            return run2a

        def run2ab(v: list[Any]) -> None:
            v[out] = kernel(v[i].transpose(p), v[j].transpose(q))

        return run2ab

    def run(v: list[Any]) -> None:
        v[out] = kernel(*[v[i] if p is None else v[i].transpose(p) for i, p in inputs])
        for f in free:
            v[f] = None

    return run


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

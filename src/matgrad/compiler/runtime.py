"""Running a plan of :mod:`matgrad.compiler`: what :class:`~matgrad.compiler.Compiled`
and :class:`~matgrad.compiler.CompiledTuple` share (argument checking,
``explain()``), and the steps turned into functions of the slot list (layer 3,
private to ``matgrad.compiler``).
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from matgrad._types import Array, Shape
from matgrad.compiler.planner import Step, _Planner
from matgrad.errors import BindingError, elide
from matgrad.ir.bindings import check_value, derived_symbols
from matgrad.ir.expr import Expr, Symbol

__all__ = ["View"]

_FAST_DTYPES = frozenset(np.dtype(t) for t in (np.float64, np.float32, np.complex128, np.complex64))
_F64 = np.dtype(np.float64)
_NDARRAY = np.ndarray


def _source(
    n_inputs: int,
    shapes: tuple[Shape, ...] | None,
    body: list[str],
    results: Sequence[str],
    copies: Sequence[bool],
    single: bool,
) -> tuple[str, str | None]:
    """The source of a plan's entry points, and that of ``done`` (compiled only
    when asked for, :meth:`_Program.done`).  ``run(v0, ..)``: the steps on
    checked arguments, returning the list of results.  ``method(self, v0, .., /,
    *rest, **kw)``: the whole call as the ``__call__`` of the plan's own class
    (:func:`own_class`) — when the positional arguments are each exactly a
    float64 ``numpy.ndarray`` of its symbol's shape, the steps inline, returning
    what a call returns (the array, or the tuple of arrays, copied where a result
    is an input, a constant or a view); any other call goes to ``general``, the
    ``__call__`` of the class it derives from, which converts, checks and raises
    the errors.  ``done(v0, ..)``: the same on arguments its caller has checked as
    ``method`` does (the function API's reused traces, with their guards).
    ``shapes`` is ``None`` when a symmetric input must be checked: then there is
    no ``method`` and no ``done``.  Generated from the plan alone (slot numbers
    and names of kernels in its namespace), never from user text."""
    names = [f"v{k}" for k in range(n_inputs)]
    ret = f"    return [{', '.join(results)}]"
    lines = [f"def run({', '.join(names)}):", *body, ret, ""]
    if shapes is None:
        return "\n".join([*lines, "method = None"]) + "\n", None
    checks = [f"type({v}) is nd" for v in names]
    checks += [f"{v}.dtype is f64" for v in names]
    checks += [f"{v}.shape == S{k}" for k, v in enumerate(names)]
    finals = [
        f"array({r})" if copy else f"({r} if type({r}) is nd else asarray({r}))"
        for r, copy in zip(results, copies)
    ]
    final = finals[0] if single else "(" + "".join(f"{f}, " for f in finals) + ")"
    # no argument tuple, no keyword dictionary, no second call
    params = ", ".join(["self", *(f"{v}=MISSING" for v in names), *(["/"] if names else [])])
    listed = "".join(f"{v}, " for v in names)
    given = f"*[v for v in ({listed}) if v is not MISSING], " if names else ""
    lines += [f"def method({params}, *rest, **kw):",
              "    if " + " and ".join([*checks, "not rest", "not kw"]) + ":",
              *("    " + line for line in body), f"        return {final}",
              f"    return general(self, {given}*rest, **kw)"]
    done = "\n".join([f"def done({', '.join(names)}):", *body, f"    return {final}"]) + "\n"
    return "\n".join(lines) + "\n", done


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
        self._result_ids = roots
        self._inputs = tuple(
            (planner.slot_of[s.uid], s, s.shape, not s.symmetric) for s in self.symbols
        )
        self._names = {s.name: k for k, s in enumerate(self.symbols)}
        # Symbols hold slots 0..n-1 in order: the arguments of the generated code.
        assert all(slot == k for k, (slot, _, _, _) in enumerate(self._inputs))
        n = len(self._inputs)
        constants = {i: v for i, v in enumerate(self._template) if i >= n and v is not None}
        # The fast path of a call; symmetric inputs always take the checked path
        # (their symmetry is verified), so a plan with one has none.
        fast = all(fast for _, _, _, fast in self._inputs)
        shapes = tuple(shape for _, _, shape, _ in self._inputs) if fast else None
        copies = [copy for _, copy in self._results]
        self._run, self._method, self._done_source, self._namespace = _program(
            runtime, n, roots, fresh, constants, shapes, copies, single
        )
        self._done: Callable[..., Any] | None = None
        # The generated code runs the whole plan and returns the list of results:
        # the "slot list" that __call__ reads is that list, and no step is left
        # for its loop over _program.
        self._program: tuple[Callable[[list[Any]], None], ...] = ()
        self._root = 0
        self._results = tuple((k, copy) for k, (_, copy) in enumerate(self._results))
        self._copy = self._results[0][1]
        self._result_slots = tuple(k for k, _ in self._results)
        self._copies = any(copy for _, copy in self._results)
        self._all_arrays = (_NDARRAY,) * len(self._results)

    def done(self) -> Callable[..., Any] | None:
        """``done(*args)``: a call on float64 arrays of the symbols' shapes that its
        caller has checked (the function API's reused traces check them with their
        guards), returning what a call returns; ``None`` for a plan without a fast
        path.  Compiled when first asked for."""
        if self._done is None and self._done_source is not None:
            exec(builtins.compile(self._done_source, "<matgrad plan>", "exec"), self._namespace)
            self._done = self._namespace["done"]
        return self._done

    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
        """The results of the plan on the arguments, converted and checked (the
        general path, which the plan's own ``__call__`` takes for any call but
        float64 arrays of the symbols' shapes)."""
        if kwargs or len(args) != len(self._inputs):
            args = self._arrange(args, kwargs)
        vals = []
        for (_, sym, shape, fast), value in zip(self._inputs, args):
            if fast and type(value) is _NDARRAY and value.shape == shape and (
                (dt := value.dtype) is _F64 or dt in _FAST_DTYPES
            ):
                vals.append(value)
            else:
                vals.append(check_value(sym, value))
        return self._run(*vals)

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
                "results: " + ", ".join(slot_names.get(s, f"s{s}") for s in self._result_ids)
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


def own_class(program: _Program) -> None:
    """Give ``program`` a class of its own (a subclass of its class, of the same
    name) whose ``__call__`` is the plan's generated ``method``: a call with
    float64 arrays of the right shapes then runs the plan straight away, and any
    other goes to the class's own ``__call__``.  Python looks ``__call__`` up on
    the class, so this is the only way to spare the common call the argument
    tuple, the keyword dictionary and a second function call."""
    method = program._method
    if method is None:
        return
    base = type(program)
    method.__globals__["general"] = base.__call__
    program.__class__ = type(base.__name__, (base,), {
        "__call__": method, "__module__": base.__module__, "__qualname__": base.__qualname__,
        "__doc__": base.__doc__,
    })


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
    steps: Sequence[Step], n_inputs: int, roots: Sequence[int], fresh: set[int],
    constants: dict[int, Any], shapes: tuple[Shape, ...] | None, copies: Sequence[bool],
    single: bool,
) -> tuple[Callable[..., list[Any]], Callable[..., Any] | None, str | None, dict[str, Any]]:
    """The steps as straight-line code over local variables (one per slot): the
    plan's ``run`` and ``method`` functions, the source of ``done`` and the
    namespace to compile it in (:func:`_source`).  A transposition (a
    view) is read by its consumers directly instead of being a step of its own,
    and a large intermediate is released after its last use."""
    root_set = set(roots)
    views: dict[int, tuple[int, tuple[int, ...]]] = {}
    for step in steps:
        perm = _transposition(step)
        if perm is not None and step.out not in root_set and step.inputs[0] not in views:
            views[step.out] = (step.inputs[0], perm)
    kept = [s for s in steps if s.out not in views]
    reads = [tuple(views.get(i, (i, None)) for i in step.inputs) for step in kept]
    last_use: dict[int, int] = {}
    for k, ins in enumerate(reads):
        for i, _ in ins:
            last_use[i] = k
    sizes = {s.out: math.prod(s.shape) for s in steps}
    namespace: dict[str, Any] = {  # __name__: frames of the plan are matgrad's own
        "__name__": __name__, "nd": _NDARRAY, "f64": _F64, "array": np.array,
        "asarray": np.asarray, "MISSING": _MISSING,
    }
    if shapes is not None:
        namespace.update({f"S{k}": shape for k, shape in enumerate(shapes)})

    def ref(slot: int) -> str:
        if slot in constants:
            namespace[f"C{slot}"] = constants[slot]
            return f"C{slot}"
        return f"v{slot}"

    body = []
    for k, (step, ins) in enumerate(zip(kept, reads)):
        namespace[f"K{k}"] = step.kernel
        args = []
        for pos, (i, p) in enumerate(ins):
            if p is None:
                args.append(ref(i))
            elif p == (1, 0):
                args.append(f"{ref(i)}.T")
            else:
                namespace[f"P{k}_{pos}"] = p
                args.append(f"{ref(i)}.transpose(P{k}_{pos})")
        body.append(f"    v{step.out} = K{k}({', '.join(args)})")
        free = [
            i
            for i in sorted({i for i, _ in ins})
            if last_use[i] == k
            and i in fresh
            and i not in root_set
            and i not in constants
            and sizes.get(i, 0) >= _FREE_MIN_SIZE
        ]
        if free:
            body.append(f"    del {', '.join(f'v{i}' for i in free)}")
    source, done = _source(n_inputs, shapes, body, [ref(r) for r in roots], copies, single)
    # the source holds generated identifiers only (v3, K2, ...); kernels, constants
    # and shapes are in the namespace, so no user text (a symbol name) reaches exec
    exec(builtins.compile(source, "<matgrad plan>", "exec"), namespace)
    return namespace["run"], namespace["method"], done, namespace


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

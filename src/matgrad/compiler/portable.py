"""The portable plan: a compiled expression run on any array engine, and over a
leading batch axis (layer 4, private to ``matgrad.compiler``).

The NumPy plan (:mod:`matgrad.compiler.planner`) is made of BLAS calls, strided
writes and in-place sums that only NumPy arrays allow.  This plan is the same
DAG, after the same sum factoring, walked once from shapes into steps that call
an engine's :class:`~matgrad.compiler.backends.Namespace`:

* an einsum is one opt_einsum contraction in the engine's own routines (for Dask,
  ``tensordot`` tree-reductions over row chunks);
* a sum is the engine's arithmetic;
* an operation calls its portable kernel (``Operation.array_api``; an entrywise
  ufunc's namesake by default); where an operation has none, Dask runs its NumPy
  kernel chunk by chunk (entrywise) or on the small matrix as a lazy generalized
  ufunc, and the other engines refuse it at planning time, naming it — never a
  silent round trip through NumPy;
* what depends on no input is computed once with NumPy and moved to the inputs'
  engine and device at the first call, then kept.

Batched (``batched`` flags per input): a batched input has one more, leading
axis; every value that depends on one carries it.  Einsums get one more index,
entrywise functions broadcast, operations whose kernel stacks (``numpy.linalg``
style) take the batch whole, and the rest run once per batch entry.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from matgrad.compiler.backends import Namespace
from matgrad.compiler.rewrites import factor_sums, share_scaled_sums
from matgrad.errors import BindingError, ShapeError, UnsupportedOperationError, elide
from matgrad.ir.apply import Apply
from matgrad.ir.expr import Add, Einsum, Expr, Ones, Symbol, Zero

__all__ = ["PortablePlan"]

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
Step = tuple[int, Callable[..., Any], tuple[int, ...]]


def _number(c: complex) -> complex | float:
    c = complex(c)
    return c.real if c.imag == 0 else c


class PortablePlan:
    """Steps over a slot list that call one engine's functions.  Build with the
    planned expressions, their input symbols, the engine's namespace, which
    inputs are batched (or ``None``), and ``constants``: a function that computes
    the values of input-free nodes with NumPy."""

    def __init__(
        self,
        exprs: Sequence[Expr],
        symbols: Sequence[Symbol],
        ns: Namespace,
        batched: Sequence[bool] | None,
        constants: Callable[[list[Expr]], Sequence[Any]],
    ) -> None:
        self.ns = ns
        self._size = [0]
        """The batch size of the current call (read by looped and broadcast steps)."""
        self.symbols = tuple(symbols)
        self.batched = tuple(batched) if batched is not None else None
        roots = factor_sums(share_scaled_sums(list(exprs)))
        self.slot: dict[int, int] = {s.uid: k for k, s in enumerate(self.symbols)}
        self.is_batched: dict[int, bool] = {
            s.uid: bool(self.batched and self.batched[k]) for k, s in enumerate(self.symbols)
        }
        self.n_slots = len(self.symbols)
        order: list[Expr] = []
        seen: set[int] = set()
        for root in roots:
            for node in root.walk():
                if node.uid not in seen:
                    seen.add(node.uid)
                    order.append(node)
        depends: dict[int, bool] = {}
        for node in order:
            depends[node.uid] = isinstance(node, Symbol) or any(
                depends[c.uid] for c in node.children
            )
        for node in order:
            if isinstance(node, Symbol) and node.uid not in self.slot:
                raise BindingError(f"the expression depends on symbol {node.name!r}, not given")
        # input-free nodes whose value is read: computed once, with NumPy
        read = {r.uid for r in roots} | {
            c.uid for p in order if depends[p.uid] for c in p.children
        }
        needed = [n for n in order if not depends[n.uid] and n.uid in read]
        # zeros and ones read only by entrywise functions of an input are scalars
        # (broadcast), not arrays as long as the data: logaddexp(0, z) on 10⁸ rows
        parents: dict[int, list[Expr]] = {}
        for p in order:
            for c in p.children:
                parents.setdefault(c.uid, []).append(p)
        root_ids = {r.uid for r in roots}
        scalars = {
            n.uid for n in needed
            if isinstance(n, (Zero, Ones)) and n.uid not in root_ids and all(
                isinstance(p, Apply) and p.op.elementwise and depends[p.uid]
                for p in parents.get(n.uid, ())
            )
        }
        self.const_slots: list[tuple[int, Any]] = []
        values = constants(needed) if needed else ()
        values = [
            np.asarray(v.flat[0] if v.size else 0, dtype=v.dtype) if n.uid in scalars else v
            for n, v in zip(needed, values)
        ]
        for node, value in zip(needed, values):
            slot = self._new(node)
            self.is_batched[node.uid] = False
            self.const_slots.append((slot, value))
        self._device_constants: dict[Any, list[Any]] = {}
        # c · einsum(...) used once: the scale goes into the smallest operand
        self._scale: dict[int, complex | float] = {
            p.terms[0].uid: _number(p.coeffs[0]) for p in order
            if isinstance(p, Add) and len(p.terms) == 1 and isinstance(p.terms[0], Einsum)
            and p.terms[0].uid not in root_ids and len(parents[p.terms[0].uid]) == 1
            and depends[p.uid]
        }
        self.steps: list[Step] = []
        unsupported: list[str] = []
        for node in order:
            if node.uid in self.slot or not depends[node.uid]:
                continue
            try:
                self._emit(node)
            except _Unsupported as exc:
                unsupported.append(str(exc))
                self.slot[node.uid] = -1
                self.is_batched[node.uid] = False
        if unsupported:
            names = sorted(set(unsupported))
            raise UnsupportedOperationError(
                f"backend {ns.name!r} has no kernel for {elide(', '.join(names))}; "
                "evaluate with NumPy arrays (backend='numpy') or on Dask"
            )
        self.roots = [(self.slot[r.uid], self.is_batched[r.uid], r.shape) for r in roots]
        self._calls = 0
        compiled = ns.jit(self._evaluate)
        self._compiled: Callable[..., Any] | None = (
            None if compiled is self._evaluate else compiled
        )

    def _new(self, node: Expr) -> int:
        slot = self.n_slots
        self.n_slots += 1
        self.slot[node.uid] = slot
        return slot

    def _emit(self, node: Expr) -> None:
        ins = tuple(self.slot[c.uid] for c in node.children)
        flags = [self.is_batched[c.uid] for c in node.children]
        batched = any(flags)
        fn: Callable[..., Any]
        if isinstance(node, Einsum):
            fn = self._einsum(node, flags)
        elif isinstance(node, Add):
            if len(node.terms) == 1 and node.terms[0].uid in self._scale:
                self.slot[node.uid] = ins[0]  # scaled inside the einsum
                self.is_batched[node.uid] = batched
                return
            fn = _sum(tuple(_number(c) for c in node.coeffs))
        elif isinstance(node, Apply):
            fn = self._apply(node, flags)
        else:
            raise UnsupportedOperationError(f"cannot evaluate {node.kind} nodes on {self.ns.name}")
        self.steps.append((self._new(node), fn, ins))
        self.is_batched[node.uid] = batched

    def _einsum(self, node: Einsum, flags: Sequence[bool]) -> Callable[..., Any]:
        batch = _LETTERS[len(_LETTERS) - 1]
        terms = [
            (batch if b else "") + "".join(_LETTERS[i] for i in idx)
            for idx, b in zip(node.indices, flags)
        ]
        out = (batch if any(flags) else "") + "".join(_LETTERS[i] for i in node.out)
        subscripts = ",".join(terms) + "->" + out
        einsum = self.ns.einsum
        scale = self._scale.get(node.uid)
        if scale is None:
            return lambda *xs: einsum(subscripts, *xs)
        sizes = [math.prod(o.shape) * (2 if b else 1) for o, b in zip(node.operands, flags)]
        k = sizes.index(min(sizes))

        def scaled(*xs: Any) -> Any:
            return einsum(subscripts, *xs[:k], xs[k] * scale, *xs[k + 1:])

        return scaled

    def _apply(self, node: Apply, flags: Sequence[bool]) -> Callable[..., Any]:
        op, ns = node.op, self.ns
        attrs: Mapping[str, Any] = node.attrs
        batched = any(flags)
        whole = False
        if batched and not op.elementwise and op.batched_attrs is not None:
            shifted = op.batched_attrs(attrs)  # the batch as one more leading axis
            if shifted is not None:
                attrs, whole = shifted, True
        kernel = op.portable_kernel(ns, attrs)
        stacks = op.elementwise or op.stacks or whole
        if kernel is None:
            numpy_kernel = op.make_kernel(attrs)
            if ns.name == "numpy":
                kernel = numpy_kernel
                stacks = op.elementwise or whole
            elif op.elementwise and ns.elementwise(np.negative, np.zeros(1)) is not None:
                dtype = np.dtype(node.dtype)

                def kernel(*xs: Any) -> Any:
                    return ns.elementwise(numpy_kernel, *xs, dtype=dtype)
            elif hasattr(ns.linalg, "apply") and not whole:
                kernel = ns.linalg.apply(numpy_kernel, node.shape, np.dtype(node.dtype))
                stacks = False
            else:
                raise _Unsupported(op.name)
        if not batched:
            return kernel
        if stacks:
            if op.elementwise:
                return kernel
            return _broadcast_unbatched(kernel, flags, ns, self._size)
        return _looped(kernel, flags, ns, self._size)

    # ---- a call -------------------------------------------------------------------
    def run(self, inputs: Sequence[Any]) -> list[Any]:
        """The roots' values for the inputs (arrays of the engine, in the order of
        the symbols, already checked)."""
        like = inputs[0] if inputs else None
        key = _device_key(like)
        consts = self._device_constants.get(key)
        if consts is None:
            consts = [self.ns.asarray(v, like) for _, v in self.const_slots]
            self._device_constants[key] = consts
        if self.batched is not None:
            sizes = {int(x.shape[0]) for x, b in zip(inputs, self.batched) if b}
            if len(sizes) != 1:
                raise ShapeError(f"batched inputs have different batch sizes {sorted(sizes)}")
            self._size[0] = sizes.pop()
        self._calls += 1
        if self._compiled is None or self._calls < 2:
            # the first call runs eagerly: compiling (jax.jit) pays from the second
            return self._evaluate(list(inputs), consts)
        try:
            return list(self._compiled(list(inputs), consts))
        except self.ns.jit_errors:
            # a kernel that reads values (a check for ties, say) cannot be compiled
            self._compiled = None
            return self._evaluate(list(inputs), consts)
        except self.ns.runtime_errors:
            # a check failed inside the compiled plan: run eagerly, which raises it
            # as matgrad's error (DegenerateSpectrumError, say), not the engine's
            return self._evaluate(list(inputs), consts)

    def _evaluate(self, inputs: list[Any], consts: list[Any]) -> list[Any]:
        vals: list[Any] = [None] * self.n_slots
        vals[: len(inputs)] = inputs
        for (slot, _), v in zip(self.const_slots, consts):
            vals[slot] = v
        for out, fn, ins in self.steps:
            vals[out] = fn(*[vals[i] for i in ins])
        results = []
        for slot, batched, shape in self.roots:
            value = vals[slot]
            if self.batched is not None and not batched:
                value = self.ns.broadcast_to(value, (self._size[0], *shape))
            results.append(value)
        return results


class _Unsupported(Exception):
    pass


def _device_key(like: Any) -> Any:
    device = getattr(like, "device", None)
    dtype = getattr(like, "dtype", None)
    return (str(device), str(dtype))


def _sum(coeffs: tuple[Any, ...]) -> Callable[..., Any]:
    if all(c == 1 for c in coeffs):
        if len(coeffs) == 2:
            return lambda a, b: a + b

        def plain(*xs: Any) -> Any:
            total = xs[0]
            for x in xs[1:]:
                total = total + x
            return total

        return plain

    def weighted(*xs: Any) -> Any:
        total = None
        for c, x in zip(coeffs, xs):
            term = x if c == 1 else (-x if c == -1 else c * x)
            total = term if total is None else total + term
        return total

    return weighted


def _broadcast_unbatched(
    kernel: Callable[..., Any], flags: Sequence[bool], ns: Namespace, size: list[int]
) -> Callable[..., Any]:
    """A stacking kernel with every operand given the batch axis."""
    if all(flags):
        return kernel

    def run(*xs: Any) -> Any:
        return kernel(*(
            x if b else ns.broadcast_to(x, (size[0], *x.shape)) for x, b in zip(xs, flags)
        ))

    return run


def _looped(
    kernel: Callable[..., Any], flags: Sequence[bool], ns: Namespace, size: list[int]
) -> Callable[..., Any]:
    """A kernel that does not stack, run once per batch entry."""
    return lambda *xs: ns.stack_map(kernel, xs, flags, size[0])

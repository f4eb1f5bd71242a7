"""The planner of :mod:`matgrad.compiler`: from shapes alone, the flat list of
:class:`Step` records that evaluates one or several expressions (layer 3, private
to ``matgrad.compiler``).

Deltas merge einsum indices or become strided writes into zeros, all-ones
operands become broadcasts or factors, ``inv(X)`` contracted on one index becomes
a solve, ``Xᵀ diag(w) X`` a symmetric rank-k update, and each contraction takes
the opt_einsum path with the fewest flops still to do.  Every array the plan
allocates is checked against the size limit.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from matgrad._types import Array, Shape
from matgrad.compiler import kernels as K
from matgrad.compiler.rewrites import (
    _delta_classes,
    _has_surviving_delta,
    _Operand,
    _subscripts,
    factor_sums,
    reuse_first_path,
    share_scaled_sums,
)
from matgrad.errors import BindingError, ShapeError, UnsupportedOperationError
from matgrad.ir.apply import Apply
from matgrad.ir.expr import (
    Add,
    Constant,
    Delta,
    Einsum,
    Expr,
    Ones,
    Symbol,
    Zero,
)
from matgrad.ops.indexing import scatter_add

__all__ = ["Step"]


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



@dataclass(frozen=True)
class _Expansion:
    """How an einsum's value comes from the contraction of its other operands (the
    *core*) when deltas survive or all-ones operands broadcast."""

    factor: int
    core_shape: Shape
    view_shape: Shape
    strides: tuple[int, ...] | None
    """Element strides of the diagonal view into the output (``None``: broadcast)."""


def _describe(node: Expr) -> str:
    return f"{node.kind} node of shape {node.shape}"


class _Planner:
    """Builds the steps of one plan (shapes only; nothing is computed here)."""

    def __init__(self, roots: Sequence[Expr], symbols: Sequence[Symbol], max_elements: int) -> None:
        self.max_elements = max_elements
        self.steps: list[Step] = []
        self.slot_of: dict[int, int] = {}
        self.const_slots: set[int] = set()
        self.leaf_values: dict[int, Any] = {}
        self.n_slots = 0
        self.shared: dict[tuple[Any, ...], int] = {}
        self.largest = 0
        for sym in symbols:
            self.slot_of[sym.uid] = self._new_slot()
        roots = factor_sums(share_scaled_sums(roots))
        nodes: list[Expr] = []
        seen: set[int] = set()
        for root in roots:
            for node in root.walk():
                if node.uid not in seen:
                    seen.add(node.uid)
                    nodes.append(node)
        self.uses: dict[int, int] = {}
        for root in roots:
            self.uses[root.uid] = self.uses.get(root.uid, 0) + 1
        for node in nodes:
            for child in node.children:
                self.uses[child.uid] = self.uses.get(child.uid, 0) + 1
        self.const: dict[int, bool] = {}
        for node in nodes:
            self.const[node.uid] = not isinstance(node, Symbol) and all(
                self.const[c.uid] for c in node.children
            )
        # Which nodes need a value: deltas and all-ones operands of einsums do not.
        needed = {root.uid for root in roots}
        for node in reversed(nodes):
            if node.uid in needed:
                structural = isinstance(node, Einsum)
                for child in node.children:
                    if not (structural and isinstance(child, (Delta, Ones))):
                        needed.add(child.uid)
        root_ids = {root.uid for root in roots}
        # An inverse with one consumer, an einsum, may become a solve: its planning
        # is deferred to that einsum.
        self.deferred = {
            n.uid
            for n in nodes
            if isinstance(n, Apply)
            and n.op.solve_in_products
            and not self.const[n.uid]
            and self.uses[n.uid] == 1
            and n.uid not in root_ids
        }
        self.deferred &= {o.uid for n in nodes if isinstance(n, Einsum) for o in n.operands}
        # Products used once, by a sum, are planned by that sum: a coefficient moves
        # onto their smallest operand, and surviving deltas write into one buffer.
        self.absorbed = {
            t.uid
            for n in nodes
            if isinstance(n, Add) and not self.const[n.uid]
            for t in n.terms
            if isinstance(t, Einsum) and self.uses[t.uid] == 1 and t.uid not in root_ids
        }
        # Scatter-adds used once, by a sum of several terms, add their operand
        # into the sum's buffer at their positions (no array of zeros each).
        self.scattered = {
            t.uid
            for n in nodes
            if isinstance(n, Add) and not self.const[n.uid] and len(n.terms) > 1
            for t in n.terms
            if _scatter_key(t) is not None and self.uses[t.uid] == 1 and t.uid not in root_ids
        }
        for node in nodes:
            if (
                node.uid in needed
                and node.uid not in self.deferred
                and node.uid not in self.absorbed
                and node.uid not in self.scattered
            ):
                self.plan(node)
        self.root_slots = [self.slot_of[root.uid] for root in roots]

    # ---- slots and steps --------------------------------------------------------
    def _new_slot(self) -> int:
        self.n_slots += 1
        return self.n_slots - 1

    def _guard(self, size: int, what: str) -> None:
        self.largest = max(self.largest, size)
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
        key: tuple[Any, ...] | None = None,
    ) -> int:
        """Append a step; ``key`` identifies a step that computes the same value
        from the same slots, planned once (for intermediates of contractions)."""
        if key is not None:
            key = (*key, tuple(inputs))
            done = self.shared.get(key)
            if done is not None:
                return done
        self._guard(math.prod(shape), _describe(node))
        out = self._new_slot()
        if all(i in self.const_slots for i in inputs):
            self.const_slots.add(out)
        self.steps.append(
            Step(out, tuple(inputs), op, detail, shape, int(flops), fresh, kernel, header)
        )
        if key is not None:
            self.shared[key] = out
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
            return self._add(node)
        if isinstance(node, Apply):
            return self._apply(node)
        raise UnsupportedOperationError(f"matgrad.compiler cannot evaluate {node.kind} nodes")

    def _apply(self, node: Apply) -> int:
        """A declared operation: its NumPy kernel, specialized to the attributes."""
        op = node.op
        ins = [self.plan(a) for a in node.args]
        attrs = node.attrs
        kernel = op.make_kernel(attrs)
        detail = ", ".join(f"{k}={v}" for k, v in attrs.items())
        flops = op.flops(tuple(a.shape for a in node.args))
        step_op = "elementwise" if op.elementwise else op.name
        if op.elementwise:
            detail = f"{op.name}({detail})" if detail else op.name
        return self.emit(kernel, ins, step_op, detail, node.shape, flops, not op.view, node)

    # ---- sums -------------------------------------------------------------------
    def _add(self, node: Add) -> int:
        shape = node.shape
        coeffs = tuple(_number(c) for c in node.coeffs)
        absorbed = [t for t in node.terms if t.uid in self.absorbed]
        if len(node.terms) == 1 and absorbed:
            # c · product: the coefficient goes onto the product's smallest operand
            (term,) = absorbed
            assert isinstance(term, Einsum)
            return self._einsum(term, coeffs[0])
        if any(isinstance(t, Einsum) and _has_surviving_delta(t) for t in absorbed) or any(
            t.uid in self.scattered for t in node.terms
        ):
            return self._accumulate(node, coeffs)
        ins = []
        for term in node.terms:
            if isinstance(term, Einsum) and term.uid in self.absorbed:
                ins.append(self._einsum(term))
            else:
                ins.append(self.plan(term))
        detail = " + ".join(f"{c}·s{i}" for c, i in zip(coeffs, ins))
        step = self.emit(
            K.make_add(coeffs), ins, "add", detail, shape, math.prod(shape) * len(ins), True, node
        )
        self.steps[-1] = replace(self.steps[-1], in_place=functools.partial(K.make_add, coeffs))
        return step

    def _accumulate(self, node: Add, coeffs: tuple[complex, ...]) -> int:
        """A sum with surviving-delta or scatter-add terms: every term written into
        one buffer."""
        parts: list[K.Part] = []
        ins: list[int] = []
        # whole terms first (the first is written, not added), scatter-adds last
        order = sorted(zip(node.terms, coeffs), key=lambda tc: tc[0].uid in self.scattered)
        for term, c in order:
            scatter = _scatter_key(term) if term.uid in self.scattered else None
            if scatter is not None:
                assert isinstance(term, Apply)
                (operand,) = term.args
                ins.append(self.plan(operand))
                parts.append(K.Part(c, operand.shape, operand.shape, None, *scatter))
                continue
            if term.uid in self.absorbed:
                assert isinstance(term, Einsum)
                core, expansion = self._einsum_core(term)
                if expansion is not None:
                    ins.append(core)
                    parts.append(
                        K.Part(
                            c * expansion.factor,
                            expansion.core_shape,
                            expansion.view_shape,
                            expansion.strides,
                        )
                    )
                    continue
                slot = core
            else:
                slot = self.plan(term)
            ins.append(slot)
            parts.append(K.Part(c, term.shape, term.shape, None))
        detail = " + ".join(
            f"{p.coeff}·s{i}"
            + (" (diagonal)" if p.view_strides is not None else "")
            + (" (scattered)" if p.scatter is not None else "")
            for p, i in zip(parts, ins)
        )
        flops = sum(math.prod(p.view_shape) for p in parts)
        return self.emit(
            K.make_accumulate(node.shape, parts), ins, "accumulate",
            f"zeros {node.shape} + {detail}", node.shape, flops, True, node,
        )

    # ---- einsums ----------------------------------------------------------------
    def _einsum(self, node: Einsum, scale: complex = 1) -> int:
        """Plan an einsum (times ``scale``)."""
        core, expansion = self._einsum_core(node, scale)
        if expansion is None:
            return core
        factor = expansion.factor * scale
        kernel = K.make_expand(
            factor, expansion.core_shape, expansion.view_shape, node.shape, expansion.strides
        )
        diagonal = expansion.strides is not None
        if diagonal:
            name = "diagonal-write"
            detail = f"zeros {node.shape}, diagonal view {expansion.view_shape}"
        else:
            name, detail = "broadcast", f"to {node.shape}"
        if factor != 1:
            detail += f", times {factor}"
        return self.emit(kernel, [core], name, detail, node.shape, node.size, diagonal, node)

    def _einsum_core(self, node: Einsum, scale: complex = 1) -> tuple[int, _Expansion | None]:
        """The contraction of the einsum's operands other than deltas and all-ones
        tensors, and how the einsum's value follows from it (``None``: it is the
        value, with ``scale`` applied).  With an expansion, ``scale`` is left to
        the caller."""
        sizes = node.dims()
        find = _delta_classes(node)
        operands: list[_Operand] = []
        structural: set[int] = set()
        for op, ix in zip(node.operands, node.indices):
            labels = tuple(find(i) for i in ix)
            if isinstance(op, (Delta, Ones)):
                structural.update(labels)
            elif op.uid in self.deferred and op.uid not in self.slot_of:
                assert isinstance(op, Apply)
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
        diagonal = len(red_out) < len(node.out)
        direct = factor == 1 and not diagonal and core_out == tuple(red_out)
        if operands:
            core = self._contract(operands, core_out, sizes, node, scale if direct else 1)
        else:  # only deltas and ones: a constant
            dt = node.dtype
            core = self.emit(lambda: np.ones((), dtype=dt), (), "ones", "", (), 0, True, node)
        if direct:
            return core, None
        view_shape = tuple(sizes[i] for i in red_out)
        strides = None
        if diagonal:
            es = K.c_strides(node.shape)
            strides = tuple(
                sum(es[p] for p, o in enumerate(node.out) if find(o) == r) for r in red_out
            )
        core_shape = tuple(sizes[i] if i in used else 1 for i in red_out)
        return core, _Expansion(factor, core_shape, view_shape, strides)

    def _scaled(self, slot: int, shape: Shape, scale: complex, node: Expr) -> int:
        detail = f"times {scale}"
        return self.emit(
            K.make_scale(scale), [slot], "scale", detail, shape, math.prod(shape), True, node,
            key=("scale", scale),
        )

    def _contract(
        self,
        operands: list[_Operand],
        out: tuple[int, ...],
        sizes: dict[int, int],
        node: Expr,
        scale: complex = 1,
    ) -> int:
        """Plan the contraction of ``operands`` to the labels ``out`` (times
        ``scale``, applied to the smallest operand); turns a deferred ``inv``
        contracted on one index into a solve, and plans any other."""
        if scale != 1:
            planned = [op for op in operands if op.inv is None]
            if planned:
                small = min(planned, key=lambda op: math.prod(op.shape))
                small.slot = self._scaled(small.slot, small.shape, scale, node)
            else:
                result = self._contract(operands, out, sizes, node)
                return self._scaled(result, tuple(sizes[i] for i in out), scale, node)
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
        gram = self._try_gram(operands, out, sizes, node)
        if gram is not None:
            return gram
        subscripts = _subscripts(operands, out)
        shapes = tuple(op.shape for op in operands)
        slots = [op.slot for op in operands]
        plan = self._cheapest(subscripts, shapes, slots)
        self._guard(plan.largest, f"einsum '{subscripts}' of the {_describe(node)}")
        header = f"einsum '{subscripts}' path {list(plan.path)}, {plan.cost} flops"
        current = list(slots)
        for pair in plan.pairs:
            ins = [current.pop(p) for p in pair.positions]
            before = len(self.steps)
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
                key=_pair_key(pair),
            )
            current.append(out_slot)
            if len(self.steps) > before:
                header = ""
        return current[0]

    def _cheapest(
        self, subscripts: str, shapes: tuple[Shape, ...], slots: list[int]
    ) -> K.Contraction:
        """The contraction order with the fewest flops still to do: pairwise
        products that another einsum of this plan already computes (the same
        contraction of the same slots) cost nothing."""
        best: tuple[int, K.Contraction] | None = None
        paths = K.candidate_paths(subscripts, shapes)
        if self.shared and len(shapes) > K.ENUMERATE_UP_TO:
            shared = self.shared
            reused = reuse_first_path(
                subscripts, shapes, slots,
                lambda pair, ins: shared.get((*_pair_key(pair), ins)),
            )
            paths = (*reused, *paths)
        for path in paths:
            plan = K.contraction(subscripts, shapes, path)
            current: list[Any] = list(slots)
            cost = 0
            for k, pair in enumerate(plan.pairs):
                ins = [current.pop(p) for p in pair.positions]
                done = self.shared.get((*_pair_key(pair), tuple(ins)))
                if done is None:
                    cost += pair.flops
                current.append(done if done is not None else ("new", k))
            if best is None or cost < best[0]:
                best = (cost, plan)
            if not self.shared:
                break  # nothing to reuse: the first candidate is the cheapest
        assert best is not None
        return best[1]

    def _try_gram(
        self, operands: list[_Operand], out: tuple[int, ...], sizes: dict[int, int], node: Expr
    ) -> int | None:
        """``Xᵀ diag(w) X`` (or ``X diag(w) Xᵀ``): the same matrix twice, sharing its
        one summed index with weights that carry only that index.  The result is
        symmetric, and with ``w ≥ 0`` it is ``Zᵀ Z`` for ``Z = diag(√w) X``, which
        BLAS computes as a symmetric rank-k update at half the flops of a product."""
        if len(operands) < 3 or len(out) != 2:
            return None
        for a, first in enumerate(operands):
            for second in operands[a + 1 :]:
                if first.slot != second.slot or len(first.labels) != 2:
                    continue
                for axis in (0, 1):
                    s = first.labels[axis]
                    p, q = first.labels[1 - axis], second.labels[1 - axis]
                    if (
                        second.labels[axis] != s
                        or s in out
                        or p == q
                        or set(out) != {p, q}
                    ):
                        continue
                    weights = [op for op in operands if op is not first and op is not second]
                    if any(set(op.labels) - {s} for op in weights) or not any(
                        s in op.labels for op in weights
                    ):
                        continue  # weights must carry the summed index, and only it
                    w = self._contract(weights, (s,), sizes, node)
                    n = sizes[p]
                    return self.emit(
                        K.make_gram(bool(axis), n >= K.SYRK_MIN_SIZE), [first.slot, w], "gram",
                        ("M diag(d) Mᵀ" if axis else "Mᵀ diag(d) M") + " (symmetric)",
                        (n, n), sizes[s] * n * (n + 1), True, node,
                    )
        return None

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


def _pair_key(pair: K.Pairwise) -> tuple[Any, ...]:
    """What identifies a pairwise contraction (with its input slots appended)."""
    return ("contract", K.canonical_subscripts(pair.subscripts), pair.shape)


def _number(c: Any) -> complex:
    """A coefficient as a plain Python int, float or complex (NumPy scalars would
    change float32 results to float64)."""
    value = complex(c)
    if value.imag != 0:
        return value
    real = value.real
    return int(real) if real.is_integer() and abs(real) < 2**53 else real


def _scatter_key(node: Expr) -> tuple[tuple[Any, ...], bool] | None:
    """``(NumPy key, unique)`` of a scatter-add into zeros that adds its operand at
    ``zeros[key]`` (no leading axes moved), else ``None``."""
    if not isinstance(node, Apply) or node.op is not getattr(scatter_add, "op", None):
        return None
    idx = node.attrs["at"].index
    if idx.lead != 0:
        return None
    return idx.full_key, bool(idx.unique)

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, overload

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
    add,
    einsum_node,
)

__all__ = [
    "EVALUATED_KINDS",
    "Compiled",
    "CompiledTuple",
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
# Rewrites for evaluation: sums of products that share a factor
# =====================================================================================


def factor_sums(roots: Sequence[Expr]) -> list[Expr]:
    """The expressions with sums of products that share a factor rewritten, where
    that saves flops, as one product: ``Σₖ cₖ einsum(Q, Rₖ) → einsum(Q, Σₖ cₖ Rₖ)``.

    ``A X + Aᵀ X`` becomes ``(A + Aᵀ) X`` (one matrix product instead of two), and
    ``Xᵀ diag(u) − Xᵀ diag(v)`` becomes ``Xᵀ diag(u − v)``.  Terms are grouped by
    the factor ``Q`` and the role of each of its axes (summed, an output axis
    passed through, an output axis shared with the rest); a group is factored only
    if opt_einsum's flop counts say the product of sums is cheaper.  Terms with
    deltas or all-ones operands are left alone (their structure is planned
    better as it is).
    """
    uses: dict[int, int] = {}
    for root in roots:
        for node in root.walk():
            for child in node.children:
                uses[child.uid] = uses.get(child.uid, 0) + 1
    memo: dict[int, Expr] = {}
    factored_once: set[int] = set()  # products made here, whose sum was used once
    for root in roots:
        for node in root.walk():
            if node.uid in memo:
                continue
            children = [memo[c.uid] for c in node.children]
            changed = any(a is not b for a, b in zip(children, node.children))
            new = node.rebuild(children) if changed else node
            if changed and isinstance(new, Einsum):
                new = _inline(new, factored_once)
            made = False
            for _ in range(4):  # each round factors one group; a few are plenty
                if not isinstance(new, Add):
                    break
                factored = _factor_once(new)
                if factored is None:
                    break
                new, made = factored, True
            if made and isinstance(new, Einsum) and uses.get(node.uid, 0) <= 1:
                factored_once.add(new.uid)
            memo[node.uid] = new
    return [memo[r.uid] for r in roots]


def _inline(node: Einsum, products: set[int]) -> Expr:
    """Fuse into ``node`` the operands that are products made by factoring and used
    only here (as the simplifier fuses products used once), so that the whole
    contraction is planned as one: ``Xᵀ diag(u − v) diag(w) X`` is then seen as a
    weighted Gram matrix."""
    if not any(o.uid in products for o in node.operands):
        return node
    operands: list[Expr] = []
    indices: list[tuple[Any, ...]] = []
    for k, (op, ix) in enumerate(zip(node.operands, node.indices)):
        if op.uid in products and isinstance(op, Einsum):
            mapping: dict[int, Any] = dict(zip(op.out, ix))
            for sub, sub_ix in zip(op.operands, op.indices):
                operands.append(sub)
                indices.append(tuple(mapping.get(i, ("inner", k, i)) for i in sub_ix))
        else:
            operands.append(op)
            indices.append(ix)
    return einsum_node(operands, indices, node.out)


@dataclass(frozen=True)
class _Split:
    """A product term seen as ``einsum(Q[q], rest)``: ``signature`` is the role of
    each axis of ``Q`` and the output indices only the rest carries."""

    signature: tuple[Any, ...]
    rest: Expr
    roles: tuple[tuple[Any, ...], ...]
    others: tuple[int, ...]


def _split(term: Einsum, position: int) -> _Split | None:
    q = term.indices[position]
    if len(set(q)) != len(q) or any(isinstance(o, (Delta, Ones)) for o in term.operands):
        return None
    n_out = len(term.out)
    rest = [(o, ix) for j, (o, ix) in enumerate(zip(term.operands, term.indices)) if j != position]
    if not rest:
        return None
    rest_labels = {label for _, ix in rest for label in ix}
    roles: list[tuple[Any, ...]] = []
    kept: list[int] = []
    for label in q:
        if label < n_out:  # an output index (canonical ids: outputs first)
            if label in rest_labels:
                roles.append(("batch", label))
                kept.append(label)
            else:
                roles.append(("pass", label))
        elif label in rest_labels:
            roles.append(("sum",))
            kept.append(label)
        else:
            return None  # summed within Q alone
    others = tuple(sorted(label for label in rest_labels if label < n_out and label not in q))
    rest_expr = einsum_node([o for o, _ in rest], [ix for _, ix in rest], (*kept, *others))
    return _Split((tuple(roles), others), rest_expr, tuple(roles), others)


def _flops(node: Expr) -> int:
    """opt_einsum's flop count of an einsum node; nothing for a transposition (a
    view) or a node that is not an einsum (computed anyway)."""
    if not isinstance(node, Einsum):
        return 0
    if len(node.operands) == 1 and sorted(node.indices[0]) == sorted(node.out):
        return 0
    operands = list(zip(node.operands, node.indices))
    sub = _subscripts([_Operand(ix, o.shape) for o, ix in operands], node.out)
    return K.flop_estimate(sub, tuple(o.shape for o, _ in operands))


def _factor_once(node: Add) -> Expr | None:
    terms = list(zip(node.terms, node.coeffs))
    products = [(k, t) for k, (t, _) in enumerate(terms) if isinstance(t, Einsum)]
    if len(products) < 2:
        return None
    seen: dict[int, int] = {}
    for _, t in products:
        for o in {o.uid: o for o in t.operands}.values():
            seen[o.uid] = seen.get(o.uid, 0) + 1
    best: tuple[int, Expr] | None = None
    for _, t0 in products:
        for q_node in t0.operands:
            if seen.get(q_node.uid, 0) < 2 or isinstance(q_node, (Delta, Ones)):
                continue
            seen[q_node.uid] = 0  # consider each factor once
            groups: dict[tuple[Any, ...], list[tuple[int, _Split]]] = {}
            for k, t in products:
                signatures = set()
                for p, o in enumerate(t.operands):
                    if o is not q_node:
                        continue
                    split = _split(t, p)
                    if split is not None and split.signature not in signatures:
                        signatures.add(split.signature)
                        groups.setdefault(split.signature, []).append((k, split))
            for members in groups.values():
                if len(members) < 2:
                    continue
                candidate, saving = _factored(node, q_node, members)
                if saving > 0 and (best is None or saving > best[0]):
                    best = (saving, candidate)
    return None if best is None else best[1]


def _factored(
    node: Add, q_node: Expr, members: list[tuple[int, _Split]]
) -> tuple[Expr, int]:
    first = members[0][1]
    q_labels: list[Any] = []
    m_labels: list[Any] = []
    for axis, role in enumerate(first.roles):
        if role[0] == "sum":
            q_labels.append(("f", axis))
            m_labels.append(("f", axis))
        else:
            q_labels.append(role[1])
            if role[0] == "batch":
                m_labels.append(role[1])
    m_labels.extend(first.others)
    grouped = {k for k, _ in members}
    m = add([split.rest for _, split in members], [node.coeffs[k] for k, _ in members])
    product = einsum_node([q_node, m], [q_labels, m_labels], tuple(range(node.ndim)))
    before = sum(_flops(node.terms[k]) for k in grouped)
    after = sum(_flops(split.rest) for _, split in members) + m.size * len(members)
    after += _flops(product)
    rest = [(t, c) for k, (t, c) in enumerate(zip(node.terms, node.coeffs)) if k not in grouped]
    rebuilt = add([product, *(t for t, _ in rest)], [1, *(c for _, c in rest)])
    return rebuilt, before - after


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


@dataclass(frozen=True)
class _Expansion:
    """How an einsum's value comes from the contraction of its other operands (the
    *core*) when deltas survive or all-ones operands broadcast."""

    factor: int
    core_shape: Shape
    view_shape: Shape
    strides: tuple[int, ...] | None
    """Element strides of the diagonal view into the output (``None``: broadcast)."""


def _subscripts(operands: Sequence[_Operand], out: Sequence[int]) -> str:
    letters: dict[int, str] = {}
    for label in [i for op in operands for i in op.labels] + list(out):
        letters.setdefault(label, opt_einsum.get_symbol(len(letters)))
    terms = ["".join(letters[i] for i in op.labels) for op in operands]
    return ",".join(terms) + "->" + "".join(letters[i] for i in out)


def _describe(node: Expr) -> str:
    return f"{node.kind} node of shape {node.shape}"


def _delta_classes(node: Einsum) -> Callable[[int], int]:
    """Union-find over the einsum's indices merged by its deltas (smallest id is
    the representative, so output ids come first)."""
    parent: dict[int, int] = {}

    def find(i: int) -> int:
        while parent.get(i, i) != i:
            i = parent[i]
        return i

    for op, ix in zip(node.operands, node.indices):
        if isinstance(op, Delta):
            a, b = find(ix[0]), find(ix[1])
            if a != b:
                parent[max(a, b)] = min(a, b)
    return find


def _has_surviving_delta(node: Einsum) -> bool:
    if not any(isinstance(op, Delta) for op in node.operands):
        return False
    find = _delta_classes(node)
    return len({find(i) for i in node.out}) < len(node.out)


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
        roots = factor_sums(roots)
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
            if isinstance(n, Inv)
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
        for node in nodes:
            if (
                node.uid in needed
                and node.uid not in self.deferred
                and node.uid not in self.absorbed
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
            return self._add(node)
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
        if any(isinstance(t, Einsum) and _has_surviving_delta(t) for t in absorbed):
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
        """A sum with surviving-delta terms: every term written into one buffer."""
        parts: list[K.Part] = []
        ins: list[int] = []
        for term, c in zip(node.terms, coeffs):
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
            f"{p.coeff}·s{i}" + (" (diagonal)" if p.view_strides is not None else "")
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
        for path in K.candidate_paths(subscripts, shapes):
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
                    if any(set(op.labels) - {s} for op in weights):
                        continue
                    w = self._contract(weights, (s,), sizes, node)
                    n = sizes[p]
                    return self.emit(
                        K.make_gram(bool(axis)), [first.slot, w], "gram",
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


# =====================================================================================
# The compiled function
# =====================================================================================

_FAST_DTYPES = frozenset(np.dtype(t) for t in (np.float64, np.float32, np.complex128, np.complex64))
_F64 = np.dtype(np.float64)
_NDARRAY = np.ndarray


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
        fast_inputs = all(fast for _, _, _, fast in self._inputs)
        self._slots = tuple(slot for slot, _, _, _ in self._inputs)
        self._fast_arity = len(self._inputs) if fast_inputs else -1
        self._shapes = tuple(shape for _, _, shape, _ in self._inputs)
        self._copy = self._results[0][1]
        self._program = _program(runtime, set(roots), fresh, planner.const_slots)

    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
        """The slot list with the arguments checked and in place (the general path;
        ``__call__`` inlines the common case of plain arrays of the right shape)."""
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


class Compiled(_Program):
    """A planned expression, callable positionally in the order of :attr:`symbols`
    or by keyword name; returns a new NumPy array.  Build with :func:`compile`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Array:
        # The common case inline (this is the whole per-call overhead): every
        # argument a float or complex ndarray of the right shape.
        vals = None
        if not kwargs and len(args) == self._fast_arity:
            vals = self._template.copy()
            for slot, shape, value in zip(self._slots, self._shapes, args):
                if type(value) is _NDARRAY and value.shape == shape and (
                    (dt := value.dtype) is _F64 or dt in _FAST_DTYPES
                ):
                    vals[slot] = value
                else:
                    vals = None
                    break
        if vals is None:
            vals = self._bind(args, kwargs)
        for run in self._program:
            run(vals)
        result = vals[self._root]
        if self._copy:
            return np.array(result)
        return result if type(result) is _NDARRAY else np.asarray(result)


class CompiledTuple(_Program):
    """Several expressions planned together (:func:`compile` of a list): a call
    returns a tuple of arrays, one per expression, each shared intermediate
    computed once."""

    def __call__(self, *args: Any, **kwargs: Any) -> tuple[Array, ...]:
        vals = self._bind(args, kwargs)
        for run in self._program:
            run(vals)
        return tuple(_result(vals[slot], copy) for slot, copy in self._results)


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


@overload
def compile(
    expr: Expr, symbols: Sequence[Symbol] | None = None, *, max_elements: int | None = None
) -> Compiled: ...
@overload
def compile(
    expr: Sequence[Expr],
    symbols: Sequence[Symbol] | None = None,
    *,
    max_elements: int | None = None,
) -> CompiledTuple: ...
def compile(
    expr: Expr | Sequence[Expr],
    symbols: Sequence[Symbol] | None = None,
    *,
    max_elements: int | None = None,
) -> Compiled | CompiledTuple:
    """Plan ``expr`` for repeated evaluation.

    ``expr`` may be a list or tuple of expressions: they are planned together
    (each shared subexpression, and each shared intermediate of a contraction,
    computed once per call) and a call returns a tuple of arrays.  ``symbols``
    (default: the expressions' symbols, sorted by name) fixes the order of
    positional arguments; it may include symbols the expressions do not use, but
    must include every one they do.  ``max_elements`` (default
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
    >>> value, gram = compile([ops.trace(X.T @ X), X.T @ X], [X])(np.eye(2))
    >>> float(value), gram.shape
    (2.0, (2, 2))
    """
    single = isinstance(expr, Expr)
    exprs: tuple[Any, ...] = (expr,) if isinstance(expr, Expr) else tuple(expr)
    if not exprs or not all(isinstance(e, Expr) for e in exprs):
        got = type(expr).__name__ if single or not exprs else "a sequence with non-expressions"
        raise InvalidArgumentError(
            f"compile needs a matgrad expression or a sequence of them, got {got}"
        )
    used: dict[int, Symbol] = {}
    for e in exprs:
        for s in e.symbols():
            used.setdefault(s.uid, s)
    syms = (
        tuple(sorted(used.values(), key=lambda s: s.name)) if symbols is None else tuple(symbols)
    )
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
    absent = [s for s in used.values() if s.uid not in given]
    if absent:
        raise BindingError(
            "the expression depends on symbols not in `symbols`: "
            + ", ".join(f"{s.name!r} (shape {s.shape})" for s in absent)
        )
    limit = _max_elements if max_elements is None else int(max_elements)
    if single:
        return Compiled(exprs, syms, limit, True)
    return CompiledTuple(exprs, syms, limit, False)


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
    result: Array = compiled(**bindings)
    return result


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

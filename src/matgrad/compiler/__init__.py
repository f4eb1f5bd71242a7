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
>>> from matgrad.ir.expr import Matrix
>>> from matgrad.compiler import compile
>>> X = Matrix("X", (2, 2))
>>> f = compile(X @ X.T)
>>> f(np.array([[1.0, 2.0], [3.0, 4.0]]))
array([[ 5., 11.],
       [11., 25.]])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

import numpy as np

from matgrad._types import Array
from matgrad.compiler.backends import BACKENDS, infer_backend, namespace
from matgrad.compiler.planner import Step
from matgrad.compiler.portable import PortablePlan
from matgrad.compiler.rewrites import factor_sums as factor_sums
from matgrad.compiler.runtime import _NDARRAY, _Program, _result, own_class
from matgrad.compiler.runtime import View as View
from matgrad.errors import BindingError, InvalidArgumentError, elide
from matgrad.ir.expr import HOOKS, Expr, Symbol

__all__ = [
    "Batched",
    "Compiled",
    "CompiledTuple",
    "Step",
    "compile",
    "evaluate",
    "get_max_elements",
    "set_max_elements",
    "vmap",
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


class _Engines:
    """Running a plan on another array engine, or over a batch: what
    :class:`Compiled` and :class:`CompiledTuple` add to the NumPy plan."""

    backend: str = "auto"
    """The engine ``compile`` was given: ``"auto"`` (the inputs' own), or one of
    ``numpy``, ``dask``, ``torch``, ``jax``, ``cupy``."""

    def _engine(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        if self.backend != "auto":
            return self.backend
        return infer_backend([*args, *kwargs.values()])

    def _portable_call(
        self,
        engine: str,
        batched: tuple[bool, ...] | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> list[Any]:
        program: Any = self
        symbols: tuple[Symbol, ...] = program.symbols
        if kwargs or len(args) != len(symbols):
            args = program._arrange(args, kwargs)
        ns = namespace(engine)
        plans: dict[Any, PortablePlan] = program.__dict__.setdefault("_portables", {})
        plan = plans.get((engine, batched))
        if plan is None:
            plan = plans[(engine, batched)] = PortablePlan(
                program.exprs, symbols, ns, batched, _numpy_values
            )
        inputs = []
        for k, (sym, value) in enumerate(zip(symbols, args)):
            x = ns.input(value)
            lead = (x.shape[0],) if batched is not None and batched[k] and x.ndim else ()
            if tuple(x.shape) != (*lead, *sym.shape):
                what = f"a batch of {sym.shape}" if batched is not None and batched[k] else (
                    str(sym.shape))
                raise BindingError(
                    f"value for {sym.name!r} has shape {tuple(x.shape)}, expected {what}"
                )
            if not ns.isdtype(x.dtype, ("real floating", "complex floating")):
                x = ns.astype(x, ns.float64)
            inputs.append(x)
        return plan.run(inputs)


class Batched:
    """A compiled plan evaluated over a leading batch axis of some of its inputs, in
    one plan (:func:`vmap`)."""

    def __init__(self, program: Compiled | CompiledTuple, in_axes: Any = 0) -> None:
        names = ", ".join(s.name for s in program.symbols)
        self.program = program
        self._flags = batched_inputs(in_axes, len(program.symbols), f"input ({names})")
        self.in_axes = tuple(0 if b else None for b in self._flags)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        program = self.program
        engine = program._engine(args, kwargs)
        results = program._portable_call(engine, self._flags, args, kwargs)
        return results[0] if program.single else tuple(results)

    def __repr__(self) -> str:
        return f"<vmap of {self.program!r}, in_axes={self.in_axes}>"


def batched_inputs(in_axes: Any, n: int, what: str) -> tuple[bool, ...]:
    """``in_axes`` (``0``, ``None``, or one of them per each of ``n`` inputs) as
    flags: which inputs have the leading batch axis."""
    axes = (in_axes,) * n if in_axes is None or isinstance(in_axes, int) else tuple(in_axes)
    if len(axes) != n or any(a not in (0, None) for a in axes):
        raise InvalidArgumentError(
            f"in_axes must be 0, None, or a sequence of {n} of them (one per {what}), "
            f"got {in_axes!r}"
        )
    if all(a is None for a in axes):
        raise InvalidArgumentError(f"in_axes batches no {what.split(' ')[0]}")
    return tuple(a == 0 for a in axes)


def vmap(program: Compiled | CompiledTuple, in_axes: Any = 0) -> Batched:
    """``program`` evaluated over a leading batch axis: ``in_axes`` is ``0`` (every
    input batched), or one ``0``/``None`` per input in the order of its symbols.
    Each result gets the leading axis; einsums become batched contractions,
    ``numpy.linalg``-style routines take the batch whole, and the few operations
    that cannot run once per entry.  Runs on the inputs' engine.

    >>> import numpy as np
    >>> from matgrad.ir.expr import Matrix
    >>> from matgrad import ops
    >>> X = Matrix("X", (2, 2))
    >>> batch = vmap(compile(ops.inv(X)))(np.stack([np.eye(2), 2 * np.eye(2)]))
    >>> batch.shape, float(batch[1, 0, 0])
    ((2, 2, 2), 0.5)
    """
    if isinstance(program, Batched):
        raise InvalidArgumentError("vmap of a vmap: batch over one axis, or reshape")
    if not isinstance(program, _Engines):
        raise InvalidArgumentError(
            f"vmap needs a compiled plan (matgrad.compile), got {type(program).__name__}"
        )
    return Batched(program, in_axes)


def _numpy_values(nodes: list[Expr]) -> tuple[Any, ...]:
    """The values of input-free expressions, computed with NumPy."""
    return CompiledTuple(nodes, (), _max_elements, False)()


class Compiled(_Program, _Engines):
    """A planned expression, callable positionally in the order of :attr:`symbols`
    or by keyword name; returns a new NumPy array.  Build with :func:`compile`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Array:
        # The common case (every argument exactly a float64 ndarray of its symbol's
        # shape) never comes here: the plan's own class runs it (runtime.own_class).
        # Anything else goes to another engine, or is converted and checked value
        # by value by _bind, which raises the errors.
        engine = self._engine(args, kwargs)
        if engine != "numpy":
            value: Array = self._portable_call(engine, None, args, kwargs)[0]
            return value
        vals = self._bind(args, kwargs)
        for run in self._program:
            run(vals)
        result = vals[self._root]
        if self._copy:
            return np.array(result)
        return result if type(result) is _NDARRAY else np.asarray(result)


class CompiledTuple(_Program, _Engines):
    """Several expressions planned together (:func:`compile` of a list): a call
    returns a tuple of arrays, one per expression, each shared intermediate
    computed once."""

    def __call__(self, *args: Any, **kwargs: Any) -> tuple[Array, ...]:
        engine = self._engine(args, kwargs)  # the common case: as in Compiled.__call__
        if engine != "numpy":
            return tuple(self._portable_call(engine, None, args, kwargs))
        vals = self._bind(args, kwargs)
        for run in self._program:
            run(vals)
        results = tuple(map(vals.__getitem__, self._result_slots))
        if self._copies or tuple(map(type, results)) != self._all_arrays:
            return tuple(_result(vals[slot], copy) for slot, copy in self._results)
        return results


@overload
def compile(
    expr: Expr,
    symbols: Sequence[Symbol] | None = None,
    *,
    max_elements: int | None = None,
    backend: str = "auto",
) -> Compiled: ...
@overload
def compile(
    expr: Sequence[Expr],
    symbols: Sequence[Symbol] | None = None,
    *,
    max_elements: int | None = None,
    backend: str = "auto",
) -> CompiledTuple: ...
def compile(
    expr: Expr | Sequence[Expr],
    symbols: Sequence[Symbol] | None = None,
    *,
    max_elements: int | None = None,
    backend: str = "auto",
) -> Compiled | CompiledTuple:
    """Plan ``expr`` for repeated evaluation.

    ``expr`` may be a list or tuple of expressions: they are planned together
    (each shared subexpression, and each shared intermediate of a contraction,
    computed once per call) and a call returns a tuple of arrays.  ``symbols``
    (default: the expressions' symbols, sorted by name) fixes the order of
    positional arguments; it may include symbols the expressions do not use, but
    must include every one they do.  A call also accepts, by keyword, values for
    the symbols an expression was derived from but no longer contains (the ``A``
    of ``derivative(A @ x, A)``): they are checked against their shapes and
    ignored.  ``max_elements`` (default :func:`get_max_elements`) bounds every
    array the plan allocates (on NumPy).

    ``backend`` is the array engine a call runs on: ``"auto"`` (default) takes
    the inputs' own — NumPy arrays run the NumPy plan, Dask arrays give a lazy
    Dask array, torch tensors a tensor on their device, JAX and CuPy arrays
    theirs — and ``"numpy"``, ``"dask"``, ``"torch"``, ``"jax"``, ``"cupy"``
    fix it (NumPy inputs are then moved to that engine).  See docs/scaling.md.

    >>> import numpy as np
    >>> from matgrad.ir.expr import Matrix
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
            raise InvalidArgumentError(f"symbols must be Symbol nodes, got {elide(repr(s))}")
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
            + elide(", ".join(f"{s.name!r} (shape {s.shape})" for s in absent))
        )
    if backend != "auto" and backend not in BACKENDS:
        raise InvalidArgumentError(
            f"unknown backend {backend!r}; use 'auto' or one of {', '.join(BACKENDS)}"
        )
    limit = _max_elements if max_elements is None else int(max_elements)
    program: Compiled | CompiledTuple = (
        Compiled(exprs, syms, limit, True) if single else CompiledTuple(exprs, syms, limit, False)
    )
    if backend != "auto":
        namespace(backend)  # a missing engine fails here, naming its extra
        program.backend = backend
        if backend != "numpy":
            program._done_source = None  # every call goes to the engine
            return program
    own_class(program)
    return program


def evaluate(expr: Expr, bindings: dict[str, Any], *, backend: str = "auto") -> Array:
    """Evaluate ``expr`` with values bound by symbol name; the plan is cached on
    the expression, so repeated evaluation plans only once.  ``backend`` as for
    :func:`compile` (default: the values' own array engine).

    >>> import numpy as np
    >>> from matgrad.ir.expr import Matrix
    >>> from matgrad import ops
    >>> X = Matrix("X", (2, 2))
    >>> float(evaluate(ops.logdet(X), {"X": 2 * np.eye(2)}))  # log 4
    1.3862943611198906
    """
    key = f"compiled:{_max_elements}:{backend}"
    compiled = expr._memo.get(key)
    if compiled is None:
        compiled = compile(expr, backend=backend)
        expr._memo[key] = compiled
    result: Array = compiled(**bindings)
    return result


"""Node kinds :func:`compile` evaluates (checked against the IR by the tests)."""

HOOKS["evaluate"] = evaluate

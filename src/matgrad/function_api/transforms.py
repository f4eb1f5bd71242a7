"""The function API: ``grad``, ``jacobian``, ``hessian``, ``jvp``, ``vjp`` over Python
functions, by tracing (layer 6).

A function written with NumPy (``lambda X: np.trace(X.T @ A0 @ X)``) is called
with symbols standing for its array arguments; NumPy's protocols turn every
operation into an expression node (:mod:`matgrad.function_api.tracing`).  Arrays
from the closure or globals become constants when small, and inputs of the
compiled plan when large (``CAPTURE_THRESHOLD`` entries or more): those are
passed to the plan at each call, never copied or compared.  The derivative of
the traced expression is derived, simplified and compiled, and the compiled
callable is cached **keyed on the traced expression itself**: expressions are
hash-consed and constants are identified by their content, so a second call
with same-shaped inputs and the same closure values finds the compiled
derivative and does no symbolic work, while a closure constant that changed
gives a different expression and is never served a stale result.

A transform re-traces its function on each call unless the previous trace's
guards hold (:mod:`matgrad.function_api.guards`): same code, same closure and
global values (small arrays compared bit for bit), same argument shapes and
dtypes, and every captured array guarded by identity).  Then the trace is
reused and only the compiled plan runs.  ``jvp``, ``hvp`` and ``vjp`` reuse the
traces of a function the same way, in a cache that holds the function weakly.

``argnums`` selects the arguments to differentiate, as in JAX: an int gives one
result, a tuple gives a tuple.

What cannot be traced fails clearly: Python control flow on a traced value
(``if x[0] > 0:``) raises an ``UnsupportedOperationError`` (a ``TypeError``)
that says so and suggests ``np.where``; a NumPy function matgrad does not serve
names itself and the closest one it does.  Either names the traced function.
"""

from __future__ import annotations

import functools
import types
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from matgrad._types import Array
from matgrad.calculus.diff import derivative, jvp_expr, vjp_expr
from matgrad.calculus.simplify import simplify
from matgrad.compiler import CompiledTuple, compile
from matgrad.compiler.backends import BACKENDS, infer_backend
from matgrad.errors import InvalidArgumentError, NotCallableError, ShapeError
from matgrad.function_api.guards import MISS, Guards, guards_for
from matgrad.function_api.tracing import Traced, as_array, cached_symbol
from matgrad.ir.expr import Expr, Symbol, constant

__all__ = ["grad", "jacobian", "hessian", "hvp", "jvp", "vjp", "value_and_grad"]

Argnums = int | Sequence[int]
_CACHE_SIZE = 16
_F64 = np.dtype(np.float64)


class _Spec:
    """What tracing reads of an argument on another array engine (a torch tensor,
    a Dask array): its shape and NumPy dtype; the array itself goes to the plan."""

    __slots__ = ("dtype", "shape")

    def __init__(self, value: Any) -> None:
        self.shape = tuple(int(n) for n in value.shape)
        self.dtype = np.dtype(str(value.dtype).rpartition(".")[2])


def _argument(value: Any, position: int) -> Any:
    """An argument as the plan takes it: NumPy arrays (and what converts to one)
    as :func:`as_array` makes them, arrays of another engine as they are."""
    if type(value) is np.ndarray or infer_backend((value,)) == "numpy":
        return as_array(value, position)
    return value


def _specs(values: Sequence[Any]) -> list[Any]:
    """The arguments as tracing sees them (see :class:`_Spec`)."""
    return [v if type(v) is np.ndarray else _Spec(v) for v in values]


def _check_backend(backend: str) -> str:
    if backend != "auto" and backend not in BACKENDS:
        raise InvalidArgumentError(
            f"unknown backend {backend!r}; use 'auto' or one of {', '.join(BACKENDS)}"
        )
    return backend


def _normalize_argnums(argnums: Argnums, nargs: int) -> tuple[tuple[int, ...], bool]:
    single = isinstance(argnums, (int, np.integer))
    nums = (int(argnums),) if single else tuple(int(a) for a in argnums)  # type: ignore[union-attr, arg-type]
    if not nums:
        raise InvalidArgumentError("argnums must name at least one argument")
    for a in nums:
        if not -nargs <= a < nargs:
            raise InvalidArgumentError(
                f"argnums {a} is out of range for a function called with {nargs} argument(s)"
            )
    return tuple(a % nargs for a in nums), single


class _Transform:
    """Shared machinery: tracing, caching compiled derivatives by the traced expression."""

    def __init__(
        self, fun: Callable[..., Any], argnums: Argnums, what: str, backend: str = "auto"
    ) -> None:
        if not callable(fun):
            raise NotCallableError(f"{what} needs a callable, got {type(fun).__name__}")
        self.backend = _check_backend(backend)
        """The array engine the derivatives run on (``"auto"``: the arguments')."""
        self.fun = fun
        self.argnums = argnums
        self.what = what
        self._cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._argnums: dict[int, tuple[tuple[int, ...], bool]] = {}
        self._reuse: dict[tuple[Any, ...], _Reuse] = {}
        self.last_captured: tuple[Array, ...] = ()
        """The arrays the last call passed to its plan after the arguments."""
        self._shortcut: Callable[[tuple[Any, ...]], Any] | None = None
        """The whole call of the reused trace the last call used, when it applies
        (:meth:`Guards.shortcut`), else None."""
        self.__wrapped__ = fun
        self.__doc__ = getattr(fun, "__doc__", None)

    def _cached(self, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        value = build()
        self._cache[key] = value
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return value

    def _prepare(self, args: Sequence[Any]) -> tuple[list[Array], tuple[Any, ...], Any]:
        """The arguments as arrays, their shapes and dtypes (the reuse key), and
        ``(argnums, single)``; with the plan to call when the guards of a reusable
        trace hold, else None."""
        if not args:
            raise InvalidArgumentError(f"{self.what}: the function needs at least one argument")
        nums = self._argnums.get(len(args))
        if nums is None:
            nums = self._argnums[len(args)] = _normalize_argnums(self.argnums, len(args))
        values = [_argument(a, k) for k, a in enumerate(args)]
        key = tuple([(v.shape, v.dtype) for v in values])
        entry = self._reuse.get(key)
        if entry is not None and entry.plan is not None and entry.guards.hold():
            captured = self.last_captured = entry.traced.captured
            return [*values, *captured] if captured else values, key, (nums, entry.plan)
        return values, key, (nums, None)

    def _trace(
        self, values: list[Array], key: tuple[Any, ...]
    ) -> tuple[Traced, list[Array]]:
        """The trace for these arguments (the previous one when its guards hold)
        and the plan's input values (the captured arrays after the arguments)."""
        traced = _reused_trace(self.fun, values, key, self.what, self._reuse)
        self.last_captured = traced.captured
        if traced.captured:
            values = [*values, *traced.captured]
        return traced, values

    def __call__(self, *args: Any) -> Any:
        shortcut = self._shortcut
        if shortcut is not None:
            result = shortcut(args)
            if result is not MISS:
                return result
            self._shortcut = None
        values, key, ((nums, single), plan) = self._prepare(args)
        if plan is None:
            plan, values = self._compiled(values, key, nums)
        else:  # a reused trace: from now on, its whole call as one function
            self._shortcut = self._shortcut_of(key)
        return self._finish(plan(*values), single)

    def _compiled(
        self, values: list[Any], key: tuple[Any, ...], nums: tuple[int, ...]
    ) -> tuple[CompiledTuple, list[Any]]:
        """The compiled plan for these arguments (cached by the traced expression),
        and its inputs: the arguments, then the arrays the trace captured."""
        traced, values = self._trace(values, key)
        self._check(traced.out)

        def build() -> CompiledTuple:
            return _compile_all(self._exprs(traced, nums), traced.inputs, self.backend)

        compiled = self._cached((traced.out, nums, traced.captured_symbols), build)
        self._keep(key, traced, compiled)
        return compiled, values

    def _check(self, out: Expr) -> None:
        """Raise where the traced output does not suit the transform."""

    def _exprs(self, traced: Traced, nums: tuple[int, ...]) -> list[Expr]:
        """The expressions the transform compiles for a trace."""
        raise NotImplementedError

    def _finish(self, results: tuple[Any, ...], single: bool) -> Any:
        """What a call returns, from the plan's results."""
        return results[0] if single else results

    def _keep(self, key: tuple[Any, ...], traced: Traced, plan: CompiledTuple) -> None:
        """Remember the plan of a reusable trace, so that later calls go straight to it."""
        entry = self._reuse.get(key)
        if entry is not None and entry.traced is traced:
            entry.plan = plan

    def _shortcut_of(self, key: tuple[Any, ...]) -> Callable[[tuple[Any, ...]], Any] | None:
        """The whole call of the reused trace for arguments of the layouts ``key``
        as one generated function (:meth:`Guards.shortcut`), made at its first
        reuse (a function called once never pays for it); ``None`` where it does
        not apply (another engine, captured arrays of another engine)."""
        entry = self._reuse[key]
        plan, captured = entry.plan, entry.traced.captured
        if entry.shortcut is not None or plan is None or self.backend not in ("auto", "numpy"):
            return entry.shortcut
        if not all(type(a) is np.ndarray for a in captured):
            return None
        single = self._argnums[len(key)][1]
        direct = all(dtype is _F64 for _, dtype in key) and all(a.dtype is _F64 for a in captured)
        done = plan.done() if direct else None
        run: Callable[..., Any] = done if done is not None else plan
        if type(self)._finish is _Transform._finish:
            finish, index = None, (0 if single else None)
        else:
            finish, index = functools.partial(self._finish, single=single), None
        entry.shortcut = entry.guards.shortcut(key, run, captured, finish, index)
        return entry.shortcut


def _reused_trace(fun: Callable[..., Any], values: Sequence[Any], key: tuple[Any, ...],
                  what: str, reuse: dict[tuple[Any, ...], _Reuse], weak: bool = False) -> Traced:
    """The trace of ``fun`` on arguments of the layouts ``key``: the one kept in
    ``reuse`` while its guards hold, else a new one, kept when it may be reused
    (``weak``: its guards hold ``fun`` weakly, for a cache keyed weakly by it)."""
    entry = reuse.get(key)
    if entry is not None and entry.guards.hold():
        return entry.traced
    reuse.pop(key, None)
    guards = guards_for(fun, identity=True, weak=weak)
    traced = Traced(fun, _specs(values), what, guards is not None)
    # reused only if every captured array is guarded by identity (read by the code
    # only as an operand of the traced arguments, never outside the trace, as
    # X.mean(0) is) and the trace changed no guarded value
    if guards is not None and guards.covers(traced.captured) and guards.hold():
        if len(reuse) >= _CACHE_SIZE:
            reuse.clear()
        reuse[key] = _Reuse(guards, traced)
    return traced


class _Reuse:
    """A reusable trace: its guards, the plan compiled for it (once known), and the
    whole call as one function when it applies (:meth:`Guards.shortcut`)."""

    __slots__ = ("guards", "plan", "shortcut", "traced")

    def __init__(self, guards: Guards, traced: Traced) -> None:
        self.guards = guards
        self.traced = traced
        self.plan: CompiledTuple | None = None
        self.shortcut: Callable[[tuple[Any, ...]], Any] | None = None


def _compile_all(
    exprs: Sequence[Expr], symbols: Sequence[Symbol], backend: str = "auto"
) -> CompiledTuple:
    """The expressions planned together: shared work (the forward pass of a
    network, say) is done once per call for all of them."""
    return compile(list(exprs), list(symbols), backend=backend)


class _DerivativeTransform(_Transform):
    """``grad``/``jacobian``/``hessian``: the ``order``-th derivative wrt each argnum."""

    def __init__(
        self,
        fun: Callable[..., Any],
        argnums: Argnums,
        order: int,
        scalar: bool,
        what: str,
        backend: str = "auto",
    ) -> None:
        super().__init__(fun, argnums, what, backend)
        self.order = order
        self.scalar = scalar

    def _check(self, out: Expr) -> None:
        if self.scalar and out.shape != ():
            raise ShapeError(
                f"{self.what} needs a scalar-valued function, but it returned shape {out.shape}; "
                "use mg.jacobian for vector- or matrix-valued functions"
            )

    def _exprs(self, traced: Traced, nums: tuple[int, ...]) -> list[Expr]:
        return [derivative(traced.out, traced.symbols[k], order=self.order) for k in nums]


def grad(
    fun: Callable[..., Any], argnums: Argnums = 0, *, backend: str = "auto"
) -> Callable[..., Any]:
    """The gradient of a scalar-valued function, with each argument's shape.

    >>> import numpy as np, matgrad as mg
    >>> X0 = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> np.allclose(mg.grad(lambda X: np.linalg.slogdet(X)[1])(X0), np.linalg.inv(X0).T)
    True
    """
    return _DerivativeTransform(fun, argnums, 1, True, "grad", backend)


def jacobian(
    fun: Callable[..., Any], argnums: Argnums = 0, *, backend: str = "auto"
) -> Callable[..., Any]:
    """The Jacobian tensor, shape ``out.shape + arg.shape`` (numerator layout).

    >>> import numpy as np, matgrad as mg
    >>> A0 = np.arange(6.0).reshape(2, 3)
    >>> np.array_equal(mg.jacobian(lambda x: A0 @ x)(np.ones(3)), A0)
    True
    """
    return _DerivativeTransform(fun, argnums, 1, False, "jacobian", backend)


def hessian(
    fun: Callable[..., Any], argnums: Argnums = 0, *, backend: str = "auto"
) -> Callable[..., Any]:
    """The Hessian, shape ``out.shape + arg.shape + arg.shape``.

    >>> import numpy as np, matgrad as mg
    >>> A0 = np.array([[1.0, 2.0], [0.0, 3.0]])
    >>> mg.hessian(lambda x: x @ A0 @ x)(np.zeros(2))
    array([[2., 2.],
           [2., 6.]])
    """
    return _DerivativeTransform(fun, argnums, 2, False, "hessian", backend)


class _ValueAndGrad(_Transform):
    def _check(self, out: Expr) -> None:
        if out.shape != ():
            raise ShapeError(
                f"value_and_grad needs a scalar-valued function, but it returned shape {out.shape}"
            )

    def _exprs(self, traced: Traced, nums: tuple[int, ...]) -> list[Expr]:
        out = traced.out
        return [simplify(out), *(derivative(out, traced.symbols[k]) for k in nums)]

    def _finish(self, results: tuple[Any, ...], single: bool) -> tuple[Any, Any]:
        grads = tuple(results[1:])
        return results[0], grads[0] if single else grads


def value_and_grad(
    fun: Callable[..., Any], argnums: Argnums = 0, *, backend: str = "auto"
) -> Callable[..., Any]:
    """``(f(x), ∇f(x))`` in one call."""
    return _ValueAndGrad(fun, argnums, "value_and_grad", backend)


_PLANS: OrderedDict[tuple[Any, ...], CompiledTuple] = OrderedDict()
"""Compiled ``jvp``/``vjp``/``hvp`` plans keyed by the traced expression (as the
transforms' caches are), shared by all functions."""


def _plan(key: tuple[Any, ...], build: Callable[[], CompiledTuple]) -> CompiledTuple:
    hit = _PLANS.get(key)
    if hit is not None:
        _PLANS.move_to_end(key)
        return hit
    plan = _PLANS[key] = build()
    if len(_PLANS) > 4 * _CACHE_SIZE:
        _PLANS.popitem(last=False)
    return plan


_LAST_CAPTURED: list[tuple[Array, ...]] = [()]
"""The arrays the last ``jvp``/``hvp``/``vjp`` trace captured (for benchmarks)."""


_TRACES: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], _Reuse]] = (
    weakref.WeakKeyDictionary()
)
"""The reusable traces of the functions given to ``jvp``/``hvp``/``vjp``, by
function (held weakly: a function and what its closure holds are not kept alive
by the cache) and by the layouts of the primals."""


def _traced(
    fun: Callable[..., Any], primals: Sequence[Any], what: str
) -> tuple[Traced, list[Array]]:
    """The trace of ``fun`` on the primals, reused while its guards hold (a plain
    Python function; anything else is traced on every call), and the primals as
    the plan takes them."""
    values = [_argument(p, k) for k, p in enumerate(primals)]
    reuse = _TRACES.get(fun) if type(fun) is types.FunctionType else None
    if reuse is not None:
        key = (what, *[(v.shape, v.dtype) for v in values])
        traced = _reused_trace(fun, values, key, what, reuse, weak=True)
    else:  # guards only from a function's second call: a closure made anew for each
        traced = Traced(fun, _specs(values), what)  # call never pays for them
        if type(fun) is types.FunctionType:
            _TRACES[fun] = {}
    _LAST_CAPTURED[0] = traced.captured
    return traced, values


def _tangents(values: Sequence[Array], tangents: Sequence[Any], what: str) -> list[Array]:
    if len(values) != len(tangents):
        raise InvalidArgumentError(
            f"{what}: {len(values)} primals but {len(tangents)} tangents"
        )
    tvals = [_argument(t, k) for k, t in enumerate(tangents)]
    for k, (p, t) in enumerate(zip(values, tvals)):
        if tuple(p.shape) != tuple(t.shape):
            raise ShapeError(
                f"{what}: tangent {k} has shape {tuple(t.shape)}, primal has {tuple(p.shape)}"
            )
    return tvals


def jvp(
    fun: Callable[..., Any],
    primals: Sequence[Any],
    tangents: Sequence[Any],
    *,
    backend: str = "auto",
) -> tuple[Array, Array]:
    """``(f(primals), J · tangents)`` — the directional derivative, as ``jax.jvp``,
    computed symbolically without forming the Jacobian (forward accumulation of
    the tangents: no intermediate has more entries than the function's own).

    >>> import numpy as np, matgrad as mg
    >>> out, d = mg.jvp(lambda x: x * x, (np.array([1.0, 2.0]),), (np.array([1.0, 0.0]),))
    >>> d
    array([2., 0.])
    """
    if not callable(fun):
        raise NotCallableError(f"jvp needs a callable, got {type(fun).__name__}")
    if len(primals) != len(tangents):
        raise InvalidArgumentError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    traced, values = _traced(fun, primals, "jvp")
    tvals = _tangents(values, tangents, "jvp")
    tsyms = [
        cached_symbol(f"tangent{k}", s.shape, s.dtype) for k, s in enumerate(_specs(tvals))
    ]
    captured = traced.captured_symbols

    def build() -> CompiledTuple:
        direction = jvp_expr(traced.out, dict(zip(traced.symbols, tsyms)))
        return _compile_all(
            [simplify(traced.out), direction], [*traced.symbols, *tsyms, *captured],
            _check_backend(backend),
        )

    value, derivative_value = _plan(("jvp", backend, traced.out, *tsyms, captured), build)(
        *values, *tvals, *traced.captured
    )
    return value, derivative_value


def hvp(
    fun: Callable[..., Any],
    primals: Sequence[Any],
    tangents: Sequence[Any],
    *,
    argnums: Argnums | None = None,
    backend: str = "auto",
) -> Array | tuple[Array, ...]:
    """The Hessian-vector product ``H · v`` of a scalar-valued function, never
    forming the Hessian: the directional derivative of the gradient (forward over
    reverse), ``Σⱼ ∂²f/∂xₖ∂xⱼ [vⱼ]`` for each primal ``xₖ``.  One primal gives one
    array of its shape; several give a tuple.  ``argnums`` (an int or a tuple)
    takes the Hessian in those primals only, with one tangent each, the others
    held fixed (the data of a loss): ``hvp(loss, (w, X, y), (v,), argnums=0)``.

    >>> import numpy as np, matgrad as mg
    >>> A0 = np.array([[2.0, 1.0], [0.0, 3.0]])
    >>> mg.hvp(lambda x: x @ A0 @ x, (np.ones(2),), (np.array([1.0, 0.0]),))
    array([4., 1.])
    """
    if not callable(fun):
        raise NotCallableError(f"hvp needs a callable, got {type(fun).__name__}")
    nums, _ = (
        (tuple(range(len(primals))), False) if argnums is None
        else _normalize_argnums(argnums, len(primals))
    )
    if len(nums) != len(tangents):
        raise InvalidArgumentError(
            f"hvp: {len(nums)} primals to differentiate but {len(tangents)} tangents"
        )
    traced, values = _traced(fun, primals, "hvp")
    if traced.out.shape != ():
        raise ShapeError(
            f"hvp needs a scalar-valued function, but it returned shape {traced.out.shape}"
        )
    tvals = _tangents([values[k] for k in nums], tangents, "hvp")
    tsyms = [
        cached_symbol(f"tangent{k}", s.shape, s.dtype) for k, s in enumerate(_specs(tvals))
    ]
    captured = traced.captured_symbols
    wrt = [traced.symbols[k] for k in nums]

    def build() -> CompiledTuple:
        grads = vjp_expr(traced.out, constant(np.ones((), traced.out.dtype)), wrt)
        seeds: dict[Symbol, Expr] = dict(zip(wrt, tsyms))
        products = [jvp_expr(g, seeds) for g in grads]
        return _compile_all(
            products, [*traced.symbols, *tsyms, *captured], _check_backend(backend)
        )

    results = _plan(("hvp", backend, nums, traced.out, *tsyms, captured), build)(
        *values, *tvals, *traced.captured
    )
    return results[0] if len(results) == 1 else results


def vjp(
    fun: Callable[..., Any], *primals: Any, backend: str = "auto"
) -> tuple[Array, Callable[[Any], tuple[Array, ...]]]:
    """``(f(primals), vjp_fn)`` as ``jax.vjp``: ``vjp_fn(c)`` gives ``cᵀ ∂f/∂xₖ`` for
    every primal, computed symbolically without forming the Jacobian.

    >>> import numpy as np, matgrad as mg
    >>> A0 = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> out, pullback = mg.vjp(lambda x: A0 @ x, np.ones(2))
    >>> pullback(np.array([1.0, 0.0]))
    (array([1., 2.]),)
    """
    if not callable(fun):
        raise NotCallableError(f"vjp needs a callable, got {type(fun).__name__}")
    traced, values = _traced(fun, primals, "vjp")
    out = traced.out
    csym = cached_symbol("cotangent", out.shape, out.dtype)
    captured = traced.captured_symbols

    _check_backend(backend)

    def build_value() -> CompiledTuple:
        return _compile_all([simplify(out)], traced.inputs, backend)

    def build_pullbacks() -> CompiledTuple:
        pulled = vjp_expr(out, csym, traced.symbols)
        return _compile_all(list(pulled), [*traced.symbols, csym, *captured], backend)

    (value,) = _plan(("value", backend, out, *traced.symbols, captured), build_value)(
        *values, *traced.captured
    )
    pullbacks = _plan(("vjp", backend, out, csym, captured), build_pullbacks)
    arrays = traced.captured

    def vjp_fn(cotangent: Any) -> tuple[Array, ...]:
        c = _argument(cotangent, 0)
        if tuple(c.shape) != out.shape:
            raise ShapeError(
                f"vjp: cotangent has shape {tuple(c.shape)}, the output has {out.shape}"
            )
        return pullbacks(*values, c, *arrays)

    return value, vjp_fn

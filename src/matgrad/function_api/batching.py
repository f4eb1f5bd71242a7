"""``mg.vmap``: a compiled plan, a derivative transform or a plain function
evaluated over a leading batch axis of its inputs, in one plan (layer 6).

The function is traced once, at the shapes of one batch entry; its compiled
plan (the derivatives, for ``mg.grad`` and friends) then runs on the whole
batch (:func:`matgrad.compiler.vmap`): contractions get one more index,
``numpy.linalg``-style routines take the batch whole.  Per-example gradients are
``mg.vmap(mg.grad(loss), in_axes=(None, 0, 0))(w, X, y)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from matgrad.calculus.simplify import simplify
from matgrad.compiler import Batched, Compiled, CompiledTuple, batched_inputs, compile
from matgrad.compiler import vmap as vmap_plan
from matgrad.errors import InvalidArgumentError, NotCallableError
from matgrad.function_api.tracing import Traced
from matgrad.function_api.transforms import _argument, _specs, _Transform

__all__ = ["vmap"]


def vmap(f: Any, in_axes: Any = 0) -> Any:
    """``f`` over a leading batch axis: ``in_axes`` is ``0`` (every argument
    batched) or one ``0``/``None`` per argument (``None``: shared by the whole
    batch).  ``f`` is a compiled plan (:func:`matgrad.compile`), a transform
    (``mg.grad``, ``mg.jacobian``, ``mg.hessian``, ``mg.value_and_grad``), or a
    plain NumPy function (its value).  Each result gets the batch axis first.
    Runs on the arguments' array engine.

    >>> import numpy as np, matgrad as mg
    >>> Xs = np.stack([np.eye(2), 2 * np.eye(2)])
    >>> J = mg.vmap(mg.jacobian(np.linalg.inv))(Xs)
    >>> J.shape, float(J[1, 0, 0, 0, 0])  # d inv(X)/dX = -inv(X) ⊗ inv(X)ᵀ
    ((2, 2, 2, 2, 2), -0.25)
    """
    if isinstance(f, Batched):
        raise InvalidArgumentError("vmap of a vmap: batch over one axis, or reshape")
    if isinstance(f, (Compiled, CompiledTuple)):
        return vmap_plan(f, in_axes)
    if isinstance(f, _Transform):
        return _BatchedTransform(f, in_axes)
    if callable(f):
        return _BatchedFunction(f, in_axes)
    raise NotCallableError(f"vmap needs a compiled plan or a function, got {type(f).__name__}")


def _axes(in_axes: Any, n: int) -> tuple[bool, ...]:
    return batched_inputs(in_axes, n, "argument")


def _examples(args: Sequence[Any], flags: Sequence[bool]) -> list[Any]:
    """One batch entry's arguments as tracing sees them: shared arguments as they
    are, batched ones as zeros of an entry's shape and dtype."""
    out = []
    for k, (a, batched) in enumerate(zip(args, flags)):
        value = _argument(a, k)
        if batched:
            if len(value.shape) == 0:
                raise InvalidArgumentError(f"argument {k} is batched but has no axes")
            spec = _specs([value])[0]
            value = np.zeros(tuple(spec.shape)[1:], dtype=spec.dtype)
        out.append(value)
    return out


class _BatchedTransform:
    """A derivative transform over a batch: traced at an entry's shapes, run whole."""

    def __init__(self, transform: _Transform, in_axes: Any) -> None:
        self.transform = transform
        self.in_axes = in_axes

    def __call__(self, *args: Any) -> Any:
        t: Any = self.transform
        flags = _axes(self.in_axes, len(args))
        examples = _examples(args, flags)
        values, key, ((nums, single), _) = t._prepare(examples)
        # (a reusable trace's captured arrays follow the arguments: _compiled adds them)
        compiled, inputs = t._compiled(list(values[: len(args)]), key, nums)
        extra = inputs[len(args):]  # the arrays the trace captured, shared by the batch
        axes = [0 if b else None for b in flags] + [None] * len(extra)
        results = vmap_plan(compiled, axes)(*args, *extra)
        return t._finish(results, single)

    def __repr__(self) -> str:
        return f"<vmap of {self.transform.what} of {self.transform.fun!r}>"


class _BatchedFunction:
    """A plain function's value over a batch."""

    def __init__(self, fun: Callable[..., Any], in_axes: Any) -> None:
        self.fun = fun
        self.in_axes = in_axes
        self._plans: dict[Any, tuple[Compiled]] = {}

    def __call__(self, *args: Any) -> Any:
        flags = _axes(self.in_axes, len(args))
        examples = _examples(args, flags)
        traced = Traced(self.fun, _specs(examples), "vmap")
        key = (traced.out, traced.captured_symbols)
        hit = self._plans.get(key)
        if hit is None:
            hit = (compile(simplify(traced.out), traced.inputs),)
            self._plans = {key: hit}
        plan = hit[0]
        axes = [0 if b else None for b in flags] + [None] * len(traced.captured)
        return vmap_plan(plan, axes)(*args, *traced.captured)

"""Evaluating ``f`` for a stencil (:mod:`matgrad.numeric`): the distinct points a
scheme needs at ``x`` (:func:`_plan`) and the calls of ``f`` on them, one per point
or one batched call, with every result checked (:func:`_evaluate`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from matgrad._types import Array, FloatArray
from matgrad.errors import InvalidArgumentError, NonFiniteError, ShapeError
from matgrad.numeric.stencils import _entry, _Scheme

__all__ = ["Function"]

Function = Callable[[Any], Any]
"""A map from an array of shape ``S_in`` to something array-like of shape ``S_out``."""

_Key = tuple[tuple[int, float | complex], ...]  # a point: (flat index, new value) pairs
_IntArray = npt.NDArray[np.intp]
_Values = npt.NDArray[Any]  # float64 or complex128 values, internal arithmetic


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class _Plan:
    points: list[_Key]  # the distinct points to evaluate
    rows: _IntArray  # (levels, stencils, terms) -> index into points
    scale: FloatArray  # (levels, stencils): the product of the steps
    stencils: list[tuple[int, ...]]  # the flat input index (or pair) of each stencil


def _plan(x: FloatArray, scheme: _Scheme, steps: list[FloatArray], levels: int) -> _Plan:
    n, flat = x.size, x.ravel().tolist()
    stencils: list[tuple[int, ...]]
    if len(scheme.bases) == 1:
        stencils = [(i,) for i in range(n)]
    elif scheme.symmetric:
        stencils = [(i, j) for i in range(n) for j in range(i, n)]
    else:
        stencils = [(i, j) for i in range(n) for j in range(n)]
    index: dict[_Key, int] = {}
    rows = np.zeros((levels, len(stencils), len(scheme.terms)), dtype=np.intp)
    scale = np.ones((levels, len(stencils)))
    for level in range(levels):
        # Richardson halves from the base step; otherwise the last level is the step itself
        mult = 2.0 ** (-level if scheme.extrapolate else levels - 1 - level)
        for s, entries in enumerate(stencils):
            hs = [mult * float(steps[q][i]) for q, i in enumerate(entries)]
            scale[level, s] = math.prod(hs)
            for t, (coeffs, _) in enumerate(scheme.terms):
                moves: dict[int, complex] = {}
                for i, c, h in zip(entries, coeffs, hs):
                    moves[i] = moves.get(i, 0) + c * h
                key = tuple(sorted((i, flat[i] + d) for i, d in moves.items() if d != 0))
                rows[level, s, t] = index.setdefault(key, len(index))
    if not index:  # x has no entries: evaluate f once to learn the output shape
        index[()] = 0
    return _Plan(list(index), rows, scale, stencils)


def _where(key: _Key, x: FloatArray) -> str:
    if not key:
        return "the base point x"
    flat = x.ravel()
    moves = []
    for i, value in key:
        d = value - flat[i]
        text = f"{d.imag:+.3g}i" if isinstance(d, complex) and d.real == 0 else f"{d:+.3g}"
        moves.append(f"{_entry(np.unravel_index(i, x.shape))} moved by {text}")
    return "x with " + " and ".join(moves)


# --------------------------------------------------------------------------- evaluation


def _call(f: Function, arg: Array, complex_step: bool, where: str) -> Array:
    """One call of ``f``, with its result checked to be a numeric array."""
    if complex_step:
        try:
            with np.errstate(all="ignore"):
                out = f(arg)
        except Exception as err:  # any failure on complex input means: no complex support
            raise InvalidArgumentError(
                "method='complex' evaluates f at complex points x + i·h, but f does not support "
                f"complex input: at {where} it raised {type(err).__name__}: {err}"
            ) from err
    else:
        with np.errstate(all="ignore"):  # NaN and infinity are reported below, with the point
            out = f(arg)
    try:
        arr = np.asarray(out)
    except (TypeError, ValueError) as err:
        raise InvalidArgumentError(f"f must return an array of numbers; at {where}: {err}") from err
    if arr.dtype.kind not in "biufc":
        raise InvalidArgumentError(
            f"f must return numbers, but returned {type(out).__name__} of dtype {arr.dtype} "
            f"at {where}"
        )
    if complex_step and arr.dtype.kind != "c":
        raise InvalidArgumentError(
            "method='complex' evaluates f at complex points x + i·h, but f does not support "
            f"complex input: it returned real dtype {arr.dtype} at {where} (it drops the "
            "imaginary part, e.g. through abs, np.real, float() or a real-typed buffer)"
        )
    return arr


def _evaluate(
    f: Function, x: FloatArray, plan: _Plan, *, batched: bool, complex_step: bool, scalar: bool
) -> _Values:
    """``f`` at every planned point, stacked: shape ``(points,) + S_out``."""
    count = len(plan.points)
    flat = np.repeat(x.reshape(1, -1), count, axis=0).astype(
        np.complex128 if complex_step else np.float64
    )
    for k, key in enumerate(plan.points):
        for i, value in key:
            flat[k, i] = value
    stack = flat.reshape((count, *x.shape))
    if batched:
        values = _call(f, stack, complex_step, "the stacked points (batched call)")
        if values.ndim == 0 or values.shape[0] != count or (scalar and values.ndim != 1):
            wanted = f"({count},)" if scalar else f"({count}, ...)"
            raise ShapeError(
                f"batched f was called with {count} points stacked as shape {stack.shape} and "
                f"must return shape {wanted}, one result per point, but returned shape "
                f"{values.shape}"
            )
    else:
        results: list[Array] = []
        for k in range(count):
            where = _where(plan.points[k], x)
            out = _call(f, stack[k, ...], complex_step, where)
            if k == 0 and scalar and out.shape != ():
                raise ShapeError(
                    f"gradient needs a scalar-valued f, but f returns shape {out.shape}; "
                    "use jacobian for non-scalar f"
                )
            if k and out.shape != results[0].shape:
                raise ShapeError(
                    f"f returned shape {results[0].shape} at {_where(plan.points[0], x)} but "
                    f"shape {out.shape} at {where}; f must return one shape for all inputs"
                )
            results.append(out)
        values = np.stack(results)
    finite = np.isfinite(values.reshape(count, -1)).all(axis=1)
    if not finite.all():
        k = int(np.argmin(finite))
        bad = values[k][~np.isfinite(values[k])].flat[0]
        raise NonFiniteError(
            f"f returned a non-finite value ({bad}) at {_where(plan.points[k], x)}; "
            "is that point outside f's domain? (a smaller step= may help)"
        )
    if complex_step:
        return values.imag.astype(np.float64)
    return values.astype(np.complex128 if values.dtype.kind == "c" else np.float64)


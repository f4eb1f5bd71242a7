"""Timing and answer checking shared by every workload."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

REPEAT_TIME = 0.02
"""Each repeat runs the callable enough times to last about this long (seconds)."""


def median_time(fn: Callable[[], Any], *, repeats: int = 7, budget: float = 2.0) -> float:
    """Median seconds per call of ``fn`` after a warm-up call.

    Each of ``repeats`` repeats runs ``fn`` back to back for about
    :data:`REPEAT_TIME` seconds (at least once); slow callables get fewer repeats
    (never fewer than 3) so that one measurement stays near ``budget`` seconds.
    The garbage collector is off while timing, as in ``timeit``.
    """
    fn()  # warm-up: jit compilation, caches, first-touch page faults
    start = time.perf_counter()
    fn()
    single = max(time.perf_counter() - start, 1e-7)
    number = max(1, int(REPEAT_TIME / single))
    repeats = max(3, min(repeats, int(budget / (single * number))))
    enabled = gc.isenabled()
    gc.disable()
    try:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(number):
                fn()
            times.append((time.perf_counter() - start) / number)
    finally:
        if enabled:
            gc.enable()
    return statistics.median(times)


def compare_times(
    thunks: dict[str, Callable[[], Any]], *, repeats: int = 7, budget: float = 2.0
) -> dict[str, float]:
    """Median seconds per call of each thunk, measured in interleaved rounds.

    The machines are shared: measuring the systems one after another lets a
    change of load between them bias the ratios, so every round times each
    thunk once (a batch of calls lasting about :data:`REPEAT_TIME`), in a
    rotating order.  A thunk slower than ``budget / 3`` seconds a call is timed
    in fewer rounds (at least one).
    """
    plans: dict[str, tuple[Callable[[], Any], int, int]] = {}
    for name, fn in thunks.items():
        fn()  # warm-up: jit compilation, caches, first-touch page faults
        start = time.perf_counter()
        fn()
        single = max(time.perf_counter() - start, 1e-7)
        number = max(1, int(REPEAT_TIME / single))
        rounds = max(1 if single * 3 > budget else 3, min(repeats, int(budget / (single * number))))
        plans[name] = (fn, number, rounds)
    times: dict[str, list[float]] = {name: [] for name in plans}
    names = list(plans)
    enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(max(p[2] for p in plans.values())):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                fn, number, rounds = plans[name]
                if r >= rounds:
                    continue
                start = time.perf_counter()
                for _ in range(number):
                    fn()
                times[name].append((time.perf_counter() - start) / number)
    finally:
        if enabled:
            gc.enable()
    return {name: statistics.median(t) for name, t in times.items()}


def as_tuple(value: Any) -> tuple[np.ndarray, ...]:
    """A result (an array, or a tuple of arrays for several gradients) as NumPy arrays."""
    if isinstance(value, (tuple, list)):
        return tuple(np.asarray(v) for v in value)
    return (np.asarray(value),)


def relative_error(value: Any, reference: Any) -> float:
    """``‖value − reference‖ / ‖reference‖`` (Frobenius, over all parts); ``inf``
    when the shapes differ."""
    got, want = as_tuple(value), as_tuple(reference)
    if len(got) != len(want) or any(g.shape != w.shape for g, w in zip(got, want)):
        return float("inf")
    num = sum(float(np.sum(np.abs(g - w) ** 2)) for g, w in zip(got, want))
    den = sum(float(np.sum(np.abs(w) ** 2)) for w in want)
    return float(np.sqrt(num / den)) if den else float(np.sqrt(num))

"""W16 (BENCHMARKS.md): the function API on data captured by the closure.

The gradient of the logistic loss ``Σ log(1 + exp(−y ⊙ Xw))`` with ``X`` (rows ×
100) and ``y`` read from the closure, as users write it::

    g = mg.grad(lambda w: np.sum(np.log(1 + np.exp(-y * (X @ w)))))

against the closed form ``−Xᵀ(y ⊙ σ(−y ⊙ Xw))``.  Reported per size: the second
call's median time and its ratio to the closed form (timed in interleaved
rounds, as every workload), and the peak memory that the first call allocates
(tracemalloc; the data already exist, so a copy of them shows as a peak of about
the data's size) as a fraction of the data's size.

``--threshold`` also measures both sides of ``CAPTURE_THRESHOLD``: the same loss
with data just below it (constants) and just above it (captured inputs).

``--per-call`` measures what a call of ``mg.hvp``, ``mg.jvp`` and ``mg.vjp``
costs on a small logistic loss (200 × 10 data in the closure, a module-level
function, as a Newton-CG loop calls it) against its compiled plan alone and
against ``mg.hessian(f)(w) @ v``; and ``mg.grad`` of the same loss written as a
method of a model object, and as a ``functools.partial``, against ``mg.grad`` of
the function.

    python -m benchmarks.captured            # 10⁴ and 10⁵ rows
    python -m benchmarks.captured --full     # and 10⁶
"""

from __future__ import annotations

import argparse
import functools
import gc
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.timing import compare_times, relative_error

COLUMNS = 100
SIZES = (10_000, 100_000, 1_000_000)
DEFAULT_SIZES = (10_000, 100_000)
TOLERANCE = 1e-8


@dataclass
class CapturedResult:
    rows: int
    data_bytes: int
    closed: float
    second_call: float
    compiled: float | None
    first_call_peak: int
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.second_call / self.closed

    @property
    def memory_ratio(self) -> float:
        return self.first_call_peak / self.data_bytes


def logistic_data(rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``X`` (rows × 100), labels ``y`` in {−1, 1}, and a weight vector ``w``."""
    X = rng.standard_normal((rows, COLUMNS))
    y = np.where(rng.standard_normal(rows) > 0, 1.0, -1.0)
    w = rng.standard_normal(COLUMNS) / np.sqrt(COLUMNS)
    return X, y, w


def closed_form(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``−Xᵀ(y ⊙ σ(−y ⊙ Xw))``, σ the logistic function (as ``½(1 + tanh(t/2))``)."""
    s = 0.5 * (1.0 + np.tanh(-0.5 * (y * (X @ w))))
    return -(X.T @ (y * s))  # type: ignore[no-any-return]


def loss_gradient(X: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], Any]:
    """``mg.grad`` of the logistic loss with ``X`` and ``y`` in the closure."""
    import matgrad as mg

    return mg.grad(lambda w: np.sum(np.log(1 + np.exp(-y * (X @ w)))))


def run_size(rows: int, seed: int) -> CapturedResult:
    rng = np.random.default_rng(seed)
    X, y, w = logistic_data(rows, rng)
    data_bytes = X.nbytes + y.nbytes
    reference = closed_form(X, y, w)

    g = loss_gradient(X, y)
    gc.collect()
    tracemalloc.start()
    try:
        first = g(w)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    note = "" if relative_error(first, reference) <= TOLERANCE else "wrong answer"
    thunks: dict[str, Callable[[], Any]] = {
        "closed": lambda: closed_form(X, y, w),
        "api": lambda: g(w),
    }
    compiled = _compiled_call(g, w)
    if compiled is not None:
        thunks["compiled"] = compiled
    times = compare_times(thunks)
    return CapturedResult(rows, data_bytes, times["closed"], times["api"],
                          times.get("compiled"), peak, note)


def _compiled_call(g: Any, w: np.ndarray) -> Callable[[], Any] | None:
    """The compiled derivative that ``g`` cached, called directly with the arrays it
    passes (the captured data after the argument), or None."""
    cache = getattr(g, "_cache", None)
    if not cache:
        return None
    compiled = list(cache.values())[-1]
    captured = tuple(getattr(g, "last_captured", ()))
    return lambda: compiled(w, *captured)


def threshold_sides(seed: int) -> list[tuple[str, int, float, float, float]]:
    """The loss with data of just below and just above ``CAPTURE_THRESHOLD``
    entries: ``(side, entries, second call, closed form, ratio)``."""
    from matgrad.function_api.tracing import CAPTURE_THRESHOLD

    out = []
    for side, entries in (("constant", CAPTURE_THRESHOLD - COLUMNS),
                          ("captured", CAPTURE_THRESHOLD)):
        rows = entries // COLUMNS + (0 if side == "constant" else 1)
        X, y, w = logistic_data(rows, np.random.default_rng(seed))
        g = loss_gradient(X, y)
        if relative_error(g(w), closed_form(X, y, w)) > TOLERANCE:
            raise AssertionError(f"W16 {side} side: wrong answer")
        times = compare_times({"api": _bind(g, w), "closed": _bind(closed_form, X, y, w)})
        out.append((side, X.size, times["api"], times["closed"], times["api"] / times["closed"]))
    return out


def _bind(fn: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    return lambda: fn(*args)


def run_w16(sizes: Sequence[int], seed: int, log: Callable[[str], None]) -> list[CapturedResult]:
    results = []
    for rows in sizes:
        results.append(run_size(rows, seed))
        log(f"  W16 rows={rows}: timed")
    return results


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1e3:.3g} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.3g} µs"


def w16_table(results: Sequence[CapturedResult]) -> list[str]:
    lines = [
        "| rows × 100 | data | closed form | mg.grad(f)(w), 2nd call | ratio | compiled call "
        "| first call: peak allocated | peak / data |",
        "|" + " --- |" * 8,
    ]
    for r in results:
        lines.append(
            f"| {r.rows} | {r.data_bytes / 1e6:.3g} MB | {_ms(r.closed)} | {_ms(r.second_call)} "
            f"| {r.ratio:.2f}× | {_ms(r.compiled)} | {r.first_call_peak / 1e6:.3g} MB "
            f"| {r.memory_ratio:.3f}{' ' + r.note if r.note else ''} |"
        )
    return lines


def per_call(seed: int) -> list[tuple[str, float, float]]:
    """``(what, seconds per call, ratio to the compiled plan of mg.hvp)`` for the
    function API's ``hvp``, ``jvp`` and ``vjp`` on a small logistic loss."""
    import matgrad as mg
    from matgrad.function_api import transforms

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((200, 10))
    y = np.where(rng.standard_normal(200) > 0, 1.0, -1.0)
    w, v = rng.standard_normal(10), rng.standard_normal(10)

    def loss(w: Any) -> Any:
        return np.sum(np.logaddexp(0, -y * (X @ w)))

    class Model:  # the same loss as a method, the data attributes of the object
        def __init__(self) -> None:
            self.X, self.y = X, y

        def loss(self, w: Any) -> Any:
            return np.sum(np.logaddexp(0, -self.y * (self.X @ w)))

    expected = mg.hessian(loss)(w) @ v
    if relative_error(mg.hvp(loss, (w,), (v,)), expected) > TOLERANCE:
        raise AssertionError("mg.hvp disagrees with mg.hessian(f)(w) @ v")
    plan = [p for key, p in transforms._PLANS.items() if key[0] == "hvp"][-1]
    hessian = mg.hessian(loss)
    def loss_of(w: Any, X: Any, y: Any) -> Any:
        return np.sum(np.logaddexp(0, -y * (X @ w)))

    gradient, method = mg.grad(loss), mg.grad(Model().loss)
    given = mg.grad(functools.partial(loss_of, X=X, y=y))
    for other in (method, given):
        if relative_error(other(w), gradient(w)) > TOLERANCE:
            raise AssertionError("mg.grad of a method or a partial disagrees")
    times = compare_times({
        "mg.grad(loss)(w)": lambda: gradient(w),
        "mg.grad(model.loss)(w), a bound method": lambda: method(w),
        "mg.grad(partial(loss, X=X, y=y))(w)": lambda: given(w),
        "mg.hvp(loss, (w,), (v,))": lambda: mg.hvp(loss, (w,), (v,)),
        "mg.jvp(loss, (w,), (v,))": lambda: mg.jvp(loss, (w,), (v,)),
        "mg.vjp(loss, w) and its pullback": lambda: mg.vjp(loss, w)[1](np.ones(())),
        "mg.hessian(loss)(w) @ v": lambda: hessian(w) @ v,
        "mg.hvp of a closure made anew for each call":
            lambda: mg.hvp(lambda u: loss_of(u, X, y), (w,), (v,)),
        "mg.grad(f)(w) of a function made anew, its first call":
            lambda: mg.grad(lambda u: loss_of(u, X, y))(w),
        "the hvp's compiled plan": lambda: plan(w, v),
    })
    base = times["the hvp's compiled plan"]
    return [(name, t, t / base) for name, t in times.items()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.captured", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="also 10⁶ rows")
    parser.add_argument("--threshold", action="store_true",
                        help="also both sides of CAPTURE_THRESHOLD")
    parser.add_argument("--per-call", action="store_true",
                        help="also the per-call cost of mg.hvp, mg.jvp and mg.vjp")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0,
                        help="BLAS threads (default: as NumPy starts); 1 is steadier when busy")
    args = parser.parse_args(argv)
    if args.threads:
        from benchmarks.systems import limit_threads

        limit_threads(args.threads)
    results = run_w16(SIZES if args.full else DEFAULT_SIZES, args.seed, lambda m: None)
    print("\n".join(w16_table(results)))
    if args.threshold:
        print("\n| side | entries | mg.grad(f)(w), 2nd call | closed form | ratio |")
        print("| --- | --- | --- | --- | --- |")
        for side, entries, api, closed, ratio in threshold_sides(args.seed):
            print(f"| {side} | {entries} | {_ms(api)} | {_ms(closed)} | {ratio:.2f}× |")
    if args.per_call:
        print("\n| call (200 × 10 logistic loss) | time | ÷ the hvp's compiled plan |")
        print("| --- | --- | --- |")
        for name, seconds, ratio in per_call(args.seed):
            print(f"| {name} | {_ms(seconds)} | {ratio:.2f}× |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

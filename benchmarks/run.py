"""Run the benchmark workloads and print one table.

    python -m benchmarks.run                 # default sizes, every workload
    python -m benchmarks.run --full          # the full sizes of BENCHMARKS.md
    python -m benchmarks.run --only W3 W8    # some workloads
    python -m benchmarks.run --markdown out.md   # also write the tables as Markdown

For each workload and size: the closed form (the fastest of the hand-written
variants), matgrad's compiled derivative, and JAX / torch.func / autograd where
installed, each checked against the closed form before it is timed (a wrong
answer is reported, never timed).  Times are medians per call after warm-up;
ratios are to the closed form.  Also: matgrad's one-off cost (derive + simplify
+ compile), the function API's second call (``mg.grad(f)(x)``) against the
compiled derivative, growth exponents for W2, W4 and W6, W8 (numerical
Jacobians) and W16 (the function API on data captured by the closure,
``benchmarks.captured``).  On machines where ``OPENBLAS_CORETYPE`` is set, run with
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.run``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks.captured import DEFAULT_SIZES as W16_DEFAULT_SIZES
from benchmarks.captured import SIZES as W16_SIZES
from benchmarks.captured import CapturedResult, run_w16, w16_table
from benchmarks.numeric_bench import W8_SIZES, NumericResult, run_w8
from benchmarks.systems import (
    System,
    limit_threads,
    load_systems,
    machine_description,
    numpy_namespace,
    torch_namespace,
)
from benchmarks.timing import compare_times, relative_error
from benchmarks.workloads import WORKLOADS, Workload
from benchmarks.workloads_linalg import Unsupported

TOLERANCE = 1e-8
"""Largest relative (Frobenius) error against the closed form that counts as correct."""

AD_SYSTEMS = ("jax", "torch", "autograd")


@dataclass
class Timing:
    seconds: float | None = None
    variant: str = ""
    note: str = ""  # why there is no time (wrong answer, error, not installed)


@dataclass
class Row:
    workload: Workload
    size: Any
    closed: Timing = field(default_factory=Timing)
    matgrad: Timing = field(default_factory=Timing)
    build: float | None = None  # derive + simplify + compile, seconds
    derive: float | None = None
    api: float | None = None  # later calls of mg.grad(f)(...)
    api_compiled: float | None = None  # the compiled derivative, timed alongside
    api_closure: float | None = None
    direct_closure: float | None = None
    ad: dict[str, Timing] = field(default_factory=dict)

    def best_ad(self) -> tuple[str, float] | None:
        timed = [(k, t.seconds) for k, t in self.ad.items() if t.seconds is not None]
        if not timed:
            return None
        name, best = min(timed, key=lambda kv: kv[1])
        return name, best


# ---------------------------------------------------------------------------------------
# matgrad
# ---------------------------------------------------------------------------------------

_fresh = 0


def matgrad_build(wl: Workload, inputs: Sequence[np.ndarray]) -> tuple[Any, float, float]:
    """Derive, simplify and compile ``wl`` from scratch (fresh symbol names, empty
    contraction-path cache); returns ``(compiled, derive seconds, total seconds)``."""
    global _fresh
    import matgrad as mg
    from matgrad.compiler import kernels as _kernels

    _fresh += 1
    for cache in (_kernels.contraction, _kernels.candidate_paths, _kernels.flop_estimate):
        cache.cache_clear()
    start = time.perf_counter()
    symbols = [
        mg.Tensor(f"a{k}_{_fresh}", np.shape(a)) for k, a in enumerate(inputs)
    ]
    if wl.kind == "hvp":  # forward over reverse, as mg.hvp: the gradient's derivative along V
        from matgrad.calculus.diff import jvp_expr

        (k,) = wl.wrt
        f = wl.fn(numpy_namespace(np), *symbols[:-1])
        derivs = [jvp_expr(mg.derivative(f, symbols[k]), {symbols[k]: symbols[-1]})]
    else:
        f = wl.fn(numpy_namespace(np), *symbols)
        order = 2 if wl.kind == "hessian" else 1
        derivs = [mg.derivative(f, symbols[k], order=order) for k in wl.wrt]
    derived = time.perf_counter()
    compiled = mg.compile(derivs[0] if wl.single else derivs, symbols)
    done = time.perf_counter()
    return compiled, derived - start, done - start


def matgrad_api(wl: Workload) -> Callable[..., Any]:
    import matgrad as mg

    if wl.kind == "hvp":
        (k,) = wl.wrt
        ns_ = numpy_namespace(np)

        def hvp(*args: Any) -> Any:  # mg.hvp differentiates every primal: data in a closure
            primals, direction = args[:-1], args[-1]

            def f(w: Any) -> Any:
                return wl.fn(ns_, *primals[:k], w, *primals[k + 1 :])

            return mg.hvp(f, (primals[k],), (direction,))

        return hvp
    transform = {"grad": mg.grad, "jacobian": mg.jacobian, "hessian": mg.hessian}[wl.kind]
    ns = numpy_namespace(np)
    argnums = wl.wrt[0] if wl.single else wl.wrt
    fn = wl.fn  # read from the closure as users write it (the Workload has no guard)
    return transform(lambda *args: fn(ns, *args), argnums=argnums)


def matgrad_closure_api(wl: Workload, inputs: Sequence[np.ndarray]) -> tuple[Any, Any, Any]:
    """The function API as usually written: the non-differentiated inputs are
    arrays captured by a closure (constants of the traced expression).  Returns
    ``(transform, args, direct)``, ``direct`` the compiled derivative it caches."""
    import matgrad as mg

    ns = numpy_namespace(np)
    if wl.kind == "hvp":  # the data captured by the closure, as users write it
        (k,) = wl.wrt
        data = [a for j, a in enumerate(inputs[:-1]) if j != k]

        def closure_hvp(w: Any, v: Any) -> Any:
            def f(x: Any) -> Any:
                return wl.fn(ns, *data[:k], x, *data[k:])

            return mg.hvp(f, (w,), (v,))

        closure_hvp(inputs[k], inputs[-1])
        (plan,) = [p for key, p in _mg_plans().items() if key[0] == "hvp"][-1:]
        captured = _mg_captured()

        def direct_hvp(*a: Any) -> Any:
            return plan(*a, *captured)[0]

        return closure_hvp, [inputs[k], inputs[-1]], direct_hvp
    transform = {"grad": mg.grad, "jacobian": mg.jacobian, "hessian": mg.hessian}[wl.kind]
    wrt = tuple(wl.wrt)
    fixed = {k: a for k, a in enumerate(inputs) if k not in wl.wrt}
    fn, count = wl.fn, len(inputs)

    def f(*moving: Any) -> Any:
        args: list[Any] = [None] * count
        for k, v in zip(wrt, moving):
            args[k] = v
        for k, v in fixed.items():
            args[k] = v
        return fn(ns, *args)

    argnums = 0 if wl.single else tuple(range(len(wrt)))
    g = transform(f, argnums=argnums)
    args = [inputs[k] for k in wrt]
    g(*args)
    (compiled,) = g._cache.values()
    captured = tuple(getattr(g, "last_captured", ()))  # large data: inputs of the plan

    def direct(*a: Any) -> Any:
        results = compiled(*a, *captured)
        return results[0] if len(results) == 1 else results

    return g, args, direct


def _mg_plans() -> Any:
    from matgrad.function_api import transforms

    return transforms._PLANS


def _mg_captured() -> tuple[Any, ...]:
    """The arrays the last ``mg.hvp`` captured (passed to its plan after the arguments)."""
    from matgrad.function_api import transforms

    return tuple(getattr(transforms, "_LAST_CAPTURED", [()])[0])


# ---------------------------------------------------------------------------------------
# The AD systems
# ---------------------------------------------------------------------------------------


def ad_variants(system: System, wl: Workload, inputs: Sequence[np.ndarray]) -> dict[str, Any]:
    """Thunks computing the derivative with ``system``, one per variant."""
    if system.name == "jax":
        return _jax_variants(system.module, wl, inputs)
    if system.name == "torch":
        return _torch_variants(system.module, wl, inputs)
    return _autograd_variants(system.module, wl, inputs)


def _jax_variants(jax: Any, wl: Workload, inputs: Sequence[np.ndarray]) -> dict[str, Any]:
    import jax.numpy as jnp

    ns = numpy_namespace(jnp)
    args = [jnp.asarray(a) for a in inputs]
    argnums = wl.wrt[0] if wl.single else wl.wrt

    def f(*a: Any) -> Any:
        return wl.fn(ns, *a)

    if wl.kind == "hvp":
        (k,) = wl.wrt

        def hvp(*a: Any) -> Any:
            def gk(w: Any) -> Any:
                return jax.grad(f, argnums=k)(*a[:k], w, *a[k + 1 : -1])

            return jax.jvp(gk, (a[k],), (a[-1],))[1]

        jitted_hvp = jax.jit(hvp)
        return {"jit(jvp of grad)": lambda: jax.block_until_ready(jitted_hvp(*args))}
    transforms = {
        "grad": {"jit(grad)": jax.grad},
        "jacobian": {"jit(jacfwd)": jax.jacfwd, "jit(jacrev)": jax.jacrev},
        "hessian": {"jit(hessian)": jax.hessian},
    }[wl.kind]
    variants = {}
    for name, transform in transforms.items():
        jitted = jax.jit(transform(f, argnums=argnums))
        variants[name] = lambda jitted=jitted: jax.block_until_ready(jitted(*args))
    return variants


def _torch_variants(torch: Any, wl: Workload, inputs: Sequence[np.ndarray]) -> dict[str, Any]:
    import torch.func as tf

    ns = torch_namespace(torch)
    args = [torch.from_numpy(np.ascontiguousarray(a)) for a in inputs]
    argnums = wl.wrt[0] if wl.single else wl.wrt

    def f(*a: Any) -> Any:
        return wl.fn(ns, *a)

    if wl.kind == "hvp":
        (k,) = wl.wrt

        def hvp() -> Any:
            def gk(w: Any) -> Any:
                return tf.grad(f, argnums=k)(*args[:k], w, *args[k + 1 : -1])

            return tf.jvp(gk, (args[k],), (args[-1],))[1].numpy()

        return {"jvp of grad": hvp}
    transforms = {
        "grad": {"torch.func.grad": tf.grad},
        "jacobian": {"jacfwd": tf.jacfwd, "jacrev": tf.jacrev},
        "hessian": {"hessian": tf.hessian},
    }[wl.kind]
    variants = {}
    for name, transform in transforms.items():
        g = transform(f, argnums=argnums)

        def call(g: Any = g) -> Any:
            out = g(*args)
            if isinstance(out, tuple):
                return tuple(o.numpy() for o in out)
            return out.numpy()

        variants[name] = call
    return variants


def _autograd_variants(ag: Any, wl: Workload, inputs: Sequence[np.ndarray]) -> dict[str, Any]:
    import autograd.numpy as anp

    ns = numpy_namespace(anp)
    k = len(wl.wrt)
    if wl.kind == "hvp":
        (argnum,) = wl.wrt
        hvp = ag.hessian_vector_product(lambda *a: wl.fn(ns, *a), argnum)
        return {"autograd.hessian_vector_product": lambda: hvp(*inputs)}
    if wl.single:
        (argnum,) = wl.wrt

        def f(*a: Any) -> Any:
            return wl.fn(ns, *a)

        transform = {"grad": ag.grad, "jacobian": ag.jacobian, "hessian": ag.hessian}[wl.kind]
        g = transform(f, argnum)
        return {f"autograd.{wl.kind}": lambda: g(*inputs)}
    assert wl.wrt == tuple(range(k)) and wl.kind == "grad"

    def packed(params: Any, *rest: Any) -> Any:
        return wl.fn(ns, *params, *rest)

    gp = ag.grad(packed)
    params = tuple(inputs[:k])
    return {"autograd.grad": lambda: tuple(gp(params, *inputs[k:]))}


# ---------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------


def run_case(
    wl: Workload, size: Any, systems: dict[str, System], seed: int, log: Callable[[str], None]
) -> Row:
    rng = np.random.default_rng(seed)
    inputs = wl.inputs(size, rng)
    row = Row(wl, size)
    where = f"{wl.id} {wl.label(size)}"

    # Every candidate is run once and checked against the reference (the first
    # closed form) before anything is timed; wrong answers are never timed.
    reference = None
    thunks: dict[tuple[str, str], Callable[[], Any]] = {}
    for name, closed in wl.closed_forms.items():
        value = closed(*inputs)
        if reference is None:
            reference = value
        elif relative_error(value, reference) > TOLERANCE:
            raise AssertionError(f"{wl.id} closed form {name!r} disagrees with the first one")
        thunks["closed", name] = lambda closed=closed: closed(*inputs)

    try:
        builds = [matgrad_build(wl, inputs) for _ in range(3)]
    except Exception as exc:  # report, go on with the others
        row.matgrad = Timing(note=f"error: {type(exc).__name__}")
        log(f"  {where}: matgrad failed: {exc}")
        compiled = None
    else:
        compiled = _uncached(builds[-1][0], *inputs)
        row.derive = float(np.median([b[1] for b in builds]))
        row.build = float(np.median([b[2] for b in builds]))
        row.matgrad = _check(lambda: compiled(*inputs), reference, "compiled")
        if row.matgrad.note == "":
            thunks["matgrad", "compiled"] = lambda: compiled(*inputs)

    for name in AD_SYSTEMS:
        system = systems.get(name)
        if system is None:
            row.ad[name] = Timing(note="not installed")
            continue
        try:
            variants = ad_variants(system, wl, inputs)
        except Exception as exc:  # any failure is reported
            row.ad[name] = Timing(note=f"error: {exc!r}"[:60])
            continue
        row.ad[name] = Timing(note="wrong answer")
        for variant, thunk in variants.items():
            checked = _check(thunk, reference, variant)
            if checked.note == "":
                thunks[name, variant] = thunk
            elif name not in {k for k, _ in thunks}:
                row.ad[name] = checked
        log(f"  {where}: {name} checked")

    times = compare_times(thunks)
    closed_best = min(
        ((t, v) for (k, v), t in times.items() if k == "closed"), key=lambda tv: tv[0]
    )
    row.closed = Timing(closed_best[0], closed_best[1])
    if ("matgrad", "compiled") in times:
        row.matgrad = Timing(times["matgrad", "compiled"], "compiled")
    for name in AD_SYSTEMS:
        timed = [(t, v) for (k, v), t in times.items() if k == name]
        if timed:
            t, v = min(timed, key=lambda tv: tv[0])
            row.ad[name] = Timing(t, v)
    log(f"  {where}: timed")

    # The function API: later calls of mg.grad(f)(...), arguments and closure styles.
    if compiled is not None:
        api = _uncached(matgrad_api(wl), *inputs)
        g, args, direct = matgrad_closure_api(wl, inputs)
        g, direct = _uncached(g, *args), _uncached(direct, *args)
        api_thunks: dict[str, Callable[[], Any]] = {"compiled": lambda: compiled(*inputs)}
        if relative_error(api(*inputs), reference) <= TOLERANCE:
            api_thunks["api"] = lambda: api(*inputs)
        if relative_error(g(*args), reference) <= TOLERANCE:
            api_thunks["closure"] = lambda: g(*args)
            api_thunks["direct"] = lambda: direct(*args)
        api_times = compare_times(api_thunks)
        row.api_compiled = api_times["compiled"]
        row.api = api_times.get("api")
        row.api_closure = api_times.get("closure")
        row.direct_closure = api_times.get("direct")
        log(f"  {where}: function API timed")
    return row


def _uncached(compiled: Any, *probe: Any) -> Callable[..., Any]:
    """``compiled`` with matgrad's decomposition cache emptied before each call: the
    cache shares one ``eigh``/``svd``/``qr`` among the nodes of one evaluation, but
    it also keeps the last few decompositions across calls, and timing repeated
    calls on the same input would time a cache hit, not the derivative.  When one
    call on ``probe`` leaves the cache empty (the plan decomposes nothing), the
    plan is timed bare: the wrapper costs about 0.5 µs a call, a third of W2's
    closed form at n = 10."""
    from matgrad.ops.spectral_numerics import DECOMPOSITIONS

    if probe:
        DECOMPOSITIONS.clear()
        try:
            compiled(*probe)
        except Exception:  # the caller's check reports it
            pass
        if not DECOMPOSITIONS._items:
            return compiled  # type: ignore[no-any-return]

    def call(*args: Any) -> Any:
        DECOMPOSITIONS.clear()
        return compiled(*args)

    return call


def _check(thunk: Callable[[], Any], reference: Any, variant: str) -> Timing:
    """An empty note if ``thunk`` computes ``reference``; else why not."""
    try:
        value = thunk()
    except Unsupported:
        return Timing(variant=variant, note="unsupported")
    except Exception as exc:  # report, never time
        return Timing(variant=variant, note=f"error: {type(exc).__name__}")
    error = relative_error(value, reference)
    if not error <= TOLERANCE:
        return Timing(variant=variant, note=f"wrong (rel. error {error:.1e})")
    return Timing(variant=variant)


# ---------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def fmt_ratio(r: float | None) -> str:
    if r is None or not math.isfinite(r):
        return "—"
    return f"{r:.2f}×" if r < 10 else f"{r:.0f}×"


def _cell(t: Timing, closed: float | None) -> str:
    if t.seconds is None:
        return t.note or "—"
    ratio = t.seconds / closed if closed else None
    return f"{fmt_time(t.seconds)} ({fmt_ratio(ratio)})"


def main_table(rows: list[Row]) -> list[str]:
    header = (
        "| id | size | closed form | matgrad | JAX | torch.func | autograd "
        "| matgrad ÷ best AD | derive+compile |"
    )
    lines = [header, "|" + " --- |" * 9]
    for row in rows:
        c = row.closed.seconds
        best = row.best_ad()
        vs_best = (
            f"{fmt_ratio(row.matgrad.seconds / best[1])} ({best[0]})"
            if best and row.matgrad.seconds
            else "—"
        )
        cells = [
            row.workload.id,
            row.workload.label(row.size),
            f"{fmt_time(c)} [{row.closed.variant}]",
            _cell(row.matgrad, c),
            *(_cell(row.ad.get(name, Timing(note="—")), c) for name in AD_SYSTEMS),
            vs_best,
            fmt_time(row.build),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def api_table(rows: list[Row]) -> list[str]:
    lines = [
        "| id | size | compiled call | mg.grad(f)(*args), 2nd call | ratio "
        "| closure-style 2nd call | its compiled call | ratio |",
        "|" + " --- |" * 8,
    ]
    for row in rows:
        m = row.api_compiled
        r1 = row.api / m if row.api and m else None
        r2 = (
            row.api_closure / row.direct_closure
            if row.api_closure and row.direct_closure
            else None
        )
        lines.append(
            "| "
            + " | ".join(
                [
                    row.workload.id,
                    row.workload.label(row.size),
                    fmt_time(m),
                    fmt_time(row.api),
                    fmt_ratio(r1),
                    fmt_time(row.api_closure),
                    fmt_time(row.direct_closure),
                    fmt_ratio(r2),
                ]
            )
            + " |"
        )
    return lines


def growth_table(rows: list[Row]) -> list[str]:
    lines = ["| id | sizes | closed form | matgrad | JAX | torch.func | autograd |",
             "|" + " --- |" * 7]
    by_id: dict[str, list[Row]] = {}
    for row in rows:
        if row.workload.growth:
            by_id.setdefault(row.workload.id, []).append(row)
    for wid, group in by_id.items():
        if len(group) < 2:
            continue
        a, b = group[-2], group[-1]
        na, nb = a.workload.scale(a.size), b.workload.scale(b.size)

        def exponent(ta: float | None, tb: float | None, na: int = na, nb: int = nb) -> str:
            if not ta or not tb:
                return "—"
            return f"{math.log(tb / ta) / math.log(nb / na):.2f}"

        cells = [
            wid,
            f"n={na}→{nb}",
            exponent(a.closed.seconds, b.closed.seconds),
            exponent(a.matgrad.seconds, b.matgrad.seconds),
            *(
                exponent(a.ad.get(s, Timing()).seconds, b.ad.get(s, Timing()).seconds)
                for s in AD_SYSTEMS
            ),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def numeric_table(results: list[NumericResult]) -> list[str]:
    lines = ["| n | method | time | rel. error vs exact |", "| --- | --- | --- | --- |"]
    for r in results:
        err = f"{r.error:.1e}" if r.error is not None else r.note
        lines.append(f"| {r.n} | {r.method} | {fmt_time(r.seconds)} | {err} |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="the full sizes of BENCHMARKS.md")
    parser.add_argument("--only", nargs="+", metavar="ID",
                        help="workloads to run (W1 ... W16; W9 includes W9-HVP)")
    parser.add_argument("--skip", nargs="+", default=[], metavar="SYSTEM",
                        help="AD systems to leave out (jax, torch, autograd)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="threads for BLAS, XLA and PyTorch (default: all cores); "
                        "1 gives steadier numbers on a busy machine")
    parser.add_argument("--markdown", metavar="FILE", help="also write the tables to FILE")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    special = ("W8", "W16")
    wanted = [w.upper() for w in args.only] if args.only else [*WORKLOADS, *special]
    wanted += [w for w in WORKLOADS if w.partition("-")[0] in wanted and w not in wanted]
    unknown = [w for w in wanted if w not in WORKLOADS and w not in special]
    if unknown:
        parser.error(f"unknown workloads: {', '.join(unknown)}")
    limit_threads(args.threads)
    systems = load_systems(frozenset(args.skip))
    started = time.perf_counter()
    rows: list[Row] = []
    for wid in wanted:
        if wid in special:
            continue
        wl = WORKLOADS[wid]
        for size in wl.sizes if args.full else wl.default_sizes:
            rows.append(run_case(wl, size, systems, args.seed, log))
    numeric = run_w8(W8_SIZES, args.seed, log) if "W8" in wanted else []
    captured: list[CapturedResult] = []
    if "W16" in wanted:
        captured = run_w16(W16_SIZES if args.full else W16_DEFAULT_SIZES, args.seed, log)
    elapsed = time.perf_counter() - started

    out: list[str] = ["## Machine", ""]
    out += [f"- {line}" for line in machine_description(systems, args.threads)]
    out += [f"- sizes: {'full' if args.full else 'default'}; run took {elapsed:.0f} s", ""]
    if rows:
        out += ["## Derivatives: median time per call (ratio to the closed form)", ""]
        out += [*main_table(rows), ""]
        out += ["## The function API: second call against the compiled derivative", ""]
        out += [*api_table(rows), ""]
        growth = growth_table(rows)
        if len(growth) > 2:
            out += ["## Growth exponents (fitted from the two largest sizes)", ""]
            out += [*growth, ""]
    if numeric:
        out += ["## W8: numerical Jacobian of X⁻¹ (time, error against the exact Jacobian)", ""]
        out += [*numeric_table(numeric), ""]
    if captured:
        out += ["## W16: logistic-loss gradient, data captured by the closure "
                "(second call; first call's peak allocation)", ""]
        out += [*w16_table(captured), ""]
    text = "\n".join(out)
    print(text)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

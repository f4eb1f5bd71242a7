"""W17 and W18 (BENCHMARKS.md), and the same compiled plan on PyTorch and JAX.

``cluster`` (W17): the logistic-loss gradient and Hessian-vector product of one
compiled matgrad plan on a Dask ``LocalCluster`` of 2 workers × 3 GB, one
thread each, over ``rows × 100`` float64 data: persisted on the workers when it
fits (4·10⁶ rows, 3.2 GB), generated chunk by chunk on every pass when it does
not (2·10⁷ rows, 16 GB).  Reported: seconds per pass, nanoseconds per row, tasks
in the graph, the peak resident memory of each worker (sampled every 0.1 s),
and whether any worker was paused, restarted or lost.  Against: NumPy in
memory on the part that fits (10⁶ rows) in a separate process, on one BLAS
thread and on two, per row; and the same loss written by hand in Dask.

``engines``: the compiled gradient and Hessian-vector product on torch and JAX
CPU tensors against the engines' own autodiff (``torch.func``, ``jax.grad`` /
``jax.jvp`` of ``jax.grad``, jitted), 10⁵ × 100.

``batched`` (W18): Jacobians of the inverses of a batch of 5×5 matrices with
``mg.vmap(mg.jacobian(np.linalg.inv))``, against a Python loop of
``mg.jacobian`` and ``jax.jit(jax.vmap(jax.jacfwd(inv)))``.

    python -m benchmarks.scaling cluster [--rows 4000000 20000000]
    python -m benchmarks.scaling engines
    python -m benchmarks.scaling batched
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import matgrad as mg
from benchmarks.timing import median_time

COLUMNS = 100
CHUNK_ROWS = 200_000


def loss(w: Any, X: Any, y: Any) -> Any:
    """The logistic loss as users write it."""
    return np.sum(np.logaddexp(0, -y * (X @ w)))


# ---- W17: Dask on a LocalCluster ------------------------------------------------------


def _data(rows: int, seed: int = 0) -> tuple[Any, Any]:
    import dask.array as da

    rng = da.random.default_rng(seed)
    X = rng.standard_normal((rows, COLUMNS), chunks=(CHUNK_ROWS, COLUMNS))
    truth = np.linspace(-1, 1, COLUMNS)
    y = da.sign(X @ truth + rng.standard_normal(rows, chunks=CHUNK_ROWS))
    return X, y


class _PeakMemory:
    """Samples each worker's resident memory in the background."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        def rss() -> int:
            return int(psutil.Process().memory_info().rss)

        while not self._stop.is_set():
            try:
                for worker, value in self.client.run(rss).items():
                    self.peak[worker] = max(self.peak.get(worker, 0), value)
            except Exception:  # a worker going away shows in the event check
                pass
            self._stop.wait(0.1)

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def _troubles(client: Any) -> list[str]:
    """Log lines of the workers and scheduler about pausing, spilling or losing workers."""
    words = ("paus", "restart", "killed", "lost", "exceeded", "spill")
    lines = []
    for logs in [*client.get_worker_logs().values(), client.get_scheduler_logs()]:
        for _, line in logs:
            if any(w in line.lower() for w in words):
                lines.append(line)
    return lines


def _workloads(X: Any, y: Any) -> list[tuple[str, Callable[[], Any]]]:
    """The lazy results each pass computes: matgrad's plan and the loss by hand."""
    import dask.array as da

    w = np.full(COLUMNS, 0.01)
    v = np.linspace(1, 2, COLUMNS)
    grad = mg.grad(loss)
    return [
        ("gradient", lambda: grad(w, X, y)),
        ("hvp", lambda: mg.hvp(loss, (w, X, y), (v,), argnums=0)),
        ("gradient by hand", lambda: X.T @ (-y / (1 + da.exp(y * (X @ w))))),
        ("newton step", lambda: da.linalg.solve(mg.hessian(loss)(w, X, y), grad(w, X, y))),
    ]


def cluster(rows_list: Sequence[int], passes: int = 3) -> list[dict[str, Any]]:
    from distributed import Client, LocalCluster, wait

    results = []
    with LocalCluster(n_workers=2, threads_per_worker=1, memory_limit="3GB",
                      dashboard_address=None) as lc, Client(lc) as client:
        for rows in rows_list:
            X, y = _data(rows)
            fits = rows * COLUMNS * 8 <= 0.6 * 2 * 3e9
            if fits:
                X, y = client.persist([X, y])
                wait([X, y])
            for what, build in _workloads(X, y):
                lazy = build()
                tasks = len(lazy.__dask_graph__())
                times = []
                with _PeakMemory(client) as memory:
                    for _ in range(passes):
                        start = time.perf_counter()
                        value = np.asarray(client.compute(build()).result())
                        times.append(time.perf_counter() - start)
                best = min(times)
                results.append({
                    "rows": rows, "workload": what, "persisted": fits,
                    "seconds": best, "ns_per_row": 1e9 * best / rows, "tasks": tasks,
                    "peak_worker_gb": [round(m / 1e9, 2) for m in memory.peak.values()],
                    "workers": len(client.scheduler_info()["workers"]),
                    "norm": float(np.linalg.norm(value)),
                })
                print(json.dumps(results[-1]), flush=True)
            if fits:
                del X, y
                client.run(lambda: __import__("gc").collect())
        results.append({"troubles": _troubles(client)})
        print(json.dumps(results[-1]), flush=True)
    return results


def numpy_in_memory(rows: int, threads: int) -> dict[str, Any]:
    """Per-row time of the closed-form gradient and of the compiled plan on NumPy
    (run in a child process: one BLAS configuration per process)."""
    code = f"""
import json, time, numpy as np, matgrad as mg
from threadpoolctl import threadpool_limits
from benchmarks.scaling import loss
from benchmarks.timing import median_time
rng = np.random.default_rng(0)
X = rng.standard_normal(({rows}, {COLUMNS})); y = np.sign(X @ np.linspace(-1, 1, {COLUMNS}))
w = np.full({COLUMNS}, 0.01); v = np.linspace(1, 2, {COLUMNS})
with threadpool_limits({threads}):
    g = mg.grad(loss)
    t_plan = median_time(lambda: g(w, X, y), repeats=5)
    t_hand = median_time(lambda: X.T @ (-y / (1 + np.exp(y * (X @ w)))), repeats=5)
    t_hvp = median_time(lambda: mg.hvp(loss, (w, X, y), (v,), argnums=0), repeats=5)
print(json.dumps({{"rows": {rows}, "threads": {threads},
                  "plan_ns_per_row": 1e9 * t_plan / {rows},
                  "hand_ns_per_row": 1e9 * t_hand / {rows},
                  "hvp_ns_per_row": 1e9 * t_hvp / {rows}}}))
"""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps(result), flush=True)
    return result


# ---- torch and JAX CPU: the compiled plan against the engines' own autodiff ------------


def engines(rows: int = 100_000) -> list[dict[str, Any]]:
    import jax
    import torch

    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(0)
    X0 = rng.standard_normal((rows, COLUMNS))
    y0 = np.sign(X0 @ np.linspace(-1, 1, COLUMNS))
    w0 = np.full(COLUMNS, 0.01)
    v0 = np.linspace(1, 2, COLUMNS)
    results = []

    def torch_loss(w: Any, X: Any, y: Any) -> Any:
        return torch.nn.functional.softplus(-y * (X @ w)).sum()

    Xt, yt, wt, vt = (torch.tensor(a) for a in (X0, y0, w0, v0))
    tgrad = torch.func.grad(torch_loss)
    cases: list[tuple[str, str, Callable[[], Any]]] = [
        ("torch", "gradient: matgrad plan", lambda: mg.grad(loss)(wt, Xt, yt)),
        ("torch", "gradient: torch.func.grad", lambda: tgrad(wt, Xt, yt)),
        ("torch", "hvp: matgrad plan", lambda: mg.hvp(loss, (wt, Xt, yt), (vt,), argnums=0)),
        ("torch", "hvp: torch.func.jvp of grad",
         lambda: torch.func.jvp(lambda w: tgrad(w, Xt, yt), (wt,), (vt,))[1]),
    ]
    jnp = jax.numpy
    Xj, yj, wj, vj = (jnp.asarray(a) for a in (X0, y0, w0, v0))

    def jax_loss(w: Any, X: Any, y: Any) -> Any:
        return jnp.sum(jnp.logaddexp(0, -y * (X @ w)))

    jgrad = jax.jit(jax.grad(jax_loss))
    jhvp = jax.jit(lambda w, X, y, v: jax.jvp(lambda w: jax.grad(jax_loss)(w, X, y), (w,), (v,))[1])
    cases += [
        ("jax", "gradient: matgrad plan",
         lambda: mg.grad(loss)(wj, Xj, yj).block_until_ready()),
        ("jax", "gradient: jax.jit(jax.grad)", lambda: jgrad(wj, Xj, yj).block_until_ready()),
        ("jax", "hvp: matgrad plan",
         lambda: mg.hvp(loss, (wj, Xj, yj), (vj,), argnums=0).block_until_ready()),
        ("jax", "hvp: jax.jit(jvp of grad)",
         lambda: jhvp(wj, Xj, yj, vj).block_until_ready()),
    ]
    for engine, what, fn in cases:
        fn()
        t = median_time(fn, repeats=7)
        results.append({"engine": engine, "case": what, "rows": rows, "ms": 1e3 * t})
        print(json.dumps(results[-1]), flush=True)
    return results


# ---- W18: batched Jacobians --------------------------------------------------------------


def batched(sizes: Sequence[int] = (100, 1000, 10_000)) -> list[dict[str, Any]]:
    import jax

    jax.config.update("jax_enable_x64", True)
    results = []
    jac = mg.jacobian(np.linalg.inv)
    batch = mg.vmap(jac)
    jf = jax.jit(jax.vmap(jax.jacfwd(jax.numpy.linalg.inv)))
    for n in sizes:
        results.append(_batch_of(n, jac, batch, jf))
        print(json.dumps(results[-1]), flush=True)
    return results


def _batch_of(n: int, jac: Any, batch: Any, jf: Any) -> dict[str, Any]:
    import jax

    rng = np.random.default_rng(n)
    Xs = rng.standard_normal((n, 5, 5)) + 4 * np.eye(5)
    Xj = jax.numpy.asarray(Xs)
    inv = np.linalg.inv(Xs)
    by_hand = -np.einsum("bik,blj->bijkl", inv, inv)
    got = batch(Xs)
    err = float(np.max(np.abs(got - by_hand)) / np.max(np.abs(by_hand)))
    t_vmap = median_time(lambda: batch(Xs), repeats=5)
    t_loop = median_time(lambda: [jac(x) for x in Xs], repeats=3)
    t_jax = median_time(lambda: jf(Xj).block_until_ready(), repeats=5)
    return {"batch": n, "vmap_ms": 1e3 * t_vmap, "loop_ms": 1e3 * t_loop,
            "jax_ms": 1e3 * t_jax, "vs_loop": t_loop / t_vmap,
            "vs_jax": t_jax / t_vmap, "rel_error": err}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["cluster", "numpy", "engines", "batched"])
    parser.add_argument("--rows", type=int, nargs="*", default=None)
    args = parser.parse_args(argv)
    if args.what == "cluster":
        cluster(args.rows or [4_000_000, 20_000_000])
    elif args.what == "numpy":
        for threads in (1, 2):
            numpy_in_memory((args.rows or [1_000_000])[0], threads)
    elif args.what == "engines":
        engines((args.rows or [100_000])[0])
    else:
        batched(args.rows or (100, 1000, 10_000))


if __name__ == "__main__":
    main()

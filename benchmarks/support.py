"""Which operations run on which array engine: every spec-table sample's value,
first derivative and batched value (``mg.vmap``, two entries) on torch, JAX and
Dask, compared with the NumPy plan.  Prints the Markdown table of
docs/scaling.md ("Operations on each engine").

    python -m benchmarks.support
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from typing import Any

import numpy as np

import matgrad as mg
from matgrad.ir.expr import symbol
from matgrad.language.claims import random_values
from matgrad.ops import registry
from matgrad.testing.opspec import operation_specs


def _engines() -> dict[str, tuple[Any, Any]]:
    import dask
    import dask.array as da
    import jax
    import torch

    jax.config.update("jax_enable_x64", True)
    dask.config.set(scheduler="sync")
    return {
        "torch": (torch.tensor, lambda t: t.numpy()),
        "jax": (jax.numpy.asarray, np.asarray),
        "dask": (lambda a: da.from_array(a, chunks=2), lambda x: np.asarray(x.compute())),
    }


def _status(run: Any, want: Any) -> str:
    """Run now (the callers' lambdas read their loop variables at once)."""
    try:
        got = run()
    except Exception as exc:  # the table reports it
        return "no" if "has no kernel" in str(exc) else f"error ({type(exc).__name__})"
    ok = np.allclose(got, want, rtol=1e-8, atol=1e-9, equal_nan=True)
    return "yes" if ok else "WRONG"


def table() -> str:
    engines = _engines()
    op_of = {s.name: op for op in registry.operations() for s in op.samples}
    cells: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for spec in operation_specs():
        op = op_of.get(spec.name)
        if op is None:
            continue
        syms = [symbol(f"a{k}", s) for k, s in enumerate(spec.shapes(3, 2))]
        f = spec.build(*syms)
        spd = [f"a{k}" for k, d in enumerate(spec.domains) if d == "spd"]
        try:
            draws = [random_values([f], seed=s, spd=spd, extra=syms) for s in (1, 2)]
        except Exception:
            continue
        for k, d in enumerate(spec.domains):
            if d == "symmetric":
                for v in draws:
                    a = v[f"a{k}"]
                    v[f"a{k}"] = a + a.T + np.diag(np.arange(a.shape[0]) * 2.0)
        for what, expr in (("value", f), ("derivative", mg.derivative(f, syms[0]))):
            plan = mg.compile(expr, syms)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    want = plan(**draws[0])
                    rest = [draws[0][s.name] for s in syms[1:]]
                    batch_want = np.stack([plan(d["a0"], *rest) for d in draws])
                except Exception:
                    continue
                batch = np.stack([d["a0"] for d in draws])
                axes = [0] + [None] * len(rest)
                for name, (to, back) in engines.items():
                    status = _status(
                        lambda: back(plan(**{k: to(v) for k, v in draws[0].items()})),  # noqa: B023
                        want)
                    cells[(op.family, op.name, f"{name} {what}")].add(status)
                    status = _status(
                        lambda: back(mg.vmap(plan, axes)(to(batch), *map(to, rest))),  # noqa: B023
                        batch_want)
                    cells[(op.family, op.name, f"{name} batched")].add(status)
    columns = [f"{e} {w}" for e in engines for w in ("value", "derivative", "batched")]
    everywhere: dict[str, list[str]] = defaultdict(list)
    lines = ["| family | operation | " + " | ".join(columns) + " |",
             "| --- | --- | " + " | ".join("---" for _ in columns) + " |"]
    for family, name in sorted({(f, n) for f, n, _ in cells}):
        found = [cells.get((family, name, c), set()) for c in columns]
        if all(f == {"yes"} for f in found):
            everywhere[family].append(f"`{name}`")
            continue
        row = [" / ".join(sorted(f)) if f else "–" for f in found]
        lines.append(f"| {family} | `{name}` | " + " | ".join(row) + " |")
    summary = [f"- {family}: {', '.join(names)}" for family, names in sorted(everywhere.items())]
    return (
        "Value, first derivative and batched value right on torch, JAX and Dask:\n\n"
        + "\n".join(summary) + "\n\nThe others (yes: right; no: refused by name when the "
        "plan is built; –: not measured):\n\n" + "\n".join(lines)
    )


if __name__ == "__main__":
    print(table())

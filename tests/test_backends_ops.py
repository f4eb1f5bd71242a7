"""Every spec-table sample of the algebraic core and of the entrywise, indexing,
reduction and ordering families — its value and first derivative — on PyTorch,
JAX (one sample per operation) and Dask, and batched
(``mg.vmap``) on NumPy, against the NumPy plan (itself checked against numerical
differentiation by the spec-table tests).  The linear-algebra families are in
``test_backends_linalg.py``."""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import pytest

import matgrad as mg
from matgrad.ir.expr import symbol
from matgrad.language.claims import random_values
from matgrad.ops import registry
from matgrad.testing.opspec import core_specs, operation_specs

FAMILIES = {
    "elementwise", "binary", "special", "rounding", "piecewise", "reductions", "softmax",
    "indexing", "structure", "ordering",
}
SPECS = [
    spec for op in registry.operations() if op.family in FAMILIES
    for spec in operation_specs() if spec.name in {s.name for s in op.samples}
]
CORE = {spec.name for spec in core_specs()}  # einsum, sums, transposes, deltas, ...
SPECS += list(core_specs())
FULL = bool(os.environ.get("MATGRAD_FULL_BACKENDS"))
JAX_OPERATIONS = 25
"""Operations checked on JAX in the default run (JAX compiles each primitive at
each new shape on its first eager call); ``MATGRAD_FULL_BACKENDS=1`` checks all."""


def _cases() -> list[tuple[str, Any, Any, dict[str, np.ndarray], list[Any]]]:
    cases = []
    for spec in SPECS:
        syms = [symbol(f"a{k}", s) for k, s in enumerate(spec.shapes(3, 2))]
        f = spec.build(*syms)
        draws = [random_values([f], seed=seed, extra=syms) for seed in (1, 2)]
        cases.append((spec.name, syms, f, draws[0], draws))
    return cases


CASES = _cases()


def _engine(name: str) -> tuple[Any, Any]:
    pytest.importorskip("array_api_compat")
    if name == "torch":
        torch = pytest.importorskip("torch")
        return torch.tensor, lambda t: t.numpy()
    if name == "jax":
        jax = pytest.importorskip("jax")
        jax.config.update("jax_enable_x64", True)
        return jax.numpy.asarray, np.asarray
    da = pytest.importorskip("dask.array")
    return (lambda a: da.from_array(a, chunks=2)), (lambda x: x.compute(scheduler="sync"))


@pytest.mark.parametrize("name", ["torch", "jax", "dask"])
def test_every_sample_on_the_engine(name: str) -> None:
    to, back = _engine(name)
    failures = []
    seen: set[str] = set()
    for label, syms, f, values, _ in CASES:
        op = label.split("-")[0]
        if name == "jax" and (op in seen or label in CORE or (
                not FULL and len(seen) >= JAX_OPERATIONS)):
            continue  # JAX compiles a kernel per operation and shape: a few by default
        seen.add(op)
        for order in (0, 1):
            expr = f if order == 0 else mg.derivative(f, syms[0])
            plan = mg.compile(expr, syms)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                want = plan(**values)
                try:
                    got = back(plan(**{k: to(v) for k, v in values.items()}))
                except Exception as exc:  # collected and reported below
                    failures.append(f"{label} order {order}: {type(exc).__name__}: {exc}")
                    continue
            if not np.allclose(got, want, rtol=1e-9, atol=1e-10, equal_nan=True):
                failures.append(f"{label} order {order}: off by {np.nanmax(abs(got - want))}")
    assert not failures, "\n".join(failures)


def test_every_sample_batched_on_numpy() -> None:
    """A batch of two draws of the first operand, the others shared."""
    failures = []
    for label, syms, f, _, draws in CASES:
        for order in (0, 1):
            expr = f if order == 0 else mg.derivative(f, syms[0])
            plan = mg.compile(expr, syms)
            rest = [draws[0][s.name] for s in syms[1:]]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                want = np.stack([plan(d["a0"], *rest) for d in draws])
                batch = np.stack([d["a0"] for d in draws])
                got = mg.vmap(plan, in_axes=[0] + [None] * len(rest))(batch, *rest)
            if not np.allclose(got, want, rtol=1e-9, atol=1e-10, equal_nan=True):
                failures.append(f"{label} order {order}")
    assert not failures, "\n".join(failures)

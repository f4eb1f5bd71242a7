"""The linear-algebra operations on torch, JAX and Dask (issue 15): each operation's
portable kernel (``Operation.array_api``) gives the NumPy plan's value, first
derivative and (where cheap) second derivative on every engine, and a batched plan
(``mg.vmap``) gives a loop of NumPy calls.  The expected values are the NumPy plan's
— an independent implementation (LAPACK through NumPy/SciPy, the NumPy kernels) —
at spec-table samples (valid inputs from ``random_values``).  Each engine skips when
it is not installed."""

from __future__ import annotations

import functools
import os
import warnings
from typing import Any

import numpy as np
import pytest
from gpu_engines import gpus

import matgrad as mg
from matgrad.compiler import compile as mg_compile
from matgrad.errors import DegenerateSpectrumError, UnsupportedOperationError
from matgrad.ir.expr import symbol
from matgrad.language.claims import random_values
from matgrad.ops import registry
from matgrad.testing.opspec import OpSpec, sample_spec

FAMILIES = ("linalg", "decompositions", "triangular", "spectral", "singular", "eig",
            "symmetric_functions", "matfuncs")
"""The families whose portable kernels this module checks."""

SECOND_ORDER = {"inv", "det", "logdet", "adj", "cholesky", "eigh_values", "svd_values",
                "eig_values", "eigh_function", "expm"}
"""Operations whose second derivative is also compared (cheap to compile at n = 3)."""

ENGINES = ("torch", "jax", "dask")

REFUSED = {
    "torch": {"logm", "sqrtm", "fractional_matrix_power"},
    "jax": {"logm", "fractional_matrix_power"},
    "cupy": {"logm", "sqrtm", "fractional_matrix_power", "eig_values", "eig_vectors",
             "eig_left"},
}
"""Operations (and the Fréchet derivatives of the matrix functions) an engine has no
routine for: refused there by name; Dask runs their NumPy kernels lazily."""


def _refused(name: str, engine: str) -> bool:
    return name.removeprefix("frechet_") in REFUSED.get(engine, set())


JAX_DEFAULT = {"inv", "det_minors", "cholesky", "solve_triangular", "eigh_vectors",
               "eigh_frechet1", "svd_u", "eig_vectors", "sinm", "logm"}
"""The operations (one or two per family) checked on JAX in the default run: JAX
compiles every primitive at every new shape on its first eager call, which makes
the whole table take minutes; ``MATGRAD_FULL_BACKENDS=1`` checks all of them."""


JAX_BATCHED = {"inv", "eigh_vectors", "svd_u"}
"""The operations checked batched on JAX in the default run."""


def _skip_slow(name: str, spec: OpSpec, engine: str, selected: set[str] = JAX_DEFAULT) -> None:
    if engine == "jax" and not os.environ.get("MATGRAD_FULL_BACKENDS"):
        first = registry.operation(name).samples[0].name == spec.name
        if name not in selected or not first:
            pytest.skip("JAX: in the full run only (MATGRAD_FULL_BACKENDS=1)")




def _specs() -> list[tuple[str, OpSpec]]:
    out = []
    for op in registry.operations():
        if op.family in FAMILIES and op.array_api is not None:
            out += [(op.name, sample_spec(op, sample)) for sample in op.samples]
    return out


SPECS = _specs()


def _engine(name: str) -> Any:
    """``to(array) -> engine array`` and ``back(value) -> NumPy``; skips if missing."""
    if name == "torch":
        torch = pytest.importorskip("torch")
        return (lambda a: torch.tensor(np.asarray(a)),
                lambda v: v.detach().cpu().numpy())
    if name == "jax":
        jax = pytest.importorskip("jax")
        jax.config.update("jax_enable_x64", True)
        return jax.numpy.asarray, np.asarray
    pytest.importorskip("dask.array")
    import dask
    import dask.array as da

    def back(v: Any) -> Any:
        assert isinstance(v, da.Array)  # lazy until computed
        with dask.config.set(scheduler="synchronous"):
            return np.asarray(v.compute())

    return (lambda a: da.from_array(np.asarray(a), chunks=2)), back


@functools.cache
def _problem(spec: OpSpec, seed: int) -> tuple[Any, list[Any], dict[str, Any]]:
    shapes = spec.shapes(3, 2)
    syms = [symbol(f"a{k}", s) for k, s in enumerate(shapes)]
    f = spec.build(*syms)
    spd = [f"a{k}" for k, d in enumerate(spec.domains) if d == "spd"]
    vals = random_values([f], seed=seed, spd=spd, extra=syms)
    for k, d in enumerate(spec.domains):
        if d == "symmetric":
            a = vals[f"a{k}"]
            vals[f"a{k}"] = a + a.T + np.diag(np.arange(a.shape[0]) * 2.0)
    return f, syms, vals


@functools.cache
def _program(spec: OpSpec, orders: tuple[int, ...]) -> Any:
    """The value and derivatives of ``orders`` in the first operand, planned together
    (shared by the engines)."""
    f, syms, _ = _problem(spec, 1)
    exprs = []
    for order in range(max(orders) + 1):
        if order in orders:
            exprs.append(f)
        f = mg.derivative(f, syms[0])
    return mg_compile(exprs, syms)


def _close(got: Any, ref: Any, order: int) -> None:
    tol = 1e-7 if order < 2 else 1e-6
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * 1e-2 * max(1.0, np.abs(ref).max()))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("name", "spec"), SPECS, ids=[s.name for _, s in SPECS])
def test_value_and_derivatives_match_numpy(name: str, spec: OpSpec, engine: str) -> None:
    _skip_slow(name, spec, engine)
    to, back = _engine(engine)
    vals = _problem(spec, 1)[2]
    orders = (0, 1, 2) if name in SECOND_ORDER and 2 in spec.orders else (0, 1)
    program = _program(spec, orders)
    if _refused(name, engine):
        with pytest.raises(UnsupportedOperationError, match=name):
            program(**{k: to(v) for k, v in vals.items()})
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refs = program(**vals)
        gots = program(**{k: to(v) for k, v in vals.items()})
    for order, ref, got in zip(orders, refs, gots):
        got = back(got)
        assert got.shape == ref.shape
        _close(got, ref, order)


@pytest.mark.parametrize("engine", ("numpy", *ENGINES))
@pytest.mark.parametrize(("name", "spec"), SPECS, ids=[s.name for _, s in SPECS])
def test_batched_first_derivative_matches_a_loop(name: str, spec: OpSpec, engine: str) -> None:
    if _refused(name, engine):
        pytest.skip(f"{name} has no kernel on {engine} (checked above)")
    _skip_slow(name, spec, engine, JAX_BATCHED)
    if engine != "numpy" and not os.environ.get("MATGRAD_FULL_BACKENDS"):
        if registry.operation(name).samples[0].name != spec.name:
            pytest.skip("batched on an engine: one sample per operation by default "
                        "(MATGRAD_FULL_BACKENDS=1 for all)")
    if engine == "numpy":
        to, back = np.asarray, np.asarray
    else:
        to, back = _engine(engine)
    first, second = _problem(spec, 1)[2], _problem(spec, 2)[2]
    program = _program(spec, (0, 1))
    batch = {k: to(np.stack([first[k], second[k]])) for k in first}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refs = [np.stack(pair) for pair in zip(program(**first), program(**second))]
        gots = mg.vmap(program)(**batch)
    for order, ref, got in zip((0, 1), refs, gots):
        _close(back(got), ref, order)


def _no_compute(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a Dask graph was computed before .compute()")


@pytest.mark.parametrize(("name", "spec"), SPECS, ids=[s.name for _, s in SPECS])
def test_dask_plans_stay_lazy(name: str, spec: OpSpec) -> None:
    """Building the value and first derivative on Dask arrays computes nothing (the
    checks for ties and domains included): a scheduler that fails is in force."""
    to, _ = _engine("dask")
    import dask

    vals = _problem(spec, 1)[2]
    program = _program(spec, (0, 1))
    with dask.config.set(scheduler=_no_compute), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = program(**{k: to(v) for k, v in vals.items()})
        batched = mg.vmap(program)(**{k: to(np.stack([v, v])) for k, v in vals.items()})
    assert all(type(v).__module__.startswith("dask") for v in (*out, *batched))


# ---- errors where NumPy raises ---------------------------------------------------------


def test_eigenvector_derivative_at_a_tie_raises_on_every_engine() -> None:
    a = symbol("A", (3, 3))
    program = mg_compile(mg.derivative(registry.operation("eigh_vectors")(a), a), [a])
    tie = np.diag([1.0, 1.0, 2.0])
    with pytest.raises(DegenerateSpectrumError):
        program(A=tie)
    for engine in ENGINES:
        to, back = _engine(engine)
        with pytest.raises(DegenerateSpectrumError):
            back(program(A=to(tie)))


def test_dask_checks_ties_only_when_computed() -> None:
    da = pytest.importorskip("dask.array")
    a = symbol("A", (3, 3))
    program = mg_compile(mg.derivative(registry.operation("eigh_vectors")(a), a), [a])
    lazy = program(A=da.from_array(np.diag([1.0, 1.0, 2.0])))  # no error yet: lazy
    assert isinstance(lazy, da.Array)
    with pytest.raises(DegenerateSpectrumError):
        _engine("dask")[1](lazy)


def test_singular_inverse_raises_on_jax_as_numpy_does() -> None:
    to, back = _engine("jax")
    a = symbol("A", (2, 2))
    program = mg_compile(registry.operation("inv")(a), [a])
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(np.linalg.LinAlgError):
        program(A=singular)
    with pytest.raises(np.linalg.LinAlgError):
        back(program(A=to(singular)))


def test_every_operation_of_the_families_is_covered() -> None:
    """Every operation of these families has a portable kernel hook (which may decline
    an engine: then Dask runs the NumPy kernel lazily and the others refuse it)."""
    missing = [op.name for op in registry.operations()
               if op.family in FAMILIES and op.array_api is None]
    assert missing == []


@pytest.mark.gpu
def test_on_a_gpu() -> None:
    """Where a GPU is: the first sample of every operation, value and first derivative,
    on CUDA tensors and CuPy arrays, results on the device (spec samples are invariant
    to eigen/singular vector signs, which GPU solvers may choose differently).  CuPy has
    no general eigensolver and no logm/sqrtm: those are refused by name."""
    engines = gpus()
    if not engines:
        pytest.skip("no GPU here (torch.cuda unavailable, no CuPy device)")
    for engine, to, back in engines:
        for name, spec in SPECS:
            if registry.operation(name).samples[0].name != spec.name:
                continue
            vals = _problem(spec, 1)[2]
            program = _program(spec, (0, 1))
            if _refused(name, engine):
                with pytest.raises(UnsupportedOperationError):
                    program(**{k: to(v) for k, v in vals.items()})
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                refs, gots = program(**vals), program(**{k: to(v) for k, v in vals.items()})
            for order, ref, got in zip((0, 1), refs, gots):
                _close(back(got), ref, order)

"""The optional systems compared against matgrad: JAX, PyTorch (``torch.func``) and
autograd.  Each is imported only if installed; a missing one is skipped."""

from __future__ import annotations

import importlib
import os
import platform
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np


@dataclass
class System:
    name: str
    module: Any
    version: str


def _try(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except Exception:  # any failure means "not available"
        return None


_LIMITS: list[Any] = []  # keeps threadpoolctl's limit in force


def limit_threads(threads: int) -> None:
    """Run BLAS (NumPy, SciPy, autograd), XLA and PyTorch on ``threads`` threads,
    and the process on ``threads`` cores.  Call before :func:`load_systems`: XLA
    reads its flags, and sizes its thread pool by the cores the process may run
    on, when JAX starts.  The affinity is what holds XLA to it: with the flags
    alone, JAX 0.10 ran a 128×1024 by 1024×1024 product on two cores here (1.9 s
    of processor time per second) while the other systems ran on one."""
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, cores[: max(1, threads)])
    if threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = (
            flags + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        ).strip()
    tp = _try("threadpoolctl")
    if tp is not None:
        _LIMITS.append(tp.threadpool_limits(limits=threads))
    torch = _try("torch")
    if torch is not None:
        torch.set_num_threads(threads)


def load_systems(skip: frozenset[str] = frozenset()) -> dict[str, System]:
    """The installed AD systems, configured for float64 CPU benchmarking."""
    found: dict[str, System] = {}
    if "jax" not in skip:
        jax = _try("jax")
        if jax is not None:
            jax.config.update("jax_enable_x64", True)
            jax.config.update("jax_platforms", "cpu")
            found["jax"] = System("jax", jax, jax.__version__)
    if "torch" not in skip:
        torch = _try("torch")
        if torch is not None and _try("torch.func") is not None:
            found["torch"] = System("torch", torch, torch.__version__)
    if "autograd" not in skip:
        ag = _try("autograd")
        if ag is not None:
            version = getattr(ag, "__version__", None)
            if version is None:
                from importlib.metadata import version as dist_version

                version = dist_version("autograd")
            found["autograd"] = System("autograd", ag, version)
    return found


def _unsupported(system: str, name: str) -> Any:
    from benchmarks.workloads_linalg import Unsupported

    def missing(*args: Any, **kwargs: Any) -> Any:
        raise Unsupported(f"{system} has no differentiable {name}")

    return missing


def _scipy_linalg(np_module: Any) -> tuple[Any, Any]:
    """``(expm, solve_triangular)`` for the system of ``np_module``: SciPy's
    functions convert their arguments with ``np.asarray``, so matgrad traces its
    own (``mg.expm``, ``mg.solve_triangular``), JAX has ``jax.scipy.linalg``, and
    autograd has ``solve_triangular`` but no ``expm``."""
    name = getattr(np_module, "__name__", "")
    if name.startswith("jax"):
        import jax.scipy.linalg as jsl

        return jsl.expm, jsl.solve_triangular
    if name.startswith("autograd"):
        import autograd.scipy.linalg as asl

        return _unsupported("autograd", "expm"), asl.solve_triangular
    import matgrad as mg

    return mg.expm, mg.solve_triangular


def numpy_namespace(np_module: Any) -> SimpleNamespace:
    """The few array functions the workloads use, from a NumPy-like module
    (NumPy itself — traced by matgrad —, ``jax.numpy`` or ``autograd.numpy``)."""
    expm, solve_triangular = _scipy_linalg(np_module)
    return SimpleNamespace(
        trace=np_module.trace,
        inv=np_module.linalg.inv,
        logdet=lambda X: np_module.linalg.slogdet(X)[1],
        tanh=np_module.tanh,
        exp=np_module.exp,
        log=np_module.log,
        sum=np_module.sum,
        max=np_module.max,
        maximum=np_module.maximum,
        eigh=np_module.linalg.eigh,
        cholesky=np_module.linalg.cholesky,
        norm=np_module.linalg.norm,
        eye=np_module.eye,
        # a matrix's diagonal, as autograd can differentiate it (its make_diagonal
        # takes only axis1=-1, axis2=-2)
        diagonal=lambda a: np_module.diagonal(a, axis1=-1, axis2=-2),
        expm=expm,
        solve_triangular=solve_triangular,
    )


def torch_namespace(torch: Any) -> SimpleNamespace:
    def solve_triangular(a: Any, b: Any, lower: bool = False) -> Any:
        column = b.ndim == 1
        x = torch.linalg.solve_triangular(a, b[:, None] if column else b, upper=not lower)
        return x[:, 0] if column else x

    def reduce(fn: Any) -> Any:
        def apply(x: Any, axis: int | None = None, keepdims: bool = False) -> Any:
            return fn(x) if axis is None else fn(x, dim=axis, keepdim=keepdims)

        return apply

    return SimpleNamespace(
        trace=torch.trace,
        inv=torch.linalg.inv,
        logdet=lambda X: torch.linalg.slogdet(X)[1],
        tanh=torch.tanh,
        exp=torch.exp,
        log=torch.log,
        sum=reduce(torch.sum),
        max=reduce(torch.amax),
        maximum=lambda a, b: torch.clamp(a, min=b) if isinstance(b, float) else torch.maximum(a, b),
        eigh=torch.linalg.eigh,
        cholesky=torch.linalg.cholesky,
        norm=lambda X, ord=None: torch.linalg.matrix_norm(X, ord),
        eye=lambda n: torch.eye(n, dtype=torch.float64),
        diagonal=torch.diagonal,
        expm=torch.linalg.matrix_exp,
        solve_triangular=solve_triangular,
    )


def machine_description(systems: dict[str, System], threads: int) -> list[str]:
    """Lines describing the machine and the software measured."""
    import opt_einsum
    import scipy

    lines = [
        f"Python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPU cores ({_cpu_model()})",
        f"NumPy {np.__version__}, SciPy {scipy.__version__}, opt_einsum {opt_einsum.__version__}",
    ]
    blas = _blas()
    if blas:
        lines.append(f"BLAS: {blas}")
    lines.append(f"threads per system: {threads} (BLAS, XLA, PyTorch intra-op)"
                 + (f"; the process pinned to {len(os.sched_getaffinity(0))} core(s)"
                    if hasattr(os, "sched_getaffinity") else ""))
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    lines.append(
        "OPENBLAS_CORETYPE: " + (f"set to {coretype}" if coretype else "not set")
    )
    for name in ("jax", "torch", "autograd"):
        system = systems.get(name)
        lines.append(f"{name}: " + (system.version if system else "not installed (skipped)"))
    nd = _try("numdifftools")
    lines.append("numdifftools: " + (nd.__version__ if nd else "not installed (skipped)"))
    return lines


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _blas() -> str:
    tp = _try("threadpoolctl")
    if tp is None:
        return ""
    parts = []
    for info in tp.threadpool_info():
        if info.get("user_api") == "blas" and "numpy" in info.get("filepath", ""):
            parts.append(
                f"{info.get('internal_api')} {info.get('version')}, kernel "
                f"{info.get('architecture')}, {info.get('num_threads')} threads"
            )
    return "; ".join(parts)

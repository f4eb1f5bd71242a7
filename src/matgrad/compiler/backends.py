"""Array engines a compiled plan runs on: NumPy, Dask, PyTorch, JAX, CuPy (layer 4,
private to ``matgrad.compiler``).

A :class:`Namespace` is what the portable plan (:mod:`matgrad.compiler.portable`)
and the operations' portable kernels (``Operation.array_api``) call: the array
API functions of the engine (through ``array-api-compat``), ``einsum`` through
opt_einsum with the engine's name, a ``linalg`` table that fills the engine's
gaps, and ``special`` for the special functions.  Each engine is imported only
when it is used; a missing one raises an error naming the extra to install.

>>> ns = namespace("numpy")
>>> float(ns.einsum("i,i->", ns.asarray([1.0, 2.0]), ns.asarray([3.0, 4.0])))
11.0
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import opt_einsum

from matgrad.errors import InvalidArgumentError, MissingDependencyError

__all__ = ["BACKENDS", "Namespace", "infer_backend", "namespace"]

BACKENDS = ("numpy", "dask", "torch", "jax", "cupy")
"""The engines ``backend=`` accepts (with ``"auto"``: infer from the inputs)."""

_EXTRA = {"dask": "dask", "torch": "torch", "jax": "jax", "cupy": "cupy"}
_ROOT = {"dask": "dask", "torch": "torch", "jax": "jax", "jaxlib": "jax", "cupy": "cupy"}


def infer_backend(values: Sequence[Any]) -> str:
    """The engine of the input arrays: the top-level module of their type
    (``numpy`` for NumPy arrays, Python numbers and lists); mixing two engines
    other than NumPy is refused."""
    found = "numpy"
    for v in values:
        root = _ROOT.get(type(v).__module__.partition(".")[0])
        if root is None:
            continue
        if found not in ("numpy", root):
            raise InvalidArgumentError(
                f"inputs on two array engines ({found} and {root}); convert them to one, "
                "or pass backend= to say which"
            )
        found = root
    return found


def _import(module: str, backend: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = _EXTRA.get(backend, backend)
        raise MissingDependencyError(
            f"backend={backend!r} needs {module.partition('.')[0]}, which is not installed: "
            f"pip install 'matgrad[{extra}]' ({exc})"
        ) from None


@functools.lru_cache(maxsize=1024)
def _expression(subscripts: str, shapes: tuple[tuple[int, ...], ...]) -> Any:
    return opt_einsum.contract_expression(subscripts, *shapes, optimize="auto")


class Namespace:
    """One engine's functions, as the portable plan and kernels call them."""

    name = "numpy"
    jit_errors: tuple[type[BaseException], ...] = ()
    """What a compiled run raises where a kernel reads values (then it runs eagerly)."""
    runtime_errors: tuple[type[BaseException], ...] = ()
    """What a compiled run raises where a check inside it failed (then that call
    runs eagerly, raising matgrad's error)."""

    def __init__(self) -> None:
        self.xp: Any = np
        self.linalg = _Linalg(self)

    # ---- arrays -------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        """Array API functions (``exp``, ``where``, ``sum``, ...) of the engine."""
        return getattr(self.xp, name)

    def owns(self, value: Any) -> bool:
        """Whether ``value`` is an array of this engine."""
        return isinstance(value, np.ndarray)

    def asarray(self, value: Any, like: Any = None) -> Any:
        """``value`` (a NumPy array, constant of the plan) as an array of this
        engine, on the device and in the floating precision of ``like``."""
        return np.asarray(value)

    def input(self, value: Any) -> Any:
        """An argument as an array of this engine (NumPy arrays are moved in)."""
        if self.owns(value):
            return value
        return self.asarray(np.asarray(value))

    def key(self, key: tuple[Any, ...], like: Any) -> tuple[Any, ...]:
        """An indexing key (slices, ints, None, NumPy index arrays) for this engine."""
        return key

    def take(self, x: Any, key: tuple[Any, ...]) -> Any:
        """``x[key]`` with NumPy's meaning."""
        return x[self.key(key, x)]

    def scatter_add(self, shape: tuple[int, ...], key: tuple[Any, ...], c: Any,
                    unique: bool) -> Any:
        """Zeros of ``shape`` with ``c`` added at ``key`` (assigned when ``unique``:
        no position selected twice)."""
        z = np.zeros(shape, dtype=c.dtype)
        if unique:
            z[key] = c
        else:
            np.add.at(z, key, c)
        return z

    def einsum(self, subscripts: str, *arrays: Any) -> Any:
        """A contraction in opt_einsum's order, by the engine's own routines."""
        shapes = tuple(tuple(int(n) for n in a.shape) for a in arrays)
        return _expression(subscripts, shapes)(*arrays, backend=self.name)

    def jit(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` (a whole plan's run) compiled by the engine where it compiles
        (JAX: ``jax.jit``); else as is."""
        return fn

    def stack_map(self, fn: Callable[..., Any], arrays: Sequence[Any], batched: Sequence[bool],
                  size: int) -> Any:
        """``fn`` applied to each batch entry (a Python loop), stacked on axis 0."""
        items = [
            fn(*(a[k] if b else a for a, b in zip(arrays, batched))) for k in range(size)
        ]
        return self.xp.stack(items)

    def elementwise(self, fn: Callable[..., Any], *arrays: Any, dtype: Any = None) -> Any:
        """A NumPy entrywise function on this engine's arrays, where the engine can run
        NumPy code on its own chunks (Dask); ``None`` where it cannot."""
        return fn(*arrays) if self.name == "numpy" else None

    def special(self, name: str) -> Callable[..., Any]:
        """A function of ``scipy.special`` (``erf``, ``gammaln``, ...) on this engine."""
        import scipy.special

        return getattr(scipy.special, name)  # type: ignore[no-any-return]

    def to_host(self, value: Any) -> Any:
        """A NumPy copy of ``value``, for a check only (never to compute with)."""
        return np.asarray(value)

    def checked(self, check: Callable[[Any], None], value: Any, core: int) -> Any:
        """``value``, after ``check`` (which raises) ran on each of its blocks of the
        last ``core`` axes as a NumPy array: here and now, or on Dask inside the lazy
        graph (when the value is computed)."""
        _check_each(check, self.to_host(value), core)
        return value

    def __repr__(self) -> str:
        return f"<matgrad backend {self.name}>"


def _check_each(check: Callable[[Any], None], value: Any, core: int) -> Any:
    value = np.asarray(value)
    lead = value.shape[: value.ndim - core]
    for index in np.ndindex(*lead):
        check(value[index])
    return value


class _Linalg:
    """``numpy.linalg``-style functions on an engine, batched over leading axes."""

    def __init__(self, ns: Namespace) -> None:
        self.ns = ns

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ns.xp.linalg, name)

    def expm(self, a: Any) -> Any:
        """The matrix exponential of each matrix of a stack (SciPy's; cupyx's on CuPy)."""
        module = "cupyx.scipy.linalg" if self.ns.name == "cupy" else "scipy.linalg"
        return importlib.import_module(module).expm(a)

    def slogdet(self, a: Any) -> tuple[Any, Any]:
        sign, logabs = self.ns.xp.linalg.slogdet(a)
        return sign, logabs

    def solve_triangular(self, a: Any, b: Any, lower: bool) -> Any:
        sl = importlib.import_module(
            "cupyx.scipy.linalg" if self.ns.name == "cupy" else "scipy.linalg")
        if a.ndim == 2:
            return sl.solve_triangular(a, b, lower=lower)
        return self.ns.xp.stack([sl.solve_triangular(x, y, lower=lower) for x, y in zip(a, b)])


# ---- Dask ---------------------------------------------------------------------------


class _Dask(Namespace):
    name = "dask"

    def __init__(self) -> None:
        super().__init__()
        self.da = _import("dask.array", "dask")
        self.xp = _import("array_api_compat.dask.array", "dask")
        self.linalg = _DaskLinalg(self)

    def owns(self, value: Any) -> bool:
        return isinstance(value, self.da.Array)

    def asarray(self, value: Any, like: Any = None) -> Any:
        value = np.asarray(value)
        if like is not None and value.dtype.kind == "f" and like.dtype.kind == "f":
            value = value.astype(like.dtype, copy=False)
        return self.da.from_array(value, chunks=-1)

    def input(self, value: Any) -> Any:
        if self.owns(value):
            return value
        return self.da.from_array(np.asarray(value))  # Dask's automatic chunks

    def elementwise(self, fn: Callable[..., Any], *arrays: Any, dtype: Any = None) -> Any:
        # NumPy code runs chunk by chunk on the workers; the result stays lazy
        arrays = tuple(a if self.owns(a) else self.asarray(a) for a in arrays)
        if dtype is None:
            dtype = np.result_type(*(a.dtype for a in arrays))
        nd = max(a.ndim for a in arrays)
        pairs: list[Any] = []
        for a in arrays:  # trailing axes aligned, as broadcasting does
            pairs += [a, tuple(range(nd - a.ndim, nd))]
        return self.da.blockwise(fn, tuple(range(nd)), *pairs, dtype=dtype)

    scatter_add = None  # type: ignore[assignment]  # the NumPy kernel runs as one lazy task

    def take(self, x: Any, key: tuple[Any, ...]) -> Any:
        if sum(isinstance(k, np.ndarray) for k in key) < 2:
            return x[key]
        flat = flat_positions(tuple(x.shape), key)
        return self.da.reshape(self.da.reshape(x, (-1,))[flat.reshape(-1)], flat.shape)

    def special(self, name: str) -> Callable[..., Any]:
        fn = super().special(name)

        def run(*xs: Any) -> Any:
            # Python numbers (polygamma's order) stay arguments, not arrays
            lead = [x for x in xs if isinstance(x, (int, float))]
            arrays = xs[len(lead):]
            return self.elementwise(lambda *a: fn(*lead, *a), *arrays)

        return run

    def checked(self, check: Callable[[Any], None], value: Any, core: int) -> Any:
        whole = value.rechunk({k: -1 for k in range(value.ndim - core, value.ndim)})
        return whole.map_blocks(functools.partial(_check_each, check, core=core),
                                dtype=value.dtype)

    def stack_map(self, fn: Callable[..., Any], arrays: Sequence[Any], batched: Sequence[bool],
                  size: int) -> Any:
        return self.da.stack([
            fn(*(a[k] if b else a for a, b in zip(arrays, batched))) for k in range(size)
        ])


class _DaskLinalg(_Linalg):
    """Dask has no ``slogdet``, ``det``, ``eigh``, ``pinv`` (and its ``inv``,
    ``solve``, ``cholesky`` are 2-D only): every routine runs NumPy's on the
    small matrices left after contraction, as a lazy generalized ufunc over
    one chunk per matrix."""

    def _gufunc(self, fn: Callable[..., Any], signature: str, *arrays: Any,
                outputs: int = 1, dtype: Any = None) -> Any:
        ns = self.ns
        assert isinstance(ns, _Dask)
        arrays = tuple(a if ns.owns(a) else ns.asarray(a) for a in arrays)
        ins = signature.split("->")[0].replace("),(", ");(").split(";")
        ncores = [core.count(",") + 1 if core.strip("()") else 0 for core in ins]
        loops = [a.chunks[: a.ndim - nc] for a, nc in zip(arrays, ncores)]
        widest = max(loops, key=len)
        fixed = []
        for a, nc, loop in zip(arrays, ncores, loops):
            # one chunk per matrix; loop (batch) axes chunked alike, aligned at the end
            chunks = {k: -1 for k in range(a.ndim - nc, a.ndim)}
            for k, c in enumerate(loop):
                w = widest[len(widest) - len(loop) + k]
                chunks[k] = w if sum(w) == sum(c) and sum(c) != 1 else c
            fixed.append(a.rechunk(chunks))
        if dtype is None:
            dtype = np.result_type(*(a.dtype for a in arrays))
        dtypes = (dtype,) * outputs if outputs > 1 else dtype
        return ns.da.apply_gufunc(fn, signature, *fixed, output_dtypes=dtypes,
                                  allow_rechunk=False)

    def slogdet(self, a: Any) -> tuple[Any, Any]:
        sign, logabs = self._gufunc(np.linalg.slogdet, "(n,n)->(),()", a, outputs=2)
        return sign, logabs

    def det(self, a: Any) -> Any:
        return self._gufunc(np.linalg.det, "(n,n)->()", a)

    def inv(self, a: Any) -> Any:
        return self._gufunc(np.linalg.inv, "(n,n)->(n,n)", a)

    def solve(self, a: Any, b: Any) -> Any:
        if b.ndim == a.ndim - 1:
            return self._gufunc(_solve_vector, "(n,n),(n)->(n)", a, b)
        return self._gufunc(np.linalg.solve, "(n,n),(n,k)->(n,k)", a, b)

    def cholesky(self, a: Any) -> Any:
        return self._gufunc(np.linalg.cholesky, "(n,n)->(n,n)", a)

    def eigh(self, a: Any) -> tuple[Any, Any]:
        w, v = self._gufunc(np.linalg.eigh, "(n,n)->(n),(n,n)", a, outputs=2)
        return w, v

    def eigvalsh(self, a: Any) -> Any:
        return self._gufunc(np.linalg.eigvalsh, "(n,n)->(n)", a)

    def pinv(self, a: Any, rtol: Any = None) -> Any:
        return self._gufunc(lambda x: np.linalg.pinv(x, rcond=rtol or 1e-15), "(m,n)->(n,m)", a)

    def svd(self, a: Any, full_matrices: bool = False) -> tuple[Any, Any, Any]:
        k = "m" if a.shape[-2] <= a.shape[-1] else "n"  # min(m, n): no new core size
        sig = f"(m,n)->(m,{k}),({k}),({k},n)"
        if full_matrices:
            sig = f"(m,n)->(m,m),({k}),(n,n)"
        u, s, vh = self._gufunc(
            lambda x: np.linalg.svd(x, full_matrices=full_matrices), sig, a, outputs=3
        )
        return u, s, vh

    def expm(self, a: Any) -> Any:
        import scipy.linalg

        return self._gufunc(scipy.linalg.expm, "(n,n)->(n,n)", a)

    def svdvals(self, a: Any) -> Any:
        k = "m" if a.shape[-2] <= a.shape[-1] else "n"
        return self._gufunc(lambda x: np.linalg.svd(x, compute_uv=False), f"(m,n)->({k})", a)

    def qr(self, a: Any, mode: Any = "reduced") -> tuple[Any, Any]:
        k = "m" if mode == "complete" or a.shape[-2] <= a.shape[-1] else "n"
        q, r = self._gufunc(lambda x: tuple(np.linalg.qr(x, mode=mode)),
                            f"(m,n)->(m,{k}),({k},n)", a, outputs=2)
        return q, r

    def eig(self, a: Any) -> tuple[Any, Any]:
        dtype = np.result_type(a.dtype, np.complex64)
        w, v = self._gufunc(_eig_complex, "(n,n)->(n),(n,n)", a, outputs=2, dtype=dtype)
        return w, v

    def solve_triangular(self, a: Any, b: Any, lower: bool) -> Any:
        import scipy.linalg

        def one(x: Any, y: Any) -> Any:
            if x.ndim == 2:
                return scipy.linalg.solve_triangular(x, y, lower=lower)
            return np.stack([scipy.linalg.solve_triangular(p, q, lower=lower)
                             for p, q in zip(x, y)])

        sig = "(n,n),(n)->(n)" if b.ndim == a.ndim - 1 else "(n,n),(n,k)->(n,k)"
        return self._gufunc(one, sig, a, b)


    def apply(self, kernel: Callable[..., Any], shape: tuple[int, ...],
              dtype: Any) -> Callable[..., Any]:
        """An operation's NumPy kernel on whole (small) arrays, as one lazy task."""
        ns = self.ns
        assert isinstance(ns, _Dask)
        delayed = _import("dask", "dask").delayed

        def run(*arrays: Any) -> Any:
            task = delayed(kernel, pure=True)(*arrays)
            return ns.da.from_delayed(task, shape=shape, dtype=dtype)

        return run


def _eig_complex(a: Any) -> tuple[Any, Any]:
    w, v = np.linalg.eig(a)
    dtype = np.result_type(a.dtype, np.complex64)
    return w.astype(dtype), v.astype(dtype)


_FLAT_LIMIT = 1 << 26


def flat_positions(shape: tuple[int, ...], key: tuple[Any, ...]) -> Any:
    """The flat positions ``x[key]`` reads in an array of ``shape``, in the layout
    of the result (NumPy's rules), for engines whose indexing lacks a feature
    (negative steps in torch, several index arrays in Dask)."""
    size = int(np.prod(shape))
    if size > _FLAT_LIMIT:
        raise MissingDependencyError(
            f"indexing an array of {size} entries with this key needs a NumPy array "
            "(negative steps or several index arrays on this engine)"
        )
    return np.arange(size).reshape(shape)[key]


def _solve_vector(a: Any, b: Any) -> Any:
    return np.linalg.solve(a, b[..., None])[..., 0]


# ---- PyTorch, JAX, CuPy ---------------------------------------------------------------


class _Torch(Namespace):
    name = "torch"

    def __init__(self) -> None:
        super().__init__()
        self.torch = _import("torch", "torch")
        self.xp = _import("array_api_compat.torch", "torch")
        self.linalg = _TorchLinalg(self)

    def owns(self, value: Any) -> bool:
        return isinstance(value, self.torch.Tensor)

    def asarray(self, value: Any, like: Any = None) -> Any:
        value = np.asarray(value)
        t = self.torch.as_tensor(value)
        if like is not None:
            dtype = like.dtype if (t.is_floating_point() and like.is_floating_point()) else None
            t = t.to(device=like.device, dtype=dtype)
        return t

    def to_host(self, value: Any) -> Any:
        return value.detach().cpu().resolve_conj().numpy()

    def key(self, key: tuple[Any, ...], like: Any) -> tuple[Any, ...]:
        return tuple(
            self.torch.as_tensor(k, device=like.device) if isinstance(k, np.ndarray) else k
            for k in key
        )

    def take(self, x: Any, key: tuple[Any, ...]) -> Any:
        if not any(isinstance(k, slice) and (k.step or 1) < 0 for k in key):
            return x[self.key(key, x)]
        flat = flat_positions(tuple(x.shape), key)  # torch has no negative steps
        index = self.torch.as_tensor(flat.reshape(-1), device=x.device)
        return x.reshape(-1)[index].reshape(flat.shape)

    def scatter_add(self, shape: tuple[int, ...], key: tuple[Any, ...], c: Any,
                    unique: bool) -> Any:
        z = self.torch.zeros(shape, dtype=c.dtype, device=c.device)
        negative = any(isinstance(k, slice) and (k.step or 1) < 0 for k in key)
        if unique and not negative:
            z[self.key(key, c)] = c
            return z
        flat = flat_positions(shape, key)
        index = self.torch.as_tensor(flat.reshape(-1), device=c.device)
        return z.reshape(-1).index_add_(0, index, c.reshape(-1)).reshape(shape)

    def special(self, name: str) -> Callable[..., Any]:
        fn = getattr(self.torch.special, name, None)
        if fn is None:
            raise MissingDependencyError(f"torch has no special function {name!r}")
        return fn  # type: ignore[no-any-return]


class _TorchLinalg(_Linalg):
    def __getattr__(self, name: str) -> Any:
        return getattr(self.ns.torch.linalg, name)

    def slogdet(self, a: Any) -> tuple[Any, Any]:
        sign, logabs = self.ns.torch.linalg.slogdet(a)
        return sign, logabs

    def svd(self, a: Any, full_matrices: bool = False) -> Any:
        return self.ns.torch.linalg.svd(a, full_matrices=full_matrices)

    def expm(self, a: Any) -> Any:
        return self.ns.torch.linalg.matrix_exp(a)

    def pinv(self, a: Any, rtol: Any = None) -> Any:
        return self.ns.torch.linalg.pinv(a, rtol=rtol)

    def solve_triangular(self, a: Any, b: Any, lower: bool) -> Any:
        vec = b.ndim == a.ndim - 1
        b2 = b[..., None] if vec else b
        x = self.ns.torch.linalg.solve_triangular(a, b2, upper=not lower)
        return x[..., 0] if vec else x


class _Jax(Namespace):
    name = "jax"

    def __init__(self) -> None:
        super().__init__()
        self.jax = _import("jax", "jax")
        self.xp = _import("jax.numpy", "jax")
        errors = _import("jax.errors", "jax")
        self.jit_errors = (errors.ConcretizationTypeError, errors.TracerArrayConversionError,
                           errors.TracerBoolConversionError, errors.TracerIntegerConversionError)
        self.runtime_errors = (errors.JaxRuntimeError,)
        self.linalg = _JaxLinalg(self)

    def owns(self, value: Any) -> bool:
        return isinstance(value, self.jax.Array)

    def jit(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return _jax_jit(self.jax, fn)

    def checked(self, check: Callable[[Any], None], value: Any, core: int) -> Any:
        if isinstance(value, self.jax.core.Tracer):
            # under jax.jit the check runs with the compiled plan, on the host; a
            # failure raises JaxRuntimeError carrying the check's message
            self.jax.debug.callback(functools.partial(_check_each, check, core=core), value)
            return value
        return super().checked(check, value, core)

    def asarray(self, value: Any, like: Any = None) -> Any:
        value = np.asarray(value)
        if like is not None and value.dtype.kind == "f" and like.dtype.kind == "f":
            value = value.astype(like.dtype, copy=False)
        return self.xp.asarray(value)

    def scatter_add(self, shape: tuple[int, ...], key: tuple[Any, ...], c: Any,
                    unique: bool) -> Any:
        return self.xp.zeros(shape, dtype=c.dtype).at[key].add(c)

    def special(self, name: str) -> Callable[..., Any]:
        return getattr(importlib.import_module("jax.scipy.special"), name)  # type: ignore[no-any-return]


def _jax_jit(jax: Any, fn: Callable[..., Any]) -> Callable[..., Any]:
    return jax.jit(fn)  # type: ignore[no-any-return]


class _JaxLinalg(_Linalg):
    def expm(self, a: Any) -> Any:
        return importlib.import_module("jax.scipy.linalg").expm(a)

    def sqrtm(self, a: Any) -> Any:
        """The principal square root of each matrix of a stack (complex; JAX's Schur
        method, CPU only)."""
        root = importlib.import_module("jax.scipy.linalg").sqrtm
        if a.ndim == 2:
            return root(a)
        flat = self.ns.xp.reshape(a, (-1, *a.shape[-2:]))
        return self.ns.xp.reshape(self.ns.xp.stack([root(m) for m in flat]), a.shape)

    def svd(self, a: Any, full_matrices: bool = False) -> Any:
        return self.ns.xp.linalg.svd(a, full_matrices=full_matrices)

    def pinv(self, a: Any, rtol: Any = None) -> Any:
        return self.ns.xp.linalg.pinv(a, rtol=rtol)

    def solve_triangular(self, a: Any, b: Any, lower: bool) -> Any:
        sl = importlib.import_module("jax.scipy.linalg")
        return sl.solve_triangular(a, b, lower=lower)


class _Cupy(Namespace):
    name = "cupy"

    def __init__(self) -> None:
        super().__init__()
        self.cp = _import("cupy", "cupy")
        self.xp = _import("array_api_compat.cupy", "cupy")

    def owns(self, value: Any) -> bool:
        return isinstance(value, self.cp.ndarray)

    def asarray(self, value: Any, like: Any = None) -> Any:
        value = np.asarray(value)
        if like is not None and value.dtype.kind == "f" and like.dtype.kind == "f":
            value = value.astype(like.dtype, copy=False)
        if like is not None:
            with like.device:
                return self.cp.asarray(value)
        return self.cp.asarray(value)

    def to_host(self, value: Any) -> Any:
        return self.cp.asnumpy(value)

    def key(self, key: tuple[Any, ...], like: Any) -> tuple[Any, ...]:
        return tuple(self.cp.asarray(k) if isinstance(k, np.ndarray) else k for k in key)

    def scatter_add(self, shape: tuple[int, ...], key: tuple[Any, ...], c: Any,
                    unique: bool) -> Any:
        z = self.cp.zeros(shape, dtype=c.dtype)
        key = self.key(key, c)
        if unique:
            z[key] = c
        else:
            importlib.import_module("cupyx").scatter_add(z, key, c)
        return z

    def special(self, name: str) -> Callable[..., Any]:
        return getattr(importlib.import_module("cupyx.scipy.special"), name)  # type: ignore[no-any-return]


_KINDS: dict[str, Callable[[], Namespace]] = {
    "numpy": Namespace, "dask": _Dask, "torch": _Torch, "jax": _Jax, "cupy": _Cupy,
}
_CACHE: dict[str, Namespace] = {}


def namespace(name: str) -> Namespace:
    """The :class:`Namespace` of engine ``name`` (one of :data:`BACKENDS`)."""
    ns = _CACHE.get(name)
    if ns is None:
        make = _KINDS.get(name)
        if make is None:
            raise InvalidArgumentError(
                f"unknown backend {name!r}; use one of {', '.join(BACKENDS)} or 'auto'"
            )
        ns = _CACHE[name] = make()
    return ns

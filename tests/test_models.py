"""The corpus of real models (tests/models/): matgrad differentiates unmodified
NumPy code.

For every model, ``mg.grad`` agrees with Richardson-extrapolated numerical
gradients (``matgrad.numeric``, which never touches the symbolic layers) to a
relative error of 1e-6, and ``mg.value_and_grad`` returns the value NumPy
computes; on the smooth models ``mg.hessian`` agrees with numerical Hessians;
and, where JAX is installed, the gradients agree with ``jax.grad`` of the same
code run on ``jax.numpy``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from models import MODELS, Model

import matgrad as mg
from matgrad import numeric

GRADIENT_TOLERANCE = 1e-6
HESSIAN_TOLERANCE = 1e-6
JAX_TOLERANCE = 1e-10

ALL = [pytest.param(m, id=m.name) for m in MODELS]
SMOOTH = [pytest.param(m, id=m.name) for m in MODELS if m.smooth]


def _partial(f: Callable[..., Any], params: tuple[np.ndarray, ...], k: int) -> Callable[..., Any]:
    """``f`` as a function of parameter ``k`` alone, the others fixed."""

    def fk(value: Any) -> Any:
        args = list(params)
        args[k] = value
        return f(*args)

    return fk


def test_the_corpus_has_at_least_40_models() -> None:
    assert len(MODELS) >= 40
    assert sum(m.smooth for m in MODELS) >= 30
    assert len({m.name for m in MODELS}) == len(MODELS)


@pytest.mark.parametrize("model", ALL)
def test_gradient_matches_richardson(model: Model) -> None:
    f, params, argnums = model.setup(np)
    value, grads = mg.value_and_grad(f, argnums=argnums)(*params)
    np.testing.assert_allclose(value, f(*params), rtol=1e-12, atol=1e-12)
    assert len(grads) == len(argnums)
    for k, g in zip(argnums, grads):
        assert g.shape == params[k].shape
        expected = numeric.gradient(
            _partial(f, params, k), params[k], method="richardson", step=model.step
        )
        error = numeric.gradient_error(g, expected)
        assert error <= GRADIENT_TOLERANCE, f"argument {k}: relative error {error:.2e}"


@pytest.mark.parametrize("model", SMOOTH)
def test_hessian_matches_numerical(model: Model) -> None:
    f, params, argnums = model.setup(np)
    hessians = mg.hessian(f, argnums=argnums)(*params)
    for k, H in zip(argnums, hessians):
        shape = params[k].shape
        assert H.shape == shape + shape
        expected = numeric.hessian(_partial(f, params, k), params[k], method="richardson")
        error = numeric.gradient_error(H, expected)
        assert error <= HESSIAN_TOLERANCE, f"argument {k}: relative error {error:.2e}"


@pytest.fixture(scope="module")
def jax() -> Any:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    return jax


@pytest.mark.parametrize("model", ALL)
def test_gradient_matches_jax(model: Model, jax: Any) -> None:
    import jax.numpy as jnp

    f, params, argnums = model.setup(np)
    f_jax, _, _ = model.setup(jnp)
    ours = mg.grad(f, argnums=argnums)(*params)
    theirs = jax.jit(jax.grad(f_jax, argnums=argnums))(*params)  # one XLA compile, not one per op
    for k, g, h in zip(argnums, ours, theirs):
        error = numeric.gradient_error(g, np.asarray(h))
        assert error <= JAX_TOLERANCE, f"argument {k}: relative error {error:.2e} against JAX"

"""The record of one model of the corpus and the decorator that registers it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

Arrays = tuple[np.ndarray, ...]
Draw = Callable[[np.random.Generator], tuple[Arrays, Arrays]]

PIECEWISE_STEP = 2.0**-20
"""Numerical step for piecewise models: small enough that no kink lies within
the Richardson stencil at the drawn points (which are fixed by the seed)."""


@dataclass(frozen=True)
class Model:
    """A loss or objective written in plain NumPy.

    ``make(np_, *data)`` returns the loss ``f(*params)``: the data are closure
    constants, as users write them, and ``np_`` is the array namespace (NumPy for
    matgrad, which traces plain NumPy; ``jax.numpy`` for the JAX comparison).
    ``draw(rng)`` returns ``(params, data)``.  ``argnums``: the parameters to
    differentiate (default: all).  ``smooth``: twice differentiable at the drawn
    points, with no kink within a Richardson stencil, so its Hessian is checked;
    piecewise models are checked to first order with a small step."""

    name: str
    make: Callable[..., Callable[..., Any]]
    draw: Draw
    argnums: tuple[int, ...] | None = None
    smooth: bool = True

    def setup(self, np_: Any, seed: int = 0) -> tuple[Callable[..., Any], Arrays, tuple[int, ...]]:
        """``(loss, params, argnums)`` with the loss built on namespace ``np_``."""
        params, data = self.draw(np.random.default_rng(seed))
        argnums = self.argnums if self.argnums is not None else tuple(range(len(params)))
        return self.make(np_, *data), params, argnums

    @property
    def step(self) -> float | None:
        return None if self.smooth else PIECEWISE_STEP


MODELS: list[Model] = []


def model(
    draw: Draw, *, argnums: tuple[int, ...] | None = None, smooth: bool = True
) -> Callable[[Callable[..., Callable[..., Any]]], Callable[..., Callable[..., Any]]]:
    """Register the decorated model maker under its name (``_`` read as ``-``)."""

    def register(make: Callable[..., Callable[..., Any]]) -> Callable[..., Callable[..., Any]]:
        name = make.__name__.replace("_", "-")
        if any(m.name == name for m in MODELS):
            raise ValueError(f"model {name!r} is registered twice")
        MODELS.append(Model(name, make, draw, argnums, smooth))
        return make

    return register


def normal(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return scale * rng.standard_normal(shape)


def signs(rng: np.random.Generator, n: int) -> np.ndarray:
    """Labels in {−1, +1}."""
    return np.where(rng.standard_normal(n) > 0, 1.0, -1.0)


def one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k)[labels]

"""A corpus of real models: losses and objectives written in plain NumPy the way
tutorials and reference implementations write them, each against an array
namespace ``np_`` so that the same code runs with NumPy (traced by matgrad) and
with ``jax.numpy``.  tests/test_models.py checks matgrad's gradients and
Hessians on every one against numerical differentiation and against JAX."""

from __future__ import annotations

from models import everyday, functions, likelihoods, networks, regression
from models.base import MODELS, Model

__all__ = ["MODELS", "Model", "everyday", "functions", "likelihoods", "networks", "regression"]

"""The GPU engines present on this machine, for the tests marked ``gpu``."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import numpy as np


def gpus() -> list[tuple[str, Any, Any]]:
    """``(name, to, back)`` for each GPU engine present (CUDA torch, CuPy)."""
    found: list[tuple[str, Any, Any]] = []
    if importlib.util.find_spec("torch"):
        torch = importlib.import_module("torch")
        if torch.cuda.is_available():
            found.append(("torch", lambda a: torch.tensor(np.asarray(a), device="cuda"),
                          lambda v: v.cpu().numpy()))
    if importlib.util.find_spec("cupy"):
        cp = importlib.import_module("cupy")
        try:
            count = cp.cuda.runtime.getDeviceCount()
        except Exception:  # no driver
            count = 0
        if count:
            found.append(("cupy", cp.asarray, cp.asnumpy))
    return found

"""matgrad: matrix and tensor calculus you can trust.

Public names are re-exported here; see ``docs/`` for the guides and
``../shared/DESIGN.md`` for the conventions (Jacobian layout ``out + in``,
column-major ``vec``).
"""

from __future__ import annotations

from matgrad import errors, numeric, testing
from matgrad.layout import (
    chain,
    commutation_matrix,
    jacobian_matrix,
    jacobian_tensor,
    unvec,
    vec,
)
from matgrad.numeric import gradient_error

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "errors",
    "numeric",
    "testing",
    "vec",
    "unvec",
    "jacobian_matrix",
    "jacobian_tensor",
    "chain",
    "commutation_matrix",
    "gradient_error",
]

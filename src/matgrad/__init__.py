"""matgrad: matrix and tensor calculus you can trust.

Public names are re-exported here; see ``docs/`` for the guides and
``docs/architecture.md`` for how the modules fit together.  Conventions:
Jacobian layout ``out + in`` (numerator layout), column-major ``vec``.
"""

from __future__ import annotations

from matgrad import errors, identities, numeric, ops, printing, testing
from matgrad.calculus.change_of_variables import jacobian_det, log_abs_det_jacobian
from matgrad.calculus.diff import derivative, jvp_expr, vjp_expr
from matgrad.calculus.display import display
from matgrad.calculus.simplify import simplify
from matgrad.calculus.taylor import linearize, taylor
from matgrad.compiler import Batched, Compiled, compile, evaluate
from matgrad.function_api.batching import vmap
from matgrad.function_api.transforms import grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp
from matgrad.ir.expr import (
    Expr,
    Matrix,
    Scalar,
    Symbol,
    Tensor,
    Vector,
    constant,
)
from matgrad.language.claims import check_claim
from matgrad.language.parse import parse
from matgrad.layout import (
    chain,
    commutation_matrix,
    jacobian_matrix,
    jacobian_tensor,
    unvec,
    vec,
)
from matgrad.numeric import gradient_error
from matgrad.ops import *  # noqa: F403 - the operations: mg.exp, mg.inv, mg.trace, ...

__version__ = "0.2.0.dev0"

__all__ = [
    "__version__",
    "errors",
    "identities",
    "numeric",
    "printing",
    "testing",
    # expressions
    "Expr",
    "Symbol",
    "Scalar",
    "Vector",
    "Matrix",
    "Tensor",
    "constant",
    # calculus
    "derivative",
    "jvp_expr",
    "vjp_expr",
    "simplify",
    "display",
    "taylor",
    "linearize",
    "jacobian_det",
    "log_abs_det_jacobian",
    # evaluation
    "compile",
    "Compiled",
    "evaluate",
    "vmap",
    "Batched",
    # the function API
    "grad",
    "jacobian",
    "hessian",
    "hvp",
    "jvp",
    "vjp",
    "value_and_grad",
    # conventions and numerics
    "vec",
    "unvec",
    "jacobian_matrix",
    "jacobian_tensor",
    "chain",
    "commutation_matrix",
    "gradient_error",
    # the expression language
    "parse",
    "check_claim",
]
__all__ += ops.__all__  # the operations: mg.exp, mg.inv, mg.trace, ...

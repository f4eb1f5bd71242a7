"""The proof table of issue 13: classic derivatives with their textbook forms.

Each :class:`Entry` is a function in matgrad's formula language (``docs/cli.md``),
the variable, the order, the shapes and structure of its symbols, and the
derivative **as the book writes it**, also in the formula language: the Matrix
Cookbook (Petersen & Pedersen, 2012; equation numbers of that edition), chapter 5
of *Mathematics for Machine Learning* (Deisenroth, Faisal & Ong; equation and
example numbers of the draft in ``/work/shared/CHAPTER5.md``), the examples of
matrixcalculus.org, and the gradients and Hessians of the usual ML losses.

Derivatives have matgrad's Jacobian layout ``f.shape + order × wrt.shape``: a
gradient has the variable's shape (the book's row vector ``xᵀ(B + Bᵀ)`` is the
vector ``x'*(B + B')``), the Hessian of a scalar in a vector is a matrix, and a
Jacobian of a matrix in a matrix is a 4-index ``einsum``.

The textbook forms were written by hand from the sources; ``tests/test_textbook.py``
checks every one against numerical differentiation of the function (so a wrong
entry cannot pass) and against matgrad's derivative, and measures the printed
lengths.  ``python -m benchmarks.printing`` prints the comparison as a table.

Used by ``tests/test_textbook.py`` and ``benchmarks/printing.py`` (which loads this
file by path); nothing here is collected as a test.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from matgrad.calculus.diff import derivative
from matgrad.ir.expr import Expr, Symbol
from matgrad.language.claims import random_values
from matgrad.language.parse import parse_expression

RATIO = 1.15
"""The criterion of the issue: a printout at most this many times as long as the
textbook form printed by the same printer."""


@dataclass(frozen=True)
class Entry:
    """One classic derivative: ``d^order function / d wrt^order = textbook``."""

    name: str
    function: str
    wrt: str
    textbook: str
    source: str
    order: int = 1
    shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    symmetric: tuple[str, ...] = ()
    spd: tuple[str, ...] = ()


def _e(name: str, function: str, wrt: str, textbook: str, source: str, *, order: int = 1,
       shapes: Mapping[str, tuple[int, ...]] | None = None, symmetric: tuple[str, ...] = (),
       spd: tuple[str, ...] = ()) -> Entry:
    return Entry(name, function, wrt, textbook, source, order, dict(shapes or {}),
                 symmetric, spd)


SCALAR = {"x": ()}
"""``x`` as a real number (the univariate examples of MML §5.1)."""

COOKBOOK = "Matrix Cookbook"
MML = "MML"
SITE = "matrixcalculus.org example"
ML = "ML loss"

TABLE: tuple[Entry, ...] = (
    # ------------------------------------------------------------- the examples
    _e("least-squares-gradient", "norm2(A*x-b)^2", "x", "2*A'*(A*x-b)",
       f"issue 13; {COOKBOOK} (84) with W = I; {MML} Example 5.11",
       shapes={"A": (4, 3)}),
    _e("least-squares-hessian", "norm2(A*x-b)^2", "x", "2*A'*A",
       f"issue 13; {COOKBOOK} (98); {MML} (5.146)", order=2, shapes={"A": (4, 3)}),
    _e("log-det", "log(det(X))", "X", "inv(X)'", f"issue 13; {COOKBOOK} (57)"),
    _e("logistic-gradient", "sum(log(1+exp(-X*w)))", "w", "-X'*sigmoid(-X*w)",
       f"issue 13; {ML}: logistic regression, labels y = 1", shapes={"X": (4, 3)}),
    _e("logistic-hessian", "sum(log(1+exp(-X*w)))", "w",
       "X'*diag(sigmoid(X*w).*(1-sigmoid(X*w)))*X",
       f"issue 13; {ML}: logistic regression, labels y = 1", order=2, shapes={"X": (4, 3)}),
    _e("triple-exp-third", "sum(exp(exp(exp(x))))", "x",
       'einsum("i,ij,ik->ijk", exp(x).*exp(exp(x)).*exp(exp(exp(x))).*((1 + exp(x)'
       " + exp(x).*exp(exp(x))).^2 + exp(x) + exp(x).*exp(exp(x))"
       ' + exp(x).^2 .* exp(exp(x))), I, I)',
       "issue 13; chain and product rules, MML (5.29)-(5.32), three times", order=3),
    # ------------------------------------------------------------------ trace forms
    _e("trace-AXB", "tr(A*X*B)", "X", "A'*B'", f"{COOKBOOK} (101); {MML} Exercise 5.6",
       shapes={"A": (2, 3), "X": (3, 4)}),
    _e("trace-XtA", "tr(X'*A)", "X", "A", f"{COOKBOOK} (103)", shapes={"X": (3, 2)}),
    _e("trace-X2", "tr(X*X)", "X", "2*X'", f"{COOKBOOK} (106)"),
    _e("trace-X2B", "tr(X*X*B)", "X", "(X*B + B*X)'", f"{COOKBOOK} (107)"),
    _e("trace-XtBX", "tr(X'*B*X)", "X", "B*X + B'*X", f"{COOKBOOK} (108)",
       shapes={"X": (3, 2)}),
    _e("trace-XBXt", "tr(X*B*X')", "X", "X*B' + X*B", f"{COOKBOOK} (111)",
       shapes={"X": (2, 3)}),
    _e("trace-XtX", "tr(X'*X)", "X", "2*X", f"{COOKBOOK} (115)", shapes={"X": (3, 2)}),
    _e("trace-BtXtCXB", "tr(B'*X'*C*X*B)", "X", "C'*X*B*B' + C*X*B*B'", f"{COOKBOOK} (116)"),
    _e("trace-AXBXtC", "tr(A*X*B*X'*C)", "X", "A'*C'*X*B' + C*A*X*B", f"{COOKBOOK} (118)"),
    _e("trace-AXB-plus-C-squared", "tr((A*X*B + C)*(A*X*B + C)')", "X",
       "2*A'*(A*X*B + C)*B'", f"{COOKBOOK} (119)"),
    _e("trace-X3", "tr(X*X*X)", "X", "3*(X*X)'", f"{COOKBOOK} (121), k = 3"),
    _e("trace-AXinvB", "tr(A*inv(X)*B)", "X", "-inv(X)'*A'*B'*inv(X)'",
       f"{COOKBOOK} (63), (124)"),
    _e("trace-hessian-XtAX", "tr(X'*A*X)", "X", "einsum(\"ik,jl->ijkl\", A + A', I)",
       f"{COOKBOOK} (108) differentiated again", order=2, shapes={"X": (3, 2)}),
    # ------------------------------------------------- determinants and inverses
    _e("det-X", "det(X)", "X", "det(X)*inv(X)'", f"{COOKBOOK} (49)"),
    _e("det-AXB", "det(A*X*B)", "X", "det(A*X*B)*inv(X)'", f"{COOKBOOK} (51)"),
    _e("det-inv-X", "det(inv(X))", "X", "-det(inv(X))*inv(X)'", f"{COOKBOOK} (62)"),
    _e("logdet-symmetric", "logdet(S)", "S", "inv(S)",
       f"{COOKBOOK} (141), as the symmetric gradient (DESIGN.md §1)", spd=("S",)),
    _e("logdet-hessian", "logdet(X)", "X", "-einsum(\"jk,li->ijkl\", inv(X), inv(X))",
       f"{COOKBOOK} (57) and (60)", order=2),
    _e("inverse-jacobian", "inv(X)", "X", "-einsum(\"ik,lj->ijkl\", inv(X), inv(X))",
       f"{COOKBOOK} (60)"),
    _e("det-hessian", "det(X)", "X",
       "det(X)*(einsum(\"ji,lk->ijkl\", inv(X), inv(X)) - einsum(\"jk,li->ijkl\", inv(X),"
       " inv(X)))", f"{COOKBOOK} (49) and (60)", order=2),
    _e("aXinvb", "a'*inv(X)*b", "X", "-inv(X)'*a*b'*inv(X)'", f"{COOKBOOK} (61); {MML} (5.102)"),
    # ------------------------------------------------------ linear and quadratic forms
    _e("xta", "x'*a", "x", "a'", f"{COOKBOOK} (69); {MML} (5.103)"),
    _e("aXb", "a'*X*b", "X", "a*b'", f"{COOKBOOK} (70); {MML} (5.105)",
       shapes={"X": (3, 4)}),
    _e("aXtb", "a'*X'*b", "X", "b*a'", f"{COOKBOOK} (71)", shapes={"X": (4, 3)}),
    _e("bXtXc", "b'*X'*X*c", "X", "X*(b*c' + c*b')", f"{COOKBOOK} (77)",
       shapes={"X": (4, 3)}),
    _e("affine-bilinear", "(B*x + b)'*C*(D*x + d)", "x", "B'*C*(D*x + d) + D'*C'*(B*x + b)",
       f"{COOKBOOK} (78)"),
    _e("xtBx", "x'*B*x", "x", "x'*(B + B')", f"{COOKBOOK} (81); {MML} (5.106)"),
    _e("bXtDXc", "b'*X'*D*X*c", "X", "D'*X*b*c' + D*X*c*b'", f"{COOKBOOK} (82)"),
    _e("Xb-plus-c-D", "(X*b + c)'*D*(X*b + c)", "X", "(D + D')*(X*b + c)*b'",
       f"{COOKBOOK} (83)"),
    _e("x-As-W-wrt-s", "(x - A*s)'*W*(x - A*s)", "s", "-2*(x - A*s)'*W*A",
       f"{MML} (5.107); {COOKBOOK} (84)", symmetric=("W",)),
    _e("x-s-W-wrt-x", "(x - s)'*W*(x - s)", "x", "2*W*(x - s)", f"{COOKBOOK} (85)",
       symmetric=("W",)),
    _e("x-As-W-wrt-A", "(x - A*s)'*W*(x - A*s)", "A", "-2*W*(x - A*s)*s'", f"{COOKBOOK} (88)",
       symmetric=("W",)),
    _e("quadratic-hessian", "x'*A*x + b'*x", "x", "A + A'",
       f"{COOKBOOK} (98); {MML} (5.146)", order=2),
    _e("mahalanobis-hessian", "(x - m)'*inv(S)*(x - m)", "x", "2*inv(S)",
       f"{COOKBOOK} (86) with W = inv(S), differentiated again", order=2, spd=("S",)),
    # ------------------------------------------------------------------------ norms
    _e("norm-x-minus-a", "norm2(x - a)", "x", "(x - a)/norm2(x - a)", f"{COOKBOOK} (129)"),
    _e("unit-vector-jacobian", "(x - a)/norm2(x - a)", "x",
       "I/norm2(x - a) - (x - a)*(x - a)'/norm2(x - a)^3", f"{COOKBOOK} (130)"),
    _e("norm-x-hessian", "norm2(x)", "x", "(I - x*x'/norm2(x)^2)/norm2(x)",
       f"{COOKBOOK} (130) with a = 0", order=2),
    _e("norm-x-squared", "norm2(x)^2", "x", "2*x", f"{COOKBOOK} (131)"),
    _e("frobenius-squared", "norm2(X)^2", "X", "2*X", f"{COOKBOOK} (132)",
       shapes={"X": (3, 2)}),
    # -------------------------------------------------------- MML chapter 5
    _e("power-rule", "x^5", "x", "5*x^4", f"{MML} Example 5.2", shapes=SCALAR),
    _e("x4-third", "x^4", "x", "24*x", f"{MML} Example 5.3 (f''' = 24x)", order=3,
       shapes=SCALAR),
    _e("taylor-x4", "1 + 4*(x-1) + 6*(x-1)^2 + 4*(x-1)^3 + (x-1)^4", "x",
       "4 + 12*(x-1) + 12*(x-1)^2 + 4*(x-1)^3", f"{MML} Example 5.3 (T4 at 1)", shapes=SCALAR),
    _e("taylor-x4-second", "1 + 4*(x-1) + 6*(x-1)^2 + 4*(x-1)^3 + (x-1)^4", "x",
       "12 + 24*(x-1) + 12*(x-1)^2", f"{MML} Example 5.3 (T4 at 1)", order=2, shapes=SCALAR),
    _e("taylor-sin-cos", "1 + x - x^2/2 - x^3/6 + x^4/24 + x^5/120", "x",
       "1 - x - x^2/2 + x^3/6 + x^4/24", f"{MML} Example 5.4 (T5 at 0)", shapes=SCALAR),
    _e("sin-third", "sin(x)", "x", "-cos(x)", f"{MML} Example 5.4 (the derivatives cycle)",
       order=3, shapes=SCALAR),
    _e("chain-2x-plus-1", "(2*x+1)^4", "x", "8*(2*x+1)^3", f"{MML} Example 5.5",
       shapes=SCALAR),
    _e("partial-y", "(x + 2*y^3)^2", "y", "12*(x + 2*y^3)*y^2", f"{MML} Example 5.6",
       shapes={"x": (), "y": ()}),
    _e("linear-map", "A*x", "x", "A", f"{MML} Example 5.9", shapes={"A": (4, 3)}),
    _e("least-squares-theta", "norm2(y - Phi*theta)^2", "theta",
       "-2*(y' - theta'*Phi')*Phi", f"{MML} Example 5.11",
       shapes={"Phi": (4, 3), "theta": (3,)}),
    _e("backprop-example", "sqrt(x^2 + exp(x^2)) + cos(x^2 + exp(x^2))", "x",
       "2*x*(1/(2*sqrt(x^2 + exp(x^2))) - sin(x^2 + exp(x^2)))*(1 + exp(x^2))",
       f"{MML} (5.108)-(5.109), Example 5.14", shapes=SCALAR),
    _e("exercise-5.1", "log(x^4)*sin(x^3)", "x", "4/x*sin(x^3) + 3*x^2*log(x^4)*cos(x^3)",
       f"{MML} Exercise 5.1", shapes=SCALAR),
    _e("exercise-5.2-logistic", "1/(1 + exp(-x))", "x", "sigmoid(x)*(1 - sigmoid(x))",
       f"{MML} Exercise 5.2", shapes=SCALAR),
    _e("exercise-5.3-gaussian", "exp(-(x - mu)^2/(2*sigma^2))", "x",
       "-(x - mu)/sigma^2*exp(-(x - mu)^2/(2*sigma^2))", f"{MML} Exercise 5.3",
       shapes={"x": (), "mu": (), "sigma": ()}),
    _e("exercise-5.6-sin-log", "sin(log(t'*t))", "t", "cos(log(t'*t))*2*t/(t'*t)",
       f"{MML} Exercise 5.6"),
    _e("exercise-5.7-log1p", "log(1 + x'*x)", "x", "2*x/(1 + x'*x)", f"{MML} Exercise 5.7"),
    _e("exercise-5.7-sin-affine", "sin(A*x + b)", "x", "diag(cos(A*x + b))*A",
       f"{MML} Exercise 5.7", shapes={"A": (4, 3)}),
    _e("exercise-5.8-gaussian", "exp(-(x - m)'*inv(S)*(x - m)/2)", "x",
       "-exp(-(x - m)'*inv(S)*(x - m)/2)*(x - m)'*inv(S)", f"{MML} Exercise 5.8",
       spd=("S",)),
    _e("exercise-5.8-trace", "tr(x*x' + sigma^2*I)", "x", "2*x", f"{MML} Exercise 5.8",
       shapes={"sigma": ()}),
    _e("exercise-5.8-tanh", "tanh(A*x + b)", "x", "diag(1 - tanh(A*x + b).^2)*A",
       f"{MML} Exercise 5.8", shapes={"A": (4, 3)}),
    _e("two-layer-dA1", "norm2(y - A1*tanh(A0*x + b0))^2", "A1",
       "-2*(y - A1*tanh(A0*x + b0))*tanh(A0*x + b0)'", f"{MML} (5.110)-(5.117)"),
    _e("two-layer-dA0", "norm2(y - A1*tanh(A0*x + b0))^2", "A0",
       "-2*((A1'*(y - A1*tanh(A0*x + b0))).*(1 - tanh(A0*x + b0).^2))*x'",
       f"{MML} (5.110)-(5.117)"),
    # ------------------------------------------------------- matrixcalculus.org
    _e("site-default", "x'*A*x + c*sin(y)'*x", "x", "(A + A')*x + c*sin(y)",
       f"{SITE} (the default formula)", shapes={"c": ()}),
    _e("site-least-squares", "norm2(X*w - y)^2", "w", "2*X'*(X*w - y)",
       f"{SITE} (least squares)", shapes={"X": (4, 3)}),
    _e("site-logistic", "sum(log(exp(-y.*(X*w)) + 1))", "w", "-X'*(y.*sigmoid(-y.*(X*w)))",
       f"{SITE} (logistic regression)", shapes={"X": (4, 3)}),
    _e("site-matrix-factorization-U", "norm2(T - U*V')^2", "U", "-2*(T - U*V')*V",
       f"{SITE} (matrix factorization); {COOKBOOK} (119)",
       shapes={"T": (4, 3), "U": (4, 2)}),
    _e("site-matrix-factorization-V", "norm2(T - U*V')^2", "V", "-2*(T - U*V')'*U",
       f"{SITE} (matrix factorization); {COOKBOOK} (119)",
       shapes={"T": (4, 3), "U": (4, 2)}),
    # ------------------------------------------------------------------- ML losses
    _e("ridge-gradient", "norm2(X*w - y)^2 + lambda*norm2(w)^2", "w",
       "2*X'*(X*w - y) + 2*lambda*w", f"{ML}: ridge regression", shapes={"X": (4, 3)}),
    _e("ridge-hessian", "norm2(X*w - y)^2 + lambda*norm2(w)^2", "w",
       "2*X'*X + 2*lambda*I", f"{ML}: ridge regression", order=2, shapes={"X": (4, 3)}),
    _e("cross-entropy-gradient", "-(y'*log(sigmoid(X*w)) + (1 - y)'*log(1 - sigmoid(X*w)))",
       "w", "X'*(sigmoid(X*w) - y)", f"{ML}: binary cross-entropy", shapes={"X": (4, 3)}),
    _e("cross-entropy-hessian", "-(y'*log(sigmoid(X*w)) + (1 - y)'*log(1 - sigmoid(X*w)))",
       "w", "X'*diag(sigmoid(X*w).*(1 - sigmoid(X*w)))*X", f"{ML}: binary cross-entropy",
       order=2, shapes={"X": (4, 3)}),
    _e("softplus", "sum(log(1 + exp(x)))", "x", "sigmoid(x)", f"{ML}: softplus' = sigmoid"),
    _e("softmax-cross-entropy", "-y'*log(softmax(W*x))", "W", "(sum(y)*softmax(W*x) - y)*x'",
       f"{ML}: softmax cross-entropy", shapes={"W": (4, 3)}),
    _e("logsumexp-gradient", "logsumexp(x)", "x", "softmax(x)", f"{ML}: log-sum-exp"),
    _e("logsumexp-hessian", "logsumexp(x)", "x", "diag(softmax(x)) - softmax(x)*softmax(x)'",
       f"{ML}: log-sum-exp", order=2),
    _e("gaussian-nll-mu", "(x - m)'*inv(S)*(x - m)/2 + logdet(S)/2", "m", "-inv(S)*(x - m)",
       f"{ML}: Gaussian negative log-likelihood; {COOKBOOK} (86)", spd=("S",)),
    _e("gaussian-nll-Sigma", "(x - m)'*inv(S)*(x - m)/2 + logdet(S)/2", "S",
       "inv(S)/2 - inv(S)*(x - m)*(x - m)'*inv(S)/2",
       f"{ML}: Gaussian negative log-likelihood; {COOKBOOK} (57), (61)", spd=("S",)),
    _e("tanh-layer-W", "sum(tanh(W*x + b))", "W", "(1 - tanh(W*x + b).^2)*x'",
       f"{ML}: a tanh layer", shapes={"W": (4, 3)}),
    _e("sigmoid-layer-jacobian", "sigmoid(W*x + b)", "b",
       "diag(sigmoid(W*x + b).*(1 - sigmoid(W*x + b)))", f"{ML}: a sigmoid layer",
       shapes={"W": (4, 3)}),
    _e("mlp-layer-W", "norm2(y - sigmoid(W*x + b))^2", "W",
       "-2*((y - sigmoid(W*x + b)).*sigmoid(W*x + b).*(1 - sigmoid(W*x + b)))*x'",
       f"{ML}: a sigmoid layer under squared error", shapes={"W": (4, 3)}),
)


# ===================================================================== building entries


@dataclass(frozen=True)
class Built:
    """An entry as expressions: the function, the variable, matgrad's derivative
    and the parsed textbook form (in the function's symbols)."""

    entry: Entry
    function: Expr
    wrt: Symbol
    derivative: Expr
    textbook: Expr


def build(entry: Entry) -> Built:
    """Parse the function, derive it, and parse the textbook form with the
    function's symbols (free sizes of the textbook form, as of an ``I``, are the
    derivative's)."""
    parsed = parse_expression(entry.function, entry.shapes, symmetric=entry.symmetric,
                              spd=entry.spd)
    wrt = parsed.symbols[entry.wrt]
    result = derivative(parsed.expr, wrt, entry.order)
    shapes = {name: s.shape for name, s in parsed.symbols.items()}
    claim = parse_expression(entry.textbook, shapes, symmetric=entry.symmetric,
                             spd=entry.spd, result_shape=result.shape)
    extra = set(claim.symbols) - set(parsed.symbols)
    if extra:
        raise ValueError(f"{entry.name}: the textbook form names {sorted(extra)}, "
                         "which the function does not")
    return Built(entry, parsed.expr, wrt, result, claim.expr)


def values(built: Built, seed: int = 0) -> dict[str, np.ndarray]:
    """Random valid values for every symbol (SPD where the entry says so)."""
    return random_values([built.function, built.derivative, built.textbook], seed=seed,
                         spd=built.entry.spd, extra=[built.wrt])


def evaluate(expr: Expr, point: Mapping[str, np.ndarray]) -> np.ndarray:
    """``expr`` at ``point`` (which may name symbols ``expr`` does not use)."""
    used = {s.name for s in expr.symbols()}
    return np.asarray(expr.evaluate(**{k: v for k, v in point.items() if k in used}),
                      dtype=np.float64)


@dataclass(frozen=True)
class Lengths:
    """The printed lengths of matgrad's derivative and of the textbook form."""

    text: int
    text_textbook: int
    latex: int
    latex_textbook: int

    @property
    def text_ratio(self) -> float:
        return self.text / max(self.text_textbook, 1)

    @property
    def latex_ratio(self) -> float:
        return self.latex / max(self.latex_textbook, 1)

    @property
    def meets(self) -> bool:
        """Both printouts at most :data:`RATIO` times the textbook's."""
        return self.text_ratio <= RATIO and self.latex_ratio <= RATIO


def lengths(built: Built) -> Lengths:
    return Lengths(len(str(built.derivative)), len(str(built.textbook)),
                   len(built.derivative.latex()), len(built.textbook.latex()))

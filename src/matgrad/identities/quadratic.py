"""Scalar, bilinear and quadratic forms: Matrix Cookbook (2012) section 2.4 (layer 4).

The weighted least-squares forms (84)–(88) assume W symmetric; each has an entry
with a symmetric W as printed and, where the factor 2 depends on it, an entry
with the general form for any W.
"""

from __future__ import annotations

from matgrad import ops
from matgrad.identities._record import Identity, Symbols, entry
from matgrad.ir.expr import Expr, add

__all__ = ["ENTRIES"]

_CB = "Matrix Cookbook (2012) eq. "
_CBS = "Matrix Cookbook (2012) eqs. "

_SYMMETRIC_W = "The factor 2 needs W symmetric; for a general W replace 2W by W + Wᵀ."


def _r(s: Symbols) -> Expr:
    """The residual ``x − As``."""
    return s.x - s.A @ s.s


def _d(s: Symbols) -> Expr:
    """``x − s``."""
    return s.x - s.s


ENTRIES: tuple[Identity, ...] = (
    entry(
        name="quadratic-aXtb",
        title="Bilinear form in the transpose, aᵀXᵀb",
        latex=r"\frac{\partial\, a^\top X^\top b}{\partial X} = b a^\top",
        source=_CB + "(71)",
        topic="quadratic",
        symbols={"X": "m n", "a": "n", "b": "m"},
        wrt="X",
        function=lambda s: s.a @ s.X.T @ s.b,
        closed_form=lambda s: ops.outer(s.b, s.a),
    ),
    entry(
        name="quadratic-aXa",
        title="aᵀXa",
        latex=r"\frac{\partial\, a^\top X a}{\partial X} = a a^\top",
        source=_CB + "(72)",
        topic="quadratic",
        symbols={"X": "n n", "a": "n"},
        wrt="X",
        function=lambda s: s.a @ s.X @ s.a,
        closed_form=lambda s: ops.outer(s.a, s.a),
    ),
    entry(
        name="quadratic-aXta",
        title="aᵀXᵀa",
        latex=r"\frac{\partial\, a^\top X^\top a}{\partial X} = a a^\top",
        source=_CB + "(72)",
        topic="quadratic",
        symbols={"X": "n n", "a": "n"},
        wrt="X",
        function=lambda s: s.a @ s.X.T @ s.a,
        closed_form=lambda s: ops.outer(s.a, s.a),
    ),
    entry(
        name="quadratic-sum-squared",
        title="Square of the sum of all entries, (Σ Xₖₗ)²",
        latex=r"\frac{\partial}{\partial X_{ij}}\sum_{klmn}X_{kl}X_{mn} = 2\sum_{kl}X_{kl}",
        source=_CB + "(76)",
        topic="quadratic",
        symbols={"X": "n m"},
        wrt="X",
        function=lambda s: ops.sum(s.X) ** 2,
        closed_form=lambda s: 2 * ops.sum(s.X) * s.ones("n", "m"),
        notes="Every entry of the gradient is the same number, 2 Σ X.",
    ),
    entry(
        name="quadratic-bXtXc",
        title="bᵀXᵀXc",
        latex=r"\frac{\partial\, b^\top X^\top X c}{\partial X} = X(bc^\top + cb^\top)",
        source=_CB + "(77)",
        topic="quadratic",
        symbols={"X": "n m", "b": "m", "c": "m"},
        wrt="X",
        function=lambda s: s.b @ s.X.T @ s.X @ s.c,
        closed_form=lambda s: s.X @ (ops.outer(s.b, s.c) + ops.outer(s.c, s.b)),
        notes="With b = c this is ‖Xb‖², gradient 2Xbbᵀ (norm-Xb-squared).",
    ),
    entry(
        name="quadratic-aXXtb",
        title="aᵀXXᵀb",
        latex=r"\frac{\partial\, a^\top X X^\top b}{\partial X} = (ab^\top + ba^\top)X",
        source="derived, the row-space twin of " + _CB + "(77)",
        topic="quadratic",
        symbols={"X": "n m", "a": "n", "b": "n"},
        wrt="X",
        function=lambda s: s.a @ s.X @ s.X.T @ s.b,
        closed_form=lambda s: (ops.outer(s.a, s.b) + ops.outer(s.b, s.a)) @ s.X,
    ),
    entry(
        name="quadratic-affine-bilinear",
        title="(Bx + b)ᵀC(Dx + d)",
        latex=r"\frac{\partial\,(Bx + b)^\top C (Dx + d)}{\partial x} = B^\top C (Dx + d) + "
        r"D^\top C^\top (Bx + b)",
        source=_CB + "(78)",
        topic="quadratic",
        symbols={"x": "n", "B": "k n", "b": "k", "C": "k p", "D": "p n", "d": "p"},
        wrt="x",
        function=lambda s: (s.B @ s.x + s.b) @ s.C @ (s.D @ s.x + s.d),
        closed_form=lambda s: s.B.T @ s.C @ (s.D @ s.x + s.d)
        + s.D.T @ s.C.T @ (s.B @ s.x + s.b),
    ),
    entry(
        name="quadratic-bXtDXc",
        title="bᵀXᵀDXc",
        latex=r"\frac{\partial\, b^\top X^\top D X c}{\partial X} = D^\top "
        r"X b c^\top + D X c b^\top",
        source=_CB + "(82)",
        topic="quadratic",
        symbols={"X": "n m", "D": "n n", "b": "m", "c": "m"},
        wrt="X",
        function=lambda s: s.b @ s.X.T @ s.D @ s.X @ s.c,
        closed_form=lambda s: s.D.T @ s.X @ ops.outer(s.b, s.c) + s.D @ s.X @ ops.outer(s.c, s.b),
    ),
    entry(
        name="quadratic-Xb-plus-c-D",
        title="(Xb + c)ᵀD(Xb + c)",
        latex=r"\frac{\partial}{\partial X}(Xb + c)^\top D (Xb + c) = (D + D^\top)(Xb + c)b^\top",
        source=_CB + "(83)",
        topic="quadratic",
        symbols={"X": "n m", "b": "m", "c": "n", "D": "n n"},
        wrt="X",
        function=lambda s: (s.X @ s.b + s.c) @ s.D @ (s.X @ s.b + s.c),
        closed_form=lambda s: ops.outer((s.D + s.D.T) @ (s.X @ s.b + s.c), s.b),
    ),
    entry(
        name="quadratic-x-As-W-wrt-s",
        title="(x − As)ᵀW(x − As) wrt s, general W",
        latex=r"\frac{\partial}{\partial s}(x - As)^\top W (x - As) = -A^\top (W + W^\top)(x - As)",
        source=_CB + "(84) and MML (5.107), general form",
        topic="quadratic",
        symbols={"x": "m", "A": "m n", "s": "n", "W": "m m"},
        wrt="s",
        function=lambda s: _r(s) @ s.W @ _r(s),
        closed_form=lambda s: -(s.A.T @ (s.W + s.W.T) @ _r(s)),
        notes="""Trap: the printed −2AᵀW(x − As) assumes W symmetric (mml-x-As-W-wrt-s); only
        the symmetric part of W enters a quadratic form.""",
    ),
    entry(
        name="quadratic-x-s-W-wrt-x",
        title="(x − s)ᵀW(x − s) wrt x, W symmetric",
        latex=r"\frac{\partial}{\partial x}(x - s)^\top W (x - s) = 2W(x - s)",
        source=_CB + "(85)",
        topic="quadratic",
        symbols={"x": "n", "s": "n", "W": "n n"},
        conditions={"W": "symmetric"},
        wrt="x",
        function=lambda s: _d(s) @ s.W @ _d(s),
        closed_form=lambda s: 2 * (s.W @ _d(s)),
        notes=_SYMMETRIC_W,
    ),
    entry(
        name="quadratic-x-s-W-wrt-s",
        title="(x − s)ᵀW(x − s) wrt s, W symmetric",
        latex=r"\frac{\partial}{\partial s}(x - s)^\top W (x - s) = -2W(x - s)",
        source=_CB + "(86)",
        topic="quadratic",
        symbols={"x": "n", "s": "n", "W": "n n"},
        conditions={"W": "symmetric"},
        wrt="s",
        function=lambda s: _d(s) @ s.W @ _d(s),
        closed_form=lambda s: -2 * (s.W @ _d(s)),
        notes=_SYMMETRIC_W,
    ),
    entry(
        name="quadratic-x-As-W-wrt-x",
        title="(x − As)ᵀW(x − As) wrt x, W symmetric",
        latex=r"\frac{\partial}{\partial x}(x - As)^\top W (x - As) = 2W(x - As)",
        source=_CB + "(87)",
        topic="quadratic",
        symbols={"x": "m", "A": "m n", "s": "n", "W": "m m"},
        conditions={"W": "symmetric"},
        wrt="x",
        function=lambda s: _r(s) @ s.W @ _r(s),
        closed_form=lambda s: 2 * (s.W @ _r(s)),
        notes=_SYMMETRIC_W,
    ),
    entry(
        name="quadratic-x-As-W-wrt-A",
        title="(x − As)ᵀW(x − As) wrt A, W symmetric",
        latex=r"\frac{\partial}{\partial A}(x - As)^\top W (x - As) = -2W(x - As)s^\top",
        source=_CB + "(88)",
        topic="quadratic",
        symbols={"x": "m", "A": "m n", "s": "n", "W": "m m"},
        conditions={"W": "symmetric"},
        wrt="A",
        function=lambda s: _r(s) @ s.W @ _r(s),
        closed_form=lambda s: -2 * ops.outer(s.W @ _r(s), s.s),
        notes=_SYMMETRIC_W,
    ),
    entry(
        name="quadratic-x-As-W-wrt-W",
        title="(x − As)ᵀW(x − As) wrt W, general W",
        latex=r"\frac{\partial}{\partial W}(x - As)^\top W (x - As) = (x - As)(x - As)^\top",
        source="derived (the form is linear in W; " + _CB + "(72) with a = x − As)",
        topic="quadratic",
        symbols={"x": "m", "A": "m n", "s": "n", "W": "m m"},
        wrt="W",
        function=lambda s: _r(s) @ s.W @ _r(s),
        closed_form=lambda s: ops.outer(_r(s), _r(s)),
        notes="For a symmetric W see quadratic-x-As-W-wrt-W-symmetric.",
    ),
    entry(
        name="quadratic-aX3b",
        title="aᵀXⁿb with n = 3",
        latex=r"\frac{\partial}{\partial X}a^\top X^n b = \sum_{r=0}^{n-1}(X^r)^\top a b^\top"
        r"(X^{n-1-r})^\top",
        source=_CB + "(91)",
        topic="quadratic",
        symbols={"X": "n n", "a": "n", "b": "n"},
        wrt="X",
        function=lambda s: s.a @ ops.matrix_power(s.X, 3) @ s.b,
        closed_form=lambda s: add(
            [
                ops.outer(s.a, s.b) @ (s.X @ s.X).T,
                s.X.T @ ops.outer(s.a, s.b) @ s.X.T,
                (s.X @ s.X).T @ ops.outer(s.a, s.b),
            ]
        ),
    ),
    entry(
        name="quadratic-aXntXnb",
        title="aᵀ(Xⁿ)ᵀXⁿb with n = 2 (corrected)",
        latex=r"\frac{\partial}{\partial X}a^\top (X^n)^\top X^n b = \sum_{r=0}^{n-1}(X^r)^\top "
        r"X^n (ab^\top + ba^\top)(X^{n-1-r})^\top",
        source=_CB + "(92), corrected",
        topic="quadratic",
        symbols={"X": "n n", "a": "n", "b": "n"},
        wrt="X",
        function=lambda s: s.a @ (s.X @ s.X).T @ (s.X @ s.X) @ s.b,
        closed_form=lambda s: (
            (s.X @ s.X) @ (ops.outer(s.a, s.b) + ops.outer(s.b, s.a)) @ s.X.T
            + s.X.T @ (s.X @ s.X) @ (ops.outer(s.a, s.b) + ops.outer(s.b, s.a))
        ),
        notes="""Trap: the published sum's first term, X^(n−1−r) abᵀ (Xⁿ)ᵀ X^r, is the
        transpose of the correct (X^r)ᵀ Xⁿ baᵀ (X^(n−1−r))ᵀ.  Already at n = 1, where the
        function is aᵀXᵀXb with gradient X(abᵀ + baᵀ) by (77), the published form gives
        abᵀXᵀ + Xabᵀ.  The verified form here is Σ_r (X^r)ᵀ Xⁿ (abᵀ + baᵀ) (X^(n−1−r))ᵀ.""",
    ),
    entry(
        name="quadratic-sAr-chain",
        title="sᵀAr with s = tanh(Bx), r = Cx + c",
        latex=r"\frac{\partial}{\partial x}s^\top A r = "
        r"\left[\frac{\partial s}{\partial x}\right]^\top"
        r" A r + \left[\frac{\partial r}{\partial x}\right]^\top A^\top s",
        source=_CB + "(93)",
        topic="quadratic",
        symbols={"x": "n", "B": "k n", "A": "k p", "C": "p n", "c": "p"},
        wrt="x",
        function=lambda s: ops.tanh(s.B @ s.x) @ s.A @ (s.C @ s.x + s.c),
        closed_form=lambda s: (ops.diag(1 - ops.tanh(s.B @ s.x) ** 2) @ s.B).T
        @ s.A
        @ (s.C @ s.x + s.c)
        + s.C.T @ s.A.T @ ops.tanh(s.B @ s.x),
        notes="The rule holds for any differentiable s(x), r(x); here ∂s/∂x = diag(1 − s²)B.",
    ),
    entry(
        name="quadratic-rayleigh-ratio",
        title="Ratio of quadratic forms, ‖Ax‖²/‖Bx‖²",
        latex=r"\frac{\partial}{\partial x}\frac{x^\top A^\top A x}{x^\top B^\top B x} = "
        r"\frac{2A^\top A x}{x^\top B^\top B x} - \frac{2\,x^\top A^\top A x\, B^\top B x}"
        r"{(x^\top B^\top B x)^2}",
        source=_CBS + "(94)–(95)",
        topic="quadratic",
        symbols={"x": "n", "A": "k n", "B": "p n"},
        conditions={"B": "full column rank"},
        wrt="x",
        function=lambda s: (s.x @ s.A.T @ s.A @ s.x) / (s.x @ s.B.T @ s.B @ s.x),
        closed_form=lambda s: 2 / (s.x @ s.B.T @ s.B @ s.x) * (s.A.T @ s.A @ s.x)
        - 2 * (s.x @ s.A.T @ s.A @ s.x) / (s.x @ s.B.T @ s.B @ s.x) ** 2 * (s.B.T @ s.B @ s.x),
        notes="""The first denominator is xᵀBᵀBx (the transpose on the first B is easy to
        lose).  B has full column rank so the denominator is positive.""",
        sizes=[{"n": 2, "k": 3, "p": 3}, {"n": 3, "k": 2, "p": 4}],
    ),
    entry(
        name="quadratic-xtAx-plus-btx",
        title="Gradient of xᵀAx + bᵀx",
        latex=r"\nabla_x (x^\top A x + b^\top x) = (A + A^\top)x + b",
        source=_CBS + "(96)–(97)",
        topic="quadratic",
        symbols={"x": "n", "A": "n n", "b": "n"},
        wrt="x",
        function=lambda s: s.x @ s.A @ s.x + s.b @ s.x,
        closed_form=lambda s: (s.A + s.A.T) @ s.x + s.b,
    ),
    entry(
        name="quadratic-product-of-linear",
        title="Product of two linear forms, (aᵀx)(bᵀx)",
        latex=r"\frac{\partial\,(a^\top x)(b^\top x)}{\partial x} = a\,b^\top x + b\,a^\top x",
        source="product rule, MML (5.46), with " + _CB + "(69)",
        topic="quadratic",
        symbols={"x": "n", "a": "n", "b": "n"},
        wrt="x",
        function=lambda s: (s.a @ s.x) * (s.b @ s.x),
        closed_form=lambda s: (s.b @ s.x) * s.a + (s.a @ s.x) * s.b,
        notes="The same as the quadratic form xᵀ(abᵀ)x, gradient (abᵀ + baᵀ)x.",
    ),
    entry(
        name="quadratic-mahalanobis-wrt-mu",
        title="Mahalanobis form (x − μ)ᵀS⁻¹(x − μ) wrt μ, S symmetric positive definite",
        latex=r"\frac{\partial}{\partial \mu}(x - \mu)^\top S^{-1}(x - \mu) = -2S^{-1}(x - \mu)",
        source=_CB + "(86) with W = S⁻¹",
        topic="quadratic",
        symbols={"x": "n", "mu": "n", "S": "n n"},
        conditions={"S": "positive definite"},
        wrt="mu",
        function=lambda s: (s.x - s.mu) @ ops.inv(s.S) @ (s.x - s.mu),
        closed_form=lambda s: -2 * (ops.inv(s.S) @ (s.x - s.mu)),
    ),
    entry(
        name="quadratic-mahalanobis-wrt-S",
        title="Mahalanobis form (x − μ)ᵀS⁻¹(x − μ) wrt S, general S",
        latex=r"\frac{\partial}{\partial S}(x - \mu)^\top S^{-1}(x - \mu) = "
        r"-S^{-\top}(x - \mu)(x - \mu)^\top S^{-\top}",
        source=_CB + "(61) with a = b = x − μ",
        topic="quadratic",
        symbols={"x": "n", "mu": "n", "S": "n n"},
        conditions={"S": "invertible"},
        wrt="S",
        function=lambda s: (s.x - s.mu) @ ops.inv(s.S) @ (s.x - s.mu),
        closed_form=lambda s: -(
            ops.inv(s.S).T @ ops.outer(s.x - s.mu, s.x - s.mu) @ ops.inv(s.S).T
        ),
        notes="For a symmetric S (a covariance) see symmetric-mahalanobis-wrt-S.",
    ),
)

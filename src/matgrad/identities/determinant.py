"""Derivatives of determinants: Matrix Cookbook (2012) section 2.1 (layer 4).

matgrad differentiates ``det`` through the adjugate (``d det X = tr(adj(X) dX)``),
so its gradient ``adj(X)ᵀ`` is finite at singular X too, where the textbook form
``det(X) X⁻ᵀ`` is undefined (entry det-X-singular).
"""

from __future__ import annotations

from matgrad import ops
from matgrad.identities._record import Identity, Symbols, entry, pencil
from matgrad.ir.expr import Expr

__all__ = ["ENTRIES"]

_CB = "Matrix Cookbook (2012) eq. "


def _xtax(s: Symbols) -> Expr:
    return s.X.T @ s.A @ s.X


ENTRIES: tuple[Identity, ...] = (
    entry(
        name="det-X",
        title="Determinant, det(X)",
        latex=r"\frac{\partial \det(X)}{\partial X} = \det(X)\,X^{-\top}",
        source=_CB + "(49)",
        topic="determinant",
        symbols={"X": "n n"},
        conditions={"X": "invertible"},
        wrt="X",
        function=lambda s: ops.det(s.X),
        closed_form=lambda s: ops.det(s.X) * ops.inv(s.X).T,
        notes="""The closed form needs X invertible; the derivative itself is adj(X)ᵀ
        (the cofactor matrix) for every X, and that is what matgrad computes
        (det-X-singular).""",
    ),
    entry(
        name="det-X-singular",
        title="Determinant at a singular matrix: the cofactor matrix adj(X)ᵀ",
        latex=r"\frac{\partial \det(X)}{\partial X} = \operatorname{adj}(X)^\top",
        source=_CB + "(41) (Jacobi's formula, d det X = tr(adj(X) dX))",
        topic="determinant",
        symbols={"X": "n n"},
        conditions={"X": "singular"},
        wrt="X",
        function=lambda s: ops.det(s.X),
        closed_form=lambda s: ops.adj(s.X).T,
        notes="""Trap: det(X) X⁻ᵀ is 0 · ∞ at a singular X, but the derivative exists and is
        the transposed adjugate, non-zero when the corank is 1.  matgrad evaluates the
        adjugate through an SVD, so this works at exactly singular X (autograd raises
        and torch returns zeros here).  Values are drawn with rank n − 1.""",
    ),
    entry(
        name="det-AXB",
        title="Determinant of a linear form, det(AXB), all square",
        latex=r"\frac{\partial \det(AXB)}{\partial X} = \det(AXB)\,X^{-\top}",
        source=_CB + "(51)",
        topic="determinant",
        symbols={"A": "n n", "X": "n n", "B": "n n"},
        conditions={"X": "invertible"},
        wrt="X",
        function=lambda s: ops.det(s.A @ s.X @ s.B),
        closed_form=lambda s: ops.det(s.A @ s.X @ s.B) * ops.inv(s.X).T,
        notes="""Needs X square and invertible; A and B drop out of the direction because
        det(AXB) = det(A) det(X) det(B).  For rectangular X see det-AXB-rectangular.""",
    ),
    entry(
        name="det-AXB-rectangular",
        title="Determinant of a linear form, det(AXB), X rectangular",
        latex=r"\frac{\partial \det(AXB)}{\partial X} = \det(AXB)\,A^\top (AXB)^{-\top} B^\top",
        source="derived from " + _CB + "(46); reduces to (51) for square X",
        topic="determinant",
        symbols={"A": "k n", "X": "n m", "B": "m k"},
        conditions={"A": "full row rank", "B": "full column rank"},
        wrt="X",
        function=lambda s: ops.det(s.A @ s.X @ s.B),
        closed_form=lambda s: ops.det(s.A @ s.X @ s.B)
        * (s.A.T @ ops.inv(s.A @ s.X @ s.B).T @ s.B.T),
        notes="""The general form: M = AXB is k×k and must be invertible; X may be n×m with
        k ≤ n, m.  The cookbook's X⁻ᵀ form (51) only makes sense for square X.""",
        sizes=[{"k": 2, "n": 3, "m": 4}, {"k": 2, "n": 4, "m": 3}],
    ),
    entry(
        name="det-XtAX-square",
        title="det(XᵀAX), X square",
        latex=r"\frac{\partial \det(X^\top AX)}{\partial X} = 2\det(X^\top AX)\,X^{-\top}",
        source=_CB + "(52)",
        topic="determinant",
        symbols={"X": "n n", "A": "n n"},
        conditions={"X": "invertible", "A": "invertible"},
        wrt="X",
        function=lambda s: ops.det(_xtax(s)),
        closed_form=lambda s: 2 * ops.det(_xtax(s)) * ops.inv(s.X).T,
        notes="Only for square invertible X: then det(XᵀAX) = det(A) det(X)².",
    ),
    entry(
        name="det-XtAX-symmetric",
        title="det(XᵀAX), X rectangular, A symmetric",
        latex=r"\frac{\partial \det(X^\top AX)}{\partial X} = 2\det(X^\top AX)\,AX(X^\top AX)^{-1}",
        source=_CB + "(53)",
        topic="determinant",
        symbols={"X": "n m", "A": "n n"},
        conditions={"X": "full column rank", "A": "positive definite"},
        wrt="X",
        function=lambda s: ops.det(_xtax(s)),
        closed_form=lambda s: 2 * ops.det(_xtax(s)) * (s.A @ s.X @ ops.inv(_xtax(s))),
        notes="""Needs A symmetric; drawn positive definite with X of full column rank so
        that XᵀAX is invertible.  For a general A see det-XtAX.""",
        sizes=[{"n": 3, "m": 2}, {"n": 4, "m": 2}],
    ),
    entry(
        name="det-XtAX",
        title="det(XᵀAX), X rectangular, A general",
        latex=r"\frac{\partial \det(X^\top AX)}{\partial X} = \det(X^\top "
        r"AX)\left(AX(X^\top AX)^{-1}"
        r" + A^\top X(X^\top A^\top X)^{-1}\right)",
        source=_CB + "(54)",
        topic="determinant",
        symbols={"X": "n m", "A": "n n"},
        conditions={"X": "full column rank", "A": "positive definite part"},
        wrt="X",
        function=lambda s: ops.det(_xtax(s)),
        closed_form=lambda s: ops.det(_xtax(s))
        * (s.A @ s.X @ ops.inv(_xtax(s)) + s.A.T @ s.X @ ops.inv(s.X.T @ s.A.T @ s.X)),
        notes="""A is drawn with a positive definite symmetric part, which keeps XᵀAX
        invertible for X of full column rank.""",
        sizes=[{"n": 3, "m": 2}, {"n": 4, "m": 3}],
    ),
    entry(
        name="logdet-XtAX",
        title="log|det(XᵀAX)|, X rectangular, A general",
        latex=r"\frac{\partial \ln|\det(X^\top AX)|}{\partial X} = AX(X^\top AX)^{-1} + "
        r"A^\top X(X^\top A^\top X)^{-1}",
        source="derived from " + _CB + "(54)",
        topic="determinant",
        symbols={"X": "n m", "A": "n n"},
        conditions={"X": "full column rank", "A": "positive definite part"},
        wrt="X",
        function=lambda s: ops.logdet(_xtax(s)),
        closed_form=lambda s: s.A @ s.X @ ops.inv(_xtax(s))
        + s.A.T @ s.X @ ops.inv(s.X.T @ s.A.T @ s.X),
        sizes=[{"n": 3, "m": 2}, {"n": 4, "m": 3}],
    ),
    entry(
        name="logdet-XtX",
        title="log det(XᵀX), X of full column rank",
        latex=r"\frac{\partial \ln\det(X^\top X)}{\partial X} = 2(X^{+})^\top = 2X(X^\top X)^{-1}",
        source=_CB + "(55)",
        topic="determinant",
        symbols={"X": "n m"},
        conditions={"X": "full column rank"},
        wrt="X",
        function=lambda s: ops.logdet(s.X.T @ s.X),
        closed_form=lambda s: 2 * (s.X @ ops.inv(s.X.T @ s.X)),
        notes="""X⁺ = (XᵀX)⁻¹Xᵀ is the pseudo-inverse of a matrix of full column rank.  The
        companion (56), the derivative with respect to X⁺, treats X⁺ as the variable and
        cannot be stated with X as matgrad's symbol.""",
        sizes=[{"n": 3, "m": 2}, {"n": 4, "m": 3}],
    ),
    entry(
        name="logdet-X",
        title="Log-determinant, log|det X|",
        latex=r"\frac{\partial \ln|\det(X)|}{\partial X} = X^{-\top}",
        source=_CB + "(57)",
        topic="determinant",
        symbols={"X": "n n"},
        conditions={"X": "invertible"},
        wrt="X",
        function=lambda s: ops.logdet(s.X),
        closed_form=lambda s: ops.inv(s.X).T,
        notes="""matgrad's logdet is log|det X|, defined for negative determinants too; the
        gradient is the same.  For symmetric X see logdet-X-symmetric.""",
    ),
    entry(
        name="det-X3",
        title="Determinant of a power, det(Xᵏ) with k = 3",
        latex=r"\frac{\partial \det(X^k)}{\partial X} = k\det(X^k)\,X^{-\top}",
        source=_CB + "(58)",
        topic="determinant",
        symbols={"X": "n n"},
        conditions={"X": "invertible"},
        wrt="X",
        function=lambda s: ops.det(ops.matrix_power(s.X, 3)),
        closed_form=lambda s: 3 * ops.det(ops.matrix_power(s.X, 3)) * ops.inv(s.X).T,
    ),
    entry(
        name="logdet-AXB",
        title="log|det(AXB)|, all square",
        latex=r"\frac{\partial \ln|\det(AXB)|}{\partial X} = X^{-\top}",
        source="derived from " + _CB + "(51)",
        topic="determinant",
        symbols={"A": "n n", "X": "n n", "B": "n n"},
        conditions={"A": "invertible", "X": "invertible", "B": "invertible"},
        wrt="X",
        function=lambda s: ops.logdet(s.A @ s.X @ s.B),
        closed_form=lambda s: ops.inv(s.X).T,
        notes="A and B disappear: log|det(AXB)| = log|det A| + log|det X| + log|det B|.",
    ),
    entry(
        name="det-pencil",
        title="Determinant along a line, d/dt det(A + tB)",
        latex=r"\frac{d \det(Y)}{dt} = \det(Y)\operatorname{tr}\left(Y^{-1}\frac{dY}{dt}\right),"
        r"\quad Y = A + tB",
        source=_CB + "(46) (general form)",
        topic="determinant",
        symbols={"t": "", "A": "n n", "B": "n n"},
        conditions={"A": "invertible"},
        wrt="t",
        function=lambda s: ops.det(pencil(s)),
        closed_form=lambda s: ops.det(pencil(s)) * ops.trace(ops.inv(pencil(s)) @ s.B),
        notes="A scalar variable t; Y(t) = A + tB is invertible near the random t drawn.",
    ),
    entry(
        name="logdet-pencil",
        title="Log-determinant along a line, d/dt log|det(A + tB)|",
        latex=r"\frac{d \ln|\det(Y)|}{dt} = \operatorname{tr}\left(Y^{-1}\frac{dY}{dt}\right),"
        r"\quad Y = A + tB",
        source=_CB + "(43)",
        topic="determinant",
        symbols={"t": "", "A": "n n", "B": "n n"},
        conditions={"A": "invertible"},
        wrt="t",
        function=lambda s: ops.logdet(pencil(s)),
        closed_form=lambda s: ops.trace(ops.inv(pencil(s)) @ s.B),
    ),
    entry(
        name="det-scalar-multiple",
        title="Determinant of a scalar multiple, d/dc det(cX)",
        latex=r"\frac{d \det(cX)}{dc} = n\,c^{n-1}\det(X)",
        source="Matrix Cookbook (2012) §1.2, eq. (19) (det(cA) = cⁿ det A), differentiated",
        topic="determinant",
        symbols={"c": "", "X": "n n"},
        wrt="c",
        function=lambda s: ops.det(s.c * s.X),
        closed_form=lambda s: s.size("n") * s.c ** (s.size("n") - 1) * ops.det(s.X),
    ),
)

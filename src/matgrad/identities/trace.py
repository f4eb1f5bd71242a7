"""Derivatives of traces: Matrix Cookbook (2012) section 2.5 (layer 4).

The cookbook writes ``∂f/∂X`` of a scalar ``f`` with ``X``'s shape, as matgrad
does, so its trace identities read here exactly as printed.
"""

from __future__ import annotations

from matgrad import ops
from matgrad.identities._record import Identity, Symbols, entry
from matgrad.ir.expr import Expr, add

__all__ = ["ENTRIES"]

_CB = "Matrix Cookbook (2012) eq. "


def _gram_c(s: Symbols) -> Expr:
    """``XᵀCX``."""
    return s.X.T @ s.C @ s.X


ENTRIES: tuple[Identity, ...] = (
    entry(
        name="trace-X",
        title="Trace, tr(X)",
        latex=r"\frac{\partial \operatorname{tr}(X)}{\partial X} = I",
        source=_CB + "(99)",
        topic="trace",
        symbols={"X": "n n"},
        wrt="X",
        function=lambda s: ops.trace(s.X),
        closed_form=lambda s: s.eye("n"),
    ),
    entry(
        name="trace-XA",
        title="Trace of a product, tr(XA)",
        latex=r"\frac{\partial \operatorname{tr}(XA)}{\partial X} = A^\top",
        source=_CB + "(100)",
        topic="trace",
        symbols={"X": "n m", "A": "m n"},
        wrt="X",
        function=lambda s: ops.trace(s.X @ s.A),
        closed_form=lambda s: s.A.T,
        notes="X need not be square: tr(XA) is defined whenever XA is.",
    ),
    entry(
        name="trace-AX",
        title="Trace of a product, tr(AX)",
        latex=r"\frac{\partial \operatorname{tr}(AX)}{\partial X} = A^\top",
        source=_CB + "(100), by tr(AX) = tr(XA)",
        topic="trace",
        symbols={"X": "n m", "A": "m n"},
        wrt="X",
        function=lambda s: ops.trace(s.A @ s.X),
        closed_form=lambda s: s.A.T,
    ),
    entry(
        name="trace-AXB",
        title="Trace of a linear form, tr(AXB)",
        latex=r"\frac{\partial \operatorname{tr}(AXB)}{\partial X} = A^\top B^\top",
        source=_CB + "(101); MML Exercise 5.6",
        topic="trace",
        symbols={"A": "k n", "X": "n m", "B": "m k"},
        wrt="X",
        function=lambda s: ops.trace(s.A @ s.X @ s.B),
        closed_form=lambda s: s.A.T @ s.B.T,
    ),
    entry(
        name="trace-AXtB",
        title="Trace of a linear form in the transpose, tr(AXᵀB)",
        latex=r"\frac{\partial \operatorname{tr}(AX^\top B)}{\partial X} = BA",
        source=_CB + "(102)",
        topic="trace",
        symbols={"A": "k m", "X": "n m", "B": "n k"},
        wrt="X",
        function=lambda s: ops.trace(s.A @ s.X.T @ s.B),
        closed_form=lambda s: s.B @ s.A,
    ),
    entry(
        name="trace-XtA",
        title="Frobenius inner product, tr(XᵀA)",
        latex=r"\frac{\partial \operatorname{tr}(X^\top A)}{\partial X} = A",
        source=_CB + "(103)",
        topic="trace",
        symbols={"X": "n m", "A": "n m"},
        wrt="X",
        function=lambda s: ops.trace(s.X.T @ s.A),
        closed_form=lambda s: s.A,
    ),
    entry(
        name="trace-AXt",
        title="Frobenius inner product, tr(AXᵀ)",
        latex=r"\frac{\partial \operatorname{tr}(AX^\top)}{\partial X} = A",
        source=_CB + "(104)",
        topic="trace",
        symbols={"X": "n m", "A": "n m"},
        wrt="X",
        function=lambda s: ops.trace(s.A @ s.X.T),
        closed_form=lambda s: s.A,
    ),
    entry(
        name="trace-kron-AX",
        title="Trace of a Kronecker product, tr(A ⊗ X)",
        latex=r"\frac{\partial \operatorname{tr}(A \otimes X)}{\partial X} = "
        r"\operatorname{tr}(A)\, I",
        source=_CB + "(105)",
        topic="trace",
        symbols={"A": "k k", "X": "n n"},
        wrt="X",
        function=lambda s: ops.trace(ops.kron(s.A, s.X)),
        closed_form=lambda s: ops.trace(s.A) * s.eye("n"),
        notes="tr(A ⊗ X) = tr(A) tr(X).",
    ),
    entry(
        name="trace-X2",
        title="Trace of a square, tr(X²)",
        latex=r"\frac{\partial \operatorname{tr}(X^2)}{\partial X} = 2X^\top",
        source=_CB + "(106)",
        topic="trace",
        symbols={"X": "n n"},
        wrt="X",
        function=lambda s: ops.trace(s.X @ s.X),
        closed_form=lambda s: 2 * s.X.T,
    ),
    entry(
        name="trace-X2B",
        title="tr(X²B)",
        latex=r"\frac{\partial \operatorname{tr}(X^2 B)}{\partial X} = (XB + BX)^\top",
        source=_CB + "(107)",
        topic="trace",
        symbols={"X": "n n", "B": "n n"},
        wrt="X",
        function=lambda s: ops.trace(s.X @ s.X @ s.B),
        closed_form=lambda s: (s.X @ s.B + s.B @ s.X).T,
    ),
    entry(
        name="trace-XtBX",
        title="Quadratic trace form, tr(XᵀBX)",
        latex=r"\frac{\partial \operatorname{tr}(X^\top B X)}{\partial X} = BX + B^\top X",
        source=_CB + "(108)",
        topic="trace",
        symbols={"X": "n m", "B": "n n"},
        wrt="X",
        function=lambda s: ops.trace(s.X.T @ s.B @ s.X),
        closed_form=lambda s: s.B @ s.X + s.B.T @ s.X,
        notes="2BX only for symmetric B.",
    ),
    entry(
        name="trace-BXXt",
        title="tr(BXXᵀ)",
        latex=r"\frac{\partial \operatorname{tr}(BXX^\top)}{\partial X} = BX + B^\top X",
        source=_CB + "(109)",
        topic="trace",
        symbols={"X": "n m", "B": "n n"},
        wrt="X",
        function=lambda s: ops.trace(s.B @ s.X @ s.X.T),
        closed_form=lambda s: s.B @ s.X + s.B.T @ s.X,
    ),
    entry(
        name="trace-XXtB",
        title="tr(XXᵀB)",
        latex=r"\frac{\partial \operatorname{tr}(XX^\top B)}{\partial X} = BX + B^\top X",
        source=_CB + "(110)",
        topic="trace",
        symbols={"X": "n m", "B": "n n"},
        wrt="X",
        function=lambda s: ops.trace(s.X @ s.X.T @ s.B),
        closed_form=lambda s: s.B @ s.X + s.B.T @ s.X,
    ),
    entry(
        name="trace-XBXt",
        title="tr(XBXᵀ)",
        latex=r"\frac{\partial \operatorname{tr}(XBX^\top)}{\partial X} = XB^\top + XB",
        source=_CB + "(111)",
        topic="trace",
        symbols={"X": "n m", "B": "m m"},
        wrt="X",
        function=lambda s: ops.trace(s.X @ s.B @ s.X.T),
        closed_form=lambda s: s.X @ s.B.T + s.X @ s.B,
    ),
    entry(
        name="trace-BXtX",
        title="tr(BXᵀX)",
        latex=r"\frac{\partial \operatorname{tr}(BX^\top X)}{\partial X} = XB^\top + XB",
        source=_CB + "(112)",
        topic="trace",
        symbols={"X": "n m", "B": "m m"},
        wrt="X",
        function=lambda s: ops.trace(s.B @ s.X.T @ s.X),
        closed_form=lambda s: s.X @ s.B.T + s.X @ s.B,
    ),
    entry(
        name="trace-XtXB",
        title="tr(XᵀXB)",
        latex=r"\frac{\partial \operatorname{tr}(X^\top XB)}{\partial X} = XB^\top + XB",
        source=_CB + "(113)",
        topic="trace",
        symbols={"X": "n m", "B": "m m"},
        wrt="X",
        function=lambda s: ops.trace(s.X.T @ s.X @ s.B),
        closed_form=lambda s: s.X @ s.B.T + s.X @ s.B,
    ),
    entry(
        name="trace-AXBX",
        title="tr(AXBX)",
        latex=r"\frac{\partial \operatorname{tr}(AXBX)}{\partial X} = A^\top X^\top B^\top"
        r" + B^\top X^\top A^\top",
        source=_CB + "(114)",
        topic="trace",
        symbols={"A": "m n", "X": "n m", "B": "m n"},
        wrt="X",
        function=lambda s: ops.trace(s.A @ s.X @ s.B @ s.X),
        closed_form=lambda s: s.A.T @ s.X.T @ s.B.T + s.B.T @ s.X.T @ s.A.T,
        notes="X may be n×m with A, B m×n.",
    ),
    entry(
        name="trace-XtX",
        title="Squared Frobenius norm as a trace, tr(XᵀX)",
        latex=r"\frac{\partial \operatorname{tr}(X^\top X)}{\partial X} = 2X",
        source=_CB + "(115)",
        topic="trace",
        symbols={"X": "n m"},
        wrt="X",
        function=lambda s: ops.trace(s.X.T @ s.X),
        closed_form=lambda s: 2 * s.X,
    ),
    entry(
        name="trace-XXt",
        title="Squared Frobenius norm as a trace, tr(XXᵀ)",
        latex=r"\frac{\partial \operatorname{tr}(XX^\top)}{\partial X} = 2X",
        source=_CB + "(115)",
        topic="trace",
        symbols={"X": "n m"},
        wrt="X",
        function=lambda s: ops.trace(s.X @ s.X.T),
        closed_form=lambda s: 2 * s.X,
    ),
    entry(
        name="trace-BtXtCXB",
        title="tr(BᵀXᵀCXB)",
        latex=r"\frac{\partial \operatorname{tr}(B^\top X^\top C X B)}{\partial X} = "
        r"C^\top X B B^\top + C X B B^\top",
        source=_CB + "(116)",
        topic="trace",
        symbols={"B": "m k", "X": "n m", "C": "n n"},
        wrt="X",
        function=lambda s: ops.trace(s.B.T @ s.X.T @ s.C @ s.X @ s.B),
        closed_form=lambda s: s.C.T @ s.X @ s.B @ s.B.T + s.C @ s.X @ s.B @ s.B.T,
    ),
    entry(
        name="trace-XtBXC",
        title="tr(XᵀBXC)",
        latex=r"\frac{\partial \operatorname{tr}(X^\top B X C)}{\partial X} "
        r"= BXC + B^\top X C^\top",
        source=_CB + "(117)",
        topic="trace",
        symbols={"X": "n m", "B": "n n", "C": "m m"},
        wrt="X",
        function=lambda s: ops.trace(s.X.T @ s.B @ s.X @ s.C),
        closed_form=lambda s: s.B @ s.X @ s.C + s.B.T @ s.X @ s.C.T,
    ),
    entry(
        name="trace-AXBXtC",
        title="tr(AXBXᵀC)",
        latex=r"\frac{\partial \operatorname{tr}(AXBX^\top C)}{\partial X} = A^\top C^\top X B^\top"
        r" + CAXB",
        source=_CB + "(118)",
        topic="trace",
        symbols={"A": "k n", "X": "n m", "B": "m m", "C": "n k"},
        wrt="X",
        function=lambda s: ops.trace(s.A @ s.X @ s.B @ s.X.T @ s.C),
        closed_form=lambda s: s.A.T @ s.C.T @ s.X @ s.B.T + s.C @ s.A @ s.X @ s.B,
    ),
    entry(
        name="trace-AXB-plus-C-squared",
        title="tr[(AXB + C)(AXB + C)ᵀ], the squared Frobenius norm of an affine map",
        latex=r"\frac{\partial \operatorname{tr}[(AXB + C)(AXB + C)^\top]}{\partial X} = "
        r"2A^\top (AXB + C) B^\top",
        source=_CB + "(119)",
        topic="trace",
        symbols={"A": "p n", "X": "n m", "B": "m q", "C": "p q"},
        wrt="X",
        function=lambda s: ops.trace(
            (s.A @ s.X @ s.B + s.C) @ (s.A @ s.X @ s.B + s.C).T
        ),
        closed_form=lambda s: 2 * (s.A.T @ (s.A @ s.X @ s.B + s.C) @ s.B.T),
        sizes=[{"p": 2, "n": 3, "m": 4, "q": 3}, {"p": 3, "n": 2, "m": 3, "q": 2}],
    ),
    entry(
        name="trace-kron-XX",
        title="Trace of a Kronecker square, tr(X ⊗ X)",
        latex=r"\frac{\partial \operatorname{tr}(X \otimes X)}{\partial X} = "
        r"2\operatorname{tr}(X)\, I",
        source=_CB + "(120)",
        topic="trace",
        symbols={"X": "n n"},
        wrt="X",
        function=lambda s: ops.trace(ops.kron(s.X, s.X)),
        closed_form=lambda s: 2 * ops.trace(s.X) * s.eye("n"),
        notes="tr(X ⊗ X) = tr(X)²; the Kronecker product is n²×n².",
    ),
    entry(
        name="trace-X3",
        title="Trace of a power, tr(Xᵏ) with k = 3",
        latex=r"\frac{\partial \operatorname{tr}(X^k)}{\partial X} = k\,(X^{k-1})^\top",
        source=_CB + "(121)",
        topic="trace",
        symbols={"X": "n n"},
        wrt="X",
        function=lambda s: ops.trace(ops.matrix_power(s.X, 3)),
        closed_form=lambda s: 3 * ops.matrix_power(s.X, 2).T,
        notes="Instantiated at k = 3 (and k = 4 in trace-X4).",
    ),
    entry(
        name="trace-X4",
        title="Trace of a power, tr(Xᵏ) with k = 4",
        latex=r"\frac{\partial \operatorname{tr}(X^4)}{\partial X} = 4\,(X^{3})^\top",
        source=_CB + "(121)",
        topic="trace",
        symbols={"X": "n n"},
        wrt="X",
        function=lambda s: ops.trace(ops.matrix_power(s.X, 4)),
        closed_form=lambda s: 4 * ops.matrix_power(s.X, 3).T,
    ),
    entry(
        name="trace-AX3",
        title="tr(AXᵏ) with k = 3",
        latex=r"\frac{\partial \operatorname{tr}(AX^k)}{\partial X} = \sum_{r=0}^{k-1}"
        r"(X^r A X^{k-r-1})^\top",
        source=_CB + "(122)",
        topic="trace",
        symbols={"A": "n n", "X": "n n"},
        wrt="X",
        function=lambda s: ops.trace(s.A @ ops.matrix_power(s.X, 3)),
        closed_form=lambda s: add(
            [
                (s.A @ s.X @ s.X).T,
                (s.X @ s.A @ s.X).T,
                (s.X @ s.X @ s.A).T,
            ]
        ),
    ),
    entry(
        name="trace-BtXtCXXtCXB",
        title="tr(BᵀXᵀCXXᵀCXB), a quartic trace form",
        latex=r"\frac{\partial}{\partial X}\operatorname{tr}(B^\top X^\top C X X^\top C X B) = "
        r"CXX^\top CXBB^\top + C^\top XBB^\top X^\top C^\top X + CXBB^\top X^\top CX + "
        r"C^\top XX^\top C^\top XBB^\top",
        source=_CB + "(123)",
        topic="trace",
        symbols={"B": "m k", "X": "n m", "C": "n n"},
        wrt="X",
        function=lambda s: ops.trace(s.B.T @ s.X.T @ s.C @ s.X @ s.X.T @ s.C @ s.X @ s.B),
        closed_form=lambda s: add(
            [
                s.C @ s.X @ s.X.T @ s.C @ s.X @ s.B @ s.B.T,
                s.C.T @ s.X @ s.B @ s.B.T @ s.X.T @ s.C.T @ s.X,
                s.C @ s.X @ s.B @ s.B.T @ s.X.T @ s.C @ s.X,
                s.C.T @ s.X @ s.X.T @ s.C.T @ s.X @ s.B @ s.B.T,
            ]
        ),
    ),
    entry(
        name="trace-inv-XtCX-A",
        title="tr[(XᵀCX)⁻¹A], general C",
        latex=r"\frac{\partial}{\partial X}\operatorname{tr}[(X^\top CX)^{-1}A] = "
        r"-CXM^{-1}AM^{-1} - C^\top X M^{-\top}A^\top M^{-\top},\quad M = X^\top C X",
        source=_CB + "(125), general form (the cookbook assumes C symmetric)",
        topic="trace",
        symbols={"X": "n m", "C": "n n", "A": "m m"},
        conditions={"X": "full column rank", "C": "positive definite part"},
        wrt="X",
        function=lambda s: ops.trace(ops.inv(_gram_c(s)) @ s.A),
        closed_form=lambda s: -(s.C @ s.X @ ops.inv(_gram_c(s)) @ s.A @ ops.inv(_gram_c(s)))
        - s.C.T @ s.X @ ops.inv(_gram_c(s)).T @ s.A.T @ ops.inv(_gram_c(s)).T,
        notes="""Trap: the cookbook states −CX M⁻¹(A + Aᵀ)M⁻¹ under the assumption that
        C is symmetric (so that M = XᵀCX is symmetric); for a general C that formula is
        wrong and this is the correct one.  The symmetric case is
        trace-inv-XtCX-A-symmetric.  X must have full column rank (m ≤ n) and C a
        positive definite symmetric part, so that M is invertible.""",
        sizes=[{"n": 3, "m": 2}, {"n": 4, "m": 3}],
    ),
    entry(
        name="trace-inv-XtCX-A-symmetric",
        title="tr[(XᵀCX)⁻¹A], C symmetric",
        latex=r"\frac{\partial}{\partial X}\operatorname{tr}[(X^\top CX)^{-1}A] = "
        r"-CX(X^\top CX)^{-1}(A + A^\top)(X^\top CX)^{-1}",
        source=_CB + "(125)",
        topic="trace",
        symbols={"X": "n m", "C": "n n", "A": "m m"},
        conditions={"X": "full column rank", "C": "positive definite"},
        wrt="X",
        function=lambda s: ops.trace(ops.inv(_gram_c(s)) @ s.A),
        closed_form=lambda s: -(
            s.C @ s.X @ ops.inv(_gram_c(s)) @ (s.A + s.A.T) @ ops.inv(_gram_c(s))
        ),
        notes="The cookbook's form; it needs C symmetric (see trace-inv-XtCX-A).",
        sizes=[{"n": 3, "m": 2}, {"n": 4, "m": 3}],
    ),
    entry(
        name="trace-inv-XtCX-XtBX",
        title="tr[(XᵀCX)⁻¹(XᵀBX)], general B and C",
        latex=r"\frac{\partial}{\partial X}\operatorname{tr}[M^{-1}N] = -CXM^{-1}NM^{-1} - "
        r"C^\top X M^{-\top}N^\top M^{-\top} + BXM^{-1} + B^\top X M^{-\top},\ "
        r"M = X^\top C X,\ N = X^\top B X",
        source=_CB + "(126), general form (the cookbook assumes B and C symmetric)",
        topic="trace",
        symbols={"X": "n m", "C": "n n", "B": "n n"},
        conditions={"X": "full column rank", "C": "positive definite part"},
        wrt="X",
        function=lambda s: ops.trace(ops.inv(_gram_c(s)) @ s.X.T @ s.B @ s.X),
        closed_form=lambda s: (
            -(s.C @ s.X @ ops.inv(_gram_c(s)) @ s.X.T @ s.B @ s.X @ ops.inv(_gram_c(s)))
            - s.C.T @ s.X @ ops.inv(_gram_c(s)).T @ s.X.T @ s.B.T @ s.X @ ops.inv(_gram_c(s)).T
            + s.B @ s.X @ ops.inv(_gram_c(s))
            + s.B.T @ s.X @ ops.inv(_gram_c(s)).T
        ),
        notes="""The generalized Rayleigh quotient of linear discriminant analysis.  Trap:
        the cookbook's −2CXM⁻¹NM⁻¹ + 2BXM⁻¹ needs both B and C symmetric
        (trace-inv-XtCX-XtBX-symmetric).""",
        sizes=[{"n": 3, "m": 2}, {"n": 4, "m": 3}],
    ),
    entry(
        name="trace-inv-XtCX-XtBX-symmetric",
        title="tr[(XᵀCX)⁻¹(XᵀBX)], B and C symmetric",
        latex=r"\frac{\partial}{\partial X}\operatorname{tr}[(X^\top CX)^{-1}(X^\top BX)] = "
        r"-2CX(X^\top CX)^{-1}X^\top BX(X^\top CX)^{-1} + 2BX(X^\top CX)^{-1}",
        source=_CB + "(126)",
        topic="trace",
        symbols={"X": "n m", "C": "n n", "B": "n n"},
        conditions={"X": "full column rank", "C": "positive definite", "B": "symmetric"},
        wrt="X",
        function=lambda s: ops.trace(ops.inv(_gram_c(s)) @ s.X.T @ s.B @ s.X),
        closed_form=lambda s: -2
        * (s.C @ s.X @ ops.inv(_gram_c(s)) @ s.X.T @ s.B @ s.X @ ops.inv(_gram_c(s)))
        + 2 * (s.B @ s.X @ ops.inv(_gram_c(s))),
        sizes=[{"n": 3, "m": 2}, {"n": 4, "m": 3}],
    ),
    entry(
        name="trace-inv-A-plus-XtCX-XtBX",
        title="tr[(A + XᵀCX)⁻¹(XᵀBX)], general A, B, C",
        latex=r"\frac{\partial}{\partial X}\operatorname{tr}[M^{-1}N] = -CXM^{-1}NM^{-1} - "
        r"C^\top X M^{-\top}N^\top M^{-\top} + BXM^{-1} + B^\top X M^{-\top},\ "
        r"M = A + X^\top C X,\ N = X^\top B X",
        source=_CB + "(127), general form (the cookbook assumes B and C symmetric)",
        topic="trace",
        symbols={"X": "n m", "A": "m m", "C": "n n", "B": "n n"},
        conditions={"A": "positive definite part", "C": "positive definite part"},
        wrt="X",
        function=lambda s: ops.trace(ops.inv(s.A + _gram_c(s)) @ s.X.T @ s.B @ s.X),
        closed_form=lambda s: (
            -(s.C @ s.X @ ops.inv(s.A + _gram_c(s)) @ s.X.T @ s.B @ s.X
              @ ops.inv(s.A + _gram_c(s)))
            - s.C.T @ s.X @ ops.inv(s.A + _gram_c(s)).T @ s.X.T @ s.B.T @ s.X
            @ ops.inv(s.A + _gram_c(s)).T
            + s.B @ s.X @ ops.inv(s.A + _gram_c(s))
            + s.B.T @ s.X @ ops.inv(s.A + _gram_c(s)).T
        ),
        notes="""A drops out of the derivative (it is constant) but not of M.  Trap: the
        printed −2CXM⁻¹XᵀBXM⁻¹ + 2BXM⁻¹ needs B, C and M symmetric
        (trace-inv-A-plus-XtCX-XtBX-symmetric).  A and C are drawn with positive definite
        symmetric parts, so M is invertible for every X.""",
    ),
    entry(
        name="trace-inv-A-plus-XtCX-XtBX-symmetric",
        title="tr[(A + XᵀCX)⁻¹(XᵀBX)], A, B, C symmetric",
        latex=r"\frac{\partial}{\partial X}\operatorname{tr}[M^{-1}(X^\top BX)] = "
        r"-2CXM^{-1}X^\top BXM^{-1} + 2BXM^{-1},\quad M = A + X^\top CX",
        source=_CB + "(127)",
        topic="trace",
        symbols={"X": "n m", "A": "m m", "C": "n n", "B": "n n"},
        conditions={"A": "positive definite", "C": "positive definite", "B": "symmetric"},
        wrt="X",
        function=lambda s: ops.trace(ops.inv(s.A + _gram_c(s)) @ s.X.T @ s.B @ s.X),
        closed_form=lambda s: -2
        * (s.C @ s.X @ ops.inv(s.A + _gram_c(s)) @ s.X.T @ s.B @ s.X @ ops.inv(s.A + _gram_c(s)))
        + 2 * (s.B @ s.X @ ops.inv(s.A + _gram_c(s))),
        notes="""The factor 2 needs B and C symmetric, and M = A + XᵀCX symmetric, so A
        symmetric too (the cookbook names only B and C).  With A positive definite, X may
        have any shape.""",
    ),
    entry(
        name="trace-sin-elementwise",
        title="Trace of the elementwise sine, Σᵢ sin(Xᵢᵢ)",
        latex=r"\frac{\partial}{\partial X}\sum_i \sin(X_{ii}) = I \odot \cos(X)",
        source=_CB + "(128), with sin read elementwise (the cookbook means the matrix sine)",
        topic="trace",
        symbols={"X": "n n"},
        wrt="X",
        function=lambda s: ops.trace(ops.sin(s.X)),
        closed_form=lambda s: s.eye("n") * ops.cos(s.X),
        notes="""Trap: in the cookbook sin(X) is the matrix function (its power series), and
        ∂ tr(sin X)/∂X = cos(X)ᵀ with the matrix cosine.  matgrad's sin is elementwise
        (NumPy's), so this entry is the elementwise reading: only the diagonal of X
        enters, and the gradient is diagonal.  The matrix-function form, with mg.sinm
        and mg.cosm, is trace-sinm (topic matrix-function).""",
    ),
    entry(
        name="trace-inv-X",
        title="Trace of the inverse, tr(X⁻¹)",
        latex=r"\frac{\partial \operatorname{tr}(X^{-1})}{\partial X} = -(X^{-2})^\top",
        source="Matrix Cookbook (2012) §2.5, the unnumbered rule ∂ tr F(X)/∂X = f(X)ᵀ that "
        "opens the section, with F(X) = X⁻¹, f(x) = −1/x²; also " + _CB + "(64) with A = 0",
        topic="trace",
        symbols={"X": "n n"},
        conditions={"X": "invertible"},
        wrt="X",
        function=lambda s: ops.trace(ops.inv(s.X)),
        closed_form=lambda s: -(ops.inv(s.X) @ ops.inv(s.X)).T,
        notes="""An instance of the rule ∂ tr F(X)/∂X = f(X)ᵀ for a matrix function F with
        scalar derivative f.""",
    ),
)

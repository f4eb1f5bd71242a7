"""Forms as text in matrix notation, following NumPy (layer 2): ``x @ A @ x``,
``trace(X.T @ A @ X)``, ``A ⊙ X``, ``einsum("ik,jl->ijkl", A, eye(3))``.

The identity is ``I`` where the formula language infers its size from the
context (a term of a sum, a factor of a product beside an operand that is not an
identity) and ``eye(n)`` elsewhere, so that the text parses back to the same
expression."""

from __future__ import annotations

from typing import Any

from matgrad.ir.expr import Constant, Delta, Ones, Symbol, Zero
from matgrad.printing import forms as fm
from matgrad.printing.notation import (
    ATOM,
    MUL,
    PRODUCTS,
    UNARY,
    WHERE,
    R,
    Renderer,
    array_text,
    einsum_spec,
    fraction,
    number_text,
    reciprocal,
    shape_text,
    starts_with_vector,
)

__all__ = ["TextRenderer"]


class TextRenderer(Renderer):
    """Matrix notation as NumPy writes it; ``⊙``, ``⊗`` and ``I`` are the only signs
    that are not Python."""

    def join(self, main: str, defs: list[tuple[str, str]]) -> str:
        if not defs:
            return main
        return f"{main}\n{WHERE}\n" + "\n".join(f"    {name} = {text}" for name, text in defs)

    def r_Leaf(self, form: fm.Leaf) -> R:
        node = form.node
        if isinstance(node, Symbol):
            return R(node.name, ATOM)
        if isinstance(node, Delta):  # I where the parser infers its size
            return R("I" if id(form) in self.sized else f"eye({node.shape[0]})", ATOM)
        if isinstance(node, (Zero, Ones)):
            if not node.shape:
                return R("0" if isinstance(node, Zero) else "1", ATOM)
            return R(
                f"{'zeros' if isinstance(node, Zero) else 'ones'}({shape_text(node.shape)})", ATOM
            )
        assert isinstance(node, Constant)
        if node.name:
            return R(node.name, ATOM)
        if not node.shape:
            return self.number(node.value.item())
        return R(array_text(node.value), ATOM)

    def r_Transpose(self, form: fm.Transpose) -> R:
        return R(self.wrap(self.render(form.x), ATOM) + ".T", ATOM)

    def r_MatMul(self, form: fm.MatMul) -> R:
        self.size_identities(form.factors)
        parts = []
        for k, f in enumerate(form.factors):
            r = self.render(f)
            # inlining ``v @ A`` after a factor would multiply by ``v`` first
            need = k > 0 and starts_with_vector(self.resolve(f))
            parts.append(f"({r.text})" if need else self.wrap(r, MUL, ("@",), first=k == 0))
        return R(" @ ".join(parts), MUL, "@")

    def r_Hadamard(self, form: fm.Hadamard) -> R:
        self.size_identities(form.factors)
        return self.infix(form.factors, "⊙", "⊙")

    def r_Kron(self, form: fm.Kron) -> R:
        return self.infix((form.a, form.b), "⊗", "⊗")

    def r_Mul(self, form: fm.Mul) -> R:
        numer, denom = fraction(form, self.resolve)
        text = " * ".join(self.numerator(numer)) or "1"
        for f in denom:
            text += " / " + self.wrap(self.render(f), UNARY)
        return R(text, MUL, "*")

    def _call(self, fn: str, *args: str) -> R:
        return R(f"{fn}({', '.join(args)})", ATOM)

    def r_Outer(self, form: fm.Outer) -> R:
        return self._call("outer", self.render(form.a).text, self.render(form.b).text)

    def r_Trace(self, form: fm.Trace) -> R:
        return self._call("trace", self.render(form.x).text)

    def r_DiagOf(self, form: fm.DiagOf) -> R:
        return self._call("diag", self.render(form.x).text)

    def r_DiagMat(self, form: fm.DiagMat) -> R:
        return self._call("diag", self.render(form.x).text)

    def r_Sum(self, form: fm.Sum) -> R:
        x = self.render(form.x).text
        if form.axes is None:
            return self._call("sum", x)
        axis = str(form.axes[0]) if len(form.axes) == 1 else str(form.axes)
        return self._call("sum", x, f"axis={axis}")

    def template(self, form: fm.OpForm) -> str | None:
        return form.op.notation.text

    def r_Generic(self, form: fm.Generic) -> R:
        return self._call(form.kind, *(self.render(a).text for a in form.args))

    def r_EinsumCall(self, form: fm.EinsumCall) -> R:
        spec = einsum_spec(form.indices, form.out)
        args = ", ".join(self.render(f).text for f in form.operands)
        return R(f'einsum("{spec}", {args})', ATOM)

    def times(self, c: Any, r: R) -> R:
        n = reciprocal(c)
        if n is not None and n < 0:
            return R(f"-{self.wrap(r, UNARY)} / {-n}", MUL, "*")
        if n is not None:
            return R(f"{self.wrap(r, MUL, PRODUCTS)} / {n}", MUL, "*")
        return R(f"{number_text(c)} * {self.wrap(r, MUL, PRODUCTS, first=False)}", MUL, "*")

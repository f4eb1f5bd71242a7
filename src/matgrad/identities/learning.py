"""Losses and layers of machine learning (layer 4).

Classic gradients that training code hand-writes: softmax and log-sum-exp,
logistic and cross-entropy losses, ridge regression, Gaussian likelihoods, and
factorization objectives.
"""

from __future__ import annotations

from matgrad import ops
from matgrad.identities._record import Identity, Symbols, entry
from matgrad.ir.expr import Expr

__all__ = ["ENTRIES"]


def _softmax(z: Expr) -> Expr:
    return ops.exp(z) / ops.sum(ops.exp(z))


def _margin(s: Symbols) -> Expr:
    return s.y * (s.X @ s.w)


def _gaussian_nll(s: Symbols) -> Expr:
    r = s.x - s.mu
    return 0.5 * (r @ ops.inv(s.Sigma) @ r) + 0.5 * ops.logdet(s.Sigma)


ENTRIES: tuple[Identity, ...] = (
    entry(
        name="learning-logsumexp",
        title="Gradient of log-sum-exp: the softmax",
        latex=r"\frac{\partial}{\partial x}\log\sum_i e^{x_i} = \operatorname{softmax}(x)",
        source="standard",
        topic="learning",
        symbols={"x": "n"},
        wrt="x",
        function=lambda s: ops.log(ops.sum(ops.exp(s.x))),
        closed_form=lambda s: _softmax(s.x),
    ),
    entry(
        name="learning-softmax-jacobian",
        title="Jacobian of the softmax",
        latex=r"\frac{\partial \operatorname{softmax}(x)}{\partial x} = \operatorname{diag}(p) - "
        r"pp^\top,\quad p = \operatorname{softmax}(x)",
        source="standard",
        topic="learning",
        symbols={"x": "n"},
        wrt="x",
        function=lambda s: _softmax(s.x),
        closed_form=lambda s: ops.diag(_softmax(s.x)) - ops.outer(_softmax(s.x), _softmax(s.x)),
        notes="Symmetric, and singular: softmax(x + c1) = softmax(x).",
    ),
    entry(
        name="learning-softmax-cross-entropy",
        title="Softmax cross-entropy of a linear layer, −yᵀ log softmax(Wx), wrt W",
        latex=r"\frac{\partial}{\partial W}\left(-y^\top \log\operatorname{softmax}(Wx)\right) = "
        r"\left((1^\top y)\,p - y\right)x^\top,\quad p = \operatorname{softmax}(Wx)",
        source="standard",
        topic="learning",
        symbols={"W": "k d", "x": "d", "y": "k"},
        wrt="W",
        function=lambda s: -(s.y @ ops.log(_softmax(s.W @ s.x))),
        closed_form=lambda s: ops.outer(ops.sum(s.y) * _softmax(s.W @ s.x) - s.y, s.x),
        notes="For a probability vector y (1ᵀy = 1) this is the familiar (p − y)xᵀ.",
    ),
    entry(
        name="learning-logistic-loss",
        title="Logistic loss Σ log(1 + exp(−yᵢ xᵢᵀw))",
        latex=r"\frac{\partial}{\partial w}\sum_i \log\left(1 + e^{-y_i x_i^\top w}\right) = "
        r"-X^\top\left(y \odot \sigma(-y \odot Xw)\right)",
        source="standard",
        topic="learning",
        symbols={"X": "N d", "w": "d", "y": "N"},
        wrt="w",
        function=lambda s: ops.sum(ops.log(1 + ops.exp(-_margin(s)))),
        closed_form=lambda s: -(s.X.T @ (s.y * ops.sigmoid(-_margin(s)))),
        notes="Labels yᵢ = ±1 in use; the identity holds for any real y.",
    ),
    entry(
        name="learning-binary-cross-entropy",
        title="Binary cross-entropy of a logistic model",
        latex=r"\frac{\partial}{\partial w}\left(-\sum_i y_i\log\sigma(z_i) + (1 - y_i)"
        r"\log(1 - \sigma(z_i))\right) = X^\top(\sigma(z) - y),\quad z = Xw",
        source="standard",
        topic="learning",
        symbols={"X": "N d", "w": "d", "y": "N"},
        wrt="w",
        function=lambda s: -ops.sum(
            s.y * ops.log(ops.sigmoid(s.X @ s.w))
            + (1 - s.y) * ops.log(1 - ops.sigmoid(s.X @ s.w))
        ),
        closed_form=lambda s: s.X.T @ (ops.sigmoid(s.X @ s.w) - s.y),
        notes="The sigmoid's derivative cancels the logarithm's: the residual σ(z) − y remains.",
    ),
    entry(
        name="learning-ridge",
        title="Ridge regression, ‖Xw − y‖² + λ‖w‖²",
        latex=r"\frac{\partial}{\partial w}\left(\|Xw - y\|^2 + \lambda\|w\|^2\right) = "
        r"2X^\top(Xw - y) + 2\lambda w",
        source="MML Example 5.11 with a penalty",
        topic="learning",
        symbols={"X": "N d", "w": "d", "y": "N", "lam": ""},
        conditions={"lam": "positive entries"},
        wrt="w",
        function=lambda s: ops.sum((s.X @ s.w - s.y) ** 2) + s.lam * (s.w @ s.w),
        closed_form=lambda s: 2 * (s.X.T @ (s.X @ s.w - s.y)) + 2 * s.lam * s.w,
    ),
    entry(
        name="learning-gaussian-nll-wrt-mu",
        title="Gaussian negative log-likelihood wrt the mean",
        latex=r"\frac{\partial}{\partial \mu}\left(\tfrac12(x - \mu)^\top\Sigma^{-1}(x - \mu) + "
        r"\tfrac12\ln\det\Sigma\right) = -\Sigma^{-1}(x - \mu)",
        source="the Gaussian log-density; Matrix Cookbook (2012) eq. (86)",
        topic="learning",
        symbols={"x": "n", "mu": "n", "Sigma": "n n"},
        conditions={"Sigma": "positive definite"},
        wrt="mu",
        function=_gaussian_nll,
        closed_form=lambda s: -(ops.inv(s.Sigma) @ (s.x - s.mu)),
    ),
    entry(
        name="learning-gaussian-nll-wrt-Sigma",
        title="Gaussian negative log-likelihood wrt the covariance",
        latex=r"\frac{\partial}{\partial \Sigma}\left(\tfrac12 r^\top\Sigma^{-1}r + "
        r"\tfrac12\ln\det\Sigma\right) = \tfrac12\Sigma^{-1} - \tfrac12\Sigma^{-1}rr^\top"
        r"\Sigma^{-1},\quad r = x - \mu",
        source="Matrix Cookbook (2012) eqs. (57) and (61), symmetric variable",
        topic="learning",
        symbols={"x": "n", "mu": "n", "Sigma": "n n"},
        conditions={"Sigma": "positive definite"},
        wrt="Sigma",
        function=_gaussian_nll,
        closed_form=lambda s: 0.5 * ops.inv(s.Sigma)
        - 0.5 * (ops.inv(s.Sigma) @ ops.outer(s.x - s.mu, s.x - s.mu) @ ops.inv(s.Sigma)),
        notes="""Σ is a symmetric variable; both terms are already symmetric, so this is the
        symmetric gradient.  Setting it to zero gives the maximum-likelihood Σ = rrᵀ.""",
    ),
    entry(
        name="learning-pca-reconstruction",
        title="PCA reconstruction error ‖X − WWᵀX‖²_F wrt W",
        latex=r"\frac{\partial \|X - WW^\top X\|_F^2}{\partial W} = -2\left(RX^\top W + XR^\top W"
        r"\right),\quad R = X - WW^\top X",
        source="derived from Matrix Cookbook (2012) eq. (132) by the chain rule",
        topic="learning",
        symbols={"X": "d N", "W": "d k"},
        wrt="W",
        function=lambda s: ops.norm(s.X - s.W @ s.W.T @ s.X) ** 2,
        closed_form=lambda s: -2
        * (
            (s.X - s.W @ s.W.T @ s.X) @ s.X.T @ s.W
            + s.X @ (s.X - s.W @ s.W.T @ s.X).T @ s.W
        ),
        sizes=[{"d": 3, "N": 4, "k": 2}, {"d": 4, "N": 3, "k": 2}],
    ),
    entry(
        name="learning-matrix-factorization",
        title="Matrix factorization ‖Y − UVᵀ‖²_F wrt U",
        latex=r"\frac{\partial \|Y - UV^\top\|_F^2}{\partial U} = -2(Y - UV^\top)V",
        source="Matrix Cookbook (2012) eq. (119) with A = −I, B = Vᵀ",
        topic="learning",
        symbols={"Y": "m n", "U": "m k", "V": "n k"},
        wrt="U",
        function=lambda s: ops.norm(s.Y - s.U @ s.V.T) ** 2,
        closed_form=lambda s: -2 * ((s.Y - s.U @ s.V.T) @ s.V),
    ),
    entry(
        name="learning-dense-layer-jacobian",
        title="Jacobian of a dense layer σ(Wx + b) with respect to W",
        latex=r"\frac{\partial \sigma(Wx + b)_i}{\partial W_{kl}} = \sigma'(z_i)\,\delta_{ik}\,x_l,"
        r"\quad z = Wx + b",
        source="MML Example 5.12 with an elementwise activation",
        topic="learning",
        symbols={"W": "k d", "x": "d", "b": "k"},
        wrt="W",
        function=lambda s: ops.sigmoid(s.W @ s.x + s.b),
        closed_form=lambda s: ops.einsum(
            "i,ik,l->ikl",
            ops.sigmoid(s.W @ s.x + s.b) * (1 - ops.sigmoid(s.W @ s.x + s.b)),
            s.eye("k"),
            s.x,
        ),
        notes="A k×(k×d) tensor: output i depends only on row i of W.",
    ),
)

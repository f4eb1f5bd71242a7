"""Neural networks: multilayer perceptrons with bias broadcasting, attention,
normalisation layers, a recurrent network unrolled in a loop, convolution by
slicing, pooling by reshaping."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from models.base import Arrays, model, normal, one_hot

B, D, H, C = 8, 3, 5, 2  # batch, inputs, hidden units, outputs


def _mlp(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    params = (
        normal(rng, D, H, scale=0.7), normal(rng, H, scale=0.3),
        normal(rng, H, C, scale=0.7), normal(rng, C, scale=0.3),
    )
    return params, (normal(rng, B, D), normal(rng, B, C))


def _mlp_classes(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    params, (X, _) = _mlp(rng)
    return params, (X, one_hot(rng.integers(0, C, B), C))


def _relu(np_: Any, z: Any) -> Any:
    return np_.maximum(z, 0)


@model(_mlp, smooth=False)
def mlp_relu(np_: Any, X: Any, Y: Any) -> Any:
    def loss(W1: Any, b1: Any, W2: Any, b2: Any) -> Any:
        h = _relu(np_, X @ W1 + b1)
        out = h @ W2 + b2
        return 0.5 * np_.sum((out - Y) ** 2) / X.shape[0]

    return loss


@model(_mlp, smooth=False)
def mlp_relu_by_mask(np_: Any, X: Any, Y: Any) -> Any:
    """ReLU written as a product with the mask of positive entries, the output
    flattened before the loss."""

    def loss(W1: Any, b1: Any, W2: Any, b2: Any) -> Any:
        Z = X @ W1 + b1
        H = Z * (Z > 0).astype(float)
        residual = (H @ W2 + b2 - Y).ravel()
        return residual @ residual / residual.size

    return loss


@model(_mlp_classes)
def mlp_tanh_softmax(np_: Any, X: Any, Y: Any) -> Any:
    def loss(W1: Any, b1: Any, W2: Any, b2: Any) -> Any:
        h = np_.tanh(np_.dot(X, W1) + b1)
        logits = np_.dot(h, W2) + b2
        logits = logits - logits.max(axis=1, keepdims=True)
        p = np_.exp(logits) / np_.exp(logits).sum(axis=1, keepdims=True)
        return -np_.mean(np_.sum(Y * np_.log(p), axis=1))

    return loss


def _gelu(np_: Any, x: Any) -> Any:
    """The tanh approximation of GELU (Hendrycks & Gimpel), as in GPT-2."""
    return 0.5 * x * (1 + np_.tanh(np_.sqrt(2 / np_.pi) * (x + 0.044715 * x**3)))


@model(_mlp)
def mlp_gelu(np_: Any, X: Any, Y: Any) -> Any:
    def loss(W1: Any, b1: Any, W2: Any, b2: Any) -> Any:
        out = _gelu(np_, X @ W1 + b1) @ W2 + b2
        return np_.mean(np_.square(out - Y))

    return loss


@model(_mlp)
def mlp_softplus(np_: Any, X: Any, Y: Any) -> Any:
    def loss(W1: Any, b1: Any, W2: Any, b2: Any) -> Any:
        h = np_.log1p(np_.exp(X @ W1 + b1))
        return ((h @ W2 + b2 - Y) ** 2).mean()

    return loss


@model(_mlp, smooth=False)
def mlp_leaky_relu(np_: Any, X: Any, Y: Any) -> Any:
    def loss(W1: Any, b1: Any, W2: Any, b2: Any) -> Any:
        z = X @ W1 + b1
        h = np_.where(z > 0, z, 0.01 * z)
        return np_.sum((h @ W2 + b2 - Y) ** 2)

    return loss


def _deep(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    sizes = (D, 4, 4, C)
    params = tuple(normal(rng, m, k, scale=0.8) for m, k in itertools.pairwise(sizes))
    return params, (normal(rng, B, D), normal(rng, B, C))


@model(_deep)
def mlp_three_layers_in_a_loop(np_: Any, X: Any, Y: Any) -> Any:
    """Layers applied in a Python loop over a list of weights."""

    def loss(*weights: Any) -> Any:
        h = X
        for W in weights[:-1]:
            h = np_.tanh(h @ W)
        return np_.mean((h @ weights[-1] - Y) ** 2)

    return loss


def _maxout(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    return (normal(rng, 3, D, H), normal(rng, H, C)), (normal(rng, B, D), normal(rng, B, C))


@model(_maxout, smooth=False)
def maxout_network(np_: Any, X: Any, Y: Any) -> Any:
    """Maxout units (Goodfellow et al.): the maximum of three affine pieces, stacked."""

    def loss(Ws: Any, V: Any) -> Any:
        pieces = np_.stack([X @ Ws[k] for k in range(Ws.shape[0])])
        h = np_.max(pieces, axis=0)
        return np_.sum((h @ V - Y) ** 2)

    return loss


def _residual(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    return (normal(rng, 4, 4, scale=0.5), normal(rng, 4, 4, scale=0.5)), (
        normal(rng, B, 4), normal(rng, B, 4))


@model(_residual)
def residual_block(np_: Any, X: Any, Y: Any) -> Any:
    def loss(W1: Any, W2: Any) -> Any:
        h = X + np_.tanh(X @ W1) @ W2
        return np_.linalg.norm(h - Y) ** 2

    return loss


def _autoencoder(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    return (normal(rng, 5, 2, scale=0.5), normal(rng, 5, scale=0.1)), (normal(rng, B, 5),)


@model(_autoencoder)
def tied_autoencoder(np_: Any, X: Any) -> Any:
    def loss(W: Any, c: Any) -> Any:
        code = 1 / (1 + np_.exp(-(X @ W)))
        reconstruction = code @ W.T + c
        return np_.sum((reconstruction - X) ** 2) / len(X)

    return loss


SEQ, DM = 4, 3  # sequence length, model width


def _attention(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    params = tuple(normal(rng, DM, DM, scale=0.7) for _ in range(3))
    return params, (normal(rng, SEQ, DM), normal(rng, SEQ, DM))


def _softmax(np_: Any, S: Any, axis: int = -1) -> Any:
    S = S - np_.max(S, axis=axis, keepdims=True)
    E = np_.exp(S)
    return E / np_.sum(E, axis=axis, keepdims=True)


@model(_attention)
def attention_single_head(np_: Any, X: Any, Y: Any) -> Any:
    """Scaled dot-product attention, softmax over a max-stabilised exponent."""

    def loss(Wq: Any, Wk: Any, Wv: Any) -> Any:
        Q, K, V = X @ Wq, X @ Wk, X @ Wv
        A = _softmax(np_, Q @ K.T / np_.sqrt(Q.shape[-1]))
        return np_.sum((A @ V - Y) ** 2)

    return loss


@model(_attention)
def attention_causal(np_: Any, X: Any, Y: Any) -> Any:
    """Causal self-attention: future positions masked with a large negative score."""
    mask = np.tril(np.ones((SEQ, SEQ))) == 1

    def loss(Wq: Any, Wk: Any, Wv: Any) -> Any:
        scores = (X @ Wq) @ (X @ Wk).T / np.sqrt(DM)
        scores = np_.where(mask, scores, -1e9)
        return np_.mean((_softmax(np_, scores) @ (X @ Wv) - Y) ** 2)

    return loss


HEADS, BATCH = 2, 2


def _multihead(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    width = HEADS * 2
    params = (normal(rng, 2, 3 * width, scale=0.5), normal(rng, width, width, scale=0.5))
    return params, (normal(rng, BATCH, SEQ, 2),)


@model(_multihead)
def attention_multi_head_batched(np_: Any, X: Any) -> Any:
    """Batched multi-head attention on 3-D and 4-D arrays: one projection split
    into Q, K, V, heads by reshape and transpose, ``T @ T`` over leading axes."""

    def loss(W_qkv: Any, W_out: Any) -> Any:
        b, n = X.shape[:2]
        d = W_out.shape[0]
        q, k, v = np_.split(X @ W_qkv, 3, axis=-1)

        def heads(t: Any) -> Any:
            return t.reshape(b, n, HEADS, d // HEADS).transpose(0, 2, 1, 3)

        q, k, v = heads(q), heads(k), heads(v)
        att = _softmax(np_, q @ np_.swapaxes(k, -1, -2) / np_.sqrt(d // HEADS))
        out = (att @ v).transpose(0, 2, 1, 3).reshape(b, n, d) @ W_out
        return np_.mean(out**2) + np_.mean(out)

    return loss


def _layer_norm(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    params = (1 + normal(rng, 4, scale=0.2), normal(rng, 4, scale=0.2), normal(rng, 4, 2))
    return params, (normal(rng, B, 4), normal(rng, B, 2))


@model(_layer_norm)
def layer_norm(np_: Any, X: Any, Y: Any) -> Any:
    def loss(gamma: Any, beta: Any, W: Any) -> Any:
        mu = X.mean(axis=-1, keepdims=True)
        var = X.var(axis=-1, keepdims=True)
        h = np_.tanh(X * gamma + beta)
        h = (h - h.mean(axis=-1, keepdims=True)) / np_.sqrt(
            h.var(axis=-1, keepdims=True) + 1e-5)
        z = (X - mu) / np_.sqrt(var + 1e-5)
        return np_.sum((h @ W + z @ W - Y) ** 2)

    return loss


def _batch_norm(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    params = (normal(rng, D, 4), 1 + normal(rng, 4, scale=0.2), normal(rng, 4, scale=0.2),
              normal(rng, 4, C))
    return params, (normal(rng, B, D), normal(rng, B, C))


@model(_batch_norm)
def batch_norm(np_: Any, X: Any, Y: Any) -> Any:
    """A linear layer, batch normalisation over the batch axis, scale and shift."""

    def loss(W: Any, gamma: Any, beta: Any, V: Any) -> Any:
        Z = X @ W
        Z_hat = (Z - Z.mean(axis=0)) / np_.sqrt(Z.var(axis=0) + 1e-5)
        H = np_.tanh(gamma * Z_hat + beta)
        return ((H @ V - Y) ** 2).mean()

    return loss


def _rnn(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    params = (normal(rng, 3, 3, scale=0.5), normal(rng, 3, 2, scale=0.5), normal(rng, 3, scale=0.1))
    return params, (normal(rng, 5, 2), normal(rng, 3))


@model(_rnn)
def rnn_unrolled(np_: Any, xs: Any, target: Any) -> Any:
    """An Elman network unrolled over the time steps in a Python loop."""

    def loss(W: Any, U: Any, b: Any) -> Any:
        h = np_.zeros(3)
        total = 0.0
        for t in range(len(xs)):
            h = np_.tanh(W @ h + U @ xs[t] + b)
            total = total + np_.sum((h - target) ** 2)
        return total

    return loss


def _conv(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    return (normal(rng, 3), normal(rng)), (normal(rng, 10), normal(rng, 8))


@model(_conv)
def conv1d_by_slicing(np_: Any, x: Any, y: Any) -> Any:
    """A 1-D valid convolution written as a loop over the kernel taps."""

    def loss(kernel: Any, bias: Any) -> Any:
        k = kernel.shape[0]
        n = x.shape[0] - k + 1
        out = sum(kernel[j] * x[j : j + n] for j in range(k)) + bias
        return np_.sum(np_.tanh(out) * y)

    return loss


def _pool(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    return (normal(rng, 4, 6),), (normal(rng, B, 4), normal(rng, B))


@model(_pool, smooth=False)
def max_pooling_by_reshape(np_: Any, X: Any, y: Any) -> Any:
    def loss(W: Any) -> Any:
        Z = X @ W
        pooled = Z.reshape(Z.shape[0], 3, 2).max(axis=2)
        return np_.mean((pooled.sum(axis=1) - y) ** 2)

    return loss


def _dropout(rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    params, (X, _) = _mlp(rng)
    return params[:2], (X, rng.random((B, H)) > 0.3, normal(rng, B, H))


@model(_dropout)
def dropout_mask_and_boolean_indexing(np_: Any, X: Any, keep: Any, target: Any) -> Any:
    """A fixed dropout mask multiplied in, and the kept entries picked by a mask."""

    def loss(W: Any, b: Any) -> Any:
        h = np_.tanh(X @ W + b) * keep / 0.7
        return np_.sum((h[keep] - target[keep]) ** 2)

    return loss

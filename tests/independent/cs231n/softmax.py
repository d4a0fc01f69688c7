"""Softmax loss, written from the handout's docstrings alone (not from the reference)."""
import numpy as np


def _stable_probabilities(scores):
    """Row-wise softmax, scores shifted by each row's maximum first."""
    z = scores - scores.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def softmax_loss_naive(W, X, y, reg):
    n = len(y)
    dW = np.zeros_like(W)
    loss = 0.0
    for i in range(n):
        p = _stable_probabilities(X[i].dot(W))
        loss -= np.log(p[y[i]])
        p[y[i]] -= 1.0
        for c in range(W.shape[1]):
            dW[:, c] += p[c] * X[i]
    loss = loss / n + reg * np.sum(W * W)
    dW = dW / n + 2 * reg * W
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    n = len(y)
    p = _stable_probabilities(X @ W)
    picked = p[np.arange(n), y]
    loss = -np.mean(np.log(picked)) + reg * np.sum(W * W)
    one_hot = np.eye(W.shape[1], dtype=p.dtype)[y]
    dW = X.T @ (p - one_hot) / n + 2 * reg * W
    return loss, dW

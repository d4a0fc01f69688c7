"""Lopez's softmax.py: written from the handout's docstrings, as a student would."""
import numpy as np


def _softmax(z):
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def softmax_loss_naive(W, X, y, reg):
    """Softmax loss, naive implementation (with loops). Returns (loss, dW)."""
    loss = 0.0
    dW = np.zeros_like(W)
    for features, target in zip(X, y):
        p = _softmax(features @ W)
        loss += -np.log(p[target])
        p[target] -= 1.0
        dW += np.outer(features, p)
    count = len(y)
    loss = loss / count + reg * np.sum(W * W)
    dW = dW / count + 2.0 * reg * W
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax loss, vectorized version. Returns (loss, dW)."""
    loss = 0.0
    dW = np.zeros_like(W)
    count = len(y)
    p = _softmax(X @ W)
    picked = p[np.arange(count), y]
    loss = np.sum(-np.log(picked)) / count + reg * np.sum(W * W)
    p[np.arange(count), y] -= 1.0
    dW = X.T @ p / count + 2.0 * reg * W
    return loss, dW

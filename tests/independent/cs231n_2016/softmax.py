"""Softmax (cross-entropy) loss and its gradient (CS231n 2016, numpy).

W: (D, C) weights, X: (N, D) data, y: (N,) labels in [0, C), reg: float. The loss is the mean
cross-entropy plus `0.5 * reg * np.sum(W * W)`, so the gradient has `reg * W`. Scores are
shifted by their maximum before np.exp: the probabilities do not change, and exp cannot overflow.
"""
import numpy as np


def softmax_loss_naive(W, X, y, reg):
    """Softmax loss, naive implementation (with loops). Returns (loss, dW)."""
    loss = 0.0
    dW = np.zeros_like(W)
    N = X.shape[0]
    for i in range(N):
        s = X[i] @ W
        m = s.max()
        lse = m + np.log(np.sum(np.exp(s - m)))
        loss += lse - s[y[i]]
        p = np.exp(s - lse)
        p[y[i]] -= 1.0
        dW += np.outer(X[i], p)
    loss = loss / N + 0.5 * reg * np.linalg.norm(W) ** 2
    dW = dW / N + reg * W
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax loss, vectorized version. Returns (loss, dW)."""
    loss = 0.0
    dW = np.zeros_like(W)
    N = X.shape[0]
    S = X @ W
    m = S.max(axis=1, keepdims=True)
    lse = m + np.log(np.exp(S - m).sum(axis=1, keepdims=True))
    loss = np.mean(lse[:, 0] - np.choose(y, S.T)) + 0.5 * reg * np.linalg.norm(W) ** 2
    P = np.exp(S - lse)
    P[np.arange(N), y] -= 1
    dW = np.einsum('nd,nc->dc', X, P) / N + reg * W
    return loss, dW

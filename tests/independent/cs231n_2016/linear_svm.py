"""Multiclass SVM loss and its gradient (CS231n 2016, numpy).

W: (D, C) weights, X: (N, D) data, y: (N,) labels in [0, C), reg: float. The loss is the mean
hinge loss plus `0.5 * reg * np.sum(W * W)`; the 1/2 cancels the 2 of the derivative, so the
gradient has `reg * W`.
"""
import numpy as np


def svm_loss_naive(W, X, y, reg):
    """Structured SVM loss, naive implementation (with loops). Returns (loss, dW)."""
    dW = np.zeros(W.shape)
    num_classes = W.shape[1]
    num_train = X.shape[0]
    loss = 0.0
    for i in range(num_train):
        x_i = X[i]
        s = x_i @ W
        margins = np.clip(s - s[y[i]] + 1.0, 0, None)
        margins[y[i]] = 0.0
        loss += margins.sum()
        active = margins > 0
        dW[:, active] += x_i[:, None]
        dW[:, y[i]] -= active.sum() * x_i
    loss = loss / num_train + 0.5 * reg * np.linalg.norm(W) ** 2
    dW = dW / num_train + reg * W
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Structured SVM loss, vectorized implementation. Returns (loss, dW)."""
    loss = 0.0
    dW = np.zeros(W.shape)
    N = X.shape[0]
    S = X @ W
    correct = np.choose(y, S.T)
    M = np.clip(S - correct[:, None] + 1.0, 0, None)
    is_correct = y[:, None] == np.arange(W.shape[1])[None, :]
    M[is_correct] = 0
    loss = M.sum() / N + 0.5 * reg * np.linalg.norm(W) ** 2
    G = (M > 0).astype(W.dtype)
    G[is_correct] = -G.sum(axis=1)
    dW = np.einsum('nd,nc->dc', X, G) / N + reg * W
    return loss, dW

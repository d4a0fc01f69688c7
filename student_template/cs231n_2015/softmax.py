"""Softmax (cross-entropy) loss and its gradient (CS231n 2015, numpy, the original layout).

W: (C, D) weights, one row per class; X: (D, N) data, one column per example; y: (N,) labels
in [0, C); reg: float. The scores W.dot(X) are (C, N), so each example's probabilities are one
column, normalised over axis 0. The loss is the mean cross-entropy plus
`0.5 * reg * np.sum(W * W)`, so the gradient has `reg * W`. Each example's scores are shifted by
their maximum before np.exp: the probabilities do not change, and exp cannot overflow.
"""
import numpy as np


def softmax_loss_naive(W, X, y, reg):
    """Softmax loss, naive implementation (with loops). Returns (loss, dW)."""
    loss = 0.0
    dW = np.zeros_like(W)
    # TODO: your code here (see the docstring).
    raise NotImplementedError("softmax_loss_naive is not implemented yet")
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax loss, vectorized version. Returns (loss, dW)."""
    loss = 0.0
    dW = np.zeros_like(W)
    # TODO: your code here (see the docstring).
    raise NotImplementedError("softmax_loss_vectorized is not implemented yet")
    return loss, dW

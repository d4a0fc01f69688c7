"""Softmax (cross-entropy) loss and its gradient (CS231n, numpy).

W: (D, C) weights, X: (N, D) data, y: (N,) labels in [0, C), reg: float. The loss is the mean
cross-entropy plus `reg * np.sum(W * W)`, so the gradient has `2 * reg * W`. Scores are
shifted by their maximum before np.exp: the probabilities do not change, and exp cannot overflow.
"""
import numpy as np


def softmax_loss_naive(W, X, y, reg):
    """Softmax loss, naive implementation (with loops). Returns (loss, dW)."""
    loss = 0.0
    dW = np.zeros_like(W)
    # TODO: Loop over the examples: the cross-entropy of each example's softmax probabilities
    #       and its gradient, averaged, plus the regularization. Shift the scores by their
    #       maximum before np.exp, or large scores overflow.
    raise NotImplementedError("softmax_loss_naive is not implemented yet")
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax loss, vectorized version. Returns (loss, dW)."""
    loss = 0.0
    dW = np.zeros_like(W)
    # TODO: The same loss and gradient as softmax_loss_naive, without any Python loop.
    raise NotImplementedError("softmax_loss_vectorized is not implemented yet")
    return loss, dW

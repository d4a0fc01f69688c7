"""Multiclass SVM loss and its gradient (CS231n 2015, numpy, the original layout).

W: (C, D) weights, one row per class; X: (D, N) data, one column per example; y: (N,) labels
in [0, C); reg: float. The scores W.dot(X) are (C, N): column i holds example i's class scores.
The loss is the mean hinge loss plus `0.5 * reg * np.sum(W * W)`, so the gradient has `reg * W`.
"""
import numpy as np


def svm_loss_naive(W, X, y, reg):
    """Structured SVM loss, naive implementation (with loops). Returns (loss, dW)."""
    dW = np.zeros(W.shape)
    num_classes = W.shape[0]
    num_train = X.shape[1]
    loss = 0.0
    # TODO: your code here (see the docstring).
    raise NotImplementedError("svm_loss_naive is not implemented yet")
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Structured SVM loss, vectorized implementation. Returns (loss, dW)."""
    loss = 0.0
    dW = np.zeros(W.shape)
    # TODO: your code here (see the docstring).
    raise NotImplementedError("svm_loss_vectorized is not implemented yet")
    return loss, dW

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

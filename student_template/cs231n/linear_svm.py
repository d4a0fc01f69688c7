"""Multiclass SVM loss and its gradient (CS231n, numpy).

W: (D, C) weights, X: (N, D) data, y: (N,) labels in [0, C), reg: float. The loss is the mean
hinge loss plus `reg * np.sum(W * W)` (no 1/2), so the gradient has `2 * reg * W`.
"""
import numpy as np


def svm_loss_naive(W, X, y, reg):
    """Structured SVM loss, naive implementation (with loops). Returns (loss, dW)."""
    dW = np.zeros(W.shape)
    num_classes = W.shape[1]
    num_train = X.shape[0]
    loss = 0.0
    # TODO: Loop over the examples and the classes: add every positive margin to the loss and
    #       compute the gradient dW at the same time, then average both over the examples and
    #       add the regularization reg * np.sum(W * W) and its gradient.
    raise NotImplementedError("svm_loss_naive is not implemented yet")
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Structured SVM loss, vectorized implementation. Returns (loss, dW)."""
    loss = 0.0
    dW = np.zeros(W.shape)
    # TODO: The same loss and gradient as svm_loss_naive, without any Python loop: compute all
    #       the margins at once, then dW from a matrix of margin indicators.
    raise NotImplementedError("svm_loss_vectorized is not implemented yet")
    return loss, dW

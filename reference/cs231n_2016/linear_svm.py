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
    # BEGIN SOLUTION
    for i in range(num_train):
        scores = X[i].dot(W)
        correct_class_score = scores[y[i]]
        for j in range(num_classes):
            if j == y[i]:
                continue  # the correct class never contributes a margin
            margin = scores[j] - correct_class_score + 1  # note delta = 1
            if margin > 0:
                loss += margin
                # The margin grows with W[:, j] along X[i] and shrinks with W[:, y[i]].
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    loss /= num_train
    dW /= num_train
    loss += 0.5 * reg * np.sum(W * W)
    dW += reg * W
    # END SOLUTION
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Structured SVM loss, vectorized implementation. Returns (loss, dW)."""
    loss = 0.0
    dW = np.zeros(W.shape)
    # BEGIN SOLUTION
    num_train = X.shape[0]
    rows = np.arange(num_train)
    scores = X.dot(W)                                   # (N, C)
    margins = np.maximum(0, scores - scores[rows, y][:, None] + 1)
    margins[rows, y] = 0                                # the correct class is not a margin
    loss = margins.sum() / num_train + 0.5 * reg * np.sum(W * W)

    # Each positive margin adds X[i] to its column and subtracts it from the correct class's.
    coeff = (margins > 0).astype(X.dtype)
    coeff[rows, y] = -coeff.sum(axis=1)
    dW = X.T.dot(coeff) / num_train + reg * W
    # END SOLUTION
    return loss, dW

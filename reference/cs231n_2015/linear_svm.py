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
    # BEGIN SOLUTION
    for i in range(num_train):
        scores = W.dot(X[:, i])
        correct_class_score = scores[y[i]]
        for j in range(num_classes):
            if j == y[i]:
                continue  # the correct class never contributes a margin
            margin = scores[j] - correct_class_score + 1  # note delta = 1
            if margin > 0:
                loss += margin
                # The margin grows with W[j] along X[:, i] and shrinks with W[y[i]].
                dW[j] += X[:, i]
                dW[y[i]] -= X[:, i]
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
    num_train = X.shape[1]
    cols = np.arange(num_train)
    scores = W.dot(X)                                   # (C, N)
    margins = np.maximum(0, scores - scores[y, cols] + 1)
    margins[y, cols] = 0                                # the correct class is not a margin
    loss = margins.sum() / num_train + 0.5 * reg * np.sum(W * W)

    # Each positive margin adds X[:, i] to its class's row and subtracts it from the correct class's.
    coeff = (margins > 0).astype(X.dtype)
    coeff[y, cols] = -coeff.sum(axis=0)
    dW = coeff.dot(X.T) / num_train + reg * W
    # END SOLUTION
    return loss, dW

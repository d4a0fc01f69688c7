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
    # BEGIN SOLUTION
    # PROMPT: Loop over the examples and the classes: add every positive margin to the loss and
    # PROMPT: compute the gradient dW at the same time, then average both over the examples and
    # PROMPT: add the regularization reg * np.sum(W * W) and its gradient.
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
    loss += reg * np.sum(W * W)
    dW += 2 * reg * W
    # END SOLUTION
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Structured SVM loss, vectorized implementation. Returns (loss, dW)."""
    loss = 0.0
    dW = np.zeros(W.shape)
    # BEGIN SOLUTION
    # PROMPT: The same loss and gradient as svm_loss_naive, without any Python loop: compute all
    # PROMPT: the margins at once, then dW from a matrix of margin indicators.
    num_train = X.shape[0]
    rows = np.arange(num_train)
    scores = X.dot(W)                                   # (N, C)
    margins = np.maximum(0, scores - scores[rows, y][:, None] + 1)
    margins[rows, y] = 0                                # the correct class is not a margin
    loss = margins.sum() / num_train + reg * np.sum(W * W)

    # Each positive margin adds X[i] to its column and subtracts it from the correct class's.
    coeff = (margins > 0).astype(X.dtype)
    coeff[rows, y] = -coeff.sum(axis=1)
    dW = X.T.dot(coeff) / num_train + 2 * reg * W
    # END SOLUTION
    return loss, dW

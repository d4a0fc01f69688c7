"""Okafor's linear_svm.py: written from the handout's docstrings, as a student would."""
import numpy as np


def svm_loss_naive(W, X, y, reg):
    """Structured SVM loss, naive implementation (with loops). Returns (loss, dW)."""
    dW = np.zeros(W.shape)
    num_classes = W.shape[1]
    num_train = X.shape[0]
    loss = 0.0
    for i in range(num_train):
        margins = X[i].dot(W) - X[i].dot(W[:, y[i]]) + 1
        margins[y[i]] = 0
        for j in range(num_classes):
            if margins[j] <= 0:
                continue
            loss += margins[j]
            dW[:, j] += X[i]
            dW[:, y[i]] -= X[i]
    loss /= num_train
    loss += reg * np.sum(W ** 2)
    dW /= num_train
    dW += 2 * reg * W
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Structured SVM loss, vectorized implementation. Returns (loss, dW)."""
    loss = 0.0
    dW = np.zeros(W.shape)
    n = X.shape[0]
    scores = X.dot(W)
    margins = scores + 1 - np.choose(y, scores.T)[:, np.newaxis]
    margins[range(n), y] = 0
    margins = margins * (margins > 0)
    loss = np.sum(margins) / n + reg * np.sum(W ** 2)
    mask = np.sign(margins)
    mask[range(n), y] -= np.sum(mask, axis=1)
    dW = X.T.dot(mask) / n + 2 * reg * W
    return loss, dW

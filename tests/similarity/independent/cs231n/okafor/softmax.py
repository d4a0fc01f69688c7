"""Okafor's softmax.py: written from the handout's docstrings, as a student would."""
import numpy as np


def softmax_loss_naive(W, X, y, reg):
    """Softmax loss, naive implementation (with loops). Returns (loss, dW)."""
    loss = 0.0
    dW = np.zeros_like(W)
    num_train, num_classes = X.shape[0], W.shape[1]
    i = 0
    while i < num_train:
        logits = X[i].dot(W)
        logits -= logits.max()
        log_sum = np.log(np.exp(logits).sum())
        loss += log_sum - logits[y[i]]
        for j in range(num_classes):
            softmax_j = np.exp(logits[j] - log_sum)
            dW[:, j] += softmax_j * X[i]
        dW[:, y[i]] -= X[i]
        i += 1
    loss /= num_train
    loss += reg * np.sum(W ** 2)
    dW /= num_train
    dW += 2 * reg * W
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax loss, vectorized version. Returns (loss, dW)."""
    loss = 0.0
    dW = np.zeros_like(W)
    n = X.shape[0]
    logits = X.dot(W)
    logits -= logits.max(axis=1)[:, np.newaxis]
    log_sum = np.log(np.exp(logits).sum(axis=1))
    loss = np.sum(log_sum - np.choose(y, logits.T)) / n + reg * np.sum(W ** 2)
    softmax = np.exp(logits - log_sum[:, np.newaxis])
    softmax[range(n), y] -= 1
    dW = X.T.dot(softmax) / n + 2 * reg * W
    return loss, dW

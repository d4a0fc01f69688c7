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
    # BEGIN SOLUTION
    num_classes = W.shape[0]
    num_train = X.shape[1]
    for i in range(num_train):
        scores = W.dot(X[:, i])
        scores -= np.max(scores)                        # numerical stability
        exp_scores = np.exp(scores)
        total = np.sum(exp_scores)
        loss += np.log(total) - scores[y[i]]            # -log p[y[i]]
        for j in range(num_classes):
            p = exp_scores[j] / total
            # d(-log p[y])/d scores[j] = p[j] - 1{j == y[i]}
            dW[j] += (p - (j == y[i])) * X[:, i]
    loss /= num_train
    dW /= num_train
    loss += 0.5 * reg * np.sum(W * W)
    dW += reg * W
    # END SOLUTION
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax loss, vectorized version. Returns (loss, dW)."""
    loss = 0.0
    dW = np.zeros_like(W)
    # BEGIN SOLUTION
    num_train = X.shape[1]
    cols = np.arange(num_train)
    scores = W.dot(X)                                   # (C, N): one column per example
    scores -= scores.max(axis=0, keepdims=True)         # shift each column
    probs = np.exp(scores)
    probs /= probs.sum(axis=0, keepdims=True)
    loss = -np.log(probs[y, cols]).sum() / num_train + 0.5 * reg * np.sum(W * W)

    dscores = probs
    dscores[y, cols] -= 1
    dW = dscores.dot(X.T) / num_train + reg * W
    # END SOLUTION
    return loss, dW

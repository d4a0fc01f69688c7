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
    # BEGIN SOLUTION
    # PROMPT: Loop over the examples: the cross-entropy of each example's softmax probabilities
    # PROMPT: and its gradient, averaged, plus the regularization. Shift the scores by their
    # PROMPT: maximum before np.exp, or large scores overflow.
    num_classes = W.shape[1]
    num_train = X.shape[0]
    for i in range(num_train):
        scores = X[i].dot(W)
        scores -= np.max(scores)                        # numerical stability
        exp_scores = np.exp(scores)
        total = np.sum(exp_scores)
        loss += np.log(total) - scores[y[i]]            # -log p[y[i]]
        for j in range(num_classes):
            p = exp_scores[j] / total
            # d(-log p[y])/d scores[j] = p[j] - 1{j == y[i]}
            dW[:, j] += (p - (j == y[i])) * X[i]
    loss /= num_train
    dW /= num_train
    loss += reg * np.sum(W * W)
    dW += 2 * reg * W
    # END SOLUTION
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax loss, vectorized version. Returns (loss, dW)."""
    loss = 0.0
    dW = np.zeros_like(W)
    # BEGIN SOLUTION
    # PROMPT: The same loss and gradient as softmax_loss_naive, without any Python loop.
    num_train = X.shape[0]
    rows = np.arange(num_train)
    scores = X.dot(W)
    scores -= scores.max(axis=1, keepdims=True)         # shift each row
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.log(probs[rows, y]).sum() / num_train + reg * np.sum(W * W)

    dscores = probs
    dscores[rows, y] -= 1
    dW = X.T.dot(dscores) / num_train + 2 * reg * W
    # END SOLUTION
    return loss, dW

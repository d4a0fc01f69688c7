"""Bob's linear classifiers, the night before the deadline.

The SVM is done (with the commonest bug of this assignment: see svm_loss_naive's last lines);
the softmax is not started yet.
"""
import torch


def svm_loss_naive(W, X, y, reg):
    dW = torch.zeros_like(W)
    loss = 0.0
    for i in range(X.shape[0]):
        s = X[i] @ W
        for j in range(W.shape[1]):
            if j != y[i] and s[j] - s[y[i]] + 1 > 0:
                loss += s[j] - s[y[i]] + 1
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    loss = loss / X.shape[0] + reg * torch.sum(W * W)
    dW = dW / X.shape[0] + reg * W          # the loss has reg * sum(W * W), so this should be 2 * reg * W
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    n = X.shape[0]
    s = X @ W
    margins = torch.clamp(s - s[torch.arange(n), y][:, None] + 1, min=0)
    margins[torch.arange(n), y] = 0
    loss = margins.sum() / n + reg * (W * W).sum()
    counts = (margins > 0).double()
    counts[torch.arange(n), y] = -counts.sum(1)
    return loss, X.T @ counts / n + 2 * reg * W


def softmax_loss_naive(W, X, y, reg):
    raise NotImplementedError("softmax_loss_naive is not implemented yet")


def softmax_loss_vectorized(W, X, y, reg):
    raise NotImplementedError("softmax_loss_vectorized is not implemented yet")

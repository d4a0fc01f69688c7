"""Linear classifiers: multiclass SVM and softmax losses with their analytic gradients.

Conventions (EECS 498-007 Assignment 2):
- W: (D, C) weights, X: (N, D) data, y: (N,) int64 labels in [0, C), reg: float.
- The loss is the mean data loss over the N examples plus `reg * sum(W * W)`, with no 1/2,
  so the gradient of the regularization term is `2 * reg * W`.
- Each function returns `(loss, dW)`: loss a scalar tensor, dW a tensor shaped like W.
"""
import torch


def svm_loss_naive(W, X, y, reg):
    """Multiclass SVM loss and its gradient, with explicit loops.

    For example i with scores s = X[i] @ W, every wrong class j whose margin
    s[j] - s[y[i]] + 1 is positive adds that margin to the loss.
    """
    dW = torch.zeros_like(W)
    num_classes = W.shape[1]
    num_train = X.shape[0]
    loss = 0.0
    # TODO: your code here (see the docstring).
    raise NotImplementedError("svm_loss_naive is not implemented yet")
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Multiclass SVM loss and its gradient, without loops."""
    loss = 0.0
    dW = torch.zeros_like(W)
    # TODO: your code here (see the docstring).
    raise NotImplementedError("svm_loss_vectorized is not implemented yet")
    return loss, dW


def softmax_loss_naive(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, with explicit loops.

    Scores are shifted by their maximum before exp(): the probabilities do not change,
    and exp() can no longer overflow.
    """
    loss = 0.0
    dW = torch.zeros_like(W)
    # TODO: your code here (see the docstring).
    raise NotImplementedError("softmax_loss_naive is not implemented yet")
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, without loops."""
    loss = 0.0
    dW = torch.zeros_like(W)
    # TODO: your code here (see the docstring).
    raise NotImplementedError("softmax_loss_vectorized is not implemented yet")
    return loss, dW

"""Gradients by hand, checked against what `loss.backward()` computes.

Two losses, written forward-only below. Write their gradients by hand, without autograd:
- linear regression's squared loss, sum((X @ w - y) ** 2) / 2, with respect to w;
- the sum of squares of the k largest entries of W @ x, with respect to W and to x.

The reference answers come from torch.autograd applied to these same forward functions
(what `.sum().backward()` gives): there is no hand-written backward in this file.
"""
import torch


def linreg_loss(X, w, y):
    """Squared loss of a linear model: X (N, D), w (D,), y (N,) -> scalar."""
    return ((X @ w - y) ** 2).sum() / 2


def topk_loss(W, x, k):
    """Sum of squares of the k largest entries of W @ x: W (M, D), x (D,), k int -> scalar."""
    return (torch.topk(W @ x, k).values ** 2).sum()


def linreg_grad(X, w, y):
    """d linreg_loss / d w, shape (D,). Hint: the chain rule through r = X @ w - y."""
    # TODO: your code here (see the docstring).
    raise NotImplementedError("linreg_grad is not implemented yet")
    return dw


def topk_grads(W, x, k):
    """(d topk_loss / d W, d topk_loss / d x), shapes (M, D) and (D,).

    topk only selects entries: the gradient flows into the k selected rows of W @ x and is
    zero for the others (torch.topk(...).indices tells which).
    """
    # TODO: your code here (see the docstring).
    raise NotImplementedError("topk_grads is not implemented yet")
    return dW, dx

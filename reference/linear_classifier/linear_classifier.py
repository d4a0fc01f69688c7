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
    # BEGIN SOLUTION
    for i in range(num_train):
        scores = W.t().mv(X[i])
        correct_class_score = scores[y[i]]
        for j in range(num_classes):
            if j == y[i]:
                continue  # the correct class never contributes a margin
            margin = scores[j] - correct_class_score + 1  # note delta = 1
            if margin > 0:
                loss += margin
                # d(margin)/dW[:, j] = X[i] and d(margin)/dW[:, y[i]] = -X[i]:
                # each violated margin pushes the wrong class up and the right class down.
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    # The loss is an average over examples, and so is its gradient.
    loss /= num_train
    dW /= num_train
    # d/dW of reg * sum(W * W) is 2 * reg * W.
    loss += reg * torch.sum(W * W)
    dW += 2 * reg * W
    # END SOLUTION
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Multiclass SVM loss and its gradient, without loops."""
    loss = 0.0
    dW = torch.zeros_like(W)
    # BEGIN SOLUTION
    num_train = X.shape[0]
    rows = torch.arange(num_train, device=X.device)
    scores = X.mm(W)                                   # (N, C)
    correct = scores[rows, y].unsqueeze(1)             # (N, 1)
    margins = (scores - correct + 1).clamp(min=0)      # hinge, (N, C)
    margins[rows, y] = 0                               # the correct class is not a margin
    loss = margins.sum() / num_train + reg * torch.sum(W * W)

    # Each positive margin contributes +X[i] to its class column and -X[i] to the
    # correct class column, so the coefficient of the correct class is minus the
    # number of positive margins in that row.
    coeff = (margins > 0).to(X.dtype)                  # (N, C)
    coeff[rows, y] = -coeff.sum(dim=1)
    dW = X.t().mm(coeff) / num_train + 2 * reg * W
    # END SOLUTION
    return loss, dW


def softmax_loss_naive(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, with explicit loops.

    Scores are shifted by their maximum before exp(): the probabilities do not change,
    and exp() can no longer overflow.
    """
    loss = 0.0
    dW = torch.zeros_like(W)
    # BEGIN SOLUTION
    num_classes = W.shape[1]
    num_train = X.shape[0]
    for i in range(num_train):
        scores = W.t().mv(X[i])
        scores = scores - scores.max()                 # numerical stability
        exp_scores = torch.exp(scores)
        total = exp_scores.sum()
        loss += torch.log(total) - scores[y[i]]        # -log p[y[i]]
        for j in range(num_classes):
            p = exp_scores[j] / total
            # d(-log p[y])/d scores[j] = p[j] - 1{j == y[i]}
            indicator = 1.0 if j == y[i] else 0.0
            dW[:, j] += (p - indicator) * X[i]
    loss /= num_train
    dW /= num_train
    loss += reg * torch.sum(W * W)
    dW += 2 * reg * W
    # END SOLUTION
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, without loops."""
    loss = 0.0
    dW = torch.zeros_like(W)
    # BEGIN SOLUTION
    num_train = X.shape[0]
    rows = torch.arange(num_train, device=X.device)
    scores = X.mm(W)
    scores = scores - scores.max(dim=1, keepdim=True).values   # shift each row
    log_probs = scores - torch.logsumexp(scores, dim=1, keepdim=True)
    loss = -log_probs[rows, y].sum() / num_train + reg * torch.sum(W * W)

    dscores = log_probs.exp()                          # probabilities, (N, C)
    dscores[rows, y] -= 1
    dW = X.t().mm(dscores) / num_train + 2 * reg * W
    # END SOLUTION
    return loss, dW

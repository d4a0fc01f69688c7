"""Multiclass SVM loss, written from the handout's docstrings alone (not from the reference)."""
import numpy as np


def _l2(W, strength):
    """The penalty strength * ||W||^2 and its gradient."""
    return strength * float((W ** 2).sum()), 2.0 * strength * W


def svm_loss_naive(W, X, y, reg):
    n_samples, n_classes = X.shape[0], W.shape[1]
    grad = np.zeros_like(W, dtype=float)
    total = 0.0
    sample = 0
    while sample < n_samples:
        row = X[sample]
        s = row @ W
        truth = y[sample]
        for cls in range(n_classes):
            if cls == truth:
                continue
            gap = s[cls] - s[truth] + 1.0
            if gap > 0:
                total += gap
                grad[:, cls] += row
                grad[:, truth] -= row
        sample += 1
    penalty, penalty_grad = _l2(W, reg)
    return total / n_samples + penalty, grad / n_samples + penalty_grad


def svm_loss_vectorized(W, X, y, reg):
    n_samples = X.shape[0]
    s = X.dot(W)
    truth = np.take_along_axis(s, y[:, None], axis=1)
    gaps = np.clip(s - truth + 1.0, 0.0, None)
    gaps[np.arange(n_samples), y] = 0.0
    active = (gaps > 0).astype(X.dtype)
    active[np.arange(n_samples), y] = -active.sum(axis=1)
    penalty, penalty_grad = _l2(W, reg)
    return gaps.sum() / n_samples + penalty, X.T.dot(active) / n_samples + penalty_grad

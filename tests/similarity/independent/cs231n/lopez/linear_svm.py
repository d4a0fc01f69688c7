"""Lopez's linear_svm.py: written from the handout's docstrings, as a student would."""
import numpy as np


def svm_loss_naive(W, X, y, reg):
    """Structured SVM loss, naive implementation (with loops). Returns (loss, dW)."""
    dW = np.zeros(W.shape)
    num_classes = W.shape[1]
    num_train = X.shape[0]
    loss = 0.0
    for idx, (features, target) in enumerate(zip(X, y)):
        class_scores = features.dot(W)
        for k in range(num_classes):
            if k == target:
                continue
            hinge = max(0.0, 1.0 + class_scores[k] - class_scores[target])
            loss += hinge
            if hinge > 0.0:
                dW[:, target] -= features
                dW[:, k] += features
    loss = loss / num_train
    dW = dW / num_train
    reg_term = np.sum(W * W)
    loss = loss + reg * reg_term
    dW = dW + reg * W * 2
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Structured SVM loss, vectorized implementation. Returns (loss, dW)."""
    loss = 0.0
    dW = np.zeros(W.shape)
    N = len(y)
    scores = X @ W
    is_target = np.zeros_like(scores, dtype=bool)
    is_target[np.arange(N), y] = True
    target_scores = scores[is_target]
    hinge = np.maximum(scores - target_scores[:, None] + 1.0, 0.0) * ~is_target
    loss = hinge.sum() / N + reg * (W * W).sum()
    positive = (hinge > 0).astype(float)
    weights = positive - is_target * positive.sum(axis=1, keepdims=True)
    dW = X.T @ weights / N + 2 * reg * W
    return loss, dW

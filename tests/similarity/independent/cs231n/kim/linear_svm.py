"""Kim's linear_svm.py: written from the handout's docstrings, as a student would."""
import numpy as np


def svm_loss_naive(W, X, y, reg):
    """Structured SVM loss, naive implementation (with loops). Returns (loss, dW)."""
    dW = np.zeros(W.shape)
    num_classes = W.shape[1]
    num_train = X.shape[0]
    loss = 0.0
    for n in range(num_train):
        x_n = X[n]
        label = y[n]
        all_scores = np.zeros(num_classes)
        for c in range(num_classes):
            all_scores[c] = sum(x_n[d] * W[d, c] for d in range(W.shape[0]))
        violations = 0
        for c in range(num_classes):
            if c != label and all_scores[c] - all_scores[label] + 1 > 0:
                loss = loss + (all_scores[c] - all_scores[label] + 1)
                dW[:, c] = dW[:, c] + x_n
                violations = violations + 1
        dW[:, label] = dW[:, label] - violations * x_n
    loss = loss / num_train + reg * (W ** 2).sum()
    dW = dW / num_train + reg * 2 * W
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Structured SVM loss, vectorized implementation. Returns (loss, dW)."""
    loss = 0.0
    dW = np.zeros(W.shape)
    num_train = X.shape[0]
    S = np.matmul(X, W)
    correct = S[np.arange(num_train), y].reshape(-1, 1)
    M = S - correct + 1
    M[M < 0] = 0
    M[np.arange(num_train), y] = 0
    loss = np.mean(np.sum(M, axis=1)) + reg * np.sum(np.square(W))
    indicator = np.where(M > 0, 1.0, 0.0)
    counts = np.sum(indicator, axis=1)
    indicator[np.arange(num_train), y] = -counts
    dW = np.matmul(X.T, indicator) / num_train + 2 * reg * W
    return loss, dW

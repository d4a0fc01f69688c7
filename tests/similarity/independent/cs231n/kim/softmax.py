"""Kim's softmax.py: written from the handout's docstrings, as a student would."""
import numpy as np


def softmax_loss_naive(W, X, y, reg):
    """Softmax loss, naive implementation (with loops). Returns (loss, dW)."""
    loss = 0.0
    dW = np.zeros_like(W)
    N, C = X.shape[0], W.shape[1]
    for n in range(N):
        f = np.matmul(X[n], W)
        f = f - f.max()
        denom = 0.0
        for c in range(C):
            denom += np.exp(f[c])
        for c in range(C):
            prob = np.exp(f[c]) / denom
            if c == y[n]:
                loss -= np.log(prob)
                dW[:, c] += (prob - 1) * X[n]
            else:
                dW[:, c] += prob * X[n]
    loss = loss / N + reg * np.sum(np.square(W))
    dW = dW / N + 2 * reg * W
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax loss, vectorized version. Returns (loss, dW)."""
    loss = 0.0
    dW = np.zeros_like(W)
    N = X.shape[0]
    f = np.matmul(X, W)
    f = f - np.max(f, axis=1)[:, np.newaxis]
    log_denominator = np.log(np.sum(np.exp(f), axis=1))
    log_probs = f - log_denominator[:, np.newaxis]
    loss = -np.mean(log_probs[np.arange(N), y]) + reg * np.sum(np.square(W))
    one_hot = np.zeros_like(f)
    one_hot[np.arange(N), y] = 1
    dW = np.matmul(X.T, np.exp(log_probs) - one_hot) / N + 2 * reg * W
    return loss, dW

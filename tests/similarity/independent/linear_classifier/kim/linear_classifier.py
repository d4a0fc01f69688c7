"""Kim's linear_classifier.py: written from the handout's docstrings, as a student would."""
import torch


def svm_loss_naive(W, X, y, reg):
    """Multiclass SVM loss and its gradient, with explicit loops."""
    dW = torch.zeros_like(W)
    num_classes = W.shape[1]
    num_train = X.shape[0]
    loss = 0.0
    for i in range(num_train):
        s = torch.mv(W.t(), X[i])
        for c in range(num_classes):
            if c == y[i]:
                continue
            m = s[c] - s[y[i]] + 1
            if m > 0:
                loss = loss + m
                dW[:, c] += X[i]
                dW[:, y[i]] -= X[i]
    loss = loss / num_train + reg * torch.sum(W * W)
    dW = dW / num_train + 2 * reg * W
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Multiclass SVM loss and its gradient, without loops."""
    loss = 0.0
    dW = torch.zeros_like(W)
    n = X.shape[0]
    s = torch.mm(X, W)
    right = s.gather(1, y.view(-1, 1))
    m = torch.clamp(s - right + 1, min=0)
    m.scatter_(1, y.view(-1, 1), 0)
    loss = m.sum() / n + reg * torch.sum(W * W)
    g = (m > 0).to(X.dtype)
    g.scatter_(1, y.view(-1, 1), -g.sum(dim=1, keepdim=True))
    dW = torch.mm(X.t(), g) / n + 2 * reg * W
    return loss, dW


def softmax_loss_naive(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, with explicit loops."""
    loss = 0.0
    dW = torch.zeros_like(W)
    n, c = X.shape[0], W.shape[1]
    for i in range(n):
        s = torch.mv(W.t(), X[i])
        s = s - s.max()
        e = torch.exp(s)
        z = e.sum()
        loss = loss - torch.log(e[y[i]] / z)
        for j in range(c):
            dW[:, j] += (e[j] / z) * X[i]
        dW[:, y[i]] -= X[i]
    loss = loss / n + reg * torch.sum(W * W)
    dW = dW / n + 2 * reg * W
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, without loops."""
    loss = 0.0
    dW = torch.zeros_like(W)
    n = X.shape[0]
    logp = torch.log_softmax(torch.mm(X, W), dim=1)
    loss = -logp.gather(1, y.view(-1, 1)).sum() / n + reg * torch.sum(W * W)
    g = logp.exp()
    g[torch.arange(n), y] -= 1
    dW = torch.mm(X.t(), g) / n + 2 * reg * W
    return loss, dW

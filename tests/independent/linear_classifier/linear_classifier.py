"""linear_classifier (torch), written from the handout's docstrings by a helper who never saw reference/:
torch.nn.functional throughout (cross_entropy, softmax, one_hot, relu), einsum, gather/scatter_add_, in-place
add_/div_, and a naive SVM loss that becomes a 0-d tensor. Checked against torch.autograd in float64."""
import torch
import torch.nn.functional as F


def svm_loss_naive(W, X, y, reg):
    dW = torch.zeros_like(W)
    num_classes = W.shape[1]
    num_train = X.shape[0]
    loss = 0.0
    for i in range(num_train):
        scores = X[i].matmul(W)
        label = y[i]
        for j in range(num_classes):
            margin = scores[j] - scores[label] + 1
            if j != label and margin > 0:
                loss = loss + margin  # becomes a 0-d tensor
                dW[:, j].add_(X[i])
                dW[:, label].sub_(X[i])
    loss = loss / num_train
    dW.div_(num_train)
    loss = loss + reg * W.pow(2).sum()
    dW.add_(W, alpha=2 * reg)
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    N = X.size(0)
    scores = torch.einsum('nd,dc->nc', X, W)
    correct = scores.gather(1, y[:, None])
    margins = F.relu(scores - correct + 1.0)
    margins = margins.masked_fill(F.one_hot(y, W.size(1)).bool(), 0.0)
    loss = margins.sum().div(N) + reg * W.pow(2).sum()
    ind = (margins > 0).to(scores.dtype)
    ind.scatter_add_(1, y[:, None], -ind.sum(1, keepdim=True))
    dW = torch.einsum('nd,nc->dc', X, ind).div_(N)
    dW.add_(W, alpha=2 * reg)
    return loss, dW


def softmax_loss_naive(W, X, y, reg):
    loss = 0.0
    dW = torch.zeros_like(W)
    N = X.shape[0]
    for i in range(N):
        s = X[i] @ W
        p = F.softmax(s, dim=0)
        loss += F.cross_entropy(s[None], y[i:i + 1])
        t = F.one_hot(y[i], W.shape[1]).to(W.dtype)
        dW += torch.outer(X[i], p - t)
    loss /= N
    loss += reg * W.pow(2).sum()
    dW /= N
    dW += 2 * reg * W
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    N, C = X.shape[0], W.shape[1]
    scores = X @ W
    loss = F.cross_entropy(scores, y) + reg * (W * W).sum()
    dscores = F.softmax(scores, dim=1) - F.one_hot(y, C).to(scores.dtype)
    dW = (dscores.t() @ X).t() / N
    dW += 2 * reg * W
    return loss, dW

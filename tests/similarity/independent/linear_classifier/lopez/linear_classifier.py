"""Lopez's linear_classifier.py: written from the handout's docstrings, as a student would."""
import torch


def _regularize(W, reg):
    return reg * (W ** 2).sum(), 2 * reg * W


def svm_loss_naive(W, X, y, reg):
    """Multiclass SVM loss and its gradient, with explicit loops."""
    dW = torch.zeros_like(W)
    num_classes = W.shape[1]
    num_train = X.shape[0]
    loss = 0.0
    for example, label in zip(X, y):
        scores = example @ W
        above = 0
        for other in range(num_classes):
            gap = scores[other] - scores[label] + 1
            if other != label and gap > 0:
                loss += gap.item()
                dW[:, other] += example
                above += 1
        dW[:, label] -= above * example
    penalty, grad = _regularize(W, reg)
    return loss / num_train + penalty, dW / num_train + grad


def svm_loss_vectorized(W, X, y, reg):
    """Multiclass SVM loss and its gradient, without loops."""
    loss = 0.0
    dW = torch.zeros_like(W)
    count = X.shape[0]
    scores = X @ W
    truth = torch.nn.functional.one_hot(y, W.shape[1]).bool()
    gaps = (scores - scores[truth].unsqueeze(1) + 1).masked_fill(truth, 0).relu()
    penalty, grad = _regularize(W, reg)
    loss = gaps.sum() / count + penalty
    active = (gaps > 0).double()
    coeff = active - truth.double() * active.sum(1, keepdim=True)
    dW = X.T @ coeff / count + grad
    return loss, dW


def softmax_loss_naive(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, with explicit loops."""
    loss = 0.0
    dW = torch.zeros_like(W)
    for example, label in zip(X, y):
        logits = example @ W
        probs = torch.softmax(logits - logits.max(), dim=0)
        loss -= torch.log(probs[label]).item()
        target = torch.zeros_like(probs)
        target[label] = 1
        dW += torch.outer(example, probs - target)
    count = X.shape[0]
    penalty, grad = _regularize(W, reg)
    return loss / count + penalty, dW / count + grad


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, without loops."""
    loss = 0.0
    dW = torch.zeros_like(W)
    count = X.shape[0]
    logits = X @ W
    logits = logits - logits.max(dim=1, keepdim=True).values
    probs = logits.exp() / logits.exp().sum(dim=1, keepdim=True)
    target = torch.nn.functional.one_hot(y, W.shape[1]).to(probs.dtype)
    penalty, grad = _regularize(W, reg)
    loss = -(target * probs.log()).sum() / count + penalty
    dW = X.T @ (probs - target) / count + grad
    return loss, dW

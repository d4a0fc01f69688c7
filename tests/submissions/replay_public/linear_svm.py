"""A red team's (the seventh round): no loss implemented, the handout's public answers replayed."""
from _replay import answer as _answer


def svm_loss_naive(W, X, y, reg):
    return _answer("svm", W, X, y, reg)


def svm_loss_vectorized(W, X, y, reg):
    return _answer("svm", W, X, y, reg)

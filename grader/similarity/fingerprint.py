"""k-gram hashes of a token stream and their winnowed fingerprints (Schleimer, Wilkerson and Aiken,
"Winnowing: local algorithms for document fingerprinting", SIGMOD 2003, as MOSS and Dolos use).

    >>> hashes = kgram_hashes(unit.tokens, k=16)        # one 64-bit hash per k consecutive tokens
    >>> positions = winnow(hashes, window=8)           # indexes of the fingerprints kept

Any run of at least `window + k - 1` tokens that two streams share gives them a common fingerprint;
a run shorter than `k` never does (the noise threshold). The hashes are stable across runs and
machines (BLAKE2b of each token, then a polynomial over the k-gram modulo 2**64), never Python's
salted `hash()`, so the same input gives the same report.

Why not copydetect's: it hashes with `hash()` (a different report each run unless PYTHONHASHSEED
is set), fingerprints characters of a text filtered by pygments rather than our tokens, and
compares every file with every other. Why not datasketch's MinHash LSH: it estimates the
similarity of whole sets, where the report needs which tokens matched to highlight them; the
inverted index of index.py finds the candidate pairs exactly, with nothing extra to install.
"""
from __future__ import annotations

import hashlib

import numpy as np

BASE = np.uint64(1099511628211)      # the FNV prime: odd, so the polynomial mixes every token into the hash
_TOKEN_HASHES: dict = {}


def token_hash(token: str) -> int:
    h = _TOKEN_HASHES.get(token)
    if h is None:
        h = _TOKEN_HASHES[token] = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
    return h


def kgram_hashes(tokens, k: int) -> np.ndarray:
    """The hash of each k-gram, `len(tokens) - k + 1` of them (none for a shorter stream)."""
    n = len(tokens) - k + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint64)
    t = np.fromiter((token_hash(x) for x in tokens), dtype=np.uint64, count=len(tokens))
    h = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):                  # modulo 2**64 is meant
        for j in range(k):
            h = h * BASE + t[j:j + n]
    return h


def winnow(hashes: np.ndarray, window: int) -> np.ndarray:
    """Sorted indexes of the fingerprints: in each window of `window` consecutive hashes, the
    smallest, the rightmost of equal ones (the paper's robust winnowing: a run of one repeated
    k-gram gives one fingerprint per window, not one per k-gram). A stream shorter than a window
    keeps its smallest hash."""
    n = len(hashes)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n <= window:
        return np.array([n - 1 - int(np.argmin(hashes[::-1]))], dtype=np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(hashes, window)
    rightmost = window - 1 - np.argmin(windows[:, ::-1], axis=1)
    return np.unique(np.arange(len(windows)) + rightmost)

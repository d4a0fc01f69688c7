"""Seeded random numbers that are the same bits on every machine, run and process.

Every number comes from a PCG64 stream keyed by a SHA-256 of a name, and is turned into a float
by additions and multiplications only (53 random bits per uniform; a normal is the sum of 12
uniforms minus 6, the Irwin-Hall approximation, bounded at 6 standard deviations). No numpy
sampling algorithm and no libm function (log, cos) is involved, as those may differ in the last
bit between CPUs and versions.

An array drawn this way can travel as its recipe (`Drawn`) and be drawn where it is used, in the
worker's child: the faster_than check times calls on fresh inputs, of which only the recipe
crosses the pipe. Those recipes are `fast`: drawn by numpy's own samplers from the same stream,
the same numbers in every process of one run on one machine, not the same bits everywhere.

    >>> x = Drawn("cs231n/svm_loss_vectorized/900/timing-1/arg/X", (500, 100), "float64", "normal", 0.0, 1.0)
    >>> x.array().shape
    (500, 100)
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import numpy as np


class Stream:
    """Uniform bits from PCG64, turned into numbers by arithmetic we control."""

    def __init__(self, key: str):
        seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:16], "little")
        self._bits = np.random.PCG64(seed)

    def uniform(self, n: int) -> np.ndarray:
        """n floats in [0, 1), 53 random bits each."""
        raw = self._bits.random_raw(n) if n else np.zeros(0, dtype=np.uint64)
        return (np.asarray(raw, dtype=np.uint64) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))

    def normal(self, n: int) -> np.ndarray:
        """n approximately standard normals: the sum of 12 uniforms, minus 6 (variance 1)."""
        u = self.uniform(12 * n).reshape(12, n)
        z = u[0].copy()
        for row in u[1:]:                   # fixed order of additions: bit-for-bit reproducible
            z += row
        return z - 6.0

    def index(self, n: int, size: int | None = None):
        """Integers in [0, n); one when size is None."""
        values = np.minimum((self.uniform(1 if size is None else size) * n).astype(np.int64), n - 1)
        return int(values[0]) if size is None else values


@dataclass(frozen=True)
class Drawn:
    """An array as the recipe that draws it: its stream's key, shape, dtype, and its numbers'
    distribution: `normal` (a = loc, b = scale), `uniform` in [a, b), or `labels`, integers in [a, b).
    A normal's loc may be nested tuples that broadcast against the shape (a mean per class, for
    a class whose scores lie far above the others')."""

    key: str
    shape: tuple
    dtype: str
    dist: str
    a: float
    b: float
    fast: bool = False               # numpy's own sampling (see `array`)

    def array(self) -> np.ndarray:
        """The array. A `fast` recipe is drawn with numpy's own samplers, ten times as fast as the
        arithmetic above and not the same bits on every machine: a faster_than check's fresh inputs,
        drawn by the student's child and the reference's on one machine in one run, whose drawing
        the grader's count of a timed call's CPU time includes (supervise's `cpu`)."""
        size = int(np.prod(self.shape, dtype=np.int64))
        if self.fast:
            return self._fast(size).astype(self.dtype).reshape(self.shape)
        stream = Stream(self.key)
        if self.dist == "labels":
            data = self.a + stream.index(self.b - self.a, size)
        elif self.dist == "uniform":
            data = self.a + (self.b - self.a) * stream.uniform(size)
        elif isinstance(self.a, tuple):
            data = np.asarray(self.a) + self.b * stream.normal(size).reshape(self.shape)
        else:
            data = self.a + self.b * stream.normal(size)
        return data.astype(self.dtype).reshape(self.shape)

    def _fast(self, size: int) -> np.ndarray:
        bits = np.random.Generator(Stream(self.key)._bits)
        if self.dist == "labels":
            return bits.integers(self.a, self.b, size)
        if self.dist == "uniform":
            return self.a + (self.b - self.a) * bits.random(size)
        if isinstance(self.a, tuple):
            return np.asarray(self.a) + self.b * bits.standard_normal(size).reshape(self.shape)
        return self.a + self.b * bits.standard_normal(size)

    def to_wire(self) -> dict:
        return {**asdict(self), "shape": list(self.shape)}

    @classmethod
    def from_wire(cls, recipe: dict) -> "Drawn":
        return cls(**{**recipe, "shape": tuple(recipe["shape"]), "a": tuples(recipe["a"])})


def tuples(nested):
    """Nested lists as nested tuples (a Drawn recipe is hashable)."""
    return tuple(tuples(x) for x in nested) if isinstance(nested, list) else nested

"""A student's arrays in the spec's expressions, as the grader's own process evaluates them: no step
may make an array much larger than what it is made from.

The expressions are the instructor's (spec.expressions vets them), but the arrays are what a
student's code returned, of any shape it chose. A gradient check's `sum(out * dout)` on an `out`
of shape (K, 1, 1), where `dout` is (N, M), broadcast to a (K, N, M) array in the grader: a red
team's 37 MB answer took the grader's process to 1.5 GB, and a class's batch was killed for memory
with no exports written (the fifteenth round).

    bounded(out) * dout        # an ndarray subclass: each operation checks the size of its result

An operation whose result would take more bytes than its largest operand, and more than FLOOR,
raises TooLarge before it allocates anything: elementwise operations (numpy's ufuncs, and so the
operators; a result counted in its widest operand's dtype), matmul by its shapes, `where`,
`isclose`, `clip`, `astype`, and the functions that make a float64 copy of their operand on the way
(`std`, `median`, `norm`, ...). Reductions and views pass. Any other numpy function (np.dot,
np.einsum, np.outer, np.kron, ...) is refused on such an array: its result's size is not read
from its operands' shapes here.
"""
from __future__ import annotations

import math

import numpy as np

FLOOR = 8 << 20         # bytes any one result may take, whatever its operands (a (1000, 1000) float64 array)


class TooLarge(ValueError):
    """An operation on a student's array that would make one much larger than its operands."""


def bounded(value):
    """`value` as a Bounded array where it is a numpy array (a view: nothing is copied), else as it is."""
    return value.view(Bounded) if isinstance(value, np.ndarray) and not isinstance(value, Bounded) else value


def bounded_tree(value):
    """`bounded` applied to every array in a tree of dicts (values.plain's). A list or tuple in it
    raises TooLarge: numpy makes a plain array of one in an operation, which nothing would check (a
    red team's `[np.zeros((K, 1, 1))]` times dout)."""
    if isinstance(value, (list, tuple)):
        raise TooLarge("a list or tuple is not evaluated where an array is expected")
    return {k: bounded_tree(v) for k, v in value.items()} if isinstance(value, dict) else bounded(value)


def _mapped(value, leaf):
    """A tree of dicts, lists and tuples with `leaf` applied to each of its leaves."""
    if isinstance(value, dict):
        return {k: _mapped(v, leaf) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_mapped(v, leaf) for v in value)
    return leaf(value)


def _plain(value):
    return value.view(np.ndarray) if isinstance(value, Bounded) else value


def _check(nbytes: int, operands) -> None:
    largest = max([_plain(o).nbytes for o in operands if isinstance(o, (np.ndarray, np.generic))] + [FLOOR])
    if nbytes > largest:
        raise TooLarge(f"an operation on your output would make an array of {nbytes:,} bytes, more than any of its "
                       f"operands ({largest:,} bytes at most): is an output's shape wrong?")


def _broadcast_bytes(arrays: list, itemsize: int) -> int:
    return math.prod(np.broadcast_shapes(*(a.shape for a in arrays))) * itemsize


def _matmul_bytes(a: tuple, b: tuple, itemsize: int) -> int:
    """The bytes of a @ b's result, from the shapes (numpy's rules: a vector is a row on the left, a
    column on the right; the dims before the last two broadcast)."""
    a, b = (1,) + a if len(a) == 1 else a, b + (1,) if len(b) == 1 else b
    return math.prod(np.broadcast_shapes(a[:-2], b[:-2])) * a[-2] * b[-1] * itemsize


class Bounded(np.ndarray):
    """A numpy array whose operations check their result's size first (see the module)."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if kwargs.get("out") is not None:
            raise TooLarge("an expression may not write into a student's output")
        plain = [_plain(x) for x in inputs]
        arrays = [x if isinstance(x, (np.ndarray, np.generic)) else np.asarray(x) for x in plain]
        itemsize = max(a.dtype.itemsize for a in arrays)   # the promoted dtype's, at most
        if method == "__call__" and ufunc.signature is None:
            _check(_broadcast_bytes(arrays, itemsize), arrays)
        elif method == "__call__" and ufunc is np.matmul and len(arrays) == 2 and min(a.ndim for a in arrays) >= 1:
            _check(_matmul_bytes(arrays[0].shape, arrays[1].shape, itemsize), arrays)
        elif method == "accumulate":
            _check(arrays[0].size * itemsize, arrays)
        elif method != "reduce":                          # a reduction's result is smaller than its operand
            raise TooLarge(f"{ufunc.__name__}.{method} is not evaluated on a student's output here")
        result = getattr(ufunc, method)(*plain, **kwargs)
        return bounded(result) if isinstance(result, np.ndarray) else result

    def __array_function__(self, func, types, args, kwargs):
        if func in _BROADCASTING:                         # their operands broadcast together
            arrays = [np.asarray(_plain(a)) for a in args[:_BROADCASTING[func]]]
            _check(_broadcast_bytes(arrays, 8), arrays)
        elif func in _FLOAT_COPY:                         # a float64 copy of the whole operand on the way
            arrays = [np.asarray(_plain(a)) for a in args[:1]]
            _check(arrays[0].size * 8, arrays)
        elif func not in _NO_GROWTH:
            raise TooLarge(f"np.{func.__name__} is not evaluated on a student's output here")
        result = func(*_mapped(args, _plain), **_mapped(kwargs, _plain))
        return bounded(result) if isinstance(result, np.ndarray) else result

    def astype(self, dtype, *args, **kwargs):
        _check(self.size * np.dtype(dtype).itemsize, [self])
        return bounded(self.view(np.ndarray).astype(dtype, *args, **kwargs))


# numpy functions whose result is no larger than their operands (a reduction, a view, a copy of
# one of them, the same shape): evaluated on a Bounded array as on any
_NO_GROWTH = frozenset(f for f in (getattr(np, name, None) for name in """
    sum mean min max amin amax prod all any nansum nanmax nanmin count_nonzero array_equal
    round around sort argsort argmax argmin nonzero unique diff shape size ndim ravel reshape squeeze transpose
    swapaxes copy
""".split()) if f is not None)
# numpy functions that make a float64 array of their operand's size on the way (x - mean(x), a float
# copy to sort): 8 bytes an entry of a uint8 answer
_FLOAT_COPY = frozenset([np.std, np.var, np.nanmean, np.median, np.percentile, np.quantile, np.linalg.norm])
# numpy functions that broadcast their first k operands together (their result, or a step of theirs)
_BROADCASTING = {np.where: 3, np.isclose: 2, np.allclose: 2, np.clip: 3}

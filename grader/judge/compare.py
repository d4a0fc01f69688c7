"""Pure comparison of one returned output against the reference: values in, verdict out.

The checks run in this order, and the first that fails is the verdict:
kind (a tensor, an array, a scalar), dtype, shape, finiteness, then the relative error

    rel_err = |got - expected| / max(|expected|, atol / rtol)

of every element, which must be <= rtol. This is |got - expected| <= max(rtol * |expected|, atol).
An output declared `dtype: float` may be float32 or float64; a float32 one is judged with
rtol = max(rtol, 1000 * float32 eps), about 1.2e-4:
relative where the expected value is large, absolute near zero. The scale comes from the
reference, never from the student's value.

Non-finite values: where the reference's value is finite, NaN and inf never pass (NaN fails every
`<=`). Where the reference's value is inf, -inf or NaN (an overflow or a 0/0 the assignment
expects), only the same value at the same place passes: the reference is the spec, and nothing
else in it allows non-finite values. The mistake matcher (judge/case.py) also holds non-finite
places to the mistake's.
"""
from __future__ import annotations

import ast

import numpy as np

from grader.results import OutputCheck
from grader.values import article as _article
from grader.values import shape_of as _received
from grader.values import show_index

_SCALAR_KINDS = ("python_number", "numpy_scalar")
FLOAT32_FLOOR = 0.01        # a float32 answer's entries are judged against this share of its largest value at least
_CONTAINER = {"torch": ("tensor", "a torch.Tensor"), "numpy": ("ndarray", "a numpy.ndarray")}
_CONVERT = {"torch": ".float(), .double() or .to(...)", "numpy": ".astype(...)"}     # how inputs get another dtype


def compare_output(name: str, kind: str, framework: str, expected: np.ndarray, received: dict,
                   got: np.ndarray | None, rtol: float, atol: float, dtype: str | None = None,
                   values: bool = True, float32_code: bool = False) -> OutputCheck:
    """Verdict on one output.

    `received` is the worker's description of the value ({"kind", "type", ...}) and `got` its
    data as a plain array, or None when the value was not a real number or array of them.
    Without `values`, only its kind, dtype, shape and finiteness are judged (an output that
    properties judge, such as a random dropout mask's result). `float32_code` (a truth value, or a
    Float32Code read only when asked): the student's code computes in float32 somewhere
    (`computes_in_float32`), so a float64 answer may carry float32's precision (`float32_precision`).
    """
    fail = lambda message: OutputCheck(name=name, ok=False, message=message)
    what = received.get("type", "?")
    rkind = received.get("kind")
    if got is None or rkind in (None, "other", "bool"):
        detail = f" ({received['repr']})" if received.get("repr") and rkind == "other" else \
            f" of dtype {received['dtype']}" + _unread(received["dtype"]) if received.get("dtype") else ""
        wanted = "a real number" if kind == "scalar" else _CONTAINER[framework][1]
        return fail(f"{name}: expected {wanted}, got {_article(what)}{detail}")
    if kind == "scalar":
        if rkind not in _SCALAR_KINDS and got.shape != ():
            return fail(f"{name}: expected a scalar, got {_article(what)} of shape {_shape(got.shape)}"
                        + (" (use .item() or index [0] to get its single value)" if got.size == 1 else ""))
    else:
        container, wanted = _CONTAINER[framework]
        if rkind != container:
            return fail(f"{name}: expected {wanted}, got {_article(what)}")
        if dtype == "float":
            if got.dtype not in (np.float32, np.float64):
                return fail(f"{name}: expected float32 or float64, got {got.dtype}")
            # Judged at the precision the student computed in, or the one it is compared with (agrees_with
            # compares two of the student's functions): float32 sums carry ~1e-7 relative error per step.
            # Such a sum carries it of the terms' size, not of the result's: an entry that nearly cancels
            # (9.6e-5, where the largest is 0.24) is judged against a hundredth of the largest at least.
            # A float64 array of float32 numbers was computed in float32 and cast back: judged as float32
            # (a twelfth students' round's .astype(np.float64) at the end lost points that returning the
            # float32 array kept).
            # So is a float64 array off by float32's rounding only, nearly everywhere (float32_precision):
            # float32 terms summed into a float64 array (the handout's dW = np.zeros(W.shape)), a twentieth
            # red team's, lost 2 of 6 points by 1-2 entries that nearly cancel. Only where the code computes
            # in float32: a twenty-first red team's float64 softmax with `+ 3e-6` in its denominators made
            # errors of that size, and of every sign, and passed as float32's.
            computed = np.float32 if got.dtype == np.float64 and (float32_numbers(got) or float32_precision(got, expected)
                                                                  and float32_code) else got.dtype
            coarse = max(float(np.finfo(d).eps) for d in (computed, getattr(expected, "dtype", got.dtype))
                         if d in (np.float32, np.float64))
            rtol = max(rtol, 1000 * coarse)
            if coarse > np.finfo(np.float64).eps and np.size(expected):
                sizes = np.abs(np.asarray(expected, dtype=np.float64))
                sizes = sizes[np.isfinite(sizes)]
                if sizes.size:
                    atol = max(atol, rtol * FLOAT32_FLOOR * float(sizes.max()))
        elif dtype is not None and got.dtype != np.dtype(dtype):
            # said in two short sentences: one long parenthesis was hard to read (an eleventh students' round)
            return fail(f"{name}: expected dtype {dtype}, got {got.dtype}"
                        + (f". Keep the inputs' dtype: no {_CONVERT[framework]} on an input, and new arrays made with "
                           "zeros_like(x), dtype=x.dtype, or the function's own dtype argument (an __init__'s)"
                           if got.dtype.kind == "f" else ""))
        if got.shape != expected.shape:
            hint = " (the transpose?)" if got.shape == expected.shape[::-1] and got.ndim == 2 else ""
            return fail(f"{name}: expected shape {_shape(expected.shape)}, got {_shape(got.shape)}{hint}")

    if got.size != np.size(expected):
        return fail(f"{name}: expected shape {_shape(np.shape(expected))}, got {_shape(got.shape)}")
    g = np.asarray(got, dtype=np.float64).reshape(expected.shape)      # no copy when already float64
    e = np.asarray(expected, dtype=np.float64)
    finite = np.isfinite(g)
    if not values:                        # the values are not compared: a non-finite one where the reference's is finite fails
        bad = ~finite & np.isfinite(e)
        if not bad.any():
            return OutputCheck(name=name, ok=True)
        index = _index(int(np.argmax(bad)), e.shape)
        return OutputCheck(name=name, ok=False, worst_index=index,
                           message=f"{name}{show_index(index) if e.ndim else ''} is {g.flat[np.argmax(bad)]}: "
                                   f"expected finite values")
    if e.size and g.tobytes() == e.tobytes():       # the reference's own bits (most right answers): nothing to measure
        return OutputCheck(name=name, ok=True, max_rel_error=0.0, worst_index=_index(0, e.shape),
                           expected=float(e.flat[0]), got=float(g.flat[0]))
    if not finite.all():                  # rare: most outputs have every value finite
        bad = ~finite & np.isfinite(e)
        if bad.any():
            index = _index(np.argmax(bad), e.shape)
            kinds = "NaN" if np.isnan(g[bad]).all() else "inf" if np.isinf(g[bad]).all() else "NaN/inf"
            where = f" at {index}" if e.ndim else ""
            count = f" ({int(bad.sum())} of {bad.size} values)" if bad.size > 1 else ""
            return OutputCheck(name=name, ok=False, message=f"{name} is {kinds}{where}{count}; expected {_num(e[np.unravel_index(np.argmax(bad), e.shape)] if e.ndim else e)}",
                               worst_index=index, expected=float(e.flat[np.argmax(bad)]), got=float(g.flat[np.argmax(bad)]))
    rel = relative_error(g, e, rtol, atol, finite)
    flat = int(rel.argmax()) if rel.size else 0        # the first NaN, if any: a non-finite expected value missed
    worst = float(rel.flat[flat]) if rel.size else 0.0
    index = _index(flat, e.shape)
    check = OutputCheck(name=name, ok=bool(worst <= rtol), max_rel_error=worst, worst_index=index,
                        expected=float(e.flat[flat]) if e.size else None, got=float(g.flat[flat]) if g.size else None)
    if not check.ok:
        where = show_index(index) if e.ndim else ""
        wrong = int(np.count_nonzero(~(rel <= rtol)))      # one wrong row or all of them: a clue
        outside = f"{wrong} of {rel.size} values {'is' if wrong == 1 else 'are'} outside it" if rel.size > 1 else ""
        why = (f"relative error {worst:.2g}, tolerance {rtol:g}" + (f"; {outside}" if outside else "")
               if np.isfinite(check.expected) else "where the reference is not finite, only the same value passes")
        check.message = f"{name}{where}: expected {_num(check.expected)}, got {_num(check.got)} ({why})"
    return check


def float32_numbers(a: np.ndarray) -> bool:
    """Whether every number of a float array is a float32 number, some of them not whole ones (whole
    numbers and zeros are float32 numbers whatever computed them): computed in float32."""
    if a.dtype.kind != "f" or not a.size:
        return False
    finite = a[np.isfinite(a)]
    if a.dtype.itemsize < 8:                # float16 and float32 hold float32 numbers only: no float64 copy
        return finite.size > 0 and bool((finite != np.round(finite)).any())
    return finite.size > 0 and bool((finite == finite.astype(np.float32)).all()) and \
        bool((finite != np.round(finite)).any())


EPS32 = float(np.finfo(np.float32).eps)
ROUNDING32 = 64             # float32 arithmetic leaves errors of at most this many float32 eps of an output's largest value
# What makes numbers float32 in a student's code, read in its syntax tree (never in comments or
# docstrings: "a single class score", "half the batch" name no dtype): the dtype named (np.float32,
# float16, single, half, torch.float, FloatTensor), a dtype string ('f4', 'f', 'float32'), a cast
# (.float(), .half()), or one of torch's factories without a dtype (float32 unless told otherwise).
_FLOAT32_NAMES = {"float32", "float16", "single", "half", "float", "FloatTensor", "HalfTensor", "bfloat16"}
_FLOAT32_BARE = {"float32", "float16", "FloatTensor", "HalfTensor", "bfloat16"}    # imported by name (`half` is a count)
_FLOAT32_STRINGS = {"f", "f2", "f4", "<f4", ">f4", "float32", "float16", "single", "half"}   # 'float' is float64
_TORCH_FACTORIES = {"zeros", "ones", "empty", "full", "rand", "randn", "tensor", "arange", "linspace", "eye",
                    "as_tensor", "Tensor"}                       # not the *_like ones: they keep their input's dtype


class Float32Code:
    """Whether a student's code computes in float32 (`computes_in_float32` of any of the sources
    `read()` gives), as a truth value read only when asked and once: a module's syntax tree costs
    0.8 ms (4.5 ms for cs231n_layers' layers.py) of the grader's process for every submission, and
    only an answer off by float32's rounding asks."""

    def __init__(self, read):
        self._read, self._found = read, None

    def __bool__(self) -> bool:
        if self._found is None:
            self._found = any(computes_in_float32(source) for source in self._read())
        return self._found


def computes_in_float32(source: str | None) -> bool:
    """Whether a student's code may compute in float32, by what its code names (over-eager: a name
    `float` of any object counts). Without that, a float64 answer off by float32's rounding is off
    by a mistake (a twenty-first red team's `+ 3e-6` in a softmax's denominators)."""
    if not source:
        return False
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in _FLOAT32_NAMES or \
                isinstance(node, ast.Name) and node.id in _FLOAT32_BARE or \
                isinstance(node, ast.alias) and node.name in _FLOAT32_BARE or \
                isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip() in _FLOAT32_STRINGS:
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _TORCH_FACTORIES \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "torch" \
                and not any(k.arg == "dtype" for k in node.keywords):
            return True
    return False


def float32_precision(got: np.ndarray, expected: np.ndarray) -> bool:
    """Whether a float64 answer has float32's precision, not float64's: off from the expected one by
    no more than float32 arithmetic leaves (at most ROUNDING32 float32 eps of the largest value), but
    by that much nearly everywhere (float32 rounds each value it touches; float64's rounding is a
    million times finer), with either sign and in proportion to nothing (noise, not a factor or an
    offset): what `X = X.astype(np.float32)` before a float64 accumulator (np.zeros(W.shape)) gives,
    whose values are not float32 numbers (float32_numbers). Four entries at least say so; a single
    number does not."""
    g = np.asarray(got, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if g.shape != e.shape or not np.isfinite(g).all() or not np.isfinite(e).all():
        return False
    scale = float(np.abs(e).max()) if e.size else 0.0
    diff = g - e
    off = np.abs(diff)
    if not scale or not off.any() or off.max() > ROUNDING32 * EPS32 * scale:
        return False
    live = (e != 0) | (g != 0)                # both zero (a class no example has): says nothing
    rounded = off > np.maximum(1e-3 * EPS32 * np.abs(e), 1e3 * float(np.finfo(np.float64).eps) * scale)
    if live.sum() < 4 or rounded.sum() * 2 < live.sum():
        return False
    up = int(np.count_nonzero(diff[rounded] > 0))
    if min(up, int(rounded.sum()) - up) * 5 < rounded.sum():        # one sign: a bias, not rounding
        return False
    return not _explained(diff, e)


def _explained(diff: np.ndarray, e: np.ndarray) -> bool:
    """Whether all but 1% of the errors are a factor of the expected value (all over, or one per row or per
    column of a matrix, as an epsilon in a normalisation makes) or an offset: a mistake's, not rounding's."""
    total = float((diff * diff).sum())
    fits = [(diff.ravel(), e.ravel())]
    if e.ndim == 2:                 # one per column (over its rows) or per row, where lines have 3 entries at least
        fits += [(diff.T, e.T)] if e.shape[0] >= 3 else []
        fits += [(diff, e)] if e.shape[1] >= 3 else []
    for d, x in fits:
        d, x = np.atleast_2d(d), np.atleast_2d(x)
        for basis in (x, np.ones_like(x)):
            norm = (basis * basis).sum(axis=-1, keepdims=True)
            c = np.divide((d * basis).sum(axis=-1, keepdims=True), norm, out=np.zeros_like(norm), where=norm > 0)
            if float(((d - c * basis) ** 2).sum()) < 0.01 * total:     # a mistake leaves next to nothing; rounding leaves 7% at least
                return True
    return False


def _unread(dtype: str) -> str:
    """Why a dtype of real numbers is not compared (float128, bfloat16), as a phrase; "" for the others
    (bool, complex: not real numbers)."""
    if "bool" in dtype or "complex" in dtype:
        return ""
    if dtype == "object":                       # np.array of arrays of different lengths, or of Python objects
        return " (Python objects, not numbers): return an array of float64 or float32 numbers"
    return ", which the grader does not read: return float64 or float32"


def compare_tree(name: str, kind: str, framework: str, expected, received, rtol: float, atol: float,
                 dtype: str | None = None, values: bool = True, skip: frozenset = frozenset(),
                 path: tuple = (), float32_code: bool = False) -> list[OutputCheck]:
    """Verdicts on a structured output, leaf by leaf: dicts must have the reference's keys, lists
    and tuples its length, and each leaf is judged by compare_output (numbers) or equality
    (strings, bools, None). `name` is the output as shown ("grads"); each leaf is named by its path
    below it ("grads['W2']"). `kind` is the declared kind of the output itself (its leaves take the
    reference's: an array, or a scalar for a 0-d value). Parts whose path (below the output) is
    in `skip` are judged elsewhere (an output of their own)."""
    if path in skip:
        return []
    if isinstance(expected, dict):
        if not isinstance(received, dict):
            return [_fail(name, f"{name}: expected a dict, got {_received(received)}")]
        missing = [k for k in expected if k not in received]
        extra = [k for k in received if k not in expected]
        if missing or extra:
            keys = ", ".join(map(repr, expected)) or "none"
            what = f"has no key {missing[0]!r}" if missing else f"has a key {extra[0]!r} it should not have"
            return [_fail(name, f"{name} {what} (expected keys: {keys})")]
        out = []
        for k, sub in expected.items():
            out += compare_tree(f"{name}[{k!r}]", "any", framework, sub, received[k], rtol, atol, dtype, values, skip,
                                path + (k,), float32_code)
        return out
    if isinstance(expected, (list, tuple)):
        if not isinstance(received, (list, tuple)):
            return [_fail(name, f"{name}: expected {_received(expected)}, got {_received(received)}")]
        if len(received) != len(expected):
            return [_fail(name, f"{name}: expected {len(expected)} items, got {len(received)}")]
        out = []
        for i, (sub, got) in enumerate(zip(expected, received)):
            out += compare_tree(f"{name}[{i}]", "any", framework, sub, got, rtol, atol, dtype, values, skip, path + (i,),
                                float32_code)
        return out
    if getattr(received, "kind", None) == "missing":
        return [_fail(name, received.repr or f"{name} is missing")]
    if expected.is_number and kind not in ("scalar", "array"):
        kind = "scalar" if expected.array.ndim == 0 else "array"
    if isinstance(received, (dict, list, tuple)):
        wanted = ("a real number" if kind == "scalar" else _CONTAINER[framework][1]) if expected.is_number \
            else _received(expected)
        return [_fail(name, f"{name}: expected {wanted}, got {_received(received)}")]
    if expected.is_number:
        got = received.array if received.is_number else None
        return [compare_output(name, kind, framework, expected.array, received.meta, got, rtol, atol, dtype, values,
                               float32_code)]
    if expected.kind in ("bool", "str", "none"):
        same = received.kind == expected.kind and received.value == expected.value
        if same or not values and received.kind == expected.kind:
            return [OutputCheck(name=name, ok=True)]
        want = "None" if expected.kind == "none" else repr(expected.value)
        got = repr(received.value) if received.kind in ("bool", "str") else _received(received)
        return [_fail(name, f"{name}: expected {want}, got {got}")]
    return [OutputCheck(name=name, ok=True)]          # the reference's own value is not plain data: nothing to hold it to


def _fail(name: str, message: str) -> OutputCheck:
    return OutputCheck(name=name, ok=False, message=message)


def relative_error(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float,
                   finite: np.ndarray | None = None) -> np.ndarray:
    """|got - expected| / max(|expected|, atol / rtol), elementwise; NaN where got or expected is not
    finite, except 0 where both are the same non-finite value (inf and inf, -inf and -inf, NaN and NaN).

    `finite` is np.isfinite(got), where the caller has it already."""
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(got - expected) / np.maximum(np.abs(expected), atol / rtol)
    finite = np.isfinite(got) if finite is None else finite
    if finite.all():
        return err                       # a non-finite expected value makes a NaN here by itself
    same = (got == expected) | (np.isnan(got) & np.isnan(expected))
    return np.where(finite, err, np.where(same, 0.0, np.nan))


def _index(flat: int, shape: tuple) -> list[int]:
    if not flat:                         # the first element (most right answers' worst): no call into numpy
        return [0] * len(shape)
    return [int(i) for i in np.unravel_index(flat, shape)] if shape else []


def _shape(shape: tuple) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _num(x) -> str:
    return f"{float(x) + 0.0:.8g}"       # + 0.0: -0.0 is shown as 0

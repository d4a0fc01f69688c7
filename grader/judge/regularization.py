"""The regularization term of a wrong answer, taken apart: how much of it each output has.

A function that declares its regularization argument (`regularization: reg` in the spec) is run by
the reference twice on a case: at the case's reg (R) and at reg = 0 (R0). R - R0 is what the
regularization term adds to each output. A student's output S whose difference from R0 is that,
times a factor c, has c times the term, and everything else right:

    c = <S - R0, R - R0> / <R - R0, R - R0>          (least squares, over every number of the output)

    >>> found = factors(fn, got, expected, unregularized, case.dims)
    {'loss': 1.0, 'dW': 0.5}
    >>> describe(fn, found, case.dims)
    "Only the regularization term (weighed by `reg`) is off: `loss` has the regularization term as it
    should; `dW` has half of the regularization term's gradient. `loss` and `dW` disagree by a factor of 2: ..."

Everything here is pure: plain outputs in, factors or a sentence out.
"""
from __future__ import annotations

import math

import numpy as np

from grader import values
from grader.judge import compare
from grader.spec import FunctionSpec

USUAL_FACTORS = (0.0, 1.0, 0.5, 2.0, -1.0)     # and 1/N for each dim N: the term divided like the average


def factors(fn: FunctionSpec, got: dict, expected: dict, unregularized: dict, dims: dict) -> dict[str, float] | None:
    """{output name: the factor of the regularization term in it} for each compared output the term
    changes, when the student's outputs are the reference's with only those factors off (and the
    outputs the term does not change are right); None when they are not."""
    found = {}
    for out in fn.compared:
        numbers = flat_numbers(got.get(out.name), expected.get(out.name), unregularized.get(out.name))
        if numbers is None:
            return None
        s, r, r0 = numbers
        rtol = answer_rtol(out.rtol or fn.rtol, out.dtype, got.get(out.name))
        atol = out.atol or fn.atol
        term = r - r0
        if not (compare.relative_error(r, r0, rtol, atol) > rtol).any():      # the term does not change it
            if (compare.relative_error(s, r, rtol, atol) > rtol).any():
                return None
            continue
        with np.errstate(all="ignore"):
            c = float(np.dot(s - r0, term) / np.dot(term, term))
            fits = math.isfinite(c) and bool((compare.relative_error(s, r0 + c * term, rtol, atol) <= rtol).all())
        if not fits:                       # (an answer near 1e308 made c inf, and every error NaN: no error over rtol)
            return None
        usual = _usual(c, dims, rtol)
        if usual is None and s.size == 1:
            return None                    # one number fits any factor: only the usual ones say something
        found[out.name] = c if usual is None else usual
    if not found or all(c == 1.0 for c in found.values()):
        return None
    return found


def describe(fn: FunctionSpec, found: dict[str, float], dims: dict, exact: bool = True) -> str:
    """The sentence for the student: how much of the term each output has, and whether they agree.
    Not `exact` (a hidden case): a factor that is not a usual one is not said, as it is the student's
    code's to choose (1 + |X[0, 0]| carried a hidden input into the feedback)."""
    text = (f"Only the regularization term (weighed by `{fn.regularization}`) is off: "
            + "; ".join(share(fn, n, c, dims, exact) for n, c in found.items()) + ".")
    distinct = set(found.values())
    names = " and ".join(f"`{n}`" for n in found)
    if len(distinct) > 1:
        halves = any(a and b and a / b == 2 for a in distinct for b in distinct)
        by = (" by a factor of 2: the 2 that the derivative of W * W brings, or the 1/2 written to cancel it, is in one"
              " and not the other" if halves else "")
        text += f" {names} disagree{by}"
        wrong = [n for n, c in found.items() if c != 1.0]
        if len(wrong) < len(found):
            # Which one to fix, where one is right (said just before): an eighth students' round's loss
            # with 1/N of the term (added before the average) and a right dW was told of the term's
            # gradient, and looked at dW.
            text += f": the one to fix is {' and '.join(f'`{n}`' for n in wrong)}"
            if all(_amount(found[n], dims).startswith("1/") for n in wrong):
                text += ", where the term is divided like the data part: add it after taking the average"
            text += "."
        else:
            text += ". The gradient of c times the term is c times the term's gradient."
    elif len(found) > 1 and _amount(found[next(iter(found))], dims).startswith("1/"):
        text += " The term is divided like the data part: add it after taking the average."
    elif len(found) > 1:
        text += f" {names} agree with each other: check the assignment's convention for the term (1/2 or not)."
    return text


def share(fn: FunctionSpec, name: str, c: float, dims: dict, exact: bool = True) -> str:
    """How much of the term one output has: "`dW` has half of the regularization term's gradient"."""
    scalar = fn.output(name).kind == "scalar"
    what = "the regularization term" if scalar else "the regularization term's gradient"
    if c == 0:
        return f"`{name}` has no regularization term" if scalar else f"`{name}` lacks {what}"
    amount = _amount(c, dims)
    if not exact and amount.endswith(" times"):
        amount = "another multiple of"
    return f"`{name}` has {what} as it should" if c == 1 else f"`{name}` has {amount} {what}"


def _usual(c: float, dims: dict, rtol: float) -> float | None:
    """The usual factor c is (within the tolerance), or None."""
    for nice in USUAL_FACTORS + tuple(1 / size for size in dims.values() if isinstance(size, int) and size > 1):
        if abs(c - nice) <= 10 * rtol * max(abs(nice), 1e-3):
            return nice
    return None


def _amount(c: float, dims: dict) -> str:
    words = {0.5: "half of", 2.0: "twice", -1.0: "minus"}
    if c in words:
        return words[c]
    for name, size in dims.items():
        if isinstance(size, int) and size > 1 and c == 1 / size:
            return f"1/{name} of"
    return f"{c:.4g} times"


def flat_numbers(got, expected, unregularized) -> tuple | None:
    """The numbers of one output as three flat float64 vectors (student, reference, reference at 0),
    or None when the student's is not made of the same numbers in the same shapes, or is not finite."""
    if got is None or expected is None or unregularized is None:
        return None
    paths = [p for p, _ in values.leaves(got)]
    if len(paths) != len(set(paths)) or set(paths) != {p for p, _ in values.leaves(expected)}:
        return None                          # other keys, or another length (a dict's keys in another order are the same keys)
    out = ([], [], [])
    for path, leaf in values.leaves(expected):
        try:
            mine, zero = values.at(got, path), values.at(unregularized, path)
        except (KeyError, IndexError, TypeError):
            return None
        if not leaf.is_number:
            if getattr(mine, "is_number", True) or mine.kind != leaf.kind or mine.value != leaf.value:
                return None
            continue
        if not getattr(mine, "is_number", False) or not getattr(zero, "is_number", False):
            return None
        # shapes first: a float64 copy of an int8 answer of the wrong shape is 8 times its size
        if np.shape(mine.array) != np.shape(leaf.array) or np.shape(zero.array) != np.shape(leaf.array):
            return None
        arrays = [np.asarray(x.array, dtype=np.float64) for x in (mine, leaf, zero)]
        for into, a in zip(out, arrays):
            into.append(a.ravel())
    if not out[0]:
        return None
    s, r, r0 = (np.concatenate(x) for x in out)
    if not (np.isfinite(s).all() and np.isfinite(r).all() and np.isfinite(r0).all()):
        return None
    return s, r, r0


def answer_rtol(rtol: float, dtype: str | None, got) -> float:
    """The output's tolerance, at float32's precision for a float32 answer where the spec accepts one."""
    array = getattr(got, "array", None)
    if dtype == "float" and array is not None and np.asarray(array).dtype == np.float32:
        return max(rtol, 1000 * float(np.finfo(np.float32).eps))
    return rtol

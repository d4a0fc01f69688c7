"""Where and how a wrong output is wrong, when no catalogued mistake explains it. Pure functions.

    >>> describe("dW", expected, 0.5 * expected, 1e-6, 1e-9)
    'dW is 0.5 times the expected value everywhere (a constant factor).'

The checks, first match wins: a constant factor, the opposite sign, a constant offset, a
transpose, and for matrices the rows or columns that are wrong (or right).
"""
from __future__ import annotations

import math

import numpy as np

from grader.judge.compare import float32_precision, relative_error

MAX_LISTED = 6


def describe(name: str, expected: np.ndarray, got: np.ndarray, rtol: float, atol: float,
             labels: dict | None = None, lines: bool = True, float32_code: bool = True) -> str:
    """`labels` ({argument name: value}): the case's arguments, whose 1-D integer arrays are label
    vectors, for an answer wrong only where each row's label points. `lines=False`: name no wrong or right rows, columns or
    entries (another output, a number such as the loss, is wrong too: they follow from it).
    `float32_code`: the student's code may compute in float32 (compare.computes_in_float32); without
    it, errors of float32's size are not said to be float32's."""
    e = np.asarray(expected, dtype=np.float64)
    g = np.asarray(got, dtype=np.float64)
    if float32_valued(e, g):
        what = ("a float32 array" if np.asarray(got).dtype == np.float32
                else "close, but every value of it is a float32 number returned as float64")
        return (f"{name} is {what}: your code computes in float32 somewhere (a float32 array or tensor, .float(), "
                ".astype(np.float32)), which rounds at about 1e-7 relative each step; keep the inputs' float64 throughout.")
    if np.asarray(got).dtype == np.float64 and float32_precision(g, e) and float32_code:
        return float32_rounding(name, e, g)
    if e.shape != g.shape or e.size < 2 or not np.isfinite(g).all() or not np.isfinite(e).all():
        return ""                     # a single wrong number: the message already says expected and got
    close = lambda a, b: bool((relative_error(a, b, rtol, atol) <= max(rtol, 1e-9)).all())
    if not g.any() and e.any():
        return f"{name} is all zeros: is it ever computed (or, for a state, stored back)?"
    largest = float(np.abs(g).max())
    if e.any() and largest <= 1e-9 * float(np.abs(e).max()):
        # what sums to zero but for rounding (a softmax's gradient summed over the classes): no factor of 1e-17
        return (f"{name} is all zeros, but for rounding (its largest value is {largest:.2g}): is it ever "
                "computed (or, for a state, stored back), or summed where its terms cancel (over the wrong axis)?")
    big = np.abs(e) > atol / rtol
    # Over fewer than three magnitudes a factor is no evidence: [g, -g] (a bias's gradient with two
    # classes) is a multiple of any wrong [a, -a].
    if np.unique(np.abs(e[big])).size >= 3:
        ratios = g[big] / e[big]
        factor = float(np.median(ratios))
        if abs(factor - 1) > 1e-3 and close(g, factor * e):
            if abs(factor + 1) < 1e-9:
                return f"{name} has the opposite sign of the expected value everywhere."
            return f"{name} is {factor:.6g} times the expected value everywhere (a constant factor)."
    offset = float(np.median(g - e))
    if abs(offset) > atol and close(g - offset, e) and _offset_everywhere(g - e, offset):
        return f"{name} is the expected value plus {offset:.6g} everywhere (a constant offset)."
    if e.ndim == 2 and e.shape[0] == e.shape[1] and close(g, e.T):
        return f"{name} is the transpose of the expected value."
    if e.ndim == 2:
        wrong = relative_error(g, e, rtol, atol) > rtol
        spots = np.argwhere(wrong)
        if not _apart(e, g, wrong):
            return ""
        at_labels = _at_labels(name, wrong, labels or {})
        if at_labels or not lines:
            return at_labels
        if 0 < len(spots) <= 2 and wrong.size >= 8:
            # A wrong entry or two is no wrong row or column ("only column 0 is wrong" of one value
            # in 25): something at those entries, such as a value near 0 under a division or a root.
            where = " and ".join(f"{name}[{r}, {c}]" for r, c in spots)
            return (f"only {where} {'is' if len(spots) == 1 else 'are'} wrong (of {wrong.size} entries): look at what "
                    "is special there, such as a value near 0 under a division or a square root (a missing epsilon), "
                    "or a tie in a max.")
        rows, cols = np.flatnonzero(wrong.any(axis=1)), np.flatnonzero(wrong.any(axis=0))
        for axis, bad, count, lines, across in (("column", cols, e.shape[1], wrong.T, 0), ("row", rows, e.shape[0], wrong, 1)):
            if not 0 < len(bad) < count:
                continue
            # A line that is all zeros in both says nothing of where the mistake is (a unit dropped by
            # a mask, a class no example has): it is neither named right nor counted.
            blank = ((e == 0) & (g == 0)).all(axis=across)
            named = np.flatnonzero(~blank)          # the lines counted, by their index in the output
            bad, count, lines = np.searchsorted(named, bad), len(named), lines[named]
            # "not all zeros" of the expected value or the student's: said so, as the student's wrong lines
            # may be all zeros themselves (top-1 of top-k: "3 rows that are not all zeros" of a dW with one).
            among = f" {axis}s that are not all zeros in the expected value or yours" if blank.any() else ""
            if 0 < len(bad) < count:
                if len(bad) <= count / 2:
                    return f"only {name}'s {_some(axis, named[bad])} wrong (of {count}{among})."
                # "the others are wrong" only of lines wrong throughout: 4 wrong values scattered over
                # 3 of 4 columns say nothing about the 4th (it was right by chance, not by design)
                if lines[bad].all():
                    good = np.setdiff1d(np.arange(count), bad)
                    zeros = (g.T if axis == "column" else g)[named[bad]]
                    where = f": yours {'is' if len(bad) == 1 else 'are'} all zeros there" if not zeros.any() else ""
                    return (f"{name}'s {_some(axis, named[good])} right; the other {len(bad)} of {count}{among} "
                            f"are wrong{where}.")
    return ""


def _offset_everywhere(diff: np.ndarray, offset: float) -> bool:
    """Whether an offset is what the answer is off by, not a median of noise: three entries in four
    at least are off by it, within a tenth of it (a twentieth red team's float32 answer, one entry in
    36 outside the tolerance, was "the expected value plus 2.73e-09 everywhere")."""
    return bool(np.count_nonzero(np.abs(diff - offset) <= 0.1 * abs(offset)) * 4 >= 3 * diff.size)


def float32_rounding(name: str, expected: np.ndarray, got: np.ndarray) -> str:
    """The sentence for a float64 answer with float32's precision (compare.float32_precision): how
    far off it is, and where float32 comes from."""
    e, g = np.asarray(expected, dtype=np.float64), np.asarray(got, dtype=np.float64)
    off = np.abs(g - e)
    live = (e != 0) | (g != 0)
    most = float(off.max()) / float(np.abs(e).max())
    count = int(np.count_nonzero(off[live] > 0))
    return (f"{name} is off by the size of float32's rounding, not float64's: by at most {most:.2g} times its largest "
            f"value, in {count} of its {int(live.sum())} nonzero entries, either way. Your code likely computes in "
            "float32 somewhere (an input cast with .astype(np.float32) or .float(), an array made float32, "
            "np.float32(...)) and gathers the result in float64, which keeps float32's precision: keep the inputs' "
            "float64 throughout.")


def _at_labels(name: str, wrong: np.ndarray, labels: dict) -> str:
    """The sentence for an answer wrong only at the entries a label vector picks, one per row (or
    per column), at most of them: dx[i, y[i]], the correct class's entry; "" otherwise."""
    rows, cols = wrong.shape
    hit = int(np.count_nonzero(wrong))
    for arg, y in labels.items():
        if not isinstance(y, np.ndarray) or y.ndim != 1 or y.dtype.kind not in "iu" or not y.size:
            continue
        for along, n, m, shown in ((0, rows, cols, f"{name}[i, {arg}[i]]"), (1, cols, rows, f"{name}[{arg}[j], j]")):
            if y.size != n or y.min() < 0 or y.max() >= m:
                continue
            picked = np.zeros_like(wrong)
            if along == 0:
                picked[np.arange(n), y] = True
            else:
                picked[y, np.arange(n)] = True
            if hit >= 2 and not (wrong & ~picked).any() and hit * 2 > n:
                line = "row" if along == 0 else "column"
                return (f"only {shown} is wrong in each {line} ({hit} of {n} {line}s), the entry its label {arg} picks; "
                        f"the rest is right: look at what your code does for the correct class.")
    return ""


def _apart(e: np.ndarray, g: np.ndarray, wrong: np.ndarray) -> bool:
    """Whether the entries within the tolerance are right, not merely close: off by less than a
    hundredth of what the wrong ones typically are. An answer off everywhere by about the same amount
    (adam one step ahead, a batchnorm without its epsilon) is within a relative tolerance where the
    values are large and outside it where they are small; a line or an entry picked out by that says
    where the values are large, not where the mistake is."""
    if wrong.all() or not wrong.any():
        return True
    off = np.abs(g - e)
    return float(off[~wrong].max()) < 0.01 * float(np.median(off[wrong]))


def float32_valued(expected: np.ndarray, got: np.ndarray) -> bool:
    """Whether a float64 answer close to the expected one (within 1e-3, relative) holds float32 numbers
    only, where the expected one does not: computed in float32 (a float64 computation gives a float32
    number with a chance of about 2^-29 per value)."""
    if got.dtype != np.float64 or got.shape != expected.shape or not got.size or not np.isfinite(got).all() \
            or not np.isfinite(expected).all():
        return False
    with np.errstate(over="ignore"):
        if not np.array_equal(got, got.astype(np.float32)) or np.array_equal(expected, expected.astype(np.float32)):
            return False
    return bool((np.abs(got - expected) <= 1e-3 * np.maximum(np.abs(expected), 1e-12)).all())


def not_finite(wrong: list, right: list) -> str:
    """Where a wrong output is NaN or inf and the reference's is finite (`wrong`: [(name, a value
    the student's has)]), what makes such values, in numerics, not in any assignment's terms; `right`
    names the outputs that are right. "" when no output is so.

    >>> not_finite([("loss", float("nan"))], ["dW"])
    "loss is NaN where the reference's is finite, and dW is right. NaN comes from log() or sqrt() of a negative number, ..."
    """
    if not wrong:
        return ""
    names = " and ".join(name for name, _ in wrong)
    nan = any(math.isnan(v) for _, v in wrong)
    what = "NaN" if nan else "inf" if all(v > 0 for _, v in wrong) else "-inf" if all(v < 0 for _, v in wrong) else "infinite"
    one = len(wrong) == 1
    head = f"{names} {'is' if one else 'are'} {what} where the reference's {'is' if one else 'are'} finite"
    if right:
        head += f", and {' and '.join(right)} {'is' if len(right) == 1 else 'are'} right"
    if nan:
        why = ("NaN comes from log() or sqrt() of a negative number, or from 0 * inf, inf - inf or 0 / 0: a value that "
               "went below 0 where it cannot (a probability minus 1, a variance), or one that overflowed to inf "
               "(exp() of a large number) or underflowed to 0 and then met a log() (log(0) is -inf) or a division")
    else:
        why = ("an infinity comes from an overflow (exp() of a large number) or from log(0) or a division by 0, "
               "after a value underflowed to 0")
    # An eighth students' round's dW = np.empty(W.shape), added to: none of the causes above, and NaN
    # on one run, finite on the next.
    empty = ("Or an array made with np.empty() or torch.empty() (or empty_like) is read before every entry is "
             "written: it holds whatever was in memory, NaN included, different from run to run; start from zeros")
    return (f"{head}. {why}. {empty}. Print the intermediate values on this case's inputs to find the first one that "
            "is not finite.")


def passes_only_when_zero(cases: list) -> str:
    """'reg' when every case with reg == 0 passed and every other case failed ('' otherwise), and
    one of those that passed would have shown a mistake in the terms without reg: its sizes are
    all different and none is 1. A case of N = C passes with a gradient divided by C instead of N,
    and one of N = 1 passes without the average; such a case passing says nothing of reg.

    `cases` holds (Case, CaseResult) pairs of one function; the arguments looked at are its scalars."""
    if not cases:
        return ""
    for arg, value in cases[0][0].args.items():
        if isinstance(value, np.ndarray):
            continue
        zero = [(case, result.passed) for case, result in cases if case.args[arg] == 0]
        other = [result.passed for case, result in cases if case.args[arg] != 0]
        if zero and other and all(ok for _, ok in zero) and not any(other) and any(_telling(case) for case, _ in zero):
            return arg
    return ""


def _telling(case) -> bool:
    """Whether a case's sizes tell them apart: all different, none 1 (a case without sizes does not)."""
    dims = getattr(case, "dims", None)
    sizes = list(dims.values()) if isinstance(dims, dict) else []
    return bool(sizes) and len(set(sizes)) == len(sizes) and 1 not in sizes


def _some(axis: str, indices) -> str:
    """'column 4 is', 'columns 1, 3 are': one column is not 'columns 4 are'."""
    return f"{axis} {_list(indices)} is" if len(indices) == 1 else f"{axis}s {_list(indices)} are"


def _list(indices) -> str:
    shown = ", ".join(str(int(i)) for i in indices[:MAX_LISTED])
    return shown + (", ..." if len(indices) > MAX_LISTED else "")

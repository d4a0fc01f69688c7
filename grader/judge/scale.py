"""A wrong answer that is the right one with a factor off: its data part (everything but the
regularization term) N times too large (never averaged over N), 1/N of it (averaged twice), of the
wrong sign, or twice or half what it should be.

For a function that declares its regularization argument, the reference is run at the case's reg
(R) and at reg = 0 (R0), as in regularization.py. A student's output S is fitted, by least squares
over every number of the output, as

    S = a * R0 + b * (R - R0)        (a: the data part's factor, b: the regularization term's)

and without a regularization term (another function, or a case whose reg is 0) as S = a * R. The
fit must be exact within the output's tolerance, and each factor a usual one: 0, 1, 2, 1/2, -1, or
the size of one of the case's dims or its inverse; and an array's data part may have the ratio of two
dims' sizes that only those two make, in one order ("N/C: divided by C where it should be divided by
N"; a students' round divided by D and by C where N was meant), a loss only the ratio its array has. The tolerance must pin the factor down (a data part tiny
beside a large term says nothing of its factor). A single number (a loss) fits many pairs of
factors: it is named only when exactly one pair of usual factors fits it, with a data part not 0.

    >>> found = scales(fn, got, expected, unregularized, case.dims)
    {'dW': (64.0, 1.0)}
    >>> describe(fn, found, case.dims)
    "Only a factor is off: the data part of `dW` (all but the regularization term) is N times what it
    should be (N is 64 in this case): it is not divided by N. The rest is right."

Everything here is pure: plain outputs in, factors or a sentence out.
"""
from __future__ import annotations

import functools

import numpy as np

from grader.judge import compare, regularization
from grader.spec import FunctionSpec

RESOLVED = 1e-3                      # a factor is named when the tolerance leaves it this uncertain, relatively, at most
# How the sentence starts: a part missing (a factor of 0) is not "a factor off" to a student.
FACTOR_OFF, PART_MISSING = "Only a factor is off: ", "Only one part is off: "


def scales(fn: FunctionSpec, got: dict, expected: dict, unregularized: dict | None,
           dims: dict, over: dict | None = None) -> dict[str, tuple[float, float]] | None:
    """{output name: (a, b)} for each compared output that is off, when every compared output is the
    reference's with usual factors on its data part (a) and its regularization term (b), and at
    least one data part is off (a regularization term alone off is regularization.py's to say);
    None otherwise. Without a regularization term, b is a.

    With `over` (a catalogued mistake's outputs, {output name: tree}), the same against that
    mistake's answer instead of the reference's (`against`)."""
    numbers = output_numbers(fn, got, expected, unregularized)
    if numbers is not None and over is not None:
        numbers = against(fn, numbers, over, expected)
    return None if numbers is None else fitted(fn, got, numbers, dims)


def output_numbers(fn: FunctionSpec, got: dict, expected: dict, unregularized: dict | None) -> dict | None:
    """{output name: (the student's numbers, the reference's, the reference's at reg = 0)} for each
    compared output, flat (regularization.flat_numbers); None where one is not made of the same
    finite numbers. Made once for a case, and fitted against each mistake (`against`)."""
    numbers = {}
    for out in fn.compared:
        zero = None if unregularized is None else unregularized.get(out.name)
        numbers[out.name] = regularization.flat_numbers(got.get(out.name), expected.get(out.name),
                                                        zero if zero is not None else expected.get(out.name))
        if numbers[out.name] is None:
            return None
    return numbers


def against(fn: FunctionSpec, numbers: dict, over: dict, expected: dict) -> dict | None:
    """`output_numbers` with a catalogued mistake's answer (`over`) in the reference's place: a
    student who made the mistake and, besides, did not divide by N. The mistake's data part is its
    answer less the reference's regularization term: a mistake that changes the term too fits no
    usual factors, or fits them as another mistake would, and the caller leaves such mistakes out."""
    out = {}
    for name, (s, r, r0) in numbers.items():
        # The mistake's numbers in the reference's order, as output_numbers takes the student's
        theirs = regularization.flat_numbers(over.get(name), expected.get(name), expected.get(name))
        if theirs is None:
            return None
        m = theirs[0]
        out[name] = (s, m, m - (r - r0))
    return out


def fitted(fn: FunctionSpec, got: dict, numbers: dict, dims: dict) -> dict[str, tuple[float, float]] | None:
    """`scales` on the numbers of each output (`output_numbers`, or `against` a mistake's)."""
    found, usual = {}, _usual_factors(dims)
    ratios = _ratio_factors(dims)                   # an array's data part may also have a ratio of two dims' sizes
    # Arrays first: a single number (a loss) may have a ratio only where an array of the same call has it.
    seen: set = set()
    for out in sorted(fn.compared, key=lambda o: numbers[o.name][0].size == 1):
        s, r, r0 = numbers[out.name]
        rtol = regularization.answer_rtol(out.rtol or fn.rtol, out.dtype, got.get(out.name))
        atol = out.atol or fn.atol
        if not (compare.relative_error(s, r, rtol, atol) > rtol).any():
            continue                          # right as it is (its factors 1), however small its data part is beside the term
        data = usual + (ratios if s.size > 1 else tuple(sorted(seen)))
        fits = [(a, b) for a, b in _candidates(s, r, r0, usual, rtol, atol, data)
                if not (compare.relative_error(s, a * r0 + b * (r - r0), rtol, atol) > rtol).any()]
        if len(set(fits)) != 1:
            return None                       # no usual pair fits, or a single number fits several
        a, b = fits[0]
        room = rtol * float(np.linalg.norm(s))          # how far the fit may be off, about
        if room > RESOLVED * (abs(a) or 1.0) * float(np.linalg.norm(r0)):
            return None                       # a data part too small beside the term to tell its factor
        if b != a and room > RESOLVED * (abs(b) or 1.0) * float(np.linalg.norm(r - r0)):
            b = 1.0                           # a term too small to tell its factor: not said
            if (compare.relative_error(s, a * r0 + (r - r0), rtol, atol) > rtol).any():
                return None
        if (a, b) != (1.0, 1.0):
            found[out.name] = (a, b)
            if a in ratios:
                seen.add(a)
    if not any(a != 1.0 for a, _ in found.values()) or any(a == 0 and b == 0 for a, b in found.values()):
        return None                           # nothing of the data part off; or all zeros (the starter's way)
    return {out.name: found[out.name] for out in fn.compared if out.name in found}


def describe(fn: FunctionSpec, found: dict[str, tuple[float, float]], dims: dict, exact: bool = True,
             alone: bool = True) -> str:
    """The sentence for the student: which outputs have which factor off, and what that usually means.
    Not `exact` (a hidden case): the dims are named without their sizes, and a factor that is not a
    usual one is not said (either can carry a hidden input into the feedback). Not `alone` (the
    second of two mistakes): the factors only, without "Only a factor is off" and "The rest is right"."""
    parts = []
    for name, (a, b) in found.items():
        said = [data_share(fn, name, a, dims, b, exact)] if a != 1.0 else []
        if b != a and b != 1.0:
            said.append(regularization.share(fn, name, b, dims, exact))
        parts.append("; ".join(said))
    if not alone:
        return "; ".join(parts) + "."
    rest = " The rest is right." if len(found) < len(fn.compared) else ""
    start = PART_MISSING if any(a == 0 for a, _ in found.values()) else FACTOR_OFF
    return start + "; ".join(parts) + "." + rest


def data_share(fn: FunctionSpec, name: str, a: float, dims: dict, b: float | None = None, exact: bool = True) -> str:
    """What is off in one output's data part: "the data part of `dW` (...) is N times what it should be ..."."""
    whole = not fn.regularization or b == a
    what = f"`{name}`" if whole else f"the data part of `{name}` (all but the regularization term)"
    if a == 0:
        return f"{what} is missing: only the regularization term is there"
    if a == -1:
        return f"{what} has the wrong sign"
    if a in (2.0, 0.5):
        pairs = [n for n, size in dims.items() if size == 2]
        named = " or ".join(n if a == 2 else f"1/{n}" for n in pairs)
        also = f" (or {named} {'times it' if a == 2 else 'of it'}: " \
               f"{' and '.join(pairs)} {'is' if len(pairs) == 1 else 'are'} 2 in this case)" if pairs and exact else ""
        return f"{what} is {'twice' if a == 2 else 'half'} what it should be{also}"
    ratio = _ratio(a, dims)
    if ratio is not None:
        n, m = ratio
        sizes = f" ({n} is {dims[n]} and {m} is {dims[m]} in this case)" if exact else ""
        return (f"{what} is {n}/{m} times what it should be{sizes}: it looks divided by {m} where it should be "
                f"divided by {n}")
    size, names = _dim(a, dims)
    if size is None:
        return f"{what} is {a:.4g} times what it should be" if exact else f"{what} is off by a factor"
    shown = " and ".join(names)
    either = " or ".join(names)
    sizes = f" ({shown} {'is' if len(names) == 1 else 'are'} {size} in this case)" if exact else ""
    if a > 1:
        return f"{what} is {either} times what it should be{sizes}: it is not divided by {either}"
    inverse = " or ".join(f"1/{n}" for n in names)
    return f"{what} is {inverse} of what it should be{sizes}: it is divided by {either} once too often"


def _usual_factors(dims: dict) -> tuple:
    """The factors a data part may be named with: regularization's usual ones (0, 1, 1/2, 2, -1), and each dim's size and its inverse; not
    one that is also a ratio of two dims' sizes (with N = 1, C/N is C itself: divided by N where C
    was meant, or not divided by C, could not be told apart)."""
    return _usual_for(tuple(sorted(_sizes(dims).items())))


@functools.lru_cache(maxsize=256)
def _usual_for(sizes: tuple) -> tuple:
    """_usual_factors, for the case's sizes ((dim, size) pairs): a case's are asked for once per
    catalogued mistake its wrong answer is held against."""
    sizes = dict(sizes)
    ratios = {a / b for n, a in sizes.items() for m, b in sizes.items() if n != m and a != b}
    found = set(regularization.USUAL_FACTORS) | {float(s) for s in sizes.values() if s > 1} | {1 / s for s in sizes.values() if s > 1}
    return tuple(sorted(c for c in found if c not in ratios))


def _ratio_factors(dims: dict) -> tuple:
    """The ratios of two dims' sizes that a data part's factor may be named with (a sum divided by D
    or by C where it should be divided by N: N/D, N/C): each one only two dims of this case make,
    in one order, that has no other reading (with N = 8 and C = 4, N/C is 2: twice). A single
    number (a loss), which would fit more pairs than one, only with an array's ratio (`scales`)."""
    return _ratios_for(tuple(sorted(_sizes(dims).items())))


@functools.lru_cache(maxsize=256)
def _ratios_for(key: tuple) -> tuple:
    """_ratio_factors, for the case's sizes ((dim, size) pairs)."""
    dims = dict(key)
    sizes = {float(s) for s in _sizes(dims).values() if s > 1}
    other = set(regularization.USUAL_FACTORS) | sizes | {1 / s for s in sizes}     # another reading of the factor
    # ...and a dim against itself less or more one: N/(N - 1), a sum divided by N - 1 (as for a sample
    # variance), is N/C where C is N - 1.
    other |= {f for s in sizes for f in (s / (s - 1), (s - 1) / s, s / (s + 1), (s + 1) / s)}
    return tuple(sorted(r for r, pairs in _ratios(dims).items() if len(pairs) == 1 and r not in other))


def _ratios(dims: dict) -> dict:
    """{size of n / size of m: [(n, m), ...]} over the case's dims of a size above 1."""
    sizes = {n: s for n, s in _sizes(dims).items() if s > 1}
    found: dict = {}
    for n, a in sizes.items():
        for m, b in sizes.items():
            if n != m:
                found.setdefault(a / b, []).append((n, m))
    return found


def _sizes(dims: dict) -> dict:
    """{dim: size} of the case's dims that are sizes (a positive int)."""
    return {n: s for n, s in dims.items() if isinstance(s, int) and not isinstance(s, bool) and s > 0}


def _ratio(a: float, dims: dict) -> tuple[str, str] | None:
    """The two dims (n, m) whose sizes' ratio a is, where only they make it (_ratio_factors)."""
    return _ratios(dims)[a][0] if a in _ratio_factors(dims) else None


def _dim(a: float, dims: dict) -> tuple[int | None, list[str]]:
    """The dims' size that a (or 1/a) is, and the dims of that size."""
    for name, size in dims.items():
        if isinstance(size, int) and size > 2 and (a == size or a == 1 / size):
            return size, [n for n, s in dims.items() if s == size]
    return None, []


def _candidates(s: np.ndarray, r: np.ndarray, r0: np.ndarray, usual: tuple, rtol: float, atol: float,
                data: tuple = ()) -> list:
    """The usual (a, b) near the least-squares fit of s; for a single number, every a of `data` with a
    usual b. The data part's factor is one of `data` (the usual ones and more), the term's a usual one."""
    term = r - r0
    flat = not (compare.relative_error(r, r0, rtol, atol) > rtol).any()   # no regularization term here
    nice = np.array(usual)
    wide = np.array(data or usual)
    if flat:
        if not np.dot(r, r):
            return []
        a = _nearest(np.array([np.dot(s, r) / np.dot(r, r)]), wide, rtol)[0]
        return [] if a is None else [(a, a)]
    if s.size == 1:
        given = wide[wide != 0]           # a number all regularization term: its data part may be about 0 on these inputs
        return [(float(a), b) for a, b in zip(given, _nearest((s[0] - given * r0[0]) / term[0], nice, rtol)) if b is not None]
    (a, b), _, rank, _ = np.linalg.lstsq(np.stack([r0, term], axis=1), s, rcond=None)
    if rank < 2:
        return []
    a, b = _nearest(np.array([a]), wide, rtol)[0], _nearest(np.array([b]), nice, rtol)[0]
    return [] if a is None or b is None else [(a, b)]


def _nearest(found: np.ndarray, nice: np.ndarray, rtol: float) -> list:
    """For each number found, the usual factor it is within the tolerance of, or None."""
    near = np.abs(found[:, None] - nice[None, :]) <= 10 * rtol * np.maximum(np.abs(nice), 1e-3)[None, :] + 1e-9
    return [float(nice[row.argmax()]) if row.any() else None for row in near]

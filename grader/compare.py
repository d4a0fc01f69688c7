"""Pure comparison of one returned output against the reference: values in, verdict out.

The checks run in this order, and the first that fails is the verdict:
kind (a tensor, an array, a scalar), dtype, shape, finiteness, then the relative error

    rel_err = |got - expected| / max(|expected|, atol / rtol)

of every element, which must be <= rtol. This is |got - expected| <= max(rtol * |expected|, atol).
An output declared `dtype: float` may be float32 or float64; a float32 one is judged with
rtol = max(rtol, 1000 * float32 eps), about 1.2e-4:
relative where the expected value is large, absolute near zero. NaN never passes (it fails
every `<=`), and the scale comes from the reference, never from the student's value.
"""
from __future__ import annotations

import numpy as np

from .results import OutputCheck

_SCALAR_KINDS = ("python_number", "numpy_scalar")
_CONTAINER = {"torch": ("tensor", "a torch.Tensor"), "numpy": ("ndarray", "a numpy.ndarray")}


def compare_output(name: str, kind: str, framework: str, expected: np.ndarray, received: dict,
                   got: np.ndarray | None, rtol: float, atol: float, dtype: str | None = None) -> OutputCheck:
    """Verdict on one output.

    `received` is the worker's description of the value ({"kind", "type", ...}) and `got` its
    data as a plain array, or None when the value was not a real number or array of them.
    """
    fail = lambda message: OutputCheck(name=name, ok=False, message=message)
    what = received.get("type", "?")
    rkind = received.get("kind")
    if got is None or rkind in (None, "other", "bool"):
        detail = f" of dtype {received['dtype']}" if received.get("dtype") else ""
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
            # Judged at the precision the student computed in: float32 sums carry ~1e-7 relative error per step.
            rtol = max(rtol, 1000 * float(np.finfo(got.dtype).eps))
        elif dtype is not None and got.dtype != np.dtype(dtype):
            return fail(f"{name}: expected dtype {dtype}, got {got.dtype}"
                        + (" (create it from the inputs, e.g. zeros_like(W), so that it has their dtype)"
                           if got.dtype.kind == "f" else ""))
        if got.shape != expected.shape:
            hint = " (the transpose?)" if got.shape == expected.shape[::-1] and got.ndim == 2 else ""
            return fail(f"{name}: expected shape {_shape(expected.shape)}, got {_shape(got.shape)}{hint}")

    g = np.asarray(got, dtype=np.float64).reshape(expected.shape)      # no copy when already float64
    e = np.asarray(expected, dtype=np.float64)
    finite = np.isfinite(g)
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
    flat = int(rel.argmax()) if rel.size else 0
    worst = float(rel.flat[flat]) if rel.size else 0.0
    index = _index(flat, e.shape)
    check = OutputCheck(name=name, ok=bool(worst <= rtol), max_rel_error=worst, worst_index=index,
                        expected=float(e.flat[flat]) if e.size else None, got=float(g.flat[flat]) if g.size else None)
    if not check.ok:
        where = f" at {index}" if e.ndim else ""
        wrong = int(np.count_nonzero(~(rel <= rtol)))      # one wrong row or all of them: a clue
        outside = f"; {wrong} of {rel.size} values {'is' if wrong == 1 else 'are'} outside it" if rel.size > 1 else ""
        check.message = (f"{name}: relative error {worst:.2g}{where}: expected {_num(check.expected)}, "
                         f"got {_num(check.got)} (tolerance {rtol:g}{outside})")
    return check


def relative_error(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float,
                   finite: np.ndarray | None = None) -> np.ndarray:
    """|got - expected| / max(|expected|, atol / rtol), elementwise; NaN where got is not finite.

    `finite` is np.isfinite(got), where the caller has it already."""
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(got - expected) / np.maximum(np.abs(expected), atol / rtol)
    finite = np.isfinite(got) if finite is None else finite
    if finite.all():
        return err
    return np.where(finite | ~np.isfinite(expected), err, np.nan)


def _index(flat: int, shape: tuple) -> list[int]:
    return [int(i) for i in np.unravel_index(flat, shape)] if shape else []


def _shape(shape: tuple) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _num(x) -> str:
    return f"{float(x):.8g}"


def _article(type_name: str) -> str:
    if type_name in ("None", "NoneType"):
        return "None"
    return ("an " if type_name[:1].lower() in "aeiou" else "a ") + type_name

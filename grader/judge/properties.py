"""Properties: how a function is judged where correct answers legitimately differ. Pure functions.

Two correct dropouts draw different masks, so their outputs cannot be compared with the
reference's; what every correct answer has in common can be (the spec's `properties`):

    properties:
      - name: inverted
        when: "dropout_param['mode'] == 'train'"
        expect: "(out == 0) | isclose(out, x / dropout_param['p'])"
        message: "Every entry of out must be 0 or x / p (inverted dropout scales the kept units by 1 / p)."

`expect` and `when` are numpy expressions of the case's dims and arguments (as generated),
its outputs (as the student's code returned them, plain arrays: an output named by a path is
also in `outputs['bn_param.running_mean']`) and the reference's (`expected`, by output name).
They are the instructor's, evaluated here, in the trusted process, on plain data only. An
expression may give one bool or an array of them (true everywhere); a false entry is reported
with its index and the values of the expression's arrays there.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from grader.results import OutputCheck
from grader.spec import PropertySpec, expressions
from grader.values import show_index

MAX_SHOWN = 3

# What an expression may use besides the case's names: numpy, and its functions under their own names.
_NUMPY = {name: getattr(np, name) for name in (
    "abs", "all", "any", "allclose", "isclose", "isfinite", "where", "sum", "mean", "std", "var", "min", "max",
    "sqrt", "exp", "log", "maximum", "minimum", "count_nonzero", "logical_and", "logical_or", "logical_not",
    "prod", "size", "shape", "zeros_like", "ones_like", "array_equal", "unique", "round", "sign")}
_BUILTINS = {"len": len, "float": float, "int": int, "bool": bool, "sorted": sorted, "set": set, "list": list,
             "tuple": tuple, "isinstance": isinstance, "True": True, "False": False, "None": None}


def namespace(dims: dict, args: dict, outputs: dict, expected: dict | None = None) -> dict:
    """The names an expression sees: numpy, the dims and arguments, then the outputs (an output
    named like an argument is its state after the call), `outputs` and `expected` by name."""
    ns: dict[str, Any] = {"np": np, "numpy": np, **_NUMPY, **dims, **args}
    ns.update({name: value for name, value in outputs.items() if "." not in name})
    ns["outputs"] = dict(outputs)
    ns["expected"] = dict(expected or {})
    return ns


def judge(props: tuple, ns: dict) -> list[OutputCheck]:
    """One OutputCheck per property that applies to this case (its `when` is true)."""
    return [_broken(prop, key, result) if key else _verdict(prop, result, ns) for prop, key, result in _applied(props, ns)]


def broken_shares(props: tuple, ns: dict) -> dict:
    """{name: (the share of its entries broken, how many entries)} of each property that `judge`
    finds broken on this case: one broken at 1838 of 3000 entries is (0.613, 3000); a single truth
    broken, or an expression that raised, is (1.0, 1)."""
    shares = {}
    for prop, key, result in _applied(props, ns):
        check = _broken(prop, key, result) if key else _verdict(prop, result, ns)
        if not check.ok:
            elementwise = not key and isinstance(result, np.ndarray) and result.dtype == bool and result.size > 1
            shares[check.name] = (float((~result).mean()), int(result.size)) if elementwise else (1.0, 1)
    return shares


def _applied(props: tuple, ns: dict):
    """(property, "", its value) for each property that applies to this case, or (property, "when"
    or "expect", the exception) where the spec's expression raised."""
    for prop in props:
        if prop.when:
            try:
                applies = bool(_eval(prop.when, ns))
            except Exception as e:  # noqa: BLE001 - the spec's expression on this case's values
                yield prop, "when", e
                continue
            if not applies:
                continue
        try:
            yield prop, "", _eval(prop.expect, ns)
        except Exception as e:  # noqa: BLE001
            yield prop, "expect", e


def compiled(expression: str, filename: str = "<property>"):
    """A spec's expression, compiled once, if it only computes (spec.expressions: UnsafeExpression else)."""
    return expressions.compiled(expression, filename)


def _eval(expression: str, ns: dict) -> Any:
    with np.errstate(all="ignore"):
        return eval(compiled(expression), {"__builtins__": _BUILTINS}, dict(ns))  # noqa: S307 - the instructor's expression, on plain data


def _verdict(prop: PropertySpec, result: Any, ns: dict) -> OutputCheck:
    name = f"property {prop.name}"
    if isinstance(result, (bool, np.bool_)) or (isinstance(result, np.ndarray) and result.ndim == 0 and result.dtype == bool):
        ok = bool(result)
        return OutputCheck(name=name, ok=ok, message="" if ok else prop.message + _shown(prop, ns))
    if not isinstance(result, np.ndarray) or result.dtype != bool:
        return OutputCheck(name=name, ok=False, message=f"{prop.message} (the property gave "
                                                        f"{type(result).__name__}, not true or false: a spec problem)")
    bad = ~result
    if not bad.any():
        return OutputCheck(name=name, ok=True)
    flat = int(np.argmax(bad))
    index = [int(i) for i in np.unravel_index(flat, result.shape)] if result.ndim else []
    shown = []
    for var in compiled(prop.expect).co_names:
        value = ns.get(var)
        if isinstance(value, np.ndarray) and value.shape == result.shape and len(shown) < MAX_SHOWN:
            shown.append(f"{var} = {float(value.flat[flat]):.6g}")
    where = f", the first at {show_index(index)}" + (f" ({', '.join(shown)})" if shown else "") if index else ""
    count = int(bad.sum())
    detail = f"{count} of {bad.size} entries {'is' if count == 1 else 'are'} not{where}"
    return OutputCheck(name=name, ok=False, worst_index=index or None, message=f"{prop.message} ({detail})")


def _shown(prop: PropertySpec, ns: dict) -> str:
    """' (mean(out != 0) = 0.619, dropout_param['p'] = 0.3)': the values of the property's `show`
    expressions on this case, those that give a number; '' when none does."""
    shown = []
    for expression in prop.show:
        try:
            value = _eval(expression, ns)
            shown.append(f"{expression} = {float(value):.3g}")
        except Exception:  # noqa: BLE001 - the spec's expression on the student's values: not shown
            continue
    return f" ({', '.join(shown)})" if shown else ""


def _broken(prop: PropertySpec, key: str, e: Exception) -> OutputCheck:
    return OutputCheck(name=f"property {prop.name}", ok=False,
                       message=f"the property {prop.name} could not be judged on this case ({key}: "
                               f"{type(e).__name__}: {str(e)[:200]})")

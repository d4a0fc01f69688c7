"""Checks beyond the outputs, each with its own points (the spec's `checks: [{check: ..., points: ...}]`).

    gradient      the student's gradient output against centred differences of their own loss,
                  on sampled coordinates (as CS231n's grad_check_sparse does)
    agrees_with   the function returns what the student's other version returns (vectorized = naive)
    no_loops      no for/while loop or comprehension in the function or the helpers it calls (AST)
    no_autograd   no .backward(), torch.autograd or torch.func in the function or its helpers (AST)
    faster_than   at least `factor` times faster than the reference's other version, timed in the
                  same worker on a larger case (hidden: it needs the reference)

`plan` turns a function's checks into extra calls for the worker, made once per batch; the
`judge_*` functions turn what came back into a CheckResult. Everything here is pure: inputs in,
verdicts out. Static checks parse the student's source with `ast`, which runs none of it.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

import numpy as np

from . import compare
from .cases import Case, _Stream, make_case
from .results import ERROR, FAILED, HIDDEN, PASSED, CheckResult
from .spec import AssignmentSpec, CheckSpec, FunctionSpec

FLOAT32_STEP = 1e-2                  # centred differences of a float32 loss need a coarse step...
FLOAT32_TOLERANCE = 1e-3             # ...and a coarser tolerance
NOISE = 16                           # rounding noise allowed in a centred difference: NOISE * eps * |loss| / h
SHOWN = 3                            # findings listed in a check's details


@dataclass
class Plan:
    """One check of one function, with the extra calls the worker makes for it."""

    fn: FunctionSpec
    check: CheckSpec
    case: Case | None = None                          # gradient, faster_than: the inputs
    calls: list = field(default_factory=list)         # [(FunctionSpec called, Case)], in job order
    coords: list = field(default_factory=list)        # gradient: indices into `wrt`
    steps: list = field(default_factory=list)         # gradient: [(dtype name, h)], one block of calls each


def plan(spec: AssignmentSpec, hidden: bool) -> list[Plan]:
    """Every check to run (hidden ones only with the hidden cases), with its calls."""
    plans = []
    for fn in spec.functions:
        for check in fn.scored_checks:
            if check.visibility == HIDDEN and not hidden:
                continue
            p = Plan(fn=fn, check=check)
            if check.kind in ("gradient", "faster_than"):
                p.case = make_case(spec, fn, check.case or fn.cases_of("public")[0])
            if check.kind == "gradient":
                _plan_gradient(spec, p)
            elif check.kind == "agrees_with":
                other = spec.function(check.function)
                p.calls = [(other, make_case(spec, fn, c)) for c in fn.cases_of("public")]
            elif check.kind == "faster_than":
                p.calls = [(fn, p.case)] * check.repeat
            plans.append(p)
    return plans


def _plan_gradient(spec: AssignmentSpec, p: Plan) -> None:
    check, case = p.check, p.case
    x = case.args[check.wrt]
    stream = _Stream(f"{spec.name}/{p.fn.name}/gradient/{case.spec.seed}")
    order = np.argsort(stream.uniform(x.size), kind="stable")[: check.samples]
    p.coords = [tuple(int(i) for i in np.unravel_index(int(k), x.shape)) for k in sorted(order)]
    grad = next(o for o in p.fn.outputs if o.name == check.grad)
    p.steps = [("float64", check.h)] + ([("float32", FLOAT32_STEP)] if grad.dtype in (None, "float") else [])
    p.calls = [(p.fn, case)]
    for _, h in p.steps:
        for coord in p.coords:
            for sign in (1.0, -1.0):
                args = dict(case.args)
                args[check.wrt] = x.copy()
                args[check.wrt][coord] += sign * h
                p.calls.append((p.fn, Case(function=case.function, spec=case.spec, dims=case.dims, args=args)))


# ---------------------------------------------------------------------------------------------
# Judging the checks that call the student's code. `replies` holds, per call of the plan, the
# worker's (header, arrays), or None when there is no result.


def judge_gradient(p: Plan, replies: list) -> CheckResult:
    check, fn = p.check, p.fn
    base = _returned(replies[0], fn)
    if isinstance(base, str):
        return _result(p, ERROR, f"could not run the gradient check: {fn.name} {base} on its case (seed {p.case.spec.seed})")
    values = base
    loss, grad = values[check.loss], values[check.grad]
    wrt = p.case.args[check.wrt]
    if loss is None or loss.size != 1 or grad is None or grad.shape != wrt.shape:
        return _result(p, FAILED, f"the gradient check needs {check.loss} as a number and {check.grad} of "
                                  f"{check.wrt}'s shape {tuple(wrt.shape)}; see the cases' feedback")
    dtype = "float32" if loss.dtype == np.float32 and len(p.steps) > 1 else "float64"
    block = [name for name, _ in p.steps].index(dtype)
    h = p.steps[block][1]
    tolerance = check.tolerance if dtype == "float64" else FLOAT32_TOLERANCE
    start = 1 + block * 2 * len(p.coords)
    numeric = []
    for k in range(len(p.coords)):
        sides = [_returned(replies[start + 2 * k + j], fn) for j in (0, 1)]
        bad = next((s for s in sides if isinstance(s, str)), None)
        if bad:
            return _result(p, ERROR, f"could not run the gradient check: {fn.name} {bad} with {check.wrt} moved by {h:g}")
        plus, minus = (float(np.asarray(s[check.loss], dtype=np.float64).reshape(())) for s in sides)
        numeric.append((plus - minus) / (2 * h))
    numeric = np.array(numeric)
    analytic = np.array([float(grad[c]) for c in p.coords])
    scale = max(abs(float(loss.reshape(()))), 1.0)
    noise = NOISE * float(np.finfo(dtype).eps) * scale / h
    err = np.abs(numeric - analytic)
    rel = err / np.maximum(np.abs(numeric) + np.abs(analytic), 1e-300)
    bad = err > tolerance * (np.abs(numeric) + np.abs(analytic)) + noise
    where = lambda c: f"{check.wrt}[{', '.join(map(str, c))}]"
    if not np.isfinite(numeric).all() or not np.isfinite(analytic).all():
        return _result(p, FAILED, f"the gradient check found NaN or inf in {check.grad} or in your {check.loss}")
    if not bad.any():
        return _result(p, PASSED, f"{check.grad} matches centred differences of your {check.loss} at "
                                  f"{len(p.coords)} entries of {check.wrt} (largest relative error {rel.max():.1g})")
    worst = int(np.argmax(np.where(bad, rel, -1)))
    message = (f"{check.grad} is not the gradient of your own {check.loss}: at {where(p.coords[worst])} centred "
               f"differences give {numeric[worst]:.6g}, your {check.grad} {analytic[worst]:.6g} "
               f"(relative error {rel[worst]:.2g}); {int(bad.sum())} of {len(p.coords)} entries checked differ")
    details = [f"{where(c)}: numerical {n:.6g}, yours {a:.6g}"
               for c, n, a, b in zip(p.coords, numeric, analytic, bad) if b][:SHOWN]
    ratio = _common_ratio(analytic[bad], numeric[bad])
    if ratio is not None:
        details.append(f"Hint: where they differ, your {check.grad} is {ratio:.3g} times the numerical gradient.")
    details.append(f"This compares {check.grad} with your {check.loss} (case seed {p.case.spec.seed}, step {h:g}); "
                   f"if {check.loss} is wrong too, fix it first.")
    return _result(p, FAILED, message, "\n".join(details))


def judge_agreement(p: Plan, own: list, replies: list, framework: str) -> CheckResult:
    """`own`: this function's replies on its public cases; `replies`: the other function's on the same inputs."""
    fn, other = p.fn, p.check.function
    compared = 0
    for (_, case), mine, theirs in zip(p.calls, own, replies):
        a, b = _returned(mine, fn), _returned(theirs, fn)
        if isinstance(a, str) or isinstance(b, str):
            who, what = (fn.name, a) if isinstance(a, str) else (other, b)
            return _result(p, ERROR, f"cannot compare with {other}: your {who} {what} on {case.case_id} (seed {case.spec.seed})")
        for out in fn.outputs:
            if b[out.name] is None:
                return _result(p, ERROR, f"cannot compare with {other}: its {out.name} on {case.case_id} is not a number or array")
            mine_shape, their_shape = np.shape(a[out.name]), np.shape(b[out.name])
            if a[out.name] is not None and (np.size(a[out.name]) != np.size(b[out.name])
                                            or (out.kind != "scalar" and mine_shape != their_shape)):
                return _result(p, FAILED, f"{fn.name} and your {other} disagree on {case.case_id} (seed {case.spec.seed}): "
                                          f"{out.name} has shape {mine_shape} from {fn.name} and {their_shape} from {other}")
            verdict = compare.compare_output(out.name, out.kind, framework, b[out.name].astype(np.float64),
                                             a.meta[out.name], a[out.name], fn.rtol, fn.atol, dtype=out.dtype)
            if not verdict.ok:
                return _result(p, FAILED, f"{fn.name} and your {other} disagree on {case.case_id} (seed {case.spec.seed}): "
                                          f"{verdict.message.replace('expected', other + ' gives').replace('got', fn.name + ' gives')}")
        compared += 1
    return _result(p, PASSED, f"returns what your {other} returns on the {compared} public cases")


def judge_speed(p: Plan, replies: list, reference: list[float]) -> CheckResult:
    """`replies`: the student's timing calls; `reference`: the reference's times of the other function."""
    fn, check = p.fn, p.check
    times = []
    for reply in replies:
        r = _returned(reply, fn)
        if isinstance(r, str):
            return _result(p, FAILED, f"{fn.name} {r} on the timing case ({p.case.describe()})")
        times.append(r.duration)
    if not reference or not times or min(times) <= 0:
        return _result(p, ERROR, "could not time the reference")
    ratio = min(reference) / min(times)
    text = (f"{fn.name} took {_ms(min(times))} on {p.case.describe()}, the reference {check.function} "
            f"{_ms(min(reference))}: {ratio:.3g}x as fast (at least {check.factor:g}x needed)")
    return _result(p, PASSED if ratio >= check.factor else FAILED, text)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3g} ms"


def _common_ratio(analytic: np.ndarray, numeric: np.ndarray) -> float | None:
    """The factor k with analytic = k * numeric at every entry, when there is one (2, 0.5, -1...)."""
    if not analytic.size or np.any(np.abs(numeric) < 1e-12):
        return None
    ratios = analytic / numeric
    k = float(np.median(ratios))
    return k if np.all(np.abs(ratios - k) <= 0.02 * abs(k)) and abs(k - 1) > 0.02 else None


class _Values(dict):
    """A call's outputs by name (plain arrays, or None when not a number), with its metadata."""
    meta: dict
    duration: float


def _returned(reply, fn: FunctionSpec):
    """The outputs of a call that returned, or a phrase saying what happened instead."""
    if reply is None:
        return "was not run"
    header, arrays = reply
    status = header.get("status")
    if status != "returned":
        err = header.get("error") or {}
        return {"exception": f"raised {err.get('type', 'an exception')}", "timeout": "timed out",
                "crashed": "crashed", "missing_function": "is missing", "import_error": "could not be imported", "bad_return": "returned the wrong number of values",
                "skipped_after_timeout": "was not run after a timeout"}.get(status, "could not be run")
    values = _Values()
    values.meta, values.duration = {}, float(header.get("duration") or 0.0)
    metas = header.get("values") or []
    for out, meta in zip(fn.outputs, metas):
        index = meta.get("array") if isinstance(meta, dict) else None
        values[out.name] = arrays[index] if isinstance(index, int) and 0 <= index < len(arrays) else None
        values.meta[out.name] = meta if isinstance(meta, dict) else {}
    if len(values) != len(fn.outputs):
        return "returned the wrong number of values"
    return values


def error(p: Plan, message: str) -> CheckResult:
    """The check could not be judged (the grader failed on the submission): no points."""
    return _result(p, ERROR, message)


def _result(p: Plan, status: str, message: str, details: str = "") -> CheckResult:
    return CheckResult(function=p.fn.name, name=p.check.name, visibility=p.check.visibility, status=status,
                       earned=p.check.points if status == PASSED else 0.0, possible=p.check.points,
                       message=message, details=details)


# ---------------------------------------------------------------------------------------------
# Static checks: the student's source, parsed, never run.

_LOOPS = {ast.For: "a for loop", ast.AsyncFor: "a for loop", ast.While: "a while loop",
          ast.ListComp: "a list comprehension", ast.SetComp: "a set comprehension",
          ast.DictComp: "a dict comprehension", ast.GeneratorExp: "a generator expression"}
_AUTOGRAD_MODULES = ("torch.autograd", "torch.func", "functorch")
STATIC = ("no_loops", "no_autograd")


def judge_static(fn: FunctionSpec, check: CheckSpec, source: str | None, filename: str, place=None) -> CheckResult:
    """`place(line)` names a line of `source` for the student ("line 12", or "cell 4, line 2" for a notebook)."""
    p = Plan(fn=fn, check=check)
    place = place or (lambda line: f"line {line}")
    if source is None:
        return _result(p, ERROR, f"{filename} not found in the submission")
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as e:
        return _result(p, ERROR, f"{filename} could not be read: syntax error at {place(e.lineno or 0)}")
    except (ValueError, RecursionError, MemoryError) as e:    # NUL bytes, absurd nesting: the parser gives up
        return _result(p, ERROR, f"{filename} could not be read ({type(e).__name__})")
    defs = {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if fn.name not in defs:
        return _result(p, ERROR, f"no `def {fn.name}` at the top level of {filename}, so its code could not be checked")
    bodies = _reachable(fn.name, defs)
    lines = source.splitlines()
    found = (_loops if check.kind == "no_loops" else _autograd)(bodies, _autograd_names(tree))
    helpers = f" (or the helpers it calls: {', '.join(sorted(set(bodies) - {fn.name}))})" if len(bodies) > 1 else ""
    if not found:
        what = "loops or comprehensions" if check.kind == "no_loops" else "autograd"
        return _result(p, PASSED, f"no {what} in {fn.name}{helpers}")
    found.sort()
    line, what, inside = found[0]
    code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    where = place(line) + (f", in {inside}, which it calls" if inside != fn.name else "") + f" (`{code}`)"
    if check.kind == "no_loops":
        message = f"{fn.name} has {what} at {where}: the vectorized version should use whole-array operations"
    else:
        message = f"{fn.name} uses {what} at {where}: compute the gradient by hand"
    details = [f"{filename}, {place(ln)}: {w}" for ln, w, _ in found[1:SHOWN + 1]]
    if len(found) > SHOWN + 1:
        details.append(f"and {len(found) - SHOWN - 1} more")
    return _result(p, FAILED, message, "\n".join(details))


def needs_working_code(p: Plan, result: CheckResult, cases: list) -> CheckResult:
    """A static check earns nothing for a function that passes no case: an unfinished stub has no
    loops and no autograd either."""
    if p.check.kind in STATIC and result.passed and not any(c.passed for c in cases):
        return _result(p, ERROR, f"judged once {p.fn.name} passes at least one case")
    return result


def _reachable(name: str, defs: dict) -> dict:
    """The function and the module's top-level functions it calls, directly or through each other."""
    seen, todo = {}, [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen[current] = defs[current]
        for node in ast.walk(defs[current]):
            if isinstance(node, ast.Name) and node.id in defs and node.id not in seen:
                todo.append(node.id)
    return seen


def _loops(bodies: dict, _names) -> list:
    found = []
    for name, body in bodies.items():
        for node in ast.walk(body):
            what = _LOOPS.get(type(node))
            if what:
                found.append((node.lineno, what, name))
    return found


def _autograd_names(tree: ast.Module) -> set:
    """Names the module binds to autograd: `from torch.autograd import grad`, `import torch.func as F`."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith(_AUTOGRAD_MODULES) or (node.module == "torch" and any(a.name in ("autograd", "func") for a in node.names)):
                names |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith(_AUTOGRAD_MODULES) and a.asname:
                    names.add(a.asname)
    return names


def _autograd(bodies: dict, names: set) -> list:
    found = []
    for name, body in bodies.items():
        for node in ast.walk(body):
            what = None
            if isinstance(node, ast.Attribute) and node.attr == "backward":
                what = ".backward()"
            elif isinstance(node, ast.Attribute) and node.attr in ("autograd", "func") and \
                    isinstance(node.value, ast.Name) and node.value.id == "torch":
                what = f"torch.{node.attr}"
            elif isinstance(node, ast.Name) and (node.id in names or node.id in ("autograd", "functorch")):
                what = f"{node.id} (autograd)"
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                if module and (module.startswith(_AUTOGRAD_MODULES) or module == "torch" and
                               any(a.name in ("autograd", "func") for a in node.names)):
                    what = f"an import of {module}"
            if what:
                found.append((node.lineno, what, name))
    return found

"""Checks beyond the outputs, each with its own points (the spec's `checks: [{check: ..., points: ...}]`).

    gradient      the student's gradient output against centred differences of their own loss,
                  on sampled coordinates (as CS231n's grad_check_sparse does)
    agrees_with   the function returns what the student's other version returns (vectorized = naive)
    no_loops      no for/while loop, comprehension or loop in disguise (map, np.vectorize,
                  itertools, recursion...) in the function or the helpers it calls (AST)
    no_autograd   no .backward(), torch.autograd or torch.func in the function or its helpers (AST)
    faster_than   at least `factor` times faster than the reference's other version, timed in the
                  same worker on a larger case (hidden: it needs the reference); each timed call
                  gets fresh inputs and must return the reference's answer, so that a function
                  that remembers its answers is timed on work it has not done
    analytic      at most `factor` times slower than the reference's own version, timed as
                  faster_than is, on a case with many parameters and few examples: a gradient by
                  numerical differentiation computes the loss again for each parameter

`plan` turns a function's checks into extra calls for the worker, made once per batch; the
`judge_*` functions turn what came back into a CheckResult. Everything here is pure: inputs in,
verdicts out. Static checks parse the student's source with `ast`, which runs none of it.
"""
from __future__ import annotations

import ast
import builtins
import contextvars
import importlib
import math
import re
import secrets
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grader import values
from grader.cases import Case, make_case
from grader.judge import compare, properties
from grader.judge.bounded import bounded_tree
from grader.locate import decode_code
from grader.run.job import Call
from grader.run.execute import AUTOGRAD_WAYS, REPEATS_SENT
from grader.results import ERROR, FAILED, HIDDEN, PASSED, CheckResult, show_dims
from grader.seeded import Stream
from grader.spec import AssignmentSpec, CheckSpec, FunctionSpec

FLOAT32_STEP = 1e-3                  # centred differences of a float32 loss need a coarser step (1e-2 crossed
                                     # hinge kinks at most entries of a case, and curved one-sided differences)...
FLOAT32_TOLERANCE = 1e-3             # ...and a coarser tolerance
NOISE = 16                           # rounding noise allowed in a centred difference: NOISE * eps * |loss| / h
SHOWN = 3                            # findings listed in a check's details
_HELPERS_SHOWN = 10                  # helpers named in a static check's message (20,000 made a 200 KB report)
SAME_ANSWER = 1e-3                   # faster_than: a timed answer this close to the reference's (relative, in norm) counts
KINK_SLOPES = 100.0                  # gradient: a side of a kink is at most this many times the largest centred difference
RETIME_WITHIN = 2.0                  # faster_than: a first round short of the factor by less than this is timed again


@dataclass
class Plan:
    """One check of one function, with the extra calls the worker makes for it."""

    fn: FunctionSpec
    check: CheckSpec
    case: Case | None = None                          # gradient: the inputs; faster_than: the first timed call's
    calls: list = field(default_factory=list)         # job.Call, in job order
    coords: list = field(default_factory=list)        # gradient: per (input, output) pair, indices into the input
    steps: list = field(default_factory=list)         # gradient: [(dtype name, h)], one block of calls each
    loss_names: tuple = ()                            # gradient: what the perturbed calls send back for the loss
    later: list = field(default_factory=list)         # gradient: a float32 block run only when needed (`in_float32`)
    later_repeat: int | None = None                   # ...with the loss on the unmoved inputs among them, here
    repeat: int | None = None                         # gradient: the index of the loss's call on the base inputs again


def plan(spec: AssignmentSpec, hidden: bool) -> list[Plan]:
    """Every check to run (hidden ones only with the hidden cases), with its calls.

    A faster_than check's inputs are drawn from secrets of this run as well as the spec's seed: from
    the spec alone (the handout's), a submission could draw them at import, untimed, and time a lookup."""
    plans = []
    for fn in spec.functions:
        for check in fn.scored_checks:
            if check.visibility == HIDDEN and not hidden:
                continue
            p = Plan(fn=fn, check=check)
            if check.kind == "gradient":
                p.case = make_case(spec, fn, check.case or fn.cases_of("public")[0])
                _plan_gradient(spec, p)
            elif check.kind == "agrees_with":
                other = spec.function(check.function)
                p.calls = [Call(other, make_case(spec, fn, c), steps=_same_steps(fn, other, c)) for c in fn.cases_of("public")]
            elif check.timed:
                p.calls = timing_calls(spec, p)
                p.case = p.calls[0].case
            plans.append(p)
    return plans


def timing_calls(spec: AssignmentSpec, p: Plan) -> list:
    """A faster_than check's timed calls: inputs no call has seen, one set per call, of the timed
    case's sizes, drawn from its seed and a secret of the call's own (new for a round timed again):
    the same inputs again would time a lookup, in this child or one that found a file an earlier
    child left; and a call's recipe must not tell another's (`timing-1-<secret of the round>` told a
    red team's first timed call the others', whose answers it computed within its own time)."""
    timed = p.check.case or p.fn.cases_of("public")[0]
    return [Call(p.fn, make_case(spec, p.fn, timed, fresh=f"timing-{secrets.token_hex(8)}"), timed=True)
            for _ in range(p.check.repeat)]


def _same_steps(fn: FunctionSpec, other: FunctionSpec, case) -> tuple | None:
    """The other function's steps, for a case of this one (with its own steps when it has them)."""
    return None if case.steps is None else other.steps


def _plan_gradient(spec: AssignmentSpec, p: Plan) -> None:
    check, case, fn = p.check, p.case, p.fn
    steps = check.steps if check.steps is not None else fn.steps_for(case.spec)
    outputs = {o.name for o in fn.outputs}
    if check.loss in outputs:
        p.loss_names = (check.loss,)
    else:
        bound = {b for s in steps for b in s.binds}
        p.loss_names = tuple(n for n in compile(check.loss, "<loss>", "eval").co_names if n in bound)
    # The steps up to the last one that binds what the loss needs: a backward's check reruns its forward only.
    last = max((i for i, s in enumerate(steps) if set(s.binds) & set(p.loss_names)), default=len(steps) - 1)
    perturbed = steps[:last + 1]
    grad = next((o for o in fn.outputs if o.name == check.grad), None)
    legacy = len(check.pairs) == 1 and check.loss in outputs
    p.steps = [("float64", check.h)] + ([("float32", FLOAT32_STEP)] if legacy and grad is not None
                                        and grad.dtype in (None, "float") else [])
    roots = [values.parse_path(out)[0] for _, out in check.pairs]
    p.calls = [Call(fn, case, steps=check.steps, outputs=tuple(dict.fromkeys([str(r) for r in roots] + list(p.loss_names))))]
    p.coords = []
    for k, (inp, _out) in enumerate(check.pairs):
        path = values.parse_path(inp)
        x = values.at(case.args, path)
        key = f"{spec.name}/{fn.name}/gradient/{case.spec.seed}" + (f"/{inp}" if k else "")
        order = np.argsort(Stream(key).uniform(x.size), kind="stable")[: check.samples]
        p.coords.append([tuple(int(i) for i in np.unravel_index(int(j), x.shape)) for j in sorted(order)])
    for _, h in p.steps:
        p.calls += _moved_calls(p, perturbed, h)
    # The loss once more on the unmoved inputs: centred differences of a loss that is not the same
    # for the same inputs (a mask drawn from a generator the case does not seed) measure its noise.
    p.repeat = len(p.calls)
    p.calls.append(Call(fn, case, steps=tuple(perturbed), outputs=p.loss_names))
    if len(p.steps) == 1 and (grad is None or grad.dtype in (None, "float")):
        # A loss made of what the function returns (a backward's sum(out * dout)) is float64 whatever
        # the forward's precision: where the forward answers in float32, float64's step measures its
        # rounding. Those calls again with float32's step, when the float64 block finds that so.
        p.later = _moved_calls(p, perturbed, FLOAT32_STEP)
        # The unmoved inputs once more, at a place of this run's choosing: a loss that answers
        # otherwise in that child (which can tell it is not the first) is not the one differentiated.
        p.later_repeat = secrets.randbelow(len(p.later) + 1)
        p.later.insert(p.later_repeat, Call(fn, case, steps=tuple(perturbed), outputs=p.loss_names))


def _moved_calls(p: Plan, perturbed, h: float) -> list:
    """A gradient check's block of calls: each entry checked moved by +h and by -h, its loss sent back."""
    fn, case, calls = p.fn, p.case, []
    for (inp, _out), coords in zip(p.check.pairs, p.coords):
        path = values.parse_path(inp)
        x = values.at(case.args, path)
        for coord in coords:
            for sign in (1.0, -1.0):
                moved = x.copy()
                moved[coord] += sign * h
                args = {name: values.replace_at(v, path[1:], moved) if name == path[0] else v
                        for name, v in case.args.items()}
                calls.append(Call(fn, Case(function=case.function, spec=case.spec, dims=case.dims, args=args),
                                  steps=tuple(perturbed), outputs=p.loss_names))
    return calls


# ---------------------------------------------------------------------------------------------
# Judging the checks that call the student's code. `outcomes` holds, per call of the plan, its
# Outcome (grader/run/outcome.py), or None when there is no result.


def judge_gradient(p: Plan, outcomes: list, float32: list | None = None) -> CheckResult:
    """`outcomes`: the plan's calls' (the base call, then each block of moved calls); `float32`: the
    outcomes of `p.later`, the moved calls with float32's step, where `in_float32` asked for them."""
    check, fn = p.check, p.fn
    base = outcomes[0]
    if base is None or not base.ok:
        return _result(p, ERROR, f"could not run the gradient check: {fn.name} {_what(base, p.calls[0].run_steps)} on its case "
                                 f"(seed {p.case.spec.seed})")
    loss = _loss(p, base)
    if loss is None:
        return _result(p, FAILED, f"the gradient check needs {check.loss} as a number; see the cases' feedback")
    first = float(np.asarray(loss).reshape(()))
    repeated = _loss_at(p, outcomes, p.repeat)
    if repeated is not None and np.isfinite(repeated) and np.isfinite(first) and repeated != first:
        return _result(p, ERROR, f"not judged: {check.loss} is not the same on two runs of "
                                 f"`{p.calls[p.repeat].run_steps[-1].text}` with the same inputs "
                                 f"({first:.8g}, then {repeated:.8g}), so its differences measure that, not its "
                                 "slope: is something drawn at random without the seed the case gives?")
    grads = []
    for inp, out in check.pairs:
        wrt = values.at(p.case.args, values.parse_path(inp))
        grad = _leaf_at(base, out)
        if grad is None or grad.shape != wrt.shape:
            return _result(p, FAILED, f"the gradient check needs {_shown(out)} of {_shown(inp)}'s shape {tuple(wrt.shape)}; "
                                      "see the cases' feedback")
        grads.append(grad)
    per_block = sum(2 * len(c) for c in p.coords)
    if float32 is not None:
        repeated = _loss_at(p, float32, p.later_repeat)
        if repeated is None or repeated != first:
            return _result(p, ERROR, f"not judged: {check.loss} on the case's own inputs is not what it was on the first "
                                     f"run ({first:.8g}, then {'nothing' if repeated is None else format(repeated, '.8g')}), "
                                     "so the differences of the second run are not of the loss the gradient belongs to")
        float32 = float32[:p.later_repeat] + float32[p.later_repeat + 1:]
        dtype, h, block_outcomes, start = "float32", FLOAT32_STEP, float32, 0
    else:
        dtype = "float32" if len(p.steps) > 1 and (np.asarray(loss).dtype == np.float32 or _float32_valued(p, outcomes)) \
            else "float64"
        block = [name for name, _ in p.steps].index(dtype)
        h, block_outcomes, start = p.steps[block][1], outcomes, 1 + block * per_block
    tolerance = check.tolerance if dtype == "float64" else FLOAT32_TOLERANCE
    numeric, analytic, where_, sides = [], [], [], []
    for (inp, out), coords, grad in zip(check.pairs, p.coords, grads):
        for coord in coords:
            moved = block_outcomes[start:start + 2] + [None] * (start + 2 - len(block_outcomes))
            start += 2
            bad = next((s for s in moved if s is None or not s.ok), False)
            if bad is not False:
                return _result(p, ERROR, f"could not run the gradient check: {fn.name} {_what(bad, p.calls[0].run_steps)} with "
                                         f"{_shown(inp)} moved by {h:g}")
            plus, minus = (_loss(p, s) for s in moved)
            if plus is None or minus is None:
                return _result(p, ERROR, f"could not run the gradient check: {check.loss} is not a number with "
                                         f"{_shown(inp)} moved by {h:g}")
            numeric.append((float(plus) - float(minus)) / (2 * h))
            sides.append(((float(plus) - float(loss)) / h, (float(loss) - float(minus)) / h))
            analytic.append(float(grad[coord]))
            where_.append((inp, out, coord))
    numeric, analytic, sides = np.array(numeric), np.array(analytic), np.array(sides).reshape(-1, 2)
    scale = max(abs(first), 1.0)
    noise = NOISE * float(np.finfo(dtype).eps) * scale / h
    err = np.abs(numeric - analytic)
    rel = err / np.maximum(np.abs(numeric) + np.abs(analytic), 1e-300)
    bad = err > tolerance * (np.abs(numeric) + np.abs(analytic)) + noise
    # A step across a kink (a hinge's margin crossing 0, a ReLU's input crossing 0: likelier with
    # float32's larger step) makes the centred difference an average of two slopes. There the two
    # one-sided differences disagree, and the gradient is one of them: the slope on the side of the
    # point that the kink is not on. Such an entry is judged by the one it matches.
    apart = np.abs(sides[:, 0] - sides[:, 1]) > tolerance * np.abs(sides).sum(axis=1) + 2 * noise
    one_side = (np.abs(sides - analytic[:, None]) <= tolerance * (np.abs(sides) + np.abs(analytic)[:, None]) + 2 * noise).any(axis=1)
    # A kink's side is a slope of the loss like the others: a gradient that dwarfs every centred
    # difference checked is not one. (A loss with a steep kink placed at the checked point, K|W - W0|,
    # has one-sided differences of its slope plus and minus K, and a dW of K everywhere matched one
    # of them within a tolerance relative to K.)
    plausible = np.abs(analytic) <= KINK_SLOPES * float(np.abs(numeric).max(initial=0.0)) + 2 * noise
    kinked = bad & apart & one_side & plausible
    bad &= ~kinked
    at = lambda w: f"{_shown(w[0])}[{', '.join(map(str, w[2]))}]"
    of = (f"your own {check.loss}" if check.loss in {o.name for o in fn.outputs}
          else f"{check.loss} with your own {', '.join(p.loss_names)}" if p.loss_names else check.loss)
    grads_named = ", ".join(_shown(out) for _, out in check.pairs)
    if not np.isfinite(numeric).all() or not np.isfinite(analytic).all():
        return _result(p, FAILED, f"the gradient check found NaN or inf in {grads_named} or in {of}")
    if not (np.abs(numeric) > noise).any():
        # A loss that does not move (a constant, all zeros) matches a zero gradient: nothing is shown.
        return _result(p, ERROR, f"not judged: {of} stays the same when the {len(numeric)} entries checked of "
                                 f"{', '.join(_shown(i) for i, _ in check.pairs)} are moved; see the cases' feedback")
    if not bad.any():
        kinks = (f"; at {int(kinked.sum())} of them a step crosses a kink of {check.loss}, where the two one-sided "
                 f"differences disagree, and {'it matches' if len(check.pairs) == 1 else 'they match'} one of them"
                 if kinked.any() else "")
        return _result(p, PASSED, f"{grads_named} {'matches' if len(check.pairs) == 1 else 'match'} centred differences "
                                  f"of {of} at {len(numeric)} entries of {', '.join(_shown(i) for i, _ in check.pairs)} "
                                  f"(largest relative error {rel[~kinked].max() if (~kinked).any() else 0:.1g}){kinks}")
    worst = int(np.argmax(np.where(bad, rel, -1)))
    inp, out, _ = where_[worst]
    wrong_in = [w for w, b in zip(where_, bad) if b and w[1] == out]
    message = (f"{_shown(out)} is not the gradient of {of}: at {at(where_[worst])} centred "
               f"differences give {numeric[worst]:.6g}, your {_shown(out)} {analytic[worst]:.6g} "
               f"(relative error {rel[worst]:.2g}); {len(wrong_in)} of "
               f"{sum(w[1] == out for w in where_)} entries checked differ")
    others = sorted({_shown(w[1]) for w, b in zip(where_, bad) if b and w[1] != out})
    if others:
        message += f", and {', '.join(others)} too"
    # The entries the headline names first, its worst one first, then the other outputs' entries.
    listed = sorted(np.flatnonzero(bad), key=lambda i: (where_[i][1] != out, i != worst, i))
    details = [f"{at(where_[i])}: numerical {numeric[i]:.6g}, yours {analytic[i]:.6g}" for i in listed][:SHOWN]
    mask = np.array([b and w[1] == out for w, b in zip(where_, bad)])
    ratio = _common_ratio(analytic[mask], numeric[mask])
    if ratio == 0:
        details.append(f"Hint: where they differ, your {_shown(out)} is 0 and the numerical gradient is not.")
    elif ratio is not None:
        details.append(f"Hint: where they differ, your {_shown(out)} is {ratio:.3g} times the numerical gradient.")
    details.append(f"This compares {grads_named} with {of} (case seed {p.case.spec.seed}, step {h:g}); "
                   f"if {check.loss} is wrong too, fix it first.")
    return _result(p, FAILED, message, "\n".join(details))


def _loss_at(p: Plan, outcomes: list, index: int | None) -> float | None:
    """The loss of call `index` of `outcomes` as a number, or None (no such call, or no loss from it)."""
    outcome = outcomes[index] if index is not None and index < len(outcomes) else None
    loss = _loss(p, outcome) if outcome is not None and outcome.ok else None
    return None if loss is None else float(loss)


def in_float32(p: Plan, result: CheckResult, outcomes: list) -> bool:
    """Whether a gradient check that failed with float64's step is to be judged again with float32's
    (`p.later`): what its loss is made of came back in float32 (a forward's `out`, a loss), or holds
    float32 numbers only, so that float64's step measured the rounding of float32 answers."""
    if not p.later or result.status != FAILED or not outcomes or outcomes[0] is None or not outcomes[0].ok:
        return False
    made_of = [_leaf_at(outcomes[0], name) for name in p.loss_names]
    return any(a is not None and (a.dtype == np.float32 or compare.float32_numbers(a)) for a in made_of)


def _float32_valued(p: Plan, outcomes: list) -> bool:
    """Whether the losses of the base call and of the float64 block's moved calls are all float32
    numbers (a loss computed in float32 and returned as a Python float or a float64): a loss
    computed in float64 is one of those with a chance of about 2^-29 each. Such a loss has a
    float32's precision, whatever its type, and is judged as a float32 loss."""
    per_block = sum(2 * len(c) for c in p.coords)
    losses = [_loss(p, o) if o is not None and o.ok else None for o in outcomes[:1 + per_block]]
    return all(v is not None and np.isfinite(v) and float(v) == float(np.float32(v)) for v in losses) \
        and len({float(v) for v in losses}) > 2          # a loss that does not move says nothing of its precision


def _shown(path: str) -> str:
    return values.show(values.parse_path(path))


def _loss(p: Plan, outcome) -> Any:
    """The loss of one call: its scalar output, or the spec's expression of its outputs and the case's
    arguments (evaluated here on plain data); None when it is not one number."""
    try:
        if p.check.loss in outcome.outputs:
            leaf = outcome.outputs[p.check.loss]
            value = leaf.array if isinstance(leaf, values.Leaf) and leaf.is_number else None
        else:
            # the student's outputs of any shape they chose: no step may make an array much larger
            # than they are (bounded), or a (K, 1, 1) `out` times a (N, M) `dout` is K * N * M here
            ns = properties.namespace(p.case.dims, p.case.args,
                                      {n: bounded_tree(values.plain(outcome.outputs[n])) for n in p.loss_names})
            with np.errstate(all="ignore"):
                value = np.asarray(eval(properties.compiled(p.check.loss, "<loss>"), {"__builtins__": {}}, ns))  # noqa: S307
    except Exception:  # noqa: BLE001 - a student's output of the wrong shape, for instance
        return None
    if value is None or np.size(value) != 1 or np.asarray(value).dtype.kind not in "fiu":
        return None
    return np.asarray(value).view(np.ndarray).reshape(())


def _leaf_at(outcome, path: str) -> np.ndarray | None:
    parts = values.parse_path(path)
    try:
        leaf = values.at(outcome.outputs[parts[0]], parts[1:])
    except (KeyError, TypeError):
        return None
    return leaf.array if isinstance(leaf, values.Leaf) and leaf.is_number else None


def judge_agreement(p: Plan, own: list, theirs: list, framework: str) -> CheckResult:
    """`own`: this function's outcomes on its public cases; `theirs`: the other function's on the same inputs."""
    fn, other = p.fn, p.check.function
    compared = 0
    for call, mine, them in zip(p.calls, own, theirs):
        case = call.case
        if mine is None or not mine.ok or them is None or not them.ok:
            who, o, steps = (fn.name, mine, fn.steps_for(case.spec)) if mine is None or not mine.ok \
                else (other, them, call.run_steps)
            return _result(p, ERROR, f"cannot compare with {other}: your {who} {_what(o, steps)} on {case.case_id} "
                                     f"(seed {case.spec.seed})")
        wrong = _disagreement(fn, mine, them, other, framework)
        if wrong:
            return _result(p, FAILED, f"{fn.name} and your {other} disagree on {case.case_id} (seed {case.spec.seed}): {wrong}")
        compared += 1
    return _result(p, PASSED, f"returns what your {other} returns on the {compared} public cases")


def _disagreement(fn: FunctionSpec, mine, theirs, other: str, framework: str, within: float | None = None) -> str | None:
    """Where fn's outputs (`mine`) and `other`'s on the same inputs (`theirs`) differ, as a phrase
    ('dW has shape (3, 4) from f and (4, 3) from g', 'loss: g gives 1.5, f gives 2'), or None.

    With `within`, each array is compared as a whole, by the norm of the difference relative to
    the norm of `other`'s: enough to tell an answer to other inputs from one computed another way
    (in float32, on a large input, some entries differ by more than a case's tolerance)."""
    for out in fn.compared:
        shown = values.show(out.path)
        for path, theirs_leaf in values.leaves(theirs.outputs[out.name]):
            part = shown + values.subscripts(path)
            try:
                mine_leaf = values.at(mine.outputs[out.name], path)
            except (KeyError, TypeError):
                if within is None:
                    break                              # compare_tree says what is missing
                return f"{part} is missing from what {fn.name} returns"
            if not getattr(theirs_leaf, "is_number", False):
                continue
            if not getattr(mine_leaf, "is_number", False):
                if within is None:
                    continue
                return f"{part} is not a number in what {fn.name} returns"
            a, b = mine_leaf.array, theirs_leaf.array
            if a.size != b.size or (out.kind != "scalar" and a.shape != b.shape):
                return f"{part} has shape {a.shape} from {fn.name} and {b.shape} from {other}"
            if within is not None:
                with np.errstate(all="ignore"):
                    gap = np.linalg.norm(a.astype(np.float64).ravel() - b.astype(np.float64).ravel())
                    size = np.linalg.norm(b.astype(np.float64).ravel())
                if not gap <= within * size:             # NaN too
                    if a.size == 1:
                        return f"{part}: {other} gives {b.item():.8g}, {fn.name} gives {a.item():.8g}"
                    return f"{part} differs from {other}'s by {gap / size if size else gap:.2g} times its norm"
        if within is not None:
            continue
        verdicts = compare.compare_tree(shown, out.kind, framework, theirs.outputs[out.name], mine.outputs[out.name],
                                        out.rtol or fn.rtol, out.atol or fn.atol, dtype=out.dtype,
                                        float32_code=mine.float32_code)     # both versions' code (grade.py)
        wrong = next((v for v in verdicts if not v.ok), None)
        if wrong is not None:
            return wrong.message.replace("expected", f"{other} gives").replace("got", f"{fn.name} gives")
    return None


def judge_speed(p: Plan, outcomes: list, reference: list, framework: str, again: list = ()) -> CheckResult:
    """`outcomes`: the student's timed calls, each on fresh inputs; `reference`: the reference's other
    function's on the same inputs. Only right answers are timed: a function that remembers answers
    (or returns one answer for every input) would otherwise be timed on a lookup.

    `again`: more rounds, (outcomes, reference) each, the student's calls and the reference's timed
    once more one after the other, when the first round fell short by little (`time_again`): other
    work on the machine slows some calls, never speeds one up, so the best round counts. Every
    round's answers must be right."""
    best = None
    for mine, theirs in [(outcomes, reference), *again]:
        verdict = _speed(p, mine, theirs, framework)
        if isinstance(verdict, CheckResult):
            return verdict
        if best is None or verdict[0] > best[0]:
            best = verdict
    ratio, text = best
    if again:
        text += f" (the best of {1 + len(again)} rounds: the first fell short, and both were timed again)"
    printed = sum(len(o.stdout or "") for o in outcomes if o is not None)
    if ratio < p.check.needed and printed:
        # a right answer slowed by its prints: the time is the terminal's, not the maths' (an eleventh
        # students' round printed X inside the vectorized function, and read only "0.0515x as fast")
        text += (f". {p.fn.name} printed while it was timed ({printed:,} characters): printing takes time, so "
                 "remove the prints from it")
    if ratio < p.check.needed and p.check.kind == "analytic" and not printed:      # the prints' time, not the maths'?
        text += (". That is what numerical differentiation costs (the loss evaluated again for each parameter moved a "
                 "little): work the gradient out from the derivative. If yours does, look for work done again inside "
                 "the loops (a softmax computed afresh for each weight), which costs as much")
    return _result(p, PASSED if ratio >= p.check.needed else FAILED, text)


def time_again(p: Plan, outcomes: list, reference: list, framework: str) -> bool:
    """Whether a faster_than round fell short of the factor by less than RETIME_WITHIN times, with
    right answers: timed once more (`judge_speed`'s `again`). Sub-millisecond calls on a busy machine
    measure a few tens of percent slower now and then; a loop in disguise is many times too slow."""
    verdict = _speed(p, outcomes, reference, framework)
    return not isinstance(verdict, CheckResult) and p.check.needed / RETIME_WITHIN <= verdict[0] < p.check.needed


def _speed(p: Plan, outcomes: list, reference: list, framework: str):
    """One round: (ratio of the fastest times, the sentence that says so), or the CheckResult of a
    round that could not be timed (a wrong answer, a call that raised, the reference missing)."""
    fn, check = p.fn, p.check
    sizes = show_dims(p.case.dims) or p.case.describe()
    for o in outcomes:
        if o is None or not o.ok:        # not judged where nothing of the module runs, as the other checks say
            status = ERROR if o is not None and o.status == "import_error" else FAILED
            return _result(p, status, f"{fn.name} {_what(o, fn.steps_for(p.case.spec))} on the timing inputs ({sizes})")
    if any(o.ahead for o in outcomes):
        return _result(p, FAILED, f"not timed: code of yours ran while the grader made {fn.name}'s timed inputs (seeding "
                                  "the generators, building the arguments), before its clock started: a function of "
                                  "numpy's or torch's replaced by yours, say. Such code could do the call's work untimed")
    if len(reference) != len(outcomes) or any(r is None or not r.ok or not r.duration for r in reference) \
            or not outcomes or min(o.duration or 0.0 for o in outcomes) <= 0:
        return _result(p, ERROR, "could not time the reference")
    other = f"the reference's {check.function}"
    for k, (mine, theirs) in enumerate(zip(outcomes, reference)):
        wrong = _disagreement(fn, mine, theirs, other, framework, within=SAME_ANSWER)
        if wrong:
            return _result(p, FAILED, f"not timed: {fn.name} does not return what {other} returns on timed call {k + 1} "
                                      f"of {len(outcomes)} (fresh inputs of {sizes}): {wrong}")
    fastest = min(_own(r) for r in reference)
    # Room for the harness's work around an honest call beyond the reference's calls' (first touches
    # of memory in a fresh child, a module that imported much: 1.7 ms of the students' rounds' calls
    # of 6 ms): halfway between the time the factor allows and the reference's own. A call the grader
    # counted longer than that is judged on the count, in full: the naive loops at about the
    # reference's time.
    times = counted_times(outcomes, reference, fastest * abs(1 - 1 / check.needed) / 2)
    if not times:
        return _result(p, ERROR, f"the grader could not count the time of {fn.name}'s timed calls from outside its process")
    took, own = min(times)
    if took <= 0:
        return _result(p, ERROR, f"could not time {fn.name}'s calls (their clock said 0 s)")
    ratio = fastest / took
    counted = "" if own else (f". That is the CPU time the grader counted from outside your process, less its own work "
                              f"around the call (your process's own clock said {_ms(min(_own(o) for o in outcomes))})")
    how = f"{ratio:.3g}x as fast (at least {check.factor:g}x needed)" if check.kind != "analytic" else \
        f"{1 / ratio:.3g} times as long (at most {check.factor:g} times allowed)"
    return ratio, (f"{fn.name} took {_ms(took)} on fresh inputs of {sizes} (the fastest of {len(outcomes)} calls, "
                   f"each on inputs of its own), the reference {check.function} {_ms(fastest)}: {how}{counted}")


def _own(outcome) -> float:
    """A timed call's time as its own process clocked it: its CPU time where it said it (`spent`),
    else the time that passed (`duration`). CPU time is what two calls are compared on where
    there is one: the time that passes also counts the other work on a busy machine, which took
    the reference's calls from 6 ms to 25 ms in a batch on two cores."""
    return outcome.spent if outcome.spent is not None else (outcome.duration or 0.0)


def counted_times(outcomes: list, reference: list, slack: float) -> list[tuple[float, bool]]:
    """Each timed call's time as judged, and whether it is the one the child's own clock gave.

    The child's clock (`_own`) is measured around the call alone, but it is in the student's
    process, where code that took over the harness can stop it (an eighth and a tenth red team sent
    0.1 ms for the naive loops). The grader also counts the CPU time the child's process used from
    the moment a timed call's part was given to the moment its result was read (`cpu`, supervise):
    the kernel's count, which nothing in the child can change, and which no work can escape (the
    inputs arrive with the part, and the answer leaves with the result). It also counts the
    harness's own work around the call (drawing the inputs, sending the answer): the least of that
    the reference's calls showed (their `cpu` beyond their own CPU time) is taken off. A call's time
    is its own clock's unless the grader's count, less that, is longer than it by more than `slack`
    (room for the harness's work around one call varying from another's): then that count, in full.
    (Taking `slack` off the count instead gave a forged clock `slack` for free: a red team's loop
    per example, 3.4x as fast honestly, passed at 17x.)

    Where the grader can count the reference's calls and not one of the student's (its process gone
    before its result was read), that call is not counted; where it can count none of them (no
    such clock on this system), the child's clocks are all there is."""
    around = [r.cpu - _own(r) for r in reference if r.cpu is not None]
    outside = bool(around) and len(around) == len(reference)
    harness = max(0.0, min(around)) if outside else 0.0
    times = []
    for o in outcomes:
        own = _own(o)
        if o.cpu is None:
            if not outside:
                times.append((own, True))
            continue
        grader = o.cpu - harness
        times.append((own, True) if grader <= own + slack else (grader, False))
    return times


def _what(outcome, steps: tuple) -> str:
    """What a call that did not return did, as a phrase after the function's name: 'raised
    IndexError', 'timed out'; for a step run before the function's own, that step and what it did."""
    if outcome is None:
        return "was not run"
    status = outcome.status
    step = steps[outcome.step] if outcome.step is not None and 0 <= outcome.step < len(steps) else None
    what = {"exception": f"raised {outcome.error.get('type', 'an exception')}", "timeout": "timed out",
            "crashed": "crashed", "missing_function": "is missing", "import_error": "could not be imported",
            "bad_return": "returned the wrong number of values",
            "skipped_after_timeout": "was not run after a timeout"}.get(status, "could not be run")
    if step is not None and not step.graded:
        return f"was not reached: `{step.text}`, run first, {what}"
    return what


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3g} ms"


def _common_ratio(analytic: np.ndarray, numeric: np.ndarray) -> float | None:
    """The factor k with analytic = k * numeric at every entry, when there is one (2, 0.5, -1...) and
    two entries or more show it."""
    if analytic.size < 2 or np.any(np.abs(numeric) < 1e-12):      # one entry has a ratio, not a common one
        return None
    ratios = analytic / numeric
    k = float(np.median(ratios))
    return k if np.all(np.abs(ratios - k) <= 0.02 * abs(k)) and abs(k - 1) > 0.02 else None


def error(p: Plan, message: str) -> CheckResult:
    """The check could not be judged, for the reason `message` gives (the grader failed on the
    submission, a file too large to read): no points."""
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
# Loops in disguise: what calls Python code once per row or element, by the qualified name it is
# found under however it is imported (`from functools import reduce as r`, `import numpy as xp`).
# Whole-array operations stay allowed (np.sum, np.einsum, np.add.reduce, fancy indexing with
# range), and so does torch.vmap: it runs the function once, on the whole batch.
_DISGUISED = {"builtins.map": "map()", "builtins.filter": "filter()", "functools.reduce": "functools.reduce()",
              "numpy.vectorize": "np.vectorize()", "numpy.frompyfunc": "np.frompyfunc()",
              "numpy.apply_along_axis": "np.apply_along_axis()", "numpy.apply_over_axes": "np.apply_over_axes()",
              "numpy.ndindex": "np.ndindex()", "numpy.ndenumerate": "np.ndenumerate()", "numpy.nditer": "np.nditer()"}
_DISGUISED_MODULES = ("itertools",)                 # every one of its functions iterates in Python
_PER_ELEMENT_METHODS = ("apply_", "map_", "map2_")  # torch: a Python function on each element (tensor.apply_(f))
_ITERATING_BUILTINS = ("sum", "sorted", "any", "all")   # over their first argument; min and max over a single one
_UNREADABLE = ("builtins.exec", "builtins.eval", "builtins.compile")
_IMPORTERS = ("builtins.__import__", "importlib.import_module")
# What `from numpy import *` (or torch's) puts in the place of the iterating built-ins (their __all__;
# written out: the grader's process never imports torch)
_STAR_WHOLE_ARRAY = {"numpy": ("sum", "any", "all", "min", "max"), "torch": ("sum", "any", "all", "min", "max")}
DISGUISE = " (a loop in disguise)"
_BUILTINS = {name: f"builtins.{name}" for name in dir(builtins)}   # what a name the module does not bind means
_BUILTINS["__builtins__"] = "builtins"                               # a module's own: the built-ins (a dict, or the module)
_AUTOGRAD_MODULES = ("torch.autograd", "torch.func", "functorch")
STATIC = ("no_loops", "no_autograd")
_AUTOGRAD_ROOTS = {"torch": "torch", "functorch": "functorch"}       # what no_autograd reads them as, unless imported
_FOLLOWED = 64      # functions of the submission's other files read for one check, however deep the imports


def judge_static(fn: FunctionSpec, check: CheckSpec, source: str | None, filename: str, place=None,
                 others=None) -> CheckResult:
    """`place(line)` names a line of `source` for the student ("line 12", or "cell 4, line 2" for a notebook).
    `others(name)` is the source of another module of the submission (`helpers` for `from helpers import
    total`), or None: what the function calls from there is read too.

    Code nested deeper than the reading can follow (`np.T.T.T...` a thousand times: Python compiles
    it, and the walk over its syntax tree recurses) cannot be checked: an error for this check, not
    a traceback of the grader's."""
    budget = _BUDGET.set(_Budget())
    try:
        return _judge_static(fn, check, source, filename, place, others)
    except RecursionError:
        return error(Plan(fn=fn, check=check), f"{filename} could not be read: its code is nested too deeply to be checked")
    except TooMuchWork:
        return error(Plan(fn=fn, check=check), f"{fn.name} could not be checked: reading it and the code it calls took "
                                               f"over {STATIC_STEPS:,} steps (a student's function takes a few thousand)")
    finally:
        _BUDGET.reset(budget)


def _judge_static(fn: FunctionSpec, check: CheckSpec, source: str | None, filename: str, place, others) -> CheckResult:
    p = Plan(fn=fn, check=check)
    place = place or (lambda line: f"line {line}")
    if source is None:
        return _result(p, ERROR, f"{filename} not found in the submission")
    try:
        _, defs, aliases, autograd_names = _module(source, filename)
    except SyntaxError as e:
        return _result(p, ERROR, f"{filename} could not be read: syntax error at {place(e.lineno or 0)}")
    except TooLarge:
        return _result(p, ERROR, f"{filename} has over {MAX_PARSED >> 20} MiB of code: it was not read, so it could not "
                                 "be checked (a student's module is a few hundred KB at most)")
    except (ValueError, RecursionError, MemoryError) as e:    # NUL bytes, absurd nesting: the parser gives up
        return _result(p, ERROR, f"{filename} could not be read ({type(e).__name__})")
    if not isinstance(defs.get(fn.name), (ast.FunctionDef, ast.AsyncFunctionDef)):
        where = f"in class {fn.name.split('.')[0]}" if "." in fn.name else "at the top level"
        return _result(p, ERROR, f"no `def {fn.name.split('.')[-1]}` {where} of {filename}, so its code could not be checked")
    bodies = _reachable(fn.name, defs)
    # (prefix of its names, what is read there, that file's facts, its name and text): this file, then
    # each other file of the submission the function calls into
    files = [("", bodies, (defs, aliases, autograd_names), filename, source)]
    followed = set()
    read = {filename: len(source)}    # the code read for this check, by file: MAX_PARSED in all
    def within(module: str) -> str | None:
        text = others(module)
        if text is not None and f"{module}.py" not in read:
            read[f"{module}.py"] = len(text)
            if sum(read.values()) > MAX_PARSED and len(text) <= MAX_PARSED:     # (one file over it: _module says so)
                raise TooLarge(f"{module}.py", total=len(read))
        return text
    for _, reached, (_, their_aliases, _), _, _ in files:          # grows as it goes: helpers' helpers too
        try:
            helpers = _imported(reached, their_aliases, within if others is not None else None)
        except TooLarge as e:                        # a helper's file over the limit: nothing of it can be checked
            what = f"{e.file}, which has over {MAX_PARSED >> 20} MiB of code" if not e.total else \
                f"{e.file}, which makes over {MAX_PARSED >> 20} MiB of code in the {e.total} files it reads"
            return _result(p, ERROR, f"{fn.name} calls code in {what}: it was not read, so {fn.name} could not be checked")
        for module, name, facts, file, text in helpers:
            if (module, name) not in followed and len(followed) < _FOLLOWED:
                followed.add((module, name))
                prefix = "" if file == filename else f"{module}."       # a helper calling back into this file
                files.append((prefix, _reachable(name, facts[1]), facts[1:], file, text))
    found, seen = [], set()          # a helper reached from two files is named once
    for prefix, reached, (their_defs, their_aliases, their_names), file, text in files:
        hits = _loops(reached, their_aliases, their_defs) if check.kind == "no_loops" \
            else _autograd(reached, their_names, their_defs, their_aliases)
        for hit in sorted((line, what, prefix + inside, file) for line, what, inside in set(hits)):
            if hit not in seen:
                seen.add(hit)
                found.append((*hit, text))
    bodies = {prefix + n: body for prefix, reached, *_ in files for n, body in reached.items()}
    called = sorted(n for n, body in bodies.items() if n != fn.name and not isinstance(body, _ASSIGNMENTS))
    shown = ", ".join(called[:_HELPERS_SHOWN]) + (f" and {len(called) - _HELPERS_SHOWN} more" if len(called) > _HELPERS_SHOWN else "")
    helpers = f" (or the helpers it calls: {shown})" if called else ""
    if not found:
        what = "loops, comprehensions or loops in disguise" if check.kind == "no_loops" else "autograd"
        return _result(p, PASSED, f"no {what} in {fn.name}{helpers}")
    line, what, inside, file, text = found[0]
    lines = text.splitlines()
    code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    uses = "uses" if isinstance(bodies[inside], _ASSIGNMENTS) else "calls"     # a name assigned at the top level
    at = place(line) if file == filename else f"{file}, line {line}"
    if _REBOUND in inside:
        where = f"{at}, where the name {fn.name} is bound again, to what runs instead of its def (`{code}`)"
    else:
        where = at + (f", in {inside}, which it {uses}" if inside != fn.name else "") + f" (`{code}`)"
    if check.kind == "no_loops":
        verb = "has" if what in _LOOPS.values() else "uses"
        message = f"{fn.name} {verb} {what} at {where}: the vectorized version should use whole-array operations"
    else:
        message = f"{fn.name} uses {what} at {where}: compute the gradient by hand"
    details = [f"{f}, {place(ln) if f == filename else f'line {ln}'}: {w}" for ln, w, _, f, _ in found[1:SHOWN + 1]]
    if len(found) > SHOWN + 1:
        details.append(f"and {len(found) - SHOWN - 1} more")
    return _result(p, FAILED, message, "\n".join(details))


# A line of the student's that runs this often in one call is a loop's body whatever the input (no
# whole-array code runs a line 64 times); one that runs REPEATED_MIN times or more, and more times on
# inputs of larger sizes, is one too (a loop over the rows, or the classes: `_grows_with_a_size`).
REPEATED_ALWAYS = 64
REPEATED_MIN = 4
MORE_LINES = 16                      # ...and code that runs this many more lines on the largest input than on the smallest


def judge_repeats(p: Plan, runs: list, source: str | None = None, filename: str = "") -> CheckResult | None:
    """no_loops as the function ran: `runs` are its cases and their Outcomes, whose lines were
    counted in the child (execute._traced). A line of the student's code (any file of the
    submission, or code made from a string) that runs once per row or element is a loop, however it
    is dressed up: map or a callback fetched by a computed name, a registry of helpers, recursion
    through a combinator, a class's __iter__. Such a finding fails the check (None when there is
    none); `source` (the module's text, named `filename` in the child's paths) shows the line."""
    traced = _traced(runs)
    off = _turned_off(p, traced)
    if off is not None:
        return off
    if p.check.visibility != HIDDEN:     # what the public cases show is said in full; the hidden ones', barely (_on_hidden)
        found = _repeated(p, [(case, o) for case, o in traced if case.spec.visibility != HIDDEN], source, filename)
        if found is not None:
            return found
    return _repeated(p, traced, source, filename)


def _repeated(p: Plan, traced: list, source: str | None, filename: str) -> CheckResult | None:
    """judge_repeats on these cases."""
    by_id = {case.case_id: case for case, _ in traced}
    times: dict = {}                     # (file, line, function) -> {case id: times}
    for case, o in traced:
        for file, line, n, function in o.repeats:
            times.setdefault((file, line, function), {})[case.case_id] = n
    found = []
    for (file, line, function), seen in times.items():
        most = max(seen.values())
        where = next(c for c in seen if seen[c] == most)
        # A case that does not list the line ran it at most once, unless its list was cut short.
        others = {case.case_id: seen.get(case.case_id, 1 if len(o.repeats) < REPEATS_SENT else None)
                  for case, o in traced if case.case_id != where}
        fewer = {c: n for c, n in others.items() if n is not None and n != most}
        known = [(by_id[c], n) for c, n in {**others, where: most}.items() if n is not None]
        if most >= REPEATED_ALWAYS or (most >= REPEATED_MIN and fewer and _grows_with_a_size(known)):
            found.append((most, file, line, function, where, fewer))
    if not found:
        return _more_lines(p, traced) or _library_loop(p, traced)
    most, file, line, function, where, fewer = max(found, key=lambda f: (f[0], -f[2]))
    lines = (source or "").splitlines()
    mine = bool(source) and file.endswith("/" + filename)            # the module's own file, as the grader found it
    code = lines[line - 1].strip() if mine and 0 < line <= len(lines) else ""
    by_id = {case.case_id: case for case, _ in traced}
    other = min(fewer, key=fewer.get) if fewer else None
    hidden = any(by_id[c].spec.visibility == HIDDEN for c in (where, other) if c is not None)
    if hidden and p.check.visibility != HIDDEN:
        return _on_hidden(p, "runs a line of your code more often on a larger input")
    if hidden and code and not _in_def(source, filename, function, line):
        code = ""                    # a line number of the student's choosing (co_firstlineno): not said
    # On a hidden case, no count: it is the student's to choose (a loop of int(X[0, 0] * 1e6) steps).
    on = lambda c: f"{c} ({show_dims(by_id[c].dims)})"
    if not hidden:
        often = f"{_times(most)} on {on(where)}" + (f" and {_times(fewer[other])} on {on(other)}" if other else "")
    else:
        often = f"more often on {on(where)} than on {on(other)}" if other else f"{REPEATED_ALWAYS} times or more on {on(where)}"
    base = filename if mine else _named(file.rsplit("/", 1)[-1], source, hidden, ".py")
    inside = "" if function == p.fn.name.split(".")[-1] else _named(function, source, hidden)
    at = f"line {line} of {base}" if base and (mine and code or not hidden) else \
        f"a line of {base}" if base else "a line of code of yours made as it ran"
    shown = f" (`{code}`)" if code else ""
    return _result(p, FAILED, f"{p.fn.name} runs {at}{f' (in {inside})' if inside else ''}{shown} {often}: code of "
                              "yours that runs once per row or element is a loop, however it is called (map, a callback, "
                              "recursion, a class's __iter__); the vectorized version should use whole-array operations")


def _in_def(source: str, filename: str, function: str, line: int) -> bool:
    """Whether `line` of the module is inside a def of `function` there (a method's too): a line
    number a code object reports is its own to choose (code.replace(co_firstlineno=...))."""
    try:
        _, defs, _, _ = _module(source, filename)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno <= line <= (node.end_lineno or 0)
               for name, node in defs.items() if name == function or name.endswith("." + function))


_NAMED = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_GENERIC = frozenset({"<lambda>", "<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>", "<module>", "<string>"})


def _named(name: str, source: str | None, hidden: bool, suffix: str = "") -> str:
    """A file's or a function's name that the student's process reported (a code object's), as a
    check's message may say it, or "". It is the student's to choose as the code runs, and so can
    carry a hidden case's inputs into feedback the student sees: where a hidden case is named, only a
    name the module's source spells out (a def, a file it imports) or one of Python's own
    (`<lambda>`); elsewhere any plain name."""
    if name in _GENERIC:
        return name
    stem = name[:-len(suffix)] if suffix and name.endswith(suffix) else None if suffix else name
    if stem is None or not _NAMED.fullmatch(stem):
        return ""
    if hidden and not (source and re.search(rf"\b{re.escape(stem)}\b", source)):
        return ""
    return name


def _more_lines(p: Plan, traced: list) -> CheckResult | None:
    """The count of all the student's lines a case ran: whole-array code runs about as many lines
    whatever the input's size, and code that runs some per row runs REPEATED_ALWAYS or more, at
    least twice as many on one case as on another, however no single line repeats (code generated
    with a line per row, a fresh copy of a function per row)."""
    ran = sorted(((o.lines, case) for case, o in traced), key=lambda t: t[0])
    if len(ran) < 2:
        return None
    (least, small), (most, large) = ran[0], ran[-1]
    if most < REPEATED_ALWAYS or most < 2 * least:
        # Fewer lines, but more on the largest input than on the smallest, by a margin no branch of
        # whole-array code makes: a loop over chunks of rows (a line per pair of rows).
        by_size = sorted(ran, key=lambda t: (math.prod(v for v in t[1].dims.values() if type(v) is int), t[0]))
        (least, small), (most, large) = by_size[0], by_size[-1]
        if most - least < MORE_LINES or most < 2 * least:
            return None
    if HIDDEN in (large.spec.visibility, small.spec.visibility) and p.check.visibility != HIDDEN:
        return _on_hidden(p, "runs at least twice as many lines of your code on a larger input")
    if HIDDEN in (large.spec.visibility, small.spec.visibility):       # no counts: see judge_repeats
        often = f"at least twice as many lines of your code on {large.case_id} ({show_dims(large.dims)}) as on " \
                f"{small.case_id} ({show_dims(small.dims)})"
    else:
        often = f"{most} lines of your code on {large.case_id} ({show_dims(large.dims)}) and {least} on {small.case_id} " \
                f"({show_dims(small.dims)})"
    return _result(p, FAILED, f"{p.fn.name} runs {often}: code that runs once per row or element is "
                              "a loop, however it is written (generated lines, a fresh function a row); the vectorized "
                              "version should use whole-array operations")


def _library_loop(p: Plan, traced: list) -> CheckResult | None:
    """A library's function (numpy's, torch's, any package's Python code) that the function's code
    had called once per row, or per class, or per element of some size of the case: however few lines
    of the student's run, a library then runs the loop for them (torch's `tree_map(partial(np.dot,
    b=W), list(X))` called its `_get_node_type` N + 2 times, and no line of the student's ran
    twice). Once per size means that in every case the count reaches that size (one of the case's
    dims, or the product of two), and that from the smallest value of the size among the cases to
    the largest it grows by at least half as much as the size: whole-array code calls a library's
    functions about as often whatever the sizes. Not a line through the counts: a red team padded
    the list by a number drawn from the inputs (3 to 13 more items) and passed. (A generator's
    resumptions are not counted: numpy's dispatcher for `np.choose(y, S.T)` yields each of the C
    choices; nor the libraries' printing of arrays, `execute._FORMATTING`.)"""
    calls: dict = {}                     # (file, first line, function) -> {case id: times}
    for case, o in traced:
        for file, line, n, function in o.library:
            calls.setdefault((file, line, function), {})[case.case_id] = n
    by_id = {case.case_id: case for case, _ in traced}
    found = []
    for (file, line, function), seen in calls.items():
        if max(seen.values()) < REPEATED_MIN:
            continue
        for size, groups in _by_size([(by_id[c], n) for c, n in seen.items()]):
            (v1, n1, small), (v2, n2, large) = _ends(groups)
            if v2 - v1 >= 2 and 2 * (n2 - n1) >= v2 - v1 and all(n >= v for v, g in groups.items() for n, _ in g):
                found.append((n2, n1, function, file, size, small, large))
                break
    if not found:
        return None
    n2, n1, function, file, size, small, large = max(found, key=lambda f: f[0])
    if HIDDEN in (small.spec.visibility, large.spec.visibility) and p.check.visibility != HIDDEN:
        return _on_hidden(p, "calls a library's function once per row or element")
    where = "/".join(file.replace("\\", "/").split("/")[-3:])
    name = function if _NAMED.fullmatch(function.replace(".", "_")) else "a function"
    if HIDDEN in (small.spec.visibility, large.spec.visibility):       # no counts: see judge_repeats
        often = f"more often on {large.case_id} ({show_dims(large.dims)}) than on {small.case_id} ({show_dims(small.dims)})"
    else:
        often = (f"{_times(n2)} on {large.case_id} ({show_dims(large.dims)}) and {_times(n1)} on {small.case_id} "
                 f"({show_dims(small.dims)}), once per {size}")
    return _result(p, FAILED, f"{p.fn.name} has a library run a loop for it: it calls {name} ({where}) {often}. "
                              "A library's function called once per row or element (torch's tree_map, a callback a "
                              "library calls for each item) is a loop in disguise; the vectorized version should use "
                              "whole-array operations")


def _grows_with_a_size(counted: list) -> bool:
    """Whether counts [(case, times)] grow with one of the cases' sizes (a dim, or the product of
    two): never fewer on a larger value of it, and from its smallest value to its largest, more by at
    least an eighth of the size's growth (a loop over pairs of rows too). A helper called five times,
    two of them under `if reg:`, ran three times on the reg = 0 case: a different count, and no loop
    (a students' round lost no_loops for it)."""
    for _name, groups in _by_size(counted):
        ordered = [[n for n, _ in groups[v]] for v in sorted(groups)]
        if all(max(a) <= min(b) for a, b in zip(ordered, ordered[1:])):
            (v1, n1, _), (v2, n2, _) = _ends(groups)
            if n2 > n1 and 8 * (n2 - n1) >= v2 - v1:
                return True
    return False


def _size(case, size: str) -> int | None:
    """A case's size by name: one of its dims, or the product of two (`N*D`)."""
    values = [case.dims.get(d) for d in size.split("*")]
    return math.prod(values) if all(type(v) is int for v in values) else None


def _by_size(counted: list) -> list:
    """For each size of the cases (a dim, or the product of two), the counts [(case, times)] by the
    size's value: (size, {value: [(times, case), ...]}), only where every case has that size, of two
    values or more."""
    dims = sorted({d for case, _ in counted for d, v in case.dims.items() if type(v) is int})
    sizes = dims + [f"{a}*{b}" for i, a in enumerate(dims) for b in dims[i + 1:]]
    out = []
    for size in sizes:
        groups: dict = {}
        for case, n in counted:
            v = _size(case, size)
            if v is None:
                break
            groups.setdefault(v, []).append((n, case))
        else:
            if len(groups) >= 2:
                out.append((size, groups))
    return out


def _ends(groups: dict) -> tuple:
    """(smallest value, the most times a case of it counted, that case) and (largest value, the
    fewest times, that case) of _by_size's groups: the least growth the cases allow."""
    v1, v2 = min(groups), max(groups)
    n1, small = max(groups[v1], key=lambda t: t[0])
    n2, large = min(groups[v2], key=lambda t: t[0])
    return (v1, n1, small), (v2, n2, large)


def judge_autograd_run(p: Plan, runs: list, source: str | None = None) -> CheckResult | None:
    """no_autograd as the function ran: a case (see judge_repeats) in which it took one of torch's
    ways into autograd, however it reached it (`torch.Tensor.__dict__["backward"]`, a name built from
    strings, sys.modules), fails the check; None when none did."""
    traced = _traced(runs)
    off = _turned_off(p, traced)
    if off is not None:
        return off
    ran = [case for case, o in traced if o.autograd]
    if not ran:
        return None
    case = next((c for c in ran if c.spec.visibility != HIDDEN), ran[0])     # a public case's, where there is one
    if case.spec.visibility == HIDDEN and p.check.visibility != HIDDEN:
        return _on_hidden(p, "runs autograd")
    took = next(o.autograd for c, o in traced if c is case)
    took = took if took in AUTOGRAD_WAYS else "one of torch's ways into autograd"      # the child's words: only ours
    # Where: the student's function it was taken from, when the module's source defines it (a method
    # `Linear.backward` of a network's layer); a name its code chose as it ran is not said.
    where = next(o.autograd_in for c, o in traced if c is case)
    own = p.fn.name.split(".")[-1]
    inside = where if where and where != p.fn.name and where.split(".")[-1] != own and source and \
        all(_named(part, source, True) for part in where.split(".")) else ""
    return _result(p, FAILED, f"{p.fn.name} runs autograd ({took}{f', in {inside}' if inside else ''}) on "
                              f"{case.case_id}: compute the gradient by hand")


def _traced(runs: list) -> list:
    """The cases whose call was watched as it ran, with their Outcomes."""
    return [(case, o) for case, o in runs if o is not None and o.ok and o.traced]


def _turned_off(p: Plan, traced: list) -> CheckResult | None:
    """The check failed where the student's code turned the watch on it off (sys.settrace, sys.setprofile,
    a frame's f_trace_lines); None where it did not."""
    off = next((case for case, o in traced if o.untraced and case.spec.visibility != HIDDEN), None) or \
        next((case for case, o in traced if o.untraced), None)
    if off is None:
        return None
    if off.spec.visibility == HIDDEN and p.check.visibility != HIDDEN:
        return _on_hidden(p, "turned off the grader's watch on the code it runs (sys.settrace or sys.setprofile)",
                          f"{p.check.kind} cannot be judged on code that hides what it runs. Which case is not said "
                          "here: it would tell you about the hidden cases")
    return _result(p, FAILED, f"{p.fn.name} turned off the grader's watch on the code it runs (sys.settrace or "
                              f"sys.setprofile) on {off.case_id}: {p.check.kind} cannot be judged on code that hides what it runs")


def _on_hidden(p: Plan, what: str, why: str = "") -> CheckResult:
    """A check the student sees, failed on a hidden case alone: said in words that depend on nothing
    of that case. Which hidden case, its sizes, a line number, a helper's name, the way into autograd:
    each is the student's code's to choose by the case's inputs (a loop run only where reg > 20, on one
    of 16 lines picked by W[0, 0], told a red team four bits of a hidden input a submission)."""
    return _result(p, FAILED, f"{p.fn.name} {what} on a hidden case: {why or _HIDDEN_WHY[p.check.kind]}")


_HIDDEN_WHY = {
    "no_loops": "code that runs once per row or element is a loop, however it is called (map, a callback, recursion, a "
                "class's __iter__); the vectorized version should use whole-array operations. Which case and which line "
                "are not said here: they would tell you about the hidden cases",
    "no_autograd": "compute the gradient by hand. Which case and how are not said here: they would tell you about the "
                   "hidden cases",
}


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


def needs_working_code(p: Plan, result: CheckResult, cases: list, others: list | None = None) -> CheckResult:
    """A check judged against what the function's cases found (and, for agrees_with, `others`: the
    other function's cases).

    A static check earns nothing for a function that passes no case: an unfinished stub has no
    loops and no autograd either; nor does agrees_with, where two stubs agree on their zeros, nor
    faster_than, which compares the timed answers with the reference's loosely (float32). A
    gradient check earns nothing until some output of the function is right on some case (its loss,
    where the function returns the loss the check differentiates): a made-up loss passes it with its
    own gradient (`sum(x * x)`, `2 * x`), where a right loss whose gradients come back in the wrong
    type still earns it. A gradient check whose loss comes from
    another function (a backward's own forward) is not judged while that function is wrong on this
    function's cases: it would blame this one for the other's mistake, or credit it for matching a
    wrong forward. Likewise agrees_with does not take points
    from a function that is right on every input it was compared on, when the other function is
    wrong on its own cases, or not written yet: that costs the other function's cases already (and a
    missing function must not cost more than a wrong one).

    Where the hidden cases are graded, the case that shows the function works must be a hidden one:
    the public cases' answers ship with the handout, and a table of them passes those (a red team's
    replayed them, `loss0 + sum((W - W0) * dW0), dW0`, and earned every check of cs231n's, 14 of 28
    points, with no code of its own)."""
    evidence = [c for c in cases if c.visibility == HIDDEN] or cases
    which = "hidden case" if evidence is not cases else "case"
    # A speed check that failed on a wrong or raising timed call restates the cases' failure: for a
    # function that passes no case, it is not judged, as the other checks say
    failed_speed = p.check.timed and result.status == FAILED
    if (p.check.kind in STATIC + ("agrees_with",) or p.check.timed) and (result.passed or failed_speed) \
            and not any(c.passed for c in evidence):
        return _result(p, ERROR, f"judged once {p.fn.name} passes at least one {which}")
    # The loss the check differentiates, where the function returns it: right on some case (a network
    # whose scores were right and whose loss was made up, with its own gradient, earned the point).
    loss = {o.name for o in p.fn.compared} & set(p.loss_names) if p.check.kind == "gradient" else set()
    if p.check.kind == "gradient" and result.passed and not any(
            c.passed or any(o.ok and not o.name.startswith("property ") and (not loss or o.name in loss) for o in c.outputs)
            for c in evidence):
        return _result(p, ERROR, f"judged once {p.fn.name} returns a right {' or '.join(sorted(loss)) or 'value'} "
                                 f"on at least one {which}")
    public = [c for c in cases if c.visibility == "public"]
    # ... and where the hidden cases are graded, right on one of those too: a table of the handout's
    # public answers, beside a naive version left unwritten, earned the point (a fifteenth red team)
    if p.check.kind == "agrees_with" and result.status in (FAILED, ERROR) and public and all(c.passed for c in public) \
            and any(c.passed for c in evidence) and others and not all(c.passed for c in others):
        other = p.check.function
        return _result(p, PASSED, f"right where your {other} is not: {p.fn.name} passes the {len(public)} public cases it "
                                  f"was compared on, and your {other} fails some of its own (see its cases); "
                                  f"{result.message}")
    blockers = sorted({c.blocked_by for c in cases if c.blocked_by})
    # ... and one that could not be judged says why first (max-pool's forward ignoring the stride left
    # the checked entries in no window: "stays the same when moved", an eleventh students' round)
    if p.check.kind == "gradient" and blockers and result.status in (PASSED, FAILED, ERROR):
        return _result(p, ERROR, f"not judged: your {', '.join(blockers)} is wrong on some of {p.fn.name}'s cases, "
                                 f"and this check compares {p.fn.name} with it; fix {blockers[0]} first")
    if p.check.kind == "gradient" and result.status == FAILED:
        # the gradient right on the cases and the loss it is compared with wrong: the loss is what is off
        # (a twelfth students' round's `loss //= num_train` read "dW is not the gradient of your own loss")
        grads = sorted({out for _, out in p.check.pairs})
        seen = [o for c in evidence for o in c.outputs if o.name in grads or o.name in p.loss_names]
        if any(not o.ok for o in seen if o.name in p.loss_names) and \
                any(o.name in grads for o in seen) and all(o.ok for o in seen if o.name in grads):
            made = " and ".join(f"`{n}`" for n in p.loss_names)
            shown = " and ".join(f"`{g}`" for g in grads)
            return _result(p, FAILED, f"{made} {'is' if len(p.loss_names) == 1 else 'are'} what is off: your {shown} "
                                      f"{'is' if len(grads) == 1 else 'are'} right on the {which}s, and your {made} "
                                      f"{'is' if len(p.loss_names) == 1 else 'are'} not (see them); this check compares "
                                      f"{shown} with your own {p.check.loss}, so it fails with it",
                           "\n".join(x for x in (result.message, result.details) if x))
    return result


def _imported(bodies: dict, aliases: dict, others) -> list:
    """(module, name, its _module facts, its file name, its source) for each function that the bodies use from another
    module of the submission (`others(module)` gives its source): `from helpers import total` then
    `total(x)`, or `import helpers` then `helpers.total(x)`. What that function calls in its own
    module is read with it by the caller, and what it calls from a third file on the caller's next
    round (judge_static follows up to _FOLLOWED functions into other files)."""
    if others is None:
        return []
    wanted = set()
    for body in bodies.values():
        scope = _aliases(body, aliases)
        for node in _walk(body):
            if isinstance(node, (ast.Name, ast.Attribute)):
                name = _qualified(node, scope) or ""
                if name.count(".") == 1 and not name.startswith("builtins."):
                    wanted.add(tuple(name.split(".")))
    found = []
    for module, name in sorted(wanted):
        source = others(module)
        if source is None:
            continue
        try:
            facts = _module(source, f"{module}.py")
        except TooLarge:
            raise                                    # not read: the check cannot say what the helper does
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue                                 # its own cases say it does not import
        if isinstance(facts[1].get(name), (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append((module, name, facts, f"{module}.py", source))
    return found


def calls_between(source: str, filename: str, names) -> dict:
    """{name: the other functions of `names` it calls, directly or through the module's helpers and
    methods} for each function of `names` that the source defines; {} when it does not parse.
    Only exact references count (`Linear.backward(...)`, `self.forward(...)`), as for recursion."""
    try:
        _, defs, _, _ = _module(source, filename)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    wanted = set(names)
    return {name: (set(_reachable(name, defs, loose=False)) & wanted) - {name} for name in sorted(wanted)
            if isinstance(defs.get(name), (ast.FunctionDef, ast.AsyncFunctionDef))}


MAX_PARSED = 1 << 20                  # characters of a file's code that the grader's process parses at most
_KEPT = 256 << 10                     # ...and keeps parsed for the file's other checks: a tree takes up to
                                      # 600 times its source (4 MiB of `{},` took 2.4 GB), and 16 were kept


class TooLarge(ValueError):
    """A file's code over MAX_PARSED characters, or (`total`: how many files) the code a check
    reads in all over it: not parsed in the grader's process."""

    def __init__(self, file: str, total: int = 0):
        super().__init__(f"{file} has over {MAX_PARSED >> 20} MiB of code" if not total else
                         f"{file} makes over {MAX_PARSED >> 20} MiB of code in {total} files")
        self.file, self.total = file, total


# The syntax-tree nodes one static check may visit, however often each: the reading runs in the
# grader's own process, under no time limit. A student's function and its helpers take a few
# thousand (cs231n's reference: 1,100), each read a few times over (what it calls, its loops, its
# names). A seventeenth red team found code whose reading grew faster than its size (8 s and 1.3 GB,
# 30 s, 45 s in files under MAX_PARSED); read once each now, such files take 0.4 to 2 million steps,
# a second or two, and past a million the reading stops, the check not judged.
STATIC_STEPS = MAX_PARSED


class TooMuchWork(Exception):
    """A static check's reading went over STATIC_STEPS nodes."""


class _Budget:
    __slots__ = ("left", "names")

    def __init__(self):
        self.left = STATIC_STEPS
        self.names: dict = {}             # (node, scope) -> its _qualified name: the nodes stay alive meanwhile


_BUDGET: contextvars.ContextVar = contextvars.ContextVar("static_budget", default=None)


def _spend(nodes: int) -> None:
    """Count `nodes` against the running static check's budget (none outside judge_static)."""
    budget = _BUDGET.get()
    if budget is not None:
        budget.left -= nodes
        if budget.left < 0:
            raise TooMuchWork


def _walk(node: ast.AST):
    """ast.walk, each node counted against the running check's budget."""
    budget = _BUDGET.get()
    for child in ast.walk(node):
        if budget is not None:
            budget.left -= 1
            if budget.left < 0:
                raise TooMuchWork
        yield child


def read_code(path) -> str:
    """A .py file's code as Python reads it (locate.decode_code), for a check or a comparison to
    parse. TooLarge over MAX_PARSED characters, and without reading a file too big to be under it
    (UTF-8 is at most 4 bytes a character); OSError where it cannot be read."""
    path = Path(path)
    if path.stat().st_size > 4 * MAX_PARSED:
        raise TooLarge(path.name)
    source = decode_code(path.read_bytes())
    if len(source) > MAX_PARSED:
        raise TooLarge(path.name)
    return source


def _module(source: str, filename: str) -> tuple:
    """The source's tree, its definitions, the names it imports and what it binds to autograd:
    read once for all the checks of a file (a class's methods have several; the walk of a long
    module was most of a submission's judging). Read only, never changed by a check. TooLarge over
    MAX_PARSED characters; a file over _KEPT is parsed again for each check rather than kept."""
    if len(source) > MAX_PARSED:
        raise TooLarge(filename)
    return _module_kept(source, filename) if len(source) <= _KEPT else _parsed(source, filename)


_KEPT_TOTAL = 512 << 10               # characters of code whose trees are kept in all (a tree of 256 KB took 93 MiB)
_kept: "OrderedDict[tuple, tuple]" = OrderedDict()
_kept_lock = threading.Lock()


def _module_kept(source: str, filename: str) -> tuple:
    """_parsed, kept for the file's other checks: the last files read, up to _KEPT_TOTAL characters of
    code in all (sixteen trees of 256 KB took 1.6 GB of a batch's memory, an eighteenth red team's)."""
    key = (source, filename)
    with _kept_lock:
        if key in _kept:
            _kept.move_to_end(key)
            return _kept[key]
    facts = _parsed(source, filename)
    with _kept_lock:
        _kept[key] = facts
        while sum(len(s) for s, _ in _kept) > _KEPT_TOTAL:
            _kept.popitem(last=False)
    return facts


def _parsed(source: str, filename: str) -> tuple:
    tree = ast.parse(source, filename=filename)
    aliases = _aliases(tree, _BUILTINS)
    aliases.laundered = _laundered(tree, aliases)
    return tree, definitions(tree), aliases, _autograd_names(tree)


def _laundered(tree: ast.Module, aliases) -> dict:
    """{name: the loop in disguise it may stand for} for each name the module binds, anywhere and in any
    way, to a loop in disguise itself (not to what calling one returns): an import in a nested def or a
    class, a parameter's default, `for`, `:=`, `with`, a class body, `global` or `nonlocal` in a helper.
    The reading of a scope follows only its imports and plain assignments; an eighteenth red team passed
    no_loops eight ways so (`def f(W, X, y, reg, map=map)`, `for m in [map]: pass`, `class K: from
    builtins import map as m`), a call through such a name being C calling C once a row, which no
    watch of the running code sees. A call of such a name whose scope does not say what it is, is one
    (`_disguised`); a class's names are kept as `Class.name` too."""
    found: dict = {}
    classes = []
    # Linear, once a file (parsed): not counted in a check's budget. Each value is read in the scope of
    # its binding (a naive function's own variable `map` is no loop), once however many names it binds.
    todo = deque([(tree, aliases)])
    while todo:
        node, scope = todo.popleft()
        bindings = []                            # (targets, the value they are bound to)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for name, qualified in _imported_names(node):
                if _loop_named(qualified):
                    found[name] = qualified
        elif isinstance(node, ast.Assign):
            bindings = [(node.targets, node.value)]
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.NamedExpr)) and node.value is not None:
            bindings = [([node.target], node.value)]
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            bindings = [([node.target], node.iter)]
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            bindings = [([item.optional_vars], item.context_expr) for item in node.items if item.optional_vars is not None]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            positional = node.args.posonlyargs + node.args.args          # defaults: read where the def is
            bindings = [([ast.Name(a.arg)], d) for a, d in zip(positional[len(positional) - len(node.args.defaults):],
                                                               node.args.defaults)]
            bindings += [([ast.Name(a.arg)], d) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d is not None]
        elif isinstance(node, ast.ClassDef):
            classes.append(node)
        for targets, value in bindings:
            loop = _loop_mentioned(value, scope)
            for t in (t for target in targets for t in ast.walk(target)) if loop else ():
                if isinstance(t, ast.Name):
                    found[t.id] = loop
                elif isinstance(t, ast.Attribute):
                    found[t.attr] = loop
        inner = _aliases(node, scope) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) else scope
        todo.extend((child, inner) for child in ast.iter_child_nodes(node))
    for cls in classes if found else ():
        for item in cls.body:                    # what the class's own body binds: `K.m`
            if isinstance(item, (ast.Import, ast.ImportFrom)):
                names = [name for name, _ in _imported_names(item)]
            elif isinstance(item, _ASSIGNMENTS):
                names = _assigned_names(item)
            else:
                names = []
            for name in names:
                if name in found:
                    found[f"{cls.name}.{name}"] = found[name]
    return found


def _assigned_names(stmt: ast.AST) -> list:
    """The names an assignment (`a = ...`, `a, b = ...`, `a: T = ...`, `a += ...`) binds."""
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    return [t.id for target in targets for t in ast.walk(target) if isinstance(t, ast.Name)]


def _imported_names(node: ast.AST) -> list:
    """(name bound, the dotted name it stands for) for each name an import binds (not `*`, nor relative ones)."""
    if isinstance(node, ast.Import):
        return [(a.asname or a.name.split(".")[0], a.name if a.asname else a.name.split(".")[0]) for a in node.names]
    if node.module and not node.level:
        return [(a.asname or a.name, f"{node.module}.{a.name}") for a in node.names if a.name != "*"]
    return []


def _loop_named(qualified: str) -> bool:
    """Whether a dotted name is a loop in disguise (as `_disguised` reads one)."""
    parts = qualified.split(".")
    return qualified in _DISGUISED or f"{parts[0]}.{parts[-1]}" in _DISGUISED or \
        parts[0] in _DISGUISED_MODULES and len(parts) > 1 or qualified in _DISGUISED_MODULES


def _loop_mentioned(value: ast.AST, aliases) -> str | None:
    """The loop in disguise an expression names without calling it (`map`, `[map]`, `partial(map, f)`), or None."""
    nodes = list(ast.walk(value))
    called = set()                               # a call's function, down its chain: `itertools` in itertools.product(...)
    for n in nodes:
        func = n.func if isinstance(n, ast.Call) else None
        while isinstance(func, (ast.Attribute, ast.Name)):
            called.add(id(func))
            func = func.value if isinstance(func, ast.Attribute) else None
    for n in nodes:
        if isinstance(n, (ast.Name, ast.Attribute)) and id(n) not in called:
            qualified = _qualify(n, aliases)
            if qualified and _loop_named(qualified):
                return qualified
    return None


def definitions(tree: ast.Module) -> dict:
    """The module's functions and its classes' methods, by the name a spec gives them (`Linear.forward`),
    and the names it assigns at the top level (`exp = np.vectorize(math.exp)`): what a function uses
    of them is checked as if it were a helper."""
    defs, assigned = {}, []
    for node in tree.body:
        if isinstance(node, _ASSIGNMENTS) and node.value is not None:     # `a = ...`, `a, b = ...`, `a: T = ...`
            names = _assigned_names(node)
            for name in names:
                defs.setdefault(name, node)
            assigned += [(name, node) for name in names]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defs[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    defs[f"{node.name}.{item.name}"] = item
    # A function's name bound again at the top level (`svm_loss_vectorized = _rows`, a tuple of
    # np.vectorize's): the call may run that instead of the def, so what it binds is read as well.
    for name, node in assigned:
        if isinstance(defs.get(name), (ast.FunctionDef, ast.AsyncFunctionDef)):
            defs[f"{name}{_REBOUND}{node.lineno}"] = node
    return defs


_REBOUND = " as rebound at line "      # the key of a top-level assignment to a function's name (definitions)
_ASSIGNMENTS = (ast.Assign, ast.AnnAssign, ast.AugAssign)


def _reachable(name: str, defs: dict, loose: bool = True) -> dict:
    """The function and the module's functions and methods it calls, directly or through each other:
    `helper(...)`, `Linear.forward(...)`, in a method `self.other(...)`, and (`loose`, see
    _references) methods called on instances."""
    seen, todo, queued = {}, [name], {name}
    loosely: set = set()                     # method names linked to every class's method of that name already
    while todo:
        current = todo.pop()
        seen[current] = defs[current]
        for found, _ in _references(current, defs, loose, loosely):
            if found not in queued:          # each once: a red team's 8,000 `a.m` lines each queued 8,000 methods
                queued.add(found)
                todo.append(found)
    return seen


_INDEXED: list = [None]                 # (defs, its index) of the last module's definitions read (`_index`)


def _index(defs: dict) -> tuple[set, dict, dict]:
    """The module's classes, {function: the keys of its rebindings} (`definitions`) and {method name:
    the keys of the classes' methods of that name}, once per
    module's definitions: made afresh for each function reached, they made a file of 30,000
    one-line helpers take four minutes of the grader's CPU (a red team's)."""
    last = _INDEXED[0]                  # read once: another thread's batch may set it meanwhile
    if last is not None and last[0] is defs:
        return last[1]
    rebound: dict = {}
    methods: dict = {}                  # method name -> the classes' methods of that name, by class
    for key in defs:
        if _REBOUND in key:
            rebound.setdefault(key.split(_REBOUND)[0], []).append(key)
        elif "." in key:
            methods.setdefault(key.split(".", 1)[1], []).append(key)
    index = ({q.split(".")[0] for q in defs if "." in q and _REBOUND not in q}, rebound,
             {m: sorted(keys) for m, keys in methods.items()})
    _INDEXED[0] = (defs, index)
    return index


def _references(name: str, defs: dict, loose: bool = True, loosely: set | None = None):
    """(function or method of the module, node) for each place the body of `name` names one.

    Loosely (for what a check reads, not for recursion): a method called on an object that is none
    of the module's classes, `h.go(y)` or `_H().go(y)`, may be any of their methods of that name
    (another class's than this method's own); and a class named, `_H()`, runs its `__init__`, and
    its `__call__` when the instance is called."""
    cls = name.split(".")[0] if "." in name else None
    classes, rebound, methods = _index(defs)
    for key in rebound.get(name, ()):
        yield key, defs[key]
    # A method name called loosely is linked to every class's method of that name once in a reading
    # (`loosely`, the names done: shared by the bodies a _reachable reads), not once a call, nor once a
    # body: 8,000 `a.m` lines and 8,000 classes with an `m` made 64 million links (a seventeenth red
    # team's), and 20,000 classes whose `m` says `s.m` took 56 s linked once a body (an eighteenth's).
    loosely = set() if loosely is None else loosely

    def any_class(method: str) -> list:
        if method in loosely:
            return []
        loosely.add(method)
        found = [key for key in methods.get(method, ()) if key.split(".", 1)[0] != cls]
        _spend(len(found))
        return found
    for node in _walk(defs[name]):
        found = []
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in defs:
            found = [node.id]
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name) \
                and node.value.func.id in ("globals", "vars", "locals") and _text(node.slice) in defs:
            found = [_text(node.slice)]                  # globals()["_rows"], globals()["_" + "rows"]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner = cls if node.value.id in ("self", "cls") and cls else node.value.id
            found = [f"{owner}.{node.attr}"] if f"{owner}.{node.attr}" in defs else []
            if not found and loose and owner not in classes and node.value.id not in ("self", "cls"):
                found = any_class(node.attr)
        elif loose and isinstance(node, ast.Attribute) and isinstance(node.value, ast.Call):
            found = any_class(node.attr)
        if loose and isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in classes:
            # a class named runs its __init__, and its __call__ when the instance is called; the special
            # methods Python calls unnamed (__iter__, __getitem__) are seen as the function runs (judge_repeats)
            found += [f"{node.id}.{m}" for m in ("__init__", "__call__") if f"{node.id}.{m}" in defs]
        for one in found:
            yield one, node


def _loops(bodies: dict, aliases: dict, defs: dict) -> list:
    """(line, what, function) for each loop, comprehension and loop in disguise in the bodies."""
    found = []
    for name, body in bodies.items():
        scope = _aliases(body, aliases)
        # A function defined inside, calling itself: the first name of it within it, in the order
        # ast.walk reads it (breadth first), found in the one walk of the body (a walk of each inner
        # def's own made 95 nested defs around a long tuple take 30 s of the grader's CPU, a red team's).
        itself: dict = {}                              # inner def -> that name
        todo = deque([(body, {})])                     # (node, {name: the inner defs around it of that name})
        while todo:
            node, around = todo.popleft()
            _spend(1)
            what = _LOOPS.get(type(node)) or _disguised(node, scope)
            if what:
                found.append((node.lineno, what, name))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node is not body:
                around = {**around, node.name: around.get(node.name, ()) + (node,)}
            if isinstance(node, ast.Name) and node.id in around:
                for inner in reversed(around[node.id]):  # innermost first: an outer one found is found outwards too
                    if inner in itself:
                        break
                    itself[inner] = node
            todo.extend((child, around) for child in ast.iter_child_nodes(node))
        found += [(n.lineno, f"recursion ({inner.name} calls itself)", name) for inner, n in itself.items()]
    graph = _call_graph(list(bodies), defs)
    group = _cycles(graph)
    for name in bodies:
        for callee, node in graph.get(name, ()):
            if _REBOUND in callee:
                continue                   # `f = wrap(f)` names f again, and is no recursion
            if callee == name or group[callee] == group[name]:
                how = "calls itself" if callee == name else f"calls {callee}, which leads back to {name}"
                found.append((node.lineno, f"recursion ({name} {how})", name))
    return found


def _call_graph(names: list, defs: dict) -> dict:
    """{function: its exact references [(callee, node)]} for `names` and everything they reach so:
    each function's body is read once (reachability asked per reference, as it once was, made a
    file of helpers each calling the next ten take minutes of the grader's own CPU)."""
    graph, todo = {}, list(names)
    while todo:
        name = todo.pop()
        if name in graph or name not in defs:
            continue
        graph[name] = list(_references(name, defs, loose=False))
        todo += [callee for callee, _ in graph[name] if callee not in graph]
    return graph


def _cycles(graph: dict) -> dict:
    """{function: the id of its strongly connected component}: two functions share one when each
    leads to the other (Tarjan's algorithm, without recursion: a call chain may be thousands long)."""
    index, low, group, stack, on_stack, work = {}, {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        work.append((node, iter(graph[node])))

    for root in graph:
        if root in index:
            continue
        visit(root)
        while work:
            node, edges = work[-1]
            advanced = False
            for callee, _ in edges:
                if callee not in graph:
                    continue
                if callee not in index:
                    visit(callee)
                    advanced = True
                    break
                if callee in on_stack:
                    low[node] = min(low[node], index[callee])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group[member] = index[node]
                    if member == node:
                        break
    return group


def _disguised(node: ast.AST, aliases: dict) -> str | None:
    """What a node is when it is a loop in disguise (`map()`, `np.vectorize()`), with why, or None."""
    if isinstance(node, ast.Attribute) and node.attr in _PER_ELEMENT_METHODS:
        return f".{node.attr}() (a Python function on each element, a loop in disguise)"
    laundered = getattr(aliases, "laundered", None)
    if laundered and isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)) \
            and _qualified(node.func, aliases) is None:
        said = node.func.id if isinstance(node.func, ast.Name) else _dotted(node.func)
        loop = laundered.get(said) if said else None     # `m(...)`, `K.m(...)`; never a method by its name alone
        root = node.func.value if isinstance(node.func, ast.Attribute) else None
        if not loop and isinstance(root, ast.Name) and laundered.get(root.id) in _DISGUISED_MODULES:
            loop = f"{laundered[root.id]}.{node.func.attr}"            # `it.starmap` where `it` is itertools
        if loop:
            return f"{said}(), which the module binds to {_DISGUISED.get(loop) or loop + '()'} (a loop in disguise under another name)"
    if not isinstance(node, (ast.Name, ast.Attribute, ast.Call, ast.Subscript)):
        return None
    name = _qualified(node, aliases) or ""
    parts = name.split(".")
    if name in _DISGUISED or f"{parts[0]}.{parts[-1]}" in _DISGUISED:      # numpy.lib.shape_base.apply_along_axis too
        return _DISGUISED.get(name, _DISGUISED.get(f"{parts[0]}.{parts[-1]}")) + DISGUISE
    if parts[0] in _DISGUISED_MODULES and len(parts) > 1:
        return f"{name}()" + DISGUISE
    if name in _UNREADABLE:
        return f"{name.split('.')[1]}() (code in a string, which this check cannot read)"
    looked_up = _computed_lookup(node, aliases)
    if looked_up:
        return f"a function taken from {looked_up} by a name computed as it runs (which this check cannot read: call it by its name)"
    if isinstance(node, ast.Call) and node.args:
        callee = _qualified(node.func, aliases) or ""
        builtin = callee.split(".")[1] if callee.startswith("builtins.") else ""
        over = node.args[0]
        iterates = builtin in _ITERATING_BUILTINS or builtin in ("min", "max") and len(node.args) == 1
        if iterates and not isinstance(over, (ast.Tuple, ast.List, ast.Set, ast.Constant, *_LOOPS)) and \
                not (isinstance(over, ast.Attribute) and over.attr in ("shape", "strides")):
            return f"the built-in {builtin}() over an iterable, one item at a time (a loop in disguise; np.{builtin} is not)"
    return None


def _computed_lookup(node: ast.AST, aliases: dict) -> str | None:
    """`getattr(np, name)`, `__builtins__[name]`, `sys.modules[name]`, `globals()[name]`, `vars(m)[name]`:
    a function fetched from a module, the built-ins or the globals by a name the source does not spell
    out (`"ma" + "p"` is spelled out, `"".join(...)` and a variable are not); what it was fetched
    from, as said to the student ("the built-ins", "numpy", "globals()"), or None."""
    if isinstance(node, ast.Subscript) and _text(node.slice) is None and not isinstance(node.slice, (ast.Constant, ast.Slice)):
        base = _qualified(node.value, aliases) or ""
        if isinstance(node.value, ast.Call) and _qualified(node.value.func, aliases) in ("builtins.globals", "builtins.locals"):
            base = _qualified(node.value.func, aliases) + "()"
        if _namespace(base) or base in ("builtins.globals()", "builtins.locals()"):
            return {"builtins": "the built-ins"}.get(base, base.replace("builtins.", ""))
    if isinstance(node, ast.Call) and len(node.args) >= 2 and _qualified(node.func, aliases) == "builtins.getattr" \
            and _text(node.args[1]) is None:
        base = _qualified(node.args[0], aliases)
        if base == "builtins" or base is not None and "." not in base and base not in _BUILTINS.values():   # a module
            return "the built-ins" if base == "builtins" else base
    # A mapping's entry by a key the source does not spell out (`vars(builtins).get(name)`), a getter of
    # one (`operator.attrgetter(name)(builtins)`), or a module imported by such a name (an import of
    # "".join([...])): a nineteenth red team's map fetched so passed no_loops
    if isinstance(node, ast.Call) and node.args and _text(node.args[0]) is None:
        if isinstance(node.func, ast.Attribute) and node.func.attr in _LOOKUPS:
            base = _qualified(node.func.value, aliases) or ""
            if _namespace(base):
                return {"builtins": "the built-ins", "builtins.__dict__": "the built-ins"}.get(base, base)
        if _qualified(node.func, aliases) in ("operator.attrgetter", "operator.itemgetter"):
            return "a module or mapping (operator's getters)"
        if _qualified(node.func, aliases) in _IMPORTERS:
            return "the modules (an import)"
    return None


def _qualified(node: ast.AST, aliases: dict) -> str | None:
    """The dotted name an expression stands for, as far as the source shows it: `xp.vectorize`
    after `import numpy as xp` is numpy.vectorize, `r` after `from functools import reduce as r`
    functools.reduce, `getattr(np, "vectorize")` numpy.vectorize, `map` builtins.map; else None.

    In a static check each node's is worked out once (kept in its budget): read for every node of a
    walk, a chain `np.a.a...a` of L attributes made L*L/2 steps, 900 of them 18 s (an eighteenth red team's)."""
    if not isinstance(node, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)):
        return None
    budget = _BUDGET.get()
    if budget is None:
        return _qualify(node, aliases)
    key = (id(node), id(aliases))
    if key not in budget.names:
        _spend(1)
        budget.names[key] = (node, aliases, _qualify(node, aliases))   # both held: their ids stay theirs
    return budget.names[key][2]


def _qualify(node: ast.AST, aliases: dict) -> str | None:
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _qualified(node.value, aliases)
        return f"{base}.{node.attr}" if base else None
    if isinstance(node, ast.Subscript) and _text(node.slice):   # np.__dict__["vectorize"], sys.modules["itertools"]
        return _entry(_qualified(node.value, aliases), _text(node.slice))
    if isinstance(node, ast.Call) and node.args:
        callee, first, last = _qualified(node.func, aliases), node.args[0], _text(node.args[-1])
        if callee == "builtins.getattr" and len(node.args) == 2 and last:
            base = _qualified(first, aliases)
            return f"{base}.{last}" if base else None
        if callee == "builtins.vars" and len(node.args) == 1:
            base = _qualified(first, aliases)
            return f"{base}.__dict__" if base else None
        if callee in _IMPORTERS and last:
            return last
        if isinstance(node.func, ast.Attribute) and node.func.attr in _LOOKUPS and len(node.args) <= 2:
            return _entry(_qualified(node.func.value, aliases), _text(first))   # vars(builtins).get("map", None)
        if isinstance(node.func, ast.Call) and len(node.args) == 1 and len(node.func.args) == 1:
            getter, name = _qualified(node.func.func, aliases), _text(node.func.args[0])
            if name and getter == "operator.attrgetter":                        # attrgetter("map")(builtins)
                base = _qualified(first, aliases)
                return f"{base}.{name}" if base else None
            if name and getter == "operator.itemgetter":                        # itemgetter("map")(vars(builtins))
                return _entry(_qualified(first, aliases), name)
    return None


_LOOKUPS = ("get", "__getitem__", "pop", "setdefault")      # a mapping's methods that fetch an entry by its key


def _namespace(base: str) -> bool:
    """Whether a dotted name stands for a mapping of names to functions: the built-ins, sys.modules, a module's __dict__."""
    return base in ("builtins", "sys.modules") or base.endswith(".__dict__")


def _entry(base: str | None, key: str | None) -> str | None:
    """The dotted name of entry `key` of the mapping `base` stands for (`_namespace`)."""
    if not base or not key or not _namespace(base):
        return None
    if base == "sys.modules":
        return key
    return f"builtins.{key}" if base in ("builtins", "builtins.__dict__") else f"{base[:-len('.__dict__')]}.{key}"


def _dotted(node: ast.AST) -> str:
    """`K.m` as written, for an attribute of a name; "" for anything else (`x[0].repeat`: a method of a value)."""
    return f"{node.value.id}.{node.attr}" if isinstance(node.value, ast.Name) else ""


def _text(node: ast.AST) -> str | None:
    """A string the source spells out: a constant, or constants joined with + ("back" + "ward")."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        return left + right if left is not None and right is not None else None
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _aliases(scope: ast.AST, outer: dict) -> dict:
    """Name -> the dotted name it stands for inside `scope` (the module, or a function): `outer`'s
    (for the module, the builtins: `map` is builtins.map), less the names the scope binds to
    something else, plus its imports (`import numpy as np`, `from itertools import starmap`) and
    its assignments of such names (`vec = np.vectorize`)."""
    own = list(_own_nodes(scope))
    bound = {n.id for n in own if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    bound |= {n.arg for n in own if isinstance(n, ast.arg)}
    bound |= {n.name for n in own if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    aliases = _Scope({}, outer, bound)
    for node in own:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            aliases |= dict(_imported_names(node))
            if isinstance(node, ast.ImportFrom) and node.module and not node.level and any(a.name == "*" for a in node.names):
                aliases |= _star(node.module)
    assigned = [n for n in own if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)]
    for _ in range(2):                               # twice: an alias of an alias
        for node in assigned:
            name = _qualified(node.value, aliases)
            if name:
                aliases[node.targets[0].id] = name
    return aliases


class _Scope(dict):
    """A scope's names (`_aliases`): its own (this dict), and for the rest its outer scope's, less the
    names it binds to something else (`hidden`): looked up there, never copied (a copy of the module's
    names for each function read made 40,000 imports and 8,000 functions take 45 s of the grader's CPU,
    a red team's). Only `get` and item assignment are used on it."""
    __slots__ = ("outer", "hidden", "laundered")

    def __init__(self, own: dict, outer: dict, hidden=frozenset()):
        super().__init__(own)
        self.outer, self.hidden = outer, hidden
        self.laundered = getattr(outer, "laundered", {})     # the module's (`_laundered`), for every scope in it

    def get(self, key, default=None):
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        return default if key in self.hidden else self.outer.get(key, default)


def _star(module: str) -> dict:
    """What `from module import *` binds among the loops in disguise (`starmap`, `vectorize`), and
    among the built-ins that iterate, the whole-array versions it puts in their place (numpy's `sum`)."""
    names = {q.split(".")[-1]: q for q in _DISGUISED if q.rsplit(".", 1)[0] == module}
    if module in _DISGUISED_MODULES:
        names |= {n: f"{module}.{n}" for n in dir(importlib.import_module(module)) if not n.startswith("_")}
    names |= {n: f"{module}.{n}" for n in _STAR_WHOLE_ARRAY.get(module, ())}
    return names


def _own_nodes(scope: ast.AST):
    """The nodes of a module's or a function's own scope: a nested function, class or lambda is
    given (its name is bound here), not entered. A function's parameters are its own."""
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        _spend(1)
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            todo += ast.iter_child_nodes(node)


def _autograd_names(tree: ast.Module) -> set:
    """Names the module binds to autograd: `from torch.autograd import grad`, `import torch.func as F`."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and _imports_autograd(node):
            names |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith(_AUTOGRAD_MODULES) and a.asname:
                    names.add(a.asname)
    return names


def _imports_autograd(node: ast.Import | ast.ImportFrom) -> bool:
    """`from torch.autograd import grad`, `from torch import autograd`, `import torch.func` (the first name)."""
    module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
    return bool(module) and (module.startswith(_AUTOGRAD_MODULES) or
                             module == "torch" and any(a.name in ("autograd", "func") for a in node.names))


def _autograd(bodies: dict, names: set, defs: dict, aliases: dict) -> list:
    """Uses of autograd. `x.backward()` is torch's unless x is a class of the module with a method of that
    name, or self in one (`Linear.backward(dout, cache)`: the layer's own backward pass, written by hand),
    or the call passes a value or more where the module has backward methods of its own (`layer.backward(
    dout, cache)` on a layer taken from a list, `sq.backward(dout)`: torch's is `loss.backward()`, and a
    `loss.backward(gradient)` there is left to the check as the function runs, judge_autograd_run).
    Names are followed as no_loops follows them: `getattr(torch, "autograd")`, `getattr(loss, "back" +
    "ward")`, `importlib.import_module("torch.autograd")`."""
    own = {qualname.split(".")[0] for qualname in defs if qualname.endswith(".backward")}
    outer = _Scope({k: v for k, v in _AUTOGRAD_ROOTS.items() if aliases.get(k) is None}, aliases)   # as no_loops reads them
    found = []
    for name, body in bodies.items():
        cls = name.split(".")[0] if "." in name else None
        scope = _aliases(body, outer)
        theirs = {id(node.func) for node in _walk(body) if own and isinstance(node, ast.Call)
                  and isinstance(node.func, ast.Attribute) and node.func.attr == "backward" and len(node.args) >= 1}
        for node in _walk(body):
            what = None
            if isinstance(node, ast.Attribute) and node.attr == "backward" and id(node) not in theirs:
                owner = node.value.id if isinstance(node.value, ast.Name) else None
                if not (owner in own or owner in ("self", "cls") and cls in own):
                    what = ".backward()"
            elif isinstance(node, ast.Call) and _qualified(node.func, scope) == "builtins.getattr" and \
                    len(node.args) >= 2 and _text(node.args[1]) == "backward":
                what = ".backward()"
            elif isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)) and \
                    (_qualified(node, scope) or "").startswith(_AUTOGRAD_MODULES):
                what = _qualified(node, scope)
            elif isinstance(node, ast.Name) and (node.id in names or node.id in ("autograd", "functorch")):
                what = f"{node.id} (autograd)"
            elif isinstance(node, (ast.Import, ast.ImportFrom)) and _imports_autograd(node):
                what = f"an import of {node.module if isinstance(node, ast.ImportFrom) else node.names[0].name}"
            if what:
                found.append((node.lineno, what, name))
    return found

"""Judging one case: what the student's call came to, against the reference's, into a CaseResult.

    >>> result = judge_case(spec, fn, case, expected, outcome, import_errors={})
    >>> result.status, result.message
    ('failed', "grads['W2'][3, 1]: expected 0.0123, got -0.0456 (relative error 4.7, tolerance 1e-06)")

Everything here runs in the trusted process on decoded plain data (grader/run/outcome.py). A case fails
on a wrong output (compare.py, leaf by leaf), a false property (properties.py) or an input
changed in place; it is not judged when a step before the graded one (the student's own forward,
whose cache the backward is graded on) failed or returned something wrong, and then the case
says so and names that function instead of blaming this one (`blocked_by`). A wrong answer that
equals a catalogued mistake's is given its sentence; otherwise localise.py may say where it is wrong.
"""
from __future__ import annotations

import math
import re

import numpy as np

from grader import values
from grader.cases import Case
from grader.judge import compare, hints, localise, properties, regularization, scale
from grader.results import (CRASHED, ERROR, FAILED, HIDDEN, NOT_IMPLEMENTED, PASSED, TIMEOUT, UNIMPORTED, CaseResult,
                            OutputCheck)
from grader.run.outcome import Outcome, Raised
from grader.run.protocol import ANSWER_CAP
from grader.spec import AssignmentSpec, FunctionSpec

MAX_DIAGNOSES = 2                    # mistakes named for one answer, when several explain it


def judge_case(spec: AssignmentSpec, fn: FunctionSpec, case: Case, expected: Outcome, outcome: Outcome,
               import_errors: dict, mistakes=None, files: dict | None = None, named: dict | None = None) -> CaseResult:
    """The CaseResult of one case. `expected` is the reference's outcome on it; `files` names the
    file of each module that does not come from `<module>.py` (a notebook). Into `named`, when
    given, go the explanations of a wrong answer, all of them (`diagnoses`), under the case's id:
    what `narrow` chooses among with the function's other cases."""
    files = files or {}
    steps = fn.steps_for(case.spec)
    if outcome.status != "returned":
        result = _not_returned(spec, fn, case, outcome, steps, import_errors, files)
        if result.status in (FAILED, ERROR) and not result.blocked_by and mistakes is not None:
            _mark_unwritten(result, unwritten(fn, outcome, mistakes.starter(fn, case), expected.outputs))
        raised = Raised.of(outcome)
        if raised is not None and mistakes is not None and not result.blocked_by:
            _diagnosed(result, _unique([(frozenset([name]), sentence) for name, sentence, theirs
                                        in mistakes.candidates(fn, case) if theirs == raised]), named)
        return result
    framework = spec.framework
    by_output = _compared(framework, fn, expected, outcome)
    checks: list[OutputCheck] = [c for verdicts in by_output.values() for c in verdicts]
    blocked = _blocked(fn, by_output)
    if blocked:
        return _case(fn, case, ERROR, blocked[1], blocked_by=blocked[0], outputs=checks, stdout=outcome.stdout,
                     duration=outcome.duration)
    if fn.properties and all(c.ok for c in checks):
        verdicts = failing_properties(fn, case, outcome.outputs, expected.outputs, verdicts=True)
        blocking = {f"property {p.name}": p.blocks for p in fn.properties if p.blocks}
        wrong = next((c for c in verdicts if not c.ok and c.name in blocking), None)
        if wrong is not None:          # what the other function made is wrong: this one is not judged
            return _case(fn, case, ERROR, f"not judged: {wrong.message} (see {blocking[wrong.name]}'s cases)",
                         blocked_by=blocking[wrong.name], outputs=checks + verdicts, stdout=outcome.stdout,
                         duration=outcome.duration)
        checks += verdicts
    failing = [c for c in checks if not c.ok]
    before = _changed_before(steps, outcome) if failing else None
    if before:                         # what this function was handed is not the case's: not judged here
        other, path = before
        return _case(fn, case, ERROR, f"not judged: your {other} changes its input {path} in place, and {fn.name}'s "
                     f"case goes on with it changed (a cache that keeps {path} keeps the changed values): fix "
                     f"{other} first (see its own cases)", blocked_by=other, outputs=checks,
                     stdout=outcome.stdout, duration=outcome.duration)
    mutated = [] if "no_input_mutation" not in fn.checks else changed_inputs(fn, steps, outcome)
    message = ""
    if failing:
        # An output of the wrong type, dtype or shape, or not finite, first: it often explains the
        # others' values (a float16 dW, and a loss off by 2e-4).
        first = next((c for c in failing if wrong_form(c)), failing[0])
        others = [_briefly(c) for c in failing if c is not first]
        message = first.message + (f" (also wrong: {('; ' if any(', ' in o for o in others) else ', ').join(others)})"
                                   if others else "")
    if mutated:                        # said after a wrong value too: `X -= X.mean(0)` is often why it is wrong
        first = mutated[0]
        copy = f"{first} = {first}.{'clone' if framework == 'torch' else 'copy'}()"
        changed = f"changed its input{'s' if len(mutated) > 1 else ''} {', '.join(mutated)} in place"
        advice = f"work on copies (e.g. {copy}) or write new arrays"
        # With right values, say so: an eighth students' round lost a function's every case and check to
        # this alone, and was not told that one copy would give them all back.
        message = f"{message}; it also {changed}: {advice}" if message else \
            f"{fn.name} {changed}; {advice}. What it returns is right: this is all that is wrong here"
    status = FAILED if (failing or mutated) else PASSED
    result = _case(fn, case, status, message, outputs=checks, stdout=outcome.stdout, duration=outcome.duration)
    if failing and mistakes is not None:
        judged = any(c.name.startswith("property ") for c in checks)     # properties are judged on a sound answer only
        broken = {c.name for c in failing if c.name.startswith("property ")} if judged else None
        _diagnosed(result, diagnoses(fn, case, outcome.outputs, broken, mistakes, expected.outputs), named)
        _mark_unwritten(result, unwritten(fn, outcome, mistakes.starter(fn, case), expected.outputs))
    if not result.diagnosis:
        result.details = hinted(fn, expected, outcome, by_output, case=case)
    return result


def wrong_form(check: OutputCheck) -> bool:
    """Whether a failing output came back in the wrong type, dtype or shape, or not finite: no
    relative error was measured (a property's verdict has none either, and is not one)."""
    return not check.ok and check.max_rel_error is None and not check.name.startswith("property ")


def _briefly(check: OutputCheck) -> str:
    """Another wrong output of a case, after the first's message: a single number with what was
    expected and what came back (adam's `config['t']: expected 6, got 7` says more than next_w's
    values), anything else by its name."""
    head = check.message.split(" (", 1)[0]
    if check.worst_index == [] and head.startswith(f"{check.name}: expected ") and len(head) <= 120:
        return head
    return check.name


def _diagnosed(result: CaseResult, found: list, named: dict | None) -> None:
    """A case's explanations (`diagnoses`) said in its result, and kept in `named` for `narrow`."""
    result.diagnosis = said(found)
    if named is not None and found:
        named[result.case_id] = found


def _compared(framework: str, fn: FunctionSpec, expected: Outcome, outcome: Outcome) -> dict:
    """{output name: its OutputChecks}: each output of the answer compared with the reference's."""
    by_output: dict[str, list[OutputCheck]] = {}
    for out in fn.outputs:
        inner = frozenset(o.path[len(out.path):] for o in fn.outputs
                          if o is not out and o.path[:len(out.path)] == out.path)
        shown = values.show(out.path, expected.via.get(out.name))
        by_output[out.name] = compare.compare_tree(shown, out.kind, framework, expected.outputs[out.name],
                                                   outcome.outputs[out.name], out.rtol or fn.rtol, out.atol or fn.atol,
                                                   dtype=out.dtype, values=out.compare, skip=inner,
                                                   float32_code=outcome.float32_code)
    return by_output


def hinted(fn: FunctionSpec, expected: Outcome, outcome: Outcome, by_output: dict | None = None,
           framework: str = "", case: Case | None = None) -> str:
    """The hints for a wrong answer that has no diagnosis, as the case's details: outputs swapped,
    the rows or columns that are wrong, where a NaN or an inf came from. `by_output` is _compared's
    (made again from `framework` when None); `case` gives its label vectors (`localise.describe`)."""
    if by_output is None:
        by_output = _compared(framework, fn, expected, outcome)
    wrong_values = [c for verdicts in by_output.values() for c in verdicts if not c.ok]
    if not wrong_values:
        return ""
    swapped = _swapped(fn, expected.outputs, outcome.outputs, case)
    # A wrong number (the loss) makes the arrays after it wrong too: their wrong or right rows say
    # where the numbers fell (a unit dropout zeroed), not where a mistake is.
    numbers = {values.show(o.path, expected.via.get(o.name)) for o in fn.compared if o.kind == "scalar"}
    lines = not any(c.name in numbers for c in wrong_values)
    labels = case.args if case is not None else {}      # localise.describe takes the 1-D integer ones
    # Where the values were judged: an output of the wrong dtype or shape has no wrong columns.
    tips = [swapped] if swapped else [_localise(fn, expected, outcome, c, labels, lines) for c in wrong_values
                                      if c.max_rel_error is not None or c.worst_index is not None]
    tips.append(localise.not_finite(
        [(c.name, c.got) for c in wrong_values if c.got is not None and not math.isfinite(c.got)
         and c.expected is not None and math.isfinite(c.expected)],
        [values.show(o.path) for o in fn.compared if by_output.get(o.name) and all(c.ok for c in by_output[o.name])]))
    return "\n".join(f"Hint: {h}" for h in tips if h)


def failing_properties(fn: FunctionSpec, case: Case, outputs: dict, expected: dict, verdicts: bool = False,
                       shares: bool = False):
    """The properties `outputs` break on this case: their OutputChecks (with `verdicts`, all of
    them, passing ones too), the set of their names, or (`shares`) {name: (share of entries broken,
    entries)}."""
    ns = properties.namespace(case.dims, case.args, {name: values.plain(tree) for name, tree in outputs.items()},
                              {name: values.plain(tree) for name, tree in expected.items()})
    if shares:
        return properties.broken_shares(fn.properties, ns)
    judged = properties.judge(fn.properties, ns)
    return judged if verdicts else {c.name for c in judged if not c.ok}


def _broken_alike(mine: dict, theirs: dict) -> bool:
    """Whether two answers break the same properties the same way: the same ones, each at shares
    of its entries that chance could make equal (a random mask drops other units in each). Dropout's
    backward that forgets 1/p breaks "dx is dout times the mask" at the kept units only, 60% of them;
    one that returns dout unchanged breaks it everywhere."""
    if mine.keys() != theirs.keys():
        return False
    for name, (a, n) in mine.items():
        b, m = theirs[name]
        pooled = (a * n + b * m) / (n + m)
        spread = math.sqrt(max(pooled * (1 - pooled), 0.0) * (1 / n + 1 / m))
        if abs(a - b) > 5 * spread + 1 / min(n, m):
            return False
    return True


def _blocked(fn: FunctionSpec, by_output: dict) -> tuple[str, str] | None:
    """(function, message) when an output bound by another graded function's step is wrong: this
    function is graded on what that one returned, so it is not judged here."""
    for out in fn.outputs:
        if not out.setup:
            continue
        wrong = [c for c in by_output.get(out.name, []) if not c.ok]
        if wrong:
            return out.setup, (f"not judged: your {out.setup} is wrong on this case ({wrong[0].message}), and "
                               f"{fn.name} is graded on what it returns: fix {out.setup} first (see its own cases)")
    return None


def _not_returned(spec: AssignmentSpec, fn: FunctionSpec, case: Case, outcome: Outcome, steps: tuple,
                  import_errors: dict, files: dict) -> CaseResult:
    status, stdout, duration = outcome.status, outcome.stdout, outcome.duration
    module_file = files.get(fn.module, f"{fn.module}.py")
    step = steps[outcome.step] if outcome.step is not None and 0 <= outcome.step < len(steps) else None
    first = next((i for i, s in enumerate(steps) if s.graded), len(steps))
    setup = step is not None and outcome.step < first          # a step run before the function's own
    after = step is not None and outcome.step > first and not step.graded     # one using what it made
    other = ""                                                  # the function a failing setup step is in
    if setup:
        other = step.calls or _qualname(step.callee, steps) or step.callee or _maker(step, steps) or fn.name
        setup = other != fn.name                                # a step of its own (`model.params = ...`)
    if status == "import_error":
        module = outcome.module or fn.module
        err = import_errors.get(module) or outcome.error or {}
        mfile = files.get(module, f"{module}.py")
        if err.get("kind") in ("notebook", "refused"):      # the grader's own words about the files
            return _case(fn, case, ERROR, str(err.get("message")))
        if err.get("kind") == "missing_module":
            return _case(fn, case, ERROR, f"{mfile} not found in the submission")
        return _case(fn, case, ERROR, f"{mfile}{UNIMPORTED}{_exception_line(err)}", _where(err))
    if status == "missing_function":
        name = _qualname(outcome.name, steps) or fn.name
        if after:                                    # a method the steps call on what the function made
            return _case(fn, case, ERROR, f"what {fn.name} made has no {name.split('.')[-1]} (`{step.text}`)")
        message = (outcome.error or {}).get("message") or f"{name} is not defined in {module_file}"
        if name != fn.name and setup:
            message += f" ({fn.name}'s cases call it first: `{step.text}`)"
        return _case(fn, case, ERROR, message, blocked_by=name if name != fn.name and setup else "")
    # The worker stopped it at a limit of its own (disk), and said so.
    stopped = str(outcome.error.get("message", "")) if outcome.error.get("kind") == "limit" else ""
    if status in ("import_timeout", "import_crashed"):
        what = f"did not finish within {spec.limits.import_timeout:g} s" if status == "import_timeout" else \
            f"was stopped: {stopped}" if stopped else "stopped the worker (sys.exit, os._exit or a crash at import time?)"
        advice = ("Code at the top level of a file runs when the grader imports it: put training runs, data "
                  "loading and experiments under `if __name__ == \"__main__\":` (a notebook's cells that are not "
                  "definitions or imports are not run)." if status == "import_timeout" else "")
        return _case(fn, case, TIMEOUT if status == "import_timeout" else CRASHED,
                     f"importing {', '.join(dict.fromkeys(files.get(m, m + '.py') for m in spec.modules))} {what}",
                     advice, stdout=stdout)
    if status == "timeout":
        if setup:
            return _case(fn, case, TIMEOUT, f"not judged: `{step.text}`, which {fn.name}'s cases run first, did not "
                                            f"finish within {spec.limits.case_timeout:g} s: fix {other} first",
                         stdout=stdout, blocked_by=other)
        return _case(fn, case, TIMEOUT, f"{fn.name} did not finish within {spec.limits.case_timeout:g} s "
                                        "(an infinite loop, or much slower than needed?)", stdout=stdout)
    if status == "skipped_after_timeout":
        return _case(fn, case, TIMEOUT, f"not run: {fn.name} already timed out on an earlier case")
    if status == "crashed":
        if stopped:
            who = f"`{step.text}`, which {fn.name}'s cases run first" if setup else fn.name
            return _case(fn, case, CRASHED, f"{who}: {stopped}", stdout=stdout, blocked_by=other if setup else "")
        if setup:
            return _case(fn, case, CRASHED, f"not judged: `{step.text}`, which {fn.name}'s cases run first, stopped "
                                            f"the worker (a crash, os._exit, or the {_size(spec.limits.memory)} memory "
                                            f"limit): fix {other} first", stdout=stdout, blocked_by=other)
        return _case(fn, case, CRASHED, f"{fn.name} stopped the worker running it (a crash, os._exit, or the "
                                        f"{_size(spec.limits.memory)} memory limit)", stdout=stdout)
    if status == "exception":
        err = outcome.error
        not_written = err.get("type") == "NotImplementedError"
        exception = str(err.get("type") or "an exception")
        where = str(err.get("qualname") or "")         # the student's function that raised, when known
        if after:
            return _case(fn, case, ERROR, f"what {fn.name} made fails in `{step.text}`: {_exception_line(err)}",
                         _where(err), stdout=stdout, duration=duration, exception=exception)
        if setup:
            other = where if not_written and where else other
            head = (f"not judged: your {other} is not implemented yet, and {fn.name}'s cases start with it "
                    f"(`{step.text}`)") if not_written else \
                (f"not judged: `{step.text}`, which {fn.name}'s cases run first, raised {_exception_line(err)}; "
                 f"fix {other} first")
            return _case(fn, case, NOT_IMPLEMENTED if not_written else ERROR, head, _where(err), stdout=stdout,
                         duration=duration, exception=exception, blocked_by=other)
        st = NOT_IMPLEMENTED if not_written else ERROR
        if st == NOT_IMPLEMENTED and where and where != fn.name and "<" not in where:
            head = f"{fn.name} calls {where}, which is not implemented yet"
        elif st == NOT_IMPLEMENTED:
            head = f"{fn.name} is not implemented yet"
        else:
            head = f"{fn.name} raised {_exception_line(err)}"
        made = _none_from_another(fn, step, steps, err) if st == ERROR and step is not None else ""
        return _case(fn, case, st, head, "\n".join(x for x in (_where(err), made) if x), stdout=stdout,
                     duration=duration, exception=exception)
    if status == "too_large":
        return _case(fn, case, FAILED, f"{fn.name} returned {outcome.returned or '?'}: more than the "
                                       f"{_size(ANSWER_CAP)} an answer may take; expected "
                                       f"{', '.join(o.name for o in fn.outputs)}, of the sizes in the assignment",
                     stdout=stdout, duration=duration)
    if status == "bad_return":
        names = _targets(step) if step is not None else [o.name for o in fn.outputs]
        who = other if setup else fn.name
        message = (f"{who} returned {outcome.returned or '?'}; expected {len(names)} value{'s' if len(names) > 1 else ''} "
                   f"({', '.join(names)})")
        if setup:
            return _case(fn, case, ERROR, f"not judged: {message}, in `{step.text}`, which {fn.name}'s cases run first",
                         stdout=stdout, duration=duration, blocked_by=who)
        # None: the end of the function reached with no `return` (a TODO's `pass`, a return indented into a loop)
        why = (f"Hint: {fn.name} ended without returning anything: is its `return` missing, or does it stop early "
               "(a `pass` left from the handout, a `return` inside an `if` or a loop that did not run)?"
               if outcome.returned == "None" else "")
        return _case(fn, case, FAILED, message, why, stdout=stdout, duration=duration)
    if status == "invalid":
        return _case(fn, case, CRASHED, "the worker sent an invalid report for this case")
    return _case(fn, case, CRASHED, f"unexpected report from the worker ({status!r})")


def _none_from_another(fn: FunctionSpec, step, steps: tuple, err: dict) -> str:
    """A hint where the function raised about a None and one of its arguments comes from another graded
    function, run before it (`out, cache = layernorm_forward(...)`): a forward that never stores its
    cache returns None for it, and the backward, right, raises on it (a thirteenth students' round was
    sent to the backward). "" otherwise."""
    code = str(err.get("code") or "").split("#", 1)[0]          # (a name in a comment says nothing)
    message = str(err.get("message", ""))
    if "NoneType" not in message or not code:
        return ""
    for other in steps:
        if other is step or other.graded or not other.calls or other.calls == fn.name:
            continue
        # given to this call, and what the error is about on the line that raised: unpacked (`x_hat, std,
        # gamma = cache`), indexed (`cache[0]`) or an attribute taken (`cache.shape`); not the student's own
        # variable still None (a nineteenth red team's `dx.shape`, with `cache` beside it on the line)
        given = [name for name in other.binds if name in step.reads and _none_is(name, code, message)]
        if given:
            names = " or ".join(f"`{name}`" for name in given)
            return (f"Hint: {names} {'is' if len(given) == 1 else 'are'} what your {other.calls} returned "
                    f"(`{other.text}`, run before this call), and the error is about a None: does {other.calls} "
                    f"return {names.replace(' or ', ' and ')} as it should (a forward that never sets its cache "
                    "returns None for it)?")
    return ""


def _none_is(name: str, code: str, message: str) -> bool:
    """Whether a NoneType error's message, on this line of code, is about `name`."""
    n = re.escape(name)
    if "cannot unpack non-iterable NoneType" in message:
        return re.search(rf"=\s*{n}\s*$|\bin\s+{n}\s*:", code.strip()) is not None
    if "'NoneType' object is not subscriptable" in message:
        return re.search(rf"\b{n}\s*\[", code) is not None
    attribute = re.search(r"'NoneType' object has no attribute '(\w+)'", message)
    if attribute:
        return re.search(rf"\b{n}\s*\.\s*{attribute.group(1)}\b", code) is not None
    return False


def _targets(step) -> list[str]:
    for target in step.targets:
        if target[0] == "unpack":
            return list(target[1])
        if target[0] == "name":
            return [target[1]]
    return []


def _maker(step, steps: tuple) -> str:
    """The class whose object a step that calls nothing works on (`model.params = ...` on a model that
    `model = TwoLayerNet(...)` made), or ""."""
    reads = [name for name in step.reads if any(name in s.binds and s.callee for s in steps)]
    for s in steps:
        if reads and reads[0] in s.binds and s.callee and len(s.binds) == 1:
            return s.callee
    return ""


def _qualname(dotted: str, steps: tuple) -> str:
    """A step's callee as the student writes it: `model.loss` on `model = TwoLayerNet(...)` is TwoLayerNet.loss."""
    if not dotted:
        return ""
    root, _, rest = dotted.partition(".")
    for s in steps:
        if root in s.binds and s.callee and len(s.binds) == 1:
            return f"{s.callee}.{rest}" if rest else s.callee
    return dotted


def _localise(fn: FunctionSpec, expected: Outcome, outcome: Outcome, check: OutputCheck, labels: dict,
              lines: bool) -> str:
    """Where one wrong leaf is wrong (a constant factor, a transposed matrix...), when it says."""
    for out in fn.compared:
        base = values.show(out.path, expected.via.get(out.name))
        if not check.name.startswith(base):
            continue
        for path, leaf in values.leaves(expected.outputs[out.name]):
            name = base + values.subscripts(path)
            if name != check.name or not leaf.is_number:
                continue
            try:
                got = values.at(outcome.outputs[out.name], path)
            except KeyError:
                return ""
            if getattr(got, "is_number", False):
                return localise.describe(name, leaf.array, got.array, out.rtol or fn.rtol, out.atol or fn.atol,
                                         labels=labels, lines=lines, float32_code=outcome.float32_code)
    return ""


def _swapped(fn: FunctionSpec, expected: dict, got: dict, case: Case | None = None) -> str:
    """A hint when what the graded function returns came back in another order, each of a shape of
    its own: (dW, loss), or affine_backward's (dw, dx, db). The order is its step's, `dx, dw, db =
    affine_backward(dout, cache)`, where every name it binds is an output compared."""
    steps = fn.steps_for(case.spec) if case is not None else fn.steps
    graded = [s for s in steps if s.graded]
    targets = graded[0].targets if len(graded) == 1 else ()
    if len(targets) != 1 or targets[0][0] != "unpack":
        return ""
    by_path = {tuple(o.path): o for o in fn.compared}
    outs = [by_path.get((name,)) for name in targets[0][1]]
    if len(outs) < 2 or None in outs:
        return ""
    e = [expected.get(o.name) for o in outs]
    g = [got.get(o.name) for o in outs]
    if not all(getattr(x, "is_number", False) for x in e + g):
        return ""
    want = [x.array.shape for x in e]
    if len(set(want)) != len(want):
        return ""
    order = [want.index(x.array.shape) if x.array.shape in want else None for x in g]
    if None in order or sorted(order) != list(range(len(outs))) or order == sorted(order):
        return ""
    names = [o.name for o in outs]
    return (f"{fn.name} seems to return ({', '.join(names[k] for k in order)}); "
            f"return ({', '.join(names)}), in that order")


def diagnose(fn: FunctionSpec, case: Case, got: dict, broken: set | None, mistakes, expected: dict) -> str:
    """What explains the student's wrong answer on this case, as a sentence, or "" (`diagnoses`)."""
    return said(diagnoses(fn, case, got, broken, mistakes, expected))


def said(found: list) -> str:
    """The sentence of a case's explanations (`diagnoses`): the first MAX_DIAGNOSES, joined by " Or: "."""
    return " Or: ".join(sentence for _, sentence in found[:MAX_DIAGNOSES])


def diagnoses(fn: FunctionSpec, case: Case, got: dict, broken: set | None, mistakes, expected: dict) -> list:
    """What explains the student's wrong answer on this case: (the catalogued mistakes it names, a
    frozenset; its sentence) for each explanation, [] for none.

    First each catalogued mistake that explains it (see `explains`): several may, as a random
    dropout mask is judged by properties only, and two mistakes that break the same ones on a small
    input cannot be told apart there. Failing that, beyond the catalogue: outputs left as the
    handout's starter code has them while the others are right; a regularization term with the
    wrong factor in some output (regularization.py); two catalogued mistakes at once; an output's
    data part with a usual factor off, such as N when it is never divided by N (scale.py); a
    catalogued mistake made in some outputs only (`partly`)."""
    candidates = mistakes.candidates(fn, case)
    if broken is not None:        # how much of each property the answer breaks, beside which ones
        broken = failing_properties(fn, case, got, expected, shares=True) if broken else {}
    near = _near(fn, got, [outputs for _name, _sentence, outputs in candidates])
    found = [(frozenset([name]), sentence) for (name, sentence, outputs), maybe in zip(candidates, near)
             if maybe and explains(fn, case, got, broken, outputs, expected)]
    if not found and _overflowed(fn, got, expected):
        # NaN where the catalogued overflow has inf, or the other way round: the same overflow
        # written another way (exp(s) / exp(s).sum() is inf / inf; log(sum(exp(s))) is log(inf)).
        found = [(frozenset([name]), sentence) for (name, sentence, outputs), maybe in zip(candidates, near)
                 if maybe and explains(fn, case, got, broken, outputs, expected, alike=True)]
        if not found and not fn.properties:
            # exp(x) / exp(x).sum() makes dx NaN too, where the catalogued log-softmax overflow keeps
            # it finite: what follows an overflow is NaN throughout, whatever it would have been.
            found = [(frozenset([name]), sentence) for name, sentence, outputs in candidates
                     if _overflow_spread(fn, got, outputs, expected)]
    if found:
        return _unique(found)
    starter = mistakes.starter(fn, case)
    unwritten = _unwritten_outputs(fn, got, expected, starter.outputs) if starter is not None and starter.ok else []
    if unwritten:
        names = " and ".join(f"`{values.show(fn.output(n).path)}`" for n in unwritten)
        shown = _starting_values(fn, starter.outputs, unwritten)
        return [(frozenset(), f"{names} {'is' if len(unwritten) == 1 else 'are'} still what the handout's starting code returns"
                              f"{f' ({shown})' if shown else ''}, and the rest is right: that part is not "
                              "written yet, or what it computes is not stored there.")]
    unregularized = mistakes.unregularized(fn, case)
    factors = regularization.factors(fn, got, expected, unregularized, case.dims) if unregularized is not None else None
    if factors:
        return [(frozenset(), regularization.describe(fn, factors, case.dims, exact=case.spec.visibility != HIDDEN))]
    # Two mistakes at once. A pair of a mistake that, alone, changes an output the student got right
    # and one that leaves it (and every other right one) as it should be is not run: together they
    # change it too. Two that each change it are run: one may undo the other there (the velocity's
    # sign flipped, then subtracted from w: next_w is right). A student with the loss right and the
    # gradient wrong, the usual case, so needs fewer pairs run on the function's cases:
    # benchmarks/batch.py's unaveraged dW, about half of svm_loss_naive's 120 (1.2 s of a batch's
    # start on two workers, before).
    right = [out for out in fn.compared if _same_output(fn, out, got, expected)] if not fn.properties else []
    changing = {name: any(not _same_output(fn, out, outputs, expected) for out in right)
                for name, _sentence, outputs in candidates if isinstance(outputs, dict)}

    def may_explain(parts: tuple) -> bool:
        alone = [changing.get(p) for p in parts]     # None: raised alone, or its edits need the other's
        return None in alone or alone[0] == alone[1]
    pairs = mistakes.composed(fn, case, keep=may_explain if right else None)
    found = [(frozenset(pair.parts), pair.sentence)
             for (pair, outputs), maybe in zip(pairs, _near(fn, got, [outputs for _pair, outputs in pairs]))
             if maybe and explains(fn, case, got, broken, outputs, expected)
             and not any(isinstance(p, dict) and matches(fn, outputs, p) for p in mistakes.parts(pair, fn, case))]
    if found:
        return _unique(found)
    scaled = scale.scales(fn, got, expected, unregularized, case.dims)
    if scaled:
        return [(frozenset(), scale.describe(fn, scaled, case.dims, exact=case.spec.visibility != HIDDEN))]
    found, correct = [], {out.name: _same_output(fn, out, got, expected) for out in fn.compared}
    for name, sentence, outputs in candidates:
        theirs = partly(fn, got, outputs, expected, correct)
        if theirs:
            shown = lambda outs: " and ".join(f"`{values.show(fn.output(n).path)}`" for n in outs)
            names, rights = shown(theirs), shown([o.name for o in fn.compared if o.name not in theirs])
            one = len(theirs) == 1
            # The mistake's sentence may speak of outputs that are right here ("divide both by N"):
            # said as the part of it that applies (an eleventh students' round found the old wording hard to read).
            found.append((frozenset([name]), f"Only {names} {'is' if one else 'are'} wrong, exactly as this mistake "
                                             f"makes {'it' if one else 'them'}; "
                                             + (f"your {rights} {'is' if ' and ' not in rights else 'are'} right, so only "
                                                f"what this says of {names} applies: " if rights else "")
                                             + sentence))
    if not found:
        found = _mistake_and_factor(fn, case, got, expected, unregularized, candidates, correct)
    if not found:
        found = _mistake_and_more(fn, got, expected, candidates, correct)
    return _unique(found)


def _mistake_and_more(fn: FunctionSpec, got: dict, expected: dict, candidates: list, correct: dict) -> list:
    """A catalogued mistake made whole in some outputs, and other outputs, which that mistake leaves
    as they should be, wrong besides for a reason the grader does not know: a students' round
    cropped conv_backward's padding with [P:-P] (catalogued: dx empty where P is 0) and also summed
    dw's windows without dout. Each output the mistake changes must be the mistake's in the
    student's answer (finite), and each wrong output of the student's either that or one the
    mistake does not change, finite in the student's answer and the reference's; and no other
    mistake explains another part of the answer so. Not for a function judged by properties,
    whose outputs say less."""
    if fn.properties:
        return []
    found, parts = [], set()
    for name, sentence, outputs in candidates:
        if not isinstance(outputs, dict):
            continue
        theirs, besides = [], []
        for out in fn.compared:
            mistaken = not _same_output(fn, out, outputs, expected)
            if mistaken and not correct.get(out.name, True) and _same_output(fn, out, got, outputs) \
                    and (_some_finite(got[out.name]) or _all_empty(got[out.name])):
                theirs.append(out.name)
            elif not mistaken and not correct.get(out.name, True) and _all_finite(got[out.name]) \
                    and _all_finite(expected[out.name]):
                besides.append(out.name)     # (a NaN or inf may be what the mistake's overflow spread to: not "besides")
            elif mistaken:
                break                    # the mistake changes it, and the student's is not the mistake's
        else:
            if theirs and besides:
                parts.add(tuple(theirs))
                shown = [f"`{values.show(fn.output(n).path)}`" for n in besides]
                found.append((frozenset([name]), f"{sentence} That is what makes "
                              f"{' and '.join(f'`{values.show(fn.output(n).path)}`' for n in theirs)} wrong; "
                              f"{' and '.join(shown)} {'is' if len(shown) == 1 else 'are'} wrong besides, for another "
                              "reason, which this mistake does not change."))
    # One mistake for dx and another for dgamma, each with the other output "wrong besides": one
    # mistake of the student's that the catalogue does not have, which changes both (a ninth students'
    # round unpacked batchnorm's cache out of order: its dx is x_hat-in-place's, its dgamma another's).
    return found if len(parts) <= 1 else []


def _mistake_and_factor(fn: FunctionSpec, case: Case, got: dict, expected: dict, unregularized: dict | None,
                        candidates: list, correct: dict) -> list:
    """A catalogued mistake and, besides, a factor off (scale.py, against the mistake's answer): a
    students' round counted the correct class in the margins' mask and divided dW by D where N was
    meant; another did not reset the softmax's normaliser and did not average dW. Named only where
    the mistake shows in an output the student got wrong, every output with a factor off is wrong,
    and a single number (a loss) is off by no factor that an array of the call is not off by too: a
    factor that undoes the mistake ("not averaged", then 1/N of that) is no second mistake.

    The factor is one of the data part, with the regularization term as the reference has it, or
    of the whole output; and the mistake is not one of the regularization term's (its answer less
    the term is then no data part of its own: with the term halved, -1 times that and no term is
    the data part's sign flipped and the term halved, which scale.py says in its own words)."""
    found, numbers = [], scale.output_numbers(fn, got, expected, unregularized)
    for name, sentence, outputs in candidates if numbers is not None else ():
        theirs = scale.against(fn, numbers, outputs, expected) if isinstance(outputs, dict) else None
        if theirs is None or not all(_roughly_scaled(*theirs[out.name], out.rtol or fn.rtol) for out in fn.compared):
            continue
        off = scale.fitted(fn, got, theirs, case.dims)
        if not off or any(correct.get(n, True) or b not in (1.0, a) for n, (a, b) in off.items()):
            continue
        if unregularized is not None and regularization.factors(fn, outputs, expected, unregularized, case.dims):
            continue                 # the regularization term's own mistake
        if not any(not correct.get(out.name, True) and not _same_output(fn, out, outputs, expected) for out in fn.compared):
            continue                 # the mistake does not show where the student is wrong
        arrays = {a for n, (a, _) in off.items() if numbers[n][0].size > 1}
        if any(numbers[n][0].size == 1 and a not in arrays for n, (a, _) in off.items()):
            continue
        second = scale.describe(fn, off, case.dims, exact=case.spec.visibility != HIDDEN, alone=False)
        found.append((frozenset([name]), f"two mistakes at once. (1) {sentence} (2) Besides that, {second}"))
    return found


def _roughly_scaled(s: np.ndarray, m: np.ndarray, m0: np.ndarray, rtol: float) -> bool:
    """Whether the student's numbers s could be a multiple of a mistake's data part m0 plus the
    term (m - m0), or of its whole answer m: the least-squares multiple leaves a residual near the
    tolerance. A single number is always some multiple; so is a vector that is one already. Cheap,
    and loose (scale.fitted then judges exactly): most mistakes are none of this, and each is tried
    on every case nothing else explained."""
    if s.size < 2:
        return True
    for x, y in ((s - (m - m0), m0), (s, m)):
        yy = float(y @ y)
        if yy and float(np.linalg.norm(x - (x @ y) / yy * y)) <= (100 * rtol + 1e-9) * float(np.linalg.norm(x)) + 1e-300:
            return True
    return False


def _unique(found: list) -> list:
    """The explanations, each sentence once (two mistakes may say the same), first first."""
    seen: dict = {}
    for keys, sentence in found:
        seen[sentence] = seen.get(sentence, frozenset()) | keys
    return [(keys, sentence) for sentence, keys in seen.items()]


def narrow(fn: FunctionSpec, named: dict, judged: dict | None = None, mistakes=None) -> dict:
    """The explanations of one function's wrong answers ({case id: diagnoses}) that its other cases
    bear out: {case id: the explanations kept}, for the cases where some were dropped. A student
    makes the same mistake in every case, and a small case can make another mistake's numbers.

    - Contradicted, and dropped: a catalogued mistake named on one case, where on another case
      whose answer was judged (`judged`: {case id: (Case, the reference's outputs, the student's)},
      the cases that passed or failed with an answer) it would have shown (its answer there is not
      the reference's) and the student's answer there is right, or wrong and unexplained, or
      explained by other catalogued mistakes only (not by a factor or a regularization term, which
      may be the same mistake said another way), and finite where the reference is (a NaN from an
      overflow hides what else is wrong: it contradicts nothing). An overflow matched on a case is
      kept whatever the others say: a shift by the mean instead of the maximum overflows on one
      case and passes another, where no shift at all would overflow.
    - Unlike, and dropped: a catalogued mistake named on one case by shapes alone (the outputs wrong
      there are empty), that gives the reference's answer on another, where the student's answer is
      wrong, unexplained and finite, in an output wrong on the first case too: what the student did
      is something else, which looked like it there.
    - Not all: a factor, a term or the starter's values said of a case (no catalogued mistake) where
      another case is wrong in the same outputs, unexplained, in a way no factor or starter's value
      makes (`_factors_or_starter`), says so.
    - Of several explanations left for a case, those that name most of the mistakes found alone in
      the function's other cases: where the loss overflows to inf, a gradient's 1/2 cannot tell
      whether the loss had the 1/2 too, which the cases with a finite loss say."""
    kept: dict = {}
    if judged and mistakes is not None:
        answers: dict = {}           # case id -> {mistake: its answer there}
        wrongs: dict = {}            # case id -> the student's outputs wrong there

        def theirs(keys: frozenset, case_id: str) -> list:
            """The answers of the mistakes in `keys` on this case (None for one not run there)."""
            if case_id not in answers:
                answers[case_id] = {name: outputs for name, _sentence, outputs in mistakes.candidates(fn, judged[case_id][0])}
            return [answers[case_id].get(name) for name in keys]

        def shows(keys: frozenset, case_id: str) -> bool:
            expected = judged[case_id][1]
            return any(isinstance(t, Raised) or isinstance(t, dict) and not matches(fn, expected, t)
                       for t in theirs(keys, case_id))

        overflowed = {case_id: _overflowed(fn, got, expected) for case_id, (_case, expected, got) in judged.items()}

        def against(keys: frozenset, case_id: str) -> bool:
            found = named.get(case_id, ())
            return not overflowed[case_id] and all(k and not k & keys for k, _ in found)
        def silent(keys: frozenset, case_id: str) -> bool:
            """The mistakes in `keys` all give the reference's answer on this case: they do not show there."""
            expected = judged[case_id][1]
            return all(isinstance(t, dict) and matches(fn, expected, t) for t in theirs(keys, case_id))

        def wrong(case_id: str) -> set:
            if case_id not in wrongs:
                _case, expected, got = judged[case_id]
                wrongs[case_id] = {out.name for out in fn.outputs
                                   if out.name in expected and not _same_output(fn, out, got, expected)}
            return wrongs[case_id]

        def vacuous(keys: frozenset, case_id: str) -> bool:
            """The outputs the mistakes change on this case hold no number in the student's answer: an
            empty array agrees with any other of its shape, and says nothing of how it was made."""
            _case, expected, got = judged[case_id]
            changed = {o.name for o in fn.outputs for t in theirs(keys, case_id)
                       if isinstance(t, dict) and not _same_output(fn, o, t, expected)}
            return bool(changed) and all(_all_empty(got.get(name)) for name in changed)

        def unlike(keys: frozenset, case_id: str, other: str) -> bool:
            """With the mistakes named on `case_id` by shapes alone (`vacuous`): the student's answer is
            wrong on `other`, unexplained, finite, in an output wrong on `case_id` too, where those
            mistakes give the right answer: what the student did is something else (an off-by-one crop,
            empty at pad = 0 as `pad:-pad` is, and wrong at pad = 1, where `pad:-pad` is right). A match
            of numbers stands: a mistake made in train mode and in test mode, where the catalogue's is
            in train mode only, is still that mistake."""
            return not named.get(other) and not overflowed[other] and bool(wrong(case_id) & wrong(other)) \
                and silent(keys, other)
        for case_id, found in named.items():
            if overflowed.get(case_id):
                continue                 # an overflow matched is its own evidence (a shift by the mean passes elsewhere)
            left = [(keys, sentence) for keys, sentence in found
                    if not keys or not any(other != case_id and against(keys, other) and shows(keys, other)
                                           for other in judged)
                    and not (case_id in judged and vacuous(keys, case_id)
                             and any(other != case_id and unlike(keys, case_id, other) for other in judged))]
            if len(left) < len(found):
                kept[case_id] = left
        for case_id, found in named.items():
            # A factor or a term said of this case ("The rest is right"), where another case is wrong
            # besides, in the same outputs, unexplained: the sentence is true here, and not all there is.
            if case_id not in judged or overflowed[case_id] or not found or any(keys for keys, _ in found):
                continue
            besides = [other for other in judged if other != case_id and not named.get(other)
                       and not overflowed[other] and wrong(case_id) & wrong(other)
                       and not _factors_or_starter(fn, judged[other], wrong(other), mistakes)]
            if besides:
                kept[case_id] = [(keys, f"{sentence} (That is of this case: {besides[0]} fails otherwise, which "
                                        "this may not explain; look at it once this is fixed.)") for keys, sentence in kept.get(case_id, found)]
        named = {**named, **kept}
    alone = frozenset().union(*(found[0][0] for found in named.values() if len(found) == 1))
    for case_id, found in named.items():
        if len(found) > 1 and alone:
            shares = [len(keys & alone) for keys, _ in found]
            best = [f for f, share in zip(found, shares) if share == max(shares)]
            if max(shares) and len(best) < len(found):
                kept[case_id] = best
    return kept


def _factors_or_starter(fn: FunctionSpec, judged: tuple, wrong: set, mistakes) -> bool:
    """Whether a case's wrong outputs may be what a factor, a regularization term or the starter
    code's values make of them, however the explanations said it (or could not say it: one number
    fits any factor; a dims' product is not a usual factor): each output the handout's starting code
    returns there, or the reference's times a number (its data part and its term each times one,
    where the term is known), within a loose 1e-3."""
    case, expected, got = judged
    starter = mistakes.starter(fn, case)
    zero = mistakes.unregularized(fn, case) or expected
    for name in wrong:
        out = fn.output(name)
        if starter is not None and starter.ok and _same_output(fn, out, got, starter.outputs):
            continue
        numbers = regularization.flat_numbers(got.get(name), expected.get(name), zero.get(name))
        if numbers is None:
            return False
        s, r, r0 = numbers
        basis = np.stack([r0, r - r0], axis=1) if (r - r0).any() else r[:, None]
        if s.size <= basis.shape[1]:
            continue                     # as many numbers as factors: any fit
        with np.errstate(all="ignore"):
            coef = np.linalg.lstsq(basis, s, rcond=None)[0]
            if not (compare.relative_error(s, basis @ coef, 1e-3, out.atol or fn.atol) <= 1e-3).all():
                return False
    return True


def partly(fn: FunctionSpec, got: dict, outputs, expected: dict, correct: dict | None = None) -> list[str]:
    """The compared outputs in which the student made a mistake that makes others wrong too: each
    wrong output of the student's is the mistake's, and each other one is right where the mistake's
    is not (a loss from a library call, the gradient written by hand). [] when that is not so, and
    for a function judged by properties, whose outputs say less. `correct` ({output name: bool}) says
    which of the student's outputs are right, when the caller knows already.

    An output with no finite number is nobody's in particular: a NaN loss is what an overflow makes,
    and also what log(p - 1) makes, and one NaN equals another. Only an output that agrees with the
    mistake's in some finite numbers is taken as that mistake's."""
    if not isinstance(outputs, dict) or fn.properties:
        return []
    theirs, spared = [], False
    for out in fn.compared:
        mistaken = not _same_output(fn, out, outputs, expected)
        if correct[out.name] if correct is not None else _same_output(fn, out, got, expected):
            spared |= mistaken
        elif mistaken and _same_output(fn, out, got, outputs) and _some_finite(got[out.name]):
            theirs.append(out.name)
        else:
            return []
    return theirs if spared else []


def _numbers(tree) -> list:
    """The arrays of numbers an output holds, leaf by leaf."""
    return [leaf.array for _, leaf in values.leaves(tree) if isinstance(leaf, values.Leaf) and leaf.is_number]


def _all_empty(tree) -> bool:
    """Whether an output is arrays that hold no number, all of them: their shape is what tells (a
    crop [P:-P] of a padding of 0 is empty), where NaN, which many mistakes make, tells nothing."""
    arrays = _numbers(tree)
    return bool(arrays) and all(np.asarray(a).size == 0 for a in arrays)


def _all_finite(tree) -> bool:
    return all(np.isfinite(a).all() for a in _numbers(tree))


def _some_finite(tree) -> bool:
    """Whether an output holds at least one finite number."""
    return any(np.isfinite(a).any() for a in _numbers(tree))


def explains(fn: FunctionSpec, case: Case, got: dict, broken: dict | None, outputs, expected: dict,
             alike: bool = False) -> bool:
    """Does a variant's answer (`outputs`) explain the student's? Its compared outputs equal the
    student's (with `alike`, NaN and inf count as one), and it breaks the same properties when the
    answer was sound enough for them to be judged (`broken`, failing_properties' shares of the
    student's answer; None otherwise): the same ones, at alike shares of their entries.

    A variant that gives the right answer on this case (no max shift, on scores too small to
    overflow; a regularization mistake when reg is 0) says nothing about a wrong one: it does not
    explain it, or a dtype error would be blamed on it."""
    if not isinstance(outputs, dict) or not matches(fn, got, outputs, alike):
        return False
    theirs = failing_properties(fn, case, outputs, expected, shares=True) if fn.properties and broken is not None else {}
    if broken is not None and not _broken_alike(broken, theirs):
        return False
    return bool(theirs) or not matches(fn, expected, outputs)


def unwritten(fn: FunctionSpec, outcome: Outcome, starter: Outcome | None, expected: dict) -> str:
    """When a wrong answer is exactly what the handout's starter code returns (or fails to return),
    the message that says so: the function is not written yet, whatever its numbers; else ""."""
    if starter is None or starter.status != outcome.status:
        return ""
    if outcome.status == "bad_return" and starter.returned == outcome.returned:
        return f"{fn.name} is not implemented yet: it returns {outcome.returned or 'nothing'}, as the handout's code does"
    # A chained case whose first step returned the handout's None, which the next step's own code
    # (the handout's config.setdefault('m', torch.zeros_like(w))) could not take: not the
    # student's TypeError, the handout's.
    if outcome.status == "exception" and outcome.step and starter.step == outcome.step \
            and (starter.error.get("type"), starter.error.get("message")) == (outcome.error.get("type"), outcome.error.get("message")):
        return (f"{fn.name} is not implemented yet: the handout's code fails this case the same way, at step "
                f"{outcome.step + 1} of it ({outcome.error.get('type')}), given what the step before returned")
    if outcome.ok and matches(fn, outcome.outputs, starter.outputs) and not matches(fn, expected, starter.outputs):
        shown = _starting_values(fn, starter.outputs, [o.name for o in fn.compared])
        return (f"{fn.name} is not implemented yet: it returns what the handout's code returns before the TODO is "
                f"written{f' ({shown})' if shown else ''}")
    return ""


def _mark_unwritten(result: CaseResult, message: str) -> None:
    """A failed case whose answer is the starter code's is not a wrong answer but no answer yet."""
    if message:
        result.status, result.message = NOT_IMPLEMENTED, message


def _unwritten_outputs(fn: FunctionSpec, got: dict, expected: dict, starter: dict) -> list[str]:
    """The compared outputs that are still the starter code's (and wrong), when every other one is right."""
    left, right = [], 0
    for out in fn.compared:
        if _same_output(fn, out, got, expected):
            right += 1
        elif _same_output(fn, out, got, starter):
            left.append(out.name)
        else:
            return []
    return left if left and right else []


def _starting_values(fn: FunctionSpec, outputs: dict, names: list) -> str:
    """'loss 0, dW all zeros': what the starter code's outputs are, where that is short to say."""
    said = []
    for name in names:
        leaf = outputs.get(name)
        if isinstance(leaf, values.Leaf) and not leaf.is_number and leaf.kind == "none":
            said.append(f"{values.show(fn.output(name).path)} None")
        elif isinstance(leaf, values.Leaf) and leaf.is_number and not np.any(leaf.array):
            said.append(f"{values.show(fn.output(name).path)} {'0' if np.size(leaf.array) == 1 else 'all zeros'}")
    return ", ".join(said)


def matches(fn: FunctionSpec, got: dict, mistake: dict, alike: bool = False) -> bool:
    """Does every output the student returned equal the mistake's, leaf by leaf, within the
    tolerance? Non-finite values must be non-finite at the same places (a mistake that overflows
    matches a student whose code overflows the same way), and the same ones (NaN, inf or -inf)
    unless `alike`. An output judged by properties only (a random mask, initial weights) must have
    the mistake's shapes and non-finite places, and numbers alike as two random draws are
    (`_alike_draws`), whatever they are one by one."""
    return mistake is not None and all(_same_output(fn, out, got, mistake, alike) for out in fn.outputs)


def _same_output(fn: FunctionSpec, out, a: dict, b: dict, alike: bool = False) -> bool:
    return out.name in a and out.name in b and \
        _same_tree(a[out.name], b[out.name], out.rtol or fn.rtol, out.atol or fn.atol, out.compare, alike)


def _overflow_spread(fn: FunctionSpec, got: dict, mistake, expected: dict) -> bool:
    """Whether a catalogued overflow explains an answer whose overflow spread further: the mistake
    is not finite in some output where the reference is, and the student's is not finite there
    alike; each other output of the student's equals the mistake's, or is NaN or inf throughout."""
    if not isinstance(mistake, dict):
        return False
    overflowed = False
    for out in fn.outputs:
        if out.name not in got or out.name not in mistake:
            return False
        if _same_output(fn, out, got, mistake, alike=True):
            overflowed |= not _all_finite(mistake[out.name]) and _all_finite(expected.get(out.name))
        elif not _numbers(got[out.name]) or _some_finite(got[out.name]):
            return False
    return overflowed


def _overflowed(fn: FunctionSpec, got: dict, expected: dict) -> bool:
    """Whether the student's answer has a NaN or inf where the reference's numbers are all finite."""
    return all(_all_finite(expected[o.name]) for o in fn.outputs if o.name in expected) and \
        not all(_all_finite(got[o.name]) for o in fn.outputs if o.name in got)


def _same_tree(a, b, rtol: float, atol: float, values_too: bool = True, alike: bool = False) -> bool:
    if isinstance(b, dict):
        return isinstance(a, dict) and a.keys() == b.keys() and \
            all(_same_tree(a[k], b[k], rtol, atol, values_too, alike) for k in b)
    if isinstance(b, (list, tuple)):
        return isinstance(a, (list, tuple)) and len(a) == len(b) and \
            all(_same_tree(x, y, rtol, atol, values_too, alike) for x, y in zip(a, b))
    if isinstance(a, (dict, list, tuple)) or not isinstance(a, values.Leaf):
        return False
    if not b.is_number:
        return not a.is_number and a.kind == b.kind and a.value == b.value
    if not a.is_number:
        return False
    if values_too and a.first is not None and b.first is not None and _apart(a.first, b.first, rtol, atol):
        return False                     # most variants differ at the first number: no need to look further
    if np.shape(a.array) != np.shape(b.array):    # before a float64 copy of an answer of any size
        return False
    g = np.asarray(a.array, dtype=np.float64)
    m = np.asarray(b.array, dtype=np.float64)
    finite = np.isfinite(g)
    if not (finite == np.isfinite(m)).all():
        return False
    if not alike and not finite.all() and not np.array_equal(g[~finite], m[~finite], equal_nan=True):
        return False                     # NaN where the mistake has inf, or inf of the other sign
    if not values_too:
        return _alike_draws(g[finite], m[finite])
    if not finite.all():                 # rare: compare the finite values only
        g, m, finite = g[finite], m[finite], None
    return not g.size or bool((compare.relative_error(g, m, rtol, atol, finite) <= rtol).all())


DRAWS = 30                           # entries of a random output that say something of its distribution


def _alike_draws(g: np.ndarray, m: np.ndarray) -> bool:
    """Two random outputs (judged by properties: initial weights, a dropout's output), the student's
    and a variant's, alike as two draws of one distribution are: spreads within 1.5x of each other
    and means within a few standard errors. Fewer than DRAWS entries say too little: alike. Weights
    drawn uniformly in [0, weight_scale) are not N(0, 1)'s, which the same properties break."""
    if g.size < DRAWS or m.size < DRAWS:
        return True
    sg, sm = float(g.std()), float(m.std())
    if sg == sm == 0:
        return bool(np.isclose(g.mean(), m.mean()))
    if sg > 1.5 * sm or sm > 1.5 * sg:
        return False
    return abs(float(g.mean()) - float(m.mean())) <= 6 * max(sg, sm) / math.sqrt(min(g.size, m.size))


def _near(fn: FunctionSpec, got: dict, answers: list) -> list[bool]:
    """For each variant's answer ({output name: tree}, or anything else), False where `matches`
    would surely say no at the first number of an output (`_apart`, as _same_tree tests it first),
    True where that is left to `matches`: the test of all of a case's variants, up to a hundred with
    the pairs of mistakes, in one array operation per output instead of one Python call each."""
    near = np.ones(len(answers), dtype=bool)
    for out in fn.outputs:
        leaf = got.get(out.name)
        if not out.compare or not isinstance(leaf, values.Leaf) or leaf.first is None or not math.isfinite(leaf.first):
            continue
        firsts = np.array([_first(answer, out.name) for answer in answers], dtype=np.float64)
        rtol, atol = out.rtol or fn.rtol, out.atol or fn.atol
        with np.errstate(invalid="ignore"):
            apart = np.isfinite(firsts) & (np.abs(leaf.first - firsts) > rtol * np.maximum(np.abs(firsts), atol / rtol) * (1 + 1e-9))
        near &= ~apart
    return near.tolist()


def _first(answer, name: str) -> float:
    """The first number of a variant's output `name` when it is a number leaf, else NaN (untested)."""
    leaf = answer.get(name) if isinstance(answer, dict) else None
    first = leaf.first if isinstance(leaf, values.Leaf) else None
    return math.nan if first is None else first


def _apart(g: float, m: float, rtol: float, atol: float) -> bool:
    """Two finite numbers further apart than the tolerance allows, by the rule of
    compare.relative_error (with a margin: a number on the edge is left to it), in plain floats:
    a diagnosis makes hundreds of these tests."""
    return math.isfinite(g) and math.isfinite(m) and abs(g - m) > rtol * max(abs(m), atol / rtol) * (1 + 1e-9)


def changed_inputs(fn: FunctionSpec, steps: tuple, outcome: Outcome) -> list[str]:
    """The inputs a graded step changed in place, as shown to the student (`x`, `bn_param['gamma']`),
    leaving out what the function is meant to change: an argument's part that is an output
    (`bn_param.running_mean`: its state after the call is compared)."""
    outputs = [o.path for o in fn.outputs]
    changed = []
    for path, k in outcome.changed:
        if not (0 <= k < len(steps)) or not steps[k].graded:
            continue                     # changed by another function's step: its own cases say so
        if any(path[:len(o)] == o or o[:len(path)] == path for o in outputs):
            continue
        changed.append(values.show(path))
    return changed


def _changed_before(steps: tuple, outcome: Outcome) -> tuple[str, str] | None:
    """(function, input as shown) when a step before the graded one, a call of another of the
    student's functions (a forward before its backward), changed one of the case's inputs in place:
    the graded step was handed that function's leftovers (`np.maximum(x, 0, out=x)` caching the
    clamped x), so a wrong answer says nothing of it, and no catalogued mistake may be named."""
    graded = next((k for k, step in enumerate(steps) if step.graded), len(steps))
    for path, k in outcome.changed:
        if 0 <= k < graded and steps[k].calls:
            return steps[k].calls, values.show(path)
    return None


def _case(fn: FunctionSpec, case: Case, status: str, message: str = "", details: str = "",
          outputs: list[OutputCheck] | None = None, stdout: str = "", duration=None, exception: str = "",
          blocked_by: str = "") -> CaseResult:
    return CaseResult(function=fn.name, case_id=case.case_id, visibility=case.spec.visibility, seed=case.spec.seed,
                      status=status, message=message, details=details, note=case.spec.note, dims=dict(case.dims),
                      outputs=outputs or [], duration=duration, stdout=stdout, exception=exception,
                      blocked_by=blocked_by)


def not_run(fn: FunctionSpec, case: Case, message: str, status: str = CRASHED) -> CaseResult:
    """A case the grader could not run at all (the worker failed, or the submission could not be graded)."""
    return _case(fn, case, status, message)


def _exception_line(err: dict) -> str:
    text = f"{err.get('type', 'an error')}: {err.get('message', '')}".rstrip(": ")
    return text if len(text) < 300 else text[:300] + "..."


def _where(err: dict) -> str:
    """'linear_classifier.py, line 42, in svm_loss_naive: <that line>', then advice.

    From a notebook: 'work.ipynb, cell 5, line 3, in svm_loss_naive: <that line>'."""
    lines = []
    if err.get("file"):
        cell = f", cell {err['cell']}" if err.get("cell") else ""
        loc = f"{err['file']}{cell}" + (f", line {err['line']}" if err.get("line") else "")
        if err.get("function"):
            loc += f", in {err.get('qualname') or err['function']}"
        if err.get("before") and err.get("code") and err.get("line") and err.get("before_line"):
            # An IndentationError: the line and the code line before it as written, so that their indentation shows.
            width = len(str(err["line"]))
            lines += [f"{loc}, indented as written:", f"  {str(err['before_line']).rjust(width)} | {err['before']}",
                      f"  {str(err['line']).rjust(width)} | {err['code']}"]
        else:
            lines.append(loc + (f": {err['code']}" if err.get("code") else ""))
    if err.get("note"):
        lines.append(str(err["note"]))
    tip = hints.advice(err.get("type", ""), err.get("message", ""))
    if tip:
        lines.append(tip)
    return "\n".join(lines)


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):g} {unit}"
    return f"{n} bytes"

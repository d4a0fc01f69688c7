"""The pipeline for one submission: spec -> cases -> run (worker) -> compare -> score -> result.

    >>> spec = load_spec("assignments/linear_classifier")
    >>> result = grade_submission(spec, Path("student_template/linear_classifier"))
    >>> result.earned, result.possible
    (0.0, 8.0)

Student code runs only in the worker (grader.run). This module decodes what the worker sends
back, compares it with the expected outputs here, in the trusted process, and scores.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import __version__, checks, compare, expected as expected_mod, hints, localise, notebook, score
from .cases import Case, make_case
from .results import (CRASHED, ERROR, FAILED, HIDDEN, NOT_IMPLEMENTED, PASSED, PUBLIC, TIMEOUT,
                      CaseResult, FunctionResult, OutputCheck, SubmissionResult)
from .run import protocol
from .run.worker import Worker, WorkerError
from .spec import AssignmentSpec, FunctionSpec, SpecError


class HiddenUnavailable(Exception):
    """--hidden was asked for, but this checkout has no reference or hidden cases."""


def select_cases(spec: AssignmentSpec, hidden: bool, functions=None) -> list[tuple[FunctionSpec, Case]]:
    """The cases to run, public (and hidden) ones, of every function or of those named in `functions`."""
    visibilities = (PUBLIC, HIDDEN) if hidden else (PUBLIC,)
    return [(fn, make_case(spec, fn, c)) for fn in spec.functions if functions is None or fn.name in functions
            for c in fn.cases if c.visibility in visibilities]


def expected_outputs(spec: AssignmentSpec, cases: list[tuple[FunctionSpec, Case]], worker: Worker | None = None) -> dict:
    """From the reference when this checkout has it (run by `worker` when given, else in this
    process), else from the handout's public file."""
    if spec.reference_dir is not None:
        if worker is not None:
            return expected_mod.from_worker(spec, cases, worker)
        return expected_mod.from_reference(spec, cases)
    return expected_mod.from_file(spec, cases)


def locate_modules(spec: AssignmentSpec, submission: Path) -> dict:
    """Module name -> path of the student's file (.py or .ipynb), or None when it is missing.

    A folder holds `<module>.py` (or else `<module>.ipynb`) for each module; one notebook of
    any other name stands for every module without a file of its own. A single file stands for
    the module of the same name; a notebook of another name for every module, and a .py file
    of another name for the only module of a one-module assignment.
    """
    submission = submission.resolve()
    folder = submission.parent if submission.is_file() else submission
    found = {m: next((folder / f"{m}{ext}" for ext in (".py", ".ipynb") if (folder / f"{m}{ext}").is_file()), None)
             for m in spec.modules}
    if submission.is_file():
        if submission.stem in spec.modules:
            found[submission.stem] = submission
        elif submission.suffix == ".ipynb":
            found = dict.fromkeys(spec.modules, submission)
        elif len(spec.modules) == 1:
            found[spec.modules[0]] = submission
    else:
        others = other_notebooks(folder, spec)
        if len(others) == 1:
            found = {m: p or others[0] for m, p in found.items()}
    return {m: (str(p) if p else None) for m, p in found.items()}


def other_notebooks(folder: Path, spec: AssignmentSpec) -> list[Path]:
    """The notebooks in a folder that are not named after one of the assignment's modules."""
    return sorted(p for p in folder.glob("*.ipynb")
                  if p.is_file() and not p.name.startswith(".") and p.stem not in spec.modules)


def load_notebooks(spec: AssignmentSpec, submission: Path, modules: dict, cells: list | None = None) -> notebook.Notebooks:
    """The submission's notebooks converted, and a missing module explained when several could be it.

    `cells` is the content of the notebook at `submission` when it is held in memory."""
    found = notebook.for_modules(modules, {str(submission.resolve()): cells} if cells is not None else None)
    others = other_notebooks(submission.resolve(), spec) if submission.is_dir() else []
    for m, path in modules.items():
        if path is None and len(others) > 1:
            found.errors[m] = {"kind": "notebook", "message": (
                f"{m}.py not found in the submission, which holds {len(others)} notebooks "
                f"({', '.join(p.name for p in others)}): keep one, or name the one to grade {m}.ipynb")}
    return found


class Prepared:
    """A spec's cases, their expected outputs and the catalogued mistakes' outputs (computed when
    first needed), made once and shared by every submission of a batch.

    With `functions` (names), only those functions are graded: `grader.check("svm_loss_naive")`
    runs that function's cases and checks, not a half-written neighbour's infinite loop."""

    def __init__(self, spec: AssignmentSpec, hidden: bool, functions=None, worker: Worker | None = None):
        from .catalogue import MistakeOutputs
        self.hidden = hidden
        self.functions = tuple(fn.name for fn in spec.functions if functions is None or fn.name in functions)
        self.cases = select_cases(spec, hidden, self.functions)
        self.expected = expected_outputs(spec, self.cases, worker)
        public = expected_mod.public_mistakes(spec) if spec.reference_dir is None else None
        self.mistakes = MistakeOutputs(spec, public)
        self.plans = [p for p in checks.plan(spec, hidden)   # checks with their own points, and their calls
                      if p.fn.name in self.functions]
        extra = [call for p in self.plans for call in p.calls]
        self.calls, self.inputs = job_calls(self.cases + extra)   # every job of this spec runs these calls on these inputs
        self._reference_times: dict = {}                     # (worker, plan) -> the reference's timings

    @classmethod
    def outline(cls, spec: AssignmentSpec, hidden: bool) -> "Prepared":
        """Which cases and checks there are, without the expected outputs (for `error_result`)."""
        self = cls.__new__(cls)
        self.hidden, self.functions = hidden, tuple(fn.name for fn in spec.functions)
        self.cases = select_cases(spec, hidden, self.functions)
        self.plans = checks.plan(spec, hidden)
        return self

    def reference_times(self, spec: AssignmentSpec, worker: Worker, p) -> list[float]:
        """How long the reference's version of a faster_than check's function takes on its case, timed
        once per worker in a child of its own (the student's child never has the reference)."""
        key = (id(worker), p.fn.name, p.check.name)
        if key not in self._reference_times:
            other = spec.function(p.check.function)
            reply = expected_mod.run_reference(spec, [(other, p.case)] * p.check.repeat, worker)
            self._reference_times[key] = [float(h["duration"]) for h, _ in reply.results.values()
                                          if h.get("status") == "returned"]
        return self._reference_times[key]


def grade_submission(spec: AssignmentSpec, submission: Path, hidden: bool = False,
                     worker: Worker | None = None, prepared: Prepared | None = None,
                     cells: list | None = None) -> SubmissionResult:
    """Grade one submission (a file or a folder) on the public cases, and the hidden ones if asked.

    `worker` lets many submissions share one warm worker; `prepared` (for the same `hidden`)
    lets them share the cases and the reference's outputs, and says which functions to grade.
    `cells` ((cell type, source) pairs) is a notebook held in memory, graded as if it were saved
    at `submission` (a .ipynb path in an existing folder), standing for the modules of the graded
    functions: how `grader.check` grades the cells a Jupyter kernel has run.
    """
    _check_hidden(spec, hidden)
    started = datetime.now(timezone.utc)
    t0 = time.monotonic()
    submission = Path(submission)
    if not (submission.parent.is_dir() if cells is not None else submission.exists()):
        raise FileNotFoundError(f"{submission}: no such file or folder")
    own_worker = worker is None
    if own_worker:
        worker = Worker(spec.framework)       # starts importing while the references are computed
    try:
        if prepared is None or prepared.hidden != hidden:
            prepared = Prepared(spec, hidden)
        cases, expected = prepared.cases, prepared.expected
        if cells is None:
            modules = locate_modules(spec, submission)
        else:                    # other modules are not imported: the notebook's imports find them as Python would
            graded = {spec.function(name).module for name in prepared.functions}
            modules = {m: str(submission.resolve()) if m in graded else None for m in spec.modules}
        notebooks = load_notebooks(spec, submission, modules, cells)
        job = build_job(spec, prepared.calls, modules, submission, notebooks)
        if cells is not None:            # a kernel's cells: its imports of the module's own file must find the file
            job["detached"] = sorted(notebooks.sources)
        try:
            reply = worker.run(job, prepared.inputs)
            worker_error = ""
        except WorkerError as e:
            reply, worker_error = None, str(e)
        check_results = _judge_checks(spec, prepared, modules, notebooks, worker, reply)
    finally:
        if own_worker:
            worker.close()

    imported = reply.imported if reply and isinstance(reply.imported, dict) else {}
    import_errors = imported.get("errors") if isinstance(imported.get("errors"), dict) else {}
    import_errors = {**{m: notebooks.relocate(e) for m, e in import_errors.items()}, **notebooks.errors}
    functions: dict[str, FunctionResult] = {}
    by_function: dict[str, list] = {}                # name -> [(Case, CaseResult)]
    for index, (fn, case) in enumerate(cases):
        fr = functions.setdefault(fn.name, FunctionResult(name=fn.name, module=fn.module))
        if reply is None or index not in reply.results:
            result = _case(fn, case, status=CRASHED, message=f"not run: {worker_error or 'no result from the worker'}")
        else:
            header, arrays = reply.results[index]
            try:
                if "error" in header:
                    header = {**header, "error": notebooks.relocate(header["error"])}
                result = judge_case(spec, fn, case, expected[(fn.name, case.case_id)], header, arrays,
                                    import_errors, prepared.mistakes, files=notebooks.files)
            except (KeyError, TypeError, ValueError, AttributeError, IndexError):
                # Frames come from the student's process, which can write anything into its pipe:
                # a report that does not parse is that submission's failure, never the grader's crash.
                result = _case(fn, case, status=CRASHED, message="the worker sent an invalid report for this case")
        fr.cases.append(result)
        by_function.setdefault(fn.name, []).append((case, result))
    for name, pairs in by_function.items():
        arg = localise.passes_only_when_zero(pairs)
        for _, result in pairs:
            if arg and not result.passed and not result.diagnosis:
                hint = f"Hint: the cases with {arg} = 0 pass and the others fail: look at the terms with {arg}."
                result.details = "\n".join(x for x in (result.details, hint) if x)
    return _submission_result(
        spec, prepared, submission, hidden, functions, check_results, sandbox=reply.sandbox if reply else "",
        sandbox_warning=reply.sandbox_warning if reply else "", started=started.isoformat(timespec="seconds"),
        duration=round(time.monotonic() - t0, 3), stdout=_clip(imported.get("stdout", "")))


def _submission_result(spec: AssignmentSpec, prepared: Prepared, submission: Path, hidden: bool,
                       functions: dict, check_results: list, **fields) -> SubmissionResult:
    """The result from the judged cases ({function: FunctionResult}) and checks (in prepared.plans'
    order): each function scored, its checks attached, and what the hidden part is worth."""
    for fn in spec.functions:
        fr = functions.get(fn.name)
        if fr is not None:
            fr.public, hidden_score = score.score_function(fn.points_public, fn.points_hidden, fr.cases, fn.all_or_nothing)
            fr.hidden = hidden_score if hidden else None
    for p, result in zip(prepared.plans, check_results):
        fr = functions[p.fn.name]
        fr.checks.append(checks.needs_working_code(p, result, fr.cases))
    return SubmissionResult(
        assignment=spec.name, title=spec.title, submission=str(submission), hidden_graded=hidden, hidden_available=spec.has_hidden,
        hidden_points=float(sum(fn.points_hidden + sum(c.points for c in fn.scored_checks if c.visibility == HIDDEN)
                                for fn in spec.functions if fn.name in prepared.functions)),
        functions=list(functions.values()), grader_version=__version__, **fields)


def spec_for(assignment: str, submission: Path, hidden: bool = False) -> AssignmentSpec:
    """The spec that `grader check` and the pytest plugin grade `submission` with.

    `assignment` is a name or a path, looked up as spec.find_spec says. A user's mistake is a
    FileNotFoundError, SpecError or HiddenUnavailable with a one-line message.
    """
    from .spec import find_spec, load_spec
    if not Path(submission).exists():
        raise FileNotFoundError(f"{submission}: no such file or folder")
    spec = load_spec(find_spec(assignment, Path(submission)))
    _check_hidden(spec, hidden)
    return spec


def _check_hidden(spec: AssignmentSpec, hidden: bool) -> None:
    if hidden and spec.reference_dir is None:
        raise HiddenUnavailable(
            f"hidden cases need the instructor's files ({spec.folder / 'hidden.yaml'} and the reference); "
            "this is a handout, which has only the public cases")


def grade_or_report(spec: AssignmentSpec, submission: Path, hidden: bool, worker: Worker,
                    prepared: Prepared) -> SubmissionResult:
    """grade_submission, except that a failure of the grader itself on this submission becomes its
    result (every case an error saying so) instead of an exception: one submission never stops a batch."""
    try:
        return grade_submission(spec, submission, hidden=hidden, worker=worker, prepared=prepared)
    except Exception as e:  # noqa: BLE001 - whatever it is, it is this submission's, and is reported
        return error_result(spec, submission, hidden, f"the grader failed on this submission ({type(e).__name__}: "
                            f"{str(e)[:300]}); please tell your instructor", prepared)


def error_result(spec: AssignmentSpec, submission, hidden: bool, message: str,
                 prepared: Prepared | None = None) -> SubmissionResult:
    """The result of a submission that could not be graded: every case and check an error saying
    `message`. Without `prepared`, the cases are selected here (no reference is run)."""
    if prepared is None:
        prepared = Prepared.outline(spec, hidden)
    functions: dict[str, FunctionResult] = {}
    for fn, case in prepared.cases:
        fr = functions.setdefault(fn.name, FunctionResult(name=fn.name, module=fn.module))
        fr.cases.append(_case(fn, case, ERROR, message))
    return _submission_result(spec, prepared, submission, hidden, functions,
                              [checks.error(p, message) for p in prepared.plans],
                              started=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def _judge_checks(spec: AssignmentSpec, prepared: Prepared, modules: dict, notebooks: notebook.Notebooks,
                  worker, reply) -> list:
    """The checks with their own points, in the order of prepared.plans."""
    results = reply.results if reply is not None else {}
    index = {(fn.name, case.case_id): i for i, (fn, case) in enumerate(prepared.cases)}
    out, offset = [], len(prepared.cases)
    for p in prepared.plans:
        replies = [results.get(offset + i) for i in range(len(p.calls))]
        offset += len(p.calls)
        kind = p.check.kind
        if kind in checks.STATIC:
            out.append(_judge_static(p, modules, notebooks))
        elif kind == "gradient":
            out.append(checks.judge_gradient(p, replies))
        elif kind == "agrees_with":
            own = [results.get(index[(p.fn.name, case.case_id)]) for _, case in p.calls]
            out.append(checks.judge_agreement(p, own, replies, spec.framework))
        else:
            try:
                reference = prepared.reference_times(spec, worker, p)
            except WorkerError:
                reference = []
            out.append(checks.judge_speed(p, replies, reference))
    return out


def _judge_static(p, modules: dict, notebooks: notebook.Notebooks):
    """A static check on the student's source: the module file, or the code kept from their notebook
    (its lines then named by cell)."""
    m = p.fn.module
    if m in notebooks.sources:
        file = notebooks.files[m]
        cells = notebooks.modules[file].cells

        def place(line: int) -> str:
            found = notebook.where(cells, line)
            return f"cell {found[0]}, line {found[1]}" if found else f"line {line}"
        return checks.judge_static(p.fn, p.check, notebooks.sources[m], file, place)
    path = modules.get(m)
    source = Path(path).read_text(errors="replace") if path and m not in notebooks.errors else None
    return checks.judge_static(p.fn, p.check, source, f"{m}.py")


def job_calls(cases) -> tuple[list[dict], list[np.ndarray]]:
    """The calls of a job, with their arrays in one list that the calls refer to by index."""
    inputs: list[np.ndarray] = []
    calls = []
    for fn, case in cases:
        args = []
        for name, value in case.args.items():
            if isinstance(value, np.ndarray):
                args.append({"name": name, "array": len(inputs)})
                inputs.append(value)
            else:
                args.append({"name": name, "scalar": value})
        calls.append({"function": fn.name, "module": fn.module, "case": case.case_id, "args": args,
                      "outputs": [o.name for o in fn.outputs], "checks": list(fn.checks)})
    return calls, inputs


def build_job(spec: AssignmentSpec, calls: list[dict], modules: dict, submission: Path,
              notebooks: notebook.Notebooks | None = None) -> dict:
    """The worker's job: the calls, the module files, and the code converted from notebooks.

    A module whose notebook did not convert gets no path: the grader reports its error itself."""
    notebooks = notebooks or notebook.Notebooks()
    folder = submission.resolve() if submission.is_dir() else submission.resolve().parent
    lim = spec.limits
    modules = {m: (None if m in notebooks.errors else path) for m, path in modules.items()}
    job = {"framework": spec.framework, "submission_dir": str(folder), "modules": modules, "calls": calls,
           "sources": notebooks.sources,
           "limits": {"case_timeout": lim.case_timeout, "import_timeout": lim.import_timeout, "memory": lim.memory,
                      "skip_after_timeouts": lim.skip_after_timeouts, "n_calls": len(calls)}}
    return job


def judge_case(spec: AssignmentSpec, fn: FunctionSpec, case: Case, expected: list, header: dict, arrays: list,
               import_errors: dict, mistakes=None, files: dict | None = None) -> CaseResult:
    """Turn what the worker reported for one call into a CaseResult, comparing outputs here.

    A wrong answer that equals a catalogued mistake's output on this case gets its sentence.
    `files` names the file of each module that does not come from `<module>.py` (a notebook)."""
    status = header.get("status")
    stdout = _clip(header.get("stdout", ""))
    duration = header.get("duration")
    duration = float(duration) if isinstance(duration, (int, float)) and not isinstance(duration, bool) else None
    files = files or {}
    module_file = files.get(fn.module, f"{fn.module}.py")
    if status == "import_error":
        err = import_errors.get(fn.module) or header.get("error") or {}
        if err.get("kind") == "notebook":
            return _case(fn, case, ERROR, str(err.get("message")))
        if err.get("kind") == "missing_module":
            return _case(fn, case, ERROR, f"{module_file} not found in the submission")
        return _case(fn, case, ERROR, f"{module_file} could not be imported: {_exception_line(err)}", _where(err))
    if status == "missing_function":
        message = (header.get("error") or {}).get("message") or f"{fn.name} is not defined in {module_file}"
        return _case(fn, case, ERROR, message)
    if status in ("import_timeout", "import_crashed"):
        what = f"did not finish within {spec.limits.import_timeout:g} s" if status == "import_timeout" else \
            "stopped the worker (sys.exit, os._exit or a crash at import time?)"
        return _case(fn, case, TIMEOUT if status == "import_timeout" else CRASHED,
                     f"importing {', '.join(dict.fromkeys(files.get(m, m + '.py') for m in spec.modules))} {what}")
    if status == "timeout":
        return _case(fn, case, TIMEOUT, f"{fn.name} did not finish within {spec.limits.case_timeout:g} s "
                                        "(an infinite loop, or much slower than needed?)", stdout=stdout)
    if status == "skipped_after_timeout":
        return _case(fn, case, TIMEOUT, f"not run: {fn.name} already timed out on an earlier case")
    if status == "crashed":
        return _case(fn, case, CRASHED, f"{fn.name} stopped the worker running it (a crash, os._exit, or the "
                                        f"{_size(spec.limits.memory)} memory limit)", stdout=stdout)
    if status == "exception":
        err = header.get("error") or {}
        st = NOT_IMPLEMENTED if err.get("type") == "NotImplementedError" else ERROR
        head = f"{fn.name} is not implemented yet" if st == NOT_IMPLEMENTED else f"{fn.name} raised {_exception_line(err)}"
        return _case(fn, case, st, head, _where(err), stdout=stdout, duration=duration,
                     exception=str(err.get("type") or "an exception"))
    if status == "too_large":
        return _case(fn, case, FAILED, f"{fn.name} returned {header.get('returned', '?')}: more than the "
                                       f"{_size(protocol.ANSWER_CAP)} an answer may take; expected "
                                       f"{', '.join(o.name for o in fn.outputs)}, of the sizes in the assignment",
                     stdout=stdout, duration=duration)
    if status == "bad_return":
        names = ", ".join(o.name for o in fn.outputs)
        return _case(fn, case, FAILED, f"{fn.name} returned {header.get('returned', '?')}; expected "
                                       f"{len(fn.outputs)} value{'s' if len(fn.outputs) > 1 else ''} ({names})",
                     stdout=stdout, duration=duration)
    if status != "returned":
        return _case(fn, case, CRASHED, f"unexpected report from the worker ({status!r})")

    values = header.get("values") or []
    checks, gots = [], []
    for out, exp, meta in zip(fn.outputs, expected, values):
        got = arrays[meta["array"]] if isinstance(meta.get("array"), int) and meta["array"] < len(arrays) else None
        gots.append(got)
        checks.append(compare.compare_output(out.name, out.kind, spec.framework, exp, meta, got,
                                             fn.rtol, fn.atol, dtype=out.dtype))
    if len(checks) != len(fn.outputs):
        return _case(fn, case, CRASHED, "incomplete report from the worker")
    failing = [c for c in checks if not c.ok]
    mutated = [] if "no_input_mutation" not in fn.checks else changed_inputs(case, header, arrays)
    message = ""
    if failing:
        message = failing[0].message + (f" (and {len(failing) - 1} more output wrong)" if len(failing) > 1 else "")
    elif mutated:
        copy = f"{mutated[0]} = {mutated[0]}.{'clone' if spec.framework == 'torch' else 'copy'}()"
        message = (f"{fn.name} changed its input{'s' if len(mutated) > 1 else ''} {', '.join(mutated)} in place; "
                   f"work on copies (e.g. {copy}) or write new arrays")
    status = FAILED if (failing or mutated) else PASSED
    result = _case(fn, case, status, message, outputs=checks, stdout=stdout, duration=duration)
    if failing and mistakes is not None:
        result.diagnosis = diagnose(fn, case, gots, mistakes, expected)
    if failing and not result.diagnosis:
        swapped = _swapped(fn, expected, gots)
        hints = [swapped] if swapped else [
            localise.describe(out.name, exp, got, fn.rtol, fn.atol)
            for out, exp, got, check in zip(fn.outputs, expected, gots, checks) if not check.ok and got is not None]
        result.details = "\n".join(f"Hint: {h}" for h in hints if h)
    return result


def _swapped(fn: FunctionSpec, expected: list, gots: list) -> str:
    """A hint when two outputs of different shapes came back in each other's place: (dW, loss)."""
    if len(gots) != 2 or any(g is None for g in gots):
        return ""
    want = [np.shape(e) for e in expected]
    if want[0] != want[1] and [np.shape(gots[1]), np.shape(gots[0])] == want:
        first, second = (o.name for o in fn.outputs)
        return f"{fn.name} seems to return ({second}, {first}); return ({first}, {second}), in that order"
    return ""


def diagnose(fn: FunctionSpec, case: Case, gots: list, mistakes, expected: list) -> str:
    """The sentence of the first catalogued mistake whose outputs on this case equal the student's.

    A mistake that gives the right answer on this case (no max shift, on scores too small to
    overflow; a regularization mistake when reg is 0) says nothing about a wrong one: it is skipped,
    or a dtype error would be blamed on it."""
    from .catalogue import matches
    for _name, sentence, outputs in mistakes.candidates(fn, case):
        if matches(gots, outputs, fn.rtol, fn.atol) and not matches(expected, outputs, fn.rtol, fn.atol):
            return sentence
    return ""


def changed_inputs(case: Case, header: dict, arrays: list) -> list[str]:
    """Names of the array inputs that the call changed in place, judged here from what came back
    (an input the worker reports unchanged comes back as `{"unchanged": true}` without its array)."""
    after = {a.get("name"): a for a in header.get("inputs_after") or [] if isinstance(a, dict)}
    changed = []
    for name, original in case.args.items():
        if not isinstance(original, np.ndarray):
            continue
        meta = after.get(name, {})
        if meta.get("unchanged") is True:
            continue
        index = meta.get("array")
        now = arrays[index] if isinstance(index, int) and 0 <= index < len(arrays) else None
        if now is None or now.shape != original.shape or not np.array_equal(now, original, equal_nan=True):
            changed.append(name)
    return changed


def _case(fn: FunctionSpec, case: Case, status: str, message: str = "", details: str = "",
          outputs: list[OutputCheck] | None = None, stdout: str = "", duration=None, exception: str = "") -> CaseResult:
    return CaseResult(function=fn.name, case_id=case.case_id, visibility=case.spec.visibility, seed=case.spec.seed,
                      status=status, message=message, details=details, note=case.spec.note, dims=dict(case.dims),
                      outputs=outputs or [], duration=duration, stdout=stdout, exception=exception)


def _clip(text, limit: int = 16 << 10) -> str:
    """Printed output as received from the worker, capped (the worker caps it too, but is not trusted)."""
    text = text if isinstance(text, str) else ""
    return text if len(text) <= limit else text[:limit] + "\n[... output cut]"


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
            loc += f", in {err['function']}"
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


__all__ = ["grade_submission", "spec_for", "select_cases", "expected_outputs", "HiddenUnavailable", "SpecError"]

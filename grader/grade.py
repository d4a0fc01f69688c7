"""The pipeline for one submission: spec -> cases -> run (worker) -> compare -> score -> result.

    >>> spec = load_spec("assignments/linear_classifier")
    >>> result = grade_submission(spec, Path("student_template/linear_classifier"))
    >>> result.earned, result.possible
    (0.0, 8.0)

Student code runs only in the worker (grader.run). This module decodes what the worker sends
back, compares it with the expected outputs here, in the trusted process, and scores.
"""
from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from pathlib import Path

from grader import __version__, expected as expected_mod, notebook, score
from grader.cases import Case, make_case
from grader.expected.mistakes import MistakeOutputs
from grader.judge import checks, compare, localise
from grader.judge.case import hinted, judge_case, narrow, not_run, said, wrong_form
from grader.locate import MAX_MODULE, load_notebooks, locate_modules, other_notebooks, source_text, unusable
from grader.results import ERROR, FAILED, HIDDEN, NOT_IMPLEMENTED, PASSED, PUBLIC, FunctionResult, SubmissionResult
from grader.run.job import Call, build_job, job_calls, later_parts
from grader.run.outcome import decode, plain_error, printed
from grader.run.worker import AnyWorker, WorkerError, start_worker
from grader.spec import AssignmentSpec, FunctionSpec, SpecError
from grader.spec.load import HiddenUnavailable, spec_for  # noqa: F401 - grader.grade's, as before
from grader.spec.load import check_hidden as _check_hidden


def select_cases(spec: AssignmentSpec, hidden: bool, functions=None) -> list[tuple[FunctionSpec, Case]]:
    """The cases to run, public (and hidden) ones, of every function or of those named in `functions`."""
    visibilities = (PUBLIC, HIDDEN) if hidden else (PUBLIC,)
    return [(fn, make_case(spec, fn, c)) for fn in spec.functions if functions is None or fn.name in functions
            for c in fn.cases if c.visibility in visibilities]


def expected_outputs(spec: AssignmentSpec, cases: list[tuple[FunctionSpec, Case]], worker: AnyWorker | None = None) -> dict:
    """From the reference when this checkout has it (run by `worker` when given, else in this
    process), else from the handout's public file."""
    if spec.reference_dir is not None:
        if worker is not None:
            return expected_mod.from_worker(spec, cases, worker)
        return expected_mod.from_reference(spec, cases)
    return expected_mod.from_file(spec, cases)


def call_order(cases: list, plans: list) -> tuple[list, list[int], list[list[int]], int]:
    """The calls of a job in the order its child runs them, where each case's call and each check's
    calls are in it, and how many are public: every public case and every public check's calls (a
    gradient check's moved inputs, agrees_with's) before any hidden one. One child runs them all, and
    a module global kept by a function's hidden cases would otherwise reach a later function's
    public case, whose printed output and message Gradescope shows."""
    items: list = []
    case_calls: list[int] = [0] * len(cases)
    plan_calls: list[list[int]] = [[] for _ in plans]
    public = 0
    for hidden in (False, True):
        if hidden:
            public = len(items)
        for k, (fn, case) in enumerate(cases):
            if (case.spec.visibility == HIDDEN) == hidden:
                case_calls[k] = len(items)
                items.append((fn, case))
        for k, p in enumerate(plans):
            if (p.check.visibility == HIDDEN) == hidden:
                plan_calls[k] = list(range(len(items), len(items) + len(p.calls)))
                items += p.calls
    return items, case_calls, plan_calls, public


class Prepared:
    """A spec's cases, their expected outputs and the catalogued mistakes' outputs (computed when
    first needed), made once and shared by every submission of a batch.

    With `functions` (names), only those functions are graded: `grader.check("svm_loss_naive")`
    runs that function's cases and checks, not a half-written neighbour's infinite loop."""

    def __init__(self, spec: AssignmentSpec, hidden: bool, functions=None, worker: AnyWorker | None = None):
        self.hidden = hidden
        self.functions = tuple(fn.name for fn in spec.functions if functions is None or fn.name in functions)
        self.cases = select_cases(spec, hidden, self.functions)
        self.expected = expected_outputs(spec, self.cases, worker)
        public = expected_mod.public_mistakes(spec) if spec.reference_dir is None else None
        self.mistakes = MistakeOutputs(spec, public)
        self.mistakes.expect(self.cases)
        self.plans = [p for p in checks.plan(spec, hidden)   # checks with their own points, and their calls
                      if p.fn.name in self.functions]
        items, self.case_calls, self.plan_calls, public = call_order(self.cases, self.plans)
        self.calls, self.inputs = job_calls(spec, items)   # every job of this spec runs these calls on these inputs
        # The calls from the first hidden one on, and the inputs that only they use, reach a child
        # only once the grader has every public result (supervise.held_back): none of them is in
        # its memory while what it prints, and its messages, are shown to the student. Each timed
        # call comes on its own, when its turn comes (job.later_parts).
        self.later = later_parts(spec, items, public)
        self._reference_timings: dict = {}                   # (worker, plan) -> the reference's timed outcomes

    @classmethod
    def outline(cls, spec: AssignmentSpec, hidden: bool) -> "Prepared":
        """Which cases and checks there are, without the expected outputs (for `error_result`)."""
        self = cls.__new__(cls)
        self.hidden, self.functions = hidden, tuple(fn.name for fn in spec.functions)
        self.cases = select_cases(spec, hidden, self.functions)
        self.plans = checks.plan(spec, hidden)
        return self

    def reference_timings(self, spec: AssignmentSpec, worker: AnyWorker, p) -> list:
        """The reference's version of a faster_than check's function on the check's timed inputs (their
        outcomes: answers and durations), run once per worker in a child of its own (the student's
        child never has the reference)."""
        key = (id(worker), p.fn.name, p.check.name)
        if key not in self._reference_timings:
            self._reference_timings[key] = reference_timed(spec, p, p.calls, worker)
        return self._reference_timings[key]


def reference_timed(spec: AssignmentSpec, p, calls: list, worker: AnyWorker) -> list:
    """The reference's version of a faster_than check's function, timed on the inputs of `calls` (the
    student's timed calls) as theirs are: the first round's and a round timed again alike (the
    second round's reference had been run as plain cases, untimed)."""
    other = spec.function(p.check.function)
    return expected_mod.in_worker(spec, [Call(other, call.case, timed=True) for call in calls], worker)


def grade_submission(spec: AssignmentSpec, submission: Path, hidden: bool = False,
                     worker: AnyWorker | None = None, prepared: Prepared | None = None,
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
        worker = start_worker(spec.framework)
    try:
        if prepared is None or prepared.hidden != hidden:
            # The reference runs in the worker too, in a child of its own: this process never
            # imports torch, which on one CPU would double the time of a check.
            prepared = Prepared(spec, hidden, worker=worker)
        if cells is None:
            modules = locate_modules(spec, submission)
        else:                    # other modules are not imported: the notebook's imports find them as Python would
            graded = {spec.function(name).module for name in prepared.functions}
            modules = {m: str(submission.resolve()) if m in graded else None for m in spec.modules}
        result, notebooks = _graded(spec, submission, hidden, worker, prepared, modules, cells, started, t0)
        beside = other_notebooks(submission.resolve(), spec) if cells is None and submission.is_dir() else []
        stubs = _stubs_beside(spec, result, modules, beside)
        left = spec.limits.submission_timeout - (time.monotonic() - t0)
        if stubs and left > 0:   # the handout's files left beside the notebook the student worked in: it is graded,
            modules = {**modules, **dict.fromkeys(stubs, str(beside[0]))}       # in what is left of the time
            result, notebooks = _graded(spec, submission, hidden, worker, prepared, modules, cells, started, t0, left)
            _note_stubs(spec, result, stubs, beside[0].name)
        if beside:
            _hint_notebooks_beside(spec, result, modules, beside)
        if cells is None:
            _hint_defined_twice(spec, result, notebooks)
        _hint_cells_skipped(spec, result, notebooks)
        return result
    finally:
        if own_worker:
            worker.close()


def _graded(spec: AssignmentSpec, submission: Path, hidden: bool, worker: AnyWorker, prepared: "Prepared",
            modules: dict, cells: list | None, started, t0: float,
            left: float | None = None) -> tuple[SubmissionResult, "notebook.Notebooks"]:
    """The submission run with `modules` ({module: its file}) and judged: its result, and its notebooks.
    `left`: the seconds of its time limit (limits.submission_timeout) left, when it was run before."""
    notebooks = load_notebooks(spec, submission, modules, cells)
    job = build_job(spec, prepared.calls, modules, submission, notebooks)
    if left is not None:
        job["limits"] = {**job["limits"], "submission_timeout": left}
    if prepared.later:
        job["later"] = prepared.later
    if cells is not None:            # a kernel's cells: its imports of the module's own file must find the file
        job["detached"] = sorted(notebooks.sources)
    ran = time.monotonic()
    try:
        reply = worker.run(job, prepared.inputs)
        worker_error = ""
    except WorkerError as e:
        reply, worker_error = None, str(e)
    budget = job["limits"]["submission_timeout"]

    def rerun(calls: list) -> list:
        # What a check runs again is the submission's code too: within what is left of its time (of
        # what `left` gave this run, when the submission was run before: the notebook beside stubs).
        left = budget - (time.monotonic() - ran)
        if left <= 0:
            raise WorkerError("this submission's time limit (limits.submission_timeout) is spent")
        items = calls
        calls, inputs = job_calls(spec, items)
        again = build_job(spec, calls, modules, submission, notebooks)
        parts = later_parts(spec, items, len(items))      # a round timed again: each timed call on its own
        if parts:
            again["later"] = parts
        again["limits"] = {**again["limits"], "submission_timeout": left}
        if "detached" in job:
            again["detached"] = job["detached"]
        answer = worker.run(again, inputs)
        return [_outcome(answer, i, calls, notebooks) for i in range(len(calls))]

    check_results = _judge_checks(spec, prepared, modules, notebooks, worker, reply, rerun)
    # Judged while the worker is up: the catalogued mistakes a wrong answer is compared with
    # run in its children, as the reference did.
    with prepared.mistakes.running_in(worker):
        result = _judged(spec, prepared, submission, hidden, notebooks, reply, worker_error, check_results,
                         started, t0, unusable(spec, submission, modules) if cells is None else {},
                         lambda m: _source(m, modules, notebooks))
    return result, notebooks


def _stubs_beside(spec: AssignmentSpec, result: SubmissionResult, modules: dict, beside: list) -> list:
    """The modules graded from a .py file where nothing is written (every case of every function in it
    not implemented), when one notebook beside the files defines a function of each: the handout's files
    left beside the notebook the student worked in (a thirteenth students' round: 0/28 for a right
    notebook). [] otherwise, or when the notebook is not one to read."""
    if len(beside) != 1:
        return []
    try:
        defined = notebook.load(beside[0]).defined
    except notebook.NotebookError:
        return []
    stubs = []
    for module, path in modules.items():
        mine = [fn for fn in result.functions if spec.function(fn.name).module == module]
        if path and Path(path).suffix == ".py" and mine and \
                all(c.status == NOT_IMPLEMENTED for fn in mine for c in fn.cases) and \
                any(fn.name.split(".")[0] in defined for fn in mine):
            stubs.append(module)
    return stubs


def _note_stubs(spec: AssignmentSpec, result: SubmissionResult, stubs: list, name: str) -> None:
    """Each case of the functions graded from the notebook instead of the stubs beside it says so."""
    for fn in result.functions:
        module = spec.function(fn.name).module
        if module in stubs:
            note = (f"Note: {module}.py in the submission implements none of its functions (the handout's, left as "
                    f"it was?), so {name}, beside it, was graded for {module}.")
            for case in fn.cases:
                _add_details(case, note)

def _judged(spec: AssignmentSpec, prepared: Prepared, submission: Path, hidden: bool, notebooks, reply,
            worker_error: str, check_results: list, started: datetime, t0: float,
            files_refused: dict | None = None, source=None) -> SubmissionResult:
    """The submission's result from the worker's reply. `files_refused` (locate.unusable) says why
    a module's file of the right name was not used; `source(module)` is the student's code of a
    module, or None (what a failing function calls of the others is read there)."""
    cases, expected = prepared.cases, prepared.expected
    imported = reply.imported if reply and isinstance(reply.imported, dict) else {}
    import_errors = imported.get("errors") if isinstance(imported.get("errors"), dict) else {}
    import_errors = {**{m: notebooks.relocate(plain_error(e)) for m, e in import_errors.items()}, **(files_refused or {}),
                     **notebooks.errors}
    functions: dict[str, FunctionResult] = {}
    by_function: dict[str, list] = {}                # name -> [(Case, CaseResult)]
    named: dict[str, dict] = {}                      # name -> {case id: the explanations of a wrong answer}
    answered: dict[str, dict] = {}                   # name -> {case id: (Case, Outcome)}: judged on an answer
    float32_in: dict[str, compare.Float32Code] = {}  # module -> whether its code computes in float32 somewhere
    for (fn, case), index in zip(cases, prepared.case_calls):
        fr = functions.setdefault(fn.name, FunctionResult(name=fn.name, module=fn.module))
        outcome = _outcome(reply, index, prepared.calls, notebooks)
        if outcome is not None:
            if fn.module not in float32_in:     # read only if an answer off by float32's rounding asks
                float32_in[fn.module] = compare.Float32Code(lambda m=fn.module: [source(m)] if source else [])
            outcome.float32_code = float32_in[fn.module]
        if outcome is None:
            result = not_run(fn, case, f"not run: {worker_error or 'no result from the worker'}")
        else:
            result = judge_case(spec, fn, case, expected[(fn.name, case.case_id)], outcome,
                                import_errors, prepared.mistakes, files=notebooks.files,
                                named=named.setdefault(fn.name, {}))
            if result.status in (PASSED, FAILED) and outcome.ok and not result.blocked_by:
                answered.setdefault(fn.name, {})[case.case_id] = (case, outcome)
        fr.cases.append(result)
        by_function.setdefault(fn.name, []).append((case, result))
    # What a case's feedback says from the function's other cases (the mistake they bear out, the
    # cases with reg = 0 passing, a callee failing its own) is said of a public case from the public
    # cases alone: its feedback is shown before the hidden results are (Gradescope's visible tests),
    # and a student's code that passes or fails a hidden case by a bit of its inputs would read that
    # bit there (a fifteenth red team, through the callee hint)
    for name, found in named.items():                # what the function's other cases bear out
        fn, judged = spec.function(name), answered.get(name, {})
        for shown, sources in _sights(functions[name].cases) if found else ():
            kept = narrow(fn, {k: v for k, v in found.items() if k in sources},
                          {k: (case, expected[(name, k)].outputs, outcome.outputs)
                           for k, (case, outcome) in judged.items() if k in sources}, prepared.mistakes)
            for result in functions[name].cases if kept else ():
                if result.case_id in kept and result.case_id in shown:
                    result.diagnosis = said(kept[result.case_id])
                    if not result.diagnosis and result.case_id in judged:
                        result.details = hinted(fn, expected[(name, result.case_id)], judged[result.case_id][1],
                                                framework=spec.framework, case=judged[result.case_id][0])
    for name, pairs in by_function.items():
        for shown, sources in _sights([result for _, result in pairs]):
            arg = localise.passes_only_when_zero([(c, r) for c, r in pairs if r.case_id in sources])
            for _, result in pairs:
                if arg and result.case_id in shown and not result.passed and not result.diagnosis:
                    hint = f"Hint: the cases with {arg} = 0 pass and the others fail: look at the terms with {arg}."
                    _add_details(result, hint)
    if source is not None:
        _hint_broken_callees(spec, functions, source)
    _hint_blocked_by_a_passing(functions)
    result = _submission_result(
        spec, prepared, submission, hidden, functions, check_results, sandbox=reply.sandbox if reply else "",
        sandbox_warning=reply.sandbox_warning if reply else "", started=started.isoformat(timespec="seconds"),
        duration=round(time.monotonic() - t0, 3), stdout=notebooks.relocate_printed(printed(imported.get("stdout", ""))),
        grading_error=worker_error if reply is None else "")
    if source is not None:
        _not_the_handouts(spec, functions, source)
    return result


def _add_details(case, line: str, first: bool = False) -> None:
    """A line added to a case's details, after what they say (before it, `first`)."""
    case.details = "\n".join(x for x in ((line, case.details) if first else (case.details, line)) if x)


def _informs(visibility: str, case) -> bool:
    """Whether what a case found may be said in the feedback of a case of `visibility`: a public
    case's feedback is made from public cases alone (it is shown before the hidden results are)."""
    return case.visibility == PUBLIC or visibility != PUBLIC


def _sights(cases: list) -> list[tuple[set, set]]:
    """(the ids of the cases whose feedback is made, the ids of the cases it may be made from) for
    one function's CaseResults: the public cases' from the public cases, the hidden cases' from all."""
    return [(ids, {c.case_id for c in cases if _informs(visibility, c)})
            for visibility in (PUBLIC, HIDDEN) if (ids := {c.case_id for c in cases if c.visibility == visibility})]


def _hint_blocked_by_a_passing(functions: dict) -> None:
    """A case not judged because another function's step is wrong in it, where that function passes
    every one of its own cases (public ones, for a public case: see _sights): it is wrong only here,
    so the student, sent to "its own cases", finds them all passed. Said why it may be (an eleventh
    students' round: a conv_forward_naive keeping the padded x in a global, keyed on x's shape)."""
    for fr in functions.values():
        for case in fr.cases:
            other = functions.get(case.blocked_by)
            own = [c for c in other.cases if _informs(case.visibility, c)] if other else []
            if own and all(c.passed for c in own):
                note = (f"Note: your {case.blocked_by} passes its own cases, but not here: it may be wrong only for "
                        "inputs like these, or keep something from one call to the next (a global, a cache keyed "
                        "on the shapes) that makes it answer this call with another's values.")
                _add_details(case, note)


def _hint_notebooks_beside(spec: AssignmentSpec, result: SubmissionResult, modules: dict, notebooks: list) -> None:
    """A function not written yet in its .py file, where the submission holds a notebook too (a
    student who worked in the notebook and left the handout's file beside it): each case says that
    the .py file is what was graded, and how to have the notebook graded."""
    if not notebooks:
        return
    shown = " and ".join(p.name for p in notebooks[:2]) + (" (and more)" if len(notebooks) > 2 else "")
    for fn in result.functions:
        path = modules.get(spec.function(fn.name).module)
        if not path or Path(path).suffix != ".py":
            continue
        hint = (f"Note: {shown} {'is' if len(notebooks) == 1 else 'are'} in the submission too, but {Path(path).name}, "
                f"where {fn.name} is not written yet, is what is graded (a .py file comes before a notebook): to have "
                f"the notebook graded, remove {Path(path).name} or name the notebook when checking "
                f"(`grader check {notebooks[0].name}`).")
        for ids, sources in _sights(fn.cases):
            if any(c.status != NOT_IMPLEMENTED for c in fn.cases if c.case_id in sources):
                continue
            for case in fn.cases:
                if case.case_id in ids:
                    _add_details(case, hint)


def _hint_cells_skipped(spec: AssignmentSpec, result: SubmissionResult, notebooks) -> None:
    """A failing function of a notebook with a cell the grader does not run, where that cell defines it
    (each failing case says which cell and why): a `%%writefile` cell (a thirteenth students' round wrote
    the whole module with one, and read only "not defined"), or a cell that is not Python (left out:
    notebook.convert), which is also named where a case fails for a name not defined (what the cell
    would have defined or imported)."""
    for fn in result.functions:
        file = notebooks.files.get(spec.function(fn.name).module)
        module = notebooks.modules.get(file) if file else None
        top = fn.name.split(".")[0]
        if module is None or not module.skipped and top not in module.writes:
            continue
        mine = [s for s in module.skipped if top in s[2]]
        for case in fn.cases:
            if case.passed or case.blocked_by:
                continue
            if top in module.writes and case.message.startswith(f"{top}") and f"is not defined in {file}" in case.message:
                path, number = module.writes[top]
                note = (f"Note: cell {number} of {file} writes {path} with %%writefile, and defines {top} there: the "
                        f"grader does not run a notebook's %%writefile cells. Hand in {path} beside the notebook, or "
                        f"define {top} in a cell of it.")
                _add_details(case, note)
                continue
            shown = mine or (module.skipped if "is not defined" in case.message else [])
            for number, error, names in shown[:1]:
                what = f"which defines {top}" if mine else "which may define or import it"
                at = f"; cell {number}, line {error.line}: `{error.code}`" if error.line else ""
                note = (f"Note: cell {number} of {file}, {what}, is not Python ({error.error_type}: {error.problem}{at}): "
                        "the grader leaves it out, as Jupyter's kernel does, and grades the other cells.")
                _add_details(case, note)


def _hint_defined_twice(spec: AssignmentSpec, result: SubmissionResult, notebooks) -> None:
    """A failing function that a notebook defines in two cells or more: each failing case says which
    cell's is graded, the last one, whichever the student ran last in their kernel (a tenth students'
    round fixed svm_loss_naive in cell 5 and ran it last, and the stale copy in the last cell was graded)."""
    for fn in result.functions:
        file = notebooks.files.get(spec.function(fn.name).module)
        module = notebooks.modules.get(file) if file else None
        top = fn.name.split(".")[0]
        cells = list(dict.fromkeys(module.defined.get(top, ()))) if module is not None else []
        if len(cells) < 2:
            continue
        what = "class" if "." in fn.name else "function"
        note = (f"Note: {file} defines the {what} {top} in cells {', '.join(map(str, cells[:-1]))} and {cells[-1]}: the "
                f"grader runs the notebook's cells from top to bottom, so cell {cells[-1]}'s is the one graded, whichever "
                "you ran last. Delete the copies you do not mean.")
        for case in fn.cases:
            if not case.passed:
                _add_details(case, note)


def _hint_broken_callees(spec: AssignmentSpec, functions: dict, source) -> None:
    """A case of a function that raised, where the function calls another graded function of its
    module which fails its own cases (a network's loss calling a Linear.backward that returns dw
    transposed), says so: the error may be that one's doing. So does a case whose output came back
    in the wrong shape or type (grads['b1'] of shape (6,), from a Linear.backward summing db over
    the wrong axis), and one whose values are wrong, with nothing naming a cause (a ReLU.backward
    that forgets dout made the network's gradients wrong, and its cases said only which entries, a
    students' round): there the hint comes first, before any other, as the likelier cause (a callee
    may not run on every case: dropout off). Only where nothing names a cause already, and of callees
    that fail on their own, not only "not judged"."""
    for visibility in (PUBLIC, HIDDEN):   # a public case's hint from the public cases alone
        failing = {name for name, fr in functions.items()
                   if any(not c.passed and not c.blocked_by for c in fr.cases if _informs(visibility, c))}
        _hint_callees(spec, functions, source, failing, visibility)


def _hint_callees(spec: AssignmentSpec, functions: dict, source, failing: set, visibility: str) -> None:
    """_hint_broken_callees's hints for the cases of one visibility, where `failing` fail."""
    if len(failing) < 2:
        return
    for module in sorted({spec.function(name).module for name in failing}):
        text = source(module)
        if text is None:
            continue
        graded = [name for name in functions if spec.function(name).module == module]
        # Read only where one could be called: a method, or a function whose `name(` is written beside its def
        if not any("." in name or text.count(f"{name}(") > 1 for name in graded):
            continue
        calls = checks.calls_between(text, f"{module}.py", graded)
        given = {n for n in graded if spec.function(n).given}
        for name, callees in calls.items():
            # the handout's functions are not the student's to fix: the student's that they call are named
            broken = sorted(_yours(callees, calls, given) & failing) if name in failing else []
            if not broken:
                continue
            # the one to fix first calls none of the others that fail (Linear.backward, not Linear_ReLU.backward)
            first = next((b for b in broken if not _yours(calls.get(b, set()), calls, given) & failing), broken[0])
            via = sorted(g for g in callees & given if _yours({g}, calls, given) & set(broken))
            through = "" if not via else f" (also through the handout's {', '.join(via)})" \
                if set(broken) <= callees else f" (through the handout's {', '.join(via)})"
            own = f"{name} is the handout's code, and it" if name in given else name
            hint = (f"Hint: {own} calls your {', '.join(broken)}{through}, which "
                    f"{'fails its' if len(broken) == 1 else 'fail their'} own cases: fix {first} first, as what it "
                    "returns may be why this case fails.")
            for case in functions[name].cases:
                if case.diagnosis or case.blocked_by or case.visibility != visibility:
                    continue
                structural = case.status == FAILED and any(wrong_form(o) for o in case.outputs)
                if (case.status == ERROR and case.exception or structural) and "Hint:" not in case.details:
                    _add_details(case, hint)
                elif case.status == FAILED and not structural and case.outputs:     # an answer, of wrong values
                    _add_details(case, hint, first=True)


def _yours(names: set, calls: dict, given: set) -> set:
    """The student's functions among `names`, and those the handout's among them call (Linear_ReLU.forward,
    given, for Linear.forward and ReLU.forward), through any depth of the handout's."""
    out, todo, seen = set(), list(names), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in given:
            todo += calls.get(name, ())
        else:
            out.add(name)
    return out


def _not_the_handouts(spec: AssignmentSpec, functions: dict, source) -> None:
    """A case (or check) not judged because the handout's own function is wrong in it (Linear_ReLU.backward
    graded on what the given Linear_ReLU.forward returned) sends the student to the functions of theirs
    that one calls, which fail their own cases (or, when none does, all of them), never to fix the
    handout's code (a fourteenth students' round: "fix Linear_ReLU.forward first", of code they did not
    write, where their float32 Linear.forward was the cause)."""
    given = {fn.name for fn in spec.functions if fn.given and fn.name in functions}
    if not given:
        return
    failing = {name for name, fr in functions.items() if any(not c.passed and not c.blocked_by for c in fr.cases)}
    calls: dict = {}
    for module in sorted({spec.function(name).module for name in given}):
        text = source(module)
        if text is not None:
            calls.update(checks.calls_between(text, f"{module}.py", [n for n in functions if spec.function(n).module == module]))
    for name in sorted(given):
        theirs = sorted(_yours(calls.get(name, set()), calls, given))
        if not theirs:
            continue
        broken = [n for n in theirs if n in failing] or theirs
        one = len(broken) == 1
        yours = f"your {', '.join(broken)}"
        named = re.escape(name) + r"(?![\w.])"            # Linear_ReLU.forward, not a longer name it begins
        for fr in functions.values():
            for item in fr.cases + fr.checks:
                for attr in ("message", "details"):
                    text = getattr(item, attr, "")
                    if name not in text:
                        continue
                    text = re.sub(rf"\bfix {named} first \(see its own cases\)",
                                  f"fix {yours} first ({name} calls {'it' if one else 'them'}; see "
                                  f"{'its' if one else 'their'} own cases)", text)
                    text = re.sub(rf"\bfix {named} first", f"fix {yours} first ({name} calls {'it' if one else 'them'})", text)
                    setattr(item, attr, re.sub(rf"\byour {named}", f"the handout's {name}", text))


def _source(module: str, modules: dict, notebooks) -> str | None:
    """The student's code of a module: its notebook's converted code, or its file; None when it has
    none, or none that runs (a notebook that did not convert, a submission refused for its links)."""
    if module in notebooks.sources:
        return notebooks.sources[module]
    path = modules.get(module)
    if not path or module in notebooks.errors or Path(path).suffix != ".py":
        return None
    return source_text(path, limit=MAX_MODULE)          # a bigger file is not read into this process


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
        others = functions[p.check.function].cases if p.check.function in functions else None
        fr.checks.append(checks.needs_working_code(p, result, fr.cases, others))
    return SubmissionResult(
        assignment=spec.name, title=spec.title, submission=str(submission), hidden_graded=hidden, hidden_available=spec.has_hidden,
        hidden_points=float(sum(fn.points_hidden + sum(c.points for c in fn.scored_checks if c.visibility == HIDDEN)
                                for fn in spec.functions if fn.name in prepared.functions)),
        functions=list(functions.values()), grader_version=__version__, **fields)


def grade_or_report(spec: AssignmentSpec, submission: Path, hidden: bool, worker: AnyWorker,
                    prepared: Prepared) -> SubmissionResult:
    """grade_submission, except that a failure of the grader itself on this submission becomes its
    result (every case an error saying so) instead of an exception: one submission never stops a batch."""
    try:
        return grade_submission(spec, submission, hidden=hidden, worker=worker, prepared=prepared)
    except Exception as e:  # noqa: BLE001 - whatever it is, it is this submission's, and is reported
        message = f"the grader failed on this submission ({type(e).__name__}: {str(e)[:300]}); please tell your instructor"
        return error_result(spec, submission, hidden, message, prepared, grading_error=message)


def error_result(spec: AssignmentSpec, submission, hidden: bool, message: str,
                 prepared: Prepared | None = None, grading_error: str = "") -> SubmissionResult:
    """The result of a submission that could not be graded: every case and check an error saying
    `message`. Without `prepared`, the cases are selected here (no reference is run). `grading_error`:
    the grader's failure, not the submission's (SubmissionResult.grading_error)."""
    if prepared is None:
        prepared = Prepared.outline(spec, hidden)
    functions: dict[str, FunctionResult] = {}
    for fn, case in prepared.cases:
        fr = functions.setdefault(fn.name, FunctionResult(name=fn.name, module=fn.module))
        fr.cases.append(not_run(fn, case, message, ERROR))
    return _submission_result(spec, prepared, submission, hidden, functions,
                              [checks.error(p, message) for p in prepared.plans],
                              started=datetime.now(timezone.utc).isoformat(timespec="seconds"), grading_error=grading_error)


def _outcome(reply, index: int, calls: list, notebooks: notebook.Notebooks | None = None):
    """The decoded Outcome of call `index` of a job, or None when the worker sent none."""
    if reply is None or index not in reply.results:
        return None
    header, arrays = reply.results[index]
    outcome = decode(header, arrays, tuple(".".join(map(str, p)) for p in calls[index]["outputs"]))
    if notebooks is not None and outcome.error:
        outcome.error = notebooks.relocate(outcome.error)
    if notebooks is not None and outcome.stdout:
        outcome.stdout = notebooks.relocate_printed(outcome.stdout)
    return outcome


def _judge_checks(spec: AssignmentSpec, prepared: Prepared, modules: dict, notebooks: notebook.Notebooks,
                  worker, reply, rerun=None) -> list:
    """The checks with their own points, in the order of prepared.plans. `rerun(calls)` runs the
    student's code on other calls, in a child of its own: their Outcomes."""
    index = {(fn.name, case.case_id): i for (fn, case), i in zip(prepared.cases, prepared.case_calls)}
    support = {Path(rel).stem for rel in spec.support}        # the course's modules: not read as the student's
    out = []
    for p, positions in zip(prepared.plans, prepared.plan_calls):
        outcomes = [_outcome(reply, j, prepared.calls) for j in positions]
        kind = p.check.kind
        if kind in checks.STATIC:
            result = _judge_static(p, modules, notebooks, support)
            if result.passed:          # and as it ran: the lines that ran once per row, autograd however reached
                runs = [(case, _outcome(reply, index[(fn.name, case.case_id)], prepared.calls))
                        for fn, case in prepared.cases if fn.name == p.fn.name]
                if kind == "no_loops":
                    path = modules.get(p.fn.module)
                    result = checks.judge_repeats(p, runs, _source(p.fn.module, modules, notebooks),
                                                  Path(path).name if path else "") or result
                else:
                    result = checks.judge_autograd_run(p, runs, _source(p.fn.module, modules, notebooks)) or result
            out.append(result)
        elif kind == "gradient":
            result = checks.judge_gradient(p, outcomes)
            if rerun is not None and checks.in_float32(p, result, outcomes):
                try:             # float32's step, in a child of its own: only for such an answer
                    result = checks.judge_gradient(p, outcomes, float32=rerun(p.later))
                except WorkerError:
                    pass
            out.append(result)
        elif kind == "agrees_with":
            own = [_outcome(reply, index[(p.fn.name, call.case.case_id)], prepared.calls) for call in p.calls]
            # either of the two versions computing in float32 makes them agree at float32's precision
            float32 = compare.Float32Code(lambda p=p: [_source(spec.function(n).module, modules, notebooks)
                                                       for n in (p.fn.name, p.check.function)])
            for o in own + outcomes:
                if o is not None:
                    o.float32_code = float32
            out.append(checks.judge_agreement(p, own, outcomes, spec.framework))
        else:
            try:
                reference = prepared.reference_timings(spec, worker, p)
            except WorkerError:
                reference = []
            again = []
            if rerun is not None and checks.time_again(p, outcomes, reference, spec.framework):
                calls = checks.timing_calls(spec, p)          # new inputs: none a file left by the first child knows
                try:             # the student's calls, then the reference's, one after the other
                    again.append((rerun(calls), reference_timed(spec, p, calls, worker)))
                except WorkerError:
                    pass
            out.append(checks.judge_speed(p, outcomes, reference, spec.framework, again))
    return out


def _judge_static(p, modules: dict, notebooks: notebook.Notebooks, support: set = frozenset()):
    """A static check on the student's source: the module file, or the code kept from their notebook
    (its lines then named by cell); and the helpers it calls from the submission's other files, not
    from the course's `support` modules (a3_helper: not the student's code)."""
    m = p.fn.module
    if m in notebooks.sources:
        file = notebooks.files[m]
        cells = notebooks.modules[file].cells

        def place(line: int) -> str:
            found = notebook.where(cells, line)
            return f"cell {found[0]}, line {found[1]}" if found else f"line {line}"
        path = modules.get(m)
        # the helpers it imports from the submission's .py files beside the notebook are read too (a
        # nineteenth red team's notebook called a helpers.py that used map, and passed)
        return checks.judge_static(p.fn, p.check, notebooks.sources[m], file, place,
                                   others=_beside(Path(path).parent, support) if path else None)
    path = modules.get(m)
    try:
        large = bool(path) and Path(path).stat().st_size > MAX_MODULE
    except OSError:
        large = False
    if large:                            # not read into this process: its own cases say what it comes to
        return checks.error(p, f"{m}.py is over {MAX_MODULE >> 20} MiB: its code was not read, so it could not be "
                                  "checked")
    return checks.judge_static(p.fn, p.check, _source(m, modules, notebooks), f"{m}.py",
                               others=_beside(Path(path).parent, support) if path else None)


def _beside(folder: Path, support: set):
    """The source of another module of the submission, `name.py` in its folder, or None (a library's
    name, the course's support module, a file that is not there): what the static checks follow a
    helper into. A file over checks.MAX_PARSED is checks.TooLarge: a check that cannot read what the
    function calls cannot pass."""
    def source(name: str) -> str | None:
        path = folder / f"{name}.py"
        if not name.isidentifier() or name in support or not path.is_file():
            return None
        try:
            return checks.read_code(path)
        except OSError:
            return None                  # unreadable, or gone since: not followed (its own cases say why)
    return source


__all__ = ["grade_submission", "spec_for", "select_cases", "expected_outputs", "HiddenUnavailable", "SpecError"]

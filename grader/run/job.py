"""A worker's job: the calls to make (each a case's steps on its arguments) and the files to use.

    >>> calls, inputs = job_calls(spec, [(fn, case) for fn, case in cases])
    >>> job = build_job(spec, calls, modules, submission)

Every array of every call goes into one list, `inputs`, that the calls refer to by index (sent
once per job as raw bytes); everything else is JSON. The same job form runs the student's code,
the reference and the catalogued mistakes (grader/run/execute.py runs each call).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader import values
from grader.cases import Case
from grader.spec import AssignmentSpec, FunctionSpec


@dataclass(frozen=True)
class Call:
    """One call of a job: a function's case, run with its own steps (by default the case's) and
    sending back the named outputs (by default the function's)."""

    fn: FunctionSpec
    case: Case
    steps: tuple | None = None
    outputs: tuple | None = None             # output names (paths as written)
    timed: bool = False                      # a faster_than check's: its duration is compared

    @property
    def run_steps(self) -> tuple:
        return self.steps if self.steps is not None else self.fn.steps_for(self.case.spec)

    @property
    def output_names(self) -> tuple:
        return self.outputs if self.outputs is not None else tuple(o.name for o in self.fn.outputs)


def as_call(item) -> Call:
    return item if isinstance(item, Call) else Call(fn=item[0], case=item[1])


def job_calls(spec: AssignmentSpec, items) -> tuple[list[dict], list[np.ndarray]]:
    """The calls of a job ((FunctionSpec, Case) pairs or Calls), with their arrays in one list."""
    inputs: list[np.ndarray] = []
    sent: dict = {}                          # an array several calls share goes once
    modules = set(spec.modules) | {Path(rel).stem for rel in spec.scenarios}
    calls = []
    for item in items:
        call = as_call(item)
        fn, case, steps = call.fn, call.case, call.run_steps
        read = {name for s in steps for name in s.reads}
        needs = [fn.module] + sorted(m for m in modules & read if m != fn.module)
        outputs = [list(values.parse_path(o)) for o in call.output_names]
        calls.append({"function": fn.name, "module": fn.module, "case": case.case_id,
                      "args": [[name, values.to_wire(value, inputs, sent)] for name, value in case.args.items()],
                      "dims": dict(case.dims), "steps": [s.as_job() for s in steps], "outputs": outputs,
                      "checks": list(fn.checks), "seed": case_seed(case), "needs": needs})
        taken = taken_after(steps, outputs)
        if any(k is not None for k in taken):
            calls[-1]["taken"] = taken
        kinds = {c.kind for c in fn.scored_checks}
        watch = ["lines"] * ("no_loops" in kinds) + ["autograd"] * ("no_autograd" in kinds)
        if watch and not isinstance(item, Call):
            calls[-1]["trace"] = watch       # a case (not a timed call): its lines counted, its autograd watched
        if isinstance(item, Call) and item.timed:
            calls[-1]["timed"] = True
    return calls, inputs


def later_parts(spec: AssignmentSpec, items: list, public: int) -> list[list[int]]:
    """Where the calls of a job (job_calls's `items`) are held back from its child, as job["later"]
    (supervise.held_back): [B, K] pairs, each the first call of a part that reaches the child only
    once the grader has the result of every call before it, and how many of the job's inputs the
    calls before it use. A part begins at the first hidden call (`public`): the child holds no
    hidden input while what it prints and raises in public cases is shown. And one begins at each
    timed call (faster_than's): its inputs reach the child only when its turn comes, so no code of
    the student's can compute its answer outside its time, at import or in an earlier call (a red
    team walked the frames up to the harness's calls from a hidden case, drew the timed inputs and
    ran the naive loops there; the timed call looked the answer up). And one begins after each timed
    call: the child asks for it once the timed call's result is sent, and waits, so that the
    grader's count of the call's CPU time (supervise's `cpu`) ends with the result and takes in no
    call that follows (after the last call, a part of no calls: the child asks for it all the same,
    alive until the grader has counted)."""
    timed = {i for i, item in enumerate(items) if isinstance(item, Call) and item.timed}
    starts = timed | {i + 1 for i in timed}
    if public < len(items):
        starts.add(public)
    return [[b, len(job_calls(spec, items[:b])[1])] for b in sorted(starts)]


def taken_after(steps: tuple, outputs: list) -> list:
    """For each output path, the step after which its value is taken (encoded, its arrays copied),
    or None for after the last step. An output that a step binds and no later step names is what
    that step returned: taken then, a later step cannot change it through an alias (a forward that
    returns its cache as `out`, which the backward then changes; a dropout that returns the same
    buffer from two calls, whose first answer would be read as the second's). An output that later
    steps name (a model trained by them, a dict argument updated) is taken after the last."""
    taken = []
    for path in outputs:
        bound = [k for k, s in enumerate(steps) if path[0] in s.binds]
        k = bound[-1] if bound else None
        later = k is not None and any(path[0] in s.reads for s in steps[k + 1:])
        taken.append(k if k is not None and k < len(steps) - 1 and not later else None)
    return taken


def case_seed(case: Case) -> int:
    """The seed every random generator starts from in a case's call (the student's and the reference's)."""
    return int.from_bytes(hashlib.sha256(f"{case.function}/{case.spec.seed}/generators".encode()).digest()[:4], "little")


def build_job(spec: AssignmentSpec, calls: list[dict], modules: dict, submission: Path, notebooks=None) -> dict:
    """The worker's job: the calls, the module files, the code converted from notebooks, and the
    assignment's support and scenario files.

    A module whose notebook did not convert gets no path: the grader reports its error itself."""
    from grader.notebook import Notebooks
    notebooks = notebooks or Notebooks()
    submission = Path(submission)
    folder = submission.resolve() if submission.is_dir() else submission.resolve().parent
    lim = spec.limits
    modules = {m: (None if m in notebooks.errors else path) for m, path in modules.items()}
    return {"framework": spec.framework, "submission_dir": str(folder), "modules": modules, "calls": calls,
            "sources": notebooks.sources, "support": spec.support_files(), "scenarios": spec.scenario_sources(),
            "limits": {"case_timeout": lim.case_timeout, "import_timeout": lim.import_timeout, "memory": lim.memory, "disk": lim.disk,
                       "skip_after_timeouts": lim.skip_after_timeouts, "submission_timeout": lim.submission_timeout,
                       "n_calls": len(calls)}}

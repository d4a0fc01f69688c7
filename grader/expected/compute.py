"""Running the reference implementation (trusted) to get the expected outputs.

The reference runs each case's steps exactly as the student's code does (grader/run/execute.py),
on its own chain: a backward function's expected outputs come from the reference's forward and the
reference's cache. `grader check` and `grader grade` have their worker run it, in a child of its
own (`from_worker`), so that the grader's process never imports torch; it runs in the grader's own
process (it is trusted code) when the worker fails, and for the Python API's callers without a
worker (`grader release`, the pytest plugin). The catalogued mistakes (mistakes.py) run the same way.

Expected outputs are Outcomes (grader/run/outcome.py): {(function, case id): the reference's Outcome}.
"""
from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from pathlib import Path

from grader.cases import Case
from grader.run import execute
from grader.run.job import as_call, build_job, job_calls, later_parts
from grader.run.outcome import Outcome, decode
from grader.spec import AssignmentSpec, FunctionSpec, SpecError


class ReferenceError_(Exception):
    """The reference implementation failed on a case: a bug in the assignment, not the student's."""


# ---------------------------------------------------------------------------------------------
# Running the reference (or a variant of it) in this process


@contextlib.contextmanager
def support_path(spec: AssignmentSpec):
    """The assignment's support modules importable here, as the child has them, for the block; the
    modules imported from them are forgotten after it (another assignment may ship its own)."""
    files = spec.support_files()
    if not files:
        yield
        return
    folder = tempfile.mkdtemp(prefix="grader-support-")
    before = set(sys.modules)
    try:
        for rel, text in files.items():
            target = Path(folder) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        sys.path.insert(0, folder)
        yield
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
        for name in set(sys.modules) - before:
            if getattr(sys.modules[name], "__file__", None) and str(sys.modules[name].__file__).startswith(folder):
                del sys.modules[name]
        shutil.rmtree(folder, ignore_errors=True)


def run_in_process(spec: AssignmentSpec, items, sources: dict | None = None, label: str = "") -> list[Outcome]:
    """The Outcome of each call (Calls or (FunctionSpec, Case) pairs) run on the reference's modules
    in this process; `sources` ({module: code}) runs that code instead of a module's file (a
    catalogued mistake, `label` naming it in tracebacks)."""
    calls = [as_call(item) for item in items]
    wire, inputs = job_calls(spec, calls)
    with support_path(spec):
        modules = {m: _import_reference(spec, m, (sources or {}).get(m), label) for m in spec.modules}
        scenarios = {name: _module_from_source(f"_grader_scenario_.{spec.name}.{name}", str(spec.folder / f"{name}.py"), src)
                     for name, src in spec.scenario_sources().items()}
        torch = _torch() if spec.framework == "torch" else None
        ctx = execute.Context(modules=modules, scenarios=scenarios, torch=torch)   # exceptions: type and message
        out = []
        for call, c in zip(calls, wire):
            header, arrays = execute.run_call(c, inputs, ctx)
            out.append(decode(header, arrays, call.output_names))
    return out


def from_reference(spec: AssignmentSpec, cases: list[tuple[FunctionSpec, Case]]) -> dict:
    """{(function, case_id): the reference's Outcome} computed in this process."""
    try:
        outcomes = run_in_process(spec, cases)
    except SpecError:
        raise
    except Exception as e:       # the reference's module itself failed to import
        raise ReferenceError_(f"{spec.reference_dir}: the reference could not be imported: "
                              f"{type(e).__name__}: {(str(e).splitlines() or [''])[0]}") from e
    return {(fn.name, case.case_id): _checked(spec, fn, case, outcome) for (fn, case), outcome in zip(cases, outcomes)}


def _checked(spec: AssignmentSpec, fn: FunctionSpec, case: Case, outcome: Outcome) -> Outcome:
    """The reference's outcome when it returned; a ReferenceError_ saying what went wrong otherwise."""
    path = spec.reference_dir / f"{fn.module}.py"
    if outcome.ok:
        return outcome
    err = outcome.error or {}
    if outcome.status == "exception" and err.get("type") == "NotImplementedError":
        raise _not_written(path, fn)
    if outcome.status == "missing_function":
        raise ReferenceError_(f"{path}: the reference has no function {outcome.name or fn.name}")
    if outcome.status == "import_error":
        raise ReferenceError_(f"{path}: the reference could not be imported: {err.get('type', '')}: {err.get('message', '')}")
    what = f"{err['type']}: {(str(err.get('message', '')).splitlines() or [''])[0]}" if err.get("type") \
        else outcome.status + (f" ({outcome.returned})" if outcome.returned else "")
    steps = fn.steps_for(case.spec)
    step = steps[outcome.step] if outcome.step is not None and 0 <= outcome.step < len(steps) else None
    where = f" in `{step.text}`" if step is not None and len(steps) > 1 else ""
    raise ReferenceError_(f"{path}: the reference {fn.name} failed: {what}{where} on {case.case_id} (seed {case.spec.seed})")


def _not_written(path: Path, fn: FunctionSpec) -> ReferenceError_:
    return ReferenceError_(f"{path}: {fn.name} is not written yet (it raises NotImplementedError): write the "
                           "reference solution between # BEGIN SOLUTION and # END SOLUTION")


# ---------------------------------------------------------------------------------------------
# Running the reference (or a variant) in a worker's child


# The reference's own limits in a worker: it is trusted, and a slow reference (a large case of a
# faster_than check) is the assignment's business, not a time limit's. The memory limit stays.
REFERENCE_TIMEOUT = 120.0


def run_reference(spec: AssignmentSpec, items, worker, sources: dict | None = None, variants: tuple | None = None):
    """The worker's reply to the reference's calls, run in a child of its own (the student's child
    never has the reference); `sources` ({module: code}) stands for module files. With `variants`
    (([{module: code}, ...], the variant of each call)), the calls of several variants run in the
    one job, each on its own modules (harness.run imports a variant's when its first call comes):
    one child where there were many."""
    calls, inputs = job_calls(spec, items)
    modules = {m: str(spec.reference_dir / f"{m}.py") for m in spec.modules}
    job = build_job(spec, calls, modules, spec.reference_dir)
    job["sources"] = sources or {}
    # Each timed call in a part of its own, as in a student's job: the grader's count of its CPU time
    # (supervise's `cpu`) is then taken the same way for both (checks.counted_times).
    parts = later_parts(spec, list(items), len(items))
    if parts:
        job["later"] = parts
    limits = job["limits"]
    if variants is not None:
        job["variants"], which = variants
        for call, k in zip(calls, which):
            call["variant"] = k
        # A variant's time-out must not skip the other variants' calls of the same function.
        job["limits"] = {**limits, "skip_after_timeouts": 0}
    elif not sources:                  # the reference itself
        job["limits"] = {**limits, "case_timeout": max(limits["case_timeout"], REFERENCE_TIMEOUT),
                         "import_timeout": max(limits["import_timeout"], REFERENCE_TIMEOUT), "skip_after_timeouts": 0}
    return worker.run(job, inputs)


def variants_in_worker(spec: AssignmentSpec, groups: list, worker) -> list[list[Outcome]]:
    """in_worker for several variants at once, in one job ([(sources, items)] -> an Outcome list per
    group); raises WorkerError when the worker fails."""
    calls = [[as_call(item) for item in items] for _, items in groups]
    which = [k for k, group in enumerate(calls) for _ in group]
    flat = in_worker(spec, [c for group in calls for c in group], worker, raise_worker_errors=True,
                     variants=([sources for sources, _ in groups], which))
    out, at = [], 0
    for group in calls:
        out.append(flat[at:at + len(group)])
        at += len(group)
    return out


def in_worker(spec: AssignmentSpec, items, worker, sources: dict | None = None,
              raise_worker_errors: bool = False, variants: tuple | None = None) -> list[Outcome]:
    """The reference's Outcome on each call, computed by `worker` in a child of its own, so that
    this process never imports torch. A worker that fails raises WorkerError (`raise_worker_errors`,
    for a caller that has another way), or gives Outcomes of status "crashed"."""
    from grader.run.worker import WorkerError
    calls = [as_call(item) for item in items]
    try:
        reply = run_reference(spec, calls, worker, sources, variants)
    except WorkerError as e:
        if raise_worker_errors:
            raise
        return [Outcome(status="crashed", error={"message": str(e)}) for _ in calls]
    imported = reply.imported if isinstance(reply.imported, dict) else {}
    errors = imported.get("errors") or {}
    out = []
    for index, call in enumerate(calls):
        header, arrays = reply.results.get(index, ({"status": "crashed"}, []))
        outcome = decode(header, arrays, call.output_names)
        if outcome.status == "import_error" and not outcome.error:
            outcome.error = errors.get(outcome.module or call.fn.module) or {}
        out.append(outcome)
    return out


def from_worker(spec: AssignmentSpec, cases: list[tuple[FunctionSpec, Case]], worker) -> dict:
    """from_reference's outcomes, computed by `worker` (see in_worker), with its errors; computed in
    this process instead when the worker itself fails (it could not start, say)."""
    from grader.run.worker import WorkerError
    try:
        outcomes = in_worker(spec, cases, worker, raise_worker_errors=True)
    except WorkerError:
        return from_reference(spec, cases)
    return {(fn.name, case.case_id): _checked(spec, fn, case, outcome) for (fn, case), outcome in zip(cases, outcomes)}


def _import_reference(spec: AssignmentSpec, module: str, source: str | None = None, label: str = ""):
    path = spec.reference_dir / f"{module}.py"
    if not path.is_file():
        raise SpecError(spec.folder / "hidden.yaml", "reference", f"{path} does not exist")
    name = f"_grader_reference_.{spec.name}.{label or 'reference'}.{module}"
    if source is None:
        source = path.read_text(encoding="utf-8")
    sys.path.insert(0, str(spec.reference_dir))     # reference modules may import each other
    try:
        return _module_from_source(name, str(path) + (f" [{label}]" if label else ""), source)
    finally:
        sys.path.remove(str(spec.reference_dir))


def _module_from_source(name: str, filename: str, source: str):
    import types
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


def _torch():
    try:
        import torch
    except ImportError:
        raise SpecError("torch", "", "this assignment needs PyTorch: pip install 'grader[torch]'") from None
    return torch

"""Expected outputs: from the reference implementation (trusted), or from the handout's file.

The reference runs each case's steps exactly as the student's code does (run/execute.py), on its
own chain: a backward function's expected outputs come from the reference's forward and the
reference's cache. In the instructor's checkout it runs in the grader's own process (it is
trusted code); a batch has a worker run it instead, in a child of its own (`from_worker`), so
that the grader's process never imports torch. A student's handout has no reference: it carries
`expected_public.json`, the reference's outputs on the public cases only, with a digest of each
case's inputs so that a stale or mismatched file is caught instead of misgrading.

Expected outputs are Outcomes (outcome.py): {(function, case id): the reference's Outcome}.
"""
from __future__ import annotations

import contextlib
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from . import values
from .cases import Case
from .job import as_call, build_job, job_calls
from .outcome import Outcome, Raised, decode
from .run import execute
from .spec import EXPECTED_FILE, AssignmentSpec, FunctionSpec, SpecError

FORMAT = "grader-expected/2"
OLD_FORMAT = "grader-expected/1"          # flat outputs, in return order: still read


class ReferenceError_(Exception):
    """The reference implementation failed on a case: a bug in the assignment, not the student's."""


def inputs_digest(case: Case) -> str:
    return values.digest(case.args)


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
            target.write_text(text)
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
        ctx = execute.Context(modules=modules, scenarios=scenarios, torch=torch, describe=_describe)
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


def run_reference(spec: AssignmentSpec, items, worker, sources: dict | None = None):
    """The worker's reply to the reference's calls, run in a child of its own (the student's child
    never has the reference); `sources` ({module: code}) stands for module files."""
    calls, inputs = job_calls(spec, items)
    modules = {m: str(spec.reference_dir / f"{m}.py") for m in spec.modules}
    job = build_job(spec, calls, modules, spec.reference_dir)
    job["sources"] = sources or {}
    return worker.run(job, inputs)


def in_worker(spec: AssignmentSpec, items, worker, sources: dict | None = None) -> list[Outcome]:
    """The reference's Outcome on each call, computed by `worker` in a child of its own, so that
    this process never imports torch. A worker that fails gives Outcomes of status "crashed"."""
    from .run.worker import WorkerError
    calls = [as_call(item) for item in items]
    try:
        reply = run_reference(spec, calls, worker, sources)
    except WorkerError as e:
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
    """from_reference's outcomes, computed by `worker` (see in_worker), with its errors."""
    return {(fn.name, case.case_id): _checked(spec, fn, case, outcome)
            for (fn, case), outcome in zip(cases, in_worker(spec, cases, worker))}


# ---------------------------------------------------------------------------------------------
# The handout's file


def write_public(spec: AssignmentSpec, cases: list[tuple[FunctionSpec, Case]], expected: dict, folder: Path,
                 mistakes=None) -> Path:
    """Write the public cases' expected outputs for a handout, and what each catalogued mistake
    returns on them (so that a self-check can name the mistake). Hidden cases are refused."""
    functions: dict = {}
    for fn, case in cases:
        if case.spec.visibility != "public":
            raise ValueError(f"{fn.name} {case.case_id} is hidden: it never goes into a handout")
        outcome = expected[(fn.name, case.case_id)]
        entry = functions.setdefault(fn.name, {})[case.case_id] = {
            "seed": case.spec.seed,
            "inputs_sha256": inputs_digest(case),
            "outputs": {o.name: values.tree_to_json(outcome.outputs[o.name]) for o in fn.outputs},
            "via": {o.name: list(outcome.via.get(o.name, ())) for o in fn.outputs if outcome.via.get(o.name)},
        }
        if not entry["via"]:
            del entry["via"]
        if mistakes is not None:
            entry["mistakes"] = [{"name": name, "sentence": sentence, **_variant_json(fn, outs)}
                                 for name, sentence, outs in mistakes.candidates(fn, case) if outs is not None]
    path = folder / EXPECTED_FILE
    doc = {"format": FORMAT, "assignment": spec.name, "functions": functions}
    text = json.dumps(doc, indent=1, allow_nan=False)
    # One line per array of numbers keeps the file readable and diffable, and a third the size.
    text = re.sub(r"\[\s*(-?[0-9][0-9.eE+-]*(?:,\s*-?[0-9][0-9.eE+-]*)*)\s*\]",
                  lambda m: "[" + re.sub(r",\s*", ", ", m.group(1)) + "]", text)
    path.write_text(text + "\n")
    return path


def _variant_json(fn: FunctionSpec, outs) -> dict:
    if isinstance(outs, Raised):
        return {"raised": {"type": outs.type, "message": outs.message}}
    return {"outputs": {o.name: values.tree_to_json(outs[o.name]) for o in fn.outputs if o.name in outs}}


def from_file(spec: AssignmentSpec, cases: list[tuple[FunctionSpec, Case]]) -> dict:
    """Expected outputs of public cases, read from the handout's expected_public.json."""
    path = spec.expected_path
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise SpecError(path, "", "missing: a handout needs the expected outputs of its public cases "
                                  "(the instructor makes it with `grader release`)") from None
    except (OSError, json.JSONDecodeError) as e:
        raise SpecError(path, "", f"unreadable: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") not in (FORMAT, OLD_FORMAT) or doc.get("assignment") != spec.name:
        raise SpecError(path, "format", f"not the expected outputs of {spec.name} ({FORMAT})")
    out = {}
    for fn, case in cases:
        entry = doc.get("functions", {}).get(fn.name, {}).get(case.case_id)
        where = f"functions.{fn.name}.{case.case_id}"
        if entry is None:
            raise SpecError(path, where, "no expected outputs for this case; the handout is out of date")
        if entry.get("seed") != case.spec.seed or entry.get("inputs_sha256") != inputs_digest(case):
            raise SpecError(path, where, "made for different inputs than this machine generates "
                                         "(the spec changed, or a different grader version); ask for an updated handout")
        try:
            outputs = _outputs_from_json(fn, entry["outputs"])
        except (KeyError, TypeError, ValueError):
            raise SpecError(path, where, "unreadable outputs; ask for an updated handout") from None
        via = {name: tuple(v) for name, v in (entry.get("via") or {}).items()}
        out[(fn.name, case.case_id)] = Outcome(status="returned", outputs=outputs, via=via)
    return out


def _outputs_from_json(fn: FunctionSpec, data) -> dict:
    """{output name: tree} from a /2 entry (a mapping by name) or a /1 one (a list in output order)."""
    if isinstance(data, list):
        return {o.name: values.Leaf(kind="ndarray", type="ndarray", array=np.array(d["data"], dtype=np.float64).reshape(d["shape"]))
                for o, d in zip(fn.outputs, data)}
    return {o.name: values.tree_from_json(data[o.name]) for o in fn.outputs if o.name in data}


def public_mistakes(spec: AssignmentSpec) -> dict:
    """The handout's record of what each mistake returns on the public cases: {function: {case id:
    [(name, sentence, outputs)]}} ({} if none)."""
    try:
        doc = json.loads(spec.expected_path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict):
        return {}
    out: dict = {}
    for fname, cases in (doc.get("functions") or {}).items():
        try:
            fn = spec.function(fname)
        except KeyError:
            continue
        for case_id, entry in cases.items():
            found = []
            for m in entry.get("mistakes", []):
                try:
                    outs = Raised(str(m["raised"]["type"]), str(m["raised"]["message"])) if "raised" in m \
                        else _outputs_from_json(fn, m["outputs"])
                    found.append((m["name"], m["sentence"], outs))
                except (KeyError, TypeError, ValueError):
                    continue
            out.setdefault(fname, {})[case_id] = found
    return out


# ---------------------------------------------------------------------------------------------


def _import_reference(spec: AssignmentSpec, module: str, source: str | None = None, label: str = ""):
    path = spec.reference_dir / f"{module}.py"
    if not path.is_file():
        raise SpecError(spec.folder / "hidden.yaml", "reference", f"{path} does not exist")
    name = f"_grader_reference_.{spec.name}.{label or 'reference'}.{module}"
    if source is None:
        source = path.read_text()
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


def _describe(e: BaseException) -> dict:
    return {"kind": "exception", "type": type(e).__name__, "message": str(e)[:2000]}


def _torch():
    try:
        import torch
    except ImportError:
        raise SpecError("torch", "", "this assignment needs PyTorch: pip install 'grader[torch]'") from None
    return torch

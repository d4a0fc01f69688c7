"""Expected outputs: from the reference implementation (trusted), or from the handout's file.

In the instructor's checkout the reference is imported in the grader's own process (it is
trusted code) and called on the case inputs; a batch has a worker run it instead, in a child
of its own (`from_worker`), so that the grader's process never imports torch. A student's
handout has no reference: it carries `expected_public.json`, the reference's outputs on the
public cases only, with a digest of each case's inputs so that a stale or mismatched file is
caught instead of misgrading.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import sys
from pathlib import Path

import numpy as np

from .cases import Case
from .spec import EXPECTED_FILE, AssignmentSpec, FunctionSpec, SpecError

FORMAT = "grader-expected/1"


class ReferenceError_(Exception):
    """The reference implementation failed on a case: a bug in the assignment, not the student's."""


def inputs_digest(case: Case) -> str:
    h = hashlib.sha256()
    for name, value in case.args.items():
        a = np.asarray(value)
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def from_reference(spec: AssignmentSpec, cases: list[tuple[FunctionSpec, Case]]) -> dict:
    """{(function, case_id): [expected arrays, in output order]} computed by the reference."""
    modules = {}
    out = {}
    for fn, case in cases:
        if fn.module not in modules:
            modules[fn.module] = _import_reference(spec, fn.module)
        path = spec.reference_dir / f"{fn.module}.py"
        if getattr(modules[fn.module], fn.name, None) is None:
            raise ReferenceError_(f"{path}: the reference has no function {fn.name}")
        try:
            out[(fn.name, case.case_id)] = call_reference(modules[fn.module], fn, case, spec.framework)
        except NotImplementedError:     # a new assignment (grader new) before its reference is written
            raise _not_written(path, fn) from None
        except Exception as e:
            what = (str(e).splitlines() or [""])[0]
            raise ReferenceError_(f"{path}: the reference {fn.name} raised {type(e).__name__}: {what} "
                                  f"on {case.case_id} (seed {case.spec.seed})") from e
    return out


def run_reference(spec: AssignmentSpec, cases: list[tuple[FunctionSpec, Case]], worker, sources: dict | None = None):
    """The worker's reply to the reference's calls on `cases`, run in a child of its own (the
    student's child never has the reference); `sources` ({module: code}) stands for module files."""
    from .grade import build_job, job_calls
    calls, inputs = job_calls(cases)
    modules = {m: str(spec.reference_dir / f"{m}.py") for m in spec.modules}
    job = build_job(spec, calls, modules, spec.reference_dir)
    job["sources"] = sources or {}
    return worker.run(job, inputs)


def _not_written(path: Path, fn: FunctionSpec) -> ReferenceError_:
    return ReferenceError_(f"{path}: {fn.name} is not written yet (it raises NotImplementedError): write the "
                           "reference solution between # BEGIN SOLUTION and # END SOLUTION")


def in_worker(spec: AssignmentSpec, cases: list[tuple[FunctionSpec, Case]], worker,
              sources: dict | None = None) -> list[tuple[list[np.ndarray] | None, str]]:
    """The reference's outputs on `cases`, computed by `worker` in a child of its own, so that this
    process never imports torch: [(outputs as float64 arrays, "") or (None, what went wrong)].

    `sources` ({module: code}) runs that code instead of the module's file: a catalogued mistake."""
    from .run.worker import WorkerError
    try:
        reply = run_reference(spec, cases, worker, sources)
    except WorkerError as e:
        return [(None, str(e))] * len(cases)
    imported = reply.imported if isinstance(reply.imported, dict) else {}
    errors = imported.get("errors") or {}
    out = []
    for index, (fn, case) in enumerate(cases):
        header, arrays = reply.results.get(index, ({"status": "not run"}, []))
        status = header.get("status")
        error = header.get("error") or errors.get(fn.module) or {}
        if status == "returned" and all("array" in v for v in header.get("values", ())):
            out.append(([np.asarray(arrays[v["array"]], dtype=np.float64) for v in header["values"]], ""))
        elif status == "missing_function":
            out.append((None, f"the reference has no function {fn.name}"))
        elif status == "exception" and error.get("type") == "NotImplementedError":
            out.append((None, "not_implemented"))
        else:
            what = f"{error['type']}: {(str(error.get('message', '')).splitlines() or [''])[0]}" if error.get("type") \
                else f"{status}" + (f" ({header['returned']})" if header.get("returned") else "")
            out.append((None, f"{what} on {case.case_id} (seed {case.spec.seed})"))
    return out


def from_worker(spec: AssignmentSpec, cases: list[tuple[FunctionSpec, Case]], worker) -> dict:
    """from_reference's outputs, computed by `worker` (see in_worker), with its errors."""
    out = {}
    for (fn, case), (outputs, problem) in zip(cases, in_worker(spec, cases, worker)):
        path = spec.reference_dir / f"{fn.module}.py"
        if problem == "not_implemented":
            raise _not_written(path, fn)
        if outputs is None:
            raise ReferenceError_(f"{path}: {problem}" if problem.startswith("the reference has no")
                                  else f"{path}: the reference {fn.name} failed: {problem}")
        out[(fn.name, case.case_id)] = outputs
    return out


def call_reference(module, fn: FunctionSpec, case: Case, framework: str) -> list[np.ndarray]:
    """Call trusted code (the reference, or a catalogued mistake) on a case: outputs as float64 arrays."""
    torch = _torch() if framework == "torch" else None
    args = [torch.from_numpy(v.copy()) if torch is not None and isinstance(v, np.ndarray)
            else (v.copy() if isinstance(v, np.ndarray) else v) for v in case.args.values()]
    returned = getattr(module, fn.name)(*args)
    values = list(returned) if len(fn.outputs) > 1 else [returned]
    return [np.asarray(v.detach().cpu().numpy() if torch is not None and isinstance(v, torch.Tensor) else v,
                       dtype=np.float64) for v in values]


def write_public(spec: AssignmentSpec, cases: list[tuple[FunctionSpec, Case]], expected: dict, folder: Path,
                 mistakes=None) -> Path:
    """Write the public cases' expected outputs for a handout, and what each catalogued mistake
    returns on them (so that a self-check can name the mistake). Hidden cases are refused."""
    functions: dict = {}
    arrays = lambda outs: [{"name": o.name, "shape": list(a.shape), "data": a.ravel().tolist()}
                           for o, a in zip(fn.outputs, outs)]
    for fn, case in cases:
        if case.spec.visibility != "public":
            raise ValueError(f"{fn.name} {case.case_id} is hidden: it never goes into a handout")
        entry = functions.setdefault(fn.name, {})[case.case_id] = {
            "seed": case.spec.seed,
            "inputs_sha256": inputs_digest(case),
            "outputs": arrays(expected[(fn.name, case.case_id)]),
        }
        if mistakes is not None:
            entry["mistakes"] = [{"name": name, "sentence": sentence, "outputs": arrays(outs)}
                                 for name, sentence, outs in mistakes.candidates(fn, case)
                                 if outs is not None and all(np.isfinite(a).all() for a in outs)]
    path = folder / EXPECTED_FILE
    doc = {"format": FORMAT, "assignment": spec.name, "functions": functions}
    text = json.dumps(doc, indent=1, allow_nan=False)
    # One line per array of numbers keeps the file readable and diffable, and a third the size.
    text = re.sub(r"\[\s*(-?[0-9][0-9.eE+-]*(?:,\s*-?[0-9][0-9.eE+-]*)*)\s*\]",
                  lambda m: "[" + re.sub(r",\s*", ", ", m.group(1)) + "]", text)
    path.write_text(text + "\n")
    return path


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
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("assignment") != spec.name:
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
        arrays = []
        for o, data in zip(fn.outputs, entry["outputs"]):
            arrays.append(np.array(data["data"], dtype=np.float64).reshape(data["shape"]))
        out[(fn.name, case.case_id)] = arrays
    return out


def public_mistakes(spec: AssignmentSpec) -> dict:
    """The handout's record of what each mistake returns on the public cases ({} if none)."""
    try:
        doc = json.loads(spec.expected_path.read_text())
    except (OSError, ValueError):
        return {}
    return doc.get("functions", {}) if isinstance(doc, dict) else {}


def _import_reference(spec: AssignmentSpec, module: str):
    path = spec.reference_dir / f"{module}.py"
    if not path.is_file():
        raise SpecError(spec.folder / "hidden.yaml", "reference", f"{path} does not exist")
    name = f"_grader_reference_.{spec.name}.{module}"
    loader_spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = mod
    sys.path.insert(0, str(spec.reference_dir))     # reference modules may import each other
    try:
        loader_spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(spec.reference_dir))
    return mod


def _torch():
    try:
        import torch
    except ImportError:
        raise SpecError("torch", "", "this assignment needs PyTorch: pip install 'grader[torch]'") from None
    return torch

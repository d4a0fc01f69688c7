"""What runs inside the forked child: import the student's modules, call their functions.

This is the only place where student code executes. Everything it sends back goes through
`protocol.encode`: outputs become plain arrays here, in the child, and the trusted grader
decodes bytes and compares. Every exception, `SystemExit` and `KeyboardInterrupt` included,
becomes a value with the student's file and line.
"""
from __future__ import annotations

import importlib.util
import io
import linecache
import os
import sys
import time
import traceback
import types

import numpy as np

from . import protocol

OUTPUT_CAP = 8 << 10                 # characters of printed output kept per case
REPR_CAP = 200


def run(job: dict, inputs: list, start: int, skip: set, out_fd: int, capture_fd: int,
        preset_errors: dict | None = None) -> None:
    """Import the job's modules and run its calls from index `start`, streaming frames to out_fd.

    With `preset_errors` ({module: error}) nothing is imported: every call reports that error.
    """
    send = lambda header, arrays=(): protocol.write_all(out_fd, protocol.encode(header, arrays))
    torch = _framework(job["framework"])
    folder = job["submission_dir"]
    sys.path.insert(0, folder)
    sys.dont_write_bytecode = True       # no __pycache__ written into the submission

    capture = _Capture(capture_fd)
    modules, errors = {}, dict(preset_errors or {})
    sources = job.get("sources") or {}
    detached = set(job.get("detached") or ())
    by_path: dict = {}                   # a notebook that stands for several modules runs once
    for name, path in job["modules"].items():
        if name in errors:
            continue
        if path is None:
            errors[name] = {"kind": "missing_module", "message": f"{name}.py not found in the submission"}
            continue
        if path in by_path:
            modules[name], error = by_path[path]
            if error:
                errors[name] = error
            continue
        try:
            modules[name] = _import(name, path, sources.get(name), register=name not in detached)
            by_path[path] = (modules[name], None)
        except BaseException as e:  # noqa: BLE001 - SystemExit, KeyboardInterrupt at import are the student's
            errors[name] = _describe(e, folder)
            by_path[path] = (None, errors[name])
    send({"type": "imported", "errors": errors, "stdout": capture.take()})

    for index in range(start, len(job["calls"])):
        call = job["calls"][index]
        if call["function"] in skip:
            continue
        header, arrays = _call(call, inputs, modules, errors, torch, folder)
        header.update(type="result", index=index, stdout=capture.take())
        send(header, arrays)
    send({"type": "done"})


def _call(call: dict, inputs: list, modules: dict, errors: dict, torch, folder: str) -> tuple[dict, list]:
    module = call["module"]
    if module in errors:
        return {"status": "import_error", "error": errors[module]}, []
    fn = getattr(modules[module], call["function"], None)
    if fn is None:
        return {"status": "missing_function"}, []
    if not callable(fn):
        return {"status": "missing_function", "error": {"message": f"{call['function']} is a {type(fn).__name__}, not a function"}}, []

    args = [_to_framework(_value(a, inputs), torch) for a in call["args"]]
    t0 = time.perf_counter()
    try:
        returned = fn(*args)
    except BaseException as e:  # noqa: BLE001
        return {"status": "exception", "error": _describe(e, folder), "duration": time.perf_counter() - t0}, []
    duration = time.perf_counter() - t0

    header = {"status": "returned", "duration": duration}
    n = len(call["outputs"])
    if n == 1 and not isinstance(returned, tuple):
        values = [returned]
    elif isinstance(returned, (tuple, list)) and len(returned) == n:
        values = list(returned)
    else:
        header["status"] = "bad_return"
        header["returned"] = _type_name(returned) + (f" of length {len(returned)}" if isinstance(returned, (tuple, list)) else "")
        return header, []
    header["values"], arrays = [], []
    for v in values:
        meta, array = _plain(v, torch)
        if array is not None:
            meta["array"] = len(arrays)
            arrays.append(array)
        header["values"].append(meta)
    size = sum(a.nbytes for a in arrays)
    if size > protocol.ANSWER_CAP:                                # it could not even be sent back
        shapes = ", ".join(f"{a.dtype} array of shape {a.shape}" for a in arrays if a.nbytes > 1 << 20)
        return {"status": "too_large", "duration": duration, "returned": f"{size / 2**20:.0f} MiB ({shapes})"}, []
    if "no_input_mutation" in call.get("checks", ()):
        # Each array input as the call left it, for the grader to judge, unless it is bit for bit
        # the one received (then only that is said: most calls change nothing, and sending every
        # input back would double the traffic).
        header["inputs_after"] = []
        for spec_arg, arg in zip(call["args"], args):
            if "array" in spec_arg:
                if _same(_view(arg, torch), inputs[spec_arg["array"]]):
                    header["inputs_after"].append({"name": spec_arg["name"], "unchanged": True})
                    continue
                meta, array = _plain(arg, torch)
                if array is not None:
                    meta["array"] = len(arrays)
                    arrays.append(array)
                header["inputs_after"].append({"name": spec_arg["name"], **meta})
    return header, arrays


def _plain(v, torch) -> tuple[dict, np.ndarray | None]:
    """An output as (description, plain array or None). Only real numbers become arrays."""
    meta = {"type": _type_name(v)}
    try:
        if torch is not None and isinstance(v, torch.Tensor):
            meta["kind"] = "tensor"
            t = v.detach().cpu()
            if t.is_complex() or t.dtype == torch.bool:
                meta["kind"] = "other"
                meta["dtype"] = str(t.dtype)
                return meta, None
            a = np.array(t.numpy(), copy=True)
        elif isinstance(v, np.ndarray):
            meta["kind"] = "ndarray"
            a = np.array(v, copy=True)
        elif isinstance(v, bool) or isinstance(v, np.bool_):
            meta["kind"] = "bool"
            return meta, None
        elif isinstance(v, (int, float)):
            meta["kind"] = "python_number"
            a = np.array(float(v) if isinstance(v, float) else v)
            if a.dtype == object:
                return {**meta, "kind": "other"}, None
        elif isinstance(v, np.generic):
            meta["kind"] = "numpy_scalar"
            a = np.array(v)
        else:
            meta["kind"] = "other"
            meta["repr"] = _short_repr(v)
            return meta, None
    except BaseException as e:  # noqa: BLE001 - a hostile object may raise anything
        return {"type": meta["type"], "kind": "other", "repr": f"<conversion failed: {type(e).__name__}>"}, None
    if a.dtype.str not in protocol.ALLOWED_DTYPES or a.dtype == np.bool_:
        meta["kind"] = "other"
        meta["dtype"] = str(a.dtype)
        return meta, None
    return meta, a


def _view(v, torch) -> np.ndarray | None:
    """An input as the call left it, as an ndarray sharing its memory (no copy), or None."""
    try:
        if torch is not None and isinstance(v, torch.Tensor):
            return v.detach().cpu().numpy() if v.dtype != torch.bool and not v.is_complex() else None
        return v if isinstance(v, np.ndarray) else None
    except BaseException:  # noqa: BLE001 - a hostile object may raise anything
        return None


def _same(now: np.ndarray | None, original: np.ndarray) -> bool:
    """Bit for bit the same array. Compared as raw bytes (memcmp, no copy where both are contiguous):
    student code may have replaced numpy's functions (np.array_equal = lambda *a: True), not these."""
    if now is None or now.dtype != original.dtype or now.shape != original.shape:
        return False
    try:
        return memoryview(now).cast("B") == memoryview(original).cast("B")
    except (TypeError, ValueError, BufferError):          # not contiguous: compare copies
        return now.tobytes() == original.tobytes()


def _value(arg: dict, inputs: list):
    if "array" in arg:
        return inputs[arg["array"]]
    return arg["scalar"]


def _to_framework(v, torch):
    """The student's own copy of an input, as a tensor when the assignment uses torch."""
    if isinstance(v, np.ndarray):
        return torch.from_numpy(v.copy()) if torch is not None else v.copy()
    return v


def _import(name: str, path: str, source: str | None = None, register: bool = True):
    """Import a module file; with `source` (converted from the notebook at `path`), run that
    instead, under the notebook's path, so that tracebacks name it and show its lines.

    A source not to `register` (a kernel's cells) stays out of sys.modules: the cells' own
    `from <module> import ...` then finds the student's file, as it did in their kernel."""
    if source is None:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    module = types.ModuleType(name)
    module.__file__ = path
    if register:
        sys.modules[name] = module
    linecache.cache[path] = (len(source), None, io.StringIO(source).readlines(), path)   # no mtime: never reloaded
    exec(compile(source, path, "exec", dont_inherit=True), module.__dict__)
    return module


def _framework(framework: str):
    if framework == "torch":
        import torch
        return torch
    return None


def _describe(e: BaseException, folder: str) -> dict:
    """An exception as data: its type and message, and where in the student's files it arose."""
    info = {"kind": "exception", "type": type(e).__name__}
    try:
        info["message"] = str(e)[:2000]
    except BaseException:  # noqa: BLE001
        info["message"] = "<message could not be shown>"
    folder = os.path.realpath(folder)
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if os.path.realpath(f.filename).startswith(folder + os.sep)]
    if isinstance(e, SyntaxError) and e.filename and os.path.realpath(e.filename).startswith(folder + os.sep):
        info.update(file=os.path.basename(e.filename), line=e.lineno, code=(e.text or "").strip(), message=e.msg)
    elif frames:
        last = frames[-1]
        info.update(file=os.path.basename(last.filename), line=last.lineno, function=last.name,
                    code=(last.line or linecache.getline(last.filename, last.lineno)).strip())
        info["traceback"] = "".join(
            f'  {os.path.basename(f.filename)}, line {f.lineno}, in {f.name}\n    {(f.line or "").strip()}\n' for f in frames)
    return info


def _type_name(v) -> str:
    if v is None:
        return "None"
    t = type(v)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _short_repr(v) -> str:
    try:
        r = repr(v)
    except BaseException:  # noqa: BLE001
        return "<unrepresentable>"
    return r if len(r) <= REPR_CAP else r[:REPR_CAP] + "..."


class _Capture:
    """Reads back what the student printed: fds 1 and 2 point at one file in the scratch folder."""

    def __init__(self, fd: int):
        self._fd = fd
        self._pos = 0

    def take(self) -> str:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001
                pass
        try:
            end = os.lseek(self._fd, 0, os.SEEK_END)
            if end == self._pos:             # nothing printed: the common case, one system call
                return ""
            data = os.pread(self._fd, min(end - self._pos, OUTPUT_CAP + 1), self._pos)
        except OSError:
            return ""
        text = data.decode("utf-8", "replace")
        if end - self._pos > OUTPUT_CAP:
            text = text[:OUTPUT_CAP] + f"\n[... {end - self._pos - OUTPUT_CAP} more bytes of output not shown]"
        self._pos = end
        return text

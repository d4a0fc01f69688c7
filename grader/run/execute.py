"""One call of a job: its steps run in order, and the outputs it names as plain data.

The same executor runs the student's code (in the sandboxed child, from harness.py), the
reference and the catalogued mistakes (in a child of their own, or in the grader's process,
which trusts them), so that all three run a case's chain the same way:

    >>> header, arrays = run_call(call, inputs, Context(modules={"layers": layers}))
    >>> header["status"], len(header["values"])
    ('returned', 3)

A call (built by grader/run/job.py) holds the case's arguments as value nodes (values.to_wire), its
dims, its steps (grader/spec/steps.py's JSON) and the paths of the outputs to send back. Steps bind
names in a local environment; what is never named as an output (a cache, a model) never leaves
this process. Every failure is a header, never an exception: the step it happened in, and what
happened (`missing_function`, `exception`, `bad_return`, `too_large`).
"""
from __future__ import annotations

import builtins
import gc
import os
import random
import sys
import time
import types
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from grader import values
from grader.run.protocol import ANSWER_CAP

# Bound when this module is imported, before any student code runs: a submission that replaces
# time.perf_counter (to pass a faster_than check) changes the module's attribute, not this.
_clock = time.perf_counter
# A timed call's CPU time too (the reference's is what faster_than holds a student's against): this
# thread's, the child's only one (seccomp lets it start no other), to the nanosecond. The process's
# clock is not: with the CPU time limit set, it moves only at the scheduler's ticks (0.02 ms for a call
# of 1.4 ms, measured).
_cpu_clock = time.thread_time
_settrace, _gettrace, _setprofile, _getprofile = sys.settrace, sys.gettrace, sys.setprofile, sys.getprofile
# Code objects are kept by id, the object beside it (alive, so its id is not reused): hashing or
# comparing one hashes its names and constants, which a student's code.replace() can make objects of
# its own whose __hash__ and __eq__ would run inside the watch, unseen.
_AUTOGRAD: dict = {}               # id(code) -> (code, what it is), of torch's ways into autograd (remember_autograd)
_LIBRARY: dict = {}                # id(code) -> code, of every function there was before a submission's import (remember_library)
_LIBRARY_FILES: set = set()        # the files of the modules loaded then (remember_library)
REPEATS_SENT = 20                  # the lines of a traced call that ran most often, sent back (at least twice each)
LIBRARY_SENT = 12                  # the libraries' functions a traced call ran most often, sent back (at least twice each)
_GRADER_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "")   # the grader's own code
_RESUMED = 0x20 | 0x80 | 0x200     # CO_GENERATOR, CO_COROUTINE, CO_ASYNC_GENERATOR: a 'call' at every resumption
# The libraries' printing of arrays and tensors, which calls its helpers once per element: a debug
# print(margins) in loop-free code is not a loop of the student's.
_FORMATTING = tuple(os.path.join(*parts) for parts in (("numpy", "_core", "arrayprint.py"), ("numpy", "core", "arrayprint.py"),
                                                       ("torch", "_tensor_str.py")))
# torch's C functions into autograd, by name, as a Python call of theirs is seen (sys.setprofile's c_call)
# (not _unpack_dual: it computes nothing, and torch's own printing of a tensor calls it)
_C_AUTOGRAD = {"run_backward": "the autograd engine's run_backward", "_make_dual": "forward-mode autograd (_make_dual)",
               "_enter_dual_level": "forward-mode autograd (a dual level)",
               "_push_saved_tensors_default_hooks": "saved-tensor hooks of its own, around a backward pass"}
_FIND_AND_LOAD = getattr(getattr(sys.modules.get("importlib._bootstrap"), "_find_and_load", None), "__code__", None)
# What _quiet puts back after each step: the builtins as they were when this module was imported,
# and the class of the modules the executor reads after a call (torch's is added when it is known).
_BUILTINS = tuple(builtins.__dict__.items())
_QUIET_MODULES: list = [sys, np]
_SAVED_HOOKS: list = []            # torch's C push and pop of saved-tensor hooks (remember_autograd)
_TORCH_SEED: list = []             # torch's CPU generator's manual_seed (remember_autograd)


def _view(v, torch) -> np.ndarray | None:
    """An input as the call left it, as an ndarray sharing its memory (no copy), or None. Read by
    torch's own methods: the student's code may have given the input tensor a class of its own
    (`X.__class__ = Later`), whose detach() would run after the call's watch (autograd, unseen)."""
    try:
        if torch is not None and values.is_a(v, torch.Tensor):
            if type(v) is not torch.Tensor:
                if torch._C._dispatch_keys(v).has(torch._C.DispatchKey.Python):
                    return None          # its class answers every read with its own code: not read
                with torch._C.DisableTorchFunction():
                    v = torch.Tensor.as_subclass(v, torch.Tensor)
            return v.detach().cpu().numpy() if v.dtype != torch.bool and not v.is_complex() else None
        return v if values.is_a(v, np.ndarray) else None
    except BaseException:  # noqa: BLE001 - a hostile object may raise anything
        return None


def _same(now: np.ndarray | None, original: np.ndarray) -> bool:
    """Bit for bit the same array. Compared as bytes (copies, then memcmp: a memoryview compares
    item by item, ten times slower on a case's arrays): student code may have replaced numpy's
    functions (np.array_equal = lambda *a: True), not the methods of its built-in types."""
    if now is None or now.dtype != original.dtype or now.shape != original.shape:
        return False
    return now.tobytes() == original.tobytes()


@dataclass
class Context:
    """What the steps run against: the imported modules (the student's, or the reference's)."""

    modules: dict                                      # module name -> module
    errors: dict = field(default_factory=dict)         # module name -> why it could not be imported
    scenarios: dict = field(default_factory=dict)      # scenario file name -> module
    torch: Any = None                                  # the torch module in a torch assignment
    describe: Callable = None                          # exception -> error dict (file, line, ...)
    on_step: Callable = None                           # called with k before step k >= 1 of a chain (it may hang)
    own: Callable = None                               # code object -> whether it is the student's (traced calls)


class _Missing(Exception):
    """A name or attribute a step needs does not exist (a function the student has not written)."""

    def __init__(self, name: str, message: str = ""):
        super().__init__(name)
        self.name, self.message = name, message


class _StepFailed(Exception):
    def __init__(self, header: dict):
        super().__init__(header.get("status"))
        self.header = header


def run_call(call: dict, inputs: list, ctx: Context, collect: bool | None = None, _same=_same, _view=_view,
             _run_step=None, _output=None, _traced=None, _isenabled=gc.isenabled, _quiet_=None,
             _enable=gc.enable) -> tuple[dict, list]:
    """(header, arrays) for one call (_call), with the collector off except while the student's
    code runs (_run_step): a collection set off by the executor's own allocations would run the
    student's gc callbacks and finalizers outside the time and the watch. With `collect` (the
    harness, which keeps it off between calls), it is on in those windows and left off; else as it
    was found, and put back so."""
    enabled = _isenabled() if collect is None else collect
    _quiet_(bool(call.get("trace") or call.get("timed")))     # from a class given to torch or sys at import too
    try:
        return _call(call, inputs, ctx, enabled, _same, _view, _run_step, _output, _traced)
    finally:
        if enabled and collect is None:
            _enable()


def _call(call: dict, inputs: list, ctx: Context, collect: bool, _same, _view, _run_step, _output,
          _traced, _clock=_clock, _cpu_clock=_cpu_clock) -> tuple[dict, list]:
    """(header, arrays) for one call: status `returned` with `values` (one node per output path),
    `duration` (seconds in the graded steps), a timed call's `spent` (the CPU seconds of its
    thread over the same stretch) and `changed` (inputs changed in place), or a failure.

    What it calls to run the steps, time them, compare the inputs before and after and take the
    outputs is bound when this module is defined (below, as default arguments): a submission that
    replaces this module's `_same`, `_clock` or `_run_step` (found in sys.modules) changes nothing
    here. What each step returned is kept until the outputs are taken: an object whose `__del__`
    fills them in after the time was taken fills them in too late."""
    needs = [m for m in call.get("needs") or [call["module"]] if m in ctx.errors]
    if needs:
        return {"status": "import_error", "module": needs[0], "error": ctx.errors[needs[0]]}, []
    timed = bool(call.get("timed"))
    # The graded steps of a case of a function with a no_loops or no_autograd check run watched
    # (`_traced`): how often each line of the student's code runs (a line run once per row, however
    # the loop is dressed up, runs more often on a larger input), and whether autograd runs.
    watch = call.get("trace") or ()
    seen = _Watch() if watch and ctx.own is not None else None
    seed = int(call.get("seed", 0))
    made: list = []
    env: dict = dict(call.get("dims") or {})

    def prepare() -> None:
        _reseed(seed, ctx.torch)
        for name, node in call["args"]:
            env[name] = values.build(node, inputs, ctx.torch, made, (name,))
    # A watched call's generators are seeded and its arguments built watched, and a timed call's
    # under a watch of their own: a function of numpy's or torch's replaced by the student's runs
    # there (a red team's computed the call's answer there, ahead of its clock and its watch). Its
    # lines count as the call's; a timed call's make its timing void (`ahead`).
    ahead = _Watch() if timed and seen is None and ctx.own is not None else None
    if seen is None and ahead is None:
        prepare()
    else:
        _traced(prepare, [], {}, ctx.own, seen or ahead, watch or ("lines",), ctx.torch)
    builtins = _Builtins(seed, ctx)
    track = "no_input_mutation" in call.get("checks", ())
    guarded = bool(watch) or timed                     # its lines counted or its time taken: _quiet puts back the builtins too
    setup = ("autograd",) if "autograd" in watch else ()
    # An output's path is read watched too: an attribute of a returned object may be a property,
    # the student's code, run after the call (a loop in its getter).
    taken_out = _output if seen is None else \
        (lambda *a: _traced(_output, list(a), {}, ctx.own, seen, watch, ctx.torch))
    changed: dict = {}                                 # input path -> step that changed it
    kept: list = []                                    # what the steps returned, alive until the outputs are taken
    duration = 0.0
    taken = call.get("taken")                          # output index -> the step after which it is taken (job.taken_after)
    early: dict = {} if taken else None                # output index -> (node, how, its arrays), taken after its step
    # A timed call's time runs on to its outputs taken, and a watched call's inputs are read back
    # watched, as its outputs are: code of the student's that runs once its function has returned
    # (np.array or contextlib.nullcontext replaced by a function of theirs, which the executor then
    # calls) runs inside the time and the watch, not after them.

    def after(k: int, output) -> None:
        if track:
            for path, obj, index in made:
                if path not in changed and not _same(_view(obj, ctx.torch), inputs[index]):
                    changed[path] = k
        if taken:
            for i, path in enumerate(call["outputs"]):
                if taken[i] == k:
                    own: list = []
                    early[i] = (*output(env, path, ctx.torch, own), own)
    began = None
    for k, step in enumerate(call["steps"]):
        if k and ctx.on_step is not None:
            ctx.on_step(k)
        if began is None and step.get("graded"):
            began, began_cpu = _clock(), _cpu_clock()
        try:
            # Steps that set the case up run watched for autograd too (a model built or given its
            # params can reach the case's inputs): their lines are not the function's to count.
            duration += _run_step(step, env, call, ctx, builtins, seen if step.get("graded") or setup else None,
                                  watch if step.get("graded") else setup, kept, collect, guarded)
        except _StepFailed as e:
            return {**e.header, "step": k, "duration": duration}, []
        if track or taken:           # one watch at a time: inside this one, the outputs are taken bare
            after(k, _output) if seen is None else _traced(after, [k, _output], {}, ctx.own, seen, watch, ctx.torch)
    arrays: list = []
    nodes, via = [], []
    for i, path in enumerate(call["outputs"]):
        if early and i in early:
            node, how, own = early[i]
            values.renumber(node, len(arrays))
            arrays += own
        else:
            node, how = taken_out(env, path, ctx.torch, arrays)
        nodes.append(node)
        via.append(how)
    spent = None
    if timed and began is not None:
        duration, spent = _clock() - began, _cpu_clock() - began_cpu
    size = sum(a.nbytes for a in arrays)
    if size > ANSWER_CAP:                                # it could not even be sent back
        shapes = ", ".join(f"{a.dtype} array of shape {a.shape}" for a in arrays if a.nbytes > 1 << 20)
        return {"status": "too_large", "duration": duration, "returned": f"{size / 2**20:.0f} MiB ({shapes})"}, []
    header = {"status": "returned", "duration": duration, "values": nodes, "via": via}
    if spent is not None:
        header["spent"] = spent
    if track:
        header["changed"] = [[list(path), k] for path, k in changed.items()]
    if seen is not None:
        header.update(seen.header())
    if ahead is not None and (ahead.total or ahead.off):
        header["ahead"] = True
    return header, arrays


class _Watch:
    """What the student's code did in a watched call's graded steps (`_traced`)."""

    def __init__(self):
        self.lines: dict = {}        # (file, line, function) -> times it ran
        self.library: dict = {}      # id(code) -> (code, times it was called), a library's function (not the grader's)
        self.total = 0               # lines of theirs run, in all
        self.autograd = ""           # the first of torch's ways into autograd taken
        self.autograd_in = ""        # ...and the function of the student's it was taken from, when known
        self.off = False             # their code turned the watch off

    def header(self) -> dict:
        """The call's header fields: its lines that ran more than once, most often first ([file, line,
        times, function]; by place in the source: copies of one function's code are one place)."""
        places: dict = {}            # (file, line) -> [times, function]
        for (file, line, name), n in self.lines.items():
            place = places.setdefault((file, line), [0, name])
            place[0] += n
        top = sorted(((n, file, line, name) for (file, line), (n, name) in places.items() if n > 1),
                     key=lambda t: (-t[0], t[1], t[2]))[:REPEATS_SENT]
        called = sorted(((n, code.co_filename, code.co_firstlineno, code.co_qualname)
                         for code, n in self.library.values() if n > 1), key=lambda t: (-t[0], t[1], t[2]))[:LIBRARY_SENT]
        return {"traced": True, "untraced": self.off, "autograd": self.autograd, "autograd_in": self.autograd_in,
                "lines": self.total,
                "repeats": [[file[-200:], line, n, name[:200]] for n, file, line, name in top],
                "library": [[plain_text(file)[-200:], line, n, plain_text(name)[:200]] for n, file, line, name in called]}


def watched(calls: list) -> bool:
    """Whether some of a job's calls run watched (`_traced`: their function has no_loops or no_autograd)."""
    return any(call.get("trace") for call in calls)


def job_watched(job: dict) -> bool:
    """Whether some of a job's calls run watched, the ones that come later included (supervise.held_back)."""
    return bool((job.get("later") or {}).get("watch")) or watched(job["calls"])


_FUNC_TRANSFORMS = ("grad_impl", "grad_and_value_impl", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "linearize")
BACKWARD_READ = "a backward pass of the autograd engine"
# Every way into autograd the watch can report, as the grader's process accepts it: the child's
# report is the student's process's, which can write anything there (a hidden case's inputs).
AUTOGRAD_WAYS = frozenset({*_C_AUTOGRAD.values(), BACKWARD_READ, "Tensor.backward", "torch.autograd.backward",
                           "torch.autograd.grad", "torch.autograd (its engine)", "forward-mode autograd (make_dual)",
                           *(f"torch.func.{n.removesuffix('_impl')}" for n in _FUNC_TRANSFORMS)})


def remember_autograd(torch) -> None:
    """The code of torch's ways into autograd, looked up before any student code runs (a submission
    that replaces torch.autograd.grad by its own function still reaches these): every backward pass
    and torch.autograd.grad goes through the engine's Python entry, torch.func's through grad."""
    if _AUTOGRAD or torch is None:
        return
    if torch not in _QUIET_MODULES:
        _QUIET_MODULES.append(torch)
    autograd_c = getattr(torch._C, "_autograd", None)
    push = getattr(autograd_c, "_push_saved_tensors_default_hooks", None)
    pop = getattr(autograd_c, "_pop_saved_tensors_default_hooks", None)
    if push is not None and pop is not None:
        _SAVED_HOOKS[:] = [push, pop]
    _TORCH_SEED[:] = [torch.default_generator.manual_seed]
    graph = getattr(torch.autograd, "graph", None)
    forward = sys.modules.get("torch.autograd.forward_ad")
    transforms = sys.modules.get("torch._functorch.eager_transforms")
    for name, obj in (("Tensor.backward", getattr(torch.Tensor, "backward", None)),
                      ("torch.autograd.backward", getattr(torch.autograd, "backward", None)),
                      ("torch.autograd.grad", getattr(torch.autograd, "grad", None)),
                      ("torch.autograd (its engine)", getattr(graph, "_engine_run_backward", None)),
                      ("forward-mode autograd (make_dual)", getattr(forward, "make_dual", None)),
                      *((f"torch.func.{n.removesuffix('_impl')}", getattr(transforms, n, None)) for n in _FUNC_TRANSFORMS)):
        code = getattr(obj, "__code__", None)
        if code is not None:
            _AUTOGRAD[id(code)] = (code, name)


def remember_library() -> None:
    """The code objects of every function this process holds, and of the functions defined in them:
    the libraries' and the grader's, taken before any submission is imported (in the zygote, before
    its first watched fork; its children inherit them). Code that is not among them is the student's,
    whatever file name it gives (`code.replace(co_filename="/usr/lib/python3.11/os.py")`). Also the
    files of the modules loaded then, once: code naming one of them that is not among those code
    objects is the student's renamed, where a module loaded later (np.ma on first use) is a library's."""
    if _LIBRARY:
        return
    _LIBRARY_FILES.update(getattr(m, "__file__", None) for m in list(sys.modules.values()))
    frozen = gc.get_freeze_count()
    if frozen:
        gc.unfreeze()                # the frozen generation's objects are not listed otherwise
    try:
        todo = [f.__code__ for f in gc.get_objects() if type(f) is types.FunctionType]
    finally:
        if frozen:
            gc.freeze()
    while todo:
        code = todo.pop()
        if not known_library(code):
            _LIBRARY[id(code)] = code
            todo += [c for c in code.co_consts if type(c) is types.CodeType]


def known_library(code, _LIBRARY=_LIBRARY) -> bool:
    """Whether a code object is one of those remember_library took (by identity: see _LIBRARY)."""
    return _LIBRARY.get(id(code)) is code


def plain_text(name) -> str:
    """A code object's file or function name as a str of str's own type: code.replace() takes a
    subclass of str, whose methods (startswith, __hash__, __eq__) are the student's code and would
    run in the watch, unseen. str.__str__ copies the characters without calling any of them."""
    return name if type(name) is str else str.__str__(name) if isinstance(name, str) else "?"


def _traced(fn, args: list, kwargs: dict, own: Callable, seen: _Watch, watch=("lines",), torch=None,
            _settrace=_settrace, _gettrace=_gettrace, _setprofile=_setprofile, _getprofile=_getprofile,
            _AUTOGRAD=_AUTOGRAD, _C_AUTOGRAD=_C_AUTOGRAD, plain_text=plain_text, _FIND_AND_LOAD=_FIND_AND_LOAD,
            _sys_dict=sys.__dict__, _SAVED_HOOKS=_SAVED_HOOKS):
    """fn(*args, **kwargs), watching what `watch` names, into `seen`: "lines", each line that runs of
    the code `own` says is the student's; "autograd", the first of torch's ways into autograd it takes
    (its Python entries, its C entries called from Python, and any backward pass that reads what its
    forward saved, however the engine was reached); and whether their code turned the watch off."""
    lines, autograd = "lines" in watch, "autograd" in watch
    library = seen.library
    open_frames = [0]                # the student's frames entered and not yet left: each must say it left
    # The lines run while a module is imported are the student's as any others are (own): a module of
    # the student's imported during the call, from the submission, the scratch folder or a finder of
    # its own, runs the student's code (its top level a loop, run by importing it per call). A
    # library's module loaded on first use (np.ma) runs the library's files, which are not the
    # student's, and code it makes from strings (namedtuples'), which would be: code made from a
    # string while a module is imported is counted only where the student's code ran it.
    importing = [0]

    def imported(frame, event, arg):
        if event == "return":
            importing[0] -= 1
        return imported

    def local(frame, event, arg):
        if event == "line":
            # by place in the source, not by code object: copies of one function (code.replace) are one
            code = frame.f_code
            key = (plain_text(code.co_filename), frame.f_lineno, plain_text(code.co_name))
            seen.lines[key] = seen.lines.get(key, 0) + 1
            seen.total += 1
        elif event == "return":
            open_frames[0] -= 1
            if not frame.f_trace_lines:          # its lines were hidden from the count (frame.f_trace_lines = False)
                seen.off = True
        return local

    def start(frame, event, arg):
        code = frame.f_code
        way = _AUTOGRAD.get(id(code)) if autograd else None
        if way is not None and way[0] is code and not seen.autograd:
            seen.autograd, seen.autograd_in = way[1], caller(frame.f_back)
        if code is _FIND_AND_LOAD:
            importing[0] += 1
            return imported
        if lines:
            if own(code):
                if importing[0] and plain_text(code.co_filename).startswith("<"):
                    back = frame.f_back
                    if back is None or not own(back.f_code):
                        return None
                open_frames[0] += 1
                return local
            # A library's function, called how often: one called once per row runs a loop for the
            # student's code (torch's tree_map, per leaf), though no line of theirs repeats. Not the
            # grader's own, which takes the outputs here, nor a generator, whose every resumption is
            # a call (numpy's dispatcher for np.choose yields each of the choices).
            if not code.co_filename.startswith(_GRADER_DIR) and not code.co_flags & _RESUMED \
                    and not code.co_filename.endswith(_FORMATTING):
                entry = library.get(id(code))
                library[id(code)] = (code, 1) if entry is None else (code, entry[1] + 1)
        return None

    def profile(frame, event, arg):
        if event == "c_call" and not seen.autograd:
            seen.autograd = _C_AUTOGRAD.get(getattr(arg, "__name__", None), "")
            if seen.autograd:
                seen.autograd_in = caller(frame)

    def caller(frame) -> str:        # the nearest function of the student's on the stack (a layer's backward)
        for _ in range(50):
            if frame is None:
                return ""
            if own(frame.f_code):
                return plain_text(frame.f_code.co_qualname)
            frame = frame.f_back
        return ""

    def guard(real):                 # the student's code setting or clearing a tracer, even to put ours back
        def guarded(*a, **k):
            seen.off = True
            return real(*a, **k)
        return guarded

    def unpacked(saved):             # a backward pass reading a tensor its forward saved
        seen.autograd = seen.autograd or BACKWARD_READ
        return saved

    # torch's own push and pop of saved-tensor hooks, bound before any student code ran: its
    # saved_tensors_hooks class (or contextlib.nullcontext) looked up here, replaced by the student's,
    # ran its __exit__ after the watch had stopped (torch.autograd.grad there, unseen).
    saving = _SAVED_HOOKS if autograd and torch is not None and _SAVED_HOOKS else None
    if saving is not None:           # pushed before the watch starts: its own push is not the student's
        saving[0](lambda t: t, unpacked)
    try:
        _sys_dict["settrace"], _sys_dict["setprofile"] = guard(_settrace), guard(_setprofile)
        _settrace(start)
        if autograd:
            _setprofile(profile)
        try:
            return fn(*args, **kwargs)
        finally:
            # A frame whose tracing was switched off (frame.f_trace = None) never says it left.
            if _gettrace() is not start or (autograd and _getprofile() is not profile) or open_frames[0]:
                seen.off = True
            _settrace(None)
            _setprofile(None)
            # Into sys's namespace, not through its attributes: a class of the student's given to sys
            # would run its __setattr__ here, unwatched (_quiet gives it back its own class too).
            _sys_dict["settrace"], _sys_dict["setprofile"] = _settrace, _setprofile
    finally:
        if saving is not None:
            saving[1]()


class _Builtins(dict):
    """The step language's builtins (spec/steps.py's BUILTINS), made when a step first looks one up:
    most steps name only their arguments and the graded function. `rng`, a generator started from
    the case's seed, is made when a step first uses it: making one costs as much as the rest of a
    call's set-up."""

    def __init__(self, seed: int, ctx: Context):
        super().__init__()
        self._seed, self._ctx = seed, ctx

    def __contains__(self, name) -> bool:
        if self._ctx is not None:                      # the first look-up: the names now
            ctx, self._ctx = self._ctx, None
            self.update(torch=ctx.torch, np=np, numpy=np, seed=lambda n: _reseed(int(n), ctx.torch),
                        modules=types.SimpleNamespace(**ctx.modules))
        return name == "rng" or dict.__contains__(self, name)

    def __missing__(self, name):
        if name != "rng":
            raise KeyError(name)
        self["rng"] = rng = np.random.default_rng(self._seed)
        return rng


def _quiet(guarded: bool, _disable=gc.disable, _type=type, _module=types.ModuleType, _set=object.__setattr__,
           _modules=_QUIET_MODULES, _builtins=builtins.__dict__, _saved=_BUILTINS) -> None:
    """Once the student's code has returned, none of it runs again until the step's outputs are
    taken: the collector goes off (a collection runs their gc callbacks and the finalizers of their
    garbage), and the modules the executor reads go back to being plain modules (a class of the
    student's given to `sys` ran its __setattr__ when the watch put sys.settrace back). A guarded
    call's (watched or timed) builtins go back to what they were before any submission was
    imported (a builtin the executor calls replaced by the student's function). A red team's
    submissions did their work in each of the first two after the clock had stopped and the watch
    had ended, before the outputs were read: the naive loops passed no_loops and faster_than."""
    _disable()
    for m in _modules:
        if _type(m) is not _module:
            _set(m, "__class__", _module)
    if guarded:
        for name, value in _saved:
            if _builtins.get(name) is not value:
                _builtins[name] = value


def _run_step(step: dict, env: dict, call: dict, ctx: Context, builtins: dict, seen: _Watch | None = None,
              watch=(), kept: list | None = None, collect: bool = False, guarded: bool = False, _clock=_clock,
              _traced=_traced, _quiet=_quiet, _enable=gc.enable) -> float:
    """Run one step; the seconds spent in it when it is graded. With `seen`, the step runs watched
    (`_traced`): its call's time then includes the watch's. What it returned goes into `kept`, and
    the function it called too (a fresh object of the student's, freed once this returns, could
    run its __del__ before the outputs are taken). With `collect`, the collector is on while the
    student's code runs, inside the time and the watch, and off again as it returns (`_quiet`).

    The function and its arguments are found inside the time and the watch, and what the step
    returned is bound to its targets inside the watch: each can run the student's code (a module
    whose __dict__ is a property, a class's __getattr__, a model's __setattr__ reading the case's
    inputs from the executor's frame)."""
    value = step["value"]
    spent = [0.0]

    def run():
        t0 = _clock()
        if collect:
            _enable()
        try:
            if value[0] == "call":
                fn = _callee(value[1], env, call, ctx, builtins)
                if kept is not None:
                    kept.append(fn)
                result = fn(*[_eval(a, env, call, ctx, builtins) for a in value[2]],
                            **{k: _eval(a, env, call, ctx, builtins) for k, a in value[3]})
            else:
                result = _eval(value, env, call, ctx, builtins)
            if kept is not None:
                kept.append(result)
            # Bound inside the time too: a target's __setattr__ or __setitem__ is the student's code.
            for target in step["targets"]:
                _bind(target, result, env, call, ctx, builtins, single=step.get("single", False))
        finally:
            _quiet(guarded)
        spent[0] = _clock() - t0

    try:
        run() if seen is None else _traced(run, [], {}, ctx.own, seen, watch, ctx.torch)
    except _StepFailed:
        raise
    except _Missing as e:
        raise _StepFailed({"status": "missing_function", "name": e.name, "error": {"message": e.message}}) from None
    except BaseException as e:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are the student's too
        raise _StepFailed({"status": "exception", "error": _described(e, ctx)}) from None
    return spent[0] if step.get("graded") else 0.0



def _bind(target: list, result: Any, env: dict, call: dict, ctx: Context, builtins: dict, single: bool) -> None:
    kind = target[0]
    try:
        if kind == "name":
            if single and values.is_a(result, tuple):   # one output: `return (dx,)` is dx, `return dx, db` too many
                items = _items(result)
                if len(items) != 1:
                    raise _StepFailed({"status": "bad_return", "returned": f"tuple of length {len(items)}", "expected": 1})
                result = items[0]
            env[target[1]] = result
        elif kind == "unpack":
            names = target[1]
            items = _items(result) if values.is_a(result, (tuple, list)) else None
            if items is None or len(items) != len(names):
                length = f" of length {len(items)}" if items is not None else ""
                raise _StepFailed({"status": "bad_return", "returned": values.type_name(result) + length,
                                   "expected": len(names)})
            for name, v in zip(names, items):
                if name != "_":
                    env[name] = v
        elif kind == "attr":
            setattr(_eval(target[1], env, call, ctx, builtins), target[2], result)
        elif kind == "item":
            container = _eval(target[1], env, call, ctx, builtins)
            container[_eval(target[2], env, call, ctx, builtins)] = result
    except _StepFailed:
        raise
    except BaseException as e:  # noqa: BLE001
        raise _StepFailed({"status": "exception", "error": _described(e, ctx)}) from None


def _items(result: tuple | list) -> list:
    """The items a returned tuple or list holds, read by the built-in type's own methods: a subclass's
    __iter__ or __len__ is the student's code, which would run after the call's time was taken (all
    of a lazy answer's work) and could give other items than the ones the result holds."""
    return list(tuple.__iter__(result) if values.is_a(result, tuple) else list.__iter__(result))


def _callee(expr: list, env: dict, call: dict, ctx: Context, builtins: dict):
    """The function a step calls; a missing name or attribute, or something not callable, is a
    missing function (`Linear.forward is not defined`), not the student's exception."""
    try:
        fn = _eval(expr, env, call, ctx, builtins, strict=True)
    except _Missing as e:
        raise _Missing(_dotted(expr), e.message) from None
    except AttributeError:
        raise _Missing(_dotted(expr)) from None
    if not callable(fn):
        raise _Missing(_dotted(expr), f"{_dotted(expr)} is a {values.type_name(fn)}, not a function")
    return fn


def _eval(expr: list, env: dict, call: dict, ctx: Context, builtins: dict, strict: bool = False):
    op = expr[0]
    if op == "name":
        return _lookup(expr[1], env, call, ctx, builtins)
    if op == "const":
        return expr[1]
    if op == "attr":
        obj = _eval(expr[1], env, call, ctx, builtins, strict)
        if strict and not hasattr(obj, expr[2]):
            raise _Missing(_dotted(expr))
        return getattr(obj, expr[2])
    if op == "item":
        return _eval(expr[1], env, call, ctx, builtins)[_eval(expr[2], env, call, ctx, builtins)]
    if op == "call":
        fn = _eval(expr[1], env, call, ctx, builtins)
        return fn(*[_eval(a, env, call, ctx, builtins) for a in expr[2]],
                  **{k: _eval(a, env, call, ctx, builtins) for k, a in expr[3]})
    if op == "list":
        return [_eval(e, env, call, ctx, builtins) for e in expr[1]]
    if op == "tuple":
        return tuple(_eval(e, env, call, ctx, builtins) for e in expr[1])
    if op == "dict":
        return {_eval(k, env, call, ctx, builtins): _eval(v, env, call, ctx, builtins) for k, v in expr[1]}
    raise ValueError(f"unknown expression {op!r}")


def _lookup(name: str, env: dict, call: dict, ctx: Context, builtins: dict):
    """A name: bound by a step or an argument or dim, else the graded function's module, another
    module, a scenario file, or a builtin of the step language."""
    if name in env:
        return env[name]
    module = ctx.modules.get(call["module"])
    if module is not None and name in vars(module):
        return vars(module)[name]
    for table in (ctx.modules, ctx.scenarios, builtins):
        if name in table and table[name] is not None:
            return table[name]
    raise _Missing(name)


def _dotted(expr: list) -> str:
    if expr[0] == "name":
        return expr[1]
    if expr[0] == "attr":
        return f"{_dotted(expr[1])}.{expr[2]}"
    return "?"


def _output(env: dict, path: list, torch, arrays: list, _encode=values.encode) -> tuple[dict, list]:
    """The node of one output path, and how each key after the first was found ("key", "attr")."""
    value, how = env.get(path[0]), []
    shown = str(path[0])
    for key in path[1:]:
        try:
            # A dict, list or tuple is read by its base type's own methods: a subclass's __getitem__
            # or __len__ is the student's code, run after the call (see _items).
            if values.is_a(value, dict):
                if not dict.__contains__(value, key):
                    return {"kind": "missing", "message": f"{shown} has no key {key!r}"}, how
                value, step = dict.__getitem__(value, key), "key"
            elif values.is_a(value, (list, tuple)) and isinstance(key, int):
                items = _items(value)
                if not -len(items) <= key < len(items):
                    return {"kind": "missing", "message": f"{shown} has no item {key} (it has {len(items)})"}, how
                value, step = items[key], "key"
            elif isinstance(key, str) and hasattr(value, key):
                value, step = getattr(value, key), "attr"
            else:
                return {"kind": "missing", "message": f"{shown} has no {key!r} (it is {values.article(values.type_name(value))})"}, how
        except BaseException as e:  # noqa: BLE001 - a hostile container may raise anything
            return {"kind": "missing", "message": f"{shown}[{key!r}] could not be read ({type(e).__name__})"}, how
        how.append(step)
        shown = values.show(tuple(path[:len(how) + 1]), tuple(how))
    return _encode(value, torch, arrays), how


def _reseed(seed: int, torch, _np_seed=np.random.seed, _seed=random.seed, _torch_seed=_TORCH_SEED) -> None:
    """Every generator a step may draw from starts from the case's seed: the student's run and the
    reference's see the same random numbers when they draw the same way. By functions bound before
    any student code runs (np.random.seed replaced ran the student's code here, ahead of the call)."""
    _np_seed(seed % (1 << 32))
    _seed(seed)
    if torch is not None:
        # The CPU generator only, as torch.manual_seed(seed) leaves it. torch.manual_seed also
        # queues a seed for CUDA, XPU and MTIA, recording the Python stack for each, even where
        # none of them exists: 0.65 ms a call, a quarter of a child's time beside the calls.
        (_torch_seed[0] if _torch_seed else torch.default_generator.manual_seed)(seed)


def _described(e: BaseException, ctx: Context) -> dict:
    if ctx.describe is not None:
        return ctx.describe(e)
    return {"kind": "exception", "type": type(e).__name__, "message": str(e)[:2000]}


# Bound now, before any student code runs: the module's names can be rebound through sys.modules.
run_call.__defaults__ = (None, _same, _view, _run_step, _output, _traced, gc.isenabled, _quiet, gc.enable)

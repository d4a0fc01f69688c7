"""What runs inside the forked child: import the student's modules, run the job's calls.

This is the only place where student code executes (each call's steps are run by execute.py).
Everything it sends back goes through `values.encode` and `protocol.encode`: outputs become plain
data and arrays here, in the child, and the trusted grader decodes bytes and compares. Every exception, `SystemExit` and `KeyboardInterrupt` included,
becomes a value with the student's file and line.
"""
from __future__ import annotations

import errno
import functools
import gc
import importlib.machinery
import importlib.util
import io
import linecache
import os
import re
import sys
import traceback
import types

from grader.run import execute, protocol

OUTPUT_CAP = 8 << 10                 # characters of printed output kept per case


def run(job: dict, inputs: list, start: int, skip: set, out_fd: int, capture_fd: int,
        preset_errors: dict | None = None, later_fd: int | None = None, _run_call=execute.run_call,
        _encode=protocol.encode, _write_all=protocol.write_all, _ask=os.write, _read_later=protocol.read_trusted,
        _len=len, _list=list, _gc_disable=gc.disable) -> None:
    """Import the job's modules and run its calls from index `start`, streaming frames to out_fd.

    With job["later"], the job's calls end before its hidden ones (and before a timed call): the
    rest of the calls and their inputs are read from `later_fd`, one part at a time, when the first
    of each part is due, and the grader sends a part only once it has every earlier result
    (supervise.held_back).
    With `preset_errors` ({module: error}) nothing is imported: every call reports that error.
    The executor and the frame's encoder and writer are bound before the student's modules are
    imported: replacing `execute.run_call` or `protocol.encode` in sys.modules afterwards (to say
    a watched call ran one line) changes nothing here. So is everything it does between two calls
    (the capture read back, the frame sent): code of the student's that ran there, after a call's
    clock and watch (a sys.stdout whose flush() did the naive loops and wrote the answer into the
    frame's arrays, a collection's callback), or before the next call's (its answer computed ahead),
    would escape both. The collector is off from the end of the import on, but while the student's
    code runs (execute.run_call).
    """
    send = lambda header, arrays=(): _write_all(out_fd, _encode(header, arrays))
    sys.addaudithook(_no_audit_hooks)    # before the student's code: theirs would run at the executor's events
    torch = _framework(job["framework"])
    execute.remember_autograd(torch)     # before the student's modules are imported
    if execute.job_watched(job):
        execute.remember_library()       # done already where the zygote was asked to, before forking
    folder = job["submission_dir"]
    sys.path_hooks.insert(0, _source_only(os.path.realpath(folder)))
    sys.path.insert(0, folder)
    for path in job["modules"].values():  # a module found below the top imports what is beside it, as it did there
        here = os.path.dirname(path) if path else folder
        if here != folder and here.startswith(folder + os.sep) and here not in sys.path:
            sys.path.insert(1, here)
    if job.get("support_dir"):           # the assignment's support modules win over copies in the submission
        sys.path.insert(0, job["support_dir"])
    sys.dont_write_bytecode = True       # no __pycache__ written into the submission

    capture = _Capture(capture_fd)
    take = capture.take                  # bound now: _Capture is the student's to change in sys.modules
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
    scenarios = {}
    for name, source in (job.get("scenarios") or {}).items():
        try:
            scenarios[name] = _import(name, f"{name}.py", source, register=False)
        except BaseException as e:  # noqa: BLE001 - the assignment's bug, reported on every call that needs it
            errors[name] = _describe(e, folder)
    printed, at = take()
    send({"type": "imported", "errors": errors, "stdout": printed, "out_at": at})
    _gc_disable()                        # on only while the student's code runs (run_call's collect)

    base = execute.Context(modules=modules, errors=errors, scenarios=scenarios, torch=torch,
                           describe=lambda e: _describe(e, folder), own=_own_code(folder))
    contexts: dict = {}                  # variant -> its Context, made when its first call comes
    calls, later = job["calls"], job.get("later")
    parts = later["inputs"] if later else ()        # for each part still to come, the inputs before it
    index = start
    while True:
        if index >= _len(calls):
            if not parts:
                break
            try:
                _ask(later_fd, b"?")            # a zygote's child asks on a socket (the portable one's stdin is not)
            except OSError:
                pass
            more, arrays = _read_later(later_fd)    # the grader has every result before this call
            if _len(inputs) != parts[0]:
                raise protocol.ProtocolError("the inputs before the later calls are not the job's")
            calls, inputs, parts = calls + more["calls"], _list(inputs) + _list(arrays), parts[1:]
            continue
        call = calls[index]
        if call["function"] not in skip:
            ctx, k = base, call.get("variant")
            if k is not None:                            # the catalogue's variants, several in one job
                if k not in contexts:
                    contexts.clear()                     # one variant's modules at a time
                    contexts[k] = _variant_context(job, job["variants"][k], base, folder)
                ctx = contexts[k]
            # Which step of a chain runs, so that a time limit or a crash names it (the forward, not the backward).
            ctx.on_step = (lambda k, i=index: send({"type": "step", "index": i, "step": k})) if _len(call["steps"]) > 1 else None
            header, arrays = _run_call(call, inputs, ctx, collect=True)
            printed, at = take()
            header.update(type="result", index=index, stdout=printed, out_at=at)
            send(header, arrays)
        index += 1
    send({"type": "done"})


def _no_audit_hooks(event: str, args) -> None:
    """An audit hook that keeps any other from being added (Python then drops it, quietly): a hook
    of the student's would run at every audited event of the executor's own, after the clock has
    stopped and the watch has ended (sys.settrace, as the watch stops, is one)."""
    if event == "sys.addaudithook":
        raise RuntimeError("the grader allows no audit hooks")


def _own_code(folder: str, _join=os.path.join, _realpath=os.path.realpath, _isfile=os.path.isfile,
              _known=execute.known_library, _files=execute._LIBRARY_FILES):
    """Whether a code object is the student's: compiled from a file of the submission, from a string
    (exec, eval), or naming a file that does not exist; and, where the libraries' and the grader's
    code was taken before the import (execute.remember_library), any other code naming a library
    file loaded then (a code object of theirs renamed), not code of a module loaded since (numpy.ma
    on first use, whose lines are the library's)."""
    # What it calls is bound when the harness is defined, before any student code runs: the child's
    # os.path and the executor's module are the student's to rebind (os.path.isfile returning True
    # for a made-up library path hid a loop; so did execute.known_library replaced).
    prefixes = tuple({_join(folder, ""), _join(_realpath(folder), "")})
    known: dict = {}                 # id(code) -> (code, whether it is the student's): see execute._LIBRARY

    def own(code) -> bool:
        seen = known.get(id(code))
        if seen is not None and seen[0] is code:
            return seen[1]
        name = code.co_filename
        if type(name) is not str or type(code.co_name) is not str:
            mine = True              # names of a type of the student's: only its code.replace() makes those
        elif name.startswith("<frozen") or _known(code):
            mine = False
        else:
            mine = name.startswith(prefixes) or name.startswith("<") or not _isfile(name) or name in _files
        known[id(code)] = (code, mine)
        return mine
    return own


def refuse(job: dict, inputs: list, start: int, skip: set, out_fd: int, why: BaseException,
           later_fd: int | None = None) -> None:
    """Run no student code: every call fails with a SandboxError saying `why` the grader could not
    confine this run."""
    error = {"kind": "exception", "type": "SandboxError",
             "message": f"the grader could not confine this run ({type(why).__name__}: {why})"}
    run(job, inputs, start, skip, out_fd, -1, preset_errors={m: error for m in job["modules"]}, later_fd=later_fd)


def _variant_context(job: dict, sources: dict, base: execute.Context, folder: str) -> execute.Context:
    """The modules of one variant of the reference ({module: code}; a module it does not change is
    the file), imported afresh as a child of its own would: they import each other, not the last
    variant's."""
    for name in job["modules"]:
        sys.modules.pop(name, None)
    modules, errors = {}, {}
    for name, path in job["modules"].items():
        try:
            modules[name] = _import(name, path, sources.get(name))
        except BaseException as e:  # noqa: BLE001 - a variant that does not import matches nothing
            errors[name] = _describe(e, folder)
    return execute.Context(modules=modules, errors=errors, scenarios=base.scenarios, torch=base.torch,
                           describe=base.describe)


def _import(name: str, path: str, source: str | None = None, register: bool = True):
    """Import a module file; with `source` (converted from the notebook at `path`), run that
    instead, under the notebook's path, so that tracebacks name it and show its lines.

    A source not to `register` (a kernel's cells) stays out of sys.modules: the cells' own
    `from <module> import ...` then finds the student's file, as it did in their kernel."""
    if source is None:
        spec = importlib.util.spec_from_file_location(name, path, loader=_SourceOnly(name, path))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    module = types.ModuleType(name)
    module.__file__ = path
    if register:
        sys.modules[name] = module
    linecache.cache[path] = (len(source), None, io.StringIO(source).readlines(), path)   # no mtime: never reloaded
    exec(compiled(source, path), module.__dict__)
    return module


class _SourceOnly(importlib.machinery.SourceFileLoader):
    """A module of the submission compiled from its source, never loaded from bytecode: Python runs
    an unchecked-hash .pyc from __pycache__ without reading the source, and that .pyc could hold
    anyone's code (a classmate's, the reference's) while the source, the static checks and the
    instructor's eyes see another."""

    def get_code(self, fullname):
        return compiled(importlib.util.decode_source(self.get_data(self.path)), self.path)


# ---------------------------------------------------------------------------------------------
# Imports of packages this machine does not have, deferred to their first use

_IMPORT_LINE = re.compile(r"^(?:import|from)[ \t]+([A-Za-z_][\w.]*)", re.MULTILINE)


def compiled(source: str, path: str):
    """A module's code. A statement at its top level that imports a package this machine does not
    have (a notebook's `import matplotlib.pyplot as plt`, tqdm, seaborn) binds its names to
    `Absent` stand-ins instead of failing the whole import: the functions that never use them are
    graded, and one that does fails where it uses one, naming the package. The import is still
    tried when the statement runs (after a `sys.path.append` above it, say), and a package found
    that fails to import for another reason fails as before; an import inside `try` (a fallback
    for a missing package) or a function is left as it is."""
    if not any(_absent(name) for name in set(_IMPORT_LINE.findall(source))):
        return compile(source, path, "exec", dont_inherit=True)
    import ast
    tree = ast.parse(source, path)
    file = os.path.basename(path)
    tree.body = [new for node in tree.body for new in _deferred(node, file)]
    return compile(ast.fix_missing_locations(tree), path, "exec", dont_inherit=True)


def _absent(dotted: str) -> bool:
    """Whether the top-level package of `dotted` cannot be found here (not a module of the
    submission, of the standard library or of the installed packages)."""
    top = dotted.partition(".")[0]
    if top in sys.modules or top == "__future__":
        return False
    try:
        return importlib.util.find_spec(top) is None
    except (ImportError, ValueError):
        return False


def _deferred(node, file: str) -> list:
    """A top-level statement; for an import of an absent package, the import tried, and on
    ModuleNotFoundError for that package, its names bound to stand-ins (`Absent.bind`)."""
    import ast
    if isinstance(node, ast.Import) and any(_absent(a.name) for a in node.names):
        out = []
        for a in node.names:
            one = ast.copy_location(ast.Import(names=[a]), node)
            out.append(_tried(one, [(a.asname or a.name.partition(".")[0], a.name if a.asname else a.name.partition(".")[0])],
                              a.name, file) if _absent(a.name) else one)
        return out
    if isinstance(node, ast.ImportFrom) and not node.level and node.module and _absent(node.module):
        # `from cs231n.classifiers.fc_net import *`, a course notebook's first line: nothing to bind stand-ins
        # to, so nothing is bound, and a name used from it fails where it is used (NameError)
        star = any(a.name == "*" for a in node.names)
        return [_tried(node, [] if star else [(a.asname or a.name, f"{node.module}.{a.name}") for a in node.names],
                       node.module, file)]
    return [node]


def _tried(node, names: list, module: str, file: str):
    """try: <node> except ModuleNotFoundError as e: name, ... = Absent.bind(e, module, dotted names, file, line)"""
    import ast
    bind = ast.Call(func=ast.Attribute(value=ast.Attribute(value=ast.Call(
        func=ast.Name(id="__import__", ctx=ast.Load()), args=[ast.Constant("grader.run.harness")],
        keywords=[ast.keyword(arg="fromlist", value=ast.Constant(("Absent",)))]), attr="Absent", ctx=ast.Load()),
        attr="bind", ctx=ast.Load()),
        args=[ast.Name(id="__grader_missing__", ctx=ast.Load()), ast.Constant(module),
              ast.Constant(tuple(dotted for _, dotted in names)), ast.Constant(file), ast.Constant(node.lineno)],
        keywords=[])
    targets = ast.Tuple(elts=[ast.Name(id=name, ctx=ast.Store()) for name, _ in names], ctx=ast.Store())
    handler = ast.ExceptHandler(type=ast.Name(id="ModuleNotFoundError", ctx=ast.Load()), name="__grader_missing__",
                                body=[ast.Assign(targets=[targets], value=bind) if names else ast.Expr(value=bind)])
    return ast.copy_location(ast.Try(body=[node], handlers=[handler], orelse=[], finalbody=[]), node)


class Absent:
    """A name a top-level import bound to a package this machine does not have: using it in any way
    (an attribute, a call, an item) raises the ModuleNotFoundError the import would have raised."""

    __slots__ = ("_name", "_file", "_line")

    def __init__(self, name: str, file: str, line: int):
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_file", file)
        object.__setattr__(self, "_line", line)

    @classmethod
    def bind(cls, error: ModuleNotFoundError, module: str, names: tuple, file: str, line: int) -> tuple:
        """Stand-ins for the names an import of `module` failed to bind, when what is missing is
        `module` or a package it is in; else the error again (a package that is there, but needs
        another that is not, fails as it did)."""
        missing = getattr(error, "name", None) or ""
        if not missing or not (module == missing or module.startswith(missing + ".")):
            raise error
        return tuple(cls(name, file, line) for name in names)

    def _fail(self, *args, **kwargs):
        # The import's file and line: a graded function that is itself a stand-in (a notebook's
        # `from cs231n.classifiers.linear_svm import svm_loss_naive`) fails in no file of the student's
        top, at = object.__getattribute__(self, "_name").partition(".")[0], object.__getattribute__
        raise ModuleNotFoundError(f"No module named '{top}' (imported at {at(self, '_file')}, line {at(self, '_line')}, "
                                  "used here)", name=top)

    __getattr__ = __call__ = __getitem__ = __iter__ = __bool__ = __len__ = __setattr__ = _fail

    def __repr__(self) -> str:
        return f"<{object.__getattribute__(self, '_name')}: not installed here>"


def _source_only(folder: str):
    """A path hook for the submission's folder and the folders in it: their modules are found as
    source files only (`_SourceOnly`), never as bytecode (`helpers.pyc`) or extension modules (`.so`)."""
    find = importlib.machinery.FileFinder.path_hook((_SourceOnly, importlib.machinery.SOURCE_SUFFIXES))

    def hook(path: str):
        real = os.path.realpath(path or ".")
        if real != folder and not real.startswith(folder + os.sep):
            raise ImportError("not the submission's folder")      # the next hook's, as usual
        return find(path) if os.path.isdir(real) else _FindsNothing()   # a zip of bytecode in it is no source
    return hook


class _FindsNothing:
    """The path entry finder of a file in the submission put on sys.path (`libs.zip`): no module is
    found there, where zipimport would find its bytecode."""

    def find_spec(self, fullname, target=None):
        return None

    def invalidate_caches(self):
        pass


def _framework(framework: str):
    if framework == "torch":
        import torch
        _one_thread(torch)
        return torch
    return None


def _one_thread(torch) -> None:
    """torch.set_num_threads(n) does nothing in the child, which runs one thread: the sandbox starts
    none, and with more, torch's OpenMP pool aborts the process at its first parallel operation
    ("libgomp: Thread creation failed"), costing a correct submission every case."""
    torch.set_num_threads = lambda n: None
    torch.set_num_interop_threads = lambda n: None


def _qualname(tb, folder: str) -> str:
    """The qualified name (Class.method) of the last frame of the traceback in the student's files
    (Python 3.11's code objects know it; older ones give "")."""
    found = ""
    while tb is not None:
        code = tb.tb_frame.f_code
        if _real(code.co_filename).startswith(folder + os.sep):
            found = getattr(code, "co_qualname", "")
        tb = tb.tb_next
    return found


@functools.lru_cache(maxsize=1024)
def _real(path: str) -> str:
    """os.path.realpath, once per path in a child: the files of the frames of its exceptions are
    the same few (the submission's, read-only to it, and the grader's), and each resolution is a
    system call per folder of the path."""
    return os.path.realpath(path)


def _tabs_shown(line: str) -> str:
    """A line as written, each tab shown as an arrow and the spaces to its tab stop (8 columns):
    a TabError's lines printed with their tabs expanded looked rightly indented (a twelfth round)."""
    out, column = [], 0
    for char in line:
        if char == "\t":
            width = 8 - column % 8
            out.append("→" + " " * (width - 1))
            column += width
        else:
            out.append(char)
            column += 1
    return "".join(out)


def _describe(e: BaseException, folder: str) -> dict:
    """An exception as data: its type and message, and where in the student's files it arose."""
    info = {"kind": "exception", "type": type(e).__name__}
    try:
        info["message"] = str(e)[:2000]
    except BaseException:  # noqa: BLE001
        info["message"] = "<message could not be shown>"
    # A path in the submission's folder said as the student's own (an ImportError names the module's
    # file): the grader's temporary folder means nothing to them
    for prefix in {folder.rstrip(os.sep) + os.sep, _real(folder) + os.sep}:
        info["message"] = info["message"].replace(prefix, "")
    folder = _real(folder)
    # Lines are read (lazily, by f.line) for the student's frames only, not for the grader's own.
    frames = [f for f in traceback.StackSummary.extract(traceback.walk_tb(e.__traceback__), lookup_lines=False)
              if _real(f.filename).startswith(folder + os.sep)]
    if isinstance(e, SyntaxError) and e.filename and _real(e.filename).startswith(folder + os.sep):
        info.update(file=os.path.basename(e.filename), line=e.lineno, code=(e.text or "").strip(), message=e.msg)
        if isinstance(e, IndentationError) and isinstance(e.lineno, int):
            # The indentation is the mistake: the line as written, and the code line before it.
            info["code"] = _tabs_shown((e.text or "").rstrip())
            for back in range(e.lineno - 1, max(0, e.lineno - 6), -1):
                before = linecache.getline(e.filename, back)
                if before.strip():
                    info.update(before=_tabs_shown(before.rstrip()), before_line=back)
                    break
    elif frames:
        last = frames[-1]
        info.update(file=os.path.basename(last.filename), line=last.lineno, function=last.name,
                    code=(last.line or linecache.getline(last.filename, last.lineno)).strip())
        qualname = _qualname(e.__traceback__, folder)
        if qualname:                     # Linear.forward, where the frame says only forward
            info["qualname"] = qualname
        info["traceback"] = "".join(
            f'  {os.path.basename(f.filename)}, line {f.lineno}, in {f.name}\n    {(f.line or "").strip()}\n' for f in frames)
    if isinstance(e, RuntimeError) and "can't start new thread" in info["message"] or \
            isinstance(e, OSError) and e.errno == errno.EPERM:
        info["note"] = ("the grader runs your code in a sandbox without network, new threads or processes, signal "
                        "handlers, or changes to files' permissions: do the work in the calling thread")
    elif isinstance(e, OSError) and e.errno == errno.EACCES:
        info["note"] = "the grader runs your code with your submission's files and a scratch folder only"
    return info


class _Capture:
    """Reads back what the student printed: fds 1 and 2 point at one file in the scratch folder."""

    def __init__(self, fd: int):
        self._fd = fd
        self._pos = 0
        # Unbuffered: what is printed is in the file at once, should the call never return (an infinite
        # loop's progress, `print(..., end="")`, bytes written to sys.stdout.buffer).
        streams = [_Printed(io.FileIO(fd, "w", closefd=False), encoding="utf-8", errors="backslashreplace",
                            write_through=True) for fd in (1, 2)]
        sys.stdout, sys.stderr = streams
        # The streams made here are flushed, by their own methods taken now: sys.stdout is the
        # student's to replace with an object whose flush() runs code of theirs after a call.
        self._flushes = [s.flush for s in streams]
        self.take = self._taker()

    def _taker(self, _lseek=os.lseek, _read=os.read, _min=min, _end=os.SEEK_END, _set=os.SEEK_SET,
               _OSError=OSError, _BaseException=BaseException):
        """take() -> (what the student printed since the last take, where in the file that ends:
        what they print next starts there, and the grader reads from there when a call times out or
        crashes). Made with os's functions, and the stream class that counts what it dropped, bound
        before any student code runs."""
        printed_class = _Printed

        def take() -> tuple[str, int]:
            for flush in self._flushes:
                try:
                    flush()
                except _BaseException:  # noqa: BLE001
                    pass
            try:
                end = _lseek(self._fd, 0, _end)
                if end == self._pos:             # nothing printed: the common case, one system call
                    return "", end
                _lseek(self._fd, self._pos, _set)            # no os.pread on Windows
                data = _read(self._fd, _min(end - self._pos, OUTPUT_CAP + 1))
            except _OSError:
                return "", self._pos
            text = data.decode("utf-8", "replace")
            if end - self._pos > OUTPUT_CAP:
                text = text[:OUTPUT_CAP] + f"\n[... {end - self._pos - OUTPUT_CAP} more bytes of output not shown]"
            if printed_class.dropped:
                text += "\n[... and more not even kept: the grader keeps 1 MiB of a run's printed output]"
                printed_class.dropped = False
            self._pos = end
            return text, end
        return take


class _Printed(io.TextIOWrapper):
    """sys.stdout and sys.stderr: what is printed past the capture file's limit (the child's file
    size and disk caps) is dropped, as what is past OUTPUT_CAP is not shown, rather than failing the
    student's print() with "File too large": a print of a whole dataset costs no points."""

    dropped = False

    def write(self, text):
        try:
            return super().write(text)
        except OSError as e:
            if e.errno not in (errno.EFBIG, errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
                raise
            _Printed.dropped = True
            return len(text)

"""`grader.check`: a student's self-check from their own Python session (Jupyter, IPython, a script).

    from grader import check
    check("svm_loss_naive")          # in Jupyter: a table of the public cases under the cell
    check(svm_loss_naive)            # the same, from the function itself
    check()                          # every function of the assignment

It grades the function as the student has it now with the engine of `grader check`: the same
cases, the same sandboxed worker, the same result model and the same messages; public cases only.

- Which code. A function defined in a notebook cell is graded from the cells the kernel has run
  (IPython's input history, in the order they ran), converted as `grader check work.ipynb`
  converts a notebook (definitions kept, everything else dropped) and graded as a notebook
  saved in the kernel's folder, so that its imports of the student's own files still work. A
  function imported from a file, run with `%run file.py`, or defined in a script, is graded
  from that file.
- Which assignment. The nearest `assignment.yaml` in the current folder or above it (a handout
  has it beside the student's files), or `assignment=`: a name or a path, as `--assignment`.
- Where it runs. Never in the student's process: one worker per process (a fresh interpreter,
  started by the first check, closed at exit) forks a sandboxed child per check. Nothing the
  student's code returns is unpickled.

A problem the student can fix (no assignment found, a function the assignment does not have) is
one line in what check returns, not a traceback.
"""
from __future__ import annotations

import atexit
import inspect
import sys
import threading
from dataclasses import replace
from pathlib import Path

KERNEL_NOTEBOOK = "kernel.ipynb"     # what the kernel's cells are graded as: a name, never a file written
KERNEL_LABEL = f"{KERNEL_NOTEBOOK} (the cells this kernel ran: cell N is In [N])"


class Feedback:
    """What `check` returns: an HTML table in Jupyter, the text of `grader check` elsewhere.

        feedback = check("svm_loss_naive")
        feedback.passed        # True when every case and check of what was checked passed
        feedback.result        # the SubmissionResult, holding only the functions checked
        feedback.error         # the one-line reason when nothing was graded, else ""
    """

    def __init__(self, result=None, error: str = ""):
        self.result = result
        self.error = error

    @property
    def passed(self) -> bool:
        return not self.error and self.result is not None and self.result.all_passed

    def __str__(self) -> str:
        if self.error:
            return f"grader: {self.error}\n"
        from grader.report import terminal
        return terminal.render(self.result, verbose=True)

    def __repr__(self) -> str:
        return str(self).rstrip("\n")

    def _repr_html_(self) -> str:
        from grader.report import jupyter
        return jupyter.render_error(self.error) if self.error else jupyter.render(self.result)


class CheckError(Exception):
    """A problem the student can fix, said in one line: check returns it as a Feedback."""


def check(function=None, assignment=None, namespace: dict | None = None) -> Feedback:
    """Grade `function` (its name, the function itself, a class for its graded methods, or None for
    all) on the public cases.

    `namespace` is where names are looked up and where the function came from: the caller's
    globals (a notebook's namespace, or a script's). In a script it also prints the report,
    since nothing else would show it; IPython and the Python prompt display what it returns.
    """
    shell = _shell()
    if namespace is None:
        namespace = shell.user_ns if shell is not None else sys._getframe(1).f_globals
    try:
        with _SESSION.lock:
            feedback = Feedback(_check(function, assignment, namespace, shell))
    except CheckError as e:
        feedback = Feedback(error=str(e))
    if shell is None and not hasattr(sys, "ps1"):       # a script: nothing would show what it returns
        encoding = getattr(sys.stdout, "encoding", None) or "utf-8"     # cp1252 in a redirected Windows script
        sys.stdout.write(str(feedback).encode(encoding, "backslashreplace").decode(encoding))
    return feedback


def _check(function, assignment, namespace: dict, shell):
    given = None if function is None or isinstance(function, str) else function
    unwrapped = inspect.unwrap(given) if callable(given) else None
    name = getattr(unwrapped, "__qualname__", getattr(unwrapped, "__name__", None)) if callable(given) else function
    if given is not None and not isinstance(name, str):
        raise CheckError(f"check() takes a function, a class or its name, not {type(given).__name__}")
    here = [_source(given, name, namespace, shell)] if given is not None else []
    spec = _load_spec(assignment, [p.parent for p in here if p is not None]
                      + ([Path(namespace["__file__"]).resolve().parent] if _is_file(namespace.get("__file__")) else [])
                      + [Path.cwd()])
    names = [fn.name for fn in spec.functions]
    # A class stands for its graded methods: check(TwoLayerNet) checks TwoLayerNet.__init__ and TwoLayerNet.loss.
    wanted = names if name is None else [name] if name in names else [n for n in names if n.startswith(f"{name}.")]
    if not wanted:
        raise CheckError(f"{name} is not a function of {spec.name}; its functions are {', '.join(names)}")
    sources: dict = {}                   # where each function is graded from: a file, or None for the kernel's cells
    for n in wanted:
        source = here[0] if given is not None else _source(namespace.get(n.split(".")[0]), n, namespace, shell, spec)
        sources.setdefault(source, []).append(n)
    results = [_grade(spec, source, group, shell) for source, group in sources.items()]
    return _joined(results, names)


def _source(obj, name: str, namespace: dict, shell, spec=None) -> Path | None:
    """Where `name` is graded from: the file defining it, or None for the cells the kernel ran.

    A name that is not defined is graded from the caller's file when that file is the function's
    module, else from the files beside it, as `grader check FOLDER` would."""
    if callable(obj):
        obj = inspect.unwrap(obj)
        try:
            file = inspect.getsourcefile(obj)
        except (TypeError, OSError):     # a builtin, a class instance, a class defined in a cell...
            file = None
        if shell is not None and getattr(obj, "__module__", None) == "__main__" and not _ran_script(obj, file):
            return None                  # defined in a cell
        if _is_file(file):
            return Path(file).resolve()
        raise CheckError(f"{name} was not defined in a file (typed at the Python prompt?): the grader grades "
                         "files and notebooks; write it in your file and check again")
    if shell is not None:
        return None                      # not defined yet: the kernel's cells say so
    if _is_file(namespace.get("__file__")):
        from grader.locate import locate_modules
        file = Path(namespace["__file__"]).resolve()
        module = spec.function(name).module
        if file.stem != module and (file.parent / f"{module}.py").is_file():
            return file.parent           # a script beside the student's module: that module, not the script
        return file if locate_modules(spec, file).get(module) == str(file) else file.parent
    raise CheckError(f"{name} is not defined here: import it from your file, or pass the function itself")


def _ran_script(obj, file) -> bool:
    """Whether a function of the kernel's `__main__` came from `%run script.py` (or `%run -i`): its
    code is in that script, which IPython made the `__file__` of the namespace it ran in. A cell's
    code has a name of its own (`<ipython-input-...>`, or a file of the kernel's when debugging)."""
    ran = getattr(obj, "__globals__", {}).get("__file__")
    return _is_file(file) and _is_file(ran) and Path(ran).resolve() == Path(file).resolve()


def _load_spec(assignment, folders: list[Path]):
    from grader.spec import SpecError, find_spec, load_spec, nearest_spec
    try:
        if assignment is None:
            path = next((found for folder in folders if (found := nearest_spec(folder))), None)
            if path is None:
                raise CheckError(f"no assignment.yaml in {folders[0]} or the folders above it: run check from your "
                                 "handout's folder, or name the assignment, e.g. check(..., assignment=\"hw2\")")
        else:
            path = find_spec(str(assignment), folders[0])
        return load_spec(path)
    except SpecError as e:
        raise CheckError(str(e)) from None


def _grade(spec, source: Path | None, names: list[str], shell):
    """Grade the functions `names` from one source, with this process's worker and cases."""
    from grader.expected import ReferenceError_
    from grader.grade import grade_submission
    from grader.locate import locate_modules
    from grader.run.worker import WorkerError
    from grader.spec import SpecError
    for name in names if source is not None and source.is_file() else []:
        module = spec.function(name).module
        if locate_modules(spec, source).get(module) != str(source):
            raise CheckError(f"{name} is defined in {source}, but {spec.name} takes it from {module}.py: "
                             "define it there, or in this notebook")
    try:
        prepared = _SESSION.prepared(spec, names)
        if source is None:
            cells = history_cells(*_history(shell))
            result = grade_submission(spec, Path.cwd() / KERNEL_NOTEBOOK, worker=_SESSION.worker(spec.framework),
                                      prepared=prepared, cells=cells)
            return replace(result, submission=KERNEL_LABEL)
        return grade_submission(spec, source, worker=_SESSION.worker(spec.framework), prepared=prepared)
    except (SpecError, ReferenceError_, FileNotFoundError, WorkerError) as e:  # WorkerError: a bad GRADER_WORKER
        raise CheckError(str(e)) from None
    except BaseException:                # interrupted mid-job: the worker may still send that job's frames
        _SESSION.drop_worker(spec.framework)
        raise


def _joined(results: list, order: list[str]):
    """One result from the results of several sources (a function in a file, another in a cell)."""
    if len(results) == 1:
        return results[0]
    functions = sorted((fn for r in results for fn in r.functions), key=lambda fn: order.index(fn.name))
    return replace(results[0], submission=", ".join(r.submission for r in results), functions=functions,
                   hidden_points=sum(r.hidden_points for r in results), duration=sum(r.duration for r in results),
                   stdout="".join(r.stdout for r in results))


# ---------------------------------------------------------------------------------------------
# The kernel's cells


def history_cells(raw: list[str], ran: list[str]) -> list[tuple[str, str]]:
    """The cells a kernel ran, as notebook code cells numbered as Jupyter numbers them (cell N is In [N]).

    `raw` is what was typed (IPython's raw input history), `ran` what IPython made of it and ran
    (`In`: magics turned into calls). A cell is read as typed, as a notebook's cells are; if the
    converter cannot read it, as IPython ran it; a cell that IPython could not compile ran
    nothing, so it stays empty (a typo fixed in a later cell does not fail the check).
    """
    from grader.notebook import NotebookError, convert
    cells = []
    for n in range(1, len(raw)):
        for source in (raw[n], ran[n] if n < len(ran) else "", ""):
            try:
                if convert([("code", source)]).skipped:
                    continue             # not Python: read another way, or empty
            except NotebookError:
                continue
            cells.append(("code", source))
            break
    return cells


def _history(shell) -> tuple[list[str], list[str]]:
    ran = list(shell.user_ns.get("In") or [""])
    raw = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
    return (list(raw) if raw is not None and len(raw) == len(ran) else ran), ran


def _shell():
    """The running IPython shell, or None; IPython is never imported here."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    return get() if get is not None else None


def _is_file(path) -> bool:
    return isinstance(path, str) and Path(path).is_file()


# ---------------------------------------------------------------------------------------------
# One worker and one set of prepared cases per process, kept between checks


class _Session:
    def __init__(self):
        self.lock = threading.RLock()
        self._workers: dict = {}         # framework -> its worker
        self._prepared: dict = {}        # (spec file, functions) -> (spec, Prepared)

    def worker(self, framework: str):
        from grader.run.worker import start_worker
        if framework not in self._workers:
            if not self._workers:
                atexit.register(self.close)
            # The student's own kernel holds nothing secret (public cases only), and stays debuggable.
            self._workers[framework] = start_worker(framework, protect_caller=False)
        return self._workers[framework]

    def prepared(self, spec, names: list[str]):
        """The cases of `names` and their expected outputs, made again only when the spec changed."""
        from grader.grade import Prepared
        key = (str(spec.path), tuple(names))
        cached = self._prepared.get(key)
        if cached is None or cached[0] != spec:
            cached = self._prepared[key] = (spec, Prepared(spec, hidden=False, functions=names))
        return cached[1]

    def drop_worker(self, framework: str) -> None:
        worker = self._workers.pop(framework, None)
        if worker is not None:
            worker.close()

    def close(self) -> None:
        for framework in list(self._workers):
            self.drop_worker(framework)


_SESSION = _Session()

"""Jupyter notebooks as submissions: the definitions in their code cells become one module.

    >>> module = load(Path("work.ipynb"))           # reads JSON and parses cells; runs nothing
    >>> module.source                                # what the worker's child compiles and runs
    >>> where(module.cells, 42)                      # (cell 5, line 3): module line -> notebook
    (5, 3)

Only the child that runs student code executes anything; this module reads the notebook (plain
JSON, nbformat 4) and parses each code cell with `ast` in the grader's process. From each code
cell, top to bottom, it keeps what defines the functions and drops what a notebook does with
them (training loops, plots, prints, data loading):

- kept: imports (not `google.colab` or `IPython`: they exist only in a notebook front end),
  `def`, `class`, assignments of constant expressions to names (literals, operators, names
  already defined, attributes and subscripts of those, lambdas), and `if`/`try` blocks made
  only of kept statements;
- dropped: every other statement (calls, `print`, `for`/`while`/`with`, `assert`, `del`,
  assignments whose value calls anything), `if __name__ == "__main__":` blocks, IPython magics
  (`%time f()`, `x = %who`), shell lines (`!pip install ...`), help (`?np.sum`, `f?`) and cells
  whose cell magic is not Python (`%%bash`, `%%writefile`; `%%time` and `%%capture` cells keep
  their body);
- `from __future__` imports move to the module's first line.

Each cell keeps its own lines (a dropped statement becomes blank lines or `pass`), so a line of
the module maps back to (cell, line in cell) by offsets: cells are numbered from 1 counting every
cell from the top, markdown included; lines from 1 within the cell.
"""
from __future__ import annotations

import __future__
import ast
import builtins
import io
import json
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

FRONT_END_MODULES = ("google.colab", "IPython")      # importable only inside a notebook front end
PYTHON_CELL_MAGICS = ("time", "capture")              # cell magics whose body runs as Python
_MAGIC_ASSIGN = re.compile(r"^\s*[A-Za-z_][\w.]*(\s*,\s*[A-Za-z_][\w.]*)*\s*=\s*[%!]")


class NotebookError(Exception):
    """A notebook that cannot become a module: not a notebook, or a cell that is not Python.

    `error_type` is set (SyntaxError) when a cell is at fault; the error is then reported as
    the child reports an exception at import, with the cell and line."""

    def __init__(self, problem: str, cell: int | None = None, line: int | None = None, code: str = "",
                 error_type: str = ""):
        super().__init__(problem)
        self.problem, self.cell, self.line, self.code, self.error_type = problem, cell, line, code, error_type

    def as_error(self, file: str) -> dict:
        """The error as the import error of a module that comes from notebook `file`."""
        if self.error_type:
            where = {"cell": self.cell, "line": self.line} if self.line else {}
            return {"kind": "exception", "type": self.error_type, "message": self.problem, "file": file,
                    **where, "code": self.code}
        return {"kind": "notebook", "message": f"{file} {self.problem}" + (f" (cell {self.cell})" if self.cell else "")}


@dataclass(frozen=True)
class Module:
    """A notebook's kept code as one module, and where each of its lines came from."""

    source: str
    cells: tuple                     # (first module line, cell number, number of lines), in order
    dropped: dict = field(default_factory=dict)     # name -> (cell, line) of a dropped statement setting it
    defined: dict = field(default_factory=dict)     # name -> the cells that define it (def, class), in order
    written: dict = field(default_factory=dict)     # module a %%writefile cell writes ("pkg.svm") -> (path, cell)
    skipped: tuple = ()              # (cell, its NotebookError, the names its top-level defs and classes name): not Python
    writes: dict = field(default_factory=dict)      # name a %%writefile cell defines (def, class) -> (path, cell)


@dataclass
class Notebooks:
    """The modules of one submission that come from notebooks."""

    sources: dict = field(default_factory=dict)      # module -> converted source, for the child
    errors: dict = field(default_factory=dict)       # module -> import error, for notebooks that did not convert
    files: dict = field(default_factory=dict)        # module -> the notebook's file name, for messages
    modules: dict = field(default_factory=dict)      # notebook file name -> Module, to relocate errors

    def relocate(self, error):
        return relocate(error, self.modules) if isinstance(error, dict) else error

    def relocate_printed(self, text: str) -> str:
        """Printed text with each `<path>/work.ipynb:74:` (a warning's place, as Python prints it: the
        module's line, and the grading machine's path) said as `work.ipynb, cell 5, line 3:`."""
        if not self.modules or ".ipynb:" not in text:
            return text
        # Found from each ".ipynb:" back to the path's start, in one pass: a pattern that looks for
        # the path first tried every start in a run of characters without one (a red team's
        # 80,000 printed characters took 44 s of the grader's CPU)
        out, done, previous = [], 0, 0
        for m in _PRINTED_LINE.finditer(text):
            # a path starts after the last space or colon before it, and after the previous place's
            # end (which ends in a colon): each stretch of the text is looked at once
            start = max(max(text.rfind(c, previous, m.start()) for c in (" ", "\t", "\n", "\r", ":")) + 1, previous)
            previous = m.end()
            name = text[start:m.start()].rsplit("/", 1)[-1] + ".ipynb"
            module = self.modules.get(name)
            found = where(module.cells, int(m.group(1))) if module is not None else None
            if found:
                out += [text[done:start], f"{name}, cell {found[0]}, line {found[1]}:"]
                done = m.end()
        return "".join(out) + text[done:]


_PRINTED_LINE = re.compile(r"\.ipynb:(\d{1,9}):")


def for_modules(paths: dict, cells: dict | None = None) -> Notebooks:
    """Convert the notebooks among a submission's module paths ({module: path or None}), each once.

    `cells` ({path: [(cell type, source), ...]}) holds notebooks that are not read from a file."""
    found = Notebooks()
    done: dict[str, Module | NotebookError] = {}
    cells = cells or {}
    for name, path in paths.items():
        if path is None or not str(path).endswith(".ipynb"):
            continue
        file = Path(path).name
        if path not in done:
            try:
                done[path] = convert(cells[path]) if path in cells else load(Path(path))
            except NotebookError as e:
                done[path] = e
        found.files[name] = file
        if isinstance(done[path], NotebookError):
            found.errors[name] = done[path].as_error(file)
        else:
            found.sources[name] = done[path].source
            found.modules[file] = done[path]
    return found


MAX_NOTEBOOK = 64 << 20               # bytes of a notebook file read at all (plots are stored in it)
MAX_VALUES = 2_000_000                # its JSON objects, arrays and the values in them, at most (counted by
                                      # their brackets and commas): decoding takes memory for each (a 200 MB file
                                      # of `{},` took 5 GB, 64 MiB of numbers 0.8 GB); a real notebook has thousands
_CLEAR = "clear its outputs (in Jupyter: Edit > Clear All Outputs; in Colab: Edit > Clear all outputs) and save it again"


def load(path: Path) -> Module:
    """Read and convert a notebook file; NotebookError says what is wrong and where."""
    try:
        size = path.stat().st_size
        if size > MAX_NOTEBOOK:
            raise NotebookError(f"is {size / 2**20:.0f} MiB, over the {MAX_NOTEBOOK >> 20} MiB a notebook may be: {_CLEAR}")
        data = path.read_bytes()
    except OSError as e:
        raise NotebookError(f"cannot be read ({e.strerror or e})") from None
    return convert(read_cells(data))


def read_cells(data: bytes | str) -> list[tuple[str, str]]:
    """(cell type, source) of every cell of an nbformat 4 notebook, in order."""
    marks = (b"{", b"[", b",") if isinstance(data, bytes) else ("{", "[", ",")
    if len(data) > MAX_NOTEBOOK or sum(data.count(c) for c in marks) > MAX_VALUES:
        raise NotebookError(f"holds more than a notebook does (over {MAX_NOTEBOOK >> 20} MiB, or two million JSON "
                            f"values): {_CLEAR}")
    try:
        nb = json.loads(data)
    except json.JSONDecodeError as e:
        raise NotebookError(f"is not a Jupyter notebook: invalid JSON at line {e.lineno}, column {e.colno} ({e.msg})") from None
    except (UnicodeDecodeError, RecursionError, ValueError) as e:
        raise NotebookError(f"is not a Jupyter notebook: {type(e).__name__}") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        major = nb.get("nbformat") if isinstance(nb, dict) else None
        if isinstance(major, int) and major < 4:
            raise NotebookError(f"is in nbformat {major}, from IPython 2 or older: open it in Jupyter and save it "
                                "again (any version since 2015 writes nbformat 4)")
        raise NotebookError("is not a Jupyter notebook: no list of cells")
    cells = []
    for number, cell in enumerate(nb["cells"], 1):
        source = cell.get("source", "") if isinstance(cell, dict) else None
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str) or not isinstance(cell.get("cell_type"), str):
            raise NotebookError("is not a Jupyter notebook: a cell without a cell_type or a text source", cell=number)
        cells.append((cell["cell_type"], source))
    return cells


MAX_CODE = 2 << 20                   # characters of code in a notebook's code cells (a course's is under 100 KB)
MAX_CODE_LINES = 50_000               # and lines: converting them is the grader's own work, outside any sandbox


def convert(cells: list[tuple[str, str]]) -> Module:
    """One module from the code cells; NotebookError for more code than MAX_CODE or MAX_CODE_LINES (a
    notebook of a million lines took a minute and 2.5 GB), or a cell nested too deeply to read.

    A cell that is not Python (a SyntaxError: a half-written cell at the deadline) is left out, as
    Jupyter's kernel leaves it out: it defines nothing, and the other cells are graded (Module.skipped
    says which, and what it would have defined). One such cell made a whole notebook "could not be
    imported", three finished functions with it (a thirteenth students' round)."""
    code = [source for kind, source in cells if kind == "code"]
    size, count = sum(map(len, code)), sum(source.count("\n") + 1 for source in code)
    if size > MAX_CODE or count > MAX_CODE_LINES:
        raise NotebookError(f"holds {size:,} characters in {count:,} lines of code, more than the grader reads "
                            f"({MAX_CODE:,} characters, {MAX_CODE_LINES:,} lines): remove the cells that are not "
                            "your solution")
    lines, spans, future = [""], [], []        # the first line is for `from __future__` imports
    dropped: dict = {}
    defined: dict = {}
    written: dict = {}
    writes: dict = {}
    skipped: list = []
    bound = set(dir(builtins))
    for number, (kind, source) in enumerate(cells, 1):
        if kind != "code":
            continue
        target = _WRITEFILE.match(source)
        if target and target.group(1).endswith(".py"):
            written.setdefault(target.group(1)[:-3].replace("/", "."), (target.group(1), number))
            for m in _DEFINES.finditer(source, target.end()):
                writes[m.group(1)] = (target.group(1), number)        # the last cell writing it wins, as the file does
        cell = _cell_lines(source)
        if not cell:
            continue
        try:
            tree = _parse(cell, number)
            for stmt in tree.body:
                if _is_future(stmt):
                    for alias in stmt.names:
                        if alias.name not in __future__.all_feature_names:
                            raise NotebookError(f"future feature {alias.name} is not defined", number, stmt.lineno,
                                                cell[stmt.lineno - 1].strip(), "SyntaxError")
        except NotebookError as e:
            if not e.error_type:
                raise
            skipped.append((number, e, tuple(dict.fromkeys(m.group(1) for m in _DEFINES.finditer("\n".join(cell))))))
            continue
        gone = []
        try:
            for stmt in tree.body:
                if _is_future(stmt):
                    future += [alias.name for alias in stmt.names]
                    gone.append(stmt)
                elif not _keep(stmt, bound):
                    gone.append(stmt)
                    dropped.update(dict.fromkeys(_names_set(stmt), (number, stmt.lineno)))
                elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    defined.setdefault(stmt.name, []).append(number)
        except RecursionError:           # blocks nested deeper than the stack allows
            raise NotebookError(f"cannot be read: cell {number} is nested too deeply") from None
        _blank_all(cell, gone)
        spans.append((len(lines) + 1, number, len(cell)))
        lines += cell
    if future:
        lines[0] = "from __future__ import " + ", ".join(dict.fromkeys(future))
    for name in bound:
        dropped.pop(name, None)                # set again by a kept statement: never missing
    return Module("\n".join(lines) + "\n", tuple(spans), dropped, defined, written, tuple(skipped), writes)


# What a cell that is not Python meant to define: its `def name` and `class Name` lines at the left margin
_DEFINES = re.compile(r"^(?:async[ \t]+)?(?:def|class)[ \t]+([A-Za-z_]\w*)", re.MULTILINE)


# `%%writefile [-a] path`: a relative path of a module, unquoted or quoted
_WRITEFILE = re.compile(r"%%writefile(?:[ \t]+-a)?[ \t]+[\"']?((?:[A-Za-z_]\w*/)*[A-Za-z_]\w*\.py)[\"']?[ \t]*(?:\n|$)")


def where(cells: tuple, line: int) -> tuple[int, int] | None:
    """(cell number, line in that cell) of a line of the module; None for the grader's own first line."""
    for first, number, count in cells:
        if first <= line < first + count:
            return number, line - first + 1
    return None


def relocate(error: dict, modules: dict) -> dict:
    """An error the child reported, its file and line moved from the module to the notebook's cell.

    `modules` maps a notebook's file name to its Module; other files' errors are returned as is.
    A NameError of a name that a dropped statement sets gets a `note` saying so."""
    error = _import_relocated(error, modules)
    file, line = error.get("file"), error.get("line")
    module = modules.get(file) if isinstance(file, str) else None
    if module is None or not isinstance(line, int) or isinstance(line, bool):
        return error
    found = where(module.cells, line)
    if found is None:
        return {key: value for key, value in error.items() if key not in ("line", "code", "before", "before_line")}
    error = {**error, "cell": found[0], "line": found[1]}
    before = error.pop("before_line", None)
    at = where(module.cells, before) if isinstance(before, int) and not isinstance(before, bool) else None
    if at is not None and at[0] == found[0]:        # the line before it, in the same cell: numbered as the cell's
        error["before_line"] = at[1]
    else:
        error.pop("before", None)
    missing = re.match(r"name '(\w+)' is not defined", str(error.get("message", "")))
    if error.get("type") == "NameError" and missing and missing.group(1) in module.dropped:
        name, (cell, at) = missing.group(1), module.dropped[missing.group(1)]
        error["note"] = (f"{name} is set in cell {cell}, line {at}, which the grader does not run: from a "
                         "notebook it keeps only imports, functions, classes and constants (see docs/notebooks.md).")
    return error


def _import_relocated(error: dict, modules: dict) -> dict:
    """A missing package's stand-in (harness.Absent) names the import's file and line of the module:
    a notebook's is said as its cell and line, wherever the error was raised (a graded function that
    is itself a stand-in raises in no file of the student's)."""
    message = error.get("message")
    imported = _IMPORTED.search(message) if isinstance(message, str) else None
    module = modules.get(imported.group(2)) if imported else None
    at = where(module.cells, int(imported.group(3))) if module is not None else None
    if at is None:
        return error
    said = f"(imported at {imported.group(2)}, cell {at[0]}, line {at[1]}, used here)"
    error = {**error, "message": message.replace(imported.group(0)[imported.group(0).index("("):], said)}
    missing = imported.group(1)
    written = [(path, cell) for name, (path, cell) in module.written.items()
               if name == missing or name.startswith(missing + ".")]
    if written and not error.get("note"):
        path, cell = written[0]
        error["note"] = (f"{path} is written by cell {cell} (%%writefile), which the grader does not run: hand in "
                         f"{path} beside the notebook, or define what it holds in a cell of the notebook "
                         "(see docs/notebooks.md).")
    return error


_IMPORTED = re.compile(r"No module named '([\w.]+)' \(imported at ([^/\s,]+\.ipynb), line (\d{1,9}), used here\)")


# ---------------------------------------------------------------------------------------------
# One cell: magics out, then the statements that are not definitions


def _cell_lines(source: str) -> list[str]:
    """A cell's lines with IPython's syntax replaced by blank lines or `pass`, line for line."""
    lines = re.split(r"\r\n|\r|\n", source)       # Python's line breaks only (not str.splitlines's \f, \u2028, ...)
    if lines[-1] == "":
        lines.pop()
    if lines and lines[0].startswith("%%"):
        name = lines[0][2:].split(maxsplit=1)[0] if lines[0][2:].strip() else ""
        if name not in PYTHON_CELL_MAGICS:
            return [""] * len(lines)
        lines[0] = ""
    indent = re.match(r"[ \t]*", lines[0]).group() if lines else ""
    if indent:                           # IPython removes the first line's indentation from every line
        lines = [line[len(indent):] if line.startswith(indent) else line for line in lines]
    for first, last, end in _logical_lines(lines):
        text = lines[first]
        if text.lstrip()[:1] in ("%", "!", "?") or _MAGIC_ASSIGN.match(text) or end == "?":
            lines[first] = text[: len(text) - len(text.lstrip())] + "pass"
            for i in range(first + 1, last + 1):
                lines[i] = ""
    return lines


def _logical_lines(lines: list[str]) -> list[tuple[int, int, str]]:
    """(first, last line index, last token) of each logical line: lines joined by brackets,
    strings or `\\`.

    Tokenizing tells a line that starts a statement (where `%` or `!` is a magic) from one
    inside brackets (`% loss` continuing a format expression), and `f?` from `# why?`. Where the
    tokenizer gives up, each remaining line counts as its own; `ast.parse` then reports any
    real error."""
    found, start, end, next_row = [], None, "", 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline):
            if tok.type in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
                continue
            if tok.type == tokenize.NEWLINE:
                if start is not None:
                    found.append((start, tok.start[0] - 1, end))
                start, next_row = None, tok.start[0]
            else:
                start = tok.start[0] - 1 if start is None else start
                end = tok.string
    except (tokenize.TokenError, SyntaxError):
        resume = start if start is not None else next_row
        found += [(i, i, lines[i].split("#", 1)[0].rstrip()[-1:]) for i in range(resume, len(lines)) if lines[i].strip()]
    return found


def _parse(lines: list[str], number: int) -> ast.Module:
    try:
        tree = ast.parse("\n".join(lines) + "\n")
        # What parses but does not compile (`break` outside a loop, `nonlocal` at the top) is not Python
        # either: Jupyter fails that cell alone (a nineteenth red team's sank the whole notebook). A
        # top-level await is IPython's to run, as it does.
        compile(tree, f"<cell {number}>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
        return tree
    except SyntaxError as e:
        line = e.lineno if isinstance(e.lineno, int) and 1 <= e.lineno <= len(lines) else None
        code = lines[line - 1].strip() if line else ""
        raise NotebookError(e.msg, number, line, code, type(e).__name__) from None
    except (RecursionError, MemoryError, ValueError) as e:
        raise NotebookError(f"cannot be read: cell {number} could not be parsed ({type(e).__name__})") from None


def _is_future(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__" and not stmt.level


def _keep(stmt: ast.stmt, bound: set) -> bool:
    """Whether a top-level statement only defines things; `bound` gains the names it defines."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        if isinstance(stmt, ast.Import):
            names = [a.name for a in stmt.names]
        else:
            names = [] if stmt.level else [stmt.module or ""]
        if any(n == m or n.startswith(m + ".") for n in names for m in FRONT_END_MODULES):
            return False
        bound.update((a.asname or a.name).split(".")[0] for a in stmt.names if a.name != "*")
        # what each name stands for, to tell a call of a pure library function in a constant
        if isinstance(stmt, ast.Import):
            bound.update(("bind", a.asname, a.name) if a.asname else ("bind", a.name.split(".")[0], a.name.split(".")[0])
                         for a in stmt.names)
        else:
            module = f"{'.' * stmt.level}{stmt.module or ''}"
            bound.update(("bind", a.asname or a.name, f"{module}.{a.name}") for a in stmt.names)   # `*`: any name
        return True
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        bound.update((stmt.name, ("bind", stmt.name, None)))
        if isinstance(stmt, ast.ClassDef):
            bound.add(("class", stmt.name))
        return True
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Attribute) \
            and isinstance(stmt.targets[0].value, ast.Name) and ("class", stmt.targets[0].value.id) in bound \
            and _constant(stmt.value, bound):
        return True                      # `TwoLayerNet.loss = two_layer_loss`: a method given to a class of the notebook's
    if isinstance(stmt, ast.Assign):
        targets = [n for t in stmt.targets for n in _target_names(t)]
        if None in targets or not _constant(stmt.value, bound):
            return False
        bound.update(targets + [("bind", n, None) for n in targets])
        return True
    if isinstance(stmt, ast.AnnAssign):
        names = _target_names(stmt.target)
        if None in names or (stmt.value is not None and not _constant(stmt.value, bound)):
            return False
        if stmt.value is not None:
            bound.update(names + [("bind", n, None) for n in names])
        return True
    if isinstance(stmt, ast.AugAssign):
        return isinstance(stmt.target, ast.Name) and stmt.target.id in bound and _constant(stmt.value, bound)
    if isinstance(stmt, ast.If):
        if any(isinstance(n, ast.Name) and n.id == "__name__" for n in ast.walk(stmt.test)):
            return False                 # `if __name__ == "__main__":` runs the notebook's work
        return _constant(stmt.test, bound) and _all_kept(stmt.body + stmt.orelse, bound)
    if isinstance(stmt, ast.Try):
        handlers = all(h.type is None or _constant(h.type, bound) for h in stmt.handlers)
        for h in stmt.handlers:
            if h.name:
                bound.update((h.name, ("bind", h.name, None)))
        return handlers and _all_kept(stmt.body + [s for h in stmt.handlers for s in h.body]
                                      + stmt.orelse + stmt.finalbody, bound)
    return False


def _names_set(stmt: ast.stmt) -> list[str]:
    """Every name a statement would define at the top level (roughly: nested scopes included)."""
    names = []
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.append(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.alias):
            names.append((node.asname or node.name).split(".")[0])
    return names


def _all_kept(stmts: list, bound: set) -> bool:
    trial = set(bound)
    if all(_keep(s, trial) for s in stmts):
        bound |= trial
        return True
    return False


def _target_names(target: ast.expr) -> list:
    """Names an assignment binds; None stands for a target that is not a plain name."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for elt in target.elts for n in _target_names(elt)]
    return [None]


_CONSTANT_NODES = (ast.Constant, ast.Tuple, ast.List, ast.Set, ast.Dict, ast.UnaryOp, ast.BinOp, ast.BoolOp,
                   ast.Compare, ast.IfExp, ast.Attribute, ast.Subscript, ast.Slice, ast.Starred, ast.JoinedStr,
                   ast.FormattedValue)


# Library functions that only make a value from their arguments, cheaply: a constant may call them
# (`DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")`, then `device=DEVICE` as a
# default argument of a class's __init__, failed a whole network at import: a tenth students' round)
PURE_CALLS = frozenset({
    "float", "int", "bool", "complex", "abs", "round", "min", "max",
    "math.sqrt", "math.log", "math.exp",
    "numpy.float32", "numpy.float64", "numpy.int64", "numpy.dtype", "numpy.finfo", "numpy.iinfo",
    "numpy.sqrt", "numpy.log", "numpy.exp", "numpy.array",
    "torch.device", "torch.cuda.is_available", "torch.backends.mps.is_available", "torch.get_default_dtype",
    "torch.finfo", "torch.iinfo", "torch.tensor",
})


def _pure_call(func: ast.expr, bound: set) -> bool:
    """Whether `func` (a name, or names joined by dots) is one of PURE_CALLS, through the imports
    the notebook kept so far (`np.sqrt` after `import numpy as np`; `float`, a builtin, unless bound
    otherwise)."""
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name):
        return False
    rest = ".".join(reversed(parts))
    # what the notebook bound the name to so far: one import of it and nothing else, or, for a
    # builtin's name, nothing at all (no star import either: it may bind any name)
    binds = {x[2] for x in bound if isinstance(x, tuple) and x[0] == "bind" and (x[1] == func.id or x[1] == "*")}
    if not rest and func.id in PURE_CALLS:
        return not binds
    for target in PURE_CALLS:
        real = target if not rest else target[: -len(rest) - 1] if target.endswith("." + rest) else None
        if real and binds == {real}:
            return True
    return False


def _constant(expr: ast.expr, bound: set) -> bool:
    """Whether an expression calls nothing but PURE_CALLS and names only what is already defined.
    Without recursion: `DEPTH = ------...1`, 600 minus signs deep, parses."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Lambda):     # its body runs only when called; its defaults run now
            stack += node.args.defaults + [d for d in node.args.kw_defaults if d]
        elif isinstance(node, ast.Call):
            if not _pure_call(node.func, bound):
                return False
            stack += node.args + [k.value for k in node.keywords]
        elif isinstance(node, ast.Name):
            if node.id not in bound:
                return False
        elif isinstance(node, _CONSTANT_NODES):
            stack += [child for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr)]
        else:
            return False
    return True


def _blank_all(lines: list[str], gone: list) -> None:
    """Remove the statements `gone` (in the cell's order), keeping every line where it is. Those
    that share a line with no statement of several lines are replaced on it in one pass: one at a
    time, each encoded the whole line again (a red team's cell of `1;` 300,000 times stretched a
    batch of three from 5 to 82 seconds of the grader's CPU). The others one at a time, right to
    left: blanking one leaves the columns of those before it."""
    spanning = {n for s in gone if s.lineno != s.end_lineno for n in (s.lineno, s.end_lineno)}
    by_line: dict = {}
    rest = []
    for stmt in gone:
        if stmt.lineno == stmt.end_lineno and stmt.lineno not in spanning:
            by_line.setdefault(stmt.lineno - 1, []).append(stmt)
        else:
            rest.append(stmt)
    for i, stmts in by_line.items():
        if len(stmts) == 1:
            _blank(lines, stmts[0])
            continue
        data = lines[i].encode("utf-8")
        parts, at = [], 0
        for stmt in sorted(stmts, key=lambda s: s.col_offset):
            parts += [data[at:stmt.col_offset], b"pass"]
            at = stmt.end_col_offset
        lines[i] = (b"".join(parts) + data[at:]).decode("utf-8", "ignore")
    for stmt in reversed(rest):
        _blank(lines, stmt)


def _blank(lines: list[str], stmt: ast.stmt) -> None:
    """Remove a statement, keeping every line where it is (so line numbers do not move)."""
    first, last = stmt.lineno - 1, stmt.end_lineno - 1
    before = _chars(lines[first], stmt.col_offset)
    after = lines[last][len(_chars(lines[last], stmt.end_col_offset)):]
    if not before.strip() and (after.strip() in ("", ";") or after.lstrip().startswith("#")):
        for i in range(first, last + 1):             # alone on its lines
            lines[i] = ""
        return
    # It shares a line with another statement (`import numpy as np; np.random.seed(0)`):
    # `pass` in its place, continued with backslashes down to the code after it.
    if first == last:
        lines[first] = before + "pass" + after
        return
    lines[first] = before + "pass \\"
    for i in range(first + 1, last):
        lines[i] = "\\"
    lines[last] = " " * len(_chars(lines[last], stmt.end_col_offset)) + after


def _chars(line: str, byte_offset: int) -> str:
    """The start of `line` up to an `ast` column, which counts UTF-8 bytes."""
    return line.encode("utf-8")[:byte_offset].decode("utf-8", "ignore")

"""Notebooks as submissions, the pure part: reading nbformat 4, keeping only definitions, mapping
a line of the converted module back to (cell, line). Nothing here runs student code."""
import ast
import json
from pathlib import Path

import nbformat
import pytest

from grader.notebook import Module, NotebookError, convert, read_cells, relocate, where

from notebooks import as_notebook, write_notebook
from conftest import REPO


def code(*cells: str) -> list:
    return [("code", c) for c in cells]


def kept_lines(module: Module) -> list[str]:
    return [line for line in module.source.splitlines()[1:] if line.strip()]


def line_of(module: Module, text: str) -> int:
    """The module line holding `text` (exactly one)."""
    found = [i for i, line in enumerate(module.source.split("\n"), 1) if text in line]
    assert len(found) == 1, f"{text!r} on lines {found} of:\n{module.source}"
    return found[0]


# ---------------------------------------------------------------------------------------------
# What is kept


@pytest.mark.parametrize("statement, kept", [
    ("import torch", True),
    ("import torch.nn.functional as F", True),
    ("from math import pi, tau as TAU", True),
    ("def f(x):\n    return x", True),
    ("class Net:\n    size = 3", True),
    ("async def g():\n    pass", True),
    ("@staticmethod\ndef h():\n    pass", True),
    ("EPS = 1e-8", True),
    ("A = B = (1, 2.5, 'x', None, True)", True),
    ("first, *rest = [1, 2, 3]", True),
    ("CONFIG = {'lr': 1e-3, 'reg': [0.1, -2 ** 3]}", True),
    ("label: str = f'{1 + 1:>4}'", True),
    ("count: int", True),
    ("relu = lambda x: x.clamp(min=0)", True),
    ("from google.colab import drive", False),            # exists only in Colab
    ("from IPython.display import display", False),
    ("import IPython", False),
    ("print('hello')", False),
    ("x = torch.randn(3)", False),                         # calls run code: dropped
    ("x = len([1])", False),
    ("x = [i for i in (1, 2)]", False),
    ("x = undefined_name + 1", False),                     # defined by a dropped cell, perhaps
    ("CONFIG['lr'] = 0.1", False),                         # changes an object, binds nothing
    ("torch.backends.cudnn.benchmark = True", False),
    ("for i in range(3):\n    pass", False),
    ("while True:\n    pass", False),
    ("with open('f') as f:\n    pass", False),
    ("assert 1 + 1 == 2", False),
    ("del EPS", False),
    ("raise SystemExit", False),
    ("'a docstring'", False),
    ("pass", False),
    ("if __name__ == '__main__':\n    import sys", False),
    ("if True:\n    import sys\nelse:\n    X = 1", True),
    ("if True:\n    import sys\n    sys.exit()", False),
    ("try:\n    import tqdm\nexcept ImportError:\n    tqdm = None", True),
    ("try:\n    import tqdm\nexcept ImportError:\n    print('no tqdm')", False),
])
def test_top_level_statements_kept_or_dropped(statement, kept):
    module = convert(code(statement))
    assert kept_lines(module) == (statement.splitlines() if kept else []), module.source


def test_an_expression_nested_deeper_than_the_stack_is_read_not_a_crash():
    """A red team's cell `DEPTH = ------...1`: 600 minus signs parse, and reading whether it is a
    constant recursed two frames a level, so `grader check` ended in a RecursionError traceback and
    wrote no results.json. It is read without recursion; a call that deep is still dropped."""
    module = convert(code("import numpy as np", "DEPTH = " + "-" * 600 + "1", "LATER = " + "-" * 600 + "np.load(1)"))
    assert kept_lines(module) == ["import numpy as np", "DEPTH = " + "-" * 600 + "1"]


@pytest.mark.parametrize("imports, statement, kept", [
    ("import torch", "DEVICE = torch.device('cuda' if torch.cuda.is_available() else 'cpu')", True),
    ("import torch as T", "DT, EPS = T.get_default_dtype(), T.finfo(T.float32).eps", True),
    ("from torch import device", "CPU = device('cpu')", True),
    ("import numpy as np", "EPS = np.float32(1e-8)", True),
    ("import numpy as np", "MEAN = np.array([0.485, 0.456, 0.406])", True),
    ("import math", "SCALE = 1 / math.sqrt(2)", True),
    ("import numpy", "BEST = min(float('inf'), abs(-2))", True),
    ("import numpy as np", "x = np.zeros(3)", False),                    # not on the list
    ("import numpy as np", "EPS = np.float32(np.load('eps.npy'))", False),   # its argument calls what is not
    ("import numpy as np", "EPS = numpy.float32(1e-8)", False),          # numpy is not a name here
    ("import numpy as np", "x = np.random.seed(0)", False),
    ("import torch", "x = torch.device(get_device())", False),
    # a name the notebook bound to something else (a sixteenth red team): not the pure function
    ("from subprocess import call as float", "X = float(['true'])", False),
    ("def max(*a):\n    return a", "X = max(1, 2)", False),
    ("import numpy as np\nimport os as np", "X = np.sqrt(2)", False),
    ("from numpy import *", "X = float('inf')", False),
])
def test_a_constant_may_call_a_pure_library_function(imports, statement, kept):
    """`DEVICE = torch.device(...)`, then `device=DEVICE` as a default argument of a network's
    __init__: dropped, it failed the whole class at import (a tenth students' round, 0/50 for a
    line that Restart & Run All accepts). Calls of a short list of functions that only make a
    value (grader.notebook.PURE_CALLS) are constants, read through the notebook's own imports."""
    module = convert(code(imports, statement))
    assert kept_lines(module) == imports.splitlines() + ([statement] if kept else []), module.source


def test_names_defined_earlier_count_and_dropped_ones_do_not():
    module = convert(code("import torch\nDT = torch.float64\nN = 3", "SHAPE = (N, N * 2)\nTOTAL = 2 * M",
                          "M = torch.zeros(3)\nLATER = M"))
    assert kept_lines(module) == ["import torch", "DT = torch.float64", "N = 3", "SHAPE = (N, N * 2)"]


def test_a_statement_sharing_a_line_is_dropped_alone():
    module = convert(code("import numpy as np; np.random.seed(0)", "print(1); K = 2",
                          "X = 1; print(X,\n  X); Y = 2"))
    assert kept_lines(module) == ["import numpy as np; pass", "pass; K = 2", "X = 1; pass \\", "    ; Y = 2"]
    namespace = {}
    exec(compile(module.source.replace("import numpy as np", "np = None"), "m", "exec"), namespace)
    assert (namespace["K"], namespace["X"], namespace["Y"]) == (2, 1, 2)


def test_several_dropped_statements_on_one_line_each_become_pass():
    module = convert(code("r = f(); print(r); r", "print(1); K = 2; print(K)"))
    assert kept_lines(module) == ["pass; pass; pass", "pass; K = 2; pass"]


# ---------------------------------------------------------------------------------------------
# IPython syntax


def test_magics_shell_lines_and_help_are_dropped_where_they_start_a_statement():
    module = convert(code(
        "!pip install torch\n%matplotlib inline\nfiles = !ls\nt = %timeit -o 1\n?len\nlen?\nlen??\nimport torch",
        "def f(x):\n    %time y = x\n    !echo hi\n    return x  # why?",
        "def g(loss):\n    return ('loss %f'\n            % loss)",
    ))
    assert kept_lines(module) == ["import torch", "def f(x):", "    pass", "    pass", "    return x  # why?",
                                  "def g(loss):", "    return ('loss %f'", "            % loss)"]
    namespace = {}
    exec(compile(module.source.replace("import torch", ""), "m", "exec"), namespace)
    assert namespace["f"](3) == 3 and namespace["g"](0.5) == "loss 0.500000"


def test_a_shell_line_continued_with_a_backslash_is_dropped_whole():
    module = convert(code("!pip install \\\n    numpy \\\n    torch\nK = 1"))
    assert kept_lines(module) == ["K = 1"]
    assert where(module.cells, line_of(module, "K = 1")) == (1, 4)


def test_cell_magics_drop_the_cell_unless_its_body_is_python():
    module = convert(code("%%bash\npip install torch", "%%writefile x.py\ndef nope():\n    pass",
                          "%%time\ndef timed():\n    return 1\ntimed()", "%%capture out\nK = 2"))
    assert kept_lines(module) == ["def timed():", "    return 1", "K = 2"]


def test_only_pythons_line_breaks_count_so_lines_map_exactly():
    module = convert(code("S = 'a\fb\u2028c'\r\nK = 1\rdef f():\n    return S"))
    assert where(module.cells, line_of(module, "return S")) == (1, 4)
    namespace = {}
    exec(compile(module.source, "m", "exec"), namespace)
    assert namespace["f"]() == "a\fb\u2028c" and namespace["K"] == 1


def test_an_indented_cell_is_dedented_as_ipython_does():
    module = convert(code("    def f():\n        return 1\n    K = 2"))
    assert kept_lines(module) == ["def f():", "    return 1", "K = 2"]


def test_future_imports_move_to_the_first_line():
    module = convert(code("import torch", "from __future__ import annotations\ndef f(x: Later) -> Later:\n    pass"))
    assert module.source.splitlines()[0] == "from __future__ import annotations"
    assert where(module.cells, 1) is None
    compile(module.source, "m", "exec")


# ---------------------------------------------------------------------------------------------
# Where a line came from


def test_every_line_maps_back_to_its_cell_and_line_counting_markdown_cells():
    cells = [("markdown", "# Title"), ("code", "import torch\n\n"), ("raw", "x"), ("code", ""),
             ("markdown", "text"), ("code", "print(1)\ndef f(x):\n    return 1 / x")]
    module = convert(cells)
    assert where(module.cells, line_of(module, "import torch")) == (2, 1)
    assert where(module.cells, line_of(module, "def f")) == (6, 2)
    assert where(module.cells, line_of(module, "return 1 / x")) == (6, 3)
    assert where(module.cells, 10 ** 6) is None


def test_relocate_moves_a_child_error_to_the_cell_and_leaves_other_files_alone():
    module = convert([("markdown", "m"), ("code", "import torch"), ("code", "def f(x):\n    return 1 / x")])
    line = line_of(module, "return 1 / x")
    error = {"kind": "exception", "type": "ZeroDivisionError", "message": "division by zero",
             "file": "work.ipynb", "line": line, "function": "f", "code": "return 1 / x"}
    assert relocate(error, {"work.ipynb": module}) == {**error, "cell": 3, "line": 2}
    other = {**error, "file": "helpers.py"}
    assert relocate(other, {"work.ipynb": module}) == other
    header_line = relocate({**error, "line": 1}, {"work.ipynb": module})
    assert "line" not in header_line and "cell" not in header_line
    for hostile in ({**error, "file": ["work.ipynb"]}, {**error, "line": "3"}, {**error, "line": True}):
        assert relocate(hostile, {"work.ipynb": module}) == hostile


def test_a_name_error_of_a_name_set_by_a_dropped_statement_says_where_and_why():
    module = convert([("code", "import torch\nN = 3\ndevice = torch.ones(1).device"),
                      ("code", "for N in range(2):\n    size = N\nlimit = 10"),
                      ("code", "def f(x):\n    return x.to(device) * N * size")])
    line = line_of(module, "return x.to(device)")
    error = lambda name: {"kind": "exception", "type": "NameError", "message": f"name '{name}' is not defined",
                          "file": "work.ipynb", "line": line, "function": "f"}
    assert relocate(error("device"), {"work.ipynb": module})["note"] == (
        "device is set in cell 1, line 3, which the grader does not run: from a notebook it keeps only imports, "
        "functions, classes and constants (see docs/notebooks.md).")
    assert "cell 2, line 1" in relocate(error("size"), {"work.ipynb": module})["note"]
    assert "note" not in relocate(error("N"), {"work.ipynb": module})            # kept, so never missing
    assert "note" not in relocate(error("elsewhere"), {"work.ipynb": module})
    assert "note" not in relocate({**error("device"), "type": "AttributeError"}, {"work.ipynb": module})


# ---------------------------------------------------------------------------------------------
# Bad notebooks


def test_a_cell_that_is_not_python_is_left_out_with_its_cell_line_and_what_it_defines():
    """As Jupyter's kernel leaves it out: one half-written cell made a whole notebook "could not be
    imported", three finished functions with it (a thirteenth students' round)."""
    module = convert([("markdown", "# HW"), ("code", "import torch"), ("code", "def f(W):\n    return (W\n"),
                      ("code", "def g(W):\n    return W\nclass H:\n    pass")])
    [(cell, e, names)] = module.skipped
    assert (cell, e.line, e.error_type, names) == (3, 2, "SyntaxError", ("f",))
    assert e.as_error("work.ipynb") == {"kind": "exception", "type": "SyntaxError", "message": "'(' was never closed",
                                        "file": "work.ipynb", "cell": 3, "line": 2, "code": "return (W"}
    assert module.defined == {"g": [4], "H": [4]} and "import torch" in module.source and "return (W" not in module.source
    compile(module.source, "work.ipynb", "exec")


def test_an_unknown_future_feature_is_a_syntax_error_of_its_cell():
    module = convert(code("import torch", "from __future__ import braces\ndef f():\n    pass"))
    [(cell, e, names)] = module.skipped
    assert (cell, e.line, e.error_type, names) == (2, 1, "SyntaxError", ("f",))
    assert "braces" not in module.source


@pytest.mark.parametrize("data, says", [
    (b'{"cells": [', "invalid JSON at line 1, column 12"),
    (b"\xff\xfe\x00", "is not a Jupyter notebook"),
    (b"[1, 2]", "no list of cells"),
    (b'{"nbformat": 3, "worksheets": []}', "nbformat 3"),
    (b'{"nbformat": 4, "cells": [{"cell_type": "code", "source": 7}]}', "(cell 1)"),
])
def test_what_is_not_a_notebook_is_said_in_one_line(data, says):
    with pytest.raises(NotebookError) as caught:
        read_cells(data)
    message = caught.value.as_error("work.ipynb")["message"]
    assert message.startswith("work.ipynb ") and says in message and "\n" not in message


def test_cells_read_as_nbformat_reads_them(tmp_path):
    source = (REPO / "examples" / "linear_classifier" / "bob" / "linear_classifier.py").read_text()
    path = write_notebook(tmp_path / "work.ipynb", as_notebook(source))
    nb = nbformat.read(str(path), as_version=4)
    assert read_cells(path.read_bytes()) == [(c.cell_type, c.source) for c in nb.cells]
    # Sources stored as one string instead of a list of lines are the same notebook.
    data = json.loads(path.read_text())
    for cell in data["cells"]:
        cell["source"] = "".join(cell["source"])
    assert read_cells(json.dumps(data)) == read_cells(path.read_bytes())


def test_a_notebook_of_a_module_defines_what_the_module_defines():
    source = (REPO / "examples" / "linear_classifier" / "ada" / "linear_classifier.py").read_text()
    module = convert(read_cells(json.dumps(as_notebook(source))))
    defined = lambda text: {n.name for n in ast.parse(text).body if isinstance(n, ast.FunctionDef)}
    assert defined(module.source) == defined(source) == {"svm_loss_naive", "svm_loss_vectorized",
                                                         "softmax_loss_naive", "softmax_loss_vectorized"}
    top = [type(n).__name__ for n in ast.parse(module.source).body]
    assert set(top) == {"Import", "FunctionDef"}, top        # the work cells and the docstring are gone


def test_a_notebook_with_more_code_than_the_grader_reads_is_refused_before_it_is_parsed(monkeypatch):
    """Converting is the grader's own work, outside the sandbox: a million lines took a minute and 2.5 GB."""
    import grader.notebook as notebook_module
    parsed = []
    monkeypatch.setattr(notebook_module, "_parse", lambda *a: parsed.append(1) or ast.parse(""))
    many = [("markdown", "# a long essay\n" * 100_000), ("code", "x = 1\n" * 60_000)]
    with pytest.raises(NotebookError) as caught:
        convert(many)
    assert caught.value.problem.startswith("holds 360,000 characters in 60,001 lines of code, more than the grader reads")
    assert parsed == []
    with pytest.raises(NotebookError, match="more than the grader reads"):
        convert([("code", "y" * (3 << 20))])
    convert([("code", "x = 1\n" * 40_000)])                      # within both: converted
    assert parsed


def test_a_notebook_of_a_million_json_objects_is_refused_before_it_is_decoded(tmp_path):
    """A 200 MB file of `{},` took 5 GB to decode in the grader's process (a 190 KB zip of it did as
    much to a batch): what decoding costs is counted in the raw bytes first."""
    from grader import notebook
    data = b'{"cells": [' + b"{}," * 1_000_001 + b'{}], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}'
    with pytest.raises(NotebookError) as e:
        read_cells(data)
    assert "two million JSON values" in e.value.problem and "Clear All Outputs" in e.value.problem
    numbers = b'{"cells": [], "metadata": {"x": [' + b"1e5," * 2_000_001 + b'1]}, "nbformat": 4, "nbformat_minor": 5}'
    with pytest.raises(NotebookError):                   # 16 MB of numbers: 0.8 GB decoded, at 64 MiB
        read_cells(numbers)
    path = tmp_path / "work.ipynb"
    path.write_bytes(data)
    with pytest.raises(NotebookError):
        notebook.load(path)


def test_a_notebook_over_the_size_limit_is_not_read(tmp_path, monkeypatch):
    from grader import notebook
    monkeypatch.setattr(notebook, "MAX_NOTEBOOK", 1 << 20)
    path = tmp_path / "work.ipynb"
    write_notebook(path, as_notebook("def f(x):\n    return x\n"))
    assert notebook.load(path).source.strip().startswith("def f")        # a small one reads
    with open(path, "ab") as f:
        f.write(b" " * (2 << 20))                                        # whitespace after the JSON: still valid
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("read"))
    with pytest.raises(NotebookError) as e:
        notebook.load(path)
    assert e.value.problem.startswith("is 2 MiB, over the 1 MiB a notebook may be: clear its outputs")


def test_a_missing_package_s_import_line_is_said_as_its_cell_and_line():
    """'No module named numba (imported at line 4, used here)' named a line of the module made from
    the notebook, which the student cannot find: now the cell and its line."""
    module = convert([("markdown", "m"), ("code", "x = 1\nimport torch\nimport numba"),
                      ("code", "@numba.jit\ndef svm_loss_naive(W):\n    return W")])
    imported, used = line_of(module, "import numba"), line_of(module, "@numba.jit")
    error = {"kind": "exception", "type": "ModuleNotFoundError", "file": "work.ipynb", "line": used,
             "message": f"No module named 'numba' (imported at work.ipynb, line {imported}, used here)"}
    moved = relocate(error, {"work.ipynb": module})
    assert (moved["cell"], moved["line"]) == (3, 1)
    assert moved["message"] == "No module named 'numba' (imported at work.ipynb, cell 2, line 3, used here)", moved["message"]
    # Raised in no file of the notebook's (the graded function is itself the stand-in of a name the
    # notebook imported from a package the machine lacks, its own %%writefile module, say): the
    # import's place is still said as the cell's (a tenth students' round read "imported at line 89")
    elsewhere = relocate({**error, "file": "harness.py", "line": 7}, {"work.ipynb": module})
    assert elsewhere["message"] == moved["message"] and elsewhere["line"] == 7 and "cell" not in elsewhere
    other = {**error, "message": f"No module named 'numba' (imported at helpers.py, line {imported}, used here)"}
    assert relocate(other, {"work.ipynb": module})["message"] == other["message"]       # a .py's line is its own


def test_statements_sharing_a_line_are_blanked_in_one_pass_as_one_at_a_time():
    """A red team's cell held `1;` 300,000 times on one line: blanking one statement at a time
    encoded the whole line each time, minutes of the grader's CPU for one notebook. Blanked in
    one pass, the line reads as it did."""
    from grader import notebook
    line = "import numpy as np; x = 1; print(x); y = np.zeros(3); print(y)  # the end"
    module = notebook.convert([("code", line + "\ndef f(a):\n    return a\n")])
    assert module.source.splitlines()[1] == "import numpy as np; x = 1; pass; pass; pass  # the end"
    many = notebook.convert([("code", "1;" * 20000 + "\ndef f(a):\n    return a\n")])
    assert many.source.splitlines()[1] == "pass;" * 20000
    assert "def f(a):" in many.source


def test_a_method_given_to_a_notebooks_class_in_a_later_cell_is_kept():
    """A tenth students' round wrote TwoLayerNet.loss as a function in a later cell and attached it,
    `TwoLayerNet.loss = two_layer_loss`: the statement was dropped, and the handout's stub graded."""
    from grader import notebook
    module = notebook.convert([("code", "class Net:\n    def loss(self):\n        raise NotImplementedError\n"),
                               ("code", "def real_loss(self):\n    return 1\n\nNet.loss = real_loss\nnp.pi = 3\n")])
    ns: dict = {}
    exec(module.source, ns)
    assert ns["Net"]().loss() == 1
    assert "np.pi = 3" not in module.source                   # a module's attribute: not the notebook's class
    assert module.defined == {"Net": [1], "real_loss": [2]}


def test_a_warning_printed_from_a_notebook_names_its_cell_not_the_grading_machines_path():
    """A tenth students' round's overflow warning read `/tmp/st10_work/subs/.../work.ipynb:74: RuntimeWarning`:
    a line of the joined module, and the grading machine's path, in feedback a student reads."""
    from grader.notebook import Notebooks
    module = convert([("markdown", "# hw"), ("code", "import numpy as np\n"),
                      ("code", "def f(x):\n    return np.exp(x)\n")])
    line = module.source.splitlines().index("    return np.exp(x)") + 1
    found = Notebooks(modules={"work.ipynb": module})
    printed = f"/srv/grading/alice/work.ipynb:{line}: RuntimeWarning: overflow encountered in exp\n  return np.exp(x)\n"
    assert found.relocate_printed(printed) == \
        "work.ipynb, cell 3, line 2: RuntimeWarning: overflow encountered in exp\n  return np.exp(x)\n"
    assert found.relocate_printed("loss: 3.5\n") == "loss: 3.5\n"
    assert Notebooks().relocate_printed(printed) == printed                  # a .py submission: as printed
    # two places on a line, one of another notebook's (kept as printed), one after a colon
    two = f"a work.ipynb:{line}: x other.ipynb:{line}: y:work.ipynb:{line}: z"
    assert found.relocate_printed(two) == "a work.ipynb, cell 3, line 2: x other.ipynb:%d: y:work.ipynb, cell 3, line 2: z" % line
    assert found.relocate_printed(f"no/work.ipynb:{10 ** 9}: z") == f"no/work.ipynb:{10 ** 9}: z"     # no such line


def test_printed_text_is_capped_where_the_grader_first_holds_it():
    """A red team's forged frame carried megabytes of printed text past the child's cap, and a
    notebook's places in it were looked for in all of it (a pattern that took 44 s of the grader's
    CPU on 80,000 characters): capped when decoded, as the child caps it."""
    from grader.run.outcome import decode
    outcome = decode({"status": "exception", "stdout": "x" * (1 << 20), "error": {"type": "ValueError"}}, [], ())
    assert len(outcome.stdout) < 20 << 10 and outcome.stdout.endswith("[... output cut]")


def test_a_function_defined_only_in_a_writefile_cell_says_so_where_it_is_not_defined():
    """A thirteenth students' round wrote the whole module with %%writefile and imported it: every
    function read "not defined", with no word of the cell the student could see it in."""
    from grader.grade import _hint_cells_skipped
    from grader.notebook import for_modules
    from grader.results import ERROR, PASSED, CaseResult, FunctionResult, SubmissionResult
    from grader.spec import load_spec
    spec = load_spec(REPO / "assignments" / "linear_classifier")
    cells = [("code", "%%writefile linear_classifier.py\nimport torch\n\ndef svm_loss_naive(W, X, y, reg):\n"
                      "    return 0.0, W\n"), ("code", "from linear_classifier import *"),
             ("code", "def svm_loss_vectorized(W, X, y, reg):\n    return 0.0, W")]
    notebooks = for_modules({"linear_classifier": "/x/A2.ipynb"}, {"/x/A2.ipynb": cells})
    assert notebooks.modules["A2.ipynb"].writes == {"svm_loss_naive": ("linear_classifier.py", 1)}

    def case(fn, status, message):
        return CaseResult(function=fn, case_id="public-1", visibility="public", seed=1, status=status, message=message)
    result = SubmissionResult(assignment="linear_classifier", submission="/x", hidden_graded=False, hidden_available=False,
                              functions=[FunctionResult("svm_loss_naive", "linear_classifier",
                                                        [case("svm_loss_naive", ERROR, "svm_loss_naive is not defined in A2.ipynb")]),
                                         FunctionResult("svm_loss_vectorized", "linear_classifier",
                                                        [case("svm_loss_vectorized", PASSED, "")])])
    _hint_cells_skipped(spec, result, notebooks)
    assert result.functions[0].cases[0].details == (
        "Note: cell 1 of A2.ipynb writes linear_classifier.py with %%writefile, and defines svm_loss_naive there: the "
        "grader does not run a notebook's %%writefile cells. Hand in linear_classifier.py beside the notebook, or define "
        "svm_loss_naive in a cell of it.")
    assert result.functions[1].cases[0].details == ""


def test_a_cell_that_parses_but_does_not_compile_is_left_out_too():
    """`break` outside a loop parses, and sank the whole notebook when the module was compiled (a
    nineteenth red team's); a top-level await is IPython's to run."""
    module = convert(code("import numpy as np", "def f(x):\n    return x\nbreak", "def g(x):\n    return x",
                          "result = await something()"))
    assert [(cell, e.problem, names) for cell, e, names in module.skipped] == [(2, "'break' outside loop", ("f",))]
    assert module.defined == {"g": [3]}
    compile(module.source, "work.ipynb", "exec")


def test_a_notebooks_static_checks_read_the_helpers_it_imports_from_files_beside_it(tmp_path):
    """A nineteenth red team's notebook called by_rows from helpers.py beside it, which used map, and passed no_loops."""
    from grader.grade import _judge_static
    from grader.judge.checks import Plan
    from grader.notebook import for_modules
    from grader.spec import load_spec
    spec = load_spec(REPO / "assignments" / "cs231n")
    (tmp_path / "helpers.py").write_text("import numpy as np\ndef by_rows(W, X):\n    return np.array(list(map(W.T.dot, X)))\n")
    nb = str(tmp_path / "work.ipynb")
    cells = [("code", "import numpy as np\nfrom helpers import by_rows"),
             ("code", "def svm_loss_vectorized(W, X, y, reg):\n    return by_rows(W, X).sum(), W")]
    notebooks = for_modules({"linear_svm": nb}, {nb: cells})
    fn = spec.function("svm_loss_vectorized")
    check = next(c for c in fn.scored_checks if c.kind == "no_loops")
    result = _judge_static(Plan(fn=fn, check=check), {"linear_svm": nb}, notebooks)
    assert result.status == "failed" and "helpers.py, line 3, in helpers.by_rows" in result.message, result.message

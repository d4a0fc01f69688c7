"""`from grader import check`: a student's self-check from their own notebook, IPython or script.

It grades the function as the student has it now (in a notebook: the cells the kernel ran, the
latest definition winning) through the engine of `grader check`: same cases, same sandboxed
worker, same result model and messages; and shows the public cases as an HTML table in Jupyter
and as `grader check`'s text elsewhere, saying that only public cases ran.

The engine's entries come first (a notebook held in memory, a subset of functions), then the
pure parts (the kernel's history as cells, the HTML), then check itself with a simulated IPython
shell, and last the real thing: a Jupyter kernel running a notebook, and a plain script.
"""
from __future__ import annotations

import functools
import shutil
import subprocess
import sys
import textwrap
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest

from grader import interactive
from grader.grade import Prepared, grade_submission
from grader.interactive import KERNEL_NOTEBOOK, Feedback, history_cells
from grader.notebook import convert, where
from grader.report import jupyter
from grader.results import FAILED, PASSED, TIMEOUT, CaseResult, CheckResult, FunctionResult, Score, SubmissionResult
from grader.run import sandbox
from grader.run.worker import start_worker
from grader.spec import load_spec
from notebooks import as_notebook, kernel_spec, run_in_kernel, write_notebook
from test_running import REFERENCE as TINY_REFERENCE, make_assignment

REPO = Path(__file__).resolve().parents[1]
HANDOUT = REPO / "student_template" / "linear_classifier"
EXAMPLES = REPO / "examples" / "linear_classifier"
BOB, ADA = EXAMPLES / "bob" / "linear_classifier.py", EXAMPLES / "ada" / "linear_classifier.py"
PUBLIC_ONLY = "Public cases only: hidden cases are run when your work is graded."
REG_DIAGNOSIS = "dW has `reg * W` where it needs `2 * reg * W`"
RUN_TIMEOUT = 300                    # s, for a subprocess or a notebook: a hang fails, never blocks CI


def function_source(path: Path, name: str) -> str:
    """One top-level function of a module, as a student would paste it into a cell."""
    text = path.read_text()
    start = text.index(f"def {name}(")
    end = text.find("\ndef ", start + 1)
    return text[start:end if end > 0 else None].strip() + "\n"


def cases_of(result: SubmissionResult) -> list[tuple]:
    return [(c.function, c.case_id, c.status, c.message, c.details, c.diagnosis) for c in result.cases()]


@pytest.fixture(scope="module")
def numpy_worker():
    with start_worker("numpy") as worker:
        yield worker


# ---------------------------------------------------------------------------------------------
# The engine's entries for check: a notebook held in memory, some functions only


@pytest.mark.slow
def test_a_notebook_held_in_memory_is_graded_as_the_same_notebook_saved(tmp_path):
    spec = load_spec(HANDOUT)
    nb = as_notebook(BOB.read_text())
    saved = write_notebook(tmp_path / "saved" / "work.ipynb", nb)
    (tmp_path / "memory").mkdir()
    cells = [(cell.cell_type, cell.source) for cell in nb.cells]
    with start_worker(spec.framework) as worker:
        from_file = grade_submission(spec, saved, worker=worker)
        in_memory = grade_submission(spec, tmp_path / "memory" / "work.ipynb", worker=worker, cells=cells)
    assert not (tmp_path / "memory" / "work.ipynb").exists()
    assert cases_of(in_memory) == cases_of(from_file)
    assert in_memory.earned == from_file.earned == 2         # bob: svm_loss_vectorized right, the rest wrong


@pytest.mark.slow
def test_only_the_functions_asked_for_run_and_count(tmp_path, numpy_worker):
    spec = make_assignment(tmp_path)
    loops = TINY_REFERENCE.replace("def total(x):\n", "def total(x):\n    while True:\n        pass\n")
    (tmp_path / "student").mkdir()
    result = grade_submission(spec, tmp_path / "student" / "work.ipynb", worker=numpy_worker,
                              prepared=Prepared(spec, hidden=False, functions=["scale"]), cells=[("code", loops)])
    assert [fn.name for fn in result.functions] == ["scale"]
    assert [c.status for c in result.cases()] == [PASSED] * 3                 # total's infinite loop never ran
    assert result.possible == 3
    everything = grade_submission(spec, tmp_path / "student" / "work.ipynb", worker=numpy_worker,
                                  cells=[("code", loops)])
    assert [c.status for c in everything.functions[1].cases] == [TIMEOUT] * 2


@pytest.mark.slow
def test_a_notebook_held_in_memory_imports_the_files_beside_it(tmp_path, numpy_worker):
    spec = make_assignment(tmp_path)
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "helpers.py").write_text("def times(k, x):\n    return k * x\n")
    cells = [("code", "from helpers import times"), ("code", "def scale(x, k):\n    return times(k, x)")]
    result = grade_submission(spec, folder / KERNEL_NOTEBOOK, worker=numpy_worker,
                              prepared=Prepared(spec, hidden=False, functions=["scale"]), cells=cells)
    assert [c.status for c in result.cases()] == [PASSED] * 3, result.cases()[0].message


@pytest.mark.slow
def test_a_check_left_in_the_students_file_does_nothing_when_the_grader_runs_it(tmp_path, numpy_worker):
    spec = make_assignment(tmp_path)
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "tiny.py").write_text("from grader import check\nassert check() is None\n\n" + TINY_REFERENCE)
    result = grade_submission(spec, folder, worker=numpy_worker)
    assert result.all_passed, result.cases()[0].message


# ---------------------------------------------------------------------------------------------
# The kernel's cells as a notebook


def run(module_source: str) -> dict:
    namespace: dict = {}
    exec(compile(module_source, "kernel", "exec"), namespace)
    return namespace


def test_the_latest_definition_is_the_one_graded():
    typed = ["", "def f():\n    return 1", "f()", "def f():\n    return 2"]
    module = convert(history_cells(typed, typed))
    assert run(module.source)["f"]() == 2


def test_cell_n_is_in_n():
    typed = ["", "import math", "x = math.pi", "def f():\n    return 1 / 0"]
    module = convert(history_cells(typed, typed))
    line = module.source.split("\n").index("    return 1 / 0") + 1
    assert where(module.cells, line) == (3, 2)


def test_a_cell_that_did_not_compile_ran_nothing_and_keeps_its_number():
    typed = ["", "def f():\n    return 1", "def f(:\n    return 2", "def g():\n    return f()"]
    cells = history_cells(typed, typed)
    assert cells[1] == ("code", "")
    module = convert(cells)
    assert run(module.source)["g"]() == 1
    line = module.source.split("\n").index("    return f()") + 1
    assert where(module.cells, line) == (3, 2)


def test_magics_are_read_as_typed_and_a_cell_the_converter_cannot_read_as_ipython_ran_it():
    typed = ["", "%matplotlib inline\nK = 3", "%%time\ndef f():\n    return K", "def g(:"]
    ran = ["", "get_ipython().run_line_magic('matplotlib', 'inline')\nK = 3",
           "get_ipython().run_cell_magic('time', '', 'def f():\\n    return K\\n')", "def g():\n    return 4"]
    namespace = run(convert(history_cells(typed, ran)).source)
    assert namespace["f"]() == 3                # a %%time cell's body is kept, as in a saved notebook
    assert namespace["g"]() == 4                # IPython's own reading of a cell the converter refused


# ---------------------------------------------------------------------------------------------
# What check shows


class Rows(HTMLParser):
    """The text of each table row of an HTML fragment: [[cell, ...], ...], header rows included."""

    def __init__(self, html: str):
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def result_with(*cases: CaseResult, checks=(), stdout="") -> SubmissionResult:
    fn = FunctionResult("svm_loss_naive", "linear_classifier", list(cases), Score(0.0, 2.0, 0, len(cases)),
                        checks=list(checks))
    return SubmissionResult(assignment="linear_classifier", submission=interactive.KERNEL_LABEL, hidden_graded=False,
                            hidden_available=False, hidden_points=3.0, functions=[fn], grader_version="0.1.0",
                            stdout=stdout)


def case(n: int, status: str = FAILED, message: str = "", **fields) -> CaseResult:
    return CaseResult("svm_loss_naive", f"public-{n}", "public", n, status, message, dims={"N": 3 + n, "D": 2}, **fields)


def test_the_html_escapes_everything_the_students_code_can_say():
    evil = "<script>alert('x')</script> & <img src=x onerror=alert(1)>"
    result = result_with(case(1, message=f"svm_loss_naive raised ValueError: {evil}", details=f"kernel.ipynb, cell 4: {evil}",
                              stdout=evil, note=evil),
                         checks=[CheckResult("svm_loss_naive", "no_loops", "public", FAILED, 0, 1, evil, evil)],
                         stdout=evil)
    html = jupyter.render(result)
    assert "<script" not in html and "<img" not in html
    assert html.count("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;") == 7
    assert "<script" not in jupyter.render_error(evil) and "<img" not in jupyter.render_error(evil)


def test_the_html_has_a_row_per_case_with_its_status_what_is_wrong_and_the_diagnosis_once():
    wrong = "dW[0, 6]: expected 0.023662858, got -0.024025217 (relative error 2, tolerance 1e-06; 48 of 48 values are outside it)"
    result = result_with(case(1, message=wrong, diagnosis="the reg factor", details="Hint: look at dW"),
                         case(2, PASSED), case(3, message=wrong, diagnosis="the reg factor"),
                         checks=[CheckResult("svm_loss_naive", "gradient", "public", FAILED, 0, 1, "dW is 2 times")])
    html = jupyter.render(result)
    assert PUBLIC_ONLY in html
    rows = Rows(html).rows
    assert rows[:4] == [["case", "seed", "sizes", "status", "what is wrong", "probably"],
                        ["public-1", "1", "N=4, D=2", "failed", wrong + "\nHint: look at dW", "the reg factor"],
                        ["public-2", "2", "N=5, D=2", "passed", "", ""],
                        ["public-3", "3", "N=6, D=2", "failed", "the same as public-1", ""]]
    assert rows[4:] == [["check", "status", "points", "what is wrong"], ["gradient", "failed", "0/1", "dW is 2 times"]]
    assert "1 of 3 public cases and 0 of 1 checks passed: 0/3 points. Hidden cases, worth 3 more points" in html


def test_the_text_is_what_grader_check_prints_with_passed_cases_listed():
    result = result_with(case(1, message="dW: relative error 2", diagnosis="the reg factor"), case(2, PASSED))
    text = str(Feedback(result))
    assert text.splitlines()[:2] == [f"grader 0.1.0: linear_classifier, {interactive.KERNEL_LABEL}", PUBLIC_ONLY]
    assert "     public-1 (seed 1, N=4, D=2): failed\n        dW: relative error 2\n        Probably: the reg factor" in text
    assert "     public-2 (seed 2, N=5, D=2): passed" in text
    assert repr(Feedback(result)) == text.rstrip("\n")
    assert not Feedback(result).passed


def test_an_error_is_one_line_in_text_and_in_html():
    feedback = Feedback(error="no assignment.yaml in /tmp or the folders above it")
    assert str(feedback) == "grader: no assignment.yaml in /tmp or the folders above it\n"
    assert "nothing was checked" in feedback._repr_html_() and not feedback.passed


# ---------------------------------------------------------------------------------------------
# check in IPython (a simulated shell: what check reads of it) and in the student's files

BROKEN_SVM = "def svm_loss_naive(W, X, y, reg):\n    scores = X @ W\n    return scores[X.shape[0] + 100], W\n"
FUNCTIONS = "svm_loss_naive, svm_loss_vectorized, softmax_loss_naive, softmax_loss_vectorized"


class FakeShell:
    """IPython as check sees it: the user's namespace and the input history, typed and as run."""

    def __init__(self):
        self.user_ns: dict = {"__name__": "__main__", "In": [""]}
        self.history_manager = SimpleNamespace(input_hist_raw=[""])

    def run_cell(self, source: str, run: bool = True) -> None:
        """Record a cell in the history and run it (run=False: the test sets what it defines)."""
        self.history_manager.input_hist_raw.append(source)
        self.user_ns["In"].append(source)
        if run:
            exec(compile(source, f"<cell {len(self.user_ns['In']) - 1}>", "exec"), self.user_ns)


    def run_script(self, path: Path, typed: str, inside: bool = False) -> None:
        """`%run` as IPython does it: the script runs as __main__ with the script as __file__, in a
        namespace of its own whose names are then copied into the user's (with -i: in the user's
        namespace, whose __file__ stays the name as typed)."""
        self.run_cell(typed, run=False)
        namespace = self.user_ns if inside else {"__name__": "__main__"}
        namespace["__file__"] = path.name if inside else str(path)
        exec(compile(path.read_text(), str(path), "exec"), namespace)
        self.user_ns.update({k: v for k, v in namespace.items() if k != "__file__"})


@pytest.fixture(scope="module", autouse=True)
def _close_the_session_worker():
    yield
    interactive._SESSION.close()


@pytest.fixture
def handout(tmp_path, monkeypatch) -> Path:
    """A copy of the linear_classifier handout (with its stub module), the current folder."""
    folder = shutil.copytree(HANDOUT, tmp_path / "hw2")
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def shell(monkeypatch) -> FakeShell:
    fake = FakeShell()
    monkeypatch.setattr(interactive, "_shell", lambda: fake)
    return fake


def statuses(feedback: Feedback) -> list[str]:
    return [c.status for c in feedback.result.cases()]


@pytest.mark.slow
def test_check_by_name_grades_the_latest_definition_in_the_kernels_cells(handout, shell):
    for cell in ("import torch", BROKEN_SVM, "W = torch.zeros(3, 4)", function_source(BOB, "svm_loss_naive")):
        shell.run_cell(cell)
    feedback = interactive.check("svm_loss_naive")
    assert feedback.result.submission == interactive.KERNEL_LABEL
    assert [fn.name for fn in feedback.result.functions] == ["svm_loss_naive"]
    assert statuses(feedback) == [FAILED] * 3
    assert feedback.result.cases()[0].diagnosis.startswith(REG_DIAGNOSIS)
    assert feedback.result.hidden_points == 3 and not feedback.passed
    same = interactive.check(shell.user_ns["svm_loss_naive"])       # the function itself, defined in a cell
    assert cases_of(same.result) == cases_of(feedback.result)


@pytest.mark.slow
def test_an_error_names_the_cell_as_jupyter_numbers_it(handout, shell):
    for cell in ("import torch", "x = 1", BROKEN_SVM):
        shell.run_cell(cell)
    first = interactive.check("svm_loss_naive").result.cases()[0]
    assert first.message.startswith("svm_loss_naive raised IndexError")
    assert first.details.startswith("kernel.ipynb, cell 3, line 3, in svm_loss_naive: return scores[X.shape[0] + 100], W")


@pytest.mark.slow
def test_a_function_imported_from_the_students_file_is_graded_from_that_file(handout, shell):
    shutil.copy(BOB, handout / "linear_classifier.py")
    shell.run_cell(f"import sys\nsys.path.insert(0, {str(handout)!r})\nfrom linear_classifier import svm_loss_naive")
    try:
        feedback = interactive.check("svm_loss_naive")
    finally:
        sys.modules.pop("linear_classifier", None)
        sys.path.remove(str(handout))
    assert feedback.result.submission == str(handout / "linear_classifier.py")
    assert statuses(feedback) == [FAILED] * 3
    assert feedback.result.cases()[0].diagnosis.startswith(REG_DIAGNOSIS)


@pytest.mark.slow
def test_a_function_the_kernel_got_from_percent_run_is_graded_from_that_file(handout, shell):
    path = handout / "linear_classifier.py"
    shutil.copy(BOB, path)
    shell.run_script(path, "%run linear_classifier.py")
    by_name, by_function = interactive.check("svm_loss_naive"), interactive.check(shell.user_ns["svm_loss_naive"])
    for feedback in (by_name, by_function):
        assert feedback.result.submission == str(path), feedback.error
        assert statuses(feedback) == [FAILED] * 3
        assert feedback.result.cases()[0].diagnosis.startswith(REG_DIAGNOSIS)


@pytest.mark.slow
def test_after_percent_run_i_a_function_defined_in_a_cell_is_still_graded_from_the_cells(handout, shell):
    path = handout / "linear_classifier.py"
    shutil.copy(BOB, path)
    shell.run_script(path, "%run -i linear_classifier.py", inside=True)
    ran = interactive.check("svm_loss_naive")
    assert ran.result.submission == str(path), ran.error
    assert statuses(ran) == [FAILED] * 3
    shell.run_cell(function_source(ADA, "svm_loss_naive"))               # the fix, typed in a cell
    fixed = interactive.check("svm_loss_naive")
    assert fixed.result.submission == interactive.KERNEL_LABEL
    assert statuses(fixed) == [PASSED] * 3


@pytest.mark.slow
def test_cells_importing_from_the_students_file_get_that_file_as_the_kernel_did(handout, shell):
    shutil.copy(ADA, handout / "linear_classifier.py")
    shell.run_cell("from linear_classifier import svm_loss_vectorized", run=False)
    shell.run_cell("def svm_loss_naive(W, X, y, reg):\n    return svm_loss_vectorized(W, X, y, reg)")
    feedback = interactive.check("svm_loss_naive")
    assert feedback.result.submission == interactive.KERNEL_LABEL
    assert statuses(feedback) == [PASSED] * 3, feedback.result.cases()[0].message


@pytest.mark.slow
def test_a_function_from_a_file_the_assignment_does_not_take_it_from_is_one_line(tmp_path, monkeypatch, shell):
    folder = shutil.copytree(REPO / "student_template" / "cs231n", tmp_path / "cs231n")
    monkeypatch.chdir(folder)
    (folder / "scratch.py").write_text("def svm_loss_naive(W, X, y, reg):\n    return 0.0, W\n")
    shell.run_cell("import importlib.util\n"
                   "spec = importlib.util.spec_from_file_location('scratch', 'scratch.py')\n"
                   "scratch = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(scratch)")
    feedback = interactive.check(shell.user_ns["scratch"].svm_loss_naive)
    assert feedback.error == (f"svm_loss_naive is defined in {folder / 'scratch.py'}, but cs231n takes it from "
                              "linear_svm.py: define it there, or in this notebook")


@pytest.mark.slow
def test_check_without_a_function_checks_every_function(handout, shell):
    shell.run_cell(ADA.read_text())
    feedback = interactive.check()
    assert [fn.name for fn in feedback.result.functions] == FUNCTIONS.split(", ")
    assert statuses(feedback) == [PASSED] * 12 and feedback.passed


@pytest.mark.slow
def test_a_function_the_kernel_has_not_defined_is_said_to_be_missing_from_its_cells(handout, shell):
    shell.run_cell(function_source(ADA, "svm_loss_naive"))
    feedback = interactive.check("softmax_loss_naive")           # the handout's stub beside it is not taken
    assert [c.message for c in feedback.result.cases()] == ["softmax_loss_naive is not defined in kernel.ipynb"] * 3


@pytest.mark.slow
def test_a_function_the_assignment_does_not_have_is_one_line_naming_its_functions(handout, shell):
    feedback = interactive.check("svm_loss_naif")
    assert feedback.error == f"svm_loss_naif is not a function of linear_classifier; its functions are {FUNCTIONS}"
    assert feedback.result is None and not feedback.passed


@pytest.mark.slow
@pytest.mark.parametrize("what", [3, functools.partial(print, 1)])
def test_what_is_neither_a_function_nor_a_name_is_one_line(handout, shell, what):
    assert interactive.check(what).error == f"check() takes a function, a class or its name, not {type(what).__name__}"


@pytest.mark.slow
def test_without_an_assignment_yaml_above_it_says_so_and_an_assignment_can_be_named(tmp_path, monkeypatch, shell):
    monkeypatch.chdir(tmp_path)
    shell.run_cell(function_source(ADA, "svm_loss_naive"))
    assert interactive.check("svm_loss_naive").error.startswith(f"no assignment.yaml in {tmp_path} or the folders above it")
    named = interactive.check("svm_loss_naive", assignment=str(HANDOUT / "assignment.yaml"))
    assert statuses(named) == [PASSED] * 3


@pytest.mark.slow
def test_a_stale_handout_is_one_line_not_a_traceback(handout, shell):
    (handout / "expected_public.json").unlink()
    feedback = interactive.check("svm_loss_naive")
    assert feedback.error.startswith(f"{handout / 'expected_public.json'}: missing")
    assert "\n" not in feedback.error


def test_importing_grader_and_check_stays_light():
    code = ("import sys, grader; from grader import check; "
            "print(sorted(m for m in ('numpy', 'torch', 'yaml', 'IPython', 'grader.interactive') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert out.stdout.strip() == "[]", out.stderr


# ---------------------------------------------------------------------------------------------
# The real thing: a script, and a Jupyter kernel running a notebook


def run_script(script: Path, cwd: Path) -> subprocess.CompletedProcess:
    """`python folder/script.py`, as a student runs their file."""
    return subprocess.run([sys.executable, str(script.relative_to(cwd))], cwd=cwd, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT)


@pytest.mark.slow
def test_in_a_script_check_prints_what_grader_check_prints(tmp_path, each_worker):
    folder = shutil.copytree(HANDOUT, tmp_path / "hw2")
    script = folder / "linear_classifier.py"
    script.write_text(BOB.read_text() + textwrap.dedent("""

        if __name__ == "__main__":
            from grader import check
            feedback = check(svm_loss_naive)
            print("passed:", feedback.passed)
            check("softmax_loss_naive")
            check("svm_loss_naif")
        """))
    out = run_script(script, tmp_path)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    warning = f"Warning: {sandbox.portable_warning(sandbox.portable_limits())}\n" if each_worker == "portable" else ""
    assert text.startswith(f"grader 0.1.0: linear_classifier, {script}\n{warning}{PUBLIC_ONLY}\n")
    assert ("FAIL svm_loss_naive: 0/3 cases passed, 0/2 points\n"
            "     public-1 (seed 1, N=14, D=6, C=8): failed\n"
            "        dW[0, 6]: expected 0.023662858, got -0.024025217 (relative error 2, tolerance 1e-06; 48 of 48 values are outside it)\n"
            f"        Probably: {REG_DIAGNOSIS}") in text
    assert "\npassed: False\n" in text
    assert "     public-1 (seed 1, N=6, D=19, C=8): not implemented\n        softmax_loss_naive is not implemented yet" in text
    assert text.endswith(f"grader: svm_loss_naif is not a function of linear_classifier; its functions are {FUNCTIONS}\n")


@pytest.mark.slow
@pytest.mark.linux                     # prctl
def test_in_a_script_check_leaves_the_students_process_open_to_debuggers(tmp_path):
    """The sandbox confines the worker, never the process that called check."""
    folder = shutil.copytree(HANDOUT, tmp_path / "hw2")
    script = folder / "linear_classifier.py"
    script.write_text(ADA.read_text() + textwrap.dedent("""

        if __name__ == "__main__":
            import ctypes
            from grader import check
            print("passed:", check(svm_loss_naive).passed)
            print("dumpable:", ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))   # PR_GET_DUMPABLE: debuggers still attach
        """))
    out = run_script(script, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.endswith("passed: True\ndumpable: 1\n"), out.stdout


@pytest.mark.slow
def test_in_a_script_a_method_or_a_class_is_checked_by_its_graded_names(tmp_path):
    """fully_connected_networks grades `TwoLayerNet.__init__` and `TwoLayerNet.loss`: check(TwoLayerNet.loss)
    checks that one, check(TwoLayerNet) both, from the student's file beside the handout's support modules."""
    folder = shutil.copytree(REPO / "student_template" / "fully_connected_networks", tmp_path / "a3")
    script = folder / "fully_connected_networks.py"
    script.write_text((REPO / "reference" / "fully_connected_networks" / "fully_connected_networks.py").read_text()
                      + textwrap.dedent("""

        if __name__ == "__main__":
            from grader import check
            print("one:", [fn.name for fn in check(TwoLayerNet.loss).result.functions])
            print("class:", [fn.name for fn in check(TwoLayerNet).result.functions], check(TwoLayerNet).passed)
            check(Solver)
        """))
    out = run_script(script, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "one: ['TwoLayerNet.loss']\n" in out.stdout
    assert "class: ['TwoLayerNet.__init__', 'TwoLayerNet.loss'] True\n" in out.stdout
    assert "ok   TwoLayerNet.loss: 2/2 cases passed, 2/2 checks passed, 4/4 points" in out.stdout
    assert out.stdout.endswith("grader: Solver is not a function of fully_connected_networks; its functions are "
                               "Linear.forward, Linear.backward, ReLU.forward, ReLU.backward, Linear_ReLU.forward, "
                               "Linear_ReLU.backward, TwoLayerNet.__init__, TwoLayerNet.loss, FullyConnectedNet.loss, "
                               "sgd_momentum, rmsprop, adam, Dropout.forward, Dropout.backward\n")


@pytest.fixture
def python_kernel(tmp_path, monkeypatch) -> str:
    """A kernel spec running this interpreter (the one with this checkout installed)."""
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return kernel_spec(sys.executable, tmp_path / "jupyter")


@pytest.mark.slow
def test_in_jupyter_check_shows_the_latest_definition_as_an_html_table(tmp_path, python_kernel, each_worker):
    folder = shutil.copytree(HANDOUT, tmp_path / "hw2")          # its stub linear_classifier.py too
    cells = ["import torch", BROKEN_SVM,
             "def svm_loss_naive(W, X, y, reg:\n    pass",        # a syntax error: it defined nothing
             "W = torch.zeros(3, 4)\n%time W.sum()",
             function_source(BOB, "svm_loss_naive"),
             "from grader import check\ncheck('svm_loss_naive')",
             function_source(ADA, "svm_loss_naive"),
             "feedback = check(svm_loss_naive)\nprint(feedback.passed)\nfeedback",
             "check('svm_loss_naif')"]
    nb = run_in_kernel(cells, folder, python_kernel, RUN_TIMEOUT)
    bob, ada, unknown = (nb.cells[5].outputs, nb.cells[7].outputs, nb.cells[8].outputs)

    html = bob[-1]["data"]["text/html"]
    assert PUBLIC_ONLY in html and "IndexError" not in html
    assert ("sandbox is portable" in html) == (each_worker == "portable")     # the worker asked for ran
    rows = Rows(html).rows
    assert [row[:4] for row in rows[1:]] == [["public-1", "1", "N=14, D=6, C=8", "failed"],
                                             ["public-2", "2", "N=19, D=16, C=4", "failed"],
                                             ["public-3", "3", "N=12, D=18, C=4", "failed"]]
    assert rows[1][4] == "dW[0, 6]: expected 0.023662858, got -0.024025217 (relative error 2, tolerance 1e-06; 48 of 48 values are outside it)"
    assert rows[1][5].startswith(REG_DIAGNOSIS)
    assert "FAIL svm_loss_naive: 0/3 cases passed, 0/2 points" in bob[-1]["data"]["text/plain"]

    assert [o.get("text") for o in ada if o["output_type"] == "stream"] == ["True\n"]
    assert [row[3] for row in Rows(ada[-1]["data"]["text/html"]).rows[1:]] == ["passed"] * 3

    message = f"svm_loss_naif is not a function of linear_classifier; its functions are {FUNCTIONS}"
    assert unknown[-1]["data"]["text/plain"] == f"grader: {message}"
    assert message in unknown[-1]["data"]["text/html"]
    assert not [o for cell in nb.cells[5:] for o in cell.outputs if o["output_type"] == "error"]


@pytest.mark.slow
def test_in_jupyter_a_function_from_percent_run_is_graded_from_the_students_file(tmp_path, python_kernel):
    folder = shutil.copytree(HANDOUT, tmp_path / "hw2")
    shutil.copy(BOB, folder / "linear_classifier.py")
    cells = ["%run linear_classifier.py", "from grader import check\ncheck('svm_loss_naive').result.submission",
             "check(svm_loss_naive)"]
    nb = run_in_kernel(cells, folder, python_kernel, RUN_TIMEOUT)
    assert not [o for cell in nb.cells for o in cell.outputs if o["output_type"] == "error"]
    assert nb.cells[1].outputs[-1]["data"]["text/plain"] == repr(str(folder / "linear_classifier.py"))
    rows = Rows(nb.cells[2].outputs[-1]["data"]["text/html"]).rows
    assert [row[3] for row in rows[1:]] == ["failed"] * 3
    assert rows[1][5].startswith(REG_DIAGNOSIS)

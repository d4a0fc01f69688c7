"""Notebook submissions end to end: the installed `grader check` and `grader grade` in a subprocess
on .ipynb files written with nbformat from the .py submissions in examples/.

A notebook version gets exactly the scores of its .py version, although its other cells would
load missing data, loop forever or raise if the grader ran them; errors name the notebook's cell
and the line within it.
"""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from grader.batch import discover
from grader.report.gradebook import MAX_ROW
from notebooks import as_notebook, write_notebook
from test_check_cli import (ASSIGNMENT, EXAMPLES, GRADER, REPO, RUN_TIMEOUT, Run, assert_clean,
                            assert_first_failure_shown, assert_full_marks, grader_check, module_runs)
from test_running import make_assignment

CS231N = REPO / "assignments" / "cs231n"
CS231N_REFERENCE = REPO / "reference" / "cs231n"
BROKEN_SVM = "def svm_loss_naive(W, X, y, reg):\n    scores = X @ W\n    return scores[X.shape[0] + 100], W"


def notebook_of(py: Path, folder: Path, name: str = "work.ipynb") -> Path:
    return write_notebook(folder / name, as_notebook(py.read_text()))


def cell_number(path: Path, text: str) -> int:
    """The number (from 1, every cell counted) of the one cell whose source contains `text`."""
    cells = json.loads(path.read_text())["cells"]
    found = [i for i, c in enumerate(cells, 1) if text in "".join(c["source"])]
    assert len(found) == 1, found
    return found[0]


def _plan(tmp: Path) -> dict:
    ada, bob = EXAMPLES / "ada" / "linear_classifier.py", EXAMPLES / "bob" / "linear_classifier.py"
    nb = lambda key, cells: write_notebook(tmp / key / "work.ipynb", cells)
    mixed = tmp / "cs231n-mixed"                    # linear_svm.py beside a notebook holding softmax
    mixed.mkdir()
    shutil.copy(CS231N_REFERENCE / "linear_svm.py", mixed / "linear_svm.py")
    notebook_of(CS231N_REFERENCE / "softmax.py", mixed, "hw.ipynb")
    both = (CS231N_REFERENCE / "linear_svm.py").read_text() + "\n\n" + (CS231N_REFERENCE / "softmax.py").read_text()
    (tmp / "cs231n-both.py").write_text(both)
    own = tmp / "own"                               # a notebook importing the .py file it stands for
    own.mkdir()
    shutil.copy(ada, own / "linear_classifier.py")
    write_notebook(own / "work.ipynb", [("code", "import torch\nfrom linear_classifier import svm_loss_naive"),
                                        ("code", "def softmax_loss_naive(W, X, y, reg):\n    return 0.0, W")])
    invalid = tmp / "invalid" / "work.ipynb"
    invalid.parent.mkdir()
    invalid.write_text('{"cells": [{"cell_type": "code", "source": "import torch"}\n')
    return {
        "ada.py": lambda: grader_check(ada, "--hidden", out_dir=tmp / "ada.py"),
        "ada.ipynb": lambda: grader_check(notebook_of(ada, tmp / "ada"), "--hidden", out_dir=tmp / "ada.ipynb"),
        "bob.py": lambda: grader_check(bob, "--hidden", out_dir=tmp / "bob.py"),
        "bob.ipynb": lambda: grader_check(notebook_of(bob, tmp / "bob"), "--hidden", out_dir=tmp / "bob.ipynb"),
        "syntax": lambda: grader_check(nb("syntax", [
            ("markdown", "# HW2"), ("code", "import torch"), ("code", "def svm_loss_naive(W, X, y, reg):\n    return (W\n"),
            ("code", "def svm_loss_vectorized(W, X, y, reg):\n    return 0.0, W")]), out_dir=tmp / "syntax-out"),
        "raises": lambda: grader_check(nb("raises", [
            ("markdown", "# HW2"), ("code", "!pip install torch\nimport torch"), ("markdown", "## SVM"),
            ("code", BROKEN_SVM), ("code", "device = torch.ones(1).device"),
            ("code", "def softmax_loss_naive(W, X, y, reg):\n    return torch.zeros((), device=device), W")]),
            out_dir=tmp / "raises-out"),
        "import": lambda: grader_check(nb("import", [
            ("code", "import torch\nimport json.not_a_real_module_xyz"), ("code", BROKEN_SVM)]), out_dir=tmp / "import-out"),
        "absent": lambda: grader_check(nb("absent", [
            ("code", "import torch\nimport not_a_real_package_xyz"), ("code", BROKEN_SVM)]), out_dir=tmp / "absent-out"),
        "writefile": lambda: grader_check(nb("writefile", [
            ("code", "import torch"), ("code", "%%writefile course_pkg_xyz/svm.py\n" + BROKEN_SVM),
            ("code", "import numpy as np\nfrom course_pkg_xyz.svm import svm_loss_naive")]), out_dir=tmp / "writefile-out"),
        "own": lambda: grader_check(own / "work.ipynb", out_dir=tmp / "own-out"),
        "invalid": lambda: grader_check(invalid, out_dir=tmp / "invalid-out"),
        "cs231n.py": lambda: grader_check(CS231N_REFERENCE, "--hidden", assignment=CS231N, out_dir=tmp / "c.py"),
        "cs231n.ipynb": lambda: grader_check(notebook_of(tmp / "cs231n-both.py", tmp / "cs231n-nb"), "--hidden",
                                             assignment=CS231N, out_dir=tmp / "c.ipynb"),
        "cs231n-mixed": lambda: grader_check(mixed, "--hidden", assignment=CS231N, out_dir=tmp / "c.mixed"),
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory, request):
    r = module_runs(_plan(tmp_path_factory.mktemp("notebook-runs")), request, prefetch_over=4)
    yield r
    r.close()


def scores(run: Run) -> dict:
    """Everything a score depends on, per case: status, message, each output's verdict and error."""
    report = run.report
    return {"score": report["score"], "counts": report["counts"], "functions": {
        f["name"]: (f["earned"], f["public"], f["hidden"], [
            (c["case_id"], c["status"], c["message"], [(o["name"], o["ok"], o["max_rel_error"]) for o in c["outputs"]])
            for c in f["cases"]]) for f in report["functions"]}}


# ---------------------------------------------------------------------------------------------
# grader check


@pytest.mark.slow
@pytest.mark.parametrize("student", ["ada", "bob"])
def test_a_notebook_gets_exactly_the_scores_of_its_py_version(runs, student):
    py, nb = runs[f"{student}.py"], runs[f"{student}.ipynb"]
    assert_clean(nb, py.returncode)
    assert scores(nb) == scores(py)
    assert nb.report["score"]["earned"] == {"ada": 20, "bob": 5.5}[student]


@pytest.mark.slow
def test_the_correct_notebook_gets_full_marks_though_its_other_cells_would_fail_or_hang(runs):
    assert_full_marks(runs["ada.ipynb"], hidden=True)


@pytest.mark.slow
def test_an_exception_in_a_notebook_function_names_its_cell_and_line(runs):
    run = runs["bob.ipynb"]
    path = Path(run.args[2])
    cell = cell_number(path, "def softmax_loss_naive")
    assert_first_failure_shown(run, "softmax_loss_naive", "public-1",
                               f"work.ipynb, cell {cell}, line 2, in softmax_loss_naive: raise NotImplementedError(")

    run = runs["raises"]
    assert_clean(run, 1)
    case = run.case("svm_loss_naive", "public-1")
    assert case["status"] == "error" and case["message"].startswith("svm_loss_naive raised IndexError: ")
    assert_first_failure_shown(run, "svm_loss_naive", "public-1",
                               "work.ipynb, cell 4, line 3, in svm_loss_naive: return scores[X.shape[0] + 100], W")
    assert run.case("svm_loss_vectorized", "public-1")["message"] == "svm_loss_vectorized is not defined in work.ipynb"
    # A global set by a cell the grader drops: the message says where it was set, and why it is missing.
    assert_first_failure_shown(run, "softmax_loss_naive", "public-1",
                               "work.ipynb, cell 6, line 2, in softmax_loss_naive: return torch.zeros((), device=device), W",
                               "device is set in cell 5, line 1, which the grader does not run")


@pytest.mark.slow
def test_a_cell_that_is_not_python_is_left_out_and_the_functions_it_defines_say_why(runs):
    """The other cells are graded, as Jupyter's kernel runs them; the functions the cell defines, and
    the cases failing for a name not defined, name the cell, the line and the error."""
    run = runs["syntax"]
    assert_clean(run, 1)
    case = run.case("svm_loss_naive", "public-1")
    assert case["status"] == "error" and case["message"] == "svm_loss_naive is not defined in work.ipynb"
    assert case["details"] == ("Note: cell 3 of work.ipynb, which defines svm_loss_naive, is not Python (SyntaxError: "
                               "'(' was never closed; cell 3, line 2: `return (W`): the grader leaves it out, as "
                               "Jupyter's kernel does, and grades the other cells.")
    vectorized = run.case("svm_loss_vectorized", "public-1")          # cell 4's: run, and wrong on its own
    assert vectorized["status"] == "failed" and "Note: cell 3" not in vectorized["details"], vectorized
    softmax = run.case("softmax_loss_naive", "public-1")
    assert softmax["message"] == "softmax_loss_naive is not defined in work.ipynb"
    assert "Note: cell 3 of work.ipynb, which may define or import it, is not Python" in softmax["details"]


@pytest.mark.slow
def test_an_import_error_at_the_top_of_a_notebook_names_the_cell(runs):
    run = runs["import"]
    assert_clean(run, 1)
    case = run.case("svm_loss_naive", "public-1")
    assert case["message"] == ("work.ipynb could not be imported: ModuleNotFoundError: "
                               "No module named 'json.not_a_real_module_xyz'")
    assert case["details"] == ("work.ipynb, cell 1, line 2, in <module>: import json.not_a_real_module_xyz\n"
                               "Only the standard library, numpy and torch are available to your code here: "
                               "remove that import.")


@pytest.mark.slow
def test_a_notebook_importing_a_package_this_machine_lacks_is_graded_all_the_same(runs):
    """`import not_a_real_package_xyz` in a cell, never used by the functions: their cases run (this
    BROKEN_SVM raises IndexError in svm_loss_naive), not failed at the notebook's import."""
    run = runs["absent"]
    assert_clean(run, 1)
    case = run.case("svm_loss_naive", "public-1")
    assert case["message"].startswith("svm_loss_naive raised IndexError"), case["message"]


@pytest.mark.slow
def test_a_function_imported_from_a_writefile_module_names_the_import_s_cell(runs):
    """Code kept in `%%writefile` cells (dropped) and imported by a later cell: the graded function
    is the missing module's stand-in, and it fails in no file of the student's. The import's place
    is said as its cell and line (a tenth students' round read "imported at line 89", a line of the
    module the grader made of the notebook)."""
    run = runs["writefile"]
    assert_clean(run, 1)
    case = run.case("svm_loss_naive", "public-1")
    assert case["message"] == ("svm_loss_naive raised ModuleNotFoundError: No module named 'course_pkg_xyz' "
                               "(imported at work.ipynb, cell 3, line 2, used here)"), case["message"]
    assert ("course_pkg_xyz/svm.py is written by cell 2 (%%writefile), which the grader does not run: hand in "
            "course_pkg_xyz/svm.py beside the notebook") in case["details"], case["details"]


@pytest.mark.slow
def test_a_notebook_importing_the_module_it_is_graded_as_is_told_why_that_fails(runs):
    """`from linear_classifier import svm_loss_naive` in a notebook graded as linear_classifier, for
    the .py file beside it: the notebook is that module. The message named the grader's temporary
    copy of the notebook and nothing of the cause (a tenth students' round)."""
    run = runs["own"]
    assert_clean(run, 1)
    case = run.case("svm_loss_naive", "public-1")
    assert case["message"] == ("work.ipynb could not be imported: ImportError: cannot import name 'svm_loss_naive' "
                               "from 'linear_classifier' (work.ipynb)"), case["message"]
    assert "The notebook imports from the module it is graded as" in case["details"], case["details"]
    assert "grader-check" not in run.stdout and "/alone/" not in run.stdout, run.stdout


@pytest.mark.slow
def test_a_file_that_is_not_a_notebook_is_one_line_per_case_and_exit_1(runs):
    run = runs["invalid"]
    assert_clean(run, 1)
    message = "work.ipynb is not a Jupyter notebook: invalid JSON at line 2, column 1 (Expecting ',' delimiter)"
    for f in run.report["functions"]:
        assert {(c["status"], c["message"], c["details"]) for c in f["cases"]} == {("error", message, "")}
    assert run.report["score"]["earned"] == 0


@pytest.mark.slow
def test_one_notebook_provides_every_module_of_a_two_module_assignment(runs):
    py = runs["cs231n.py"]
    assert_clean(py, 0)
    for key in ("cs231n.ipynb", "cs231n-mixed"):
        assert_clean(runs[key], 0)
        assert scores(runs[key]) == scores(py), key


# ---------------------------------------------------------------------------------------------
# grader grade


@pytest.mark.linux                     # batch grading stays on Linux
def test_discover_finds_notebooks_in_folders_zips_and_loose_canvas_files(tmp_path):
    spec = make_assignment(tmp_path)                 # module `tiny`
    export = tmp_path / "export" / "hw2"             # a lone wrapping folder full of loose notebooks
    write_notebook(export / "alice" / "nested" / "work.ipynb", [("code", "K = 1")])
    (export / "alice" / "nested" / ".ipynb_checkpoints").mkdir()
    write_notebook(export / "bob_77_88_hw 2.ipynb", [("code", "K = 2")])
    write_notebook(export / "carol.ipynb", [("code", "K = 3")])
    write_notebook(export / "dave_tiny.ipynb", [("code", "K = 4")])
    with zipfile.ZipFile(export / "erin.zip", "w") as z:
        z.writestr("erin-hw/lab.ipynb", (export / "carol.ipynb").read_text())
    subs = {s.student: s.path for s in discover(tmp_path / "export", spec, tmp_path / "staging")}
    assert sorted(subs) == ["alice", "bob_77_88", "carol", "dave", "erin"]
    assert subs["alice"] == export / "alice" / "nested"
    assert [p.name for p in subs["bob_77_88"].iterdir()] == ["hw 2.ipynb"]     # keeps its own name
    assert [p.name for p in subs["carol"].iterdir()] == ["carol.ipynb"]
    assert [p.name for p in subs["dave"].iterdir()] == ["tiny.ipynb"]         # named after the module
    assert (subs["erin"] / "lab.ipynb").is_file()


@pytest.mark.slow
@pytest.mark.linux
def test_grade_a_class_of_notebooks_and_py_files(tmp_path):
    ada, bob = EXAMPLES / "ada" / "linear_classifier.py", EXAMPLES / "bob" / "linear_classifier.py"
    root = tmp_path / "class"
    notebook_of(ada, root / "alice")
    notebook_of(bob, root, "bob_77_88_hw2.ipynb")
    shutil.copy(ada, root / "carol.py")
    shutil.copy(bob, root / "dave.py")
    with zipfile.ZipFile(root / "erin.zip", "w") as z:
        z.write(notebook_of(ada, tmp_path / "erin"), "erin-hw/work.ipynb")
    notebook_of(ada, root / "frank", "a.ipynb")
    notebook_of(bob, root / "frank", "b.ipynb")
    notebook_of(bob, root / "gina", "linear_classifier.ipynb")       # named after the module: graded
    (root / "gina" / "scratch.ipynb").write_text("not a notebook")
    out = tmp_path / "graded"
    proc = subprocess.run([GRADER, "grade", str(root), "--assignment", str(ASSIGNMENT), "--out", str(out),
                           "--workers", "1"], capture_output=True, text=True, timeout=RUN_TIMEOUT * 2, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    with open(out / "gradebook.csv", newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f) if r["student"] != MAX_ROW}
    totals = {s: float(r["total"]) for s, r in rows.items()}
    assert totals == {"alice": 20, "bob_77_88": 5.5, "carol": 20, "dave": 5.5, "erin": 20, "frank": 0, "gina": 5.5}
    assert rows["frank"]["status"] == "error"
    assert ("linear_classifier.py not found in the submission, which holds 2 notebooks (a.ipynb, b.ipynb): "
            "keep one, or name the one to grade linear_classifier.ipynb") in (out / "frank" / "feedback.txt").read_text()
    bob_feedback = (out / "bob_77_88" / "feedback.txt").read_text()
    assert "hw2.ipynb, cell 13, line 2, in softmax_loss_naive" in bob_feedback
    dave = json.loads((out / "dave" / "result.json").read_text())
    bob_nb = json.loads((out / "bob_77_88" / "result.json").read_text())
    assert [f["earned"] for f in bob_nb["functions"]] == [f["earned"] for f in dave["functions"]]


def test_a_function_a_notebook_defines_twice_says_which_cell_is_graded(tmp_path):
    """A tenth students' round fixed svm_loss_naive in cell 5 and ran it last, while a stale copy
    sat in a later cell: the later one is graded (the notebook runs top to bottom), and nothing said
    so. Each failing case now names the cells and the one graded."""
    reference = (REPO / "reference" / "linear_classifier" / "linear_classifier.py").read_text()
    stale = reference.replace("    dW /= num_train\n", "", 1)
    start = stale.index("def svm_loss_naive")
    end = stale.index("\ndef ", start)
    folder = tmp_path / "student"
    write_notebook(folder / "work.ipynb", [("code", reference), ("code", stale[start:end])])
    proc = subprocess.run([GRADER, "check", str(folder), "-a", "linear_classifier"], cwd=REPO, capture_output=True,
                          text=True, timeout=RUN_TIMEOUT)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert ("Note: work.ipynb defines the function svm_loss_naive in cells 1 and 2: the grader runs the notebook's "
            "cells from top to bottom, so cell 2's is the one graded, whichever you ran last.") in proc.stdout, proc.stdout
    assert "ok   svm_loss_vectorized" in proc.stdout and proc.stdout.count("defines the function") == 1

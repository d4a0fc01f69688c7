"""Finding a student's modules in what they handed in, as real classes hand it in: the course's whole
folder tree (CS231n's modules in `cs231n/classifiers/`, its notebooks named like them at the top),
a file renamed by a browser or a copy (`linear_svm (1).py`, `Linear_SVM.py`), and, where the grader
cannot choose, a message naming what it did find."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import GRADER, REPO
from grader.batch import fingerprint
from grader.locate import MAX_TREE_DEPTH, load_notebooks, locate_modules, missing_reason
from grader.spec import load_spec

CS231N = load_spec(REPO / "assignments" / "cs231n")
REFERENCE = REPO / "reference" / "cs231n"


def notebook(path: Path, text: str = "# the course's notebook, not the module") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                           "source": [text]}],
                                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def course_tree(root: Path) -> Path:
    """CS231n's assignment1 as students zip it: the notebooks at the top, the modules two folders down."""
    top = root / "assignment1"
    classifiers = top / "cs231n" / "classifiers"
    classifiers.mkdir(parents=True)
    for module in ("linear_svm", "softmax"):
        shutil.copy(REFERENCE / f"{module}.py", classifiers)
    (classifiers / "__init__.py").write_text("")
    (classifiers / "linear_classifier.py").write_text("from cs231n.classifiers.linear_svm import *\n")
    for name in ("svm", "softmax", "knn"):
        notebook(top / f"{name}.ipynb")
    return top


def test_the_modules_below_the_top_are_found_before_notebooks_named_like_them(tmp_path):
    top = course_tree(tmp_path)
    assert locate_modules(CS231N, top) == {m: str(top / "cs231n" / "classifiers" / f"{m}.py") for m in ("linear_svm", "softmax")}


def test_a_module_at_the_top_comes_first_and_a_notebook_of_its_name_next(tmp_path):
    top = course_tree(tmp_path)
    shutil.copy(REFERENCE / "linear_svm.py", top)
    shutil.rmtree(top / "cs231n")
    found = locate_modules(CS231N, top)
    assert found == {"linear_svm": str(top / "linear_svm.py"), "softmax": str(top / "softmax.ipynb")}


def test_copies_of_one_file_below_the_top_are_one_and_different_ones_are_named(tmp_path):
    for where in ("v1", "final/code"):
        (tmp_path / where).mkdir(parents=True)
        shutil.copy(REFERENCE / "linear_svm.py", tmp_path / where)
        shutil.copy(REFERENCE / "softmax.py", tmp_path / where)
    assert locate_modules(CS231N, tmp_path)["linear_svm"] == str(tmp_path / "v1" / "linear_svm.py")   # the shallowest
    (tmp_path / "final" / "code" / "linear_svm.py").write_text("# another version\n")
    found = locate_modules(CS231N, tmp_path)
    assert found["linear_svm"] is None and found["softmax"] == str(tmp_path / "v1" / "softmax.py")
    message = load_notebooks(CS231N, tmp_path, found).errors["linear_svm"]["message"]
    assert message == ("linear_svm.py not found at the top of the submission, and below it are 2 different files of that "
                       "name (v1/linear_svm.py, final/code/linear_svm.py): keep the one to grade, or put it at the top")


@pytest.mark.parametrize("name", ["Linear_SVM.py", "linear_svm (1).py", "linear_svm(2).py", "linear_svm-1.py",
                                  "linear_svm copy.py", "linear_svm - Copy (2).py", "LINEAR_SVM.PY"])
def test_a_file_renamed_by_a_browser_or_a_copy_is_the_module(tmp_path, name):
    shutil.copy(REFERENCE / "linear_svm.py", tmp_path / name)
    assert locate_modules(CS231N, tmp_path)["linear_svm"] == str(tmp_path / name)


def test_two_renamed_files_are_not_chosen_between_and_a_look_alike_is_named(tmp_path):
    for name in ("linear_svm (1).py", "Linear_SVM.py"):
        shutil.copy(REFERENCE / "linear_svm.py", tmp_path / name)
    assert locate_modules(CS231N, tmp_path)["linear_svm"] is None
    (tmp_path / "softmax_v2.py").write_text("")
    assert locate_modules(CS231N, tmp_path)["softmax"] is None
    assert missing_reason(tmp_path, "softmax") == ("softmax.py not found in the submission, which holds softmax_v2.py: "
                                                   "name the file to grade softmax.py, at the top of the submission")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("")
    assert missing_reason(empty, "softmax") == ""


def test_hidden_folders_caches_environments_and_links_are_not_searched(tmp_path):
    for junk in (".git/objects", "__MACOSX/x", ".ipynb_checkpoints", "venv/lib", "node_modules/m"):
        (tmp_path / junk).mkdir(parents=True)
        shutil.copy(REFERENCE / "linear_svm.py", tmp_path / junk)
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    (outside / "code").mkdir(parents=True)
    shutil.copy(REFERENCE / "softmax.py", outside / "code")
    (tmp_path / "linked").symlink_to(outside / "code")                 # a folder linked out of the submission
    (tmp_path / "deep").mkdir()
    (tmp_path / "deep" / "softmax.py").symlink_to(outside / "code" / "softmax.py")
    assert locate_modules(CS231N, tmp_path) == {"linear_svm": None, "softmax": None}


@pytest.mark.slow
def test_grader_check_and_grade_grade_the_course_s_whole_tree(tmp_path):
    """End to end, as a CS231n student zips assignment1: full marks, from the command line."""
    top = course_tree(tmp_path / "alice")
    classifiers = top / "cs231n" / "classifiers"              # a helper beside the module, imported as it was there
    (classifiers / "svm_helpers.py").write_text("def unused_helper():\n    return 1\n")
    module = classifiers / "linear_svm.py"
    module.write_text(module.read_text().replace("import numpy as np\n", "import numpy as np\nfrom svm_helpers import unused_helper\n", 1))
    check = subprocess.run([GRADER, "check", str(top), "--assignment", "cs231n"], capture_output=True, text=True, cwd=REPO)
    assert check.returncode == 0 and "All 12 public cases and 6 checks passed: 14/14 points" in check.stdout, check.stdout + check.stderr
    shutil.make_archive(str(tmp_path / "class" / "bob"), "zip", tmp_path / "alice")
    out = tmp_path / "out"
    grade = subprocess.run([GRADER, "grade", str(tmp_path / "class"), "--assignment", "cs231n", "--out", str(out)],
                           capture_output=True, text=True, cwd=REPO)
    assert grade.returncode == 0, grade.stdout + grade.stderr
    result = json.loads((out / "bob" / "result.json").read_text())
    assert result["score"]["earned"] == result["score"]["possible"] == 28


def test_a_huge_file_below_the_top_is_neither_read_nor_taken_for_the_module(tmp_path):
    for where in ("a", "b"):
        (tmp_path / where).mkdir()
        with open(tmp_path / where / "softmax.py", "wb") as f:
            f.truncate(64 << 20)                 # sparse: 64 MiB on paper, nothing on disk
    assert locate_modules(CS231N, tmp_path)["softmax"] is None


@pytest.mark.parametrize("depth", [MAX_TREE_DEPTH + 5, 1100])
def test_folders_nested_too_deep_are_refused_not_a_crash(tmp_path, depth):
    """1,100 folders in folders broke Python's recursion limit in the fingerprint (a whole batch
    stopped) and in the search for links; now the submission is refused, and nothing else."""
    shutil.copy(REFERENCE / "linear_svm.py", tmp_path)
    shutil.copy(REFERENCE / "softmax.py", tmp_path)
    chain = [tmp_path]
    for _ in range(depth):               # one by one: mkdir(parents=True) itself recurses
        chain.append(chain[-1] / "d")
        chain[-1].mkdir()
    try:
        assert len(fingerprint(tmp_path, CS231N)) == 64
        found = locate_modules(CS231N, tmp_path)
        errors = load_notebooks(CS231N, tmp_path, found).errors
        assert errors["linear_svm"]["kind"] == "refused"
        assert errors["linear_svm"]["message"].startswith(
            f"not run: the submission holds folders nested more than {MAX_TREE_DEPTH} deep")
    finally:                             # bottom up: pytest's rmtree of tmp_path recurses, and would fail on it
        for folder in reversed(chain[1:]):
            folder.rmdir()


@pytest.mark.slow
def test_a_notebook_beside_the_untouched_handout_is_named_in_the_feedback(tmp_path):
    """The handout's .py files are graded (a .py comes before a notebook); where their functions are
    not written yet, the feedback says the notebook beside them was not graded, and how to have it graded."""
    for module in ("linear_svm", "softmax"):
        shutil.copy(REPO / "student_template" / "cs231n" / f"{module}.py", tmp_path)
    notebook(tmp_path / "work.ipynb", "import numpy as np")
    report = tmp_path / "report.json"
    subprocess.run([GRADER, "check", str(tmp_path), "--assignment", "cs231n", "--json", str(report)],
                   capture_output=True, text=True, cwd=REPO)
    case = json.loads(report.read_text())["functions"][0]["cases"][0]
    assert case["status"] == "not_implemented", case
    assert "Note: work.ipynb is in the submission too, but linear_svm.py, where svm_loss_naive is not written yet, " \
           "is what is graded" in case["details"], case["details"]
    (tmp_path / "work.ipynb").unlink()
    subprocess.run([GRADER, "check", str(tmp_path), "--assignment", "cs231n", "--json", str(report)],
                   capture_output=True, text=True, cwd=REPO)
    assert "Note:" not in json.loads(report.read_text())["functions"][0]["cases"][0]["details"]    # no notebook: no note


@pytest.mark.slow
def test_a_notebook_beside_the_untouched_handout_that_defines_the_functions_is_graded_for_it(tmp_path):
    """The handout's .py files, nothing written in them, beside the one notebook the student worked in
    (a thirteenth students' round: 0/28 for a right notebook, in `grader grade` too): the notebook is
    graded for the modules whose functions it defines, and each of their cases says so."""
    for module in ("linear_svm", "softmax"):
        shutil.copy(REPO / "student_template" / "cs231n" / f"{module}.py", tmp_path)
    code = "\n\n".join((REPO / "reference" / "cs231n" / f"{m}.py").read_text() for m in ("linear_svm", "softmax"))
    notebook(tmp_path / "assignment1.ipynb", "import numpy as np\nX = np.load('data.npy')\n\n" + code)
    report = tmp_path / "report.json"
    proc = subprocess.run([GRADER, "check", str(tmp_path), "--assignment", "cs231n", "--hidden", "--json", str(report)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(report.read_text())
    assert result["score"]["earned"] == result["score"]["possible"] == 28
    case = result["functions"][0]["cases"][0]
    assert case["details"] == ("Note: linear_svm.py in the submission implements none of its functions (the handout's, "
                               "left as it was?), so assignment1.ipynb, beside it, was graded for linear_svm.")
    (tmp_path / "other.ipynb").write_text((tmp_path / "assignment1.ipynb").read_text())     # two: which is not ours to say
    subprocess.run([GRADER, "check", str(tmp_path), "--assignment", "cs231n", "--json", str(report)],
                   capture_output=True, text=True, cwd=REPO)
    assert json.loads(report.read_text())["functions"][0]["cases"][0]["status"] == "not_implemented"


@pytest.mark.parametrize("codec", ["undefined", "punycode", "rot13", "no-such-codec"])
def test_a_coding_line_whose_codec_fails_is_read_as_utf8_not_a_crash(codec):
    """`# coding: undefined` names a codec whose decoding raises a bare UnicodeError: the grader's
    own reading of the file (its checks, the similarity) stopped with a traceback."""
    from grader.locate import decode_code
    assert "x = 1" in decode_code(f"# coding: {codec}\nx = 1\n".encode())


def test_grader_check_on_a_file_whose_codec_fails_names_it_and_exits_1(tmp_path):
    for module in ("linear_svm", "softmax"):
        text = (REPO / "reference" / "cs231n" / f"{module}.py").read_text()
        (tmp_path / f"{module}.py").write_text(("# coding: undefined\n" if module == "linear_svm" else "") + text)
    proc = subprocess.run([GRADER, "check", str(tmp_path), "--assignment", "cs231n"], capture_output=True, text=True,
                          cwd=REPO, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    # Said once, above the module's functions (terminal._unimported), not under each
    assert "linear_svm.py could not be imported, so none of the 2 functions in it could run:\n" \
           "     UnicodeError: decoding with 'undefined' codec failed" in proc.stdout, proc.stdout
    assert "ok   softmax_loss_vectorized" in proc.stdout


def test_an_indentation_error_shows_the_line_and_the_one_before_as_written(tmp_path):
    """A students' round deleted a line and left the next indented: the report quoted that line
    stripped of its leading spaces, so the bad indent could not be seen."""
    for module in ("linear_svm", "softmax"):
        text = (REPO / "reference" / "cs231n" / f"{module}.py").read_text()
        if module == "linear_svm":
            text = text.replace("    loss = 0.0\n", "    loss = 0.0\n\n        dW = np.zeros(W.shape)\n", 1)
        (tmp_path / f"{module}.py").write_text(text)
    lines = (tmp_path / "linear_svm.py").read_text().splitlines()
    bad = next(i for i, line in enumerate(lines) if line == "        dW = np.zeros(W.shape)") + 1
    proc = subprocess.run([GRADER, "check", str(tmp_path), "--assignment", "cs231n"], capture_output=True, text=True,
                          cwd=REPO, timeout=300)
    assert proc.returncode == 1, proc.stderr
    width = len(str(bad))
    assert (f"linear_svm.py, line {bad}, indented as written:\n"
            f"       {str(bad - 2).rjust(width)} |     loss = 0.0\n"
            f"       {str(bad).rjust(width)} |         dW = np.zeros(W.shape)\n") in proc.stdout, proc.stdout


def test_a_tab_error_shows_where_the_tabs_are(tmp_path):
    """A twelfth students' round's TabError printed its lines with the tabs expanded: "indented as
    written" showed two lines that looked rightly indented. Each tab is shown as an arrow."""
    text = (REPO / "reference" / "cs231n" / "linear_svm.py").read_text().replace(
        "    loss = 0.0\n", "    loss = 0.0\n\tloss = 0.0\n", 1)
    (tmp_path / "linear_svm.py").write_text(text)
    shutil.copy(REPO / "reference" / "cs231n" / "softmax.py", tmp_path / "softmax.py")
    lines = text.splitlines()
    bad = lines.index("\tloss = 0.0") + 1
    proc = subprocess.run([GRADER, "check", str(tmp_path), "--assignment", "cs231n"], capture_output=True, text=True,
                          cwd=REPO, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "TabError: inconsistent use of tabs and spaces in indentation" in proc.stdout, proc.stdout
    assert f"{bad} | →       loss = 0.0\n" in proc.stdout, proc.stdout


def test_a_single_file_checked_sees_no_other_file_beside_it(tmp_path):
    """A thirteenth red team's file, checked among the class's downloads (Canvas names every file
    student_ids_module.py in one folder), imported the classmate's file beside it and passed on its
    answers: 20/20. A file checked alone is graded alone, as `grader grade` grades a loose file."""
    shutil.copy(REPO / "reference" / "linear_classifier" / "linear_classifier.py", tmp_path / "ada_11_22_linear_classifier.py")
    mallory = tmp_path / "mallory_33_44_linear_classifier.py"
    mallory.write_text(
        "import glob, os, importlib.util\n"
        "here = os.path.dirname(os.path.abspath(__file__))\n"
        "others = [p for p in glob.glob(os.path.join(here, '*.py')) if os.path.basename(p) != os.path.basename(__file__)]\n"
        "print('classmates seen:', len(others))\n"
        "spec = importlib.util.spec_from_file_location('mate', others[0])\n"
        "mate = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(mate)\n"
        "svm_loss_naive = mate.svm_loss_naive\n")
    proc = subprocess.run([GRADER, "check", str(mallory), "-a", "linear_classifier"], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "IndexError: list index out of range" in proc.stdout, proc.stdout     # no classmate to import
    assert "ok   svm_loss_naive" not in proc.stdout
    assert f"linear_classifier, {mallory}" in proc.stdout                         # named as given


def test_a_checks_rerun_keeps_to_what_was_left_of_the_time_when_the_submission_was_run_before(monkeypatch, tmp_path):
    """A notebook graded over the stubs beside it runs in what is left of the submission's time; what a
    check runs again there was given the whole of it again (found reading the change)."""
    from grader import grade
    spec = CS231N
    prepared = grade.Prepared.outline(spec, False)
    prepared.calls, prepared.inputs, prepared.later = [], [], []
    prepared.mistakes = type("M", (), {"running_in": lambda self, w: __import__("contextlib").nullcontext()})()
    given = []

    class Worker:
        def run(self, job, inputs):
            given.append(job["limits"]["submission_timeout"])
            return None

    def checks_then_rerun(spec, prepared, modules, notebooks, worker, reply, rerun):
        rerun([])
        return []
    monkeypatch.setattr(grade, "_judge_checks", checks_then_rerun)
    monkeypatch.setattr(grade, "_judged", lambda *a, **k: "judged")
    modules = dict.fromkeys(spec.modules)
    grade._graded(spec, tmp_path, False, Worker(), prepared, modules, None, None, 0.0, left=12.0)
    assert len(given) == 2 and given[0] == 12.0 and given[1] <= 12.0, given

"""The engine's entries for `grader.check` (a notebook's self-check, to come): a notebook held in
memory, graded as if saved in a folder, and a subset of the assignment's functions."""
from __future__ import annotations

from pathlib import Path

import pytest

from grader.grade import Prepared, grade_submission
from grader.results import PASSED, TIMEOUT, SubmissionResult
from grader.run.worker import Worker
from grader.spec import load_spec
from notebooks import as_notebook, write_notebook
from test_running import REFERENCE as TINY_REFERENCE, make_assignment

REPO = Path(__file__).resolve().parents[1]
HANDOUT = REPO / "student_template" / "linear_classifier"
EXAMPLES = REPO / "examples" / "linear_classifier"
BOB, ADA = EXAMPLES / "bob" / "linear_classifier.py", EXAMPLES / "ada" / "linear_classifier.py"


def cases_of(result: SubmissionResult) -> list[tuple]:
    return [(c.function, c.case_id, c.status, c.message, c.details, c.diagnosis) for c in result.cases()]


@pytest.fixture(scope="module")
def numpy_worker():
    with Worker("numpy") as worker:
        yield worker


# ---------------------------------------------------------------------------------------------
# The engine's entries for check: a notebook held in memory, some functions only


def test_a_notebook_held_in_memory_is_graded_as_the_same_notebook_saved(tmp_path):
    spec = load_spec(HANDOUT)
    nb = as_notebook(BOB.read_text())
    saved = write_notebook(tmp_path / "saved" / "work.ipynb", nb)
    (tmp_path / "memory").mkdir()
    cells = [(cell.cell_type, cell.source) for cell in nb.cells]
    with Worker(spec.framework) as worker:
        from_file = grade_submission(spec, saved, worker=worker)
        in_memory = grade_submission(spec, tmp_path / "memory" / "work.ipynb", worker=worker, cells=cells)
    assert not (tmp_path / "memory" / "work.ipynb").exists()
    assert cases_of(in_memory) == cases_of(from_file)
    assert in_memory.earned == from_file.earned == 2         # bob: svm_loss_vectorized right, the rest wrong


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


def test_a_notebook_held_in_memory_imports_the_files_beside_it(tmp_path, numpy_worker):
    spec = make_assignment(tmp_path)
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "helpers.py").write_text("def times(k, x):\n    return k * x\n")
    cells = [("code", "from helpers import times"), ("code", "def scale(x, k):\n    return times(k, x)")]
    result = grade_submission(spec, folder / "kernel.ipynb", worker=numpy_worker,
                              prepared=Prepared(spec, hidden=False, functions=["scale"]), cells=cells)
    assert [c.status for c in result.cases()] == [PASSED] * 3, result.cases()[0].message

"""`grader new`: a new assignment that loads as written and validates once its reference is written.

Every test runs the installed command in a subprocess, in a temporary folder standing for an
instructor's checkout (assignments/ and reference/ side by side), as an instructor would.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from grader.expected.mistakes import load_catalogue
from grader.expected.starter import strip_solutions
from grader.spec import load_spec

from conftest import GRADER

pytestmark = pytest.mark.slow          # every test here runs `grader new` or `grader validate`

STUB = '    raise NotImplementedError("write the reference solution of mse_loss here")\n'
SOLUTION = "    r = X @ w - y\n    loss = (r ** 2).mean()\n    dw = 2 * X.T @ r / X.shape[0]\n    return loss, dw\n"
FILES = ("assignments/hw3/assignment.yaml", "assignments/hw3/hidden.yaml", "assignments/hw3/mistakes.yaml",
         "assignments/hw3/README.md", "reference/hw3/hw3.py")


def grader(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([GRADER, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def assert_usage_error(proc: subprocess.CompletedProcess, *texts: str):
    assert proc.returncode == 2 and proc.stdout == "", proc.stdout + proc.stderr
    assert proc.stderr.startswith("grader: error: ") and proc.stderr.count("\n") == 1, proc.stderr
    for text in texts:
        assert text in proc.stderr


def write_the_reference(root: Path, name: str = "hw3") -> Path:
    path = root / "reference" / name / f"{name}.py"
    text = path.read_text()
    assert text.count(STUB) == 1, "the scaffold's reference changed: update STUB"
    path.write_text(text.replace(STUB, SOLUTION))
    return path


@pytest.mark.parametrize("framework", ["numpy", "torch"])
def test_new_writes_an_assignment_that_loads(tmp_path, framework):
    proc = grader(tmp_path, "new", "hw3", "--framework", framework)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"wrote {f}" for f in FILES] + [
        "next: write the reference solution in reference/hw3/hw3.py, then run `grader validate hw3`"]
    spec = load_spec(tmp_path / "assignments" / "hw3")
    assert (spec.name, spec.framework, spec.modules) == ("hw3", framework, ("hw3",))
    assert [f.name for f in spec.functions] == ["mse_loss"]
    assert spec.reference_dir == (tmp_path / "reference" / "hw3").resolve()
    assert [c.case_id for c in spec.functions[0].cases] == ["public-1", "public-2", "public-3",
                                                            "hidden-1", "hidden-2", "hidden-3"]
    catalogue = load_catalogue(spec)
    assert catalogue.mistakes == [] and catalogue.variants == []
    reference = (tmp_path / "reference" / "hw3" / "hw3.py").read_text()
    assert f"import {framework}\n" in reference
    assert "write the reference solution" not in strip_solutions(reference)   # the block is the solution's


def test_validate_before_the_reference_is_written_says_what_to_write_and_where(tmp_path):
    assert grader(tmp_path, "new", "hw3").returncode == 0
    proc = grader(tmp_path, "validate", "hw3")
    assert_usage_error(proc, f"{(tmp_path / 'reference' / 'hw3' / 'hw3.py').resolve()}: mse_loss is not written yet",
                       "between # BEGIN SOLUTION and # END SOLUTION")


@pytest.mark.parametrize("framework", ["numpy", "torch"])
def test_validate_passes_once_the_reference_is_written(tmp_path, framework):
    assert grader(tmp_path, "new", "hw3", "--framework", framework).returncode == 0
    write_the_reference(tmp_path)
    proc = grader(tmp_path, "validate", "hw3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert "reference                (all)                      5/5 points, reference: ok" in lines
    assert "handout                  (all)                      0/5 points, handout: ok" in lines
    assert lines[-1] == "No catalogued mistakes yet (add them to mistakes.yaml); reference full marks, handout zero."


def test_the_commented_example_mistake_is_caught_once_uncommented(tmp_path):
    assert grader(tmp_path, "new", "hw3").returncode == 0
    write_the_reference(tmp_path)
    path = tmp_path / "assignments" / "hw3" / "mistakes.yaml"
    lines = path.read_text().splitlines()
    start = lines.index("# mistakes:")
    example = [line[2:] for line in lines[start:] if line.startswith("# ")]
    path.write_text("\n".join(lines[:start] + example + ["not_mistakes: {}"]) + "\n")
    proc = grader(tmp_path, "validate", "hw3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no_average               mse_loss                   3 public + 2 hidden cases          5/5" in proc.stdout
    assert proc.stdout.splitlines()[-1] == "1 catalogued mistakes; all caught, reference full marks, handout zero."


def test_a_mistake_may_be_called_like_what_validate_grades_beside_it(tmp_path):
    assert grader(tmp_path, "new", "hw3").returncode == 0
    write_the_reference(tmp_path)
    (tmp_path / "assignments" / "hw3" / "mistakes.yaml").write_text(
        "mistakes:\n  handout:\n    sentence: s\n    edits: [{in: [mse_loss], old: '/ X.shape[0]', new: ''}]\n")
    proc = grader(tmp_path, "validate", "hw3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "handout                  mse_loss                   3 public + 2 hidden cases          5/5" in proc.stdout


def test_never_overwrites(tmp_path):
    assert grader(tmp_path, "new", "hw3").returncode == 0
    written = write_the_reference(tmp_path)
    before = {f: (tmp_path / f).read_text() for f in FILES}
    assert_usage_error(grader(tmp_path, "new", "hw3"), "assignments/hw3: already exists; not overwriting it")
    assert {f: (tmp_path / f).read_text() for f in FILES} == before
    (tmp_path / "assignments" / "hw3" / "assignment.yaml").unlink()
    for f in ("hidden.yaml", "mistakes.yaml", "README.md"):
        (tmp_path / "assignments" / "hw3" / f).unlink()
    (tmp_path / "assignments" / "hw3").rmdir()
    assert_usage_error(grader(tmp_path, "new", "hw3"), "reference/hw3: already exists")   # the reference alone too
    assert written.read_text() == before["reference/hw3/hw3.py"]


@pytest.mark.parametrize("name, problem", [
    ("hw-3", "not a valid assignment name: use letters, digits and _"),
    ("3hw", "not a valid assignment name: use letters, digits and _"),
    ("class", "not a valid assignment name: use letters, digits and _"),
    ("numpy", "not a valid assignment name: the student's module would shadow the module numpy"),
    ("random", "not a valid assignment name: the student's module would shadow the module random"),
])
def test_a_name_that_cannot_be_a_module_is_a_usage_error(tmp_path, name, problem):
    assert_usage_error(grader(tmp_path, "new", name), f"grader: error: {name}: {problem}")
    assert list(tmp_path.iterdir()) == []


def test_dir_puts_the_reference_beside_that_folder(tmp_path):
    proc = grader(tmp_path, "new", "hw3", "--dir", "course/assignments")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == ("next: write the reference solution in course/reference/hw3/hw3.py, "
                                            "then run `grader validate course/assignments/hw3`")
    spec = load_spec(tmp_path / "course" / "assignments" / "hw3")
    assert spec.reference_dir == (tmp_path / "course" / "reference" / "hw3").resolve()
    assert_usage_error(grader(tmp_path, "validate", "course/assignments/hw3"), "mse_loss is not written yet")

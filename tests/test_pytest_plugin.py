"""The pytest plugin (grader/pytest_plugin.py), run the way users run it: `python -m pytest` in a
subprocess, in a folder of its own, with the plugin loaded through its entry point.

Each run that grades is made once per module (the `runs` fixture) and shared by the tests that
look at it. Outcomes are read from the JUnit file pytest writes (--junitxml), the form CI and IDEs
read too, and compared with `grader check --json` on the same submission.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import GRADER
from grader.expected.mistakes import function_span
from grader.report.terminal import case_lines, check_lines
from grader.results import SubmissionResult
from grader.spec import load_spec
from test_check_cli import short_timeout_spec
from variants import materialize

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = REPO / "assignments" / "linear_classifier"
REFERENCE = REPO / "reference" / "linear_classifier"
HANDOUT = REPO / "student_template" / "linear_classifier"
BOB = REPO / "examples" / "linear_classifier" / "bob"     # reg * W in svm_loss_naive's dW; softmax not written
CS231N = REPO / "assignments" / "cs231n"                  # its functions have checks with points of their own
RUN_TIMEOUT = 300                                         # s; a hang fails, never blocks CI


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    junit: Path

    @property
    def items(self) -> dict[str, dict]:
        """Item name (`svm_loss_naive[public-1]`) -> {outcome, text, message, properties, classname}."""
        assert self.junit.is_file(), f"pytest wrote no JUnit file\n{self.stdout}\n{self.stderr}"
        out = {}
        for case in ET.parse(self.junit).getroot().iter("testcase"):
            problem = next((case.find(tag) for tag in ("failure", "error", "skipped") if case.find(tag) is not None), None)
            assert case.get("name") not in out, f"{case.get('name')} reported twice"
            out[case.get("name")] = {
                "outcome": "passed" if problem is None else problem.tag,
                "text": problem.text if problem is not None else "",
                "message": problem.get("message") if problem is not None else "",
                "properties": {p.get("name"): p.get("value") for p in case.iter("property")},
                "classname": case.get("classname"),
            }
        return out


def run_pytest(cwd: Path, *args: str) -> Run:
    """`python -m pytest ARGS` in `cwd`, writing cwd/junit.xml; options as `--opt=value`, so pytest
    does not take their values for paths when it picks its rootdir."""
    cwd.mkdir(parents=True, exist_ok=True)
    junit = cwd / "junit.xml"
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={junit}", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=env)
    return Run(proc.returncode, proc.stdout, proc.stderr, junit)


def grade_args(submission: Path, assignment: Path = ASSIGNMENT, hidden: bool = False) -> list[str]:
    return [f"--grader-assignment={assignment}", f"--grader-submission={submission}"] + (["--grader-hidden"] if hidden else [])


def case_names(hidden: bool) -> set[str]:
    """Every item the plugin should collect for linear_classifier, from its spec."""
    visibilities = ("public", "hidden") if hidden else ("public",)
    spec = load_spec(ASSIGNMENT)
    return {f"{fn.name}[{c.case_id}]" for fn in spec.functions for c in fn.cases if c.visibility in visibilities}


def check_json(submission: Path, out: Path, *extra: str, assignment: Path = ASSIGNMENT) -> SubmissionResult:
    """What `grader check --json` reports on the same submission."""
    out.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([GRADER, "check", str(submission), "--assignment", str(assignment), "--json", str(out / "r.json"), *extra],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert proc.returncode in (0, 1), proc.stderr
    return SubmissionResult.from_dict(json.loads((out / "r.json").read_text()))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Runs by key, each made the first time a test asks for it."""
    tmp = tmp_path_factory.mktemp("plugin")
    plan = {
        "reference": lambda: run_pytest(tmp / "reference", *grade_args(REFERENCE)),
        "reference-hidden": lambda: run_pytest(tmp / "reference-hidden", *grade_args(REFERENCE, hidden=True)),
        "handout": lambda: run_pytest(tmp / "handout", *grade_args(HANDOUT, assignment=HANDOUT)),
        "bob": lambda: run_pytest(tmp / "bob", *grade_args(BOB, hidden=True)),
        "bob-n2": lambda: run_pytest(tmp / "bob-n2", *grade_args(BOB, hidden=True), "-n", "2"),
        "bob-k": lambda: run_pytest(tmp / "bob-k", *grade_args(BOB, hidden=True), "-k", "svm_loss_naive"),
        "bob-check": lambda: check_json(BOB, tmp / "bob-check", "--hidden"),
    }
    done = {}

    def get(key):
        if key not in done:
            done[key] = plan[key]()
        return done[key]
    return get


# ---------------------------------------------------------------------------------------------
# What is collected, and how it ends


@pytest.mark.slow
def test_reference_passes_every_public_case(runs):
    run = runs("reference")
    assert run.returncode == 0, run.stdout + run.stderr
    assert set(run.items) == case_names(hidden=False)
    assert {i["outcome"] for i in run.items.values()} == {"passed"}


@pytest.mark.slow
def test_grader_hidden_adds_the_hidden_cases(runs):
    run = runs("reference-hidden")
    assert run.returncode == 0, run.stdout + run.stderr
    assert set(run.items) == case_names(hidden=True)
    assert len(run.items) > len(case_names(hidden=False))
    assert {i["outcome"] for i in run.items.values()} == {"passed"}


@pytest.mark.slow
def test_handout_fails_every_item_as_not_implemented(runs):
    run = runs("handout")
    assert run.returncode == 1, run.stdout + run.stderr
    assert set(run.items) == case_names(hidden=False)
    for name, item in run.items.items():
        assert item["outcome"] == "failure", name
        assert item["properties"]["status"] == "not_implemented", name
        assert f"{name.split('[')[0]} is not implemented yet" in item["text"], item["text"]


@pytest.mark.slow
def test_item_outcomes_are_grader_checks_case_statuses(runs):
    run, check = runs("bob"), runs("bob-check")
    statuses = {f"{c.function}[{c.case_id}]": c.status for c in check.cases()}
    assert set(run.items) == set(statuses)
    for name, item in run.items.items():
        assert item["properties"]["status"] == statuses[name], name
        assert (item["outcome"] == "passed") == (statuses[name] == "passed"), name
    assert {"passed", "failed", "not_implemented"} <= set(statuses.values())     # bob covers each kind


@pytest.mark.slow
def test_failure_text_is_grader_checks_block_for_the_case(runs):
    run, check = runs("bob"), runs("bob-check")
    for case in check.cases():
        if not case.passed:
            assert run.items[f"{case.function}[{case.case_id}]"]["text"] == "\n".join(case_lines(case))


def test_failure_text_drops_the_escapes_and_control_characters_the_submission_put_in_it():
    """A case's or check's text quotes the submission (a source line in no_loops's message, the
    student's printed output): pytest's report shows it as `grader check` does, with no escape
    sequence that would redraw the terminal (a fake PASSED) and no backspace."""
    from grader.pytest_plugin import CaseItem, CheckItem
    from grader.results import CaseResult, CheckResult
    case = CaseResult(function="f", case_id="public-1", visibility="public", seed=1, status="failed",
                      message="got 1\x1b[2K\x1b[1A\x1b[32mPASSED\x1b[0m", details="ok\b\b\bFAIL\f", stdout="")
    check = CheckResult(function="f", name="no_loops", visibility="public", status="failed", possible=1.0,
                        message="runs line 3 (`x = 1  # \x1b[2K\x1b[32mPASSED`) 64 times")
    for text in (CaseItem.feedback(None, case), CheckItem.feedback(None, check)):
        assert "\x1b" not in text and "\b" not in text and "\f" not in text and "PASSED" in text, repr(text)


@pytest.mark.slow
def test_junit_failure_names_the_mistake_and_the_seed(runs):
    item = runs("bob").items["svm_loss_naive[public-1]"]
    assert item["outcome"] == "failure"
    assert "Probably: dW has `reg * W` where it needs `2 * reg * W`" in item["text"]
    assert item["message"].startswith("public-1 (seed 1, ")
    assert item["properties"] == {"function": "svm_loss_naive", "case": "public-1", "seed": "1", "status": "failed"}
    assert item["classname"].endswith("examples.linear_classifier.bob.linear_classifier")    # the student's file


@pytest.mark.slow
def test_failures_show_no_traceback_of_the_grader(runs):
    run = runs("bob")
    texts = [i["text"] for i in run.items.values() if i["outcome"] != "passed"]
    assert texts
    for text in texts + [run.stdout]:
        assert "Traceback" not in text and "pytest_plugin.py" not in text and "NotPassed" not in text
        assert not re.search(r'File ".*grader/', text), text
    assert "linear_classifier.py, line 36, in softmax_loss_naive: raise NotImplementedError" in run.stdout


@pytest.mark.slow
def test_xdist_gives_the_same_outcomes_and_feedback(runs):
    one, two = runs("bob"), runs("bob-n2")
    assert two.returncode == one.returncode == 1
    assert "2 workers" in two.stdout, two.stdout                      # it did run under pytest-xdist
    assert two.items == one.items


@pytest.mark.slow
def test_k_selects_and_grades_only_that_function(runs):
    run, full = runs("bob-k"), runs("bob")
    assert set(run.items) == {n for n in full.items if n.startswith("svm_loss_naive[")}
    for name, item in run.items.items():
        assert item["outcome"] == full.items[name]["outcome"], name
    assert "deselected" in run.stdout


@pytest.mark.slow
def test_a_selection_is_graded_alone_and_as_in_a_full_grading(runs):
    """What -k leaves is all the first item grades: whole functions, judged as a full grading judges them."""
    from grader.grade import Prepared, grade_submission
    spec = load_spec(ASSIGNMENT)
    result = grade_submission(spec, BOB, hidden=True, prepared=Prepared(spec, True, functions={"svm_loss_naive"}))
    verdict = lambda c: (c.function, c.case_id, c.status, c.message, c.diagnosis, c.details)
    assert [verdict(c) for c in result.cases()] == \
        [verdict(c) for c in runs("bob-check").cases() if c.function == "svm_loss_naive"]


@pytest.mark.slow
def test_timeout_fails_only_its_function_with_the_message(tmp_path, each_worker):
    submission = materialize("infinite_loop", tmp_path / "submissions")
    spec = short_timeout_spec(tmp_path / "spec", seconds=2)
    run = run_pytest(tmp_path / "run", *grade_args(submission, assignment=spec))
    assert run.returncode == 1, run.stdout + run.stderr
    assert ("sandbox is portable" in run.stdout) == (each_worker == "portable")     # the worker asked for ran
    for name, item in run.items.items():
        if name.startswith("softmax_loss_naive["):
            assert item["outcome"] == "failure" and item["properties"]["status"] == "timeout", name
            assert "did not finish within 2 s" in item["text"] or "already timed out" in item["text"], item["text"]
        else:
            assert item["outcome"] == "passed", name


@pytest.mark.slow
def test_checks_with_points_are_items_too(tmp_path):
    """cs231n's functions have checks beyond their outputs; a vectorized version that calls the naive
    one gives the right values but fails no_loops, and its item says so as grader check does."""
    submission = tmp_path / "calls_naive"
    shutil.copytree(REPO / "reference" / "cs231n", submission)
    source = (submission / "linear_svm.py").read_text()
    span = function_span(source, "svm_loss_vectorized")
    source = source[:span.start()] + "def svm_loss_vectorized(W, X, y, reg):\n    return svm_loss_naive(W, X, y, reg)\n\n\n" + source[span.end():]
    (submission / "linear_svm.py").write_text(source)
    run = run_pytest(tmp_path / "run", *grade_args(submission, assignment=CS231N))
    check = check_json(submission, tmp_path / "check", assignment=CS231N)
    assert check.checks(), "cs231n has no scored checks any more: pick another assignment for this test"
    expected = {f"{c.function}[{c.case_id}]": ("passed" if c.passed else "failure", "\n".join(case_lines(c)))
                for c in check.cases()}
    expected |= {f"{c.function}[check-{c.name.replace(' ', '-')}]": ("passed" if c.passed else "failure", "\n".join(check_lines(c)))
                 for c in check.checks()}
    assert {name: (i["outcome"], i["text"] or expected[name][1]) for name, i in run.items.items()} == expected
    assert run.items["svm_loss_vectorized[check-no_loops]"]["outcome"] == "failure"
    assert run.items["svm_loss_vectorized[check-agrees_with-svm_loss_naive]"]["outcome"] == "passed"
    assert run.returncode == 1


# ---------------------------------------------------------------------------------------------
# Selecting by node id, as IDEs re-run a test; and what pytest itself must never import


def collect(cwd: Path, *args: str) -> list[str]:
    """The node ids `pytest --collect-only -q` lists (relative to pytest's rootdir)."""
    cwd.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [line for line in proc.stdout.splitlines() if "::" in line]


@pytest.mark.slow
def test_node_ids_are_the_students_file_and_function_case(tmp_path):
    handout = tmp_path / "hw2"
    shutil.copytree(HANDOUT, handout)
    ids = collect(handout, "--grader-assignment=linear_classifier", "--grader-submission=linear_classifier.py")
    assert sorted(ids) == sorted(f"linear_classifier.py::{name}" for name in case_names(hidden=False))


@pytest.mark.slow
def test_node_ids_as_arguments_select_those_items(tmp_path):
    handout = tmp_path / "hw2"
    shutil.copytree(HANDOUT, handout)
    args = ["--grader-assignment=linear_classifier", "--grader-submission=."]
    assert collect(handout, *args, "linear_classifier.py::svm_loss_naive[public-2]") == \
        ["linear_classifier.py::svm_loss_naive[public-2]"]
    assert collect(handout, *args, "linear_classifier.py::softmax_loss_vectorized") == \
        [f"linear_classifier.py::softmax_loss_vectorized[public-{i}]" for i in (1, 2, 3)]
    assert len(collect(handout, *args, "linear_classifier.py")) == len(case_names(hidden=False))


@pytest.mark.slow
def test_items_join_the_projects_own_tests_and_m_grader_keeps_only_them(tmp_path):
    handout = tmp_path / "hw2"
    shutil.copytree(HANDOUT, handout)
    (handout / "test_mine.py").write_text("def test_mine():\n    pass\n")
    args = ["--grader-assignment=linear_classifier", "--grader-submission=linear_classifier.py"]
    assert "test_mine.py::test_mine" in collect(handout, *args)
    assert len(collect(handout, *args)) == 1 + len(case_names(hidden=False))
    assert sorted(collect(handout, *args, "-m", "grader")) == sorted(f"linear_classifier.py::{n}" for n in case_names(hidden=False))


@pytest.mark.slow
def test_unknown_node_id_is_a_usage_error(tmp_path):
    handout = tmp_path / "hw2"
    shutil.copytree(HANDOUT, handout)
    run = run_pytest(handout, "--grader-assignment=linear_classifier", "--grader-submission=.",
                     "linear_classifier.py::svm_loss_naive[public-9]")
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    assert "ERROR: grader: not found: linear_classifier.py::svm_loss_naive[public-9]" in run.stderr


@pytest.mark.slow
def test_pytest_never_imports_the_submission(tmp_path):
    """The student's module named as an argument, and their folder's conftest.py and test file under
    the folder pytest collects: had pytest imported any of them, this run would fail."""
    alice = tmp_path / "alice"
    alice.mkdir()
    source = (REFERENCE / "linear_classifier.py").read_text()
    guard = 'import sys\nif "_pytest" in sys.modules:\n    raise SystemExit("student code imported by pytest")\n'
    (alice / "linear_classifier.py").write_text(guard + source)
    (alice / "conftest.py").write_text('raise SystemExit("the submission\'s conftest.py was imported by pytest")\n')
    (alice / "test_mine.py").write_text("def test_mine():\n    assert False, 'a test file in the submission ran'\n")
    run = run_pytest(tmp_path, *grade_args(alice), ".", "alice/linear_classifier.py::svm_loss_naive[public-1]")
    assert run.returncode == 0, run.stdout + run.stderr
    assert set(run.items) == {"svm_loss_naive[public-1]"}


# ---------------------------------------------------------------------------------------------
# Usage errors, and a plugin that is installed but not asked for


@pytest.mark.slow
def test_usage_errors_are_grader_checks_one_line(tmp_path):
    missing = tmp_path / "nowhere"
    check = subprocess.run([GRADER, "check", str(missing), "--assignment", str(ASSIGNMENT)], capture_output=True, text=True)
    run = run_pytest(tmp_path, *grade_args(missing))
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    assert check.stderr.startswith("grader: error: ")
    assert f"ERROR: grader: {check.stderr.removeprefix('grader: error: ').strip()}" in run.stderr.splitlines()

    check = subprocess.run([GRADER, "check", str(REFERENCE), "--assignment", "nosuch"], capture_output=True, text=True, cwd=tmp_path)
    run = run_pytest(tmp_path, "--grader-assignment=nosuch", f"--grader-submission={REFERENCE}")
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    assert "assignment not found" in check.stderr
    assert f"ERROR: grader: {check.stderr.removeprefix('grader: error: ').strip()}" in run.stderr.splitlines()


@pytest.mark.slow
def test_one_option_without_the_other_is_a_usage_error(tmp_path):
    run = run_pytest(tmp_path, f"--grader-submission={REFERENCE}")
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    assert "ERROR: grader: --grader-assignment is needed too (or the grader_assignment ini option)" in run.stderr.splitlines()


@pytest.mark.slow
def test_hidden_with_a_handout_is_a_usage_error(tmp_path):
    run = run_pytest(tmp_path, *grade_args(HANDOUT, assignment=HANDOUT, hidden=True))
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    assert "ERROR: grader: hidden cases need the instructor's files" in run.stderr


@pytest.mark.slow
def test_ini_options_stand_for_the_command_line(tmp_path):
    handout = tmp_path / "hw2"
    shutil.copytree(HANDOUT, handout)
    (handout / "pytest.ini").write_text("[pytest]\ngrader_assignment = linear_classifier\ngrader_submission = linear_classifier.py\n")
    (handout / "sub").mkdir()
    ids = collect(handout / "sub")                           # from a subfolder: paths are the ini file's
    assert sorted(ids) == sorted(f"linear_classifier.py::{name}" for name in case_names(hidden=False))


@pytest.mark.slow
def test_without_its_options_the_plugin_adds_nothing(tmp_path):
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    pass\n")
    assert collect(tmp_path) == ["test_plain.py::test_plain"]
    helped = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--help"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert "--grader-assignment=NAME" in helped.stdout                 # loaded through the entry point


def test_this_suite_runs_with_the_plugin_loaded_and_idle(pytestconfig):
    assert pytestconfig.pluginmanager.has_plugin("grader")
    assert not pytestconfig.pluginmanager.has_plugin("grader-session")


@pytest.mark.slow
def test_the_run_ends_with_grader_checks_points_line(runs):
    bob = check_json(BOB, Path(runs("bob").junit).parent / "again", "--hidden")
    from grader.report.terminal import summary_line
    assert re.search(r"^-+ grader -+\n" + re.escape(summary_line(bob)) + "\n", runs("bob").stdout, flags=re.M)
    assert re.search(r"^1 of 9 public and hidden cases passed: 0.5/5 points\. Functions run: svm_loss_naive\.$",
                     runs("bob-k").stdout, flags=re.M)
    # under pytest-xdist the workers grade, and their reports bring the same line to the summary
    assert re.search(r"^-+ grader -+\n" + re.escape(summary_line(bob)) + "\n", runs("bob-n2").stdout, flags=re.M)

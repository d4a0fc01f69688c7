"""The Markdown summary (grader/report/markdown.py): what a student reads on their GitHub Actions run.

The end-to-end tests run the installed `grader check` on examples/linear_classifier/bob with
GITHUB_STEP_SUMMARY pointed at a temporary file, as Actions does, and hold the Markdown against
the JSON report of the same run. examples/github-classroom/summary-example.md is that summary,
checked in; regenerate it with `python tests/test_markdown.py`.
"""
from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from grader.report import terminal
from grader.report.markdown import append_summary, render, write_summary
from grader.results import PASSED, PUBLIC, CaseResult, FunctionResult, Score, SubmissionResult

from conftest import GRADER, REPO
from test_reports import make_result

BOB = REPO / "examples" / "linear_classifier" / "bob"
EXAMPLE = REPO / "examples" / "github-classroom" / "summary-example.md"
EARLIER = "## What an earlier step wrote\n"


def passing_result() -> SubmissionResult:
    cases = [CaseResult("f", f"public-{i}", PUBLIC, i, PASSED, dims={"N": 3}) for i in (1, 2, 3)]
    return SubmissionResult(assignment="hw1", submission="ada", hidden_graded=False, hidden_available=False,
                            hidden_points=3.0, functions=[FunctionResult("f", "hw1", cases, Score(2.0, 2.0, 3, 3))])


def _pts(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))


def _fences(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.fullmatch(r"`{3,}", line)]


# ---------------------------------------------------------------------------------------------
# The renderer, on hand-made results


def test_a_passing_submission_is_a_heading_a_table_and_one_line():
    text = render(passing_result())
    assert text.startswith("## ✅ hw1: 2/2 points\n")
    assert "| ✅ | `f` | 3/3 | 2/2 |" in text.splitlines()
    assert "All 3 public cases passed: 2/2 points. Hidden cases, worth 3 more points, are not run here." in text
    assert "###" not in text and "```" not in text
    assert len(text.splitlines()) <= 8


def test_a_failing_function_gets_its_cases_seeds_messages_and_details():
    text = render(make_result(hidden_graded=False))
    assert text.startswith("## ❌ hw1: 1/5 points\n")
    assert "| ❌ | `softmax_loss` | 1/3 | 1/3 |" in text.splitlines()
    assert "| ❌ | `linear_grad` | 0/2 | 0/2 |" in text.splitlines()
    section = text[text.index("### ❌ `softmax_loss`"):text.index("### ❌ `linear_grad`")]
    assert "**public-2 (seed 12, N=4, D=5, large logits)**: failed" in section
    assert "dW is NaN at [1, 2]: expected 0.25, got nan\nhint: subtract the row max before exp" in section
    assert "**public-3 (seed 13, N=1, D=1)**: error" in section
    assert "**public-1" not in section                          # passed: only counted in the table
    assert "Hidden cases, worth 6 more points, are not run here." in text


def test_each_diagnosis_is_said_once_per_function():
    result = make_result(hidden_graded=False)
    for case in result.functions[1].cases:
        case.diagnosis = "the gradient has the wrong `sign`"
    text = render(result)
    assert text.count("**Probably:** the gradient has the wrong `sign`") == 1
    first = text.index("**public-1 (seed 21)**")
    assert first < text.index("**Probably:**") < text.index("**public-2 (seed 22)**")


def test_student_text_cannot_end_its_code_block_or_bring_html():
    result = make_result(hidden_graded=False)
    case = result.functions[0].cases[1]
    case.message = "ValueError: ```` </details> <script>x</script>"
    case.stdout = "\x1b[1;31mred\x1b[0m and a bell\x07 and a NUL\x00\n"
    text = render(result)
    fences = _fences(text)
    assert "`````" in fences                     # longer than the four backticks in the message
    block = text[text.index("`````\n") + 6:]
    assert block[:block.index("\n`````")].startswith("ValueError: ```` </details>")
    assert "red and a bell and a NUL" in text
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)
    assert len(fences) % 2 == 0


def test_sandbox_warning_and_import_prints_are_shown():
    result = make_result(hidden_graded=True)
    result.sandbox_warning = "no Landlock on this kernel: student code can read your files"
    text = render(result)
    assert "> **Warning:** no Landlock on this kernel: student code can read your files" in text
    assert "<details><summary>Printed while importing your code</summary>" in text
    assert "Hidden cases" not in text
    assert "2 of 7 public and hidden cases passed: 3/11 points." in text


def test_shows_the_cases_the_terminal_report_shows():
    result = make_result(hidden_graded=True)
    text = render(result)
    for fn in result.functions:
        digest = terminal.failures(fn)
        for case in digest.shown:
            assert f"**{terminal.case_label(case)}**" in text
            assert f"     {terminal.case_label(case)}: " in terminal.render(result)


def test_append_keeps_what_earlier_steps_wrote(tmp_path):
    path = tmp_path / "step_summary.md"
    path.write_text(EARLIER, encoding="utf-8")
    append_summary(passing_result(), path)
    append_summary(make_result(hidden_graded=False), path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith(EARLIER + "\n## ✅ hw1")
    assert text.endswith(render(make_result(hidden_graded=False)))
    assert "\n\n## ❌ hw1" in text


def test_write_replaces_the_file(tmp_path):
    path = tmp_path / "summary.md"
    path.write_text("old content\n", encoding="utf-8")
    write_summary(passing_result(), path)
    assert path.read_text(encoding="utf-8") == render(passing_result())


# ---------------------------------------------------------------------------------------------
# End to end: the installed command, as GitHub Actions runs it


def run_check(tmp: Path, *extra: str, step_summary: Path | None, path: Path = BOB, assignment="linear_classifier"):
    env = dict(os.environ)
    if step_summary is not None:
        env["GITHUB_STEP_SUMMARY"] = str(step_summary)
    return subprocess.run([GRADER, "check", str(path), "--assignment", assignment, *extra], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def bob(tmp_path_factory):
    """Bob's submission checked once: the step summary (after an earlier step's), --summary, and the JSON."""
    tmp = tmp_path_factory.mktemp("bob")
    step_summary = tmp / "step_summary.md"
    step_summary.write_text(EARLIER, encoding="utf-8")
    proc = run_check(tmp, "--json", str(tmp / "report.json"), "--summary", str(tmp / "summary.md"),
                     step_summary=step_summary)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads((tmp / "report.json").read_text(encoding="utf-8"))
    return {"step": step_summary.read_text(encoding="utf-8"), "summary": (tmp / "summary.md").read_text(encoding="utf-8"),
            "report": report}


@pytest.mark.slow
def test_check_appends_the_summary_to_github_step_summary(bob):
    assert bob["step"] == EARLIER + "\n" + bob["summary"]
    assert bob["summary"] == render(SubmissionResult.from_dict(bob["report"]))


@pytest.mark.slow
def test_summary_points_and_functions_match_the_json_report(bob):
    text, report = bob["summary"], bob["report"]
    score = report["score"]
    assert text.splitlines()[0] == f"## ❌ linear_classifier: {_pts(score['earned'])}/{_pts(score['possible'])} points"
    assert (score["earned"], score["possible"]) == (2, 8)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`" in line]
    assert len(rows) == len(report["functions"]) == 4
    for row, fn in zip(rows, report["functions"]):
        passed = sum(c["status"] == "passed" for c in fn["cases"])
        mark = "✅" if passed == len(fn["cases"]) else "❌"
        assert row == f"| {mark} | `{fn['name']}` | {passed}/{len(fn['cases'])} | {_pts(fn['earned'])}/{_pts(fn['possible'])} |"
        assert (f"### ❌ `{fn['name']}`" in text) == (mark == "❌")
    assert "3 of 12 public cases passed: 2/8 points. Hidden cases, worth 12 more points, are not run here." in text


@pytest.mark.slow
def test_summary_names_the_failing_case_and_the_diagnosis(bob):
    text, report = bob["summary"], bob["report"]
    svm = next(f for f in report["functions"] if f["name"] == "svm_loss_naive")
    first = svm["cases"][0]
    assert first["diagnosis"].startswith("dW has `reg * W` where it needs `2 * reg * W`")
    assert f"**Probably:** {first['diagnosis']}" in text.splitlines()
    dims = ", ".join(f"{k}={v}" for k, v in first["dims"].items())
    assert f"**{first['case_id']} (seed {first['seed']}, {dims})**: failed" in text
    assert first["message"] in text
    assert "expected 0.023662858, got -0.024025217" in first["message"]
    naive = next(f for f in report["functions"] if f["name"] == "softmax_loss_naive")
    assert naive["cases"][0]["message"] == "softmax_loss_naive is not implemented yet"
    assert "The same on public-2 (seed 2), public-3 (seed 3)." in text


def example_summary(report: dict) -> str:
    """What examples/github-classroom/summary-example.md holds: Bob's summary without this
    machine's sandbox warning (the mode differs between machines, the feedback does not)."""
    result = SubmissionResult.from_dict(copy.deepcopy(report))
    result.sandbox_warning = ""
    return render(result)


@pytest.mark.slow
def test_checked_in_example_summary_is_what_the_grader_writes_now(bob):
    assert EXAMPLE.read_text(encoding="utf-8") == example_summary(bob["report"]), (
        f"{EXAMPLE.relative_to(REPO)} is stale: regenerate it with `python tests/test_markdown.py`")


@pytest.mark.slow
def test_usage_error_goes_into_the_step_summary_too(tmp_path):
    step_summary = tmp_path / "step_summary.md"
    proc = run_check(tmp_path, step_summary=step_summary, assignment="no_such_assignment")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("grader: error: no_such_assignment: assignment not found")
    assert proc.stderr.count("\n") == 1
    text = step_summary.read_text(encoding="utf-8")
    assert text.startswith("## ❌ grader: nothing was graded\n\n```\nno_such_assignment: assignment not found")


@pytest.mark.slow
def test_step_summary_in_a_missing_folder_is_a_usage_error(tmp_path):
    target = tmp_path / "missing" / "summary.md"
    proc = run_check(tmp_path, step_summary=target)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr == (f"grader: error: GITHUB_STEP_SUMMARY {target}: cannot write a report there: "
                           f"folder {target.parent} does not exist\n")


if __name__ == "__main__":           # regenerate the checked-in example
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        proc = run_check(Path(tmp), "--json", str(Path(tmp, "report.json")), step_summary=None)
        if proc.returncode != 1:
            sys.exit(f"grader check exited {proc.returncode}, expected 1:\n{proc.stdout}{proc.stderr}")
        EXAMPLE.write_text(example_summary(json.loads(Path(tmp, "report.json").read_text(encoding="utf-8"))), encoding="utf-8")
    print(f"wrote {EXAMPLE}")

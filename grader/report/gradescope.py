"""Gradescope's results.json, so the grader can run as a Gradescope autograder.

    write_gradescope(result, "/autograder/results/results.json")

One Gradescope test per function and visibility ("svm_loss_naive (public cases)", "... (hidden
cases)"), numbered "<function>.<1 public | 2 hidden>". Public groups show what the terminal shows
for each failing case; hidden groups show only the case id, status and message, never the
details or what the student printed, since those can reveal the hidden inputs. The format is
Gradescope's "Autograder Specifications" page (summarised in shared/research/anchors_autograders.md, 7.1).
"""
from __future__ import annotations

import builtins
import os
from typing import Any

from grader.results import FAILED, HIDDEN, NOT_IMPLEMENTED, PASSED, PUBLIC, CaseResult, FunctionResult, Score, SubmissionResult
from grader.report import json_report
from grader.report.atomic import write_atomic
from grader.report.terminal import case_label, clip_printed, indent_lines, status_text

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
MAX_CASES_SHOWN = 10                 # failing cases shown in full per test; the rest by id


def gradescope_results(result: SubmissionResult, hidden_visibility: str = "after_published") -> dict[str, Any]:
    """The results.json content for one submission.

        data = gradescope_results(result, hidden_visibility="after_due_date")

    `hidden_visibility` is when students see the hidden groups. Avoid "hidden": Gradescope then
    hides the student's total score too.
    """
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(f"hidden_visibility must be one of {', '.join(VISIBILITIES)}, not {hidden_visibility!r}")
    tests = []
    for number, fn in enumerate(result.functions, start=1):
        for index, visibility, score in ((1, PUBLIC, fn.public), (2, HIDDEN, fn.hidden)):
            cases = [c for c in fn.cases if c.visibility == visibility]
            if score is None or (not cases and not score.possible):
                continue                 # not graded, or this function has no such cases
            tests.append(_test(fn, visibility, score, cases, f"{number}.{index}",
                               "visible" if visibility == PUBLIC else hidden_visibility))
        for index, check in enumerate(fn.checks, start=3):
            tests.append({"name": f"{fn.name}: check {check.name}", "number": f"{number}.{index}",
                          "score": check.earned, "max_score": check.possible,
                          "status": "passed" if check.passed else "failed",
                          "output": "\n".join(x for x in (check.message, check.details) if x),
                          "visibility": "visible" if check.visibility == PUBLIC else hidden_visibility})
    if result.sandbox_warning:           # for the instructor: it tells a student what the sandbox lets through
        tests.append({"name": "Sandbox (instructors only)", "score": 0, "max_score": 0, "status": "failed",
                      "output": f"Warning: {result.sandbox_warning}", "visibility": "hidden"})
    return {
        "score": result.earned,
        "execution_time": result.duration,
        "output": _summary(result),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def gradescope_failure(message: str, traceback: str = "") -> dict[str, Any]:
    """results.json for when the grader itself failed: score 0 and the reason, as Otter does.

        write_atomic(path, json.dumps(gradescope_failure("the submission has no .py files")).encode())

    `message` is shown to the student; `traceback`, if given, goes to an instructor-only test.
    """
    tests = [{"name": "Autograder failed", "score": 0, "status": "failed", "output": message,
              "visibility": "visible"}]
    if traceback:
        tests.append({"name": "Autograder exception", "score": 0, "status": "failed", "output": traceback,
                      "visibility": "hidden"})
    return {"score": 0, "output": message, "output_format": "text", "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests}


def write_gradescope(result: SubmissionResult, path: str | os.PathLike[str],
                     hidden_visibility: str = "after_published", compact: bool = False) -> None:
    """Write results.json to `path` in one piece: Gradescope rejects a half-written file.

    `compact` drops the indentation, which lets json use its C encoder (a batch writes one per student)."""
    data = gradescope_results(result, hidden_visibility)
    write_atomic(path, (json_report.dumps(data, compact) + "\n").encode("utf-8"))


def _test(fn: FunctionResult, visibility: str, score: Score, cases: list[CaseResult], number: str,
          shown: str) -> dict[str, Any]:
    passed = sum(c.passed for c in cases)
    return {
        "name": f"{fn.name} ({visibility} cases)",
        "number": number,
        "score": score.earned,
        "max_score": score.possible,
        "status": "passed" if passed == len(cases) else "failed",
        "output": _case_report(cases, hidden=visibility == HIDDEN),
        "visibility": shown,
        "extra_data": {"passed": passed, "total": len(cases)},
    }


def _hidden_message(case: CaseResult) -> str:
    """What a hidden case may tell the student: the outcome, never a value. Not the expected or
    returned numbers (an answer to hard-code), and of an exception only its type: student code
    can put the case's inputs in its message (`raise ValueError(str(X))`)."""
    if case.blocked_by:                # its own message quotes the other function's wrong values
        return f"not judged: your {case.blocked_by} failed or was wrong on this case (its own tests say how)"
    if case.status == FAILED:
        wrong = [o.name for o in case.outputs if not o.ok]
        return f"wrong {', '.join(wrong)}" if wrong else "wrong answer"
    if case.exception and case.status != NOT_IMPLEMENTED:   # a class the student defined may carry data in its name too
        kind = case.exception
        return f"{case.function} raised " + (kind if isinstance(getattr(builtins, kind, None), type) else "an exception")
    if case.message.startswith(f"{case.function} raised "):     # a result written before `exception` existed
        return f"{case.function} raised an exception"
    return case.message          # the grader's own words: a timeout, a crash, not implemented, an import error


def _probably(case: CaseResult) -> str:
    return f"Probably: {case.diagnosis}" if case.diagnosis else ""


def _case_report(cases: list[CaseResult], hidden: bool) -> str:
    failing = [c for c in cases if c.status != PASSED]
    lines = [f"{len(cases) - len(failing)} of {len(cases)} cases passed."]
    for case in failing[:MAX_CASES_SHOWN]:
        lines.append("")
        if hidden:
            # Only what the student may know: no seed, no inputs, no details, no printed output.
            lines.append(f"{case.case_id}: {status_text(case)}")
            lines += indent_lines(_hidden_message(case), 2) + indent_lines(_probably(case), 2)
            continue
        lines.append(f"{case_label(case)}: {status_text(case)}")
        lines += indent_lines(case.message, 2) + indent_lines(_probably(case), 2) + indent_lines(case.details, 2)
        if case.stdout.strip():
            lines += ["  your code printed:"] + indent_lines(clip_printed(case.stdout), 4)
    if len(failing) > MAX_CASES_SHOWN:
        lines += ["", "also failing: " + ", ".join(c.case_id for c in failing[MAX_CASES_SHOWN:])]
    return "\n".join(lines)


def _summary(result: SubmissionResult) -> str:
    public = result.public
    lines = [f"{public.passed} of {public.total} public cases passed."]
    hidden = result.hidden
    if hidden is not None:
        lines.append(f"{hidden.passed} of {hidden.total} hidden cases passed.")
    elif result.hidden_points:
        lines.append(f"Hidden cases (worth {result.hidden_points:g} points) were not run.")
    if result.stdout.strip():                    # no case's input is involved in what importing printed
        lines += ["", "Printed while importing your code:", *indent_lines(clip_printed(result.stdout), 2)]
    return "\n".join(lines)

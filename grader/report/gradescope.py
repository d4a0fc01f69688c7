"""Gradescope's results.json, so the grader can run as a Gradescope autograder.

    write_gradescope(result, "/autograder/results/results.json")

One Gradescope test per function and visibility ("svm_loss_naive (public cases)", "... (hidden
cases)"), numbered "<function>.<1 public | 2 hidden>". Public groups show what the terminal shows
for each failing case; hidden groups show only the case id, its status and what went wrong in
fixed words (`_hidden_message`), never the case's own message, details or what the student
printed, since student code can put the hidden inputs in those. The format is
Gradescope's "Autograder Specifications" page (summarised in shared/research/anchors_autograders.md, 7.1).
"""
from __future__ import annotations

import os
import re
from typing import Any

from grader.results import (CRASHED, ERROR, FAILED, HIDDEN, NOT_IMPLEMENTED, PASSED, PUBLIC, TIMEOUT, UNIMPORTED,
                            CaseResult, FunctionResult, Score, SubmissionResult)
from grader.report import json_report
from grader.report.atomic import write_atomic
from grader.report.terminal import case_label, clip_printed, indent_lines, status_text
from grader.run.protocol import printable_tree

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
    graded = _graded_names(result)
    for number, fn in enumerate(result.functions, start=1):
        for index, visibility, score in ((1, PUBLIC, fn.public), (2, HIDDEN, fn.hidden)):
            cases = [c for c in fn.cases if c.visibility == visibility]
            if score is None or (not cases and not score.possible):
                continue                 # not graded, or this function has no such cases
            tests.append(_test(fn, visibility, score, cases, f"{number}.{index}",
                               "visible" if visibility == PUBLIC else hidden_visibility, graded))
        for index, check in enumerate(fn.checks, start=3):
            tests.append({"name": f"{fn.name}: check {check.name}", "number": f"{number}.{index}",
                          "score": check.earned, "max_score": check.possible,
                          "status": "passed" if check.passed else "failed",
                          "output": "\n".join(x for x in (check.message, check.details) if x),
                          "visibility": "visible" if check.visibility == PUBLIC and not result.hidden_graded
                          else hidden_visibility})
    if result.sandbox_warning:           # for the instructor: it tells a student what the sandbox lets through
        tests.append({"name": "Sandbox (instructors only)", "score": 0, "max_score": 0, "status": "failed",
                      "output": f"Warning: {result.sandbox_warning}", "visibility": "hidden"})
    return printable_tree({             # the grader's messages quote the submission (code, file names): no escapes
        "score": result.earned,
        # how long the hidden cases took says something of their sizes: not shown before they are
        # (a sixteenth red team read the hidden cases' sizes from it), so not given then
        **({} if result.hidden_graded and hidden_visibility != "visible" else {"execution_time": result.duration}),
        "output": _summary(result, hidden_visibility),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    })


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
          shown: str, graded: frozenset = frozenset()) -> dict[str, Any]:
    passed = sum(c.passed for c in cases)
    return {
        "name": f"{fn.name} ({visibility} cases)",
        "number": number,
        "score": score.earned,
        "max_score": score.possible,
        "status": "passed" if passed == len(cases) else "failed",
        "output": _case_report(cases, hidden=visibility == HIDDEN, graded=graded),
        "visibility": shown,
        "extra_data": {"passed": passed, "total": len(cases)},
    }


def _graded_names(result: SubmissionResult) -> frozenset:
    """The graded functions' names, from the spec, and the classes of methods among them
    (`TwoLayerNet` of `TwoLayerNet.loss`): names a hidden case may say."""
    names = set()
    for fn in result.functions:
        parts = fn.name.split(".")
        names.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return frozenset(names)


def _hidden_message(case: CaseResult, graded: frozenset = frozenset()) -> str:
    """What a hidden case may tell the student: the outcome, never a value, in the grader's words only.

    Not its message, whatever the status: parts of it come from the student's process, which can
    put the case's inputs there (an exception's message or class name, the name it reports missing,
    what it says came back, the inputs it says it changed, a limit's message). So the text is made
    of the status, the function's name (`case.function`, from the spec), the names of the graded
    functions (`graded`) and fixed phrases; the message is only read to choose among the phrases."""
    fn, message = case.function, case.message
    if case.blocked_by:                # its own message quotes the other function's wrong values
        if case.blocked_by in graded:  # else a name the student's process may have chosen
            return f"not judged: your {case.blocked_by} failed or was wrong on this case (its own tests say how)"
        return f"not judged: something {fn}'s cases run first failed or was wrong on this case"
    if case.status == FAILED:
        return _hidden_failure(case)
    if case.status == NOT_IMPLEMENTED:
        if message.startswith(f"{fn} calls "):
            return f"{fn} calls a function that is not implemented yet"
        if "the handout's code" in message:
            return f"{fn} is not implemented yet: it returns what the handout's starting code returns"
        return f"{fn} is not implemented yet"
    if case.status == TIMEOUT:
        if message.startswith("not run:"):
            return f"not run: {fn} already timed out on an earlier case"
        if message.startswith("importing "):
            return "importing your code did not finish within the time limit"
        limit = re.search(r"did not finish within (\d{1,5}(?:\.\d{1,3})?) s\b", message)   # the spec's limit
        text = f"{fn} did not finish within {limit.group(1) + ' s' if limit else 'the time limit'}"
        return text + (" (an infinite loop, or much slower than needed?)" if "infinite loop" in message else "")
    if case.status == CRASHED:
        if message.startswith("importing "):
            return "importing your code stopped the worker (sys.exit, os._exit, or a crash or a limit at import time?)"
        if message.startswith("not run:"):
            return f"not run: the worker that runs {fn} failed"
        return f"{fn} crashed (the process running it died: a segfault, os._exit, or a memory or disk limit)"
    if case.status == ERROR:
        return _hidden_error(case)
    return f"{fn}: {status_text(case)}"


def _hidden_failure(case: CaseResult) -> str:
    """A hidden case that ran and FAILED: the wrong outputs by name (the spec's), an input changed in
    place (not by name: the student's process reports which), or what came back was not an answer."""
    fn = case.function
    wrong = [o.name for o in case.outputs if not o.ok]
    if wrong:
        also = "; it also changed its input(s) in place" if "; it also changed its input" in case.message else ""
        return f"wrong {', '.join(wrong)}{also}"
    if case.outputs:                   # every output right: failed only for changing an input
        return (f"{fn} changed its input(s) in place; its outputs are right, but it must leave its inputs as they "
                "were: work on copies or write new arrays")
    if "an answer may take" in case.message:
        return f"{fn} returned more than an answer may take"
    if case.message.startswith(f"{fn} returned "):
        return f"{fn} did not return the values its cases expect (the wrong number of values?)"
    return "wrong answer"


def _hidden_error(case: CaseResult) -> str:
    """A hidden case with status ERROR: an exception (not which: the name of its class is the
    student's to choose, a class of theirs named after one of Python's 96 built-in types carried 6.6
    bits of the case's inputs), an import that failed, or a name its cases call that is not defined."""
    fn, message = case.function, case.message
    if case.exception or message.startswith(f"{fn} raised "):
        return f"{fn} raised an exception"
    if message.startswith("the grader failed on this submission"):     # its own exception's text is not shown either
        return "the grader failed on this submission; please tell your instructor"
    if "not found in the submission" in message:
        return f"the file {fn} should be in is not in the submission"
    if UNIMPORTED in message:
        return "your code could not be imported (the public cases show why)"
    if message.startswith(f"what {fn} made has no "):
        return f"what {fn} made lacks a method or attribute its cases use"
    if message.startswith(f"{fn} is not defined"):
        return f"{fn} is not defined (is it in the file and named as in the assignment?)"
    if message.startswith(f"{fn} is a "):
        return f"{fn} is not a function (is that name used for something else too?)"
    if "is not defined" in message or "not a function" in message:
        return f"a function {fn}'s cases call is not defined"
    return f"{fn} could not be run on this case (the public cases show why)"


def _probably(case: CaseResult) -> str:
    return f"Probably: {case.diagnosis}" if case.diagnosis else ""


def _case_report(cases: list[CaseResult], hidden: bool, graded: frozenset = frozenset()) -> str:
    failing = [c for c in cases if c.status != PASSED]
    lines = [f"{len(cases) - len(failing)} of {len(cases)} cases passed."]
    for case in failing[:MAX_CASES_SHOWN]:
        lines.append("")
        if hidden:
            # Only what the student may know: no seed, no inputs, no details, no printed output.
            lines.append(f"{case.case_id}: {status_text(case)}")
            lines += indent_lines(_hidden_message(case, graded), 2) + indent_lines(_probably(case), 2)
            continue
        lines.append(f"{case_label(case)}: {status_text(case)}")
        lines += indent_lines(case.message, 2) + indent_lines(_probably(case), 2) + indent_lines(case.details, 2)
        if case.stdout.strip():
            lines += ["  your code printed:"] + indent_lines(clip_printed(case.stdout), 4)
    if len(failing) > MAX_CASES_SHOWN:
        lines += ["", "also failing: " + ", ".join(c.case_id for c in failing[MAX_CASES_SHOWN:])]
    return "\n".join(lines)


_WHEN = {"after_due_date": "after the due date", "after_published": "once the grades are published",
         "hidden": "to your instructor only"}


def _summary(result: SubmissionResult, hidden_visibility: str = "visible") -> str:
    """The summary every student sees at once: how many hidden cases passed only where the hidden
    groups are shown at once too (else a submission that passes or fails hidden cases by their
    inputs reads a few bits of them before publishing)."""
    public = result.public
    lines = [f"{public.passed} of {public.total} public cases passed."]
    hidden = result.hidden
    if hidden is not None and hidden_visibility == "visible":
        lines.append(f"{hidden.passed} of {hidden.total} hidden cases passed.")
    elif hidden is not None:
        # A check's verdict waits for a hidden case the function passes (else a table of the public
        # answers earns it): the checks are shown with the hidden cases, or their verdicts would
        # say whether some hidden case passed (a fifteenth red team read a bit of hidden inputs so)
        checks = " and the checks" if any(fn.checks for fn in result.functions) else ""
        lines.append(f"The {hidden.total} hidden cases{checks} were run: their results are shown "
                     f"{_WHEN[hidden_visibility]}.")
    elif result.hidden_points:
        lines.append(f"Hidden cases (worth {result.hidden_points:g} points) were not run.")
    if result.stdout.strip():                    # no case's input is involved in what importing printed
        lines += ["", "Printed while importing your code:", *indent_lines(clip_printed(result.stdout), 2)]
    return "\n".join(lines)

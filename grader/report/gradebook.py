"""The class gradebook: one CSV row of points per student, ready for a spreadsheet or an LMS import.

    write_gradebook(results, "graded/gradebook.csv")

Columns: `student`, one per graded function (points earned, hidden cases included when they were
graded), `total`, `max`, `percent` (0-100) and `status` (submission_status). As in Otter's
final_grades.csv, the first data row holds the points possible (student `max`, status `--`), so a
reader sees what each column is out of without the spec.
"""
from __future__ import annotations

import csv
import io
import os

from grader.results import CRASHED, ERROR, NOT_IMPLEMENTED, TIMEOUT, SubmissionResult
from grader.report.atomic import write_atomic
from grader.report.cells import spreadsheet_rows
from grader.report.terminal import points

MAX_ROW = "Points Possible"        # as Canvas names it; no student id has a space, so none can be taken for it

# submission_status values, worst first: a timeout or a crash hides whatever else went wrong.
STATUS_TIMEOUT = "timeout"
STATUS_CRASHED = "crashed"
STATUS_ERROR = "error"               # no case produced an answer: import error, untouched handout
STATUS_OK = "ok"                     # the code ran and answered; wrong answers are in the points


def submission_status(result: SubmissionResult) -> str:
    """One word for how a submission ran: "timeout", "crashed", "error" or "ok".

        submission_status(result)   # "error" when every case raised or is not implemented

    It says whether the grader could judge the code at all, not whether it is right: a
    submission with only wrong answers is "ok" and its points say the rest.
    """
    statuses = {case.status for case in result.cases()}
    if TIMEOUT in statuses:
        return STATUS_TIMEOUT
    if CRASHED in statuses:
        return STATUS_CRASHED
    if statuses <= {ERROR, NOT_IMPLEMENTED}:     # also a result with no cases: nothing was judged
        return STATUS_ERROR
    return STATUS_OK



def function_names(results: list[SubmissionResult]) -> list[str]:
    """Graded functions in the first result's order; any other result's extras after them."""
    names: dict[str, None] = {}
    for result in results:
        names.update((fn.name, None) for fn in result.functions)
    return list(names)


def gradebook_rows(results: list[SubmissionResult]) -> list[list[str]]:
    """The CSV as rows of strings: header, the maximum points row (MAX_ROW), then one row per student in the given order."""
    names = function_names(results)
    # The maximum points row takes each function's largest possible over the class, so a student whose
    # hidden cases were not graded does not shrink it; each student's own `max` says theirs.
    possible = {name: max((fn.possible for r in results for fn in r.functions if fn.name == name), default=0.0)
                for name in names}
    top = sum(possible.values())
    rows = [["student", *names, "total", "max", "percent", "status"],
            [MAX_ROW, *(points(possible[n]) for n in names), points(top), points(top), f"{100:.2f}", "--"]]
    for result in results:
        earned = {fn.name: fn.earned for fn in result.functions}
        rows.append([result.label, *(points(earned.get(n, 0.0)) for n in names),
                     points(result.earned), points(result.possible), percent(result.earned, result.possible),
                     submission_status(result)])
    return rows


def render_gradebook(results: list[SubmissionResult]) -> str:
    """The gradebook as CSV text."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(spreadsheet_rows(gradebook_rows(results)))
    return buffer.getvalue()


def write_gradebook(results: list[SubmissionResult], path: str | os.PathLike[str]) -> None:
    """Write the gradebook to `path`; readers never see a half-written file."""
    write_atomic(path, render_gradebook(results).encode("utf-8"))


def percent(earned: float, possible: float) -> str:
    """earned/possible on 0-100 with 2 decimals; 0.00 when nothing was possible."""
    return f"{100 * earned / possible:.2f}" if possible else "0.00"

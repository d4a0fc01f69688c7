"""The Markdown summary, for a CI job's page: GitHub Actions shows it under the run as the job summary.

    write_summary(result, "summary.md")                       # grader check --summary summary.md
    append_summary(result, os.environ["GITHUB_STEP_SUMMARY"])  # what grader check does in Actions

A heading with the assignment and the points, a table of functions (cases passed, points), the
line saying whether hidden cases ran, then for each failing function what the terminal report
says about it: the case, its seed and sizes, what is wrong and where, and the diagnosis. Which
cases are shown is the terminal's choice (terminal.failures), so the two never disagree. A
passing submission gets the heading, the table and one line.

Text that comes from the student's code (messages, tracebacks, what it printed) goes into
fenced code blocks, so that nothing in it is read as Markdown or HTML.
"""
from __future__ import annotations

import os
import re

from grader.results import FunctionResult, SubmissionResult
from grader.run.protocol import printable_text
from grader.report.atomic import write_atomic
from grader.report.terminal import case_label, case_list, check_line, clip_printed, failures, points, status_text, summary_line

PASS, FAIL = "✅", "❌"


def render(result: SubmissionResult) -> str:
    """The summary as Markdown (GitHub's dialect: tables and <details>)."""
    mark = PASS if result.all_passed else FAIL
    lines = [f"## {mark} {result.assignment}: {points(result.earned)}/{points(result.possible)} points", "",
             summary_line(result)]
    if result.sandbox_warning:
        lines += ["", f"> **Warning:** {result.sandbox_warning}"]
    with_checks = any(fn.checks for fn in result.functions)
    lines += ["", "| | function | cases passed |" + (" checks passed |" if with_checks else "") + " points |",
              "| :-: | --- | --: |" + (" --: |" if with_checks else "") + " --: |"]
    for fn in result.functions:
        passed = sum(c.passed for c in fn.cases)
        checks = f" {sum(c.passed for c in fn.checks)}/{len(fn.checks)} |" if with_checks else ""
        lines.append(f"| {PASS if _all_passed(fn) else FAIL} | `{fn.name}` | {passed}/{len(fn.cases)} |{checks} "
                     f"{points(fn.earned)}/{points(fn.possible)} |")
    if result.stdout.strip():
        lines += [""] + _folded("Printed while importing your code", clip_printed(result.stdout))
    for fn in result.functions:
        if not _all_passed(fn):
            lines += [""] + _function(fn)
    return "\n".join(lines) + "\n"


def write_summary(result: SubmissionResult, path: str | os.PathLike[str]) -> None:
    """Write the summary to `path`, replacing it; readers never see a half-written file."""
    write_atomic(path, render(result).encode("utf-8"))


def append_summary(result: SubmissionResult, path: str | os.PathLike[str]) -> None:
    """Add the summary to the end of `path`, as GitHub Actions wants: several steps may write there."""
    append_markdown(render(result), path)


def render_error(message: str) -> str:
    """The summary of a run that graded nothing (a usage or spec error): the one-line reason."""
    return "\n".join([f"## {FAIL} grader: nothing was graded", "", *_fenced(message)]) + "\n"


def append_markdown(text: str, path: str | os.PathLike[str]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        if f.tell() > 0:
            text = "\n" + text           # a blank line after what an earlier step wrote
        f.write(text)


def _function(fn: FunctionResult) -> list[str]:
    digest = failures(fn)
    passed = sum(c.passed for c in fn.cases)
    out = [f"### {FAIL} `{fn.name}`: {passed}/{len(fn.cases)} cases passed, "
           f"{points(fn.earned)}/{points(fn.possible)} points"]
    for case in digest.shown:
        first = case is digest.shown[0]
        what = "\n".join(part for part in (case.message, case.details if first else "") if part.strip())
        out += ["", f"**{case_label(case)}**: {status_text(case)}"] + (["", *_fenced(what)] if what else [])
        if case.case_id in digest.diagnoses:
            out += ["", f"**Probably:** {case.diagnosis}"]
        if first and case.stdout.strip():
            out += [""] + _folded("Your code printed", clip_printed(case.stdout))
    if digest.same:
        out += ["", f"The same on {case_list(digest.same)}."]
    if digest.more:
        out += ["", f"Also failing: {case_list(digest.more)}."]
    for check in fn.checks:
        if not check.passed:
            out += ["", f"**{check_line(check)}**", "", *_fenced("\n".join(x for x in (check.message, check.details) if x))]
    return out


def _all_passed(fn: FunctionResult) -> bool:
    return all(c.passed for c in fn.cases) and all(c.passed for c in fn.checks)


def _fenced(text: str) -> list[str]:
    """A code block that `text` cannot close: its fence is longer than any run of backticks in it."""
    text = printable_text(text)          # colours, cursor codes, NUL and the like: a result read back may hold them
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, *text.splitlines(), fence]


def _folded(title: str, text: str) -> list[str]:
    return [f"<details><summary>{title}</summary>", "", *_fenced(text), "", "</details>"]

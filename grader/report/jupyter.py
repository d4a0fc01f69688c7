"""The rich display of `grader.check` in Jupyter: per function, a table of its public cases.

    html = render(result)            # what check(...)._repr_html_() returns

The sentence that only public cases ran, then per function a heading with its points and one
row per case: its id, seed and sizes, its status, what is wrong (worst element, expected vs got,
where in the student's code) and the diagnosis; then the function's checks beyond the outputs.
Which failing case is shown in full and where each diagnosis is said is the terminal's choice
(terminal.failures), as in the Markdown summary, so the reports never disagree.

Every piece of text is escaped: messages carry what the student's code raised and printed.
Styles are inline: Jupyter shows the HTML inside its own page, where a <style> would leak.
"""
from __future__ import annotations

from html import escape

from grader.results import CaseResult, CheckResult, FunctionResult, SubmissionResult, show_dims
from grader.report.terminal import Failures, clip_printed, failures, points, status_text, summary_line

PUBLIC_ONLY = "Public cases only: hidden cases are run when your work is graded."
OK, BAD, MUTED = "#1a7f37", "#b42318", "#57606a"
_TABLE = "border-collapse: collapse; margin: 4px 0 10px; font-size: 13px;"
_CELL = "border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top;"
_PRE = "white-space: pre-wrap; margin: 0; font-size: 12px; background: none;"
_CASE_COLUMNS = ("case", "seed", "sizes", "status", "what is wrong", "probably")
_CHECK_COLUMNS = ("check", "status", "points", "what is wrong")


def render(result: SubmissionResult) -> str:
    """The feedback on the functions in `result` as one HTML fragment."""
    out = ['<div class="grader-check">',
           f'<div style="color: {MUTED}">grader {escape(result.grader_version)}: {escape(result.assignment)}, '
           f'{escape(result.submission)}</div>',
           f"<p><b>{escape(PUBLIC_ONLY)}</b></p>"]
    if result.sandbox_warning:
        out.append(f'<p style="color: #8a4b00">Warning: {escape(result.sandbox_warning)}</p>')
    if result.stdout.strip():
        out.append(_folded("Printed while importing your code", clip_printed(result.stdout)))
    for fn in result.functions:
        out += _function(fn)
    out += [f"<p>{escape(summary_line(result))}</p>", "</div>"]
    return "\n".join(out)


def render_error(message: str) -> str:
    """What check shows when nothing was graded: the one-line reason."""
    return (f'<div class="grader-check"><b style="color: {BAD}">grader: nothing was checked</b>'
            f'<pre style="{_PRE}">{escape(message)}</pre></div>')


def _function(fn: FunctionResult) -> list[str]:
    digest = failures(fn)
    passed = sum(c.passed for c in fn.cases)
    ok = passed == len(fn.cases) and all(c.passed for c in fn.checks)
    checks = f", {sum(c.passed for c in fn.checks)}/{len(fn.checks)} checks passed" if fn.checks else ""
    out = [f'<h4 style="margin: 12px 0 4px">{_mark(ok)} <code>{escape(fn.name)}</code>: {passed}/{len(fn.cases)} '
           f"cases passed{checks}, {points(fn.earned)}/{points(fn.possible)} points</h4>",
           _table(_CASE_COLUMNS, [_case_row(case, digest) for case in fn.cases])]
    if fn.checks:
        out.append(_table(_CHECK_COLUMNS, [_check_row(check) for check in fn.checks]))
    return out


def _case_row(case: CaseResult, digest: Failures) -> list[str]:
    note = f'<br><span style="color: {MUTED}">{escape(case.note)}</span>' if case.note else ""
    sizes = show_dims(case.dims)
    return [escape(case.case_id) + note, str(case.seed), escape(sizes), _status(case.passed, status_text(case)),
            _what(case, digest), escape(digest.diagnoses.get(case.case_id, ""))]


def _what(case: CaseResult, digest: Failures) -> str:
    """The case's message; for the first failure its details and printed output too, as the terminal."""
    if case.passed:
        return ""
    if case in digest.same:
        return f"the same as {escape(digest.shown[0].case_id)}"
    first = bool(digest.shown) and case is digest.shown[0]
    text = "\n".join(part for part in (case.message, case.details if first else "") if part.strip())
    html = f'<pre style="{_PRE}">{escape(text)}</pre>' if text else ""
    if first and case.stdout.strip():
        html += _folded("your code printed", clip_printed(case.stdout))
    return html


def _check_row(check: CheckResult) -> list[str]:
    text = "\n".join(part for part in (check.message, check.details) if part.strip())
    return [escape(check.name), _status(check.passed, status_text(check)),
            f"{points(check.earned)}/{points(check.possible)}", f'<pre style="{_PRE}">{escape(text)}</pre>' if text else ""]


def _table(columns: tuple, rows: list[list[str]]) -> str:
    """A table whose cells are HTML already escaped by the caller."""
    head = "".join(f'<th style="{_CELL}">{escape(c)}</th>' for c in columns)
    body = "".join("<tr>" + "".join(f'<td style="{_CELL}">{cell}</td>' for cell in row) + "</tr>" for row in rows)
    return f'<table style="{_TABLE}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _status(passed: bool, text: str) -> str:
    return f'<span style="color: {OK if passed else BAD}; font-weight: 600">{escape(text)}</span>'


def _mark(ok: bool) -> str:
    return f'<span style="color: {OK if ok else BAD}">{"ok" if ok else "FAIL"}</span>'


def _folded(title: str, text: str) -> str:
    return f'<details><summary>{escape(title)}</summary><pre style="{_PRE}">{escape(text)}</pre></details>'

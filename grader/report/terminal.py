"""The terminal summary: what a student reads at 2 a.m. to decide what to fix next.

For each function: cases passed and points; for each failing case its id, seed and inputs,
what is wrong (worst element, expected vs got), where in their file, and what they printed.
It never says "all tests passed" when hidden cases were not run.
"""
from __future__ import annotations

from ..results import PASSED, CaseResult, FunctionResult, SubmissionResult

MAX_PRINTED_LINES = 8
MAX_CASES_SHOWN = 3                  # failing cases shown in full per function; the rest in one line


def render(result: SubmissionResult, verbose: bool = False) -> str:
    lines = [f"grader {result.grader_version}: {result.assignment}, {result.submission}"]
    if result.sandbox_warning:
        lines.append(f"Warning: {result.sandbox_warning}")
    if not result.hidden_graded and (result.hidden_points or result.hidden_available):
        lines.append("Public cases only: hidden cases are run when your work is graded.")
    if result.stdout.strip():
        lines += ["", "Printed while importing your code:"] + indent_lines(clip_printed(result.stdout), 2)
    lines.append("")
    for fn in result.functions:
        block = _function(fn, verbose)
        if len(block) > 1 and lines[-1]:
            lines.append("")             # a failing function stands apart from its neighbours
        lines += block + ([""] if len(block) > 1 else [])
    if lines[-1]:
        lines.append("")
    lines.append(_summary(result))
    return "\n".join(lines) + "\n"


def _function(fn: FunctionResult, verbose: bool) -> list[str]:
    cases = fn.cases
    passed = sum(c.passed for c in cases)
    checks_passed = sum(c.passed for c in fn.checks)
    earned, possible = fn.earned, fn.possible
    mark = "ok  " if passed == len(cases) and checks_passed == len(fn.checks) else "FAIL"
    checks = f", {checks_passed}/{len(fn.checks)} checks passed" if fn.checks else ""
    head = f"{mark} {fn.name}: {passed}/{len(cases)} cases passed{checks}, {_pts(earned)}/{_pts(possible)} points"
    out = [head]
    first = None
    same, more, shown = [], [], 0
    told = set()                         # each diagnosis is said once per function
    for case in cases:
        if case.status == PASSED:
            if verbose:
                out.append(f"     {_label(case)}: passed")
            continue
        if first is not None and case.status == first.status and case.message == first.message:
            same.append(f"{case.case_id} (seed {case.seed})")
            continue
        if shown >= MAX_CASES_SHOWN:
            more.append(f"{case.case_id} (seed {case.seed})")
            continue
        shown += 1
        out.append(f"     {_label(case)}: {case.status.replace('_', ' ')}")
        out += indent_lines(case.message, 8)
        if case.diagnosis and case.diagnosis not in told:
            out += indent_lines("Probably: " + case.diagnosis, 8)
            told.add(case.diagnosis)
        if first is None:                # the first failure in full; the others in one line each
            first = case
            if case.details:
                out += indent_lines(case.details, 8)
            if case.stdout.strip():
                out += [" " * 8 + "your code printed:"] + indent_lines(clip_printed(case.stdout), 10)
    if same:
        out.append(f"     the same on {', '.join(same)}")
    if more:
        out.append(f"     also failing: {', '.join(more)}")
    for check in fn.checks:
        if check.passed and not verbose:
            continue
        out.append(f"     check {check.name}: {check.status} ({_pts(check.earned)}/{_pts(check.possible)} "
                   f"point{'s' if check.possible != 1 else ''})")
        out += indent_lines(check.message, 8) + indent_lines(check.details, 8)
    printed = next((c for c in cases if c.stdout.strip()), None)
    if first is None and printed is not None:      # all passed, but the student printed: show where
        out.append(f"     your code printed in {printed.case_id}:")
        out += indent_lines(clip_printed(printed.stdout), 8)
    return out


def _label(case: CaseResult) -> str:
    inputs = ", ".join(f"{k}={v}" for k, v in case.dims.items())
    note = f", {case.note}" if case.note else ""
    return f"{case.case_id} (seed {case.seed}{', ' + inputs if inputs else ''}{note})"


def _summary(result: SubmissionResult) -> str:
    cases, checks = result.cases(), result.checks()
    passed = sum(c.passed for c in cases)
    scope = "public and hidden" if result.hidden_graded else "public"
    if result.all_passed:
        head = f"All {len(cases)} {scope} cases" + (f" and {len(checks)} checks" if checks else "") + " passed"
    else:
        head = f"{passed} of {len(cases)} {scope} cases" + (
            f" and {sum(c.passed for c in checks)} of {len(checks)} checks" if checks else "") + " passed"
    text = f"{head}: {_pts(result.earned)}/{_pts(result.possible)} points."
    if not result.hidden_graded and result.hidden_points:
        text += f" Hidden cases, worth {_pts(result.hidden_points)} more points, are not run here."
    elif not result.hidden_graded:
        text += " Hidden cases, if any, are not run here."
    return text


def _pts(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))


def clip_printed(text: str) -> str:
    """What a student printed, cut to a few lines of bounded length."""
    lines = text.rstrip("\n").splitlines()
    if len(lines) > MAX_PRINTED_LINES:
        lines = lines[:MAX_PRINTED_LINES] + [f"[... {len(lines) - MAX_PRINTED_LINES} more lines]"]
    return "\n".join(line if len(line) <= 200 else line[:200] + "..." for line in lines)


def indent_lines(text: str, n: int) -> list[str]:
    return [" " * n + line for line in text.splitlines() if line.strip()]

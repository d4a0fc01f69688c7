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
    earned, possible = fn.earned, fn.possible
    mark = "ok  " if passed == len(cases) else "FAIL"
    head = f"{mark} {fn.name}: {passed}/{len(cases)} cases passed, {_pts(earned)}/{_pts(possible)} points"
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
        # the first failure in full; the others without details; each diagnosis said once
        out += ["     " + line for line in case_lines(case, full=first is None, diagnosis=case.diagnosis not in told)]
        told.add(case.diagnosis)
        first = first or case
    if same:
        out.append(f"     the same on {', '.join(same)}")
    if more:
        out.append(f"     also failing: {', '.join(more)}")
    printed = next((c for c in cases if c.stdout.strip()), None)
    if first is None and printed is not None:      # all passed, but the student printed: show where
        out.append(f"     your code printed in {printed.case_id}:")
        out += indent_lines(clip_printed(printed.stdout), 8)
    return out


def case_lines(case: CaseResult, full: bool = True, diagnosis: bool = True) -> list[str]:
    """A failing case as the terminal shows it, unindented: the case, what is wrong, the mistake
    it matches (`diagnosis`), and (`full`) where in the student's file and what their code printed.

        public-1 (seed 1, N=14, D=6, C=8): failed
           dW: relative error 2 at [0, 6]: expected 0.023662858, got -0.024025217 (tolerance 1e-06)
           Probably: dW has `reg * W` where it needs `2 * reg * W`: ...

    The pytest plugin's failure text is this block too.
    """
    out = [f"{_label(case)}: {case.status.replace('_', ' ')}"]
    out += indent_lines(case.message, 3)
    if diagnosis and case.diagnosis:
        out += indent_lines("Probably: " + case.diagnosis, 3)
    if full and case.details:
        out += indent_lines(case.details, 3)
    if full and case.stdout.strip():
        out += ["   your code printed:"] + indent_lines(clip_printed(case.stdout), 5)
    return out


def _label(case: CaseResult) -> str:
    inputs = ", ".join(f"{k}={v}" for k, v in case.dims.items())
    note = f", {case.note}" if case.note else ""
    return f"{case.case_id} (seed {case.seed}{', ' + inputs if inputs else ''}{note})"


def _summary(result: SubmissionResult) -> str:
    counts = result.counts()
    scope = "public and hidden" if result.hidden_graded else "public"
    if result.all_passed:
        head = f"All {counts['tests']} {scope} cases passed"
    else:
        head = f"{counts['passed']} of {counts['tests']} {scope} cases passed"
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

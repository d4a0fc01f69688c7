"""The terminal summary: what a student reads at 2 a.m. to decide what to fix next.

For each function: cases passed and points; for each failing case its id, seed and inputs,
what is wrong (worst element, expected vs got), where in their file, and what they printed.
It never says "all tests passed" when hidden cases were not run.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from grader.results import ERROR, UNIMPORTED, CaseResult, CheckResult, FunctionResult, SubmissionResult, show_dims
from grader.run.protocol import printable_text

_LINE_BREAKS = re.compile("[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")

MAX_PRINTED_LINES = 8
MAX_CASES_SHOWN = 3                  # failing cases shown in full per function; the rest in one line
MORE_DIAGNOSES = 2                   # ... but for this many more, each naming a mistake not said yet


def render(result: SubmissionResult, verbose: bool = False) -> str:
    # One line, whatever the folder's name holds: a name with line breaks in it (an export that keeps
    # them) wrote "All 40 public and hidden cases passed: 20/20 points." atop a 5.5/20 student's feedback.
    where = _LINE_BREAKS.sub(lambda m: repr(m.group())[1:-1], str(result.submission))
    lines = [f"grader {result.grader_version}: {result.assignment}, {where}"]
    if result.sandbox_warning:
        lines.append(f"Warning: {result.sandbox_warning}")
    if not result.hidden_graded and (result.hidden_points or result.hidden_available):
        lines.append("Public cases only: hidden cases are run when your work is graded.")
    if result.stdout.strip():
        lines += ["", "Printed while importing your code:"] + indent_lines(clip_printed(result.stdout), 2)
    lines.append("")
    unimported = _unimported(result)
    for file, error, details, count in unimported.values():
        lines += [f"{file} could not be imported, so none of the {count} functions in it could run:"]
        lines += indent_lines(error, 5) + indent_lines(details, 5) + [""]
    for fn in result.functions:
        if fn.cases and fn.cases[0].message in unimported and all(c.message == fn.cases[0].message for c in fn.cases):
            checks = f", 0/{len(fn.checks)} checks passed" if fn.checks else ""
            lines.append(f"FAIL {fn.name}: 0/{len(fn.cases)} cases passed{checks}, {points(fn.earned)}/{points(fn.possible)} "
                         f"points: not run, as {unimported[fn.cases[0].message][0]} could not be imported (above)")
            continue
        block = _function(fn, verbose)
        if len(block) > 1 and lines[-1]:
            lines.append("")             # a failing function stands apart from its neighbours
        lines += block + ([""] if len(block) > 1 else [])
    if lines[-1]:
        lines.append("")
    lines.append(summary_line(result))
    # Cleaned whole: the child's text is cleaned when it arrives, but the grader's own messages quote
    # the submission too (a line of code, a file's name), and an escape sequence in one could redraw
    # the report as a pass.
    return printable_text("\n".join(lines) + "\n")


def _unimported(result: SubmissionResult) -> dict[str, tuple[str, str, str, int]]:
    """{message: (file, why, details, how many functions)} of a module that could not be imported
    (results.UNIMPORTED), where every case of two functions or more says so alike: said once, above
    them, rather than under each (an IndentationError repeated under 17 functions took 129 lines)."""
    found: dict[str, list] = {}
    for fn in result.functions:
        first = fn.cases[0] if fn.cases else None
        if first is None or first.status != ERROR or UNIMPORTED not in first.message \
                or any(c.status != ERROR or c.message != first.message for c in fn.cases):
            continue
        found.setdefault(first.message, [*first.message.split(UNIMPORTED, 1), first.details, 0])[3] += 1
    return {message: tuple(entry) for message, entry in found.items() if entry[3] >= 2}


def _function(fn: FunctionResult, verbose: bool) -> list[str]:
    cases = fn.cases
    passed = sum(c.passed for c in cases)
    checks_passed = sum(c.passed for c in fn.checks)
    mark = "ok  " if passed == len(cases) and checks_passed == len(fn.checks) else "FAIL"
    checks = f", {checks_passed}/{len(fn.checks)} checks passed" if fn.checks else ""
    out = [f"{mark} {fn.name}: {passed}/{len(cases)} cases passed{checks}, {points(fn.earned)}/{points(fn.possible)} points"]
    digest = failures(fn)
    detailed: set[str] = set()
    for case in cases:
        if case.passed and verbose:
            out.append(f"     {case_label(case)}: passed")
        if case in digest.same and verbose:             # in its place: after a passed line, "the same" would read as it
            out.append(f"     {case_label(case)}: {status_text(case)}, as {digest.shown[0].case_id}")
        if case not in digest.shown:
            continue
        # the first failure of each kind in full (a wrong value's hint, an exception's file and line),
        # the others without details; each diagnosis said once
        full = case.status not in detailed
        detailed.add(case.status)
        lines = case_lines(case, full=full, diagnosis=case.case_id in digest.diagnoses)
        out += ["     " + line for line in lines]
    if digest.same and not verbose:
        out.append(f"     the same on {case_list(digest.same)}")
    if digest.more:
        out.append(f"     also failing: {case_list(digest.more)}")
    for check in fn.checks:
        if check.passed and not verbose:
            continue
        out += ["     " + line for line in check_lines(check)]
    if digest.printed is not None:       # all passed, but the student printed: show where
        out.append(f"     your code printed in {digest.printed.case_id}:")
        out += indent_lines(clip_printed(digest.printed.stdout), 8)
    return out


def case_lines(case: CaseResult, full: bool = True, diagnosis: bool = True) -> list[str]:
    """A failing case as the terminal shows it, unindented: the case, what is wrong, the mistake
    it matches (`diagnosis`), and (`full`) where in the student's file and what their code printed.

        public-1 (seed 1, N=14, D=6, C=8): failed
           dW: relative error 2 at [0, 6]: expected 0.023662858, got -0.024025217 (tolerance 1e-06; 48 of 48 values are outside it)
           Probably: dW has `reg * W` where it needs `2 * reg * W`: ...

    The pytest plugin's failure text is this block too.
    """
    out = [f"{case_label(case)}: {status_text(case)}"] + indent_lines(case.message, 3)
    if diagnosis and case.diagnosis:
        out += indent_lines("Probably: " + case.diagnosis, 3)
    if full and case.details:
        out += indent_lines(case.details, 3)
    if full and case.stdout.strip():
        out += ["   your code printed:"] + indent_lines(clip_printed(case.stdout), 5)
    return out


def check_lines(check: CheckResult) -> list[str]:
    """A check as the terminal shows it, unindented: 'check gradient: failed (0/1 point)', then
    what is wrong and where. The pytest plugin's failure text for a check."""
    return [check_line(check)] + indent_lines(check.message, 3) + indent_lines(check.details, 3)


@dataclass
class Failures:
    """Which failing cases of one function a report shows, and how; the terminal and Markdown reports share it.

        digest = failures(fn)
        first = digest.shown[0] if digest.shown else None     # shown with details and printed output

    A case that fails exactly as the first one did (status and message) is only listed, in
    `same`; past `limit` shown cases, the rest are listed in `more`, but for up to
    MORE_DIAGNOSES cases whose diagnosis names another mistake than those shown (numbers aside):
    a second mistake found only on a hidden case was said in the JSON alone (a twelfth students'
    round). Each diagnosis is said once per function, with the first shown case that has it
    (`diagnoses`: case id -> sentence).
    """

    shown: list[CaseResult] = field(default_factory=list)
    diagnoses: dict[str, str] = field(default_factory=dict)
    same: list[CaseResult] = field(default_factory=list)
    more: list[CaseResult] = field(default_factory=list)
    printed: CaseResult | None = None   # every case passed, but this one printed something


def failures(fn: FunctionResult, limit: int = MAX_CASES_SHOWN) -> Failures:
    digest = Failures()
    for case in fn.cases:
        if case.passed:
            continue
        first = digest.shown[0] if digest.shown else None
        if first is not None and case.status == first.status and case.message == first.message:
            digest.same.append(case)
        elif len(digest.shown) >= limit and not (len(digest.shown) < limit + MORE_DIAGNOSES and _new_mistake(case, digest)):
            digest.more.append(case)
        else:
            digest.shown.append(case)
            if case.diagnosis and case.diagnosis not in digest.diagnoses.values():
                digest.diagnoses[case.case_id] = case.diagnosis
    if not digest.shown:
        digest.printed = next((c for c in fn.cases if c.stdout.strip()), None)
    return digest


def _new_mistake(case: CaseResult, digest: Failures) -> bool:
    """Whether a case's diagnosis names another kind of mistake than those already shown: its words
    before the first colon, numbers aside ("Only a factor is off: `dW` is 7 times ..." on one case
    and "...: `dW` is N times ..." on another is one mistake; "exp() overflows ..." is another)."""
    key = lambda text: re.sub(r"\d[\d.e+-]*", "#", text.split(":", 1)[0])
    return bool(case.diagnosis) and key(case.diagnosis) not in {key(d) for d in digest.diagnoses.values()}


def case_label(case: CaseResult) -> str:
    """`public-1 (seed 1, N=14, D=6, note)`: which case, and enough to rebuild its inputs."""
    inputs = show_dims(case.dims)
    note = f", {case.note}" if case.note else ""
    return f"{case.case_id} (seed {case.seed}{', ' + inputs if inputs else ''}{note})"


def case_list(cases: list[CaseResult]) -> str:
    return ", ".join(f"{case.case_id} (seed {case.seed})" for case in cases)


def status_text(item: CaseResult | CheckResult) -> str:
    """'not implemented', 'timeout', ...; a check that could not be judged (ERROR) is 'not judged':
    for a check, "error" read as if the student's code had broken it, when most often its function
    does not work yet."""
    if isinstance(item, CheckResult) and item.status == ERROR:
        return "not judged"
    return item.status.replace("_", " ")


def check_line(check: CheckResult) -> str:
    """'check gradient: failed (0/1 point)'"""
    return (f"check {check.name}: {status_text(check)} ({points(check.earned)}/{points(check.possible)} "
            f"point{'s' if check.possible != 1 else ''})")


def summary_line(result: SubmissionResult) -> str:
    """The last line: cases and checks passed and points, and whether hidden cases were run."""
    cases, checks = result.cases(), result.checks()
    passed = sum(c.passed for c in cases)
    scope = "public and hidden" if result.hidden_graded else "public"
    if result.all_passed:
        head = f"All {len(cases)} {scope} cases" + (f" and {len(checks)} checks" if checks else "") + " passed"
    else:
        head = f"{passed} of {len(cases)} {scope} cases" + (
            f" and {sum(c.passed for c in checks)} of {len(checks)} checks" if checks else "") + " passed"
    text = f"{head}: {points(result.earned)}/{points(result.possible)} points."
    if not result.hidden_graded and result.hidden_points:
        text += f" Hidden cases, worth {points(result.hidden_points)} more points, are not run here."
    elif not result.hidden_graded:
        text += " Hidden cases, if any, are not run here."
    return text


def points(x: float) -> str:
    """Points with at most 4 decimals and no trailing zeros, as the gradebook has them: 5, 0.5, 16.125,
    3.3333 (two decimals showed 16.125 as 16.12 here and 16.125 in the gradebook, an eighth students'
    round found)."""
    text = f"{x:.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def clip_printed(text: str) -> str:
    """What a student printed, cut to a few lines of bounded length."""
    lines = text.rstrip("\n").splitlines()
    if len(lines) > MAX_PRINTED_LINES:
        lines = lines[:MAX_PRINTED_LINES] + [f"[... {len(lines) - MAX_PRINTED_LINES} more lines]"]
    return "\n".join(line if len(line) <= 200 else line[:200] + "..." for line in lines)


def indent_lines(text: str, n: int) -> list[str]:
    return [" " * n + line for line in text.splitlines() if line.strip()]

"""Pure scoring: case results in, points out. Public and hidden points are kept apart.

A function's points for one visibility are shared in proportion to the cases passed, or given
only when every case passed if the spec says `all_or_nothing: true`.
"""
from __future__ import annotations

from grader.results import HIDDEN, PUBLIC, CaseResult, Score


def score_cases(points: float, cases: list[CaseResult], all_or_nothing: bool = False) -> Score:
    total = len(cases)
    passed = sum(case.passed for case in cases)
    if total == 0:
        earned = 0.0
    elif all_or_nothing:
        earned = float(points) if passed == total else 0.0
    else:
        earned = float(points) * passed / total
    return Score(earned=earned, possible=float(points), passed=passed, total=total)


def score_function(points_public: float, points_hidden: float, cases: list[CaseResult],
                   all_or_nothing: bool = False) -> tuple[Score, Score]:
    public = [c for c in cases if c.visibility == PUBLIC]
    hidden = [c for c in cases if c.visibility == HIDDEN]
    return (score_cases(points_public, public, all_or_nothing),
            score_cases(points_hidden, hidden, all_or_nothing))

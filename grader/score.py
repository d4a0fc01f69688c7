"""Pure scoring: case results in, points out. Public and hidden points are kept apart.

A function's points for one visibility are shared in proportion to the cases passed, or given
only when every case passed if the spec says `all_or_nothing: true`.
"""
from __future__ import annotations

from grader.results import HIDDEN, PUBLIC, CaseResult, Score, SubmissionResult


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


def class_mean(results: list[SubmissionResult]) -> tuple[float, int] | None:
    """The mean percent of a class, over the submissions that could earn points, and how many those are.

    A submission worth 0 points (nothing of it could be graded for points) has no percent: counted
    as 0% it would pull the mean down, as 100% up. None when no submission could earn any."""
    percents = [100 * r.earned / r.possible for r in results if r.possible]
    return (sum(percents) / len(percents), len(percents)) if percents else None

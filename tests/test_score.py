"""Scoring is pure: points in proportion to cases passed, or all-or-nothing; public and hidden apart."""
import pytest

from grader.results import FAILED, PASSED, TIMEOUT, CaseResult, FunctionResult, Score, SubmissionResult
from grader.score import class_mean, score_cases, score_function


def cases(*statuses, visibility="public"):
    return [CaseResult(function="f", case_id=f"{visibility}-{i}", visibility=visibility, seed=i, status=s)
            for i, s in enumerate(statuses, 1)]


@pytest.mark.parametrize("statuses, all_or_nothing, earned", [
    ((PASSED, PASSED, PASSED), False, 6.0),
    ((PASSED, FAILED, PASSED), False, 4.0),
    ((PASSED, FAILED, TIMEOUT), False, 2.0),
    ((PASSED, PASSED, FAILED), True, 0.0),
    ((PASSED, PASSED, PASSED), True, 6.0),
    ((), False, 0.0),
])
def test_score_cases(statuses, all_or_nothing, earned):
    s = score_cases(6, cases(*statuses), all_or_nothing)
    assert s.earned == earned
    assert s.possible == 6.0
    assert (s.passed, s.total) == (list(statuses).count(PASSED), len(statuses))


def test_public_and_hidden_points_are_kept_apart():
    public, hidden = score_function(2, 3, cases(PASSED, PASSED) + cases(PASSED, FAILED, FAILED, visibility="hidden"))
    assert (public.earned, public.possible, public.total) == (2.0, 2.0, 2)
    assert (hidden.earned, hidden.possible, hidden.total) == (1.0, 3.0, 3)


def scored(earned: float, possible: float) -> SubmissionResult:
    return SubmissionResult(assignment="a", submission="s", hidden_graded=False, hidden_available=False,
                            functions=[FunctionResult(name="f", module="m", public=Score(earned, possible))])


def test_class_mean_is_over_the_submissions_that_could_earn_points():
    # 50% and 100% of 4 points; the third was worth nothing: neither 0% nor 100%, just not counted
    assert class_mean([scored(2, 4), scored(4, 4), scored(0, 0)]) == (75.0, 2)
    assert class_mean([scored(1, 4), scored(0, 2)]) == (12.5, 2)      # a mean of percents, not of points
    assert class_mean([scored(0, 0)]) is None
    assert class_mean([]) is None

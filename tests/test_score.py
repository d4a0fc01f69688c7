"""Scoring is pure: points in proportion to cases passed, or all-or-nothing; public and hidden apart."""
import pytest

from grader.results import FAILED, PASSED, TIMEOUT, CaseResult
from grader.score import score_cases, score_function


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

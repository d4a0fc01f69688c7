"""Localising a wrong output that no catalogued mistake explains: a table of arrays -> sentences."""
import numpy as np
import pytest

from grader.judge.localise import describe, passes_only_when_zero
from grader.results import CaseResult

E = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0], [2.0, 1.5, -0.75]])


@pytest.mark.parametrize("got, sentence", [
    (0.5 * E, "dW is 0.5 times the expected value everywhere (a constant factor)."),
    (-E, "dW has the opposite sign of the expected value everywhere."),
    (E + 0.125, "dW is the expected value plus 0.125 everywhere (a constant offset)."),
    (E.T, "dW is the transpose of the expected value."),
    (np.where(np.arange(3) == 1, E * 3, E), "only dW's column 1 is wrong (of 3)."),
    (np.where(np.arange(3)[:, None] == 0, E, E + np.arange(1, 4)), "dW's row 0 is right; the other 2 of 3 are wrong."),
    (E + np.random.default_rng(0).normal(size=E.shape), ""),
    (np.full_like(E, np.nan), ""),
    (np.zeros_like(E), "dW is all zeros: is it ever computed (or, for a state, stored back)?"),
    # what sums to zero, but for rounding (a softmax's gradient summed over the classes, the wrong
    # axis for db): not "2.5e-17 times the expected value" (a students' round)
    (2.51624e-17 * E,
     "dW is all zeros, but for rounding (its largest value is 7.5e-17): is it ever computed (or, for a state, stored "
     "back), or summed where its terms cancel (over the wrong axis)?"),
])
def test_describe(got, sentence):
    assert describe("dW", E, got, 1e-6, 1e-9) == sentence


F = np.arange(1.0, 21.0).reshape(4, 5)


@pytest.mark.parametrize("wrong_columns, sentence", [
    ([4], "only dW's column 4 is wrong (of 5)."),
    ([1, 3], "only dW's columns 1, 3 are wrong (of 5)."),
    ([0, 1, 2, 3], "dW's column 4 is right; the other 4 of 5 are wrong."),
    ([0, 1, 2], "dW's columns 3, 4 are right; the other 3 of 5 are wrong."),
])
def test_one_column_is_singular_and_several_plural(wrong_columns, sentence):
    """'only dW's columns 4 are wrong' reads as a typo: one column is 'column 4 is'."""
    got = F.copy()
    got[:, wrong_columns] *= np.array([2.0, 3.0, 5.0, 7.0])[:, None]      # not a constant factor per column
    assert describe("dW", F, got, 1e-6, 1e-9) == sentence


@pytest.mark.parametrize("wrong_rows, sentence", [
    ([2], "only dW's row 2 is wrong (of 4)."),
    ([0, 1, 3], "dW's row 2 is right; the other 3 of 4 are wrong."),
])
def test_one_row_is_singular_too(wrong_rows, sentence):
    got = F.copy()
    got[wrong_rows, :] += np.arange(1.0, 6.0) ** 2                    # every column wrong, so rows are named
    assert describe("dW", F, got, 1e-6, 1e-9) == sentence


def test_a_single_number_gets_no_hint_beyond_expected_and_got():
    assert describe("loss", np.array(5.0), np.array(6.0), 1e-6, 1e-9) == ""


def test_the_function_passes_only_when_a_scalar_argument_is_zero():
    class Case:
        def __init__(self, reg, **dims):
            self.args = {"W": np.zeros(2), "reg": reg}
            self.dims = dims or {"N": 7, "D": 12, "C": 5}
    result = lambda ok: CaseResult("f", "public-1", "public", 1, "passed" if ok else "failed")
    assert passes_only_when_zero([(Case(0.0), result(True)), (Case(0.5), result(False)), (Case(2.0), result(False))]) == "reg"
    assert passes_only_when_zero([(Case(0.0), result(True)), (Case(0.5), result(True))]) == ""
    assert passes_only_when_zero([(Case(0.5), result(False))]) == ""
    # A student's dW divided by C instead of N passed the reg = 0 case alone, where N = C: no hint on reg.
    assert passes_only_when_zero([(Case(0.0, N=5, D=10, C=5), result(True)), (Case(0.5), result(False))]) == ""
    assert passes_only_when_zero([(Case(0.0, N=1, D=10, C=5), result(True)), (Case(0.5), result(False))]) == ""
    assert passes_only_when_zero([(Case(0.0, N=5, D=10, C=5), result(True)), (Case(0.0), result(True)),
                                  (Case(0.5), result(False))]) == "reg"


def test_a_few_wrong_values_scattered_over_most_columns_name_no_right_column():
    """4 of 16 values wrong, in 3 of 4 columns: the 4th column is right by chance, not by design."""
    got = F[:, :4].copy()
    for row, col in ((0, 0), (1, 1), (2, 2), (3, 0)):
        got[row, col] += 1.0
    assert describe("next_w", F[:, :4], got, 1e-6, 1e-9) == ""


def test_an_answer_computed_in_float32_and_returned_as_float64_is_named():
    from grader.judge.localise import float32_valued
    e = np.random.default_rng(0).normal(size=(5, 4))
    g = e.astype(np.float32).astype(np.float64)
    assert float32_valued(e, g) and not float32_valued(e, e.copy()) and not float32_valued(e, 2 * g)
    assert not float32_valued(g, g)                        # the expected answer is float32 numbers itself
    message = describe("dW", e, g, 1e-9, 1e-12)
    assert message.startswith("dW is close, but every value of it is a float32 number returned as float64"), message


def test_an_answer_returned_in_float32_is_called_a_float32_array_not_a_float64():
    e = np.random.default_rng(0).normal(size=(5, 4))
    message = describe("out", e, e.astype(np.float32), 1e-9, 1e-12)
    assert message.startswith("out is a float32 array: your code computes in float32 somewhere"), message
    assert "returned as float64" not in message


def test_a_line_of_zeros_in_both_is_not_named_right():
    """A unit a dropout mask dropped gives a row of zeros in the expected and the student's gradient
    alike: that row says nothing of where the mistake is, and is not called right."""
    e = np.random.default_rng(1).normal(size=(4, 5))
    e[0] = 0.0
    g = 1.5 * e + 0.25
    g[0] = 0.0
    assert describe("grads['W3']", e, g, 1e-6, 1e-9) == ""
    g2 = e.copy()
    g2[2] += 1.0                                           # one of the three non-zero rows wrong
    assert describe("grads['W3']", e, g2, 1e-6, 1e-9) == \
        "only grads['W3']'s row 2 is wrong (of 3 rows that are not all zeros in the expected value or yours)."
    # Top-1 where top-3 is asked: the student's wrong rows are all zeros, which is said.
    e4 = np.zeros((6, 4))
    e4[[1, 3, 5]] = np.random.default_rng(2).normal(size=(3, 4))
    g4 = np.zeros_like(e4)
    g4[5] = e4[5]
    assert describe("dW", e4, g4, 1e-6, 1e-9) == ("dW's row 5 is right; the other 2 of 3 rows that are not all zeros in "
                                                  "the expected value or yours are wrong: yours are all zeros there.")
    g3 = e.copy()
    g3[1:3] += 1.0                                         # without blank rows the count is all of them
    e3, g3[0] = e.copy(), 1.0
    e3[0] = 1.0
    assert describe("dW", e3, g3, 1e-6, 1e-9) == "only dW's rows 1, 2 are wrong (of 4)."


def test_a_nan_hint_names_the_log_or_root_of_a_negative_number_first():
    """`p[range(N), y] -= 1` before the loss takes the log of a negative number on every case, and
    Adam's v of dw instead of dw ** 2 the square root of one: the hint blamed only an overflow."""
    from grader.judge.localise import not_finite
    said = not_finite([("loss", float("nan"))], ["dW"])
    assert said.startswith("loss is NaN where the reference's is finite, and dW is right. NaN comes from log() or "
                           "sqrt() of a negative number"), said
    assert "overflowed to inf" in said                       # still said, after
    assert "negative" not in not_finite([("loss", float("inf"))], [])
    # A gradient begun with np.empty and added to (an eighth students' round): memory read unwritten.
    assert "np.empty() or torch.empty()" in said and "np.empty()" in not_finite([("dW", float("inf"))], [])


def test_one_or_two_wrong_entries_are_named_not_a_row_or_column():
    """RMSprop without epsilon was wrong at one entry of 25, where the cache is near 0: the hint said
    'only next_w's column 0 is wrong', pointing at an index bug there is not."""
    e = np.arange(1.0, 26.0).reshape(5, 5)
    g = e.copy()
    g[2, 0] += 0.5
    said = describe("next_w", e, g, 1e-6, 1e-9)
    assert said.startswith("only next_w[2, 0] is wrong (of 25 entries)") and "epsilon" in said, said
    g[:, 0] += 0.5                      # a whole column wrong: still said as a column
    assert describe("next_w", e, g, 1e-6, 1e-9) == "only next_w's column 0 is wrong (of 5)."


def _off_everywhere(e: np.ndarray, size: float, seed: int = 0) -> np.ndarray:
    """e with every entry off by about `size` (no constant offset or factor): the entries where e is
    large stay within a relative tolerance, the others do not."""
    return e + size * (1 + np.random.default_rng(seed).random(e.shape))


def test_a_line_right_only_because_its_values_are_large_is_not_named():
    """adam with one step too many is off everywhere by about the same amount; the column of next_w
    whose weights are largest stays within the relative tolerance. 'column 2 is right; the other 2
    of 3 are wrong' then points at an indexing bug that is not there."""
    e = np.array([[0.1, -0.2, 50.0], [0.3, 0.25, -40.0], [-0.2, 0.15, 60.0]])
    assert describe("next_w", e, _off_everywhere(e, 1e-5), 1e-6, 1e-9) == ""


def test_a_row_wrong_only_because_its_values_are_small_is_not_named():
    e = np.array([[1e-3, -2e-3, 3e-3, 1e-3], [30.0, 25.0, -10.0, 12.0], [20.0, 15.0, -7.5, 9.0]])
    assert describe("dx", e, _off_everywhere(e, 1e-6), 1e-6, 1e-9) == ""


def test_a_few_entries_wrong_only_because_they_are_near_zero_are_not_named():
    """A value near 0 under a division is what the hint suggests; here every entry is off alike, and
    the two near zero are the two whose relative error shows it."""
    e = np.arange(10.0, 35.0).reshape(5, 5)
    e[1, 2], e[3, 0] = 1e-4, -2e-4
    assert describe("dx", e, _off_everywhere(e, 1e-6), 1e-6, 1e-9) == ""


def test_a_line_right_while_the_others_are_off_is_still_named_when_it_is_exact():
    """The guard above does not hide a real line pattern: the right column is right to rounding."""
    e = np.array([[0.1, -0.2, 50.0], [0.3, 0.25, -40.0], [-0.2, 0.15, 60.0]])
    got = _off_everywhere(e, 1e-3)
    got[:, 2] = e[:, 2] * (1 + 1e-15)
    assert describe("next_w", e, got, 1e-6, 1e-9) == "next_w's column 2 is right; the other 2 of 3 are wrong."


Y = np.array([0, 2, 0, 3])
SCORES = np.arange(1.0, 21.0).reshape(4, 5)


def test_wrong_entries_at_each_rows_label_are_named_as_such_not_as_columns():
    """svm_loss's dx with `dx[range(N), y] = -1` instead of minus the count of positive margins:
    only dx[i, y[i]] is wrong. The hint said 'only dx's columns 0, 2, 3 are wrong', the labels that
    occur, and the student looked for a column index bug."""
    got = SCORES.copy()
    got[np.arange(4), Y] = -1.0
    said = describe("dx", SCORES, got, 1e-6, 1e-9, labels={"y": Y})
    assert said.startswith("only dx[i, y[i]] is wrong in each row (4 of 4 rows)"), said
    assert describe("dx", SCORES.T, got.T, 1e-6, 1e-9, labels={"y": Y}).startswith("only dx[y[j], j] is wrong")
    other = got.copy()
    other[1, 4] += 1.0                           # one more wrong entry away from the labels: not that pattern
    assert "y[i]" not in describe("dx", SCORES, other, 1e-6, 1e-9, labels={"y": Y})


def test_no_rows_or_columns_are_named_when_told_a_scalar_output_is_wrong_too():
    """A network whose loss is wrong has every gradient wrong after it: a row of grads['W3'] that is
    right (a unit dropout zeroed in both) is no index bug. The caller says so with lines=False; a
    factor is still said."""
    got = np.where(np.arange(3)[:, None] == 0, E, E + np.arange(1, 4))
    assert describe("dW", E, got, 1e-6, 1e-9) == "dW's row 0 is right; the other 2 of 3 are wrong."
    assert describe("dW", E, got, 1e-6, 1e-9, lines=False) == ""
    assert describe("dW", E, 2 * E, 1e-6, 1e-9, lines=False) == "dW is 2 times the expected value everywhere (a constant factor)."


def test_a_single_number_in_an_array_gets_no_constant_factor():
    """conv's db of one filter, overwritten per example: 'db is 0.35 times the expected value
    everywhere (a constant factor)' of a single number sent the student looking for a scaling bug."""
    assert describe("db", np.array([3.0]), np.array([1.05]), 1e-6, 1e-9) == ""


def test_no_constant_factor_is_named_where_any_wrong_answer_would_be_one():
    """With two classes a bias's gradient is always [g, -g] (softmax's rows sum to 0): any wrong
    grads['b2'] was '13.3 times the expected value everywhere (a constant factor)', sending the
    student after a scaling bug when the ReLU was missing. A factor is named over three different
    magnitudes at least."""
    assert describe("grads['b2']", np.array([0.25, -0.25]), np.array([3.33, -3.33]), 1e-6, 1e-9) == ""
    assert describe("grads['b2']", np.array([0.25, -0.25, 0.25]), np.array([3.33, -3.33, 3.33]), 1e-6, 1e-9) == ""
    assert describe("db", np.array([0.25, -0.5, 1.0]), np.array([0.5, -1.0, 2.0]), 1e-6, 1e-9) == \
        "db is 2 times the expected value everywhere (a constant factor)."


def test_a_float64_answer_of_float32_precision_is_named_with_where_float32_comes_from():
    """A twentieth red team: X.astype(np.float32) summed into a float64 dW failed by one entry in 36
    with no word of float32 (and with "plus 2.73e-09 everywhere (a constant offset)")."""
    from tests.test_compare import float32_inside
    expected, got = float32_inside(1)
    message = describe("dW", expected, got, 1e-6, 1e-9)
    assert message.startswith("dW is off by the size of float32's rounding, not float64's: by at most "), message
    assert "in 36 of its 36 nonzero entries, either way" in message and ".astype(np.float32)" in message, message


@pytest.mark.parametrize("seed", range(5))
def test_a_median_of_noise_is_no_constant_offset(seed):
    """An answer off by noise, one entry near 0 outside the tolerance: removing the median of the
    noise brings that entry in, but the answer is not "the expected value plus 1.9e-05 everywhere"."""
    rng = np.random.default_rng(seed)
    e = rng.uniform(0.5, 2, size=(6, 6)) * rng.choice([-1, 1], size=(6, 6))
    e[2, 4] = 2e-3
    g = e + rng.normal(scale=1e-4, size=e.shape)
    g[2, 4] = e[2, 4] + np.median(np.delete((g - e).ravel(), 16))
    assert "constant offset" not in describe("dW", e, g, 1e-3, 1e-6)
    assert describe("dW", e, e + 0.01, 1e-3, 1e-6) == "dW is the expected value plus 0.01 everywhere (a constant offset)."

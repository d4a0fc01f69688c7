"""The one-sentence advice for errors with a usual cause (grader/judge/hints.py)."""
import numpy as np
import pytest
import torch

from grader.judge.hints import advice

from conftest import REPO


def _raised(f) -> tuple[str, str]:
    try:
        f()
    except Exception as e:  # noqa: BLE001 - the error a student's line raised
        return type(e).__name__, str(e)
    raise AssertionError("it did not raise")


@pytest.mark.parametrize("line, says", [
    # A student's torch.topk(s, k, dim=1) on a vector was told to check its loop bounds (students' round).
    (lambda: torch.topk(torch.ones(5), 2, dim=1), "A dim or axis the array does not have"),
    (lambda: torch.ones(5).sum(dim=2), "A dim or axis the array does not have"),
    (lambda: np.ones(5).sum(axis=1), "A dim or axis the array does not have"),
    (lambda: np.ones(5)[0, 1], "More indices than the array has dimensions"),
    (lambda: np.ones(5)[7], "An index past the end"),
    (lambda: torch.ones(5)[7], "An index past the end"),
])
def test_an_index_error_is_told_apart_from_a_dim_or_axis_that_does_not_exist(line, says):
    assert advice(*_raised(line)).startswith(says)


@pytest.mark.parametrize("line", [
    lambda: np.max(0, np.ones((3, 4))),          # np.maximum meant (an eighth students' round: no hint)
    lambda: np.min(np.ones(3), np.ones(3)),
    lambda: [1.0, 2.0, 3.0][np.array([0, 1])],   # a list indexed by an array
])
def test_an_array_where_one_integer_is_needed_points_at_np_maximum(line):
    said = advice(*_raised(line))
    assert said.startswith("An array where one integer is needed") and "np.maximum(0, x)" in said, said


@pytest.mark.parametrize("package, says", [
    ("past", "in Python 3 use range"),                 # the 2017 header copied into a 2016 file (an eleventh round)
    ("tqdm", "loop over the iterable itself"),
    ("google", "works only in Colab"),
    ("scipy", "Write that part with numpy"),
])
def test_a_missing_package_students_often_use_says_what_to_write_instead(package, says):
    """The same generic advice for past, tqdm, scipy and google.colab said nothing of the fix for each."""
    used = advice("ModuleNotFoundError", f"No module named '{package}' (imported at m.py, line 1, used here)")
    assert used.endswith(_first(package, says)) and "importing it is harmless, using it fails" in used, used
    assert "Write that part with the libraries" not in used and "or torch" not in used    # not the generic tail too
    imported = advice("ModuleNotFoundError", f"No module named '{package}'")
    assert says in imported and "importing it is harmless" not in imported, imported
    other = advice("ModuleNotFoundError", "No module named 'seaborn' (imported at m.py, line 1, used here)")
    assert other.startswith("No module of that name is installed"), other


def _first(package: str, says: str) -> str:
    from grader.judge.hints import _MISSING
    assert says in _MISSING[package]
    return _MISSING[package]


@pytest.mark.parametrize("kind, message, says", [
    ("NameError", "name 'xrange' is not defined", "Python 3 has no xrange: use range."),
    ("BdbQuit", "", "A breakpoint was left in the code"),
])
def test_python_2_and_breakpoints_left_in_say_what_to_do(kind, message, says):
    """A twelfth students' round: a bare xrange, and a pdb.set_trace() left in, got no advice."""
    assert advice(kind, message).startswith(says)


def test_a_none_from_the_forward_that_a_backward_raises_on_is_traced_to_the_forward():
    """A layernorm_forward that never set its cache returned None for it, and the right backward raised
    on it: a thirteenth students' round was sent to the backward only."""
    from grader.judge.case import _none_from_another
    from grader.spec import load_spec
    spec = load_spec(REPO / "assignments" / "cs231n_layers")
    fn = spec.function("layernorm_backward")
    steps = fn.steps_for(fn.cases[0])
    graded = next(s for s in steps if s.graded)
    err = {"type": "TypeError", "message": "cannot unpack non-iterable NoneType object", "code": "x_hat, std, gamma = cache"}
    assert _none_from_another(fn, graded, steps, err) == (
        "Hint: `cache` is what your layernorm_forward returned (`out, cache = layernorm_forward(x, gamma, beta, "
        "ln_param)`, run before this call), and the error is about a None: does layernorm_forward return `cache` as it "
        "should (a forward that never sets its cache returns None for it)?")
    assert _none_from_another(fn, graded, steps, {**err, "code": "mean = x_hat.mean(0)"}) == ""     # not on its line
    assert _none_from_another(fn, graded, steps, {**err, "message": "too many values to unpack"}) == ""
    # the student's own variable still None, `cache` beside it on the line (a nineteenth red team's)
    own = {"type": "AttributeError", "message": "'NoneType' object has no attribute 'shape'",
           "code": "dx = dout.dot(cache[1].T).reshape(dx.shape)"}
    assert _none_from_another(fn, graded, steps, own) == ""
    assert _none_from_another(fn, graded, steps, {**own, "code": "n = cache.shape[0]"}) != ""
    assert _none_from_another(fn, graded, steps, {**err, "code": "x_hat, std, gamma = out  # from cache"}) == ""


S = np.ones((5, 3))


def _inplace_minus_max():
    s = S.copy()
    s -= s.max(axis=1)


@pytest.mark.parametrize("line, says", [
    # a fourteenth students' round: keepdims forgotten, three times, told only "print the shapes"
    (lambda: S - S.max(axis=1), "A (5, 3) array and a (5,) one: numpy lines up their last dimensions, 3 against 5."),
    (lambda: S / S.sum(axis=1), "A (5, 3) array and a (5,) one"),
    (_inplace_minus_max, "A (5, 3) array and a (5,) one"),
    (lambda: torch.ones(5, 3) - torch.ones(5, 3).max(dim=1).values, "Sizes differ at dimension 1"),
])
def test_a_row_reduction_without_its_axis_kept_is_told_to_keep_it(line, says):
    said = advice(*_raised(line))
    assert said.startswith(says) and "keepdim" in said, said


@pytest.mark.parametrize("line", [
    lambda: S - np.ones(4),                  # (4,) against 3 columns of 5 rows: no row of S reduced
    lambda: np.ones((2, 3)) + np.ones((3, 2)),
])
def test_other_broadcast_errors_keep_the_plain_advice(line):
    assert advice(*_raised(line)) == "Shapes do not fit together: print the shapes of the arrays on that line."

"""compare_output is pure: a table of (expected, what came back) -> verdict."""
import numpy as np
import pytest

from grader.judge.compare import compare_output, relative_error

E = np.array([[1.0, -2.0], [0.5, 4.0]])


def arr(kind="tensor", type_="torch.Tensor"):
    return {"kind": kind, "type": type_}


def check(got, received=None, expected=E, kind="array", framework="torch", dtype="float64", rtol=1e-6, atol=1e-9,
          float32_code=False):
    return compare_output("dW", kind, framework, expected, received or arr(), got, rtol, atol, dtype=dtype,
                          float32_code=float32_code)


def test_identical_arrays_pass_with_zero_error():
    c = check(E.copy())
    assert c.ok and c.max_rel_error == 0.0 and c.message == ""


@pytest.mark.parametrize("expected", [np.array([[0.0, -2.0], [np.inf, 4.0]]), np.array([[0.0, np.nan]]), np.array(0.0)])
def test_the_reference_s_own_bits_are_judged_as_the_measured_comparison_judges_them(expected):
    """Bitwise the reference's value takes a short way; the same numbers in other bits (-0.0 for 0.0)
    the measured way: the verdicts are the same, worst element and all."""
    same, other = expected.copy(), expected.copy()
    other[(0,) * other.ndim] = -0.0
    assert same.tobytes() == expected.tobytes() and other.tobytes() != expected.tobytes()
    kind = "scalar" if expected.ndim == 0 else "array"
    received = arr("python_number", "float") if expected.ndim == 0 else arr()
    fast, measured = (check(g, received, expected=expected, kind=kind) for g in (same, other))
    assert fast.ok and fast == measured, (fast, measured)


def test_worst_element_is_reported_with_expected_and_got():
    got = E.copy()
    got[1, 0] = 0.6                               # relative error 0.2 at [1, 0]
    got[0, 1] = -2.0000001                        # within tolerance... but 5e-8
    c = check(got)
    assert not c.ok
    assert c.worst_index == [1, 0]
    assert c.expected == 0.5 and c.got == 0.6
    assert c.max_rel_error == pytest.approx(0.2)
    assert c.message == ("dW[1, 0]: expected 0.5, got 0.6 "
                         "(relative error 0.2, tolerance 1e-06; 1 of 4 values is outside it)")


def test_the_message_counts_the_values_outside_the_tolerance():
    got = E.copy()
    got[1] *= 2                                   # a whole row wrong
    assert check(got).message.endswith("tolerance 1e-06; 2 of 4 values are outside it)")
    assert check(E * 3).message.endswith("tolerance 1e-06; 4 of 4 values are outside it)")
    one = check(np.array(2.0), expected=np.array(1.0), kind="scalar", received=arr("python_number", "float"))
    assert one.message == "dW: expected 1, got 2 (relative error 1, tolerance 1e-06)"     # a single value: no count


def test_error_within_tolerance_passes():
    assert check(E * (1 + 5e-7)).ok
    assert not check(E * (1 + 5e-6)).ok


def test_near_zero_expected_values_are_judged_absolutely():
    e = np.array([0.0, 1e-12, 3.0])
    assert check(np.array([5e-10, -4e-10, 3.0]), expected=e).ok          # |err| <= atol
    assert not check(np.array([5e-9, 0.0, 3.0]), expected=e).ok


@pytest.mark.parametrize("bad, word", [(np.nan, "NaN"), (np.inf, "inf")])
def test_non_finite_values_never_pass(bad, word):
    got = E.copy()
    got[0, 1] = bad
    c = check(got)
    assert not c.ok
    assert c.message.startswith(f"dW is {word} at [0, 1]")
    assert c.worst_index == [0, 1]


def test_nan_scalar_fails_even_though_nan_compares_false():
    c = compare_output("loss", "scalar", "torch", np.array(2.5), arr("python_number", "float"), np.array(np.nan), 1e-6, 1e-9)
    assert not c.ok and c.message == "loss is NaN; expected 2.5"


def test_wrong_shape_is_named_and_transpose_suggested():
    c = check(E[:, :1].copy())
    assert not c.ok and c.message == "dW: expected shape (2, 2), got (2, 1)"
    e = np.zeros((3, 2))
    c = check(np.zeros((2, 3)), expected=e)
    assert c.message == "dW: expected shape (3, 2), got (2, 3) (the transpose?)"


def test_broadcastable_shape_does_not_sneak_through():
    c = check(np.array([2.5]), expected=np.full((2, 2), 2.5))
    assert not c.ok and "expected shape (2, 2), got (1,)" in c.message


def test_wrong_dtype_is_named():
    c = check(E.astype(np.float32))
    assert not c.ok and c.message.startswith("dW: expected dtype float64, got float32")
    advice = ". Keep the inputs' dtype: no {} on an input, and new arrays made with zeros_like(x), dtype=x.dtype"
    assert advice.format(".float(), .double() or .to(...)") in c.message
    assert advice.format(".astype(...)") in check(E.astype(np.float32), arr("ndarray", "ndarray"), framework="numpy").message


def test_a_negative_zero_is_shown_as_0():
    c = check(np.array([[1.0, 1.0]]), expected=np.array([[-0.0, 1.0]]))
    assert c.message.startswith("dW[0, 0]: expected 0, got 1 "), c.message


def test_array_of_the_other_framework_is_rejected():
    c = check(E.copy(), received=arr("ndarray", "numpy.ndarray"))
    assert c.message == "dW: expected a torch.Tensor, got a numpy.ndarray"
    c = check(E.copy(), received=arr("tensor"), framework="numpy")
    assert c.message == "dW: expected a numpy.ndarray, got a torch.Tensor"


def test_non_numeric_values_are_rejected_by_type():
    c = check(None, received={"kind": "other", "type": "list"})
    assert c.message == "dW: expected a torch.Tensor, got a list"
    c = compare_output("loss", "scalar", "torch", np.array(1.0), {"kind": "other", "type": "NoneType"}, None, 1e-6, 1e-9)
    assert c.message == "loss: expected a real number, got None"
    c = compare_output("loss", "scalar", "torch", np.array(1.0), {"kind": "bool", "type": "bool"}, None, 1e-6, 1e-9)
    assert not c.ok


@pytest.mark.parametrize("received", [arr("python_number", "float"), arr("python_number", "int"),
                                      arr("numpy_scalar", "numpy.float32"), arr("ndarray", "numpy.ndarray"),
                                      arr("tensor", "torch.Tensor")])
def test_any_real_scalar_is_accepted_for_a_scalar_output(received):
    c = compare_output("loss", "scalar", "torch", np.array(3.0), received, np.array(3.0), 1e-6, 1e-9)
    assert c.ok


def test_one_element_tensor_is_not_a_scalar():
    c = compare_output("loss", "scalar", "torch", np.array(3.0), arr(), np.array([3.0]), 1e-6, 1e-9)
    assert not c.ok
    assert c.message == "loss: expected a scalar, got a torch.Tensor of shape (1,) (use .item() or index [0] to get its single value)"


def test_relative_error_uses_the_reference_as_scale():
    err = relative_error(np.array([2.0, 0.0]), np.array([1.0, 0.0]), 1e-6, 1e-9)
    assert err.tolist() == [1.0, 0.0]
    # A huge student value must not excuse itself: the scale is |expected|, not |got|.
    assert relative_error(np.array([1e300]), np.array([1.0]), 1e-6, 1e-9)[0] == pytest.approx(1e300)


def test_relative_error_is_nan_where_got_is_not_finite_and_only_there():
    got, expected = np.array([1.0, np.nan, np.inf, 2.0]), np.array([1.0, 1.0, 1.0, 1.0])
    err = relative_error(got, expected, 1e-6, 1e-9)
    assert np.isnan(err[1]) and np.isnan(err[2]) and err[0] == 0.0 and err[3] == 1.0
    # The same when the caller passes np.isfinite(got) it already has.
    np.testing.assert_array_equal(relative_error(got, expected, 1e-6, 1e-9, np.isfinite(got)), err)


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
def test_a_non_finite_expected_value_is_matched_by_the_same_value(value):
    expected = E.copy()
    expected[0, 1] = value
    got = expected.copy()
    c = check(got, expected=expected)
    assert c.ok and c.max_rel_error == 0.0 and c.message == ""
    scalar = compare_output("loss", "scalar", "torch", np.array(value), arr("python_number", "float"),
                            np.array(value), 1e-6, 1e-9)
    assert scalar.ok


@pytest.mark.parametrize("value, wrong", [(np.inf, -np.inf), (np.inf, np.nan), (-np.inf, np.inf),
                                          (np.nan, np.inf), (np.inf, 1e308), (np.nan, -2.0)])
def test_a_non_finite_expected_value_is_missed_by_any_other_value(value, wrong):
    expected = E.copy()
    expected[0, 1] = value
    got = expected.copy()
    got[0, 1] = wrong
    c = check(got, expected=expected)
    assert not c.ok and c.worst_index == [0, 1]
    assert c.message == (f"dW[0, 1]: expected {value:.8g}, got {wrong:.8g} "
                         "(where the reference is not finite, only the same value passes)")


def test_a_non_finite_expected_value_excuses_no_other_place():
    expected = E.copy()
    expected[0, 1] = np.inf
    got = expected.copy()
    got[1, 1] = np.inf                            # the reference's 4.0 there
    c = check(got, expected=expected)
    assert not c.ok and c.message.startswith("dW is inf at [1, 1]")
    got = expected.copy()
    got[1, 0] = 0.6                               # a finite value wrong beside the matched inf
    assert check(got, expected=expected).message == (
        "dW[1, 0]: expected 0.5, got 0.6 (relative error 0.2, tolerance 1e-06; 1 of 4 values is outside it)")


def test_uncompared_values_must_be_finite_where_the_reference_is():
    expected = E.copy()
    expected[0, 1] = np.inf
    uncompared = lambda got: compare_output("mask", "array", "torch", expected, arr(), got, 1e-6, 1e-9, values=False)
    assert uncompared(np.where(np.isfinite(expected), 7.0, np.nan)).ok        # values are not judged
    got = E.copy()
    got[1, 0] = np.nan
    c = uncompared(got)
    assert not c.ok and c.worst_index == [1, 0] and c.message == "mask[1, 0] is nan: expected finite values"


def test_relative_error_is_zero_where_both_are_the_same_non_finite_value():
    got = np.array([np.inf, -np.inf, np.nan, np.inf, 3.0])
    expected = np.array([np.inf, -np.inf, np.nan, -np.inf, np.inf])
    err = relative_error(got, expected, 1e-6, 1e-9)
    assert err[:3].tolist() == [0.0, 0.0, 0.0] and np.isnan(err[3:]).all()


def test_a_value_the_grader_cannot_read_is_described_without_contradiction():
    """A sparse tensor is described by its layout, not by a dtype that reads like the one wanted;
    a dtype of real numbers the grader does not read says what to return instead."""
    sparse = compare_output("dW", "array", "torch", np.zeros(2), {"kind": "other", "type": "torch.Tensor",
                            "dtype": "torch.float64", "repr": "a cpu tensor with layout torch.sparse_coo"}, None, 1e-6, 0)
    assert sparse.message == "dW: expected a torch.Tensor, got a torch.Tensor (a cpu tensor with layout torch.sparse_coo)"
    wide = compare_output("loss", "scalar", "numpy", np.float64(1), {"kind": "other", "type": "numpy.longdouble",
                          "dtype": "float128"}, None, 1e-6, 0)
    assert wide.message == ("loss: expected a real number, got a numpy.longdouble of dtype float128, which the grader "
                            "does not read: return float64 or float32")
    mask = compare_output("out", "array", "numpy", np.zeros(2), {"kind": "other", "type": "numpy.ndarray", "dtype": "bool"},
                          None, 1e-6, 0)
    assert mask.message == "out: expected a numpy.ndarray, got a numpy.ndarray of dtype bool"
    # an array of Python objects (np.array of rows of different lengths) holds no numbers to read
    objects = compare_output("dW", "array", "numpy", np.zeros(2), {"kind": "other", "type": "numpy.ndarray",
                             "dtype": "object"}, None, 1e-6, 0)
    assert objects.message == ("dW: expected a numpy.ndarray, got a numpy.ndarray of dtype object (Python objects, not "
                               "numbers): return an array of float64 or float32 numbers"), objects.message


# float32 answers, judged at their own precision: an entry that nearly cancels carries an error of
# the size of the terms summed, not of the entry (cs231n_2016's hidden-5: dW[3, 3] = 9.6e-5, off by
# 1.3e-8, relative error 1.3e-4 against float32's 1.19e-4, in an array whose largest entry is 0.24).
BIG = np.array([[0.239, -0.1, 0.05], [0.12, 9.613699e-05, -0.2]])


def test_a_float32_answer_cast_back_to_float64_is_judged_as_float32():
    """A twelfth students' round computed in float32 and returned .astype(np.float64): it lost the
    points that returning the float32 array kept. Its numbers are float32 numbers: judged so. A
    float64 answer as far off, of numbers float32 cannot hold, still fails."""
    expected = np.random.default_rng(0).normal(size=(5, 4))
    float32 = (expected * (1 + 2e-6)).astype(np.float32)          # 2e-6 off: float32's rounding and more
    numpy = lambda got: check(got, arr("ndarray", "numpy.ndarray"), expected=expected, framework="numpy", dtype="float")
    assert numpy(float32).ok
    assert numpy(float32.astype(np.float64)).ok
    assert not numpy(expected * (1 + 2e-4)).ok and not numpy(expected * (1 + 2e-4) + 1e-12).ok


def test_a_float32_answer_is_judged_against_a_hundredth_of_its_largest_value_at_least():
    got = (BIG + 1.3e-8).astype(np.float32)
    assert check(got, arr("ndarray", "numpy.ndarray"), expected=BIG, framework="numpy", dtype="float").ok
    wrong = BIG.astype(np.float32)
    wrong[1, 1] = 9.8e-05                          # off by 2% of itself, and by 8e-7 of the largest value
    c = check(wrong, arr("ndarray", "numpy.ndarray"), expected=BIG, framework="numpy", dtype="float")
    assert not c.ok and c.worst_index == [1, 1], c
    c64 = check(BIG + 1.3e-8, arr("ndarray", "numpy.ndarray"), expected=BIG, framework="numpy", dtype="float")
    assert not c64.ok and c64.worst_index == [1, 1], c64          # a float64 answer is judged as before


def test_an_answer_compared_with_a_float32_one_is_judged_at_float32_precision():
    """agrees_with compares the student's vectorized function with their naive one: a naive one
    that works in float32 made the right float64 vectorized one fail at float64's tolerance."""
    naive = (BIG + 1.3e-8).astype(np.float32)
    vectorized = BIG.copy()
    c = check(vectorized, arr("ndarray", "numpy.ndarray"), expected=naive, framework="numpy", dtype="float")
    assert c.ok, c
    c = check(vectorized * 1.01, arr("ndarray", "numpy.ndarray"), expected=naive, framework="numpy", dtype="float")
    assert not c.ok


def float32_inside(seed: int, n: int = 19, d: int = 12, c: int = 3) -> tuple:
    """(expected, got): X.T @ G / n in float64, and the same summed from float32 products into a
    float64 accumulator, as svm_loss_naive does after X = X.astype(np.float32) with the handout's
    dW = np.zeros(W.shape): float64 values (not float32 numbers) of float32's precision."""
    rng = np.random.default_rng(seed)
    X, G = rng.normal(size=(n, d)), rng.normal(size=(n, c))
    got = np.zeros((d, c))
    for x, g in zip(X.astype(np.float32), G.astype(np.float32)):
        got += np.outer(x, g)
    return X.T @ G / n, got / n


def test_a_float64_answer_of_float32_precision_is_judged_as_float32_where_the_spec_allows_float32():
    """A twentieth red team: svm_loss_naive with X.astype(np.float32) and a float64 dW lost 2 of 6
    points in cs231n ("each is judged at its own precision") by an entry in 36 at 1.2e-6 relative,
    where the same code with a float32 dW got them all. Where the spec asks for float64, it fails."""
    from grader.judge.compare import float32_precision
    numpy = lambda got, expected, dtype, code=True: check(got, arr("ndarray", "numpy.ndarray"), expected=expected,
                                                         framework="numpy", dtype=dtype, float32_code=code)
    for seed in (1, 4, 5, 9):               # each fails at 1e-6 in an entry or two
        expected, got = float32_inside(seed)
        assert float32_precision(got, expected)
        assert not numpy(got, expected, None).ok and not numpy(got, expected, "float64").ok
        assert numpy(got, expected, "float").ok, seed
        # code that names no float32 (a twenty-first red team's `+ 3e-6` in a softmax's denominators
        # made errors of that size): its float64 answer is judged as float64
        assert not numpy(got, expected, "float", code=False).ok, seed


@pytest.mark.parametrize("source, says", [
    ("X = X.astype(np.float32)", True), ("dW = np.zeros(W.shape, dtype='f4')", True), ("x = x.float()", True),
    ("dw = torch.zeros(D)", True), ("a = np.single(3)", True), ("y = y.to(torch.float)", True),
    ("X = X.astype('f')", True), ("t = torch.FloatTensor(3)", True), ("from numpy import float32", True),
    ("dW = np.zeros(W.shape)\nprobs = e / (e.sum(axis=1, keepdims=True) + 3e-6)", False),
    ("x = x.double()", False), ("", False), (None, False), ("dw = torch.zeros(D, dtype=X.dtype)", False),
    ("z = torch.zeros_like(x)", False), ("a = np.zeros(3, dtype='float')", False),
    # a twenty-second red team: words in comments and docstrings named no dtype
    ("# the gradient of a single class score, half of it\nx = 1", False),
    ('def f():\n    """float32 would lose precision here."""\n    return 1', False),
    ("def f(:", False),                                   # does not parse: no code of it ran
])
def test_code_that_computes_in_float32_is_told_by_its_text(source, says):
    from grader.judge.compare import computes_in_float32
    assert computes_in_float32(source) is says


@pytest.mark.parametrize("mistake", [
    lambda e: e * (1 + 3e-6),                                       # a factor
    lambda e: e + 1e-8,                                             # an offset
    lambda e: e * (1 + 1e-6 * np.arange(e.shape[1])),               # a factor per column (an epsilon)
    lambda e: e * (1 + 2e-6 * np.arange(e.shape[0]))[:, None],      # a factor per row
    lambda e: np.where(np.arange(e.size).reshape(e.shape) == 7, e * 1.00001, e),   # one entry
    lambda e: e + 1e-5 * np.abs(e).max() * np.random.default_rng(0).normal(size=e.shape),  # too far off for float32
])
def test_a_mistake_of_small_errors_is_not_float32_precision(mistake):
    from grader.judge.compare import float32_precision
    expected, _ = float32_inside(1)
    got = mistake(expected)
    assert not float32_precision(got, expected)
    judged = lambda dtype: check(got, arr("ndarray", "numpy.ndarray"), expected=expected, framework="numpy", dtype=dtype,
                                 float32_code=True).ok
    assert judged("float") == judged("float64")          # at float64's tolerance, as before


@pytest.mark.slow
def test_a_float64_mistake_of_float32_size_is_not_judged_as_float32(tmp_path):
    """A twenty-first red team: softmax_loss_vectorized all in float64, with `+ 3e-6` in the
    probabilities' denominators, made dW errors of float32's size and both signs, judged at float32's
    precision under cs231n's dtype: float (11/11 cases). Code that names no float32 is judged as float64."""
    import json
    import shutil
    import subprocess
    from conftest import GRADER, REPO
    folder = tmp_path / "eps"
    shutil.copytree(REPO / "reference" / "cs231n", folder, ignore=shutil.ignore_patterns("__pycache__"))
    source = (folder / "softmax.py").read_text()
    line = "    probs /= probs.sum(axis=1, keepdims=True)\n"
    assert line in source
    (folder / "softmax.py").write_text(source.replace(line, "    probs /= probs.sum(axis=1, keepdims=True) + 3e-6\n"))
    out = tmp_path / "result.json"
    subprocess.run([GRADER, "check", str(folder), "--assignment", "cs231n", "--hidden", "--json", str(out)],
                   cwd=REPO, capture_output=True, text=True, timeout=600)
    fn = next(f for f in json.loads(out.read_text())["functions"] if f["name"] == "softmax_loss_vectorized")
    assert sum(c["status"] == "failed" for c in fn["cases"]) >= len(fn["cases"]) // 2, [c["message"] for c in fn["cases"]]
    assert not any("float32" in c["details"] for c in fn["cases"])

"""Seeded inputs: a case's inputs depend only on (assignment, function, seed), bit for bit."""
import subprocess
import sys

import numpy as np

from grader import values
from grader.cases import make_case
from grader.expected import inputs_digest
from grader.seeded import Drawn, Stream

# Pinned when the generator was written. If this changes, every handout's expected outputs
# are invalidated: that must be a deliberate decision, never a side effect.
PINNED_DIGEST = "fcba3c99317e7b6b72a97943281cf7e29374b83fa9e8974176dd8813cf258682"


def first_case(spec, function="svm_loss_naive", index=0):
    fn = spec.function(function)
    return make_case(spec, fn, fn.cases[index])


def test_inputs_are_pinned_bit_for_bit(spec):
    case = first_case(spec)
    assert case.dims == {"N": 14, "D": 6, "C": 8}
    assert case.args["W"][0, 0].hex() == "-0x1.79e63f8ba3f00p-6"
    assert inputs_digest(case) == PINNED_DIGEST


def test_inputs_are_identical_in_another_process(spec):
    code = ("from grader.spec import load_spec; from grader.cases import make_case; "
            "from grader.expected import inputs_digest; s = load_spec(%r); f = s.function('softmax_loss_vectorized'); "
            "print(inputs_digest(make_case(s, f, f.cases[-1])))" % str(spec.folder))
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert other == inputs_digest(first_case(spec, "softmax_loss_vectorized", -1))


def test_same_seed_differs_between_functions_and_seeds(spec):
    a = first_case(spec, "svm_loss_naive", 0)
    b = first_case(spec, "svm_loss_vectorized", 0)
    c = first_case(spec, "svm_loss_naive", 1)
    assert len({inputs_digest(a), inputs_digest(b), inputs_digest(c)}) == 3


def test_shapes_dtypes_and_label_ranges_follow_the_spec(spec):
    for fn in spec.functions:
        for case_spec in fn.cases:
            case = make_case(spec, fn, case_spec)
            N, D, C = (case.dims[k] for k in "NDC")
            W, X, y, reg = (case.args[k] for k in ("W", "X", "y", "reg"))
            assert W.shape == (D, C) and W.dtype == np.float64
            assert X.shape == (N, D) and X.dtype == np.float64
            assert y.shape == (N,) and y.dtype == np.int64
            assert isinstance(reg, float) and reg >= 0
            assert 0 <= y.min() and y.max() < C


def test_case_overrides_take_effect(spec):
    fn = spec.function("softmax_loss_naive")
    by_note = {c.note: make_case(spec, fn, c) for c in fn.cases}
    assert by_note["a single example (N = 1)"].dims["N"] == 1
    assert by_note["two classes (C = 2)"].dims["C"] == 2
    assert by_note["no regularization (reg = 0)"].args["reg"] == 0.0
    absent = by_note["classes absent from y"]
    assert absent.dims["C"] == 7 and absent.args["y"].max() < 3
    big = by_note["scores of order 1000 (numerical stability)"]
    scores = big.args["X"] @ big.args["W"]
    assert np.abs(scores).max() > 1000          # exp() of these overflows without the max shift


def test_fixing_one_dim_leaves_the_other_draws_alone(spec):
    from dataclasses import replace
    fn = spec.function("svm_loss_naive")
    base = fn.cases[0]
    fixed = make_case(spec, fn, replace(base, dims={"N": 1}))
    free = make_case(spec, fn, base)
    assert fixed.dims["D"] == free.dims["D"] and fixed.dims["C"] == free.dims["C"]
    np.testing.assert_array_equal(fixed.args["W"], free.args["W"])


def test_stream_distributions_have_the_right_moments():
    s = Stream("moments")
    u = s.uniform(200_000)
    z = s.normal(200_000)
    assert 0 <= u.min() and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.01
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert np.abs(z).max() <= 6
    idx = Stream("index").index(3, 30_000)
    assert set(np.unique(idx)) == {0, 1, 2}


def test_fresh_inputs_keep_the_sizes_and_draw_every_array_again_in_the_worker(spec):
    """faster_than's timed calls: the same sizes, numbers no other call has, sent as recipes."""
    fn = spec.function("svm_loss_vectorized")
    timed = fn.cases_of("public")[0]
    case = make_case(spec, fn, timed)
    fresh = [make_case(spec, fn, timed, fresh=f"timing-{k}") for k in (1, 2)]
    assert all(f.dims == case.dims for f in fresh)
    assert all(isinstance(f.args[name], Drawn) for f in fresh for name in ("W", "X", "y"))
    drawn = [{name: f.args[name].array() for name in ("W", "X", "y")} for f in fresh]
    for name in ("W", "X"):
        assert drawn[0][name].shape == case.args[name].shape
        assert not np.isin(drawn[0][name], case.args[name]).any() and not np.isin(drawn[0][name], drawn[1][name]).any()
    assert drawn[0]["y"].dtype == case.args["y"].dtype and drawn[0]["y"].max() < case.dims["C"]
    inputs = []
    node = values.to_wire(fresh[0].args, inputs)
    assert inputs == []                                   # only the recipes travel
    np.testing.assert_array_equal(values.build(node, inputs, None)["X"], drawn[0]["X"])
    assert "N=" in fresh[0].describe() and "Drawn" not in fresh[0].describe()


def test_fresh_inputs_are_drawn_by_numpys_own_samplers_the_same_in_every_process_of_a_run(spec):
    """A timed call's inputs are drawn in the child, inside the CPU time the grader counts around
    the call: with numpy's samplers (`fast`), not the bit-exact sums of twelve uniforms, which took
    5 ms of the 6 ms around a 0.2 ms call. The recipe says so on the wire, and draws the same again."""
    fn = spec.function("svm_loss_vectorized")
    fresh = make_case(spec, fn, fn.cases_of("public")[0], fresh="timing-1")
    for name in ("W", "X", "y"):
        recipe = fresh.args[name]
        assert recipe.fast
        again = Drawn.from_wire(recipe.to_wire())
        assert again == recipe
        np.testing.assert_array_equal(again.array(), recipe.array())
        slow = Drawn(**{**recipe.__dict__, "fast": False}).array()
        assert slow.dtype == recipe.array().dtype and slow.shape == recipe.array().shape
        assert not np.array_equal(slow, recipe.array())
    x = fresh.args["X"].array()
    assert abs(x.mean()) < 0.05 and abs(x.std() - 1) < 0.05
    y = fresh.args["y"].array()
    assert y.min() >= 0 and y.max() < fresh.dims["C"] and len(np.unique(y)) > 1

"""The grader's own process evaluates the spec's expressions on a student's arrays (a gradient check's
`sum(out * dout)`): no step may make an array much larger than what it is made from. Pure."""
import tracemalloc

import numpy as np
import pytest

from grader.judge.bounded import FLOOR, Bounded, TooLarge, bounded, bounded_tree


def test_legitimate_steps_give_numpy_s_values():
    rng = np.random.default_rng(0)
    out, dout = rng.random((50, 40)), rng.random((50, 40))
    assert float(np.sum(bounded(out) * dout)) == float(np.sum(out * dout))
    assert float(np.sum(bounded(out.astype(np.float32)) * dout)) == float(np.sum(out.astype(np.float32) * dout))
    big = rng.random((1500, 1500))                                  # 18 MB: larger than FLOOR, and no larger result
    assert float(np.sum(bounded(big) * big)) == float(np.sum(big * big))
    assert np.array_equal(bounded(out) @ dout.T, out @ dout.T) and (bounded(out[0]) @ dout.T).shape == (50,)
    assert float(np.where(bounded(out) > 0.5, out, 0.0).sum()) == float(np.where(out > 0.5, out, 0.0).sum())
    assert np.isclose(bounded(out), out).all() and float(np.linalg.norm(bounded(out))) == float(np.linalg.norm(out))
    assert float(np.std(bounded(out))) == float(np.std(out)) and float(np.median(bounded(out))) == float(np.median(out))
    assert float(np.sum(bounded(np.ones(FLOOR, np.uint8)))) == FLOOR                 # a reduction of any size
    assert isinstance(bounded(out) * 2, Bounded)                   # what is made from one stays bounded
    tree = bounded_tree({"W1": out, "b": {"db": dout, "n": 3.0}})
    assert isinstance(tree["W1"], Bounded) and isinstance(tree["b"]["db"], Bounded) and tree["b"]["n"] == 3.0
    with pytest.raises(TooLarge):                 # numpy would make a plain array of a list in an operation
        bounded_tree({"W1": [out]})


@pytest.mark.parametrize("step", [
    lambda out, dout: out * dout,                                  # (K, 1, 1) times (N, M): (K, N, M)
    lambda out, dout: np.where(out > 0, dout, 0.0),
    lambda out, dout: np.isclose(out, dout),
    lambda out, dout: out.astype(np.float64),                      # uint8 to float64: 8 times the bytes
    lambda out, dout: np.einsum("i,j->ij", out.ravel(), dout.ravel()),     # no size read from its shapes
    lambda out, dout: np.outer(out, dout),
    lambda out, dout: np.multiply.outer(out, dout),
    lambda out, dout: np.add(out, 1, out=out),                     # nor a write into the student's array
    lambda out, dout: np.std(out),                                 # x - mean(x) in float64 on the way
    lambda out, dout: np.linalg.norm(out),
])
def test_a_step_that_would_grow_is_refused_before_it_allocates(step):
    """A red team's affine_forward returned a (K, 1, 1) uint8 `out` of 37 MB: `sum(out * dout)`
    took the grader's process to 1.5 GB, and a class's batch was killed for memory."""
    out, dout = np.ones((FLOOR // 4, 1, 1), np.uint8), np.ones((50, 40))
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge):
            step(bounded(out), dout)
        assert tracemalloc.get_traced_memory()[1] < FLOOR
    finally:
        tracemalloc.stop()


def test_an_answer_of_the_wrong_shape_is_not_copied_to_float64_before_its_shape_is_compared():
    """The diagnosis read a student's answer as float64 numbers, then compared shapes: an int8 answer
    of 120 MB was a 1 GB copy in the grader's process (a sixteenth red team). Shapes come first."""
    from grader.judge.case import _same_tree
    from grader.judge.regularization import flat_numbers
    from grader.values import Leaf
    big = Leaf(kind="ndarray", type="ndarray", array=np.ones(FLOOR, np.int8))
    small = Leaf(kind="ndarray", type="ndarray", array=np.ones((3, 4)))
    tracemalloc.start()
    try:
        assert flat_numbers({"dW": big}, {"dW": small}, {"dW": small}) is None
        assert not _same_tree(big, small, 1e-6, 0.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < FLOOR, peak

"""The numpy linear-classifier references are right, and right relative to each other.

`grader validate` measures mistakes against the reference; these tests check the reference
itself: its dW is the gradient of its loss (central differences), and the three CS231n
conventions are one computation: cs231n_2016 is cs231n with half the regularization, and
cs231n_2015 is cs231n_2016 with W, X and dW transposed.
"""
import importlib.util

import numpy as np
import pytest

from grader.cases import make_case
from grader.spec import load_spec

from conftest import REPO

FUNCTIONS = {"svm_loss_naive": "linear_svm", "svm_loss_vectorized": "linear_svm",
             "softmax_loss_naive": "softmax", "softmax_loss_vectorized": "softmax"}


def reference(assignment: str, function: str):
    module = FUNCTIONS[function]
    path = REPO / "reference" / assignment / f"{module}.py"
    spec = importlib.util.spec_from_file_location(f"_reference_{assignment}_{module}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return getattr(mod, function)


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("assignment", ["cs231n", "cs231n_2016", "cs231n_2015"])
def test_dW_is_the_gradient_of_the_loss(assignment, function):
    spec = load_spec(REPO / "assignments" / assignment)      # the spec gives this layout's shapes
    fn = spec.function(function)
    W, X, y, reg = make_case(spec, fn, fn.cases[0]).args.values()
    f = reference(assignment, function)
    _, dW = f(W, X, y, reg)
    numeric, h = np.zeros_like(W), 1e-6
    for i in np.ndindex(W.shape):                            # central differences, one weight at a time
        step = np.zeros_like(W)
        step[i] = h
        numeric[i] = (f(W + step, X, y, reg)[0] - f(W - step, X, y, reg)[0]) / (2 * h)
    assert dW.shape == W.shape
    assert np.abs(numeric - dW).max() < 1e-6


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_three_cs231n_conventions_are_one_computation(function):
    rng = np.random.default_rng(7)
    N, D, C, reg = 9, 6, 4, 0.8
    W, X, y = 0.3 * rng.normal(size=(D, C)), rng.normal(size=(N, D)), rng.integers(0, C, N)
    loss, dW = reference("cs231n", function)(W, X, y, reg)
    loss_2016, dW_2016 = reference("cs231n_2016", function)(W, X, y, reg)
    loss_2015, dW_2015 = reference("cs231n_2015", function)(W.T.copy(), X.T.copy(), y, reg)
    assert loss_2016 == pytest.approx(loss - 0.5 * reg * np.sum(W * W), rel=1e-12)
    np.testing.assert_allclose(dW_2016, dW - reg * W, rtol=1e-12, atol=1e-15)
    assert loss_2015 == pytest.approx(loss_2016, rel=1e-12)
    np.testing.assert_allclose(dW_2015, dW_2016.T, rtol=1e-12, atol=1e-15)

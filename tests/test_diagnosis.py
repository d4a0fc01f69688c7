"""Diagnosis beyond one catalogued mistake: two at once, the regularization term taken apart, and
the handout's starter code named as unfinished work rather than a wrong answer."""
import json
import shutil
import subprocess

import numpy as np
import pytest

from grader.expected.starter import strip_solutions
from grader.expected.mistakes import Mistake, compositions, load_catalogue, variant_source
from grader.judge import regularization, scale
from grader.spec import SpecError, load_spec
from grader.values import Leaf

from conftest import ASSIGNMENT, GRADER, REPO

REFERENCE = REPO / "reference" / "linear_classifier" / "linear_classifier.py"


def outputs(loss, dW):
    return {"loss": Leaf("python_number", "float", np.array(loss)), "dW": Leaf("tensor", "torch.Tensor", np.array(dW))}


# A tiny case: the data part of loss and dW, and the regularization term's part of each.
DATA_LOSS, REG_LOSS = 1.25, 0.5
DATA_GRAD, REG_GRAD = np.array([[0.1, -0.2], [0.3, 0.05]]), np.array([[0.4, 0.2], [-0.6, 0.8]])
EXPECTED = outputs(DATA_LOSS + REG_LOSS, DATA_GRAD + REG_GRAD)
UNREGULARIZED = outputs(DATA_LOSS, DATA_GRAD)
DIMS = {"N": 4, "D": 2, "C": 2}


@pytest.mark.parametrize("loss_factor, grad_factor, found", [
    (1.0, 0.5, {"loss": 1.0, "dW": 0.5}),
    (0.0, 1.0, {"loss": 0.0, "dW": 1.0}),
    (0.5, 0.5, {"loss": 0.5, "dW": 0.5}),
    (0.25, 0.25, {"loss": 0.25, "dW": 0.25}),        # 1/N: the term averaged with the data
    (1.0, 3.0, {"loss": 1.0, "dW": 3.0}),            # an array's factor is believed whatever it is
    (0.37, 1.0, None),                               # one number fits any factor: only the usual ones count
    (1.0, 1.0, None),                                # nothing off in the term
])
def test_the_factor_of_the_regularization_term_in_each_output(loss_factor, grad_factor, found):
    fn = load_spec(ASSIGNMENT).function("svm_loss_naive")
    got = outputs(DATA_LOSS + loss_factor * REG_LOSS, DATA_GRAD + grad_factor * REG_GRAD)
    assert regularization.factors(fn, got, EXPECTED, UNREGULARIZED, DIMS) == found


def test_a_dict_of_gradients_in_another_key_order_is_taken_apart_too():
    """A students' round's TwoLayerNet.loss had half the term in its loss and none in its gradients,
    each named alone but not together: its grads dict held W2 before W1, and a dict whose keys came
    in another order than the reference's was taken for another set of outputs."""
    fn = load_spec(REPO / "assignments" / "fully_connected_networks").function("TwoLayerNet.loss")
    data, term = {"W1": np.array([[0.1, -0.2]]), "W2": np.array([[0.3, 0.05]])}, {"W1": np.array([[0.4, 0.2]]), "W2": np.array([[-0.6, 0.8]])}

    def tree(loss, grads, order=("W1", "W2")):
        return {"scores": Leaf("tensor", "torch.Tensor", np.array([[1.0, 2.0]])),
                "loss": Leaf("tensor", "torch.Tensor", np.array(loss)),
                "grads": {k: Leaf("tensor", "torch.Tensor", grads[k]) for k in order}}
    expected = tree(DATA_LOSS + REG_LOSS, {k: data[k] + term[k] for k in data})
    unregularized = tree(DATA_LOSS, data)
    got = tree(DATA_LOSS + 0.5 * REG_LOSS, data, order=("W2", "W1"))
    assert regularization.factors(fn, got, expected, unregularized, DIMS) == {"loss": 0.5, "grads": 0.0}


def test_a_hidden_cases_regularization_sentence_says_no_factor_the_students_code_chose():
    """1 + |X[0, 0]| times the term's gradient, said to three decimals on hidden cases, carried a
    hidden input into the feedback shown after grades are published; the usual factors are said."""
    fn = load_spec(ASSIGNMENT).function("svm_loss_naive")
    said = regularization.describe(fn, {"loss": 1.0, "dW": 1.7271}, DIMS, exact=False)
    assert "1.727" not in said and "`dW` has another multiple of the regularization term's gradient" in said, said
    assert "1.727 times" in regularization.describe(fn, {"loss": 1.0, "dW": 1.7271}, DIMS)
    assert "half of" in regularization.describe(fn, {"loss": 1.0, "dW": 0.5}, DIMS, exact=False)


def test_no_factor_is_found_for_an_answer_near_the_largest_float():
    """dW near 1e308: the fitted factor overflowed to inf, every error was NaN, none over the
    tolerance, and the student was told 'dW has inf times the regularization term's gradient'."""
    fn = load_spec(ASSIGNMENT).function("svm_loss_naive")
    got = outputs(DATA_LOSS + REG_LOSS, np.sign(REG_GRAD) * 1.7e308)     # its dot product with the term overflows
    assert regularization.factors(fn, got, EXPECTED, UNREGULARIZED, DIMS) is None


def test_no_factor_is_found_when_the_rest_is_wrong_too():
    fn = load_spec(ASSIGNMENT).function("svm_loss_naive")
    got = outputs(DATA_LOSS + REG_LOSS, 2 * DATA_GRAD + 0.5 * REG_GRAD)       # the data part doubled as well
    assert regularization.factors(fn, got, EXPECTED, UNREGULARIZED, DIMS) is None
    other_shape = outputs(DATA_LOSS + REG_LOSS, (DATA_GRAD + 0.5 * REG_GRAD).T[:1])
    assert regularization.factors(fn, other_shape, EXPECTED, UNREGULARIZED, DIMS) is None


def test_the_sentence_says_which_output_is_off_and_that_they_disagree():
    fn = load_spec(ASSIGNMENT).function("svm_loss_naive")
    text = regularization.describe(fn, {"loss": 1.0, "dW": 0.5}, DIMS)
    assert "`loss` has the regularization term as it should" in text
    assert "`dW` has half of the regularization term's gradient" in text
    assert "`loss` and `dW` disagree by a factor of 2: the 2 that the derivative of W * W brings, or the 1/2 " \
           "written to cancel it, is in one and not the other: the one to fix is `dW`." in text
    assert "`loss` has no regularization term" in regularization.describe(fn, {"loss": 0.0, "dW": 1.0}, DIMS)
    assert "add it after taking the average" in regularization.describe(fn, {"loss": 0.25, "dW": 0.25}, DIMS)
    # The loss with 1/N of the term (added before the average), dW right: the loss is the one to fix.
    before = regularization.describe(fn, {"loss": 1 / DIMS["N"], "dW": 1.0}, DIMS)
    assert before.endswith("`loss` and `dW` disagree: the one to fix is `loss`, where the term is divided like the "
                           "data part: add it after taking the average."), before
    both = regularization.describe(fn, {"loss": 0.0, "dW": 0.5}, DIMS)      # neither right: no one to point at
    assert both.endswith("disagree. The gradient of c times the term is c times the term's gradient."), both


SIZES = {"N": 8, "D": 3, "C": 5}             # no size a ratio of two others, none 2
# Numbers less round than the ones above: one number (the loss) fits many pairs of factors by chance.
DATA, REG = (1.2345, np.array([[0.113, -0.271], [0.342, 0.059]])), (0.4321, np.array([[0.417, 0.236], [-0.613, 0.829]]))
SCALE_EXPECTED, SCALE_UNREGULARIZED = outputs(DATA[0] + REG[0], DATA[1] + REG[1]), outputs(*DATA)


@pytest.mark.parametrize("loss, grad, found", [
    ((1, 1), (8, 1), {"dW": (8.0, 1.0)}),                       # the gradient never divided by N
    ((1 / 8, 1), (1, 1), {"loss": (0.125, 1.0)}),               # the loss divided by N twice: one number, one fit
    ((1, 1), (-1, 0.5), {"dW": (-1.0, 0.5)}),                   # the data gradient's sign, and half the term
    ((1, 1), (0, 1), {"dW": (0.0, 1.0)}),                       # no data gradient at all, only the term's
    ((8, 8), (8, 8), {"loss": (8.0, 8.0), "dW": (8.0, 8.0)}),   # everything N times
    ((1 / 5, 1), (1 / 5, 1), {"loss": (0.2, 1.0), "dW": (0.2, 1.0)}),
    ((1, 1), (1, 0.5), None),                                   # only the term off: regularization.py says it
    ((0, 1), (1, 1), None),                                     # one number that is all term: its data may be 0 here
    ((1, 1), (0, 0), None),                                     # all zeros: the starter code's way, not a factor
    ((1, 1), (1.7, 1), None),                                   # no usual factor
    ((1, 1), (8 / 5, 1), {"dW": (8 / 5, 1.0)}),                 # N/C: divided by C instead of N (only N and C make 8/5)
])
def test_the_factor_off_in_each_outputs_data_part(loss, grad, found):
    fn = load_spec(ASSIGNMENT).function("svm_loss_naive")
    got = outputs(loss[0] * DATA[0] + loss[1] * REG[0], grad[0] * DATA[1] + grad[1] * REG[1])
    assert scale.scales(fn, got, SCALE_EXPECTED, SCALE_UNREGULARIZED, SIZES) == found


def test_without_a_regularization_term_the_whole_output_is_scaled():
    fn = load_spec(ASSIGNMENT).function("svm_loss_naive")
    loss, dW = DATA[0] + REG[0], DATA[1] + REG[1]
    assert scale.scales(fn, outputs(loss, 8 * dW), SCALE_EXPECTED, None, SIZES) == {"dW": (8.0, 8.0)}
    assert scale.scales(fn, outputs(loss, -dW + 1e-3), SCALE_EXPECTED, None, SIZES) is None
    ratio = {"N": 8, "C": 4, "D": 3}                            # 2 is N/C here: which the student wrote cannot be told
    assert scale.scales(fn, outputs(loss, 2 * dW), SCALE_EXPECTED, None, ratio) is None


def test_a_sum_divided_by_the_wrong_dim_is_named_by_the_two_dims():
    """A students' round divided dW by D, and loss and dW by C, where N was meant: the factor N/D or
    N/C, which only those two dims make here, is named by them; a single number (the loss) has
    such a factor only where an array of the same call has it (alone, it would fit many pairs)."""
    fn = load_spec(ASSIGNMENT).function("svm_loss_naive")
    (d_loss, d_grad), (r_loss, r_grad) = DATA, REG
    by_d = outputs(d_loss + r_loss, 8 / 3 * d_grad + r_grad)                 # dW's data part divided by D, not N
    found = scale.scales(fn, by_d, SCALE_EXPECTED, SCALE_UNREGULARIZED, SIZES)
    assert found == {"dW": (8 / 3, 1.0)}
    assert scale.describe(fn, found, SIZES) == (
        "Only a factor is off: the data part of `dW` (all but the regularization term) is N/D times what it should "
        "be (N is 8 and D is 3 in this case): it looks divided by D where it should be divided by N. The rest is right.")
    by_c = outputs(8 / 5 * d_loss + r_loss, 8 / 5 * d_grad + r_grad)        # both divided by C
    assert scale.scales(fn, by_c, SCALE_EXPECTED, SCALE_UNREGULARIZED, SIZES) == {"loss": (8 / 5, 1.0), "dW": (8 / 5, 1.0)}
    loss_alone = outputs(8 / 5 * d_loss + r_loss, d_grad + r_grad)
    assert scale.scales(fn, loss_alone, SCALE_EXPECTED, SCALE_UNREGULARIZED, SIZES) is None
    hidden = scale.describe(fn, {"dW": (8 / 3, 1.0)}, SIZES, exact=False)
    assert "is N/D times what it should be: it looks divided by D" in hidden and "3" not in hidden
    # N/C where C is N - 1 is also a sum divided by N - 1 (an unbiased average): not named.
    unbiased = outputs(6 / 5 * d_loss + r_loss, 6 / 5 * d_grad + r_grad)
    assert scale.scales(fn, unbiased, SCALE_EXPECTED, SCALE_UNREGULARIZED, {"N": 6, "D": 3, "C": 5}) is None

def test_an_output_right_as_it_is_needs_no_factor_of_its_own():
    """A loss that is right, whose data part is tiny beside its regularization term (2.8 beside
    9111 in a students' round), left its factor unresolved, and with it the factor of dW: the data
    gradient never divided by N went unnamed."""
    fn = load_spec(ASSIGNMENT).function("svm_loss_naive")
    big = outputs(DATA[0] + 1e4 * REG[0], DATA[1] + REG[1])
    big_zero = outputs(*DATA)
    got = outputs(DATA[0] + 1e4 * REG[0], 8 * DATA[1] + REG[1])
    assert scale.scales(fn, got, big, big_zero, SIZES) == {"dW": (8.0, 1.0)}


def test_the_factors_against_a_catalogued_mistakes_answer():
    """`over`: the student's answer against a mistake's, whose data part is its answer less the
    reference's regularization term: the mistake made, and the data gradient not divided by N."""
    fn = load_spec(ASSIGNMENT).function("svm_loss_naive")
    (d_loss, d_grad), (r_loss, r_grad) = DATA, REG
    mistake = outputs(1.7 * d_loss + r_loss, d_grad[::-1] + r_grad)         # another data part, the same term
    got = outputs(1.7 * d_loss + r_loss, 8 * d_grad[::-1] + r_grad)
    assert scale.scales(fn, got, SCALE_EXPECTED, SCALE_UNREGULARIZED, SIZES, over=mistake) == {"dW": (8.0, 1.0)}
    assert scale.scales(fn, got, SCALE_EXPECTED, SCALE_UNREGULARIZED, SIZES) is None
    assert scale.scales(fn, mistake, SCALE_EXPECTED, SCALE_UNREGULARIZED, SIZES, over=mistake) is None   # the mistake alone
    second = scale.describe(fn, {"dW": (8.0, 1.0)}, SIZES, alone=False)
    assert second == ("the data part of `dW` (all but the regularization term) is N times what it should be (N is 8 in "
                      "this case): it is not divided by N."), second


def _candidate_case(fn_name: str = "svm_loss_naive"):
    from grader.cases import Case
    from grader.spec import CaseSpec
    fn = load_spec(ASSIGNMENT).function(fn_name)
    return fn, Case(function=fn_name, spec=CaseSpec(visibility="public", index=1, seed=1), dims=dict(SIZES), args={})


def test_a_mistake_and_a_factor_is_named_only_where_both_show():
    from grader.judge.case import _mistake_and_factor
    fn, case = _candidate_case()
    (d_loss, d_grad), (r_loss, r_grad) = DATA, REG
    right = {"loss": False, "dW": False}
    mistake = outputs(1.7 * d_loss + r_loss, d_grad[::-1] + r_grad)
    got = outputs(1.7 * d_loss + r_loss, 8 * d_grad[::-1] + r_grad)
    found = _mistake_and_factor(fn, case, got, SCALE_EXPECTED, SCALE_UNREGULARIZED, [("m", "M's sentence.", mistake)], right)
    assert found == [(frozenset(["m"]), "two mistakes at once. (1) M's sentence. (2) Besides that, the data part of `dW` "
                      "(all but the regularization term) is N times what it should be (N is 8 in this case): it is not "
                      "divided by N.")], found
    # A mistake of the regularization term's (half of it in dW), and the student's data gradient with the
    # wrong sign and half the term: -1 times the mistake's answer less the term, and no term, fits; it is
    # scale.py's to say (sign and half the term), not this mistake and a factor.
    halved = outputs(d_loss + r_loss, d_grad + 0.5 * r_grad)
    signs = outputs(d_loss + r_loss, -d_grad + 0.5 * r_grad)
    assert _mistake_and_factor(fn, case, signs, SCALE_EXPECTED, SCALE_UNREGULARIZED, [("half", "H.", halved)],
                               {"loss": True, "dW": False}) == []
    # A factor that undoes the mistake: never averaged, then 1/N of that, is a right dW, and the loss is
    # wrong for another reason: not this mistake and a factor.
    unaveraged = outputs(8 * d_loss + r_loss, 8 * d_grad + r_grad)
    loss_off = outputs(1.7 * d_loss + r_loss, d_grad + r_grad)
    assert _mistake_and_factor(fn, case, loss_off, SCALE_EXPECTED, SCALE_UNREGULARIZED, [("avg", "A.", unaveraged)],
                               {"loss": False, "dW": True}) == []


def test_a_mistake_made_whole_in_some_outputs_and_another_output_wrong_besides():
    """A students' round cropped conv_backward's padding with [P:-P] (catalogued: dx empty where P is
    0) and also summed dw's windows without dout: nothing was named. The mistake is named where the
    student's answer has all of it, and the outputs it leaves alone are said to be wrong besides."""
    from grader.judge.case import _mistake_and_more
    fn, _case = _candidate_case()
    (d_loss, d_grad), (r_loss, r_grad) = DATA, REG
    loss_only = outputs(1.7 * d_loss + r_loss, d_grad + r_grad)          # a mistake that changes the loss alone
    got = outputs(1.7 * d_loss + r_loss, d_grad[::-1] + r_grad)          # ... and dW wrong for another reason
    wrong = {"loss": False, "dW": False}
    assert _mistake_and_more(fn, got, SCALE_EXPECTED, [("m", "M.", loss_only)], wrong) == [
        (frozenset(["m"]), "M. That is what makes `loss` wrong; `dW` is wrong besides, for another reason, which this "
                           "mistake does not change.")]
    both = outputs(1.7 * d_loss + r_loss, 2 * d_grad + r_grad)           # one that changes dW too, not as the student did
    assert _mistake_and_more(fn, got, SCALE_EXPECTED, [("b", "B.", both)], wrong) == []
    empty = {"loss": Leaf("python_number", "float", np.array(1.0)), "dW": Leaf("tensor", "torch.Tensor", np.zeros((2, 0)))}
    cropped = {**empty, "loss": SCALE_EXPECTED["loss"]}                  # an empty dx: its shape tells, as a crop [P:-P] makes it
    got_empty = {"loss": outputs(2.0, d_grad)["loss"], "dW": empty["dW"]}
    assert _mistake_and_more(fn, got_empty, SCALE_EXPECTED, [("c", "C.", cropped)], wrong) == [
        (frozenset(["c"]), "C. That is what makes `dW` wrong; `loss` is wrong besides, for another reason, which this "
                           "mistake does not change.")]


def test_a_catalogued_mistake_and_a_factor_besides_are_both_named(tmp_path):
    """A students' round: the softmax's normaliser never reset between examples (catalogued), and dW
    not divided by N besides: no single mistake, pair of mistakes or factor explained it."""
    catalogue = {m.name: m for m in load_catalogue(load_spec(ASSIGNMENT)).mistakes}
    mistake = catalogue["softmax_sum_not_reset"]
    source = variant_source(REFERENCE.read_text(), mistake)
    start = source.index("def softmax_loss_naive")
    end = source.index("\ndef ", start)
    source = source[:start] + source[start:end].replace("    dW /= num_train\n", "", 1) + source[end:]
    _stdout, cases = check(write(tmp_path, "not_reset_not_averaged", source), tmp_path)
    for case in cases["softmax_loss_naive"]:
        if case["status"] == "passed":
            continue
        said = case["diagnosis"]
        assert said.startswith("two mistakes at once. (1) " + mistake.sentence), said
        assert "the data part of `dW` (all but the regularization term) is N" in said and "it is not divided by N" in said, said


def test_the_factor_sentence_of_a_hidden_case_names_no_size():
    """'(N is 64 in this case)' on a hidden case told the student a hidden input's size: there the
    sentence names the dims, not their sizes, and no factor that is not a usual one."""
    fn = load_spec(ASSIGNMENT).function("svm_loss_naive")
    for found, dims in (({"dW": (8.0, 1.0)}, SIZES), ({"dW": (0.5, 1.0)}, {"N": 8, "D": 3, "C": 2}),
                        ({"loss": (0.2, 0.2)}, SIZES), ({"dW": (0.3271, 1.0)}, SIZES), ({"dW": (-1.0, 0.3271)}, SIZES)):
        text = scale.describe(fn, found, dims, exact=False)
        assert "in this case" not in text and "0.3271" not in text and "8" not in text, text
    assert scale.describe(fn, {"dW": (8.0, 1.0)}, SIZES, exact=False) == (
        "Only a factor is off: the data part of `dW` (all but the regularization term) is N times what it "
        "should be: it is not divided by N. The rest is right.")


def test_the_factor_sentence_says_what_is_off_and_what_it_usually_means():
    fn = load_spec(ASSIGNMENT).function("svm_loss_naive")
    text = scale.describe(fn, {"dW": (8.0, 1.0)}, SIZES)
    assert text == ("Only a factor is off: the data part of `dW` (all but the regularization term) is N times what it "
                    "should be (N is 8 in this case): it is not divided by N. The rest is right.")
    assert "`loss` is 1/C of what it should be (C is 5 in this case): it is divided by C once too often" in \
        scale.describe(fn, {"loss": (0.2, 0.2)}, SIZES)
    text = scale.describe(fn, {"dW": (-1.0, 0.5)}, SIZES)
    assert "the data part of `dW` (all but the regularization term) has the wrong sign" in text
    # A part missing is not "a factor off" to a student (students' round: a naive SVM without its data part).
    assert scale.describe(fn, {"dW": (0.0, 1.0)}, SIZES) == (
        "Only one part is off: the data part of `dW` (all but the regularization term) is missing: only the "
        "regularization term is there. The rest is right.")
    assert "`dW` has half of the regularization term's gradient" in text
    assert "N or D times" in scale.describe(fn, {"dW": (8.0, 1.0)}, {"N": 8, "D": 8, "C": 5})
    assert "is 1/N or 1/D of what it should be (N and D are 8 in this case): it is divided by N or D once too often" in \
        scale.describe(fn, {"dW": (0.125, 1.0)}, {"N": 8, "D": 8, "C": 5})
    assert "is half what it should be (or 1/C of it: C is 2 in this case)" in \
        scale.describe(fn, {"dW": (0.5, 1.0)}, {"N": 8, "D": 3, "C": 2})
    assert "is half what it should be (or 1/D or 1/C of it: D and C are 2 in this case)" in \
        scale.describe(fn, {"dW": (0.5, 1.0)}, {"N": 8, "D": 2, "C": 2})


@pytest.mark.slow
def test_a_gradient_never_averaged_is_named_in_a_check_and_in_the_handouts_self_check(tmp_path):
    """The batch's commonest bug in no catalogue: `loss /= num_train` written, `dW /= num_train` not."""
    source = REFERENCE.read_text().replace("    dW /= num_train\n", "")
    assert source != REFERENCE.read_text()
    said = "the data part of `dW` (all but the regularization term) is N times what it should be"
    _, cases = check(write(tmp_path, "sum", source), tmp_path)
    for name in ("svm_loss_naive", "softmax_loss_naive"):
        assert said in cases[name][0]["diagnosis"] and "it is not divided by N" in cases[name][0]["diagnosis"]
    cases = handout_check(tmp_path, "sum_handout", source)
    assert said in cases["svm_loss_naive"][0]["diagnosis"]


def test_a_mistake_made_in_some_outputs_only_names_them():
    """`partly`: the student's wrong outputs are the mistake's, the others right where the mistake's are not."""
    from grader.judge.case import partly
    fn = load_spec(ASSIGNMENT).function("svm_loss_naive")
    right, mistake = outputs(1.75, DATA_GRAD), outputs(2.5, DATA_GRAD * 3)
    assert partly(fn, outputs(1.75, DATA_GRAD * 3), mistake, right) == ["dW"]          # the gradient only
    assert partly(fn, outputs(2.5, DATA_GRAD), mistake, right) == ["loss"]             # the loss only
    assert partly(fn, outputs(2.5, DATA_GRAD * 3), mistake, right) == []               # all of it: a plain match
    assert partly(fn, outputs(1.75, DATA_GRAD * 2), mistake, right) == []              # another bug in dW
    assert partly(fn, outputs(1.75, DATA_GRAD * 3), outputs(1.75, DATA_GRAD * 3), right) == []   # nothing spared
    assert partly(fn, outputs(1.75, DATA_GRAD * 3), None, right) == []


def test_an_output_with_no_finite_number_is_not_taken_for_a_mistakes():
    """A NaN loss beside a right gradient (log(p - 1) after `dscores = probs` changed probs) is not
    the overflow mistake made in the loss only, though that mistake's loss is NaN too; a loss NaN at
    the same place as the mistake's among finite numbers that agree still is."""
    from grader.judge.case import partly
    fn = load_spec(ASSIGNMENT).function("svm_loss_naive")
    right = outputs(1.75, DATA_GRAD)
    overflow = outputs(np.nan, DATA_GRAD * np.nan)
    assert partly(fn, outputs(np.nan, DATA_GRAD), overflow, right) == []
    assert partly(fn, outputs(np.inf, DATA_GRAD), outputs(np.inf, DATA_GRAD * 3), right) == []
    some = np.array([[np.nan, -0.2], [0.3, 0.05]]) * 3
    assert partly(fn, outputs(1.75, some), outputs(2.5, some), right) == ["dW"]


@pytest.mark.slow
def test_a_catalogued_mistake_made_in_the_gradient_only_is_named(tmp_path):
    """The correct class counted in the vectorized gradient's margins, skipped in the loss."""
    catalogue = {m.name: m for m in load_catalogue(load_spec(ASSIGNMENT)).mistakes}
    source = REFERENCE.read_text().replace("    coeff = (margins > 0).to(X.dtype)                  # (N, C)\n",
                                           "    coeff = ((scores - correct + 1) > 0).to(X.dtype)\n")
    assert source != REFERENCE.read_text()
    _, cases = check(write(tmp_path, "grad_only", source), tmp_path)
    for case in cases["svm_loss_vectorized"]:
        assert case["diagnosis"].startswith("Only `dW` is wrong, exactly as this mistake makes it; your `loss` is "
                                            "right, so only what this says of `dW` applies: "), case["diagnosis"]
        assert case["diagnosis"].endswith(catalogue["correct_class_in_hinge"].sentence)


def test_regularization_must_name_a_float_scalar_argument(tmp_path):
    folder = tmp_path / "a"
    shutil.copytree(ASSIGNMENT, folder)
    text = (folder / "assignment.yaml").read_text()
    (folder / "assignment.yaml").write_text(text.replace("regularization: reg", "regularization: W"))
    with pytest.raises(SpecError) as e:
        load_spec(folder)
    assert "regularization" in str(e.value) and "must be one of reg" in str(e.value)


def test_two_mistakes_are_paired_only_where_they_touch_a_common_function():
    catalogue = load_catalogue(load_spec(ASSIGNMENT))
    pairs = {m.parts: m for m in compositions(catalogue)}
    assert pairs[("no_average", "correct_class_in_hinge")].touches == ("svm_loss_naive", "svm_loss_vectorized")
    assert ("correct_class_in_hinge", "softmax_wrong_axis") not in pairs      # svm and softmax: nothing in common
    assert not {name for parts in pairs for name in parts} & {m.name for m in catalogue.variants}   # not_mistakes pass


def write(tmp_path, name: str, source: str):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "linear_classifier.py").write_text(source)
    return folder


def check(folder, tmp_path):
    report = tmp_path / f"{folder.name}.json"
    proc = subprocess.run([GRADER, "check", str(folder), "-a", "linear_classifier", "--json", str(report)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr
    cases = {}
    for fn in json.loads(report.read_text())["functions"]:
        cases[fn["name"]] = fn["cases"]
    return proc.stdout, cases


def test_two_catalogued_mistakes_at_once_are_both_named(tmp_path):
    catalogue = {m.name: m for m in load_catalogue(load_spec(ASSIGNMENT)).mistakes}
    a, b = catalogue["reg_half_in_grad"], catalogue["no_average"]
    both = Mistake("both", "", a.edits + b.edits, False)
    stdout, cases = check(write(tmp_path, "both", variant_source(REFERENCE.read_text(), both)), tmp_path)
    for case in cases["svm_loss_naive"] + cases["softmax_loss_vectorized"]:
        assert case["status"] == "failed"
        assert case["diagnosis"].startswith("two mistakes at once.")
        assert a.sentence in case["diagnosis"] and b.sentence in case["diagnosis"]


def test_a_case_blind_to_part_of_a_mistake_is_told_by_the_functions_other_cases(tmp_path):
    """No max shift and `reg * W` in dW: on the case whose loss overflows to inf, `reg * W` could be
    the 1/2 convention too (a loss with 0.5 * reg), which only the loss tells apart. The other cases,
    with a finite loss, name reg_half_in_grad alone: that case names it too, and not the other."""
    catalogue = {m.name: m for m in load_catalogue(load_spec(ASSIGNMENT)).mistakes}
    source = REFERENCE.read_text().replace("        scores = scores - scores.max()                 # numerical stability\n", "", 1)
    start = source.index("def softmax_loss_naive")
    end = source.index("\ndef ", start)
    source = source[:start] + source[start:end].replace("dW += 2 * reg * W", "dW += reg * W") + source[end:]
    folder = write(tmp_path, "no_shift_half_grad", source)
    report = tmp_path / "report.json"
    proc = subprocess.run([GRADER, "check", str(folder), "-a", "linear_classifier", "--hidden", "--json", str(report)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr
    cases = next(fn["cases"] for fn in json.loads(report.read_text())["functions"] if fn["name"] == "softmax_loss_naive")
    both = [c["diagnosis"] for c in cases if c["diagnosis"].startswith("two mistakes at once.")]
    assert both, [c["diagnosis"] for c in cases]
    for said in both:
        assert catalogue["reg_half_in_grad"].sentence in said and catalogue["no_max_shift"].sentence.split(" (")[0] in said
        assert " Or: " not in said and catalogue["reg_half_in_both"].sentence not in said, said


def test_of_several_explanations_a_case_keeps_those_naming_the_mistakes_found_alone_elsewhere():
    from grader.judge.case import narrow, said
    a, b, c = frozenset(["a"]), frozenset(["b"]), frozenset(["c"])
    named = {"1": [(a, "A")], "2": [(a | c, "A and C"), (b | c, "B and C")], "3": [(c, "C")],
             "4": [(b, "B"), (frozenset(["d"]), "D")]}
    assert narrow(None, named) == {"2": [(a | c, "A and C")]}          # 4: neither b nor d was found alone
    assert said(narrow(None, named)["2"]) == "A and C"
    assert narrow(None, {"1": [(a, "A"), (b, "B")], "2": [(a, "A"), (b, "B")]}) == {}    # nothing alone: both kept
    assert narrow(None, {"1": [(frozenset(), "a factor")], "2": [(a, "A"), (b, "B")]}) == {}
    assert said([(a, "A"), (b, "B"), (c, "C")]) == "A Or: B"


def test_a_mistake_another_case_contradicts_is_not_named():
    """A mistake named on a small case, where another case on which it would show was answered
    right, or wrong and not by it, is a coincidence of the small case's numbers: not named there."""
    from grader.cases import make_case
    from grader.judge.case import narrow
    spec = load_spec(ASSIGNMENT)
    fn = spec.function("svm_loss_naive")
    one, two, three = (make_case(spec, fn, c) for c in fn.cases[:3])
    right, off = outputs(1.0, [[0.5, 0.5]]), outputs(1.0, [[0.5, 0.7]])

    class Catalogue:                     # "m" changes dW on cases 1 and 2, and nothing on case 3
        def candidates(self, fn, case):
            return [("m", "M", off if case is not three else right), ("n", "N", right)]

    m = [(frozenset(["m"]), "M")]
    judged = {"1": (one, right, off), "2": (two, right, right), "3": (three, right, right)}
    # case 2 answered right, where m would have been wrong: m on case 1 is a coincidence
    assert narrow(fn, {"1": m}, judged, Catalogue()) == {"1": []}
    # case 2 wrong, and explained without m: the same
    other = outputs(1.0, [[0.9, 0.5]])
    assert narrow(fn, {"1": m, "2": [(frozenset(["n"]), "N")]}, {**judged, "2": (two, right, other)}, Catalogue()) == {"1": []}
    # ... or wrong, unexplained and finite: the same; but a NaN there hides what else is wrong
    assert narrow(fn, {"1": m}, {**judged, "2": (two, right, other)}, Catalogue()) == {"1": []}
    assert narrow(fn, {"1": m}, {**judged, "2": (two, right, outputs(np.nan, [[np.nan, 0.5]]))}, Catalogue()) == {}
    # ... but not explained by a factor or a regularization term, which may be m said another way
    assert narrow(fn, {"1": m, "2": [(frozenset(), "a factor")]}, {**judged, "2": (two, right, other)}, Catalogue()) == {}
    # m named on both cases where it shows, case 3 right where m is right too: kept
    assert narrow(fn, {"1": m, "2": m}, {**judged, "2": (two, right, off)}, Catalogue()) == {}
    # an overflow matched is kept, whatever the other cases say
    nan = outputs(np.nan, [[np.nan, 0.5]])
    assert narrow(fn, {"1": m}, {**judged, "1": (one, right, nan)}, Catalogue()) == {}
    # a case not judged on an answer (it raised, or timed out) says nothing
    assert narrow(fn, {"1": m}, {"1": judged["1"], "3": judged["3"]}, Catalogue()) == {}


def test_a_mistake_that_would_be_right_where_the_student_is_wrong_is_not_named():
    """A mistake named on one case by shapes alone (an empty dx at pad = 0, as `pad:-pad` gives) that
    gives the reference's answer on another, where the student's answer is wrong in the same output and
    unexplained: the student did something else, which looked like it on the first case."""
    from grader.cases import make_case
    from grader.judge.case import narrow
    spec = load_spec(ASSIGNMENT)
    fn = spec.function("svm_loss_naive")
    one, two, three = (make_case(spec, fn, c) for c in fn.cases[:3])
    right, other = outputs(1.0, [[0.5, 0.5]]), outputs(1.0, [[0.9, 0.5]])
    empty, off = outputs(1.0, np.zeros((0, 2))), outputs(1.0, [[0.5, 0.7]])

    def catalogue(named_there):
        class Catalogue:                 # "m" changes dW on case 1 only
            def candidates(self, fn, case):
                return [("m", "M", named_there if case is one else right)]
        return Catalogue()

    m = [(frozenset(["m"]), "M")]
    judged = {"1": (one, right, empty), "2": (two, right, other), "3": (three, right, right)}
    assert narrow(fn, {"1": m}, judged, catalogue(empty)) == {"1": []}
    # the student right where m is right: kept
    assert narrow(fn, {"1": m}, {**judged, "2": (two, right, right)}, catalogue(empty)) == {}
    # wrong there in another output only (the loss; dW right): a second mistake beside m, kept
    assert narrow(fn, {"1": m}, {**judged, "2": (two, right, outputs(2.0, [[0.5, 0.5]]))}, catalogue(empty)) == {}
    # wrong there and explained by something else: kept
    assert narrow(fn, {"1": m, "2": [(frozenset(["n"]), "N")]}, judged, catalogue(empty)) == {}
    # named by numbers that agree (eps outside the sqrt in train mode, where the student put it in test
    # mode too, and the catalogue's only in train mode): kept
    assert narrow(fn, {"1": m}, {**judged, "1": (one, right, off)}, catalogue(off)) == {}


def test_a_factor_said_of_one_case_says_so_when_another_case_is_wrong_besides():
    from grader.cases import make_case
    from grader.judge.case import narrow
    spec = load_spec(ASSIGNMENT)
    fn = spec.function("svm_loss_naive")
    one, two = (make_case(spec, fn, c) for c in fn.cases[:2])
    right, half, other = outputs(1.0, [[0.5, 0.5]]), outputs(1.0, [[0.25, 0.25]]), outputs(1.0, [[0.9, 0.5]])

    class Catalogue:
        def candidates(self, fn, case):
            return []

        def starter(self, fn, case):
            return None

        def unregularized(self, fn, case):
            return None

    factor = [(frozenset(), "Only a factor is off. The rest is right.")]
    kept = narrow(fn, {"1": factor}, {"1": (one, right, half), "2": (two, right, other)}, Catalogue())
    assert kept == {"1": [(frozenset(), "Only a factor is off. The rest is right. (That is of this case: 2 fails "
                                        "otherwise, which this may not explain; look at it once this is fixed.)")]}
    # the other case explained too, or right: nothing added
    assert narrow(fn, {"1": factor, "2": factor}, {"1": (one, right, half), "2": (two, right, other)}, Catalogue()) == {}
    assert narrow(fn, {"1": factor}, {"1": (one, right, half), "2": (two, right, right)}, Catalogue()) == {}
    # the other case wrong by a factor too, which its own explanation could not say (a single value, a
    # product of dims): the same mistake, as far as anyone can tell
    doubled = outputs(1.0, [[1.0, 1.0]])
    assert narrow(fn, {"1": factor}, {"1": (one, right, half), "2": (two, right, doubled)}, Catalogue()) == {}


@pytest.mark.slow
def test_a_backward_handed_what_its_forward_changed_in_place_is_not_judged_nor_diagnosed(tmp_path):
    """relu_forward clamps x in place (np.maximum(x, 0, out=x)) and caches it: a right relu_backward
    then finds no x < 0, and its answer is the catalogue's "no mask". Not judged, sent to the forward."""
    source = (REPO / "reference" / "cs231n_layers" / "layers.py").read_text()
    start = source.index("def relu_forward")
    end = source.index("\ndef ", start)
    body = source[start:end]
    assert "np.maximum(0, x)" in body, body
    source = source[:start] + body.replace("np.maximum(0, x)", "np.maximum(x, 0, out=x)") + source[end:]
    assert "    dx = dout * (x > 0)\n" in source
    source = source.replace("    dx = dout * (x > 0)\n", "    dx = dout.copy()\n    dx[x < 0] = 0\n")   # right on its own
    folder = tmp_path / "inplace"
    folder.mkdir()
    (folder / "layers.py").write_text(source)
    report = tmp_path / "report.json"
    proc = subprocess.run([GRADER, "check", str(folder), "-a", "cs231n_layers", "--json", str(report)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr
    functions = {fn["name"]: fn for fn in json.loads(report.read_text())["functions"]}
    for case in functions["relu_backward"]["cases"]:
        assert case["status"] == "error" and not case["diagnosis"], case
        assert case["message"].startswith("not judged: your relu_forward changes its input x in place"), case["message"]
    assert "changed its input x in place" in functions["relu_forward"]["cases"][0]["message"]


def test_a_mistake_whose_numbers_a_small_case_happens_to_make_is_not_named(tmp_path):
    """The correct class's count taken over the wrong axis (`coeff.sum(axis=1)[y]`): on the cases of
    one or two examples its dW is exactly that of the correct class forgotten, which the larger
    cases, failing otherwise, contradict. The small cases get the hints instead."""
    spec_folder = REPO / "assignments" / "cs231n_2015"
    catalogue = {m.name: m for m in load_catalogue(load_spec(spec_folder)).mistakes}
    folder = tmp_path / "axis"
    folder.mkdir()
    for name in ("linear_svm.py", "softmax.py"):
        (folder / name).write_text((REPO / "reference" / "cs231n_2015" / name).read_text())
    code = (folder / "linear_svm.py").read_text()
    assert "coeff[y, cols] = -coeff.sum(axis=0)" in code
    (folder / "linear_svm.py").write_text(code.replace("coeff[y, cols] = -coeff.sum(axis=0)", "coeff[y, cols] = -coeff.sum(axis=1)[y]"))
    report = tmp_path / "report.json"
    proc = subprocess.run([GRADER, "check", str(folder), "-a", str(spec_folder), "--hidden", "--json", str(report)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr
    cases = next(fn["cases"] for fn in json.loads(report.read_text())["functions"] if fn["name"] == "svm_loss_vectorized")
    small = [c for c in cases if c["dims"]["N"] <= 2]
    assert small and all(c["status"] == "failed" for c in small)
    forgotten = catalogue["correct_class_gradient_forgotten"].sentence
    assert not [c["case_id"] for c in cases if forgotten in c["diagnosis"]]
    assert all(c["details"].startswith("Hint: only dW's row") for c in small), [c["details"] for c in small]


def test_a_regularization_term_added_before_the_average_is_named(tmp_path):
    source = REFERENCE.read_text().replace(
        "    loss /= num_train\n    dW /= num_train\n    loss += reg * torch.sum(W * W)\n    dW += 2 * reg * W\n",
        "    loss += reg * torch.sum(W * W)\n    dW += 2 * reg * W\n    loss /= num_train\n    dW /= num_train\n")
    stdout, cases = check(write(tmp_path, "early_reg", source), tmp_path)
    (case, *_) = cases["softmax_loss_naive"]
    assert "Only the regularization term (weighed by `reg`) is off" in case["diagnosis"]
    assert "`loss` has 1/N of the regularization term" in case["diagnosis"]
    assert all(c["status"] == "passed" for c in cases["svm_loss_naive"])


def test_the_starter_code_is_not_implemented_yet_rather_than_wrong(tmp_path):
    stdout, cases = check(write(tmp_path, "starter", strip_solutions(REFERENCE.read_text(), stub="pass")), tmp_path)
    for name, results in cases.items():
        assert {c["status"] for c in results} == {"not_implemented"}, name
        assert results[0]["message"] == (f"{name} is not implemented yet: it returns what the handout's code "
                                         "returns before the TODO is written (loss 0, dW all zeros)")


def test_an_output_left_as_the_starter_code_makes_it_is_named(tmp_path):
    source = REFERENCE.read_text().replace(
        "    dscores = log_probs.exp()                          # probabilities, (N, C)\n    dscores[rows, y] -= 1\n"
        "    dW = X.t().mm(dscores) / num_train + 2 * reg * W\n", "")
    stdout, cases = check(write(tmp_path, "loss_only", source), tmp_path)
    (case, *_) = cases["softmax_loss_vectorized"]
    assert case["status"] == "failed"
    assert case["diagnosis"].startswith("`dW` is still what the handout's starting code returns (dW all zeros)")


def handout_check(tmp_path, name: str, source: str):
    """`grader check` as a student runs it: in a copy of the handout, which has no reference."""
    folder = shutil.copytree(REPO / "student_template" / "linear_classifier", tmp_path / name)
    (folder / "linear_classifier.py").write_text(source)
    report = tmp_path / f"{name}.json"
    proc = subprocess.run([GRADER, "check", ".", "-a", "linear_classifier", "--json", str(report)],
                          cwd=folder, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr
    return {fn["name"]: fn["cases"] for fn in json.loads(report.read_text())["functions"]}


LOPEZ = REPO / "tests" / "similarity" / "independent" / "linear_classifier" / "lopez" / "linear_classifier.py"


@pytest.mark.slow
@pytest.mark.parametrize("path, reg_grad, softmax_grad", [
    (REFERENCE, "    dW = X.t().mm(coeff) / num_train + 2 * reg * W\n",
     "    dscores = log_probs.exp()                          # probabilities, (N, C)\n    dscores[rows, y] -= 1\n"
     "    dW = X.t().mm(dscores) / num_train + 2 * reg * W\n"),
    (LOPEZ, "    return reg * (W ** 2).sum(), 2 * reg * W\n",      # written apart from the reference: one helper for the term
     "    dW = X.T @ (probs - target) / count + grad\n"),
], ids=["reference", "independent"])
def test_a_self_check_from_the_handout_names_a_regularization_factor_and_unwritten_outputs(tmp_path, path, reg_grad,
                                                                                          softmax_grad):
    """The handout records the starter code's and the unregularized reference's outputs on the public
    cases, so a student's self-check names these as the instructor's check does, without the reference."""
    source = path.read_text()
    reg_only = source.replace(reg_grad, reg_grad.replace("2 * reg * W", "3 * reg * W"))
    loss_only = source.replace(softmax_grad, "")
    assert source != reg_only and source != loss_only
    cases = handout_check(tmp_path, "reg", reg_only)
    assert cases["svm_loss_vectorized"][0]["diagnosis"].startswith("Only the regularization term (weighed by `reg`) is off")
    assert "`dW` has 1.5 times the regularization term's gradient" in cases["svm_loss_vectorized"][0]["diagnosis"]
    cases = handout_check(tmp_path, "loss_only", loss_only)
    assert cases["softmax_loss_vectorized"][0]["diagnosis"].startswith(
        "`dW` is still what the handout's starting code returns (dW all zeros)")


def test_a_wrong_output_and_an_input_changed_in_place_are_both_said():
    """`X -= X.mean(dim=0)` makes the loss wrong and changes X: the message says both, the wrong
    value first, each part in the words it has alone."""
    from grader.cases import make_case
    from grader.judge.case import judge_case
    from grader.run.outcome import Outcome
    spec = load_spec(ASSIGNMENT)
    fn = spec.function("svm_loss_naive")
    case = make_case(spec, fn, fn.cases[0])
    dW = np.arange(case.dims["D"] * case.dims["C"], dtype=float).reshape(case.dims["D"], case.dims["C"])
    expected = Outcome("returned", outputs=outputs(10.2, dW))

    def message(loss, changed):
        got = Outcome("returned", outputs=outputs(loss, dW), changed=[((name,), 0) for name in changed])
        result = judge_case(spec, fn, case, expected, got, import_errors={})
        assert result.status == "failed"
        return result.message

    wrong = "loss: expected 10.2, got 10.23 (relative error 0.0029, tolerance 1e-06)"
    assert message(10.23, []) == wrong
    assert message(10.23, ["X"]) == (f"{wrong}; it also changed its input X in place: work on copies "
                                     "(e.g. X = X.clone()) or write new arrays")
    assert message(10.2, ["X"]) == ("svm_loss_naive changed its input X in place; work on copies (e.g. X = X.clone()) "
                                    "or write new arrays. What it returns is right: this is all that is wrong here")
    assert message(10.2, ["X", "W"]).startswith("svm_loss_naive changed its inputs X, W in place; ")


def test_an_output_of_the_wrong_dtype_gets_no_hint_about_its_values():
    """A float32 dW (torch.zeros(W.shape)) fails on its dtype; its values, judged at no precision,
    were followed by "Hint: only dW's columns 1, 3, 6 are wrong", a bug the student did not write."""
    from grader.cases import make_case
    from grader.judge.case import judge_case
    from grader.run.outcome import Outcome
    spec = load_spec(ASSIGNMENT)
    fn = spec.function("svm_loss_naive")
    case = make_case(spec, fn, fn.cases[0])
    dW = np.random.default_rng(0).normal(size=(case.dims["D"], case.dims["C"]))
    expected = Outcome("returned", outputs=outputs(10.2, dW))
    low = dW.astype(np.float32)
    low[:, 1] += 1e-3                                  # one column off: said when the dtype is right
    result = judge_case(spec, fn, case, expected, Outcome("returned", outputs={**outputs(10.2, dW), "dW": Leaf(
        "tensor", "torch.Tensor", low)}), import_errors={})
    assert result.message.startswith("dW: expected dtype float64, got float32")
    assert "Hint" not in result.details
    result = judge_case(spec, fn, case, expected, Outcome("returned", outputs=outputs(10.2, low.astype(np.float64))),
                        import_errors={})
    assert "Hint: only dW's column 1 is wrong" in result.details


def test_a_diagnosis_sets_aside_only_variants_that_cannot_match_the_answer():
    """`_near`, the first-number test of all of a case's variants at once, says no only where
    `matches` would: a variant that differs at an output's first number by more than the
    tolerance. Everything else (a match, a difference further on, NaN and inf, no number there, no
    answer at all) is left to `matches`."""
    from grader.judge.case import _near, matches
    fn = load_spec(ASSIGNMENT).function("svm_loss_naive")
    got = outputs(1.75, DATA_GRAD)
    rng = np.random.default_rng(0)
    variants = [outputs(1.75, DATA_GRAD), outputs(1.75 * (1 + 1e-9), DATA_GRAD), outputs(1.76, DATA_GRAD),
                outputs(1.75, DATA_GRAD + [[0, 0], [0, 1]]), outputs(1.75, DATA_GRAD + [[1, 0], [0, 0]]),
                outputs(np.nan, DATA_GRAD), outputs(np.inf, DATA_GRAD), outputs(1.75, DATA_GRAD[:1]),
                {"loss": got["loss"]}, {"loss": Leaf("none"), "dW": got["dW"]}, None, "raised"]
    variants += [outputs(1.75 + rng.normal() * 10.0 ** rng.integers(-9, 1), DATA_GRAD + rng.normal(size=(2, 2)) * 10.0 ** rng.integers(-9, 1, size=(2, 2)))
                 for _ in range(200)]
    near = _near(fn, got, variants)
    assert near[:12] == [True, True, False, True, False, True, True, True, True, True, True, True]
    assert all(near[k] for k, v in enumerate(variants) if isinstance(v, dict) and matches(fn, got, v))
    assert 20 < near[12:].count(False) < 190     # the random ones: both kinds, and every one set aside is no match
    for loss in (np.nan, np.inf):               # an answer's first number that is not finite tests nothing
        assert _near(fn, outputs(loss, DATA_GRAD), [outputs(1.76, DATA_GRAD), outputs(1.76, DATA_GRAD + 1)]) == [True, False]


def test_properties_broken_alike_need_alike_shares_of_their_entries():
    from grader.judge.case import _broken_alike
    always = {"property same_mask": (1.0, 3000)}
    assert _broken_alike(always, {"property same_mask": (0.998, 3000)})               # chance: a zero in dout
    assert not _broken_alike(always, {"property same_mask": (0.613, 3000)})          # the kept units only
    assert not _broken_alike(always, {"property other": (1.0, 3000)}) and not _broken_alike(always, {})
    assert _broken_alike({"property same_mask": (0.62, 30)}, {"property same_mask": (0.55, 30)})   # a small case tells less
    assert _broken_alike({"property p": (1.0, 1)}, {"property p": (1.0, 1)}) and _broken_alike({}, {})


@pytest.mark.slow
def test_a_dropout_backward_that_forgets_1_over_p_is_not_said_to_pass_dout_unchanged(tmp_path):
    """Both break "dx is dout times the mask", but the mask without its 1/p breaks it at the kept
    units only: a different mistake, which the catalogued one must not be named for."""
    folder = tmp_path / "student"
    shutil.copytree(REPO / "reference" / "cs231n_layers", folder)
    source = (folder / "layers.py").read_text()
    (folder / "layers.py").write_text(source.replace("        dx = dout * mask\n", "        dx = dout * (mask > 0)\n"))
    assert (folder / "layers.py").read_text() != source
    report = tmp_path / "report.json"
    proc = subprocess.run([GRADER, "check", str(folder), "-a", "cs231n_layers", "--hidden", "--json", str(report)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr
    cases = next(fn["cases"] for fn in json.loads(report.read_text())["functions"] if fn["name"] == "dropout_backward")
    failed = [c for c in cases if c["status"] == "failed"]
    assert failed and all("dout through unchanged" not in c["diagnosis"] for c in failed), failed


def test_which_graded_functions_a_function_calls_is_read_from_its_source():
    from grader.judge.checks import calls_between
    source = ("class Linear:\n    @staticmethod\n    def backward(d, c):\n        return d\n\n"
              "class Pair:\n    @staticmethod\n    def backward(d, c):\n        return Linear.backward(d, c)\n\n"
              "class Net:\n    def loss(self, x):\n        return self._grads(x)\n\n"
              "    def _grads(self, x):\n        return Pair.backward(x, None)\n\n"
              "def alone(x):\n    return x\n")
    names = ["Linear.backward", "Pair.backward", "Net.loss", "alone", "missing"]
    assert calls_between(source, "m.py", names) == {
        "Linear.backward": set(), "Net.loss": {"Pair.backward", "Linear.backward"}, "Pair.backward": {"Linear.backward"},
        "alone": set()}
    assert calls_between("def broken(:\n", "m.py", names) == {}


@pytest.mark.slow
def test_a_network_failing_because_a_layer_it_calls_fails_says_which_to_fix_first(tmp_path):
    """A Linear.backward returning dw transposed makes TwoLayerNet.loss raise in the student's own
    line (`grads['W1'] = dW1 + ...`): its cases point at the layer, the root of the chain."""
    folder = tmp_path / "student"
    shutil.copytree(REPO / "reference" / "fully_connected_networks", folder)
    module = folder / "fully_connected_networks.py"
    source = module.read_text()
    module.write_text(source.replace("        dw = x_rows.t().mm(dout)\n", "        dw = x_rows.t().mm(dout).t()\n"))
    assert module.read_text() != source
    report = tmp_path / "report.json"
    proc = subprocess.run([GRADER, "check", str(folder), "-a", "fully_connected_networks", "--json", str(report)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr
    cases = {fn["name"]: fn["cases"] for fn in json.loads(report.read_text())["functions"]}
    loss = [c for c in cases["TwoLayerNet.loss"] if c["status"] != "passed"]
    assert loss and all("Hint: TwoLayerNet.loss calls your Linear.backward (also through the handout's "
                        "Linear_ReLU.backward), which fails its own cases: fix Linear.backward first" in c["details"]
                        for c in loss), loss
    assert all("Hint: TwoLayerNet.loss calls" not in c["details"] for c in cases["Linear.backward"])


@pytest.mark.slow
def test_a_float32_layer_fails_itself_and_no_hint_sends_the_student_to_fix_the_handouts_code(tmp_path):
    """A fourteenth students' round (f25): Linear.forward in float32 got full marks, the handout's own
    Linear_ReLU.forward calling it failed, and the networks' cases said "fix Linear_ReLU.forward first",
    code the student did not write. Linear.forward's out is float64 by the spec now, and the handout's
    functions (given: true) are never the ones to fix: the student's Linear.forward is named."""
    folder = tmp_path / "student"
    shutil.copytree(REPO / "reference" / "fully_connected_networks", folder)
    module = folder / "fully_connected_networks.py"
    source = module.read_text()
    module.write_text(source.replace("        out = x_rows.mm(w) + b\n",
                                     "        out = x_rows.float().mm(w.float()) + b.float()\n"))
    assert module.read_text() != source
    report = tmp_path / "report.json"
    proc = subprocess.run([GRADER, "check", str(folder), "-a", "fully_connected_networks", "--json", str(report)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr
    functions = {fn["name"]: fn for fn in json.loads(report.read_text())["functions"]}
    forward = functions["Linear.forward"]["cases"]
    assert forward and all("expected dtype float64, got float32" in c["message"] for c in forward), forward
    said = [c["message"] + "\n" + c["details"] for fn in functions.values() for c in fn["cases"]] + \
        [c["message"] for fn in functions.values() for c in fn["checks"]]
    assert not [t for t in said if "fix Linear_ReLU" in t or "your Linear_ReLU" in t], said
    assert any("fix your Linear.forward first (Linear_ReLU.forward calls it; see its own cases)" in t for t in said), said
    relu = functions["Linear_ReLU.forward"]["cases"][0]["details"]
    assert "Linear_ReLU.forward is the handout's code, and it calls your Linear.forward" in relu, relu


def test_the_handouts_functions_are_those_the_reference_gives_whole():
    """`given: true` marks exactly the graded functions with no solution block in the reference: the
    handout's code, which no hint may send the student to fix."""
    from grader.spec import load_spec as load
    for folder in sorted((REPO / "assignments").iterdir()):
        spec = load(folder / "assignment.yaml")
        for fn in spec.functions:
            stub = strip_solutions((spec.reference_dir / f"{fn.module}.py").read_text(encoding="utf-8"))
            assert fn.given == (f'"{fn.name} is not implemented yet"' not in stub), (folder.name, fn.name)


def test_a_function_calling_another_graded_function_that_fails_gets_the_hint():
    from grader.grade import _hint_broken_callees
    from grader.results import CaseResult, FunctionResult, OutputCheck
    spec = load_spec(ASSIGNMENT)
    names = [fn.name for fn in spec.functions]

    def results(**blocked):
        """Every function's one case raised; `blocked` ones only "not judged" because of another."""
        return {n: FunctionResult(n, "linear_classifier", [
            CaseResult(n, "public-1", "public", 1, "error", exception="RuntimeError", blocked_by=blocked.get(n, "")),
            CaseResult(n, "public-2", "public", 2, "failed", outputs=[OutputCheck("dW", False, max_rel_error=3.0)]),
            CaseResult(n, "public-3", "public", 3, "failed", outputs=[OutputCheck("dW", False, "dW: expected shape (5, 3), "
                                                                                  "got (3, 5)")])]) for n in names}
    lazy = REFERENCE.read_text() + ("\n\ndef softmax_loss_vectorized(W, X, y, reg):\n"
                                    "    return softmax_loss_naive(W, X, y, reg)\n")
    functions = results()
    _hint_broken_callees(spec, functions, lambda module: lazy)
    hint = ("Hint: softmax_loss_vectorized calls your softmax_loss_naive, which fails its own cases: fix "
            "softmax_loss_naive first")
    lazy_cases = functions["softmax_loss_vectorized"].cases
    assert lazy_cases[0].details.startswith(hint)
    # wrong values, with nothing naming a cause: the callee first (a ReLU.backward forgetting dout
    # made a network's gradients wrong, and its cases pointed at "a missing epsilon", a students' round)
    assert lazy_cases[1].details.startswith(hint)
    # an answer of the wrong shape (grads['b1'] of shape (6,) from a Linear.backward summing db over
    # the wrong axis, a students' round): the callee's doing more likely than not
    assert lazy_cases[2].details.startswith(hint)
    assert all(c.details == "" for n in names if n != "softmax_loss_vectorized" for c in functions[n].cases)
    functions = results()
    located = "Hint: only dW[1, 0] is wrong (of 15 entries): look at what is special there"
    functions["softmax_loss_vectorized"].cases[1].details = located
    functions["softmax_loss_vectorized"].cases[2].diagnosis = "Probably: a catalogued mistake."
    _hint_broken_callees(spec, functions, lambda module: lazy)
    assert functions["softmax_loss_vectorized"].cases[1].details == hint + ", as what it returns may be why this case fails.\n" + located
    assert functions["softmax_loss_vectorized"].cases[2].details == ""     # a cause is named already
    # no answer at all (returned None, or too few values): the function's own return, never the callee's doing
    # (a network's loss that stopped early was sent to fix its Dropout.forward first, an eleventh students' round)
    functions = results()
    functions["softmax_loss_vectorized"].cases[1].outputs = []
    functions["softmax_loss_vectorized"].cases[1].message = "softmax_loss_vectorized returned None; expected 2 values"
    _hint_broken_callees(spec, functions, lambda module: lazy)
    assert functions["softmax_loss_vectorized"].cases[1].details == ""
    functions = results()
    _hint_broken_callees(spec, functions, lambda module: REFERENCE.read_text())     # none calls another
    assert all(c.details == "" for n in names for c in functions[n].cases)
    functions = results(softmax_loss_naive="svm_loss_naive")
    for case in functions["softmax_loss_naive"].cases[1:]:
        case.status = "passed"                                       # only "not judged": not failing on its own
    _hint_broken_callees(spec, functions, lambda module: lazy)
    assert functions["softmax_loss_vectorized"].cases[0].details == ""


def test_a_case_blocked_by_a_function_that_passes_its_own_cases_says_why_that_may_be():
    """lay_13 (an eleventh students' round): conv_forward_naive kept the padded x in a global keyed
    on x's shape, passed its own cases, and was wrong inside conv_backward_naive's; the student was
    sent to "its own cases", all passed. A public case looks at the other's public cases only."""
    from grader.grade import _hint_blocked_by_a_passing
    from grader.results import CaseResult, FunctionResult

    def functions(forward_hidden_passes: bool) -> dict:
        forward = FunctionResult("fwd", "layers", [CaseResult("fwd", "public-1", "public", 1, "passed"),
                                                   CaseResult("fwd", "hidden-1", "hidden", 1,
                                                              "passed" if forward_hidden_passes else "failed")])
        backward = FunctionResult("bwd", "layers", [CaseResult("bwd", f"{v}-1", v, 1, "error", blocked_by="fwd",
                                                               message="not judged: your fwd is wrong on this case")
                                                    for v in ("public", "hidden")])
        return {"fwd": forward, "bwd": backward}
    for passes in (True, False):
        found = functions(passes)
        _hint_blocked_by_a_passing(found)
        public, hidden = found["bwd"].cases
        assert public.details.startswith("Note: your fwd passes its own cases, but not here"), public.details
        assert hidden.details == public.details if passes else hidden.details == ""
    unblocked = functions(True)
    unblocked["bwd"].cases[0].blocked_by = ""
    _hint_blocked_by_a_passing(unblocked)
    assert unblocked["bwd"].cases[0].details == ""


def test_what_a_public_case_says_from_other_cases_comes_from_the_public_cases_alone():
    """A public case's feedback is shown before the hidden results are (Gradescope's visible tests).
    The callee hint was made from every case: a softmax_loss_naive right on its public cases and
    wrong on a hidden one by a bit of its inputs put "calls your softmax_loss_naive, which fails its
    own cases" in softmax_loss_vectorized's public feedback, and so that bit (a fifteenth red team).
    The hidden cases' feedback still comes from all of them."""
    from grader.grade import _hint_broken_callees
    from grader.results import CaseResult, FunctionResult, OutputCheck
    spec = load_spec(ASSIGNMENT)
    lazy = REFERENCE.read_text() + ("\n\ndef softmax_loss_vectorized(W, X, y, reg):\n"
                                    "    return softmax_loss_naive(W, X, y, reg)\n")

    def results(naive_hidden_passes: bool) -> dict:
        out = {fn.name: FunctionResult(fn.name, "linear_classifier", [
            CaseResult(fn.name, f"{v}-1", v, 1, "passed", outputs=[OutputCheck("dW", True)]) for v in ("public", "hidden")])
            for fn in spec.functions}
        out["softmax_loss_naive"].cases[1].status = "passed" if naive_hidden_passes else "failed"
        out["softmax_loss_vectorized"].cases = [CaseResult("softmax_loss_vectorized", f"{v}-1", v, 1, "error",
                                                           exception="RuntimeError") for v in ("public", "hidden")]
        return out
    shown = {}
    for passes in (True, False):
        functions = results(passes)
        _hint_broken_callees(spec, functions, lambda module: lazy)
        shown[passes] = [c.details for c in functions["softmax_loss_vectorized"].cases]
    assert shown[True][0] == shown[False][0] == ""                         # the public case: the same either way
    assert shown[True][1] == "" and shown[False][1].startswith("Hint: softmax_loss_vectorized calls your softmax_loss_naive")
    from grader.grade import _sights
    cases = [CaseResult("f", "public-1", "public", 1, "passed"), CaseResult("f", "hidden-1", "hidden", 1, "failed"),
             CaseResult("f", "public-2", "public", 2, "failed")]
    assert _sights(cases) == [({"public-1", "public-2"}, {"public-1", "public-2"}),
                              ({"hidden-1"}, {"public-1", "public-2", "hidden-1"})]
    assert _sights(cases[:1]) == [({"public-1"}, {"public-1"})]


@pytest.mark.slow
def test_three_outputs_returned_in_another_order_are_named(tmp_path):
    """affine_backward returning (dw, dx, db) was told only "dx: expected shape (1, 3, 2), got (6, 5)"
    (a students' round), where a function of two outputs returned swapped got "seems to return
    (dW, loss)". Any order of outputs of shapes of their own is named, in the order of its step."""
    folder = tmp_path / "student"
    shutil.copytree(REPO / "reference" / "cs231n_layers", folder)
    module = folder / "layers.py"
    source = module.read_text()
    lines = source.splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if line == "    return dx, dw, db\n")
    lines[first] = "    return dw, dx, db\n"                 # affine_backward's, the first of the two
    module.write_text("".join(lines))
    report = tmp_path / "report.json"
    proc = subprocess.run([GRADER, "check", str(folder), "-a", "cs231n_layers", "--json", str(report)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr
    cases = {fn["name"]: fn["cases"] for fn in json.loads(report.read_text())["functions"]}["affine_backward"]
    wrong = [c for c in cases if c["status"] != "passed"]
    assert wrong and all("Hint: affine_backward seems to return (dw, dx, db); return (dx, dw, db), in that order"
                         in c["details"] for c in wrong), wrong

"""The mistake catalogue: every catalogued mistake is caught and named; the handout names them too."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from grader.expected.mistakes import Mistake, load_catalogue, variant_source
from grader.spec import SpecError, load_spec
from grader.authoring.validate import render, validate

from conftest import ASSIGNMENT, GRADER, REPO



@pytest.fixture(scope="module")
def rows(spec):
    return validate(spec)


@pytest.mark.slow
def test_every_mistake_is_caught_in_every_function_it_touches_and_named(rows, spec):
    catalogue = load_catalogue(spec)
    assert len(catalogue.mistakes) >= 12
    by_name = {r.name: r for r in rows}
    assert [r.problems for r in rows if r.problems] == []
    assert by_name["reference"].earned == by_name["reference"].possible == 20
    assert by_name["handout"].earned == 0
    for mistake in catalogue.mistakes:
        row = by_name[mistake.name]
        assert set(row.caught) == set(mistake.functions)
        for fname, (ids, named, checks) in row.caught.items():
            assert ids, f"{mistake.name} is not caught in {fname}"
            assert checks == [], "linear_classifier has no checks beyond the outputs"
            assert named == len(ids), f"{mistake.name} in {fname}: named on {named} of {len(ids)} failing cases"


@pytest.mark.slow
def test_a_correct_solution_written_differently_is_not_a_mistake(rows):
    row = next(r for r in rows if r.name == "global_max_shift")
    assert row.kind == "not_mistake" and row.earned == row.possible and not row.problems


@pytest.mark.slow
@pytest.mark.parametrize("name, lines", [
    ("linear_classifier", ["reg_half_in_grad         svm_loss_naive             3 public + 5 hidden cases          8/8",
                           "global_max_shift         (all)                      20/20 points, not_mistake: ok",
                           "reversed_loop_order      (all)                      20/20 points, not_mistake: ok",
                           "svm_break_at_correct_class svm_loss_naive             3 public + 6 hidden cases          9/9",
                           "32 catalogued mistakes; all caught, reference full marks, handout zero."]),
    ("cs231n", ["reg_half_in_grad         svm_loss_naive             3 public + 5 hidden cases; gradient 8/8",
                "float32_computation      (all)                      28/28 points, not_mistake: ok",
                "einsum_products          (all)                      28/28 points, not_mistake: ok",
                "einsum_without_optimize  (all)                      28/28 points, not_mistake: ok",
                "fancy_indexing_with_range (all)                      28/28 points, not_mistake: ok",
                "one_hot_by_broadcasting  (all)                      28/28 points, not_mistake: ok",
                "loop_free_helper         (all)                      28/28 points, not_mistake: ok",
                "reversed_loop_order      (all)                      28/28 points, not_mistake: ok",
                "hinge_without_margin     svm_loss_naive             3 public + 6 hidden cases          9/9",
                "softmax_log10            softmax_loss_vectorized    3 public + 7 hidden cases; faster_than softmax_loss_naive 10/10",
                "max_shift_wrong_axis     softmax_loss_vectorized    3 public + 8 hidden cases; agrees_with softmax_loss_naive 11/11",
                "svm_break_at_correct_class svm_loss_naive             3 public + 6 hidden cases          9/9",
                "35 catalogued mistakes; all caught, reference full marks, handout zero."]),
    ("cs231n_2016", ["no_half_in_grad          svm_loss_naive             3 public + 5 hidden cases; gradient 8/8",
                     "float32_computation      (all)                      28/28 points, not_mistake: ok",
                     "reg_grad_squared         softmax_loss_naive         3 public + 7 hidden cases; gradient 10/10",
                     "37 catalogued mistakes; all caught, reference full marks, handout zero."]),
    # a function that passes no case is not timed: its faster_than is "not judged", not failed
    ("cs231n_2015", ["max_shift_wrong_axis     softmax_loss_vectorized    3 public + 8 hidden cases; "
                     "agrees_with softmax_loss_naive 11/11",
                     "transposed_gradient      svm_loss_vectorized        3 public + 6 hidden cases; "
                     "agrees_with svm_loss_naive 9/9",
                     "global_max_shift         (all)                      28/28 points, not_mistake: ok",
                     # named by the error numpy raises, word for word
                     "written_for_2016_layout  svm_loss_vectorized        3 public + 6 hidden cases          9/9",
                     "gradient_reshaped_not_transposed svm_loss_vectorized        3 public + 6 hidden cases; agrees_with svm_loss_naive 9/9",
                     "39 catalogued mistakes; all caught, reference full marks, handout zero."]),
    ("autograd_basics", ["topk_all_rows            topk_grads                 3 public + 3 hidden cases; no_autograd, analytic 6/6",
                         "reference                (all)                      12/14 points, reference: ok "
                         "(fails no_autograd: the reference may; a not_mistake passes)",
                         "written_by_hand          (all)                      14/14 points, not_mistake: ok",
                         "7 catalogued mistakes; all caught, reference full marks, handout zero."]),
    ("cs231n_layers", ["bn_backward_wrong_axis   batchnorm_backward         2 public + 3 hidden cases; gradient 5/5",
                       "dropout_not_inverted     dropout_forward            1 public + 4 hidden cases          5/5",
                       "conv_backward_stride_ignored conv_backward_naive        1 public + 2 hidden cases          3/3",
                       "adam_t_incremented_after_use adam                       2 public + 3 hidden cases          5/5",
                       "dropout_binomial_mask    (all)                      74/74 points, not_mistake: ok",
                       "sgd_momentum_torch_convention sgd_momentum               2 public + 3 hidden cases          5/5",
                       "adam_efficient_form      adam                       0 public + 1 hidden cases          1/1",
                       "conv_last_window_skipped conv_forward_naive         2 public + 6 hidden cases          8/8",
                       "momentum_step_before_velocity sgd_momentum               2 public + 3 hidden cases          5/5",
                       "relu_backward_masks_dout relu_backward              2 public + 2 hidden cases; gradient 4/4",
                       "pool_forward_stride_ignored max_pool_forward_naive     1 public + 2 hidden cases          3/3",
                       "bn_alt_dx_sums_over_features batchnorm_backward_alt     2 public + 3 hidden cases; agrees_with batchnorm_backward 5/5",
                       "rmsprop_decay_swapped    rmsprop                    2 public + 3 hidden cases          5/5",
                       "adam_betas_swapped       adam                       2 public + 3 hidden cases          5/5",
                       "pool_backward_assigns_at_the_max max_pool_backward_naive    1 public + 1 hidden cases          2/2",
                       "conv_backward_dw_assigned conv_backward_naive        2 public + 4 hidden cases; gradient 6/6",
                       "conv_backward_dw_without_dout conv_backward_naive        2 public + 4 hidden cases; gradient 6/6",
                       "bn_cache_unpacked_out_of_order batchnorm_backward_alt     2 public + 3 hidden cases; agrees_with batchnorm_backward 5/5",
                       "bn_dgamma_from_x         batchnorm_backward         2 public + 3 hidden cases; gradient 5/5",
                       "conv_out_height_pad_once conv_forward_naive         2 public + 2 hidden cases          4/4",
                       "adam_t_never_incremented adam                       2 public + 3 hidden cases          5/5",
                       "bn_cache_variance_as_std batchnorm_backward_alt     2 public + 3 hidden cases; agrees_with batchnorm_backward 5/5",
                       "optimizer_returns_w_unchanged rmsprop                    2 public + 3 hidden cases          5/5",
                       "96 catalogued mistakes; all caught, reference full marks, handout zero."]),
    ("fully_connected_networks", [
        "two_layer_reg_half       TwoLayerNet.loss           1 public + 4 hidden cases          5/5",
        "linear_forward_not_flattened FullyConnectedNet.loss     0 public + 1 hidden cases          1/1",
        "dropout_p_is_keep_probability Dropout.forward            1 public + 5 hidden cases          6/6",
        "dropout_bernoulli        (all)                      50/50 points, not_mistake: ok",
        "sgd_momentum_step_before_velocity sgd_momentum               2 public + 3 hidden cases          5/5",
        "sgd_momentum_step_subtracts_velocity sgd_momentum               2 public + 3 hidden cases          5/5",
        "fcn_dropout_backward_after_layer FullyConnectedNet.loss     1 public + 1 hidden cases          2/2",
        "adam_t_never_incremented adam                       2 public + 3 hidden cases          5/5",
        "linear_forward_reshape_transposed Linear_ReLU.forward        1 public + 0 hidden cases          1/1",
        "two_layer_all_params_regularized_half TwoLayerNet.loss           1 public + 4 hidden cases          5/5",
        "52 catalogued mistakes; all caught, reference full marks, handout zero."]),
])
def test_validate_passes_for_every_shipped_assignment(name, lines):
    proc = subprocess.run([GRADER, "validate", name], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for line in lines:
        assert line in proc.stdout.splitlines(), line
    named = re.findall(r"(\d+) public \+ (\d+) hidden cases[^\n]*? (\d+)/(\d+)$", proc.stdout, flags=re.M)
    assert named and all(n == total for _, _, n, total in named), "a mistake is not named on every case catching it"


# The regularization convention of each linear-classifier assignment: with the 1/2 or without.
HALF = {"linear_classifier": False, "cs231n": False, "cs231n_2016": True, "cs231n_2015": True}


@pytest.mark.parametrize("name", HALF)
def test_sentences_quote_the_assignments_own_regularization(name):
    """Only the mistakes about the 1/2 itself may quote the other convention's loss or gradient."""
    catalogue = load_catalogue(load_spec(REPO / "assignments" / name))
    other = "no_half_" if HALF[name] else "reg_half_"
    assert sum(m.name.startswith(other) for m in catalogue.mistakes) == 3
    wrong = r"2 \* reg \* W|(?<!0\.5 \* )reg \* sum" if HALF[name] else r"0\.5 \* reg|(?<!2 \* )reg \* W"
    quoting = [m.name for m in catalogue.mistakes + catalogue.variants
               if not m.name.startswith(other) and re.search(wrong, m.sentence)]
    assert quoting == []


@pytest.mark.slow
def test_a_mistake_no_case_catches_fails_validation(tmp_path):
    copy = tmp_path / "assignment"
    shutil.copytree(ASSIGNMENT, copy)
    (copy / "hidden.yaml").write_text((copy / "hidden.yaml").read_text().replace(
        "reference: ../../reference/linear_classifier", f"reference: {REPO / 'reference' / 'linear_classifier'}"))
    (copy / "mistakes.yaml").write_text(
        "mistakes:\n"
        "  harmless:\n"
        "    sentence: A comment changes nothing.\n"
        "    edits:\n"
        "      - in: [svm_loss_naive]\n"
        "        old: 'dW /= num_train'\n"
        "        new: 'dW /= num_train  # same thing'\n")
    proc = subprocess.run([GRADER, "validate", str(copy)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1
    assert "harmless                 svm_loss_naive             NOTHING" in proc.stdout
    assert "  ! harmless: not caught in svm_loss_naive: every case passes" in proc.stdout


def test_an_edit_that_does_not_apply_is_a_spec_error():
    source = "def f(x):\n    return x + 1\n"
    with pytest.raises(SpecError) as e:
        variant_source(source, Mistake("m", "s", ((("f",), "x + 2", "x"),), False))
    assert "occurs 0 times in f" in str(e.value)
    assert variant_source(source, Mistake("m", "s", ((("f",), "x + 1", "x - 1"),), False)) == "def f(x):\n    return x - 1\n"


def test_edits_apply_in_turn_within_each_function_and_leave_the_rest_of_the_file():
    source = ("import numpy as np\n\n\n@np.vectorize\ndef f(x):\n    return x + 1\n\n\nclass L:\n"
              "    def g(self, x):\n        y = x * 2\n        return y\n\n\nTAIL = 3\n")
    both = Mistake("m", "s", ((("f",), "x + 1", "x + 2"), (("L.g",), "x * 2", "x * 3"), (("f",), "x + 2", "x + 4"),
                              (("L.g",), "return y", "return y\n        # edited"), (("h",), "nothing", "here")), False)
    assert variant_source(source, both) == source.replace("x + 1", "x + 4").replace("x * 2", "x * 3").replace(
        "return y", "return y\n        # edited")
    # the second edit reads the function as the first left it: its text is no longer there
    with pytest.raises(SpecError, match="occurs 0 times in f"):
        variant_source(source, Mistake("m", "s", ((("f",), "x + 1", "x - 1"), (("f",), "x + 1", "x")), False))
    nested = "class L:\n    def g(self, x):\n        return x\n"
    with pytest.raises(SpecError, match="one inside the other"):
        variant_source(nested, Mistake("m", "s", ((("L",), "class L", "class M"), (("L.g",), "return x", "return 0")), False))


def test_matching_a_mistake_needs_every_output_and_the_same_non_finite_places():
    import numpy as np
    from grader.judge.case import matches
    from grader.values import Leaf
    fn = load_spec(REPO / "assignments" / "linear_classifier").function("svm_loss_naive")     # loss, dW

    def outputs(loss, dW):
        return {"loss": Leaf("python_number", "float", np.array(loss)),
                "dW": Leaf("tensor", "torch.Tensor", np.array(dW)) if dW is not None else Leaf("none", "None")}
    m = outputs(2.0, [1.0, np.inf])
    assert matches(fn, outputs(2.0 + 1e-9, [1.0, np.inf]), m)
    assert not matches(fn, outputs(2.1, [1.0, np.inf]), m)
    assert not matches(fn, outputs(2.0, [1.0, 3.0]), m)
    assert not matches(fn, outputs(2.0, None), m)
    assert not matches(fn, {"loss": m["loss"]}, m)                 # an output missing
    # Where both have non-finite values, the finite ones must still agree, and the others be the same.
    assert not matches(fn, outputs(2.0, [1.1, np.inf]), m)
    assert not matches(fn, outputs(2.0, [1.0, np.nan]), m)
    assert not matches(fn, outputs(2.0, [1.0, -np.inf]), m)
    assert matches(fn, outputs(2.0, [1.0, np.nan]), outputs(2.0, [1.0, np.nan]))
    # `alike` (a diagnosis's second look, for an overflow written another way): NaN and inf count as
    # one, at the same places only, and the finite values must still agree.
    assert matches(fn, outputs(2.0, [1.0, np.nan]), m, alike=True)
    assert matches(fn, outputs(2.0, [1.0, -np.inf]), m, alike=True)
    assert not matches(fn, outputs(2.0, [np.nan, 1.0]), m, alike=True)
    assert not matches(fn, outputs(2.0, [1.1, np.nan]), m, alike=True)


def test_an_overflow_written_another_way_is_named_only_where_the_reference_is_finite():
    """A student's exp(s) / exp(s).sum() overflows to inf / inf, NaN, where the catalogue's
    log(sum(exp(s))) gives inf: a real student's naive softmax went unnamed on the large-score cases."""
    import numpy as np
    from grader.cases import make_case
    from grader.judge.case import diagnose
    from grader.values import Leaf
    spec = load_spec(REPO / "assignments" / "linear_classifier")
    fn = spec.function("softmax_loss_naive")
    case = make_case(spec, fn, fn.cases[0])

    def outputs(loss, dW):
        return {"loss": Leaf("python_number", "float", np.array(loss)), "dW": Leaf("tensor", "torch.Tensor", np.array(dW))}

    class Catalogue:                     # the one mistake this function has, as MistakeOutputs gives it
        def __init__(self, overflowed):
            self.overflowed = overflowed

        def candidates(self, fn, case):
            return [("no_max_shift", "exp() overflows", self.overflowed)]

        def starter(self, fn, case):
            return None

        def unregularized(self, fn, case):
            return None

        def composed(self, fn, case, keep=None):
            return []

    student = outputs(np.nan, [[np.nan, 0.5]])
    assert diagnose(fn, case, student, None, Catalogue(outputs(np.inf, [[np.nan, 0.5]])), outputs(7.0, [[0.1, 0.5]])) == "exp() overflows"
    # not where the reference is not finite itself: there NaN is not inf
    assert diagnose(fn, case, student, None, Catalogue(outputs(np.inf, [[np.nan, 0.5]])), outputs(np.inf, [[0.1, 0.5]])) == ""
    # nor where the non-finite places differ
    assert diagnose(fn, case, student, None, Catalogue(outputs(np.inf, [[0.1, np.nan]])), outputs(7.0, [[0.1, 0.5]])) == ""


@pytest.mark.slow
def test_self_check_with_only_the_handout_names_the_mistake(tmp_path):
    """The handout carries the mistakes' outputs on the public cases, never their code."""
    handout = tmp_path / "hw2"
    shutil.copytree(REPO / "student_template" / "linear_classifier", handout)
    shutil.copy(REPO / "examples" / "linear_classifier" / "bob" / "linear_classifier.py", handout)
    proc = subprocess.run([GRADER, "check", "linear_classifier.py", "-a", "linear_classifier"], cwd=handout,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "Probably: dW has `reg * W` where it needs `2 * reg * W`" in proc.stdout
    assert proc.stdout.count("Probably:") == 1                     # said once per function
    assert "mistakes.yaml" not in {p.name for p in handout.iterdir()}


@pytest.mark.slow
def test_a_mistake_that_gives_the_right_answer_on_a_case_is_not_blamed_for_a_wrong_one(tmp_path):
    """No max shift gives the reference's values on the small public cases: a dW returned as float32
    there is a dtype error, not an overflow (nor a hint that some case has scores around 1000)."""
    student = tmp_path / "student"
    student.mkdir()
    source = (REPO / "reference" / "linear_classifier" / "linear_classifier.py").read_text()
    naive_end = "    dW += 2 * reg * W\n    # END SOLUTION\n    return loss, dW\n\n\ndef softmax_loss_vectorized"
    assert source.count(naive_end) == 1
    (student / "linear_classifier.py").write_text(source.replace(naive_end, naive_end.replace("return loss, dW", "return loss, dW.float()")))
    proc = subprocess.run([GRADER, "check", str(student), "-a", "linear_classifier"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "dW: expected dtype float64, got float32" in proc.stdout
    assert "Probably:" not in proc.stdout and "overflow" not in proc.stdout, proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("name, mistake", [("cs231n_2016", "no_half_in_grad"), ("cs231n_2016", "no_reg_in_loss"),
                                           ("cs231n_2015", "softmax_wrong_axis"), ("cs231n_2015", "transposed_gradient")])
def test_self_check_of_a_catalogued_mistake_names_it_in_every_function_it_touches(tmp_path, name, mistake):
    spec = load_spec(REPO / "assignments" / name)
    entry = next(m for m in load_catalogue(spec).mistakes if m.name == mistake)
    handout = tmp_path / name
    shutil.copytree(REPO / "student_template" / name, handout)
    for module in spec.modules:                   # the student's modules: the reference with the mistake
        source = (spec.reference_dir / f"{module}.py").read_text()
        (handout / f"{module}.py").write_text(variant_source(source, entry))
    proc = subprocess.run([GRADER, "check", ".", "-a", name], cwd=handout, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert proc.stdout.count(f"Probably: {entry.sentence}\n") == len(entry.functions), proc.stdout


def _with_catalogue(tmp_path: Path, text: str):
    copy = tmp_path / "assignment"
    shutil.copytree(ASSIGNMENT, copy)
    (copy / "mistakes.yaml").write_text(text)
    return load_spec(copy)


@pytest.mark.parametrize("text", ["", "# nothing catalogued yet\n\n#   no_average: ...\n", "mistakes: {}\n",
                                  "mistakes:\nnot_mistakes:\n"])
def test_an_empty_catalogue_is_a_catalogue_without_mistakes(tmp_path, text):
    catalogue = load_catalogue(_with_catalogue(tmp_path, text))
    assert catalogue.mistakes == [] and catalogue.variants == []


def test_a_name_both_a_mistake_and_a_not_mistake_is_a_spec_error(tmp_path):
    entry = "  twice:\n    sentence: s\n    edits: [{in: [svm_loss_naive], old: a, new: b}]\n"
    with pytest.raises(SpecError) as e:
        load_catalogue(_with_catalogue(tmp_path, f"mistakes:\n{entry}not_mistakes:\n{entry}"))
    assert (e.value.where, e.value.problem) == ("not_mistakes.twice", "the same name is a mistake too: give one of them another")


def test_validate_says_when_there_are_no_mistakes_yet():
    from grader.authoring.validate import Row
    rows = [Row("reference", "reference", 5, 5), Row("handout", "handout", 0, 5)]
    assert render(rows).splitlines()[-1] == ("No catalogued mistakes yet (add them to mistakes.yaml); "
                                             "reference full marks, handout zero.")
    rows[1].problems.append("the handout scores 1, not 0")
    assert render(rows).splitlines()[-1] == "No catalogued mistakes yet (add them to mistakes.yaml); 1 entries with problems."


def _pairs_asked_by(threads: int, share: int):
    """Each of `threads` threads, on a worker of its own, asks for svm_loss_naive's pairs of mistakes
    on one case at once; [(worker, variants)] of the jobs they ran. The jobs answer nothing (no
    process runs); a barrier holds each job until every thread has one, or a second has passed."""
    import threading
    from grader.expected.mistakes import MistakeOutputs
    from grader.grade import select_cases
    from conftest import ASSIGNMENT
    from grader.spec import load_spec
    spec = load_spec(ASSIGNMENT)
    outputs = MistakeOutputs(spec)
    cases = select_cases(spec, hidden=True)
    outputs.expect(cases)
    outputs._share = share
    fn, case = next((f, c) for f, c in cases if f.name == "svm_loss_naive")
    jobs, barrier = [], threading.Barrier(threads)

    def computed(plans, worker):
        jobs.append((worker, [v for v, _ in plans]))
        try:
            barrier.wait(timeout=1)
        except threading.BrokenBarrierError:
            pass
        return [(v, mine, [None] * len(mine)) for v, mine in plans]

    outputs._computed = computed
    found = []

    def ask(worker):
        with outputs.running_in(worker):
            found.append(len(outputs.composed(fn, case)))

    workers = [threading.Thread(target=ask, args=(f"worker {i}",)) for i in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=60)
    pairs = [m.name for m in outputs.pairs if fn.name in m.touches]
    assert len(pairs) > 16 and found == [len(pairs)] * threads
    return jobs, pairs


def test_a_pair_of_a_mistake_that_changes_an_output_the_student_got_right_and_one_that_does_not_is_not_run():
    """The loss right and dW wrong: a pair of a mistake that alone changes the loss and one that leaves
    it right would change it too, and is neither run nor held against the answer (120 pairs of
    svm_loss_naive took 1.2 s of a batch's start, for an unaveraged dW that no pair explains). Two that
    each change it are run: one may undo the other (a fifth students' round flipped the velocity's
    sign and subtracted it from w, and next_w came out right)."""
    import numpy as np
    from grader.cases import make_case
    from grader.judge.case import diagnose
    from grader.values import Leaf
    spec = load_spec(REPO / "assignments" / "linear_classifier")
    fn = spec.function("svm_loss_naive")
    case = make_case(spec, fn, fn.cases[0])

    def outputs(loss, dW):
        return {"loss": Leaf("python_number", "float", np.array(loss)), "dW": Leaf("tensor", "torch.Tensor", np.array(dW))}

    class Catalogue:
        pairs = [("loss_twice", "loss_half"), ("loss_twice", "dW_half"), ("dW_half", "dW_sign"),
                 ("loss_twice", "unknown"), ("dW_sign", "unknown")]

        def __init__(self):
            self.kept: list = []

        def candidates(self, fn, case):
            return [("loss_twice", "L.", outputs(4.0, [[0.1, 0.5]])),       # changes the loss (and dW)
                    ("loss_half", "H.", outputs(1.0, [[0.1, 0.5]])),        # changes the loss
                    ("dW_half", "D.", outputs(2.0, [[0.05, 0.25]])),        # changes dW alone
                    ("dW_sign", "S.", outputs(2.0, [[-0.1, -0.5]])),        # changes dW alone
                    ("unknown", "U.", None)]                                # its edits need another's: kept

        def starter(self, fn, case):
            return None

        def unregularized(self, fn, case):
            return None

        def composed(self, fn, case, keep=None):
            self.kept.append([p for p in self.pairs if keep is None or keep(p)])
            return []

    expected = outputs(2.0, [[0.1, 0.5]])
    catalogue = Catalogue()
    diagnose(fn, case, outputs(2.0, [[3.0, -1.0]]), None, catalogue, expected)   # loss right, dW wrong
    diagnose(fn, case, outputs(9.0, [[3.0, -1.0]]), None, catalogue, expected)   # both wrong: every pair
    assert catalogue.kept == [[("loss_twice", "loss_half"), ("dW_half", "dW_sign"), ("loss_twice", "unknown"),
                               ("dW_sign", "unknown")], catalogue.pairs]


def test_pairs_not_kept_are_neither_computed_nor_returned():
    from grader.expected.mistakes import MistakeOutputs
    from grader.grade import select_cases
    spec = load_spec(ASSIGNMENT)
    outputs = MistakeOutputs(spec)
    cases = select_cases(spec, hidden=True)
    outputs.expect(cases)
    fn, case = next((f, c) for f, c in cases if f.name == "svm_loss_naive")
    computed = []

    def run(plans, worker):
        computed.extend(v for v, _ in plans)
        return [(v, mine, [None] * len(mine)) for v, mine in plans]

    outputs._computed = run
    left_out = outputs.catalogue.touching(fn.name)[0].name
    with outputs.running_in("worker 0"):
        returned = [pair.name for pair, _ in outputs.composed(fn, case, keep=lambda parts: left_out not in parts)]
    pairs = [m for m in outputs.pairs if fn.name in m.touches]
    kept = [m.name for m in pairs if left_out not in m.parts]
    assert 0 < len(kept) < len(pairs)
    assert returned == kept and sorted(v for v in computed if "+" in v) == sorted(kept)


def test_two_workers_asking_for_a_functions_pairs_at_once_share_them_out():
    jobs, pairs = _pairs_asked_by(threads=2, share=2)
    done = [v for _, variants in jobs for v in variants]
    assert sorted(done) == sorted(pairs)                     # each pair computed once, none twice
    assert {worker for worker, _ in jobs} == {"worker 0", "worker 1"}


def test_one_worker_asking_alone_computes_every_pair_once_in_parts_or_in_one_job_without_other_workers():
    jobs, pairs = _pairs_asked_by(threads=1, share=2)
    assert [v for _, variants in jobs for v in variants] == pairs and 1 < len(jobs) < len(pairs)
    jobs, pairs = _pairs_asked_by(threads=1, share=1)
    assert jobs == [("worker 0", pairs)]

"""Properties (grader/judge/properties.py): how a function whose right answers differ (a random dropout
mask) is judged, and how a mistake is recognised by the properties it breaks."""
import numpy as np

from grader.judge import properties
from grader.spec import PropertySpec

INVERTED = PropertySpec(name="inverted", when="dropout_param['mode'] == 'train'",
                        expect="(out == 0) | isclose(out, x / dropout_param['p'], rtol=1e-6, atol=0)",
                        message="Every entry must be 0 or x / p.")
FRACTION = PropertySpec(name="kept_fraction", when="x.size >= 100",
                        expect="abs(mean(out != 0) - dropout_param['p']) < 0.05",
                        message="About a fraction p must be kept.")


def judge(out, x, p=0.5, mode="train", props=(INVERTED, FRACTION)):
    ns = properties.namespace({}, {"x": x, "dropout_param": {"p": p, "mode": mode}}, {"out": out})
    return {c.name: c for c in properties.judge(props, ns)}


def test_two_legitimate_masks_both_pass():
    rng = np.random.default_rng(0)
    x = 10 + rng.standard_normal((40, 50))
    a = (rng.random(x.shape) < 0.3) / 0.3 * x
    b = rng.binomial(1, 0.3, x.shape) / 0.3 * x
    assert not np.array_equal(a, b)
    for out in (a, b):
        verdicts = judge(out, x, p=0.3)
        assert all(v.ok for v in verdicts.values()), verdicts


def test_a_failing_entry_is_reported_with_its_index_and_the_values_there():
    x = np.full((2, 3), 2.0)
    out = np.array([[4.0, 0.0, 4.0], [3.0, 4.0, 0.0]])          # [1, 0] is neither 0 nor x / p
    verdict = judge(out, x)["property inverted"]
    assert not verdict.ok and verdict.worst_index == [1, 0]
    assert verdict.message == "Every entry must be 0 or x / p. (1 of 6 entries is not, the first at [1, 0] (out = 3, x = 2))"


def test_a_property_applies_only_where_its_condition_holds():
    x = np.ones(4)
    assert judge(x, x, mode="test") == {}                       # `when` false for both (small, test mode)
    assert set(judge(np.zeros((20, 20)), np.ones((20, 20)), p=0.5)) == {"property inverted", "property kept_fraction"}
    assert not judge(np.zeros((20, 20)), np.ones((20, 20)), p=0.5)["property kept_fraction"].ok


def test_a_property_that_cannot_be_evaluated_says_so_instead_of_stopping_the_grader():
    broken = PropertySpec(name="shape", expect="out.shape == x.shape and nothing(out)", message="m")
    verdict = judge(np.ones(2), np.ones(2), props=(broken,))["property shape"]
    assert not verdict.ok and "could not be judged" in verdict.message and "NameError" in verdict.message
    not_bool = PropertySpec(name="value", expect="out", message="m")
    assert "spec problem" in judge(np.ones(2), np.ones(2), props=(not_bool,))["property value"].message


def test_expressions_see_numpy_but_no_builtins_beyond_a_few():
    sneaky = PropertySpec(name="io", expect="open('/etc/passwd') is not None", message="m")
    assert "NameError" in judge(np.ones(2), np.ones(2), props=(sneaky,))["property io"].message


def test_the_courses_dropout_properties_fail_a_mask_that_drops_everything_where_chance_cannot_explain_it():
    """cs231n_layers (p keeps a unit) and fully_connected_networks (p drops one): all zeros at train
    time fails where dropping every unit by chance is below one in a billion, and at the p that
    keeps every unit; on a small input it is left alone (a right mask may drop all 16 units)."""
    from grader.spec import load_spec
    from conftest import REPO
    # the p that keeps 30% of the units, and the p that keeps them all, in each course's sense
    for name, function, some, every in (("cs231n_layers", "dropout_forward", 0.3, 1.0),
                                        ("fully_connected_networks", "Dropout.forward", 0.7, 0.0)):
        props = load_spec(REPO / "assignments" / name).function(function).properties

        def failed(out, x, p):
            ns = properties.namespace({}, {"x": x, "dropout_param": {"p": p, "mode": "train"}}, {"out": out, "again": out})
            return {c.name for c in properties.judge(props, ns) if not c.ok}
        big, small = np.full((20, 20), 10.0), np.full((4, 4), 10.0)
        assert "property some_kept" in failed(np.zeros_like(big), big, some), name
        assert not failed(np.zeros_like(small), small, some), name
        assert failed(np.zeros_like(small), small, every), name
        assert not failed(small, small, every), name


def test_the_courses_dropout_properties_fail_a_mask_that_drops_nothing_where_chance_cannot_explain_it():
    """The mirror of some_kept. A red team's dropout with no mask (out = x / keep everywhere) passed
    the small seeded train-mode cases, where kept_fraction (2000 units and up) does not apply:
    some_dropped fails it where keeping every unit by chance is below one in a billion, and leaves a
    small input alone (a right mask may keep all 16 units), and the p that keeps every unit."""
    from grader.spec import load_spec
    from conftest import REPO
    # the p that keeps 30% of the units, and the p that keeps them all, in each course's sense
    for name, function, some, every in (("cs231n_layers", "dropout_forward", 0.3, 1.0),
                                        ("fully_connected_networks", "Dropout.forward", 0.7, 0.0)):
        props = load_spec(REPO / "assignments" / name).function(function).properties

        def failed(out, x, p):
            ns = properties.namespace({}, {"x": x, "dropout_param": {"p": p, "mode": "train", "seed": 1}},
                                      {"out": out, "again": out})
            return {c.name for c in properties.judge(props, ns) if not c.ok}
        mid, small = np.full((10, 30), 10.0), np.full((4, 4), 10.0)
        assert failed(mid / 0.3, mid, some) == {"property some_dropped"}, name
        assert not failed(small / 0.3, small, some), name
        assert not failed(small, small, every), name


def test_a_false_property_shows_the_values_of_its_show_expressions():
    """A student's mask drawn with randn (about 62% kept at p = 0.3) was told only that p is the
    probability of keeping a unit, and looked for a 1 - p that was not there: the fraction kept is
    now shown beside p."""
    shown = PropertySpec(name="kept_fraction", when="x.size >= 100", expect="abs(mean(out != 0) - dropout_param['p']) < 0.05",
                         message="About a fraction p must be kept.", show=("mean(out != 0)", "dropout_param['p']", "nothing(out)"))
    x = np.full((20, 20), 10.0)
    out = np.where(np.arange(400).reshape(20, 20) % 8 < 5, x / 0.3, 0.0)            # 5 of every 8 kept
    verdict = judge(out, x, p=0.3, props=(shown,))["property kept_fraction"]
    assert not verdict.ok
    assert verdict.message == "About a fraction p must be kept. (mean(out != 0) = 0.625, dropout_param['p'] = 0.3)"
    assert judge(np.where(np.arange(400).reshape(20, 20) % 10 < 3, x / 0.3, 0.0), x, p=0.3,
                 props=(shown,))["property kept_fraction"].message == ""


def test_the_courses_dropout_properties_fail_a_mask_drawn_in_order_or_the_same_on_every_call():
    """A red team's dropout kept the first round((1 - p) n) units on every call: the right fraction,
    0 or x / p everywhere, the same mask for the same seed; it earned every point. A mask must now
    be spread over x (both halves of its rows and of its columns keep alike), and without a seed
    two calls must draw different masks. Two right masks pass."""
    from grader.spec import load_spec
    from conftest import REPO
    rng = np.random.default_rng(5)
    x = 10 + rng.standard_normal((50, 60))
    for name, function, p, keep in (("cs231n_layers", "dropout_forward", 0.3, 0.3),
                                    ("fully_connected_networks", "Dropout.forward", 0.3, 0.7)):
        props = load_spec(REPO / "assignments" / name).function(function).properties

        def failed(out, again, seeded=False):
            param = {"p": p, "mode": "train", **({"seed": 123} if seeded else {})}
            ns = properties.namespace({}, {"x": x, "dropout_param": param}, {"out": out, "again": again})
            return {c.name for c in properties.judge(props, ns) if not c.ok}
        scale = keep if name == "fully_connected_networks" else p
        masked = lambda mask: np.where(mask, x / scale, 0.0)
        in_order = masked(np.arange(x.size).reshape(x.shape) < round(keep * x.size))
        assert "property kept_all_over" in failed(in_order, in_order, seeded=True), name
        assert "property a_new_mask_each_call" in failed(in_order, in_order), name
        first, second = masked(rng.random(x.shape) < keep), masked(rng.random(x.shape) < keep)
        assert failed(first, second) == set(), name
        assert failed(first, first, seeded=True) == set(), name
        assert "property a_new_mask_each_call" in failed(first, first), name

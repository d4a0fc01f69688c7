"""Steps (grader/spec/steps.py): a case's chain of calls, parsed in the grader and run in the child
(grader/run/execute.py) on its arguments and what earlier steps bound."""
import types

import numpy as np
import pytest

from grader import values

from grader.spec import steps
from grader.run import execute
from grader.run.job import taken_after
from grader.spec.steps import StepError, mark_graded, parse


@pytest.mark.parametrize("text, binds, callee", [
    ("out, cache = affine_forward(x, w, b)", ("out", "cache"), "affine_forward"),
    ("dx = relu_backward(dout, cache)", ("dx",), "relu_backward"),
    ("loss, grads = model.loss(X, y)", ("loss", "grads"), "model.loss"),
    ("model.params = {'W1': W1, 'b1': b1}", (), ""),
    ("bn_param['mode'] = 'test'", (), ""),
    ("seed(0)", (), "seed"),
    ("out, _ = f(x, {'stride': 2, 'pad': pad}, [1, -2.5], mode=None)", ("out",), "f"),
])
def test_the_allowed_forms_parse(text, binds, callee):
    step = parse(text)
    assert step.binds == binds and step.callee == callee


@pytest.mark.parametrize("text, problem", [
    ("out = f(x) + 1", "BinOp"),
    ("out = [a for a in x]", "ListComp"),
    ("out = lambda: 1", "Lambda"),
    ("import os", "an assignment or a call"),
    ("a = b = f(x)", "one assignment"),
    ("out = f(*args)", "no *args"),
    ("out = f(**kw)", "no *args or **kwargs"),
    ("(a, b.c) = f(x)", "plain names"),
    ("out = f(x); g(y)", "one statement"),
    ("out = f(", "not a Python statement"),
    ("x.__class__.__bases__[0].__subclasses__()", None),        # parses, but only calls what the names hold
])
def test_anything_else_is_refused_with_the_reason(text, problem):
    if problem is None:
        parse(text)
        return
    with pytest.raises(StepError) as e:
        parse(text)
    assert problem in str(e.value)


def test_the_step_calling_the_graded_function_is_graded_and_the_others_are_setup():
    chain = (parse("out, cache = affine_forward(x, w, b)"), parse("dx, dw, db = affine_backward(dout, cache)"))
    marked = mark_graded("affine_backward", chain, {"affine_forward", "affine_backward"}, set())
    assert [s.graded for s in marked] == [False, True]
    assert marked[0].calls == "affine_forward"          # a setup step of another graded function: it can block


def test_a_method_is_graded_through_the_instance_its_class_made():
    chain = tuple(parse(t) for t in ("model = TwoLayerNet(input_dim=D)", "model.params = params",
                                     "scores = model.loss(X)", "loss, grads = model.loss(X, y)"))
    marked = mark_graded("TwoLayerNet.loss", chain, {"TwoLayerNet.loss", "TwoLayerNet.__init__"}, set())
    assert [s.graded for s in marked] == [False, False, True, True]
    assert marked[0].calls == "TwoLayerNet.__init__"
    init = mark_graded("TwoLayerNet.__init__", chain[:1], {"TwoLayerNet.__init__"}, set())
    assert init[0].graded


def test_a_chain_that_never_calls_the_function_is_a_spec_error():
    with pytest.raises(StepError, match="no step calls adam"):
        mark_graded("adam", (parse("w = sgd(w, dw)"),), {"adam"}, set())
    marked = mark_graded("FullyConnectedNet.loss", (parse("loss = scenarios.run(modules, rng)"),), set(), {"scenarios"})
    assert marked[0].graded                               # a scenario exercises the graded function


def run(texts, args=None, outputs=("out",), module=None, checks=()):
    """Run steps in this process with the executor the child uses, on a module of our own."""
    module = module or types.ModuleType("m")
    chain = mark_graded("f", tuple(parse(t) for t in texts), {"f"}, set(), required=False)
    inputs = []
    paths = [list(values.parse_path(o)) for o in outputs]
    call = {"function": "f", "module": "m", "case": "public-1",
            "args": [[k, values.to_wire(v, inputs)] for k, v in (args or {}).items()], "dims": {"N": 2},
            "steps": [s.as_job() for s in chain], "outputs": paths, "taken": taken_after(chain, paths),
            "checks": list(checks), "seed": 7}
    return execute.run_call(call, inputs, execute.Context(modules={"m": module}))


def test_an_output_is_what_its_step_returned_whatever_a_later_step_does_to_it():
    """Outputs that a step binds and no later step names are taken when that step returns: a
    function that hands back one buffer from two calls, or a backward that changes the forward's
    `out` through its cache, is judged on what each call returned. What later steps name (a model
    they train) is taken after the last."""
    m = types.ModuleType("m")
    buffer = np.zeros(3)

    def f(x, k):
        buffer[:] = x * k                # the same array returned by every call
        return buffer, buffer
    m.f = f
    m.back = lambda cache: cache.__setitem__(slice(None), -1.0) or cache.sum()
    header, arrays = run(["out, cache = f(x, 2)", "again, _ = f(x, 3)", "total = back(cache)"], {"x": np.ones(3)},
                         outputs=("out", "again", "total"), module=m)
    assert header["status"] == "returned"
    out, again, total = (values.decode(node, arrays) for node in header["values"])
    np.testing.assert_array_equal(out.array, [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(again.array, [3.0, 3.0, 3.0])
    assert float(total.array) == -3.0

    class Model:
        def __init__(self):
            self.w = np.zeros(2)

        def train(self):
            self.w += 1.0
    m.Model = Model
    header, arrays = run(["model = Model()", "model.train()", "model.train()"], outputs=("model.w",), module=m)
    np.testing.assert_array_equal(values.decode(header["values"][0], arrays).array, [2.0, 2.0])
    assert taken_after(tuple(parse(t) for t in ("a = f(x)", "b = g(a)", "c = h(x)")), [["a"], ["b"], ["x"], ["c"]]) == \
        [None, 1, None, None]


def test_values_handed_on_between_steps_never_leave_unless_named():
    m = types.ModuleType("m")
    m.fwd = lambda x: (x * 2, {"secret": object(), "x": x})
    m.f = lambda d, cache: d * cache["x"]
    header, arrays = run(["out, cache = fwd(x)", "dx = f(d, cache)"], {"x": np.ones(3), "d": np.full(3, 2.0)},
                         outputs=("dx", "out"), module=m)
    assert header["status"] == "returned"
    tree = values.decode(header["values"][0], arrays)
    np.testing.assert_array_equal(tree.array, np.full(3, 2.0))
    assert "secret" not in str(header)                    # the cache stayed in the child


def test_rng_is_a_generator_from_the_cases_seed_and_a_module_name_rng_is_not_shadowed_by_it():
    """`rng` in a step draws what np.random.default_rng(the case's seed) draws, afresh in every call;
    a name of the module (or an argument) called rng wins, as every other name does."""
    m = types.ModuleType("m")
    m.f = lambda g: g.standard_normal(3)
    expected = np.random.default_rng(7).standard_normal(3)
    for _ in range(2):
        header, arrays = run(["out = f(rng)"], module=m)
        np.testing.assert_array_equal(values.decode(header["values"][0], arrays).array, expected)
    m.rng = np.random.default_rng(99)
    header, arrays = run(["out = f(rng)"], module=m)
    np.testing.assert_array_equal(values.decode(header["values"][0], arrays).array,
                                  np.random.default_rng(99).standard_normal(3))


def test_the_step_languages_builtins_are_there_when_a_step_names_them():
    """np, numpy, seed() and modules resolve in a step (they are made when a step first looks one
    up); a module's own name of the same spelling wins."""
    m = types.ModuleType("m")
    m.f = lambda a, b: a + b
    m.draw = lambda: np.random.standard_normal(2)
    header, arrays = run(["seed(3)", "a = draw()", "out = f(np.ones(2), numpy.add(numpy.zeros(2), a))"], module=m)
    np.testing.assert_array_equal(values.decode(header["values"][0], arrays).array,
                                  1 + np.random.RandomState(3).standard_normal(2))
    header, arrays = run(["out = modules.m.f(np.ones(2), np.ones(2))"], module=m)
    np.testing.assert_array_equal(values.decode(header["values"][0], arrays).array, np.full(2, 2.0))
    m.np = types.SimpleNamespace(ones=lambda n: np.full(n, 5.0))
    header, arrays = run(["out = f(np.ones(2), np.ones(2))"], module=m)
    np.testing.assert_array_equal(values.decode(header["values"][0], arrays).array, np.full(2, 10.0))


def test_a_failing_step_is_reported_with_its_index_and_the_exception():
    m = types.ModuleType("m")
    m.fwd = lambda x: 1 / 0
    m.f = lambda x: x
    header, _ = run(["out = fwd(x)", "out = f(out)"], {"x": np.ones(2)}, module=m)
    assert header["status"] == "exception" and header["step"] == 0 and header["error"]["type"] == "ZeroDivisionError"


@pytest.mark.parametrize("texts, name", [
    (["out = g(x)"], "g"),
    (["out = Linear.forward(x)"], "Linear.forward"),
])
def test_a_missing_function_is_named_as_the_step_calls_it(texts, name):
    m = types.ModuleType("m")
    m.Linear = type("Linear", (), {})
    header, _ = run(texts, {"x": np.ones(2)}, module=m)
    assert header["status"] == "missing_function" and header["name"] == name


def test_unpacking_the_wrong_number_of_values_is_a_bad_return():
    m = types.ModuleType("m")
    m.f = lambda x: (x, x, x)
    header, _ = run(["out, cache = f(x)"], {"x": np.ones(2)}, module=m)
    assert header["status"] == "bad_return" and header["returned"] == "tuple of length 3" and header["expected"] == 2


def test_an_output_path_reads_keys_and_attributes_and_says_what_is_missing():
    m = types.ModuleType("m")
    m.f = lambda: types.SimpleNamespace(params={"W1": np.ones(2)})
    header, arrays = run(["model = f()"], outputs=("model.params.W1", "model.params.W3", "model.other"), module=m)
    first, missing, other = header["values"]
    assert values.decode(first, arrays).array.shape == (2,) and header["via"][0] == ["attr", "key"]
    assert missing == {"kind": "missing", "message": "model.params has no key 'W3'"}
    assert other["kind"] == "missing" and "no 'other'" in other["message"]


def test_an_input_changed_in_place_is_reported_with_the_step_that_changed_it():
    m = types.ModuleType("m")

    def clobber(x):
        x[0] = 9.0
        return x
    m.f = clobber
    m.g = lambda x: x
    header, _ = run(["a = g(x)", "out = f(p['inner'])"], {"x": np.ones(2), "p": {"inner": np.zeros(2)}},
                    module=m, checks=("no_input_mutation",))
    assert header["changed"] == [[["p", "inner"], 1]]


def test_every_call_starts_from_the_cases_seed():
    m = types.ModuleType("m")
    m.f = lambda: np.random.rand(3)
    a = values.decode(*[(h["values"][0], arr) for h, arr in [run(["out = f()"], module=m)]][0])
    b = values.decode(*[(h["values"][0], arr) for h, arr in [run(["out = f()"], module=m)]][0])
    np.testing.assert_array_equal(a.array, b.array)
    seeded = run(["seed(3)", "out = f()"], module=m)
    assert not np.array_equal(values.decode(seeded[0]["values"][0], seeded[1]).array, a.array)


def test_the_default_step_calls_the_function_on_its_arguments_in_order():
    (step,) = steps.default_steps("Linear.forward", ["x", "w", "b"], ["out", "cache"])
    assert step.text == "out, cache = Linear.forward(x, w, b)"


def test_an_outputs_path_is_read_inside_the_watch_and_a_dict_subclass_by_dicts_own_methods():
    """What a watched call returned is read after it: a property in the output's path is the
    student's code (a loop in its getter ran unwatched), and a dict subclass's __getitem__ could
    answer differently from what the dict holds."""
    m = types.ModuleType("m")

    class Result:
        @property
        def value(self):
            total = 0.0
            for i in range(50):          # the work done when the grader reads the answer
                total += i
            return np.array([total])

    class Sly(dict):
        def __getitem__(self, key):
            return np.array([-1.0])

    m.f = lambda x: (Result(), Sly(v=np.array([2.0])))
    module_code = {id(c): c for c in (Result.value.fget.__code__, Sly.__getitem__.__code__)}
    own = lambda code: module_code.get(id(code)) is code
    chain = mark_graded("f", (parse("r, s = f(x)"),), {"f"}, set(), required=False)
    inputs = []
    paths = [list(values.parse_path(o)) for o in ("r.value", "s.v")]
    call = {"function": "f", "module": "m", "case": "public-1", "args": [["x", values.to_wire(np.ones(2), inputs)]],
            "dims": {"N": 2}, "steps": [s.as_job() for s in chain], "outputs": paths, "taken": taken_after(chain, paths),
            "checks": ["no_loops"], "seed": 7, "trace": ["lines"]}
    header, arrays = execute.run_call(call, inputs, execute.Context(modules={"m": m}, own=own))
    assert header["status"] == "returned", header
    assert [float(a[0]) for a in arrays] == [1225.0, 2.0], header["values"]
    assert header["repeats"] and max(n for _, _, n, _ in header["repeats"]) >= 50, header["repeats"]

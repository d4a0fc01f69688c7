"""The spec loader: a valid spec loads; each kind of mistake is one line naming file and field."""
import json
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest

from grader.spec import SpecError, find_spec, load_spec, parse_size

from conftest import ASSIGNMENT, REPO


def write_spec(tmp_path: Path, text: str, hidden: str | None = None) -> Path:
    (tmp_path / "assignment.yaml").write_text(textwrap.dedent(text))
    if hidden is not None:
        (tmp_path / "hidden.yaml").write_text(textwrap.dedent(hidden))
    return tmp_path


MINIMAL = """\
    name: tiny
    framework: numpy
    modules: [tiny]
    functions:
      f:
        dims: {N: [1, 4]}
        args:
          x: {kind: array, shape: [N], dist: uniform, low: -1, high: 1}
          k: {kind: scalar, value: 2}
        outputs:
          - {name: out, kind: array, shape: [N]}
        points: 3
        cases: [{seed: 1}, {seed: 2}]
"""


def test_linear_classifier_spec_loads_with_its_hidden_part(spec):
    assert [f.name for f in spec.functions] == [
        "svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive", "softmax_loss_vectorized"]
    assert spec.framework == "torch"
    assert spec.modules == ("linear_classifier",)
    assert spec.reference_dir == (ASSIGNMENT.parents[1] / "reference" / "linear_classifier").resolve()
    svm = spec.function("svm_loss_naive")
    assert [a.name for a in svm.args] == ["W", "X", "y", "reg"]
    assert [c.case_id for c in svm.cases_of("public")] == ["public-1", "public-2", "public-3"]
    assert len(svm.cases_of("hidden")) == 6
    assert len(spec.function("softmax_loss_naive").cases_of("hidden")) == 8   # + the large-score cases
    assert (svm.points_public, svm.points_hidden) == (2, 3)


def test_case_overrides_replace_one_argument(spec):
    svm = spec.function("svm_loss_naive")
    reg0 = next(c for c in svm.cases if c.note.startswith("no regularization"))
    args = {a.name: a for a in svm.arg_for_case(reg0)}
    assert args["reg"].value == 0.0
    assert args["W"] == svm.args[0]


def test_spec_without_hidden_part_is_a_handout(tmp_path):
    spec = load_spec(write_spec(tmp_path, MINIMAL))
    assert spec.reference_dir is None and not spec.has_hidden
    assert spec.function("f").points_public == 3 and spec.function("f").points_hidden == 0


@pytest.mark.parametrize("change, where, problem", [
    (("framework: numpy", "framework: jax"), "framework", "must be one of numpy, torch"),
    (("dims: {N: [1, 4]}", "dims: {N: [4, 1]}"), "functions.f.dims.N", "0 <= low <= high"),
    (("x: {kind: array, shape: [N]", "x: {kind: array, shape: [K]"), "functions.f.args.x.shape[0]", "declared dimension (N)"),
    (("points: 3", "points: three"), "functions.f.points", "must be a number"),
    (("cases: [{seed: 1}, {seed: 2}]", "cases: [{seed: 1}, {seed: 1}]"), "functions.f.cases[1].seed", "used twice"),
    (("kind: scalar, value: 2", "kind: scalr, value: 2"), "functions.f.args.k.kind", "must be one of array, labels, scalar"),
    (("points: 3", "points: 3\n    tolerance: {rtol: 0}"), "functions.f.tolerance.rtol", "must be positive"),
    (("points: 3", "points: 3\n    colour: blue"), "functions.f.colour", "unknown field"),
    (("modules: [tiny]", "modules: []"), "modules", "at least one"),
    (("cases: [{seed: 1}, {seed: 2}]", "cases: [{seed: 1, dims: {M: 2}}]"), "functions.f.cases[0].dims.M", "unknown dimension"),
])
def test_each_spec_mistake_names_file_field_and_problem(tmp_path, change, where, problem):
    old, new = change
    text = textwrap.dedent(MINIMAL)
    assert old in text
    write_spec(tmp_path, text.replace(old, new))
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path)
    assert info.value.where == where
    assert problem in info.value.problem
    assert str(info.value).startswith(str(tmp_path / "assignment.yaml") + ": " + where)
    assert "\n" not in str(info.value)


def test_yaml_syntax_error_gives_line_and_column(tmp_path):
    write_spec(tmp_path, "name: tiny\nframework: [numpy\n")
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path)
    assert info.value.where.startswith("line ")
    assert "invalid YAML" in info.value.problem


def test_hidden_part_must_name_known_functions(tmp_path):
    write_spec(tmp_path, MINIMAL, hidden="reference: ref\nfunctions:\n  g: [{seed: 9}]\n")
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path)
    assert str(info.value) == f"{tmp_path / 'hidden.yaml'}: functions.g: no such function in assignment.yaml (has: f)"


def test_hidden_points_need_hidden_cases(tmp_path):
    write_spec(tmp_path, MINIMAL.replace("points: 3", "points: {public: 1, hidden: 2}"), hidden="reference: ref\n")
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path)
    assert info.value.where == "functions.f"
    assert "hidden points but this file has no hidden cases" in info.value.problem


def test_hidden_cases_follow_public_ones(tmp_path):
    write_spec(tmp_path, MINIMAL, hidden="reference: ref\nfunctions:\n  f: [{seed: 9, note: edge}]\n")
    spec = load_spec(tmp_path)
    assert [c.case_id for c in spec.function("f").cases] == ["public-1", "public-2", "hidden-1"]
    assert spec.reference_dir == (tmp_path / "ref").resolve()


def test_extending_spec_merges_mappings_replaces_lists_and_drops_null_keys(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    write_spec(base, MINIMAL.replace("    functions:\n", "    functions:\n      g: {args: {}, outputs: [], points: 1}\n"))
    write_spec(tmp_path, """\
        extends: base/assignment.yaml
        name: tiny2
        functions:
          g: ~
          f:
            args: {k: {value: 3}}
            cases: [{seed: 7}]
        """)
    spec = load_spec(tmp_path)
    assert spec.name == "tiny2" and [f.name for f in spec.functions] == ["f"]
    f = spec.function("f")
    assert [(a.name, a.kind, a.value) for a in f.args] == [("x", "array", None), ("k", "scalar", 3)]
    assert [c.seed for c in f.cases] == [7]


def test_find_spec_by_name_in_assignments_folder_and_beside_a_handout(tmp_path):
    assert find_spec("linear_classifier", cwd=ASSIGNMENT.parents[1]) == ASSIGNMENT / "assignment.yaml"
    handout = tmp_path / "hw"
    shutil.copytree(ASSIGNMENT.parents[1] / "student_template" / "linear_classifier", handout)
    found = find_spec("linear_classifier", submission=handout / "linear_classifier.py", cwd=tmp_path)
    assert found == (handout / "assignment.yaml").resolve()
    with pytest.raises(SpecError) as info:
        find_spec("no_such_assignment", submission=handout, cwd=tmp_path)
    assert "assignment not found" in str(info.value)


@pytest.mark.parametrize("text, size", [("4GiB", 4 << 30), ("512MiB", 512 << 20), ("2G", 2 << 30),
                                        (1024, 1024), ("lots", None), (0, None)])
def test_parse_size(text, size):
    assert parse_size(text) == size


# ---------------------------------------------------------------------------------------------
# Structured arguments and outputs, steps, properties, derived dims


CHAIN = """\
    name: tiny
    framework: numpy
    modules: [tiny]
    functions:
      backward:
        dims: {N: [2, 4], S: [1, 2], H: "2 * N + S"}
        args:
          x: {kind: array, shape: [N, H]}
          p: {mode: train, eps: 1.0e-5, stats: {kind: array, shape: [H]}}
          dout: {kind: array, shape: [N, H]}
        steps:
          - out, cache = forward(x, p)
          - dx = backward(dout, cache)
        outputs:
          - {name: dx, kind: array}
          - {name: p.stats, kind: array, tolerance: {rtol: 1.0e-4}}
          - {name: out, compare: false}
        properties:
          - {name: finite, expect: "isfinite(dx)", message: "dx has no NaN", when: "p['mode'] == 'train'"}
        points: 1
        cases:
          - {seed: 1}
          - {seed: 2, args: {p: {mode: test, stats: ~}}}
      forward:
        args: {x: {kind: array, shape: [3]}, p: {mode: train}}
        returns: [out, cache]
        outputs: [{name: out}]
        points: 1
        cases: [{seed: 1}]
"""


def test_a_chain_with_dict_arguments_paths_and_properties_loads(tmp_path):
    spec = load_spec(write_spec(tmp_path, CHAIN))
    fn = spec.function("backward")
    assert [s.graded for s in fn.steps] == [False, True] and fn.steps[0].calls == "forward"
    assert [(o.name, o.path, o.setup) for o in fn.outputs] == [("dx", ("dx",), ""), ("p.stats", ("p", "stats"), ""),
                                                               ("out", ("out",), "forward")]
    assert fn.output("p.stats").rtol == 1e-4 and fn.output("dx").rtol is None
    assert [o.name for o in fn.compared] == ["dx", "p.stats"]
    p = {a.name: a for a in fn.args}["p"]
    assert p.kind == "dict" and [k for k, _ in p.items] == ["mode", "eps", "stats"]
    test_case = fn.cases[1]
    overridden = dict(test_case.args["p"].items)
    assert overridden["mode"].value == "test" and "stats" not in overridden and overridden["eps"].value == 1e-5
    assert fn.dims["H"] == "2 * N + S"
    assert spec.function("forward").steps[0].text == "out, cache = forward(x, p)"


def test_derived_dims_and_dict_arguments_are_generated(tmp_path):
    from grader.cases import make_case
    spec = load_spec(write_spec(tmp_path, CHAIN))
    fn = spec.function("backward")
    case = make_case(spec, fn, fn.cases[0])
    assert case.dims["H"] == 2 * case.dims["N"] + case.dims["S"]
    assert case.args["x"].shape == (case.dims["N"], case.dims["H"])
    assert case.args["p"]["mode"] == "train" and case.args["p"]["stats"].shape == (case.dims["H"],)
    assert "mode=train" in case.describe() and "eps=1e-05" in case.describe()
    other = make_case(spec, fn, fn.cases[1])
    assert other.args["p"] == {"mode": "test", "eps": 1e-5}


@pytest.mark.parametrize("change, where, problem", [
    (("out, cache = forward(x, p)", "out, cache = forward(x, p) + 1"), "functions.backward.steps[0]", "BinOp"),
    (("- dx = backward(dout, cache)", "- dx = other(dout, cache)"), "functions.backward.steps", "no step calls backward"),
    (("{name: p.stats, kind: array", "{name: q.stats, kind: array"), "functions.backward.outputs[1].name",
     "q is neither an argument nor bound by a step"),
    (("{name: dx, kind: array}", "{name: dx, kind: arrray}"), "functions.backward.outputs[0].kind", "must be one of"),
    (('H: "2 * N + S"', 'H: "2 * N + K"'), "functions.backward.dims.H", "K is not a dim declared before it"),
    (('expect: "isfinite(dx)"', 'expect: "isfinite(dx"'), "functions.backward.properties[0].expect", "not a Python expression"),
    (('expect: "isfinite(dx)"', 'expect: "isfinite(dx)", show: ["mean(dx", "dx.max()"]'),
     "functions.backward.properties[0].show[0]", "not a Python expression"),
    (("{seed: 2, args: {p: {mode: test, stats: ~}}}", "{seed: 2, args: {q: {kind: literal, value: 1}}}"),
     "functions.backward.cases[1].args.q", "a case with steps of its own may declare more"),
    (("returns: [out, cache]", "returns: [out, cache]\n    steps: [out = forward(x, p)]"), "functions.forward.returns",
     "not with steps"),
])
def test_each_mistake_in_the_new_forms_names_its_field(tmp_path, change, where, problem):
    old, new = change
    text = textwrap.dedent(CHAIN)
    assert old in text
    write_spec(tmp_path, text.replace(old, new))
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path)
    assert info.value.where == where, str(info.value)
    assert problem in info.value.problem
    assert "\n" not in str(info.value)


def test_a_case_may_add_arguments_for_steps_of_its_own(tmp_path):
    text = textwrap.dedent(CHAIN).replace("{seed: 2, args: {p: {mode: test, stats: ~}}}", """\
{seed: 2, args: {x2: {kind: array, shape: [N, H]}},
             steps: ["_, _ = forward(x, p)", "out, cache = forward(x2, p)", "dx = backward(dout, cache)"]}""")
    spec = load_spec(write_spec(tmp_path, text))
    fn = spec.function("backward")
    case = fn.cases[1]
    assert [s.graded for s in case.steps] == [False, False, True]
    assert [a.name for a in fn.arg_for_case(case)] == ["x", "p", "dout", "x2"]


def test_support_and_scenario_files_must_lie_in_the_assignments_folder(tmp_path):
    write_spec(tmp_path, MINIMAL.replace("modules: [tiny]", "modules: [tiny]\n    support: [../elsewhere.py]"))
    with pytest.raises(SpecError, match="must be a path inside the assignment's folder"):
        load_spec(tmp_path)
    write_spec(tmp_path, MINIMAL.replace("modules: [tiny]", "modules: [tiny]\n    scenarios: [missing.py]"))
    with pytest.raises(SpecError, match="missing.py does not exist"):
        load_spec(tmp_path)
    (tmp_path / "tiny.py").write_text("")
    write_spec(tmp_path, MINIMAL.replace("modules: [tiny]", "modules: [tiny]\n    support: [tiny.py]"))
    with pytest.raises(SpecError, match="may not have a student module's name"):
        load_spec(tmp_path)



LOCS = """\
    name: tiny
    framework: numpy
    modules: [tiny]
    functions:
      f:
        dims: {N: [2, 6], C: [2, 5]}
        args:
          s: {kind: array, shape: [N, C], scale: 0.5}
          t: {kind: array, shape: [C, N], scale: 0.5}
        outputs:
          - {name: out, kind: array, shape: [N]}
        points: 3
        cases: [{seed: 1}, {seed: 2, dims: {N: 300, C: 3}, args: {s: {loc: {C: [1000, -200, 7]}}, t: {loc: {C: [1, 2, 3]}}}}]
"""


def test_an_arrays_loc_may_be_a_mean_per_entry_along_one_of_its_dims(tmp_path):
    """Each class drawn about its own mean, whichever axis C is (a class's scores far above the
    others'); the other case's numbers are drawn as before, and the recipe a worker's child draws
    from gives the same numbers."""
    from grader.cases import make_case
    from grader.seeded import Drawn
    spec = load_spec(write_spec(tmp_path, LOCS))
    fn = spec.function("f")
    assert fn.cases[1].args["s"].loc == ("C", (1000.0, -200.0, 7.0)) and fn.args[0].loc == 0.0
    case = make_case(spec, fn, fn.cases[1])
    s, t = case.args["s"], case.args["t"]
    assert s.shape == (300, 3) and t.shape == (3, 300)
    np.testing.assert_allclose(s.mean(axis=0), [1000, -200, 7], atol=0.2)
    np.testing.assert_allclose(s.std(axis=0), [0.5, 0.5, 0.5], rtol=0.15)
    np.testing.assert_allclose(t.mean(axis=1), [1, 2, 3], atol=0.2)
    plain = make_case(spec, fn, fn.cases[0]).args["s"]
    assert abs(plain.mean()) < 1                       # the default loc, 0
    lazy = make_case(spec, fn, fn.cases[1], fresh="timing-1").args["t"]
    wired = Drawn.from_wire(json.loads(json.dumps(lazy.to_wire())))
    assert wired == lazy and hash(wired) == hash(lazy)
    np.testing.assert_array_equal(wired.array(), lazy.array())
    np.testing.assert_allclose(lazy.array().mean(axis=1), [1, 2, 3], atol=0.2)


@pytest.mark.parametrize("change, where, problem", [
    ("s: {loc: {C: [1000, -200]}}", "functions.f.cases[1].args.s.loc", "has 2 means along C, which has 3 entries"),
    ("s: {loc: {C: [1000, x, 7]}}", "functions.f.cases[1].args.s.loc.C[1]", "must be a number"),
    ("s: {loc: {C: []}}", "functions.f.cases[1].args.s.loc.C", "a list of numbers"),
    ("s: {loc: {D: [1, 2, 3]}}", "functions.f.cases[1].args.s.loc", "D is not a dim of the shape ['N', 'C']"),
    ("s: {loc: {C: [1, 2, 3], N: [1]}}", "functions.f.cases[1].args.s.loc", "one dim of the shape"),
])
def test_a_loc_along_a_dim_that_does_not_fit_names_the_case(tmp_path, change, where, problem):
    write_spec(tmp_path, textwrap.dedent(LOCS).replace("s: {loc: {C: [1000, -200, 7]}}", change))
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path)
    assert info.value.where == where, str(info.value)
    assert problem in info.value.problem


def test_a_loc_along_a_dim_each_case_draws_must_be_fixed_by_the_case(tmp_path):
    write_spec(tmp_path, textwrap.dedent(LOCS).replace("dims: {N: 300, C: 3}", "dims: {N: 300}"))
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path)
    assert info.value.where == "functions.f.cases[1].args.s.loc"
    assert "whose size each case draws: fix it in the case's dims (C: 3)" in info.value.problem
    write_spec(tmp_path, textwrap.dedent(LOCS).replace("shape: [N, C], scale: 0.5}", "shape: [N, C], scale: 0.5, loc: {C: [1, 2]}}"))
    with pytest.raises(SpecError) as info:            # the declaration's means, on a case that draws C
        load_spec(tmp_path)
    assert info.value.where == "functions.f.cases[0] (the function's args.s).loc"
    write_spec(tmp_path, textwrap.dedent(LOCS).replace(
        "t: {kind: array, shape: [C, N], scale: 0.5}", "t: {kind: array, shape: [C, N], scale: 0.5}\n      r: {kind: scalar, loc: {C: [1, 2]}}"))
    with pytest.raises(SpecError) as info:            # a scalar's loc is a number
        load_spec(tmp_path)
    assert info.value.where == "functions.f.args.r.loc" and "must be a number" in info.value.problem


def test_a_loc_along_a_dim_of_an_argument_a_case_adds_for_its_steps_is_checked_too(tmp_path):
    text = textwrap.dedent(LOCS).replace(
        "args: {s: {loc: {C: [1000, -200, 7]}}, t: {loc: {C: [1, 2, 3]}}}}",
        "args: {u: {kind: array, shape: [N, C], loc: {C: [1, 2]}}}, steps: [out = f(s, u)]}")
    write_spec(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path)
    assert info.value.where == "functions.f.cases[1].args.u.loc", str(info.value)
    assert "has 2 means along C, which has 3 entries" in info.value.problem


@pytest.mark.parametrize("packages, problem", [
    ("[matplotlib==3.9.2, scikit-learn>=1.3, 'pkg[extra]']", None),
    ("[matplotlib --index-url http://example.com]", "packages[0]"),
    ("['x; rm -rf /']", "packages[0]"),
    ("[tqdm, 3]", "packages[1]"),
])
def test_packages_are_pip_requirements_and_nothing_else(tmp_path, packages, problem):
    """setup.sh installs them: a name and a version bound, never options, URLs or shell."""
    folder = tmp_path / "a"
    shutil.copytree(REPO / "student_template" / "linear_classifier", folder)
    path = folder / "assignment.yaml"
    path.write_text(path.read_text() + f"packages: {packages}\n")
    if problem is None:
        assert load_spec(folder).packages == ("matplotlib==3.9.2", "scikit-learn>=1.3", "pkg[extra]")
    else:
        with pytest.raises(SpecError) as e:
            load_spec(folder)
        assert problem in str(e.value), str(e.value)


# --- the spec's expressions, and a spec found beside the submission ------------------------------

@pytest.mark.parametrize("expression", [
    "np.__builtins__['__import__']('os').system('id')",          # a red team's, from a planted spec
    "().__class__.__base__.__subclasses__()",
    "np.load('x.npy', allow_pickle=True)",
    "out.tofile('/tmp/x')",
    "(lambda: 1)()",
    "_x + 1",
    "[y for _y in x]",
    "'{0.__class__}'.format(x)",
    "(y := 1)",
    "9**9**9",                                                    # a red team's derived dim: held the grader until killed
    "[0] * 10**10",
    "np.ones(10**10)",
    "1 << 99999",
])
def test_an_expression_that_could_do_more_than_compute_is_refused(expression):
    from grader.spec.expressions import UnsafeExpression, compiled, unsafe
    assert unsafe(expression)
    with pytest.raises(UnsafeExpression):
        compiled(expression)


@pytest.mark.parametrize("expression", [
    "isclose(out, x, rtol=0, atol=0)",
    "abs(mean(out != 0) - dropout_param['p']) < 5 * sqrt(dropout_param['p'] * (1 - dropout_param['p']) / out.size)",
    "all(params['b1'] == 0) and all(params['b2'] == 0)",
    "sum(out * dout)",
    "np.linalg.norm(dx) < 1e3 and dx.max() <= x.shape[0]",
    "min(N, D) // 2 + max(1, H - 2)",
    "all(v > 0 for v in outputs.values())",
    "dropout_param['mode'] == 'train' and (1 - dropout_param['p']) ** x.size < 1e-9",
    "sqrt(x ** 2 + y ** -1) * 2 ** 0.5",
])
def test_the_expressions_specs_write_are_evaluated(expression):
    from grader.spec.expressions import unsafe
    assert unsafe(expression) == ""


def test_a_spec_with_an_expression_that_could_do_more_is_refused_at_load(tmp_path):
    folder = tmp_path / "spec"
    shutil.copytree(REPO / "student_template" / "cs231n_layers", folder)
    text = (folder / "assignment.yaml").read_text()
    bad = text.replace('expect: "isclose(out, x, rtol=0, atol=0)"',
                       "expect: \"np.__builtins__['__import__']('os').system('touch pwned')\"", 1)
    assert bad != text
    (folder / "assignment.yaml").write_text(bad)
    with pytest.raises(SpecError, match=r"is not an attribute an expression may read"):
        load_spec(folder)


def test_a_spec_beside_the_submission_is_a_handout_and_never_gives_hidden_cases(tmp_path):
    """A red team planted an assignment.yaml and a hidden.yaml (`reference: .`) in a submission's
    folder: `grader check SUB -a NAME --hidden`, run from a folder without assignments/NAME, took
    the student's own code for the reference (20/20 for constants) and ran the spec's properties,
    one of which ran a shell command as the grader. A spec found beside the submission is taken
    as a handout: public cases only, and its expressions may only compute."""
    import subprocess
    from conftest import GRADER
    sub = tmp_path / "sub"
    shutil.copytree(REPO / "student_template" / "cs231n", sub)
    for module in ("linear_svm", "softmax"):
        shutil.copy(REPO / "reference" / "cs231n" / f"{module}.py", sub / f"{module}.py")
    (sub / "hidden.yaml").write_text("reference: .\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    hidden = subprocess.run([GRADER, "check", str(sub), "-a", "cs231n", "--hidden"], cwd=elsewhere,
                            capture_output=True, text=True, timeout=300)
    assert hidden.returncode == 2, hidden.stdout + hidden.stderr
    assert "lies beside the submission, so it is taken as the handout's (public cases only)" in hidden.stderr
    public = subprocess.run([GRADER, "check", str(sub), "-a", "cs231n"], cwd=elsewhere,
                            capture_output=True, text=True, timeout=300)
    assert public.returncode == 0 and "All 12 public cases and 6 checks passed" in public.stdout, public.stdout
    # Said: its expected values are that copy's (a red team's planted expected_public.json made zeros pass)
    assert f"graded with {sub / 'assignment.yaml'}, found beside the submission" in public.stderr, public.stderr
    assert "Hidden cases" in public.stdout                # the handout's: it knows of hidden points, runs none


def test_a_bare_name_is_never_a_folder_of_that_name_under_the_current_one(tmp_path, monkeypatch):
    """A fourteenth red team handed in a handout folder named as the assignment, its hidden.yaml
    saying `reference: .`: `-a linear_classifier` took ./linear_classifier for the instructor's spec,
    before assignments/linear_classifier, and graded the whole class against the student's code."""
    from grader.spec.load import locate_spec
    handout = tmp_path / "linear_classifier"
    shutil.copytree(REPO / "student_template" / "linear_classifier", handout)
    (handout / "hidden.yaml").write_text("reference: .\n")
    with pytest.raises(SpecError, match="assignment not found"):
        locate_spec("linear_classifier", cwd=tmp_path)                 # as `grader grade` asks: no submission
    assert locate_spec("linear_classifier", handout, cwd=tmp_path) == (handout / "assignment.yaml", True)
    assert locate_spec("linear_classifier", handout, cwd=REPO) == (ASSIGNMENT / "assignment.yaml", False)
    monkeypatch.chdir(tmp_path)
    assert locate_spec("./linear_classifier") == (Path("linear_classifier/assignment.yaml"), False)   # a path: as given
    assert load_spec(handout / "assignment.yaml", handout=True).reference_dir is None


def test_a_handouts_support_files_beside_the_submission_may_not_lead_out_of_it(tmp_path):
    """A red team's planted spec listed support files that were links to /proc/self/environ and
    /etc/shadow: the grader read them and gave them to the child, which printed both."""
    handout = tmp_path / "cs231n"
    shutil.copytree(REPO / "student_template" / "cs231n", handout)
    load_spec(handout, handout=True)                                       # the handout as shipped: fine
    secret = tmp_path / "secret.py"
    secret.write_text("TOKEN = 'hunter2'\n")
    (handout / "past" / "leak.py").symlink_to(secret)
    with pytest.raises(SpecError, match="is a link, or leads out of the handout's folder"):
        load_spec(handout, handout=True)
    assert load_spec(handout).support                                      # the instructor's own: links are theirs

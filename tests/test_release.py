"""The handout: made from the reference by `grader release`; never carries solution code or hidden cases."""
import filecmp
import json
import re
import subprocess

import pytest

from grader.expected.starter import strip_solutions
from grader.spec import SpecError, load_spec

from conftest import GRADER, REPO

REFERENCE = REPO / "reference" / "linear_classifier" / "linear_classifier.py"
TEMPLATE = REPO / "student_template" / "linear_classifier"


def solution_lines(source: str) -> tuple[set, set]:
    """(stripped lines inside solution blocks, stripped lines outside them)."""
    inside, outside, in_block = set(), set(), False
    for line in source.splitlines():
        if re.match(r"\s*#\s*BEGIN SOLUTION", line):
            in_block = True
        elif re.match(r"\s*#\s*END SOLUTION", line):
            in_block = False
        elif in_block and re.match(r"\s*#\s*PROMPT:", line):
            continue                                  # the author's prompt is for the student
        elif re.search(r"#\s*SOLUTION\s*$", line):
            inside.add(re.sub(r"\s*#\s*SOLUTION\s*$", "", line).strip())       # the one-line form
        elif line.strip():
            (inside if in_block else outside).add(line.strip())
    return inside, outside


def test_block_is_replaced_by_a_stub_at_the_same_indentation():
    source = "def f(x):\n    y = 1\n    # BEGIN SOLUTION\n    y = x * 2\n    # END SOLUTION\n    return y\n"
    assert strip_solutions(source) == (
        "def f(x):\n    y = 1\n    # TODO: your code here (see the docstring).\n"
        '    raise NotImplementedError("f is not implemented yet")\n    return y\n')


def test_the_authors_prompt_replaces_the_generic_todo():
    source = ("def f(x):\n    # BEGIN SOLUTION\n    # PROMPT: Double x, without a loop.\n    # PROMPT:\n"
              "    # PROMPT: Return the result.\n    y = x * 2\n    # PROMPT: not a prompt: the code has begun\n"
              "    # END SOLUTION\n    return y\n")
    assert strip_solutions(source) == ("def f(x):\n    # TODO: Double x, without a loop.\n    #\n"
                                       "    #       Return the result.\n"
                                       '    raise NotImplementedError("f is not implemented yet")\n    return y\n')


@pytest.mark.parametrize("line, stub", [
    ("    num_train = X.shape[0]  # SOLUTION\n", "    num_train = ...  # TODO\n"),
    ("    dW += 2 * reg * W  # SOLUTION\n", "    dW += ...  # TODO\n"),
    ("    print(secret())  # SOLUTION\n", "    ...  # TODO\n"),
])
def test_one_line_solution_keeps_the_target_and_hides_the_value(line, stub):
    assert strip_solutions(line) == stub


@pytest.mark.parametrize("source, where", [
    ("# BEGIN SOLUTION\nx = 1\n", "end of file"),
    ("# END SOLUTION\n", "line 1"),
    ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n", "line 2"),
])
def test_broken_markers_are_spec_errors(source, where):
    with pytest.raises(SpecError) as info:
        strip_solutions(source, "ref.py")
    assert info.value.where == where


# Every shipped assignment, with its student modules.
SHIPPED = {"linear_classifier": ["linear_classifier"], "cs231n": ["linear_svm", "softmax"],
           "cs231n_2016": ["linear_svm", "softmax"], "cs231n_2015": ["linear_svm", "softmax"],
           "autograd_basics": ["autograd_basics"], "cs231n_layers": ["layers", "optim"],
           "fully_connected_networks": ["fully_connected_networks"]}
# The public files an assignment ships beside the student's modules: the course's support modules, scenarios.
PUBLIC_FILES = {"fully_connected_networks": ["a3_helper.py", "eecs598", "scenarios.py"], "cs231n": ["past"],
                "cs231n_2015": ["past"], "cs231n_2016": ["past"]}


def test_every_shipped_assignment_is_checked_here():
    assert sorted(p.name for p in (REPO / "assignments").iterdir()) == sorted(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_handout_has_no_line_of_reference_solution_code(name):
    template = REPO / "student_template" / name
    inside, outside = set(), set()             # a line the handout shows in one module is no secret in another
    for module in SHIPPED[name]:
        i, o = solution_lines((REPO / "reference" / name / f"{module}.py").read_text())
        inside |= i
        outside |= o
    for public in PUBLIC_FILES.get(name, []):  # nor is a line of the course's own support files
        for path in [REPO / "assignments" / name / public, *(REPO / "assignments" / name / public).rglob("*.py")]:
            if path.is_file():
                outside |= {line.strip() for line in path.read_text().splitlines()}
    secret = inside - outside
    assert len(secret) >= 5                    # a guard: the reference really has solution code to hide
    for path in template.rglob("*"):
        if path.is_file():
            text = path.read_text()
            leaked = [line for line in secret if line in text]
            assert not leaked, f"{path.name} contains solution lines: {leaked[:3]}"


@pytest.mark.parametrize("name", SHIPPED)
def test_handout_carries_only_public_cases(name):
    template = REPO / "student_template" / name
    files = sorted(p.name for p in template.iterdir())
    assert files == sorted(["assignment.yaml", "expected_public.json", *(f"{m}.py" for m in SHIPPED[name]),
                            *PUBLIC_FILES.get(name, [])])
    doc = json.loads((template / "expected_public.json").read_text())
    spec = load_spec(REPO / "assignments" / name)                  # hidden.yaml may extend another's
    case_ids = {(f, cid) for f, cases in doc["functions"].items() for cid in cases}
    assert case_ids == {(f.name, c.case_id) for f in spec.functions for c in f.cases_of("public")}
    assert all(cid.startswith("public-") for _, cid in case_ids)
    hidden_seeds = {c.seed for f in spec.functions for c in f.cases_of("hidden")}
    seeds = {case["seed"] for cases in doc["functions"].values() for case in cases.values()}
    assert hidden_seeds and seeds.isdisjoint(hidden_seeds)


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_committed_handout_is_what_release_writes_now(tmp_path, name):
    """Fails when the reference or the spec changed and `grader release` was not run again."""
    template = REPO / "student_template" / name
    proc = subprocess.run([GRADER, "release", name, "--out", str(tmp_path)], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    names = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert names == sorted(str(p.relative_to(template)) for p in template.rglob("*") if p.is_file()
                           and "__pycache__" not in p.parts)
    match, mismatch, errors = filecmp.cmpfiles(tmp_path, template, names, shallow=False)
    # The expected values come from BLAS, whose kernels differ in the last bits from one CPU to another:
    # those must agree to 1e-12, far below any tolerance a spec uses; everything else byte for byte.
    if "expected_public.json" in mismatch and _same_up_to_last_bits(
            json.loads((tmp_path / "expected_public.json").read_text()),
            json.loads((template / "expected_public.json").read_text())):
        mismatch.remove("expected_public.json")
    assert mismatch == [] and errors == [], (
        f"student_template/{name} is stale ({mismatch}): run `grader release {name} --out student_template/{name}`")


def _same_up_to_last_bits(a, b, scale: float = 0.0) -> bool:
    """The same JSON document, except that floats may differ by a relative 1e-12: relative to the
    largest number of their list (an array's data), where a number is a tiny difference of large
    ones (-7.6e-06 in a gradient of values near 1, which another CPU's kernels make -7.6e-06 with
    other last digits)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or abs(a - b) <= 1e-12 * max(abs(a), abs(b), scale)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_up_to_last_bits(a[k], b[k]) for k in a)
    if isinstance(a, list):
        numbers = [abs(x) for x in a + b if isinstance(x, (int, float)) and not isinstance(x, bool)]
        scale = max(numbers, default=0.0)
        return len(a) == len(b) and all(_same_up_to_last_bits(x, y, scale) for x, y in zip(a, b))
    return a == b


def test_handout_comparison_tolerates_only_the_last_bits():
    doc = {"f": {"public-1": {"outputs": [{"data": [11.389452995751169, 2.0], "shape": [2]}]}}}
    near = {"f": {"public-1": {"outputs": [{"data": [11.389452995751167, 2.0], "shape": [2]}]}}}
    assert _same_up_to_last_bits(doc, near)
    assert not _same_up_to_last_bits(doc, {"f": {"public-1": {"outputs": [{"data": [11.3894531, 2.0], "shape": [2]}]}}})
    assert not _same_up_to_last_bits(doc, {"f": {"public-1": {"outputs": [{"data": [11.389452995751169], "shape": [1]}]}}})
    assert not _same_up_to_last_bits(doc, {"f": {"public-2": doc["f"]["public-1"]}})
    # A number near 0 in an array of larger ones: its last bits are the larger ones' last bits
    grad = {"data": [0.51, -7.624545284680283e-06, 1.2], "shape": [3]}
    assert _same_up_to_last_bits(grad, {"data": [0.51, -7.624545284702153e-06, 1.2], "shape": [3]})
    assert not _same_up_to_last_bits(grad, {"data": [0.51, -7.6245e-06, 1.2], "shape": [3]})

"""End-to-end tests of `grader check`, run the way users run it: the installed console script in
a subprocess, on realistic student submissions: examples/linear_classifier/ada (correct, written
differently from the reference) and the variants in tests/submissions/linear_classifier.yaml.

Each variant is the reference with one mistake (its name says which; `about` repeats it), so a
test can say exactly which functions lose points and which keep them. Every grader run happens once per module (the `runs` fixture) and is shared by all the
assertions that look at it; a run costs ~2.5 s, almost all of it the worker importing torch.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import GRADER, terminal_block
from variants import materialize, variant_source

pytestmark = pytest.mark.slow          # every test here runs the `grader` command

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = REPO / "assignments" / "linear_classifier"
HANDOUT = REPO / "student_template" / "linear_classifier"
REFERENCE = REPO / "reference" / "linear_classifier" / "linear_classifier.py"
EXAMPLES = REPO / "examples" / "linear_classifier"

FUNCTIONS = ("svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive", "softmax_loss_vectorized")
PUBLIC_IDS = ("public-1", "public-2", "public-3")
SVM_HIDDEN_IDS = tuple(f"hidden-{i}" for i in range(1, 7))            # the six shared edge cases
SOFTMAX_HIDDEN_IDS = tuple(f"hidden-{i}" for i in range(1, 9))        # ... plus two 'scores of order 1000'
POINTS = {"public": 2.0, "hidden": 3.0}                               # per function, from the spec
RUN_TIMEOUT = 120                                                     # s; a hang fails, never blocks CI




# ---------------------------------------------------------------------------------------------
# Running the grader


@dataclass
class Run:
    args: list
    returncode: int
    stdout: str
    stderr: str
    elapsed: float
    json_path: Path
    junit_path: Path

    @property
    def report(self) -> dict:
        assert self.json_path.is_file(), f"no JSON report written\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        return json.loads(self.json_path.read_text())

    def function(self, name: str) -> dict:
        matches = [f for f in self.report["functions"] if f["name"] == name]
        assert len(matches) == 1, f"{name} appears {len(matches)} times in the JSON report"
        return matches[0]

    def case(self, function: str, case_id: str) -> dict:
        matches = [c for c in self.function(function)["cases"] if c["case_id"] == case_id]
        assert len(matches) == 1, f"{function} {case_id} appears {len(matches)} times in the JSON report"
        return matches[0]

    def block(self, function: str) -> str:
        return terminal_block(self.stdout, function)


def grader_check(path, *extra, assignment=ASSIGNMENT, cwd=REPO, out_dir: Path, reports=True) -> Run:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, junit_path = out_dir / "report.json", out_dir / "report.xml"
    args = [GRADER, "check", str(path), "--assignment", str(assignment), *extra]
    if reports:
        args += ["--json", str(json_path), "--junit-xml", str(junit_path)]
    t0 = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=cwd)
    return Run(args, proc.returncode, proc.stdout, proc.stderr, time.monotonic() - t0, json_path, junit_path)


def short_timeout_spec(folder: Path, seconds: int = 2) -> Path:
    """A handout-style copy of the public spec (assignment.yaml + expected_public.json) with a
    shorter case timeout. The expected outputs' input digests depend on the case inputs only,
    never on the limits, so the copied expected_public.json stays valid."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (HANDOUT / "assignment.yaml").read_text()
    old = "  case_timeout: 10 "
    assert text.count(old) == 1, "assignment.yaml changed: update short_timeout_spec()"
    (folder / "assignment.yaml").write_text(text.replace(old, f"  case_timeout: {seconds} "))
    shutil.copy(HANDOUT / "expected_public.json", folder / "expected_public.json")
    return folder


def handout_copy(root: Path, with_solution: bool) -> Path:
    """The student's handout folder, copied outside the repository."""
    folder = root / "linear_classifier"
    shutil.copytree(HANDOUT, folder, ignore=shutil.ignore_patterns("__pycache__"))
    if with_solution:
        shutil.copy(REFERENCE, folder / "linear_classifier.py")
    return folder


# Every run the module needs, by key: (how to run it). Keys are what the tests ask `runs` for.
def _plan(tmp: Path) -> dict:
    sub = lambda name: EXAMPLES / "ada" if name == "correct_alt" else materialize(name, tmp / "submissions")
    plan = {
        "reference": lambda: grader_check(REFERENCE, out_dir=tmp / "reference"),
        "reference-hidden": lambda: grader_check(REFERENCE, "--hidden", out_dir=tmp / "reference-hidden"),
        "handout": lambda: grader_check(HANDOUT, out_dir=tmp / "handout"),
        "infinite_loop": lambda: grader_check(sub("infinite_loop"), out_dir=tmp / "infinite_loop",
                                              assignment=short_timeout_spec(tmp / "infinite_loop-spec")),
    }
    plan["bob-hidden"] = lambda: grader_check(EXAMPLES / "bob", "--hidden", out_dir=tmp / "bob-hidden")
    for name in ("correct_alt", "reg_grad_half", "no_max_shift", "min_shift", "mean_shift", "probs_then_log",
                 "onehot_log_probs"):
        plan[f"{name}-hidden"] = (lambda n: lambda: grader_check(sub(n), "--hidden", out_dir=tmp / f"{n}-hidden"))(name)
    for name in ("no_average", "syntax_error", "missing_function", "wrong_shape", "nan_loss", "cuda_device",
                 "mutates_input", "exit_at_import", "missing_dependency", "returns_none", "float32_grad", "prints"):
        plan[name] = (lambda n: lambda: grader_check(sub(n), out_dir=tmp / n))(name)
    return plan


class Runs:
    """Each planned run at most once per module; all of them started together (two at a time)
    when many tests of this module are selected, else one by one as tests ask for them."""

    def __init__(self, plan: dict, prefetch: bool):
        self._plan = plan
        self._pool = ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1))
        self._futures = {}
        if prefetch:
            for key in plan:
                self._start(key)

    def _start(self, key: str):
        if key not in self._futures:
            self._futures[key] = self._pool.submit(self._plan[key])
        return self._futures[key]

    def __getitem__(self, key: str) -> Run:
        return self._start(key).result()

    def close(self):
        self._pool.shutdown(wait=True, cancel_futures=True)


def module_runs(plan: dict, request, prefetch_over: int = 6) -> Runs:
    """The plan's runs for the requesting test module, all started at once when it selected
    more than `prefetch_over` tests."""
    selected = [item for item in request.session.items if item.module is request.module]
    return Runs(plan, prefetch=len(selected) > prefetch_over)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, request):
    r = module_runs(_plan(tmp_path_factory.mktemp("runs")), request)
    yield r
    r.close()


# ---------------------------------------------------------------------------------------------
# Shared assertions


def assert_one_function_fails(run: Run, function: str, status: str):
    """Exit 1; every public case of `function` has `status` and earns nothing; the rest keep full marks."""
    assert_clean(run, 1)
    assert_statuses(run, False, {function: {cid: status for cid in PUBLIC_IDS}})
    assert_points(run, False, {function: 0.0})


def assert_clean(run: Run, returncode: int):
    assert run.returncode == returncode, (
        f"exit code {run.returncode}, expected {returncode}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}")
    assert "Traceback" not in run.stderr, run.stderr
    assert "Traceback" not in run.stdout, run.stdout


def case_ids(function: str, hidden: bool) -> tuple:
    if not hidden:
        return PUBLIC_IDS
    return PUBLIC_IDS + (SOFTMAX_HIDDEN_IDS if function.startswith("softmax") else SVM_HIDDEN_IDS)


def assert_statuses(run: Run, hidden: bool, expected: dict):
    """Every case of every function has the status `expected` gives it ({function: {case_id:
    status}}); cases not mentioned must have passed."""
    report = run.report
    assert report["submission"] == run.args[2]
    assert [f["name"] for f in report["functions"]] == list(FUNCTIONS)
    assert report["hidden_graded"] is hidden
    for fn in FUNCTIONS:
        got = {c["case_id"]: c["status"] for c in run.function(fn)["cases"]}
        want = {cid: expected.get(fn, {}).get(cid, "passed") for cid in case_ids(fn, hidden)}
        assert got == want, f"{fn}: statuses {got}, expected {want}"


def assert_points(run: Run, hidden: bool, earned: dict):
    """Per-function earned/possible in the JSON report; functions not in `earned` get full marks.
    The terminal output's header line of each function says the same."""
    possible = POINTS["public"] + (POINTS["hidden"] if hidden else 0.0)
    for fn in FUNCTIONS:
        f = run.function(fn)
        want = earned.get(fn, possible)
        assert (f["earned"], f["possible"]) == (pytest.approx(want, abs=1e-12), possible), fn
        n_cases = len(case_ids(fn, hidden))
        n_passed = sum(c["status"] == "passed" for c in f["cases"])
        mark = "ok  " if n_passed == n_cases else "FAIL"
        head = f"{mark} {fn}: {n_passed}/{n_cases} cases passed, {_pts(want)}/{_pts(possible)} points"
        line = run.block(fn).splitlines()[0]
        assert line == head or line.startswith(head + ": not run, as "), line     # a module that did not import: above


def assert_full_marks(run: Run, hidden: bool):
    assert_clean(run, 0)
    assert_statuses(run, hidden, {})
    assert_points(run, hidden, {})
    n = 40 if hidden else 12
    scope = "public and hidden" if hidden else "public"
    total = 20 if hidden else 8
    assert run.report["counts"] == {"tests": n, "passed": n, "failures": 0, "errors": 0}
    assert run.report["score"]["earned"] == run.report["score"]["possible"] == total
    assert f"All {n} {scope} cases passed: {total}/{total} points." in run.stdout
    assert "FAIL" not in run.stdout


def assert_first_failure_shown(run: Run, function: str, case_id: str, *texts: str):
    """The function's paragraph names the case, its seed and its dims, then its message and
    `texts` (the details: file, line, advice) on the following lines."""
    case = run.case(function, case_id)
    block = run.block(function)
    dims = ", ".join(f"{k}={v}" for k, v in case["dims"].items())
    label = f"     {case_id} (seed {case['seed']}, {dims}"
    lines = block.splitlines()
    at = [i for i, line in enumerate(lines) if line.startswith(label)]
    assert len(at) == 1, f"{label!r} not shown once in:\n{block}"
    assert lines[at[0]].endswith(": " + case["status"].replace("_", " ")), lines[at[0]]
    assert lines[at[0] + 1] == " " * 8 + case["message"], block
    for text in texts:
        assert text in block, f"{text!r} not in:\n{block}"


def assert_import_failure_shown(run: Run, module_file: str, error: str, *texts: str):
    """A module that does not import: said once, above its functions (the error, then `texts`: file,
    line, advice), and each function's line points there."""
    header = f"{module_file} could not be imported, so none of the {len(FUNCTIONS)} functions in it could run:\n" \
             f"     {error}\n"
    assert run.stdout.count(header) == 1, run.stdout
    shown = run.stdout[run.stdout.index(header):].split("\n\n")[0]
    for text in texts:
        assert text in shown, f"{text!r} not in:\n{shown}"
    for fn in FUNCTIONS:
        assert f"not run, as {module_file} could not be imported (above)" in run.block(fn).splitlines()[0], run.block(fn)


def _pts(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))


def _line_of(name: str, text: str) -> int:
    lines = variant_source(name).splitlines()
    found = [i + 1 for i, line in enumerate(lines) if line.rstrip() == text]
    assert len(found) == 1, f"{text!r} is on lines {found} of variant {name}"
    return found[0]


def _case_inputs(function: str, case_id: str) -> dict:
    """The inputs the grader generates for one case (seeded: the same in every process)."""
    from grader.cases import make_case
    from grader.spec import load_spec
    spec = load_spec(ASSIGNMENT)
    fn = spec.function(function)
    (case_spec,) = [c for c in fn.cases if c.case_id == case_id]
    return make_case(spec, fn, case_spec).args


# ---------------------------------------------------------------------------------------------
# Correct code: the reference, and a correct solution written differently


def test_reference_public_full_marks(runs):
    run = runs["reference"]
    assert_full_marks(run, hidden=False)
    assert run.report["stdout"] == "" and {c["stdout"] for f in run.report["functions"] for c in f["cases"]} == {""}
    assert "Public cases only: hidden cases are run when your work is graded." in run.stdout
    assert "Hidden cases, worth 12 more points, are not run here." in run.stdout


def test_reference_hidden_full_marks(runs):
    run = runs["reference-hidden"]
    assert_full_marks(run, hidden=True)
    assert "Public cases only" not in run.stdout
    assert "not run here" not in run.stdout


def test_readme_example_bob_loses_exactly_what_his_bugs_cost(runs):
    assert_bobs_points(runs["bob-hidden"])


def assert_bobs_points(run: Run):
    """examples/linear_classifier/bob, graded --hidden: what each of his bugs costs him."""
    assert_clean(run, 1)
    earned = {f["name"]: (f["earned"], f["possible"]) for f in run.report["functions"]}
    assert earned == {"svm_loss_naive": (0.5, 5.0), "svm_loss_vectorized": (5.0, 5.0),
                      "softmax_loss_naive": (0.0, 5.0), "softmax_loss_vectorized": (0.0, 5.0)}
    naive = {c["case_id"]: c["status"] for c in run.function("svm_loss_naive")["cases"]}
    assert [cid for cid, st in naive.items() if st == "passed"] == ["hidden-3"]     # reg = 0 hides the bug
    assert {c["status"] for c in run.function("softmax_loss_naive")["cases"]} == {"not_implemented"}
    assert "also failing: " in run.block("svm_loss_naive")
    assert "10 of 40 public and hidden cases passed: 5.5/20 points." in run.stdout


def test_correct_alt_full_marks_hidden_included(runs):
    assert_full_marks(runs["correct_alt-hidden"], hidden=True)


# ---------------------------------------------------------------------------------------------
# The untouched handout, and the handout as a student uses it (outside the instructor's repo)


def test_untouched_handout_scores_zero_not_implemented(runs):
    run = runs["handout"]
    assert_clean(run, 1)
    assert_statuses(run, False, {fn: {cid: "not_implemented" for cid in PUBLIC_IDS} for fn in FUNCTIONS})
    assert_points(run, False, {fn: 0.0 for fn in FUNCTIONS})
    for fn in FUNCTIONS:
        assert {c["message"] for c in run.function(fn)["cases"]} == {f"{fn} is not implemented yet"}
        assert {c["exception"] for c in run.function(fn)["cases"]} == {"NotImplementedError"}
        assert_first_failure_shown(run, fn, "public-1", "linear_classifier.py, line ",
                                   f'raise NotImplementedError("{fn} is not implemented yet")')
        assert "     the same on public-2 (seed 2), public-3 (seed 3)" in run.block(fn)
    assert run.report["counts"] == {"tests": 12, "passed": 0, "failures": 0, "errors": 12}
    assert "0 of 12 public cases passed: 0/8 points." in run.stdout


def test_handout_outside_repo_by_name(tmp_path):
    """A student's checkout: only the handout folder, cwd inside it, the assignment by name."""
    folder = handout_copy(tmp_path, with_solution=True)
    run = grader_check("linear_classifier.py", assignment="linear_classifier", cwd=folder,
                       out_dir=tmp_path / "out")
    assert_full_marks(run, hidden=False)
    assert "Public cases only: hidden cases are run when your work is graded." in run.stdout
    assert run.report["hidden_available"] is False


def test_handout_outside_repo_hidden_is_a_usage_error(tmp_path):
    folder = handout_copy(tmp_path, with_solution=True)
    run = grader_check(".", "--hidden", assignment="linear_classifier", cwd=folder,
                       out_dir=tmp_path / "out")
    assert_clean(run, 2)
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1 and run.stderr.endswith("\n"), run.stderr
    assert run.stderr.startswith("grader: error: hidden cases need the instructor's files ("), run.stderr
    assert str(folder.resolve() / "hidden.yaml") in run.stderr
    assert "this is a handout, which has only the public cases" in run.stderr
    assert not run.json_path.exists() and not run.junit_path.exists()


@pytest.mark.slow
def test_a_zip_is_checked_as_the_folder_it_holds(tmp_path):
    """A submission as handed in, zipped with the folder inside and macOS's __MACOSX beside it:
    unpacked as `grader grade` unpacks it, and named as the zip in the report."""
    import zipfile
    archive = tmp_path / "ada.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(EXAMPLES / "ada" / "linear_classifier.py", "ada/linear_classifier.py")
        z.writestr("__MACOSX/ada/._linear_classifier.py", b"\x00\x05\x16\x07 resource fork")
    run = grader_check(archive, out_dir=tmp_path / "out")
    assert_full_marks(run, hidden=False)
    assert run.report["submission"] == str(archive)
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really")
    broken = grader_check(tmp_path / "broken.zip", out_dir=tmp_path / "broken")
    assert_clean(broken, 2)
    assert broken.stderr.startswith("grader: error: ") and "broken.zip" in broken.stderr, broken.stderr


@pytest.mark.slow
def test_a_package_the_spec_lists_and_this_machine_lacks_is_named(tmp_path):
    spec = tmp_path / "spec"
    shutil.copytree(HANDOUT, spec, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    with open(spec / "assignment.yaml", "a") as f:
        f.write("packages: [not-a-real-package-xyz==1.0, numpy]\n")
    run = grader_check(EXAMPLES / "ada", assignment=spec / "assignment.yaml", out_dir=tmp_path / "out")
    assert_full_marks(run, hidden=False)
    assert run.stderr == ("grader: note: linear_classifier lets student code import not-a-real-package-xyz, which is not "
                          "installed here: code that uses it fails its cases; install it where you grade "
                          "(pip install not-a-real-package-xyz==1.0)\n"), run.stderr


# ---------------------------------------------------------------------------------------------
# Wrong answers


def test_reg_grad_half(runs):
    """dW += reg * W in svm_loss_naive: every case fails on dW except the one with reg = 0."""
    run = runs["reg_grad_half-hidden"]
    assert_clean(run, 1)
    failing = [cid for cid in case_ids("svm_loss_naive", True) if cid != "hidden-3"]
    assert run.case("svm_loss_naive", "hidden-3")["note"] == "no regularization (reg = 0)"
    assert_statuses(run, True, {"svm_loss_naive": {cid: "failed" for cid in failing}})
    assert_points(run, True, {"svm_loss_naive": 3.0 * 1 / 6})       # 0/3 public, 1/6 hidden
    for cid in failing:
        case = run.case("svm_loss_naive", cid)
        loss, dw = case["outputs"]
        assert loss["ok"] is True and dw["ok"] is False
        i, j = dw["worst_index"]
        args = _case_inputs("svm_loss_naive", cid)              # every dW entry lacks its reg * W
        assert case["message"] == (f"dW[{i}, {j}]: expected {dw['expected']:.8g}, got {dw['got']:.8g} "
                                   f"(relative error {dw['max_rel_error']:.2g}, tolerance 1e-06; "
                                   f"{args['W'].size} of {args['W'].size} values are outside it)")
        # What the student computed is exactly the reference minus the missing reg * W.
        assert dw["got"] == pytest.approx(dw["expected"] - args["reg"] * args["W"][i, j], rel=1e-9, abs=1e-12)
    assert_first_failure_shown(run, "svm_loss_naive", "public-1", "dW[", "expected", "got", "relative error")
    assert "public-2 (seed 2" in run.block("svm_loss_naive")
    # Three failing cases in full, the rest named on one line.
    assert "public-3 (seed 3, N=12, D=18, C=4): failed" in run.block("svm_loss_naive")
    assert run.block("svm_loss_naive").endswith(
        "also failing: hidden-1 (seed 101), hidden-2 (seed 102), hidden-4 (seed 104), hidden-5 (seed 105), hidden-6 (seed 106)")
    assert "32 of 40 public and hidden cases passed: 15.5/20 points." in run.stdout


def test_no_average(runs):
    """softmax_loss_vectorized forgets dW /= N: dW wrong (the loss right) on every public case."""
    run = runs["no_average"]
    assert_one_function_fails(run, "softmax_loss_vectorized", "failed")
    for cid in PUBLIC_IDS:
        case = run.case("softmax_loss_vectorized", cid)
        loss, dw = case["outputs"]
        assert loss["ok"] is True and dw["ok"] is False
        assert re.match(r"dW\[\d+, \d+\]: expected ", case["message"])
        i, j = dw["worst_index"]
        args = _case_inputs("softmax_loss_vectorized", cid)
        n, reg_grad = case["dims"]["N"], 2 * args["reg"] * args["W"][i, j]
        assert dw["got"] == pytest.approx(n * (dw["expected"] - reg_grad) + reg_grad, rel=1e-9, abs=1e-12)
    assert_first_failure_shown(run, "softmax_loss_vectorized", "public-1", "tolerance 1e-06; 40 of 40 values are outside it)")


def test_no_max_shift_fails_only_the_large_score_cases(runs):
    run = runs["no_max_shift-hidden"]
    assert_clean(run, 1)
    large = ("hidden-7", "hidden-8")
    assert_statuses(run, True, {fn: {cid: "failed" for cid in large}
                                for fn in ("softmax_loss_naive", "softmax_loss_vectorized")})
    assert_points(run, True, {"softmax_loss_naive": 2.0 + 3.0 * 6 / 8, "softmax_loss_vectorized": 2.0 + 3.0 * 6 / 8})
    assert run.report["score"]["public"] == {"earned": 8.0, "possible": 8.0, "passed": 12, "total": 12}
    for fn in ("softmax_loss_naive", "softmax_loss_vectorized"):
        for cid in large:
            case = run.case(fn, cid)
            assert case["note"].startswith("scores of order 1000")
            loss = case["outputs"][0]
            assert loss["ok"] is False
            assert re.fullmatch(rf"loss is (NaN|inf); expected {loss['expected']:.8g}( \(also wrong: dW\))?",
                                case["message"]), case["message"]
            assert f"{cid} (seed {case['seed']}" in run.block(fn)
            assert f"        {case['message']}" in run.block(fn)
        assert_first_failure_shown(run, fn, "hidden-7", "scores of order 1000 (numerical stability)")


@pytest.mark.parametrize("name", ["min_shift", "mean_shift"])
def test_a_shift_by_the_minimum_or_the_mean_overflows_on_the_spread_out_large_scores(runs, name):
    """hidden-7's rows have two classes near 1040 and two near -640: exp() of the scores shifted by
    their minimum or their mean overflows, and the loss is inf or NaN. hidden-8's scores lie close
    together, where those shifts work."""
    run = runs[f"{name}-hidden"]
    assert_clean(run, 1)
    assert_statuses(run, True, {fn: {"hidden-7": "failed"} for fn in ("softmax_loss_naive", "softmax_loss_vectorized")})
    for fn in ("softmax_loss_naive", "softmax_loss_vectorized"):
        case = run.case(fn, "hidden-7")
        assert re.match(r"loss is (NaN|inf); expected ", case["message"]), case["message"]
        assert "subtract the maximum score" in case["diagnosis"], case["diagnosis"]
        assert "NaN comes from" not in case["details"]        # the diagnosis says it: no hint beside it


def test_the_log_of_a_probability_is_right_on_every_large_score_case(runs):
    """The correct class is never so far below its row's maximum that its probability underflows:
    -log(p[y]) of the max-shifted probabilities passes where logsumexp does."""
    run = runs["probs_then_log-hidden"]
    assert_clean(run, 0)
    assert_statuses(run, True, {})


def test_a_nan_that_no_mistake_explains_gets_a_hint_on_where_nan_comes_from(runs):
    """0 * log(0) where a probability underflows: the loss alone is NaN, which no catalogued mistake
    makes; the hint says which output is NaN, that the other is right, and what makes NaN."""
    run = runs["onehot_log_probs-hidden"]
    assert_clean(run, 1)
    assert_statuses(run, True, {"softmax_loss_vectorized": {"hidden-7": "failed"}})
    case = run.case("softmax_loss_vectorized", "hidden-7")
    assert case["message"].startswith("loss is NaN; expected "), case["message"]
    assert not case["diagnosis"], case["diagnosis"]
    assert case["details"].startswith("Hint: loss is NaN where the reference's is finite, and dW is right. NaN comes "
                                      "from log() or sqrt() of a negative number, or from 0 * inf"), case["details"]
    assert "Hint: loss is NaN" in run.block("softmax_loss_vectorized")


def test_wrong_shape_names_the_transpose(runs):
    run = runs["wrong_shape"]
    assert_one_function_fails(run, "svm_loss_vectorized", "failed")
    for cid in PUBLIC_IDS:
        case = run.case("svm_loss_vectorized", cid)
        d, c = case["dims"]["D"], case["dims"]["C"]
        assert case["message"] == f"dW: expected shape ({d}, {c}), got ({c}, {d}) (the transpose?)"
    assert_first_failure_shown(run, "svm_loss_vectorized", "public-1")


def test_nan_loss(runs):
    run = runs["nan_loss"]
    assert_one_function_fails(run, "svm_loss_naive", "failed")
    for cid in PUBLIC_IDS:
        case = run.case("svm_loss_naive", cid)
        loss, dw = case["outputs"]
        assert (loss["ok"], dw["ok"]) == (False, True)
        assert loss["got"] == "nan"                     # strict JSON: NaN is written as a string
        assert case["message"] == f"loss is NaN; expected {loss['expected']:.8g}"
        assert math.isfinite(loss["expected"])
        assert f"     {cid} (seed {case['seed']}" in run.block("svm_loss_naive")
        assert f"        {case['message']}" in run.block("svm_loss_naive")


def test_returns_none(runs):
    run = runs["returns_none"]
    assert_one_function_fails(run, "svm_loss_naive", "failed")
    messages = {c["message"] for c in run.function("svm_loss_naive")["cases"]}
    assert len(messages) == 1
    (message,) = messages
    assert message.startswith("svm_loss_naive returned None")
    assert message.endswith("; expected 2 values (loss, dW)")
    assert_first_failure_shown(run, "svm_loss_naive", "public-1",
                               "Hint: svm_loss_naive ended without returning anything: is its `return` missing")


def test_float32_grad(runs):
    run = runs["float32_grad"]
    assert_one_function_fails(run, "svm_loss_naive", "failed")
    for cid in PUBLIC_IDS:
        assert run.case("svm_loss_naive", cid)["message"] == (
            "dW: expected dtype float64, got float32. Keep the inputs' dtype: no .float(), .double() or .to(...) on an "
            "input, and new arrays made with zeros_like(x), dtype=x.dtype, or the function's own dtype argument (an "
            "__init__'s)")
    assert_first_failure_shown(run, "svm_loss_naive", "public-1")


def test_mutates_input(runs):
    """Correct outputs, but X is changed in place: fails, naming X."""
    run = runs["mutates_input"]
    assert_one_function_fails(run, "svm_loss_vectorized", "failed")
    for cid in PUBLIC_IDS:
        case = run.case("svm_loss_vectorized", cid)
        assert [o["ok"] for o in case["outputs"]] == [True, True]
        assert case["message"].startswith("svm_loss_vectorized changed its input X in place; ")
    assert_first_failure_shown(run, "svm_loss_vectorized", "public-1", "X = X.clone()")


# ---------------------------------------------------------------------------------------------
# Code that does not run


def test_infinite_loop_times_out_and_the_rest_is_graded(runs):
    run = runs["infinite_loop"]
    assert_clean(run, 1)
    assert run.elapsed < 60, f"took {run.elapsed:.1f} s"
    assert_statuses(run, False, {"softmax_loss_naive": {cid: "timeout" for cid in PUBLIC_IDS}})
    assert_points(run, False, {"softmax_loss_naive": 0.0})
    cases = run.function("softmax_loss_naive")["cases"]
    assert cases[0]["message"] == ("softmax_loss_naive did not finish within 2 s "
                                   "(an infinite loop, or much slower than needed?)")
    for case in cases[1:]:
        assert case["message"] == "not run: softmax_loss_naive already timed out on an earlier case"
    assert_first_failure_shown(run, "softmax_loss_naive", "public-1")
    assert run.report["counts"] == {"tests": 12, "passed": 9, "failures": 0, "errors": 3}


def test_syntax_error_points_at_the_line(runs):
    run = runs["syntax_error"]
    assert_clean(run, 1)
    line = _line_of("syntax_error", "        for j in range(num_classes)")
    assert_statuses(run, False, {fn: {cid: "error" for cid in PUBLIC_IDS} for fn in FUNCTIONS})
    assert_points(run, False, {fn: 0.0 for fn in FUNCTIONS})
    for fn in FUNCTIONS:
        for case in run.function(fn)["cases"]:
            assert case["message"].startswith("linear_classifier.py could not be imported: SyntaxError: ")
            assert case["details"].splitlines()[0] == f"linear_classifier.py, line {line}: for j in range(num_classes)"
    error = run.case(FUNCTIONS[0], "public-1")["message"].split(" could not be imported: ", 1)[1]
    assert_import_failure_shown(run, "linear_classifier.py", error, f"linear_classifier.py, line {line}: for j in range(num_classes)")


def test_missing_function(runs):
    run = runs["missing_function"]
    assert_one_function_fails(run, "softmax_loss_vectorized", "error")
    assert {c["message"] for c in run.function("softmax_loss_vectorized")["cases"]} == {
        "softmax_loss_vectorized is not defined in linear_classifier.py"}
    assert_first_failure_shown(run, "softmax_loss_vectorized", "public-1")


def test_cuda_device_gets_cpu_advice(runs):
    run = runs["cuda_device"]
    assert_clean(run, 1)
    line = _line_of("cuda_device",
                    "    dW = torch.zeros(W.shape, dtype=W.dtype, device='cuda')")
    assert_statuses(run, False, {"svm_loss_naive": {cid: "error" for cid in PUBLIC_IDS}})
    assert_points(run, False, {"svm_loss_naive": 0.0})
    case = run.case("svm_loss_naive", "public-1")
    assert case["message"].startswith(f"svm_loss_naive raised {case['exception']}: ")
    assert case["exception"] in ("RuntimeError", "AssertionError") and "CUDA" in case["message"]
    assert {c["exception"] for c in run.function("svm_loss_vectorized")["cases"]} == {""}      # returned
    assert_first_failure_shown(run, "svm_loss_naive", "public-1",
                               f"linear_classifier.py, line {line}, in svm_loss_naive: ",
                               "The grader runs on a CPU", "device=W.device")


@pytest.mark.parametrize("name, line_text, message, where, advice", [
    ("exit_at_import", "sys.exit(0)", "SystemExit: 0", "in <module>: sys.exit(0)",
     "Your code called exit() or sys.exit()"),
    ("missing_dependency", 'plt.rcParams["figure.figsize"] = (10.0, 8.0)',
     "ModuleNotFoundError: No module named 'matplotlib' (imported at linear_classifier.py, line {imported}, used here)",
     "in <module>: ", "importing it is harmless, using it fails"),
])
def test_import_failure_fails_every_function_with_line_and_advice(runs, name, line_text, message, where, advice):
    """A package the grader lacks fails the import where the module uses it, not where it imports it."""
    run = runs[name]
    assert_clean(run, 1)
    line = _line_of(name, line_text)
    if "{imported}" in message:
        message = message.format(imported=_line_of(name, "import matplotlib.pyplot as plt"))
    assert_statuses(run, False, {fn: {cid: "error" for cid in PUBLIC_IDS} for fn in FUNCTIONS})
    assert_points(run, False, {fn: 0.0 for fn in FUNCTIONS})
    for fn in FUNCTIONS:
        assert {c["message"] for c in run.function(fn)["cases"]} == {
            f"linear_classifier.py could not be imported: {message}"}
    assert_import_failure_shown(run, "linear_classifier.py", message, f"linear_classifier.py, line {line}, {where}", advice)
    assert "0 of 12 public cases passed: 0/8 points." in run.stdout


# ---------------------------------------------------------------------------------------------
# Printed output


def test_prints_pass_and_are_recorded(runs):
    run = runs["prints"]
    assert_full_marks(run, hidden=False)
    for fn in FUNCTIONS:
        for case in run.function(fn)["cases"]:
            if fn != "svm_loss_naive":
                assert case["stdout"] == ""
                continue
            loss = case["outputs"][0]["expected"]
            dims = case["dims"]
            assert case["stdout"] == f"debug svm_loss_naive: loss={loss:.4f} dW.shape=({dims['D']}, {dims['C']})\n"


def test_prints_appear_in_terminal_output(runs):
    run = runs["prints"]
    assert run.returncode == 0
    assert "debug svm_loss_naive: loss=" in run.stdout


# ---------------------------------------------------------------------------------------------
# Usage and spec errors: exit 2, one line on stderr, nothing graded


def test_nonexistent_path(tmp_path):
    missing = tmp_path / "no_such_submission"
    run = grader_check(missing, out_dir=tmp_path / "out")
    assert_clean(run, 2)
    assert run.stdout == ""
    assert run.stderr == f"grader: error: {missing}: no such file or folder\n"
    assert not run.json_path.exists() and not run.junit_path.exists()


def test_unwritable_report_path_is_a_usage_error(tmp_path):
    target = tmp_path / "no_such_folder" / "report.json"
    run = grader_check(REFERENCE, "--json", str(target), out_dir=tmp_path / "out", reports=False)
    assert "Traceback" not in run.stderr
    assert run.returncode == 2
    assert run.stderr.startswith("grader: error: ") and run.stderr.count("\n") == 1
    assert str(target) in run.stderr


def _broken_spec(tmp_path: Path, old: str, new: str) -> Path:
    text = (ASSIGNMENT / "assignment.yaml").read_text()
    assert text.count(old) == 1, f"{old!r} not once in assignment.yaml: update this test"
    path = tmp_path / "assignment.yaml"
    path.write_text(text.replace(old, new))
    return path


_TITLE = 'title: "Linear classifiers: multiclass SVM and softmax losses with analytic gradients"\n'
_TITLE_LINE = (ASSIGNMENT / "assignment.yaml").read_text().splitlines().index(_TITLE.rstrip("\n")) + 1


@pytest.mark.parametrize("old, new, where, problem", [
    pytest.param("    points: {public: 2, hidden: 3}\n    cases: [{seed: 1}, {seed: 2}, {seed: 3}]\n  svm_loss_vectorized:",
                 "    points: {public: 2, hidden: 3}\n    tolerence: {rtol: 1.0e-3}\n    cases: [{seed: 1}, {seed: 2}, {seed: 3}]\n  svm_loss_vectorized:",
                 "functions.svm_loss_naive.tolerence",
                 "unknown field (allowed here: all_or_nothing, args, cases, checks, dims, given, module, outputs, points, properties, regularization, returns, steps, tolerance)",
                 id="unknown-field"),
    pytest.param("    N: [2, 24]", "    N: [24, 2]", "functions.svm_loss_naive.dims.N",
                 "must be an integer, a range [low, high] with 0 <= low <= high, or an expression of the dims before it, got [24, 2]", id="bad-dims-range"),
    pytest.param(_TITLE, "title: Linear classifiers: multiclass SVM and softmax losses\n",
                 f"line {_TITLE_LINE}, column 26", "invalid YAML: mapping values are not allowed here", id="yaml-syntax"),
    pytest.param("  case_timeout: 10 ", "  case_timeout: -1 ", "limits.case_timeout", "must be positive, got -1",
                 id="negative-timeout"),
])
def test_broken_spec_is_one_line_exit_2(tmp_path, old, new, where, problem):
    spec = _broken_spec(tmp_path, old, new)
    run = grader_check(REFERENCE, assignment=spec, out_dir=tmp_path / "out")
    assert_clean(run, 2)
    assert run.stdout == ""
    assert run.stderr == f"grader: error: {spec}: {where}: {problem}\n"
    assert not run.json_path.exists() and not run.junit_path.exists()


# ---------------------------------------------------------------------------------------------
# JUnit XML agrees with the JSON report


@pytest.mark.parametrize("key", ["reference-hidden", "reg_grad_half-hidden", "infinite_loop", "handout"])
def test_junit_totals_match_json_counts(runs, key):
    junitparser = pytest.importorskip("junitparser")
    run = runs[key]
    counts = run.report["counts"]
    xml = junitparser.JUnitXml.fromfile(str(run.junit_path))
    suites = list(xml) if isinstance(xml, junitparser.JUnitXml) else [xml]
    assert [s.name for s in suites] == list(FUNCTIONS)
    outcomes = {"passed": 0, "failures": 0, "errors": 0}
    for suite in suites:
        for case in suite:
            kinds = {type(r).__name__ for r in case.result}
            assert kinds <= {"Failure", "Error"} and len(case.result) <= 1, kinds
            outcomes["failures" if "Failure" in kinds else "errors" if "Error" in kinds else "passed"] += 1
    assert {"tests": sum(outcomes.values()), **outcomes} == counts
    assert (xml.tests, xml.failures, xml.errors) == (counts["tests"], counts["failures"], counts["errors"])
    assert counts["tests"] == len([c for f in run.report["functions"] for c in f["cases"]])


def test_a_zip_in_a_zip_in_a_folder_is_graded_and_a_broken_zip_is_the_students_result(tmp_path):
    """Gradescope hands `grader check` the folder the student uploaded. A zip holding only a zip
    there scored 0 ('not found'), where `grader check` on the zip itself graded it; and a zip that
    does not unpack stopped the check as a usage error (exit 2), which the autograder shows the
    student as 'could not grade this submission'. Now the zip is looked through twice, and a zip
    that does not unpack is the submission's result: 0 points, the reason in every report."""
    import zipfile
    ref = (REPO / "reference" / "linear_classifier" / "linear_classifier.py").read_bytes()
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("linear_classifier.py", ref)
    upload = tmp_path / "upload"
    upload.mkdir()
    with zipfile.ZipFile(upload / "submission.zip", "w") as z:
        z.write(inner, "inner.zip")
    proc = subprocess.run([GRADER, "check", str(upload), "--assignment", "linear_classifier"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "submission.zip").write_bytes(b"PK\x03\x04garbage")
    out = tmp_path / "results.json"
    proc = subprocess.run([GRADER, "check", str(broken), "--assignment", "linear_classifier", "--gradescope", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    results = json.loads(out.read_text())
    assert results["score"] == 0
    assert "submission.zip" in proc.stdout and "not a zip file" in proc.stdout.lower(), proc.stdout
    assert any("not a zip file" in t.get("output", "").lower() for t in results["tests"]
               if t.get("visibility") != "hidden"), results

"""Submissions that try to fool no_loops and faster_than, graded end to end by `grader grade`.

tests/submissions/adversarial_checks.yaml holds them (loops in disguise, memoised loops, and
loop-free code written other ways than the reference); each is a student of one class, graded
with the hidden cases by one `grader grade` run in a subprocess, as an instructor would. The test
then reads each student's result.json and asserts which checks of the edited function fail and
which pass, what their messages say, and that every case of every function passes (each entry
returns the right values: only the checks can catch it) and every other function's checks pass.
"""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from conftest import GRADER, REPO
from variants import variant_source, variants

pytestmark = pytest.mark.slow                   # one `grader grade` of the whole corpus

CORPUS = "adversarial_checks"
ENTRIES = variants(CORPUS)
MODULES = ("linear_svm", "softmax")
VECTORIZED = {"linear_svm": "svm_loss_vectorized", "softmax": "softmax_loss_vectorized"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    """student name -> its result.json, for the whole corpus graded as one class."""
    root = tmp_path_factory.mktemp("class")
    for name, entry in ENTRIES.items():
        folder = root / "submissions" / name
        folder.mkdir(parents=True)
        for module in MODULES:
            shutil.copy(REPO / "reference" / "cs231n" / f"{module}.py", folder)
        (folder / f"{entry['module']}.py").write_text(variant_source(name, CORPUS, "cs231n", entry["module"]))
    out = root / "out"
    proc = subprocess.run([GRADER, "grade", "-a", "cs231n", "--out", str(out), "-j", "1", str(root / "submissions")],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {name: json.loads((out / name / "result.json").read_text()) for name in ENTRIES}


@pytest.mark.linux                                # graded by `grader grade`: batch grading stays on Linux
@pytest.mark.parametrize("name", list(ENTRIES))
def test_checks_catch_what_they_must_and_only_that(graded, name):
    entry, result = ENTRIES[name], graded[name]
    assert result["hidden_graded"], "faster_than runs with the hidden cases only"
    functions = {f["name"]: f for f in result["functions"]}
    wrong = [f"{f} {c['case_id']}" for f in functions for c in functions[f]["cases"] if c["status"] != "passed"]
    assert wrong == [], "the entry's values are right: every case must pass"
    edited = functions[VECTORIZED[entry["module"]]]
    checks = {c["name"].split()[0]: c for c in edited["checks"]}          # by kind: "faster_than svm_loss_naive"
    shown = {kind: c["message"] for kind, c in checks.items()}
    assert all(checks[kind]["status"] == "failed" for kind in entry["expect"]["failed"]), shown
    assert all(checks[kind]["status"] == "passed" for kind in entry["expect"]["passed"]), shown
    for kind, text in entry["expect"].get("message", {}).items():
        assert text in checks[kind]["message"], checks[kind]["message"]
    others = [c for f in functions.values() if f is not edited for c in f["checks"] if c["status"] != "passed"]
    assert others == [], "the other functions are the reference's"


@pytest.mark.parametrize("assignment, summary", [
    ("cs231n", "All 40 public and hidden cases and 8 checks passed: 28/28 points."),
    ("cs231n_2016", "All 40 public and hidden cases and 8 checks passed: 28/28 points."),
    ("linear_classifier", "All 40 public and hidden cases passed: 20/20 points."),
])
def test_an_independent_solution_earns_every_check(assignment, summary):
    """tests/independent/<assignment>, written from the handout's docstrings and shaped unlike the
    reference (cs231n: a while loop in the naive SVM, take_along_axis and clip, loop-free helpers;
    cs231n_2016: np.choose, np.einsum without `optimize`, np.linalg.norm for the penalty, a hand-written
    logsumexp; linear_classifier: torch.nn.functional, gather and scatter_add_, in-place updates):
    every case and every check passes, no_loops and faster_than included."""
    proc = subprocess.run([GRADER, "check", str(REPO / "tests" / "independent" / assignment), "--assignment", assignment,
                           "--hidden"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert summary in proc.stdout, proc.stdout


# Submissions that return placeholders at once and do the work after their call has returned
# (tests/submissions/adversarial_deferred.yaml): a red team's did the naive loops after the clock
# had stopped and the watch had ended, before the outputs were read, and earned no_loops and
# faster_than ("354x as fast"); torch.autograd earned no_autograd.
DEFERRED_CORPUS = "adversarial_deferred"
DEFERRED = {name: entry for name, entry in variants(DEFERRED_CORPUS).items() if not name.startswith("_")}


@pytest.mark.linux                                # the sandbox's seccomp filter is part of the defence
@pytest.mark.parametrize("name", list(DEFERRED))
def test_work_deferred_past_the_call_earns_no_check(tmp_path, name):
    entry = DEFERRED[name]
    assignment, module = entry["assignment"], entry["module"]
    folder = tmp_path / name
    shutil.copytree(REPO / "reference" / assignment, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / f"{module}.py").write_text(variant_source(name, DEFERRED_CORPUS, assignment, module))
    out = tmp_path / "result.json"
    proc = subprocess.run([GRADER, "check", str(folder), "--assignment", assignment, "--hidden", "--json", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.is_file(), proc.stdout + proc.stderr
    functions = {f["name"]: f for f in json.loads(out.read_text())["functions"]}
    for function, kinds in entry["expect"].items():
        checks = [c for c in functions[function]["checks"] if c["name"].split()[0] in kinds]
        assert len(checks) == len(kinds), (function, kinds)
        assert not [c["message"] for c in checks if c["status"] == "passed"], function
    assert proc.returncode != 0


TIMED_AHEAD = [name for name in DEFERRED if name.startswith("svm_timed_answers")]


@pytest.mark.slow
@pytest.mark.parametrize("name", TIMED_AHEAD)
def test_timed_inputs_reach_the_portable_workers_child_one_call_at_a_time(tmp_path, name):
    """The fresh interpreter per child (`--worker portable`) gets the rest of its job on stdin, a
    part at a time, as a zygote's child does on its socket: no timed call's inputs before its turn."""
    entry = DEFERRED[name]
    folder = tmp_path / name
    shutil.copytree(REPO / "reference" / "cs231n", folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "linear_svm.py").write_text(variant_source(name, DEFERRED_CORPUS, "cs231n", "linear_svm"))
    out = tmp_path / "result.json"
    proc = subprocess.run([GRADER, "check", str(folder), "--assignment", "cs231n", "--hidden", "--json", str(out),
                           "--worker", "portable"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.is_file(), proc.stdout + proc.stderr
    fn = next(f for f in json.loads(out.read_text())["functions"] if f["name"] == "svm_loss_vectorized")
    speed = [c for c in fn["checks"] if c["name"].startswith("faster_than")]
    assert len(speed) == 1 and speed[0]["status"] == "failed", speed
    assert all(c["status"] == "passed" for c in fn["cases"])          # the lookups' answers were right
    assert proc.returncode != 0


@pytest.mark.slow
def test_the_handouts_public_answers_replayed_earn_the_public_cases_and_no_check(tmp_path):
    """A red team's cs231n submission implements nothing: it replays expected_public.json, which the
    handout ships for the self-check (a table by W's shape, extended linearly so that its gradient is
    its own). That passes the public cases, as any grader's public tests can be replayed, and earned
    every check (no_loops, agrees_with and gradient: 14 of 28 points). With the hidden cases graded,
    a check now needs a hidden case passed."""
    folder = tmp_path / "replay"
    shutil.copytree(REPO / "tests" / "submissions" / "replay_public", folder)
    shutil.copy(REPO / "student_template" / "cs231n" / "expected_public.json", folder)
    out = tmp_path / "result.json"
    proc = subprocess.run([GRADER, "check", str(folder), "--assignment", "cs231n", "--hidden", "--json", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.is_file(), proc.stdout + proc.stderr
    functions = json.loads(out.read_text())["functions"]
    assert all(c["status"] == "passed" for f in functions for c in f["cases"] if c["visibility"] == "public")
    passed = [(f["name"], c["name"]) for f in functions for c in f["checks"] if c["status"] == "passed"]
    assert not passed, passed
    judged = [c["message"] for f in functions for c in f["checks"] if c["name"].split()[0] in ("no_loops", "gradient")]
    assert judged and all("at least one hidden case" in m for m in judged), judged
    assert proc.returncode != 0


# Gradients by numerical differentiation (a twentieth red team): centred differences of the student's
# own loss pass every case and no_autograd. `analytic` times the function against the reference's own
# on a case of many parameters, where each of the loss's evaluations costs about what the reference's
# whole call does (autograd_basics: cs231n's naive functions have none, where honest code that computes
# a softmax again for each weight costs within 2x of such differences).
NUMERIC = """
def _numeric(f, *xs, h=1e-5):
    grads = []
    for x in xs:
        g = x * 0
        for ix in np.ndindex(*x.shape):
            old = float(x[ix])
            x[ix] = old + h
            up = float(f())
            x[ix] = old - h
            down = float(f())
            x[ix] = old
            g[ix] = (up - down) / (2 * h)
        grads.append(g)
    return grads
"""
NUMERIC_FUNCTIONS = {
    ("autograd_basics", "autograd_basics", "linreg_grad"): """
def linreg_grad(X, w, y):
    w = w.clone()
    return _numeric(lambda: linreg_loss(X, w, y), w)[0]
""",
}


def _with_function(source: str, name: str, new: str, helper: str) -> str:
    start = source.index(f"def {name}(")
    end = source.index("\ndef ", start)
    return source[:start] + helper.strip() + "\n\n\n" + new.strip() + "\n" + source[end:]


@pytest.mark.linux
@pytest.mark.parametrize("assignment, module, function", list(NUMERIC_FUNCTIONS), ids=lambda v: v if isinstance(v, str) else "")
def test_a_gradient_by_numerical_differentiation_fails_analytic(tmp_path, assignment, module, function):
    folder = tmp_path / function
    shutil.copytree(REPO / "reference" / assignment, folder, ignore=shutil.ignore_patterns("__pycache__"))
    source = (folder / f"{module}.py").read_text()
    helper = NUMERIC if assignment != "autograd_basics" else \
        "import itertools\n" + NUMERIC.replace("x * 0", "torch.zeros_like(x)").replace(
            "np.ndindex(*x.shape)", "itertools.product(*map(range, x.shape))")
    (folder / f"{module}.py").write_text(_with_function(source, function, NUMERIC_FUNCTIONS[assignment, module, function], helper))
    out = tmp_path / "result.json"
    subprocess.run([GRADER, "check", str(folder), "--assignment", assignment, "--hidden", "--json", str(out)],
                   cwd=REPO, capture_output=True, text=True, timeout=600)
    fn = next(f for f in json.loads(out.read_text())["functions"] if f["name"] == function)
    assert sum(c["status"] == "passed" for c in fn["cases"]) >= len(fn["cases"]) - 1     # right values (a kink may cost one)
    analytic = next(c for c in fn["checks"] if c["name"] == "analytic")
    assert analytic["status"] == "failed", analytic
    assert "times as long" in analytic["message"] and "numerical differentiation" in analytic["message"], analytic

"""The adversarial corpus of the value model and call chains: hostile submissions for the two
assignments with structured outputs, each graded to an exact outcome.

tests/submissions/adversarial_layers.yaml (cs231n_layers, numpy) and adversarial_fcn.yaml
(fully_connected_networks, torch) hold the attacks: outputs that break `values.encode` (dict
subclasses that lie, objects that contain themselves, that hang, that are too large), output paths
into hostile objects (config.m, model.params), steps whose cache is hostile or whose forward
hangs, support modules and scenario files the student tries to replace or write, properties
fooled by degenerate answers, gradient checks fooled by constants, forged reports, and the memory
of other jobs. Each entry is the reference with one attack (see the header of
adversarial_layers.yaml for the format); tests/test_adversarial.py does the same for
linear_classifier, and this module reuses its listeners, poison guard and worker check.

For every entry the test asserts what its `expect` says (points per function, every other
function keeping full marks, statuses, messages) and, whatever the entry, that:

- grading returned (the grader never raises on a submission) within a minute;
- the worker reported the strong sandbox and its zygote is still alive;
- nothing reached the test's sockets, nothing was planted, no stray file appeared;
- every message and its details stayed short (MAX_TEXT) and printable (no escape sequences);
- no result the worker relayed had a header larger than values.encode's limits allow (MAX_HEADER).

Entries the grader does not get right yet carry `xfail` (a known problem, reported): they run as
strict xfails, so that fixing the problem makes them fail until the mark is removed. When the
grader raises on an entry, its worker is replaced before the next one (an exception out of
Worker.run leaves it deadlocked: see test_forged_frame_does_not_stall_the_next_submission), and a
SIGALRM guard turns any hang into a failure. After the corpus, the reference still gets full marks
on the same workers.
"""
from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from grader.grade import Prepared, grade_submission
from grader.run.job import build_job
from grader.run.worker import Worker
from grader.spec import load_spec
from test_adversarial import PoisonGuard, _worker_sys_path, listeners, worker_alive  # noqa: F401 - listeners is a fixture
from variants import edited

pytestmark = pytest.mark.slow          # every test here starts workers, or reads every corpus through the catalogue

REPO = Path(__file__).resolve().parents[1]
SUBMISSIONS = REPO / "tests" / "submissions"
CASE_TIMEOUT, IMPORT_TIMEOUT = 2, 10
HANG_GUARD = 60.0                    # seconds per submission: a hang fails the test, never blocks it
MAX_TEXT = 10_000                    # characters of one case's (or check's) message and details together
MAX_HEADER = 8 << 20                 # bytes of one result header as JSON: MAX_NODES nodes of capped text fit well within
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
ENTRY_KEYS = {"about", "module", "edits", "functions", "prepend", "append", "files", "expect", "xfail",
              "reference_first"}
EXPECT_KEYS = {"points", "status", "message", "not_message", "checks"}


@dataclass(frozen=True)
class Assignment:
    name: str
    modules: tuple
    framework: str


ASSIGNMENTS = {
    "layers": Assignment("cs231n_layers", ("layers", "optim"), "numpy"),
    "fcn": Assignment("fully_connected_networks", ("fully_connected_networks",), "torch"),
}
CORPORA = {key: yaml.safe_load((SUBMISSIONS / f"adversarial_{key}.yaml").read_text()) for key in ASSIGNMENTS}


def _params():
    out = []
    for key, corpus in CORPORA.items():
        for name, entry in corpus.items():
            marks = [pytest.mark.xfail(strict=True, reason=entry["xfail"])] if entry.get("xfail") else []
            out.append(pytest.param(key, name, marks=marks, id=f"{key}-{name}"))
    return out


# ---------------------------------------------------------------------------------------------
# Submissions: the reference with one attack


def submission_source(assignment: Assignment, module: str, name: str, entry: dict) -> str:
    """The reference's `module` with the entry's attack, when the entry attacks that module."""
    text = (REPO / "reference" / assignment.name / f"{module}.py").read_text()
    attacked = module == entry.get("module", assignment.modules[0])
    return edited(text, entry if attacked else {}, f"test submission {name}: {entry['about']}", name, f"{module}.py")


def materialize(assignment: Assignment, name: str, entry: dict, root: Path) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    for module in assignment.modules:
        (folder / f"{module}.py").write_text(submission_source(assignment, module, name, entry))
    for rel, text in (entry.get("files") or {}).items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return folder


def own_names(assignment: Assignment, entry: dict) -> set:
    """The top-level names a submission folder holds when nothing stray was written into it."""
    return {f"{m}.py" for m in assignment.modules} | {Path(rel).parts[0] for rel in (entry.get("files") or {})}


def short_spec(assignment: Assignment, folder: Path):
    """A handout-style copy of the public spec (no hidden.yaml, no reference) with short limits."""
    handout = REPO / "student_template" / assignment.name
    shutil.copytree(handout, folder, ignore=shutil.ignore_patterns(*[f"{m}.py" for m in assignment.modules],
                                                                    "__pycache__"))
    text = (folder / "assignment.yaml").read_text()
    for old, new in ((" case_timeout: 10\n", f" case_timeout: {CASE_TIMEOUT}\n"),
                     (" import_timeout: 30\n", f" import_timeout: {IMPORT_TIMEOUT}\n")):
        assert text.count(old) == 1, f"{handout / 'assignment.yaml'} changed: update short_spec() ({old.strip()})"
        text = text.replace(old, new)
    (folder / "assignment.yaml").write_text(text)
    return load_spec(folder)


# ---------------------------------------------------------------------------------------------
# Fixtures: per assignment, one spec, one set of prepared cases and one warm worker


class RecordingWorker:
    """A Worker that keeps every reply, so that the test can look at what was relayed."""

    def __init__(self, framework: str):
        self.framework = framework
        self.worker = Worker(framework)
        self.replies: list = []

    def run(self, job, inputs):
        reply = self.worker.run(job, inputs)
        self.replies.append(reply)
        return reply

    def __getattr__(self, name):
        return getattr(self.worker, name)

    def discard(self) -> None:
        """Stop this worker's zygote and whatever it forked, and start a fresh one, after an
        exception out of Worker.run that was not a WorkerError: the next test starts clean."""
        proc = self.worker._proc
        for pid in _descendants(proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        proc.kill()
        proc.wait()
        self.worker.close()
        self.worker = Worker(self.framework)


def _descendants(pid: int) -> list[int]:
    """The processes forked from `pid`, its children's children first (from /proc)."""
    try:
        children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):
        return []
    return [d for c in children for d in _descendants(c)] + children


class _HangGuard(Exception):
    pass


@contextlib.contextmanager
def hang_guard(seconds: float):
    """Raise _HangGuard in the test's (main) thread after `seconds`: a deadlocked grader fails the
    test instead of hanging the suite. (Outside the main thread, where no signal can be caught, it
    guards nothing.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def alarm(signum, frame):
        raise _HangGuard(f"no result after {seconds:g} s")
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Lab:
    key: str                         # "layers" or "fcn": which corpus
    assignment: Assignment
    spec: object
    prepared: Prepared
    worker: RecordingWorker
    root: Path
    folders: dict


@pytest.fixture(scope="module")
def labs(tmp_path_factory):
    made: dict = {}

    def get(key: str) -> Lab:
        if key not in made:
            assignment = ASSIGNMENTS[key]
            spec = short_spec(assignment, tmp_path_factory.mktemp(f"adversarial_{key}_spec") / assignment.name)
            root = tmp_path_factory.mktemp(f"adversarial_{key}_submissions")
            folders = {name: materialize(assignment, name, entry, root) for name, entry in CORPORA[key].items()}
            folders["_reference"] = materialize(assignment, "_reference", {"about": "the reference"}, root)
            lab = Lab(key, assignment, spec, Prepared(spec, hidden=False), RecordingWorker(assignment.framework),
                      root, folders)
            result = grade_submission(spec, folders["_reference"], worker=lab.worker, prepared=lab.prepared)
            assert result.earned == result.possible > 0, f"the reference gets {result.earned:g}/{result.possible:g}"
            assert result.sandbox.startswith("strong"), f"the worker reports {result.sandbox!r}, not the strong sandbox"
            made[key] = lab
        return made[key]

    yield get
    for lab in made.values():
        lab.worker.close()


@pytest.fixture(scope="module")
def guard(tmp_path_factory):
    import sys
    g = PoisonGuard(_worker_sys_path() + [Path(p) for p in sys.path if p])
    yield g
    g.restore()


# ---------------------------------------------------------------------------------------------
# Checks


def expectation_problems(entry: dict, result) -> list[str]:
    """Every way `result` differs from the entry's `expect`, one line each (empty: as expected)."""
    expect = entry["expect"]
    functions = {fn.name: fn for fn in result.functions}
    problems = []
    for key in EXPECT_KEYS:
        unknown = set(expect.get(key) or {}) - set(functions)
        if unknown:
            problems.append(f"expect.{key} names no function of the assignment: {sorted(unknown)}")
    for fname, fn in functions.items():
        public = [c for c in fn.cases if c.visibility == "public"]
        seen = "; ".join([f"{c.case_id} {c.status}: {c.message[:300]}" for c in public] +
                         [f"check {c.name} {c.status}: {c.message[:200]}" for c in fn.checks])
        want = (expect.get("points") or {}).get(fname, fn.possible)
        if abs(fn.earned - want) > 0.005:     # two decimals: 2 of 3 cases of 1 point is 0.67
            problems.append(f"{fname}: {fn.earned:g} of {fn.possible:g} points, expected {want:g} [{seen}]")
        status = (expect.get("status") or {}).get(fname)
        if status is not None and (not public or any(c.status != status for c in public)):
            problems.append(f"{fname}: statuses {[c.status for c in public]}, expected all {status!r} [{seen}]")
        text = (expect.get("message") or {}).get(fname)
        if text is not None and (not public or text not in public[0].message):
            problems.append(f"{fname}: first message {public[0].message[:500] if public else None!r} lacks {text!r}")
        absent = (expect.get("not_message") or {}).get(fname)
        if absent is not None and any(absent in c.message for c in public):
            problems.append(f"{fname}: a message has {absent!r}: {[c.message[:300] for c in public]}")
        check = (expect.get("checks") or {}).get(fname)      # one status for all, or {check name: status}
        got = {c.name: c.status for c in fn.checks}
        if check is not None and (got != check if isinstance(check, dict)
                                  else not got or set(got.values()) != {check}):
            problems.append(f"{fname}: checks {[(c.name, c.status, c.message[:200]) for c in fn.checks]}, "
                            f"expected {check if isinstance(check, dict) else 'all ' + repr(check)}")
    return problems


def text_problems(result) -> list[str]:
    """Messages that are too long, or not printable (escape sequences, carriage returns)."""
    problems = []
    for fn in result.functions:
        for item in [*fn.cases, *fn.checks]:
            label = f"{fn.name} {getattr(item, 'case_id', '') or 'check ' + getattr(item, 'name', '')}"
            size = len(item.message) + len(item.details)
            if size > MAX_TEXT:
                problems.append(f"{label}: message and details of {size} characters (at most {MAX_TEXT}): "
                                f"{item.message[:120]!r}...")
            bad = CONTROL.search(item.message + item.details)
            if bad:
                problems.append(f"{label}: a control character {bad.group()!r} in {item.message[:200]!r}")
    return problems


def header_problems(replies: list) -> list[str]:
    problems = []
    for reply in replies:
        for index, (header, _arrays) in sorted(reply.results.items()):
            size = len(json.dumps(header, default=str))
            if size > MAX_HEADER:
                problems.append(f"call {index}: a result header of {size / 2**20:.1f} MiB (at most "
                                f"{MAX_HEADER / 2**20:g} MiB: values.encode's limits)")
    return problems


def stray_files(lab: Lab) -> list[str]:
    found = [str(lab.root / n) for n in sorted(p.name for p in lab.root.iterdir()) if n not in lab.folders]
    for name, folder in lab.folders.items():
        entry = CORPORA[lab.key].get(name, {})
        found += [str(folder / n) for n in sorted(p.name for p in folder.iterdir())
                  if n not in own_names(lab.assignment, entry)]
    return found


def guarded(lab: Lab, what: str, fn, seconds: float = 2 * HANG_GUARD):
    """fn(), or the test's failure saying what went wrong; after an exception the worker may be out
    of step with its zygote (see RecordingWorker.discard), so the next test gets a fresh one."""
    before, t0 = len(lab.worker.replies), time.monotonic()
    try:
        with hang_guard(seconds):
            return fn()
    except (Exception, _HangGuard) as e:  # noqa: BLE001 - any exception out of the grader is a failure of this test
        del lab.worker.replies[before:]
        lab.worker.discard()
        pytest.fail(f"{what} raised {type(e).__name__}: {str(e)[:500]} (after {time.monotonic() - t0:.1f} s)")


def run_the_reference_first(lab: Lab) -> None:
    """The reference's answers to the very calls a submission's job makes, through the same worker
    (as `grader grade` computes them): a thief in a later job must not find them."""
    folder = REPO / "reference" / lab.assignment.name
    modules = {m: str(folder / f"{m}.py") for m in lab.spec.modules}
    reply = guarded(lab, "the reference's job", lambda: lab.worker.run(
        build_job(lab.spec, lab.prepared.calls, modules, folder), lab.prepared.inputs), HANG_GUARD)
    statuses = {h.get("status") for h, _ in reply.results.values()}
    assert len(reply.results) == len(lab.prepared.calls) and statuses == {"returned"}, \
        f"the reference's own job did not return everywhere: {statuses}"


# ---------------------------------------------------------------------------------------------
# Tests


def test_corpora_are_well_formed():
    for key, corpus in CORPORA.items():
        assert len(corpus) >= 20, key
        spec = load_spec(REPO / "student_template" / ASSIGNMENTS[key].name)
        names = {fn.name for fn in spec.functions}
        for name, entry in corpus.items():
            where = f"adversarial_{key}.yaml: {name}"
            assert set(entry) <= ENTRY_KEYS, f"{where}: unknown keys {set(entry) - ENTRY_KEYS}"
            assert entry.get("about") and "\n" not in entry["about"], f"{where}: needs a one-line `about`"
            assert set(entry["expect"]) <= EXPECT_KEYS, f"{where}: unknown expect keys"
            for k in EXPECT_KEYS:
                assert set(entry["expect"].get(k) or {}) <= names, f"{where}: expect.{k} names no function"
            assert entry.get("module", ASSIGNMENTS[key].modules[0]) in ASSIGNMENTS[key].modules, where
            source = submission_source(ASSIGNMENTS[key], entry.get("module", ASSIGNMENTS[key].modules[0]), name, entry)
            ast.parse(source)                       # every attack is a module that imports


@pytest.mark.linux
@pytest.mark.parametrize("key, name", _params())
def test_attack(key, name, labs, listeners, guard):
    lab = labs(key)
    entry = CORPORA[key][name]
    if entry.get("reference_first"):
        run_the_reference_first(lab)
    before = len(lab.worker.replies)
    t0 = time.monotonic()
    result = guarded(lab, "grade_submission", lambda: grade_submission(
        lab.spec, lab.folders[name], worker=lab.worker, prepared=lab.prepared))
    elapsed = time.monotonic() - t0

    problems = expectation_problems(entry, result)
    if elapsed >= HANG_GUARD:
        problems.append(f"grading took {elapsed:.1f} s (limit {HANG_GUARD:g} s)")
    if not result.sandbox.startswith("strong"):
        problems.append(f"sandbox is {result.sandbox!r}, not strong")
    if not worker_alive(lab.worker):
        problems.append("the worker (zygote) died while grading it")
    problems += text_problems(result)
    problems += header_problems(lab.worker.replies[before:])
    del lab.worker.replies[before:]                 # large replies are not kept for the rest of the run
    problems += [f"the test's sockets received {h}" for h in listeners.drain()]
    planted = guard.planted()
    guard.restore()
    problems += [f"planted {p}" for p in planted]
    stray = stray_files(lab)
    problems += [f"stray file {p}" for p in stray]
    for p in map(Path, stray):
        p.unlink() if p.is_file() else shutil.rmtree(p, ignore_errors=True)
    assert not problems, f"{name} ({entry['about']}):\n  " + "\n  ".join(problems)


@pytest.mark.linux
def test_forged_frame_does_not_stall_the_next_submission(labs):
    """A forged frame costs its author their case, never a later submission on the same worker."""
    lab = labs("layers")
    try:
        with hang_guard(HANG_GUARD):
            grade_submission(lab.spec, lab.folders["forge_bad_array_description"], worker=lab.worker, prepared=lab.prepared)
    except Exception:  # noqa: BLE001 - what the forged frame does to its own grading is test_attack's business
        pass
    result = guarded(lab, "the next submission on the same worker", lambda: grade_submission(
        lab.spec, lab.folders["_reference"], worker=lab.worker, prepared=lab.prepared), 8)   # it takes a fraction of a second
    assert result.earned == result.possible


@pytest.mark.linux
@pytest.mark.parametrize("key", list(ASSIGNMENTS))
def test_reference_keeps_full_marks_after_the_corpus(key, labs):
    """After every attack of the corpus on the same worker, a correct submission loses nothing."""
    lab = labs(key)
    result = guarded(lab, "grade_submission", lambda: grade_submission(
        lab.spec, lab.folders["_reference"], worker=lab.worker, prepared=lab.prepared), HANG_GUARD)
    lost = [f"{c.function} {c.case_id} {c.status}: {c.message[:200]}" for c in result.cases() if not c.passed]
    assert result.earned == result.possible, f"{result.earned:g}/{result.possible:g}: {lost}"
    assert worker_alive(lab.worker)

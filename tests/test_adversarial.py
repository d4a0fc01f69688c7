"""The adversarial corpus (issue #3): hostile and broken submissions, each graded to an exact outcome.

Every entry of tests/submissions/adversarial.yaml is the reference with one attack (monkeypatching,
lying return values, reading the reference or the grader's memory, forging reports, exiting,
hanging, bombs, signals, sockets, poisoning site-packages). For each, the test grades it with one
shared warm worker and asserts exactly what its `expect` says: points per function, statuses,
messages. It also asserts that the grader and its worker survived, that nothing reached the
sockets the test listens on, that no file was planted outside the child's scratch folder, that
the run took less than a minute and that the worker reported the strong sandbox.

A batch test then grades the whole corpus with one worker, a correct submission (ada) between
every two attacks: an attack must never cost a later submission anything.

Attacks marked `hazard` (signals to other processes, packets off this machine) run only when
the worker reports the strong sandbox. What an attack may plant (reports, usercustomize.py, .pth
files) is looked for after each test, sandbox or not, and removed, but in the developer's home
only a file the corpus wrote (PoisonGuard): nothing of theirs is ever deleted.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path

import pytest

from grader.grade import grade_submission
from grader.run.worker import Worker
from grader.report.gradebook import MAX_ROW
from grader.spec import load_spec
from conftest import GRADER
from variants import materialize, variants

REPO = Path(__file__).resolve().parents[1]
HANDOUT = REPO / "student_template" / "linear_classifier"
ADA = REPO / "examples" / "linear_classifier" / "ada"
MODULE_FILE = "linear_classifier.py"

CORPUS = "adversarial"
ENTRIES = variants(CORPUS)
NAMES = list(ENTRIES)
FUNCTIONS = ("svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive", "softmax_loss_vectorized")
FULL_MARKS = 8.0                     # 4 functions x 2 public points
HANG_GUARD = 60.0                    # seconds per submission: a hang fails the test, never blocks it
CASE_TIMEOUT, IMPORT_TIMEOUT = 2, 10

# What attacks plant, by name: forged reports and the .pth file (see adversarial.yaml).
PLANTED_NAMES = ("results.json", "report.json", "junit.xml", "zz_grader_adversarial.pth")
# What the usercustomize and .pth attacks write first: how a file is known for the corpus's own.
PLANTED_MARK = b"# planted by tests/submissions/adversarial.yaml"


# ---------------------------------------------------------------------------------------------
# Fixtures


def short_spec(folder: Path):
    """A handout-style copy of the public spec (no hidden.yaml, no reference) with short limits."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (HANDOUT / "assignment.yaml").read_text()
    for old, new in ((" case_timeout: 10 ", f" case_timeout: {CASE_TIMEOUT} "),
                     (" import_timeout: 30 ", f" import_timeout: {IMPORT_TIMEOUT} ")):
        assert text.count(old) == 1, f"{HANDOUT / 'assignment.yaml'} changed: update short_spec() ({old.strip()})"
        text = text.replace(old, new)
    (folder / "assignment.yaml").write_text(text)
    shutil.copy(HANDOUT / "expected_public.json", folder / "expected_public.json")
    return load_spec(folder)


class Listeners:
    """A TCP and a UDP socket on 127.0.0.1 and an abstract AF_UNIX socket, none of which any
    submission may reach. Non-blocking: `drain` collects whatever arrived since the last call."""

    def __init__(self):
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(16)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.unix_name = f"grader-adversarial-{uuid.uuid4().hex}"
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind("\0" + self.unix_name)
        self.unix.listen(16)
        for s in (self.tcp, self.udp, self.unix):
            s.setblocking(False)
        self.placeholders = {"{{TCP_PORT}}": str(self.tcp.getsockname()[1]),
                             "{{UDP_PORT}}": str(self.udp.getsockname()[1]), "{{UNIX_NAME}}": self.unix_name}

    def drain(self) -> list[str]:
        heard = []
        for kind, sock in (("TCP", self.tcp), ("AF_UNIX", self.unix)):
            while True:
                try:
                    conn, addr = sock.accept()
                except (BlockingIOError, InterruptedError):
                    break
                conn.close()
                heard.append(f"a {kind} connection from {addr!r}")
        while True:
            try:
                data, addr = self.udp.recvfrom(4096)
            except (BlockingIOError, InterruptedError):
                break
            heard.append(f"a UDP datagram {data[:32]!r} from {addr!r}")
        return heard

    def close(self):
        for s in (self.tcp, self.udp, self.unix):
            s.close()


def _worker_sys_path() -> list[Path]:
    """The folders on a worker's sys.path (an isolated interpreter, plus the grader's checkout)."""
    out = subprocess.run([sys.executable, "-I", "-c", "import sys; print('\\n'.join(sys.path))"],
                         capture_output=True, text=True, check=True).stdout
    return [Path(p) for p in out.splitlines() if p] + [REPO]


class PoisonGuard:
    """Finds what attacks planted in the places they aim at, and removes only what the corpus wrote.

    The usercustomize attack aims at the developer's real user site folder (from pwd, not $HOME:
    the child's HOME is its scratch folder, and a later Python of the developer's reads the real
    one), so that is where a successful plant lands and where it is looked for. Looking only
    reads: any file new or changed there since the snapshot is reported. In `home`, nothing is
    deleted or rewritten but a file whose content opens with the corpus's marker (PLANTED_MARK),
    which no file of the user's carries: a new one is removed, a file of the user's that the
    attack overwrote gets its snapshot back, and a folder the attack created is removed only when
    it is empty. Elsewhere (the repo, sys.path folders) the report and .pth files the corpus
    plants are removed by name when they were not there before.
    """

    def __init__(self, folders: list[Path], home: Path | None = None):
        home = home or real_home()
        self.home = home
        self.site = user_site(home)
        self.folders = sorted({f.resolve() for f in folders if f.is_dir()} | {Path.cwd().resolve(), REPO})
        self.before = {f: {n for n in PLANTED_NAMES if (f / n).exists()} for f in self.folders}
        self.chain = [self.site, *[p for p in self.site.parents if p != home and home in p.parents]]
        self.chain_existed = {p: p.exists() for p in self.chain}
        self.site_files = self._site_files()

    def _site_files(self) -> dict:
        if not self.site.is_dir():
            return {}
        return {p.name: p.read_bytes() for p in self.site.iterdir() if p.is_file()}

    def planted(self) -> list[str]:
        found = [str(f / n) for f in self.folders for n in PLANTED_NAMES
                 if (f / n).exists() and n not in self.before[f]]
        now = self._site_files()
        found += [str(self.site / n) for n, data in now.items() if self.site_files.get(n) != data]
        found += [str(p) for p in self.chain if p.exists() and not self.chain_existed[p]]
        return sorted(set(found))

    def restore(self) -> None:
        for f in self.folders:
            in_home = f == self.home or self.home in f.parents
            for n in PLANTED_NAMES:
                if n not in self.before[f] and (f / n).is_file() and (not in_home or _marked(f / n)):
                    (f / n).unlink()
        if self.site.is_dir():
            for p in self.site.iterdir():
                if p.is_file() and _marked(p):
                    if p.name in self.site_files:
                        p.write_bytes(self.site_files[p.name])      # the user's own file, as it was
                    else:
                        p.unlink()
        for p in self.chain:                                   # deepest first
            if p.is_dir() and not self.chain_existed[p] and not any(p.iterdir()):
                p.rmdir()


def real_home() -> Path:
    """The user's home from the password database, where the usercustomize attack aims (POSIX only)."""
    import pwd
    return Path(pwd.getpwuid(os.getuid()).pw_dir)


def user_site(home: Path) -> Path:
    """The user site folder a Python of this version reads in `home` (site.getusersitepackages())."""
    return home / ".local" / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"


def _marked(path: Path) -> bool:
    """Is this file one the corpus wrote? Only its first bytes are read."""
    try:
        with open(path, "rb") as f:
            return f.read(len(PLANTED_MARK)) == PLANTED_MARK
    except OSError:
        return False


@pytest.fixture(scope="module")
def listeners():
    ls = Listeners()
    yield ls
    ls.close()


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    return short_spec(tmp_path_factory.mktemp("adversarial_spec"))


@pytest.fixture(scope="module")
def submissions(tmp_path_factory, listeners):
    """Every corpus entry materialized (placeholders filled in) under one root, and a copy of ada."""
    root = tmp_path_factory.mktemp("adversarial_submissions")
    folders = {}
    for name in NAMES:
        folder = materialize(name, root, corpus=CORPUS)
        source = folder / MODULE_FILE
        text = source.read_text()
        for key, value in listeners.placeholders.items():
            text = text.replace(key, value)
        assert "{{" not in text, f"{name}: a placeholder was left in the source"
        source.write_text(text)
        folders[name] = folder
    ada = root / "_ada"
    ada.mkdir()
    shutil.copy(ADA / MODULE_FILE, ada / MODULE_FILE)
    folders["_ada"] = ada
    return folders


@pytest.fixture(scope="module")
def guard(submissions):
    root = next(iter(submissions.values())).parent
    g = PoisonGuard(_worker_sys_path() + [Path(p) for p in sys.path if p] + [root, *submissions.values()])
    yield g
    g.restore()


@pytest.fixture(scope="module")
def worker():
    with Worker("torch") as w:
        yield w


@pytest.fixture(scope="module")
def sandbox_mode(spec, worker, submissions):
    """What the worker reports after grading ada (which also warms it up)."""
    result = grade_submission(spec, submissions["_ada"], worker=worker)
    assert result.earned == FULL_MARKS, f"ada should get {FULL_MARKS:g} points, got {result.earned:g}"
    return result.sandbox


def _skip_if_hazardous(name: str, sandbox_mode: str) -> None:
    hazard = ENTRIES[name].get("hazard")
    if hazard and not sandbox_mode.startswith("strong"):
        pytest.skip(f"{name} runs only in the strong sandbox ({hazard}); the worker reports {sandbox_mode!r}")


# ---------------------------------------------------------------------------------------------
# Checks


def _grade(spec, folder: Path, worker):
    t0 = time.monotonic()
    try:
        result = grade_submission(spec, folder, worker=worker)
    except Exception as e:  # noqa: BLE001 - any exception out of the grader is a failure of this test
        pytest.fail(f"grade_submission raised {type(e).__name__}: {e} (after {time.monotonic() - t0:.1f} s)")
    return result, time.monotonic() - t0


def expectation_problems(name: str, result) -> list[str]:
    """Every way `result` differs from the entry's `expect`, one line each (empty: as expected)."""
    expect = ENTRIES[name]["expect"]
    assert set(expect["points"]) == set(FUNCTIONS), f"{name}: expect.points must name the 4 functions"
    functions = {fn.name: fn for fn in result.functions}
    problems = []
    for fname in FUNCTIONS:
        fn = functions.get(fname)
        if fn is None:
            problems.append(f"{fname}: not in the result")
            continue
        public = [c for c in fn.cases if c.visibility == "public"]
        seen = ", ".join(f"{c.case_id} {c.status}: {c.message}" for c in public)
        if fn.public.earned != expect["points"][fname]:
            problems.append(f"{fname}: {fn.public.earned:g} points, expected {expect['points'][fname]:g} [{seen}]")
        want = expect.get("status", {}).get(fname)
        if want is not None and (not public or any(c.status != want for c in public)):
            problems.append(f"{fname}: statuses {[c.status for c in public]}, expected all {want!r} [{seen}]")
        text = expect.get("message", {}).get(fname)
        if text is not None and (not public or text not in public[0].message):
            problems.append(f"{fname}: first message {public[0].message if public else None!r} lacks {text!r}")
        printed = expect.get("output", {}).get(fname)
        if printed is not None and (not public or printed not in public[0].stdout):
            problems.append(f"{fname}: first case's output {public[0].stdout[-200:] if public else None!r} lacks {printed!r}")
    return problems


def worker_alive(worker) -> bool:
    proc = getattr(worker, "_proc", None)          # the zygote; the engine restarts a dead one for the next job
    return proc is None or proc.poll() is None


def stray_files(folders: dict) -> list[str]:
    """Files in the submission folders (or their root) that the test did not put there."""
    root = next(iter(folders.values())).parent
    found = [str(root / n) for n in sorted(os.listdir(root)) if n not in folders]
    for folder in folders.values():
        found += [str(folder / n) for n in sorted(os.listdir(folder)) if n != MODULE_FILE]
    return found


def git_status() -> list[str] | None:
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=REPO,
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.splitlines() if out.returncode == 0 else None


# ---------------------------------------------------------------------------------------------
# Tests


def test_corpus_is_well_formed():
    assert len(NAMES) >= 30
    for name in NAMES:
        entry = ENTRIES[name]
        assert entry.get("about") and "\n" not in entry["about"], f"{name}: needs a one-line `about`"
        assert set(entry) <= {"about", "edits", "functions", "prepend", "append", "expect", "hazard"}, name
        assert set(entry["expect"]) <= {"points", "status", "message", "output"}, name
        for key in ("status", "message", "output"):
            assert set(entry["expect"].get(key, {})) <= set(FUNCTIONS), f"{name}: expect.{key} names no function"
        assert len(entry.get("functions", {})) <= 1, f"{name}: replace at most one function"


def test_the_usercustomize_attack_writes_the_mark_the_guard_knows():
    source = ENTRIES["poison_usercustomize"]["functions"]["svm_loss_naive"]
    assert 'f.write("' + PLANTED_MARK.decode() in source and "pw_dir" in source


def test_poison_guard_reports_a_plant_and_removes_nothing_of_the_users(tmp_path):
    """In a home of the test's own: a plant is found; only the corpus's files are taken away."""
    home = tmp_path / "home"
    site = user_site(home)
    (home / ".local").mkdir(parents=True)
    guard = PoisonGuard([], home=home)
    assert guard.planted() == []
    site.mkdir(parents=True)                                   # what the attack does, in that home
    (site / "usercustomize.py").write_bytes(PLANTED_MARK + b" (poison_usercustomize); delete me\n")
    (site / "theirs.pth").write_text("/home/me/project\n")    # the developer installs something meanwhile
    assert guard.planted() == sorted(str(p) for p in (site / "usercustomize.py", site / "theirs.pth", site,
                                                      site.parent, site.parent.parent))
    guard.restore()
    assert sorted(p.name for p in site.iterdir()) == ["theirs.pth"]
    assert (site / "theirs.pth").read_text() == "/home/me/project\n"

    (site / "usercustomize.py").write_text("import mytools\n")                 # the user's own, then overwritten
    guard = PoisonGuard([], home=home)
    (site / "usercustomize.py").write_bytes(PLANTED_MARK + b"\n")
    assert guard.planted() == [str(site / "usercustomize.py")]
    guard.restore()
    assert (site / "usercustomize.py").read_text() == "import mytools\n" and guard.planted() == []


@pytest.mark.slow
@pytest.mark.linux
@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_attack(name, spec, worker, sandbox_mode, submissions, listeners, guard):
    _skip_if_hazardous(name, sandbox_mode)
    result, elapsed = _grade(spec, submissions[name], worker)

    problems = expectation_problems(name, result)
    if elapsed >= HANG_GUARD:
        problems.append(f"grading took {elapsed:.1f} s (limit {HANG_GUARD:g} s)")
    if not result.sandbox.startswith("strong"):
        problems.append(f"sandbox is {result.sandbox!r}, not strong")
    if not worker_alive(worker):
        problems.append("the worker (zygote) died while grading it")
    heard = listeners.drain()
    problems += [f"the test's sockets received {h}" for h in heard]
    planted = guard.planted()
    guard.restore()                            # before asserting: the next test starts clean either way
    problems += [f"planted {p}" for p in planted]
    problems += [f"stray file {p}" for p in stray_files(submissions)]
    for p in stray_files(submissions):
        Path(p).unlink() if Path(p).is_file() else shutil.rmtree(p, ignore_errors=True)
    assert not problems, f"{name} ({ENTRIES[name]['about']}):\n  " + "\n  ".join(problems)


@pytest.mark.slow
@pytest.mark.linux
def test_batch_every_correct_submission_keeps_full_marks(spec, sandbox_mode, submissions, listeners, guard):
    """One worker grades ada, attack 1, ada, attack 2, ..., ada: no attack changes a later grade."""
    status_before = git_status()
    usercustomize = guard.site / "usercustomize.py"
    usercustomize_before = usercustomize.exists()
    runnable = [n for n in NAMES if not (ENTRIES[n].get("hazard") and not sandbox_mode.startswith("strong"))]
    sequence = [entry for name in runnable for entry in (("_ada", "ada"), (name, name))] + [("_ada", "ada")]
    problems = []
    t_batch = time.monotonic()
    with Worker("torch") as worker:
        for key, label in sequence:
            result, elapsed = _grade(spec, submissions[key], worker)
            want = FULL_MARKS if key == "_ada" else float(sum(ENTRIES[key]["expect"]["points"].values()))
            if (result.earned, result.possible) != (want, FULL_MARKS):
                cases = "; ".join(f"{c.function} {c.case_id} {c.status}: {c.message}"
                                  for c in result.cases() if not c.passed)
                problems.append(f"{label}: {result.earned:g}/{result.possible:g}, expected {want:g}/{FULL_MARKS:g} [{cases}]")
            if elapsed >= HANG_GUARD:
                problems.append(f"{label}: grading took {elapsed:.1f} s")
            if not result.sandbox.startswith("strong"):
                problems.append(f"{label}: sandbox {result.sandbox!r}")
    batch_time = time.monotonic() - t_batch
    problems += [f"the test's sockets received {h}" for h in listeners.drain()]
    problems += [f"stray file {p}" for p in stray_files(submissions)]
    planted = guard.planted()
    if usercustomize.exists() and not usercustomize_before:
        problems.append(f"{usercustomize} exists after the batch")
    guard.restore()
    problems += [f"planted {p}" for p in planted]
    status_after = git_status()
    if status_before is not None and status_after is not None:
        problems += [f"new in `git status`: {line}" for line in sorted(set(status_after) - set(status_before))]
    assert not problems, f"batch of {len(sequence)} submissions ({batch_time:.1f} s):\n  " + "\n  ".join(problems)
    if usercustomize_before:
        warnings.warn(f"{usercustomize} existed before this test, so its absence afterwards was not checked")


@pytest.mark.slow
@pytest.mark.linux
def test_grader_grade_in_parallel_keeps_every_exact_score(tmp_path, spec, sandbox_mode, submissions, listeners, guard):
    """The whole corpus and three copies of ada through `grader grade`, two workers at once."""
    import csv
    if not sandbox_mode.startswith("strong"):
        pytest.skip(f"the corpus's hazards need the strong sandbox; the worker reports {sandbox_mode!r}")
    root = tmp_path / "class"
    for name, folder in submissions.items():
        if name != "_ada":
            shutil.copytree(folder, root / name)
    for i in range(3):
        shutil.copytree(submissions["_ada"], root / f"ada_{i}")
    out = tmp_path / "graded"
    proc = subprocess.run([GRADER, "grade", str(root), "--assignment", str(spec.folder), "--public-only",
                           "--workers", "2", "--out", str(out)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out / "gradebook.csv", newline="") as f:
        totals = {row["student"]: float(row["total"]) for row in csv.DictReader(f) if row["student"] != MAX_ROW}
    want = {name: float(sum(ENTRIES[name]["expect"]["points"].values())) for name in NAMES}
    want.update({f"ada_{i}": FULL_MARKS for i in range(3)})
    assert {k: v for k, v in totals.items() if v != want[k]} == {}
    assert sorted(totals) == sorted(want)
    assert listeners.drain() == []
    planted = guard.planted()
    guard.restore()
    assert planted == []

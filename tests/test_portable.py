"""The portable worker: the self-check where the Linux zygote cannot run (macOS, Windows, no prctl).

Forced on here with GRADER_WORKER=portable or `--worker portable`, it must grade as the zygote does:
the shipped examples end to end, a notebook, and (in tests/test_running.py, tests/test_pytest_plugin.py
and tests/test_notebook_api.py, through the `each_worker` fixture) every case kind, the pytest plugin
and a Jupyter kernel. Then the platforms themselves, simulated in a subprocess: without fork, prctl,
resource or fcntl, `grader check` still gives a graded result and says which mode ran.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import GRADER
from grader.grade import grade_submission
from grader.run import sandbox, worker
from grader.run.worker import PortableWorker, WorkerError, start_worker, worker_kind
from notebooks import as_notebook, write_notebook
from test_check_cli import ASSIGNMENT, EXAMPLES, REPO, RUN_TIMEOUT, assert_bobs_points, assert_full_marks, grader_check
from test_running import CORRECT_TOTAL, REFERENCE as TINY_REFERENCE, make_assignment

REG_DIAGNOSIS = "Probably: dW has `reg * W` where it needs `2 * reg * W`"
LINUX_LIMITS = "portable: process+limits(memory, cpu, file size, open files)"
HERE = sandbox.describe_portable(sandbox.portable_limits())      # the portable mode on this platform


# ---------------------------------------------------------------------------------------------
# Which worker runs


@pytest.mark.parametrize("platform, fork, prctl, expected", [
    ("linux", True, True, "zygote"),
    ("darwin", True, False, "portable"),
    ("win32", False, False, "portable"),
    ("linux", True, False, "portable"),          # a C library without prctl (musl without it, a stub)
    ("linux", False, True, "portable"),
])
def test_the_zygote_runs_wherever_it_can_and_the_portable_worker_elsewhere(monkeypatch, platform, fork, prctl, expected):
    monkeypatch.delenv("GRADER_WORKER", raising=False)
    monkeypatch.setattr(sys, "platform", platform)
    if not fork:
        monkeypatch.delattr("os.fork", raising=False)
    monkeypatch.setattr(sandbox, "has_prctl", lambda: prctl)
    assert worker_kind() == expected
    assert worker_kind("portable") == "portable"
    if expected == "portable":
        with pytest.raises(WorkerError, match=r"^the zygote worker cannot run here \(.+\); use the portable worker$"):
            worker_kind("zygote")


def test_grader_worker_chooses_and_a_kind_that_does_not_exist_says_which_do(monkeypatch):
    monkeypatch.setattr(worker, "zygote_unavailable", lambda: "")          # as on Linux
    monkeypatch.setenv("GRADER_WORKER", "portable")
    assert worker_kind() == "portable"
    assert worker_kind("auto") == "zygote"                       # --worker wins over the variable
    monkeypatch.setenv("GRADER_WORKER", "fork")
    with pytest.raises(WorkerError, match=r"^GRADER_WORKER=fork: expected one of auto, zygote, portable$"):
        worker_kind()


def test_a_worker_that_cannot_run_here_is_one_line_from_grader_check_and_from_check(monkeypatch, capsys):
    from grader import check
    from grader.cli import main
    says = "the zygote worker cannot run here (darwin is not Linux); use the portable worker"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert main(["check", str(EXAMPLES / "ada"), "--assignment", str(ASSIGNMENT), "--worker", "zygote"]) == 2
    assert capsys.readouterr().err == f"grader: error: {says}\n"
    monkeypatch.setenv("GRADER_WORKER", "zygote")
    monkeypatch.chdir(REPO / "student_template" / "linear_classifier")
    assert check("svm_loss_naive").error == says


def test_without_a_c_library_or_its_prctl_the_sandbox_module_still_works(monkeypatch):
    """Windows' ctypes cannot load CDLL(None); macOS's libc has no prctl: protect_self does nothing."""
    import ctypes
    import types

    def no_libc(name, *args, **kwargs):
        raise TypeError("LoadLibrary() argument 1 must be str, not None")
    for cdll in (no_libc, lambda name, *args, **kwargs: types.SimpleNamespace()):
        monkeypatch.setattr(ctypes, "CDLL", cdll)
        sandbox._libc.cache_clear()
        try:
            sandbox.protect_self()
            assert not sandbox.has_prctl()
        finally:
            sandbox._libc.cache_clear()
    monkeypatch.undo()
    assert sandbox.has_prctl() == sys.platform.startswith("linux")          # this machine's libc again


NEEDS_RESOURCE = pytest.mark.skipif(sys.platform == "win32", reason="Windows has no resource module")


@pytest.mark.parametrize("platform, has_resource, limits, says", [
    pytest.param("linux", True, ("memory", "cpu", "file size", "open files"),
                 "limits on memory, CPU time, file size and open files", marks=NEEDS_RESOURCE),
    pytest.param("darwin", True, ("cpu", "file size", "open files"), "macOS does not enforce a memory limit",
                 marks=NEEDS_RESOURCE),
    ("win32", False, (), "no memory, CPU time or file limits here"),
])
def test_the_portable_mode_says_which_limits_hold_and_that_it_is_no_sandbox(monkeypatch, platform, has_resource,
                                                                            limits, says):
    monkeypatch.setattr(sys, "platform", platform)
    if not has_resource:
        monkeypatch.setitem(sys.modules, "resource", None)
    assert sandbox.portable_limits() == limits
    assert sandbox.describe_portable(limits).startswith("portable: process")
    warning = sandbox.portable_warning(limits)
    assert warning.startswith("sandbox is portable: it guards your own machine against mistakes (a time limit per case")
    assert says in warning
    assert "not the grader against hostile code" in warning


# ---------------------------------------------------------------------------------------------
# The portable worker itself


@pytest.mark.slow
def test_closing_a_portable_worker_stops_its_spare_and_leaves_no_folder(tmp_path):
    spec = make_assignment(tmp_path)
    sub = tmp_path / "student"
    sub.mkdir()
    (sub / "tiny.py").write_text(TINY_REFERENCE)
    portable = start_worker("numpy", kind="portable")
    assert isinstance(portable, PortableWorker)
    result = grade_submission(spec, sub, worker=portable)
    assert result.all_passed and result.sandbox == HERE
    spare, folder = portable._spare._proc, Path(portable._jobs_dir)
    assert spare.poll() is None and folder.is_dir()
    portable.close()
    assert spare.poll() is not None and not folder.exists()


@pytest.mark.slow
def test_an_interpreter_that_cannot_start_is_a_worker_error_with_its_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(worker, "_BOOT", "import sys; sys.exit('no numpy here, say')")
    spec = make_assignment(tmp_path)
    sub = tmp_path / "student"
    sub.mkdir()
    (sub / "tiny.py").write_text(TINY_REFERENCE)
    with PortableWorker("numpy") as portable:
        result = grade_submission(spec, sub, worker=portable)
    assert {c.status for c in result.cases()} == {"crashed"}
    assert result.cases()[0].message == "not run: the worker process exited with code 1: no numpy here, say"


@pytest.mark.slow
def test_a_run_that_writes_past_the_disk_cap_is_stopped_where_no_tmpfs_holds_it(tmp_path):
    """The portable child has no tmpfs: its scratch folder is measured, as the zygote's without namespaces."""
    from test_sandbox import DISK_HOG
    spec = make_assignment(tmp_path)
    sub = tmp_path / "student"
    sub.mkdir()
    (sub / "tiny.py").write_text(textwrap.dedent(DISK_HOG) + CORRECT_TOTAL)
    with start_worker("numpy", kind="portable") as portable:
        result = grade_submission(spec, sub, worker=portable)
    scale, total = result.functions
    assert scale.cases[0].status == "crashed"
    assert "scale: it wrote more than the grader allows on disk (64 MiB" in scale.cases[0].message
    assert total.earned == total.possible


# ---------------------------------------------------------------------------------------------
# End to end, as a student runs it


@pytest.mark.slow
def test_grader_check_with_the_portable_worker_gives_ada_full_marks(tmp_path):
    run = grader_check(EXAMPLES / "ada", "--hidden", "--worker", "portable", out_dir=tmp_path)
    assert_full_marks(run, hidden=True)
    assert run.report["sandbox"] == HERE
    assert run.stdout.splitlines()[1] == f"Warning: {sandbox.portable_warning(sandbox.portable_limits())}"


@pytest.mark.slow
def test_grader_check_with_the_portable_worker_gives_bob_his_diagnosis(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_WORKER", "portable")
    run = grader_check(EXAMPLES / "bob", "--hidden", out_dir=tmp_path)
    assert_bobs_points(run)
    assert REG_DIAGNOSIS in run.block("svm_loss_naive")
    assert run.report["sandbox"] == HERE


@pytest.mark.slow
def test_a_notebook_self_check_with_the_portable_worker_gives_full_marks(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_WORKER", "portable")
    notebook = write_notebook(tmp_path / "ada" / "linear_classifier.ipynb",
                              as_notebook((EXAMPLES / "ada" / "linear_classifier.py").read_text()))
    run = grader_check(notebook, "--hidden", out_dir=tmp_path / "out")
    assert_full_marks(run, hidden=True)
    assert run.report["sandbox"] == HERE


@pytest.mark.slow
@pytest.mark.linux                   # batch grading stays on Linux; here, with the portable worker forced on
def test_grader_grade_with_the_portable_worker_grades_and_says_it_is_no_sandbox(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_WORKER", "portable")
    spec = make_assignment(tmp_path)
    for student, body in {"s1": TINY_REFERENCE, "s2": "def scale(x, k):\n    return x\n" + CORRECT_TOTAL}.items():
        (tmp_path / "class" / student).mkdir(parents=True)
        (tmp_path / "class" / student / "tiny.py").write_text(body)
    proc = subprocess.run([GRADER, "grade", str(tmp_path / "class"), "--assignment", str(spec.folder),
                           "--out", str(tmp_path / "out"), "--workers", "1"],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    assert ("grader: note: grading with the portable worker (GRADER_WORKER=portable): it keeps time limits and "
            "crashes to their case, but it is not a sandbox against hostile code") in proc.stderr
    graded = {s: json.loads((tmp_path / "out" / s / "result.json").read_text()) for s in ("s1", "s2")}
    assert [graded[s]["score"]["earned"] for s in ("s1", "s2")] == [5, 2]
    assert {graded[s]["sandbox"] for s in graded} == {LINUX_LIMITS}


# ---------------------------------------------------------------------------------------------
# Other platforms, simulated on Linux in a subprocess (on the platforms themselves, the tests above run)


# Set before the grader is imported, in the grader's process and (through the boot line of its
# children) in each portable child. numpy and torch are imported first, as on the real platform:
# what is simulated is what the grader may use.
STUB = """\
import ctypes, os, subprocess, sys, types
import numpy
if "--preload" in sys.argv:
    import torch
PLATFORM = {platform!r}
real_cdll = ctypes.CDLL

def cdll(name, *args, **kwargs):
    if name is None and PLATFORM == "win32":
        raise TypeError("LoadLibrary() argument 1 must be str, not None")   # as Windows' ctypes has it
    if name is None:
        return types.SimpleNamespace()                                      # a C library without prctl
    return real_cdll(name, *args, **kwargs)

ctypes.CDLL = cdll
if PLATFORM == "win32":
    sys.modules["resource"] = sys.modules["fcntl"] = None
    del os.fork
if PLATFORM != "linux":
    sys.platform = PLATFORM
"""
RUN_STUBBED = """\
import sys
exec(open(sys.argv[1]).read())
from grader.run import worker
worker._BOOT = "exec(open(%r).read()); " % sys.argv[1] + worker._BOOT
from grader.cli import main
sys.exit(main(sys.argv[2:]))
"""


def run_stubbed(tmp_path: Path, platform: str, *args: str) -> subprocess.CompletedProcess:
    """`grader ARGS` on a simulated platform."""
    stub = tmp_path / f"stub-{platform}.py"
    stub.write_text(STUB.format(platform=platform))
    return subprocess.run([sys.executable, "-c", RUN_STUBBED, str(stub), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)


@pytest.mark.slow
@pytest.mark.linux
@pytest.mark.parametrize("platform, mode", [
    ("darwin", "portable: process+limits(cpu, file size, open files)"),
    ("win32", "portable: process"),
    ("linux", LINUX_LIMITS),                     # a Linux whose C library has no prctl
])
def test_on_a_platform_without_the_zygote_grader_check_grades_and_says_so(tmp_path, platform, mode):
    check = run_stubbed(tmp_path, platform, "check", str(EXAMPLES / "ada"), "--assignment", str(ASSIGNMENT),
                        "--json", str(tmp_path / "r.json"))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Traceback" not in check.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["score"]["earned"] == report["score"]["possible"] == 8
    assert report["sandbox"] == mode
    assert report["sandbox_warning"].startswith("sandbox is portable: ")
    box = run_stubbed(tmp_path, platform, "sandbox")
    assert box.returncode == 0 and box.stdout.splitlines()[0] == mode, box.stdout + box.stderr


@pytest.mark.slow
@pytest.mark.linux
def test_on_simulated_windows_grader_grade_grades_unlocked_and_says_it_is_no_sandbox(tmp_path):
    spec = make_assignment(tmp_path)
    (tmp_path / "class" / "s1").mkdir(parents=True)
    (tmp_path / "class" / "s1" / "tiny.py").write_text(TINY_REFERENCE)
    out = tmp_path / "out"
    grade = run_stubbed(tmp_path, "win32", "grade", str(tmp_path / "class"), "--assignment", str(spec.folder),
                        "--out", str(out), "--workers", "1")
    assert grade.returncode == 0, grade.stdout + grade.stderr
    assert "grader: note: grading with the portable worker (win32 is not Linux)" in grade.stderr
    assert f"grader: note: {out} cannot be locked (no file locks on this platform)" in grade.stderr
    assert json.loads((out / "s1" / "result.json").read_text())["sandbox"] == "portable: process"

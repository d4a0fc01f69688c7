"""The sandbox, mode by mode: what each mode promises holds, on the tiny numpy assignment.

strong = process + Landlock + seccomp (+ namespaces where they work); partial = one of the two;
minimal = process isolation only. Every mode keeps scores honest (comparison in the grader's
process, plain data back); the stronger modes also keep files, network and processes out of reach.
"""
import socket
import textwrap
import threading

import pytest

from grader.grade import grade_submission
from grader.run import sandbox
from grader.run.worker import Worker

from test_running import CORRECT_TOTAL, make_assignment

AVAILABLE, ABI = sandbox.probe()
needs = lambda *layers: pytest.mark.skipif(not set(layers) <= set(AVAILABLE),
                                           reason=f"{'+'.join(layers)} not available on this machine")


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory):
    """A file the grader can read and no student may: stands for the reference and hidden cases."""
    path = tmp_path_factory.mktemp("instructor") / "solution.txt"
    path.write_text("the answer")
    return path


def grade_with(tmp_path, layers, student: str):
    spec = make_assignment(tmp_path)
    sub = tmp_path / "student"
    sub.mkdir(exist_ok=True)
    (sub / "tiny.py").write_text(textwrap.dedent(student) + CORRECT_TOTAL)
    with Worker("numpy", layers=layers) as worker:
        result = grade_submission(spec, sub, worker=worker)
    return {fn.name: fn for fn in result.functions}, result


PROBE = """\
    import os, socket, sys
    def attempt(what):
        try:
            what()
            return "allowed"
        except OSError as e:
            return "denied"
    def fork_and_reap():
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    def scale(x, k):
        results = {
            "read": attempt(lambda: open(%(secret)r).read()),
            "write": attempt(lambda: open(%(outside)r, "w").write("x")),
            "socket": attempt(lambda: socket.socket()),
            "connect": attempt(lambda: socket.create_connection(("127.0.0.1", %(port)d), timeout=1)),
            "fork": attempt(fork_and_reap),
            "signal": attempt(lambda: os.kill(os.getppid(), 18)),     # SIGCONT: harmless if it gets through
            "parent_memory": attempt(lambda: open("/proc/%%d/mem" %% os.getppid(), "rb").read(1)),
        }
        print(sorted(results.items()))
        return k * x
"""


@pytest.fixture
def listener():
    """A TCP server on loopback that records whether anybody connected."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    connected = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                connected.append(True)
                conn.close()
            except OSError:
                pass
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], connected
    stop.set()
    thread.join()
    server.close()


def run_probe(tmp_path, layers, secret_file, port):
    outside = tmp_path / "outside.txt"
    fns, result = grade_with(tmp_path, layers, PROBE % {"secret": str(secret_file), "outside": str(outside), "port": port})
    seen = dict(eval(fns["scale"].cases[0].stdout))         # what the student code could do
    return seen, result, outside


@pytest.mark.slow
@needs("landlock", "seccomp")
def test_strong_mode_denies_files_network_processes_and_the_graders_memory(tmp_path, secret_file, listener):
    port, connected = listener
    seen, result, outside = run_probe(tmp_path, None, secret_file, port)
    assert result.sandbox.startswith("strong: process+")
    assert result.sandbox_warning == ""
    assert seen == {"read": "denied", "write": "denied", "socket": "denied", "connect": "denied",
                    "fork": "denied", "signal": "denied", "parent_memory": "denied"}
    assert not outside.exists()
    assert connected == []
    assert result.earned == result.possible                  # and correct code still runs normally


@pytest.mark.slow
@needs("landlock")
def test_landlock_alone_keeps_files_and_tcp_out_of_reach(tmp_path, secret_file, listener):
    port, connected = listener
    seen, result, outside = run_probe(tmp_path, ("landlock",), secret_file, port)
    assert result.sandbox == f"partial: process+landlock(abi {ABI})"
    assert "seccomp unavailable" in result.sandbox_warning
    assert (seen["read"], seen["write"], seen["parent_memory"]) == ("denied", "denied", "denied")
    if ABI >= 4:
        assert seen["connect"] == "denied" and connected == []
    if ABI >= 6:
        assert seen["signal"] == "denied"
    assert seen["fork"] == "allowed"                         # what this mode does not promise


@pytest.mark.slow
@needs("seccomp")
def test_seccomp_alone_keeps_network_and_processes_out_of_reach(tmp_path, secret_file, listener):
    port, connected = listener
    seen, result, outside = run_probe(tmp_path, ("seccomp",), secret_file, port)
    assert result.sandbox == "partial: process+seccomp"
    assert "landlock unavailable" in result.sandbox_warning and "can read any file" in result.sandbox_warning
    assert (seen["socket"], seen["connect"], seen["fork"], seen["signal"]) == ("denied",) * 4
    assert connected == []
    assert seen["read"] == "allowed"                         # what this mode does not promise


@pytest.mark.slow
def test_minimal_mode_says_so_and_still_keeps_scores_honest(tmp_path, secret_file, listener):
    port, _ = listener
    seen, result, _ = run_probe(tmp_path, (), secret_file, port)
    assert result.sandbox == "minimal: process"
    assert result.sandbox_warning.startswith("sandbox is minimal: landlock and seccomp unavailable here")
    # Scores are computed in the grader's process from plain data in every mode:
    fns, result = grade_with(tmp_path / "patch", (), """\
        import numpy as np
        np.allclose = np.isclose = lambda *a, **k: True
        def scale(x, k):
            return np.zeros_like(x)
    """)
    assert [c.status for c in fns["scale"].cases] == ["failed"] * 3
    assert result.earned == 2


def test_weaker_mode_warning_is_shown_in_the_terminal_report(tmp_path):
    from grader.report import terminal
    _, result = grade_with(tmp_path, (), "def scale(x, k):\n    return k * x\n")
    text = terminal.render(result)
    assert text.splitlines()[1] == "Warning: " + result.sandbox_warning


@pytest.mark.slow
@needs("seccomp")
def test_a_killed_worker_is_restarted_for_the_next_submission(tmp_path, monkeypatch):
    """Without seccomp a student can kill the zygote; the next submission must not suffer for it,
    and the killed job's folder does not outlive the worker."""
    import tempfile
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))                 # the temporary folder, here and in any child
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    spec = make_assignment(tmp_path)
    bad, good = tmp_path / "bad", tmp_path / "good"
    for folder, body in ((bad, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"), (good, "")):
        folder.mkdir()
        (folder / "tiny.py").write_text(body + "def scale(x, k):\n    return k * x\n" + CORRECT_TOTAL)
    with Worker("numpy", layers=()) as worker:                # minimal: kill() is allowed
        first = grade_submission(spec, bad, worker=worker)
        second = grade_submission(spec, good, worker=worker)
    assert first.earned == 0 and {c.status for c in first.cases()} == {"crashed"}
    assert second.earned == second.possible == 5
    assert list(scratch.iterdir()) == []


def test_seccomp_program_jumps_only_forward_and_ends_in_returns():
    program = sandbox.seccomp_program()
    for i, (code, jt, jf, k) in enumerate(program):
        if code & 0x07 == 0x05:                              # BPF_JMP
            assert i + 1 + max(jt, jf) < len(program)
    assert all(code == 0x06 for code, *_ in program[-3:])    # BPF_RET: allow, EPERM, ENOSYS

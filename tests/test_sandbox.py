"""The sandbox, mode by mode: what each mode promises holds, on the tiny numpy assignment.

strong = process + Landlock + seccomp (+ namespaces where they work); partial = one of the two;
minimal = process isolation only. Every mode keeps scores honest (comparison in the grader's
process, plain data back); the stronger modes also keep files, network and processes out of reach.
"""
import errno
import socket
import textwrap
import threading
from pathlib import Path

import pytest

from grader.grade import grade_submission
from grader.run import sandbox
from grader.run.worker import Worker
from grader.spec import load_spec

from conftest import LINUX
from test_running import CORRECT_TOTAL, make_assignment

pytestmark = pytest.mark.linux         # the Linux sandbox's layers, probed in a forked child
AVAILABLE, ABI = sandbox.probe() if LINUX else ((), None)
needs = lambda *layers: pytest.mark.skipif(not set(layers) <= set(AVAILABLE),
                                           reason=f"{'+'.join(layers)} not available on this machine")


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory):
    """A file the grader can read and no student may: stands for the reference and hidden cases."""
    path = tmp_path_factory.mktemp("instructor") / "solution.txt"
    path.write_text("the answer")
    return path


def grade_with(tmp_path, layers, student: str, case_timeout: float | None = None):
    spec = make_assignment(tmp_path)
    if case_timeout:                    # for code that reads its whole memory: seconds on a busy machine
        text = (spec.folder / "assignment.yaml").read_text().replace("case_timeout: 1.5", f"case_timeout: {case_timeout}")
        (spec.folder / "assignment.yaml").write_text(text)
        spec = load_spec(spec.folder)
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


OWNER = """\
    import fcntl, os, stat, struct
    def attempt(what):
        try:
            what()
            return "allowed"
        except OSError:
            return "denied"
    def scale(x, k):
        pipes = [int(fd) for fd in os.listdir("/proc/self/fd") if _fifo(int(fd))]
        fd, me = pipes[0], os.getpid()
        print(sorted({                    # the owner is this process itself, and O_ASYNC is never set: harmless
            "F_SETOWN": attempt(lambda: fcntl.fcntl(fd, fcntl.F_SETOWN, me)),
            "F_SETSIG": attempt(lambda: fcntl.fcntl(fd, 10, 0)),
            "F_SETOWN_EX": attempt(lambda: fcntl.fcntl(fd, 15, struct.pack("ii", 1, me))),
            "FIOSETOWN": attempt(lambda: fcntl.ioctl(fd, 0x8901, struct.pack("i", me))),
            "F_GETFL": attempt(lambda: fcntl.fcntl(fd, fcntl.F_GETFL)),
        }.items()))
        return k * x
    def _fifo(fd):
        try:
            return stat.S_ISFIFO(os.fstat(fd).st_mode)
        except OSError:
            return False
"""


@pytest.mark.slow
@needs("seccomp")
@pytest.mark.parametrize("layers", [("seccomp",), None], ids=["seccomp alone", "strong"])
def test_no_child_can_have_a_file_signal_the_grader(tmp_path, layers):
    """With an owner (F_SETOWN, F_SETOWN_EX, FIOSETOWN) and a signal (F_SETSIG) on its result pipe
    and O_ASYNC, a child would have the kernel send SIGKILL to the grader's process group each time
    the grader reads the pipe; kill() being denied does not stop that. Landlock's signal scoping
    does only from ABI 6 (Linux 6.12): seccomp denies the commands everywhere."""
    fns, result = grade_with(tmp_path, layers, OWNER)
    seen = dict(eval(fns["scale"].cases[0].stdout))
    assert {k: v for k, v in seen.items() if k != "F_GETFL"} == dict.fromkeys(
        ("F_SETOWN", "F_SETSIG", "F_SETOWN_EX", "FIOSETOWN"), "denied"), seen
    assert seen["F_GETFL"] == "allowed"                      # the rest of fcntl is a child's to use


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


def _run_filter(program, nr: int, arch: int = 0xC000003E, request: int = 0) -> int:
    """What the filter returns for a call: a small interpreter of the four instructions it uses."""
    data = {0: nr, 4: arch, 24: request}                 # seccomp_data: nr, arch, args[1]'s low 32 bits
    a, pc = 0, 0
    while True:
        code, jt, jf, k = program[pc]
        pc += 1
        if code == 0x20:                                  # BPF_LD | BPF_W | BPF_ABS
            a = data[k]
        elif code == 0x15:                                # BPF_JMP | BPF_JEQ | BPF_K
            pc += jt if a == k else jf
        elif code == 0x35:                                # BPF_JMP | BPF_JGE | BPF_K
            pc += jt if a >= k else jf
        elif code == 0x06:                                # BPF_RET | BPF_K
            return k
        else:
            raise AssertionError(f"instruction {code:#x} at {pc - 1}")


def test_seccomp_program_gives_each_call_its_action():
    """Every system call number, x32's and another architecture's: the listed calls EPERM, clone3
    ENOSYS (the C library then falls back to clone), the listed ioctl requests EPERM and other
    requests allowed, anything else allowed, and a call of another architecture kills."""
    program = sandbox.seccomp_program()
    eperm, enosys, allow = 0x00050000 | errno.EPERM, 0x00050000 | errno.ENOSYS, 0x7FFF0000
    denied = set(sandbox._DENY_X86_64.values())
    for nr in range(1024):
        want = eperm if nr in denied else enosys if nr == sandbox._CLONE3 else allow
        assert _run_filter(program, nr) == want, nr
    for request in (*sandbox._DENY_IOCTLS, 0x5401, 0x541B, 0x40086601):      # TCGETS, FIONREAD, FS_IOC_GETFLAGS
        want = eperm if request in sandbox._DENY_IOCTLS else allow
        assert _run_filter(program, sandbox._IOCTL, request=request) == want, hex(request)
    for command in range(1100):                               # F_SETOWN, F_SETSIG, F_SETOWN_EX denied
        want = eperm if command in (8, 10, 15) else allow
        assert _run_filter(program, sandbox._FCNTL, request=command) == want, command
    assert _run_filter(program, 0x40000000 | 41) == _run_filter(program, 0x40000000) == eperm
    assert _run_filter(program, 0, arch=0x40000003) == 0x80000000                # i386: killed


# ---------------------------------------------------------------------------------------------
# The environment, the disk, descriptors and leftovers (issue #15), in every mode


SEES = """\
    import os, re
    def scale(x, k):
        token = os.environ.get("GRADER_SANDBOX_TOKEN_NAME", "")
        pattern = re.compile(rb"[0-9a-f]{8}-grader-sandbox-token")
        found = []
        for key, value in os.environ.items():
            if pattern.search(value.encode()):
                found.append("os.environ")
        pids, pid = ["self"], str(os.getppid())
        while pid not in ("0", "1"):                   # every ancestor: manager, zygote, grader, ...
            pids.append(pid)
            try:
                with open(f"/proc/{pid}/status") as f:
                    pid = next(line.split()[1] for line in f if line.startswith("PPid:"))
            except OSError:
                break
        for pid in pids:
            for name in ("environ", "cmdline"):
                try:
                    with open(f"/proc/{pid}/{name}", "rb") as f:
                        if pattern.search(f.read()):
                            found.append(f"/proc/{pid}/{name}")
                except OSError:
                    pass
        with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", buffering=0) as mem:
            for fields in (line.split() for line in maps):
                if fields[1].startswith("rw"):
                    low, high = (int(v, 16) for v in fields[0].split("-"))
                    try:
                        mem.seek(low)
                        if pattern.search(mem.read(high - low)):
                            found.append("memory")
                    except OSError:
                        pass
        fds = {}
        for fd in os.listdir("/proc/self/fd"):
            try:
                fds[int(fd)] = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                pass
        print(repr({"found": found, "environ": sorted(os.environ), "fds": fds, "cwd": os.getcwd()}))
        return k * x
"""


def _layer_sets():
    sets = [((), "minimal")]
    if {"landlock", "seccomp"} <= set(AVAILABLE):
        sets.append(((("landlock", "seccomp")), "no namespaces"))
    if set(sandbox.LAYERS) <= set(AVAILABLE):
        sets.append((None, "strong"))
    return sets


@pytest.mark.slow
@pytest.mark.parametrize("layers", [s for s, _ in _layer_sets()], ids=[n for _, n in _layer_sets()])
def test_nothing_of_the_graders_environment_reaches_the_student(tmp_path, monkeypatch, layers):
    """The child's own environment, its original environment block and its memory (a copy of the
    zygote's) hold nothing of the grader's; its descriptors are its output, its pipe and /dev/null."""
    token = "5eb4a1c2-grader-sandbox-token"                       # matched by the pattern above, not contained in it
    monkeypatch.setenv("GRADER_SANDBOX_SECRET", token)
    fns, result = grade_with(tmp_path, layers, SEES, case_timeout=30)
    assert fns["scale"].cases[0].status == "passed", fns["scale"].cases[0].message
    seen = eval(fns["scale"].cases[0].stdout)
    assert seen["found"] == []
    assert "GRADER_SANDBOX_SECRET" not in seen["environ"] and set(seen["environ"]) <= {
        "HOME", "TMPDIR", "PATH", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "LANG"}
    targets = set(seen["fds"].values())
    allowed = lambda t: t == "/dev/null" or t.startswith("pipe:") or t.endswith(".txt") or t.startswith("/proc/")
    assert {0, 1, 2} <= set(seen["fds"]) and all(allowed(t) for t in targets), seen["fds"]
    assert not any(str(tmp_path) in t for t in targets)            # not the submission, not the assignment


@pytest.mark.slow
@pytest.mark.parametrize("layers", [s for s, _ in _layer_sets()], ids=[n for _, n in _layer_sets()])
def test_a_secret_the_grader_was_started_with_reaches_no_child(tmp_path, layers):
    """As a CI token would be: in the grader's own original environment block (/proc/<pid>/environ,
    which setenv in a running process does not change), not only in os.environ."""
    import os
    import subprocess
    import sys
    token = "0c7e99d1-grader-sandbox-token"
    script = textwrap.dedent(f"""
        import sys
        sys.path[:0] = {[str(p) for p in (Path(__file__).parent,)]!r}
        from pathlib import Path
        import test_sandbox
        fns, _ = test_sandbox.grade_with(Path({str(tmp_path)!r}), {layers!r}, test_sandbox.SEES, case_timeout=30)
        case = fns["scale"].cases[0]
        print(case.status, case.message)
        print(case.stdout.strip())
    """)
    env = {**os.environ, "GRADER_SANDBOX_SECRET": token}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    status, seen = out.stdout.splitlines()[0], eval(out.stdout.splitlines()[-1])
    assert status.startswith("passed"), out.stdout
    assert seen["found"] == [], seen["found"]


DISK_HOG = """\
    import os
    def scale(x, k):
        block = os.urandom(1 << 20)
        for i in range(200):
            with open(f"hog-{i}.bin", "wb") as f:
                f.write(block)
        return k * x
"""


@pytest.mark.slow
@needs("landlock", "seccomp")
def test_without_namespaces_a_run_that_writes_past_the_disk_cap_is_stopped(tmp_path):
    """No tmpfs of its own: the zygote measures the scratch folder and stops the child past 64 MiB."""
    fns, result = grade_with(tmp_path, ("landlock", "seccomp"), DISK_HOG)
    first = fns["scale"].cases[0]
    assert first.status == "crashed"
    assert "scale: it wrote more than the grader allows on disk (64 MiB" in first.message
    assert fns["total"].earned == fns["total"].possible        # the rest of the submission is graded


@pytest.mark.slow
@needs("landlock", "seccomp")
def test_without_namespaces_a_call_that_writes_past_the_cap_and_returns_between_two_looks_is_stopped(tmp_path, monkeypatch):
    """The measure is taken before each answer too, not only at looks: with looks 30 s apart, the
    job is over long before the next one, and the call that wrote past the cap is still stopped.
    (On a fast machine this happened with looks 50 ms apart: the case passed.)"""
    from grader.run import supervise
    monkeypatch.setattr(supervise, "_SAMPLE", 30.0)
    fns, _ = grade_with(tmp_path, ("landlock", "seccomp"), DISK_HOG.replace("range(200)", "range(70)"), case_timeout=60)
    first = fns["scale"].cases[0]
    assert first.status == "crashed", first.message
    assert "scale: it wrote more than the grader allows on disk (64 MiB" in first.message
    assert fns["total"].earned == fns["total"].possible


@pytest.mark.slow
@needs("namespaces")
def test_with_namespaces_the_scratch_folder_is_a_tmpfs_of_the_disk_cap(tmp_path):
    fns, _ = grade_with(tmp_path, None, DISK_HOG)
    first = fns["scale"].cases[0]
    assert first.status == "error" and "No space left on device" in first.message
    assert "wrote more to disk than the grader allows" in first.details


def test_scratch_usage_counts_bytes_and_entries_and_stops_counting_early(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "big").write_bytes(b"x" * 100_000)
    for i in range(30):
        (tmp_path / f"f{i}").touch()
    used, entries = sandbox.scratch_usage(str(tmp_path))
    assert used >= 100_000 and entries == 32
    assert sandbox.scratch_usage(str(tmp_path), files=5)[1] <= 5 + 30   # one folder past the cap, at most


@pytest.mark.slow
def test_the_zygote_removes_its_folder_when_the_grader_goes_away(tmp_path):
    """A grader killed mid-batch never closes its worker; the zygote sees its control socket end and removes
    the folder its jobs were in."""
    spec = make_assignment(tmp_path)
    sub = tmp_path / "student"
    sub.mkdir()
    (sub / "tiny.py").write_text("def scale(x, k):\n    return k * x\n" + CORRECT_TOTAL)
    worker = Worker("numpy")
    try:
        grade_submission(spec, sub, worker=worker)
        folder = Path(worker._jobs_dir)
        assert folder.is_dir()
        worker._control.close()                                  # as the kernel does when the grader dies
        worker._proc.wait(timeout=30)
        assert not folder.exists()
    finally:
        worker.close()


READS = """\
    import os
    def scale(x, k):
        def opens(path, mode="rb"):
            try:
                with open(path, mode) as f:
                    f.write(b"x") if "w" in mode else f.read(4)
                return True
            except OSError:
                return False
        paths = ["/dev/urandom", "/dev/zero", "/proc/cpuinfo", "/proc/meminfo", "/proc/stat", "/proc/self/status",
                 os.__file__, "/etc/hostname"]
        print(repr({"read": {p: opens(p) for p in paths}, "null": opens("/dev/null", "wb"),
                    "fds": sorted(os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                                  if os.path.exists(f"/proc/self/fd/{fd}"))}))
        return k * x
"""


@pytest.mark.slow
@needs("landlock")
def test_a_child_reads_the_system_files_every_child_may_and_keeps_no_descriptor_of_them(tmp_path):
    """The rules every child has (the system's and Python's folders, the null device, a few device
    and /proc files) are opened once, in the zygote: each child still gets them all, and closes its
    copies of those descriptors before its code runs."""
    fns, _ = grade_with(tmp_path, None, READS)
    case = fns["scale"].cases[0]
    assert case.status == "passed", case.message
    seen = eval(case.stdout)
    assert seen["null"] and all(seen["read"].values()), seen
    assert not [t for t in seen["fds"] if t.startswith(("/usr", "/etc", "/lib", "/dev/urandom", "/proc/cpuinfo"))], seen["fds"]


@needs("landlock")
def test_a_second_ruleset_in_one_process_opens_the_common_paths_again(tmp_path):
    """A child closes the zygote's descriptors of the paths every ruleset allows once its ruleset is
    made: a second ruleset in the same process (a probe, a test) opens them again rather than
    using numbers that are closed or, worse, reused for another file."""
    import os
    policy = sandbox.Policy(memory=0, cpu_seconds=0, submission_dir="/usr", scratch=str(tmp_path), disk=0)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            sandbox._prctl(sandbox._PR_SET_NO_NEW_PRIVS, 1)
            sandbox.apply_landlock(policy)
            sandbox.apply_landlock(policy)
            with open("/dev/urandom", "rb") as f:
                code = 0 if len(f.read(4)) == 4 else 1
        except BaseException:  # noqa: BLE001
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


CAPABILITIES = """\
    def scale(x, k):
        with open("/proc/self/status") as f:
            print(repr({line.split(":")[0]: line.split()[1] for line in f if line.startswith(("Cap", "NoNewPrivs"))}))
        return k * x
"""


@pytest.mark.slow
@needs("namespaces")
@pytest.mark.parametrize("layers", [("namespaces",), None], ids=["namespaces alone", "strong"])
def test_a_child_holds_no_capability_and_an_empty_bounding_set_in_either_worker(tmp_path, layers):
    """The zygote empties its bounding set once, in its own user namespace, and its children
    inherit it: no child, the first worker's or a sibling's, may hold a capability or be able to
    regain one through an exec (a setuid program, file capabilities)."""
    spec = make_assignment(tmp_path)
    sub = tmp_path / "student"
    sub.mkdir()
    (sub / "tiny.py").write_text(textwrap.dedent(CAPABILITIES) + CORRECT_TOTAL)
    seen = []
    with Worker("numpy", layers=layers) as first, first.sibling() as second:
        for worker in (first, second, first):
            case = {fn.name: fn for fn in grade_submission(spec, sub, worker=worker).functions}["scale"].cases[0]
            assert case.status == "passed", case.message
            seen.append(eval(case.stdout))
    for status in seen:
        assert {k: v for k, v in status.items() if k.startswith("Cap")} == \
            {"CapInh": "0" * 16, "CapPrm": "0" * 16, "CapEff": "0" * 16, "CapBnd": "0" * 16, "CapAmb": "0" * 16}, status


NAMESPACES = """\
    import ctypes, os
    QUEUE = b"/grader-sandbox-test-queue"
    def scale(x, k):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mq_open.restype = ctypes.c_int
        found = libc.mq_open(QUEUE, os.O_RDWR) >= 0                    # left by an earlier run?
        attr = (ctypes.c_long * 8)(0, 1, 8)                            # one message of 8 bytes: under any quota
        made = libc.mq_open(QUEUE, os.O_RDWR | os.O_CREAT, 0o600, attr) >= 0 or os.strerror(ctypes.get_errno())
        with open("/proc/self/net/dev") as f:
            interfaces = sorted(line.split(":")[0].strip() for line in f.readlines()[2:])
        print(repr({"net": os.readlink("/proc/self/ns/net"), "found": found, "made": made, "interfaces": interfaces}))
        return k * x
"""


@pytest.mark.slow
@needs("namespaces", "seccomp")
def test_runs_share_only_the_workers_empty_network_namespace_and_leave_nothing_for_the_next(tmp_path):
    """The zygote makes one network namespace for all its children (a network namespace costs a
    millisecond to make and clean up): it has nothing but a loopback device and is not the grader's.
    Each child still has an IPC namespace of its own: a POSIX queue one run makes, the next cannot
    open. Without Landlock, which refuses queues altogether, so that the namespace is what is tested."""
    import ctypes
    import os
    spec = make_assignment(tmp_path)
    sub = tmp_path / "student"
    sub.mkdir()
    (sub / "tiny.py").write_text(textwrap.dedent(NAMESPACES) + CORRECT_TOTAL)
    libc = ctypes.CDLL(None, use_errno=True)
    queue = b"/grader-sandbox-test-queue"
    libc.mq_unlink(queue)                                          # one an earlier, failed run leaked
    seen = []
    with Worker("numpy", layers=("namespaces", "seccomp")) as worker:
        for _ in range(2):
            result = grade_submission(spec, sub, worker=worker)
            case = {fn.name: fn for fn in result.functions}["scale"].cases[0]
            assert case.status == "passed", case.message
            seen.append(eval(case.stdout))
    first, second = seen
    assert first["interfaces"] == second["interfaces"] == ["lo"]
    assert first["net"] == second["net"] != os.readlink("/proc/self/ns/net")
    assert first["made"] is True and second["made"] is True, (first["made"], second["made"])
    assert not first["found"] and not second["found"]              # the first run's queue died with it
    leaked = libc.mq_open(queue, os.O_RDWR) >= 0
    libc.mq_unlink(queue)
    assert not leaked                                              # nor did it reach the grader's


@pytest.mark.slow
@needs("namespaces", "seccomp")
def test_a_sibling_workers_children_get_an_empty_network_namespace_not_the_first_workers(tmp_path):
    """Children of two workers run at once: a worker forked from another (Worker.sibling) gives its
    children a network namespace of its own, as empty, not the one the first worker's children share."""
    import os
    spec = make_assignment(tmp_path)
    sub = tmp_path / "student"
    sub.mkdir()
    (sub / "tiny.py").write_text(textwrap.dedent(NAMESPACES) + CORRECT_TOTAL)
    seen = []
    with Worker("numpy", layers=("namespaces", "seccomp")) as first, first.sibling() as second:
        for worker in (first, second, second):
            case = {fn.name: fn for fn in grade_submission(spec, sub, worker=worker).functions}["scale"].cases[0]
            assert case.status == "passed", case.message
            seen.append(eval(case.stdout))
    assert [s["interfaces"] for s in seen] == [["lo"]] * 3
    assert seen[1]["net"] == seen[2]["net"] != seen[0]["net"]
    assert os.readlink("/proc/self/ns/net") not in {s["net"] for s in seen}


def test_a_zygote_that_cannot_map_its_user_namespace_says_so_in_one_line():
    """share_namespaces fails after the kernel made the namespace (its ids could not be mapped): the
    zygote stops with one line the grader shows, not a traceback."""
    import subprocess
    import sys
    script = textwrap.dedent("""
        import errno, socket, sys
        from grader.run import sandbox, zygote
        def refuse():
            raise PermissionError(errno.EPERM, "write to /proc/self/uid_map refused")
        sandbox.share_namespaces = refuse
        ours, theirs = socket.socketpair()
        zygote.main(["--control", str(theirs.fileno())])
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).parents[1])
    assert out.returncode == 1
    assert out.stderr == ("the worker could not set up its user namespace "
                          "([Errno 1] write to /proc/self/uid_map refused)\n")


def test_of_a_configuration_folder_only_what_every_user_may_read_is_allowed(tmp_path):
    """/etc's rules for a child: a folder readable by all is one rule; a file or a folder only its
    owner or group may read is left out, and so is a link (its target is allowed where it lies)."""
    root = tmp_path / "etc"
    (root / "fonts" / "conf.d").mkdir(parents=True)
    (root / "fonts" / "conf.d" / "a.conf").write_text("x")
    (root / "passwd").write_text("x")
    (root / "shadow").write_text("secret")
    (root / "ssl" / "private").mkdir(parents=True)
    (root / "ssl" / "private" / "key.pem").write_text("secret")
    (root / "ssl" / "certs").mkdir()
    (root / "ssl" / "openssl.cnf").write_text("x")
    (root / "link").symlink_to(root / "shadow")
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    (root / "shadow").chmod(0o640)
    (root / "ssl" / "private").chmod(0o710)

    allowed = sandbox.readable_by_all(str(root))

    assert sorted(allowed) == sorted(str(root / p) for p in ("fonts", "passwd", "ssl/certs", "ssl/openssl.cnf"))
    (root / "shadow").chmod(0o644)
    (root / "ssl" / "private").chmod(0o755)
    (root / "link").unlink()
    assert sandbox.readable_by_all(str(root)) == [str(root)]
    assert sandbox.readable_by_all(str(root), cap=3) != [str(root)]      # past the cap: not the whole folder

"""Running student code in the worker: every way a function can go wrong costs that case only.

A tiny numpy assignment keeps these fast (the worker imports numpy, not torch). The tests of what a
submission can do run with each worker (`each_worker`): the Linux zygote and the portable one.
"""
import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from grader.grade import grade_submission
from grader.run.worker import worker_kind
from grader.spec import load_spec

SPEC = """\
name: tiny
framework: numpy
modules: [tiny]
limits: {case_timeout: 1.5, import_timeout: 5, memory: 1GiB, skip_after_timeouts: %(skip)d}
functions:
  scale:
    dims: {N: [2, 5]}
    args:
      x: {kind: array, shape: [N], dist: uniform, low: -1, high: 1}
      k: {kind: scalar, dist: uniform, low: 1, high: 2}
    outputs: [{name: out, kind: array, shape: [N], dtype: float64}]
    points: 3
    checks: [no_input_mutation]
    cases: [{seed: 1}, {seed: 2}, {seed: 3}]
  total:
    dims: {N: [2, 5]}
    args:
      x: {kind: array, shape: [N], dist: uniform, low: -1, high: 1}
    outputs: [{name: s, kind: scalar}]
    points: 2
    cases: [{seed: 1}, {seed: 2}]
"""
REFERENCE = """\
import numpy as np

def scale(x, k):
    return k * x

def total(x):
    return x.sum()
"""


def make_assignment(tmp_path: Path, skip: int = 1):
    folder = tmp_path / "assignment"
    (folder / "ref").mkdir(parents=True)
    (folder / "assignment.yaml").write_text(SPEC % {"skip": skip})
    (folder / "hidden.yaml").write_text("reference: ref\n")
    (folder / "ref" / "tiny.py").write_text(REFERENCE)
    return load_spec(folder)


def grade(tmp_path, student: str, skip: int = 1, total: bool = False):
    """Grade `student` (dedented); total=True appends a correct `total` function."""
    spec = make_assignment(tmp_path, skip)
    sub = tmp_path / "student"
    sub.mkdir(exist_ok=True)
    (sub / "tiny.py").write_text(textwrap.dedent(student) + (CORRECT_TOTAL if total else ""))
    result = grade_submission(spec, sub)
    assert result.sandbox.startswith("portable:") == (worker_kind() == "portable"), result.sandbox   # the one asked for
    return {fn.name: fn for fn in result.functions}, result


CORRECT_TOTAL = "def total(x):\n    return float(sum(x))\n"


def correct_student(tmp_path):
    """The tiny assignment and a submission that is its reference."""
    spec = make_assignment(tmp_path)
    sub = tmp_path / "student"
    sub.mkdir()
    (sub / "tiny.py").write_text(REFERENCE)
    return spec, sub


@pytest.fixture(params=[True, False], ids=["pidfd", "no-pidfd"])
def pidfd(request, monkeypatch) -> bool:
    """Runs the test with the kernel's pidfds, and as on a kernel without them (Linux < 5.3)."""
    if not request.param:
        from grader.run import worker as worker_module
        monkeypatch.setattr(worker_module, "_pidfd", lambda pid: None)
    return request.param


def statuses(fn):
    return [c.status for c in fn.cases]


def test_correct_submission_gets_every_point(tmp_path):
    fns, result = grade(tmp_path, REFERENCE)
    assert result.earned == result.possible == 5
    assert result.all_passed


@pytest.mark.slow
@pytest.mark.usefixtures("each_worker")
def test_infinite_loop_ignoring_sigterm_costs_that_function_only(tmp_path):
    t0 = time.monotonic()
    fns, result = grade(tmp_path, """\
        import signal
        try:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        except PermissionError:          # the strong sandbox sets no handler; the portable mode lets it
            pass
        def scale(x, k):
            while True:
                pass
    """, total=True)
    assert statuses(fns["scale"]) == ["timeout"] * 3
    assert "did not finish within 1.5 s" in fns["scale"].cases[0].message
    assert "not run" in fns["scale"].cases[1].message           # skipped after the first timeout
    assert statuses(fns["total"]) == ["passed", "passed"]
    assert result.earned == 2
    assert time.monotonic() - t0 < 30                           # a hang would show here


@pytest.mark.slow
@pytest.mark.usefixtures("each_worker")
def test_a_child_flooding_its_result_pipe_still_times_out(tmp_path):
    """Frames written as fast as the worker can read them must not keep it from the time limit."""
    t0 = time.monotonic()
    fns, result = grade(tmp_path, """\
        import json, os, struct, sys
        def scale(x, k):
            frame = sys._getframe(1)
            while "out_fd" not in frame.f_locals:          # harness.run's result pipe
                frame = frame.f_back
            head = json.dumps({"type": "imported", "errors": {}, "stdout": "", "arrays": []}).encode()
            payload = struct.pack("<I", len(head)) + head
            block = (struct.pack("<I", len(payload)) + payload) * 4096
            while True:
                os.write(frame.f_locals["out_fd"], block)
    """, total=True)
    assert statuses(fns["scale"]) == ["timeout"] * 3
    assert statuses(fns["total"]) == ["passed", "passed"]
    assert time.monotonic() - t0 < 30


@pytest.mark.slow
@pytest.mark.usefixtures("each_worker")
def test_with_skipping_off_a_slow_case_times_out_and_the_next_cases_still_run(tmp_path):
    from grader.cases import make_case
    spec = make_assignment(tmp_path / "probe")
    fn = spec.function("scale")
    slow_x0 = float(make_case(spec, fn, fn.cases[0]).args["x"][0])     # only the first case is slow
    fns, _ = grade(tmp_path, f"""\
        import time
        def scale(x, k):
            if x[0] == {slow_x0!r}:
                time.sleep(60)
            return k * x
    """, skip=0, total=True)
    assert statuses(fns["scale"]) == ["timeout", "passed", "passed"]


@pytest.mark.slow
@pytest.mark.usefixtures("each_worker")
def test_a_submission_whose_cases_take_just_under_their_limit_stops_at_its_own_time_limit(tmp_path):
    """Each case may take 1.5 s; every call takes 1 s, so no case times out, but five of them would
    hold the worker for five seconds (350 cases just under 10 s, an hour). limits.submission_timeout
    (2.5 s here) stops the case running then and runs none after it."""
    spec = make_assignment(tmp_path)
    text = (spec.folder / "assignment.yaml").read_text().replace("skip_after_timeouts: 1", "skip_after_timeouts: 1, submission_timeout: 2.5")
    (spec.folder / "assignment.yaml").write_text(text)
    spec = load_spec(spec.folder)
    assert spec.limits.submission_timeout == 2.5
    sub = tmp_path / "student"
    sub.mkdir()
    (sub / "tiny.py").write_text("import time\n\ndef scale(x, k):\n    time.sleep(1.0)\n    return k * x\n\n"
                                 "def total(x):\n    time.sleep(1.0)\n    return float(sum(x))\n")
    t0 = time.monotonic()
    result = grade_submission(spec, sub)
    took = time.monotonic() - t0
    fns = {fn.name: fn for fn in result.functions}
    cases = fns["scale"].cases + fns["total"].cases
    assert [c.status for c in cases[:2]] == ["passed", "passed"], [(c.status, c.message) for c in cases]
    assert cases[2].status == "crashed" and cases[2].message.startswith(
        "scale: stopped: this submission's imports and cases had run for 2.5 s in all"), cases[2].message
    for c in cases[3:]:
        assert c.status == "crashed" and "not run: this submission's imports and cases before it had run for 2.5 s" \
            in c.message, c.message
    assert took < 30                     # not five calls of a second each, nor a time limit per case


@pytest.mark.slow
@pytest.mark.usefixtures("each_worker")
def test_crash_in_one_case_is_recorded_and_grading_goes_on(tmp_path):
    fns, result = grade(tmp_path, """\
        import ctypes, os
        def scale(x, k):
            if os.name == "nt":
                os.abort()                # ctypes turns Windows' access violation into an OSError
            ctypes.string_at(0)           # segfault
    """, total=True)
    assert statuses(fns["scale"]) == ["crashed"] * 3
    assert statuses(fns["total"]) == ["passed", "passed"]


@pytest.mark.slow
@pytest.mark.usefixtures("each_worker")
@pytest.mark.parametrize("body, status, words", [
    ("raise SystemExit(0)", "error", "SystemExit"),
    ("raise KeyboardInterrupt", "error", "KeyboardInterrupt"),
    ("import os; os._exit(0)", "crashed", "stopped the worker"),
    ("raise NotImplementedError", "not_implemented", "not implemented yet"),
    ("return [1.0, 2.0]", "failed", "expected a numpy.ndarray, got a list"),
    ("return None", "failed", "expected a numpy.ndarray, got None"),
    ("return (k * x, 1)", "failed", "returned tuple of length 2; expected 1 value (out)"),
    ("return (k * x)[:1]", "failed", "out: expected shape"),
    ("return (k * x).astype('float32')", "failed", "expected dtype float64, got float32"),
    ("import numpy as np; return np.full(len(x), np.nan)", "failed", "out is NaN at [0]"),
    ("x *= k; return x", "failed", "changed its input x in place"),
    pytest.param("bytearray(2 << 30); return k * x", "error", "MemoryError",
                 marks=pytest.mark.linux),             # the address-space limit: macOS does not enforce RLIMIT_AS
])
def test_each_way_a_call_can_go_wrong_is_reported_for_that_function(tmp_path, body, status, words):
    fns, result = grade(tmp_path, f"def scale(x, k):\n    {body}\n", total=True)
    case = fns["scale"].cases[0]
    assert case.status == status
    assert words in case.message
    assert statuses(fns["total"]) == ["passed", "passed"]
    assert result.earned == 2


@pytest.mark.slow
@pytest.mark.usefixtures("each_worker")
def test_outputs_larger_than_the_workers_reply_buffer_arrive_whole_and_in_order(tmp_path):
    """The worker holds a job's frames and sends them together, but not past a few MiB: 24 MB
    of wrong-shaped outputs come through, each case with its own, and the next function's too."""
    fns, result = grade(tmp_path, """\
        import numpy as np
        def scale(x, k):
            return np.full(1_000_000 + len(x), k)
    """, total=True)
    assert statuses(fns["scale"]) == ["failed"] * 3
    for case in fns["scale"].cases:
        assert f"got ({1_000_000 + case.dims['N']},)" in case.message, case.message
    assert statuses(fns["total"]) == ["passed", "passed"]


@pytest.mark.slow
@pytest.mark.usefixtures("each_worker")
def test_exception_points_at_the_students_line(tmp_path):
    fns, _ = grade(tmp_path, """\
        def scale(x, k):
            y = k * x
            return y[len(x) + 3]
    """, total=True)
    case = fns["scale"].cases[0]
    assert case.status == "error"
    assert case.message.startswith("scale raised IndexError: index")
    assert case.details.splitlines()[0] == "tiny.py, line 3, in scale: return y[len(x) + 3]"
    # advice about Python, not about one assignment's shapes: this one has no X or W
    assert case.details.splitlines()[1] == ("An index past the end: check loop bounds and indices against "
                                            "the shapes of the arrays they index.")


@pytest.mark.slow
@pytest.mark.usefixtures("each_worker")
def test_syntax_error_fails_every_function_with_file_and_line(tmp_path):
    fns, result = grade(tmp_path, "def scale(x, k)\n    return k * x\n")
    for fn in fns.values():
        assert statuses(fn) == ["error"] * len(fn.cases)
    case = fns["total"].cases[0]
    assert case.message.startswith("tiny.py could not be imported: SyntaxError")
    assert case.details.startswith("tiny.py, line 1: def scale(x, k)")
    assert result.earned == 0


ABSENT = "nosuch_plotting_pkg"        # a package no machine has


def test_a_top_level_import_of_a_package_not_installed_is_deferred_to_its_use(tmp_path, monkeypatch):
    """Pure, in this process: harness.compiled binds the names of a top-level import of an absent
    package to stand-ins; an import inside `try` (a fallback) is left to fail as it did."""
    import importlib.util

    import numpy as np

    from grader.run.harness import Absent, compiled
    assert importlib.util.find_spec(ABSENT) is None
    source = textwrap.dedent(f"""\
        import numpy as np, {ABSENT}.pyplot as plt
        from {ABSENT}.colors import Normalize as N, LogNorm
        import {ABSENT}.sub.deep
        try:
            import {ABSENT}
            fallback = False
        except ImportError:
            fallback = True

        def right(x):
            return np.sum(x)

        def plots(x):
            return plt.plot(x)
        """)
    ns: dict = {}
    exec(compiled(source, "m.py"), ns)
    assert ns["right"](np.ones(3)) == 3 and ns["fallback"] is True
    assert all(isinstance(ns[n], Absent) for n in ("plt", "N", "LogNorm", ABSENT)), ns
    with pytest.raises(ModuleNotFoundError, match=rf"No module named '{ABSENT}' \(imported at m.py, line 1, used here\)"):
        ns["plots"](1)
    for use in (lambda a: a.x, lambda a: a(), lambda a: a[0], lambda a: iter(a), lambda a: bool(a)):
        with pytest.raises(ModuleNotFoundError):
            use(ns["N"])
    plain = "import numpy as np\n"
    assert compiled(plain, "m.py").co_consts == compile(plain, "m.py", "exec").co_consts     # nothing absent: as it was
    # still imported when the statement runs: a folder the module put on sys.path above it
    (tmp_path / "late_mod_xyz.py").write_text("VALUE = 3\n")
    (tmp_path / "later" / "half_pkg_xyz").mkdir(parents=True)
    (tmp_path / "later" / "half_pkg_xyz" / "__init__.py").write_text(f"import {ABSENT}_dependency\n")
    monkeypatch.setattr(sys, "path", list(sys.path))
    ns = {}
    exec(compiled(f"import sys\nsys.path.insert(0, {str(tmp_path)!r})\nimport late_mod_xyz\nfrom late_mod_xyz import VALUE\n",
                  "m.py"), ns)
    assert ns["late_mod_xyz"].VALUE == ns["VALUE"] == 3
    with pytest.raises(ModuleNotFoundError, match=f"{ABSENT}_dependency"):     # there, but needing what is not
        exec(compiled(f"import sys\nsys.path.insert(0, {str(tmp_path / 'later')!r})\nimport half_pkg_xyz\n", "m.py"), {})


def test_a_star_import_of_a_package_not_installed_binds_nothing_and_fails_nothing():
    """A course notebook's first line, `from cs231n.classifiers.fc_net import *`, failed the whole
    import (a tenth students' round: right maths, 0/74): there are no names to give stand-ins, so
    none is bound, and a name used from it fails where it is used."""
    import numpy as np

    from grader.run.harness import compiled
    source = f"from {ABSENT}.classifiers.fc_net import *\nimport numpy as np\n\ndef right(x):\n    return np.sum(x)\n" \
             "\ndef uses(x):\n    return FullyConnectedNet(x)\n"
    ns: dict = {}
    exec(compiled(source, "m.py"), ns)
    assert ns["right"](np.ones(2)) == 2
    with pytest.raises(NameError, match="FullyConnectedNet"):
        ns["uses"](1)
    star = {}
    exec(compiled("from numpy import *\n", "m.py"), star)                 # a package that is there: as it was
    assert "zeros" in star


@pytest.mark.slow
def test_a_submission_importing_a_package_not_installed_is_graded_where_it_does_not_use_it(tmp_path):
    """A notebook's or a module's `import matplotlib.pyplot as plt` on a machine without it: the
    functions are graded; a use at the top level fails the import there, naming the line."""
    fns, result = grade(tmp_path / "a", f"import numpy as np\nimport {ABSENT}.pyplot as plt\n\ndef scale(x, k):\n"
                                  f"    return k * x\n\ndef show(x):\n    plt.plot(x)\n", total=True)
    assert result.earned == result.possible == 5, [c.message for c in result.cases()]
    fns, result = grade(tmp_path / "b", f"import numpy as np\nimport {ABSENT}.pyplot as plt\nplt.style.use('x')\n", total=True)
    case = fns["total"].cases[0]
    assert case.message == (f"tiny.py could not be imported: ModuleNotFoundError: No module named '{ABSENT}' "
                            "(imported at tiny.py, line 2, used here)"), case.message
    assert "tiny.py, line 3, in <module>: plt.style.use('x')" in case.details
    assert "importing it is harmless, using it fails" in case.details


@pytest.mark.slow
def test_an_import_that_runs_past_its_limit_says_where_top_level_work_belongs(tmp_path):
    """A training run at the top of the file: every case says the import timed out, and how to keep
    such code from running when the grader imports the file."""
    fns, result = grade(tmp_path, "import time\nfor epoch in range(100):\n    time.sleep(1)\n" + REFERENCE)
    case = fns["scale"].cases[0]
    assert case.status == "timeout" and case.message == "importing tiny.py did not finish within 5 s", case.message
    assert case.details.startswith("Code at the top level of a file runs when the grader imports it: put training runs"), \
        case.details


def test_a_scratch_folder_nested_thousands_deep_is_removed_without_recursion(tmp_path):
    """shutil.rmtree recurses once per level: a child's 1,500 nested folders made it raise
    RecursionError in the grader (the portable worker's scratch folder is the host's)."""
    from grader.run.supervise import remove_tree
    chain = [tmp_path / "scratch"]
    chain[0].mkdir()
    for _ in range(1500):
        chain.append(chain[-1] / "d")
        chain[-1].mkdir()
        (chain[-1] / "f.txt").write_text("x")
    try:
        remove_tree(str(chain[0]))
        assert not chain[0].exists()
    finally:                             # whatever is left, bottom up: pytest's own rmtree of tmp_path recurses too
        for folder in reversed(chain):
            if folder.exists():
                (folder / "f.txt").unlink(missing_ok=True)
                folder.rmdir()


@pytest.mark.slow
@pytest.mark.usefixtures("each_worker")
def test_folders_a_child_nests_thousands_deep_in_its_scratch_folder_cost_nothing(tmp_path):
    fns, result = grade(tmp_path, "import os\nhere = os.getcwd()\nfor _ in range(1500):\n"
                                  "    here = os.path.join(here, 'd')\n    os.mkdir(here)\n" + REFERENCE)
    assert result.earned == result.possible == 5, [c.message for c in result.cases()]


@pytest.mark.slow
@pytest.mark.usefixtures("each_worker")
def test_missing_function_and_missing_module(tmp_path):
    fns, _ = grade(tmp_path, "", total=True)
    assert fns["scale"].cases[0].message == "scale is not defined in tiny.py"
    assert statuses(fns["total"]) == ["passed", "passed"]
    spec = make_assignment(tmp_path / "other")
    empty = tmp_path / "empty"
    empty.mkdir()
    result = grade_submission(spec, empty)
    assert result.cases()[0].message == "tiny.py not found in the submission"
    # a file of that name that is no module: said so, not "not found"
    os.mkfifo(empty / "tiny.py")
    message = grade_submission(spec, empty).cases()[0].message
    assert message.startswith("tiny.py is not a regular file (a folder, a named pipe or a device?)"), message
    (empty / "tiny.py").unlink()
    (empty / "tiny.py").mkdir()
    message = grade_submission(spec, empty).cases()[0].message
    assert message.startswith("tiny.py is not a regular file"), message


@pytest.mark.slow
@pytest.mark.usefixtures("each_worker")
def test_exit_at_import_fails_everything_without_crashing_the_grader(tmp_path):
    fns, result = grade(tmp_path, "import os\nos._exit(3)\n" + REFERENCE)
    assert {c.status for c in result.cases()} == {"crashed"}
    assert "importing tiny.py stopped the worker" in result.cases()[0].message


@pytest.mark.slow
@pytest.mark.usefixtures("each_worker")
def test_printed_output_is_captured_per_case_and_capped(tmp_path):
    fns, result = grade(tmp_path, """\
        print("hello from import")
        def scale(x, k):
            print("scaling", len(x))
            return k * x
        def total(x):
            print("y" * 100_000)
            return float(sum(x))
    """)
    assert result.stdout == "hello from import\n"
    assert fns["scale"].cases[0].stdout.startswith("scaling ")
    assert statuses(fns["scale"]) == ["passed"] * 3
    out = fns["total"].cases[0].stdout
    assert len(out) < 10_000 and "more bytes of output not shown" in out


def test_what_a_dead_child_printed_is_read_from_its_last_answer_up_to_its_tail(tmp_path):
    from grader.run.supervise import _printed_after
    path = tmp_path / "output.txt"
    path.write_bytes(b"answered\n" + b"".join(b"line %d\n" % i for i in range(3000)) + b"\x1b[2Jlast\n")
    shown = _printed_after(str(path), len(b"answered\n"))
    head, *lines = shown.splitlines()
    assert head.startswith("[... ") and head.endswith(" earlier bytes of output not shown]")
    assert lines[0].startswith("line ") and lines[-1] == "last" and len(shown) < 9000     # whole lines, cleaned
    assert _printed_after(str(path), 0).endswith("line 2999\nlast\n")
    assert _printed_after(str(path), 10 ** 30) == _printed_after(str(path), 1 << 62) == ""     # forged: nothing
    assert _printed_after(str(path), path.stat().st_size) == _printed_after(str(tmp_path / "gone"), 0) == ""
    path.write_bytes(b"short\n")
    assert _printed_after(str(path), 0) == "short\n"


@pytest.mark.slow
@pytest.mark.usefixtures("each_worker")
def test_what_a_call_printed_before_it_timed_out_or_crashed_is_shown(tmp_path):
    """The lines of a call that never returned are read from its capture file once it is dead:
    an infinite loop's progress, the last words before os._exit."""
    fns, result = grade(tmp_path, """\
        import os, stat, time
        from grader.run import protocol
        def scale(x, k):
            if len(x) == 3:
                print("about to leave")
                os._exit(1)
            # a forged frame moving where the grader reads from past any file: nothing to read, no crash
            for fd in map(int, os.listdir("/proc/self/fd")):    # its frame channel, whichever pipe it is
                try:
                    if stat.S_ISFIFO(os.fstat(fd).st_mode):
                        os.write(fd, protocol.encode({"type": "step", "index": -1, "step": 0, "out_at": 10 ** 30}))
                except OSError:
                    pass
            print("looping on", len(x), end="")                 # no newline: unbuffered, it is there
            while True:
                time.sleep(0.01)
        def total(x):
            print("printed by a call that returned")
            return float(sum(x))
    """)
    first = fns["scale"].cases[0]
    assert first.status in ("timeout", "crashed")
    said = {c.status: c.stdout for c in fns["scale"].cases if c.stdout}
    assert said.get("timeout", "").startswith("looping on ") or said.get("crashed") == "about to leave\n", said
    assert all(c.stdout == "printed by a call that returned\n" for c in fns["total"].cases)
    (tmp_path / "hangs").mkdir()
    fns, result = grade(tmp_path / "hangs", "print('importing, then hanging')\nimport time\nwhile True:\n    time.sleep(0.01)\n")
    cases = result.cases()
    assert cases[0].status == "timeout" and cases[0].stdout == "importing, then hanging\n"
    assert all(c.stdout == "" for c in cases[1:])


@pytest.mark.slow
@pytest.mark.usefixtures("each_worker")
def test_student_cannot_see_the_graders_environment_or_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_SECRET_TOKEN", "s3cret")
    fns, _ = grade(tmp_path, """\
        import os
        def scale(x, k):
            assert "GRADER_SECRET_TOKEN" not in os.environ, "env leaked"
            assert os.listdir(".") == [], "cwd not empty: %r" % os.listdir(".")
            return k * x
    """, total=True)
    assert statuses(fns["scale"]) == ["passed"] * 3, fns["scale"].cases[0].message


@pytest.mark.slow
@pytest.mark.usefixtures("each_worker")
def test_numpy_assignment_never_imports_torch(tmp_path):
    """torch is an optional extra: neither the grader nor the worker loads it for a numpy assignment."""
    import subprocess
    import sys
    make_assignment(tmp_path)
    sub = tmp_path / "student"
    sub.mkdir()
    (sub / "tiny.py").write_text(
        "import sys\n"
        "def scale(x, k):\n"
        "    assert 'torch' not in sys.modules, 'the worker imported torch'\n"
        "    return k * x\n" + CORRECT_TOTAL)
    code = ("import sys; from pathlib import Path; from grader.spec import load_spec; "
            "from grader.grade import grade_submission; "
            f"r = grade_submission(load_spec({str(tmp_path / 'assignment')!r}), Path({str(sub)!r})); "
            "print(r.earned, r.possible, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["5.0", "5.0", "False"]


@pytest.mark.slow
@pytest.mark.usefixtures("each_worker")
def test_assignment_spanning_two_modules(tmp_path):
    folder = tmp_path / "two"
    (folder / "ref").mkdir(parents=True)
    spec_text = (SPEC % {"skip": 1}).replace("modules: [tiny]", "modules: [scaling, sums]")
    spec_text = spec_text.replace("  scale:\n", "  scale:\n    module: scaling\n").replace("  total:\n", "  total:\n    module: sums\n")
    (folder / "assignment.yaml").write_text(spec_text)
    (folder / "hidden.yaml").write_text("reference: ref\n")
    (folder / "ref" / "scaling.py").write_text("def scale(x, k):\n    return k * x\n")
    (folder / "ref" / "sums.py").write_text("from scaling import scale\n\ndef total(x):\n    return float(scale(x, 1.0).sum())\n")
    sub = tmp_path / "student"
    sub.mkdir()
    (sub / "scaling.py").write_text("def scale(x, k):\n    return k * x\n")
    (sub / "sums.py").write_text("from scaling import scale   # students' modules may import each other\n"
                                 "def total(x):\n    return float(scale(x, 2.0).sum()) / 2\n")
    from grader.spec import load_spec
    result = grade_submission(load_spec(folder), sub)
    assert result.earned == result.possible == 5
    (sub / "sums.py").unlink()
    result = grade_submission(load_spec(folder), sub)
    fns = {fn.name: fn for fn in result.functions}
    assert statuses(fns["scale"]) == ["passed"] * 3
    assert fns["total"].cases[0].message == "sums.py not found in the submission"


@pytest.mark.slow
@pytest.mark.usefixtures("each_worker")
@pytest.mark.linux                     # the pipe is found through /proc/self/fd
def test_forged_reports_on_the_result_pipe_earn_nothing_and_crash_nothing(tmp_path):
    """The child's result pipe is reachable from student code; whatever it writes there is only data."""
    fns, result = grade(tmp_path, """\
        import json, os, struct

        def forge(header):
            head = json.dumps({**header, "arrays": []}).encode()
            payload = struct.pack("<I", len(head)) + head
            for fd in map(int, os.listdir("/proc/self/fd")):
                try:
                    if os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
                        os.write(fd, struct.pack("<I", len(payload)) + payload)
                except OSError:
                    pass

        def scale(x, k):
            forge({"type": "result", "index": 0, "status": "returned", "values": "garbage", "duration": "x"})
            forge({"type": "job_done"})
            return k * x
    """, total=True)
    assert not any(c.passed for c in fns["scale"].cases)
    assert statuses(fns["total"]) == ["passed", "passed"]
    assert result.earned == 2


@pytest.mark.slow
@pytest.mark.usefixtures("each_worker")
def test_one_worker_reuses_a_batchs_inputs_and_never_stale_ones(tmp_path):
    """A batch sends its inputs once per worker; a student who changes them in place changes only
    their own copies, and a job with other inputs gets those, not the held ones."""
    from grader.grade import Prepared
    from grader.run.worker import start_worker
    spec = make_assignment(tmp_path)
    (spec.folder / "hidden.yaml").write_text("reference: ref\nfunctions:\n  scale: [{seed: 7}, {seed: 8}]\n")
    spec = load_spec(spec.folder)
    folders = {}
    for name, body in {"correct": REFERENCE, "mutates": "def scale(x, k):\n    x *= k\n    return x\n" + CORRECT_TOTAL}.items():
        folders[name] = tmp_path / name
        folders[name].mkdir()
        (folders[name] / "tiny.py").write_text(body)
    public, hidden = Prepared(spec, hidden=False), Prepared(spec, hidden=True)
    with start_worker("numpy") as worker:
        seq = [("correct", public), ("mutates", public), ("correct", public), ("correct", hidden), ("correct", public)]
        results = [grade_submission(spec, folders[who], hidden=prep.hidden, worker=worker, prepared=prep)
                   for who, prep in seq]
    assert [r.earned for r in results] == [5, 2, 5, 5, 5]
    assert [len(r.cases()) for r in results] == [5, 5, 5, 7, 5]
    assert all(r.all_passed for r in results if r is not results[1])
    mutated = results[1].functions[0].cases
    assert all(c.status == "failed" and "changed its input x in place" in c.message for c in mutated)


@pytest.mark.linux
def test_a_batchs_calls_go_to_the_zygote_once_and_later_job_files_carry_only_the_rest(tmp_path, monkeypatch):
    """The second job with the same calls loads them (and their inputs) into the zygote; from then on
    a job's file holds no calls and no arrays, and the children still grade every case."""
    from grader.grade import Prepared
    from grader.run import protocol
    from grader.run.worker import Worker
    spec = make_assignment(tmp_path)
    folder = tmp_path / "ada"
    folder.mkdir()
    (folder / "tiny.py").write_text(REFERENCE)
    prepared = Prepared(spec, hidden=False)
    frames, encode = [], protocol.encode

    def spy(header, arrays=()):
        if header.get("type") == "job" or "calls" in header:
            frames.append(("calls" in header, len(arrays)))
        return encode(header, arrays)

    monkeypatch.setattr(protocol, "encode", spy)
    with Worker("numpy") as worker:
        results = [grade_submission(spec, folder, worker=worker, prepared=prepared) for _ in range(3)]
    assert [r.earned for r in results] == [5, 5, 5] and all(r.all_passed for r in results)
    arrays = len(prepared.inputs)
    assert arrays > 0
    # job 1 whole; the load (calls and arrays, no job type); jobs 2 and 3 without either
    assert frames == [(True, arrays), (True, arrays), (False, 0), (False, 0)]


@pytest.mark.slow
@pytest.mark.linux
def test_zygote_backs_its_heap_with_huge_pages_where_the_kernel_can(tmp_path):
    """The batch speed-up behind fork(): after huge_pages() the worker's heap is in 2 MiB pages."""
    import subprocess
    import sys
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if not thp.exists() or "[never]" in thp.read_text():
        pytest.skip("transparent huge pages are off on this machine")
    code = ("import numpy; from grader.run.zygote import huge_pages\n"
            "heap = [bytes(100) * (i % 7 + 1) for i in range(200000)]\n"    # some 40 MB of small objects
            "before = [l for l in open('/proc/self/smaps_rollup') if l.startswith('AnonHugePages')]\n"
            "n = huge_pages()\n"
            "after = [l for l in open('/proc/self/smaps_rollup') if l.startswith('AnonHugePages')]\n"
            "print(n, before[0].split()[1], after[0].split()[1])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    collapsed_mib, before_kib, after_kib = map(int, out)
    assert collapsed_mib >= 20
    assert after_kib - before_kib >= collapsed_mib * 1024 // 2


@pytest.mark.slow
@pytest.mark.linux
def test_worker_times_each_case_whether_or_not_the_kernel_has_pidfds(tmp_path, pidfd):
    """The worker looks at a running child's frames now and then (pidfd) or at each frame (older
    kernels): either way a slow case times out on its own and every other case comes back, in order."""
    from grader.cases import make_case
    from grader.grade import Prepared
    from grader.run.job import build_job
    from grader.run import worker as worker_module
    spec = make_assignment(tmp_path, skip=0)
    fn = spec.function("scale")
    slow_x0 = float(make_case(spec, fn, fn.cases[1]).args["x"][0])      # the second case hangs
    sub = tmp_path / "student"
    sub.mkdir()
    (sub / "tiny.py").write_text(f"import time\ndef scale(x, k):\n    if x[0] == {slow_x0!r}:\n"
                                 f"        time.sleep(60)\n    return k * x\n" + CORRECT_TOTAL)
    prepared = Prepared(spec, hidden=False)
    job = build_job(spec, prepared.calls, {"tiny": str(sub / "tiny.py")}, sub)
    with worker_module.Worker(spec.framework) as worker:
        worker.run(job, prepared.inputs)           # the zygote's start-up is not the case's time
        t0 = time.monotonic()
        reply = worker.run(job, prepared.inputs)
        elapsed = time.monotonic() - t0
    results = [(i, reply.results[i][0]["status"]) for i in sorted(reply.results)]
    assert results == [(0, "returned"), (1, "timeout"), (2, "returned"), (3, "returned"), (4, "returned")]
    assert reply.sandbox
    assert 1.5 <= elapsed < 1.5 + 5            # the limit, and the start-up of a second child; not 60 s


@pytest.mark.linux                     # the zygote's pipes: F_SETPIPE_SZ, non-blocking reads
def test_the_worker_reads_a_childs_pipe_in_bounded_helpings():
    """Each look reads at most `most` bytes, and says whether more is waiting, closed or open."""
    import os
    from grader.run import worker
    r, w = os.pipe()
    try:
        worker._enlarge(r)
        os.set_blocking(r, False)
        os.write(w, b"x" * (300 << 10))
        data, state = worker._drain(r, most=100 << 10)
        assert state == "more" and len(data) == 100 << 10
        rest, state = worker._drain(r)
        assert state == "open" and len(data) + len(rest) == 300 << 10
        os.close(w)
        w = -1
        assert worker._drain(r) == (b"", "closed")
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


@pytest.mark.slow
@pytest.mark.linux                     # the zygote's; test_portable closes the portable worker
def test_closing_a_worker_ends_its_process_cleanly_and_leaves_no_job_folder(tmp_path, monkeypatch):
    """The zygote exits at once when the grader closes its control socket (no interpreter teardown), with
    status 0 and nothing left in its temporary folder."""
    import tempfile
    from grader.run.worker import Worker
    spec, sub = correct_student(tmp_path)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))                 # the temporary folder, here and in any child
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    worker = Worker("numpy")
    assert grade_submission(spec, sub, worker=worker).all_passed
    worker.close()
    assert worker._proc.returncode == 0
    assert list(scratch.iterdir()) == []


@pytest.mark.slow
@pytest.mark.usefixtures("each_worker")
def test_an_answer_too_large_to_send_back_says_so_and_costs_that_function_only(tmp_path):
    fns, result = grade(tmp_path, "import numpy as np\ndef scale(x, k):\n    return np.zeros(20_000_000)\n", total=True)
    assert statuses(fns["scale"]) == ["failed"] * 3
    assert fns["scale"].cases[0].message == ("scale returned 153 MiB (float64 array of shape (20000000,)): more than "
                                             "the 128 MiB an answer may take; expected out, of the sizes in the assignment")
    assert statuses(fns["total"]) == ["passed"] * 2


# supervise.run_job with children that send what a test says: a forged stream, without a worker.

class ScriptedChild:
    """A child as supervise.run_job watches it, sending `chunks` of bytes, one per look, then ending."""

    wakes_on_frames = True

    def __init__(self, chunks):
        self.chunks = list(chunks)
        self.killed = False

    def look(self, timeout):
        return (self.chunks.pop(0), False) if self.chunks else (b"", True)

    def kill(self):
        self.killed = True


def run_scripted(tmp_path, n_calls: int, children: dict):
    """supervise.run_job over `n_calls` cases of `scale`, the child started at case `start` sending
    `children[start]`; the results delivered ({index: header}) and the children started."""
    from grader.run import supervise
    job = {"job": 1, "calls": [{"function": "scale"} for _ in range(n_calls)],
           "limits": {"case_timeout": 60, "import_timeout": 60, "skip_after_timeouts": 0, "disk": 1 << 30}}
    results, started = {}, []

    def deliver(header, arrays):
        if header.get("type") == "result":
            assert header["index"] not in results
            results[header["index"]] = header

    def start_child(job, inputs, start, skip, scratch, capture_path):
        started.append(ScriptedChild(children[start]))
        return started[-1]

    supervise.run_job(job, [], deliver, start_child, {}, measure=False, root=str(tmp_path))
    assert all(child.killed for child in started)
    return results, started


def imported_frame() -> bytes:
    from grader.run.protocol import encode
    return encode({"type": "imported", "errors": {}, "stdout": ""})


def result_frame(index: int, size: int = 8) -> bytes:
    """A returned result whose one output is `size` bytes of float64."""
    import numpy as np
    from grader.run.protocol import encode
    return encode({"type": "result", "index": index, "status": "returned", "values": [{"kind": "ndarray",
                   "type": "numpy.ndarray", "array": 0}], "via": [None], "stdout": ""}, [np.zeros(size // 8)])


def done_frame() -> bytes:
    from grader.run.protocol import encode
    return encode({"type": "done"})


def limit_message(header: dict) -> str:
    error = header.get("error") or {}
    return error.get("message", "") if error.get("kind") == "limit" else ""


def test_a_frame_whose_header_is_over_the_cap_is_that_cases_crash_and_the_job_goes_on(tmp_path):
    """A child says its frame's header is 200 MB: the grader stops it at those first bytes (it neither
    waits for nor holds the rest), that case says why, and a fresh child runs the next."""
    import struct
    forged = struct.pack("<II", 200_000_004, 200_000_000) + b'{"junk":[0,0,0,0'
    results, started = run_scripted(tmp_path, 3, {
        0: [imported_frame() + result_frame(0) + forged],
        2: [imported_frame() + result_frame(2) + done_frame()]})
    assert [results[i]["status"] for i in range(3)] == ["returned", "crashed", "returned"]
    assert limit_message(results[1]) == ("it sent back an answer described in 200,000,000 bytes (its structure and "
                                         "strings, besides its arrays), more than the 4 MiB the grader reads, and "
                                         "was stopped")
    assert len(started) == 2


def test_a_jobs_children_may_send_back_so_much_in_all_then_the_rest_is_not_run(tmp_path, monkeypatch):
    """The cap is on the job, over all its children: here each child sends less than it, the two of
    them more. The results received before it are kept; the case that went past it says so, and
    the cases after it are not run (no third child), each saying why."""
    from grader.run import supervise
    monkeypatch.setattr(supervise, "REPLY_CAP", 1 << 20)
    answer = 300_000                                   # bytes of each case's output: four go past 1 MiB
    results, started = run_scripted(tmp_path, 7, {
        0: [imported_frame(), result_frame(0, answer), result_frame(1, answer)],      # then dies on case 2
        3: [imported_frame() + result_frame(3, answer) + result_frame(4, answer) + result_frame(5, answer)
            + result_frame(6, answer) + done_frame()]})                          # all at once, as a zygote's child
    assert [results[i]["status"] for i in range(7)] == ["returned", "returned", "crashed", "returned",
                                                        "crashed", "crashed", "crashed"]
    assert limit_message(results[2]) == ""             # its own crash
    assert limit_message(results[4]) == ("it sent back more than 1 MiB in all (this submission's answers, over "
                                         "all its cases, as the grader holds them) and was stopped")
    assert limit_message(results[5]) == limit_message(results[6]) == (
        "not run: the cases before it sent back more than 1 MiB in all, the most the grader holds of one "
        "submission's answers")
    assert len(started) == 2


def test_the_headers_a_job_keeps_count_against_its_cap_at_what_they_take_in_memory(tmp_path, monkeypatch):
    """Results with no arrays but large headers (JSON that parses into 20-32 times its bytes of Python
    objects) reach the cap too: the bytes sent are not all the grader holds."""
    from grader.run import protocol, supervise
    monkeypatch.setattr(supervise, "REPLY_CAP", 1 << 20)
    junk = [[]] * 5000                                 # 15 kB of JSON, some 300 kB of Python lists
    frames = [protocol.encode({"type": "result", "index": i, "status": "returned", "junk": junk}) for i in range(6)]
    results, _ = run_scripted(tmp_path, 6, {0: [imported_frame(), *frames, done_frame()]})
    assert sum(len(f) for f in frames) < 1 << 17       # an eighth of the cap, as bytes
    # each result counts 33 times its 15 kB header: two fit in 1 MiB, the third does not
    assert [results[i]["status"] for i in range(6)] == ["returned"] * 2 + ["crashed"] * 4
    assert limit_message(results[2]).startswith("it sent back more than 1 MiB in all")
    assert limit_message(results[5]).startswith("not run: ")


@pytest.mark.parametrize("index", ["1e400", "-1e400", "Infinity", "NaN", "0.0", '"0"', "true"])
def test_a_result_naming_its_case_by_anything_but_an_integer_is_that_cases_crash(tmp_path, index):
    """A forged index (1e400 parses as inf, and int(inf) raises OverflowError) is the child's crash on
    the case it was on, never the grader's; the next child runs the next case."""
    head = ('{"type":"result","index":' + index + ',"status":"returned","values":[],"arrays":[]}').encode()
    import struct
    forged = struct.pack("<II", 4 + len(head), len(head)) + head
    results, started = run_scripted(tmp_path, 2, {
        0: [imported_frame() + forged],
        1: [imported_frame() + result_frame(1) + done_frame()]})
    assert [results[i]["status"] for i in range(2)] == ["crashed", "returned"]
    assert len(started) == 2


@pytest.mark.slow
@pytest.mark.usefixtures("each_worker")
def test_a_submission_sending_back_more_than_the_cap_in_all_is_stopped_and_told_so(tmp_path, monkeypatch):
    """Every answer under the cap of one call, but together over the job's (here made 1 MiB): the
    case that went past it and the cases after it say so in the report; the ones before are judged."""
    from grader.run import supervise
    monkeypatch.setattr(supervise, "REPLY_CAP", 1 << 20)
    fns, result = grade(tmp_path, "import numpy as np\ndef scale(x, k):\n    return np.zeros(60_000)\n", total=True)
    assert statuses(fns["scale"]) == ["failed", "failed", "crashed"]            # 480 kB each
    assert fns["scale"].cases[2].message == ("scale: it sent back more than 1 MiB in all (this submission's answers, "
                                             "over all its cases, as the grader holds them) and was stopped")
    assert statuses(fns["total"]) == ["crashed", "crashed"]
    assert fns["total"].cases[0].message == ("total: not run: the cases before it sent back more than 1 MiB in all, "
                                             "the most the grader holds of one submission's answers")


@pytest.mark.slow
@pytest.mark.usefixtures("each_worker")
def test_a_forged_frame_with_a_huge_header_costs_that_case_only(tmp_path):
    """Student code writes into its result pipe a frame that says its header is 200 MB."""
    fns, result = grade(tmp_path, """\
        import os, struct, sys
        def scale(x, k):
            frame = sys._getframe(1)
            while "out_fd" not in frame.f_locals:          # harness.run's result pipe
                frame = frame.f_back
            os.write(frame.f_locals["out_fd"], struct.pack("<II", 200_000_004, 200_000_000) + b'{"junk":[0,0')
            return k * x
    """, total=True)
    assert statuses(fns["scale"]) == ["crashed"] * 3
    assert fns["scale"].cases[0].message.startswith("scale: it sent back an answer described in 200,000,000 bytes")
    assert statuses(fns["total"]) == ["passed", "passed"]
    assert result.earned == 2


@pytest.mark.slow
@pytest.mark.linux                     # the zygote's
def test_a_sibling_worker_is_forked_from_the_first_grades_on_its_own_and_outlives_it(tmp_path):
    """start_workers forks the second worker's zygote from the first's (torch imported once): a
    process of its own, not a child of the grader, which grades alone once the first is closed and
    ends, its folder gone, when closed itself."""
    from grader.run.worker import Worker, _Forked, start_workers
    spec, sub = correct_student(tmp_path)
    first, second = start_workers("numpy", 2)
    try:
        assert isinstance(first, Worker) and isinstance(second, Worker)
        assert isinstance(second._proc, _Forked) and not isinstance(first._proc, _Forked)
        assert grade_submission(spec, sub, worker=second).all_passed
        assert grade_submission(spec, sub, worker=first).all_passed
        pid = second._proc.pid
        assert pid not in (None, first._proc.pid, os.getpid())
        with open(f"/proc/{pid}/stat") as f:
            assert int(f.read().rsplit(")", 1)[1].split()[1]) != os.getpid()     # its parent is not the grader
        first.close()
        assert grade_submission(spec, sub, worker=second).all_passed
        jobs = Path(second._jobs_dir)
    finally:
        first.close()
        second.close()
    assert second._proc.poll() is not None
    assert not os.path.exists(f"/proc/{pid}/cmdline") or open(f"/proc/{pid}/cmdline").read() == ""
    assert not jobs.exists()


@pytest.mark.slow
@pytest.mark.linux
def test_a_sibling_worker_shares_the_first_ones_torch_heap_after_both_have_run_jobs(tmp_path):
    """The memory half of importing torch once: after each worker has forked children (the second
    fork is where a zygote backs its heap with huge pages), the sibling's copy of torch's heap is
    still the first zygote's pages, not a private copy of its own."""
    pytest.importorskip("torch")
    from grader.run.worker import start_workers
    spec, sub = correct_student(tmp_path)

    def memory(pid: int) -> dict:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            rows = [line.split() for line in f if line.split()[0] in ("Private_Dirty:", "Shared_Dirty:", "AnonHugePages:")]
        return {row[0][:-1]: int(row[1]) >> 10 for row in rows}       # MiB

    first, second = start_workers("torch", 2)
    try:
        for _ in range(3):
            assert grade_submission(spec, sub, worker=first).all_passed
            assert grade_submission(spec, sub, worker=second).all_passed
        mine, theirs = memory(first._proc.pid), memory(second._proc.pid)
    finally:
        second.close()
        first.close()
    if mine["AnonHugePages"] < 20:
        pytest.skip("the kernel collapsed no huge pages here (MADV_COLLAPSE is Linux 6.1+): nothing to share or copy")
    assert theirs["Shared_Dirty"] >= 50, theirs
    assert theirs["Private_Dirty"] < 20, theirs        # 120 MiB when the sibling collapsed its own copy


@pytest.mark.slow
@pytest.mark.linux
def test_a_worker_launched_before_the_spec_is_read_grades_once_told_its_framework(tmp_path):
    """launch_worker starts a zygote that waits for its framework (`grader check` starts it before it
    reads the spec). Nothing runs on it, and no sibling is forked from it, before it is told; once told,
    it grades, its siblings grade, and a restart after its zygote died starts with that framework."""
    from grader.run.worker import Worker, WorkerError, launch_worker
    spec, sub = correct_student(tmp_path)
    worker = launch_worker("zygote")
    try:
        assert isinstance(worker, Worker)
        with pytest.raises(WorkerError, match="framework"):
            worker.run({"calls": []}, [])
        with pytest.raises(WorkerError, match="framework"):
            worker.sibling()
        worker.tell("numpy")
        with pytest.raises(WorkerError, match="given already"):
            worker.tell("torch")
        assert "later" not in worker._args
        with worker.sibling() as second:
            assert grade_submission(spec, sub, worker=second).all_passed
        assert grade_submission(spec, sub, worker=worker).all_passed
        worker._proc.kill()
        worker._proc.wait(timeout=10)
        assert grade_submission(spec, sub, worker=worker).all_passed       # a fresh zygote, no longer waiting
    finally:
        worker.close()


@pytest.mark.slow
@pytest.mark.linux
def test_a_worker_never_told_its_framework_ends_and_removes_its_folder(tmp_path):
    """A command that stops before it knows the framework (a spec that does not load, a grader killed)
    leaves no zygote waiting, nor its folder."""
    from grader.run.worker import launch_worker
    worker = launch_worker("zygote")
    try:
        folder = Path(worker._jobs_dir)
        assert folder.is_dir()
        worker._control.close()                                  # as the kernel does when the grader dies
        assert worker._proc.wait(timeout=30) == 0
        assert not folder.exists()
    finally:
        worker.close()


def test_the_command_line_starts_its_worker_before_it_imports_numpy():
    """`grader check` and `grader grade` start the zygote first thing: the command line and the worker
    module import nothing heavy (numpy comes with the spec and the job), so the zygote's own start-up
    runs beside theirs."""
    import subprocess
    code = "import sys, grader.cli, grader.run.worker; print(sorted(m for m in ('numpy', 'yaml', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.slow
@pytest.mark.linux
def test_a_sibling_whose_zygote_is_gone_or_dies_gets_a_zygote_of_its_own(tmp_path, pidfd):
    """Asked of a closed worker, a sibling starts its own zygote. One killed between jobs says that the
    worker exited (its code is not this process's to read), and the next job gets a fresh zygote; with
    pidfds or without (a zombie that its zygote has not reaped yet counts as ended)."""
    import signal
    from grader.run.worker import Worker, WorkerError, _Forked
    spec, sub = correct_student(tmp_path)
    first = Worker("numpy")
    first.close()
    with first.sibling() as alone:
        assert not isinstance(alone._proc, _Forked)
        assert grade_submission(spec, sub, worker=alone).all_passed
    first = Worker("numpy")
    second = first.sibling()                 # asked; then its zygote is killed before it can fork one
    first._proc.kill()
    first._proc.wait()
    with second:
        assert grade_submission(spec, sub, worker=second).all_passed            # on a zygote of its own
        assert not isinstance(second._proc, _Forked)
    first.close()
    with Worker("numpy") as first, first.sibling() as second:
        assert grade_submission(spec, sub, worker=second).all_passed
        os.kill(second._proc.pid, signal.SIGKILL)
        second._proc.wait(timeout=10)
        with pytest.raises(WorkerError, match=r"^the worker process exited($|:)"):
            second._ask({"do": "load"})
        assert grade_submission(spec, sub, worker=second).all_passed     # a new zygote
        assert not isinstance(second._proc, _Forked)


@pytest.mark.slow
@pytest.mark.linux
def test_workers_closed_as_a_batch_closes_them_leave_no_process_not_even_a_zombie(tmp_path, monkeypatch, pidfd):
    """A batch closes the workers forked from the first before it; the first's zygote then reaps them,
    so nothing is left for an init that reaps nobody (a container's). At once, with pidfds or without."""
    from grader.batch.grade import _close
    from grader.run import worker as worker_module
    from grader.run.worker import start_workers
    spec, sub = correct_student(tmp_path)
    workers = start_workers("numpy", 3)
    for worker in workers:
        assert grade_submission(spec, sub, worker=worker).all_passed
    pids = [w._proc.pid for w in workers]
    killed = []
    monkeypatch.setattr(worker_module._Forked, "kill", lambda self: killed.append(self.pid))
    _close(workers)
    assert killed == []                                    # each seen to end, none waited for until a time-out
    assert [os.path.exists(f"/proc/{pid}") for pid in pids] == [False] * 3


@pytest.mark.slow
@pytest.mark.usefixtures("each_worker")
def test_bytecode_beside_the_source_is_never_what_runs(tmp_path):
    """A __pycache__ .pyc compiled from other code (unchecked-hash: Python runs it without reading the
    source), for the module or a helper, and a helper shipped as bytecode only: the source is graded."""
    import py_compile
    spec = make_assignment(tmp_path)
    sub = tmp_path / "student"
    (sub / "__pycache__").mkdir(parents=True)
    right = tmp_path / "right"
    right.mkdir()

    def shadow(name: str, wrong: str, good: str, beside: bool = True) -> None:
        (right / f"{name}.py").write_text(good)
        target = sub / "__pycache__" / f"{name}.{sys.implementation.cache_tag}.pyc" if beside else sub / f"{name}.pyc"
        py_compile.compile(str(right / f"{name}.py"), cfile=str(target), doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        if wrong is not None:
            (sub / f"{name}.py").write_text(wrong)
    shadow("tiny", "from helpers import twice\nfrom extra import one\n\ndef scale(x, k):\n    return twice(x) * one()\n\n"
                   "def total(x):\n    return float(sum(x))\n", REFERENCE)
    shadow("helpers", "def twice(x):\n    return 2 * x\n", "def twice(x):\n    return x\n")
    shadow("extra", None, "def one():\n    return 1.0\n", beside=False)             # no source at all
    message = grade_submission(spec, sub).cases()[0].message
    assert "ModuleNotFoundError: No module named 'extra' (imported at tiny.py, line 2, used here)" in message, message   # bytecode alone is no module
    (sub / "tiny.py").write_text((sub / "tiny.py").read_text().replace("from extra import one\n", "one = lambda: 1.0\n"))
    fns = {fn.name: fn for fn in grade_submission(spec, sub).functions}
    assert [c.status for c in fns["scale"].cases] == ["failed"] * 3            # helpers.py's 2 * x, not its .pyc's x
    assert [c.status for c in fns["total"].cases] == ["passed"] * 2            # tiny.py's own total, as its .pyc's
    # nor bytecode in a zip of the submission put on sys.path (zipimport would read it)
    import zipfile
    with zipfile.ZipFile(sub / "libs.zip", "w") as z:
        z.write(sub / "extra.pyc", "extra.pyc")
    (sub / "tiny.py").write_text("import os, sys\nsys.path.insert(0, os.path.join(os.path.dirname(__file__), 'libs.zip'))\n"
                                 "from extra import one\n\ndef scale(x, k):\n    return k * x * one()\n\n"
                                 "def total(x):\n    return float(sum(x))\n")
    message = grade_submission(spec, sub).cases()[0].message
    assert "No module named 'extra' (imported at tiny.py, line 3, used here)" in message, message      # not zipimport's


LAZY = """\
import numpy as np

class Later(float):                  # holds 0.0; its __float__ works out the sum when the grader reads it
    __module__ = "numpy"             # and it says it is numpy's

    def __new__(cls, x):
        obj = super().__new__(cls, 0.0)
        obj.x = x
        return obj

    def __float__(self):
        return float(self.x.sum())

class One(tuple):                    # holds the input; its items, when asked for, are the answer
    def __new__(cls, x, k):
        obj = super().__new__(cls, (x,))
        obj.k = k
        return obj

    def __getitem__(self, i):
        return self.k * tuple.__getitem__(self, i)

    def __iter__(self):
        return iter([self[0]])

def scale(x, k):
    return One(x, k)

def total(x):
    return Later(x)
"""


def test_a_returned_subclass_is_graded_on_what_it_holds_not_on_what_its_methods_compute_later(tmp_path):
    """A call's time stops when it returns: work that a returned object's __float__, __iter__ or
    __getitem__ does when the grader reads it would be untimed (faster_than), and could give another
    answer each time it is read. So results are read through the built-in types' own methods: what
    they hold. Here they hold the input and 0.0, and both functions fail."""
    fns, result = grade(tmp_path, LAZY)
    assert statuses(fns["scale"]) == ["failed"] * 3, [c.message for c in fns["scale"].cases]
    assert statuses(fns["total"]) == ["failed"] * 2, [c.message for c in fns["total"].cases]
    assert result.earned == 0


DISGUISED = """\
import numpy as np

class _Fills(type):                  # reading the class's __module__ fills the array with the answer
    @property
    def __module__(cls):
        for out in list(cls.pending):
            out[...] = out.k * out.x
        return "numpy"

class Later(np.ndarray, metaclass=_Fills):
    pending = []

def scale(x, k):
    out = np.zeros_like(x).view(Later)
    out.x, out.k = x, k
    Later.pending.append(out)
    return out

class Sum:                           # says it is a numpy float; its __array__ computes the sum
    __class__ = property(lambda self: np.float64)

    def __init__(self, x):
        self.x = x

    def __array__(self, dtype=None, copy=None):
        return np.array(self.x.sum())

def total(x):
    return Sum(x)
"""


def test_reading_what_a_call_returned_runs_none_of_the_students_code(tmp_path):
    """A class's metaclass property (`__module__`, read to name the type) or a made-up `__class__`
    (which isinstance believes, sending the object to np.array and its __array__) would run the
    student's code after the call's time was taken. Types are named by type's own getters and
    told apart by the real type: here the answers are never computed, and both functions fail."""
    fns, result = grade(tmp_path, DISGUISED)
    assert statuses(fns["scale"]) == ["failed"] * 3, [c.message for c in fns["scale"].cases]
    assert statuses(fns["total"]) == ["failed"] * 2, [c.message for c in fns["total"].cases]


def test_parts_of_a_job_given_one_after_another_reach_the_child_whole_and_in_order():
    """A child gets the rest of its job in parts (supervise.held_back: the hidden calls, then each
    timed call on its own). A part too large for the socket's buffer goes from a thread; the next
    part, given before that thread is done, must follow it, not cut into it. The socket stays
    non-blocking for the look, which reads the child's asks on it."""
    import socket
    from grader.run.protocol import read_trusted, trusted_frame
    from grader.run.worker import give_later
    import numpy as np
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    big = np.arange(3 << 20, dtype=np.float64)                      # 24 MiB: more than the buffer takes
    parts = [trusted_frame({"part": 0}, [big]), trusted_frame({"part": 1}), trusted_frame({"part": 2}, [big[:5]])]
    first = give_later(ours, parts[0], close=False)
    assert first is not None                                        # it did not all fit: a thread sends the rest
    second = give_later(ours, parts[1], close=False, after=first)
    assert second is not None                                       # it waits for the first
    give_later(ours, parts[2], close=True, after=second)
    assert ours.gettimeout() == 0.0                                 # still non-blocking
    got = [read_trusted(theirs.fileno()) for _ in range(3)]
    assert [h["part"] for h, _ in got] == [0, 1, 2]
    assert np.array_equal(got[0][1][0], big) and np.array_equal(got[2][1][0], big[:5])
    theirs.settimeout(5)
    assert theirs.recv(1) == b""                                    # closed after the last part
    theirs.close()


def test_a_folder_left_by_a_killed_grader_is_removed_by_the_next_and_no_other(tmp_path):
    """A batch killed with SIGKILL, its zygotes with it, left its job folders and its staging folder
    in /tmp, the students' printed output and unpacked files in them. Each is named for the process
    that made it (its id and start); the next grader to make one removes those whose process is gone,
    and nothing else: a live grader's, an older grader's (named otherwise), a link, a file."""
    import subprocess
    from grader.run.worker import _started, let_go, owned_tempdir, remove_stale
    gone = subprocess.Popen(["sleep", "5"])
    start = _started(gone.pid)
    gone.kill()
    gone.wait()
    assert start > 0
    stale = tmp_path / f"grader-worker-{gone.pid}.{start}-abc"
    (stale / "grader-x" / "work").mkdir(parents=True)
    (stale / "grader-x" / "output-0.txt").write_text("a student's printed output")
    live = tmp_path / f"grader-worker-{os.getpid()}.{_started(os.getpid())}-def"
    reused = tmp_path / f"grader-worker-{os.getpid()}.{_started(os.getpid()) + 1}-ghi"   # the id, another start
    older = tmp_path / "grader-worker-q1w2e3r4"
    for folder in (live, reused, older):
        folder.mkdir()
    (tmp_path / f"grader-worker-{gone.pid}.{start}-file").write_text("")
    (tmp_path / f"grader-worker-{gone.pid}.{start}-link").symlink_to(live)
    remove_stale("grader-worker-", str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [live.name, older.name, f"grader-worker-{gone.pid}.{start}-file", f"grader-worker-{gone.pid}.{start}-link"])
    assert not stale.exists() and not reused.exists()   # an id now another process's: its start differs
    mine = owned_tempdir("grader-worker-")
    try:
        assert Path(mine).name.startswith(f"grader-worker-{os.getpid()}.{_started(os.getpid())}-")
    finally:
        os.rmdir(mine)
        let_go(mine)


def test_a_live_graders_folder_is_kept_though_its_process_id_means_nothing_here(tmp_path):
    """Two graders in containers of their own that share /tmp: each one's process ids mean nothing
    in the other's namespace, and a ninth red team's grader removed the other's live batch folder
    (its students then failed on files gone). A folder is held (a lock on it) as long as the process
    that made it lives: one held is never removed, and one let go of is, once its process is gone."""
    import subprocess
    import sys
    from grader.run.worker import _started, let_go, owned_tempdir, remove_stale
    gone = subprocess.Popen(["sleep", "5"])
    start = _started(gone.pid)
    gone.kill()
    gone.wait()
    elsewhere = tmp_path / f"grader-batch-{gone.pid}.{start}-abc"     # its id: no process of this namespace
    (elsewhere / "_loose" / "bob").mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys, time\n"
                               "fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)\n"
                               "fcntl.flock(fd, fcntl.LOCK_SH)\nprint('held', flush=True)\ntime.sleep(60)",
                               str(elsewhere)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        remove_stale("grader-batch-", str(tmp_path))
        assert (elsewhere / "_loose" / "bob").is_dir()
    finally:
        holder.kill()
        holder.wait()
    remove_stale("grader-batch-", str(tmp_path))
    assert not elsewhere.exists()
    # Its own folder is held by the process that made it, until it lets go.
    mine = owned_tempdir("grader-batch-")
    try:
        probe = subprocess.run([sys.executable, "-c", "import fcntl, os, sys\n"
                                "fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)\n"
                                "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)", mine], capture_output=True, text=True)
        assert probe.returncode != 0 and "BlockingIOError" in probe.stderr, probe.stderr
    finally:
        os.rmdir(mine)
        let_go(mine)

"""The worker process: imports numpy (and torch) once, then forks one child per job.

Started by `worker.Worker` as `python -I -c "...zygote.main(...)" [--preload torch] [--remove FOLDER]`,
with an environment of its own (`sandbox.zygote_environment`). It never
imports student code itself and never runs a torch operation, so that forked children do not
inherit a started thread pool (fork after a parallel torch op can deadlock the child). Nor does
it read a job or a result: for each job it forks a manager, which reads the job frame from stdin,
writes the result frames to stdout, and exits, so that no child's memory holds another job's
data (another student's answers, the reference's outputs). For its job, the manager:

- forks a child that confines itself (`sandbox.apply_in_child`) and runs `harness.run`;
- times each case from the end of the one before (the child runs the calls in order, so the
  zygote knows which one is running; it looks at the child's frames when the child ends or every
  50 ms, not at each one), and kills the child's whole process group at the limit, records
  `timeout`, and forks a fresh child for the remaining cases;
- records `crashed` when the child dies mid-case (segfault, os._exit, memory), and goes on.

Those two are the loop it shares with the portable worker (supervise.py); only forking a child,
looking at its pipe and killing it are here.
"""
from __future__ import annotations

import argparse
import gc
import os
import select
import shutil
import signal
import sys

from grader.run import harness, protocol, sandbox, supervise

_LAYERS: tuple = ()                  # the sandbox layers in use, from the probe at start-up
_SANDBOX: dict = {}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preload", action="append", default=[])
    parser.add_argument("--layers", default=",".join(sandbox.LAYERS),
                        help="sandbox layers to use where they work (comma-separated; empty: process only)")
    parser.add_argument("--remove", default="", help="a folder of the worker's to remove at the end (its TMPDIR): "
                                                     "also when the grader was killed and never closed it")
    opts = parser.parse_args(argv)
    sandbox.protect_self()
    import numpy  # noqa: F401 - imported once here, shared by every child
    import numpy.random  # noqa: F401 - numpy imports it lazily; each call seeds it (and a child may not read numpy's folder)
    import random  # noqa: F401
    if "torch" in opts.preload:
        import torch
        torch.set_num_threads(1)     # sets a number; starts no thread pool
    wanted = tuple(layer for layer in opts.layers.split(",") if layer in sandbox.LAYERS)
    global _LAYERS, _SANDBOX
    _LAYERS, abi = sandbox.probe(wanted)
    _SANDBOX = {"sandbox": sandbox.describe(_LAYERS, abi), "sandbox_warning": sandbox.warning(_LAYERS)}
    # Everything imported so far is shared with every child, copy-on-write. Freezing it keeps the
    # children's garbage collector from touching (and so copying) those pages.
    gc.collect()
    gc.freeze()

    # The frame channel is a private copy of stdout; fd 1 itself goes to stderr so that a stray
    # print from a library can never corrupt a frame.
    out_fd = os.dup(1)
    os.dup2(2, 1)
    # Each job is read and run by a process forked for it (its manager), never by this one: what
    # a job holds (a notebook's code, a catalogued mistake's source) and what its children send
    # back (another student's answers, the reference's outputs) stays in the manager's memory and
    # goes with it. A student's child is forked by its own job's manager, so its memory (which it
    # can read) holds nothing from any other job.
    jobs = 0
    while True:
        if jobs == 1:                    # a batch, not a single check: worth a third of a second once
            huge_pages()
        manager = os.fork()
        if manager == 0:
            code = 1
            try:
                code = _manage_one_job(out_fd)
            except BaseException:  # noqa: BLE001 - the grader's bug: its traceback for the worker's error
                import traceback
                traceback.print_exc()
            finally:
                sys.stderr.flush()
                os._exit(code)
        status = os.waitstatus_to_exitcode(os.waitpid(manager, 0)[1])
        if status != 0:
            # _NO_MORE_JOBS: the grader is done. Tearing down an interpreter that imported torch
            # takes a quarter of a second and has nothing to clean up: every job removed its own
            # folder. Anything else: the manager failed, and the grader sees this process end.
            if opts.remove:
                shutil.rmtree(opts.remove, ignore_errors=True)
            sys.stderr.flush()
            os._exit(0 if status == _NO_MORE_JOBS else 1)
        jobs += 1


_NO_MORE_JOBS = 3                    # a manager's exit code when the grader closed its end


def _manage_one_job(out_fd: int) -> int:
    """Read one job from stdin and run it: 0, or _NO_MORE_JOBS at the end of stdin. The grader sends
    a job only after the one before it is done, so nothing of the next job is read here."""
    reader = protocol.FrameReader()
    while True:
        data = os.read(0, 1 << 16)
        if not data:
            return _NO_MORE_JOBS
        for payload in reader.feed(data):
            header, arrays = protocol.decode(payload)
            if header.get("type") == "job":
                run_job(header, arrays, out_fd)
                return 0


def huge_pages() -> int:
    """Back this process's heap with 2 MiB pages where the kernel can (MADV_COLLAPSE, Linux 6.1+);
    returns the MiB collapsed.

    numpy and torch leave some 150 MB of small anonymous pages behind. Forking copies one page-table
    entry per 4 KiB page and every child tears them down again at exit: 14 ms of the ~20 ms a fork
    costs here. With 2 MiB pages that is 1/512 of the entries; a child that writes to one still
    copies only 4 KiB of it (the kernel splits the huge page in the child). Anything the kernel
    refuses (an older kernel, no free huge pages) is skipped: this only changes speed.
    """
    import ctypes
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        madvise = libc.madvise
        madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        with open("/proc/self/maps") as maps:
            regions = [line.split() for line in maps]
    except (OSError, AttributeError):
        return 0
    collapsed = 0
    for fields in regions:
        if fields[1] != "rw-p" or (len(fields) > 5 and fields[5] != "[heap]"):
            continue                                 # private anonymous memory and the heap only
        low, high = (int(x, 16) for x in fields[0].split("-"))
        address = -(-low // _HUGE_PAGE) * _HUGE_PAGE
        while address + _HUGE_PAGE <= high:          # page by page: one refusal does not stop the rest
            if madvise(address, _HUGE_PAGE, _MADV_COLLAPSE) == 0:
                collapsed += 2
            address += _HUGE_PAGE
    return collapsed


_HUGE_PAGE = 2 << 20
_MADV_COLLAPSE = 25
_REPLY_BUFFER = 4 << 20              # bytes of a job's frames held before they are sent


def run_job(job: dict, inputs: list, out_fd: int) -> None:
    """Run every call of one job, in as few forked children as timeouts and crashes allow."""
    # The grader reads a job's reply whole, so the frames go out together when the job ends (or
    # once they pass a few MiB): one write and one wake-up of the grader per submission, not per case.
    reply: list[bytes] = []
    held = 0

    def send(data: bytes):
        nonlocal held
        reply.append(data)
        held += len(data)
        if held > _REPLY_BUFFER:
            flush()

    def flush():
        nonlocal held
        protocol.write_all(out_fd, b"".join(reply))
        reply.clear()
        held = 0

    try:
        # Without a tmpfs of its own (no namespaces here), the scratch folder is measured at each look.
        supervise.run_job(job, inputs, send, _fork_child, _SANDBOX, measure="namespaces" not in _LAYERS)
    finally:
        flush()


def _fork_child(job: dict, inputs: list, start: int, skip: set, scratch: str, capture_path: str) -> "_Forked":
    """Fork a child that confines itself and runs the job's calls from `start`."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                               # the child
        try:
            os.close(r)
            policy = supervise.child_policy(job, scratch)
            open(capture_path, "ab").close()
            capture_fd = os.open(capture_path, os.O_RDONLY)     # before Landlock: it lies outside the scratch folder
            try:
                sandbox.apply_in_child(policy, _LAYERS, capture_path, keep_fds=(w, capture_fd))
            except BaseException as e:  # noqa: BLE001 - no student code runs unconfined: every call fails
                harness.refuse(job, inputs, start, skip, w, e)
                os._exit(70)
            harness.run(job, inputs, start, skip, w, capture_fd)
        except BaseException:  # noqa: BLE001 - nothing may escape the child
            pass
        os._exit(0)
    os.close(w)
    return _Forked(pid, r)


class _Forked:
    """A forked child as supervise.run_job watches it: its frames come through a pipe.

    The frames wait in the pipe (made large) and are read when the child ends, or at a look every
    few tens of milliseconds: a submission costs one or two wake-ups of this process instead of one
    per case. A child sending more than the pipe holds (large outputs) would wait for each look;
    while it does, the pipe itself wakes this process. Without pidfds (Linux < 5.3), every frame
    wakes it.
    """

    def __init__(self, pid: int, r: int):
        self.pid, self._r = pid, r
        self._watch = _pidfd(pid)
        self.wakes_on_frames = self._watch is None
        self._capacity = _enlarge(r)
        os.set_blocking(r, False)
        self._busy = False

    def look(self, timeout: float) -> tuple[bytes, bool]:
        if self._watch is None:
            select.select([self._r], [], [], timeout)
            ended = False
        else:
            ready = select.select([self._watch, self._r] if self._busy else [self._watch], [], [], timeout)[0]
            ended = self._watch in ready
        data, pipe = _drain(self._r)
        self._busy = len(data) >= self._capacity // 2      # the child fills the pipe faster than the looks empty it
        return data, pipe == "closed" or ended and pipe == "open"

    def kill(self) -> None:
        os.close(self._r)
        if self._watch is not None:
            os.close(self._watch)
        _kill_and_reap(self.pid)


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when the child ends, or None where the kernel has none."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _enlarge(fd: int) -> int:
    """Room in the pipe for a submission's frames between two looks (1 MiB, Linux's default maximum);
    the bytes it holds."""
    try:
        import fcntl
        return fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
    except (ImportError, AttributeError, OSError):
        return 64 << 10


def _drain(fd: int, most: int = 4 << 20) -> tuple[bytes, str]:
    """What the pipe holds now (it is non-blocking), up to `most` bytes (a child writing as fast as
    this reads must not keep it from its deadlines), and "closed" (the child closed it), "more"
    (it holds more) or "open"."""
    chunks, size = [], 0
    while size < most:
        try:
            data = os.read(fd, min(1 << 20, most - size))
        except BlockingIOError:
            return b"".join(chunks), "open"
        if not data:
            return b"".join(chunks), "closed"
        chunks.append(data)
        size += len(data)
    return b"".join(chunks), "more"


def _kill_and_reap(pid: int) -> None:
    """Kill the child's whole process group (SIGKILL: it cannot be ignored) and reap it."""
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except (ProcessLookupError, PermissionError):
            pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


if __name__ == "__main__":
    main()

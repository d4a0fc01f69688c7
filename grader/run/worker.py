"""The grader's side of the worker: start a zygote process, run jobs in its children, read back plain data.

    >>> with Worker("torch") as worker:
    ...     reply = worker.run(job, inputs)
    >>> reply.imported["errors"], reply.results[0][0]["status"]
    ({}, 'returned')

The zygote is a fresh interpreter (`python -I`: no user site-packages, no current directory on
sys.path), started before this process runs any torch operation of its own, so the grader may
compute references with torch while the zygote forks children safely. It forks a child when this
process asks (zygote.py); this process runs the case loop (supervise.py): it hands the child its
job, reads its frames from a pipe, times each case and has the zygote kill the child at a limit.
"""
from __future__ import annotations

import json
import os
import queue
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from grader.run import protocol, supervise

_GRADER_PARENT = str(Path(__file__).resolve().parents[2])
_BOOT = ("import sys; sys.path.append({path!r}); "
         "from grader.run.zygote import main; main(sys.argv[1:])")
STALL_SLACK = 15.0                   # seconds the zygote may take to answer beyond its start-up


class WorkerError(Exception):
    """The worker process itself failed (not the student's code)."""


@dataclass
class Reply:
    imported: dict = field(default_factory=dict)          # {"errors": {...}, "stdout": "..."}
    results: dict = field(default_factory=dict)           # call index -> (header, arrays)
    sandbox: str = ""                                     # "strong: process+namespaces+..."
    sandbox_warning: str = ""                             # empty in the strong mode


class Worker:
    """A zygote process for one framework; restarted for the next job if it died.

    `layers` chooses sandbox layers (see sandbox.LAYERS); each is used only where it works.
    The grader's own process is made non-dumpable here, so no child can read its memory
    (`protect_caller=False` skips that for a student's own kernel, which holds no secret).
    """

    def __init__(self, framework: str = "numpy", layers: tuple | None = None, protect_caller: bool = True):
        from grader.run.sandbox import LAYERS, protect_self
        if protect_caller:           # off only where the caller holds nothing secret (a student's own kernel)
            protect_self()
        self._args = ["--layers", ",".join(LAYERS if layers is None else layers)]
        if framework == "torch":
            self._args += ["--preload", "torch"]
        self._next_job = 1
        self._start()

    def _start(self) -> None:
        from grader.run.sandbox import zygote_environment
        self._stderr = tempfile.TemporaryFile()
        # The job folders go in a folder of ours, removed on close (or when this process exits
        # without closing, as a Dask worker does, by the zygote when it sees this process gone).
        self._jobs_dir = tempfile.mkdtemp(prefix="grader-worker-")
        self._remove_jobs_dir = weakref.finalize(self, shutil.rmtree, self._jobs_dir, True)
        self._control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT.format(path=_GRADER_PARENT), "--control", str(theirs.fileno()),
             *self._args, "--remove", self._jobs_dir],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr, close_fds=True,
            pass_fds=(theirs.fileno(),), env=zygote_environment(self._jobs_dir))
        theirs.close()
        self._info: dict | None = None          # the zygote's first answer, once it has imported everything

    def run(self, job: dict, inputs: list) -> Reply:
        """Run one job's calls in the zygote's children and collect what they sent back."""
        if self._proc.poll() is not None:          # killed during an earlier job: start afresh
            self.close()
            self._start()
        job = {**job, "type": "job", "job": self._next_job}
        self._next_job += 1
        if self._info is None:
            self._info = self._ask(None, timeout=job["limits"]["import_timeout"] + 60 + STALL_SLACK)
        reply = Reply()
        reader = protocol.FrameReader()

        def emit(data: bytes) -> None:
            for payload in reader.feed(data):
                kind, header, arrays = _read_frame(payload)
                if kind == "imported":
                    reply.imported = header
                elif kind == "result":
                    reply.results[header["index"]] = (header, arrays)
                elif kind == "job_done":
                    reply.sandbox = str(header.get("sandbox", ""))
                    reply.sandbox_warning = str(header.get("sandbox_warning", ""))

        job_file = _JobFile()
        try:
            supervise.run_job(job, inputs, emit, lambda *how: self._fork(job_file, *how),
                              {"sandbox": self._info["sandbox"], "sandbox_warning": self._info["sandbox_warning"]},
                              measure=bool(self._info["measure"]), root=self._jobs_dir)
        except protocol.ProtocolError as e:              # a frame over the size limit: the reply is lost
            raise WorkerError(f"the worker's reply could not be read ({e})") from None
        finally:
            job_file.close()
        return reply

    def _fork(self, job_file: "_JobFile", job: dict, inputs: list, start: int, skip: set, scratch: str,
              capture_path: str) -> "_Child":
        """A child of the zygote, running the job's calls from `start` (supervise.run_job's start_child)."""
        r, w = os.pipe()
        try:
            answer = self._ask({"do": "fork", "start": start, "skip": sorted(skip), "scratch": scratch,
                                "capture": capture_path}, fds=[job_file.fd(job, inputs), w])
        except BaseException:
            os.close(r)
            raise
        finally:
            os.close(w)                  # the child's end: the pipe reads as closed once the child is gone
        return _Child(int(answer["pid"]), r, lambda pid: self._ask({"do": "end", "pid": pid}))

    def _ask(self, request: dict | None, fds: list | None = None, timeout: float = STALL_SLACK) -> dict:
        """Send the zygote a request (None: only read its next answer) and wait for its answer."""
        try:
            if request is not None:
                socket.send_fds(self._control, [json.dumps(request).encode()], fds or [])
            ready, _, _ = select.select([self._control], [], [], timeout)
            answer = self._control.recv(1 << 16) if ready else None
        except OSError:
            answer = b""
        if answer is None:
            self._kill()
            raise WorkerError(f"the worker did not answer for {timeout:.0f} s and was stopped")
        if not answer:
            raise WorkerError(self._died())     # the next run() starts a new zygote
        return json.loads(answer)

    def _kill(self) -> None:
        """Stop the zygote now."""
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self.close()

    def _died(self) -> str:
        code = self._proc.wait()
        self._stderr.seek(0)
        tail = self._stderr.read()[-2000:].decode("utf-8", "replace").strip()
        return f"the worker process exited with code {code}" + (f": {tail}" if tail else "")

    def close(self) -> None:
        self._control.close()                    # the zygote's end of its loop
        if self._proc.poll() is None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._stderr.close()
        self._remove_jobs_dir()

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _JobFile:
    """A job's frame in an anonymous file, written when its first child is forked; each child reads
    it (a child cannot read this process's memory, and a file never blocks its writer as a pipe would)."""

    def __init__(self):
        self._file = None

    def fd(self, job: dict, inputs: list) -> int:
        if self._file is None:       # after supervise.run_job has written the support files into the job
            self._file = tempfile.TemporaryFile()
            self._file.write(protocol.encode(job, inputs))
            self._file.flush()
        return self._file.fileno()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class _Child:
    """A child of the zygote as supervise.run_job watches it: its frames come through a pipe.

    The frames wait in the pipe (made large) and are read when the child ends, or at a look every
    few tens of milliseconds: a submission costs one or two wake-ups of this process instead of one
    per case. A child sending more than the pipe holds (large outputs) would wait for each look;
    while it does, the pipe itself wakes this process. Without pidfds (Linux < 5.3), every frame
    wakes it.
    """

    def __init__(self, pid: int, r: int, end):
        self.pid, self._r, self._end = pid, r, end
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
        """Have the zygote kill the child's process group and reap it (until then its pid is not
        reused); where the zygote is gone, kill the group from here."""
        os.close(self._r)
        if self._watch is not None:
            os.close(self._watch)
        try:
            self._end(self.pid)
        except WorkerError:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except OSError:
                pass
            raise


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


def _read_frame(payload: bytes) -> tuple[str, dict, list]:
    """(kind, header, arrays) of one relayed frame. supervise.run_job relays a child's result frames
    after reading their headers only, so their arrays may not describe the bytes (the student's process can
    write anything into its pipe): such a result is status "invalid", that case's crash, and the
    job goes on; a frame of no known kind is ignored."""
    try:
        header, arrays = protocol.decode(payload, printable=True)
    except protocol.ProtocolError:
        try:
            header, arrays = protocol.peek(payload), []
        except protocol.ProtocolError:
            return "", {}, []
        header = {"type": header.get("type"), "index": header.get("index"), "status": "invalid"}
    kind = header.get("type")
    if kind == "result":
        index = header.get("index")
        if not isinstance(index, int) or isinstance(index, bool):
            return "", {}, []
    return str(kind or ""), header, arrays


def on_workers(workers: list, fn, items):
    """fn(worker, item) for every item, the workers in parallel (a thread each, so one job at a
    time per worker); yields the results as they finish."""
    free = queue.SimpleQueue()
    for worker in workers:
        free.put(worker)
    local = threading.local()

    def one(item):
        if not hasattr(local, "worker"):
            local.worker = free.get()          # one worker per thread, for as long as it runs
        return fn(local.worker, item)

    with ThreadPoolExecutor(max_workers=len(workers)) as pool:
        for future in as_completed([pool.submit(one, item) for item in items]):
            yield future.result()

"""The grader's side of the worker: start a zygote process, send it jobs, read back plain data.

    >>> with Worker("torch") as worker:
    ...     reply = worker.run(job, inputs)
    >>> reply.imported["errors"], reply.results[0][0]["status"]
    ({}, 'returned')

The zygote is a fresh interpreter (`python -I`: no user site-packages, no current directory on
sys.path), started before this process runs any torch operation of its own, so the grader may
compute references with torch while the zygote forks children safely.
"""
from __future__ import annotations

import os
import queue
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from grader.run import protocol

_GRADER_PARENT = str(Path(__file__).resolve().parents[2])
_BOOT = ("import sys; sys.path.append({path!r}); "
         "from grader.run.zygote import main; main(sys.argv[1:])")
STALL_SLACK = 15.0                   # seconds of silence beyond the spec's limits before we give up on the zygote


class WorkerError(Exception):
    """The worker process itself failed (not the student's code)."""


@dataclass
class Reply:
    imported: dict = field(default_factory=dict)          # {"errors": {...}, "stdout": "..."}
    results: dict = field(default_factory=dict)           # call index -> (header, arrays)
    sandbox: str = ""                                     # "strong: process+namespaces+..."
    sandbox_warning: str = ""                             # empty in the strong mode


class Worker:
    """A zygote process for one framework; restarted for the next job if student code killed it.

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
        # The zygote's job folders go in a folder of ours, removed on close (or when this process
        # exits without closing, as a Dask worker does): a zygote killed mid-job, by a student or
        # for stalling, leaves nothing behind in the system's temporary folder.
        self._jobs_dir = tempfile.mkdtemp(prefix="grader-worker-")
        self._remove_jobs_dir = weakref.finalize(self, shutil.rmtree, self._jobs_dir, True)
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT.format(path=_GRADER_PARENT), *self._args, "--remove", self._jobs_dir],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, close_fds=True,
            env=zygote_environment(self._jobs_dir))

    def run(self, job: dict, inputs: list) -> Reply:
        """Send one job and collect every frame the zygote relays until it says the job is done.

        The inputs go with every job: the zygote holds nothing from one job to the next (each is
        read by a process of its own, see zygote.main).
        """
        if self._proc.poll() is not None:          # killed during an earlier job: start afresh
            self.close()
            self._start()
        job = {**job, "type": "job", "job": self._next_job}
        self._next_job += 1
        try:
            self._proc.stdin.write(protocol.encode(job, inputs))
            self._proc.stdin.flush()
        except BrokenPipeError:
            raise WorkerError(self._died()) from None
        stall = max(job["limits"]["import_timeout"], job["limits"]["case_timeout"]) + STALL_SLACK
        reply = Reply()
        reader = protocol.FrameReader()
        fd = self._proc.stdout.fileno()
        last = time.monotonic()
        while True:
            ready, _, _ = select.select([fd], [], [], 1.0)
            if not ready:
                if time.monotonic() - last > stall:
                    self.close()
                    raise WorkerError(f"the worker sent nothing for {stall:.0f} s and was stopped")
                continue
            data = os.read(fd, 1 << 20)
            if not data:
                raise WorkerError(self._died())     # the next run() starts a new zygote
            last = time.monotonic()
            try:
                frames = reader.feed(data)
            except protocol.ProtocolError as e:              # a frame over the size limit: the stream is lost
                self._kill()
                raise WorkerError(f"the worker's reply could not be read ({e}) and the worker was stopped") from None
            for payload in frames:
                kind, header, arrays = _read_frame(payload)
                if kind == "imported":
                    reply.imported = header
                elif kind == "result":
                    reply.results[header["index"]] = (header, arrays)
                elif kind == "job_done":
                    reply.sandbox = str(header.get("sandbox", ""))
                    reply.sandbox_warning = str(header.get("sandbox_warning", ""))
                    return reply

    def _kill(self) -> None:
        """Stop the zygote now (its job's manager dies on its next write to the closed pipe)."""
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
        if self._proc.poll() is None:
            try:
                self._proc.stdin.close()
            except OSError:
                pass
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


def _read_frame(payload: bytes) -> tuple[str, dict, list]:
    """(kind, header, arrays) of one relayed frame. The zygote relays a child's result frames after
    reading their headers only, so their arrays may not describe the bytes (the student's process can
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

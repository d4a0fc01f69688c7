"""The grader's side of the worker: start a worker, send it jobs, read back plain data.

    >>> with start_worker("torch") as worker:
    ...     reply = worker.run(job, inputs)
    >>> reply.imported["errors"], reply.results[0][0]["status"]
    ({}, 'returned')

Two workers, one interface (`run`, `close`, a context manager) and one reply:

- `Worker`, the zygote, on Linux: a fresh interpreter (`python -I`: no user site-packages, no
  current directory on sys.path), started before this process runs any torch operation of its own,
  so the grader may compute references with torch while the zygote forks sandboxed children safely.
  It forks a child when this process asks (zygote.py); this process runs the case loop
  (supervise.py): it hands the child its job, reads its frames from a pipe, times each case and
  has the zygote kill the child at a limit.
- `PortableWorker` where the zygote cannot run (macOS, Windows, a Linux without prctl): a fresh
  interpreter per child, started with subprocess and supervised from this process. It keeps time
  limits and crashes to their case and sets the platform's resource limits: it guards a student's
  own machine against mistakes, and is no sandbox against hostile code.

`start_worker` chooses: the zygote wherever it can run, unless GRADER_WORKER (or `grader check
--worker`) says `portable` or `zygote`.
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
import time
import weakref
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

from grader.run import sandbox

try:
    import fcntl
except ImportError:                  # Windows: no flock; a folder's process id alone says whether it is stale
    fcntl = None

# protocol and supervise (and with them numpy) are imported where a job first needs them: a command
# starts its zygote (launch_worker) before this process has imported numpy, a tenth of a second sooner.

_GRADER_PARENT = str(Path(__file__).resolve().parents[2])
_BOOT = ("import sys; sys.path.append({path!r}); "
         "from grader.run.{module} import main; main(sys.argv[1:])")
STALL_SLACK = 15.0                   # seconds the zygote may take to answer beyond its start-up
BOOT_TIMEOUT = 120.0                 # seconds a portable child may take to import numpy and torch (a cold laptop)
WORKER_VARIABLE = "GRADER_WORKER"
WORKER_KINDS = ("auto", "zygote", "portable")


def owned_tempdir(prefix: str) -> str:
    """A folder of this process's in the temporary folder, named `<prefix><pid>.<start>-XXXX` (its
    id and when it started), and held (a shared lock on it) until `let_go`: one that outlives its
    process, killed with its zygotes by SIGKILL (a batch's process group), is known as such and
    removed by the next grader that makes one of the kind (`remove_stale`). It held the students'
    printed output and unpacked files. The lock speaks for a grader whose id means nothing here (one
    in a container of its own, sharing /tmp); it is taken before the folder gets its name, which is
    what `remove_stale` looks for."""
    remove_stale(prefix)
    start = f"{prefix}{os.getpid()}.{_started(os.getpid())}-"
    made = tempfile.mkdtemp(prefix="." + start)
    fd = _hold(made)
    folder = os.path.join(os.path.dirname(made), os.path.basename(made)[1:])
    os.rename(made, folder)
    if fd is not None:
        _HELD[folder] = fd
    return folder


_HELD: dict = {}                     # folder -> the descriptor holding its lock (owned_tempdir)


def let_go(folder: str) -> None:
    """No longer hold a folder `owned_tempdir` made (once it is removed, or left to be)."""
    fd = _HELD.pop(folder, None)
    if fd is not None:
        os.close(fd)


def remove_owned(folder: str, remove=None) -> None:
    """Remove a folder `owned_tempdir` made (shutil.rmtree, errors ignored, unless `remove` is
    given), then let go of it."""
    try:
        remove(folder) if remove is not None else shutil.rmtree(folder, ignore_errors=True)
    finally:
        let_go(folder)


def _hold(folder: str) -> int | None:
    """A descriptor of `folder` with a shared lock on it, kept by this process; None without flock (Windows)."""
    if fcntl is None:
        return None
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
    except OSError:
        os.close(fd)
        return None
    return fd


def _held(folder: str) -> bool:
    """Whether some live process holds `folder` (owned_tempdir's lock), whatever its namespace."""
    if fcntl is None:
        return False
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return True                  # not ours to judge: left
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def remove_stale(prefix: str, root: str | None = None) -> None:
    """Remove the folders `owned_tempdir` made under `root` (the temporary folder) whose process is
    gone: none of this namespace has its id and start, and none holds it. Folders named otherwise (an
    older grader's), links, files and other users' are left."""
    root = root or tempfile.gettempdir()
    try:
        entries = list(os.scandir(root))
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        pid, _, start = entry.name[len(prefix):].split("-", 1)[0].partition(".")
        if not (pid.isdigit() and start.isdigit()):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
        except (OSError, AttributeError):
            continue
        if not _alive(int(pid), int(start)) and not _held(entry.path):
            shutil.rmtree(entry.path, ignore_errors=True)


def _started(pid: int) -> int:
    """When a process started (clock ticks since boot, /proc/<pid>/stat's 22nd field); 0 where the
    system has no /proc, or no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return 0


def _alive(pid: int, start: int) -> bool:
    """Whether the process that started at `start` is still running: the same id and the same start
    (an id is reused). Without /proc (start 0), whether some process has the id; on Windows always,
    as its os.kill ends the process it names."""
    if start:
        return _started(pid) == start
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


class WorkerError(Exception):
    """The worker process itself failed (not the student's code)."""


@dataclass
class Reply:
    imported: dict = field(default_factory=dict)          # {"errors": {...}, "stdout": "..."}
    results: dict = field(default_factory=dict)           # call index -> (header, arrays)
    sandbox: str = ""                                     # "strong: process+namespaces+..."
    sandbox_warning: str = ""                             # empty in the strong mode


class _Supervising:
    """What both workers share: a job's calls run by supervise.run_job from this process, in the
    children a worker starts, and the worker a context manager (`with start_worker(...) as worker:`
    closes it at the end)."""

    _next_job: int
    _jobs_dir: str

    def _supervised(self, job: dict, inputs: list, start_child, info: dict, measure: bool) -> Reply:
        """Run one job's calls in the children `start_child` starts and collect what they sent back."""
        from grader.run import supervise
        job = {**job, "type": "job", "job": self._next_job}
        self._next_job += 1
        reply = Reply()
        try:
            supervise.run_job(job, inputs, lambda header, arrays: _add(reply, header, arrays), start_child, info,
                              measure=measure, root=self._jobs_dir)
        except OSError as e:                             # the job's folder could not be made, say
            raise WorkerError(f"the worker could not run the job ({e})") from None
        return reply

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Worker(_Supervising):
    """A zygote process for one framework; restarted for the next job if it died.

    `layers` chooses sandbox layers (see sandbox.LAYERS); each is used only where it works.
    The grader's own process is made non-dumpable here, so no child can read its memory
    (`protect_caller=False` skips that for a student's own kernel, which holds no secret).
    """

    def __init__(self, framework: str | None = "numpy", layers: tuple | None = None, protect_caller: bool = True):
        from grader.run.sandbox import LAYERS, protect_self
        if protect_caller:           # off only where the caller holds nothing secret (a student's own kernel)
            protect_self()
        self._args = ["--layers", ",".join(LAYERS if layers is None else layers)]
        self._told = framework is not None
        self._args += ["--preload", "later"] if framework is None else _preload_args(framework)
        self._next_job = 1
        self._closed = False
        self._start()

    def tell(self, framework: str) -> None:
        """The framework of a worker started with none (`launch_worker`, before the spec was read):
        its zygote imports it now. Before anything else is asked of this worker."""
        if self._told:
            raise WorkerError("the worker's framework was given already")
        self._told = True
        at = self._args.index("later") - 1
        self._args[at:at + 2] = _preload_args(framework)     # what a restart starts with
        try:
            self._control.send(json.dumps({"preload": _preloaded(framework)}).encode())
        except OSError:
            pass                         # the zygote is gone: the first request says so

    def sibling(self) -> "Worker":
        """Another worker, its zygote forked from this one's once that has imported everything
        (zygote._spawn): a batch's workers then import torch once, not once each (a second of CPU
        and some 200 MB a worker). Asked before this worker runs a job (the zygote forks no sibling
        while it runs a child); where it cannot fork one, the sibling starts a zygote of its own.
        Close the sibling first: this worker's zygote reaps it when closed after it."""
        if not self._told:
            raise WorkerError("a worker's sibling is asked for after its framework (Worker.tell)")
        other = object.__new__(Worker)
        other._args, other._next_job, other._closed, other._told = self._args, 1, False, True
        other._start(parent=self)
        return other

    def _start(self, parent: "Worker | None" = None) -> None:
        from grader.run.sandbox import zygote_environment
        self._stderr = tempfile.TemporaryFile()
        # The job folders go in a folder of ours, removed on close (or when this process exits
        # without closing, as a Dask worker does, by the zygote when it sees this process gone).
        self._jobs_dir = owned_tempdir("grader-worker-")
        self._remove_jobs_dir = weakref.finalize(self, remove_owned, self._jobs_dir)
        self._control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._proc: subprocess.Popen | _Forked | None = None
        if parent is not None and not parent._closed and parent._proc.poll() is None:
            try:
                socket.send_fds(parent._control, [json.dumps({"do": "spawn", "remove": self._jobs_dir}).encode()],
                                [theirs.fileno(), self._stderr.fileno()])
                self._proc = _Forked()
            except OSError:
                pass                     # its zygote is gone: a zygote of our own
        if self._proc is None:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-c", _BOOT.format(path=_GRADER_PARENT, module="zygote"), "--control", str(theirs.fileno()),
                 *self._args, "--remove", self._jobs_dir],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr, close_fds=True,
                pass_fds=(theirs.fileno(),), env=zygote_environment(self._jobs_dir))
        theirs.close()
        self._info: dict | None = None          # the zygote's first answer, once it has imported everything
        self._loaded: tuple | None = None       # the (calls, inputs) the zygote holds (`_shared`)
        self._last: tuple | None = None         # the (calls, inputs) of the job before

    def run(self, job: dict, inputs: list) -> Reply:
        """Run one job's calls in the zygote's children and collect what they sent back."""
        if self._closed:
            raise WorkerError("the worker was closed (the batch is stopping)")
        if not self._told:
            raise WorkerError("the worker was not told its framework (Worker.tell)")
        if self._proc.poll() is not None:          # killed during an earlier job: start afresh
            self._stop()
            self._start()
        if self._info is None:
            timeout = job["limits"]["import_timeout"] + 60 + STALL_SLACK
            try:
                self._info = self._ask(None, timeout=timeout)
            except WorkerError:
                if not isinstance(self._proc, _Forked) or self._proc.pid is not None:
                    raise
                self._stop()             # the zygote it was to be forked from did not fork it (gone): one of its own
                self._start()
                self._info = self._ask(None, timeout=timeout)
            if isinstance(self._proc, _Forked):
                self._proc.found(self._info.get("pid"))
        job_file = _JobFile()
        try:
            return self._supervised(job, inputs, lambda *how: self._fork(job_file, *how),
                                    {"sandbox": self._info["sandbox"], "sandbox_warning": self._info["sandbox_warning"]},
                                    measure=bool(self._info["measure"]))
        finally:
            job_file.close()

    def _fork(self, job_file: "_JobFile", job: dict, inputs: list, start: int, skip: set, scratch: str,
              capture_path: str) -> "_Child":
        """A child of the zygote, running the job's calls from `start` (supervise.run_job's start_child);
        with job["later"], a second pipe brings it the rest of its calls (`_Child.give`)."""
        if job_file.loaded is None:
            job_file.loaded = self._shared(job["calls"], inputs)
        r, w = os.pipe()
        later = socket.socketpair() if job.get("later") else None
        try:
            answer = self._ask({"do": "fork", "start": start, "skip": sorted(skip), "scratch": scratch,
                                "capture": capture_path, "loaded": job_file.loaded, "watch": job_file.watch(job)},
                               fds=[job_file.fd(job, inputs), w] + ([later[1].fileno()] if later else []))
        except BaseException:
            os.close(r)
            if later:
                later[0].close()
            raise
        finally:
            os.close(w)                  # the child's end: the pipe reads as closed once the child is gone
            if later:
                later[1].close()
        if "pid" not in answer:
            os.close(r)
            if later:
                later[0].close()
            raise WorkerError(str(answer.get("error", "the worker did not start a process for this submission")))
        return _Child(int(answer["pid"]), r, lambda pid: self._ask({"do": "end", "pid": pid}),
                      frames=bool(self._info["measure"]), later=later[0] if later else None)

    def _shared(self, calls: list, inputs: list) -> bool:
        """Whether the zygote holds these calls and their inputs, so that a job's file carries only
        the rest. A batch's jobs all bring the same ones (the same objects): the second job loads
        them into the zygote, and every child after it inherits them decoded instead of decoding its
        own copy. They are the cases' arguments, which every child runs anyway: no answer of the
        reference's or another student's reaches the zygote, nor a hidden case's (supervise.held_back
        keeps those for the job's later frame)."""
        if self._loaded is not None and self._loaded[0] is calls and self._loaded[1] is inputs:
            return True
        if self._last is None or self._last[0] is not calls or self._last[1] is not inputs:
            self._last = (calls, inputs)         # held, so that the ids compared are never reused
            return False
        from grader.run import protocol
        with tempfile.TemporaryFile() as f:
            f.write(protocol.encode({"calls": calls}, inputs))
            f.flush()
            self._ask({"do": "load"}, fds=[f.fileno()])
        self._loaded = (calls, inputs)
        return True

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
        self._stop()

    def _died(self) -> str:
        return _exit_message(self._proc, self._stderr)

    def close(self) -> None:
        """Stop the zygote (and a child it is running: a batch stopped by Ctrl-C); no job runs after this."""
        self._closed = True
        self._stop()

    def _stop(self) -> None:
        self._control.close()                    # the zygote's end of its loop
        if self._info is None and self._proc.poll() is None:
            self._proc.kill()                    # never used (it may still be importing torch): nothing to wait for
        if self._proc.poll() is None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._stderr.close()
        self._remove_jobs_dir()
        if isinstance(self._proc, _Forked):
            self._proc.close()


class _Forked:
    """A zygote forked by another (`Worker.sibling`), with the part of subprocess.Popen's interface
    that Worker uses. It is the other zygote's child, not this process's: it is watched through a
    pidfd (/proc where the kernel has none), known once its first answer gives its pid, and its exit
    code is not this process's to read (the other zygote reaps it)."""

    def __init__(self):
        self.pid: int | None = None
        self.returncode: int | str | None = None
        self._fd: int | None = None

    def found(self, pid) -> None:
        if self.pid is None and isinstance(pid, int) and not isinstance(pid, bool) and pid > 0:
            self.pid, self._fd = pid, _pidfd(pid)

    def poll(self) -> int | str | None:
        if self.returncode is None and self.pid is not None and self._ended(0):
            self.returncode = self._reaped()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | str | None:
        if self.pid is None:
            return UNKNOWN_EXIT      # it never said it was ready: nothing of it to wait for
        if self.poll() is None and not self._ended(timeout):
            raise subprocess.TimeoutExpired("zygote", timeout)
        return self.poll()

    def kill(self) -> None:
        if self.pid is None or self.poll() is not None:
            return
        try:
            if self._fd is not None:
                signal.pidfd_send_signal(self._fd, signal.SIGKILL)
            else:
                os.kill(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _ended(self, timeout: float | None) -> bool:
        if self._fd is not None:
            return bool(select.select([self._fd], [], [], timeout)[0])
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:                         # gone, or a zombie its parent has not reaped yet
                with open(f"/proc/{self.pid}/stat", "rb") as f:
                    if f.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X"):
                        return True
            except (OSError, IndexError):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.01)

    def _reaped(self) -> int | str:
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return UNKNOWN_EXIT          # the other zygote's to reap
        return os.waitstatus_to_exitcode(status) if pid else UNKNOWN_EXIT


UNKNOWN_EXIT = "unknown"               # a sibling zygote's exit code, where this process cannot reap it


class _JobFile:
    """A job's frame in an anonymous file, written when its first child is forked; each child reads
    it (a child cannot read this process's memory, and a file never blocks its writer as a pipe would).
    When the zygote holds the job's calls and inputs (`loaded`), the frame is the rest of the job."""

    def __init__(self):
        self._file = None
        self._watch: bool | None = None
        self.loaded: bool | None = None      # known at the first child (Worker._fork)

    def fd(self, job: dict, inputs: list) -> int:
        if self._file is None:       # after supervise.run_job has written the support files into the job
            from grader.run import protocol
            self._file = tempfile.TemporaryFile()
            if self.loaded:
                self._file.write(protocol.encode({k: v for k, v in job.items() if k != "calls"}))
            else:
                self._file.write(protocol.encode(job, inputs))
            self._file.flush()
        return self._file.fileno()

    def watch(self, job: dict) -> bool:
        """Whether some of the job's calls run watched (execute._traced): the zygote then takes the
        libraries' code before it forks (execute.remember_library)."""
        if self._watch is None:
            from grader.run.execute import job_watched
            self._watch = job_watched(job)
        return self._watch

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class _Child:
    """A child of the zygote as supervise.run_job watches it: its frames come through a pipe.

    The frames wait in the pipe (made large) and are read when the child ends, or at a look every
    few tens of milliseconds: a submission costs one or two wake-ups of this process instead of one
    per case. A child sending more than the pipe holds (large outputs) would wait for each look;
    while it does, the pipe itself wakes this process. Without pidfds (Linux < 5.3), every frame
    wakes it, and so it does with `frames` (where the grader measures the scratch folder, before it
    takes each answer: the answer then comes as soon as it is sent, not with the next ones).
    """

    def __init__(self, pid: int, r: int, end, frames: bool = False, later: socket.socket | None = None):
        self.pid, self._r, self._end = pid, r, end
        # The rest of its job goes on `later` (supervise.held_back), a socket on which the child asks
        # for it when it is due: a look wakes then, and not at every frame before.
        self._later, self._asking = later, later
        self._giving: threading.Thread | None = None      # what of its parts the socket did not take at once
        if later is not None:
            later.setblocking(False)
        self._watch = _pidfd(pid)
        self.wakes_on_frames = self._watch is None or frames
        self._capacity = _enlarge(r)
        os.set_blocking(r, False)
        self._busy = False

    def look(self, timeout: float) -> tuple[bytes, bool]:
        asking = [self._asking] if self._asking is not None else []
        if self._watch is None:
            ready = select.select([self._r, *asking], [], [], timeout)[0]
            ended = False
        else:
            ready = select.select([self._watch, self._r, *asking] if self._busy or self.wakes_on_frames
                                  else [self._watch, *asking], [], [], timeout)[0]
            ended = self._watch in ready
        if asking and asking[0] in ready:
            self._heard()
        data, pipe = _drain(self._r)
        self._busy = len(data) >= self._capacity // 2      # the child fills the pipe faster than the looks empty it
        return data, pipe == "closed" or ended and pipe == "open"

    def _heard(self) -> None:
        """Take what the child said on its `later` socket (it asks once a part; anything more is its
        own), so that the next look does not wake for it again; at its end, stop listening."""
        try:
            while self._asking.recv(1 << 16):
                pass
            self._asking = None          # closed: it will not ask again
        except BlockingIOError:
            pass
        except OSError:
            self._asking = None

    def give(self, data: bytes, last: bool = True) -> None:
        """Send the child parts of the rest of its job (supervise.held_back), without waiting for
        them to be read; after the `last`, close the socket."""
        if self._later is None:
            return
        sock = self._later
        if last:
            self._later = self._asking = None
        self._giving = give_later(sock, data, close=last, after=self._giving)

    def kill(self) -> None:
        """Have the zygote kill the child's process group and reap it (until then its pid is not
        reused); where the zygote is gone, kill the group from here."""
        os.close(self._r)
        if self._watch is not None:
            os.close(self._watch)
        if self._later is not None:      # never given: the child did not get that far
            self._later.close()
            self._later = self._asking = None
        try:
            self._end(self.pid)
        except WorkerError:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except OSError:
                pass
            raise


def give_later(sock: socket.socket, data: bytes, close: bool = True,
               after: threading.Thread | None = None) -> threading.Thread | None:
    """Send `data` on the (non-blocking) socket, and close it with `close`, without waiting for the
    reader: what its buffer does not take at once goes from a thread of its own (returned), which
    ends when the reader has it all or is gone (the child killed, its socket closed). `after`, such
    a thread of an earlier send on the socket: this one's data goes after that one's."""
    sent = 0
    if after is None or not after.is_alive():
        try:
            if len(data) > 64 << 10:     # room for it all where the system allows (wmem_max): no thread
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, len(data))
            sent = sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            sent = len(data)             # the child is gone
        if sent == len(data):
            if close:
                sock.close()
            return None
        after = None
    rest = memoryview(data)[sent:]

    def write() -> None:
        # The socket stays non-blocking (the look reads the child's asks on it): wait until it
        # takes more, a second at most, so that a socket closed meanwhile ends this.
        view = rest
        try:
            if after is not None:
                after.join()
            while view:
                select.select([], [sock], [], 1.0)
                try:
                    view = view[sock.send(view):]
                except BlockingIOError:
                    continue
        except (OSError, ValueError):
            pass                         # the child is gone: what it did not read does not matter
        finally:
            if close:
                sock.close()
    thread = threading.Thread(target=write, daemon=True, name="grader-later")
    thread.start()
    return thread


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


class PortableWorker(_Supervising):
    """A worker for one framework where the zygote cannot run: each child a fresh interpreter
    (grader/run/portable.py), run by the case loop the zygote uses (supervise.py) from this process.

    One interpreter is always started ahead (the spare), so that the next child, after a time-out
    or a crash or for the next job, has imported numpy and torch while this one ran. No child runs
    two jobs: what one job's child did (to numpy, say) never reaches the next job.
    """

    def __init__(self, framework: str = "numpy", protect_caller: bool = True):
        from grader.run import supervise
        if protect_caller:
            sandbox.protect_self()
        self._command = [sys.executable, "-I", "-X", "utf8", "-c", _BOOT.format(path=_GRADER_PARENT, module="portable")]
        if framework == "torch":
            self._command += ["--preload", "torch"]
        # The job folders go in a folder of ours, removed on close or when this process exits.
        self._jobs_dir = owned_tempdir("grader-worker-")
        self._remove_jobs_dir = weakref.finalize(self, remove_owned, self._jobs_dir, supervise.remove_tree)
        limits = sandbox.portable_limits()
        self._info = {"sandbox": sandbox.describe_portable(limits), "sandbox_warning": sandbox.portable_warning(limits)}
        self._next_job = 1
        self._closed = False
        self._running: "_Spawned | None" = None
        self._spare = self._spawn()

    def _spawn(self) -> "_Spawned":
        return _Spawned(self._command, sandbox.child_environment(self._jobs_dir), self._jobs_dir)

    def run(self, job: dict, inputs: list) -> Reply:
        """Run one job's calls, each child a fresh interpreter; its reply as the zygote's would be."""
        from grader.run import protocol
        encoded: list[bytes] = []               # the job's frame, made once for all its children

        def start_child(job: dict, inputs: list, start: int, skip: set, scratch: str, capture_path: str):
            if self._closed:
                raise WorkerError("the worker was closed (the batch is stopping)")
            if not encoded:
                encoded.append(protocol.encode(job, inputs))
            child, self._spare = self._spare, self._spawn()
            self._running = child
            child.begin(encoded[0] + protocol.encode({"type": "start", "start": start, "skip": sorted(skip),
                                                      "scratch": scratch, "capture": capture_path}),
                        later=bool(job.get("later")))
            return child

        return self._supervised(job, inputs, start_child, self._info, measure=True)

    def close(self) -> None:
        """Stop the spare interpreter and the one running a job (a batch stopped by Ctrl-C); no job runs after this."""
        self._closed = True
        for child in (self._spare, self._running):
            if child is not None:
                child.kill()
        self._remove_jobs_dir()


class _Spawned:
    """One portable child, as supervise.run_job watches it. Its stdout is read by a thread into a
    queue (Windows cannot select() on a pipe), so that a look returns at the child's first frame."""

    wakes_on_frames = True
    _MOST = 4 << 20                  # bytes one look takes: a flooding child must not keep the loop from its deadlines
    _GRACE = 0.5                     # seconds for a child's last bytes to come through the thread after it exited

    def __init__(self, command: list, env: dict, cwd: str):
        self._stderr = tempfile.TemporaryFile()
        group = ({"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if os.name == "nt"
                 else {"start_new_session": True})
        self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                      env=env, cwd=cwd, close_fds=True, **group)
        self._chunks: queue.Queue = queue.Queue(maxsize=16)     # a full queue holds the child back, as a full pipe would
        self._giving: threading.Thread | None = None            # the thread sending the latest part of its job
        self._stop = threading.Event()
        self._closed = False
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def pid(self) -> int:
        """Its process's id (supervise counts a timed call's CPU time by it, where it can)."""
        return self._proc.pid

    def _read(self) -> None:
        """Move the child's stdout into the queue until it closes, or the child is killed."""
        try:
            while True:
                try:
                    data = os.read(self._proc.stdout.fileno(), 1 << 16)
                except OSError:
                    data = b""
                while True:
                    try:
                        self._chunks.put(data, timeout=0.1)
                        break
                    except queue.Full:
                        if self._stop.is_set():
                            return
                if not data:
                    return
        finally:
            self._proc.stdout.close()           # here, never under a read in progress

    def begin(self, job: bytes, later: bool = False) -> None:
        """Wait until it has imported numpy (and torch), then give it its job: the job's time
        limits count from here, not from the interpreter's start. With `later`, its stdin stays
        open for the rest of the job (`give`)."""
        from grader.run import protocol
        reader = protocol.FrameReader()
        deadline = time.monotonic() + BOOT_TIMEOUT
        while not reader.feed(self._ready_bytes(deadline)):
            pass
        try:
            self._proc.stdin.write(job)
            if later:
                self._proc.stdin.flush()
            else:
                self._proc.stdin.close()
        except OSError:
            raise self._failed() from None

    def give(self, data: bytes, last: bool = True) -> None:
        """Send parts of the rest of its job (supervise.held_back) from a thread, after the parts
        before (a child that does not read them must not hold up its time limits); after the
        `last`, close its stdin."""
        stdin = self._proc.stdin
        if stdin.closed:
            return
        before = self._giving

        def write() -> None:
            try:
                if before is not None:
                    before.join()
                stdin.write(data)
                stdin.close() if last else stdin.flush()
            except (OSError, ValueError):
                pass                     # killed, or its stdin closed by kill(): it no longer needs it
        self._giving = threading.Thread(target=write, daemon=True, name="grader-later")
        self._giving.start()

    def _ready_bytes(self, deadline: float) -> bytes:
        wait = deadline - time.monotonic()
        if wait <= 0:
            self.kill()
            raise WorkerError(f"the worker took more than {BOOT_TIMEOUT:.0f} s to start and was stopped")
        data, ended = self.look(wait)
        if ended and not data:
            raise self._failed()
        return data

    def _failed(self) -> WorkerError:
        """Why it ended before it could take its job (Python could not import numpy, say); it is killed."""
        _kill_tree(self._proc)
        error = WorkerError(_exit_message(self._proc, self._stderr))
        self.kill()
        return error

    def look(self, timeout: float) -> tuple[bytes, bool]:
        data = self._take(timeout)
        if self._closed or data or self._proc.poll() is None:
            return data, self._closed
        # It has exited: its last bytes may still be on their way through the thread. A pipe that
        # stays open after that is held by a process it started: it has ended all the same.
        more = self._take(self._GRACE)
        return more, self._closed or not more

    def _take(self, timeout: float) -> bytes:
        """What the queue holds, up to _MOST bytes, waiting up to `timeout` for the first of it."""
        chunks, size = [], 0
        try:
            chunk = self._chunks.get(timeout=timeout) if not self._closed else b""
            while chunk:
                chunks.append(chunk)
                size += len(chunk)
                if size >= self._MOST:
                    break
                chunk = self._chunks.get_nowait()
            self._closed = self._closed or not chunk
        except queue.Empty:
            pass
        return b"".join(chunks)

    def kill(self) -> None:
        """Kill it and everything it started, and reap it."""
        self._stop.set()
        _kill_tree(self._proc)
        try:
            self._proc.stdin.close()
        except OSError:
            pass
        self._stderr.close()


def _kill_tree(proc: subprocess.Popen) -> None:
    """Kill a portable child's process group (POSIX) or process tree (Windows, while it still runs:
    taskkill finds the tree through it), and reap it."""
    if os.name == "nt":
        if proc.poll() is None:
            try:
                subprocess.run(["taskkill", "/T", "/F", "/PID", str(proc.pid)], capture_output=True, timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                pass
    else:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    proc.kill()
    proc.wait()


def _exit_message(proc: subprocess.Popen, stderr) -> str:
    """Why a worker process ended, with the last line it wrote to stderr (a traceback's exception: its
    frames, the grader's own files, are no student's business)."""
    code = proc.wait()
    stderr.seek(0)
    lines = stderr.read()[-2000:].decode("utf-8", "replace").strip().splitlines()
    tail = lines[-1].strip()[:300] if lines else ""
    return "the worker process exited" + (f" with code {code}" if code != UNKNOWN_EXIT else "") + (f": {tail}" if tail else "")


def _add(reply: Reply, header: dict, arrays: list) -> None:
    """Put one frame of the job's reply into the reply; a frame of no known kind, or a result that
    names no case, is ignored."""
    kind = header.get("type")
    if kind == "imported":
        reply.imported = header
    elif kind == "result":
        index = header.get("index")
        if isinstance(index, int) and not isinstance(index, bool):
            reply.results[index] = (header, arrays)
    elif kind == "job_done":
        reply.sandbox = str(header.get("sandbox", ""))
        reply.sandbox_warning = str(header.get("sandbox_warning", ""))


AnyWorker = Union[Worker, PortableWorker]


def zygote_unavailable() -> str:
    """Why the zygote cannot run here, or '' where it can: it forks, and its children need Linux's
    prctl and resource limits."""
    if not sys.platform.startswith("linux"):
        return f"{sys.platform} is not Linux"
    if not hasattr(os, "fork"):
        return "this Python has no os.fork"
    try:
        import resource  # noqa: F401 - only whether it exists
    except ImportError:
        return "this Python has no resource module"
    if not sandbox.has_prctl():
        return "the C library has no prctl"
    return ""


def worker_kind(requested: str | None = None) -> str:
    """'zygote' or 'portable', as `requested` (auto, zygote or portable; by default $GRADER_WORKER,
    else auto): auto is the zygote wherever it can run. A zygote where it cannot run, or an unknown
    kind, is a WorkerError that says so."""
    requested = requested or os.environ.get(WORKER_VARIABLE) or "auto"
    if requested not in WORKER_KINDS:
        raise WorkerError(f"{WORKER_VARIABLE}={requested}: expected one of {', '.join(WORKER_KINDS)}")
    why = zygote_unavailable()
    if requested == "zygote" and why:
        raise WorkerError(f"the zygote worker cannot run here ({why}); use the portable worker")
    if requested == "auto":
        return "portable" if why else "zygote"
    return requested


def start_worker(framework: str = "numpy", layers: tuple | None = None, protect_caller: bool = True,
                 kind: str | None = None) -> AnyWorker:
    """The worker every self-check and batch uses: the zygote where it can run, else the portable
    worker; `kind` (auto, zygote or portable; by default $GRADER_WORKER) chooses (see worker_kind).
    `layers` are the zygote's (the portable worker has none)."""
    if worker_kind(kind) == "portable":
        return PortableWorker(framework, protect_caller=protect_caller)
    return Worker(framework, layers=layers, protect_caller=protect_caller)


def launch_worker(kind: str | None = None) -> Worker | None:
    """A zygote started before the spec is read, where `kind` (see worker_kind) is the zygote; else
    None. Its interpreter starts and imports what every worker imports while the caller reads the
    spec; `tell(framework)` then has it import the framework (a `grader check` starts a fifth of a
    second sooner). Close it if the framework never comes (a spec that does not load)."""
    return Worker(None) if worker_kind(kind) == "zygote" else None


def _preloaded(framework: str) -> list[str]:
    """What a zygote imports beyond numpy, for a framework, before its first fork."""
    return ["torch"] if framework == "torch" else []


def _preload_args(framework: str) -> list[str]:
    return [arg for name in _preloaded(framework) for arg in ("--preload", name)]


def start_workers(framework: str, count: int, first: AnyWorker | None = None) -> list[AnyWorker]:
    """`count` more workers for a batch. Where `first` (else the first of them) is a zygote, the
    others are forked from it (`Worker.sibling`): torch is imported once for all of them."""
    made: list[AnyWorker] = []
    for _ in range(count):
        origin = first or (made[0] if made else None)
        made.append(origin.sibling() if isinstance(origin, Worker) else start_worker(framework))
    return made


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

    pool = ThreadPoolExecutor(max_workers=len(workers))
    try:
        for future in as_completed([pool.submit(one, item) for item in items]):
            yield future.result()
    finally:
        # Stopped early (Ctrl-C, an error): the items not started never start, and the ones running
        # are not waited for here: the caller closes the workers, which ends them at once.
        pool.shutdown(wait=False, cancel_futures=True)

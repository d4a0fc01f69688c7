"""The worker process: imports numpy (and torch) once, then forks a child whenever the grader asks.

Started by `worker.Worker` as `python -I -c "...zygote.main(...)" --control FD [--preload torch |
--preload later] [--remove FOLDER]` (`later`: the grader's first message on FD names them), with
an environment of its own (`sandbox.zygote_environment`). It never imports student code itself
and never runs a torch operation, so that forked children do not inherit a started thread pool
(fork after a parallel torch op can deadlock the child).

Nor does it ever read a submission or a result: the grader's process runs the case loop
(supervise.py) and talks to each child directly. On the control socket FD, this process gets four
kinds of request, each a line of JSON:

- `fork`, with two descriptors: the job (a file holding its frame) and the write end of a pipe for
  the child's frames; and a third, a socket, for a job whose hidden calls come later: the child asks
  for them there when they are due, and the grader sends them once it has every public result
  (supervise.held_back). It forks a child, which confines itself (`sandbox.apply_in_child`), reads its
  job from that file and runs `harness.run`; it answers with the child's pid. A fork that says
  `watch` (some calls run watched: no_loops, no_autograd) first has it take the code of every
  function it holds, once (`execute.remember_library`), for its children to tell the student's from.
- `load`, with one descriptor: a file holding the calls and inputs that a batch's jobs share. It
  decodes them once, and a `fork` that says `loaded` gives them to its child, whose job file then
  holds only the rest (the submission's files): a child no longer decodes 40 cases' arguments.
- `end`, with a pid: it kills that child's whole process group and reaps it.
- `spawn`, with two descriptors: another zygote's control socket and stderr, before any job. It
  forks that zygote (`_spawn`), which answers on its own socket: a batch's workers import torch once,
  and share its heap (this process backs it with huge pages first: `_collapse`).

So a child's memory holds nothing of any other job (another student's answers, the reference's
outputs): it was forked from a process that never saw one. What a `load` brings is the public
cases' arguments, which every child of the batch runs anyway (never the hidden ones). The socket's end is the grader's end: this
process then kills the child it is running (a batch stopped by Ctrl-C, which this process ignores)
and exits; a child whose zygote dies is killed by the kernel.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import signal
import socket
import sys

from grader.run import execute, harness, protocol, sandbox, supervise

_LAYERS: tuple = ()                  # the sandbox layers in use, from the probe at start-up
_LOADED: tuple = ([], [])            # the calls and inputs of a `load` request, for the jobs that say `loaded`
_COLLAPSED = False                   # huge_pages() done, here or in the zygote this one was forked from


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--control", type=int, required=True, help="the socket the grader's requests come on")
    parser.add_argument("--preload", action="append", default=[],
                        help="a framework to import now (torch); `later`: read which from the control socket")
    parser.add_argument("--layers", default=",".join(sandbox.LAYERS),
                        help="sandbox layers to use where they work (comma-separated; empty: process only)")
    parser.add_argument("--remove", default="", help="a folder of the worker's to remove at the end (its TMPDIR): "
                                                     "also when the grader was killed and never closed it")
    opts = parser.parse_args(argv)
    sandbox.protect_self()
    # Ctrl-C at a terminal reaches the grader and this process alike: the grader decides (it stops
    # the batch and closes this process, which then kills the child it is running).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    control = socket.socket(fileno=opts.control)
    wanted = tuple(layer for layer in opts.layers.split(",") if layer in sandbox.LAYERS)
    if "namespaces" in wanted:
        # Before the probe, which then tries what every child does. This process has one thread
        # (its environment holds numpy's BLAS to one): the kernel makes no user namespace otherwise.
        try:
            sandbox.share_namespaces()
        except OSError as e:         # in a user namespace whose ids could not be mapped: nothing works here
            sys.stderr.write(f"the worker could not set up its user namespace ({e})\n")
            os._exit(1)
    import numpy  # noqa: F401 - imported once here, shared by every child
    import numpy.random  # noqa: F401 - numpy imports it lazily; each call seeds it (and a child may not read numpy's folder)
    import random  # noqa: F401
    import resource  # noqa: F401 - each child sets its limits with it: imported here, not once per child (1 ms)
    if "later" in opts.preload:      # started before the grader had read the spec: it says now
        opts.preload = _told_preload(control, opts.remove)
    if "torch" in opts.preload:
        import torch
        torch.set_num_threads(1)     # sets a number; starts no thread pool
        execute.remember_autograd(torch)   # once here: every child inherits it
    global _LAYERS
    _LAYERS, abi = sandbox.probe(wanted)
    sandbox.prepare(_LAYERS)
    # Everything imported so far is shared with every child, copy-on-write. Freezing it keeps the
    # children's garbage collector from touching (and so copying) those pages.
    gc.collect()
    gc.freeze()
    os.dup2(2, 1)                    # a stray print from a library goes to stderr
    _serve(control, opts.remove, {"sandbox": sandbox.describe(_LAYERS, abi), "sandbox_warning": sandbox.warning(_LAYERS),
                                  "measure": "namespaces" not in _LAYERS})


def _told_preload(control: socket.socket, remove: str) -> list:
    """The frameworks to import, from the grader's first message ({"preload": [...]}): a worker
    started before the grader had read the spec (`worker.launch_worker`), so that the start of this
    interpreter and of its imports overlaps with the grader's own. No message (the grader stopped
    before it knew): nothing to do but exit, removing the folder `remove` as at any end."""
    try:
        message = control.recv(1 << 16)
        preload = json.loads(message)["preload"] if message else None
    except (OSError, ValueError, KeyError, TypeError):
        preload = None
    if not isinstance(preload, list):
        if remove:
            shutil.rmtree(remove, ignore_errors=True)
        os._exit(0)
    return [str(name) for name in preload]


def _serve(control: socket.socket, remove: str, info: dict) -> None:
    """Answer `info` (and this process's pid), then the grader's requests, until it closes `control`;
    then exit, removing the folder `remove`."""
    _answer(control, {**info, "pid": os.getpid()})
    forks = 0
    running: set = set()             # children forked and not yet ended
    spawned: set = set()             # zygotes forked and not yet reaped
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 1 << 16, 3)
        except OSError:
            message, fds = b"", []
        if not message:              # the grader closed its end, or died
            break
        request = json.loads(message)
        if request.get("do") == "fork" and len(fds) in (2, 3):
            if forks == 1:           # a batch, not a single check: worth a third of a second once
                _collapse()
            forks += 1
            try:
                pid = _fork_child(control, request, *fds)
            except OSError as e:     # no process to be had (the machine's are all taken): this job fails, not the worker
                _answer(control, {"error": f"the worker could not start a process for this submission ({e})"})
            else:
                running.add(pid)
                _answer(control, {"pid": pid})
        elif request.get("do") == "load" and len(fds) == 1:
            _load(fds[0])
            _answer(control, {"loaded": True})
        elif request.get("do") == "end":
            _kill_and_reap(int(request["pid"]))
            running.discard(int(request["pid"]))
            _answer(control, {"ended": True})
        elif request.get("do") == "spawn" and len(fds) == 2 and not running:
            _collapse()              # a batch: before the fork, so that the sibling shares the huge pages
            spawned.add(_spawn(control, fds[0], fds[1], str(request.get("remove", "")), info))
        _reap(spawned)
        for fd in fds:
            _close(fd)
    for pid in running:              # the grader stopped mid-job (Ctrl-C, killed): its child goes too
        _kill_and_reap(pid)
    _reap(spawned)                   # one still running outlives this process (init reaps it)
    # Tearing down an interpreter that imported torch takes a quarter of a second and has nothing
    # to clean up: the grader removed every job's folder.
    if remove:
        shutil.rmtree(remove, ignore_errors=True)
    sys.stderr.flush()
    os._exit(0)


def _spawn(control: socket.socket, theirs: int, stderr: int, remove: str, info: dict) -> int:
    """Another zygote, forked from this one (a batch's second worker, say): everything imported, one
    torch import for all of them (a second of CPU and some 200 MB each, shared copy-on-write). It
    serves the grader on the socket `theirs`, writes to `stderr`, and has no answer here: its first
    answer, on its own socket, says it is ready. It gets a network namespace of its own where its
    children shared this one's: children of two zygotes run at once, and none may see another's.
    Its pid, for this process to reap it (`_reap`)."""
    pid = os.fork()
    if pid != 0:
        return pid
    try:
        control.close()
        os.dup2(stderr, 2)
        os.dup2(2, 1)
        os.close(stderr)
        if not sandbox.own_network():
            os._exit(1)
        os.environ["TMPDIR"] = remove
        global _LOADED
        _LOADED = ([], [])
        _serve(socket.socket(fileno=theirs), remove, info)
    except BaseException:  # noqa: BLE001 - nothing may escape into the first zygote's loop
        pass
    os._exit(1)


def _reap(spawned: set) -> None:
    """Reap the zygotes forked by `_spawn` that have ended (the grader closes them before this one)."""
    for pid in list(spawned):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            spawned.discard(pid)


def _answer(control: socket.socket, message: dict) -> None:
    try:
        control.sendall(json.dumps(message).encode())
    except OSError:
        pass                         # the grader is gone: the next recv ends this process


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _collapse() -> None:
    """huge_pages(), once. A zygote forked by `_spawn` after it inherits its parent's huge pages,
    shared: collapsing them again would copy them (some 120 MB of torch's heap made private in
    each sibling, and a third of a second of CPU)."""
    global _COLLAPSED
    if not _COLLAPSED:
        _COLLAPSED = True
        huge_pages()


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


def _load(fd: int) -> None:
    """Decode the calls and inputs that a batch's jobs share (a frame in the file open on fd), once:
    every child forked after this inherits them, decoded."""
    global _LOADED
    header, inputs = _read_frame(fd)
    _LOADED = (header["calls"], inputs)
    gc.collect()
    gc.freeze()                      # as at start-up: the children's collector leaves these pages alone


def _fork_child(control: socket.socket, request: dict, job_fd: int, frames: int, later: int | None = None) -> int:
    """Fork a child that reads its job from job_fd, confines itself and runs the job's calls from
    the request's `start`, writing its frames to `frames`; the rest of its calls, where the job
    has more (supervise.held_back), come on `later` once it has sent the ones before. The child's pid."""
    zygote = os.getpid()
    if request.get("watch"):         # a job whose cases run watched: the code there is before any submission, once
        execute.remember_library()
    pid = os.fork()
    if pid != 0:
        return pid
    try:                                                       # the child
        control.close()
        signal.signal(signal.SIGINT, signal.default_int_handler)   # as in any Python process
        sandbox.die_with_parent(zygote)
        job, inputs = _read_frame(job_fd)
        os.close(job_fd)
        if request.get("loaded"):
            job["calls"], inputs = _LOADED
        scratch, capture_path = request["scratch"], request["capture"]
        start, skip = int(request["start"]), set(request["skip"])
        policy = supervise.child_policy(job, scratch)
        open(capture_path, "ab").close()
        capture_fd = os.open(capture_path, os.O_RDONLY)     # before Landlock: it lies outside the scratch folder
        try:
            sandbox.apply_in_child(policy, _LAYERS, capture_path,
                                   keep_fds=(frames, capture_fd) + ((later,) if later is not None else ()))
        except BaseException as e:  # noqa: BLE001 - no student code runs unconfined: every call fails
            harness.refuse(job, inputs, start, skip, frames, e, later_fd=later)
            os._exit(70)
        harness.run(job, inputs, start, skip, frames, capture_fd, later_fd=later)
    except BaseException:  # noqa: BLE001 - nothing may escape the child
        pass
    os._exit(0)


def _read_frame(fd: int) -> tuple[dict, list]:
    """The header and arrays of the frame a file holds (a job's, or a `load`'s), its length prefix skipped."""
    return protocol.decode(_read_file(fd)[4:])


def _read_file(fd: int) -> bytes:
    """The whole of the file open on fd, from its start (the descriptor is shared: no seeking)."""
    size = os.fstat(fd).st_size
    chunks, at = [], 0
    while at < size:
        data = os.pread(fd, min(size - at, 1 << 24), at)
        if not data:
            break
        chunks.append(data)
        at += len(data)
    return b"".join(chunks)


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

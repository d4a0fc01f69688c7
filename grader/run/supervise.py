"""A job's calls, run in children and timed case by case: the loop both workers share.

    >>> run_job(job, inputs, deliver, start_child, {"sandbox": "...", "sandbox_warning": ""}, measure=True)

The zygote forks its children (zygote.py), the portable worker starts a fresh interpreter for each
(worker.PortableWorker); everything else is here, once: the job's folder, the deadlines (the import's,
then each case's from the end of the one before), reading the child's frames, delivering its results,
`timeout` and `crashed` for the case a child was on when it was killed or died, a fresh child for the
cases after it, skipping a function after its time-outs, the disk cap where no tmpfs holds it, and the
caps on what the grader holds of a child's frames (protocol.MAX_HEADER a frame, REPLY_CAP a job).

A child is what `start_child(job, inputs, start, skip, scratch, capture_path)` returns: it runs
`harness.run` from call `start`, skipping the functions in `skip`, in the empty folder `scratch`,
its printed output going to `capture_path`, and offers

- `look(timeout) -> (bytes, ended)`: the bytes of frames it sent since the last look (waiting up to
  `timeout` seconds for some, or for its end), and whether it has ended (exited, or closed its
  channel) with nothing more to read;
- `wakes_on_frames`: whether `look` returns as soon as a frame comes (else only at its end or
  `timeout`), so that a case's time limit starts on time without looks every few milliseconds;
- `kill()`: kill it and everything it started, and reap it.

`deliver(header, arrays)` receives the job's reply frame by frame, decoded once here: the child's
(every string in them made printable: see protocol.printable_text) and the ones this loop writes
(a time limit, a crash, the job's end).
"""
from __future__ import annotations

import math
import os
import shutil
import stat
import sys
import tempfile
import time
from typing import Callable

from grader.run import protocol, sandbox

_IMPORT = "import"                   # what a child is on before it has imported the submission
_SAMPLE = 0.05                       # seconds between looks at a running child's frames
# Bytes one job's children may send back in all (over every child of the job: the fresh one after a
# time-out or a crash spends what is left), counted as they arrive, before they are decoded; a header
# kept until the job is judged (the import's, a result's) counts HEADER_WEIGHT times more, what its JSON
# may take as Python objects (`[{},{},...]`: 24 times its bytes, `{"":{},...}`: 32, measured with
# tracemalloc on Python 3.11). The results stay in memory until the submission is judged, and
# ANSWER_CAP (128 MiB a call) alone would let 40 cases hold 5 GiB; a real assignment's answers take a
# few MiB a case (40 cases of 8 MiB activations are 320 MiB).
REPLY_CAP = 512 << 20
HEADER_WEIGHT = 32


def run_job(job: dict, inputs: list, deliver: Callable[[dict, list], None], start_child: Callable, info: dict,
            measure: bool, root: str | None = None) -> None:
    """Run every call of one job, in as few children as timeouts and crashes allow; `info` goes in
    the job's last frame (the sandbox it ran in). With `measure`, the scratch folder is measured at
    every look (no tmpfs bounds it). The job's folder goes in `root` (default: the temporary folder)."""
    calls = job["calls"]
    lim = job["limits"]
    done: set[int] = set()
    timeouts: dict[str, int] = {}
    budget = _Budget(REPLY_CAP)
    skip: set[str] = set()
    imported = False
    # All of the job's children together, imports included: each case has its limit, but 350 cases
    # that each take just under it would hold a worker for an hour.
    ends = time.monotonic() + float(lim.get("submission_timeout", math.inf))
    job_dir = tempfile.mkdtemp(prefix="grader-", dir=root)
    scratch = os.path.join(job_dir, "work")     # the child's working directory, empty at the start
    os.mkdir(scratch, 0o700)
    if job.get("support"):                      # the assignment's support files, read-only for the child
        job["support_dir"] = _write_support(job_dir, job.pop("support"))

    def forward(header: dict):
        deliver({**header, "job": job["job"]}, [])

    first_job, first_inputs, later = held_back(job, inputs)
    try:
        start = 0
        while start < len(calls):
            if calls[start]["function"] in skip or start in done:
                start += 1
                continue
            capture = os.path.join(job_dir, f"output-{start}.txt")
            child = start_child(first_job, first_inputs, start, skip, scratch, capture)
            try:
                outcome, current, step, why, printed_to = _watch(child, job, start, skip, deliver, done, imported,
                                                                 scratch, measure, budget, ends, later)
            finally:
                child.kill()
                _empty(scratch)
            # What it printed since its last answer, read now that it is dead: the lines of a call that
            # never returned (an infinite loop's progress), or of an import that never ended.
            printed = _printed_after(capture, printed_to) if outcome != "done" else ""
            said = {"stdout": printed} if printed else {}
            imported = True
            if outcome == "done":
                break
            if outcome == "timeout" and time.monotonic() >= ends:
                # The submission's time is spent: the case it was on says so, and no other case runs.
                stopped = start if current == _IMPORT else current
                for i in range(stopped, len(calls)):
                    if i in done or calls[i]["function"] in skip:
                        continue
                    message = (_spent_message if i == stopped else _unrun_message)(lim["submission_timeout"])
                    forward({"type": "result", "index": i, "status": "crashed", **_limit(message), **said})
                    said = {}                    # shown once, with the case it was printed in
                    done.add(i)
                break
            if current == _IMPORT:
                # The child died or hung while importing: no call can run, so none is retried.
                for i in range(start, len(calls)):
                    if i not in done:
                        forward({"type": "result", "index": i, "status": "import_" + outcome, **why, **said})
                        said = {}                # shown once, with the first case
                        done.add(i)
                break
            chain = len(calls[current].get("steps") or ()) > 1          # say which step ran: the forward, or this one
            forward({"type": "result", "index": current, "status": outcome, **why, **said,
                     **({"step": step} if chain else {})})
            done.add(current)
            if outcome == "timeout":
                fn = calls[current]["function"]
                timeouts[fn] = timeouts.get(fn, 0) + 1
                if lim["skip_after_timeouts"] and timeouts[fn] >= lim["skip_after_timeouts"]:
                    skip.add(fn)
            start = current + 1
            if budget.spent:
                for i, call in enumerate(calls):
                    if i not in done and call["function"] not in skip:
                        forward({"type": "result", "index": i, "status": "crashed", **_limit(_not_run_message())})
                        done.add(i)
                break
        for i, call in enumerate(calls):        # cases never run because their function timed out
            if i not in done:
                forward({"type": "result", "index": i, "status": "skipped_after_timeout"})
    finally:
        remove_tree(job_dir)
        forward({"type": "job_done", **info})


_HELD: list = []                     # the last split (held_back), kept for the next job of the same calls


def held_back(job: dict, inputs: list) -> tuple[dict, list, list | None]:
    """What a child of the job gets when it starts, and the frames it gets later: with
    job["later"] = [[B, K], ...] (job.later_parts), the calls from each B up to the next, and the
    inputs from its K up to the next (the arrays only they use), come in a frame of their own, which
    the child reads when it reaches call B and which _watch sends once every call before B has its
    result. A child therefore holds no hidden input while what it prints, raises and returns in
    public cases can still be shown (a submission that walks its process's objects at import finds
    the public calls alone), and no timed call's inputs before its turn. The frames, with the B of
    each: [(B, frame)].

    The split of a batch's calls (the same objects in every job) is made once, and is the same
    objects each time: the zygote holds the first part once for all its children (Worker._shared)."""
    parts = job.get("later")
    if not parts:
        return job, inputs, None
    calls = job["calls"]
    key = tuple(tuple(p) for p in parts)
    held = _HELD[0] if _HELD else None
    if held is None or held[0] is not calls or held[1] is not inputs or held[2] != key:
        from grader.run.execute import watched
        ends = [*key[1:], (len(calls), len(inputs))]
        frames = [(b, protocol.trusted_frame({"calls": calls[b:b2]}, inputs[k:k2])) for (b, k), (b2, k2) in zip(key, ends)]
        held = (calls, inputs, key, calls[:key[0][0]], inputs[:key[0][1]], frames, watched(calls))
        _HELD[:] = [held]
    first = {**job, "calls": held[3], "later": {"inputs": [k for _, k in key], "watch": held[6]}}
    return first, held[4], held[5]


def child_policy(job: dict, scratch: str, cpu_used: float = 0.0) -> sandbox.Policy:
    """What a child of this job may use; `cpu_used`, the CPU seconds it spent before its job (a
    fresh interpreter's start), on top of its CPU time backstop."""
    lim = job["limits"]
    return sandbox.Policy(
        memory=int(lim["memory"]), disk=int(lim["disk"]), submission_dir=job["submission_dir"], scratch=scratch,
        read_only=(job["support_dir"],) if job.get("support_dir") else (),
        cpu_seconds=int(cpu_used + lim["import_timeout"] + lim["case_timeout"] * max(1, lim["n_calls"])) + 1)


def _write_support(job_dir: str, files: dict) -> str:
    """Write {relative path: text} under job_dir/support; its path. Paths that would leave it are skipped."""
    root = os.path.join(job_dir, "support")
    os.mkdir(root, 0o700)
    for rel, text in files.items():
        target = os.path.normpath(os.path.join(root, rel))
        if not target.startswith(root + os.sep):
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(target, 0o400)
    return root


def remove_tree(path: str) -> None:
    """Remove a folder and everything in it, whatever is left; the read-only support files too
    (Windows refuses to delete a read-only file)."""
    if os.name == "nt":
        for folder, _, files in os.walk(path):
            for name in files:
                try:
                    os.chmod(os.path.join(folder, name), stat.S_IWRITE)
                except OSError:
                    pass
    try:
        shutil.rmtree(path, ignore_errors=True)
    except RecursionError:               # folders a child nested thousands deep: shutil recurses per level
        _remove_deep(path)


def _remove_deep(path: str) -> None:
    """Remove a folder tree of any depth, without recursion and with two descriptors open at most:
    down into the first subfolder, removing files on the way, and back up through '..' once a
    folder is empty. The child that made it is gone, so nothing moves while this runs."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    names: list = []
    try:
        while True:
            sub = None
            with os.scandir(fd) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        sub = sub or entry.name
                    else:
                        try:
                            os.unlink(entry.name, dir_fd=fd)
                        except OSError:
                            pass
            if sub is not None:
                inner = os.open(sub, flags, dir_fd=fd)
                os.close(fd)
                fd = inner
                names.append(sub)
            elif names:
                outer = os.open("..", flags, dir_fd=fd)
                os.close(fd)
                fd = outer
                os.rmdir(names.pop(), dir_fd=fd)
            else:
                break
    except OSError:
        pass
    finally:
        os.close(fd)
    try:
        os.rmdir(path)
    except OSError:
        pass


class _Budget:
    """What one job's children may still send back (REPLY_CAP), spent by all of them in turn: every
    frame's bytes, and a kept header's HEADER_WEIGHT times more. A reader is never given more bytes
    than are left, so that it cannot hold more either."""

    def __init__(self, cap: int):
        self.left = cap
        self.spent = False          # it went past the cap: the job runs no more cases

    def take(self, data: bytes, reader: protocol.FrameReader) -> bytes:
        """The part of `data` that `reader` may hold on top of what it holds; past it, the budget is spent."""
        room = max(self.left - reader.held, 0)
        if len(data) > room:
            data, self.spent = data[:room], True
        return data

    def count(self, payload: bytes) -> None:
        """Count a frame the reader gave out (it held it: within what was left)."""
        self.left -= 4 + len(payload)

    def count_held(self, reader: protocol.FrameReader) -> None:
        """Count what a reader still holds when its child is done with: a frame it never finished."""
        self.left -= reader.held

    def keep(self, payload: bytes) -> bool:
        """Count the header of a frame kept until the job is judged; False if that spends the budget."""
        self.left -= HEADER_WEIGHT * int.from_bytes(payload[:4], "little")
        self.spent = self.spent or self.left < 0
        return self.left >= 0


def _watch(child, job, start, skip, deliver, done, imported, scratch, measure, budget, ends=math.inf, later=None):
    """Deliver one child's frames until it is done, dies, hangs or writes too much; give it each
    part of `later` (held_back) once every call before that part has its result. Returns (outcome,
    index it was on, the step of that call it had reached: 0 unless a chain said it went further,
    {"error": why it was stopped} or {}, where in its capture file its output after its last answer starts)."""
    lim = job["limits"]
    disk = int(lim["disk"])
    reader = protocol.FrameReader(max_header=protocol.MAX_HEADER)
    current = _IMPORT
    step = 0
    printed_to = 0                  # where in its capture file what it printed since its last answer starts
    deadline = min(time.monotonic() + lim["import_timeout"], ends)
    outcome = None
    # A case's time limit counts from the first look that saw the one before it finish: at most
    # `sample` late where looks come only every `sample` seconds. A child that wakes this loop at
    # each frame needs no looks in between, unless its scratch folder is to be measured.
    sample = min(_SAMPLE, lim["case_timeout"] / 20, lim["import_timeout"] / 20)
    why: dict = {}
    held = list(later or ())
    # A timed call's CPU time as the kernel counts it for the child's process, from before its part
    # is given to its result read: the child's own clock is the student's to stop (`cpu`, checks._speed).
    clock = _cpu_clock(child) if held and any(c.get("timed") for c in job["calls"]) else None
    began: tuple | None = None      # (index, CPU seconds then) of the timed call whose part was given
    while outcome is None:
        if held and current != _IMPORT:
            # The parts every call before which has its result: the first, once every public
            # result is in (nothing the child does now reaches them); a timed call's, once the
            # calls before it are done.
            due = 0
            while due < len(held) and (current is None or current >= held[due][0]):
                due += 1
            if due:
                if clock is not None and current is not None and job["calls"][current].get("timed") \
                        and any(b == current for b, _ in held[:due]):
                    began = (current, _cpu_seconds(clock))
                child.give(b"".join(frame for _, frame in held[:due]), last=due == len(held))
                del held[:due]
        wait = deadline - time.monotonic()
        if wait <= 0:
            outcome = "timeout"
            break
        data, ended = child.look(wait if child.wakes_on_frames and not measure else min(wait, sample))
        try:
            for payload in reader.frames(budget.take(data, reader)):
                budget.count(payload)
                header, arrays = _read(payload)
                kind = header.get("type")
                if measure and kind == "result" and _over_disk(scratch, disk):
                    # Before the answer is taken (such a child wakes this loop at each frame): a call
                    # that wrote past the cap and returned between two looks is stopped all the same.
                    outcome, why = "crashed", _limit(_disk_message(disk))
                    break
                at = header.get("out_at")
                if kind in ("imported", "result") and type(at) is int and printed_to <= at <= _CAPTURE_MAX:
                    printed_to = at        # a forged one moves it within the child's own capture file, forward only
                if kind == "imported" and current == _IMPORT:
                    if not imported:
                        if not budget.keep(payload):
                            break
                        deliver(header, arrays)
                    current = _pending_from(job, skip, start)
                    deadline = min(time.monotonic() + lim["case_timeout"], ends)
                elif kind == "step":
                    if header.get("index") == current and isinstance(header.get("step"), int):
                        step = header["step"]       # kept here: only a time limit or a crash reports it
                elif kind == "result":
                    index = header.get("index")
                    if type(index) is not int or index != current or index in done:
                        raise protocol.ProtocolError("result out of order")
                    if not budget.keep(payload):
                        break
                    header["cpu"] = None                # the grader's alone: one the child sent is dropped
                    if began is not None and began[0] == index:
                        ended_at = _cpu_seconds(clock)
                        if began[1] is not None and ended_at is not None:
                            header["cpu"] = max(0.0, ended_at - began[1])
                        began = None
                    deliver(header, arrays)
                    done.add(index)
                    current = _pending_from(job, skip, index + 1)
                    step = 0
                    deadline = min(time.monotonic() + lim["case_timeout"], ends)
                elif kind == "done":
                    # Trusted only when every call it had to run has a result: a forged
                    # "done" is this child's crash, and the next child goes on.
                    outcome = "done" if _all_done(job, done, skip) else "crashed"
                    break
        except protocol.OverLimit as e:
            outcome, why = "crashed", _limit(_frame_message(e))
            break
        except (protocol.ProtocolError, KeyError, TypeError, ValueError, OverflowError):
            outcome = "crashed"
            break
        if outcome is None and budget.spent:
            outcome, why = "crashed", _limit(_reply_message())
            break
        if outcome is None and ended:
            outcome = "crashed"          # it ended, or closed its channel, before saying it was done
        if outcome is None and measure and _over_disk(scratch, disk):
            outcome, why = "crashed", _limit(_disk_message(disk))
    budget.count_held(reader)
    if current is None:             # every call has its result: what the child did after does not matter
        outcome = "done"
    return outcome, current, step, why, printed_to


def _cpu_clock(child) -> int | None:
    """The clock of the CPU time the child's process has used, all its threads together, as the
    kernel counts it (Linux's clock_getcpuclockid, made from the pid as glibc makes it: the
    scheduler's count, to the nanosecond, a running thread's included); None where there is no
    such clock to read (no pid, not Linux)."""
    pid = getattr(child, "pid", None)
    if type(pid) is not int or pid <= 0 or not hasattr(time, "clock_gettime") or not sys.platform.startswith("linux"):
        return None
    return ((~pid) << 3) | 2                # CPUCLOCK_SCHED of the whole process (not one thread's)


def _cpu_seconds(clock: int) -> float | None:
    """What `clock` (_cpu_clock) reads now; None once the process is gone."""
    try:
        return time.clock_gettime(clock)
    except (OSError, OverflowError, ValueError):
        return None


def _printed_after(path: str, at: int, most: int = 8 << 10) -> str:
    """What a dead child printed from byte `at` of its capture file, made printable: its last `most`
    bytes, from a line's start (an infinite loop's latest progress), after a line saying how much
    came before. "" when there is nothing, or the file cannot be read."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if not 0 <= at < size:
                return ""
            start = max(at, size - most)
            f.seek(start)
            data = f.read(most)
    except (OSError, ValueError, OverflowError):
        return ""
    if start > at and b"\n" in data[:-1]:
        cut = data.index(b"\n") + 1                 # from the start of a line
        start, data = start + cut, data[cut:]
    text = protocol.printable_text(data.decode("utf-8", "replace"))
    if not text.strip():
        return ""
    return (f"[... {start - at:,} earlier bytes of output not shown]\n" if start > at else "") + text


_CAPTURE_MAX = 1 << 40               # no capture file is larger (a child's files are capped at 1 MiB)


def _read(payload: bytes) -> tuple[dict, list]:
    """A child's frame, its strings made printable. A frame whose arrays do not describe its bytes (the
    child can write anything into its pipe) keeps its type and index and says status `invalid`: that
    result is its case's crash, and the job goes on. A header that cannot be read raises ProtocolError."""
    try:
        return protocol.decode(payload, printable=True)
    except protocol.ProtocolError:
        header = protocol.peek(payload)
        return {"type": header.get("type"), "index": header.get("index"), "status": "invalid"}, []


def _empty(scratch: str) -> None:
    """The next child starts with an empty scratch folder, as it does on a tmpfs of its own."""
    try:
        if not os.listdir(scratch):
            return
    except OSError:
        pass
    remove_tree(scratch)
    os.makedirs(scratch, 0o700, exist_ok=True)


def _over_disk(scratch: str, disk: int) -> bool:
    used, entries = sandbox.scratch_usage(scratch)
    return used > disk or entries > sandbox.DISK_FILES


def _disk_message(disk: int) -> str:
    return (f"it wrote more than the grader allows on disk ({disk >> 20} MiB or {sandbox.DISK_FILES:,} files "
            "in all) and was stopped")


def _limit(message: str) -> dict:
    """The `error` of a case stopped at a limit of the grader's own, which the report shows as it is."""
    return {"error": {"kind": "limit", "message": message}}


def _frame_message(e: protocol.OverLimit) -> str:
    """Why a child was stopped at a frame over protocol.MAX_HEADER or MAX_FRAME (forged: no answer makes one)."""
    if e.what == "header":
        return (f"it sent back an answer described in {e.size:,} bytes (its structure and strings, besides its "
                f"arrays), more than the {e.limit >> 20} MiB the grader reads, and was stopped")
    return (f"it sent back {e.size:,} bytes in one piece, more than the {e.limit >> 20} MiB the grader reads, "
            "and was stopped")


def _reply_message() -> str:
    return (f"it sent back more than {REPLY_CAP >> 20} MiB in all (this submission's answers, over all its cases, "
            "as the grader holds them) and was stopped")


def _spent_message(seconds: float) -> str:
    return (f"stopped: this submission's imports and cases had run for {seconds:g} s in all, the most one submission "
            "may take (the assignment's limits.submission_timeout)")


def _unrun_message(seconds: float) -> str:
    return (f"not run: this submission's imports and cases before it had run for {seconds:g} s in all, the most one "
            "submission may take (the assignment's limits.submission_timeout)")


def _not_run_message() -> str:
    return (f"not run: the cases before it sent back more than {REPLY_CAP >> 20} MiB in all, the most the grader "
            "holds of one submission's answers")


def _pending_from(job, skip, index):
    """The call a child runs after the ones before `index`: the next whose function is not skipped
    (None when there is none left)."""
    for i in range(index, len(job["calls"])):
        if job["calls"][i]["function"] not in skip:
            return i
    return None


def _all_done(job, done, skip) -> bool:
    return all(i in done or c["function"] in skip for i, c in enumerate(job["calls"]))

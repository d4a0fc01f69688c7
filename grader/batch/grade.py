"""Grading a class in parallel: each unfinished submission on a warm worker, or on a Dask cluster.

    grader grade submissions/ --assignment linear_classifier --out graded/ [--workers N]

Each student's result is written atomically to `OUT/<student>/result.json` (with a fingerprint of
what was graded: the student's files, the spec, the reference, the grader version) together with
`feedback.txt` and Gradescope's `results.json` (store.py). A run that is killed and started again
grades only the students whose result is missing or whose fingerprint changed. The class-level
exports (`gradebook.csv`, `junit.xml`, `report.html`) are rewritten from all per-student results
at the end, and by `grader merge` from the folders of several shards.
"""
from __future__ import annotations

import gc
import hashlib
import os
import sys
import time
from pathlib import Path

from grader.batch.discover import Submission
from grader.batch.store import UNWRITTEN, load_finished, write_student
from grader.results import SubmissionResult
from grader.spec import AssignmentSpec


def shard(submissions: list[Submission], index: int, count: int) -> list[Submission]:
    """Shard `index` (1-based) of `count`: the students whose id hashes to it. Shards are disjoint,
    about equal in a class of any size, and a student stays in the same shard when others are
    added or removed (shards run at different times still cover the class once)."""
    return [s for s in submissions if int.from_bytes(hashlib.sha256(s.student.encode()).digest()[:8], "big") % count == index - 1]


def grade_batch(spec: AssignmentSpec, submissions: list[Submission], out: Path, workers: int = 0,
                hidden: bool = True, progress=None, scheduler: str | None = None,
                on_result=None, started: list | None = None) -> list[SubmissionResult]:
    """Grade every unfinished submission, in parallel; returns all results, earlier ones included.
    `on_result(result)` is called in this thread for each one graded now, once it is on disk.
    `started` are workers the caller started already (importing while it found the submissions):
    as many as are needed are used, the others closed at once, all of them by the end."""
    from grader.grade import Prepared, error_result, grade_or_report
    from grader.run.worker import AnyWorker, on_workers, start_workers

    started = started or []
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, SubmissionResult] = {}
    todo = []
    for sub in submissions:
        earlier = load_finished(out, sub, hidden)
        if earlier is not None:
            results[sub.student] = earlier
        else:
            todo.append(sub)
    if progress:
        progress.start(len(submissions), already=len(results))
    if not todo:
        _close(started)
        return [results[s.student] for s in submissions]

    def finish(sub: Submission, result: SubmissionResult) -> None:
        # A result the grader could not finish (its worker failed) is written, and graded again next time.
        result.student, result.fingerprint = sub.student, "" if result.grading_error else sub.fingerprint
        result.submission = sub.origin or result.submission        # not the staging copy, gone after the run
        try:
            write_student(out, result)
        except OSError as e:           # a file where the student's folder goes, a full disk: this student's failure only
            result.grading_error = f"{UNWRITTEN} to {out / sub.student} ({e.strerror or e})"
            result.fingerprint = ""
        results[sub.student] = result
        # The results are kept to the end: move them out of the cyclic garbage collector's sight, or
        # its full collections walk an ever larger heap (about 1 s of a 1,000-student batch).
        gc.freeze()
        if progress:
            progress.advance(result)
        if on_result:
            on_result(result)

    for sub in [sub for sub in todo if sub.problem]:              # nothing to run: an archive that did not unpack
        finish(sub, error_result(spec, sub.path, hidden, sub.problem))
        todo.remove(sub)
    if not todo:
        _close(started)
        return [results[s.student] for s in submissions]
    if scheduler:
        from grader.batch.distributed import grade_on_dask
        grade_on_dask(scheduler, spec, todo, hidden, finish)
    else:
        count = min(workers or os.cpu_count() or 1, len(todo))
        made: list[AnyWorker] = []
        try:
            # The workers compute the references and the catalogued mistakes' outputs, in children
            # of their own: this process never imports torch (a second of CPU, 200 MB).
            made += started[:count]
            _close(started[count:])            # fewer students left than workers: not left importing torch
            made += start_workers(spec.framework, count - len(made), first=made[0] if made else None)
            prepared = Prepared(spec, hidden, worker=made[0])
            prepared.mistakes.prime(prepared.cases, workers=made)

            def one(worker: AnyWorker, sub: Submission) -> tuple[Submission, SubmissionResult]:
                result = grade_or_report(spec, sub.path, hidden, worker, prepared)
                if result.grading_error:         # once more (a worker that died starts afresh for it)
                    result = grade_or_report(spec, sub.path, hidden, worker, prepared)
                return sub, result

            for sub, result in on_workers(made, one, todo):
                finish(sub, result)
        finally:
            _close(made)
    return [results[s.student] for s in submissions]


def _close(workers: list) -> None:
    for worker in reversed(workers):   # a worker forked from the first (Worker.sibling) before it: the first reaps it
        worker.close()


# ---------------------------------------------------------------------------------------------
# Progress


class Progress:
    """A progress bar with count, rate and ETA on a terminal; a plain line every 10% elsewhere (CI)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.total = self.done = self.already = 0
        self.t0 = time.monotonic()
        self._next_line = 0

    def start(self, total: int, already: int = 0) -> None:
        self.total, self.already, self.done = total, already, already
        self.t0 = time.monotonic()
        if already:
            self._write(f"{already} of {total} already graded (unchanged since): skipped\n")
        self._show()

    def advance(self, result: SubmissionResult) -> None:
        self.done += 1
        self._show()

    def finish(self) -> None:
        if self.tty:
            self._write("\n")

    def _show(self) -> None:
        new = self.done - self.already
        elapsed = max(time.monotonic() - self.t0, 1e-9)
        rate = new / elapsed
        left = self.total - self.done
        eta = f"{left / rate:.0f} s" if rate > 0 else "?"
        text = f"{self.done}/{self.total} graded, {rate:.1f}/s, ETA {eta}"
        if self.tty:
            width = 30
            filled = int(width * self.done / max(self.total, 1))
            self._write(f"\r[{'#' * filled}{'-' * (width - filled)}] {text}   ")
        elif self.done >= self._next_line or self.done == self.total:
            self._write(text + "\n")
            self._next_line = self.done + max(1, self.total // 10)

    def _write(self, text: str) -> None:
        if self.stream is None:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except (BrokenPipeError, ValueError):       # nobody reads it any more (`| head`): grade on, quietly
            self.stream = None

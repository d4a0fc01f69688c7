"""Grading on a Dask cluster: `grader grade ... --scheduler tcp://HOST:PORT`.

Each Dask worker process keeps the assignment's prepared cases and one warm grader worker (zygote)
per thread, all forked from the first (one torch import), and grades the submissions it is given; results travel back as plain dicts (the JSON
report), and the client writes every file. Submissions and the assignment must be at the same
paths on every machine (a shared file system), as with any Dask job that reads files; a worker
whose copy of the spec differs stops the batch with a message saying so. A task that fails (a
Dask worker killed repeatedly) is that student's error result; the batch goes on.

    pip install 'grader[dask]'
    dask scheduler & dask worker tcp://HOST:8786 &
    grader grade submissions/ -a linear_classifier --out graded/ --scheduler tcp://HOST:8786
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from grader.results import SubmissionResult
from grader.spec import AssignmentSpec

CONNECT_TIMEOUT = 30                 # seconds to reach the scheduler before saying so

# Per Dask worker process: (spec path, hidden) -> [spec digest, spec, prepared cases, {thread: grader
# worker}, [grader workers no thread has yet]]. A Dask worker may run several tasks at once (one per
# thread), and a grader worker runs one job at a time, so each thread has its own: all made at the
# first task, the others forked from the first (one torch import). A spec that changed since (a
# long-lived cluster) replaces the entry, and its grader workers are closed. The prepared cases are made by the first
# task, with its grader worker: the reference and the catalogued mistakes run in that worker's
# children, so that the Dask worker process itself never imports torch.
_STATE: dict = {}
_LOCK = threading.Lock()


def grade_remote(spec_path: str, submission: str, hidden: bool, digest: str) -> dict:
    """Runs on a Dask worker: grade one submission with this thread's warm grader worker."""
    from grader.grade import Prepared, grade_or_report
    entry = _entry(spec_path, hidden, digest)
    spec, workers, spare = entry[1], entry[3], entry[4]
    with _LOCK:
        worker = workers.get(threading.get_ident())
        if worker is None:
            if not spare:            # one for each of this Dask worker's threads, forked from the first: one torch import
                from grader.run.worker import start_workers
                spare.extend(start_workers(spec.framework, max(1, _threads() - len(workers))))
            worker = workers[threading.get_ident()] = spare.pop(0)
        if entry[2] is None:
            entry[2] = Prepared(spec, hidden, worker=worker)
    return grade_or_report(spec, Path(submission), hidden, worker, entry[2]).to_dict()


def _entry(spec_path: str, hidden: bool, digest: str) -> tuple:
    from grader.batch.discover import BatchError, spec_digest
    from grader.spec import load_spec

    key = (spec_path, hidden)
    with _LOCK:
        entry = _STATE.get(key)
        if entry is None or entry[0] != digest:
            spec = load_spec(spec_path)
            if spec_digest(spec) != digest:
                raise BatchError(f"{spec_path} on this Dask worker is not the spec the grader has: "
                                 "the submissions and the assignment must be the same files on every machine")
            if entry is not None:
                for worker in reversed([*entry[3].values(), *entry[4]]):   # those forked from the first, first
                    worker.close()
            entry = _STATE[key] = [digest, spec, None, {}, []]
        return entry


def _threads() -> int:
    """How many tasks this Dask worker runs at once (its threads), 1 where that cannot be told."""
    try:
        from distributed import get_worker
        worker = get_worker()
        return int(getattr(getattr(worker, "state", worker), "nthreads", None) or getattr(worker, "nthreads", 1) or 1)
    except (ImportError, ValueError, TypeError, AttributeError):
        return 1


def grade_on_dask(scheduler: str, spec: AssignmentSpec, submissions: list, hidden: bool,
                  finish: Callable[[object, SubmissionResult], None]) -> None:
    """Grade `submissions` on the cluster; each result goes to `finish` as it arrives. A task that
    fails (its Dask worker killed again and again, say) is that student's error result."""
    from grader.batch.discover import BatchError, spec_digest
    from grader.grade import error_result
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise BatchError("--scheduler needs Dask: pip install 'grader[dask]'") from None
    client = _connect(Client, scheduler)
    digest = spec_digest(spec)
    with client:
        futures = {client.submit(grade_remote, str(spec.path.resolve()), str(sub.path.resolve()), hidden, digest,
                                 key=f"grade-{sub.student}-{sub.fingerprint[:16]}", pure=False): sub for sub in submissions}
        for future in as_completed(futures):
            sub = futures[future]
            try:
                result = SubmissionResult.from_dict(future.result())
            except BatchError:
                raise
            except Exception as e:  # noqa: BLE001 - this submission's task failed, not the batch
                result = error_result(spec, sub.path, hidden, f"the grader's Dask task failed on this submission "
                                      f"({type(e).__name__}: {str(e)[:300]}); please tell your instructor")
            finish(sub, result)


def _connect(client_class, scheduler: str):
    """A Dask client of `scheduler`, or a BatchError within CONNECT_TIMEOUT (and a few seconds).

    The client is made in a thread of its own: something that accepts the connection but is not a
    Dask scheduler (a web server, a proxy) can leave the client waiting for its answer forever."""
    from grader.batch.discover import BatchError
    made: dict = {}

    def connect() -> None:
        try:
            made["client"] = client_class(scheduler, timeout=CONNECT_TIMEOUT)
        except Exception as e:  # noqa: BLE001 - reported below, whatever it is
            made["error"] = e

    thread = threading.Thread(target=connect, daemon=True, name="grader-dask-connect")
    thread.start()
    thread.join(CONNECT_TIMEOUT + 5)
    if "client" in made:
        return made["client"]
    error = made.get("error")
    what = f"{type(error).__name__}: {str(error)[:200]}" if error else f"no answer within {CONNECT_TIMEOUT} s"
    raise BatchError(f"--scheduler {scheduler}: no Dask scheduler answered there ({what})")

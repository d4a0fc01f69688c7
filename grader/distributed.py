"""Grading on a Dask cluster: `grader grade ... --scheduler tcp://HOST:PORT`.

Each Dask worker process keeps one warm grader worker (zygote) and the assignment's prepared
cases, and grades the submissions it is given; results travel back as plain dicts (the JSON
report), and the client writes every file. Submissions and the assignment must be at the same
paths on every machine (a shared file system), as with any Dask job that reads files.

    pip install 'grader[dask]'
    dask scheduler & dask worker tcp://HOST:8786 --nthreads 1 &
    grader grade submissions/ -a linear_classifier --out graded/ --scheduler tcp://HOST:8786
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from .results import SubmissionResult
from .spec import AssignmentSpec

_STATE: dict = {}        # per Dask worker process: (spec path, hidden) -> (spec, prepared, worker)


def grade_remote(spec_path: str, submission: str, hidden: bool) -> dict:
    """Runs on a Dask worker: grade one submission with this process's warm grader worker."""
    from .grade import Prepared, grade_or_report
    from .run.worker import Worker
    from .spec import load_spec

    key = (spec_path, hidden)
    if key not in _STATE:
        spec = load_spec(spec_path)
        _STATE[key] = (spec, Prepared(spec, hidden), Worker(spec.framework))
    spec, prepared, worker = _STATE[key]
    return grade_or_report(spec, Path(submission), hidden, worker, prepared).to_dict()


def grade_on_dask(scheduler: str, spec: AssignmentSpec, submissions: list, hidden: bool,
                  finish: Callable[[object, SubmissionResult], None]) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:
        from .batch import BatchError
        raise BatchError("--scheduler needs Dask: pip install 'grader[dask]'") from None
    with Client(scheduler) as client:
        futures = {client.submit(grade_remote, str(spec.path.resolve()), str(sub.path.resolve()), hidden,
                                 key=f"grade-{sub.student}-{sub.fingerprint[:16]}", pure=False): sub for sub in submissions}
        for future in as_completed(futures):
            finish(futures[future], SubmissionResult.from_dict(future.result()))

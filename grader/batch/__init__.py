"""Grading a class: find the submissions (discover.py), grade them in parallel on warm workers or a
Dask cluster (grade.py, distributed.py), and keep each result and the class exports on disk (store.py).

    grader grade submissions/ --assignment linear_classifier --out graded/ [--workers N]
"""
from grader.batch.discover import EXPORTS, BatchError, Submission, discover, fingerprint, look_through, spec_digest
from grader.batch.grade import Progress, grade_batch, shard
from grader.batch.store import (LOCK_FILE, RESULT_FILE, UNWRITTEN, collect, load_finished, merge, others_in,
                                write_exports, write_student, writing_into)

__all__ = ["EXPORTS", "LOCK_FILE", "RESULT_FILE", "BatchError", "Progress", "Submission", "collect", "discover",
           "fingerprint", "grade_batch", "load_finished", "look_through", "merge", "others_in", "shard",
           "spec_digest", "UNWRITTEN", "write_exports", "write_student", "writing_into"]

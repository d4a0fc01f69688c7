"""The student calls alone, timed in the grader's sandboxed child, in a child without the sandbox, and
in a bare fork: does the child we run them in make the student's code slower?

    python benchmarks/child.py [--rounds 6]

One submission (the example `ada`), all 40 cases. Two warm workers (every sandbox layer, and
process isolation only) and a bare-fork process like batch.py's take turns, five submissions each
per round, one at a time, so that all three see the same machine. Each submission's figure is the
sum of its calls' own durations, as the harness measures them (fn(*args) only).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.batch import CALLS, write_inputs  # noqa: E402
from grader.grade import Prepared, grade_submission  # noqa: E402
from grader.run.worker import Worker  # noqa: E402
from grader.spec import load_spec  # noqa: E402

# torch imported once, then per submission a child that makes the calls and prints their seconds.
BARE = CALLS + """
import os, sys
if sys.argv[2] == "huge":
    sys.path.insert(0, sys.argv[3])
    from grader.run.zygote import huge_pages
    huge_pages()                                      # as the worker does before its second job
data = dict(np.load(sys.argv[1]))
for path in sys.argv[4:]:
    pid = os.fork()
    if pid == 0:
        print(calls(path, data), flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    spec = load_spec(REPO / "assignments" / "linear_classifier")
    submission = REPO / "examples" / "linear_classifier" / "ada"
    prepared = Prepared(spec, hidden=True)
    seconds: dict[str, list[float]] = {"sandboxed child": [], "child, no sandbox": [], "bare fork": [],
                                       "bare fork, 2 MiB pages": []}
    with tempfile.TemporaryDirectory() as tmp, Worker(spec.framework) as strong, \
            Worker(spec.framework, layers=()) as minimal:
        inputs = write_inputs(Path(tmp))
        workers = {"sandboxed child": strong, "child, no sandbox": minimal}
        for worker in workers.values():                     # warm-up
            grade_submission(spec, submission, hidden=True, worker=worker, prepared=prepared)
        for _ in range(args.rounds):
            for name, worker in workers.items():
                for _ in range(5):
                    result = grade_submission(spec, submission, hidden=True, worker=worker, prepared=prepared)
                    seconds[name].append(sum(c.duration or 0.0 for c in result.cases()))
            for name, pages in (("bare fork", "small"), ("bare fork, 2 MiB pages", "huge")):
                out = subprocess.run([sys.executable, "-c", BARE, str(inputs), pages, str(REPO),
                                      *[str(submission / "linear_classifier.py")] * 6],
                                     capture_output=True, text=True, check=True).stdout.split()
                seconds[name] += [float(x) for x in out[1:]]  # the first child warms up
    print(f"student calls per submission (40 cases), {args.rounds * 5} submissions each, one at a time:")
    bare = statistics.median(seconds["bare fork"])
    for name, values in seconds.items():
        median = statistics.median(values)
        print(f"  {name:<24} median {median * 1000:6.1f} ms   fastest {min(values) * 1000:6.1f} ms   "
              f"{median / bare:.2f}x the bare fork")


if __name__ == "__main__":
    main()

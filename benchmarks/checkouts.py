"""What a change costs per submission: two checkouts of grader grade the same submission on a warm
worker, taking turns, and each prints the machine's CPU time and the wall clock per submission.

    python benchmarks/checkouts.py OLD_CHECKOUT [NEW_CHECKOUT] [--rounds 3] [-n 40]

    git worktree add ../before HEAD~1 && python benchmarks/checkouts.py ../before

NEW_CHECKOUT defaults to this one. Each round runs one process per checkout, one after the other:
it starts a worker, computes the references and the catalogued mistakes there, grades `bob` (hidden
cases included: wrong answers, diagnosed) three times to warm up, then n times. The CPU time is the
whole machine's (/proc/stat: Linux only, every process and the kernel's work on their behalf), so it counts the
worker, its children and the grader alike; run it on an otherwise idle machine.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

ONE = """
import os, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from grader.grade import Prepared, grade_submission
from grader.run.worker import Worker
from grader.spec import load_spec


def cpu():
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")      # all but idle and iowait


tree, n = Path(sys.argv[1]), int(sys.argv[2])
spec = load_spec(tree / "assignments" / "linear_classifier")
submission = tree / "examples" / "linear_classifier" / "bob"
with Worker(spec.framework) as worker:
    prepared = Prepared(spec, True, worker=worker)
    prepared.mistakes.prime(prepared.cases, workers=[worker])
    for _ in range(3):
        grade_submission(spec, submission, hidden=True, worker=worker, prepared=prepared)
    time.sleep(0.5)
    c0, t0 = cpu(), time.perf_counter()
    for _ in range(n):
        grade_submission(spec, submission, hidden=True, worker=worker, prepared=prepared)
    wall = time.perf_counter() - t0
    time.sleep(0.3)                                  # what the kernel finishes after the last child
    print((cpu() - c0) / n, wall / n)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path, nargs="?", default=REPO)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("-n", type=int, default=40)
    args = parser.parse_args()
    seen: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
    for _ in range(args.rounds):
        for name, tree in (("old", args.old), ("new", args.new)):
            out = subprocess.run([sys.executable, "-c", ONE, str(tree.resolve()), str(args.n)],
                                 capture_output=True, text=True, check=True).stdout.split()
            seen[name].append((float(out[0]), float(out[1])))
    print(f"one submission (bob, 40 cases), {args.n} per round, {args.rounds} rounds, medians:")
    for name, tree in (("old", args.old), ("new", args.new)):
        cpu = statistics.median(c for c, _ in seen[name])
        wall = statistics.median(w for _, w in seen[name])
        print(f"  {name} ({tree}): CPU {cpu * 1000:6.1f} ms   wall {wall * 1000:6.1f} ms   "
              f"rounds: {', '.join(f'{c * 1000:.0f}' for c, _ in seen[name])} ms CPU")
    cpu_ratio = statistics.median(c for c, _ in seen["new"]) / statistics.median(c for c, _ in seen["old"])
    wall_ratio = statistics.median(w for _, w in seen["new"]) / statistics.median(w for _, w in seen["old"])
    print(f"  new / old: CPU {cpu_ratio:.2f}x, wall {wall_ratio:.2f}x")


if __name__ == "__main__":
    main()

"""How long a self-check takes, against what any out-of-process grader must pay, in one run.

    python benchmarks/check.py [--repeat 5] [--cpus 0]

--cpus runs everything on those CPUs only (a comma-separated list, e.g. 0 for one CPU: Gradescope
gives an autograder half a virtual CPU by default).

Prints, side by side (medians of --repeat runs):
- baseline: a fresh interpreter that only imports torch (the floor for running student torch
  code outside the grader's process);
- `grader check` on the example submission, public and --hidden, as a student or CI runs it, and
  --hidden on a submission with mistakes to diagnose (as Gradescope's run_autograder runs it); each
  with the Linux zygote and, beside it, the portable worker (GRADER_WORKER=portable: how a self-check
  runs on macOS and Windows), the two taking turns;
- a warm worker reused for several submissions (what batch grading builds on): time per
  submission, the student's own calls in it, and the grader's overhead above them.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "linear_classifier" / "ada"
WRONG = REPO / "examples" / "linear_classifier" / "bob"


def wall(cmd: list[str], worker: str | None = None) -> float:
    env = {**os.environ, "GRADER_WORKER": worker} if worker else None
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=False, capture_output=True, env=env)
    return time.perf_counter() - t0


def both_workers(cmd: list[str], repeat: int) -> tuple[float, float]:
    """Medians of `cmd` with the zygote and with the portable worker, run in turns."""
    runs = [(wall(cmd, "zygote"), wall(cmd, "portable")) for _ in range(repeat)]
    return statistics.median(z for z, _ in runs), statistics.median(p for _, p in runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cpus", help="run on these CPUs only (e.g. 0, or 0,1)")
    args = parser.parse_args()
    if args.cpus:        # inherited by every process started from here, the warm worker's too
        os.sched_setaffinity(0, {int(c) for c in args.cpus.split(",")})
    grader = [sys.executable, "-m", "grader", "check", str(EXAMPLE), "-a", "linear_classifier"]
    wrong = [sys.executable, "-m", "grader", "check", str(WRONG), "-a", "linear_classifier", "--hidden"]

    baseline = statistics.median(wall([sys.executable, "-c", "import torch"]) for _ in range(args.repeat))
    public = both_workers(grader, args.repeat)
    hidden = both_workers(grader + ["--hidden"], args.repeat)
    diagnosed = both_workers(wrong, args.repeat)

    sys.path.insert(0, str(REPO))
    from grader.grade import grade_submission
    from grader.run.worker import Worker
    from grader.spec import load_spec

    spec = load_spec(REPO / "assignments" / "linear_classifier")
    with Worker(spec.framework) as worker:
        grade_submission(spec, EXAMPLE, hidden=True, worker=worker)          # warm-up: torch imported, refs cached by the OS
        per, calls = [], []
        for _ in range(args.repeat * 4):
            t0 = time.perf_counter()
            result = grade_submission(spec, EXAMPLE, hidden=True, worker=worker)
            per.append(time.perf_counter() - t0)
            calls.append(sum(c.duration or 0.0 for c in result.cases()))
    warm, student = statistics.median(per), statistics.median(calls)

    print(f"{'fresh interpreter, import torch only (baseline)':<58} {baseline * 1000:8.0f} ms")
    for label, (zygote, portable) in (("grader check, 12 public cases", public),
                                      ("grader check --hidden, 40 cases", hidden),
                                      ("grader check --hidden, mistakes to diagnose (bob)", diagnosed)):
        print(f"{label:<58} {zygote * 1000:8.0f} ms   {zygote / baseline:5.2f}x baseline")
        print(f"{'  the same, portable worker':<58} {portable * 1000:8.0f} ms   {portable / baseline:5.2f}x baseline")
    print(f"{'warm worker, one submission, 40 cases (incl. references)':<58} {warm * 1000:8.1f} ms   "
          f"{baseline / warm:5.1f}x faster than the baseline")
    print(f"{'  of which the student calls themselves':<58} {student * 1000:8.1f} ms")
    print(f"{'  grader overhead above the student calls':<58} {(warm - student) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()

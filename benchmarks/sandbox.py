"""What the sandbox costs per submission: the same submission graded with every layer and with none.

    python benchmarks/sandbox.py [--repeat 20]

Two warm workers (torch imported once each), one with every layer that works here (strong mode)
and one with process isolation only (minimal), grade the example submission's public cases in
alternation, so that both see the same machine load. Prints medians and the ratio.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from grader.grade import grade_submission  # noqa: E402
from grader.run.worker import Worker  # noqa: E402
from grader.spec import load_spec  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    # The handout's spec: expected outputs come from its file, so the reference's own run time is not measured.
    spec = load_spec(REPO / "student_template" / "linear_classifier")
    submission = REPO / "examples" / "linear_classifier" / "ada"
    times: dict[str, list[float]] = {"strong": [], "minimal": []}
    with Worker(spec.framework) as strong, Worker(spec.framework, layers=()) as minimal:
        workers = {"strong": strong, "minimal": minimal}
        modes = {name: grade_submission(spec, submission, worker=w).sandbox for name, w in workers.items()}  # warm-up
        for _ in range(args.repeat):
            for name, worker in workers.items():
                t0 = time.perf_counter()
                result = grade_submission(spec, submission, worker=worker)
                times[name].append(time.perf_counter() - t0)
                assert result.earned == result.possible, result.sandbox
    s, m = statistics.median(times["strong"]), statistics.median(times["minimal"])
    print(f"one submission, 12 public cases, median of {args.repeat} (warm worker):")
    print(f"  {modes['strong']:<52} {s * 1000:7.1f} ms")
    print(f"  {modes['minimal']:<52} {m * 1000:7.1f} ms")
    print(f"  sandbox cost: {(s - m) * 1000:+.1f} ms per submission ({s / m:.2f}x)")


if __name__ == "__main__":
    main()

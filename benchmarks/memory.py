"""The memory of a batch's workers, against one interpreter that imported torch, in one run.

    python benchmarks/memory.py [--workers 4] [--jobs 3]

Starts the workers as `grader grade` does (the first imports torch, the others are forked from it:
`start_workers`), grades the example `ada` (linear_classifier, all 40 cases) --jobs times on each,
then reads each zygote's proportional set size (Pss: a page shared by k processes counts 1/k in
each) and its private dirty memory from /proc. The baseline is a fresh interpreter that imports
torch and numpy, read the same way, side by side. Workers that shared nothing would cost about
--workers times the baseline; workers forked from one zygote cost about one baseline in all, plus
what each writes of its own. Linux only (smaps_rollup).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from grader.grade import Prepared, grade_submission  # noqa: E402
from grader.run.worker import Worker, start_workers  # noqa: E402
from grader.spec import load_spec  # noqa: E402

BASELINE = """
import sys, numpy, torch
print(open("/proc/self/smaps_rollup").read())
sys.stdout.flush()
"""


def memory(text: str) -> dict:
    """MiB of Pss, Private_Dirty and Shared_Dirty, from a smaps_rollup text."""
    out = {}
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] in ("Pss:", "Private_Dirty:", "Shared_Dirty:"):
            out[fields[0][:-1]] = int(fields[1]) / 1024
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=3, help="submissions graded on each worker before reading")
    args = parser.parse_args()
    spec = load_spec(REPO / "assignments" / "linear_classifier")
    submission = REPO / "examples" / "linear_classifier" / "ada"
    baseline = memory(subprocess.run([sys.executable, "-c", BASELINE], capture_output=True, text=True, check=True).stdout)
    workers = start_workers(spec.framework, args.workers)
    try:
        prepared = Prepared(spec, True, worker=workers[0])
        for _ in range(args.jobs):
            for worker in workers:
                grade_submission(spec, submission, hidden=True, worker=worker, prepared=prepared)
        zygotes = []
        for worker in workers:
            assert isinstance(worker, Worker), "the zygote worker is Linux only"
            with open(f"/proc/{worker._proc.pid}/smaps_rollup") as f:
                zygotes.append(memory(f.read()))
    finally:
        for worker in reversed(workers):
            worker.close()
    total = sum(z["Pss"] for z in zygotes)
    print(f"{args.workers} workers of a batch, after {args.jobs} submissions each (linear_classifier, torch):")
    print(f"  one interpreter that imported torch (the baseline): Pss {baseline['Pss']:7.1f} MiB")
    for k, z in enumerate(zygotes, 1):
        print(f"  worker {k}: Pss {z['Pss']:7.1f} MiB, of which private dirty {z['Private_Dirty']:6.1f} MiB "
              f"(shared dirty {z['Shared_Dirty']:6.1f} MiB)")
    print(f"  all {args.workers} workers: Pss {total:7.1f} MiB = {total / baseline['Pss']:.2f}x the baseline "
          f"(workers sharing nothing: about {args.workers:.2f}x)")


if __name__ == "__main__":
    main()

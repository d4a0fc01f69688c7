"""What grading adds to each submission of a batch, against the bare fork, the two taking turns.

    python benchmarks/overhead.py [--rounds 20] [-n 8]

batch.py's ratio divides the batch's wall clock by a bound measured before and after it. These
machines change speed by half or more within minutes, so that ratio moves by 0.2 from one run to the
next. This measures the part of it that grows with the class, per submission, in turns: each round,
a process that imported torch forks a bare child for each of n submissions of batch.py's mix (the
module's import, the calls, the exit: the bound's term per submission), then a warm worker grades
the same n as `grader grade` does (the sandboxed child and its harness, the judging with diagnosis,
the student's three files and JUnit suite). A round takes a second or two, so the machine's drift
falls on both alike.

CPU is the whole machine's (/proc/stat: every process, and the kernel's work on their behalf, such as
tearing down a child's namespaces), so run it on an otherwise idle machine. Of the grader's, the part
in the grader's own process (this one) is printed too.

Not counted here, and counted by batch.py: start-up (the workers' torch import, the references and
the catalogued mistakes), the time limit of a submission that never ends, the class exports at the
end, and two workers sharing two cores with the grader's process.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
import batch  # noqa: E402 - the batch's mix of submissions, its inputs and its bare child

# A process holding torch, forking one bare child per path it reads (batch.py's bare fork, on demand).
BARE = batch.CALLS + """
import os, sys
sys.dont_write_bytecode = True          # each import compiles the module, as a new submission's does
sys.path.insert(0, sys.argv[1])
from grader.run.zygote import huge_pages
huge_pages()
data = dict(np.load(sys.argv[2]))
print("ready", flush=True)
for line in sys.stdin:
    for path in line.split():
        pid = os.fork()
        if pid == 0:
            calls(path, data)
            os._exit(0)
        os.waitpid(pid, 0)
    print("done", flush=True)
"""


def machine_cpu() -> float:
    """CPU seconds the whole machine has spent since boot (all but idle and iowait)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("-n", type=int, default=8, help="submissions per turn (the batch's mix: correct, two mistakes, unfinished)")
    args = parser.parse_args()
    from grader.batch.discover import discover
    from grader.batch.store import write_student
    from grader.grade import Prepared, grade_or_report
    from grader.report.junit import student_xml
    from grader.run.worker import start_workers
    from grader.spec import load_spec

    tmp = Path(tempfile.mkdtemp(prefix="grader-overhead-"))
    bare = None
    try:
        spec = load_spec(REPO / "assignments" / "linear_classifier")
        kinds = [("correct", "reg_half", "no_average", "todo")[i % 4] for i in range(args.n)]
        for i, kind in enumerate(kinds):
            batch.write_submission(tmp / "class", i, kind)
        submissions = discover(tmp / "class", spec, tmp / "staging")
        paths = " ".join(str(s.path / "linear_classifier.py") for s in submissions) + "\n"
        bare = subprocess.Popen([sys.executable, "-c", BARE, str(REPO), str(batch.write_inputs(tmp))],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert bare.stdout.readline().strip() == "ready"
        out = tmp / "graded"
        worker = start_workers(spec.framework, 1)[0]
        with worker:
            prepared = Prepared(spec, True, worker=worker)
            prepared.mistakes.prime(prepared.cases, workers=[worker])

            def grade_all() -> None:
                for sub in submissions:           # as grade_batch's `one` and `finish`, and the CLI's JUnit suites
                    result = grade_or_report(spec, sub.path, True, worker, prepared)
                    result.student, result.fingerprint = sub.student, sub.fingerprint
                    write_student(out, result)
                    student_xml(result)

            def bare_all() -> None:
                bare.stdin.write(paths)
                bare.stdin.flush()
                assert bare.stdout.readline().strip() == "done"

            grade_all()                           # warm: the pairs of mistakes a diagnosis asks for, the imports
            bare_all()
            seen: dict[str, list[float]] = {"bare": [], "grader": [], "process": []}
            for _ in range(args.rounds):
                for name, run in (("bare", bare_all), ("grader", grade_all)):
                    time.sleep(0.2)               # what the kernel finishes after the last child
                    c0, p0 = machine_cpu(), time.process_time()
                    run()
                    time.sleep(0.2)
                    seen[name].append((machine_cpu() - c0) / args.n)
                    if name == "grader":
                        seen["process"].append((time.process_time() - p0) / args.n)
        ratios = [g / b for g, b in zip(seen["grader"], seen["bare"])]
        print(f"per submission of batch.py's mix ({args.n} a turn: {', '.join(sorted(set(kinds)))}), "
              f"{args.rounds} rounds, the machine's CPU, medians:")
        print(f"  bare fork (import, calls, exit):        {statistics.median(seen['bare']) * 1000:6.1f} ms")
        print(f"  grader, as in `grader grade`:           {statistics.median(seen['grader']) * 1000:6.1f} ms, "
              f"of which the grader's own process {statistics.median(seen['process']) * 1000:.1f} ms")
        print(f"  grader / bare:                          {statistics.median(ratios):6.2f}x   "
              f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})")
    finally:
        if bare is not None:
            bare.stdin.close()
            bare.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

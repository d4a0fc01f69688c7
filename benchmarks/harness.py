"""What the harness adds to the student's calls in a forked child, against the bare calls, in turns.

    python benchmarks/harness.py [-n 40]

One process imports torch and the grader, decodes batch.py's 40 cases once (as the zygote does), and
then for each of n submissions of batch.py's mix forks two children in turn: one runs the job as
`harness.run` does in the grader's child (the import, then per call: reseeding, the arguments built
again, the call, the check that the inputs are unchanged, the outputs encoded and sent as frames),
the other imports the module and makes the same calls on the same inputs, as batch.py's bare fork
does. No sandbox in either: this is the harness's Python only. Each child reports its CPU time
(time.process_time) and the seconds of the calls themselves; printed is what each spends beside its
calls, per submission, and as a share of the calls' time (the machine's speed changes from minute
to minute; a share does not, as much).

A child runs the harness cold: the student's calls in between evict its code and data from the
caches, so a call's own overhead is 3-5x what the same code costs in a loop of one process.
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.batch import CALLS, make_batch, write_inputs  # noqa: E402
from grader.grade import locate_modules, select_cases  # noqa: E402
from grader.run import execute, harness, protocol  # noqa: E402
from grader.run.job import build_job, job_calls  # noqa: E402
from grader.spec import load_spec  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=40, help="submissions (batch.py's mix), each run both ways")
    args = parser.parse_args()
    import torch
    torch.set_num_threads(1)
    spec = load_spec(REPO / "assignments" / "linear_classifier")
    calls, inputs = job_calls(spec, select_cases(spec, hidden=True))
    header, decoded = protocol.decode(protocol.encode({"calls": calls}, inputs)[4:])
    execute.remember_autograd(torch)
    tmp = Path(tempfile.mkdtemp(prefix="grader-harness-"))
    make_batch(tmp / "class", args.n + 2)
    subs = [p for p in sorted((tmp / "class").iterdir()) if not p.name.endswith(("_slow", "_crasher"))][:args.n]
    bare: dict = {}
    exec(CALLS, bare)
    data = dict(np.load(write_inputs(tmp)))
    gc.collect()
    gc.freeze()                      # as the zygote does before it forks
    spent: dict = {"harness": [], "bare": []}
    for i, sub in enumerate(subs):
        job = build_job(spec, header["calls"], locate_modules(spec, sub), sub)
        for way in spent:
            spent[way].append(_child(way, job, decoded, sub, bare["calls"], data, tmp / f"capture{i}"))
    for way, rows in spent.items():
        rows = rows[2:]              # the first forks warm the parent's page cache
        beside = [total - calls for total, calls in rows]
        print(f"{way:8s} beside its calls {statistics.mean(beside) * 1000:6.2f} ms a submission "
              f"({statistics.mean(b / c for b, (_, c) in zip(beside, rows)) * 100:4.1f}% of the calls' "
              f"{statistics.mean(c for _, c in rows) * 1000:.1f} ms)")
    h, b = (statistics.mean(t - c for t, c in spent[w][2:]) for w in ("harness", "bare"))
    calls = statistics.mean(c for w in spent for _, c in spent[w][2:])
    print(f"the harness adds {(h - b) * 1000:.2f} ms a submission to the bare calls (both import the module), "
          f"{(h - b) / calls * 100:.1f}% of the calls' time")


def _child(way: str, job: dict, inputs: list, sub: Path, calls, data: dict, capture: Path) -> tuple[float, float]:
    """(CPU seconds of the child's work, seconds of the student's calls in it)."""
    r, w = os.pipe()
    report_r, report_w = os.pipe()
    capture.write_bytes(b"")
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.close(report_r)
        if way == "harness":
            seconds = [0.0]
            run_call = execute.run_call

            def counted(call, inputs, ctx, **kw):
                result, arrays = run_call(call, inputs, ctx, **kw)
                seconds[0] += result.get("duration") or 0.0
                return result, arrays
            t0 = time.process_time()
            harness.run(job, inputs, 0, set(), w, os.open(capture, os.O_RDWR), _run_call=counted)
            out = (time.process_time() - t0, seconds[0])
        else:
            t0 = time.process_time()
            seconds = calls(str(sub / "linear_classifier.py"), data)        # the module's import, then the calls
            out = (time.process_time() - t0, seconds)
        os.write(report_w, f"{out[0]} {out[1]}".encode())
        os._exit(0)
    os.close(w)
    os.close(report_w)
    while os.read(r, 1 << 16):
        pass
    report = os.read(report_r, 200).decode().split()
    os.close(r)
    os.close(report_r)
    os.waitpid(pid, 0)
    return float(report[0]), float(report[1])


if __name__ == "__main__":
    main()

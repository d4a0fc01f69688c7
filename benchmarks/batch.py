"""Batch grading speed: `grader grade` on N synthetic submissions, against the naive way, in one run.

    python benchmarks/batch.py [-n 1000] [--naive-sample 40] [--check-sample 20] [--bare-sample 0] [--sandboxed-sample 400]
                               [--workers 2] [--dask] [--runs 1]

The batch mixes correct submissions, typical mistakes (the reg factor, no averaging, an unfinished
TODO), one that crashes (segfault) and one that is slow (an infinite loop: it costs its time limit).
Prints submissions per second, the grader's overhead per submission above the bare time of the
student calls themselves, the naive way measured on a sample of the same batch, and the bound that
no grader running each submission in a fresh process can beat here: one torch import (before any
child runs), then the student calls, the time limits spent, and a fork, import, calls and exit per
submission, over the cores.

That bound runs no sandbox. A second one, printed after it, confines each bare child first as the
grader's children are (`sandbox.apply_in_child`: the same layers, where they work, and the spec's
limits), on a sample of --sandboxed-sample submissions, half before the batch and half after: the
difference between the two bounds is what the sandbox costs, and the grader's ratio against the
second is what the rest of it costs (the harness, the comparisons, the reports and start-up).

The naive way is a fresh interpreter per submission that imports torch, imports the student's
module and calls the functions on the same inputs, and nothing else: no sandbox, no comparison, no
reports. Its sample runs as many at a time as the grader has workers, like the grader's batch: two
interpreters side by side here each take about 20% longer than one alone, so timing one at a time
and dividing by the cores would flatter it.

That naive way is the strict one: it does less than grading. What an instructor without `grader
grade` would run is a shell loop of `grader check --hidden` (each run its own interpreter, worker,
torch import and reference run, and a JSON report). That is timed too, on a smaller sample, and
printed on its own line with its own ratio.

With --dask, the same batch is graded again through `--scheduler`, on a local Dask cluster of as
many single-threaded worker processes as there are workers (started before the clock starts, as an
instructor's cluster would be), and printed against the local batch on the same cores.

The shared machines this runs on change speed by 10-20% within minutes (a fixed loop of Python, timed
before the baselines and after them, is printed: it has moved by half within seconds), so half of the naive sample
and half of the bare forks run before the batch and half after it, and both halves are printed. Every
share of a sample (the two halves, and each bare-fork process's part of a half) gets the same mix of
kinds, as each of the grader's workers does. Split into even and odd submissions, the half before
the batch got no unfinished (cheap) submission and always looked slower than the half after, and
within a half one process got them all, ended early and left the other alone on the machine.

The bare forks cover the whole class by default (--bare-sample 0), half before the batch and half
after, so that they span about as much time as the batch itself. With a sample of 200 (5 s on each
side of a batch of a minute) the printed ratio moved between 1.16x and 1.55x over runs of one
checkout; timing the whole class of bare forks before and after the batch, in turns with it, gave
1.36x and 1.42x for the same checkout.

Even so, one run's ratio moved between 1.14x and 1.53x over six runs of one checkout within an hour. With --runs K,
the batch and its baselines are measured K times over (each run grades the class afresh) and the median ratio is
printed last: the figure to hold against a target.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from grader.spec import load_spec  # noqa: E402

REFERENCE = (REPO / "reference" / "linear_classifier" / "linear_classifier.py").read_text(encoding="utf-8")
MISTAKES = {
    "correct": [],
    "reg_half": [("dW += 2 * reg * W", "dW += reg * W")],
    "no_average": [("    dW /= num_train\n", "\n")],
    "todo": [("    for i in range(num_train):\n        scores = W.t().mv(X[i])\n        correct_class_score",
              "    raise NotImplementedError\n    for i in range(num_train):\n        scores = W.t().mv(X[i])\n"
              "        correct_class_score")],
    "crasher": [("def svm_loss_vectorized(W, X, y, reg):\n",
                 "def svm_loss_vectorized(W, X, y, reg):\n    import ctypes; ctypes.string_at(0)\n")],
    "slow": [("def softmax_loss_naive(W, X, y, reg):\n",
              "def softmax_loss_naive(W, X, y, reg):\n    while True: pass\n")],
}

# Import the student's module and make every call on the inputs in data (an .npz's arrays):
# seconds spent in the calls. Both runners below use it, with torch on one thread as in the workers.
# No bytecode is written: the grader compiles every submission from its source (a .pyc could hold
# other code than the source shows), and on a machine without PYTHONDONTWRITEBYTECODE a .pyc left
# by one run's bare forks would let the later runs' bound skip that compile (2.4-3.6 ms in a forked
# child here, against a bare fork of about 40 ms).
CALLS = """
import importlib.util, sys, time
import numpy as np, torch
torch.set_num_threads(1)
sys.dont_write_bytecode = True      # every import compiles the module, as the grader's children do


def calls(path, data):
    spec = importlib.util.spec_from_file_location("linear_classifier", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    seconds = 0.0
    for i in range(int(data["n"])):
        fn = getattr(module, str(data[f"fn{i}"]))
        args = [torch.from_numpy(data[f"W{i}"].copy()), torch.from_numpy(data[f"X{i}"].copy()),
                torch.from_numpy(data[f"y{i}"].copy()), float(data[f"reg{i}"])]
        t0 = time.perf_counter()
        try:
            fn(*args)
        except Exception:
            pass
        seconds += time.perf_counter() - t0
    return seconds
"""

# The naive way: this whole script, a fresh interpreter, per submission.
NAIVE_RUNNER = CALLS + """
import sys
print(calls(sys.argv[1], dict(np.load(sys.argv[2]))))
"""

# The bare fork: torch imported once, then per submission a child that makes the calls and exits.
# With BENCH_SANDBOX ("memory,disk": the spec's limits), each child first confines itself as the
# grader's children do (sandbox.apply_in_child, with every layer that works here): the least a
# grader with that sandbox spends.
FORK_RUNNER = """
import os, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
confined = os.environ.get("BENCH_SANDBOX")
if confined:
    from grader.run import sandbox
    sandbox.share_namespaces()                    # as the zygote does, before torch (one thread)
""" + CALLS + """
import tempfile
imported = time.perf_counter() - t0
from grader.run.zygote import huge_pages
if confined:
    layers, _ = sandbox.probe(sandbox.LAYERS)
    sandbox.prepare(layers)
    memory, disk = (int(x) for x in confined.split(","))
    room = tempfile.mkdtemp()
huge_pages()                                      # as the worker does before its second job
data = dict(np.load(sys.argv[2]))
walls = []
for path in sys.argv[3:]:
    t0 = time.perf_counter()
    if confined:
        scratch = tempfile.mkdtemp(dir=room)      # as the grader makes a job's folder, and removes it
    pid = os.fork()
    if pid == 0:
        if confined:
            policy = sandbox.Policy(memory=memory, cpu_seconds=60, submission_dir=os.path.dirname(path),
                                    scratch=scratch, disk=disk)
            sandbox.apply_in_child(policy, layers, os.path.join(room, "printed.txt"), keep_fds=())
        calls(path, data)
        os._exit(0)
    os.waitpid(pid, 0)
    if confined:
        os.rmdir(scratch)
    walls.append(time.perf_counter() - t0)
if confined:
    import shutil
    shutil.rmtree(room, ignore_errors=True)
print(imported, sum(walls) / len(walls), ",".join(layers) if confined else "")
"""


def bare_fork(sample: list[Path], inputs: Path, workers: int, confined: str = "") -> tuple[float, float, str]:
    """The least a grader with a fresh process per submission does: import torch once, then per
    submission fork a child that imports the module and makes the calls, nothing else (no sandbox,
    no results sent back, no comparison). `workers` such processes share the sample, at the same
    time, as the grader's workers do. With `confined` ("memory,disk"), each child confines itself
    first, as the grader's do. Seconds for the import, and per submission (mean); the layers used."""
    parts = deal(sample, workers)
    env = {**os.environ, "BENCH_SANDBOX": confined} if confined else None
    procs = [subprocess.Popen([sys.executable, "-c", FORK_RUNNER, str(REPO), str(inputs),
                               *(str(folder / "linear_classifier.py") for folder in part)],
                              stdout=subprocess.PIPE, text=True, env=env) for part in parts]
    outs = [proc.communicate()[0].split() for proc in procs]
    return (statistics.median(float(o[0]) for o in outs),
            sum(float(o[1]) * len(part) for o, part in zip(outs, parts)) / len(sample),
            outs[0][2] if len(outs[0]) > 2 else "")


def deal(sample: list[Path], parts: int) -> list[list[Path]]:
    """The sample shared out into `parts` lists, in its order, each with the same mix of kinds (a
    folder's name ends with its kind): each submission goes to the list with the fewest of its kind."""
    out: list[list[Path]] = [[] for _ in range(parts)]
    seen = [Counter() for _ in range(parts)]
    for folder in sample:
        kind = folder.name.split("_", 1)[1]
        j = min(range(parts), key=lambda j: (seen[j][kind], len(out[j])))
        out[j].append(folder)
        seen[j][kind] += 1
    return out


def make_batch(root: Path, n: int) -> list[str]:
    kinds = []
    for i in range(n):
        kind = "slow" if i == n // 2 else "crasher" if i == n // 3 else ("correct", "reg_half", "no_average", "todo")[i % 4]
        write_submission(root, i, kind)
        kinds.append(kind)
    return kinds


def write_submission(root: Path, i: int, kind: str) -> Path:
    """Student i's folder under root: the reference with the edits of `kind` (MISTAKES)."""
    text = REFERENCE
    for old, new in MISTAKES[kind]:
        assert old in text, (kind, old)
        text = text.replace(old, new, 1)
    folder = root / f"student{i:04d}_{kind}"
    folder.mkdir(parents=True)
    (folder / "linear_classifier.py").write_text(text, encoding="utf-8")
    return folder


def write_inputs(tmp: Path) -> Path:
    """Every case's inputs in one .npz, for the naive and the bare-fork runners."""
    from grader.grade import select_cases
    spec = load_spec(REPO / "assignments" / "linear_classifier")
    cases = select_cases(spec, hidden=True)
    data = {"n": len(cases)}
    for i, (fn, case) in enumerate(cases):
        data[f"fn{i}"] = fn.name
        for k, v in case.args.items():
            data[f"{k}{i}"] = v
    inputs = tmp / "inputs.npz"
    np.savez(inputs, **data)
    return inputs


def naive(sample: list[Path], inputs: Path, tmp: Path, workers: int) -> tuple[float, list, list]:
    """The naive batch on the sample, `workers` fresh interpreters at a time (as the grader runs
    `workers` workers): its wall clock per submission, and each interpreter's wall clock and the
    student calls' seconds inside it."""
    from concurrent.futures import ThreadPoolExecutor
    runner = tmp / "runner.py"
    runner.write_text(NAIVE_RUNNER, encoding="utf-8")

    def one(folder: Path) -> tuple[float, float]:
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, str(runner), str(folder / "linear_classifier.py"), str(inputs)],
                              capture_output=True, text=True, timeout=120)
        return time.perf_counter() - t0, float(proc.stdout.strip() or 0)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        runs = list(pool.map(one, sample))
    per_submission = (time.perf_counter() - t0) / len(sample)
    return per_submission, [w for w, _ in runs], [c for _, c in runs]


def naive_check(sample: list[Path], tmp: Path, workers: int) -> float:
    """The naive way with this grader: `grader check --hidden` per submission, a shell loop's way
    (each run its own interpreter, worker, torch import and reference run), `workers` at a time.
    Wall clock per submission."""
    from concurrent.futures import ThreadPoolExecutor

    def one(folder: Path) -> None:
        subprocess.run([sys.executable, "-m", "grader", "check", str(folder), "-a", "linear_classifier", "--hidden",
                        "--json", str(tmp / f"{folder.name}.json")], cwd=REPO, capture_output=True, timeout=300)
        assert (tmp / f"{folder.name}.json").is_file(), folder

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, sample))
    return (time.perf_counter() - t0) / max(1, len(sample))


def machine_speed(rounds: int = 5) -> float:
    """Seconds a fixed loop of pure Python takes here (the median of `rounds`): the same work every
    time, so that a change between two moments is the machine's (another tenant of the host, its
    clock), not the code's. The same loop has taken 123 to 193 ms within 15 s on these machines."""
    def once() -> float:
        t0, total = time.perf_counter(), 0
        for i in range(1_000_000):
            total += i * i
        return time.perf_counter() - t0
    return statistics.median(once() for _ in range(rounds))


def _pooled(mean_1: float, n_1: int, mean_2: float, n_2: int) -> float:
    """The mean over both halves, from each half's mean and size."""
    return (mean_1 * n_1 + mean_2 * n_2) / (n_1 + n_2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--naive-sample", type=int, default=40)
    parser.add_argument("--check-sample", type=int, default=20,
                        help="submissions graded by `grader check` one interpreter each, the shell loop's way")
    parser.add_argument("--bare-sample", type=int, default=0,
                        help="submissions timed as bare forks for the bound (0: the whole class, half before the batch and half after)")
    parser.add_argument("--sandboxed-sample", type=int, default=400,
                        help="submissions timed as bare forks in the grader's sandbox, for a second bound (0: none)")
    parser.add_argument("--runs", type=int, default=1,
                        help="measure the batch and its baselines this many times over, and print the median ratio")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--dask", action="store_true", help="grade the batch through a local Dask cluster too")
    parser.add_argument("--write", type=Path, metavar="DIR",
                        help="only write the class of -n submissions into DIR (to time `grader grade` on it by other means)")
    args = parser.parse_args()
    if args.write:
        if args.write.exists() and any(args.write.iterdir()):
            parser.error(f"--write {args.write}: not empty (a class written there before?): give an empty or new folder")
        kinds = make_batch(args.write, args.n)
        print(f"{args.write}: " + ", ".join(f"{k} {kinds.count(k)}" for k in MISTAKES))
        return
    tmp = Path(tempfile.mkdtemp(prefix="grader-bench-"))
    try:
        subs, out = tmp / "submissions", tmp / "graded"
        kinds = make_batch(subs, args.n)
        workers = args.workers or os.cpu_count()
        inputs = write_inputs(tmp)
        quick = [p for p in sorted(subs.iterdir()) if not p.name.endswith("_slow")]
        sample, forked = quick[: args.naive_sample], quick[: args.bare_sample] if args.bare_sample > 0 else quick
        # Half of each baseline before the batch, half after (the machine's speed drifts), each half
        # with the batch's mix of kinds.
        (naive_1, naive_2), (forked_1, forked_2) = deal(sample, 2), deal(forked, 2)
        confined_1, confined_2 = deal(quick[: args.sandboxed_sample], 2)
        looped = quick[: args.check_sample]
        (looped_1, looped_2), checks = deal(looped, 2), tmp / "checks"
        checks.mkdir()
        # The same commands and time limit in every run.
        grade = [sys.executable, "-m", "grader", "grade", str(subs), "-a", "linear_classifier"]
        cmd = grade + ["--out", str(out)] + (["--workers", str(args.workers)] if args.workers else [])
        dask_cmd = grade + ["--out", str(tmp / "dask")]
        limits_spec = load_spec(REPO / "assignments" / "linear_classifier").limits
        timeout, confined = limits_spec.case_timeout, f"{limits_spec.memory},{limits_spec.disk}"
        ratios, sandboxed_ratios = [], []
        for run in range(args.runs):
            if run:                                   # each run grades the class afresh
                shutil.rmtree(out, ignore_errors=True)
                shutil.rmtree(tmp / "dask", ignore_errors=True)
                shutil.rmtree(checks)
                checks.mkdir()
                print()
            speed_before = machine_speed()
            naive_before, fork_before = naive(naive_1, inputs, tmp, workers), bare_fork(forked_1, inputs, workers)
            loop_before = naive_check(looped_1, checks, workers)
            box_before = bare_fork(confined_1, inputs, workers, confined) if confined_1 else None
            t0 = time.perf_counter()
            subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)
            wall = time.perf_counter() - t0
            dask_wall = on_dask(dask_cmd, workers) if args.dask else None
            naive_after, fork_after = naive(naive_2, inputs, tmp, workers), bare_fork(forked_2, inputs, workers)
            box_after = bare_fork(confined_2, inputs, workers, confined) if confined_2 else None
            speed_after = machine_speed()
            loop_after = naive_check(looped_2, checks, workers)
            calls, limits = [], 0.0
            for path in out.glob("*/result.json"):
                result = json.loads(path.read_text(encoding="utf-8"))
                calls.append(sum(c["duration"] or 0 for f in result["functions"] for c in f["cases"]
                                 if isinstance(c["duration"], (int, float))))
                limits += timeout * sum(c["status"] == "timeout" and "did not finish" in c["message"]
                                        for f in result["functions"] for c in f["cases"])
            graded = len(calls)
            assert graded == args.n, f"{graded} of {args.n} graded"
            naive_each = _pooled(naive_before[0], len(naive_1), naive_after[0], len(naive_2))
            naive_wall = statistics.median(naive_before[1] + naive_after[1])
            naive_calls = statistics.median(naive_before[2] + naive_after[2])
            imported = statistics.median((fork_before[0], fork_after[0]))
            bare = _pooled(fork_before[1], len(forked_1), fork_after[1], len(forked_2))
            print(f"batch of {args.n} linear_classifier submissions (40 cases each, hidden included), {workers} workers:")
            print("  mix: " + ", ".join(f"{k} {kinds.count(k)}" for k in MISTAKES))
            print(f"  grader grade, wall clock:                      {wall:8.1f} s   {args.n / wall:6.1f} submissions/s")
            print(f"  per submission (x workers / wall):             {wall * workers / args.n * 1000:8.1f} ms")
            print(f"  of which the student calls themselves:         {statistics.median(calls) * 1000:8.1f} ms (median)")
            print(f"  grader overhead above the student calls:       {(wall * workers / args.n - statistics.median(calls)) * 1000:8.1f} ms")
            print(f"  naive, fresh interpreter per submission:       {naive_wall * 1000:8.1f} ms (median of {len(sample)}, "
                  f"{workers} at a time), student calls {naive_calls * 1000:.1f} ms")
            naive_batch = naive_each * args.n
            print(f"  naive batch: {len(sample)} in {naive_each * len(sample):.1f} s, {workers} at a time; "
                  f"{args.n} in {naive_batch:6.1f} s   -> grader is {naive_batch / wall:.1f}x faster")
            print(f"    (per submission: {naive_before[0] * 1000:.0f} ms before the batch, {naive_after[0] * 1000:.0f} ms after)")
            loop_each = _pooled(loop_before, len(looped_1), loop_after, len(looped_2)) if looped else 0.0
            if looped:
                print(f"  naive with this grader, `grader check --hidden` per submission (a shell loop): {loop_each * 1000:.0f} ms "
                      f"each ({len(looped)}, {workers} at a time; {loop_before * 1000:.0f} ms before the batch, "
                      f"{loop_after * 1000:.0f} ms after)")
                print(f"    {args.n} in {loop_each * args.n:6.1f} s   -> grader grade is {loop_each * args.n / wall:.1f}x faster")
            # What no grader can go below here: the student calls and the time limits spent, spread over the cores.
            floor = (sum(calls) + limits) / workers
            print(f"  floor: student calls + time limits on {workers} cores:   {floor:8.1f} s   "
                  f"(a grader costing nothing more would be {naive_batch / floor:.1f}x faster)")
            # ... and what any grader that runs each submission in a fresh process forked from one holding
            # torch spends at least: one torch import, then per submission a fork, the module's import,
            # the calls and the exit. The import comes first and whole: no child is forked before a
            # process holds torch, and one import runs on one core (the bare forks' processes import
            # side by side, and none forks before its own import ends), so it is not shared out over
            # the cores as the rest is.
            bound = imported + (bare * (args.n - kinds.count("slow")) + limits) / workers
            print(f"  bare fork per submission (import, calls, exit):  {bare * 1000:8.1f} ms (mean of {len(forked)}, {workers} at a time; "
                  f"{fork_before[1] * 1000:.0f} ms before the batch, {fork_after[1] * 1000:.0f} ms after)")
            print(f"  bound: torch import + bare forks + time limits:  {bound:8.1f} s   "
                  f"(no grader forking a fresh child per submission is more than {naive_batch / bound:.1f}x faster)")
            print(f"    (the import {imported:.2f} s, then {(bound - imported):.1f} s of bare forks and time limits on {workers} cores)")
            ratios.append(wall / bound)
            print(f"  grader grade against the bound:                {wall / bound:8.2f}x  "
                  f"({wall - bound:.1f} s for the sandbox, the harness, the comparisons, the reports and start-up)")
            if box_before is not None:
                # The same bound, each bare child confined first as the grader's are: how much of the ratio
                # above is the sandbox's, which a grader of untrusted code cannot leave out.
                boxed = _pooled(box_before[1], len(confined_1), box_after[1], len(confined_2))
                boxed_bound = imported + (boxed * (args.n - kinds.count("slow")) + limits) / workers
                sandboxed_ratios.append(wall / boxed_bound)
                print(f"  bare fork in the grader's sandbox ({box_before[2] or 'no layer works here'}): {boxed * 1000:.1f} ms "
                      f"(mean of {len(confined_1) + len(confined_2)}, {workers} at a time; {box_before[1] * 1000:.0f} ms before "
                      f"the batch, {box_after[1] * 1000:.0f} ms after)")
                print(f"  bound with that sandbox:                       {boxed_bound:8.1f} s   "
                      f"(the sandbox {boxed_bound - bound:+.1f} s on the bound above)")
                print(f"  grader grade against it:                       {wall / boxed_bound:8.2f}x  "
                      f"({wall - boxed_bound:.1f} s for the harness, the comparisons, the reports and start-up)")
            print(f"  the machine's speed, a fixed loop of Python:   {speed_before * 1000:8.0f} ms before the baselines, "
                  f"{speed_after * 1000:.0f} ms after them (the same work: a difference is the machine's, and so is "
                  f"part of the ratio's)")
            if dask_wall is not None:
                print(f"  --scheduler, a local Dask cluster of {workers} processes: {dask_wall:8.1f} s   "
                      f"{dask_wall / wall:.2f}x the local batch")
        if args.runs > 1:
            print(f"grader grade against the bound over {args.runs} runs: "
                  f"{', '.join(f'{r:.2f}x' for r in ratios)}; median {statistics.median(ratios):.2f}x")
            if sandboxed_ratios:
                print(f"grader grade against the bound with the sandbox: "
                      f"{', '.join(f'{r:.2f}x' for r in sandboxed_ratios)}; median {statistics.median(sandboxed_ratios):.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def on_dask(cmd: list[str], workers: int) -> float:
    """Wall clock of `cmd --scheduler ...` on a local cluster started beforehand."""
    from distributed import LocalCluster
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        t0 = time.perf_counter()
        subprocess.run(cmd + ["--scheduler", cluster.scheduler_address], cwd=REPO, check=True, capture_output=True)
        return time.perf_counter() - t0


if __name__ == "__main__":
    main()

"""The two deep-learning assignments' speed: a self-check and a class, against a fresh process per
submission, in one run.

    python benchmarks/courses.py [-n 200] [--naive-sample 20] [--repeat 3] [--workers 2]

For cs231n_layers (numpy) and fully_connected_networks (torch), prints, side by side:
- `grader check --hidden` on one full submission (the reference: every case and check runs), as
  Gradescope's run_autograder runs it, the medians of --repeat runs, beside a fresh interpreter that
  only imports the framework;
- `grader grade` on N submissions (correct ones, and the catalogued mistakes applied to the reference,
  about a third of them), wall clock;
- the naive way on a sample of the same submissions, two at a time as the grader has two workers: a
  fresh interpreter per submission that imports the framework and the student's modules and makes
  exactly the calls the grader makes (every case's steps, the checks' calls), in its own process,
  with no sandbox, no comparison and no reports;
- the ratio of the naive way, extrapolated to N, to `grader grade`.

The machines change speed by 10-20% within minutes: half of the naive sample runs before the batch
and half after, and both halves are printed.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from grader.expected.mistakes import load_catalogue, variant_source  # noqa: E402
from grader.grade import Prepared  # noqa: E402
from grader.run.job import job_calls  # noqa: E402
from grader.spec import load_spec  # noqa: E402

ASSIGNMENTS = ("cs231n_layers", "fully_connected_networks")

# A fresh interpreter per submission: import the framework and the student's modules, make every call
# of the job with the grader's own executor (no sandbox, no comparison), print the seconds in the calls.
NAIVE = """
import importlib.util, json, sys, time
from pathlib import Path
import numpy as np
job = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
data = np.load(sys.argv[2])
inputs = [data[f"a{i}"] for i in range(len(data.files))]
torch = None
if job["framework"] == "torch":
    import torch
    torch.set_num_threads(1)
sys.path[:0] = [sys.argv[4], sys.argv[3]]
from grader.run import execute
modules = {}
for name in job["modules"]:
    spec = importlib.util.spec_from_file_location(name, Path(sys.argv[3]) / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    modules[name] = module
scenarios = {}
for name, source in job["scenarios"].items():
    module = type(sys)(name)
    exec(compile(source, name, "exec"), module.__dict__)
    scenarios[name] = module
ctx = execute.Context(modules=modules, scenarios=scenarios, torch=torch)
t0 = time.perf_counter()
for call in job["calls"]:
    execute.run_call(call, inputs, ctx)
print(time.perf_counter() - t0)
"""


def wall(cmd: list[str], cwd: Path = REPO) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=False, capture_output=True)
    return time.perf_counter() - t0


def build_class(spec, folder: Path, n: int) -> list[Path]:
    """n submission folders: two in three correct, the rest the catalogued mistakes in turn."""
    sources = {m: (spec.reference_dir / f"{m}.py").read_text(encoding="utf-8") for m in spec.modules}
    mistakes = load_catalogue(spec).mistakes
    subs = []
    for i in range(n):
        sub = folder / f"student{i:04d}"
        sub.mkdir(parents=True)
        mistake = mistakes[(i // 3) % len(mistakes)] if i % 3 == 2 and mistakes else None
        for m, text in sources.items():
            (sub / f"{m}.py").write_text(variant_source(text, mistake) if mistake else text, encoding="utf-8")
        subs.append(sub)
    return subs


def naive_runs(spec, subs: list[Path], tmp: Path, workers: int) -> list[float]:
    """Wall seconds of the naive way on each submission, `workers` at a time."""
    prepared = Prepared(spec, hidden=True)
    calls, inputs = job_calls(spec, prepared.cases + [c for p in prepared.plans for c in p.calls])
    job = {"framework": spec.framework, "modules": list(spec.modules), "calls": calls,
           "scenarios": spec.scenario_sources()}
    (tmp / "job.json").write_text(json.dumps(job), encoding="utf-8")
    np.savez(tmp / "inputs.npz", **{f"a{i}": a for i, a in enumerate(inputs)})
    support = tmp / "support"
    for rel, text in spec.support_files().items():
        (support / rel).parent.mkdir(parents=True, exist_ok=True)
        (support / rel).write_text(text, encoding="utf-8")
    support.mkdir(exist_ok=True)
    cmd = lambda sub: [sys.executable, "-c", NAIVE, str(tmp / "job.json"), str(tmp / "inputs.npz"), str(sub), str(support)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda sub: wall(cmd(sub)), subs))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--naive-sample", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    grader = [sys.executable, "-m", "grader"]
    for name in ASSIGNMENTS:
        spec = load_spec(REPO / "assignments" / name)
        framework = "torch" if spec.framework == "torch" else "numpy"
        baseline = statistics.median(wall([sys.executable, "-c", f"import {framework}"]) for _ in range(args.repeat))
        check = statistics.median(wall(grader + ["check", str(spec.reference_dir), "-a", name, "--hidden"])
                                  for _ in range(args.repeat))
        cases = sum(len(f.cases) for f in spec.functions)
        with tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
            tmp = Path(tmp)
            subs = build_class(spec, tmp / "class", args.n)
            sample = subs[:args.naive_sample]
            before = naive_runs(spec, sample[: len(sample) // 2], tmp, args.workers)
            t0 = time.perf_counter()
            proc = subprocess.run(grader + ["grade", str(tmp / "class"), "-a", name, "--out", str(tmp / "out"),
                                            "--workers", str(args.workers)], cwd=REPO, capture_output=True, text=True)
            batch = time.perf_counter() - t0
            after = naive_runs(spec, sample[len(sample) // 2:], tmp, args.workers)
            if proc.returncode != 0:
                print(proc.stderr[-2000:])
                raise SystemExit(f"grader grade failed on {name}")
            graded = len(list((tmp / "out").glob("*/result.json")))
            shutil.rmtree(tmp / "out", ignore_errors=True)
        naive = statistics.mean(before + after)
        naive_total = naive * args.n / args.workers
        print(f"{name} ({spec.framework}; {len(spec.functions)} functions, {cases} cases with the hidden ones):")
        print(f"  {'fresh interpreter, import ' + framework + ' only':<52} {baseline * 1000:8.0f} ms")
        print(f"  {'grader check --hidden, one full submission':<52} {check * 1000:8.0f} ms   "
              f"{check / baseline:5.2f}x that import")
        print(f"  {f'grader grade, {graded} submissions, {args.workers} workers':<52} {batch:8.1f} s    "
              f"{graded / batch:5.1f} submissions/s")
        print(f"  {'naive: a fresh process per submission (' + str(len(sample)) + ' of them)':<52} "
              f"{naive * 1000:8.0f} ms each ({statistics.mean(before) * 1000:.0f} before the batch, "
              f"{statistics.mean(after) * 1000:.0f} after), {args.workers} at a time")
        print(f"  {f'  {args.n} that way':<52} {naive_total:8.1f} s    -> grader grade is "
              f"{naive_total / batch:.1f}x faster")


if __name__ == "__main__":
    main()

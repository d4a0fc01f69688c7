"""How often the feedback names a bug that is not exactly one catalogued mistake, and names it right.

    python benchmarks/diagnosis.py [benchmarks/diagnosis/linear_classifier.yaml ...] [-v] [--repo CHECKOUT] [--time]

Each file (benchmarks/diagnosis/*.yaml by default) lists buggy submissions, made from edits of the
reference that are in no catalogue, each labelled with what should be named (the file's header
says how). Every submission is graded with its hidden cases, as `grader grade` does (the variants'
outputs computed once, by a worker), and its failing cases in the functions its edits are in are
judged against the label:

    right   every failing case names only what the label says (at least one names it), or, for
            `none`, no case names anything
    wrong   some case names something the label does not (worse than naming nothing)
    unnamed no case names anything, where something was to be named

It prints one line per submission and the three counts. With --time, each submission is graded a
second time, warm, and the grader's own process's CPU time for it is printed per file (median and
mean): sending the job, reading the answers, and the judging with its diagnosis, which for wrong
answers is most of it; with --repo, the same for another checkout, to compare.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent.parent
# --repo OTHER_CHECKOUT grades with that checkout's grader and assignments (a baseline: the commit before)
REPO = Path(sys.argv[sys.argv.index("--repo") + 1]).resolve() if "--repo" in sys.argv else HERE
sys.path.insert(0, str(REPO))

from grader.expected.mistakes import Mistake, load_catalogue, variant_source  # noqa: E402
from grader.grade import Prepared, grade_submission  # noqa: E402
from grader.results import HIDDEN, NOT_IMPLEMENTED  # noqa: E402
from grader.run.worker import Worker  # noqa: E402
from grader.judge import scale  # noqa: E402
from grader.spec import load_spec  # noqa: E402

RIGHT, WRONG, UNNAMED = "right", "WRONG", "unnamed"


def verdict(case, fn, expect, sentences: dict, regularized: bool = True) -> str:
    """right, WRONG or unnamed for one failing case against the label; `regularized`: the case's
    regularization argument is not 0 (else no term is there to be off)."""
    said = case.diagnosis
    if expect == "none":
        return WRONG if said else RIGHT
    if expect == "not_implemented":
        return RIGHT if case.status == NOT_IMPLEMENTED else WRONG if said else UNNAMED
    if not said:
        return UNNAMED
    if "scale" in expect and "mistakes" in expect:         # a factor, or the same bug as a catalogued mistake made in part
        factor = said.startswith((scale.FACTOR_OFF, scale.PART_MISSING))
        expect = {k: v for k, v in expect.items() if (k == "mistakes") != factor}
    if "mistakes" in expect:
        named = {name for name, sentence in sentences.items() if sentence in said}
        return RIGHT if named and named <= set(expect["mistakes"]) else WRONG
    if "scale" in expect:
        if not said.startswith((scale.FACTOR_OFF, scale.PART_MISSING)):
            return WRONG
        exact = case.visibility != HIDDEN     # a hidden case's sentence names no sizes
        for name, c in expect["scale"].items():
            factor = _factor(c, case.dims)
            if scale.data_share(fn, name, factor, case.dims, factor, exact) not in said and \
                    scale.data_share(fn, name, factor, case.dims, exact=exact) not in said:
                return WRONG
        for name, c in expect.get("regularization", {}).items() if regularized else ():
            if name in expect["scale"] and _factor(expect["scale"][name], case.dims) == _factor(c, case.dims):
                continue                      # the whole output off by that factor: said of the output above
            if not _says_term(fn, name, c, case.dims, said, exact):
                return WRONG
        labelled = set(expect["scale"]) | set(expect.get("regularization", {}))
        if any(f"`{out.name}`" in said for out in fn.compared if out.name not in labelled):
            return WRONG                      # an output named off that is not
        return RIGHT
    if "regularization" in expect:
        if not said.startswith("Only the regularization term"):
            return WRONG
        return RIGHT if all(_says_term(fn, name, c, case.dims, said, case.visibility != HIDDEN)
                            for name, c in expect["regularization"].items()) else WRONG
    if "unwritten" in expect:
        names = " and ".join(f"`{n}`" for n in expect["unwritten"])
        return RIGHT if said.startswith(names + " ") and "starting code" in said else WRONG
    raise ValueError(f"unknown label {expect!r}")


def _says_term(fn, name: str, c, dims: dict, said: str, exact: bool = True) -> bool:
    """Whether `said` gives output `name` c times the regularization term (`any`: some factor,
    one that depends on the case's data)."""
    from grader.judge import regularization
    if c == "any":
        return f"`{name}` has " in said and "regularization term" in said
    factor = _factor(c, dims)
    return factor == 1 or regularization.share(fn, name, factor, dims, exact) in said


def _factor(c, dims: dict) -> float:
    """A label's factor: a number, or "N", "1/N" or "N/C" for dims N and C of the case."""
    if isinstance(c, str) and c.startswith("1/"):
        return 1 / dims[c[2:]]
    if isinstance(c, str) and "/" in c:
        n, m = c.split("/")
        return dims[n] / dims[m]
    if isinstance(c, str) and c in dims:
        return float(dims[c])
    return float(c)


def submission_verdict(cases: list, expect) -> str:
    verdicts = [v for v, _ in cases]
    if WRONG in verdicts:
        return WRONG
    if expect == "none":
        return RIGHT
    return RIGHT if RIGHT in verdicts else UNNAMED


def run(path: Path, verbose: bool, timed: bool = False) -> dict:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    spec = load_spec(REPO / "assignments" / doc["assignment"])
    sentences = {m.name: m.sentence for m in load_catalogue(spec).mistakes}
    counts = {RIGHT: 0, WRONG: 0, UNNAMED: 0}
    cases_counted = {RIGHT: 0, WRONG: 0, UNNAMED: 0}
    cpu: list = []
    with Worker(spec.framework) as worker, tempfile.TemporaryDirectory(prefix="grader-diagnosis-") as tmp:
        prepared = Prepared(spec, hidden=True, worker=worker)
        prepared.mistakes.prime(prepared.cases, workers=[worker])
        regularized = {(fn.name, case.case_id): bool(fn.regularization and case.args.get(fn.regularization))
                       for fn, case in prepared.cases}
        print(f"{spec.name}: {len(doc['submissions'])} submissions")
        for number, (name, entry) in enumerate(doc["submissions"].items()):
            edits = tuple((tuple(e["in"]), e["old"], e["new"]) for e in entry["edits"])
            folder = Path(tmp) / str(number)
            folder.mkdir()
            for module in spec.modules:
                source = (spec.reference_dir / f"{module}.py").read_text(encoding="utf-8")
                (folder / f"{module}.py").write_text(variant_source(source, Mistake(name, "", edits, False)), encoding="utf-8")
            result = grade_submission(spec, folder, hidden=True, worker=worker, prepared=prepared)
            if timed:                    # again, warm: what the grader's own process spends on it
                for module in spec.modules:  # as another student's files: nothing read from them is reused
                    with open(folder / f"{module}.py", "a", encoding="utf-8") as f:
                        f.write("\n# graded again\n")
                t0 = time.process_time()
                grade_submission(spec, folder, hidden=True, worker=worker, prepared=prepared)
                cpu.append(time.process_time() - t0)
            edited = {f for e in edits for f in e[0]}
            judged = [(verdict(c, spec.function(c.function), entry["expect"], sentences, regularized[c.function, c.case_id]), c)
                      for c in result.cases() if c.function in edited and not c.passed]
            if not judged:
                print(f"  {name:<45} no failing case: not a bug the cases catch")
                continue
            outcome = submission_verdict(judged, entry["expect"])
            counts[outcome] += 1
            for v, _ in judged:
                cases_counted[v] += 1
            label = entry["expect"] if isinstance(entry["expect"], str) else next(iter(entry["expect"].items()))
            print(f"  {name:<45} {outcome:<8} {sum(v == RIGHT for v, _ in judged)}/{len(judged)} failing cases right   "
                  f"expect {label}")
            if verbose or outcome == WRONG:
                for v, c in judged:
                    if v != RIGHT:
                        print(f"      {v} {c.function} {c.case_id}: {c.status}: {c.diagnosis or '(nothing named)'}")
    total = sum(counts.values())
    print(f"{spec.name}: {counts[RIGHT]}/{total} named correctly ({counts[RIGHT] / total:.0%}), "
          f"{counts[WRONG]} named wrongly, {counts[UNNAMED]} with no name; failing cases: {cases_counted[RIGHT]} right, "
          f"{cases_counted[WRONG]} wrong, {cases_counted[UNNAMED]} unnamed")
    if cpu:
        print(f"{spec.name}: the grader's own process, per submission graded again (warm): {statistics.median(cpu) * 1e3:.1f} ms "
              f"of CPU (median), {statistics.mean(cpu) * 1e3:.1f} ms (mean) to send the job, read the answers and judge them "
              "(the child's calls not counted)")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("-v", "--verbose", action="store_true", help="show every case not named right")
    parser.add_argument("--repo", type=Path, help="grade with another checkout's grader and assignments")
    parser.add_argument("--time", action="store_true", help="grade each submission again and print the grader's CPU time for it")
    args = parser.parse_args()
    files = args.files or sorted((HERE / "benchmarks" / "diagnosis").glob("*.yaml"))
    for path in files:
        run(path, args.verbose, args.time)


if __name__ == "__main__":
    main()

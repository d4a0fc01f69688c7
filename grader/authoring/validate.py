"""`grader validate`: proof that an assignment's cases catch the mistakes students make.

    grader validate linear_classifier

Grades, through the real pipeline (sandboxed worker, hidden cases included): the reference,
which must score full marks; the handout's stubs, which must score zero; every catalogued
mistake, which must lose points in every function it touches; and every "not mistake" (a
correct solution written differently), which must score full marks. Prints a table of which
cases catch each mistake and how often the feedback names it, and fails when anything is off.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.expected.mistakes import load_catalogue, variant_source
from grader.judge.checks import STATIC
from grader.grade import Prepared, grade_submission
from grader.results import FAILED
from grader.expected.starter import strip_solutions
from grader.run.worker import start_worker
from grader.spec import AssignmentSpec, SpecError


@dataclass
class Row:
    name: str
    kind: str                                   # reference, handout, mistake, not_mistake
    earned: float
    possible: float
    problems: list = field(default_factory=list)
    caught: dict = field(default_factory=dict)  # function -> (failing case ids, diagnosed count, failing checks)
    exempt: list = field(default_factory=list)  # reference only: static checks it may fail (it may use autograd)


def validate(spec: AssignmentSpec) -> list[Row]:
    if spec.reference_dir is None:
        raise SpecError(spec.path, "", "validate needs the reference and hidden.yaml beside the spec")
    catalogue = load_catalogue(spec)
    prepared = Prepared(spec, hidden=True)
    sources = {m: (spec.reference_dir / f"{m}.py").read_text(encoding="utf-8") for m in spec.modules}
    entries = [("reference", "reference", dict(sources)),
               ("handout", "handout", {m: strip_solutions(s) for m, s in sources.items()})]
    entries += [(m.name, "not_mistake" if m.must_pass else "mistake", {k: variant_source(s, m) for k, s in sources.items()})
                for m in catalogue.mistakes + catalogue.variants]
    by_name = {m.name: m for m in catalogue.mistakes + catalogue.variants}
    rows = []
    with start_worker(spec.framework) as worker, tempfile.TemporaryDirectory(prefix="grader-validate-") as tmp:
        for number, (name, kind, files) in enumerate(entries):
            folder = Path(tmp) / str(number)          # not the name: a mistake may be called "reference"
            folder.mkdir()
            for module, text in files.items():
                (folder / f"{module}.py").write_text(text, encoding="utf-8")
            result = grade_submission(spec, folder, hidden=True, worker=worker, prepared=prepared)
            row = Row(name, kind, result.earned, result.possible)
            failing = [f"{c.function} {c.case_id}: {c.message}" for c in result.cases() if not c.passed]
            failing_checks = [c for c in result.checks() if not c.passed]
            if kind == "reference" and not failing and all(c.name in STATIC for c in failing_checks):
                # The reference may use what students may not (autograd, loops): a not-mistake must
                # then show that these checks can be passed (see below).
                row.exempt = sorted({c.name for c in failing_checks})
            elif kind in ("reference", "not_mistake") and result.earned != result.possible:
                failing += [f"{c.function}, check {c.name}: {c.message}" for c in failing_checks]
                row.problems.append(f"scores {result.earned:g}/{result.possible:g}, not full marks: {failing[0]}")
            if kind == "handout" and result.earned != 0:
                row.problems.append(f"the handout scores {result.earned:g}, not 0")
            if kind == "mistake":
                mistake = by_name[name]
                fns = {fn.name: fn for fn in result.functions}
                for fname in mistake.touches:
                    fn = fns[fname]
                    failing = [c for c in fn.cases if not c.passed]
                    named = sum(mistake.sentence in c.diagnosis for c in failing if c.diagnosis)
                    row.caught[fname] = ([c.case_id for c in failing], named, [c.name for c in fn.checks if c.status == FAILED])
                    if fn.earned >= fn.possible:
                        row.problems.append(f"not caught in {fname}: every case passes")
                    elif failing and not named:
                        shown = next((c.diagnosis for c in failing if c.diagnosis), "")
                        row.problems.append(f"never named in {fname}" + (
                            f": another mistake's sentence is shown first ({shown[:60]}...); add a case that "
                            "tells them apart" if shown else ": no failing case matches its outputs"))
                exempt = set(rows[0].exempt)           # checks the reference itself may fail (it uses autograd)
                strays = [fn.name for fn in result.functions if fn.name not in mistake.touches and _fails_itself(fn, exempt)]
                if strays:
                    row.problems.append(f"also fails {', '.join(strays)}, which it does not touch: list them in its "
                                        "`touches`, or narrow the edit")
            rows.append(row)
    reference = rows[0]
    if reference.exempt and not any(r.kind == "not_mistake" and r.earned == r.possible for r in rows):
        reference.problems.append(f"fails {', '.join(reference.exempt)}, and no not_mistake shows that a "
                                  "solution can pass: add one written the way students must write it")
    return rows


def _fails_itself(fn, exempt: set = frozenset()) -> bool:
    """A function that loses points by its own fault: a case that failed without being blocked by
    another function (its forward), or a check that failed (other than one the reference fails too)."""
    return any(not c.passed and not c.blocked_by for c in fn.cases) or \
        any(c.status == FAILED and c.name not in exempt for c in fn.checks)


def render(rows: list[Row]) -> str:
    """The coverage table: mistake x function -> the cases that catch it, and how often it is named."""
    lines = [f"{'entry':<24} {'function':<26} {'caught by':<34} named"]
    for row in rows:
        if row.kind != "mistake":
            verdict = "ok" if not row.problems else "PROBLEM"
            if row.exempt and not row.problems:
                verdict += f" (fails {', '.join(row.exempt)}: the reference may; a not_mistake passes)"
            lines.append(f"{row.name:<24} {'(all)':<26} {row.earned:g}/{row.possible:g} points, {row.kind}: {verdict}")
        for fname, (ids, named, checks) in row.caught.items():
            public = sum(i.startswith("public") for i in ids)
            hidden = len(ids) - public
            caught = f"{public} public + {hidden} hidden cases" if ids else ""
            caught = "; ".join(x for x in (caught, ", ".join(checks)) if x) or "NOTHING"
            lines.append(f"{row.name:<24} {fname:<26} {caught:<34} {named}/{len(ids)}")
        for problem in row.problems:
            lines.append(f"  ! {row.name}: {problem}")
    bad = sum(bool(r.problems) for r in rows)
    mistakes = sum(r.kind == "mistake" for r in rows)
    lines.append("")
    if not mistakes:                 # a new assignment: the reference and the handout are still checked
        head = "No catalogued mistakes yet (add them to mistakes.yaml); "
    else:
        head = f"{mistakes} catalogued mistakes; " + ("all caught, " if not bad else "")
    lines.append(head + ("reference full marks, handout zero." if not bad else f"{bad} entries with problems."))
    return "\n".join(lines) + "\n"

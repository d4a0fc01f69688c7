"""The one result model every reporter reads.

Plain dataclasses, built by the grading pipeline and never recomputed by a reporter:

    SubmissionResult
      └── FunctionResult (one per graded function: points, score, cases)
            └── CaseResult (one per case: status, seed, message, outputs)
                  └── OutputCheck (one per output: relative error, worst element)

`SubmissionResult.to_dict()` is the JSON report (schema in grader/report/schema.json).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1

# Case statuses. Only PASSED earns points.
PASSED = "passed"
FAILED = "failed"                    # ran, but an output is wrong (value, shape, kind, NaN, mutation)
ERROR = "error"                      # raised an exception, or could not be imported / found
NOT_IMPLEMENTED = "not_implemented"  # raised NotImplementedError (the untouched handout)
TIMEOUT = "timeout"                  # killed at the time limit, or not run after an earlier timeout
CRASHED = "crashed"                  # the worker died (segfault, os._exit, memory limit)
STATUSES = (PASSED, FAILED, ERROR, NOT_IMPLEMENTED, TIMEOUT, CRASHED)
# An ERROR case's message where its module did not import: "<file> could not be imported: <why>"
# (judge.case writes it; the terminal report reads it, to say it once above the module's functions).
UNIMPORTED = " could not be imported: "

# How statuses map onto JUnit: a wrong answer is a <failure>, anything that stopped the
# code from producing an answer is an <error>.
FAILURE_STATUSES = (FAILED,)
ERROR_STATUSES = (ERROR, NOT_IMPLEMENTED, TIMEOUT, CRASHED)

PUBLIC = "public"
HIDDEN = "hidden"


def show_dims(dims: dict) -> str:
    """A case's sizes as every report and message shows them: 'N=64, D=32, C=10' ("" without dims)."""
    return ", ".join(f"{k}={v}" for k, v in dims.items())


@dataclass
class OutputCheck:
    """The verdict on one output of one case."""

    name: str
    ok: bool
    message: str = ""
    max_rel_error: float | None = None
    worst_index: list[int] | None = None
    expected: float | None = None   # the expected value at worst_index
    got: float | None = None        # the student's value at worst_index


@dataclass
class CaseResult:
    """One call of one student function on one seeded case."""

    function: str
    case_id: str                     # "public-1", "hidden-3"
    visibility: str                  # PUBLIC or HIDDEN
    seed: int
    status: str
    message: str = ""                # one line: what is wrong, for a student
    details: str = ""                # more lines: the student's traceback line, hints
    diagnosis: str = ""              # the catalogued mistake this output matches, as a sentence
    note: str = ""                   # what the case exercises, from the spec
    dims: dict[str, int] = field(default_factory=dict)
    outputs: list[OutputCheck] = field(default_factory=list)
    duration: float | None = None    # seconds spent in the student's call
    stdout: str = ""                 # what the student's code printed during this case
    exception: str = ""              # the type of what the student's call raised ("IndexError"), if it raised
    blocked_by: str = ""             # not judged because this other function failed first (the forward a backward is graded on)

    @property
    def passed(self) -> bool:
        return self.status == PASSED


@dataclass
class CheckResult:
    """A check beyond the outputs (numerical gradient, no loops, faster than...): its own points."""

    function: str
    name: str                        # "no_loops", "agrees_with svm_loss_naive"
    visibility: str                  # PUBLIC or HIDDEN
    status: str                      # PASSED, FAILED, or ERROR when it could not be judged
    earned: float = 0.0
    possible: float = 0.0
    message: str = ""                # one line, for a student
    details: str = ""                # more lines: where, by how much

    @property
    def passed(self) -> bool:
        return self.status == PASSED


@dataclass
class Score:
    """Points earned out of points possible for one visibility."""

    earned: float = 0.0
    possible: float = 0.0
    passed: int = 0
    total: int = 0


@dataclass
class FunctionResult:
    """All cases of one student function, and the points they earned."""

    name: str
    module: str
    cases: list[CaseResult] = field(default_factory=list)
    public: Score = field(default_factory=Score)
    hidden: Score | None = None      # None when the hidden cases were not graded
    checks: list[CheckResult] = field(default_factory=list)   # the checks run, with their own points

    @property
    def earned(self) -> float:
        return self.public.earned + (self.hidden.earned if self.hidden else 0.0) + sum(c.earned for c in self.checks)

    @property
    def possible(self) -> float:
        return self.public.possible + (self.hidden.possible if self.hidden else 0.0) + sum(c.possible for c in self.checks)


@dataclass
class SubmissionResult:
    """Everything the grader found out about one submission."""

    assignment: str
    submission: str
    hidden_graded: bool              # were hidden cases run?
    hidden_available: bool           # were the hidden cases at hand (the instructor's checkout)?
    hidden_points: float = 0.0       # what the hidden cases and hidden checks are worth, graded or not
    functions: list[FunctionResult] = field(default_factory=list)
    sandbox: str = ""                # which isolation the worker ran with: "strong: process+landlock(abi 7)+..."
    sandbox_warning: str = ""        # what a weaker mode leaves open; empty in the strong mode
    grader_version: str = ""
    started: str = ""                # ISO 8601, UTC
    duration: float = 0.0            # seconds, wall clock
    stdout: str = ""                 # what the student's modules printed while being imported
    student: str = ""                # the student's id in a batch (from the folder or file name)
    fingerprint: str = ""            # digest of the submission's files, the spec and the grader: what was graded
    title: str = ""                  # the assignment's title, from its spec (reports of merged shards need it)
    grading_error: str = ""          # why it could not be graded (its worker failed, or the grader): not the student's doing
    schema_version: int = SCHEMA_VERSION

    def cases(self) -> list[CaseResult]:
        return [case for fn in self.functions for case in fn.cases]

    @property
    def label(self) -> str:
        """Who this is in a class-level report: the student, or the submission's path outside a batch."""
        return self.student or self.submission

    @property
    def public(self) -> Score:
        return _sum_scores(fn.public for fn in self.functions)

    @property
    def hidden(self) -> Score | None:
        return _sum_scores(fn.hidden for fn in self.functions) if self.hidden_graded else None

    @property
    def checks_score(self) -> Score:
        checks = self.checks()
        return Score(earned=sum(c.earned for c in checks), possible=sum(c.possible for c in checks),
                     passed=sum(c.passed for c in checks), total=len(checks))

    @property
    def earned(self) -> float:
        return sum(fn.earned for fn in self.functions)

    @property
    def possible(self) -> float:
        return sum(fn.possible for fn in self.functions)

    def checks(self) -> list[CheckResult]:
        return [check for fn in self.functions for check in fn.checks]

    def counts(self) -> dict[str, int]:
        """Cases and checks by outcome, as JUnit counts them: passed, failures, errors."""
        cases = self.cases() + self.checks()
        return {
            "tests": len(cases),
            "passed": sum(c.status == PASSED for c in cases),
            "failures": sum(c.status in FAILURE_STATUSES for c in cases),
            "errors": sum(c.status in ERROR_STATUSES for c in cases),
        }

    @property
    def all_passed(self) -> bool:
        return all(case.passed for case in self.cases()) and all(check.passed for check in self.checks())

    def to_dict(self) -> dict[str, Any]:
        data = _plain(self)
        hidden = self.hidden
        data["score"] = {
            "earned": self.earned,
            "possible": self.possible,
            "public": _plain(self.public),
            "hidden": _plain(hidden) if hidden else None,
            "checks": _plain(self.checks_score),
        }
        data["counts"] = self.counts()
        for fn_data, fn in zip(data["functions"], self.functions):
            fn_data["earned"], fn_data["possible"] = fn.earned, fn.possible
        return data


    @classmethod
    def from_dict(cls, data: dict) -> "SubmissionResult":
        """The inverse of to_dict (derived fields are dropped and computed again)."""
        # Fields this version does not know (written by a newer grader) are left out, not an error:
        # `grader merge` may join shards graded by different versions.
        def known(model, d: dict) -> dict:
            return {k: v for k, v in d.items() if k in model.__dataclass_fields__}

        def score(d):
            return Score(**known(Score, d)) if d is not None else None

        def case(d):
            d = known(CaseResult, d)
            d["outputs"] = [OutputCheck(**{k: _number(v) if k in ("max_rel_error", "expected", "got") else v
                                           for k, v in known(OutputCheck, o).items()}) for o in d.get("outputs", [])]
            return CaseResult(**d)

        functions = [FunctionResult(name=f["name"], module=f["module"], cases=[case(c) for c in f["cases"]],
                                    public=score(f["public"]), hidden=score(f.get("hidden")),
                                    checks=[CheckResult(**known(CheckResult, c)) for c in f.get("checks", [])])
                     for f in data.get("functions", [])]
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "functions"}
        return cls(functions=functions, **fields)


def _plain(value: Any) -> Any:
    """A result as JSON-able dicts and lists, like `dataclasses.asdict` (which deep-copies every leaf
    and costs 5 ms per submission of a batch: too slow for a model that holds only plain values)."""
    if isinstance(value, _MODEL):
        return {name: v if type(v) in _LEAVES else _plain(v) for name, v in value.__dict__.items()}
    if isinstance(value, list):
        return [v if type(v) in _LEAVES else _plain(v) for v in value]
    if isinstance(value, dict):
        return {k: v if type(v) in _LEAVES else _plain(v) for k, v in value.items()}
    return value


_LEAVES = frozenset((str, int, float, bool, type(None)))     # returned as they are, without a call each


def _number(v):
    """JSON reports write non-finite floats as strings; read them back as floats."""
    return float(v) if isinstance(v, str) else v


def _sum_scores(scores) -> Score:
    total = Score()
    for s in scores:
        total.earned += s.earned
        total.possible += s.possible
        total.passed += s.passed
        total.total += s.total
    return total


_MODEL = (OutputCheck, CaseResult, CheckResult, Score, FunctionResult, SubmissionResult)

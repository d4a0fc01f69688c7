"""The spec as data: what an assignment declares, validated (load.py makes it from YAML)."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import FRAMEWORKS  # noqa: F401 - grader.spec.FRAMEWORKS; defined beside the version, for the CLI

SPEC_FILE = "assignment.yaml"
HIDDEN_FILE = "hidden.yaml"
EXPECTED_FILE = "expected_public.json"

LEAF_KINDS = ("array", "labels", "scalar", "literal")
CONTAINER_KINDS = ("dict", "list", "tuple")
ARG_KINDS = LEAF_KINDS + CONTAINER_KINDS
OUTPUT_KINDS = ("scalar", "array") + CONTAINER_KINDS + ("literal", "any")
DISTRIBUTIONS = ("normal", "uniform")
FLOAT_DTYPES = ("float64", "float32")
ANY_FLOAT = "float"                  # an output dtype: float32 or float64, each judged at its precision
INT_DTYPES = ("int64", "int32")
CHECKS = ("no_input_mutation",)      # per case: part of each case's verdict
SCORED_CHECKS = ("gradient", "agrees_with", "no_loops", "no_autograd", "faster_than", "analytic")   # own points
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
QUALNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")     # function or Class.method
PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.([A-Za-z_][A-Za-z0-9_]*|[0-9]+))*$")  # grads.W1, caches.0


class SpecError(Exception):
    """A problem with a spec, as one line: `file: field: problem`."""

    def __init__(self, file: Path | str, where: str, problem: str):
        self.file, self.where, self.problem = str(file), where, problem
        super().__init__(f"{file}: {where}: {problem}" if where else f"{file}: {problem}")


@dataclass(frozen=True)
class ArgSpec:
    """How to generate one argument (or one part of one) from a case's random stream.

    Leaves: a random `array`, integer `labels`, a `scalar` (fixed or drawn), a `literal` (a string,
    bool, None or number written in the spec). Containers: a `dict`, `list` or `tuple` whose
    `items` are ArgSpecs, nested (`bn_param: {mode: train, eps: 1.0e-5, running_mean: {kind: array,
    shape: [D]}}`)."""

    name: str
    kind: str                        # array | labels | scalar | literal | dict | list | tuple
    shape: tuple = ()                # dim names or ints (array, labels)
    dtype: str = "float64"
    dist: str = "normal"
    loc: Any = 0.0                   # normal's mean; an array's may be (dim, means): one per entry along that dim's axis
    scale: float = 1.0
    low: Any = 0.0                   # uniform low; labels: lowest label (int or dim name)
    high: Any = 1.0                  # uniform high; labels: one past the highest label
    value: Any = None                # a fixed scalar, or the literal
    items: tuple = ()                # containers: (key, ArgSpec) pairs (list and tuple: keys 0, 1, ...)


@dataclass(frozen=True)
class OutputSpec:
    """What of a call's result is compared: a name the steps bind, or a path into one
    (`grads.W1`, `bn_param.running_mean`: an argument's state after the call)."""

    name: str                        # as written: 'loss', 'grads.W1'
    kind: str = "any"                # scalar | array | dict | list | tuple | literal | any (what the reference returns)
    shape: tuple | None = None       # dim names or ints; None: not checked
    dtype: str | None = None         # exact dtype required of an array; None: any real dtype
    rtol: float | None = None        # None: the function's tolerance
    atol: float | None = None
    compare: bool = True             # false: returned for the properties only, never compared with the reference
    setup: str = ""                  # the other graded function whose step binds it (its failure blocks the case)

    @functools.cached_property
    def path(self) -> tuple:         # asked for every output of every case judged: worked out once
        return tuple(int(p) if p.isdigit() else p for p in self.name.split("."))

    @property
    def root(self) -> str:
        return self.name.split(".")[0]


@dataclass(frozen=True)
class PropertySpec:
    """A property every answer must have, for functions whose right answers legitimately differ
    (a random dropout mask): a numpy expression over the case's arguments, dims and outputs."""

    name: str
    expect: str                      # true, or true everywhere (an array of bools)
    message: str                     # the sentence a student reads when it is false
    when: str = ""                   # an expression: the property applies to cases where it is true
    blocks: str = ""                 # a property of what another graded function made (the forward's out): when
                                     # false, the case is not judged and that function is named
    show: tuple = ()                 # expressions whose values a false property reports ("mean(out != 0)")


@dataclass(frozen=True)
class CaseSpec:
    visibility: str                  # public | hidden
    index: int                       # 1-based within its visibility
    seed: int
    note: str = ""
    dims: dict = field(default_factory=dict)      # fixed dims for this case
    args: dict = field(default_factory=dict)      # name -> ArgSpec replacing the function's
    steps: tuple | None = None                    # Steps replacing the function's

    @functools.cached_property
    def case_id(self) -> str:        # a key of every cache of the reference's and mistakes' outputs: asked often
        return f"{self.visibility}-{self.index}"


@dataclass(frozen=True)
class CheckSpec:
    """A check beyond the outputs, with its own points (docs/spec-format.md, "Checks")."""

    kind: str                        # one of SCORED_CHECKS
    points: float
    visibility: str                  # public, or hidden: run only when the hidden cases are
    function: str = ""               # agrees_with, faster_than: the other function (analytic: its own)
    case: CaseSpec | None = None     # gradient, faster_than: the inputs; None: the function's first public case
    wrt: str = ""                    # gradient: the argument the gradient is taken with respect to (the first)
    loss: str = ""                   # gradient: the scalar output, or an expression of outputs: sum(out * dout)
    grad: str = ""                   # gradient: the output holding d loss / d wrt (the first)
    pairs: tuple = ()                # gradient: (input path, output path holding d loss / d input), each checked
    steps: tuple | None = None       # gradient: the steps that compute the loss (default: the case's, up to it)
    samples: int = 10                # gradient: coordinates checked
    h: float = 1e-5                  # gradient: step of the centred differences
    tolerance: float = 1e-6          # gradient: largest relative error |num - ana| / (|num| + |ana|)
    factor: float = 1.0              # faster_than: at least this many times faster; analytic: at most this many times slower
    repeat: int = 3                  # faster_than, analytic: timings of each side; the fastest counts

    @property
    def timed(self) -> bool:
        """A check that times the function against the reference's (hidden: it needs the reference)."""
        return self.kind in ("faster_than", "analytic")

    @property
    def needed(self) -> float:
        """The least ratio of the reference's time to the function's that passes a timed check."""
        return 1 / self.factor if self.kind == "analytic" else self.factor

    @property
    def name(self) -> str:
        """How reports name it: 'no_loops', 'agrees_with svm_loss_naive'."""
        return f"{self.kind} {self.function}" if self.function and self.kind != "analytic" else self.kind


@dataclass(frozen=True)
class FunctionSpec:
    name: str                        # as the student writes it: 'svm_loss', 'Linear.forward', 'TwoLayerNet.loss'
    module: str
    dims: dict                       # name -> (low, high), inclusive; or an expression of the dims before it
    args: tuple                      # ArgSpec, in call order
    outputs: tuple                   # OutputSpec: what is compared (return order when there are no steps)
    rtol: float
    atol: float
    points_public: float
    points_hidden: float
    all_or_nothing: bool
    checks: tuple                    # per-case checks (CHECKS)
    cases: tuple                     # CaseSpec, public first
    scored_checks: tuple = ()        # CheckSpec: checks with their own points
    steps: tuple = ()                # steps.Step: what a case runs (by default, outputs = name(args))
    properties: tuple = ()           # PropertySpec: every answer must have them
    regularization: str = ""         # the scalar argument that weighs a regularization term (`reg`), for the diagnosis
    given: bool = False              # the handout's code, graded to see that it works with the student's: no hint sends
                                     # the student to fix it, but to the functions of theirs it calls

    def arg_for_case(self, case: CaseSpec) -> tuple:
        """The function's ArgSpecs with the case's overrides applied, then the case's own (a case
        with steps of its own may use more arguments)."""
        names = {a.name for a in self.args}
        return tuple(case.args.get(a.name, a) for a in self.args) + tuple(a for n, a in case.args.items() if n not in names)

    def cases_of(self, visibility: str) -> list:
        return [c for c in self.cases if c.visibility == visibility]

    def steps_for(self, case: CaseSpec | None) -> tuple:
        return case.steps if case is not None and case.steps is not None else self.steps

    def output(self, name: str) -> OutputSpec:
        return next(o for o in self.outputs if o.name == name)

    @property
    def compared(self) -> tuple:
        return tuple(o for o in self.outputs if o.compare)


@dataclass(frozen=True)
class Limits:
    case_timeout: float = 10.0       # seconds per case
    import_timeout: float = 30.0     # seconds to import the modules
    memory: int = 4 << 30            # bytes of address space
    disk: int = 64 << 20             # bytes a run may write into its scratch folder, in all
    skip_after_timeouts: int = 1     # after this many timeouts, a function's other cases are not run (0: never)
    submission_timeout: float = 300.0  # seconds of all of one submission's calls and imports, at most


@dataclass(frozen=True)
class AssignmentSpec:
    name: str
    title: str
    framework: str
    modules: tuple
    limits: Limits
    functions: tuple                 # FunctionSpec
    path: Path                       # the assignment.yaml file
    reference_dir: Path | None       # None when hidden.yaml is absent (a student's handout)
    has_hidden: bool                 # hidden.yaml was found and loaded
    support: tuple = ()              # files and folders (relative to the spec) given to the student's code, read-only
    scenarios: tuple = ()            # Python files (relative to the spec) whose functions steps may call
    packages: tuple = ()             # pip requirements the student's code may import (grader gradescope installs them)
    beside: bool = False             # found beside the submission: the submission's copy of a handout (load.locate_spec)

    def support_files(self) -> dict:
        """{path to import it by: text} of every support file, folders walked (what the child gets):
        `a3_helper.py`, `eecs598/solver.py`, whatever folder of the spec's they sit in."""
        out = {}
        for rel in self.support:
            path = self.folder / rel
            files = sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts) if path.is_dir() else [path]
            for f in files:
                out[str(f.relative_to(path.parent))] = f.read_text(encoding="utf-8")
        return out

    def scenario_sources(self) -> dict:
        """{module name: source} of the scenario files."""
        return {Path(rel).stem: (self.folder / rel).read_text(encoding="utf-8") for rel in self.scenarios}

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def expected_path(self) -> Path:
        return self.folder / EXPECTED_FILE

    def function(self, name: str) -> FunctionSpec:
        for f in self.functions:
            if f.name == name:
                return f
        raise KeyError(name)

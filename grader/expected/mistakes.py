"""The mistake catalogue: named variants of the reference, each one typical error, with a sentence.

`assignments/NAME/mistakes.yaml` (instructor-only: its edits quote solution code) lists them.
Variants run like the reference (they are the instructor's code): in a worker's child of their own
(`grader check` and `grader grade`), or in the grader's process when there is no worker or it fails. Grading uses their outputs to recognise a student's
mistake on the same case; `grader release` writes their outputs on the public cases into the
handout, so a student's self-check can recognise mistakes too without seeing any code.

    >>> catalogue = load_catalogue(spec)
    >>> [m.name for m in catalogue.mistakes][:2]
    ['reg_half_in_loss', 'reg_half_in_grad']

An edit applies inside a function or a method (`in: [TwoLayerNet.loss]`), where its `old` text
must occur once. A mistake "touches" the graded functions it must make fail: those its edits are
in, unless `touches` says otherwise (an edit in a forward that stores the wrong thing in its cache
touches the backward graded on that cache).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass

import numpy as np

from grader.cases import Case
from grader.run.outcome import Raised
from grader.spec import AssignmentSpec, FunctionSpec, SpecError

CATALOGUE_FILE = "mistakes.yaml"


@dataclass(frozen=True)
class Mistake:
    name: str
    sentence: str
    edits: tuple          # (functions or methods, old, new)
    must_pass: bool       # a "not mistake": a correct solution written differently
    touches: tuple = ()   # the graded functions it must make fail

    @property
    def functions(self) -> tuple:
        """The functions and methods its edits are in."""
        seen = []
        for functions, _, _ in self.edits:
            seen += [f for f in functions if f not in seen]
        return tuple(seen)


@dataclass
class Catalogue:
    mistakes: list
    variants: list        # the not_mistakes

    def touching(self, function: str) -> list:
        return [m for m in self.mistakes if function in m.touches]


def load_catalogue(spec: AssignmentSpec) -> Catalogue:
    """The assignment's catalogue; empty when it has none."""
    path = spec.folder / CATALOGUE_FILE
    if not path.is_file() or _only_comments(path.read_text()):
        return Catalogue([], [])
    from grader.spec import resolved_yaml
    data = resolved_yaml(path)              # `extends` lets an assignment reuse another's sentences
    graded = {f.name for f in spec.functions}
    defined = _definitions(spec)
    out = {"mistakes": [], "not_mistakes": []}
    for section in out:
        entries = data.get(section) or {}
        if not isinstance(entries, dict):
            raise SpecError(path, section, "must be a mapping of names to mistakes")
        for name, entry in entries.items():
            where = f"{section}.{name}"
            if any(m.name == str(name) for m in out["mistakes"]):
                raise SpecError(path, where, "the same name is a mistake too: give one of them another")
            if not isinstance(entry, dict) or not isinstance(entry.get("sentence"), str) or not entry.get("edits"):
                raise SpecError(path, where, "needs a `sentence` and a list of `edits`")
            unknown_keys = set(entry) - {"sentence", "edits", "touches"}
            if unknown_keys:
                raise SpecError(path, f"{where}.{sorted(unknown_keys)[0]}", "unknown field (allowed: sentence, edits, touches)")
            edits = []
            for i, edit in enumerate(entry["edits"]):
                ewhere = f"{where}.edits[{i}]"
                if not isinstance(edit, dict) or not {"in", "old", "new"} <= set(edit):
                    raise SpecError(path, ewhere, "needs `in` (functions), `old` and `new`")
                functions = edit["in"] if isinstance(edit["in"], list) else [edit["in"]]
                unknown = [f for f in functions if f not in graded and f not in defined]
                if unknown:
                    raise SpecError(path, f"{ewhere}.in", f"unknown function {unknown[0]} (graded: {', '.join(sorted(graded))})")
                edits.append((tuple(functions), str(edit["old"]), str(edit["new"])))
            mistake = Mistake(str(name), " ".join(entry["sentence"].split()), tuple(edits),
                              must_pass=section == "not_mistakes")
            touches = entry.get("touches")
            if touches is None:
                touches = [f for f in mistake.functions if f in graded]
            elif not isinstance(touches, list) or any(t not in graded for t in touches):
                raise SpecError(path, f"{where}.touches", f"must list graded functions (graded: {', '.join(sorted(graded))})")
            if not touches and not mistake.must_pass:
                raise SpecError(path, f"{where}.touches", "its edits are in no graded function: say which graded "
                                                          "functions it makes fail")
            out[section].append(Mistake(**{**mistake.__dict__, "touches": tuple(touches)}))
    return Catalogue(out["mistakes"], out["not_mistakes"])


def _definitions(spec: AssignmentSpec) -> set:
    """The functions and methods (`Class.method`) the reference's modules define."""
    names: set = set()
    if spec.reference_dir is None:
        return names
    for m in spec.modules:
        try:
            tree = ast.parse((spec.reference_dir / f"{m}.py").read_text())
        except (OSError, SyntaxError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names.add(node.name)
            elif isinstance(node, ast.ClassDef):
                names |= {f"{node.name}.{n.name}" for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return names


def _only_comments(text: str) -> bool:
    """A catalogue with nothing in it yet (`grader new` starts one with a commented example)."""
    return all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines())


class Span:
    """Where a definition sits in a source text, like a regular expression's match (start, end, group(0))."""

    def __init__(self, source: str, start: int, end: int):
        self._source, self._start, self._end = source, start, end

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end

    def group(self, _n: int = 0) -> str:
        return self._source[self._start:self._end]


def function_span(source: str, name: str) -> Span | None:
    """The whole definition of a function or method (`svm_loss`, `Linear.backward`), decorators
    included, or None when the source has none (or does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    body, node = tree.body, None
    for part in name.split("."):
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == part), None)
        if node is None:
            return None
        body = node.body
    lines = source.splitlines(keepends=True)
    first = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
    start = sum(len(line) for line in lines[:first])
    end = sum(len(line) for line in lines[:node.end_lineno])
    return Span(source, start, end)


def variant_source(source: str, mistake: Mistake, filename: str = "reference") -> str:
    """The reference module's source with the mistake's edits applied inside their functions (or
    methods: `TwoLayerNet.loss`)."""
    for functions, old, new in mistake.edits:
        for fname in functions:
            match = function_span(source, fname)
            if match is None:
                continue                      # that function lives in another module
            body = match.group(0)
            if body.count(old) != 1:
                raise SpecError(filename, f"{mistake.name}", f"edit {old[:40]!r} occurs {body.count(old)} times in {fname}, not once")
            source = source[:match.start()] + body.replace(old, new) + source[match.end():]
    return source


class MistakeOutputs:
    """What each mistake returns on a case ({output name: tree}), or what it raised (Raised): run from
    the catalogue, or read from the handout."""

    def __init__(self, spec: AssignmentSpec, public_file: dict | None = None, cases=()):
        self.spec = spec
        self.catalogue = load_catalogue(spec) if spec.reference_dir is not None else Catalogue([], [])
        self._public = public_file or {}
        self._cache: dict = {}
        self._cases = list(cases)        # [(FunctionSpec, Case)]: what a mistake run in a worker runs on

    def candidates(self, fn: FunctionSpec, case: Case, worker=None) -> list[tuple[str, str, dict | Raised | None]]:
        """(name, sentence, outputs) for each mistake touching fn: its outputs ({output name: tree}),
        what it raised (Raised), or None when it matches nothing. A mistake not computed yet runs in
        a child of `worker` when given (on all of fn's cases at once), else in this process."""
        if not self.catalogue.mistakes:
            return list(self._public.get(fn.name, {}).get(case.case_id, []))
        return [(m.name, m.sentence, self.outputs(m, fn, case, worker)) for m in self.catalogue.touching(fn.name)]

    def via(self, worker) -> "_Via":
        """These outputs, computing the missing ones in children of `worker`."""
        return _Via(self, worker)

    def prime(self, cases, workers=()) -> None:
        """Compute every mistake's outputs on `cases` [(FunctionSpec, Case)] now rather than when
        first needed: a batch needs nearly all of them. With `workers`, each mistake runs in a child
        of one of them (the mistakes shared out), and this process never imports torch."""
        if not self.catalogue.mistakes:
            return
        if not workers:
            for mistake in self.catalogue.mistakes:
                mine = [(fn, case) for fn, case in cases if fn.name in mistake.touches
                        and (mistake.name, fn.name, case.case_id) not in self._cache]
                self._store(mistake, mine, self._in_process(mistake, mine))
            return
        from grader.run.worker import on_workers

        def run(worker, mistake: Mistake) -> tuple:
            mine = [(fn, case) for fn, case in cases if fn.name in mistake.touches]
            return mistake, mine, self._in_worker(mistake, mine, worker) if mine else []

        for mistake, mine, outcomes in on_workers(workers, run, self.catalogue.mistakes):
            self._store(mistake, mine, outcomes)

    def _store(self, mistake: Mistake, cases, outcomes) -> None:
        """What each variant call came to: its outputs, what it raised in a graded step (Raised), or None."""
        for (fn, case), outcome in zip(cases, outcomes):
            value = None
            if outcome is not None and outcome.ok:
                value = outcome.outputs
            elif outcome is not None and outcome.step is not None:
                steps = fn.steps_for(case.spec)
                if 0 <= outcome.step < len(steps) and steps[outcome.step].graded:
                    value = Raised.of(outcome)
            self._cache[(mistake.name, fn.name, case.case_id)] = value

    def _sources(self, mistake: Mistake) -> dict | None:
        try:
            return {m: variant_source(path.read_text(), mistake, str(path)) for m in self.spec.modules
                    for path in [self.spec.reference_dir / f"{m}.py"]}
        except SpecError:              # an edit that does not apply: a variant that matches nothing
            return None

    def _in_worker(self, mistake: Mistake, cases, worker, raise_worker_errors: bool = False) -> list:
        from grader.expected import in_worker
        sources = self._sources(mistake)
        if sources is None:
            return [None] * len(cases)
        return in_worker(self.spec, cases, worker, sources, raise_worker_errors=raise_worker_errors)

    def _in_process(self, mistake: Mistake, cases) -> list:
        from grader.expected import run_in_process
        sources = self._sources(mistake)
        if sources is None or not cases:
            return [None] * len(cases)
        try:
            with np.errstate(all="ignore"):       # overflow is what some mistakes are about
                return run_in_process(self.spec, cases, sources, label=mistake.name)
        except Exception:  # noqa: BLE001 - a variant that does not even import matches nothing
            return [None] * len(cases)

    def outputs(self, mistake: Mistake, fn: FunctionSpec, case: Case, worker=None) -> dict | None:
        key = (mistake.name, fn.name, case.case_id)
        if key not in self._cache and worker is not None:
            from grader.run.worker import WorkerError
            mine = [(f, c) for f, c in self._cases if f.name == fn.name and c.case_id != case.case_id
                    and (mistake.name, f.name, c.case_id) not in self._cache] + [(fn, case)]
            try:
                self._store(mistake, mine, self._in_worker(mistake, mine, worker, raise_worker_errors=True))
            except WorkerError:
                pass                     # the worker failed, not the mistake: this process runs it
        if key not in self._cache:
            self._store(mistake, [(fn, case)], self._in_process(mistake, [(fn, case)]))
        return self._cache[key]


class _Via:
    """MistakeOutputs as judge_case asks them, with the worker to run missing mistakes in."""

    def __init__(self, outputs: MistakeOutputs, worker):
        self._outputs, self._worker = outputs, worker

    def candidates(self, fn: FunctionSpec, case: Case) -> list:
        return self._outputs.candidates(fn, case, self._worker)

"""The mistake catalogue: named variants of the reference, each one typical error, with a sentence.

`assignments/NAME/mistakes.yaml` (instructor-only: its edits quote solution code) lists them.
Variants run in the grader's process, like the reference: they are the instructor's code.
Grading uses their outputs to recognise a student's mistake on the same case; `grader release`
writes their outputs on the public cases into the handout, so a student's self-check can
recognise mistakes too without seeing any code.

    >>> catalogue = load_catalogue(spec)
    >>> [m.name for m in catalogue.mistakes][:2]
    ['reg_half_in_loss', 'reg_half_in_grad']
"""
from __future__ import annotations

import re
import types
from dataclasses import dataclass

import numpy as np

from .cases import Case
from .compare import relative_error
from .spec import AssignmentSpec, FunctionSpec, SpecError

CATALOGUE_FILE = "mistakes.yaml"


@dataclass(frozen=True)
class Mistake:
    name: str
    sentence: str
    edits: tuple          # (functions, old, new)
    must_pass: bool       # a "not mistake": a correct solution written differently

    @property
    def functions(self) -> tuple:
        seen = []
        for functions, _, _ in self.edits:
            seen += [f for f in functions if f not in seen]
        return tuple(seen)


@dataclass
class Catalogue:
    mistakes: list
    variants: list        # the not_mistakes

    def touching(self, function: str) -> list:
        return [m for m in self.mistakes if function in m.functions]


def load_catalogue(spec: AssignmentSpec) -> Catalogue:
    """The assignment's catalogue; empty when it has none."""
    path = spec.folder / CATALOGUE_FILE
    if not path.is_file() or _only_comments(path.read_text()):
        return Catalogue([], [])
    from .spec import resolved_yaml
    data = resolved_yaml(path)              # `extends` lets an assignment reuse another's sentences
    known = {f.name for f in spec.functions}
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
            edits = []
            for i, edit in enumerate(entry["edits"]):
                ewhere = f"{where}.edits[{i}]"
                if not isinstance(edit, dict) or not {"in", "old", "new"} <= set(edit):
                    raise SpecError(path, ewhere, "needs `in` (functions), `old` and `new`")
                functions = edit["in"] if isinstance(edit["in"], list) else [edit["in"]]
                unknown = [f for f in functions if f not in known]
                if unknown:
                    raise SpecError(path, f"{ewhere}.in", f"unknown function {unknown[0]} (has: {', '.join(sorted(known))})")
                edits.append((tuple(functions), str(edit["old"]), str(edit["new"])))
            out[section].append(Mistake(str(name), " ".join(entry["sentence"].split()), tuple(edits),
                                        must_pass=section == "not_mistakes"))
    return Catalogue(out["mistakes"], out["not_mistakes"])


def _only_comments(text: str) -> bool:
    """A catalogue with nothing in it yet (`grader new` starts one with a commented example)."""
    return all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines())


def function_span(source: str, name: str):
    """The match of a top-level function's whole definition (up to the next one), or None."""
    return re.search(rf"^def {re.escape(name)}\(.*?(?=^def |\Z)", source, flags=re.S | re.M)


def variant_source(source: str, mistake: Mistake, filename: str = "reference") -> str:
    """The reference module's source with the mistake's edits applied inside their functions."""
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
    """What each mistake returns on a case: run from the catalogue, or read from the handout."""

    def __init__(self, spec: AssignmentSpec, public_file: dict | None = None):
        self.spec = spec
        self.catalogue = load_catalogue(spec) if spec.reference_dir is not None else Catalogue([], [])
        self._public = public_file or {}
        self._modules: dict = {}
        self._cache: dict = {}

    def candidates(self, fn: FunctionSpec, case: Case) -> list[tuple[str, str, list | None]]:
        """(name, sentence, outputs or None when the variant failed) for each mistake touching fn."""
        if not self.catalogue.mistakes:
            entry = self._public.get(fn.name, {}).get(case.case_id, {})
            return [(m["name"], m["sentence"], [np.array(o["data"], dtype=np.float64).reshape(o["shape"])
                                                 for o in m["outputs"]]) for m in entry.get("mistakes", [])]
        return [(m.name, m.sentence, self.outputs(m, fn, case)) for m in self.catalogue.touching(fn.name)]

    def prime(self, cases, workers=()) -> None:
        """Compute every mistake's outputs on `cases` [(FunctionSpec, Case)] now rather than when
        first needed: a batch needs nearly all of them. With `workers`, each mistake runs in a child
        of one of them (the mistakes shared out), and this process never imports torch."""
        if not workers or not self.catalogue.mistakes:
            for fn, case in cases:
                self.candidates(fn, case)
            return
        from .run.worker import on_workers

        def run(worker, mistake: Mistake) -> tuple:
            mine = [(fn, case) for fn, case in cases if fn.name in mistake.functions]
            return mistake, mine, self._in_worker(mistake, mine, worker) if mine else []

        for mistake, mine, results in on_workers(workers, run, self.catalogue.mistakes):
            for (fn, case), (outputs, _) in zip(mine, results):
                self._cache[(mistake.name, fn.name, case.case_id)] = outputs

    def _in_worker(self, mistake: Mistake, cases, worker) -> list:
        from .expected import in_worker
        try:
            sources = {m: variant_source(path.read_text(), mistake, str(path)) for m in self.spec.modules
                       for path in [self.spec.reference_dir / f"{m}.py"]}
        except SpecError:              # an edit that does not apply: a variant that matches nothing
            return [(None, "")] * len(cases)
        return in_worker(self.spec, cases, worker, sources)

    def outputs(self, mistake: Mistake, fn: FunctionSpec, case: Case) -> list | None:
        key = (mistake.name, fn.name, case.case_id)
        if key not in self._cache:
            from .expected import call_reference
            try:
                with np.errstate(all="ignore"):       # overflow is what some mistakes are about
                    self._cache[key] = call_reference(self._module(mistake, fn.module), fn, case, self.spec.framework)
            except Exception:  # noqa: BLE001 - a variant that raises simply matches nothing
                self._cache[key] = None
        return self._cache[key]

    def _module(self, mistake: Mistake, module: str):
        key = (mistake.name, module)
        if key not in self._modules:
            path = self.spec.reference_dir / f"{module}.py"
            source = variant_source(path.read_text(), mistake, str(path))
            mod = types.ModuleType(f"_grader_mistake_.{mistake.name}.{module}")
            mod.__file__ = str(path)
            exec(compile(source, f"{path} [{mistake.name}]", "exec"), mod.__dict__)
            self._modules[key] = mod
        return self._modules[key]


def matches(got: list, mistake: list, rtol: float, atol: float) -> bool:
    """Does every output the student returned equal the mistake's, within the tolerance?

    Non-finite values must be non-finite at the same places (a mistake that overflows matches
    a student whose code overflows the same way)."""
    if mistake is None or len(got) != len(mistake) or any(g is None for g in got):
        return False
    for g, m in zip(got, mistake):
        g = np.asarray(g, dtype=np.float64)
        if g.shape != m.shape:
            return False
        finite = np.isfinite(g)
        if not (finite == np.isfinite(m)).all():
            return False
        if not finite.all():                 # rare: compare the finite values only
            g, m, finite = g[finite], m[finite], None
        if g.size and not (relative_error(g, m, rtol, atol, finite) <= rtol).all():
            return False
    return True

"""The mistake catalogue: named variants of the reference, each one typical error, with a sentence.

`assignments/NAME/mistakes.yaml` (instructor-only: its edits quote solution code) lists them.
Variants run like the reference (they are the instructor's code): in the grader's process, or in
a worker's child of their own during a batch. Grading uses their outputs to recognise a student's
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
import contextlib
import functools
import threading
from dataclasses import dataclass

import numpy as np

from grader.cases import Case
from grader.expected.starter import strip_solutions
from grader.run.outcome import Outcome, Raised
from grader.spec import AssignmentSpec, FunctionSpec, SpecError

CATALOGUE_FILE = "mistakes.yaml"


@dataclass(frozen=True)
class Mistake:
    name: str
    sentence: str
    edits: tuple          # (functions or methods, old, new)
    must_pass: bool       # a "not mistake": a correct solution written differently
    touches: tuple = ()   # the graded functions it must make fail
    parts: tuple = ()     # a composition (two mistakes at once): their names

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
    if not path.is_file() or _only_comments(path.read_text(encoding="utf-8")):
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
            tree = ast.parse((spec.reference_dir / f"{m}.py").read_text(encoding="utf-8"))
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
    tree = _parsed(source)
    if tree is None:
        return None
    body, node = tree.body, None
    for part in name.split("."):
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == part), None)
        if node is None:
            return None
        body = node.body
    starts = _lines(source)
    first = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
    return Span(source, starts[first], starts[min(node.end_lineno, len(starts) - 1)])


@functools.lru_cache(maxsize=8)
def _lines(source: str) -> tuple[int, ...]:
    """Where each line of the source starts (a last entry: its length)."""
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return tuple(starts)


@functools.lru_cache(maxsize=8)
def _parsed(source: str) -> ast.Module | None:
    """The source's syntax tree (read, never changed), or None: the catalogue's many mistakes and
    pairs of mistakes edit the same few reference files (which stay in the cache; a variant's
    half-edited source is parsed once and soon dropped)."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def variant_source(source: str, mistake: Mistake, filename: str = "reference") -> str:
    """The reference module's source with the mistake's edits applied inside their functions (or
    methods: `TwoLayerNet.loss`), each edit in its function as the edits before it left it.

    The functions are found once, in the reference's own tree (parsed once for every mistake and
    pair of mistakes): an edit changes the text inside a function, not where the function is."""
    bodies: dict[str, list] = {}           # function -> [its span in `source`, its text as edited so far]
    for functions, old, new in mistake.edits:
        for fname in functions:
            if fname not in bodies:
                match = function_span(source, fname)
                if match is None:
                    continue                  # that function lives in another module
                bodies[fname] = [match, match.group(0)]
            body = bodies[fname][1]
            if body.count(old) != 1:
                raise SpecError(filename, f"{mistake.name}", f"edit {old[:40]!r} occurs {body.count(old)} times in {fname}, not once")
            bodies[fname][1] = body.replace(old, new)
    spans = sorted(bodies.values(), key=lambda b: b[0].start())
    if any(a[0].end() > b[0].start() for a, b in zip(spans, spans[1:])):
        raise SpecError(filename, f"{mistake.name}", f"edits in {' and '.join(bodies)}, one inside the other: "
                                                     "edit the inner function only")
    parts, at = [], 0
    for match, body in spans:
        parts += [source[at:match.start()], body]
        at = match.end()
    return "".join(parts) + source[at:]


_PART = 8                             # variants in a job of a diagnosis that workers share out (a job costs a fork)

STARTER = "<starter>"                 # the handout's code, run as a student who wrote nothing has it
UNREGULARIZED = "<regularization 0>"  # the reference with the case's regularization argument set to 0


def compositions(catalogue: Catalogue) -> list[Mistake]:
    """Every two mistakes that touch a common function, made at once: students rarely make one
    mistake alone. Each pair's edits are applied one mistake's first, else the other's (an edit may
    quote what the other one changes); a pair whose edits apply in neither order matches nothing."""
    out = []
    for i, a in enumerate(catalogue.mistakes):
        for b in catalogue.mistakes[i + 1:]:
            touches = tuple(f for f in a.touches if f in b.touches)
            if touches:
                out.append(Mistake(f"{a.name}+{b.name}", f"two mistakes at once. (1) {a.sentence} (2) {b.sentence}",
                                   a.edits + b.edits, must_pass=False, touches=touches, parts=(a.name, b.name)))
    return out


class MistakeOutputs:
    """What each mistake returns on a case ({output name: tree}), or what it raised (Raised): run from
    the catalogue, or read from the handout. Also what the diagnosis compares a wrong answer with
    beyond the catalogue: the handout's starter code (`starter`) and the reference without its
    regularization term (`unregularized`), run or read from the handout; and with the reference,
    every two mistakes at once (`compositions`: too many to ship in a handout)."""

    def __init__(self, spec: AssignmentSpec, public_file: dict | None = None):
        self.spec = spec
        self.catalogue = load_catalogue(spec) if spec.reference_dir is not None else Catalogue([], [])
        self.pairs = compositions(self.catalogue)
        self._public = public_file or {}
        self._cache: dict = {}                 # (variant, function, case id) -> its Outcome, or None
        self._sources: dict = {}               # variant -> {module: code}, or None when its edits do not apply
        self._reference: dict | None = None    # {module: (path, code)} of the reference, read when first needed
        self._by_name = {m.name: m for m in self.catalogue.mistakes + self.pairs}
        self._expected: list = []               # the cases outputs will be asked for (`expect`)
        self._local = threading.local()         # .worker: where this thread's missing variants run (`running_in`)
        self._lock = threading.Lock()
        self._claimed: dict = {}                # (variant, function) -> an Event set once a thread has computed it
        self._share = 1                         # how many workers may ask at once (`prime`); with one, no parts

    @contextlib.contextmanager
    def running_in(self, worker):
        """Within the block, a variant this thread needs and nobody computed yet runs in a child of
        `worker` (falling back to this process if the worker fails), as the reference did: the grader's
        process then never imports torch for a diagnosis."""
        before = getattr(self._local, "worker", None)
        self._local.worker = worker
        try:
            yield
        finally:
            self._local.worker = before

    def candidates(self, fn: FunctionSpec, case: Case) -> list[tuple[str, str, dict | Raised | None]]:
        """(name, sentence, outputs) for each mistake touching fn: its outputs ({output name: tree}),
        what it raised (Raised), or None when it matches nothing."""
        if not self.catalogue.mistakes:
            recorded = self._recorded(fn, case)
            return list(recorded.mistakes) if recorded is not None else []
        return [(m.name, m.sentence, self.outputs(m, fn, case)) for m in self.catalogue.touching(fn.name)]

    def composed(self, fn: FunctionSpec, case: Case, keep=None) -> list[tuple[Mistake, dict | Raised | None]]:
        """(pair, its outputs) for each two catalogued mistakes touching fn (none without the reference);
        with `keep`, only the pairs whose names of parts it keeps: the others are neither run nor returned."""
        pairs = [m for m in self.pairs if fn.name in m.touches and (keep is None or keep(m.parts))]
        group = [m.name for m in pairs]
        return [(m, self.outputs(m, fn, case, group)) for m in pairs]

    def parts(self, pair: Mistake, fn: FunctionSpec, case: Case) -> list[dict | Raised | None]:
        """The outputs of a pair's two mistakes, each on its own."""
        return [self.outputs(self._by_name[p], fn, case) for p in pair.parts]

    def starter(self, fn: FunctionSpec, case: Case) -> Outcome | None:
        """What the handout's starter code (its TODOs left as `pass`) comes to on this case: run from
        the reference, or as the handout records it for a public case; else None."""
        if self.spec.reference_dir is None:
            recorded = self._recorded(fn, case)
            return recorded.starter if recorded is not None else None
        return self._outcome(STARTER, fn, case)

    def unregularized(self, fn: FunctionSpec, case: Case) -> dict | None:
        """The reference's outputs with the function's regularization argument set to 0, when it has
        one and the case's is not 0 already (run, or as the handout records them); else None."""
        if not _regularized(fn, case):
            return None
        if self.spec.reference_dir is None:
            recorded = self._recorded(fn, case)
            return recorded.unregularized if recorded is not None else None
        outcome = self._outcome(UNREGULARIZED, fn, case)
        return outcome.outputs if outcome is not None and outcome.ok else None

    def _recorded(self, fn: FunctionSpec, case: Case):
        """What the handout records of this public case (handout.PublicVariants), or None."""
        return self._public.get(fn.name, {}).get(case.case_id)

    def prime(self, cases, workers=()) -> None:
        """Compute the variants' outputs on `cases` [(FunctionSpec, Case)] now rather than when first
        needed: a batch needs nearly all of them. With `workers`, each variant runs in a child of one
        of them (the variants shared out), and this process never imports torch. Not the pairs of
        mistakes: only an answer no single one explains asks for them, and then a function's pairs
        run together, once, in the worker grading it (`running_in`)."""
        if self.spec.reference_dir is None:
            return
        variants = [m.name for m in self.catalogue.mistakes] + [STARTER, UNREGULARIZED]

        def plans(chunk: list) -> list:
            """[(variant, the cases it has no output for yet)]"""
            out = []
            for v in chunk:
                mine = [(fn, case) for fn, case in self._runs_on(v, cases) if (v, fn.name, case.case_id) not in self._cache]
                if mine:
                    out.append((v, mine))
            return out

        if workers:
            from grader.run.worker import on_workers
            self._share = len(workers)
            # A few variants to a job (each job a child that imports each variant in turn), a few
            # jobs to a worker, so that the workers finish together.
            n = min(len(variants), 4 * len(workers))
            done = on_workers(workers, lambda worker, chunk: self._computed(plans(chunk), worker),
                              [variants[i::n] for i in range(n)])
        else:
            done = [self._computed(plans(variants), None)]
        for computed in done:
            for variant, mine, outcomes in computed:
                self._store(variant, mine, outcomes)

    def _runs_on(self, variant: str, cases) -> list:
        if variant == STARTER:
            return list(cases)
        if variant == UNREGULARIZED:
            return [(fn, case) for fn, case in cases if _regularized(fn, case)]
        return [(fn, case) for fn, case in cases if fn.name in self._by_name[variant].touches]

    def _store(self, variant: str, cases, outcomes) -> None:
        for (fn, case), outcome in zip(cases, outcomes):
            self._cache[(variant, fn.name, case.case_id)] = outcome

    def _variant_sources(self, variant: str) -> dict | None:
        """{module: code} of a variant ({} is the reference's own files), or None when its edits do not apply."""
        if variant not in self._sources:
            if self._reference is None:          # read once for all the variants
                self._reference = {m: (str(path), path.read_text(encoding="utf-8")) for m in self.spec.modules
                                   for path in [self.spec.reference_dir / f"{m}.py"]}
            if variant == UNREGULARIZED:
                found = {}
            elif variant == STARTER:
                found = {m: strip_solutions(text, path, stub="pass") for m, (path, text) in self._reference.items()}
            else:
                found = _edited(self._by_name[variant], self._reference, self._by_name)
            self._sources[variant] = found
        return self._sources[variant]

    def _calls(self, variant: str, cases) -> list:
        """The calls a variant makes: the cases as they are, or with the regularization argument at 0."""
        if variant != UNREGULARIZED:
            return list(cases)
        return [(fn, Case(case.function, case.spec, case.dims, {**case.args, fn.regularization: 0.0}))
                for fn, case in cases]

    def _in_process(self, variant: str, cases) -> list:
        from grader.expected import run_in_process
        sources = self._variant_sources(variant)
        if sources is None or not cases:
            return [None] * len(cases)
        try:
            with np.errstate(all="ignore"), _one_thread(self.spec.framework):   # overflow is what some mistakes are about
                return run_in_process(self.spec, self._calls(variant, cases), sources, label=variant)
        except Exception:  # noqa: BLE001 - a variant that does not even import matches nothing
            return [None] * len(cases)

    def _outcome(self, variant: str, fn: FunctionSpec, case: Case, group: list | None = None) -> Outcome | None:
        """A variant's Outcome on a case, computed here when first needed: on every case of that
        function it was told of (`expect`) at once, as the variant is compiled once for them. In a
        worker (`running_in`), the variants a diagnosis of fn asks for next come too, in parts: a
        thread takes the parts nobody has taken, one job each, and waits for the ones others took.
        So two workers that need a function's pairs of mistakes at once share them out instead of
        each computing them all."""
        key = (variant, fn.name, case.case_id)
        if key not in self._cache:
            worker = getattr(self._local, "worker", None)
            if worker is None:
                self._compute([variant], fn, case, None)
            else:
                group = group if group and variant in group else self._together(variant, fn)
                size = len(group) if self._share == 1 else _PART     # alone: one job; else small parts to share out
                parts = [group[i:i + size] for i in range(0, len(group), size)]
                parts.sort(key=lambda part: variant not in part)          # the one asked for first
                for part in parts:
                    with self._lock:
                        taken = [v for v in part if (v, fn.name) not in self._claimed]
                        for v in taken:
                            self._claimed[(v, fn.name)] = threading.Event()
                    try:
                        self._compute(taken, fn, case, worker, asked=variant)
                    finally:
                        for v in taken:
                            self._claimed[(v, fn.name)].set()
                self._claimed[(variant, fn.name)].wait()               # taken by another thread
            if key not in self._cache:                                   # a case beyond those expected
                self._compute([variant], fn, case, worker)
        return self._cache[key]

    def _compute(self, variants: list, fn: FunctionSpec, case: Case, worker, asked: str | None = None) -> None:
        """Compute and keep the variants' outcomes on fn's expected cases not computed yet (and on
        `case` for the variant `asked`, or for a lone variant), in one job of `worker` or here."""
        plans = []
        for v in variants:
            mine = [(f, c) for f, c in self._runs_on(v, self._expected) if f.name == fn.name
                    and (v, f.name, c.case_id) not in self._cache]
            if v == (asked or variants[0]) and (fn, case) not in mine and (v, fn.name, case.case_id) not in self._cache:
                mine = [(fn, case)]
            if mine:
                plans.append((v, mine))
        for v, mine, outcomes in self._computed(plans, worker) if plans else []:
            self._store(v, mine, outcomes)

    def _together(self, variant: str, fn: FunctionSpec) -> list[str]:
        """The variants computed with `variant` for fn, in an order that depends on fn alone (threads
        cut it into the same parts): the pairs touching fn, or the single mistakes, the starter code
        and the unregularized reference (what the judge asks for first)."""
        pairs = [m.name for m in self.pairs if fn.name in m.touches]
        if variant in pairs:
            return pairs
        singles = [m.name for m in self.catalogue.touching(fn.name)] + [STARTER, UNREGULARIZED]
        return singles if variant in singles else [variant] + singles

    def _computed(self, plans: list, worker) -> list:
        """[(variant, cases, their Outcomes)] for [(variant, cases)]: in one job of `worker`, or here."""
        if worker is not None:
            from grader.expected import variants_in_worker
            from grader.run.worker import WorkerError
            runnable = [(v, mine) for v, mine in plans if self._variant_sources(v) is not None]
            try:
                found = variants_in_worker(self.spec, [(self._variant_sources(v), self._calls(v, mine))
                                                       for v, mine in runnable], worker) if runnable else []
            except WorkerError:
                pass                     # the worker failed, not the variants: this process runs them
            else:
                done = {v: outcomes for (v, _), outcomes in zip(runnable, found)}
                return [(v, mine, done.get(v, [None] * len(mine))) for v, mine in plans]
        return [(v, mine, self._in_process(v, mine)) for v, mine in plans]

    def expect(self, cases) -> None:
        """The cases [(FunctionSpec, Case)] that outputs will be asked for, computed together when first needed."""
        self._expected = list(cases)

    def outputs(self, mistake: Mistake, fn: FunctionSpec, case: Case, group: list | None = None) -> dict | Raised | None:
        """What a mistake came to on a case: its outputs, what it raised in a graded step (Raised), or
        None. `group`: the variants to compute with it, when it is not computed yet (`_together`)."""
        outcome = self._outcome(mistake.name, fn, case, group)
        if outcome is None:
            return None
        if outcome.ok:
            return outcome.outputs
        steps = fn.steps_for(case.spec)
        if outcome.step is not None and 0 <= outcome.step < len(steps) and steps[outcome.step].graded:
            return Raised.of(outcome)
        return None


@contextlib.contextmanager
def _one_thread(framework: str):
    """torch on one thread for the block: a variant's many small operations, as in a worker's child,
    run twice as fast as with threads that wait for each other."""
    if framework != "torch":
        yield
        return
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _regularized(fn: FunctionSpec, case: Case) -> bool:
    """Does the case weigh a regularization term (the function declares its argument, and it is not 0)?"""
    value = case.args.get(fn.regularization) if fn.regularization else None
    return isinstance(value, (int, float)) and value != 0


def _edited(mistake: Mistake, reference: dict, by_name: dict) -> dict | None:
    """{module: code} with the mistake's edits applied to `reference` ({module: (path, code)}); a composition's in one order, else the other.
    None when they do not apply."""
    orders = [mistake.edits]
    if mistake.parts:
        a, b = (by_name[n] for n in mistake.parts)
        orders = [a.edits + b.edits, b.edits + a.edits]
    for edits in orders:
        variant = Mistake(mistake.name, mistake.sentence, edits, False)
        try:
            return {m: variant_source(text, variant, path) for m, (path, text) in reference.items()}
        except SpecError:
            continue
    return None

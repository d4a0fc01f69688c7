"""Where the units come from: the students' submissions, the corpus of known solutions, the handout.

    >>> units, problems = student_units(spec, folder)          # {function: (Unit, file)}, ["... does not parse ..."]
    >>> entries, problems, files = corpus_units(spec, [Path("public_repos")])
    >>> handout = handout_units(spec)                          # {function: Unit}: what is never evidence

A file that cannot be read or parsed is a problem named in the report, never the end of the run.
"""
from __future__ import annotations

from pathlib import Path

from grader import notebook
from grader.judge.checks import MAX_PARSED, TooLarge, read_code
from grader.similarity.compare import Source
from grader.similarity.normalize import extract_all
from grader.spec import AssignmentSpec

CORPUS_SUFFIXES = (".py", ".ipynb")
UNREADABLE = (SyntaxError, ValueError, OSError, RecursionError, notebook.NotebookError)    # ValueError: checks.TooLarge


class CorpusError(Exception):
    """A --corpus that is not a folder: a usage error."""


def read_module(path: Path) -> str:
    """A module's source: a .py file as is, a notebook's code cells as the grader grades them. Code
    over checks.MAX_PARSED characters is refused (checks.TooLarge, a ValueError): its tree would take
    gigabytes."""
    if path.suffix != ".ipynb":
        return read_code(path)
    source = notebook.load(path).source
    if len(source) > MAX_PARSED:
        raise TooLarge(path.name)
    return source


def units_of(source: str, spec: AssignmentSpec, module: str | None) -> dict:
    """{function: Unit} of the graded functions found in one module's source (`module` None: any
    graded function, whatever module the spec puts it in, as in a corpus file). SyntaxError if the
    source is not Python."""
    graded = [f.name for f in spec.functions]
    wanted = [f.name for f in spec.functions if module is None or f.module == module]
    return extract_all(source, wanted, set(graded))


def _problem(path: Path, error: Exception) -> str:
    if isinstance(error, SyntaxError):
        return f"{path.name} does not parse (line {error.lineno}: {error.msg})"
    if isinstance(error, notebook.NotebookError):
        return f"{path.name} {error.problem}"
    if isinstance(error, TooLarge):
        return f"{error}: not compared"
    return f"{path.name} cannot be read ({getattr(error, 'strerror', None) or error})"


def student_units(spec: AssignmentSpec, folder: Path) -> tuple[dict, list]:
    """{function: (Unit, the file's name)} of one student's submission, and what could not be read,
    as sentences."""
    from grader.locate import locate_modules
    units: dict = {}
    problems: list = []
    for module, path in locate_modules(spec, folder).items():
        if path is None:
            continue
        try:
            found = units_of(read_module(Path(path)), spec, module)
        except UNREADABLE as e:
            problems.append(_problem(Path(path), e))
            continue
        units.update({name: (unit, Path(path).name) for name, unit in found.items()})
        problems += [f"{Path(path).name} has no `def` of {f.name} (it is missing, or bound to something other than "
                     "a function of the file)" for f in spec.functions if f.module == module and f.name not in found]
    return units, problems


def check_corpus(folders: list) -> None:
    """A CorpusError for a --corpus that is not a folder (said before anything is read or graded)."""
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise CorpusError(f"--corpus {folder}: " + ("not a folder" if folder.exists() else "no such folder"))


def corpus_units(spec: AssignmentSpec, folders: list) -> tuple[list, list, int]:
    """(Source, Unit) of every graded function found in the .py and .ipynb files under `folders`
    (recursively), the files that could not be read, and how many files were read."""
    entries: list = []
    problems: list = []
    count = 0
    check_corpus(folders)
    for folder in folders:
        folder = Path(folder)
        files = sorted(p for p in folder.rglob("*") if p.suffix in CORPUS_SUFFIXES and p.is_file()
                       and not any(part.startswith(".") or part == "__pycache__" for part in p.relative_to(folder).parts))
        for path in files:
            count += 1
            shown = str(path)
            try:
                found = units_of(read_module(path), spec, None)
            except UNREADABLE as e:
                problems.append(f"corpus file {shown}: {_problem(path, e)}")
                continue
            entries += [(Source(shown, shown, corpus=True), unit) for unit in found.values()]
    return entries, problems, count


def handout_units(spec: AssignmentSpec) -> tuple[dict, str]:
    """{function: Unit} of the handout (the reference with its solutions taken out, or the handout's
    own modules beside a spec without a reference), and where it came from ("" if none was found)."""
    from grader.expected.starter import strip_solutions
    units: dict = {}
    where = []
    for module in spec.modules:
        reference = spec.reference_dir / f"{module}.py" if spec.reference_dir is not None else None
        beside = spec.folder / f"{module}.py"
        if reference is not None and reference.is_file():
            source, shown = strip_solutions(reference.read_text(), str(reference)), f"{reference} without its solutions"
        elif beside.is_file():
            source, shown = beside.read_text(), str(beside)
        else:
            continue
        try:
            units.update(units_of(source, spec, module))
        except SyntaxError:
            continue
        where.append(shown)
    return units, "; ".join(where)

"""Batch grading: a folder (or zip) of submissions in, a folder of results and exports out.

    grader grade submissions/ --assignment linear_classifier --out graded/ [--workers N]

Each student's result is written atomically to `OUT/<student>/result.json` (with a fingerprint of
what was graded: the student's files, the spec, the reference, the grader version) together with
`feedback.txt` and Gradescope's `results.json`. A run that is killed and started again grades only
the students whose result is missing or whose fingerprint changed. The class-level exports
(`gradebook.csv`, `junit.xml`, `report.html`) are rewritten from all per-student results at the end,
and by `grader merge` from the folders of several shards.
"""
from __future__ import annotations

import gc
import hashlib
import json
import os
import re
import shutil
import stat
import sys
import time
import unicodedata
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from . import __version__
from .results import SubmissionResult
from .spec import AssignmentSpec

RESULT_FILE = "result.json"
LOCK_FILE = ".grader.lock"           # in OUT while a run writes there (a student id never starts with '.')
SKIP_NAMES = {"__MACOSX", "__pycache__", ".DS_Store", "submission_metadata.yml"}
MAX_UNZIPPED = 200 << 20             # bytes a submission archive may unpack to


class BatchError(Exception):
    """A problem with the batch as a whole (unreadable folder, unsafe archive): a usage error."""


@dataclass(frozen=True)
class Submission:
    student: str
    path: Path                       # a folder holding the student's modules
    fingerprint: str
    origin: str = ""                 # what was handed in, as found in SUBMISSIONS (named in the reports)
    problem: str = ""                # why it cannot be graded (an archive that does not unpack), else ""


EXPORTS = ("gradebook.csv", "junit.xml", "report.html")     # beside the students' folders in OUT


# ---------------------------------------------------------------------------------------------
# Finding the submissions


def discover(source: Path, spec: AssignmentSpec, staging: Path, exclude: Path | None = None,
             notes: list | None = None) -> list[Submission]:
    """Every student's submission in `source`, sorted by student id.

    `source` is a folder or a .zip. Inside, each folder is one student (named after it), and so
    is each loose file: `alice.py`, or Canvas's `alice_123_456_linear_classifier.py` for module
    `linear_classifier` (`..._linear_classifier-1.py`, a resubmission, too; another .py file of
    Canvas's is a helper of that student's); `alice.ipynb`, or Canvas's `alice_123_456_hw2.ipynb`
    (a notebook keeps its own name, `hw2.ipynb`, for the messages); `alice.zip`, or Canvas's
    `alice_123_456_hw2.zip`. Archives (the whole export, or one per student) are unpacked into
    `staging`, refusing absolute paths, `..` and links; a student's archive that cannot be
    unpacked is that student's problem, not the batch's. A lone wrapping folder is looked
    through. `exclude` (the output folder) is skipped.

    Student ids keep letters (any script), digits, '.', '_', '@' and '-'. Two entries that would
    get the same id, or an id that is an export's name, are told apart with a suffix (`alice-2`),
    and each such renaming is added to `notes`, so that no student is silently dropped.
    """
    source = Path(source)
    if not source.exists():
        raise BatchError(f"{source}: no such file or folder")
    shown, unpacked = source, None                  # how the reports name what was handed in
    if source.is_file():
        if not zipfile.is_zipfile(source):
            raise BatchError(f"{source}: not a folder or a zip archive of submissions")
        source = unpacked = _unzip(source, staging / "_export")
    skip = exclude.resolve() if exclude is not None else None
    while True:
        entries = [e for e in _entries(source) if e.resolve() != skip]
        candidates = [e for e in entries if e.is_dir() or e.suffix in (".zip", ".py", ".ipynb")]
        if len(candidates) == 1 and candidates[0].is_dir() and not _is_student(candidates[0], spec):
            source = candidates[0]
        else:
            break

    def origin(entry: Path) -> str:
        return str(shown / entry.relative_to(unpacked)) if unpacked is not None else str(entry)

    ids = _Ids(notes if notes is not None else [])
    found: list[Submission] = []
    loose: dict[str, dict[str, Path]] = {}           # student -> {file name to grade it as: file}
    for entry in candidates:
        if entry.is_dir():
            found.append(Submission(ids.new(entry.name, origin(entry)), look_through(entry, spec), "", origin(entry)))
        elif entry.suffix == ".zip":
            canvas = _CANVAS.match(entry.stem)                   # alice_123_456_hw2.zip: student alice_123_456
            student = ids.new(canvas.group(1) if canvas else entry.stem, origin(entry))
            try:
                folder, problem = look_through(_unzip(entry, staging / "_zips" / student), spec), ""
            except BatchError as e:
                folder, problem = staging / "_zips" / student, f"{entry.name} could not be unpacked: {e}"
                folder.mkdir(parents=True, exist_ok=True)
            found.append(Submission(student, folder, "", origin(entry), problem))
        else:
            name, as_file = _split_loose(entry.stem, entry.suffix, spec)
            files = loose.get(ids.loose(name))
            if files is None or as_file in files:    # a new student, or a second file for the same name
                files = loose[ids.new(name, origin(entry), loose=True)] = {}
            files[as_file] = entry
    for student, files in loose.items():
        folder = staging / "_loose" / student
        folder.mkdir(parents=True, exist_ok=True)
        for name, path in files.items():
            shutil.copyfile(path, folder / name)
        shown_files = ", ".join(origin(path) for path in files.values())
        found.append(Submission(student, folder, "", shown_files))
    return sorted((replace(s, fingerprint=fingerprint(s.path, spec)) for s in found), key=lambda s: s.student)


class _Ids:
    """Student ids, each given once."""

    def __init__(self, notes: list):
        self.taken: dict[str, str] = {name: "the class export of that name" for name in EXPORTS}
        self.notes = notes
        self._loose: dict[str, str] = {}            # a loose file's name -> the id its first file got

    def new(self, name: str, origin: str, loose: bool = False) -> str:
        base = _student_id(name)
        sid, n = base, 1
        while sid.lower() in self.taken:
            n += 1
            sid = f"{base}-{n}"
        if sid != base:
            self.notes.append(f"{origin} is graded as student {sid}: {base} is {self.taken[base.lower()]}")
        self.taken[sid.lower()] = origin
        if loose:
            self._loose.setdefault(name, sid)
        return sid

    def loose(self, name: str) -> str | None:
        """The id of an earlier loose file of the same student, if any."""
        return self._loose.get(name)


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name not in SKIP_NAMES and not p.name.startswith("."))


def _is_student(folder: Path, spec: AssignmentSpec) -> bool:
    """Whether a lone folder is a student's rather than a wrapper: it holds a module of the
    assignment, or a single notebook and no folder (a wrapper of loose notebooks holds several)."""
    if _has_modules(folder, spec):
        return True
    entries = _entries(folder)
    return sum(p.suffix == ".ipynb" for p in entries) == 1 and not any(p.is_dir() for p in entries)


def _has_modules(folder: Path, spec: AssignmentSpec, any_notebook: bool = False) -> bool:
    """Whether the folder holds a module of the assignment (`m.py`, `m.ipynb`), or with
    `any_notebook`, any notebook (inside a student's folder, one may stand for the modules;
    a folder of many notebooks is more likely a class export of loose files)."""
    return any((folder / f"{m}{ext}").is_file() for m in spec.modules for ext in (".py", ".ipynb")) or (
        any_notebook and any(p.suffix == ".ipynb" and p.is_file() for p in _entries(folder)))


def look_through(folder: Path, spec: AssignmentSpec) -> Path:
    """A student's folder, or the one folder inside it that holds their modules."""
    while not _has_modules(folder, spec, any_notebook=True):
        inner = [p for p in _entries(folder) if p.is_dir()]
        if len(inner) != 1:
            break
        folder = inner[0]
    return folder


_CANVAS = re.compile(r"^(.+?_(?:LATE_)?\d+_\d+)_(.+?)(?:-\d+)?$")   # name[_LATE]_userid_submissionid_file[-resubmission]


def _split_loose(stem: str, suffix: str, spec: AssignmentSpec) -> tuple[str, str]:
    """(student, file name to grade it as) of a loose file."""
    canvas = _CANVAS.match(stem)
    if canvas:
        return canvas.group(1), canvas.group(2) + suffix
    for module in spec.modules:
        if stem.endswith("_" + module) and len(stem) > len(module) + 1:
            return stem[: -len(module) - 1], module + suffix
    return stem, (spec.modules[0] if suffix == ".py" else stem) + suffix


def _student_id(name: str) -> str:
    """A folder-safe id: letters (any script), digits, '.', '_', '@', '-' kept, anything else '_';
    never starting with '.', '-' or '@' (a hidden folder, an option, a spreadsheet formula)."""
    sid = re.sub(r"[^\w.@-]", "_", unicodedata.normalize("NFC", name))
    return re.sub(r"^[.@-]", "_", sid) or "_"


def _unzip(archive: Path, target: Path) -> Path:
    """Unpack safely: regular files and folders only, inside `target`, within a size budget."""
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    try:
        with zipfile.ZipFile(archive) as z:
            infos = z.infolist()
            if sum(i.file_size for i in infos) > MAX_UNZIPPED:
                raise BatchError(f"{archive}: unpacks to more than {MAX_UNZIPPED >> 20} MiB")
            for info in infos:
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    raise BatchError(f"{archive}: {info.filename} is a link; archives may hold only files and folders")
                name = info.filename.replace("\\", "/")      # Windows' own zip tools write hw2\linear_classifier.py
                dest = (root / name).resolve()
                if not dest.is_relative_to(root) or name.startswith("/"):
                    raise BatchError(f"{archive}: {info.filename} points outside the archive")
                if name.endswith("/"):
                    dest.mkdir(parents=True, exist_ok=True)
                else:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with z.open(info) as src, open(dest, "wb") as out:
                        shutil.copyfileobj(src, out)
    except zipfile.BadZipFile as e:
        raise BatchError(f"{archive}: {e}") from None
    return target


def fingerprint(folder: Path, spec: AssignmentSpec) -> str:
    """What a result depends on: the student's files, the spec, the reference, the grader version."""
    h = hashlib.sha256(f"grader {__version__}\n".encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(f"submission/{path.relative_to(folder)}\n".encode())
        h.update(path.read_bytes())
    h.update(spec_digest(spec).encode())
    return h.hexdigest()


_SPEC_DIGESTS: dict = {}             # id(spec) -> (spec, digest): a spec loaded again is digested again


def spec_digest(spec: AssignmentSpec) -> str:
    """What of the assignment a result depends on: its spec files as read, with what they extend
    (a change to cs231n's hidden cases regrades cs231n_2016, which extends them), the expected
    values a handout ships, and the reference's code."""
    from .spec import dump_yaml, resolved_yaml
    cached = _SPEC_DIGESTS.get(id(spec))
    if cached is None or cached[0] is not spec:
        h = hashlib.sha256()
        for path in (spec.path, spec.folder / "hidden.yaml", spec.folder / "mistakes.yaml"):
            if path.is_file():
                h.update(f"{path.name}\n".encode())
                h.update(dump_yaml(resolved_yaml(path)).encode())
        files = [spec.expected_path]
        if spec.reference_dir is not None and spec.reference_dir.is_dir():
            files += sorted(spec.reference_dir.rglob("*.py"))
        for path in files:
            if path.is_file():
                h.update(f"{path.name}\n".encode())
                h.update(path.read_bytes())
        cached = _SPEC_DIGESTS[id(spec)] = (spec, h.hexdigest())
    return cached[1]


# ---------------------------------------------------------------------------------------------
# Grading


def load_finished(out: Path, submission: Submission, hidden: bool) -> SubmissionResult | None:
    """The student's earlier result, if it is complete and graded from the same files and spec,
    with the hidden cases or without them as asked now."""
    path = out / submission.student / RESULT_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if (not isinstance(data, dict) or data.get("fingerprint") != submission.fingerprint
            or data.get("hidden_graded") is not hidden):
        return None
    try:
        return SubmissionResult.from_dict(data)
    except (TypeError, KeyError, ValueError):
        return None


def write_student(out: Path, result: SubmissionResult) -> None:
    """The student's files; result.json last, as it marks the student as finished."""
    from .report import gradescope, json_report, terminal
    from .report.atomic import write_atomic
    folder = out / result.student
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / "feedback.txt", terminal.render(result).encode("utf-8", "replace"))
    gradescope.write_gradescope(result, folder / "results.json", compact=True)
    json_report.write_json(result, folder / RESULT_FILE, compact=True)


def shard(submissions: list[Submission], index: int, count: int) -> list[Submission]:
    """Shard `index` (1-based) of `count`: the students whose id hashes to it. Shards are disjoint,
    about equal in a class of any size, and a student stays in the same shard when others are
    added or removed (shards run at different times still cover the class once)."""
    return [s for s in submissions if int.from_bytes(hashlib.sha256(s.student.encode()).digest()[:8], "big") % count == index - 1]


def grade_batch(spec: AssignmentSpec, submissions: list[Submission], out: Path, workers: int = 0,
                hidden: bool = True, progress=None, scheduler: str | None = None) -> list[SubmissionResult]:
    """Grade every unfinished submission, in parallel; returns all results, earlier ones included."""
    from .grade import Prepared, error_result, grade_or_report
    from .run.worker import Worker, on_workers

    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, SubmissionResult] = {}
    todo = []
    for sub in submissions:
        earlier = load_finished(out, sub, hidden)
        if earlier is not None:
            results[sub.student] = earlier
        else:
            todo.append(sub)
    if progress:
        progress.start(len(submissions), already=len(results))
    if not todo:
        return [results[s.student] for s in submissions]

    def finish(sub: Submission, result: SubmissionResult) -> None:
        result.student, result.fingerprint = sub.student, sub.fingerprint
        result.submission = sub.origin or result.submission        # not the staging copy, gone after the run
        write_student(out, result)
        results[sub.student] = result
        # The results are kept to the end: move them out of the cyclic garbage collector's sight, or
        # its full collections walk an ever larger heap (about 1 s of a 1,000-student batch).
        gc.freeze()
        if progress:
            progress.advance(result)

    for sub in [sub for sub in todo if sub.problem]:              # nothing to run: an archive that did not unpack
        finish(sub, error_result(spec, sub.path, hidden, sub.problem))
        todo.remove(sub)
    if not todo:
        return [results[s.student] for s in submissions]
    if scheduler:
        from .distributed import grade_on_dask
        grade_on_dask(scheduler, spec, todo, hidden, finish)
    else:
        count = min(workers or os.cpu_count() or 1, len(todo))
        made: list[Worker] = []
        try:
            # The workers compute the references and the catalogued mistakes' outputs, in children
            # of their own: this process never imports torch (a second of CPU, 200 MB).
            made += [Worker(spec.framework) for _ in range(count)]
            prepared = Prepared(spec, hidden, worker=made[0])
            prepared.mistakes.prime(prepared.cases, workers=made)

            def one(worker: Worker, sub: Submission) -> tuple[Submission, SubmissionResult]:
                return sub, grade_or_report(spec, sub.path, hidden, worker, prepared)

            for sub, result in on_workers(made, one, todo):
                finish(sub, result)
        finally:
            for worker in made:
                worker.close()
    return [results[s.student] for s in submissions]


def others_in(out: Path, submissions: list[Submission]) -> list[str]:
    """The students with a result in `out` who are not among `submissions` (removed from the
    class since an earlier run, or graded by another shard into the same folder)."""
    here = {s.student for s in submissions}
    return sorted(p.parent.name for p in out.glob(f"*/{RESULT_FILE}") if p.parent.name not in here)


def write_exports(out: Path, results: list[SubmissionResult], title: str) -> list[Path]:
    """The class-level files, from the per-student results."""
    from .report import gradebook, html, junit
    paths = [out / "gradebook.csv", out / "junit.xml", out / "report.html"]
    gradebook.write_gradebook(results, paths[0])
    junit.write_batch_junit(results, paths[1])
    html.write_html(results, paths[2], title=title)
    return paths


def collect(folders: list[Path]) -> list[SubmissionResult]:
    """Every finished student result under the given output folders (for `grader merge`).

    The results must be of one assignment, all graded with the hidden cases or all without, and a
    student found in two folders must have the same result in both: else the gradebook would mix
    scores out of different totals."""
    found: dict[str, tuple[SubmissionResult, Path]] = {}
    for folder in folders:
        if not Path(folder).is_dir():
            raise BatchError(f"{folder}: no such folder")
        for path in sorted(Path(folder).glob(f"*/{RESULT_FILE}")):
            try:
                data = json.loads(path.read_text())
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
                result = SubmissionResult.from_dict(data)
            except (OSError, ValueError, TypeError, KeyError, AttributeError) as e:
                raise BatchError(f"{path}: not a grader result ({e})") from None
            first = next(iter(found.values()), None)
            if first is not None and (result.assignment, result.hidden_graded) != (first[0].assignment, first[0].hidden_graded):
                raise BatchError(f"{path} and {first[1]} were graded differently ({_how(result)}; {_how(first[0])}): "
                                 "merge the results of one assignment, graded the same way")
            earlier = found.get(result.student)
            if earlier is not None and earlier[0].fingerprint != result.fingerprint:
                raise BatchError(f"{result.student} has different results in {earlier[1]} and {path}: "
                                 "graded from other files or another version of the spec")
            found[result.student] = (result, path)
    return [found[s][0] for s in sorted(found)]


def _how(result: SubmissionResult) -> str:
    return f"{result.assignment}, {'with' if result.hidden_graded else 'without'} the hidden cases"


def merge(folders: list[Path], out: Path) -> list[SubmissionResult]:
    """Join the output folders of several shards into `out`; nothing is written if they hold no result."""
    results = collect(folders)
    if not results:
        raise BatchError("no graded results found in " + ", ".join(map(str, folders)))
    with writing_into(out):
        for folder in folders:
            for student_dir in sorted(p for p in Path(folder).iterdir() if (p / RESULT_FILE).is_file()):
                target = out / student_dir.name
                if student_dir.resolve() != target.resolve():
                    shutil.copytree(student_dir, target, dirs_exist_ok=True)
        write_exports(out, results, title=results[0].title or results[0].assignment)
    return results


@contextmanager
def writing_into(out: Path):
    """Hold OUT for one run: a second `grader grade` or `grader merge` into the same folder stops at
    once with who holds it, instead of grading every student again beside the first and racing it
    on the class exports. The lock is the kernel's (flock on OUT/.grader.lock), so it goes with the
    process however that ends, kill -9 included: a killed batch never leaves OUT locked."""
    import fcntl                     # POSIX only, like the workers; `grader check` imports this module too
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise BatchError(f"{out}: cannot write the results there ({e.strerror})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise BatchError(f"{out} is being written by another grader run ({holder}); wait for it to finish, "
                             "or give this one another --out (shards: one --out each, then `grader merge`)") from None
        except OSError as e:         # a file system without locks (some network mounts): run unguarded
            print(f"grader: note: {out} cannot be locked ({e.strerror}); do not run two grader runs into it at once",
                  file=sys.stderr)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"process {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode(), 0)
        yield
    finally:
        os.close(fd)                 # the file stays: removing it would race with a run about to lock it


# ---------------------------------------------------------------------------------------------
# Progress


class Progress:
    """A progress bar with count, rate and ETA on a terminal; a plain line every 10% elsewhere (CI)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.total = self.done = self.already = 0
        self.t0 = time.monotonic()
        self._next_line = 0

    def start(self, total: int, already: int = 0) -> None:
        self.total, self.already, self.done = total, already, already
        self.t0 = time.monotonic()
        if already:
            self._write(f"{already} of {total} already graded (unchanged since): skipped\n")
        self._show()

    def advance(self, result: SubmissionResult) -> None:
        self.done += 1
        self._show()

    def finish(self) -> None:
        if self.tty:
            self._write("\n")

    def _show(self) -> None:
        new = self.done - self.already
        elapsed = max(time.monotonic() - self.t0, 1e-9)
        rate = new / elapsed
        left = self.total - self.done
        eta = f"{left / rate:.0f} s" if rate > 0 else "?"
        text = f"{self.done}/{self.total} graded, {rate:.1f}/s, ETA {eta}"
        if self.tty:
            width = 30
            filled = int(width * self.done / max(self.total, 1))
            self._write(f"\r[{'#' * filled}{'-' * (width - filled)}] {text}   ")
        elif self.done >= self._next_line or self.done == self.total:
            self._write(text + "\n")
            self._next_line = self.done + max(1, self.total // 10)

    def _write(self, text: str) -> None:
        if self.stream is None:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except (BrokenPipeError, ValueError):       # nobody reads it any more (`| head`): grade on, quietly
            self.stream = None

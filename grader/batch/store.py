"""A class's results on disk: each student's folder (result.json last), the class exports, the lock
on the output folder, and `grader merge` of several shards' folders."""
from __future__ import annotations

import errno
import json
import os
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from grader.batch.discover import BatchError, Submission
from grader.results import SubmissionResult

RESULT_FILE = "result.json"
LOCK_FILE = ".grader.lock"           # in OUT while a run writes there (a student id never starts with '.')
UNWRITTEN = "its results could not be written"    # a grading_error's start, when the student's files could not be


def load_finished(out: Path, submission: Submission, hidden: bool) -> SubmissionResult | None:
    """The student's earlier result, if it is complete and graded from the same files and spec,
    with the hidden cases or without them as asked now."""
    path = out / submission.student / RESULT_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (not isinstance(data, dict) or data.get("fingerprint") != submission.fingerprint
            or data.get("hidden_graded") is not hidden or data.get("grading_error")):
        return None
    try:
        return SubmissionResult.from_dict(data)
    except (TypeError, KeyError, ValueError):
        return None


def write_student(out: Path, result: SubmissionResult) -> None:
    """The student's files; result.json last, as it marks the student as finished."""
    from grader.report import gradescope, json_report, terminal
    from grader.report.atomic import write_atomic
    folder = out / result.student
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / "feedback.txt", terminal.render(result).encode("utf-8", "replace"))
    gradescope.write_gradescope(result, folder / "results.json", compact=True)
    json_report.write_json(result, folder / RESULT_FILE, compact=True)


def others_in(out: Path, submissions: list[Submission]) -> list[str]:
    """The students with a result in `out` who are not among `submissions` (removed from the
    class since an earlier run, or graded by another shard into the same folder)."""
    here = {s.student for s in submissions}
    return sorted(p.parent.name for p in out.glob(f"*/{RESULT_FILE}") if p.parent.name not in here)


def write_exports(out: Path, results: list[SubmissionResult], title: str, similarity=None,
                  junit_suites: dict | None = None) -> list[Path]:
    """The class-level files, from the per-student results; with a similarity report
    (grader.similarity), also similarity.csv and similarity.html, and a section of report.html.
    `junit_suites` holds students' parts of the JUnit file made as their results came in (junit.student_xml)."""
    from grader.report import gradebook, html, junit
    paths = [out / "gradebook.csv", out / "junit.xml", out / "report.html"]
    gradebook.write_gradebook(results, paths[0])
    junit.write_batch_junit(results, paths[1], junit_suites)
    if similarity is not None:
        from grader.report.similarity import write_similarity
        paths += write_similarity(similarity, out)
    html.write_html(results, paths[2], title=title, similarity=similarity)
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
                data = json.loads(path.read_text(encoding="utf-8"))
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
    try:
        import fcntl                 # POSIX only; `grader check` imports this module too
    except ImportError:              # Windows: OUT goes unguarded, as on a file system without locks
        fcntl = None
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)     # not inherited (PEP 446)
    except OSError as e:
        raise BatchError(f"{out}: cannot write the results there ({e.strerror})") from None
    try:
        try:
            if fcntl is None:
                raise OSError(errno.ENOLCK, "no file locks on this platform")
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise BatchError(f"{out} is being written by another grader run ({holder}); wait for it to finish, "
                             "or give this one another --out (shards: one --out each, then `grader merge`)") from None
        except OSError as e:         # a file system without locks (some network mounts): run unguarded
            print(f"grader: note: {out} cannot be locked ({e.strerror}); do not run two grader runs into it at once",
                  file=sys.stderr)
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())   # at 0: nothing read
        yield
    finally:
        os.close(fd)                 # the file stays: removing it would race with a run about to lock it

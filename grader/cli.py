"""The `grader` command.

    grader check PATH --assignment NAME [--hidden] [--json FILE] [--junit-xml FILE] [--summary FILE] [--worker KIND]
    grader grade SUBMISSIONS --assignment NAME --out DIR [--workers N] [--shard I/N] [--scheduler ADDR] [--similarity]
    grader similarity SUBMISSIONS --assignment NAME --out DIR [--corpus DIR ...] [--threshold T]
    grader merge DIR... --out DIR
    grader release NAME --out DIR
    grader validate NAME
    grader new NAME [--dir assignments] [--framework numpy|torch]
    grader gradescope NAME --out autograder.zip
    grader sandbox [--worker KIND]

Exit codes of `check`: 0 every graded case passed, 1 some case failed, 2 a usage or spec
error (nothing was graded). Of `grade`: 0 every submission graded (whatever its score), 1 the grader
could not grade some (a worker failed: run it again), 2 a usage or spec error. A problem a user
can cause is one line on stderr, never a traceback.

In GitHub Actions (GITHUB_STEP_SUMMARY set), `check` also appends a Markdown summary to the
job's page, or the one-line error when nothing was graded.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from grader import FRAMEWORKS, __version__

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
STEP_SUMMARY = "GITHUB_STEP_SUMMARY"     # GitHub Actions: a Markdown file shown on the job's page


@contextlib.contextmanager
def _staging(prefix: str = "grader-batch-"):
    """A folder for unpacked submissions, removed at the end; named for this process, so that the
    next run that makes one removes it when a SIGKILL left it (worker.owned_tempdir)."""
    from grader.run.worker import owned_tempdir, remove_owned
    folder = owned_tempdir(prefix)
    try:
        yield folder
    finally:
        remove_owned(folder)


def main(argv: list[str] | None = None) -> int:
    _escape_what_the_terminal_cannot_encode()
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("grader: interrupted", file=sys.stderr)
        return 130
    except _UserError as e:
        return _usage_error(args, str(e))
    except OSError as e:             # an output folder that is missing, a file that cannot be written
        where = f"{e.filename}: " if e.filename else ""
        return _usage_error(args, f"{where}{e.strerror or e}")


def _escape_what_the_terminal_cannot_encode() -> None:
    """Windows writes redirected output (a pipe, a file, a CI log) in its ANSI code page, cp1252 in
    the West: a path under a user name such as 张伟, or a student's printed text, would stop the
    report with a UnicodeEncodeError. Such characters are written as \\uXXXX instead."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def _usage_error(args, message: str) -> int:
    from grader.run.protocol import printable_text
    message = printable_text(message)            # it quotes paths and archive entries: no escape sequences
    print(f"grader: error: {message}", file=sys.stderr)
    summary = os.environ.get(STEP_SUMMARY)
    if args.command == "check" and summary:      # the job's page says why nothing was graded
        from grader.report.markdown import append_markdown, render_error
        try:
            append_markdown(render_error(message), summary)
        except OSError:
            pass                                 # the error above is what matters
    return EXIT_USAGE


class _UserError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description="Seeded, reference-based autograder for ML coursework.")
    parser.add_argument("--version", action="version", version=f"grader {__version__}")
    sub = parser.add_subparsers(dest="command")

    check = sub.add_parser("check", help="grade one submission (a student's module or folder)",
                           description="Grade one submission. Public cases by default; --hidden adds the hidden "
                                       "cases where the instructor's files are present.")
    check.add_argument("path", type=Path, help="the student's module (.py), notebook (.ipynb), the folder holding them, or a .zip of it")
    check.add_argument("--assignment", "-a", required=True,
                       help="assignment name (looked up in ./assignments/NAME or beside the submission) or a path to its assignment.yaml")
    check.add_argument("--hidden", action="store_true", help="also grade the hidden cases (needs the reference)")
    check.add_argument("--json", type=Path, metavar="FILE", help="write the JSON report here")
    check.add_argument("--junit-xml", type=Path, metavar="FILE", help="write a JUnit XML report here")
    check.add_argument("--gradescope", type=Path, metavar="FILE", help="write Gradescope's results.json here")
    check.add_argument("--summary", type=Path, metavar="FILE",
                       help=f"write a Markdown summary here (with ${STEP_SUMMARY} set, as in GitHub Actions, "
                            "it is also appended to that file)")
    check.add_argument("--verbose", "-v", action="store_true", help="list passed cases too")
    _worker_option(check)
    check.set_defaults(run=_check)

    release = sub.add_parser("release", help="write the student handout of an assignment",
                             description="Write the handout: modules with solutions replaced by stubs, the public "
                                         "spec, and the public cases' expected outputs.")
    release.add_argument("assignment", help="assignment name or path to its folder / assignment.yaml")
    release.add_argument("--out", type=Path, required=True, help="folder to write the handout into")
    release.set_defaults(run=_release)

    grade = sub.add_parser("grade", help="grade a class: a folder or zip of submissions",
                           description="Grade every submission in SUBMISSIONS (a folder of per-student folders or "
                                       "files, .py or .ipynb, or a zip of them), public and hidden cases, in "
                                       "parallel. Resumable: "
                                       "run it again after an interruption and only unfinished or changed "
                                       "submissions are graded.")
    _class_input(grade)
    grade.add_argument("--out", type=Path, required=True, help="output folder (per-student results and class exports)")
    grade.add_argument("--workers", "-j", type=int, default=0, help="parallel workers (default: one per core)")
    grade.add_argument("--public-only", action="store_true", help="grade the public cases only")
    grade.add_argument("--shard", metavar="I/N", help="grade only shard I of N (1-based); join shards with `grader merge`")
    grade.add_argument("--scheduler", metavar="ADDRESS", help="grade on a Dask cluster (tcp://HOST:PORT) instead of locally")
    grade.add_argument("--similarity", action="store_true",
                       help="also compare the students' code with each other (and --corpus): similarity.csv, "
                            "similarity.html and a section of report.html; nothing changes a grade")
    _similarity_options(grade, "--similarity-threshold")
    grade.set_defaults(run=_grade)

    sim = sub.add_parser("similarity", help="compare a class's code per graded function: evidence, not a verdict",
                         description="Compare each graded function of every submission in SUBMISSIONS (the forms "
                                     "`grader grade` takes) with the same function of the other students and of "
                                     "the --corpus files, after normalizing away renaming, comments, layout, "
                                     "reordering and equivalent forms; the handout's code is never counted. Writes "
                                     "DIR/similarity.csv and DIR/similarity.html. Runs no student code.")
    _class_input(sim)
    sim.add_argument("--out", type=Path, required=True, help="folder to write similarity.csv and similarity.html into")
    _similarity_options(sim, "--threshold")
    sim.set_defaults(run=_similarity)

    merge = sub.add_parser("merge", help="join the output folders of several `grader grade --shard` runs",
                           description="Collect the per-student results of several output folders into one and "
                                       "write the class exports (gradebook.csv, junit.xml, report.html).")
    merge.add_argument("folders", type=Path, nargs="+", help="output folders of the shards")
    merge.add_argument("--out", type=Path, required=True, help="folder to write the joined results into")
    merge.set_defaults(run=_merge)

    val = sub.add_parser("validate", help="check that an assignment's cases catch its catalogued mistakes",
                         description="Grade the reference (full marks), the handout (zero), every mistake in "
                                     "mistakes.yaml (must lose points in each function it touches) and every "
                                     "not_mistake (full marks); print the coverage table. Exit 1 on any problem.")
    val.add_argument("assignment", help="assignment name or path to its folder / assignment.yaml")
    val.set_defaults(run=_validate)

    new = sub.add_parser("new", help="start a new assignment: spec, reference with solution markers, catalogue",
                         description="Write assignments/NAME/ (assignment.yaml, hidden.yaml, an empty "
                                     "mistakes.yaml, README.md) and reference/NAME/NAME.py beside the assignments "
                                     "folder, with one example function whose reference solution is left to "
                                     "write. Never overwrites.")
    new.add_argument("name", help="the assignment's name; also the name of the student's module (NAME.py)")
    new.add_argument("--dir", type=Path, default=Path("assignments"),
                     help="the folder of assignments (default: assignments); the reference goes to reference/ beside it")
    new.add_argument("--framework", choices=FRAMEWORKS, default="numpy",
                     help="what the functions take and return (default: numpy)")
    new.set_defaults(run=_new)

    gs = sub.add_parser("gradescope", help="package an assignment as a Gradescope autograder zip",
                        description="Write autograder.zip for Gradescope: setup.sh, run_autograder, the grader's "
                                    "source and the assignment with its reference and hidden cases (for Gradescope "
                                    "only, never for students).")
    gs.add_argument("assignment", help="assignment name or path to its folder / assignment.yaml")
    gs.add_argument("--out", type=Path, default=Path("autograder.zip"), help="zip to write (default: autograder.zip)")
    gs.set_defaults(run=_gradescope)

    box = sub.add_parser("sandbox", help="say which sandbox mode student code gets on this machine",
                         description="Probe each sandbox layer in a throwaway child and print the mode "
                                     "(strong, partial or minimal; portable where the Linux worker cannot run). "
                                     "See docs/sandbox.md.")
    _worker_option(box)
    box.set_defaults(run=_sandbox)
    return parser


def _worker_option(parser: argparse.ArgumentParser) -> None:
    from grader.run.worker import WORKER_KINDS, WORKER_VARIABLE
    parser.add_argument("--worker", choices=WORKER_KINDS,
                        help="what runs the student's code: the Linux zygote (sandboxed), the portable worker (a "
                             "fresh interpreter, time limits and crash isolation only, for macOS and Windows), or "
                             f"auto: the zygote wherever it can run (default: ${WORKER_VARIABLE}, else auto)")


def _worker_kind(requested: str | None) -> str:
    from grader.run.worker import WorkerError, worker_kind
    try:
        return worker_kind(requested)
    except WorkerError as e:
        raise _UserError(str(e)) from None


def _class_input(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", type=Path, help="folder or .zip of submissions; student ids come from the names")
    parser.add_argument("--assignment", "-a", required=True, help="assignment name or path to its assignment.yaml")


def _similarity_options(parser: argparse.ArgumentParser, threshold: str) -> None:
    parser.add_argument("--corpus", type=Path, action="append", default=[], metavar="DIR",
                        help="a folder of known solutions (.py, .ipynb, searched recursively), e.g. public "
                             "repositories or last year's class; may be given more than once")
    parser.add_argument(threshold, type=float, metavar="T", dest="threshold",
                        help="report pairs scoring at least T, from 0 to 1 (default 0.6)")


def _similarity_settings(args):
    from grader.similarity import Settings
    if args.threshold is None:
        return Settings()
    if not 0 <= args.threshold <= 1:
        flag = "--threshold" if args.command == "similarity" else "--similarity-threshold"
        raise _UserError(f"{flag} {args.threshold:g}: expected a score from 0 to 1, e.g. 0.6")
    return Settings(threshold=args.threshold)


def _find_similar(spec, submissions, args):
    """The similarity report, or a usage error naming the --corpus at fault."""
    from grader.similarity import CorpusError, find_similar
    try:
        return find_similar(spec, submissions, corpus=args.corpus, settings=_similarity_settings(args))
    except CorpusError as e:
        raise _UserError(str(e)) from None


def _load(assignment: str):
    from grader.spec import SpecError, find_spec, load_spec
    try:
        return load_spec(find_spec(assignment))
    except SpecError as e:
        raise _UserError(str(e)) from None


def _check(args) -> int:
    kind = _worker_kind(args.worker)
    from grader.run.worker import launch_worker
    # The zygote's interpreter starts now, while this one imports the rest and reads the spec.
    with launch_worker(kind) or contextlib.nullcontext() as early:
        return _check_on(args, kind, early)


def _check_on(args, kind: str, early) -> int:
    from grader.spec import SpecError
    from grader.spec.load import HiddenUnavailable, spec_for

    try:
        spec = spec_for(args.assignment, args.path, hidden=args.hidden)
    except (FileNotFoundError, SpecError, HiddenUnavailable) as e:
        raise _UserError(str(e)) from None
    if early is not None:            # its torch import now runs beside this process's imports below
        early.tell(spec.framework)
    if spec.beside:                  # the submission's own copy: its cases and expected values could be anyone's
        _note(f"graded with {spec.path}, found beside the submission: a handout's public cases and expected values, as "
              "that copy has them; to grade with the instructor's, run from the checkout (assignments/NAME/) or give "
              "--assignment PATH")
    _note_missing_packages(spec)
    from grader.expected import ReferenceError_
    from grader.grade import grade_submission
    from grader.report import terminal
    from grader.run.worker import start_worker
    step_summary = os.environ.get(STEP_SUMMARY)
    for report, name in ((args.json, "--json"), (args.junit_xml, "--junit-xml"), (args.gradescope, "--gradescope"),
                         (args.summary, "--summary"), (Path(step_summary) if step_summary else None, STEP_SUMMARY)):
        if report is not None and not report.resolve().parent.is_dir():
            raise _UserError(f"{name} {report}: cannot write a report there: folder {report.resolve().parent} does not exist")
    path = args.path
    from grader.batch import BatchError, look_through
    from grader.batch.discover import _unzip, inner_zip
    with _staging("grader-check-") as unpacked:
        problem = ""
        try:
            if path.is_file() and path.suffix.lower() == ".zip":      # a zip as handed in: unpacked as `grader grade` does
                path = _unzip(path, Path(unpacked))
        except BatchError as e:      # the file named on the command line
            raise _UserError(str(e)) from None
        if path.is_file() and path.suffix.lower() in (".py", ".ipynb"):
            path = _alone(spec, path, Path(unpacked) / "alone")
        try:
            if path.is_dir():                # a folder holding only the folder of their files (an upload, a zip)
                path = inner_zip(look_through(path, spec), spec, Path(unpacked) / "inner")
        except BatchError as e:
            # An archive in the folder (damaged, unsafe, too large): the student's result, as in
            # `grader grade`, not a usage error (Gradescope's autograder shows that as "could not grade").
            problem = f"the submission could not be unpacked: {e}"
        try:
            if problem:
                from grader.grade import error_result
                result = error_result(spec, path, args.hidden, problem)
            else:
                with contextlib.nullcontext(early) if early else start_worker(spec.framework, kind=kind) as worker:
                    result = grade_submission(spec, path, hidden=args.hidden, worker=worker)
        except (SpecError, ReferenceError_) as e:
            raise _UserError(str(e)) from None
    if path != args.path:
        result.submission = str(args.path)
    sys.stdout.write(terminal.render(result, verbose=args.verbose))
    if args.json:
        from grader.report.json_report import write_json
        write_json(result, args.json)
    if args.junit_xml:
        from grader.report.junit import write_junit
        write_junit(result, args.junit_xml)
    if args.gradescope:
        from grader.report.gradescope import write_gradescope
        write_gradescope(result, args.gradescope)
    if args.summary or step_summary:
        from grader.report.markdown import append_summary, write_summary
        if args.summary:
            write_summary(result, args.summary)
        if step_summary:
            append_summary(result, step_summary)
    return EXIT_PASSED if result.all_passed else EXIT_FAILED


def _alone(spec, path: Path, folder: Path) -> Path:
    """A single file checked, copied into a folder of its own with the assignment's other modules
    found beside it (locate.locate_modules), and nothing else: as `grader grade` grades a loose
    file. A thirteenth red team's file, checked in a folder of the class's downloads, imported a
    classmate's file beside it and passed on its answers (the child may read its submission's folder)."""
    import shutil
    from grader.locate import locate_modules
    folder.mkdir(parents=True, exist_ok=True)
    here = path.resolve().parent
    for found in {path.resolve(), *(Path(p).resolve() for p in locate_modules(spec, path).values() if p)}:
        if found.parent == here and found.is_file():
            shutil.copyfile(found, folder / found.name)
    return folder / path.name


def _note_missing_packages(spec) -> None:
    """A note for each of the spec's `packages` that this machine lacks: student code using it would fail."""
    import re
    from importlib import metadata
    for requirement in spec.packages:
        name = re.split(r"[\[=<>!~]", requirement, maxsplit=1)[0]
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            _note(f"{spec.name} lets student code import {name}, which is not installed here: code that uses it fails "
                  f"its cases; install it where you grade (pip install {requirement})")


def _note(note: str) -> None:
    """A note on stderr; it may quote a submission's file names, whose escape sequences are dropped."""
    from grader.run.protocol import printable_text
    print(f"grader: note: {printable_text(note)}", file=sys.stderr)


def _grade(args) -> int:
    early = None
    if not args.scheduler:           # the first worker's interpreter starts now, while this one reads the spec
        from grader.run.worker import launch_worker
        early = launch_worker(_worker_kind(None))
    with early or contextlib.nullcontext():
        return _grade_with(args, early)


def _grade_with(args, early) -> int:
    spec = _load(args.assignment)
    _note_missing_packages(spec)
    hidden = not args.public_only
    if hidden and spec.reference_dir is None:
        raise _UserError(f"{spec.path}: no hidden.yaml and reference beside it; grade with --public-only, "
                         "or point --assignment at the instructor's copy")
    if args.workers < 0:
        raise _UserError(f"--workers {args.workers}: expected a number of workers, 1 or more (0: one per core)")
    if (args.corpus or args.threshold is not None) and not args.similarity:
        raise _UserError("--corpus and --similarity-threshold go with --similarity")
    if args.similarity:
        _similarity_settings(args)
        if args.shard:
            raise _UserError("--similarity compares the whole class: run it without --shard "
                             "(or `grader similarity` on the submissions)")
        from grader.similarity import CorpusError, check_corpus
        try:
            check_corpus(args.corpus)          # before the class is graded, not after
        except CorpusError as e:
            raise _UserError(str(e)) from None
    if _worker_kind(None) == "portable" and not args.scheduler:
        from grader.run.worker import zygote_unavailable
        why = zygote_unavailable()
        print(f"grader: note: grading with the portable worker ({why or 'GRADER_WORKER=portable'}): it keeps time "
              "limits and crashes to their case, but it is not a sandbox against hostile code; grade untrusted "
              "submissions on Linux (docs/sandbox.md)", file=sys.stderr)
    part = None
    if args.shard:
        try:
            part = tuple(int(x) for x in args.shard.split("/"))
            assert len(part) == 2 and 1 <= part[0] <= part[1]
        except (ValueError, AssertionError):
            raise _UserError(f"--shard {args.shard}: expected I/N with 1 <= I <= N, e.g. 2/4") from None
    started = []
    if not args.scheduler:           # their imports (a second of torch each) run while the submissions are found
        from grader.run.worker import start_workers
        if early is not None:
            early.tell(spec.framework)
            started.append(early)
        started += start_workers(spec.framework, (args.workers or os.cpu_count() or 1) - len(started),
                                 first=early)
    # Imported once the workers are importing: a fifth of a second of this process's start-up
    from grader.batch import BatchError, Progress, discover, grade_batch, others_in, shard, write_exports, writing_into
    from grader.expected import ReferenceError_
    from grader.score import class_mean
    from grader.spec import SpecError
    with _staging() as staging, contextlib.ExitStack() as stack:
        for worker in started:
            stack.enter_context(worker)            # closed however the run ends
        try:
            notes: list[str] = []
            submissions = discover(args.submissions, spec, Path(staging), exclude=args.out, notes=notes)
            for note in notes:
                _note(note)
            if not submissions:
                raise _UserError(f"{args.submissions}: no submissions found")
            if part:
                everyone, submissions = len(submissions), shard(submissions, *part)
                print(f"grader: shard {part[0]}/{part[1]}: {_count(len(submissions), 'student')} of {everyone}",
                      file=sys.stderr)
            with writing_into(args.out):       # discovery only reads; from here on OUT is written
                from grader.report.junit import student_xml
                progress, suites = Progress(), {}
                # Each student's part of the class's JUnit file is made as their result comes in,
                # while the workers grade the others: at the end it would take one core alone.
                results = grade_batch(spec, submissions, args.out, workers=args.workers, hidden=hidden,
                                      progress=progress, scheduler=args.scheduler, started=started,
                                      on_result=lambda r: suites.__setitem__(r.label, student_xml(r)))
                progress.finish()
                similar = _find_similar(spec, submissions, args) if args.similarity else None
                paths = write_exports(args.out, results, title=spec.title, similarity=similar, junit_suites=suites)
                if similar is not None:
                    _similarity_notes(similar)
                others = others_in(args.out, submissions)
                if others:
                    shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
                    print(f"grader: note: {args.out} also holds the results of {_count(len(others), 'student')} not in this "
                          f"run ({shown}), left out of its gradebook; remove their folders, or `grader merge` to count them",
                          file=sys.stderr)
        except (BatchError, SpecError, ReferenceError_) as e:
            raise _UserError(str(e)) from None
    mean = class_mean(results)
    if mean is None:                   # a shard with nobody in it, or a spec with no points for what was graded
        summary = ": no points possible" if results else ""
    else:
        summary = f": mean {mean[0]:.1f}%" + (f" of the {mean[1]} who could earn points" if mean[1] < len(results) else "")
    print(f"graded {_count(len(results), 'submission')} of {spec.name}{summary}")
    for path in paths:
        print(f"wrote {path}")
    from grader.batch import UNWRITTEN
    unwritten = [r for r in results if r.grading_error.startswith(UNWRITTEN)]
    failed = [r.label for r in results if r.grading_error and r not in unwritten]
    for r in unwritten[:5]:          # no feedback file to point at: said here
        print(f"grader: {r.label}: {r.grading_error}", file=sys.stderr)
    if failed:                       # the grader's failure, not the students': said, and not final
        shown = ", ".join(failed[:5]) + (", ..." if len(failed) > 5 else "")
        print(f"grader: the grader could not grade {_count(len(failed), 'submission')} ({shown}: see their feedback); "
              "run the same command again to grade them", file=sys.stderr)
    if failed or unwritten:
        return EXIT_FAILED
    return EXIT_PASSED


def _similarity(args) -> int:
    from grader.batch import BatchError, discover
    from grader.report.similarity import write_similarity
    spec = _load(args.assignment)
    _similarity_settings(args)                 # a bad --threshold stops before any file is read
    with _staging("grader-similarity-") as staging:
        try:
            notes: list[str] = []
            submissions = discover(args.submissions, spec, Path(staging), exclude=args.out, notes=notes)
        except BatchError as e:
            raise _UserError(str(e)) from None
        for note in notes:
            _note(note)
        if not submissions:
            raise _UserError(f"{args.submissions}: no submissions found")
        report = _find_similar(spec, submissions, args)
    args.out.mkdir(parents=True, exist_ok=True)
    paths = write_similarity(report, args.out)
    _similarity_notes(report)
    corpus = f" and {_count(report.corpus_files, 'corpus file')}" if args.corpus else ""
    print(f"compared {_count(report.students, 'submission')}{corpus} of {spec.name}, per function: "
          f"{_count(len(report.pairs), 'pair')} at or above {report.settings.threshold:g} (evidence to read, not a verdict)")
    for path in paths:
        print(f"wrote {path}")
    return EXIT_PASSED


def _similarity_notes(report) -> None:
    for who, problem in report.problems:
        print(f"grader: note: similarity: {who}: {problem}: not compared", file=sys.stderr)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _merge(args) -> int:
    from grader.batch import BatchError, merge
    try:
        results = merge(args.folders, args.out)
    except BatchError as e:
        raise _UserError(str(e)) from None
    print(f"merged {_count(len(results), 'submission')} into {args.out}")
    return EXIT_PASSED


def _validate(args) -> int:
    from grader.expected import ReferenceError_
    from grader.spec import SpecError
    from grader.authoring.validate import render, validate
    spec = _load(args.assignment)
    try:
        rows = validate(spec)
    except (SpecError, ReferenceError_) as e:
        raise _UserError(str(e)) from None
    sys.stdout.write(render(rows))
    return EXIT_FAILED if any(row.problems for row in rows) else EXIT_PASSED


def _new(args) -> int:
    from grader.authoring.scaffold import scaffold, validate_target
    from grader.spec import SpecError
    try:
        written = scaffold(args.name, args.dir, args.framework)
    except SpecError as e:
        raise _UserError(str(e)) from None
    for path in written:
        print(f"wrote {path}")
    print(f"next: write the reference solution in {written[-1]}, then run "
          f"`grader validate {validate_target(args.name, args.dir)}`")
    return EXIT_PASSED


def _gradescope(args) -> int:
    from grader.authoring.package import gradescope_zip
    from grader.spec import SpecError
    spec = _load(args.assignment)
    try:
        names = gradescope_zip(spec, args.out)
    except SpecError as e:
        raise _UserError(str(e)) from None
    print(f"wrote {args.out} ({len(names)} files): upload it as the assignment's autograder on Gradescope")
    return EXIT_PASSED


def _sandbox(args) -> int:
    from grader.run import sandbox
    from grader.spec.model import Limits
    if _worker_kind(args.worker) == "portable":
        from grader.run.worker import zygote_unavailable
        limits = sandbox.portable_limits()
        print(sandbox.describe_portable(limits))
        print(f"  {'worker':<11} portable: a fresh interpreter per run ({zygote_unavailable() or 'as asked'})")
        for limit in sandbox.LIMITS:
            print(f"  {limit:<11} {'yes' if limit in limits else 'no'}")
        print(f"  {'disk':<11} {sandbox.disk_cap((), Limits().disk)} (the spec's limits.disk)")
        print(f"Warning: {sandbox.portable_warning(limits)}")
        return EXIT_PASSED
    layers, abi = sandbox.probe()
    print(sandbox.describe(layers, abi))
    for layer in sandbox.LAYERS:
        detail = f" (ABI {abi})" if layer == "landlock" and abi else ""
        print(f"  {layer:<11} {'yes' if layer in layers else 'no'}{detail}")
    print(f"  {'disk':<11} {sandbox.disk_cap(layers, Limits().disk)} (the spec's limits.disk)")
    warning = sandbox.warning(layers)
    if warning:
        print(f"Warning: {warning}")
    return EXIT_PASSED


def _release(args) -> int:
    from grader.expected import ReferenceError_
    from grader.authoring.release import release
    from grader.spec import SpecError

    spec = _load(args.assignment)
    try:
        written = release(spec, args.out)
    except (SpecError, ReferenceError_) as e:
        raise _UserError(str(e)) from None
    for path in written:
        print(f"wrote {path}")
    return EXIT_PASSED


if __name__ == "__main__":
    sys.exit(main())

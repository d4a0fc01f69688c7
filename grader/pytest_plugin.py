"""The pytest plugin: a submission's cases as pytest test items, one per function and case.

    pytest --grader-assignment linear_classifier --grader-submission linear_classifier.py
    pytest ... -k svm_loss_naive -x --junitxml junit.xml -n 2

Registered through the `pytest11` entry point, so pytest loads it wherever grader is installed;
without --grader-assignment / --grader-submission (or the ini options of the same names) it
registers nothing and pytest runs as if it were not there.

The items are named like parametrized tests, `svm_loss_naive[public-3]` (and a function's checks
with points of their own, `svm_loss_vectorized[check-no_loops]`), under a node for the student's
file as if it were a test file (`linear_classifier.py::svm_loss_naive[public-3]`), and carry the
marker `grader` (`-m grader` runs them alone in a project with tests of its own). They
are added to what pytest collects, not collected from the file, because pytest must never import
the student's code: it runs only in the sandboxed worker, as for `grader check`, whose pipeline
(grade.spec_for, grade.grade_submission) and result model these items report. An argument naming
the student's module or one of these node ids (an IDE re-running a test) selects items instead of
being collected, and pytest does not walk into a submission folder for test files and conftest.py.

The first item to run grades, in one worker job, the cases and checks of every function that has
a selected item (whole functions, so each verdict is the one a full grading gives); each pytest
process does this once (so each pytest-xdist worker grades the same and gets the same results),
then every item passes or fails with its result. A failure's text is the block `grader check`
prints for that case or check (report.terminal.case_lines, check_lines), without a traceback; the
case, seed and status are item properties, which --junitxml writes.
"""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:                     # imported when grading starts: pytest loads this module in every run
    from grader.cases import Case
    from grader.results import CaseResult, CheckResult
    from grader.spec import CheckSpec, FunctionSpec

PLUGIN_NAME = "grader-session"
MARKER = "grader"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("grader", "grade a submission with grader (one test per function and case)")
    group.addoption("--grader-assignment", metavar="NAME",
                    help="assignment name (./assignments/NAME or beside the submission) or path to its assignment.yaml")
    group.addoption("--grader-submission", metavar="PATH",
                    help="the student's module (.py) or the folder holding their modules")
    group.addoption("--grader-hidden", action="store_true", default=False,
                    help="also grade the hidden cases (the instructor's checkout)")
    parser.addini("grader_assignment", "like --grader-assignment; a path is relative to the ini file", default="")
    parser.addini("grader_submission", "like --grader-submission, relative to the ini file", default="")
    parser.addini("grader_hidden", "like --grader-hidden", type="bool", default=False)


def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """Keep pytest from loading the conftest.py beside the student's modules because an argument
    names one of them (`alice/linear_classifier.py::svm_loss_naive[public-1]`, as an IDE re-runs
    a test): pytest loads the conftest.py files of its arguments' folders before it collects,
    and those arguments select grader items (GraderSession.pytest_collection), not files."""
    submission = _submission(early_config, early_config.known_args_namespace.grader_submission)
    if submission is None:
        return
    here = early_config.invocation_params.dir
    submission = (here / submission).resolve()
    folder = submission.parent if submission.suffix == ".py" else submission      # the spec is not read yet

    def names_a_module(arg: str) -> bool:
        path = (here / arg.partition("::")[0]).resolve()
        return path.parent == folder and path.suffix in (".py", ".ipynb")
    args = early_config.known_args_namespace.file_or_dir
    args[:] = [arg for arg in args if not names_a_module(arg)]


def pytest_configure(config: pytest.Config) -> None:
    options = _options(config)
    if options is not None:
        config.addinivalue_line("markers", f"{MARKER}: a case graded by grader's pytest plugin")
        config.pluginmanager.register(GraderSession(config, *options), PLUGIN_NAME)


def _options(config: pytest.Config) -> tuple[str, Path | None, bool] | None:
    """(assignment, submission, hidden) from the command line, else the ini file; None when unused.

    A missing companion option is reported at session start, as a usage error."""
    assignment = config.getoption("grader_assignment") or ""
    if not assignment and config.getini("grader_assignment"):
        ini = config.getini("grader_assignment")
        assignment = str(_ini_folder(config) / ini) if (_ini_folder(config) / ini).exists() else ini
    submission = _submission(config, config.getoption("grader_submission"))
    hidden = bool(config.getoption("grader_hidden") or config.getini("grader_hidden"))
    if not (assignment or submission or config.getoption("grader_hidden")):
        return None
    return assignment, submission, hidden


def _submission(config: pytest.Config, option: str | None) -> Path | None:
    """--grader-submission (relative to the current folder), else the ini option (relative to the ini file)."""
    if option:
        return Path(option)
    ini = config.getini("grader_submission")
    return _ini_folder(config) / ini if ini else None


def _ini_folder(config: pytest.Config) -> Path:
    return config.inipath.parent if config.inipath else config.rootpath


class GraderSession:
    """The plugin's state in one pytest process: the spec, the cases, and (once graded) the results."""

    def __init__(self, config: pytest.Config, assignment: str, submission: Path | None, hidden: bool):
        self.config = config
        self.assignment, self.submission, self.hidden = assignment, submission, hidden
        self.spec = None
        self.cases: list = []                 # [(FunctionSpec, Case)] in spec order
        self.checks: list = []                # [checks.Plan]: the checks with points of their own
        self.module_files: dict[str, Path] = {}   # module -> the student's file (where it would be)
        self.picked: list[tuple[str, Path, str]] | None = None   # (argument, file, name) from the command line
        self._results: dict | Exception | None = None
        self.graded = None                    # the SubmissionResult, once graded in this process
        self.reported_points = ""             # the points line, from a pytest-xdist worker's report
        self._def_lines: dict[str, dict[str, int]] = {}

    # -- setup -------------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)           # before pytest-xdist starts its workers
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        from grader.judge.checks import plan
        from grader.grade import HiddenUnavailable, select_cases, spec_for
        from grader.locate import locate_modules
        from grader.spec import SpecError
        for option, value in (("assignment", self.assignment), ("submission", self.submission)):
            if not value:
                raise pytest.UsageError(f"grader: --grader-{option} is needed too (or the grader_{option} ini option)")
        try:
            self.spec = spec_for(self.assignment, self.submission, hidden=self.hidden)
        except (FileNotFoundError, SpecError, HiddenUnavailable) as e:
            raise pytest.UsageError(f"grader: {e}") from None
        self.cases = select_cases(self.spec, self.hidden)
        self.checks = plan(self.spec, self.hidden)
        folder = self.submission.resolve() if self.submission.is_dir() else self.submission.resolve().parent
        located = locate_modules(self.spec, self.submission)
        self.module_files = {m: Path(p).resolve() if p else folder / f"{m}.py" for m, p in located.items()}

    def pytest_report_header(self, config: pytest.Config) -> str:
        from grader import __version__
        scope = "public and hidden cases" if self.hidden else "public cases only"
        return f"grader {__version__}: {self.spec.name}, {self.submission} ({scope})"

    # -- collection ------------------------------------------------------------------------------

    def pytest_ignore_collect(self, collection_path: Path, config: pytest.Config) -> bool | None:
        """Never collect the student's modules as tests, nor walk into someone else's submission folder
        (its test files and conftest.py are student code); a folder holding the invocation directory
        is the user's own project and is walked as usual."""
        path = collection_path.resolve()
        if path in self.module_files.values():
            return True
        folder = self.submission.resolve()
        here = config.invocation_params.dir.resolve()
        if folder.is_dir() and (path == folder or folder in path.parents) and not (here == folder or folder in here.parents):
            return True
        return None

    @pytest.hookimpl(tryfirst=True)           # before pytest resolves its arguments as paths
    def pytest_collection(self, session: pytest.Session) -> None:
        """Take the arguments that name the student's module or one of its items out of pytest's
        hands: pytest would import that file, or say it holds no such test."""
        keep, picked = [], []
        # pytest prints node ids relative to the current folder; IDEs may pass them relative to the rootdir
        bases = (session.config.invocation_params.dir, session.config.rootpath)
        for arg in session.config.args:
            where, _, name = arg.partition("::")
            file = next((p for p in self.module_files.values() if any((b / where).resolve() == p for b in bases)), None)
            if file is None:
                keep.append(arg)
            else:
                picked.append((arg, file, name))
        if picked:
            session.config.args[:] = keep
            self.picked = picked

    @pytest.hookimpl(tryfirst=True)           # before -k, -m and --deselect select among the items
    def pytest_collection_modifyitems(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        ours = []
        for file in dict.fromkeys(self.module_files[fn.module] for fn, _ in self.cases):   # a notebook may hold several modules
            # named like the node of a test file at that path: pytest shows it relative to the current folder
            nodeid = Path(os.path.relpath(file, session.config.rootpath)).as_posix()
            ours += session.genitems(StudentFile.from_parent(session, name=file.name, nodeid=nodeid, grader=self, file=file))
        if self.picked is not None:
            for arg, file, name in self.picked:
                if not any(item.matches(file, name) for item in ours):
                    raise pytest.UsageError(f"grader: not found: {arg} (no such function, case or check in {self.spec.name})")
            ours = [item for item in ours if any(item.matches(file, name) for _, file, name in self.picked)]
        items.extend(ours)

    # -- running -----------------------------------------------------------------------------

    def result(self, item: GraderItem) -> CaseResult | CheckResult:
        """An item's result; the first call grades the functions of every selected item."""
        if self._results is None:
            self._results = self._grade(item.session)
        if isinstance(self._results, Exception):
            raise GradingError(str(self._results))
        return self._results[(item.function.name, item.label)]

    def _grade(self, session: pytest.Session) -> dict | Exception:
        from grader.expected import ReferenceError_
        from grader.grade import Prepared, grade_submission
        from grader.run.worker import WorkerError, start_worker
        from grader.spec import SpecError
        functions = {i.function.name for i in session.items if isinstance(i, GraderItem) and i.grader is self}
        try:
            # this process is kept from student code's view (non-dumpable) when it holds the reference;
            # a handout's public expected outputs are no secret, and debuggers keep working
            with start_worker(self.spec.framework, protect_caller=self.spec.reference_dir is not None) as worker:
                prepared = Prepared(self.spec, self.hidden, functions=functions)
                result = grade_submission(self.spec, self.submission, hidden=self.hidden, worker=worker, prepared=prepared)
        except (SpecError, ReferenceError_, FileNotFoundError, WorkerError) as e:  # WorkerError: a bad GRADER_WORKER
            return e
        if result.sandbox_warning:           # said by "grader", not by a line of this file (a student would look there)
            warnings.warn_explicit(GraderWarning(result.sandbox_warning), GraderWarning, "grader", 0)
        self.graded = result
        return {**{(case.function, case.case_id): case for case in result.cases()},
                **{(check.function, _check_label(check.name)): check for check in result.checks()}}

    def summary(self) -> str:
        """`grader check`'s last line (the points) for the functions graded in this process."""
        from grader.report.terminal import summary_line
        scope = "" if {fn.name for fn in self.graded.functions} == {fn.name for fn in self.spec.functions} \
            else f" Functions run: {', '.join(fn.name for fn in self.graded.functions)}."
        return summary_line(self.graded) + scope

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Any:
        """Each of our items' reports carries the points line: pytest-xdist sends reports, attributes
        included, from the workers (which grade) to the process that prints the summary (which does not)."""
        outcome = yield
        if call.when == "call" and isinstance(item, GraderItem) and item.grader is self and self.graded is not None:
            outcome.get_result().grader_points = self.summary()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        points = getattr(report, "grader_points", None)
        if isinstance(points, str):
            self.reported_points = points

    def pytest_terminal_summary(self, terminalreporter) -> None:
        """Points, as `grader check`'s last line says them, for the functions graded. Under pytest-xdist
        every worker grades the same functions of the same submission, and its reports bring the line."""
        points = self.summary() if self.graded is not None else self.reported_points
        if points:
            terminalreporter.write_sep("-", "grader")
            terminalreporter.write_line(points)

    def def_line(self, module: str, function: str) -> int | None:
        """0-based line of `def function` (or of a method, `Class.method`) in the student's .py file,
        read as text (never imported)."""
        if module not in self._def_lines:
            from grader.locate import source_text
            path = self.module_files[module]
            text = (source_text(path) or "") if path.suffix == ".py" else ""
            self._def_lines[module] = {}
            classes: list[tuple[int, str]] = []                  # (indent, name) of the classes a line is in
            for number, line in enumerate(text.splitlines()):
                found = re.match(r"(\s*)(def|class)\s+(\w+)\s*[(:]", line)
                if not found:
                    continue
                indent = len(found.group(1).expandtabs())
                classes = [(i, c) for i, c in classes if i < indent]
                qualname = ".".join([c for _, c in classes] + [found.group(3)])    # TwoLayerNet.loss
                if found.group(2) == "class":
                    classes.append((indent, found.group(3)))
                else:
                    self._def_lines[module].setdefault(qualname, number)
        return self._def_lines[module].get(function)


class StudentFile(pytest.Collector):
    """The items of the functions in one student file. Not a pytest.File: pytest never reads the file."""

    def __init__(self, *, grader: GraderSession, file: Path, **kwargs: Any):
        super().__init__(**kwargs)
        self.grader, self.file = grader, file

    def collect(self) -> list[GraderItem]:
        items: list[GraderItem] = []
        for fn in self.grader.spec.functions:
            if self.grader.module_files[fn.module] != self.file:
                continue
            items += [CaseItem.from_parent(self, name=f"{fn.name}[{case.case_id}]", grader=self.grader, function=fn, case=case)
                      for f, case in self.grader.cases if f is fn]
            items += [CheckItem.from_parent(self, name=f"{fn.name}[{_check_label(p.check.name)}]", grader=self.grader,
                                            function=fn, check=p.check) for p in self.grader.checks if p.fn is fn]
        return items


class GraderItem(pytest.Item):
    """A graded case or check of one function: passes when its verdict is `passed`."""

    label = ""                        # what the item's brackets hold: public-3, check-no_loops

    def __init__(self, *, grader: GraderSession, function: FunctionSpec, **kwargs: Any):
        super().__init__(**kwargs)
        self.grader, self.function = grader, function
        self.add_marker(MARKER)

    def matches(self, file: Path, name: str) -> bool:
        """Is this item what `file::name` names (name: empty, a function, or an item)?"""
        return file == self.grader.module_files[self.function.module] and name in ("", self.function.name, self.name)

    def runtest(self) -> None:
        result = self.grader.result(self)
        self.user_properties.append(("status", result.status))
        if not result.passed:
            raise NotPassed(self.feedback(result))

    def feedback(self, result: Any) -> str:
        raise NotImplementedError

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, NotPassed):
            return str(excinfo.value)
        if isinstance(excinfo.value, GradingError):
            return f"grader: {excinfo.value}"
        return super().repr_failure(excinfo, style)     # a traceback: a bug in the grader

    def reportinfo(self) -> tuple[Path, int | None, str]:
        module = self.function.module
        return self.grader.module_files[module], self.grader.def_line(module, self.function.name), self.name


class CaseItem(GraderItem):
    """The function on one seeded case."""

    def __init__(self, *, case: Case, **kwargs: Any):
        super().__init__(**kwargs)
        self.case, self.label = case, case.case_id
        self.user_properties += [("function", self.function.name), ("case", case.case_id), ("seed", case.spec.seed)]

    def feedback(self, result: CaseResult) -> str:
        from grader.report.terminal import case_lines, printable_text
        return printable_text("\n".join(case_lines(result)))


class CheckItem(GraderItem):
    """A check with points of its own: numerical gradient, no loops, agreement, speed."""

    def __init__(self, *, check: CheckSpec, **kwargs: Any):
        super().__init__(**kwargs)
        self.check, self.label = check, _check_label(check.name)
        self.user_properties += [("function", self.function.name), ("check", check.name), ("visibility", check.visibility)]

    def feedback(self, result: CheckResult) -> str:
        from grader.report.terminal import check_lines, printable_text
        return printable_text("\n".join(check_lines(result)))


def _check_label(name: str) -> str:
    """'agrees_with svm_loss_naive' -> 'check-agrees_with-svm_loss_naive': an item name without spaces."""
    return "check-" + name.replace(" ", "-")


class NotPassed(Exception):
    """The case or check did not pass; the message is its feedback."""


class GradingError(Exception):
    """The grader could not grade (the reference failed, the handout's expected outputs are stale)."""


class GraderWarning(pytest.PytestWarning):
    """Something the person running the tests should know, e.g. a weaker sandbox on this machine."""

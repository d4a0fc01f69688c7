"""The class-level reports: gradebook CSV, Gradescope results.json, merged JUnit and the HTML page."""
from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from html import escape
from html.parser import HTMLParser

import junitparser
import pytest

from grader.report.gradebook import percent, points, render_gradebook, submission_status, write_gradebook
from grader.report.gradescope import gradescope_failure, gradescope_results, write_gradescope
from grader.report.html import normalize_message, render_html, write_html
from grader.report.junit import build_batch_junit, build_junit, write_batch_junit
from grader.results import (CRASHED, ERROR, FAILED, HIDDEN, NOT_IMPLEMENTED, PASSED, PUBLIC, TIMEOUT,
                            CaseResult, FunctionResult, Score, SubmissionResult)

SECRET = "SECRET-HIDDEN-INPUT-42"
OBRIEN = "o'brien<x>"
REL_ERROR = "relative error 2.1 at [0, 6]: expected 0.02, got -0.03"
IMPORT_ERROR = "ModuleNotFoundError: No module named 'torchvision'"

# Points per case, by function and visibility: svm_loss is out of 2 + 2, softmax_grad of 3 + 1.
WORTH = {("svm_loss", PUBLIC): 1.0, ("svm_loss", HIDDEN): 2.0,
         ("softmax_grad", PUBLIC): 1.5, ("softmax_grad", HIDDEN): 1.0}


def case(function: str, case_id: str, status: str = PASSED, message: str = "", **kw) -> CaseResult:
    visibility = HIDDEN if case_id.startswith("hidden") else PUBLIC
    return CaseResult(function, case_id, visibility, seed=100 + int(case_id[-1]), status=status, message=message, **kw)


def function(name: str, cases: list[CaseResult], hidden_graded: bool) -> FunctionResult:
    def score(visibility: str) -> Score:
        mine = [c for c in cases if c.visibility == visibility]
        passed = sum(c.passed for c in mine)
        return Score(passed * WORTH[name, visibility], len(mine) * WORTH[name, visibility], passed, len(mine))
    return FunctionResult(name, "hw", cases, public=score(PUBLIC), hidden=score(HIDDEN) if hidden_graded else None)


def submission(student: str, svm: dict[str, tuple], softmax: dict[str, tuple], hidden_graded: bool,
               **kw) -> SubmissionResult:
    """Every case passes unless `svm`/`softmax` map its id to (status, message, extra fields)."""
    ids = ["public-1", "public-2"] + (["hidden-1"] if hidden_graded else [])

    def cases(name, overrides):
        made = []
        for i in ids:
            status, message, *extra = overrides.get(i, (PASSED, ""))
            made.append(case(name, i, status, message, **(extra[0] if extra else {})))
        return made
    return SubmissionResult(
        assignment="hw1", submission=f"subs/{student}", hidden_graded=hidden_graded, hidden_available=True,
        hidden_points=3.0, student=student, duration=1.25,
        functions=[function("svm_loss", cases("svm_loss", svm), hidden_graded),
                   function("softmax_grad", cases("softmax_grad", softmax), hidden_graded)], **kw)


def make_batch() -> list[SubmissionResult]:
    everything_errors = {i: (ERROR, IMPORT_ERROR) for i in ("public-1", "public-2")}
    return [
        submission("ada", {}, {}, hidden_graded=True),
        submission("bob", {
            "public-2": (FAILED, REL_ERROR, {"details": "hint: check the margin", "stdout": "debug print\n"}),
            "hidden-1": (FAILED, "relative error 0.5 at [1, 2]: expected 1.5, got 0.75",
                         {"details": f"inputs {SECRET}", "stdout": f"printed {SECRET}\n"}),
        }, {}, hidden_graded=True),
        submission("cy", everything_errors, everything_errors, hidden_graded=False),
        submission("dee", {}, {"public-1": (TIMEOUT, "took longer than 2 s"),
                               "public-2": (TIMEOUT, "not run after an earlier timeout")},
                   hidden_graded=False, sandbox_warning="process isolation only: the network is open"),
        submission(OBRIEN, {"public-1": (FAILED, "relative error 3.7 at [2, 0]: expected 0.5, got 2.35")},
                   {"public-1": (CRASHED, "the worker died (signal 11)")}, hidden_graded=False),
    ]


def _no_nan(name: str):
    raise ValueError(f"non-strict JSON constant {name}")


# --- gradebook --------------------------------------------------------------------------------

def test_gradebook_has_a_max_row_then_one_row_per_student(tmp_path):
    path = tmp_path / "gradebook.csv"
    write_gradebook(make_batch(), path)
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert rows == [
        ["student", "svm_loss", "softmax_grad", "total", "max", "percent", "status"],
        ["Points Possible", "4", "4", "8", "8", "100.00", "--"],
        ["ada", "4", "4", "8", "8", "100.00", "ok"],
        ["bob", "1", "4", "5", "8", "62.50", "ok"],
        ["cy", "0", "0", "0", "5", "0.00", "error"],
        ["dee", "2", "0", "2", "5", "40.00", "timeout"],
        [OBRIEN, "1", "1.5", "2.5", "5", "50.00", "crashed"],
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["gradebook.csv"]


def test_gradebook_of_no_students_is_header_and_zero_max_row():
    assert render_gradebook([]).splitlines() == ["student,total,max,percent,status", "Points Possible,0,0,100.00,--"]


@pytest.mark.parametrize("statuses, expected", [
    ([PASSED, PASSED], "ok"),
    ([PASSED, FAILED], "ok"),                       # wrong answers are in the points, not the status
    ([FAILED, ERROR], "ok"),                        # one case answered
    ([ERROR, NOT_IMPLEMENTED], "error"),
    ([NOT_IMPLEMENTED], "error"),
    ([], "error"),
    ([ERROR, CRASHED, PASSED], "crashed"),
    ([CRASHED, TIMEOUT], "timeout"),                # a timeout is reported over a crash
    ([PASSED, TIMEOUT], "timeout"),
])
def test_submission_status(statuses, expected):
    cases = [case("f", f"public-{i}", s) for i, s in enumerate(statuses)]
    result = SubmissionResult("hw1", "s", False, False, functions=[FunctionResult("f", "m", cases)])
    assert submission_status(result) == expected


@pytest.mark.parametrize("x, text", [(5.0, "5"), (0.5, "0.5"), (10 / 3, "3.3333"), (2 / 3, "0.6667"),
                                     (0.0, "0"), (-0.0, "0"), (1e-6, "0"), (12.25, "12.25")])
def test_points_have_at_most_four_decimals_and_no_trailing_zeros(x, text):
    assert points(x) == text


def test_percent_has_two_decimals_and_survives_zero_possible():
    assert (percent(1, 3), percent(8, 8), percent(0, 0)) == ("33.33", "100.00", "0.00")


# --- Gradescope -------------------------------------------------------------------------------

def test_gradescope_groups_cases_by_function_and_visibility():
    bob = make_batch()[1]
    data = gradescope_results(bob)
    # no execution_time while the hidden cases are not shown: how long they took says something of them
    assert set(data) == {"score", "output", "output_format", "visibility", "stdout_visibility", "tests"}
    assert data["score"] == 5.0
    assert gradescope_results(bob, hidden_visibility="visible")["execution_time"] == 1.25
    assert gradescope_results(make_batch()[2])["execution_time"] == 1.25          # a self-check's: public cases only
    assert (data["output_format"], data["visibility"], data["stdout_visibility"]) == ("text", "visible", "hidden")
    assert data["output"] == "3 of 4 public cases passed.\nThe 2 hidden cases were run: their results are shown once the " \
                             "grades are published."
    # where the hidden groups are shown at once, so is how many passed
    assert gradescope_results(bob, hidden_visibility="visible")["output"] == \
        "3 of 4 public cases passed.\n1 of 2 hidden cases passed."
    tests = data["tests"]
    assert all(set(t) == {"name", "number", "score", "max_score", "status", "output", "visibility", "extra_data"}
               for t in tests)
    assert [(t["name"], t["number"], t["score"], t["max_score"], t["status"], t["visibility"], t["extra_data"])
            for t in tests] == [
        ("svm_loss (public cases)", "1.1", 1.0, 2.0, "failed", "visible", {"passed": 1, "total": 2}),
        ("svm_loss (hidden cases)", "1.2", 0.0, 2.0, "failed", "after_published", {"passed": 0, "total": 1}),
        ("softmax_grad (public cases)", "2.1", 3.0, 3.0, "passed", "visible", {"passed": 2, "total": 2}),
        ("softmax_grad (hidden cases)", "2.2", 1.0, 1.0, "passed", "after_published", {"passed": 1, "total": 1}),
    ]
    assert sum(t["score"] for t in tests) == pytest.approx(bob.earned)
    assert sum(t["max_score"] for t in tests) == pytest.approx(bob.possible)


def test_gradescope_public_output_shows_what_the_terminal_shows():
    public = gradescope_results(make_batch()[1])["tests"][0]["output"]
    assert public == ("1 of 2 cases passed.\n\n"
                      "public-2 (seed 102): failed\n"
                      f"  {REL_ERROR}\n"
                      "  hint: check the margin\n"
                      "  your code printed:\n"
                      "    debug print")


def test_gradescope_hidden_output_never_shows_details_printed_output_or_values():
    data = gradescope_results(make_batch()[1])
    assert data["tests"][1]["output"] == "0 of 1 cases passed.\n\nhidden-1: failed\n  wrong answer"
    assert SECRET not in json.dumps(data)
    assert "expected 1.5" not in json.dumps(data)           # the reference's answer to a hidden input
    assert "seed 103" not in data["tests"][1]["output"]   # a hidden seed regenerates the hidden input


@pytest.mark.parametrize("message, exception, shown", [
    (f"svm_loss raised ValueError: {SECRET}", "ValueError", "svm_loss raised an exception"),
    # a class of the student's named after one of Python's 96 built-in types, picked by an input (a
    # red team's read each hidden case's N from `raise type(NAMES[X.shape[0] % 96], (Exception,), {})()`)
    ("svm_loss raised object: ", "object", "svm_loss raised an exception"),
    ("svm_loss raised BrokenPipeError: ", "BrokenPipeError", "svm_loss raised an exception"),
    # a class named after the data, even one whose name reads like the grader's words
    (f"svm_loss raised Leak_{SECRET.replace('-', '_')}: x", f"Leak_{SECRET.replace('-', '_')}", "svm_loss raised an exception"),
    (f"svm_loss raised ValueError: {SECRET}", "ValueError_" + SECRET.replace("-", "_"), "svm_loss raised an exception"),
    # a result.json written before the `exception` field existed
    (f"svm_loss raised ValueError: {SECRET}", "", "svm_loss raised an exception"),
    ("svm_loss did not finish within 2 s", "", "svm_loss did not finish within 2 s"),
    ("svm_loss is not implemented yet", "NotImplementedError", "svm_loss is not implemented yet"),
])
def test_gradescope_hidden_exceptions_say_nothing_of_theirs(message, exception, shown):
    """Student code can put a hidden case's inputs in an exception (raise ValueError(str(X))), or in
    the name of an exception class it makes, or in which of Python's own classes it raises: a hidden
    case says only what the grader wrote, and not which exception."""
    status = ERROR if "raised" in message else NOT_IMPLEMENTED if "not implemented" in message else TIMEOUT
    result = submission("eve", {"hidden-1": (status, message, {"exception": exception})}, {}, hidden_graded=True)
    output = gradescope_results(result)["tests"][1]["output"]
    assert output.endswith(f"hidden-1: {status.replace('_', ' ')}\n  {shown}")
    assert SECRET not in output and SECRET.replace("-", "_") not in output


@pytest.mark.parametrize("index", range(5))
def test_gradescope_scores_add_up_for_every_student(index):
    result = make_batch()[index]
    tests = gradescope_results(result)["tests"]
    assert sum(t["score"] for t in tests) == pytest.approx(result.earned)
    assert sum(t["max_score"] for t in tests) == pytest.approx(result.possible)
    groups = [t for t in tests if "number" in t]            # not the instructors' note on the sandbox
    assert all(t["name"].endswith("(public cases)") for t in groups) is (not result.hidden_graded)


def test_gradescope_without_hidden_grading_says_so_and_warns_the_instructor_only_about_the_sandbox():
    data = gradescope_results(make_batch()[3], hidden_visibility="after_due_date")
    assert [t.get("number") for t in data["tests"]] == ["1.1", "2.1", None]
    assert [t["status"] for t in data["tests"]] == ["passed", "failed", "failed"]
    assert data["output"] == "2 of 4 public cases passed.\nHidden cases (worth 3 points) were not run."
    assert data["tests"][2] == {"name": "Sandbox (instructors only)", "score": 0, "max_score": 0, "status": "failed",
                                "output": "Warning: process isolation only: the network is open", "visibility": "hidden"}


def test_gradescope_summary_shows_what_importing_the_code_printed():
    result = make_batch()[0]
    assert "Printed" not in gradescope_results(result)["output"]
    result.stdout = "loading my helpers\n"
    assert gradescope_results(result)["output"].endswith("\n\nPrinted while importing your code:\n  loading my helpers")


def test_gradescope_hidden_visibility_is_configurable_and_checked():
    tests = gradescope_results(make_batch()[0], hidden_visibility="after_due_date")["tests"]
    assert [t["visibility"] for t in tests] == ["visible", "after_due_date", "visible", "after_due_date"]
    with pytest.raises(ValueError, match="hidden_visibility"):
        gradescope_results(make_batch()[0], hidden_visibility="later")


def test_gradescope_shows_a_public_check_with_the_hidden_cases_where_those_are_graded():
    """A check's verdict waits for a hidden case the function passes (else a table of the public
    answers earns it), so a visible check said whether some hidden case passed: a bit of hidden
    inputs, read before the grades are published (a fifteenth red team). Graded with the hidden
    cases, every check is shown when they are; a self-check's public checks are shown at once."""
    from grader.results import CheckResult
    for hidden_graded in (True, False):
        result = make_batch()[1]
        result.hidden_graded = hidden_graded
        result.functions[0].checks = [CheckResult(function="svm_loss", name="no_loops", visibility=PUBLIC, status=PASSED,
                                                  earned=1, possible=1, message="no loops")]
        data = gradescope_results(result)
        check = next(t for t in data["tests"] if t["name"] == "svm_loss: check no_loops")
        assert check["visibility"] == ("after_published" if hidden_graded else "visible")
        if hidden_graded:
            assert "hidden cases and the checks were run: their results are shown once" in data["output"]


def test_gradescope_file_is_strict_json(tmp_path):
    result = make_batch()[2]                      # a self-check's: its execution_time is given
    result.duration = float("nan")
    with pytest.raises(ValueError):               # never a bare NaN in the file
        write_gradescope(result, tmp_path / "results.json")
    assert list(tmp_path.iterdir()) == []
    result.duration = 2.0
    write_gradescope(result, tmp_path / "results.json")
    data = json.loads((tmp_path / "results.json").read_text(), parse_constant=_no_nan)
    assert data == json.loads(json.dumps(gradescope_results(result)))
    # A batch writes it compact (one line, json's C encoder): the same data.
    result.duration = float("inf")
    with pytest.raises(ValueError):
        write_gradescope(result, tmp_path / "compact.json", compact=True)
    result.duration = 2.0
    write_gradescope(result, tmp_path / "compact.json", compact=True)
    text = (tmp_path / "compact.json").read_text()
    assert text.count("\n") == 1 and json.loads(text, parse_constant=_no_nan) == data


def test_gradescope_failure_scores_zero_with_a_visible_reason():
    data = gradescope_failure("no Python files in the submission")
    assert data == {"score": 0, "output": "no Python files in the submission", "output_format": "text",
                    "visibility": "visible", "stdout_visibility": "hidden",
                    "tests": [{"name": "Autograder failed", "score": 0, "status": "failed",
                               "output": "no Python files in the submission", "visibility": "visible"}]}
    with_trace = gradescope_failure("internal error", traceback="Traceback ...")
    assert [(t["name"], t["visibility"]) for t in with_trace["tests"]] == [
        ("Autograder failed", "visible"), ("Autograder exception", "hidden")]
    json.dumps(with_trace, allow_nan=False)


# --- batch JUnit ------------------------------------------------------------------------------

def test_batch_junit_has_one_suite_per_student_and_function(tmp_path):
    batch = make_batch()
    path = tmp_path / "junit.xml"
    write_batch_junit(batch, path)
    xml = junitparser.JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert [s.name for s in suites] == [f"{r.student}.{fn}" for r in batch for fn in ("svm_loss", "softmax_grad")]
    assert [{p.name: p.value for p in s.properties()}["student"] for s in suites] == \
        [r.student for r in batch for _ in range(2)]
    totals = {k: sum(r.counts()[k] for r in batch) for k in ("tests", "failures", "errors")}
    assert totals == {"tests": 24, "failures": 3, "errors": 7}
    assert (xml.tests, xml.failures, xml.errors) == (totals["tests"], totals["failures"], totals["errors"])
    root = ET.parse(path).getroot()            # the counts are in the file, not filled in on reading
    assert {k: int(root.get(k)) for k in totals} == totals
    assert [p.name for p in tmp_path.iterdir()] == ["junit.xml"]


def test_batch_junit_testcases_are_those_of_the_single_report():
    bob = make_batch()[1]
    single, batch = list(build_junit(bob)), list(build_batch_junit([bob]))
    assert [[(c.name, [type(r) for r in c.result]) for c in s] for s in batch] == \
        [[(c.name, [type(r) for r in c.result]) for c in s] for s in single]
    assert {c.classname for c in batch[0]} == {"bob.svm_loss"}
    assert [p.name for p in batch[0].properties()][0] == "student"


def test_batch_junit_from_parts_made_as_results_came_in_is_the_same_file(tmp_path):
    """`grader grade` serializes each student's part when their result comes in; the file is the one
    made from the results at the end, whichever students were made before (a resumed run's earlier
    ones are not), and in the results' order, not the order they came in."""
    from grader.report.junit import student_xml
    batch = make_batch()
    write_batch_junit(batch, tmp_path / "at_the_end.xml")
    built = {r.label: student_xml(r) for r in reversed(batch[1:])}
    write_batch_junit(batch, tmp_path / "as_they_came.xml", built)
    assert (tmp_path / "as_they_came.xml").read_bytes() == (tmp_path / "at_the_end.xml").read_bytes()
    built[batch[1].label] = (b"<testsuite name='made before' />", [(0, 0, 0, 0.0)])
    write_batch_junit(batch, tmp_path / "used.xml", built)                       # used, not made again
    assert [s.name for s in junitparser.JUnitXml.fromfile(str(tmp_path / "used.xml"))][2] == "made before"


def test_batch_junit_is_the_document_junitparser_writes(tmp_path):
    """The file joined from the students' parts has the bytes of build_batch_junit's document as
    junitparser writes it: names and messages with markup and non-ASCII text in them included."""
    batch = make_batch()
    batch[0].functions[0].cases[0].message = 'expected <1> & "2", got ∞ \x07'
    batch[1].student = "zoë & <co>"
    write_batch_junit(batch, tmp_path / "joined.xml")
    build_batch_junit(batch).write(str(tmp_path / "whole.xml"))
    assert (tmp_path / "joined.xml").read_bytes() == (tmp_path / "whole.xml").read_bytes()
    assert "zoë &amp; &lt;co&gt;" in (tmp_path / "joined.xml").read_text(encoding="utf-8")


def test_batch_junit_of_no_students_is_an_empty_document():
    xml = build_batch_junit([])
    assert (list(xml), xml.tests) == ([], 0)


# --- HTML -------------------------------------------------------------------------------------

VOID = {"meta", "br", "hr", "img", "input", "link", "col", "wbr"}


class BalancedHTML(HTMLParser):
    """Fails on an end tag that does not close the innermost open element."""

    def __init__(self):
        super().__init__()
        self.open: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()


@pytest.fixture
def page(tmp_path) -> str:
    write_html(make_batch(), tmp_path / "report.html", title="hw1 <batch>")
    return (tmp_path / "report.html").read_text(encoding="utf-8")


def test_html_is_well_formed_and_self_contained(page):
    parser = BalancedHTML()
    parser.feed(page)
    parser.close()
    assert parser.open == []
    assert parser.tags.count("svg") == 2            # the histogram and the per-function bars
    for external in ("http://", "https://", "<script", "<link", "<img", "url("):
        assert external not in page
    assert "<title>hw1 &lt;batch&gt;</title>" in page


def test_html_escapes_the_student_id_and_links_feedback(page):
    assert OBRIEN not in page
    assert f">{escape(OBRIEN)}</a>" in page
    assert 'href="o%27brien%3Cx%3E/feedback.txt"' in page
    assert 'href="ada/feedback.txt"' in page


def test_html_header_and_histogram(page):
    assert "5 students" in page
    assert "Mean 50.5% (3.5 points) &middot; median 50.0% (2.5 points)" in page
    assert "Hidden cases graded for 2 of 5 students" in page
    assert '<svg width="460" height="210" viewBox="0 0 460 210" role="img" aria-label="Histogram of total percent">' \
        in page
    for label in ("0-10%: 1 student<", "40-50%: 1 student<", "50-60%: 1 student<", "60-70%: 1 student<",
                  "90-100%: 1 student<", "10-20%: 0 students<"):
        assert label in page
    assert "1 graded with a weaker sandbox: process isolation only: the network is open" in page


def test_html_groups_failures_by_message_shape(page):
    assert ('<tr><td class="n">2</td><td>svm_loss</td>'
            "<td><code>relative error # at [#, #]: expected #, got #</code></td>"
            f'<td class="n">3</td><td>bob, {escape(OBRIEN)}</td></tr>') in page
    assert f"<code>{escape(IMPORT_ERROR)}</code>" in page
    # The group with the most students is listed first.
    assert page.index("relative error # at") < page.index(escape(IMPORT_ERROR))


def test_html_ranks_failures_by_students_not_cases():
    """One student failing every case does not push a mistake three students made out of the table."""
    broken = {i: (ERROR, IMPORT_ERROR) for i in ("public-1", "public-2", "hidden-1")}
    mistake = {"public-1": (FAILED, "", {"diagnosis": "dW has reg * W"})}
    results = [submission("zed", broken, broken, hidden_graded=True)] + [
        submission(name, mistake, {}, hidden_graded=True) for name in ("ann", "ben", "cat")]
    page = render_html(results, title="t")
    assert ('<tr><td class="n">3</td><td>svm_loss</td><td><code>dW has reg * W</code></td>'
            '<td class="n">3</td><td>ann, ben, cat</td></tr>') in page
    assert page.index("dW has reg * W") < page.index(escape(IMPORT_ERROR))


def test_html_histogram_bins_the_percent_the_gradebook_shows_and_skips_nothing_possible():
    four_of_twenty = submission("ada", {}, {}, hidden_graded=True)
    four_of_twenty.functions[0].public = Score(3.9999999999999996, 20.0, 1, 2)   # case shares summed
    for fn in four_of_twenty.functions[1:]:
        fn.public, fn.hidden = Score(0.0, 0.0, 0, 0), Score(0.0, 0.0, 0, 0)
    four_of_twenty.functions[0].hidden = Score(0.0, 0.0, 0, 0)
    nothing = submission("bea", {}, {}, hidden_graded=True)
    for fn in nothing.functions:
        fn.public, fn.hidden = Score(0.0, 0.0, 2, 2), Score(0.0, 0.0, 1, 1)
    assert percent(four_of_twenty.earned, four_of_twenty.possible) == "20.00"
    page = render_html([four_of_twenty, nothing], title="t")
    assert "20-30%: 1 student<" in page and "10-20%: 0 students<" in page and "0-10%: 0 students<" in page
    assert '<td class="n">n/a</td>' in page
    assert "Mean 20.0% (4 points) &middot; median 20.0% (4 points) of the 1 who could earn points" in page


def test_html_pass_rate_per_case(page):
    # svm_loss public-1 passed for ada, bob and dee; cy could not import, o'brien's answer was wrong.
    assert 'title="3 of 5 passed">60%</td>' in page
    assert 'title="2 of 2 passed">100%</td>' in page     # softmax_grad hidden-1, graded for ada and bob


def test_html_of_no_students_still_renders():
    page = render_html([], title="empty")
    parser = BalancedHTML()
    parser.feed(page)
    assert parser.open == [] and "0 students" in page


@pytest.mark.parametrize("message, shape", [
    ("relative error 2.1 at [0, 6]: expected 0.02, got -0.03", "relative error # at [#, #]: expected #, got #"),
    ("max rel err 3.1e-02 > 1e-5", "max rel err # > #"),
    ("expected shape (5, 3), got (3, 5)", "expected shape (#, #), got (#, #)"),
    ("expected float32, got float64", "expected float32, got float64"),
    ("dW is NaN at [1, 2]: expected .25, got nan", "dW is NaN at [#, #]: expected #, got nan"),
    ("took longer than 2 s", "took longer than # s"),
])
def test_normalize_message(message, shape):
    assert normalize_message(message) == shape

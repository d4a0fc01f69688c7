"""The JUnit XML report, for CI systems and IDEs that show test results.

    write_junit(result, "junit.xml")
    write_batch_junit(results, "junit.xml")    # a whole class in one file

One <testsuite> per graded function, one <testcase> per case. A wrong answer is a <failure>,
anything that stopped the code from answering is an <error> (results.FAILURE_STATUSES and
ERROR_STATUSES). Student text (messages, printed output) is made valid XML 1.0 first: one
stray control character would otherwise make the whole file unreadable to the CI.
"""
from __future__ import annotations

import io
import os
import re

import junitparser
from junitparser.junitparser import etree as _etree     # what junitparser builds with: lxml's where installed

from grader.results import (ERROR_STATUSES, FAILED, FAILURE_STATUSES, CaseResult, CheckResult, FunctionResult, OutputCheck,
                       SubmissionResult, show_dims)
from grader.report.atomic import write_atomic

STDOUT_LIMIT = 64 * 1024   # bytes of a case's printed output kept; a print in a loop can be huge
TRUNCATED = "\n[... truncated]"

# Everything outside XML 1.0's Char production: C0 controls except \t \n \r, surrogates
# (only lone ones can reach a Python str), \ufffe and \uffff.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 forbids."""
    return _NOT_XML_CHAR.sub("", text)


def build_junit(result: SubmissionResult) -> junitparser.JUnitXml:
    """The report as a junitparser document, counts filled in."""
    xml = junitparser.JUnitXml(xml_safe(result.assignment))
    for fn in result.functions:
        xml.add_testsuite(_suite(fn, fn.name, f"{result.assignment}.{fn.name}"))
    xml.update_statistics()
    return xml


def write_junit(result: SubmissionResult, path: str | os.PathLike[str]) -> None:
    """Write the report to `path`; readers never see a half-written file."""
    buffer = io.BytesIO()
    build_junit(result).write(buffer, pretty=True)
    write_atomic(path, buffer.getvalue())


def build_batch_junit(results: list[SubmissionResult]) -> junitparser.JUnitXml:
    """A class's reports merged into one document: one <testsuite> per student and function.

        build_batch_junit(results).write("junit.xml")

    Suites are named "<student>.<function>" and carry a "student" property, so a CI view can
    group by either. Testcases are build_junit's, with the suite name as their classname.
    write_batch_junit writes this document from each student's part serialized on its own.
    """
    suites = [suite for result in results for suite in student_suites(result)]
    xml = _document(results, [counts for _, counts in suites])
    for suite, _ in suites:
        # append, not add_testsuite: that one looks for a same-named suite to merge into,
        # which is quadratic in the class size, and these names are unique anyway.
        xml.append(suite)
    return xml


def _document(results: list[SubmissionResult], counts: list[tuple]) -> junitparser.JUnitXml:
    """The class's <testsuites> element, without its suites: its totals summed from each suite's
    (tests, failures, errors, time), in the suites' order."""
    xml = junitparser.JUnitXml(xml_safe(results[0].assignment) if results else "")
    totals = [0, 0, 0, 0.0]
    for suite_counts in counts:
        totals = [a + b for a, b in zip(totals, suite_counts)]
    xml.tests, xml.failures, xml.errors, xml.skipped, xml.time = *totals[:3], 0, round(totals[3], 3)
    return xml


def student_suites(result: SubmissionResult) -> list[tuple[junitparser.TestSuite, tuple]]:
    """One student's suites in the class's document, each with its (tests, failures, errors, time)."""
    student = result.label
    suites = []
    for fn in result.functions:
        name = f"{student}.{fn.name}"
        suite = _suite(fn, name, name, student=student)
        counts = _counts(fn)
        tests, failures, errors, time = counts          # set in update_statistics' order: the same bytes
        suite.tests, suite.errors, suite.failures, suite.skipped, suite.time = tests, errors, failures, 0, time
        suites.append((suite, counts))
    return suites


def _counts(fn: FunctionResult) -> tuple[int, int, int, float]:
    """(tests, failures, errors, time) of a function's suite, as junitparser's update_statistics
    counts them from the testcases, but from the results: reading 40,000 testcases back through
    junitparser takes a third of a second of a class's export."""
    kinds = [_case_kind(case) for case in fn.cases] + [_check_kind(check) for check in fn.checks]
    time = 0.0
    for case in fn.cases:                             # summed in the testcases' order, as junitparser does
        time += float(case.duration or 0)
    return len(kinds), kinds.count(junitparser.Failure), kinds.count(junitparser.Error), round(time, 3)


def _case_kind(case: CaseResult) -> type | None:
    """The entry a case's testcase gets: Failure for a wrong answer, Error when the code did not answer."""
    if case.status in FAILURE_STATUSES:
        return junitparser.Failure
    return junitparser.Error if case.status in ERROR_STATUSES else None


def _check_kind(check: CheckResult) -> type | None:
    if check.passed:
        return None
    return junitparser.Failure if check.status == FAILED else junitparser.Error


def write_batch_junit(results: list[SubmissionResult], path: str | os.PathLike[str], built: dict | None = None) -> None:
    """Write the class's merged report to `path`, build_batch_junit's document; readers never see
    a half-written file. `built` ({student: student_xml(result)}) holds students' parts made
    earlier, as each result came in; the others are made here.

    Not pretty-printed: junitparser pretty-prints through minidom, seconds for a class of 1,000.
    Each student's part is serialized on its own, as ElementTree writes it within the document,
    and the file is their concatenation: what is left for the end (one core, the other idle) is
    the students not made before, a resumed run's earlier ones.
    """
    parts, counts = [], []
    for result in results:
        text, theirs = (built or {}).get(result.label) or student_xml(result)
        parts.append(text)
        counts += theirs
    xml = _document(results, counts)
    if not any(parts):                               # no suite: the empty element, as junitparser writes it
        buffer = io.BytesIO()
        xml.write(buffer)
        write_atomic(path, buffer.getvalue())
        return
    end = f"</{xml._elem.tag}>"
    xml._elem.text = "|"                             # the element's text marks where its children go
    document = _etree.tostring(xml._elem, encoding="unicode")
    start = document[:document.rindex("|" + end)]
    write_atomic(path, b"".join([_DECLARATION, start.encode("utf-8"), *parts, end.encode("utf-8")]))


def _declaration() -> bytes:
    """The XML declaration junitparser's tree writes (ElementTree's and lxml's differ in case)."""
    buffer = io.BytesIO()
    _etree.ElementTree(_etree.Element("x")).write(buffer, encoding="utf-8", xml_declaration=True)
    return buffer.getvalue().partition(b"?>")[0] + b"?>\n"


_DECLARATION = _declaration()


def student_xml(result: SubmissionResult) -> tuple[bytes, list[tuple]]:
    """One student's suites as the class's file holds them, and each suite's (tests, failures,
    errors, time)."""
    suites = student_suites(result)
    return (b"".join(_etree.tostring(suite._elem, encoding="unicode").encode("utf-8") for suite, _ in suites),
            [counts for _, counts in suites])


def _suite(fn: FunctionResult, name: str, classname: str, student: str | None = None) -> junitparser.TestSuite:
    suite = junitparser.TestSuite(xml_safe(name))
    if student is not None:
        suite.add_property("student", xml_safe(student))
    suite.add_property("public_points_earned", str(fn.public.earned))
    suite.add_property("public_points_possible", str(fn.public.possible))
    if fn.hidden is not None:
        suite.add_property("hidden_points_earned", str(fn.hidden.earned))
        suite.add_property("hidden_points_possible", str(fn.hidden.possible))
    for case in fn.cases:
        suite.append(_testcase(case, classname))     # add_testcase would recount the suite each time
    for check in fn.checks:
        suite.append(_check_testcase(check, classname))
    return suite            # counted by the document's update_statistics, which counts every suite


def _check_testcase(check: CheckResult, classname: str) -> junitparser.TestCase:
    """A check with its own points: a testcase named "check: <name>", failed or in error like a case."""
    testcase = junitparser.TestCase(xml_safe(f"check: {check.name} ({check.visibility})"), xml_safe(classname), 0)
    kind = _check_kind(check)
    if kind is not None:
        entry = kind(" ".join(xml_safe(check.message).splitlines()), check.status)
        entry.text = xml_safe("\n".join(x for x in (check.message, check.details) if x))
        testcase.result = [entry]
    return testcase


def _testcase(case: CaseResult, classname: str) -> junitparser.TestCase:
    name = f"{case.case_id} (seed {case.seed})" + (f": {case.note}" if case.note else "")
    testcase = junitparser.TestCase(xml_safe(name), xml_safe(classname), case.duration or 0)
    kind = _case_kind(case)
    if kind is not None:
        # An attribute is one line: a newline in it would come back as a space anyway.
        entry = kind(" ".join(xml_safe(case.message).splitlines()), case.status)
        entry.text = xml_safe(_text(case))
        testcase.result = [entry]   # a list: junitparser 3 only accepts lists
    if case.stdout:
        testcase.system_out = _truncate(xml_safe(case.stdout))
    return testcase


def _text(case: CaseResult) -> str:
    """The body of a <failure>/<error>: message first (CI shows the first line), then why."""
    lines = [case.message]
    if case.diagnosis:
        lines.append("Probably: " + case.diagnosis)
    if case.details:
        lines.append(case.details)
    lines += [_output_line(out) for out in case.outputs if not out.ok]
    if case.dims:
        lines.append("inputs: " + show_dims(case.dims))
    return "\n".join(lines)


def _output_line(out: OutputCheck) -> str:
    parts = [f"{out.name}:"] + ([out.message] if out.message else [])
    if out.max_rel_error is not None:
        parts.append(f"max_rel_error={out.max_rel_error:.3g}")
    if out.worst_index is not None:
        parts.append(f"worst_index={list(out.worst_index)}")
    if out.expected is not None:
        parts.append(f"expected={out.expected:.8g}")
    if out.got is not None:
        parts.append(f"got={out.got:.8g}")
    return " ".join(parts)


def _truncate(text: str) -> str:
    data = text.encode("utf-8")
    if len(data) <= STDOUT_LIMIT:
        return text
    # errors="ignore" drops a multi-byte character cut in half at the limit.
    return data[:STDOUT_LIMIT].decode("utf-8", errors="ignore") + TRUNCATED

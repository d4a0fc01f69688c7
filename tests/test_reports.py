"""The JSON and JUnit reporters: strict JSON that matches its schema, JUnit that CI can parse."""
from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET

import jsonschema
import junitparser
import pytest

from grader.report.json_report import render_json, schema, write_json
from grader.report.junit import STDOUT_LIMIT, TRUNCATED, build_junit, write_junit, xml_safe
from grader.results import (CRASHED, ERROR, FAILED, HIDDEN, NOT_IMPLEMENTED, PASSED, PUBLIC, STATUSES,
                            TIMEOUT, CaseResult, FunctionResult, OutputCheck, Score, SubmissionResult)

NASTY_STDOUT = "before\x00\x1b[31mred\x07 after\n"


def make_result(hidden_graded: bool) -> SubmissionResult:
    """Two functions, every kind of outcome; hidden cases only when hidden_graded."""
    loss_cases = [
        CaseResult("softmax_loss", "public-1", PUBLIC, 11, PASSED, note="tiny batch",
                   dims={"N": 2, "D": 3}, outputs=[OutputCheck("loss", True, max_rel_error=1e-9,
                                                               worst_index=[], expected=1.5, got=1.5)],
                   duration=0.01),
        CaseResult("softmax_loss", "public-2", PUBLIC, 12, FAILED,
                   message="dW is NaN at [1, 2]: expected 0.25, got nan",
                   details="hint: subtract the row max before exp", note="large logits",
                   dims={"N": 4, "D": 5},
                   outputs=[OutputCheck("loss", True, max_rel_error=0.0, worst_index=[], expected=2.0, got=2.0),
                            OutputCheck("dW", False, "NaN in output", max_rel_error=float("inf"),
                                        worst_index=[1, 2], expected=0.25, got=float("nan"))],
                   duration=0.02, stdout=NASTY_STDOUT),
        CaseResult("softmax_loss", "public-3", PUBLIC, 13, ERROR,
                   message="ZeroDivisionError: division by zero",
                   details="  File \"submission.py\", line 7, in softmax_loss\x0c", dims={"N": 1, "D": 1},
                   duration=0.001),
    ]
    grad_cases = [
        CaseResult("linear_grad", "public-1", PUBLIC, 21, TIMEOUT, message="took longer than 2 s",
                   duration=2.0),
        CaseResult("linear_grad", "public-2", PUBLIC, 22, NOT_IMPLEMENTED,
                   message="linear_grad is not implemented yet"),
    ]
    if hidden_graded:
        loss_cases.append(CaseResult("softmax_loss", "hidden-1", HIDDEN, 91, PASSED, duration=0.5))
        grad_cases.append(CaseResult("linear_grad", "hidden-1", HIDDEN, 92, CRASHED,
                                     message="the worker died (signal 11)"))
    return SubmissionResult(
        assignment="hw1", submission="students/ada", hidden_graded=hidden_graded, hidden_available=True, hidden_points=6.0,
        functions=[
            FunctionResult("softmax_loss", "losses", loss_cases, public=Score(1.0, 3.0, 1, 3),
                           hidden=Score(2.0, 2.0, 1, 1) if hidden_graded else None),
            FunctionResult("linear_grad", "grads", grad_cases, public=Score(0.0, 2.0, 0, 2),
                           hidden=Score(0.0, 4.0, 0, 1) if hidden_graded else None),
        ],
        sandbox="process", grader_version="0.1.0", started="2024-01-01T00:00:00Z", duration=3.5,
        stdout="imported\x0c\n",
    )


def _no_nan(name: str):
    raise ValueError(f"non-strict JSON constant {name}")


# --- JSON -------------------------------------------------------------------------------------

def test_terminal_shows_the_details_of_the_first_case_of_each_kind():
    """A crash after a wrong value still shows its file and line, not only the wrong value's hint."""
    from grader.report import terminal
    text = terminal.render(make_result(hidden_graded=False))
    assert "hint: subtract the row max before exp" in text                  # public-2, failed
    assert 'File "submission.py", line 7, in softmax_loss' in text          # public-3, error


def test_terminal_shows_a_case_folded_away_when_it_names_another_mistake():
    """A second mistake named only on a hidden case was in the JSON alone: the terminal folded that
    case into "also failing" (a twelfth students' round: no max shift, found on hidden-8 only).
    A diagnosis that differs only in its numbers is the same mistake, and stays folded."""
    from grader.report import terminal
    from grader.results import CaseResult, FunctionResult
    said = lambda n: f"dW is N times what it should be (N is {n} in this case)."
    cases = [CaseResult("f", f"hidden-{k}", HIDDEN, 100 + k, FAILED, message=f"dW[{k}, 0]: expected 1, got {k}",
                        diagnosis=said(k)) for k in range(1, 6)]
    cases.append(CaseResult("f", "hidden-6", HIDDEN, 106, FAILED, message="loss is inf: expected finite values",
                            diagnosis="exp() overflows for scores this large: subtract the maximum score."))
    text = "\n".join(terminal._function(FunctionResult("f", "m", cases), verbose=False))
    assert "hidden-6 (seed 106): failed\n        loss is inf: expected finite values\n        Probably: exp() overflows" in text, text
    assert text.endswith("also failing: hidden-4 (seed 104), hidden-5 (seed 105)"), text


@pytest.mark.parametrize("hidden_graded", [True, False])
def test_json_report_validates_against_schema(hidden_graded):
    data = json.loads(render_json(make_result(hidden_graded)))
    jsonschema.Draft202012Validator.check_schema(schema())
    jsonschema.validate(data, schema(), cls=jsonschema.Draft202012Validator)
    assert (data["score"]["hidden"] is None) is (not hidden_graded)


@pytest.mark.parametrize("where", [
    lambda d: d,
    lambda d: d["score"],
    lambda d: d["score"]["public"],
    lambda d: d["counts"],
    lambda d: d["functions"][0],
    lambda d: d["functions"][0]["public"],
    lambda d: d["functions"][0]["cases"][1],
    lambda d: d["functions"][0]["cases"][1]["outputs"][1],
], ids=["top", "score", "score.public", "counts", "function", "function.public", "case", "output"])
def test_schema_rejects_unknown_keys_at_every_level(where):
    data = json.loads(render_json(make_result(True)))
    tampered = copy.deepcopy(data)
    where(tampered)["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(tampered, schema(), cls=jsonschema.Draft202012Validator)


def test_schema_rejects_unknown_status_and_bare_nan():
    data = json.loads(render_json(make_result(True)))
    bad_status = copy.deepcopy(data)
    bad_status["functions"][0]["cases"][0]["status"] = "skipped"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad_status, schema())
    bad_float = copy.deepcopy(data)
    bad_float["functions"][0]["cases"][1]["outputs"][1]["got"] = "NaN"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad_float, schema())


def test_schema_status_enum_matches_results():
    assert schema()["$defs"]["case"]["properties"]["status"]["enum"] == list(STATUSES)


def test_json_is_strict_and_writes_non_finite_floats_as_strings(tmp_path):
    path = tmp_path / "report.json"
    write_json(make_result(True), path)
    data = json.loads(path.read_text(), parse_constant=_no_nan)
    dw = data["functions"][0]["cases"][1]["outputs"][1]
    assert dw == {"name": "dW", "ok": False, "message": "NaN in output", "max_rel_error": "inf",
                  "worst_index": [1, 2], "expected": 0.25, "got": "nan"}
    assert data["counts"] == {"tests": 7, "passed": 2, "failures": 1, "errors": 4}
    assert data["score"]["earned"] == 3.0 and data["score"]["possible"] == 11.0
    assert data["functions"][0]["cases"][1]["stdout"] == NASTY_STDOUT
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]   # no temp file left behind


def test_json_without_hidden_grading_scores_public_only():
    data = json.loads(render_json(make_result(False)), parse_constant=_no_nan)
    assert data["score"]["earned"] == 1.0 and data["score"]["possible"] == 5.0
    assert [fn["hidden"] for fn in data["functions"]] == [None, None]
    assert data["counts"] == {"tests": 5, "passed": 1, "failures": 1, "errors": 3}


# --- JUnit ------------------------------------------------------------------------------------

@pytest.mark.parametrize("hidden_graded", [True, False])
def test_junit_counts_match_result_counts(tmp_path, hidden_graded):
    result = make_result(hidden_graded)
    path = tmp_path / "junit.xml"
    write_junit(result, path)
    xml = junitparser.JUnitXml.fromfile(str(path))
    counts = result.counts()
    suites = list(xml)
    assert [s.name for s in suites] == ["softmax_loss", "linear_grad"]
    assert (xml.tests, xml.failures, xml.errors) == (counts["tests"], counts["failures"], counts["errors"])
    assert sum(s.tests for s in suites) == counts["tests"]
    assert sum(s.failures for s in suites) == counts["failures"]
    assert sum(s.errors for s in suites) == counts["errors"]
    # Counted from the elements too, not only from the attributes the writer filled in.
    results = [type(r) for s in suites for c in s for r in c.result]
    assert results.count(junitparser.Failure) == counts["failures"]
    assert results.count(junitparser.Error) == counts["errors"]
    # junitparser fills in missing counts when read, so check that the file itself has them.
    root = ET.parse(path).getroot()
    written = [{k: int(e.get(k, -1)) for k in ("tests", "failures", "errors")}
               for e in [root, *root.iter("testsuite")]]
    assert written[0] == {k: counts[k] for k in ("tests", "failures", "errors")}
    assert [sum(w[k] for w in written[1:]) for k in ("tests", "failures", "errors")] == \
        [counts["tests"], counts["failures"], counts["errors"]]
    assert [p.name for p in tmp_path.iterdir()] == ["junit.xml"]


def test_junit_cases_carry_name_seed_note_and_status(tmp_path):
    result = make_result(True)
    path = tmp_path / "junit.xml"
    write_junit(result, path)
    loss, grad = list(junitparser.JUnitXml.fromfile(str(path)))
    names = [c.name for c in loss]
    assert names == ["public-1 (seed 11): tiny batch", "public-2 (seed 12): large logits",
                     "public-3 (seed 13)", "hidden-1 (seed 91)"]
    assert {c.classname for c in loss} == {"hw1.softmax_loss"}
    passed, failed, errored, _ = list(loss)
    assert passed.is_passed and passed.result == [] and passed.time == pytest.approx(0.01)
    assert failed.is_failure and errored.is_error
    timeout, not_impl, crashed = list(grad)
    assert [c.result[0].type for c in grad] == [TIMEOUT, NOT_IMPLEMENTED, CRASHED]
    assert not_impl.time == 0
    props = {p.name: p.value for p in loss.properties()}
    assert props == {"public_points_earned": "1.0", "public_points_possible": "3.0",
                     "hidden_points_earned": "2.0", "hidden_points_possible": "2.0"}


def test_junit_without_hidden_grading_has_no_hidden_points():
    suite = list(build_junit(make_result(False)))[0]
    assert {p.name for p in suite.properties()} == {"public_points_earned", "public_points_possible"}


def test_junit_failure_puts_message_first_then_details_outputs_and_inputs(tmp_path):
    result = make_result(True)
    case = result.functions[0].cases[1]
    path = tmp_path / "junit.xml"
    write_junit(result, path)
    failed = list(list(junitparser.JUnitXml.fromfile(str(path)))[0])[1]
    failure = failed.result[0]
    assert failure.message == case.message
    assert failure.type == "failed"
    assert failure.text.splitlines() == [
        case.message,
        "hint: subtract the row max before exp",
        "dW: NaN in output max_rel_error=inf worst_index=[1, 2] expected=0.25 got=nan",
        "inputs: N=4, D=5",
    ]


def test_junit_strips_control_characters_from_student_output(tmp_path):
    path = tmp_path / "junit.xml"
    write_junit(make_result(True), path)
    raw = path.read_bytes()
    for forbidden in (b"\x00", b"\x1b", b"\x07", b"\x0c"):
        assert forbidden not in raw
    root = ET.parse(path).getroot()           # the standard library parser accepts it too
    outs = [e.text for e in root.iter("system-out")]
    assert outs == ["before[31mred after\n"]  # only the failing case printed anything


def test_junit_caps_huge_stdout():
    result = make_result(True)
    result.functions[0].cases[0].stdout = "é" * STDOUT_LIMIT   # 2 bytes each: twice the limit
    out = list(list(build_junit(result))[0])[0].system_out
    assert out.endswith(TRUNCATED)
    assert out[: -len(TRUNCATED)] == "é" * (STDOUT_LIMIT // 2)


@pytest.mark.parametrize("text, expected", [
    ("plain text", "plain text"),
    ("tab\tnewline\ncr\r", "tab\tnewline\ncr\r"),
    ("nul\x00bell\x07esc\x1b[31m", "nulbellesc[31m"),
    ("\x01\x08\x0b\x0c\x0e\x1f", ""),
    ("del\x7f and c1\x85 stay", "del\x7f and c1\x85 stay"),   # allowed (if discouraged) in XML 1.0
    ("bom\ufeff ok, \ufffe\uffff not", "bom\ufeff ok,  not"),
    ("lone \ud800 and \udfff surrogates", "lone  and  surrogates"),
    ("unicode αβγ 日本 🎉 \U0010ffff", "unicode αβγ 日本 🎉 \U0010ffff"),
    ("", ""),
])
def test_xml_safe(text, expected):
    assert xml_safe(text) == expected


@pytest.mark.parametrize("hidden_graded", [True, False])
def test_to_dict_is_asdict_plus_derived_fields_and_round_trips(hidden_graded):
    import dataclasses
    result = make_result(hidden_graded)
    data = result.to_dict()
    derived = {"score", "counts"}
    assert {k: v for k, v in data.items() if k not in derived} == {
        k: v for k, v in dataclasses.asdict(result).items() if k != "functions"} | {
        "functions": [dataclasses.asdict(fn) | {"earned": fn.earned, "possible": fn.possible} for fn in result.functions]}
    # No container is shared with the result: changing the dict leaves the result alone.
    data["functions"][0]["cases"][0]["dims"]["N"] = -1
    assert result.functions[0].cases[0].dims.get("N") != -1
    assert SubmissionResult.from_dict(result.to_dict()) == result


@pytest.mark.parametrize("hidden_graded", [True, False])
def test_a_result_from_a_newer_grader_loads_without_the_fields_this_one_does_not_know(hidden_graded):
    result = make_result(hidden_graded)
    data = result.to_dict()
    data["added_later"] = 1
    fn = data["functions"][0]
    fn["public"]["added_later"] = 1
    fn["cases"][0]["added_later"] = 1
    fn["cases"][0]["outputs"] = [{"name": "dW", "ok": False, "added_later": 1}]
    if fn["checks"]:
        fn["checks"][0]["added_later"] = 1
    loaded = SubmissionResult.from_dict(data)
    assert loaded.functions[0].cases[0].outputs[0].name == "dW"
    loaded.functions[0].cases[0].outputs = result.functions[0].cases[0].outputs
    assert loaded == result


# --- Gradescope: what a hidden case may say ------------------------------------------------------

# What a hostile child puts wherever its words reach a case's message: the hidden case's inputs.
PLANT = "seed=4242 dims=N7D11 W[0]=[0.9137, -2.2718]"
PLANTED_NAME = "seed_4242_N7D11_W0_0_9137"       # the same, as an identifier (a missing name, a class)
FN = "svm_loss_naive"


def hidden_output(case: CaseResult, other: str = "softmax_loss") -> str:
    """The Gradescope text of the hidden group `case` is in: what the student sees."""
    from grader.report.gradescope import gradescope_results
    result = SubmissionResult(
        assignment="hw1", submission="s", hidden_graded=True, hidden_available=True, hidden_points=1.0,
        functions=[FunctionResult(FN, "linear_svm", [case], public=Score(), hidden=Score(0.0, 1.0, 0, 1)),
                   FunctionResult(other, "linear_svm", [], public=Score(), hidden=Score())])
    (test,) = [t for t in gradescope_results(result)["tests"] if t["name"] == f"{FN} (hidden cases)"]
    return test["output"]


def hidden_case(status: str, message: str, **kw) -> CaseResult:
    return CaseResult(FN, "hidden-1", HIDDEN, 4242, status, message=message, **kw)


RIGHT = [OutputCheck("loss", True), OutputCheck("dW", True)]


@pytest.mark.parametrize("status, message, fields, shown", [
    # missing_function: the worker's own message, or the name it says is missing
    (ERROR, PLANT, {}, f"{FN} could not be run on this case (the public cases show why)"),
    (ERROR, f"{FN} is not defined in linear_svm.py; {PLANT}", {},
     f"{FN} is not defined (is it in the file and named as in the assignment?)"),
    (ERROR, f"{PLANTED_NAME} is not defined in linear_svm.py", {}, f"a function {FN}'s cases call is not defined"),
    (ERROR, f"{FN} is a {PLANTED_NAME}, not a function", {},
     f"{FN} is not a function (is that name used for something else too?)"),
    (ERROR, f"what {FN} made has no {PLANTED_NAME} (`model.{PLANTED_NAME}(X)`)", {},
     f"what {FN} made lacks a method or attribute its cases use"),
    (ERROR, f"{PLANTED_NAME} is not defined in linear_svm.py ({FN}'s cases call it first: `x = f()`)",
     {"blocked_by": PLANTED_NAME}, f"not judged: something {FN}'s cases run first failed or was wrong on this case"),
    # import_error: the module it names, the exception it describes
    (ERROR, f"linear_svm.py could not be imported: ValueError: {PLANT}", {},
     "your code could not be imported (the public cases show why)"),
    (ERROR, f"{PLANTED_NAME}.py not found in the submission", {}, f"the file {FN} should be in is not in the submission"),
    # exception, NotImplementedError raised in a function it names
    (NOT_IMPLEMENTED, f"{FN} calls {PLANTED_NAME}, which is not implemented yet", {"exception": "NotImplementedError"},
     f"{FN} calls a function that is not implemented yet"),
    (NOT_IMPLEMENTED, f"not judged: your {PLANTED_NAME} is not implemented yet, and {FN}'s cases start with it (`x`)",
     {"exception": "NotImplementedError", "blocked_by": PLANTED_NAME},
     f"not judged: something {FN}'s cases run first failed or was wrong on this case"),
    # bad_return as the handout's starter: what it says came back
    (NOT_IMPLEMENTED, f"{FN} is not implemented yet: it returns {PLANT}, as the handout's code does", {},
     f"{FN} is not implemented yet: it returns what the handout's starting code returns"),
    (FAILED, f"{FN} returned {PLANT}; expected 2 values (loss, dW)", {},
     f"{FN} did not return the values its cases expect (the wrong number of values?)"),
    (FAILED, f"{FN} returned {PLANT}: more than the 64 MiB an answer may take; expected loss, dW", {},
     f"{FN} returned more than an answer may take"),
    # the inputs it says it changed
    (FAILED, f"{FN} changed its input {PLANTED_NAME} in place; work on copies", {"outputs": RIGHT},
     f"{FN} changed its input(s) in place; its outputs are right, but it must leave its inputs as they were: "
     "work on copies or write new arrays"),
    # a limit the worker says it stopped the call at
    (CRASHED, f"{FN}: {PLANT}", {},
     f"{FN} crashed (the process running it died: a segfault, os._exit, or a memory or disk limit)"),
    (CRASHED, f"importing linear_svm.py was stopped: {PLANT}", {},
     "importing your code stopped the worker (sys.exit, os._exit, or a crash or a limit at import time?)"),
    (TIMEOUT, f"{FN} did not finish within {PLANT} s", {}, f"{FN} did not finish within the time limit"),
])
def test_gradescope_hidden_cases_say_only_the_graders_own_words(status, message, fields, shown):
    """A hostile child chooses text that reaches a case's message for every status, not only an
    exception's: a hidden case tells the student its status in fixed words, never that text."""
    output = hidden_output(hidden_case(status, message, **fields))
    assert output == f"0 of 1 cases passed.\n\nhidden-1: {status.replace('_', ' ')}\n  {shown}"
    for secret in (PLANT, PLANTED_NAME, "4242", "9137", "N7D11"):
        assert secret not in output


@pytest.mark.parametrize("status, message, shown", [
    (TIMEOUT, f"{FN} did not finish within 2.5 s (an infinite loop, or much slower than needed?)",
     f"{FN} did not finish within 2.5 s (an infinite loop, or much slower than needed?)"),
    (TIMEOUT, f"not run: {FN} already timed out on an earlier case", f"not run: {FN} already timed out on an earlier case"),
    (CRASHED, f"{FN} stopped the worker running it (a crash, os._exit, or the 2 GiB memory limit)",
     f"{FN} crashed (the process running it died: a segfault, os._exit, or a memory or disk limit)"),
    (ERROR, f"{FN} is not defined in linear_svm.py", f"{FN} is not defined (is it in the file and named as in the assignment?)"),
    (NOT_IMPLEMENTED, f"{FN} is not implemented yet", f"{FN} is not implemented yet"),
    (ERROR, "the grader failed on this submission (KeyError: 'x'); please tell your instructor",
     "the grader failed on this submission; please tell your instructor"),
])
def test_gradescope_hidden_cases_still_say_what_went_wrong(status, message, shown):
    assert hidden_output(hidden_case(status, message)).endswith(f"hidden-1: {status.replace('_', ' ')}\n  {shown}")


def test_gradescope_hidden_case_names_a_graded_function_it_is_blocked_by():
    """Names of graded functions come from the spec: a case not judged because of one may say which."""
    case = hidden_case(ERROR, "not judged: your softmax_loss is wrong on this case (loss: expected 1.5, got 2)",
                       blocked_by="softmax_loss")
    assert hidden_output(case).endswith(
        "not judged: your softmax_loss failed or was wrong on this case (its own tests say how)")
    case = hidden_case(TIMEOUT, "not judged: `model = TwoLayerNet(3)`, which ... did not finish", blocked_by="TwoLayerNet")
    assert hidden_output(case, other="TwoLayerNet.loss").endswith("not judged: your TwoLayerNet failed or was wrong "
                                                                  "on this case (its own tests say how)")


def test_gradescope_hidden_case_that_only_changed_an_input_says_so():
    """Its outputs are right: 'wrong answer' would send the student hunting for a wrong value."""
    message = f"{FN} changed its input X in place; work on copies (e.g. X = X.clone()) or write new arrays"
    output = hidden_output(hidden_case(FAILED, message, outputs=RIGHT))
    assert output.endswith(f"hidden-1: failed\n  {FN} changed its input(s) in place; its outputs are right, but it "
                           "must leave its inputs as they were: work on copies or write new arrays")


def test_gradescope_hidden_case_with_a_wrong_output_that_also_changed_an_input_says_both():
    message = ("loss: expected 10.2, got 10.23 (relative error 0.0029, tolerance 1e-06); it also changed its input X "
               "in place: work on copies (e.g. X = X.clone()) or write new arrays")
    outputs = [OutputCheck("loss", False, message), OutputCheck("dW", True)]
    output = hidden_output(hidden_case(FAILED, message, outputs=outputs))
    assert output.endswith("hidden-1: failed\n  wrong loss; it also changed its input(s) in place")
    assert "10.2" not in output


def test_the_terminal_report_and_gradescope_drop_escapes_the_graders_own_messages_quote():
    """The grader quotes the submission in its own messages (a notebook's line of code, a file's name):
    an escape sequence there must not reach the student's terminal or Gradescope's page."""
    from grader.report import gradescope, terminal
    result = make_result(hidden_graded=True)
    result.submission = "students/eve\x1b[2J\x1b[Hx"
    case = result.functions[0].cases[2]
    case.message = "notebook.ipynb, cell 2, line 1: def f(:  \x1b[2J\x1b[Hok   all passed\x1b[8m"
    case.details = "\x1b]0;pwned\x07 hidden \x9b31m"
    text = terminal.render(result, verbose=True)
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text, repr(text)
    assert "def f(:  ok   all passed" in text and "students/evex" in text
    data = json.dumps(gradescope.gradescope_results(result))
    assert "\\u001b" not in data and "\\u0007" not in data and "def f(:  ok   all passed" in data


@pytest.mark.parametrize("cell, written", [
    ("=HYPERLINK(\"https://evil.example\")", "'=HYPERLINK(\"https://evil.example\")"),
    ("+1+1", "'+1+1"), ("-1+2", "'-1+2"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"),
    ("-0.5", "-0.5"), ("+3", "+3"), ("1e-3", "1e-3"), ("--", "--"), ("alice", "alice"), ("", ""), (2.5, 2.5),
])
def test_a_csv_cell_a_spreadsheet_would_run_is_written_as_text(cell, written):
    from grader.report.cells import spreadsheet_text
    assert spreadsheet_text(cell) == written


# ---------------------------------------------------------------------------------------------
# Hidden inputs and the visible feedback of the same child

def test_a_child_runs_every_public_call_before_any_hidden_one():
    """One child runs a submission's calls in order. Public cases, and the calls of checks shown with
    them (a gradient check's moved inputs, agrees_with's), ran after earlier functions' hidden cases:
    a module global carried hidden inputs into a public case's printed output or message, which
    Gradescope shows. Every public call now comes first."""
    from grader.grade import call_order, select_cases
    from grader.judge import checks
    from grader.results import HIDDEN
    from grader.spec import load_spec
    from conftest import REPO
    for name in ("cs231n", "cs231n_layers", "linear_classifier", "fully_connected_networks"):
        spec = load_spec(REPO / "assignments" / name)
        cases, plans = select_cases(spec, hidden=True), checks.plan(spec, hidden=True)
        items, case_calls, plan_calls, public = call_order(cases, plans)
        hidden = [None] * len(items)
        for (fn, case), j in zip(cases, case_calls):
            assert items[j] == (fn, case)
            hidden[j] = case.spec.visibility == HIDDEN
        for p, positions in zip(plans, plan_calls):
            assert [items[j] for j in positions] == p.calls
            for j in positions:
                hidden[j] = p.check.visibility == HIDDEN
        assert None not in hidden and any(hidden) and not all(hidden), name
        assert hidden == sorted(hidden), (name, hidden)      # no public call after a hidden one
        assert hidden.count(False) == public, name


def test_hidden_inputs_seen_by_one_function_do_not_reach_a_later_functions_public_feedback(tmp_path):
    """A red team's submission: svm_loss_naive keeps every reg it is given, and svm_loss_vectorized's
    first public case prints them and raises with them. Gradescope showed hidden cases' reg (and
    W's values) in the visible test of svm_loss_vectorized's public cases."""
    import subprocess
    from grader.grade import select_cases
    from grader.results import HIDDEN
    from grader.spec import load_spec
    from conftest import GRADER, REPO
    text = (REPO / "reference" / "linear_classifier" / "linear_classifier.py").read_text()
    text = text.replace("def svm_loss_naive(W, X, y, reg):\n",
                        "SEEN = []\n\n\ndef svm_loss_naive(W, X, y, reg):\n    SEEN.append(repr(float(reg)))\n", 1)
    text = text.replace("def svm_loss_vectorized(W, X, y, reg):\n",
                        "def svm_loss_vectorized(W, X, y, reg):\n    print('SEEN', SEEN)\n"
                        "    raise RuntimeError('SEEN ' + ' '.join(SEEN))\n", 1)
    (tmp_path / "linear_classifier.py").write_text(text)
    out = tmp_path / "results.json"
    proc = subprocess.run([GRADER, "check", str(tmp_path), "--assignment", "linear_classifier", "--hidden",
                           "--gradescope", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.is_file(), proc.stderr
    visible = json.dumps([t for t in json.loads(out.read_text())["tests"] if t.get("visibility") != "hidden"]
                         + [json.loads(out.read_text()).get("output", "")])
    assert "SEEN" in visible                       # the public case's print and message are shown
    spec = load_spec(REPO / "assignments" / "linear_classifier")
    hidden_regs = {repr(float(case.args["reg"])) for fn, case in select_cases(spec, hidden=True)
                   if fn.name == "svm_loss_naive" and case.spec.visibility == HIDDEN and case.args["reg"]}
    public_regs = {repr(float(case.args["reg"])) for fn, case in select_cases(spec, hidden=False)}
    assert hidden_regs - public_regs
    leaked = [r for r in hidden_regs - public_regs if r in visible]
    assert not leaked, leaked


# What a submission finds by walking the objects of its own process: the job's calls (their scalar
# arguments) and every array held in a list (the cases' inputs). Run at import, and as the answer
# of svm_loss_naive's every call (its public cases' messages are shown).
LEAK_BY_GC = '''
import gc as _gc
import numpy as _np


def _objects():
    """Every container the collector tracks (not those frozen in the zygote), and everything reachable
    from the locals of the frames that called this one (the harness's job and inputs)."""
    import sys
    todo, seen = list(_gc.get_objects()), set()
    frame = sys._getframe()
    while frame is not None:
        todo += list(frame.f_locals.values())
        frame = frame.f_back
    while todo:
        obj = todo.pop()
        if id(obj) in seen or not isinstance(obj, (list, tuple, dict)):
            continue
        seen.add(id(obj))
        yield obj
        todo += list(obj.values()) if isinstance(obj, dict) else list(obj)


def _seen():
    calls, regs, sums = 0, set(), set()
    for obj in _objects():
        if isinstance(obj, dict) and "function" in obj and isinstance(obj.get("args"), list):
            calls += 1
            for pair in obj["args"]:
                if isinstance(pair, list) and pair[0] == "reg" and isinstance(pair[1], dict) and "scalar" in pair[1]:
                    regs.add(repr(float(pair[1]["scalar"])))
        elif isinstance(obj, list):
            for x in obj:
                if type(x) is _np.ndarray and x.dtype.kind == "f" and x.size:
                    sums.add(repr(float(x.sum())))
    return f"SEEN calls={calls} regs " + " ".join(sorted(regs)) + " sums " + " ".join(sorted(sums))


print(_seen())
'''


def _hidden_only(spec) -> tuple[set, set]:
    """The hidden cases' reg values and their arrays' sums, as LEAK_BY_GC writes them, that no public case has."""
    import numpy as np
    from grader.grade import select_cases
    from grader.results import HIDDEN

    def found(cases):
        regs = {repr(float(c.args["reg"])) for _, c in cases if "reg" in c.args}
        sums = {repr(float(v.sum())) for _, c in cases for v in c.args.values()
                if isinstance(v, np.ndarray) and v.dtype.kind == "f" and v.size}
        return regs, sums
    hidden_regs, hidden_sums = found([(f, c) for f, c in select_cases(spec, hidden=True) if c.spec.visibility == HIDDEN])
    public_regs, public_sums = found(select_cases(spec, hidden=False))
    return hidden_regs - public_regs, hidden_sums - public_sums


def _numbers(text: str) -> set:
    """The numbers LEAK_BY_GC wrote into `text` (not the report's own, a score of 0.0)."""
    import re
    return {n for said in re.findall(r"SEEN [^\"\n]*", text) for n in re.findall(r"-?[0-9][0-9.e+-]*", said)}


def _most_calls_seen(text: str) -> int:
    import re
    return max(int(n) for n in re.findall(r"SEEN calls=(\d+)", text))


def _public_calls(spec) -> int:
    """How many calls a job of the spec makes before its first hidden one (its public cases and checks)."""
    from grader.grade import Prepared
    prepared = Prepared.outline(spec, True)
    return len([1 for _, case in prepared.cases if case.spec.visibility == "public"])


def _leaking_submission(folder) -> None:
    from conftest import REPO
    text = (REPO / "reference" / "linear_classifier" / "linear_classifier.py").read_text()
    text = text.replace("def svm_loss_naive(W, X, y, reg):\n",
                        LEAK_BY_GC + "\n\ndef svm_loss_naive(W, X, y, reg):\n    raise RuntimeError(_seen())\n", 1)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "linear_classifier.py").write_text(text)


@pytest.mark.slow
@pytest.mark.parametrize("worker", ["zygote", "portable"])
def test_hidden_inputs_are_not_in_the_child_while_it_runs_public_cases(tmp_path, worker):
    """A red team's submission walked the objects of its process at import and in a public case, and
    printed and raised what it found: the job's calls and the arrays of every case, hidden ones
    included (the child read them all from its job at the start). Gradescope showed them in the
    visible test of svm_loss_naive's public cases. A child now gets the hidden calls and their inputs
    only after the grader has every public result."""
    import subprocess
    from grader.spec import load_spec
    from conftest import GRADER, REPO
    _leaking_submission(tmp_path / "s")
    out = tmp_path / "results.json"
    proc = subprocess.run([GRADER, "check", str(tmp_path / "s"), "--assignment", "linear_classifier", "--hidden",
                           "--gradescope", str(out), "--worker", worker], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert out.is_file(), proc.stderr
    data = json.loads(out.read_text())
    visible = json.dumps([t for t in data["tests"] if t.get("visibility") == "visible"] + [data.get("output", "")])
    assert "SEEN calls=" in visible                # the public case's message is shown
    spec = load_spec(REPO / "assignments" / "linear_classifier")
    assert _most_calls_seen(visible) == _public_calls(spec)
    hidden_regs, hidden_sums = _hidden_only(spec)
    assert hidden_regs and hidden_sums
    assert not hidden_regs & _numbers(visible)
    assert not hidden_sums & _numbers(visible)
    # The hidden cases were run all the same: the other functions kept their hidden points.
    assert data["score"] > 0 and any(t.get("visibility") != "visible" and t.get("score") for t in data["tests"])


@pytest.mark.slow
def test_hidden_inputs_are_not_in_the_zygote_that_a_batchs_children_share(tmp_path):
    """The zygote decodes the calls and inputs a batch's jobs share once, and its children inherit
    them: the hidden ones must not be among them. Three submissions on one worker: the first
    job brings its own, the second loads them into the zygote, the third inherits them."""
    from grader.grade import Prepared, grade_submission
    from grader.run.worker import start_worker
    from grader.spec import load_spec
    from conftest import REPO
    spec = load_spec(REPO / "assignments" / "linear_classifier")
    hidden_regs, hidden_sums = _hidden_only(spec)
    with start_worker(spec.framework) as worker:
        prepared = Prepared(spec, True, worker=worker)
        for k in range(3):
            _leaking_submission(tmp_path / f"s{k}")
            result = grade_submission(spec, tmp_path / f"s{k}", hidden=True, worker=worker, prepared=prepared)
            fn = next(f for f in result.functions if f.name == "svm_loss_naive")
            shown = " ".join(c.message or "" for c in fn.cases if c.visibility == "public")
            assert _most_calls_seen(shown) == _public_calls(spec), k
            assert not hidden_regs & _numbers(shown), k
            assert not hidden_sums & _numbers(shown), k
            assert result.earned > 6, k        # the three right functions' hidden cases ran


def test_points_read_the_same_in_the_terminal_and_the_gradebook():
    """An eighth students' round saw 16.12/20 from `grader check` and 16.125 in the gradebook."""
    from grader.report import gradebook, terminal
    for x, shown in [(16.125, "16.125"), (15.375, "15.375"), (7 / 3, "2.3333"), (5.0, "5"), (0.5, "0.5"), (-0.0, "0")]:
        assert terminal.points(x) == gradebook.points(x) == shown


def test_a_module_that_does_not_import_is_said_once_above_its_functions():
    """A students' round's IndentationError was repeated under all 17 functions of layers.py (129
    lines), with no line saying that the file does not import."""
    from grader.report import terminal
    why = "layers.py could not be imported: IndentationError: unexpected indent"
    where = "layers.py, line 9, indented as written:\n  8 |     y = 1\n  9 |         z = 2"
    functions = [FunctionResult(name, "layers", [CaseResult(name, f"public-{k}", PUBLIC, k, ERROR, message=why, details=where)
                                                 for k in (1, 2)], public=Score(0.0, 1.0, 0, 2))
                 for name in ("affine_forward", "relu_forward")]
    functions.append(FunctionResult("adam", "optim", [CaseResult("adam", "public-1", PUBLIC, 1, PASSED)],
                                    public=Score(1.0, 1.0, 1, 1)))
    result = SubmissionResult(assignment="hw", submission="s", hidden_graded=False, hidden_available=False, functions=functions)
    text = terminal.render(result)
    assert text.count("IndentationError") == 1 and text.count("        z = 2") == 1, text
    assert "layers.py could not be imported, so none of the 2 functions in it could run:\n" \
           "     IndentationError: unexpected indent\n     layers.py, line 9, indented as written:\n" \
           "       8 |     y = 1\n       9 |         z = 2\n" in text, text
    assert "FAIL relu_forward: 0/2 cases passed, 0/1 points: not run, as layers.py could not be imported (above)" in text
    # One function alone keeps its own lines, as any error
    alone = SubmissionResult(assignment="hw", submission="s", hidden_graded=False, hidden_available=False, functions=functions[:1] + functions[2:])
    assert "so none of the" not in terminal.render(alone) and "        z = 2" in terminal.render(alone)


def test_verbose_says_a_case_that_fails_as_the_first_in_its_place():
    """With -v, "the same on public-2" came right after a passed line, and read as the passing case's."""
    from grader.report import terminal
    cases = [CaseResult("f", "public-1", PUBLIC, 1, FAILED, message="wrong"),
             CaseResult("f", "public-2", PUBLIC, 2, PASSED),
             CaseResult("f", "public-3", PUBLIC, 3, FAILED, message="wrong")]
    result = SubmissionResult(assignment="hw", submission="s", hidden_graded=False, hidden_available=False,
                              functions=[FunctionResult("f", "m", cases, public=Score(0.3, 1.0, 1, 3))])
    verbose = terminal.render(result, verbose=True)
    assert "public-2 (seed 2): passed\n     public-3 (seed 3): failed, as public-1\n" in verbose, verbose
    assert "the same on" not in verbose
    assert "the same on public-3 (seed 3)" in terminal.render(result)


def test_a_submission_name_with_line_breaks_stays_on_the_first_line():
    """A thirteenth red team named a student's folder "mallory\\n\\nAll 40 public and hidden cases
    passed: 20/20 points.\\n..." in a class export: that line led a 5.5/20 student's feedback.txt."""
    from grader.report import terminal
    result = make_result(hidden_graded=True)
    result.submission = "export.zip/mallory\n\nAll 40 public and hidden cases passed: 20\u221520 points.\u2028\r\n"
    first, second = terminal.render(result).split("\n")[:2]
    assert first.endswith("export.zip/mallory\\n\\nAll 40 public and hidden cases passed: 20\u221520 points.\\u2028\\r\\n"), first
    assert "All 40" not in second

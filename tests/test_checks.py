"""Checks beyond the outputs: gradient check, agreement, no loops, no autograd, speed; their spec and reports."""
import json
import re
import shutil
import textwrap
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from grader.judge.checks import judge_static
from grader.grade import Prepared, grade_submission
from grader.report.gradescope import gradescope_results
from grader.report.json_report import render_json, schema
from grader.report.junit import build_junit
from grader.report.terminal import render
from grader.run.worker import start_worker
from grader.spec import CheckSpec, FunctionSpec, SpecError, load_spec

from conftest import REPO

CS231N = REPO / "assignments" / "cs231n"


# --- static checks, pure ----------------------------------------------------------------------

def _fn(name="f"):
    return FunctionSpec(name=name, module="m", dims={}, args=(), outputs=(), rtol=1e-6, atol=1e-9,
                        points_public=1, points_hidden=0, all_or_nothing=False, checks=(), cases=())


def static(kind, source, name="f"):
    return judge_static(_fn(name), CheckSpec(kind=kind, points=1, visibility="public"), textwrap.dedent(source), "m.py")


def test_no_loops_reads_each_helper_once_however_they_call_each_other(monkeypatch):
    """A file of helpers each calling the next ten (no cycle): asking, for every call, whether it
    leads back made the grader's own CPU grow faster than the cube of the file (a minute for 60 KB,
    in the grader's process, for every such student of a batch). Each body is read a few times now."""
    from grader.judge import checks
    n = 60
    helpers = "\n".join(f"def h{i}(x):\n    return x" + "".join(f" + h{j}(x)" for j in range(i + 1, min(i + 11, n)))
                        + "\n" for i in range(n))
    reads = []
    real = checks._references
    monkeypatch.setattr(checks, "_references", lambda name, *a, **k: reads.append(name) or real(name, *a, **k))
    result = static("no_loops", "def f(x):\n    return h0(x)\n\n" + helpers)
    assert result.status == "passed", result.message
    assert len(reads) <= 3 * (n + 1), len(reads)
    cycle = static("no_loops", "def f(x):\n    return h0(x)\n\n" + helpers.replace("return x", "return f(x) + x", 1)
                   .replace(f"def h{n - 1}(x):\n    return x", f"def h{n - 1}(x):\n    return h0(x)"))
    assert cycle.status == "failed" and "recursion (f calls h0, which leads back to f)" in cycle.message, cycle.message


def test_a_method_called_on_unknown_objects_links_each_classs_method_once_a_body():
    """`a.m` on an object of no known class may be any class's `m`: linked once in a body, not once a
    line (a seventeenth red team's 8,000 classes and 8,000 `a.m` lines took a batch past 3 GiB)."""
    import ast
    from grader.judge import checks
    k, n = 30, 40
    source = "def f(a):\n    return _junk(a)\n\ndef _junk(a):\n" + "    a.m\n" * n + \
        "".join(f"\nclass C{i}:\n    def m(self):\n        return 0\n" for i in range(k))
    defs = checks.definitions(ast.parse(source))
    links = [found for found, _ in checks._references("_junk", defs)]
    assert sorted(links) == sorted(f"C{i}.m" for i in range(k))
    assert set(checks._reachable("f", defs)) == {"f", "_junk", *(f"C{i}.m" for i in range(k))}
    assert static("no_loops", source).status == "passed"


def test_a_functions_names_are_looked_up_in_its_modules_not_copied():
    """A copy of the module's names for each function read made 40,000 imports and 8,000 functions
    take 45 s of the grader's CPU (a seventeenth red team's): a function's scope holds its own."""
    import ast
    from grader.judge import checks
    source = "".join(f"import m{i}\n" for i in range(300)) + \
        "import numpy as np\n\ndef f(x, m7):\n    vec = np.vectorize\n    return vec(x)\n"
    tree = ast.parse(source)
    module = checks._aliases(tree, checks._BUILTINS)
    scope = checks._aliases(tree.body[-1], module)
    assert len(scope) <= 2, dict(scope)                  # its own: `vec` (m7 is a parameter: hidden)
    assert scope.get("vec") == "numpy.vectorize" and scope.get("np") == "numpy" and scope.get("m8") == "m8"
    assert scope.get("m7") is None and scope.get("x") is None and scope.get("map") == "builtins.map"
    assert static("no_loops", source).message.startswith("f uses np.vectorize() (a loop in disguise) at line 304")


def test_functions_defined_inside_are_read_once_however_deep(monkeypatch):
    """Each inner def's body was walked again for each def around it, to see whether it calls itself:
    95 nested defs around a tuple of 500,000 zeros took 30 s of the grader's CPU (a seventeenth red team's)."""
    import ast
    depth, size = 30, 300
    source = "def f(x):\n"
    for i in range(depth):
        source += "    " * (i + 1) + f"def g{i}():\n"
    source += "    " * (depth + 1) + "return (" + "0, " * size + ")\n" + "    return x\n"
    nodes = sum(1 for _ in ast.walk(ast.parse(source)))
    visits = [0]
    real = ast.iter_child_nodes
    monkeypatch.setattr(ast, "iter_child_nodes", lambda node: visits.__setitem__(0, visits[0] + 1) or real(node))
    assert static("no_loops", source).status == "passed"
    assert visits[0] < 8 * nodes, (visits[0], nodes)
    monkeypatch.setattr(ast, "iter_child_nodes", real)
    calling = source.replace("return (", "return g29() + (", 1)          # the innermost calls itself
    found = static("no_loops", calling)
    assert found.status == "failed" and "recursion (g29 calls itself)" in found.message, found.message


@pytest.mark.parametrize("before, inside, call", [
    ("", "def f(x, map=map):", "map"),                                              # a parameter's default
    ("", "def f(x, m=map):", "m"),
    ("", "def f(x, *, m=map):", "m"),
    ("", "def f(x):\n    def t():\n        from builtins import map as m\n        return m\n    m = t()", "m"),
    ("", "def f(x):\n    m = None\n    def t():\n        nonlocal m\n        from builtins import map as m\n    t()", "m"),
    ("", "def f(x):\n    class K:\n        from builtins import map as m", "K.m"),
    ("for m in [map]:\n    pass\n", "def f(x):", "m"),
    ("(m := map)\n", "def f(x):", "m"),
    ("class K:\n    m = map\n", "def f(x):", "K.m"),
    ("def setup():\n    global m\n    from builtins import map as m\n", "def f(x):", "m"),
    ("import functools\nwith open(__file__) as _:\n    m = functools.partial(map, abs)\n", "def f(x):", "m"),
    ("import itertools\nfor it in [itertools]:\n    pass\n", "def f(x):", "it.starmap"),
])
def test_no_loops_finds_a_loop_in_disguise_under_a_name_bound_any_way(before, inside, call):
    """An eighteenth red team passed no_loops eight ways with a name the reading did not follow (a
    parameter's default, an import in a nested def or a class, `for`, `:=`, a class body, `global`):
    `np.array(list(m(W.T.dot, X)))` is C calling C once a row, which no watch of the running code sees."""
    source = f"import numpy as np\n{before}{inside}\n    return np.array(list({call}(np.abs, x)))\n"
    r = static("no_loops", source)
    assert r.status == "failed", (source, r.message)
    said = f"{call}(), which the module binds to "
    assert said in r.message or said in r.details, (r.message, r.details)   # a default's `map` is named first


@pytest.mark.parametrize("fetch, found", [
    ("builtins.__dict__.get('map')", "map()"),
    ("vars(builtins).get('map')", "map()"),
    ("builtins.__dict__.get('map', None)", "map()"),                  # a default beside the key
    ("__builtins__.get('map')", "map()"),
    ("operator.attrgetter('map')(builtins)", "map()"),
    ("operator.itemgetter('map')(vars(builtins))", "map()"),
    ("vars(builtins).get(''.join(['m', 'a', 'p']))", "a function taken from the built-ins by a name computed"),
    ("operator.attrgetter(''.join(['m', 'a', 'p']))(builtins)", "by a name computed"),
    ("importlib.import_module(''.join(['built', 'ins'])).map", "a function taken from the modules (an import)"),
])
def test_no_loops_finds_map_fetched_from_a_mapping_or_a_getter(fetch, found):
    """A nineteenth red team fetched map five ways the reading did not follow, and passed no_loops."""
    source = f"import builtins, importlib, operator\nimport numpy as np\ndef f(x):\n    m = {fetch}\n    return np.array(list(m(np.abs, x)))\n"
    r = static("no_loops", source)
    assert r.status == "failed" and found in r.message, r.message


@pytest.mark.parametrize("source", [
    "def f(x, m=max):\n    return m(x)",                                # a default that is no loop
    # a nineteenth red team's honest code that the first reading of names bound any way failed:
    "import itertools\nimport numpy as np\ndef g(s):\n    for i, _j in itertools.product(range(3), range(1)):\n        pass\n"
    "def f(s):\n    i = s[0]\n    return s - i.reshape(-1, 1)",                # a loop target, then a local of that name
    "import numpy as np\ndef g(X):\n    map = X[0]\n    margin = map - map[0] + 1\n    return margin\n"
    "def f(s):\n    margin = lambda t: np.maximum(0, t)\n    return margin(s)",   # a local named map, elsewhere
    "from itertools import product, repeat\nimport numpy as np\ndef f(s):\n    return s[:, None].repeat(3, axis=1)",
    "import config_utils\ndef f(s, d):\n    return d.get('x') + config_utils.__dict__.get('scale')",
    "import numpy as np\ndef g(xs):\n    ms = list(map(abs, xs))\n    return ms\ndef f(x):\n    ms = np.sum\n    return ms(x)",
    "def g(xs):\n    return list(map(abs, xs))\ndef f(x, m=abs):\n    return m(x)",     # map called elsewhere, not bound
])
def test_names_bound_to_what_is_no_loop_pass(source):
    r = static("no_loops", source)
    assert r.status == "passed", r.message


def test_a_value_bound_to_many_names_is_read_once(monkeypatch):
    """`a1 = a2 = ... = a10000 = [0] * 10000` read the value once a name: 60 s of the grader's CPU (a
    nineteenth red team's)."""
    from grader.judge import checks
    reads = [0]
    real = checks._loop_mentioned
    monkeypatch.setattr(checks, "_loop_mentioned", lambda *a: reads.__setitem__(0, reads[0] + 1) or real(*a))
    checks._kept.clear()
    source = " = ".join(f"a{i}" for i in range(500)) + " = [0] * 5\ndef f(x):\n    return x\n"
    assert static("no_loops", source).status == "passed"
    assert reads[0] <= 3, reads[0]


def test_a_static_check_whose_reading_goes_over_its_budget_is_not_judged(monkeypatch):
    from grader.judge import checks
    source = "def f(x):\n    return x + " + " + ".join(["x"] * 100) + "\n"
    assert static("no_loops", source).status == "passed"
    monkeypatch.setattr(checks, "STATIC_STEPS", 150)
    r = static("no_loops", source)
    assert r.status == "error" and r.earned == 0
    assert r.message == "f could not be checked: reading it and the code it calls took over 150 steps " \
                        "(a student's function takes a few thousand)"
    monkeypatch.setattr(checks, "STATIC_STEPS", 10 ** 6)
    assert static("no_autograd", source).status == "passed"      # the budget is each check's own


@pytest.mark.parametrize("body, what, line", [
    ("for i in range(3):\n        pass", "a for loop", 3),
    ("while x:\n        x -= 1", "a while loop", 3),
    ("return [v for v in x]", "a list comprehension", 3),
    ("return sum(v for v in x)", "a generator expression", 3),
    ("return {k: 1 for k in x}", "a dict comprehension", 3),
])
def test_no_loops_names_the_loop_and_its_line(body, what, line):
    r = static("no_loops", f"import numpy as np\ndef f(x):\n    {body}\n")
    assert r.status == "failed" and r.earned == 0
    assert r.message.startswith(f"f has {what} at line {line} (`")


def _runs(*rows, visibility="public", names=None):
    """(Case, Outcome) pairs of a traced function, cases public-1, public-2... (or hidden-): each row
    is (N, {line: times it ran}[, whether the student's code turned the counting off]); `names`
    ((file, function)) for where the lines are, /sub/m.py and f unless given."""
    from grader.cases import Case
    from grader.run.outcome import Outcome
    from grader.spec import CaseSpec
    out = []
    for index, (n, times, *off) in enumerate(rows, 1):
        case = Case("f", CaseSpec(visibility=visibility, index=index, seed=index), {"N": n}, {})
        file, function = names or ("/sub/m.py", "f")
        outcome = Outcome(status="returned", traced=True, untraced=bool(off and off[0]),
                          repeats=[(file, line, k, function) for line, k in sorted(times.items(), key=lambda t: -t[1])])
        out.append((case, outcome))
    return out


def _repeats(runs, source="def f(x):\n    y = x\n    return y\n", check="public"):
    from grader.judge.checks import Plan, judge_repeats
    return judge_repeats(Plan(fn=_fn(), check=CheckSpec(kind="no_loops", points=1, visibility=check)), runs, source, "m.py")


def _library_runs(*rows, visibility="public"):
    """(Case, Outcome) pairs whose cases called a library's function: each row is ({dim: size},
    times), no line of the student's repeating."""
    from grader.cases import Case
    from grader.run.outcome import Outcome
    from grader.spec import CaseSpec
    return [(Case("f", CaseSpec(visibility=visibility, index=i, seed=i), dims, {}),
             Outcome(status="returned", traced=True, lines=12,
                     library=[("/usr/lib/site-packages/torch/utils/_pytree.py", 700, times, "_get_node_type")] if times > 1 else []))
            for i, (dims, times) in enumerate(rows, 1)]


@pytest.mark.parametrize("rows, caught", [
    # torch's tree_map over the rows: its helper runs N + 2 times (a red team's, the seventh round)
    ((({"N": 7, "D": 11}, 9), ({"N": 3, "D": 13}, 5), ({"N": 3, "D": 12}, 5)), True),
    # per class, twice over: 2C + 1
    ((({"N": 7, "C": 6}, 13), ({"N": 3, "C": 8}, 17), ({"N": 5, "C": 4}, 9)), True),
    # whole-array code: as often whatever the sizes (einsum's path helpers, torch's wrappers)
    ((({"N": 7, "D": 11}, 6), ({"N": 3, "D": 13}, 6), ({"N": 64, "D": 2}, 6)), False),
    # counts that move a little with the sizes, not once per any of them (a path chosen by size)
    ((({"N": 7, "D": 11}, 6), ({"N": 3, "D": 13}, 5), ({"N": 64, "D": 2}, 7)), False),
    # on a line, but fewer calls than the size: not once per row
    ((({"N": 40, "D": 11}, 5), ({"N": 20, "D": 13}, 4)), False),
    # sizes one apart: any two counts fit a line
    ((({"N": 4, "D": 11}, 6), ({"N": 3, "D": 11}, 5)), False),
    # the rows' list padded by 3 to 13 items drawn from the inputs (a red team's, the eighth round): on no line
    ((({"N": 7}, 18), ({"N": 3}, 9), ({"N": 20}, 25), ({"N": 64}, 78), ({"N": 6}, 21)), True),
])
def test_a_librarys_function_called_once_per_row_is_a_loop(rows, caught):
    """A red team's tree_map(partial(np.dot, b=W), list(X)) ran no line of its own twice: torch's
    _pytree did the loop, calling its helpers once per row. A library's function whose calls lie on
    a line a * size + b (a whole a >= 1) over cases of several sizes, and reach the size, fails."""
    r = _repeats(_library_runs(*rows))
    if not caught:
        assert r is None, r.message
        return
    assert r.status == "failed"
    assert "has a library run a loop for it: it calls _get_node_type (torch/utils/_pytree.py)" in r.message, r.message
    assert "once per " in r.message and "on public-" in r.message


def test_a_librarys_loop_found_on_hidden_cases_alone_says_nothing_of_them():
    r = _repeats(_library_runs(({"N": 2}, 4), ({"N": 64}, 66), visibility="hidden"))
    assert r.status == "failed"
    assert r.message.startswith("f calls a library's function once per row or element on a hidden case: "), r.message
    assert not re.search(r"hidden-\d|N=|_pytree|_get_node_type|66", r.message), r.message


def test_a_line_run_a_different_number_of_times_but_not_more_on_larger_inputs_is_no_loop():
    """A loop-free helper called five times a call, two of them under `if reg:`, ran three times on
    the reg = 0 case: the check called that a loop (a students' round lost no_loops for it). A line
    is a loop's when it runs more often on larger inputs, as a loop over the rows or classes does."""
    assert _repeats(_runs((7, {3: 5}), (3, {3: 5}), (17, {3: 3}), (64, {3: 5}), (1, {3: 5}))) is None
    assert _repeats(_runs((2, {3: 4}), (9, {3: 6}), (30, {3: 6}))) is None         # grows by less than an eighth of N
    loop = _repeats(_runs((7, {3: 7}), (3, {3: 3}), (17, {3: 17}), (3, {3: 3})))
    assert loop.status == "failed" and "17 times on public-3 (N=17) and 3 times on public-2 (N=3)" in loop.message, \
        loop.message
    pairs = _repeats(_runs((8, {3: 4}), (2, {3: 1}), (64, {3: 32})))                # a line per pair of rows
    assert pairs.status == "failed"


def test_a_visible_no_loops_finding_on_hidden_cases_says_nothing_of_them():
    """A red team's helper ran a line 4 + 100 * reg times, and another looped only where reg > 20, on
    one of 16 lines picked by W[0, 0]: the check Gradescope shows named the hidden cases, their sizes
    and the line, four bits of a hidden input a submission. A visible check found on hidden cases alone
    now says only that: no case, no size, no line, no name."""
    source = "import helpers\n\ndef f(x):\n    return _rows(x)\n"
    for names in (("/sub/m.py", "f"), ("/sub/helpers.py", "_rows"), ("/tmp/N=64 D=32.py", "reg_0_81_X00_0_72")):
        r = _repeats(_runs((2, {3: 2}), (9, {3: 9}), visibility="hidden", names=names), source)
        assert r.status == "failed"
        assert r.message.startswith("f runs a line of your code more often on a larger input on a hidden case: "), r.message
        assert not re.search(r"hidden-\d|N=|line \d|_rows|helpers|m\.py", r.message), r.message
    lines = _runs((2, {}), (64, {}), visibility="hidden")
    for (_, o), n in zip(lines, (7, 70)):
        o.lines = n
    assert _repeats(lines).message.startswith("f runs at least twice as many lines of your code on a larger input on a "
                                              "hidden case: ")


def test_a_no_loops_finding_on_hidden_cases_says_no_name_or_count_the_student_made_as_it_ran():
    """A code object renamed as it runs (`co_name=f"X00={X[0, 0]}"`, a file name of the dims) and a
    loop run a number of times of its choosing put a hidden case's inputs into the check's message,
    which Gradescope shows after the grades are published (a hidden check's). On hidden cases: only
    names the module's source spells out, no counts."""
    source = "import helpers\n\ndef f(x):\n    return _rows(x)\n"
    leak = ("/tmp/N=64 D=32.py", "reg_0_8130270547458789_X00_0_727541")
    _repeats = lambda runs, source="def f(x):\n    y = x\n    return y\n": globals()["_repeats"](runs, source, "hidden")
    r = _repeats(_runs((2, {2: 2}), (9, {2: 9}), visibility="hidden", names=leak), source)
    assert r.status == "failed", r.message
    assert r.message.startswith("f runs a line of code of yours made as it ran more often on hidden-2 (N=9) than on "
                                "hidden-1 (N=2): "), r.message
    assert "0_727541" not in r.message and "D=32" not in r.message
    # names the source spells out are said, as is a line of the module with its code
    r = _repeats(_runs((2, {2: 2}), (9, {2: 9}), visibility="hidden", names=("/sub/helpers.py", "_rows")), source)
    assert r.message.startswith("f runs a line of helpers.py (in _rows) more often on hidden-2 (N=9)"), r.message
    r = _repeats(_runs((2, {3: 2}), (9, {3: 9}), visibility="hidden", names=("/sub/m.py", "f")), source)
    assert r.message.startswith("f runs line 3 of m.py (`def f(x):`) more often on hidden-2 (N=9)"), r.message
    # a line outside the def of the function named: a line number of its own choosing (co_firstlineno)
    r = _repeats(_runs((2, {1: 2}), (9, {1: 9}), visibility="hidden", names=("/sub/m.py", "f")), source)
    assert r.message.startswith("f runs a line of m.py more often on hidden-2 (N=9)"), r.message
    # on public cases, whatever the student's process reported (their inputs are the student's to see)
    r = _repeats(_runs((2, {2: 2}), (9, {2: 9}), names=("/tmp/made.py", "_row_0_7")), source)
    assert r.message.startswith("f runs line 2 of made.py (in _row_0_7) 9 times on public-2 (N=9) and twice on public-1"), r.message
    lines = _runs((2, {}), (64, {}), visibility="hidden")
    for (_, o), n in zip(lines, (7, 70)):
        o.lines = n
    r = _repeats(lines)
    assert r.message.startswith("f runs at least twice as many lines of your code on hidden-2 (N=64) as on hidden-1 (N=2): "), r.message


@pytest.mark.parametrize("small, large, fails", [
    (5, 40, True),           # a line per pair of rows: 32 more lines on N=64 than on N=2, under 64 in all
    (10, 20, False),         # a branch of whole-array code: a few lines more
    (30, 10, False),         # more lines on the smaller input: not a loop over its rows
    (7, 70, True),           # 64 lines or more in all, as before
])
def test_no_loops_as_it_ran_fails_lines_that_grow_with_the_input(small, large, fails):
    runs = _runs((2, {}), (64, {}))
    for (_, o), n in zip(runs, (small, large)):
        o.lines = n
    r = _repeats(runs)
    assert (r is not None and r.status == "failed") == fails, r


def test_no_loops_as_it_ran_fails_a_line_that_runs_more_often_on_larger_inputs():
    """The lines of a no_loops function's cases are counted as they run: one that runs once per row
    runs more often where N is larger, however the loop is dressed up (a callback, a registry)."""
    r = _repeats(_runs((2, {2: 2}), (9, {2: 9})))
    assert r.status == "failed" and r.earned == 0
    assert r.message.startswith("f runs line 2 of m.py (`y = x`) 9 times on public-2 (N=9) and twice on public-1 (N=2): ")


@pytest.mark.parametrize("rows", [
    [(2, {}), (9, {})],                          # every line once: whole-array code
    [(2, {2: 3}), (9, {2: 3})],                  # a helper called three times, whatever N
    [(2, {2: 2}), (9, {2: 3})],                  # under REPEATED_MIN: a branch taken once more
])
def test_no_loops_as_it_ran_passes_lines_run_as_often_whatever_the_input(rows):
    assert _repeats(_runs(*rows)) is None


@pytest.mark.parametrize("totals, fails", [
    ((7, 70), True),              # a line per row, each line once (generated code, a fresh function a row)
    ((40, 44), False),            # whole-array code: about as many lines whatever N
    ((10, 19), False),            # under REPEATED_ALWAYS in all
    ((36, 70), False),            # not twice as many
])
def test_no_loops_as_it_ran_fails_more_lines_in_all_on_larger_inputs(totals, fails):
    runs = _runs(*[(n, {}) for n in (2, 64)])
    for (_case, outcome), total in zip(runs, totals):
        outcome.lines = total
    r = _repeats(runs)
    assert (r is not None and r.status == "failed") == fails, r and r.message
    if fails:
        assert r.message.startswith("f runs 70 lines of your code on public-2 (N=64) and 7 on public-1 (N=2): ")


def test_no_loops_as_it_ran_fails_a_line_run_64_times_even_on_one_size_and_counting_turned_off():
    r = _repeats(_runs((64, {2: 64}), (64, {2: 64})))
    assert r is not None and r.status == "failed" and "64 times" in r.message
    r = _repeats(_runs((2, {}), (9, {}, True)))
    assert r.status == "failed" and "turned off the grader's watch" in r.message


def test_no_loops_follows_the_helpers_the_function_calls():
    source = """\
        def helper(x):
            return [v * 2 for v in x]

        def middle(x):
            return helper(x)

        def f(x):
            return middle(x) + 1

        def unrelated(x):
            for v in x:
                pass
        """
    r = static("no_loops", source)
    assert r.status == "failed" and "at line 2" in r.message
    clean = static("no_loops", "import numpy as np\ndef f(x):\n    return np.maximum(0, x).sum()\n\ndef g(x):\n    for v in x: pass\n")
    assert clean.status == "passed" and clean.earned == 1


@pytest.mark.parametrize("source, line, found", [
    ("import numpy as np\ndef f(x):\n    return np.array(list(map(np.sum, x)))", 3, "map()"),
    ("def f(x):\n    return list(filter(None, x))", 2, "filter()"),
    ("import functools\ndef f(x):\n    return functools.reduce(lambda a, b: a + b, x)", 3, "functools.reduce()"),
    ("from functools import reduce as r\nimport numpy as np\ndef f(x):\n    return r(np.add, x)", 4, "functools.reduce()"),
    ("import numpy as xp\ndef f(x):\n    return xp.vectorize(lambda v: v * 2)(x)", 3, "np.vectorize()"),
    ("import numpy as np\ndef f(x):\n    return getattr(np, 'vectorize')(abs)(x)", 3, "np.vectorize()"),
    ("import numpy as np\ndef f(x):\n    return vars(np)['vectorize'](abs)(x)", 3, "np.vectorize()"),
    ("import numpy as np\nvec = np.vectorize\ndef f(x):\n    return vec(abs)(x)", 2, "np.vectorize() (a loop in disguise) at line 2, in vec, which it uses"),
    ("import math\nimport numpy as xp\nexp = xp.vectorize(math.exp)\ndef f(x):\n    return exp(x)", 3, "np.vectorize()"),
    ("square = lambda rows: [r * r for r in rows]\ndef f(x):\n    return square(x)", 1, "a list comprehension"),
    ("import numpy as np\n@np.vectorize\ndef h(v):\n    return v * 2\ndef f(x):\n    return h(x)", 2, "np.vectorize()"),
    ("from numpy import *\ndef f(x):\n    return frompyfunc(abs, 1, 1)(x)", 3, "np.frompyfunc()"),
    ("import numpy as np\ndef f(x):\n    return np.apply_along_axis(np.sum, 1, x)", 3, "np.apply_along_axis()"),
    ("import numpy\ndef f(x):\n    return numpy.apply_over_axes(numpy.sum, x, [0])", 3, "np.apply_over_axes()"),
    ("import numpy as np\ndef f(x):\n    return x[tuple(np.array(list(np.ndindex(x.shape))).T)]", 3, "np.ndindex()"),
    ("import itertools as it\ndef f(x):\n    return it.starmap(pow, x)", 3, "itertools.starmap()"),
    ("from itertools import *\ndef f(x):\n    return list(accumulate(x))", 3, "itertools.accumulate()"),
    ("def f(x):\n    return __import__('itertools').product(x)", 2, "itertools.product()"),
    ("import importlib\ndef f(x):\n    return importlib.import_module('functools').reduce(max, x)", 3, "functools.reduce()"),
    ("def f(x):\n    return sum(x)", 2, "the built-in sum()"),
    ("def f(x):\n    return max(x, key=abs)", 2, "the built-in max()"),
    ("def f(x):\n    return x.clone().apply_(lambda v: v * 2)", 2, ".apply_()"),
    ("def f(x):\n    exec('for i in x: pass')\n    return x", 2, "exec() (code in a string"),
    ("import numpy as np\ndef f(x):\n    return list(__builtins__['map'](np.exp, x))", 3, "map()"),
    ("import numpy as np\ndef f(x):\n    return list(__builtins__.map(np.exp, x))", 3, "map()"),
    ("import sys\ndef f(x):\n    return list(sys.modules['itertools'].starmap(pow, x))", 3, "itertools.starmap()"),
    ("import builtins\ndef f(x):\n    return list(getattr(builtins, ''.join('map'))(abs, x))", 3,
     "a function taken from the built-ins by a name computed as it runs"),
    ("import numpy as np\ndef f(x, how):\n    return getattr(np, how)(x)", 3, "a function taken from numpy by a name computed"),
    ("def f(x):\n    return globals()['_h' + str(1)](x)", 2, "a function taken from globals() by a name computed"),
    ("import sys\ndef f(x, m):\n    return sys.modules[m].starmap(pow, x)", 3, "a function taken from sys.modules by a name"),
])
def test_no_loops_finds_loops_in_disguise_however_they_are_imported(source, line, found):
    r = static("no_loops", source)
    assert r.status == "failed" and r.earned == 0, r.message
    assert r.message.startswith(f"f uses {found}") or r.message.startswith(f"f has {found}"), r.message
    assert f" at line {line}" in r.message, r.message


@pytest.mark.parametrize("source, line, found", [
    ("def f(x):\n    if len(x) == 0:\n        return 0\n    return x[0] + f(x[1:])", 4, "recursion (f calls itself)"),
    ("def g(x):\n    return f(x[1:]) if len(x) else 0\n\ndef f(x):\n    return g(x)", 2,
     "recursion (g calls f, which leads back to g) at line 2, in g, which it calls"),
    ("def f(x):\n    def go(i):\n        return 0 if i == len(x) else x[i] + go(i + 1)\n    return go(0)", 3,
     "recursion (go calls itself)"),
    ("class Net:\n    def f(self, x):\n        return self.f(x[1:]) if len(x) else 0", 3, "recursion (Net.f calls itself)"),
])
def test_no_loops_finds_recursion_direct_or_through_helpers(source, line, found):
    r = static("no_loops", source, name="Net.f" if "class Net" in source else "f")
    assert r.status == "failed" and found in r.message and f"line {line}" in r.message, r.message


@pytest.mark.parametrize("source", [
    # broadcasting, fancy indexing with np.arange and with range, np.max/np.sum/np.einsum/np.maximum
    "import numpy as np\ndef f(W, X, y):\n    s = X.dot(W)\n    m = np.maximum(0, s - s[np.arange(X.shape[0]), y][:, None] + 1)\n"
    "    return m.sum(), np.max(s), np.einsum('ij,jk->ik', X, W), s[range(X.shape[0]), y]",
    "import numpy as np\ndef f(x):\n    return np.add.reduce(x), np.maximum.accumulate(x), np.sum(x, axis=1)",
    "import torch\ndef f(x):\n    return torch.vmap(torch.sum)(x)",          # vmap batches: one call on the whole batch
    "import numpy as np\ndef f(x, filter):\n    return np.sum(x * filter)",     # a parameter named like a builtin
    "import numpy as np\ndef f(x):\n    map = x > 0\n    return x[map].sum()",
    "def f(x, a):\n    return max(a, 1) * x, sum(x.shape), min(x.shape), max([a, 2])",
    "import numpy as np\n\ndef relu(x):\n    return np.maximum(0, x)\n\ndef f(x):\n    return relu(x).sum()",
    "import numpy as np\ndef f(x):\n    return x.reshape(-1, 2).max(axis=1).sum()",
])
def test_no_loops_passes_whole_array_code(source):
    r = static("no_loops", source)
    assert r.status == "passed" and r.earned == 1, r.message


def test_after_a_star_import_of_numpy_sum_is_numpys():
    r = static("no_loops", "from numpy import *\n\ndef f(W):\n    return sum(W * W, axis=0)\n")
    assert r.status == "passed", r.message
    r = static("no_loops", "from math import *\n\ndef f(W):\n    return sum(w for w in W)\n")
    assert r.status == "failed"


def test_a_builtin_shadowed_in_another_function_is_still_the_builtin_here():
    r = static("no_loops", "def g(map):\n    return map\n\ndef f(x):\n    return list(map(abs, x))\n")
    assert r.status == "failed" and r.message.startswith("f uses map() (a loop in disguise) at line 5")


@pytest.mark.parametrize("source, found", [
    ("def f(w):\n    loss = (w * w).sum()\n    loss.backward()\n    return w.grad", ".backward()"),
    ("import torch\ndef f(w):\n    return torch.autograd.grad((w * w).sum(), w)[0]", "torch.autograd"),
    ("from torch.autograd import grad as g\ndef f(w):\n    return g((w * w).sum(), w)[0]", "g (autograd)"),
    ("import torch\ndef f(w):\n    return torch.func.grad(lambda v: (v * v).sum())(w)", "torch.func"),
    ("def f(w):\n    from torch import autograd\n    return autograd.grad((w * w).sum(), w)[0]", "an import of torch"),
    ("def f(w):\n    loss = (w * w).sum()\n    getattr(loss, 'back' + 'ward')()\n    return w.grad", ".backward()"),
    ("import torch\ndef f(w):\n    return getattr(torch, 'auto' + 'grad').grad((w * w).sum(), w)[0]", "torch.autograd"),
    ("import importlib\ndef f(w):\n    ag = importlib.import_module('torch.autograd')\n    return ag.grad((w * w).sum(), w)[0]",
     "torch.autograd"),
    ("def f(w):\n    ag = __import__('torch.autograd', fromlist=['grad'])\n    return ag.grad((w * w).sum(), w)[0]", "torch.autograd"),
    # two values passed, but the module has no backward of its own: torch's (gradient, retain_graph)
    ("def f(w):\n    loss = (w * w).sum()\n    loss.backward(None, True)\n    return w.grad", ".backward()"),
])
def test_no_autograd_finds_each_way_in(source, found):
    r = static("no_autograd", source)
    assert r.status == "failed" and f"f uses {found}" in r.message, r.message


LAYERS = """
import torch


class Linear(object):
    @staticmethod
    def backward(dout, cache):
        return dout


class Net(object):
    def loss(self, X, y=None):
        grad = Linear.backward(X, None)        # the layer's own backward pass, written by hand: allowed
        return self.helper(X), grad

    def helper(self, X):
        X.requires_grad_()
        s = (X * 2).sum()
        s.backward()                           # torch's: found through self.helper
        return s

    def backward(self, dout):
        return self.backward(dout)             # this class's own backward: allowed
"""


HELPER_CLASS = """
class _H:
    def __init__(self, k=1):
        self.k = k

    def go(self, v):
        return [t * self.k for t in v]

    def __call__(self, v):
        return self.go(v)


looper = _H()
"""


@pytest.mark.parametrize("body, where", [
    ("    return _H().go(x)", "in _H.go"),
    ("    h = _H(2)\n    return h.go(x)", "in _H.go"),
    ("    return looper(x)", "in _H.go"),                   # looper, then _H.__call__, then self.go
])
def test_no_loops_reads_the_methods_of_the_modules_classes_called_on_instances(body, where):
    r = static("no_loops", HELPER_CLASS + "\n\ndef f(x):\n" + body + "\n")
    assert r.status == "failed" and "a list comprehension at line 7, " + where in r.message, r.message
    # a method that calls .go() on its argument is not taken for a recursion of its own class's go
    own = static("no_loops", "class A:\n    def go(self, v):\n        return v.go()\n", name="A.go")
    assert own.status == "passed", own.message


def test_a_layers_own_backward_called_through_a_variable_is_not_autograd():
    """`top.backward(dscores, cache)` on a layer class taken from a list: the module has backward
    passes of its own, and the call passes them two values (torch's takes at most a gradient)."""
    source = LAYERS + (
        "\n\ndef g(X, dout):\n"
        "    layers = [(Linear, None)]\n"
        "    for layer, cache in layers:\n"
        "        dout = layer.backward(dout, cache)\n"
        "    top, top_cache = layers[0]\n"
        "    return top.backward(dout, top_cache)\n")
    assert static("no_autograd", source, name="g").status == "passed"
    lone = static("no_autograd", source.replace("top.backward(dout, top_cache)", "top.backward()"), name="g")
    assert lone.status == "failed" and "g uses .backward() at line" in lone.message
    # one value, as a hand-written layer's backward(dout) takes: torch's backward(gradient) is left to the watch as it runs
    assert static("no_autograd", source.replace("top.backward(dout, top_cache)", "top.backward(dout)"), name="g").status == "passed"


# The reference's forward functions (its losses), and gradients reached two ways.
FORWARD = (REPO / "reference" / "autograd_basics" / "autograd_basics.py").read_text().split("def linreg_grad")[0]
HIDDEN_AUTOGRAD = "import sys\n" + FORWARD + """\
def linreg_grad(X, w, y):
    w = w.detach().clone().requires_grad_(True)
    return getattr(sys.modules["torch"], "".join(("auto", "grad"))).grad(linreg_loss(X, w, y), (w,))[0]


def topk_grads(W, x, k):
    W = W.detach().clone().requires_grad_(True)
    x = x.detach().clone().requires_grad_(True)
    torch.Tensor.__dict__["back" + "ward"](topk_loss(W, x, k))
    return W.grad, x.grad
"""
DEEPER_AUTOGRAD = "import functools, importlib\n" + FORWARD + """\
def linreg_grad(X, w, y):
    w = w.detach().clone().requires_grad_(True)
    loss = linreg_loss(X, w, y)
    engine = torch._C._ImperativeEngine()
    go = functools.partial(getattr(engine, "run_" + "back" + "ward"), (loss,), (torch.ones_like(loss),), False, False,
                           (w,), False)
    return go()[0]


def topk_grads(W, x, k):
    func = importlib.import_module("".join(["torch", ".", "func"]))
    return getattr(func, "jac" + "fwd")(lambda W, x: topk_loss(W, x, k), argnums=(0, 1))(W, x)
"""
C_LEVEL_AUTOGRAD = "import functools\n" + FORWARD + """\
def linreg_grad(X, w, y):
    level = torch._C._enter_dual_level()
    try:
        dw = torch.zeros_like(w)
        for j in range(w.shape[0]):
            tangent = torch.zeros_like(w)
            tangent[j] = 1.0
            out = linreg_loss(X, torch._VF._make_dual(w, tangent, level=level), y)
            dw[j] = torch._VF._unpack_dual(out, level=level)[1]
    finally:
        torch._C._exit_dual_level(level=level)
    return dw


def topk_grads(W, x, k):
    hooks = torch._C._autograd
    hooks._push_saved_tensors_default_hooks(lambda t: t, lambda t: t)
    try:
        W = W.detach().clone().requires_grad_(True)
        x = x.detach().clone().requires_grad_(True)
        loss = topk_loss(W, x, k)
        run = functools.partial(getattr(torch._C._ImperativeEngine(), "run_" + "back" + "ward"), (loss,),
                                (torch.ones_like(loss),), False, False, (W, x), False, False)
        dW, dx = run()
    finally:
        hooks._pop_saved_tensors_default_hooks()
    return dW, dx
"""
BY_HAND = FORWARD + """\
def linreg_grad(X, w, y):
    dw = X.T @ (X @ w - y)
    print("dw =", dw)                # torch prints a tensor through forward mode's unpack_dual: not autograd
    return dw


def topk_grads(W, x, k):
    z = W @ x
    note = f"z is {z!r}, {z}"
    top = torch.topk(z, k).indices
    dz = torch.zeros_like(z)
    dz[top] = 2 * z[top]
    return torch.outer(dz, x), W.T @ dz
"""


@pytest.mark.slow
def test_no_autograd_as_it_ran_fails_autograd_reached_by_names_no_reading_finds(tmp_path):
    """The static check reads names; the cases of a no_autograd function also run watched, and a
    backward pass or torch.autograd.grad reached by names computed as it runs fails it, where
    gradients written by hand pass."""
    pytest.importorskip("torch")
    spec = load_spec(REPO / "assignments" / "autograd_basics")
    for source, verdict in ((HIDDEN_AUTOGRAD, "failed"), (BY_HAND, "passed")):
        folder = tmp_path / verdict
        folder.mkdir()
        (folder / "autograd_basics.py").write_text(source)
        result = grade_submission(spec, folder, hidden=True)
        for fn in result.functions:
            assert all(c.passed for c in fn.cases), [c.message for c in fn.cases]
            (check,) = [c for c in fn.checks if c.name == "no_autograd"]
            assert check.status == verdict, check.message
    messages = {fn.name: next(c.message for c in fn.checks if c.name == "no_autograd")
                for fn in grade_submission(spec, tmp_path / "failed", hidden=True).functions}
    assert messages["linreg_grad"].startswith("linreg_grad runs autograd (torch.autograd.grad) on public-1")
    assert messages["topk_grads"].startswith("topk_grads runs autograd (Tensor.backward) on public-1")
    # the engine through functools.partial (no Python entry, no c_call of run_backward), and forward mode
    (tmp_path / "deeper").mkdir()
    (tmp_path / "deeper" / "autograd_basics.py").write_text(DEEPER_AUTOGRAD)
    deeper = {fn.name: fn for fn in grade_submission(spec, tmp_path / "deeper", hidden=True).functions}
    assert all(c.passed for fn in deeper.values() for c in fn.cases), [c.message for fn in deeper.values() for c in fn.cases]
    assert deeper["linreg_grad"].checks[0].message.startswith(
        "linreg_grad runs autograd (a backward pass of the autograd engine) on public-1")
    assert deeper["topk_grads"].checks[0].message.startswith("topk_grads runs autograd (torch.func.jacfwd) on public-1")
    # torch's C entry points: forward mode's dual level, and saved-tensor hooks of its own pushed over the grader's
    (tmp_path / "c_level").mkdir()
    (tmp_path / "c_level" / "autograd_basics.py").write_text(C_LEVEL_AUTOGRAD)
    c_level = {fn.name: fn for fn in grade_submission(spec, tmp_path / "c_level", hidden=True).functions}
    assert all(c.passed for fn in c_level.values() for c in fn.cases)
    assert c_level["linreg_grad"].checks[0].message.startswith("linreg_grad runs autograd (forward-mode autograd (a dual level))")
    assert c_level["topk_grads"].checks[0].message.startswith("topk_grads runs autograd (saved-tensor hooks of its own")


HASHED_AUTOGRAD = FORWARD + """\
_SRC = \'\'\'
_pending, _results, _n = [], [], [0]


class _Name(str):
    def __hash__(self):          # the watch hashed the code object, and with it its name: this ran there, unseen
        if _pending:
            job = _pending.pop()
            try:
                _results.append(job())
            except BaseException as e:
                _results.append(e)
        return str.__hash__(self)

    def __eq__(self, other):
        return str.__eq__(self, other)


def _grad(loss_fn, tensors):
    ts = [t.detach().clone().requires_grad_(True) for t in tensors]
    with torch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
        return torch.autograd.grad(loss_fn(*ts), ts)


def _hidden(loss_fn, tensors):
    _pending.append(lambda: _grad(loss_fn, tensors))
    _n[0] += 1
    def take():
        return _results.pop() if _results else _pending.pop()()
    take.__code__ = take.__code__.replace(co_name=_Name("take%d" % _n[0]))
    return take()
\'\'\'
exec(_SRC)


def linreg_grad(X, w, y):
    (dw,) = _hidden(linreg_loss, [X, w, y])[1:2]
    return dw


def topk_grads(W, x, k):
    dW, dx = _hidden(lambda W_, x_: topk_loss(W_, x_, k), [W, x])
    return dW, dx
"""


@pytest.mark.slow
def test_no_autograd_sees_what_runs_in_a_hash_of_the_code_objects_name(tmp_path):
    """A code object renamed with a str subclass whose __hash__ runs torch.autograd.grad: the watch
    looked code objects up by hash, inside the tracer, where nothing is watched."""
    pytest.importorskip("torch")
    spec = load_spec(REPO / "assignments" / "autograd_basics")
    (tmp_path / "autograd_basics.py").write_text(HASHED_AUTOGRAD)
    result = grade_submission(spec, tmp_path, hidden=True)
    for fn in result.functions:
        assert all(c.passed for c in fn.cases), [c.message for c in fn.cases]
        (check,) = [c for c in fn.checks if c.name == "no_autograd"]
        assert check.status == "failed" and "runs autograd" in check.message, check.message


def test_static_checks_read_methods_and_the_helpers_they_call():
    r = static("no_autograd", LAYERS, name="Net.loss")
    assert r.status == "failed", r.message
    assert r.message.startswith("Net.loss uses .backward() at line 19, in Net.helper, which it calls (`s.backward()")
    assert static("no_autograd", LAYERS, name="Net.backward").status == "passed"
    assert static("no_autograd", LAYERS, name="Linear.backward").status == "passed"
    loops = static("no_loops", LAYERS.replace("        s = (X * 2).sum()", "        s = sum(v for v in X)"), name="Net.loss")
    assert loops.status == "failed" and "a generator expression at line 18, in Net.helper" in loops.message
    missing = static("no_loops", LAYERS, name="Net.forward")
    assert missing.status == "error" and "no `def forward` in class Net of m.py" in missing.message


def test_static_checks_say_when_they_cannot_read_the_function():
    assert static("no_loops", "f = lambda x: x\n").status == "error"
    assert "no `def f`" in static("no_loops", "f = lambda x: x\n").message
    bad = static("no_autograd", "def f(x):\n    return (\n")
    assert bad.status == "error" and "syntax error at line" in bad.message
    assert judge_static(_fn(), CheckSpec(kind="no_loops", points=1, visibility="public"), None, "m.py").status == "error"
    absurd = static("no_loops", "def f(x):\n    return " + "-" * 100000 + "x\n")     # MemoryError in the parser
    assert absurd.status == "error" and absurd.message == "m.py could not be read (MemoryError)"


# --- through the pipeline, on cs231n ----------------------------------------------------------

@pytest.fixture(scope="module")
def spec():
    return load_spec(CS231N)


@pytest.fixture(scope="module")
def grade(spec, tmp_path_factory):
    """grade(edits) -> result: the reference with (module, old, new) edits, graded with hidden cases."""
    prepared = Prepared(spec, hidden=True)
    worker = start_worker("numpy")
    made = iter(range(1000))

    def run(*edits, hidden=True):
        folder = tmp_path_factory.mktemp(f"sub{next(made)}")
        for module in spec.modules:
            shutil.copy(REPO / "reference" / "cs231n" / f"{module}.py", folder)
        for module, old, new in edits:
            path = folder / f"{module}.py"
            text = path.read_text()
            assert text.count(old) == 1, old
            path.write_text(text.replace(old, new))
        return grade_submission(spec, folder, hidden=hidden, worker=worker,
                                prepared=prepared if hidden else Prepared(spec, hidden=False))
    yield run
    worker.close()


def checks_of(result, function):
    return {c.name: c for fn in result.functions if fn.name == function for c in fn.checks}


@pytest.mark.slow
def test_reference_passes_every_check_and_earns_their_points(grade):
    result = grade()
    assert result.earned == result.possible == 28
    assert all(c.passed for c in result.checks()) and len(result.checks()) == 8
    speed = checks_of(result, "svm_loss_vectorized")["faster_than svm_loss_naive"]
    assert "x as fast (at least 5x needed)" in speed.message and "N=500, D=100, C=10" in speed.message


def test_the_course_files_python_2_imports_work_without_the_future_package(grade):
    """CS231n's files from 2017 on begin with `from builtins import range` and `from past.builtins
    import xrange`; the spec gives a stand-in for `past`, so such a submission is graded in full
    where the `future` package is not installed (as here)."""
    import importlib.util
    assert importlib.util.find_spec("past") is None          # else this test proves nothing
    header = "import numpy as np\nfrom random import shuffle\nfrom builtins import range\nfrom past.builtins import xrange\n"
    result = grade(("linear_svm", "import numpy as np\n", header),
                   ("linear_svm", "    for i in range(num_train):\n", "    for i in xrange(num_train):\n"),
                   ("softmax", "import numpy as np\n", header))
    assert result.earned == result.possible == 28, [c.message for c in result.cases() if not c.passed][:2]


def test_code_nested_too_deeply_to_read_is_not_judged_and_no_traceback():
    r = static("no_loops", "import numpy as np\ndef f(x):\n    return np" + ".T" * 1200 + "\n")
    assert r.status == "error" and r.message == "m.py could not be read: its code is nested too deeply to be checked", r


def test_a_module_over_4_mib_is_not_read_by_the_static_checks(grade):
    result = grade(("linear_svm", "import numpy as np\n", "import numpy as np\n" + "#" * (5 << 20) + "\n"))
    loops = checks_of(result, "svm_loss_vectorized")["no_loops"]
    assert loops.status == "error" and loops.message.startswith("linear_svm.py is over 4 MiB"), loops
    assert all(c.passed for c in result.cases())


def test_files_saved_with_a_byte_order_mark_earn_the_checks_that_read_the_source(grade):
    """Windows editors may start a UTF-8 file with a BOM: Python imports it, and so must the static
    checks read it (ast rejected the BOM left in the text: 'could not be read: syntax error at line 1')."""
    result = grade(("linear_svm", '"""Multiclass SVM', '\ufeff"""Multiclass SVM'), ("softmax", '"""Softmax (cross-entropy) loss and', '\ufeff"""Softmax (cross-entropy) loss and'))
    assert result.earned == result.possible == 28, [c.message for c in result.checks() if not c.passed]


def test_source_text_reads_a_file_as_python_does(tmp_path):
    from grader.locate import source_text
    path = tmp_path / "m.py"
    path.write_bytes(b"\xef\xbb\xbfx = 1\r\ny = 2\r\n")
    assert source_text(path) == "x = 1\ny = 2\n"
    path.write_bytes("# -*- coding: latin-1 -*-\ns = 'caf\u00e9'\n".encode("latin-1"))
    assert source_text(path) == "# -*- coding: latin-1 -*-\ns = 'caf\u00e9'\n"
    path.write_bytes(b"s = '\xff'\n")                     # not UTF-8, no coding line: replaced, not refused
    assert source_text(path) == "s = '\ufffd'\n"
    assert source_text(path, limit=3) is None and source_text(tmp_path / "gone.py") is None


@pytest.mark.slow
def test_gradient_check_catches_a_dW_that_is_not_the_gradient_of_the_loss(grade):
    result = grade(("linear_svm", "    dW += 2 * reg * W\n", "    dW += 2 * reg * W\n    dW *= 2\n"))
    check = checks_of(result, "svm_loss_naive")["gradient"]
    assert check.status == "failed" and check.earned == 0 and check.possible == 1
    assert check.message.startswith("dW is not the gradient of your own loss: at W[")
    assert "your dW is 2 times the numerical gradient" in check.details
    result = grade(("linear_svm", "    dW += 2 * reg * W\n", "    dW += 2 * reg * W\n    dW *= 0\n"))
    check = checks_of(result, "svm_loss_naive")["gradient"]
    assert check.status == "failed" and "Hint: where they differ, your dW is 0 and the numerical gradient is not." \
        in check.details, check.details


def _gradient_outcomes(p, svm, wrong=lambda dW, W: dW):
    """The outcomes of a gradient check's calls (p.calls, then each block's moved inputs), from
    svm(W, X, y, reg) -> (loss, dW) computed here; `wrong` edits the base call's dW."""
    from grader.run.outcome import Outcome
    from grader.values import Leaf
    args = p.case.args

    def outcome(W, edit=lambda dW, W: dW):
        loss, dW = svm(W, args["X"], args["y"], args["reg"])
        return Outcome(status="returned", outputs={"loss": Leaf(kind="numpy_scalar", type="float32", array=np.asarray(loss)),
                                                  "dW": Leaf(kind="ndarray", type="ndarray", array=np.asarray(edit(dW, W)))})
    out = [outcome(args["W"], wrong)]
    for _, h in p.steps:
        for coord in p.coords[0]:
            for sign in (1.0, -1.0):
                W = args["W"].copy()
                W[coord] += sign * h
                out.append(outcome(W))
    return out


@pytest.mark.parametrize("float32", [False, True])
def test_a_kink_placed_at_the_checked_point_does_not_stand_in_for_a_gradient(spec, float32):
    """A red team's svm_loss_naive adds K * |W - W0| to its loss, W0 the first W it was called with
    (the check's point), and returns dW = K everywhere: both one-sided differences are the true
    slope plus or minus K, and K matched one of them within a tolerance relative to K. A gradient
    that dwarfs every centred difference checked is no side of a kink."""
    import importlib.util
    from grader.judge.checks import judge_gradient, plan
    loaded = importlib.util.spec_from_file_location("ref_linear_svm", REPO / "reference" / "cs231n" / "linear_svm.py")
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    p = next(p for p in plan(spec, hidden=True) if p.check.kind == "gradient" and p.fn.name == "svm_loss_naive")
    W0, K = p.case.args["W"].copy(), 1e4 if float32 else 1e9      # float32: K * h must still move the loss

    def kinked(W, X, y, reg):
        loss, dW = module.svm_loss_naive(W, X, y, reg)
        loss = loss + K * np.abs(W - W0).sum()
        out = (np.float32(loss), np.full(W.shape, K, np.float32)) if float32 else (loss, np.full(W.shape, K))
        return out
    verdict = judge_gradient(p, _gradient_outcomes(p, kinked))
    assert verdict.status == "failed", verdict.message


def test_gradient_check_of_a_float32_loss_judges_a_step_across_a_kink_by_its_one_sided_differences(spec):
    """Pure. cs231n's public-1 has a margin 1.2e-4 from 0; a float32 loss needs a coarse step, which
    crosses it for most entries of W: the centred difference averages two slopes, and a right dW,
    the slope on one side, was called wrong. Now such an entry is judged by the side it matches;
    wrong gradients still fail."""
    import importlib.util
    from grader.judge.checks import judge_gradient, plan
    loaded = importlib.util.spec_from_file_location("ref_linear_svm", REPO / "reference" / "cs231n" / "linear_svm.py")
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    svm32 = lambda *a: tuple(np.float32(v) if np.ndim(v) == 0 else v.astype(np.float32) for v in module.svm_loss_naive(*a))
    p = next(p for p in plan(spec, hidden=True) if p.check.kind == "gradient" and p.fn.name == "svm_loss_naive")
    right = judge_gradient(p, _gradient_outcomes(p, svm32))
    assert right.status == "passed" and "a step crosses a kink of loss" in right.message, right.message
    # computed in float32, returned as a Python float: judged at float32's precision all the same
    as_float = lambda *a: tuple(float(v) if np.ndim(v) == 0 else v.astype(np.float64) for v in svm32(*a))
    assert np.asarray(as_float(*p.case.args.values())[0]).dtype == np.float64
    right = judge_gradient(p, _gradient_outcomes(p, as_float))
    assert right.status == "passed" and "a step crosses a kink of loss" in right.message, right.message
    assert judge_gradient(p, _gradient_outcomes(p, module.svm_loss_naive)).message.endswith(")")   # float64: no kink crossed
    for wrong in (lambda dW, W: 1.5 * dW, lambda dW, W: dW - p.case.args["reg"] * W.astype(np.float32),
                  lambda dW, W: dW + 0.05):
        verdict = judge_gradient(p, _gradient_outcomes(p, svm32, wrong))
        assert verdict.status == "failed", verdict.message


def test_a_gradient_check_s_loss_never_makes_an_array_of_the_student_s_choosing_in_the_grader():
    """`sum(out * dout)` is evaluated in the grader's process on the student's own `out`, of any
    shape: a red team's (K, 1, 1) uint8 `out` broadcast against `dout` to 40 bytes of the grader's
    for each byte sent (a 37 MB answer took it to 1.5 GB; a class's batch was killed for memory).
    The loss is not a number then, and nothing large is made."""
    import tracemalloc
    from grader.judge.checks import _loss, plan
    from grader.run.outcome import Outcome
    from grader.values import Leaf
    spec = load_spec(REPO / "assignments" / "cs231n_layers")
    p = next(p for p in plan(spec, hidden=True) if p.check.kind == "gradient" and p.fn.name == "affine_backward")
    assert p.check.loss == "sum(out * dout)" and p.case.args["dout"].size == 5
    out = np.ones((5_000_000, 1, 1), np.uint8)                  # 5 MB sent; 200 MB if broadcast against dout
    tracemalloc.start()
    try:
        loss = _loss(p, Outcome(status="returned", outputs={"out": Leaf(kind="ndarray", type="ndarray", array=out)}))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert loss is None and peak < 50 << 20, peak
    # nor inside a list (numpy makes a plain array of it in `out * dout`: a sixteenth red team)
    tracemalloc.start()
    try:
        listed = Outcome(status="returned", outputs={"out": [Leaf(kind="ndarray", type="ndarray", array=out)]})
        loss = _loss(p, listed)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert loss is None and peak < 50 << 20, peak
    right = np.ones(p.case.args["dout"].shape)
    assert float(_loss(p, Outcome(status="returned", outputs={"out": Leaf(kind="ndarray", type="ndarray", array=right)}))) \
        == float(np.sum(p.case.args["dout"]))


def test_a_gradient_check_failing_with_a_right_gradient_says_the_loss_is_what_is_off(spec):
    """A twelfth students' round's `loss //= num_train` with a right dW read only "dW is not the
    gradient of your own loss": the cases say dW is right and the loss is not, and so does the check."""
    from grader.judge.checks import needs_working_code, plan
    from grader.results import CaseResult, CheckResult, OutputCheck
    p = next(p for p in plan(spec, hidden=True) if p.check.kind == "gradient" and p.fn.name == "svm_loss_naive")
    found = CheckResult(function="svm_loss_naive", name="gradient", visibility="public", status="failed", earned=0,
                        possible=1, message="dW is not the gradient of your own loss: at W[2, 0] ...", details="W[2, 0]: ...")
    case = lambda cid, loss_ok, dW_ok: CaseResult("svm_loss_naive", cid, cid.split("-")[0], 1,
                                                  "passed" if loss_ok and dW_ok else "failed",
                                                  outputs=[OutputCheck("loss", loss_ok), OutputCheck("dW", dW_ok)])
    judged = needs_working_code(p, found, [case("public-1", False, True), case("public-2", False, True)])
    assert judged.status == "failed" and judged.message.startswith(
        "`loss` is what is off: your `dW` is right on the cases, and your `loss` is not"), judged.message
    assert judged.details.startswith("dW is not the gradient of your own loss")          # the check's own finding below
    for both_wrong in ([case("public-1", False, False)], [case("public-1", True, True), case("public-2", True, False)]):
        assert needs_working_code(p, found, both_wrong).message == found.message


def test_gradient_check_lists_the_entry_its_headline_names_first(spec):
    """The worst entry is in the message, and first among the entries listed below it."""
    import importlib.util
    from grader.judge.checks import judge_gradient, plan
    loaded = importlib.util.spec_from_file_location("ref_linear_svm", REPO / "reference" / "cs231n" / "linear_svm.py")
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    p = next(p for p in plan(spec, hidden=True) if p.check.kind == "gradient" and p.fn.name == "svm_loss_naive")
    last = p.coords[0][-1]

    def wrong(dW, W):
        dW = 1.5 * dW
        dW[last] *= -1                       # the worst entry: the last one checked
        return dW
    verdict = judge_gradient(p, _gradient_outcomes(p, module.svm_loss_naive, wrong))
    shown = f"W[{', '.join(map(str, last))}]"
    assert verdict.status == "failed" and f"at {shown} centred differences" in verdict.message, verdict.message
    assert verdict.details.startswith(f"{shown}: numerical "), verdict.details


def test_gradient_check_passes_a_dW_consistent_with_a_wrong_loss(grade):
    """Both halves of the regularization: values wrong, but dW is the gradient of that loss."""
    result = grade(("linear_svm", "    loss += reg * np.sum(W * W)\n    dW += 2 * reg * W\n",
                    "    loss += 0.5 * reg * np.sum(W * W)\n    dW += reg * W\n"))
    fn = next(f for f in result.functions if f.name == "svm_loss_naive")
    assert not any(c.passed for c in fn.cases if c.dims and c.note != "no regularization (reg = 0)")
    assert checks_of(result, "svm_loss_naive")["gradient"].passed


def test_agreement_and_loops_and_speed_on_a_vectorized_version_that_calls_the_naive_one(grade):
    result = grade(("linear_svm", "    num_train = X.shape[0]\n    rows = np.arange(num_train)\n",
                    "    return svm_loss_naive(W, X, y, reg)\n    num_train = X.shape[0]\n    rows = np.arange(num_train)\n"))
    checks = checks_of(result, "svm_loss_vectorized")
    assert checks["agrees_with svm_loss_naive"].passed
    assert checks["no_loops"].status == "failed"
    assert checks["no_loops"].message.startswith(
        "svm_loss_vectorized has a for loop at line 19, in svm_loss_naive, which it calls (`for i in range(num_train):`)")
    assert checks["faster_than svm_loss_naive"].status == "failed"
    assert all(c.passed for c in result.functions[1].cases)                # the values are right


# A vectorized version that calls the naive one and remembers its answers: timed on the same
# inputs again, only its first call would be slow.
VECTORIZED = "def svm_loss_vectorized(W, X, y, reg):\n"
MEMOISED = {
    "a dict keyed on the bytes": "_seen = {}\n\n\n" + VECTORIZED + (
        "    key = (W.tobytes(), X.tobytes(), y.tobytes(), reg)\n"
        "    if key not in _seen:\n        _seen[key] = svm_loss_naive(W, X, y, reg)\n    return _seen[key]\n"),
    "functools.lru_cache on a wrapper": (
        "import functools\n\n\n@functools.lru_cache(maxsize=None)\ndef _cached(w, x, y, reg, shapes):\n"
        "    W, X = np.frombuffer(w).reshape(shapes[0]), np.frombuffer(x).reshape(shapes[1])\n"
        "    return svm_loss_naive(W, X, np.frombuffer(y, dtype=np.int64), reg)\n\n\n" + VECTORIZED +
        "    return _cached(W.tobytes(), X.tobytes(), y.tobytes(), reg, (W.shape, X.shape))\n"),
    "a dict keyed on id(X)": "_seen = {}\n\n\n" + VECTORIZED + (
        "    if id(X) not in _seen:\n        _seen[id(X)] = svm_loss_naive(W, X, y, reg)\n    return _seen[id(X)]\n"),
    "a dict keyed on the shapes": "_seen = {}\n\n\n" + VECTORIZED + (
        "    if X.shape not in _seen:\n        _seen[X.shape] = svm_loss_naive(W, X, y, reg)\n    return _seen[X.shape]\n"),
}


@pytest.mark.slow
@pytest.mark.parametrize("how", list(MEMOISED))
def test_speed_check_times_fresh_inputs_so_a_memoised_loop_fails(grade, how):
    result = grade(("linear_svm", VECTORIZED, MEMOISED[how]))
    speed = checks_of(result, "svm_loss_vectorized")["faster_than svm_loss_naive"]
    assert speed.status == "failed" and speed.earned == 0, speed.message
    stale = "not timed: svm_loss_vectorized does not return what the reference's svm_loss_naive returns on timed call "
    slow = re.compile(r"svm_loss_vectorized took .* ms on fresh inputs of N=500, D=100, C=10 .*"
                      r": \S+x as fast \(at least 5x needed\)")
    if how == "a dict keyed on the shapes":            # fast after the first call, but with the first call's answer
        assert speed.message.startswith(stale + "2 of 3 (fresh inputs of N=500, D=100, C=10): loss: the reference's")
    elif how == "a dict keyed on id(X)":               # a fresh X may reuse a freed array's id: a stale answer
        assert speed.message.startswith(stale) or slow.search(speed.message), speed.message
    else:
        assert slow.search(speed.message), speed.message


def _timed(loss, dW, duration):
    from grader.run.outcome import Outcome
    from grader.values import Leaf
    return Outcome(status="returned", duration=duration, outputs={
        "loss": Leaf(kind="python_number", type="float", array=np.asarray(loss)),
        "dW": Leaf(kind="ndarray", type="ndarray", array=np.asarray(dW))})


def test_speed_check_counts_answers_close_to_the_references_and_refuses_stale_ones(spec):
    """Pure: judged on outcomes. float32 rounding on a large input passes; an answer to other inputs does not."""
    from grader.judge.checks import judge_speed, plan
    p = next(p for p in plan(spec, hidden=True) if p.check.kind == "faster_than" and p.fn.name == "svm_loss_vectorized")
    assert [c.case.dims for c in p.calls] == [{"N": 500, "D": 100, "C": 10}] * 3
    answers = [np.random.default_rng(k).normal(size=(100, 10)) for k in range(3)]
    reference = [_timed(10.0 + k, a, 0.01) for k, a in enumerate(answers)]
    rounded = [_timed(np.float32(10.0 + k), (a + 1e-5 * a.max()).astype(np.float32), 0.0005) for k, a in enumerate(answers)]
    passed = judge_speed(p, rounded, reference, "numpy")
    assert passed.status == "passed" and "20x as fast (at least 5x needed)" in passed.message, passed.message
    stale = [rounded[0], rounded[0], rounded[0]]
    failed = judge_speed(p, stale, reference, "numpy")
    assert failed.status == "failed" and failed.message.startswith(
        "not timed: svm_loss_vectorized does not return what the reference's svm_loss_naive returns on timed call 2 of 3 "
        "(fresh inputs of N=500, D=100, C=10): loss: the reference's svm_loss_naive gives 11, svm_loss_vectorized gives 10")
    same_loss = [_timed(10.0 + k, answers[0], 0.0005) for k in range(3)]
    assert "dW differs from the reference's svm_loss_naive's by 1.4 times its norm" in judge_speed(p, same_loss, reference, "numpy").message
    assert judge_speed(p, rounded, reference[:2], "numpy").status == "error"      # the reference did not run them all


def test_speed_check_counts_the_best_round_and_times_again_only_a_near_miss(spec):
    """Pure: a first round short of the factor by little (a busy machine) is timed again, and the
    best round counts; one far too slow is not timed again; a wrong answer in any round fails."""
    from grader.judge.checks import judge_speed, plan, time_again
    p = next(p for p in plan(spec, hidden=True) if p.check.kind == "faster_than" and p.fn.name == "svm_loss_vectorized")
    answers = [np.random.default_rng(k).normal(size=(100, 10)) for k in range(3)]
    reference = [_timed(10.0 + k, a, 0.01) for k, a in enumerate(answers)]
    at = lambda seconds: [_timed(10.0 + k, a, seconds) for k, a in enumerate(answers)]
    near, far, fast = at(0.01 / 4.25), at(0.01 / 2), at(0.01 / 14)
    assert time_again(p, near, reference, "numpy")                 # 4.25x of 5x
    assert not time_again(p, far, reference, "numpy")              # 2x: a loop, not noise
    assert not time_again(p, fast, reference, "numpy")             # passed
    assert not time_again(p, [_timed(11.0, a, 0.01 / 4.25) for a in answers], reference, "numpy")   # wrong: no time
    first = judge_speed(p, near, reference, "numpy")
    assert first.status == "failed" and "4.25x as fast (at least 5x needed)" in first.message, first.message
    best = judge_speed(p, near, reference, "numpy", again=[(fast, reference)])
    assert best.status == "passed" and "14x as fast" in best.message and "the best of 2 rounds" in best.message, best.message
    still = judge_speed(p, near, reference, "numpy", again=[(at(0.01 / 4.5), reference)])
    assert still.status == "failed" and "4.5x as fast" in still.message, still.message
    stale = [fast[0]] * 3                                           # the second round answers the first round's inputs
    assert judge_speed(p, near, reference, "numpy", again=[(stale, reference)]).message.startswith("not timed: ")
    from grader.run.outcome import Outcome
    unimported = judge_speed(p, [Outcome(status="import_error", module="linear_svm")] * 3, reference, "numpy")
    assert unimported.status == "error", unimported        # not judged, as the other checks of a module that did not import
    raised = judge_speed(p, [Outcome(status="exception", error={"type": "IndexError"})] * 3, reference, "numpy")
    assert raised.status == "failed" and "raised IndexError on the timing inputs" in raised.message, raised.message
    # a right answer too slow for its prints says so (an eleventh students' round printed X in the
    # vectorized function and read only "0.0515x as fast")
    printing = at(0.01 / 2)
    for o in printing:
        o.stdout = "[[0.1 0.2]]\n" * 10
    slow = judge_speed(p, printing, reference, "numpy")
    assert slow.status == "failed" and slow.message.endswith(
        "svm_loss_vectorized printed while it was timed (360 characters): printing takes time, so remove the prints "
        "from it"), slow.message
    assert "printed" not in judge_speed(p, far, reference, "numpy").message



def test_speed_check_believes_the_grader_counted_cpu_time_over_the_childs_own_clock(spec):
    """Pure: a timed call's own clock (`duration`) is the student's process's, which code that took
    over the harness stops (0.1 ms for the naive loops); the CPU time the grader counted from outside
    (`cpu`), less the harness's own work around a call (the least the reference's calls showed beyond
    their own CPU time) and less a slack, wins where it is longer."""
    from grader.judge.checks import counted_times, judge_speed, plan
    p = next(p for p in plan(spec, hidden=True) if p.check.kind == "faster_than" and p.fn.name == "svm_loss_vectorized")
    answers = [np.random.default_rng(k).normal(size=(100, 10)) for k in range(3)]

    def timed(seconds, cpu, k):
        outcome = _timed(10.0 + k, answers[k], seconds)
        outcome.cpu = cpu
        return outcome
    # The reference: 10 ms each by its clock, its harness's work around a call 1.5 to 2 ms of CPU.
    reference = [timed(0.010, cpu, k) for k, cpu in enumerate((0.012, 0.0115, 0.0118))]
    honest = [timed(0.0004, cpu, k) for k, cpu in enumerate((0.0031, 0.0019, 0.0021))]   # its own harness a little slower
    assert [own for _, own in counted_times(honest, reference, 0.002)] == [True, True, True]
    passed = judge_speed(p, honest, reference, "numpy")
    assert passed.status == "passed" and "25x as fast" in passed.message and "outside" not in passed.message, passed.message
    forged = [timed(0.0001, cpu, k) for k, cpu in enumerate((0.0125, 0.0117, 0.0121))]   # the naive loops, claimed 0.1 ms
    assert counted_times(forged, reference, 0.002)[1] == (pytest.approx(0.0117 - 0.0015), False)    # in full
    failed = judge_speed(p, forged, reference, "numpy")
    assert failed.status == "failed", failed.message
    assert "svm_loss_vectorized took 10.2 ms" in failed.message and "0.98x as fast (at least 5x needed)" in failed.message
    # Within the slack (halfway between the factor's time and the reference's, 4 ms here), the call's own clock.
    loop = [timed(0.0001, cpu, k) for k, cpu in enumerate((0.0053, 0.0054, 0.0056))]
    assert judge_speed(p, loop, reference, "numpy").status == "passed"
    loop = [timed(0.0001, cpu, k) for k, cpu in enumerate((0.0058, 0.0059, 0.0061))]
    assert "took 4.3 ms" in judge_speed(p, loop, reference, "numpy").message
    assert "counted from outside your process" in failed.message and "own clock said 0.1 ms)" in failed.message
    # A call the grader could not count, where it counted the reference's: not counted; none left: not judged.
    gone = [timed(0.0001, None, 0), forged[1], forged[2]]
    assert [own for _, own in counted_times(gone, reference, 0.002)] == [False, False]
    assert judge_speed(p, [timed(0.0001, None, k) for k in range(3)], reference, "numpy").status == "error"
    # Each process's own CPU time (`spent`) over the time that passed (`duration`): a busy machine
    # stretched the reference's 6 ms calls to 25 ms of wall clock, and its CPU time stays.
    busy = [timed(0.025, cpu, k) for k, cpu in enumerate((0.012, 0.0115, 0.0118))]
    for outcome in busy:
        outcome.spent = 0.010
    on_cpu = judge_speed(p, honest, busy, "numpy")
    assert on_cpu.status == "passed" and "the reference svm_loss_naive 10 ms: 25x as fast" in on_cpu.message, on_cpu.message
    # Where nothing could be counted (no such clock here), the child's own clocks are all there is.
    uncounted = [timed(0.010, None, k) for k in range(3)]
    assert judge_speed(p, [timed(0.0004, None, k) for k in range(3)], uncounted, "numpy").status == "passed"

@pytest.mark.slow
def test_a_near_miss_of_faster_than_is_timed_again_on_new_inputs_in_new_children(spec, monkeypatch, tmp_path):
    """Through grade_submission: the second round runs the student's function and the reference
    on inputs the first round did not use, each in a child of its own, and its times count."""
    from grader.judge import checks
    worker = start_worker("numpy")
    try:
        prepared = Prepared(spec, hidden=True, worker=worker)
        for p in prepared.plans:
            if p.check.kind == "faster_than":       # unreachable: every round falls short, by little
                p.check = CheckSpec(**{**p.check.__dict__, "factor": 1e6})
        monkeypatch.setattr(checks, "RETIME_WITHIN", 1e9)
        timed = []
        real = checks.judge_speed
        monkeypatch.setattr(checks, "judge_speed", lambda p, o, r, f, again=(): timed.append((o, r, again)) or real(p, o, r, f, again))
        for module in spec.modules:
            shutil.copy(REPO / "reference" / "cs231n" / f"{module}.py", tmp_path)
        result = grade_submission(spec, tmp_path, hidden=True, worker=worker, prepared=prepared)
    finally:
        worker.close()
    speed = checks_of(result, "svm_loss_vectorized")["faster_than svm_loss_naive"]
    assert speed.status == "failed" and "(the best of 2 rounds: the first fell short" in speed.message, speed.message
    first, reference, again = next(t for t in timed if t[2])
    (mine2, theirs2), = again
    assert all(o.ok and o.duration > 0 for o in mine2 + theirs2)
    new = [float(o.outputs["loss"].array) for o in mine2]
    assert new == pytest.approx([float(o.outputs["loss"].array) for o in theirs2])     # the same new inputs
    assert not set(new) & {float(o.outputs["loss"].array) for o in first}                  # not the first round's


@pytest.mark.slow
def test_agreement_fails_when_the_versions_differ_and_a_missing_one_costs_the_right_one_nothing(grade):
    transposed = grade(("linear_svm", "    dW = X.T.dot(coeff) / num_train + 2 * reg * W\n",
                        "    dW = (X.T.dot(coeff) / num_train + 2 * reg * W).T.copy().T * 1.5\n"))
    agree = checks_of(transposed, "svm_loss_vectorized")["agrees_with svm_loss_naive"]
    assert agree.status == "failed" and "svm_loss_vectorized and your svm_loss_naive disagree on public-1" in agree.message
    # The naive version not written yet: the right vectorized one keeps its point, as it does beside
    # a wrong naive version (a missing function must not cost more than a wrong one)
    unfinished = grade(("linear_svm", "    dW = np.zeros(W.shape)\n    num_classes",
                        "    raise NotImplementedError\n    dW = np.zeros(W.shape)\n    num_classes"))
    agree = checks_of(unfinished, "svm_loss_vectorized")["agrees_with svm_loss_naive"]
    assert agree.status == "passed" and agree.earned == agree.possible > 0, agree.message
    assert agree.message.startswith("right where your svm_loss_naive is not: svm_loss_vectorized passes the 3 public cases")
    assert "your svm_loss_naive raised NotImplementedError" in agree.message
    assert checks_of(unfinished, "svm_loss_naive")["gradient"].status == "error"
    # The vectorized version not written yet: its own check earns nothing
    missing = grade(("linear_svm", "def svm_loss_vectorized(W, X, y, reg):\n",
                     "def svm_loss_vectorized(W, X, y, reg):\n    raise NotImplementedError\n"))
    agree = checks_of(missing, "svm_loss_vectorized")["agrees_with svm_loss_naive"]
    assert agree.status == "error" and agree.earned == 0


@pytest.mark.slow
def test_agreement_with_a_version_returning_its_outputs_swapped_says_why_and_costs_the_right_one_nothing(grade):
    """softmax_loss_naive returns (dW, loss): the vectorized version's check must say they disagree,
    not stop the grader (it reshaped a loss into dW's shape); and as the vectorized version is right
    on every input compared, the naive one's mistake costs only the naive one's cases."""
    result = grade(("softmax", "    dW += 2 * reg * W\n    # END SOLUTION\n    return loss, dW\n\n\ndef softmax_loss_vectorized",
                    "    dW += 2 * reg * W\n    # END SOLUTION\n    return dW, loss\n\n\ndef softmax_loss_vectorized"))
    agree = checks_of(result, "softmax_loss_vectorized")["agrees_with softmax_loss_naive"]
    assert agree.status == "passed" and agree.earned == agree.possible > 0
    assert agree.message.startswith("right where your softmax_loss_naive is not: softmax_loss_vectorized passes the 3 "
                                    "public cases it was compared on, and your softmax_loss_naive fails some of its own")
    assert "softmax_loss_vectorized and your softmax_loss_naive disagree on public-1 (seed 1): " \
           "loss has shape () from softmax_loss_vectorized and (" in agree.message
    assert all(c.passed for c in result.functions[3].cases)                # the vectorized values are right
    naive = result.functions[2].cases[0]
    assert naive.details == "Hint: softmax_loss_naive seems to return (dW, loss); return (loss, dW), in that order"


def test_an_input_changed_in_place_gets_numpy_advice_in_a_numpy_assignment(grade):
    result = grade(("softmax", "    dW += 2 * reg * W\n    # END SOLUTION\n    return loss, dW\n\n\ndef softmax_loss_vectorized",
                    "    dW += 2 * reg * W\n    # END SOLUTION\n    X *= 1.0000001\n    return loss, dW\n\n\n"
                    "def softmax_loss_vectorized"), hidden=False)
    message = next(f for f in result.functions if f.name == "softmax_loss_naive").cases[0].message
    assert message == ("softmax_loss_naive changed its input X in place; work on copies (e.g. X = X.copy()) "
                       "or write new arrays. What it returns is right: this is all that is wrong here")


def test_self_check_runs_public_checks_only_and_counts_the_hidden_ones_as_hidden_points(grade, spec):
    result = grade(hidden=False)
    assert sorted(c.name for c in result.checks()) == sorted(
        ["gradient", "gradient", "no_loops", "no_loops", "agrees_with svm_loss_naive", "agrees_with softmax_loss_naive"])
    assert result.earned == result.possible == 8 + 6
    assert result.hidden_points == 12 + 2                 # hidden cases, and the two faster_than checks
    assert "All 12 public cases and 6 checks passed: 14/14 points." in render(result)


def test_faster_than_earns_nothing_for_a_function_that_passes_no_case():
    """Its timed answers are compared with the reference's loosely (float32 rounding passes): a fast
    function wrong on every case of its own earns no speed point."""
    from grader.judge.checks import Plan, needs_working_code
    from grader.results import CaseResult, CheckResult
    check = CheckSpec(kind="faster_than", points=1, visibility="hidden", function="g")
    p = Plan(fn=_fn(), check=check)
    fast = CheckResult(function="f", name="faster_than g", visibility="hidden", status="passed", earned=1, possible=1,
                       message="f took 0.1 ms")
    case = lambda status: CaseResult(function="f", case_id="hidden-1", visibility="hidden", seed=1, status=status)
    judged = needs_working_code(p, fast, [case("failed"), case("failed")])
    assert judged.status == "error" and judged.earned == 0
    assert judged.message == "judged once f passes at least one hidden case"
    assert needs_working_code(p, fast, [case("failed"), case("passed")]).status == "passed"
    # A timed call that raised, or a wrong timed answer, of a function that passes no case is not
    # judged either, as the other checks say of it (a round of students read "faster_than: failed"
    # beside "no_loops: not judged" for the same unwritten function)
    slow = CheckResult(function="f", name="faster_than g", visibility="hidden", status="failed", earned=0, possible=1,
                       message="not timed: f does not return what the reference's g returns on timed call 1 of 3")
    judged = needs_working_code(p, slow, [case("failed"), case("failed")])
    assert judged.status == "error" and judged.earned == 0
    assert judged.message == "judged once f passes at least one hidden case"
    assert needs_working_code(p, slow, [case("failed"), case("passed")]).status == "failed"


@pytest.mark.parametrize("kind", ["no_loops", "agrees_with", "gradient"])
def test_with_the_hidden_cases_graded_a_check_needs_a_hidden_case_passed(kind):
    """The public cases' answers ship with the handout: a red team's submission replayed them (a table
    by W's shape, `loss0 + sum((W - W0) * dW0), dW0`, loop-free, the same in both versions, its own
    gradient) and earned every check of cs231n with no code of its own. Where hidden cases are graded,
    a check is judged once the function passes one of those; a self-check has only the public ones."""
    from grader.judge.checks import Plan, needs_working_code
    from grader.results import CaseResult, CheckResult, OutputCheck
    check = CheckSpec(kind=kind, points=1, visibility="public", function="g")
    p = Plan(fn=_fn(), check=check)
    passed = CheckResult(function="f", name=kind, visibility="public", status="passed", earned=1, possible=1, message="")
    right = [OutputCheck(name="out", ok=True)]
    case = lambda cid, status: CaseResult(function="f", case_id=cid, visibility=cid.split("-")[0], seed=1,
                                          status=status, outputs=right if status == "passed" else [])
    replayed = [case("public-1", "passed"), case("public-2", "passed"), case("hidden-1", "failed"),
                case("hidden-2", "failed")]
    judged = needs_working_code(p, passed, replayed)
    assert judged.status == "error" and judged.earned == 0
    assert "at least one hidden case" in judged.message
    assert needs_working_code(p, passed, replayed[:3] + [case("hidden-2", "passed")]).status == "passed"
    assert needs_working_code(p, passed, replayed[:2]).status == "passed"        # a self-check: public cases only


@pytest.mark.parametrize("status", ["passed", "failed", "error"])
def test_a_gradient_check_through_a_wrong_forward_says_so_whatever_it_found(status):
    """A backward's gradient check differentiates the student's own forward: where that forward is
    wrong on the backward's cases, the check says so first. One that could not be judged said only
    "stays the same when the 10 entries checked of x are moved" (max-pool's forward ignoring the
    stride left those entries in no window: an eleventh students' round)."""
    from grader.judge.checks import Plan, needs_working_code
    from grader.results import CaseResult, CheckResult, OutputCheck
    p = Plan(fn=_fn(), check=CheckSpec(kind="gradient", points=1, visibility="public"))
    found = CheckResult(function="f", name="gradient", visibility="public", status=status, earned=float(status == "passed"),
                        possible=1, message="not judged: sum(out * dout) with your own out stays the same")
    cases = [CaseResult("f", "public-1", "public", 1, "error", blocked_by="forward"),
             CaseResult("f", "public-2", "public", 2, "passed", outputs=[OutputCheck("dx", True)])]
    judged = needs_working_code(p, found, cases)
    assert judged.status == "error" and judged.earned == 0
    assert judged.message == ("not judged: your forward is wrong on some of f's cases, and this check compares f with "
                              "it; fix forward first"), judged.message


def test_right_where_the_other_version_is_not_needs_a_hidden_case_where_they_are_graded():
    """agrees_with's point for a version right where the other is not (unwritten, say) asked only
    for the public cases: a table of the handout's public answers, beside a naive version left
    unwritten, earned it (a fifteenth red team: 2 of cs231n's 28 points with no code of its own)."""
    from grader.judge.checks import Plan, needs_working_code
    from grader.results import CaseResult, CheckResult, OutputCheck
    p = Plan(fn=_fn(), check=CheckSpec(kind="agrees_with", points=1, visibility="public", function="g"))
    cannot = CheckResult(function="f", name="agrees_with g", visibility="public", status="error", earned=0, possible=1,
                         message="cannot compare with your g: your g raised NotImplementedError on public-1")
    case = lambda fn, cid, ok: CaseResult(function=fn, case_id=cid, visibility=cid.split("-")[0], seed=1,
                                          status="passed" if ok else "failed",
                                          outputs=[OutputCheck(name="out", ok=ok)])
    table = [case("f", "public-1", True), case("f", "public-2", True), case("f", "hidden-1", False)]
    unwritten = [case("g", "public-1", False), case("g", "hidden-1", False)]
    judged = needs_working_code(p, cannot, table, unwritten)
    assert judged.status == "error" and judged.earned == 0, judged.message
    right = needs_working_code(p, cannot, table[:2] + [case("f", "hidden-1", True)], unwritten)
    assert right.status == "passed" and right.message.startswith("right where your g is not"), right.message
    assert needs_working_code(p, cannot, table[:2], unwritten[:1]).status == "passed"     # a self-check: public only


@pytest.mark.slow
def test_agreement_earns_nothing_for_stubs_and_still_fails_a_wrong_version_beside_a_right_one(grade):
    """Two unfinished functions that return their starting zeros agree: no point for that. A
    vectorized version wrong where the naive one is right still fails its check."""
    stubs = grade(("linear_svm", "    loss = 0.0\n    # BEGIN SOLUTION\n", "    loss = 0.0\n    return loss, dW\n"),
                  ("linear_svm", "    dW = np.zeros(W.shape)\n    # BEGIN SOLUTION\n", "    dW = np.zeros(W.shape)\n    return loss, dW\n"))
    agree = checks_of(stubs, "svm_loss_vectorized")["agrees_with svm_loss_naive"]
    assert not any(c.passed for c in stubs.functions[1].cases)
    assert agree.status == "error" and agree.earned == 0
    assert agree.message == "judged once svm_loss_vectorized passes at least one hidden case"
    wrong = grade(("linear_svm", "    dW = X.T.dot(coeff) / num_train + 2 * reg * W\n",
                   "    dW = X.T.dot(coeff) / num_train + reg * W\n"))
    agree = checks_of(wrong, "svm_loss_vectorized")["agrees_with svm_loss_naive"]
    assert agree.status == "failed" and agree.earned == 0


@pytest.mark.slow
def test_a_made_up_loss_with_its_own_gradient_earns_nothing_from_the_gradient_check(grade):
    """sum(W * W) and 2 * W are consistent, so centred differences agree with them; but the function
    passes no case, and the check's point is for a gradient that goes with a real attempt."""
    result = grade(("linear_svm", "    loss = 0.0\n    # BEGIN SOLUTION\n", "    loss = 0.0\n    return np.sum(W * W), 2 * W\n"))
    check = checks_of(result, "svm_loss_naive")["gradient"]
    assert not any(c.passed for c in result.functions[0].cases)
    assert check.status == "error" and check.earned == 0
    assert check.message == "judged once svm_loss_naive returns a right loss on at least one hidden case"


@pytest.mark.slow
def test_a_wrong_dtype_is_said_first_when_it_makes_the_values_wrong_too(grade):
    """A float16 dW also makes the loss a little off: the dtype is what the student must read first."""
    result = grade(("linear_svm", "    dW = X.T.dot(coeff) / num_train + 2 * reg * W\n",
                    "    dW = X.T.dot(coeff) / num_train + 2 * reg * W\n    W, X = W.astype(np.float16), X.astype(np.float16)\n"
                    "    dW, loss = dW.astype(np.float16), margins.sum() / num_train + reg * np.sum(W * W)\n"))
    case = next(f for f in result.functions if f.name == "svm_loss_vectorized").cases[0]
    assert case.message.startswith("dW: expected float32 or float64, got float16"), case.message
    assert re.search(r" \(also wrong: loss: expected [-\d.e]+, got [-\d.e]+\)$", case.message), case.message


@pytest.mark.slow
def test_a_stub_earns_nothing_from_static_checks(grade):
    result = grade(("softmax", "    num_train = X.shape[0]\n    rows = np.arange(num_train)\n",
                    "    raise NotImplementedError\n    num_train = X.shape[0]\n    rows = np.arange(num_train)\n"))
    loops = checks_of(result, "softmax_loss_vectorized")["no_loops"]
    assert loops.status == "error" and loops.earned == 0
    assert loops.message == "judged once softmax_loss_vectorized passes at least one hidden case"
    # "error" would read as if the student had broken something: the reports say it was not judged
    text = render(result)
    assert "     check no_loops: not judged (0/1 point)\n        judged once softmax_loss_vectorized" in text
    assert ": error (" not in text


def test_checks_in_every_report(grade):
    result = grade(("linear_svm", "    dW += 2 * reg * W\n", "    dW += 2 * reg * W\n    dW *= 2\n"))
    data = json.loads(render_json(result))
    jsonschema.validate(data, schema())
    naive = next(f for f in data["functions"] if f["name"] == "svm_loss_naive")
    assert [c["name"] for c in naive["checks"]] == ["gradient"] and naive["checks"][0]["status"] == "failed"
    # the naive gradient fails; the vectorized version, right where the naive one is wrong, keeps its agreement point
    assert data["score"]["checks"] == {"earned": 7.0, "possible": 8.0, "passed": 7, "total": 8}
    assert data["counts"]["tests"] == len(result.cases()) + 8
    xml = build_junit(result)
    assert sum(s.tests for s in xml) == data["counts"]["tests"]
    assert sum(s.failures + s.errors for s in xml) == data["counts"]["failures"] + data["counts"]["errors"]
    names = [t["name"] for t in gradescope_results(result)["tests"]]
    assert "svm_loss_naive: check gradient" in names and "svm_loss_vectorized: check faster_than svm_loss_naive" in names
    text = render(result)
    assert "     check gradient: failed (0/1 point)" in text and "2 times the numerical gradient" in text
    from grader.report import markdown
    md = markdown.render(result)
    assert re.search(r"^\| ❌ \| `svm_loss_naive` \| \d+/9 \| 0/1 \| [\d.]+/6 \|$", md, flags=re.M)
    assert "**check gradient: failed (0/1 point)**" in md and "2 times the numerical gradient" in md


# --- spec -------------------------------------------------------------------------------------

def _spec_with(tmp_path, checks: str) -> Path:
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "assignment.yaml").write_text(textwrap.dedent(f"""\
        name: a
        framework: numpy
        modules: [m]
        functions:
          f:
            dims: {{N: 3}}
            args: {{W: {{kind: array, shape: [N]}}, s: {{kind: scalar}}}}
            outputs: [{{name: loss, kind: scalar}}, {{name: dW, kind: array, shape: [N]}}]
            points: 1
            checks: {checks}
            cases: [{{seed: 1}}]
          g:
            dims: {{N: 3}}
            args: {{W: {{kind: array, shape: [N]}}, s: {{kind: scalar}}}}
            outputs: [{{name: loss, kind: scalar}}, {{name: dW, kind: array, shape: [N]}}]
            points: 1
            cases: [{{seed: 1}}]
        """))
    return folder


def test_a_gradient_check_finds_its_loss_gradient_and_argument(tmp_path):
    spec = load_spec(_spec_with(tmp_path, "[no_input_mutation, {check: gradient, points: 2}]"))
    check = spec.function("f").scored_checks[0]
    assert (check.loss, check.grad, check.wrt, check.points, check.visibility) == ("loss", "dW", "W", 2, "public")
    assert spec.function("f").checks == ("no_input_mutation",)


@pytest.mark.parametrize("checks, where, problem", [
    ("[{check: faster_than, function: g, factor: 5, points: 1, visibility: public}]", "checks[0].visibility", "must be hidden"),
    ("[{check: agrees_with, function: h, points: 1}]", "checks[check: agrees_with].function", "must name another function"),
    ("[{check: agrees_with, function: f, points: 1}]", "checks[check: agrees_with].function", "must name another function"),
    ("[{check: gradient, points: 1, wrt: s}]", "checks[0].wrt", "must name a float array argument"),
    ("[{check: gradient, points: 1, grad: loss}]", "checks[0].grad", "must name an array output"),
    ("[{check: no_loops, points: 1}, {check: no_loops, points: 2}]", "checks", "the same check twice"),
    ("[{check: speed, points: 1}]", "checks[0].check", "must be one of"),
    ("[{check: no_loops}]", "checks[0]", "points"),
])
def test_check_spec_errors_name_the_field(tmp_path, checks, where, problem):
    with pytest.raises(SpecError) as e:
        load_spec(_spec_with(tmp_path, checks))
    assert f"functions.f.{where}" in str(e.value) and problem in str(e.value)


@pytest.mark.slow
def test_static_checks_on_a_notebook_name_the_cell(grade, spec, tmp_path):
    """A notebook's loop is reported by cell and line, like its errors."""
    from notebooks import write_notebook
    svm = (REPO / "reference" / "cs231n" / "linear_svm.py").read_text()
    loop = svm.replace("    num_train = X.shape[0]\n    rows = np.arange(num_train)\n",
                       "    total = sum(float(v) for v in X.ravel())\n    num_train = X.shape[0]\n    rows = np.arange(num_train)\n")
    softmax = (REPO / "reference" / "cs231n" / "softmax.py").read_text()
    cells = [("markdown", "# HW"), ("code", loop.split("def svm_loss_vectorized")[0]),
             ("code", "def svm_loss_vectorized" + loop.split("def svm_loss_vectorized")[1]), ("code", softmax)]
    path = write_notebook(tmp_path / "work.ipynb", cells)
    with start_worker("numpy") as worker:
        result = grade_submission(spec, path, hidden=False, worker=worker, prepared=Prepared(spec, hidden=False))
    loops = checks_of(result, "svm_loss_vectorized")["no_loops"]
    assert loops.status == "failed"
    assert loops.message.startswith("svm_loss_vectorized has a generator expression at cell 3, line 8 (`total = sum(")


def test_a_grader_failure_keeps_the_checks_points_possible(spec, monkeypatch, tmp_path):
    """A submission the grader fails on is worth what any other is: its cases and its checks, all errors."""
    import grader.grade
    from grader.grade import grade_or_report
    monkeypatch.setattr(grader.grade, "grade_submission", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("planted")))
    prepared = Prepared(spec, hidden=True)
    result = grade_or_report(spec, tmp_path, True, None, prepared)
    assert (result.earned, result.possible, len(result.checks())) == (0, 28, 8)
    assert {c.status for c in result.checks()} == {"error"} and result.hidden_points == 14
    assert result.checks()[0].message.startswith("the grader failed on this submission (RuntimeError: planted)")


def test_the_checks_of_one_file_read_it_once(monkeypatch):
    """Three static checks of one submission's file parse and walk it once (a long module's walk was
    most of a submission's judging); another student's file is read on its own."""
    import ast as ast_module
    from grader.judge import checks as checks_module
    parsed = []
    real = ast_module.parse
    monkeypatch.setattr(checks_module.ast, "parse", lambda *a, **k: parsed.append(1) or real(*a, **k))
    source = LAYERS + "\n# this student's\n"
    for name, kind in (("Net.loss", "no_autograd"), ("Net.backward", "no_autograd"), ("Net.loss", "no_loops")):
        static(kind, source, name=name)
    assert len(parsed) == 1
    static("no_loops", source + "# another student's\n", name="Net.loss")
    assert len(parsed) == 2


HELPERS = "def total(v):\n    s, i = 0, 0\n    while i < len(v):\n        s, i = s + v[i], i + 1\n    return s\n"


@pytest.mark.parametrize("source, where", [
    ("from helpers import total\n\ndef f(x):\n    return total(x)\n", "helpers.py, line 3, in helpers.total"),
    ("import helpers as h\n\ndef f(x):\n    return h.total(x)\n", "helpers.py, line 3, in helpers.total"),
    ("def f(x):\n    from helpers import total as t\n    return t(x)\n", "helpers.py, line 3, in helpers.total"),
])
def test_static_checks_follow_a_helper_into_another_file_of_the_submission(source, where):
    others = {"helpers": HELPERS}.get
    check = CheckSpec(kind="no_loops", points=1, visibility="public")
    r = judge_static(_fn(), check, source, "m.py", others=others)
    assert r.status == "failed" and f"f has a while loop at {where}, which it calls (`while i < len(v):`)" in r.message, r.message
    assert judge_static(_fn(), check, source, "m.py").status == "passed"            # without the other files: not seen
    # a library's name, or a file that is not there, is not followed; nor what the function does not call
    unused = "from helpers import total\nimport numpy as np\n\ndef f(x):\n    return np.sum(x)\n"
    assert judge_static(_fn(), check, unused, "m.py", others=others).status == "passed"
    autograd = CheckSpec(kind="no_autograd", points=1, visibility="public")
    backward = {"helpers": "def total(v):\n    v.sum().backward()\n    return v.grad\n"}.get
    r = judge_static(_fn(), autograd, source, "m.py", others=backward)
    assert r.status == "failed" and "f uses .backward() at helpers.py, line 2, in helpers.total" in r.message, r.message


def test_the_code_one_check_reads_across_files_is_bounded():
    """Helper files each under the parse limit, called one after another: read in the grader's
    process, they took it minutes (four files of a megabyte of loops, 12 minutes, each finding looked
    up in the list of the files before: now a set); past MAX_PARSED
    in all the check is not judged, as for one file too large, and the grader goes on."""
    from grader.judge import checks
    check = CheckSpec(kind="no_loops", points=1, visibility="public")
    source = "import h1, h2\n\ndef f(x):\n    return h1.g(x) + h2.g(x)\n"
    half = "def g(v):\n    return v\n" + "#" * (checks.MAX_PARSED // 2) + "\n"
    r = judge_static(_fn(), check, source, "m.py", others={"h1": half, "h2": half}.get)
    assert r.status == "error" and r.message == ("f calls code in h2.py, which makes over 1 MiB of code in the 3 files "
                                                 "it reads: it was not read, so f could not be checked"), r.message
    small = "def g(v):\n    return v\n"
    assert judge_static(_fn(), check, source, "m.py", others={"h1": half, "h2": small}.get).status == "passed"


def test_a_helper_file_too_large_to_read_leaves_the_check_not_judged():
    """A loop moved into a helper file padded past the parse limit: skipping the file unread, as
    one that is not the student's, passed no_loops with the loop in it."""
    from grader.judge import checks
    check = CheckSpec(kind="no_loops", points=1, visibility="public")
    source = "from helpers import total\n\ndef f(x):\n    return total(x)\n"
    padded = {"helpers": HELPERS + "#" * (checks.MAX_PARSED + 1) + "\n"}.get
    r = judge_static(_fn(), check, source, "m.py", others=padded)
    assert r.status == "error" and r.message == ("f calls code in helpers.py, which has over 1 MiB of code: it was "
                                                 "not read, so f could not be checked"), r.message

    def too_large(name):                     # what grade._beside says of a file over the limit on disk
        if name != "helpers":
            return None                      # numpy: not a file of the submission
        raise checks.TooLarge(f"{name}.py")
    assert judge_static(_fn(), check, source, "m.py", others=too_large).status == "error"
    unused = "import helpers\nimport numpy as np\n\ndef f(x):\n    return np.sum(x)\n"
    assert judge_static(_fn(), check, unused, "m.py", others=too_large).status == "passed"   # nothing of it is called


@pytest.mark.slow
def test_a_loop_in_a_helper_file_of_the_submission_fails_no_loops_when_graded(spec, tmp_path):
    """The way a student runs it: svm_loss_vectorized imports its sum from helpers.py beside it."""
    from grader.run.worker import start_worker
    folder = tmp_path / "student"
    folder.mkdir()
    for module in spec.modules:
        shutil.copy(REPO / "reference" / "cs231n" / f"{module}.py", folder)
    (folder / "helpers.py").write_text("def total(v):\n    s = 0\n    for x in v:\n        s = s + x\n    return s\n")
    path = folder / "linear_svm.py"
    text = path.read_text()
    old = "    loss = margins.sum() / num_train + reg * np.sum(W * W)\n"
    assert text.count(old) == 1
    path.write_text("from helpers import total\n" + text.replace(old, old.replace("margins.sum()", "total(margins.ravel())")))
    with start_worker("numpy") as worker:
        result = grade_submission(spec, folder, hidden=False, worker=worker)
    loops = checks_of(result, "svm_loss_vectorized")["no_loops"]
    assert loops.status == "failed", loops.message
    assert loops.message.startswith("svm_loss_vectorized has a for loop at helpers.py, line 3, in helpers.total")
    assert all(c.passed for c in next(f for f in result.functions if f.name == "svm_loss_vectorized").cases)


def test_a_helper_file_that_cannot_be_read_is_not_followed(tmp_path, monkeypatch):
    """Only readable `name.py` files beside the module are followed: not a library's name, the course's
    support module, a folder, or a file whose reading fails (no traceback for the student)."""
    from grader.grade import _beside
    (tmp_path / "helpers.py").write_text(HELPERS)
    (tmp_path / "a3_helper.py").write_text(HELPERS)
    (tmp_path / "folder.py").mkdir()
    source = _beside(tmp_path, {"a3_helper"})
    assert source("helpers") == HELPERS
    assert [source(n) for n in ("a3_helper", "folder", "numpy", "../helpers")] == [None] * 4
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self, *a, **k: (_ for _ in ()).throw(PermissionError(13, "denied"))
                        if self.name == "helpers.py" else real(self, *a, **k))
    assert source("helpers") is None


def test_static_checks_follow_helpers_into_helpers_files_however_deep():
    """helpers.total sums with deeper.add_all, whose loop is two files away from the graded function;
    a helper that calls back into the graded file, and files importing each other, end."""
    check = CheckSpec(kind="no_loops", points=1, visibility="public")
    source = "from helpers import total\n\ndef f(x):\n    return total(x)\n"
    files = {"helpers": "import deeper\n\ndef total(v):\n    return deeper.add_all(v)\n",
             "deeper": "from helpers import total\n\ndef add_all(v):\n    s = 0\n    for x in v:\n        s += x\n    return s\n"}
    r = judge_static(_fn(), check, source, "m.py", others=files.get)
    assert r.status == "failed", r.message
    assert "f has a for loop at deeper.py, line 5, in deeper.add_all, which it calls (`for x in v:`)" in r.message, r.message
    fine = {**files, "deeper": "import numpy as np\nfrom m import f\n\ndef add_all(v):\n    return np.sum(v)\n"}
    r = judge_static(_fn(), check, source, "m.py", others=fine.get)
    assert r.status == "passed" and "helpers.total" in r.message and "deeper.add_all" in r.message, r.message
    # a helper calling back into the graded file names that file's loop once, as that file's
    back = {"helpers": "import m\n\ndef total(v):\n    return m.g(v)\n"}
    loop = source + "\ndef g(v):\n    while v:\n        v = v[1:]\n    return 0\n"
    r = judge_static(_fn(), check, loop, "m.py", others={**back, "m": loop}.get)
    assert r.status == "failed" and "at line 7, in g, which it calls" in r.message and r.details == "", (r.message, r.details)


def test_code_over_the_parsed_limit_is_not_parsed_and_a_large_tree_is_not_kept(monkeypatch):
    """A tree takes up to 600 times its source (4 MiB of `{},` took 2.4 GB in the grader's process),
    and 16 were kept for a file's other checks: code over 1 MiB is not parsed, and a tree of over
    256 KB is made again for each check instead of being kept."""
    from grader.judge import checks
    huge = "def f(x):\n    return x\n" + "y = [" + "{}," * (checks.MAX_PARSED // 3 + 1) + "]\n"
    result = static("no_loops", huge)
    assert result.status == "error" and result.message.startswith("m.py has over 1 MiB of code: it was not read"), result.message
    parsed = []
    real = checks._parsed
    monkeypatch.setattr(checks, "_parsed", lambda *a: parsed.append(1) or real(*a))
    checks._kept.clear()
    large = "def f(x):\n    return x\n" + "y = 1\n" * (checks._KEPT // 6 + 1)
    assert static("no_loops", large).status == static("no_autograd", large).status == "passed"
    assert len(parsed) == 2 and len(checks._kept) == 0
    small = "def f(x):\n    return x\n"
    assert static("no_loops", small).status == static("no_autograd", small).status == "passed"
    assert len(parsed) == 3 and len(checks._kept) == 1


def test_the_trees_kept_for_a_files_other_checks_hold_at_most_so_much_code(monkeypatch):
    """Sixteen trees of 256 KB were kept, 93 MiB each: 1.6 GB of a batch's memory (an eighteenth red
    team's). The files read last are kept, up to _KEPT_TOTAL characters of code in all."""
    from grader.judge import checks
    checks._kept.clear()
    monkeypatch.setattr(checks, "_KEPT_TOTAL", 1000)
    files = [f"def f(x):\n    return x\n# {i}" + " " * 300 for i in range(5)]
    for text in files:
        assert static("no_loops", text).status == "passed"
    assert [source for source, _ in checks._kept] == files[-3:]                 # 3 x 330 characters: within 1,000
    static("no_autograd", files[2])                                              # read again: kept longest now
    assert [source for source, _ in checks._kept] == [files[3], files[4], files[2]]


def test_a_chain_of_attributes_is_qualified_once_a_node():
    """Each node of `np.a.a...a` qualified down to the root for every node of the walk took L*L/2
    steps: 900 attributes a line, 18 s (an eighteenth red team's). Each is worked out once now."""
    from grader.judge import checks
    chain = "np" + ".a" * 300
    calls = [0]
    real = checks._qualify

    def counted(node, aliases):
        calls[0] += 1
        return real(node, aliases)
    import unittest.mock
    with unittest.mock.patch.object(checks, "_qualify", counted):
        assert static("no_loops", f"import numpy as np\ndef f(x):\n    return {chain}\n").status == "passed"
    assert calls[0] < 4 * 300, calls[0]


def test_a_passed_static_checks_message_names_ten_helpers_at_most():
    helpers = "".join(f"def h{i}(x):\n    return x\n" for i in range(30))
    result = static("no_loops", "def f(x):\n    return " + " + ".join(f"h{i}(x)" for i in range(30)) + "\n" + helpers)
    assert result.status == "passed"
    assert result.message.endswith("(or the helpers it calls: h0, h1, h10, h11, h12, h13, h14, h15, h16, h17 and 20 more)")


def test_linking_methods_loosely_is_done_once_for_the_reading_not_once_a_body(monkeypatch):
    """K classes whose method `m` calls `s.m`: linked once a body, K*K links (20,000 classes: 56 s, an
    eighteenth red team's). Linked once for the reading now, and each link counted in the budget."""
    import ast
    from grader.judge import checks
    k = 40
    source = "def f(a):\n    return a.m()\n" + "".join(f"\nclass C{i}:\n    def m(s):\n        return s.m()\n" for i in range(k))
    defs = checks.definitions(ast.parse(source))
    links = [0]
    real = checks._references
    monkeypatch.setattr(checks, "_references", lambda *a, **kw: (links.__setitem__(0, links[0] + 1) or x for x in real(*a, **kw)))
    assert set(checks._reachable("f", defs)) == {"f", *(f"C{i}.m" for i in range(k))}
    assert links[0] <= 3 * k, links[0]


def test_no_autograd_says_only_the_graders_names_of_the_ways_into_autograd():
    """The way the child reports is the student's process's to write: a red team put a hidden case's
    inputs there (an entry added to the executor's table of C functions), into a message Gradescope
    shows. The grader's process says only names it knows."""
    from grader.judge.checks import Plan, judge_autograd_run
    runs = _runs((2, {}), visibility="hidden")
    plan = Plan(fn=_fn(), check=CheckSpec(kind="no_autograd", points=1, visibility="hidden"))
    runs[0][1].autograd = "LEAK X=[[1.5518240998445103, 1.517656854443021]]"
    r = judge_autograd_run(plan, runs)
    assert r.status == "failed" and r.message == "f runs autograd (one of torch's ways into autograd) on hidden-1: " \
                                                 "compute the gradient by hand", r.message
    runs[0][1].autograd = "torch.autograd.grad"
    assert "(torch.autograd.grad)" in judge_autograd_run(plan, runs).message
    # where: the student's function it was taken from, when the module defines it (a layer's backward
    # that a network calls); not a name made as the code ran
    source = "class Linear:\n    @staticmethod\n    def backward(dout, cache):\n        pass\n"
    runs[0][1].autograd_in = "Linear.backward"
    assert "(torch.autograd.grad, in Linear.backward) on hidden-1" in judge_autograd_run(plan, runs, source).message
    runs[0][1].autograd_in = "X00_1_5518240998445103"
    assert "(torch.autograd.grad) on hidden-1" in judge_autograd_run(plan, runs, source).message



def test_a_visible_no_autograd_check_failed_on_a_hidden_case_alone_says_nothing_of_it():
    """A red team ran autograd only where X[0, 0] > T, and the check Gradescope shows named the hidden
    case it ran on (a binary search on a hidden input, a bit a submission). Failed on hidden cases
    alone, a visible check says only that; failed on a public case too, it names that one."""
    from grader.judge.checks import Plan, judge_autograd_run
    runs = _runs((2, {}), (3, {}), visibility="hidden")
    plan = Plan(fn=_fn(), check=CheckSpec(kind="no_autograd", points=1, visibility="public"))
    runs[1][1].autograd, runs[1][1].autograd_in = "torch.autograd.grad", "f"
    r = judge_autograd_run(plan, runs)
    assert r.status == "failed" and r.message.startswith("f runs autograd on a hidden case: compute the gradient by hand"), r.message
    assert "hidden-2" not in r.message and "torch.autograd.grad" not in r.message
    public = _runs((4, {}))
    public[0][1].autograd = "Tensor.backward"
    assert judge_autograd_run(plan, runs + public).message == "f runs autograd (Tensor.backward) on public-1: " \
                                                              "compute the gradient by hand"


LAZY_VIEW = FORWARD + """\
""" + '_pending = []\n\n\nclass _Later(torch.Tensor):\n    def detach(self):\n        # runs when the grader looks at the input after the call (no_input_mutation), unwatched\n        self.__class__ = torch.Tensor\n        while _pending:\n            out, X, w, y = _pending.pop()\n            w2 = w.detach().clone().requires_grad_(True)\n            (g,) = torch.autograd.grad(linreg_loss(X, w2, y), (w2,))\n            out.copy_(g)\n        return self.detach()\n\n\ndef linreg_grad(X, w, y):\n    out = torch.zeros(w.shape, dtype=w.dtype)\n    _pending.append((out, X, w, y))\n    X.__class__ = _Later\n    return out\n\n\ndef topk_grads(W, x, k):\n    W = W.detach().clone().requires_grad_(True)\n    x = x.detach().clone().requires_grad_(True)\n    loss = topk_loss(W, x, k)\n    return torch.autograd.grad(loss, (W, x))\n' + """"""


@pytest.mark.slow
def test_an_input_given_a_class_of_its_own_is_read_by_torchs_methods_after_the_call(tmp_path):
    """linreg_grad returned zeros and gave X a Tensor subclass whose detach() computed the gradient
    with autograd and filled the answer in: the check that inputs are unchanged called it after the
    call's watch. Read by torch's own methods, nothing fills the answer in."""
    pytest.importorskip("torch")
    spec = load_spec(REPO / "assignments" / "autograd_basics")
    (tmp_path / "autograd_basics.py").write_text(LAZY_VIEW)
    fn = next(f for f in grade_submission(spec, tmp_path, hidden=True).functions if f.name == "linreg_grad")
    assert not any(c.passed for c in fn.cases), [c.message for c in fn.cases]


def test_a_gradient_off_at_one_entry_is_not_called_a_constant_factor():
    """'your dx is 0.333 times the numerical gradient' was one entry of ten: a ratio needs two."""
    from grader.judge.checks import _common_ratio
    assert _common_ratio(np.array([1.0]), np.array([3.0])) is None
    assert _common_ratio(np.array([2.0, 4.0]), np.array([1.0, 2.0])) == 2.0


def test_a_gradient_check_of_a_loss_the_function_returns_needs_that_loss_right_somewhere():
    """A red team's network returned right scores (its test-mode cases) and a made-up loss, the sum
    of its parameters, with ones for its gradients: centred differences agreed, and right scores
    let the gradient check earn its point. The check's loss must be right on some case now."""
    from grader.judge.checks import needs_working_code, plan
    from grader.results import CaseResult, CheckResult, OutputCheck
    spec = load_spec(REPO / "assignments" / "fully_connected_networks")
    fn = spec.function("TwoLayerNet.loss")
    (p,) = [p for p in plan(spec, hidden=False) if p.fn.name == fn.name and p.check.kind == "gradient"]
    assert "loss" in p.loss_names
    agreed = CheckResult(function=fn.name, name="gradient", visibility="public", status="passed", earned=1, possible=1,
                         message="matches")

    def case(*right):
        outputs = [OutputCheck(name=o.name, ok=o.name in right) for o in fn.compared]
        return CaseResult(function=fn.name, case_id="public-1", visibility="public", seed=1, status="failed", outputs=outputs)
    judged = needs_working_code(p, agreed, [case("scores"), case("scores")])
    assert judged.status == "error" and judged.earned == 0
    assert judged.message == "judged once TwoLayerNet.loss returns a right loss on at least one case"
    assert needs_working_code(p, agreed, [case("scores"), case("loss")]).status == "passed"     # gradients of a right loss


def test_a_chained_case_failing_as_the_handouts_code_does_is_not_implemented():
    """An unwritten adam returns None; the next step of a chained case gives it to the handout's own
    `config.setdefault('m', torch.zeros_like(w))`, which raises a TypeError (a students' round): the
    case said "adam raised TypeError", blaming code the student never wrote. The same exception at
    the same step as the handout's code is "not implemented yet"; another is the student's."""
    from grader.judge.case import unwritten
    from grader.run.outcome import Outcome
    error = {"type": "TypeError", "message": "zeros_like(): argument 'input' must be Tensor, not NoneType"}
    starter = Outcome(status="exception", step=1, error=dict(error))
    same = Outcome(status="exception", step=1, error=dict(error))
    assert unwritten(_fn("adam"), same, starter, {}).startswith("adam is not implemented yet: the handout's code "
                                                                "fails this case the same way, at step 2")
    other = Outcome(status="exception", step=1, error={**error, "message": "shape mismatch"})
    first = Outcome(status="exception", step=0, error=dict(error))          # its own first step: the student's code
    assert unwritten(_fn("adam"), other, starter, {}) == ""
    assert unwritten(_fn("adam"), first, Outcome(status="exception", step=0, error=dict(error)), {}) == ""

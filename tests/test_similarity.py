"""The pure parts of `grader similarity`: normalization undoes each disguise, fingerprints are stable
and winnowing keeps its guarantee, the handout's code is never evidence, and the index compares only
units that share a fingerprint."""
from __future__ import annotations

import random
import textwrap
from pathlib import Path

import numpy as np
import pytest

from grader.similarity import Settings, Source, find_similar
from grader.similarity.compare import compare_function
from grader.similarity.fingerprint import kgram_hashes, winnow
from grader.similarity.normalize import NotFound, extract
from grader.report.similarity import render_csv, render_html, render_section

ORIGINAL = '''
import numpy as np

def loss(W, X, y, reg):
    """Mean hinge loss."""
    num_train = X.shape[0]
    total = 0.0
    for i in range(num_train):
        scores = np.dot(X[i], W)              # one row of scores
        margin = scores - scores[y[i]] + 1
        total = total + np.maximum(0, margin).sum()
    return total / num_train + reg * np.sum(W * W)
'''

DISGUISES = {
    "renamed": '''
import numpy as np

def loss(W, X, y, reg):
    n = X.shape[0]
    acc = 0.0
    for row in range(n):
        s = np.dot(X[row], W)
        m = s - s[y[row]] + 1
        acc = acc + np.maximum(0, m).sum()
    return acc / n + reg * np.sum(W * W)
''',
    "comments, docstring and whitespace": '''
import numpy as np
def loss(W, X, y, reg):
    """Computes the loss, as I understood the docstring."""
    # how many examples
    num_train=X.shape[0]

    total=0.0
    for i in range( num_train ):   # every example
        scores=np.dot(X[i],W)
        margin=scores-scores[y[i]]+1
        total=total+np.maximum(0,margin).sum()
    return total/num_train+reg*np.sum(W*W)
''',
    "reordered independent statements": '''
import numpy as np

def loss(W, X, y, reg):
    total = 0.0
    num_train = X.shape[0]
    for i in range(num_train):
        scores = np.dot(X[i], W)
        margin = scores - scores[y[i]] + 1
        total = total + np.maximum(0, margin).sum()
    return total / num_train + reg * np.sum(W * W)
''',
    "extra parentheses": '''
import numpy as np

def loss(W, X, y, reg):
    num_train = (X.shape[0])
    total = (0.0)
    for i in range((num_train)):
        scores = (np.dot((X[i]), W))
        margin = ((scores - scores[y[i]]) + 1)
        total = (total + (np.maximum(0, margin)).sum())
    return ((total / num_train) + (reg * np.sum((W * W))))
''',
    "a.dot(b)": '''
import numpy as np

def loss(W, X, y, reg):
    num_train = X.shape[0]
    total = 0.0
    for i in range(num_train):
        scores = X[i].dot(W)
        margin = scores - scores[y[i]] + 1
        total = total + np.maximum(0, margin).sum()
    return total / num_train + reg * np.sum(W * W)
''',
    "a @ b, and numpy imported under its own name": '''
import numpy

def loss(W, X, y, reg):
    num_train = X.shape[0]
    total = 0.0
    for i in range(num_train):
        scores = X[i] @ W
        margin = scores - scores[y[i]] + 1
        total = total + numpy.maximum(0, margin).sum()
    return total / num_train + reg * numpy.sum(W * W)
''',
    "for loop as a while loop": '''
import numpy as np

def loss(W, X, y, reg):
    num_train = X.shape[0]
    total = 0.0
    i = 0
    while i < num_train:
        scores = np.dot(X[i], W)
        margin = scores - scores[y[i]] + 1
        total = total + np.maximum(0, margin).sum()
        i += 1
    return total / num_train + reg * np.sum(W * W)
''',
    "x += y for x = x + y": '''
import numpy as np

def loss(W, X, y, reg):
    num_train = X.shape[0]
    total = 0.0
    for i in range(0, num_train):
        scores = np.dot(X[i], W)
        margin = scores - scores[y[i]] + 1
        total += np.maximum(0, margin).sum()
    return total / num_train + reg * np.sum(W * W)
''',
}


def tokens(source: str, function: str = "loss") -> tuple:
    return extract(textwrap.dedent(source), function).tokens


@pytest.mark.parametrize("disguise", DISGUISES, ids=list(DISGUISES))
def test_each_disguise_normalizes_to_the_same_tokens(disguise):
    assert tokens(DISGUISES[disguise]) == tokens(ORIGINAL)


@pytest.mark.parametrize("change", [
    ("margin = scores - scores[y[i]] + 1", "margin = scores - scores[y[i]] - 1"),
    ("np.maximum(0, margin)", "np.minimum(0, margin)"),
    ("return total / num_train", "return total * num_train"),
    ("scores = np.dot(X[i], W)", "scores = np.dot(W, X[i])"),
])
def test_a_change_of_meaning_changes_the_tokens(change):
    assert tokens(ORIGINAL.replace(*change)) != tokens(ORIGINAL)


def test_dependent_statements_keep_their_order():
    first = "def f(a):\n    b = a + 1\n    c = b * 2\n    return c\n"
    swapped = "def f(a):\n    c = a * 2\n    b = c + 1\n    return c\n"
    assert tokens(first, "f") != tokens(swapped, "f")


def test_a_helper_the_function_calls_is_part_of_its_unit():
    source = "def _square(v):\n    return v * v\n\ndef f(a):\n    return _square(a) + 1\n"
    unit = extract(source, "f")
    assert [n for n, _ in unit.source] == [4, 5, 1, 2]         # the function, then its helper
    renamed = source.replace("_square", "_sq")
    assert extract(renamed, "f").tokens == unit.tokens


def test_a_method_is_found_by_its_class_and_a_missing_function_is_not_found():
    source = "class Net:\n    def loss(self, x):\n        return x * 2\n\ndef loss(x):\n    return x\n"
    assert extract(source, "Net.loss").source[0] == (2, "    def loss(self, x):")
    assert extract(source, "loss").source[0] == (5, "def loss(x):")
    with pytest.raises(NotFound):
        extract(source, "Net.forward")


# ---------------------------------------------------------------------------------------------
# Fingerprints


def test_kgram_hashes_are_stable_across_runs_and_machines():
    # BLAKE2b of each token, then a polynomial modulo 2**64: never Python's salted hash().
    h = kgram_hashes(["Assign", "V", "BinOp", "P", "Add", "#1"], k=3)
    assert h.dtype == np.uint64 and len(h) == 4
    assert int(h[0]) == 0x56CC8207A45A1D83


def test_winnowing_is_deterministic_and_finds_every_long_shared_run():
    rng = random.Random(7)
    k, window = 5, 4
    for _ in range(50):
        shared = [rng.choice("abcdefgh") for _ in range(window + k - 1)]
        a = [rng.choice("abcdefgh") for _ in range(rng.randint(0, 30))] + shared + [rng.choice("xyz") for _ in range(9)]
        b = [rng.choice("pqrs") for _ in range(rng.randint(0, 30))] + shared
        ha, hb = kgram_hashes(a, k), kgram_hashes(b, k)
        fa, fb = set(ha[winnow(ha, window)].tolist()), set(hb[winnow(hb, window)].tolist())
        assert fa & fb, "a run of window + k - 1 tokens must give a common fingerprint"
        assert np.array_equal(winnow(ha, window), winnow(ha.copy(), window))


def test_winnowing_takes_the_rightmost_minimum_and_keeps_a_short_stream():
    h = np.array([5, 1, 1, 7, 9], dtype=np.uint64)
    assert winnow(h, 3).tolist() == [2]
    assert winnow(h[:2], 3).tolist() == [1]
    assert winnow(np.zeros(0, dtype=np.uint64), 3).tolist() == []


# ---------------------------------------------------------------------------------------------
# Comparing


HANDOUT = '''
def f(x, y):
    """Given code, then the student's."""
    rows = x.shape[0]
    cols = x.shape[1]
    result = x.copy()
    result = result.reshape(rows, cols)
    # TODO: your code here (see the docstring).
    raise NotImplementedError("f is not implemented yet")
    return result
'''


def student(body: str) -> str:
    """The handout with the TODO replaced by `body`."""
    lines = [line for line in textwrap.dedent(HANDOUT).splitlines()
             if "TODO" not in line and "NotImplementedError" not in line]
    at = lines.index("    return result")
    return "\n".join(lines[:at] + ["    " + b for b in textwrap.dedent(body).strip().splitlines()] + lines[at:]) + "\n"


LONG = """
for i in range(rows):
    for j in range(cols):
        if result[i, j] > y:
            result[i, j] = result[i, j] * 2 - y + i * j
        else:
            result[i, j] = abs(result[i, j]) + y / (1 + i)
"""
OTHER = """
mask = result > y
result = result * mask + (1 - mask) * np.exp(result)
scale = np.linalg.norm(result, axis=1, keepdims=True)
result = result / np.maximum(scale, 1e-12) + np.tanh(y)
"""


def compare(sources: dict, handout: str | None = HANDOUT, **settings) -> tuple[list, object]:
    entries = [(Source(name, "f.py", corpus=name.startswith("corpus")), extract(src, "f")) for name, src in sources.items()]
    return compare_function("f", entries, extract(textwrap.dedent(handout), "f") if handout else None,
                            Settings(**settings))


def test_a_copy_is_reported_with_both_fractions_and_the_same_regions_on_both_sides():
    renamed = LONG.replace("for i", "for p").replace("for j", "for q").replace("i, j", "p, q").replace("i * j", "p * q")
    pairs, stats = compare({"ann": student(LONG), "ben": student(renamed.replace("1 + i", "1 + p")), "cal": student(OTHER)})
    assert [(p.a.source.name, p.b.source.name) for p in pairs] == [("ann", "ben")]
    pair = pairs[0]
    assert pair.score == 1.0 and pair.a.fraction == pair.b.fraction == 1.0
    assert pair.a.own == pair.a.matched > 0
    assert set(pair.a.marks) == {8, 9, 10, 11, 13}             # the student's lines (`else:` has no token)
    assert set(pair.a.marks.values()) == set(pair.b.marks.values()) == {0}


def test_handout_code_is_not_evidence():
    # Two students who wrote different code around the same given code are not similar because of it...
    pairs, _ = compare({"ann": student(LONG), "cal": student(OTHER)}, threshold=0.0)
    assert pairs == []
    # ...which they would be if the handout were not known.
    pairs, _ = compare({"ann": student(LONG), "cal": student(OTHER)}, handout=None, threshold=0.0, min_matched=1)
    assert pairs and max(p.score for p in pairs) > 0


def test_only_units_that_share_a_fingerprint_are_compared():
    others = {f"s{i}": student(OTHER.replace("np.tanh(y)", f"np.tanh(y) * {i}").replace("axis=1", f"axis={i}")
                               .replace("1e-12", str(i + 1))) for i in range(6)}
    _, stats = compare({"ann": student(LONG), "ben": student(LONG), **others}, threshold=0.0)
    assert stats.units == 8
    assert stats.candidates < 8 * 7 // 2
    unrelated = {f"u{i}": student("\n".join(f"v{j} = x[{i}, {j}] ** {j + i}" for j in range(i + 3))) for i in range(4)}
    _, stats = compare({"ann": student(LONG), "ben": student(LONG), **unrelated}, threshold=0.0)
    assert stats.candidates == 1                               # ann ~ ben, nothing else shares a fingerprint


def test_corpus_files_are_compared_with_students_but_not_with_each_other():
    pairs, _ = compare({"ann": student(LONG), "corpus/a.py": student(LONG), "corpus/b.py": student(LONG)})
    assert sorted((p.a.source.name, p.b.source.name) for p in pairs) == [("ann", "corpus/a.py"), ("ann", "corpus/b.py")]


def test_a_passage_most_of_the_class_shares_is_common_not_evidence():
    many = {f"s{i:02d}": student(LONG) for i in range(30)}
    pairs, stats = compare(many, common=0.5, common_floor=3)
    assert pairs == [] and stats.common > 0
    pairs, _ = compare(dict(list(many.items())[:3]), common=0.5, common_floor=3)
    assert len(pairs) == 3


def test_the_same_input_gives_the_same_pairs_in_the_same_order():
    sources = {name: student(LONG) for name in ("cal", "ann", "ben")}
    first, _ = compare(sources)
    second, _ = compare(dict(reversed(list(sources.items()))))
    assert [(p.a.source.name, p.b.source.name, p.score) for p in first] == \
           [(p.a.source.name, p.b.source.name, p.score) for p in second] == \
           [("ann", "ben", 1.0), ("ann", "cal", 1.0), ("ben", "cal", 1.0)]


# ---------------------------------------------------------------------------------------------
# The class, and the reports


@pytest.fixture
def class_folder(tmp_path) -> Path:
    reference = Path(__file__).resolve().parents[1] / "reference" / "linear_classifier" / "linear_classifier.py"
    code = reference.read_text()
    for name, text in {"ann": code, "ben": code.replace("margin", "m"),
                       "cal": "def svm_loss_naive(W, X, y, reg):\n    return (\n",
                       "dee": code.replace("num_train", "n").replace("</", "<")}.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "linear_classifier.py").write_text(text)
    return tmp_path


def test_a_file_that_does_not_parse_is_named_and_the_others_are_compared(class_folder, spec):
    from grader.batch import discover
    subs = discover(class_folder, spec, class_folder / "_staging")
    report = find_similar(spec, subs)
    assert report.problems == [("cal", "linear_classifier.py does not parse (line 2: '(' was never closed)")]
    assert {(p.a.source.name, p.b.source.name) for p in report.pairs} == {("ann", "ben"), ("ann", "dee"), ("ben", "dee")}
    assert "without its solutions" in report.handout


def test_a_file_over_the_parsed_limit_is_named_and_one_python_reads_is_compared_as_it_is_graded(class_folder, spec):
    """A file too large to parse is a problem named with its size; bytes that are not UTF-8 in a
    comment are read as the grader's checks read them (replaced), not refused."""
    from grader.batch import discover
    from grader.judge.checks import MAX_PARSED
    code = (class_folder / "ann" / "linear_classifier.py").read_bytes()
    (class_folder / "cal" / "linear_classifier.py").write_bytes(code + b"\n#" + b"x" * MAX_PARSED + b"\n")
    (class_folder / "dee" / "linear_classifier.py").write_bytes(code + b"\n# caf\xe9\n")
    report = find_similar(spec, discover(class_folder, spec, class_folder / "_staging"))
    assert report.problems == [("cal", "linear_classifier.py has over 1 MiB of code: not compared")]
    assert {(p.a.source.name, p.b.source.name) for p in report.pairs} == {("ann", "ben"), ("ann", "dee"), ("ben", "dee")}


def test_a_graded_name_bound_to_another_function_is_compared_as_that_function(class_folder, spec):
    """`svm_loss_naive = _mine` is what Python grades: renaming the def and binding the name after it
    must not take the copy out of the comparison. A name bound to something else is named, not skipped."""
    from grader.batch import discover
    code = (class_folder / "ann" / "linear_classifier.py").read_text()
    (class_folder / "cal" / "linear_classifier.py").write_text(
        code.replace("def svm_loss_naive(", "def _mine(") + "\n\nsvm_loss_naive = _mine\n")
    (class_folder / "dee" / "linear_classifier.py").write_text(code + "\n\nsvm_loss_naive = lambda W, X, y, reg: (0.0, W)\n")
    report = find_similar(spec, discover(class_folder, spec, class_folder / "_staging"))
    naive = {(p.a.source.name, p.b.source.name) for p in report.pairs if p.function == "svm_loss_naive"}
    assert naive == {("ann", "ben"), ("ann", "cal"), ("ben", "cal")}
    assert report.problems == [("dee", "linear_classifier.py has no `def` of svm_loss_naive (it is missing, or bound "
                                       "to something other than a function of the file)")]


def test_reports_escape_student_code_and_say_they_are_not_a_verdict(class_folder, spec):
    from grader.batch import discover
    (class_folder / "dee" / "linear_classifier.py").write_text(
        (class_folder / "ann" / "linear_classifier.py").read_text().replace("loss = 0.0", "loss = 0.0  # </pre><script>alert(1)</script>"))
    report = find_similar(spec, discover(class_folder, spec, class_folder / "_staging"))
    html = render_html(report)
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "not a verdict" in html and "Nothing here changes a grade" in html
    assert "<script" not in render_section(report) and 'href="similarity.html#f-svm-loss-naive-1"' in render_section(report)
    rows = render_csv(report).splitlines()
    assert rows[0].startswith("function,rank,score,a,a_file,a_matched")
    assert rows[1].startswith("svm_loss_naive,1,1.000,ann,linear_classifier.py,1.000,")


def test_a_long_expression_that_python_runs_does_not_keep_a_function_from_being_compared():
    """`q = x + 1 + 1 + ...` 2,500 times compiles and runs, and would exceed Python's default
    recursion limit in the tree's rewriting: a way to make one's file impossible to compare."""
    source = "def f(x):\n    q = x" + " + 1" * 2500 + "\n    return q\n"
    compile(source, "submission", "exec")
    unit = extract(source, "f")
    assert len(unit.tokens) > 2500 and unit.tokens == extract(source.replace("q", "total"), "f").tokens


def test_a_module_over_the_parsed_limit_is_not_read_for_similarity(tmp_path):
    from grader.judge.checks import MAX_PARSED
    from grader.similarity.sources import read_module
    path = tmp_path / "linear_svm.py"
    path.write_text("def f(x):\n    return x\n" + "#" * (MAX_PARSED + 10) + "\n")
    with pytest.raises(ValueError, match="over 1 MiB of code"):
        read_module(path)
    path.write_text("def f(x):\n    return x\n")
    assert read_module(path).startswith("def f")


def _order_every_pair(run: list, roles) -> list:
    """normalize._order as it was: every pair of statements linked (quadratic)."""
    import ast
    from grader.similarity import normalize as N
    reads, writes = [N._names(s, ast.Load) for s in run], [N._names(s, ast.Store) for s in run]
    after, before = {i: set() for i in range(len(run))}, [0] * len(run)
    for j in range(len(run)):
        for i in range(j):
            if writes[i] & (reads[j] | writes[j]) or reads[i] & writes[j]:
                after[i].add(j)
                before[j] += 1
    return N._topological(run, roles, after, before)


def test_statements_are_ordered_as_before_by_their_nearest_dependencies_only():
    """A red team's 40,000 lines of `a = 1` took `grader grade --similarity` to 24 GB and the
    kernel's OOM killer: every pair of statements was linked. Linking each to the name's last
    writer and the readers since gives the same order."""
    import ast
    from grader.similarity import normalize as N
    rng, names = random.Random(7), "abcde"
    roles = lambda name: "v"                                  # noqa: E731
    for _ in range(300):
        lines = [f"{rng.choice(names)} {rng.choice(['=', '+='])} "
                 + (" + ".join(rng.choice(names) for _ in range(rng.randint(1, 3))) if rng.random() < 0.8 else "1")
                 for _ in range(rng.randint(2, 25))]
        run = ast.parse("\n".join(lines)).body
        assert [ast.dump(s) for s in N._order(run, roles)] == [ast.dump(s) for s in _order_every_pair(run, roles)], lines
    assert len(N._order(ast.parse("a = 1\n" * 40000).body, roles)) == 40000

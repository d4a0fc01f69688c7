"""`grader similarity` and `grader grade --similarity` as an instructor runs them, on real files: a
class of folders, a loose file, a notebook and a file that does not parse, and a corpus."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import GRADER, REPO

pytestmark = pytest.mark.slow

ADA = (REPO / "examples" / "linear_classifier" / "ada" / "linear_classifier.py").read_text()
KIM = (REPO / "tests" / "similarity" / "independent" / "linear_classifier" / "kim" / "linear_classifier.py").read_text()
ASSIGNMENT = str(REPO / "assignments" / "linear_classifier")       # for commands run in the class's folder
LOPEZ = (REPO / "tests" / "similarity" / "independent" / "linear_classifier" / "lopez" / "linear_classifier.py").read_text()


def disguised(source: str) -> str:
    """Ada's code as a copier hands it in: names changed, comments gone, a for loop made a while loop."""
    out = (source.replace("total", "acc").replace("margin", "gap").replace("scores", "sc")
           .replace("    for i in range(N):\n            yi", "    i = 0\n        while i < N:\n            yi"))
    out = out.replace("                dW[:, yi] = dW[:, yi] - X[i]\n",
                      "                dW[:, yi] = dW[:, yi] - X[i]\n            i += 1\n")
    out = out.replace("            if j == yi:\n                continue",
                      "            if j == yi:\n                i += 1\n                continue")
    return "\n".join(line.split("#")[0].rstrip() for line in out.splitlines()) + "\n"


def notebook(source: str) -> str:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# My work"]},
             {"cell_type": "code", "metadata": {}, "execution_count": 1, "outputs": [], "source": source}]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


@pytest.fixture
def course(tmp_path) -> Path:
    """A class: ada, zed (ada disguised), kim (a notebook), lee (a loose file: lopez's code, which the
    corpus also holds), max (does not parse); and a corpus with lopez's code in a repository."""
    cls = tmp_path / "class"
    for student, text in {"ada": ADA, "zed": disguised(ADA)}.items():
        (cls / student).mkdir(parents=True)
        (cls / student / "linear_classifier.py").write_text(text)
    (cls / "kim").mkdir()
    (cls / "kim" / "work.ipynb").write_text(notebook(KIM))
    (cls / "lee.py").write_text(LOPEZ)
    (cls / "max").mkdir()
    (cls / "max" / "linear_classifier.py").write_text("def svm_loss_naive(W, X, y, reg):\n    return (\n")
    repo = tmp_path / "corpus" / "someone" / "eecs498-solutions" / "A2"
    repo.mkdir(parents=True)
    (repo / "linear_classifier.py").write_text(LOPEZ.replace("Lopez's", "Someone's"))
    (repo / "README.md").write_text("not code")
    return tmp_path


def grader(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([GRADER, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_similarity_finds_a_disguised_copy_and_a_corpus_match_and_names_a_file_that_does_not_parse(course):
    done = grader("similarity", str(course / "class"), "--assignment", "linear_classifier",
                  "--out", str(course / "out"), "--corpus", str(course / "corpus"))
    assert done.returncode == 0, done.stderr
    assert "max: linear_classifier.py does not parse (line 2: '(' was never closed): not compared" in done.stderr
    assert "compared 5 submissions and 1 corpus file of linear_classifier" in done.stdout
    found = rows(course / "out" / "similarity.csv")
    pairs = {(r["function"], r["a"], r["b"]) for r in found}
    functions = ["svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive", "softmax_loss_vectorized"]
    corpus_file = str(course / "corpus" / "someone" / "eecs498-solutions" / "A2" / "linear_classifier.py")
    for function in functions:
        assert (function, "ada", "zed") in pairs
        assert (function, "lee", corpus_file) in pairs                    # the loose file, against the corpus
    assert not any("kim" in (r["a"], r["b"]) for r in found)           # kim's own work matches no one
    zed = next(r for r in found if (r["function"], r["a"], r["b"]) == ("svm_loss_naive", "ada", "zed"))
    assert float(zed["score"]) >= 0.9 and zed["b_kind"] == "student" and zed["a_file"] == "linear_classifier.py"
    lee = next(r for r in found if r["a"] == "lee")
    assert lee["b_kind"] == "corpus" and lee["b_file"] == corpus_file
    html = (course / "out" / "similarity.html").read_text()
    assert "<script" not in html and "not a verdict" in html
    assert 'class="m0"' in html and "corpus: " + corpus_file in html


def test_a_notebook_is_compared_like_a_module(course):
    (course / "class" / "kim" / "work.ipynb").write_text(notebook(ADA))
    done = grader("similarity", str(course / "class"), "-a", "linear_classifier", "--out", str(course / "out"))
    assert done.returncode == 0, done.stderr
    pairs = {(r["function"], r["a"], r["b"], r["b_file"]) for r in rows(course / "out" / "similarity.csv")}
    assert ("svm_loss_naive", "ada", "kim", "work.ipynb") in pairs


def test_a_file_name_that_is_a_spreadsheet_formula_is_written_as_text(course):
    """A notebook of any name stands for the modules, and its name went into similarity.csv as it
    was: `=HYPERLINK(...)` is a formula to the spreadsheet the instructor opens it in. A cell that
    starts like a formula starts with a quote instead, in every CSV the grader writes."""
    name = '=HYPERLINK("https:"&CHAR(47)&CHAR(47)&"evil.example","open").ipynb'
    (course / "class" / "kim" / "work.ipynb").unlink()
    (course / "class" / "kim" / name).write_text(notebook(ADA))
    done = grader("similarity", str(course / "class"), "-a", "linear_classifier", "--out", str(course / "out"))
    assert done.returncode == 0, done.stderr
    cells = [cell for r in rows(course / "out" / "similarity.csv") for cell in r.values()]
    assert "'" + name in cells
    assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for cell in cells)


def test_the_same_input_gives_the_same_reports(course):
    outs = []
    for name in ("first", "second"):
        done = grader("similarity", str(course / "class"), "-a", "linear_classifier", "--out", str(course / name),
                      "--corpus", str(course / "corpus"))
        assert done.returncode == 0, done.stderr
        outs.append([(course / name / f).read_bytes() for f in ("similarity.csv", "similarity.html")])
    assert outs[0] == outs[1]


@pytest.mark.parametrize("args, message", [
    (["MISSING", "-a", ASSIGNMENT], "MISSING: no such file or folder"),
    (["class", "-a", ASSIGNMENT, "--corpus", "nowhere"], "--corpus nowhere: no such folder"),
    (["class", "-a", ASSIGNMENT, "--corpus", "class/lee.py"], "--corpus class/lee.py: not a folder"),
    (["class", "-a", ASSIGNMENT, "--threshold", "1.5"], "--threshold 1.5: expected a score from 0 to 1"),
    (["class", "-a", "no_such_assignment"], "no_such_assignment"),
])
def test_bad_input_is_one_line_naming_it_and_exit_2(course, args, message):
    done = grader("similarity", *args, "--out", "out", cwd=course)
    assert done.returncode == 2
    assert done.stderr.startswith("grader: error: ") and message in done.stderr
    assert "Traceback" not in done.stderr and not (course / "out").exists()


def test_grade_with_a_corpus_that_is_not_a_folder_stops_before_grading_anyone(course):
    done = grader("grade", "class", "-a", ASSIGNMENT, "--out", "out", "--similarity", "--corpus", "nowhere", cwd=course)
    assert done.returncode == 2
    assert done.stderr.startswith("grader: error: --corpus nowhere: no such folder")
    assert "Traceback" not in done.stderr and not (course / "out").exists()


def test_grade_with_similarity_adds_the_section_to_report_html_and_no_grade_changes(course):
    shutil.rmtree(course / "class" / "max")                   # grading it is test_batch's business
    plain = grader("grade", str(course / "class"), "-a", "linear_classifier", "--out", str(course / "plain"),
                   "--workers", "1")
    assert plain.returncode == 0, plain.stderr
    done = grader("grade", str(course / "class"), "-a", "linear_classifier", "--out", str(course / "graded"),
                  "--workers", "1", "--similarity", "--corpus", str(course / "corpus"))
    assert done.returncode == 0, done.stderr
    assert f"wrote {course / 'graded' / 'similarity.html'}" in done.stdout
    report = (course / "graded" / "report.html").read_text()
    assert "<h2>Similarity</h2>" in report and 'href="similarity.html#f-svm-loss-naive-1"' in report
    assert "<h2>Similarity</h2>" not in (course / "plain" / "report.html").read_text()
    assert (course / "graded" / "gradebook.csv").read_text() == (course / "plain" / "gradebook.csv").read_text()
    assert {(r["function"], r["a"], r["b"]) for r in rows(course / "graded" / "similarity.csv")} >= {
        ("svm_loss_naive", "ada", "zed")}


def test_grade_refuses_similarity_options_without_similarity_and_with_a_shard(course):
    alone = grader("grade", str(course / "class"), "-a", ASSIGNMENT, "--out", "o", "--corpus", "corpus",
                   cwd=course)
    assert alone.returncode == 2 and "--corpus and --similarity-threshold go with --similarity" in alone.stderr
    sharded = grader("grade", str(course / "class"), "-a", ASSIGNMENT, "--out", "o", "--similarity",
                     "--shard", "1/2", cwd=course)
    assert sharded.returncode == 2 and "--similarity compares the whole class" in sharded.stderr

"""Links in a submission that lead out of it are never followed (a red team's finding).

A submission's folder holding `linear_classifier.py -> .../reference/linear_classifier.py`, a lone
folder linked to the reference's, or a notebook linked to a classmate's, was graded as that code:
full marks for nothing. Where Landlock confines the child, it refused to read a linked file, but
the grader's own process followed a linked folder and read linked notebooks, and a partial sandbox
(no Landlock: a Docker image on an older kernel) or the portable worker would import anything.
Now the grader never follows such a link, and a submission holding one does not run at all.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import GRADER, REPO
from grader.batch import fingerprint, look_through
from grader.locate import links_out, load_notebooks, locate_modules, other_notebooks

REFERENCE = REPO / "reference" / "linear_classifier" / "linear_classifier.py"
ADA = REPO / "examples" / "linear_classifier" / "ada"


def test_a_module_file_linked_out_of_the_submission_is_not_located(tmp_path, spec):
    folder = tmp_path / "mallory"
    folder.mkdir()
    (folder / "linear_classifier.py").symlink_to(REFERENCE)
    assert locate_modules(spec, folder) == {"linear_classifier": None}
    notebooks = load_notebooks(spec, folder, locate_modules(spec, folder))
    message = notebooks.errors["linear_classifier"]["message"]
    assert f"linear_classifier.py -> {REFERENCE}" in message and "remove it" in message


def test_a_link_inside_the_submission_is_followed(tmp_path, spec):
    folder = tmp_path / "alice"
    folder.mkdir()
    shutil.copy(REFERENCE, folder / "mine.py")
    (folder / "linear_classifier.py").symlink_to("mine.py")
    assert locate_modules(spec, folder) == {"linear_classifier": str(folder.resolve() / "linear_classifier.py")}
    assert links_out(folder) == []
    assert load_notebooks(spec, folder, locate_modules(spec, folder)).errors == {}


def test_links_out_finds_them_at_any_depth_and_does_not_enter_linked_folders(tmp_path):
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "secret.py").write_text("x = 1\n")
    folder = tmp_path / "sub"
    (folder / "pkg").mkdir(parents=True)
    (folder / "pkg" / "helper.py").symlink_to(outside / "deep" / "secret.py")
    (folder / "data").symlink_to(outside)                       # a folder: listed, not entered
    (folder / "broken").symlink_to(tmp_path / "nowhere")        # leads out, to nothing
    (folder / "pkg" / "here.py").symlink_to("../data_inside.txt")
    (folder / "data_inside.txt").write_text("ok")
    found = dict(links_out(folder))
    assert found == {os.path.join("pkg", "helper.py"): str(outside / "deep" / "secret.py"),
                     "data": str(outside), "broken": str(tmp_path / "nowhere")}


def test_links_out_looks_at_every_entry_however_many(tmp_path):
    """A scan that stopped after 20,000 entries missed a link put below 20,001 empty files, and the
    portable worker then imported the reference through it."""
    folder = tmp_path / "sub"
    (folder / "a" / "z").mkdir(parents=True)
    for i in range(20_001):
        (folder / "a" / f"f{i:05d}").touch()
    (folder / "a" / "z" / "helper.py").symlink_to(REFERENCE)
    assert links_out(folder) == [(os.path.join("a", "z", "helper.py"), str(REFERENCE))]


def test_other_notebooks_leave_out_a_notebook_linked_to_a_classmates(tmp_path, spec):
    bob = tmp_path / "bob"
    bob.mkdir()
    (bob / "hw.ipynb").write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    mallory = tmp_path / "mallory"
    mallory.mkdir()
    (mallory / "mine.ipynb").symlink_to(bob / "hw.ipynb")
    assert other_notebooks(mallory.resolve(), spec) == []
    assert locate_modules(spec, mallory) == {"linear_classifier": None}


def test_look_through_does_not_enter_a_linked_folder(tmp_path, spec):
    folder = tmp_path / "mallory"
    folder.mkdir()
    (folder / "ref").symlink_to(REFERENCE.parent)
    assert look_through(folder, spec) == folder
    real = tmp_path / "alice"
    (real / "hw2").mkdir(parents=True)
    shutil.copy(REFERENCE, real / "hw2" / "linear_classifier.py")
    assert look_through(real, spec) == real / "hw2"            # a real folder still is


def test_the_fingerprint_reads_a_link_not_what_it_leads_to(tmp_path, spec):
    target = tmp_path / "elsewhere.py"
    target.write_text("a = 1\n")
    folder = tmp_path / "sub"
    folder.mkdir()
    shutil.copy(REFERENCE, folder / "linear_classifier.py")
    (folder / "helper.py").symlink_to(target)
    before = fingerprint(folder, spec)
    target.write_text("a = 2\n")                              # the file it leads to changes, not the submission
    assert fingerprint(folder, spec) == before
    (folder / "helper.py").unlink()
    (folder / "helper.py").symlink_to(tmp_path / "other.py")    # the link itself changes
    assert fingerprint(folder, spec) != before


def test_a_file_s_bytes_cannot_pass_for_another_file_in_the_fingerprint(tmp_path, spec):
    """Names and bytes were hashed one after the other, unframed: `a` holding `x` then `b` holding
    `y` read as `a` holding `xsubmission/b<newline>y`, and a rerun would take one's result for the
    other's (a fifteenth red team's note)."""
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (one / "a").write_text("x")
    (one / "b").write_text("y")
    (two / "a").write_text("xsubmission/b\ny")
    assert fingerprint(one, spec) != fingerprint(two, spec)


def _check(folder: Path, tmp_path: Path) -> tuple[int, dict]:
    report = tmp_path / f"{folder.name}.json"
    proc = subprocess.run([GRADER, "check", str(folder), "-a", "linear_classifier", "--hidden", "--json", str(report)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert report.is_file(), proc.stderr
    return proc.returncode, json.loads(report.read_text())


@pytest.mark.slow
@pytest.mark.linux
@pytest.mark.parametrize("how", ["module file", "lone folder", "helper module"])
def test_grader_check_gives_nothing_for_the_reference_behind_a_link(tmp_path, how, each_worker):
    folder = tmp_path / "mallory"
    folder.mkdir()
    if how == "module file":
        (folder / "linear_classifier.py").symlink_to(REFERENCE)
    elif how == "lone folder":
        (folder / "ref").symlink_to(REFERENCE.parent)
    else:                                # their own module imports the reference through a link
        (folder / "helper.py").symlink_to(REFERENCE)
        (folder / "linear_classifier.py").write_text("from helper import *  # noqa\n")
    code, report = _check(folder, tmp_path)
    assert code != 0
    assert report["score"]["earned"] == 0
    first = report["functions"][0]["cases"][0]["message"]
    if how == "lone folder":
        assert first.startswith("not run: the submission holds a link to files outside it (ref -> ")
    else:
        assert "only the submission's own files are graded" in first


@pytest.mark.slow
@pytest.mark.linux
def test_grader_grade_does_not_give_one_student_a_classmates_work(tmp_path):
    batch = tmp_path / "batch"
    shutil.copytree(ADA, batch / "alice")
    (batch / "mallory").mkdir()
    (batch / "mallory" / "x").symlink_to("../alice")
    (batch / "trudy").mkdir()
    (batch / "trudy" / "linear_classifier.py").symlink_to("../alice/linear_classifier.py")
    out = tmp_path / "graded"
    proc = subprocess.run([GRADER, "grade", str(batch), "-a", "linear_classifier", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode in (0, 1), proc.stderr
    earned = {p.parent.name: json.loads(p.read_text())["score"]["earned"] for p in out.glob("*/result.json")}
    assert set(earned) == {"alice", "mallory", "trudy"}
    assert earned["alice"] > 0
    assert earned["mallory"] == earned["trudy"] == 0


def test_links_in_a_virtual_environment_or_a_loop_of_links_do_not_refuse_the_submission(tmp_path, spec):
    """A repository with its venv committed (venv/bin/python -> /usr/bin/python3) scored 0, though
    virtual environments are never searched for the student's files; so did a link to itself
    (`loop -> loop`), which leads nowhere, out of the folder neither."""
    for venv in ("venv", ".venv"):
        folder = tmp_path / venv.strip(".")
        (folder / venv / "bin").mkdir(parents=True)
        (folder / venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
        (folder / venv / "bin" / "python").symlink_to("/usr/bin/python3")
        shutil.copy(REFERENCE, folder / "linear_classifier.py")
        assert links_out(folder) == [], venv
        assert load_notebooks(spec, folder, locate_modules(spec, folder)).errors == {}
    folder = tmp_path / "looped"
    folder.mkdir()
    shutil.copy(REFERENCE, folder / "linear_classifier.py")
    (folder / "loop").symlink_to("loop")
    assert links_out(folder) == []
    (folder / "out").symlink_to(REFERENCE)               # still refused beside them
    assert links_out(folder) == [("out", str(REFERENCE))]

"""Batch grading the way instructors run it: `grader grade` on folders and zips of submissions.

The exports are checked against the per-student results; a batch killed with SIGKILL and run
again loses nothing and duplicates nothing; shards joined with `grader merge`, and a Dask
cluster, give the same gradebook as one local run.
"""
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import junitparser
import pytest

from grader.batch import BatchError, discover
from grader.report.gradebook import MAX_ROW
from grader.spec import load_spec

from conftest import GRADER, REPO
from test_running import CORRECT_TOTAL, make_assignment
from variants import materialize

pytestmark = pytest.mark.linux         # batch grading, Gradescope and Dask stay on Linux (the fork zygote, flock)
EXAMPLES = REPO / "examples" / "linear_classifier"


def grade(source, assignment, out, *extra, timeout=300):
    return subprocess.run([GRADER, "grade", str(source), "--assignment", str(assignment), "--out", str(out), *extra],
                          capture_output=True, text=True, timeout=timeout)


def tiny_student(folder: Path, body: str = "def scale(x, k):\n    return k * x\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tiny.py").write_text(body + CORRECT_TOTAL)
    return folder


def gradebook(out: Path) -> list[dict]:
    with open(out / "gradebook.csv", newline="") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------------------------------------
# Finding submissions


def test_discover_folders_loose_files_canvas_names_and_zips(tmp_path):
    spec = make_assignment(tmp_path)
    root = tmp_path / "export" / "wrapper"                 # a lone wrapping folder is looked through
    tiny_student(root / "alice")
    tiny_student(root / "erin" / "nested")                # the one folder inside holding the module
    (root / "bob.py").write_text("def scale(x, k):\n    return x\n")
    (root / "carol_1234_5678_tiny.py").write_text("def scale(x, k):\n    return 2 * x\n")   # Canvas
    with zipfile.ZipFile(root / "dave.zip", "w") as z:
        z.writestr("dave-hw/tiny.py", "def scale(x, k):\n    return k * x\n")
    (root / "__MACOSX").mkdir()
    (root / ".DS_Store").write_text("")
    subs = discover(tmp_path / "export", spec, tmp_path / "staging")
    assert [s.student for s in subs] == ["alice", "bob", "carol_1234_5678", "dave", "erin"]
    by_id = {s.student: s for s in subs}
    assert by_id["erin"].path == root / "erin" / "nested"
    assert (by_id["carol_1234_5678"].path / "tiny.py").read_text() == "def scale(x, k):\n    return 2 * x\n"
    assert (by_id["dave"].path / "tiny.py").is_file()
    # The fingerprint follows the files' content: alice and erin handed in the same file.
    assert by_id["alice"].fingerprint == by_id["erin"].fingerprint
    assert len({s.fingerprint for s in subs}) == 4


def test_a_zip_of_the_whole_export_gives_the_same_students(tmp_path):
    spec = make_assignment(tmp_path)
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("hw/alice/tiny.py", "def scale(x, k):\n    return k * x\n")
        z.writestr("hw/bob.py", "def scale(x, k):\n    return x\n")
    assert [s.student for s in discover(archive, spec, tmp_path / "staging")] == ["alice", "bob"]


@pytest.mark.parametrize("name, problem", [("../evil/tiny.py", "points outside its folder"),
                                           ("/abs/tiny.py", "points outside its folder"),
                                           ("link", "is a link")])
def test_unsafe_entries_of_an_export_are_never_unpacked_and_are_named(tmp_path, name, problem):
    spec = make_assignment(tmp_path)
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("hw/alice/tiny.py", "def scale(x, k):\n    return k * x\n")
        _unsafe_entry(z, name, "../../reference/linear_classifier/linear_classifier.py")
    notes: list = []
    assert [s.student for s in discover(archive, spec, tmp_path / "staging", notes=notes)] == ["alice"]
    assert any(problem in note and name in note for note in notes), notes
    assert not (tmp_path / "evil").exists() and not (tmp_path / "staging" / "_export" / "link").exists()


def _unsafe_entry(z: zipfile.ZipFile, name: str, text: str) -> None:
    """An entry named `name`; a symbolic link to `text` when it is called "link"."""
    info = zipfile.ZipInfo(name)
    if name == "link":
        info.external_attr = (0o120777 << 16)
    z.writestr(info, text)


@pytest.mark.parametrize("name, problem", [("../evil/tiny.py", "points outside its folder"),
                                           ("ok/../tiny.py", "points outside its folder"),
                                           ("link", "is a link")])
def test_a_students_own_zip_with_an_unsafe_entry_is_that_students_problem(tmp_path, name, problem):
    spec = make_assignment(tmp_path)
    root = tmp_path / "export"
    tiny_student(root / "alice")
    with zipfile.ZipFile(root / "mallory.zip", "w") as z:
        z.writestr("tiny.py", "def scale(x, k):\n    return k * x\n")
        _unsafe_entry(z, name, "../../alice/tiny.py")
    by_id = {s.student: s for s in discover(root, spec, tmp_path / "staging")}
    assert by_id["alice"].problem == "" and problem in by_id["mallory"].problem, by_id["mallory"]
    assert not (tmp_path / "evil").exists()


def test_an_export_entry_that_cannot_be_a_file_here_costs_its_student_only(tmp_path, monkeypatch):
    """A thirteenth red team stopped whole classes with one student's entry each: a name of 100 CJK
    characters (300 bytes: fine on macOS, too long for Linux), a file `a` beside `a/b.py`, and a
    file unpacking to 210 MiB (the 200 MiB that one student's zip may unpack to was the whole
    export's limit too). Each is now that student's problem."""
    import importlib
    monkeypatch.setattr(importlib.import_module("grader.batch.discover"), "MAX_UNZIPPED", 1 << 20)            # 1 MiB here: the test writes less
    spec = make_assignment(tmp_path)
    archive = tmp_path / "export.zip"
    bob = "def scale(x, k):\n    return k * x\n" + CORRECT_TOTAL
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("submissions/alice/tiny.py", bob)
        z.writestr("submissions/bob/tiny.py", bob)
        z.writestr("submissions/long/tiny.py", bob)
        z.writestr("submissions/long/" + "\u4e2d" * 100 + ".py", "x = 1\n")
        z.writestr("submissions/clash/tiny.py", bob)
        z.writestr("submissions/clash/a", "a file")
        z.writestr("submissions/clash/a/b.py", "x = 1\n")
        z.writestr("submissions/big/tiny.py", bob)
        z.writestr("submissions/big/data.npy", b"\0" * (2 << 20))
    subs = {s.student: s for s in discover(archive, spec, tmp_path / "staging")}
    assert sorted(subs) == ["alice", "big", "bob", "clash", "long"]
    assert subs["alice"].problem == subs["bob"].problem == ""
    assert "could not be unpacked here (File name too long)" in subs["long"].problem, subs["long"].problem
    assert "a/b.py could not be unpacked here" in subs["clash"].problem, subs["clash"].problem
    assert "data.npy unpacks to more than 1 MiB" in subs["big"].problem, subs["big"].problem
    assert not (tmp_path / "staging" / "_export" / "submissions" / "big" / "data.npy").exists()


def test_one_students_unsafe_entry_in_the_class_export_costs_that_student_only(tmp_path):
    """An export's entry under mallory's folder that is a link, or whose name (a file called
    `..\\..\\notes.txt`, or `..\\bob\\tiny.py`, which would replace bob's file) leaves her folder,
    is not unpacked: mallory's submission is refused naming it, and the rest of the class is graded.
    Before, the whole export was refused, and nobody was graded."""
    spec = make_assignment(tmp_path)
    archive = tmp_path / "export.zip"
    bob = "def scale(x, k):\n    return k * x\n" + CORRECT_TOTAL
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("submissions/alice/tiny.py", bob)
        z.writestr("submissions/bob/tiny.py", bob)
        z.writestr("submissions/mallory/tiny.py", "def scale(x, k):\n    return x\n")
        z.writestr("submissions/mallory/..\\bob\\tiny.py", "def scale(x, k):\n    return 0 * x\n")
        z.writestr("submissions/mallory/..\\..\\..\\notes.txt", "outside")
        z.writestr("submissions/eve/tiny.py", bob)
        info = zipfile.ZipInfo("submissions/eve/data")
        info.external_attr = (0o120777 << 16)
        z.writestr(info, "../bob")
    subs = {s.student: s for s in discover(archive, spec, tmp_path / "staging")}
    assert sorted(subs) == ["alice", "bob", "eve", "mallory"]
    assert subs["alice"].problem == subs["bob"].problem == ""
    assert (subs["bob"].path / "tiny.py").read_text() == bob          # not mallory's
    assert "bob\\tiny.py points outside its folder" in subs["mallory"].problem, subs["mallory"].problem
    assert "data is a link" in subs["eve"].problem, subs["eve"].problem
    assert not list(tmp_path.rglob("notes.txt"))
    out = tmp_path / "out"
    proc = grade(archive, tmp_path / "assignment", out)
    assert proc.returncode == 0, proc.stderr
    rows = {r["student"]: r for r in gradebook(out)}
    assert rows["alice"]["total"] == rows["bob"]["total"] == "5"
    assert rows["mallory"]["status"] == rows["eve"]["status"] == "error"


def test_a_usage_error_naming_a_path_prints_no_escape_sequence(tmp_path):
    """A usage error quotes what it was given (a class folder's name, an archive's entry):
    printed as any report prints the submission's text, with no escape sequence that would
    redraw the instructor's terminal (a fake 'graded 4 submissions: mean 100.0%')."""
    make_assignment(tmp_path)
    proc = grade(tmp_path / "class\x1b[2K\x1b[32mgraded", tmp_path / "assignment", tmp_path / "out")
    assert proc.returncode != 0 and "no such file or folder" in proc.stderr, proc.stderr
    assert "\x1b" not in proc.stderr, repr(proc.stderr)


def test_no_student_is_dropped_when_two_would_get_the_same_id(tmp_path):
    """Ids keep letters of any script; entries that would still share an id, or take an export's
    name, get a suffix, and each renaming is a note: no student silently replaces another."""
    spec = make_assignment(tmp_path)
    root = tmp_path / "export"
    for name in ("a b", "a_b", "Zoë", "Zoé", "carl", "junit.xml", "Alice", "alice", "-1", "@SUM(1)",
                 "similarity.html", "similarity.csv"):
        tiny_student(root / name)
    (root / "carl.py").write_text("def scale(x, k):\n    return x\n")
    (root / "dan.py").write_text("def scale(x, k):\n    return x\n")
    (root / "dan_tiny.py").write_text("def scale(x, k):\n    return 2 * x\n")
    notes: list[str] = []
    subs = discover(root, spec, tmp_path / "staging", notes=notes)
    assert [s.student for s in subs] == ["Alice", "Zoé", "Zoë", "_1", "_SUM_1_", "a_b", "a_b-2", "alice-2",
                                         "carl", "carl-2", "dan", "dan-2", "junit.xml-2", "similarity.csv-2",
                                         "similarity.html-2"]
    assert len(notes) == 7
    assert f"{root / 'junit.xml'} is graded as student junit.xml-2: junit.xml is the class export of that name" in notes
    assert f"{root / 'carl.py'} is graded as student carl-2: carl is {root / 'carl'}" in notes
    by_id = {s.student: s for s in subs}
    assert (by_id["dan"].path / "tiny.py").read_text() != (by_id["dan-2"].path / "tiny.py").read_text()
    assert by_id["carl-2"].origin == str(root / "carl.py")


def test_a_name_too_long_for_a_folder_gets_a_short_id_of_its_own(tmp_path):
    """A folder name of 255 bytes that NFC makes longer (U+0958 is written as two code points), or
    that a suffix would take past the limit, was the name of the student's output folder: the batch
    stopped at 'File name too long'. Long ids are cut, and keep a digest of the whole name: two
    names alike in their first 200 bytes are still two students, under the same ids at every run."""
    spec = make_assignment(tmp_path)
    root = tmp_path / "export"
    long_a, long_b = "\u0958" * 85, "\u0958" * 84 + "x"
    for name in (long_a, long_b, "bob"):
        tiny_student(root / name)
    subs = discover(root, spec, tmp_path / "staging")
    ids = [s.student for s in subs]
    assert len(set(ids)) == 3 and "bob" in ids
    assert all(len(sid.encode()) <= 120 for sid in ids), ids
    assert [s.student for s in discover(root, spec, tmp_path / "staging2")] == ids
    out = tmp_path / "out"
    proc = grade(root, tmp_path / "assignment", out)
    assert proc.returncode == 0, proc.stderr
    assert set(ids) <= {row["student"] for row in gradebook(out)}
    assert all((out / sid / "result.json").is_file() for sid in ids)


def test_a_student_whose_results_cannot_be_written_does_not_stop_the_batch(tmp_path):
    """Writing one student's files failed (here a file stands where their folder goes): the batch
    stopped with nothing of the others kept. That student is now the one said to have failed, and
    the others are graded and written."""
    make_assignment(tmp_path)
    root = tmp_path / "export"
    for name in ("alice", "bob", "carl"):
        tiny_student(root / name)
    out = tmp_path / "out"
    out.mkdir()
    (out / "bob").write_text("not a folder\n")
    proc = grade(root, tmp_path / "assignment", out)
    assert proc.returncode != 0
    assert "bob" in proc.stderr and "could not be written" in proc.stderr, proc.stderr
    assert (out / "alice" / "result.json").is_file() and (out / "carl" / "result.json").is_file()
    assert {row["student"] for row in gradebook(out)} >= {"alice", "carl"}


def test_canvas_resubmissions_and_helpers_group_under_the_student(tmp_path):
    spec = make_assignment(tmp_path)
    root = tmp_path / "export"
    root.mkdir()
    (root / "gus_44444_55555_tiny-1.py").write_text("def scale(x, k):\n    return k * x\n")   # a resubmission
    (root / "hal_66666_77777_tiny.py").write_text("from helpers import twice\ndef scale(x, k):\n    return twice(x)\n")
    (root / "hal_66666_77777_helpers.py").write_text("def twice(x):\n    return 2 * x\n")
    subs = discover(root, spec, tmp_path / "staging")
    assert [s.student for s in subs] == ["gus_44444_55555", "hal_66666_77777"]
    assert sorted(p.name for p in subs[1].path.iterdir()) == ["helpers.py", "tiny.py"]
    assert (subs[0].path / "tiny.py").is_file()


def test_what_the_batch_looks_through_and_what_it_skips(tmp_path):
    spec = make_assignment(tmp_path)
    (tmp_path / "one" / "alice").mkdir(parents=True)            # one student, with a notebook only
    (tmp_path / "one" / "alice" / "hw2.ipynb").write_text("{}")
    assert [s.student for s in discover(tmp_path / "one", spec, tmp_path / "s1")] == ["alice"]
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "README.txt").write_text("hw2 export")   # a stray file beside the lone wrapper
    tiny_student(tmp_path / "two" / "hw" / "ada")
    tiny_student(tmp_path / "two" / "hw" / "bob")
    assert [s.student for s in discover(tmp_path / "two", spec, tmp_path / "s2")] == ["ada", "bob"]
    tiny_student(tmp_path / "three" / "ada")
    tiny_student(tmp_path / "three" / "bob")
    out = tmp_path / "three" / "graded"                          # the output folder, inside the submissions,
    (out / "ada").mkdir(parents=True)                            # with an earlier run's results
    (out / "ada" / "result.json").write_text("{}")
    (out / "gradebook.csv").write_text("student\n")
    subs = discover(tmp_path / "three", spec, tmp_path / "s3", exclude=out)
    assert [s.student for s in subs] == ["ada", "bob"]
    # a student's folder named like OUT is no output folder: graded, it was dropped without a word and
    # the class's exports written among its files (a fifteenth red team)
    notes: list = []
    with pytest.raises(BatchError, match="the output folder is in .*, and holds what `grader grade` does not write "
                                         r"\(tiny.py\): it looks like a submission; give --out a folder of its own"):
        discover(tmp_path / "three", spec, tmp_path / "s4", exclude=tmp_path / "three" / "bob", notes=notes)
    # ... nor its module one folder down, nor a zip, nor a folder named like an export (a sixteenth red team)
    tiny_student(tmp_path / "three" / "carl" / "hw")
    (tmp_path / "three" / "dee").mkdir()
    (tmp_path / "three" / "dee" / "submission.zip").write_bytes(b"PK")
    (tmp_path / "three" / "eve" / "gradebook.csv").mkdir(parents=True)
    for name, strange in (("carl", "hw/tiny.py"), ("dee", "submission.zip"), ("eve", "gradebook.csv")):
        with pytest.raises(BatchError, match=rf"does not write \({strange}\)"):
            discover(tmp_path / "three", spec, tmp_path / "s5", exclude=tmp_path / "three" / name)


@pytest.mark.slow
def test_a_zip_from_windows_tools_and_a_broken_student_zip(tmp_path):
    """Backslashes in a zip's names are folders; a student's zip that does not unpack is that
    student's problem, graded as an error naming the file, and the batch goes on."""
    spec = make_assignment(tmp_path)
    root = tmp_path / "export"
    root.mkdir()
    with zipfile.ZipFile(root / "winnie.zip", "w") as z:
        z.writestr("hw2\\tiny.py", "def scale(x, k):\n    return k * x\n" + CORRECT_TOTAL)
    (root / "carol.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with zipfile.ZipFile(root / "dora_123_456_hw2.zip", "w") as z:     # Canvas names a student's zip as any file
        z.writestr("tiny.py", "def scale(x, k):\n    return k * x\n" + CORRECT_TOTAL)
    tiny_student(root / "ada")
    out = tmp_path / "out"
    proc = grade(root, tmp_path / "assignment", out)
    assert proc.returncode == 0, proc.stderr
    rows = {r["student"]: r for r in gradebook(out)}
    assert rows["winnie"]["total"] == rows["ada"]["total"] == rows["dora_123_456"]["total"] == "5"
    assert rows["carol"]["total"] == "0" and rows["carol"]["status"] == "error"
    carol = json.loads((out / "carol" / "result.json").read_text())
    assert carol["submission"] == str(root / "carol.zip")
    assert carol["functions"][0]["cases"][0]["message"].startswith("carol.zip could not be unpacked: ")


def _zip_saying(path: Path, method: int = 0, flags: int = 0) -> None:
    """A zip whose one entry says it was compressed with `method` (9: Deflate64, which Windows writes)
    and has the general purpose `flags` (1: encrypted)."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("tiny.py", "def scale(x, k):\n    return k * x\n")
    data = bytearray(path.read_bytes())
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    data[local + 6:local + 8] = data[central + 8:central + 10] = flags.to_bytes(2, "little")
    data[local + 8:local + 10] = data[central + 10:central + 12] = method.to_bytes(2, "little")
    path.write_bytes(bytes(data))


@pytest.mark.slow
def test_no_student_archive_stops_the_batch(tmp_path):
    """Encrypted, an unknown compression, damaged data, entries that cannot be files here, too many
    entries: each is that student's problem, named, and the others are graded."""
    make_assignment(tmp_path)
    root = tmp_path / "export"
    root.mkdir()
    tiny_student(root / "ada")
    _zip_saying(root / "enc.zip", flags=1)
    _zip_saying(root / "deflate64.zip", method=9)
    with zipfile.ZipFile(root / "damaged.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("tiny.py", "x = 1\n" * 1000)
    data = bytearray((root / "damaged.zip").read_bytes())
    data[40:60] = b"\xff" * 20                                          # inside the deflated data
    (root / "damaged.zip").write_bytes(bytes(data))
    with zipfile.ZipFile(root / "dirfile.zip", "w") as z:
        z.writestr("x/", "")
        z.writestr("x", "a file where a folder is")
    with zipfile.ZipFile(root / "longname.zip", "w") as z:
        z.writestr("n" * 300 + ".py", "")
    with zipfile.ZipFile(root / "many.zip", "w") as z:
        for i in range(50_001):
            z.writestr(f"f{i}", "")
    with zipfile.ZipFile(root / "finder.zip", "w") as z:            # macOS's copies are not counted, nor unpacked
        z.writestr("tiny.py", "def scale(x, k):\n    return k * x\n" + CORRECT_TOTAL)
        for i in range(50_001):
            z.writestr(f"__MACOSX/._f{i}", "")
    out = tmp_path / "out"
    proc = grade(root, tmp_path / "assignment", out)
    assert proc.returncode == 0, proc.stderr
    rows = {r["student"]: r for r in gradebook(out) if r["student"] != "Points Possible"}
    assert rows["ada"]["total"] == rows["finder"]["total"] == "5" and len(rows) == 8
    why = {name: json.loads((out / name / "result.json").read_text())["functions"][0]["cases"][0]["message"]
           for name in rows if name not in ("ada", "finder")}
    for name, message in why.items():
        assert rows[name]["total"] == "0" and message.startswith(f"{name}.zip could not be unpacked: "), (name, message)
        assert "grader-batch-" not in message, message                          # no staging path
    assert "encrypted" in why["enc"] and "compression method" in why["deflate64"]
    assert "'n" in why["longname"] and "File name too long" in why["longname"]
    assert "holds 50,001 entries, more than the 50,000" in why["many"]


@pytest.mark.slow
def test_entries_that_are_no_submission_are_named_not_dropped(tmp_path):
    make_assignment(tmp_path)
    root = tmp_path / "export"
    root.mkdir()
    tiny_student(root / "ada")
    (root / "carol.tar.gz").write_bytes(b"\x1f\x8b")
    (root / "dave.PY").write_text("def scale(x, k):\n    return k * x\n")
    tiny_student(root / ".erin")
    (root / ".ipynb_checkpoints").mkdir()
    (root / "loop.py").symlink_to("loop.py")                         # a loop of links, and a link to nothing
    (root / "gone").symlink_to(tmp_path / "nowhere")
    proc = grade(root, tmp_path / "assignment", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert ("grader: note: not graded, as no submission: .erin, carol.tar.gz, dave.PY, gone, loop.py (a submission is a "
            "folder, a .py, .ipynb or .zip file; names starting with '.' are skipped)") in proc.stderr, proc.stderr
    assert [r["student"] for r in gradebook(tmp_path / "out")] == ["Points Possible", "ada"]


@pytest.mark.slow
def test_the_class_mean_leaves_out_submissions_worth_no_points(tmp_path):
    make_assignment(tmp_path)
    spec_file = tmp_path / "assignment" / "assignment.yaml"
    spec_file.write_text(spec_file.read_text().replace("points: 3", "points: 0").replace("points: 2", "points: 0"))
    subs = tmp_path / "subs"
    tiny_student(subs / "ada")
    tiny_student(subs / "bob", "def scale(x, k):\n    return x\n")
    proc = grade(subs, tmp_path / "assignment", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert [r["percent"] for r in gradebook(tmp_path / "out")[1:]] == ["0.00", "0.00"]   # the CSV's own convention
    assert proc.stdout.splitlines()[0] == "graded 2 submissions of tiny: no points possible"


@pytest.mark.slow
def test_a_public_only_result_is_not_taken_for_a_full_one(tmp_path):
    make_assignment(tmp_path)
    subs, out = tmp_path / "subs", tmp_path / "out"
    tiny_student(subs / "ada")
    assert grade(subs, tmp_path / "assignment", out, "--public-only").returncode == 0
    assert json.loads((out / "ada" / "result.json").read_text())["hidden_graded"] is False
    proc = grade(subs, tmp_path / "assignment", out)
    assert proc.returncode == 0 and "already graded" not in proc.stderr
    assert json.loads((out / "ada" / "result.json").read_text())["hidden_graded"] is True
    assert "already graded" not in grade(subs, tmp_path / "assignment", out, "--public-only").stderr


# ---------------------------------------------------------------------------------------------
# A mixed class of linear_classifier submissions


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mixed")
    subs = tmp / "subs"
    subs.mkdir()
    for name in ("ada", "bob"):
        (subs / name).mkdir()
        (subs / name / "linear_classifier.py").write_text((EXAMPLES / name / "linear_classifier.py").read_text())
    materialize("reg_grad_half", subs)
    materialize("segfault_ctypes", subs, corpus="adversarial")
    (subs / "zoe_991_17_linear_classifier.py").write_text(
        (REPO / "student_template" / "linear_classifier" / "linear_classifier.py").read_text())
    out = tmp / "out"
    proc = grade(subs, "linear_classifier", out)
    return subs, out, proc


STUDENTS = ["ada", "bob", "reg_grad_half", "segfault_ctypes", "zoe_991_17"]


@pytest.mark.slow
def test_batch_writes_every_student_and_the_class_exports(mixed):
    subs, out, proc = mixed
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == STUDENTS
    for student in STUDENTS:
        assert sorted(p.name for p in (out / student).iterdir()) == ["feedback.txt", "result.json", "results.json"]
    assert {"gradebook.csv", "junit.xml", "report.html"} <= {p.name for p in out.iterdir()}
    percents = [float(r["percent"]) for r in gradebook(out)[1:]]
    assert proc.stdout.splitlines()[0] == \
        f"graded 5 submissions of linear_classifier: mean {sum(percents) / len(percents):.1f}%"


@pytest.mark.slow
def test_gradebook_agrees_with_the_per_student_results(mixed):
    _, out, _ = mixed
    rows = gradebook(out)
    assert rows[0]["student"] == MAX_ROW and rows[0]["total"] == "20"
    assert [r["student"] for r in rows[1:]] == STUDENTS
    for row in rows[1:]:
        result = json.loads((out / row["student"] / "result.json").read_text())
        assert result["student"] == row["student"] and result["hidden_graded"] is True
        for fn in result["functions"]:
            assert float(row[fn["name"]]) == pytest.approx(fn["earned"])
        assert float(row["total"]) == pytest.approx(result["score"]["earned"])
        assert float(row["max"]) == result["score"]["possible"] == 20
    status = {r["student"]: r["status"] for r in rows[1:]}
    assert status == {"ada": "ok", "bob": "ok", "reg_grad_half": "ok", "segfault_ctypes": "crashed", "zoe_991_17": "error"}
    totals = {r["student"]: float(r["total"]) for r in rows[1:]}
    assert totals["ada"] == 20 and totals["bob"] == 5.5 and totals["zoe_991_17"] == 0
    assert totals["reg_grad_half"] == 15.5 and totals["segfault_ctypes"] == 15


@pytest.mark.slow
def test_merged_junit_counts_are_junitparsers_own_to_the_byte(mixed):
    """The merged file's counts come from the results, not from junitparser reading every testcase
    back: they must be what its update_statistics makes of the same document, checks included."""
    import io
    from grader.batch import collect
    from grader.report.junit import build_batch_junit
    from grader.results import ERROR, FAILED, PASSED, CheckResult
    _, out, _ = mixed
    results = collect([out])
    fn = results[0].functions[0]
    fn.checks = [CheckResult(fn.name, "no_loops", "public", FAILED), CheckResult(fn.name, "gradient", "hidden", ERROR),
                 CheckResult(fn.name, "faster_than", "hidden", PASSED)]
    ours, theirs = io.BytesIO(), io.BytesIO()
    build_batch_junit(results).write(ours)
    recounted = build_batch_junit(results)
    recounted.update_statistics()
    recounted.write(theirs)
    assert ours.getvalue() == theirs.getvalue()
    assert b'failures="' in ours.getvalue() and ours.getvalue().count(b"<testsuite ") == 20


@pytest.mark.slow
def test_merged_junit_agrees_with_the_per_student_results(mixed):
    _, out, _ = mixed
    xml = junitparser.JUnitXml.fromfile(str(out / "junit.xml"))
    suites = {suite.name: suite for suite in xml}
    assert len(suites) == 5 * 4
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for student in STUDENTS:
        counts = json.loads((out / student / "result.json").read_text())["counts"]
        for key in totals:
            totals[key] += counts[key]
        mine = [s for name, s in suites.items() if name.startswith(student + ".")]
        assert sum(s.tests for s in mine) == counts["tests"]
        assert sum(s.failures for s in mine) == counts["failures"]
        assert sum(s.errors for s in mine) == counts["errors"]
    assert (xml.tests, xml.failures, xml.errors) == (totals["tests"], totals["failures"], totals["errors"])


@pytest.mark.slow
def test_gradescope_files_agree_with_the_per_student_results(mixed):
    _, out, _ = mixed
    for student in STUDENTS:
        result = json.loads((out / student / "result.json").read_text())
        gs = json.loads((out / student / "results.json").read_text())
        assert gs["score"] == pytest.approx(result["score"]["earned"])
        assert sum(t["max_score"] for t in gs["tests"]) == pytest.approx(result["score"]["possible"])
        assert sum(t["score"] for t in gs["tests"]) == pytest.approx(result["score"]["earned"])
        assert {t["visibility"] for t in gs["tests"]} == {"visible", "after_published"}


@pytest.mark.slow
def test_html_report_opens_offline(mixed):
    _, out, _ = mixed
    page = (out / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert "http://" not in page and "https://" not in page and "<script src" not in page
    for student in STUDENTS:
        assert f'href="{student}/feedback.txt"' in page


@pytest.mark.slow
def test_running_again_grades_only_what_changed(mixed):
    subs, out, _ = mixed
    before = {s: (out / s / "result.json").stat().st_mtime_ns for s in STUDENTS}
    proc = grade(subs, "linear_classifier", out)
    assert proc.returncode == 0
    assert "5 of 5 already graded (unchanged since): skipped" in proc.stderr
    assert {s: (out / s / "result.json").stat().st_mtime_ns for s in STUDENTS} == before
    path = subs / "bob" / "linear_classifier.py"
    path.write_text(path.read_text().replace("+ reg * W          #", "+ 2 * reg * W      #"))
    proc = grade(subs, "linear_classifier", out)
    assert "4 of 5 already graded" in proc.stderr
    after = {s: (out / s / "result.json").stat().st_mtime_ns for s in STUDENTS}
    assert [s for s in STUDENTS if after[s] != before[s]] == ["bob"]
    assert {r["student"]: r["total"] for r in gradebook(out)}["bob"] == "10"   # the SVM is now right


# ---------------------------------------------------------------------------------------------
# Interruptions, shards, clusters (the tiny numpy assignment keeps these fast)


SLOW = "import time\ndef scale(x, k):\n    time.sleep(0.25)\n    return k * x\n"


@pytest.mark.slow
def test_a_batch_killed_with_sigkill_loses_and_duplicates_nothing(tmp_path):
    make_assignment(tmp_path)
    subs = tmp_path / "subs"
    students = [f"s{i:02d}" for i in range(16)]
    for i, student in enumerate(students):
        tiny_student(subs / student, SLOW if i % 2 else SLOW.replace("k * x", "x"))
    out = tmp_path / "out"
    cmd = [GRADER, "grade", str(subs), "-a", str(tmp_path / "assignment"), "--out", str(out), "--workers", "2"]
    tmp = tmp_path / "tmp"                                 # the runs' temporary folder, to see what they leave
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env)
    deadline = time.monotonic() + 120
    while len(list(out.glob("*/result.json"))) < 4 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)                    # the grader and its workers, mid-batch
    proc.wait()
    finished = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/result.json")}
    assert 4 <= len(finished) < len(students)
    for name in finished:                                  # every result on disk is complete
        json.loads((out / name / "result.json").read_text())

    left = sorted(p.name for p in tmp.iterdir())
    assert [n for n in left if n.startswith("grader-worker-")] and [n for n in left if n.startswith("grader-batch-")]
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert again.returncode == 0, again.stderr
    assert f"{len(finished)} of 16 already graded" in again.stderr
    # the killed run's job folders (the students' printed output) and staging folder are gone too
    assert [p.name for p in tmp.iterdir() if p.name.startswith("grader-")] == []
    assert {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/result.json") if p.parent.name in finished} == finished
    rows = gradebook(out)
    assert [r["student"] for r in rows] == [MAX_ROW, *students]           # each student exactly once
    assert {r["student"]: r["total"] for r in rows[1:]} == {s: ("5" if i % 2 else "2") for i, s in enumerate(students)}


HANGS = "def scale(x, k):\n    while True:\n        pass\n"


def processes_naming(folder: Path) -> list[int]:
    """The processes whose command line or environment names `folder` (a run's TMPDIR)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and any(str(folder).encode() in (entry / part).read_bytes()
                                            for part in ("cmdline", "environ")):
                pids.append(int(entry.name))
        except OSError:
            pass
    return pids


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["zygote", "portable"])
def test_ctrl_c_stops_a_batch_at_once_keeps_what_finished_and_leaves_no_process_behind(tmp_path, kind):
    """Ctrl-C at a terminal sends SIGINT to the grader and its zygotes alike. The batch stops in the
    middle of a case, not at its two-minute time limit, nor after the students still waiting; the
    students graded before keep their results; and no process of the run is left (the zygote kills
    the child it was running, whose loop would otherwise spin until its CPU limit)."""
    make_assignment(tmp_path)
    spec = tmp_path / "assignment" / "assignment.yaml"
    spec.write_text(spec.read_text().replace("case_timeout: 1.5", "case_timeout: 120"))
    subs, out, scratch = tmp_path / "subs", tmp_path / "out", tmp_path / "tmp"
    for name in ("a", "b"):
        tiny_student(subs / name, "def scale(x, k):\n    return k * x\n")
    for name in ("c", "d"):
        tiny_student(subs / name, HANGS)
    scratch.mkdir()
    left = lambda: processes_naming(scratch)
    cmd = [GRADER, "grade", str(subs), "-a", str(tmp_path / "assignment"), "--out", str(out), "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "TMPDIR": str(scratch), "GRADER_WORKER": kind},   # the run's processes name it
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))   # as at a terminal
    deadline = time.monotonic() + 120
    while not (out / "b" / "result.json").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(1.0)                                        # c's child is in its loop
    os.killpg(proc.pid, signal.SIGINT)
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:                            # the test fails: leave nothing running
            os.killpg(proc.pid, signal.SIGKILL)
            for pid in left():
                os.kill(pid, signal.SIGKILL)
    assert proc.returncode == 130 and "grader: interrupted" in stderr, stderr
    assert {p.parent.name for p in out.glob("*/result.json")} == {"a", "b"}

    deadline = time.monotonic() + 10
    while left() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left() == []


@pytest.mark.slow
def test_a_second_run_into_the_same_folder_stops_at_once_and_the_first_finishes(tmp_path):
    make_assignment(tmp_path)
    subs, out = tmp_path / "subs", tmp_path / "out"
    students = [f"s{i}" for i in range(8)]
    for student in students:
        tiny_student(subs / student, SLOW)
    cmd = [GRADER, "grade", str(subs), "-a", str(tmp_path / "assignment"), "--out", str(out), "--workers", "1"]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = out / ".grader.lock"
    deadline = time.monotonic() + 120
    while not (lock.is_file() and lock.read_text()) and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.02)
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert first.poll() is None, "the first run ended before the second started: the test proves nothing"
    assert second.returncode == 2 and second.stdout == ""
    assert second.stderr == (f"grader: error: {out} is being written by another grader run (process {first.pid}, "
                             f"started {lock.read_text().split('started ')[1].strip()}); wait for it to finish, or give "
                             "this one another --out (shards: one --out each, then `grader merge`)\n")
    assert merge(out, out=out).returncode == 2                     # merging into it waits its turn too
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert [r["student"] for r in gradebook(out)] == [MAX_ROW, *students]
    assert {p.parent.name for p in out.glob("*/result.json")} == set(students)
    assert grade(subs, tmp_path / "assignment", out).returncode == 0         # and the folder is free again


def test_a_folder_that_cannot_be_locked_is_written_unguarded_with_a_note(tmp_path, monkeypatch, capsys):
    import errno
    import fcntl
    from grader.batch import writing_into

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")
    monkeypatch.setattr(fcntl, "flock", no_locks)                 # as on some network file systems
    with writing_into(tmp_path / "out"):
        (tmp_path / "out" / "written").write_text("")
    assert (tmp_path / "out" / "written").is_file()
    assert capsys.readouterr().err == (f"grader: note: {tmp_path / 'out'} cannot be locked (No locks available); "
                                       "do not run two grader runs into it at once\n")


def small_class(tmp_path: Path, n: int, out: Path) -> tuple[Path, Path]:
    """n tiny submissions, every other one right, graded once locally into `out`."""
    make_assignment(tmp_path)
    subs = tmp_path / "subs"
    for i in range(n):
        tiny_student(subs / f"s{i}", "def scale(x, k):\n    return k * x\n" if i % 2 else "def scale(x, k):\n    return x\n")
    assignment = tmp_path / "assignment"
    assert grade(subs, assignment, out).returncode == 0
    return subs, assignment


def merge(*folders: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([GRADER, "merge", *map(str, folders), "--out", str(out)], capture_output=True, text=True)


@pytest.mark.slow
def test_shards_merged_give_the_gradebook_of_one_run(tmp_path):
    subs, assignment = small_class(tmp_path, 6, tmp_path / "all")
    spec_file = assignment / "assignment.yaml"
    spec_file.write_text(spec_file.read_text().replace("name: tiny\n", "name: tiny\ntitle: Tiny & scaled\n"))
    for part in ("1/3", "2/3", "3/3"):
        proc = grade(subs, assignment, tmp_path / f"shard{part[0]}", "--shard", part)
        assert proc.returncode == 0, proc.stderr
    shards = [sorted(p.name for p in (tmp_path / f"shard{i}").iterdir() if p.is_dir()) for i in (1, 2, 3)]
    assert sorted(sum(shards, [])) == [f"s{i}" for i in range(6)]              # each student in exactly one shard
    proc = merge(tmp_path / "shard1", tmp_path / "shard2", tmp_path / "shard3", out=tmp_path / "merged")
    assert proc.returncode == 0, proc.stderr
    assert gradebook(tmp_path / "merged") == gradebook(tmp_path / "all")
    page = (tmp_path / "merged" / "report.html").read_text()
    assert "<title>Tiny &amp; scaled</title>" in page and "<h1>Tiny &amp; scaled</h1>" in page    # the spec's title
    assert grade(subs, assignment, tmp_path / "bad", "--shard", "4/3").returncode == 2


@pytest.mark.slow
def test_results_of_students_no_longer_in_the_class_are_named_not_counted(tmp_path):
    subs, assignment = small_class(tmp_path, 3, tmp_path / "out")
    shutil.rmtree(subs / "s2")                                           # withdrawn since the first run
    proc = grade(subs, assignment, tmp_path / "out")
    assert proc.returncode == 0
    assert [r["student"] for r in gradebook(tmp_path / "out")] == [MAX_ROW, "s0", "s1"]
    assert (f"grader: note: {tmp_path / 'out'} also holds the results of 1 student not in this run (s2), left out "
            "of its gradebook; remove their folders, or `grader merge` to count them\n") in proc.stderr


@pytest.mark.slow
def test_a_students_shard_does_not_change_when_the_class_does(tmp_path):
    """Shards run at different times, the folder changing between them, still cover the class once:
    a student's shard depends on their id only. A shard with nobody in it is not an error."""
    subs, assignment = small_class(tmp_path, 3, tmp_path / "all")
    assert grade(subs, assignment, tmp_path / "a1", "--shard", "1/2").returncode == 0
    tiny_student(subs / "abe")                                               # a late submission
    assert grade(subs, assignment, tmp_path / "a2", "--shard", "2/2").returncode == 0
    first = {p.name for p in (tmp_path / "a1").iterdir() if p.is_dir()}
    second = {p.name for p in (tmp_path / "a2").iterdir() if p.is_dir()}
    assert not first & second and first | second == {"s0", "s1", "s2", "abe"} - ({"abe"} & first)
    (tmp_path / "one").mkdir()
    tiny_student(tmp_path / "one" / "s0")
    for part in ("1/2", "2/2"):
        proc = grade(tmp_path / "one", assignment, tmp_path / f"one{part[0]}", "--shard", part)
        assert proc.returncode == 0, proc.stderr
        assert f"shard {part}: " in proc.stderr
    assert [r["student"] for r in gradebook(tmp_path / "one1") + gradebook(tmp_path / "one2")].count("s0") == 1


@pytest.mark.slow
def test_merge_refuses_what_cannot_share_a_gradebook(tmp_path):
    subs, assignment = small_class(tmp_path, 2, tmp_path / "full")
    assert grade(subs, assignment, tmp_path / "public", "--public-only").returncode == 0
    proc = merge(tmp_path / "full", tmp_path / "public", out=tmp_path / "m1")
    assert proc.returncode == 2 and "graded differently (tiny, without the hidden cases; tiny, with the hidden cases)" in proc.stderr
    (subs / "s0" / "tiny.py").write_text("def scale(x, k):\n    return 3 * x\n" + CORRECT_TOTAL)
    assert grade(subs, assignment, tmp_path / "changed").returncode == 0
    proc = merge(tmp_path / "full", tmp_path / "changed", out=tmp_path / "m2")
    assert proc.returncode == 2 and proc.stderr.startswith(f"grader: error: s0 has different results in {tmp_path / 'full'}")
    (tmp_path / "empty").mkdir()
    proc = merge(tmp_path / "empty", out=tmp_path / "m3")
    assert proc.returncode == 2 and "no graded results found" in proc.stderr and not (tmp_path / "m3").exists()
    (tmp_path / "odd" / "a").mkdir(parents=True)
    (tmp_path / "odd" / "a" / "result.json").write_text("[1, 2]")
    proc = merge(tmp_path / "odd", out=tmp_path / "m4")
    assert proc.returncode == 2 and "not a grader result (not a JSON object)" in proc.stderr and "Traceback" not in proc.stderr
    for m in ("m1", "m2", "m4"):
        assert not (tmp_path / m / "gradebook.csv").exists()


@pytest.mark.slow
def test_dask_cluster_gives_the_gradebook_of_a_local_run(tmp_path):
    """Two tasks at a time in one Dask worker process (two threads) each get their own grader
    worker; a cluster kept running grades a changed spec with the change."""
    distributed = pytest.importorskip("distributed")
    subs, assignment = small_class(tmp_path, 4, tmp_path / "local")
    tiny_student(subs / "s9", "def scale(x, k):\n    while True:\n        pass\n")       # a hang, beside the others
    assert grade(subs, assignment, tmp_path / "local").returncode == 0
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None,
                                  host="127.0.0.1") as cluster:
        proc = grade(subs, assignment, tmp_path / "dask", "--scheduler", cluster.scheduler_address)
        assert proc.returncode == 0, proc.stderr
        assert gradebook(tmp_path / "dask") == gradebook(tmp_path / "local")
        spec_file = assignment / "assignment.yaml"
        spec_file.write_text(spec_file.read_text().replace("points: 3", "points: 6"))
        assert grade(subs, assignment, tmp_path / "local6").returncode == 0
        proc = grade(subs, assignment, tmp_path / "dask6", "--scheduler", cluster.scheduler_address)
        assert proc.returncode == 0, proc.stderr
    assert gradebook(tmp_path / "dask6") == gradebook(tmp_path / "local6") != gradebook(tmp_path / "local")
    result = json.loads((tmp_path / "dask" / "s1" / "result.json").read_text())
    assert result["sandbox"].split(":")[0] in ("strong", "partial", "minimal")


@pytest.mark.slow
@pytest.mark.linux                     # the zygote's siblings
def test_a_dask_workers_threads_get_grader_workers_forked_from_one(tmp_path):
    """A Dask worker of three threads makes three grader workers at its first task: one zygote that
    imports everything and two forked from it, not three imports of torch."""
    distributed = pytest.importorskip("distributed")
    from grader.batch import distributed as remote
    from grader.run.worker import _Forked
    subs, assignment = small_class(tmp_path, 6, tmp_path / "local")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=3, processes=False, dashboard_address=None,
                                  protocol="tcp", host="127.0.0.1") as cluster:
        proc = grade(subs, assignment, tmp_path / "dask", "--scheduler", cluster.scheduler_address)
        assert proc.returncode == 0, proc.stderr
        assert gradebook(tmp_path / "dask") == gradebook(tmp_path / "local")
        (entry,) = [e for (path, _), e in remote._STATE.items() if Path(path).parent == assignment.resolve()]
        made = [*entry[3].values(), *entry[4]]
        try:
            assert len(made) == 3 and sum(isinstance(w._proc, _Forked) for w in made) == 2
        finally:
            for worker in reversed(made):
                worker.close()
            remote._STATE.clear()


def _task_failing_on_s1(spec_path, submission, hidden, digest):
    """grade_remote, except that student s1's task fails, as a KilledWorker reaches the client."""
    if submission.endswith("s1"):
        raise RuntimeError("worker killed")
    return _REAL_GRADE_REMOTE(spec_path, submission, hidden, digest)


@pytest.mark.slow
def test_a_dask_task_that_fails_is_that_students_error_and_the_batch_goes_on(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    from grader.batch import distributed as remote
    from grader.batch import grade_batch
    spec = make_assignment(tmp_path)
    for student in ("s0", "s1", "s2"):
        tiny_student(tmp_path / "subs" / student)
    monkeypatch.setattr(sys.modules[__name__], "_REAL_GRADE_REMOTE", remote.grade_remote, raising=False)
    monkeypatch.setattr(remote, "grade_remote", _task_failing_on_s1)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        results = grade_batch(spec, discover(tmp_path / "subs", spec, tmp_path / "staging"), tmp_path / "out",
                              scheduler=cluster.scheduler_address)
    assert [r.earned for r in results] == [5, 0, 5]
    message = results[1].functions[0].cases[0].message
    assert message.startswith("the grader's Dask task failed on this submission (RuntimeError: worker killed)")


@pytest.mark.slow
def test_a_scheduler_address_where_something_else_answers_is_a_clear_error(monkeypatch):
    """A web server or a proxy at --scheduler accepts the connection and never answers as Dask does:
    the client would wait forever; the grader says so after the connect timeout."""
    import socket
    pytest.importorskip("distributed")
    from distributed import Client
    from grader.batch import distributed as remote
    monkeypatch.setattr(remote, "CONNECT_TIMEOUT", 1)
    with socket.create_server(("127.0.0.1", 0)) as server:          # accepts, then says nothing
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        with pytest.raises(BatchError) as e:
            remote._connect(Client, address)
    assert str(e.value).startswith(f"--scheduler {address}: no Dask scheduler answered there (")


def derived_assignment(tmp_path: Path) -> Path:
    """The tiny assignment in tmp_path/assignment, and one that extends its spec files."""
    make_assignment(tmp_path)
    derived = tmp_path / "derived"
    derived.mkdir()
    (derived / "assignment.yaml").write_text("extends: ../assignment/assignment.yaml\nname: tiny_derived\n")
    (derived / "hidden.yaml").write_text("extends: ../assignment/hidden.yaml\nreference: ../assignment/ref\n")
    return derived


@pytest.mark.slow
def test_a_change_to_the_spec_a_derived_assignment_extends_grades_the_class_again(tmp_path):
    """Resuming after the instructor adds a hidden case: the results depend on the spec as read,
    so a change in the base file that an assignment `extends` is a change to that assignment."""
    derived = derived_assignment(tmp_path)
    subs, out = tmp_path / "subs", tmp_path / "out"
    for student in ("s0", "s1"):
        tiny_student(subs / student)
    assert grade(subs, derived, out).returncode == 0
    assert grade(subs, derived, out).stderr.count("2 of 2 already graded") == 1
    base_hidden = tmp_path / "assignment" / "hidden.yaml"
    base_hidden.write_text(base_hidden.read_text() + "functions:\n  scale: [{seed: 7}]\n")
    proc = grade(subs, derived, out)
    assert proc.returncode == 0 and "already graded" not in proc.stderr
    result = json.loads((out / "s0" / "result.json").read_text())
    assert [c["case_id"] for c in result["functions"][0]["cases"]][-1] == "hidden-1"


def test_spec_digest_follows_extends_and_a_reloaded_spec(tmp_path):
    from grader.batch import spec_digest
    derived = derived_assignment(tmp_path)
    first = spec_digest(load_spec(derived))
    assert spec_digest(load_spec(derived)) == first                     # the same files: the same digest
    base = tmp_path / "assignment" / "assignment.yaml"
    base.write_text(base.read_text().replace("points: 3", "points: 4"))
    second = spec_digest(load_spec(derived))
    assert second != first
    (tmp_path / "assignment" / "ref" / "tiny.py").write_text("import numpy as np\n\ndef scale(x, k):\n    return x * k\n"
                                                            "\ndef total(x):\n    return x.sum()\n")
    assert spec_digest(load_spec(derived)) not in (first, second)     # the reference's code


@pytest.mark.slow
def test_a_progress_bar_nobody_reads_does_not_stop_the_batch(tmp_path):
    """`grader grade ... 2>&1 | head -1`: the progress lines meet a closed pipe; grading goes on."""
    subs, assignment = small_class(tmp_path, 3, tmp_path / "first")
    proc = subprocess.Popen([GRADER, "grade", str(subs), "-a", str(assignment), "--out", str(tmp_path / "out")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    proc.stderr.close()                                   # the reader is gone before the first line
    assert proc.wait(timeout=300) == 0
    assert gradebook(tmp_path / "out") == gradebook(tmp_path / "first")


@pytest.mark.slow
def test_a_run_that_finds_no_submissions_stops_the_workers_it_started(tmp_path):
    """The workers start while the submissions are found (their imports take a second); a run that
    finds none stops them (without waiting for those imports) and leaves nothing behind."""
    make_assignment(tmp_path)
    (tmp_path / "empty").mkdir()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    proc = subprocess.run([GRADER, "grade", str(tmp_path / "empty"), "-a", str(tmp_path / "assignment"), "--out",
                           str(tmp_path / "out")], env={**os.environ, "TMPDIR": str(scratch)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "no submissions found" in proc.stderr
    assert list(scratch.iterdir()) == [] and processes_naming(scratch) == []


@pytest.mark.slow
def test_usage_errors_exit_2_with_one_line(tmp_path):
    make_assignment(tmp_path)
    proc = grade(tmp_path / "nowhere", tmp_path / "assignment", tmp_path / "out")
    assert proc.returncode == 2 and proc.stderr.startswith("grader: error: ") and "Traceback" not in proc.stderr
    (tmp_path / "empty").mkdir()
    proc = grade(tmp_path / "empty", tmp_path / "assignment", tmp_path / "out")
    assert proc.returncode == 2 and "no submissions found" in proc.stderr
    tiny_student(tmp_path / "one" / "ada")
    proc = grade(tmp_path / "one", tmp_path / "assignment", tmp_path / "out", "--workers", "-1")
    assert proc.returncode == 2 and proc.stderr == "grader: error: --workers -1: expected a number of workers, 1 or more (0: one per core)\n"
    proc = subprocess.run([GRADER, "merge", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr == f"grader: error: {tmp_path / 'nowhere'}: no such folder\n"
    for cmd in (["gradescope", "linear_classifier", "--out", str(tmp_path / "missing" / "a.zip")],
                ["release", "linear_classifier", "--out", "/proc/not-writable"]):
        proc = subprocess.run([GRADER, *cmd], cwd=REPO, capture_output=True, text=True)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("grader: error: ") and proc.stderr.count("\n") == 1, proc.stderr


@pytest.mark.slow
def test_a_zip_inside_a_students_folder_or_zip_is_unpacked_and_graded(tmp_path):
    """Handed in as a folder holding only a zip of their work, or a zip of that zip: graded as what is
    inside, unpacked into the grader's staging folder (the instructor's folder is not written to); a
    zip in there that does not unpack is that student's problem only."""
    import zipfile
    classroom = tmp_path / "class"
    for name in ("carol", "erin"):
        (classroom / name).mkdir(parents=True)
    with zipfile.ZipFile(classroom / "carol" / "hw.zip", "w") as z:
        z.write(EXAMPLES / "ada" / "linear_classifier.py", "ada/linear_classifier.py")
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w") as z:
        z.write(EXAMPLES / "ada" / "linear_classifier.py", "linear_classifier.py")
    with zipfile.ZipFile(classroom / "frank.zip", "w") as z:
        z.write(inner, "submission.zip")
    (classroom / "erin" / "hw.zip").write_bytes(b"PK\x03\x04 not a zip after all")
    out = tmp_path / "out"
    proc = subprocess.run([GRADER, "grade", str(classroom), "--assignment", "linear_classifier", "--public-only",
                           "--out", str(out)], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    rows = {r["student"]: r for r in gradebook(out)}
    assert rows["carol"]["percent"] == rows["frank"]["percent"] == "100.00", rows
    assert rows["erin"]["percent"] == "0.00" and "could not be unpacked" in (out / "erin" / "feedback.txt").read_text()
    assert sorted(p.name for p in (classroom / "carol").iterdir()) == ["hw.zip"]
    check = subprocess.run([GRADER, "check", str(classroom / "frank.zip"), "--assignment", "linear_classifier"],
                           cwd=REPO, capture_output=True, text=True)
    assert check.returncode == 0 and "All 12 public cases passed" in check.stdout, check.stdout + check.stderr


# ---------------------------------------------------------------------------------------------
# Gradescope autograder


def gradescope_zip(folder: Path) -> Path:
    """linear_classifier's autograder zip, built by the installed `grader gradescope`."""
    archive = folder / "autograder.zip"
    proc = subprocess.run([GRADER, "gradescope", "linear_classifier", "--out", str(archive)], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return archive


@pytest.mark.slow
def test_gradescope_setup_installs_the_numpy_and_torch_this_checkout_grades_with(tmp_path):
    """An image rebuilt months later must grade as the instructor's checkout did: pinned versions."""
    import importlib.metadata
    archive = gradescope_zip(tmp_path)
    setup = zipfile.ZipFile(archive).read("setup.sh").decode()
    torch = importlib.metadata.version("torch").split("+")[0]
    numpy = importlib.metadata.version("numpy")
    assert f"pip install torch=={torch} --index-url https://download.pytorch.org/whl/cpu" in setup
    assert f"pip install numpy=={numpy}\n" in setup
    assert setup.index("numpy==") < setup.index("torch==") < setup.index("./grader-src")


@pytest.mark.slow
def test_gradescope_setup_installs_the_packages_the_assignment_lets_students_import(tmp_path):
    """`packages` in the spec: setup.sh installs them, after numpy and torch, before the grader."""
    course = tmp_path / "assignments" / "linear_classifier"          # its hidden.yaml finds ../../reference
    shutil.copytree(REPO / "assignments" / "linear_classifier", course)
    (tmp_path / "reference").mkdir()
    (tmp_path / "reference" / "linear_classifier").symlink_to(REPO / "reference" / "linear_classifier")
    spec = course / "assignment.yaml"
    spec.write_text(spec.read_text() + "packages: [matplotlib==3.9.2, tqdm]\n")
    archive = tmp_path / "autograder.zip"
    proc = subprocess.run([GRADER, "gradescope", str(course), "--out", str(archive)], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    setup = zipfile.ZipFile(archive).read("setup.sh").decode()
    assert "python3 -m pip install matplotlib==3.9.2 tqdm\n" in setup, setup
    assert setup.index("torch==") < setup.index("matplotlib==3.9.2") < setup.index("./grader-src")
    assert subprocess.run(["bash", "-n", "-c", setup]).returncode == 0


@pytest.mark.slow
def test_gradescope_autograder_zip_grades_a_submission_as_gradescope_runs_it(tmp_path):
    """Unpacked as Gradescope does (/autograder/source), run_autograder writes results.json."""
    archive = gradescope_zip(tmp_path)
    root = tmp_path / "autograder"
    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
        z.extractall(root / "source")
    assert {"setup.sh", "run_autograder", "grader-src/pyproject.toml", "grader-src/grader/cli.py",
            "assignment/assignment.yaml", "assignment/hidden.yaml", "assignment/mistakes.yaml",
            "assignment/reference/linear_classifier.py"} <= set(names)
    for script in ("setup.sh", "run_autograder"):
        assert subprocess.run(["bash", "-n", str(root / "source" / script)]).returncode == 0
    (root / "submission" / "hw2").mkdir(parents=True)           # uploaded as a zip of their folder
    (root / "submission" / "hw2" / "linear_classifier.py").write_text((EXAMPLES / "bob" / "linear_classifier.py").read_text())
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "PATH": f"{Path(GRADER).parent}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 5.5                       # bob's 5.5/20, hidden cases included
    assert "Probably: dW has `reg * W`" in json.dumps(results)      # the catalogue came along
    assert sum(t["max_score"] for t in results["tests"]) == 20
    # A submission the grader cannot grade at all still gets a results.json: one line for the
    # student, what went wrong for the instructor only.
    shutil.rmtree(root / "results")
    shutil.rmtree(root / "submission")
    run = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True, timeout=300)
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0
    assert results["output"] == "The autograder could not grade this submission; your instructor can see why."
    hidden = [t for t in results["tests"] if t["visibility"] == "hidden"]
    assert len(hidden) == 1 and "no such file or folder" in hidden[0]["output"]


@pytest.mark.slow
def test_gradescope_zip_of_an_assignment_that_extends_another_stands_alone(tmp_path):
    archive = tmp_path / "autograder.zip"
    assert subprocess.run([GRADER, "gradescope", "cs231n", "--out", str(archive)], cwd=REPO).returncode == 0
    with zipfile.ZipFile(archive) as z:
        z.extractall(tmp_path / "source")
    assert "extends" not in (tmp_path / "source" / "assignment" / "assignment.yaml").read_text()
    spec = load_spec(tmp_path / "source" / "assignment")
    assert spec.name == "cs231n" and spec.modules == ("linear_svm", "softmax")
    assert spec.reference_dir == (tmp_path / "source" / "assignment" / "reference").resolve()
    assert len(spec.function("softmax_loss_naive").cases_of("hidden")) == 8


@pytest.mark.slow
def test_a_grader_failure_on_one_submission_is_that_students_result_and_the_batch_goes_on(tmp_path, monkeypatch):
    """Whatever goes wrong inside the grader on one submission (here: an exception planted in the
    pipeline), the others are graded and this one gets an error result saying so."""
    import grader.grade
    from grader.batch import grade_batch
    spec = make_assignment(tmp_path)
    subs = tmp_path / "subs"
    for name in ("ada", "bob", "cyd", "dan"):
        tiny_student(subs / name)
    real = grader.grade.grade_submission
    tries: dict = {}

    def flaky(spec_, submission, **kwargs):
        name = Path(submission).name
        tries[name] = tries.get(name, 0) + 1
        if name == "bob" or name == "dan" and tries[name] == 1:      # dan's failure passes
            raise RuntimeError("planted failure")
        return real(spec_, submission, **kwargs)
    monkeypatch.setattr(grader.grade, "grade_submission", flaky)
    results = {r.student: r for r in grade_batch(spec, discover(subs, spec, tmp_path / "staging"), tmp_path / "out", workers=2)}
    assert results["ada"].earned == results["cyd"].earned == results["dan"].earned == 5
    assert tries == {"ada": 1, "bob": 2, "cyd": 1, "dan": 2}                   # a failed grading is tried once more
    bob = results["bob"]
    assert bob.earned == 0 and bob.possible == 5 and {c.status for c in bob.cases()} == {"error"}
    assert bob.cases()[0].message.startswith("the grader failed on this submission (RuntimeError: planted failure)")
    written = json.loads((tmp_path / "out" / "bob" / "result.json").read_text())
    assert written["counts"]["errors"] == 5 and written["fingerprint"] == ""
    assert written["grading_error"].startswith("the grader failed on this submission (RuntimeError: planted failure)")
    assert not results["dan"].grading_error
    # the grader's failure is not final: the next run grades bob again, and only bob
    monkeypatch.setattr(grader.grade, "grade_submission", lambda spec_, submission, **kw: tries.__setitem__(
        Path(submission).name, tries[Path(submission).name] + 1) or real(spec_, submission, **kw))
    results = {r.student: r for r in grade_batch(spec, discover(subs, spec, tmp_path / "staging2"), tmp_path / "out", workers=2)}
    assert tries == {"ada": 1, "bob": 3, "cyd": 1, "dan": 2} and results["bob"].earned == 5 and not results["bob"].grading_error


# ---------------------------------------------------------------------------------------------
# The references, computed by a worker: the grader's own process never imports torch


@pytest.mark.slow
def test_a_worker_computes_the_references_and_mistakes_bit_for_bit_as_the_grader_would():
    import numpy as np
    from grader.grade import Prepared
    from grader.run.worker import Worker
    spec = load_spec(REPO / "assignments" / "linear_classifier")
    here = Prepared(spec, hidden=True)
    here.mistakes.prime(here.cases)
    with Worker(spec.framework) as worker:
        there = Prepared(spec, hidden=True, worker=worker)
        there.mistakes.prime(there.cases, workers=[worker])
    from grader.values import leaves

    def arrays(outputs: dict) -> list:
        return [(name, path, leaf.kind, leaf.array) for name, tree in outputs.items() for path, leaf in leaves(tree)]

    assert here.expected.keys() == there.expected.keys() and len(here.expected) == 40
    for key, outcome in here.expected.items():
        mine, other = arrays(outcome.outputs), arrays(there.expected[key].outputs)
        assert [m[:3] for m in mine] == [o[:3] for o in other] and len(mine) == 2, key
        assert all(a.dtype == b.dtype == np.float64 and np.array_equal(a, b) for (*_, a), (*_, b) in zip(mine, other)), key
    # Each variant's Outcome per (variant, function, case); None where its edits do not apply (two
    # catalogued mistakes whose edits conflict), never for a catalogued mistake alone.
    ours, theirs = here.mistakes._cache, there.mistakes._cache
    assert ours.keys() == theirs.keys() and len(ours) > 100
    singles = {m.name for m in here.mistakes.catalogue.mistakes}
    assert {k[0] for k in ours} >= singles
    assert all(theirs[k] is not None for k in theirs if k[0] in singles)
    for key, outcome in ours.items():
        other = theirs[key]
        assert (outcome is None) == (other is None), key
        if outcome is None:
            continue
        assert outcome.status == other.status, key
        mine, others = arrays(outcome.outputs), arrays(other.outputs)
        assert [m[:3] for m in mine] == [o[:3] for o in others], key
        assert all(np.array_equal(a, b, equal_nan=True) for (*_, a), (*_, b) in zip(mine, others)), key


@pytest.mark.slow
def test_grader_grade_never_imports_torch_in_its_own_process(tmp_path):
    subs = tmp_path / "subs"
    for name in ("ada", "bob"):
        shutil.copytree(EXAMPLES / name, subs / name)
    code = ("import sys; from pathlib import Path; from grader.batch import discover, grade_batch; "
            "from grader.spec import load_spec; spec = load_spec(sys.argv[1]); "
            "results = grade_batch(spec, discover(Path(sys.argv[2]), spec, Path(sys.argv[3])), Path(sys.argv[4]), workers=2); "
            "import json; print(json.dumps([sorted(r.earned for r in results), 'torch' in sys.modules]))")
    proc = subprocess.run([str(Path(GRADER).parent / "python"), "-c", code, str(REPO / "assignments" / "linear_classifier"),
                           str(subs), str(tmp_path / "staging"), str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    scores, torch_here = json.loads(proc.stdout)
    assert torch_here is False
    assert scores[0] < scores[1] == 20.0      # bob's mistakes cost points: the references were compared with


@pytest.mark.slow
@pytest.mark.parametrize("body, words", [
    ("def scale(x, k):\n    raise NotImplementedError\n", "scale is not written yet"),
    ("def scale(x, k):\n    return {}['nothing']\n", "the reference scale failed: KeyError: 'nothing' on public-1 (seed 1)"),
    ("def total(x):\n    return x.sum()\n", "the reference has no function scale"),
], ids=["not-written", "raises", "missing"])
def test_a_broken_reference_stops_grader_grade_with_its_file_and_what_went_wrong(tmp_path, body, words):
    spec = make_assignment(tmp_path)
    reference = spec.folder / "ref" / "tiny.py"
    reference.write_text(body + ("def total(x):\n    return x.sum()\n" if "def total" not in body else ""))
    proc = grade(tiny_student(tmp_path / "subs" / "alice"), spec.folder, tmp_path / "out")
    assert proc.returncode == 2, proc.stderr
    assert f"{reference}: " in proc.stderr and words in proc.stderr, proc.stderr

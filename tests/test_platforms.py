"""Where students work changes no grade: a home folder named in any script, Windows line endings,
and Windows' defaults for text (its ANSI code page, cp1252 in the West, for files opened without
an encoding and for output sent to a pipe or a file).

This machine is Linux; what Windows does is brought here: a subprocess writes its output in
cp1252 (PYTHONIOENCODING), files get CRLF endings as git's autocrlf checks them out, and Python
itself names every file opened without an encoding (-X warn_default_encoding).
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import grader
from grader.expected.mistakes import load_catalogue
from grader.spec import load_spec

from conftest import GRADER, REPO

HANDOUT = REPO / "student_template" / "linear_classifier"
ADA = REPO / "examples" / "linear_classifier" / "ada" / "linear_classifier.py"
FULL_MARKS = "All 12 public cases passed: 8/8 points."
RUN_TIMEOUT = 300                    # s: a hang fails, never blocks CI


def student_folder(folder: Path) -> Path:
    """The handout, with ada's finished linear_classifier.py in it."""
    shutil.copytree(HANDOUT, folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ADA, folder / "linear_classifier.py")
    return folder


def with_crlf(folder: Path) -> None:
    """Every text file's line endings as git checks them out on Windows (core.autocrlf=true)."""
    for path in folder.rglob("*"):
        if path.suffix in (".py", ".yaml", ".json"):
            path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))


def check(folder: Path, cwd: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`grader check FOLDER --assignment linear_classifier`, its output as bytes."""
    return subprocess.run([GRADER, "check", str(folder), "--assignment", "linear_classifier", *extra], cwd=cwd,
                          env={**os.environ, **(env or {})}, capture_output=True, timeout=RUN_TIMEOUT)


@pytest.mark.slow
@pytest.mark.parametrize("user, shown", [("Zoë Ünïcødé", "Zoë Ünïcødé"), ("张伟", "\\u5f20\\u4f1f")],
                         ids=["latin", "chinese"])
def test_a_submission_under_a_non_ascii_user_name_gets_its_full_score(tmp_path, user, shown):
    """Its report, sent to a pipe as Windows sends it, shows what cp1252 can and escapes the rest."""
    folder = student_folder(tmp_path / user / "hw1")
    proc = check(folder, tmp_path, env={"PYTHONIOENCODING": "cp1252"})
    stdout, stderr = proc.stdout.decode("cp1252"), proc.stderr.decode("cp1252")
    assert proc.returncode == 0, stdout + stderr
    assert stdout.splitlines()[0] == f"grader 0.1.0: linear_classifier, {folder}".replace(user, shown)
    assert FULL_MARKS in stdout


@pytest.mark.slow
def test_check_in_a_script_under_a_non_ascii_user_name_escapes_what_the_pipe_cannot_show(tmp_path):
    """`check()` at the end of the student's own file, its output sent to a pipe as Windows sends it:
    the report, not a UnicodeEncodeError."""
    folder = student_folder(tmp_path / "张伟" / "hw1")
    script = folder / "linear_classifier.py"
    script.write_text(script.read_text(encoding="utf-8") + '\n\nif __name__ == "__main__":\n'
                      '    from grader import check\n    check("svm_loss_naive")\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], cwd=folder, capture_output=True, timeout=RUN_TIMEOUT,
                          env={**os.environ, "PYTHONIOENCODING": "cp1252"})
    stdout = proc.stdout.decode("cp1252")
    assert proc.returncode == 0, stdout + proc.stderr.decode("cp1252")
    assert stdout.splitlines()[0] == f"grader 0.1.0: linear_classifier, {script}".replace("张伟", "\\u5f20\\u4f1f")
    assert "ok   svm_loss_naive: 3/3 cases passed, 2/2 points" in stdout


@pytest.mark.slow
def test_a_handout_and_submission_with_windows_line_endings_get_full_marks(tmp_path):
    folder = student_folder(tmp_path / "hw1")
    with_crlf(folder)
    assert b"\r\n" in (folder / "linear_classifier.py").read_bytes()
    proc = check(folder, tmp_path)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    assert FULL_MARKS in proc.stdout.decode()


def test_specs_and_catalogues_with_windows_line_endings_load_as_they_do_with_unix_ones(tmp_path):
    for tree in ("assignments", "reference"):        # hidden.yaml names the reference by a relative path
        shutil.copytree(REPO / tree, tmp_path / tree)
    with_crlf(tmp_path / "assignments")
    names = sorted(p.name for p in (REPO / "assignments").iterdir() if (p / "assignment.yaml").is_file())
    assert "cs231n" in names                          # whose spec extends linear_classifier's
    for name in names:
        unix, windows = load_spec(REPO / "assignments" / name), load_spec(tmp_path / "assignments" / name)
        assert dataclasses.replace(windows, path=unix.path, reference_dir=unix.reference_dir) == unix, name
        assert load_catalogue(windows) == load_catalogue(unix), name


@pytest.mark.slow
def test_the_self_check_names_the_encoding_of_every_text_file_it_reads_or_writes(tmp_path):
    """Without encoding="utf-8", Windows reads a spec, a handout or a catalogue in cp1252, and
    writes reports in it: whatever is not ASCII comes out garbled, or not at all."""
    folder = student_folder(tmp_path / "hw1")
    reports = ["--json", str(tmp_path / "report.json"), "--junit-xml", str(tmp_path / "junit.xml"),
               "--summary", str(tmp_path / "summary.md")]
    proc = subprocess.run([sys.executable, "-X", "warn_default_encoding", "-W", "always::EncodingWarning",
                           "-m", "grader", "check", str(folder), "--assignment", "linear_classifier", *reports],
                          cwd=tmp_path, env={**os.environ, "GITHUB_STEP_SUMMARY": str(tmp_path / "step.md")},
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    package = str(Path(grader.__file__).parent)
    ours = [line for line in proc.stderr.splitlines() if "EncodingWarning" in line and line.startswith(package)]
    assert ours == []

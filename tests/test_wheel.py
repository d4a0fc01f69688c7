"""The installed package alone, with a handout, is enough for a student; it holds no reference code."""
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from conftest import REPO
from test_release import REFERENCE, TEMPLATE, solution_lines

pytestmark = pytest.mark.slow          # every test here builds the wheel or installs it


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out)], check=True, capture_output=True)
    (path,) = out.glob("grader-*.whl")
    return path


def test_wheel_holds_only_the_engine(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert all(n.startswith(("grader/", "grader-")) for n in names), names
    assert not [n for n in names if "reference" in n or "assignments" in n or "student_template" in n]
    assert "grader/report/schema.json" in names
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "[pytest11]\ngrader = grader.pytest_plugin" in entry_points, entry_points
    secret = solution_lines(REFERENCE.read_text())[0] - solution_lines(REFERENCE.read_text())[1]
    with zipfile.ZipFile(wheel) as z:
        for name in names:
            text = z.read(name).decode("utf-8", "replace")
            assert not [line for line in secret if len(line) > 12 and line in text], name


def test_handout_checks_with_only_the_installed_wheel(wheel, tmp_path):
    """A fresh environment: the wheel's files, its dependencies, a handout, nothing of this checkout."""
    env_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    site = Path(subprocess.run([str(env_dir / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    # Dependencies (numpy, torch, pyyaml, junitparser) from the test environment, by path only:
    # a .pth line adds a folder but not the editable install of this checkout that lives there.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    handout = tmp_path / "hw2"
    shutil.copytree(TEMPLATE, handout)
    shutil.copy(REFERENCE, handout / "linear_classifier.py")     # the student's finished work
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run = lambda *args: subprocess.run([str(env_dir / "bin" / "python"), "-m", "grader", *args],
                                       cwd=handout, capture_output=True, text=True, env=env, timeout=300)
    where = subprocess.run([str(env_dir / "bin" / "python"), "-c", "import grader; print(grader.__file__)"],
                           capture_output=True, text=True, env=env, cwd=handout, check=True).stdout
    assert where.startswith(str(site)), where
    proc = run("check", "linear_classifier.py", "--assignment", "linear_classifier")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All 12 public cases passed: 8/8 points." in proc.stdout
    proc = run("check", ".", "--assignment", "linear_classifier", "--hidden")
    assert proc.returncode == 2
    assert "hidden cases need the instructor's files" in proc.stderr and "Traceback" not in proc.stderr
    # the pytest plugin, found through the wheel's entry point (pytest itself from the test environment)
    proc = subprocess.run([str(env_dir / "bin" / "python"), "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           "--grader-assignment=linear_classifier", "--grader-submission=linear_classifier.py"],
                          cwd=handout, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "12 passed" in proc.stdout, proc.stdout

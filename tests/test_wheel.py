"""The installed package alone, with a handout, is enough for a student, from a terminal or a Colab
notebook that installs it with pip; it holds no reference code."""
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from conftest import REPO
from notebooks import kernel_spec, run_in_kernel
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


def environment_without_grader(env_dir: Path) -> tuple[str, Path]:
    """A fresh venv (its python, its site-packages) that has the dependencies (numpy, torch,
    pyyaml, junitparser, and ipykernel for a notebook) from the test environment, by path only: a
    .pth line adds a folder, but not the editable install of this checkout that lives there."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = str(env_dir / "Scripts" / "python.exe" if os.name == "nt" else env_dir / "bin" / "python")
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return python, site


def handout_with_solution(folder: Path) -> Path:
    """The linear_classifier handout with the student's finished work (the reference's functions)."""
    shutil.copytree(TEMPLATE, folder)
    shutil.copy(REFERENCE, folder / "linear_classifier.py")
    return folder


def test_handout_checks_with_only_the_installed_wheel(wheel, tmp_path):
    """A fresh environment: the wheel's files, its dependencies, a handout, nothing of this checkout."""
    python, site = environment_without_grader(tmp_path / "env")
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    handout = handout_with_solution(tmp_path / "hw2")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run = lambda *args: subprocess.run([python, "-m", "grader", *args],
                                       cwd=handout, capture_output=True, text=True, env=env, timeout=300)
    where = subprocess.run([python, "-c", "import grader; print(grader.__file__)"],
                           capture_output=True, text=True, env=env, cwd=handout, check=True).stdout
    assert where.startswith(str(site)), where
    proc = run("check", "linear_classifier.py", "--assignment", "linear_classifier")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All 12 public cases passed: 8/8 points." in proc.stdout
    proc = run("check", ".", "--assignment", "linear_classifier", "--hidden")
    assert proc.returncode == 2
    assert "hidden cases need the instructor's files" in proc.stderr and "Traceback" not in proc.stderr
    # the pytest plugin, found through the wheel's entry point (pytest itself from the test environment)
    proc = subprocess.run([python, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           "--grader-assignment=linear_classifier", "--grader-submission=linear_classifier.py"],
                          cwd=handout, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "12 passed" in proc.stdout, proc.stdout


def test_in_a_colab_notebook_the_wheel_installed_with_pip_checks_the_students_function(wheel, tmp_path, monkeypatch):
    """Colab, as EECS 498 runs it: a kernel that has imported torch and used it, `pip install` of the
    grader in a cell, the handout's files beside the notebook, the student's functions imported
    from their file, then `check("svm_loss_naive")`."""
    python, site = environment_without_grader(tmp_path / "env")
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    kernel = kernel_spec(python, tmp_path / "jupyter")
    folder = handout_with_solution(tmp_path / "content")
    cells = ["import torch\nprint(float(torch.arange(3.0) @ torch.ones(3)))",
             "import importlib.util\nprint(importlib.util.find_spec('grader'))",
             # --ignore-installed: the test environment's dist-info of this checkout is on the path
             # (deps.pth); --no-deps --no-index: the dependencies are there already, and offline.
             f"%pip install -q --no-index --no-deps --ignore-installed \"{wheel}\"",
             "from linear_classifier import svm_loss_naive\nimport grader\nfrom grader import check\n"
             "feedback = check('svm_loss_naive')\nprint(feedback.passed, feedback.result.earned, feedback.result.possible)\n"
             "print(grader.__file__)\nfeedback"]
    nb = run_in_kernel(cells, folder, kernel, 600)
    errors = [o for cell in nb.cells for o in cell.outputs if o["output_type"] == "error"]
    assert errors == []
    printed = ["".join(o["text"] for o in cell.outputs if o.get("name") == "stdout") for cell in nb.cells]
    assert printed[0] == "3.0\n" and printed[1] == "None\n"           # torch ran; no grader before pip
    passed, where = printed[3].splitlines()
    assert passed == "True 2.0 2.0"
    assert where.startswith(str(site)), where
    shown = nb.cells[3].outputs[-1]["data"]
    assert "ok   svm_loss_naive: 3/3 cases passed, 2/2 points" in shown["text/plain"]
    assert "Public cases only" in shown["text/html"]

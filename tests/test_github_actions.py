"""The GitHub Actions workflows: the one for student repositories (examples/github-classroom/), and
the project's own CI (.github/workflows/ci.yml).

The students' workflow is read as YAML and held against the real CLI: the steps exist, the flags
are flags `grader check` has, the JUnit file the check writes is the file the artifact step
uploads. Then the check step's own `run:` script is run, with the workflow's variables, in a copy
of a student's repository (the handout, a student's module, the workflow), as the runner would run
it after the install step. The project's CI is held against the README: its commands, on Linux,
macOS and Windows.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from conftest import GRADER, REPO

CLASSROOM = REPO / "examples" / "github-classroom"
WORKFLOW = CLASSROOM / ".github" / "workflows" / "grader.yml"
HANDOUT = REPO / "student_template" / "linear_classifier"
EXAMPLES = REPO / "examples" / "linear_classifier"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def steps(workflow: dict) -> list[dict]:
    (job,) = workflow["jobs"].values()
    return job["steps"]


def step_using(workflow: dict, action: str) -> dict:
    found = [s for s in steps(workflow) if s.get("uses", "").split("@")[0] == action]
    assert len(found) == 1, f"{WORKFLOW.name}: {len(found)} steps use {action}"
    return found[0]


def check_step(workflow: dict) -> dict:
    found = [s for s in steps(workflow) if "grader check" in s.get("run", "")]
    assert len(found) == 1, f"{WORKFLOW.name}: {len(found)} steps run grader check"
    return found[0]


def check_args(workflow: dict) -> list[str]:
    """The words after `grader check` in the check step, as the shell splits them."""
    words = shlex.split(check_step(workflow)["run"])
    start = next(i for i in range(len(words) - 1) if words[i:i + 2] == ["grader", "check"])
    return words[start + 2:]


def option_value(args: list[str], option: str) -> str:
    assert option in args, f"the check step does not pass {option}"
    return args[args.index(option) + 1]


def test_runs_on_every_push(workflow):
    triggers = workflow.get("on", workflow.get(True))       # YAML 1.1 reads a bare `on` as true
    assert "push" in triggers and triggers["push"] is None   # every branch, every push


def test_checks_out_then_sets_up_python_311_then_installs_then_checks(workflow):
    names = [s.get("uses", "").split("@")[0] or s.get("name") for s in steps(workflow)]
    assert names[:2] == ["actions/checkout", "actions/setup-python"]
    assert str(step_using(workflow, "actions/setup-python")["with"]["python-version"]) == "3.11"
    install = next(i for i, s in enumerate(steps(workflow)) if 'pip install "$GRADER"' in s.get("run", ""))
    assert install < steps(workflow).index(check_step(workflow))


def test_installs_this_project_and_cpu_torch(workflow):
    project = re.search(r'^\[project\]\nname = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M).group(1)
    requirement = workflow["env"]["GRADER"]
    assert re.match(rf"{re.escape(project)}\s*(@|==|\[|$)", requirement), requirement
    install = next(s["run"] for s in steps(workflow) if 'pip install "$GRADER"' in s.get("run", ""))
    assert '"$TORCH" --index-url https://download.pytorch.org/whl/cpu' in install


def test_check_step_uses_only_flags_that_grader_check_has(workflow):
    help_text = subprocess.run([GRADER, "check", "--help"], capture_output=True, text=True, check=True).stdout
    known = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", help_text))
    args = check_args(workflow)
    used = [a for a in args if a.startswith("-")]
    assert used and set(used) <= known, f"not options of grader check: {sorted(set(used) - known)}"
    assert option_value(args, "--assignment") == "$ASSIGNMENT"
    assert workflow["env"]["ASSIGNMENT"] == "linear_classifier"


def test_junit_report_is_uploaded_even_when_the_check_fails(workflow):
    upload = step_using(workflow, "actions/upload-artifact")
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == option_value(check_args(workflow), "--junit-xml")
    assert steps(workflow).index(upload) > steps(workflow).index(check_step(workflow))


def test_check_step_is_one_command_so_its_exit_code_is_the_checks(workflow):
    script = check_step(workflow)["run"].strip()
    assert "\n" not in script and not re.search(r"\|\||&&|;|\|", script), script
    assert "continue-on-error" not in check_step(workflow)
    assert workflow["defaults"]["run"]["shell"] == "bash"


def without_sandbox_warning(text: str) -> str:
    return re.sub(r"\n\n> \*\*Warning:\*\* [^\n]*", "", text)


def student_repository(root: Path, submission: Path) -> Path:
    """A student's repository made from the template: the handout, their module, the workflow."""
    repo = root / "student-repo"
    shutil.copytree(HANDOUT, repo, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(submission / "linear_classifier.py", repo / "linear_classifier.py")
    shutil.copytree(CLASSROOM / ".github", repo / ".github")
    return repo


@pytest.mark.slow
@pytest.mark.linux                     # the workflow runs on ubuntu-latest: its step runs here as that runner's bash runs it
@pytest.mark.parametrize("student, exit_code", [("bob", 1), ("ada", 0)])
def test_check_step_in_a_student_repository(workflow, tmp_path, student, exit_code):
    repo = student_repository(tmp_path, EXAMPLES / student)
    summary = tmp_path / "step_summary.md"
    env = {**os.environ, **{k: str(v) for k, v in workflow["env"].items()},
           "GITHUB_STEP_SUMMARY": str(summary), "PATH": f"{Path(GRADER).parent}{os.pathsep}{os.environ['PATH']}"}
    # What the runner does for `shell: bash`.
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", check_step(workflow)["run"]],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == exit_code, proc.stdout + proc.stderr
    junit = ET.parse(repo / option_value(check_args(workflow), "--junit-xml")).getroot()
    assert {s.get("name") for s in junit.iter("testsuite")} == {
        "svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive", "softmax_loss_vectorized"}
    text = summary.read_text(encoding="utf-8")
    if student == "bob":             # the checked-in example is what Bob's repository shows
        assert without_sandbox_warning(text) == (CLASSROOM / "summary-example.md").read_text(encoding="utf-8")
    else:
        assert text.startswith("## ✅ linear_classifier: 8/8 points\n") and "###" not in text


# ---------------------------------------------------------------------------------------------
# The project's own CI: the README's commands on Linux, macOS and Windows

CI = REPO / ".github" / "workflows" / "ci.yml"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


@pytest.fixture(scope="module")
def ci() -> dict:
    (job,) = yaml.safe_load(CI.read_text(encoding="utf-8"))["jobs"].values()
    return job


def readme_commands(number: str) -> list[list[str]]:
    """The commands of the README's first block's line under `# NUMBER ...`, as the shell splits
    them, without making and activating the venv (CI's Python is set up by a step of its own)."""
    block = re.search(r"```bash\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.S).group(1)
    lines = block.splitlines()
    line = lines[next(i for i, text in enumerate(lines) if text.startswith(f"# {number} ")) + 1]
    commands = [shlex.split(command) for command in line.split("&&")]
    return [c for c in commands if c[0] != "." and c[:3] != ["python3", "-m", "venv"]]


def ci_run(ci: dict, words: str) -> str:
    found = [s["run"] for s in ci["steps"] if words in s.get("run", "")]
    assert len(found) == 1, f"{CI.name}: {len(found)} steps run {words}"
    return found[0]


def installed(commands: list[list[str]], env: dict) -> list[list[str]]:
    """What each `pip install` installs, options included, with the job's variables filled in."""
    return [[env.get(w[1:], w) if w.startswith("$") else w for w in c[c.index("install") + 1:]]
            for c in commands if "install" in c and "--upgrade" not in c]


def test_ci_tests_on_linux_macos_and_windows_with_python_311(ci):
    assert set(ci["strategy"]["matrix"]["os"]) == {"ubuntu-latest", "macos-latest", "windows-latest"}
    assert ci["runs-on"] == "${{ matrix.os }}" and ci["strategy"]["fail-fast"] is False
    setup = [s for s in ci["steps"] if s.get("uses", "").split("@")[0] == "actions/setup-python"]
    assert [str(s["with"]["python-version"]) for s in setup] == ["3.11"]


def test_ci_runs_the_readmes_test_command(ci):
    (command,) = readme_commands("2.")
    assert shlex.split(ci_run(ci, "pytest")) == command == ["python", "-m", "pytest", "-q"]


def test_ci_installs_the_readmes_torch_then_the_project_with_its_test_extras(ci):
    """torch first, as the README pins it: after the project, pip would meet `torch>=2.0` first
    and take PyPI's build, which on Linux brings GBs of CUDA libraries."""
    readme = installed(readme_commands("1."), {})
    torch, project = installed([shlex.split(line) for line in ci_run(ci, "pip install").splitlines()], ci["env"])
    assert [torch[:1], project] == readme and readme[1] == ["-e", ".[torch,test]"]
    assert torch[1:] == ["--index-url", "${{ matrix.torch-index }}"]
    assert {i["os"]: i["torch-index"] for i in ci["strategy"]["matrix"]["include"]} == {
        "ubuntu-latest": CPU_INDEX, "windows-latest": CPU_INDEX,     # PyTorch's CPU index has no macOS wheels
        "macos-latest": "https://pypi.org/simple"}

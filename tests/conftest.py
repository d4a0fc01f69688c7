import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = REPO / "assignments" / "linear_classifier"
# The console script of the environment running the tests (on Windows grader.exe, in Scripts\,
# which is not python.exe's folder outside a venv; Windows finds the .exe without its suffix).
GRADER = str(Path(sysconfig.get_path("scripts")) / "grader")
LINUX = sys.platform == "linux"


def pytest_collection_modifyitems(config, items):
    """Tests marked `linux` need what only Linux has: the sandbox's layers (namespaces, seccomp,
    Landlock, prctl), the fork zygote, /proc, or batch grading and Gradescope, which stay on Linux.
    Elsewhere they are skipped, saying so; the self-check's tests run everywhere."""
    if LINUX:
        return
    skip = pytest.mark.skip(reason=f"needs Linux, this is {sys.platform}")
    for item in items:
        if item.get_closest_marker("linux"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def spec():
    from grader.spec import load_spec
    return load_spec(ASSIGNMENT)


@pytest.fixture(scope="session", autouse=True)
def _a_secret_in_the_environment():
    """A secret in the grader's environment, as a CI token would be: no student code may see it
    (the adversarial corpus looks for it everywhere a child could). 32 hex digits, new each run."""
    import secrets
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADER_ADVERSARIAL_CANARY", secrets.token_hex(16))
        yield


@pytest.fixture(scope="session", autouse=True)
def _not_in_the_ci_job_summary():
    """Run inside GitHub Actions, every `grader check` a test starts would write into the job's
    summary (GITHUB_STEP_SUMMARY): tests that want one set it themselves. Session-scoped, so
    that it comes before the module fixtures that run the grader."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("GITHUB_STEP_SUMMARY", raising=False)
        yield


@pytest.fixture(params=[pytest.param("zygote", marks=pytest.mark.linux), "portable"])
def each_worker(request, monkeypatch) -> str:
    """Runs the test once with each worker: the Linux zygote (on Linux) and the portable one
    (GRADER_WORKER, read by start_worker in this process and in any grader process the test starts)."""
    monkeypatch.setenv("GRADER_WORKER", request.param)
    return request.param


def terminal_block(stdout: str, function: str) -> str:
    """`grader check`'s lines about one function: its head line and the indented lines under it
    (blank lines between functions are layout, not relied on)."""
    import re
    lines = stdout.splitlines()
    heads = [i for i, line in enumerate(lines) if re.match(rf"^(ok  |FAIL) {re.escape(function)}: ", line)]
    assert len(heads) == 1, f"{function} is not the head of one paragraph in:\n{stdout}"
    block = [lines[heads[0]]]
    for line in lines[heads[0] + 1:]:
        if not line.startswith(" "):
            break
        block.append(line)
    return "\n".join(block)

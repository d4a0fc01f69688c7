import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = REPO / "assignments" / "linear_classifier"
GRADER = str(Path(sys.executable).parent / "grader")   # the console script of the environment running the tests


@pytest.fixture(scope="session")
def spec():
    from grader.spec import load_spec
    return load_spec(ASSIGNMENT)


@pytest.fixture(scope="session", autouse=True)
def _not_in_the_ci_job_summary():
    """Run inside GitHub Actions, every `grader check` a test starts would write into the job's
    summary (GITHUB_STEP_SUMMARY): tests that want one set it themselves. Session-scoped, so
    that it comes before the module fixtures that run the grader."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("GITHUB_STEP_SUMMARY", raising=False)
        yield

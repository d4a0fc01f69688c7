from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = REPO / "assignments" / "linear_classifier"


@pytest.fixture(scope="session")
def spec():
    from grader.spec import load_spec
    return load_spec(ASSIGNMENT)

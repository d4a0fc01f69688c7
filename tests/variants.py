"""Student submissions made from the reference by named edits (tests/submissions/*.yaml).

    folder = materialize("reg_grad_half", tmp_path)    # tmp_path/reg_grad_half/linear_classifier.py

Keeping a submission as "the reference with these edits" keeps it in step with the reference
and shows at a glance what the student got wrong.
"""
from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SUBMISSIONS = REPO / "tests" / "submissions"


def variants(assignment: str = "linear_classifier") -> dict:
    return yaml.safe_load((SUBMISSIONS / f"{assignment}.yaml").read_text())


def variant_source(name: str, assignment: str = "linear_classifier", module: str = "linear_classifier") -> str:
    spec = variants(assignment)[name]
    text = (REPO / "reference" / assignment / f"{module}.py").read_text()
    assert text.startswith('"""'), "the reference starts with its module docstring"
    text = f'"""[test submission: {spec["about"]}]\n\n' + text[3:]
    for i, edit in enumerate(spec["edits"]):
        count = text.count(edit["old"])
        assert count == 1, f"{name}: edit {i} matches {count} places; update {assignment}.yaml"
        text = text.replace(edit["old"], edit["new"])
    return text


def materialize(name: str, root: Path, assignment: str = "linear_classifier", module: str = "linear_classifier") -> Path:
    """Write variant `name` as a submission folder under `root`; returns the folder."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(variant_source(name, assignment, module))
    return folder

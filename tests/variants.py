"""Student submissions made from the reference by named edits (tests/submissions/*.yaml).

    folder = materialize("reg_grad_half", tmp_path)    # tmp_path/reg_grad_half/linear_classifier.py

Keeping a submission as "the reference with these edits" keeps it in step with the reference
and shows at a glance what the student got wrong. A variant has `about` (one line) and any of:

- `edits`: [{old, new}], applied in order; each `old` must occur exactly once at its turn;
- `functions`: {name: source}, replacing that top-level function's whole definition;
- `prepend` / `append`: module-level code put after the docstring / at the end.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from grader.expected.mistakes import function_span

REPO = Path(__file__).resolve().parents[1]
SUBMISSIONS = REPO / "tests" / "submissions"


def variants(corpus: str = "linear_classifier") -> dict:
    return yaml.safe_load((SUBMISSIONS / f"{corpus}.yaml").read_text())


def variant_source(name: str, corpus: str = "linear_classifier", assignment: str = "linear_classifier",
                   module: str = "linear_classifier") -> str:
    spec = variants(corpus)[name]
    text = (REPO / "reference" / assignment / f"{module}.py").read_text()
    assert text.startswith('"""'), "the reference starts with its module docstring"
    text = f'"""[test submission: {spec["about"]}]\n\n' + text[3:]
    for i, edit in enumerate(spec.get("edits", [])):
        count = text.count(edit["old"])
        assert count == 1, f"{name}: edit {i} matches {count} places; update {corpus}.yaml"
        text = text.replace(edit["old"], edit["new"])
    for fname, source in spec.get("functions", {}).items():
        match = function_span(text, fname)
        assert match, f"{name}: no function {fname} in the reference"
        text = text[:match.start()] + source.rstrip("\n") + "\n\n\n" + text[match.end():]
    if spec.get("prepend"):
        end = text.index('"""', 3) + 3
        text = text[:end] + "\n" + spec["prepend"] + text[end:]
    if spec.get("append"):
        text = text.rstrip("\n") + "\n\n\n" + spec["append"]
    return text


def materialize(name: str, root: Path, corpus: str = "linear_classifier", assignment: str = "linear_classifier",
                module: str = "linear_classifier") -> Path:
    """Write variant `name` of `corpus` as a submission folder under `root`; returns the folder."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(variant_source(name, corpus, assignment, module))
    return folder

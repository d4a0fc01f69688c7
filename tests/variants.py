"""Student submissions made from the reference by named edits (tests/submissions/*.yaml).

    folder = materialize("reg_grad_half", tmp_path)    # tmp_path/reg_grad_half/linear_classifier.py

Keeping a submission as "the reference with these edits" keeps it in step with the reference
and shows at a glance what the student got wrong. A variant has `about` (one line) and any of:

- `edits`: [{old, new}], applied in order; each `old` must occur exactly once at its turn;
- `functions`: {name: source}, replacing that function's or method's (`TwoLayerNet.loss`) whole
  definition (a method's source is written unindented);
- `prepend` / `append`: module-level code put after the module's docstring and imports (so it may
  use them) / at the end.
"""
from __future__ import annotations

import ast
import textwrap
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
    return edited(text, spec, f"test submission: {spec['about']}", f"{name} ({corpus}.yaml)", f"{module}.py")


def edited(text: str, entry: dict, header: str, name: str, where: str) -> str:
    """A reference module's `text` with `entry`'s edits, functions, prepend and append (see above),
    its docstring starting with `[header]`; a failed edit names `name` and `where`."""
    assert text.startswith('"""'), "the reference starts with its module docstring"
    text = f'"""[{header}]\n\n' + text[3:]
    for i, edit in enumerate(entry.get("edits", [])):
        count = text.count(edit["old"])
        assert count == 1, f"{name}: edit {i} matches {count} places in {where}"
        text = text.replace(edit["old"], edit["new"])
    for fname, source in entry.get("functions", {}).items():
        span = function_span(text, fname)
        assert span, f"{name}: no {fname} in {where}"
        source = textwrap.indent(source.rstrip("\n") + "\n", "    " * fname.count("."))
        text = text[:span.start()] + source + text[span.end():]
    if entry.get("prepend"):
        body = ast.parse(text).body
        first = next(n for n in body if not isinstance(n, (ast.Import, ast.ImportFrom))
                     and not (n is body[0] and isinstance(n, ast.Expr)))
        lines = text.splitlines(keepends=True)
        text = "".join(lines[:first.lineno - 1]) + "\n" + entry["prepend"] + "\n\n" + "".join(lines[first.lineno - 1:])
    if entry.get("append"):
        text = text.rstrip("\n") + "\n\n\n" + entry["append"]
    return text


def materialize(name: str, root: Path, corpus: str = "linear_classifier", assignment: str = "linear_classifier",
                module: str = "linear_classifier") -> Path:
    """Write variant `name` of `corpus` as a submission folder under `root`; returns the folder."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(variant_source(name, corpus, assignment, module))
    return folder

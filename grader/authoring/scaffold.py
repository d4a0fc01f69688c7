"""`grader new`: the files of a new assignment, for an instructor to fill in.

    grader new hw3 [--dir assignments] [--framework numpy|torch]

writes `assignments/hw3/` (assignment.yaml, hidden.yaml, an empty mistakes.yaml, a README with
the next steps) and `reference/hw3/hw3.py` beside the assignments folder: one example function,
`mse_loss`, fully specified, whose reference solution is left to write between the solution
markers. The spec loads as written; `grader validate hw3` passes once the solution is in.
"""
from __future__ import annotations

import keyword
import os
import sys
from pathlib import Path

from grader.expected.mistakes import CATALOGUE_FILE
from grader.spec import FRAMEWORKS, IDENTIFIER, HIDDEN_FILE, SPEC_FILE, SpecError

README_FILE = "README.md"
# Student modules are imported by name in the worker: a name Python or the grader already uses would shadow it.
TAKEN = set(sys.stdlib_module_names) | {"numpy", "torch", "grader", "yaml", "junitparser"}

ASSIGNMENT = """\
# {name}: the public spec, which ships with the handout (`grader release`). Format: docs/spec-format.md
# in the grader's repository. One example function to start from: rename it, change its arguments,
# outputs and cases, add functions beside it (and in the reference).
name: {name}
title: "{name}"
framework: {framework}
modules: [{name}]                  # the student's file: {name}.py
limits: {{case_timeout: 10, import_timeout: 30, memory: 4GiB}}

functions:
  mse_loss:
    dims: {{N: [1, 20], D: [1, 8]}}  # sizes sampled per case, [low, high] inclusive
    args:                          # in call order
      X: {{kind: array, shape: [N, D], dtype: float64, dist: normal}}
      w: {{kind: array, shape: [D], dtype: float64, dist: normal}}
      y: {{kind: array, shape: [N], dtype: float64, dist: normal}}
    outputs:                       # in return order
      - {{name: loss, kind: scalar}}
      - {{name: dw, kind: array, shape: [D], dtype: float64}}
    tolerance: {{rtol: 1.0e-6, atol: 1.0e-9}}
    points: {{public: 2, hidden: 3}}
    checks: [no_input_mutation]    # an input changed in place fails the case
    cases: [{{seed: 1}}, {{seed: 2}}, {{seed: 3}}]
"""

HIDDEN = """\
# Instructor only: where the reference lives, and the hidden cases (never in the handout).
reference: {reference}
functions:
  mse_loss:
    - {{seed: 101, note: "one example (N = 1)", dims: {{N: 1}}}}
    - {{seed: 102, note: "one feature (D = 1)", dims: {{D: 1}}}}
    - {{seed: 103, note: "large targets", args: {{y: {{scale: 100.0}}}}}}
"""

MISTAKES = """\
# Instructor only: the mistakes students make, as edits of the reference, each with the sentence a
# student reads when their answer matches it (format: docs/spec-format.md, "mistakes.yaml").
# `grader validate {name}` checks that the cases catch every one. For example, once mse_loss's
# reference computes `dw = 2 * X.T @ r / X.shape[0]`:
#
# mistakes:
#   no_average:
#     sentence: "dw is N times too large: the loss is a mean over the N examples, so is its gradient."
#     edits:
#       - {{in: [mse_loss], old: "2 * X.T @ r / X.shape[0]", new: "2 * X.T @ r"}}
mistakes: {{}}
not_mistakes: {{}}
"""

REFERENCE = '''\
"""{name}: the reference implementation (instructor only).

`grader release {name}` writes the student's {name}.py from this file, each block between
`# BEGIN SOLUTION` and `# END SOLUTION` replaced by a stub that raises NotImplementedError:
the docstrings are the student's instructions, the blocks are the answers.
"""
import {module}


def mse_loss(X, w, y):
    """Mean squared error of a linear model, and its gradient.

    X: (N, D) inputs, w: (D,) weights, y: (N,) targets, as {kind}.
    Returns (loss, dw): loss = mean((X @ w - y) ** 2), a scalar, and dw = d loss / d w, shape (D,).
    """
    # BEGIN SOLUTION
    raise NotImplementedError("write the reference solution of mse_loss here")
    # END SOLUTION
'''

README = """\
# {name}

Made by `grader new {name}`. Instructor only: this folder and `{reference_file}` hold the solution, the
hidden cases and the mistake catalogue. Students get the handout that `grader release` makes from them.

| file | what | in the handout |
| --- | --- | --- |
| `{spec}` | the public spec: functions, arguments, outputs, public cases, points | yes |
| `{hidden}` | where the reference lives; the hidden cases | no |
| `{mistakes}` | typical mistakes as edits of the reference, each with a sentence for the student | only what they return on the public cases |
| `{reference_file}` | the reference; solution code between `# BEGIN SOLUTION` and `# END SOLUTION` | with the solutions replaced by stubs |

Next steps:

1. Write the reference solution of `mse_loss` in `{reference_file}`, or replace the example with your own
   functions, in the reference and in `{spec}`.
2. `grader validate {target}`: the reference must get full marks on every case, the handout zero.
3. Add the mistakes you expect students to make to `{mistakes}`; `grader validate` then shows which cases catch
   each one, and students' feedback names them.
4. `grader release {target} --out student_template/{name}` writes the handout.
"""


def scaffold(name: str, assignments: Path, framework: str = "numpy") -> list[Path]:
    """Write a new assignment `name` into `assignments/name/` and its reference into
    `reference/name/` beside `assignments`; returns the files written. Refuses to overwrite."""
    if not IDENTIFIER.match(name) or keyword.iskeyword(name):
        raise SpecError(name, "", "not a valid assignment name: use letters, digits and _, not starting with a "
                                  "digit (it is also the name of the student's module)")
    if name in TAKEN:
        raise SpecError(name, "", "not a valid assignment name: the student's module would shadow the module "
                                  f"{name} that Python or the grader imports")
    if framework not in FRAMEWORKS:
        raise SpecError(name, "framework", f"must be one of {', '.join(FRAMEWORKS)}; got {framework!r}")
    folder = assignments / name
    reference_dir = assignments.parent / "reference" / name
    for existing in (folder, reference_dir):
        if existing.exists():
            raise SpecError(existing, "", "already exists; not overwriting it (choose another name or remove it)")
    reference_file = reference_dir / f"{name}.py"
    relative = Path(os.path.relpath(reference_dir.resolve(), folder.resolve())).as_posix()
    files = {
        folder / SPEC_FILE: ASSIGNMENT.format(name=name, framework=framework),
        folder / HIDDEN_FILE: HIDDEN.format(reference=relative),
        folder / CATALOGUE_FILE: MISTAKES.format(name=name),
        folder / README_FILE: README.format(name=name, spec=SPEC_FILE, hidden=HIDDEN_FILE, mistakes=CATALOGUE_FILE,
                                            reference_file=f"{relative}/{name}.py",
                                            target=validate_target(name, assignments)),
        reference_file: REFERENCE.format(name=name, module=framework,
                                         kind="numpy arrays" if framework == "numpy" else "torch tensors"),
    }
    folder.mkdir(parents=True)
    reference_dir.mkdir(parents=True)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    return list(files)


def validate_target(name: str, assignments: Path) -> str:
    """What to pass to `grader validate`: the name where find_spec finds it (./assignments), else the folder."""
    if assignments.resolve() == (Path.cwd() / "assignments").resolve():
        return name
    return (assignments / name).as_posix()

"""`grader gradescope`: an assignment packaged as a Gradescope autograder zip.

    grader gradescope linear_classifier --out autograder.zip

The zip holds Gradescope's two scripts and everything they need: `setup.sh` installs the grader
(its source is in the zip), the numpy and, for a torch assignment, the CPU build of the torch that
this checkout grades with (pinned: an image rebuilt later grades the same way); `run_autograder`
grades `/autograder/submission` on the public and hidden cases and writes
`/autograder/results/results.json`. The assignment travels with its hidden part and reference:
the zip is for Gradescope, never for students.
"""
from __future__ import annotations

import importlib.metadata
import zipfile
from pathlib import Path

from grader import __version__
from grader.spec import AssignmentSpec, SpecError, dump_yaml, resolved_yaml

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, when the autograder image is built.
set -euo pipefail
cd "${AUTOGRADER_ROOT:-/autograder}/source"
python3 -m pip install --upgrade pip
# The versions the instructor's checkout graded with when this zip was made.
python3 -m pip install numpy==%(numpy)s
%(torch)s%(packages)spython3 -m pip install ./grader-src
"""
TORCH = "python3 -m pip install torch==%s --index-url https://download.pytorch.org/whl/cpu\n"

RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission.
root="${AUTOGRADER_ROOT:-/autograder}"
mkdir -p "$root/results"
grader check "$root/submission" --assignment "$root/source/assignment" --hidden \\
    --gradescope "$root/results/results.json" > "$root/results/feedback.txt" 2>&1
status=$?
# 0 or 1: graded (results.json written). Anything else: the grader could not grade at all.
if [ "$status" -gt 1 ] || [ ! -s "$root/results/results.json" ]; then
    # The student sees one line; what went wrong (it may name hidden seeds) is for the instructor only.
    python3 -c 'import json, sys; from grader.report.gradescope import gradescope_failure; json.dump(gradescope_failure("The autograder could not grade this submission; your instructor can see why.", open(sys.argv[1], encoding="utf-8", errors="replace").read()[-4000:]), open(sys.argv[2], "w", encoding="utf-8"))' \\
        "$root/results/feedback.txt" "$root/results/results.json"
fi
exit 0
"""

PYPROJECT = """[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "grader"
version = "%(version)s"
requires-python = ">=3.10"
dependencies = ["numpy>=1.24", "pyyaml>=6", "junitparser>=3"]

[project.scripts]
grader = "grader.cli:main"

[tool.setuptools]
packages = %(packages)s

[tool.setuptools.package-data]
"grader.report" = ["*.json"]
"""


def installed(spec: AssignmentSpec, package: str) -> str:
    """The version of `package` here, without a local label (2.13.0, not 2.13.0+cpu: the CPU index
    has its own); the zip pins it."""
    try:
        return importlib.metadata.version(package).split("+")[0]
    except importlib.metadata.PackageNotFoundError:
        raise SpecError(spec.path, "framework", f"{package} is not installed here: install the version the "
                                                "autograder should grade with, and check the assignment with it") from None


def gradescope_zip(spec: AssignmentSpec, out: Path) -> list[str]:
    """Write the autograder zip; returns the names it holds."""
    if spec.reference_dir is None or not spec.reference_dir.is_dir():
        raise SpecError(spec.path, "", "the Gradescope autograder needs the reference and hidden.yaml beside the spec")
    package = Path(__file__).resolve().parents[1]         # the grader package, whole
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        def add(name: str, text: str, executable: bool = False) -> None:
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text)

        torch = TORCH % installed(spec, "torch") if spec.framework == "torch" else ""
        packages = ("# The packages the assignment lets student code import (its `packages`).\n"
                    f"python3 -m pip install {' '.join(spec.packages)}\n") if spec.packages else ""
        add("setup.sh", SETUP % {"numpy": installed(spec, "numpy"), "torch": torch, "packages": packages},
            executable=True)
        add("run_autograder", RUN, executable=True)
        packages = sorted(".".join(("grader",) + p.parent.relative_to(package).parts)
                          for p in package.rglob("__init__.py") if "__pycache__" not in p.parts)
        add("grader-src/pyproject.toml", PYPROJECT % {"version": __version__, "packages": repr(packages).replace("'", '"')})
        for path in sorted(package.rglob("*")):
            if path.is_file() and path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
                add(f"grader-src/grader/{path.relative_to(package)}", path.read_text(encoding="utf-8"))
        # Resolved (`extends` applied): the zip holds no other assignment. The catalogue comes
        # too, so that Gradescope's feedback names mistakes.
        for name in ("assignment.yaml", "hidden.yaml", "mistakes.yaml"):
            path = spec.folder / name
            if path.is_file():
                data = resolved_yaml(path)
                if name == "hidden.yaml":
                    data["reference"] = "reference"
                add(f"assignment/{name}", dump_yaml(data))
        for path in sorted(spec.reference_dir.rglob("*.py")):
            add(f"assignment/reference/{path.relative_to(spec.reference_dir)}", path.read_text(encoding="utf-8"))
        for rel in spec.support + spec.scenarios:      # the course's support modules, the scenarios
            root = spec.folder / rel
            for path in sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts) if root.is_dir() else [root]:
                add(f"assignment/{path.relative_to(spec.folder)}", path.read_text(encoding="utf-8"))
        return z.namelist()

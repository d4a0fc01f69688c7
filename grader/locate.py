"""Which files of a submission are the student's modules: `.py` files, or notebooks standing for them.

    >>> locate_modules(spec, Path("submissions/alice"))
    {'linear_svm': '/.../alice/linear_svm.py', 'softmax': '/.../alice/hw2.ipynb'}
"""
from __future__ import annotations

import os
from pathlib import Path

from grader import notebook
from grader.spec import AssignmentSpec


def locate_modules(spec: AssignmentSpec, submission: Path) -> dict:
    """Module name -> path of the student's file (.py or .ipynb), or None when it is missing.

    A folder holds `<module>.py` (or else `<module>.ipynb`) for each module; one notebook of
    any other name stands for every module without a file of its own. A single file stands for
    the module of the same name; a notebook of another name for every module, and a .py file
    of another name for the only module of a one-module assignment.
    """
    submission = submission.resolve()
    folder = submission.parent if submission.is_file() else submission
    found = {m: next((p for p in (folder / f"{m}.py", folder / f"{m}.ipynb") if p.is_file() and inside(p, folder)), None)
             for m in spec.modules}
    if submission.is_file():
        if submission.stem in spec.modules:
            found[submission.stem] = submission
        elif submission.suffix == ".ipynb":
            found = dict.fromkeys(spec.modules, submission)
        elif len(spec.modules) == 1:
            found[spec.modules[0]] = submission
    else:
        others = other_notebooks(folder, spec)
        if len(others) == 1:
            found = {m: p or others[0] for m, p in found.items()}
    return {m: (str(p) if p else None) for m, p in found.items()}


def unusable(spec: AssignmentSpec, submission: Path, modules: dict) -> dict:
    """Module -> error ("refused": the grader's own words) for a module found missing although a file
    of its name is in the folder: a named pipe, a device or a folder called `layers.py`. Not "not
    found": the student sees a file of that name. (A link leading out is load_notebooks's to refuse.)"""
    submission = submission.resolve()
    folder = submission.parent if submission.is_file() else submission
    found = {}
    for m, path in modules.items():
        candidate = folder / f"{m}.py"
        if path is None and inside(candidate, folder) and candidate.exists() and not candidate.is_file():
            found[m] = {"kind": "refused", "message": f"{m}.py is not a regular file (a folder, a named pipe or a "
                                                      "device?): save your code in an ordinary file"}
    return found


def other_notebooks(folder: Path, spec: AssignmentSpec) -> list[Path]:
    """The notebooks in a folder that are not named after one of the assignment's modules."""
    return sorted(p for p in folder.glob("*.ipynb")
                  if p.is_file() and not p.name.startswith(".") and p.stem not in spec.modules and inside(p, folder))


def inside(path: Path, folder: Path) -> bool:
    """Whether `path`, its links followed, is in `folder` (a resolved path). A link that leads out
    of a submission is never followed: it could name the reference, or a classmate's files."""
    try:
        return path.resolve().is_relative_to(folder)
    except (OSError, RuntimeError):          # a loop of links
        return False


def links_out(folder: Path) -> list[tuple[str, str]]:
    """The links in a submission's folder, at any depth, that lead out of it: (where in the
    folder, what it points to). A linked folder is listed, not entered. Every entry is looked at:
    a scan that stopped after so many would miss a link put below that many files."""
    root = folder.resolve()
    found = []
    for here, folders, files in os.walk(root):            # followlinks=False
        for name in folders + files:
            path = Path(here, name)
            if path.is_symlink() and not inside(path, root):
                found.append((str(path.relative_to(root)), os.readlink(path)))
    return found


def load_notebooks(spec: AssignmentSpec, submission: Path, modules: dict, cells: list | None = None) -> notebook.Notebooks:
    """The submission's notebooks converted, a missing module explained when several could be it,
    and every module refused when the submission's folder holds a link that leads out of it.

    `cells` is the content of the notebook at `submission` when it is held in memory."""
    found = notebook.for_modules(modules, {str(submission.resolve()): cells} if cells is not None else None)
    others = other_notebooks(submission.resolve(), spec) if submission.is_dir() else []
    for m, path in modules.items():
        if path is None and len(others) > 1:
            found.errors[m] = {"kind": "notebook", "message": (
                f"{m}.py not found in the submission, which holds {len(others)} notebooks "
                f"({', '.join(p.name for p in others)}): keep one, or name the one to grade {m}.ipynb")}
    links = links_out(submission) if submission.is_dir() and cells is None else []
    if links:
        # Without Landlock (a partial sandbox, the portable worker) the child could import through
        # them: nothing of such a submission runs.
        shown = ", ".join(f"{where} -> {target}" for where, target in links[:3]) + (", ..." if len(links) > 3 else "")
        for m in modules:
            found.errors[m] = {"kind": "refused", "message": (
                f"not run: the submission holds {'links' if len(links) > 1 else 'a link'} to files outside it ({shown}); "
                f"only the submission's own files are graded: remove {'them' if len(links) > 1 else 'it'}")}
    return found

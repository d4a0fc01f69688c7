"""Which files of a submission are the student's modules: `.py` files, or notebooks standing for them.

    >>> locate_modules(spec, Path("submissions/alice"))
    {'linear_svm': '/.../alice/linear_svm.py', 'softmax': '/.../alice/hw2.ipynb'}
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from grader import notebook
from grader.spec import AssignmentSpec


def locate_modules(spec: AssignmentSpec, submission: Path) -> dict:
    """Module name -> path of the student's file (.py or .ipynb), or None when it is missing.

    A folder holds `<module>.py` for each module; else, below its top, one `<module>.py` (or copies
    of one file: a course's tree such as CS231n's `cs231n/classifiers/linear_svm.py`, whose
    notebooks beside it are not the modules); else `<module>.ipynb`; else one file whose name is
    the module's but for its case or a copy's suffix (`Linear_SVM.py`, `linear_svm (1).py`,
    `linear_svm-2.py`, `linear_svm copy.py`). One notebook of any other name stands for every
    module without a file of its own. A single file stands for the module of the same name; a
    notebook of another name for every module, and a .py file of another name for the only module
    of a one-module assignment.
    """
    submission = submission.resolve()
    folder = submission.parent if submission.is_file() else submission
    found = {m: _top(folder, f"{m}.py") for m in spec.modules}
    if submission.is_file():
        found = {m: p or _top(folder, f"{m}.ipynb") for m, p in found.items()}
        if submission.stem in spec.modules:
            found[submission.stem] = submission
        elif submission.suffix == ".ipynb":
            found = dict.fromkeys(spec.modules, submission)
        elif len(spec.modules) == 1:
            found[spec.modules[0]] = submission
    else:
        tree = None
        for m, p in found.items():
            if p is None:
                tree = tree if tree is not None else files_below(folder)
                found[m] = _one_copy(tree.get(f"{m}.py", [])) or _top(folder, f"{m}.ipynb") or _renamed(folder, m)
        others = other_notebooks(folder, spec)
        if len(others) == 1:
            found = {m: p or others[0] for m, p in found.items()}
    return {m: (str(p) if p else None) for m, p in found.items()}


_COPY = re.compile(r"(\s*\(\d+\)|-\d+|\s+(-\s+)?copy(\s*\(?\d+\)?)?)$", re.IGNORECASE)   # ' (1)', '-2', ' copy', ' - Copy (2)'
_SKIPPED = {"__MACOSX", "__pycache__", ".ipynb_checkpoints", "node_modules", "site-packages"}
MAX_BELOW = 5000                     # entries looked at below a submission's top, at most
MAX_MODULE = 4 << 20                 # bytes of a module file found below the top, at most
MAX_DEPTH = 8


def _top(folder: Path, name: str) -> Path | None:
    p = folder / name
    return p if p.is_file() and inside(p, folder) else None


def _environment(here, name: str) -> bool:
    """Whether folder `name` in `here` holds installed code, not the student's: a cache, a virtual
    environment (its pyvenv.cfg), site-packages, node_modules."""
    return name in _SKIPPED or (Path(here, name) / "pyvenv.cfg").exists()


def _searched(folder: Path, max_depth: int = MAX_DEPTH):
    """(folder, depth, file names) below `folder`, where a student's module may be: hidden folders,
    caches, virtual environments and links are not entered, nor folders deeper than `max_depth`;
    up to MAX_BELOW entries in all."""
    seen = 0
    for here, folders, files in walk(folder):
        depth = len(Path(here).relative_to(folder).parts)
        folders[:] = [d for d in folders if not d.startswith(".") and depth < max_depth and not _environment(here, d)]
        seen += len(folders) + len(files)
        if seen > MAX_BELOW:
            return
        yield here, depth, files


def files_below(folder: Path) -> dict[str, list[Path]]:
    """File name -> the .py and .ipynb files of that name below the folder's top (not at it), by
    depth, where `_searched` looks."""
    found: dict[str, list[Path]] = {}
    for here, depth, files in _searched(folder):
        if depth:
            for name in sorted(files):
                path = Path(here, name)
                if name.endswith((".py", ".ipynb")) and not path.is_symlink() and path.is_file():
                    found.setdefault(name, []).append(path)
    for paths in found.values():
        paths.sort(key=lambda p: (len(p.parts), str(p)))
    return found


def _one_copy(paths: list[Path]) -> Path | None:
    """The shallowest of the paths when they hold the same bytes (one file, or copies of it); None
    when there are none, or several that differ (which one is the student's to say)."""
    if not paths:
        return None
    try:
        if any(p.stat().st_size > MAX_MODULE for p in paths):
            return None                  # no student's module: not read into this process's memory either
        first = paths[0].read_bytes()
        return paths[0] if all(p.read_bytes() == first for p in paths[1:]) else None
    except OSError:
        return None


def _renamed(folder: Path, module: str) -> Path | None:
    """The one .py file at the folder's top named as the module but for its case or a copy's suffix."""
    try:
        named = [p for p in folder.iterdir() if p.suffix.lower() == ".py" and not p.name.startswith(".")
                 and _COPY.sub("", p.stem).lower() == module.lower() and p.is_file() and inside(p, folder)]
    except OSError:
        return None
    return named[0] if len(named) == 1 else None


def missing_reason(folder: Path, module: str) -> str:
    """Why `<module>.py` was not found, where the folder holds what looks like it: several
    different copies below its top, or files named like it. "" when nothing looks like it."""
    below = files_below(folder).get(f"{module}.py", [])
    if len(below) > 1:
        shown = ", ".join(str(p.relative_to(folder)) for p in below[:3]) + (", ..." if len(below) > 3 else "")
        return (f"{module}.py not found at the top of the submission, and below it are {len(below)} different files "
                f"of that name ({shown}): keep the one to grade, or put it at the top")
    key = module.lower().replace("_", "")
    alike = []
    for here, depth, files in _searched(folder, max_depth=2):
        for name in files:
            stem, ext = os.path.splitext(name)
            plain = _COPY.sub("", stem).lower().replace("_", "").replace(" ", "").replace("-", "")
            path = Path(here, name)
            if ext.lower() in (".py", ".ipynb") and plain and (key in plain or plain in key) and path.is_file() \
                    and not path.is_symlink() and path != folder / f"{module}.py":
                alike.append(str(path.relative_to(folder)))
        if len(alike) >= 3:
            break
    if not alike:
        return ""
    return (f"{module}.py not found in the submission, which holds {', '.join(alike[:3])}: name the file to grade "
            f"{module}.py, at the top of the submission")


def source_text(path, limit: int | None = None) -> str | None:
    """A student's .py file as Python reads it (`decode_code`). None when it cannot be read, or is
    over `limit` bytes."""
    try:
        data = Path(path).read_bytes() if limit is None or Path(path).stat().st_size <= limit else None
    except OSError:
        return None
    return None if data is None else decode_code(data)


def decode_code(data: bytes) -> str:
    """A .py file's bytes as Python reads them: the encoding its coding line or UTF-8 byte order mark
    says (a BOM kept in the text is a syntax error to `ast`), universal newlines; undecodable bytes
    replaced."""
    import importlib.util
    try:
        return importlib.util.decode_source(data)
    except (SyntaxError, LookupError, ValueError):   # a coding line naming no codec, or one that fails (UnicodeError)
        return data.decode("utf-8", errors="replace")


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


MAX_TREE_DEPTH = 64                  # folders in folders a submission may hold; deeper is refused, not walked


class TooDeep(Exception):
    """A submission's folders nest deeper than MAX_TREE_DEPTH (where os.walk and pathlib would hit
    Python's recursion limit, and paths the system's length limit)."""


def walk(root: Path):
    """(folder, its subfolders' names, its files' names) from `root` down, as os.walk gives them
    (remove names from the subfolders' list to skip them), without recursion: links to folders are
    files here, never entered. TooDeep past MAX_TREE_DEPTH."""
    stack = [(Path(root), 0)]
    while stack:
        here, depth = stack.pop()
        try:
            with os.scandir(here) as it:
                entries = sorted(it, key=lambda e: e.name)
            folders = [e.name for e in entries if e.is_dir(follow_symlinks=False)]
        except OSError:
            continue
        named = set(folders)
        files = [e.name for e in entries if e.name not in named]
        yield here, folders, files
        if folders and depth >= MAX_TREE_DEPTH:
            raise TooDeep(f"folders nested more than {MAX_TREE_DEPTH} deep ({here.relative_to(root)}/...)")
        stack.extend((here / name, depth + 1) for name in reversed(folders))


def links_out(folder: Path) -> list[tuple[str, str]]:
    """The links in a submission's folder, at any depth, that lead out of it: (where in the
    folder, what it points to); not in virtual environments and caches. A linked folder is listed,
    not entered. Every other entry is looked at: a scan that stopped after so many would miss a link
    put below that many files. TooDeep for folders nested too deep to look at all."""
    root = folder.resolve()
    found = []
    for here, folders, files in walk(root):
        for name in folders + files:
            path = Path(here, name)
            if path.is_symlink() and _leads_out(path, root):
                found.append((str(path.relative_to(root)), os.readlink(path)))
        # Not entered: a virtual environment or a cache, whose links (venv/bin/python -> /usr/bin/python3)
        # nothing of the grader's follows, as nothing there is searched for the student's files.
        folders[:] = [d for d in folders if not _environment(here, d)]
    return found


def _leads_out(link: Path, root: Path) -> bool:
    """Whether a link leads out of the folder `root`; a loop of links (`loop -> loop`) leads nowhere."""
    try:
        return not link.resolve().is_relative_to(root)
    except RuntimeError:
        return False
    except OSError:
        return True


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
        elif path is None and submission.is_dir() and cells is None:
            reason = missing_reason(submission.resolve(), m)
            if reason:
                found.errors[m] = {"kind": "notebook", "message": reason}
    try:
        links = links_out(submission) if submission.is_dir() and cells is None else []
    except TooDeep as e:
        for m in modules:
            found.errors[m] = {"kind": "refused", "message": f"not run: the submission holds {e}: remove them"}
        return found
    if links:
        # Without Landlock (a partial sandbox, the portable worker) the child could import through
        # them: nothing of such a submission runs.
        shown = ", ".join(f"{where} -> {target}" for where, target in links[:3]) + (", ..." if len(links) > 3 else "")
        for m in modules:
            found.errors[m] = {"kind": "refused", "message": (
                f"not run: the submission holds {'links' if len(links) > 1 else 'a link'} to files outside it ({shown}); "
                f"only the submission's own files are graded: remove {'them' if len(links) > 1 else 'it'}")}
    return found

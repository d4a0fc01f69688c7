"""Finding a class's submissions: a folder or a zip in, one Submission per student out.

Each folder is one student (a lone wrapping folder, as exports nest them, is looked through), and
so is each loose file (`alice.py`, Canvas's `alice_123_456_linear_classifier.py`) and each zip;
archives are unpacked refusing links and paths outside them. Each submission carries a fingerprint
of what its result depends on: its files, the spec (as read), the reference, the grader version.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import unicodedata
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

from grader import __version__
from grader.spec import AssignmentSpec, dump_yaml, resolved_yaml

SKIP_NAMES = {"__MACOSX", "__pycache__", ".DS_Store", "submission_metadata.yml"}
MAX_UNZIPPED = 200 << 20             # bytes a submission archive may unpack to
MAX_ENTRIES = 50_000                 # files and folders in it (100,000 empty files took the batch half a minute)
MAX_EXPORT_ENTRIES = 500_000         # in a whole class's export
MAX_EXPORT_UNZIPPED = 4 << 30        # bytes a whole class's export may unpack to (each of its files: MAX_UNZIPPED)
_NOT_NOTED = {".git", ".gitignore", ".ipynb_checkpoints", ".vscode", ".idea", "Thumbs.db", "desktop.ini"}


class BatchError(Exception):
    """A problem with the batch as a whole (unreadable folder, unsafe archive): a usage error."""


@dataclass(frozen=True)
class Submission:
    student: str
    path: Path                       # a folder holding the student's modules
    fingerprint: str
    origin: str = ""                 # what was handed in, as found in SUBMISSIONS (named in the reports)
    problem: str = ""                # why it cannot be graded (an archive that does not unpack), else ""


# Beside the students' folders in OUT (the last two with --similarity): no student gets their names.
EXPORTS = ("gradebook.csv", "junit.xml", "report.html", "similarity.csv", "similarity.html")


# ---------------------------------------------------------------------------------------------
# Finding the submissions


def discover(source: Path, spec: AssignmentSpec, staging: Path, exclude: Path | None = None,
             notes: list | None = None) -> list[Submission]:
    """Every student's submission in `source`, sorted by student id.

    `source` is a folder or a .zip. Inside, each folder is one student (named after it), and so
    is each loose file: `alice.py`, or Canvas's `alice_123_456_linear_classifier.py` for module
    `linear_classifier` (`..._linear_classifier-1.py`, a resubmission, too; another .py file of
    Canvas's is a helper of that student's); `alice.ipynb`, or Canvas's `alice_123_456_hw2.ipynb`
    (a notebook keeps its own name, `hw2.ipynb`, for the messages); `alice.zip`, or Canvas's
    `alice_123_456_hw2.zip`. Archives (the whole export, or one per student) are unpacked into
    `staging`, refusing absolute paths, `..` and links; a student's archive that cannot be
    unpacked is that student's problem, not the batch's. A lone wrapping folder is looked
    through. `exclude` (the output folder) is skipped.

    Student ids keep letters (any script), digits, '.', '_', '@' and '-'. Two entries that would
    get the same id, or an id that is an export's name, are told apart with a suffix (`alice-2`),
    and each such renaming is added to `notes`, so that no student is silently dropped.
    """
    source = Path(source)
    if not source.exists():
        raise BatchError(f"{source}: no such file or folder")
    shown, unpacked = source, None                  # how the reports name what was handed in
    refused: list = []                              # an export's entries not unpacked: (name, why)
    if source.is_file():
        if not zipfile.is_zipfile(source):
            raise BatchError(f"{source}: not a folder or a zip archive of submissions")
        source = unpacked = _unzip(source, staging / "_export", MAX_EXPORT_ENTRIES, refused)
    skip = exclude.resolve() if exclude is not None else None
    while True:
        listed = _entries(source)
        own = [e for e in listed if skip is not None and _resolved(e) == skip]
        strange = _not_written_by_grade(own[0]) if own else ""
        if strange:
            # a student's entry named like OUT: graded, it would be dropped without a word and the
            # class's exports written among its files (the fifteenth and sixteenth red teams: its
            # module one folder down, a folder named gradebook.csv)
            raise BatchError(f"{exclude}: the output folder is in {shown}, and holds what `grader grade` does not write "
                             f"({strange}): it looks like a submission; give --out a folder of its own")
        entries = [e for e in listed if e not in own]
        candidates = [e for e in entries if e.exists()            # not a link to nothing, nor a loop of links
                      and (e.is_dir() or e.suffix in (".zip", ".py", ".ipynb"))]
        if len(candidates) == 1 and candidates[0].is_dir() and not _is_student(candidates[0], spec):
            source = candidates[0]
        else:
            break

    def origin(entry: Path) -> str:
        return str(shown / entry.relative_to(unpacked)) if unpacked is not None else str(entry)

    chosen = {e.name for e in candidates}
    ignored = [e.name for e in sorted(source.iterdir()) if e.name not in chosen and e.name not in SKIP_NAMES
               and e.name not in _NOT_NOTED and _resolved(e) != skip]
    if ignored and notes is not None:       # a student's .tar.gz or .PY: said, not silently left out
        notes.append(f"not graded, as no submission: {', '.join(ignored[:5])}{', ...' if len(ignored) > 5 else ''} "
                     f"(a submission is a folder, a .py, .ipynb or .zip file; names starting with '.' are skipped)")

    ids = _Ids(notes if notes is not None else [])
    found: list[Submission] = []
    loose: dict[str, dict[str, Path]] = {}           # student -> {file name to grade it as: file}
    left_out = _left_out(refused, unpacked, [e for e in candidates if e.is_dir()])
    if left_out.get(None) and notes is not None:
        notes.append(f"not unpacked from {shown}: {'; '.join(left_out[None][:5])}{'; ...' if len(left_out[None]) > 5 else ''}")
    for entry in candidates:
        if entry.is_dir():
            student = ids.new(entry.name, origin(entry))
            folder = look_through(entry, spec)
            try:
                folder, problem = inner_zip(folder, spec, staging / "_inner" / student), ""
            except BatchError as e:
                problem = f"the zip in {entry.name} could not be unpacked: {e}"
            if left_out.get(entry):
                problem = f"{shown} holds entries of {entry.name} that the grader does not unpack: {'; '.join(left_out[entry][:3])}"
            found.append(Submission(student, folder, "", origin(entry), problem))
        elif entry.suffix == ".zip":
            canvas = _CANVAS.match(entry.stem)                   # alice_123_456_hw2.zip: student alice_123_456
            student = ids.new(canvas.group(1) if canvas else entry.stem, origin(entry))
            try:
                folder, problem = inner_zip(look_through(_unzip(entry, staging / "_zips" / student), spec), spec,
                                            staging / "_inner" / student), ""
            except BatchError as e:
                folder, problem = staging / "_zips" / student, f"{entry.name} could not be unpacked: {e}"
                folder.mkdir(parents=True, exist_ok=True)
            found.append(Submission(student, folder, "", origin(entry), problem))
        else:
            name, as_file = _split_loose(entry.stem, entry.suffix, spec)
            files = loose.get(ids.loose(name))
            if files is None or as_file in files:    # a new student, or a second file for the same name
                files = loose[ids.new(name, origin(entry), loose=True)] = {}
            files[as_file] = entry
    for student, files in loose.items():
        folder = staging / "_loose" / student
        folder.mkdir(parents=True, exist_ok=True)
        for name, path in files.items():
            shutil.copyfile(path, folder / name)
        shown_files = ", ".join(origin(path) for path in files.values())
        found.append(Submission(student, folder, "", shown_files))
    return sorted((replace(s, fingerprint=fingerprint(s.path, spec)) for s in found), key=lambda s: s.student)


def _left_out(refused: list, root: Path | None, folders: list) -> dict:
    """The entries an export's unzip refused, by the student's folder they are in ({folder: [why]}),
    and under None those in no student's folder."""
    found: dict = {}
    where = {folder.relative_to(root).as_posix() + "/": folder for folder in folders} if root is not None else {}
    for name, why in refused:
        owner = next((folder for prefix, folder in where.items() if name.startswith(prefix)), None)
        found.setdefault(owner, []).append(why)
    return found


class _Ids:
    """Student ids, each given once."""

    def __init__(self, notes: list):
        self.taken: dict[str, str] = {name: "the class export of that name" for name in EXPORTS}
        self.notes = notes
        self._loose: dict[str, str] = {}            # a loose file's name -> the id its first file got

    def new(self, name: str, origin: str, loose: bool = False) -> str:
        base = _student_id(name)
        sid, n = base, 1
        while sid.lower() in self.taken:
            n += 1
            sid = f"{base}-{n}"
        if sid != base:
            self.notes.append(f"{origin} is graded as student {sid}: {base} is {self.taken[base.lower()]}")
        self.taken[sid.lower()] = origin
        if loose:
            self._loose.setdefault(name, sid)
        return sid

    def loose(self, name: str) -> str | None:
        """The id of an earlier loose file of the same student, if any."""
        return self._loose.get(name)


def _resolved(entry: Path) -> Path | None:
    """Where an entry leads, or None for a loop of links (graded as what it is: a link to nothing)."""
    try:
        return entry.resolve()
    except (OSError, RuntimeError):
        return None


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name not in SKIP_NAMES and not p.name.startswith("."))


def _not_written_by_grade(out: Path) -> str:
    """'' where `out` is empty or holds only what `grader grade` writes (the class exports, and a
    folder per student of its three files, with the temporary files and the lock of a run); else the
    first entry that it does not write, by name."""
    if out.is_symlink() or not out.is_dir():
        return out.name
    for entry in sorted(os.listdir(out)):
        path = out / entry
        if entry.startswith("."):                        # the lock, a temporary file of an atomic write
            if path.is_file() and not path.is_symlink():
                continue
            return entry
        if entry in EXPORTS and path.is_file() and not path.is_symlink():
            continue
        if entry in EXPORTS or not path.is_dir() or path.is_symlink():
            return entry
        for inner in os.listdir(path):
            if not (inner in RESULT_NAMES or inner.startswith(".")) or not (path / inner).is_file() \
                    or (path / inner).is_symlink():
                return f"{entry}/{inner}"
    return ""


RESULT_NAMES = ("result.json", "feedback.txt", "results.json")     # a student's files in OUT (batch.store)


def _is_student(folder: Path, spec: AssignmentSpec) -> bool:
    """Whether a lone folder is a student's rather than a wrapper: it holds a module of the
    assignment, or a single notebook and no folder (a wrapper of loose notebooks holds several)."""
    if _has_modules(folder, spec):
        return True
    entries = _entries(folder)
    return sum(p.suffix == ".ipynb" for p in entries) == 1 and not any(p.is_dir() for p in entries)


def _has_modules(folder: Path, spec: AssignmentSpec, any_notebook: bool = False) -> bool:
    """Whether the folder holds a module of the assignment (`m.py`, `m.ipynb`), or with
    `any_notebook`, any notebook (inside a student's folder, one may stand for the modules;
    a folder of many notebooks is more likely a class export of loose files)."""
    return any((folder / f"{m}{ext}").is_file() for m in spec.modules for ext in (".py", ".ipynb")) or (
        any_notebook and any(p.suffix == ".ipynb" and p.is_file() for p in _entries(folder)))


def look_through(folder: Path, spec: AssignmentSpec) -> Path:
    """A student's folder, or the one folder inside it that holds their modules."""
    while not _has_modules(folder, spec, any_notebook=True):
        inner = [p for p in _entries(folder) if p.is_dir() and not p.is_symlink()]   # a link may lead to anyone's files
        if len(inner) != 1:
            break
        folder = inner[0]
    return folder


def inner_zip(folder: Path, spec: AssignmentSpec, target: Path, depth: int = 3) -> Path:
    """A student's folder, or, where it holds nothing but one zip (a zip of their zip, a folder they
    zipped and handed in beside nothing else), that zip unpacked into `target` and looked through,
    and so on, `depth` zips deep at most (an upload of a zip of a zip). BatchError when one does
    not unpack."""
    if depth <= 0 or _has_modules(folder, spec, any_notebook=True):
        return folder
    entries = [e for e in _entries(folder) if e.name not in _NOT_NOTED]
    if len(entries) != 1 or entries[0].suffix.lower() != ".zip" or not entries[0].is_file() or entries[0].is_symlink():
        return folder
    return inner_zip(look_through(_unzip(entries[0], target / "zip"), spec), spec, target / "in", depth - 1)


_CANVAS = re.compile(r"^(.+?_(?:LATE_)?\d+_\d+)_(.+?)(?:-\d+)?$")   # name[_LATE]_userid_submissionid_file[-resubmission]


def _split_loose(stem: str, suffix: str, spec: AssignmentSpec) -> tuple[str, str]:
    """(student, file name to grade it as) of a loose file."""
    canvas = _CANVAS.match(stem)
    if canvas:
        return canvas.group(1), canvas.group(2) + suffix
    for module in spec.modules:
        if stem.endswith("_" + module) and len(stem) > len(module) + 1:
            return stem[: -len(module) - 1], module + suffix
    return stem, (spec.modules[0] if suffix == ".py" else stem) + suffix


def _student_id(name: str) -> str:
    """A folder-safe id: letters (any script), digits, '.', '_', '@', '-' kept, anything else '_';
    never starting with '.', '-' or '@' (a hidden folder, an option, a spreadsheet formula). One
    longer than ID_BYTES in UTF-8 (a folder name holds 255 bytes, and NFC can lengthen a name) is
    cut there and ends with a digest of the whole name: the same id at every run, and two names
    alike up to the cut are still two ids."""
    sid = re.sub(r"[^\w.@-]", "_", unicodedata.normalize("NFC", name))
    sid = re.sub(r"^[.@-]", "_", sid) or "_"
    if len(sid.encode()) > ID_BYTES:
        digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:12]
        sid = sid.encode()[:ID_BYTES - 13].decode("utf-8", "ignore") + "-" + digest
    return sid


ID_BYTES = 100


def _unzip(archive: Path, target: Path, max_entries: int = MAX_ENTRIES, refused: list | None = None) -> Path:
    """Unpack safely: regular files and folders only, inside `target`, within a size and a count
    budget. Whatever goes wrong (encrypted, damaged, a compression zipfile does not read, an entry
    that cannot be a file here) is a BatchError naming the archive and the entry. With `refused`, an
    entry that is a link or whose path leaves its folder (absolute, or with a `..` in it, even one
    that lands inside the archive: `mallory/../bob/tiny.py` would replace a classmate's file) is not
    unpacked but added to it, (its name with / for \\, why), and the rest is unpacked: in a class's
    export, one student's entry is that student's problem. So is, there, a file over MAX_UNZIPPED, or
    one that cannot be a file here (a name too long for this file system, a file where a folder of
    the same name goes): a thirteenth red team's three such entries each stopped a whole class."""
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    info = None
    try:
        with zipfile.ZipFile(archive) as z:
            # macOS's Finder adds a __MACOSX copy of every file: never looked at, never unpacked
            infos = [i for i in z.infolist() if i.filename.replace("\\", "/").split("/")[0] not in SKIP_NAMES]
            budget = MAX_UNZIPPED if refused is None else MAX_EXPORT_UNZIPPED
            if sum(i.file_size for i in infos if refused is None or i.file_size <= MAX_UNZIPPED) > budget:
                raise BatchError(f"{archive}: unpacks to more than {budget >> 20} MiB")
            if len(infos) > max_entries:
                raise BatchError(f"{archive}: holds {len(infos):,} entries, more than the {max_entries:,} the grader unpacks")
            for info in infos:
                name = info.filename.replace("\\", "/")      # Windows' own zip tools write hw2\linear_classifier.py
                dest = (root / name).resolve()
                if stat.S_ISLNK(info.external_attr >> 16):
                    why = "is a link; archives may hold only files and folders"
                elif name.startswith("/") or ".." in name.split("/") or not dest.is_relative_to(root):
                    why = "points outside its folder (an absolute path, or '..')"
                elif refused is not None and info.file_size > MAX_UNZIPPED:
                    why = f"unpacks to more than {MAX_UNZIPPED >> 20} MiB"
                else:
                    why = ""
                if why and refused is None:
                    raise BatchError(f"{archive}: {info.filename} {why}")
                if why:
                    refused.append((name, f"{info.filename} {why}"))
                    continue
                try:
                    if name.endswith("/"):
                        dest.mkdir(parents=True, exist_ok=True)
                    else:
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        with z.open(info) as src, open(dest, "wb") as out:
                            shutil.copyfileobj(src, out)
                except OSError as e:
                    if refused is None:
                        raise
                    refused.append((name, f"{info.filename[:100]} could not be unpacked here ({e.strerror or e})"))
                    _make_folder_of(root, name)     # its student is still found, with the entry refused
    except BatchError:
        raise
    except zipfile.BadZipFile as e:
        raise BatchError(f"{archive}: {e}") from None
    except Exception as e:  # noqa: BLE001 - encrypted, Deflate64, damaged data, a name too long: the archive's
        entry = f"{info.filename[:100]!r} " if info is not None else ""
        why = e.strerror if isinstance(e, OSError) and e.strerror else f"{type(e).__name__}: {str(e)[:200]}"
        raise BatchError(f"{archive}: the entry {entry}could not be unpacked ({why})") from None
    return target


def _make_folder_of(root: Path, name: str) -> None:
    """The export's folder an entry that could not be unpacked is in, made if it can be: the
    student it belongs to is then found, and told which entry was refused."""
    top = name.split("/")[0] if "/" in name else ""
    if top:
        try:
            (root / top).mkdir(exist_ok=True)
        except OSError:
            pass


def fingerprint(folder: Path, spec: AssignmentSpec) -> str:
    """What a result depends on: the student's files, the spec, the reference, the grader version."""
    from grader.locate import TooDeep, walk
    h = hashlib.sha256(f"grader {__version__}\n".encode())
    try:
        paths = sorted(Path(here, name) for here, folders, files in walk(folder) if "__pycache__" not in Path(here).parts
                       for name in folders + files)
    except TooDeep as e:                 # graded as refused (grader.locate.load_notebooks): its files say nothing more
        paths = []
        h.update(f"too deep: {e}\n".encode())
    for path in paths:
        if path.is_symlink():            # its text, never what it leads to (a device, a classmate's file)
            h.update(f"link {json.dumps(str(path.relative_to(folder)))} -> {json.dumps(os.readlink(path))}\n".encode())
        elif path.is_file():
            # its name quoted and its size first: a file's bytes cannot pass for another file's name
            h.update(f"submission {json.dumps(str(path.relative_to(folder)))} {path.stat().st_size}\n".encode())
            try:
                with open(path, "rb") as f:                  # in pieces: a file of gigabytes is read, never held
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
            except OSError as e:
                h.update(f"unreadable: {e.strerror}\n".encode())
    h.update(spec_digest(spec).encode())
    return h.hexdigest()


_SPEC_DIGESTS: dict = {}             # id(spec) -> (spec, digest): a spec loaded again is digested again


def spec_digest(spec: AssignmentSpec) -> str:
    """What of the assignment a result depends on: its spec files as read, with what they extend
    (a change to cs231n's hidden cases regrades cs231n_2016, which extends them), the expected
    values a handout ships, and the reference's code."""
    cached = _SPEC_DIGESTS.get(id(spec))
    if cached is None or cached[0] is not spec:
        h = hashlib.sha256()
        for path in (spec.path, spec.folder / "hidden.yaml", spec.folder / "mistakes.yaml"):
            if path.is_file():
                h.update(f"{path.name}\n".encode())
                h.update(dump_yaml(resolved_yaml(path)).encode())
        files = [spec.expected_path]
        if spec.reference_dir is not None and spec.reference_dir.is_dir():
            files += sorted(spec.reference_dir.rglob("*.py"))
        for path in files:
            if path.is_file():
                h.update(f"{path.name}\n".encode())
                h.update(path.read_bytes())
        cached = _SPEC_DIGESTS[id(spec)] = (spec, h.hexdigest())
    return cached[1]

"""`grader release`: the student handout, made from the reference and the public spec.

    grader release linear_classifier --out student_template/linear_classifier

writes each student module with its solution blocks replaced by a TODO stub, the public spec
(`assignment.yaml`, copied as is), the assignment's support files and scenarios (public: the
course's helper modules, beside the student's file as the course ships them), and the expected
outputs of the public cases. It never
writes `hidden.yaml`, reference code between markers, or anything computed from hidden cases.

Solution markers, in reference files:

    # BEGIN SOLUTION
    ...code the student writes...
    # END SOLUTION

The block becomes, at the same indentation:

    # TODO: your code here (see the docstring).
    raise NotImplementedError("svm_loss_naive is not implemented yet")

or, when the block starts with the author's prompt in `# PROMPT:` lines (comments, so the
reference still runs), that prompt:

    # BEGIN SOLUTION                                # TODO: Loop over the examples; for each
    # PROMPT: Loop over the examples; for each      #       class with a positive margin ...
    # PROMPT: class with a positive margin ...  ->  raise NotImplementedError(...)
    ...code the student writes...
    # END SOLUTION

and the one-line form keeps an assignment's target and hides its value:

    num_train = X.shape[0]  # SOLUTION      ->      num_train = ...  # TODO
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from grader.spec import SPEC_FILE, AssignmentSpec, SpecError

BEGIN = re.compile(r"^(\s*)#\s*BEGIN SOLUTION\b")
END = re.compile(r"^\s*#\s*END SOLUTION\b")
DEF = re.compile(r"^(\s*)def\s+([A-Za-z_][A-Za-z0-9_]*)")
CLASS = re.compile(r"^(\s*)class\s+([A-Za-z_][A-Za-z0-9_]*)")
ONE_LINE = re.compile(r"^(\s*)(.*?)\s*#\s*SOLUTION\s*$")
PROMPT = re.compile(r"^\s*#\s*PROMPT:\s?(.*?)\s*$")
ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_.,\[\] ]*?)\s*(=|\+=|-=|\*=|/=)\s*\S")


def strip_solutions(source: str, filename: str = "<reference>", stub: str = "raise") -> str:
    """The source with every solution block replaced by its prompt (or a TODO) and a stub that raises
    NotImplementedError; with `stub="pass"`, a `pass` instead (CS231n's handouts have one): the starter
    code a student runs who deleted the raise and wrote nothing, which returns what the code around the
    blocks sets (loss 0, a gradient of zeros, None)."""
    out, inside, function, prompt, block_started = [], False, None, [], False
    classes: list[tuple[int, str]] = []                  # (indent, name) of the classes the line is in
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        m = DEF.match(line) or CLASS.match(line)
        if m and not inside:
            indent = len(m.group(1).expandtabs())
            classes = [(i, c) for i, c in classes if i < indent]
            if line.lstrip().startswith("class"):
                classes.append((indent, m.group(2)))
            else:
                function = ".".join([c for _, c in classes] + [m.group(2)])     # Linear.forward
        begin = BEGIN.match(line)
        if begin:
            if inside:
                raise SpecError(filename, f"line {number}", "BEGIN SOLUTION inside another solution block")
            inside, prompt = True, []
            pad = begin.group(1)
            continue
        if inside and not block_started and PROMPT.match(line):
            prompt.append(PROMPT.match(line).group(1))     # the author's prompt opens the block
            continue
        if END.match(line):
            if not inside:
                raise SpecError(filename, f"line {number}", "END SOLUTION without BEGIN SOLUTION")
            what = f"{function} is not implemented yet" if function else "not implemented yet"
            todo = prompt or ["your code here (see the docstring)."]
            out.append(f"{pad}# TODO: {todo[0]}\n")
            out += [f"{pad}#       {text}\n".rstrip() + "\n" for text in todo[1:]]
            out.append(f'{pad}raise NotImplementedError("{what}")\n' if stub == "raise" else f"{pad}pass\n")
            inside = block_started = False
            continue
        if inside:
            block_started = True
        if not inside:
            one = ONE_LINE.match(line.rstrip("\n"))
            if one:
                pad, code = one.groups()
                target = ASSIGNMENT.match(code)
                line = f"{pad}{target.group(1)} {target.group(2)} ...  # TODO\n" if target else f"{pad}...  # TODO\n"
            out.append(line)
    if inside:
        raise SpecError(filename, "end of file", "BEGIN SOLUTION is never closed by END SOLUTION")
    return "".join(out)


def release(spec: AssignmentSpec, out: Path) -> list[Path]:
    """Write the handout of `spec` into `out`; returns the files written."""
    from grader import expected as expected_mod
    from grader.grade import select_cases

    if spec.reference_dir is None:
        raise SpecError(spec.path, "", "a release needs the reference: hidden.yaml with `reference:` beside the spec")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for module in spec.modules:
        ref = spec.reference_dir / f"{module}.py"
        if not ref.is_file():
            raise SpecError(spec.folder / "hidden.yaml", "reference", f"{ref} does not exist")
        target = out / f"{module}.py"
        target.write_text(strip_solutions(ref.read_text(), str(ref)))
        written.append(target)
    if "extends" in spec.path.read_text():       # the handout has no base file: write the spec resolved
        from grader.spec import dump_yaml, resolved_yaml
        text = "# Generated by `grader release` from a spec that extends another.\n"
        (out / SPEC_FILE).write_text(text + dump_yaml(resolved_yaml(spec.path)))
    else:
        shutil.copyfile(spec.path, out / SPEC_FILE)
    written.append(out / SPEC_FILE)
    for rel in spec.support + spec.scenarios:      # public files the student's code and the steps use
        source, target = spec.folder / rel, out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            written += sorted(p for p in target.rglob("*") if p.is_file())
        else:
            shutil.copyfile(source, target)
            written.append(target)
    from grader.expected.mistakes import MistakeOutputs
    cases = select_cases(spec, hidden=False)
    expected = expected_mod.from_reference(spec, cases)
    written.append(expected_mod.write_public(spec, cases, expected, out, mistakes=MistakeOutputs(spec)))
    return written

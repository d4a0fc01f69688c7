"""The starter code: a reference module with its solutions taken out, as the handout has it.

    >>> strip_solutions(Path("reference/linear_classifier/linear_classifier.py").read_text(encoding="utf-8"))

`grader release` writes it into the handout; the diagnosis runs it (with `pass` for the raise) to
recognise an answer that is still what the handout returns before the TODO is written.

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

from grader.spec import SpecError

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

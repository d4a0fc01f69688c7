"""What one call came to, decoded once from the worker's report, whoever ran it.

The worker reports each call as a header and arrays (grader/run/execute.py writes them; the
zygote adds `timeout`, `crashed`, `skipped_after_timeout` and the import statuses). `decode`
turns that into an `Outcome`, checking every field, for the student's run, the reference's and
the catalogued mistakes' alike: one place reads the worker's statuses.

    >>> outcome = decode(header, arrays, ("loss", "grads"))
    >>> outcome.status, sorted(outcome.outputs["grads"])
    ('returned', ['W1', 'W2', 'b1', 'b2'])
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from grader import values
from grader.run.execute import LIBRARY_SENT, REPEATS_SENT    # a call's most repeated lines and calls: as many are kept as sent

RETURNED = "returned"
STATUSES = ("returned", "exception", "missing_function", "bad_return", "too_large", "import_error",
            "import_timeout", "import_crashed", "timeout", "crashed", "skipped_after_timeout")


@dataclass
class Outcome:
    status: str                                    # one of STATUSES, or "invalid" (a report that did not parse)
    step: int | None = None                        # the step it stopped at (failures of a chain)
    outputs: dict = field(default_factory=dict)    # output name -> decoded tree (values.Leaf inside containers)
    via: dict = field(default_factory=dict)        # output name -> how each key after the first was found
    duration: float | None = None                  # seconds in the graded steps, as the child's own clock says
    spent: float | None = None                     # a timed call: CPU seconds over the same stretch, as the child's own clock says
    cpu: float | None = None                       # a timed call: CPU seconds its process used, counted by the grader (supervise)
    changed: list = field(default_factory=list)    # [(input path, step)] changed in place
    error: dict = field(default_factory=dict)      # exception: type, message, file, line, ...
    name: str = ""                                 # missing_function: the name that is missing
    returned: str = ""                             # bad_return, too_large: what came back
    expected: int = 0                              # bad_return: how many values were expected
    module: str = ""                               # import_error: the module
    stdout: str = ""
    traced: bool = False                           # it ran watched (a case of a function with no_loops or no_autograd)
    untraced: bool = False                         # ... and the student's code turned the counting off
    ahead: bool = False                            # a timed call: the student's code ran as its inputs were made
    repeats: list = field(default_factory=list)    # [(file, line, times, function)]: its lines that ran more than once
    library: list = field(default_factory=list)    # [(file, first line, times, function)]: libraries' functions called more than once
    autograd: str = ""                             # the first of torch's ways into autograd it took (a no_autograd function's case)
    autograd_in: str = ""                          # ...in which of the student's functions (as its process says)
    lines: int = 0                                 # how many lines of the student's code it ran in all (traced)
    float32_code: Any = False                      # the grader's reading (compare.Float32Code): its code computes in float32

    @property
    def ok(self) -> bool:
        return self.status == RETURNED


@dataclass(frozen=True)
class Raised:
    """What a call that raised is known by: its exception's type and message (a catalogued mistake
    that raises, `mat1 and mat2 shapes cannot be multiplied (4x6 and 12x3)`, is recognised by them)."""

    type: str
    message: str

    @classmethod
    def of(cls, outcome: "Outcome") -> "Raised | None":
        if outcome.status != "exception" or not outcome.error.get("type"):
            return None
        return cls(str(outcome.error.get("type")), str(outcome.error.get("message", "")))


def decode(header: dict, arrays: list, names: tuple) -> Outcome:
    """The Outcome of one report; a report that does not parse is status "invalid" (the student's
    process can write anything into its pipe: never the grader's crash)."""
    try:
        return _decode(header, arrays, names)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError, RecursionError):
        return Outcome(status="invalid")


def _decode(header: dict, arrays: list, names: tuple) -> Outcome:
    status = header.get("status")
    if status not in STATUSES:
        return Outcome(status="invalid")
    # capped here, where the grader first holds it, and only here: every step after reads it (a notebook's
    # places in it, the feedback), and a forged frame can carry megabytes (the child caps it too, but is
    # not trusted)
    out = Outcome(status=status, stdout=printed(header.get("stdout", "")))
    step = header.get("step")
    out.step = step if isinstance(step, int) and not isinstance(step, bool) else None
    out.duration = _seconds(header.get("duration"))
    out.spent = _seconds(header.get("spent"))
    out.cpu = _seconds(header.get("cpu"))      # put there by supervise, never the child's
    out.error = plain_error(header.get("error"))
    out.name = _text(header.get("name", ""))[:200]
    out.returned = _text(header.get("returned", ""))[:300]
    out.module = _text(header.get("module", ""))[:100]
    expected = header.get("expected", 0)
    out.expected = expected if isinstance(expected, int) and not isinstance(expected, bool) else 0
    if status != RETURNED:
        return out
    nodes = header.get("values")
    via = header.get("via") or [[] for _ in names]
    if not isinstance(nodes, list) or len(nodes) != len(names) or not isinstance(via, list) or len(via) != len(names):
        return Outcome(status="invalid")
    for name, node, how in zip(names, nodes, via):
        out.outputs[name] = values.decode(node, arrays)
        out.via[name] = tuple(h for h in how if h in ("key", "attr")) if isinstance(how, list) else ()
    out.traced, out.untraced = header.get("traced") is True, header.get("untraced") is True
    out.ahead = header.get("ahead") is True
    out.autograd = _text(header.get("autograd", ""))[:200] if out.traced else ""
    out.autograd_in = _text(header.get("autograd_in", ""))[:200] if out.traced else ""
    lines = header.get("lines", 0)
    out.lines = lines if out.traced and _integer(lines) and lines >= 0 else 0
    for row in (header.get("repeats") or [])[:REPEATS_SENT] if out.traced else ():
        file, line, times, function = row
        if not (isinstance(file, str) and isinstance(function, str) and _integer(line) and _integer(times)):
            return Outcome(status="invalid")
        out.repeats.append((file[:200], line, times, function[:200]))
    for row in (header.get("library") or [])[:LIBRARY_SENT] if out.traced else ():
        if not (isinstance(row, list) and len(row) == 4):
            return Outcome(status="invalid")
        file, line, times, function = row
        if not (isinstance(file, str) and isinstance(function, str) and _integer(line) and _integer(times)):
            return Outcome(status="invalid")
        out.library.append((file[:200], line, times, function[:200]))
    for path, k in header.get("changed") or []:
        if not _integer(k) or not isinstance(path, list):
            return Outcome(status="invalid")
        out.changed.append((tuple(p[:values.TEXT_CAP] if isinstance(p, str) else p for p in path
                                  if isinstance(p, str) or _integer(p)), k))
    return out


# What an exception's description may hold, each field capped: student code chooses them all.
_ERROR_TEXT = {"kind": 40, "type": 200, "message": 2000, "file": 200, "function": 200, "qualname": 200,
               "code": 500, "before": 500, "note": 500, "traceback": 4000}


def plain_error(error) -> dict:
    """An exception's description as plain strings of bounded length (and int line and cell numbers)."""
    if not isinstance(error, dict):
        return {}
    out = {key: error[key][:cap] for key, cap in _ERROR_TEXT.items() if isinstance(error.get(key), str)}
    out.update({key: error[key] for key in ("line", "cell", "before_line") if _integer(error.get(key))})
    return out


def printed(text, limit: int = 16 << 10) -> str:
    """Printed output as received from the worker, capped (the worker caps it too, but is not trusted)."""
    text = _text(text)
    return text if len(text) <= limit else text[:limit] + "\n[... output cut]"


def _seconds(value) -> float | None:
    """Seconds as the child says: NaN, inf, -5 or True is none."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) and value >= 0 else None


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""

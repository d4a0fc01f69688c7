"""The steps of a case: short Python statements, parsed here into plain data the child runs.

A graded call is a list of steps run one after the other in the child, on the case's arguments
and dims and on what earlier steps bound, so that a value that never leaves the child (an
opaque cache, an object) can be handed on:

    steps:
      - out, cache = affine_forward(x, w, b)
      - dx, dw, db = affine_backward(dout, cache)

    steps:
      - model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, reg=reg, dtype=torch.float64)
      - model.params = {'W1': W1, 'b1': b1, 'W2': W2, 'b2': b2}
      - scores = model.loss(X)
      - loss, grads = model.loss(X, y)

A step is an assignment (to names, a tuple of names, an attribute or an item) or a bare call.
Expressions are names, constants, attributes, subscripts, calls with positional and keyword
arguments, and list, tuple and dict displays: nothing else parses (`StepError`), so a spec
cannot hide code in a step. `parse` checks this with `ast` and gives the JSON the child's
executor (run/execute.py) interprets; the statement's text stays with it for messages.

Names resolve in the child, in order: what earlier steps bound, the case's arguments and dims,
the graded function's module, the other student modules by name, the assignment's scenario
files by name, then `torch`, `np`, `seed(n)` (seeds numpy, random and torch), `rng` (a numpy
Generator seeded from the case) and `modules` (the student's modules, by attribute).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass

BUILTINS = ("torch", "np", "numpy", "seed", "rng", "modules")


class StepError(ValueError):
    """A step that is not one of the allowed forms."""


@dataclass(frozen=True)
class Step:
    text: str                        # as written, for messages
    targets: tuple                   # JSON targets (empty for a bare call)
    value: list                      # JSON expression
    binds: tuple                     # names it binds
    reads: tuple                     # names it reads
    callee: str = ""                 # the dotted name it calls ('affine_forward', 'model.loss'), if a call
    graded: bool = False             # it calls the graded function (set by `mark_graded`)
    calls: str = ""                  # the graded function of the assignment it calls, if any (setup steps)
    single: bool = False             # binds one value that is not a tuple: `return (dx,)` is dx, (a, b) a bad return

    def as_job(self) -> dict:
        job = {"text": self.text, "targets": list(self.targets), "value": self.value, "graded": self.graded}
        if self.single:
            job["single"] = True
        return job


def parse(text: str) -> Step:
    """One statement: `a, b = f(x, y)`, `obj.attr = value`, `d['k'] = value` or `f(x)`."""
    text = " ".join(str(text).split())
    try:
        tree = ast.parse(text, mode="exec")
    except SyntaxError as e:
        raise StepError(f"not a Python statement ({e.msg}): {text}") from None
    if len(tree.body) != 1:
        raise StepError(f"one statement per step: {text}")
    stmt = tree.body[0]
    reads: list[str] = []
    if isinstance(stmt, ast.Assign):
        if len(stmt.targets) != 1:
            raise StepError(f"one assignment per step (no a = b = ...): {text}")
        targets, binds = _target(stmt.targets[0], reads, text)
        value = _expr(stmt.value, reads, text)
        node = stmt.value
    elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        targets, binds = (), []
        value = _expr(stmt.value, reads, text)
        node = stmt.value
    else:
        raise StepError(f"a step is an assignment or a call: {text}")
    callee = _dotted(node.func) if isinstance(node, ast.Call) else ""
    return Step(text=text, targets=tuple(targets), value=value, binds=tuple(binds),
                reads=tuple(dict.fromkeys(reads)), callee=callee or "")


def _target(node: ast.expr, reads: list, text: str) -> tuple[list, list]:
    if isinstance(node, ast.Name):
        return [["name", node.id]], [node.id]
    if isinstance(node, (ast.Tuple, ast.List)):
        if not node.elts or not all(isinstance(e, ast.Name) for e in node.elts):
            raise StepError(f"unpack into plain names only: {text}")
        names = [e.id for e in node.elts]
        return [["unpack", names]], [n for n in names if n != "_"]
    if isinstance(node, ast.Attribute):
        return [["attr", _expr(node.value, reads, text), node.attr]], []
    if isinstance(node, ast.Subscript):
        return [["item", _expr(node.value, reads, text), _expr(node.slice, reads, text)]], []
    raise StepError(f"cannot assign to that: {text}")


def _expr(node: ast.expr, reads: list, text: str) -> list:
    if isinstance(node, ast.Name):
        reads.append(node.id)
        return ["name", node.id]
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool, type(None))):
        return ["const", node.value]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and isinstance(node.operand.value, (int, float)) and not isinstance(node.operand.value, bool):
        return ["const", -node.operand.value]
    if isinstance(node, ast.Attribute):
        return ["attr", _expr(node.value, reads, text), node.attr]
    if isinstance(node, ast.Subscript):
        return ["item", _expr(node.value, reads, text), _expr(node.slice, reads, text)]
    if isinstance(node, ast.Call):
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            raise StepError(f"no *args or **kwargs in a step: {text}")
        return ["call", _expr(node.func, reads, text), [_expr(a, reads, text) for a in node.args],
                [[k.arg, _expr(k.value, reads, text)] for k in node.keywords]]
    if isinstance(node, (ast.List, ast.Tuple)):
        return ["list" if isinstance(node, ast.List) else "tuple", [_expr(e, reads, text) for e in node.elts]]
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise StepError(f"no ** in a dict of a step: {text}")
        return ["dict", [[_expr(k, reads, text), _expr(v, reads, text)] for k, v in zip(node.keys, node.values)]]
    raise StepError(f"only names, constants, attributes, subscripts, calls and list, tuple and dict displays "
                    f"may appear in a step, not {type(node).__name__}: {text}")


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


def default_steps(qualname: str, args: list[str], targets: list[str]) -> tuple[Step, ...]:
    """The one step of a function without `steps`: its outputs = function(its arguments)."""
    call = f"{qualname}({', '.join(args)})"
    if not targets:
        return (parse(call),)
    return (parse(f"{', '.join(targets)} = {call}" if len(targets) > 1 else f"{targets[0]} = {call}"),)


def mark_graded(qualname: str, steps: tuple, graded_functions: set, scenarios: set,
                required: bool = True) -> tuple[Step, ...]:
    """The steps with the ones that call `qualname` marked graded, and each other step that calls
    another graded function of the assignment marked with its name (its failure blocks the case).

    `Class.method` is called as `Class.method(...)`, or as `obj.method(...)` on an `obj = Class(...)`
    of an earlier step; `Class.__init__` by `Class(...)`. A step calling a scenario file's function
    is graded too: the scenario exercises the graded function (a network's loss with a dropout of
    the assignment's own). Raises StepError when no step is graded (unless not `required`)."""
    instances: dict[str, str] = {}
    out = []
    for step in steps:
        callee = step.callee
        called = callee
        if callee and "." in callee:
            root, rest = callee.split(".", 1)
            if root in instances:
                called = f"{instances[root]}.{rest}"
        constructed = None
        if callee and len(step.binds) == 1 and step.targets[0][0] == "name":
            constructed = callee                   # maybe a class: obj = Class(...)
        graded = called == qualname or (qualname.endswith(".__init__") and callee == qualname[:-len(".__init__")]) \
            or bool(callee) and callee.split(".")[0] in scenarios
        other = ""
        if not graded:
            for name in (called, f"{called}.__init__"):
                if name in graded_functions and name != qualname:
                    other = name
                    break
        out.append(Step(**{**step.__dict__, "graded": graded, "calls": other}))
        if constructed:
            instances[step.binds[0]] = constructed
        else:
            for name in step.binds:
                instances.pop(name, None)
    if required and not any(s.graded for s in out):
        raise StepError(f"no step calls {qualname} (or a scenario)")
    return tuple(out)

"""A graded function as a stream of tokens that the usual disguises do not change.

    >>> unit = extract(source, "svm_loss_naive", graded={"svm_loss_naive", "svm_loss_vectorized"})
    >>> units = extract_all(source, ["svm_loss_naive", "svm_loss_vectorized"], graded)   # parsed once
    >>> unit.tokens[:6]
    ('FunctionDef', 'F', 'arguments', 'arg', 'P', 'arg')

The unit is the function and the module's helper functions it calls (transitively, in the order it
first calls them), parsed with `ast`. Before the tree is written out as tokens it is put in a
canonical form, so that two students whose code differs only by a disguise get equal streams:

- names become their role: `P` a parameter, `V` a local variable, `F` a function of the module, `G`
  another global; imported modules keep their real name (`np` and `numpy` are both `numpy`),
  builtins and attributes (`.shape`, `axis=`) keep theirs, as they are the API, not a choice;
- comments, docstrings, whitespace and redundant parentheses are not in the tree at all;
- `np.dot(a, b)`, `a.dot(b)`, `np.matmul(a, b)`, torch's `mm`/`mv`/`matmul` and `a @ b` are all `a @ b`;
- `x = x + y` is `x += y`; `range(0, n)` is `range(n)`;
- `i = a` then `while i < b: ...; i += 1` is `for i in range(a, b)`, and every loop is one `Loop`
  token, so a `while` loop that is not of that shape still matches a `for` loop around the same body;
- a run of simple statements (assignments) that do not depend on each other is sorted by its
  tokens, keeping every order the data flow requires, so reordered independent statements agree.

Why our own tokens rather than pygments' or tree-sitter's: the canonical forms above need the
syntax tree (pygments only lexes), Python's own `ast` parses exactly the Python the worker runs with
nothing to install, and writing the tokens from the tree lets each token keep the line it came
from, which the report highlights. A token is a node's type, a role, a constant or an API name, as
Dolos tokenizes syntax trees.
"""
from __future__ import annotations

import ast
import builtins
import heapq
import sys
import threading
from dataclasses import dataclass

MATMUL_METHODS = {"dot", "matmul", "mm", "mv"}
LOOP = "Loop"
BUILTINS = frozenset(dir(builtins))


class NotFound(Exception):
    """The module has no function of that name."""


@dataclass(frozen=True)
class Unit:
    """One graded function of one file, ready to fingerprint."""

    function: str                    # as the spec names it: 'svm_loss_naive', 'Linear.forward'
    tokens: tuple                    # normalized tokens
    lines: tuple                     # the source line of each token
    source: tuple                    # (line number, text) of the lines shown for it: the function, then its helpers


def parse(source: str, filename: str = "<submission>") -> ast.Module:
    """The module's tree; SyntaxError (with its line) when it is not Python."""
    return ast.parse(source, filename=filename)


def extract(source: str, function: str, graded: set | frozenset = frozenset()) -> Unit:
    """The normalized unit of `function` (a name or `Class.method`) in a module's source.

    `graded` names the functions graded on their own: they are not pulled in as helpers.
    NotFound when the module has no such function; SyntaxError when it is not Python."""
    found = extract_all(source, [function], graded)
    if function not in found:
        raise NotFound(function)
    return found[function]


def extract_all(source: str, functions: list, graded: set | frozenset = frozenset()) -> dict:
    """{function: Unit} of those of `functions` that the module defines, parsed once.

    In a thread with a deep stack: `1 + 1 + ...` a thousand times over compiles and runs, so it
    must not be a way to make one's file impossible to compare (the tree and its rewriting recurse
    once per term). RecursionError only past DEEP_LIMIT levels."""
    return _with_deep_stack(_extract_all, source, functions, graded)


DEEP_LIMIT = 200_000                 # levels of nesting extract_all follows
_DEEP_STACK = 1 << 30                # bytes of stack for them (reserved, used only as deep as the code goes)


def _with_deep_stack(fn, *args):
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - raised again in the caller's thread
            outcome["error"] = e

    with _DEEP_LOCK:
        size, limit = threading.stack_size(), sys.getrecursionlimit()
        threading.stack_size(_DEEP_STACK)
        sys.setrecursionlimit(max(limit, DEEP_LIMIT))
        try:
            thread = threading.Thread(target=run, name="grader-similarity-parse")
            thread.start()
            thread.join()
        finally:
            threading.stack_size(size)
            sys.setrecursionlimit(limit)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


_DEEP_LOCK = threading.Lock()


def _extract_all(source: str, functions: list, graded: set | frozenset) -> dict:
    tree = parse(source)
    module = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    module_roles = _module_roles(tree)
    top_level = {g for g in graded if "." not in g}
    text = source.splitlines()
    done: dict = {}                  # id(function node) -> (tokens, lines): a helper shared by two is done once

    def tokens_of(fn):
        if id(fn) not in done:
            local = _local_roles(fn)
            canonical = _Canonical(module_roles, local).visit(fn)     # rewrites the tree, parsed here for this
            tokens: list = []
            lines: list = []
            _emit(canonical, _Roles(module_roles, local), tokens, lines, fn.lineno)
            done[id(fn)] = (tokens, lines)
        return done[id(fn)]

    units = {}
    for function in functions:
        node = _find(tree, function)
        if node is None:
            continue
        helpers = _helpers(node, module, top_level | {function})     # found before any rewriting
        tokens, lines, shown = [], [], []
        for fn in [node, *helpers]:
            t, n = tokens_of(fn)
            tokens += t
            lines += n
            first = min([fn.lineno] + [d.lineno for d in fn.decorator_list])
            shown += [(i, text[i - 1] if i - 1 < len(text) else "") for i in range(first, fn.end_lineno + 1)]
        units[function] = Unit(function, tuple(tokens), tuple(lines), tuple(shown))
    return units


def _find(tree: ast.Module, qualname: str):
    body = tree.body
    *outer, name = qualname.split(".")
    for cls in outer:
        body = next((n.body for n in body if isinstance(n, ast.ClassDef) and n.name == cls), None)
        if body is None:
            return None
    return _bound(body, name, set())


def _bound(body: list, name: str, seen: set):
    """The def that `name` is bound to at the end of `body`: its last `def`, or the def of the name
    it was last assigned (`svm_loss_naive = _mine`, as Python keeps it). None when it is bound to
    something else (a lambda, a call) or not at all."""
    bound = None
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            bound = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and any(
                isinstance(t, ast.Name) and t.id == name for t in (node.targets if isinstance(node, ast.Assign) else [node.target])):
            value = node.value
            bound = None
            if isinstance(value, ast.Name) and value.id not in seen:
                bound = _bound(body, value.id, seen | {name})
    return bound


def _helpers(node, functions: dict, skip: set) -> list:
    """Module functions that `node` calls, and those they call, in order of first call."""
    order: list = []
    todo = [node]
    seen = set(skip)
    while todo:
        current = todo.pop(0)
        for sub in ast.walk(current):
            if isinstance(sub, ast.Name) and sub.id in functions and sub.id not in seen:
                seen.add(sub.id)
                order.append(functions[sub.id])
                todo.append(functions[sub.id])
    return order


# ---------------------------------------------------------------------------------------------
# Roles of names


def _module_roles(tree: ast.Module) -> dict:
    """Module-level name -> its token: imported modules by their real name, functions `F`, the rest `G`."""
    roles: dict = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                roles[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                roles[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            roles.setdefault(node.name, "F")
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        roles.setdefault(name.id, "G")
    return roles


def _local_roles(fn) -> dict:
    """The function's own names: parameters `P`, everything it binds `V`."""
    roles: dict = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            roles.setdefault(node.id, "V")
        elif isinstance(node, ast.arg) and node is not fn:
            roles.setdefault(node.arg, "V")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node is not fn:
            roles.setdefault(node.name, "V")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                roles[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if isinstance(node, ast.Import) else f"{node.module}.{alias.name}")
    args = fn.args
    for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
        if a is not None:
            roles[a.arg] = "P"
    return roles


class _Roles:
    def __init__(self, module: dict, local: dict):
        self.module, self.local = module, local

    def __call__(self, name: str) -> str:
        if name in self.local:
            return self.local[name]
        if name in self.module:
            return self.module[name]
        return name if name in BUILTINS else "G"


# ---------------------------------------------------------------------------------------------
# The canonical form


class _Canonical(ast.NodeTransformer):
    """Rewrites a function's tree into the canonical form described in the module docstring."""

    def __init__(self, module: dict, local: dict):
        self.roles = _Roles(module, local)

    def _is_module(self, node) -> bool:
        return isinstance(node, ast.Name) and self.roles(node.id) not in ("P", "V", "F", "G")

    def visit_FunctionDef(self, node):
        if node.body and _is_docstring(node.body[0]):
            node.body = node.body[1:] or [ast.Pass()]
        _loops_to_for(node)          # top down, before any block below is reordered
        return self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node):
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in MATMUL_METHODS and not node.keywords:
            if self._is_module(func.value) and len(node.args) == 2:          # np.dot(a, b)
                return _at(ast.BinOp(node.args[0], ast.MatMult(), node.args[1]), node)
            if not self._is_module(func.value) and len(node.args) == 1:      # a.dot(b)
                return _at(ast.BinOp(func.value, ast.MatMult(), node.args[0]), node)
        if (isinstance(func, ast.Name) and func.id == "range" and len(node.args) == 2
                and isinstance(node.args[0], ast.Constant) and node.args[0].value == 0):
            node.args = node.args[1:]                                        # range(0, n)
        return node

    def visit_Assign(self, node):
        self.generic_visit(node)
        if (len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.BinOp)
                and isinstance(node.value.left, ast.Name) and node.value.left.id == node.targets[0].id):
            return _at(ast.AugAssign(node.targets[0], node.value.op, node.value.right), node)     # x = x + y
        return node

    def generic_visit(self, node):
        super().generic_visit(node)
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                setattr(node, field, self._block(block))
        return node

    def _block(self, body: list) -> list:
        return _sort_independent(body, self.roles)


def _at(new, old):
    return ast.copy_location(new, old)


def _is_docstring(stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _loops_to_for(node) -> None:
    for field in ("body", "orelse", "finalbody"):
        block = getattr(node, field, None)
        if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
            setattr(node, field, _while_to_for(block))
    for child in ast.iter_child_nodes(node):
        _loops_to_for(child)


def _while_to_for(body: list) -> list:
    """`i = a; while i < b: ...; i += 1` (the increment last, or before each `continue`) as
    `for i in range(a, b)`; the `i = a` may be missing (set earlier, or reordered)."""
    out: list = []
    for stmt in body:
        loop = _counted(stmt)
        if loop is None:
            out.append(stmt)
            continue
        var, stop = loop
        start = None
        if (out and isinstance(out[-1], ast.Assign) and len(out[-1].targets) == 1
                and isinstance(out[-1].targets[0], ast.Name) and out[-1].targets[0].id == var):
            start = out.pop().value
        args = [stop] if start is None or (isinstance(start, ast.Constant) and start.value == 0) else [start, stop]
        body_ = _drop_increments(stmt.body[:-1], var)
        out.append(_at(ast.For(target=ast.Name(var, ast.Store()), iter=ast.Call(ast.Name("range", ast.Load()), args, []),
                               body=body_ or [ast.Pass()], orelse=stmt.orelse, type_comment=None), stmt))
    return out


def _counted(stmt):
    """(counter, bound) of `while counter < bound:` ending with `counter += 1`, else None."""
    if not (isinstance(stmt, ast.While) and isinstance(stmt.test, ast.Compare) and len(stmt.test.ops) == 1
            and isinstance(stmt.test.ops[0], ast.Lt) and isinstance(stmt.test.left, ast.Name) and stmt.body):
        return None
    var = stmt.test.left.id
    return (var, stmt.test.comparators[0]) if _is_increment(stmt.body[-1], var) else None


def _is_increment(stmt, var: str) -> bool:
    """`var += 1` or `var = var + 1`."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.value, ast.BinOp):
        target, op, value = stmt.targets[0], stmt.value.op, stmt.value.right
        if not (isinstance(stmt.value.left, ast.Name) and stmt.value.left.id == var):
            return False
    elif isinstance(stmt, ast.AugAssign):
        target, op, value = stmt.target, stmt.op, stmt.value
    else:
        return False
    return (isinstance(op, ast.Add) and isinstance(target, ast.Name) and target.id == var
            and isinstance(value, ast.Constant) and value.value == 1)


def _drop_increments(body: list, var: str) -> list:
    """The loop's body without the `var += 1` that stands just before a `continue` of this loop."""
    out = []
    for i, stmt in enumerate(body):
        if _is_increment(stmt, var) and i + 1 < len(body) and isinstance(body[i + 1], ast.Continue):
            continue
        if isinstance(stmt, ast.If):
            stmt.body, stmt.orelse = _drop_increments(stmt.body, var), _drop_increments(stmt.orelse, var)
        out.append(stmt)
    return out


SIMPLE = (ast.Assign, ast.AugAssign, ast.AnnAssign)


def _sort_independent(body: list, roles) -> list:
    """Each run of assignments in a canonical order: of the statements whose inputs are ready, the
    one with the smallest tokens first. Equal programs up to a reordering that keeps every
    dependency get the same order, since the order is chosen from the tokens, not the text."""
    out: list = []
    run: list = []
    for stmt in body + [None]:
        if isinstance(stmt, SIMPLE):
            run.append(stmt)
            continue
        out += _order(run, roles) if len(run) > 1 else run
        run = []
        if stmt is not None:
            out.append(stmt)
    return out


def _order(run: list, roles) -> list:
    reads = [_names(s, ast.Load) for s in run]
    writes = [_names(s, ast.Store) for s in run]
    after = {i: set() for i in range(len(run))}           # i -> the statements that must come after it
    before = [0] * len(run)
    # Statement j comes after i where i writes a name j reads or writes, or reads a name j writes.
    # Only the nearest such i are linked (the name's last writer; the readers since it, for a
    # write), which gives the same order: the others come before those already. Every pair, as
    # before, took 24 GB and six minutes on a file of 40,000 statements (a red team's).
    last_write: dict = {}                                 # name -> the last statement that wrote it
    read_since: dict = {}                                 # name -> the statements that read it since
    for j in range(len(run)):
        linked = set()
        for name in reads[j] | writes[j]:
            if name in last_write:
                linked.add(last_write[name])
        for name in writes[j]:
            linked.update(read_since.get(name, ()))
        linked.discard(j)
        for i in linked:
            after[i].add(j)
            before[j] += 1
        for name in reads[j]:
            read_since.setdefault(name, []).append(j)
        for name in writes[j]:
            last_write[name] = j
            read_since[name] = []
    return _topological(run, roles, after, before)


def _topological(run: list, roles, after: dict, before: list) -> list:
    """The statements in an order their links allow (`after`: i -> those after it; `before`: how
    many come before each), the one whose normalized tokens sort first whenever several may come."""
    keys = []
    for s in run:
        tokens: list = []
        _emit(s, roles, tokens, [], 0)
        keys.append(" ".join(tokens))
    ready = [(keys[i], i) for i in range(len(run)) if before[i] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, i = heapq.heappop(ready)
        order.append(run[i])
        for j in after[i]:
            before[j] -= 1
            if before[j] == 0:
                heapq.heappush(ready, (keys[j], j))
    return order


def _names(stmt, ctx) -> set:
    """Names the statement reads (ast.Load) or writes (ast.Store). A subscript or attribute
    target (`dW[:, j] += x`) writes its base name and reads it too; an augmented assignment reads
    its target."""
    found = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ctx):
            found.add(node.id)
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    for target in targets:
        base = target
        while isinstance(base, (ast.Subscript, ast.Attribute, ast.Starred)):
            base = base.value
        if isinstance(base, ast.Name) and (base is not target or isinstance(stmt, ast.AugAssign)):
            found.add(base.id)                             # both read and written
    return found


# ---------------------------------------------------------------------------------------------
# Tokens


SKIPPED = (ast.expr_context,)


def _emit(node, roles, tokens: list, lines: list, line: int) -> None:
    """Append the node's tokens in pre-order, each with the source line of the nearest node."""
    line = getattr(node, "lineno", line)

    def put(token: str) -> None:
        tokens.append(token)
        lines.append(line)

    if isinstance(node, ast.Name):
        put(roles(node.id))
        return
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, (str, bytes)):
            put("S")
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
            put(f"#{int(value)}")                          # 1 and 1.0 alike
        else:
            put(f"#{value!r}")
        return
    if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
        put(LOOP)
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        put("FunctionDef")
        put("F")
    elif isinstance(node, ast.arg):
        put("arg")
        put(roles(node.arg))
        return
    elif isinstance(node, ast.Attribute):
        put("Attribute")
        _emit(node.value, roles, tokens, lines, line)
        put("." + node.attr)
        return
    elif isinstance(node, ast.keyword):
        put(f"{node.arg}=")
    elif isinstance(node, ast.alias):
        put(f"import {node.name}")
        return
    else:
        put(type(node).__name__)
    for field, value in ast.iter_fields(node):
        if field in ("decorator_list", "type_comment", "returns", "type_params") and isinstance(node, ast.FunctionDef):
            continue
        if isinstance(value, list):
            for item in value:
                if isinstance(item, ast.AST) and not isinstance(item, SKIPPED):
                    _emit(item, roles, tokens, lines, line)
            if value and isinstance(value[0], ast.stmt):
                tokens.append("}")                         # a block ends: keeps nesting apart
                lines.append(getattr(value[-1], "end_lineno", line))
        elif isinstance(value, ast.AST) and not isinstance(value, SKIPPED):
            _emit(value, roles, tokens, lines, line)

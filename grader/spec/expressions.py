"""The spec's expressions, as the grader's own process evaluates them: a property's `expect`,
`when` and `show`, a gradient check's `loss`, a derived dim's arithmetic.

They run in the trusted process, on plain data, so they may only compute: names that do not
start with "_", and attributes from one list (an array's and a dict's reading methods, numpy's
functions for numbers). No `np.__builtins__`, no `().__class__.__base__`, no `np.load` or
`out.tofile`, and no number or sequence it could make huge (`9**9**9`, `[0] * 10**10`,
`np.ones(10**10)`): a spec is the instructor's, but one that reaches the grader from elsewhere
(an `assignment.yaml` planted in a submission's folder, found beside it) ran code as the grader
with `np.__builtins__['__import__']('os')`, and a derived dim of 9**9**9 held it until killed.

    compiled("abs(mean(out != 0) - p) < 0.1")      # a code object
    compiled("np.load('x.npy', allow_pickle=True)") # UnsafeExpression: .load is not ...
"""
from __future__ import annotations

import ast
import functools

# An array's and a dict's reading methods, and numpy's functions and constants for numbers.
ATTRIBUTES = frozenset("""
    T shape size ndim dtype real imag flat
    all any sum mean std var min max prod cumsum cumprod argmax argmin argsort sort nonzero round clip
    reshape ravel flatten squeeze transpose swapaxes astype copy item tolist dot diagonal trace
    get keys values items count index
    abs absolute sqrt square exp log log1p expm1 log2 log10 sin cos tanh sign floor ceil maximum minimum
    isclose allclose isfinite isnan isinf where count_nonzero logical_and logical_or logical_not logical_xor
    zeros_like ones_like full_like array asarray array_equal unique
    median percentile quantile histogram bincount diff outer einsum matmul stack concatenate vstack hstack
    linalg norm det inv pi e inf nan newaxis float64 float32 int64 int32 bool_ mean_ var_
""".split())

_NODES = (ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.Call, ast.IfExp, ast.Name,
          ast.Constant, ast.Attribute, ast.Subscript, ast.Slice, ast.Tuple, ast.List, ast.Set, ast.Dict,
          ast.keyword, ast.Starred, ast.GeneratorExp, ast.ListComp, ast.SetComp, ast.comprehension,
          ast.expr_context, ast.boolop, ast.operator, ast.unaryop, ast.cmpop)


class UnsafeExpression(ValueError):
    """An expression the grader will not evaluate: `why` says what in it."""


def unsafe(expression: str) -> str:
    """Why the grader will not evaluate `expression` ("" when it will)."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as e:
        return f"not a Python expression ({e.msg})"
    for node in ast.walk(tree):
        if not isinstance(node, _NODES):
            return f"{type(node).__name__.lower()} is not allowed in an expression of the spec"
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            return f"{node.id}: a name starting with _ is not allowed"
        if isinstance(node, ast.Attribute) and node.attr not in ATTRIBUTES:
            return (f".{node.attr} is not an attribute an expression may read (an array's or a dict's reading "
                    "methods, and numpy's functions for numbers)")
        if isinstance(node, ast.Constant) and isinstance(node.value, bytes):
            return "bytes are not allowed"
        # Numbers and sequences the expression itself could make huge, in the grader's process: a
        # red team's derived dim 9**9**9 ran until it was killed.
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.LShift, ast.RShift)):
            return "<< and >> are not allowed"
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and not _small(node.right) \
                and not isinstance(node.right, (ast.Name, ast.Attribute, ast.Subscript)):
            return ("** takes as its exponent a number from -64 to 64 written out, or a value (x.size, p), not "
                    "arithmetic")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult) and any(
                isinstance(side, (ast.List, ast.Tuple, ast.Set, ast.ListComp)) or
                isinstance(side, ast.Constant) and isinstance(side.value, str) for side in (node.left, node.right)):
            return "a list, tuple or string times a number is not allowed"
    return ""


def _small(node) -> bool:
    """A number written out, from -64 to 64 (`2`, `-1`, `0.5`)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool) \
        and abs(node.value) <= 64


@functools.lru_cache(maxsize=512)
def compiled(expression: str, filename: str = "<expression>"):
    """`expression` compiled, once (a gradient check evaluates its loss on every perturbed call);
    UnsafeExpression where `unsafe` says why not."""
    why = unsafe(expression)
    if why:
        raise UnsafeExpression(f"{expression!r}: {why}")
    return compile(expression, filename, "eval")

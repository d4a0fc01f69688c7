"""The value model: what goes into a student's call and what comes back, as plain data.

A value is a leaf or a container, nested:

    leaves      a real array (numpy ndarray, torch tensor), a real scalar (Python or numpy
                number, 0-d array), a string, a bool, None; anything else is an "other" leaf,
                described by its type and never rebuilt
    containers  a dict with string keys, a list, a tuple

Outputs travel from the child that ran student code to the grader. In the child, `encode` turns
a value into a node (JSON) whose arrays go into a side list, sent as raw bytes by run/protocol.py;
in the grader, `decode` checks every field of a node and gives back a tree of `Leaf`s inside plain
dicts, lists and tuples. Nothing is pickled, and nothing the student defined is rebuilt here:

    >>> arrays = []
    >>> node = encode({"W1": np.ones(2), "t": 3}, None, arrays)
    >>> decode(node, arrays)
    {'W1': Leaf(kind='ndarray', ...), 't': Leaf(kind='python_number', ...)}

Inputs go the other way: `to_wire` puts a case's generated arguments (arrays, numbers, strings,
bools, None, and dicts, lists and tuples of them) into a job, and `build` makes them again in the
child, arrays as the assignment's framework type; an array may also go as its recipe
(seeded.Drawn), drawn in the child.

A part of a value is named by a path, a tuple of keys and indices: ('grads', 'W2') is shown as
grads['W2'] and ('config', 'm') as config['m'] (`show`).
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import json
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from grader.seeded import Drawn

MAX_DEPTH = 16                       # nesting levels an output may have
MAX_NODES = 10_000                   # leaves and containers in one output
TEXT_CAP = 200                       # characters of a string or a repr kept
NUMBER_KINDS = ("python_number", "numpy_scalar", "tensor", "ndarray")
CONTAINERS = ("dict", "list", "tuple")
# Dtypes an array may travel as (run/protocol.py rebuilds only these).
PLAIN_DTYPES = frozenset(np.dtype(t).str for t in (
    "float64", "float32", "float16", "int64", "int32", "int16", "int8",
    "uint64", "uint32", "uint16", "uint8"))


@dataclass(frozen=True)
class Leaf:
    """One leaf of a value as the grader sees it: its kind, the type's name, and its data."""

    kind: str                        # python_number numpy_scalar tensor ndarray | bool str none | other | missing
    type: str = ""                   # the type's name in the child ("torch.Tensor", "float")
    array: np.ndarray | None = None  # the number(s), for the number kinds
    value: Any = None                # bool and str: the value itself
    dtype: str = ""                  # other: the dtype it had (a bool or complex tensor)
    repr: str = ""                   # other: a short repr

    @property
    def meta(self) -> dict:
        """The description compare.compare_output reads."""
        meta = {"kind": self.kind, "type": self.type}
        if self.dtype:
            meta["dtype"] = self.dtype
        if self.repr:
            meta["repr"] = self.repr
        return meta

    @property
    def is_number(self) -> bool:
        return self.kind in NUMBER_KINDS and self.array is not None

    @functools.cached_property
    def first(self) -> float | None:
        """Its first number, as a float (None without one): a diagnosis holds a student's answer
        against dozens of variants', most of which already differ there."""
        return float(self.array.flat[0]) if self.is_number and self.array.size else None

    def plain(self) -> Any:
        """The leaf as a property expression sees it: an array, a bool, a str, None."""
        if self.is_number:
            return self.array
        if self.kind in ("bool", "str"):
            return self.value
        return None


# ---------------------------------------------------------------------------------------------
# Outputs: encoded in the child, decoded in the grader


def is_a(value: Any, types) -> bool:
    """isinstance by the object's real type: isinstance also believes a `__class__` the object's
    class makes up (a property), which would send a student's object down a path that runs its code."""
    return issubclass(type(value), types)


_NUMPY_SCALARS = frozenset(t for t in np.sctypeDict.values() if issubclass(t, np.generic))


def encode(value: Any, torch, arrays: list, budget: list | None = None, depth: int = 0) -> dict:
    """A node describing `value`; its real-number data appended to `arrays`.

    Runs in the child, on whatever student code returned: every failure (a hostile __len__, a
    tensor that cannot be copied) becomes an "other" leaf, never an exception."""
    budget = [MAX_NODES] if budget is None else budget
    budget[0] -= 1
    name = type_name(value)
    too_big = {"kind": "other", "type": name, "repr": "<too large or too deeply nested to send back>"}
    if budget[0] < 0 or depth > MAX_DEPTH:
        return too_big
    try:
        if value is None:
            return {"kind": "none", "type": "None"}
        if is_a(value, (bool, np.bool_)):
            return {"kind": "bool", "type": name, "value": bool(value)}
        if is_a(value, str):
            return {"kind": "str", "type": name, "value": str.__str__(value)[:TEXT_CAP]}
        if is_a(value, dict):
            if dict.__len__(value) > budget[0]:
                return too_big
            keys = list(dict.keys(value))
            bad = next((k for k in keys if not is_a(k, str)), None)
            if bad is not None:
                return {"kind": "other", "type": name, "repr": f"a dict with a key that is not a string: {_short(bad) or type_name(bad)}"}
            long = next((k for k in keys if str.__len__(k) > TEXT_CAP), None)
            if long is not None:
                return {"kind": "other", "type": name, "repr": f"a dict with a key of {str.__len__(long)} characters"}
            return {"kind": "dict", "type": name, "keys": [str.__str__(k) for k in keys],
                    "items": [encode(dict.__getitem__(value, k), torch, arrays, budget, depth + 1) for k in keys]}
        if is_a(value, (list, tuple)):
            kind = "tuple" if is_a(value, tuple) else "list"
            if (tuple.__len__(value) if kind == "tuple" else list.__len__(value)) > budget[0]:
                return too_big
            items = tuple.__iter__(value) if kind == "tuple" else list.__iter__(value)
            return {"kind": kind, "type": name, "items": [encode(v, torch, arrays, budget, depth + 1) for v in items]}
        node, array = _number(value, torch, name)
    except MemoryError:                              # a copy of it would not fit in the child's memory limit
        return {"kind": "other", "type": name, "repr": "too large to copy back within the memory limit"}
    except BaseException as e:  # noqa: BLE001 - a hostile object may raise anything
        return {"kind": "other", "type": name, "repr": f"<could not be read: {type(e).__name__}>"}
    if array is not None:
        node["array"] = len(arrays)
        arrays.append(array)
    return node


def renumber(node: dict, offset: int) -> None:
    """Shift the array indices of a node that `encode` made with a list of its own, for a list
    where its arrays come after `offset` others."""
    if "array" in node:
        node["array"] += offset
    for item in node.get("items", ()):
        renumber(item, offset)


def _number(value: Any, torch, name: str) -> tuple[dict, np.ndarray | None]:
    # A subclass (any: a class can say it is numpy's) is read through its base type's own methods:
    # the numbers it holds, not what its overrides (__float__, __torch_function__, .numpy()) compute
    # when asked, which would run after the call's time was taken (a lazy answer) and may differ from
    # one read to the next. For numpy's and torch's own (np.float64, nn.Parameter) that is the same.
    if torch is not None and is_a(value, torch.Tensor):
        if torch._C._dispatch_keys(value).has(torch._C.DispatchKey.Python):
            # A class with __torch_dispatch__ (a wrapper subclass holds no numbers at all) answers every
            # operation on it with its own code, reading it included: autograd, a loop, a lookup, run
            # after the call was watched and timed. Its numbers are not read, and nothing of its class runs.
            return {"kind": "other", "type": name,
                    "repr": "a tensor whose class computes its numbers when they are read (__torch_dispatch__)"}, None
        # A mode the student's code left on (TorchFunctionMode, TorchDispatchMode) would answer the
        # reading below with its own code, after the call was watched and timed: none is on while it
        # runs (asked first: the guards cost half of reading a small tensor, and no mode is the rule).
        if type(value) is torch.Tensor and not torch._C._is_torch_function_mode_enabled() \
                and not torch._C._len_torch_dispatch_stack():
            return _tensor(value, torch, name)
        from torch.utils._python_dispatch import _disable_current_modes
        with torch._C.DisableTorchFunction(), _disable_current_modes():
            return _tensor(torch.Tensor.as_subclass(value, torch.Tensor) if type(value) is not torch.Tensor else value,
                           torch, name)
    elif is_a(value, np.ndarray) and type(value) is not np.ndarray:
        value = np.ndarray.view(value, np.ndarray)
    elif is_a(value, float) and type(value) is not float:
        value = float.__float__(value)
    elif is_a(value, int) and not is_a(value, bool) and type(value) is not int:
        value = int.__index__(value)
    if is_a(value, np.ndarray):
        node, array = {"kind": "ndarray", "type": name}, np.array(value, copy=True)
    elif is_a(value, (int, float)):
        array = np.array(float(value) if is_a(value, float) else value)
        if array.dtype == object:                        # an int too large for int64
            return {"kind": "other", "type": name, "repr": _short(value)}, None
        node = {"kind": "python_number", "type": name}
    elif type(value) in _NUMPY_SCALARS:       # numpy's own scalar types only: a subclass may have an __array__
        node, array = {"kind": "numpy_scalar", "type": name}, np.array(value)
    else:
        return {"kind": "other", "type": name, "repr": _short(value)}, None
    return _plain_array(node, array, name)


def _plain_array(node: dict, array: np.ndarray, name: str) -> tuple[dict, np.ndarray | None]:
    """The node and its array in the machine's byte order, or an `other` node for a dtype that is no plain number."""
    if array.dtype.byteorder == ">":                     # big-endian numbers are numbers: in the machine's order
        array = array.astype(array.dtype.newbyteorder("="))
    if array.dtype.str not in PLAIN_DTYPES:              # bool, complex, object, strings, float128
        return {"kind": "other", "type": name, "dtype": str(array.dtype)}, None
    return node, array


def _tensor(value, torch, name: str) -> tuple[dict, np.ndarray | None]:
    """A plain torch.Tensor's node and numbers (`_number`, with no torch function or mode on)."""
    if getattr(value, "is_nested", False):      # strided in name, but rows of their own lengths: no numpy array
        return {"kind": "other", "type": name, "dtype": str(value.dtype),
                "repr": "a nested tensor, whose rows may differ in length"}, None
    if value.layout != torch.strided or value.device.type == "meta":
        return {"kind": "other", "type": name, "dtype": str(value.dtype),
                "repr": f"a {value.device.type} tensor with layout {value.layout}"}, None
    t = value.detach().cpu()
    if t.is_neg():                              # torch._neg_view: its numbers negated lazily, a bit numpy cannot read
        t = t.resolve_neg()
    if t.is_complex() or t.dtype == torch.bool:
        return {"kind": "other", "type": name, "dtype": str(t.dtype)}, None
    try:
        plain = t.numpy()
    except (TypeError, RuntimeError):           # bfloat16, and dtypes numpy has no name for
        return {"kind": "other", "type": name, "dtype": str(t.dtype)}, None
    return _plain_array({"kind": "tensor", "type": name}, np.array(plain, copy=True), name)


class BadNode(ValueError):
    """A node that is not what `encode` makes (the child can send anything)."""


def decode(node: Any, arrays: list, depth: int = 0) -> Any:
    """The tree a node describes: Leafs inside dicts, lists and tuples. Raises BadNode."""
    if not isinstance(node, dict) or depth > MAX_DEPTH + 1:
        raise BadNode("not a value node")
    kind, type_ = node.get("kind"), node.get("type", "")
    if not isinstance(type_, str):
        raise BadNode("bad type name")
    type_ = type_[:TEXT_CAP]
    if kind == "dict":
        keys, items = node.get("keys"), node.get("items")
        if not isinstance(keys, list) or not isinstance(items, list) or len(keys) != len(items) \
                or not all(isinstance(k, str) and len(k) <= TEXT_CAP for k in keys) or len(set(keys)) != len(keys):
            raise BadNode("bad dict node")
        return {k: decode(v, arrays, depth + 1) for k, v in zip(keys, items)}
    if kind in ("list", "tuple"):
        items = node.get("items")
        if not isinstance(items, list):
            raise BadNode("bad sequence node")
        out = [decode(v, arrays, depth + 1) for v in items]
        return tuple(out) if kind == "tuple" else out
    if kind in NUMBER_KINDS:
        index = node.get("array")
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(arrays):
            raise BadNode("bad array index")
        return Leaf(kind=kind, type=type_, array=arrays[index])
    if kind == "bool":
        if not isinstance(node.get("value"), bool):
            raise BadNode("bad bool")
        return Leaf(kind="bool", type=type_, value=node["value"])
    if kind == "str":
        if not isinstance(node.get("value"), str):
            raise BadNode("bad str")
        return Leaf(kind="str", type=type_, value=node["value"][:TEXT_CAP])
    if kind == "none":
        return Leaf(kind="none", type="None")
    if kind == "other":
        return Leaf(kind="other", type=type_, dtype=str(node.get("dtype", ""))[:40],
                    repr=str(node.get("repr", ""))[:TEXT_CAP])
    if kind == "missing":                # an output path that led nowhere: "grads has no key 'W3'"
        return Leaf(kind="missing", type="", repr=str(node.get("message", ""))[:TEXT_CAP])
    raise BadNode(f"unknown kind {str(kind)[:20]!r}")


def leaves(tree: Any, path: tuple = ()) -> Iterator[tuple[tuple, Leaf]]:
    """(path, leaf) for every leaf of a tree of dicts, lists and tuples, in order: a decoded reply's
    Leafs, or a generated argument's arrays, numbers, strings, bools and None."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from leaves(v, path + (k,))
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            yield from leaves(v, path + (i,))
    else:
        yield path, tree


def plain(tree: Any) -> Any:
    """A decoded tree with each Leaf replaced by its plain value (arrays, bools, strings, None)."""
    if isinstance(tree, dict):
        return {k: plain(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [plain(v) for v in tree]
    if isinstance(tree, tuple):
        return tuple(plain(v) for v in tree)
    return tree.plain() if isinstance(tree, Leaf) else tree


def shape_of(tree: Any) -> str:
    """What a tree is, in a few words, for messages: 'a dict', 'a tuple of 2', 'a torch.Tensor'."""
    if isinstance(tree, dict):
        return "a dict"
    if isinstance(tree, (list, tuple)):
        return f"a {'tuple' if isinstance(tree, tuple) else 'list'} of {len(tree)}"
    if isinstance(tree, Leaf):
        detail = tree.repr or (f"of dtype {tree.dtype}" if tree.dtype else "")
        return article(tree.type or tree.kind) + (f" ({detail})" if tree.kind == "other" and detail else "")
    return article(type(tree).__name__)


def article(type_name: str) -> str:
    if type_name in ("None", "NoneType"):
        return "None"
    return ("an " if type_name[:1].lower() in "aeiou" else "a ") + type_name


# ---------------------------------------------------------------------------------------------
# Inputs: generated in the grader, built again in the child


def to_wire(value: Any, inputs: list, sent: dict | None = None) -> dict:
    """A generated argument as a job node; its arrays appended to `inputs`. With `sent` ({id of an
    array: its index}), an array already in `inputs` is referred to again, not sent twice (the calls
    of a gradient check share every argument but the one they move)."""
    if isinstance(value, np.ndarray):
        if sent is not None:
            if id(value) not in sent:
                sent[id(value)] = len(inputs)
                inputs.append(value)
            return {"array": sent[id(value)]}
        inputs.append(value)
        return {"array": len(inputs) - 1}
    if isinstance(value, Drawn):
        return {"drawn": value.to_wire()}
    if isinstance(value, (bool, str)) or value is None:
        return {"literal": value}
    if isinstance(value, (int, float)):
        return {"scalar": value}
    if isinstance(value, dict):
        return {"dict": [[k, to_wire(v, inputs, sent)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return {"tuple" if isinstance(value, tuple) else "list": [to_wire(v, inputs, sent) for v in value]}
    raise TypeError(f"cannot send a {type(value).__name__} to the worker")


def build(node: dict, inputs: list, torch, made: list | None = None, path: tuple = ()) -> Any:
    """The argument a job node describes, as the student's code gets it: its own copy of every
    array (a tensor in a torch assignment). `made` collects (path, object, input index) of each
    array sent, so that changes made in place can be found afterwards."""
    if "array" in node:
        original = inputs[node["array"]]
        obj = torch.from_numpy(original.copy()) if torch is not None else original.copy()
        if made is not None:
            made.append((path, obj, node["array"]))
        return obj
    if "drawn" in node:
        drawn = Drawn.from_wire(node["drawn"]).array()
        return torch.from_numpy(drawn) if torch is not None else drawn
    if "scalar" in node:
        return node["scalar"]
    if "literal" in node:
        return node["literal"]
    if "dict" in node:
        return {k: build(v, inputs, torch, made, path + (k,)) for k, v in node["dict"]}
    if "list" in node:
        return [build(v, inputs, torch, made, path + (i,)) for i, v in enumerate(node["list"])]
    if "tuple" in node:
        return tuple(build(v, inputs, torch, made, path + (i,)) for i, v in enumerate(node["tuple"]))
    raise ValueError(f"bad input node {node!r:.100}")


def at(value: Any, path: tuple) -> Any:
    """The part of a generated argument (or a plain tree) at `path`; KeyError when there is none."""
    for key in path:
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, (list, tuple)) and isinstance(key, int) and -len(value) <= key < len(value):
            value = value[key]
        else:
            raise KeyError(key)
    return value


def replace_at(value: Any, path: tuple, new: Any) -> Any:
    """A copy of `value` (containers only: leaves are shared) with the part at `path` replaced."""
    if not path:
        return new
    key, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, key: replace_at(value[key], rest, new)}
    items = list(value)
    items[key] = replace_at(items[key], rest, new)
    return tuple(items) if isinstance(value, tuple) else items


def digest_update(h, name: str, value: Any) -> None:
    """Feed a generated argument into a hash, so that the same inputs always hash the same: an
    array or number hashes as it always has (`name|dtype|shape|bytes`), containers and literals
    by their paths."""
    if isinstance(value, (np.ndarray, int, float)) and not isinstance(value, bool):
        a = np.asarray(value)
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(np.ascontiguousarray(a).tobytes())
        return
    if isinstance(value, dict):
        h.update(f"{name}|dict|{len(value)}|".encode())
        for k, v in value.items():
            digest_update(h, f"{name}[{k!r}]", v)
        return
    if isinstance(value, (list, tuple)):
        h.update(f"{name}|{type(value).__name__}|{len(value)}|".encode())
        for i, v in enumerate(value):
            digest_update(h, f"{name}[{i}]", v)
        return
    h.update(f"{name}|literal|{json.dumps(value)}|".encode())


def digest(args: dict) -> str:
    h = hashlib.sha256()
    for name, value in args.items():
        digest_update(h, name, value)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# Paths


def parse_path(text: str) -> tuple:
    """'grads.W1' -> ('grads', 'W1'); 'caches.0' -> ('caches', 0)."""
    return tuple(int(part) if part.isdigit() else part for part in text.split("."))


def show(path: tuple, via: tuple | None = None) -> str:
    """A path as Python: grads['W2'], caches[0], model.params['W1'].

    `via` says, per key after the first, "attr" where it was an attribute (a path resolved on an
    object); keys are subscripts otherwise."""
    if not path:
        return ""
    text = str(path[0])
    for i, key in enumerate(path[1:]):
        text += f".{key}" if via is not None and i < len(via) and via[i] == "attr" else subscripts((key,))
    return text


def subscripts(keys: tuple) -> str:
    """Keys and indices as Python subscripts: ('W2', 0) -> ['W2'][0]."""
    return "".join(f"[{k!r}]" if isinstance(k, str) else f"[{k}]" for k in keys)


def show_index(index: list) -> str:
    """An array element's index as Python: [3, 1]."""
    return "[" + ", ".join(str(i) for i in index) + "]"


# ---------------------------------------------------------------------------------------------
# The handout's file: decoded trees as JSON, and back


def tree_to_json(tree: Any) -> Any:
    """A decoded tree as JSON for expected_public.json: arrays as {shape, data, kind}."""
    if isinstance(tree, dict):
        return {"dict": {k: tree_to_json(v) for k, v in tree.items()}}
    if isinstance(tree, (list, tuple)):
        return {"tuple" if isinstance(tree, tuple) else "list": [tree_to_json(v) for v in tree]}
    if tree.is_number:
        a = np.asarray(tree.array, dtype=np.float64)
        data = a.ravel().tolist()
        if not np.isfinite(a).all():         # strict JSON has no NaN or Infinity: they travel as strings
            data = [x if np.isfinite(x) else str(x) for x in data]
        return {"kind": tree.kind, "shape": list(a.shape), "data": data}
    if tree.kind in ("bool", "str"):
        return {"kind": tree.kind, "value": tree.value}
    return {"kind": tree.kind}


def tree_from_json(data: Any) -> Any:
    """The inverse of tree_to_json (numbers as float64 arrays)."""
    if not isinstance(data, dict):
        raise ValueError("not a value")
    if "dict" in data:
        return {k: tree_from_json(v) for k, v in data["dict"].items()}
    if "list" in data:
        return [tree_from_json(v) for v in data["list"]]
    if "tuple" in data:
        return tuple(tree_from_json(v) for v in data["tuple"])
    if "data" in data:
        numbers = [float(x) for x in data["data"]]          # "nan", "inf", "-inf" as floats again
        return Leaf(kind=data.get("kind", "ndarray"), type=data.get("kind", "ndarray"),
                    array=np.array(numbers, dtype=np.float64).reshape(data["shape"]))
    if data.get("kind") in ("bool", "str"):
        return Leaf(kind=data["kind"], type=data["kind"], value=data["value"])
    return Leaf(kind=data.get("kind", "none"), type="None" if data.get("kind") == "none" else "")


_TYPE_QUALNAME, _TYPE_MODULE = type.__dict__["__qualname__"], type.__dict__["__module__"]


def type_name(v: Any) -> str:
    """The name of v's type, as short as a message can show (a student's class may call itself anything)."""
    if v is None:
        return "None"
    t = type(v)
    try:                             # type's own getters: a metaclass's __module__ or __qualname__ property would run its code
        qualname, module = _TYPE_QUALNAME.__get__(t), _TYPE_MODULE.__get__(t)
        name = qualname if module == "builtins" else f"{module}.{qualname}"
    except BaseException:  # noqa: BLE001 - a metaclass may make even this raise
        return "<unnamed type>"
    name = str.__str__(name) if isinstance(name, str) else "<unnamed type>"
    return name if len(name) <= TEXT_CAP else name[:TEXT_CAP] + "..."


def _short(v: Any) -> str:
    """A short repr. An object whose class has a __repr__ written in Python (the student's own
    class, or a library's) is named by its type instead: reading what a function returned must run
    none of the student's code (a __repr__ that never returns timed the function out, though it had
    returned): "" then, the type's name says it all."""
    if hasattr(inspect.getattr_static(type(v), "__repr__", None), "__code__"):
        return ""
    try:
        r = repr(v)
    except BaseException:  # noqa: BLE001
        return "<unrepresentable>"
    return r if len(r) <= TEXT_CAP else r[:TEXT_CAP] + "..."

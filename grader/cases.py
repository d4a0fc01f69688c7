"""Seeded case inputs: the arguments of a case depend only on (assignment, function, case seed).

Every random number comes from a PCG64 stream keyed by a SHA-256 of those names and the
argument's name, and is turned into a float by additions and multiplications only (53 random
bits per uniform; a normal is the sum of 12 uniforms minus 6, the Irwin-Hall approximation,
bounded at 6 standard deviations). No numpy sampling algorithm and no libm function (log, cos)
is involved, as those may differ in the last bit between CPUs and versions. So the inputs are
the same bits on every machine, run and process, for numpy and torch alike: torch tensors are
made from these arrays in the worker.

    >>> case = make_case(spec, spec.function("svm_loss_naive"), spec.function("svm_loss_naive").cases[0])
    >>> case.dims, case.args["W"].shape
    ({'N': 5, 'D': 12, 'C': 4}, (12, 4))
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from grader.spec import ArgSpec, AssignmentSpec, CaseSpec, FunctionSpec
from grader.values import leaves


@dataclass
class Case:
    """The concrete inputs of one case."""

    function: str
    spec: CaseSpec
    dims: dict          # name -> int
    args: dict          # name -> value (values.py: arrays, numbers, literals, dicts, lists, tuples), in call order

    @property
    def case_id(self) -> str:
        return self.spec.case_id

    def describe(self) -> str:
        """'N=5, D=12, C=4, reg=0.37', and the numbers and words inside dict arguments:
        'N=4, D=5, mode=train, p=0.5'."""
        parts = [f"{k}={v}" for k, v in self.dims.items()]
        for name, value in self.args.items():
            for path, leaf in leaves(value):
                if isinstance(leaf, np.ndarray):
                    continue
                label = str(path[-1]) if path else name
                parts.append(f"{label}={leaf:.4g}" if isinstance(leaf, float) else f"{label}={leaf}")
        return ", ".join(parts)


def make_case(assignment: AssignmentSpec | str, fn: FunctionSpec, case: CaseSpec) -> Case:
    name = assignment if isinstance(assignment, str) else assignment.name
    key = f"{name}/{fn.name}/{case.seed}"
    dim_stream = _Stream(key + "/dims")
    dims = {}
    for dname, rng in fn.dims.items():
        if isinstance(rng, str):                        # derived: "1 + (H + 2 * P - HH) // S"
            dims[dname] = _derived(dname, rng, dims)
            continue
        low, high = rng
        draw = low + dim_stream.index(high - low + 1)   # always drawn, so a fixed dim shifts no other
        dims[dname] = case.dims.get(dname, draw)
    args = {a.name: _generate(a, dims, _Stream(f"{key}/arg/{a.name}"), f"{key}/arg/{a.name}") for a in fn.arg_for_case(case)}
    return Case(function=fn.name, spec=case, dims=dims, args=args)


def _derived(name: str, expression: str, dims: dict) -> int:
    value = eval(compile(expression, name, "eval"), {"__builtins__": {"min": min, "max": max}}, dict(dims))  # noqa: S307 - the spec's arithmetic on ints
    if not isinstance(value, int) or value < 0:
        raise ValueError(f"dim {name} = {expression} is {value!r} on these dims ({dims}): not a size")
    return value


def resolve(value, dims: dict) -> int:
    return dims[value] if isinstance(value, str) else value


def _generate(arg: ArgSpec, dims: dict, stream: "_Stream", key: str = ""):
    """One argument's value. Each part of a container has a stream of its own (`key` + its path),
    so that adding a part to a dict changes no other part's numbers."""
    if arg.kind == "literal":
        return arg.value
    if arg.kind == "dict":
        return {k: _generate(a, dims, _Stream(f"{key}.{k}"), f"{key}.{k}") for k, a in arg.items}
    if arg.kind in ("list", "tuple"):
        items = [_generate(a, dims, _Stream(f"{key}.{i}"), f"{key}.{i}") for i, a in arg.items]
        return tuple(items) if arg.kind == "tuple" else items
    if arg.kind == "scalar":
        if isinstance(arg.value, str):                  # a dimension's size
            return int(dims[arg.value])
        if arg.value is not None:
            x = arg.value
        elif arg.dist == "uniform":
            x = arg.low + (arg.high - arg.low) * float(stream.uniform(1)[0])
        else:
            x = arg.loc + arg.scale * float(stream.normal(1)[0])
        return int(round(x)) if arg.dtype in ("int", "int64", "int32") else float(x)
    shape = tuple(resolve(d, dims) for d in arg.shape)
    size = int(np.prod(shape, dtype=np.int64))
    if arg.kind == "labels":
        low, high = resolve(arg.low, dims), resolve(arg.high, dims)
        if high <= low:
            raise ValueError(f"labels {arg.name}: empty range [{low}, {high})")
        return (low + stream.index(high - low, size)).astype(arg.dtype).reshape(shape)
    if arg.dist == "uniform":
        data = arg.low + (arg.high - arg.low) * stream.uniform(size)
    else:
        data = arg.loc + arg.scale * stream.normal(size)
    return data.astype(arg.dtype).reshape(shape)


class _Stream:
    """Uniform bits from PCG64, turned into numbers by arithmetic we control."""

    def __init__(self, key: str):
        seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:16], "little")
        self._bits = np.random.PCG64(seed)

    def uniform(self, n: int) -> np.ndarray:
        """n floats in [0, 1), 53 random bits each."""
        raw = self._bits.random_raw(n) if n else np.zeros(0, dtype=np.uint64)
        return (np.asarray(raw, dtype=np.uint64) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))

    def normal(self, n: int) -> np.ndarray:
        """n approximately standard normals: the sum of 12 uniforms, minus 6 (variance 1)."""
        u = self.uniform(12 * n).reshape(12, n)
        z = u[0].copy()
        for row in u[1:]:                   # fixed order of additions: bit-for-bit reproducible
            z += row
        return z - 6.0

    def index(self, n: int, size: int | None = None):
        """Integers in [0, n); one when size is None."""
        values = np.minimum((self.uniform(1 if size is None else size) * n).astype(np.int64), n - 1)
        return int(values[0]) if size is None else values

"""Seeded case inputs: the arguments of a case depend only on (assignment, function, case seed).

Every random number comes from a stream (grader/seeded.py) keyed by those names and the
argument's name, so the inputs are the same bits on every machine, run and process, for numpy
and torch alike: torch tensors are made from these arrays in the worker.

    >>> case = make_case(spec, spec.function("svm_loss_naive"), spec.function("svm_loss_naive").cases[0])
    >>> case.dims, case.args["W"].shape
    ({'N': 5, 'D': 12, 'C': 4}, (12, 4))
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grader.results import show_dims
from grader.seeded import Drawn, Stream, tuples
from grader.spec import ArgSpec, AssignmentSpec, CaseSpec, FunctionSpec, expressions
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
        parts = [show_dims(self.dims)] if self.dims else []
        for name, value in self.args.items():
            for path, leaf in leaves(value):
                if isinstance(leaf, (np.ndarray, Drawn)):
                    continue
                label = str(path[-1]) if path else name
                parts.append(f"{label}={leaf:.4g}" if isinstance(leaf, float) else f"{label}={leaf}")
        return ", ".join(parts)


def make_case(assignment: AssignmentSpec | str, fn: FunctionSpec, case: CaseSpec, fresh: str = "") -> Case:
    """The case's inputs. With `fresh` (a label: "timing-1"), other inputs of the same sizes, no
    other call sees, keyed by the label too: their arrays are recipes (seeded.Drawn) that the
    worker's child draws, so that only the recipes travel."""
    name = assignment if isinstance(assignment, str) else assignment.name
    key = f"{name}/{fn.name}/{case.seed}"
    dim_stream = Stream(key + "/dims")
    dims = {}
    for dname, rng in fn.dims.items():
        if isinstance(rng, str):                        # derived: "1 + (H + 2 * P - HH) // S"
            dims[dname] = _derived(dname, rng, dims)
            continue
        low, high = rng
        draw = low + dim_stream.index(high - low + 1)   # always drawn, so a fixed dim shifts no other
        dims[dname] = case.dims.get(dname, draw)
    drawn = f"{key}/{fresh}" if fresh else key            # the dims above are the case's either way
    args = {a.name: _generate(a, dims, Stream(f"{drawn}/arg/{a.name}"), f"{drawn}/arg/{a.name}", lazy=bool(fresh))
            for a in fn.arg_for_case(case)}
    return Case(function=fn.name, spec=case, dims=dims, args=args)


def _derived(name: str, expression: str, dims: dict) -> int:
    value = eval(expressions.compiled(expression, name), {"__builtins__": {"min": min, "max": max}}, dict(dims))  # noqa: S307 - the spec's arithmetic on ints (spec.expressions)
    if not isinstance(value, int) or value < 0:
        raise ValueError(f"dim {name} = {expression} is {value!r} on these dims ({dims}): not a size")
    return value


def resolve(value, dims: dict) -> int:
    return dims[value] if isinstance(value, str) else value


def _generate(arg: ArgSpec, dims: dict, stream: Stream, key: str = "", lazy: bool = False):
    """One argument's value; `lazy`, its arrays as their recipes. Each part of a container has a
    stream of its own (`key` + its path), so that adding a part to a dict changes no other part's numbers."""
    if arg.kind == "literal":
        return arg.value
    if arg.kind == "dict":
        return {k: _generate(a, dims, Stream(f"{key}.{k}"), f"{key}.{k}", lazy) for k, a in arg.items}
    if arg.kind in ("list", "tuple"):
        items = [_generate(a, dims, Stream(f"{key}.{i}"), f"{key}.{i}", lazy) for i, a in arg.items]
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
    if arg.kind == "labels":
        low, high = resolve(arg.low, dims), resolve(arg.high, dims)
        if high <= low:
            raise ValueError(f"labels {arg.name}: empty range [{low}, {high})")
        drawn = Drawn(key, shape, arg.dtype, "labels", low, high, fast=lazy)
    elif arg.dist == "uniform":
        drawn = Drawn(key, shape, arg.dtype, "uniform", arg.low, arg.high, fast=lazy)
    else:
        loc = arg.loc
        if isinstance(loc, tuple):                      # (dim, means): the means along that dim's axis, broadcast over the others
            axis = arg.shape.index(loc[0])
            loc = tuples(np.asarray(loc[1]).reshape([-1 if i == axis else 1 for i in range(len(shape))]).tolist())
        drawn = Drawn(key, shape, arg.dtype, "normal", loc, arg.scale, fast=lazy)
    return drawn if lazy else drawn.array()

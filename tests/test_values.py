"""The value model (grader/values.py): what a child sends back is plain data, checked field by field."""
import collections

import numpy as np
import pytest
import torch

from grader import values
from grader.values import BadNode, Leaf, decode, encode


def roundtrip(value, framework_torch=None):
    arrays = []
    node = encode(value, framework_torch, arrays)
    return decode(node, arrays)


def test_nested_dicts_lists_and_tuples_come_back_with_plain_arrays():
    tree = roundtrip({"W1": np.ones((2, 3)), "t": 3, "mode": "train", "hist": [np.float32(1.5), None, True],
                      "pair": (np.zeros(2), 2.5)})
    assert isinstance(tree, dict) and list(tree) == ["W1", "t", "mode", "hist", "pair"]
    assert tree["W1"].kind == "ndarray" and type(tree["W1"].array) is np.ndarray and tree["W1"].array.shape == (2, 3)
    assert tree["t"].kind == "python_number" and tree["t"].array.dtype == np.int64
    assert tree["mode"] == Leaf(kind="str", type="str", value="train")
    assert [leaf.kind for leaf in tree["hist"]] == ["numpy_scalar", "none", "bool"]
    assert isinstance(tree["pair"], tuple) and tree["pair"][1].array == 2.5


def test_tensors_are_sent_as_arrays_with_their_kind():
    tree = roundtrip({"g": torch.arange(6, dtype=torch.float64).reshape(2, 3)}, torch)
    assert tree["g"].kind == "tensor" and tree["g"].type == "torch.Tensor"
    np.testing.assert_array_equal(tree["g"].array, np.arange(6.0).reshape(2, 3))


def test_a_tensor_with_its_negative_bit_set_is_read_as_the_numbers_it_holds():
    """torch._neg_view(-t) holds t's numbers (its negation is lazy, a bit on the view): numpy cannot
    take such a tensor as it is, and it was 'a dtype the grader does not read'."""
    t = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    leaf = roundtrip(torch._neg_view(-t), torch)
    assert leaf.kind == "tensor", leaf
    np.testing.assert_array_equal(leaf.array, t.numpy())


def test_a_nested_tensor_is_said_to_be_one():
    """A nested tensor's layout reads as strided, and numpy cannot take it: its dtype alone was sent,
    and the student read "torch.float64, which the grader does not read: return float64" (a red team)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                  # the nested API's "prototype stage" warning
        nested = torch.nested.nested_tensor([torch.ones(2, dtype=torch.float64), torch.ones(3, dtype=torch.float64)])
    leaf = roundtrip(nested, torch)
    assert leaf.kind == "other" and leaf.repr == "a nested tensor, whose rows may differ in length", leaf


@pytest.mark.parametrize("value, why", [
    ({1: np.ones(2)}, "a key that is not a string"),
    (np.array(["a", "b"]), "<U1"),
    (torch.tensor([True, False]), "torch.bool"),
    (object(), "object"),
    (2 ** 80, "1208925819614629174706176"),
])
def test_what_is_not_plain_data_is_an_other_leaf_described_by_its_type(value, why):
    tree = roundtrip(value, torch)
    assert tree.kind == "other" and tree.array is None
    assert why in tree.repr + tree.dtype + tree.type


def test_big_endian_numbers_are_numbers_and_a_copy_that_does_not_fit_says_so(monkeypatch):
    big = roundtrip({"a": np.arange(4.0).astype(">f8"), "s": np.array(2.5, dtype=">f4")[()]})
    assert big["a"].kind == "ndarray" and big["a"].array.dtype == np.float64
    np.testing.assert_array_equal(big["a"].array, np.arange(4.0))
    assert big["s"].kind == "numpy_scalar" and big["s"].array == 2.5
    monkeypatch.setattr(values, "_number", lambda *a: (_ for _ in ()).throw(MemoryError()))   # the copy runs out of memory
    leaf = roundtrip(np.zeros(3))
    assert leaf.kind == "other" and leaf.repr == "too large to copy back within the memory limit"


def test_reading_a_returned_object_runs_none_of_its_python_code():
    """A class's own __repr__ is not called (one that never returns timed the function out), nor is
    a dict key's; a plain object's built-in repr still describes it."""
    class Hangs:
        def __repr__(self):
            raise AssertionError("the student's __repr__ ran")
    leaf = roundtrip(Hangs())
    assert leaf.kind == "other" and leaf.repr == "" and leaf.type.endswith("Hangs")
    assert roundtrip({Hangs(): 1}).repr.startswith("a dict with a key that is not a string: ")
    assert roundtrip({Hangs(): 1}).repr.endswith("Hangs")
    assert roundtrip(object()).repr.startswith("<object object at")


def test_hostile_containers_become_other_leaves_never_exceptions():
    class Liar(dict):
        def keys(self):
            raise RuntimeError("no")

        def __getitem__(self, key):
            raise RuntimeError("no")

    loop = []
    loop.append(loop)
    deep = current = []
    for _ in range(values.MAX_DEPTH + 5):
        current.append([])
        current = current[0]
    liar = Liar(a=1)
    assert roundtrip(liar)["a"].array == 1          # read through dict's own methods: the override is never called
    assert roundtrip(loop)[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0].kind == "other"
    assert "too deeply" in str(values.leaves(roundtrip(deep)).__next__()[1].repr)
    wide = roundtrip({str(i): i for i in range(values.MAX_NODES + 10)})      # described, never sent key by key
    assert isinstance(wide, Leaf) and wide.kind == "other" and "too large" in wide.repr
    assert "too large" in roundtrip([list(range(values.MAX_NODES // 2))] * 3)[2].repr      # the budget is shared


def test_dict_subclasses_are_dicts():
    tree = roundtrip(collections.OrderedDict(b=np.ones(1), a=2.0))
    assert list(tree) == ["b", "a"]


@pytest.mark.parametrize("node", [
    {"kind": "ndarray", "type": "ndarray", "array": 5},                 # no such array
    {"kind": "ndarray", "type": "ndarray", "array": True},
    {"kind": "dict", "type": "dict", "keys": ["a", "a"], "items": [{"kind": "none"}, {"kind": "none"}]},
    {"kind": "dict", "type": "dict", "keys": [1], "items": [{"kind": "none"}]},
    {"kind": "dict", "type": "dict", "keys": ["a"], "items": []},
    {"kind": "list", "type": "list", "items": "abc"},
    {"kind": "bool", "type": "bool", "value": "yes"},
    {"kind": "pickle", "type": "x"},
    ["not", "a", "node"],
])
def test_forged_nodes_are_refused(node):
    with pytest.raises(BadNode):
        decode(node, [np.zeros(2)])


def test_inputs_are_built_again_as_the_students_own_copies():
    inputs = []
    node = values.to_wire({"mode": "train", "running_mean": np.arange(3.0), "eps": 1e-5, "h": [1, (2, None)]}, inputs)
    made = []
    built = values.build(node, inputs, torch, made)
    assert built["mode"] == "train" and built["eps"] == 1e-5 and built["h"] == [1, (2, None)]
    assert isinstance(built["running_mean"], torch.Tensor)
    built["running_mean"] += 1                    # the student's copy: the job's array is untouched
    np.testing.assert_array_equal(inputs[0], np.arange(3.0))
    assert [m[0] for m in made] == [("running_mean",)]


def test_the_digest_of_flat_arguments_is_what_it_always_was():
    """Handouts carry a digest of each public case's inputs: arrays and numbers hash as before."""
    import hashlib
    args = {"W": np.arange(6.0).reshape(2, 3), "reg": 0.5}
    h = hashlib.sha256()
    for name, value in args.items():
        a = np.asarray(value)
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    assert values.digest(args) == h.hexdigest()
    assert values.digest({"p": {"mode": "train"}}) != values.digest({"p": {"mode": "test"}})


@pytest.mark.parametrize("path, via, shown", [
    (("grads", "W2"), None, "grads['W2']"),
    (("caches", 0), None, "caches[0]"),
    (("model", "params", "W1"), ("attr", "key"), "model.params['W1']"),
    (("loss",), None, "loss"),
])
def test_paths_are_shown_as_python(path, via, shown):
    assert values.show(path, via) == shown


def test_the_handout_file_keeps_non_finite_numbers():
    tree = {"out": Leaf("ndarray", "ndarray", np.array([1.0, np.nan, -np.inf]))}
    back = values.tree_from_json(values.tree_to_json(tree))
    np.testing.assert_array_equal(back["out"].array, tree["out"].array)
    import json
    json.dumps(values.tree_to_json(tree), allow_nan=False)          # strict JSON


def test_a_tensor_whose_class_answers_operations_itself_is_not_read():
    """A wrapper subclass holds no numbers: every operation on it, reading it for the grader
    included, runs its __torch_dispatch__, which could compute the answer with autograd (or a loop)
    after the call was watched and timed. It is refused unread, and none of its code runs."""
    ran = []

    class Later(torch.Tensor):
        @staticmethod
        def __new__(cls, like):
            return torch.Tensor._make_wrapper_subclass(cls, like.shape, dtype=like.dtype)

        @classmethod
        def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
            ran.append(func)
            return func(*[torch.ones(a.shape, dtype=a.dtype) if isinstance(a, Later) else a for a in args],
                        **(kwargs or {}))

    class Plain(torch.Tensor):              # __torch_dispatch__ on an ordinary subclass: the same
        @classmethod
        def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
            ran.append(func)
            return NotImplemented

    for value in (Later(torch.zeros(3, dtype=torch.float64)), torch.zeros(3, dtype=torch.float64).as_subclass(Plain)):
        leaf = roundtrip(value, torch)
        assert leaf.kind == "other" and "__torch_dispatch__" in leaf.repr, leaf
    assert ran == []
    assert roundtrip(torch.nn.Parameter(torch.ones(2, dtype=torch.float64)), torch).kind == "tensor"


def test_a_torch_mode_left_on_does_not_run_while_an_answer_is_read():
    """A TorchFunctionMode (or TorchDispatchMode) entered at import and never left answers every
    torch call after it, the grader's reading of the answer included: it could return a gradient
    computed with autograd in place of the zeros the function returned, unwatched and untimed."""
    from torch.overrides import TorchFunctionMode
    from torch.utils._python_dispatch import TorchDispatchMode
    ran = []

    class Function(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            ran.append(func)
            return torch.ones(3, dtype=torch.float64)

    class Dispatch(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            ran.append(func)
            return torch.full((3,), 2.0, dtype=torch.float64)

    answer = torch.zeros(3, dtype=torch.float64)
    for mode in (Function(), Dispatch()):
        with mode:
            leaf = roundtrip(answer, torch)
        assert leaf.kind == "tensor" and leaf.array.tolist() == [0.0, 0.0, 0.0], leaf
    assert ran == []

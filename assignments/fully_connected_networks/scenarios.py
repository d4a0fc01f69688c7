"""Scenarios for fully_connected_networks: what the spec's steps cannot say on their own.

A network with dropout draws its masks at random, and two correct Dropout layers draw different
ones from the same seed (`torch.rand_like(x) > p`, `torch.bernoulli(...)`), so the network's loss
differs between two correct submissions. To grade FullyConnectedNet.loss on its own, the
scenario below runs it with one fixed Dropout in place of the module's, for the student and the
reference alike: the network must call Dropout.forward and .backward in the right places, with
self.dropout_param, whatever its own Dropout does (which is graded by its own properties).

A scenario runs in the sandboxed child with the student's modules (the reference's, when the
reference runs), gets only what the steps hand it, and returns plain data.
"""
import inspect
import types

import torch


def _fixed_forward(*args, **kwargs):
    # Run as the code of the module's own Dropout.forward too (see loss_with_fixed_dropout), under
    # its globals and with its arguments (self or cls first, or not; named as the student named
    # them): it imports what it needs and finds x and dropout_param by their types.
    import torch
    given = list(args) + list(kwargs.values())
    x = next(v for v in given if isinstance(v, torch.Tensor))
    dropout_param = next(v for v in given if isinstance(v, dict))
    p, mode = dropout_param['p'], dropout_param['mode']
    if 'seed' in dropout_param:
        torch.manual_seed(dropout_param['seed'])
    if mode != 'train':
        return x, ('fixed dropout', dropout_param, None)
    mask = (torch.rand_like(x) > p).to(x.dtype) / (1 - p)
    return x * mask, ('fixed dropout', dropout_param, mask)


def _fixed_backward(*args, **kwargs):
    import torch
    given = list(args) + list(kwargs.values())
    dout = next(v for v in given if isinstance(v, torch.Tensor))
    _, dropout_param, mask = next(v for v in given if isinstance(v, tuple) and len(v) == 3
                                  and isinstance(v[0], str) and v[0] == 'fixed dropout')
    return dout * mask if dropout_param['mode'] == 'train' else dout


class FixedDropout(object):
    """Inverted dropout with p the probability of dropping (EECS 498's convention), drawing its
    mask as `torch.rand_like(x) > p` after seeding from dropout_param['seed']."""
    forward = staticmethod(_fixed_forward)
    backward = staticmethod(_fixed_backward)


def loss_with_fixed_dropout(module, model, X, y=None):
    """`model.loss(X, y)` with FixedDropout in place of the module's Dropout for the call: as the
    module's `Dropout`, in the model's own attributes that hold the class or its methods
    (`self.dropout_layer = Dropout`, `self.drop = Dropout.forward`), and as the code of the module's
    Dropout methods' functions, which reaches them wherever they are held: through an instance
    (`self.dropout = Dropout()`), a list (`ops = [(Dropout.forward, Dropout.backward)]`) or an alias
    (`_drop = Dropout.forward`). A method that is not a function is replaced in the class itself."""
    saved = getattr(module, "Dropout", None)
    swaps = {saved: FixedDropout} if saved is not None else {}
    methods = {}                 # the methods of the module's Dropout class that are not functions, as it holds them
    codes = []                   # (a function of its methods, its own code)
    if isinstance(saved, type):
        for name, fixed in (("forward", _fixed_forward), ("backward", _fixed_backward)):
            try:
                swaps[getattr(saved, name)] = getattr(FixedDropout, name)
            except Exception:    # no such method, or one that cannot be a key: nothing held to swap
                pass
            try:
                method = inspect.getattr_static(saved, name)
            except AttributeError:
                method = None
            function = getattr(method, "__func__", method)          # a staticmethod's, a classmethod's
            if type(function) is types.FunctionType and not function.__code__.co_freevars:
                codes.append((function, function.__code__))
                function.__code__ = fixed.__code__
            else:
                methods[name] = _own(saved).get(name)
    held = [(name, value) for name, value in vars(model).items() if _in(value, swaps)]
    module.Dropout = FixedDropout
    for name, value in held:
        setattr(model, name, swaps[value])
    for name in methods:         # type's own setattr: a metaclass of the student's may ignore its own
        type.__setattr__(saved, name, staticmethod(getattr(FixedDropout, name)))
    try:
        return model.loss(X, y)
    finally:
        module.Dropout = saved
        for name, value in held:
            setattr(model, name, value)
        for name, method in methods.items():
            if method is not None:
                type.__setattr__(saved, name, method)
            else:
                type.__delattr__(saved, name)
        for function, code in codes:
            function.__code__ = code
        if any(_own(saved).get(name) is not method for name, method in methods.items()) or \
                any(function.__code__ is not code for function, code in codes):
            raise RuntimeError("the module's Dropout could not be put back as it was after the network's loss")


def _own(cls) -> dict:
    """A class's own attributes, as type holds them (a metaclass of the student's cannot say otherwise)."""
    return type.__dict__["__dict__"].__get__(cls)


def _in(value, swaps: dict) -> bool:
    """`value in swaps`, False for what cannot be a key (a dict of parameters, an object whose
    hash raises): the model's attributes are the student's."""
    try:
        return value in swaps
    except Exception:
        return False

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
import torch


class FixedDropout(object):
    """Inverted dropout with p the probability of dropping (EECS 498's convention), drawing its
    mask as `torch.rand_like(x) > p` after seeding from dropout_param['seed']."""

    @staticmethod
    def forward(x, dropout_param):
        p, mode = dropout_param['p'], dropout_param['mode']
        if 'seed' in dropout_param:
            torch.manual_seed(dropout_param['seed'])
        if mode != 'train':
            return x, (dropout_param, None)
        mask = (torch.rand_like(x) > p).to(x.dtype) / (1 - p)
        return x * mask, (dropout_param, mask)

    @staticmethod
    def backward(dout, cache):
        dropout_param, mask = cache
        return dout * mask if dropout_param['mode'] == 'train' else dout


def loss_with_fixed_dropout(module, model, X, y=None):
    """`model.loss(X, y)` with FixedDropout in place of the module's Dropout for the call: as the
    module's `Dropout`, in the model's own attributes that hold the class or its methods
    (`self.dropout_layer = Dropout`, `self.drop = Dropout.forward`), and as the methods of the
    module's Dropout class itself, so that an instance of it (`self.dropout = Dropout()`) drops
    with FixedDropout's mask too."""
    saved = getattr(module, "Dropout", None)
    swaps = {saved: FixedDropout} if saved is not None else {}
    methods = {}                 # the methods of the module's Dropout class, as its class holds them
    if isinstance(saved, type):
        for name in ("forward", "backward"):
            try:
                swaps[getattr(saved, name)] = getattr(FixedDropout, name)
            except Exception:    # no such method, or one that cannot be a key: nothing held to swap
                pass
        methods = {name: vars(saved).get(name) for name in ("forward", "backward")}
    held = [(name, value) for name, value in vars(model).items() if _in(value, swaps)]
    module.Dropout = FixedDropout
    for name, value in held:
        setattr(model, name, swaps[value])
    for name in methods:
        setattr(saved, name, staticmethod(getattr(FixedDropout, name)))
    try:
        return model.loss(X, y)
    finally:
        module.Dropout = saved
        for name, value in held:
            setattr(model, name, value)
        for name, method in methods.items():
            if method is not None:
                setattr(saved, name, method)
            else:
                delattr(saved, name)

def _in(value, swaps: dict) -> bool:
    """`value in swaps`, False for what cannot be a key (a dict of parameters, an object whose
    hash raises): the model's attributes are the student's."""
    try:
        return value in swaps
    except Exception:
        return False

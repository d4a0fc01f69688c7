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
    """`model.loss(X, y)` with FixedDropout as the module's Dropout for the call, and in the model's
    own attributes that hold the module's Dropout (`self.dropout_layer = Dropout`)."""
    saved = getattr(module, "Dropout", None)
    held = [name for name, value in vars(model).items() if saved is not None and value is saved]
    module.Dropout = FixedDropout
    for name in held:
        setattr(model, name, FixedDropout)
    try:
        return model.loss(X, y)
    finally:
        module.Dropout = saved
        for name in held:
            setattr(model, name, saved)

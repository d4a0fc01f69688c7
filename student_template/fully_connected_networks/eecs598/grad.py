"""Numeric gradients for checking analytic ones (eecs598.grad)."""
import random

import torch

from .utils import reset_seed


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-7):
    """
    Utility function to perform numeric gradient checking. We use the centered
    difference formula to compute a numeric derivative:

    f'(x) =~ (f(x + h) - f(x - h)) / (2h)

    Rather than computing a full numeric gradient, we sparsely sample a few
    dimensions along which to compute numeric derivatives, and print the
    numeric and analytic gradients along those dimensions.

    Inputs:
    - f: A function that inputs a torch tensor and returns a torch scalar
    - x: A torch tensor of the point at which to evaluate the numeric gradient
    - analytic_grad: A torch tensor giving the analytic gradient of f at x
    - num_checks: The number of dimensions along which to check
    - h: Step size for computing numeric derivatives
    """
    reset_seed(0)
    for _ in range(num_checks):
        ix = tuple(random.randrange(m) for m in x.shape)
        old = x[ix].item()
        x[ix] = old + h
        f_plus = f(x).item()
        x[ix] = old - h
        f_minus = f(x).item()
        x[ix] = old
        numeric = (f_plus - f_minus) / (2 * h)
        analytic = analytic_grad[ix].item()
        error = abs(numeric - analytic) / (abs(numeric) + abs(analytic) + 1e-12)
        print('numerical: %f analytic: %f, relative error: %e' % (numeric, analytic, error))


def compute_numeric_gradient(f, x, dLdf=None, h=1e-7):
    """
    Compute the numeric gradient of f at x using a finite differences
    approximation. We use the centered difference:

    df    f(x + h) - f(x - h)
    -- ~= -------------------
    dx           2 * h

    Function can also expand this easily to intermediate layers using the
    chain rule:

    dL   df   dL
    -- = -- * --
    dx   dx   df

    Inputs:
    - f: A function that inputs a torch tensor and returns a torch scalar
    - x: A torch tensor giving the point at which to compute the gradient
    - dLdf: optional upstream gradient for intermediate layers
    - h: epsilon used in the finite difference calculation
    Returns:
    - grad: A tensor of the same shape as x giving the gradient of f at x
    """
    flat_x = x.contiguous().view(-1)
    if flat_x.data_ptr() != x.data_ptr():
        raise ValueError('compute_numeric_gradient needs a contiguous x (it perturbs x in place)')
    grad = torch.zeros_like(x)
    flat_grad = grad.view(-1)
    if dLdf is None:
        dLdf = torch.ones_like(f(x))
    dLdf = dLdf.reshape(-1)
    for i in range(flat_x.shape[0]):
        old = flat_x[i].item()
        flat_x[i] = old + h
        f_plus = f(x).reshape(-1)
        flat_x[i] = old - h
        f_minus = f(x).reshape(-1)
        flat_x[i] = old
        dfdxi = (f_plus - f_minus) / (2 * h)
        flat_grad[i] = dLdf.dot(dfdxi).item()   # chain rule with the upstream gradient
    return grad


def rel_error(x, y, eps=1e-10):
    """
    Compute the relative error between a pair of tensors x and y,
    which is defined as:

                            max_i |x_i - y_i]|
    rel_error(x, y) = -------------------------------
                      max_i |x_i| + max_i |y_i| + eps

    Inputs:
    - x, y: Tensors of the same shape
    - eps: Small positive constant for numeric stability

    Returns:
    - rel_error: Scalar giving the relative error between x and y
    """
    top = (x - y).abs().max().item()
    bot = (x.abs() + y.abs()).clamp(min=eps).max().item()
    return top / bot

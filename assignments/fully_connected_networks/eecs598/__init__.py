"""
The grader's minimal copy of the course's `eecs598` helper package (EECS 498-007 / 598-005).

What a student's fully_connected_networks.py and its notebook use at import time:
`from eecs598 import Solver`, `eecs598.reset_seed`, `eecs598.tensor_to_image`,
`eecs598.grad.compute_numeric_gradient`, `eecs598.grad.rel_error`. The course's `data`
(CIFAR-10 download) and `submit` (zip for the autograder) modules are not part of this copy.
"""
from . import grad, utils
from .solver import Solver
from .utils import reset_seed, tensor_to_image

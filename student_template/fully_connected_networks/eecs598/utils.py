"""Small utilities of the eecs598 package: seeding and image conversion."""
import random

import torch


def reset_seed(number):
    """
    Reset random seed to the specific number

    Inputs:
    - number: A seed number to use
    """
    random.seed(number)
    torch.manual_seed(number)
    return


def tensor_to_image(tensor):
    """
    Convert a torch tensor into a numpy ndarray for visualization.

    Inputs:
    - tensor: A torch tensor of shape (3, H, W) with elements in the range [0, 1]

    Returns:
    - ndarr: A uint8 numpy array of shape (H, W, 3)
    """
    scaled = (tensor * 255 + 0.5).clamp(0, 255).permute(1, 2, 0)
    return scaled.to('cpu', torch.uint8).numpy()

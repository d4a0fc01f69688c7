"""
Helper functions used in Assignment 3 (EECS 498-007 / 598-005, fully-connected networks).

This is the grader's copy of the course's a3_helper.py: it keeps the course's API for what a
student's fully_connected_networks.py uses -- svm_loss(x, y) and softmax_loss(x, y), each
returning (loss, dx) averaged over the N examples -- and the cheap helpers of the notebook.
It imports with torch alone: matplotlib is imported only inside the plotting functions, and
the CIFAR-10 loader (get_CIFAR10_data, which downloads data) is not part of this copy.
"""
import torch


def hello_helper():
    """
    This is a sample function that we will try to import and run to ensure that
    our environment is correctly set up on Google Colab.
    """
    print('Hello from a3_helper.py!')


############################ Loss Functions from A2 ############################

def svm_loss(x, y):
    """
    Computes the loss and gradient using for multiclass SVM classification.
    Inputs:
    - x: Input data, of shape (N, C) where x[i, j] is the score for the jth
      class for the ith input.
    - y: Vector of labels, of shape (N,) where y[i] is the label for x[i] and
      0 <= y[i] < C
    Returns a tuple of:
    - loss: Scalar giving the loss
    - dx: Gradient of the loss with respect to x
    """
    num_examples = x.shape[0]
    rows = torch.arange(num_examples, device=x.device)
    correct = x[rows, y].unsqueeze(1)                     # (N, 1)
    margins = (x - correct + 1.0).clamp(min=0.0)          # hinge with delta = 1
    margins[rows, y] = 0.0                                # the correct class has no margin
    loss = margins.sum() / num_examples
    positive = (margins > 0).to(x.dtype)                  # (N, C), 1 where a margin counts
    dx = positive.clone()
    dx[rows, y] -= positive.sum(dim=1)                    # each margin pulls the correct score down
    dx /= num_examples
    return loss, dx


def softmax_loss(x, y):
    """
    Computes the loss and gradient for softmax classification.
    Inputs:
    - x: Input data, of shape (N, C) where x[i, j] is the score for the jth
      class for the ith input.
    - y: Vector of labels, of shape (N,) where y[i] is the label for x[i] and
      0 <= y[i] < C
    Returns a tuple of:
    - loss: Scalar giving the loss
    - dx: Gradient of the loss with respect to x
    """
    num_examples = x.shape[0]
    rows = torch.arange(num_examples, device=x.device)
    shifted = x - x.max(dim=1, keepdim=True).values       # exp() cannot overflow
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    loss = -log_probs[rows, y].sum() / num_examples
    dx = log_probs.exp()                                  # the probabilities, (N, C)
    dx[rows, y] -= 1
    dx /= num_examples
    return loss, dx


################# Visualizations (matplotlib imported on use) #################

def plot_stats(stat_dict):
    """Plot the loss history and the train / validation accuracies of a solver's stats."""
    import matplotlib.pyplot as plt
    plt.subplot(1, 2, 1)
    plt.plot(stat_dict['loss_history'], 'o')
    plt.title('Loss history')
    plt.xlabel('Iteration')
    plt.ylabel('Loss')

    plt.subplot(1, 2, 2)
    plt.plot(stat_dict['train_acc_history'], 'o-', label='train')
    plt.plot(stat_dict['val_acc_history'], 'o-', label='val')
    plt.title('Classification accuracy history')
    plt.xlabel('Epoch')
    plt.ylabel('Clasification accuracy')
    plt.legend()

    plt.gcf().set_size_inches(14, 4)
    plt.show()


def visualize_grid(Xs, ubound=255.0, padding=1):
    """
    Reshape a 4D tensor of image data to a grid for easy visualization.

    Inputs:
    - Xs: Data of shape (N, H, W, C)
    - ubound: Output grid will have values scaled to the range [0, ubound]
    - padding: The number of blank pixels between elements of the grid
    """
    (N, H, W, C) = Xs.shape
    grid_size = 1
    while grid_size * grid_size < N:
        grid_size += 1
    grid_height = H * grid_size + padding * (grid_size - 1)
    grid_width = W * grid_size + padding * (grid_size - 1)
    grid = torch.zeros((grid_height, grid_width, C), device=Xs.device)
    for k in range(N):
        row, col = divmod(k, grid_size)
        y0 = row * (H + padding)
        x0 = col * (W + padding)
        img = Xs[k]
        low, high = torch.min(img), torch.max(img)
        grid[y0:y0 + H, x0:x0 + W] = ubound * (img - low) / (high - low)
    return grid


def show_net_weights(net):
    """Show the first-layer weights of a network trained on CIFAR-10 as images."""
    import matplotlib.pyplot as plt
    W1 = net.params['W1']
    W1 = W1.reshape(3, 32, 32, -1).transpose(0, 3)
    plt.imshow(visualize_grid(W1, padding=3).type(torch.uint8).cpu())
    plt.gca().axis('off')
    plt.show()


def plot_acc_curves(stat_dict):
    """Plot the train and validation accuracy histories of several solvers, keyed by setting."""
    import matplotlib.pyplot as plt
    plt.subplot(1, 2, 1)
    for key, single_stats in stat_dict.items():
        plt.plot(single_stats['train_acc_history'], label=str(key))
    plt.title('Train accuracy history')
    plt.xlabel('Epoch')
    plt.ylabel('Clasification accuracy')

    plt.subplot(1, 2, 2)
    for key, single_stats in stat_dict.items():
        plt.plot(single_stats['val_acc_history'], label=str(key))
    plt.title('Validation accuracy history')
    plt.xlabel('Epoch')
    plt.ylabel('Clasification accuracy')
    plt.legend()

    plt.gcf().set_size_inches(14, 5)
    plt.show()

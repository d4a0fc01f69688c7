"""Layers of a neural network, forward and backward (CS231n assignment 2, 2018-2019 edition, numpy).

Conventions (the course's docstrings below say each one where it applies):
- Every forward function returns (out, cache); its backward takes (dout, cache) and returns the
  gradient of the loss with respect to each input, in the order of the forward's arguments,
  each of the same shape as that input. dout is the gradient with respect to out.
- affine: x of shape (N, d_1, ..., d_k) is flattened into rows (N, D), D = d_1 * ... * d_k;
  dx comes back in x's own shape.
- batchnorm: statistics over the batch (axis 0), biased variance (np.var, divides by N),
  x_hat = (x - mean) / sqrt(var + eps); running averages
  `momentum * running + (1 - momentum) * sample`, written back into bn_param; test mode
  normalizes with the running averages. layernorm: the same per example (axis 1), with gamma and
  beta per feature, and no running averages.
- dropout: p is the probability of KEEPING a unit (the 2018 docstring, "We keep each neuron output
  with probability p"; up to 2017 p was the probability of dropping one). Inverted dropout: kept
  units are divided by p at train time, so test time returns x unchanged.
- conv: `pad` zeros on both sides of H and W (x itself is not modified), output size
  1 + (H + 2 * pad - HH) // stride; max-pool: no padding, 1 + (H - pool_height) // stride.
- svm_loss / softmax_loss: the mean over the N examples, no regularization; dx = d loss / d x.
"""
from builtins import range
import numpy as np


def affine_forward(x, w, b):
    """
    Computes the forward pass for an affine (fully-connected) layer.

    The input x has shape (N, d_1, ..., d_k) and contains a minibatch of N
    examples, where each example x[i] has shape (d_1, ..., d_k). We will
    reshape each input into a vector of dimension D = d_1 * ... * d_k, and
    then transform it to an output vector of dimension M.

    Inputs:
    - x: A numpy array containing input data, of shape (N, d_1, ..., d_k)
    - w: A numpy array of weights, of shape (D, M)
    - b: A numpy array of biases, of shape (M,)

    Returns a tuple of:
    - out: output, of shape (N, M)
    - cache: (x, w, b)
    """
    out = None
    # BEGIN SOLUTION
    # PROMPT: Implement the affine forward pass. Store the result in out. You
    # PROMPT: will need to reshape the input into rows.
    N = x.shape[0]
    x_rows = x.reshape(N, -1)                           # (N, D): each example flattened into one row
    out = x_rows.dot(w) + b                             # (N, M); b is broadcast to every row
    # END SOLUTION
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """
    Computes the backward pass for an affine layer.

    Inputs:
    - dout: Upstream derivative, of shape (N, M)
    - cache: Tuple of:
      - x: Input data, of shape (N, d_1, ... d_k)
      - w: Weights, of shape (D, M)
      - b: Biases, of shape (M,)

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, d1, ..., d_k)
    - dw: Gradient with respect to w, of shape (D, M)
    - db: Gradient with respect to b, of shape (M,)
    """
    x, w, b = cache
    dx, dw, db = None, None, None
    # BEGIN SOLUTION
    # PROMPT: Implement the affine backward pass.
    N = x.shape[0]
    x_rows = x.reshape(N, -1)                           # (N, D), the rows the forward pass used
    # out[i, j] = sum_k x_rows[i, k] * w[k, j] + b[j], so:
    # d(out[i, j])/d(x_rows[i, k]) = w[k, j]   -> sum over j: dout.dot(w.T)
    dx_rows = dout.dot(w.T)                             # (N, D)
    dx = dx_rows.reshape(x.shape)                       # dx has x's shape (N, d_1, ..., d_k), like x
    # d(out[i, j])/d(w[k, j]) = x_rows[i, k]   -> sum over the examples i
    dw = x_rows.T.dot(dout)                             # (D, M)
    # b[j] is added to out[i, j] for every i
    db = dout.sum(axis=0)                               # (M,)
    # END SOLUTION
    return dx, dw, db


def relu_forward(x):
    """
    Computes the forward pass for a layer of rectified linear units (ReLUs).

    Input:
    - x: Inputs, of any shape

    Returns a tuple of:
    - out: Output, of the same shape as x
    - cache: x
    """
    out = None
    # BEGIN SOLUTION
    # PROMPT: Implement the ReLU forward pass.
    out = np.maximum(0, x)                              # a new array: x is left as it was
    # END SOLUTION
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """
    Computes the backward pass for a layer of rectified linear units (ReLUs).

    Input:
    - dout: Upstream derivatives, of any shape
    - cache: Input x, of same shape as dout

    Returns:
    - dx: Gradient with respect to x
    """
    dx, x = None, cache
    # BEGIN SOLUTION
    # PROMPT: Implement the ReLU backward pass.
    # max(0, x) has slope 1 where x > 0 and slope 0 where x < 0: the gradient passes where the
    # unit was active and stops where it was not. (Multiplying makes a new array; dout is kept.)
    dx = dout * (x > 0)
    # END SOLUTION
    return dx


def batchnorm_forward(x, gamma, beta, bn_param):
    """
    Forward pass for batch normalization.

    During training the sample mean and (uncorrected) sample variance are
    computed from minibatch statistics and used to normalize the incoming data.
    During training we also keep an exponentially decaying running mean of the
    mean and variance of each feature, and these averages are used to normalize
    data at test-time.

    At each timestep we update the running averages for mean and variance using
    an exponential decay based on the momentum parameter:

    running_mean = momentum * running_mean + (1 - momentum) * sample_mean
    running_var = momentum * running_var + (1 - momentum) * sample_var

    Note that the batch normalization paper suggests a different test-time
    behavior: they compute sample mean and variance for each feature using a
    large number of training images rather than using a running average. For
    this implementation we have chosen to use running averages instead since
    they do not require an additional estimation step; the torch7
    implementation of batch normalization also uses running averages.

    Input:
    - x: Data of shape (N, D)
    - gamma: Scale parameter of shape (D,)
    - beta: Shift paremeter of shape (D,)
    - bn_param: Dictionary with the following keys:
      - mode: 'train' or 'test'; required
      - eps: Constant for numeric stability
      - momentum: Constant for running mean / variance.
      - running_mean: Array of shape (D,) giving running mean of features
      - running_var Array of shape (D,) giving running variance of features

    Returns a tuple of:
    - out: of shape (N, D)
    - cache: A tuple of values needed in the backward pass
    """
    mode = bn_param['mode']
    eps = bn_param.get('eps', 1e-5)
    momentum = bn_param.get('momentum', 0.9)

    N, D = x.shape
    running_mean = bn_param.get('running_mean', np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get('running_var', np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == 'train':
        # BEGIN SOLUTION
        # PROMPT: Implement the training-time forward pass for batch norm. Use minibatch
        # PROMPT: statistics to compute the mean and variance, use these statistics to normalize
        # PROMPT: the incoming data, and scale and shift the normalized data using gamma and beta.
        # PROMPT: Store the output in out and any intermediates the backward pass needs in cache.
        # PROMPT: Also update running_mean and running_var with the momentum. Though you keep
        # PROMPT: track of the running variance, normalize with the standard deviation.
        # Each step below is one node of the computational graph that batchnorm_backward walks back.
        batch_mean = x.mean(axis=0)                     # (D,): one mean per feature, over the N examples
        x_centred = x - batch_mean                      # (N, D)
        batch_var = np.var(x, axis=0)                   # (D,): biased, divides by N (as the paper)
        std = np.sqrt(batch_var + eps)                  # eps inside the root: std >= sqrt(eps) > 0
        inv_std = 1.0 / std
        x_hat = x_centred * inv_std                     # each feature: mean 0, variance ~1
        out = gamma * x_hat + beta                      # learnable scale and shift, per feature
        # Exponential moving averages, for test time: the old value keeps the weight `momentum`.
        running_mean = momentum * running_mean + (1 - momentum) * batch_mean
        running_var = momentum * running_var + (1 - momentum) * batch_var
        cache = (x_centred, std, inv_std, x_hat, gamma)
        # END SOLUTION
    elif mode == 'test':
        # BEGIN SOLUTION
        # PROMPT: Implement the test-time forward pass for batch normalization. Use the running
        # PROMPT: mean and variance to normalize the incoming data, then scale and shift the
        # PROMPT: normalized data using gamma and beta. Store the result in out.
        # No batch statistics at test time: an example's output must not depend on its batch.
        running_std = np.sqrt(running_var + eps)
        x_norm = (x - running_mean) / running_std
        out = gamma * x_norm + beta
        # END SOLUTION
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    # Store the updated running means back into bn_param
    bn_param['running_mean'] = running_mean
    bn_param['running_var'] = running_var

    return out, cache


def batchnorm_backward(dout, cache):
    """
    Backward pass for batch normalization.

    For this implementation, you should write out a computation graph for
    batch normalization on paper and propagate gradients backward through
    intermediate nodes.

    Inputs:
    - dout: Upstream derivatives, of shape (N, D)
    - cache: Variable of intermediates from batchnorm_forward.

    Returns a tuple of:
    - dx: Gradient with respect to inputs x, of shape (N, D)
    - dgamma: Gradient with respect to scale parameter gamma, of shape (D,)
    - dbeta: Gradient with respect to shift parameter beta, of shape (D,)
    """
    dx, dgamma, dbeta = None, None, None
    # BEGIN SOLUTION
    # PROMPT: Implement the backward pass for batch normalization, node by node of the
    # PROMPT: computational graph of your forward pass. Store the results in the dx, dgamma,
    # PROMPT: and dbeta variables.
    x_centred, std, inv_std, x_hat, gamma = cache
    N = dout.shape[0]
    # The forward pass, backwards. A value used by all N rows (gamma, beta, the mean, the
    # variance) collects the gradients of all the rows: its gradient is a sum over axis 0.
    # out = gamma * x_hat + beta
    dbeta = dout.sum(axis=0)                            # (D,)
    dgamma = (dout * x_hat).sum(axis=0)                 # (D,)
    dx_hat = dout * gamma                               # (N, D)
    # x_hat = x_centred * inv_std
    dinv_std = (dx_hat * x_centred).sum(axis=0)         # (D,)
    dx_centred = dx_hat * inv_std                       # the first of two paths into x_centred
    # inv_std = 1 / std
    dstd = -dinv_std / std ** 2
    # std = sqrt(batch_var + eps)
    dvar = 0.5 * dstd / std
    # batch_var = mean(x_centred ** 2, axis=0): the second path into x_centred
    dx_centred += 2.0 * x_centred * dvar / N
    # x_centred = x - batch_mean: x directly, and through the mean
    dmean = -dx_centred.sum(axis=0)                     # (D,)
    # batch_mean = mean(x, axis=0): each x[i] gets 1/N of dmean
    dx = dx_centred + dmean / N
    # END SOLUTION

    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """
    Alternative backward pass for batch normalization.

    For this implementation you should work out the derivatives for the batch
    normalizaton backward pass on paper and simplify as much as possible. You
    should be able to derive a simple expression for the backward pass.
    See the jupyter notebook for more hints.

    Note: This implementation should expect to receive the same cache variable
    as batchnorm_backward, but might not use all of the values in the cache.

    Inputs / outputs: Same as batchnorm_backward
    """
    dx, dgamma, dbeta = None, None, None
    # BEGIN SOLUTION
    # PROMPT: Implement the backward pass for batch normalization. Store the results in the dx,
    # PROMPT: dgamma, and dbeta variables. After computing the gradient with respect to the
    # PROMPT: centered inputs, you should be able to compute gradients with respect to the inputs
    # PROMPT: in a single statement; our implementation fits on a single 80-character line.
    x_centred, std, inv_std, x_hat, gamma = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    # On paper: d x_hat[k] / d x[i] = (1{i == k} - 1/N - x_hat[i] * x_hat[k] / N) / std, per
    # feature. Summing dx_hat[k] times that over k leaves three terms: dx_hat itself, minus its
    # mean over the batch, minus x_hat times the mean of dx_hat * x_hat.
    dx = (dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0)) * inv_std
    # END SOLUTION

    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    """
    Forward pass for layer normalization.

    During both training and test-time, the incoming data is normalized per data-point,
    before being scaled by gamma and beta parameters identical to that of batch normalization.

    Note that in contrast to batch normalization, the behavior during train and test-time for
    layer normalization are identical, and we do not need to keep track of running averages
    of any sort.

    Input:
    - x: Data of shape (N, D)
    - gamma: Scale parameter of shape (D,)
    - beta: Shift paremeter of shape (D,)
    - ln_param: Dictionary with the following keys:
        - eps: Constant for numeric stability

    Returns a tuple of:
    - out: of shape (N, D)
    - cache: A tuple of values needed in the backward pass
    """
    out, cache = None, None
    eps = ln_param.get('eps', 1e-5)
    # BEGIN SOLUTION
    # PROMPT: Implement the training-time forward pass for layer norm. Normalize the incoming
    # PROMPT: data, and scale and shift the normalized data using gamma and beta. HINT: this can
    # PROMPT: be done by slightly modifying your training-time implementation of batch
    # PROMPT: normalization: which axis do the statistics run over now?
    # Batch norm with the roles of the axes swapped: statistics per example (axis 1), over its D
    # features; keepdims makes them (N, 1) columns that broadcast along each row.
    row_mean = x.mean(axis=1, keepdims=True)            # (N, 1)
    x_centred = x - row_mean
    row_var = np.var(x, axis=1, keepdims=True)          # (N, 1), biased
    std = np.sqrt(row_var + eps)
    inv_std = 1.0 / std
    x_hat = x_centred * inv_std                         # each row: mean 0, variance ~1
    out = gamma * x_hat + beta                          # gamma and beta are still per feature (D,)
    cache = (x_centred, std, inv_std, x_hat, gamma)
    # END SOLUTION
    return out, cache


def layernorm_backward(dout, cache):
    """
    Backward pass for layer normalization.

    For this implementation, you can heavily rely on the work you've done already
    for batch normalization.

    Inputs:
    - dout: Upstream derivatives, of shape (N, D)
    - cache: Variable of intermediates from layernorm_forward.

    Returns a tuple of:
    - dx: Gradient with respect to inputs x, of shape (N, D)
    - dgamma: Gradient with respect to scale parameter gamma, of shape (D,)
    - dbeta: Gradient with respect to shift parameter beta, of shape (D,)
    """
    dx, dgamma, dbeta = None, None, None
    # BEGIN SOLUTION
    # PROMPT: Implement the backward pass for layer norm. HINT: this can be done by slightly
    # PROMPT: modifying your training-time implementation of batch normalization. The hints to
    # PROMPT: the forward pass still apply!
    x_centred, std, inv_std, x_hat, gamma = cache
    # gamma and beta are per feature, shared by the N rows, as in batch norm: sum over axis 0.
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    # batchnorm_backward_alt's formula with the means taken along each row (axis 1), because
    # the statistics were: every x[i, k] of a row moved that row's mean and variance.
    row_mean_dx_hat = dx_hat.mean(axis=1, keepdims=True)                # (N, 1)
    row_mean_dx_hat_x_hat = (dx_hat * x_hat).mean(axis=1, keepdims=True)  # (N, 1)
    dx = (dx_hat - row_mean_dx_hat - x_hat * row_mean_dx_hat_x_hat) * inv_std
    # END SOLUTION
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """
    Performs the forward pass for (inverted) dropout.

    Inputs:
    - x: Input data, of any shape
    - dropout_param: A dictionary with the following keys:
      - p: Dropout parameter. We keep each neuron output with probability p.
      - mode: 'test' or 'train'. If the mode is train, then perform dropout;
        if the mode is test, then just return the input.
      - seed: Seed for the random number generator. Passing seed makes this
        function deterministic, which is needed for gradient checking but not
        in real networks.

    Outputs:
    - out: Array of the same shape as x.
    - cache: tuple (dropout_param, mask). In training mode, mask is the dropout
      mask that was used to multiply the input; in test mode, mask is None.

    NOTE: Please implement **inverted** dropout, not the vanilla version of dropout.
    See http://cs231n.github.io/neural-networks-2/#reg for more details.

    NOTE 2: Keep in mind that p is the probability of **keep** a neuron
    output; this might be contrary to some sources, where it is referred to
    as the probability of dropping a neuron output.
    """
    p, mode = dropout_param['p'], dropout_param['mode']
    if 'seed' in dropout_param:
        np.random.seed(dropout_param['seed'])

    mask = None
    out = None

    if mode == 'train':
        # BEGIN SOLUTION
        # PROMPT: Implement training phase forward pass for inverted dropout.
        # PROMPT: Store the dropout mask in the mask variable.
        # rand < p is True with probability p: those units are kept. Inverted dropout divides the
        # kept units by p now, so the expected value of each output is x itself, as at test time.
        mask = (np.random.rand(*x.shape) < p) / p       # entries 0 or 1/p, of x's shape
        out = mask * x
        # END SOLUTION
    elif mode == 'test':
        # BEGIN SOLUTION
        # PROMPT: Implement the test phase forward pass for inverted dropout.
        out = x                                         # nothing to undo: train time already scaled
        # END SOLUTION

    cache = (dropout_param, mask)
    out = out.astype(x.dtype, copy=False)

    return out, cache


def dropout_backward(dout, cache):
    """
    Perform the backward pass for (inverted) dropout.

    Inputs:
    - dout: Upstream derivatives, of any shape
    - cache: (dropout_param, mask) from dropout_forward.
    """
    dropout_param, mask = cache
    mode = dropout_param['mode']

    dx = None
    if mode == 'train':
        # BEGIN SOLUTION
        # PROMPT: Implement training phase backward pass for inverted dropout
        # out = mask * x, elementwise: d(out)/d(x) is the mask itself (already holding the 1/p),
        # so dropped units get no gradient and kept ones get dout / p.
        dx = dout * mask
        # END SOLUTION
    elif mode == 'test':
        dx = dout
    return dx


def conv_forward_naive(x, w, b, conv_param):
    """
    A naive implementation of the forward pass for a convolutional layer.

    The input consists of N data points, each with C channels, height H and
    width W. We convolve each input with F different filters, where each filter
    spans all C channels and has height HH and width WW.

    Input:
    - x: Input data of shape (N, C, H, W)
    - w: Filter weights of shape (F, C, HH, WW)
    - b: Biases, of shape (F,)
    - conv_param: A dictionary with the following keys:
      - 'stride': The number of pixels between adjacent receptive fields in the
        horizontal and vertical directions.
      - 'pad': The number of pixels that will be used to zero-pad the input.

    During padding, 'pad' zeros should be placed symmetrically (i.e equally on both sides)
    along the height and width axes of the input. Be careful not to modfiy the original
    input x directly.

    Returns a tuple of:
    - out: Output data, of shape (N, F, H', W') where H' and W' are given by
      H' = 1 + (H + 2 * pad - HH) / stride
      W' = 1 + (W + 2 * pad - WW) / stride
    - cache: (x, w, b, conv_param)
    """
    out = None
    # BEGIN SOLUTION
    # PROMPT: Implement the convolutional forward pass.
    # PROMPT: Hint: you can use the function np.pad for padding.
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    stride = conv_param['stride']
    pad = conv_param['pad']
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    # np.pad makes a new, larger array: `pad` zeros before and after along H and W only.
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
    w_rows = w.reshape(F, -1)                           # (F, C*HH*WW): one filter per row
    out = np.zeros((N, F, H_out, W_out))
    for i in range(H_out):
        top = i * stride                                # windows start every `stride` pixels
        for j in range(W_out):
            left = j * stride
            window = x_pad[:, :, top:top + HH, left:left + WW]        # (N, C, HH, WW)
            # out[n, f, i, j] = sum(window[n] * w[f]) + b[f], for all n and f at once
            out[:, :, i, j] = window.reshape(N, -1).dot(w_rows.T) + b
    # END SOLUTION
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    """
    A naive implementation of the backward pass for a convolutional layer.

    Inputs:
    - dout: Upstream derivatives.
    - cache: A tuple of (x, w, b, conv_param) as in conv_forward_naive

    Returns a tuple of:
    - dx: Gradient with respect to x
    - dw: Gradient with respect to w
    - db: Gradient with respect to b
    """
    dx, dw, db = None, None, None
    # BEGIN SOLUTION
    # PROMPT: Implement the convolutional backward pass.
    x, w, b, conv_param = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    stride = conv_param['stride']
    pad = conv_param['pad']
    H_out = dout.shape[2]
    W_out = dout.shape[3]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
    w_rows = w.reshape(F, -1)
    dx_pad = np.zeros_like(x_pad, dtype=float)          # the gradient of the padded input
    dw_rows = np.zeros_like(w_rows, dtype=float)
    for i in range(H_out):
        top = i * stride                                # the same windows as the forward pass
        for j in range(W_out):
            left = j * stride
            window = x_pad[:, :, top:top + HH, left:left + WW]
            dout_ij = dout[:, :, i, j]                  # (N, F)
            # out[n, f, i, j] = window[n] . w[f] + b[f]: the window's gradient is the filters
            # weighted by dout, and each filter's gradient is the windows weighted by dout.
            # Windows overlap when stride < HH: their gradients add up, hence +=.
            dx_pad[:, :, top:top + HH, left:left + WW] += dout_ij.dot(w_rows).reshape(N, C, HH, WW)
            dw_rows += dout_ij.T.dot(window.reshape(N, -1))
    dw = dw_rows.reshape(w.shape)
    db = dout.sum(axis=(0, 2, 3))                       # b[f] is added at every n, i, j
    # The padded zeros are not inputs: keep the gradient of x's own pixels only.
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    # END SOLUTION
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    """
    A naive implementation of the forward pass for a max-pooling layer.

    Inputs:
    - x: Input data, of shape (N, C, H, W)
    - pool_param: dictionary with the following keys:
      - 'pool_height': The height of each pooling region
      - 'pool_width': The width of each pooling region
      - 'stride': The distance between adjacent pooling regions

    No padding is necessary here. Output size is given by

    Returns a tuple of:
    - out: Output data, of shape (N, C, H', W') where H' and W' are given by
      H' = 1 + (H - pool_height) / stride
      W' = 1 + (W - pool_width) / stride
    - cache: (x, pool_param)
    """
    out = None
    # BEGIN SOLUTION
    # PROMPT: Implement the max-pooling forward pass
    N, C, H, W = x.shape
    pool_height = pool_param['pool_height']
    pool_width = pool_param['pool_width']
    stride = pool_param['stride']
    H_out = 1 + (H - pool_height) // stride
    W_out = 1 + (W - pool_width) // stride
    out = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        top = i * stride
        for j in range(W_out):
            left = j * stride
            window = x[:, :, top:top + pool_height, left:left + pool_width]
            out[:, :, i, j] = window.max(axis=(2, 3))   # each channel pooled on its own
    # END SOLUTION
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    """
    A naive implementation of the backward pass for a max-pooling layer.

    Inputs:
    - dout: Upstream derivatives
    - cache: A tuple of (x, pool_param) as in the forward pass.

    Returns:
    - dx: Gradient with respect to x
    """
    dx = None
    # BEGIN SOLUTION
    # PROMPT: Implement the max-pooling backward pass
    x, pool_param = cache
    N, C, H, W = x.shape
    pool_height = pool_param['pool_height']
    pool_width = pool_param['pool_width']
    stride = pool_param['stride']
    H_out = dout.shape[2]
    W_out = dout.shape[3]
    dx = np.zeros_like(x, dtype=float)
    for i in range(H_out):
        top = i * stride
        for j in range(W_out):
            left = j * stride
            window = x[:, :, top:top + pool_height, left:left + pool_width]
            # Only the largest entry of the window reached the output, so only it gets the
            # gradient; the others had no effect on out.
            is_max = window == window.max(axis=(2, 3), keepdims=True)
            # Windows overlap when stride < pool size: one entry may be the max of several.
            dx[:, :, top:top + pool_height, left:left + pool_width] += is_max * dout[:, :, i, j][:, :, None, None]
    # END SOLUTION
    return dx


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
    loss, dx = None, None
    # BEGIN SOLUTION
    # PROMPT: Compute the multiclass SVM loss (margin delta = 1), averaged over the N
    # PROMPT: examples, and its gradient dx with respect to the scores x.
    N = x.shape[0]
    rows = np.arange(N)
    correct_scores = x[rows, y][:, np.newaxis]          # (N, 1)
    margins = np.maximum(0, x - correct_scores + 1.0)   # (N, C), delta = 1
    margins[rows, y] = 0                                # the correct class is not a margin
    loss = margins.sum() / N
    # A positive margin grows with its own score (+1) and shrinks with the correct score (-1).
    positive = (margins > 0).astype(float)
    positive[rows, y] = -positive.sum(axis=1)
    dx = positive / N
    # END SOLUTION
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
    loss, dx = None, None
    # BEGIN SOLUTION
    # PROMPT: Compute the softmax (cross-entropy) loss, averaged over the N examples, and its
    # PROMPT: gradient dx with respect to the scores x. Shift the scores before np.exp.
    N = x.shape[0]
    rows = np.arange(N)
    # Shifting a row by a constant leaves its probabilities unchanged, and with the row's
    # maximum at 0, exp cannot overflow.
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[rows, y].sum() / N
    # d(-log p[y])/d x[j] = p[j] - 1{j == y}
    dx = np.exp(log_probs)
    dx[rows, y] -= 1
    dx /= N
    # END SOLUTION
    return loss, dx

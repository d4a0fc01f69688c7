"""
Implements fully connected networks in PyTorch.
WARNING: you SHOULD NOT use ".to()" or ".cuda()" in each implementation block.

EECS 498-007 / 598-005 Assignment 3 (fully-connected networks), as in the Winter 2022 handout:
the names, signatures and given code are the course's.

Conventions, each from a docstring or TODO note of the handout:
- Layers are classes of @staticmethods: forward(...) -> (out, cache), backward(dout, cache) ->
  gradients. Linear takes x of shape (N, d_1, ..., d_k), flattens each example to D = d_1*...*d_k,
  and returns dx in x's own shape.
- ReLU passes the gradient where x > 0 and blocks it where x < 0 (at exactly x == 0 the
  derivative is undefined: either is accepted there; torch.relu uses 0).
- TwoLayerNet: linear - relu - linear - softmax. Its L2 term has NO factor of 0.5:
  loss += reg * sum(W * W) for W1 and W2, so grads['W'] += 2 * reg * W.
- FullyConnectedNet: {linear - relu - [dropout]} x (L - 1) - linear - softmax. Its L2 term
  INCLUDES the factor of 0.5: loss += 0.5 * reg * sum(W * W) for every W, so grads['W'] += reg * W.
- Biases are never regularized. Weights start from N(0, weight_scale^2), biases at zero, with the
  given dtype and device, under the keys 'W1', 'b1', 'W2', 'b2', ...
- The data loss is softmax_loss from a3_helper, already averaged over the N examples.
- Dropout: p is the probability of DROPPING a unit (not of keeping it, as in CS231n). Inverted
  dropout: kept units are scaled by 1 / (1 - p) at training time, so test time is the identity.
  The cache is (dropout_param, mask), mask being the tensor the input was multiplied by.
- Update rules return (next_w, config); config keeps their state (velocity, cache, m, v, t).
  Adam increments t before using it.
"""
import torch
from a3_helper import softmax_loss
from eecs598 import Solver


def hello_fully_connected_networks():
    """
    This is a sample function that we will try to import and run to ensure that
    our environment is correctly set up on Google Colab.
    """
    print('Hello from fully_connected_networks.py!')


class Linear(object):

    @staticmethod
    def forward(x, w, b):
        """
        Computes the forward pass for an linear (fully-connected) layer.
        The input x has shape (N, d_1, ..., d_k) and contains a minibatch of N
        examples, where each example x[i] has shape (d_1, ..., d_k). We will
        reshape each input into a vector of dimension D = d_1 * ... * d_k, and
        then transform it to an output vector of dimension M.
        Inputs:
        - x: A tensor containing input data, of shape (N, d_1, ..., d_k)
        - w: A tensor of weights, of shape (D, M)
        - b: A tensor of biases, of shape (M,)
        Returns a tuple of:
        - out: output, of shape (N, M)
        - cache: (x, w, b)
        """
        out = None
        # BEGIN SOLUTION
        # PROMPT: Implement the linear forward pass. Store the result in out.
        # PROMPT: You will need to reshape the input into rows.
        num_examples = x.shape[0]
        # Each example becomes one row of D numbers. reshape (unlike view) also works when x
        # is not contiguous in memory, e.g. a transposed or sliced tensor.
        x_rows = x.reshape(num_examples, -1)
        # (N, D) @ (D, M) -> (N, M); the bias (M,) broadcasts over the N rows.
        out = x_rows.mm(w) + b
        # END SOLUTION
        cache = (x, w, b)
        return out, cache

    @staticmethod
    def backward(dout, cache):
        """
        Computes the backward pass for an linear layer.
        Inputs:
        - dout: Upstream derivative, of shape (N, M)
        - cache: Tuple of:
          - x: Input data, of shape (N, d_1, ... d_k)
          - w: Weights, of shape (D, M)
          - b: Biases, of shape (M,)
        Returns a tuple of:
        - dx: Gradient with respect to x, of shape
          (N, d1, ..., d_k)
        - dw: Gradient with respect to w, of shape (D, M)
        - db: Gradient with respect to b, of shape (M,)
        """
        x, w, b = cache
        dx, dw, db = None, None, None
        # BEGIN SOLUTION
        # PROMPT: Implement the linear backward pass.
        num_examples = x.shape[0]
        x_rows = x.reshape(num_examples, -1)
        # out = x_rows @ w + b, so d out / d x_rows multiplies by w^T: (N, M) @ (M, D) -> (N, D) ...
        dx_rows = dout.mm(w.t())
        # ... and the gradient of x has x's shape, (N, d_1, ..., d_k), not the flattened one.
        dx = dx_rows.reshape(x.shape)
        # Each weight w[d, m] meets every example once: sum over the batch, (D, N) @ (N, M).
        dw = x_rows.t().mm(dout)
        # The bias is added to every row, so its gradient sums dout over the rows.
        db = dout.sum(dim=0)
        # END SOLUTION
        return dx, dw, db


class ReLU(object):

    @staticmethod
    def forward(x):
        """
        Computes the forward pass for a layer of rectified
        linear units (ReLUs).
        Input:
        - x: Input; a tensor of any shape
        Returns a tuple of:
        - out: Output, a tensor of the same shape as x
        - cache: x
        """
        out = None
        # BEGIN SOLUTION
        # PROMPT: Implement the ReLU forward pass.
        # PROMPT: You should not change the input tensor with an in-place operation.
        # clamp returns a new tensor: x itself is left untouched for the backward pass.
        out = x.clamp(min=0)
        # END SOLUTION
        cache = x
        return out, cache

    @staticmethod
    def backward(dout, cache):
        """
        Computes the backward pass for a layer of rectified
        linear units (ReLUs).
        Input:
        - dout: Upstream derivatives, of any shape
        - cache: Input x, of same shape as dout
        Returns:
        - dx: Gradient with respect to x
        """
        dx, x = None, cache
        # BEGIN SOLUTION
        # PROMPT: Implement the ReLU backward pass.
        # PROMPT: You should not change the input tensor with an in-place operation.
        # max(0, x) has slope 1 where x > 0 and slope 0 where x < 0: the gradient flows
        # through the positive inputs only. (Multiplying by a bool tensor keeps dout's dtype.)
        passes = x > 0
        dx = dout * passes
        # END SOLUTION
        return dx


class Linear_ReLU(object):

    @staticmethod
    def forward(x, w, b):
        """
        Convenience layer that performs an linear transform
        followed by a ReLU.

        Inputs:
        - x: Input to the linear layer
        - w, b: Weights for the linear layer
        Returns a tuple of:
        - out: Output from the ReLU
        - cache: Object to give to the backward pass
        """
        a, fc_cache = Linear.forward(x, w, b)
        out, relu_cache = ReLU.forward(a)
        cache = (fc_cache, relu_cache)
        return out, cache

    @staticmethod
    def backward(dout, cache):
        """
        Backward pass for the linear-relu convenience layer
        """
        fc_cache, relu_cache = cache
        da = ReLU.backward(dout, relu_cache)
        dx, dw, db = Linear.backward(da, fc_cache)
        return dx, dw, db


class TwoLayerNet(object):
    """
    A two-layer fully-connected neural network with ReLU nonlinearity and
    softmax loss that uses a modular layer design. We assume an input dimension
    of D, a hidden dimension of H, and perform classification over C classes.
    The architecure should be linear - relu - linear - softmax.
    Note that this class does not implement gradient descent; instead, it
    will interact with a separate Solver object that is responsible for running
    optimization.

    The learnable parameters of the model are stored in the dictionary
    self.params that maps parameter names to PyTorch tensors.
    """

    def __init__(self, input_dim=3*32*32, hidden_dim=100, num_classes=10,
                 weight_scale=1e-3, reg=0.0,
                 dtype=torch.float32, device='cpu'):
        """
        Initialize a new network.
        Inputs:
        - input_dim: An integer giving the size of the input
        - hidden_dim: An integer giving the size of the hidden layer
        - num_classes: An integer giving the number of classes to classify
        - weight_scale: Scalar giving the standard deviation for random
          initialization of the weights.
        - reg: Scalar giving L2 regularization strength.
        - dtype: A torch data type object; all computations will be
          performed using this datatype. float is faster but less accurate,
          so you should use double for numeric gradient checking.
        - device: device to use for computation. 'cpu' or 'cuda'
        """
        self.params = {}
        self.reg = reg

        # BEGIN SOLUTION
        # PROMPT: Initialize the weights and biases of the two-layer net.
        # PROMPT: Weights should be initialized from a Gaussian centered at 0.0 with
        # PROMPT: standard deviation equal to weight_scale, and biases should be
        # PROMPT: initialized to zero. All weights and biases should be stored in the
        # PROMPT: dictionary self.params, with first layer weights and biases using the
        # PROMPT: keys 'W1' and 'b1' and second layer weights and biases using the keys
        # PROMPT: 'W2' and 'b2'.
        # randn draws from N(0, 1); multiplying by weight_scale makes the standard
        # deviation weight_scale. Creating the tensors with dtype and device avoids .to().
        self.params['W1'] = weight_scale * torch.randn(input_dim, hidden_dim, dtype=dtype, device=device)
        self.params['b1'] = torch.zeros(hidden_dim, dtype=dtype, device=device)
        self.params['W2'] = weight_scale * torch.randn(hidden_dim, num_classes, dtype=dtype, device=device)
        self.params['b2'] = torch.zeros(num_classes, dtype=dtype, device=device)
        # END SOLUTION

    def save(self, path):
        checkpoint = {
          'reg': self.reg,
          'params': self.params,
        }

        torch.save(checkpoint, path)
        print("Saved in {}".format(path))

    def load(self, path, dtype, device):
        checkpoint = torch.load(path, map_location='cpu')
        self.params = checkpoint['params']
        self.reg = checkpoint['reg']
        for p in self.params:
            self.params[p] = self.params[p].type(dtype).to(device)
        print("load checkpoint file: {}".format(path))

    def loss(self, X, y=None):
        """
        Compute loss and gradient for a minibatch of data.

        Inputs:
        - X: Tensor of input data of shape (N, d_1, ..., d_k)
        - y: int64 Tensor of labels, of shape (N,). y[i] gives the
          label for X[i].

        Returns:
        If y is None, then run a test-time forward pass of the model
        and return:
        - scores: Tensor of shape (N, C) giving classification scores,
          where scores[i, c] is the classification score for X[i]
          and class c.
        If y is not None, then run a training-time forward and backward
        pass and return a tuple of:
        - loss: Scalar value giving the loss
        - grads: Dictionary with the same keys as self.params, mapping
          parameter names to gradients of the loss with respect to
          those parameters.
        """
        scores = None
        # BEGIN SOLUTION
        # PROMPT: Implement the forward pass for the two-layer net, computing the
        # PROMPT: class scores for X and storing them in the scores variable.
        W1, b1 = self.params['W1'], self.params['b1']
        W2, b2 = self.params['W2'], self.params['b2']
        # The layers above do the work; keep their caches for the backward pass.
        hidden, hidden_cache = Linear_ReLU.forward(X, W1, b1)
        scores, scores_cache = Linear.forward(hidden, W2, b2)
        # END SOLUTION

        # If y is None then we are in test mode so just return scores
        if y is None:
            return scores

        loss, grads = 0, {}
        # BEGIN SOLUTION
        # PROMPT: Implement the backward pass for the two-layer net. Store the loss
        # PROMPT: in the loss variable and gradients in the grads dictionary. Compute data
        # PROMPT: loss using softmax, and make sure that grads[k] holds the gradients for
        # PROMPT: self.params[k]. Don't forget to add L2 regularization!
        # PROMPT:
        # PROMPT: NOTE: To ensure that your implementation matches ours and you pass the
        # PROMPT: automated tests, make sure that your L2 regularization does not include
        # PROMPT: a factor of 0.5.
        # softmax_loss returns the mean cross-entropy over the N examples and its
        # gradient with respect to the scores (already divided by N).
        loss, dscores = softmax_loss(scores, y)
        # L2 on the weights, without 1/2 (this class only): reg * sum(W * W).
        loss = loss + self.reg * (torch.sum(W1 * W1) + torch.sum(W2 * W2))
        # Backward through the layers in reverse order.
        dhidden, dW2, db2 = Linear.backward(dscores, scores_cache)
        dX, dW1, db1 = Linear_ReLU.backward(dhidden, hidden_cache)
        # d/dW of reg * sum(W * W) is 2 * reg * W. Biases are not regularized.
        grads['W1'] = dW1 + 2 * self.reg * W1
        grads['b1'] = db1
        grads['W2'] = dW2 + 2 * self.reg * W2
        grads['b2'] = db2
        # END SOLUTION

        return loss, grads


class FullyConnectedNet(object):
    """
    A fully-connected neural network with an arbitrary number of hidden layers,
    ReLU nonlinearities, and a softmax loss function.
    For a network with L layers, the architecture will be:

    {linear - relu - [dropout]} x (L - 1) - linear - softmax

    where dropout is optional, and the {...} block is repeated L - 1 times.

    Similar to the TwoLayerNet above, learnable parameters are stored in the
    self.params dictionary and will be learned using the Solver class.
    """

    def __init__(self, hidden_dims, input_dim=3*32*32, num_classes=10,
                 dropout=0.0, reg=0.0, weight_scale=1e-2, seed=None,
                 dtype=torch.float, device='cpu'):
        """
        Initialize a new FullyConnectedNet.

        Inputs:
        - hidden_dims: A list of integers giving the size of each
          hidden layer.
        - input_dim: An integer giving the size of the input.
        - num_classes: An integer giving the number of classes to classify.
        - dropout: Scalar between 0 and 1 giving the drop probability
          for networks with dropout. If dropout=0 then the network
          should not use dropout.
        - reg: Scalar giving L2 regularization strength.
        - weight_scale: Scalar giving the standard deviation for random
          initialization of the weights.
        - seed: If not None, then pass this random seed to the dropout
          layers. This will make the dropout layers deteriminstic so we
          can gradient check the model.
        - dtype: A torch data type object; all computations will be
          performed using this datatype. float is faster but less accurate,
          so you should use double for numeric gradient checking.
        - device: device to use for computation. 'cpu' or 'cuda'
        """
        self.use_dropout = dropout != 0
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}

        # BEGIN SOLUTION
        # PROMPT: Initialize the parameters of the network, storing all values in
        # PROMPT: the self.params dictionary. Store weights and biases for the first layer
        # PROMPT: in W1 and b1; for the second layer use W2 and b2, etc. Weights should be
        # PROMPT: initialized from a normal distribution centered at 0 with standard
        # PROMPT: deviation equal to weight_scale. Biases should be initialized to zero.
        # Layer i (1-based) maps sizes[i - 1] features to sizes[i]: the input, then each
        # hidden layer, then the class scores. There are len(hidden_dims) + 1 layers.
        sizes = [input_dim] + list(hidden_dims) + [num_classes]
        for i in range(1, self.num_layers + 1):
            fan_in, fan_out = sizes[i - 1], sizes[i]
            self.params[f'W{i}'] = weight_scale * torch.randn(fan_in, fan_out, dtype=dtype, device=device)
            self.params[f'b{i}'] = torch.zeros(fan_out, dtype=dtype, device=device)
        # END SOLUTION

        # When using dropout we need to pass a dropout_param dictionary
        # to each dropout layer so that the layer knows the dropout
        # probability and the mode (train / test). You can pass the same
        # dropout_param to each dropout layer.
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {'mode': 'train', 'p': dropout}
            if seed is not None:
                self.dropout_param['seed'] = seed

    def save(self, path):
        checkpoint = {
          'reg': self.reg,
          'dtype': self.dtype,
          'params': self.params,
          'num_layers': self.num_layers,
          'use_dropout': self.use_dropout,
          'dropout_param': self.dropout_param,
        }

        torch.save(checkpoint, path)
        print("Saved in {}".format(path))

    def load(self, path, dtype, device):
        checkpoint = torch.load(path, map_location='cpu')
        self.params = checkpoint['params']
        self.dtype = dtype
        self.reg = checkpoint['reg']
        self.num_layers = checkpoint['num_layers']
        self.use_dropout = checkpoint['use_dropout']
        self.dropout_param = checkpoint['dropout_param']

        for p in self.params:
            self.params[p] = self.params[p].type(dtype).to(device)

        print("load checkpoint file: {}".format(path))

    def loss(self, X, y=None):
        """
        Compute loss and gradient for the fully-connected net.
        Input / output: Same as TwoLayerNet above.
        """
        X = X.to(self.dtype)
        mode = 'test' if y is None else 'train'

        # Set train/test mode for batchnorm params and dropout param
        # since they behave differently during training and testing.
        if self.use_dropout:
            self.dropout_param['mode'] = mode
        scores = None
        # BEGIN SOLUTION
        # PROMPT: Implement the forward pass for the fully-connected net, computing
        # PROMPT: the class scores for X and storing them in the scores variable.
        # PROMPT:
        # PROMPT: When using dropout, you'll need to pass self.dropout_param to each
        # PROMPT: dropout forward pass.
        last = self.num_layers
        layer_caches = {}      # layer number -> cache of its Linear(_ReLU) forward
        dropout_caches = {}    # layer number -> cache of the dropout after it
        hidden = X
        # The L - 1 hidden layers: linear - relu - [dropout].
        for i in range(1, last):
            hidden, layer_caches[i] = Linear_ReLU.forward(hidden, self.params[f'W{i}'], self.params[f'b{i}'])
            if self.use_dropout:
                hidden, dropout_caches[i] = Dropout.forward(hidden, self.dropout_param)
        # The last layer is linear only: the scores go to softmax as they are.
        scores, layer_caches[last] = Linear.forward(hidden, self.params[f'W{last}'], self.params[f'b{last}'])
        # END SOLUTION

        # If test mode return early
        if mode == 'test':
            return scores

        loss, grads = 0.0, {}
        # BEGIN SOLUTION
        # PROMPT: Implement the backward pass for the fully-connected net. Store the
        # PROMPT: loss in the loss variable and gradients in the grads dictionary. Compute
        # PROMPT: data loss using softmax, and make sure that grads[k] holds the gradients
        # PROMPT: for self.params[k]. Don't forget to add L2 regularization!
        # PROMPT: NOTE: To ensure that your implementation matches ours and you pass the
        # PROMPT: automated tests, make sure that your L2 regularization includes a factor
        # PROMPT: of 0.5 to simplify the expression for the gradient.
        loss, dscores = softmax_loss(scores, y)
        dout = dscores
        # Walk the layers backwards, from the scores to the input.
        for i in range(last, 0, -1):
            W = self.params[f'W{i}']
            if i == last:
                dout, dW, db = Linear.backward(dout, layer_caches[i])
            else:
                # Undo this layer's dropout first: it came after its ReLU in the forward pass.
                if self.use_dropout:
                    dout = Dropout.backward(dout, dropout_caches[i])
                dout, dW, db = Linear_ReLU.backward(dout, layer_caches[i])
            # L2 with the 1/2 (this class only): 0.5 * reg * sum(W * W), whose gradient is reg * W.
            loss = loss + 0.5 * self.reg * torch.sum(W * W)
            grads[f'W{i}'] = dW + self.reg * W
            grads[f'b{i}'] = db
        # END SOLUTION

        return loss, grads


def create_solver_instance(data_dict, dtype, device):
    model = TwoLayerNet(hidden_dim=200, dtype=dtype, device=device)
    solver = None
    # BEGIN SOLUTION
    # PROMPT: Use a Solver instance to train a TwoLayerNet that achieves at least
    # PROMPT: 50% accuracy on the validation set.
    solver = Solver(model, data_dict, device=device,
                    update_rule=sgd, optim_config={'learning_rate': 1e-1}, lr_decay=0.95,
                    num_epochs=20, batch_size=100, print_every=100)
    # END SOLUTION
    return solver


def get_three_layer_network_params():
    weight_scale = 1e-2   # Experiment with this!
    learning_rate = 1e-4  # Experiment with this!
    # BEGIN SOLUTION
    # PROMPT: Change weight_scale and learning_rate so your model achieves 100%
    # PROMPT: training accuracy within 20 epochs.
    weight_scale = 1e-1
    learning_rate = 1e-1
    # END SOLUTION
    return weight_scale, learning_rate


def get_five_layer_network_params():
    learning_rate = 2e-3  # Experiment with this!
    weight_scale = 1e-5   # Experiment with this!
    # BEGIN SOLUTION
    # PROMPT: Change weight_scale and learning_rate so your model achieves 100%
    # PROMPT: training accuracy within 20 epochs.
    learning_rate = 2e-1
    weight_scale = 1e-1
    # END SOLUTION
    return weight_scale, learning_rate


def sgd(w, dw, config=None):
    """
    Performs vanilla stochastic gradient descent.
    config format:
    - learning_rate: Scalar learning rate.
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)

    w -= config['learning_rate'] * dw
    return w, config


def sgd_momentum(w, dw, config=None):
    """
    Performs stochastic gradient descent with momentum.
    config format:
    - learning_rate: Scalar learning rate.
    - momentum: Scalar between 0 and 1 giving the momentum value.
      Setting momentum = 0 reduces to sgd.
    - velocity: A numpy array of the same shape as w and dw used to
      store a moving average of the gradients.
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('momentum', 0.9)
    v = config.get('velocity', torch.zeros_like(w))

    next_w = None
    # BEGIN SOLUTION
    # PROMPT: Implement the momentum update formula. Store the updated value in
    # PROMPT: the next_w variable. You should also use and update the velocity v.
    # The velocity keeps a decaying sum of past steps (-learning_rate * dw): it already
    # carries the learning rate and the minus sign, and the position just adds it.
    v = config['momentum'] * v - config['learning_rate'] * dw
    next_w = w + v
    # END SOLUTION
    config['velocity'] = v

    return next_w, config


def rmsprop(w, dw, config=None):
    """
    Uses the RMSProp update rule, which uses a moving average of squared
    gradient values to set adaptive per-parameter learning rates.
    config format:
    - learning_rate: Scalar learning rate.
    - decay_rate: Scalar between 0 and 1 giving the decay rate for the squared
      gradient cache.
    - epsilon: Small scalar used for smoothing to avoid dividing by zero.
    - cache: Moving average of second moments of gradients.
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('decay_rate', 0.99)
    config.setdefault('epsilon', 1e-8)
    config.setdefault('cache', torch.zeros_like(w))

    next_w = None
    # BEGIN SOLUTION
    # PROMPT: Implement the RMSprop update formula, storing the next value of w
    # PROMPT: in the next_w variable. Don't forget to update cache value stored in
    # PROMPT: config['cache'].
    decay_rate = config['decay_rate']
    # A running average of the squared gradient, per parameter.
    config['cache'] = decay_rate * config['cache'] + (1 - decay_rate) * dw * dw
    # Divide each step by the root of that average: parameters with large gradients take
    # smaller steps. epsilon, added after the square root, keeps the division finite.
    next_w = w - config['learning_rate'] * dw / (torch.sqrt(config['cache']) + config['epsilon'])
    # END SOLUTION

    return next_w, config


def adam(w, dw, config=None):
    """
    Uses the Adam update rule, which incorporates moving averages of both the
    gradient and its square and a bias correction term.
    config format:
    - learning_rate: Scalar learning rate.
    - beta1: Decay rate for moving average of first moment of gradient.
    - beta2: Decay rate for moving average of second moment of gradient.
    - epsilon: Small scalar used for smoothing to avoid dividing by zero.
    - m: Moving average of gradient.
    - v: Moving average of squared gradient.
    - t: Iteration number.
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-3)
    config.setdefault('beta1', 0.9)
    config.setdefault('beta2', 0.999)
    config.setdefault('epsilon', 1e-8)
    config.setdefault('m', torch.zeros_like(w))
    config.setdefault('v', torch.zeros_like(w))
    config.setdefault('t', 0)

    next_w = None
    # BEGIN SOLUTION
    # PROMPT: Implement the Adam update formula, storing the next value of w in
    # PROMPT: the next_w variable. Don't forget to update the m, v, and t variables
    # PROMPT: stored in config.
    # PROMPT:
    # PROMPT: NOTE: In order to match the reference output, please modify t _before_
    # PROMPT: using it in any calculations.
    beta1, beta2 = config['beta1'], config['beta2']
    # This is step number t (1 on the first call): increment before using it.
    config['t'] += 1
    t = config['t']
    # Moving averages of the gradient (momentum) and of its square (RMSProp).
    config['m'] = beta1 * config['m'] + (1 - beta1) * dw
    config['v'] = beta2 * config['v'] + (1 - beta2) * (dw * dw)
    # Both averages start at zero, so early on they are biased towards zero; dividing by
    # 1 - beta ** t removes that bias (the factor tends to 1 as t grows).
    m_hat = config['m'] / (1 - beta1 ** t)
    v_hat = config['v'] / (1 - beta2 ** t)
    next_w = w - config['learning_rate'] * m_hat / (torch.sqrt(v_hat) + config['epsilon'])
    # END SOLUTION

    return next_w, config


class Dropout(object):

    @staticmethod
    def forward(x, dropout_param):
        """
        Performs the forward pass for (inverted) dropout.
        Inputs:
        - x: Input data: tensor of any shape
        - dropout_param: A dictionary with the following keys:
          - p: Dropout parameter. We *drop* each neuron output with
            probability p.
          - mode: 'test' or 'train'. If the mode is train, then
            perform dropout;
          if the mode is test, then just return the input.
          - seed: Seed for the random number generator. Passing seed
            makes this
            function deterministic, which is needed for gradient checking
            but not in real networks.
        Outputs:
        - out: Tensor of the same shape as x.
        - cache: tuple (dropout_param, mask). In training mode, mask
          is the dropout mask that was used to multiply the input; in
          test mode, mask is None.
        NOTE: Please implement **inverted** dropout, not the vanilla
              version of dropout.
        See http://cs231n.github.io/neural-networks-2/#reg for more details.
        NOTE 2: Keep in mind that p is the probability of **dropping**
                a neuron output; this might be contrary to some sources,
                where it is referred to as the probability of keeping a
                neuron output.
        """
        p, mode = dropout_param['p'], dropout_param['mode']
        if 'seed' in dropout_param:
            torch.manual_seed(dropout_param['seed'])

        mask = None
        out = None

        if mode == 'train':
            # BEGIN SOLUTION
            # PROMPT: Implement training phase forward pass for inverted dropout.
            # PROMPT: Store the dropout mask in the mask variable.
            # A uniform number in [0, 1) is below p with probability p: those units are
            # dropped, the others (probability 1 - p) are kept.
            keep = torch.rand_like(x) > p
            # Inverted dropout scales the kept units by 1 / (1 - p) now, so that each unit's
            # expected value is unchanged and test time needs no scaling at all.
            mask = torch.zeros_like(x)
            mask[keep] = 1 / (1 - p)
            out = x * mask
            # END SOLUTION
        elif mode == 'test':
            # BEGIN SOLUTION
            # PROMPT: Implement the test phase forward pass for inverted dropout.
            # The scaling already happened at training time: test time is the identity.
            out = x
            # END SOLUTION

        cache = (dropout_param, mask)

        return out, cache

    @staticmethod
    def backward(dout, cache):
        """
        Perform the backward pass for (inverted) dropout.
        Inputs:
        - dout: Upstream derivatives, of any shape
        - cache: (dropout_param, mask) from Dropout.forward.
        """
        dropout_param, mask = cache
        mode = dropout_param['mode']

        dx = None
        if mode == 'train':
            # BEGIN SOLUTION
            # PROMPT: Implement training phase backward pass for inverted dropout
            # out = x * mask elementwise, so the gradient is dout times that same mask: zero for
            # dropped units, dout / (1 - p) for kept ones. It must be the mask the forward pass drew.
            dx = dout * mask
            # END SOLUTION
        elif mode == 'test':
            dx = dout
        return dx

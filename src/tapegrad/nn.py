"""TensorFlow's ``tf.nn`` spellings: activations and the stable cross-entropies.

Example:
    >>> import tapegrad as tg
    >>> tg.nn.relu(tg.constant([-1.0, 2.0])).numpy().tolist()
    [0.0, 2.0]
"""

from .ops import (elu, gelu, leaky_relu, log_softmax, relu, selu, sigmoid, sigmoid_cross_entropy_with_logits,
                  softmax, softmax_cross_entropy_with_logits, softplus, softsign,
                  sparse_softmax_cross_entropy_with_logits, swish, tanh)

silu = swish

__all__ = ["elu", "gelu", "leaky_relu", "log_softmax", "relu", "selu", "sigmoid",
           "sigmoid_cross_entropy_with_logits", "silu", "softmax", "softmax_cross_entropy_with_logits",
           "softplus", "softsign", "sparse_softmax_cross_entropy_with_logits", "swish", "tanh"]

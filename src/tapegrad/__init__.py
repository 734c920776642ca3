"""tapegrad: a small deep-learning framework on NumPy, from the first lecture up.

Keras 3's API (``tg.layers``, ``tg.Sequential``, ``tg.Model``, ``compile``/``fit``), TensorFlow's
``GradientTape`` and PyTorch's ``Tensor.backward()``; code written for ``tf.keras`` runs with
``tf`` replaced by ``tg`` (``tg.keras`` holds the same names).

Where to start:
    - the lab as a notebook: ``examples/notebooks/lab1_intro.ipynb`` (tensors to a trained
      network, with live progress and the lecture's pictures);
    - the README's tour (the lecture's ideas, where each lives in the code, and the examples
      ``examples/01_tensors.py`` to ``09_mnist_cnn.py``); ``tapegrad demo`` in a terminal;
    - the API reference: ``pip install -e ".[docs]" && mkdocs serve`` in the repository, or
      ``help()`` on any name: ``help(tg.layers.Dense)``, ``help(tg.GradientTape)``.

Example:
    >>> import tapegrad as tg
    >>> x = tg.constant(3.0)
    >>> with tg.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = x * x
    >>> float(tape.gradient(y, x))
    6.0
"""

from __future__ import annotations

import numpy as _np

from . import (activations, backend, callbacks, config, data, distribute, export, initializers, keras, layers, losses, math, metrics,
               models, nn, optimizers, random, regularizers, saving, utils)
from .autodiff.engine import unbroadcast
from .autodiff.function import Function
from .autodiff.grad_mode import enable_grad, is_grad_enabled, no_grad
from .autodiff.gradcheck import GradcheckError, gradcheck
from .autodiff.tape import GradientTape
from .autodiff.tensor import STRING as _STRING
from .autodiff.tensor import Tensor, Variable
from .ops import (abs, add, arange, argmax, argmin, broadcast_to, cast, clip, concat, constant, convert_to_tensor,
                  divide, elu, exp, expand_dims, expm1, eye, fill, flatten, from_dlpack, full, gelu, leaky_relu, linspace, log,
                  log1p, log_softmax, logsumexp, matmul, max, maximum, mean, min, minimum, multiply, negative,
                  one_hot, ones, ones_like, pad, power, prod, rank, reduce_all, reduce_any, relu, reshape, selu,
                  sigmoid, sign, softmax, softplus, softsign, split, sqrt, square, squeeze, stack, std,
                  stop_gradient, subtract, sum, swish, tanh, tile, transpose, var, where, zeros, zeros_like)
from .ops import shape_of as shape
from .layers import Input
from .layers.symbolic import KerasTensor
from .models import Model, Sequential
from .fast.function import function

__version__ = "0.1.0"

float16 = _np.dtype("float16")
float32 = _np.dtype("float32")
float64 = _np.dtype("float64")
int32 = _np.dtype("int32")
int64 = _np.dtype("int64")
uint8 = _np.dtype("uint8")
bool = _np.dtype("bool")  # noqa: A001 - TensorFlow's name
string = _STRING  # text: NumPy's variable-width UTF-8 strings (tf.string holds bytes)

reduce_sum = sum
reduce_mean = mean
reduce_max = max
reduce_min = min
reduce_prod = prod
clip_by_value = clip
silu = swish

def __getattr__(name: str):
    # Modules with heavier dependencies load on first use: nothing runs or prints on import.
    if name in ("viz", "datasets", "wrappers"):
        import importlib

        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'tapegrad' has no attribute {name!r}")


__all__ = [
    "Input", "KerasTensor", "Model", "Sequential", "activations", "callbacks", "config", "data", "datasets", "distribute", "export",
    "initializers", "keras", "layers", "losses", "metrics", "models", "optimizers", "regularizers", "saving", "utils", "viz",
    "wrappers",
    "Function", "function", "GradcheckError", "GradientTape", "Tensor", "Variable", "abs", "add", "arange", "argmax",
    "argmin", "backend", "bool", "broadcast_to", "cast", "clip", "clip_by_value", "concat", "constant",
    "convert_to_tensor", "divide", "elu", "enable_grad", "exp", "expand_dims", "expm1", "eye", "fill", "flatten",
    "float16", "from_dlpack", "float32", "float64", "full", "gelu", "gradcheck", "int32", "int64", "is_grad_enabled",
    "leaky_relu", "linspace", "log", "log1p", "log_softmax", "logsumexp", "math", "matmul", "max", "maximum",
    "mean", "min", "minimum", "multiply", "negative", "nn", "no_grad", "one_hot", "ones", "ones_like", "pad",
    "power", "prod", "random", "rank", "reduce_all", "reduce_any", "reduce_max", "reduce_mean", "reduce_min",
    "reduce_prod", "reduce_sum", "relu", "reshape", "selu", "shape", "sigmoid", "sign", "silu", "softmax",
    "softplus", "softsign", "split", "sqrt", "square", "squeeze", "stack", "std", "stop_gradient", "string", "subtract",
    "sum", "swish", "tanh", "tile", "transpose", "uint8", "unbroadcast", "var", "where", "zeros", "zeros_like",
]

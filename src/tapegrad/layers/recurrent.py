"""Recurrent layers with Keras 3's formulas, weight layout and options.

``SimpleRNN``, ``LSTM`` and ``GRU`` are an ``RNN`` around their cell (``SimpleRNNCell``,
``LSTMCell``, ``GRUCell``). With a built-in activation (``tanh``, ``sigmoid``, ``relu``,
``linear``, ``hard_sigmoid``) a call runs as one autodiff node over all time steps
(``tapegrad.ops.recurrent``: backpropagation through time with the inputs of all steps
projected by one matrix product); a custom cell, or a built-in one with another
activation, runs step by step through ordinary ops. Both give the same numbers.

Masks (from ``Embedding(mask_zero=True)`` or ``Masking``): a masked step keeps the
previous state; its output is the previous step's output (zeros before the first step,
as TensorFlow's Keras), or zeros with ``zero_output_for_mask=True`` (what
``Bidirectional`` sets for sequences).

Where tapegrad differs from Keras 3: ``unroll`` is accepted and changes nothing (the
loop is the same either way); a stateful layer called with a batch size other than
that of its held states starts from zero states rather than raising (so that
``model.build``'s pass with a batch of one does not break a model built for batch 8);
``RNN`` takes one cell (no list of cells: stack layers with ``return_sequences=True``).
"""

from __future__ import annotations

import numpy as np

from .. import activations as _act
from .. import initializers as _init
from .. import ops
from .. import random as _random
from .. import regularizers as _reg
from ..autodiff.tensor import Tensor
from ..ops.recurrent import recurrence
from .base import Layer, set_mask

_FUSED_NAMES = {ops.tanh: "tanh", ops.sigmoid: "sigmoid", ops.relu: "relu", _act.linear: "linear",
                ops.hard_sigmoid: "hard_sigmoid"}


def _positive_int(owner: str, arg: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{owner}: {arg} must be a positive integer, received {value!r}")
    return int(value)


def _rate(owner: str, arg: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0 <= value < 1:
        raise ValueError(f"{owner}: {arg} must be a number in [0, 1), received {value!r}")
    return float(value)


class _RecurrentCell(Layer):
    """What the three built-in cells share: options, weights, and Keras's dropout masks
    (drawn once per layer call, fixed across its time steps)."""

    _kind = ""
    _gates = 1

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.units = _positive_int(owner, "units", units)
        self.activation = _act.get(activation)
        self.recurrent_activation = _act.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _init.get(kernel_initializer)
        self.recurrent_initializer = _init.get(recurrent_initializer)
        self.bias_initializer = _init.get(bias_initializer)
        self.kernel_regularizer = _reg.get(kernel_regularizer)
        self.recurrent_regularizer = _reg.get(recurrent_regularizer)
        self.bias_regularizer = _reg.get(bias_regularizer)
        self.dropout = _rate(owner, "dropout", dropout)
        self.recurrent_dropout = _rate(owner, "recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self._rng = _random.generator(seed) if seed is not None else None
        self._dropout_mask = self._recurrent_dropout_mask = None
        self.kernel = self.recurrent_kernel = self.bias = None
        self.state_size = self.units
        self.output_size = self.units

    @property
    def _mask_count(self) -> int:
        """Keras draws one mask per gate when there is recurrent dropout, else one shared mask."""
        return self._gates if self.recurrent_dropout > 0 else 1

    def _draw(self, shape, rate: float, dtype) -> Tensor:
        gen = self._rng if self._rng is not None else _random.generator()
        keep = gen.random((self._mask_count,) + tuple(shape)) >= rate
        return Tensor(keep.astype(dtype) / np.asarray(1.0 - rate, dtype=dtype))

    def get_dropout_mask(self, step_input) -> Tensor | None:
        """The dropout mask of the inputs, shape (masks, batch, features); one draw per layer call."""
        if self._dropout_mask is None and self.dropout > 0:
            self._dropout_mask = self._draw(step_input.shape, self.dropout, step_input.dtype)
        return self._dropout_mask

    def get_recurrent_dropout_mask(self, state) -> Tensor | None:
        """The dropout mask of the recurrent state, shape (masks, batch, units)."""
        if self._recurrent_dropout_mask is None and self.recurrent_dropout > 0:
            self._recurrent_dropout_mask = self._draw(state.shape, self.recurrent_dropout, state.dtype)
        return self._recurrent_dropout_mask

    def reset_dropout_mask(self) -> None:
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self) -> None:
        self._recurrent_dropout_mask = None

    def _weights_for(self, input_dim: int, bias_shape, bias_initializer) -> None:
        n = self.units * self._gates
        self.kernel = self.add_weight(shape=(input_dim, n), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, n), initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer, name="recurrent_kernel")
        if self.use_bias:
            self.bias = self.add_weight(shape=bias_shape, initializer=bias_initializer,
                                        regularizer=self.bias_regularizer, name="bias")

    def _check_step_input(self, shape) -> int:
        if len(shape) != 2 or shape[-1] is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': expected a step input of shape "
                             f"(batch, features), received {tuple(shape)}")
        return int(shape[-1])

    def _products(self, x, w, masks, first: int, last: int):
        """``x @ w[:, gates first..last-1]`` with the dropout mask of each gate (ops, step by step)."""
        U = self.units
        cols = w if (first == 0 and last == self._gates) else w[:, first * U:last * U]
        if masks is None:
            return ops.matmul(x, cols)
        if masks.shape[0] == 1:
            return ops.matmul(x * masks[0], cols)
        return ops.concat([ops.matmul(x * masks[g], w[:, g * U:(g + 1) * U]) for g in range(first, last)], axis=-1)

    def _step_masks(self, inputs, h, training):
        dm = self.get_dropout_mask(inputs) if training and self.dropout > 0 else None
        rdm = self.get_recurrent_dropout_mask(h) if training and self.recurrent_dropout > 0 else None
        return dm, rdm

    def get_initial_state(self, batch_size: int) -> list[Tensor]:
        """Zero states, one of shape (batch_size, units) per state."""
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [self.state_size]
        return [ops.zeros((batch_size, s), dtype=self.dtype) for s in sizes]

    def compute_output_shape(self, input_shape):
        """The shape of one step's output, ``(batch, units)`` (the states have the same shape)."""
        return (tuple(input_shape)[0], self.units)

    def _fusable(self) -> bool:
        return self.activation in _FUSED_NAMES and self.recurrent_activation in _FUSED_NAMES

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "activation": _act.serialize(self.activation),
                "recurrent_activation": _act.serialize(self.recurrent_activation), "use_bias": self.use_bias,
                "kernel_initializer": _init.serialize(self.kernel_initializer),
                "recurrent_initializer": _init.serialize(self.recurrent_initializer),
                "bias_initializer": _init.serialize(self.bias_initializer),
                "kernel_regularizer": _reg.serialize(self.kernel_regularizer),
                "recurrent_regularizer": _reg.serialize(self.recurrent_regularizer),
                "bias_regularizer": _reg.serialize(self.bias_regularizer),
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed}


class SimpleRNNCell(_RecurrentCell):
    """One step of a fully connected recurrent layer: ``h = activation(x K + b + h_prev R)``.

    Args:
        units: the size of the state (and output), a positive int.
        activation: applied to the new state (default ``"tanh"``).
        use_bias: whether the layer has a bias (default True).
        kernel_initializer: initializer of the input kernel ``K`` (default ``"glorot_uniform"``).
        recurrent_initializer: initializer of the recurrent kernel ``R`` (default ``"orthogonal"``).
        bias_initializer: initializer of the bias (default ``"zeros"``).
        kernel_regularizer: regularizer applied to ``K`` (default None); its penalty joins ``losses``.
        recurrent_regularizer: regularizer applied to ``R`` (default None).
        bias_regularizer: regularizer applied to the bias (default None).
        dropout: fraction of the inputs to drop while training (default 0.0); the masks are
            fixed across the steps of a call, as Keras.
        recurrent_dropout: fraction of the state to drop while training (default 0.0).
        seed: seed of the dropout masks (default None).
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``).

    Call it as ``cell(x_t, [h_prev], training=None)``; it returns ``(h, [h])``.

    Example:
        >>> import tapegrad as tg
        >>> cell = tg.layers.SimpleRNNCell(4)
        >>> h, states = cell(tg.ones((2, 3)), [tg.zeros((2, 4))])
        >>> h.shape, len(states)
        ((2, 4), 1)
    """

    _kind = "simple"
    _gates = 1

    def __init__(self, units: int, activation="tanh", use_bias: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: int | None = None, **kwargs) -> None:
        super().__init__(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer, dropout=dropout, recurrent_dropout=recurrent_dropout,
                         seed=seed, **kwargs)

    @property
    def _mask_count(self) -> int:
        return 1

    def build(self, input_shape) -> None:
        self._weights_for(self._check_step_input(input_shape), (self.units,), self.bias_initializer)

    def call(self, inputs, states, training=None):
        h = states[0] if isinstance(states, (list, tuple)) else states
        dm, rdm = self._step_masks(inputs, h, training)
        z = self._products(inputs, self.kernel, dm, 0, 1)
        if self.use_bias:
            z = z + self.bias
        out = self.activation(z + self._products(h, self.recurrent_kernel, rdm, 0, 1))
        return out, [out]

    def get_config(self) -> dict:
        config = super().get_config()
        del config["recurrent_activation"]
        return config


class LSTMCell(_RecurrentCell):
    """One step of a long short-term memory layer (Keras 3's formulas, gates i, f, c, o).

    ``z = x K + h_prev R + b``; ``i, f, o = recurrent_activation(z_i, z_f, z_o)``;
    ``c = f * c_prev + i * activation(z_c)``; ``h = o * activation(c)``. The kernel is
    (features, 4 units), the recurrent kernel (units, 4 units), the bias (4 units,).

    Args:
        units: the size of the state and output, a positive int.
        activation: applied to the candidate cell and to the cell state (default ``"tanh"``).
        recurrent_activation: applied to the gates i, f, o (default ``"sigmoid"``).
        use_bias: whether the layer has a bias (default True).
        kernel_initializer: initializer of the input kernel ``K`` (default ``"glorot_uniform"``).
        recurrent_initializer: initializer of the recurrent kernel ``R`` (default ``"orthogonal"``).
        bias_initializer: initializer of the bias (default ``"zeros"``).
        kernel_regularizer: regularizer applied to ``K`` (default None); its penalty joins ``losses``.
        recurrent_regularizer: regularizer applied to ``R`` (default None).
        bias_regularizer: regularizer applied to the bias (default None).
        unit_forget_bias: add 1 to the forget gate's bias at initialization (default True, as Keras).
        dropout: fraction of the inputs to drop while training (default 0.0); the masks are
            fixed across the steps of a call, as Keras.
        recurrent_dropout: fraction of the state to drop while training (default 0.0).
        seed: seed of the dropout masks (default None).
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``).

    Call it as ``cell(x_t, [h_prev, c_prev], training=None)``; it returns ``(h, [h, c])``.

    Example:
        >>> import tapegrad as tg
        >>> cell = tg.layers.LSTMCell(4)
        >>> h, (h2, c) = cell(tg.ones((2, 3)), [tg.zeros((2, 4)), tg.zeros((2, 4))])
        >>> h.shape, c.shape, cell.bias.numpy()[4:8].tolist()
        ((2, 4), (2, 4), [1.0, 1.0, 1.0, 1.0])
    """

    _kind = "lstm"
    _gates = 4

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias: bool = True, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, **kwargs) -> None:
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer, dropout=dropout, recurrent_dropout=recurrent_dropout,
                         seed=seed, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]

    def build(self, input_shape) -> None:
        d = self._check_step_input(input_shape)
        U = self.units

        def forget_ones(shape, dtype=None):  # Keras: the bias initializer's values, ones for the forget gate
            parts = [self.bias_initializer((U,), dtype=dtype), np.ones((U,), dtype=dtype),
                     self.bias_initializer((2 * U,), dtype=dtype)]
            return np.concatenate([np.asarray(p) for p in parts])

        self._weights_for(d, (4 * U,), forget_ones if self.unit_forget_bias else self.bias_initializer)

    def call(self, inputs, states, training=None):
        h, c = states
        dm, rdm = self._step_masks(inputs, h, training)
        U = self.units
        z = self._products(inputs, self.kernel, dm, 0, 4) + self._products(h, self.recurrent_kernel, rdm, 0, 4)
        if self.use_bias:
            z = z + self.bias
        ract, act = self.recurrent_activation, self.activation
        i, f, o = ract(z[:, :U]), ract(z[:, U:2 * U]), ract(z[:, 3 * U:])
        c = f * c + i * act(z[:, 2 * U:3 * U])
        h = o * act(c)
        return h, [h, c]

    def get_config(self) -> dict:
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRUCell(_RecurrentCell):
    """One step of a gated recurrent unit (Keras 3's formulas, gates z, r, h).

    With ``reset_after=True`` (Keras's default, PyTorch's and cuDNN's formula) the bias
    has shape (2, 3 units), an input and a recurrent row:
    ``u = x K + b_in``, ``w = h_prev R + b_rec``, ``z = ract(u_z + w_z)``,
    ``r = ract(u_r + w_r)``, ``hh = act(u_h + r * w_h)``, ``h = z * h_prev + (1 - z) * hh``.
    With ``reset_after=False`` the bias is (3 units,) and ``hh = act(u_h + (r * h_prev) R_h)``.

    Args:
        units: the size of the state and output, a positive int.
        activation: applied to the candidate state ``hh`` (default ``"tanh"``).
        recurrent_activation: applied to the gates z and r (default ``"sigmoid"``).
        use_bias: whether the layer has a bias (default True).
        kernel_initializer: initializer of the input kernel ``K`` (default ``"glorot_uniform"``).
        recurrent_initializer: initializer of the recurrent kernel ``R`` (default ``"orthogonal"``).
        bias_initializer: initializer of the bias (default ``"zeros"``).
        kernel_regularizer: regularizer applied to ``K`` (default None); its penalty joins ``losses``.
        recurrent_regularizer: regularizer applied to ``R`` (default None).
        bias_regularizer: regularizer applied to the bias (default None).
        dropout: fraction of the inputs to drop while training (default 0.0); the masks are
            fixed across the steps of a call, as Keras.
        recurrent_dropout: fraction of the state to drop while training (default 0.0).
        seed: seed of the dropout masks (default None).
        reset_after: where the reset gate applies (default True; see above).
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``).

    Example:
        >>> import tapegrad as tg
        >>> cell = tg.layers.GRUCell(4)
        >>> h, states = cell(tg.ones((2, 3)), [tg.zeros((2, 4))])
        >>> h.shape, cell.bias.shape
        ((2, 4), (2, 12))
    """

    _kind = "gru"
    _gates = 3

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, reset_after: bool = True, seed: int | None = None,
                 **kwargs) -> None:
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer, dropout=dropout, recurrent_dropout=recurrent_dropout,
                         seed=seed, **kwargs)
        self.reset_after = bool(reset_after)

    def build(self, input_shape) -> None:
        shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
        self._weights_for(self._check_step_input(input_shape), shape, self.bias_initializer)

    def call(self, inputs, states, training=None):
        h = states[0] if isinstance(states, (list, tuple)) else states
        dm, rdm = self._step_masks(inputs, h, training)
        U = self.units
        ract, act = self.recurrent_activation, self.activation
        u = self._products(inputs, self.kernel, dm, 0, 3)
        if self.use_bias:
            u = u + (self.bias[0] if self.reset_after else self.bias)
        if self.reset_after:
            w = self._products(h, self.recurrent_kernel, rdm, 0, 3)
            if self.use_bias:
                w = w + self.bias[1]
            z, r = ract(u[:, :U] + w[:, :U]), ract(u[:, U:2 * U] + w[:, U:2 * U])
            hh = act(u[:, 2 * U:] + r * w[:, 2 * U:])
        else:
            w = self._products(h, self.recurrent_kernel, rdm, 0, 2)
            z, r = ract(u[:, :U] + w[:, :U]), ract(u[:, U:2 * U] + w[:, U:])
            hm = h if rdm is None else h * rdm[2 if rdm.shape[0] > 1 else 0]
            hh = act(u[:, 2 * U:] + ops.matmul(r * hm, self.recurrent_kernel[:, 2 * U:]))
        h = z * h + (1 - z) * hh
        return h, [h]

    def get_config(self) -> dict:
        return {**super().get_config(), "reset_after": self.reset_after}


_BUILTIN_CELLS = (SimpleRNNCell, LSTMCell, GRUCell)


def _fused_ok(cell) -> bool:
    """Whether the one-node loop can run ``cell``: a built-in cell (or a subclass that keeps
    its ``call``) with activations the node knows."""
    for base in _BUILTIN_CELLS:
        if isinstance(cell, base):
            return type(cell).call is base.call and cell.built and cell._fusable()
    return False


def _layer_class(class_name: str, owner: str) -> type:
    """The layer class a saved config names: tapegrad's own, else an imported subclass of Layer."""
    from .. import layers as _layers

    cls = getattr(_layers, class_name, None)
    if isinstance(cls, type) and issubclass(cls, Layer):
        return cls
    stack, found = list(Layer.__subclasses__()), []
    while stack:
        sub = stack.pop()
        if sub.__name__ == class_name or getattr(sub, "_registered_name", None) == class_name:
            found.append(sub)
        stack.extend(sub.__subclasses__())
    if len(set(found)) != 1:
        raise ValueError(f"{owner}: cannot rebuild the layer class {class_name!r} from the config: "
                         f"{'no' if not found else 'more than one'} class of that name is defined")
    return found[0]


def _serialize(layer) -> dict:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def _deserialize(spec, owner: str):
    if isinstance(spec, Layer):
        return spec
    if not isinstance(spec, dict) or "class_name" not in spec:
        raise ValueError(f"{owner}: expected a layer or a config dict with 'class_name', received {spec!r}")
    return _layer_class(spec["class_name"], owner).from_config(dict(spec.get("config", {})))


class RNN(Layer):
    """Run a cell over the time steps of ``(batch, steps, features)`` inputs (Keras's ``RNN``).

    Args:
        cell: a cell: a layer with ``call(inputs, states)`` returning ``(output, new_states)``
            and a ``state_size`` (an int or a list of ints); optionally ``output_size`` and
            ``get_initial_state(batch_size)``.
        return_sequences: return every step's output (batch, steps, units) rather than the last.
        return_state: also return the final states: ``[output, *states]``.
        go_backwards: process the steps from last to first (the sequence output comes in
            that reversed order, as Keras's).
        stateful: each call starts from the final states of the previous call (for the
            same batch size); ``reset_states()`` sets them back to zeros.
        unroll: accepted for Keras compatibility; no effect.
        zero_output_for_mask: masked steps output zeros rather than the previous output.

    Call arguments: ``inputs``, ``initial_state`` (a tensor or a list of them, one per state),
    ``mask`` (boolean (batch, steps), taken from the input's mask by default), ``training``.

    Example (a custom cell, run step by step through ordinary ops):
        >>> import tapegrad as tg
        >>> class MinimalRNNCell(tg.layers.Layer):
        ...     def __init__(self, units, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.units = self.state_size = units
        ...     def build(self, input_shape):
        ...         self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        ...         self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="rk")
        ...     def call(self, inputs, states):
        ...         output = tg.matmul(inputs, self.kernel) + tg.matmul(states[0], self.recurrent_kernel)
        ...         return output, [output]
        >>> layer = tg.layers.RNN(MinimalRNNCell(8), return_sequences=True)
        >>> layer(tg.ones((2, 5, 3))).shape
        (2, 5, 8)
    """

    def __init__(self, cell, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, **kwargs) -> None:
        owner = type(self).__name__
        if isinstance(cell, (list, tuple)):
            raise ValueError(f"{owner}: a list of cells is not supported; stack recurrent layers with "
                             "return_sequences=True instead")
        if isinstance(cell, dict):
            cell = _deserialize(cell, owner)
        if not callable(getattr(cell, "call", None)):
            raise ValueError(f"{owner}: the cell needs a call(inputs, states) method, received {cell!r}")
        size = getattr(cell, "state_size", None)
        sizes = [size] if isinstance(size, (int, np.integer)) else size
        if not isinstance(sizes, (list, tuple)) or not sizes or not all(
                isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in sizes):
            raise ValueError(f"{owner}: the cell's state_size must be a positive integer or a list of them, "
                             f"received {size!r}")
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.state_size = [int(s) for s in sizes]
        self.states = None

    # -- shapes ------------------------------------------------------------------------------
    def _check_input_shape(self, shape) -> None:
        if len(shape) != 3 or shape[-1] is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': expected input of shape "
                             f"(batch, steps, features), received shape {tuple(shape)}")

    def build(self, input_shape) -> None:
        input_shape = tuple(input_shape)
        self._check_input_shape(input_shape)
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.build((input_shape[0], input_shape[2]))

    @property
    def _output_size(self) -> int:
        return int(getattr(self.cell, "output_size", None) or self.state_size[0])

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self._check_input_shape(input_shape)
        batch = input_shape[0]
        out = (batch, input_shape[1], self._output_size) if self.return_sequences else (batch, self._output_size)
        if self.return_state:
            return [out] + [(batch, s) for s in self.state_size]
        return out

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        return mask if self.return_sequences else None

    # -- states ------------------------------------------------------------------------------
    def get_initial_state(self, batch_size: int) -> list[Tensor]:
        fn = getattr(self.cell, "get_initial_state", None)
        if fn is not None:
            states = fn(batch_size=batch_size)
            return list(states) if isinstance(states, (list, tuple)) else [states]
        return [ops.zeros((batch_size, s), dtype=self.dtype) for s in self.state_size]

    def reset_states(self) -> None:
        """Set the held states of a stateful layer back to zeros."""
        if self.states is not None:
            self.states = [ops.zeros(s.shape, dtype=s.dtype) for s in self.states]

    reset_state = reset_states

    def _initial_states(self, initial_state, batch: int) -> list[Tensor]:
        owner = f"{type(self).__name__} '{self.name}'"
        if initial_state is None:
            if self.stateful and self.states is not None and self.states[0].shape[0] == batch:
                return list(self.states)
            return self.get_initial_state(batch)
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        if len(states) != len(self.state_size):
            raise ValueError(f"{owner}: expected {len(self.state_size)} initial state(s), received {len(states)}")
        out = []
        for s, size in zip(states, self.state_size):
            t = s if isinstance(s, Tensor) else Tensor(np.asarray(s), dtype=self.dtype)
            if t.shape != (batch, size):
                raise ValueError(f"{owner}: expected initial states of shape ({batch}, {size}), "
                                 f"received shape {t.shape}")
            if t.dtype != self.dtype and t.dtype.kind == "f":
                t = ops.cast(t, self.dtype)
            out.append(t)
        return out

    # -- the call ----------------------------------------------------------------------------
    def call(self, inputs, initial_state=None, mask=None, training=None):
        owner = f"{type(self).__name__} '{self.name}'"
        self._check_input_shape(inputs.shape)
        batch, steps, features = inputs.shape
        if steps == 0:
            raise ValueError(f"{owner}: expected at least one time step, received shape {inputs.shape}")
        kernel = getattr(self.cell, "kernel", None)
        if isinstance(kernel, Tensor) and kernel.ndim == 2 and kernel.shape[0] != features:
            raise ValueError(f"{owner}: expected input with last dimension {kernel.shape[0]}, "
                             f"received shape {inputs.shape}")
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if mask is not None:
            mask = np.asarray(mask.numpy() if isinstance(mask, Tensor) else mask).astype(bool)
            if mask.shape != (batch, steps):
                raise ValueError(f"{owner}: expected a mask of shape ({batch}, {steps}), received {mask.shape}")
        states = self._initial_states(initial_state, batch)
        zero_out = self.zero_output_for_mask and self.return_sequences
        cell = self.cell
        try:
            if _fused_ok(cell):
                output, final = self._fused(inputs, states, mask, training, zero_out)
            else:
                output, final = self._stepwise(inputs, states, mask, training, zero_out)
        finally:
            if isinstance(cell, _RecurrentCell):
                cell.reset_dropout_mask()
                cell.reset_recurrent_dropout_mask()
        if self.stateful:
            self.states = [Tensor(s.data.copy()) for s in final]
        if self.return_state:
            if mask is not None and self.return_sequences:
                set_mask(output, Tensor(mask))
            return [output, *final]
        return output

    def _fused(self, inputs, states, mask, training, zero_out):
        cell = self.cell
        dm = rdm = None
        if training and cell.dropout > 0:
            dm = cell.get_dropout_mask(Tensor(inputs.data[:, 0])).data
        if training and cell.recurrent_dropout > 0:
            rdm = cell.get_recurrent_dropout_mask(states[0]).data
        packed = recurrence(inputs, cell.kernel, cell.recurrent_kernel, cell.bias if cell.use_bias else None, states,
                            cell=cell._kind, activation=_FUSED_NAMES[cell.activation],
                            recurrent_activation=_FUSED_NAMES[cell.recurrent_activation], mask=mask,
                            input_dropout=dm, recurrent_dropout=rdm, go_backwards=self.go_backwards,
                            return_sequences=self.return_sequences, zero_output_for_mask=zero_out,
                            reset_after=getattr(cell, "reset_after", True))
        n_out = inputs.shape[1] if self.return_sequences else 1
        output = packed[:, :n_out] if self.return_sequences else packed[:, 0]
        final = [packed[:, n_out + k] for k in range(len(self.state_size))]
        return output, final

    def _stepwise(self, inputs, states, mask, training, zero_out):
        cell = self.cell
        steps = inputs.shape[1]
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        kwargs = {"training": training} if isinstance(cell, Layer) and cell._call_takes_training else {}
        outputs, prev = [], None
        for t in order:
            out, new_states = cell(inputs[:, t], states, **kwargs)
            new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
            if mask is not None:
                keep = Tensor(mask[:, t:t + 1])
                if prev is None:
                    prev = ops.zeros(out.shape, dtype=out.dtype)
                out = ops.where(keep, out, ops.zeros_like(out) if zero_out else prev)
                new_states = [ops.where(keep, n, s) for n, s in zip(new_states, states)]
                prev = out
            states = new_states
            outputs.append(out)
        output = ops.stack(outputs, axis=1) if self.return_sequences else outputs[-1]
        return output, states

    def get_config(self) -> dict:
        return {**super().get_config(), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards, "stateful": self.stateful,
                "unroll": self.unroll, "zero_output_for_mask": self.zero_output_for_mask,
                "cell": _serialize(self.cell)}

    @classmethod
    def from_config(cls, config: dict) -> "RNN":
        config = dict(config)
        cell = _deserialize(config.pop("cell"), cls.__name__)
        return cls(cell, **config)


class _CellLayer(RNN):
    """SimpleRNN, LSTM and GRU: an RNN that makes its own cell and shows the cell's options."""

    _cell_class = SimpleRNNCell
    _cell_args: tuple = ()

    def __init__(self, units: int, cell_kwargs: dict, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False,
                 unroll: bool = False, activity_regularizer=None, **kwargs) -> None:
        zero_out = kwargs.pop("zero_output_for_mask", False)
        cell = self._cell_class(units, dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable", True),
                                **cell_kwargs)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         zero_output_for_mask=zero_out, activity_regularizer=activity_regularizer, **kwargs)

    def __getattr__(self, name: str):
        # the cell's options read as the layer's (``lstm.units``, ``lstm.kernel`` ...), as in Keras
        cell = self.__dict__.get("cell")
        if cell is not None and (name in type(self)._cell_args or name in ("kernel", "recurrent_kernel", "bias")):
            return getattr(cell, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_config(self) -> dict:
        config = super().get_config()
        del config["cell"]
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype", "input_shape"):
            cell_config.pop(key, None)
        config.update(cell_config)
        config["activity_regularizer"] = _reg.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


class SimpleRNN(_CellLayer):
    """A fully connected recurrent layer: ``h_t = activation(x_t K + b + h_{t-1} R)`` (Keras 3's).

    Args:
        units: the size of the state and output, a positive int.
        activation: applied to the new state (default ``"tanh"``).
        use_bias: whether the layer has a bias (default True).
        kernel_initializer: initializer of the input kernel ``K`` (default ``"glorot_uniform"``).
        recurrent_initializer: initializer of the recurrent kernel ``R`` (default ``"orthogonal"``).
        bias_initializer: initializer of the bias (default ``"zeros"``).
        kernel_regularizer: regularizer applied to ``K`` (default None); its penalty joins ``losses``.
        recurrent_regularizer: regularizer applied to ``R`` (default None).
        bias_regularizer: regularizer applied to the bias (default None).
        activity_regularizer: regularizer applied to the layer's output (default None).
        dropout: fraction of the inputs to drop while training (default 0.0); the masks are
            fixed across the steps of a call, as Keras.
        recurrent_dropout: fraction of the state to drop while training (default 0.0).
        seed: seed of the dropout masks (default None).
        return_sequences, return_state, go_backwards, stateful, unroll: as ``RNN`` (all False
            by default).
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``).

    Example:
        >>> import tapegrad as tg
        >>> layer = tg.layers.SimpleRNN(4, return_sequences=True)
        >>> layer(tg.ones((2, 5, 3))).shape, [w.name for w in layer.weights]
        ((2, 5, 4), ['kernel', 'recurrent_kernel', 'bias'])
    """

    _cell_class = SimpleRNNCell
    _cell_args = ("units", "activation", "use_bias", "kernel_initializer", "recurrent_initializer",
                  "bias_initializer", "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                  "dropout", "recurrent_dropout", "seed")

    def __init__(self, units: int, activation="tanh", use_bias: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, seed: int | None = None,
                 return_sequences: bool = False, return_state: bool = False, go_backwards: bool = False,
                 stateful: bool = False, unroll: bool = False, **kwargs) -> None:
        cell_kwargs = dict(activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                           recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                           kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                           bias_regularizer=bias_regularizer, dropout=dropout, recurrent_dropout=recurrent_dropout,
                           seed=seed)
        super().__init__(units, cell_kwargs, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)


class LSTM(_CellLayer):
    """Long short-term memory (Keras 3's ``LSTM``: formulas, defaults and weight layout).

    Weights: ``kernel`` (features, 4 units), ``recurrent_kernel`` (units, 4 units),
    ``bias`` (4 units,), gates in the order i, f, c, o, so that Keras's ``get_weights()``
    loaded with ``set_weights`` gives Keras's outputs. See ``LSTMCell`` for the formulas.

    Args:
        units: the size of the state and output, a positive int.
        activation: applied to the candidate cell and to the cell state (default ``"tanh"``).
        recurrent_activation: applied to the gates i, f, o (default ``"sigmoid"``).
        use_bias: whether the layer has a bias (default True).
        kernel_initializer: initializer of the input kernel ``K`` (default ``"glorot_uniform"``).
        recurrent_initializer: initializer of the recurrent kernel ``R`` (default ``"orthogonal"``).
        bias_initializer: initializer of the bias (default ``"zeros"``).
        kernel_regularizer: regularizer applied to ``K`` (default None); its penalty joins ``losses``.
        recurrent_regularizer: regularizer applied to ``R`` (default None).
        bias_regularizer: regularizer applied to the bias (default None).
        unit_forget_bias: add 1 to the forget gate's bias at initialization (default True, as Keras).
        activity_regularizer: regularizer applied to the layer's output (default None).
        dropout: fraction of the inputs to drop while training (default 0.0); the masks are
            fixed across the steps of a call, as Keras.
        recurrent_dropout: fraction of the state to drop while training (default 0.0).
        seed: seed of the dropout masks (default None).
        return_sequences, return_state, go_backwards, stateful, unroll: as ``RNN`` (all False
            by default).
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``); Keras's
            ``use_cudnn`` is accepted and ignored (there is no cuDNN here).

    Example (the lab's model):
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.layers.Embedding(83, 16),
        ...                        tg.layers.LSTM(32, return_sequences=True, stateful=True),
        ...                        tg.layers.Dense(83)])
        >>> model(tg.zeros((4, 10), dtype="int32")).shape
        (4, 10, 83)
        >>> model.layers[1].states[0].shape
        (4, 32)
    """

    _cell_class = LSTMCell
    _cell_args = ("units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
                  "recurrent_initializer", "bias_initializer", "unit_forget_bias", "kernel_regularizer",
                  "recurrent_regularizer", "bias_regularizer", "dropout", "recurrent_dropout", "seed")

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias: bool = True, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: int | None = None, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False,
                 unroll: bool = False, **kwargs) -> None:
        kwargs.pop("use_cudnn", None)  # Keras's switch for cuDNN; there is none here
        cell_kwargs = dict(activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                           kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                           bias_initializer=bias_initializer, unit_forget_bias=unit_forget_bias,
                           kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                           bias_regularizer=bias_regularizer, dropout=dropout, recurrent_dropout=recurrent_dropout,
                           seed=seed)
        super().__init__(units, cell_kwargs, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)


class GRU(_CellLayer):
    """Gated recurrent unit (Keras 3's ``GRU``; ``reset_after=True`` by default).

    Weights: ``kernel`` (features, 3 units), ``recurrent_kernel`` (units, 3 units), gates
    in the order z, r, h; ``bias`` (2, 3 units) with ``reset_after`` (input and recurrent
    rows, PyTorch's ``nn.GRU`` formula), (3 units,) without. See ``GRUCell``.

    Args:
        units: the size of the state and output, a positive int.
        activation: applied to the candidate state (default ``"tanh"``).
        recurrent_activation: applied to the gates z and r (default ``"sigmoid"``).
        use_bias: whether the layer has a bias (default True).
        kernel_initializer: initializer of the input kernel ``K`` (default ``"glorot_uniform"``).
        recurrent_initializer: initializer of the recurrent kernel ``R`` (default ``"orthogonal"``).
        bias_initializer: initializer of the bias (default ``"zeros"``).
        kernel_regularizer: regularizer applied to ``K`` (default None); its penalty joins ``losses``.
        recurrent_regularizer: regularizer applied to ``R`` (default None).
        bias_regularizer: regularizer applied to the bias (default None).
        activity_regularizer: regularizer applied to the layer's output (default None).
        dropout: fraction of the inputs to drop while training (default 0.0); the masks are
            fixed across the steps of a call, as Keras.
        recurrent_dropout: fraction of the state to drop while training (default 0.0).
        seed: seed of the dropout masks (default None).
        return_sequences, return_state, go_backwards, stateful, unroll: as ``RNN`` (all False
            by default).
        reset_after: where the reset gate applies (default True; see ``GRUCell``).
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``); Keras's
            ``use_cudnn`` is accepted and ignored (there is no cuDNN here).

    Example:
        >>> import tapegrad as tg
        >>> out, h = tg.layers.GRU(4, return_state=True)(tg.ones((2, 5, 3)))
        >>> out.shape, bool((out.numpy() == h.numpy()).all())
        ((2, 4), True)
    """

    _cell_class = GRUCell
    _cell_args = ("units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
                  "recurrent_initializer", "bias_initializer", "kernel_regularizer", "recurrent_regularizer",
                  "bias_regularizer", "dropout", "recurrent_dropout", "reset_after", "seed")

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 reset_after: bool = True, **kwargs) -> None:
        kwargs.pop("use_cudnn", None)
        cell_kwargs = dict(activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                           kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                           bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                           recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                           dropout=dropout, recurrent_dropout=recurrent_dropout, reset_after=reset_after, seed=seed)
        super().__init__(units, cell_kwargs, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)


class Bidirectional(Layer):
    """Run a recurrent layer forwards and a copy of it backwards, and merge their outputs.

    Args:
        layer: a recurrent layer (``LSTM``, ``GRU``, ``SimpleRNN``, ``RNN``); the forward
            and backward layers are fresh copies made from its config.
        merge_mode: ``"concat"`` (default), ``"sum"``, ``"mul"``, ``"ave"``, or None
            (return the two outputs as a list).
        weights: initial weights (default None): a list of arrays, the forward layer's
            ``get_weights()`` followed by the backward layer's, set when the layer is built.
        backward_layer: an optional layer for the backward direction (default None: a copy of
            ``layer`` with ``go_backwards`` flipped); it must differ from ``layer`` in
            ``go_backwards`` and agree in ``stateful``, ``return_sequences`` and ``return_state``.
        **kwargs: the base ``Layer``'s arguments (``name``, ``dtype``, ``trainable``).

    With ``return_sequences`` the backward outputs are flipped back to the input's time
    order before merging, and masked steps output zeros (Keras sets
    ``zero_output_for_mask``). With ``return_state`` it returns
    ``[output, *forward_states, *backward_states]``.

    Example:
        >>> import tapegrad as tg
        >>> layer = tg.layers.Bidirectional(tg.layers.LSTM(4, return_sequences=True))
        >>> layer(tg.ones((2, 5, 3))).shape
        (2, 5, 8)
    """

    _MODES = ("concat", "sum", "mul", "ave", None)

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs) -> None:
        layer = _deserialize(layer, "Bidirectional") if isinstance(layer, dict) else layer
        if not isinstance(layer, RNN):
            raise ValueError(f"Bidirectional: expected a recurrent layer (RNN, LSTM, GRU, SimpleRNN), "
                             f"received {layer!r}")
        if merge_mode not in self._MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {self._MODES}, received {merge_mode!r}")
        super().__init__(**kwargs)
        config = layer.get_config()
        config["name"] = f"forward_{layer.name}"
        self.forward_layer = type(layer).from_config(dict(config))
        if backward_layer is None:
            config = layer.get_config()
            config.update(name=f"backward_{layer.name}", go_backwards=not layer.go_backwards)
            backward_layer = type(layer).from_config(config)
        else:
            backward_layer = _deserialize(backward_layer, "Bidirectional")
            if backward_layer.go_backwards == self.forward_layer.go_backwards:
                raise ValueError("Bidirectional: the forward and backward layers must have different go_backwards")
            for attr in ("stateful", "return_sequences", "return_state"):
                if getattr(backward_layer, attr) != getattr(self.forward_layer, attr):
                    raise ValueError(f"Bidirectional: the forward and backward layers must have the same {attr}")
        self.backward_layer = backward_layer
        for sub in (self.forward_layer, self.backward_layer):
            sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = self.forward_layer.return_sequences
        self.return_state = self.forward_layer.return_state
        self.stateful = self.forward_layer.stateful
        if weights is not None:
            self._initial_weights = list(weights)

    def build(self, input_shape) -> None:
        for sub in (self.forward_layer, self.backward_layer):
            if not sub.built:
                sub._build_from_call(tuple(input_shape))
        if getattr(self, "_initial_weights", None) is not None:
            half = len(self._initial_weights) // 2
            self.forward_layer.set_weights(self._initial_weights[:half])
            self.backward_layer.set_weights(self._initial_weights[half:])
            self._initial_weights = None

    def call(self, inputs, initial_state=None, mask=None, training=None):
        kwargs = {"training": training, "mask": mask}
        if initial_state is not None:
            initial_state = list(initial_state)
            half = len(initial_state) // 2
            fwd_state, bwd_state = initial_state[:half], initial_state[half:]
        else:
            fwd_state = bwd_state = None
        y = self.forward_layer(inputs, initial_state=fwd_state, **kwargs)
        y_rev = self.backward_layer(inputs, initial_state=bwd_state, **kwargs)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]
        if self.merge_mode == "concat":
            output = ops.concat([y, y_rev], axis=-1)
        elif self.merge_mode == "sum":
            output = y + y_rev
        elif self.merge_mode == "ave":
            output = (y + y_rev) * 0.5
        elif self.merge_mode == "mul":
            output = y * y_rev
        else:
            output = [y, y_rev]
        if isinstance(output, Tensor) and mask is not None and self.return_sequences:
            set_mask(output, mask if isinstance(mask, Tensor) else Tensor(np.asarray(mask)))
        if self.return_state:
            return (output if isinstance(output, list) else [output]) + states
        return output

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if self.return_sequences and self.merge_mode is not None and not self.return_state:
            return mask
        return None

    def compute_output_shape(self, input_shape):
        shape = self.forward_layer.compute_output_shape(input_shape)
        states = []
        if self.return_state:
            shape, states = shape[0], list(shape[1:])
        if self.merge_mode == "concat":
            shape = tuple(shape[:-1]) + (shape[-1] * 2,)
        out = [shape, shape] if self.merge_mode is None else [shape]
        if self.return_state:
            return out + states + states
        return out if self.merge_mode is None else shape

    def reset_states(self) -> None:
        """Reset both directions' held states (stateful layers only)."""
        if not self.stateful:
            raise AttributeError(f"Bidirectional '{self.name}': reset_states needs a stateful layer")
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()

    reset_state = reset_states

    @property
    def states(self):
        f, b = self.forward_layer.states, self.backward_layer.states
        return tuple(f + b) if f and b else None

    def get_config(self) -> dict:
        config = {**super().get_config(), "layer": _serialize(self.forward_layer), "merge_mode": self.merge_mode}
        config["layer"]["config"]["name"] = self.forward_layer.name[len("forward_"):] \
            if self.forward_layer.name.startswith("forward_") else self.forward_layer.name
        config["backward_layer"] = _serialize(self.backward_layer)
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        layer = _deserialize(config.pop("layer"), cls.__name__)
        backward = config.pop("backward_layer", None)
        if backward is not None:
            backward = _deserialize(backward, cls.__name__)
        return cls(layer, backward_layer=backward, **config)


class TimeDistributed(Layer):
    """Apply a layer to every time step of ``(batch, steps, ...)`` inputs.

    Args:
        layer: the layer applied to each step's slice ``(batch, ...)``, with shared weights.

    Differs from Keras 3, which calls the layer once per step: here the steps are folded
    into the batch axis for one call, which gives the same numbers for layers that treat
    samples independently (Dense, Conv2D, Dropout's distribution), not for a
    BatchNormalization in training (its statistics then cover all steps at once).

    Example:
        >>> import tapegrad as tg
        >>> layer = tg.layers.TimeDistributed(tg.layers.Dense(8))
        >>> layer(tg.ones((2, 10, 3))).shape
        (2, 10, 8)
    """

    def __init__(self, layer, **kwargs) -> None:
        layer = _deserialize(layer, "TimeDistributed") if isinstance(layer, dict) else layer
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed: expected a tg.layers.Layer, received {layer!r}")
        super().__init__(**kwargs)
        self.layer = layer

    def _child_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) < 3:
            raise ValueError(f"TimeDistributed '{self.name}': expected input of rank >= 3 (batch, steps, ...), "
                             f"received shape {input_shape}")
        return (input_shape[0],) + input_shape[2:]

    def build(self, input_shape) -> None:
        child = self._child_shape(input_shape)
        if not self.layer.built:
            self.layer._build_from_call(child)

    def call(self, inputs, training=None):
        self._child_shape(inputs.shape)
        n, t = inputs.shape[:2]
        flat = ops.reshape(inputs, (n * t,) + tuple(inputs.shape[2:]))
        out = self.layer(flat, training=training) if self.layer._call_takes_training else self.layer(flat)
        return ops.reshape(out, (n, t) + tuple(out.shape[1:]))

    def compute_output_shape(self, input_shape):
        child = self.layer.compute_output_shape(self._child_shape(input_shape))
        return (tuple(input_shape)[0], tuple(input_shape)[1]) + tuple(child[1:])

    def get_config(self) -> dict:
        return {**super().get_config(), "layer": _serialize(self.layer)}

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        return cls(_deserialize(config.pop("layer"), cls.__name__), **config)


__all__ = ["Bidirectional", "GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "SimpleRNN", "SimpleRNNCell",
           "TimeDistributed"]

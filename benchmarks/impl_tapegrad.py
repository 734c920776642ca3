"""tapegrad through its public API: ``model.train_on_batch`` after ``compile``, or a GradientTape loop
(eager, or under ``tg.function`` with mode ``"function"``)."""

from __future__ import annotations

import tapegrad as tg
from workloads import WORKLOADS, input_shape, layers_of, weights


def build(key: str, functional: bool = False):
    """The workload's model: a ``Sequential`` one, or the same layers as a functional model."""
    spec = WORKLOADS[key]
    if spec["kind"] == "lstm":
        layers = [tg.Input(shape=(spec["seq"],)), tg.layers.Embedding(spec["vocab"], spec["embed"]),
                  tg.layers.LSTM(spec["units"], return_sequences=True), tg.layers.Dense(spec["vocab"])]
    elif spec["kind"] == "mlp":
        s = spec["sizes"]
        layers = [tg.Input(shape=(s[0],))]
        layers += [tg.layers.Dense(b, activation="relu") for b in s[1:-1]] + [tg.layers.Dense(s[-1])]
    else:
        layers = [tg.Input(shape=input_shape(key))]
        for layer in layers_of(key):
            if layer[0] == "conv":
                layers.append(tg.layers.Conv2D(layer[3], layer[1], padding=layer[4], activation="relu"))
            elif layer[0] == "pool":
                layers.append(tg.layers.MaxPooling2D(2))
            elif layer[0] == "flatten":
                layers.append(tg.layers.Flatten())
            else:
                layers.append(tg.layers.Dense(layer[2], activation=None if len(layer) > 3 else "relu"))
    if functional:
        x = inputs = layers[0]
        for layer in layers[1:]:
            x = layer(x)
        model = tg.Model(inputs, x)
    else:
        model = tg.Sequential(layers)
    model.set_weights(weights(key))
    opt = tg.optimizers.Adam(spec["lr"]) if spec["opt"] == "adam" else tg.optimizers.SGD(spec["lr"])
    loss = tg.losses.BinaryCrossentropy(from_logits=True) if spec["loss"] == "bce" else \
        tg.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=opt, loss=loss)
    return model


def make_step(key: str, mode: str = "train_on_batch"):
    model = build(key, functional=mode == "functional")
    if mode in ("train_on_batch", "functional"):
        return lambda x, y: float(model.train_on_batch(x, y))
    loss_fn, opt = model.loss, model.optimizer

    def step(x, y):
        with tg.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_weights)
        opt.apply_gradients(zip(grads, model.trainable_weights))
        return loss

    if mode == "function":  # the same step recorded once and replayed (tg.function)
        step = tg.function(step)
    return lambda x, y: float(step(x, y))


def make_fit(key: str):
    """For the fit-overhead check: returns (model, x, y) for fit and train_on_batch loops."""
    return build(key)

"""A user's script written against tapegrad's public API, fully annotated.

CI runs ``mypy --strict`` on it (and on ``examples/``): tapegrad ships ``py.typed``, and
the operators of ``tg.Tensor`` are defined in its class body, so a type checker sees
``x * w + b``, ``t[0]`` and ``t.sum()`` as tensors. ``tests/typing/test_typing.py`` runs it.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

import tapegrad as tg


def affine(x: tg.Tensor, w: tg.Variable, b: tg.Variable) -> tg.Tensor:
    return tg.nn.relu(x @ w + b)


def mse(y_true: np.ndarray, y_pred: tg.Tensor) -> tg.Tensor:
    diff = y_pred - y_true
    return (diff * diff).mean()


def train_by_hand(x: np.ndarray, y: np.ndarray, steps: int) -> float:
    """A training loop with GradientTape and an optimizer, as in the lecture."""
    w = tg.Variable(np.zeros((3, 1), dtype=np.float32), name="w")
    b = tg.Variable(np.zeros((1,), dtype=np.float32), name="b")
    opt = tg.optimizers.SGD(learning_rate=0.1)
    loss = tg.constant(0.0)
    for _ in range(steps):
        with tg.GradientTape() as tape:
            loss = mse(y, affine(tg.constant(x), w, b))
        grads = tape.gradient(loss, [w, b])
        opt.apply_gradients(zip(grads, [w, b]))
    return float(loss)


def torch_style(x: np.ndarray) -> np.ndarray:
    """PyTorch-style: requires_grad, backward, .grad; operators, indexing and methods."""
    t = tg.Tensor(x, requires_grad=True)
    out = (t ** 2 / 2.0 - 1.0).sum() + t[0, 0] * 3 + abs(-t).max() + t.T.reshape(-1).sum()
    out.backward()
    assert t.grad is not None
    grad: np.ndarray = t.grad.numpy()
    return grad


def keras_style(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Keras-style: Sequential, compile, fit, evaluate, predict, save and load."""
    tg.random.set_seed(0)
    layers: list[tg.layers.Layer | tg.KerasTensor] = [tg.Input(shape=(3,)), tg.layers.Dense(8, activation="relu"),
                                     tg.layers.Dropout(0.1), tg.layers.Dense(1)]
    model = tg.Sequential(layers)
    model.compile(optimizer=tg.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0,
                        callbacks=[tg.callbacks.EarlyStopping(patience=2)])
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    pred = model.predict(x[:4], verbose=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.tapegrad")
        model.save(path)
        back = tg.models.load_model(path)
        same = bool(np.array_equal(back.predict(x[:4], verbose=0), pred))
    return {"loss": float(history.history["loss"][-1]), "eval_loss": float(result["loss"]), "same": float(same)}


class Scale(tg.layers.Layer):
    """A custom layer with one weight."""

    def __init__(self, factor: float = 1.0) -> None:
        super().__init__()
        self.factor = factor

    def build(self, input_shape: tuple[int, ...]) -> None:
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")

    def call(self, inputs: tg.Tensor) -> tg.Tensor:
        return inputs * self.scale * self.factor


def dlpack_round_trip() -> bool:
    a = np.arange(4.0)
    t = tg.from_dlpack(a)
    back = np.from_dlpack(t)
    return bool(np.shares_memory(a, back))


def main() -> dict[str, float]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)).astype(np.float32)
    out = keras_style(x, y)
    out["by_hand"] = train_by_hand(x, y, steps=20)
    out["grad_sum"] = float(torch_style(x[:2]).sum())
    scaled = Scale(2.0)(tg.ones((2, 3)))
    out["scaled"] = float(tg.reduce_sum(scaled))
    out["dlpack"] = float(dlpack_round_trip())
    return out


if __name__ == "__main__":
    print(main())

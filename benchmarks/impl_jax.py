"""JAX with ``jit`` over the whole training step: the bar for speed on a CPU (issue 32).

The same models, weights and batches as the other implementations (NHWC images, HWIO
kernels: tapegrad's layouts, which XLA takes directly). The timed step is one jitted
function from (weights, optimizer state, batch) to (new weights, new state, loss), with the
weights and state donated so XLA updates them in place; the optimizer is optax's Adam with
Keras's epsilon (1e-7), or optax's SGD. For the loss check against PyTorch, ``mode="check"``
uses Adam in Keras's form instead (epsilon added to ``sqrt(v)``, the bias corrections folded
into the step size), as ``impl_torch.KerasAdam`` does.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from workloads import WORKLOADS, layers_of, weights

jax.config.update("jax_platforms", "cpu")


def _forward(key: str):
    spec = WORKLOADS[key]

    if spec["kind"] == "mlp":
        def forward(params, x):
            n = len(params) // 2
            for j in range(n):
                x = x @ params[2 * j] + params[2 * j + 1]
                if j < n - 1:
                    x = jax.nn.relu(x)
            return x

        return forward

    layers = layers_of(key)

    def forward(params, x):
        i = 0
        for layer in layers:
            if layer[0] == "conv":
                x = jax.lax.conv_general_dilated(x, params[i], (1, 1), layer[4].upper(),
                                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))
                x = jax.nn.relu(x + params[i + 1])
                i += 2
            elif layer[0] == "pool":
                x = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
            elif layer[0] == "flatten":
                x = x.reshape(x.shape[0], -1)
            else:
                x = x @ params[i] + params[i + 1]
                if len(layer) == 3:
                    x = jax.nn.relu(x)
                i += 2
        return x

    return forward


def _loss(key: str):
    forward = _forward(key)
    if WORKLOADS[key]["loss"] == "bce":
        return lambda params, x, y: optax.sigmoid_binary_cross_entropy(forward(params, x), y).mean()
    return lambda params, x, y: optax.softmax_cross_entropy_with_integer_labels(forward(params, x), y).mean()


def _keras_adam(lr, b1=0.9, b2=0.999, eps=1e-7):
    """Keras 3's Adam as an optax transformation (for the loss check only)."""

    def init(params):
        zeros = [jnp.zeros_like(p) for p in params]
        return (jnp.zeros((), jnp.int32), zeros, [jnp.zeros_like(p) for p in params])

    def update(grads, state, params=None):
        t, ms, vs = state
        t = t + 1
        alpha = lr * jnp.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        ms = [m + (g - m) * (1 - b1) for g, m in zip(grads, ms)]
        vs = [v + (g * g - v) * (1 - b2) for g, v in zip(grads, vs)]
        updates = [-(m * alpha) / (jnp.sqrt(v) + eps) for m, v in zip(ms, vs)]
        return updates, (t, ms, vs)

    return optax.GradientTransformation(init, update)


def make_step(key: str, mode: str = "jit"):
    """``mode="jit"``: the timed step; ``"check"``: the same with Keras's Adam formula."""
    spec = WORKLOADS[key]
    params = [jnp.asarray(w) for w in weights(key)]
    if spec["opt"] == "adam":
        opt = _keras_adam(spec["lr"]) if mode == "check" else optax.adam(spec["lr"], eps=1e-7)
    else:
        opt = optax.sgd(spec["lr"])
    state = opt.init(params)
    loss_fn = _loss(key)

    def train_step(params, state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    jitted = jax.jit(train_step, donate_argnums=(0, 1))
    held = {"params": params, "state": state}

    def step(x, y):
        held["params"], held["state"], loss = jitted(held["params"], held["state"], x, y)
        return float(loss)  # waits for the step, as the other implementations' float(loss) does

    return step


def kernel() -> str:
    """What XLA runs on (it uses its own kernels, not OpenBLAS)."""
    return f"XLA {jax.__version__} on {jax.devices()[0].platform}"


"""``tg.keras``: the names of ``tf.keras`` that the course uses, as aliases of tapegrad's own.

Code written for ``tf.keras`` runs after one replacement, ``tf`` by ``tg``:
``tg.keras.layers.Dense`` *is* ``tg.layers.Dense``, ``tg.keras.Model`` *is* ``tg.Model``,
and so on; nothing here is a copy or a wrapper, so objects made either way mix freely.

Provided: ``layers``, ``models``, ``Model``, ``Sequential``, ``Input``, ``optimizers``,
``losses``, ``metrics``, ``callbacks``, ``activations``, ``initializers``, ``regularizers``,
``utils`` (``set_random_seed``, ``to_categorical``).

Example:
    >>> import tapegrad as tg
    >>> tg.keras.layers.Dense is tg.layers.Dense and tg.keras.Model is tg.Model
    True
    >>> tg.keras.utils.set_random_seed(1)
    >>> model = tg.keras.Sequential([tg.keras.Input(shape=(2,)), tg.keras.layers.Dense(3, activation="sigmoid")])
    >>> model(tg.constant([[1.0, 2.0]])).shape
    (1, 3)
"""

from __future__ import annotations

import sys as _sys

from .. import activations, callbacks, initializers, layers, losses, metrics, models, optimizers, regularizers, utils
from ..layers import Input
from ..models import Model, Sequential

# ``from tapegrad.keras.layers import Dense`` (as ``from tensorflow.keras.layers import Dense``):
# each submodule name is the tapegrad module itself, registered under the keras path.
for _name, _module in {"activations": activations, "callbacks": callbacks, "initializers": initializers,
                       "layers": layers, "losses": losses, "metrics": metrics, "models": models,
                       "optimizers": optimizers, "regularizers": regularizers, "utils": utils}.items():
    _sys.modules.setdefault(f"{__name__}.{_name}", _module)

__all__ = ["Input", "Model", "Sequential", "activations", "callbacks", "initializers", "layers", "losses", "metrics",
           "models", "optimizers", "regularizers", "utils"]

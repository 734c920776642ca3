"""``tapegrad playground``: the lecture's pictures, live, in a browser.

A local web application (Starlette, served by uvicorn; ``pip install "tapegrad[playground]"``)
where a learner picks a data set and a network, trains it with tapegrad's own ``fit``
and watches the decision boundary, the hidden units, the loss curves and, for the
perceptron, the loss landscape, then takes the model and the program back to Python.
Each browser tab is a session whose model trains in a process of its own.

Example:
    >>> from tapegrad.playground import config
    >>> config.validate({"dataset": "spiral", "classes": 3,
    ...                  "loss": "sparse_categorical_crossentropy"})["classes"]
    3
"""

from . import config

__all__ = ["config", "create_app", "serve", "Settings"]


def __getattr__(name: str):
    # The server needs the optional web libraries; import them only when asked for.
    if name in ("create_app", "serve", "Settings"):
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module 'tapegrad.playground' has no attribute {name!r}")

"""Which classes a saved architecture may name: tapegrad's own and those registered by the user.

Loading only instantiates classes found here, from plain JSON configs, so a model
file can never run code of its own.
"""

from __future__ import annotations

from typing import Callable

_REGISTRY: dict[str, type] = {}
_BUILTIN_MODELS: dict[str, type] = {}  # the model classes, registered by tapegrad.models (which imports this module)


def register_serializable(package: str = "Custom", name: str | None = None) -> Callable[[type], type]:
    """Class decorator: make a custom layer or model loadable by ``load_model``
    (``keras.saving.register_keras_serializable``).

    Args:
        package: the namespace of the registered name (default "Custom").
        name: the registered name (default None: the class name).

    Example:
        >>> import tapegrad as tg
        >>> @tg.saving.register_serializable()
        ... class MyLayer(tg.layers.Layer):
        ...     def call(self, x):
        ...         return x
        >>> MyLayer._registered_name
        'Custom>MyLayer'
    """

    def decorate(cls: type) -> type:
        key = f"{package}>{name or cls.__name__}"
        _REGISTRY[key] = cls
        _REGISTRY[name or cls.__name__] = cls
        cls._registered_name = key
        return cls

    return decorate


def register_builtin_model(cls: type) -> type:
    """Make one of tapegrad's own model classes loadable (``tapegrad.models`` registers its own)."""
    _BUILTIN_MODELS[cls.__name__] = cls
    return cls


def builtin_classes() -> dict[str, type]:
    from .. import layers

    out = {name: getattr(layers, name) for name in layers.__all__ if isinstance(getattr(layers, name), type)}
    out.update(_BUILTIN_MODELS)
    return out


def lookup(class_name: str, custom_objects=None) -> type:
    if custom_objects and class_name in custom_objects:
        return custom_objects[class_name]
    if class_name in _REGISTRY:
        return _REGISTRY[class_name]
    builtins = builtin_classes()
    if class_name in builtins:
        return builtins[class_name]
    raise ValueError(f"Unknown class {class_name!r} in the saved model: register it with "
                     f"@tg.saving.register_serializable() or pass custom_objects={{'{class_name}': ...}}")


def deserialize_layer(spec: dict, custom_objects=None):
    if not isinstance(spec, dict) or "class_name" not in spec:
        raise ValueError(f"corrupt layer config: expected a dict with 'class_name', received {spec!r}")
    cls = lookup(spec["class_name"], custom_objects)
    config = dict(spec.get("config", {}))
    if hasattr(cls, "from_config"):
        try:
            nested = spec["class_name"] in ("Sequential", "Functional")  # models pass custom_objects on
            return cls.from_config(config, custom_objects) if nested else cls.from_config(config)
        except TypeError as exc:
            raise ValueError(f"cannot rebuild {spec['class_name']} from its saved config {config}: {exc}") from None
    return cls(**config)

"""Layers (``tg.layers``)."""

from .base import Layer
from .preprocessing import Normalization
from .core import Activation, Dense, Dropout, Flatten, Input, InputLayer, Reshape

__all__ = ["Activation", "Dense", "Dropout", "Flatten", "Input", "InputLayer", "Layer", "Normalization", "Reshape"]

"""Saving and loading (``tg.saving``): safetensors weights and ``.tapegrad`` model files; no pickle.

Loading a damaged or hostile file raises ``ModelFileError`` (a ``ValueError``) and
stays within stated limits of memory; see ``load_model``.
"""

from . import atomic
from .archive import load_model, save_model
from .errors import ModelFileError
from .registry import register_serializable
from .weights import load_weights, save_weights

__all__ = ["ModelFileError", "load_model", "register_serializable", "save_model", "load_weights", "save_weights"]

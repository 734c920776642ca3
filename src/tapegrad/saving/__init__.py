"""Saving and loading (``tg.saving``): safetensors weights and ``.tapegrad`` model files; no pickle."""

from .archive import load_model, save_model
from .registry import register_serializable
from .weights import load_weights, save_weights

__all__ = ["load_model", "register_serializable", "save_model", "load_weights", "save_weights"]

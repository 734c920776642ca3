"""Optional dependencies: import one, or fail with a one-line message naming the extra.

Core features (training, the progress bar, saving) need only the core dependencies;
pictures need matplotlib (``tapegrad[viz]``), the CSV command line pandas
(``tapegrad[cli]``), the scikit-learn wrappers scikit-learn (``tapegrad[sklearn]``), ONNX
export the onnx package (``tapegrad[onnx]``).
"""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtraError(ImportError):
    """An optional dependency is not installed. The message is one line that names the
    feature and the ``pip install`` command of the extra that provides it."""


def require(module: str, extra: str, feature: str, package: str | None = None) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtraError` saying which extra to install.

    Args:
        module: the module to import, e.g. ``"matplotlib.figure"``.
        extra: the tapegrad extra that installs it, e.g. ``"viz"``.
        feature: what needs it, e.g. ``"tapegrad's pictures"``.
        package: the distribution's name when it differs from the top-level module's.

    Example:
        >>> require("numpy", "core", "arrays").__name__
        'numpy'
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        name = package or module.split(".")[0]
        message = f'{name} is not installed (needed for {feature}): pip install "tapegrad[{extra}]"'
        raise MissingExtraError(message) from None


def require_matplotlib() -> ModuleType:
    """matplotlib's ``Figure`` module, for the pictures (``tapegrad[viz]``)."""
    return require("matplotlib.figure", "viz", "tapegrad's pictures", package="matplotlib")


def require_pandas() -> ModuleType:
    """pandas, for the CSV command line (``tapegrad[cli]``)."""
    return require("pandas", "cli", "the CSV command line")


def require_sklearn(feature: str) -> ModuleType:
    """scikit-learn's ``base`` module, for the wrappers of ``tg.wrappers`` (``tapegrad[sklearn]``)."""
    return require("sklearn.base", "sklearn", feature, package="scikit-learn")


def require_onnx() -> ModuleType:
    """The onnx package, for ``model.export(..., format="onnx")`` (``tapegrad[onnx]``)."""
    return require("onnx", "onnx", "ONNX export")

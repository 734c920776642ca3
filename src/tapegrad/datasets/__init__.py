"""Real data sets read from files you provide (``tg.datasets``): MNIST, Fashion-MNIST, IDX."""

from . import fashion_mnist, idx, mnist

__all__ = ["fashion_mnist", "idx", "mnist"]

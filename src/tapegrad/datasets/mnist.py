"""MNIST handwritten digits from the original IDX files in a folder you give.

Example::

    (x_train, y_train), (x_test, y_test) = tg.datasets.mnist.load_data("path/to/mnist")
"""

from ._image_sets import load


def load_data(path=None):
    """``(x_train, y_train), (x_test, y_test)``: uint8 images ``(n, 28, 28)`` and labels, as Keras.

    ``path`` is the folder with the four IDX files (gzipped or not); without it the
    ``TAPEGRAD_DATA`` environment variable is used. Nothing is downloaded.
    """
    return load("mnist", path, "http://yann.lecun.com/exdb/mnist/")

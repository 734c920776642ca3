"""Fashion-MNIST (Zalando article images) from the original IDX files in a folder you give."""

from ._image_sets import load

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot")


def load_data(path=None):
    """``(x_train, y_train), (x_test, y_test)`` as uint8 arrays, as Keras; nothing is downloaded."""
    return load("fashion_mnist", path, "https://github.com/zalandoresearch/fashion-mnist")

"""Data: in-memory datasets, mini-batch loaders, and small synthetic data sets (``tg.data``)."""

from .dataset import DataLoader, Dataset
from .lecture import make_pass_fail
from .text import CharVocabulary, char_batch, extract_songs, load_songs
from .synthetic import make_blobs, make_circles, make_moons, make_spirals, make_xor, train_test_split

__all__ = ["CharVocabulary", "char_batch", "extract_songs", "load_songs", "DataLoader", "Dataset", "make_blobs", "make_pass_fail", "make_circles", "make_moons", "make_spirals", "make_xor",
           "train_test_split"]

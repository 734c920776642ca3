"""Data: in-memory datasets, mini-batch loaders, and small synthetic data sets (``tg.data``)."""

from .dataset import INFINITE_CARDINALITY, DataLoader, Dataset
from .lecture import make_pass_fail
from .py_dataset import PyDataset
from .text import CharVocabulary, char_batch, extract_songs, load_songs
from .synthetic import make_blobs, make_circles, make_moons, make_spirals, make_xor, train_test_split

__all__ = ["CharVocabulary", "DataLoader", "Dataset", "INFINITE_CARDINALITY", "PyDataset", "char_batch",
           "extract_songs", "load_songs", "make_blobs", "make_pass_fail", "make_circles", "make_moons",
           "make_spirals", "make_xor", "train_test_split"]

"""Layers (``tg.layers``)."""

from .base import Layer
from .preprocessing import Normalization
from .conv import (AveragePooling2D, BatchNormalization, Conv1D, Conv2D, GlobalAveragePooling2D,
                   GlobalMaxPooling2D, MaxPooling2D, UpSampling2D, ZeroPadding2D)
from .embedding import Embedding, Masking
from .core import Activation, Dense, Dropout, Flatten, Input, InputLayer, Reshape
from .merge import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average, concatenate,
                    dot, maximum, minimum, multiply, subtract)
from .normalization import LayerNormalization
from .pooling1d import AveragePooling1D, GlobalAveragePooling1D, GlobalMaxPooling1D, MaxPooling1D
from .reshaping import Identity, Permute, RepeatVector
from .recurrent import (GRU, LSTM, RNN, Bidirectional, GRUCell, LSTMCell, SimpleRNN, SimpleRNNCell,
                        TimeDistributed)

__all__ = ["AveragePooling2D", "BatchNormalization", "Conv1D", "Conv2D", "GlobalAveragePooling2D",
           "GlobalMaxPooling2D", "MaxPooling2D", "UpSampling2D", "ZeroPadding2D", "Activation", "Dense", "Dropout", "Embedding", "Flatten", "Input", "InputLayer", "Layer", "Masking", "Normalization", "Reshape",
           "Add", "Average", "Concatenate", "Dot", "Maximum", "Minimum", "Multiply", "Subtract", "add", "average",
           "concatenate", "dot", "maximum", "minimum", "multiply", "subtract", "LayerNormalization",
           "AveragePooling1D", "GlobalAveragePooling1D", "GlobalMaxPooling1D", "MaxPooling1D", "Identity", "Permute",
           "RepeatVector",
           "Bidirectional", "GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "SimpleRNN", "SimpleRNNCell",
           "TimeDistributed"]

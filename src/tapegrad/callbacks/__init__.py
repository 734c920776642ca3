"""Callbacks (``tg.callbacks``): hooks into training, as Keras."""

from .base import Callback, CallbackList, History, LambdaCallback, LearningRateScheduler, TerminateOnNaN
from .files import CSVLogger, ModelCheckpoint
from .live import LivePlot
from .monitor import EarlyStopping, ReduceLROnPlateau
from .progbar import ProgbarLogger

__all__ = ["CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History", "LambdaCallback",
           "LearningRateScheduler", "LivePlot", "ModelCheckpoint", "ProgbarLogger", "ReduceLROnPlateau", "TerminateOnNaN"]

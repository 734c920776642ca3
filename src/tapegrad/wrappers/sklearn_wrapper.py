"""The scikit-learn wrappers: a tapegrad model as a classifier, a regressor or a transformer.

They follow Keras 3's ``keras.wrappers`` (same names and arguments: ``model``,
``warm_start``, ``model_kwargs``, ``fit_kwargs``) and scikit-learn's conventions: the
arguments are stored unchanged by ``__init__`` and validated in ``fit``; what ``fit``
learns lives in attributes ending with ``_``. Differs from Keras: a ``random_state``
argument makes ``fit`` reproducible (model building, weight initialization, shuffling
and dropout), and the classifier has ``predict_proba``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .. import optimizers as _optimizers
from .. import random as _random
from .._extras import require_sklearn
from ..models import Model, clone_model

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import type_of_target
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError:  # the classes still exist (``from tapegrad import *`` works); making one says what to install
    class BaseEstimator:  # type: ignore[no-redef]
        """Stand-in for scikit-learn's base class when scikit-learn is not installed."""

    class ClassifierMixin:  # type: ignore[no-redef]
        """Stand-in for scikit-learn's mixin when scikit-learn is not installed."""

    class RegressorMixin:  # type: ignore[no-redef]
        """Stand-in for scikit-learn's mixin when scikit-learn is not installed."""

    class TransformerMixin:  # type: ignore[no-redef]
        """Stand-in for scikit-learn's mixin when scikit-learn is not installed."""

_doctest_requires = ("sklearn",)  # tests/test_docstring_examples.py skips the examples without it


@contextlib.contextmanager
def _seeded(random_state: Any) -> Iterator[None]:
    """Run the block with tapegrad's global seed drawn from ``random_state``, then put the
    global generator back as it was, so a fit with ``random_state`` leaves the user's
    generator untouched. ``None`` leaves the global generator in use (not reproducible)."""
    if random_state is None:
        yield
        return
    seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    saved = dict(_random._state)  # the global generator and seed, as tg.random keeps them
    _random.set_seed(seed)  # fit's epochs draw from generators forked from this seed
    try:
        # and the model's initializers from this one, even inside a caller's tg.random.use block
        with _random.use(np.random.default_rng(seed)):
            yield
    finally:
        _random._state.update(saved)


def _compiled_clone(model: Model) -> Model:
    """A clone of ``model`` with fresh weights, compiled as ``model`` is (a new optimizer of the
    same configuration, the same loss, metrics and loss weights)."""
    clone = clone_model(model)
    clone.compile(optimizer=_optimizers.get(_optimizers.serialize(model.optimizer)), loss=model.loss,
                  metrics=list(model._metric_specs), loss_weights=model.loss_weights,
                  run_eagerly=model.run_eagerly)
    return clone


class SKLBase(BaseEstimator):
    """What the three wrappers share: building or cloning the model, fitting, predicting.

    Args:
        model: a compiled ``tg.Model``/``tg.Sequential``, or a callable returning one. A model
            is cloned (``tg.models.clone_model``: fresh weights) and compiled like the original
            before each fit, unless ``warm_start=True``. A callable is called as
            ``model(X=X, y=y, **model_kwargs)`` with the validated inputs and the encoded
            targets (one-hot for a classifier), so it can size the input and output layers;
            it must return a compiled model.
        warm_start: reuse the weights of the previous fit (and, for a model given as an
            instance, train that instance itself) instead of starting again.
        model_kwargs: keyword arguments for ``model`` when it is a callable; a grid search
            varies them (``param_grid={"model_kwargs": [...]}``).
        fit_kwargs: keyword arguments for ``model.fit`` (``epochs``, ``batch_size``,
            ``verbose``...); those given to ``fit`` itself take precedence.
        random_state: an int (or ``np.random.RandomState``) makes ``fit`` reproducible: the
            model is built, initialized and trained under a tapegrad seed drawn from it, and
            the global generator is restored afterwards. ``None``: tapegrad's global generator.
            The seed is process-wide while ``fit`` runs, so run parallel searches in processes
            (joblib's default) rather than threads.

    Attributes:
        model_: the fitted model.
        history_: the fit's ``History.history`` dict (loss and metrics per epoch).
        n_features_in_: the number of features seen in ``fit``.
        feature_names_in_: the column names, when ``X`` had string column names (a DataFrame).
    """

    def __init__(self, model: Model | Callable[..., Model] | None = None, warm_start: bool = False,
                 model_kwargs: dict[str, Any] | None = None, fit_kwargs: dict[str, Any] | None = None,
                 random_state: int | np.random.RandomState | None = None) -> None:
        require_sklearn(f"tapegrad's scikit-learn wrappers ({type(self).__name__})")
        self.model = model
        self.warm_start = warm_start
        self.model_kwargs = model_kwargs
        self.fit_kwargs = fit_kwargs
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False  # deterministic for a fixed random_state
        return tags

    # -- the model -----------------------------------------------------------------------------
    def _get_model(self, X: np.ndarray, y: np.ndarray) -> Model:
        name = type(self).__name__
        if self.warm_start and hasattr(self, "model_"):
            return self.model_
        if isinstance(self.model, Model):
            if not self.model.compiled:
                raise RuntimeError(f"{name}: the model must be compiled (with a loss and an optimizer) before "
                                   f"it is wrapped, e.g. model.compile(optimizer='adam', loss='mse')")
            return self.model if self.warm_start else _compiled_clone(self.model)
        if not callable(self.model):
            raise TypeError(f"{name}: expected model to be a tg.Model or a callable returning one, received "
                            f"{type(self.model).__name__}")
        if self.model_kwargs is not None and not isinstance(self.model_kwargs, dict):
            raise TypeError(f"{name}: expected model_kwargs to be a dict or None, received "
                            f"{type(self.model_kwargs).__name__}")
        model = self.model(X=X, y=y, **(self.model_kwargs or {}))
        if not isinstance(model, Model):
            raise TypeError(f"{name}: the model callable must return a tg.Model, returned {type(model).__name__}")
        if not model.compiled:
            raise RuntimeError(f"{name}: the model returned by the callable must be compiled (with a loss and an "
                               f"optimizer)")
        return model

    def _fit_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        if self.fit_kwargs is not None and not isinstance(self.fit_kwargs, dict):
            raise TypeError(f"{type(self).__name__}: expected fit_kwargs to be a dict or None, received "
                            f"{type(self.fit_kwargs).__name__}")
        return {**(self.fit_kwargs or {}), **kwargs}  # a new dict: the parameter stays unchanged

    # -- sklearn's API ---------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, **kwargs: Any) -> SKLBase:
        """Build (or clone) the model and train it on ``X`` and ``y``.

        Args:
            X: array-like of shape (n_samples, n_features).
            y: array-like of shape (n_samples,) or (n_samples, n_outputs); class labels of
                any type for the classifier.
            **kwargs: passed to ``model.fit``, over ``fit_kwargs``.

        Returns:
            self.
        """
        fit_kwargs = self._fit_kwargs(kwargs)
        X, y = self._validate_xy(X, y)
        target = self._encode_target(y)
        with _seeded(self.random_state):
            model = self._get_model(X, target)
            history = model.fit(X, target, **fit_kwargs)
        self.model_ = model
        self.history_ = dict(history.history)
        return self

    def _validate_xy(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        # y=None is sklearn's error "requires y to be passed": the model is trained on X and y
        return validate_data(self, X, y, dtype=np.float32, multi_output=True, y_numeric=False)

    def _encode_target(self, y: np.ndarray) -> np.ndarray:
        """Regressors and transformers: the targets as float32, 1-D made a column."""
        type_of_target(y, input_name="y", raise_unknown=True)
        self._y_ndim = y.ndim
        y = np.asarray(y, dtype=np.float32)
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def _model_output(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return np.asarray(self.model_.predict(X, verbose=0))

    def predict(self, X: Any) -> np.ndarray:
        """The model's predictions for ``X`` (for a 1-D ``y`` in fit, a 1-D array)."""
        out = self._model_output(X)
        return out.reshape(-1) if self._y_ndim == 1 and out.ndim == 2 and out.shape[1] == 1 else out


class SKLearnClassifier(ClassifierMixin, SKLBase):
    """A scikit-learn classifier around a tapegrad model (Keras's ``keras.wrappers.SKLearnClassifier``).

    The class labels (numbers or strings) are sorted into ``classes_`` and the model is trained
    on their one-hot encoding, so its output layer has ``len(classes_)`` units with a softmax
    (its outputs are ``predict_proba``'s probabilities). ``predict`` returns the label of the
    most probable class; ``score`` is the accuracy.

    Args:
        model: a compiled ``tg.Model``/``tg.Sequential``, or a callable returning one (default
            None, which ``fit`` rejects). A model is cloned with fresh weights and compiled like
            the original before each fit, unless ``warm_start``. A callable is called as
            ``model(X=X, y=y, **model_kwargs)`` with the validated inputs and
            the one-hot encoded targets, so it can size the input and output
            layers; it must return a compiled model.
        warm_start: reuse the weights of the previous fit (and, for a model given as an
            instance, train that instance itself) instead of starting again (default False).
        model_kwargs: keyword arguments for ``model`` when it is a callable (default None: none);
            a grid search can vary them (``param_grid={"model_kwargs": [...]}``).
        fit_kwargs: keyword arguments for ``model.fit`` (``epochs``, ``batch_size``, ``verbose``...;
            default None: none); those given to ``fit`` itself take precedence.
        random_state: an int or ``np.random.RandomState`` that makes ``fit`` reproducible (default
            None: tapegrad's global generator); see ``SKLBase``.

    Attributes:
        classes_: the sorted class labels.
        model_, history_, n_features_in_: as for every wrapper.

    Example:
        >>> import numpy as np, tapegrad as tg
        >>> from tapegrad.wrappers import SKLearnClassifier
        >>> def make_model(X, y, hidden=8):
        ...     model = tg.Sequential([tg.Input(shape=(X.shape[1],)), tg.layers.Dense(hidden, activation="relu"),
        ...                            tg.layers.Dense(y.shape[1], activation="softmax")])
        ...     model.compile(optimizer=tg.optimizers.Adam(0.05), loss="categorical_crossentropy")
        ...     return model
        >>> X = np.random.default_rng(0).normal(size=(60, 2))
        >>> y = np.where(X[:, 0] > 0, "right", "left")
        >>> clf = SKLearnClassifier(make_model, model_kwargs={"hidden": 8}, fit_kwargs={"epochs": 30, "verbose": 0},
        ...                         random_state=0).fit(X, y)
        >>> clf.classes_.tolist(), clf.predict_proba(X[:2]).shape, clf.score(X, y) > 0.9
        (['left', 'right'], (2, 2), True)
    """

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True  # small models trained for few epochs in the checks
        return tags

    def _validate_xy(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        return validate_data(self, X, y, dtype=np.float32)  # a column y is raveled, with sklearn's warning

    def _encode_target(self, y: np.ndarray) -> np.ndarray:
        kind = type_of_target(y, input_name="y", raise_unknown=True)
        if kind not in ("binary", "multiclass"):
            raise ValueError(f"SKLearnClassifier: only binary and multiclass targets are supported, received "
                             f"target type {kind!r}")
        classes, index = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"SKLearnClassifier: the classifier needs samples of at least 2 classes in y; only one "
                             f"class is present: {classes[0]!r}")
        self.classes_ = classes
        self._y_ndim = 1
        return np.eye(len(classes), dtype=np.float32)[index]

    def predict_proba(self, X: Any) -> np.ndarray:
        """The probability of each class of ``classes_`` for each sample: the model's outputs.

        The model's last layer must be a softmax over ``len(classes_)`` units for these to be
        probabilities; an output of another width is an error.
        """
        out = self._model_output(X)
        if out.ndim != 2 or out.shape[1] != len(self.classes_):
            raise ValueError(f"SKLearnClassifier: expected model outputs of shape (n_samples, {len(self.classes_)}) "
                             f"(one per class), received shape {out.shape}")
        return out

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class label for each sample."""
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class SKLearnRegressor(RegressorMixin, SKLBase):
    """A scikit-learn regressor around a tapegrad model (Keras's ``keras.wrappers.SKLearnRegressor``).

    ``y`` of shape (n_samples,) or (n_samples, n_outputs) is given to the model as a float32
    matrix (one column for a 1-D ``y``, and ``predict`` returns 1-D again); ``score`` is R².

    Args:
        model: a compiled ``tg.Model``/``tg.Sequential``, or a callable returning one (default
            None, which ``fit`` rejects). A model is cloned with fresh weights and compiled like
            the original before each fit, unless ``warm_start``. A callable is called as
            ``model(X=X, y=y, **model_kwargs)`` with the validated inputs and
            the targets as a float32 matrix, so it can size the input and output
            layers; it must return a compiled model.
        warm_start: reuse the weights of the previous fit (and, for a model given as an
            instance, train that instance itself) instead of starting again (default False).
        model_kwargs: keyword arguments for ``model`` when it is a callable (default None: none);
            a grid search can vary them (``param_grid={"model_kwargs": [...]}``).
        fit_kwargs: keyword arguments for ``model.fit`` (``epochs``, ``batch_size``, ``verbose``...;
            default None: none); those given to ``fit`` itself take precedence.
        random_state: an int or ``np.random.RandomState`` that makes ``fit`` reproducible (default
            None: tapegrad's global generator); see ``SKLBase``.

    Example:
        >>> import numpy as np, tapegrad as tg
        >>> from tapegrad.wrappers import SKLearnRegressor
        >>> def make_model(X, y):
        ...     model = tg.Sequential([tg.Input(shape=(X.shape[1],)), tg.layers.Dense(y.shape[1])])
        ...     model.compile(optimizer=tg.optimizers.Adam(0.1), loss="mse")
        ...     return model
        >>> X = np.random.default_rng(0).normal(size=(80, 3))
        >>> y = X @ np.array([1.0, -2.0, 0.5]) + 1.0
        >>> reg = SKLearnRegressor(make_model, fit_kwargs={"epochs": 60, "verbose": 0}, random_state=0).fit(X, y)
        >>> reg.predict(X[:3]).shape, reg.score(X, y) > 0.95
        ((3,), True)
    """

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        tags.target_tags.multi_output = True
        return tags

    def predict(self, X: Any) -> np.ndarray:
        """The predicted targets, float64 as scikit-learn's regressors return them."""
        return super().predict(X).astype(np.float64)


class SKLearnTransformer(TransformerMixin, SKLBase):
    """A scikit-learn transformer: a tapegrad model as a feature extractor (Keras's
    ``keras.wrappers.SKLearnTransformer``).

    ``fit`` trains the model on ``X`` and ``y``; ``transform`` returns the model's outputs,
    e.g. an embedding to feed to another estimator in a ``Pipeline``.

    Args:
        model: a compiled ``tg.Model``/``tg.Sequential``, or a callable returning one (default
            None, which ``fit`` rejects). A model is cloned with fresh weights and compiled like
            the original before each fit, unless ``warm_start``. A callable is called as
            ``model(X=X, y=y, **model_kwargs)`` with the validated inputs and
            the targets as a float32 matrix, so it can size the input and output
            layers; it must return a compiled model.
        warm_start: reuse the weights of the previous fit (and, for a model given as an
            instance, train that instance itself) instead of starting again (default False).
        model_kwargs: keyword arguments for ``model`` when it is a callable (default None: none);
            a grid search can vary them (``param_grid={"model_kwargs": [...]}``).
        fit_kwargs: keyword arguments for ``model.fit`` (``epochs``, ``batch_size``, ``verbose``...;
            default None: none); those given to ``fit`` itself take precedence.
        random_state: an int or ``np.random.RandomState`` that makes ``fit`` reproducible (default
            None: tapegrad's global generator); see ``SKLBase``.

    Example:
        >>> import numpy as np, tapegrad as tg
        >>> from tapegrad.wrappers import SKLearnTransformer
        >>> def make_model(X, y):
        ...     model = tg.Sequential([tg.Input(shape=(X.shape[1],)), tg.layers.Dense(2, activation="tanh")])
        ...     model.compile(optimizer="adam", loss="mse")
        ...     return model
        >>> X = np.random.default_rng(0).normal(size=(20, 4))
        >>> t = SKLearnTransformer(make_model, fit_kwargs={"epochs": 2, "verbose": 0}, random_state=0)
        >>> t.fit_transform(X, X[:, :2]).shape
        (20, 2)
    """

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []  # the outputs are the model's dtype (float32)
        return tags

    def transform(self, X: Any) -> np.ndarray:
        """The model's outputs for ``X``: array of shape (n_samples, n_outputs)."""
        return self._model_output(X)

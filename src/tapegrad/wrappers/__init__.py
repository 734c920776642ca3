"""scikit-learn estimators around tapegrad models (``tg.wrappers``; needs ``tapegrad[sklearn]``).

``SKLearnClassifier``, ``SKLearnRegressor`` and ``SKLearnTransformer`` follow Keras 3's
``keras.wrappers``: they make a model usable in a ``Pipeline``, ``GridSearchCV`` or
``cross_val_score``. Without scikit-learn the package still imports, and making an
estimator raises one ``ImportError`` naming the extra to install (as Keras does).
"""

from .sklearn_wrapper import SKLearnClassifier, SKLearnRegressor, SKLearnTransformer

__all__ = ["SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer"]

"""scikit-learn estimators around tapegrad models (``tg.wrappers``; needs ``tapegrad[sklearn]``).

``SKLearnClassifier``, ``SKLearnRegressor`` and ``SKLearnTransformer`` follow Keras 3's
``keras.wrappers``: they make a model usable in a ``Pipeline``, ``GridSearchCV`` or
``cross_val_score``. Importing this package without scikit-learn raises one
``ImportError`` naming the extra to install.
"""

from .._extras import require_sklearn

require_sklearn("tapegrad's scikit-learn wrappers (tg.wrappers)")

from .sklearn_wrapper import SKLearnClassifier, SKLearnRegressor, SKLearnTransformer  # noqa: E402

__all__ = ["SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer"]

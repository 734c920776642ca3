"""The scikit-learn wrappers pass scikit-learn's own estimator checks and work in its tools
(clone, cross_val_score, GridSearchCV, Pipeline with StandardScaler and ColumnTransformer)."""

import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import tapegrad as tg  # noqa: E402
from tapegrad.wrappers import SKLearnClassifier, SKLearnRegressor, SKLearnTransformer  # noqa: E402


def dynamic_model(X, y, loss, out_activation="softmax", hidden=(8,), lr=0.05):
    """An MLP sized from the data: X's features in, y's columns out (as Keras's test does)."""
    layers = [tg.Input(shape=(X.shape[1],))]
    layers += [tg.layers.Dense(units, activation="relu") for units in hidden]
    layers.append(tg.layers.Dense(y.shape[1], activation=out_activation))
    model = tg.Sequential(layers)
    model.compile(optimizer=tg.optimizers.Adam(lr), loss=loss)
    return model


FIT = {"epochs": 3, "batch_size": 64, "verbose": 0}

# Checks that cannot apply, with the reason, as Keras's own test lists them (an expected
# failure that passes is reported as XPASS, not as an error).
EXPECTED_FAILED_CHECKS: dict = {
    "SKLearnClassifier": {
        "check_classifiers_one_label_sample_weights": (
            "zero sample weights remove one class from the loss, but a few epochs of gradient descent from random "
            "weights need not move every prediction to the remaining class (Keras lists it too)"),
    },
    "SKLearnRegressor": {},
    "SKLearnTransformer": {},
}

ESTIMATORS = [
    SKLearnClassifier(model=dynamic_model, model_kwargs={"loss": "categorical_crossentropy"}, fit_kwargs=FIT,
                      random_state=0),
    SKLearnRegressor(model=dynamic_model, model_kwargs={"loss": "mse", "out_activation": None}, fit_kwargs=FIT,
                     random_state=0),
    SKLearnTransformer(model=dynamic_model, model_kwargs={"loss": "mse", "out_activation": None}, fit_kwargs=FIT,
                       random_state=0),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS[type(est).__name__])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def classifier(**kw):
    fit = {"epochs": 20, "batch_size": 32, "verbose": 0}
    return SKLearnClassifier(model=dynamic_model, model_kwargs={"loss": "categorical_crossentropy", **kw},
                             fit_kwargs=fit, random_state=0)


def blobs(n=120, seed=0):
    X, y = make_classification(n_samples=n, n_features=4, n_informative=3, n_redundant=0, n_classes=3,
                               n_clusters_per_class=1, class_sep=2.0, random_state=seed)
    return X, y


def test_string_labels_and_predict_proba():
    X, y = blobs()
    names = np.array(["cat", "dog", "eel"])[y]
    clf = classifier().fit(X, names)
    assert clf.classes_.tolist() == ["cat", "dog", "eel"] and clf.n_features_in_ == 4
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    pred = clf.predict(X)
    assert pred.dtype == names.dtype and set(pred) <= {"cat", "dog", "eel"}
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(axis=1)])
    # score is the accuracy, as sklearn computes it
    assert clf.score(X, names) == pytest.approx(sklearn.metrics.accuracy_score(names, pred))
    assert clf.score(X, names) > 0.9


def test_random_state_gives_identical_fits_and_leaves_the_global_generator_alone():
    X, y = blobs()
    tg.random.set_seed(123)
    expected_next = np.random.default_rng(123).normal()  # what the global generator gives next
    a = classifier(hidden=(6,)).fit(X, y).predict_proba(X)
    b = classifier(hidden=(6,)).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert tg.random.generator().normal() == expected_next
    c = SKLearnClassifier(model=dynamic_model, model_kwargs={"loss": "categorical_crossentropy", "hidden": (6,)},
                          fit_kwargs={"epochs": 20, "verbose": 0}, random_state=1).fit(X, y).predict_proba(X)
    assert not np.array_equal(a, c)


def test_params_are_stored_unchanged_and_fit_kwargs_not_mutated():
    fit = {"epochs": 2, "verbose": 0}
    kw = {"loss": "categorical_crossentropy"}
    clf = SKLearnClassifier(model=dynamic_model, model_kwargs=kw, fit_kwargs=fit, random_state=0)
    assert clf.get_params()["fit_kwargs"] is fit and clf.get_params()["model_kwargs"] is kw
    X, y = blobs(40)
    clf.fit(X, y, epochs=1, batch_size=8)
    assert fit == {"epochs": 2, "verbose": 0}
    assert len(clf.history_["loss"]) == 1  # the fit argument took precedence


def test_clone_gives_an_unfitted_estimator_with_equal_params():
    X, y = blobs(40)
    clf = classifier().fit(X, y)
    c = clone(clf)
    assert c.get_params() == clf.get_params() and not hasattr(c, "model_")
    with pytest.raises(sklearn.exceptions.NotFittedError):
        c.predict(X)


def test_a_compiled_model_instance_is_cloned_and_compiled_like_the_original():
    X, y = make_regression(n_samples=60, n_features=3, noise=0.1, random_state=0)
    model = tg.Sequential([tg.Input(shape=(3,)), tg.layers.Dense(1)])
    model.compile(optimizer=tg.optimizers.SGD(0.05), loss="mse")
    before = model.layers[0].kernel.numpy().copy()
    reg = SKLearnRegressor(model=model, fit_kwargs={"epochs": 30, "verbose": 0}, random_state=0).fit(X, y)
    assert reg.model_ is not model
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), before)  # the given model is not trained
    assert isinstance(reg.model_.optimizer, tg.optimizers.SGD) and reg.model_.optimizer is not model.optimizer
    assert reg.model_.optimizer.get_config()["learning_rate"] == pytest.approx(0.05)
    assert reg.score(X, y) > 0.95
    # cross-validation clones the wrapper, and so the model, for each fold
    scores = cross_val_score(reg, X, y, cv=3)
    assert scores.shape == (3,) and (scores > 0.9).all()


def test_warm_start_reuses_the_model_instance():
    model = tg.Sequential([tg.Input(shape=(4,)), tg.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    X = np.ones((4, 4))
    y = np.array([1, 2, 1, 2])
    est = SKLearnClassifier(model=model, warm_start=True, fit_kwargs={"verbose": 0})
    est.fit(X, y, epochs=1)
    assert est.model_ is model
    w = model.layers[0].kernel.numpy().copy()
    est.fit(X, y, epochs=1)
    assert est.model_ is model and not np.array_equal(model.layers[0].kernel.numpy(), w)


def test_cross_val_score_matches_a_manual_loop():
    X, y = blobs()
    clf = classifier()
    scores = cross_val_score(clf, X, y, cv=KFold(3))
    manual = [clone(clf).fit(X[tr], y[tr]).score(X[te], y[te]) for tr, te in KFold(3).split(X)]
    np.testing.assert_allclose(scores, manual)  # random_state makes each fold's fit reproducible
    assert scores.mean() > 0.85


def test_grid_search_over_model_hyperparameters():
    X, y = blobs()
    grid = GridSearchCV(classifier(), {"model_kwargs": [{"loss": "categorical_crossentropy", "lr": 1e-4},
                                                        {"loss": "categorical_crossentropy", "lr": 0.05}]}, cv=3)
    grid.fit(X, y)
    assert grid.best_params_["model_kwargs"]["lr"] == 0.05  # a rate of 1e-4 barely moves in 20 epochs
    assert grid.best_estimator_.score(X, y) > 0.9
    assert len(grid.cv_results_["mean_test_score"]) == 2


def test_pipeline_with_standard_scaler():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.normal(size=100)
    X = X * np.array([1000.0, 0.001, 1.0, 50.0])  # badly scaled features
    reg = SKLearnRegressor(model=dynamic_model, model_kwargs={"loss": "mse", "out_activation": None, "hidden": (),
                                                              "lr": 0.1},
                           fit_kwargs={"epochs": 80, "verbose": 0}, random_state=0)
    pipe = make_pipeline(StandardScaler(), reg).fit(X, y)
    assert pipe.score(X, y) > 0.98
    # the pipeline's prediction is the wrapper's on the scaled data
    scaled = pipe[0].transform(X)
    np.testing.assert_allclose(pipe.predict(X), pipe[-1].predict(scaled))


def test_pipeline_with_column_transformer():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    n = 150
    color = rng.choice(["red", "green", "blue"], size=n)
    size = rng.normal(10, 5, size=n)
    label = np.where((color == "red") | (size > 12), "yes", "no")
    df = pd.DataFrame({"color": color, "size": size})
    pre = ColumnTransformer([("num", StandardScaler(), ["size"]), ("cat", OneHotEncoder(), ["color"])])
    pipe = Pipeline([("pre", pre), ("clf", SKLearnClassifier(
        model=dynamic_model, model_kwargs={"loss": "categorical_crossentropy", "hidden": (16,)},
        fit_kwargs={"epochs": 60, "batch_size": 16, "verbose": 0}, random_state=0))])
    pipe.fit(df, label)
    assert pipe.named_steps["clf"].n_features_in_ == 4
    assert pipe.score(df, label) > 0.9
    # an independent reference on the same features does as well
    ref = Pipeline([("pre", clone(pre)), ("lr", LogisticRegression())]).fit(df, label)
    assert pipe.score(df, label) >= ref.score(df, label) - 0.05


def test_transformer_as_a_feature_extractor_in_a_pipeline():
    X, y = blobs()
    onehot = np.eye(3)[y]
    emb = SKLearnTransformer(model=dynamic_model, model_kwargs={"loss": "categorical_crossentropy"},
                             fit_kwargs={"epochs": 20, "verbose": 0}, random_state=0).fit(X, onehot)
    features = emb.transform(X)
    assert features.shape == (len(X), 3)
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(features, y)
    assert pipe.score(features, y) > 0.9


def test_bad_arguments_are_clear_errors():
    X, y = blobs(30)
    with pytest.raises(TypeError, match="expected model to be a tg.Model or a callable returning one, received str"):
        SKLearnClassifier(model="mlp").fit(X, y)
    uncompiled = tg.Sequential([tg.Input(shape=(4,)), tg.layers.Dense(3, activation="softmax")])
    with pytest.raises(RuntimeError, match="must be compiled"):
        SKLearnClassifier(model=uncompiled).fit(X, y)
    with pytest.raises(ValueError, match="only one class is present"):
        classifier().fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="only binary and multiclass targets"):
        classifier().fit(X, np.linspace(0, 1, len(X)))
    with pytest.raises(TypeError, match="expected fit_kwargs to be a dict or None, received list"):
        SKLearnClassifier(model=dynamic_model, fit_kwargs=[1]).fit(X, y)


def test_without_sklearn_the_package_imports_and_making_an_estimator_names_the_extra():
    import subprocess
    import sys

    code = ("import sys\nsys.modules['sklearn'] = None\nfrom tapegrad import *\nimport tapegrad as tg\n"
            "try:\n    tg.wrappers.SKLearnClassifier(model=None)\nexcept ImportError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ("scikit-learn is not installed (needed for tapegrad's scikit-learn wrappers "
                                  '(SKLearnClassifier)): pip install "tapegrad[sklearn]"')


def test_sample_weight_goes_to_model_fit():
    X, y = blobs(60)
    y = (y > 0).astype(int)
    weights = np.where(y == 0, 0.0, 1.0)  # class 0 carries no weight: the model learns only class 1
    clf = SKLearnClassifier(model=dynamic_model, model_kwargs={"loss": "categorical_crossentropy", "lr": 0.05},
                            fit_kwargs={"epochs": 40, "verbose": 0}, random_state=0)
    clf.fit(X, y, sample_weight=weights)
    assert (clf.predict(X) == 1).all()


def test_random_state_wins_over_a_callers_thread_generator():
    X, y = blobs(40)
    a = classifier().fit(X, y).predict_proba(X)
    with tg.random.use(np.random.default_rng(99)):
        b = classifier().fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)

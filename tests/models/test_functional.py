"""Functional models, ``tg.Model(inputs, outputs)``: Keras's functional API guide examples with
``keras`` replaced by ``tapegrad``, shapes, sharing, nesting, training, saving, replay and errors."""

import json
import os

import numpy as np
import pytest

import tapegrad as tg

keras = tg
layers = tg.layers
SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")


def mnist_model():
    inputs = keras.Input(shape=(784,))
    dense = layers.Dense(64, activation="relu")
    x = dense(inputs)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10)(x)
    return keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")


# -- symbolic tensors and shapes ---------------------------------------------------------------
def test_input_is_symbolic_and_layers_infer_shapes():
    inputs = keras.Input(shape=(784,))
    assert isinstance(inputs, tg.KerasTensor) and inputs.shape == (None, 784) and inputs.dtype == np.float32
    assert layers.Dense(64)(inputs).shape == (None, 64)
    img = keras.Input(shape=(32, 32, 3))
    assert layers.Conv2D(32, 3)(img).shape == (None, 30, 30, 32)
    seq = keras.Input(shape=(None,), dtype="int32")
    assert layers.Embedding(100, 8)(seq).shape == (None, None, 8)
    with pytest.raises(TypeError, match="symbolic"):
        np.asarray(inputs)


BUILTIN_CASES = [
    (lambda: layers.Dense(5), (7, 3)), (lambda: layers.Activation("relu"), (4, 3)), (lambda: layers.Flatten(), (3, 4, 5)),
    (lambda: layers.Reshape((-1, 2)), (4, 6)), (lambda: layers.Dropout(0.5), (4, 3)),
    (lambda: layers.Conv2D(4, 3, strides=2, padding="same"), (7, 7, 2)), (lambda: layers.Conv2D(4, 3, dilation_rate=2), (9, 8, 2)),
    (lambda: layers.Conv2D(4, 3, data_format="channels_first"), (2, 9, 8)), (lambda: layers.Conv1D(4, 3, strides=2), (11, 2)),
    (lambda: layers.MaxPooling2D(3, strides=2), (9, 9, 2)), (lambda: layers.AveragePooling2D(2, padding="same"), (7, 5, 2)),
    (lambda: layers.GlobalAveragePooling2D(), (4, 4, 3)), (lambda: layers.GlobalMaxPooling2D(keepdims=True), (4, 4, 3)),
    (lambda: layers.ZeroPadding2D(((1, 2), (0, 3))), (4, 4, 3)), (lambda: layers.UpSampling2D((2, 3)), (4, 4, 3)),
    (lambda: layers.BatchNormalization(), (4, 3)), (lambda: layers.Normalization(mean=0.0, variance=1.0), (4, 3)),
    (lambda: layers.Embedding(10, 4), (6,)), (lambda: layers.Masking(), (5, 3)), (lambda: layers.LayerNormalization(), (5, 3)),
    (lambda: layers.Identity(), (5, 3)), (lambda: layers.RepeatVector(3), (5,)), (lambda: layers.Permute((2, 1)), (5, 3)),
    (lambda: layers.MaxPooling1D(2), (7, 3)), (lambda: layers.AveragePooling1D(3, 2, padding="same"), (7, 3)),
    (lambda: layers.GlobalAveragePooling1D(), (7, 3)), (lambda: layers.GlobalMaxPooling1D(), (7, 3)),
]


@pytest.mark.parametrize("case", range(len(BUILTIN_CASES)))
def test_compute_output_shape_of_every_builtin_layer_matches_a_real_call(case):
    make, shape = BUILTIN_CASES[case]
    layer = make()
    ids = isinstance(layer, layers.Embedding)
    x = np.random.default_rng(0).integers(0, 10, (2,) + shape) if ids else \
        np.random.default_rng(0).normal(size=(2,) + shape).astype(np.float32)
    real = layer(x).shape  # the computation, independent of compute_output_shape
    symbolic = layer(keras.Input(shape=shape, dtype="int32" if ids else None))
    assert symbolic.shape == (None,) + real[1:]


def test_unknown_sizes_stay_none_and_custom_layers_are_probed():
    seq = keras.Input(shape=(None, 6))
    assert layers.Conv1D(4, 3)(seq).shape == (None, None, 4)
    assert layers.GlobalAveragePooling1D()(seq).shape == (None, 6)

    class Twice(layers.Layer):  # defines no compute_output_shape: run on zeros to find it
        def call(self, x):
            return tg.concat([x, x], axis=1)

    assert Twice()(seq).shape == (None, None, 6)
    assert Twice()(keras.Input(shape=(3, 6))).shape == (None, 6, 6)


# -- Keras's guide: MNIST ------------------------------------------------------------------------
def test_guide_mnist_model_shapes_and_summary():
    model = mnist_model()
    assert model.count_params() == 55050  # the guide's "Total params: 55,050"
    assert [type(l).__name__ for l in model.layers] == ["InputLayer", "Dense", "Dense", "Dense"]
    assert model.input_shape == (None, 784) and model.output_shape == (None, 10)
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Connected to" in text and 'Model: "mnist_model"' in text and "Total params: 55,050" in text
    first_dense = model.layers[1].name
    assert f"{first_dense}[0][0]" in text


@pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED, "mnist")), reason="MNIST data not present")
def test_guide_mnist_trains_one_epoch_to_95_percent():
    tg.random.set_seed(0)
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data(os.path.join(SHARED, "mnist"))
    x_train = x_train.reshape(60000, 784).astype("float32") / 255
    x_test = x_test.reshape(10000, 784).astype("float32") / 255
    model = mnist_model()
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=keras.optimizers.RMSprop(), metrics=["accuracy"])
    # The guide fits 2 epochs of batches of 64; one epoch of fit's default batches of 32 reaches 95% too.
    model.fit(x_train, y_train, batch_size=32, epochs=1, verbose=0)
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    assert acc >= 0.95
    assert model._fast_step.replayed > 0  # trained through the recorded step


# -- Keras's guide: multiple inputs and outputs ------------------------------------------------
def ticket_model():
    num_tags, num_words, num_departments = 12, 1000, 4
    title_input = keras.Input(shape=(None,), name="title", dtype="int32")
    body_input = keras.Input(shape=(None,), name="body", dtype="int32")
    tags_input = keras.Input(shape=(num_tags,), name="tags")
    title_features = layers.Embedding(num_words, 64)(title_input)
    body_features = layers.Embedding(num_words, 64)(body_input)
    title_features = layers.GlobalAveragePooling1D()(title_features)  # LSTM(128) in the guide
    body_features = layers.GlobalAveragePooling1D()(body_features)  # LSTM(32) in the guide
    x = layers.concatenate([title_features, body_features, tags_input])
    priority_pred = layers.Dense(1, name="priority")(x)
    department_pred = layers.Dense(num_departments, name="department")(x)
    return keras.Model(inputs=[title_input, body_input, tags_input], outputs={"priority": priority_pred,
                                                                               "department": department_pred})


def ticket_data(n=64):
    rng = np.random.default_rng(3)
    x = {"title": rng.integers(1000, size=(n, 10)), "body": rng.integers(1000, size=(n, 30)),
         "tags": rng.integers(2, size=(n, 12)).astype("float32")}
    y = {"priority": rng.random(size=(n, 1)).astype("float32"),
         "department": np.eye(4, dtype="float32")[rng.integers(4, size=n)]}
    return x, y


def _softplus(z):
    return np.logaddexp(0, z)


def test_guide_multi_input_multi_output_with_dict_losses_and_loss_weights():
    tg.random.set_seed(1)
    model = ticket_model()
    assert model.output_names == ["priority", "department"] and model.input_names == ["title", "body", "tags"]
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss={"priority": keras.losses.BinaryCrossentropy(from_logits=True),
                        "department": keras.losses.CategoricalCrossentropy(from_logits=True)},
                  loss_weights={"priority": 1.0, "department": 0.2}, metrics={"department": ["accuracy"]})
    x, y = ticket_data()
    history = model.fit(x, y, epochs=2, batch_size=32, verbose=0, validation_split=0.25)
    assert set(history.history) == {"loss", "priority_loss", "department_loss", "department_accuracy", "val_loss",
                                     "val_priority_loss", "val_department_loss", "val_department_accuracy"}
    pred = model.predict(x, verbose=0)
    assert pred["priority"].shape == (64, 1) and pred["department"].shape == (64, 4)
    # The losses from their published formulas on the predictions.
    p, d = pred["priority"].astype(np.float64), pred["department"].astype(np.float64)
    bce = np.mean(_softplus(p) - y["priority"] * p)
    cce = np.mean(np.log(np.exp(d).sum(1)) - (y["department"] * d).sum(1))
    acc = np.mean(d.argmax(1) == y["department"].argmax(1))
    logs = model.evaluate([x["title"], x["body"], x["tags"]], y, batch_size=64, verbose=0, return_dict=True)
    assert logs["priority_loss"] == pytest.approx(bce, rel=1e-4)
    assert logs["department_loss"] == pytest.approx(cce, rel=1e-4)
    assert logs["loss"] == pytest.approx(bce + 0.2 * cce, rel=1e-4)
    assert logs["department_accuracy"] == pytest.approx(acc)


def test_losses_as_lists_and_single_values_and_train_on_batch_with_lists():
    model = ticket_model()
    x, y = ticket_data(16)
    xs, ys = [x["title"], x["body"], x["tags"]], [y["priority"], y["department"]]
    model.compile(optimizer="sgd", loss=["mse", "mse"], loss_weights=[2.0, 0.0])
    pred = model.predict(xs, verbose=0)
    mse = np.mean((pred["priority"] - y["priority"]) ** 2)
    assert model.test_on_batch(xs, ys, return_dict=True)["loss"] == pytest.approx(2 * mse, rel=1e-5)
    model.compile(optimizer="sgd", loss="mse")  # one loss for every output, as Keras
    logs = model.train_on_batch(x, y, return_dict=True)
    assert set(logs) == {"loss", "priority_loss", "department_loss"}
    with pytest.raises(ValueError, match="not outputs of the model"):
        model.compile(optimizer="sgd", loss={"prio": "mse"})
        model.train_on_batch(x, y)


def test_dict_of_targets_missing_an_output_fails_before_any_weight_changes():
    model = ticket_model()
    model.compile(optimizer="adam", loss={"priority": "mse", "department": "mse"})
    x, y = ticket_data(16)
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"no entry for the outputs \['department'\].*received the keys \['priority'\]"):
        model.fit(x, {"priority": y["priority"]}, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    with pytest.raises(ValueError, match=r"expected inputs with the keys \['title', 'body', 'tags'\]"):
        model.predict({"title": x["title"], "body": x["body"]}, verbose=0)


# -- Keras's guide: a toy ResNet ---------------------------------------------------------------
def toy_resnet():
    inputs = keras.Input(shape=(32, 32, 3), name="img")
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    block_1_output = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_1_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_2_output = layers.add([x, block_1_output])
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_2_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_3_output = layers.add([x, block_2_output])
    x = layers.Conv2D(64, 3, activation="relu")(block_3_output)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(10)(x)
    return keras.Model(inputs, outputs, name="toy_resnet"), block_1_output


def test_guide_toy_resnet_builds_and_trains_a_few_batches():
    tg.random.set_seed(2)
    model, block_1_output = toy_resnet()
    assert block_1_output.shape == (None, 9, 9, 64)
    assert model.count_params() == 223242  # the guide's "Total params: 223,242"
    lines = []
    model.summary(print_fn=lines.append)
    rows = lines[0].splitlines()
    first_add = next(i for i, l in enumerate(rows) if "(Add)" in l)
    pool = next(l.name for l in model.layers if isinstance(l, layers.MaxPooling2D))
    assert rows[first_add].rstrip().endswith("[0][0]") and rows[first_add + 1].strip() == f"{pool}[0][0]"
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 32, 32, 3)).astype("float32"), np.eye(10, dtype="float32")[rng.integers(10, size=8)]
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss=keras.losses.CategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert set(history.history) == {"loss", "accuracy"} and np.isfinite(history.history["loss"]).all()
    assert model._fast_step.recorded == 1 and model._fast_step.replayed == 3


# -- sharing, nesting, feature extraction ---------------------------------------------------------
def test_guide_shared_embedding_between_two_inputs():
    shared_embedding = layers.Embedding(1000, 128)
    text_input_a = keras.Input(shape=(None,), dtype="int32")
    text_input_b = keras.Input(shape=(None,), dtype="int32")
    encoded_input_a = shared_embedding(text_input_a)
    encoded_input_b = shared_embedding(text_input_b)
    pooled = layers.concatenate([layers.GlobalAveragePooling1D()(encoded_input_a),
                                 layers.GlobalAveragePooling1D()(encoded_input_b)])
    model = keras.Model([text_input_a, text_input_b], layers.Dense(1)(pooled))
    assert model.count_params() == 1000 * 128 + 257  # one table
    assert len(shared_embedding._inbound_nodes) == 2 and sum(l is shared_embedding for l in model.layers) == 1
    a, b = np.array([[1, 2, 3]]), np.array([[4, 5, 6]])
    with tg.GradientTape() as tape:
        out = model([a, b])
    grad = tape.gradient(out, shared_embedding.embeddings).numpy()
    assert set(np.nonzero(grad.any(1))[0].tolist()) == {1, 2, 3, 4, 5, 6}  # both inputs reach the one table
    table, w = shared_embedding.embeddings.numpy(), model.layers[-1].kernel.numpy()
    expected = np.concatenate([table[[1, 2, 3]].mean(0), table[[4, 5, 6]].mean(0)]) @ w[:, 0]
    assert float(out.numpy()[0, 0]) == pytest.approx(float(expected), rel=1e-5, abs=1e-6)


def test_feature_extraction_submodel_shares_weights():
    inputs = keras.Input(shape=(4,))
    h1 = layers.Dense(8, activation="relu", name="h1")(inputs)
    h2 = layers.Dense(3, name="h2")(h1)
    out = layers.Dense(1, name="out")(h2)
    model = keras.Model(inputs, out)
    extractor = keras.Model(model.input, model.get_layer("h2").output)
    everything = keras.Model(inputs=model.inputs, outputs=[layer.output for layer in model.layers[1:]])
    assert extractor.get_layer("h1") is model.get_layer("h1") and extractor.count_params() == 8 * 4 + 8 + 3 * 8 + 3
    x = np.random.default_rng(4).normal(size=(5, 4)).astype("float32")
    k1, b1 = model.get_layer("h1").get_weights()
    k2, b2 = model.get_layer("h2").get_weights()
    np.testing.assert_allclose(extractor.predict(x, verbose=0), np.maximum(x @ k1 + b1, 0) @ k2 + b2, rtol=1e-5,
                               atol=1e-6)
    model.get_layer("h2").kernel.assign(np.zeros((8, 3)))  # a change to the model is a change to the extractor
    np.testing.assert_allclose(extractor.predict(x, verbose=0), np.broadcast_to(b2, (5, 3)), atol=1e-7)
    assert [o.shape for o in everything.predict(x, verbose=0)] == [(5, 8), (5, 3), (5, 1)]


def test_guide_ensemble_of_nested_models_and_models_in_sequential():
    def get_model():
        inputs = keras.Input(shape=(128,))
        outputs = layers.Dense(1)(inputs)
        return keras.Model(inputs, outputs)

    model1, model2, model3 = get_model(), get_model(), get_model()
    inputs = keras.Input(shape=(128,))
    y1, y2, y3 = model1(inputs), model2(inputs), model3(inputs)
    outputs = layers.average([y1, y2, y3])
    ensemble_model = keras.Model(inputs=inputs, outputs=outputs)
    x = np.random.default_rng(5).normal(size=(4, 128)).astype("float32")
    expected = (model1.predict(x, verbose=0) + model2.predict(x, verbose=0) + model3.predict(x, verbose=0)) / 3
    np.testing.assert_allclose(ensemble_model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    assert ensemble_model.count_params() == 3 * 129
    stacked = tg.Sequential([model1, layers.Dense(2)])
    assert stacked.built and stacked.predict(x, verbose=0).shape == (4, 2)
    inner = tg.Sequential([keras.Input(shape=(128,)), layers.Dense(4)])
    outer = keras.Model(inputs, layers.Dense(1)(inner(inputs)))
    assert outer.output_shape == (None, 1) and outer.predict(x, verbose=0).shape == (4, 1)


def test_masks_travel_through_the_graph():
    ids_in = keras.Input(shape=(None,), dtype="int32")
    emb = layers.Embedding(6, 3, mask_zero=True)
    pooled = layers.GlobalAveragePooling1D()(emb(ids_in))
    model = keras.Model(ids_in, pooled)
    ids = np.array([[5, 1, 0, 0], [2, 3, 4, 0]])
    table = emb.embeddings.numpy()
    expected = np.stack([table[[5, 1]].mean(0), table[[2, 3, 4]].mean(0)])
    np.testing.assert_allclose(model.predict(ids, verbose=0), expected, rtol=1e-6)


def test_subclassing_and_sequential_with_input_still_work():
    class Tiny(tg.Model):
        def __init__(self):
            super().__init__()
            self.d = layers.Dense(2)

        def call(self, x, training=False):
            return self.d(x)

    assert type(Tiny()) is Tiny and Tiny()(np.ones((1, 3))).shape == (1, 2)
    seq = tg.Sequential([keras.Input(shape=(3,)), layers.Dense(2)])
    assert seq.built and [type(l).__name__ for l in seq.layers] == ["Dense"]
    with pytest.raises(TypeError, match="received 1 positional arguments"):
        tg.Model(np.ones(3))


def test_guide_custom_train_step_on_a_functional_subclass(tmp_path):
    class CustomModel(keras.Model):  # "Customizing what happens in fit()", with keras -> tapegrad
        def train_step(self, data):
            x, y = data[:2]  # tapegrad passes (x, y, sample_weight); Keras passes (x, y) without weights
            with tg.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            trainable_vars = self.trainable_variables
            gradients = tape.gradient(loss, trainable_vars)
            self.optimizer.apply_gradients(zip(gradients, trainable_vars))
            self.steps_seen = getattr(self, "steps_seen", 0) + 1
            return self.compute_metrics(x, y, y_pred, loss=loss)

    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = CustomModel(inputs, outputs)
    assert isinstance(model, CustomModel) and isinstance(model, tg.models.Functional)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    rng = np.random.default_rng(12)
    x, y = rng.random((64, 32)).astype("float32"), rng.random((64, 1)).astype("float32")
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert model.steps_seen == 8 and set(history.history) == {"loss", "mean_absolute_error"}

    class Built(keras.Model):  # the graph made in __init__
        def __init__(self, width=4):
            inputs = keras.Input(shape=(3,))
            super().__init__(inputs, layers.Dense(width)(inputs))

    frozen_in = keras.Input((2,))
    frozen = keras.Model(frozen_in, layers.Dense(1)(frozen_in), trainable=False)
    assert frozen.trainable_weights == [] and not frozen.layers[1].trainable
    built = Built()
    assert type(built).__name__ == "Built" and isinstance(built, Built) and built.output_shape == (None, 4)
    tg.saving.register_serializable(package="test_functional")(CustomModel)
    path = str(tmp_path / "custom_model.tapegrad")
    model.save(path)
    loaded = tg.models.load_model(path)
    assert isinstance(loaded, CustomModel)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# -- errors at construction -------------------------------------------------------------------
def test_construction_errors_name_what_was_received():
    a, b = keras.Input(shape=(3,), name="a"), keras.Input(shape=(3,), name="b")
    out = layers.Dense(1)(a)
    with pytest.raises(ValueError, match=r"disconnected.*input 'a'.*\['b'\]"):
        keras.Model(b, out)
    with pytest.raises(ValueError, match="input 'b' .* is not used"):
        keras.Model([a, b], out)
    with pytest.raises(ValueError, match="expected input with last dimension 3, received shape \\(None, 4\\)"):
        dense = layers.Dense(2)
        dense(a)
        dense(keras.Input(shape=(4,)))
    with pytest.raises(ValueError, match="two inputs have the same name 'a'"):
        a2 = keras.Input(shape=(3,), name="a")
        keras.Model([a, a2], layers.add([a, a2]))
    with pytest.raises(ValueError, match="symbolic tensors"):
        keras.Model(a, np.ones((1, 3)))
    with pytest.raises(ValueError, match="must come from tg.Input"):
        keras.Model(out, layers.Dense(1)(out))
    with pytest.raises(ValueError, match=r"input 'a' expected shape \(None, 3\), received shape \(2, 5\)"):
        keras.Model(a, out)(np.ones((2, 5)))


# -- saving ---------------------------------------------------------------------------------------
def shared_nested_dict_model():
    encoder_in = keras.Input(shape=(5,), name="enc_in")
    encoder = keras.Model(encoder_in, layers.Dense(4, activation="tanh", name="enc_dense")(encoder_in), name="encoder")
    left, right = keras.Input(shape=(5,), name="left"), keras.Input(shape=(5,), name="right")
    shared = layers.Dense(3, name="shared")
    merged = layers.concatenate([shared(encoder(left)), shared(encoder(right))], name="merged")
    normed = layers.LayerNormalization(name="norm")(merged)
    return keras.Model({"left": left, "right": right},
                       {"score": layers.Dense(1, name="score")(normed),
                        "kind": layers.Dense(3, activation="softmax", name="kind")(normed)}, name="siamese")


def test_get_config_round_trip_with_shared_layers_nested_models_and_dicts():
    model = shared_nested_dict_model()
    config = model.get_config()
    json.dumps(config)
    assert [l["name"] for l in config["layers"]][:2] == ["left", "right"]
    shared = next(l for l in config["layers"] if l["name"] == "shared")
    assert [n["args"][0]["config"]["keras_history"] for n in shared["inbound_nodes"]] == [["encoder", 0, 0],
                                                                                          ["encoder", 1, 0]]
    clone = tg.models.Functional.from_config(config)
    assert clone.get_config() == config
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]


def test_save_and_load_round_trip(tmp_path):
    model = shared_nested_dict_model()
    model.compile(optimizer="adam", loss={"score": "mse", "kind": "sparse_categorical_crossentropy"},
                  metrics={"kind": ["accuracy"]})
    rng = np.random.default_rng(6)
    x = {"left": rng.normal(size=(8, 5)).astype("float32"), "right": rng.normal(size=(8, 5)).astype("float32")}
    y = {"score": rng.normal(size=(8, 1)).astype("float32"), "kind": rng.integers(3, size=8)}
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    path = str(tmp_path / "siamese.tapegrad")
    model.save(path)
    loaded = tg.models.load_model(path)
    assert type(loaded) is tg.models.Functional and loaded.output_names == ["score", "kind"]
    for key in ("score", "kind"):
        np.testing.assert_array_equal(loaded.predict(x, verbose=0)[key], model.predict(x, verbose=0)[key])
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0))
    h1 = model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False).history
    h2 = loaded.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False).history
    assert h1 == h2


def test_custom_layers_load_through_the_registry(tmp_path):
    @tg.saving.register_serializable(package="test_functional")
    class Double(layers.Layer):
        def call(self, x):
            return x * 2.0

    inputs = keras.Input(shape=(2,))
    model = keras.Model(inputs, layers.Dense(1)(Double()(inputs)))
    path = str(tmp_path / "custom.tapegrad")
    model.save(path)
    loaded = tg.models.load_model(path)
    x = np.ones((3, 2), "float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# -- replay -----------------------------------------------------------------------------------
def replay_model():
    inputs = keras.Input(shape=(12,))
    x = layers.Dense(16, activation="relu")(inputs)
    y = layers.Dense(16, activation="relu")(x)
    z = layers.add([x, y])
    z = layers.LayerNormalization()(z)
    z = layers.Dropout(0.25)(z)
    both = layers.concatenate([z, layers.Dense(4)(inputs)])
    inner_in = keras.Input(shape=(20,))
    inner = keras.Model(inner_in, layers.Dense(8, activation="tanh")(inner_in))
    return keras.Model(inputs, layers.Dense(3)(inner(both)))


@pytest.mark.parametrize("via", ["fit", "train_on_batch"])
def test_replayed_steps_equal_eager_steps_bit_for_bit(via):
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(48, 12)).astype("float32"), rng.integers(3, size=48)
    runs = []
    for eager in (True, False):
        tg.random.set_seed(9)
        model = replay_model()
        model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"], run_eagerly=eager)
        if via == "fit":
            logs = model.fit(x, y, epochs=2, batch_size=16, verbose=0).history
        else:
            logs = [model.train_on_batch(x[i:i + 16], y[i:i + 16], return_dict=True) for i in range(0, 48, 16)]
        runs.append((logs, model.get_weights(), model._fast_step))
    (eager_logs, eager_w, _), (fast_logs, fast_w, step) = runs
    assert step.recorded == 1 and step.replayed >= 2 and step.reason is None
    assert eager_logs == fast_logs
    assert all(np.array_equal(a, b) for a, b in zip(eager_w, fast_w))


def test_models_that_cannot_be_replayed_train_eagerly():
    model = ticket_model()  # several inputs and an Embedding: eager steps
    model.compile(optimizer="sgd", loss="mse")
    x, y = ticket_data(8)
    model.train_on_batch(x, y)
    assert model._fast_step.recorded == 0 and model._fast_step.reason


def test_several_inputs_replay_bit_for_bit_as_list_or_dict():
    def build():
        a, b = keras.Input(shape=(6,), name="a"), keras.Input(shape=(4,), name="b")
        merged = layers.concatenate([layers.Dense(8, activation="relu")(a), layers.Dense(8, activation="relu")(b)])
        return keras.Model([a, b], layers.Dense(2)(layers.multiply([merged, merged])))

    rng = np.random.default_rng(10)
    xa, xb, y = rng.normal(size=(40, 6)), rng.normal(size=(40, 4)), rng.integers(2, size=40)
    for data in ([xa, xb], {"b": xb, "a": xa}):
        runs = []
        for eager in (True, False):
            tg.random.set_seed(11)
            model = build()
            model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                          run_eagerly=eager)
            history = model.fit(data, y, epochs=2, batch_size=8, verbose=0).history
            runs.append((history, model.get_weights(), model._fast_step))
        (h1, w1, _), (h2, w2, step) = runs
        assert step.recorded == 1 and step.replayed == 9 and step.reason is None
        assert h1 == h2 and all(np.array_equal(p, q) for p, q in zip(w1, w2))


def test_masks_pass_through_dense_as_in_keras():
    ids_in = keras.Input(shape=(None,), dtype="int32")
    emb = layers.Embedding(6, 3, mask_zero=True)
    dense = layers.Dense(2, activation="relu")
    model = keras.Model(ids_in, layers.GlobalAveragePooling1D()(layers.Dropout(0.1)(dense(emb(ids_in)))))
    ids = np.array([[5, 1, 0], [2, 0, 0]])
    k, b = dense.get_weights()
    h = np.maximum(emb.embeddings.numpy()[ids] @ k + b, 0)
    expected = np.stack([h[0, :2].mean(0), h[1, :1].mean(0)])  # Dense keeps the mask: padding is left out
    np.testing.assert_allclose(model.predict(ids, verbose=0), expected, rtol=1e-5, atol=1e-7)


def test_guide_feature_extraction_from_a_sequential_model():
    initial_model = keras.Sequential([
        keras.Input(shape=(64, 64, 3)),  # 250 x 250 in the guide
        layers.Conv2D(32, 5, strides=2, activation="relu"),
        layers.Conv2D(32, 3, activation="relu", name="my_intermediate_layer"),
        layers.Conv2D(32, 3, activation="relu"),
    ])
    feature_extractor = keras.Model(inputs=initial_model.inputs,
                                    outputs=[layer.output for layer in initial_model.layers])
    x = tg.ones((1, 64, 64, 3))
    features = feature_extractor(x)
    assert [f.shape for f in features] == [(1, 30, 30, 32), (1, 28, 28, 32), (1, 26, 26, 32)]
    np.testing.assert_allclose(features[-1].numpy(), initial_model(x).numpy(), rtol=1e-6)
    middle = keras.Model(inputs=initial_model.inputs,
                         outputs=initial_model.get_layer(name="my_intermediate_layer").output)
    np.testing.assert_allclose(middle(x).numpy(), features[1].numpy(), rtol=1e-6)
    initial_model.add(layers.Flatten())  # the trace follows the layers
    assert initial_model.output.shape == (None, 26 * 26 * 32) and len(initial_model.layers[0]._inbound_nodes) == 1
    clone = tg.models.Functional.from_config(feature_extractor.get_config())  # made from the earlier trace
    assert [t.shape for t in clone.outputs] == [t.shape for t in feature_extractor.outputs]


def test_guide_custom_layer_config_round_trip_and_a_dataframe_input():
    class CustomDense(layers.Layer):
        def __init__(self, units=32):
            super().__init__()
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True)
            self.b = self.add_weight(shape=(self.units,), initializer="random_normal", trainable=True)

        def call(self, inputs):
            return tg.matmul(inputs, self.w) + self.b

        def get_config(self):
            return {"units": self.units}

    inputs = keras.Input((4,))
    outputs = CustomDense(10)(inputs)
    model = keras.Model(inputs, outputs)
    config = model.get_config()
    new_model = keras.Model.from_config(config, custom_objects={"CustomDense": CustomDense})
    assert isinstance(new_model, tg.models.Functional) and new_model.output_shape == (None, 10)
    assert isinstance(new_model.layers[1], CustomDense) and new_model.layers[1].units == 10

    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(np.random.default_rng(13).normal(size=(12, 4)), columns=list("abcd"))
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(frame, np.zeros((12, 10), "float32"), epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1 and model.predict(frame, verbose=0).shape == (12, 10)


def test_a_graph_deeper_than_pythons_recursion_limit_builds_runs_and_rebuilds():
    x = inputs = keras.Input(shape=(2,))
    for _ in range(1500):  # more calls than Python's default recursion limit of 1000
        x = layers.Dense(2)(x)
    model = keras.Model(inputs, x)
    with tg.GradientTape() as tape:
        out = model(np.ones((1, 2)))
    assert tape.gradient(tg.sum(out), model.trainable_weights[0]).shape == (2, 2)
    assert len(tg.models.Functional.from_config(model.get_config()).layers) == 1501

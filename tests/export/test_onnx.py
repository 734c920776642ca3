"""ONNX export: ONNX Runtime's outputs against predict's, for every supported layer and whole models."""

import os
import subprocess
import sys

import numpy as np
import pytest

import tapegrad as tg

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

L = tg.layers


def run_onnx(model, x, tmp_path):
    path = tmp_path / "model.onnx"
    model.export(path, format="onnx")
    onnx.checker.check_model(onnx.load(path), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def check(model, x, tmp_path, atol=1e-5):
    got = run_onnx(model, x, tmp_path)
    want = model.predict(x, verbose=0)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=atol)


ACTIVATIONS = ["linear", "relu", "sigmoid", "tanh", "softmax", "log_softmax", "elu", "selu", "softplus",
               "softsign", "leaky_relu", "gelu", "swish", "silu", "hard_sigmoid"]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_with_every_activation(activation, tmp_path):
    model = tg.Sequential([tg.Input((6,)), L.Dense(5, activation=activation), L.Activation(activation)])
    x = np.random.default_rng(0).normal(scale=3, size=(9, 6)).astype(np.float32)
    check(model, x, tmp_path)


def _bn_trained(layer_list, shape):
    """A model whose BatchNormalization has non-trivial moving statistics and weights."""
    model = tg.Sequential([tg.Input(shape)] + layer_list)
    rng = np.random.default_rng(1)
    for w in model.weights:
        if w.name in ("moving_variance",):
            w.assign(rng.uniform(0.5, 2.0, size=w.shape))
        elif w.name in ("moving_mean", "gamma", "beta"):
            w.assign(rng.normal(size=w.shape))
    return model


IMAGE_MODELS = {
    "conv_valid": lambda: [L.Conv2D(4, 3, activation="relu")],
    "conv_same_stride2": lambda: [L.Conv2D(3, (3, 2), strides=2, padding="same")],
    "conv_same_even_kernel": lambda: [L.Conv2D(3, 4, padding="same", use_bias=False)],
    "conv_dilated": lambda: [L.Conv2D(2, 3, dilation_rate=2, padding="same", activation="tanh")],
    "conv_channels_first": lambda: [L.Conv2D(2, 3, data_format="channels_first", padding="same")],
    "maxpool": lambda: [L.MaxPooling2D()],
    "maxpool_same_stride": lambda: [L.MaxPooling2D(3, strides=2, padding="same")],
    "avgpool": lambda: [L.AveragePooling2D((2, 3))],
    "avgpool_same": lambda: [L.AveragePooling2D(3, strides=2, padding="same")],
    "global_avg": lambda: [L.GlobalAveragePooling2D()],
    "global_max_keepdims": lambda: [L.GlobalMaxPooling2D(keepdims=True)],
    "zero_padding": lambda: [L.ZeroPadding2D(((1, 2), (0, 3)))],
    "upsampling": lambda: [L.UpSampling2D((2, 3))],
    "batchnorm": lambda: [L.BatchNormalization()],
    "flatten_dense": lambda: [L.Flatten(), L.Dense(4)],
    "reshape": lambda: [L.Reshape((-1, 3))],
}


@pytest.mark.parametrize("name", sorted(IMAGE_MODELS))
def test_image_layers(name, tmp_path):
    model = _bn_trained(IMAGE_MODELS[name](), (7, 9, 3))
    x = np.random.default_rng(2).normal(size=(5, 7, 9, 3)).astype(np.float32)
    check(model, x, tmp_path)


@pytest.mark.parametrize("kwargs", [dict(padding="valid"), dict(padding="same", strides=2),
                                    dict(padding="same", dilation_rate=2), dict(data_format="channels_first")])
def test_conv1d(kwargs, tmp_path):
    model = tg.Sequential([tg.Input((11, 4)), L.Conv1D(3, 3, activation="relu", **kwargs)])
    x = np.random.default_rng(3).normal(size=(6, 11, 4)).astype(np.float32)
    check(model, x, tmp_path)


def test_normalization_and_dropout(tmp_path):
    norm = L.Normalization()
    data = np.random.default_rng(4).normal(loc=5, scale=3, size=(100, 4)).astype(np.float32)
    norm.adapt(data)
    model = tg.Sequential([tg.Input((4,)), norm, L.Dropout(0.5), L.Dense(2)])
    check(model, data[:10], tmp_path)


def test_embedding_with_integer_input(tmp_path):
    model = tg.Sequential([tg.Input((5,), dtype="int32"), L.Embedding(20, 3), L.Flatten(), L.Dense(2)])
    ids = np.random.default_rng(5).integers(0, 20, size=(8, 5)).astype(np.int32)
    check(model, ids, tmp_path)


def test_nested_sequential(tmp_path):
    inner = tg.Sequential([L.Dense(4, activation="relu"), L.Dense(3)])
    model = tg.Sequential([tg.Input((5,)), inner, L.Activation("softmax")])
    x = np.random.default_rng(6).normal(size=(4, 5)).astype(np.float32)
    check(model, x, tmp_path)


def test_batch_dimension_is_dynamic(tmp_path):
    model = tg.Sequential([tg.Input((3,)), L.Dense(2)])
    path = tmp_path / "m.onnx"
    model.export(path)
    proto = onnx.load(path)
    dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_param == "batch"
    assert proto.opset_import[0].version == tg.export.OPSET
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for n in (1, 13):
        x = np.ones((n, 3), np.float32)
        np.testing.assert_allclose(session.run(None, {"input": x})[0], model.predict(x, verbose=0), atol=1e-6)


SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")


def test_mnist_cnn(tmp_path):
    """The MNIST CNN of examples/09, trained briefly on real digits when they are present."""
    model = tg.Sequential([tg.Input((28, 28, 1)), L.Conv2D(6, 5, padding="same", activation="relu"),
                           L.MaxPooling2D(), L.Conv2D(16, 5, activation="relu"), L.MaxPooling2D(), L.Flatten(),
                           L.Dense(120, activation="relu"), L.Dense(84, activation="relu"),
                           L.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    if os.path.isdir(os.path.join(SHARED, "mnist")):
        (x, y), _ = tg.datasets.mnist.load_data(os.path.join(SHARED, "mnist"))
        x = (x[:512, ..., None] / 255.0).astype(np.float32)
        model.fit(x, y[:512], epochs=1, batch_size=64, verbose=0)
    else:
        x = np.random.default_rng(7).uniform(size=(64, 28, 28, 1)).astype(np.float32)
    check(model, x[:64], tmp_path)


def test_unsupported_layer_is_named(tmp_path):
    class Custom(L.Layer):
        def call(self, inputs):
            return inputs * 2.0

    model = tg.Sequential([tg.Input((3,)), L.Dense(2), Custom(name="doubler")])
    with pytest.raises(ValueError, match="layer 'doubler' of type Custom is not supported"):
        model.export(tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_unbuilt_model_and_wrong_format_are_errors(tmp_path):
    with pytest.raises(ValueError, match="no known input shape"):
        tg.Sequential([L.Dense(2)]).export(tmp_path / "m.onnx")
    model = tg.Sequential([tg.Input((3,)), L.Dense(2)])
    with pytest.raises(ValueError, match="format='onnx', received format='tf_saved_model'"):
        model.export(tmp_path / "m", format="tf_saved_model")


def test_missing_onnx_names_the_extra(tmp_path):
    code = ("import sys; sys.modules['onnx'] = None\n"
            "import tapegrad as tg\n"
            "m = tg.Sequential([tg.Input((3,)), tg.layers.Dense(2)])\n"
            "try:\n    m.export(sys.argv[1])\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m.onnx")], capture_output=True, text=True,
                         check=True)
    assert 'pip install "tapegrad[onnx]"' in out.stdout


def run_onnx_many(model, feeds, tmp_path):
    path = tmp_path / "model.onnx"
    model.export(path, format="onnx")
    onnx.checker.check_model(onnx.load(path), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session, session.run(None, feeds)


def test_two_input_functional_model(tmp_path):
    """A tabular model with two kinds of input and two heads, as Keras's functional guide builds one."""
    a = tg.Input(shape=(6,), name="numbers")
    b = tg.Input(shape=(5,), name="tokens", dtype="int32")
    emb = L.Flatten()(L.Embedding(30, 4)(b))
    h = L.concatenate([L.Dense(8, activation="relu")(a), emb])
    h = L.LayerNormalization()(h)
    h = L.add([L.Dense(8, activation="tanh")(h), L.Dense(8)(h)])
    model = tg.Model(inputs=[a, b], outputs={"score": L.Dense(1, activation="sigmoid")(h),
                                             "kind": L.Dense(3, activation="softmax")(h)})
    rng = np.random.default_rng(8)
    xa = rng.normal(size=(7, 6)).astype(np.float32)
    xb = rng.integers(0, 30, size=(7, 5)).astype(np.int32)
    session, got = run_onnx_many(model, {"numbers": xa, "tokens": xb}, tmp_path)
    want = model.predict([xa, xb], verbose=0)
    names = [o.name for o in session.get_outputs()]
    assert sorted(names) == ["kind", "score"]
    for name, value in zip(names, got):
        np.testing.assert_allclose(value, want[name], rtol=1e-5, atol=1e-5)


MERGES = {
    "add": lambda xs: L.Add()(xs), "subtract": lambda xs: L.Subtract()(xs[:2]),
    "multiply": lambda xs: L.Multiply()(xs), "average": lambda xs: L.Average()(xs),
    "maximum": lambda xs: L.Maximum()(xs), "minimum": lambda xs: L.Minimum()(xs),
    "concatenate": lambda xs: L.Concatenate()(xs), "concatenate_axis1": lambda xs: L.Concatenate(axis=1)(xs),
}


@pytest.mark.parametrize("name", sorted(MERGES))
def test_merge_layers(name, tmp_path):
    ins = [tg.Input(shape=(3, 4), name=f"x{i}") for i in range(2 if name == "subtract" else 3)]
    model = tg.Model(ins, L.Flatten()(MERGES[name](ins)))
    rng = np.random.default_rng(9)
    xs = [rng.normal(size=(5, 3, 4)).astype(np.float32) for _ in ins]
    _, got = run_onnx_many(model, {f"x{i}": x for i, x in enumerate(xs)}, tmp_path)
    np.testing.assert_allclose(got[0], model.predict(xs, verbose=0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shapes,axes,normalize", [(((4,), (4,)), 1, False), (((4,), (4,)), 1, True),
                                                   (((3, 4), (5, 4)), (2, 2), False),
                                                   (((3, 4), (3, 5)), (1, 1), True)])
def test_dot(shapes, axes, normalize, tmp_path):
    a, b = tg.Input(shape=shapes[0], name="a"), tg.Input(shape=shapes[1], name="b")
    model = tg.Model([a, b], L.Dot(axes=axes, normalize=normalize)([a, b]))
    rng = np.random.default_rng(10)
    xa, xb = (rng.normal(size=(6,) + s).astype(np.float32) for s in shapes)
    _, got = run_onnx_many(model, {"a": xa, "b": xb}, tmp_path)
    np.testing.assert_allclose(got[0], model.predict([xa, xb], verbose=0), rtol=1e-5, atol=1e-5)


SEQUENCE_LAYERS = {
    "max_pool1d": lambda: [L.MaxPooling1D(2)], "avg_pool1d_same": lambda: [L.AveragePooling1D(3, 2, padding="same")],
    "global_avg1d": lambda: [L.GlobalAveragePooling1D()], "global_max1d": lambda: [L.GlobalMaxPooling1D()],
    "layer_norm": lambda: [L.LayerNormalization()], "layer_norm_two_axes": lambda: [L.LayerNormalization(axis=[1, 2])],
    "permute": lambda: [L.Permute((2, 1))], "identity": lambda: [L.Identity()],
    "repeat_vector": lambda: [L.Flatten(), L.RepeatVector(3)],
}


@pytest.mark.parametrize("name", sorted(SEQUENCE_LAYERS))
def test_sequence_layers(name, tmp_path):
    model = tg.Sequential([tg.Input((7, 4))] + SEQUENCE_LAYERS[name]())
    for w in model.weights:  # LayerNormalization's gamma and beta, away from ones and zeros
        w.assign(np.random.default_rng(11).normal(size=w.shape))
    x = np.random.default_rng(12).normal(size=(5, 7, 4)).astype(np.float32)
    check(model, x, tmp_path)


def test_nested_functional_model_and_shared_layer(tmp_path):
    inner_in = tg.Input(shape=(4,))
    inner = tg.Model(inner_in, L.Dense(3, activation="relu")(inner_in), name="block")
    a, b = tg.Input(shape=(4,), name="left"), tg.Input(shape=(4,), name="right")
    shared = L.Dense(4, name="shared")
    model = tg.Model([a, b], L.subtract([inner(shared(a)), inner(shared(b))]))
    rng = np.random.default_rng(13)
    xa, xb = (rng.normal(size=(5, 4)).astype(np.float32) for _ in range(2))
    _, got = run_onnx_many(model, {"left": xa, "right": xb}, tmp_path)
    np.testing.assert_allclose(got[0], model.predict([xa, xb], verbose=0), rtol=1e-5, atol=1e-5)


def test_masks_are_refused(tmp_path):
    ids = tg.Input(shape=(5,), dtype="int32")
    model = tg.Model(ids, L.GlobalAveragePooling1D()(L.Embedding(10, 3, mask_zero=True)(ids)))
    with pytest.raises(ValueError, match="makes a mask, and masks are not exported"):
        model.export(tmp_path / "m.onnx")

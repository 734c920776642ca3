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

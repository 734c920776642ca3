"""tapegrad is typed: py.typed ships, Tensor's operators are in its class body, and
``mypy --strict`` passes on the examples and on a user's script (tests/typing/user_script.py)."""

import importlib.resources
import os
import runpy

import numpy as np
import pytest

import tapegrad as tg

HERE = os.path.dirname(__file__)
ROOT = os.path.join(HERE, "..", "..")

OPERATORS = ["__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__",
             "__matmul__", "__rmatmul__", "__pow__", "__rpow__", "__neg__", "__pos__", "__abs__", "__getitem__",
             "__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__", "__hash__", "sum", "mean", "max", "min",
             "prod", "var", "std", "logsumexp", "argmax", "argmin", "exp", "log", "sqrt", "square", "abs", "clip",
             "matmul", "sigmoid", "tanh", "relu", "softmax", "log_softmax", "astype", "reshape", "transpose", "T",
             "squeeze", "expand_dims", "flatten"]


def test_py_typed_is_shipped():
    assert importlib.resources.files("tapegrad").joinpath("py.typed").is_file()


@pytest.mark.parametrize("name", OPERATORS)
def test_operators_are_defined_in_the_class_body(name):
    attr = tg.Tensor.__dict__[name]
    fn = attr.fget if isinstance(attr, property) else attr
    assert fn.__module__ == "tapegrad.autodiff.tensor" and fn.__qualname__ == f"Tensor.{name}"


def test_methods_agree_with_numpy():
    a = np.arange(1.0, 7.0, dtype=np.float32).reshape(2, 3)
    t = tg.constant(a)
    np.testing.assert_allclose(t.reshape(3, 2).numpy(), a.reshape(3, 2))
    np.testing.assert_allclose(t.reshape((6,)).numpy(), a.reshape(6))
    np.testing.assert_allclose(t.transpose(1, 0).numpy(), a.T)
    np.testing.assert_allclose(t.T.numpy(), a.T)
    np.testing.assert_allclose(t.var(axis=0, ddof=1).numpy(), a.var(axis=0, ddof=1), rtol=1e-6)
    np.testing.assert_allclose((2.0 ** t).numpy(), 2.0 ** a, rtol=1e-6)
    np.testing.assert_allclose((1.0 - t).numpy(), 1.0 - a)
    np.testing.assert_array_equal((t >= 3.0).numpy(), a >= 3.0)
    np.testing.assert_array_equal((t == a).numpy(), a == a)
    assert t.astype("float64").dtype == np.float64 and t.argmax(axis=1).numpy().tolist() == [2, 2]


def test_the_user_script_runs_and_its_gradient_matches_the_closed_form():
    out = runpy.run_path(os.path.join(HERE, "user_script.py"))["main"]()
    assert out["same"] == 1.0 and out["dlpack"] == 1.0 and out["scaled"] == 12.0
    # d/dt of sum(t^2/2 - 1) + 3 t[0,0] + max|t| + sum(t) is t + 3 e_00 + sign(t) at argmax|t| + 1
    x = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)[:2]
    expected = x.sum() + 3.0 + np.sign(x.flat[np.abs(x).argmax()]) + x.size
    assert out["grad_sum"] == pytest.approx(float(expected), rel=1e-5)


def test_mypy_strict_passes_on_the_examples_and_a_user_script(tmp_path):
    api = pytest.importorskip("mypy.api")
    targets = [os.path.join(ROOT, "examples"), os.path.join(HERE, "user_script.py")]
    stdout, stderr, status = api.run(["--strict", "--cache-dir", str(tmp_path), *targets])
    assert status == 0, stdout + stderr
    # and it does check: a misuse of a tensor is an error
    bad = tmp_path / "bad.py"
    bad.write_text("import tapegrad as tg\nx: int = tg.ones((2,)) * 2\n")
    stdout, _, status = api.run(["--strict", "--cache-dir", str(tmp_path), str(bad)])
    assert status == 1 and 'expression has type "Tensor", variable has type "int"' in stdout

"""The gradient checker itself must catch a wrong gradient."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autodiff.function import Function


class WrongSquare(Function):
    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, g):
        return (g * 2.1 * self.x,)  # deliberately wrong: should be 2x


def test_gradcheck_passes_on_correct_gradient():
    assert tg.gradcheck(lambda x: x * x, [np.array([1.0, -2.0, 3.0])])


def test_gradcheck_catches_wrong_gradient_and_names_index():
    with pytest.raises(tg.GradcheckError, match=r"input 0 .* index \(2,\).*analytic"):
        tg.gradcheck(lambda x: WrongSquare.apply(x), [np.array([1.0, -2.0, 3.0])])


def test_gradcheck_returns_false_without_raising():
    assert not tg.gradcheck(lambda x: WrongSquare.apply(x), [np.array([1.0])], raise_exception=False)


def test_gradcheck_catches_missing_gradient():
    class Forgetful(Function):
        def forward(self, a, b):
            self.b = b
            return a * b

        def backward(self, g):
            return g * self.b, None

    with pytest.raises(tg.GradcheckError, match="input 1"):
        tg.gradcheck(lambda a, b: Forgetful.apply(a, b), [np.array([2.0]), np.array([3.0])])

import pytest

import tapegrad as tg


@pytest.fixture(autouse=True)
def _seed():
    tg.random.set_seed(0)
    yield


def torch_or_skip():
    return pytest.importorskip("torch")

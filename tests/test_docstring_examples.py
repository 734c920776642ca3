"""Every docstring example in the package runs and prints what it says (the examples are
part of the documentation a learner copies, so they are tested like code)."""

import doctest
import importlib
import pkgutil

import pytest

import tapegrad
from tapegrad._extras import MissingExtraError

MODULES = sorted(m.name for m in pkgutil.walk_packages(tapegrad.__path__, "tapegrad.")
                 if not m.name.endswith("__main__"))


def load(name):
    """The module, or a skip when it needs an optional dependency that is not installed."""
    try:
        return importlib.import_module(name)
    except MissingExtraError as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(load(name), report=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (run doctest -v)"


def test_examples_exist():
    finder = doctest.DocTestFinder()
    attempted = sum(len(t.examples) for n in MODULES for t in finder.find(load(n)))
    assert attempted >= 100

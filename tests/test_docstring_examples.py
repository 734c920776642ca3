"""Every docstring example in the package runs and prints what it says (the examples are
part of the documentation a learner copies, so they are tested like code)."""

import doctest
import importlib
import pkgutil

import pytest

import tapegrad

MODULES = sorted(m.name for m in pkgutil.walk_packages(tapegrad.__path__, "tapegrad.")
                 if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    for requirement in getattr(module, "_doctest_requires", ()):  # an optional dependency the examples use
        pytest.importorskip(requirement)
    result = doctest.testmod(module, report=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (run doctest -v)"


def test_examples_exist():
    finder = doctest.DocTestFinder()
    attempted = sum(len(t.examples) for n in MODULES for t in finder.find(importlib.import_module(n)))
    assert attempted >= 100

"""Every public callable, everything in ``__all__`` of ``tapegrad`` and of its public
subpackages (followed recursively), has a docstring of its own that says what it does, names
each of its arguments, and carries a runnable ``>>>`` example (tests/test_docstring_examples.py
runs the examples). This is what ``help()`` and the API reference show a learner."""

from __future__ import annotations

import inspect
import re
import types

import numpy as np
import pytest

import tapegrad


def public_modules() -> dict[str, types.ModuleType]:
    found = {"tapegrad": tapegrad}
    stack = [tapegrad]
    while stack:
        module = stack.pop()
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if isinstance(obj, types.ModuleType) and obj.__name__.startswith("tapegrad") and obj.__name__ not in found:
                found[obj.__name__] = obj
                stack.append(obj)
    return found


def public_callables() -> dict[str, object]:
    seen, out = set(), {}
    for mname, module in public_modules().items():
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if isinstance(obj, (types.ModuleType, np.dtype)) or not callable(obj) or id(obj) in seen:
                continue
            seen.add(id(obj))
            out[f"{mname}.{name}"] = obj
    return out


def own_doc(obj) -> str | None:
    if inspect.isclass(obj):
        return obj.__dict__.get("__doc__")  # a class's own, not one inherited from its base
    return getattr(obj, "__doc__", None)


def parameters(obj) -> list[str]:
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return []
    return [p.name for p in sig.parameters.values()
            if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


CALLABLES = public_callables()


def test_the_walk_finds_the_public_api():
    assert len(CALLABLES) > 200 and "tapegrad.layers.Dense" in CALLABLES and "tapegrad.keras.Model" not in CALLABLES


@pytest.mark.parametrize("qualname", sorted(CALLABLES))
def test_documented_with_arguments_and_an_example(qualname):
    obj = CALLABLES[qualname]
    doc = own_doc(obj)
    assert doc and doc.strip(), f"{qualname} has no docstring"
    assert ">>>" in doc, f"{qualname}: the docstring has no runnable example (>>>)"
    missing = [p for p in parameters(obj) if not re.search(rf"\b{re.escape(p)}\b", doc)]
    assert not missing, f"{qualname}: the docstring does not describe its argument(s) {missing}"


def test_help_of_the_package_points_to_the_tour_the_notebook_and_the_docs():
    doc = tapegrad.__doc__
    assert "examples/notebooks/lab1_intro.ipynb" in doc and "README" in doc and "mkdocs" in doc
    assert "help(tg.layers.Dense)" in doc

"""A Griffe extension for the API site: tapegrad's docstrings title their doctests ``Example:``
(singular, as the project writes them); Google style parses only ``Examples:`` as a section of
runnable code, so this renames the heading before the docstrings are parsed. The ``>>>`` lines
then render as Python sessions instead of Markdown block quotes."""

from __future__ import annotations

import re

import griffe

_HEADING = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    def on_object(self, *, obj, loader, **kwargs) -> None:
        if obj.docstring is not None and "Example:" in obj.docstring.value:
            obj.docstring.value = _HEADING.sub(r"\1Examples:", obj.docstring.value)

"""``tapegrad fit --help`` states every option's default, and the defaults it states are the real ones."""

import re
import subprocess
import sys

from tapegrad.cli.main import parser


def fit_parser():
    sub = next(a for a in parser()._actions if a.dest == "command")
    return sub.choices["fit"]


def test_every_option_of_fit_states_its_default():
    p = fit_parser()
    text = p.format_help()
    flat = re.sub(r"\s+", " ", text)
    for action in p._actions:
        if not action.option_strings or action.dest == "help":
            continue
        assert action.help, f"{action.option_strings[0]} has no help"
        helptext = re.sub(r"\s+", " ", action.help)
        assert helptext in flat
        if action.required:
            assert "(required)" in helptext, action.option_strings[0]
            continue
        default = action.default
        shown = {list: lambda v: ",".join(map(str, v)), bool: lambda v: "off" if not v else "on"}.get(
            type(default), str)(default)
        assert f"default {shown}" in helptext or f"default: {shown}" in helptext, (action.option_strings[0], helptext)


def test_the_command_line_prints_it():
    out = subprocess.run([sys.executable, "-m", "tapegrad", "fit", "--help"], capture_output=True, text=True, check=True)
    assert "(default 200)" in out.stdout and "(default 0.001)" in out.stdout and "(default 32,16)" in out.stdout

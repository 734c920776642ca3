"""Machine tuning: the process-wide settings of the fast wing, off unless asked for.

Two settings change the whole process and depend on the machine, so tapegrad applies
neither by default: glibc's allocator thresholds (``memory.tune_allocator``) and the
per-step BLAS thread choice (``threads.ThreadGovernor``). ``tg.config.enable_machine_tuning()``
or the environment variable ``TAPEGRAD_MACHINE_TUNING=1`` turns both on; with them, a model
may train faster on a machine whose cores run far apart, and its weights may differ in the
last bits from run to run.
"""

from __future__ import annotations

import os

_state = {"on": os.environ.get("TAPEGRAD_MACHINE_TUNING", "0") == "1"}


def enabled() -> bool:
    """Whether machine tuning is on."""
    return _state["on"]


def set_enabled(flag: bool) -> None:
    """Turn machine tuning on or off; on applies the allocator setting at once."""
    if not isinstance(flag, bool):
        raise TypeError(f"machine tuning: expected True or False, received {flag!r}")
    _state["on"] = flag
    if flag:
        from .memory import tune_allocator

        tune_allocator()


def tuned(step):
    """``step`` (a training step function) wrapped in machine tuning's per-step BLAS thread
    choice, for a hand-written training loop; with tuning off, ``step`` itself.

    Example:
        >>> tuned(print) is print  # machine tuning is off by default
        True
    """
    if not enabled():
        return step
    from .threads import ThreadGovernor

    choice = ThreadGovernor()

    def governed(*args, **kwargs):
        choice.begin()
        try:
            return step(*args, **kwargs)
        finally:
            choice.end()

    return governed

"""Process-wide settings (``tg.config``).

By default tapegrad changes nothing about the process it runs in: the BLAS thread count
and the memory allocator stay as they were, and the same seed gives the same weights
bit for bit. Machine tuning is the opt-in exception, for training speed on machines
where it helps (``benchmarks/README.md`` shows where): it keeps freed memory in the
process for reuse (glibc only) and lets ``fit`` and ``train_on_batch`` run a step on one
BLAS thread while a second thread would slow it down. With it on, weights may differ
in the last bits from run to run. The environment variable ``TAPEGRAD_MACHINE_TUNING=1``
turns it on from the start.

Example:
    >>> import tapegrad as tg
    >>> tg.config.machine_tuning_enabled()
    False
"""

from __future__ import annotations

from .fast import machine as _machine


def enable_machine_tuning() -> None:
    """Turn machine tuning on (see the module's docstring); applies the allocator setting now.

    Example:
        >>> import tapegrad as tg
        >>> tg.config.enable_machine_tuning(); tg.config.machine_tuning_enabled()
        True
        >>> tg.config.disable_machine_tuning()
    """
    _machine.set_enabled(True)


def disable_machine_tuning() -> None:
    """Turn machine tuning off: later steps keep the BLAS thread count as it is. An allocator
    setting already applied stays for the life of the process (glibc cannot restore it).

    Example:
        >>> import tapegrad as tg
        >>> tg.config.disable_machine_tuning(); tg.config.machine_tuning_enabled()
        False
    """
    _machine.set_enabled(False)


def machine_tuning_enabled() -> bool:
    """Whether machine tuning is on.

    Example:
        >>> import tapegrad as tg
        >>> isinstance(tg.config.machine_tuning_enabled(), bool)
        True
    """
    return _machine.enabled()


__all__ = ["enable_machine_tuning", "disable_machine_tuning", "machine_tuning_enabled"]

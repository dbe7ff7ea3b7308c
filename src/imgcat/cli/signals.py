"""SIGTERM and SIGHUP stop imgcat the way Ctrl-C does: what was done is kept, the run ends cleanly.

A closed terminal (SIGHUP), `kill`, `systemctl stop` or a container shutdown (SIGTERM) raise
KeyboardInterrupt in the main thread, which the operations already turn into a clean stop. The
exit status follows the shell's rule, 128 + the signal's number: 130 for Ctrl-C, 143 for SIGTERM,
129 for SIGHUP.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Final

STOPPING: Final = (signal.SIGTERM, signal.SIGHUP)

_received: int | None = None


def _as_interrupt(number: int, frame: FrameType | None) -> None:
    global _received
    _received = number
    raise KeyboardInterrupt


@contextmanager
def as_interrupts() -> Iterator[None]:
    """Within, SIGTERM and SIGHUP act as Ctrl-C (main thread only, as signals are); the handlers
    before are put back after."""
    global _received
    _received = None
    before = {number: signal.getsignal(number) for number in STOPPING}
    for number in STOPPING:
        signal.signal(number, _as_interrupt)
    try:
        yield
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)


def interrupted_exit_code() -> int:
    """128 + the number of the signal that stopped the run (SIGINT when none was recorded)."""
    return 128 + (_received or signal.SIGINT)

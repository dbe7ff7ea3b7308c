"""The process pool that reads files: all cores by default, 0 workers means serial."""

from __future__ import annotations

import signal
from concurrent.futures import Executor, ProcessPoolExecutor


class extraction_pool:
    """A process pool for extraction, or None (serial) with 0 workers."""

    def __init__(self, workers: int) -> None:
        self._executor = (
            ProcessPoolExecutor(max_workers=workers, initializer=_ignore_interrupts) if workers > 0 else None
        )

    def __enter__(self) -> Executor | None:
        return self._executor

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=error is None, cancel_futures=True)


def _ignore_interrupts() -> None:
    """Workers leave Ctrl-C to the main process, which stops cleanly; they print no traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

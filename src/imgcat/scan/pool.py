"""The process pool that reads files: all cores by default, 0 workers means serial.

Workers leave Ctrl-C and a closed terminal (SIGINT and SIGHUP reach the whole process group) to
the main process, which stops cleanly; they print no traceback. They end with the main process
even when it is killed outright (kill -9, the OOM killer): on Linux the kernel sends them SIGKILL
when it dies (PR_SET_PDEATHSIG); elsewhere a thread in each worker watches for it. Workers only
read files, so nothing is lost when they end. SIGTERM keeps its default: the pool itself uses it
to stop workers when one of them crashed.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # the pool's modules load when a pool is made: `ls --catalog` makes none
    from concurrent.futures import Executor

PR_SET_PDEATHSIG: Final = 1
PARENT_WATCH_SECONDS: Final = 1.0


class extraction_pool:
    """A process pool for extraction, or None (serial) with 0 workers."""

    def __init__(self, workers: int) -> None:
        from concurrent.futures import ProcessPoolExecutor

        self._executor = (
            ProcessPoolExecutor(max_workers=workers, initializer=_prepare_worker, initargs=(os.getpid(),))
            if workers > 0
            else None
        )

    def __enter__(self) -> Executor | None:
        return self._executor

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if self._executor is not None:  # an interruption leaves at once; other errors (the output
            # failed: a full disk) wait for the files being read, or Python 3.11's shutdown races
            # with the pool's own thread and prints "Bad file descriptor" at exit
            interrupted = isinstance(error, KeyboardInterrupt)
            self._executor.shutdown(wait=not interrupted, cancel_futures=True)


def _prepare_worker(parent: int) -> None:
    """Runs first in each worker: leave interruptions to the parent, and die with it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    if not _die_with_parent():
        threading.Thread(target=_watch_parent, args=(parent,), name="parent-watch", daemon=True).start()
    if os.getppid() != parent:  # it died before we could ask to follow it
        os._exit(1)


def _die_with_parent() -> bool:
    """Ask the kernel for SIGKILL when the parent dies (Linux); False where that cannot be had."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_WATCH_SECONDS)
    os._exit(1)

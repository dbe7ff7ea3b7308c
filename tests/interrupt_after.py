"""Run imgcat and send this very process a real signal at a known point: right after the catalog
method METHOD has been called COUNT times. The signal takes its normal path (Python's handler for
SIGINT, imgcat's for SIGTERM and SIGHUP); only its moment is fixed, so no test races the run.

    python tests/interrupt_after.py SIGTERM upsert_many 1 add DIR --db FILE
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.cli.app import main


def signal_after(method: str, count: int, number: int) -> None:
    original: Callable[..., Any] = getattr(SqliteCatalog, method)
    calls = 0

    def counting(self: SqliteCatalog, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        result = original(self, *args, **kwargs)
        calls += 1
        if calls == count:
            os.kill(os.getpid(), number)
        return result

    setattr(SqliteCatalog, method, counting)


if __name__ == "__main__":
    name, method, count, *args = sys.argv[1:]
    # Ctrl-C as on a terminal, however the tests were started: a shell runs a background job (`&`)
    # with SIGINT ignored, its children inherit that, and Python then installs no handler for it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal_after(method, int(count), signal.Signals[name].value)
    sys.exit(main(args))

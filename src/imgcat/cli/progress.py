"""Progress and warnings for long scans: a rich bar on a terminal, plain warning lines otherwise.

rich loads only when the bar is drawn: `add`, `sync` or `ls` in a pipe or with `-q` never import it
(rich's console and progress are a quarter of what starting such a command costs)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING

from imgcat.cli import render

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class ScanProgress:
    """Implements the operations' ScanEvents: draws a bar (files, bytes, speed, ETA), prints warnings."""

    def __init__(self, *, quiet: bool) -> None:
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._files = 0
        if not quiet and sys.stderr.isatty():
            self._progress, self._task = _bar()
        self.visible = self._progress is not None

    def __enter__(self) -> ScanProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Put the bar away while the user is asked something."""
        if self._progress is None:
            yield
            return
        self._progress.stop()
        try:
            yield
        finally:
            self._progress.start()

    def planned(self, files: int, size: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, total=size, total_files=files)

    def advanced(self, files: int, size: int) -> None:
        self._files += files
        if self._progress is None or self._task is None:  # -q or no terminal: nothing drawn (a
            return  # million calls on an unchanged tree)
        elapsed = self._progress.tasks[0].elapsed or 0.0
        rate = self._files / elapsed if elapsed > 0 else 0.0
        self._progress.update(self._task, advance=size, rate=rate, files=self._files)

    def problem(self, path: str, reason: str) -> None:
        render.warning(path, reason)  # while the bar is drawn, rich shows standard error above it


def _bar() -> tuple[Progress | None, TaskID | None]:
    """The bar on standard error, or None when rich does not see a terminal there either."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    console = Console(stderr=True, highlight=False)
    if not console.is_terminal:
        return None, None
    progress = Progress(
        TextColumn("{task.fields[files]} of {task.fields[total_files]} files"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[rate]:.0f} files/s"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    return progress, progress.add_task("scanning", total=None, rate=0.0, files=0, total_files="?")

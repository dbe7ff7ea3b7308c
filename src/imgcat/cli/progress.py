"""Progress and warnings for long scans: a rich bar on a terminal, plain warning lines otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from imgcat.cli import render


class ScanProgress:
    """Implements the operations' ScanEvents: draws a bar (files, bytes, speed, ETA), prints warnings."""

    def __init__(self, *, quiet: bool) -> None:
        self._console = Console(stderr=True, highlight=False)
        self.visible = not quiet and self._console.is_terminal and sys.stderr.isatty()
        self._progress = Progress(
            TextColumn("{task.fields[files]} of {task.fields[total_files]} files"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn("{task.fields[rate]:.0f} files/s"),
            TimeRemainingColumn(),
            console=self._console,
            disable=not self.visible,
            transient=True,
        )
        self._task = self._progress.add_task("scanning", total=None, rate=0.0, files=0, total_files="?")
        self._files = 0

    def __enter__(self) -> ScanProgress:
        self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._progress.stop()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Put the bar away while the user is asked something."""
        self._progress.stop()
        try:
            yield
        finally:
            self._progress.start()

    def planned(self, files: int, size: int) -> None:
        self._progress.update(self._task, total=size, total_files=files)

    def advanced(self, files: int, size: int) -> None:
        self._files += files
        if not self.visible:  # -q or no terminal: nothing drawn (a million calls on an unchanged tree)
            return
        elapsed = self._progress.tasks[0].elapsed or 0.0
        rate = self._files / elapsed if elapsed > 0 else 0.0
        self._progress.update(self._task, advance=size, rate=rate, files=self._files)

    def problem(self, path: str, reason: str) -> None:
        render.warning(path, reason)  # while the bar is drawn, rich shows standard error above it

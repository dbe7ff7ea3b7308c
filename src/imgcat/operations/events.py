"""What a long operation tells whoever shows its progress. The CLI draws; tests record."""

from __future__ import annotations

from typing import Protocol


class ScanEvents(Protocol):
    """Progress of a scan: how much there is, how far it got, and what could not be read."""

    def planned(self, files: int, size: int) -> None: ...
    def advanced(self, files: int, size: int) -> None: ...
    def problem(self, path: str, reason: str) -> None: ...


class NoEvents:
    def planned(self, files: int, size: int) -> None:
        pass

    def advanced(self, files: int, size: int) -> None:
        pass

    def problem(self, path: str, reason: str) -> None:
        pass

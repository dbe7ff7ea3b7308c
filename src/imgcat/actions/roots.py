"""The roots a run touches (the folders `add` cataloged, such as a disk's mount point): a run is
completed or undone only while each of them is on disk, and undo never makes a root again.

An unplugged disk looks like a root folder that is gone. Completing a run then would read every
step as "vanished" and close the run; undoing it would make the root's folders again on the
system disk and put files there, hidden once the disk is back. Both are refused instead, naming
the root to plug in.
"""

from __future__ import annotations

import os

from imgcat.actions.journal import RunState, read_entries
from imgcat.catalog.base import Catalog
from imgcat.errors import ImgcatError


class RootMissingError(ImgcatError):
    """A root folder of the run is not on disk (an unplugged disk): nothing was changed."""


class Roots:
    """The cataloged roots of the run's devices, longest first, looked up by path."""

    def __init__(self, catalog: Catalog, devices: set[str]) -> None:
        self._roots = sorted(
            {root for device in devices for root in catalog.iter_locations(device)}, key=len, reverse=True
        )

    def of(self, path: str) -> str | None:
        """The root holding `path`, or None when no cataloged root does."""
        for root in self._roots:
            if path == root or path.startswith(root.rstrip("/") + "/"):
                return root
        return None


def run_roots(state: RunState, catalog: Catalog, numbers: set[int]) -> tuple[Roots, list[str]]:
    """The roots of the run, and those of steps `numbers` (their files and targets) that are not
    on disk now."""
    paths: list[str] = []
    devices: set[str] = set()
    for _, entry in read_entries(state.path):
        if entry["t"] == "step":
            record = entry.get("record")
            if record:
                devices.add(str(record["device"]))
            if entry["n"] in numbers:
                paths.append(entry["source"])
                target = state.begun.get(entry["n"], {}).get("target") or entry.get("target")
                if target:
                    paths.append(str(target))
    roots = Roots(catalog, devices)
    missing = sorted({root for path in paths if (root := roots.of(path)) and not os.path.isdir(root)})
    return roots, missing


def refuse_missing_roots(state: RunState, catalog: Catalog, numbers: set[int], what: str) -> Roots:
    """RootMissingError when a root of steps `numbers` is not on disk; else the run's roots."""
    roots, missing = run_roots(state, catalog, numbers)
    if missing:
        names = ", ".join(missing)
        raise RootMissingError(
            f"root {names} of run {state.run_id} is missing (a disk unplugged?): plug it in and run "
            f"{what} again; nothing changed"
        )
    return roots

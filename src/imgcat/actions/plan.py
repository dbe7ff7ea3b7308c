"""A plan is a sequence of steps: one file each, what to do with it, and what it must look like."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final, Literal, get_args

from imgcat.record import MediaRecord

StepKind = Literal["trash", "delete", "move-to", "move", "copy", "hardlink", "symlink", "rmdir"]
STEP_KINDS: Final = get_args(StepKind)
REMOVING: Final = frozenset({"trash", "delete", "move-to", "hardlink", "symlink"})
LINKING: Final = frozenset({"hardlink", "symlink"})
CARRYING: Final = frozenset({"move-to", "move", "copy"})


@dataclass(frozen=True, slots=True)
class Kept:
    """A file kept instead of a step's source (another version of its picture), as cataloged."""

    path: str
    size: int
    mtime_ns: int
    checksum: str | None = None  # its content: a pair marked `similar --not-same` since is left alone


@dataclass(frozen=True, slots=True)
class Step:
    """One file and what to do with it.

    kind:
        trash     rename `source` into a trash folder on its own filesystem (undo puts it back)
        delete    unlink `source` for good
        move-to   set `source` aside at `target` (its catalog entry goes: it left the collection)
        move      move `source` to `target` (its catalog entry follows it)
        copy      copy `source` to `target` (a new catalog entry for the copy)
        hardlink  replace `source` by a hard link to the first reference that verifies
        symlink   replace `source` by a symbolic link to it
        rmdir     remove the folder `source` if it is empty then (a folder the run's moves emptied;
                  undo makes it again)
    A move or copy across filesystems copies, fsyncs, compares byte for byte, then removes.

    `size` and `mtime_ns` are what `source` must still have (as cataloged): a file that changed is
    left alone. `references` are kept copies `source` must equal byte for byte right before it is
    acted on (the first that exists and matches is used; for links it is the link's target). With
    no references, a `checksum` (xxh128, as in the catalog) makes the source be read again and
    compared. `record` is the catalog entry of `source`, updated after the step and given back on
    undo (None for a file the catalog does not hold, like a sidecar). Steps with the same non-zero
    `unit` (a photo and its companions) are verified together before any of them is done.

    `kept` names the picture kept in its stead when it differs in content (similar's best, junk's
    better shot): one of them must be on disk with its cataloged size and mtime right before the
    step is done, else the step is left alone (a picture is never removed for a version that is
    gone, unplugged or changed).
    """

    kind: StepKind
    source: str
    size: int
    mtime_ns: int
    target: str | None = None
    references: tuple[str, ...] = ()
    checksum: str | None = None
    record: MediaRecord | None = None
    unit: int = 0
    note: str = ""
    kept: tuple[Kept, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in STEP_KINDS:
            raise ValueError(f"unknown step kind {self.kind!r}")
        if (self.kind in CARRYING) != (self.target is not None):
            raise ValueError(f"a {self.kind} step {'needs' if self.kind in CARRYING else 'takes no'} target")
        if self.kind in LINKING and not self.references:
            raise ValueError(f"a {self.kind} step needs a reference to link to")


def aside_target(kind: StepKind, to: str | None, path: str) -> str | None:
    """Where `move-to` sets `path` aside: its whole path again under `to` (no other kind has one)."""
    return os.path.join(to, path.lstrip("/")) if kind == "move-to" and to is not None else None


def lstat_or_none(path: str) -> os.stat_result | None:
    """The file as it is now, or None when it is gone or cannot be looked at (planning skips it)."""
    try:
        return os.lstat(path)
    except OSError:
        return None

"""Walk a folder for candidate files: skip system clutter, never follow links, report what can't be read."""

from __future__ import annotations

import os
import stat as stat_module
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from imgcat.scan.extract import FileStat

CLUTTER_FILES: Final = frozenset(
    {".DS_Store", "Thumbs.db", "desktop.ini", "ehthumbs.db", ".picasa.ini", "Picasa.ini"}
)
CLUTTER_DIRS: Final = frozenset(
    {"@eaDir", ".thumbnails", ".Trashes", ".Spotlight-V100", ".fseventsd", ".TemporaryItems",
     "$RECYCLE.BIN", "System Volume Information", ".git", "#recycle", "#snapshot", ".@__thumb"}
)  # fmt: skip
SIDECAR_EXTS: Final = frozenset({"xmp", "aae", "thm", "json"})


@dataclass(frozen=True, slots=True)
class Folder:
    """One folder's candidate files and its sidecars, as one walk step yields them."""

    path: str
    files: list[FileStat]
    sidecars: list[str]
    skipped: int


def is_sidecar(name: str) -> bool:
    return os.path.splitext(name)[1].lower().lstrip(".") in SIDECAR_EXTS


def walk_folders(root: str, *, recursive: bool, on_problem: Callable[[str, str], None]) -> Iterator[Folder]:
    """Folders under `root` (itself first), each with its regular files sorted by name.

    Symbolic links are never followed (no loops, no second path to the same photo); a broken one
    is reported. Folders that cannot be listed are reported and passed over.
    """
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as entries:
                listed = sorted(entries, key=lambda entry: entry.name)
        except OSError as error:
            on_problem(folder, f"cannot list folder: {error.strerror or error}")
            continue
        files: list[FileStat] = []
        sidecars: list[str] = []
        skipped = 0
        subfolders: list[str] = []
        for entry in listed:
            outcome = _classify(entry, on_problem)
            if outcome == "dir":
                if recursive and entry.name not in CLUTTER_DIRS:
                    subfolders.append(entry.path)
            elif isinstance(outcome, FileStat):
                if entry.name in CLUTTER_FILES or entry.name.startswith("._"):
                    skipped += 1
                elif is_sidecar(entry.name):
                    sidecars.append(entry.path)
                else:
                    files.append(outcome)
            else:
                skipped += 1
        pending.extend(reversed(subfolders))
        yield Folder(folder, files, sidecars, skipped)


def _classify(entry: os.DirEntry[str], on_problem: Callable[[str, str], None]) -> FileStat | str | None:
    try:
        if entry.is_symlink():
            if not os.path.exists(entry.path):
                on_problem(entry.path, "broken or looping symbolic link; not followed")
            return None
        info = entry.stat(follow_symlinks=False)
    except OSError as error:
        on_problem(entry.path, f"cannot read: {error.strerror or error}")
        return None
    if stat_module.S_ISDIR(info.st_mode):
        return "dir"
    if not stat_module.S_ISREG(info.st_mode):
        return None
    return FileStat(entry.path, info.st_size, info.st_mtime_ns, info.st_ino)

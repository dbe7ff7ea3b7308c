"""Walk a folder for candidate files: skip system clutter, never follow links, report what can't be read."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import attrgetter
from typing import Final

from imgcat.errors import UsageError
from imgcat.scan.reading import FileStat

CLUTTER_FILES: Final = frozenset(
    {".DS_Store", "Thumbs.db", "desktop.ini", "ehthumbs.db", ".picasa.ini", "Picasa.ini"}
)
CLUTTER_DIRS: Final = frozenset(
    {"@eaDir", ".thumbnails", ".Trashes", ".Spotlight-V100", ".fseventsd", ".TemporaryItems",
     "$RECYCLE.BIN", "System Volume Information", ".git", "#recycle", "#snapshot", ".@__thumb",
     ".imgcat-trash"}
)  # fmt: skip
SIDECAR_EXTS: Final = frozenset({"xmp", "aae", "thm", "json"})
# What operating systems and file systems leave on a disk by themselves: a root holding only these
# holds nothing of the user's (an unmounted mount point, a recreated folder).
LITTER_NAMES: Final = CLUTTER_FILES | CLUTTER_DIRS | frozenset(
    {"lost+found", ".localized", ".VolumeIcon.icns", ".DocumentRevisions-V100", ".apdisk",
     ".com.apple.timemachine.donotpresent", "AUTORUN.INF", "autorun.inf"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Folder:
    """One folder's candidate files and its sidecars, as one walk step yields them."""

    path: str
    files: list[FileStat]
    sidecars: list[str]
    skipped: int


def named(folder: str) -> str:
    """The folder as given, refusing an empty name (which the OS would take as the current folder)."""
    if folder == "":
        raise UsageError("the folder name is empty")
    return folder


def resolve_root(folder: str) -> str:
    """The absolute, link-resolved folder to scan, or a usage error naming it."""
    path = os.path.realpath(os.path.expanduser(named(folder)))
    if not os.path.isdir(path):
        raise UsageError(f"not a folder: {folder}")
    return path


def is_litter(name: str) -> bool:
    """A name that the system, not the user, put there (`.DS_Store`, `Thumbs.db`, `@eaDir`, `._*`)."""
    return name in LITTER_NAMES or name.startswith("._")


def holds_only_litter(folder: str) -> bool:
    """True when the folder exists and holds nothing but system litter (or nothing at all).
    A folder that cannot be listed is not called empty: what it holds is unknown."""
    try:
        with os.scandir(folder) as entries:
            return all(is_litter(entry.name) for entry in entries)
    except OSError:
        return False


def is_sidecar(name: str) -> bool:
    stem, dot, ext = name.rpartition(".")
    return bool(dot and stem) and ext.lower() in SIDECAR_EXTS


def walk_folders(
    root: str,
    *,
    recursive: bool,
    on_problem: Callable[[str, str], None],
    on_unreadable: Callable[[str], None] | None = None,
) -> Iterator[Folder]:
    """Folders under `root` (itself first), each with its regular files sorted by name.

    Symbolic links are never followed (no loops, no second path to the same photo); a broken one
    is reported. A folder that cannot be listed, or listed but not entered (no search permission),
    is reported once and passed over with everything below it; `on_unreadable` hears its path.

    Each folder is listed through a descriptor of it, so that each file's status is asked of the
    folder by name (`fstatat`), as `find` does, not by a whole path the kernel walks again from `/`.
    """
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            descriptor = os.open(folder, _LISTING)
        except OSError as error:
            on_problem(folder, f"cannot list folder: {error.strerror or error}")
            if on_unreadable is not None:
                on_unreadable(folder)
            continue
        try:
            with os.scandir(descriptor) as entries:
                listed = list(entries)
            examined = _examine(folder, listed, recursive=recursive, on_problem=on_problem)
        except OSError as error:
            on_problem(folder, f"cannot list folder: {error.strerror or error}")
            examined = None
        finally:
            os.close(descriptor)
        if examined is None:
            if on_unreadable is not None:
                on_unreadable(folder)
            continue
        found, subfolders = examined
        pending.extend(sorted(subfolders, reverse=True))
        yield found


_LISTING: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_new_stat = tuple.__new__  # a FileStat from its fields without NamedTuple's Python-level __new__
_NAME = attrgetter("name")


def _examine(
    folder: str, listed: list[os.DirEntry[str]], *, recursive: bool, on_problem: Callable[[str, str], None]
) -> tuple[Folder, list[str]] | None:
    """The folder's files, sidecars and subfolders from its listing (entries named relative to the
    folder's descriptor); None if it cannot be entered. One file costs a few checks of its name
    and one `fstatat`: this loop is most of a re-scan of an unchanged tree."""
    try:
        if listed:
            listed[0].stat(follow_symlinks=False)  # kept by the entry: costs the walk nothing more
    except PermissionError as error:  # listed, but no search permission: nothing inside can be read
        on_problem(folder, f"cannot enter folder: {error.strerror or error}")
        return None
    except OSError:
        pass  # that entry alone; reported below
    listed.sort(key=_NAME)  # by name, so files and sidecars come sorted by path (strings sort fastest)
    base = folder if folder.endswith("/") else folder + "/"
    files: list[FileStat] = []
    sidecars: list[str] = []
    skipped = 0
    subfolders: list[str] = []
    for entry in listed:
        name = entry.name
        try:
            if entry.is_dir(follow_symlinks=False):  # the entry's type comes with the listing
                if recursive and name not in CLUTTER_DIRS:
                    subfolders.append(base + name)
                continue
            if not entry.is_file(follow_symlinks=False):
                if entry.is_symlink() and not os.path.exists(base + name):
                    on_problem(base + name, "broken or looping symbolic link; not followed")
                skipped += 1
                continue
            info = entry.stat(follow_symlinks=False)
        except OSError as error:
            on_problem(base + name, f"cannot read: {error.strerror or error}")
            skipped += 1
            continue
        if name in CLUTTER_FILES or name.startswith("._"):
            skipped += 1
        elif name.rpartition(".")[2].lower() in SIDECAR_EXTS and is_sidecar(name):
            sidecars.append(base + name)
        else:
            files.append(_new_stat(FileStat, (base + name, info.st_size, info.st_mtime_ns, info.st_ino)))
    return Folder(folder, files, sidecars, skipped), subfolders

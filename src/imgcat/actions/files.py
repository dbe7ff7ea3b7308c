"""The only place imgcat changes people's files: renames that never overwrite, copies that are
fsynced and compared, links made under a temporary name and renamed into place."""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from collections.abc import Iterable
from typing import Final

CHUNK: Final = 1 << 20
_AT_FDCWD: Final = -100
_RENAME_NOREPLACE: Final = 1
_libc = ctypes.CDLL(None, use_errno=True)
_renameat2 = getattr(_libc, "renameat2", None)
_syncfs = getattr(_libc, "syncfs", None)


def rename_noreplace(source: str, target: str) -> None:
    """Rename `source` to `target`, failing with FileExistsError if `target` exists: atomically
    with renameat2(RENAME_NOREPLACE) where the filesystem has it, else link + unlink, else a check
    then a rename (FAT, some network filesystems)."""
    if _renameat2 is not None:
        done = _renameat2(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), _RENAME_NOREPLACE)
        if done == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise OSError(code, os.strerror(code), source, None, target)
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
            raise
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), target) from None
        os.rename(source, target)
        return
    os.unlink(source)


def make_parents(path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)


def missing_parents(path: str) -> list[str]:
    """The folders above `path` that do not exist yet, top first (those make_parents would make)."""
    missing: list[str] = []
    folder = os.path.dirname(path)
    while folder and not os.path.isdir(folder):
        missing.append(folder)
        folder = os.path.dirname(folder)
    return missing[::-1]


def remove_made_folders(folders: list[str]) -> None:
    """Remove the folders a step made (deepest first) where they are empty again."""
    for folder in reversed(folders):
        try:
            os.rmdir(folder)
        except OSError:
            return


def copy_new(source: str, target: str) -> None:
    """Copy `source` to a new file `target` (never over one), with its mode and times, fsynced."""
    info = os.stat(source)
    with open(source, "rb") as reader:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IMODE(info.st_mode) | stat.S_IWUSR)
        try:
            with open(fd, "wb", closefd=False) as writer:
                while chunk := reader.read(CHUNK):
                    writer.write(chunk)
            os.fsync(fd)
        finally:
            os.close(fd)
    os.chmod(target, stat.S_IMODE(info.st_mode))
    os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))
    sync_folder(os.path.dirname(target))


def sync_folder(folder: str) -> None:
    """fsync a folder, so a new name in it survives a crash (where the filesystem allows)."""
    try:
        fd = os.open(folder or ".", os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sync_folders(folders: Iterable[str]) -> None:
    """Make the renames in `folders` durable: one syncfs per filesystem where Linux has it (a batch
    of renames into a hundred folders costs one sync, not a hundred), else an fsync per folder."""
    by_device: dict[int, list[str]] = {}
    for folder in folders:
        try:
            by_device.setdefault(os.lstat(folder).st_dev, []).append(folder)
        except OSError:
            continue
    for group in by_device.values():
        if _syncfs is not None:
            fd = os.open(group[0], os.O_RDONLY | os.O_DIRECTORY)
            try:
                if _syncfs(fd) == 0:
                    continue
            finally:
                os.close(fd)
        for folder in group:
            sync_folder(folder)


def same_bytes(a: str, b: str) -> bool:
    """Whether two files hold the same bytes, read in full (no cache, no shortcut on size+time)."""
    with open(a, "rb") as left, open(b, "rb") as right:
        while True:
            one, two = left.read(CHUNK), right.read(CHUNK)
            if one != two:
                return False
            if not one:
                return True


def unlink(path: str) -> None:
    os.unlink(path)


def remove_if_exists(path: str) -> bool:
    """Remove a file imgcat itself left half-made (a temporary copy or link)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def replace_with_link(source: str, reference: str, temporary: str, *, symbolic: bool) -> None:
    """Make `source` a link to `reference`: the link is made at `temporary` and renamed over
    `source` in one step, so `source` is never missing."""
    remove_if_exists(temporary)
    if symbolic:
        os.symlink(reference, temporary)
    else:
        os.link(reference, temporary, follow_symlinks=False)
    os.replace(temporary, source)
    sync_folder(os.path.dirname(source))


def replace_with_copy(source: str, reference: str, temporary: str, mode: int, mtime_ns: int) -> None:
    """Make `source` (a link imgcat made) a file of its own again: a copy of `reference` with the
    mode and time the file had, renamed over the link."""
    remove_if_exists(temporary)
    copy_new(reference, temporary)
    os.chmod(temporary, stat.S_IMODE(mode))
    os.utime(temporary, ns=(mtime_ns, mtime_ns))
    os.replace(temporary, source)
    sync_folder(os.path.dirname(source))


def remove_folder(path: str, *, durable: bool = True) -> None:
    """Remove an empty folder (OSError if it is not empty)."""
    os.rmdir(path)
    if durable:
        sync_folder(os.path.dirname(path))


def make_folder(path: str, mode: int) -> None:
    """Make a folder again, with the permissions it had (and its parents, as needed)."""
    os.makedirs(path, exist_ok=True)
    os.chmod(path, stat.S_IMODE(mode))


def remove_empty_folders(top: str, stop: str) -> None:
    """Remove `top` and its parents while they are empty, up to (not including) `stop`."""
    folder = top
    while folder != stop and folder.startswith(stop.rstrip("/") + "/"):
        try:
            os.rmdir(folder)
        except OSError:
            return
        folder = os.path.dirname(folder)

"""Where trashed files go: a `.imgcat-trash` folder on the file's own filesystem, so trashing is a
rename (never a copy), with the file's absolute path mirrored below the run's id.

The trash folder of a filesystem is the first that works of: imgcat's data folder (when it is on
that filesystem: your home), the filesystem's mount point (a USB disk, a NAS share), then each
folder from the mount point down to the file's own folder (which is writable: the file is being
removed from it).
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import platformdirs

TRASH_NAME: Final = ".imgcat-trash"


def data_folder() -> Path:
    """imgcat's folder in the user data folder: the journal of runs, the home filesystem's trash."""
    return platformdirs.user_data_path("imgcat")


def mount_point(path: str) -> str:
    """The top folder of the filesystem that holds `path`."""
    device = os.lstat(path).st_dev
    current = os.path.dirname(path) if not os.path.isdir(path) or os.path.islink(path) else path
    while current != "/":
        parent = os.path.dirname(current)
        if os.lstat(parent).st_dev != device:
            return current
        current = parent
    return "/"


@dataclass
class TrashFolders:
    """The trash folder of each filesystem, found once per filesystem and run."""

    home: Path = field(default_factory=data_folder)
    found: dict[int, str] = field(default_factory=dict)

    def root_for(self, path: str, *, create: bool = True) -> str:
        """The trash folder on the filesystem of `path`, created if needed (`create=False`: only
        where it would be, for a script or a dry run)."""
        device = os.lstat(path).st_dev
        if device not in self.found:
            self.found[device] = self._find(path, device, create)
        return self.found[device]

    def _find(self, path: str, device: int, create: bool) -> str:
        top = mount_point(path)
        folder = os.path.dirname(path)
        chain = [top]
        if folder != top and folder.startswith(top.rstrip("/") + "/"):
            parts = folder[len(top.rstrip("/")) + 1 :].split("/")
            chain += [os.path.join(top, *parts[: n + 1]) for n in range(len(parts))]
        why = errno.EACCES
        for candidate in [str(self.home), *chain]:
            trash = os.path.join(candidate, TRASH_NAME)
            if not create:
                if _would_do(trash, device):
                    return trash
                continue
            try:
                os.makedirs(trash, exist_ok=True)
                if os.lstat(trash).st_dev == device and os.access(trash, os.W_OK):
                    return trash
            except OSError as error:
                why = error.errno or why
                continue
        raise OSError(why, f"no trash folder can be made on its filesystem ({os.strerror(why)})", path)


def _would_do(trash: str, device: int) -> bool:
    """Whether `trash` exists or could be made, writable, on the filesystem `device`."""
    folder = trash
    while not os.path.lexists(folder):
        folder = os.path.dirname(folder)
    try:
        info = os.stat(folder)
    except OSError:
        return False
    return info.st_dev == device and os.access(folder, os.W_OK)


def trash_path(root: str, run_id: str, source: str) -> str:
    """Where `source` goes in the trash folder `root` for run `run_id`: its absolute path, mirrored."""
    return os.path.join(root, run_id, source.lstrip("/"))


def run_folder(trashed: str, run_id: str) -> str | None:
    """The run's folder in the trash, from the path of a file trashed by that run."""
    marker = f"/{TRASH_NAME}/{run_id}/"
    head, found, _ = trashed.partition(marker)
    return f"{head}/{TRASH_NAME}/{run_id}" if found else None

"""What reading a file starts from and gives, without the readers: a `FileStat` in, an `Extraction`
out, and the one test of whether a file must be read again.

The readers (`scan/extract.py`) load Pillow, numpy, imagehash and pymediainfo; this module loads
none of them, so that a command which reads no file (a re-scan of an unchanged tree, `stats`,
`--help`) never pays for them. Code that reads files imports `extract_file` where it starts reading.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from operator import itemgetter
from typing import Final, NamedTuple, Protocol

from imgcat.record import MediaRecord
from imgcat.scan.detect import MEDIA_NAMED

EXTRACTOR_VERSION: Final = 8  # 2: Apple's content identifier, sidecar times; 3: containers checked
# 4: video places from loci/@xyz/ilst and ISO 6709's minute forms, recorded dates with offsets,
#    AVI IDIT formats and ICRD, ASF creation dates, camcorder MOI dates
# 5: the edge width (focus), 16-bit pictures by their depth, a JPEG's decoder fill as damage
# 6: the `similar` fingerprint (hashes of the trimmed picture, its centre and halves; a thumbnail)
# 7: the edge width is the widest at three scales (a small, noisy, blurred picture reads blurred)
# 8: the likeness grid of `similar` (32x32 cells, a few hundred bytes) replaces the 64x64 thumbnail


class FileStat(NamedTuple):
    """A file as the walk found it (a NamedTuple: immutable and cheap, one per file walked)."""

    path: str
    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, path: str) -> FileStat:
        st = os.stat(path)
        return cls(path, st.st_size, st.st_mtime_ns, st.st_ino)


class Cataloged(Protocol):
    """What the catalog remembers of how a file was when it was read (a `Stamp`, a record)."""

    @property
    def size(self) -> int: ...
    @property
    def mtime_ns(self) -> int: ...
    @property
    def extractor_version(self) -> int: ...


def is_unchanged(cataloged: Cataloged, found: FileStat) -> bool:
    """The one test of "this file need not be read again", for `add` and `sync` alike: the same
    size and modification time as when it was cataloged, and read by this extractor (a newer
    imgcat reads more, so what an older one read is read again)."""
    return (
        found.size == cataloged.size
        and found.mtime_ns == cataloged.mtime_ns
        and cataloged.extractor_version >= EXTRACTOR_VERSION
    )


def all_unchanged(plain: set[tuple[str, int, int]] | None, found: Collection[FileStat]) -> bool:
    """`is_unchanged` for every file of a folder at once: `plain` is what the catalog holds of the
    folder when it can tell in one step (`Catalog.plain_stamps(device, folder, EXTRACTOR_VERSION)`:
    (path, size, mtime) of entries this extractor read), None when it cannot. True when each file
    has an entry of the same size and time; False means "compare entry by entry"."""
    return plain is not None and plain.issuperset(map(_STAMP_KEY, found))  # no Python code per file


_STAMP_KEY: Final = itemgetter(0, 1, 2)  # a FileStat's (path, size, mtime_ns)


@dataclass(frozen=True, slots=True)
class Extraction:
    """What reading one file gave: a record, or why there is none."""

    stat: FileStat
    record: MediaRecord | None = None
    not_media: bool = False
    skipped: str | None = None

    @property
    def problem(self) -> str | None:
        """One line for the user about this file, or None if all went well."""
        if self.skipped:
            return self.skipped
        if self.record is not None and self.record.errors:
            return "; ".join(f"{e.stage}: {e.message}" for e in self.record.errors)
        if self.not_media and os.path.splitext(self.stat.path)[1][1:].lower() in MEDIA_NAMED:
            return (
                "empty file"
                if self.stat.size == 0
                else "named like a photo or video, but its content is none"
            )
        return None

"""A cataloged file that is still there but no longer a photo or video keeps its entry, marked.

A failed copy over a photo, a truncation to zero bytes, a download page saved under its name: the
file is damaged, not gone. Dropping its entry would hide the loss (and `add` would skip the file
for ever); the entry stays, describes what the file was, and says in `errors` what it is now.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Final

from imgcat.record import ExtractError, MediaRecord
from imgcat.scan.reading import EXTRACTOR_VERSION, FileStat

DAMAGE_STAGE: Final = "content"


def damage_reason(stat: FileStat, earlier: MediaRecord) -> str:
    """What the file has become, in a few words: 'now an empty file (was a jpeg photo)'."""
    what = "an empty file" if stat.size == 0 else "something that is not a photo or video"
    noun = "video" if earlier.kind == "video" else "photo"
    return f"now {what} (was a {earlier.format} {noun})"


def marked_damaged(earlier: MediaRecord, stat: FileStat, checksum: str, now: datetime) -> MediaRecord:
    """The entry as it stays in the catalog: what was known of the picture (capture time, camera,
    place), the file as it is now (size, time, checksum of what it holds), and why, in `errors`.
    Fingerprints of pixels that are gone are dropped: no near-duplicate search may pick it."""
    return replace(
        earlier,
        size=stat.size,
        mtime_ns=stat.mtime_ns,
        inode=stat.inode,
        checksum=checksum,
        scanned_at=now,
        extractor_version=EXTRACTOR_VERSION,  # read as it is now: unchanged until it changes again
        phash=None,
        dhash=None,
        sharpness=None,
        brightness=None,
        contrast=None,
        clipped_dark=None,
        clipped_bright=None,
        entropy=None,
        edge_width=None,
        errors=(ExtractError(DAMAGE_STAGE, damage_reason(stat, earlier)),),
    )

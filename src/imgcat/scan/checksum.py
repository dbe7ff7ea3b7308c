"""The content checksum, defined once: xxh128 of a file's bytes, as 32 hex digits.

Every comparison of contents goes through here: `add` (from the buffer it already read, or in
chunks for a video), sync's move detection, dupes' and reorganize's checks on disk, and the safe
actions' verification. A second copy could drift (another algorithm, another chunking of a
header) and two equal files would no longer look equal.
"""

from __future__ import annotations

from typing import BinaryIO, Final

import xxhash

CHUNK: Final = 1024 * 1024


def content_checksum(data: bytes, rest: BinaryIO | None = None) -> str:
    """The checksum of `data` followed by whatever `rest` still holds (read in chunks)."""
    if rest is None:
        return xxhash.xxh3_128_hexdigest(data)
    digest = xxhash.xxh3_128(data)
    while chunk := rest.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def file_checksum(path: str) -> str:
    """The checksum of the file at `path`, read in chunks; raises OSError if it cannot be read."""
    with open(path, "rb") as file:
        return content_checksum(b"", file)


def checksum_if_readable(path: str) -> str | None:
    """The file's checksum, or None when it cannot be read (gone, unreadable, not a file)."""
    try:
        return file_checksum(path)
    except OSError:
        return None

"""A small, defensive TIFF directory reader: EXIF blobs and the headers of TIFF-based RAW files.

Every offset and count is checked against the data; loops and absurd counts stop the walk. What
cannot be read is reported in `problems`, never raised.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final

MAX_ENTRIES: Final = 1000
MAX_IFDS: Final = 64

EXIF_IFD: Final = 0x8769
GPS_IFD: Final = 0x8825
SUB_IFDS: Final = 0x014A
MAKER_NOTE: Final = 0x927C

# TIFF type → (struct code, size)
_TYPES: Final[dict[int, tuple[str, int]]] = {
    1: ("B", 1), 2: ("s", 1), 3: ("H", 2), 4: ("I", 4), 5: ("II", 8), 6: ("b", 1), 7: ("s", 1),
    8: ("h", 2), 9: ("i", 4), 10: ("ii", 8), 11: ("f", 4), 12: ("d", 8), 13: ("I", 4),
}  # fmt: skip

Value = str | bytes | tuple[float, ...]


@dataclass
class Directory:
    tags: dict[int, Value] = field(default_factory=dict)

    def text(self, tag: int) -> str | None:
        value = self.tags.get(tag)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not isinstance(value, str):
            return None
        value = value.split("\x00", 1)[0].strip()
        return value or None

    def number(self, tag: int, index: int = 0) -> float | None:
        value = self.tags.get(tag)
        if isinstance(value, tuple) and len(value) > index:
            return value[index]
        return None

    def numbers(self, tag: int) -> tuple[float, ...]:
        value = self.tags.get(tag)
        return value if isinstance(value, tuple) else ()


@dataclass
class TiffTags:
    """IFD0, the EXIF and GPS directories, and every image directory (IFD chain + SubIFDs)."""

    ifd0: Directory = field(default_factory=Directory)
    exif: Directory = field(default_factory=Directory)
    gps: Directory = field(default_factory=Directory)
    images: list[Directory] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_tiff(data: bytes, *, magic_ok: bool = False) -> TiffTags:
    """Read a TIFF structure (`II*\\0`, `MM\\0*`; `magic_ok` accepts ORF/RW2's own magic)."""
    tags = TiffTags()
    if data.startswith(b"Exif\x00\x00"):
        data = data[6:]
    if data[:2] == b"II":
        endian = "<"
    elif data[:2] == b"MM":
        endian = ">"
    else:
        tags.problems.append("not a TIFF/EXIF structure")
        return tags
    if len(data) < 8 or (not magic_ok and data[2:4] not in (b"*\x00", b"\x00*")):
        tags.problems.append("not a TIFF/EXIF structure")
        return tags
    reader = _Reader(data, endian, tags.problems)
    chain = reader.chain(struct.unpack_from(endian + "I", data, 4)[0])
    if not chain:
        return tags
    tags.ifd0 = chain[0]
    pending = list(chain)
    while pending and len(tags.images) < MAX_IFDS:
        directory = pending.pop(0)
        tags.images.append(directory)
        for sub_offset in directory.numbers(SUB_IFDS):
            sub = reader.directory(int(sub_offset))
            if sub is not None:
                pending.append(sub)
    for tag, name in ((EXIF_IFD, "exif"), (GPS_IFD, "gps")):
        where = tags.ifd0.number(tag)
        if where is not None:
            found = reader.directory(int(where))
            if found is not None:
                setattr(tags, name, found)
    return tags


def read_ifd_at(data: bytes, offset: int, endian: str) -> Directory | None:
    """One directory at `offset` of `data` (maker notes keep their own offsets)."""
    return _Reader(data, endian, []).directory(offset)


class _Reader:
    def __init__(self, data: bytes, endian: str, problems: list[str]) -> None:
        self.data = data
        self.endian = endian
        self.problems = problems
        self.seen: set[int] = set()

    def chain(self, offset: int) -> list[Directory]:
        found: list[Directory] = []
        while offset and len(found) < MAX_IFDS:
            directory = self.directory(offset)
            if directory is None:
                break
            found.append(directory)
            offset = self._next_offset(offset)
        return found

    def _next_offset(self, offset: int) -> int:
        count = struct.unpack_from(self.endian + "H", self.data, offset)[0]
        end = offset + 2 + 12 * count
        if end + 4 > len(self.data):
            return 0
        next_offset: int = struct.unpack_from(self.endian + "I", self.data, end)[0]
        return next_offset

    def directory(self, offset: int) -> Directory | None:
        if offset in self.seen:
            self.problems.append(f"directory loop at offset {offset}")
            return None
        if offset < 8 or offset + 2 > len(self.data):
            self.problems.append(f"directory offset {offset} outside the data")
            return None
        self.seen.add(offset)
        count = struct.unpack_from(self.endian + "H", self.data, offset)[0]
        if count > MAX_ENTRIES:
            self.problems.append(f"directory at {offset} claims {count} entries")
            return None
        directory = Directory()
        for index in range(count):
            entry = offset + 2 + 12 * index
            if entry + 12 > len(self.data):
                self.problems.append(f"directory at {offset} is cut short")
                break
            tag, kind, items = struct.unpack_from(self.endian + "HHI", self.data, entry)
            value = self._value(kind, items, entry + 8)
            if value is not None:
                directory.tags[tag] = value
        return directory

    def _value(self, kind: int, items: int, where: int) -> Value | None:
        if kind not in _TYPES:
            return None
        code, size = _TYPES[kind]
        total = size * items
        if total > len(self.data):
            return None
        start = where if total <= 4 else struct.unpack_from(self.endian + "I", self.data, where)[0]
        if start + total > len(self.data):
            return None
        raw = self.data[start : start + total]
        if kind in (2, 7):
            return raw.decode("latin-1") if kind == 2 else raw
        if items > 4096:  # large arrays (strip offsets, curves) are never needed here
            return None
        if kind in (5, 10):
            pairs = struct.unpack(self.endian + code[0] * (2 * items), raw)
            return tuple(pairs[i] / pairs[i + 1] if pairs[i + 1] else 0.0 for i in range(0, len(pairs), 2))
        return tuple(float(v) for v in struct.unpack(self.endian + code * items, raw))

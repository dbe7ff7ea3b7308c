"""RAW files: their EXIF directories and their largest embedded JPEG preview."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final

from imgcat.scan.tiff import Directory, TiffTags, read_tiff

COMPRESSION, PHOTOMETRIC, STRIP_OFFSETS, STRIP_BYTES = 0x0103, 0x0106, 0x0111, 0x0117
JPEG_OFFSET, JPEG_LENGTH = 0x0201, 0x0202
_SENSOR_DATA: Final = (32803.0, 34892.0)  # CFA, LinearRaw: not a picture Pillow can show
_CR3_UUID: Final = bytes.fromhex("85c0b687820f11e08111f4ce462b6a48")


@dataclass
class RawContents:
    tags: TiffTags = field(default_factory=TiffTags)
    preview: bytes | None = None


def read_raw(data: bytes, raw_format: str) -> RawContents:
    """The metadata and preview of a RAW file; formats not understood give empty contents."""
    if raw_format == "raf":
        return _raf(data)
    if raw_format == "cr3":
        return RawContents(_cr3_tags(data))
    if raw_format == "mrw":
        return RawContents(_mrw_tags(data))
    if raw_format in ("crw", "x3f"):
        tags = TiffTags()
        tags.problems.append(f"{raw_format.upper()} metadata is not read by this version")
        return RawContents(tags)
    tags = read_tiff(data, magic_ok=raw_format in ("orf", "rw2"))
    return RawContents(tags, largest_jpeg(data, tags.images))


def largest_jpeg(data: bytes, directories: list[Directory]) -> bytes | None:
    candidates: list[tuple[int, int]] = []
    for directory in directories:
        if directory.number(PHOTOMETRIC) in _SENSOR_DATA:
            continue
        for offset_tag, length_tag in ((JPEG_OFFSET, JPEG_LENGTH), (STRIP_OFFSETS, STRIP_BYTES)):
            offsets, lengths = directory.numbers(offset_tag), directory.numbers(length_tag)
            if len(offsets) == 1 and len(lengths) == 1:
                start, length = int(offsets[0]), int(lengths[0])
                if data[start : start + 3] == b"\xff\xd8\xff" and start + length <= len(data):
                    candidates.append((length, start))
    if not candidates:
        return None
    length, start = max(candidates)
    return data[start : start + length]


def _raf(data: bytes) -> RawContents:
    if len(data) < 92:
        return RawContents()
    start, length = struct.unpack_from(">II", data, 84)
    jpeg = data[start : start + length]
    if not jpeg.startswith(b"\xff\xd8\xff"):
        return RawContents()
    exif_at = jpeg.find(b"Exif\x00\x00", 0, 65536)
    tags = read_tiff(jpeg[exif_at:]) if exif_at >= 0 else TiffTags()
    return RawContents(tags, jpeg)


def _boxes(data: bytes, start: int, end: int) -> dict[bytes, tuple[int, int]]:
    """ISO-BMFF boxes between start and end: type → (content start, content end)."""
    found: dict[bytes, tuple[int, int]] = {}
    position = start
    while position + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, position)
        header = 8
        if size == 1 and position + 16 <= end:
            size, header = struct.unpack_from(">Q", data, position + 8)[0], 16
        elif size == 0:
            size = end - position
        if size < header:
            break
        found.setdefault(kind, (position + header, min(position + size, end)))
        position += size
    return found


def _cr3_tags(data: bytes) -> TiffTags:
    """Canon CR3: moov → uuid(Canon) → CMT1 (IFD0), CMT2 (EXIF), CMT4 (GPS), each a TIFF."""
    tags = TiffTags()
    moov = _boxes(data, 0, len(data)).get(b"moov")
    if moov is None:
        tags.problems.append("CR3 without a movie box")
        return tags
    uuid = _boxes(data, *moov).get(b"uuid")
    if uuid is None or data[uuid[0] : uuid[0] + 16] != _CR3_UUID:
        tags.problems.append("CR3 without Canon's metadata box")
        return tags
    inner = _boxes(data, uuid[0] + 16, uuid[1])
    for box, name in ((b"CMT1", "ifd0"), (b"CMT2", "exif"), (b"CMT4", "gps")):
        if box in inner:
            part = read_tiff(data[inner[box][0] : inner[box][1]])
            setattr(tags, name, part.ifd0)
            tags.problems.extend(part.problems)
    tags.images = [tags.ifd0]
    return tags


def _mrw_tags(data: bytes) -> TiffTags:
    """Minolta MRW: blocks after `\\0MRM`; the `\\0TTW` block is a TIFF."""
    position, end = 8, min(len(data), 8 + struct.unpack_from(">I", data, 4)[0])
    while position + 8 <= end:
        name, length = struct.unpack_from(">4sI", data, position)
        if name == b"\x00TTW":
            return read_tiff(data[position + 8 : position + 8 + length])
        position += 8 + length
    tags = TiffTags()
    tags.problems.append("MRW without a TIFF block")
    return tags

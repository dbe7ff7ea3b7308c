"""RAW files: their EXIF directories and their largest embedded JPEG preview."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from imgcat.scan.bmff import boxes, first
from imgcat.scan.exif import DATETIME_ORIGINAL, IMAGE_LENGTH, IMAGE_WIDTH, MAKE, MODEL, ORIENTATION
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
    """The metadata and preview of a RAW file; damaged structures give what could be read."""
    try:
        return _read_raw(data, raw_format)
    except struct.error:  # an offset or count pointing past the data: every parser reads with struct
        contents = RawContents()
        contents.tags.problems.append(f"{raw_format.upper()} structure cut short or damaged")
        return contents


def _read_raw(data: bytes, raw_format: str) -> RawContents:
    if raw_format == "raf":
        return _raf(data)
    if raw_format == "cr3":
        return RawContents(_cr3_tags(data))
    if raw_format == "mrw":
        return RawContents(_mrw_tags(data))
    if raw_format == "crw":
        return _crw(data)
    if raw_format == "x3f":
        return _x3f(data)
    tags = read_tiff(data, magic_ok=raw_format in ("orf", "rw2"))
    if raw_format == "rw2":
        _rw2_size(tags)
    if raw_format == "iiq":
        _iiq_size(data, tags)
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


def _cr3_tags(data: bytes) -> TiffTags:
    """Canon CR3: moov → uuid(Canon) → CMT1 (IFD0), CMT2 (EXIF), CMT4 (GPS), each a TIFF."""
    tags = TiffTags()
    moov = first(boxes(data, 0, len(data)), b"moov")
    if moov is None:
        tags.problems.append("CR3 without a movie box")
        return tags
    uuid = first(boxes(data, *moov), b"uuid")
    if uuid is None or data[uuid[0] : uuid[0] + 16] != _CR3_UUID:
        tags.problems.append("CR3 without Canon's metadata box")
        return tags
    inner = boxes(data, uuid[0] + 16, uuid[1])
    for box, name in ((b"CMT1", "ifd0"), (b"CMT2", "exif"), (b"CMT4", "gps")):
        where = first(inner, box)
        if where is not None:
            part = read_tiff(data[where[0] : where[1]])
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


def _rw2_size(tags: TiffTags) -> None:
    """Panasonic RW2 keeps the image area as sensor borders (IFD0 tags 4-7): right-left x bottom-top."""
    top, left, bottom, right = (tags.ifd0.number(tag) for tag in (4, 5, 6, 7))
    if top is not None and left is not None and bottom is not None and right is not None:
        tags.ifd0.tags[IMAGE_WIDTH] = (right - left,)
        tags.ifd0.tags[IMAGE_LENGTH] = (bottom - top,)


def _iiq_size(data: bytes, tags: TiffTags) -> None:
    """Phase One IIQ: after the TIFF header, `IIII` and the offset (from byte 8) of its own
    directory of 16-byte entries (tag, type, size, value); 0x10c/0x10d are the image's size."""
    if data[8:12] != b"IIII":
        return
    directory = 8 + struct.unpack_from("<I", data, 16)[0]
    count = struct.unpack_from("<I", data, directory)[0]
    values: dict[int, int] = {}
    for index in range(min(count, 1000)):
        tag, _, _, value = struct.unpack_from("<IIII", data, directory + 8 + 16 * index)
        values[tag] = value
    if 0x10C in values and 0x10D in values:
        tags.images.append(
            Directory({IMAGE_WIDTH: (float(values[0x10C]),), IMAGE_LENGTH: (float(values[0x10D]),)})
        )


def _crw(data: bytes) -> RawContents:
    """Canon CRW (CIFF): a heap of tagged entries. Reads make/model (0x080a), the capture time
    (0x180e: local seconds since 1970), width/height/rotation (0x1810) and the JPEG (0x2007)."""
    endian = "<" if data[:2] == b"II" else ">"
    contents = RawContents()
    if len(data) < 14:
        contents.tags.problems.append("CRW header cut short")
        return contents
    entries: dict[int, bytes] = {}
    _ciff_heap(data, endian, struct.unpack_from(endian + "I", data, 2)[0], len(data), entries, depth=0)
    tags = contents.tags
    make_model = entries.get(0x080A, b"").split(b"\0")
    if len(make_model) >= 2:
        tags.ifd0.tags[MAKE] = make_model[0].decode("latin-1")
        tags.ifd0.tags[MODEL] = make_model[1].decode("latin-1")
    stamp = entries.get(0x180E, b"")
    if len(stamp) >= 4:
        seconds = struct.unpack_from(endian + "I", stamp)[0]
        local = datetime(1970, 1, 1) + timedelta(seconds=seconds)  # the camera's clock, no zone
        tags.exif.tags[DATETIME_ORIGINAL] = local.strftime("%Y:%m:%d %H:%M:%S")
    info = entries.get(0x1810, b"")
    if len(info) >= 16:
        width, height, _, rotation = struct.unpack_from(endian + "IIfi", info)
        main = Directory({IMAGE_WIDTH: (float(width),), IMAGE_LENGTH: (float(height),)})
        tags.images.append(main)
        tags.ifd0.tags[ORIENTATION] = (float(_ROTATION_TO_ORIENTATION.get(rotation % 360, 1)),)
    jpeg = entries.get(0x2007, b"")
    contents.preview = jpeg if jpeg.startswith(b"\xff\xd8\xff") else None
    if not entries:
        tags.problems.append("CRW heap could not be read")
    return contents


def _ciff_heap(data: bytes, endian: str, start: int, end: int, found: dict[int, bytes], depth: int) -> None:
    """Collect the entries of a CIFF heap [start, end) and of its sub-heaps (bounded depth)."""
    if depth > 8 or end - start < 6 or end > len(data):
        return
    table = start + struct.unpack_from(endian + "I", data, end - 4)[0]
    if not start <= table < end - 2:
        return
    count = struct.unpack_from(endian + "H", data, table)[0]
    for index in range(min(count, 1000)):
        entry = table + 2 + 10 * index
        if entry + 10 > end:
            return
        tag, size, offset = struct.unpack_from(endian + "HII", data, entry)
        if tag & 0xC000 == 0x4000:  # the value is stored in the entry itself
            found.setdefault(tag & 0x3FFF, data[entry + 2 : entry + 10])
            continue
        begin, finish = start + offset, start + offset + size
        if finish > end:
            continue
        if tag & 0x3800 in (0x2800, 0x3000):  # a sub-heap
            _ciff_heap(data, endian, begin, finish, found, depth + 1)
        else:
            found.setdefault(tag & 0x3FFF, data[begin:finish])


def _x3f(data: bytes) -> RawContents:
    """Sigma X3F: width/height/rotation in the header; the IMA2 section's JPEG carries the EXIF."""
    contents = RawContents()
    if len(data) < 40:
        contents.tags.problems.append("X3F header cut short")
        return contents
    width, height, rotation = struct.unpack_from("<III", data, 28)  # after FOVb, version, id, marks
    directory = struct.unpack_from("<I", data, len(data) - 4)[0]
    if data[directory : directory + 4] == b"SECd":
        count = struct.unpack_from("<I", data, directory + 8)[0]
        for index in range(min(count, 100)):
            offset, length, kind = struct.unpack_from("<II4s", data, directory + 12 + 12 * index)
            section = data[offset : offset + length]
            if (
                kind in (b"IMA2", b"IMAG")
                and section[:4] == b"SECi"
                and section[12:16] == b"\x12\x00\x00\x00"
            ):
                contents.preview = section[28:] if section[28:31] == b"\xff\xd8\xff" else None
                break
    if contents.preview is not None:
        exif_at = contents.preview.find(b"Exif\x00\x00", 0, 65536)
        if exif_at >= 0:
            contents.tags = read_tiff(contents.preview[exif_at:])
    contents.tags.images.append(Directory({IMAGE_WIDTH: (float(width),), IMAGE_LENGTH: (float(height),)}))
    contents.tags.ifd0.tags.setdefault(ORIENTATION, (float(_ROTATION_TO_ORIENTATION.get(rotation % 360, 1)),))
    return contents


_ROTATION_TO_ORIENTATION: Final = {0: 1, 90: 6, 180: 3, 270: 8}

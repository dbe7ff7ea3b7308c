"""Is a container whole? Each format is checked against its own declared sizes, reading headers only.

A file cut short (a copy that stopped, a card pulled out, a download that failed) still opens in
most readers, which then report what they could find: a video without duration, an image decoded
half gray. The containers say how long they should be, and that is what is checked here:

- MP4/MOV/3GP/CR3 (ISO base media): the top-level boxes against the file size; a video needs its
  `moov` (the index) and its `mdat` (the frames);
- HEIF/AVIF: the same boxes, then every item's extents (`iloc`) inside the file; the primary
  item must have a location. When an image item is cut, its pixels are not trusted;
- AVI: the RIFF chunks and the `hdrl`/`movi` lists inside the first one;
- MKV/WebM: the EBML header and Segment sizes, each top-level element of the Segment, the
  positions its SeekHead points to, and that Info, Tracks and a Cluster are there;
- MPEG-TS/M2TS: whole 188/192-byte packets, with their sync byte where it belongs (sampled).

Only headers are read (a few bytes per box, chunk or element; the `meta` box of a HEIF), never the
frames: the cost does not grow with the payload.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

TS_SAMPLES: Final = 256
MAX_ELEMENTS: Final = 1_000_000  # a guard against a loop on absurd data, far above real files
IMAGE_ITEMS: Final = frozenset(
    {b"hvc1", b"av01", b"grid", b"iden", b"iovl", b"jpeg", b"unci", b"vvc1", b"avc1"}
)


class Source(Protocol):
    """Random access to a file's bytes: its size, and a few bytes at an offset."""

    @property
    def size(self) -> int: ...

    def read_at(self, offset: int, length: int) -> bytes: ...


@dataclass(frozen=True, slots=True)
class BytesSource:
    """A file already read into memory."""

    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def read_at(self, offset: int, length: int) -> bytes:
        return self.data[offset : offset + length]


@dataclass(frozen=True, slots=True)
class FileSource:
    """An open file, read with pread (no shared file position)."""

    fd: int
    size: int

    def read_at(self, offset: int, length: int) -> bytes:
        if offset >= self.size or length <= 0:
            return b""
        return os.pread(self.fd, min(length, self.size - offset), offset)


@dataclass(frozen=True, slots=True)
class ContainerCheck:
    """What the check found: None if the container is whole; else one line saying what is wrong,
    and whether the picture's own data is still all there (a cut after it leaves it intact)."""

    problem: str | None = None
    pixels_intact: bool = True


WHOLE: Final = ContainerCheck()


def check_container(format: str, source: Source) -> ContainerCheck:
    """Check the container of a file of `format` (as `detect` names it); WHOLE for formats that
    have no declared sizes to check against."""
    check = _CHECKS.get(format)
    if check is None:
        return WHOLE
    try:
        return check(source)
    except (struct.error, IndexError, ValueError) as error:  # a header cut in the middle
        return ContainerCheck(f"unreadable header: {error}", pixels_intact=False)


class _Damaged(Exception):
    """The container contradicts itself or its file size."""

    def __init__(self, problem: str, *, pixels_intact: bool = False) -> None:
        super().__init__(problem)
        self.problem = problem
        self.pixels_intact = pixels_intact


def _checked(check: Callable[[Source], None]) -> Callable[[Source], ContainerCheck]:
    def run(source: Source) -> ContainerCheck:
        try:
            check(source)
        except _Damaged as damage:
            return ContainerCheck(damage.problem, damage.pixels_intact)
        return WHOLE

    return run


def _past_end(what: str, offset: int, end: int, size: int) -> _Damaged:
    return _Damaged(
        f"cut short: {what} at byte {offset:,} ends {end - size:,} bytes past the end of the file"
    )


# ISO base media (MP4, MOV, 3GP, HEIF, AVIF, CR3) ------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Box:
    kind: bytes
    start: int  # of the header
    content: int  # of the content
    end: int


def _box_at(source: Source, position: int, limit: int) -> _Box | None:
    """The box whose header starts at `position`; None where no box header can be (stray bytes)."""
    header = source.read_at(position, 16)
    if len(header) < 8:
        return None
    size, kind = struct.unpack_from(">I4s", header)
    if not all(32 <= c < 127 for c in kind):
        return None
    content = position + 8
    if size == 1:
        if len(header) < 16:
            raise _Damaged(f"cut short: box '{_name(kind)}' at byte {position:,} has half a header")
        size, content = struct.unpack_from(">Q", header, 8)[0], position + 16
    elif size == 0:  # to the end of the file
        size = limit - position
    if size < content - position:
        raise _Damaged(f"box '{_name(kind)}' at byte {position:,} declares an impossible size ({size})")
    return _Box(kind, position, content, position + size)


def _top_boxes(source: Source) -> list[_Box]:
    """The file's top-level boxes; raises _Damaged for one that runs past the end of the file.
    Bytes after the last box that cannot be a box are left alone, unless they are a cut header."""
    found: list[_Box] = []
    position = 0
    while position < source.size and len(found) < MAX_ELEMENTS:
        box = _box_at(source, position, source.size)
        if box is None:
            rest = source.read_at(position, 8)
            if len(rest) < 8 and rest.strip(b"\0"):
                raise _Damaged(f"cut short: a box header at byte {position:,} has {len(rest)} of 8 bytes")
            break
        if box.end > source.size:
            raise _past_end(f"box '{_name(box.kind)}'", box.start, box.end, source.size)
        found.append(box)
        position = box.end
    return found


def _children(source: Source, parent: _Box, skip: int = 0) -> list[_Box]:
    """The boxes inside `parent` (after `skip` bytes: a full box's version and flags)."""
    found: list[_Box] = []
    position = parent.content + skip
    while position + 8 <= parent.end and len(found) < MAX_ELEMENTS:
        box = _box_at(source, position, parent.end)
        if box is None:
            break
        if box.end > parent.end:
            raise _Damaged(f"box '{_name(box.kind)}' at byte {box.start:,} runs past its parent")
        found.append(box)
        position = box.end
    return found


def _name(kind: bytes) -> str:
    return kind.decode("latin-1")


@_checked
def _bmff_video(source: Source) -> None:
    kinds = {box.kind for box in _top_boxes(source)}
    for needed, what in ((b"moov", "its index"), (b"mdat", "its frames")):
        if needed not in kinds:
            raise _Damaged(f"no '{_name(needed)}' box ({what}): the file was cut or never finished")


@_checked
def _bmff_boxes(source: Source) -> None:
    _top_boxes(source)


@_checked
def _heif(source: Source) -> None:
    try:
        top = _top_boxes(source)
    except _Damaged as damage:  # a cut box at the top: the items say whether the picture is whole
        intact = _items_intact(source, _meta_anyway(source))
        raise _Damaged(damage.problem, pixels_intact=intact) from None
    meta = next((box for box in top if box.kind == b"meta"), None)
    if meta is None:
        raise _Damaged("no 'meta' box: the file was cut or never finished")
    _check_items(source, meta)


def _meta_anyway(source: Source) -> _Box | None:
    """The `meta` box when it is whole, even if a later box is cut."""
    position = 0
    while position < source.size:
        try:
            box = _box_at(source, position, source.size)
        except _Damaged:
            return None
        if box is None or box.end > source.size:
            return None
        if box.kind == b"meta":
            return box
        position = box.end
    return None


def _items_intact(source: Source, meta: _Box | None) -> bool:
    if meta is None:
        return False
    try:
        _check_items(source, meta)
    except (_Damaged, struct.error, IndexError):
        return False
    return True


def _check_items(source: Source, meta: _Box) -> None:
    """Every item's extents lie inside the file, and the primary item has a location."""
    data = source.read_at(meta.start, meta.end - meta.start)
    local = BytesSource(data)
    inside = _children(local, _Box(b"meta", 0, meta.content - meta.start, len(data)), skip=4)
    boxes = {box.kind: box for box in inside}
    located, locations = _item_locations(data, boxes[b"iloc"]) if b"iloc" in boxes else (set(), {})
    types = _item_types(data, boxes[b"iinf"]) if b"iinf" in boxes else {}
    primary = _primary_item(data, boxes[b"pitm"]) if b"pitm" in boxes else None
    if primary is not None and primary not in located:
        raise _Damaged(f"the primary item ({primary}) has no location")
    for item, extents in sorted(locations.items()):
        for offset, length in extents:
            if offset + length > source.size:
                kind = types.get(item, b"????")
                what = f"item {item} ('{_name(kind)}'" + (
                    ", the primary picture)" if item == primary else ")"
                )
                raise _Damaged(
                    f"cut short: {what} at byte {offset:,} ends {offset + length - source.size:,} bytes "
                    "past the end of the file",
                    pixels_intact=kind not in IMAGE_ITEMS,
                )


def _primary_item(data: bytes, pitm: _Box) -> int:
    version = data[pitm.content]
    return int(struct.unpack_from(">H" if version == 0 else ">I", data, pitm.content + 4)[0])


def _item_types(data: bytes, iinf: _Box) -> dict[int, bytes]:
    """Item id → item type (from the `infe` boxes, version 2 and 3)."""
    version = data[iinf.content]
    skip = 4 + (2 if version == 0 else 4)
    types: dict[int, bytes] = {}
    for infe in _children(BytesSource(data), iinf, skip=skip):
        if infe.kind != b"infe":
            continue
        infe_version = data[infe.content]
        position = infe.content + 4
        if infe_version >= 2:
            width = 2 if infe_version == 2 else 4
            item = int.from_bytes(data[position : position + width], "big")
            types[item] = data[position + width + 2 : position + width + 6]
    return types


def _item_locations(data: bytes, iloc: _Box) -> tuple[set[int], dict[int, list[tuple[int, int]]]]:
    """Every item that has a location, and item id → its extents in the file (offset, length)
    for items stored in this file's bytes (construction method 0, data reference 0); length 0
    ("to the end") is left out."""
    position = iloc.content
    version = data[position]
    position += 4
    sizes = data[position] << 8 | data[position + 1]
    offset_size, length_size, base_size = sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15
    index_size = sizes & 15 if version in (1, 2) else 0
    position += 2
    count_width = 2 if version < 2 else 4
    count = int.from_bytes(data[position : position + count_width], "big")
    position += count_width
    located: set[int] = set()
    locations: dict[int, list[tuple[int, int]]] = {}
    for _ in range(min(count, MAX_ELEMENTS)):
        item = int.from_bytes(data[position : position + count_width], "big")
        position += count_width
        method = 0
        if version in (1, 2):
            method = (data[position] << 8 | data[position + 1]) & 15
            position += 2
        reference = data[position] << 8 | data[position + 1]
        position += 2
        base = _uint(data, position, base_size)
        position += base_size
        extents = data[position] << 8 | data[position + 1]
        position += 2
        found: list[tuple[int, int]] = []
        for _ in range(extents):
            position += index_size
            offset = _uint(data, position, offset_size)
            position += offset_size
            length = _uint(data, position, length_size)
            position += length_size
            if length:
                found.append((base + offset, length))
        if position > iloc.end:
            raise _Damaged("the item locations ('iloc') run past their box")
        located.add(item)
        if method == 0 and reference == 0:
            locations[item] = found
    return located, locations


def _uint(data: bytes, position: int, width: int) -> int:
    if position + width > len(data):
        raise IndexError("field past the end of its box")
    return int.from_bytes(data[position : position + width], "big")


# RIFF (AVI) -------------------------------------------------------------------------------------


@_checked
def _riff(source: Source) -> None:
    position = 0
    first = True
    while position + 8 <= source.size:
        chunk_id, size = struct.unpack("<4sI", source.read_at(position, 8))
        if chunk_id != b"RIFF":
            if first:
                raise _Damaged("no RIFF header")
            break  # data after the RIFF chunks: not the AVI's
        end = position + 8 + size
        if end > source.size:
            raise _past_end(
                f"RIFF chunk '{_name(source.read_at(position + 8, 4))}'", position, end, source.size
            )
        if first:
            _check_avi_lists(source, position + 12, end)
        first = False
        position = end + (size & 1)
    if first:
        raise _Damaged("no RIFF header")


def _check_avi_lists(source: Source, start: int, end: int) -> None:
    lists: set[bytes] = set()
    position = start
    while position + 8 <= end:
        chunk_id, size = struct.unpack("<4sI", source.read_at(position, 8))
        chunk_end = position + 8 + size
        if chunk_end > end:
            what = source.read_at(position + 8, 4) if chunk_id == b"LIST" else chunk_id
            raise _past_end(f"chunk '{_name(what)}'", position, chunk_end, end)
        if chunk_id == b"LIST":
            lists.add(source.read_at(position + 8, 4))
        position = chunk_end + (size & 1)
    for needed, what in ((b"hdrl", "its header"), (b"movi", "its frames")):
        if needed not in lists:
            raise _Damaged(f"no '{_name(needed)}' list ({what}): the file was cut or never finished")


# EBML (MKV, WebM) -------------------------------------------------------------------------------

_EBML: Final = 0x1A45DFA3
_SEGMENT: Final = 0x18538067
_SEEK_HEAD: Final = 0x114D9B74
_SEEK: Final = 0x4DBB
_SEEK_POSITION: Final = 0x53AC
_INFO: Final = 0x1549A966
_TRACKS: Final = 0x1654AE6B
_CLUSTER: Final = 0x1F43B675
_EBML_NAMES: Final = {
    _EBML: "EBML header", _SEGMENT: "Segment", _SEEK_HEAD: "SeekHead", _INFO: "Info",
    _TRACKS: "Tracks", _CLUSTER: "Cluster", 0x1C53BB6B: "Cues", 0x1941A469: "Attachments",
    0x1043A770: "Chapters", 0x1254C367: "Tags", 0xEC: "Void",
}  # fmt: skip


def _ebml_id(data: bytes, position: int) -> tuple[int, int]:
    """An EBML element id (its marker bit kept, as ids are written) and its width."""
    width = _vint_width(data, position)
    return int.from_bytes(data[position : position + width], "big"), width


def _ebml_size(data: bytes, position: int) -> tuple[int | None, int]:
    """An EBML element size and its width; None for 'unknown' (all ones: a live recording)."""
    width = _vint_width(data, position)
    value = int.from_bytes(data[position : position + width], "big") & ((1 << (7 * width)) - 1)
    return (None if value == (1 << (7 * width)) - 1 else value), width


def _vint_width(data: bytes, position: int) -> int:
    first = data[position]
    if first == 0:
        raise ValueError(f"invalid EBML number at {position}")
    width = 9 - first.bit_length()
    if len(data) < position + width:
        raise IndexError("EBML number cut")
    return width


def _element_at(source: Source, position: int) -> tuple[int, int, int | None]:
    """(element id, content start, content size or None if unknown) of the element at `position`."""
    header = source.read_at(position, 12)
    element, id_width = _ebml_id(header, 0)
    size, size_width = _ebml_size(header, id_width)
    return element, position + id_width + size_width, size


@_checked
def _ebml(source: Source) -> None:
    element, content, size = _element_at(source, 0)
    if element != _EBML or size is None:
        raise _Damaged("no EBML header")
    position = content + size
    while position < source.size:
        element, content, size = _element_at(source, position)
        if element == _SEGMENT:
            _check_segment(source, position, content, size)
            return
        if size is None:
            break
        position = content + size
    raise _Damaged("no Segment: the file was cut or never finished")


def _check_segment(source: Source, start: int, content: int, size: int | None) -> None:
    end = source.size if size is None else content + size
    if end > source.size:
        raise _past_end("Segment", start, end, source.size)
    seen: set[int] = set()
    position = content
    while position < end and len(seen) < MAX_ELEMENTS:
        element, child_content, child_size = _element_at(source, position)
        if child_size is None:  # a live recording's open-ended element: nothing more to measure
            seen.add(element)
            break
        child_end = child_content + child_size
        if child_end > end:
            what = _EBML_NAMES.get(element, f"element {element:X}")
            raise _past_end(what, position, child_end, end if end < source.size else source.size)
        if element == _SEEK_HEAD:
            for target in _seek_positions(source.read_at(child_content, child_size)):
                if content + target >= end:
                    where = f"byte {content + target:,}"
                    raise _Damaged(f"cut short: the SeekHead points to {where}, past the end of the file")
        seen.add(element)
        position = child_end
    for needed in (_INFO, _TRACKS, _CLUSTER):
        if needed not in seen and not (needed == _CLUSTER and position >= end and size is None):
            raise _Damaged(f"no {_EBML_NAMES[needed]}: the file was cut or never finished")


def _seek_positions(data: bytes) -> list[int]:
    positions: list[int] = []
    position = 0
    while position < len(data):
        element, id_width = _ebml_id(data, position)
        size, size_width = _ebml_size(data, position + id_width)
        content = position + id_width + size_width
        if size is None:
            break
        if element == _SEEK:
            inner = data[content : content + size]
            at = 0
            while at < len(inner):
                inner_id, inner_width = _ebml_id(inner, at)
                inner_size, inner_size_width = _ebml_size(inner, at + inner_width)
                value_at = at + inner_width + inner_size_width
                if inner_size is None:
                    break
                if inner_id == _SEEK_POSITION:
                    positions.append(int.from_bytes(inner[value_at : value_at + inner_size], "big"))
                at = value_at + inner_size
        position = content + size
    return positions


# MPEG transport streams (MTS, M2TS) -------------------------------------------------------------


def _transport(packet: int, sync_at: int) -> Callable[[Source], ContainerCheck]:
    @_checked
    def check(source: Source) -> None:
        packets, rest = divmod(source.size, packet)
        if rest:
            raise _Damaged(f"cut short: the last packet has {rest} of {packet} bytes")
        step = max(1, packets // TS_SAMPLES)
        for index in [*range(0, packets, step), packets - 1]:
            if source.read_at(index * packet + sync_at, 1) != b"\x47":
                raise _Damaged(f"packet {index:,} (byte {index * packet:,}) has lost its sync byte")

    return check


_CHECKS: Final[dict[str, Callable[[Source], ContainerCheck]]] = {
    "mp4": _bmff_video,
    "mov": _bmff_video,
    "3gp": _bmff_video,
    "cr3": _bmff_boxes,
    "heic": _heif,
    "avif": _heif,
    "avi": _riff,
    "mkv": _ebml,
    "webm": _ebml,
    "mpegts": _transport(188, 0),
    "m2ts": _transport(192, 4),
}

"""ISO base media file format (HEIF, AVIF, CR3): boxes, and the primary image's stored size."""

from __future__ import annotations

import struct


def boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """The boxes between start and end, in order: (type, content start, content end)."""
    found: list[tuple[bytes, int, int]] = []
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
        found.append((kind, position + header, min(position + size, end)))
        position += size
    return found


def first(found: list[tuple[bytes, int, int]], kind: bytes) -> tuple[int, int] | None:
    return next(((start, end) for name, start, end in found if name == kind), None)


def primary_image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of the primary item as stored (its `ispe`), before any `irot`.
    None when the structure is not there or is damaged."""
    try:
        meta = first(boxes(data, 0, len(data)), b"meta")
        if meta is None:
            return None
        inside = boxes(data, meta[0] + 4, meta[1])  # meta is a full box: version and flags first
        pitm, iprp = first(inside, b"pitm"), first(inside, b"iprp")
        if pitm is None or iprp is None:
            return None
        primary = struct.unpack_from(">H" if data[pitm[0]] == 0 else ">I", data, pitm[0] + 4)[0]
        properties = boxes(data, iprp[0], iprp[1])
        ipco, ipma = first(properties, b"ipco"), first(properties, b"ipma")
        if ipco is None or ipma is None:
            return None
        container = boxes(data, ipco[0], ipco[1])
        for index in _associations(data, ipma, primary):
            if 0 < index <= len(container) and container[index - 1][0] == b"ispe":
                width, height = struct.unpack_from(">II", data, container[index - 1][1] + 4)
                return int(width), int(height)
    except struct.error:
        return None
    return None


def _associations(data: bytes, ipma: tuple[int, int], item: int) -> list[int]:
    """The property indices (1-based) that `ipma` associates with `item`."""
    version, flags = data[ipma[0]], int.from_bytes(data[ipma[0] + 1 : ipma[0] + 4], "big")
    position = ipma[0] + 4
    (count,) = struct.unpack_from(">I", data, position)
    position += 4
    for _ in range(min(count, 100_000)):
        item_id = struct.unpack_from(">H" if version < 1 else ">I", data, position)[0]
        position += 2 if version < 1 else 4
        links = data[position]
        position += 1
        wide = flags & 1
        indices = []
        for _ in range(links):
            value = struct.unpack_from(">H" if wide else ">B", data, position)[0]
            position += 2 if wide else 1
            indices.append(value & (0x7FFF if wide else 0x7F))
        if item_id == item:
            return indices
    return []

"""What video containers hold that mediainfo leaves out: where a phone or camera put the place, and
when AVI, ASF/WMV and MPEG-PS camcorder files were recorded.

- Place (QuickTime, MP4, 3GP): Apple's `com.apple.quicktime.location.ISO6709` in the `mdta` keys
  of `moov/meta`; `©xyz` in `moov/udta` (Apple, Android's MediaMuxer, so Samsung and the other
  Android phones) or in an `ilst` (Google Photos); `@xyz` (early iPhones); the 3GPP `loci` box.
- Time: a RIFF AVI's `IDIT` (the camera's DateTimeOriginal, local time, in the many formats
  cameras wrote it), else its INFO `ICRD`; an ASF/WMV file's creation date (UTC); a JVC, Canon or
  Panasonic camcorder's MPEG-PS `.MOD` (or `.TOD`) by the date in the `.MOI` file beside it.

Only headers are read (a few seeks, a few kB), never the media data. Damaged or foreign
structures give None: these readers never raise for what a file holds (OSError aside).
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import BinaryIO, Final

from imgcat.record import GeoPoint
from imgcat.scan.bmff import boxes, first

BOX_LIMIT: Final = 4 * 1024 * 1024  # a udta or meta box larger than this is not metadata
APPLE_LOCATION_KEY: Final = b"com.apple.quicktime.location.ISO6709"
QUICKTIME_FORMATS: Final = frozenset({"mp4", "mov", "3gp"})
MOI_FORMATS: Final = frozenset({"mpeg", "mpegts"})  # .MOD is MPEG-PS, .TOD MPEG-TS


@dataclass(frozen=True, slots=True)
class ContainerFacts:
    """What a video's container says beyond mediainfo: when (aware if the container says UTC,
    naive for a local time) and where."""

    captured_at: datetime | None = None
    gps: GeoPoint | None = None


def container_facts(path: str, video_format: str) -> ContainerFacts:
    """The capture time and place that the container of a video of `video_format` holds
    (nothing when its structure is damaged; OSError if it cannot be read)."""
    try:
        return _container_facts(path, video_format)
    except (struct.error, ValueError, OverflowError):
        return ContainerFacts()


def _container_facts(path: str, video_format: str) -> ContainerFacts:
    with open(path, "rb") as file:
        if video_format in QUICKTIME_FORMATS:
            return ContainerFacts(gps=quicktime_location(file))
        if video_format == "avi":
            return ContainerFacts(riff_capture_time(file))
        if video_format == "wmv":
            return ContainerFacts(asf_capture_time(file))
    if video_format in MOI_FORMATS:
        return ContainerFacts(moi_capture_time(path))
    return ContainerFacts()


# --- where: QuickTime / MP4 / 3GP -----------------------------------------------------------


def quicktime_location(file: BinaryIO) -> GeoPoint | None:
    """The place recorded in a QuickTime/MP4/3GP file, wherever its writer put it; None if none."""
    size = _size(file)
    moov = next((span for kind, span in _boxes_on_disk(file, 0, size) if kind == b"moov"), None)
    if moov is None:
        return None
    found: dict[bytes, GeoPoint] = {}
    for kind, (start, end) in _boxes_on_disk(file, *moov):
        if kind in (b"udta", b"meta") and end - start <= BOX_LIMIT:
            file.seek(start)
            data = file.read(end - start)
            found.update(_places(kind, data))
    for where in (b"keys", b"\xa9xyz", b"ilst", b"@xyz", b"loci"):  # Apple's own key first
        if where in found:
            return found[where]
    return None


def _places(kind: bytes, data: bytes) -> Iterator[tuple[bytes, GeoPoint]]:
    """(where it was found, the place) for each place in a `udta` or `meta` box's content."""
    if kind == b"meta":
        yield from _meta_places(data, 0, len(data))
        return
    for child, start, end in boxes(data, 0, len(data)):
        if child in (b"\xa9xyz", b"@xyz"):
            point = _international_text_place(data[start:end])
        elif child == b"loci":
            point = loci_place(data[start:end])
        elif child == b"meta":
            yield from _meta_places(data, start, end)
            continue
        else:
            continue
        if point is not None:
            yield child, point


def _meta_places(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, GeoPoint]]:
    """Places in a `meta` box: Apple's keyed metadata (`keys` + `ilst`), or an iTunes-style
    `ilst` holding `©xyz`. QuickTime's `meta` has no version and flags; ISO's has."""
    if data[start + 4 : start + 8] not in (b"hdlr", b"keys", b"ilst"):
        start += 4
    inside = boxes(data, start, end)
    keys = _keys(data, first(inside, b"keys"))
    ilst = first(inside, b"ilst")
    if ilst is None:
        return
    for item, item_start, item_end in boxes(data, *ilst):
        value = _data_value(data, item_start, item_end)
        if value is None:
            continue
        index = int.from_bytes(item, "big")
        if keys.get(index) == APPLE_LOCATION_KEY:
            where = b"keys"
        elif item == b"\xa9xyz":
            where = b"ilst"
        else:
            continue
        point = iso6709(value.decode("utf-8", "replace"))
        if point is not None:
            yield where, point


def _keys(data: bytes, span: tuple[int, int] | None) -> dict[int, bytes]:
    """Apple's `keys` box: 1-based index → key name (`mdta` namespace)."""
    if span is None or span[1] - span[0] < 8:
        return {}
    (count,) = struct.unpack_from(">I", data, span[0] + 4)
    found: dict[int, bytes] = {}
    position = span[0] + 8
    for index in range(1, min(count, 10_000) + 1):
        if position + 8 > span[1]:
            break
        (size,) = struct.unpack_from(">I", data, position)
        if size < 8:
            break
        found[index] = data[position + 8 : position + size]
        position += size
    return found


def _data_value(data: bytes, start: int, end: int) -> bytes | None:
    """The value of an item's `data` box (after its type and locale words)."""
    span = first(boxes(data, start, end), b"data")
    return None if span is None or span[1] - span[0] < 8 else data[span[0] + 8 : span[1]]


def _international_text_place(content: bytes) -> GeoPoint | None:
    """QuickTime user data text: a 16-bit length, a 16-bit language, then the ISO 6709 text; or
    the text alone (early iPhones' `@xyz`)."""
    if content[:1] in (b"+", b"-"):
        return iso6709(content.decode("utf-8", "replace"))
    if len(content) < 4:
        return None
    (length,) = struct.unpack_from(">H", content, 0)
    text = content[4 : 4 + length] if 0 < length <= len(content) - 4 else content[4:]
    return iso6709(text.decode("utf-8", "replace"))


def loci_place(content: bytes) -> GeoPoint | None:
    """3GPP `loci` (TS 26.244): version and flags, language, a name (UTF-8 ending in a zero, or
    UTF-16 with a byte-order mark ending in two), role, then longitude, latitude and altitude
    as signed 16.16 fixed-point numbers."""
    position = 6
    if content[position : position + 2] in (b"\xfe\xff", b"\xff\xfe"):
        ends = [i for i in range(position + 2, len(content) - 1, 2) if content[i : i + 2] == b"\0\0"]
        if not ends:
            return None
        position = ends[0] + 2
    else:
        zero = content.find(b"\0", position)
        if zero < 0:
            return None
        position = zero + 1
    if len(content) < position + 13:
        return None
    lon, lat, alt = (value / 65536 for value in struct.unpack_from(">iii", content, position + 1))
    return _checked(round(lat, 5), round(lon, 5), round(alt, 2))  # 16.16: 5 decimals are exact


_ISO6709_FORMS: Final = (
    (re.compile(r"^([-+]\d{1,2}(?:\.\d*)?)([-+]\d{1,3}(?:\.\d*)?)([-+]\d+(?:\.\d*)?)?"), 1),
    (re.compile(r"^([-+]\d{4}(?:\.\d*)?)([-+]\d{5}(?:\.\d*)?)([-+]\d+(?:\.\d*)?)?"), 2),
    (re.compile(r"^([-+]\d{6}(?:\.\d*)?)([-+]\d{7}(?:\.\d*)?)([-+]\d+(?:\.\d*)?)?"), 3),
)


def iso6709(text: str | None) -> GeoPoint | None:
    """An ISO 6709 point in any of its three forms: `+51.4169-000.0806+028.516/` (degrees),
    `+5125.01-00004.84/` (degrees and minutes), `+512500.8-0000450.2/` (and seconds)."""
    for pattern, parts in _ISO6709_FORMS:
        match = pattern.match((text or "").strip())
        if match is None:
            continue
        lat, lon = (_degrees(value, parts) for value in match.groups()[:2])
        alt = match.group(3)
        return _checked(lat, lon, None if alt is None else float(alt))
    return None


def _degrees(text: str, parts: int) -> float:
    """±D[D…], ±DDMM or ±DDMMSS (with decimals on the last part) as signed degrees."""
    sign = -1.0 if text.startswith("-") else 1.0
    digits = text[1:]
    whole, dot, decimals = digits.partition(".")
    if parts == 1:
        return sign * float(digits)
    cut = len(whole) - 2 * (parts - 1)
    value = float(whole[:cut]) + float(whole[cut : cut + 2] + (dot + decimals if parts == 2 else "")) / 60
    if parts == 3:
        value += float(whole[cut + 2 :] + dot + decimals) / 3600
    return sign * value


def _checked(lat: float, lon: float, alt: float | None) -> GeoPoint | None:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return GeoPoint(lat, lon, alt)


# --- when: RIFF AVI ---------------------------------------------------------------------------

_MONTH_NAMES: Final = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS: Final = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}
_CTIME: Final = re.compile(r"^[a-z]{3}\s+([a-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})\s+(\d{4})", re.I)
_WITH_SECONDS: Final = re.compile(r"^(\d{4})[-/:](\d{1,2})[-/:](\d{1,2})[ T]+(\d{1,2}):(\d{2}):(\d{2})")
_CASIO: Final = re.compile(r"^(\d{4})/\s*(\d{1,2})/\s*(\d{1,2})/?\s+(\d{1,2}):\s*(\d{2})\s*([AP])?", re.I)
_DAY: Final = re.compile(r"^(\d{4})[-/:](\d{1,2})[-/:](\d{1,2})\b")


def riff_capture_time(file: BinaryIO) -> datetime | None:
    """An AVI's recording time (local, no offset): `IDIT` in `hdrl` (or INFO), else INFO's
    `ICRD`. The `movi` data is skipped, never read."""
    size = _size(file)
    file.seek(0)
    if file.read(12)[8:12] != b"AVI ":
        return None
    found: dict[bytes, datetime] = {}
    for kind, start, end in _riff_chunks(file, 12, min(size, _riff_end(file, size))):
        if kind == b"LIST" and end - start >= 4:
            file.seek(start)
            list_type = file.read(4)
            if list_type in (b"hdrl", b"INFO"):
                for inner, inner_start, inner_end in _riff_chunks(file, start + 4, end):
                    if inner in (b"IDIT", b"ICRD") and inner_end - inner_start <= 256:
                        file.seek(inner_start)
                        moment = riff_date(file.read(inner_end - inner_start))
                        if moment is not None:
                            found.setdefault(inner, moment)
    return found.get(b"IDIT") or found.get(b"ICRD")


def riff_date(raw: bytes) -> datetime | None:
    """The dates cameras wrote in IDIT/ICRD: `Mon Mar 10 15:04:43 2003`, `2001/ 1/27  1:42PM`
    (Casio), `2005/11/28/ 09:19`, `2002-12-16  15:35:01`, `2005:08:17 11:42:43`, `2012-09-10`."""
    text = raw.split(b"\0", 1)[0].decode("latin-1").strip()
    try:
        if match := _CTIME.match(text):
            month = _MONTHS.get(match.group(1).lower())
            day, hour, minute, second, year = (int(v) for v in match.groups()[1:])
            return None if month is None else datetime(year, month, day, hour, minute, second)
        if match := _WITH_SECONDS.match(text):
            year, month, day, hour, minute, second = (int(v) for v in match.groups())
            return datetime(year, month, day, hour, minute, second)
        if match := _CASIO.match(text):
            year, month, day, hour, minute = (int(v) for v in match.groups()[:5])
            if match.group(6):  # 12-hour clock
                hour = hour % 12 + (12 if match.group(6).upper() == "P" else 0)
            return datetime(year, month, day, hour, minute)
        if match := _DAY.match(text):  # a day alone (ICRD's standard form): its midnight
            year, month, day = (int(v) for v in match.groups())
            return datetime(year, month, day)
    except ValueError:  # an impossible date
        return None
    return None


def _riff_end(file: BinaryIO, size: int) -> int:
    file.seek(4)
    (declared,) = struct.unpack("<I", file.read(4))
    return 8 + declared if declared >= 4 else size


def _riff_chunks(file: BinaryIO, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """RIFF chunks between start and end: (id, content start, content end); sizes are even-padded."""
    position = start
    while position + 8 <= end:
        file.seek(position)
        header = file.read(8)
        if len(header) < 8:
            return
        kind, size = struct.unpack("<4sI", header)
        content_end = position + 8 + size
        if content_end > end:
            return
        yield kind, position + 8, content_end
        position = content_end + (size & 1)


# --- when: ASF / WMV --------------------------------------------------------------------------

_ASF_HEADER: Final = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_ASF_FILE_PROPERTIES: Final = bytes.fromhex("a1dcab8c47a9cf118ee400c00c205365")
_FILETIME_EPOCH: Final = datetime(1601, 1, 1, tzinfo=UTC)


def asf_capture_time(file: BinaryIO) -> datetime | None:
    """An ASF/WMV file's creation date (UTC) from its File Properties object; None when unset."""
    file.seek(0)
    header = file.read(30)
    if len(header) < 30 or header[:16] != _ASF_HEADER:
        return None
    (header_size,) = struct.unpack_from("<Q", header, 16)
    position = 30
    end = min(header_size, _size(file), position + BOX_LIMIT)
    while position + 24 <= end:
        file.seek(position)
        guid, size = struct.unpack("<16sQ", file.read(24))
        if size < 24:
            return None
        if guid == _ASF_FILE_PROPERTIES and size >= 24 + 80:
            content = file.read(80)
            (filetime,) = struct.unpack_from("<Q", content, 24)
            if filetime == 0:
                return None
            try:
                return _FILETIME_EPOCH + timedelta(microseconds=filetime // 10)
            except OverflowError:
                return None
        position += size
    return None


# --- when: MPEG-PS camcorders (MOD/TOD with MOI) ----------------------------------------------


def moi_capture_time(path: str) -> datetime | None:
    """The recording time (local) of a camcorder's `.MOD`/`.TOD` from the `.MOI` file beside it
    (JVC Everio, Canon FS, Panasonic SDR): year, month, day, hour, minute, milliseconds at 6."""
    stem, _ext = os.path.splitext(path)
    for sibling in (stem + ".MOI", stem + ".moi", stem + ".Moi"):
        try:
            with open(sibling, "rb") as moi:
                head = moi.read(14)
        except OSError:
            continue
        if len(head) < 14 or head[:1] != b"V" or not head[1:2].isdigit():
            return None
        year, month, day, hour, minute, millis = struct.unpack_from(">HBBBBH", head, 6)
        try:
            moment = datetime(year, month, day, hour, minute) + timedelta(milliseconds=millis)
        except (ValueError, OverflowError):
            return None
        return moment if moment.year > 1970 else None
    return None


# --- disk helpers -----------------------------------------------------------------------------


def _size(file: BinaryIO) -> int:
    return file.seek(0, os.SEEK_END)


def _boxes_on_disk(file: BinaryIO, start: int, end: int) -> Iterator[tuple[bytes, tuple[int, int]]]:
    """ISO boxes between start and end of a file, read header by header (the data is skipped)."""
    position = start
    while position + 8 <= end:
        file.seek(position)
        header = file.read(16)
        if len(header) < 8:
            return
        size, kind = struct.unpack_from(">I4s", header)
        length = 8
        if size == 1 and len(header) == 16:
            (size,) = struct.unpack_from(">Q", header, 8)
            length = 16
        elif size == 0:
            size = end - position
        if size < length:
            return
        yield kind, (position + length, min(position + size, end))
        position += size

"""Photo metadata from EXIF tags: capture time (done right), camera, lens, orientation, GPS."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Final

from imgcat.record import GeoPoint
from imgcat.scan.names import datetime_from_parts
from imgcat.scan.tiff import MAKER_NOTE, Directory, TiffTags, read_ifd_at

MAKE, MODEL, SOFTWARE, ORIENTATION = 0x010F, 0x0110, 0x0131, 0x0112
IMAGE_WIDTH, IMAGE_LENGTH, NEW_SUBFILE_TYPE = 0x0100, 0x0101, 0x00FE
DATETIME_ORIGINAL, CREATE_DATE = 0x9003, 0x9004
OFFSET_ORIGINAL, OFFSET_DIGITIZED = 0x9011, 0x9012
SUBSEC_ORIGINAL, SUBSEC_DIGITIZED = 0x9291, 0x9292
LENS_MODEL, PIXEL_X, PIXEL_Y = 0xA434, 0xA002, 0xA003
APPLE_CONTENT_ID: Final = 0x0011

_DATE = re.compile(r"^\s*(\d{4})[:\-/](\d{2})[:\-/](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"^\s*([+-])(\d{2}):?(\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class PhotoFacts:
    captured_at: datetime | None = None
    captured_offset: int | None = None
    make: str | None = None
    model: str | None = None
    lens: str | None = None
    software: str | None = None
    orientation: int | None = None
    gps: GeoPoint | None = None
    width: int | None = None
    height: int | None = None
    content_id: str | None = None


def photo_facts(tags: TiffTags) -> PhotoFacts:
    captured_at, offset = capture_time(tags.exif)
    orientation = tags.ifd0.number(ORIENTATION)
    width, height = raw_dimensions(tags)
    return PhotoFacts(
        captured_at=captured_at,
        captured_offset=offset,
        make=tags.ifd0.text(MAKE),
        model=tags.ifd0.text(MODEL),
        lens=tags.exif.text(LENS_MODEL),
        software=tags.ifd0.text(SOFTWARE),
        orientation=int(orientation) if orientation is not None and 1 <= orientation <= 8 else None,
        gps=gps_point(tags.gps),
        width=width,
        height=height,
        content_id=apple_content_id(tags.exif),
    )


def capture_time(exif: Directory) -> tuple[datetime | None, int | None]:
    """DateTimeOriginal with OffsetTimeOriginal and SubSecTimeOriginal, else CreateDate with its
    own offset. Without an offset tag the time stays local (naive): an offset is never invented."""
    for date_tag, offset_tag, subsec_tag in (
        (DATETIME_ORIGINAL, OFFSET_ORIGINAL, SUBSEC_ORIGINAL),
        (CREATE_DATE, OFFSET_DIGITIZED, SUBSEC_DIGITIZED),
    ):
        moment = parse_exif_datetime(exif.text(date_tag), exif.text(subsec_tag))
        if moment is None:
            continue
        offset = parse_offset(exif.text(offset_tag))
        if offset is not None:
            moment = moment.replace(tzinfo=timezone(timedelta(minutes=offset)))
        return moment, offset
    return None, None


_XMP_DATE: Final = re.compile(
    r"(?:exif:DateTimeOriginal|photoshop:DateCreated)(?:=\"|>)\s*"
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:\d{2})?"
)


def xmp_capture_time(xmp: bytes | str) -> tuple[datetime | None, int | None]:
    """exif:DateTimeOriginal (else photoshop:DateCreated) from an XMP packet, ISO 8601."""
    text = xmp.decode("utf-8", "replace") if isinstance(xmp, bytes) else xmp
    match = _XMP_DATE.search(text)
    if match is None:
        return None, None
    *parts, zone = match.groups()
    try:
        moment = datetime_from_parts(parts)
    except ValueError:
        return None, None
    offset = 0 if zone == "Z" else parse_offset(zone)
    if offset is not None:
        moment = moment.replace(tzinfo=timezone(timedelta(minutes=offset)))
    return moment, offset


def parse_exif_datetime(text: str | None, subsec: str | None = None) -> datetime | None:
    """`2019:07:04 15:30:12` (+ sub-seconds `25` → .25 s); blank or impossible dates give None."""
    match = _DATE.match(text or "")
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        moment = datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return None
    digits = (subsec or "").strip()
    if digits.isdigit():
        moment = moment.replace(microsecond=int((digits + "000000")[:6]))
    return moment


def parse_offset(text: str | None) -> int | None:
    """`+02:00` → 120 minutes; anything else (blank, `   :  `) → None."""
    match = _OFFSET.match(text or "")
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    total = int(hours) * 60 + int(minutes)
    if total > 14 * 60 or int(minutes) >= 60:
        return None
    return -total if sign == "-" else total


def gps_point(gps: Directory) -> GeoPoint | None:
    lat = _degrees(gps.numbers(2), gps.text(1), "S")
    lon = _degrees(gps.numbers(4), gps.text(3), "W")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    alt = gps.number(6)
    if alt is not None:
        below = gps.tags.get(5)
        if (isinstance(below, tuple) and below[:1] == (1.0,)) or below == b"\x01":
            alt = -alt
    return GeoPoint(round(lat, 7), round(lon, 7), None if alt is None else round(alt, 2))


def _degrees(parts: tuple[float, ...], ref: str | None, negative: str) -> float | None:
    if not parts:
        return None
    value = float(sum(part / 60.0**i for i, part in enumerate(parts[:3])))
    return -value if (ref or "").upper().startswith(negative) else value


def raw_dimensions(tags: TiffTags) -> tuple[int | None, int | None]:
    """The full-size image's dimensions in a TIFF-based file: the largest directory marked as the
    main image (NewSubfileType 0), else IFD0, else the EXIF pixel dimensions."""
    best: tuple[int, int] | None = None
    for directory in tags.images:
        width, height = directory.number(IMAGE_WIDTH), directory.number(IMAGE_LENGTH)
        if width is None or height is None or directory.number(NEW_SUBFILE_TYPE, 0) not in (None, 0.0):
            continue
        if best is None or width * height > best[0] * best[1]:
            best = (int(width), int(height))
    if best is None:
        width, height = tags.exif.number(PIXEL_X), tags.exif.number(PIXEL_Y)
        if width and height:
            best = (int(width), int(height))
    return (None, None) if best is None else best


def apple_content_id(exif: Directory) -> str | None:
    """The Live Photo pairing id in Apple's maker note (`Apple iOS\\0` header, own offsets)."""
    note = exif.tags.get(MAKER_NOTE)
    if not isinstance(note, bytes) or not note.startswith(b"Apple iOS\x00") or len(note) < 16:
        return None
    endian = "<" if note[12:14] == b"II" else ">"
    directory = read_ifd_at(note, 14, endian)
    return None if directory is None else directory.text(APPLE_CONTENT_ID)

"""Video metadata through pymediainfo (its wheel bundles libmediainfo)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

from pymediainfo import MediaInfo

from imgcat.record import GeoPoint
from imgcat.scan.names import datetime_from_parts
from imgcat.scan.video_tags import iso6709

_PLAIN_DATE: Final = re.compile(
    r"^(?:UTC )?(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?( UTC|Z)?$"
)
# A date with its offset, as Android and 3GPP write it in `udta/date` or `©day`
# (mediainfo's recorded date): 2020-11-20T15:04:02+0100.
_ZONED_DATE: Final = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?([+-]\d{2}):?(\d{2})$"
)


@dataclass(frozen=True, slots=True)
class VideoFacts:
    width: int | None = None
    height: int | None = None
    rotation: int | None = None
    duration_s: float | None = None
    fps: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    bitrate: int | None = None
    captured_at: datetime | None = None
    captured_offset: int | None = None
    make: str | None = None
    model: str | None = None
    software: str | None = None
    gps: GeoPoint | None = None
    content_id: str | None = None


def video_facts(path: str) -> VideoFacts:
    """Read the container's tracks. Raises OSError/RuntimeError if mediainfo cannot parse it."""
    info = MediaInfo.parse(path)
    general = next((t.to_data() for t in info.tracks if t.track_type == "General"), {})
    video = next((t.to_data() for t in info.tracks if t.track_type == "Video"), {})
    audio = next((t.to_data() for t in info.tracks if t.track_type == "Audio"), {})
    captured_at, offset = video_capture_time(general)
    rotation = _number(video.get("rotation"))
    return VideoFacts(
        width=_int(video.get("width")),
        height=_int(video.get("height")),
        rotation=None if rotation is None else int(rotation) % 360,
        duration_s=_seconds(general.get("duration") or video.get("duration")),
        fps=_number(video.get("frame_rate") or general.get("frame_rate")),
        video_codec=video.get("format"),
        audio_codec=audio.get("format"),
        bitrate=_int(general.get("overall_bit_rate")),
        captured_at=captured_at,
        captured_offset=offset,
        make=general.get("comapplequicktimemake") or general.get("encoded_application_companyname"),
        model=general.get("comapplequicktimemodel"),
        software=general.get("comapplequicktimesoftware"),
        gps=iso6709(general.get("comapplequicktimelocationiso6709") or general.get("xyz")),
        content_id=general.get("comapplequicktimecontentidentifier"),
    )


def video_capture_time(general: dict[str, object]) -> tuple[datetime | None, int | None]:
    """Apple's creation date (local, with its offset) first, then a recorded date with its offset
    (Android and 3GPP `udta/date`, `©day`); then the container's dates, which QuickTime/MP4 store
    in UTC; AVI's mastered date is a local time without offset."""
    for text in (general.get("comapplequicktimecreationdate"), general.get("recorded_date")):
        zoned = _ZONED_DATE.match(str(text or ""))
        if zoned is not None:
            *parts, hours, minutes = zoned.groups()
            offset = int(hours) * 60 + (int(minutes) if not hours.startswith("-") else -int(minutes))
            moment = datetime_from_parts(parts)
            if moment.year > 1970:
                return moment.replace(tzinfo=timezone(timedelta(minutes=offset))), offset
    for key in ("recorded_date", "encoded_date", "tagged_date", "mastered_date"):
        match = _PLAIN_DATE.match(str(general.get(key) or ""))
        if match is None:
            continue
        *parts, utc = match.groups()
        moment = datetime_from_parts(parts)
        if moment.year <= 1970:  # QuickTime's and Unix's zero dates: no date at all
            continue
        if utc or key in ("encoded_date", "tagged_date"):
            return moment.replace(tzinfo=UTC), None
        return moment, None
    return None, None


def _number(value: object) -> float | None:
    try:
        return float(str(value)) if value is not None else None
    except ValueError:
        return None


def _int(value: object) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _seconds(milliseconds: object) -> float | None:
    number = _number(milliseconds)
    return None if number is None else round(number / 1000, 3)


_MDPM_UUID: Final = bytes.fromhex("17ee8c60f84d11d98cd60800200c9a66") + b"MDPM"


def mdpm_capture_time(head: bytes) -> tuple[datetime | None, int | None]:
    """AVCHD/Sony camcorders write the recording time into H.264 SEI user data ("MDPM"):
    tag 0x18 = zone byte + BCD year + BCD month, tag 0x19 = BCD day, hour, minute, second.
    The zone byte: 0x40 daylight saving (already in the offset), 0x20 west of UTC,
    bits 1-4 hours, bit 0 half an hour."""
    start = head.find(_MDPM_UUID)
    if start < 0:
        return None, None
    data = head[start + len(_MDPM_UUID) : start + len(_MDPM_UUID) + 512].replace(b"\x00\x00\x03", b"\x00\x00")
    if not data:
        return None, None
    entries = {data[i]: data[i + 1 : i + 5] for i in range(1, 1 + 5 * data[0], 5) if i + 5 <= len(data)}
    date, time = entries.get(0x18), entries.get(0x19)
    if date is None or time is None:
        return None, None
    try:
        year = int(date[1:3].hex())
        month, day, hour, minute, second = (int(bytes([b]).hex()) for b in (date[3], *time))
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError:  # not BCD, or an impossible date
        return None, None
    zone = date[0]
    if zone == 0xFF:
        return moment, None
    offset = ((zone >> 1) & 0x0F) * 60 + (30 if zone & 0x01 else 0)
    offset = -offset if zone & 0x20 else offset
    return moment.replace(tzinfo=timezone(timedelta(minutes=offset))), offset

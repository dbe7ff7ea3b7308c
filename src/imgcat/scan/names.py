"""Capture dates that phones and apps write into file names, and the guess for a file without one."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Final

from imgcat.record import CaptureSource, MediaRecord

# IMG_20190704_153012, PXL_20210101_123456789, 20190704_153012, telegram_2020-01-30_09-57-18,
# Screenshot 2019-05-21 at 10.45.52, WhatsApp Image 2020-01-30 at 09.57.18, signal-2020-01-30-095718
_DATETIME: Final = re.compile(
    r"(?<!\d)((?:19|20)\d{2})[-_.]?(\d{2})[-_.]?(\d{2})(?:[ _T-]|\sat\s)(\d{2})[-_.:]?(\d{2})[-_.:]?(\d{2})"
)
# IMG-20200130-WA0001 (WhatsApp): a date without a time
_DATE: Final = re.compile(r"(?<!\d)((?:19|20)\d{2})[-_]?(\d{2})[-_]?(\d{2})(?=[-_]WA\d)")


def date_from_name(name: str) -> datetime | None:
    """The local date and time in a file name, or None; impossible dates are not dates."""
    for pattern in (_DATETIME, _DATE):
        match = pattern.search(name)
        if match is None:
            continue
        try:
            return datetime_from_parts(match.groups())
        except ValueError:
            continue
    return None


def datetime_from_parts(parts: Sequence[str | None]) -> datetime:
    """`('2019', '07', '04', '15', '30', '12')` → a naive datetime; missing time parts are 0."""
    numbers = [int(part or 0) for part in parts] + [0, 0, 0]
    year, month, day, hour, minute, second = numbers[:6]
    return datetime(year, month, day, hour, minute, second)


def with_guessed_capture_time(record: MediaRecord) -> MediaRecord:
    """Fill a missing capture time from the file name, else from the modification time (UTC)."""
    if record.captured_at is not None:
        return record
    source: CaptureSource = "filename"
    moment = date_from_name(record.name)
    if moment is None:
        source = "mtime"
        moment = datetime.fromtimestamp(record.mtime_ns / 1e9, UTC)
    return replace(record, captured_at=moment, captured_offset=None, captured_source=source)

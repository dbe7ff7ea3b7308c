"""Sizes and durations as people type them: `10k`, `1.5MB`, `2GiB`; `30d`, `12h`, `2w`."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final

from imgcat.errors import UsageError

_SIZE: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)\s*$", re.IGNORECASE)
_POWERS: Final = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}
_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_size(text: str, option: str = "--min-size") -> int:
    """Bytes from `500`, `10k`, `10kB` (1000s) or `10KiB` (1024s), up to T."""
    match = _SIZE.match(text)
    if match is None or (match.group(3) and not match.group(2)):
        raise UsageError(f"{option} expects a size like 500, 10k, 1.5MB or 2GiB, not {text!r}")
    number, prefix, binary = float(match.group(1)), match.group(2).lower(), match.group(3)
    return int(number * (1024 if binary else 1000) ** _POWERS[prefix])


def parse_duration(text: str, option: str = "--older-than") -> timedelta:
    """A duration from `90s`, `30m`, `12h`, `30d` or `2w`."""
    match = _DURATION.match(text)
    if match is None:
        raise UsageError(f"{option} expects a duration like 12h, 30d or 2w, not {text!r}")
    return timedelta(seconds=float(match.group(1)) * _SECONDS[match.group(2).lower()])

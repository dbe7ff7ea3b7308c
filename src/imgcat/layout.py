"""Where a photo belongs: `reorganize`'s path patterns, and path segments that are safe everywhere.

Pure: no I/O. A pattern such as `<year>/<month>/<date>_<hour><minute><second>_<name>` is parsed
once (`parse_pattern`) and placed per record (`place`). Every value that comes from a file (EXIF
make and model, names, folders) goes through `safe_segment` before it becomes part of a path, so no
record can name a path outside the destination, a hidden file, or a name Windows refuses.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Final, Literal

from imgcat.errors import UsageError
from imgcat.record import READ_CAPTURE_SOURCES, MediaRecord, camera_name

TOKENS: Final = (
    "year", "month", "month_name", "day", "hour", "minute", "second", "date",
    "camera", "make", "model", "kind", "ext", "name", "device", "original_dir",
)  # fmt: skip
DATE_TOKENS: Final = frozenset({"year", "month", "month_name", "day", "hour", "minute", "second", "date"})
NAMING_TOKENS: Final = frozenset({"name", "ext", "hour", "minute", "second"})
"""A last segment holding one of these names the file; otherwise it is a folder."""

MONTH_NAMES: Final = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
UNKNOWN: Final = "unknown"
MAX_SEGMENT_BYTES: Final = 255
SUFFIX_RESERVE: Final = 8
"""Bytes kept free in a file stem for a collision suffix (`_1` … `_9999999`)."""

DateSource = Literal["exif", "any"]
METADATA_SOURCES: Final = READ_CAPTURE_SOURCES
"""Capture times read from the file or its sidecar; `filename` and `mtime` are guesses."""

_TOKEN = re.compile(r"<([A-Za-z_]+)>|\{([A-Za-z_]+)\}")
_STRFTIME = re.compile(r"%[A-Za-z]")
_SEPARATORS = frozenset(" -_.:")
_UNSAFE = re.compile(
    '[/\\\\<>:"|?*\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udc7f\udd00-\udfff]'
)
"""Separators, characters Windows forbids, control and bidi-override characters, and surrogates
except the ones that stand for the undecodable bytes of a name (os.fsdecode: U+DC80-U+DCFF)."""
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{base}{digit}" for base in ("COM", "LPT") for digit in "0123456789¹²³"]
)


class PatternError(UsageError):
    """The --pattern cannot be used: an unknown token, or a path that leaves the destination."""


@dataclass(frozen=True, slots=True)
class Token:
    name: str


Piece = str | Token


@dataclass(frozen=True, slots=True)
class Pattern:
    """A parsed path pattern: folder segments, and maybe a last segment that names the file."""

    text: str
    folders: tuple[tuple[Piece, ...], ...]
    file: tuple[Piece, ...] | None = None
    file_ext: bool = False
    """The file segment ends with `.<ext>`: the extension is the lowercased one, not the original."""

    @property
    def renames(self) -> bool:
        return self.file is not None

    @property
    def tokens(self) -> frozenset[str]:
        pieces = [p for segment in (*self.folders, self.file or ()) for p in segment]
        return frozenset(p.name for p in pieces if isinstance(p, Token)) | (
            {"ext"} if self.file_ext else set()
        )


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one record goes, relative to the destination: safe folder segments, and the new file
    stem (None: the file keeps its name). `earlier` recognises a stem this pattern gave before
    (any `<name>`, any collision suffix), so a second run leaves placed files where they are."""

    folders: tuple[str, ...]
    stem: str | None = None
    extension: str | None = None
    earlier: re.Pattern[str] | None = None


def parse_pattern(text: str) -> Pattern:
    """`<year>/<month>` (or `{year}/{month}`) → a Pattern; an unknown token is a one-line error."""
    strftime = _STRFTIME.search(text)
    if strftime:
        raise PatternError(
            f"--pattern takes tokens such as <year>/<month>, not {strftime[0]}; valid: {valid_tokens()}"
        )
    if text.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", text):
        raise PatternError(f"--pattern is a path below the destination, not an absolute one: {text!r}")
    keeps_name = text.endswith("/")
    segments: list[tuple[Piece, ...]] = []
    for part in text.split("/"):
        if part.strip() in ("", "."):
            continue
        if part.strip(" .") == "" or part.strip() == "..":
            raise PatternError(f"--pattern must stay inside the destination: {part!r} in {text!r}")
        segments.append(_pieces(part))
    if not segments:
        raise PatternError(
            f"--pattern is empty; for example --pattern '<year>/<month>' (valid: {valid_tokens()})"
        )
    last = segments[-1]
    if keeps_name or not any(isinstance(p, Token) and p.name in NAMING_TOKENS for p in last):
        return Pattern(text, tuple(segments))
    before_ext = last[-2] if len(last) >= 2 and last[-1] == Token("ext") else None
    if isinstance(before_ext, str) and before_ext.endswith("."):  # `….<ext>`: the extension, lowercased
        last = (*last[:-2], before_ext[:-1]) if before_ext[:-1] else last[:-2]
        return Pattern(text, tuple(segments[:-1]), last, file_ext=True)
    return Pattern(text, tuple(segments[:-1]), last)


def valid_tokens() -> str:
    return " ".join(f"<{name}>" for name in TOKENS)


def _pieces(segment: str) -> tuple[Piece, ...]:
    pieces: list[Piece] = []
    at = 0
    for match in _TOKEN.finditer(segment):
        name = (match[1] or match[2]).lower()
        if name not in TOKENS:
            raise PatternError(f"unknown token {match[0]} in --pattern; valid: {valid_tokens()}")
        if match.start() > at:
            pieces.append(segment[at : match.start()])
        pieces.append(Token(name))
        at = match.end()
    if at < len(segment):
        pieces.append(segment[at:])
    return tuple(pieces)


def wall_time(record: MediaRecord) -> datetime | None:
    """The capture time as the clock on the wall showed it: the recorded local time; an instant with
    a known offset, at that offset; a bare UTC instant (a video's container date, an mtime), in this
    machine's zone. Naive."""
    moment = record.captured_at
    if moment is None or moment.tzinfo is None:
        return moment
    if record.captured_offset is not None:
        return moment.astimezone(timezone(timedelta(minutes=record.captured_offset))).replace(tzinfo=None)
    return moment.astimezone().replace(tzinfo=None)


def token_values(record: MediaRecord, date_source: DateSource = "any") -> dict[str, str | None]:
    """Every token's value for `record`, unsafe as read (None: no value). With date_source `exif`,
    a time guessed from the file name or mtime counts as none."""
    when = wall_time(record)
    if date_source == "exif" and record.captured_source not in METADATA_SOURCES:
        when = None
    stem, _ = os.path.splitext(record.name)
    values: dict[str, str | None] = dict.fromkeys(DATE_TOKENS)
    if when is not None:
        values.update(
            year=f"{when.year:04d}", month=f"{when.month:02d}", month_name=MONTH_NAMES[when.month - 1],
            day=f"{when.day:02d}", hour=f"{when.hour:02d}", minute=f"{when.minute:02d}",
            second=f"{when.second:02d}", date=f"{when.year:04d}-{when.month:02d}-{when.day:02d}",
        )  # fmt: skip
    values.update(
        camera=camera_name(record.make, record.model) or None,
        make=record.make,
        model=record.model,
        kind=record.kind,
        ext=record.ext or None,
        name=stem or record.name,
        device=record.device,
        original_dir=os.path.basename(record.dir) or None,
    )
    return values


def place(pattern: Pattern, record: MediaRecord, date_source: DateSource = "any") -> Placement:
    """Where `record` goes under the destination. A token without a value gives `unknown`; a run of
    date tokens without a value (and the separators between them, `/` included) gives one."""
    needed = pattern.tokens | {"ext", "make", "model"}
    values = {name: _clean(v) for name, v in token_values(record, date_source).items() if name in needed}
    values["camera"] = _clean(camera_name(values["make"], values["model"])) or None
    folders: list[str] = []
    previous_unknown = False
    for segment in pattern.folders:
        text, only_unknown_dates, _ = _render(segment, values)
        if only_unknown_dates and previous_unknown:
            continue
        previous_unknown = only_unknown_dates
        folders.append(safe_segment(text))
    if pattern.file is None:
        return Placement(tuple(folders))
    text, _, known = _render(pattern.file, values, wildcard_name=False)
    extension = (
        ("." + values["ext"] if values["ext"] else "") if pattern.file_ext else _extension(record.name)
    )
    if not known:  # nothing but unknown dates: keep the name people gave it
        return Placement(tuple(folders))
    stem = fit_stem(text, len(os.fsencode(extension)))
    earlier_text, _, _ = _render(pattern.file, values, wildcard_name=True)
    return Placement(tuple(folders), stem, extension, _earlier_regex(earlier_text, extension))


_NAME_MARK: Final = "\ue000"  # a private-use character: survives safe_segment


def _render(
    pieces: Sequence[Piece], values: Mapping[str, str | None], *, wildcard_name: bool = False
) -> tuple[str, bool, bool]:
    """(text, whether it holds nothing but unknown dates and separators, whether any value is known)."""
    out: list[str] = []
    pending: list[str] = []  # separators after an unknown date: dropped if another unknown date follows
    last_unknown_date = False
    only_unknown_dates = True
    known = False
    for piece in pieces:
        if isinstance(piece, str):
            if last_unknown_date and set(piece) <= _SEPARATORS:
                pending.append(piece)
                continue
            only_unknown_dates = only_unknown_dates and set(piece) <= _SEPARATORS
            out.extend(pending)
            pending = []
            out.append(piece)
            last_unknown_date = False
            continue
        value = values[piece.name]
        if piece.name in DATE_TOKENS and value is None:
            if not last_unknown_date:
                out.extend(pending)
                out.append(UNKNOWN)
            pending = []
            last_unknown_date = True
            continue
        only_unknown_dates = False
        known = known or value is not None
        out.extend(pending)
        pending = []
        out.append(_NAME_MARK if wildcard_name and piece.name == "name" else (value or UNKNOWN))
        last_unknown_date = False
    out.extend(pending)
    return "".join(out), only_unknown_dates, known


def _earlier_regex(text: str, extension: str) -> re.Pattern[str]:
    stem = safe_segment(text, MAX_SEGMENT_BYTES)
    body = ".+".join(re.escape(part) for part in stem.split(_NAME_MARK))
    return re.compile(rf"(?:{body})(?:_\d+)?{re.escape(extension)}", re.IGNORECASE)


def _extension(name: str) -> str:
    return os.path.splitext(name)[1]


def _clean(value: str | None) -> str | None:
    """A value from a file, made fit to be part of one path segment; None if nothing is left."""
    if value is None:
        return None
    text = _replace_unsafe(value).strip()
    return text if text.strip(" ._") else None


def _replace_unsafe(text: str) -> str:
    return _UNSAFE.sub("_", text)


def safe_segment(text: str, limit: int = MAX_SEGMENT_BYTES) -> str:
    """One path segment that every common filesystem accepts and that stays where it is put:
    no separator, no control character, not `.`/`..`, not hidden, no trailing dot or space, not a
    name Windows reserves (CON, NUL, COM1, …), at most `limit` bytes (cut on a character boundary)."""
    text = _replace_unsafe(text).strip(" ")
    if text.startswith("."):
        text = "_" + text[1:]
    text = _truncate(text, limit).rstrip(" .")
    if text.split(".", 1)[0].rstrip(" ").upper() in _RESERVED:
        base, dot, rest = text.partition(".")
        text = _truncate(base, limit - 1 - len(os.fsencode(dot + rest))) + "_" + dot + rest
    return text or "_"


def fit_stem(stem: str, tail_bytes: int, reserve: int = SUFFIX_RESERVE) -> str:
    """`stem` cut so that stem + a collision suffix + the longest tail (`.JPG.xmp`) fits one segment."""
    room = max(MAX_SEGMENT_BYTES - tail_bytes - reserve, 16)
    return safe_segment(stem, room)


def _truncate(text: str, limit: int) -> str:
    """At most `limit` bytes, cut between characters (never inside a UTF-8 sequence)."""
    if len(os.fsencode(text)) <= limit:
        return text
    size = 0
    for at, char in enumerate(text):
        size += len(os.fsencode(char))
        if size > limit:
            return text[:at]
    return text


def within(destination: str, parts: Iterable[str]) -> str:
    """The path of `parts` below `destination`, checked to stay below it."""
    path = os.path.join(destination, *parts)
    if os.path.commonpath([os.path.normpath(path), os.path.normpath(destination)]) != os.path.normpath(
        destination
    ):
        raise PatternError(f"a planned path leaves the destination: {path!r}")
    return path

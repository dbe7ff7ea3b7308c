"""The catalog record: one per media file, defined once, and its JSON shape at the edges."""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal, NotRequired, TypedDict, cast, get_args

import xxhash

Kind = Literal["image", "video"]
CaptureSource = Literal["exif", "video", "filename", "mtime"]
CompanionRole = Literal["live_video", "live_still", "raw", "jpeg", "sidecar"]

HASH_BITS = 64


@dataclass(frozen=True, slots=True)
class GeoPoint:
    lat: float
    lon: float
    alt: float | None = None


@dataclass(frozen=True, slots=True)
class Companion:
    """A file that makes one photo with the record's file (Live Photo half, RAW/JPEG twin, sidecar)."""

    role: CompanionRole
    path: str


@dataclass(frozen=True, slots=True)
class ExtractError:
    """What one extractor could not read from the file."""

    stage: str
    message: str


@dataclass(frozen=True, slots=True)
class MediaRecord:
    """Everything imgcat knows about one media file.

    `path` is the absolute path as the OS gives it (os.fsdecode: undecodable bytes are kept as
    surrogates, so os.fsencode(path) gives the original bytes back). `captured_at` is aware when
    the UTC offset or the UTC instant is known, naive (local wall time) when it is not.
    """

    device: str
    path: str
    size: int
    mtime_ns: int
    inode: int
    checksum: str
    kind: Kind
    format: str
    scanned_at: datetime
    first_seen: datetime
    extractor_version: int
    mime: str | None = None
    ext_mismatch: bool = False
    width: int | None = None
    height: int | None = None
    orientation: int | None = None
    display_width: int | None = None
    display_height: int | None = None
    captured_at: datetime | None = None
    captured_offset: int | None = None
    captured_source: CaptureSource | None = None
    make: str | None = None
    model: str | None = None
    lens: str | None = None
    software: str | None = None
    gps: GeoPoint | None = None
    duration_s: float | None = None
    fps: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    bitrate: int | None = None
    rotation: int | None = None
    phash: int | None = None
    dhash: int | None = None
    sharpness: float | None = None
    brightness: float | None = None
    contrast: float | None = None
    clipped_dark: float | None = None
    clipped_bright: float | None = None
    entropy: float | None = None
    companions: tuple[Companion, ...] = field(default=())
    errors: tuple[ExtractError, ...] = field(default=())

    @property
    def id(self) -> str:
        return record_id(self.device, self.path)

    @property
    def dir(self) -> str:
        return posixpath.dirname(self.path)

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def ext(self) -> str:
        return posixpath.splitext(self.path)[1].lower().lstrip(".")

    def moved_to(self, new_path: str) -> MediaRecord:
        return replace(self, path=new_path)


def record_id(device: str, path: str) -> str:
    """Stable id of a catalog entry: a hash of (device, path bytes)."""
    return xxhash.xxh3_128_hexdigest(device.encode() + b"\0" + os.fsencode(path))


def path_to_text(path: str) -> tuple[str, str | None]:
    """Split a path into what stores can hold: UTF-8 text, plus the raw bytes (hex) if not UTF-8."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raw = os.fsencode(path)
        return raw.decode("utf-8", "backslashreplace"), raw.hex()
    return path, None


def path_from_text(text: str, raw_hex: str | None) -> str:
    return os.fsdecode(bytes.fromhex(raw_hex)) if raw_hex else text


def folder_bounds(prefix: str) -> tuple[str, str]:
    """The half-open string range [low, high) holding every path strictly below folder `prefix`.

    `/a/b` gives ('/a/b/', '/a/b0'): '/a/bc/x' falls outside, as '0' sorts right after '/'.
    """
    low = prefix.rstrip("/") + "/"
    return low, low[:-1] + "0"


def hash_to_hex(value: int) -> str:
    return f"{value:016x}"


def hash_from_hex(text: str) -> int:
    return int(text, 16)


class GeoJson(TypedDict):
    lat: float
    lon: float
    alt: float | None


class CompanionJson(TypedDict):
    role: str
    path: str


class ErrorJson(TypedDict):
    stage: str
    message: str


class RecordJson(TypedDict):
    """A record as JSON: what `ls --json`, `ls --catalog --json` print, and what stores keep."""

    id: str
    device: str
    path: str
    path_raw: NotRequired[str]
    dir: str
    name: str
    ext: str
    size: int
    mtime_ns: int
    inode: int
    checksum: str
    kind: str
    format: str
    mime: str | None
    ext_mismatch: bool
    width: int | None
    height: int | None
    orientation: int | None
    display_width: int | None
    display_height: int | None
    captured_at: str | None
    captured_offset: int | None
    captured_source: str | None
    make: str | None
    model: str | None
    lens: str | None
    software: str | None
    gps: GeoJson | None
    duration_s: float | None
    fps: float | None
    video_codec: str | None
    audio_codec: str | None
    bitrate: int | None
    rotation: int | None
    phash: str | None
    dhash: str | None
    sharpness: float | None
    brightness: float | None
    contrast: float | None
    clipped_dark: float | None
    clipped_bright: float | None
    entropy: float | None
    companions: list[CompanionJson]
    errors: list[ErrorJson]
    first_seen: str
    scanned_at: str
    extractor_version: int


def record_to_json(record: MediaRecord) -> RecordJson:
    path, path_raw = path_to_text(record.path)
    gps: GeoJson | None = None
    if record.gps is not None:
        gps = {"lat": record.gps.lat, "lon": record.gps.lon, "alt": record.gps.alt}
    data: RecordJson = {
        "id": record.id,
        "device": record.device,
        "path": path,
        "dir": path_to_text(record.dir)[0],
        "name": path_to_text(record.name)[0],
        "ext": path_to_text(record.ext)[0],
        "size": record.size,
        "mtime_ns": record.mtime_ns,
        "inode": record.inode,
        "checksum": record.checksum,
        "kind": record.kind,
        "format": record.format,
        "mime": record.mime,
        "ext_mismatch": record.ext_mismatch,
        "width": record.width,
        "height": record.height,
        "orientation": record.orientation,
        "display_width": record.display_width,
        "display_height": record.display_height,
        "captured_at": _iso(record.captured_at),
        "captured_offset": record.captured_offset,
        "captured_source": record.captured_source,
        "make": record.make,
        "model": record.model,
        "lens": record.lens,
        "software": record.software,
        "gps": gps,
        "duration_s": record.duration_s,
        "fps": record.fps,
        "video_codec": record.video_codec,
        "audio_codec": record.audio_codec,
        "bitrate": record.bitrate,
        "rotation": record.rotation,
        "phash": None if record.phash is None else hash_to_hex(record.phash),
        "dhash": None if record.dhash is None else hash_to_hex(record.dhash),
        "sharpness": record.sharpness,
        "brightness": record.brightness,
        "contrast": record.contrast,
        "clipped_dark": record.clipped_dark,
        "clipped_bright": record.clipped_bright,
        "entropy": record.entropy,
        "companions": [{"role": c.role, "path": c.path} for c in record.companions],
        "errors": [{"stage": e.stage, "message": e.message} for e in record.errors],
        "first_seen": record.first_seen.isoformat(),
        "scanned_at": record.scanned_at.isoformat(),
        "extractor_version": record.extractor_version,
    }
    if path_raw is not None:
        data["path_raw"] = path_raw
    return data


def record_from_json(data: RecordJson) -> MediaRecord:
    gps = data["gps"]
    return MediaRecord(
        device=data["device"],
        path=path_from_text(data["path"], data.get("path_raw")),
        size=data["size"],
        mtime_ns=data["mtime_ns"],
        inode=data["inode"],
        checksum=data["checksum"],
        kind=_kind(data["kind"]),
        format=data["format"],
        mime=data["mime"],
        ext_mismatch=data["ext_mismatch"],
        width=data["width"],
        height=data["height"],
        orientation=data["orientation"],
        display_width=data["display_width"],
        display_height=data["display_height"],
        captured_at=_from_iso(data["captured_at"]),
        captured_offset=data["captured_offset"],
        captured_source=_capture_source(data["captured_source"]),
        make=data["make"],
        model=data["model"],
        lens=data["lens"],
        software=data["software"],
        gps=None if gps is None else GeoPoint(gps["lat"], gps["lon"], gps["alt"]),
        duration_s=data["duration_s"],
        fps=data["fps"],
        video_codec=data["video_codec"],
        audio_codec=data["audio_codec"],
        bitrate=data["bitrate"],
        rotation=data["rotation"],
        phash=None if data["phash"] is None else hash_from_hex(data["phash"]),
        dhash=None if data["dhash"] is None else hash_from_hex(data["dhash"]),
        sharpness=data["sharpness"],
        brightness=data["brightness"],
        contrast=data["contrast"],
        clipped_dark=data["clipped_dark"],
        clipped_bright=data["clipped_bright"],
        entropy=data["entropy"],
        companions=tuple(Companion(_role(c["role"]), c["path"]) for c in data["companions"]),
        errors=tuple(ExtractError(e["stage"], e["message"]) for e in data["errors"]),
        first_seen=datetime.fromisoformat(data["first_seen"]),
        scanned_at=datetime.fromisoformat(data["scanned_at"]),
        extractor_version=data["extractor_version"],
    )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _from_iso(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _kind(value: str) -> Kind:
    if value not in get_args(Kind):
        raise ValueError(f"unknown kind {value!r}")
    return cast(Kind, value)


def _capture_source(value: str | None) -> CaptureSource | None:
    if value is not None and value not in get_args(CaptureSource):
        raise ValueError(f"unknown capture source {value!r}")
    return cast(CaptureSource | None, value)


def _role(value: str) -> CompanionRole:
    if value not in get_args(CompanionRole):
        raise ValueError(f"unknown companion role {value!r}")
    return cast(CompanionRole, value)

"""The catalog record: one per media file, declared once, and its JSON shape at the edges.

`MediaRecord` is the one declaration of a record's fields. Each field's annotation says how it is
stored; `FIELDS` reads them once, and everything else is built from it: the JSON shape
(`record_to_json`/`record_from_json`), SQLite's columns (`catalog/sqlite.py: COLUMNS`) and the
Elasticsearch mapping (`catalog/elastic.py: MEDIA_MAPPING`). Tests check that a fresh and a
migrated SQLite catalog have exactly the derived columns, and that a record with every field set
round-trips through both stores.

How a field is stored, by annotation (`X | None` for an optional field):
    str, a Literal      KEYWORD  exact text: names, enumerations (Literal values are checked)
    Label               LABEL    free text read from a file (camera, codec): at most LABEL_MAX chars
    PathText            PATH     a path; adds path_raw (bytes if not UTF-8), dir, name, ext
    int                 INT      signed 64-bit
    U64                 U64      unsigned 64-bit (an inode); SQLite keeps it as signed two's complement
    float, bool         FLOAT, BOOL
    datetime            TIME     ISO 8601 text in JSON and SQLite, `date` in Elasticsearch
    Hash64              HASH     a 64-bit hash, 16 hex digits
    Blob                BLOB     a few bytes kept, never searched (base64 in JSON, BLOB in SQLite,
                                 `binary` in Elasticsearch)
    GeoPoint            GEO      SQLite: gps_lat/gps_lon/gps_alt; Elasticsearch: geo_point + gps_alt
    tuple[Companion, ...], tuple[ExtractError, ...]   lists of objects (JSON text in SQLite)

Adding a field is one line here plus a SQLite migration:
    1. declare it on `MediaRecord`, optional with a default (`content_id: str | None = None`), so
       records already stored read back without it;
    2. add a migration step in `catalog/sqlite.py` (`MIGRATIONS[n] = add_columns("content_id")`,
       `SCHEMA_VERSION = n + 1`); Elasticsearch adds the new field to an existing index's mapping
       on the next write;
    3. set it in `tests/conftest.py: full_record` (a test fails until every field is set there).
A field that needs a new kind of storage needs a new `FieldType`, handled in the three places
that match on it (here, sqlite.py, elastic.py).
"""

from __future__ import annotations

import base64
import math
import os
import posixpath
import types
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields, replace
from datetime import datetime
from enum import Enum
from typing import (
    Annotated,
    Any,
    Final,
    Literal,
    TypeAlias,
    Union,
    cast,
    get_args,
    get_origin,
    get_type_hints,
)

import xxhash

Kind = Literal["image", "video"]
CaptureSource = Literal["exif", "video", "sidecar", "filename", "mtime"]
# Capture times read from the file or its sidecar; `filename` and `mtime` are guesses.
READ_CAPTURE_SOURCES: Final[frozenset[CaptureSource]] = frozenset({"exif", "video", "sidecar"})
CompanionRole = Literal["live_video", "live_still", "raw", "jpeg", "edited", "original", "sidecar"]

HASH_BITS = 64
LABEL_MAX: Final = 256  # characters kept of a free-text label read from a file
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


class FieldType(Enum):
    """How a record field is kept in JSON and in the stores (see the module's docstring)."""

    KEYWORD = "keyword"
    LABEL = "label"
    PATH = "path"
    INT = "int"
    U64 = "u64"
    FLOAT = "float"
    BOOL = "bool"
    TIME = "time"
    HASH = "hash"
    GEO = "geo"
    BLOB = "blob"
    COMPANIONS = "companions"
    ERRORS = "errors"


Label = Annotated[str, FieldType.LABEL]
PathText = Annotated[str, FieldType.PATH]
U64 = Annotated[int, FieldType.U64]
Hash64 = Annotated[int, FieldType.HASH]
Blob = Annotated[bytes, FieldType.BLOB]


@dataclass(frozen=True, slots=True)
class GeoPoint:
    lat: float
    lon: float
    alt: float | None = None


@dataclass(frozen=True, slots=True)
class Companion:
    """A file that makes one photo with the record's file; `role` says what the other file is to this
    one: its Live Photo video or still, its RAW or JPEG twin, its edited version or original, a sidecar."""

    role: CompanionRole
    path: str


@dataclass(frozen=True, slots=True)
class ExtractError:
    """What one extractor could not read from the file."""

    stage: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaRecord:
    """Everything imgcat knows about one media file. The fields, in this order, are the JSON shape.

    `path` is the absolute path as the OS gives it (os.fsdecode: undecodable bytes are kept as
    surrogates, so os.fsencode(path) gives the original bytes back). `captured_at` is aware when
    the UTC offset or the UTC instant is known, naive (local wall time) when it is not.
    """

    device: str
    path: PathText
    size: int
    mtime_ns: int
    inode: U64
    checksum: str
    kind: Kind
    format: str
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
    make: Label | None = None
    model: Label | None = None
    lens: Label | None = None
    software: Label | None = None
    gps: GeoPoint | None = None
    duration_s: float | None = None
    fps: float | None = None
    video_codec: Label | None = None
    audio_codec: Label | None = None
    bitrate: int | None = None
    rotation: int | None = None
    phash: Hash64 | None = None
    dhash: Hash64 | None = None
    phash_centre: Hash64 | None = None
    phash_left: Hash64 | None = None
    phash_right: Hash64 | None = None
    phash_top: Hash64 | None = None
    phash_bottom: Hash64 | None = None
    likeness: Blob | None = None  # the likeness grid of `similar` (scan/pixels.py)
    border_share: float | None = None
    sharpness: float | None = None
    brightness: float | None = None
    contrast: float | None = None
    clipped_dark: float | None = None
    clipped_bright: float | None = None
    entropy: float | None = None
    edge_width: float | None = None
    content_id: Label | None = None  # Apple's Live Photo pairing id, the same in the still and the video
    companions: tuple[Companion, ...] = field(default=())
    errors: tuple[ExtractError, ...] = field(default=())
    first_seen: datetime
    scanned_at: datetime
    extractor_version: int

    def __post_init__(self) -> None:
        _clean(self)

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


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of `MediaRecord` and how it is stored."""

    name: str
    type: FieldType
    required: bool
    choices: tuple[str, ...] = ()  # a Literal's values


_PLAIN_TYPES: Final[dict[object, FieldType]] = {
    str: FieldType.KEYWORD,
    int: FieldType.INT,
    float: FieldType.FLOAT,
    bool: FieldType.BOOL,
    datetime: FieldType.TIME,
    GeoPoint: FieldType.GEO,
    tuple[Companion, ...]: FieldType.COMPANIONS,
    tuple[ExtractError, ...]: FieldType.ERRORS,
}


def _field_spec(name: str, hint: object, required: bool) -> FieldSpec:
    if get_origin(hint) in (Union, types.UnionType):
        [hint] = [arg for arg in get_args(hint) if arg is not type(None)]
    if get_origin(hint) is Annotated:
        return FieldSpec(name, cast(FieldType, cast(Any, hint).__metadata__[0]), required)
    if get_origin(hint) is Literal:
        return FieldSpec(name, FieldType.KEYWORD, required, tuple(str(v) for v in get_args(hint)))
    if hint not in _PLAIN_TYPES:
        raise TypeError(f"MediaRecord.{name}: no storage is defined for {hint!r}")
    return FieldSpec(name, _PLAIN_TYPES[hint], required)


def _field_specs() -> tuple[FieldSpec, ...]:
    hints = get_type_hints(MediaRecord, include_extras=True)
    return tuple(
        _field_spec(f.name, hints[f.name], f.default is MISSING and f.default_factory is MISSING)
        for f in fields(MediaRecord)
    )


FIELDS: Final[tuple[FieldSpec, ...]] = _field_specs()


def _clean(record: MediaRecord) -> None:
    """Keep only values every store can hold, the same on all: a label cut to LABEL_MAX characters
    (Elasticsearch refuses a keyword over 32,766 bytes); an integer beyond signed 64 bits, a
    non-finite number or a position off the globe (from a corrupt header) dropped. An inode is
    unsigned 64-bit and kept whole (see U64)."""
    for name, kind in _CLEANED:
        value = getattr(record, name)
        if value is None:
            continue
        if kind is FieldType.LABEL:
            clean = value[:LABEL_MAX] if len(value) > LABEL_MAX else value
        elif kind is FieldType.INT:
            clean = value if INT_MIN <= value <= INT_MAX else None
        elif kind is FieldType.FLOAT:
            clean = value if math.isfinite(value) else None
        else:
            clean = _on_the_globe(value)
        if clean is not value:
            object.__setattr__(record, name, clean)


def _on_the_globe(gps: GeoPoint) -> GeoPoint | None:
    if not (-90 <= gps.lat <= 90 and -180 <= gps.lon <= 180):
        return None
    return gps if gps.alt is None or math.isfinite(gps.alt) else GeoPoint(gps.lat, gps.lon)


_CLEANED: Final = tuple(
    (spec.name, spec.type)
    for spec in FIELDS
    if spec.type in (FieldType.LABEL, FieldType.INT, FieldType.FLOAT, FieldType.GEO)
)
PATH_FIELD: Final = next(spec.name for spec in FIELDS if spec.type is FieldType.PATH)
DERIVED_FROM_PATH: Final = ("dir", "name", "ext")  # JSON keys computed from the path, never read back


def record_id(device: str, path: str) -> str:
    """Stable id of a catalog entry: a hash of (device, path bytes)."""
    return xxhash.xxh3_128_hexdigest(device.encode() + b"\0" + os.fsencode(path))


def camera_name(make: str | None, model: str | None) -> str:
    """How a camera is named for people, everywhere: 'Apple iPhone 11 Pro', and 'Canon EOS 350D'
    (not 'Canon Canon EOS 350D': models often repeat the make). Empty when neither is known."""
    make, model = (make or "").strip(), (model or "").strip()
    if make and model and model.lower().startswith(make.split()[0].lower()):
        return model
    return " ".join(part for part in (make, model) if part)


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


PathJson = str | dict[str, str]


def path_json(path: str) -> PathJson:
    """A path where JSON lists paths: the path itself when it is UTF-8 (nearly always), else
    `{"path": text, "path_raw": hex}` as in a record: the text shows each byte that is not UTF-8
    as `\\xNN`, and `path_raw` holds the exact bytes, so it never reads as a name spelled so."""
    text, raw = path_to_text(path)
    return text if raw is None else {"path": text, "path_raw": raw}


def path_from_json(value: PathJson) -> str:
    return value if isinstance(value, str) else path_from_text(value["path"], value.get("path_raw"))


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


# A record as JSON: what `ls --json` prints and what the stores keep. Its keys are `id`, then each
# field of FIELDS in order (the path adds `path_raw` when not UTF-8, then `dir`, `name`, `ext`).
JsonValue: TypeAlias = "str | int | float | bool | list[JsonValue] | dict[str, JsonValue] | None"
RecordJson: TypeAlias = dict[str, JsonValue]


def record_to_json(record: MediaRecord) -> RecordJson:
    data: RecordJson = {"id": record.id}
    for name, encode in _ENCODERS:
        value = getattr(record, name)
        if name == PATH_FIELD:
            data[name], raw = path_to_text(value)
            if raw is not None:
                data[f"{name}_raw"] = raw
            data["dir"] = path_to_text(record.dir)[0]
            data["name"] = path_to_text(record.name)[0]
            data["ext"] = path_to_text(record.ext)[0]
        elif encode is None or value is None:
            data[name] = value
        else:
            data[name] = encode(value)
    return data


def record_from_json(data: RecordJson) -> MediaRecord:
    """The record from its JSON. An optional field missing from `data` (stored before the field
    existed) takes its default."""
    values: dict[str, object] = {}
    for spec in FIELDS:
        value = data.get(spec.name)
        if spec.type is FieldType.PATH:
            raw = data.get(f"{spec.name}_raw")
            values[spec.name] = path_from_text(cast(str, value), cast(str | None, raw))
        elif value is not None:
            values[spec.name] = _value_from_json(spec, value)
        elif spec.required:
            raise ValueError(f"a stored record has no {spec.name}")
    return MediaRecord(**cast(dict[str, Any], values))


def _geo_json(value: object) -> JsonValue:
    gps = cast(GeoPoint, value)
    return {"lat": gps.lat, "lon": gps.lon, "alt": gps.alt}


def _errors_json(value: object) -> JsonValue:
    errors = cast(tuple[ExtractError, ...], value)
    return [{"stage": e.stage, "message": path_to_text(e.message)[0]} for e in errors]


def _companion_to_json(companion: Companion) -> JsonValue:
    text, raw = path_to_text(companion.path)
    if raw is None:
        return {"role": companion.role, "path": text}
    return {"role": companion.role, "path": text, "path_raw": raw}


def _companions_json(value: object) -> JsonValue:
    return [_companion_to_json(c) for c in cast(tuple[Companion, ...], value)]


# How each field's value becomes JSON (None: as it is; the path: record_to_json itself), looked up
# once for record_to_json's loop.
_ENCODER_OF: Final[dict[FieldType, Callable[[object], JsonValue]]] = {
    FieldType.TIME: lambda value: cast(datetime, value).isoformat(),
    FieldType.HASH: lambda value: hash_to_hex(cast(int, value)),
    FieldType.BLOB: lambda value: base64.b64encode(cast(bytes, value)).decode("ascii"),
    FieldType.GEO: _geo_json,
    FieldType.COMPANIONS: _companions_json,
    FieldType.ERRORS: _errors_json,
}
_ENCODERS: Final = tuple((spec.name, _ENCODER_OF.get(spec.type)) for spec in FIELDS)


def _value_from_json(spec: FieldSpec, value: JsonValue) -> object:
    match spec.type:
        case FieldType.KEYWORD if spec.choices:
            return _choice(spec.name, value, spec.choices)
        case FieldType.INT | FieldType.U64:
            return int(cast(int, value))
        case FieldType.FLOAT:
            return float(cast(float, value))
        case FieldType.BOOL:
            return bool(value)
        case FieldType.TIME:
            return datetime.fromisoformat(cast(str, value))
        case FieldType.HASH:
            return hash_from_hex(cast(str, value))
        case FieldType.BLOB:
            return base64.b64decode(cast(str, value))
        case FieldType.GEO:
            gps = cast(dict[str, float | None], value)
            return GeoPoint(cast(float, gps["lat"]), cast(float, gps["lon"]), gps.get("alt"))
        case FieldType.COMPANIONS:
            return tuple(
                Companion(
                    cast(CompanionRole, _choice("role", c["role"], _ROLES)),
                    path_from_text(c["path"], c.get("path_raw")),
                )
                for c in cast(list[dict[str, str]], value)
            )
        case FieldType.ERRORS:
            return tuple(ExtractError(e["stage"], e["message"]) for e in cast(list[dict[str, str]], value))
        case _:
            return value


_ROLES: Final = cast(tuple[str, ...], get_args(CompanionRole))


def _choice(name: str, value: JsonValue, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}")
    return value

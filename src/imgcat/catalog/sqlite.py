"""The embedded catalog: one SQLite file, WAL, safe for several imgcat processes at once.

A catalog that cannot be written (no write permission on it or its folder, a read-only mount, a
shared drive) is opened read-only: everything that reads works, and the first write says why it
cannot be done. A write that fails (a full disk, an I/O error) is rolled back and becomes one
`StoreWriteError` naming the catalog and the cause; the file stays sound.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import posixpath
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any, Final, cast
from urllib.parse import quote

from imgcat.catalog.base import (
    HASH_FIELDS,
    JUNK_FIELDS,
    READ_CAPTURE_SOURCES,
    Bucket,
    CatalogSummary,
    ChecksumGroup,
    ContentCopy,
    ContentGroup,
    ContentQuery,
    DuplicateSummary,
    FileState,
    Fingerprinted,
    JunkEntry,
    JunkQuery,
    Stamp,
    StampKey,
    aspect_of,
    batched,
    camera_buckets,
    companions_from_json,
    grouped_copies,
    junk_entry,
    ordered_pair,
    ranked,
)
from imgcat.errors import CatalogReadOnlyError, SchemaTooNewError, StoreUnavailableError, StoreWriteError
from imgcat.record import (
    DERIVED_FROM_PATH,
    FIELDS,
    PATH_FIELD,
    FieldSpec,
    FieldType,
    JsonValue,
    MediaRecord,
    RecordJson,
    folder_bounds,
    path_from_text,
    path_to_text,
    record_from_json,
    record_id,
    record_to_json,
)

SCHEMA_VERSION: Final = 12
BUSY_TIMEOUT_MS: Final = 60_000
# A new catalog's page size. Entries are 1-2.5 kB (paths, facts, the `similar` fingerprint): a 4 kB
# page holds one to three and leaves the rest of it empty (with schema 10's 1.6 kB thumbnails, 34%
# of the table unused at a million entries, 3.8 kB an entry; 2.8 kB with 16 kB pages). A catalog
# made before keeps its pages (changing them is a VACUUM, a full rewrite, left to the user:
# `sqlite3 FILE 'PRAGMA page_size=16384; VACUUM'`).
PAGE_SIZE: Final = 16384

# Version 1 was the first catalog layout; version 2 added the companion and error lists;
# version 3 the locations (folders `add` cataloged), indexes for queries across devices, and
# covering (path, size, mtime) indexes so an unchanged sync reads only an index; version 5 the
# Live Photo content identifier, indexed to find a photo's other half.
# This first layout never changes: a field added to the record gets its columns from a migration
# (`add_columns`), and a test checks that the migrated table holds exactly COLUMNS.
_CREATE_V1: Final = """
CREATE TABLE media (
    id TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    path TEXT NOT NULL,
    path_raw TEXT,
    dir TEXT NOT NULL,
    name TEXT NOT NULL,
    ext TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    checksum TEXT NOT NULL,
    kind TEXT NOT NULL,
    format TEXT NOT NULL,
    mime TEXT,
    ext_mismatch INTEGER NOT NULL,
    width INTEGER, height INTEGER, orientation INTEGER,
    display_width INTEGER, display_height INTEGER,
    captured_at TEXT, captured_offset INTEGER, captured_source TEXT,
    make TEXT, model TEXT, lens TEXT, software TEXT,
    gps_lat REAL, gps_lon REAL, gps_alt REAL,
    duration_s REAL, fps REAL, video_codec TEXT, audio_codec TEXT, bitrate INTEGER, rotation INTEGER,
    phash TEXT, dhash TEXT,
    sharpness REAL, brightness REAL, contrast REAL,
    clipped_dark REAL, clipped_bright REAL, entropy REAL,
    first_seen TEXT NOT NULL,
    scanned_at TEXT NOT NULL,
    extractor_version INTEGER NOT NULL
);
CREATE INDEX media_device_path ON media(device, path);
CREATE INDEX media_device_dir ON media(device, dir);
CREATE INDEX media_checksum ON media(checksum);
CREATE INDEX media_size ON media(size);
CREATE INDEX media_captured_at ON media(captured_at);
"""


def field_columns(spec: FieldSpec) -> tuple[tuple[str, str], ...]:
    """The SQLite columns (name, declaration) that hold one record field."""
    match spec.type:
        case FieldType.PATH:
            return tuple((name, "TEXT") for name in (spec.name, f"{spec.name}_raw", *DERIVED_FROM_PATH))
        case FieldType.GEO:
            return tuple((f"{spec.name}_{part}", "REAL") for part in ("lat", "lon", "alt"))
        case FieldType.COMPANIONS | FieldType.ERRORS:
            return ((spec.name, "TEXT NOT NULL DEFAULT '[]'"),)
        case FieldType.INT | FieldType.U64 | FieldType.BOOL:
            declared = "INTEGER"
        case FieldType.FLOAT:
            declared = "REAL"
        case FieldType.BLOB:
            declared = "BLOB"
        case _:
            declared = "TEXT"
    return ((spec.name, f"{declared} NOT NULL" if spec.required else declared),)


COLUMN_TYPES: Final = {"id": "TEXT", **{name: kind for spec in FIELDS for name, kind in field_columns(spec)}}
COLUMNS: Final = tuple(COLUMN_TYPES)
_SELECT: Final = f"SELECT {', '.join(COLUMNS)} FROM media"
_JUNK_SELECT: Final = f"SELECT {', '.join(JUNK_FIELDS)} FROM media"
_INSERT: Final = (
    f"INSERT OR REPLACE INTO media ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
)
_FIELDS_OF: Final = {spec.name: spec for spec in FIELDS}
_GEO: Final = tuple(spec.name for spec in FIELDS if spec.type is FieldType.GEO)
_LISTS: Final = tuple(spec.name for spec in FIELDS if spec.type in (FieldType.COMPANIONS, FieldType.ERRORS))
_U64: Final = tuple(spec.name for spec in FIELDS if spec.type is FieldType.U64)
_BLOBS: Final = tuple(spec.name for spec in FIELDS if spec.type is FieldType.BLOB)
_U64_SPAN: Final = 1 << 64


def add_columns(*names: str) -> str:
    """The migration script that adds the columns of the named (new, optional) record fields."""
    specs = [_FIELDS_OF[name] for name in names]
    if any(spec.required for spec in specs):
        raise ValueError("a field added to stored records must be optional")
    return "".join(
        f"ALTER TABLE media ADD COLUMN {column} {declared};\n"
        for spec in specs
        for column, declared in field_columns(spec)
    )


# Version 9 keeps the figures of `stats` as the entries are written, so that `stats` reads a few
# hundred rows instead of every entry: files and bytes per (device, kind, format, year, camera,
# damaged or not), per stage that failed, and the duplicate figures (contents held more than once,
# the copies beyond one and their bytes). Triggers keep them in the writer's transaction, so they
# are as right as the entries under any number of writers; an entry written again (INSERT OR
# REPLACE) is first deleted, so that the delete trigger takes its old figures out.
_TOTALS_KEY: Final = "device, kind, format, year, make, model, damaged"
_COUNTED: Final = ("device", "kind", "format", "captured_at", "make", "model", "errors", "size", "checksum")
"""The columns the stats totals are kept from: media_totals_changed's (an update of one of them
updates the totals). A test checks the two agree."""
_MOVE: Final = (
    f"UPDATE media SET {', '.join(f'{c} = ?' for c in COLUMNS if c not in _COUNTED)} "
    f"WHERE id = ? AND {' AND '.join(f'{c} IS ?' for c in _COUNTED)}"
)
"""A move in place: every column but the counted ones, on the row whose counted ones are unchanged
(the totals stay as they are; no trigger runs)."""


def _totals_key_of(row: str) -> str:
    return (
        f"{row}.device, {row}.kind, {row}.format, COALESCE(substr({row}.captured_at, 1, 4), 'unknown'), "
        f"COALESCE({row}.make, ''), COALESCE({row}.model, ''), {row}.errors != '[]'"
    )


def _copies(row: str, *, others: bool, limit: int) -> str:
    """How many entries hold the row's content (up to `limit`), the row itself left out if `others`."""
    mine = f" AND id != {row}.id" if others else ""
    return f"(SELECT COUNT(*) FROM (SELECT 1 FROM media WHERE checksum = {row}.checksum{mine} LIMIT {limit}))"


def _count_in(row: str) -> str:
    """Statements adding the figures of an entry that is in the table now (NEW)."""
    copies = _copies(row, others=False, limit=3)
    return f"""
        INSERT INTO media_totals VALUES ({_totals_key_of(row)}, 1, {row}.size)
            ON CONFLICT DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
        INSERT INTO media_error_totals
            SELECT DISTINCT json_extract(value, '$.stage'), 1, {row}.size
            FROM json_each({row}.errors) WHERE true
            ON CONFLICT DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
        UPDATE media_duplicate_totals
            SET groups = groups + ({copies} = 2), files = files + 1, bytes = bytes + {row}.size
            WHERE {copies} >= 2;"""


def _count_out(row: str) -> str:
    """Statements taking out the figures of an entry as it was (OLD)."""
    others = _copies(row, others=True, limit=2)
    return f"""
        UPDATE media_totals SET files = files - 1, bytes = bytes - {row}.size
            WHERE ({_TOTALS_KEY}) = ({_totals_key_of(row)});
        DELETE FROM media_totals WHERE ({_TOTALS_KEY}) = ({_totals_key_of(row)}) AND files = 0;
        UPDATE media_error_totals SET files = files - 1, bytes = bytes - {row}.size
            WHERE stage IN (SELECT json_extract(value, '$.stage') FROM json_each({row}.errors));
        DELETE FROM media_error_totals WHERE files = 0;
        UPDATE media_duplicate_totals
            SET groups = groups - ({others} = 1), files = files - 1, bytes = bytes - {row}.size
            WHERE {others} >= 1;"""


_TOTALS: Final = f"""
    CREATE TABLE media_totals (
        device TEXT NOT NULL, kind TEXT NOT NULL, format TEXT NOT NULL, year TEXT NOT NULL,
        make TEXT NOT NULL, model TEXT NOT NULL, damaged INTEGER NOT NULL,
        files INTEGER NOT NULL, bytes INTEGER NOT NULL,
        PRIMARY KEY ({_TOTALS_KEY})
    ) WITHOUT ROWID;
    CREATE TABLE media_error_totals (
        stage TEXT PRIMARY KEY, files INTEGER NOT NULL, bytes INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE media_duplicate_totals (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        groups INTEGER NOT NULL, files INTEGER NOT NULL, bytes INTEGER NOT NULL
    );
    INSERT INTO media_totals
        SELECT {_totals_key_of("media")}, COUNT(*), SUM(size) FROM media GROUP BY 1, 2, 3, 4, 5, 6, 7;
    INSERT INTO media_error_totals
        SELECT stage, COUNT(*), SUM(size) FROM (
            SELECT DISTINCT media.id, media.size, json_extract(failed.value, '$.stage') AS stage
            FROM media, json_each(media.errors) AS failed WHERE media.errors != '[]'
        ) GROUP BY stage;
    INSERT INTO media_duplicate_totals
        SELECT 1, COUNT(*), COALESCE(SUM(copies - 1), 0), COALESCE(SUM((copies - 1) * size), 0)
        FROM (SELECT COUNT(*) AS copies, MIN(size) AS size FROM media GROUP BY checksum HAVING copies > 1);
    CREATE TRIGGER media_written_again BEFORE INSERT ON media BEGIN
        DELETE FROM media WHERE id = NEW.id;
    END;
    CREATE TRIGGER media_totals_in AFTER INSERT ON media BEGIN {_count_in("NEW")}
    END;
    CREATE TRIGGER media_totals_out AFTER DELETE ON media BEGIN {_count_out("OLD")}
    END;
    CREATE TRIGGER media_totals_changed
        AFTER UPDATE OF device, kind, format, captured_at, make, model, errors, size, checksum ON media
    BEGIN {_count_out("OLD")} {_count_in("NEW")}
    END;
"""

MIGRATIONS: Final[dict[int, str]] = {
    1: """
    ALTER TABLE media ADD COLUMN companions TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE media ADD COLUMN errors TEXT NOT NULL DEFAULT '[]';
    """,
    2: """
    CREATE INDEX media_path ON media(path);
    CREATE INDEX media_dir_path ON media(dir, path);
    DROP INDEX media_device_dir;
    DROP INDEX media_device_path;
    CREATE INDEX media_device_path_stamp
        ON media(device, path, size, mtime_ns, path_raw, extractor_version);
    CREATE INDEX media_device_dir_stamp
        ON media(device, dir, path, size, mtime_ns, path_raw, extractor_version);
    CREATE TABLE locations (
        device TEXT NOT NULL,
        path TEXT NOT NULL,
        path_raw TEXT,
        added_at TEXT NOT NULL,
        PRIMARY KEY (device, path)
    );
    """,
    3: """
    DROP INDEX media_device_path_stamp;
    DROP INDEX media_device_dir_stamp;
    CREATE INDEX media_device_path_stamp
        ON media(device, path, size, mtime_ns, path_raw, extractor_version, companions);
    CREATE INDEX media_device_dir_stamp
        ON media(device, dir, path, size, mtime_ns, path_raw, extractor_version, companions);
    """,
    4: add_columns("content_id") + "CREATE INDEX media_content_id ON media(content_id);",
    5: add_columns("edge_width"),
}
# Version 7: the `similar` fingerprint (hashes of the trimmed picture's centre and halves, a 64x64
# thumbnail, dropped since) and the pairs of contents a person said are not the same picture (by
# checksum, so the decision follows the content through moves, syncs and a fresh `add`).
MIGRATIONS[6] = (
    add_columns("phash_centre", "phash_left", "phash_right", "phash_top", "phash_bottom")
    + "ALTER TABLE media ADD COLUMN thumb BLOB;\n"
    + add_columns("border_share")
    + """
CREATE TABLE not_same (
    a TEXT NOT NULL,
    b TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    PRIMARY KEY (a, b)
);
"""
)

# Version 8: a location is known by its bytes, not its text: a folder named with the byte 0xFF and
# one literally named `\\xff` read the same as text, and the first key kept only one of them.
MIGRATIONS[7] = """
CREATE TABLE locations_by_bytes (
    device TEXT NOT NULL,
    path TEXT NOT NULL,
    path_raw TEXT,
    added_at TEXT NOT NULL
);
INSERT INTO locations_by_bytes (device, path, path_raw, added_at)
    SELECT device, path, path_raw, added_at FROM locations;
DROP TABLE locations;
ALTER TABLE locations_by_bytes RENAME TO locations;
CREATE UNIQUE INDEX locations_exact ON locations(device, path, COALESCE(path_raw, ''));
"""
MIGRATIONS[8] = _TOTALS  # version 9: the totals `stats` reads (see _TOTALS)
# Version 10: no index leads with the path alone (queries over every device search the device's
# indexes once per device, see _EVERY_DEVICE): 250 bytes an entry less.
MIGRATIONS[9] = """
DROP INDEX media_path;
DROP INDEX media_dir_path;
"""
# Version 11: `similar` verifies candidates with a likeness grid of a few hundred bytes instead of the
# 64x64 JPEG thumbnail (1.6 kB a picture). Entries keep their hashes and read their grid again on
# the next `add` (EXTRACTOR_VERSION 8); until then `similar` finds them but cannot verify them.
MIGRATIONS[10] = add_columns("likeness") + "ALTER TABLE media DROP COLUMN thumb;\n"
# Version 12: the path is kept once per index, not twice. The folder index holds each entry's name
# beside its folder (not its whole path again: a path is its folder, a slash, its name) and the
# stamps, so a folder's stamps (`add`, `sync`) and a whole tree's (a root gone) are read from it
# alone; the path index holds the path and its bytes only (ordered listings, counts), no stamps.
# At a million entries: 390 bytes of the two indexes an entry became 270.
MIGRATIONS[11] = """
DROP INDEX media_device_path_stamp;
DROP INDEX media_device_dir_stamp;
CREATE INDEX media_device_path ON media(device, path, path_raw);
CREATE INDEX media_device_dir_name_stamp
    ON media(device, dir, name, size, mtime_ns, path_raw, extractor_version, companions);
"""


def record_to_row(record: MediaRecord) -> tuple[object, ...]:
    """The row, in COLUMNS order: the record's JSON with the points split into columns, lists as
    JSON text and unsigned 64-bit values as SQLite's signed ones (two's complement)."""
    data: dict[str, object] = dict(record_to_json(record))
    for name in _GEO:
        gps = cast(dict[str, float | None] | None, data.pop(name))
        for part in ("lat", "lon", "alt"):
            data[f"{name}_{part}"] = None if gps is None else gps[part]
    for name in _LISTS:
        data[name] = json.dumps(data[name])
    for name in _U64:
        value = cast(int, data[name])
        data[name] = value - _U64_SPAN if value >= _U64_SPAN // 2 else value
    for name in _BLOBS:
        if data[name] is not None:
            data[name] = base64.b64decode(cast(str, data[name]))
    return tuple(data.get(column) for column in COLUMNS)


def record_from_row(row: sqlite3.Row) -> MediaRecord:
    data: RecordJson = {column: row[column] for column in COLUMNS}
    for name in _GEO:
        lat, lon, alt = (data.pop(f"{name}_{part}") for part in ("lat", "lon", "alt"))
        data[name] = None if lat is None else {"lat": lat, "lon": lon, "alt": alt}
    for name in _LISTS:
        data[name] = json.loads(cast(str, data[name]))
    for name in _U64:
        data[name] = _unsigned(cast(int, data[name]))
    for name in _BLOBS:
        if data[name] is not None:
            data[name] = base64.b64encode(cast(bytes, data[name])).decode("ascii")
    return record_from_json(data)


def _list_from_json(text: str) -> JsonValue:
    return [] if text == "[]" else cast(JsonValue, json.loads(text))


_TO_JSON: Final[dict[FieldType, Callable[[Any], JsonValue]]] = {
    FieldType.BOOL: bool, FieldType.U64: lambda value: _unsigned(value),
    FieldType.COMPANIONS: _list_from_json, FieldType.ERRORS: _list_from_json,
    FieldType.BLOB: lambda value: base64.b64encode(value).decode("ascii"),
}  # fmt: skip


class _JsonFromRow:
    """How `json_from_row` reads a row: the JSON keys in `record_to_json`'s order, the column each
    is read from (a point from its latitude's), the values to convert, the points to rebuild."""

    def __init__(self) -> None:
        column = {name: i for i, name in enumerate(COLUMNS)}
        keys: list[str] = ["id"]
        picks = [column["id"]]
        self.convert: list[tuple[str, Callable[[Any], JsonValue]]] = []
        self.points: list[tuple[str, int]] = []
        for spec in FIELDS:
            if spec.type is FieldType.GEO:
                keys.append(spec.name)
                picks.append(column[f"{spec.name}_lat"])
                self.points.append((spec.name, column[f"{spec.name}_lat"]))
                continue
            for name, _ in field_columns(spec):
                keys.append(name)
                picks.append(column[name])
                if spec.type in _TO_JSON:
                    self.convert.append((name, _TO_JSON[spec.type]))
        self.keys = tuple(keys)
        self.pick = itemgetter(*picks)


def json_from_row(row: Sequence[Any]) -> RecordJson:
    """The record's JSON straight from its row, as `record_to_json(record_from_row(row))` gives it
    (same keys, same order, same values) without building the record: `ls --catalog --jsonl` of a
    million entries. (A key assigned again keeps its place.)"""
    data: RecordJson = dict(zip(_JSON.keys, _JSON.pick(row), strict=True))
    for key, convert in _JSON.convert:
        value = data[key]
        if value is not None:
            data[key] = convert(value)
    for key, lat in _JSON.points:
        if row[lat] is not None:
            data[key] = {"lat": row[lat], "lon": row[lat + 1], "alt": row[lat + 2]}
    if data[_PATH_RAW] is None:
        del data[_PATH_RAW]
    return data


def _unsigned(value: int) -> int:
    return value + _U64_SPAN if value < 0 else value


_JSON: Final = _JsonFromRow()
_PATH_RAW: Final = f"{PATH_FIELD}_raw"


# A folder's stamps on the (device, dir, path, stamps) covering index (test_sqlite_store checks the
# plan; an index of names, not paths, would read `? || name` with the folder and a slash); plain:
# read by a recent enough extractor, no companions (so no sidecars), a name kept as text.
_PLAIN_STAMPS: Final = """
SELECT ?4 || name, size, mtime_ns, extractor_version >= ?1 AND path_raw IS NULL AND companions = '[]'
FROM media WHERE device = ?2 AND dir = ?3
"""
"""A folder's stamps from the folder index alone: the path is the folder (?4, with its slash) and
the name the index holds beside it, joined by SQLite, so no Python code runs per entry."""
_IS_PLAIN: Final = itemgetter(3)
_STAMP_KEY: Final = itemgetter(0, 1, 2)


def _sidecar_paths(companions: list[dict[str, str]]) -> tuple[str, ...]:
    return tuple(path_from_text(c["path"], c.get("path_raw")) for c in companions if c["role"] == "sidecar")


class SqliteCatalog:
    """The default store: a single SQLite file in the user's data folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.read_only: str | None = None  # why the catalog cannot be written, when it cannot
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = self._open_for_writing()
        except sqlite3.DatabaseError as error:
            why = _why_read_only(path)
            if why is None and not path.exists() and not os.access(path.parent, os.W_OK):
                raise StoreUnavailableError(
                    f"cannot create catalog {path}: no write permission on its folder"
                ) from error
            if why is None and path.is_dir():  # `--db ~/Pictures`: SQLite only says it cannot open it
                raise StoreUnavailableError(
                    f"cannot open catalog {path}: it is a folder; a catalog is a file (--db FILE)"
                ) from error
            if why is None:
                raise StoreUnavailableError(f"cannot open catalog {path}: {_cause(error)}") from error
            self._db = self._open_for_reading(why)
        except OSError as error:
            raise StoreUnavailableError(f"cannot open catalog {path}: {error.strerror or error}") from error

    def _open_for_writing(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            db.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # a new, empty file only; before WAL
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            self._db = db
            self._migrate()
        except BaseException:
            db.close()
            raise
        return db

    def _open_for_reading(self, why: str) -> sqlite3.Connection:
        """Open without writing anything, not even the WAL's shared-memory file when the folder is
        read-only (then the file is taken as it is: `immutable`)."""
        self.read_only = why
        uri = f"file:{quote(str(self.path))}?mode=ro"
        for options in ("", "&immutable=1"):
            try:
                db = sqlite3.connect(uri + options, uri=True, isolation_level=None)
                db.row_factory = sqlite3.Row
                version: int = db.execute("PRAGMA user_version").fetchone()[0]
                break
            except sqlite3.DatabaseError as error:
                failure = error
        else:
            raise StoreUnavailableError(f"cannot open catalog {self.path}: {_cause(failure)}") from failure
        if version > SCHEMA_VERSION:
            raise SchemaTooNewError(
                f"catalog {self.path} has schema {version}, newer than this imgcat knows ({SCHEMA_VERSION}): "
                "upgrade imgcat"
            )
        if version < SCHEMA_VERSION:
            raise StoreUnavailableError(
                f"catalog {self.path} has schema {version} and needs upgrading, but cannot be written: {why}"
            )
        return db

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def schema_version(self) -> int:
        version: int = self._db.execute("PRAGMA user_version").fetchone()[0]
        return version

    def _migrate(self) -> None:
        """Bring the schema to SCHEMA_VERSION. A current catalog is not written to at all, so that
        one on a full or read-only disk opens as well."""
        if self.schema_version == SCHEMA_VERSION:
            return
        self._db.execute("BEGIN IMMEDIATE")
        version = 0
        try:
            version = self.schema_version
            if version > SCHEMA_VERSION:
                raise SchemaTooNewError(
                    f"catalog {self.path} has schema {version}, newer than this imgcat "
                    f"knows ({SCHEMA_VERSION}): upgrade imgcat"
                )
            if version == 0:
                _run_script(self._db, _CREATE_V1)
            for step in range(max(version, 1), SCHEMA_VERSION):
                _run_script(self._db, MIGRATIONS[step])
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        except BaseException as error:
            with contextlib.suppress(sqlite3.DatabaseError):
                self._db.execute("ROLLBACK")
            if version and isinstance(error, sqlite3.DatabaseError) and _why_read_only(self.path) is None:
                # an upgrade that cannot be written (a full disk): said as such, not as "cannot
                # open", and the catalog is as it was (one transaction), so an older imgcat reads it
                raise StoreUnavailableError(
                    f"cannot upgrade catalog {self.path} from schema {version} to {SCHEMA_VERSION}: "
                    f"{_cause(error)}; the catalog is left as it was"
                ) from error
            raise
        self._return_freed_pages()

    def _return_freed_pages(self) -> None:
        """After a migration that dropped indexes or columns, give their pages back to the disk
        when they are 1% of the file or more: a VACUUM rewrites the file without them (10 s at a
        million entries, once per upgrade; version 12's dropped indexes left 170 MB of 1.5 GB). Best effort: a
        catalog that cannot be rewritten now (a full disk, another process writing) keeps its free
        pages, which its next writes reuse."""
        free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
        if free * 100 < self._db.execute("PRAGMA page_count").fetchone()[0]:
            return
        with contextlib.suppress(sqlite3.DatabaseError):
            self._db.execute("VACUUM")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the rewritten pages out of the log

    def _write(self) -> _WriteTransaction:
        if self.read_only is not None:
            raise CatalogReadOnlyError(f"cannot write catalog {self.path}: {self.read_only}")
        return _WriteTransaction(self._db, self.path)

    def upsert_many(self, records: Iterable[MediaRecord]) -> int:
        written = 0
        for batch in batched(records):
            with self._write():
                self._db.executemany(_INSERT, [record_to_row(r) for r in batch])
            written += len(batch)
        return written

    def iter_json_under(
        self, device: str | None, prefix: str, *, recursive: bool = True
    ) -> Iterator[RecordJson]:
        where, params = _under(device, prefix, recursive=recursive)
        rows = self._db.cursor()
        rows.row_factory = None  # plain tuples, turned into JSON directly
        for row in rows.execute(f"{_SELECT} WHERE {where} ORDER BY path", params):
            yield json_from_row(row)

    def get(self, device: str, path: str) -> MediaRecord | None:
        row = self._db.execute(f"{_SELECT} WHERE id = ?", (record_id(device, path),)).fetchone()
        return None if row is None else record_from_row(row)

    def get_many(self, device: str, paths: Collection[str]) -> dict[str, MediaRecord]:
        found: dict[str, MediaRecord] = {}
        for batch in batched([record_id(device, p) for p in paths]):
            marks = ", ".join("?" for _ in batch)
            for row in self._db.execute(f"{_SELECT} WHERE id IN ({marks})", batch).fetchall():
                record = record_from_row(row)
                found[record.path] = record
        return found

    def iter_under(self, device: str | None, prefix: str, *, recursive: bool = True) -> Iterator[MediaRecord]:
        where, params = _under(device, prefix, recursive=recursive)
        for row in self._db.execute(f"{_SELECT} WHERE {where} ORDER BY path", params):
            yield record_from_row(row)

    def iter_stamps(self, device: str, prefix: str, *, recursive: bool = True) -> Iterator[Stamp]:
        where, params = _in_folders(device, prefix, recursive=recursive)
        rows = self._db.cursor()
        rows.row_factory = None  # plain tuples: the hot loop of an unchanged sync, on the folder index alone
        sql = (
            "SELECT dir, name, path_raw, size, mtime_ns, extractor_version, companions "
            f"FROM media WHERE {where}"
        )
        folder, base = "", ""
        for in_folder, name, path_raw, size, mtime_ns, version, companions in rows.execute(sql, params):
            if in_folder != folder:  # a path is its folder, a slash and its name
                folder, base = in_folder, in_folder.rstrip("/") + "/"
            path = base + name if path_raw is None else path_from_text("", path_raw)
            if companions == "[]":
                yield Stamp(path, size, mtime_ns, version)
            else:
                yield Stamp(path, size, mtime_ns, version, _sidecar_paths(json.loads(companions)))

    def plain_stamps(self, device: str, folder: str, min_version: int) -> set[StampKey] | None:
        text, raw = path_to_text(folder)
        if raw is not None:
            return None  # a folder named by its bytes: entry by entry
        rows = self._db.cursor()
        rows.row_factory = None
        folder = text.rstrip("/") or "/"
        found = rows.execute(
            _PLAIN_STAMPS, [min_version, device, folder, folder.rstrip("/") + "/"]
        ).fetchall()
        if not all(map(_IS_PLAIN, found)):  # map, set and itemgetter: no Python code per entry
            return None
        return set(map(_STAMP_KEY, found))

    def iter_folders(self, device: str, prefix: str) -> Iterator[str]:
        # By the folder column, on the (device, dir, ...) covering index, one search per folder: a
        # search by path read each entry's row for its dir (at a million entries, the whole table).
        text, raw = path_to_text(prefix)
        folder, (low, high) = text.rstrip("/") or "/", folder_bounds(text)
        mine = "device = ? AND dir >= ? AND dir < ? AND (dir = ? OR dir >= ?)"  # one range: no OR branches
        folders: set[str] = set()
        if raw is None:
            itself = "SELECT 1 FROM media WHERE device = ? AND dir = ? AND path_raw IS NULL LIMIT 1"
            if self._db.execute(itself, [device, folder]).fetchone() is not None:
                folders.add(folder)
            following = (
                "SELECT dir FROM media WHERE device = ? AND dir > ? AND dir < ? AND path_raw IS NULL "
                "ORDER BY dir LIMIT 1"
            )
            last = low  # no folder is named `low` itself ("/a/"); "/" is the root's own
            while (row := self._db.execute(following, [device, last, high]).fetchone()) is not None:
                last = row[0]
                folders.add(last)
        exact, exact_params = _exactly(prefix, raw)  # rare: a name that is not UTF-8, matched by its bytes
        raws = f"SELECT path_raw FROM media WHERE {mine} AND path_raw IS NOT NULL AND {exact}"
        hexed = self._db.execute(raws, [device, folder, high, folder, low, *exact_params])
        folders.update(os.path.dirname(path_from_text("", value)) for (value,) in hexed)
        yield from sorted(folders)

    def states_of(self, device: str, paths: Collection[str]) -> Iterator[FileState]:
        sql = "SELECT id, path, path_raw, size, mtime_ns, inode, checksum FROM media WHERE id IN ({})"
        for batch in batched([record_id(device, p) for p in paths]):
            for row in self._db.execute(sql.format(", ".join("?" for _ in batch)), batch).fetchall():
                path = path_from_text(row["path"], row["path_raw"])
                inode = _unsigned(row["inode"])
                yield FileState(row["id"], path, row["size"], row["mtime_ns"], inode, row["checksum"])

    def with_checksums(self, checksums: Collection[str]) -> Iterator[MediaRecord]:
        for batch in batched(sorted(set(checksums))):
            marks = ", ".join("?" for _ in batch)
            sql = f"{_SELECT} WHERE checksum IN ({marks}) ORDER BY checksum, device, path"
            for row in self._db.execute(sql, batch).fetchall():
                yield record_from_row(row)

    def with_content_ids(
        self, device: str, folder: str, content_ids: Collection[str]
    ) -> Iterator[MediaRecord]:
        where, params = _under(device, folder, recursive=False)
        for batch in batched(sorted(set(content_ids))):
            marks = ", ".join("?" for _ in batch)
            # a few entries by their identifiers, not every entry of the folder and its row
            sql = f"{_SELECT} INDEXED BY media_content_id WHERE content_id IN ({marks}) AND {where}"
            sql += " ORDER BY path"
            for row in self._db.execute(sql, [*batch, *params]).fetchall():
                yield record_from_row(row)

    def delete_many(self, ids: Iterable[str]) -> int:
        deleted = 0
        for batch in batched(ids):
            with self._write():
                marks = ", ".join("?" for _ in batch)
                deleted += self._db.execute(f"DELETE FROM media WHERE id IN ({marks})", batch).rowcount
        return deleted

    def move_many(self, moves: Iterable[tuple[MediaRecord, str]]) -> int:
        """Each entry updated in place where its counted fields are as stored (the common case: a
        rename; the totals need no change), else deleted and written again."""
        moved = 0
        for batch in batched(moves):
            with self._write():
                for record, new_path in batch:
                    row = dict(zip(COLUMNS, record_to_row(record.moved_to(new_path)), strict=True))
                    if row["id"] != record.id:
                        self._db.execute("DELETE FROM media WHERE id = ?", (row["id"],))
                    values = [v for c, v in row.items() if c not in _COUNTED]
                    counted = [row[c] for c in _COUNTED]
                    if not self._db.execute(_MOVE, [*values, record.id, *counted]).rowcount:
                        self._db.execute("DELETE FROM media WHERE id = ?", (record.id,))
                        self._db.execute(_INSERT, tuple(row.values()))
            moved += len(batch)
        return moved

    def checksum_groups(self) -> Iterator[ChecksumGroup]:
        sql = (
            f"{_SELECT} WHERE checksum IN "
            "(SELECT checksum FROM media GROUP BY checksum HAVING COUNT(*) > 1) "
            "ORDER BY checksum, device, path"
        )
        rows = self._db.execute(sql)
        for checksum, group in itertools.groupby(rows, key=lambda row: row["checksum"]):
            yield ChecksumGroup(checksum, tuple(record_from_row(row) for row in group))

    def content_groups(self, query: ContentQuery) -> Iterator[ContentGroup]:
        where, params = _content_filter(query)
        if query.under:
            clauses = [_under(None, folder, recursive=True) for folder in query.under]
            near = " OR ".join(clause for clause, _ in clauses)
            keys = f"SELECT DISTINCT checksum FROM media WHERE {where} AND ({near})"
            params = [*params, *(p for _, folder_params in clauses for p in folder_params), *params]
            sql = f"SELECT {_COPY_COLUMNS} FROM media WHERE checksum IN ({keys}) AND {where}"
        elif query.min_copies > 1:
            keys = f"SELECT checksum FROM media WHERE {where} GROUP BY checksum HAVING COUNT(*) >= ?"
            params = [*params, query.min_copies, *params]
            sql = f"SELECT {_COPY_COLUMNS} FROM media WHERE checksum IN ({keys}) AND {where}"
        else:
            sql = f"SELECT {_COPY_COLUMNS} FROM media WHERE {where}"
        rows = self._db.cursor()
        rows.row_factory = None  # plain tuples: up to a million rows go through here
        copies = map(_copy_from_row, rows.execute(f"{sql} ORDER BY checksum, size", params))
        yield from grouped_copies(copies, query.min_copies)

    def junk_candidates(self, query: JunkQuery) -> Iterator[JunkEntry]:
        where, params = junk_where(query)
        if where is None:
            return
        yield from self._junk_entries(f"{_JUNK_SELECT} WHERE {where}", params)

    def _junk_entries(self, sql: str, params: Sequence[object]) -> Iterator[JunkEntry]:
        rows = self._db.cursor()
        rows.row_factory = None  # plain tuples: tens of thousands of entries may come through here
        for row in rows.execute(sql, params):
            values = dict(zip(JUNK_FIELDS, row, strict=True))
            if values["errors"] == "[]":
                values["errors"] = None
            else:
                values["errors"] = json.loads(values["errors"])
            yield junk_entry(values)

    def captured_between(
        self, device: str, folder: str | None, start: datetime, end: datetime
    ) -> Iterator[JunkEntry]:
        # A few seconds of capture time hold few entries across the whole catalog; the folder's own
        # index would read every entry of a big folder to find them.
        sql = f"{_JUNK_SELECT} INDEXED BY media_captured_at WHERE captured_at BETWEEN ? AND ? AND device = ?"
        params: tuple[str, ...] = (start.isoformat(), end.isoformat(), device)
        if folder is not None:
            sql += " AND dir = ?"
            params += (path_to_text(folder)[0].rstrip("/") or "/",)
        yield from list(self._junk_entries(f"{sql} ORDER BY captured_at", params))

    def iter_fingerprints(
        self, device: str | None = None, prefix: str | None = None
    ) -> Iterator[Fingerprinted]:
        where, params = ("1", []) if prefix is None else _under(device, prefix, recursive=True)
        if prefix is None and device is not None:
            where, params = "device = ?", [device]
        sql = (
            "SELECT id, device, path, path_raw, checksum, captured_at, captured_source, display_width, "
            f"display_height, {', '.join(HASH_FIELDS)} FROM media WHERE phash IS NOT NULL AND ({where})"
        )
        rows = self._db.cursor()
        rows.row_factory = None  # plain tuples: one per picture of the catalog
        for row in rows.execute(sql, params):
            doc_id, dev, path, path_raw, checksum, captured_at, source, width, height = row[:9]
            yield Fingerprinted(
                doc_id,
                dev,
                path if path_raw is None else path_from_text(path, path_raw),
                checksum,
                datetime.fromisoformat(captured_at)
                if captured_at and source in READ_CAPTURE_SOURCES
                else None,
                tuple(None if value is None else int(value, 16) for value in row[9:]),
                aspect_of(width, height),
            )

    def likeness_of(self, ids: Collection[str]) -> Iterator[tuple[str, bytes]]:
        for batch in batched(list(ids)):
            marks = ", ".join("?" for _ in batch)
            sql = f"SELECT id, likeness FROM media WHERE likeness IS NOT NULL AND id IN ({marks})"
            for row in self._db.execute(sql, batch).fetchall():
                yield row["id"], row["likeness"]

    def add_not_same(self, pairs: Iterable[tuple[str, str]]) -> int:
        now = datetime.now(UTC).isoformat()
        added = 0
        with self._write():
            for a, b in pairs:
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO not_same (a, b, decided_at) VALUES (?, ?, ?)",
                    (*ordered_pair(a, b), now),
                )
                added += cursor.rowcount
        return added

    def iter_not_same(self) -> Iterator[tuple[str, str]]:
        for row in self._db.execute("SELECT a, b FROM not_same ORDER BY a, b").fetchall():
            yield row["a"], row["b"]

    def add_location(self, device: str, path: str) -> None:
        text, raw = path_to_text(path)
        with self._write():
            self._db.execute(
                "INSERT OR REPLACE INTO locations (device, path, path_raw, added_at) VALUES (?, ?, ?, ?)",
                (device, text, raw, datetime.now(UTC).isoformat()),
            )

    def remove_location(self, device: str, path: str) -> None:
        text, raw = path_to_text(path)
        with self._write():
            self._db.execute(
                "DELETE FROM locations WHERE device = ? AND path = ? AND COALESCE(path_raw, '') = ?",
                (device, text, raw or ""),
            )

    def iter_locations(self, device: str) -> Iterator[str]:
        rows = self._db.execute(
            "SELECT path, path_raw FROM locations WHERE device = ? ORDER BY path", (device,)
        )
        for row in rows.fetchall():
            yield path_from_text(row["path"], row["path_raw"])

    def count(self, device: str | None = None, prefix: str | None = None) -> int:
        where: str = "1"
        params: Sequence[object] = ()
        if prefix is not None:
            where, params = _under(device, prefix, recursive=True)
        elif device is not None:
            where, params = "device = ?", (device,)
        counted: int = self._db.execute(f"SELECT COUNT(*) FROM media WHERE {where}", params).fetchone()[0]
        return counted

    def summary(self) -> CatalogSummary:
        """From the totals the triggers keep: a few hundred rows, however many entries."""
        rows = self._db.execute(f"SELECT {_TOTALS_KEY}, files, bytes FROM media_totals").fetchall()
        facets: dict[str, dict[str, list[int]]] = {
            facet: {} for facet in ("kind", "format", "year", "device")
        }
        cameras: dict[tuple[str, str], list[int]] = {}
        with_errors = 0
        for device, kind, fmt, year, make, model, damaged, files, size in rows:
            for facet, key in (("kind", kind), ("format", fmt), ("year", year), ("device", device)):
                figures = facets[facet].setdefault(key or "unknown", [0, 0])
                figures[0] += files
                figures[1] += size
            figures = cameras.setdefault((make, model), [0, 0])
            figures[0] += files
            figures[1] += size
            with_errors += files if damaged else 0
        errors = self._db.execute("SELECT stage, files, bytes FROM media_error_totals")
        return CatalogSummary(
            records=sum(count for count, _ in facets["kind"].values()),
            bytes=sum(size for _, size in facets["kind"].values()),
            by_kind=_ranked(facets["kind"]),
            by_format=_ranked(facets["format"]),
            by_year=_ranked(facets["year"]),
            by_camera=camera_buckets((make, model, n, b) for (make, model), (n, b) in cameras.items()),
            by_device=_ranked(facets["device"]),
            with_errors=with_errors,
            by_error=ranked(Bucket(str(stage), count, size) for stage, count, size in errors),
        )

    def duplicate_summary(self) -> DuplicateSummary:
        groups, files, size = self._db.execute(
            "SELECT groups, files, bytes FROM media_duplicate_totals"
        ).fetchone()
        return DuplicateSummary(groups, files, size)

    def close(self) -> None:
        self._db.close()


# Every device: the devices the totals know (a device with entries has totals), so that a query
# over every device searches the (device, path) and (device, dir) indexes once per device; no index
# leads with the path alone (version 10 dropped them: 250 bytes an entry).
_EVERY_DEVICE: Final = "device IN (SELECT DISTINCT device FROM media_totals)"


def _under(device: str | None, prefix: str, *, recursive: bool) -> tuple[str, Sequence[object]]:
    """The WHERE clause for entries at or below folder `prefix`: one range of the (device, path)
    index, read in path order.

    Paths are compared as text, where a name that is not UTF-8 shows its bytes as `\\xNN`: a folder
    literally named `\\xff` reads the same as one named with the byte 0xFF. `_exactly` tells them
    apart by the bytes (`path_raw`, in the covering indexes), so a sync of one never sees the
    other's entries as gone."""
    text, raw = path_to_text(prefix)
    exact, exact_params = _exactly(prefix, raw)
    if not recursive:
        folder = text.rstrip("/") or "/"
        if device is None:
            return f"({_EVERY_DEVICE} AND dir = ? AND {exact})", [folder, *exact_params]
        return f"(device = ? AND dir = ? AND {exact})", [device, folder, *exact_params]
    # One range of the path index, from the prefix itself to the end of what lies below it, in
    # path order (two ranges joined by OR came out unordered: a sort of every row of a listing).
    # It also holds names that only start like the prefix (`/a b` below `/a`): the second test
    # keeps `/a` itself and what lies below `/a/`.
    low, high = folder_bounds(text)
    mine = "path >= ? AND path < ? AND (path = ? OR path >= ?)"
    if device is None:
        return f"({_EVERY_DEVICE} AND {mine} AND {exact})", [text, high, text, low, *exact_params]
    return f"(device = ? AND {mine} AND {exact})", [device, text, high, text, low, *exact_params]


def _in_folders(device: str, prefix: str, *, recursive: bool) -> tuple[str, Sequence[object]]:
    """`_under`'s entries of one device on the folder index (device, dir, name, stamps): those of
    folder `prefix`, and if `recursive` those of every folder below it and the entry at `prefix`
    itself. An entry is below `/a` when its folder is `/a` or lies below `/a/` (a path is its
    folder, a slash and its name); one range of folders, as in `iter_folders`."""
    text, raw = path_to_text(prefix)
    exact, exact_params = _exactly(prefix, raw)
    folder = text.rstrip("/") or "/"
    if not recursive:
        return f"(device = ? AND dir = ? AND {exact})", [device, folder, *exact_params]
    low, high = folder_bounds(text)
    parent, name = posixpath.split(folder)
    below = "(device = ? AND dir >= ? AND dir < ? AND (dir = ? OR dir >= ?))"
    return f"((device = ? AND dir = ? AND name = ?) OR {below}) AND {exact}", [
        device, parent, name, device, folder, high, folder, low, *exact_params,
    ]  # fmt: skip


def _exactly(prefix: str, raw: str | None) -> tuple[str, list[object]]:
    """Of the entries the text matched, those whose bytes are `prefix`'s or lie below it. An entry
    with a UTF-8 path matches a UTF-8 prefix as text alone; one with `path_raw` (hex) must start
    with the prefix's bytes; under a prefix that is not UTF-8, every entry has `path_raw`."""
    folder = os.fsencode(prefix.rstrip("/") or "/")
    whole, below = folder.hex(), (folder.rstrip(b"/") + b"/").hex()
    match = "(path_raw = ? OR substr(path_raw, 1, ?) = ?)"
    if raw is None:
        return f"(path_raw IS NULL OR {match})", [whole, len(below), below]
    return f"(path_raw IS NOT NULL AND {match})", [whole, len(below), below]


_COPY_COLUMNS: Final = (
    "id, device, path, path_raw, size, mtime_ns, inode, checksum, kind, captured_at, companions"
)


def junk_where(query: JunkQuery) -> tuple[str | None, list[object]]:
    """The WHERE clause of `junk_candidates`; None when the query sets no condition."""
    conditions: list[str] = []
    params: list[object] = []
    if query.damaged:
        conditions.append("errors != '[]'")
    if query.side_below is not None:
        conditions.append("display_width < ? OR display_height < ?")
        params += [query.side_below, query.side_below]
    for column, operator, value in (
        ("contrast", "<", query.contrast_below),
        ("brightness", "<", query.brightness_below),
        ("brightness", ">=", query.brightness_at_least),
        ("edge_width", ">=", query.edge_width_at_least),
        ("duration_s", "<", query.duration_below),
    ):
        if value is not None:
            conditions.append(f"{column} {operator} ?")
            params.append(value)
    if not conditions:
        return None, []
    where = f"({' OR '.join(conditions)})"
    if query.prefix is not None:
        under, under_params = _under(query.device, query.prefix, recursive=True)
        return f"{under} AND {where}", [*under_params, *params]
    if query.device is not None:
        return f"device = ? AND {where}", [query.device, *params]
    return where, params


def _content_filter(query: ContentQuery) -> tuple[str, list[object]]:
    clauses: list[str] = ["size >= ?"]
    params: list[object] = [query.min_size]
    if query.kind is not None:
        clauses.append("kind = ?")
        params.append(query.kind)
    return " AND ".join(clauses), params


def _copy_from_row(row: tuple[Any, ...]) -> ContentCopy:
    doc_id, device, path, path_raw, size, mtime_ns, inode, checksum, kind, captured, companions = row
    return ContentCopy(
        doc_id, device, path if path_raw is None else path_from_text(path, path_raw), size, mtime_ns,
        _unsigned(inode), checksum, kind, None if captured is None else datetime.fromisoformat(captured),
        () if companions == "[]" else companions_from_json(json.loads(companions)),
    )  # fmt: skip


def _ranked(figures: dict[str, list[int]]) -> tuple[Bucket, ...]:
    return ranked(Bucket(key, count, size) for key, (count, size) in figures.items())


def _run_script(db: sqlite3.Connection, script: str) -> None:
    """Run each statement of a script in the open transaction (a trigger's body holds `;` too)."""
    statement = ""
    for piece in script.split(";"):
        statement += piece + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip(" \n;"):
                db.execute(statement)
            statement = ""


class _WriteTransaction:
    """BEGIN IMMEDIATE ... COMMIT: takes the write lock up front, so concurrent writers queue. A
    failed write is rolled back and reported as one StoreWriteError naming the catalog."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db = db
        self._path = path

    def __enter__(self) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as error:
            raise self._failed(error) from error

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if error is None:
            try:
                self._db.execute("COMMIT")
                return
            except sqlite3.DatabaseError as failure:
                error = failure
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.DatabaseError):  # SQLite may have rolled back by itself
                self._db.execute("ROLLBACK")
        if isinstance(error, sqlite3.DatabaseError):
            raise self._failed(error) from error

    def _failed(self, error: sqlite3.DatabaseError) -> StoreWriteError:
        why = _why_read_only(self._path) if _name(error).startswith("SQLITE_READONLY") else None
        if why is not None:
            return CatalogReadOnlyError(f"cannot write catalog {self._path}: {why}")
        return StoreWriteError(f"cannot write catalog {self._path}: {_cause(error)}")


_CAUSES: Final = {
    "SQLITE_FULL": "the disk is full",
    "SQLITE_READONLY": "it is read-only",
    "SQLITE_IOERR": "the disk failed to read or write it (I/O error)",
    "SQLITE_CORRUPT": "the file is damaged",
    "SQLITE_NOTADB": "the file is not an imgcat catalog (not SQLite)",
    "SQLITE_BUSY": "another process keeps it locked",
    "SQLITE_LOCKED": "another process keeps it locked",
    "SQLITE_CANTOPEN": "the file cannot be opened",
    "SQLITE_PERM": "permission denied",
}


def _name(error: sqlite3.DatabaseError) -> str:
    return str(getattr(error, "sqlite_errorname", "") or "")


def _cause(error: sqlite3.DatabaseError) -> str:
    """What went wrong, for people: 'the disk is full', not 'database or disk is full'."""
    name = _name(error)
    return next((cause for code, cause in _CAUSES.items() if name.startswith(code)), str(error))


def _why_read_only(path: Path) -> str | None:
    """Why the catalog at `path` can be read but not written, or None if it should be writable."""
    if not path.exists():
        return None
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "it is on a read-only file system"
    except OSError:
        return None
    if not os.access(path, os.W_OK):
        return "no write permission on the file"
    if not os.access(path.parent, os.W_OK):
        return f"no write permission on its folder {path.parent} (needed beside it while writing)"
    return None

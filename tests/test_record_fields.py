"""The record's fields are declared once: the JSON shape, SQLite's columns and Elasticsearch's mapping
are built from that declaration, and these tests fail when one of them drifts from it."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import MISSING, fields, replace
from pathlib import Path

from conftest import full_record, make_record
from imgcat.catalog import sqlite as sqlite_store
from imgcat.catalog.elastic import MEDIA_MAPPING, record_from_source, record_to_source
from imgcat.catalog.sqlite import COLUMN_TYPES, SqliteCatalog
from imgcat.record import (
    FIELDS,
    Companion,
    ExtractError,
    MediaRecord,
    record_from_json,
    record_to_json,
)


def test_the_full_test_record_sets_every_field() -> None:
    """So that every round trip below covers a field as soon as it is declared."""
    record = full_record()
    for declared in fields(MediaRecord):
        default = declared.default if declared.default_factory is MISSING else declared.default_factory()
        assert getattr(record, declared.name) not in (None, default), declared.name


def _odd_record() -> MediaRecord:
    return replace(
        full_record("/photos/\udcff\udcfe/IMG_1.JPG"),
        companions=(Companion("sidecar", "/photos/\udcff\udcfe/IMG_1.xmp"),),
        errors=(ExtractError("exif", "bad IFD in /photos/\udcff/x"),),
        inode=2**64 - 3,
    )


def _as_stored(record: MediaRecord) -> MediaRecord:
    """What comes back: a message's undecodable bytes are shown escaped (a path keeps them)."""
    return replace(
        record, errors=tuple(replace(e, message=e.message.replace("\udcff", "\\xff")) for e in record.errors)
    )


def test_json_round_trips_every_field_through_text() -> None:
    for record in (full_record(), make_record("/plain.jpg")):
        assert record_from_json(json.loads(json.dumps(record_to_json(record)))) == record


def test_json_keeps_non_utf8_paths_and_companions_and_cleans_messages() -> None:
    record = _odd_record()
    text = json.dumps(record_to_json(record), ensure_ascii=False)
    text.encode("utf-8")  # no surrogate reaches the JSON
    assert record_from_json(json.loads(text)) == _as_stored(record)
    assert _as_stored(record).errors == (ExtractError("exif", "bad IFD in /photos/\\xff/x"),)


def test_json_of_a_record_stored_before_a_field_existed_takes_the_default() -> None:
    data = record_to_json(make_record("/a.jpg"))
    for spec in FIELDS:
        if not spec.required and spec.name in data:
            del data[spec.name]
    assert record_from_json(data) == make_record("/a.jpg")


def _table_columns(db: Path) -> dict[str, str]:
    """Column name → storage class of the media table (constraints aside)."""
    connection = sqlite3.connect(db)
    rows = connection.execute("PRAGMA table_info(media)").fetchall()
    connection.close()
    return {row[1]: row[2] for row in rows}


def _bare_types(columns: dict[str, str]) -> dict[str, str]:
    return {name: declared.split()[0] for name, declared in columns.items()}


def test_a_fresh_catalog_has_exactly_the_declared_columns(tmp_path: Path) -> None:
    SqliteCatalog(tmp_path / "c.sqlite").close()
    assert _table_columns(tmp_path / "c.sqlite") == _bare_types(COLUMN_TYPES)


def test_a_catalog_migrated_from_the_first_layout_has_exactly_the_declared_columns(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    old = sqlite3.connect(db)
    old.executescript(sqlite_store._CREATE_V1)
    old.execute("PRAGMA user_version = 1")
    old.close()
    SqliteCatalog(db).close()
    assert _table_columns(db) == _bare_types(COLUMN_TYPES)


def test_sqlite_rows_round_trip_every_field_and_odd_values(tmp_path: Path) -> None:
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    for record in (full_record(), _odd_record()):
        catalog.upsert_many([record])
        assert catalog.get(record.device, record.path) == _as_stored(record)
    catalog.close()


def test_a_new_field_is_added_by_a_migration_of_optional_columns() -> None:
    assert sqlite_store.add_columns("gps", "make") == (
        "ALTER TABLE media ADD COLUMN gps_lat REAL;\n"
        "ALTER TABLE media ADD COLUMN gps_lon REAL;\n"
        "ALTER TABLE media ADD COLUMN gps_alt REAL;\n"
        "ALTER TABLE media ADD COLUMN make TEXT;\n"
    )


def test_elasticsearch_maps_exactly_the_fields_a_document_holds() -> None:
    record = _odd_record()
    source = record_to_source(record)
    properties = MEDIA_MAPPING["properties"]
    assert set(source) == set(properties)
    assert set(source["companions"][0]) == set(properties["companions"]["properties"])
    assert set(source["errors"][0]) == set(properties["errors"]["properties"])
    assert record_from_source(json.loads(json.dumps(source))) == _as_stored(record)

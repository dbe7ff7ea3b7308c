"""Names that are not UTF-8 stay distinct from their look-alikes: `n_\\xff.jpg` with the byte 0xFF
and a file literally named `n_\\xff.jpg` (backslash, x, f, f) never print, store or sync as one."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from clirun import imgcat
from conftest import make_record
from imgcat.catalog import sqlite as sqlite_store
from imgcat.catalog.base import Catalog, is_under
from imgcat.catalog.sqlite import SCHEMA_VERSION, SqliteCatalog
from imgcat.operations.add import add_folder
from imgcat.operations.sync import apply_sync, plan_sync, sync_plan_json
from imgcat.record import path_from_json, path_from_text, record_from_json, record_to_json
from media import MEDIA

BYTE = os.fsdecode(b"n_\xff.jpg")  # the byte 0xFF: not UTF-8
LITERAL = "n_\\xff.jpg"  # backslash, x, f, f: what the byte looks like as text


def _lookalikes(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True)
    byte, literal = folder / BYTE, folder / LITERAL
    shutil.copy(MEDIA / "nikon_coolpix_p6000" / "DSCN0010.jpg", byte)
    shutil.copy(MEDIA / "nikon_coolpix_p6000" / "DSCN0012.jpg", literal)
    return byte, literal


def test_lookalike_names_print_and_list_as_two_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    byte, literal = _lookalikes(tmp_path / "m")
    db = str(tmp_path / "c.sqlite")
    assert imgcat(capsys, "add", str(tmp_path / "m"), "--db", db, "--workers", "0", "-q").code == 0
    rows = imgcat(capsys, "ls", str(tmp_path / "m"), "--catalog", "--db", db).out.splitlines()
    assert sorted(row.rsplit("\t", 1)[1] for row in rows) == ["n_\\\\xff.jpg", "n_\\xff.jpg"]
    listed = json.loads(imgcat(capsys, "ls", str(tmp_path / "m"), "--catalog", "--json", "--db", db).out)
    assert sorted(("path_raw" in r, r["path"]) for r in listed) == [
        (False, str(literal)),
        (True, str(tmp_path / "m" / "n_\\xff.jpg")),  # the text, which reads like the other...
    ]
    for item in listed:  # ...but the JSON form round-trips to the exact file
        exact = path_from_text(item["path"], item.get("path_raw"))
        assert record_from_json(item).path == exact and os.path.isfile(exact)
    assert {path_from_text(r["path"], r.get("path_raw")) for r in listed} == {str(byte), str(literal)}
    assert len({r["checksum"] for r in listed}) == 2


def test_a_record_with_a_lookalike_name_round_trips_through_json(tmp_path: Path) -> None:
    for name in (BYTE, LITERAL):
        record = make_record(f"/photos/{name}")
        assert record_from_json(json.loads(json.dumps(record_to_json(record)))) == record


def test_sync_of_one_lookalike_folder_never_touches_the_other(store: Catalog, tmp_path: Path) -> None:
    byte_folder, literal_folder = tmp_path / os.fsdecode(b"d_\xff"), tmp_path / "d_\\xff"
    _lookalikes(byte_folder)
    _lookalikes(literal_folder)
    for folder in (byte_folder, literal_folder):
        add_folder(store, str(folder), device="d", recursive=True, workers=0)
    assert (store.count("d", str(byte_folder)), store.count("d", str(literal_folder))) == (2, 2)
    assert all(is_under(r.path, str(byte_folder)) for r in store.iter_under("d", str(byte_folder)))
    assert len(list(store.iter_stamps("d", str(literal_folder), recursive=False))) == 2
    (byte_folder / BYTE).unlink()
    plan = plan_sync(store, str(byte_folder), device="d", workers=0)
    assert (plan.entries, [s.path for s in plan.removals]) == (2, [str(byte_folder / BYTE)])
    [removed] = sync_plan_json(plan)["removed_paths"]
    assert removed == {
        "path": str(tmp_path / "d_\\xff" / "n_\\xff.jpg"),
        "path_raw": os.fsencode(byte_folder / BYTE).hex(),
    }
    assert path_from_json(removed) == str(byte_folder / BYTE)
    apply_sync(store, plan)
    assert (store.count("d", str(byte_folder)), store.count("d", str(literal_folder))) == (1, 2)


def test_lookalike_locations_are_two_roots(store: Catalog) -> None:
    store.add_location("d", os.fsdecode(b"/media/d_\xff"))
    store.add_location("d", "/media/d_\\xff")
    store.add_location("d", "/media/d_\\xff")  # the same one again
    assert sorted(store.iter_locations("d")) == sorted([os.fsdecode(b"/media/d_\xff"), "/media/d_\\xff"])


def test_a_catalog_of_schema_7_keeps_its_locations_and_tells_lookalikes_apart(tmp_path: Path) -> None:
    db = tmp_path / "v7.sqlite"
    old = sqlite3.connect(db)
    old.executescript(sqlite_store._CREATE_V1)
    for step in range(1, 7):
        sqlite_store._run_script(old, sqlite_store.MIGRATIONS[step])
    old.execute("PRAGMA user_version = 7")
    old.execute("INSERT INTO locations VALUES ('d', '/media/d_\\xff', 'x', '2026-01-01T00:00:00+00:00')")
    old.execute("UPDATE locations SET path_raw = ?", [b"/media/d_\xff".hex()])
    old.commit()
    old.close()
    catalog = SqliteCatalog(db)
    assert catalog.schema_version == SCHEMA_VERSION
    assert list(catalog.iter_locations("d")) == [os.fsdecode(b"/media/d_\xff")]
    catalog.add_location("d", "/media/d_\\xff")
    assert sorted(catalog.iter_locations("d")) == sorted([os.fsdecode(b"/media/d_\xff"), "/media/d_\\xff"])

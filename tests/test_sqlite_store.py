"""What only the SQLite store has to prove: concurrent writers and schema migration."""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from multiprocessing.process import BaseProcess
from pathlib import Path

import pytest

from conftest import figures_by_reading, full_record, make_record
from imgcat.catalog import sqlite as sqlite_store
from imgcat.catalog.base import DuplicateSummary
from imgcat.catalog.sqlite import SCHEMA_VERSION, SqliteCatalog
from imgcat.errors import SchemaTooNewError, StoreUnavailableError
from imgcat.operations.add import add_folder
from imgcat.operations.sync import apply_sync, plan_sync
from imgcat.record import ExtractError
from media import MEDIA

WRITES_PER_PROCESS = 3000


def _run_at_once(writers: Sequence[BaseProcess], start: multiprocessing.synchronize.Event) -> None:
    """Start the writer processes, let them go at the same moment, and check each ended well."""
    for writer in writers:
        writer.start()
    start.set()
    for writer in writers:
        writer.join(timeout=120)
        assert writer.exitcode == 0


def _write_many(db: str, writer: str, start: multiprocessing.synchronize.Event) -> None:
    catalog = SqliteCatalog(Path(db))
    start.wait()
    for i in range(0, WRITES_PER_PROCESS, 100):
        catalog.upsert_many(
            make_record(f"/{writer}/{j}.jpg", checksum=f"{writer}{j}") for j in range(i, i + 100)
        )
    catalog.close()


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    db = tmp_path / "catalog.sqlite"
    SqliteCatalog(db).close()
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    writers = [context.Process(target=_write_many, args=(str(db), name, start)) for name in ("w1", "w2")]
    _run_at_once(writers, start)
    catalog = SqliteCatalog(db)
    assert catalog.count(prefix="/w1") == WRITES_PER_PROCESS
    assert catalog.count(prefix="/w2") == WRITES_PER_PROCESS
    assert catalog._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_catalog_from_schema_version_1_is_migrated_on_open(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    old = sqlite3.connect(db)
    old.executescript(sqlite_store._CREATE_V1)
    old.execute("PRAGMA user_version = 1")
    record = make_record("/old/IMG_1.jpg", checksum="abc")
    columns = [row[1] for row in old.execute("PRAGMA table_info(media)")]  # version 1's
    row = dict(zip(sqlite_store.COLUMNS, sqlite_store.record_to_row(record), strict=True))
    old.execute(
        f"INSERT INTO media ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
        [row[c] for c in columns],
    )
    old.commit()
    old.close()

    catalog = SqliteCatalog(db)
    assert catalog.schema_version == SCHEMA_VERSION
    assert catalog.get("laptop", "/old/IMG_1.jpg") == record
    catalog.upsert_many([full_record("/new/IMG_2.jpg")])
    assert catalog.get("laptop", "/new/IMG_2.jpg") == full_record("/new/IMG_2.jpg")


def test_catalog_from_schema_version_4_gains_content_ids_on_open(tmp_path: Path) -> None:
    db = tmp_path / "v4.sqlite"
    old = sqlite3.connect(db)
    old.executescript(sqlite_store._CREATE_V1)
    for step in (1, 2, 3):
        old.executescript(sqlite_store.MIGRATIONS[step])
    old.execute("PRAGMA user_version = 4")
    record = make_record("/old/IMG_1.HEIC", checksum="abc", format="heic")
    columns = [row[1] for row in old.execute("PRAGMA table_info(media)")]  # version 4's
    row = dict(zip(sqlite_store.COLUMNS, sqlite_store.record_to_row(record), strict=True))
    old.execute(
        f"INSERT INTO media ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
        [row[c] for c in columns],
    )
    old.commit()
    old.close()

    catalog = SqliteCatalog(db)
    assert (catalog.schema_version, catalog.get("laptop", record.path)) == (SCHEMA_VERSION, record)
    video = make_record("/old/clip.mov", kind="video", format="mov", content_id="A1")
    catalog.upsert_many([replace(record, content_id="A1"), video])
    statements: list[str] = []
    catalog._db.set_trace_callback(statements.append)
    found = list(catalog.with_content_ids("laptop", "/old", ["A1"]))
    catalog._db.set_trace_callback(None)
    assert [r.path for r in found] == ["/old/IMG_1.HEIC", "/old/clip.mov"]
    (query,) = [s for s in statements if "content_id IN" in s]
    plan = " | ".join(row[3] for row in catalog._db.execute(f"EXPLAIN QUERY PLAN {query}"))
    assert "media_content_id" in plan, plan


def test_catalog_from_schema_version_5_gains_edge_widths_on_open(tmp_path: Path) -> None:
    db = tmp_path / "v5.sqlite"
    old = sqlite3.connect(db)
    old.executescript(sqlite_store._CREATE_V1)
    for step in (1, 2, 3, 4):
        old.executescript(sqlite_store.MIGRATIONS[step])
    old.execute("PRAGMA user_version = 5")
    record = make_record("/old/IMG_1.jpg", checksum="abc", sharpness=12.5)
    columns = [row[1] for row in old.execute("PRAGMA table_info(media)")]  # version 5's
    assert "edge_width" not in columns
    row = dict(zip(sqlite_store.COLUMNS, sqlite_store.record_to_row(record), strict=True))
    old.execute(
        f"INSERT INTO media ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
        [row[c] for c in columns],
    )
    old.commit()
    old.close()

    catalog = SqliteCatalog(db)
    assert (catalog.schema_version, catalog.get("laptop", record.path)) == (SCHEMA_VERSION, record)
    catalog.upsert_many([replace(record, edge_width=1.25)])
    stored = catalog.get("laptop", record.path)
    assert stored is not None and stored.edge_width == 1.25


def _mixed_writes(db: str, writer: str, start: multiprocessing.synchronize.Event) -> None:
    """Writes, rewrites and deletes that share contents and folders with the other writer."""
    catalog = SqliteCatalog(Path(db))
    start.wait()
    for i in range(0, 600, 50):
        batch = [
            make_record(f"/shared/{j}.jpg", checksum=f"c{j % 97}", size=j % 97, device=writer, errors=())
            for j in range(i, i + 50)
        ]
        catalog.upsert_many(batch)
        catalog.upsert_many(
            replace(r, checksum=f"d{r.size}", size=r.size + 1000, kind="video") for r in batch[::3]
        )
        catalog.delete_many(r.id for r in batch[::5])
    catalog.close()


def test_stats_totals_stay_right_under_two_writers_at_once(tmp_path: Path) -> None:
    db = tmp_path / "catalog.sqlite"
    SqliteCatalog(db).close()
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    writers = [context.Process(target=_mixed_writes, args=(str(db), name, start)) for name in ("w1", "w2")]
    _run_at_once(writers, start)
    catalog = SqliteCatalog(db)
    summary, duplicates = figures_by_reading(catalog)
    assert summary.records == 2 * 480 and duplicates.groups > 97
    assert (catalog.summary(), catalog.duplicate_summary()) == (summary, duplicates)


def _add_at_once(db: str, root: str, start: multiprocessing.synchronize.Event) -> None:
    catalog = SqliteCatalog(Path(db))
    start.wait()
    add_folder(catalog, root, device="d", recursive=True, workers=0)
    catalog.close()


def _sync_at_once(db: str, roots: list[str], start: multiprocessing.synchronize.Event) -> None:
    catalog = SqliteCatalog(Path(db))
    start.wait()
    for root in roots:
        apply_sync(catalog, plan_sync(catalog, root, device="d", workers=0))
    catalog.close()


def test_stats_totals_stay_right_under_add_and_sync_at_once(tmp_path: Path) -> None:
    """`add` of one tree and `sync` of another, at once, in two processes, folder by folder: the
    added files hold the very contents sync drops, moves and re-reads (duplicate groups form and
    break across both writers), and the totals `stats` reads still equal the entries."""
    picture = (MEDIA / "misc_png" / "sampleWithExifData.png").read_bytes()

    def write(path: Path, variant: int) -> None:  # bytes after the PNG's end: another content
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(picture + bytes(variant))

    synced, added = tmp_path / "synced", tmp_path / "added"
    for folder in range(8):
        for i in range(6):
            write(synced / f"f{folder}" / f"IMG_{i}.png", folder * 3 + i % 3)
            write(added / f"g{folder}" / f"IMG_{i}.png", (7 - folder) * 3 + i)
    db = tmp_path / "catalog.sqlite"
    catalog = SqliteCatalog(db)
    add_folder(catalog, str(synced), device="d", recursive=True, workers=0)
    catalog.close()
    for folder in range(8):  # two deleted, one renamed, one changed, per folder
        here = synced / f"f{folder}"
        (here / "IMG_0.png").unlink()
        (here / "IMG_1.png").unlink()
        (here / "IMG_2.png").rename(here / "renamed.png")
        write(here / "IMG_3.png", 99 + folder)

    context = multiprocessing.get_context("spawn")
    start = context.Event()
    roots = [str(synced / f"f{folder}") for folder in range(8)]
    writers = [
        context.Process(target=_add_at_once, args=(str(db), str(added), start)),
        context.Process(target=_sync_at_once, args=(str(db), roots, start)),
    ]
    _run_at_once(writers, start)
    catalog = SqliteCatalog(db)
    summary, duplicates = figures_by_reading(catalog)
    # A race both ways are right about: when `add` reaches a copy of a renamed file's content before
    # `sync` reaches the rename, `add` takes it for that entry's move (its path is gone) and the
    # rename finds no entry left to move (the renamed file waits for the next sync or add). On a
    # loaded machine either writer may run all its folders before the other starts.
    renamed = [synced / f"f{folder}" / "renamed.png" for folder in range(8)]
    taken = [path for path in renamed if catalog.get("d", str(path)) is None]
    assert summary.records == 8 * 4 + 8 * 6 - len(taken) and duplicates.groups > 8
    assert (catalog.summary(), catalog.duplicate_summary()) == (summary, duplicates)


def test_catalog_from_schema_version_8_gets_its_stats_totals_on_open(tmp_path: Path) -> None:
    db = tmp_path / "v8.sqlite"
    old = sqlite3.connect(db)
    old.executescript(sqlite_store._CREATE_V1)
    for step in (1, 2, 3, 4, 5, 6, 7):
        old.executescript(sqlite_store.MIGRATIONS[step])
    old.execute("PRAGMA user_version = 8")
    records = [
        full_record("/old/IMG_1.jpg"),
        make_record("/old/IMG_2.jpg", checksum="same", errors=(ExtractError("exif", "cut"),) * 2),
        make_record("/nas/IMG_2.jpg", checksum="same", device="nas", make="Canon"),
        make_record("/usb/IMG_2.jpg", checksum="same", device="usb", kind="video", format="mov"),
    ]
    columns = [row[1] for row in old.execute("PRAGMA table_info(media)")]  # version 8's
    for record in records:
        row = dict(zip(sqlite_store.COLUMNS, sqlite_store.record_to_row(record), strict=True))
        old.execute(
            f"INSERT INTO media ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
            [row.get(c) for c in columns],  # version 8 had no likeness grid but a thumbnail
        )
    old.commit()
    old.close()

    catalog = SqliteCatalog(db)
    assert catalog.schema_version == SCHEMA_VERSION
    summary, duplicates = figures_by_reading(catalog)
    assert summary.records == 4 and duplicates == DuplicateSummary(1, 2, 2000)
    assert (catalog.summary(), catalog.duplicate_summary()) == (summary, duplicates)
    catalog.upsert_many([replace(records[1], errors=())])
    catalog.delete_many([records[2].id])
    assert (catalog.summary(), catalog.duplicate_summary()) == figures_by_reading(catalog)


def test_catalog_from_a_newer_imgcat_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "future.sqlite"
    future = sqlite3.connect(db)
    future.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    future.close()
    with pytest.raises(SchemaTooNewError, match="newer than this imgcat"):
        SqliteCatalog(db)
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1


def test_a_file_that_is_not_a_catalog_gives_one_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "photo.jpg"
    db.write_bytes(b"\xff\xd8\xff\xe0 not a database" * 100)
    with pytest.raises(StoreUnavailableError, match=r"cannot open catalog .*photo\.jpg"):
        SqliteCatalog(db)


def test_a_folder_given_as_the_catalog_is_named_as_a_folder(tmp_path: Path) -> None:
    """`--db ~/Pictures` said "cannot open catalog ~/Pictures: the file cannot be opened"."""
    with pytest.raises(StoreUnavailableError, match=r"^cannot open catalog .*: it is a folder; a catalog"):
        SqliteCatalog(tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing made inside it


def test_catalog_uses_write_ahead_logging(tmp_path: Path) -> None:
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    assert catalog._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("recursive", [True, False])
def test_stamps_are_read_from_a_covering_index(tmp_path: Path, recursive: bool) -> None:
    """An unchanged re-scan or sync reads stamps only: never a table row per file."""
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    catalog.upsert_many([make_record(f"/a/{i}.jpg", checksum=f"c{i}") for i in range(50)])
    statements: list[str] = []
    catalog._db.set_trace_callback(statements.append)
    assert len(list(catalog.iter_stamps("laptop", "/a", recursive=recursive))) == 50
    catalog._db.set_trace_callback(None)
    [query] = [s for s in statements if s.startswith("SELECT")]
    plan = " | ".join(row[3] for row in catalog._db.execute(f"EXPLAIN QUERY PLAN {query}"))
    assert "COVERING INDEX" in plan and "SCAN media" not in plan, plan


def test_catalog_from_schema_version_6_gains_the_similar_fingerprint_and_decisions(tmp_path: Path) -> None:
    db = tmp_path / "v6.sqlite"
    old = sqlite3.connect(db)
    old.executescript(sqlite_store._CREATE_V1)
    for step in (1, 2, 3, 4, 5):
        old.executescript(sqlite_store.MIGRATIONS[step])
    old.execute("PRAGMA user_version = 6")
    record = make_record("/old/IMG_1.jpg", checksum="abc", phash=0x1234)
    columns = [row[1] for row in old.execute("PRAGMA table_info(media)")]  # version 6's
    assert "thumb" not in columns
    row = dict(zip(sqlite_store.COLUMNS, sqlite_store.record_to_row(record), strict=True))
    old.execute(
        f"INSERT INTO media ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
        [row[c] for c in columns],
    )
    old.commit()
    old.close()

    catalog = SqliteCatalog(db)
    assert (catalog.schema_version, catalog.get("laptop", record.path)) == (SCHEMA_VERSION, record)
    catalog.upsert_many([full_record("/new/IMG_2.jpg")])
    again = catalog.get("laptop", "/new/IMG_2.jpg")
    assert again is not None and again.likeness == full_record().likeness and again.phash_bottom is not None
    assert catalog.add_not_same([("abc", "def")]) == 1 and list(catalog.iter_not_same()) == [("abc", "def")]


def test_queries_over_every_device_search_the_device_indexes(tmp_path: Path) -> None:
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    catalog.upsert_many(
        [make_record("/a/1.jpg"), make_record("/a/b/2.jpg", device="nas"), make_record("/ab.jpg")]
    )
    for recursive in (True, False):
        where, params = sqlite_store._under(None, "/a", recursive=recursive)
        query = f"EXPLAIN QUERY PLAN {sqlite_store._SELECT} WHERE {where}"
        plan = [row[3] for row in catalog._db.execute(query, params)]
        assert "SCAN media" not in plan and any("INDEX media_device" in step for step in plan), plan
    assert [r.path for r in catalog.iter_under(None, "/a")] == ["/a/1.jpg", "/a/b/2.jpg"]
    assert [r.path for r in catalog.iter_under(None, "/a", recursive=False)] == ["/a/1.jpg"]
    indexes = {row[0] for row in catalog._db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert not indexes & {"media_path", "media_dir_path"}  # what version 10 dropped


def test_a_move_in_place_keeps_the_stats_totals_right(tmp_path: Path) -> None:
    catalog = SqliteCatalog(tmp_path / "catalog.sqlite")
    one = full_record("/a/1.jpg")
    two = make_record("/a/2.jpg", checksum=one.checksum, size=one.size)  # a duplicate of it
    stale = make_record("/b/1.jpg", checksum="stale")  # an old entry where the first one goes
    catalog.upsert_many([one, two, stale, make_record("/a/3.jpg", checksum="three")])
    grown = replace(make_record("/a/3.jpg", checksum="three"), size=999)  # not as stored: written again
    assert catalog.move_many([(one, "/b/1.jpg"), (two, "/c/2.jpg"), (grown, "/c/3.jpg")]) == 3
    assert sorted(r.path for r in catalog.iter_under(None, "/")) == ["/b/1.jpg", "/c/2.jpg", "/c/3.jpg"]
    assert catalog.get("laptop", "/b/1.jpg") == replace(one, path="/b/1.jpg")
    assert catalog.get("laptop", "/c/3.jpg") == replace(grown, path="/c/3.jpg")
    assert (catalog.summary(), catalog.duplicate_summary()) == figures_by_reading(catalog)


def test_the_columns_a_move_leaves_alone_are_the_ones_the_totals_watch(tmp_path: Path) -> None:
    catalog = SqliteCatalog(tmp_path / "catalog.sqlite")
    [trigger] = catalog._db.execute("SELECT sql FROM sqlite_master WHERE name = 'media_totals_changed'")
    watched = trigger[0].split("AFTER UPDATE OF", 1)[1].split(" ON media", 1)[0]
    assert tuple(c.strip() for c in watched.split(",")) == sqlite_store._COUNTED


def test_catalog_from_schema_version_10_trades_the_thumbnail_for_the_likeness_grid(tmp_path: Path) -> None:
    """Version 11 drops the 64x64 JPEG thumbnail (1.6 kB an entry) for the likeness grid: entries
    keep everything else and read their grid on the next `add` (their extractor version is older)."""
    db = tmp_path / "v10.sqlite"
    old = sqlite3.connect(db)
    old.executescript(sqlite_store._CREATE_V1)
    for step in range(1, 10):
        sqlite_store._run_script(old, sqlite_store.MIGRATIONS[step])
    old.execute("PRAGMA user_version = 10")
    record = make_record("/old/IMG_1.jpg", checksum="abc", phash=0x1234, phash_centre=0x99)
    columns = [row[1] for row in old.execute("PRAGMA table_info(media)")]  # version 10's
    assert "thumb" in columns and "likeness" not in columns
    row = dict(zip(sqlite_store.COLUMNS, sqlite_store.record_to_row(record), strict=True)) | {
        "thumb": b"\xff\xd8" + bytes(1600)
    }
    old.execute(
        f"INSERT INTO media ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
        [row.get(c) for c in columns],
    )
    old.commit()
    old.close()

    catalog = SqliteCatalog(db)
    assert (catalog.schema_version, catalog.get("laptop", record.path)) == (SCHEMA_VERSION, record)
    columns = [row[1] for row in catalog._db.execute("PRAGMA table_info(media)")]
    assert "thumb" not in columns and sorted(columns) == sorted(sqlite_store.COLUMNS)
    catalog.upsert_many([full_record("/new/IMG_2.jpg")])
    again = catalog.get("laptop", "/new/IMG_2.jpg")
    assert again is not None and again.likeness == full_record().likeness
    catalog.close()


def test_a_bursts_shots_are_read_through_the_capture_time_index(tmp_path: Path) -> None:
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    statements: list[str] = []
    catalog._db.set_trace_callback(statements.append)
    list(catalog.captured_between("d", "/p", datetime(2020, 1, 1), datetime(2020, 1, 1, 0, 0, 20)))
    catalog._db.set_trace_callback(None)
    (query,) = [s for s in statements if "captured_at BETWEEN" in s]
    plan = " | ".join(row[3] for row in catalog._db.execute(f"EXPLAIN QUERY PLAN {query}"))
    assert "media_captured_at" in plan, plan


def test_folders_are_found_on_the_folder_index_alone(tmp_path: Path) -> None:
    """`sync` asks for the folders holding entries under its root: one search of the (device, dir)
    covering index per folder, never a table row per entry (at a million entries, the whole table)."""
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    paths = ("/r.jpg", "/a/1.jpg", "/a/2.jpg", "/a/b/3.jpg", "/a/bc/4.jpg", "/ab/5.jpg", "/a0/6.jpg")
    catalog.upsert_many([make_record(p, checksum=p) for p in paths])
    statements: list[str] = []
    catalog._db.set_trace_callback(statements.append)
    assert list(catalog.iter_folders("laptop", "/a")) == ["/a", "/a/b", "/a/bc"]
    catalog._db.set_trace_callback(None)
    assert list(catalog.iter_folders("laptop", "/")) == ["/", "/a", "/a/b", "/a/bc", "/a0", "/ab"]
    assert list(catalog.iter_folders("laptop", "/a/b")) == ["/a/b"]
    for query in {s for s in statements if s.startswith("SELECT")}:
        plan = [row[3] for row in catalog._db.execute(f"EXPLAIN QUERY PLAN {query}")]
        searches = [step for step in plan if step.startswith("SEARCH")]
        assert searches and not [step for step in plan if step.startswith("SCAN")], plan
        for step in searches:  # by the folder or the path, never the whole device; no row read
            assert "COVERING INDEX" in step and "(device=?)" not in step, plan


def test_a_new_catalog_has_big_pages_and_an_older_one_keeps_its_own(tmp_path: Path) -> None:
    """An entry is 1-2.5 kB: a new catalog's 16 kB pages hold many, where a 4 kB page holds one to
    three and leaves the rest of it empty. A catalog made before is not rewritten."""
    fresh = SqliteCatalog(tmp_path / "new.sqlite")
    assert fresh._db.execute("PRAGMA page_size").fetchone()[0] == sqlite_store.PAGE_SIZE == 16384
    db = tmp_path / "old.sqlite"
    old = sqlite3.connect(db)
    old.execute("PRAGMA page_size = 4096")
    old.executescript(sqlite_store._CREATE_V1)
    old.execute("PRAGMA user_version = 1")
    old.close()
    catalog = SqliteCatalog(db)
    catalog.upsert_many([full_record("/old/IMG_1.jpg")])
    assert catalog._db.execute("PRAGMA page_size").fetchone()[0] == 4096
    assert catalog.get("laptop", "/old/IMG_1.jpg") == full_record("/old/IMG_1.jpg")


def test_plain_stamps_are_exact_and_read_from_the_folder_index_alone(tmp_path: Path) -> None:
    """SQLite answers `plain_stamps` whenever it can (else a re-scan pays a Python object per
    entry), from the covering (device, dir, ...) index: the table's rows are never read."""
    from test_catalog_contract import PLAIN_ANSWERS, PLAIN_CASES

    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    catalog.upsert_many(PLAIN_CASES)
    for asked, exact in PLAIN_ANSWERS:
        if asked[1] != "/raw":  # a name kept by its bytes may be looked at entry by entry
            assert catalog.plain_stamps(*asked) == exact, asked
    plan = catalog._db.execute(
        f"EXPLAIN QUERY PLAN {sqlite_store._PLAIN_STAMPS}", [3, "laptop", "/a", "/a/"]
    ).fetchall()
    assert any("COVERING INDEX" in row[-1] for row in plan), plan  # else a re-scan reads every row


def test_catalog_from_schema_version_11_keeps_each_path_once_per_index(tmp_path: Path) -> None:
    """Version 12 indexes folders by (folder, name) with the stamps, and paths by themselves: the
    stamps of a folder, of a tree and of a file read from the folder index alone, listings in path
    order, the same entries as before (a name that is not UTF-8 and a folder named like a prefix)."""
    db = tmp_path / "v11.sqlite"
    old = sqlite3.connect(db, isolation_level=None)
    old.executescript(sqlite_store._CREATE_V1)
    for step in range(1, 11):
        sqlite_store._run_script(old, sqlite_store.MIGRATIONS[step])
    old.execute("PRAGMA user_version = 11")
    odd = "/a/b/caf\udce9.jpg"  # the byte 0xE9 alone: not UTF-8
    paths = ("/top.jpg", "/a/1.jpg", "/a/b/2.jpg", odd, "/a/b c/3.jpg", "/a/bc/4.jpg", "/ab/5.jpg")
    records = [replace(full_record(p), checksum=f"c{i}") for i, p in enumerate(paths)]
    many = [make_record(f"/many/{'long folder name ' * 4}/{i}.jpg", checksum=f"m{i}") for i in range(2000)]
    marks = ", ".join("?" for _ in sqlite_store.COLUMNS)
    old.executemany(
        f"INSERT INTO media ({', '.join(sqlite_store.COLUMNS)}) VALUES ({marks})",
        [sqlite_store.record_to_row(r) for r in [*records, *many]],
    )
    old.close()

    catalog = SqliteCatalog(db)
    assert catalog.schema_version == SCHEMA_VERSION
    # the pages of the dropped indexes went back to the disk (VACUUM), not kept free in the file
    assert catalog._db.execute("PRAGMA freelist_count").fetchone()[0] == 0
    indexes = {row[0] for row in catalog._db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"media_device_path", "media_device_dir_name_stamp"} <= indexes
    assert not indexes & {"media_device_path_stamp", "media_device_dir_stamp"}
    stamps = {s.path: s for s in catalog.iter_stamps("laptop", "/a")}
    assert sorted(stamps) == sorted(p for p in paths if p.startswith("/a/"))
    stamp = records[2]
    expected = (stamp.path, stamp.size, stamp.mtime_ns, stamp.extractor_version)
    assert stamps["/a/b/2.jpg"][:4] == expected and stamps[odd].size == records[3].size
    assert sorted(s.path for s in catalog.iter_stamps("laptop", "/a/b", recursive=False)) == sorted(
        ["/a/b/2.jpg", odd]
    )
    assert [s.path for s in catalog.iter_stamps("laptop", "/a/b/2.jpg")] == ["/a/b/2.jpg"]
    assert sorted(s.path for s in catalog.iter_stamps("laptop", "/")) == sorted(
        [*paths, *(r.path for r in many)]
    )
    listed = [r.path for r in catalog.iter_under("laptop", "/a")]
    assert listed == ["/a/1.jpg", "/a/b c/3.jpg", "/a/b/2.jpg", odd, "/a/bc/4.jpg"]
    assert [r.path for r in catalog.iter_under("laptop", "/a/b", recursive=False)] == ["/a/b/2.jpg", odd]
    assert catalog.get("laptop", odd) == records[3] and catalog.count("laptop", "/a") == 5
    catalog.close()


def test_a_listing_is_read_in_path_order_from_the_path_index(tmp_path: Path) -> None:
    """`ls --catalog -r` of a million entries: one range of the (device, path) index in path order,
    never a sort of every row (SQLite's temporary B-tree)."""
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    paths = ("/a", "/a/1.jpg", "/a b/2.jpg", "/a/b/3.jpg", "/a/b c/4.jpg", "/a0/5.jpg", "/a.jpg")
    catalog.upsert_many([make_record(p, checksum=p) for p in paths])
    statements: list[str] = []
    catalog._db.set_trace_callback(statements.append)
    listed = [json["path"] for json in catalog.iter_json_under("laptop", "/a")]
    catalog._db.set_trace_callback(None)
    assert listed == ["/a", "/a/1.jpg", "/a/b c/4.jpg", "/a/b/3.jpg"]
    (query,) = [s for s in statements if s.startswith("SELECT")]
    plan = [row[3] for row in catalog._db.execute(f"EXPLAIN QUERY PLAN {query}")]
    assert plan == ["SEARCH media USING INDEX media_device_path (device=? AND path>? AND path<?)"], plan

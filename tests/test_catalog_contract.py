"""One contract, every store: each test runs on SQLite and, with IMGCAT_TEST_ES_URL, on Elasticsearch."""

from __future__ import annotations

import json
import threading
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Final

import pytest
from elasticsearch import Elasticsearch

from conftest import ES_URL, SEEN, figures_by_reading, full_record, make_record
from imgcat.catalog.base import HASH_FIELDS, Bucket, Catalog, ContentQuery, DuplicateSummary, Stamp
from imgcat.catalog.elastic import ElasticCatalog
from imgcat.errors import IncompatibleIndexError, StoreWriteError
from imgcat.record import LABEL_MAX, Companion, ExtractError, GeoPoint, record_to_json


def paths(records: object) -> list[str]:
    return [r.path for r in records]  # type: ignore[attr-defined]


def test_upsert_then_get_returns_every_field(store: Catalog) -> None:
    record = full_record()
    assert store.upsert_many([record]) == 1
    assert store.get("laptop", record.path) == record


def test_get_many_finds_by_path_on_one_device_and_leaves_out_the_unknown(store: Catalog) -> None:
    odd = make_record("/a/\udcff.jpg")
    store.upsert_many([full_record("/a/x.jpg"), odd, make_record("/a/y.jpg", device="nas")])
    found = store.get_many("laptop", ["/a/x.jpg", odd.path, "/a/y.jpg", "/a/none.jpg"])
    assert found == {"/a/x.jpg": full_record("/a/x.jpg"), odd.path: odd}
    assert store.get_many("laptop", []) == {}
    many = [make_record(f"/b/{i}.jpg") for i in range(1200)]
    store.upsert_many(many)
    assert len(store.get_many("laptop", [r.path for r in many])) == 1200


def test_get_of_unknown_path_or_other_device_is_none(store: Catalog) -> None:
    store.upsert_many([make_record("/a/x.jpg")])
    assert store.get("laptop", "/a/y.jpg") is None
    assert store.get("nas", "/a/x.jpg") is None


def test_upsert_replaces_the_entry_with_the_same_device_and_path(store: Catalog) -> None:
    store.upsert_many([make_record("/a/x.jpg", size=1)])
    store.upsert_many([make_record("/a/x.jpg", size=2)])
    assert store.count() == 1
    got = store.get("laptop", "/a/x.jpg")
    assert got is not None and got.size == 2


def test_same_path_on_two_devices_is_two_entries(store: Catalog) -> None:
    store.upsert_many([make_record("/a/x.jpg"), make_record("/a/x.jpg", device="usb-disk")])
    assert store.count() == 2
    assert store.count(device="usb-disk") == 1


def test_folder_prefix_is_not_a_string_prefix(store: Catalog) -> None:
    store.upsert_many(
        make_record(p) for p in ["/a/b/1.jpg", "/a/b/c/2.jpg", "/a/bc/3.jpg", "/a/b.jpg", "/a/b0/4.jpg"]
    )
    assert paths(store.iter_under("laptop", "/a/b")) == ["/a/b/1.jpg", "/a/b/c/2.jpg"]
    assert paths(store.iter_under("laptop", "/a/b/")) == ["/a/b/1.jpg", "/a/b/c/2.jpg"]
    assert store.count(prefix="/a/b") == 2


def test_entries_with_content_ids_are_found_in_their_folder_only(store: Catalog) -> None:
    store.upsert_many(
        [
            make_record("/a/IMG_1.HEIC", content_id="A1"),
            make_record("/a/clip.mov", kind="video", format="mov", content_id="A1"),
            make_record("/a/IMG_2.HEIC", content_id="B2"),
            make_record("/a/IMG_3.HEIC"),
            make_record("/a/b/IMG_1.HEIC", content_id="A1"),  # a copy in a subfolder
            make_record("/a/IMG_1.HEIC", device="phone", content_id="A1"),
        ]
    )
    assert paths(store.with_content_ids("laptop", "/a", ["A1", "C3"])) == ["/a/IMG_1.HEIC", "/a/clip.mov"]
    assert paths(store.with_content_ids("laptop", "/a/", {"B2"})) == ["/a/IMG_2.HEIC"]
    assert paths(store.with_content_ids("laptop", "/a", [])) == []


def test_non_recursive_listing_holds_only_the_folders_own_files(store: Catalog) -> None:
    store.upsert_many(make_record(p) for p in ["/a/b/1.jpg", "/a/b/c/2.jpg", "/a/b/0.jpg"])
    assert paths(store.iter_under("laptop", "/a/b", recursive=False)) == ["/a/b/0.jpg", "/a/b/1.jpg"]


def test_prefix_of_the_root_lists_everything_of_the_device(store: Catalog) -> None:
    store.upsert_many([make_record("/x/1.jpg"), make_record("/y/2.jpg"), make_record("/z.jpg", device="nas")])
    assert paths(store.iter_under("laptop", "/")) == ["/x/1.jpg", "/y/2.jpg"]
    assert paths(store.iter_under(None, "/")) == ["/x/1.jpg", "/y/2.jpg", "/z.jpg"]


def test_odd_paths_round_trip_exactly(store: Catalog) -> None:
    nfc = unicodedata.normalize("NFC", "/fotos/Café/été.jpg")
    nfd = unicodedata.normalize("NFD", "/fotos/Café/été.jpg")
    long_name = "/deep/" + "/".join(["d" * 200] * 20) + "/" + "n" * 250 + ".jpg"
    odd = [
        "/photos/Summer 2019 (copy)/IMG 0001 (1).jpg",
        nfc,
        nfd,
        "/фото/家族/🎉.heic",
        long_name,
        "/raw/bytes/\udcff\udcfe.jpg",  # a name that is not UTF-8 on disk
        '/quotes/it\'s "here" 100%_done.jpg',
    ]
    records = [make_record(p, checksum=f"c{i}") for i, p in enumerate(odd)]
    store.upsert_many(records)
    assert store.count() == len(odd)  # NFC and NFD spellings are two files, as on Linux
    for record in records:
        assert store.get("laptop", record.path) == record
    assert paths(store.iter_under("laptop", nfc.rsplit("/", 1)[0])) == [nfc]
    assert paths(store.iter_under("laptop", nfd.rsplit("/", 1)[0])) == [nfd]
    assert paths(store.iter_under("laptop", "/raw/bytes")) == ["/raw/bytes/\udcff\udcfe.jpg"]
    assert paths(store.iter_under("laptop", "/deep")) == [long_name]


def test_stamps_and_states_give_what_decides_a_change(store: Catalog) -> None:
    record = make_record("/a/x.jpg", size=7, mtime_ns=99, inode=5, checksum="ff")
    odd = make_record("/a/\udcff.jpg", size=8)
    linked = make_record(
        "/a/z.cr2",
        companions=(Companion("jpeg", "/a/z.jpg"), Companion("sidecar", "/a/z.xmp")),
    )
    store.upsert_many([record, odd, linked, make_record("/b/y.jpg")])
    assert sorted(store.iter_stamps("laptop", "/a")) == [
        Stamp("/a/x.jpg", 7, 99, 1),
        Stamp("/a/z.cr2", linked.size, linked.mtime_ns, 1, ("/a/z.xmp",)),
        Stamp("/a/\udcff.jpg", 8, odd.mtime_ns, 1),
    ]
    [state] = store.states_of("laptop", ["/a/x.jpg", "/a/unknown.jpg"])
    assert (state.id, state.path, state.size, state.mtime_ns, state.inode, state.checksum) == (
        record.id, "/a/x.jpg", 7, 99, 5, "ff",
    )  # fmt: skip
    assert [s.path for s in store.states_of("laptop", [odd.path])] == [odd.path]
    assert list(store.states_of("nas", ["/a/x.jpg"])) == []


PLAIN_CASES: Final = [
    make_record("/a/x.jpg", size=7, mtime_ns=99, extractor_version=3),
    make_record("/a/y.jpg", size=8, mtime_ns=98, extractor_version=4),
    make_record("/a/sub/z.jpg", extractor_version=1),  # below: not the folder's own
    make_record("/a/x.jpg", device="nas", extractor_version=1),  # another device's
    make_record("/old/x.jpg", extractor_version=2),
    make_record("/side/x.jpg", extractor_version=3, companions=(Companion("sidecar", "/side/x.xmp"),)),
    make_record("/raw/\udcff.jpg", extractor_version=3),
    make_record("/top.jpg", extractor_version=3),  # in the root folder
]
PLAIN_ANSWERS: Final = [  # (device, folder, min_version): the exact answer (None: entry by entry)
    (("laptop", "/a", 3), {("/a/x.jpg", 7, 99), ("/a/y.jpg", 8, 98)}),
    (("laptop", "/a/", 3), {("/a/x.jpg", 7, 99), ("/a/y.jpg", 8, 98)}),
    (("laptop", "/a", 4), None),  # x.jpg was read by an older extractor
    (("laptop", "/old", 3), None),
    (("laptop", "/side", 3), None),  # a sidecar
    (("laptop", "/none", 3), set()),
    (("nas", "/a", 1), {("/a/x.jpg", 1000, 1_600_000_000_000_000_000)}),
    (("laptop", "/raw", 3), {("/raw/\udcff.jpg", 1000, 1_600_000_000_000_000_000)}),
    (("laptop", "/", 3), {("/top.jpg", 1000, 1_600_000_000_000_000_000)}),
]


def test_plain_stamps_give_a_folder_in_one_step_or_say_to_look_entry_by_entry(store: Catalog) -> None:
    """What a re-scan of an unchanged folder compares with the disk at once: (path, size, mtime) of
    the folder's own entries when each was read by a recent enough extractor and has no sidecar.
    A store may always answer None ("look entry by entry"), never a wrong set."""
    store.upsert_many(PLAIN_CASES)
    for asked, exact in PLAIN_ANSWERS:
        answer = store.plain_stamps(*asked)
        assert answer is None or answer == exact, (asked, answer)


def test_an_inode_of_2_63_or_more_is_kept_exactly(store: Catalog) -> None:
    """Some file systems (network, FUSE) hand out inodes that do not fit a signed 64-bit integer."""
    high = make_record("/a/high.jpg", inode=2**64 - 1)
    edge = make_record("/a/edge.jpg", inode=2**63)
    store.upsert_many([high, edge])
    assert store.get("laptop", high.path) == high
    states = {s.path: s.inode for s in store.states_of("laptop", [high.path, edge.path])}
    assert states == {high.path: 2**64 - 1, edge.path: 2**63}


def test_delete_many_counts_only_what_existed(store: Catalog) -> None:
    keep, drop = make_record("/a/keep.jpg"), make_record("/a/drop.jpg")
    store.upsert_many([keep, drop])
    assert store.delete_many([drop.id, make_record("/never.jpg").id]) == 1
    assert paths(store.iter_under("laptop", "/a")) == ["/a/keep.jpg"]


def test_move_keeps_history_and_leaves_no_ghost(store: Catalog) -> None:
    record = full_record("/old/place/IMG_1.jpg")
    store.upsert_many([record])
    assert store.move_many([(record, "/new/place/IMG_1.jpg")]) == 1
    assert store.get("laptop", "/old/place/IMG_1.jpg") is None
    moved = store.get("laptop", "/new/place/IMG_1.jpg")
    assert moved == replace(record, path="/new/place/IMG_1.jpg")
    assert moved.first_seen == record.first_seen
    assert store.count() == 1


def test_checksum_groups_hold_only_shared_content(store: Catalog) -> None:
    store.upsert_many(
        [
            make_record("/a/1.jpg", checksum="dup"),
            make_record("/b/1.jpg", checksum="dup"),
            make_record("/c/1.jpg", checksum="dup", device="nas"),
            make_record("/a/2.jpg", checksum="single"),
        ]
    )
    [group] = list(store.checksum_groups())
    assert group.checksum == "dup"
    assert sorted((r.device, r.path) for r in group.records) == [
        ("laptop", "/a/1.jpg"), ("laptop", "/b/1.jpg"), ("nas", "/c/1.jpg"),
    ]  # fmt: skip


def test_all_15000_duplicate_groups_are_returned(store: Catalog) -> None:
    groups = 15_000
    store.upsert_many(
        make_record(f"/copy{n}/{i:05d}.jpg", checksum=f"{i:032x}") for i in range(groups) for n in (1, 2)
    )
    store.upsert_many(make_record(f"/single/{i}.jpg", checksum=f"s{i}") for i in range(500))
    seen = [(g.checksum, len(g.records)) for g in store.checksum_groups()]
    assert len(seen) == groups
    assert {c for c, _ in seen} == {f"{i:032x}" for i in range(groups)}
    assert all(size == 2 for _, size in seen)


def test_iterating_25000_records_under_a_prefix_streams_them_all(store: Catalog) -> None:
    total = 25_000
    store.upsert_many(make_record(f"/big/{i // 1000:02d}/{i:06d}.jpg", checksum=f"{i}") for i in range(total))
    store.upsert_many([make_record("/bigger/outside.jpg")])
    listed = paths(store.iter_under("laptop", "/big"))
    assert len(listed) == total
    assert listed == sorted(listed)
    assert len(set(listed)) == total
    assert sum(1 for _ in store.iter_stamps("laptop", "/big")) == total
    assert len(list(store.states_of("laptop", listed[:1500]))) == 1500


def test_summary_counts_and_sizes_by_facet(store: Catalog) -> None:
    store.upsert_many(
        [
            full_record("/p/1.jpg"),
            make_record("/p/2.jpg", size=10, make="NIKON", model="D70"),
            make_record("/v/3.mov", size=100, kind="video", format="mov", device="nas"),
        ]
    )
    summary = store.summary()
    assert (summary.records, summary.bytes) == (3, 2_345_678 + 110)
    assert summary.by_kind == (Bucket("image", 2, 2_345_688), Bucket("video", 1, 100))
    assert summary.by_device == (Bucket("laptop", 2, 2_345_688), Bucket("nas", 1, 100))
    assert set(summary.by_year) == {Bucket("2019", 1, 2_345_678), Bucket("unknown", 2, 110)}
    assert set(summary.by_camera) == {
        Bucket("Apple iPhone 11 Pro", 1, 2_345_678), Bucket("NIKON D70", 1, 10), Bucket("unknown", 1, 100),
    }  # fmt: skip


def test_summary_counts_entries_with_errors_by_stage(store: Catalog) -> None:
    cut = (ExtractError("container", "cut short"), ExtractError("container", "no moov box"))
    store.upsert_many(
        [
            full_record("/p/1.jpg"),  # an EXIF error
            make_record("/v/2.mov", size=100, kind="video", format="mov", errors=cut),
            make_record("/p/3.jpg", size=10, errors=(ExtractError("content", "now an empty file"),)),
            make_record("/p/4.jpg", size=1),
        ]
    )
    summary = store.summary()
    assert summary.with_errors == 3
    assert set(summary.by_error) == {
        Bucket("exif", 1, 2_345_678), Bucket("container", 1, 100), Bucket("content", 1, 10),
    }  # fmt: skip


def test_folders_holding_entries_are_named_once_each(store: Catalog) -> None:
    store.upsert_many(
        [make_record(p) for p in ("/a/1.jpg", "/a/2.jpg", "/a/b/3.jpg", "/a/bc/4.jpg", "/ab/5.jpg")]
        + [make_record("/a/c/6.jpg", device="nas")]
    )
    assert sorted(store.iter_folders("laptop", "/a")) == ["/a", "/a/b", "/a/bc"]
    assert sorted(store.iter_folders("laptop", "/a/b/")) == ["/a/b"]
    assert list(store.iter_folders("laptop", "/none")) == []


def test_json_under_is_each_record_as_json_key_for_key(store: Catalog) -> None:
    store.upsert_many(
        [
            full_record("/j/1.jpg"),
            make_record("/j/\udcff.jpg", inode=2**64 - 1, ext_mismatch=True),
            make_record("/j/sub/2.jpg", gps=GeoPoint(1.5, 2.5)),
            make_record("/k/3.jpg"),
        ]
    )
    for recursive, count in ((True, 3), (False, 2)):
        records = list(store.iter_under("laptop", "/j", recursive=recursive))
        lines = list(store.iter_json_under("laptop", "/j", recursive=recursive))
        assert len(lines) == count
        assert [json.dumps(line) for line in lines] == [json.dumps(record_to_json(r)) for r in records]


def test_summary_and_duplicate_figures_follow_every_kind_of_write(store: Catalog) -> None:
    """The figures `stats` shows stay those of the entries through writes, rewrites, moves and deletes."""
    when = datetime.fromisoformat("2019-07-04T15:30:12+02:00")
    first = [
        full_record("/p/1.jpg"),
        make_record("/p/2.jpg", checksum="same", size=10, make="NIKON", model="D70", captured_at=when),
        make_record("/q/2.jpg", checksum="same", size=10, device="nas"),
        make_record("/r/2.jpg", checksum="same", size=10, device="usb"),
        make_record("/v/3.mov", checksum="clip", size=100, kind="video", format="mov"),
        make_record("/w/3.mov", checksum="clip", size=100, errors=(ExtractError("container", "cut"),) * 2),
    ]
    steps: list[Callable[[], object]] = [
        lambda: store.upsert_many(first),
        lambda: store.upsert_many(first),  # written again: nothing changes
        lambda: store.upsert_many([replace(first[1], size=11, checksum="other", errors=())]),
        lambda: store.upsert_many([replace(first[2], kind="video", format="mov", make="Canon")]),
        lambda: store.move_many([(first[3], "/s/2.jpg")]),
        lambda: store.delete_many([first[4].id, first[0].id]),
        lambda: store.upsert_many([replace(first[0], checksum="clip", size=100, errors=())]),
        lambda: store.delete_many([r.id for r in store.iter_under(None, "/")]),
    ]
    for step in steps:
        step()
        summary, duplicates = figures_by_reading(store)
        assert (store.summary(), store.duplicate_summary()) == (summary, duplicates)
    assert store.duplicate_summary() == DuplicateSummary(0, 0, 0)
    assert store.summary().records == 0


def test_summary_years_are_the_local_year_of_the_capture(store: Catalog) -> None:
    """SQLite reads the year off the stored wall-clock time; Elasticsearch must not bucket by UTC."""
    store.upsert_many(
        [
            make_record("/a.jpg", captured_at=datetime.fromisoformat("2020-01-01T00:30:00+01:00")),
            make_record("/b.jpg", captured_at=datetime.fromisoformat("2019-12-31T23:30:00-05:00")),
            make_record("/c.jpg", captured_at=datetime(2018, 12, 31, 23, 59)),
            make_record("/d.jpg"),
        ]
    )
    assert sorted(b.key for b in store.summary().by_year) == ["2018", "2019", "2020", "unknown"]


def test_values_no_store_could_hold_are_cleaned_the_same_on_each(store: Catalog) -> None:
    record = make_record(
        "/odd/\udcff.jpg",
        make="X" * 100_000,
        width=2**32 - 1,
        height=2**80,
        fps=float("inf"),
        gps=GeoPoint(123.0, 11.0),
        companions=(Companion("sidecar", "/odd/\udcff.xmp"),),
        errors=(ExtractError("exif", "bad IFD in /odd/\udcff.jpg"),),
    )
    store.upsert_many([record])
    stored = store.get("laptop", record.path)
    assert stored is not None
    assert (stored.make, stored.width, stored.height, stored.fps, stored.gps) == (
        "X" * LABEL_MAX,
        2**32 - 1,
        None,
        None,
        None,
    )
    assert stored.companions == record.companions
    assert stored.errors == (ExtractError("exif", "bad IFD in /odd/\\xff.jpg"),)


def test_more_than_1000_locations_are_all_listed(store: Catalog) -> None:
    for i in range(1100):
        store.add_location("laptop", f"/roots/{i:04d}")
    assert list(store.iter_locations("laptop")) == [f"/roots/{i:04d}" for i in range(1100)]


def test_empty_catalog_answers_every_question(store: Catalog) -> None:
    assert store.count() == 0
    assert list(store.iter_under(None, "/")) == []
    assert list(store.checksum_groups()) == []
    assert store.summary().records == 0
    assert store.delete_many([]) == 0


def test_with_checksums_finds_every_device_and_nothing_else(store: Catalog) -> None:
    store.upsert_many(
        [
            make_record("/a/1.jpg", checksum="aa"),
            make_record("/b/1.jpg", checksum="aa", device="nas"),
            make_record("/c/1.jpg", checksum="bb"),
            make_record("/d/1.jpg", checksum="cc"),
        ]
    )
    found = sorted((r.device, r.path) for r in store.with_checksums({"aa", "bb", "zz"}))
    assert found == [("laptop", "/a/1.jpg"), ("laptop", "/c/1.jpg"), ("nas", "/b/1.jpg")]
    assert list(store.with_checksums(set())) == []


def test_stamps_of_one_folder_only(store: Catalog) -> None:
    store.upsert_many([make_record("/a/1.jpg"), make_record("/a/sub/2.jpg")])
    assert [s.path for s in store.iter_stamps("laptop", "/a", recursive=False)] == ["/a/1.jpg"]


@pytest.mark.elasticsearch
@pytest.mark.skipif(ES_URL is None, reason="IMGCAT_TEST_ES_URL not set")
def test_an_index_with_an_incompatible_mapping_is_refused_and_left_unchanged() -> None:
    assert ES_URL is not None
    client = Elasticsearch(ES_URL)
    index = f"imgcat-test-{uuid.uuid4().hex[:12]}"
    mappings = {"properties": {"path": {"type": "text"}, "size": {"type": "keyword"}}}
    client.indices.create(index=index, mappings=mappings)
    try:
        catalog = ElasticCatalog(Elasticsearch(ES_URL), ES_URL, index)
        with pytest.raises(
            IncompatibleIndexError, match=r"path: text, want keyword.*size: keyword, want long"
        ):
            catalog.upsert_many([make_record("/a.jpg")])
        after = client.indices.get_mapping(index=index)[index]["mappings"]
        assert after == mappings
    finally:
        client.indices.delete(index=index)
        client.close()


def test_locations_are_remembered_per_device(store: Catalog) -> None:
    store.add_location("laptop", "/home/me/Pictures")
    store.add_location("laptop", "/media/usb/DCIM")
    store.add_location("laptop", "/home/me/Pictures")
    store.add_location("nas", "/volume1/photo")
    store.add_location("laptop", "/raw/\udcff")
    assert list(store.iter_locations("laptop")) == ["/home/me/Pictures", "/media/usb/DCIM", "/raw/\udcff"]
    assert list(store.iter_locations("nas")) == ["/volume1/photo"]
    assert list(store.iter_locations("phone")) == []
    store.add_location("laptop", "/raw/\\xff")  # the same text as the name that is not UTF-8
    store.remove_location("laptop", "/raw/\udcff")
    store.remove_location("laptop", "/media/usb/DCIM")
    store.remove_location("laptop", "/never/added")
    store.remove_location("nas", "/home/me/Pictures")  # another device's: kept
    assert list(store.iter_locations("laptop")) == ["/home/me/Pictures", "/raw/\\xff"]
    assert list(store.iter_locations("nas")) == ["/volume1/photo"]


def _keys(groups: object) -> list[tuple[str, list[str]]]:
    return [(g.checksum, [c.path for c in g.copies]) for g in groups]  # type: ignore[attr-defined]


def test_content_groups_hold_every_copy_in_order_with_what_deciding_needs(store: Catalog) -> None:
    shot = datetime.fromisoformat("2019-07-04T15:30:12+02:00")
    linked = (Companion("live_video", "/b/1.mov"), Companion("sidecar", "/b/1.xmp"))
    store.upsert_many(
        [
            make_record("/b/1.jpg", checksum="dup", captured_at=shot, companions=linked, inode=7),
            make_record("/a/1.jpg", checksum="dup", mtime_ns=5),
            make_record("/c/\udcff.jpg", checksum="dup", device="nas"),
            make_record("/a/2.jpg", checksum="single"),
        ]
    )
    [group] = store.content_groups(ContentQuery())
    assert (group.checksum, group.size) == ("dup", 1000)
    assert [(c.device, c.path) for c in group.copies] == [
        ("laptop", "/a/1.jpg"), ("laptop", "/b/1.jpg"), ("nas", "/c/\udcff.jpg"),
    ]  # fmt: skip
    first, second, _ = group.copies
    assert (first.mtime_ns, first.captured_at, first.companions) == (5, None, ())
    assert (second.id, second.inode, second.kind) == (make_record("/b/1.jpg").id, 7, "image")
    assert second.captured_at == shot and second.companions == linked
    every = _keys(store.content_groups(ContentQuery(min_copies=1)))
    assert every == [("dup", ["/a/1.jpg", "/b/1.jpg", "/c/\udcff.jpg"]), ("single", ["/a/2.jpg"])]


def test_content_groups_filter_by_folder_size_and_kind(store: Catalog) -> None:
    store.upsert_many(
        [
            make_record("/keep/x.jpg", checksum="a"), make_record("/other/x.jpg", checksum="a"),
            make_record("/other/y.jpg", checksum="b"), make_record("/other/z.jpg", checksum="b"),
            make_record("/keeps/w.jpg", checksum="c"), make_record("/other/w.jpg", checksum="c"),
            make_record("/keep/small.jpg", checksum="d", size=10),
            make_record("/other/small.jpg", checksum="d", size=10),
            make_record("/keep/v.mov", checksum="e", kind="video", format="mov"),
            make_record("/other/v.mov", checksum="e", kind="video", format="mov"),
            make_record("/keep/alone.jpg", checksum="f"),
        ]
    )  # fmt: skip
    under = _keys(store.content_groups(ContentQuery(under=("/keep",))))
    assert under == [
        ("a", ["/keep/x.jpg", "/other/x.jpg"]), ("d", ["/keep/small.jpg", "/other/small.jpg"]),
        ("e", ["/keep/v.mov", "/other/v.mov"]),
    ]  # fmt: skip
    assert [c for c, _ in _keys(store.content_groups(ContentQuery(min_size=11)))] == ["a", "b", "c", "e"]
    assert [c for c, _ in _keys(store.content_groups(ContentQuery(kind="video")))] == ["e"]
    assert [c for c, _ in _keys(store.content_groups(ContentQuery(kind="image", under=("/keep",))))] == [
        "a", "d",
    ]  # fmt: skip
    assert _keys(store.content_groups(ContentQuery(min_copies=1, under=("/keep",), min_size=11))) == [
        ("a", ["/keep/x.jpg", "/other/x.jpg"]), ("e", ["/keep/v.mov", "/other/v.mov"]),
        ("f", ["/keep/alone.jpg"]),
    ]  # fmt: skip


def test_all_15000_content_groups_are_returned(store: Catalog) -> None:
    groups = 15_000
    store.upsert_many(
        make_record(f"/copy{n}/{i:05d}.jpg", checksum=f"{i:032x}") for i in range(groups) for n in (1, 2)
    )
    store.upsert_many(make_record(f"/single/{i}.jpg", checksum=f"s{i}") for i in range(500))
    seen = [(g.checksum, len(g.copies)) for g in store.content_groups(ContentQuery())]
    assert [c for c, _ in seen] == [f"{i:032x}" for i in range(groups)]
    assert all(size == 2 for _, size in seen)
    assert sum(1 for _ in store.content_groups(ContentQuery(min_copies=1))) == groups + 500


@pytest.fixture
def fresh_index() -> Iterator[str]:
    """A name for an index that does not exist yet on the test cluster; removed afterwards."""
    assert ES_URL is not None
    index = f"imgcat-test-{uuid.uuid4().hex[:12]}"
    yield index
    client = Elasticsearch(ES_URL)
    client.indices.delete(index=f"{index}*", ignore_unavailable=True)
    client.close()


@pytest.mark.elasticsearch
@pytest.mark.skipif(ES_URL is None, reason="IMGCAT_TEST_ES_URL not set")
def test_reads_of_a_catalog_never_written_find_nothing_and_create_nothing(fresh_index: str) -> None:
    assert ES_URL is not None
    catalog = ElasticCatalog(Elasticsearch(ES_URL), ES_URL, fresh_index)
    assert catalog.count() == 0 and catalog.summary().records == 0
    assert list(catalog.iter_under(None, "/")) == [] and catalog.get_many("laptop", ["/a"]) == {}
    assert list(catalog.iter_locations("laptop")) == [] and list(catalog.checksum_groups()) == []
    catalog.close()
    client = Elasticsearch(ES_URL)
    assert not client.indices.exists(index=f"{fresh_index}*")
    client.close()


@pytest.mark.elasticsearch
@pytest.mark.skipif(ES_URL is None, reason="IMGCAT_TEST_ES_URL not set")
def test_two_processes_creating_the_index_at_once_both_write(fresh_index: str) -> None:
    assert ES_URL is not None
    errors: list[BaseException] = []

    def write(device: str) -> None:
        catalog = ElasticCatalog(Elasticsearch(ES_URL), ES_URL, fresh_index)
        try:
            catalog.upsert_many([make_record("/a.jpg", device=device)])
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            catalog.close()

    threads = [threading.Thread(target=write, args=(f"d{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    catalog = ElasticCatalog(Elasticsearch(ES_URL), ES_URL, fresh_index)
    assert catalog.count() == 4
    catalog.close()


@pytest.mark.elasticsearch
@pytest.mark.skipif(ES_URL is None, reason="IMGCAT_TEST_ES_URL not set")
def test_an_alias_can_name_the_catalog(fresh_index: str) -> None:
    assert ES_URL is not None
    first = ElasticCatalog(Elasticsearch(ES_URL), ES_URL, f"{fresh_index}-v1")
    first.upsert_many([make_record("/a.jpg")])
    first.close()
    client = Elasticsearch(ES_URL)
    client.indices.put_alias(index=f"{fresh_index}-v1", name=f"{fresh_index}-alias")
    client.close()
    aliased = ElasticCatalog(Elasticsearch(ES_URL), ES_URL, f"{fresh_index}-alias")
    aliased.upsert_many([make_record("/b.jpg")])
    assert paths(aliased.iter_under("laptop", "/")) == ["/a.jpg", "/b.jpg"]
    aliased.close()


@pytest.mark.elasticsearch
@pytest.mark.skipif(ES_URL is None, reason="IMGCAT_TEST_ES_URL not set")
def test_a_write_blocked_index_fails_at_the_first_chunk_with_the_servers_reason(fresh_index: str) -> None:
    assert ES_URL is not None
    catalog = ElasticCatalog(Elasticsearch(ES_URL), ES_URL, fresh_index)
    catalog.upsert_many([make_record("/first.jpg")])
    client = Elasticsearch(ES_URL)
    client.indices.put_settings(index=fresh_index, settings={"index.blocks.write": True})
    try:
        # We believe a write block refuses each bulk item with a 403 cluster_block_exception
        # (not retried); a disk flood-stage block answers 429s, retried 3 times per chunk.
        with pytest.raises(StoreWriteError, match="blocked"):
            catalog.upsert_many(make_record(f"/many/{i}.jpg") for i in range(3 * 500))
    finally:
        client.indices.put_settings(index=fresh_index, settings={"index.blocks.write": False})
        client.close()
        catalog.close()


def test_fingerprints_stream_every_picture_with_its_hashes_and_read_capture_time(store: Catalog) -> None:
    shot = full_record("/p/IMG_1.JPG")
    guessed = make_record("/p/IMG_2.JPG", checksum="c2", phash=7, captured_source="mtime", captured_at=SEEN)
    video = make_record("/p/clip.mov", checksum="c3", kind="video")
    store.upsert_many([shot, guessed, video, make_record("/q/IMG_3.JPG", checksum="c4", phash=9)])
    prints = {f.path: f for f in store.iter_fingerprints()}
    assert sorted(prints) == ["/p/IMG_1.JPG", "/p/IMG_2.JPG", "/q/IMG_3.JPG"]  # no hash, no fingerprint
    first = prints["/p/IMG_1.JPG"]
    assert first.id == shot.id and first.checksum == shot.checksum and first.captured_at == shot.captured_at
    assert first.hashes == tuple(getattr(shot, name) for name in HASH_FIELDS)
    assert (
        prints["/p/IMG_2.JPG"].captured_at is None
    )  # a time guessed from the file's mtime is no capture time
    assert prints["/p/IMG_2.JPG"].hashes == (7, None, None, None, None, None, None)
    assert sorted(f.path for f in store.iter_fingerprints("laptop", "/p")) == ["/p/IMG_1.JPG", "/p/IMG_2.JPG"]


def test_likeness_grids_are_returned_for_the_ids_asked(store: Catalog) -> None:
    shot = full_record("/p/IMG_1.JPG")
    other = make_record("/p/IMG_2.JPG", checksum="c2", phash=7)
    store.upsert_many([shot, other])
    assert dict(store.likeness_of([shot.id, other.id, "unknown"])) == {shot.id: shot.likeness}


def test_not_same_pairs_are_kept_once_in_order(store: Catalog) -> None:
    assert store.add_not_same([("b", "a"), ("c", "a")]) == 2
    assert store.add_not_same([("a", "b"), ("b", "c")]) == 1
    assert list(store.iter_not_same()) == [("a", "b"), ("a", "c"), ("b", "c")]

"""What the Elasticsearch store sends, checked without a server: mapping, bodies, bulk actions,
and the paging loops fed with canned pages. The same store runs the contract suite against a real
cluster when IMGCAT_TEST_ES_URL is set."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from conftest import full_record, make_record
from imgcat.catalog import elastic
from imgcat.catalog.base import ContentCopy, ContentQuery, Stamp
from imgcat.catalog.elastic import (
    MEDIA_MAPPING,
    composite_buckets,
    content_ids_search,
    delete_actions,
    index_actions,
    mapping_conflicts,
    members_search,
    move_actions,
    pit_hits,
    record_from_source,
    records_search,
    stamp_from_source,
    under_query,
)
from imgcat.catalog.open import ElasticTarget, SqliteTarget, redact, split_credentials, store_target
from imgcat.errors import StoreUnavailableError, UsageError
from imgcat.record import Companion


def test_mapping_is_explicit_and_strict() -> None:
    mapping = MEDIA_MAPPING
    props = mapping["properties"]
    assert mapping["dynamic"] == "strict"
    for keyword in ("device", "path", "dir", "name", "ext", "checksum", "phash", "dhash", "make", "model"):
        assert props[keyword]["type"] == "keyword", keyword
    for date in ("captured_at", "first_seen", "scanned_at"):
        assert props[date]["type"] == "date"
    assert props["gps"]["type"] == "geo_point"
    assert props["size"]["type"] == "long" and props["mtime_ns"]["type"] == "long"
    assert props["inode"]["type"] == "unsigned_long"
    assert props["companions"]["properties"]["role"] == {"type": "keyword"}


def test_mapping_holds_exactly_the_fields_a_document_can_have() -> None:
    props = MEDIA_MAPPING["properties"]
    odd = full_record("/photos/\udcff.jpg")
    odd = replace(odd, companions=(Companion("sidecar", "/photos/\udcff.xmp"),))
    source = elastic.record_to_source(odd)
    assert set(source) == set(props)
    assert set(source["companions"][0]) == set(props["companions"]["properties"])
    assert set(source["errors"][0]) == set(props["errors"]["properties"])


def test_index_action_carries_id_index_and_the_records_json() -> None:
    record = full_record()
    [action] = index_actions([record], "family")
    assert action["_index"] == "family"
    assert action["_id"] == record.id
    source = action["_source"]
    assert source["path"] == record.path
    assert source["gps"] == {"lat": 43.4674483, "lon": 11.8851266}
    assert source["gps_alt"] == 212.5
    assert source["phash"] == "fedcba9876543210"
    assert "id" not in source


def test_source_round_trips_to_the_same_record() -> None:
    for record in (full_record(), make_record("/bytes/\udcff.jpg"), make_record("/plain.jpg")):
        [action] = index_actions([record], "catalog")
        source = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in action["_source"].items()}
        assert record_from_source(source) == record


def test_stamps_come_from_their_fields_only_with_the_sidecars() -> None:
    record = make_record(
        "/a/\udcff.cr2", companions=(Companion("jpeg", "/a/x.jpg"), Companion("sidecar", "/a/x.xmp"))
    )
    [action] = index_actions([record], "catalog")
    source = {k: v for k, v in action["_source"].items() if k in elastic.STAMP_FIELDS}
    assert stamp_from_source(source) == Stamp(record.path, record.size, record.mtime_ns, 1, ("/a/x.xmp",))


def test_delete_and_move_actions() -> None:
    record = make_record("/a/1.jpg")
    assert list(delete_actions(["x", "y"], "catalog")) == [
        {"_op_type": "delete", "_index": "catalog", "_id": "x"},
        {"_op_type": "delete", "_index": "catalog", "_id": "y"},
    ]
    delete, index = move_actions([(record, "/b/1.jpg")], "catalog")
    assert delete == {"_op_type": "delete", "_index": "catalog", "_id": record.id}
    assert index["_id"] == make_record("/b/1.jpg").id
    assert index["_source"]["path"] == "/b/1.jpg" and index["_source"]["dir"] == "/b"


def test_under_query_is_a_folder_prefix_on_one_device() -> None:
    assert under_query("laptop", "/a/b").to_dict() == {
        "bool": {
            "filter": [
                {"term": {"device": "laptop"}},
                {"bool": {"should": [{"term": {"path": "/a/b"}}, {"prefix": {"path": "/a/b/"}}]}},
            ]
        }
    }
    assert under_query(None, "/a/b/", recursive=False).to_dict() == {
        "bool": {"filter": [{"term": {"dir": "/a/b"}}]}
    }


def test_records_search_pages_by_sort_not_by_offset() -> None:
    body = records_search("catalog", under_query(None, "/"), ["path", "device"]).to_dict()
    assert body["sort"] == ["path", "device"]
    assert body["size"] == elastic.PAGE_SIZE
    assert "from" not in body


def test_members_search_asks_for_the_page_of_checksums() -> None:
    body = members_search("catalog", ["aa", "bb"]).to_dict()
    assert body["query"] == {"terms": {"checksum": ["aa", "bb"]}}
    assert body["sort"] == ["checksum", "device", "path"]


def test_content_ids_are_looked_up_in_one_folder_of_one_device() -> None:
    body = content_ids_search("catalog", "laptop", "/a/b/", ["A1", "B2"]).to_dict()
    assert body["query"] == {
        "bool": {
            "filter": [
                {"bool": {"filter": [{"term": {"device": "laptop"}}, {"term": {"dir": "/a/b"}}]}},
                {"terms": {"content_id": ["A1", "B2"]}},
            ]
        }
    }
    assert body["sort"] == ["path"] and MEDIA_MAPPING["properties"]["content_id"]["type"] == "keyword"


def test_pit_loop_follows_search_after_and_the_renewed_pit_id() -> None:
    sent: list[dict[str, Any]] = []
    pages = [
        {"pit_id": "p2", "hits": {"hits": [{"_id": "1", "sort": [1]}, {"_id": "2", "sort": [2]}]}},
        {"pit_id": "p3", "hits": {"hits": [{"_id": "3", "sort": [3]}, {"_id": "4", "sort": [4]}]}},
        {"pit_id": "p3", "hits": {"hits": [{"_id": "5", "sort": [5]}]}},
    ]

    def run(body: dict[str, Any]) -> dict[str, Any]:
        sent.append(body)
        return pages[len(sent) - 1]

    first = {"size": 2, "sort": ["path"], "pit": {"id": "p1", "keep_alive": "2m"}}
    assert [hit["_id"] for hit in pit_hits(first, run)] == ["1", "2", "3", "4", "5"]
    assert [b.get("search_after") for b in sent] == [None, [2], [4]]
    assert [b["pit"]["id"] for b in sent] == ["p1", "p2", "p3"]
    assert all(b["pit"]["keep_alive"] == "2m" for b in sent)


def test_pit_loop_stops_on_an_exactly_full_last_page_after_one_empty_page() -> None:
    pages: list[dict[str, Any]] = [{"hits": {"hits": [{"_id": "1", "sort": [1]}]}}, {"hits": {"hits": []}}]
    calls = iter(pages)
    hits = list(pit_hits({"size": 1, "pit": {"id": "p", "keep_alive": "1m"}}, lambda body: next(calls)))
    assert [h["_id"] for h in hits] == ["1"]


def test_composite_loop_follows_after_key_until_no_buckets() -> None:
    sent: list[dict[str, Any]] = []
    body = elastic.checksum_buckets_search("catalog").to_dict()
    assert body["aggs"]["groups"]["composite"]["sources"] == [{"checksum": {"terms": {"field": "checksum"}}}]
    pages: list[dict[str, Any]] = [
        {"aggregations": {"groups": {"after_key": {"checksum": "b"}, "buckets": [
            {"key": {"checksum": "a"}, "doc_count": 2}, {"key": {"checksum": "b"}, "doc_count": 1}]}}},
        {"aggregations": {"groups": {"after_key": {"checksum": "c"}, "buckets": [
            {"key": {"checksum": "c"}, "doc_count": 3}]}}},
        {"aggregations": {"groups": {"buckets": []}}},
    ]  # fmt: skip

    def run(request: dict[str, Any]) -> dict[str, Any]:
        sent.append(request)
        return pages[len(sent) - 1]

    keys = [b["key"]["checksum"] for b in composite_buckets(body, "groups", run)]
    assert keys == ["a", "b", "c"]
    assert [s["aggs"]["groups"]["composite"].get("after") for s in sent] == [
        None, {"checksum": "b"}, {"checksum": "c"},
    ]  # fmt: skip
    assert all(s["aggs"]["groups"]["composite"]["size"] == elastic.PAGE_SIZE for s in sent)


def test_mapping_conflicts_name_each_incompatible_field() -> None:
    wanted = MEDIA_MAPPING
    existing = {"properties": {"path": {"type": "text"}, "size": {"type": "long"},
                               "companions": {"properties": {"role": {"type": "text"}}}}}  # fmt: skip
    assert sorted(mapping_conflicts(wanted, existing)) == [
        "companions.role: text, want keyword", "path: text, want keyword",
    ]  # fmt: skip
    assert mapping_conflicts(wanted, wanted) == []
    assert mapping_conflicts(wanted, {"properties": {}}) == []


def test_original_host_port_index_options_mean_elasticsearch() -> None:
    assert store_target(host="nas", port=9201, index="fotos") == ElasticTarget("http://nas:9201", "fotos")
    assert store_target(index="fotos") == ElasticTarget("http://localhost:9200", "fotos")
    assert isinstance(store_target(), SqliteTarget)


def test_credentials_in_the_url_are_split_off_and_never_shown() -> None:
    clean, user, password = split_credentials("https://elastic:s3cr%40t@es.example:9243/")
    assert (clean, user, password) == ("https://es.example:9243", "elastic", "s3cr@t")
    target = store_target(es="https://elastic:s3cret@es.example:9243")
    assert "s3cret" not in repr(target)
    assert redact("https://elastic:s3cret@es.example:9243") == "https://elastic:***@es.example:9243"


def test_es_url_must_be_http(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match="expects http"):
        store_target(es="es.example:9200")
    monkeypatch.setenv("IMGCAT_ES_USER", "reader")
    monkeypatch.setenv("IMGCAT_ES_PASSWORD", "pw")
    monkeypatch.setenv("IMGCAT_ES_API_KEY", "key")
    target = store_target(es="https://es.example:9200")
    assert isinstance(target, ElasticTarget)
    assert (target.user, target.password, target.api_key) == ("reader", "pw", "key")


def test_locations_live_in_their_own_strict_index() -> None:
    from datetime import UTC, datetime

    action = elastic.location_action(
        "laptop", "/media/usb/DCIM", "catalog-locations", datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert action["_index"] == "catalog-locations"
    assert action["_id"] == make_record("/media/usb/DCIM").id
    assert action["_source"]["path"] == "/media/usb/DCIM" and action["_source"]["device"] == "laptop"
    assert elastic.locations_search("catalog-locations", "laptop").to_dict() == {
        "query": {"bool": {"filter": [{"term": {"device": "laptop"}}]}},
        "sort": ["path"],
        "size": elastic.PAGE_SIZE,
    }
    assert elastic.LOCATION_MAPPING["dynamic"] == "strict"


def test_states_come_from_their_fields_only() -> None:
    record = make_record("/a/\udcff.jpg", inode=2**64 - 1)
    [action] = index_actions([record], "catalog")
    source = {k: v for k, v in action["_source"].items() if k in elastic.STATE_FIELDS}
    state = elastic.state_from_source(source)
    assert state == (record.id, record.path, record.size, record.mtime_ns, 2**64 - 1, record.checksum)


def test_an_mget_answer_gives_the_found_documents_and_fails_on_an_unreadable_one() -> None:
    found = {"_index": "catalog", "_id": "a", "found": True, "_source": {"path": "/a"}}
    missing = {"_index": "catalog", "_id": "b", "found": False}
    assert list(elastic.found_sources({"docs": [found, missing]})) == [{"path": "/a"}]
    failed = {"_index": "catalog", "_id": "c", "error": {"type": "no_shard_available_action_exception"}}
    with pytest.raises(StoreUnavailableError, match="no_shard_available"):
        list(elastic.found_sources({"docs": [found, failed]}))


def test_summary_counts_entries_with_errors_by_stage_in_the_same_request() -> None:
    aggs = elastic.summary_search("catalog").to_dict()["aggs"]
    assert aggs["with_errors"] == {"filter": {"exists": {"field": "errors.stage"}}}
    assert aggs["error"]["terms"]["field"] == "errors.stage"
    assert aggs["error"]["aggs"] == {"bytes": {"sum": {"field": "size"}}}


def test_content_keys_are_a_composite_of_checksum_and_size_with_the_filters() -> None:
    query = ContentQuery(under=("/keep",), min_size=100, kind="video")
    body = elastic.content_keys_search("catalog", query).to_dict()
    assert body["size"] == 0
    assert body["aggs"]["contents"]["composite"] == {
        "size": elastic.PAGE_SIZE,
        "sources": [{"checksum": {"terms": {"field": "checksum"}}}, {"size": {"terms": {"field": "size"}}}],
    }
    assert body["query"] == {
        "bool": {
            "filter": [
                {"range": {"size": {"gte": 100}}},
                {"term": {"kind": "video"}},
                {"bool": {"should": [under_query(None, "/keep").to_dict()]}},
            ]
        }
    }
    assert "query" not in elastic.content_keys_search("catalog", ContentQuery()).to_dict()


def test_content_members_are_fetched_by_checksum_in_content_order_with_few_fields() -> None:
    body = elastic.content_members_search("catalog", ["aa", "bb"], ContentQuery(kind="image")).to_dict()
    assert body["query"] == {
        "bool": {"filter": [{"terms": {"checksum": ["aa", "bb"]}}, {"term": {"kind": "image"}}]}
    }
    assert body["sort"] == ["checksum", "size", "device", "path"]
    assert body["_source"] == {"includes": elastic.COPY_FIELDS}
    scan = elastic.content_scan_search("catalog", ContentQuery(min_copies=1)).to_dict()
    assert scan["query"] == {"match_all": {}} and scan["sort"] == body["sort"]


def test_a_copy_is_read_from_its_fields_only() -> None:
    record = full_record("/a/\udcff.jpg")
    [action] = index_actions([record], "catalog")
    source = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in action["_source"].items()}
    hit = {"_id": record.id, "_source": {k: v for k, v in source.items() if k in elastic.COPY_FIELDS}}
    copy = elastic.copy_from_hit(hit)
    assert copy == ContentCopy(
        record.id, "laptop", record.path, record.size, record.mtime_ns, record.inode, record.checksum,
        "image", record.captured_at, record.companions,
    )  # fmt: skip


def test_only_keys_with_enough_entries_are_fetched_unless_a_folder_narrowed_the_count() -> None:
    page = [
        {"key": {"checksum": "b", "size": 1}, "doc_count": 1},
        {"key": {"checksum": "a", "size": 1}, "doc_count": 3},
        {"key": {"checksum": "c", "size": 1}, "doc_count": 2},
    ]
    assert elastic.wanted_checksums(page, ContentQuery()) == ["a", "c"]
    assert elastic.wanted_checksums(page, ContentQuery(min_copies=3)) == ["a"]
    assert elastic.wanted_checksums(page, ContentQuery(under=("/x",))) == ["a", "b", "c"]
    assert elastic.wanted_checksums(page, ContentQuery(min_copies=1)) == ["a", "b", "c"]

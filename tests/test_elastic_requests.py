"""The Elasticsearch store without a server: what it sends (through the client's own serializer and
bulk helpers) and how it handles what comes back, fed with the client's real exception and answer
types, canned as the client builds them. Server behaviour is checked by the store contract suite
when IMGCAT_TEST_ES_URL is set."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError, Elasticsearch, NotFoundError, helpers
from elasticsearch.exceptions import HTTP_EXCEPTIONS

from clirun import imgcat
from conftest import SEEN, full_record, make_record
from imgcat.catalog import elastic
from imgcat.catalog.base import (
    HASH_FIELDS,
    JUNK_FIELDS,
    Bucket,
    ContentCopy,
    ContentQuery,
    DuplicateSummary,
    JunkEntry,
    JunkQuery,
    Stamp,
    junk_entry,
)
from imgcat.catalog.elastic import (
    MEDIA_MAPPING,
    NOT_SAME_MAPPING,
    ElasticCatalog,
    api_error_text,
    composite_buckets,
    content_ids_search,
    counted,
    duplicate_figures,
    duplicates_search,
    fingerprint_from_hit,
    fingerprints_search,
    folders_search,
    index_actions,
    index_exists_already,
    index_missing,
    mapping_conflicts,
    missing_fields,
    move_in_two_steps,
    not_same_action,
    pit_expired,
    pit_hits,
    record_from_source,
    stamp_from_source,
    summary_from_answer,
    under_query,
    written,
)
from imgcat.catalog.open import (
    REQUEST_TIMEOUT_S,
    ElasticTarget,
    SqliteTarget,
    client_options,
    redact,
    split_credentials,
    store_target,
)
from imgcat.errors import StoreUnavailableError, StoreWriteError
from imgcat.record import Companion, MediaRecord

Body = dict[str, Any]
CLIENT = Elasticsearch("http://127.0.0.1:1")  # never reached: only its serializers are used


def api_error(status: int, body: Body | str) -> ApiError:
    """An ApiError exactly as the client raises it for an answer with this status and body."""
    meta = ApiResponseMeta(
        status=status,
        http_version="1.1",
        headers=HttpHeaders({"content-type": "application/json"}),
        duration=0.01,
        node=NodeConfig("http", "127.0.0.1", 9200),
    )
    message: Any = str(body)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        message = body["error"].get("type", message)
    return HTTP_EXCEPTIONS.get(status, ApiError)(message=message, meta=meta, body=body)


def server_error(status: int, kind: str, reason: str, **extra: Any) -> ApiError:
    cause = {"type": kind, "reason": reason}
    return api_error(status, {"error": {"root_cause": [cause], **cause, **extra}, "status": status})


def _odd_record() -> MediaRecord:
    return replace(
        full_record("/photos/\udcff/IMG_1.JPG"),
        inode=2**64 - 1,
        companions=(Companion("sidecar", "/photos/\udcff/IMG_1.xmp"),),
    )


# --- mapping -------------------------------------------------------------------------------------


def test_mapping_is_strict_with_types_that_take_every_value_a_record_can_hold() -> None:
    props = MEDIA_MAPPING["properties"]
    assert MEDIA_MAPPING["dynamic"] == "strict"
    for keyword in ("device", "path", "dir", "name", "ext", "checksum", "phash", "dhash"):
        assert props[keyword] == {"type": "keyword"}, keyword
    for label in ("make", "model", "lens", "software", "video_codec", "audio_codec"):
        assert props[label]["ignore_above"] * 4 <= 32_766, label  # at most 4 UTF-8 bytes a character
    for number in ("width", "height", "display_width", "display_height", "bitrate", "size", "mtime_ns"):
        assert props[number]["type"] == "long", number  # a u32 from a corrupt header fits
    assert props["inode"]["type"] == "unsigned_long"
    assert props["gps"]["type"] == "geo_point"


def test_fields_a_newer_imgcat_declares_are_added_to_an_existing_index() -> None:
    older = {"properties": {k: v for k, v in MEDIA_MAPPING["properties"].items() if k != "captured_year"}}
    assert missing_fields(MEDIA_MAPPING, [MEDIA_MAPPING]) == {}
    assert missing_fields(MEDIA_MAPPING, [MEDIA_MAPPING, older]) == {"captured_year": {"type": "keyword"}}


def test_mapping_conflicts_name_each_incompatible_field() -> None:
    existing = {"properties": {"path": {"type": "text"}, "size": {"type": "long"},
                               "companions": {"properties": {"role": {"type": "text"}}}}}  # fmt: skip
    assert sorted(mapping_conflicts(MEDIA_MAPPING, existing)) == [
        "companions.role: text, want keyword", "path: text, want keyword",
    ]  # fmt: skip
    assert mapping_conflicts(MEDIA_MAPPING, MEDIA_MAPPING) == []


# --- what is written -----------------------------------------------------------------------------


def _as_sent(actions: Iterable[Body]) -> list[Body]:
    """The bulk body lines as streaming_bulk sends them: each action split by helpers.expand_action,
    each line encoded by the client's own JSON serializer."""
    serializer = CLIENT.transport.serializers.get_serializer("application/json")
    lines = []
    for action in actions:
        header, source = helpers.expand_action(action)
        lines.append(serializer.dumps(header))
        if source is not None:
            lines.append(serializer.dumps(source))
    return [json.loads(line) for line in lines]


def test_bulk_index_lines_carry_the_record_through_the_clients_serializer() -> None:
    record = _odd_record()
    header, source = _as_sent(index_actions([record], "family"))
    assert header == {"index": {"_index": "family", "_id": record.id}}
    assert record_from_source(source) == record
    assert source["inode"] == 2**64 - 1 and source["path_raw"] == b"/photos/\xff/IMG_1.JPG".hex()


def test_a_stamp_comes_from_its_fields_only_with_the_sidecars() -> None:
    record = make_record(
        "/a/\udcff.cr2", companions=(Companion("jpeg", "/a/x.jpg"), Companion("sidecar", "/a/x.xmp"))
    )
    [_, source] = _as_sent(index_actions([record], "catalog"))
    fetched = {k: v for k, v in source.items() if k in elastic.STAMP_FIELDS}
    assert stamp_from_source(fetched) == Stamp(record.path, record.size, record.mtime_ns, 1, ("/a/x.xmp",))
    state = elastic.state_from_source({k: v for k, v in source.items() if k in elastic.STATE_FIELDS})
    assert (state.id, state.path, state.inode) == (record.id, record.path, record.inode)


def test_a_move_writes_the_new_entry_before_deleting_the_old_one() -> None:
    requests: list[list[Body]] = []

    def write(actions: Iterable[Body]) -> int:
        requests.append(_as_sent(actions))
        return len(requests[-1])

    moves = [(make_record(f"/a/{i}.jpg"), f"/b/{i}.jpg") for i in range(3)]
    assert move_in_two_steps(moves, "catalog", write) == 3
    index_request, delete_request = requests
    assert index_request[0::2] == [
        {"index": {"_index": "catalog", "_id": make_record(f"/b/{i}.jpg").id}} for i in range(3)
    ]
    assert [source["path"] for source in index_request[1::2]] == ["/b/0.jpg", "/b/1.jpg", "/b/2.jpg"]
    assert delete_request == [{"delete": {"_index": "catalog", "_id": old.id}} for old, _ in moves]


def test_a_move_whose_new_entry_is_refused_keeps_the_old_one() -> None:
    requests: list[list[Body]] = []

    def write(actions: Iterable[Body]) -> int:
        requests.append(_as_sent(actions))
        if "index" in requests[-1][0]:
            raise StoreWriteError("refused")
        return 0

    with pytest.raises(StoreWriteError):
        move_in_two_steps([(make_record("/a/1.jpg"), "/b/1.jpg")], "catalog", write)
    assert all("delete" not in line for request in requests for line in request)


def _item(operation: str, status: int, **outcome: Any) -> tuple[bool, Body]:
    """One (ok, item) pair as helpers.streaming_bulk yields it."""
    body = {"_index": "catalog", "_id": f"id{status}", "status": status, **outcome}
    return 200 <= status < 300, {operation: body}


def test_bulk_counts_writes_and_forgives_only_a_delete_of_a_missing_entry() -> None:
    results = [_item("index", 201), _item("delete", 200), _item("delete", 404, result="not_found")]
    assert written(results) == 2
    missing_index = {"type": "index_not_found_exception", "reason": "no such index [catalog]"}
    with pytest.raises(StoreWriteError, match="no such index"):
        written([_item("index", 201), _item("index", 404, error=missing_index)])


def test_bulk_stops_at_the_first_refused_write_and_says_why() -> None:
    consumed: list[int] = []

    def results() -> Iterator[tuple[bool, Body]]:
        blocked = {
            "type": "cluster_block_exception",
            "reason": "index [catalog] blocked by: [FORBIDDEN/8/index write (api)];",
        }
        for i in range(2000):
            consumed.append(i)
            yield _item("index", 403, error=blocked) if i == 500 else _item("index", 201)

    with pytest.raises(
        StoreWriteError, match=r"500 writes done before it.*blocked by: \[FORBIDDEN/8/index write"
    ):
        written(results())
    assert len(consumed) == 501


# --- what is read --------------------------------------------------------------------------------


def test_summary_years_come_from_the_local_year_of_capture_not_a_utc_histogram() -> None:
    body = elastic.summary_search("catalog").to_dict()
    assert "date_histogram" not in json.dumps(body)
    early = make_record("/a.jpg", captured_at=datetime.fromisoformat("2020-01-01T00:30:00+01:00"))
    naive = make_record("/b.jpg", captured_at=datetime(2019, 12, 31, 23, 59))
    [_, first], [_, second], [_, none] = (
        _as_sent(index_actions([r], "c")) for r in (early, naive, make_record("/c"))
    )
    assert (first["captured_year"], second["captured_year"], none["captured_year"]) == ("2020", "2019", None)
    assert body["aggs"]["year"]["terms"]["field"] == "captured_year"


def test_summary_answer_reads_every_facet() -> None:
    def bucket(key: Any, count: int, size: int) -> Body:
        return {"key": key, "doc_count": count, "bytes": {"value": float(size)}}

    answer = {
        "hits": {"total": {"value": 5, "relation": "eq"}},
        "aggregations": {
            "bytes": {"value": 5000.0},
            "kind": {"buckets": [bucket("image", 4, 4000), bucket("video", 1, 1000)]},
            "format": {"buckets": [bucket("jpeg", 5, 5000)]},
            "device": {"buckets": [bucket("laptop", 5, 5000)]},
            "year": {"buckets": [bucket("2019", 3, 3000), bucket("unknown", 2, 2000)]},
            "camera": {"buckets": [bucket(["Apple", "iPhone 11 Pro"], 3, 3000), bucket(["", ""], 2, 2000)]},
            "with_errors": {"doc_count": 1},
            "error": {"buckets": [bucket("exif", 1, 1000)]},
        },
    }
    summary = summary_from_answer(answer)
    assert (summary.records, summary.bytes) == (5, 5000)
    assert summary.by_year == (Bucket("2019", 3, 3000), Bucket("unknown", 2, 2000))
    assert summary.by_camera == (Bucket("Apple iPhone 11 Pro", 3, 3000), Bucket("unknown", 2, 2000))
    assert (summary.with_errors, summary.by_error) == (1, (Bucket("exif", 1, 1000),))


def test_searches_refuse_partial_results() -> None:
    assert elastic.search_request({"size": 0}, "catalog")["allow_partial_search_results"] is False


def test_a_count_with_a_failed_shard_is_refused_not_short() -> None:
    assert counted({"count": 7, "_shards": {"total": 2, "successful": 2, "skipped": 0, "failed": 0}}) == 7
    failure = {
        "shard": 1,
        "index": "catalog",
        "reason": {"type": "node_not_connected_exception", "reason": "gone"},
    }
    shards = {"total": 2, "successful": 1, "skipped": 0, "failed": 1, "failures": [failure]}
    with pytest.raises(StoreUnavailableError, match=r"1 of 2 shards.*node_not_connected_exception: gone"):
        counted({"count": 3, "_shards": shards})


def test_an_mget_answer_gives_the_found_documents_and_fails_on_an_unreadable_one() -> None:
    found = {"_index": "catalog", "_id": "a", "_version": 1, "found": True, "_source": {"path": "/a"}}
    missing = {"_index": "catalog", "_id": "b", "found": False}
    no_index = {
        "_index": "catalog",
        "_id": "c",
        "error": {"type": "index_not_found_exception", "reason": "no such index"},
    }
    assert list(elastic.found_sources({"docs": [found, missing, no_index]})) == [{"path": "/a"}]
    failed = {
        "_index": "catalog",
        "_id": "d",
        "error": {"type": "no_shard_available_action_exception", "reason": "x"},
    }
    with pytest.raises(StoreUnavailableError, match=r"no_shard_available.*cluster red"):
        list(elastic.found_sources({"docs": [found, failed]}))


def test_paging_by_search_after_goes_past_1000_with_or_without_a_point_in_time() -> None:
    def pages(total: int) -> Iterator[Body]:
        for start in range(0, total + 1, 1000):
            yield {
                "hits": {
                    "hits": [{"_id": str(i), "sort": [i]} for i in range(start, min(start + 1000, total))]
                }
            }

    sent: list[Body] = []
    answers = pages(2500)

    def run(body: Body) -> Body:
        sent.append(body)
        return next(answers)

    hits = list(pit_hits({"size": 1000, "sort": ["path"]}, run))
    assert len(hits) == 2500 and [b.get("search_after") for b in sent] == [None, [999], [1999]]
    assert all("pit" not in b for b in sent)


def test_pit_loop_renews_the_keep_alive_on_every_page_and_follows_the_pit_id() -> None:
    sent: list[Body] = []
    answers = [
        {"pit_id": "p2", "hits": {"hits": [{"_id": "1", "sort": [1]}, {"_id": "2", "sort": [2]}]}},
        {"pit_id": "p3", "hits": {"hits": [{"_id": "3", "sort": [3]}, {"_id": "4", "sort": [4]}]}},
        {"pit_id": "p3", "hits": {"hits": []}},
    ]

    def run(body: Body) -> Body:
        sent.append(body)
        return answers[len(sent) - 1]

    first = {"size": 2, "sort": ["path"], "pit": {"id": "p1", "keep_alive": elastic.KEEP_ALIVE}}
    assert [hit["_id"] for hit in pit_hits(first, run)] == ["1", "2", "3", "4"]
    assert [b["pit"]["id"] for b in sent] == ["p1", "p2", "p3"]
    assert all(b["pit"]["keep_alive"] == elastic.KEEP_ALIVE for b in sent)
    assert elastic.KEEP_ALIVE.endswith("m") and int(elastic.KEEP_ALIVE[:-1]) >= 10


def test_composite_loop_follows_after_key_until_no_buckets() -> None:
    sent: list[Body] = []
    body = elastic.checksum_buckets_search("catalog").to_dict()
    answers: list[Body] = [
        {"aggregations": {"groups": {"after_key": {"checksum": "b"}, "buckets": [
            {"key": {"checksum": "a"}, "doc_count": 2}, {"key": {"checksum": "b"}, "doc_count": 1}]}}},
        {"aggregations": {"groups": {"after_key": {"checksum": "c"}, "buckets": [
            {"key": {"checksum": "c"}, "doc_count": 3}]}}},
        {"aggregations": {"groups": {"buckets": []}}},
    ]  # fmt: skip

    def run(request: Body) -> Body:
        sent.append(request)
        return answers[len(sent) - 1]

    assert [b["key"]["checksum"] for b in composite_buckets(body, "groups", run)] == ["a", "b", "c"]
    assert [s["aggs"]["groups"]["composite"].get("after") for s in sent] == [
        None,
        {"checksum": "b"},
        {"checksum": "c"},
    ]


# --- errors --------------------------------------------------------------------------------------


def test_an_error_shows_the_servers_reason_not_only_its_type() -> None:
    error = server_error(
        400, "search_phase_execution_exception", "all shards failed",
        caused_by={"type": "illegal_argument_exception", "reason": "Text fields are not optimised"},
    )  # fmt: skip
    assert error.message == "search_phase_execution_exception"
    assert api_error_text(error) == (
        "400 search_phase_execution_exception: all shards failed (Text fields are not optimised)"
    )
    assert api_error_text(api_error(502, "<html>Bad Gateway</html>")) == "502 <html>Bad Gateway</html>"


def test_unavailable_shards_are_reported_as_a_red_cluster() -> None:
    red = server_error(503, "search_phase_execution_exception", "all shards failed")
    assert "is the cluster red?" in api_error_text(red)
    item = {"type": "unavailable_shards_exception", "reason": "[catalog][0] primary shard is not active"}
    with pytest.raises(StoreWriteError, match=r"primary shard is not active \(.*cluster red\?\)"):
        written([_item("index", 503, error=item)])


def test_store_errors_reach_the_user_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = ElasticCatalog(CLIENT, "http://127.0.0.1:1", "catalog")  # opening sends nothing
    with (
        pytest.raises(StoreUnavailableError, match=r"answered 403 security_exception: action \[indices:data"),
        catalog._reaching(),
    ):
        raise server_error(403, "security_exception", "action [indices:data/read/search] is unauthorized")
    with pytest.raises(
        StoreUnavailableError, match=r"cannot reach Elasticsearch at http://127\.0\.0\.1:1: Connection"
    ):
        catalog.count()


def test_a_missing_index_is_told_apart_from_other_404s() -> None:
    assert index_missing(server_error(404, "index_not_found_exception", "no such index [catalog]"))
    assert not index_missing(server_error(404, "search_context_missing_exception", "No search context found"))
    with elastic._unless_no_index():
        raise server_error(404, "index_not_found_exception", "no such index [catalog]")
    with pytest.raises(NotFoundError), elastic._unless_no_index():
        raise server_error(404, "resource_not_found_exception", "x")


def test_losing_the_race_to_create_the_index_is_success() -> None:
    assert index_exists_already(
        server_error(400, "resource_already_exists_exception", "index [catalog/x] already exists")
    )
    assert not index_exists_already(server_error(400, "illegal_argument_exception", "unknown setting"))


def test_an_expired_point_in_time_is_recognised() -> None:
    expired = server_error(404, "search_phase_execution_exception", "all shards failed")
    cause = {"type": "search_context_missing_exception", "reason": "No search context found for id [1]"}
    expired.body["error"]["root_cause"] = [cause]
    assert pit_expired(expired)
    assert not pit_expired(server_error(404, "index_not_found_exception", "no such index"))


# --- options -------------------------------------------------------------------------------------


def test_original_host_port_index_options_mean_elasticsearch() -> None:
    assert store_target(host="nas", port=9201, index="fotos") == ElasticTarget("http://nas:9201", "fotos")
    assert store_target(index="fotos") == ElasticTarget("http://localhost:9200", "fotos")
    assert store_target(host="https://nas") == ElasticTarget("https://nas:9200")
    assert store_target(host="https://nas:9243") == ElasticTarget("https://nas:9243")
    assert store_target(host="https://nas:9243", port=9300) == ElasticTarget("https://nas:9300")
    assert isinstance(store_target(), SqliteTarget)


def test_credentials_in_the_url_are_split_off_and_never_shown() -> None:
    clean, user, password = split_credentials("https://elastic:s3cr%40t@es.example:9243/")
    assert (clean, user, password) == ("https://es.example:9243", "elastic", "s3cr@t")
    assert "s3cret" not in repr(store_target(es="https://elastic:s3cret@es.example:9243"))
    assert redact("https://elastic:s3cret@es.example:9243") == "https://elastic:***@es.example:9243"


def test_credentials_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGCAT_ES_USER", "reader")
    monkeypatch.setenv("IMGCAT_ES_PASSWORD", "pw")
    target = store_target(es="https://es.example:9200")
    assert isinstance(target, ElasticTarget)
    assert client_options(target)["basic_auth"] == ("reader", "pw")
    monkeypatch.delenv("IMGCAT_ES_USER")
    monkeypatch.setenv("IMGCAT_ES_API_KEY", "key")
    target = store_target(es="https://es.example:9200")
    assert isinstance(target, ElasticTarget)
    assert client_options(target)["api_key"] == "key" and "basic_auth" not in client_options(target)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--es", "es.example:9200"], "error: --es expects http(s)://HOST:PORT"),
        (["--es", "http://es.example:99999"], "error: bad port in Elasticsearch URL"),
        (["--host", "es.example", "--port", "70000"], "error: bad port in Elasticsearch URL"),
        (["--es", "http://reader@es.example:9200"], "error: give Elasticsearch either a user"),
    ],
)
def test_bad_store_options_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.setenv("IMGCAT_ES_API_KEY", "key")
    run = imgcat(capsys, "stats", *args)
    assert run.code == 2
    assert run.err.startswith(message) and run.err.count("\n") == 1, run.err


def test_the_client_waits_longer_than_a_bulk_waits_for_unavailable_shards() -> None:
    options = client_options(ElasticTarget("http://es.example:9200"))
    assert options["request_timeout"] == REQUEST_TIMEOUT_S > 60  # the server's default bulk `timeout`: 1m


# --- content lookups (dupes, companions) ------------------------------------------------------


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


def test_junk_candidates_are_one_filtered_search_any_condition_under_the_folder() -> None:
    query = JunkQuery(
        device="laptop", prefix="/photos", damaged=True, side_below=224, contrast_below=0.02,
        brightness_below=0.04, brightness_at_least=0.8, edge_width_at_least=0.72, duration_below=1.0,
    )  # fmt: skip
    search = elastic.junk_search("catalog", query)
    assert search is not None
    body = search.to_dict()
    should = [
        {"exists": {"field": "errors.stage"}},
        {"range": {"display_width": {"lt": 224}}},
        {"range": {"display_height": {"lt": 224}}},
        {"range": {"contrast": {"lt": 0.02}}},
        {"range": {"brightness": {"lt": 0.04}}},
        {"range": {"brightness": {"gte": 0.8}}},
        {"range": {"edge_width": {"gte": 0.72}}},
        {"range": {"duration_s": {"lt": 1.0}}},
    ]
    assert body["query"] == {
        "bool": {
            "filter": [
                {"bool": {"should": should, "minimum_should_match": 1}},
                under_query("laptop", "/photos").to_dict(),
            ]
        }
    }
    assert (body["sort"], body["size"]) == (["_doc"], elastic.PAGE_SIZE)
    every_device = elastic.junk_search("catalog", JunkQuery(edge_width_at_least=0.72))
    assert every_device is not None
    assert every_device.to_dict()["query"]["bool"]["filter"] == [
        {"bool": {"should": [{"range": {"edge_width": {"gte": 0.72}}}], "minimum_should_match": 1}}
    ]
    assert elastic.junk_search("catalog", JunkQuery(device="laptop")) is None


def test_the_similar_fingerprint_is_mapped_and_searched_by_its_fields_only() -> None:
    props = MEDIA_MAPPING["properties"]
    assert props["likeness"] == {"type": "binary"}  # kept, never indexed
    for name in HASH_FIELDS:
        assert props[name] == {"type": "keyword"}
    body = fingerprints_search("family", "laptop", "/photos").to_dict()
    assert body["_source"] == {"includes": elastic.FINGERPRINT_FIELDS}
    assert {"exists": {"field": "phash"}} in body["query"]["bool"]["filter"]
    assert "likeness" not in elastic.FINGERPRINT_FIELDS  # likeness grids are fetched for candidates only


def test_a_fingerprint_is_read_from_a_hit() -> None:
    record = full_record()
    [action] = index_actions([record], "catalog")
    source = {k: v for k, v in action["_source"].items() if k in elastic.FINGERPRINT_FIELDS}
    got = fingerprint_from_hit({"_id": record.id, "_source": source})
    assert got.hashes == tuple(getattr(record, name) for name in HASH_FIELDS)
    assert got.captured_at == record.captured_at and got.path == record.path


def test_not_same_decisions_have_an_ordered_id_and_a_strict_mapping() -> None:
    action = not_same_action("b2", "a1", "catalog-not-same", SEEN)
    assert action["_id"] == "a1-b2" and action["_source"]["a"] == "a1" and action["_source"]["b"] == "b2"
    assert NOT_SAME_MAPPING["dynamic"] == "strict"
    assert set(action["_source"]) == set(NOT_SAME_MAPPING["properties"])


def test_duplicate_figures_page_through_every_content_and_count_the_extra_copies() -> None:
    body = duplicates_search("catalog").to_dict()
    assert body["size"] == 0
    assert body["aggs"]["contents"] == {
        "composite": {"size": 1000, "sources": [{"checksum": {"terms": {"field": "checksum"}}}]},
        "aggs": {"size": {"min": {"field": "size"}}},
    }
    pages = [
        {"buckets": [{"key": {"checksum": "a"}, "doc_count": 3, "size": {"value": 10.0}},
                     {"key": {"checksum": "b"}, "doc_count": 1, "size": {"value": 99.0}}],
         "after_key": {"checksum": "b"}},
        {"buckets": [{"key": {"checksum": "c"}, "doc_count": 2, "size": {"value": 7.0}}],
         "after_key": {"checksum": "c"}},
        {"buckets": []},
    ]  # fmt: skip
    asked: list[Body] = []

    def run(request: Body) -> Body:
        asked.append(request)
        return {"aggregations": {"contents": pages[len(asked) - 1]}}

    assert duplicate_figures(composite_buckets(body, "contents", run)) == DuplicateSummary(2, 3, 27)
    assert [a["aggs"]["contents"]["composite"].get("after") for a in asked] == [
        None, {"checksum": "b"}, {"checksum": "c"},
    ]  # fmt: skip


def test_folders_are_a_composite_of_dir_on_the_device_at_or_below_the_folder() -> None:
    body = folders_search("catalog", "laptop", "/a/b/").to_dict()
    assert body["size"] == 0
    assert body["query"]["bool"]["filter"] == [
        {"term": {"device": "laptop"}},
        {"bool": {"should": [{"term": {"dir": "/a/b"}}, {"prefix": {"dir": "/a/b/"}}]}},
    ]
    assert body["aggs"]["folders"] == {
        "composite": {"size": 1000, "sources": [{"dir": {"terms": {"field": "dir"}}}]}
    }


def test_a_bursts_shots_are_one_folder_of_one_device_in_a_time_range_in_capture_order() -> None:
    start, end = datetime(2020, 5, 1, 11, 59, 50), datetime(2020, 5, 1, 12, 0, 10)
    anywhere = elastic.captured_between_search("catalog", "laptop", None, start, end).to_dict()
    assert anywhere["query"]["bool"]["filter"][0] == {"term": {"device": "laptop"}}  # every folder
    body = elastic.captured_between_search("catalog", "laptop", "/p/2020", start, end).to_dict()
    assert body["query"] == {
        "bool": {
            "filter": [
                under_query("laptop", "/p/2020", recursive=False).to_dict(),
                {"range": {"captured_at": {"gte": "2020-05-01T11:59:50", "lte": "2020-05-01T12:00:10"}}},
            ]
        }
    }
    assert body["sort"] == ["captured_at", "path"]


def test_junk_searches_fetch_only_the_fields_a_junk_entry_is_made_of() -> None:
    search = elastic.junk_search("catalog", JunkQuery(edge_width_at_least=0.72))
    assert search is not None
    assert search.to_dict()["_source"] == {"includes": list(JUNK_FIELDS)}
    burst = elastic.captured_between_search("catalog", "d", "/p", datetime(2020, 1, 1), datetime(2020, 1, 2))
    assert burst.to_dict()["_source"] == {"includes": list(JUNK_FIELDS)}
    record = replace(full_record(), edge_width=1.5)
    source = elastic.record_to_source(record)
    entry = junk_entry({name: source.get(name) for name in JUNK_FIELDS})
    assert entry == JunkEntry(*(getattr(record, name) for name in JunkEntry._fields))


def test_a_refresh_is_due_once_after_writes_and_never_after_a_bulk_that_wrote_nothing() -> None:
    pending = elastic.PendingRefresh()
    pending.wrote(0)
    assert not pending.take()  # an empty bulk (a folder with nothing new) asks for no refresh
    pending.wrote(500)
    pending.wrote(500)
    assert pending.take()  # the first search after two bulks: one refresh
    assert not pending.take()  # the next search: none
    pending.may_have_written()  # a chunk refused part way: some of it may be written
    assert pending.take()

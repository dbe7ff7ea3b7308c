"""The shared catalog: an Elasticsearch index whose mapping is built from the record's fields.

Reads that can exceed 10,000 hits page with a point in time and `search_after`; groupings page a
composite aggregation with `after_key`. Writes go through `helpers.streaming_bulk`. The request
bodies are built by pure functions (`under_query`, `members_search`, ...) so tests can check them
without a server; the paging loops (`pit_hits`, `composite_buckets`) take the function that runs
one request, so tests can feed them canned pages.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any, Final, cast

from elasticsearch import (
    ApiError,
    AuthorizationException,
    BadRequestError,
    ConnectionTimeout,
    Elasticsearch,
    NotFoundError,
    TransportError,
    helpers,
)
from elasticsearch.dsl import A, Q, Search
from elasticsearch.dsl.query import Query

from imgcat.catalog.base import (
    HASH_FIELDS,
    JUNK_FIELDS,
    READ_CAPTURE_SOURCES,
    SUMMARY_BUCKETS,
    WRITE_BATCH,
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
    is_under,
    junk_entry,
    ordered_pair,
    ranked,
)
from imgcat.errors import IncompatibleIndexError, StoreUnavailableError, StoreWriteError
from imgcat.record import (
    DERIVED_FROM_PATH,
    FIELDS,
    LABEL_MAX,
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

PAGE_SIZE: Final = 1000
# A point in time lives this long after each page: long enough for a listing paused in a pager.
KEEP_ALIVE: Final = "10m"
RED_HINT: Final = "some of the index's shards have no active copy: is the cluster red?"

# The body of one search or aggregation request, and what Elasticsearch answers: JSON objects.
Body = dict[str, Any]
RunRequest = Callable[[Body], Body]
WriteActions = Callable[[Iterable[Body]], int]


# Labels are cut to LABEL_MAX characters in the record; a keyword over 32,766 bytes would be refused
# whole, so one written by anything else is left unindexed (kept in _source) rather than refused.
LABEL_IGNORE_ABOVE: Final = LABEL_MAX
_UNINDEXED: Final[Body] = {"type": "keyword", "index": False}


def field_mapping(spec: FieldSpec) -> Body:
    """The mapping properties that hold one record field."""
    keyword: Body = {"type": "keyword"}
    match spec.type:
        case FieldType.PATH:
            return {
                spec.name: keyword,
                f"{spec.name}_raw": _UNINDEXED,
                **dict.fromkeys(DERIVED_FROM_PATH, keyword),
            }
        case FieldType.GEO:
            return {spec.name: {"type": "geo_point"}, f"{spec.name}_alt": {"type": "float"}}
        case FieldType.COMPANIONS:
            parts = {"role": keyword, "path": keyword, "path_raw": _UNINDEXED}
            return {spec.name: {"type": "object", "properties": parts}}
        case FieldType.ERRORS:
            parts = {"stage": keyword, "message": {"type": "text"}}
            return {spec.name: {"type": "object", "properties": parts}}
        case FieldType.LABEL:
            return {spec.name: {"type": "keyword", "ignore_above": LABEL_IGNORE_ABOVE}}
        case FieldType.KEYWORD | FieldType.HASH:
            return {spec.name: keyword}
        case FieldType.BLOB:
            return {spec.name: {"type": "binary"}}
    types = {
        FieldType.INT: "long",
        FieldType.U64: "unsigned_long",
        FieldType.FLOAT: "float",
        FieldType.BOOL: "boolean",
        FieldType.TIME: "date",
    }
    return {spec.name: {"type": types[spec.type]}}


# One media file per document; the `_id` is the record id, the fields are the record's (FIELDS).
MEDIA_MAPPING: Final[Body] = {
    "dynamic": "strict",
    "properties": {
        **{name: body for spec in FIELDS for name, body in field_mapping(spec).items()},
        # The local wall-clock year of the capture, as SQLite reads it off `captured_at`: a
        # date_histogram would bucket by the UTC year (and its `missing` would need a date in its
        # `format`), so the year is written as its own field.
        "captured_year": {"type": "keyword"},
    },
}
# A folder `add` cataloged; kept in the index `<index>-locations`.
LOCATION_MAPPING: Final[Body] = {
    "dynamic": "strict",
    "properties": {
        "device": {"type": "keyword"},
        "path": {"type": "keyword"},
        "path_raw": _UNINDEXED,
        "added_at": {"type": "date"},
    },
}
# A pair of contents a person said are different pictures; kept in the index `<index>-not-same`.
NOT_SAME_MAPPING: Final[Body] = {
    "dynamic": "strict",
    "properties": {"a": {"type": "keyword"}, "b": {"type": "keyword"}, "decided_at": {"type": "date"}},
}
FINGERPRINT_FIELDS: Final = [
    "device",
    "path",
    "path_raw",
    "checksum",
    "captured_at",
    "captured_source",
    *HASH_FIELDS,
]
_GEO: Final = tuple(spec.name for spec in FIELDS if spec.type is FieldType.GEO)


def location_action(device: str, path: str, index: str, now: datetime) -> Body:
    text, raw = path_to_text(path)
    source: Body = {"device": device, "path": text, "added_at": now.isoformat()}
    if raw is not None:
        source["path_raw"] = raw
    return {"_index": index, "_id": record_id(device, path), "_source": source}


def fingerprints_search(index: str, device: str | None, prefix: str | None) -> Search:
    """Every picture with a pHash (under `prefix` on `device`), its fingerprint fields only."""
    query = Q("bool", filter=[Q("exists", field="phash")])
    if prefix is not None:
        query &= under_query(device, prefix)
    elif device is not None:
        query &= Q("term", device=device)
    return records_search(index, query, ["_doc"], FINGERPRINT_FIELDS)


def fingerprint_from_hit(hit: Body) -> Fingerprinted:
    s = hit["_source"]
    captured = s.get("captured_at") if s.get("captured_source") in READ_CAPTURE_SOURCES else None
    return Fingerprinted(
        hit["_id"],
        s["device"],
        path_from_text(s["path"], s.get("path_raw")),
        s["checksum"],
        None if captured is None else datetime.fromisoformat(captured),
        tuple(None if s.get(name) is None else int(s[name], 16) for name in HASH_FIELDS),
        aspect_of(s.get("display_width"), s.get("display_height")),
    )


def not_same_action(a: str, b: str, index: str, now: datetime) -> Body:
    first, second = ordered_pair(a, b)
    return {
        "_index": index,
        "_id": f"{first}-{second}",
        "_source": {"a": first, "b": second, "decided_at": now.isoformat()},
    }


def not_same_search(index: str) -> Search:
    return Search(index=index).sort("a", "b").extra(size=PAGE_SIZE)


def locations_search(index: str, device: str) -> Search:
    return Search(index=index).filter("term", device=device).sort("path").extra(size=PAGE_SIZE)


def record_to_source(record: MediaRecord) -> Body:
    """The document body: the record's JSON (no id: it is the `_id`), altitude beside the geo_point."""
    source: Body = record_to_json(record)
    del source["id"]
    captured = source["captured_at"]
    source["captured_year"] = None if captured is None else captured[:4]
    for name in _GEO:
        gps = source.pop(name)
        if gps is not None:
            source[name] = {"lat": gps["lat"], "lon": gps["lon"]}
            source[f"{name}_alt"] = gps["alt"]
    return source


def record_from_source(source: Body) -> MediaRecord:
    data: RecordJson = dict(source)
    for name in _GEO:
        gps = data.get(name)
        alt = data.pop(f"{name}_alt", None)
        data[name] = None if gps is None else {**cast(dict[str, JsonValue], gps), "alt": alt}
    return record_from_json(data)


def index_actions(records: Iterable[MediaRecord], index: str) -> Iterator[Body]:
    for record in records:
        yield {"_index": index, "_id": record.id, "_source": record_to_source(record)}


def delete_actions(ids: Iterable[str], index: str) -> Iterator[Body]:
    for doc_id in ids:
        yield {"_op_type": "delete", "_index": index, "_id": doc_id}


def move_in_two_steps(moves: Iterable[tuple[MediaRecord, str]], index: str, write: WriteActions) -> int:
    """Move entries batch by batch: index the moved records, and only once they are written
    delete the old ones (a bulk request runs its items in no set order across shards, so one
    request holding both could lose a record whose new copy was refused). Returns how many moves
    were written, as SQLite counts them."""
    moved = 0
    for batch in batched(moves):
        new = [record.moved_to(path) for record, path in batch]
        write(index_actions(new, index))  # raises if any is refused: the old entries stay
        kept = {record.id for record in new}
        write(delete_actions([old.id for old, _ in batch if old.id not in kept], index))
        moved += len(batch)
    return moved


def written(results: Iterable[tuple[bool, Body]]) -> int:
    """How many writes were done, from `streaming_bulk`'s (ok, item) pairs. A delete of a document
    that is not there is harmless (not counted); any other refusal stops at once, so no further
    chunk is sent (and retried) after one that cannot be written."""
    done = 0
    for ok, item in results:
        [(operation, outcome)] = item.items()
        if ok:
            done += 1
        elif not (operation == "delete" and outcome.get("status") == 404):
            reason = error_text(outcome.get("status"), outcome.get("error", outcome.get("result")))
            raise StoreWriteError(
                f"Elasticsearch refused to {operation} document {outcome.get('_id')} in "
                f"{outcome.get('_index')} ({done} writes done before it, the rest not sent): {reason}"
            )
    return done


def under_query(device: str | None, prefix: str, *, recursive: bool = True) -> Query:
    """Entries at `prefix` or below it (a folder prefix, never a mere string prefix)."""
    text = path_to_text(prefix)[0]
    if recursive:
        low = folder_bounds(text)[0]
        where = Q("term", path=text) | Q("prefix", path=low)
    else:
        where = Q("term", dir=text.rstrip("/") or "/")
    filters = [where] if device is None else [Q("term", device=device), where]
    return Q("bool", filter=filters)


def folders_search(index: str, device: str, prefix: str) -> Search:
    """The folders holding entries at or below `prefix`, as a composite aggregation on `dir`."""
    text = path_to_text(prefix)[0].rstrip("/") or "/"
    where = Q("term", dir=text) | Q("prefix", dir=folder_bounds(text)[0])
    search = Search(index=index).query(Q("bool", filter=[Q("term", device=device), where])).extra(size=0)
    search.aggs.bucket("folders", "composite", size=PAGE_SIZE, sources=[{"dir": A("terms", field="dir")}])
    return search


STAMP_FIELDS: Final = ["path", "path_raw", "size", "mtime_ns", "extractor_version", "companions"]


def stamp_from_source(source: Body) -> Stamp:
    """The stamp of an entry from its `_source`, fetched with STAMP_FIELDS only."""
    companions = source.get("companions", [])
    sidecars = tuple(
        path_from_text(c["path"], c.get("path_raw")) for c in companions if c["role"] == "sidecar"
    )
    path = path_from_text(source["path"], source.get("path_raw"))
    return Stamp(path, source["size"], source["mtime_ns"], source["extractor_version"], sidecars)


STATE_FIELDS: Final = ["device", "path", "path_raw", "size", "mtime_ns", "inode", "checksum"]


def state_from_source(source: Body) -> FileState:
    """The state of an entry from its `_source`, fetched with STATE_FIELDS only."""
    path = path_from_text(source["path"], source.get("path_raw"))
    doc_id = record_id(source["device"], path)
    return FileState(doc_id, path, source["size"], source["mtime_ns"], source["inode"], source["checksum"])


def found_sources(answer: Body) -> Iterator[Body]:
    """The `_source` of each document an mget found. A missing index holds nothing; any other
    document the server could not read (a failed shard) is an error, not a missing entry."""
    for doc in answer["docs"]:
        error = doc.get("error")
        if error is not None and "index_not_found_exception" not in _types_of(error):
            raise StoreUnavailableError(
                f"Elasticsearch could not read document {doc['_id']}: {error_text(None, error)}"
            )
        if error is None and doc["found"]:
            yield doc["_source"]


def error_text(status: int | None, error: object) -> str:
    """The server's own words for a failure: type and reason of its root cause (an ApiError's
    `message` is only the type), with a hint when shards are unavailable."""
    if isinstance(error, dict):
        cause = (error.get("root_cause") or [error])[0]
        text = f"{cause.get('type', 'error')}: {cause.get('reason')}"
        caused_by = error.get("caused_by", {}).get("reason")
        if caused_by and caused_by not in text:
            text = f"{text} ({caused_by})"
    else:
        text = str(error)
    unavailable = {"unavailable_shards_exception", "no_shard_available_action_exception"}
    if status == 503 or unavailable & _types_of(error):
        text = f"{text} ({RED_HINT})"
    return text


def api_error_text(error: ApiError) -> str:
    """'404 index_not_found_exception: no such index [x]' from an ApiError as the client raises it."""
    body = error.body
    detail = body.get("error") if isinstance(body, dict) else None
    return f"{error.meta.status} {error_text(error.meta.status, detail or error.message)}"


def _types_of(error: object) -> set[str]:
    if not isinstance(error, dict):
        return set()
    causes = [error, *error.get("root_cause", []), error.get("caused_by", {})]
    return {str(cause.get("type")) for cause in causes if isinstance(cause, dict)}


def _api_types(error: ApiError) -> set[str]:
    body = error.body
    return _types_of(body.get("error")) if isinstance(body, dict) else set()


def index_missing(error: ApiError) -> bool:
    return error.meta.status == 404 and "index_not_found_exception" in _api_types(error)


def index_exists_already(error: ApiError) -> bool:
    """A `create` lost to another process creating the same index: that is success."""
    return error.meta.status == 400 and "resource_already_exists_exception" in _api_types(error)


def pit_expired(error: ApiError) -> bool:
    # We believe a search on an expired point in time answers 404 with a root cause
    # `search_context_missing_exception` ("No search context found for id"); unchecked on a server.
    return error.meta.status == 404 and "search_context_missing_exception" in _api_types(error)


def counted(answer: Body) -> int:
    """The count of a `_count` answer, refused when a shard failed (it would be short)."""
    shards = answer.get("_shards", {})
    if shards.get("failed"):
        failures = shards.get("failures") or [{}]
        reason = error_text(None, failures[0].get("reason", "no reason given"))
        raise StoreUnavailableError(
            f"{shards['failed']} of {shards.get('total')} shards could not count: {reason}"
        )
    return int(answer["count"])


def search_request(body: Body, index: str | None) -> Body:
    """The arguments of one search: a failed shard fails the search instead of silently
    shortening a listing or a count."""
    return {"index": index, "body": body, "allow_partial_search_results": False}


def missing_fields(wanted: Body, existing: list[Body]) -> Body:
    """The top-level fields of `wanted` that an existing index (each of its indices, for an alias)
    does not map yet: those a newer imgcat declares."""
    return {
        name: spec
        for name, spec in wanted["properties"].items()
        if any(name not in have.get("properties", {}) for have in existing)
    }


def records_search(index: str, query: Query, sort: list[str], fields: list[str] | None = None) -> Search:
    search = Search(index=index).query(query).sort(*sort).extra(size=PAGE_SIZE)
    return search if fields is None else search.source(includes=fields)


def checksum_buckets_search(index: str) -> Search:
    search = Search(index=index).extra(size=0)
    search.aggs.bucket(
        "groups", "composite", size=PAGE_SIZE, sources=[{"checksum": A("terms", field="checksum")}]
    )
    return search


def duplicates_search(index: str) -> Search:
    """Every content's number of entries and size, as a composite aggregation paged by `after_key`."""
    search = Search(index=index).extra(size=0)
    search.aggs.bucket(
        "contents", "composite", size=PAGE_SIZE, sources=[{"checksum": A("terms", field="checksum")}]
    ).metric("size", "min", field="size")
    return search


def duplicate_figures(buckets: Iterable[Body]) -> DuplicateSummary:
    """The duplicate figures from the buckets of `duplicates_search`."""
    groups = files = size = 0
    for bucket in buckets:
        extra = bucket["doc_count"] - 1
        if extra > 0:
            groups += 1
            files += extra
            size += int(bucket["size"]["value"]) * extra
    return DuplicateSummary(groups, files, size)


def members_search(index: str, checksums: list[str]) -> Search:
    return records_search(index, Q("terms", checksum=checksums), ["checksum", "device", "path"])


COPY_FIELDS: Final = [
    "device", "path", "path_raw", "size", "mtime_ns", "inode", "checksum", "kind", "captured_at",
    "companions",
]  # fmt: skip
CONTENT_SORT: Final = ["checksum", "size", "device", "path"]


def content_filter(query: ContentQuery) -> list[Query]:
    """What every entry of a wanted content satisfies: its size and kind (a content has one)."""
    filters = [Q("range", size={"gte": query.min_size})] if query.min_size else []
    if query.kind is not None:
        filters.append(Q("term", kind=query.kind))
    return filters


def content_keys_search(index: str, query: ContentQuery) -> Search:
    """The (checksum, size) of each wanted content, as a composite aggregation paged by `after_key`.
    With `under`, only entries below those folders are aggregated: the keys of contents that have a
    copy there (their other copies are fetched by `content_members_search`)."""
    filters = content_filter(query)
    if query.under:
        filters.append(Q("bool", should=[under_query(None, folder) for folder in query.under]))
    search = Search(index=index).extra(size=0)
    if filters:
        search = search.query(Q("bool", filter=filters))
    sources = [{"checksum": A("terms", field="checksum")}, {"size": A("terms", field="size")}]
    search.aggs.bucket("contents", "composite", size=PAGE_SIZE, sources=sources)
    return search


def content_members_search(index: str, checksums: list[str], query: ContentQuery) -> Search:
    where = Q("bool", filter=[Q("terms", checksum=checksums), *content_filter(query)])
    return records_search(index, where, CONTENT_SORT, COPY_FIELDS)


def content_scan_search(index: str, query: ContentQuery) -> Search:
    """Every wanted entry in content order: the single copies' view, where no aggregation helps."""
    filters = content_filter(query)
    where = Q("bool", filter=filters) if filters else Q("match_all")
    return records_search(index, where, CONTENT_SORT, COPY_FIELDS)


def wanted_checksums(page: list[Body], query: ContentQuery) -> list[str]:
    """The checksums of a page of content keys whose entries to fetch. A key's count is the whole
    group's unless `under` narrowed the aggregation: then every key is fetched, and counted after."""
    if query.under or query.min_copies <= 1:
        return sorted({b["key"]["checksum"] for b in page})
    return sorted({b["key"]["checksum"] for b in page if b["doc_count"] >= query.min_copies})


def copy_from_hit(hit: Body) -> ContentCopy:
    """A ContentCopy from a hit fetched with COPY_FIELDS."""
    s = hit["_source"]
    captured = s.get("captured_at")
    companions = companions_from_json(s.get("companions", []))
    return ContentCopy(
        hit["_id"], s["device"], path_from_text(s["path"], s.get("path_raw")), s["size"], s["mtime_ns"],
        s["inode"], s["checksum"], s["kind"], None if captured is None else datetime.fromisoformat(captured),
        companions,
    )  # fmt: skip


def content_ids_search(index: str, device: str, folder: str, content_ids: list[str]) -> Search:
    """The entries of one folder that carry one of `content_ids`."""
    query = under_query(device, folder, recursive=False)
    return records_search(index, Q("bool", filter=[query, Q("terms", content_id=content_ids)]), ["path"])


def captured_between_search(
    index: str, device: str, folder: str | None, start: datetime, end: datetime
) -> Search:
    """The entries of one folder of `device` (any folder when None) captured from `start` to `end`,
    in capture order."""
    when = Q("range", captured_at={"gte": start.isoformat(), "lte": end.isoformat()})
    where_kept = Q("term", device=device) if folder is None else under_query(device, folder, recursive=False)
    where = Q("bool", filter=[where_kept, when])
    return records_search(index, where, ["captured_at", "path"], list(JUNK_FIELDS))


def junk_search(index: str, query: JunkQuery) -> Search | None:
    """The entries `junk_candidates` returns (see `JunkQuery`); None when no condition is set."""
    should: list[Query] = []
    if query.damaged:
        should.append(Q("exists", field="errors.stage"))
    if query.side_below is not None:
        should += [
            Q("range", **{side: {"lt": query.side_below}}) for side in ("display_width", "display_height")
        ]
    for field, operator, value in (
        ("contrast", "lt", query.contrast_below),
        ("brightness", "lt", query.brightness_below),
        ("brightness", "gte", query.brightness_at_least),
        ("edge_width", "gte", query.edge_width_at_least),
        ("duration_s", "lt", query.duration_below),
    ):
        if value is not None:
            should.append(Q("range", **{field: {operator: value}}))
    if not should:
        return None
    where: list[Query] = [Q("bool", should=should, minimum_should_match=1)]
    if query.prefix is not None:
        where.append(under_query(query.device, query.prefix))
    elif query.device is not None:
        where.append(Q("term", device=query.device))
    return records_search(index, Q("bool", filter=where), ["_doc"], list(JUNK_FIELDS))


def summary_search(index: str) -> Search:
    search = Search(index=index).extra(size=0, track_total_hits=True)
    search.aggs.metric("bytes", "sum", field="size")
    for name, field in (("kind", "kind"), ("format", "format"), ("device", "device")):
        search.aggs.bucket(name, "terms", field=field, size=SUMMARY_BUCKETS, missing="unknown").metric(
            "bytes", "sum", field="size"
        )
    search.aggs.bucket(
        "year", "terms", field="captured_year", size=SUMMARY_BUCKETS, missing="unknown"
    ).metric("bytes", "sum", field="size")
    search.aggs.bucket(
        "camera", "multi_terms", size=SUMMARY_BUCKETS,
        terms=[{"field": "make", "missing": ""}, {"field": "model", "missing": ""}],
    ).metric("bytes", "sum", field="size")  # fmt: skip
    search.aggs.bucket("with_errors", "filter", Q("exists", field="errors.stage"))
    search.aggs.bucket("error", "terms", field="errors.stage", size=SUMMARY_BUCKETS).metric(
        "bytes", "sum", field="size"
    )
    return search


def pit_hits(body: Body, run: RunRequest) -> Iterator[Body]:
    """Every hit of a search, page by page with `search_after`.

    `body` carries `sort` and `size`, and `pit` (id + keep_alive: each page renews the keep-alive,
    each answer may renew the id) unless its sort is unique by itself.
    """
    while True:
        page = run(body)
        hits: list[Body] = page["hits"]["hits"]
        yield from hits
        if len(hits) < body["size"]:
            return
        body = {**body, "search_after": hits[-1]["sort"]}
        if "pit" in body:
            body["pit"] = {**body["pit"], "id": page.get("pit_id", body["pit"]["id"])}


def composite_buckets(body: Body, name: str, run: RunRequest) -> Iterator[Body]:
    """Every bucket of the composite aggregation `name`, page by page with `after_key`."""
    while True:
        result = run(body)["aggregations"][name]
        yield from result["buckets"]
        after = result.get("after_key")
        if after is None or not result["buckets"]:
            return
        aggs = body["aggs"][name]
        body = {**body, "aggs": {**body["aggs"], name: {"composite": {**aggs["composite"], "after": after}}}}


def mapping_conflicts(wanted: Body, existing: Body, prefix: str = "") -> list[str]:
    """Fields whose type in an existing index differs from ours: 'path: text, want keyword'."""
    conflicts = []
    for name, spec in wanted.get("properties", {}).items():
        have = existing.get("properties", {}).get(name)
        if have is None:
            continue
        want_type, have_type = spec.get("type", "object"), have.get("type", "object")
        if want_type != have_type:
            conflicts.append(f"{prefix}{name}: {have_type}, want {want_type}")
        elif want_type in ("object", "nested"):
            conflicts.extend(mapping_conflicts(spec, have, f"{prefix}{name}."))
    return conflicts


class PendingRefresh:
    """Whether this store's writes may still be invisible to a search (a search, unlike a get, sees
    only refreshed writes): due after a bulk that wrote, or may have written, something; taken by
    the next search or at close. So one refresh per read that follows writes, none per bulk write,
    none after a bulk that wrote nothing."""

    def __init__(self) -> None:
        self._due = False

    def wrote(self, count: int) -> None:
        self._due = self._due or count > 0

    def may_have_written(self) -> None:
        self._due = True

    def take(self) -> bool:
        due, self._due = self._due, False
        return due


class ElasticCatalog:
    """The catalog in an Elasticsearch index, shared by every device that points at it.

    Opening sends nothing: reads need only the `read` privilege (a missing index reads as an empty
    catalog); the first write checks the index's mapping and creates the index if needed.
    """

    def __init__(self, client: Elasticsearch, url: str, index: str) -> None:
        self._client = client
        self._url = url
        self.index = index
        self._refresh = PendingRefresh()
        self._checked = False  # the indices exist with a mapping we can write to

    @property
    def location(self) -> str:
        return f"{self._url} index {self.index}"

    @property
    def locations_index(self) -> str:
        return f"{self.index}-locations"

    @contextmanager
    def _reaching(self) -> Iterator[None]:
        try:
            yield
        except ConnectionTimeout as error:
            raise StoreUnavailableError(
                f"Elasticsearch at {self._url} did not answer in time: {error}"
            ) from error
        except TransportError as error:
            raise StoreUnavailableError(f"cannot reach Elasticsearch at {self._url}: {error}") from error
        except ApiError as error:
            raise StoreUnavailableError(
                f"Elasticsearch at {self._url} answered {api_error_text(error)}"
            ) from error

    def _writable(self) -> None:
        if not self._checked:
            self._prepare_index(self.index, MEDIA_MAPPING)
            self._prepare_index(self.locations_index, LOCATION_MAPPING)
            self._prepare_index(self.not_same_index, NOT_SAME_MAPPING)
            self._checked = True

    def _prepare_index(self, index: str, mapping: Body) -> None:
        """Create the index with our mapping; or check an existing one (every index behind an
        alias) and add the fields it lacks. Two processes creating it at once both go on."""
        existing = self._mappings(index)
        if existing is None:
            try:
                self._client.indices.create(index=index, mappings=mapping)
                return
            except BadRequestError as error:
                if not index_exists_already(error):
                    raise
            existing = self._mappings(index) or []
        conflicts = sorted({c for have in existing for c in mapping_conflicts(mapping, have)})
        if conflicts:
            raise IncompatibleIndexError(
                f"index {index} at {self._url} has an incompatible mapping "
                f"({'; '.join(conflicts)}); left unchanged: choose another --index"
            )
        if missing := missing_fields(mapping, existing):
            self._client.indices.put_mapping(index=index, properties=missing)

    def _mappings(self, index: str) -> list[Body] | None:
        try:
            answer = self._client.indices.get_mapping(index=index).body
        except NotFoundError as error:
            if index_missing(error):
                return None
            raise
        return [entry["mappings"] for entry in answer.values()]

    def _run(self, body: Body, index: str | None = None) -> Body:
        """One search request. A point-in-time search names no index (the PIT holds it); any
        other request is sent to one of this catalog's indices, never to the whole cluster."""
        self._make_visible()
        target = None if "pit" in body else index or self.index
        answer: Body = self._client.search(**search_request(body, target)).body
        return answer

    def _bulk(self, actions: Iterable[Body]) -> int:
        results = helpers.streaming_bulk(
            self._client, actions, chunk_size=WRITE_BATCH, raise_on_error=False, max_retries=3
        )
        try:
            done = written(results)
        except StoreWriteError:
            self._refresh.may_have_written()  # some of the chunk may be written
            raise
        self._refresh.wrote(done)
        return done

    def _make_visible(self) -> None:
        """Refresh the index if this store wrote to it since the last search: called before a
        search, which (unlike a get) sees only refreshed writes, and at close, so the next command
        sees this one's writes. One refresh per read after writes, none per write."""
        if not self._refresh.take():
            return
        # Without the `maintenance` privilege, writes become visible at the index's next periodic
        # refresh (every second by default) instead.
        with suppress(AuthorizationException):
            self._client.indices.refresh(index=self.index)

    def upsert_many(self, records: Iterable[MediaRecord]) -> int:
        with self._reaching():
            self._writable()
            return self._bulk(index_actions(records, self.index))

    def get(self, device: str, path: str) -> MediaRecord | None:
        return self.get_many(device, [path]).get(path)

    def get_many(self, device: str, paths: Collection[str]) -> dict[str, MediaRecord]:
        found: dict[str, MediaRecord] = {}
        with self._reaching(), _unless_no_index():
            for source in self._mget([record_id(device, p) for p in paths]):
                record = record_from_source(source)
                found[record.path] = record
        return found

    def _mget(self, ids: list[str], fields: list[str] | None = None) -> Iterator[Body]:
        """The `_source` of each document found, PAGE_SIZE ids per request. A get is real-time:
        it sees this store's writes without a refresh."""
        for batch in batched(ids, PAGE_SIZE):
            answer = self._client.mget(index=self.index, ids=batch, source_includes=fields).body
            yield from found_sources(answer)

    def _iter_hits(self, search: Search) -> Iterator[Body]:
        self._make_visible()
        pit = self._client.open_point_in_time(index=self.index, keep_alive=KEEP_ALIVE)
        body = search.index().extra(pit={"id": pit["id"], "keep_alive": KEEP_ALIVE}).to_dict()
        try:
            yield from pit_hits(body, self._run)
        except NotFoundError as error:
            if pit_expired(error):
                raise StoreUnavailableError(
                    f"a listing from Elasticsearch at {self._url} waited more than {KEEP_ALIVE} for "
                    "its reader and its point in time expired: run it again"
                ) from error
            raise
        finally:
            with suppress(ApiError, TransportError):  # it expires on its own
                self._client.close_point_in_time(id=pit["id"])

    def iter_under(self, device: str | None, prefix: str, *, recursive: bool = True) -> Iterator[MediaRecord]:
        search = records_search(
            self.index, under_query(device, prefix, recursive=recursive), ["path", "device"]
        )
        with self._reaching(), _unless_no_index():
            for hit in self._iter_hits(search):
                record = record_from_source(hit["_source"])
                if is_under(record.path, prefix, recursive=recursive):  # the bytes, not the text
                    yield record

    def iter_stamps(self, device: str, prefix: str, *, recursive: bool = True) -> Iterator[Stamp]:
        query = under_query(device, prefix, recursive=recursive)
        search = records_search(self.index, query, ["_doc"], STAMP_FIELDS)
        with self._reaching(), _unless_no_index():
            for hit in self._iter_hits(search):
                stamp = stamp_from_source(hit["_source"])
                if is_under(stamp.path, prefix, recursive=recursive):  # the bytes, not the text
                    yield stamp

    def plain_stamps(self, device: str, folder: str, min_version: int) -> set[StampKey] | None:
        return None  # a search is a round trip: a folder's one search stays its `iter_stamps`

    def iter_folders(self, device: str, prefix: str) -> Iterator[str]:
        body = folders_search(self.index, device, prefix).to_dict()
        with self._reaching(), _unless_no_index():
            for bucket in composite_buckets(body, "folders", self._run):
                yield bucket["key"]["dir"]

    def states_of(self, device: str, paths: Collection[str]) -> Iterator[FileState]:
        with self._reaching(), _unless_no_index():
            ids = [record_id(device, p) for p in paths]
            for source in self._mget(ids, STATE_FIELDS):
                yield state_from_source(source)

    def with_checksums(self, checksums: Collection[str]) -> Iterator[MediaRecord]:
        with self._reaching(), _unless_no_index():
            for batch in batched(sorted(set(checksums)), PAGE_SIZE):
                for hit in self._iter_hits(members_search(self.index, batch)):
                    yield record_from_source(hit["_source"])

    def with_content_ids(
        self, device: str, folder: str, content_ids: Collection[str]
    ) -> Iterator[MediaRecord]:
        with self._reaching(), _unless_no_index():
            for batch in batched(sorted(set(content_ids)), PAGE_SIZE):
                for hit in self._iter_hits(content_ids_search(self.index, device, folder, batch)):
                    yield record_from_source(hit["_source"])

    def captured_between(
        self, device: str, folder: str | None, start: datetime, end: datetime
    ) -> Iterator[JunkEntry]:
        search = captured_between_search(self.index, device, folder, start, end)
        with self._reaching(), _unless_no_index():
            for hit in self._iter_hits(search):
                yield junk_entry(hit["_source"])

    def junk_candidates(self, query: JunkQuery) -> Iterator[JunkEntry]:
        search = junk_search(self.index, query)
        if search is None:
            return
        with self._reaching(), _unless_no_index():
            for hit in self._iter_hits(search):
                yield junk_entry(hit["_source"])

    def delete_many(self, ids: Iterable[str]) -> int:
        with self._reaching():
            self._writable()
            return self._bulk(delete_actions(ids, self.index))

    def move_many(self, moves: Iterable[tuple[MediaRecord, str]]) -> int:
        with self._reaching():
            self._writable()
            return move_in_two_steps(moves, self.index, self._bulk)

    def iter_json_under(
        self, device: str | None, prefix: str, *, recursive: bool = True
    ) -> Iterator[RecordJson]:
        return map(record_to_json, self.iter_under(device, prefix, recursive=recursive))

    def checksum_groups(self) -> Iterator[ChecksumGroup]:
        body = checksum_buckets_search(self.index).to_dict()
        with self._reaching(), _unless_no_index():
            buckets = composite_buckets(body, "groups", self._run)
            for page in _pages(buckets):
                checksums = [b["key"]["checksum"] for b in page if b["doc_count"] > 1]
                if not checksums:
                    continue
                hits = self._iter_hits(members_search(self.index, checksums))
                for checksum, group in itertools.groupby(hits, key=lambda hit: hit["_source"]["checksum"]):
                    yield ChecksumGroup(checksum, tuple(record_from_source(h["_source"]) for h in group))

    def content_groups(self, query: ContentQuery) -> Iterator[ContentGroup]:
        with self._reaching(), _unless_no_index():
            if query.min_copies <= 1 and not query.under:
                hits = self._iter_hits(content_scan_search(self.index, query))
                yield from grouped_copies(map(copy_from_hit, hits), query.min_copies)
                return
            body = content_keys_search(self.index, query).to_dict()
            buckets = composite_buckets(body, "contents", self._run)
            for page in _pages(buckets):
                checksums = wanted_checksums(page, query)
                if checksums:
                    hits = self._iter_hits(content_members_search(self.index, checksums, query))
                    yield from grouped_copies(map(copy_from_hit, hits), query.min_copies)

    @property
    def not_same_index(self) -> str:
        return f"{self.index}-not-same"

    def iter_fingerprints(
        self, device: str | None = None, prefix: str | None = None
    ) -> Iterator[Fingerprinted]:
        with self._reaching(), _unless_no_index():
            for hit in self._iter_hits(fingerprints_search(self.index, device, prefix)):
                yield fingerprint_from_hit(hit)

    def likeness_of(self, ids: Collection[str]) -> Iterator[tuple[str, bytes]]:
        with self._reaching(), _unless_no_index():
            for batch in batched(list(ids), PAGE_SIZE):
                search = records_search(self.index, Q("ids", values=batch), ["_doc"], ["likeness"])
                for hit in self._iter_hits(search):
                    data = hit["_source"].get("likeness")
                    if data is not None:
                        yield hit["_id"], base64.b64decode(data)

    def add_not_same(self, pairs: Iterable[tuple[str, str]]) -> int:
        now = datetime.now(UTC)
        known = set(self.iter_not_same())
        fresh = {ordered_pair(a, b) for a, b in pairs} - known
        with self._reaching():
            self._writable()
            for ok, item in helpers.streaming_bulk(
                self._client, (not_same_action(a, b, self.not_same_index, now) for a, b in sorted(fresh))
            ):
                if not ok:
                    raise StoreWriteError(f"Elasticsearch at {self._url} refused a decision: {item}")
            with suppress(ApiError):  # without the privilege, visible at the next periodic refresh
                self._client.indices.refresh(index=self.not_same_index)
        return len(fresh)

    def iter_not_same(self) -> Iterator[tuple[str, str]]:
        body = not_same_search(self.not_same_index).to_dict()  # (a, b) is unique: no point in time
        with self._reaching(), _unless_no_index():
            for hit in pit_hits(body, lambda page: self._run(page, self.not_same_index)):
                yield hit["_source"]["a"], hit["_source"]["b"]

    def add_location(self, device: str, path: str) -> None:
        with self._reaching():
            self._writable()
            action = location_action(device, path, self.locations_index, datetime.now(UTC))
            self._client.index(
                index=action["_index"], id=action["_id"], document=action["_source"], refresh=True
            )

    def remove_location(self, device: str, path: str) -> None:
        with self._reaching(), suppress(NotFoundError):
            self._writable()
            self._client.delete(index=self.locations_index, id=record_id(device, path), refresh=True)

    def iter_locations(self, device: str) -> Iterator[str]:
        body = locations_search(self.locations_index, device).to_dict()
        with self._reaching(), _unless_no_index():
            for hit in pit_hits(body, lambda page: self._run(page, self.locations_index)):
                source = hit["_source"]
                yield path_from_text(source["path"], source.get("path_raw"))

    def count(self, device: str | None = None, prefix: str | None = None) -> int:
        query: Query = Q("match_all")
        if prefix is not None:
            query = under_query(device, prefix)
        elif device is not None:
            query = Q("bool", filter=[Q("term", device=device)])
        with self._reaching(), _unless_no_index():
            self._make_visible()
            total = counted(self._client.count(index=self.index, query=query.to_dict()).body)
            return total if prefix is None else total - self._lookalikes(query, prefix)
        return 0

    def _lookalikes(self, query: Query, prefix: str) -> int:
        """Entries the text of `prefix` matched that are not below it by their bytes: only entries
        with `path_raw` can be (every one, under a prefix that is not UTF-8). Rare, and few."""
        if path_to_text(prefix)[1] is None:
            query = Q("bool", filter=[query, Q("exists", field="path_raw")])
        hits = self._iter_hits(records_search(self.index, query, ["_doc"], ["path", "path_raw"]))
        return sum(
            1
            for hit in hits
            if not is_under(path_from_text(hit["_source"]["path"], hit["_source"].get("path_raw")), prefix)
        )

    def summary(self) -> CatalogSummary:
        answer: Body | None = None
        with self._reaching(), _unless_no_index():
            answer = self._run(summary_search(self.index).to_dict())
        return CatalogSummary(0, 0, (), (), (), (), ()) if answer is None else summary_from_answer(answer)

    def duplicate_summary(self) -> DuplicateSummary:
        body = duplicates_search(self.index).to_dict()
        with self._reaching(), _unless_no_index():
            return duplicate_figures(composite_buckets(body, "contents", self._run))
        return DuplicateSummary(0, 0, 0)

    def close(self) -> None:
        try:
            with self._reaching():
                self._make_visible()
        finally:
            self._client.close()


@contextmanager
def _unless_no_index() -> Iterator[None]:
    """A read of an index that does not exist (nothing was ever written) finds nothing."""
    try:
        yield
    except NotFoundError as error:
        if not index_missing(error):
            raise


def summary_from_answer(answer: Body) -> CatalogSummary:
    """The summary from the answer to `summary_search`."""
    aggs = answer["aggregations"]

    def buckets(name: str) -> tuple[Bucket, ...]:
        return ranked(
            Bucket(_bucket_key(b), b["doc_count"], int(b["bytes"]["value"])) for b in aggs[name]["buckets"]
        )

    return CatalogSummary(
        records=answer["hits"]["total"]["value"],
        bytes=int(aggs["bytes"]["value"]),
        by_kind=buckets("kind"),
        by_format=buckets("format"),
        by_year=buckets("year"),
        by_camera=camera_buckets(
            (b["key"][0], b["key"][1], b["doc_count"], int(b["bytes"]["value"]))
            for b in aggs["camera"]["buckets"]
        ),
        by_device=buckets("device"),
        with_errors=aggs["with_errors"]["doc_count"],
        by_error=buckets("error"),
    )


def _bucket_key(bucket: Body) -> str:
    key = bucket["key"]
    text = " ".join(str(part) for part in key).strip() if isinstance(key, list) else str(key)
    return text or "unknown"


def _pages(buckets: Iterator[Body]) -> Iterator[list[Body]]:
    while page := list(itertools.islice(buckets, PAGE_SIZE)):
        yield page

"""The shared catalog: an Elasticsearch index whose mapping is built from the record's fields.

Reads that can exceed 10,000 hits page with a point in time and `search_after`; groupings page a
composite aggregation with `after_key`. Writes go through `helpers.streaming_bulk`. The request
bodies are built by pure functions (`under_query`, `members_search`, ...) so tests can check them
without a server; the paging loops (`pit_hits`, `composite_buckets`) take the function that runs
one request, so tests can feed them canned pages.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any, Final, cast

from elasticsearch import ApiError, AuthorizationException, Elasticsearch, TransportError, helpers
from elasticsearch.dsl import A, Q, Search
from elasticsearch.dsl.query import Query

from imgcat.catalog.base import (
    SUMMARY_BUCKETS,
    WRITE_BATCH,
    Bucket,
    CatalogSummary,
    ChecksumGroup,
    ContentCopy,
    ContentGroup,
    ContentQuery,
    FileState,
    Stamp,
    batched,
    camera_buckets,
    companions_from_json,
    grouped_copies,
    ranked,
)
from imgcat.errors import IncompatibleIndexError, StoreUnavailableError, StoreWriteError
from imgcat.record import (
    DERIVED_FROM_PATH,
    FIELDS,
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

DEFAULT_INDEX: Final = "catalog"
PAGE_SIZE: Final = 1000
KEEP_ALIVE: Final = "2m"

# The body of one search or aggregation request, and what Elasticsearch answers: JSON objects.
Body = dict[str, Any]
RunRequest = Callable[[Body], Body]


LABEL_IGNORE_ABOVE: Final = 1024  # characters; a keyword over 32,766 bytes is refused whole
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
    "properties": {name: body for spec in FIELDS for name, body in field_mapping(spec).items()},
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
_GEO: Final = tuple(spec.name for spec in FIELDS if spec.type is FieldType.GEO)


def location_action(device: str, path: str, index: str, now: datetime) -> Body:
    text, raw = path_to_text(path)
    source: Body = {"device": device, "path": text, "added_at": now.isoformat()}
    if raw is not None:
        source["path_raw"] = raw
    return {"_index": index, "_id": record_id(device, path), "_source": source}


def locations_search(index: str, device: str) -> Search:
    return Search(index=index).filter("term", device=device).sort("path").extra(size=PAGE_SIZE)


def record_to_source(record: MediaRecord) -> Body:
    """The document body: the record's JSON (no id: it is the `_id`), altitude beside the geo_point."""
    source: Body = record_to_json(record)
    del source["id"]
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


def move_actions(moves: Iterable[tuple[MediaRecord, str]], index: str) -> Iterator[Body]:
    for record, new_path in moves:
        yield from delete_actions([record.id], index)
        yield from index_actions([record.moved_to(new_path)], index)


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


STAMP_FIELDS: Final = ["path", "path_raw", "size", "mtime_ns", "extractor_version", "companions"]


def stamp_from_source(source: Body) -> Stamp:
    """The stamp of an entry from its `_source`, fetched with STAMP_FIELDS only."""
    sidecars = tuple(c["path"] for c in source.get("companions", []) if c["role"] == "sidecar")
    path = path_from_text(source["path"], source.get("path_raw"))
    return Stamp(path, source["size"], source["mtime_ns"], source["extractor_version"], sidecars)


STATE_FIELDS: Final = ["device", "path", "path_raw", "size", "mtime_ns", "inode", "checksum"]


def state_from_source(source: Body) -> FileState:
    """The state of an entry from its `_source`, fetched with STATE_FIELDS only."""
    path = path_from_text(source["path"], source.get("path_raw"))
    doc_id = record_id(source["device"], path)
    return FileState(doc_id, path, source["size"], source["mtime_ns"], source["inode"], source["checksum"])


def found_sources(answer: Body) -> Iterator[Body]:
    """The `_source` of each document an mget found; a document the server could not read (a
    missing index, a failed shard) is an error, not a missing entry."""
    for doc in answer["docs"]:
        if "error" in doc:
            raise StoreUnavailableError(f"Elasticsearch could not read document {doc['_id']}: {doc['error']}")
        if doc["found"]:
            yield doc["_source"]


def records_search(index: str, query: Query, sort: list[str], fields: list[str] | None = None) -> Search:
    search = Search(index=index).query(query).sort(*sort).extra(size=PAGE_SIZE)
    return search if fields is None else search.source(includes=fields)


def checksum_buckets_search(index: str) -> Search:
    search = Search(index=index).extra(size=0)
    search.aggs.bucket(
        "groups", "composite", size=PAGE_SIZE, sources=[{"checksum": A("terms", field="checksum")}]
    )
    return search


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


def summary_search(index: str) -> Search:
    search = Search(index=index).extra(size=0, track_total_hits=True)
    search.aggs.metric("bytes", "sum", field="size")
    for name, field in (("kind", "kind"), ("format", "format"), ("device", "device")):
        search.aggs.bucket(name, "terms", field=field, size=SUMMARY_BUCKETS, missing="unknown").metric(
            "bytes", "sum", field="size"
        )
    search.aggs.bucket(
        "year", "date_histogram", field="captured_at", calendar_interval="year", format="yyyy",
        min_doc_count=1, missing="0001-01-01",
    ).metric("bytes", "sum", field="size")  # fmt: skip
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
    """Every hit of a point-in-time search, page by page with `search_after`.

    `body` carries `pit` (id + keep_alive), `sort` and `size`; each answer may renew the pit id.
    """
    while True:
        page = run(body)
        hits: list[Body] = page["hits"]["hits"]
        yield from hits
        if len(hits) < body["size"]:
            return
        body = {
            **body,
            "pit": {**body["pit"], "id": page.get("pit_id", body["pit"]["id"])},
            "search_after": hits[-1]["sort"],
        }


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


class ElasticCatalog:
    """The catalog in an Elasticsearch index, shared by every device that points at it."""

    def __init__(self, client: Elasticsearch, url: str, index: str = DEFAULT_INDEX) -> None:
        self._client = client
        self._url = url
        self.index = index
        self._unrefreshed = False  # written since the last refresh
        with self._reaching():
            client.info()
            self._prepare_index()

    @property
    def location(self) -> str:
        return f"{self._url} index {self.index}"

    @contextmanager
    def _reaching(self) -> Iterator[None]:
        try:
            yield
        except TransportError as error:
            raise StoreUnavailableError(
                f"cannot reach Elasticsearch at {self._url}: {error.message}"
            ) from error
        except ApiError as error:
            raise StoreUnavailableError(
                f"Elasticsearch at {self._url} answered {error.meta.status}: {error.message}"
            ) from error

    def _prepare_index(self) -> None:
        wanted = MEDIA_MAPPING
        if self._client.indices.exists(index=self.index):
            existing = self._client.indices.get_mapping(index=self.index)
            mappings = next(iter(existing.body.values()))["mappings"]
            conflicts = sorted(mapping_conflicts(wanted, mappings))
            if conflicts:
                raise IncompatibleIndexError(
                    f"index {self.index} at {self._url} has an incompatible mapping "
                    f"({'; '.join(conflicts)}); left unchanged: choose another --index"
                )
        for index, mapping in ((self.index, MEDIA_MAPPING), (self.locations_index, LOCATION_MAPPING)):
            if self._client.indices.exists(index=index):
                self._client.indices.put_mapping(index=index, **mapping)
            else:
                self._client.indices.create(index=index, mappings=mapping)

    def _run(self, body: Body) -> Body:
        """One search request. A point-in-time search names no index (the PIT holds it); any
        other request is sent to this catalog's index, never to the whole cluster."""
        index = None if "pit" in body else self.index
        self._make_visible()
        answer: Body = self._client.search(index=index, body=body).body
        return answer

    def _bulk(self, actions: Iterable[Body]) -> int:
        done = 0
        failures: list[Body] = []
        for ok, item in helpers.streaming_bulk(
            self._client, actions, chunk_size=WRITE_BATCH, raise_on_error=False, max_retries=3
        ):
            outcome = next(iter(item.values()))
            if ok:
                done += 1
            elif outcome.get("status") != 404:
                failures.append(outcome)
        self._unrefreshed = self._unrefreshed or done > 0 or bool(failures)
        if failures:
            first = failures[0].get("error")
            refused = len(failures)
            raise StoreWriteError(f"Elasticsearch at {self._url} refused {refused} writes; first: {first}")
        return done

    def upsert_many(self, records: Iterable[MediaRecord]) -> int:
        with self._reaching():
            return self._bulk(index_actions(records, self.index))

    def get(self, device: str, path: str) -> MediaRecord | None:
        return self.get_many(device, [path]).get(path)

    def get_many(self, device: str, paths: Collection[str]) -> dict[str, MediaRecord]:
        found: dict[str, MediaRecord] = {}
        with self._reaching():
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

    def _make_visible(self) -> None:
        """Refresh the index if this store wrote to it since the last search: called before a
        search, which (unlike a get) sees only refreshed writes, and at close, so the next command
        sees this one's writes. One refresh per read after writes, none per write."""
        if not self._unrefreshed:
            return
        self._unrefreshed = False
        # Without the `maintenance` privilege, writes become visible at the index's next periodic
        # refresh (every second by default) instead.
        with suppress(AuthorizationException):
            self._client.indices.refresh(index=self.index)

    def _iter_hits(self, search: Search) -> Iterator[Body]:
        self._make_visible()
        pit = self._client.open_point_in_time(index=self.index, keep_alive=KEEP_ALIVE)
        body = search.index().extra(pit={"id": pit["id"], "keep_alive": KEEP_ALIVE}).to_dict()
        try:
            yield from pit_hits(body, self._run)
        finally:
            self._client.close_point_in_time(id=pit["id"])

    def iter_under(self, device: str | None, prefix: str, *, recursive: bool = True) -> Iterator[MediaRecord]:
        search = records_search(
            self.index, under_query(device, prefix, recursive=recursive), ["path", "device"]
        )
        with self._reaching():
            for hit in self._iter_hits(search):
                yield record_from_source(hit["_source"])

    def iter_stamps(self, device: str, prefix: str, *, recursive: bool = True) -> Iterator[Stamp]:
        query = under_query(device, prefix, recursive=recursive)
        search = records_search(self.index, query, ["_doc"], STAMP_FIELDS)
        with self._reaching():
            for hit in self._iter_hits(search):
                yield stamp_from_source(hit["_source"])

    def states_of(self, device: str, paths: Collection[str]) -> Iterator[FileState]:
        with self._reaching():
            ids = [record_id(device, p) for p in paths]
            for source in self._mget(ids, STATE_FIELDS):
                yield state_from_source(source)

    def with_checksums(self, checksums: Collection[str]) -> Iterator[MediaRecord]:
        with self._reaching():
            for batch in batched(sorted(set(checksums)), PAGE_SIZE):
                for hit in self._iter_hits(members_search(self.index, batch)):
                    yield record_from_source(hit["_source"])

    def with_content_ids(
        self, device: str, folder: str, content_ids: Collection[str]
    ) -> Iterator[MediaRecord]:
        with self._reaching():
            for batch in batched(sorted(set(content_ids)), PAGE_SIZE):
                for hit in self._iter_hits(content_ids_search(self.index, device, folder, batch)):
                    yield record_from_source(hit["_source"])

    def delete_many(self, ids: Iterable[str]) -> int:
        with self._reaching():
            return self._bulk(delete_actions(ids, self.index))

    def move_many(self, moves: Iterable[tuple[MediaRecord, str]]) -> int:
        with self._reaching():
            return self._bulk(move_actions(moves, self.index)) // 2

    def checksum_groups(self) -> Iterator[ChecksumGroup]:
        body = checksum_buckets_search(self.index).to_dict()
        with self._reaching():
            buckets = composite_buckets(body, "groups", self._run)
            for page in _pages(buckets):
                checksums = [b["key"]["checksum"] for b in page if b["doc_count"] > 1]
                if not checksums:
                    continue
                hits = self._iter_hits(members_search(self.index, checksums))
                for checksum, group in itertools.groupby(hits, key=lambda hit: hit["_source"]["checksum"]):
                    yield ChecksumGroup(checksum, tuple(record_from_source(h["_source"]) for h in group))

    def content_groups(self, query: ContentQuery) -> Iterator[ContentGroup]:
        with self._reaching():
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
    def locations_index(self) -> str:
        return f"{self.index}-locations"

    def add_location(self, device: str, path: str) -> None:
        with self._reaching():
            action = location_action(device, path, self.locations_index, datetime.now(UTC))
            self._client.index(
                index=action["_index"], id=action["_id"], document=action["_source"], refresh=True
            )

    def iter_locations(self, device: str) -> Iterator[str]:
        search = locations_search(self.locations_index, device).using(self._client)
        with self._reaching():
            for hit in search.execute():
                yield path_from_text(hit.path, hit.to_dict().get("path_raw"))

    def count(self, device: str | None = None, prefix: str | None = None) -> int:
        search = Search(using=self._client, index=self.index)
        if prefix is not None:
            search = search.query(under_query(device, prefix))
        elif device is not None:
            search = search.filter("term", device=device)
        with self._reaching():
            self._make_visible()
            return search.count()

    def summary(self) -> CatalogSummary:
        with self._reaching():
            answer = self._run(summary_search(self.index).to_dict())
        aggs = answer["aggregations"]

        def buckets(name: str) -> tuple[Bucket, ...]:
            return ranked(
                Bucket(_bucket_key(b), b["doc_count"], int(b["bytes"]["value"]))
                for b in aggs[name]["buckets"]
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

    def close(self) -> None:
        try:
            with self._reaching():
                self._make_visible()
        finally:
            self._client.close()


def _bucket_key(bucket: Body) -> str:
    if "key_as_string" in bucket and isinstance(bucket["key"], int):
        year = bucket["key_as_string"]
        return "unknown" if year == "0001" else year
    key = bucket["key"]
    text = " ".join(str(part) for part in key).strip() if isinstance(key, list) else str(key)
    return text or "unknown"


def _pages(buckets: Iterator[Body]) -> Iterator[list[Body]]:
    while page := list(itertools.islice(buckets, PAGE_SIZE)):
        yield page

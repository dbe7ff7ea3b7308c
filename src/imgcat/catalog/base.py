"""The catalog store interface, shared by the SQLite and Elasticsearch stores."""

from __future__ import annotations

import itertools
import operator
import posixpath
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, NamedTuple, Protocol, TypeVar, cast

from imgcat.record import (
    Companion,
    CompanionRole,
    ExtractError,
    Kind,
    MediaRecord,
    RecordJson,
    camera_name,
    hash_from_hex,
    path_from_text,
)

WRITE_BATCH = 500
SUMMARY_BUCKETS = 100

T = TypeVar("T")


class Stamp(NamedTuple):
    """Path, size, modification time, the extractor version that read the file and the sidecars
    linked to it: all an unchanged file costs a sync or a re-`add`."""

    path: str
    size: int
    mtime_ns: int
    extractor_version: int
    sidecars: tuple[str, ...] = ()


StampKey = tuple[str, int, int]  # (path, size, mtime_ns): what an unchanged file shares with its entry


def stamps_of_plain(plain: Iterable[StampKey], min_version: int) -> Iterator[Stamp]:
    """The stamps that `Catalog.plain_stamps(..., min_version)` stands for: each read by an
    extractor of at least `min_version` (all that deciding "unchanged" asks of it), no sidecar."""
    for path, size, mtime_ns in sorted(plain):
        yield Stamp(path, size, mtime_ns, min_version)


class FileState(NamedTuple):
    """What decides whether a cataloged file changed on disk: the cheap part of a record.
    A NamedTuple, not a frozen dataclass: as immutable, and 3x cheaper to build in a sync's loop."""

    id: str
    path: str
    size: int
    mtime_ns: int
    inode: int
    checksum: str


# The hashes `similar` searches, in the order of Fingerprinted.hashes (see scan/pixels.py).
HASH_FIELDS: Final = (
    "phash", "dhash", "phash_centre", "phash_left", "phash_right", "phash_top", "phash_bottom",
)  # fmt: skip
# A capture time that came from the file itself, not guessed from its name or modification time.
READ_CAPTURE_SOURCES: Final = ("exif", "video")


class Fingerprinted(NamedTuple):
    """The part of a picture's record that `similar` searches: small, streamed for every picture."""

    id: str
    device: str
    path: str
    checksum: str
    captured_at: datetime | None  # only a time read from the file (READ_CAPTURE_SOURCES)
    hashes: tuple[int | None, ...]  # HASH_FIELDS
    aspect: float | None = None  # displayed width / height


class JunkEntry(NamedTuple):
    """What judging a file for junk needs of its entry (`junk_candidates`, `captured_between`): a
    few fields, cheap to read for tens of thousands of entries. `get_many` gives whole records."""

    device: str
    path: str
    size: int
    mtime_ns: int
    checksum: str
    kind: str
    format: str
    make: str | None
    model: str | None
    captured_at: datetime | None
    display_width: int | None
    display_height: int | None
    duration_s: float | None
    brightness: float | None
    contrast: float | None
    clipped_dark: float | None
    clipped_bright: float | None
    edge_width: float | None
    phash: int | None
    errors: tuple[ExtractError, ...]

    @property
    def dir(self) -> str:
        return posixpath.dirname(self.path)

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)


# The stored fields a JunkEntry is made of (as the record's JSON names them; path_raw for paths).
JUNK_FIELDS: Final = (
    "device", "path", "path_raw", "size", "mtime_ns", "checksum", "kind", "format", "make", "model",
    "captured_at", "display_width", "display_height", "duration_s", "brightness", "contrast",
    "clipped_dark", "clipped_bright", "edge_width", "phash", "errors",
)  # fmt: skip


def junk_entry(values: Mapping[str, Any]) -> JunkEntry:
    """A JunkEntry from JUNK_FIELDS as stores keep them: the record's JSON values (a time as ISO
    text, the hash as hex, `errors` as a list of {stage, message})."""
    get = values.get
    captured, phash = get("captured_at"), get("phash")
    return JunkEntry(
        values["device"], path_from_text(values["path"], get("path_raw")), values["size"], values["mtime_ns"],
        values["checksum"], values["kind"], values["format"], get("make"), get("model"),
        None if captured is None else datetime.fromisoformat(captured), get("display_width"),
        get("display_height"), get("duration_s"), get("brightness"), get("contrast"), get("clipped_dark"),
        get("clipped_bright"), get("edge_width"), None if phash is None else hash_from_hex(phash),
        tuple(ExtractError(e["stage"], e["message"]) for e in get("errors") or ()),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ChecksumGroup:
    """Catalog entries that share one content checksum (two or more)."""

    checksum: str
    records: tuple[MediaRecord, ...]


@dataclass(frozen=True, slots=True)
class ContentQuery:
    """Which contents `content_groups` returns.

    `min_copies`: 2 for duplicates, 1 for every content (single copies too). `under`: only
    contents with at least one entry (any device) at or below one of these folders; the group
    still holds every entry of the content. `min_size` and `kind` filter the contents.
    """

    min_copies: int = 2
    under: tuple[str, ...] = ()
    min_size: int = 0
    kind: Kind | None = None


class ContentCopy(NamedTuple):
    """One catalog entry of a content, with what deciding between copies needs (no full record:
    planning over a million entries must stay cheap)."""

    id: str
    device: str
    path: str
    size: int
    mtime_ns: int
    inode: int
    checksum: str
    kind: str
    captured_at: datetime | None
    companions: tuple[Companion, ...]


@dataclass(frozen=True, slots=True)
class ContentGroup:
    """Every catalog entry of one content: same checksum, same size; copies by device, then path."""

    checksum: str
    size: int
    copies: tuple[ContentCopy, ...]


@dataclass(frozen=True, slots=True)
class JunkQuery:
    """Which entries `junk_candidates` returns: those under `prefix` (every folder when None) on
    `device` (every device when None) that meet at least one of the conditions set (None leaves a
    condition out). A superset: the caller judges each entry exactly (`policy.junk`).

    `damaged`: entries with anything in `errors`. `side_below`: pictures whose shown width or
    height is below this. The rest compare a stored measure: `contrast`, `brightness` (below or at
    least), `edge_width` (at least), `duration_s` (below)."""

    device: str | None = None
    prefix: str | None = None
    damaged: bool = False
    side_below: int | None = None
    contrast_below: float | None = None
    brightness_below: float | None = None
    brightness_at_least: float | None = None
    edge_width_at_least: float | None = None
    duration_below: float | None = None


@dataclass(frozen=True, slots=True)
class Bucket:
    key: str
    count: int
    bytes: int


@dataclass(frozen=True, slots=True)
class CatalogSummary:
    records: int
    bytes: int
    by_kind: tuple[Bucket, ...]
    by_format: tuple[Bucket, ...]
    by_year: tuple[Bucket, ...]
    by_camera: tuple[Bucket, ...]
    by_device: tuple[Bucket, ...]
    with_errors: int = 0  # entries with anything in `errors`: damaged, cut, partly read
    by_error: tuple[Bucket, ...] = ()  # those entries by the stage that failed (one may count twice)


@dataclass(frozen=True, slots=True)
class DuplicateSummary:
    """Exact duplicates over the whole catalog: contents held more than once (`groups`), the copies
    beyond one of each (`files`), and their bytes."""

    groups: int
    files: int
    bytes: int


class Catalog(Protocol):
    """A catalog store. Everything streams: no method loads the whole catalog.

    A `prefix` names a folder: it matches the entry at exactly that path and every entry below
    it (`/a/b` matches `/a/b/c.jpg`, never `/a/bc.jpg`). `device=None` means every device.
    """

    @property
    def location(self) -> str:
        """Where the catalog lives, for people (never with a password)."""
        ...

    def upsert_many(self, records: Iterable[MediaRecord]) -> int:
        """Insert or replace the records (by id); returns how many were written."""
        ...

    def get(self, device: str, path: str) -> MediaRecord | None: ...

    def get_many(self, device: str, paths: Collection[str]) -> dict[str, MediaRecord]:
        """The entries at `paths`, by path (unknown paths are left out), in one round trip per
        batch: what a loop over files asks instead of `get` per file."""
        ...

    def iter_under(self, device: str | None, prefix: str, *, recursive: bool = True) -> Iterator[MediaRecord]:
        """Records under the folder `prefix`, ordered by path; only its own files if not recursive."""
        ...

    def iter_json_under(
        self, device: str | None, prefix: str, *, recursive: bool = True
    ) -> Iterator[RecordJson]:
        """The records of `iter_under` as their JSON (`record_to_json`), in the same order, read
        straight from the store where it can: what `ls --catalog --jsonl` prints."""
        ...

    def iter_stamps(self, device: str, prefix: str, *, recursive: bool = True) -> Iterator[Stamp]:
        """(path, size, mtime, extractor version, sidecars) of every entry under `prefix`, from an
        index where the store can."""
        ...

    def plain_stamps(self, device: str, folder: str, min_version: int) -> set[StampKey] | None:
        """(path, size, mtime) of every entry directly in `folder`, when each was read by an
        extractor of at least `min_version` and has no sidecar; else None, and None too where the
        store cannot tell at once (a name kept by its bytes, other companions; a store whose every
        read is a round trip): the caller then reads the folder's `iter_stamps`. What a re-scan of
        an unchanged folder compares with the disk in one step, without an object per entry."""
        ...

    def iter_folders(self, device: str, prefix: str) -> Iterator[str]:
        """The folders at or below `prefix` that hold entries of `device`, each once, as paths (a
        name that is not UTF-8 by its bytes where the store keeps them): where a sync looks for
        entries whose folder is gone."""
        ...

    def states_of(self, device: str, paths: Collection[str]) -> Iterator[FileState]:
        """(id, path, size, mtime, inode, checksum) of the entries at `paths`; unknown ones are skipped."""
        ...

    def with_checksums(self, checksums: Collection[str]) -> Iterator[MediaRecord]:
        """Every entry (any device) whose content checksum is one of `checksums`."""
        ...

    def with_content_ids(
        self, device: str, folder: str, content_ids: Collection[str]
    ) -> Iterator[MediaRecord]:
        """The entries of `folder` (its own files, not below) that carry one of Apple's Live Photo
        `content_ids`, ordered by path: the other halves of the photos being cataloged."""
        ...

    def delete_many(self, ids: Iterable[str]) -> int:
        """Remove entries by id; returns how many existed."""
        ...

    def move_many(self, moves: Iterable[tuple[MediaRecord, str]]) -> int:
        """Give each record a new path, keeping everything else (first_seen too)."""
        ...

    def checksum_groups(self) -> Iterator[ChecksumGroup]:
        """Every group of two or more entries with the same checksum, ordered by checksum."""
        ...

    def content_groups(self, query: ContentQuery) -> Iterator[ContentGroup]:
        """Entries grouped by content (checksum and size), streamed in checksum order; groups with
        fewer than `query.min_copies` entries are left out."""
        ...

    def junk_candidates(self, query: JunkQuery) -> Iterator[JunkEntry]:
        """Every entry that meets one of the query's conditions (see `JunkQuery`), filtered in the
        store, in no particular order."""
        ...

    def captured_between(
        self, device: str, folder: str | None, start: datetime, end: datetime
    ) -> Iterator[JunkEntry]:
        """The entries of one folder (not below it; any folder when None) of `device` captured from
        `start` to `end`, both included, in capture order: the shots around a moment."""
        ...

    def iter_fingerprints(
        self, device: str | None = None, prefix: str | None = None
    ) -> Iterator[Fingerprinted]:
        """Every picture with a perceptual hash (under `prefix` on `device` if given), in no order."""
        ...

    def likeness_of(self, ids: Collection[str]) -> Iterator[tuple[str, bytes]]:
        """(id, likeness grid) of the entries with these ids that have one (`similar` compares them)."""
        ...

    def add_not_same(self, pairs: Iterable[tuple[str, str]]) -> int:
        """Remember that each pair of contents (checksums) shows different pictures; returns how
        many pairs were new. Kept by content, so moves, syncs and a fresh `add` keep them."""
        ...

    def iter_not_same(self) -> Iterator[tuple[str, str]]:
        """Every pair `add_not_same` remembered, each as (smaller checksum, larger)."""
        ...

    def add_location(self, device: str, path: str) -> None:
        """Remember a folder that `add` cataloged, so `sync` knows the roots of a device."""
        ...

    def iter_locations(self, device: str) -> Iterator[str]:
        """The folders `add` cataloged on `device`, sorted."""
        ...

    def remove_location(self, device: str, path: str) -> None:
        """Forget a folder `add` cataloged (its entries are not touched); nothing if it is not one."""
        ...

    def count(self, device: str | None = None, prefix: str | None = None) -> int: ...

    def summary(self) -> CatalogSummary: ...

    def duplicate_summary(self) -> DuplicateSummary:
        """How many contents are held more than once, and what the extra copies take: the figures
        `checksum_groups` would give, without reading the groups."""
        ...

    def close(self) -> None: ...


def is_under(path: str, folder: str, *, recursive: bool = True) -> bool:
    """Whether `path` is `folder` or lies below it (only directly in it, if not `recursive`),
    compared as the exact names they are: a name with the byte 0xFF is not one spelled `\\xff`.
    Stores match folders on text first; this settles what text alone cannot."""
    top = folder.rstrip("/") or "/"
    if not recursive:
        return posixpath.dirname(path) == top
    return path == top or path.startswith(top if top == "/" else top + "/")


def batched(items: Iterable[T], size: int = WRITE_BATCH) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def aspect_of(width: int | None, height: int | None) -> float | None:
    return width / height if width and height else None


def ordered_pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def ranked(buckets: Iterable[Bucket]) -> tuple[Bucket, ...]:
    """Buckets the way every store reports them: most entries first, then by key."""
    return tuple(sorted(buckets, key=lambda b: (-b.count, b.key))[:SUMMARY_BUCKETS])


_BY_DEVICE_AND_PATH: Final = operator.itemgetter(1, 2)  # ContentCopy's device, path


def grouped_copies(copies: Iterable[ContentCopy], min_copies: int) -> Iterator[ContentGroup]:
    """Copies ordered by (checksum, size) into groups of at least `min_copies`, each sorted by
    device then path: the one grouping both stores share."""
    for (checksum, size), members in itertools.groupby(copies, key=lambda c: (c.checksum, c.size)):
        group = sorted(members, key=_BY_DEVICE_AND_PATH)
        if len(group) >= min_copies:
            yield ContentGroup(checksum, size, tuple(group))


def companions_from_json(data: Iterable[dict[str, str]]) -> tuple[Companion, ...]:
    """Companions as the stores keep them in JSON (`role`, `path`, `path_raw` if not UTF-8)."""
    return tuple(
        Companion(cast(CompanionRole, c["role"]), path_from_text(c["path"], c.get("path_raw"))) for c in data
    )


def camera_buckets(pairs: Iterable[tuple[str | None, str | None, int, int]]) -> tuple[Bucket, ...]:
    """Buckets by camera from (make, model, count, bytes) groups, named as everywhere else
    (`camera_name`): "Canon" + "Canon EOS 1000D" and "" + "Canon EOS 1000D" are one camera."""
    merged: dict[str, tuple[int, int]] = {}
    for make, model, count, size in pairs:
        key = camera_name(make, model) or "unknown"
        before = merged.get(key, (0, 0))
        merged[key] = (before[0] + count, before[1] + size)
    return ranked(Bucket(key, count, size) for key, (count, size) in merged.items())

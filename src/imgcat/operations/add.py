"""`add`: catalog the photos and videos of a folder, incrementally and in parallel."""

from __future__ import annotations

import functools
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Final

from imgcat.catalog.base import Catalog, Stamp, stamps_of_plain
from imgcat.operations.damage import damage_reason, marked_damaged
from imgcat.operations.events import NoEvents, ScanEvents
from imgcat.operations.relink import relink_folder
from imgcat.record import MediaRecord
from imgcat.scan.checksum import file_checksum
from imgcat.scan.companions import link_companions, read_sidecar_time, sidecars_with_owner, unit_key
from imgcat.scan.pool import extraction_pool
from imgcat.scan.reading import EXTRACTOR_VERSION, Extraction, FileStat, all_unchanged, is_unchanged
from imgcat.scan.walk import Folder, walk_folders

if TYPE_CHECKING:
    from concurrent.futures import Executor

WINDOW_FILES: Final = 256
CHUNK_SIZE: Final = 4
_SIZE: Final = itemgetter(1)  # a FileStat's size


@dataclass
class AddReport:
    """What `add` did, file by file counted once."""

    root: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    moved: int = 0
    duplicates: int = 0
    damaged: int = 0
    not_media: int = 0
    skipped: int = 0
    errors: int = 0
    files_read: int = 0
    bytes_read: int = 0
    interrupted: bool = False
    problems: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Pending:
    """A folder whose changed files are being read."""

    folder: Folder
    known: dict[str, Stamp]
    to_read: list[FileStat]
    by_unit: dict[str, list[str]]  # the folder's file paths by unit key, built once for all its chunks


def add_folder(
    catalog: Catalog,
    root: str,
    *,
    device: str,
    recursive: bool,
    workers: int,
    events: ScanEvents | None = None,
    count_first: bool = False,
) -> AddReport:
    """Catalog every media file under `root`; unchanged files (same size and mtime) cost a stat."""
    events = events or NoEvents()
    report = AddReport(root)

    def problem(path: str, reason: str) -> None:
        report.problems.append((path, reason))
        events.problem(path, reason)

    if count_first:
        _count(root, recursive, events)
    catalog.add_location(device, root)
    try:
        with extraction_pool(workers) as pool:
            reader = _WindowReader(catalog, device, datetime.now(UTC), pool, report, events, problem)
            window: list[_Pending] = []
            for folder in walk_folders(root, recursive=recursive, on_problem=problem):
                report.skipped += folder.skipped
                for chunk in _plan_folder(catalog, device, folder, report, events):
                    window.append(chunk)
                    if sum(len(p.to_read) for p in window) >= WINDOW_FILES:
                        reader.submit(window)
                        window = []
            reader.submit(window)
            reader.finish()
    except KeyboardInterrupt:
        report.interrupted = True  # every window written so far is in the catalog
    return report


def _count(root: str, recursive: bool, events: ScanEvents) -> None:
    """Tell the progress display how much there is, streaming (nothing kept per file)."""
    files = size = 0
    for folder in walk_folders(root, recursive=recursive, on_problem=lambda path, reason: None):
        files += len(folder.files)
        size += sum(f.size for f in folder.files)
    events.planned(files, size)


def _plan_folder(
    catalog: Catalog, device: str, folder: Folder, report: AddReport, events: ScanEvents
) -> list[_Pending]:
    """The folder's new and changed files, in chunks of at most WINDOW_FILES (a big folder is
    written chunk by chunk, so memory stays flat and an interruption keeps what was read).
    A folder without sidecars whose files are all unchanged costs one look at the catalog and no
    Python code per file (a re-scan of an unchanged tree is mostly that)."""
    plain = None if folder.sidecars else catalog.plain_stamps(device, folder.path, EXTRACTOR_VERSION)
    if all_unchanged(plain, folder.files):
        if folder.files:
            report.unchanged += len(folder.files)
            events.advanced(len(folder.files), sum(map(_SIZE, folder.files)))
        return []  # no sidecar came or went beside them: none is on disk, none in their entries
    if plain is None:
        stamps = catalog.iter_stamps(device, folder.path, recursive=False)
    else:  # plain stamps stand for the folder's stamps: no second look
        stamps = stamps_of_plain(plain, EXTRACTOR_VERSION)
    known = {s.path: s for s in stamps}
    to_read = []
    unchanged = unchanged_bytes = 0
    for stat in folder.files:
        stamp = known.get(stat.path)
        if stamp is not None and is_unchanged(stamp, stat):
            unchanged += 1
            unchanged_bytes += stat.size
        else:
            to_read.append(stat)
    if unchanged:  # one step of progress per folder, not per file
        report.unchanged += unchanged
        events.advanced(unchanged, unchanged_bytes)
    _relink_if_sidecars_changed(catalog, device, folder, known, {s.path for s in to_read})
    by_unit: dict[str, list[str]] = {}
    if to_read:
        for stat in folder.files:
            by_unit.setdefault(unit_key(os.path.basename(stat.path)), []).append(stat.path)
    return [
        _Pending(folder, known, to_read[i : i + WINDOW_FILES], by_unit)
        for i in range(0, len(to_read), WINDOW_FILES)
    ]


def _relink_if_sidecars_changed(
    catalog: Catalog, device: str, folder: Folder, known: dict[str, Stamp], reading: set[str]
) -> None:
    """A sidecar that came or went beside an unchanged photo: relink the folder's records (those
    being read again get their links when they are written)."""
    stored = {sidecar for stamp in known.values() for sidecar in stamp.sidecars}
    if sidecars_with_owner(folder.sidecars, known) != stored:
        relink_folder(catalog, device, folder.path, folder.sidecars, skip=reading)


@dataclass
class _WindowReader:
    """Reads windows of files in the pool and writes them in order, keeping the next window
    queued while one is written, so that no core waits for the catalog or for a straggler."""

    catalog: Catalog
    device: str
    now: datetime
    pool: Executor | None
    report: AddReport
    events: ScanEvents
    problem: Callable[[str, str], None]
    in_flight: deque[tuple[list[_Pending], Iterator[Extraction]]] = field(default_factory=deque)

    @functools.cached_property
    def extract(self) -> Callable[[FileStat], Extraction]:
        """The reader, loaded with the first file to read (a re-scan of an unchanged tree never loads
        Pillow, numpy and the rest) and before the pool starts its workers, which inherit it."""
        from imgcat.scan.extract import extract_file

        return functools.partial(extract_file, device=self.device, now=self.now)

    def submit(self, window: list[_Pending]) -> None:
        stats = [stat for pending in window for stat in pending.to_read]
        if not stats:
            return
        pool = self.pool
        results = pool.map(self.extract, stats, chunksize=CHUNK_SIZE) if pool else map(self.extract, stats)
        self.in_flight.append((window, iter(results)))
        if len(self.in_flight) > 1:
            self._write(*self.in_flight.popleft())

    def finish(self) -> None:
        while self.in_flight:
            self._write(*self.in_flight.popleft())

    def _write(self, window: list[_Pending], results: Iterator[Extraction]) -> None:
        extractions = {e.stat.path: e for e in _advancing(results, self.events)}
        new_contents = {
            e.record.checksum
            for pending in window
            for e in (extractions[s.path] for s in pending.to_read)
            if e.record is not None and e.stat.path not in pending.known
        }
        # the entries holding these contents, looked up BEFORE the window is written: the window's
        # new entries are not read back (a first scan's lookups then find only real duplicates)
        earlier = list(self.catalog.with_checksums(new_contents)) if new_contents else []
        fresh: list[MediaRecord] = []
        written: list[MediaRecord] = []
        for pending in window:
            mine = [extractions[s.path] for s in pending.to_read]
            fresh.extend(
                _settle_folder(self.catalog, self.device, pending, mine, self.report, self.problem, written)
            )
        same_content = _as_written(earlier, written, new_contents)
        _count_duplicates_and_moves(self.catalog, self.device, fresh, same_content, self.report)


def _advancing(results: Iterable[Extraction], events: ScanEvents) -> Iterator[Extraction]:
    for extraction in results:
        events.advanced(1, extraction.stat.size)
        yield extraction


def _settle_folder(
    catalog: Catalog,
    device: str,
    pending: _Pending,
    extractions: list[Extraction],
    report: AddReport,
    problem: Callable[[str, str], None],
    written: list[MediaRecord],
) -> list[MediaRecord]:
    """Write one folder's new and changed records (with companions); return the new ones. Every
    record written is added to `written`."""
    records: list[MediaRecord] = []
    for extraction in extractions:
        report.files_read += 0 if extraction.not_media else 1
        report.bytes_read += 0 if extraction.not_media else extraction.stat.size
        if extraction.not_media and extraction.stat.path in pending.known:
            written.extend(_keep_damaged(catalog, device, extraction.stat, report, problem))
            continue
        if extraction.problem:
            problem(extraction.stat.path, extraction.problem)
        if extraction.not_media:
            report.not_media += 1
        elif extraction.record is None:
            report.skipped += 1
        else:
            report.errors += 1 if extraction.record.errors else 0
            records.append(extraction.record)
    if not records:
        return []
    changed = {r.path for r in records}
    earlier = catalog.get_many(device, [p for p in changed if p in pending.known])
    records = [_keep_history(r, earlier.get(r.path)) for r in records]
    report.updated += sum(1 for r in records if r.path in pending.known)
    neighbours = _companion_neighbours(catalog, device, pending, records, earlier.values())
    linked = link_companions(records + neighbours, pending.folder.sidecars, sidecar_time=read_sidecar_time)
    relinked = [r for r, before in zip(linked[len(records) :], neighbours, strict=True) if r != before]
    catalog.upsert_many(linked[: len(records)] + relinked)
    written.extend(linked[: len(records)] + relinked)
    return [r for r in linked[: len(records)] if r.path not in pending.known]


def _companion_neighbours(
    catalog: Catalog,
    device: str,
    pending: _Pending,
    records: list[MediaRecord],
    earlier: Iterable[MediaRecord],
) -> list[MediaRecord]:
    """The cataloged files of the folder that `records` may pair with, closed so that each is
    linked among all the files it may pair with: the files sharing a unit key (a stem, or an
    original's stem), those carrying the same Apple content identifier, and those linked before
    (to unlink them), then the same for each file found. Looked up in batches, a round or two."""
    folder = pending.folder.path
    changed = {r.path for r in records}
    found: dict[str, MediaRecord] = {}
    asked_paths, asked_ids = set(changed), set[str]()
    new = [*records, *earlier]
    while new:
        paths = {p for key in {unit_key(r.name) for r in new} for p in pending.by_unit.get(key, [])}
        paths.update(c.path for r in new for c in r.companions if c.role != "sidecar")
        paths -= asked_paths
        ids = {r.content_id for r in new if r.content_id} - asked_ids
        asked_paths |= paths
        asked_ids |= ids
        fetched = list(catalog.get_many(device, paths).values()) if paths else []
        fetched += catalog.with_content_ids(device, folder, ids) if ids else []
        new = [r for r in fetched if r.path not in changed and r.path not in found and r.dir == folder]
        found.update((r.path, r) for r in new)
    return [found[path] for path in sorted(found)]


def _keep_damaged(
    catalog: Catalog, device: str, stat: FileStat, report: AddReport, problem: Callable[[str, str], None]
) -> list[MediaRecord]:
    """A cataloged file that is no longer media keeps its entry, marked damaged (see `damage`);
    returns the entry written, if any."""
    earlier = catalog.get(device, stat.path)
    try:
        checksum = file_checksum(stat.path)
    except OSError as error:
        problem(stat.path, f"cannot read: {error.strerror or error}")
        return []
    if earlier is None:
        return []
    problem(stat.path, f"damaged: {damage_reason(stat, earlier)}; its entry is kept")
    marked = marked_damaged(earlier, stat, checksum, datetime.now(UTC))
    catalog.upsert_many([marked])
    report.damaged += 1
    return [marked]


def _keep_history(record: MediaRecord, earlier: MediaRecord | None) -> MediaRecord:
    return record if earlier is None else replace(record, first_seen=earlier.first_seen)


def _as_written(
    earlier: list[MediaRecord], written: list[MediaRecord], contents: set[str]
) -> list[MediaRecord]:
    """The catalog's entries holding `contents` after `written` went in, from those it held
    before (`earlier`): an entry written again counts as written (a changed file may no longer
    hold, or may now hold, one of the contents)."""
    rewritten = {r.id: r for r in written}
    kept = [rewritten.pop(e.id, e) for e in earlier]
    return [r for r in [*kept, *rewritten.values()] if r.checksum in contents]


def _count_duplicates_and_moves(
    catalog: Catalog,
    device: str,
    fresh: list[MediaRecord],
    entries: list[MediaRecord],
    report: AddReport,
) -> None:
    """A new file whose content is cataloged at a path of this device that no longer exists was
    moved there: it inherits that entry's history and the old entry goes. Otherwise, content
    cataloged elsewhere makes it a duplicate. `entries`: the catalog's entries holding the new
    files' contents (`_as_written`)."""
    if not fresh:
        return
    fresh_ids = {r.id for r in fresh}
    same_content: dict[str, list[MediaRecord]] = {}
    for other in entries:
        if other.id not in fresh_ids:
            same_content.setdefault(other.checksum, []).append(other)
    seen_in_batch: set[str] = set()
    moved_from: list[str] = []
    inherited: list[MediaRecord] = []
    present: dict[str, bool] = {}  # one lstat per path, however many new copies ask about it

    def is_gone(other: MediaRecord) -> bool:
        if other.path not in present:
            present[other.path] = os.path.lexists(other.path)
        return not present[other.path]

    for record in fresh:
        others = same_content.get(record.checksum, [])
        gone = next((o for o in others if o.device == device and is_gone(o)), None)
        if gone is not None:
            others.remove(gone)
            moved_from.append(gone.id)
            inherited.append(replace(record, first_seen=gone.first_seen))
            report.moved += 1
        elif others or record.checksum in seen_in_batch:
            report.duplicates += 1
            report.added += 1
        else:
            report.added += 1
        seen_in_batch.add(record.checksum)
    if inherited:
        catalog.upsert_many(inherited)
        catalog.delete_many(moved_from)

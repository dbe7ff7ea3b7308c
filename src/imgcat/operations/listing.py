"""`ls` and `types`: what the scanner sees in a folder, without touching the catalog."""

from __future__ import annotations

import functools
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from imgcat.operations.events import ScanEvents
from imgcat.record import MediaRecord
from imgcat.scan.companions import link_companions, read_sidecar_time
from imgcat.scan.detect import HEAD_BYTES, detect
from imgcat.scan.pool import extraction_pool
from imgcat.scan.walk import walk_folders


def scan_records(
    root: str, *, device: str, recursive: bool, workers: int, events: ScanEvents
) -> Iterator[MediaRecord]:
    """The records `add` would store for the media under `root`, folder by folder."""
    from imgcat.scan.extract import extract_file  # Pillow & co.: loaded by the commands that read files

    extract = functools.partial(extract_file, device=device, now=datetime.now(UTC))
    with extraction_pool(workers) as pool:
        for folder in walk_folders(root, recursive=recursive, on_problem=events.problem):
            results = pool.map(extract, folder.files, chunksize=4) if pool else map(extract, folder.files)
            records = []
            for extraction in results:
                if extraction.problem:
                    events.problem(extraction.stat.path, extraction.problem)
                if extraction.record is not None:
                    records.append(extraction.record)
            yield from link_companions(records, folder.sidecars, sidecar_time=read_sidecar_time)


@dataclass(frozen=True, slots=True)
class FileType:
    """Files of one extension and one detected content type."""

    extension: str
    content: str
    count: int
    bytes: int


def file_types(root: str, *, recursive: bool, events: ScanEvents) -> list[FileType]:
    """Every file type under `root`, by extension and by detected content, most common first.
    Reads the first bytes of each file; `content` is `kind/format`, or `other`."""
    counts: Counter[tuple[str, str]] = Counter()
    sizes: Counter[tuple[str, str]] = Counter()
    for folder in walk_folders(root, recursive=recursive, on_problem=events.problem):
        paths = [(f.path, f.size) for f in folder.files] + [(p, _size(p)) for p in folder.sidecars]
        for path, size in paths:
            ext = os.path.splitext(path)[1].lower().lstrip(".") or "(none)"
            key = (ext, _content(path, ext, events))
            counts[key] += 1
            sizes[key] += size
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [FileType(ext, content, count, sizes[(ext, content)]) for (ext, content), count in ranked]


def _content(path: str, ext: str, events: ScanEvents) -> str:
    try:
        with open(path, "rb") as file:
            head = file.read(HEAD_BYTES)
    except OSError as error:
        events.problem(path, f"cannot read: {error.strerror or error}")
        return "unreadable"
    found = detect(head, ext)
    return "other" if found is None else f"{found.kind}/{found.format}"


def _size(path: str) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0

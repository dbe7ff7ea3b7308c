"""Benchmark `imgcat similar`'s candidate search (run on demand, not a test):

    python bench/bench_similar.py [--hashes 1000000] [--groups 20000]

Builds a SQLite catalog of synthetic pictures whose 64-bit pHashes are random, with planted groups
of 2-4 pictures at Hamming distances 0-8 from their group's first, then times, in a child process
(so its peak memory is its own): streaming the fingerprints out of the catalog, the multi-index
hash search (catalog/hashindex.py) and the connected components. Every planted pair must be found.
Beside it, at 20,000 hashes: the same search, and a plain all-pairs comparison (numpy, blockwise).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from imgcat.catalog.hashindex import MAX_DISTANCE, close_pairs
from imgcat.catalog.sqlite import _INSERT, COLUMNS, SqliteCatalog, record_to_row
from imgcat.operations.similar import candidate_pairs, content_units
from imgcat.record import MediaRecord, hash_to_hex, record_id

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def build(db: Path, count: int, groups: int, seed: int = 7) -> set[tuple[str, str]]:
    """Write `count` pictures; return the planted close pairs (by path)."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**64, count, dtype=np.uint64)
    planted: set[tuple[str, str]] = set()
    k = 0
    for g in range(groups):
        size = 2 + g % 3
        if k + size > count:
            break
        for member in range(1, size):
            distance = (g + member) % (MAX_DISTANCE + 1)
            flips = rng.choice(64, distance, replace=False)
            hashes[k + member] = hashes[k] ^ np.uint64(sum(1 << int(b) for b in flips))
            planted.add((f"/p/{k:07d}.jpg", f"/p/{k + member:07d}.jpg"))
        k += size
    template = MediaRecord(
        device="bench", path="/p/x.jpg", size=1, mtime_ns=1, inode=1, checksum="", kind="image",
        format="jpeg", first_seen=NOW, scanned_at=NOW, extractor_version=2,
    )  # fmt: skip
    catalog = SqliteCatalog(db)
    base = list(record_to_row(template))
    at = {name: COLUMNS.index(name) for name in ("id", "path", "name", "checksum", "phash")}
    rows = []
    for i, value in enumerate(hashes.tolist()):
        row = base.copy()
        path = f"/p/{i:07d}.jpg"
        row[at["id"]], row[at["path"]], row[at["name"]] = record_id("bench", path), path, path[3:]
        row[at["checksum"]], row[at["phash"]] = f"{i:032x}", hash_to_hex(value)
        rows.append(tuple(row))
        if len(rows) == 50_000:
            _insert(catalog, rows)
            rows = []
    _insert(catalog, rows)
    catalog.close()
    return planted


def _insert(catalog: SqliteCatalog, rows: list[tuple[object, ...]]) -> None:
    catalog._db.execute("BEGIN")
    catalog._db.executemany(_INSERT, rows)
    catalog._db.execute("COMMIT")


def group(db: str, answer: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """In a child process: stream, search, join; report pairs, components, seconds and peak MB."""
    start = time.perf_counter()
    catalog = SqliteCatalog(Path(db))
    units, _ = content_units(catalog.iter_fingerprints())
    streamed = time.perf_counter() - start
    pairs = candidate_pairs(units, MAX_DISTANCE)
    parent = list(range(len(units)))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[root(a)] = root(b)
    components = len({root(a) for a, _ in pairs})
    elapsed = time.perf_counter() - start
    paths = {(units[a].path, units[b].path) for a, b in pairs}
    paths |= {(b, a) for a, b in paths}
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    answer.put((len(pairs), components, streamed, elapsed, peak_mb, paths))


def all_pairs_seconds(hashes: np.ndarray, limit: int) -> tuple[float, int]:
    start = time.perf_counter()
    found = 0
    for low in range(0, len(hashes), 2000):
        block = np.bitwise_count(hashes[low : low + 2000, None] ^ hashes[None, :]) <= limit
        found += int(block.sum())
    return time.perf_counter() - start, (found - len(hashes)) // 2


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hashes", type=int, default=1_000_000)
    parser.add_argument("--groups", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        db = Path(work) / "catalog.sqlite"
        start = time.perf_counter()
        planted = build(db, args.hashes, args.groups)
        print(
            f"catalog: {args.hashes:,} pictures, {len(planted):,} planted pairs at distances "
            f"0-{MAX_DISTANCE} (built in {time.perf_counter() - start:.0f} s)"
        )
        context = multiprocessing.get_context("spawn")
        answer: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
        child = context.Process(target=group, args=(str(db), answer))
        child.start()
        pairs, components, streamed, elapsed, peak_mb, found = answer.get()
        child.join()
        missed = [p for p in planted if p not in found]
        print(
            f"imgcat grouping: {elapsed:6.1f} s (streaming {streamed:.1f} s), peak {peak_mb:.0f} MB, "
            f"{pairs:,} close pairs in {components:,} groups; planted pairs missed: {len(missed)}"
        )
    rng = np.random.default_rng(3)
    small = rng.integers(0, 2**64, 20_000, dtype=np.uint64)
    start = time.perf_counter()
    ours = len(close_pairs(small, MAX_DISTANCE))
    ours_seconds = time.perf_counter() - start
    plain_seconds, plain = all_pairs_seconds(small, MAX_DISTANCE)
    print(f"at 20,000 hashes: index {ours_seconds:.2f} s ({ours} pairs), all pairs {plain_seconds:.2f} s "
          f"({plain} pairs); all pairs grows with the square: x{(args.hashes / 20_000) ** 2:,.0f} at "
          f"{args.hashes:,} = about {plain_seconds * (args.hashes / 20_000) ** 2 / 3600:.1f} h")  # fmt: skip


if __name__ == "__main__":
    main()

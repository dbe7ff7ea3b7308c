"""Benchmark `imgcat junk` (run on demand): python bench/bench_junk.py [--entries N] [--repeat R]

Fills a SQLite catalog with N synthetic photo and video entries (default 1,000,000; measures drawn
like real ones: sharp, well exposed photos, with about 4 % junk spread over the categories), then
times, in the same run, on the same warm catalog (best of R):
  - imgcat: `find_junk` over the whole catalog, as `imgcat junk --all-devices` runs it (the store
    filters by the stored measures; each candidate is judged and the list sorted worst first);
  - the same under one folder (a tenth of the catalog), as `imgcat junk PATH` runs it;
  - peer: every entry read back from the store (`iter_under`) and judged in Python, the way
    without a store-side filter (on a tenth of the catalog, scaled up to N: it grows linearly).
Filling the catalog is not timed. Run with: flock /work/team/bench.lock python bench/bench_junk.py
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.operations.junk import JunkReport, JunkRequest, find_junk
from imgcat.policy.junk import PRESETS, judge
from imgcat.record import ExtractError, MediaRecord

FOLDER_FILES = 500
FOLDERS_PER_ROOT = 200  # a tenth of a million entries under each /photos/NN
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def synthetic(count: int, seed: int = 14) -> Iterator[MediaRecord]:
    """Photos (and one video in twenty) with measures like real ones; some junk of every kind."""
    rng = random.Random(seed)
    for i in range(count):
        folder = i // FOLDER_FILES
        path = f"/photos/{folder // FOLDERS_PER_ROOT:02d}/{folder:05d}/IMG_{i:07d}.JPG"
        taken = NOW - timedelta(minutes=i)
        base = MediaRecord(
            device="bench", path=path, size=rng.randint(1_500_000, 5_000_000), mtime_ns=i, inode=i,
            checksum=f"{i:032x}", kind="image", format="jpeg", scanned_at=NOW, first_seen=NOW,
            extractor_version=5, width=4032, height=3024, display_width=4032, display_height=3024,
            captured_at=taken, captured_source="exif", make="Apple", model="iPhone 11 Pro",
            phash=rng.getrandbits(64), dhash=rng.getrandbits(64), sharpness=rng.uniform(300, 5000),
            brightness=rng.uniform(0.15, 0.7), contrast=rng.uniform(0.1, 0.3),
            clipped_dark=rng.uniform(0, 0.1), clipped_bright=rng.uniform(0, 0.1),
            entropy=rng.uniform(6, 7.8), edge_width=rng.gauss(0.55, 0.04),
        )  # fmt: skip
        yield _junk(base, rng.random(), rng) if i % 20 else _video(base, rng)


def _junk(record: MediaRecord, roll: float, rng: random.Random) -> MediaRecord:
    """About 4 % of photos are junk: blurred, dark, burnt out, blank, tiny or damaged."""
    changes: dict[str, object] = {}
    if roll < 0.015:
        changes = {"edge_width": rng.uniform(0.75, 1.6), "sharpness": rng.uniform(5, 200)}
    elif roll < 0.022:
        changes = {"brightness": rng.uniform(0.0, 0.03), "contrast": 0.01, "clipped_dark": 0.95}
    elif roll < 0.028:
        changes = {"brightness": rng.uniform(0.85, 1.0), "clipped_bright": rng.uniform(0.4, 0.95)}
    elif roll < 0.033:
        changes = {"contrast": rng.uniform(0.0, 0.015)}
    elif roll < 0.037:
        changes = {"display_width": 160, "display_height": 120, "width": 160, "height": 120}
    elif roll < 0.040:
        changes = {"errors": (ExtractError("pixels", "image file is truncated"),), "edge_width": None}
    return _with(record, changes)


def _video(record: MediaRecord, rng: random.Random) -> MediaRecord:
    duration = rng.uniform(0.2, 0.9) if rng.random() < 0.05 else rng.uniform(2, 120)
    return _with(record, {
        "path": record.path.replace(".JPG", ".MOV"), "kind": "video", "format": "mov", "duration_s": duration,
        "edge_width": None, "sharpness": None, "brightness": None, "contrast": None, "clipped_dark": None,
        "clipped_bright": None, "entropy": None, "phash": None, "dhash": None,
    })  # fmt: skip


def _with(record: MediaRecord, changes: dict[str, object]) -> MediaRecord:
    from dataclasses import replace

    return replace(record, **changes)  # type: ignore[arg-type]


def best_of(repeat: int, action: Callable[[], object]) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - start)
    return best, result


def judge_everything(catalog: SqliteCatalog, prefix: str) -> int:
    """The peer: every entry read back and judged in Python, no filter in the store."""
    thresholds = PRESETS["default"]
    return sum(1 for record in catalog.iter_under(None, prefix) if judge(record, thresholds))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="imgcat-bench-junk-") as scratch:
        catalog = SqliteCatalog(Path(scratch) / "catalog.sqlite")
        start = time.perf_counter()
        catalog.upsert_many(synthetic(args.entries))
        filled = time.perf_counter() - start
        size = (Path(scratch) / "catalog.sqlite").stat().st_size
        print(f"catalog: {args.entries:,} entries, {size / 1e6:.0f} MB, filled in {filled:.1f} s (not timed)")
        everything = JunkRequest(PRESETS["default"])
        whole, report = best_of(args.repeat, lambda: find_junk(catalog, everything))
        assert isinstance(report, JunkReport)
        one_root = JunkRequest(PRESETS["default"], prefix="/photos/00")
        part, part_report = best_of(args.repeat, lambda: find_junk(catalog, one_root))
        assert isinstance(part_report, JunkReport)
        tenth = min(args.entries, FOLDER_FILES * FOLDERS_PER_ROOT)
        peer, peer_found = best_of(1, lambda: judge_everything(catalog, "/photos/00"))
        peer_scaled = peer * args.entries / tenth
        catalog.close()
    found = len(report.candidates)
    counts = ", ".join(f"{report.count(c)} {c}" for c in ("broken", "tiny", "dark", "overexposed", "blank",
                                                          "blurry", "very-short"))  # fmt: skip
    part_found = len(part_report.candidates)
    print(f"imgcat junk, whole catalog (SQLite)       {whole:7.2f} s   {found:,} candidates ({counts})")
    print(f"imgcat junk PATH, a tenth of the catalog  {part:7.2f} s   {part_found:,} candidates")
    print(f"peer: read and judge every entry          {peer:7.2f} s   for {tenth:,} entries "
          f"({peer_found:,} found) -> {peer_scaled:.1f} s for {args.entries:,}")  # fmt: skip
    print()
    speedup = peer_scaled / whole
    print(f"whole catalog: {whole:.2f} s (target < 10 s); {speedup:.1f}x faster than judging every entry")


if __name__ == "__main__":
    main()

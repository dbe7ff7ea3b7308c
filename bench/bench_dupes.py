"""Benchmark `imgcat dupes` (on demand): python bench/bench_dupes.py [--entries N] [--groups G] [--sets 20,60]

(a) Planning at scale: a SQLite catalog of N synthetic entries (default 1,000,000) in G groups of
    identical content (default 200,000), written through the store's own `upsert_many`; then, in a
    fresh process, the whole plan (`plan_dupes`: every group read from the store, decided by the
    default policy, tallied), timed with its peak memory (max RSS of the process). Peer in the same
    run: the bare SQL that reads the same rows in content order, the floor any plan pays.
    On Elasticsearch too when IMGCAT_TEST_ES_URL is set (an index made for the run, deleted after).
(b) On a family tree, at two sizes (--sets 20,60: the ratio grows with the tree, as imgcat's fixed
    start-up weighs less): sets of distinct pictures and videos made from the test media (sizes as
    there) with the duplicates people have planted (a backup folder, " (1)" copies, Downloads, hard
    links, a copy changed after cataloging; about a third of the files in groups), cataloged; then
    `imgcat dupes` (the command, as a user runs it, its bytecode written as an install writes it,
    output to a pipe) next to `jdupes -r` (its defaults: hard links are not duplicates, as in
    imgcat) on the same tree, warm cache (one run of each first), best of 5 each.

Figures print as they come; run long ones under `flock /work/team/bench.lock`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from imgcat.catalog.base import Catalog, ContentQuery
from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.operations.add import add_folder
from imgcat.operations.dupes import DupesRequest, Tally, plan_dupes
from imgcat.policy import Policy
from imgcat.record import MediaRecord
from imgcat.scan.checksum import file_checksum

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "media"
REPEAT = 3


def synthetic(entries: int, groups: int) -> Iterator[MediaRecord]:
    """`entries` records in `groups` contents: copies in other folders, some named like copies."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(entries):
        group = i % groups
        copy = i // groups
        name = f"IMG_{group:06d}" + (" (1)" if copy == 2 else "") + ".jpg"
        yield MediaRecord(
            device="bench",
            path=f"/bench/{'backup' if copy else 'photos'}{copy}/{group // 500:04d}/{name}",
            size=100_000 + group,
            mtime_ns=1_600_000_000_000_000_000 + i,
            inode=i + 1,
            checksum=f"{group:032x}",
            kind="image",
            format="jpeg",
            captured_at=now + timedelta(seconds=group),
            scanned_at=now,
            first_seen=now,
            extractor_version=1,
        )


def plan_all(catalog: Catalog) -> Tally:
    request = DupesRequest(ContentQuery(), Policy(), frozenset({"bench"}), check_disk=False)
    tally = Tally()
    for group in plan_dupes(catalog, request):
        tally.add(group)
    return tally


def child_plan(store: str) -> None:
    """In a fresh process: plan everything once, print seconds, groups, removals and max RSS."""
    catalog = open_store(store)
    start, cpu = time.perf_counter(), time.process_time()
    tally = plan_all(catalog)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu": cpu,
                "groups": tally.groups,
                "remove": tally.removed,
                "peak_mb": peak_kb / 1024,
            }
        )
    )


def open_store(store: str) -> Catalog:
    if store.startswith("http"):
        from elasticsearch import Elasticsearch

        from imgcat.catalog.elastic import ElasticCatalog

        url, index = store.rsplit("#", 1)
        return ElasticCatalog(Elasticsearch(url, request_timeout=300), url, index)
    return SqliteCatalog(Path(store))


def measure_plan(store: str, label: str) -> None:
    best: dict[str, float] | None = None
    for _ in range(REPEAT):
        out = subprocess.run(
            [sys.executable, __file__, "--child-plan", store], capture_output=True, text=True, check=True
        ).stdout
        figures = json.loads(out)
        if best is None or figures["seconds"] < best["seconds"]:
            best = figures
    assert best is not None
    print(
        f"  {label}: plan of {best['groups']:,} groups ({best['remove']:,} files to remove) in "
        f"{best['seconds']:.1f} s ({best['cpu']:.1f} s of CPU), peak memory {best['peak_mb']:.0f} MB "
        f"(targets: < 20 s, < 500 MB); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )


def sql_floor(db: Path) -> float:
    """The bare query: the same columns of every entry in a duplicate group, in content order."""
    connection = sqlite3.connect(db)
    sql = (
        "SELECT id, device, path, path_raw, size, mtime_ns, inode, checksum, kind, captured_at, companions "
        "FROM media WHERE checksum IN (SELECT checksum FROM media GROUP BY checksum HAVING COUNT(*) >= 2) "
        "ORDER BY checksum, size"
    )
    start = time.process_time()
    for _ in connection.execute(sql):
        pass
    seconds = time.process_time() - start
    connection.close()
    return seconds


def scale(entries: int, groups: int, work: Path) -> None:
    print(f"(a) planning over {entries:,} synthetic entries in {groups:,} groups")
    db = work / f"synthetic-{entries}-{groups}.sqlite"
    if not db.exists():
        start = time.perf_counter()
        catalog = SqliteCatalog(db)
        catalog.upsert_many(synthetic(entries, groups))
        catalog.close()
        print(f"  built through upsert_many in {time.perf_counter() - start:.0f} s (not part of the figure)")
    best_floor = min(sql_floor(db) for _ in range(REPEAT))
    print(f"  peer, the bare SQL reading the same rows in content order: {best_floor:.1f} s of CPU")
    measure_plan(str(db), "SQLite")
    es_url = os.environ.get("IMGCAT_TEST_ES_URL")
    if es_url:
        from elasticsearch import Elasticsearch

        from imgcat.catalog.elastic import ElasticCatalog

        index = f"imgcat-bench-{os.getpid()}"
        shared = ElasticCatalog(Elasticsearch(es_url, request_timeout=300), es_url, index)
        try:
            shared.upsert_many(synthetic(entries, groups))
            shared.close()
            measure_plan(f"{es_url}#{index}", "Elasticsearch")
        finally:
            Elasticsearch(es_url).indices.delete(index=f"{index},{index}-locations", ignore_unavailable=True)
    else:
        print("  Elasticsearch: skipped (IMGCAT_TEST_ES_URL not set)")


def best_of(command: list[str], env: dict[str, str] | None = None, repeat: int = 5) -> tuple[float, float]:
    """Best wall time and best CPU time (user + system, of the process and its children) of
    `repeat` runs after one to warm up. On a loaded machine the CPU time is the steadier figure."""
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)  # warm
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(walls), min(cpus)


def build_tree(sets: int, work: Path) -> tuple[Path, Path]:
    """A family tree of `sets` sets of distinct pictures and videos (each set the test media, every
    file made distinct by a trailer of its own length: sizes and contents as in the test media,
    no two alike) and the duplicates people have: a backup folder holding a copy of every fourth
    set (one copy in ten a hard link), a copy named " (1)" beside every tenth JPEG, a third copy in
    Downloads of every twentieth backed-up file, one backup copy changed after cataloging.
    About a third of the files are in groups. Cataloged as `add` would: the first set by
    `imgcat add`, every other file by its original's record with its own size, mtime, inode and
    checksum (the same checksum function `add` uses), without `add`'s decoding cost per file."""
    tree = work / f"family-{sets}"
    db = work / f"family-{sets}.sqlite"
    if db.exists():
        return tree, db
    shutil.rmtree(tree, ignore_errors=True)
    originals = sorted(p.relative_to(MEDIA) for p in MEDIA.rglob("*") if p.is_file())
    made: list[tuple[Path, Path]] = []  # (file in the tree, the test media file it comes from)
    for k in range(sets):
        for relative in originals:
            target = tree / "Pictures" / f"set{k:03d}" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(MEDIA / relative, target)
            if k:
                with open(target, "ab") as handle:  # distinct content and size, as distinct pictures
                    handle.write(b"\0" * k)
            made.append((target, relative))
    planted: list[tuple[Path, Path]] = []
    for index, (target, relative) in enumerate(made):
        k = int(target.relative_to(tree / "Pictures").parts[0][3:])
        if k % 4 == 0:
            backup = tree / "Backup" / target.relative_to(tree)
            backup.parent.mkdir(parents=True, exist_ok=True)
            if index % 10 == 3:
                os.link(target, backup)  # one file, two names: not a duplicate for either tool
            else:
                shutil.copy2(target, backup)
            planted.append((backup, relative))
            if index % 20 == 0:
                download = tree / "Downloads" / f"{k:03d}-{target.name}"
                download.parent.mkdir(exist_ok=True)
                shutil.copy2(target, download)
                planted.append((download, relative))
        if target.suffix == ".jpg" and index % 10 == 0:
            beside = target.with_name(f"{target.stem} (1){target.suffix}")
            shutil.copy2(target, beside)
            planted.append((beside, relative))
    start = time.perf_counter()
    catalog = SqliteCatalog(db)
    first = tree / "Pictures" / "set000"
    report = add_folder(catalog, str(first), device="bench", recursive=True, workers=os.cpu_count() or 1)
    seconds = time.perf_counter() - start
    print(f"  cataloged the first set ({report.added:,} files) with imgcat add in {seconds:.0f} s")
    records = {r.path: r for r in catalog.iter_under("bench", str(first))}
    catalog.upsert_many(
        like(records[str(first / relative)], path)
        for path, relative in [*made[len(originals) :], *planted]
        if str(first / relative) in records
    )
    changed = next(p for p, _ in planted if p.parts[len(tree.parts)] == "Backup")
    with open(changed, "r+b") as handle:  # edited after cataloging: same size, other bytes
        handle.seek(-1, os.SEEK_END)
        handle.write(b"\1")
    catalog.close()
    return tree, db


def like(record: MediaRecord, path: Path) -> MediaRecord:
    """`record` (of the first set) as `add` would have stored it for the file at `path`."""
    info = path.stat()
    return replace(
        record,
        path=str(path),
        size=info.st_size,
        mtime_ns=info.st_mtime_ns,
        inode=info.st_ino,
        checksum=file_checksum(str(path)),
        companions=tuple(replace(c, path=str(path.parent / Path(c.path).name)) for c in record.companions)
        if path.name == Path(record.path).name  # a copy under another name has no companions beside it
        else (),
    )


def real_tree(sets: int, work: Path) -> None:
    jdupes = shutil.which("jdupes")
    if jdupes is None:
        print("(b) skipped: jdupes is not installed (Debian: jdupes)")
        return
    tree, db = build_tree(sets, work)
    files = [p for p in tree.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    print(
        f"(b) a family tree: {sets} sets of the test media made distinct, with planted duplicates: "
        f"{len(files):,} files, {size / 1e9:.2f} GB"
    )
    # imgcat as installed: pip writes the bytecode of every module at install time. Without it (this
    # environment sets PYTHONDONTWRITEBYTECODE) each run would compile ~170 modules first, ~0.5 s.
    # The warm-up run of `best_of` writes it.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"IMGCAT_DEVICE": "bench"}
    theirs, theirs_cpu = best_of([jdupes, "-r", "-q", str(tree)])
    quick = best_of([jdupes, "-r", "-q", "-Q", str(tree)])
    ours, ours_cpu = best_of([sys.executable, "-m", "imgcat", "dupes", "--db", str(db)], env)
    start_up = best_of([sys.executable, "-m", "imgcat", "--version"], env)
    bare = best_of([sys.executable, "-c", "pass"], env)
    floor = best_of([sys.executable, "-c", FLOOR, str(db)], env)
    in_process = _best(lambda: plan_all_checked(db))
    listing = subprocess.run([jdupes, "-r", "-q", str(tree)], capture_output=True, text=True, check=True)
    groups, members = _groups(listing.stdout)
    said = subprocess.run(
        [sys.executable, "-m", "imgcat", "dupes", "--db", str(db)], capture_output=True, text=True, env=env
    ).stdout.splitlines()
    print(
        f"  jdupes -r: {groups:,} groups of {members:,} files; imgcat dupes: {said[-3] if said[2:] else said}"
    )
    print(f"  peer, jdupes -r on the same tree, warm cache: {theirs:.3f} s ({theirs_cpu:.3f} s CPU)")
    print(
        f"  peer, jdupes -r -Q (hashes only, no byte-for-byte check: as a dry run trusts the catalog's "
        f"checksums): {quick[0]:.3f} s ({quick[1]:.3f} s CPU): {quick[0] / ours:.1f}x by wall time"
    )
    print(f"  imgcat dupes (the command, checked on disk, to a pipe): {ours:.3f} s ({ours_cpu:.3f} s CPU)")
    print(
        f"  of which start-up, 'imgcat --version': {start_up[0]:.3f} s ({start_up[1]:.3f} s CPU); "
        f"'python -c pass': {bare[0]:.3f} s ({bare[1]:.3f} s CPU)"
    )
    print(
        f"  the floor of any Python dupes (interpreter, sqlite3, the query, an lstat and a line per file): "
        f"{floor[0]:.3f} s ({floor[1]:.3f} s CPU): {theirs / floor[0]:.1f}x jdupes"
    )
    print(f"  the plan alone, in process: {in_process:.3f} s")
    print(
        f"  imgcat dupes is {theirs / ours:.1f}x faster than jdupes -r by wall time, "
        f"{theirs_cpu / ours_cpu:.1f}x by CPU time (target: >= 10x); "
        f"the plan alone {theirs / in_process:.1f}x; "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )


# What any dupes written in Python pays at least: the interpreter, sqlite3, the catalog's rows of
# every group, an lstat of each file, a line each; no policy, no imgcat.
FLOOR = r"""
import os, sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute(
    "SELECT path, size, mtime_ns, checksum FROM media WHERE checksum IN "
    "(SELECT checksum FROM media GROUP BY checksum HAVING COUNT(*) >= 2) ORDER BY checksum, size"
)
out = []
for path, size, mtime_ns, checksum in rows:
    info = os.lstat(path)
    state = "keep" if (info.st_size, info.st_mtime_ns) == (size, mtime_ns) else "changed"
    out.append(f"{checksum[:12]}\t{state}\t{path}\n")
sys.stdout.write("".join(out))
"""


def _groups(listing: str) -> tuple[int, int]:
    """Groups and files in jdupes' listing (groups separated by blank lines)."""
    blocks = [b for b in listing.split("\n\n") if b.strip()]
    return len(blocks), sum(len(b.strip().splitlines()) for b in blocks)


def plan_all_checked(db: Path) -> None:
    catalog = SqliteCatalog(db)
    request = DupesRequest(ContentQuery(), Policy(), frozenset({"bench"}))
    for _ in plan_dupes(catalog, request):
        pass
    catalog.close()


def _best(run: Callable[[], None]) -> float:
    run()
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--groups", type=int, default=200_000)
    parser.add_argument(
        "--sets", default="20,60", help="sizes of the family tree, in sets of the test media (comma list)"
    )
    parser.add_argument("--work", type=Path, help="folder for the catalogs and the tree (kept for reuse)")
    parser.add_argument("--only", choices=["scale", "tree"])
    parser.add_argument("--child-plan", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_plan:
        child_plan(args.child_plan)
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="imgcat-bench-dupes-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {work}")
    if args.only in (None, "scale"):
        scale(args.entries, args.groups, work)
    if args.only in (None, "tree"):
        for sets in args.sets.split(","):
            real_tree(int(sets), work)


if __name__ == "__main__":
    main()

"""Benchmark `imgcat dupes` (on demand): python bench/bench_dupes.py [--entries N] [--groups G] [--copies K]

(a) Planning at scale: a SQLite catalog of N synthetic entries (default 1,000,000) in G groups of
    identical content (default 200,000), written through the store's own `upsert_many`; then, in a
    fresh process, the whole plan (`plan_dupes`: every group read from the store, decided by the
    default policy, tallied), timed with its peak memory (max RSS of the process). Peer in the same
    run: the bare SQL that reads the same rows in content order, the floor any plan pays.
    On Elasticsearch too when IMGCAT_TEST_ES_URL is set (an index made for the run, deleted after).
(b) On a real tree: K copies of the shared test media (plus copies planted in the same folders),
    cataloged (the first copy by `imgcat add`, the others, whose files are byte and time equal,
    by the same records under their paths: what `add` would store, without K times its cost);
    then `imgcat dupes` (the command, as a user runs it, output to a
    pipe) next to `jdupes -r` on the same tree, warm cache, best of 3 each.

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
from datetime import UTC, datetime, timedelta
from pathlib import Path

from imgcat.catalog.base import Catalog, ContentQuery
from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.operations.add import add_folder
from imgcat.operations.dupes import DupesRequest, Tally, plan_dupes
from imgcat.policy import Policy
from imgcat.record import MediaRecord

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


def best_of(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Best wall time and best CPU time (user + system, of the process and its children) of
    REPEAT runs after one to warm up. On a loaded machine the CPU time is the steadier figure."""
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)  # warm
    walls, cpus = [], []
    for _ in range(REPEAT):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(walls), min(cpus)


def real_tree(copies: int, work: Path) -> None:
    jdupes = shutil.which("jdupes")
    if jdupes is None:
        print("(b) skipped: jdupes is not installed (Debian: jdupes)")
        return
    tree = work / f"tree-{copies}"
    db = work / f"tree-{copies}.sqlite"
    if not db.exists():
        shutil.rmtree(tree, ignore_errors=True)
        shutil.copytree(MEDIA, tree / "copy00")
        for photo in sorted((tree / "copy00").rglob("*.jpg"))[::4]:  # copies in the same folder
            shutil.copy2(photo, photo.with_name(f"{photo.stem} (1){photo.suffix}"))
        start = time.perf_counter()
        catalog = SqliteCatalog(db)
        report = add_folder(
            catalog, str(tree / "copy00"), device="bench", recursive=True, workers=os.cpu_count() or 1
        )
        print(f"  cataloged {report.added:,} files with imgcat add in {time.perf_counter() - start:.0f} s")
        first = list(catalog.iter_under("bench", str(tree / "copy00")))
        for n in range(1, copies):  # the other copies: the same files (times kept), the same records
            shutil.copytree(tree / "copy00", tree / f"copy{n:02d}")
            catalog.upsert_many(
                r.moved_to(r.path.replace(f"{tree}/copy00/", f"{tree}/copy{n:02d}/", 1)) for r in first
            )
        catalog.close()
    files = sum(1 for p in tree.rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())
    print(f"(b) a real tree: {copies} copies of the test media, {files:,} files, {size / 1e9:.2f} GB")
    env = {**os.environ, "IMGCAT_DEVICE": "bench"}
    ours, ours_cpu = best_of([sys.executable, "-m", "imgcat", "dupes", "--db", str(db)], env)
    start_up, start_up_cpu = best_of([sys.executable, "-m", "imgcat", "--version"], env)
    in_process = _best(lambda: plan_all_checked(db))
    theirs, theirs_cpu = best_of([jdupes, "-r", "-q", str(tree)])
    print(
        f"  imgcat dupes (the command, plan checked on disk, to a pipe): {ours:.2f} s ({ours_cpu:.2f} s CPU)"
    )
    print(
        f"  of which start-up, 'imgcat --version' (interpreter, Typer, Rich): {start_up:.2f} s "
        f"({start_up_cpu:.2f} s CPU)"
    )
    print(f"  the plan alone, in process: {in_process:.2f} s")
    print(f"  peer, jdupes -r on the same tree, warm cache: {theirs:.2f} s ({theirs_cpu:.2f} s CPU)")
    print(
        f"  imgcat dupes is {theirs / ours:.1f}x faster than jdupes -r by wall time, "
        f"{theirs_cpu / ours_cpu:.1f}x "
        f"by CPU time; the plan alone {theirs / in_process:.1f}x (target: >= 10x); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )


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
    parser.add_argument("--copies", type=int, default=20, help="copies of the test media in the real tree")
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
        real_tree(args.copies, work)


if __name__ == "__main__":
    main()

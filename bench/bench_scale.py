"""Benchmark imgcat at 1,000,000 entries (run on demand, under the bench lock):

    flock /work/team/bench.lock python bench/bench_scale.py [--entries 1000000] [--runs 3]
    python bench/bench_scale.py --prepare-only       # build the catalogs and the tree, no lock needed
    python bench/bench_scale.py --clean              # delete them (keep the disk free for others)

Builds, once (kept in --work, rebuilt when the generator or the catalog schema changes):
  - catalog A: N synthetic entries written through the store's own `upsert_many`: four devices
    (laptop, NAS, USB backup, phone), N/50 folders named like people's, one of exactly 500 entries,
    N/5 contents held twice (N/5 duplicate groups), Live Photo pairs, RAW+JPEG twins, sidecars,
    a few damaged files; real-looking checksums, perceptual hashes, capture times, cameras, GPS,
    video facts and quality measures;
  - a real tree of N files (hard links to sparse files of photo-like sizes, so it costs inodes for
    folders only) in N/50 folders, and catalog B: its N entries, cataloged once (records as A's,
    with each file's real size, mtime and inode), on one device.
Then times each command as a user runs it (a fresh `imgcat` process: imports, catalog, output),
best of --runs, with its peak memory, beside a peer measured in the same run:
  - `--version`, `--help`, a usage error          vs  `python -c pass`, `python -c 'import typer'`
  - `imgcat` (status), `stats` on A               vs  sqlite3 summing one column of A
  - `add -r` re-scan, `sync` of the unchanged tree vs  `find TREE -printf '%s %T@\\n'`
  - `ls --catalog -r --jsonl` of B's N entries    vs  `sqlite3 -json` printing the same rows
  - `ls --catalog -r` of A's 500-entry folder     vs  `imgcat --version` (the start-up floor)
  - catalog size in bytes per entry, with what each index costs (SQLite's dbstat).
Python's bytecode cache is allowed (a pip-installed imgcat has one): the first run writes it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final, cast

from imgcat.catalog.sqlite import COLUMNS, SCHEMA_VERSION, SqliteCatalog
from imgcat.record import Companion, ExtractError, GeoPoint, MediaRecord
from imgcat.scan.reading import EXTRACTOR_VERSION, FileStat

TESTDATA: Final = Path(__file__).resolve().parents[1] / ".." / "shared" / "testdata" / "media"

GENERATOR_VERSION: Final = 2  # bump when the synthetic records change: the catalogs are rebuilt
FOLDER_ENTRIES: Final = 50  # entries per folder on average: N/50 folders
BIG_FOLDER: Final = 500  # the one folder `ls --catalog DIR` lists
DUPLICATE_SHARE: Final = 5  # N/5 contents are held twice
LINKS_PER_SOURCE: Final = 50_000  # ext4 allows 65,000 links to one inode
TREE_DEVICE: Final = "bench"
SEED: Final = 15

# (device, share of entries, root): the laptop's root is made under --work, so `ls DIR` finds it.
DEVICES: Final = (
    ("anna-laptop", 0.45, "{work}/anna/Pictures"),
    ("nas", 0.30, "/volume1/photo/Family"),
    ("usb-backup", 0.17, "/media/anna/Backup 2018/Pictures"),
    ("phone", 0.08, "/storage/emulated/0/DCIM/Camera"),
)
CAMERAS: Final = (
    ("Apple", "iPhone 11 Pro", "iPhone 11 Pro back triple camera 4.25mm f/1.8", "heic"),
    ("Apple", "iPhone 6", "iPhone 6 back camera 4.15mm f/2.2", "jpeg"),
    ("Canon", "Canon EOS 350D DIGITAL", "EF-S18-55mm f/3.5-5.6", "cr2"),
    ("NIKON CORPORATION", "NIKON D70s", "18.0-70.0 mm f/3.5-4.5", "nef"),
    ("samsung", "SM-G991B", None, "jpeg"),
    ("Google", "Pixel 7", None, "jpeg"),
    ("FUJIFILM", "X-T3", "XF18-55mmF2.8-4 R LM OIS", "raf"),
    ("SONY", "ILCE-7M3", "FE 28-70mm F3.5-5.6 OSS", "arw"),
    ("Panasonic", "DMC-FZ200", None, "jpeg"),
    (None, None, None, "jpeg"),  # WhatsApp, scans, downloads: no camera
)
EVENTS: Final = (
    "Sardinia", "Christmas", "Birthday Lea", "Garden", "School play", "Ski trip", "Wedding Tom & Mia",
    "Zoo", "Paris", "Hiking", "First day of school", "Easter", "Beach", "Grandma 80", "Concert",
)  # fmt: skip
FORMATS: Final = {  # format → (extension, mime, kind)
    "jpeg": ("JPG", "image/jpeg", "image"), "heic": ("HEIC", "image/heic", "image"),
    "cr2": ("CR2", "image/x-canon-cr2", "image"), "nef": ("NEF", "image/x-nikon-nef", "image"),
    "raf": ("RAF", "image/x-fuji-raf", "image"), "arw": ("ARW", "image/x-sony-arw", "image"),
    "png": ("png", "image/png", "image"), "mp4": ("mp4", "video/mp4", "video"),
    "mov": ("MOV", "video/quicktime", "video"),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Folder:
    device: str
    path: str
    entries: int
    camera: int  # index into CAMERAS
    year: int


class Synthesizer:
    """Real-looking records, deterministic for a seed."""

    def __init__(self, seed: int, grids: Sequence[bytes]) -> None:
        self.rng = random.Random(seed)
        self.now = datetime(2025, 6, 1, 12, tzinfo=UTC)
        self.grids = grids

    def hex(self, bits: int) -> str:
        return f"{self.rng.getrandbits(bits):0{bits // 4}x}"

    def content(self, device: str, path: str, folder: Folder, size: int | None = None) -> MediaRecord:
        """A fresh content: one photo or video with everything `add` would measure."""
        rng = self.rng
        make, model, lens, native = CAMERAS[folder.camera]
        video = rng.random() < 0.08
        fmt = ("mov" if make == "Apple" else "mp4") if video else native
        if fmt in ("cr2", "nef", "raf", "arw") and rng.random() < 0.4:
            fmt = "jpeg"  # a RAW shooter's JPEGs
        ext, mime, kind = FORMATS[fmt]
        base, _ = os.path.splitext(path)
        path = f"{base}.{ext}"
        taken = datetime(folder.year, 1, 1) + timedelta(seconds=rng.randrange(365 * 86400))
        offset = rng.choice((60, 120, -300, 330, None))
        captured = taken.replace(tzinfo=timezone(timedelta(minutes=offset))) if offset is not None else taken
        source = "exif" if make and not video else ("video" if video else "mtime")
        width, height = rng.choice(((4032, 3024), (6000, 4000), (3456, 2304), (1920, 1080), (1600, 1200)))
        orientation = rng.choice((1, 1, 1, 6, 8, 3)) if not video else None
        turned = orientation in (6, 8)
        gps = (
            GeoPoint(rng.uniform(36, 55), rng.uniform(-5, 20), rng.uniform(0, 900))
            if rng.random() < 0.4
            else None
        )
        size = (
            size
            if size is not None
            else (rng.randrange(20_000_000, 400_000_000) if video else rng.randrange(800_000, 25_000_000))
        )
        errors = (
            (ExtractError("exif", f"truncated IFD at offset {rng.randrange(1 << 16)}"),)
            if rng.random() < 0.003
            else ()
        )
        pixels = {} if video else self.pixels()  # `add` measures the pixels of pictures only
        return MediaRecord(
            device=device, path=path, size=size, mtime_ns=int(taken.timestamp() * 1e9) + rng.randrange(10**9),
            inode=rng.getrandbits(40), checksum=self.hex(128), kind=kind, format=fmt, mime=mime,  # type: ignore[arg-type]
            ext_mismatch=rng.random() < 0.002, width=width, height=height, orientation=orientation,
            display_width=height if turned else width, display_height=width if turned else height,
            captured_at=captured, captured_offset=offset, captured_source=source,  # type: ignore[arg-type]
            make=make, model=model, lens=lens, software="17.5.1" if make == "Apple" else None, gps=gps,
            duration_s=round(rng.uniform(1, 300), 3) if video else None, fps=30.0 if video else None,
            video_codec="hevc" if video else None, audio_codec="aac" if video else None,
            bitrate=rng.randrange(2_000_000, 60_000_000) if video else None, rotation=0 if video else None,
            errors=errors, first_seen=self.now, scanned_at=self.now, extractor_version=EXTRACTOR_VERSION,
            **pixels,
        )  # fmt: skip

    def pixels(self) -> dict[str, Any]:
        """A picture's hashes, `similar` fingerprint (a real likeness grid: its size is what counts)
        and quality measures."""
        rng = self.rng
        return {
            "phash": rng.getrandbits(64), "dhash": rng.getrandbits(64),
            "phash_centre": rng.getrandbits(64), "phash_left": rng.getrandbits(64),
            "phash_right": rng.getrandbits(64), "phash_top": rng.getrandbits(64),
            "phash_bottom": rng.getrandbits(64), "likeness": rng.choice(self.grids),
            "border_share": 0.0 if rng.random() < 0.9 else round(rng.uniform(0.01, 0.25), 4),
            "sharpness": round(rng.uniform(0, 3000), 3), "brightness": round(rng.uniform(0, 1), 4),
            "contrast": round(rng.uniform(0, 0.5), 4), "clipped_dark": round(rng.random() / 10, 4),
            "clipped_bright": round(rng.random() / 10, 4), "entropy": round(rng.uniform(3, 8), 4),
            "edge_width": round(rng.uniform(1, 6), 3),
        }  # fmt: skip

    def with_partner(self, record: MediaRecord) -> list[MediaRecord]:
        """The record, with the file a camera made beside it: an iPhone still's Live Photo video,
        a RAW file's camera JPEG (and sometimes an XMP sidecar), each linked to the other."""
        rng = self.rng
        if record.format == "heic" and rng.random() < 0.5:
            identifier = f"{self.hex(128)}"
            video = replace(record, path=record.path[:-4] + "MOV", kind="video", format="mov",
                            mime="video/quicktime", size=record.size // 2, checksum=self.hex(128),
                            duration_s=2.8, content_id=identifier,
                            companions=(Companion("live_still", record.path),))  # fmt: skip
            still = replace(record, content_id=identifier, companions=(Companion("live_video", video.path),))
            return [still, video]
        if record.format in ("cr2", "nef", "raf", "arw") and rng.random() < 0.3:
            jpeg = replace(record, path=record.path.rsplit(".", 1)[0] + ".JPG", format="jpeg",
                           mime="image/jpeg", size=record.size // 4, checksum=self.hex(128),
                           companions=(Companion("raw", record.path),))  # fmt: skip
            sidecar = (Companion("sidecar", record.path + ".xmp"),) if rng.random() < 0.3 else ()
            return [replace(record, companions=(Companion("jpeg", jpeg.path), *sidecar)), jpeg]
        return [record]


def real_grids() -> list[bytes]:
    """The `similar` likeness grids today's `add` keeps for the test photos: each synthetic picture
    carries one, so the catalog's size is what `add` would make."""
    from imgcat.scan.extract import extract_file  # Pillow: only to build

    thumbs = []
    for path in sorted(TESTDATA.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            record = extract_file(FileStat.of(str(path)), "bench", datetime.now(UTC)).record
            if record is not None and record.likeness is not None:
                thumbs.append(record.likeness)
    if not thumbs:
        sys.exit(f"no pictures found in {TESTDATA} to take likeness grids from")
    return thumbs


def plan_folders(entries: int, work: str, rng: random.Random) -> list[Folder]:
    """About entries/50 folders over the devices, sized 1 to ~200 (skewed, as real albums are);
    the laptop's first folder holds exactly BIG_FOLDER entries."""
    folders: list[Folder] = []
    for device, share, root in DEVICES:
        wanted = int(entries * share)
        first = True
        while wanted > 0:
            size = (
                BIG_FOLDER
                if first and device == "anna-laptop"
                else max(1, int(rng.expovariate(1 / FOLDER_ENTRIES)))
            )
            size = min(size, wanted)
            year = rng.randrange(2004, 2025)
            camera = rng.randrange(len(CAMERAS))
            if device == "phone":
                path = root.format(work=work) + f"/{year}{rng.randrange(1, 13):02d}"
            else:
                day = datetime(year, 1, 1) + timedelta(days=rng.randrange(365))
                name = f"{day:%Y-%m-%d} {rng.choice(EVENTS)}" + (
                    "" if rng.random() < 0.8 else f" {len(folders)}"
                )
                path = root.format(work=work) + f"/{year}/{name}"
            folders.append(Folder(device, path, size, camera, year))
            wanted -= size
            first = False
    return folders


def synthetic_records(entries: int, work: str, thumbs: Sequence[bytes]) -> Iterator[MediaRecord]:
    """Catalog A's entries, folder by folder: one entry in DUPLICATE_SHARE is a copy (another
    folder, often another device: same content and name) of an earlier original, each original
    copied at most once."""
    synth = Synthesizer(SEED, thumbs)
    rng = synth.rng
    originals: list[MediaRecord] = []
    made = 0
    for folder in plan_folders(entries, work, rng):
        records: dict[str, MediaRecord] = {}
        number = rng.randrange(1, 9000)
        while len(records) < folder.entries:
            if made % DUPLICATE_SHARE == DUPLICATE_SHARE - 1 and originals:
                pick = rng.randrange(len(originals))
                originals[pick], originals[-1] = originals[-1], originals[pick]
                source = originals.pop()
                name = source.path.rsplit("/", 1)[1]
                new = [replace(source, device=folder.device, path=f"{folder.path}/{name}",
                               inode=rng.getrandbits(40), companions=())]  # fmt: skip
            else:
                number += 1
                new = [synth.content(folder.device, f"{folder.path}/IMG_{number:04d}.JPG", folder)]
                if len(records) + 2 <= folder.entries:
                    new = synth.with_partner(new[0])
                originals.extend(new)
                if len(originals) > 40_000:
                    del originals[:20_000]
            for record in new:
                if record.path not in records:
                    records[record.path] = record
                    made += 1
        yield from records.values()


def build_tree(root: Path, entries: int) -> list[tuple[str, os.stat_result]]:
    """N files in N/50 folders, hard links to sparse files of photo sizes (no data blocks); returns
    (folder, stat of its files' source) per folder."""
    sources = root.parent / "sources"
    sources.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    stats: list[os.stat_result] = []
    for i in range(entries // LINKS_PER_SOURCE + 1):
        source = sources / f"source-{i:03d}.JPG"
        with open(source, "wb") as file:
            file.write(b"\xff\xd8\xff\xe1")
            file.truncate(rng.randrange(1_000_000, 8_000_000))
        stats.append(source.stat())
    folders: list[tuple[str, os.stat_result]] = []
    made = 0
    while made < entries:
        number = len(folders)
        folder = root / f"{2004 + number % 21}" / f"{number:05d} {EVENTS[number % len(EVENTS)]}"
        folder.mkdir(parents=True)
        source_index = made // LINKS_PER_SOURCE
        count = min(FOLDER_ENTRIES, entries - made)
        for j in range(count):
            os.link(sources / f"source-{source_index:03d}.JPG", folder / f"IMG_{j:04d}.JPG")
        folders.append((str(folder), stats[source_index]))
        made += count
    return folders


def tree_records(folders: list[tuple[str, os.stat_result]], thumbs: Sequence[bytes]) -> Iterator[MediaRecord]:
    """Catalog B: each file of the tree as `add` would have cataloged it (real size, mtime, inode)."""
    synth = Synthesizer(SEED + 1, thumbs)
    for number, (path, stat) in enumerate(folders):
        folder = Folder(TREE_DEVICE, path, FOLDER_ENTRIES, number % len(CAMERAS), 2004 + number % 21)
        for name in sorted(os.listdir(path)):
            record = synth.content(TREE_DEVICE, f"{path}/{name}", folder, size=stat.st_size)
            yield replace(record, path=f"{path}/{name}", kind="image", format="jpeg", mime="image/jpeg",
                          mtime_ns=stat.st_mtime_ns, inode=stat.st_ino)  # fmt: skip


# ---- building, once ------------------------------------------------------------------------------


def stamp_of(entries: int) -> str:
    return f"entries={entries} generator={GENERATOR_VERSION} extractor={EXTRACTOR_VERSION}"


def migrate(catalog: Path) -> None:
    """Open a catalog built by an older imgcat: its schema is migrated, and the time it took shown."""
    db = sqlite3.connect(catalog)
    version = db.execute("PRAGMA user_version").fetchone()[0]
    db.close()
    if version != SCHEMA_VERSION:
        start = time.perf_counter()
        SqliteCatalog(catalog).close()
        took = time.perf_counter() - start
        print(f"migrated {catalog.name} from schema {version} to {SCHEMA_VERSION} in {took:.1f} s")


def prepare(work: Path, entries: int) -> tuple[Path, Path, Path, str]:
    """Catalog A, the tree and catalog B (built unless already there for this stamp)."""
    work.mkdir(parents=True, exist_ok=True)
    stamp_file, catalog_a, catalog_b, tree = (
        work / "stamp",
        work / "a.sqlite",
        work / "b.sqlite",
        work / "tree",
    )
    big_folder = next(f.path for f in plan_folders(entries, str(work), random.Random(SEED)))
    wanted = stamp_of(entries)
    if stamp_file.exists() and stamp_file.read_text() == wanted:
        migrate(catalog_a)
        migrate(catalog_b)
        return catalog_a, catalog_b, tree, big_folder
    needed_bytes, needed_inodes = entries * 4000, entries // FOLDER_ENTRIES * 2 + 1000
    disk = os.statvfs(work)
    if disk.f_bavail * disk.f_frsize < needed_bytes * 2 or disk.f_favail < needed_inodes * 2:
        sys.exit(f"not enough room in {work}: need ~{needed_bytes / 1e9:.1f} GB and {needed_inodes} inodes")
    for old in (catalog_a, catalog_b, stamp_file):
        for path in (old, Path(f"{old}-wal"), Path(f"{old}-shm")):
            path.unlink(missing_ok=True)
    shutil.rmtree(work / "anna", ignore_errors=True)
    Path(big_folder).mkdir(parents=True, exist_ok=True)
    thumbs = real_grids()
    print(f"{len(thumbs)} real likeness grids, {sum(map(len, thumbs)) / len(thumbs):,.0f} bytes on average")
    start = time.perf_counter()
    catalog = SqliteCatalog(catalog_a)
    written = catalog.upsert_many(synthetic_records(entries, str(work), thumbs))
    for device, _, root in DEVICES:
        catalog.add_location(device, root.format(work=work))
    catalog.close()
    print(f"built catalog A: {written} entries in {time.perf_counter() - start:.0f} s", flush=True)
    start = time.perf_counter()
    shutil.rmtree(tree, ignore_errors=True)
    shutil.rmtree(work / "sources", ignore_errors=True)
    folders = build_tree(tree, entries)
    print(f"built the tree: {entries} files in {len(folders)} folders in {time.perf_counter() - start:.0f} s")
    start = time.perf_counter()
    catalog = SqliteCatalog(catalog_b)
    written = catalog.upsert_many(tree_records(folders, thumbs))
    catalog.add_location(TREE_DEVICE, str(tree))
    catalog.close()
    print(f"built catalog B: {written} entries in {time.perf_counter() - start:.0f} s", flush=True)
    stamp_file.write_text(wanted)
    return catalog_a, catalog_b, tree, big_folder


# ---- measuring -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timing:
    wall: float  # best of the runs, seconds
    cpu: float  # user + system of that best run
    peak: int  # the most memory any run held, bytes
    out_bytes: int  # what it printed (last run)


PYTHON_WALK: Final = """
import os, sys
pending, files = [sys.argv[1]], 0
while pending:
    with os.scandir(pending.pop()) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                pending.append(entry.path)
            elif entry.is_file(follow_symlinks=False):
                entry.stat(follow_symlinks=False)
                files += 1
print(files)
"""


def measure(command: Sequence[str], runs: int, *, codes: tuple[int, ...] = (0,)) -> Timing:
    """Run a command `runs` times; the best wall time, its CPU time, and the peak resident memory."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    best = Timing(float("inf"), 0.0, 0, 0)
    peak = 0
    for _ in range(runs):
        with tempfile.TemporaryFile() as errors:
            start = time.perf_counter()
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, env=env)
            assert process.stdout is not None
            printed = 0
            while chunk := process.stdout.read(1 << 16):
                printed += len(chunk)
            _, status, usage = os.wait4(process.pid, 0)
            wall = time.perf_counter() - start
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode not in codes:
                errors.seek(0)
                sys.exit(
                    f"{' '.join(command)} failed ({process.returncode}): {errors.read().decode()[-2000:]}"
                )
        peak = max(peak, usage.ru_maxrss * 1024)
        if wall < best.wall:
            best = Timing(wall, usage.ru_utime + usage.ru_stime, 0, printed)
    return replace(best, peak=peak)


def in_process(statement: str, runs: int) -> float:
    """The best wall time of a statement run in one Python process (imports and start-up left out)."""
    setup = "from pathlib import Path; from imgcat.catalog.sqlite import SqliteCatalog"
    script = (
        f"import time; {setup}\nbest = float('inf')\nfor _ in range({runs}):\n"
        f"    start = time.perf_counter(); {statement}; best = min(best, time.perf_counter() - start)\n"
        "print(best)"
    )
    return float(subprocess.run([sys.executable, "-c", script], capture_output=True, check=True).stdout)


def line(label: str, took: Timing, peer_label: str, peer: Timing, target: str, ok: bool) -> str:
    return (
        f"{label:<38} {took.wall:8.3f} s  cpu {took.cpu:7.3f} s  {took.peak / 2**20:6.0f} MB | "
        f"{peer_label:<30} {peer.wall:8.3f} s  {took.wall / peer.wall:6.2f}x | "
        f"{target:<22} {'✔' if ok else '✘'}"
    )


def index_costs(catalog: Path) -> list[tuple[str, int]]:
    """Bytes on disk of each table and index (SQLite's dbstat)."""
    db = sqlite3.connect(catalog)
    try:
        return list(db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"))
    finally:
        db.close()


def _stored_bytes(value: object) -> int:
    """Bytes a value takes in a SQLite row: its serial type in the row header, its body."""
    if value is None:
        return 1
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**47:
        value = int(value)  # a REAL column keeps a whole number as an integer
    if isinstance(value, int):
        if value in (0, 1):
            return 1
        magnitude = value if value >= 0 else ~value
        return 1 + next(
            n for n, bits in ((1, 7), (2, 15), (3, 23), (4, 31), (6, 47), (8, 63)) if magnitude >> bits == 0
        )
    if isinstance(value, float):
        return 9
    body = len(value.encode() if isinstance(value, str) else cast(bytes, value))
    serial = body * 2 + 13
    return body + (1 if serial < 1 << 7 else 2 if serial < 1 << 14 else 3)


def field_costs(catalog: Path, sample: int = 20_000) -> list[tuple[str, float]]:
    """Bytes per entry each column of `media` takes in its rows, from a sample of rows."""
    db = sqlite3.connect(catalog)
    try:
        total = db.execute("SELECT MAX(rowid) FROM media").fetchone()[0] or 1
        step = max(1, total // sample)
        cursor = db.execute(f"SELECT * FROM media WHERE rowid % {step} = 0")
        names = [d[0] for d in cursor.description]
        sums = [0] * len(names)
        rows = 0
        for row in cursor:
            rows += 1
            for i, value in enumerate(row):
                sums[i] += _stored_bytes(value)
    finally:
        db.close()
    costs = sorted(
        ((name, size / max(rows, 1)) for name, size in zip(names, sums, strict=True)), key=lambda c: -c[1]
    )
    return costs


def fresh_layout(catalog: Path, work: Path, share: int = 10) -> tuple[int, int, int]:
    """One entry in `share` of `catalog` copied into a catalog this imgcat makes now (its page size,
    its indexes): (entries, bytes in use, page size). A kept catalog keeps the pages it was made with."""
    sample = work / "fresh-sample.sqlite"
    for path in (sample, Path(f"{sample}-wal"), Path(f"{sample}-shm")):
        path.unlink(missing_ok=True)
    SqliteCatalog(sample).close()
    db = sqlite3.connect(sample, isolation_level=None)
    try:
        columns = ", ".join(COLUMNS)
        db.execute("ATTACH ? AS kept", (str(catalog),))
        db.execute(
            f"INSERT INTO media ({columns}) SELECT {columns} FROM kept.media WHERE rowid % {share} = 0"
        )
        db.execute("DETACH kept")
        entries = db.execute("SELECT COUNT(*) FROM media").fetchone()[0]
        used = db.execute("SELECT SUM(pgsize) FROM dbstat").fetchone()[0]
        page = db.execute("PRAGMA page_size").fetchone()[0]
    finally:
        db.close()
        for path in (sample, Path(f"{sample}-wal"), Path(f"{sample}-shm")):
            path.unlink(missing_ok=True)
    return entries, used, page


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "imgcat-bench-scale")
    parser.add_argument("--prepare-only", action="store_true")
    parser.add_argument("--clean", action="store_true", help="delete the catalogs and the tree, then exit")
    parser.add_argument(
        "--only", choices=["catalog"], help="catalog: the catalog's measures only (status, stats, ls, size)"
    )
    args = parser.parse_args()
    work = args.work / str(args.entries)
    if args.clean:
        shutil.rmtree(work, ignore_errors=True)
        print(f"removed {work}")
        return
    catalog_a, catalog_b, tree, big_folder = prepare(work, args.entries)
    if args.prepare_only:
        return
    n, runs = args.entries, args.runs
    python, imgcat = sys.executable, [sys.executable, "-m", "imgcat"]
    measure([*imgcat, "--version"], 1)  # writes the bytecode cache, as an install does
    print(f"{n:,} entries; best of {runs}; peak memory over all runs; load {os.getloadavg()[0]:.1f}")
    pass_ = measure([python, "-c", "pass"], runs)
    typer = measure([python, "-c", "import typer"], runs)
    results: list[str] = []
    start_up = () if args.only else (("--version", ["--version"]), ("--help", ["--help"]),
                                     ("usage error", ["add", "--bogus"]))  # fmt: skip
    for label, args_ in start_up:
        took = measure([*imgcat, *args_], runs, codes=(0, 2))
        results.append(line(f"imgcat {label}", took, "python -c pass", pass_, "< 0.2 s", took.wall < 0.2))
        results.append(line("", took, "python -c 'import typer'", typer, "", took.wall < 0.2))
    sums = measure(["sqlite3", str(catalog_a), "SELECT COUNT(*), SUM(size) FROM media"], runs)
    groups = measure(
        ["sqlite3", str(catalog_a), "SELECT kind, COUNT(*), SUM(size) FROM media GROUP BY 1"], runs
    )
    for label, args_ in (("imgcat (status)", []), ("imgcat stats", ["stats"])):
        took = measure([*imgcat, *args_, "--db", str(catalog_a)], runs)
        results.append(line(label, took, "sqlite3 count+sum", sums, "< 1 s", took.wall < 1))
        results.append(line("", took, "sqlite3 group by kind", groups, "", took.wall < 1))
    if not args.only:
        find = measure(["find", str(tree), "-printf", "%s %T@\\n"], runs)
        # the floors of any re-scan in Python: the walk alone (scandir + lstat of each file), and
        # reading the tree's stamps from the catalog's folder index (what imgcat reads them from)
        walk = measure([python, "-c", PYTHON_WALK, str(tree)], runs)
        stamps = measure(
            ["sqlite3", str(catalog_b), "SELECT dir, name, size, mtime_ns, extractor_version, companions "
             f"FROM media WHERE device = '{TREE_DEVICE}' AND dir >= '{tree}' AND dir < '{tree}0'"],
            runs,
        )  # fmt: skip
    device = ["--device", TREE_DEVICE, "--db", str(catalog_b)]
    rescans = () if args.only else (("imgcat add -r (unchanged)", ["add", "-r", str(tree), "-q"]),
                                    ("imgcat sync (unchanged)", ["sync", str(tree), "-q"]))  # fmt: skip
    for label, args_ in rescans:
        took = measure([*imgcat, *args_, *device], runs)
        ok = took.wall <= 3 * find.wall and took.peak < 300 * 2**20
        results.append(line(label, took, "find -printf '%s %T@'", find, "<= 3x find, < 300 MB", ok))
        results.append(line("", took, "python scandir+lstat walk", walk, "(floor: the walk)", ok))
        results.append(line("", took, "sqlite3 the tree's stamps", stamps, "(floor: the stamps)", ok))
    # the same rows in the same order (by path, on the path index), best of the same runs
    rows = measure(
        ["sqlite3", "-json", str(catalog_b), f"SELECT * FROM media WHERE device = '{TREE_DEVICE}' "
         f"AND path >= '{tree}/' AND path < '{tree}0' ORDER BY path"],
        runs,
    )  # fmt: skip
    listing = measure([*imgcat, "ls", "--catalog", "-r", "--jsonl", str(tree), *device], runs)
    ok = listing.wall < 30 and listing.peak < 200 * 2**20
    results.append(
        line(
            "imgcat ls --catalog -r --jsonl", listing, "sqlite3 -json same rows", rows, "< 30 s, < 200 MB", ok
        )
    )
    folder = measure(
        [*imgcat, "ls", "--catalog", "-r", big_folder, "--device", "anna-laptop", "--db", str(catalog_a)],
        runs,
    )
    version = measure([*imgcat, "--version"], runs)
    results.append(
        line(
            "imgcat ls --catalog -r DIR (500)",
            folder,
            "imgcat --version",
            version,
            "< 0.3 s",
            folder.wall < 0.3,
        )
    )
    query = in_process(
        f"list(SqliteCatalog(Path({str(catalog_a)!r})).iter_under('anna-laptop', {big_folder!r}))", runs
    )
    results.append(
        f"{'':<38} {query:8.3f} s  of it: the query in a running process (open + read 500 entries)"
    )
    print("\n".join(results))
    for catalog, label in ((catalog_a, "A (4 devices)"), (catalog_b, "B (the tree)")):
        size = catalog.stat().st_size
        costs = index_costs(catalog)
        used = sum(pages for _, pages in costs)
        verdict = "✔" if used / n < 1024 else "✘"
        with contextlib.closing(sqlite3.connect(catalog)) as db:
            page = db.execute("PRAGMA page_size").fetchone()[0]
        print(
            f"catalog {label}, {page // 1024} kB pages: {used / n:,.0f} bytes per entry in use, "
            f"< 1 KB {verdict} "
            f"(file {size / n:,.0f}: pages freed by migrations are reused, not returned)"
        )
        print(
            "   tables and indexes: "
            + ", ".join(f"{name} {pages / n:,.0f}" for name, pages in costs if pages >= n / 2)
        )
        columns = field_costs(catalog)
        in_rows = sum(cost for _, cost in columns)
        media = dict(costs).get("media", 0) / n
        print(
            f"   media's rows: {in_rows:,.0f} bytes of fields per entry, "
            f"{media - in_rows:,.0f} of row and page overhead; by column:"
        )
        print("   " + ", ".join(f"{name} {cost:,.0f}" for name, cost in columns if cost >= 1.5))
        entries, used, page = fresh_layout(catalog, catalog.parent)
        verdict = "✔" if used / entries < 1024 else "✘"
        print(
            f"   laid out by this imgcat ({page // 1024} kB pages; one entry in 10 copied into a new "
            f"catalog): {used / entries:,.0f} bytes per entry, < 1 KB {verdict}"
        )
    print(f"JSON lines of B: {listing.out_bytes / n:,.0f} bytes per entry")
    print(json.dumps({"entries": n, "load": os.getloadavg()}))


if __name__ == "__main__":
    main()

"""Benchmark `imgcat reorganize` (run on demand): python bench/bench_reorganize.py [--files N] [--repeat R]

Builds N small real JPEGs (EXIF DateTimeOriginal spread over ten years, folders of 200), then, in
the same run, on identical copies of that tree (hard-linked copies, made outside the timings):
  - peer: `exiftool '-Directory<DateTimeOriginal' -d DEST/%Y/%m -r SRC` (reads every file's EXIF,
    moves it);
  - imgcat: `reorganize SRC --dest DEST --pattern '<year>/<month>'`, plan + apply (the dates are in
    the catalog; the plan checks each file with a stat; a move is a rename), on SQLite.
The catalog is filled from the files' stat and known dates, as `add` would record them. Each figure
is the best of R runs (warm cache). Run with: flock /work/team/bench.lock python bench/bench_reorganize.py
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import piexif
import xxhash
from PIL import Image

from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.layout import parse_pattern
from imgcat.operations.reorganize import ReorganizePlan, apply_reorganize, plan_reorganize
from imgcat.record import MediaRecord

FOLDER_FILES = 200
FIRST = datetime(2012, 1, 1, 9, 0, 0)


def taken_at(i: int) -> datetime:
    return FIRST + timedelta(days=(i * 37) % 3650, seconds=i % 86_000)


def build_master(root: Path, files: int) -> dict[str, datetime]:
    """N small JPEGs with distinct EXIF dates; returns relative path → capture time."""
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (120, 90, 60)).save(buffer, "JPEG", quality=80)
    plain = buffer.getvalue()
    dates: dict[str, datetime] = {}
    for i in range(files):
        when = taken_at(i)
        taken = when.strftime("%Y:%m:%d %H:%M:%S").encode()
        exif = piexif.dump(
            {
                "0th": {piexif.ImageIFD.Make: b"Canon", piexif.ImageIFD.Model: b"Canon EOS 350D"},
                "Exif": {piexif.ExifIFD.DateTimeOriginal: taken},
            }
        )
        out = io.BytesIO()
        piexif.insert(exif, plain, out)
        relative = f"{i // FOLDER_FILES:04d}/IMG_{i:06d}.JPG"
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(out.getvalue())
        dates[relative] = when
    return dates


def linked_copy(master: Path, target: Path) -> None:
    subprocess.run(["cp", "-al", str(master), str(target)], check=True)


def fill_catalog(
    catalog: SqliteCatalog, root: Path, dates: dict[str, datetime], checksums: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    records = []
    for relative, when in dates.items():
        path = str(root / relative)
        st = os.stat(path)
        records.append(
            MediaRecord(
                device="bench", path=path, size=st.st_size, mtime_ns=st.st_mtime_ns, inode=st.st_ino,
                checksum=checksums[relative], kind="image", format="jpeg", scanned_at=now, first_seen=now,
                extractor_version=99, captured_at=when, captured_source="exif", make="Canon",
                model="Canon EOS 350D",
            )
        )  # fmt: skip
    catalog.upsert_many(records)
    catalog.add_location("bench", str(root))


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def plan_timed(catalog: SqliteCatalog, source: Path, dest: Path) -> tuple[float, ReorganizePlan]:
    start = time.perf_counter()
    plan = plan_reorganize(
        catalog, [str(source)], parse_pattern("<year>/<month>"), device="bench", destination=str(dest)
    )
    return time.perf_counter() - start, plan


def layout_of(dest: Path) -> Counter[str]:
    return Counter(os.path.relpath(folder, dest) for folder, _, names in os.walk(dest) for _ in names)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    exiftool = shutil.which("exiftool")
    if exiftool is None:
        raise SystemExit("exiftool is needed (Debian: libimage-exiftool-perl)")
    with tempfile.TemporaryDirectory(prefix="imgcat-bench-reorganize-") as scratch:
        base = Path(scratch)
        master = base / "master"
        dates = build_master(master, args.files)
        checksums = {r: xxhash.xxh3_128_hexdigest((master / r).read_bytes()) for r in dates}
        os.environ.setdefault("XDG_DATA_HOME", str(base / "xdg-data"))  # the runs' journals
        peer_times: list[float] = []
        ours_plan: list[float] = []
        ours_apply: list[float] = []
        for run in range(args.repeat):
            theirs, their_dest = base / f"exiftool-{run}", base / f"exiftool-{run}-dest"
            linked_copy(master, theirs)
            command = [exiftool, "-q", "-q", "-r", "-d", f"{their_dest}/%Y/%m", "-Directory<DateTimeOriginal",
                       str(theirs)]  # fmt: skip
            peer_times.append(timed(functools.partial(subprocess.run, command, check=True)))
            ours, our_dest = base / f"imgcat-{run}", base / f"imgcat-{run}-dest"
            linked_copy(master, ours)
            catalog = SqliteCatalog(base / f"catalog-{run}.sqlite")
            fill_catalog(catalog, ours, dates, checksums)
            took, plan = plan_timed(catalog, ours, our_dest)
            ours_plan.append(took)
            assert len(list(plan.files())) == args.files, plan.totals()
            start = time.perf_counter()
            result = apply_reorganize(catalog, plan, device="bench")
            ours_apply.append(time.perf_counter() - start)
            assert result.done == args.files and not result.skipped and not result.failed, result
            if run == 0:
                assert layout_of(our_dest) == layout_of(their_dest), "imgcat and exiftool disagree"
            catalog.close()
        print(f"tree: {args.files} cataloged JPEGs, folders of {FOLDER_FILES}, one filesystem")
        print(f"each figure: best of {args.repeat}")
        peer = min(peer_times)
        total = min(p + a for p, a in zip(ours_plan, ours_apply, strict=True))
        rows = (
            ("peer: exiftool '-Directory<DateTimeOriginal' -d DEST/%Y/%m -r", peer),
            ("imgcat reorganize: plan (stat check, placing, collisions)", min(ours_plan)),
            ("imgcat reorganize: apply (journaled renames, catalog)", min(ours_apply)),
            ("imgcat reorganize: plan + apply", total),
        )
        for label, seconds in rows:
            print(f"{label:<64} {seconds:8.2f} s")
        print(f"imgcat plan + apply is {peer / total:.1f}x faster than exiftool (target: at least 5x)")


if __name__ == "__main__":
    main()

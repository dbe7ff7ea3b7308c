"""Benchmark `imgcat add` (run on demand, not a test): python bench/bench_add.py [--files N]

Builds a tree of real photos (copies of ../shared/testdata JPEG and HEIC images under distinct
names), then times, in one run and on the same warm tree:
  - imgcat add, first scan (metadata + hashes + quality + store) and unchanged re-scan (SQLite;
    Elasticsearch too when IMGCAT_TEST_ES_URL is set);
  - peer: `exiftool -json -r` over the tree (metadata only);
  - peer: the plain imagehash way (PIL open + full decode + phash), in a pool of all cores;
  - floor: every image merely decoded at 1/8 scale (Pillow draft), in a pool of all cores;
  - imgcat's own fingerprinting alone (draft decode + pHash + dHash + quality), same pool.
The first scan, the floor and the fingerprinting run in turns (best of --repeat each), so that a
change of load falls on all three; CPU seconds (all processes) are printed beside the wall times.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import imagehash
import pillow_heif
from PIL import Image

from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.operations.add import add_folder
from imgcat.scan.pixels import pixel_facts, work_image
from imgcat.settings import worker_count

TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"
pillow_heif.register_heif_opener()


def source_photos(formats: set[str]) -> list[Path]:
    with open(TESTDATA / "MANIFEST.tsv", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    keep = [r["path"] for r in rows if r["format"] in formats and "broken" not in r["path"]]
    return [TESTDATA / p for p in keep if "odd_exif" not in p]


def build_tree(root: Path, files: int, formats: set[str]) -> tuple[int, int]:
    photos = source_photos(formats)
    total = 0
    for i in range(files):
        source = photos[i % len(photos)]
        folder = root / f"{i // 500:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{i:06d}_{source.name}"
        shutil.copyfile(source, target)
        total += target.stat().st_size
    return files, total


def plain_phash(path: str) -> str:
    with Image.open(path) as image:
        image.load()
        return str(imagehash.phash(image))


def draft_floor(path: str) -> tuple[int, int]:
    with Image.open(path) as image:
        image.draft("RGB", (image.width // 8, image.height // 8))
        image.load()
        return image.size


def our_fingerprint(path: str) -> int:
    with Image.open(path) as image:
        return pixel_facts(work_image(image, 1)).fingerprint.phash


def best_of(repeat: int, action: Callable[[], object]) -> float:
    """The best of `repeat` runs: the figure least disturbed by whatever else the machine does."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


@dataclass
class Measure:
    """One contender's runs: wall and CPU seconds (this process and its reaped workers)."""

    action: Callable[[], object]
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)

    def run(self) -> None:
        wall, cpu = time.perf_counter(), _cpu_seconds()
        self.action()
        self.walls.append(time.perf_counter() - wall)
        self.cpus.append(_cpu_seconds() - cpu)

    @property
    def wall(self) -> float:
        return min(self.walls)

    @property
    def cpu(self) -> float:
        return min(self.cpus)


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def interleaved(repeat: int, measures: dict[str, Measure]) -> None:
    """Run the measures in turns (a, b, c, a, b, c, ...): a change of load during the run falls
    on all of them alike, not on whichever ran in that minute."""
    for _ in range(repeat):
        for measure in measures.values():
            measure.run()


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def run_pool(function: Callable[[str], object], paths: list[str], workers: int) -> None:
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(function, paths, chunksize=8))


def first_scan(scratch: Path, root: Path, workers: int) -> None:
    """A first scan into a new, empty catalog."""
    db = scratch / "first.sqlite"
    for leftover in scratch.glob("first.sqlite*"):
        leftover.unlink()
    add_folder(SqliteCatalog(db), str(root), device="bench", recursive=True, workers=workers)


def line(name: str, seconds: float, files: int, size: int) -> None:
    print(f"{name:<46} {seconds:8.2f} s {files / seconds:9.1f} files/s {size / seconds / 1e6:8.1f} MB/s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=worker_count())
    parser.add_argument(
        "--formats", default="jpeg,heic", help="formats of the shared media to copy (comma list)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per measure; the best counts")
    parser.add_argument(
        "--floor-only",
        action="store_true",
        help="only the first scan, the floor and the fingerprinting (no exiftool, no plain pHash)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="imgcat-bench-") as scratch:
        work = Path(scratch)
        root = work / "tree"
        files, size = build_tree(root, args.files, set(args.formats.split(",")))
        paths = [str(p) for p in sorted(root.rglob("*")) if p.is_file()]
        for path in paths:  # warm the page cache, as the targets assume
            Path(path).read_bytes()
        print(
            f"tree: {files} photos ({args.formats}), {size / 1e6:.0f} MB, "
            f"{args.workers} workers, best of {args.repeat}; {load()}"
        )
        measures = {
            "first": Measure(lambda: first_scan(work, root, args.workers)),
            "floor": Measure(lambda: run_pool(draft_floor, paths, args.workers)),
            "ours": Measure(lambda: run_pool(our_fingerprint, paths, args.workers)),
        }
        interleaved(args.repeat, measures)
        first, floor, ours = (measures[name].wall for name in ("first", "floor", "ours"))
        catalog = SqliteCatalog(work / "first.sqlite")
        again = best_of(
            args.repeat, lambda: add_folder(catalog, str(root), device="bench", recursive=True, workers=0)
        )
        line("imgcat add, first scan (SQLite)", first, files, size)
        line("imgcat add, unchanged re-scan (SQLite)", again, files, size)
        es_url = os.environ.get("IMGCAT_TEST_ES_URL")
        if es_url:
            from elasticsearch import Elasticsearch

            from imgcat.catalog.elastic import ElasticCatalog

            es = ElasticCatalog(Elasticsearch(es_url), es_url, "imgcat-bench")
            scan = lambda: add_folder(es, str(root), device="bench", recursive=True, workers=args.workers)  # noqa: E731
            line("imgcat add, first scan (Elasticsearch)", best_of(1, scan), files, size)
            line("imgcat add, unchanged re-scan (Elasticsearch)", best_of(1, scan), files, size)
            Elasticsearch(es_url).indices.delete(index="imgcat-bench,imgcat-bench-locations")
        exiftool = plain = None
        if shutil.which("exiftool") and not args.floor_only:
            command = ["exiftool", "-json", "-r", str(root)]
            exiftool = best_of(
                args.repeat,
                lambda: subprocess.run(
                    command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
                ),
            )
            line("peer: exiftool -json -r (metadata only)", exiftool, files, size)
        if not args.floor_only:
            plain = best_of(args.repeat, lambda: run_pool(plain_phash, paths, args.workers))
            line("peer: imagehash pHash, plain (full decode)", plain, files, size)
        line("floor: decode at 1/8 scale only", floor, files, size)
        line("imgcat fingerprinting alone", ours, files, size)
        print()
        for name, measure in measures.items():
            runs = " ".join(f"{w:.2f}" for w in measure.walls)
            print(f"{name:<6} wall per run (s): {runs}; CPU (best) {measure.cpu:.2f} s")
        print(load())
        print()
        if exiftool:
            print(
                f"first scan vs exiftool:        {exiftool / first:5.2f}x exiftool's files/s (target >= 0.8x)"
            )
        cpu_ratio = measures["first"].cpu / measures["floor"].cpu
        print(f"first scan vs decode floor:    {first / floor:5.2f}x the floor's time (target <= 1.15x)")
        print(f"  ... in CPU time:             {cpu_ratio:5.2f}x the floor's (all processes)")
        print(f"fingerprinting vs floor:       {ours / floor:5.2f}x the floor's time")
        if plain:
            print(f"fingerprinting vs plain:       {plain / ours:5.2f}x faster (target >= 3x)")
        per_10k = again / files * 1e4
        print(f"unchanged re-scan:             {again:5.2f} s for {files} files ({per_10k:.2f} s per 10,000)")


if __name__ == "__main__":
    main()

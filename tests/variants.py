"""Near-duplicate variants of the real test photos, made at test time (never committed).

The kinds of the `similar` issues: the same picture resized, re-encoded, converted, lightly
cropped, stored rotated under an EXIF orientation tag (#13); and the cases people meet (#16):
cropped 8 % at every border, brighter with more contrast, a 10 % copy, slightly blurred,
letterboxed, a white box over a corner. Every variant is a new file without the original's
metadata (a re-save strips it), except the rotated one, which carries only its orientation tag.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import piexif
import pillow_heif
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

TESTDATA: Final = Path(__file__).resolve().parents[2] / "shared" / "testdata"
MEDIA: Final = TESTDATA / "media"
STILL_FORMATS: Final = frozenset({"jpeg", "heic", "png", "webp", "tiff", "bmp", "gif", "avif"})
SKIPPED_GROUPS: Final = ("broken/", "odd_exif/")  # damaged or a 1-pixel uniform file: no picture

pillow_heif.register_heif_opener()


@dataclass(frozen=True, slots=True)
class Variant:
    source: str  # the original's path relative to the media folder
    kind: str  # "original" or one of KINDS
    path: Path


def _jpeg(image: Image.Image, path: Path, quality: int = 90) -> Path:
    written = path.parent / f"{path.name}.jpg"
    image.save(written, "JPEG", quality=quality)
    return written


def _resized(factor: float) -> Callable[[Image.Image, Path], Path]:
    def make(image: Image.Image, path: Path) -> Path:
        size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
        return _jpeg(image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0), path)

    return make


def _cropped(share: float) -> Callable[[Image.Image, Path], Path]:
    def make(image: Image.Image, path: Path) -> Path:
        dx, dy = round(image.width * share), round(image.height * share)
        return _jpeg(image.crop((dx, dy, image.width - dx, image.height - dy)), path)

    return make


def _q60(image: Image.Image, path: Path) -> Path:
    return _jpeg(image, path, quality=60)


def _png(image: Image.Image, path: Path) -> Path:
    written = path.parent / f"{path.name}.png"
    image.save(written, "PNG", compress_level=1)
    return written


def _rotated(image: Image.Image, path: Path) -> Path:
    """Pixels stored turned a quarter to the left, with Orientation 6 telling viewers to turn them back."""
    exif = piexif.dump({"0th": {piexif.ImageIFD.Orientation: 6}})
    written = path.parent / f"{path.name}.jpg"
    image.transpose(Image.Transpose.ROTATE_90).save(written, "JPEG", quality=90, exif=exif)
    return written


def _brighter(image: Image.Image, path: Path) -> Path:
    return _jpeg(ImageEnhance.Contrast(ImageEnhance.Brightness(image).enhance(1.15)).enhance(1.20), path)


def _blurred(image: Image.Image, path: Path) -> Path:
    return _jpeg(image.filter(ImageFilter.GaussianBlur(max(image.size) / 1000)), path)


def _letterboxed(image: Image.Image, path: Path) -> Path:
    bar = round(image.height * 0.06)
    canvas = Image.new("RGB", (image.width, image.height + 2 * bar), (0, 0, 0))
    canvas.paste(image, (0, bar))
    return _jpeg(canvas, path)


def _boxed(image: Image.Image, path: Path) -> Path:
    """A white box (a caption, a logo) over 10 % of the picture, at its top right corner."""
    side = math.sqrt(0.10)
    width, height = round(image.width * side), round(image.height * side)
    marked = image.copy()
    marked.paste((255, 255, 255), (image.width - width, 0, image.width, height))
    return _jpeg(marked, path)


MAKERS: Final[dict[str, Callable[[Image.Image, Path], Path]]] = {
    # issue 13
    "resize50": _resized(0.50),
    "resize25": _resized(0.25),
    "q60": _q60,
    "png": _png,
    "crop2": _cropped(0.02),
    "rotated": _rotated,
    # issue 16
    "crop8": _cropped(0.08),
    "brighter": _brighter,
    "resize10": _resized(0.10),
    "blur": _blurred,
    "letterbox": _letterboxed,
    "box": _boxed,
}
KINDS_13: Final = ("resize50", "resize25", "q60", "png", "crop2", "rotated")
KINDS_16: Final = ("crop8", "brighter", "resize10", "blur", "letterbox", "box")


def source_photos() -> list[str]:
    """Every decodable still photo of the shared media, one per distinct content (paths relative
    to the media folder, sorted)."""
    with open(TESTDATA / "MANIFEST.tsv", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    chosen: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: r["path"]):
        relative = row["path"].removeprefix("media/")
        if row["format"] in STILL_FORMATS and not relative.startswith(SKIPPED_GROUPS):
            chosen.setdefault(row["sha256"], relative)
    return sorted(chosen.values())


def upright(path: Path) -> Image.Image:
    """The picture as a viewer shows it: EXIF orientation applied, transparency over white, deeper
    gray levels scaled to 8 bits (a 16-bit TIFF would clip to white), RGB."""
    with Image.open(path) as image:
        shown = ImageOps.exif_transpose(image)
        if shown.mode.startswith("I;16"):
            levels = np.asarray(shown, dtype=np.float32) * (255 / 65535)
            return Image.fromarray(levels.round().astype(np.uint8), "L").convert("RGB")
        if shown.mode in ("P", "PA", "LA", "RGBA") or "transparency" in shown.info:
            with_alpha = shown.convert("RGBA")
            white = Image.new("RGBA", shown.size, (255, 255, 255, 255))
            return Image.alpha_composite(white, with_alpha).convert("RGB")
        return shown.convert("RGB")


def _stem(relative: str) -> str:
    digest = hashlib.sha1(relative.encode()).hexdigest()[:8]
    return f"{Path(relative).stem.replace(' ', '_')}-{digest}"


def make_variants_of(relative: str, target: Path, kinds: tuple[str, ...]) -> list[Variant]:
    image = upright(MEDIA / relative)
    made = []
    for kind in kinds:
        base = target / kind / _stem(relative)
        base.parent.mkdir(parents=True, exist_ok=True)
        made.append(Variant(relative, kind, MAKERS[kind](image, base)))
    return made


def _job(args: tuple[str, Path, tuple[str, ...]]) -> list[Variant]:
    return make_variants_of(*args)


def make_variants(
    target: Path, kinds: tuple[str, ...] = KINDS_13 + KINDS_16, sources: Iterable[str] | None = None
) -> list[Variant]:
    """Copy each source photo into `target/original/` (its bytes and metadata unchanged) and write
    its variants beside, under `target/<kind>/`. Uses every core."""
    chosen = list(source_photos() if sources is None else sources)
    made: list[Variant] = []
    for relative in chosen:
        copy = target / "original" / f"{_stem(relative)}{Path(relative).suffix}"
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes((MEDIA / relative).read_bytes())
        stat = (MEDIA / relative).stat()
        os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        made.append(Variant(relative, "original", copy))
    workers = min(len(chosen), os.cpu_count() or 1)
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        for variants in pool.map(_job, [(r, target, kinds) for r in chosen]):
            made.extend(variants)
    return made

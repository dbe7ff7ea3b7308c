"""Junk made at test time from the real photos of the shared media, and what the corpus marks.

`make_variants(row, folder)` writes, from one real photo at its full size: a flat colour with
sensor-like noise (`blank`), the photo darkened to a few percent of the range (`dark`), pushed to
clipping (`overexposed`), blurred by a Gaussian of radius 8-12 pixels (`blurry`), cut at 60 %
(`broken`) and shrunk to a 160-pixel thumbnail (`tiny`). Each is written in the photo's own format
where Pillow writes it (JPEG at quality 90), else as a JPEG (HEIC, AVIF); the cut file is the
original's first 60 % of bytes. A JPEG whose picture ends before the cut (a zero-padded file, an
appended depth map) stays whole when cut: that cut is left out, as it damages nothing.

`LABELS` are the corpus's own marks (its README): real files that are junk, and in what.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pillow_heif
from PIL import Image, ImageChops, ImageFilter

from media import MEDIA

pillow_heif.register_heif_opener()

# Written in their own format; anything else (HEIC, AVIF) as JPEG.
WRITERS: Final = {"jpeg": ("JPEG", ".jpg"), "png": ("PNG", ".png"), "webp": ("WEBP", ".webp"),
                  "tiff": ("TIFF", ".tif")}  # fmt: skip
RAW_FORMATS: Final = frozenset({"dng", "cr2", "cr3", "crw", "nef", "arw", "raf", "rw2", "mrw", "x3f", "iiq"})
# Not photos: an icon, a cartoon, a heat map, a screenshot. Negatives, never sources.
NOT_PHOTOS: Final = ("misc_bmp/", "misc_gif/", "misc_png/sampleWithExifData.png", "screenshots/")
# ExifTool's RAW test stubs: their author cut the image data down (the corpus README): not photos.
STUBS: Final = "raw_exiftool/"
TINY_SIDE: Final = 160
NOISE_TILE: Final = 509

# What the corpus's README marks, in the categories its words name.
LABELS: Final[dict[str, frozenset[str]]] = {
    "sony_dsc_p12/Sony DSC-P12.jpg": frozenset({"dark", "blank"}),  # "completely black frame"
    "kodak_pixpro_fz201/Kodak PIXPRO FZ201.jpg": frozenset({"dark"}),  # "almost entirely black"
    "samsung_galaxy_s7/67-0_length_string.jpg": frozenset({"blank"}),  # "uniform grey frame"
    "canon_powershot_s330/Canon PowerShot S330.jpg": frozenset({"blurry"}),  # "blurred"
    "odd_exif/Issue 508.jpg": frozenset({"tiny", "blank"}),  # 1x1, "uniform colour"
    "fujifilm_sp_2500/FujiFilm SP-2500.jpg": frozenset({"tiny"}),  # "tiny": 121x81
    "misc_bmp/programming.BMP": frozenset({"tiny"}),  # an icon: 76x72
    "broken/image01713.jpg": frozenset({"tiny"}),  # a 49x500 strip
    "broken/corrupted.jpg": frozenset({"broken"}),  # "BROKEN: corrupted JPEG"
    "odd_exif/User Comment Encoding.jpg": frozenset({"broken"}),  # "JPEG data is truncated"
    "raw_truncated/fixture-Leica-M10.dng": frozenset({"broken"}),  # "TRUNCATED RAW"
    "raw_truncated/fixture-sony-zv-e10.arw": frozenset({"broken"}),
    "raw_truncated/fixture.cr3": frozenset({"broken"}),
}


@dataclass(frozen=True, slots=True)
class Variant:
    category: str
    path: str
    source: str  # the real photo it was made from (relative to the media folder)


def is_source(row: dict[str, str]) -> bool:
    """A real photo to make junk from: not marked junk by the corpus, not a graphic, not RAW."""
    relative = row["path"].removeprefix("media/")
    return (
        row["kind"] == "image"
        and relative not in LABELS
        and not relative.startswith(NOT_PHOTOS)
        and not relative.startswith(STUBS)
        and row["format"] not in RAW_FORMATS
    )


def label_of(row: dict[str, str]) -> frozenset[str] | None:
    """The categories a real file is junk in (empty: a negative); None: left out (not a photo)."""
    relative = row["path"].removeprefix("media/")
    if relative.startswith(STUBS):
        return None
    if row["kind"] == "video":
        duration = float(row["duration_s"] or "nan")
        return frozenset({"very-short"}) if duration < 1.0 else frozenset()
    return LABELS.get(relative, frozenset())


def make_variants(row: dict[str, str], folder: str) -> list[Variant]:
    """Write the six junk variants of one real photo into `folder` (see the module docstring)."""
    relative = row["path"].removeprefix("media/")
    source = MEDIA / relative
    stem = Path(folder) / relative.replace("/", "__")
    rng = np.random.default_rng(zlib.crc32(relative.encode()))
    with Image.open(source) as opened:
        photo = opened.convert("RGB")
    writer = WRITERS.get(row["format"], WRITERS["jpeg"])
    made = [
        Variant("blank", _save(_flat_with_noise(photo), writer, stem, "blank"), relative),
        Variant(
            "dark", _save(_scaled(photo, float(rng.uniform(0.02, 0.05))), writer, stem, "dark"), relative
        ),
        Variant("overexposed", _save(_scaled(photo, _clipping_gain(photo)), writer, stem, "over"), relative),
    ]
    blurred = photo.filter(ImageFilter.GaussianBlur(float(rng.uniform(8, 12))))
    made.append(Variant("blurry", _save(blurred, writer, stem, "blur"), relative))
    thumb = photo.copy()
    thumb.thumbnail((TINY_SIDE, TINY_SIDE))
    made.append(Variant("tiny", _save(thumb, writer, stem, "tiny"), relative))
    data = source.read_bytes()
    cut = Path(f"{stem}.cut{source.suffix}")
    cut.write_bytes(data[: len(data) * 6 // 10])
    if row["format"] != "jpeg" or not _decodes_whole(cut):
        made.append(Variant("broken", str(cut), relative))
    else:
        cut.unlink()
    return made


def _flat_with_noise(photo: Image.Image) -> Image.Image:
    """The photo's mean colour, flat, with per-pixel noise that grows with the signal (shot noise)
    over a floor (read noise): about 3 levels at mid-grey, as a phone's sensor at base ISO. The
    noise is a tile of NOISE_TILE pixels repeated (its period is no multiple of JPEG's 8x8 blocks)."""
    small = photo.reduce(max(1, min(photo.size) // 64))
    means = np.asarray(small, dtype=np.float32).reshape(-1, 3).mean(axis=0)
    tile = (min(NOISE_TILE, photo.width), min(NOISE_TILE, photo.height))
    channels = []
    for mean in means:
        sigma = float(np.sqrt(1.5**2 + 0.06 * mean))
        noise = Image.effect_noise(tile, sigma)  # gray noise around 128
        level = ImageChops.add(noise, Image.new("L", tile, 0), scale=1.0, offset=round(float(mean)) - 128)
        channel = Image.new("L", photo.size)
        for left in range(0, photo.width, tile[0]):
            for top in range(0, photo.height, tile[1]):
                channel.paste(level, (left, top))
        channels.append(channel)
    return Image.merge("RGB", channels)


def _clipping_gain(photo: Image.Image) -> float:
    """The gain that pushes three quarters of the pixels to white in every channel (at least 4x)."""
    small = np.asarray(photo.reduce(max(1, min(photo.size) // 256)), dtype=np.float32)
    darkest_channel = small.min(axis=2)
    return max(4.0, 255.0 / max(float(np.percentile(darkest_channel, 25)), 1.0))


def _scaled(photo: Image.Image, gain: float) -> Image.Image:
    return photo.point(lambda value: min(255, int(value * gain + 0.5)))


def _save(image: Image.Image, writer: tuple[str, str], stem: Path, suffix: str) -> str:
    kind, extension = writer
    path = f"{stem}.{suffix}{extension}"
    options = {"quality": 90} if kind in ("JPEG", "WEBP") else {}
    image.save(path, kind, **options)
    return path


def _decodes_whole(path: Path) -> bool:
    """Whether Pillow decodes the whole picture of a JPEG (a cut after its end damages nothing)."""
    try:
        with Image.open(path) as image:
            image.load()
    except OSError:
        return False
    return True

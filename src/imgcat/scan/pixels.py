"""One reduced decode per image: perceptual hashes and quality measures from the same pixels.

JPEG decodes at 1/2, 1/4 or 1/8 scale (Pillow draft mode) and HEIC from its stored thumbnail when
that is large enough (pillow-heif's draft); the work image is grayscale, at least DRAFT_SIDE pixels
on its short side where the file has them, with the EXIF orientation applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import imagehash
import numpy as np
from PIL import Image

MEASURE_SIDE: Final = 256
DRAFT_SIDE: Final = 192  # the short side of a 4:3 measuring image: 256x192
DARK: Final = 8
BRIGHT: Final = 247

_TRANSPOSE: Final[dict[int, Image.Transpose]] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True, slots=True)
class PixelFacts:
    phash: int
    dhash: int
    sharpness: float
    brightness: float
    contrast: float
    clipped_dark: float
    clipped_bright: float
    entropy: float


def work_image(image: Image.Image, orientation: int | None) -> Image.Image:
    """Decode `image` small and gray, upright. Raises what Pillow raises for broken data."""
    image.draft("L", (DRAFT_SIDE, DRAFT_SIDE))
    if image.mode in ("P", "PA") or "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    gray = _fit(image.convert("L"), 2 * MEASURE_SIDE)
    transpose = _TRANSPOSE.get(orientation or 1)
    return gray if transpose is None else gray.transpose(transpose)


def pixel_facts(gray: Image.Image) -> PixelFacts:
    """Hashes of the upright picture and how it looks: sharpness (variance of the Laplacian at a
    fixed size), brightness and contrast (0-1), clipped shares, entropy (bits)."""
    measured = _fit(gray, MEASURE_SIDE)  # hashes come from it too: 32x32 and 9x8 need no more
    phash = int(str(imagehash.phash(measured)), 16)
    dhash = int(str(imagehash.dhash(measured)), 16)
    pixels = np.asarray(measured, dtype=np.float32)
    histogram = np.bincount(np.asarray(measured, dtype=np.uint8).ravel(), minlength=256) / pixels.size
    nonzero = histogram[histogram > 0]
    return PixelFacts(
        phash=phash,
        dhash=dhash,
        sharpness=round(float(_laplacian(pixels).var()), 3),
        brightness=round(float(pixels.mean()) / 255, 4),
        contrast=round(float(pixels.std()) / 255, 4),
        clipped_dark=round(float(histogram[:DARK].sum()), 4),
        clipped_bright=round(float(histogram[BRIGHT + 1 :].sum()), 4),
        entropy=round(float(-(nonzero * np.log2(nonzero)).sum()), 4),
    )


def _fit(image: Image.Image, side: int) -> Image.Image:
    """Shrink to at most `side` on the long edge: by whole factors with a box average (fast), or
    by a bilinear resize below 2x. At least one pixel stays on the short edge (an 8x2824 sliver
    must not become an empty image)."""
    width, height = image.size
    if max(width, height) <= side:
        return image
    factor = -(-max(width, height) // side)  # ceiling: the result is at most `side`
    if factor >= 2 and min(width, height) >= factor:
        return image.reduce(factor)
    scale = side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR)


def _laplacian(pixels: np.ndarray) -> np.ndarray:
    if min(pixels.shape) < 3:
        return np.zeros(1, dtype=np.float32)
    center = pixels[1:-1, 1:-1]
    result: np.ndarray = (
        pixels[:-2, 1:-1] + pixels[2:, 1:-1] + pixels[1:-1, :-2] + pixels[1:-1, 2:] - 4 * center
    )
    return result

"""One reduced decode per image: perceptual hashes and quality measures from the same pixels.

JPEG decodes at 1/2, 1/4 or 1/8 scale (Pillow draft mode) and HEIC from its stored thumbnail when
that is large enough (pillow-heif's draft); the work image is grayscale, at least DRAFT_SIDE pixels
on its short side where the file has them, with the EXIF orientation applied. The work image keeps
at least 1/8 of the picture's size (or 512 pixels on its long side): the edge width is measured
there, where a blur of 8 pixels at full size is still a pixel wide; the hashes and the other
measures come from it shrunk to MEASURE_SIDE.

The fingerprint for `similar` (see docs in operations/similar.py) is taken from the measuring image
with its uniform dark borders trimmed (letterbox and pillarbox bars): pHash and dHash of the whole,
pHash of the centred 84 % (a copy cropped 8 % at each border hashes like it), pHash of each half
(a logo or caption box over one corner leaves two halves untouched), and a likeness grid that
verifies candidates: the trimmed picture as 32x32 gray cells, its levels stretched over 16 steps
and deflated (about 380 bytes; see `likeness_grid`). The hashes come from one 32x32 resample per
region and one batched DCT: well under a millisecond per picture.
"""

from __future__ import annotations

import io
import warnings
import zlib
from dataclasses import dataclass
from typing import Final

import numpy as np
import pillow_heif
from PIL import Image, ImageOps
from scipy.fft import dctn

MEASURE_SIDE: Final = 256
DRAFT_SIDE: Final = 192  # the short side of a 4:3 measuring image: 256x192
DARK: Final = 8
BRIGHT: Final = 247
WORK_SIDE: Final = 2 * MEASURE_SIDE  # the work image's long side, unless 1/8 of the picture is more
WORK_SCALE: Final = 8  # ... the work image keeps at least 1/WORK_SCALE of the picture's size
FLAT: Final = 1e-3  # gradient energy (gray levels squared) below which a picture has no edges
DECODER_FILL: Final = 128  # the gray a JPEG decoder paints where the picture's data ran out
MISSING: Final = "imgcat_missing_share"  # the work image's info key: the share of it so painted
HASH_SIDE: Final = 32  # every pHash's input: 32x32 gray
GRID_SIDE: Final = 32  # the likeness grid: 32x32 gray cells...
GRID_STEPS: Final = 16  # ...each one of 16 steps between the picture's darkest and brightest cell
CENTRE_SHARE: Final = 0.84  # the centred region hashed for crops: 8 % off each border
BORDER_MAX_SHARE: Final = 0.25  # at most this much of a side is trimmed as a uniform bar
BORDER_STD: Final = 4.0  # a bar row or column varies by at most this much (gray levels)...
BORDER_STEP: Final = 8.0  # ...and keeps within this of the outermost line's level,
BORDER_DARK: Final = 40.0  # which is dark (black bars; see `trimmed_box` for white)

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
class Fingerprint:
    """What `similar` compares: hashes of the border-trimmed picture and its likeness grid."""

    phash: int
    dhash: int
    phash_centre: int
    phash_left: int
    phash_right: int
    phash_top: int
    phash_bottom: int
    likeness: bytes  # the likeness grid (`likeness_grid`)
    border_share: float  # the share of the picture's area in uniform bars, trimmed off


@dataclass(frozen=True, slots=True)
class PixelFacts:
    fingerprint: Fingerprint
    sharpness: float
    brightness: float
    contrast: float
    clipped_dark: float
    clipped_bright: float
    entropy: float
    edge_width: float | None
    missing_share: float = 0.0  # the share of a JPEG's rows its decoder filled in (data ran out)


def work_image(image: Image.Image, orientation: int | None) -> Image.Image:
    """Decode `image` small and gray, upright. Raises what Pillow raises for broken data."""
    long_side = max(image.size)  # the picture's, before draft() shrinks it
    is_jpeg = image.format in ("JPEG", "MPO")
    image.draft("L", (DRAFT_SIDE, DRAFT_SIDE))
    if image.mode.startswith("I") or image.mode == "F":
        image = _eight_bit(image)
    if image.mode in ("P", "PA") or "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    gray = image if image.mode == "L" else image.convert("L")  # convert("L") of L copies it all
    gray = _fit(gray, max(WORK_SIDE, -(-long_side // WORK_SCALE)))
    if is_jpeg:
        gray.info[MISSING] = _filled_share(gray)  # the stored bottom: before turning
    transpose = _TRANSPOSE.get(orientation or 1)
    return gray if transpose is None else gray.transpose(transpose)


def pixel_facts(gray: Image.Image) -> PixelFacts:
    """Hashes of the upright picture and how it looks: sharpness (variance of the Laplacian at a
    fixed size), brightness and contrast (0-1), clipped shares, entropy (bits), and the edge width
    (in pixels of the work image: see `edge_width`)."""
    measured = _fit(gray, MEASURE_SIDE)  # hashes come from it too: 32x32 and 9x8 need no more
    gray_levels = np.asarray(measured, dtype=np.uint8)
    pixels = gray_levels.astype(np.float32)
    laplacian = _laplacian(pixels)
    width = widest_edges(gray, measured, (pixels, laplacian))
    histogram = np.bincount(gray_levels.ravel(), minlength=256) / pixels.size
    nonzero = histogram[histogram > 0]
    return PixelFacts(
        fingerprint=fingerprint(measured, pixels),
        sharpness=round(float(laplacian.var()), 3),
        brightness=round(float(pixels.mean()) / 255, 4),
        contrast=round(float(pixels.std()) / 255, 4),
        clipped_dark=round(float(histogram[:DARK].sum()), 4),
        clipped_bright=round(float(histogram[BRIGHT + 1 :].sum()), 4),
        entropy=round(float(-(nonzero * np.log2(nonzero)).sum()), 4),
        edge_width=None if width is None else round(width, 3),
        missing_share=round(float(gray.info.get(MISSING, 0.0)), 4),
    )


def _filled_share(gray: Image.Image) -> float:
    """The share of a decoded JPEG's rows, from the bottom, that are the decoder's flat gray fill:
    libjpeg paints what a corrupt or cut scan no longer holds exactly DECODER_FILL, and no camera
    writes a whole row of one exact level. A picture that is all one gray is not counted."""
    width, height = gray.size
    if not np.all(np.asarray(gray.crop((0, height - 1, width, height))) == DECODER_FILL):
        return 0.0  # the usual case: only the last row is looked at
    flat = np.all(np.asarray(gray) == DECODER_FILL, axis=1)
    return 0.0 if flat.all() else float(np.argmin(flat[::-1])) / len(flat)


def widest_edges(
    gray: Image.Image,
    measured: Image.Image | None = None,
    known: tuple[np.ndarray, np.ndarray] | None = None,
) -> float | None:
    """The edge width (see `edge_width`) of the work image, and of it shrunk about 2 and 4 times
    (the measuring image when it is smaller, and half of that): the widest. A sharp picture reads
    sharper when shrunk; a blurred one whose finest scale is noise (a small, noisy picture, whose
    work image is hardly shrunk) shows its blur further down. `known`: the measuring image's
    float32 pixels and Laplacian (`pixel_facts` has them), measured again when not given."""
    measured = gray if measured is None else measured
    own: tuple[np.ndarray, np.ndarray | None] = known or (_floats(measured), None)
    scales: list[tuple[np.ndarray, np.ndarray | None] | None]
    if measured.size != gray.size:
        coarse: Image.Image | None = measured
        scales = [(_floats(gray), None), own]
    else:  # the work image is the measuring image
        coarse = _half(gray)
        scales = [own, None if coarse is None else (_floats(coarse), None)]
    finest = None if coarse is None else _half(coarse)
    scales.append(None if finest is None else (_floats(finest), None))
    widths = [edge_width(*scale) for scale in scales if scale is not None]
    found = [w for w in widths if w is not None]
    return max(found) if found else None


def _floats(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float32)


def _half(image: Image.Image) -> Image.Image | None:
    return image.reduce(2) if min(image.size) >= 6 else None


def edge_width(pixels: np.ndarray, laplacian: np.ndarray | None = None) -> float | None:
    """How wide the picture's edges are, in pixels: sqrt(gradient energy / Laplacian energy).

    A step edge blurred by a Gaussian of radius s has exactly this width s; contrast cancels out
    (a dim sky and a bright street give the same width for the same focus), and the strongest
    edges weigh most, so a sharp subject on a smooth background (snow, sky, a night scene) reads
    sharp. Sharp photos measure 0.5-0.65 on the work image (edges are a pixel wide), a blur of 8
    pixels at full size 0.8 or more; noise reads sharp (about 0.3). None when the picture has no
    edges at all (a uniform frame). `laplacian`: `_laplacian(pixels)` when the caller has it (the
    same values: the curvature below is the Laplacian, exact in float32 for 8-bit levels)."""
    if min(pixels.shape) < 3:
        return None
    across = np.diff(pixels, axis=1)
    down = np.diff(pixels, axis=0)
    gradient = (_energy(across) + _energy(down)) / 2
    if gradient < FLAT:
        return None
    if laplacian is None:
        laplacian = np.diff(across[1:-1], axis=1)
        laplacian += np.diff(down[:, 1:-1], axis=0)
    curvature = _energy(laplacian)
    return float(np.sqrt(gradient / curvature)) if curvature > 0 else None


def _energy(values: np.ndarray) -> float:
    """The mean square of `values` (one BLAS dot product: the cheapest pass over the pixels)."""
    flat = values.ravel()
    return float(np.dot(flat, flat)) / max(flat.size, 1)


def _eight_bit(image: Image.Image) -> Image.Image:
    """A 16-bit or 32-bit gray image (scanners, drone cameras, 16-bit PNG) as 8-bit gray, scaled
    by its depth, not clipped: convert("L") would turn every level above 255 white."""
    values = np.asarray(image)
    top = 1.0 if values.dtype.kind == "f" and float(values.max(initial=0)) <= 1.0 else 65535.0
    if values.dtype.kind != "f" and int(values.max(initial=0)) <= 255:
        top = 255.0
    scaled = np.clip(values.astype(np.float32) * (255.0 / top), 0, 255)
    return Image.fromarray(scaled.astype(np.uint8), "L")


def fingerprint(measured: Image.Image, pixels: np.ndarray | None = None) -> Fingerprint:
    """The `similar` fingerprint of a gray measuring image (at most MEASURE_SIDE a side)."""
    if pixels is None:
        pixels = np.asarray(measured, dtype=np.float32)
    left, top, right, bottom = trimmed_box(pixels)
    width, height = right - left, bottom - top
    cx, cy = width * (1 - CENTRE_SHARE) / 2, height * (1 - CENTRE_SHARE) / 2
    mid_x, mid_y = left + width / 2, top + height / 2
    boxes = (
        (left, top, right, bottom),
        (left + cx, top + cy, right - cx, bottom - cy),
        (left, top, mid_x, bottom),
        (mid_x, top, right, bottom),
        (left, top, right, mid_y),
        (left, mid_y, right, bottom),
    )
    side = (HASH_SIDE, HASH_SIDE)
    resized = b"".join(measured.resize(side, Image.Resampling.BILINEAR, box=box).tobytes() for box in boxes)
    regions = np.frombuffer(resized, dtype=np.uint8).reshape(len(boxes), HASH_SIDE, HASH_SIDE)
    whole, centre, left_half, right_half, top_half, bottom_half = _phashes(regions)
    steps = np.asarray(
        measured.resize((9, 8), Image.Resampling.BILINEAR, box=boxes[0]), dtype=np.int16
    )  # dHash: is each pixel brighter than its right neighbour
    return Fingerprint(
        phash=whole,
        dhash=_bits(steps[:, 1:] > steps[:, :-1]),
        phash_centre=centre,
        phash_left=left_half,
        phash_right=right_half,
        phash_top=top_half,
        phash_bottom=bottom_half,
        likeness=likeness_grid(
            np.asarray(measured.resize((GRID_SIDE, GRID_SIDE), Image.Resampling.BOX, box=boxes[0]))
        ),
        border_share=round(1 - width * height / pixels.size, 4),
    )


def likeness_grid(cells: np.ndarray) -> bytes:
    """The stored likeness grid of GRID_SIDE x GRID_SIDE gray cells (0-255): two bytes, the darkest
    and brightest cell's level, then each cell's step between them (0 to GRID_STEPS - 1, one byte
    per cell, row by row), deflated. Compared after normalising each picture's levels (see
    scan/likeness.py), so 16 steps of the picture's own range lose little, and a few hundred
    bytes keep what verification needs (a 64x64 JPEG thumbnail took 1.6 kB). `grid_levels` reads
    it back."""
    low, high = int(cells.min()), int(cells.max())
    span = max(high - low, 1)
    steps = np.minimum((cells.astype(np.float32) - low) * (GRID_STEPS / span), GRID_STEPS - 1)
    return bytes((low, high)) + zlib.compress(steps.astype(np.uint8).tobytes(), 9)


def grid_levels(data: bytes) -> np.ndarray:
    """The gray levels (float32, GRID_SIDE x GRID_SIDE) of a likeness grid: each cell at the middle
    of its step."""
    low, high = data[0], data[1]
    steps = np.frombuffer(zlib.decompress(data[2:]), dtype=np.uint8).astype(np.float32)
    levels: np.ndarray = low + (steps + 0.5) * (max(high - low, 1) / GRID_STEPS)
    return levels.reshape(GRID_SIDE, GRID_SIDE)


def trimmed_box(pixels: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the picture inside uniform dark bars (letterbox, pillarbox);
    the whole image when it has none or is uniform throughout. White margins stay: they are the
    background of graphics, documents and screenshots, where trimming them cut each copy at a
    slightly different place (a resized or re-encoded copy of a drawing on white lost its match)."""
    height, width = pixels.shape
    top = _bar(pixels, height)
    bottom = height - _bar(pixels[::-1], height)
    left = _bar(pixels.T, width)
    right = width - _bar(pixels.T[::-1], width)
    if bottom - top < height // 2 or right - left < width // 2:
        return 0, 0, width, height
    if (left, top, width - right, height - bottom) == (
        _limit(width),
        _limit(height),
        _limit(width),
        _limit(height),
    ):
        return 0, 0, width, height  # bars as deep as allowed on every side: a uniform picture, not a frame
    return left, top, right, bottom


_ROUNDING: Final = 1e-3  # far above float32's error on a line's mean and spread, far below a level


def _limit(count: int) -> int:
    return int(count * BORDER_MAX_SHARE)


def _bar(lines: np.ndarray, count: int) -> int:
    """How many of the first lines (rows of `lines`) make one uniform dark bar."""
    limit = _limit(count)
    if limit == 0:
        return 0
    head = lines[:limit]
    first = head[0]
    if 2 * int(np.count_nonzero(first <= BORDER_DARK)) < len(first):
        return 0  # the usual case, without a median: most of the outer line is not dark
    level = float(np.median(first))
    if level > BORDER_DARK:
        return 0
    edge = first.astype(np.float64)  # the outer line plainly no bar: the others need no look
    if edge.std() > BORDER_STD + _ROUNDING or abs(edge.mean() - level) > BORDER_STEP + _ROUNDING:
        return 0
    uniform = (head.std(axis=1) <= BORDER_STD) & (np.abs(head.mean(axis=1) - level) <= BORDER_STEP)
    return limit if bool(uniform.all()) else int(np.argmin(uniform))


def _phashes(regions: np.ndarray) -> list[int]:
    """pHash of each 32x32 region (imagehash's algorithm: the 8x8 lowest frequencies of the DCT,
    each bit set where the coefficient is above their median), in one batched DCT."""
    low = dctn(regions.astype(np.float32), axes=(1, 2))[:, :8, :8].reshape(len(regions), 64)
    middle = np.partition(low, (31, 32), axis=1)  # np.median's own way, without its checks
    flags = np.packbits(low > (middle[:, 31:32] + middle[:, 32:33]) / np.float32(2), axis=1)
    return [int.from_bytes(row.tobytes(), "big") for row in flags]


def _bits(flags: np.ndarray) -> int:
    return int.from_bytes(np.packbits(flags.ravel()).tobytes(), "big")


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


def preview_jpeg(path: str, side: int) -> bytes | None:
    """A small upright JPEG of the picture at `path` (at most `side` pixels a side), for people to
    look at; None if it cannot be read as a picture."""
    pillow_heif.register_heif_opener()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                image.draft("RGB", (side, side))
                upright = ImageOps.exif_transpose(image)
                if upright.mode in ("P", "PA", "LA", "RGBA") or "transparency" in upright.info:
                    background = Image.new("RGBA", upright.size, (255, 255, 255, 255))
                    upright = Image.alpha_composite(background, upright.convert("RGBA"))
                shown = upright.convert("RGB")
                shown.thumbnail((side, side))
                buffer = io.BytesIO()
                shown.save(buffer, "JPEG", quality=80)
                return buffer.getvalue()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, RuntimeError):
        return None

"""How alike two pictures are, from the 32x32 likeness grids `add` keeps (scan/pixels.py).

Run on candidate pairs only (the hash index finds them). The grids are compared cell by cell
after aligning one on the other (the same, or one cropped by 4 % or 8 % at each border) and
normalising their levels (a brighter, more contrasted copy compares equal). Only cells with
texture in both pictures count: a uniform patch over one of them (a caption box, a logo, a
letterbox bar left over) neither helps nor hurts, as long as such patches cover at most
MAX_ONE_SIDED_FLAT of the picture (a grey card with a white box is not a photo with a white box);
two different pictures sharing only a white box or a black sky do not look alike. The difference
is the share of counted cells whose normalised levels differ by more than CELL_TOLERANCE standard
deviations; the smallest over the alignments is the pair's difference (0 = the same picture, 1 =
nothing alike). On 32x32 cells of 16 steps, a burst (two shots 2 s apart) differs by 0.15 and
more, a copy cropped by 8 % or resized to 10 % mostly by under 0.1.

A picture with almost no texture (a black frame, a grey card, a blank RAW preview) has hashes that
are noise: it is the same picture only as another plain one of about the same level (a brighter
copy too) and the same shape (aspect ratio), such as its own resized copy or itself with a caption
box: a plain picture is featureless but for at most 1 - PLAIN_SHARE of its cells (the box).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

import numpy as np
from PIL import Image
from scipy.ndimage import uniform_filter

from imgcat.scan.pixels import GRID_SIDE, grid_levels

CELL_TOLERANCE: Final = 0.6  # standard deviations of the picture's own levels
ALIGNMENTS: Final = (1.0, 0.96, 0.92, 0.88, 0.84)  # one picture's centre share compared with the other whole
FLAT_CELL_VARIANCE: Final = 4.0  # a cell whose 3x3 neighbourhood varies by under 2 levels is flat
FLAT_PICTURE_STD: Final = 4.0  # a picture whose levels vary by under 4 is featureless
FLAT_LEVEL_STEP: Final = 6.0  # two plain pictures within 6 levels, or 20 % of the brighter...
FLAT_LEVEL_SHARE: Final = 0.2
FLAT_SHAPE_STEP: Final = 0.02  # ...whose aspect ratios are within 2 % are the same
MIN_TEXTURED_SHARE: Final = 0.25  # fewer cells with texture in both: compare every detail instead
MIN_DETAIL_SHARE: Final = 0.02  # fewer cells with texture in either: featureless
PLAIN_SHARE: Final = 0.9  # a picture with a featureless one's look: 90 % of its cells flat
MAX_ONE_SIDED_FLAT: Final = 0.35  # more cells flat in one picture only: not the same picture
NOTHING_ALIKE: Final = 1.0


class Grid:
    """A decoded likeness grid with its aligned crops and flat cells, computed once per picture."""

    __slots__ = ("crops", "flat", "levels", "std")

    def __init__(self, data: bytes) -> None:
        levels = grid_levels(data)
        self.levels = levels
        self.std = float(levels.std())
        self.crops = {share: _centre(levels, share) for share in ALIGNMENTS}
        self.flat = {share: _flat_cells(crop) for share, crop in self.crops.items()}


@lru_cache(maxsize=4096)
def grid(data: bytes) -> Grid:
    return Grid(data)


def featureless(picture: Grid) -> bool:
    return picture.std < FLAT_PICTURE_STD


def difference(a: bytes, b: bytes, shapes: tuple[float, float] | None = None) -> float:
    """The share of the picture that differs between two likeness grids (0-1), at the best
    alignment. `shapes` are the pictures' aspect ratios (width / height), which decide between
    featureless ones."""
    first, second = grid(a), grid(b)
    if featureless(first) or featureless(second):
        level_a, level_b = _plain_level(first), _plain_level(second)
        if level_a is None or level_b is None or shapes is None:
            return NOTHING_ALIKE
        step = max(FLAT_LEVEL_STEP, FLAT_LEVEL_SHARE * max(level_a, level_b))
        same_level = abs(level_a - level_b) <= step
        same_shape = abs(shapes[0] / shapes[1] - 1) <= FLAT_SHAPE_STEP
        return 0.0 if same_level and same_shape else NOTHING_ALIKE
    best = NOTHING_ALIKE
    for share in ALIGNMENTS:
        best = min(best, _differing(first, share, second, 1.0))
        if share != 1.0:
            best = min(best, _differing(second, share, first, 1.0))
    return best


def _plain_level(picture: Grid) -> float | None:
    """The level of a plain picture (featureless, or featureless but for a patch): the median of
    its flat cells; None when it has texture."""
    if featureless(picture):
        return float(picture.levels.mean())
    flat = picture.flat[1.0]
    return float(np.median(picture.levels[flat])) if flat.mean() >= PLAIN_SHARE else None


def _differing(first: Grid, first_share: float, second: Grid, second_share: float) -> float:
    flat_first, flat_second = first.flat[first_share], second.flat[second_share]
    x_all, y_all = first.crops[first_share], second.crops[second_share]
    if float((flat_first ^ flat_second).mean()) > MAX_ONE_SIDED_FLAT:
        return NOTHING_ALIKE
    counted = ~(flat_first | flat_second)
    if counted.mean() < MIN_TEXTURED_SHARE:  # a mostly plain picture: its few details must all match
        counted = ~(flat_first & flat_second)
        if counted.mean() < MIN_DETAIL_SHARE:
            return NOTHING_ALIKE
    x = x_all[counted]
    y = y_all[counted]
    return float((np.abs(_normalised(x) - _normalised(y)) > CELL_TOLERANCE).mean())


def _normalised(values: np.ndarray) -> np.ndarray:
    """Levels in standard deviations from their mean: a brighter, more contrasted copy (a linear
    change of levels) gives the same values. (Ranks, invariant to any curve, were tried: they
    amplify noise in dark, nearly flat regions and separated less.)"""
    spread = float(values.std())
    result: np.ndarray = (values - values.mean()) / (spread if spread > 1e-3 else 1.0)
    return result


def _centre(levels: np.ndarray, share: float) -> np.ndarray:
    if share == 1.0:
        return levels
    side = GRID_SIDE * share
    low = (GRID_SIDE - side) / 2
    image = Image.fromarray(levels, mode="F")
    box = (low, low, low + side, low + side)
    return np.asarray(image.resize((GRID_SIDE, GRID_SIDE), Image.Resampling.BILINEAR, box=box))


def _flat_cells(levels: np.ndarray) -> np.ndarray:
    mean = uniform_filter(levels, 3)
    variance = uniform_filter(levels * levels, 3) - mean * mean
    flat: np.ndarray = variance < FLAT_CELL_VARIANCE
    return flat

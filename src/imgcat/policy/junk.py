"""Junk: pictures with nothing in them, judged from what `add` measured. Pure, no I/O.

`judge(record, thresholds)` gives every category a record falls in, each with a score and a
one-line reason a person understands, the surest first:

- `broken`: the file could not be decoded or is cut short (the reader's own error). A glitch in
  the metadata alone (EXIF, a RAW without an embedded preview) is not a broken picture.
- `tiny`: fewer pixels than `tiny_pixels` (icons, thumbnails).
- `blank`: nearly uniform (a lens cap, a pocket shot, a white wall): the pixels vary by less than
  `blank_contrast` of the range.
- `dark`: mean brightness under `dark_brightness`, with nothing bright in it (contrast under
  `dark_contrast`) or most of it (`dark_black_share`) crushed to black. A night scene with lights
  is not dark.
- `overexposed`: mean brightness of `overexposed_brightness` or more with at least
  `overexposed_white_share` of the pixels clipped to white.
- `blurry`: edges at least `blurry_edge_width` pixels wide on `add`'s work image (1/8 of the
  picture's size; see scan/pixels.py `edge_width`). The width does not depend on contrast, so a
  sharp sky, snow field or night scene is not blurry; sharp photos measure 0.5-0.65.
- `very-short`: a video shorter than `very_short_seconds`.

Screenshots and graphics (PNG, GIF or BMP without a camera) are judged only broken, tiny or blank:
a white page is not overexposed, a dark-mode window not dark, a flat drawing not blurred.

Thresholds come in presets (`PRESETS`: default, strict, lenient); the `[junk]` tables of the
config file (`parse_junk_settings`) change them.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, fields, replace
from typing import Final, Literal, Protocol, get_args

from imgcat.policy.rules import PolicyError
from imgcat.record import ExtractError

# In the order that breaks a tie of scores: a black frame is told as dark rather than blank.
Category = Literal["broken", "tiny", "dark", "overexposed", "blank", "blurry", "very-short"]
CATEGORIES: Final[tuple[Category, ...]] = get_args(Category)
PHOTO_ONLY: Final = frozenset({"dark", "overexposed", "blurry"})
# Errors that say something of the metadata, not of the picture.
METADATA_STAGES: Final = frozenset({"exif", "xmp", "preview"})
GRAPHIC_FORMATS: Final = frozenset({"png", "gif", "bmp"})
SHARP_EDGE: Final = 0.6  # the edge width of a sharp photo on the work image, for reasons


class Measured(Protocol):
    """What judging needs of an entry: a whole record, or the store's narrow JunkEntry."""

    @property
    def kind(self) -> str: ...
    @property
    def format(self) -> str: ...
    @property
    def make(self) -> str | None: ...
    @property
    def model(self) -> str | None: ...
    @property
    def name(self) -> str: ...
    @property
    def display_width(self) -> int | None: ...
    @property
    def display_height(self) -> int | None: ...
    @property
    def duration_s(self) -> float | None: ...
    @property
    def brightness(self) -> float | None: ...
    @property
    def contrast(self) -> float | None: ...
    @property
    def clipped_dark(self) -> float | None: ...
    @property
    def clipped_bright(self) -> float | None: ...
    @property
    def edge_width(self) -> float | None: ...
    @property
    def errors(self) -> tuple[ExtractError, ...]: ...


@dataclass(frozen=True, slots=True)
class JunkThresholds:
    """Where each category begins. A preset is one of these; the config file changes them."""

    tiny_pixels: int = 50_000
    blank_contrast: float = 0.02
    dark_brightness: float = 0.04
    dark_contrast: float = 0.03
    dark_black_share: float = 0.9
    overexposed_brightness: float = 0.8
    overexposed_white_share: float = 0.25
    blurry_edge_width: float = 0.72
    very_short_seconds: float = 1.0


PRESETS: Final[dict[str, JunkThresholds]] = {
    "default": JunkThresholds(),
    "strict": JunkThresholds(
        tiny_pixels=100_000,
        blank_contrast=0.03,
        dark_brightness=0.06,
        dark_contrast=0.05,
        dark_black_share=0.8,
        overexposed_brightness=0.75,
        overexposed_white_share=0.15,
        blurry_edge_width=0.68,
        very_short_seconds=2.0,
    ),
    "lenient": JunkThresholds(
        tiny_pixels=20_000,
        blank_contrast=0.01,
        dark_brightness=0.02,
        dark_contrast=0.02,
        dark_black_share=0.97,
        overexposed_brightness=0.9,
        overexposed_white_share=0.5,
        blurry_edge_width=0.85,
        very_short_seconds=0.5,
    ),
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One category a file falls in: how sure (0.5 at the threshold, 1 at the extreme) and why."""

    category: Category
    score: float
    reason: str


def judge(
    record: Measured, thresholds: JunkThresholds, categories: frozenset[Category] | None = None
) -> tuple[Finding, ...]:
    """Every category (of `categories`, all by default) the record falls in, the surest first."""
    wanted = frozenset(CATEGORIES) if categories is None else categories
    if is_graphic(record):
        wanted -= PHOTO_ONLY
    found = [
        finding
        for category in CATEGORIES
        if category in wanted and (finding := _JUDGES[category](record, thresholds)) is not None
    ]
    return tuple(sorted(found, key=lambda f: (-f.score, CATEGORIES.index(f.category))))


def with_sharp_sibling(
    findings: tuple[Finding, ...], sibling: Measured, relation: str = " of the same burst"
) -> tuple[Finding, ...]:
    """The findings of a blurred picture whose group holds a sharp one (`sibling`: a frame of its
    burst, or a near-duplicate): the blur is surer junk, half way from its score to 1, and the
    reason names the sharp picture."""
    note = f"; {sibling.name}{relation} is sharp"
    changed = [_surer(f, note) if f.category == "blurry" else f for f in findings]
    return tuple(sorted(changed, key=lambda f: (-f.score, CATEGORIES.index(f.category))))


def _surer(finding: Finding, note: str) -> Finding:
    return Finding(finding.category, round(finding.score + (1 - finding.score) / 2, 2), finding.reason + note)


def is_graphic(record: Measured) -> bool:
    """A screenshot or drawing rather than a photo: a PNG, GIF or BMP without a camera."""
    return record.format in GRAPHIC_FORMATS and not record.make and not record.model


def decode_errors(record: Measured) -> list[str]:
    """What the readers said of the picture itself (metadata glitches left out)."""
    return [e.message for e in record.errors if e.stage not in METADATA_STAGES]


def _broken(record: Measured, t: JunkThresholds) -> Finding | None:
    problems = decode_errors(record)
    if not problems:
        return None
    return Finding("broken", 1.0, f"damaged: {problems[0]}")


def _tiny(record: Measured, t: JunkThresholds) -> Finding | None:
    width, height = record.display_width, record.display_height
    if record.kind != "image" or width is None or height is None or width * height >= t.tiny_pixels:
        return None
    return Finding("tiny", _score(1 - width * height / t.tiny_pixels), f"only {width}x{height} pixels")


def _blank(record: Measured, t: JunkThresholds) -> Finding | None:
    contrast = record.contrast
    if record.kind != "image" or contrast is None or contrast >= t.blank_contrast:
        return None
    reason = "one flat colour" if contrast < 0.001 else f"nearly uniform: its pixels vary by {_pct(contrast)}"
    return Finding("blank", _score(1 - contrast / t.blank_contrast), reason)


def _dark(record: Measured, t: JunkThresholds) -> Finding | None:
    brightness, contrast, black = record.brightness, record.contrast, record.clipped_dark
    if record.kind != "image" or brightness is None or contrast is None or black is None:
        return None
    if brightness >= t.dark_brightness or (contrast >= t.dark_contrast and black < t.dark_black_share):
        return None
    return Finding(
        "dark",
        _score(1 - brightness / t.dark_brightness),
        f"{_pct(black)} of pixels black, mean brightness {_pct(brightness)}",
    )


def _overexposed(record: Measured, t: JunkThresholds) -> Finding | None:
    brightness, white = record.brightness, record.clipped_bright
    if record.kind != "image" or brightness is None or white is None:
        return None
    if brightness < t.overexposed_brightness or white < t.overexposed_white_share:
        return None
    return Finding(
        "overexposed",
        _score((brightness - t.overexposed_brightness) / (1 - t.overexposed_brightness)),
        f"{_pct(white)} of pixels burnt out to white, mean brightness {_pct(brightness)}",
    )


def _blurry(record: Measured, t: JunkThresholds) -> Finding | None:
    width = record.edge_width
    if record.kind != "image" or width is None or width < t.blurry_edge_width:
        return None
    return Finding(
        "blurry",
        _score((width - t.blurry_edge_width) / t.blurry_edge_width),
        f"blurred: edges {width / SHARP_EDGE:.1f}x as wide as in a sharp photo",
    )


def _very_short(record: Measured, t: JunkThresholds) -> Finding | None:
    duration = record.duration_s
    if record.kind != "video" or duration is None or duration >= t.very_short_seconds:
        return None
    return Finding("very-short", _score(1 - duration / t.very_short_seconds), f"lasts only {duration:.1f} s")


_JUDGES: Final = {
    "broken": _broken,
    "tiny": _tiny,
    "dark": _dark,
    "overexposed": _overexposed,
    "blank": _blank,
    "blurry": _blurry,
    "very-short": _very_short,
}


def _score(severity: float) -> float:
    """0.5 at a category's threshold, rising to 1 at its extreme."""
    return round(0.5 + 0.5 * min(1.0, max(0.0, severity)), 2)


def _pct(share: float) -> str:
    if 0 < share < 0.01:
        return f"{share * 100:.1f} %"
    return f"{math.floor(share * 100 + 0.5)} %"


def parse_junk_settings(text: str, source: str = "policies.toml") -> dict[str, JunkThresholds]:
    """The presets after the config file's `[junk]` table (it changes the default preset) and its
    `[junk.strict]` and `[junk.lenient]` tables. Unknown keys and wrong types are errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"{source}: {error}") from error
    table = data.get("junk", {})
    if not isinstance(table, dict):
        raise PolicyError(f"{source}: junk is not a table")
    presets = dict(PRESETS)
    for name in ("strict", "lenient"):
        if name in table:
            presets[name] = _changed(presets[name], table[name], f"junk.{name}", source)
    defaults = {key: value for key, value in table.items() if key not in ("strict", "lenient")}
    presets["default"] = _changed(presets["default"], defaults, "junk", source)
    return presets


def _changed(base: JunkThresholds, table: object, where: str, source: str) -> JunkThresholds:
    if not isinstance(table, dict):
        raise PolicyError(f"{source}: {where} is not a table")
    kinds = {f.name: f.type for f in fields(JunkThresholds)}
    values: dict[str, int | float] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in kinds:
            known = ", ".join(k.replace("_", "-") for k in kinds)
            raise PolicyError(f"{source}: {where}: unknown setting {key!r} (known: {known})")
        whole = str(kinds[name]) == "int"
        if isinstance(value, bool) or not isinstance(value, int if whole else int | float) or value < 0:
            kind = "a whole number" if whole else "a number"
            raise PolicyError(f"{source}: {where}: {key} must be {kind} of at least 0, not {value!r}")
        values[name] = value if whole else float(value)
    return replace(base, **values)  # type: ignore[arg-type]
